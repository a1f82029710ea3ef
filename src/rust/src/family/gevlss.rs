//! The generalized extreme value location-scale-shape family (mgcv's `gevlss`):
//! location `mu` and log scale `rho` on identity links, shape `xi` on mgcv's scaled
//! logit `xi = 1.5 / (1 + exp(-eta)) - 1`, which keeps it in (-1, 1/2).
//!
//! `l = -rho - (1 + 1/xi) log(1 + xi z) - (1 + xi z)^(-1/xi)`, `z = (y - mu) e^-rho`,
//! where `1 + xi z > 0` (elsewhere the likelihood is zero: not finite, and the fit
//! steps back). As mgcv does, `|xi|` is kept at least `1e-7` (the limit `xi -> 0` is
//! the Gumbel). Derivatives come from `mjet`.

use super::general::LpLink;
use super::link::Link;
use super::mjet::{MJet, Space};

/// The smallest `|xi|` (mgcv's `eps` in `gevlss`).
const MIN_SHAPE: f64 = 1e-7;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Gevlss {
    pub links: [LpLink; 3],
}

impl Gevlss {
    pub fn new(links: &[String], constants: &[f64]) -> Option<Gevlss> {
        (links == ["identity", "identity", "logit"] && constants.is_empty()).then_some(Gevlss {
            links: [
                LpLink::Standard(Link::Identity),
                LpLink::Standard(Link::Identity),
                LpLink::ScaledLogit { scale: 1.5, shift: -1.0 },
            ],
        })
    }

    pub fn loglik<const N: usize>(&self, s: &Space, y: f64, theta: &[MJet<N>]) -> MJet<N> {
        let (mu, rho) = (&theta[0], &theta[1]);
        let mut xi = theta[2];
        let x = xi.value();
        if x.abs() < MIN_SHAPE {
            xi = s.shift(&xi, MIN_SHAPE.copysign(if x == 0.0 { 1.0 } else { x }) - x);
        }
        let z = s.mul(&s.shift(&s.scale(mu, -1.0), y), &s.exp(&s.scale(rho, -1.0)));
        let log_a = s.ln_1p(&s.mul(&xi, &z));
        let inv_xi = s.recip(&xi);
        let power = s.exp(&s.scale(&s.mul(&inv_xi, &log_a), -1.0));
        let first = s.mul(&s.shift(&inv_xi, 1.0), &log_a);
        s.scale(&s.add(&s.add(rho, &first), &power), -1.0)
    }

    /// The location and log scale of a Gumbel with the sample's mean and spread
    /// (`mean = mu + 0.5772 sigma`, `sd = pi sigma / sqrt(6)`), and a small positive
    /// shape, the same for every row (the shape near zero keeps every observation
    /// inside the support).
    pub fn start_targets(&self, lp: usize, y: &[f64], _earlier: &[Vec<f64>]) -> Vec<f64> {
        let n = y.len() as f64;
        let mean = y.iter().sum::<f64>() / n;
        let sd = (y.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / n.max(2.0)).sqrt().max(1e-8);
        let sigma = sd * 6f64.sqrt() / std::f64::consts::PI;
        let value = match lp {
            0 => return y.iter().map(|v| v - 0.5772 * sigma).collect(),
            1 => sigma.ln(),
            _ => self.links[2].link(0.01),
        };
        vec![value; y.len()]
    }
}
