//! Fitting a Gaussian additive model: assemble the model matrix, form `X'WX` once,
//! choose the smoothing parameters with the outer Newton optimizer, and compute what
//! the fitted object reports (Wood 2017 §6.2, §6.9-6.10).

pub mod criterion;
pub mod gcv;
pub mod glm;
pub mod influence;
pub mod laml;
pub mod outer;
pub mod penalty;
pub mod pirls;
pub mod profile;
pub mod rows;
pub mod size;
pub mod tests_smooth;
pub mod uncertainty;

use std::borrow::Cow;

use ndarray::{s, Array1, Array2, ArrayView2, CowArray, Ix2, ShapeBuilder};

use crate::basis::{self, Smooth, SmoothSpec};
use crate::error::{EngineError, Result};
use crate::family::distribution::Distribution;
use crate::family::Family;
use crate::linalg;
use criterion::{Gram, Method};
use glm::GlmObjective;
use influence::Influence;
use laml::LamlSettings;
use pirls::GlmData;
use outer::{newton, Eval, NewtonSettings, Objective, Termination};
use penalty::{Penalty, PenaltySet};

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
    pub control: Control,
    pub threads: usize,
    /// Whether the model has an intercept (it decides the null model's deviance).
    pub intercept: bool,
    /// Whether the family's own parameter (the negative binomial `theta`, the Tweedie
    /// power; the family's value is the start) is estimated with the smoothing
    /// parameters (`profile`).
    pub estimate_parameter: bool,
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

#[cfg(test)]
impl<'a> ModelSpec<'a> {
    /// A REML fit with unit weights, no offset and default settings, for tests.
    pub fn for_tests(y: Vec<f64>, xp: Array2<f64>, smooths: Vec<SmoothSpec<'a>>) -> ModelSpec<'a> {
        let n = y.len();
        ModelSpec {
            y: Cow::Owned(y),
            weights: Cow::Owned(vec![1.0; n]),
            offset: Cow::Owned(vec![0.0; n]),
            xp: CowArray::from(xp),
            smooths,
            family: Family::from_r("gaussian", "identity", "").expect("a known family"),
            method: Method::Reml,
            gamma: 1.0,
            sp: Vec::new(),
            control: Control::default(),
            threads: 2,
            intercept: true,
            estimate_parameter: false,
        }
    }
}

/// The assembled model: the smooth terms, and the data they are evaluated on. The
/// model matrix `[Xp, X_1, ..., X_m]` is produced a chunk of rows at a time.
pub struct Design<'a> {
    pub smooths: Vec<Smooth>,
    /// First column of each smooth in the model matrix.
    pub first_col: Vec<usize>,
    xp: ArrayView2<'a, f64>,
    vars: Vec<Vec<&'a [f64]>>,
    by: Vec<Option<&'a [f64]>>,
}

impl Design<'_> {
    pub fn nrows(&self) -> usize {
        self.xp.nrows()
    }

    /// The smoothing parameter of each penalty (in `penalty_set` order): one each,
    /// except that the k-th penalties of terms with the same `id` share one.
    pub fn penalty_links(&self) -> Vec<usize> {
        let mut shared: Vec<((String, usize), usize)> = Vec::new();
        let mut next = 0;
        let mut links = Vec::new();
        for sm in &self.smooths {
            for q in 0..sm.penalties().count() {
                let link = match &sm.id {
                    Some(id) => match shared.iter().find(|(key, _)| key.0 == *id && key.1 == q) {
                        Some((_, l)) => *l,
                        None => {
                            shared.push(((id.clone(), q), next));
                            next += 1;
                            next - 1
                        }
                    },
                    None => {
                        next += 1;
                        next - 1
                    }
                };
                links.push(link);
            }
        }
        links
    }

    /// One per penalty (a term with `select` has two), less those shared by `id`.
    pub fn n_smoothing_parameters(&self) -> usize {
        self.penalty_links().into_iter().max().map_or(0, |m| m + 1)
    }

    pub fn ncols(&self) -> usize {
        self.xp.ncols() + self.smooths.iter().map(|s| s.ncoef()).sum::<usize>()
    }

    /// Writes rows `start..start + rows` of the model matrix into `buf`, with
    /// `scratch` as working space (kept by the caller across chunks).
    pub fn fill_rows(&self, start: usize, rows: usize, buf: &mut Array2<f64>, scratch: &mut Vec<f64>) {
        self.fill_rows_except(start, rows, buf, scratch, &[]);
    }

    /// Like `fill_rows`, leaving out the smooths marked in `skip` (none when it is
    /// empty): the other columns are written in order, side by side.
    pub fn fill_rows_except(&self, start: usize, rows: usize, buf: &mut Array2<f64>, scratch: &mut Vec<f64>, skip: &[bool]) {
        let p0 = self.xp.ncols();
        buf.slice_mut(s![..rows, ..p0]).assign(&self.xp.slice(s![start..start + rows, ..]));
        let mut at = p0;
        for (j, sm) in self.smooths.iter().enumerate() {
            if skip.get(j).copied().unwrap_or(false) {
                continue;
            }
            let vars = basis::rows(&self.vars[j], start, rows);
            let by = self.by[j].map(|b| &b[start..start + rows]);
            sm.fill(&vars, by, scratch, buf.slice_mut(s![..rows, at..at + sm.ncoef()]));
            at += sm.ncoef();
        }
    }

    /// `offset + X b`: the parametric columns times their coefficients plus each
    /// smooth evaluated against its own, split into contiguous row blocks over
    /// `threads`.
    pub fn fitted(&self, b: &[f64], offset: &[f64], threads: usize) -> Vec<f64> {
        let n = self.nrows();
        let mut out = offset.to_vec();
        // Below this, a thread costs more than it saves.
        const ROWS_PER_THREAD: usize = 20_000;
        let parts = threads.clamp(1, (n / ROWS_PER_THREAD).max(1));
        let per = n.div_ceil(parts).max(1);
        std::thread::scope(|scope| {
            for (t, block) in out.chunks_mut(per).enumerate() {
                scope.spawn(move || self.fitted_rows(t * per, b, block));
            }
        });
        out
    }

    fn fitted_rows(&self, start: usize, b: &[f64], out: &mut [f64]) {
        let rows = out.len();
        for (j, col) in self.xp.columns().into_iter().enumerate() {
            let col = col.slice(s![start..start + rows]);
            out.iter_mut().zip(col).for_each(|(o, x)| *o += x * b[j]);
        }
        for (j, sm) in self.smooths.iter().enumerate() {
            let vars = basis::rows(&self.vars[j], start, rows);
            let by = self.by[j].map(|v| &v[start..start + rows]);
            let at = self.first_col[j];
            sm.add_fitted(&vars, by, &b[at..at + sm.ncoef()], out);
        }
    }
}

/// Builds every smooth term of the model, the terms shared out over `spec.threads`
/// (placing knots sorts each covariate: at 1e6 rows that is most of the time).
pub fn design<'a>(spec: &'a ModelSpec<'_>) -> Result<Design<'a>> {
    let n = spec.xp.nrows();
    for sm_spec in &spec.smooths {
        // `basis::construct` checks `by` against the covariates.
        if sm_spec.vars.iter().any(|v| v.len() != n) {
            return Err(EngineError::InvalidSpec { what: format!("`{}` has a covariate of the wrong length", sm_spec.label) });
        }
    }
    let terms = spec.smooths.len();
    let parts = spec.threads.clamp(1, terms.max(1));
    let built: Vec<Result<Smooth>> = if parts == 1 {
        spec.smooths.iter().map(basis::construct).collect()
    } else {
        // Term j goes to thread j % parts; the results are put back in order.
        let mut slots: Vec<Option<Result<Smooth>>> = (0..terms).map(|_| None).collect();
        std::thread::scope(|scope| {
            let handles: Vec<_> = (0..parts)
                .map(|t| scope.spawn(move || (t..terms).step_by(parts).map(|j| (j, basis::construct(&spec.smooths[j]))).collect::<Vec<_>>()))
                .collect();
            for h in handles {
                for (j, r) in h.join().expect("a term construction thread panicked") {
                    slots[j] = Some(r);
                }
            }
        });
        slots.into_iter().map(|r| r.expect("every term built")).collect()
    };
    let smooths = built.into_iter().collect::<Result<Vec<_>>>()?;
    Ok(assemble(spec, smooths))
}

/// The design from smooth terms constructed earlier by a fit of exactly these data
/// (whose values were checked then); only the shapes are checked here.
pub fn design_from<'a>(spec: &'a ModelSpec<'_>, smooths: Vec<Smooth>) -> Result<Design<'a>> {
    let n = spec.xp.nrows();
    if smooths.len() != spec.smooths.len() {
        return Err(EngineError::InvalidSpec { what: "stored smooth terms do not match the model".into() });
    }
    for (sm, sm_spec) in smooths.iter().zip(&spec.smooths) {
        let mut columns = sm_spec.vars.iter().chain(sm_spec.by.as_ref());
        let count_ok = sm.basis.n_vars().map_or(matches!(sm_spec.vars.len(), 1 | 2), |d| d == sm_spec.vars.len());
        if sm.has_by != sm_spec.by.is_some() || !count_ok || columns.any(|v| v.len() != n) {
            return Err(EngineError::InvalidSpec { what: format!("stored `{}` does not match the model", sm_spec.label) });
        }
    }
    let smooths = smooths.into_iter().zip(&spec.smooths).map(|(sm, sp)| Smooth { id: sp.id.clone(), ..sm }).collect();
    Ok(assemble(spec, smooths))
}

fn assemble<'a>(spec: &'a ModelSpec<'_>, smooths: Vec<Smooth>) -> Design<'a> {
    let mut first_col = Vec::with_capacity(smooths.len());
    let mut at = spec.xp.ncols();
    for sm in &smooths {
        first_col.push(at);
        at += sm.ncoef();
    }
    Design {
        smooths,
        first_col,
        xp: spec.xp.view(),
        vars: spec.smooths.iter().map(|s| s.vars.iter().map(|v| v.as_ref()).collect()).collect(),
        by: spec.smooths.iter().map(|s| s.by.as_deref()).collect(),
    }
}

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
    pub gradient: Vec<f64>,
    /// Eigenvalues of the criterion's Hessian in the free log smoothing parameters at
    /// the end (ascending): `gam_check()` reports whether it is positive definite.
    pub hessian_eigenvalues: Vec<f64>,
    pub deviance: f64,
    pub null_deviance: f64,
    pub null_space_dim: usize,
    pub term_tests: Vec<tests_smooth::TermTest>,
    /// The family's parameters chosen with the smoothing parameters, on the log scale:
    /// `log(phi)` when REML/ML estimates an unknown scale of a generalized family.
    pub extra: Vec<f64>,
    /// Whether every inner (penalized IRLS) fit converged.
    pub inner_converged: bool,
    /// The covariance corrected for smoothing-parameter uncertainty and its edf
    /// (`uncertainty`); REML/ML fits with a smoothing parameter to estimate only.
    pub vc: Option<Array2<f64>>,
    pub edf2: Option<Vec<f64>>,
}

/// The criterion of one model as a function of the per-penalty log smoothing
/// parameters and the family's extra parameters.
enum Criterion<'a, 'd> {
    Gaussian { gram: &'a Gram, penalties: &'a PenaltySet, method: Method, gamma: f64 },
    Glm(GlmObjective<'a, 'd>),
}

/// The criterion as a function of the free parameters: the log smoothing parameters
/// (each shared by the penalties linked to it), then the family's extra parameters.
struct FreeObjective<'a, 'd> {
    criterion: Criterion<'a, 'd>,
    /// Full parameter vector; `None` entries are free, in order.
    fixed: &'a [Option<f64>],
    /// The smoothing parameter of each penalty.
    links: &'a [usize],
    /// Number of smoothing parameters (the rest of `fixed` are extra parameters).
    n_sp: usize,
}

impl FreeObjective<'_, '_> {
    fn full_rho(&self, free: &[f64]) -> Vec<f64> {
        full_rho(self.fixed, free)
    }

    fn free_index(&self) -> Vec<usize> {
        (0..self.fixed.len()).filter(|&j| self.fixed[j].is_none()).collect()
    }
}

impl Objective for FreeObjective<'_, '_> {
    fn evaluation_is_cheap(&self) -> bool {
        match &self.criterion {
            // From X'WX alone: no pass over the rows.
            Criterion::Gaussian { .. } => true,
            Criterion::Glm(g) => g.data.y.len() < POLISH_BELOW_ROWS,
        }
    }

    fn coefficient_change(&self, rho: &[f64], dir: &[f64]) -> Option<f64> {
        let Criterion::Glm(g) = &self.criterion else { return None };
        let full = self.full_rho(rho);
        // The step in each free parameter moves every penalty linked to it.
        let mut step = vec![0.0; full.len()];
        for (&j, d) in self.free_index().iter().zip(dir) {
            step[j] = *d;
        }
        g.coefficient_change(&penalty_rho(self.links, &full[..self.n_sp]), &penalty_rho(self.links, &step[..self.n_sp]))
    }

    fn evaluate(&mut self, rho: &[f64], derivatives: bool) -> Result<Eval> {
        let full = self.full_rho(rho);
        let per_penalty = penalty_rho(self.links, &full[..self.n_sp]);
        let extra = &full[self.n_sp..];
        let e = match &mut self.criterion {
            Criterion::Gaussian { gram, penalties, method, gamma } => criterion::evaluate(gram, penalties, *method, *gamma, &per_penalty)?.0,
            Criterion::Glm(g) => g.evaluate(&per_penalty, extra.first().copied().unwrap_or(0.0), derivatives)?,
        };
        if e.grad.is_empty() {
            return Ok(Eval { grad: Array1::zeros(0), hess: Array2::zeros((0, 0)), ..e });
        }
        // A shared parameter moves all its penalties: derivatives add up (chain rule).
        // Each penalty's index in `e` maps to its parameter; extra parameters follow.
        let m = full.len();
        let np = per_penalty.len();
        let to_param = |i: usize| if i < np { self.links[i] } else { self.n_sp + (i - np) };
        let mut grad = Array1::<f64>::zeros(m);
        let mut hess = Array2::<f64>::zeros((m, m));
        for i in 0..e.grad.len() {
            grad[to_param(i)] += e.grad[i];
            for j in 0..e.grad.len() {
                hess[(to_param(i), to_param(j))] += e.hess[(i, j)];
            }
        }
        let idx = self.free_index();
        Ok(Eval {
            value: e.value,
            grad: Array1::from_iter(idx.iter().map(|&j| grad[j])),
            hess: Array2::from_shape_fn((idx.len(), idx.len()), |(a, b)| hess[(idx[a], idx[b])]),
            coefficients: e.coefficients,
        })
    }
}

/// Each penalty's log smoothing parameter from the parameters it is linked to.
fn penalty_rho(links: &[usize], params: &[f64]) -> Vec<f64> {
    links.iter().map(|&l| params[l]).collect()
}

/// Initial smoothing parameters: each penalty scaled to the size of its block of
/// `X'WX` (the heuristic of mgcv's `initial.sp`), on the log scale.
fn initial_rho(xtwx: &Array2<f64>, penalties: &PenaltySet) -> Vec<f64> {
    penalties
        .penalties
        .iter()
        .map(|pen| {
            let k = pen.len();
            let mut num = 0.0;
            let mut den = 0.0;
            let mut count = 0.0;
            for i in 0..k {
                let sd = pen.s[(i, i)].abs();
                if sd > 0.0 {
                    num += xtwx[(pen.start + i, pen.start + i)].abs();
                    den += sd;
                    count += 1.0;
                }
            }
            if den > 0.0 && num > 0.0 {
                (num / count / (den / count)).ln()
            } else {
                0.0
            }
        })
        .collect()
}

fn validate(spec: &ModelSpec<'_>) -> Result<()> {
    let n = spec.y.len();
    if spec.weights.len() != n || spec.offset.len() != n || spec.xp.nrows() != n {
        return Err(EngineError::InvalidSpec { what: "response, weights, offset and parametric matrix differ in length".into() });
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
    check_response_range(spec)?;
    spec.check_memory()
}

/// A Gaussian fit works with the squares of the response (its deviance, `y'Wy`):
/// beyond ~1e150 they overflow to infinity and below ~1e-150 they vanish, and the
/// criterion is then meaningless while the fit still "converges" (issue 15: a
/// response times 1e155 gave edf 3.6 for 8.4). Such a response is refused, not fitted
/// wrong.
fn check_response_range(spec: &ModelSpec<'_>) -> Result<()> {
    if spec.family.distribution != Distribution::Gaussian {
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

/// The data side of the problem: `X'WX`, `X'Wz`, `z'Wz` with `z = y - offset`, in one
/// pass over the data.
pub fn gram(design: &Design<'_>, y: &[f64], w: &[f64], offset: &[f64], threads: usize, interrupted: &mut dyn FnMut() -> bool) -> Result<Gram> {
    let z: Vec<f64> = y.iter().zip(offset).map(|(a, b)| a - b).collect();
    let u: Vec<f64> = w.iter().zip(&z).map(|(w, z)| w * z).collect();
    // Wide random effects are accumulated from their level codes (`rows`): their
    // columns through the dense product would cost `n p^2`.
    let (xtwx, xtwy) = rows::weighted_cross_products(design, &rows::Layout::of(design), None, w, &u, threads, interrupted)?;
    let ytwy = z.iter().zip(w).map(|(v, wi)| wi * v * v).sum();
    let positive = w.iter().filter(|v| **v > 0.0);
    let n = positive.clone().count() as f64;
    let sum_log_w = positive.map(|v| v.ln()).sum();
    Ok(Gram { xtwx, xtwy, ytwy, n, sum_log_w })
}

pub fn penalty_set(design: &Design<'_>) -> PenaltySet {
    let penalties = design
        .smooths
        .iter()
        .zip(&design.first_col)
        .flat_map(|(sm, &start)| sm.penalties().map(move |s| Penalty { start, s: s.clone() }))
        .collect();
    PenaltySet::new(design.ncols(), penalties)
}

/// One accepted outer iterate, as a fit reports it to its caller.
pub struct Iterate<'a> {
    /// Outer iterations done in this fit.
    pub iteration: usize,
    /// All log smoothing parameters (fixed ones included).
    pub rho: &'a [f64],
    pub criterion: f64,
    pub coefficients: &'a [f64],
}

/// Sees every accepted outer iterate; an error (e.g. an interrupt) stops the fit.
pub type Progress<'a> = dyn FnMut(&Iterate<'_>) -> Result<()> + 'a;

/// How a model's criterion is computed: from `X'WX` formed once (Gaussian identity),
/// or through penalized IRLS from starting coefficients.
enum Problem {
    Gaussian(Gram),
    Glm {
        start: Array1<f64>,
        /// `X'WX` and `X'u` at the starting means: the first IRLS step again, at
        /// other smoothing parameters, when a fit starts warm.
        first_pass: (Array2<f64>, Array1<f64>),
    },
}

/// A model ready for the outer optimization: its design, penalties, and `X'WX` (or the
/// start of its penalized IRLS).
pub struct Prepared<'a> {
    pub design: Design<'a>,
    problem: Problem,
    /// The model matrix of a generalized fit, when held in memory.
    x: Option<Array2<f64>>,
    penalties: PenaltySet,
    /// Per parameter (smoothing parameters, then the family's extra parameters):
    /// `Some(log value)` when fixed.
    fixed: Vec<Option<f64>>,
    /// Number of smoothing parameters.
    n_smoothing: usize,
    /// The smoothing parameter of each penalty.
    links: Vec<usize>,
    /// The cold start; the optimizer's bounds are placed around it whatever the start,
    /// so that warm and cold fits solve the same problem.
    rho_init: Vec<f64>,
    /// Whether the family's own parameter (theta, the Tweedie power) is estimated
    /// (outside these parameters, by `optimize`).
    family_parameter: bool,
    /// Whether a search from a given start checks, once it ends, that parameters it
    /// left far from the cold start are not on a plateau a cold search would not
    /// stop on (`off_plateau`). Set for starts that are not this fit's own (a
    /// checkpoint of the store); one more inner fit when it applies.
    pub check_plateau: bool,
}

/// How far (in log smoothing parameter) a start from elsewhere may lie from the cold
/// start: far enough for any optimum a cold search finds nearby, near enough that
/// the criterion is not yet flat (it flattens like `exp(-|rho - rho_init|)`).
const SEED_RANGE: f64 = 10.0;

/// Builds the model and makes the one pass over the data that forms `X'WX` (for a
/// generalized family: at the starting means, which also gives the first penalized
/// IRLS step), polling `interrupted` on the way.
pub fn prepare<'a>(spec: &'a ModelSpec<'_>, interrupted: &mut dyn FnMut() -> bool) -> Result<Prepared<'a>> {
    validate(spec)?;
    let design = design(spec)?;
    let (n, p) = (design.nrows(), design.ncols());
    if n < p {
        return Err(EngineError::TooFewRows { rows: n, coefficients: p });
    }
    let penalties = penalty_set(&design);
    let links = design.penalty_links();
    let m = design.n_smoothing_parameters();
    let mut fixed: Vec<Option<f64>> = if spec.sp.is_empty() {
        vec![None; m]
    } else if spec.sp.len() == m {
        spec.sp.iter().map(|v| v.map(|l| l.max(f64::MIN_POSITIVE).ln())).collect()
    } else {
        return Err(EngineError::InvalidSpec { what: format!("sp has {} entries but the model has {m} smoothing parameters", spec.sp.len()) });
    };
    // A shared parameter starts from the mean of its penalties' starts.
    let pool = |per_penalty: Vec<f64>| -> Vec<f64> {
        (0..m)
            .map(|k| {
                let linked: Vec<f64> = links.iter().zip(&per_penalty).filter(|(l, _)| **l == k).map(|(_, r)| *r).collect();
                linked.iter().sum::<f64>() / linked.len() as f64
            })
            .collect()
    };
    let mut x = None;
    let (problem, rho_init) = if spec.family.is_gaussian_identity() {
        let gram = gram(&design, &spec.y, &spec.weights, &spec.offset, spec.threads, interrupted)?;
        let rho_init = pool(initial_rho(&gram.xtwx, &penalties));
        (Problem::Gaussian(gram), rho_init)
    } else {
        // Wide random effects stay level codes (`rows::Layout`): only the dense
        // columns are held.
        let layout = rows::Layout::of(&design);
        if n.saturating_mul(layout.dense_width()).saturating_mul(8) <= MAX_DESIGN_BYTES {
            x = Some(model_matrix(&design, &layout, spec.threads, interrupted)?);
        }
        let (xtwx, xtu) = {
            let data = glm_data(spec, &design, &penalties, x.as_ref());
            let eta = data.start_eta();
            if data.deviance(&eta).is_none() {
                return Err(EngineError::InvalidSpec { what: "no valid starting values: the starting means are outside the family's range".into() });
            }
            let (w, u) = data.working(&eta, true)?;
            data.cross_products(&w, &u, interrupted)?
        };
        let mut rho_init = pool(initial_rho(&xtwx, &penalties));
        // The first IRLS step, at the starting smoothing parameters.
        let mut h = xtwx.clone();
        penalties.add_to(&mut h, &penalty_rho(&links, &rho_init).iter().map(|r| r.exp()).collect::<Vec<_>>());
        let start = linalg::SpdFactor::new(h.view())
            .map(|f| f.solve_vec(xtu.as_slice().expect("contiguous")))
            .filter(|b| b.iter().all(|v| v.is_finite()))
            .ok_or_else(|| EngineError::NotIdentifiable {
                detail: "X'WX + S is not positive definite at the starting values; check for aliased parametric terms".into(),
            })?;
        if scale_parameter(spec) {
            // The scale starts at the Pearson statistic per observation of the first step.
            let eta = design.fitted(start.as_slice().expect("contiguous"), &spec.offset, spec.threads);
            let fam = &spec.family;
            let pearson: f64 = (0..n)
                .map(|i| {
                    let mu = fam.mean(eta[i]);
                    spec.weights[i] * (spec.y[i] - mu).powi(2) / fam.distribution.variance(mu)[0]
                })
                .sum();
            let phi = pearson / n as f64;
            rho_init.push(if phi.is_finite() && phi > 0.0 { phi.ln() } else { 0.0 });
            fixed.push(None);
        }
        (Problem::Glm { start, first_pass: (xtwx, xtu) }, rho_init)
    };
    Ok(Prepared { design, problem, x, penalties, fixed, n_smoothing: m, links, rho_init, family_parameter: spec.estimate_parameter, check_plateau: false })
}

/// Whether the scale is estimated with the smoothing parameters (REML/ML of a
/// generalized family whose scale is unknown, as mgcv does).
fn scale_parameter(spec: &ModelSpec<'_>) -> bool {
    !spec.family.is_gaussian_identity() && !spec.family.scale_known() && matches!(spec.method, Method::Reml | Method::Ml)
}

fn glm_data<'b, 'd>(spec: &'b ModelSpec<'_>, design: &'b Design<'d>, penalties: &'b PenaltySet, x: Option<&'b Array2<f64>>) -> GlmData<'b, 'd> {
    GlmData {
        design,
        penalties,
        family: spec.family,
        y: &spec.y,
        w: &spec.weights,
        offset: &spec.offset,
        threads: spec.threads,
        x,
        layout: rows::Layout::of(design),
    }
}

/// From this many rows a cold generalized fit starts from performance iteration.
const PERFORMANCE_FROM_ROWS: usize = 10_000;
/// Generalized fits of fewer rows take the converged search's last Newton step too
/// (`outer::polish`): an inner fit and a derivative pass over them cost little.
const POLISH_BELOW_ROWS: usize = 10_000;

/// A generalized fit passes over the data several times per outer iteration: up to
/// this size the model matrix is formed once and held in memory rather than
/// evaluated from the bases on every pass.
pub const MAX_DESIGN_BYTES: usize = 1 << 30;

/// The model matrix's dense columns (`layout`), formed a chunk of rows at a time, in
/// contiguous blocks of rows over `threads` (evaluating the bases is most of a pass:
/// at 1e6 rows it took as long as two `X'WX`). Only the calling thread polls `interrupted`; it tells the
/// others to stop.
fn model_matrix(design: &Design<'_>, layout: &rows::Layout<'_>, threads: usize, interrupted: &mut dyn FnMut() -> bool) -> Result<Array2<f64>> {
    use std::sync::atomic::{AtomicBool, Ordering};
    // Below this, a thread costs more than it saves.
    const ROWS_PER_THREAD: usize = 20_000;
    let (n, p) = (design.nrows(), layout.dense_width());
    let mut x = Array2::<f64>::zeros((n, p).f());
    let parts = threads.clamp(1, (n / ROWS_PER_THREAD).max(1));
    let per = n.div_ceil(parts).max(1);
    let stop = AtomicBool::new(false);
    let fill_block = |first: usize, mut block: ndarray::ArrayViewMut2<'_, f64>, poll: &mut dyn FnMut() -> bool| -> bool {
        let rows = block.nrows();
        let mut buf = Array2::<f64>::zeros((linalg::CHUNK_ROWS.min(rows.max(1)), p).f());
        let mut scratch = Vec::new();
        let mut at = 0;
        while at < rows {
            if poll() {
                return false;
            }
            let len = linalg::CHUNK_ROWS.min(rows - at);
            design.fill_rows_except(first + at, len, &mut buf, &mut scratch, layout.skip());
            block.slice_mut(s![at..at + len, ..]).assign(&buf.slice(s![..len, ..]));
            at += len;
        }
        true
    };
    let completed = std::thread::scope(|scope| {
        let mut blocks = x.axis_chunks_iter_mut(ndarray::Axis(0), per).enumerate();
        let (_, own) = blocks.next().expect("at least one block");
        let workers: Vec<_> = blocks
            .map(|(t, block)| {
                let (fill_block, stop) = (&fill_block, &stop);
                scope.spawn(move || fill_block(t * per, block, &mut || stop.load(Ordering::Relaxed)))
            })
            .collect();
        let mine = fill_block(0, own, &mut rows::signalling(interrupted, &stop));
        let theirs = workers.into_iter().all(|w| w.join().expect("a model matrix worker panicked"));
        mine && theirs
    });
    if !completed {
        return Err(EngineError::Interrupted);
    }
    Ok(x)
}

impl<'a> Prepared<'a> {
    /// Number of smoothing parameters (fixed ones included).
    pub fn n_sp(&self) -> usize {
        self.fixed.len()
    }

    /// A start taken from a fit to other data, made safe to start from. Beyond a
    /// certain distance from the balanced start a smoothing parameter sits on the
    /// criterion's plateau (a term fully penalized, or not at all), where the
    /// gradient vanishes: started there, the optimizer would stop there even when this
    /// data's optimum is a finite value it would reach from a cold start. Within
    /// `e^10` of the balanced start the criterion still slopes towards the optimum.
    pub fn seed_start(&self, seed: &[f64]) -> Option<Vec<f64>> {
        // An estimated family parameter (log theta) follows, and is kept as it is.
        let n = self.n_sp();
        (seed.len() == n || (self.family_parameter && seed.len() == n + 1)).then(|| {
            seed.iter().zip(&self.rho_init).map(|(r, i)| r.clamp(i - SEED_RANGE, i + SEED_RANGE)).chain(seed[n..].iter().copied()).collect()
        })
    }

    /// The box around the cold start that a search of the `free` parameters keeps to.
    ///
    /// The start balances each penalty against its block of X'WX. Far below it a
    /// term is unpenalized to working precision. Far above it the fit no longer
    /// changes (the term's penalized part is shrunk by e^-25 ~ 1e-11), while the
    /// penalized system loses digits: with the penalty e^k times the data, the
    /// penalty's null space keeps only ~16 - k/2.3 of them, and beyond ~e^30 the
    /// criterion is numerical noise an optimizer would wander in, to a point that
    /// depends on where it started. Penalized IRLS needs more: its Newton steps
    /// are solves with that system, and at e^25 they are rounding noise in the
    /// penalty's null space (a step halving cannot repair), so a generalized fit
    /// stops at e^20, where the penalized part is already shrunk by ~2e-9.
    fn bounds(&self, free: &[usize]) -> (Vec<f64>, Vec<f64>) {
        let reach = if matches!(self.problem, Problem::Glm { .. }) { 20.0 } else { 25.0 };
        let lower = free.iter().map(|&j| self.rho_init[j] - 40.0).collect();
        let upper = free.iter().map(|&j| self.rho_init[j] + if j < self.n_smoothing { reach } else { 25.0 }).collect();
        (lower, upper)
    }

    /// For a point `rho` (of the `free` parameters) at which the criterion is
    /// `value`: when some smoothing parameters lie more than `SEED_RANGE` from the
    /// cold start, the point with those put back at the cold start, if the criterion
    /// is lower there (by more than the tolerance). A cold search starts there and
    /// goes downhill; a point beyond a plateau that is higher than it is not where a
    /// cold search ends, however flat the criterion is around it.
    fn off_plateau(&self, objective: &mut FreeObjective<'_, '_>, free: &[usize], rho: &[f64], value: f64, tol: f64) -> Result<Option<Vec<f64>>> {
        let mut probe = rho.to_vec();
        let mut moved = false;
        for (i, &j) in free.iter().enumerate() {
            if j < self.n_smoothing && (rho[i] - self.rho_init[j]).abs() > SEED_RANGE {
                probe[i] = self.rho_init[j];
                moved = true;
            }
        }
        if !moved {
            return Ok(None);
        }
        Ok(match objective.evaluate(&probe, false) {
            Ok(eval) if eval.value < value - tol * (1.0 + value.abs()) => Some(probe),
            Err(EngineError::Interrupted) => return Err(EngineError::Interrupted),
            _ => None,
        })
    }

    #[cfg(test)]
    fn objective<'s>(&'s self, spec: &'s ModelSpec<'_>) -> FreeObjective<'s, 'a> {
        self.objective_from(spec, None)
    }

    /// The objective, whose inner fits start from `start` when given.
    fn objective_from<'s>(&'s self, spec: &'s ModelSpec<'_>, start: Option<&[f64]>) -> FreeObjective<'s, 'a> {
        let criterion = match &self.problem {
            Problem::Gaussian(gram) => Criterion::Gaussian { gram, penalties: &self.penalties, method: spec.method, gamma: spec.gamma },
            Problem::Glm { start: first, .. } => {
                let settings = LamlSettings { method: spec.method, gamma: spec.gamma, scale_param: scale_parameter(spec), hessian_rows: laml::HESSIAN_ROWS };
                let start = match start {
                    Some(b) if b.len() == self.design.ncols() => Array1::from(b.to_vec()),
                    _ => first.clone(),
                };
                Criterion::Glm(GlmObjective::new(glm_data(spec, &self.design, &self.penalties, self.x.as_ref()), settings, start))
            }
        };
        FreeObjective { criterion, fixed: &self.fixed, links: &self.links, n_sp: self.n_smoothing }
    }

    /// Chooses the smoothing parameters (and an estimated family parameter, whose
    /// search coordinate, `log(theta)` or the Tweedie power, follows them in `start`
    /// and in the fit's `extra`) from `start` (the cold start when `None`), and
    /// reports the fit.
    pub fn optimize(&self, spec: &ModelSpec<'_>, start: Option<&[f64]>, progress: &mut Progress<'_>) -> Result<FitResult> {
        let search = match (spec.estimate_parameter, spec.family.parameter_search()) {
            (true, Some(search)) => search,
            _ => return self.optimize_fixed(spec, start, progress, true),
        };
        let n = self.n_sp();
        let (mut warm, c0) = match start {
            Some(s) if s.len() == n + 1 => (Some(s[..n].to_vec()), s[n]),
            Some(s) if s.len() == n => (Some(s.to_vec()), search.start),
            _ => (None, search.start),
        };
        let at = |c: f64| ModelSpec { family: spec.family.at_coordinate(c), ..spec.clone() };
        let mut best: Option<FitResult> = None;
        let mut iterations = 0;
        {
            // The criterion at coordinate c, with the smoothing parameters chosen there.
            // Each search starts from the best point so far, brought within reach of
            // the criterion's slope (`seed_start`): at a poor value the smoothing
            // parameters may run off to the plateau, where a search started there
            // would stop at once. A value where the fit fails (an inner iteration
            // diverging at an extreme value) is worse than any where it succeeds; an
            // interrupt stops the search.
            let mut at_value = |c: f64| -> Result<f64> {
                let mut fit = match self.optimize_fixed(&at(c), warm.as_deref(), progress, false) {
                    Err(EngineError::Interrupted) => return Err(EngineError::Interrupted),
                    Err(_) => return Ok(f64::INFINITY),
                    Ok(fit) => fit,
                };
                iterations += fit.iterations;
                let value = fit.criterion;
                fit.extra.push(c);
                if best.as_ref().is_none_or(|b| value < b.criterion) {
                    let rho: Vec<f64> = fit.sp.iter().map(|v| v.ln()).chain(fit.extra[..fit.extra.len() - 1].iter().copied()).collect();
                    warm = self.seed_start(&rho).or(warm.take());
                    best = Some(fit);
                }
                Ok(value)
            };
            profile::minimize(&mut at_value, search.lo, search.hi, c0.clamp(search.lo, search.hi), search.step, 1e-6)?;
        }
        let best = best.ok_or_else(|| EngineError::InvalidSpec { what: "no value of the family's parameter gave a fit".into() })?;
        // The fit at the chosen value again, from its own smoothing parameters (no
        // iterations to speak of), now with the covariance corrected for their
        // uncertainty, which the trial fits did without.
        let c = *best.extra.last().expect("the coordinate follows");
        let rho: Vec<f64> = best.sp.iter().map(|v| v.ln()).chain(best.extra[..best.extra.len() - 1].iter().copied()).collect();
        let mut fit = self.optimize_fixed(&at(c), Some(&rho), progress, true)?;
        fit.extra.push(c);
        fit.iterations += iterations;
        Ok(fit)
    }

    /// The fit at the family as `spec` gives it (no family parameter estimated).
    /// `uncertainty`: also compute the covariance corrected for the smoothing
    /// parameters' uncertainty.
    fn optimize_fixed(&self, spec: &ModelSpec<'_>, start: Option<&[f64]>, progress: &mut Progress<'_>, uncertainty: bool) -> Result<FitResult> {
        // A generalized fit started warm takes its first coefficients from the first
        // IRLS step at the warm start's smoothing parameters, not the cold start's:
        // far from them, the inner iteration would need many steps to get there.
        let warm_coefficients = match (&self.problem, start) {
            (Problem::Glm { first_pass: (xtwx, xtu), .. }, Some(rho)) if rho.len() == self.n_sp() => {
                let mut h = xtwx.clone();
                let lambda: Vec<f64> = penalty_rho(&self.links, &rho[..self.n_smoothing]).iter().map(|r| r.exp()).collect();
                self.penalties.add_to(&mut h, &lambda);
                linalg::SpdFactor::new(h.view())
                    .map(|f| f.solve_vec(xtu.as_slice().expect("contiguous")).to_vec())
                    .filter(|b| b.iter().all(|v| v.is_finite()))
            }
            _ => None,
        };
        // A generalized fit of many rows starts where performance iteration leaves
        // it (`performance_start`, from the given start when there is one): few
        // passes over the data bring it close, closer than another sample's optimum
        // (a seed) is, since they bring the coefficients close too.
        let performance = match &self.problem {
            Problem::Glm { .. } if self.design.nrows() >= PERFORMANCE_FROM_ROWS => {
                let from = start.filter(|s| s.len() == self.n_sp()).unwrap_or(&self.rho_init);
                self.performance_start(spec, from).ok().flatten()
            }
            _ => None,
        };
        let warm_coefficients = match &performance {
            Some((_, beta)) => Some(beta.to_vec()),
            None => warm_coefficients,
        };
        let warm_start = self.check_plateau && start.is_some_and(|s| s != &self.rho_init[..]);
        let start = performance.as_ref().map(|(rho, _)| rho.as_slice()).or(start);
        let mut objective = self.objective_from(spec, warm_coefficients.as_deref());
        let free = objective.free_index();
        let from = start.filter(|s| s.len() == self.n_sp()).unwrap_or(&self.rho_init);
        let start: Vec<f64> = free.iter().map(|&j| from[j]).collect();
        let (lower, upper) = self.bounds(&free);
        let settings = NewtonSettings { max_iter: spec.control.max_iter, tol: spec.control.tol, max_step: spec.control.max_step, lower, upper };
        let fixed = &self.fixed;
        let mut monitor = |iteration: usize, rho: &[f64], eval: &Eval| -> Result<()> {
            let full = full_rho(fixed, rho);
            progress(&Iterate { iteration, rho: &full, criterion: eval.value, coefficients: &eval.coefficients })
        };
        let mut result = match newton(&mut objective, &start, &settings, &mut monitor) {
            // A warm start (from a fit to other data) where this model's penalized
            // system is numerically singular: start cold instead.
            Err(EngineError::NotIdentifiable { .. }) if from != &self.rho_init[..] => {
                let cold: Vec<f64> = free.iter().map(|&j| self.rho_init[j]).collect();
                newton(&mut objective, &cold, &settings, &mut monitor)?
            }
            other => other?,
        };
        // A start from elsewhere (a checkpoint) may sit on a plateau where the
        // criterion is flat and the search stops at once, which a cold search,
        // coming from `rho_init`, would not reach: move such parameters back and
        // search again if that is better.
        if warm_start {
            if let Some(restart) = self.off_plateau(&mut objective, &free, &result.rho, result.eval.value, spec.control.tol)? {
                result = newton(&mut objective, &restart, &settings, &mut monitor)?;
            }
        }
        // The Hessian reported with the fit (and behind `gam_check()`'s report) is
        // formed from many more rows than the iterations' (every row up to
        // `REPORTED_HESSIAN_ROWS`).
        if let Criterion::Glm(g) = &mut objective.criterion {
            if self.design.nrows() > laml::HESSIAN_ROWS && !result.eval.grad.is_empty() {
                g.settings.hessian_rows = laml::REPORTED_HESSIAN_ROWS;
                result.eval = objective.evaluate(&result.rho, true)?;
            }
        }
        let params = objective.full_rho(&result.rho);
        let per_penalty = penalty_rho(&self.links, &params[..self.n_smoothing]);
        let sensitivity = if uncertainty { self.sensitivity(spec, &mut objective, &params, &per_penalty, &result.eval.hess)? } else { None };
        let mut fit = match &mut objective.criterion {
            Criterion::Gaussian { gram, .. } => finish(spec, &self.design, gram, &self.penalties, &per_penalty, &result, sensitivity)?,
            Criterion::Glm(g) => {
                let inner = g.inner(&per_penalty)?.clone();
                let lambda: Vec<f64> = per_penalty.iter().map(|r| r.exp()).collect();
                // mgcv's tw() reports the scale REML chose; other families Fletcher's.
                let reml_scale = (spec.estimate_parameter && matches!(spec.family.distribution, Distribution::Tweedie { .. }))
                    .then(|| params.get(self.n_smoothing).map(|r| r.exp()))
                    .flatten();
                finish_glm(spec, &g.data, &inner, &lambda, &result, sensitivity, reml_scale)?
            }
        };
        fit.sp = params[..self.n_smoothing].iter().map(|r| r.exp()).collect();
        fit.extra = params[self.n_smoothing..].to_vec();
        Ok(fit)
    }

    /// A start for a generalized fit by performance iteration (Gu 1992, SIAM J. Sci.
    /// Stat. Comput. 13:1059; Wood 2017 §6.1.1, mgcv's `bam`): alternate one Fisher
    /// scoring step's working linear model with the choice of its smoothing parameters
    /// by the Gaussian criterion (no further pass over the data), until the smoothing
    /// parameters settle. Each round costs one pass; the exact Laplace criterion's
    /// optimum, which the Newton iteration then finds, is usually a few steps away.
    /// Returns all parameters (the family's extra ones as `from` has them) and the last
    /// coefficients; `None` when a round fails (the start is used as it is).
    fn performance_start(&self, spec: &ModelSpec<'_>, from: &[f64]) -> Result<Option<(Vec<f64>, Array1<f64>)>> {
        const ROUNDS: usize = 8;
        const SETTLED: f64 = 0.02;
        let Problem::Glm { first_pass, .. } = &self.problem else { return Ok(None) };
        let data = glm_data(spec, &self.design, &self.penalties, self.x.as_ref());
        let m = self.n_smoothing;
        let mut rho = from.to_vec();
        let mut eta = data.start_eta();
        let mut beta = None;
        for round in 0..ROUNDS {
            let (w, u) = data.working(&eta, true)?;
            let (xtwx, xtwy) = if round == 0 { first_pass.clone() } else { data.cross_products(&w, &u, &mut || false)? };
            let positive = || w.iter().zip(&u).filter(|(w, _)| **w > 0.0);
            let gram = Gram {
                xtwx,
                xtwy,
                ytwy: positive().map(|(w, u)| u * u / w).sum(),
                n: positive().count() as f64,
                sum_log_w: positive().map(|(w, _)| w.ln()).sum(),
            };
            let method = if spec.method == Method::Gcv { Method::Gcv } else { Method::Reml };
            let mut working = FreeObjective {
                criterion: Criterion::Gaussian { gram: &gram, penalties: &self.penalties, method, gamma: spec.gamma },
                fixed: &self.fixed[..m],
                links: &self.links,
                n_sp: m,
            };
            let free = working.free_index();
            let settings = NewtonSettings {
                max_iter: 50,
                tol: 1e-6,
                max_step: spec.control.max_step,
                lower: free.iter().map(|&j| self.rho_init[j] - 40.0).collect(),
                upper: free.iter().map(|&j| self.rho_init[j] + 20.0).collect(),
            };
            let from: Vec<f64> = free.iter().map(|&j| rho[j]).collect();
            let result = newton(&mut working, &from, &settings, &mut |_: usize, _: &[f64], _: &Eval| Ok(()))?;
            let next = working.full_rho(&result.rho);
            let change = next.iter().zip(&rho[..m]).fold(0.0_f64, |a, (x, y)| a.max((x - y).abs()));
            rho[..m].copy_from_slice(&next);
            let b = Array1::from(result.eval.coefficients.clone());
            eta = self.design.fitted(b.as_slice().expect("contiguous"), &spec.offset, spec.threads);
            if data.deviance(&eta).is_none() {
                return Ok(None);
            }
            beta = Some(b);
            if change < SETTLED {
                break;
            }
        }
        Ok(beta.map(|b| (rho, b)))
    }

    /// How the fit moves with the free smoothing parameters at the optimum, for the
    /// covariance corrected for their uncertainty; `None` under GCV/UBRE (which has
    /// no likelihood to give them a distribution, as in mgcv) or with none to estimate.
    fn sensitivity(
        &self,
        spec: &ModelSpec<'_>,
        objective: &mut FreeObjective<'_, '_>,
        params: &[f64],
        per_penalty: &[f64],
        hess: &Array2<f64>,
    ) -> Result<Option<uncertainty::Sensitivity>> {
        let free_sp: Vec<usize> = objective.free_index().into_iter().filter(|&j| j < self.n_smoothing).collect();
        if spec.method == Method::Gcv || free_sp.is_empty() || hess.is_empty() {
            return Ok(None);
        }
        let (per_penalty_db, scale_terms) = match &mut objective.criterion {
            Criterion::Gaussian { gram, penalties, method, gamma } => {
                let pls = criterion::pls_fit(gram, penalties, per_penalty)?;
                (criterion::beta_sensitivities(&pls, penalties), Some(criterion::scale_curvature(gram, penalties, *method, *gamma, &pls)))
            }
            Criterion::Glm(g) => (g.beta_derivatives(per_penalty, params.get(self.n_smoothing).copied().unwrap_or(0.0))?, None),
        };
        let p = per_penalty_db.nrows();
        let m = free_sp.len();
        // Each penalty's free parameter, if its parameter is free.
        let column_of: Vec<Option<usize>> = self.links.iter().map(|&link| free_sp.iter().position(|&j| j == link)).collect();
        let mut db_drho = Array2::<f64>::zeros((p, m));
        let mut lambda_of = vec![vec![0.0; per_penalty.len()]; m];
        for (i, c) in column_of.iter().enumerate() {
            if let Some(c) = *c {
                db_drho.column_mut(c).scaled_add(1.0, &per_penalty_db.column(i));
                lambda_of[c][i] = per_penalty[i].exp();
            }
        }
        // The Gaussian criterion profiles the scale out: put its row and column back
        // (`criterion::scale_curvature`), so that the inverse is mgcv's.
        let hess = match scale_terms {
            Some((curvature, cross)) => {
                let mut v = vec![0.0; m];
                for (i, c) in column_of.iter().enumerate() {
                    if let Some(c) = *c {
                        v[c] += cross[i];
                    }
                }
                Array2::from_shape_fn((m + 1, m + 1), |(a, b)| match (a < m, b < m) {
                    (true, true) => hess[(a, b)] + v[a] * v[b] / curvature,
                    (true, false) => v[a],
                    (false, true) => v[b],
                    (false, false) => curvature,
                })
            }
            None => hess.clone(),
        };
        Ok(Some(uncertainty::Sensitivity { db_drho, hess, lambda_of }))
    }

    /// Whether a stored fit is what this model gives at the stored smoothing
    /// parameters: one inner fit there must reproduce its criterion value and
    /// coefficients, and the gradient must be as small as convergence left it.
    pub fn verify(&self, spec: &ModelSpec<'_>, stored: &FitResult) -> bool {
        let mut rho: Vec<f64> = stored.sp.iter().map(|l| l.ln()).chain(stored.extra.iter().copied()).collect();
        if rho.len() != self.n_sp() + usize::from(self.family_parameter) {
            return false;
        }
        // At the stored family parameter, when it was estimated.
        let at;
        let spec = if self.family_parameter {
            let c = rho.pop().expect("the coordinate follows");
            at = ModelSpec { family: spec.family.at_coordinate(c), ..spec.clone() };
            &at
        } else {
            spec
        };
        let mut objective = self.objective_from(spec, Some(&stored.coefficients));
        let free_index = objective.free_index();
        let free: Vec<f64> = free_index.iter().map(|&j| rho[j]).collect();
        // Where a cold search can go at all.
        let (lower, upper) = self.bounds(&free_index);
        if free.iter().zip(lower.iter().zip(&upper)).any(|(r, (lo, hi))| !(lo <= r && r <= hi)) {
            return false;
        }
        let Ok(eval) = objective.evaluate(&free, true) else { return false };
        // Not a plateau a cold search would not stop on.
        if !matches!(self.off_plateau(&mut objective, &free_index, &free, eval.value, spec.control.tol), Ok(None)) {
            return false;
        }
        let scale = 1.0 + eval.value.abs();
        let close = |a: f64, b: f64| (a - b).abs() <= 1e-8 * (1.0 + a.abs().max(b.abs()));
        // Convergence leaves the gradient below `tol * scale`; a bound-pinned
        // parameter may keep a larger one pointing outwards, as may a fit that
        // stopped on `no progress` at the looser sqrt(tol) level.
        let max_grad = eval.grad.iter().fold(0.0_f64, |a, g| a.max(g.abs()));
        let grad_ok = max_grad <= spec.control.tol.sqrt() * scale || stored.gradient.iter().zip(eval.grad.iter()).all(|(a, b)| close(*a, *b));
        close(eval.value, stored.criterion)
            && grad_ok
            && eval.coefficients.len() == stored.coefficients.len()
            && eval.coefficients.iter().zip(&stored.coefficients).all(|(a, b)| close(*a, *b))
    }
}

/// Rebuilds a stored fit without iterating: the bases come from `smooths` (as stored
/// with the fit) or are constructed again, and the fitted values are recomputed;
/// everything costly comes from `stored`.
pub fn rebuild<'a>(spec: &'a ModelSpec<'_>, stored: FitResult, smooths: Option<Vec<Smooth>>) -> Result<(Design<'a>, FitResult)> {
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

/// A stored fit on an already built design: only the fitted values are computed.
pub fn restore(spec: &ModelSpec<'_>, design: &Design<'_>, mut stored: FitResult) -> Result<FitResult> {
    let p = design.ncols();
    let shapes_match = stored.coefficients.len() == p
        && stored.edf.len() == p
        && stored.edf1.len() == p
        && stored.vp.dim() == (p, p)
        && stored.ve.dim() == (p, p)
        && stored.sp.len() + stored.extra.len() == design.n_smoothing_parameters() + n_extra(spec)
        && stored.term_tests.len() == design.smooths.len()
        && stored.vc.as_ref().is_none_or(|v| v.dim() == (p, p))
        && stored.edf2.as_ref().is_none_or(|e| e.len() == p);
    if !shapes_match {
        return Err(EngineError::InvalidSpec { what: "a stored fit does not match the model".into() });
    }
    // A stored entry keeps every parameter in one vector: split off the extra ones.
    let m = design.n_smoothing_parameters();
    if stored.extra.is_empty() && stored.sp.len() > m {
        stored.extra = stored.sp.split_off(m).iter().map(|v| v.ln()).collect();
    }
    stored.linear_predictor = design.fitted(&stored.coefficients, &spec.offset, spec.threads);
    if !stored.null_deviance.is_finite() {
        stored.null_deviance = null_deviance(spec, design);
    }
    stored.iterations = 0;
    Ok(stored)
}

/// Number of family parameters estimated with the smoothing parameters.
fn n_extra(spec: &ModelSpec<'_>) -> usize {
    usize::from(scale_parameter(spec)) + usize::from(spec.estimate_parameter)
}

/// The deviance of the null model, as mgcv reports it.
fn null_deviance(spec: &ModelSpec<'_>, design: &Design<'_>) -> f64 {
    if spec.family.is_gaussian_identity() {
        gaussian_null_deviance(spec)
    } else {
        let penalties = PenaltySet::new(design.ncols(), Vec::new());
        glm::null_deviance(&glm_data(spec, design, &penalties, None), spec.intercept)
    }
}

/// The Gaussian null deviance: around the weighted mean of `y - offset` with an
/// intercept; without one, of `y - offset` itself under GCV and around the weighted
/// mean of `y` otherwise.
fn gaussian_null_deviance(spec: &ModelSpec<'_>) -> f64 {
    let (y, w, offset) = (&spec.y[..], &spec.weights[..], &spec.offset[..]);
    let subtract_offset = spec.intercept || spec.method == Method::Gcv;
    let value = |i: usize| if subtract_offset { y[i] - offset[i] } else { y[i] };
    let centre = if spec.intercept || spec.method != Method::Gcv {
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


fn full_rho(fixed: &[Option<f64>], free: &[f64]) -> Vec<f64> {
    let mut it = free.iter();
    fixed.iter().map(|f| f.unwrap_or_else(|| *it.next().expect("free parameter"))).collect()
}

/// Everything reported at the chosen smoothing parameters.
fn finish(
    spec: &ModelSpec<'_>,
    design: &Design<'_>,
    gram: &Gram,
    penalties: &PenaltySet,
    rho: &[f64],
    result: &outer::OuterResult,
    sensitivity: Option<uncertainty::Sensitivity>,
) -> Result<FitResult> {
    let pls = criterion::pls_fit(gram, penalties, rho)?;
    let influence = Influence::new(&pls.h_inv, &gram.xtwx, penalties.diagonal_block(&gram.xtwx), spec.threads);
    let tau = influence.tau();
    let dev = criterion::deviance(gram, &pls).max(0.0);
    // mgcv reports the scale as the residual variance D / (n - tau) for every method,
    // with n counting zero-weight rows too except under GCV.
    let n_scale = if spec.method == Method::Gcv { gram.n } else { spec.y.len() as f64 };
    let scale = dev / (n_scale - tau);
    let vp = &pls.h_inv * scale;
    let ve = influence.frequentist_covariance(vp.view(), spec.threads);
    let Influence { edf, edf1, .. } = influence;
    let beta = pls.beta.to_vec();
    let linear_predictor = design.fitted(&beta, &spec.offset, spec.threads);
    let penalized = tests_smooth::Penalized { penalties, lambda: &pls.lambda, scale };
    let term_tests = tests_smooth::smooth_tests(design, &gram.xtwx, &penalized, &beta, &vp, &ve, &edf1);
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
        gradient: result.eval.grad.to_vec(),
        hessian_eigenvalues: if result.eval.hess.is_empty() { Vec::new() } else { linalg::sym_eigen(result.eval.hess.view()).0 },
        deviance: dev,
        null_deviance: gaussian_null_deviance(spec),
        null_space_dim: penalties.null_space_dim(),
        term_tests,
        extra: Vec::new(),
        inner_converged: true,
        vc,
        edf2,
    })
}

/// Everything a generalized fit reports at the chosen parameters, from the inner fit
/// there.
fn finish_glm(
    spec: &ModelSpec<'_>,
    data: &GlmData<'_, '_>,
    inner: &pirls::InnerFit,
    lambda: &[f64],
    result: &outer::OuterResult,
    sensitivity: Option<uncertainty::Sensitivity>,
    reml_scale: Option<f64>,
) -> Result<FitResult> {
    let summary = glm::summarize(data, inner, lambda, spec.family.scale_known(), reml_scale)?;
    // As mgcv, the correction's `X'WX` is the one behind `Vp` (expected information).
    let (vc, edf2) = sensitivity
        .map(|sens| uncertainty::corrected(&summary.xtwx_fisher, data.penalties, lambda, &sens, &summary.vp, summary.scale, &summary.edf1, spec.threads))
        .map(|c| (c.vc, c.edf2))
        .unzip();
    let beta = inner.beta.to_vec();
    let penalized = tests_smooth::Penalized { penalties: data.penalties, lambda, scale: summary.scale };
    let term_tests = tests_smooth::smooth_tests(data.design, &summary.xtwx_fisher, &penalized, &beta, &summary.vp, &summary.ve, &summary.edf1);
    Ok(FitResult {
        coefficients: beta,
        linear_predictor: inner.eta.clone(),
        edf: summary.edf,
        edf1: summary.edf1,
        vp: summary.vp,
        ve: summary.ve,
        scale: summary.scale,
        criterion: result.eval.value,
        sp: Vec::new(),
        termination: result.termination,
        iterations: result.iterations,
        gradient: result.eval.grad.to_vec(),
        hessian_eigenvalues: if result.eval.hess.is_empty() { Vec::new() } else { linalg::sym_eigen(result.eval.hess.view()).0 },
        deviance: inner.deviance,
        null_deviance: glm::null_deviance(data, spec.intercept),
        null_space_dim: data.penalties.null_space_dim(),
        term_tests,
        extra: Vec::new(),
        inner_converged: inner.converged,
        vc,
        edf2,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::ShapeBuilder;

    /// The fitted values, evaluated term by term without the model matrix, against
    /// the model matrix (chunk by chunk) times the coefficients.
    #[test]
    fn fitted_values_match_the_model_matrix() {
        let n = 1500;
        let x: Vec<f64> = (0..n).map(|i| ((i * 7919) % n) as f64 / n as f64).collect();
        let z: Vec<f64> = (0..n).map(|i| ((i * 104_729) % 1013) as f64 / 1013.0).collect();
        let by: Vec<f64> = (0..n).map(|i| 1.0 + (i % 3) as f64).collect();
        let smooth = |bs: &str, vars: Vec<Vec<f64>>, by: Option<Vec<f64>>| SmoothSpec {
            by: by.clone().map(Cow::Owned),
            ..SmoothSpec::for_tests(&format!("s.{bs}.{}", by.is_some()), bs, 9, vars)
        };
        let xp = Array2::from_shape_fn((n, 2).f(), |(i, j)| if j == 0 { 1.0 } else { z[i] });
        let smooths = vec![
            smooth("cr", vec![x.clone()], None),
            smooth("cc", vec![z.clone()], Some(by.clone())),
            smooth("ps", vec![x.clone()], Some(by)),
            smooth("tp", vec![x.clone(), z.clone()], None),
        ];
        let spec = ModelSpec::for_tests(z.clone(), xp, smooths);
        let design = design(&spec).unwrap();
        let p = design.ncols();
        let b: Vec<f64> = (0..p).map(|j| ((j * 37) % 11) as f64 - 5.0).collect();
        let got = design.fitted(&b, &vec![0.0; n], 2);
        let mut buf = Array2::zeros((CHUNK, p).f());
        let mut scratch = Vec::new();
        let mut max_err = 0.0_f64;
        for start in (0..n).step_by(CHUNK) {
            let rows = CHUNK.min(n - start);
            design.fill_rows(start, rows, &mut buf, &mut scratch);
            for r in 0..rows {
                let want: f64 = (0..p).map(|j| buf[(r, j)] * b[j]).sum();
                max_err = max_err.max((got[start + r] - want).abs() / (1.0 + want.abs()));
            }
        }
        assert!(max_err < 1e-11, "{max_err}");
    }

    const CHUNK: usize = 400;

    /// The model matrix formed in blocks of rows on two threads (and its terms
    /// built on two) is the one formed on one.
    #[test]
    fn model_matrix_on_threads_matches_one_thread() {
        let n = 45_000;
        let mut u = uniform_stream(3);
        let x: Vec<f64> = (0..n).map(|_| u()).collect();
        let z: Vec<f64> = (0..n).map(|_| u()).collect();
        let xp = Array2::from_shape_fn((n, 1).f(), |_| 1.0);
        let smooths = vec![
            SmoothSpec::for_tests("s(x)", "cr", 10, vec![x.clone()]),
            SmoothSpec::for_tests("s(z)", "ps", 8, vec![z]),
            SmoothSpec::for_tests("s(x, bs = \"cc\")", "cc", 6, vec![x]),
        ];
        let spec = |threads: usize| ModelSpec { threads, ..ModelSpec::for_tests(vec![0.0; n], xp.clone(), smooths.clone()) };
        let (one, two) = (spec(1), spec(2));
        let (d1, d2) = (design(&one).unwrap(), design(&two).unwrap());
        let a = model_matrix(&d1, &rows::Layout::dense(&d1), 1, &mut || false).unwrap();
        let b = model_matrix(&d2, &rows::Layout::dense(&d2), 2, &mut || false).unwrap();
        assert_eq!(a.dim(), b.dim());
        assert!(a.iter().zip(b.iter()).all(|(p, q)| p == q));
        // An interrupt on the calling thread stops the others too.
        let mut polls = 0;
        let stopped = model_matrix(&d2, &rows::Layout::dense(&d2), 2, &mut || {
            polls += 1;
            polls > 2
        });
        assert!(matches!(stopped, Err(EngineError::Interrupted)));
    }

    /// Performance iteration is only a start: the fit from it reaches the cold
    /// fit's optimum (a binary model, whose smoothing parameters it gets near).
    #[test]
    fn performance_start_reaches_the_cold_optimum() {
        let n = 2000;
        let mut unif = uniform_stream(7);
        let x: Vec<f64> = (0..n).map(|_| unif()).collect();
        let z: Vec<f64> = (0..n).map(|_| unif()).collect();
        let y: Vec<f64> = (0..n).map(|i| f64::from(unif() < 1.0 / (1.0 + (-(3.0 * x[i]).sin() - z[i] * z[i]).exp()))).collect();
        let smooth = |label: &str, v: Vec<f64>| SmoothSpec::for_tests(label, "cr", 10, vec![v]);
        let xp = Array2::from_elem((n, 1).f(), 1.0);
        let mut spec = ModelSpec::for_tests(y, xp, vec![smooth("s(x)", x), smooth("s(z)", z)]);
        spec.family = Family::from_r("binomial", "logit", "").unwrap();
        let prepared = prepare(&spec, &mut || false).unwrap();
        let (rho, beta) = prepared.performance_start(&spec, &prepared.rho_init).unwrap().expect("a start");
        assert_eq!(rho.len(), prepared.n_sp());
        assert_eq!(beta.len(), prepared.design.ncols());
        let cold = prepared.optimize(&spec, None, &mut |_: &Iterate<'_>| Ok(())).unwrap();
        let from = prepared.optimize(&spec, Some(&rho), &mut |_: &Iterate<'_>| Ok(())).unwrap();
        assert!((cold.criterion - from.criterion).abs() < 1e-8 * cold.criterion.abs());
        let err = cold.linear_predictor.iter().zip(&from.linear_predictor).fold(0.0_f64, |a, (p, q)| a.max((p - q).abs()));
        assert!(err < 1e-6, "{err}");
        // The start is close: fewer outer iterations than from the cold start.
        assert!(from.iterations <= cold.iterations, "{} vs {}", from.iterations, cold.iterations);
    }
}
