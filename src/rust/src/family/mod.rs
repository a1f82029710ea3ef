//! Families of response distributions: link functions (`link`), the exponential
//! families' variance functions and deviances (`distribution`), and `Family`, which
//! joins them into what penalized IRLS and the Laplace-approximate REML use: the
//! deviance of one observation and its first four derivatives in the linear
//! predictor, the saturated log likelihood in the scale, and the response's support.

pub mod distribution;
pub mod link;
pub mod normal;
pub mod special;
pub mod tweedie;

use distribution::Distribution;
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
}

/// Where an estimated family parameter is searched (`Family::parameter_search`).
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
    pub dev: f64,
    pub d: [f64; 4],
}

/// Fitted probabilities are kept this far from 0 and 1 (R's links clamp the same way),
/// so that a diverging fit stays finite.
const PROBABILITY_EPS: f64 = f64::EPSILON;

impl Family {
    /// From R's names: `family` is the family object's `family` field; `variance` is
    /// `quasi()`'s variance name (ignored otherwise).
    pub fn from_r(family: &str, link: &str, variance: &str) -> Option<Family> {
        let link = Link::parse(link)?;
        let (distribution, quasi) = match family {
            "quasibinomial" => (Distribution::Binomial, true),
            "quasipoisson" => (Distribution::Poisson, true),
            "quasi" => (
                match variance {
                    "constant" => Distribution::Gaussian,
                    "mu(1-mu)" => Distribution::Binomial,
                    "mu" => Distribution::Poisson,
                    "mu^2" => Distribution::Gamma,
                    "mu^3" => Distribution::InverseGaussian,
                    _ => return None,
                },
                true,
            ),
            name => (Distribution::parse(name)?, false),
        };
        Some(Family { distribution, link, quasi })
    }

    /// The negative binomial with shape `theta` and `link` (mgcv's `negbin(theta)`).
    pub fn negative_binomial(link: &str, theta: f64) -> Option<Family> {
        (theta > 0.0 && theta.is_finite()).then_some(())?;
        Some(Family { distribution: Distribution::NegBin { theta }, link: Link::parse(link)?, quasi: false })
    }

    /// The Tweedie family with power `p` in (1, 2) and `link` (mgcv's `Tweedie(p)`).
    pub fn tweedie(link: &str, p: f64) -> Option<Family> {
        (p > 1.0 && p < 2.0).then_some(())?;
        Some(Family { distribution: Distribution::Tweedie { p }, link: Link::parse(link)?, quasi: false })
    }

    /// How the family's own parameter is searched when it is estimated: on the log
    /// scale for the negative binomial `theta` (from 1e-3, extreme overdispersion, to
    /// about 1.6e5, a Poisson response to working precision), directly for the
    /// Tweedie power within mgcv's `tw()` default range [1.01, 1.99].
    pub fn parameter_search(&self) -> Option<ParameterSearch> {
        match self.distribution {
            Distribution::NegBin { theta } => {
                Some(ParameterSearch { start: theta.ln(), lo: -6.907_755_278_982_137, hi: 12.0, step: 1.0 })
            }
            Distribution::Tweedie { p } => {
                Some(ParameterSearch { start: p.clamp(1.01, 1.99), lo: 1.01, hi: 1.99, step: 0.1 })
            }
            _ => None,
        }
    }

    /// The same family at the searched coordinate `c` of its parameter (log theta,
    /// or the Tweedie power).
    pub fn at_coordinate(&self, c: f64) -> Family {
        let distribution = match self.distribution {
            Distribution::NegBin { .. } => Distribution::NegBin { theta: c.exp() },
            Distribution::Tweedie { .. } => Distribution::Tweedie { p: c },
            other => other,
        };
        Family { distribution, ..*self }
    }

    /// The Gaussian identity model, fitted by one penalized least-squares solve.
    pub fn is_gaussian_identity(&self) -> bool {
        self.distribution == Distribution::Gaussian && self.link == Link::Identity && !self.quasi
    }

    pub fn scale_known(&self) -> bool {
        !self.quasi && self.distribution.known_scale()
    }

    /// Canonical links, for which the observed and expected information agree and
    /// the derivatives of the deviance in `eta` are those of the mean.
    fn canonical(&self) -> bool {
        matches!(
            (self.distribution, self.link),
            (Distribution::Gaussian, Link::Identity)
                | (Distribution::Binomial, Link::Logit)
                | (Distribution::Poisson, Link::Log)
        )
    }

    /// Whether the observed and expected information agree (the link is canonical for
    /// the variance function): then GCV/UBRE's trace, which mgcv takes with the
    /// expected information, is the one the inner fit's Hessian gives.
    pub fn information_is_expected(&self) -> bool {
        self.canonical()
            || matches!(
                (self.distribution, self.link),
                (Distribution::Gamma, Link::Inverse) | (Distribution::InverseGaussian, Link::InverseSquare)
            )
    }

    /// Whether `eta` is in the link's domain (R's `valideta`).
    pub fn valid_eta(&self, eta: f64) -> bool {
        eta.is_finite()
            && match self.link {
                Link::Inverse => eta != 0.0,
                Link::InverseSquare | Link::Sqrt => eta > 0.0,
                _ => true,
            }
    }

    /// The mean at `eta`; binomial means are kept inside (0, 1).
    pub fn mean(&self, eta: f64) -> f64 {
        let mu = self.link.inverse(eta);
        if self.distribution == Distribution::Binomial {
            mu.clamp(PROBABILITY_EPS, 1.0 - PROBABILITY_EPS)
        } else {
            mu
        }
    }

    /// `w d(y, mu(eta))` and its derivatives in `eta`; `None` outside the family's
    /// means or the link's domain.
    pub fn eta_terms(&self, y: f64, w: f64, eta: f64) -> Option<EtaTerms> {
        if !self.valid_eta(eta) {
            return None;
        }
        let mu = self.mean(eta);
        if !self.distribution.valid_mean(mu) {
            return None;
        }
        let dev = w * self.distribution.deviance(y, mu)[0];
        // The logistic mean's derivatives come from the clamped mean itself.
        let m = if self.distribution == Distribution::Binomial && self.link == Link::Logit {
            logit_mean_derivatives(mu)
        } else {
            self.link.mu_derivatives(eta)
        };
        let d = if self.canonical() {
            // The mean's derivatives are the variance's: D' = -2w(y - mu) and
            // D^(k) = 2w mu^(k-1) for k >= 2, exact even where mu is near 0 or 1.
            [-2.0 * w * (y - mu), 2.0 * w * m[0], 2.0 * w * m[1], 2.0 * w * m[2]]
        } else {
            let [d1, d2, d3, d4] = self.distribution.deviance_mu_derivatives(y, mu);
            let [m1, m2, m3, m4] = m;
            // The chain rule (Faà di Bruno) from mu to eta.
            [
                w * d1 * m1,
                w * (d2 * m1 * m1 + d1 * m2),
                w * (d3 * m1.powi(3) + 3.0 * d2 * m1 * m2 + d1 * m3),
                w * (d4 * m1.powi(4) + 6.0 * d3 * m1 * m1 * m2 + d2 * (3.0 * m2 * m2 + 4.0 * m1 * m3) + d1 * m4),
            ]
        };
        Some(EtaTerms { mu, dev, d })
    }

    /// The expected (Fisher) information weight `w mu'(eta)^2 / V(mu)` and the matching
    /// working-response term `w mu'(eta) (y - mu) / V(mu)`: the IRLS step of Fisher
    /// scoring, used where the observed information is not positive definite.
    pub fn fisher_terms(&self, y: f64, w: f64, eta: f64) -> (f64, f64) {
        let mu = self.mean(eta);
        let m1 = if self.canonical() && self.distribution == Distribution::Binomial {
            mu * (1.0 - mu)
        } else {
            self.link.mu_derivatives(eta)[0]
        };
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
        match self.distribution {
            Distribution::Binomial => (w * y + 0.5) / (w + 1.0),
            Distribution::Poisson => y + 0.1,
            // mgcv's negative binomial start: y, or 1/6 where y is 0.
            Distribution::NegBin { .. } => {
                if y == 0.0 {
                    1.0 / 6.0
                } else {
                    y
                }
            }
            // mgcv's Tweedie start: y + 0.1 where y is 0.
            Distribution::Tweedie { .. } => y + 0.1 * f64::from(y == 0.0),
            Distribution::Gaussian => y,
            Distribution::Gamma | Distribution::InverseGaussian if self.quasi => y + 0.1 * f64::from(y == 0.0),
            Distribution::Gamma | Distribution::InverseGaussian => y,
        }
    }

    /// Why `y` (with weight `w > 0`) is outside the family's support, if it is.
    pub fn support_problem(&self, y: f64) -> Option<&'static str> {
        match self.distribution {
            Distribution::Binomial if !(0.0..=1.0).contains(&y) => Some("must lie in [0, 1]"),
            Distribution::Poisson | Distribution::NegBin { .. } | Distribution::Tweedie { .. } if y < 0.0 => {
                Some("must be non-negative")
            }
            Distribution::Gamma | Distribution::InverseGaussian if self.quasi && y < 0.0 => {
                Some("must be non-negative")
            }
            Distribution::Gamma | Distribution::InverseGaussian if !self.quasi && y <= 0.0 => Some("must be positive"),
            _ => None,
        }
    }

    /// The saturated log likelihood `ls(phi)` and its first two derivatives in `phi`
    /// (mgcv's `family$ls`): the part of the log likelihood the Laplace-approximate REML
    /// needs beyond the deviance (Wood 2011 §2.1). Zero-weight observations do not count.
    pub fn saturated_loglik(&self, y: &[f64], w: &[f64], phi: f64) -> [f64; 3] {
        let obs = || y.iter().zip(w).filter(|(_, w)| **w > 0.0);
        let nobs = obs().count() as f64;
        let sum_log_w: f64 = obs().map(|(_, w)| w.ln()).sum();
        // The terms in phi that Gaussian-like families share.
        let normal_like =
            |log_norm: f64| [-nobs * log_norm / 2.0 + sum_log_w / 2.0, -nobs / (2.0 * phi), nobs / (2.0 * phi * phi)];
        if self.quasi {
            return normal_like(phi.ln());
        }
        match self.distribution {
            Distribution::Gaussian => normal_like((2.0 * std::f64::consts::PI * phi).ln()),
            Distribution::InverseGaussian => {
                let [v, d1, d2] = normal_like((2.0 * std::f64::consts::PI * phi).ln());
                [v - 1.5 * obs().map(|(y, _)| y.ln()).sum::<f64>(), d1, d2]
            }
            Distribution::Poisson => {
                let value = obs().map(|(&y, &w)| w * (xlogy(y, y) - y - special::lgamma(y + 1.0))).sum();
                [value, 0.0, 0.0]
            }
            Distribution::Tweedie { p } => {
                // log f(y; mu = y, phi) (mgcv's `Tweedie(p)$ls`); zeros add nothing.
                let mut out = [0.0; 3];
                for (&y, &w) in obs().filter(|(y, _)| **y > 0.0) {
                    let d = tweedie::log_density(y, y, phi, p);
                    for k in 0..3 {
                        out[k] += w * d[k];
                    }
                }
                out
            }
            Distribution::NegBin { theta } => {
                // log f(y; mu = y, theta) (mgcv's `negbin()$ls`).
                let value = obs()
                    .map(|(&y, &w)| {
                        let term = xlogy(y + theta, y + theta) - xlogy(y, y) + special::lgamma(y + 1.0)
                            - xlogy(theta, theta)
                            + special::lgamma(theta)
                            - special::lgamma(theta + y);
                        -w * term
                    })
                    .sum();
                [value, 0.0, 0.0]
            }
            Distribution::Binomial => {
                // log dbinom(k; m, k/m) with m the trials (the weight) and k the successes.
                let value = obs()
                    .map(|(&y, &w)| {
                        let (m, k) = (w.round(), (w * y).round());
                        let choose = special::lgamma(m + 1.0) - special::lgamma(k + 1.0) - special::lgamma(m - k + 1.0);
                        choose + xlogy(k, k / m) + xlogy(m - k, 1.0 - k / m)
                    })
                    .sum();
                [value, 0.0, 0.0]
            }
            Distribution::Gamma => {
                // Each observation's shape is w / phi: with s = phi / w,
                // log f = -lgamma(1/s) - log(s)/s - 1/s - log(y) + (terms in the deviance).
                let mut out = [0.0; 3];
                for (&y, &w) in obs() {
                    let s = phi / w;
                    let (ls, r) = (s.ln(), 1.0 / s);
                    out[0] += -special::lgamma(r) - ls * r - r - y.ln();
                    out[1] += (special::digamma(r) + ls) / (s * s * w);
                    out[2] += (-special::trigamma(r) / s + (1.0 - 2.0 * ls - 2.0 * special::digamma(r)))
                        / (s.powi(3) * w * w);
                }
                out
            }
        }
    }
}

/// `x log(y)`, zero at `x = 0`.
fn xlogy(x: f64, y: f64) -> f64 {
    if x == 0.0 {
        0.0
    } else {
        x * y.ln()
    }
}

/// The logistic mean's derivatives from the (clamped) mean itself, accurate in both
/// tails.
fn logit_mean_derivatives(mu: f64) -> [f64; 4] {
    let m1 = mu * (1.0 - mu);
    let m2 = m1 * (1.0 - 2.0 * mu);
    let m3 = m2 * (1.0 - 2.0 * mu) - 2.0 * m1 * m1;
    let m4 = m3 * (1.0 - 2.0 * mu) - 6.0 * m1 * m2;
    [m1, m2, m3, m4]
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
            let family = Family::from_r(name, link, variance).unwrap();
            for (y, mu) in [(0.3, 0.45), (0.8, 0.6), (0.35, 0.2)] {
                let eta = family.link.link(mu);
                let w = 1.7;
                let t = family.eta_terms(y, w, eta).unwrap();
                let at = |e: f64| family.eta_terms(y, w, e).unwrap();
                let numeric = [
                    central(|e| at(e).dev, eta, 1e-5),
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
                let (wf, _) = family.fisher_terms(y, w, eta);
                let expected = family.eta_terms(mu, w, eta).unwrap().d[1] / 2.0;
                assert!((wf - expected).abs() < 1e-10 * (1.0 + wf), "{name}({link}) Fisher weight");
                // Its derivatives in eta.
                let [f1, f2] = family.fisher_weight_derivatives(w, eta);
                let n1 = central(|e| family.fisher_terms(y, w, e).0, eta, 1e-5);
                let n2 = central(|e| family.fisher_weight_derivatives(w, e)[0], eta, 1e-5);
                assert!((f1 - n1).abs() < 1e-6 * (1.0 + f1.abs()), "{name}({link}) dW_F: {f1} vs {n1}");
                assert!((f2 - n2).abs() < 1e-6 * (1.0 + f2.abs()), "{name}({link}) d2W_F: {f2} vs {n2}");
            }
        }
    }

    #[test]
    fn gamma_saturated_loglik_derivatives_match_finite_differences() {
        let family = Family::from_r("Gamma", "log", "").unwrap();
        let y = [0.4, 1.3, 2.2, 0.9];
        let w = [1.0, 2.0, 0.5, 1.0];
        let phi = 0.37;
        let [_, d1, d2] = family.saturated_loglik(&y, &w, phi);
        let n1 = central(|p| family.saturated_loglik(&y, &w, p)[0], phi, 1e-5);
        let n2 = central(|p| family.saturated_loglik(&y, &w, p)[1], phi, 1e-5);
        assert!((d1 - n1).abs() < 1e-6 * (1.0 + d1.abs()), "{d1} vs {n1}");
        assert!((d2 - n2).abs() < 1e-6 * (1.0 + d2.abs()), "{d2} vs {n2}");
    }

    #[test]
    fn saturated_loglik_matches_r() {
        // sum(dpois(y, y, log = TRUE)) and -binomial()$aic(...)/2 computed in R.
        let pois = Family::from_r("poisson", "log", "").unwrap();
        let v = pois.saturated_loglik(&[0.0, 1.0, 4.0], &[1.0; 3], 1.0)[0];
        assert!((v - (-1.0 + (4.0 * 4f64.ln() - 4.0 - 24f64.ln()))).abs() < 1e-12);
        let binom = Family::from_r("binomial", "logit", "").unwrap();
        let v = binom.saturated_loglik(&[0.25, 1.0], &[4.0, 3.0], 1.0)[0];
        // dbinom(1, 4, 0.25, log = TRUE) + 0
        assert!((v - (-0.863_046_217_355_342_8)).abs() < 1e-12, "{v}");
    }
}
