//! The inverse Gaussian distribution (R's `inverse.gaussian()`, and the variance
//! `quasi(variance = "mu^3")` borrows): `V(mu) = mu^3`, scale estimated, canonical
//! link `1/mu^2` (McCullagh & Nelder 1989 Table 2.1). Its saturated log likelihood
//! is the Gaussian's less `3/2 sum(log y)`.

use super::exponential::{normal_like_loglik, observed, ExponentialFamily};
use super::gamma::{positive_start_mean, positive_support};
use super::link::Link;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct InverseGaussian;

impl ExponentialFamily for InverseGaussian {
    const NAME: &'static str = "inverse.gaussian";
    const QUASI_VARIANCE: Option<&'static str> = Some("mu^3");
    const EXAMPLE: Self = InverseGaussian;

    fn new(parameters: &[f64]) -> Option<Self> {
        parameters.is_empty().then_some(InverseGaussian)
    }

    fn known_scale(&self) -> bool {
        false
    }

    fn variance(&self, mu: f64) -> [f64; 4] {
        [mu.powi(3), 3.0 * mu * mu, 6.0 * mu, 6.0]
    }

    fn deviance(&self, y: f64, mu: f64) -> [f64; 3] {
        [
            (y - mu).powi(2) / (y * mu * mu),
            -2.0 * y / mu.powi(3) + 2.0 / (mu * mu),
            6.0 * y / mu.powi(4) - 4.0 / mu.powi(3),
        ]
    }

    fn canonical_link(&self) -> Option<Link> {
        Some(Link::InverseSquare)
    }

    fn start_mean(&self, y: f64, _w: f64, quasi: bool) -> f64 {
        positive_start_mean(y, quasi)
    }

    fn support_problem(&self, y: f64, quasi: bool) -> Option<&'static str> {
        positive_support(y, quasi)
    }

    fn saturated_loglik(&self, y: &[f64], w: &[f64], phi: f64) -> [f64; 3] {
        let [v, d1, d2] = normal_like_loglik(y, w, phi, (2.0 * std::f64::consts::PI * phi).ln());
        [v - 1.5 * observed(y, w).map(|(y, _)| y.ln()).sum::<f64>(), d1, d2]
    }
}
