//! What the engine is asked to fit (`ModelSpec`) and the optimizer settings the user
//! can change (`Control`), with the checks a spec must pass before anything is built.

use std::borrow::Cow;

#[cfg(test)]
use ndarray::Array2;
use ndarray::{CowArray, Ix2};

use crate::basis::SmoothSpec;
use crate::error::{EngineError, Result};
use crate::family::distribution::Distribution;
use crate::family::Family;

/// How smoothing parameters are chosen (mgcv's `method`): REML, ML, or GCV or GACV
/// (UBRE for both when the scale is known).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Reml,
    Ml,
    Gcv,
    Gacv,
}

impl Method {
    pub fn parse(name: &str) -> Option<Method> {
        match name {
            "REML" => Some(Method::Reml),
            "ML" => Some(Method::Ml),
            "GCV.Cp" | "GCV" => Some(Method::Gcv),
            "GACV.Cp" | "GACV" => Some(Method::Gacv),
            _ => None,
        }
    }

    pub fn as_str(&self) -> &'static str {
        match self {
            Method::Reml => "REML",
            Method::Ml => "ML",
            Method::Gcv => "GCV.Cp",
            Method::Gacv => "GACV.Cp",
        }
    }

    /// GCV or GACV: a prediction error criterion (UBRE when the scale is known),
    /// not a likelihood.
    pub fn prediction_error(&self) -> bool {
        matches!(self, Method::Gcv | Method::Gacv)
    }
}

/// Optimizer settings the user can change (`gam_control()`).
#[derive(Debug, Clone)]
pub struct Control {
    pub tol: f64,
    pub max_iter: usize,
    pub max_step: f64,
}

impl Default for Control {
    fn default() -> Self {
        Control { tol: 1e-8, max_iter: 200, max_step: 5.0 }
    }
}

/// Everything the engine needs to fit one model.
/// Its data borrow the R vectors they come from where they can (`Cow`).
#[derive(Debug, Clone)]
pub struct ModelSpec<'a> {
    pub y: Cow<'a, [f64]>,
    /// The response's second column where the family reads one (the censored
    /// normal's bounds, `family::censored_normal`); `None`: every row exact.
    pub censor: Option<Cow<'a, [f64]>>,
    pub weights: Cow<'a, [f64]>,
    pub offset: Cow<'a, [f64]>,
    /// The parametric columns (n x p0, column-major).
    pub xp: CowArray<'a, f64, Ix2>,
    pub smooths: Vec<SmoothSpec<'a>>,
    pub family: Family,
    pub method: Method,
    pub gamma: f64,
    /// One entry per smoothing parameter: `Some(lambda)` fixes it, `None` estimates it.
    /// Empty means estimate all.
    pub sp: Vec<Option<f64>>,
    /// mgcv's `min.sp`: one lower bound per smoothing parameter, added to it where it
    /// multiplies its penalties (`PenaltySet::totals`). Empty means none.
    pub min_sp: Vec<f64>,
    pub control: Control,
    pub threads: usize,
    /// Whether the model has an intercept (it decides the null model's deviance).
    pub intercept: bool,
    /// Whether the family's own parameter (the negative binomial `theta`, the Tweedie
    /// power; the family's value is the start) is estimated with the smoothing
    /// parameters (`profile`).
    pub estimate_parameter: bool,
    /// Refuse a model whose unpenalized directions are aliased (`fit::aliasing`);
    /// off when the R layer has found them only nearly so.
    pub check_aliasing: bool,
    /// Parametric columns the R layer fixed at zero (aliased), counted in the
    /// criterion's null space as mgcv counts them.
    pub aliased: usize,
    /// A start given by the caller (mgcv's `in.out`): log smoothing parameters, one
    /// per smoothing parameter, and the log scale (used where the scale is searched).
    pub start: Option<GivenStart>,
    /// Penalties on parametric columns (mgcv's `paraPen`); their smoothing
    /// parameters come first, as mgcv orders them.
    pub parametric_penalties: Vec<ParametricPenalty>,
}

/// A penalty on parametric columns (mgcv's `paraPen`): `s` on the `s.nrows()`
/// columns of the parametric model matrix from `start`, with a smoothing parameter
/// of its own (fixed at `sp` when given).
#[derive(Debug, Clone, PartialEq)]
pub struct ParametricPenalty {
    pub start: usize,
    pub s: ndarray::Array2<f64>,
    pub sp: Option<f64>,
}

/// mgcv's `in.out`: where the caller asks the search to start.
#[derive(Debug, Clone, PartialEq)]
pub struct GivenStart {
    pub log_sp: Vec<f64>,
    pub log_scale: Option<f64>,
}

/// A reproducible stream of uniform draws on [0, 1) for tests (a 64-bit linear
/// congruential generator, Knuth's MMIX constants, top 53 bits).
#[cfg(test)]
pub(crate) fn uniform_stream(seed: u64) -> impl FnMut() -> f64 {
    let mut state = seed;
    move || {
        state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        ((state >> 11) as f64) / ((1u64 << 53) as f64)
    }
}

impl ModelSpec<'_> {
    /// Whether the scale is estimated with the smoothing parameters (REML/ML of a
    /// generalized family whose scale is unknown, as mgcv does).
    pub fn scale_parameter(&self) -> bool {
        !self.family.is_gaussian_identity()
            && !self.family.scale_known()
            && matches!(self.method, Method::Reml | Method::Ml)
    }
}

#[cfg(test)]
impl<'a> ModelSpec<'a> {
    /// A REML fit with unit weights, no offset and default settings, for tests.
    pub fn for_tests(y: Vec<f64>, xp: Array2<f64>, smooths: Vec<SmoothSpec<'a>>) -> ModelSpec<'a> {
        let n = y.len();
        ModelSpec {
            y: Cow::Owned(y),
            censor: None,
            weights: Cow::Owned(vec![1.0; n]),
            offset: Cow::Owned(vec![0.0; n]),
            xp: CowArray::from(xp),
            smooths,
            family: Family::from_r("gaussian", "identity", "", &[]).expect("a known family"),
            method: Method::Reml,
            gamma: 1.0,
            sp: Vec::new(),
            min_sp: Vec::new(),
            control: Control::default(),
            threads: 2,
            intercept: true,
            estimate_parameter: false,
            check_aliasing: true,
            aliased: 0,
            start: None,
            parametric_penalties: Vec::new(),
        }
    }

    /// `n` rows of two covariates `x` and `z` drawn from `uniform_stream(seed)`
    /// (all of `x`, then all of `z`), the terms `s(x)` and `s(z)` (`cr`, `k = 10`) and
    /// an intercept; row `i`'s response is `y(x_i, z_i, u_i)`, `u_i` the stream's
    /// next draw.
    pub fn two_smooths_for_tests(n: usize, seed: u64, y: impl Fn(f64, f64, f64) -> f64) -> ModelSpec<'static> {
        let mut unif = uniform_stream(seed);
        let x: Vec<f64> = (0..n).map(|_| unif()).collect();
        let z: Vec<f64> = (0..n).map(|_| unif()).collect();
        let response: Vec<f64> = x.iter().zip(&z).map(|(&x, &z)| y(x, z, unif())).collect();
        let smooths =
            vec![SmoothSpec::for_tests("s(x)", "cr", 10, vec![x]), SmoothSpec::for_tests("s(z)", "cr", 10, vec![z])];
        ModelSpec::for_tests(response, Array2::ones((n, 1)), smooths)
    }
}

pub(super) fn validate(spec: &ModelSpec<'_>) -> Result<()> {
    let n = spec.y.len();
    if spec.weights.len() != n || spec.offset.len() != n || spec.xp.nrows() != n {
        return Err(EngineError::InvalidSpec {
            what: "response, weights, offset and parametric matrix differ in length".into(),
        });
    }
    if !spec.y.iter().all(|v| v.is_finite()) {
        return Err(EngineError::NonFinite { what: "the response".into() });
    }
    if !spec.weights.iter().all(|v| v.is_finite() && *v >= 0.0) {
        return Err(EngineError::InvalidSpec { what: "weights must be finite and non-negative".into() });
    }
    if !spec.offset.iter().all(|v| v.is_finite()) {
        return Err(EngineError::NonFinite { what: "the offset".into() });
    }
    if !spec.xp.iter().all(|v| v.is_finite()) {
        return Err(EngineError::NonFinite { what: "a parametric model term".into() });
    }
    for pen in &spec.parametric_penalties {
        let k = pen.s.nrows();
        if k == 0 || pen.s.ncols() != k || pen.start + k > spec.xp.ncols() || !pen.s.iter().all(|v| v.is_finite()) {
            return Err(EngineError::InvalidSpec {
                what: "a parametric penalty (`paraPen`) must be a finite square matrix on parametric columns".into(),
            });
        }
    }
    if spec.method.prediction_error() && !spec.family.distribution.variance_derivatives() {
        return Err(EngineError::InvalidSpec {
            what: format!("the {} family is fitted by REML or ML, not GCV", spec.family.distribution.name()),
        });
    }
    check_response_range(spec)?;
    spec.check_memory()
}

/// A Gaussian fit works with the squares of the response (its deviance, `y'Wy`):
/// beyond ~1e150 they overflow to infinity and below ~1e-150 they vanish, and the
/// criterion is then meaningless while the fit still "converges" (issue 15: a
/// response times 1e155 gave edf 3.6 for 8.4). Such a response is refused, not fitted
/// wrong.
pub(super) fn check_response_range(spec: &ModelSpec<'_>) -> Result<()> {
    if !matches!(spec.family.distribution, Distribution::Gaussian(_)) {
        return Ok(());
    }
    let largest = spec.y.iter().zip(spec.offset.iter()).fold(0.0_f64, |a, (y, o)| a.max((y - o).abs()));
    let heaviest = spec.weights.iter().fold(1.0_f64, |a, w| a.max(*w));
    let sum_of_squares = largest * largest * heaviest * spec.y.len() as f64;
    // (Written so that a NaN sum, from infinite squares, is refused too.)
    let problem = if sum_of_squares.is_nan() || sum_of_squares >= 1e300 {
        "large: their squares overflow double precision"
    } else if largest > 0.0 && sum_of_squares < 1e-290 {
        "small: their squares underflow double precision"
    } else {
        return Ok(());
    };
    Err(EngineError::OutOfRange {
        what: format!("the response's values reach {largest:.3e} in absolute value, which is too {problem}; rescale the response (divide it by a constant)"),
    })
}
