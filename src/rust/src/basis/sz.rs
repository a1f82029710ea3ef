//! Factor smooth interactions with sum-to-zero deviations (`bs = "sz"`, mgcv's
//! `smooth.construct.sz.smooth.spec`; Wood 2017 §5.8): one curve of the numeric
//! covariates per level of a factor, each a deviation from a main effect
//! (`s(x) + s(f, x, bs = "sz")`), the deviations summing to zero over the levels at
//! every covariate value.
//!
//! The base smooth (unconstrained) has coefficients `gamma_l` per level; the
//! constraint `sum_l gamma_l = 0` is absorbed by `gamma = (Z kron I) beta`, with
//! `Z = [I; -1']` (levels x levels - 1), as mgcv absorbs it. Each level keeps its own penalty `gamma_l' S gamma_l` and smoothing
//! parameter, `(z_l z_l' kron S)` on `beta` (`z_l` row `l` of `Z`); with an `id` the
//! levels share one, `(Z'Z kron S)`. The model does not depend on which `Z`.
//! Penalties are scaled as mgcv scales the unconstrained term:
//! `||S||_1 / ||X_base||_inf^2`.

use ndarray::Array2;

use super::registry::RawBasis;
use super::state::{decode_margins, encode_margins, Fields, State};
use super::tensor::{Margin, MarginSpec};
use super::{rows, CHUNK_ROWS};
use crate::error::{EngineError, Result};

#[derive(Debug, Clone)]
pub struct SzBasis {
    /// The base smooth, as built (no constraint).
    pub base: Margin,
    pub levels: usize,
    /// `Z`, `levels x (levels - 1)`, row-major.
    contrast: Array2<f64>,
}

/// `[I; -1']` (`levels x levels - 1`): the last level's coefficients are minus the
/// others' sum (mgcv's `XZKr`). The fit does not depend on this choice, but the REML
/// score's constant does, through the volume of the unpenalized directions (a
/// `log(levels)` per pair of them against orthonormal columns).
fn contrast(levels: usize) -> Array2<f64> {
    Array2::from_shape_fn((levels, levels - 1), |(l, m)| {
        if l == levels - 1 {
            -1.0
        } else if l == m {
            1.0
        } else {
            0.0
        }
    })
}

impl SzBasis {
    /// `vars`: the base smooth's covariates, then the factor's level codes (1 to
    /// `levels`). Returns the basis, its penalties (one per level, or one shared when
    /// `shared`) already scaled, and the scale they were divided by.
    pub fn construct(
        label: &str,
        vars: &[&[f64]],
        base: &MarginSpec,
        levels: usize,
        shared: bool,
    ) -> Result<(SzBasis, Vec<Array2<f64>>, f64)> {
        let d = vars.len() - 1;
        if d == 0 || base.dim != d || levels < 2 {
            return Err(EngineError::InvalidSpec {
                what: format!(
                    "`{label}`: a sum-to-zero factor smooth needs numeric covariates and a factor of 2 or more levels"
                ),
            });
        }
        let codes = vars[d];
        if codes.iter().any(|c| *c < 1.0 || *c > levels as f64 || c.fract() != 0.0) {
            return Err(EngineError::InvalidSpec {
                what: format!("`{label}`: level codes must be whole numbers from 1 to {levels}"),
            });
        }
        let (basis, s, _) = base.build(label, &vars[..d])?.single(label)?;
        let margin = Margin { basis, dim: d, constraint: None, reparam: None };
        // mgcv's scale of the unconstrained term: each level's block of the model
        // matrix is the base's rows, so its largest absolute row sum is the base's.
        let k = margin.width();
        let n = codes.len();
        let mut max_row = 0.0_f64;
        let mut start = 0;
        while start < n {
            let len = CHUNK_ROWS.min(n - start);
            let xb = margin.matrix(&rows(&vars[..d], start, len));
            max_row = xb.rows().into_iter().fold(max_row, |a, r| a.max(r.iter().map(|v| v.abs()).sum()));
            start += len;
        }
        let s_norm = s.columns().into_iter().map(|c| c.iter().map(|v| v.abs()).sum::<f64>()).fold(0.0, f64::max);
        let scale = s_norm / (max_row * max_row);
        if !(scale > 0.0 && scale.is_finite()) {
            return Err(EngineError::InvalidSpec { what: format!("`{label}`: the base smooth has no penalty") });
        }
        let z = contrast(levels);
        let kron = |m: &Array2<f64>| {
            let w = (levels - 1) * k;
            Array2::from_shape_fn((w, w), |(a, b)| m[(a / k, b / k)] * s[(a % k, b % k)] / scale)
        };
        let penalties = if shared {
            vec![kron(&z.t().dot(&z))]
        } else {
            (0..levels)
                .map(|l| {
                    let zl = z.row(l);
                    kron(&Array2::from_shape_fn((levels - 1, levels - 1), |(a, b)| zl[a] * zl[b]))
                })
                .collect()
        };
        Ok((SzBasis { base: margin, levels, contrast: z }, penalties, scale))
    }
}

impl RawBasis for SzBasis {
    const STORED: &'static [&'static str] = &["sz"];

    fn class(&self) -> &'static str {
        "sz"
    }

    /// The base smooth's covariates, then the factor's level codes.
    fn n_vars(&self) -> Option<usize> {
        Some(self.base.dim + 1)
    }

    fn width(&self) -> usize {
        self.base.width() * (self.levels - 1)
    }

    /// Row `r` is `z_l kron b_r` for its level `l` and base row `b_r`; a code outside
    /// 1 to `levels` (a level the fit did not see) gives zeros, as mgcv's indicators.
    fn fill_raw(&self, vars: &[&[f64]], out: &mut [f64]) {
        let d = self.base.dim;
        let xb = self.base.matrix(&vars[..d]);
        let k = xb.ncols();
        for (r, row) in out.chunks_exact_mut(self.width()).enumerate() {
            let code = vars[d][r];
            if !(code >= 1.0 && code <= self.levels as f64) {
                row.fill(0.0);
                continue;
            }
            let zl = self.contrast.row(code as usize - 1);
            for (m, block) in row.chunks_exact_mut(k).enumerate() {
                for (o, b) in block.iter_mut().zip(xb.row(r)) {
                    *o = zl[m] * b;
                }
            }
        }
    }

    fn write_state(&self, st: &mut State) {
        st.insert("margins".into(), encode_margins(std::slice::from_ref(&self.base)));
        st.insert("levels".into(), vec![self.levels as f64]);
    }

    fn read_state(f: &Fields<'_>, _: &str) -> Result<SzBasis> {
        let mut margins = decode_margins(f, f.get("margins")?)?;
        let levels = f.count("levels")?;
        if margins.len() != 1 || levels < 2 {
            return Err(f.bad("stored sum-to-zero factor smooth must have one base smooth and 2 or more levels"));
        }
        Ok(SzBasis { base: margins.remove(0), levels, contrast: contrast(levels) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each level's curve is its block of the unconstrained basis, and the levels'
    /// coefficient vectors sum to zero; the per-level penalties add up to the
    /// shared one.
    #[test]
    fn deviations_sum_to_zero() {
        let n = 240;
        let x: Vec<f64> = (0..n).map(|i| ((i * 37) % n) as f64 / n as f64).collect();
        let codes: Vec<f64> = (0..n).map(|i| (1 + i % 4) as f64).collect();
        let base = MarginSpec::for_tests("cr", 6, 1);
        let (sz, pens, _) = SzBasis::construct("s(g,x)", &[&x, &codes], &base, 4, false).unwrap();
        let (_, shared, _) = SzBasis::construct("s(g,x)", &[&x, &codes], &base, 4, true).unwrap();
        assert_eq!((sz.width(), pens.len()), (18, 4));
        let total = pens.iter().skip(1).fold(pens[0].clone(), |a, p| a + p);
        assert!((&total - &shared[0]).iter().all(|v| v.abs() < 1e-12));
        // beta -> gamma: the level curves' coefficients sum to zero.
        let beta: Vec<f64> = (0..18).map(|i| (i as f64 * 0.37).sin()).collect();
        let z = contrast(4);
        let gamma = |l: usize, j: usize| (0..3).map(|m| z[(l, m)] * beta[m * 6 + j]).sum::<f64>();
        for j in 0..6 {
            assert!((0..4).map(|l| gamma(l, j)).sum::<f64>().abs() < 1e-12);
        }
        let mut out = vec![0.0; n * 18];
        sz.fill_raw(&[&x, &codes], &mut out);
        let xb = sz.base.matrix(&[&x]);
        for r in 0..n {
            let l = codes[r] as usize - 1;
            let fitted: f64 = out[r * 18..(r + 1) * 18].iter().zip(&beta).map(|(a, b)| a * b).sum();
            let want: f64 = (0..6).map(|j| xb[(r, j)] * gamma(l, j)).sum();
            assert!((fitted - want).abs() < 1e-12);
        }
    }
}
