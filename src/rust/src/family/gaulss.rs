//! The Gaussian location-scale family (mgcv's `gaulss`): `y ~ N(mu, sigma^2)` with
//! the mean on the first linear predictor and the precision's square root
//! `tau = 1 / sigma` on the second, through mgcv's `logb` link
//! `sigma = exp(eta) + b`, which keeps the standard deviation above `b` (Wood, Pya &
//! Säfken 2016, §4).
//!
//! `l = log tau - tau^2 (y - mu)^2 / 2 - log(2 pi) / 2`. Prior weights do not enter
//! (mgcv's `gaulss` ignores them too; the R layer refuses them).

use super::general::{Jet, LpLink};
use super::link::Link;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Gaulss {
    pub links: [LpLink; 2],
}

impl Gaulss {
    /// Links `[mean link, "logb"]` with `b` the one constant.
    pub fn new(links: &[String], constants: &[f64]) -> Option<Gaulss> {
        let [b] = constants else { return None };
        if links.len() != 2 || links[1] != "logb" || !(b.is_finite() && *b > 0.0) {
            return None;
        }
        let mean = match links[0].as_str() {
            "identity" => Link::Identity,
            "log" => Link::Log,
            "inverse" => Link::Inverse,
            "sqrt" => Link::Sqrt,
            _ => return None,
        };
        Some(Gaulss { links: [LpLink::Standard(mean), LpLink::LogB(*b)] })
    }

    /// The log likelihood at `theta = (mu, tau)` and its derivatives up to `order`.
    pub fn jet(&self, y: f64, theta: &[f64], order: usize) -> Jet {
        let (mu, tau) = (theta[0], theta[1]);
        let r = y - mu;
        let mut j = Jet::zero();
        j.l = tau.ln() - 0.5 * tau * tau * r * r - 0.5 * (2.0 * std::f64::consts::PI).ln();
        if order >= 1 {
            j.d1[0] = tau * tau * r;
            j.d1[1] = 1.0 / tau - tau * r * r;
        }
        if order >= 2 {
            j.d2[0][0] = -tau * tau;
            j.d2[0][1] = 2.0 * tau * r;
            j.d2[1][0] = j.d2[0][1];
            j.d2[1][1] = -1.0 / (tau * tau) - r * r;
        }
        if order >= 3 {
            // l_mmm = 0; l_mmt = -2 tau; l_mtt = 2 r; l_ttt = 2 / tau^3.
            let (mmt, mtt) = (-2.0 * tau, 2.0 * r);
            j.d3[0][0][1] = mmt;
            j.d3[0][1][0] = mmt;
            j.d3[1][0][0] = mmt;
            j.d3[0][1][1] = mtt;
            j.d3[1][0][1] = mtt;
            j.d3[1][1][0] = mtt;
            j.d3[1][1][1] = 2.0 / (tau * tau * tau);
        }
        j
    }

    /// The mean and the precision root of the whole sample, on the predictors'
    /// scales.
    pub fn start(&self, y: &[f64]) -> Vec<f64> {
        let n = y.len() as f64;
        let mean = y.iter().sum::<f64>() / n;
        let var = y.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / n.max(2.0);
        let mean = match self.links[0] {
            LpLink::Standard(Link::Log | Link::Sqrt | Link::Inverse) => mean.abs().max(1e-3),
            _ => mean,
        };
        let tau = 1.0 / var.sqrt().max(1e-8);
        vec![self.links[0].link(mean), self.links[1].link(tau)]
    }

    /// `sum ((y - mu) tau)^2` and `sum ((y - mean(y)) tau)^2` (mgcv's deviance and
    /// null deviance for `gaulss`).
    pub fn deviances(&self, y: &[f64], theta: &[Vec<f64>]) -> (f64, f64) {
        let mean = y.iter().sum::<f64>() / y.len() as f64;
        let (mut dev, mut null) = (0.0, 0.0);
        for (i, &yi) in y.iter().enumerate() {
            let tau = theta[1][i];
            dev += ((yi - theta[0][i]) * tau).powi(2);
            null += ((yi - mean) * tau).powi(2);
        }
        (dev, null)
    }
}
