//! The binomial distribution (R's `binomial()`, and the variance `quasibinomial()`
//! and `quasi(variance = "mu(1-mu)")` borrow): `y` the proportion of successes and
//! the prior weight the trials, `V(mu) = mu (1 - mu)`, scale 1 (McCullagh & Nelder
//! 1989 Table 2.1); the unit deviance and saturated log likelihood are R's
//! `binomial()$dev.resids` and `-binomial()$aic / 2` at `mu = y`.

use super::exponential::{observed, y_log_ratio, ExponentialFamily};
use super::link::Link;
use super::special::{lgamma, xlogy};

/// Fitted probabilities are kept this far from 0 and 1 (R's links clamp the same
/// way), so that a diverging fit stays finite.
pub const PROBABILITY_EPS: f64 = f64::EPSILON;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Binomial;

impl ExponentialFamily for Binomial {
    const NAME: &'static str = "binomial";
    const QUASI_NAME: Option<&'static str> = Some("quasibinomial");
    const QUASI_VARIANCE: Option<&'static str> = Some("mu(1-mu)");
    const EXAMPLE: Self = Binomial;

    fn new(parameters: &[f64]) -> Option<Self> {
        parameters.is_empty().then_some(Binomial)
    }

    fn known_scale(&self) -> bool {
        true
    }

    fn variance(&self, mu: f64) -> [f64; 4] {
        [mu * (1.0 - mu), 1.0 - 2.0 * mu, -2.0, 0.0]
    }

    fn deviance(&self, y: f64, mu: f64) -> [f64; 3] {
        [
            2.0 * (y_log_ratio(y, mu) + y_log_ratio(1.0 - y, 1.0 - mu)),
            2.0 * (-y / mu + (1.0 - y) / (1.0 - mu)),
            2.0 * (y / (mu * mu) + (1.0 - y) / ((1.0 - mu) * (1.0 - mu))),
        ]
    }

    fn valid_mean(&self, mu: f64) -> bool {
        mu > 0.0 && mu < 1.0
    }

    fn clamp_mean(&self, mu: f64) -> f64 {
        mu.clamp(PROBABILITY_EPS, 1.0 - PROBABILITY_EPS)
    }

    fn natural_link(&self) -> Option<Link> {
        Some(Link::Logit)
    }

    /// Under the logit, from the clamped mean itself: accurate in both tails, and
    /// consistent with the mean a diverging fit is held at.
    fn mean_derivatives(&self, link: Link, mu: f64) -> Option<[f64; 4]> {
        (link == Link::Logit).then(|| logistic_mean_derivatives(mu))
    }

    fn start_mean(&self, y: f64, w: f64, _quasi: bool) -> f64 {
        (w * y + 0.5) / (w + 1.0)
    }

    fn support_problem(&self, y: f64, _quasi: bool) -> Option<&'static str> {
        (!(0.0..=1.0).contains(&y)).then_some("must lie in [0, 1]")
    }

    /// `log dbinom(k; m, k/m)`, with `m` the trials (the weight) and `k` the successes.
    fn saturated_loglik(&self, y: &[f64], w: &[f64], _phi: f64) -> [f64; 3] {
        let value = observed(y, w)
            .map(|(&y, &w)| {
                let (m, k) = (w.round(), (w * y).round());
                let choose = lgamma(m + 1.0) - lgamma(k + 1.0) - lgamma(m - k + 1.0);
                choose + xlogy(k, k / m) + xlogy(m - k, 1.0 - k / m)
            })
            .sum();
        [value, 0.0, 0.0]
    }
}

/// The first four derivatives in `eta` of the logistic mean `mu = 1 / (1 + e^-eta)`,
/// from `mu` itself: `mu' = mu (1 - mu)` and so on by the chain rule.
pub fn logistic_mean_derivatives(mu: f64) -> [f64; 4] {
    let m1 = mu * (1.0 - mu);
    let m2 = m1 * (1.0 - 2.0 * mu);
    let m3 = m2 * (1.0 - 2.0 * mu) - 2.0 * m1 * m1;
    let m4 = m3 * (1.0 - 2.0 * mu) - 6.0 * m1 * m2;
    [m1, m2, m3, m4]
}
