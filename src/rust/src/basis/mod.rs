//! Smooth terms: one file per basis class, and here what every class shares — the
//! term spec, the identifiability constraint, `by` variables and penalty scaling.
//!
//! A term is constructed the way mgcv's `smoothCon` does it (Wood 2017 §5.4): the
//! class builds its raw basis `X` and penalty `S`; `S` is scaled so that
//! `||S||_1 = ||X||_inf^2` (so smoothing parameters are on mgcv's scale); a numeric
//! `by` multiplies the rows; the sum-to-zero constraint (column means of the raw `X`)
//! is absorbed unless the term does not need it.

pub mod ad;
pub mod bs;
pub mod cc;
pub mod constraint;
pub mod cp;
pub mod cr;
pub mod ds;
pub mod exp_line;
pub mod fs;
pub mod given;
pub mod gp;
pub mod knots;
pub mod mrf;
pub mod ps;
pub mod radial;
pub mod radial_line;
pub mod re;
pub mod registry;
pub mod size;
pub mod soap;
pub mod sos;
pub mod state;
pub mod sz;
pub mod tensor;
pub mod tp;

use std::borrow::Cow;

use ndarray::{Array2, ArrayViewMut2, ShapeBuilder};

use crate::error::{EngineError, Result};
use constraint::SumToZero;
use fs::FsBasis;
pub use registry::{class_entry, Basis, Built, ClassArgs, ClassEntry, Kind, RawBasis};
pub use state::{State, CLASSES, STATE_FIELDS};
use sz::SzBasis;
use tensor::{MarginSpec, TensorBasis};

/// What the R layer says about one smooth term.
/// Data columns borrow the R vectors they come from where they can (`Cow`), so a
/// fit copies none of its data.
#[derive(Debug, Clone)]
pub struct SmoothSpec<'a> {
    pub label: String,
    /// A single class, a tensor product of `margins`, or a factor smooth of the
    /// base class in `margins`.
    pub kind: Kind,
    /// Basis dimension; `None` for the class default.
    pub k: Option<usize>,
    /// The covariate columns, one per dimension.
    pub vars: Vec<Cow<'a, [f64]>>,
    /// Row multipliers (a numeric `by`, or a factor level's 0/1 indicator).
    pub by: Option<Cow<'a, [f64]>>,
    /// Whether to absorb the sum-to-zero constraint.
    pub centre: bool,
    /// Knots supplied by the user, or drawn from the data.
    pub knots: Option<Vec<f64>>,
    /// The knots are a random subsample of the data (a thin plate spline's
    /// `max.knots`), so they belong to the data, not to the model: the store's model
    /// key leaves them out, and its exact key covers them.
    pub knots_sampled: bool,
    /// How the R layer draws sampled knots from the data (mgcv's `max.knots` and
    /// seed, and R's random number generator kinds as codes): when given, the keys
    /// cover these instead of the drawn knots (which they determine with the data),
    /// so that an exact hit is found before the knots are drawn.
    pub knots_sample: Option<Vec<f64>>,
    /// The knots are to be drawn and are not yet (`knots_sample` says how): only an
    /// exact hit can be served; anything else is `EngineError::KnotsPending`.
    pub knots_pending: bool,
    /// Penalty/basis orders (`m`); empty for the class default.
    pub m: Vec<usize>,
    /// Real-valued class settings (`ClassArgs::parameters`); empty for the default.
    pub parameters: Vec<f64>,
    /// A penalty the spec gives (`ClassArgs::penalty`).
    pub penalty: Option<Array2<f64>>,
    /// Penalize the null space too, with a smoothing parameter of its own (mgcv's
    /// `select = TRUE`), so that the whole term can be removed.
    pub select: bool,
    /// Terms with the same id share their smoothing parameters (mgcv's `id`).
    pub id: Option<String>,
    /// A tensor product's marginal bases, in order; their covariates are consecutive
    /// in `vars`. Empty for other classes.
    pub margins: Vec<MarginSpec>,
    /// For terms sharing an `id` with terms of other covariates: the covariates of
    /// all of them, stacked, from which the shared basis, its constraint and its
    /// penalty scaling are made (mgcv's pooled construction). The term's own rows
    /// (`vars`) give its columns.
    pub pooled: Option<Vec<Cow<'a, [f64]>>>,
    /// Smaller terms nested in this one, whose functions its columns must not repeat
    /// (mgcv's `gam.side()`; see `fit::nesting`); `None` when there are none.
    pub side: Option<Side>,
    /// An unpenalized regression spline (mgcv's `fx = TRUE`): no penalties, no
    /// smoothing parameters.
    pub fixed: bool,
    /// Centre at a point (mgcv's `pc`: the term is zero at these covariate values)
    /// instead of the sum-to-zero constraint.
    pub point: Option<Vec<f64>>,
    /// The term's own smoothing parameters (mgcv's `s(sp = )`), one per penalty,
    /// `None` to estimate; empty when not given. They override `gam_fit(sp = )`.
    pub sp: Vec<Option<f64>>,
    /// A term built by mgcv (`Kind::Given`): its model matrix on the data and its
    /// penalties, scaled as mgcv scales them.
    pub given: Option<Given>,
}

/// A term's model matrix and penalties as mgcv built them.
#[derive(Debug, Clone)]
pub struct Given {
    pub x: Array2<f64>,
    pub penalties: Vec<Array2<f64>>,
}

/// What a term nested over smaller ones is checked against: the smaller terms
/// (indices into the model's smooths, in mgcv's order) and whether the parametric
/// columns span a constant (an intercept, or a factor's full set of levels); and
/// columns the caller found aliased in the unpenalized directions the terms share
/// (`delete`, 0-based among the columns the nesting leaves), which are left out as
/// well: each lies in every penalty's null space, so leaving it out changes neither
/// the fit nor, up to a constant, the criterion.
#[derive(Debug, Clone, PartialEq)]
pub struct Side {
    pub lower: Vec<usize>,
    pub constant: bool,
    pub delete: Vec<usize>,
}

#[cfg(test)]
impl SmoothSpec<'static> {
    /// A term for tests: basis `bs` of dimension `k` on `vars`, centred, with every
    /// other setting at its default (change fields with struct update syntax).
    pub fn for_tests(label: &str, bs: &str, k: usize, vars: Vec<Vec<f64>>) -> SmoothSpec<'static> {
        SmoothSpec {
            label: label.into(),
            kind: Kind::parse(bs).expect("a registered class"),
            k: Some(k),
            vars: vars.into_iter().map(Cow::Owned).collect(),
            by: None,
            centre: true,
            knots: None,
            knots_sampled: false,
            knots_sample: None,
            knots_pending: false,
            m: Vec::new(),
            parameters: Vec::new(),
            penalty: None,
            select: false,
            id: None,
            margins: Vec::new(),
            pooled: None,
            side: None,
            fixed: false,
            point: None,
            sp: Vec::new(),
            given: None,
        }
    }
}

/// A constructed smooth term.
#[derive(Debug, Clone)]
pub struct Smooth {
    pub label: String,
    pub basis: Basis,
    pub constraint: Option<SumToZero>,
    /// The penalties on the term's (constrained) coefficients, scaled, each with a
    /// smoothing parameter of its own: one per tensor margin (else one), then with
    /// `select` the projection on their null space.
    pub penalties: Vec<Array2<f64>>,
    /// The factors the raw penalties were divided by (mgcv's `S.scale`).
    pub s_scale: Vec<f64>,
    pub rank: usize,
    pub null_space_dim: usize,
    pub has_by: bool,
    /// Shared with other terms of the same id: their smoothing parameters.
    pub id: Option<String>,
    /// Columns of the constrained basis left out (ascending) because a smaller term
    /// nested in this one spans them (mgcv's `gam.side()` `del.index`, 0-based):
    /// see `fit::nesting`.
    pub deleted: Vec<usize>,
}

impl Smooth {
    pub fn ncoef(&self) -> usize {
        self.constrained_width() - self.deleted.len()
    }

    /// Columns after the sum-to-zero constraint, before any deletion.
    pub fn constrained_width(&self) -> usize {
        self.basis.width() - usize::from(self.constraint.is_some())
    }

    /// The constrained columns the term keeps, in order.
    pub(crate) fn kept_columns(&self) -> impl Iterator<Item = usize> + '_ {
        (0..self.constrained_width()).filter(|j| self.deleted.binary_search(j).is_err())
    }

    /// Coefficients on the kept columns as coefficients on every constrained column
    /// (zero on the deleted ones).
    fn with_deleted(&self, beta: &[f64]) -> Vec<f64> {
        if self.deleted.is_empty() {
            return beta.to_vec();
        }
        let mut full = vec![0.0; self.constrained_width()];
        for (j, b) in self.kept_columns().zip(beta) {
            full[j] = *b;
        }
        full
    }

    /// The term's penalties, each with a smoothing parameter of its own.
    pub fn penalties(&self) -> impl Iterator<Item = &Array2<f64>> {
        self.penalties.iter()
    }

    /// Adds the term's contribution `X_j beta_j` at `vars` to `out`: the constrained
    /// coefficients are mapped back to the raw basis (`Z beta_j`) and the basis
    /// evaluated against them directly, without forming the term's columns.
    pub fn add_fitted(&self, vars: &[&[f64]], by: Option<&[f64]>, beta: &[f64], out: &mut [f64]) {
        let beta = self.with_deleted(beta);
        let raw_beta = match &self.constraint {
            Some(c) => c.expand(&beta),
            None => beta,
        };
        self.basis.dot(vars, &raw_beta, by, out);
    }

    /// `add_fitted` from the raw basis's rows (row-major, `out.len() x basis.width()`).
    pub fn add_fitted_from_raw(&self, raw: &[f64], by: Option<&[f64]>, beta: &[f64], out: &mut [f64]) {
        let beta = self.with_deleted(beta);
        let raw_beta = match &self.constraint {
            Some(c) => c.expand(&beta),
            None => beta,
        };
        for (r, (o, row)) in out.iter_mut().zip(raw.chunks_exact(raw_beta.len())).enumerate() {
            let v: f64 = row.iter().zip(&raw_beta).map(|(a, b)| a * b).sum();
            *o += by.map_or(v, |b| v * b[r]);
        }
    }

    /// The term's columns of the model matrix at new covariate values.
    pub fn predict_matrix(&self, vars: &[&[f64]], by: Option<&[f64]>) -> Array2<f64> {
        let mut out = Array2::zeros((vars[0].len(), self.ncoef()).f());
        self.fill(vars, by, &mut Vec::new(), out.view_mut());
        out
    }

    /// Writes the term's model-matrix columns at `vars` into `dst` (`rows x ncoef()`,
    /// any layout; the chunk buffers are column-major). The raw basis is evaluated
    /// row-major into `scratch`; the `by` multipliers and the constraint are applied
    /// on the way out, a block of rows at a time so that both sides stay in cache.
    /// The constraint needs no matrix product: with `H = I - u u' / u_1`, column
    /// `j > 1` of `X H` is `x_j - (X u / u_1) u_j`.
    pub fn fill(&self, vars: &[&[f64]], by: Option<&[f64]>, scratch: &mut Vec<f64>, dst: ArrayViewMut2<'_, f64>) {
        let rows = vars[0].len();
        let k = self.basis.width();
        scratch.resize(rows * k, 0.0);
        self.basis.fill_raw(vars, &mut scratch[..rows * k]);
        self.fill_from_raw(&scratch[..rows * k], by, dst);
    }

    /// `fill` from the raw basis's rows (row-major, `rows x basis.width()`).
    pub fn fill_from_raw(&self, scratch: &[f64], by: Option<&[f64]>, mut dst: ArrayViewMut2<'_, f64>) {
        const BLOCK: usize = 128;
        let k = self.basis.width();
        let rows = scratch.len() / k;
        let (skip, u) = match &self.constraint {
            Some(c) => (1, Some(&c.u)),
            None => (0, None),
        };
        let mut proj = [0.0; BLOCK];
        let mut start = 0;
        while start < rows {
            let len = BLOCK.min(rows - start);
            let raw = &scratch[start * k..(start + len) * k];
            if let Some(u) = u {
                for (p, row) in proj.iter_mut().zip(raw.chunks_exact(k)) {
                    *p = row.iter().zip(u.iter()).map(|(a, b)| a * b).sum::<f64>() / u[0];
                }
            }
            let by = by.map(|b| &b[start..start + len]);
            for (c, mut col) in self.kept_columns().zip(dst.columns_mut()) {
                let j = c + skip;
                let uj = u.map_or(0.0, |u| u[j]);
                let mut col = col.slice_mut(ndarray::s![start..start + len]);
                let value = |r: usize| raw[r * k + j] - proj[r] * uj;
                match (col.as_slice_mut(), by) {
                    (Some(out), None) => out.iter_mut().enumerate().for_each(|(r, o)| *o = value(r)),
                    (Some(out), Some(b)) => out.iter_mut().zip(b).enumerate().for_each(|(r, (o, b))| *o = value(r) * b),
                    (None, _) => (0..len).for_each(|r| col[r] = value(r) * by.map_or(1.0, |b| b[r])),
                }
            }
            start += len;
        }
    }
}

pub use crate::linalg::CHUNK_ROWS;

/// Column sums and the largest absolute row sum of a raw basis matrix, accumulated
/// over chunks of rows so that the full matrix is never formed.
struct RawStats {
    col_sum: Vec<f64>,
    max_row_abs: f64,
}

impl RawStats {
    fn new(k: usize) -> RawStats {
        RawStats { col_sum: vec![0.0; k], max_row_abs: 0.0 }
    }

    /// Adds rows held row-major in `raw`.
    fn add(&mut self, raw: &[f64]) {
        let k = self.col_sum.len();
        for row in raw.chunks_exact(k) {
            let mut abs = 0.0;
            for (s, v) in self.col_sum.iter_mut().zip(row) {
                *s += v;
                abs += v.abs();
            }
            self.max_row_abs = self.max_row_abs.max(abs);
        }
    }
}

fn check_finite(label: &str, v: &[f64]) -> Result<()> {
    if v.iter().all(|x| x.is_finite()) {
        Ok(())
    } else {
        Err(EngineError::NonFinite { what: format!("a covariate of `{label}`") })
    }
}

/// Fills `out` (`n` rows of `width`, row-major) by `fill(first_row, block)` over
/// blocks of `CHUNK_ROWS` rows, the blocks shared out over up to `threads` threads
/// (each thread a contiguous run of them).
pub(crate) fn fill_rows_parallel(
    n: usize,
    width: usize,
    threads: usize,
    out: &mut [f64],
    fill: &(dyn Fn(usize, &mut [f64]) + Sync),
) {
    let chunk = CHUNK_ROWS * width.max(1);
    let blocks = n.div_ceil(CHUNK_ROWS).max(1);
    let per = blocks.div_ceil(threads.clamp(1, blocks)) * chunk;
    std::thread::scope(|scope| {
        for (t, part) in out.chunks_mut(per.max(1)).enumerate() {
            scope.spawn(move || {
                for (b, block) in part.chunks_mut(chunk).enumerate() {
                    fill((t * per + b * chunk) / width.max(1), block);
                }
            });
        }
    });
}

/// Rows `start..start + len` of each covariate.
pub fn rows<'a>(vars: &[&'a [f64]], start: usize, len: usize) -> Vec<&'a [f64]> {
    vars.iter().map(|v| &v[start..start + len]).collect()
}

/// Builds a smooth term. Its model-matrix columns are produced on demand by
/// `Smooth::predict_matrix`, a chunk of rows at a time.
pub fn construct(spec: &SmoothSpec<'_>) -> Result<Smooth> {
    construct_with_threads(spec, 1)
}

/// `construct`, with up to `threads` threads for the basis's own set-up (a thin
/// plate spline's eigen-decomposition).
pub fn construct_with_threads(spec: &SmoothSpec<'_>, threads: usize) -> Result<Smooth> {
    construct_keeping_raw(spec, threads).map(|(sm, _)| sm)
}

/// `construct_with_threads`, also returning the raw basis on the term's rows
/// (any layout, before `by` and the constraint) when the class formed it anyway (a
/// thin plate, Duchon or sphere spline's eigenbasis), so that a model can keep it
/// instead of evaluating the radial functions again on every pass.
pub fn construct_keeping_raw(spec: &SmoothSpec<'_>, threads: usize) -> Result<(Smooth, Option<Array2<f64>>)> {
    let label = spec.label.as_str();
    if spec.vars.is_empty() {
        return Err(EngineError::InvalidSpec { what: format!("`{label}` has no covariate") });
    }
    for v in spec.vars.iter().chain(spec.pooled.iter().flatten()) {
        check_finite(label, v)?;
    }
    if let Some(by) = &spec.by {
        if by.len() != spec.vars[0].len() {
            return Err(EngineError::InvalidSpec { what: format!("`{label}`: by variable has the wrong length") });
        }
        check_finite(label, by)?;
    }
    let source = match &spec.pooled {
        Some(p) if p.len() == spec.vars.len() && p.iter().all(|v| v.len() == p[0].len()) => p,
        Some(_) => {
            return Err(EngineError::InvalidSpec {
                what: format!("`{label}`: pooled covariates do not match the term's"),
            })
        }
        None => &spec.vars,
    };
    let vars: Vec<&[f64]> = source.iter().map(|v| v.as_ref()).collect();
    let n = vars[0].len();
    // `scaled`: penalties a class scaled itself, with the factor (mgcv's `S.scale`).
    let mut scaled = None;
    let (basis, raw_penalties, full_x) = match spec.kind {
        Kind::Tensor { interaction } => {
            let (t, pens) = TensorBasis::construct(label, &vars, &spec.margins, interaction)?;
            (Basis::Tensor(t), pens, None)
        }
        Kind::Adaptive => {
            let (basis, pens) = ad::construct(label, &vars, &spec.margins, &spec.m)?;
            (basis, pens, None)
        }
        Kind::SumToZeroFactor => {
            let (base, levels) = factor_smooth_parts(spec)?;
            // Several factors' levels come as the class's parameters; the term's
            // constraint is the basis's own (`centre`: whether it applies).
            let levels: Vec<usize> = if spec.parameters.is_empty() {
                vec![levels]
            } else {
                spec.parameters.iter().map(|&m| if m >= 0.0 && m.fract() == 0.0 { m as usize } else { 0 }).collect()
            };
            let (f, pens, scale) = SzBasis::construct(label, &vars, base, &levels, spec.centre, spec.id.is_some())?;
            scaled = Some(scale);
            (Basis::Sz(Box::new(f)), pens, None)
        }
        Kind::FactorSmooth => {
            let (base, levels) = factor_smooth_parts(spec)?;
            let (f, pens) = FsBasis::construct(label, &vars, base, levels)?;
            (Basis::Fs(Box::new(f)), pens, None)
        }
        Kind::Class(class) => {
            let args = ClassArgs {
                label,
                vars: &vars,
                k: spec.k,
                m: &spec.m,
                knots: spec.knots.as_deref(),
                parameters: &spec.parameters,
                penalty: spec.penalty.as_ref(),
                threads,
            };
            let built = (class.build)(&args)?;
            (built.basis, built.penalties, built.raw)
        }
        Kind::Given => return given_smooth(spec).map(|sm| (sm, None)),
    };
    let mut stats = RawStats::new(basis.width());
    match &full_x {
        Some(x) => stats.add(x.as_standard_layout().as_slice().expect("standard layout")),
        None => {
            let k = basis.width();
            let mut raw = vec![0.0; CHUNK_ROWS.min(n) * k];
            let mut start = 0;
            while start < n {
                let len = CHUNK_ROWS.min(n - start);
                basis.fill_raw(&rows(&vars, start, len), &mut raw[..len * k]);
                stats.add(&raw[..len * k]);
                start += len;
            }
        }
    }
    // mgcv's penalty normalization: ||S||_1 / ||X||_inf^2 (max absolute column sum of
    // S over the squared max absolute row sum of the raw X), for each penalty.
    let s_scale: Vec<f64> = raw_penalties
        .iter()
        .map(|s| {
            if let Some(scale) = scaled {
                return scale;
            }
            let col_abs = s.columns().into_iter().map(|c| c.iter().map(|v| v.abs()).sum::<f64>()).fold(0.0, f64::max);
            col_abs / (stats.max_row_abs * stats.max_row_abs)
        })
        .collect();
    // The constraint uses the column means of the raw basis, before any `by`. A `ti()`
    // term's margins carry theirs. A point constraint is the raw basis at the point,
    // applied whatever the term (mgcv's `always.apply`).
    let constraint = match &spec.point {
        Some(point) => Some(point_constraint(label, &basis, point)?),
        None => (spec.centre && !matches!(spec.kind, Kind::Tensor { interaction: true } | Kind::SumToZeroFactor)).then(
            || {
                let means: Vec<f64> = stats.col_sum.iter().map(|v| v / n as f64).collect();
                SumToZero::new(&means)
            },
        ),
    };
    let mut penalties: Vec<Array2<f64>> = raw_penalties
        .into_iter()
        .zip(&s_scale)
        .map(|(s, scale)| {
            let s = if scaled.is_some() { s } else { s / *scale };
            match &constraint {
                Some(c) => c.apply_penalty(&s),
                None => s,
            }
        })
        .collect();
    let total = penalties.iter().skip(1).fold(penalties[0].clone(), |acc, s| acc + s);
    let rank = penalty_rank(&total);
    let k = total.nrows();
    let select = spec.select && rank < k && !spec.fixed;
    if select {
        penalties.push(null_space_penalty(&total));
    }
    if spec.fixed {
        // mgcv's `fx = TRUE`: the basis as it is, unpenalized.
        penalties.clear();
    }
    let rank = if spec.fixed { 0 } else { rank };
    let smooth = Smooth {
        label: spec.label.clone(),
        basis,
        constraint,
        null_space_dim: if select { 0 } else { k - rank },
        penalties,
        s_scale,
        rank,
        has_by: spec.by.is_some(),
        id: spec.id.clone(),
        deleted: Vec::new(),
    };
    // Pooled covariates (an `id`) are other rows than the term's own.
    let raw = full_x.filter(|_| spec.pooled.is_none());
    Ok((smooth, raw))
}

/// A factor smooth's (`fs`, `sz`) base smooth and number of levels (its `k`).
fn factor_smooth_parts<'s>(spec: &'s SmoothSpec<'_>) -> Result<(&'s MarginSpec, usize)> {
    let label = &spec.label;
    let base = spec.margins.first().ok_or_else(|| EngineError::InvalidSpec {
        what: format!("`{label}`: a factor smooth needs its base smooth"),
    })?;
    let levels = spec
        .k
        .ok_or_else(|| EngineError::InvalidSpec { what: format!("`{label}`: the number of levels is missing") })?;
    Ok((base, levels))
}

/// A term built by mgcv: its matrix and penalties as they are (mgcv absorbed its
/// constraint and scaled its penalties: `s_scale` is 1).
fn given_smooth(spec: &SmoothSpec<'_>) -> Result<Smooth> {
    let label = spec.label.as_str();
    let given = spec.given.as_ref().ok_or_else(|| EngineError::InvalidSpec {
        what: format!("`{label}`: a term built by mgcv needs its model matrix"),
    })?;
    let (n, k) = given.x.dim();
    let rows_ok =
        spec.vars.len() == 1 && spec.vars[0].iter().all(|v| v.fract() == 0.0 && *v >= 0.0 && (*v as usize) < n);
    let penalties_ok = given.penalties.iter().all(|s| s.dim() == (k, k) && s.iter().all(|v| v.is_finite()));
    if k == 0 || !rows_ok || !penalties_ok || !given.x.iter().all(|v| v.is_finite()) {
        return Err(EngineError::InvalidSpec {
            what: format!("`{label}`: the model matrix and penalties mgcv built do not fit together"),
        });
    }
    let rank = match given.penalties.iter().cloned().reduce(|a, b| a + b) {
        Some(total) => penalty_rank(&total),
        None => 0,
    };
    Ok(Smooth {
        label: spec.label.clone(),
        basis: Basis::Given(given::GivenBasis::new(given.x.clone())),
        constraint: None,
        penalties: given.penalties.clone(),
        s_scale: vec![1.0; given.penalties.len()],
        rank,
        null_space_dim: k - rank,
        has_by: spec.by.is_some(),
        id: spec.id.clone(),
        deleted: Vec::new(),
    })
}

/// The constraint that the term be zero at `point` (one value per covariate): the
/// raw basis's row there (mgcv's `pc`, `Predict.matrix` at the point).
fn point_constraint(label: &str, basis: &Basis, point: &[f64]) -> Result<SumToZero> {
    let k = basis.width();
    if point.iter().any(|v| !v.is_finite()) {
        return Err(EngineError::InvalidSpec { what: format!("`{label}`: the point constraint `pc` must be finite") });
    }
    let vars: Vec<&[f64]> = point.iter().map(std::slice::from_ref).collect();
    let mut row = vec![0.0; k];
    basis.fill_raw(&vars, &mut row);
    if row.iter().all(|v| *v == 0.0) || row.iter().any(|v| !v.is_finite()) {
        return Err(EngineError::NotIdentifiable {
            detail: format!(
                "`{label}`: every basis function is zero at the point `pc`; choose a point inside the data"
            ),
        });
    }
    Ok(SumToZero::new(&row))
}

/// Refuses covariates on a scale the basis cannot be formed at: its construction
/// raises differences and values to powers up to `power` (and inverts them), so
/// beyond `1e±250^(1/power)` they overflow or vanish in double precision, and the
/// result would be an eigen-decomposition that does not converge or a basis of
/// zeros (issue 15: `x * 1e300`, `x * 1e-300`). Covariates that are all one value
/// are left to the checks of their class.
pub(crate) fn check_scale(label: &str, vars: &[&[f64]], power: usize) -> Result<()> {
    let limit = 250.0 / power as f64;
    for x in vars {
        let (lo, hi) = x.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &v| (lo.min(v), hi.max(v)));
        let (range, largest) = (hi - lo, lo.abs().max(hi.abs()));
        let problem = if largest.log10() > limit || !range.is_finite() {
            "large"
        } else if range > 0.0 && range.log10() < -limit {
            "small"
        } else {
            continue;
        };
        return Err(EngineError::OutOfRange {
            what: format!(
                "`{label}`: a covariate spans {range:.3e} with values up to {largest:.3e} in absolute value, too {problem} a scale \
                 to form the basis in double precision; rescale the covariate (divide it by its standard deviation, say)"
            ),
        });
    }
    Ok(())
}

/// An orthonormal basis `U0` (`k x q`) of the null space of the penalty `s`: its
/// eigenvectors with eigenvalues below `rank_tolerance()` of the largest (mgcv's
/// threshold for `select = TRUE`).
pub(crate) fn null_space(s: &Array2<f64>) -> Array2<f64> {
    let (values, vectors) = crate::linalg::sym_eigen(s.view());
    let top = values.iter().fold(0.0_f64, |a, v| a.max(*v));
    let null: Vec<usize> = (0..values.len()).filter(|&i| values[i] < top * crate::linalg::rank_tolerance()).collect();
    Array2::from_shape_fn((values.len(), null.len()), |(r, c)| vectors[(r, null[c])])
}

/// `U0 U0'` for `U0` the null space of `s` (`null_space`): a penalty on exactly what
/// `s` leaves unpenalized, the same whichever basis is picked.
fn null_space_penalty(s: &Array2<f64>) -> Array2<f64> {
    let u0 = null_space(s);
    u0.dot(&u0.t())
}

/// A shrinkage penalty (mgcv's "cs" and "ts" bases): the `null_dim` smallest
/// eigenvalues of `s` (its null space) replaced by a tenth of the smallest of the
/// others; `chained` makes each next one a tenth of the previous instead.
pub(crate) fn shrink_null_space(s: &Array2<f64>, null_dim: usize, chained: bool) -> Array2<f64> {
    const SHRINK: f64 = 0.1;
    let (mut values, vectors) = crate::linalg::sym_eigen(s.view());
    // Ascending: values[null_dim] is the smallest positive eigenvalue.
    for i in (0..null_dim).rev() {
        values[i] = values[if chained { i + 1 } else { null_dim }] * SHRINK;
    }
    let k = values.len();
    let mut out =
        Array2::from_shape_fn((k, k), |(a, b)| (0..k).map(|c| vectors[(a, c)] * values[c] * vectors[(b, c)]).sum());
    crate::linalg::symmetrize(&mut out);
    out
}

pub(crate) fn penalty_rank(s: &Array2<f64>) -> usize {
    let (values, _) = crate::linalg::sym_eigen(s.view());
    let top = values.iter().fold(0.0_f64, |a, v| a.max(v.abs()));
    values.iter().filter(|v| **v > top * 1e-9).count()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `Smooth::fill` (blocked, constraint applied per row) against the definition:
    /// the raw basis, rows multiplied by `by`, times the constraint's `Z`.
    #[test]
    fn fill_matches_the_constrained_basis() {
        let n = 300;
        let x: Vec<f64> = (0..n).map(|i| ((i * 37) % n) as f64 / n as f64).collect();
        let z: Vec<f64> = (0..n).map(|i| ((i * 11) % 97) as f64 / 97.0).collect();
        let by: Vec<f64> = (0..n).map(|i| 0.5 + (i % 7) as f64).collect();
        for (bs, vars) in [
            ("cr", vec![x.clone()]),
            ("cc", vec![x.clone()]),
            ("ps", vec![x.clone()]),
            ("cp", vec![x.clone()]),
            ("bs", vec![x.clone()]),
            ("gp", vec![x.clone(), z.clone()]),
            ("ds", vec![x.clone(), z.clone()]),
            ("tp", vec![x.clone(), z.clone()]),
        ] {
            for with_by in [false, true] {
                let spec = SmoothSpec {
                    by: with_by.then(|| Cow::Owned(by.clone())),
                    ..SmoothSpec::for_tests(&format!("s({bs})"), bs, 8, vars.clone())
                };
                let sm = construct(&spec).unwrap();
                let refs: Vec<&[f64]> = vars.iter().map(|v| v.as_slice()).collect();
                let mut raw = sm.basis.matrix(&refs);
                if with_by {
                    for (mut row, b) in raw.rows_mut().into_iter().zip(&by) {
                        row.mapv_inplace(|v| v * b);
                    }
                }
                let want = sm.constraint.as_ref().unwrap().apply_columns(&raw);
                let got = sm.predict_matrix(&refs, spec.by.as_deref());
                let err = (&got - &want).iter().fold(0.0_f64, |a, v| a.max(v.abs()));
                assert!(err < 1e-12, "{bs} by={with_by}: {err}");
            }
        }
    }
}
