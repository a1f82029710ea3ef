//! The registry of exponential families. A distribution is one file in `family/`: a
//! type with `impl ExponentialFamily` (`exponential.rs`: its variance function and unit deviance with
//! the derivatives in `mu` that penalized IRLS and the Laplace-approximate REML use,
//! Wood 2017 §3.1, §6.6; its support, starting means and saturated log likelihood;
//! the names the R layer gives it), and one line in the `distributions!` list below,
//! which makes `Distribution`, the enum the rest of the engine holds. Nothing else in
//! the engine needs to name a distribution. The recipe for a new one is in
//! `tools/notes/adding-a-class-or-family.md`.

use super::beta::Beta;
use super::binomial::Binomial;
use super::censored_normal::CensoredNormal;
use super::exponential::ExponentialFamily;
use super::gamma::Gamma;
use super::gaussian::Gaussian;
use super::inverse_gaussian::InverseGaussian;
use super::link::Link;
use super::negative_binomial::NegativeBinomial;
use super::ordered::Ordered;
use super::poisson::Poisson;
use super::scaled_t::ScaledT;
use super::tweedie::Tweedie;
use super::zero_inflated::ZeroInflatedPoisson;
use super::ParameterSearch;

/// `Distribution`: one variant per registered type, each call passed to its
/// `ExponentialFamily`, and the parse of the R layer's names.
macro_rules! distributions {
    ($($variant:ident($ty:ty)),* $(,)?) => {
        /// An exponential family, of one of the registered types. `ocat()`'s cut
        /// points make one variant large (half a kilobyte); a distribution is held once
        /// per fit and passed by reference, so it stays `Copy` rather than boxed.
        #[allow(clippy::large_enum_variant)]
        #[derive(Debug, Clone, Copy, PartialEq)]
        pub enum Distribution {
            $($variant($ty),)*
        }

        impl Distribution {
            /// The distribution the R layer names `name` (with `quasi()`'s `variance`
            /// name, and the values of the family's parameters when it has them), and
            /// whether it is a quasi family borrowing that distribution's variance.
            pub fn from_r(name: &str, variance: &str, parameters: &[f64]) -> Option<(Distribution, bool)> {
                $(
                    if name == <$ty>::NAME {
                        return <$ty>::new(parameters).map(|d| (Distribution::$variant(d), false));
                    }
                    let quasi = <$ty>::QUASI_NAME == Some(name)
                        || (name == "quasi" && <$ty>::QUASI_VARIANCE == Some(variance));
                    if quasi && parameters.is_empty() {
                        if let Some(d) = <$ty>::new(&[]) {
                            return Some((Distribution::$variant(d), true));
                        }
                    }
                )*
                None
            }

            /// The engine spec's fields holding the parameters of the family the R
            /// layer names `name` (none for a family without).
            pub fn parameter_fields(name: &str) -> &'static [&'static str] {
                $(if name == <$ty>::NAME {
                    return <$ty>::PARAMETERS;
                })*
                &[]
            }

            pub fn name(&self) -> &'static str {
                match self { $(Distribution::$variant(_) => <$ty>::NAME,)* }
            }

            pub fn known_scale(&self) -> bool {
                match self { $(Distribution::$variant(d) => d.known_scale(),)* }
            }

            /// `V(mu)` and its first three derivatives.
            pub fn variance(&self, mu: f64) -> [f64; 4] {
                match self { $(Distribution::$variant(d) => d.variance(mu),)* }
            }

            /// The unit deviance and its first two derivatives in `mu`.
            pub fn deviance(&self, y: f64, mu: f64) -> [f64; 3] {
                match self { $(Distribution::$variant(d) => d.deviance(y, mu),)* }
            }

            pub fn variance_derivatives(&self) -> bool {
                match self { $(Distribution::$variant(d) => d.variance_derivatives(),)* }
            }

            pub fn expected_is_observed(&self) -> bool {
                match self { $(Distribution::$variant(d) => d.expected_is_observed(),)* }
            }

            /// The unit deviance alone.
            pub fn unit_deviance(&self, y: f64, mu: f64) -> f64 {
                match self { $(Distribution::$variant(d) => d.unit_deviance(y, mu),)* }
            }

            /// The first four derivatives in `mu` of the unit deviance.
            pub fn deviance_mu_derivatives(&self, y: f64, mu: f64) -> [f64; 4] {
                match self { $(Distribution::$variant(d) => d.deviance_mu_derivatives(y, mu),)* }
            }

            pub fn censored_deviance(&self, y: f64, censor: f64, w: f64, mu: f64) -> f64 {
                match self { $(Distribution::$variant(d) => d.censored_deviance(y, censor, w, mu),)* }
            }

            pub fn censored_deviance_mu_derivatives(&self, y: f64, censor: f64, w: f64, mu: f64) -> [f64; 4] {
                match self { $(Distribution::$variant(d) => d.censored_deviance_mu_derivatives(y, censor, w, mu),)* }
            }

            pub fn censored_saturated_loglik(&self, y: &[f64], censor: Option<&[f64]>, w: &[f64], phi: f64) -> [f64; 3] {
                match self { $(Distribution::$variant(d) => d.censored_saturated_loglik(y, censor, w, phi),)* }
            }

            pub fn valid_mean(&self, mu: f64) -> bool {
                match self { $(Distribution::$variant(d) => d.valid_mean(mu),)* }
            }

            pub fn clamp_mean(&self, mu: f64) -> f64 {
                match self { $(Distribution::$variant(d) => d.clamp_mean(mu),)* }
            }

            pub fn natural_link(&self) -> Option<Link> {
                match self { $(Distribution::$variant(d) => d.natural_link(),)* }
            }

            pub fn canonical_link(&self) -> Option<Link> {
                match self { $(Distribution::$variant(d) => d.canonical_link(),)* }
            }

            pub fn mean_derivatives(&self, link: Link, mu: f64) -> Option<[f64; 4]> {
                match self { $(Distribution::$variant(d) => d.mean_derivatives(link, mu),)* }
            }

            pub fn start_mean(&self, y: f64, w: f64, quasi: bool) -> f64 {
                match self { $(Distribution::$variant(d) => d.start_mean(y, w, quasi),)* }
            }

            pub fn support_problem(&self, y: f64, quasi: bool) -> Option<&'static str> {
                match self { $(Distribution::$variant(d) => d.support_problem(y, quasi),)* }
            }

            pub fn saturated_loglik(&self, y: &[f64], w: &[f64], phi: f64) -> [f64; 3] {
                match self { $(Distribution::$variant(d) => d.saturated_loglik(y, w, phi),)* }
            }

            pub fn parameter_searches(&self) -> Vec<ParameterSearch> {
                match self { $(Distribution::$variant(d) => d.parameter_searches(),)* }
            }

            pub fn at_coordinates(&self, c: &[f64]) -> Distribution {
                match self { $(Distribution::$variant(d) => Distribution::$variant(d.at_coordinates(c)),)* }
            }

            pub fn reports_criterion_scale(&self) -> bool {
                match self { $(Distribution::$variant(d) => d.reports_criterion_scale(),)* }
            }

            /// Whether the unit deviance is zero at `mu = y`.
            #[cfg(test)]
            pub fn zero_at_y(&self) -> bool {
                match self { $(Distribution::$variant(_) => <$ty>::ZERO_AT_Y,)* }
            }

            #[cfg(test)]
            pub fn parameters(&self) -> Vec<f64> {
                match self { $(Distribution::$variant(d) => d.parameters(),)* }
            }

            /// One member of each registered type.
            #[cfg(test)]
            pub fn examples() -> Vec<Distribution> {
                vec![$(Distribution::$variant(<$ty>::EXAMPLE),)*]
            }

            /// The names the R layer can give, each with its parameters' fields.
            #[cfg(test)]
            pub fn names() -> Vec<(&'static str, &'static [&'static str])> {
                vec![$((<$ty>::NAME, <$ty>::PARAMETERS),)*]
            }
        }
    };
}

distributions! {
    Gaussian(Gaussian),
    Binomial(Binomial),
    Poisson(Poisson),
    Gamma(Gamma),
    InverseGaussian(InverseGaussian),
    NegBin(NegativeBinomial),
    Tweedie(Tweedie),
    Beta(Beta),
    ScaledT(ScaledT),
    Ordered(Ordered),
    ZeroInflatedPoisson(ZeroInflatedPoisson),
    CensoredNormal(CensoredNormal),
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::family::central;

    #[test]
    fn derivatives_match_finite_differences() {
        for family in Distribution::examples() {
            for (y, mu) in [(0.3, 0.45), (0.8, 0.6), (0.0, 0.2), (1.0, 0.7)] {
                if family.support_problem(y, false).is_some() {
                    continue;
                }
                let [v, v1, v2, v3] = family.variance(mu);
                let (v1, v2, v3) = if family.variance_derivatives() {
                    (v1, v2, v3)
                } else {
                    let at = |k: usize| move |m: f64| family.variance(m)[k];
                    (central(at(0), mu, 1e-6), central(at(1), mu, 1e-6), central(at(2), mu, 1e-6))
                };
                let generic = family.deviance_mu_derivatives(y, mu);
                let [d, d1, d2] = family.deviance(y, mu);
                let checks = [
                    ("V'", v1, central(|m| family.variance(m)[0], mu, 1e-6)),
                    ("V''", v2, central(|m| family.variance(m)[1], mu, 1e-6)),
                    ("V'''", v3, central(|m| family.variance(m)[2], mu, 1e-6)),
                    ("generic d'", generic[0], d1),
                    ("generic d''", generic[1], d2),
                    ("d'''", generic[2], central(|m| family.deviance_mu_derivatives(y, m)[1], mu, 1e-6)),
                    ("d''''", generic[3], central(|m| family.deviance_mu_derivatives(y, m)[2], mu, 1e-6)),
                    ("d'", d1, central(|m| family.deviance(y, m)[0], mu, 1e-6)),
                    ("d''", d2, central(|m| family.deviance(y, m)[1], mu, 1e-6)),
                    ("unit d", family.unit_deviance(y, mu), d),
                ];
                for (what, exact, numeric) in checks {
                    assert!(
                        (exact - numeric).abs() / (1.0 + exact.abs()) < 1e-6,
                        "{family:?} {what} at y={y}, mu={mu}: {exact} vs {numeric}"
                    );
                }
                assert!(v > 0.0, "{family:?}");
                if !family.zero_at_y() {
                    continue;
                }
                assert!(d >= 0.0, "{family:?}");
                // The deviance is zero at mu = y (where y is a valid mean).
                if y > 0.0 && y < 1.0 {
                    assert!(family.deviance(y, y)[0].abs() < 1e-14, "{family:?} d(y, y)");
                }
            }
        }
    }

    /// Each registered name parses to its own type, a parameter only where the
    /// family has one, and the quasi names to the distribution they borrow.
    #[test]
    fn names_parse_through_the_registry() {
        let names = Distribution::names();
        let mut unique: Vec<_> = names.iter().map(|(n, _)| *n).collect();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(unique.len(), names.len(), "a name registered twice");
        for (example, (name, fields)) in Distribution::examples().into_iter().zip(names) {
            assert_eq!(example.name(), name);
            assert_eq!(Distribution::parameter_fields(name), fields);
            assert_eq!(Distribution::from_r(name, "", &example.parameters()), Some((example, false)), "{name}");
            assert_eq!(example.parameters().is_empty(), fields.is_empty(), "{name}");
            // The parameters are required exactly when the family has them.
            let other: Vec<f64> = if fields.is_empty() { vec![1.5] } else { Vec::new() };
            assert!(Distribution::from_r(name, "", &other).is_none(), "{name}");
        }
        let quasi = |name: &str, variance: &str| Distribution::from_r(name, variance, &[]).map(|(d, q)| (d.name(), q));
        assert_eq!(quasi("quasipoisson", ""), Some(("poisson", true)));
        assert_eq!(quasi("quasibinomial", ""), Some(("binomial", true)));
        assert_eq!(quasi("quasi", "mu^2"), Some(("Gamma", true)));
        assert_eq!(quasi("quasi", "constant"), Some(("gaussian", true)));
        assert_eq!(quasi("quasi", "mu^3"), Some(("inverse.gaussian", true)));
        assert_eq!(quasi("quasi", "mu^4"), None);
        assert_eq!(quasi("nope", ""), None);
        // Out of range.
        assert!(Distribution::from_r("negbin", "", &[-1.0]).is_none());
        assert!(Distribution::from_r("tweedie", "", &[2.0]).is_none());
    }
}
