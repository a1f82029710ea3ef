//! The assembled model (`Design`): its smooth terms built on the data, the model
//! matrix `[Xp, X_1, ..., X_m]` a chunk of rows at a time, `X'WX` for the Gaussian
//! problem and the penalties in model-matrix coordinates.

use ndarray::{s, Array2, ArrayView2};

use crate::basis::{self, Smooth};
use crate::error::{EngineError, Result};

use super::penalty::{Penalty, PenaltySet};
use super::spec::{ModelSpec, ParametricPenalty};

/// The assembled model: the smooth terms, and the data they are evaluated on. The
/// model matrix `[Xp, X_1, ..., X_m]` is produced a chunk of rows at a time.
pub struct Design<'a> {
    pub smooths: Vec<Smooth>,
    /// First column of each smooth in the model matrix.
    pub first_col: Vec<usize>,
    pub(super) xp: ArrayView2<'a, f64>,
    pub(super) vars: Vec<Vec<&'a [f64]>>,
    pub(super) by: Vec<Option<&'a [f64]>>,
    /// Penalties on parametric columns (mgcv's `paraPen`), before the smooths'.
    pub parametric: &'a [ParametricPenalty],
    /// Per smooth, its raw basis on the data (row-major) when it is kept: for the
    /// classes whose rows cost radial functions against thousands of knots (thin
    /// plate in several dimensions, Duchon, sphere, soap films), within `RAW_BUDGET`, so that each
    /// pass over the data reads them instead of evaluating them again.
    raw: Vec<Option<Array2<f64>>>,
}

/// Most bytes the kept raw bases of one model may take.
const RAW_BUDGET: usize = 512 << 20;

/// Whether a term's raw basis is worth keeping: its rows are radial functions
/// against many knots (a one-dimensional thin plate spline is cheap to evaluate).
fn worth_keeping(sm: &Smooth) -> bool {
    match sm.basis.class() {
        "ds" | "sos" | "so" | "sf" | "sw" => true,
        "tp" | "gp" => sm.basis.n_vars().is_some_and(|d| d >= 2),
        _ => false,
    }
}

impl Design<'_> {
    pub fn nrows(&self) -> usize {
        self.xp.nrows()
    }

    /// The smoothing parameter of each penalty (in `penalty_set` order: the
    /// parametric penalties, then the smooths'): one each, except that the k-th
    /// penalties of terms with the same `id` share one.
    pub fn penalty_links(&self) -> Vec<usize> {
        let mut shared: Vec<((String, usize), usize)> = Vec::new();
        let mut next = self.parametric.len();
        let mut links: Vec<usize> = (0..next).collect();
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
    pub fn fill_rows_except(
        &self,
        start: usize,
        rows: usize,
        buf: &mut Array2<f64>,
        scratch: &mut Vec<f64>,
        skip: &[bool],
    ) {
        let p0 = self.xp.ncols();
        buf.slice_mut(s![..rows, ..p0]).assign(&self.xp.slice(s![start..start + rows, ..]));
        let mut at = p0;
        for (j, sm) in self.smooths.iter().enumerate() {
            if skip.get(j).copied().unwrap_or(false) {
                continue;
            }
            let by = self.by[j].map(|b| &b[start..start + rows]);
            let dst = buf.slice_mut(s![..rows, at..at + sm.ncoef()]);
            match &self.raw[j] {
                Some(raw) => {
                    let k = raw.ncols();
                    let all = raw.as_slice().expect("standard layout");
                    sm.fill_from_raw(&all[start * k..(start + rows) * k], by, dst);
                }
                None => sm.fill(&basis::rows(&self.vars[j], start, rows), by, scratch, dst),
            }
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
        const ROWS_PER_THREAD: usize = 4_096;
        let parts = threads.clamp(1, (n / ROWS_PER_THREAD).max(1));
        let per = n.div_ceil(parts).max(1);
        std::thread::scope(|scope| {
            for (t, block) in out.chunks_mut(per).enumerate() {
                scope.spawn(move || self.fitted_rows(t * per, b, block));
            }
        });
        out
    }

    pub(super) fn fitted_rows(&self, start: usize, b: &[f64], out: &mut [f64]) {
        let rows = out.len();
        for (j, col) in self.xp.columns().into_iter().enumerate() {
            let col = col.slice(s![start..start + rows]);
            out.iter_mut().zip(col).for_each(|(o, x)| *o += x * b[j]);
        }
        for (j, sm) in self.smooths.iter().enumerate() {
            let by = self.by[j].map(|v| &v[start..start + rows]);
            let at = self.first_col[j];
            let beta = &b[at..at + sm.ncoef()];
            match &self.raw[j] {
                Some(raw) => {
                    let k = raw.ncols();
                    let all = raw.as_slice().expect("standard layout");
                    sm.add_fitted_from_raw(&all[start * k..(start + rows) * k], by, beta, out);
                }
                None => sm.add_fitted(&basis::rows(&self.vars[j], start, rows), by, beta, out),
            }
        }
    }
}

/// Builds every smooth term of the model, the terms shared out over `spec.threads`
/// (placing knots sorts each covariate: at 1e6 rows that is most of the time).
pub fn design<'a>(spec: &'a ModelSpec<'_>) -> Result<Design<'a>> {
    if spec.smooths.iter().any(|s| s.knots_pending) {
        return Err(EngineError::KnotsPending);
    }
    let n = spec.xp.nrows();
    for sm_spec in &spec.smooths {
        // `basis::construct` checks `by` against the covariates.
        if sm_spec.vars.iter().any(|v| v.len() != n) {
            return Err(EngineError::InvalidSpec {
                what: format!("`{}` has a covariate of the wrong length", sm_spec.label),
            });
        }
    }
    let terms = spec.smooths.len();
    let parts = spec.threads.clamp(1, terms.max(1));
    // Threads left over when there are fewer terms than threads go to each term's
    // own set-up.
    let inner = (spec.threads / parts).max(1);
    type Kept = (Smooth, Option<Array2<f64>>);
    let built: Vec<Result<Kept>> = if parts == 1 {
        spec.smooths.iter().map(|sm| basis::construct_keeping_raw(sm, inner)).collect()
    } else {
        // Term j goes to thread j % parts; the results are put back in order.
        let mut slots: Vec<Option<Result<Kept>>> = (0..terms).map(|_| None).collect();
        std::thread::scope(|scope| {
            let handles: Vec<_> = (0..parts)
                .map(|t| {
                    scope.spawn(move || {
                        (t..terms)
                            .step_by(parts)
                            .map(|j| (j, basis::construct_keeping_raw(&spec.smooths[j], inner)))
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            for h in handles {
                for (j, r) in h.join().expect("a term construction thread panicked") {
                    slots[j] = Some(r);
                }
            }
        });
        slots.into_iter().map(|r| r.expect("every term built")).collect()
    };
    let (mut smooths, raws): (Vec<Smooth>, Vec<Option<Array2<f64>>>) =
        built.into_iter().collect::<Result<Vec<_>>>()?.into_iter().unzip();
    let mut budget = RAW_BUDGET;
    let raw = smooths
        .iter()
        .zip(raws)
        .map(|(sm, raw)| {
            let raw = raw.filter(|r| worth_keeping(sm) && r.nrows() == n && r.ncols() == sm.basis.width())?;
            let bytes = raw.len() * std::mem::size_of::<f64>();
            (bytes <= budget).then(|| {
                budget -= bytes;
                // Row-major, so that a chunk of rows is one slice (a copy only when
                // the class formed it column-major).
                raw.as_standard_layout().into_owned()
            })
        })
        .collect();
    super::nesting::apply(spec, &mut smooths, spec.threads)?;
    let mut design = assemble(spec, smooths);
    design.raw = raw;
    Ok(design)
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
            return Err(EngineError::InvalidSpec {
                what: format!("stored `{}` does not match the model", sm_spec.label),
            });
        }
    }
    let smooths = smooths.into_iter().zip(&spec.smooths).map(|(sm, sp)| Smooth { id: sp.id.clone(), ..sm }).collect();
    Ok(assemble(spec, smooths))
}

pub(super) fn assemble<'a>(spec: &'a ModelSpec<'_>, smooths: Vec<Smooth>) -> Design<'a> {
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
        parametric: &spec.parametric_penalties,
        raw: vec![None; spec.smooths.len()],
    }
}

pub fn penalty_set(design: &Design<'_>) -> PenaltySet {
    let parametric = design.parametric.iter().map(|p| Penalty { start: p.start, s: p.s.clone() });
    let penalties = parametric
        .chain(
            design
                .smooths
                .iter()
                .zip(&design.first_col)
                .flat_map(|(sm, &start)| sm.penalties().map(move |s| Penalty { start, s: s.clone() })),
        )
        .collect();
    PenaltySet::new(design.ncols(), penalties)
}
