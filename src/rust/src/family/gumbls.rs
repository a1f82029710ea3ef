//! The Gumbel location-scale family (mgcv's `gumbls`): `y` Gumbel (of maxima) with
//! location `mu` on the first linear predictor and log scale `beta` on the second,
//! through mgcv's `log` link for it, `beta = b + log(1 + exp(eta))` (a softplus
//! keeping the log scale above `b`).
//!
//! `l = -beta - z - exp(-z)`, `z = (y - mu) exp(-beta)`; its derivatives come from
//! `mjet`.

use super::general::LpLink;
use super::link::Link;
use super::mjet::{MJet, Space};

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Gumbls {
    pub links: [LpLink; 2],
}

impl Gumbls {
    /// Links `["identity", "log"]` with `b` the one constant.
    pub fn new(links: &[String], constants: &[f64]) -> Option<Gumbls> {
        let [b] = constants else { return None };
        (links == ["identity", "log"] && b.is_finite())
            .then_some(Gumbls { links: [LpLink::Standard(Link::Identity), LpLink::SoftplusB(*b)] })
    }

    pub fn loglik<const N: usize>(&self, s: &Space, y: f64, theta: &[MJet<N>]) -> MJet<N> {
        let (mu, beta) = (&theta[0], &theta[1]);
        let z = s.mul(&s.shift(&s.scale(mu, -1.0), y), &s.exp(&s.scale(beta, -1.0)));
        let ez = s.exp(&s.scale(&z, -1.0));
        s.scale(&s.add(&s.add(beta, &z), &ez), -1.0)
    }

    /// The location from `y`; the log scale from the residuals' spread (a Gumbel's
    /// standard deviation is `pi exp(beta) / sqrt(6)`), the same for every row.
    pub fn start_targets(&self, lp: usize, y: &[f64], earlier: &[Vec<f64>]) -> Vec<f64> {
        if lp == 0 {
            return y.to_vec();
        }
        let n = y.len() as f64;
        let ss: f64 = y.iter().zip(&earlier[0]).map(|(v, m)| (v - m) * (v - m)).sum();
        let sd = (ss / n.max(2.0)).sqrt().max(1e-8);
        let beta = (sd * 6f64.sqrt() / std::f64::consts::PI).ln();
        vec![self.links[1].link(beta); y.len()]
    }
}
