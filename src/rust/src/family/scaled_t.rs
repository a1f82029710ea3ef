//! The scaled t distribution (mgcv's `scat()`; the R layer names it "scat"): `y - mu`
//! is `sigma` times a t variate with `nu` degrees of freedom, for heavy-tailed
//! (robust) regression. An extended family in Wood, Pya & Säfken (2016, JASA §3):
//! `nu` and `sigma` are estimated with the smoothing parameters, searched as mgcv
//! parameterizes them, `log(nu - min_df)` and `log(sigma)`; the scale is 1.
//!
//! The unit deviance is `(nu + 1) log(1 + r^2 / (nu sigma^2))` with `r = y - mu`
//! (zero at `mu = y`), and the saturated log likelihood
//! `lgamma((nu + 1) / 2) - lgamma(nu / 2) - log(sigma sqrt(pi nu))` per unit weight
//! (mgcv's `scat()$dev.resids` and `$ls`). With `A = nu sigma^2 + r^2` its
//! derivatives in `mu` are rational: `d' = -2 (nu + 1) r / A` and so on. Its expected
//! second derivative is the constant `2 (nu + 1) / (sigma^2 (nu + 3))`, whose inverse
//! half is the "variance" the Fisher steps and the covariance matrix use (as mgcv's
//! `EDmu2`).

use super::exponential::{observed, ExponentialFamily};
use super::special::lgamma;
use super::ParameterSearch;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ScaledT {
    pub nu: f64,
    pub sigma: f64,
    /// The least degrees of freedom the search allows (mgcv's `min.df`).
    pub min_df: f64,
}

impl ScaledT {
    fn factor(&self) -> f64 {
        self.nu + 1.0
    }

    fn s2(&self) -> f64 {
        self.nu * self.sigma * self.sigma
    }
}

impl ExponentialFamily for ScaledT {
    const NAME: &'static str = "scat";
    const PARAMETERS: &'static [&'static str] = &["nu", "sigma", "min_df"];
    const EXAMPLE: Self = ScaledT { nu: 4.5, sigma: 0.7, min_df: 3.0 };

    /// `nu > min_df >= 0`, `sigma > 0`, all finite.
    fn new(parameters: &[f64]) -> Option<Self> {
        let &[nu, sigma, min_df] = parameters else { return None };
        let ok = min_df >= 0.0 && nu > min_df && sigma > 0.0 && [nu, sigma, min_df].iter().all(|v| v.is_finite());
        ok.then_some(ScaledT { nu, sigma, min_df })
    }

    fn parameters(&self) -> Vec<f64> {
        vec![self.nu, self.sigma, self.min_df]
    }

    fn known_scale(&self) -> bool {
        true
    }

    fn variance(&self, _mu: f64) -> [f64; 4] {
        [self.sigma * self.sigma * (self.nu + 3.0) / (self.nu + 1.0), 0.0, 0.0, 0.0]
    }

    fn deviance(&self, y: f64, mu: f64) -> [f64; 3] {
        let [d1, d2, ..] = self.deviance_mu_derivatives(y, mu);
        [self.unit_deviance(y, mu), d1, d2]
    }

    fn unit_deviance(&self, y: f64, mu: f64) -> f64 {
        let r = y - mu;
        self.factor() * (r * r / self.s2()).ln_1p()
    }

    /// `-d/dr` of `2 (nu + 1) q(r)`, `q = r / A`, and its derivatives in turn.
    fn deviance_mu_derivatives(&self, y: f64, mu: f64) -> [f64; 4] {
        let (r, s2, k) = (y - mu, self.s2(), 2.0 * self.factor());
        let a = s2 + r * r;
        let r2 = r * r;
        [
            -k * r / a,
            k * (s2 - r2) / (a * a),
            -2.0 * k * r * (r2 - 3.0 * s2) / a.powi(3),
            -6.0 * k * (r2 * r2 - 6.0 * s2 * r2 + s2 * s2) / a.powi(4),
        ]
    }

    fn valid_mean(&self, mu: f64) -> bool {
        mu.is_finite()
    }

    /// mgcv's: `y`, or 0.1 where `y` is 0 (for the log and inverse links).
    fn start_mean(&self, y: f64, _w: f64, _quasi: bool) -> f64 {
        if y == 0.0 {
            0.1
        } else {
            y
        }
    }

    fn support_problem(&self, _y: f64, _quasi: bool) -> Option<&'static str> {
        None
    }

    fn saturated_loglik(&self, y: &[f64], w: &[f64], _phi: f64) -> [f64; 3] {
        let term = lgamma((self.nu + 1.0) / 2.0)
            - lgamma(self.nu / 2.0)
            - (self.sigma * (std::f64::consts::PI * self.nu).sqrt()).ln();
        [observed(y, w).map(|(_, &w)| w * term).sum(), 0.0, 0.0]
    }

    /// `log(nu - min_df)` from -7 (nu at min_df) to 10 (about 2e4: normal errors to
    /// working precision); `log(sigma)` within e^12 of its start.
    fn parameter_searches(&self) -> Vec<ParameterSearch> {
        let c_nu = (self.nu - self.min_df).ln();
        let c_sigma = self.sigma.ln();
        vec![
            ParameterSearch { start: c_nu.clamp(-7.0, 10.0), lo: -7.0, hi: 10.0, step: 1.0 },
            ParameterSearch { start: c_sigma, lo: c_sigma - 12.0, hi: c_sigma + 12.0, step: 1.0 },
        ]
    }

    fn at_coordinates(&self, c: &[f64]) -> Self {
        ScaledT { nu: self.min_df + c[0].exp(), sigma: c[1].exp(), min_df: self.min_df }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// mgcv's `scat()` at nu = 4.5, sigma = 0.7: `dev.resids(1.3, 0.2, 1)` and
    /// `ls(y, 1, theta)$ls` for one observation (R 4.2.2, mgcv 1.8-41).
    #[test]
    fn deviance_and_saturated_loglik_match_mgcv() {
        let t = ScaledT::EXAMPLE;
        let d = t.unit_deviance(1.3, 0.2);
        assert!((d - DEV).abs() < 1e-12, "{d}");
        let ls = t.saturated_loglik(&[1.3], &[1.0], 1.0)[0];
        assert!((ls - LS).abs() < 1e-12, "{ls}");
    }
    const DEV: f64 = 2.405_974_912_681_692_9;
    const LS: f64 = -0.617_385_745_351_563_9;
}
