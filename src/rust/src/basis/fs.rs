//! Factor smooth interactions (`bs = "fs"`, mgcv's `smooth.construct.fs`; Wood 2017
//! §5.8): one smooth of the numeric covariates per level of a factor, all levels
//! sharing their smoothing parameters, with every part of each curve penalized (its
//! null space too), so that the curves behave as random effects around zero.
//!
//! The base basis is put in its natural parameterization (mgcv's `nat.param`, type
//! 1): with `X = QR` and `R^-T S R^-1 = U diag(d) U'`, the coefficients of `P = R^-1 U`
//! (range columns divided by `sqrt(d)`) see the penalty as the identity on the range
//! space; range and null columns are then each scaled to unit mean square over the
//! data. The wiggliness penalty is that identity on every level's range columns, and
//! each null-space direction gets a penalty (and smoothing parameter) of its own,
//! again shared by the levels.
//!
//! The null space's basis is not unique: mgcv takes whatever its eigen routine
//! returns for the zero eigenvalues, set by rounding. Here it is fixed: the first
//! null direction is the constant's projection on the null space, the others
//! orthogonal to it, so fits are reproducible. With a one-dimensional null space (a
//! `tp` base with `m = 1`) the model is mgcv's exactly; otherwise it differs from
//! mgcv's by that choice.

use ndarray::{s, Array1, Array2};

use super::registry::RawBasis;
use super::state::{decode_margins, encode_margins, Fields, State};
use super::tensor::{Margin, MarginSpec};
use crate::error::{EngineError, Result};
use crate::linalg::{sym_eigen, SpdFactor};

#[derive(Debug, Clone)]
pub struct FsBasis {
    /// The base smooth in its natural parameterization.
    pub base: Margin,
    pub levels: usize,
}

impl FsBasis {
    /// `vars`: the base smooth's covariates, then the factor's level codes (1 to
    /// `levels`). Returns the basis and its penalties (wiggliness, then one per null
    /// direction).
    pub fn construct(
        label: &str,
        vars: &[&[f64]],
        base: &MarginSpec,
        levels: usize,
    ) -> Result<(FsBasis, Vec<Array2<f64>>)> {
        let d = vars.len() - 1;
        if d == 0 || base.dim != d || levels == 0 {
            return Err(EngineError::InvalidSpec {
                what: format!("`{label}`: a factor smooth needs numeric covariates and a factor"),
            });
        }
        let codes = vars[d];
        if codes.iter().any(|c| *c < 1.0 || *c > levels as f64 || c.fract() != 0.0) {
            return Err(EngineError::InvalidSpec {
                what: format!("`{label}`: level codes must be whole numbers from 1 to {levels}"),
            });
        }
        let (basis, s_raw, x) = base.build(label, &vars[..d])?.single(label)?;
        let x = match x {
            Some(x) => x,
            None => basis.matrix(&vars[..d]),
        };
        let (n, k) = x.dim();
        let rank = super::penalty_rank(&s_raw);
        let xtx = x.t().dot(&x);
        let not_full = || EngineError::NotIdentifiable {
            detail: format!("the base smooth of `{label}` has linearly dependent columns"),
        };
        let r_inv = SpdFactor::new(xtx.view()).ok_or_else(not_full)?.inverse_upper_factor();
        let rsr = r_inv.t().dot(&s_raw).dot(&r_inv);
        // Eigenvalues descending, as mgcv orders them.
        let (values, vectors) = sym_eigen(rsr.view());
        let order: Vec<usize> = (0..k).rev().collect();
        let u = Array2::from_shape_fn((k, k), |(i, j)| vectors[(i, order[j])]);
        let mut p = r_inv.dot(&u);
        for j in 0..rank {
            let dj = values[order[j]];
            if !(dj > 0.0) {
                return Err(not_full());
            }
            p.column_mut(j).mapv_inplace(|v| v / dj.sqrt());
        }
        // The null directions, X-orthonormal: rotate so that the first is the
        // constant's projection (a Householder reflection taking (XP0)'1 to an axis).
        let null_dim = k - rank;
        if null_dim > 1 {
            let col_sums: Array1<f64> = x.sum_axis(ndarray::Axis(0));
            let p0 = p.slice(s![.., rank..]).to_owned();
            let v = p0.t().dot(&col_sums);
            let norm = v.dot(&v).sqrt();
            if norm > 0.0 {
                let mut h = v.clone();
                h[0] += if v[0] >= 0.0 { norm } else { -norm };
                let hh = h.dot(&h);
                let reflect = Array2::from_shape_fn(
                    (null_dim, null_dim),
                    |(a, b)| if a == b { 1.0 } else { 0.0 } - 2.0 * h[a] * h[b] / hh,
                );
                p.slice_mut(s![.., rank..]).assign(&p0.dot(&reflect));
            }
        }
        // Unit mean square of the range columns (and of the null ones) over the data,
        // from X'X: mean((XP)_J^2) = tr(P_J' X'X P_J) / (n |J|).
        let mean_square = |p: &Array2<f64>, cols: std::ops::Range<usize>| -> f64 {
            let pj = p.slice(s![.., cols.clone()]);
            let g = pj.t().dot(&xtx).dot(&pj);
            (0..cols.len()).map(|i| g[(i, i)]).sum::<f64>() / (n * cols.len()) as f64
        };
        let range_scale = 1.0 / mean_square(&p, 0..rank).sqrt();
        p.slice_mut(s![.., ..rank]).mapv_inplace(|v| v * range_scale);
        if null_dim > 0 {
            let null_scale = 1.0 / mean_square(&p, rank..k).sqrt();
            p.slice_mut(s![.., rank..]).mapv_inplace(|v| v * null_scale);
        }
        let width = k * levels;
        let block_diagonal = |diag: &dyn Fn(usize) -> f64| {
            Array2::from_shape_fn((width, width), |(a, b)| if a == b { diag(a % k) } else { 0.0 })
        };
        let d_range = range_scale * range_scale;
        let mut penalties = vec![block_diagonal(&|i| if i < rank { d_range } else { 0.0 })];
        for j in rank..k {
            penalties.push(block_diagonal(&|i| if i == j { 1.0 } else { 0.0 }));
        }
        let base = Margin { basis, dim: d, constraint: None, reparam: Some(p) };
        Ok((FsBasis { base, levels }, penalties))
    }
}

impl RawBasis for FsBasis {
    const STORED: &'static [&'static str] = &["fs"];

    fn class(&self) -> &'static str {
        "fs"
    }

    /// The base smooth's covariates, then the factor's level codes.
    fn n_vars(&self) -> Option<usize> {
        Some(self.base.dim + 1)
    }

    fn width(&self) -> usize {
        self.base.width() * self.levels
    }

    /// The basis at `vars` (covariates, then level codes; a code outside 1 to
    /// `levels`, an unseen level, gives a row of zeros, as mgcv), row-major into `out`.
    fn fill_raw(&self, vars: &[&[f64]], out: &mut [f64]) {
        let d = self.base.dim;
        let xb = self.base.matrix(&vars[..d]);
        let k = xb.ncols();
        for (r, row) in out.chunks_exact_mut(k * self.levels).enumerate() {
            row.fill(0.0);
            let code = vars[d][r];
            if code >= 1.0 && code <= self.levels as f64 {
                let at = (code as usize - 1) * k;
                for c in 0..k {
                    row[at + c] = xb[(r, c)];
                }
            }
        }
    }

    fn write_state(&self, st: &mut State) {
        st.insert("margins".into(), encode_margins(std::slice::from_ref(&self.base)));
        st.insert("levels".into(), vec![self.levels as f64]);
    }

    fn read_state(f: &Fields<'_>, _: &str) -> Result<FsBasis> {
        let mut margins = decode_margins(f, f.get("margins")?)?;
        if margins.len() != 1 {
            return Err(f.bad("stored factor smooth must have one base smooth"));
        }
        Ok(FsBasis { base: margins.remove(0), levels: f.count("levels")?.max(1) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The natural parameterization: the base columns are orthogonal over the data,
    /// the wiggliness penalty is diagonal, and each level's block holds the base
    /// columns on that level's rows only.
    #[test]
    fn natural_parameterization_and_level_blocks() {
        let n = 300;
        let x: Vec<f64> = (0..n).map(|i| ((i * 37) % n) as f64 / n as f64).collect();
        let codes: Vec<f64> = (0..n).map(|i| (1 + i % 3) as f64).collect();
        let base = MarginSpec::for_tests("tp", 6, 1);
        let (fs, pens) = FsBasis::construct("s(x,g)", &[&x, &codes], &base, 3).unwrap();
        assert_eq!(fs.width(), 18);
        // tp with m = 2: rank 4, null space 2 -> three penalties.
        assert_eq!(pens.len(), 3);
        let xb = fs.base.matrix(&[&x]);
        let g = xb.t().dot(&xb);
        for a in 0..6 {
            for b in 0..6 {
                if a != b && (a < 4) == (b < 4) {
                    assert!(g[(a, b)].abs() < 1e-8 * n as f64, "{a} {b}: {}", g[(a, b)]);
                }
            }
        }
        let mut out = vec![0.0; n * 18];
        fs.fill_raw(&[&x, &codes], &mut out);
        for r in 0..n {
            let level = codes[r] as usize - 1;
            for c in 0..18 {
                let want = if c / 6 == level { xb[(r, c % 6)] } else { 0.0 };
                assert_eq!(out[r * 18 + c], want);
            }
        }
        // The first null direction is constant over the data.
        let first_null = xb.column(4);
        let spread = first_null.iter().fold(0.0_f64, |a, v| a.max((v - first_null[0]).abs()));
        assert!(spread < 1e-8, "{spread}");
    }
}
