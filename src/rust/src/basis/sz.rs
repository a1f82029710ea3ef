//! Factor smooth interactions with sum-to-zero deviations (`bs = "sz"`, mgcv's
//! `smooth.construct.sz.smooth.spec`; Wood 2017 §5.8): one curve of the numeric
//! covariates per level of a factor (per combination of levels of several factors),
//! each a deviation from a main effect (`s(x) + s(f, x, bs = "sz")`), the deviations
//! summing to zero over each factor's levels at every covariate value.
//!
//! The base smooth (unconstrained) has coefficients `gamma_l` per combination `l`
//! of levels, the first factor's level varying slowest. The constraints are
//! absorbed by `gamma = (Z kron I) beta` with `Z = Z_1 kron Z_2 kron ..`,
//! `Z_f = [I; -1']` (levels x levels - 1), as mgcv's `XZKr` absorbs them. Each
//! combination keeps its own penalty `gamma_l' S gamma_l` and smoothing parameter,
//! `(z_l z_l' kron S)` on `beta` (`z_l` row `l` of `Z`); with an `id` they share
//! one, `(Z'Z kron S)`. The model does not depend on which `Z`. With a numeric `by`
//! that is not constant the term is identifiable without the constraints and mgcv
//! drops them: `Z = I`. Penalties are scaled as mgcv scales the unconstrained term:
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
    /// Each factor's number of levels.
    pub levels: Vec<usize>,
    /// Whether the deviations sum to zero (false with a numeric `by`).
    pub constrained: bool,
    /// `Z`, combinations x columns per base coefficient, row-major.
    contrast: Array2<f64>,
}

/// `Z_1 kron Z_2 kron ..` with `Z_f = [I; -1']` (`levels x levels - 1`): each
/// factor's last level's coefficients are minus the others' sum (mgcv's `XZKr`);
/// the identity when unconstrained. The fit does not depend on this choice, but the
/// REML score's constant does, through the volume of the unpenalized directions (a
/// `log(levels)` per pair of them against orthonormal columns).
fn contrast(levels: &[usize], constrained: bool) -> Array2<f64> {
    let total: usize = levels.iter().product();
    if !constrained {
        return Array2::eye(total);
    }
    levels.iter().fold(Array2::ones((1, 1)), |z, &m| {
        let zf = Array2::from_shape_fn((m, m - 1), |(l, j)| {
            if l == m - 1 {
                -1.0
            } else if l == j {
                1.0
            } else {
                0.0
            }
        });
        let (r, c) = z.dim();
        Array2::from_shape_fn((r * m, c * (m - 1)), |(a, b)| z[(a / m, b / (m - 1))] * zf[(a % m, b % (m - 1))])
    })
}

/// The combination of levels of row `r` (0-based, the first factor slowest) from
/// the factors' level codes (1 to levels); `None` for a level the fit did not see.
fn combination(codes: &[&[f64]], levels: &[usize], r: usize) -> Option<usize> {
    codes.iter().zip(levels).try_fold(0usize, |acc, (c, &m)| {
        let code = c[r];
        (code >= 1.0 && code <= m as f64 && code.fract() == 0.0).then(|| acc * m + code as usize - 1)
    })
}

impl SzBasis {
    /// `vars`: the base smooth's covariates, then each factor's level codes (1 to
    /// its `levels`). Returns the basis, its penalties (one per combination of
    /// levels, or one shared when `shared`) already scaled, and the scale they were
    /// divided by.
    pub fn construct(
        label: &str,
        vars: &[&[f64]],
        base: &MarginSpec,
        levels: &[usize],
        constrained: bool,
        shared: bool,
    ) -> Result<(SzBasis, Vec<Array2<f64>>, f64)> {
        let d = vars.len().saturating_sub(levels.len());
        let total = levels.iter().try_fold(1usize, |a, &m| a.checked_mul(m));
        if d == 0 || base.dim != d || levels.is_empty() || levels.iter().any(|&m| m < 2) || total.is_none() {
            return Err(EngineError::InvalidSpec {
                what: format!(
                    "`{label}`: a sum-to-zero factor smooth needs numeric covariates and factors of 2 or more levels"
                ),
            });
        }
        let codes = &vars[d..];
        if (0..vars[0].len()).any(|r| combination(codes, levels, r).is_none()) {
            return Err(EngineError::InvalidSpec {
                what: format!("`{label}`: level codes must be whole numbers from 1 to each factor's levels"),
            });
        }
        let (basis, s, _) = base.build(label, &vars[..d])?.single(label)?;
        let margin = Margin { basis, dim: d, constraint: None, reparam: None };
        // mgcv's scale of the unconstrained term: each level's block of the model
        // matrix is the base's rows, so its largest absolute row sum is the base's.
        let k = margin.width();
        let n = vars[0].len();
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
        let z = contrast(levels, constrained);
        let (combinations, columns) = z.dim();
        let kron = |m: &Array2<f64>| {
            let w = columns * k;
            Array2::from_shape_fn((w, w), |(a, b)| m[(a / k, b / k)] * s[(a % k, b % k)] / scale)
        };
        let penalties = if shared {
            vec![kron(&z.t().dot(&z))]
        } else {
            (0..combinations)
                .map(|l| {
                    let zl = z.row(l);
                    kron(&Array2::from_shape_fn((columns, columns), |(a, b)| zl[a] * zl[b]))
                })
                .collect()
        };
        Ok((SzBasis { base: margin, levels: levels.to_vec(), constrained, contrast: z }, penalties, scale))
    }
}

impl RawBasis for SzBasis {
    const STORED: &'static [&'static str] = &["sz"];

    fn class(&self) -> &'static str {
        "sz"
    }

    /// The base smooth's covariates, then each factor's level codes.
    fn n_vars(&self) -> Option<usize> {
        Some(self.base.dim + self.levels.len())
    }

    fn width(&self) -> usize {
        self.base.width() * self.contrast.ncols()
    }

    /// Row `r` is `z_l kron b_r` for its combination of levels `l` and base row
    /// `b_r`; a code outside a factor's levels (a level the fit did not see) gives
    /// zeros, as mgcv's indicators.
    fn fill_raw(&self, vars: &[&[f64]], out: &mut [f64]) {
        let d = self.base.dim;
        let xb = self.base.matrix(&vars[..d]);
        let k = xb.ncols();
        for (r, row) in out.chunks_exact_mut(self.width()).enumerate() {
            let Some(l) = combination(&vars[d..], &self.levels, r) else {
                row.fill(0.0);
                continue;
            };
            let zl = self.contrast.row(l);
            for (m, block) in row.chunks_exact_mut(k).enumerate() {
                for (o, b) in block.iter_mut().zip(xb.row(r)) {
                    *o = zl[m] * b;
                }
            }
        }
    }

    fn write_state(&self, st: &mut State) {
        st.insert("margins".into(), encode_margins(std::slice::from_ref(&self.base)));
        st.insert("levels".into(), self.levels.iter().map(|&m| m as f64).collect());
        if !self.constrained {
            st.insert("unconstrained".into(), vec![1.0]);
        }
    }

    fn read_state(f: &Fields<'_>, _: &str) -> Result<SzBasis> {
        let mut margins = decode_margins(f, f.get("margins")?)?;
        let levels = f.get("levels")?;
        let total = levels.iter().try_fold(1.0_f64, |a, &m| Some(a * m).filter(|t| m >= 2.0 && *t <= 1e6));
        if margins.len() != 1 || levels.is_empty() || levels.iter().any(|m| m.fract() != 0.0) || total.is_none() {
            return Err(
                f.bad("stored sum-to-zero factor smooth must have one base smooth and factors of 2 or more levels")
            );
        }
        let levels: Vec<usize> = levels.iter().map(|&m| m as usize).collect();
        let constrained = !f.has("unconstrained");
        let contrast = contrast(&levels, constrained);
        Ok(SzBasis { base: margins.remove(0), levels, constrained, contrast })
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
        let (sz, pens, _) = SzBasis::construct("s(g,x)", &[&x, &codes], &base, &[4], true, false).unwrap();
        let (_, shared, _) = SzBasis::construct("s(g,x)", &[&x, &codes], &base, &[4], true, true).unwrap();
        assert_eq!((sz.width(), pens.len()), (18, 4));
        let total = pens.iter().skip(1).fold(pens[0].clone(), |a, p| a + p);
        assert!((&total - &shared[0]).iter().all(|v| v.abs() < 1e-12));
        // beta -> gamma: the level curves' coefficients sum to zero.
        let beta: Vec<f64> = (0..18).map(|i| (i as f64 * 0.37).sin()).collect();
        let z = contrast(&[4], true);
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

    /// Two factors (3 and 2 levels): the deviations sum to zero over each factor's
    /// levels at every other factor's level; row `r` is its combination's curve.
    /// Unconstrained (a numeric `by`), every combination has its own free curve.
    #[test]
    fn two_factors_and_unconstrained() {
        let n = 240;
        let x: Vec<f64> = (0..n).map(|i| ((i * 37) % n) as f64 / n as f64).collect();
        let f: Vec<f64> = (0..n).map(|i| (1 + i % 3) as f64).collect();
        let g: Vec<f64> = (0..n).map(|i| (1 + (i / 3) % 2) as f64).collect();
        let base = MarginSpec::for_tests("cr", 5, 1);
        let vars = [x.as_slice(), f.as_slice(), g.as_slice()];
        let (sz, pens, _) = SzBasis::construct("s(f,g,x)", &vars, &base, &[3, 2], true, false).unwrap();
        assert_eq!((sz.width(), pens.len(), sz.n_vars()), (10, 6, Some(3)));
        let beta: Vec<f64> = (0..10).map(|i| (i as f64 * 0.61).cos()).collect();
        let z = contrast(&[3, 2], true);
        let gamma = |l: usize, j: usize| (0..2).map(|m| z[(l, m)] * beta[m * 5 + j]).sum::<f64>();
        for j in 0..5 {
            for b in 0..2 {
                assert!((0..3).map(|a| gamma(a * 2 + b, j)).sum::<f64>().abs() < 1e-12);
            }
            for a in 0..3 {
                assert!((0..2).map(|b| gamma(a * 2 + b, j)).sum::<f64>().abs() < 1e-12);
            }
        }
        let mut out = vec![0.0; n * 10];
        sz.fill_raw(&vars, &mut out);
        let xb = sz.base.matrix(&[&x]);
        for r in 0..n {
            let l = (f[r] as usize - 1) * 2 + g[r] as usize - 1;
            let fitted: f64 = out[r * 10..(r + 1) * 10].iter().zip(&beta).map(|(a, b)| a * b).sum();
            let want: f64 = (0..5).map(|j| xb[(r, j)] * gamma(l, j)).sum();
            assert!((fitted - want).abs() < 1e-12);
        }
        // An unseen level predicts no deviation.
        let unseen = [0.5_f64];
        let mut row = vec![1.0; 10];
        sz.fill_raw(&[&unseen, &[4.0], &[1.0]], &mut row);
        assert!(row.iter().all(|v| *v == 0.0));
        let (free, free_pens, _) = SzBasis::construct("s(f,g,x)", &vars, &base, &[3, 2], false, false).unwrap();
        assert_eq!((free.width(), free_pens.len()), (30, 6));
        // Combination l's penalty is the base penalty on its own block alone.
        let block0 = free_pens[0].slice(ndarray::s![..5, ..5]).to_owned();
        assert!(block0.iter().any(|v| *v != 0.0));
        for (l, p) in free_pens.iter().enumerate() {
            for ((a, b), v) in p.indexed_iter() {
                let inside = a / 5 == l && b / 5 == l;
                assert_eq!(*v, if inside { block0[(a % 5, b % 5)] } else { 0.0 });
            }
        }
    }
}
