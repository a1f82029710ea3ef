//! The zero-inflated Poisson (mgcv's `ziP()`; the R layer names it "ziP"): a count
//! is zero with probability `1 - p` and otherwise a zero-truncated Poisson with
//! log mean `gamma` (the linear predictor), where the presence probability is
//! `p = 1 - exp(-e^eta)` with `eta = theta1 + (b + e^theta2) gamma`, so that zeros
//! become likelier where the mean is lower (Wood, Pya & Säfken 2016, JASA §3, §5;
//! mgcv's `?ziP`). `theta1` and `theta2` are estimated with the smoothing
//! parameters (`b`, mgcv's floor on the slope, is given); the scale is 1.
//!
//! The log likelihood of one count is `-e^eta` for `y = 0`, and for `y > 0`
//! `log(1 - e^(-e^eta)) + y gamma - e^gamma - log(1 - e^(-e^gamma)) - log y!`; as
//! mgcv's, the deviance is `-2` times it (its `ls` is 0), and the R layer reports the
//! deviance against the saturated model. Its derivatives in `gamma` come from Taylor
//! arithmetic (`jet.rs`). The expected information, which penalized IRLS's Fisher
//! steps and the covariance matrix use (as mgcv's `EDmu2`), is
//! `-E[l''] = p (lambda + B''(gamma)) + c^2 ((1 - p) e^eta - p A''(eta))`, with
//! `A(x) = B(x) = log(1 - e^(-e^x))` and `c = b + e^theta2`.

use super::exponential::ExponentialFamily;
use super::jet::Jet;
use super::special::lgamma;
use super::ParameterSearch;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ZeroInflatedPoisson {
    pub theta1: f64,
    pub theta2: f64,
    /// The least slope of `eta` in `gamma` (mgcv's `b`).
    pub b: f64,
}

/// `log(1 - e^(-e^x))`, the log probability that a Poisson count with log mean `x`
/// is not zero.
fn log_nonzero(x: Jet) -> Jet {
    x.exp().one_minus_exp_neg().ln()
}

impl ZeroInflatedPoisson {
    fn slope(&self) -> f64 {
        self.b + self.theta2.exp()
    }

    /// The log likelihood of count `y` as a function of `gamma`.
    fn loglik(&self, y: f64, gamma: Jet) -> Jet {
        let l = self.loglik_but_constant(y, gamma);
        if y == 0.0 {
            return l;
        }
        l - Jet::constant(lgamma(y + 1.0))
    }

    /// `loglik` without its term in `y` alone, `-log y!`: its derivatives, for which
    /// that `lgamma` a row (every pass) was wasted.
    fn loglik_but_constant(&self, y: f64, gamma: Jet) -> Jet {
        let eta = Jet::constant(self.theta1) + gamma * self.slope();
        if y == 0.0 {
            return -eta.exp();
        }
        log_nonzero(eta) + gamma * y - gamma.exp() - log_nonzero(gamma)
    }
}

impl ExponentialFamily for ZeroInflatedPoisson {
    const NAME: &'static str = "ziP";
    const PARAMETERS: &'static [&'static str] = &["zip_theta", "zip_b"];
    const EXAMPLE: Self = ZeroInflatedPoisson { theta1: -0.4, theta2: -1.1, b: 0.0 };
    const ZERO_AT_Y: bool = false;

    /// `theta1`, `theta2` finite and `b >= 0`.
    fn new(parameters: &[f64]) -> Option<Self> {
        let &[theta1, theta2, b] = parameters else { return None };
        let ok = theta1.is_finite() && theta2.is_finite() && b.is_finite() && b >= 0.0;
        ok.then_some(ZeroInflatedPoisson { theta1, theta2, b })
    }

    fn parameters(&self) -> Vec<f64> {
        vec![self.theta1, self.theta2, self.b]
    }

    fn known_scale(&self) -> bool {
        true
    }

    /// `1 / -E[l'']`; its derivatives are not formed (`variance_derivatives`): GCV,
    /// their one user, is refused.
    fn variance(&self, mu: f64) -> [f64; 4] {
        let c = self.slope();
        let eta = self.theta1 + c * mu;
        let p = -(-eta.exp()).exp_m1();
        let presence_curvature = mu.exp() + log_nonzero(Jet::var(mu)).0[2];
        let zero_curvature = (1.0 - p) * eta.exp() - p * log_nonzero(Jet::var(eta)).0[2];
        [1.0 / (p * presence_curvature + c * c * zero_curvature), 0.0, 0.0, 0.0]
    }

    fn variance_derivatives(&self) -> bool {
        false
    }

    fn deviance(&self, y: f64, mu: f64) -> [f64; 3] {
        let l = self.loglik(y, Jet::var(mu)).0;
        [-2.0 * l[0], -2.0 * l[1], -2.0 * l[2]]
    }

    fn unit_deviance(&self, y: f64, mu: f64) -> f64 {
        -2.0 * self.loglik(y, Jet::var(mu)).value()
    }

    fn deviance_mu_derivatives(&self, y: f64, mu: f64) -> [f64; 4] {
        let l = self.loglik_but_constant(y, Jet::var(mu)).0;
        [-2.0 * l[1], -2.0 * l[2], -2.0 * l[3], -2.0 * l[4]]
    }

    fn valid_mean(&self, mu: f64) -> bool {
        mu.is_finite()
    }

    /// mgcv's: `log(y)`, with `log(1/5)` for a zero.
    fn start_mean(&self, y: f64, _w: f64, _quasi: bool) -> f64 {
        (y + if y == 0.0 { 0.2 } else { 0.0 }).ln()
    }

    fn support_problem(&self, y: f64, _quasi: bool) -> Option<&'static str> {
        (!(y >= 0.0 && y == y.round())).then_some("must be a non-negative count")
    }

    /// mgcv's `ziP()$ls`: 0, the deviance being `-2 log f`.
    fn saturated_loglik(&self, _y: &[f64], _w: &[f64], _phi: f64) -> [f64; 3] {
        [0.0; 3]
    }

    /// `theta1` and `theta2` as they are, within 20 of 0.
    fn parameter_searches(&self) -> Vec<ParameterSearch> {
        [self.theta1, self.theta2]
            .iter()
            .map(|&t| ParameterSearch { start: t.clamp(-20.0, 20.0), lo: -20.0, hi: 20.0, step: 1.0 })
            .collect()
    }

    fn at_coordinates(&self, c: &[f64]) -> Self {
        ZeroInflatedPoisson { theta1: c[0], theta2: c[1], ..*self }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// mgcv's `ziP(theta = c(-0.4, -1.1))$dev.resids(y, mu, 1)` (R 4.2.2, mgcv 1.8-41).
    #[test]
    fn deviance_matches_mgcv() {
        let z = ZeroInflatedPoisson::EXAMPLE;
        for (y, mu, r) in REFERENCE {
            let d = z.unit_deviance(y, mu);
            assert!((d - r).abs() < 1e-10 * (1.0 + r.abs()), "y = {y}, mu = {mu}: {d} vs {r}");
        }
    }
    const REFERENCE: [(f64, f64, f64); 4] = [
        (0.0, 0.3, 1.481_430_989_837_869_2),
        (3.0, 1.2, 3.868_112_521_898_377_8),
        (1.0, -2.0, 2.602_939_132_796_323_4),
        (12.0, 2.5, 4.821_641_435_068_066_5),
    ];

    /// The expected information against its definition, summed over the counts.
    #[test]
    fn expected_information_is_the_mean_observed_information() {
        let z = ZeroInflatedPoisson::EXAMPLE;
        for gamma in [-1.5_f64, 0.4, 2.2] {
            let lambda = gamma.exp();
            let eta = z.theta1 + z.slope() * gamma;
            let p = 1.0 - (-eta.exp()).exp();
            // P(0) = 1 - p; P(y) = p Pois(y; lambda) / (1 - e^-lambda).
            let mut expected = (1.0 - p) * z.deviance_mu_derivatives(0.0, gamma)[1] / 2.0;
            let mut log_pois = -lambda;
            for y in 1..200 {
                let yf = y as f64;
                log_pois += lambda.ln() - yf.ln();
                let prob = p * log_pois.exp() / (1.0 - (-lambda).exp());
                expected += prob * z.deviance_mu_derivatives(yf, gamma)[1] / 2.0;
            }
            let v = z.variance(gamma)[0];
            assert!((1.0 / v - expected).abs() < 1e-9 * expected, "gamma = {gamma}: {} vs {expected}", 1.0 / v);
        }
    }
}
