//! Beta regression (mgcv's `betar()`; the R layer names it "betar"): `y` in (0, 1)
//! with density `y^(mu phi - 1) (1 - y)^((1 - mu) phi - 1) / B(mu phi, (1 - mu) phi)`,
//! mean `mu` and precision `phi`, so `Var(y) = mu (1 - mu) / (1 + phi)` (Ferrari &
//! Cribari-Neto 2004). An extended family in Wood, Pya & Säfken (2016, JASA §3): its
//! parameter `phi` is estimated with the smoothing parameters (searched on
//! `log(phi)`), and the scale is 1.
//!
//! As in mgcv, the deviance the fit minimizes is `-2 log f` itself (its saturated
//! log likelihood `ls` is 0), so it is not zero at `mu = y`; the R layer reports the
//! deviance against the saturated model, as mgcv's `postproc`. Its derivatives in
//! `mu` are polygamma functions of `a = mu phi` and `b = (1 - mu) phi`, and its
//! expected second derivative equals the observed one (it does not involve `y`): the
//! "variance" here is `2 / E[d'']`, the Fisher information's inverse, which is what
//! penalized IRLS's Fisher steps and mgcv's covariance matrix use.

use super::binomial::{logistic_mean_derivatives, PROBABILITY_EPS};
use super::exponential::ExponentialFamily;
use super::link::Link;
use super::special::{digamma, lgamma, polygammas, trigamma};
use super::ParameterSearch;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Beta {
    pub phi: f64,
}

impl Beta {
    /// `a = mu phi` and `b = (1 - mu) phi`.
    fn shapes(&self, mu: f64) -> (f64, f64) {
        (mu * self.phi, (1.0 - mu) * self.phi)
    }

    /// The derivatives in `mu` of `lgamma(mu phi) + lgamma((1 - mu) phi)`, orders 1
    /// to 5: `phi^(n+1) (psi^(n)(a) + (-1)^(n+1) psi^(n)(b))`.
    fn log_beta_derivatives(&self, mu: f64) -> [f64; 5] {
        let (a, b) = self.shapes(mu);
        let (pa, pb) = (polygammas(a), polygammas(b));
        let mut out = [0.0; 5];
        let mut scale = self.phi;
        for n in 0..5 {
            let sign = if n % 2 == 0 { -1.0 } else { 1.0 };
            out[n] = scale * (pa[n] + sign * pb[n]);
            scale *= self.phi;
        }
        out
    }
}

/// The saturated model's log density of `y` in (0, 1) at precision `phi`: the
/// largest `log f(y; mu, phi)` over the mean. It is strictly concave in `mu` (its
/// second derivative is `-phi^2 (trigamma(mu phi) + trigamma((1 - mu) phi))`), so
/// Newton's method kept inside a shrinking bracket finds the one maximum; a row is
/// done once the step left would gain under 1e-20 in the log density (`g^2 / 2c`).
/// For the deviance residuals mgcv reports (against the saturated model).
pub fn saturated_log_density(y: f64, phi: f64) -> f64 {
    let logit_y = (y / (1.0 - y)).ln();
    let (mut lo, mut hi, mut mu) = (0.0_f64, 1.0_f64, y);
    for _ in 0..200 {
        let (a, b) = (mu * phi, (1.0 - mu) * phi);
        let g = phi * (logit_y - digamma(a) + digamma(b));
        let c = phi * phi * (trigamma(a) + trigamma(b));
        if g > 0.0 {
            lo = mu;
        } else {
            hi = mu;
        }
        if g * g / c < 1e-20 || hi - lo <= 4.0 * f64::EPSILON {
            break;
        }
        let step = mu + g / c;
        mu = if step > lo && step < hi { step } else { (lo + hi) / 2.0 };
    }
    let (a, b) = (mu * phi, (1.0 - mu) * phi);
    lgamma(phi) - lgamma(a) - lgamma(b) + (a - 1.0) * y.ln() + (b - 1.0) * (1.0 - y).ln()
}

impl ExponentialFamily for Beta {
    const NAME: &'static str = "betar";
    const PARAMETERS: &'static [&'static str] = &["phi"];
    const EXAMPLE: Self = Beta { phi: 3.7 };
    const ZERO_AT_Y: bool = false;

    /// `phi` positive and finite.
    fn new(parameters: &[f64]) -> Option<Self> {
        let &[phi] = parameters else { return None };
        (phi > 0.0 && phi.is_finite()).then_some(Beta { phi })
    }

    fn parameters(&self) -> Vec<f64> {
        vec![self.phi]
    }

    fn known_scale(&self) -> bool {
        true
    }

    /// `1 / g` with `g = E[d''] / 2 = phi^2 (psi'(a) + psi'(b))`, and its derivatives
    /// by the quotient rule from those of `g`.
    fn variance(&self, mu: f64) -> [f64; 4] {
        let [_, g, g1, g2, g3] = self.log_beta_derivatives(mu);
        [
            1.0 / g,
            -g1 / (g * g),
            -g2 / (g * g) + 2.0 * g1 * g1 / g.powi(3),
            -g3 / (g * g) + 6.0 * g1 * g2 / g.powi(3) - 6.0 * g1.powi(3) / g.powi(4),
        ]
    }

    /// mgcv's `betar()$dev.resids`: `-2 log f(y; mu, phi)`.
    fn deviance(&self, y: f64, mu: f64) -> [f64; 3] {
        let [d1, d2, ..] = self.deviance_mu_derivatives(y, mu);
        [self.unit_deviance(y, mu), d1, d2]
    }

    fn unit_deviance(&self, y: f64, mu: f64) -> f64 {
        let (a, b) = self.shapes(mu);
        let log_y = y.ln();
        let log_1my = (-y).ln_1p();
        2.0 * (-lgamma(self.phi) + lgamma(a) + lgamma(b) - a * (log_y - log_1my) - self.phi * log_1my + log_y + log_1my)
    }

    fn deviance_mu_derivatives(&self, y: f64, mu: f64) -> [f64; 4] {
        let logit_y = y.ln() - (-y).ln_1p();
        let [l1, l2, l3, l4, _] = self.log_beta_derivatives(mu);
        [2.0 * (l1 - self.phi * logit_y), 2.0 * l2, 2.0 * l3, 2.0 * l4]
    }

    fn valid_mean(&self, mu: f64) -> bool {
        mu > 0.0 && mu < 1.0
    }

    /// As the binomial's: mgcv's links for `betar()` are the binomial's.
    fn clamp_mean(&self, mu: f64) -> f64 {
        mu.clamp(PROBABILITY_EPS, 1.0 - PROBABILITY_EPS)
    }

    fn mean_derivatives(&self, link: Link, mu: f64) -> Option<[f64; 4]> {
        (link == Link::Logit).then(|| logistic_mean_derivatives(mu))
    }

    /// mgcv's: `y` itself (the R layer has moved 0 and 1 just inside the interval).
    fn start_mean(&self, y: f64, _w: f64, _quasi: bool) -> f64 {
        y
    }

    fn support_problem(&self, y: f64, _quasi: bool) -> Option<&'static str> {
        (!(y > 0.0 && y < 1.0)).then_some("must lie in (0, 1)")
    }

    /// mgcv's `betar()$ls`: 0, the deviance being `-2 log f`.
    fn saturated_loglik(&self, _y: &[f64], _w: &[f64], _phi: f64) -> [f64; 3] {
        [0.0; 3]
    }

    /// On the log scale, from 1e-3 (a response piled at 0 and 1) to 1e7 (a response
    /// at its mean to working precision).
    fn parameter_searches(&self) -> Vec<ParameterSearch> {
        vec![ParameterSearch { start: self.phi.ln(), lo: -6.907_755_278_982_137, hi: 16.118_095_650_958_32, step: 1.0 }]
    }

    /// `c` is `log(phi)`.
    fn at_coordinates(&self, c: &[f64]) -> Self {
        Beta { phi: c[0].exp() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// R's `optimize()` of `dbeta(y, mu phi, (1 - mu) phi, log = TRUE)` over `mu`.
    #[test]
    fn saturated_log_density_matches_r() {
        for (y, phi, r) in [
            (0.3, 4.2, 0.528_895_478_193_479_2),
            (0.97, 12.0, 2.168_200_491_780_890_4),
            (1e-10, 2.5, 18.944_230_856_624_34),
        ] {
            let v = saturated_log_density(y, phi);
            assert!((v - r).abs() < 1e-9 * (1.0 + r.abs()), "y = {y}: {v} vs {r}");
        }
    }
    use crate::family::Family;

    /// The deviance is mgcv's `betar()$dev.resids(y, mu, 1)` (R 4.2.2, mgcv 1.8-41):
    /// `-2 dbeta(y, mu phi, (1 - mu) phi, log = TRUE)`.
    #[test]
    fn deviance_is_minus_twice_the_log_density() {
        let beta = Beta { phi: 2.5 };
        // -2 * dbeta(0.3, 1, 1.5, log = TRUE) and -2 * dbeta(0.9, 2, 0.5, log = TRUE) in R.
        for (y, mu, r) in [(0.3, 0.4, -0.454_255_272_277_596_2), (0.9, 0.8, -1.516_499_916_774_831_2)] {
            let d = beta.deviance(y, mu)[0];
            assert!((d - r).abs() < 1e-12, "{d} vs {r}");
        }
    }

    /// Penalized IRLS and the REML derivatives take the deviance's derivatives in
    /// `eta` through the link (the logit's from the mean itself).
    #[test]
    fn eta_derivatives_match_finite_differences() {
        for link in ["logit", "probit", "cloglog", "cauchit"] {
            let family = Family::from_r("betar", link, "", &[4.2]).unwrap();
            for (y, mu) in [(0.3, 0.45), (0.05, 0.2), (0.97, 0.9)] {
                let eta = family.link.link(mu);
                let at = |e: f64| family.eta_terms(y, y, 1.3, e).unwrap();
                let t = at(eta);
                let dev = |e: f64| family.distribution.censored_deviance(y, y, 1.3, family.mean(e));
                let values = [dev(eta), t.d[0], t.d[1], t.d[2]];
                for k in 0..3 {
                    let h = 1e-5;
                    let next = |e: f64| [dev(e), at(e).d[0], at(e).d[1], at(e).d[2]][k];
                    let numeric = (next(eta + h) - next(eta - h)) / (2.0 * h);
                    let err = (t.d[k] - numeric).abs() / (1.0 + t.d[k].abs());
                    assert!(err < 1e-6, "{link} D^({}) at y = {y}: {} vs {numeric} ({values:?})", k + 1, t.d[k]);
                }
            }
        }
    }
}
