//! What an exponential family distribution is to the engine (`ExponentialFamily`:
//! its variance function and unit deviance with the derivatives in `mu` that
//! penalized IRLS and the Laplace-approximate REML use, Wood 2017 §3.1, §6.6; its
//! support, starting means and saturated log likelihood; the names the R layer gives
//! it), and the pieces several distributions share. The distributions themselves are
//! one file each, listed in `distribution.rs`.

use std::fmt;

use super::link::Link;
use super::ParameterSearch;
/// An exponential family distribution: what `Family` needs of it beyond the link.
pub trait ExponentialFamily: Copy + PartialEq + fmt::Debug {
    /// Its name in the engine spec: the R family object's `family` (`"poisson"`), or,
    /// for a family the R layer builds itself, the layer's id for it (`"negbin"`).
    const NAME: &'static str;
    /// R's quasi family that borrows its variance function and deviance
    /// (`"quasipoisson"`), if there is one.
    const QUASI_NAME: Option<&'static str> = None;
    /// `quasi()`'s name for its variance function (`"mu"`), if it has one.
    const QUASI_VARIANCE: Option<&'static str> = None;
    /// The engine spec's fields that hold its parameters (`["theta"]`), in order;
    /// none for a family without.
    const PARAMETERS: &'static [&'static str] = &[];
    /// A member of the family, for the tests that every distribution must pass.
    const EXAMPLE: Self;
    /// Whether the unit deviance is zero at `mu = y` (a deviance against the
    /// saturated model). mgcv's beta regression minimizes `-2 log f` instead.
    const ZERO_AT_Y: bool = true;

    /// The distribution at `parameters`, one value for each of `PARAMETERS` (`None`
    /// for a value outside its range).
    fn new(parameters: &[f64]) -> Option<Self>;

    /// The values of its parameters, the inverse of `new`.
    fn parameters(&self) -> Vec<f64> {
        Vec::new()
    }

    /// Whether the scale is known (1) rather than estimated.
    fn known_scale(&self) -> bool;

    /// `V(mu)` and its first three derivatives.
    fn variance(&self, mu: f64) -> [f64; 4];

    /// The unit deviance `d(y, mu)` (prior weight 1) and its first two derivatives in
    /// `mu`; `y log y` is taken as 0 at `y = 0`, as R's `dev.resids` do.
    fn deviance(&self, y: f64, mu: f64) -> [f64; 3];

    /// Whether `variance` gives the variance function's derivatives (GCV's trace
    /// differentiates the expected information with them); a family that gives only
    /// its value is fitted by REML or ML alone.
    fn variance_derivatives(&self) -> bool {
        true
    }

    /// Whether the observed information is taken as the expected one, as mgcv
    /// takes it for a family whose expected information it does not form (`ocat()`).
    fn expected_is_observed(&self) -> bool {
        false
    }

    /// The unit deviance alone (what the step-length checks of penalized IRLS need),
    /// for a family where it costs much less than its derivatives.
    fn unit_deviance(&self, y: f64, mu: f64) -> f64 {
        self.deviance(y, mu)[0]
    }

    /// The first four derivatives in `mu` of the unit deviance. Every exponential
    /// family's deviance is `2 int_mu^y (y - t) / V(t) dt` (McCullagh & Nelder 1989
    /// §2.3), so `d' = -2 (y - mu) / V` and the rest follow from `V`'s derivatives.
    fn deviance_mu_derivatives(&self, y: f64, mu: f64) -> [f64; 4] {
        let [v, v1, v2, v3] = self.variance(mu);
        let r = y - mu;
        let (a1, a2, a3) = (v1 / v, v2 / v, v3 / v);
        [
            -2.0 * r / v,
            (2.0 + 2.0 * r * a1) / v,
            (-4.0 * a1 + 2.0 * r * (a2 - 2.0 * a1 * a1)) / v,
            (-6.0 * a2 + 12.0 * a1 * a1 + 2.0 * r * (a3 - 6.0 * a1 * a2 + 6.0 * a1.powi(3))) / v,
        ]
    }

    /// Whether `mu` is a valid mean (by default: positive and finite).
    fn valid_mean(&self, mu: f64) -> bool {
        mu > 0.0 && mu.is_finite()
    }

    /// The mean the link gives, kept inside the family's means where a diverging fit
    /// would reach their edge (the binomial's, as R's links clamp them).
    fn clamp_mean(&self, mu: f64) -> f64 {
        mu
    }

    /// The link that makes `eta` the natural parameter itself, so that
    /// `mu'(eta) = V(mu)`: the deviance's derivatives in `eta` are then the mean's
    /// (McCullagh & Nelder 1989 §2.2.2).
    fn natural_link(&self) -> Option<Link> {
        None
    }

    /// R's canonical link for the family (`eta` a multiple of the natural parameter),
    /// under which the observed and expected information agree.
    fn canonical_link(&self) -> Option<Link> {
        self.natural_link()
    }

    /// The mean's first four derivatives in `eta` under `link`, where the family
    /// computes them better from the (clamped) mean than the link does from `eta`.
    fn mean_derivatives(&self, _link: Link, _mu: f64) -> Option<[f64; 4]> {
        None
    }

    /// The starting mean for observation `y` with prior weight `w` (R's `initialize`),
    /// for the family itself or the `quasi` family borrowing its variance.
    fn start_mean(&self, y: f64, w: f64, quasi: bool) -> f64;

    /// Why `y` (with weight `w > 0`) is outside the support, if it is.
    fn support_problem(&self, y: f64, quasi: bool) -> Option<&'static str>;

    /// The saturated log likelihood `ls(phi)` and its first two derivatives in `phi`
    /// (mgcv's `family$ls`): the part of the log likelihood the Laplace-approximate
    /// REML needs beyond the deviance (Wood 2011 §2.1). Zero-weight observations do
    /// not count (`observed`).
    fn saturated_loglik(&self, y: &[f64], w: &[f64], phi: f64) -> [f64; 3];

    /// A row's weighted deviance `w d(y, mu)` when the response may be censored:
    /// `censor` is the row's second response column (mgcv's `attr(y, "censor")`),
    /// equal to `y` for an exact observation (`censored_normal.rs` says what the other
    /// values mean). Only the censored normal reads it; every other family's response
    /// is `y` alone.
    fn censored_deviance(&self, y: f64, _censor: f64, w: f64, mu: f64) -> f64 {
        w * self.unit_deviance(y, mu)
    }

    /// The first four derivatives in `mu` of `censored_deviance`.
    fn censored_deviance_mu_derivatives(&self, y: f64, _censor: f64, w: f64, mu: f64) -> [f64; 4] {
        self.deviance_mu_derivatives(y, mu).map(|d| w * d)
    }

    /// `saturated_loglik` when the response may be censored (`censor` as above;
    /// `None`: every row exact).
    fn censored_saturated_loglik(&self, y: &[f64], _censor: Option<&[f64]>, w: &[f64], phi: f64) -> [f64; 3] {
        self.saturated_loglik(y, w, phi)
    }

    /// How each of the family's own parameters is searched when they are estimated
    /// (one coordinate per parameter, in the order of `PARAMETERS`).
    fn parameter_searches(&self) -> Vec<ParameterSearch> {
        Vec::new()
    }

    /// The distribution at the searched coordinates `c` of its parameters.
    fn at_coordinates(&self, _c: &[f64]) -> Self {
        *self
    }

    /// Whether a fit with the parameter estimated reports the scale the REML/ML
    /// criterion chose, rather than Fletcher's estimate (mgcv's `tw()` does).
    fn reports_criterion_scale(&self) -> bool {
        false
    }
}

/// The observations with positive prior weight, as `(y, w)`.
pub(super) fn observed<'a>(y: &'a [f64], w: &'a [f64]) -> impl Iterator<Item = (&'a f64, &'a f64)> {
    y.iter().zip(w).filter(|(_, w)| **w > 0.0)
}

/// The saturated log likelihood's terms in `phi` that the Gaussian-like families
/// (and the quasi families, with `log_norm = log phi`) share.
pub(super) fn normal_like_loglik(y: &[f64], w: &[f64], phi: f64, log_norm: f64) -> [f64; 3] {
    let nobs = observed(y, w).count() as f64;
    let sum_log_w: f64 = observed(y, w).map(|(_, w)| w.ln()).sum();
    [-nobs * log_norm / 2.0 + sum_log_w / 2.0, -nobs / (2.0 * phi), nobs / (2.0 * phi * phi)]
}

/// `a log(a / b)`, zero at `a = 0` (the deviances' `y log(y / mu)`).
pub(super) fn y_log_ratio(a: f64, b: f64) -> f64 {
    if a == 0.0 {
        0.0
    } else {
        a * (a / b).ln()
    }
}
