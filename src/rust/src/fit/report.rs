//! What a fit reports (`FitResult`): the coefficients, covariances, edf, deviances and
//! term tests at the chosen smoothing parameters (Wood 2017 §6.9-6.10), and a stored
//! fit restored on its design.

use ndarray::Array2;

use crate::basis::Smooth;
use crate::error::{EngineError, Result};
use crate::linalg;

use super::design::{design, design_from, Design};
use super::gaussian::{self, Gram};
use super::influence::Influence;
use super::outer::Termination;
use super::penalty::PenaltySet;
use super::pirls::GlmData;
use super::spec::{validate, ModelSpec};
use super::{glm, outer, pirls, term_tests, uncertainty};

/// What a fit reports.
#[derive(Debug, Clone)]
pub struct FitResult {
    pub coefficients: Vec<f64>,
    /// `X beta + offset`.
    pub linear_predictor: Vec<f64>,
    pub edf: Vec<f64>,
    pub edf1: Vec<f64>,
    pub vp: Array2<f64>,
    pub ve: Array2<f64>,
    pub scale: f64,
    pub criterion: f64,
    pub sp: Vec<f64>,
    pub termination: Termination,
    pub iterations: usize,
    /// Values of the family's parameters tried by their search (0 without one): each
    /// a search of the smoothing parameters.
    pub family_trials: usize,
    pub gradient: Vec<f64>,
    /// Eigenvalues of the criterion's Hessian in the free log smoothing parameters at
    /// the end (ascending): `gam_check()` reports whether it is positive definite.
    pub hessian_eigenvalues: Vec<f64>,
    pub deviance: f64,
    pub null_deviance: f64,
    pub null_space_dim: usize,
    pub term_tests: Vec<term_tests::TermTest>,
    /// The family's parameters chosen with the smoothing parameters, in order:
    /// `log(phi)` when REML/ML estimates an unknown scale of a generalized family, then
    /// the searched coordinate of an estimated family parameter (`log(theta)`, or the
    /// Tweedie power).
    pub family_parameters: Vec<f64>,
    /// Whether every inner (penalized IRLS) fit converged.
    pub inner_converged: bool,
    /// The covariance corrected for smoothing-parameter uncertainty and its edf
    /// (`uncertainty`); REML/ML fits with a smoothing parameter to estimate only.
    pub vc: Option<Array2<f64>>,
    pub edf2: Option<Vec<f64>>,
}

/// Rebuilds a stored fit without iterating: the bases come from `smooths` (as stored
/// with the fit) or are constructed again, and the fitted values are recomputed;
/// everything costly comes from `stored`.
pub fn rebuild<'a>(
    spec: &'a ModelSpec<'_>,
    stored: FitResult,
    smooths: Option<Vec<Smooth>>,
) -> Result<(Design<'a>, FitResult)> {
    // The stored fit was made from exactly these values (the exact key covers every
    // one of them), so they passed `validate` then: only a rebuilt design rechecks.
    let design = match smooths {
        Some(smooths) => design_from(spec, smooths)?,
        None => {
            validate(spec)?;
            design(spec)?
        }
    };
    let restored = restore(spec, &design, stored)?;
    Ok((design, restored))
}

/// Another fit's linear predictor at this model's rows, from that fit's own bases
/// (`smooths`, as stored with it) and coefficients; `None` when they do not fit the
/// model (another number of columns).
pub fn linear_predictor_of(spec: &ModelSpec<'_>, smooths: Vec<Smooth>, coefficients: &[f64]) -> Option<Vec<f64>> {
    let design = design_from(spec, smooths).ok()?;
    (design.ncols() == coefficients.len()).then(|| design.fitted(coefficients, &spec.offset, spec.threads))
}

/// A stored fit on an already built design: only the fitted values are computed.
pub fn restore(spec: &ModelSpec<'_>, design: &Design<'_>, mut stored: FitResult) -> Result<FitResult> {
    let p = design.ncols();
    let shapes_match = stored.coefficients.len() == p
        && stored.edf.len() == p
        && stored.edf1.len() == p
        && stored.vp.dim() == (p, p)
        && stored.ve.dim() == (p, p)
        && stored.sp.len() + stored.family_parameters.len()
            == design.n_smoothing_parameters() + n_family_parameters(spec)
        && stored.term_tests.len() == design.smooths.len()
        && stored.vc.as_ref().is_none_or(|v| v.dim() == (p, p))
        && stored.edf2.as_ref().is_none_or(|e| e.len() == p);
    if !shapes_match {
        return Err(EngineError::InvalidSpec { what: "a stored fit does not match the model".into() });
    }
    stored.linear_predictor = design.fitted(&stored.coefficients, &spec.offset, spec.threads);
    if !stored.null_deviance.is_finite() {
        stored.null_deviance = null_deviance(spec, design);
    }
    stored.iterations = 0;
    Ok(stored)
}

/// Number of family parameters estimated with the smoothing parameters.
pub fn n_family_parameters(spec: &ModelSpec<'_>) -> usize {
    usize::from(spec.scale_parameter())
        + if spec.estimate_parameter { spec.family.parameter_searches().len() } else { 0 }
}

/// The deviance of the null model, as mgcv reports it.
pub(super) fn null_deviance(spec: &ModelSpec<'_>, design: &Design<'_>) -> f64 {
    if spec.family.is_gaussian_identity() {
        gaussian_null_deviance(spec)
    } else {
        let penalties = PenaltySet::new(design.ncols(), Vec::new());
        glm::null_deviance(&GlmData::new(spec, design, &penalties, None), spec.intercept)
    }
}

/// The Gaussian null deviance: around the weighted mean of `y - offset` with an
/// intercept; without one, of `y - offset` itself under GCV and around the weighted
/// mean of `y` otherwise.
pub(super) fn gaussian_null_deviance(spec: &ModelSpec<'_>) -> f64 {
    let (y, w, offset) = (&spec.y[..], &spec.weights[..], &spec.offset[..]);
    let subtract_offset = spec.intercept || spec.method.prediction_error();
    let value = |i: usize| if subtract_offset { y[i] - offset[i] } else { y[i] };
    let centre = if spec.intercept || !spec.method.prediction_error() {
        let (mut num, mut den) = (0.0, 0.0);
        for i in 0..y.len() {
            num += w[i] * value(i);
            den += w[i];
        }
        num / den
    } else {
        0.0
    };
    (0..y.len()).map(|i| w[i] * (value(i) - centre) * (value(i) - centre)).sum()
}

/// Everything reported at the chosen smoothing parameters.
pub(super) fn finish(
    spec: &ModelSpec<'_>,
    design: &Design<'_>,
    gram: &Gram,
    penalties: &PenaltySet,
    rho: &[f64],
    result: &outer::OuterResult,
    sensitivity: Option<uncertainty::Sensitivity>,
) -> Result<FitResult> {
    let pls = gaussian::pls_fit(gram, penalties, rho)?;
    let influence = Influence::new(&pls.h_inv, &gram.xtwx, penalties.diagonal_block(&gram.xtwx), spec.threads);
    let tau = influence.tau();
    let dev = gaussian::deviance(gram, &pls).max(0.0);
    // mgcv reports the scale as the residual variance D / (n - tau) for every method,
    // with n counting zero-weight rows too except under GCV.
    let n_scale = if spec.method.prediction_error() { gram.n } else { spec.y.len() as f64 };
    let scale = dev / (n_scale - tau);
    let vp = &pls.h_inv * scale;
    let ve = influence.frequentist_covariance(vp.view(), spec.threads);
    let Influence { edf, edf1, .. } = influence;
    let beta = pls.beta.to_vec();
    let linear_predictor = design.fitted(&beta, &spec.offset, spec.threads);
    let penalized = term_tests::Penalized { penalties, lambda: &pls.lambda, scale };
    let term_tests = term_tests::smooth_tests(design, &gram.xtwx, &penalized, &beta, &vp, &ve, &edf1);
    let (vc, edf2) = sensitivity
        .map(|sens| uncertainty::corrected(&gram.xtwx, penalties, &pls.lambda, &sens, &vp, scale, &edf1, spec.threads))
        .map(|c| (c.vc, c.edf2))
        .unzip();
    Ok(FitResult {
        coefficients: beta,
        linear_predictor,
        edf,
        edf1,
        vp,
        ve,
        scale,
        criterion: result.eval.value,
        sp: rho.iter().map(|r| r.exp()).collect(),
        termination: result.termination,
        iterations: result.iterations,
        family_trials: 0,
        gradient: result.eval.grad.to_vec(),
        hessian_eigenvalues: hessian_eigenvalues(result),
        deviance: dev,
        null_deviance: gaussian_null_deviance(spec),
        null_space_dim: penalties.null_space_dim(),
        term_tests,
        family_parameters: Vec::new(),
        inner_converged: true,
        vc,
        edf2,
    })
}

/// Everything a generalized fit reports at the chosen parameters, from the inner fit
/// there.
pub(super) fn finish_glm(
    spec: &ModelSpec<'_>,
    data: &GlmData<'_, '_>,
    inner: &pirls::InnerFit,
    lambda: &[f64],
    result: &outer::OuterResult,
    sensitivity: Option<uncertainty::Sensitivity>,
    reml_scale: Option<f64>,
) -> Result<FitResult> {
    let summary = glm::summarize(data, inner, lambda, reml_scale)?;
    // As mgcv, the correction's `X'WX` is the one behind `Vp` (expected information).
    let (vc, edf2) = sensitivity
        .map(|sens| {
            uncertainty::corrected(
                &summary.xtwx_fisher,
                data.penalties,
                lambda,
                &sens,
                &summary.vp,
                summary.scale,
                &summary.edf1,
                spec.threads,
            )
        })
        .map(|c| (c.vc, c.edf2))
        .unzip();
    let beta = inner.beta.to_vec();
    let penalized = term_tests::Penalized { penalties: data.penalties, lambda, scale: summary.scale };
    let term_tests = term_tests::smooth_tests(
        data.design,
        &summary.xtwx_fisher,
        &penalized,
        &beta,
        &summary.vp,
        &summary.ve,
        &summary.edf1,
    );
    // From the bases themselves, as a fit read back from the store computes it (the
    // iterations took `X beta` from the held model matrix, which can differ in the
    // last bit), so that both report the same fitted values exactly.
    let linear_predictor = data.design.fitted(&beta, data.offset, data.threads);
    Ok(FitResult {
        coefficients: beta,
        linear_predictor,
        edf: summary.edf,
        edf1: summary.edf1,
        vp: summary.vp,
        ve: summary.ve,
        scale: summary.scale,
        criterion: result.eval.value,
        sp: Vec::new(),
        termination: result.termination,
        iterations: result.iterations,
        family_trials: 0,
        gradient: result.eval.grad.to_vec(),
        hessian_eigenvalues: hessian_eigenvalues(result),
        deviance: inner.deviance,
        null_deviance: glm::null_deviance(data, spec.intercept),
        null_space_dim: data.penalties.null_space_dim(),
        term_tests,
        family_parameters: Vec::new(),
        inner_converged: inner.converged,
        vc,
        edf2,
    })
}

/// The eigenvalues of the criterion's Hessian at the end (ascending; none without
/// smoothing parameters), for `gam_check()`'s report on the optimum.
fn hessian_eigenvalues(result: &outer::OuterResult) -> Vec<f64> {
    if result.eval.hess.is_empty() {
        Vec::new()
    } else {
        linalg::sym_eigen(result.eval.hess.view()).0
    }
}
