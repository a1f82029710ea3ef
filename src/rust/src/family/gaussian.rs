//! The Gaussian distribution (R's `gaussian()`): `V(mu) = 1`, unit deviance
//! `(y - mu)^2`, scale estimated (McCullagh & Nelder 1989 Table 2.1). Its saturated
//! log likelihood is the normal density's normalizing part at `mu = y`.

use super::exponential::{normal_like_loglik, ExponentialFamily};
use super::link::Link;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Gaussian;

impl ExponentialFamily for Gaussian {
    const NAME: &'static str = "gaussian";
    const QUASI_VARIANCE: Option<&'static str> = Some("constant");
    const EXAMPLE: Self = Gaussian;

    fn new(parameters: &[f64]) -> Option<Self> {
        parameters.is_empty().then_some(Gaussian)
    }

    fn known_scale(&self) -> bool {
        false
    }

    fn variance(&self, _mu: f64) -> [f64; 4] {
        [1.0, 0.0, 0.0, 0.0]
    }

    fn deviance(&self, y: f64, mu: f64) -> [f64; 3] {
        [(y - mu).powi(2), -2.0 * (y - mu), 2.0]
    }

    fn valid_mean(&self, mu: f64) -> bool {
        mu.is_finite()
    }

    fn natural_link(&self) -> Option<Link> {
        Some(Link::Identity)
    }

    fn start_mean(&self, y: f64, _w: f64, _quasi: bool) -> f64 {
        y
    }

    fn support_problem(&self, _y: f64, _quasi: bool) -> Option<&'static str> {
        None
    }

    /// `-n log(2 pi phi) / 2 + sum(log w) / 2`.
    fn saturated_loglik(&self, y: &[f64], w: &[f64], phi: f64) -> [f64; 3] {
        normal_like_loglik(y, w, phi, (2.0 * std::f64::consts::PI * phi).ln())
    }
}
