//! The Gaussian location-scale family (mgcv's `gaulss`): `y ~ N(mu, sigma^2)` with
//! the mean on the first linear predictor and the precision's square root
//! `tau = 1 / sigma` on the second, through mgcv's `logb` link
//! `sigma = exp(eta) + b`, which keeps the standard deviation above `b` (Wood, Pya &
//! Säfken 2016, §4).
//!
//! `l = log tau - tau^2 (y - mu)^2 / 2 - log(2 pi) / 2`. Prior weights do not enter
//! (mgcv's `gaulss` ignores them too; the R layer refuses them).

use super::general::{Fourth, Jet, LpLink, MAX_LP};
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

    pub fn loglik(&self, y: f64, theta: &[f64]) -> f64 {
        let (mu, tau) = (theta[0], theta[1]);
        let r = y - mu;
        tau.ln() - 0.5 * tau * tau * r * r - 0.5 * (2.0 * std::f64::consts::PI).ln()
    }

    /// The log likelihood at `theta = (mu, tau)` and its derivatives up to `order`.
    pub fn jet(&self, y: f64, theta: &[f64], order: usize) -> Jet {
        let (mu, tau) = (theta[0], theta[1]);
        let r = y - mu;
        let mut j = Jet::zero();
        j.l = self.loglik(y, theta);
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

    /// The fourth derivatives: `l_mmtt = -2` (every order of `m, m, t, t`) and
    /// `l_tttt = -6 / tau^4`; the others are zero.
    pub fn fourth(&self, _y: f64, theta: &[f64]) -> Fourth {
        let tau = theta[1];
        let mut f = [[[[0.0; MAX_LP]; MAX_LP]; MAX_LP]; MAX_LP];
        for (a, b, c, d) in [(0, 0, 1, 1), (0, 1, 0, 1), (0, 1, 1, 0), (1, 0, 0, 1), (1, 0, 1, 0), (1, 1, 0, 0)] {
            f[a][b][c][d] = -2.0;
        }
        f[1][1][1][1] = -6.0 / tau.powi(4);
        f
    }

    /// Each row's start for predictor `lp` on its scale, given the earlier
    /// predictors' parameters: the linked response for the mean; for `1 / sigma`,
    /// the absolute residual's `sigma` (`E log|r| = log sigma - 0.635` for normal
    /// residuals), kept off zero.
    pub fn start_targets(&self, lp: usize, y: &[f64], earlier: &[Vec<f64>]) -> Vec<f64> {
        let n = y.len() as f64;
        let mean = y.iter().sum::<f64>() / n;
        let sd = (y.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / n.max(2.0)).sqrt().max(1e-8);
        if lp == 0 {
            let positive = matches!(self.links[0], LpLink::Standard(Link::Log | Link::Sqrt | Link::Inverse));
            return y.iter().map(|&v| self.links[0].link(if positive { v.abs().max(1e-3 * sd) } else { v })).collect();
        }
        y.iter()
            .zip(&earlier[0])
            .map(|(v, mu)| {
                let sigma = ((v - mu).abs().max(1e-3 * sd)).ln() + 0.635;
                self.links[1].link(1.0 / sigma.exp().max(1e-2 * sd))
            })
            .collect()
    }
}
