//! The negative binomial distribution with shape `theta` (mgcv's `negbin(theta)`, and
//! `nb()` at a given `theta`; the R layer's `nb()` names it "negbin"):
//! `V(mu) = mu + mu^2 / theta`, scale 1. The unit deviance and saturated log
//! likelihood are mgcv's `negbin()$dev.resids` and `-negbin()$aic / 2` at `mu = y`.
//! An estimated `theta` is searched on the log scale.

use super::exponential::{observed, y_log_ratio, ExponentialFamily};
use super::special::{lgamma, xlogy};
use super::ParameterSearch;

/// Counts below this have their saturated log likelihood term kept (see
/// `saturated_loglik`).
const KEPT_COUNTS: usize = 4096;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NegativeBinomial {
    pub theta: f64,
}

impl ExponentialFamily for NegativeBinomial {
    const NAME: &'static str = "negbin";
    const PARAMETERS: &'static [&'static str] = &["theta"];
    const EXAMPLE: Self = NegativeBinomial { theta: 1.7 };

    /// `theta` positive and finite.
    fn new(parameters: &[f64]) -> Option<Self> {
        let &[theta] = parameters else { return None };
        (theta > 0.0 && theta.is_finite()).then_some(NegativeBinomial { theta })
    }

    fn parameters(&self) -> Vec<f64> {
        vec![self.theta]
    }

    fn known_scale(&self) -> bool {
        true
    }

    fn variance(&self, mu: f64) -> [f64; 4] {
        let theta = self.theta;
        [mu + mu * mu / theta, 1.0 + 2.0 * mu / theta, 2.0 / theta, 0.0]
    }

    fn deviance(&self, y: f64, mu: f64) -> [f64; 3] {
        let t = self.theta;
        [
            2.0 * (y_log_ratio(y, mu) - (y + t) * ((y + t) / (mu + t)).ln()),
            2.0 * (-y / mu + (y + t) / (mu + t)),
            2.0 * (y / (mu * mu) - (y + t) / ((mu + t) * (mu + t))),
        ]
    }

    fn unit_deviance(&self, y: f64, mu: f64) -> f64 {
        let t = self.theta;
        2.0 * (y_log_ratio(y, mu) - (y + t) * ((y + t) / (mu + t)).ln())
    }

    /// mgcv's: `y`, or 1/6 where `y` is 0.
    fn start_mean(&self, y: f64, _w: f64, _quasi: bool) -> f64 {
        if y == 0.0 {
            1.0 / 6.0
        } else {
            y
        }
    }

    fn support_problem(&self, y: f64, _quasi: bool) -> Option<&'static str> {
        (y < 0.0).then_some("must be non-negative")
    }

    /// `log f(y; mu = y, theta)` (mgcv's `negbin()$ls`). A count's term is kept for
    /// the other rows of the same count (three `lgamma`s a row were a tenth of an
    /// `nb()` fit); each is the value computed afresh.
    fn saturated_loglik(&self, y: &[f64], w: &[f64], _phi: f64) -> [f64; 3] {
        let theta = self.theta;
        let term = |y: f64| {
            xlogy(y + theta, y + theta) - xlogy(y, y) + lgamma(y + 1.0) - xlogy(theta, theta) + lgamma(theta)
                - lgamma(theta + y)
        };
        let mut kept = vec![f64::NAN; KEPT_COUNTS];
        let value = observed(y, w)
            .map(|(&y, &w)| {
                let count = y as usize;
                let t = if count as f64 == y && count < KEPT_COUNTS {
                    if kept[count].is_nan() {
                        kept[count] = term(y);
                    }
                    kept[count]
                } else {
                    term(y)
                };
                -w * t
            })
            .sum();
        [value, 0.0, 0.0]
    }

    /// On the log scale, from 1e-3 (extreme overdispersion) to about 1.6e5 (a Poisson
    /// response to working precision).
    fn parameter_searches(&self) -> Vec<ParameterSearch> {
        vec![ParameterSearch { start: self.theta.ln(), lo: -6.907_755_278_982_137, hi: 12.0, step: 1.0 }]
    }

    /// `c` is `log(theta)`.
    fn at_coordinates(&self, c: &[f64]) -> Self {
        NegativeBinomial { theta: c[0].exp() }
    }
}
