//! The gamma location-scale family (mgcv's `gammals`): `y > 0` gamma with log mean
//! `mu` on the first linear predictor (identity link) and log scale `theta` on the
//! second, through mgcv's `log` link for it, `theta = b + log(1 + exp(eta))`. The
//! shape is `exp(-theta)` and the variance `exp(theta) mean^2`.
//!
//! `l = e^-theta (log y - mu - theta) - log y - y e^(-theta - mu) - lgamma(e^-theta)`;
//! its derivatives come from `mjet`.

use super::general::LpLink;
use super::link::Link;
use super::mjet::{MJet, Space};

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Gammals {
    pub links: [LpLink; 2],
}

impl Gammals {
    /// Links `["identity", "log"]` with `b` the one constant.
    pub fn new(links: &[String], constants: &[f64]) -> Option<Gammals> {
        let [b] = constants else { return None };
        (links == ["identity", "log"] && b.is_finite())
            .then_some(Gammals { links: [LpLink::Standard(Link::Identity), LpLink::SoftplusB(*b)] })
    }

    pub fn loglik<const N: usize>(&self, s: &Space, y: f64, theta: &[MJet<N>]) -> MJet<N> {
        let (mu, th) = (&theta[0], &theta[1]);
        let log_y = y.ln();
        let shape = s.exp(&s.scale(th, -1.0));
        let centred = s.shift(&s.scale(&s.add(mu, th), -1.0), log_y);
        let rate_term = s.scale(&s.exp(&s.scale(&s.add(mu, th), -1.0)), y);
        let l = s.sub(&s.mul(&shape, &centred), &s.add(&rate_term, &s.lgamma(&shape)));
        s.shift(&l, -log_y)
    }

    /// The log mean from `log y`; the log scale from the squared coefficient of
    /// variation, the same for every row.
    pub fn start_targets(&self, lp: usize, y: &[f64], _earlier: &[Vec<f64>]) -> Vec<f64> {
        if lp == 0 {
            return y.iter().map(|v| v.max(1e-300).ln()).collect();
        }
        let n = y.len() as f64;
        let mean = y.iter().sum::<f64>() / n;
        let var = y.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / n.max(2.0);
        let theta = (var / (mean * mean)).max(1e-8).ln();
        vec![self.links[1].link(theta); y.len()]
    }
}
