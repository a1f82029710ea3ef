//! The gamma distribution (R's `Gamma()`, and the variance `quasi(variance = "mu^2")`
//! borrows): `V(mu) = mu^2`, scale estimated, canonical link the inverse (McCullagh &
//! Nelder 1989 Table 2.1). Each observation's shape is `w / phi`, so the saturated
//! log likelihood and its derivatives in `phi` need the log gamma function and its
//! derivatives (mgcv's `Gamma()$ls`).

use super::exponential::{observed, ExponentialFamily};
use super::link::Link;
use super::special;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Gamma;

impl ExponentialFamily for Gamma {
    const NAME: &'static str = "Gamma";
    const QUASI_VARIANCE: Option<&'static str> = Some("mu^2");
    const EXAMPLE: Self = Gamma;

    fn new(parameters: &[f64]) -> Option<Self> {
        parameters.is_empty().then_some(Gamma)
    }

    fn known_scale(&self) -> bool {
        false
    }

    fn variance(&self, mu: f64) -> [f64; 4] {
        [mu * mu, 2.0 * mu, 2.0, 0.0]
    }

    fn deviance(&self, y: f64, mu: f64) -> [f64; 3] {
        [
            2.0 * (-(y / mu).ln() + (y - mu) / mu),
            2.0 * (1.0 / mu - y / (mu * mu)),
            2.0 * (-1.0 / (mu * mu) + 2.0 * y / mu.powi(3)),
        ]
    }

    fn canonical_link(&self) -> Option<Link> {
        Some(Link::Inverse)
    }

    fn start_mean(&self, y: f64, _w: f64, quasi: bool) -> f64 {
        positive_start_mean(y, quasi)
    }

    fn support_problem(&self, y: f64, quasi: bool) -> Option<&'static str> {
        positive_support(y, quasi)
    }

    /// With `s = phi / w`: `log f = -lgamma(1/s) - log(s)/s - 1/s - log(y)` plus terms
    /// in the deviance.
    fn saturated_loglik(&self, y: &[f64], w: &[f64], phi: f64) -> [f64; 3] {
        let mut out = [0.0; 3];
        for (&y, &w) in observed(y, w) {
            let s = phi / w;
            let (ls, r) = (s.ln(), 1.0 / s);
            out[0] += -special::lgamma(r) - ls * r - r - y.ln();
            out[1] += (special::digamma(r) + ls) / (s * s * w);
            out[2] += (-special::trigamma(r) / s + (1.0 - 2.0 * ls - 2.0 * special::digamma(r))) / (s.powi(3) * w * w);
        }
        out
    }
}

/// The start of a positive distribution's fit: `y`; for the quasi family, which
/// admits zeros, `y + 0.1` there.
pub(super) fn positive_start_mean(y: f64, quasi: bool) -> f64 {
    if quasi {
        y + 0.1 * f64::from(y == 0.0)
    } else {
        y
    }
}

/// The support of the positive families (gamma, inverse Gaussian): positive, or
/// non-negative for the quasi families that borrow their variance.
pub(super) fn positive_support(y: f64, quasi: bool) -> Option<&'static str> {
    if quasi {
        (y < 0.0).then_some("must be non-negative")
    } else {
        (y <= 0.0).then_some("must be positive")
    }
}
