//! Smooth terms: one file per basis class, and here what every class shares — the
//! term spec, the identifiability constraint, `by` variables and penalty scaling.
//!
//! A term is constructed the way mgcv's `smoothCon` does it (Wood 2017 §5.4): the
//! class builds its raw basis `X` and penalty `S`; `S` is scaled so that
//! `||S||_1 = ||X||_inf^2` (so smoothing parameters are on mgcv's scale); a numeric
//! `by` multiplies the rows; the sum-to-zero constraint (column means of the raw `X`)
//! is absorbed unless the term does not need it.

pub mod cc;
pub mod constraint;
pub mod cr;
pub mod knots;
pub mod ps;
pub mod tp;

use std::collections::BTreeMap;

use ndarray::{Array2, ShapeBuilder};

use crate::error::{EngineError, Result};
use cc::CcBasis;
use constraint::SumToZero;
use cr::CrBasis;
use ps::PsBasis;
use tp::TpBasis;

/// What the R layer says about one smooth term.
#[derive(Debug, Clone)]
pub struct SmoothSpec {
    pub label: String,
    /// "cr", "cc", "ps" or "tp".
    pub bs: String,
    /// Basis dimension; `None` for the class default.
    pub k: Option<usize>,
    /// The covariate columns, one per dimension.
    pub vars: Vec<Vec<f64>>,
    /// Row multipliers (a numeric `by`, or a factor level's 0/1 indicator).
    pub by: Option<Vec<f64>>,
    /// Whether to absorb the sum-to-zero constraint.
    pub centre: bool,
    /// Knots supplied by the user.
    pub knots: Option<Vec<f64>>,
    /// Penalty/basis orders (`m`); empty for the class default.
    pub m: Vec<usize>,
}

/// A class's own basis, which can evaluate itself at new covariate values.
#[derive(Debug, Clone)]
pub enum Basis {
    Cr(CrBasis),
    Cc(CcBasis),
    Ps(PsBasis),
    Tp(TpBasis),
}

impl Basis {
    pub fn class(&self) -> &'static str {
        match self {
            Basis::Cr(_) => "cr",
            Basis::Cc(_) => "cc",
            Basis::Ps(_) => "ps",
            Basis::Tp(_) => "tp",
        }
    }

    /// The unconstrained basis at covariate values `vars`.
    pub fn matrix(&self, vars: &[&[f64]]) -> Array2<f64> {
        match self {
            Basis::Cr(b) => b.matrix(vars[0]),
            Basis::Cc(b) => b.matrix(vars[0]),
            Basis::Ps(b) => b.matrix(vars[0]),
            Basis::Tp(b) => b.matrix(vars),
        }
    }
}

/// A constructed smooth term.
#[derive(Debug, Clone)]
pub struct Smooth {
    pub label: String,
    pub basis: Basis,
    pub constraint: Option<SumToZero>,
    /// The penalty on the term's (constrained) coefficients, scaled.
    pub penalty: Array2<f64>,
    /// The factor the raw penalty was divided by (mgcv's `S.scale`).
    pub s_scale: f64,
    pub rank: usize,
    pub null_space_dim: usize,
    pub has_by: bool,
}

impl Smooth {
    pub fn ncoef(&self) -> usize {
        self.penalty.nrows()
    }

    /// The term's columns of the model matrix at new covariate values.
    pub fn predict_matrix(&self, vars: &[&[f64]], by: Option<&[f64]>) -> Array2<f64> {
        let mut x = self.basis.matrix(vars);
        if let Some(by) = by {
            apply_by(&mut x, by);
        }
        match &self.constraint {
            Some(c) => c.apply_columns(&x),
            None => x,
        }
    }
}

fn apply_by(x: &mut Array2<f64>, by: &[f64]) {
    // Column by column: the matrices are column-major.
    for mut col in x.columns_mut() {
        col.iter_mut().zip(by).for_each(|(v, b)| *v *= b);
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

    fn add(&mut self, x: &Array2<f64>) {
        let mut row_abs = vec![0.0; x.nrows()];
        for (j, col) in x.columns().into_iter().enumerate() {
            let mut s = 0.0;
            for (a, v) in row_abs.iter_mut().zip(col) {
                *a += v.abs();
                s += v;
            }
            self.col_sum[j] += s;
        }
        self.max_row_abs = row_abs.into_iter().fold(self.max_row_abs, f64::max);
    }
}

fn check_finite(label: &str, v: &[f64]) -> Result<()> {
    if v.iter().all(|x| x.is_finite()) {
        Ok(())
    } else {
        Err(EngineError::NonFinite { what: format!("a covariate of `{label}`") })
    }
}

/// Rows `start..start + len` of each covariate.
pub fn rows<'a>(vars: &[&'a [f64]], start: usize, len: usize) -> Vec<&'a [f64]> {
    vars.iter().map(|v| &v[start..start + len]).collect()
}

/// Builds a smooth term. Its model-matrix columns are produced on demand by
/// `Smooth::predict_matrix`, a chunk of rows at a time.
pub fn construct(spec: &SmoothSpec) -> Result<Smooth> {
    let label = spec.label.as_str();
    if spec.vars.is_empty() {
        return Err(EngineError::InvalidSpec { what: format!("`{label}` has no covariate") });
    }
    for v in &spec.vars {
        check_finite(label, v)?;
    }
    let vars: Vec<&[f64]> = spec.vars.iter().map(|v| v.as_slice()).collect();
    let n = vars[0].len();
    if let Some(by) = &spec.by {
        if by.len() != n {
            return Err(EngineError::InvalidSpec { what: format!("`{label}`: by variable has the wrong length") });
        }
        check_finite(label, by)?;
    }
    let one_d = |bs: &str| -> Result<&[f64]> {
        if vars.len() != 1 {
            return Err(EngineError::InvalidSpec {
                what: format!("`{label}`: bs = \"{bs}\" is one-dimensional but the term has {} covariates", vars.len()),
            });
        }
        Ok(vars[0])
    };
    let knots = spec.knots.as_deref();
    // The tp construction needs its whole design; the other classes stream theirs.
    let mut full_x = None;
    let (basis, s) = match spec.bs.as_str() {
        "cr" => {
            let (b, s) = CrBasis::construct(label, one_d("cr")?, spec.k.unwrap_or(10), knots)?;
            (Basis::Cr(b), s)
        }
        "cc" => {
            let (b, s) = CcBasis::construct(label, one_d("cc")?, spec.k.unwrap_or(10), knots)?;
            (Basis::Cc(b), s)
        }
        "ps" => {
            let m1 = spec.m.first().copied().unwrap_or(2);
            let m2 = spec.m.get(1).copied().unwrap_or(m1);
            let (b, s) = PsBasis::construct(label, one_d("ps")?, spec.k.unwrap_or(10), m1, m2, knots)?;
            (Basis::Ps(b), s)
        }
        "tp" => {
            let d = vars.len();
            let m = spec.m.first().copied().filter(|&m| m > 0);
            let order = match m {
                Some(m) if 2 * m > d => m,
                _ => tp::default_order(d),
            };
            let mm = tp::null_space_powers(order, d).len();
            let default_k = mm + [8, 27, 100][d.min(3) - 1];
            let (b, x, s) = TpBasis::construct(label, &vars, spec.k.unwrap_or(default_k), m)?;
            full_x = Some(x);
            (Basis::Tp(b), s)
        }
        other => {
            return Err(EngineError::InvalidSpec { what: format!("`{label}`: unknown basis \"{other}\"") });
        }
    };
    let mut stats = RawStats::new(s.nrows());
    match &full_x {
        Some(x) => stats.add(x),
        None => {
            let mut start = 0;
            while start < n {
                let len = CHUNK_ROWS.min(n - start);
                stats.add(&basis.matrix(&rows(&vars, start, len)));
                start += len;
            }
        }
    }
    // mgcv's penalty normalization: ||S||_1 / ||X||_inf^2 (max absolute column sum of
    // S over the squared max absolute row sum of the raw X).
    let col_abs = s.columns().into_iter().map(|c| c.iter().map(|v| v.abs()).sum::<f64>()).fold(0.0, f64::max);
    let s_scale = col_abs / (stats.max_row_abs * stats.max_row_abs);
    let s = s / s_scale;
    // The constraint uses the column means of the raw basis, before any `by`.
    let constraint = spec.centre.then(|| {
        let means: Vec<f64> = stats.col_sum.iter().map(|v| v / n as f64).collect();
        SumToZero::new(&means)
    });
    let penalty = match &constraint {
        Some(c) => c.apply_penalty(&s),
        None => s,
    };
    let rank = penalty_rank(&penalty);
    Ok(Smooth {
        label: spec.label.clone(),
        basis,
        constraint,
        null_space_dim: penalty.nrows() - rank,
        penalty,
        s_scale,
        rank,
        has_by: spec.by.is_some(),
    })
}

fn penalty_rank(s: &Array2<f64>) -> usize {
    let (values, _) = crate::linalg::sym_eigen(s.view());
    let top = values.iter().fold(0.0_f64, |a, v| a.max(v.abs()));
    values.iter().filter(|v| **v > top * 1e-9).count()
}

/// Named numeric vectors describing a smooth for prediction, so that the R object can
/// carry it and `from_state` can rebuild it.
pub type State = BTreeMap<String, Vec<f64>>;

impl Smooth {
    pub fn state(&self) -> State {
        let mut st = State::new();
        match &self.basis {
            Basis::Cr(b) => {
                st.insert("knots".into(), b.knots.clone());
            }
            Basis::Cc(b) => {
                st.insert("knots".into(), b.knots.clone());
            }
            Basis::Ps(b) => {
                st.insert("knots".into(), b.knots.clone());
                st.insert("m1".into(), vec![b.m1 as f64]);
            }
            Basis::Tp(b) => {
                st.insert("m".into(), vec![b.m as f64]);
                st.insert("shift".into(), b.shift.clone());
                st.insert("points".into(), b.points.t().iter().copied().collect());
                st.insert("points_dim".into(), vec![b.points.nrows() as f64, b.points.ncols() as f64]);
                st.insert("uz".into(), b.uz.t().iter().copied().collect());
                st.insert("uz_dim".into(), vec![b.uz.nrows() as f64, b.uz.ncols() as f64]);
            }
        }
        if let Some(c) = &self.constraint {
            st.insert("householder".into(), c.u.clone());
        }
        st.insert("penalty".into(), self.penalty.t().iter().copied().collect());
        st.insert("s_scale".into(), vec![self.s_scale]);
        st.insert("rank".into(), vec![self.rank as f64]);
        st.insert("has_by".into(), vec![if self.has_by { 1.0 } else { 0.0 }]);
        st
    }

    pub fn from_state(label: &str, class: &str, st: &State) -> Result<Smooth> {
        let get = |name: &str| -> Result<&Vec<f64>> {
            st.get(name).ok_or_else(|| EngineError::InvalidSpec { what: format!("`{label}`: stored basis lacks `{name}`") })
        };
        let matrix = |name: &str, dim: &str| -> Result<Array2<f64>> {
            let d = get(dim)?;
            let (r, c) = (d[0] as usize, d[1] as usize);
            // Stored column-major, as R holds matrices.
            Array2::from_shape_vec((r, c).f(), get(name)?.clone())
                .map_err(|_| EngineError::InvalidSpec { what: format!("`{label}`: stored `{name}` has the wrong size") })
        };
        let basis = match class {
            "cr" => Basis::Cr(CrBasis::from_knots(get("knots")?.clone())?),
            "cc" => Basis::Cc(CcBasis::from_knots(get("knots")?.clone())?),
            "ps" => Basis::Ps(PsBasis { knots: get("knots")?.clone(), m1: get("m1")?[0] as usize }),
            "tp" => Basis::Tp(TpBasis {
                m: get("m")?[0] as usize,
                shift: get("shift")?.clone(),
                points: matrix("points", "points_dim")?,
                uz: matrix("uz", "uz_dim")?,
            }),
            other => return Err(EngineError::InvalidSpec { what: format!("`{label}`: unknown basis \"{other}\"") }),
        };
        let constraint = st.get("householder").map(|u| SumToZero { u: u.clone() });
        let k = (get("penalty")?.len() as f64).sqrt() as usize;
        let penalty = Array2::from_shape_vec((k, k), get("penalty")?.clone())
            .map_err(|_| EngineError::InvalidSpec { what: format!("`{label}`: stored penalty is not square") })?;
        let rank = get("rank")?[0] as usize;
        Ok(Smooth {
            label: label.to_string(),
            basis,
            constraint,
            null_space_dim: k - rank,
            penalty,
            s_scale: get("s_scale")?[0],
            rank,
            has_by: get("has_by")?[0] != 0.0,
        })
    }
}
