//! The zero-inflated Poisson location-scale family (mgcv's `ziplss`): with
//! probability `1 - p` the count is a structural zero, otherwise it is Poisson with
//! mean `lambda` truncated to positive values. `gamma = log(lambda)` is the first
//! linear predictor and `eta = log(-log(1 - p))` (the complementary log-log of `p`)
//! the second, both through identity links.
//!
//! `l = -exp(eta)` at `y = 0`; otherwise
//! `l = log(1 - exp(-exp(eta))) + y gamma - log(exp(exp(gamma)) - 1) - log(y!)`.
//! The two functions of one predictor are differentiated in one variable (`jet`,
//! each written where it keeps its precision) and composed in `mjet`.

use super::general::LpLink;
use super::jet::Jet;
use super::link::Link;
use super::mjet::{MJet, Space};
use super::special::lgamma;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Ziplss {
    pub links: [LpLink; 2],
}

impl Ziplss {
    pub fn new(links: &[String], constants: &[f64]) -> Option<Ziplss> {
        (links == ["identity", "identity"] && constants.is_empty())
            .then_some(Ziplss { links: [LpLink::Standard(Link::Identity); 2] })
    }

    pub fn loglik<const N: usize>(&self, s: &Space, y: f64, theta: &[MJet<N>]) -> MJet<N> {
        let (gamma, eta) = (&theta[0], &theta[1]);
        if y == 0.0 {
            return s.scale(&s.exp(eta), -1.0);
        }
        // log p = log(1 - exp(-exp(eta))).
        let log_p = Jet::var(eta.value()).exp().one_minus_exp_neg().ln();
        // log(exp(lambda) - 1) = lambda + log(1 - exp(-lambda)), lambda = exp(gamma).
        let lambda = Jet::var(gamma.value()).exp();
        let log_norm = lambda + lambda.one_minus_exp_neg().ln();
        let l = s.sub(&s.add(&s.compose(eta, log_p.0), &s.scale(gamma, y)), &s.compose(gamma, log_norm.0));
        s.shift(&l, -lgamma(y + 1.0))
    }

    /// The log mean of the positive counts, and the complementary log-log of the
    /// share of positive counts, the same for every row.
    pub fn start_targets(&self, lp: usize, y: &[f64], _earlier: &[Vec<f64>]) -> Vec<f64> {
        let positive: Vec<f64> = y.iter().copied().filter(|&v| v > 0.0).collect();
        let n = y.len() as f64;
        let value = if lp == 0 {
            (positive.iter().sum::<f64>() / (positive.len() as f64).max(1.0)).max(1.0).ln()
        } else {
            let share = ((positive.len() as f64 + 0.5) / (n + 1.0)).clamp(1e-3, 1.0 - 1e-3);
            (-(1.0 - share).ln()).ln()
        };
        vec![value; y.len()]
    }
}
