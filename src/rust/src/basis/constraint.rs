//! The sum-to-zero identifiability constraint `C beta = 0`, `C = colMeans(X)`, absorbed
//! by reparameterizing `beta = Z beta_z` with `Z` the last `k - 1` columns of the
//! Householder reflection that maps `C'` onto the first axis (Wood 2017 §5.4.1). The
//! reflection follows LINPACK's `dqrdc2` convention (as R's `qr()`), so that the
//! constrained coefficients are those mgcv reports.

use ndarray::{Array1, Array2, ShapeBuilder};

#[derive(Debug, Clone)]
pub struct SumToZero {
    /// Householder vector `u`, with `H = I - u u' / u[0]`.
    pub u: Vec<f64>,
}

impl SumToZero {
    /// From the constraint row `c` (any non-zero multiple of the column means).
    pub fn new(c: &[f64]) -> SumToZero {
        let mut norm = c.iter().map(|v| v * v).sum::<f64>().sqrt();
        if c[0] != 0.0 && c[0] < 0.0 {
            norm = -norm;
        }
        let mut u: Vec<f64> = c.iter().map(|v| v / norm).collect();
        u[0] += 1.0;
        SumToZero { u }
    }

    /// `X Z`: each row reflected, first element dropped.
    pub fn apply_columns(&self, x: &Array2<f64>) -> Array2<f64> {
        let (n, k) = x.dim();
        let u = Array1::from(self.u.clone());
        let proj = x.dot(&u) / self.u[0];
        let mut out = Array2::zeros((n, k - 1).f());
        for j in 1..k {
            let uj = self.u[j];
            let src = x.column(j);
            let mut dst = out.column_mut(j - 1);
            for i in 0..n {
                dst[i] = src[i] - proj[i] * uj;
            }
        }
        out
    }

    /// `Z' S Z`.
    pub fn apply_penalty(&self, s: &Array2<f64>) -> Array2<f64> {
        let sz = self.apply_columns(s);
        let zsz = self.apply_columns(&sz.t().to_owned());
        let mut out = zsz.t().to_owned();
        crate::linalg::symmetrize(&mut out);
        out
    }

    /// `Z beta_z`: constrained coefficients back on the original basis.
    pub fn expand(&self, beta_z: &[f64]) -> Vec<f64> {
        let mut v = vec![0.0];
        v.extend_from_slice(beta_z);
        let t: f64 = v.iter().zip(&self.u).map(|(a, b)| a * b).sum::<f64>() / self.u[0];
        v.iter().zip(&self.u).map(|(a, b)| a - t * b).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constrained_basis_has_zero_column_means() {
        let x = Array2::from_shape_fn((30, 5), |(i, j)| ((i + 1) as f64).powi(j as i32 % 3) + (i * j) as f64 * 0.1);
        let means: Vec<f64> = x.columns().into_iter().map(|col| col.sum() / 30.0).collect();
        let con = SumToZero::new(&means);
        let xz = con.apply_columns(&x);
        for col in xz.columns() {
            assert!(col.sum().abs() < 1e-9 * x.iter().map(|v| v.abs()).sum::<f64>());
        }
        // Z has orthonormal columns: expanding the unit vectors gives them.
        let e: Vec<Vec<f64>> = (0..4).map(|j| (0..4).map(|i| if i == j { 1.0 } else { 0.0 }).collect()).collect();
        let cols: Vec<Vec<f64>> = e.iter().map(|v| con.expand(v)).collect();
        for a in 0..4 {
            for b in 0..4 {
                let d: f64 = cols[a].iter().zip(&cols[b]).map(|(p, q)| p * q).sum();
                assert!((d - if a == b { 1.0 } else { 0.0 }).abs() < 1e-12);
            }
        }
    }
}
