//! The multinomial logistic family (mgcv's `multinom(K)`): a response in classes
//! `0..=K`, with `K` linear predictors, one per class beyond class 0:
//! `P(y = k) = exp(eta_k) / (1 + sum_j exp(eta_j))` (`eta_0 = 0`).
//!
//! `l = eta_y - log(1 + sum_j exp(eta_j))`; its derivatives come from `mjet`.
//! (mgcv 1.8-41's `multinom()` log likelihood adds 1 for each class-0 observation,
//! a constant that moves its REML score and `logLik()` but not the fit.)

use super::general::MAX_LP;
use super::mjet::{MJet, Space};

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Multinom {
    pub k: usize,
}

impl Multinom {
    /// `K` identity links; the one constant is `K` (at most `MAX_LP`).
    pub fn new(links: &[String], constants: &[f64]) -> Option<Multinom> {
        let [k] = constants else { return None };
        let k = *k as usize;
        ((1..=MAX_LP).contains(&k) && links.len() == k && links.iter().all(|l| l == "identity"))
            .then_some(Multinom { k })
    }

    pub fn loglik(&self, s: &Space, y: f64, theta: &[MJet]) -> MJet {
        let mut total = s.constant(1.0);
        for t in theta {
            total = s.add(&total, &s.exp(t));
        }
        let log_total = s.ln(&total);
        let class = y as usize;
        if class == 0 {
            s.scale(&log_total, -1.0)
        } else {
            s.sub(&theta[class - 1], &log_total)
        }
    }

    /// Each class's log odds against class 0 in the sample (smoothed by a half
    /// count), the same for every row.
    pub fn start_targets(&self, lp: usize, y: &[f64], _earlier: &[Vec<f64>]) -> Vec<f64> {
        let count = |c: usize| y.iter().filter(|&&v| v as usize == c).count() as f64 + 0.5;
        vec![(count(lp + 1) / count(0)).ln(); y.len()]
    }
}
