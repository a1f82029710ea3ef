//! Markov random field smooths (`bs = "mrf"`; Rue & Held 2005, ch. 3; Wood 2017
//! §5.8.1; mgcv's `smooth.construct.mrf.smooth.spec`): one coefficient per region of
//! a discrete geography, penalized by the neighbourhood structure. The covariate is
//! the region's code `1..L`; the penalty (`L x L`, from a neighbour list: the number
//! of neighbours on the diagonal, -1 for each neighbour pair, or given directly)
//! arrives with the spec.
//!
//! With `k < L` the basis is reduced as mgcv reduces it: in the natural
//! parameterization of the indicator matrix `X` and the penalty (`X'X = diag(c)`, the
//! region counts, a region without data counting once), the eigenvectors `U` of
//! `diag(c)^-1/2 S diag(c)^-1/2` with the `k` smallest eigenvalues give the columns
//! `diag(c)^-1/2 U` and the penalty `diag(eigenvalues)`: the `k` smoothest directions.

use ndarray::Array2;

use super::registry::{Basis, Built, ClassArgs, ClassEntry, RawBasis, SizeArgs};
use super::size::dense_state;
use super::state::{put_matrix, Fields, State};
use crate::error::{EngineError, Result};

#[derive(Debug, Clone)]
pub struct MrfBasis {
    pub levels: usize,
    /// Region to reduced columns (`levels x k`); `None`: one column per region.
    pub map: Option<Array2<f64>>,
}

impl MrfBasis {
    pub fn construct(
        label: &str,
        codes: &[f64],
        k: Option<usize>,
        penalty: Option<&Array2<f64>>,
    ) -> Result<(MrfBasis, Array2<f64>)> {
        let bad = |what: String| EngineError::InvalidSpec { what: format!("`{label}`: {what}") };
        let s = penalty.ok_or_else(|| bad("a Markov random field needs its penalty (from `xt`)".into()))?;
        let levels = s.nrows();
        if s.ncols() != levels || levels == 0 || s.iter().any(|v| !v.is_finite()) {
            return Err(bad("the Markov random field penalty must be a finite square matrix".into()));
        }
        if (0..levels).any(|i| (0..i).any(|j| (s[(i, j)] - s[(j, i)]).abs() > 1e-10 * (s[(i, j)].abs() + 1.0))) {
            return Err(bad("the Markov random field penalty must be symmetric".into()));
        }
        if codes.iter().any(|c| c.fract() != 0.0 || *c < 1.0 || *c > levels as f64) {
            return Err(bad(format!("region codes must be whole numbers from 1 to {levels}")));
        }
        let k = k.unwrap_or(levels);
        if k > levels {
            return Err(EngineError::BadBasisDimension {
                term: label.to_string(),
                k,
                reason: format!("a Markov random field over {levels} regions has at most k = {levels}"),
            });
        }
        if k == levels {
            return Ok((MrfBasis { levels, map: None }, s.clone()));
        }
        let mut count = vec![0.0_f64; levels];
        for c in codes {
            count[*c as usize - 1] += 1.0;
        }
        let scale: Vec<f64> = count.iter().map(|c| 1.0 / c.max(1.0).sqrt()).collect();
        let scaled = Array2::from_shape_fn((levels, levels), |(i, j)| scale[i] * s[(i, j)] * scale[j]);
        let (values, vectors) = crate::linalg::sym_eigen(scaled.view());
        // Ascending: the first k are the smoothest. mgcv's rank threshold.
        let top = values.iter().fold(0.0_f64, |a, v| a.max(*v));
        let tol = top * f64::EPSILON.powf(0.8);
        // mgcv's `nat.param(unit.fnorm = TRUE)` then scales the orthonormal columns to
        // a mean square of one over the rows (a region without data is one row):
        // all by `sqrt(rows)`, the penalty by `rows`. Within a term's constraint this
        // changes nothing; a tensor product keeps the null direction, whose scale
        // enters REML's determinants (by half the log of the rows).
        let rows = count.iter().map(|c| c.max(1.0)).sum::<f64>();
        let unit = rows.sqrt();
        let map = Array2::from_shape_fn((levels, k), |(i, j)| unit * scale[i] * vectors[(i, j)]);
        let mut pen = Array2::zeros((k, k));
        for j in 0..k {
            pen[(j, j)] = if values[j] > tol { rows * values[j] } else { 0.0 };
        }
        Ok((MrfBasis { levels, map: Some(map) }, pen))
    }

    fn fill_x(&self, codes: &[f64], out: &mut [f64]) {
        let k = self.width();
        for (row, c) in out.chunks_exact_mut(k).zip(codes) {
            let region = *c as usize - 1;
            match &self.map {
                Some(m) => row.iter_mut().zip(m.row(region)).for_each(|(o, v)| *o = *v),
                None => {
                    row.fill(0.0);
                    row[region] = 1.0;
                }
            }
        }
    }

    fn dot_x(&self, codes: &[f64], beta: &[f64], by: Option<&[f64]>, out: &mut [f64]) {
        for (r, (o, c)) in out.iter_mut().zip(codes).enumerate() {
            let region = *c as usize - 1;
            let v = match &self.map {
                Some(m) => m.row(region).iter().zip(beta).map(|(a, b)| a * b).sum(),
                None => beta[region],
            };
            *o += by.map_or(v, |b| v * b[r]);
        }
    }
}

impl RawBasis for MrfBasis {
    const STORED: &'static [&'static str] = &["mrf"];

    fn class(&self) -> &'static str {
        "mrf"
    }

    fn width(&self) -> usize {
        self.map.as_ref().map_or(self.levels, |m| m.ncols())
    }

    super::registry::one_covariate_basis!();

    fn write_state(&self, st: &mut State) {
        st.insert("levels".into(), vec![self.levels as f64]);
        if let Some(m) = &self.map {
            put_matrix(st, "uz", "uz_dim", m);
        }
    }

    fn read_state(f: &Fields<'_>, _: &str) -> Result<MrfBasis> {
        let levels = f.count("levels")?;
        let map = if f.has("uz") { Some(f.matrix("uz", "uz_dim")?) } else { None };
        if levels == 0 || map.as_ref().is_some_and(|m| m.nrows() != levels || m.ncols() == 0) {
            return Err(f.bad("stored Markov random field basis has inconsistent parts"));
        }
        Ok(MrfBasis { levels, map })
    }
}

/// `bs = "mrf"`.
pub const MRF: ClassEntry =
    ClassEntry { name: "mrf", margin: true, values_parameterized: true, build: build_mrf, bounds: mrf_bounds };

fn build_mrf(a: &ClassArgs<'_>) -> Result<Built> {
    let (b, penalty) = MrfBasis::construct(a.label, a.one_covariate("mrf")?, a.k, a.penalty)?;
    Ok(Built::one(Basis::Mrf(b), penalty, None))
}

/// The map from regions to columns, at most `levels x k`; the regions are the
/// penalty's rows.
fn mrf_bounds(a: &SizeArgs<'_>) -> (usize, usize) {
    let levels = a.penalty_dim.unwrap_or(a.rows).max(a.k.unwrap_or(0));
    let k = a.k.unwrap_or(levels);
    (k, levels.saturating_mul(k) + dense_state(k) + 8)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Four regions in a row; the second has no data.
    fn chain() -> (Vec<f64>, Array2<f64>) {
        let codes = vec![1.0, 1.0, 3.0, 4.0, 4.0, 4.0];
        let s = ndarray::array![
            [1.0, -1.0, 0.0, 0.0],
            [-1.0, 2.0, -1.0, 0.0],
            [0.0, -1.0, 2.0, -1.0],
            [0.0, 0.0, -1.0, 1.0]
        ];
        (codes, s)
    }

    #[test]
    fn full_rank_is_the_indicator_basis() {
        let (codes, s) = chain();
        let (b, pen) = MrfBasis::construct("s(r)", &codes, None, Some(&s)).unwrap();
        assert_eq!(pen, s);
        let mut out = vec![0.0; 6 * 4];
        b.fill_x(&codes, &mut out);
        assert_eq!(&out[8..12], &[0.0, 0.0, 1.0, 0.0]);
    }

    /// The reduced basis spans the smoothest directions: its columns `B` satisfy
    /// `B' X'X B = n I` (X'X with the empty region counted once, `n` = 7 such rows:
    /// mgcv's unit mean square) and `B' S B = D`.
    #[test]
    fn reduced_basis_is_the_natural_parameterization() {
        let (codes, s) = chain();
        let (b, pen) = MrfBasis::construct("s(r)", &codes, Some(2), Some(&s)).unwrap();
        let m = b.map.as_ref().unwrap();
        let xtx = Array2::from_diag(&ndarray::arr1(&[2.0, 1.0, 1.0, 3.0]));
        let i2 = m.t().dot(&xtx).dot(m);
        let d = m.t().dot(&s).dot(m);
        for r in 0..2 {
            for c in 0..2 {
                assert!((i2[(r, c)] - 7.0 * f64::from(r == c)).abs() < 1e-12);
                assert!((d[(r, c)] - pen[(r, c)]).abs() < 1e-12);
            }
        }
        // The constant is the smoothest direction: it is unpenalized.
        assert_eq!(pen[(0, 0)], 0.0);
        assert!(pen[(1, 1)] > 0.0);
    }

    /// A term rebuilt from its stored state predicts as the original, reduced or not.
    #[test]
    fn state_round_trip() {
        use crate::basis::{construct, Smooth, SmoothSpec};
        let (codes, s) = chain();
        for k in [None, Some(3)] {
            let spec = SmoothSpec {
                k,
                penalty: Some(s.clone()),
                ..SmoothSpec::for_tests("s(r)", "mrf", 4, vec![codes.clone()])
            };
            let sm = construct(&spec).unwrap();
            let back = Smooth::from_state("s(r)", sm.basis.class(), &sm.state()).unwrap();
            let at = [1.0, 2.0, 3.0, 4.0];
            assert_eq!(back.predict_matrix(&[&at], None), sm.predict_matrix(&[&at], None));
            assert_eq!(back.penalties, sm.penalties);
        }
    }

    #[test]
    fn refuses_bad_input() {
        let (codes, s) = chain();
        assert!(MrfBasis::construct("s(r)", &codes, Some(5), Some(&s)).is_err());
        assert!(MrfBasis::construct("s(r)", &[0.0, 2.0], None, Some(&s)).is_err());
        assert!(MrfBasis::construct("s(r)", &codes, None, None).is_err());
        let mut asym = s.clone();
        asym[(0, 1)] = 3.0;
        assert!(MrfBasis::construct("s(r)", &codes, None, Some(&asym)).is_err());
    }
}
