//! The Poisson distribution (R's `poisson()`, and the variance `quasipoisson()` and
//! `quasi(variance = "mu")` borrow): `V(mu) = mu`, scale 1 (McCullagh & Nelder 1989
//! Table 2.1); the unit deviance and saturated log likelihood are R's
//! `poisson()$dev.resids` and `sum(dpois(y, y, log = TRUE))`.

use super::exponential::{observed, y_log_ratio, ExponentialFamily};
use super::link::Link;
use super::special::{lgamma, xlogy};

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Poisson;

impl ExponentialFamily for Poisson {
    const NAME: &'static str = "poisson";
    const QUASI_NAME: Option<&'static str> = Some("quasipoisson");
    const QUASI_VARIANCE: Option<&'static str> = Some("mu");
    const EXAMPLE: Self = Poisson;

    fn new(parameters: &[f64]) -> Option<Self> {
        parameters.is_empty().then_some(Poisson)
    }

    fn known_scale(&self) -> bool {
        true
    }

    fn variance(&self, mu: f64) -> [f64; 4] {
        [mu, 1.0, 0.0, 0.0]
    }

    fn deviance(&self, y: f64, mu: f64) -> [f64; 3] {
        [2.0 * (y_log_ratio(y, mu) - (y - mu)), 2.0 * (1.0 - y / mu), 2.0 * y / (mu * mu)]
    }

    fn natural_link(&self) -> Option<Link> {
        Some(Link::Log)
    }

    fn start_mean(&self, y: f64, _w: f64, _quasi: bool) -> f64 {
        y + 0.1
    }

    fn support_problem(&self, y: f64, _quasi: bool) -> Option<&'static str> {
        (y < 0.0).then_some("must be non-negative")
    }

    fn saturated_loglik(&self, y: &[f64], w: &[f64], _phi: f64) -> [f64; 3] {
        let value = observed(y, w).map(|(&y, &w)| w * (xlogy(y, y) - y - lgamma(y + 1.0))).sum();
        [value, 0.0, 0.0]
    }
}
