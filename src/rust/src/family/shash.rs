//! The sinh-arcsinh location-scale-shape family (mgcv's `shash`; Jones & Pewsey
//! 2009, Biometrika 96:761-780): location `mu`, log scale `tau` through mgcv's
//! `logeb` link `tau = log(exp(eta) + b)`, skewness `eps` and log kurtosis `phi` on
//! identity links. With `z = (y - mu) / (sigma delta)`, `sigma = e^tau`,
//! `delta = e^phi` and `w = delta asinh(z) - eps`:
//!
//! `l = -tau - log(2 pi)/2 + log cosh(w) - log(1 + z^2)/2 - sinh(w)^2/2
//!      - phi_pen phi^2`,
//!
//! the last term mgcv's ridge on the log kurtosis (`phiPen`, 1e-3 by default), part
//! of its model. Derivatives come from `mjet`.

use super::general::LpLink;
use super::link::Link;
use super::mjet::{MJet, Space};

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Shash {
    pub links: [LpLink; 4],
    phi_pen: f64,
}

impl Shash {
    /// Links `["identity", "logeb", "identity", "identity"]` with constants `b` and
    /// `phiPen`.
    pub fn new(links: &[String], constants: &[f64]) -> Option<Shash> {
        let [b, phi_pen] = constants else { return None };
        let valid = b.is_finite() && *b > 0.0 && phi_pen.is_finite() && *phi_pen >= 0.0;
        (links == ["identity", "logeb", "identity", "identity"] && valid).then_some(Shash {
            phi_pen: *phi_pen,
            links: [
                LpLink::Standard(Link::Identity),
                LpLink::LogEB(*b),
                LpLink::Standard(Link::Identity),
                LpLink::Standard(Link::Identity),
            ],
        })
    }

    pub fn loglik<const N: usize>(&self, s: &Space, y: f64, theta: &[MJet<N>]) -> MJet<N> {
        let (mu, tau, eps, phi) = (&theta[0], &theta[1], &theta[2], &theta[3]);
        let delta = s.exp(phi);
        let z = s.mul(&s.shift(&s.scale(mu, -1.0), y), &s.exp(&s.scale(&s.add(tau, phi), -1.0)));
        let w = s.sub(&s.mul(&delta, &s.asinh(&z)), eps);
        let sinh = s.sinh(&w);
        let log_cosh = s.ln(&s.cosh(&w));
        let l = s.sub(&s.sub(&log_cosh, tau), &s.scale(&s.ln_1p(&s.mul(&z, &z)), 0.5));
        let l = s.sub(&l, &s.scale(&s.mul(&sinh, &sinh), 0.5));
        let l = s.sub(&l, &s.scale(&s.mul(phi, phi), self.phi_pen));
        s.shift(&l, -0.5 * (2.0 * std::f64::consts::PI).ln())
    }

    /// The location from `y`, the log scale from the sample's spread, no skewness
    /// and the normal's kurtosis (`delta = 1`), the same for every row.
    pub fn start_targets(&self, lp: usize, y: &[f64], _earlier: &[Vec<f64>]) -> Vec<f64> {
        if lp == 0 {
            return y.to_vec();
        }
        let n = y.len() as f64;
        let mean = y.iter().sum::<f64>() / n;
        let sd = (y.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / n.max(2.0)).sqrt().max(1e-8);
        let value = if lp == 1 { self.links[1].link(sd.ln()) } else { 0.0 };
        vec![value; y.len()]
    }
}
