//! Families of response distributions: link functions (`link`), the exponential
//! and extended families (`distribution`, the registry, and one file per
//! distribution; `jet` differentiates a composed log likelihood), and
//! `Family`, which joins a distribution and a link into what penalized IRLS and the
//! Laplace-approximate REML use: the deviance of one observation and its first four
//! derivatives in the linear predictor, the saturated log likelihood in the scale,
//! and the response's support. A new distribution is one file here and one line in
//! `distribution.rs`; the recipe is in `tools/notes/adding-a-class-or-family.md`.

pub mod beta;
pub mod binomial;
pub mod censored_normal;
pub mod distribution;
pub mod exponential;
pub mod gamma;
pub mod gammals;
pub mod gaulss;
pub mod gaussian;
pub mod general;
pub mod gevlss;
pub mod gumbls;
pub mod inverse_gaussian;
pub mod jet;
pub mod link;
pub mod mjet;
pub mod negative_binomial;
pub mod normal;
pub mod ordered;
pub mod poisson;
pub mod scaled_t;
pub mod shash;
pub mod special;
pub mod tweedie;
pub mod twlss;
pub mod zero_inflated;
pub mod ziplss;

use distribution::Distribution;
use exponential::normal_like_loglik;
use link::Link;

/// A family as R's family objects describe it: a distribution (or, for the quasi
/// families, the distribution whose variance function and deviance it borrows) and a
/// link.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Family {
    pub distribution: Distribution,
    pub link: Link,
    /// A quasi family: the scale is estimated and there is no full likelihood.
    pub quasi: bool,
    /// A scale the caller fixed (mgcv's `scale > 0`), in place of the family's own
    /// (1, or estimated).
    pub given_scale: Option<f64>,
}

/// Where an estimated family parameter is searched (`Family::parameter_searches`).
#[derive(Debug, Clone, Copy)]
pub struct ParameterSearch {
    pub start: f64,
    pub lo: f64,
    pub hi: f64,
    /// The first step of the bracketing search.
    pub step: f64,
}

/// One observation's weighted deviance `w d(y, mu(eta))` and its first four
/// derivatives in `eta`.
#[derive(Debug, Clone, Copy)]
pub struct EtaTerms {
    pub mu: f64,
    pub d: [f64; 4],
}

impl Family {
    /// From the R layer's names: `family` is the family object's `family` field (or
    /// the layer's id for the families it builds, "negbin", "tweedie", "betar");
    /// `variance` is `quasi()`'s variance name (ignored otherwise); `parameters` the
    /// values of the family's parameters, given exactly for a family that has them
    /// (`Family::parameter_fields`). `None` for a family, link or parameter value the
    /// engine does not fit.
    pub fn from_r(family: &str, link: &str, variance: &str, parameters: &[f64]) -> Option<Family> {
        let link = Link::parse(link)?;
        let (distribution, quasi) = Distribution::from_r(family, variance, parameters)?;
        Some(Family { distribution, link, quasi, given_scale: None })
    }

    /// The engine spec's fields holding the parameters of the family the R layer
    /// names `family` (`["theta"]` for "negbin"), in order.
    pub fn parameter_fields(family: &str) -> &'static [&'static str] {
        Distribution::parameter_fields(family)
    }

    /// How each of the family's own parameters is searched when they are estimated
    /// (the negative binomial's `log(theta)`, the Tweedie power); empty without.
    pub fn parameter_searches(&self) -> Vec<ParameterSearch> {
        self.distribution.parameter_searches()
    }

    /// The same family at the searched coordinates `c` of its parameters.
    pub fn at_coordinates(&self, c: &[f64]) -> Family {
        Family { distribution: self.distribution.at_coordinates(c), ..*self }
    }

    /// The Gaussian identity model with its scale estimated, fitted by one penalized
    /// least-squares solve with the scale profiled out.
    pub fn is_gaussian_identity(&self) -> bool {
        matches!(self.distribution, Distribution::Gaussian(_))
            && self.link == Link::Identity
            && !self.quasi
            && self.given_scale.is_none()
    }

    pub fn scale_known(&self) -> bool {
        self.given_scale.is_some() || (!self.quasi && self.distribution.known_scale())
    }

    /// The scale where it is known: the given one, else the family's 1.
    pub fn known_scale_value(&self) -> f64 {
        self.given_scale.unwrap_or(1.0)
    }

    /// Whether `eta` is the natural parameter (the link makes `mu' = V`): then the
    /// derivatives of the deviance in `eta` are those of the mean, and the observed
    /// and expected information agree.
    fn canonical(&self) -> bool {
        self.distribution.natural_link() == Some(self.link)
    }

    /// Whether the observed and expected information agree (the link is canonical for
    /// the variance function): then GCV/UBRE's trace, which mgcv takes with the
    /// expected information, is the one the inner fit's Hessian gives.
    pub fn information_is_expected(&self) -> bool {
        self.canonical()
            || self.distribution.canonical_link() == Some(self.link)
            // A family whose expected information in `mu` is its observed one agrees
            // in `eta` only without the link's curvature term `D' mu''`.
            || (self.distribution.expected_is_observed() && self.link == Link::Identity)
    }

    /// Whether `eta` is in the link's domain (R's `valideta`).
    pub fn valid_eta(&self, eta: f64) -> bool {
        eta.is_finite()
            && match self.link {
                Link::Inverse => eta != 0.0,
                Link::InverseSquare | Link::Sqrt | Link::Power(_) => eta > 0.0,
                _ => true,
            }
    }

    /// The mean at `eta`, kept inside the family's means (binomial means inside (0, 1)).
    pub fn mean(&self, eta: f64) -> f64 {
        self.distribution.clamp_mean(self.link.inverse(eta))
    }

    /// The derivatives in `eta` of `w d(y, mu(eta))`; `None` outside the family's
    /// means or the link's domain. Not the deviance itself: no pass needs it beside
    /// them, and it costs the beta and count families' `lgamma`s. `censor` is the
    /// row's second response column where the family reads one (the censored
    /// normal's), else `y`.
    pub fn eta_terms(&self, y: f64, censor: f64, w: f64, eta: f64) -> Option<EtaTerms> {
        if !self.valid_eta(eta) {
            return None;
        }
        let mu = self.mean(eta);
        if !self.distribution.valid_mean(mu) {
            return None;
        }
        // The mean's derivatives from the (clamped) mean itself where the family
        // gives them (the logistic's), else from the link.
        let m = self.distribution.mean_derivatives(self.link, mu).unwrap_or_else(|| self.link.mu_derivatives(eta));
        let d = if self.canonical() {
            // The mean's derivatives are the variance's: D' = -2w(y - mu) and
            // D^(k) = 2w mu^(k-1) for k >= 2, exact even where mu is near 0 or 1.
            [-2.0 * w * (y - mu), 2.0 * w * m[0], 2.0 * w * m[1], 2.0 * w * m[2]]
        } else {
            let [d1, d2, d3, d4] = self.distribution.censored_deviance_mu_derivatives(y, censor, w, mu);
            let [m1, m2, m3, m4] = m;
            // The chain rule (Faà di Bruno) from mu to eta.
            [
                d1 * m1,
                d2 * m1 * m1 + d1 * m2,
                d3 * m1.powi(3) + 3.0 * d2 * m1 * m2 + d1 * m3,
                d4 * m1.powi(4) + 6.0 * d3 * m1 * m1 * m2 + d2 * (3.0 * m2 * m2 + 4.0 * m1 * m3) + d1 * m4,
            ]
        };
        Some(EtaTerms { mu, d })
    }

    /// The expected (Fisher) information weight `w mu'(eta)^2 / V(mu)` and the matching
    /// working-response term `w mu'(eta) (y - mu) / V(mu)`: the IRLS step of Fisher
    /// scoring, used where the observed information is not positive definite.
    ///
    /// For a family whose expected information in `mu` is its observed one (mgcv's
    /// `EDmu2` is `Dmu2`), the weight is `D''(mu) mu'^2 / 2` and the term `-D'(mu)
    /// mu' / 2`, as mgcv's `EDeta2`.
    pub fn fisher_terms(&self, y: f64, censor: f64, w: f64, eta: f64) -> (f64, f64) {
        let mu = self.mean(eta);
        let m1 = match self.distribution.mean_derivatives(self.link, mu) {
            Some(m) => m[0],
            None => self.link.mu_derivatives(eta)[0],
        };
        if self.distribution.expected_is_observed() {
            let [d1, d2, ..] = self.distribution.censored_deviance_mu_derivatives(y, censor, w, mu);
            return (d2 * m1 * m1 / 2.0, -d1 * m1 / 2.0);
        }
        let v = self.distribution.variance(mu)[0];
        (w * m1 * m1 / v, w * m1 * (y - mu) / v)
    }

    /// The first two derivatives in `eta` of the expected-information weight
    /// `W_F = w mu'^2 / V(mu)` (by the quotient rule, with `mu^(k)` the mean's
    /// derivatives in `eta`).
    pub fn fisher_weight_derivatives(&self, w: f64, eta: f64) -> [f64; 2] {
        let mu = self.mean(eta);
        let [v, v1, v2, _] = self.distribution.variance(mu);
        let [m1, m2, m3, _] = self.link.mu_derivatives(eta);
        let d1 = 2.0 * m1 * m2 / v - m1.powi(3) * v1 / (v * v);
        let d2 = 2.0 * (m2 * m2 + m1 * m3) / v - 5.0 * m1 * m1 * m2 * v1 / (v * v) - m1.powi(4) * v2 / (v * v)
            + 2.0 * m1.powi(4) * v1 * v1 / v.powi(3);
        [w * d1, w * d2]
    }

    /// The starting mean for observation `y` with weight `w` (R's `initialize`).
    pub fn start_mean(&self, y: f64, w: f64) -> f64 {
        self.distribution.start_mean(y, w, self.quasi)
    }

    /// Why `y` (with weight `w > 0`) is outside the family's support, if it is.
    pub fn support_problem(&self, y: f64) -> Option<&'static str> {
        self.distribution.support_problem(y, self.quasi)
    }

    /// The saturated log likelihood `ls(phi)` and its first two derivatives in `phi`
    /// (mgcv's `family$ls`; for the quasi families the normal's, with `log phi` as
    /// the normalizing term). Zero-weight observations do not count. `censor` as in
    /// `eta_terms` (`None`: every row exact).
    pub fn saturated_loglik(&self, y: &[f64], censor: Option<&[f64]>, w: &[f64], phi: f64) -> [f64; 3] {
        if self.quasi {
            return normal_like_loglik(y, w, phi, phi.ln());
        }
        self.distribution.censored_saturated_loglik(y, censor, w, phi)
    }
}

/// A central difference of `f` at `x` with relative step `step`, for the tests'
/// finite-difference checks of the derivatives.
#[cfg(test)]
fn central(f: impl Fn(f64) -> f64, x: f64, step: f64) -> f64 {
    let h = step * x.abs().max(1e-3);
    (f(x + h) - f(x - h)) / (2.0 * h)
}

#[cfg(test)]
mod tests {
    use super::*;

    const FAMILIES: [(&str, &str, &str); 14] = [
        ("gaussian", "log", ""),
        ("gaussian", "inverse", ""),
        ("binomial", "logit", ""),
        ("binomial", "probit", ""),
        ("binomial", "cloglog", ""),
        ("binomial", "cauchit", ""),
        ("poisson", "log", ""),
        ("poisson", "sqrt", ""),
        ("Gamma", "inverse", ""),
        ("Gamma", "log", ""),
        ("inverse.gaussian", "1/mu^2", ""),
        ("inverse.gaussian", "log", ""),
        ("quasi", "log", "mu^2"),
        ("quasipoisson", "identity", ""),
    ];

    #[test]
    fn eta_derivatives_match_finite_differences() {
        for (name, link, variance) in FAMILIES {
            let family = Family::from_r(name, link, variance, &[]).unwrap();
            for (y, mu) in [(0.3, 0.45), (0.8, 0.6), (0.35, 0.2)] {
                let eta = family.link.link(mu);
                let w = 1.7;
                let t = family.eta_terms(y, y, w, eta).unwrap();
                let at = |e: f64| family.eta_terms(y, y, w, e).unwrap();
                let numeric = [
                    central(|e| family.distribution.censored_deviance(y, y, w, family.mean(e)), eta, 1e-5),
                    central(|e| at(e).d[0], eta, 1e-5),
                    central(|e| at(e).d[1], eta, 1e-5),
                    central(|e| at(e).d[2], eta, 1e-5),
                ];
                for k in 0..4 {
                    let err = (t.d[k] - numeric[k]).abs() / (1.0 + t.d[k].abs());
                    assert!(
                        err < 1e-6,
                        "{name}({link}) D^({}) at y = {y}, mu = {mu}: {} vs {}",
                        k + 1,
                        t.d[k],
                        numeric[k]
                    );
                }
                // Fisher weight = expected second derivative / 2 (y replaced by mu).
                let (wf, _) = family.fisher_terms(y, y, w, eta);
                let expected = family.eta_terms(mu, mu, w, eta).unwrap().d[1] / 2.0;
                assert!((wf - expected).abs() < 1e-10 * (1.0 + wf), "{name}({link}) Fisher weight");
                // Its derivatives in eta.
                let [f1, f2] = family.fisher_weight_derivatives(w, eta);
                let n1 = central(|e| family.fisher_terms(y, y, w, e).0, eta, 1e-5);
                let n2 = central(|e| family.fisher_weight_derivatives(w, e)[0], eta, 1e-5);
                assert!((f1 - n1).abs() < 1e-6 * (1.0 + f1.abs()), "{name}({link}) dW_F: {f1} vs {n1}");
                assert!((f2 - n2).abs() < 1e-6 * (1.0 + f2.abs()), "{name}({link}) d2W_F: {f2} vs {n2}");
            }
        }
    }

    #[test]
    fn gamma_saturated_loglik_derivatives_match_finite_differences() {
        let family = Family::from_r("Gamma", "log", "", &[]).unwrap();
        let y = [0.4, 1.3, 2.2, 0.9];
        let w = [1.0, 2.0, 0.5, 1.0];
        let phi = 0.37;
        let [_, d1, d2] = family.saturated_loglik(&y, None, &w, phi);
        let n1 = central(|p| family.saturated_loglik(&y, None, &w, p)[0], phi, 1e-5);
        let n2 = central(|p| family.saturated_loglik(&y, None, &w, p)[1], phi, 1e-5);
        assert!((d1 - n1).abs() < 1e-6 * (1.0 + d1.abs()), "{d1} vs {n1}");
        assert!((d2 - n2).abs() < 1e-6 * (1.0 + d2.abs()), "{d2} vs {n2}");
    }

    #[test]
    fn saturated_loglik_matches_r() {
        // sum(dpois(y, y, log = TRUE)) and -binomial()$aic(...)/2 computed in R.
        let pois = Family::from_r("poisson", "log", "", &[]).unwrap();
        let v = pois.saturated_loglik(&[0.0, 1.0, 4.0], None, &[1.0; 3], 1.0)[0];
        assert!((v - (-1.0 + (4.0 * 4f64.ln() - 4.0 - 24f64.ln()))).abs() < 1e-12);
        let binom = Family::from_r("binomial", "logit", "", &[]).unwrap();
        let v = binom.saturated_loglik(&[0.25, 1.0], None, &[4.0, 3.0], 1.0)[0];
        // dbinom(1, 4, 0.25, log = TRUE) + 0
        assert!((v - (-0.863_046_217_355_342_8)).abs() < 1e-12, "{v}");
    }
}
