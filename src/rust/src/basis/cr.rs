//! Cubic regression spline (`bs = "cr"`), parameterized by its values at the knots
//! (Wood 2017 §5.3.1; Lancaster & Šalkauskas 1986). Knots sit at the quantiles of the
//! distinct covariate values; the penalty is the integrated squared second derivative.
//! Outside the knot range the spline continues linearly.

use ndarray::Array2;

use super::knots::{quantile7, r_seq, sorted_unique, IntervalFinder};
use super::registry::{one_covariate_basis, Basis, Built, ClassArgs, ClassEntry, RawBasis};
use super::shrink_null_space;
use super::size::spline_bounds;
use super::state::{Fields, State};
use crate::error::{EngineError, Result};
use crate::linalg::SpdFactor;

#[derive(Debug, Clone)]
pub struct CrBasis {
    pub knots: Vec<f64>,
    /// Maps the values at the knots to the second derivatives there (`F` in Wood 2017).
    f: Array2<f64>,
}

/// `D` ((k-2) x k, second divided differences) and `B` ((k-2) x (k-2), tridiagonal):
/// the natural spline's second derivatives `g''` at the interior knots solve
/// `B g'' = D g` (Wood 2017 §5.3.1).
pub fn natural_spline_system(knots: &[f64]) -> (Array2<f64>, Array2<f64>) {
    let k = knots.len();
    let h: Vec<f64> = knots.windows(2).map(|w| w[1] - w[0]).collect();
    let mut d = Array2::zeros((k - 2, k));
    let mut b = Array2::zeros((k - 2, k - 2));
    for i in 0..k - 2 {
        d[(i, i)] = 1.0 / h[i];
        d[(i, i + 1)] = -1.0 / h[i] - 1.0 / h[i + 1];
        d[(i, i + 2)] = 1.0 / h[i + 1];
        b[(i, i)] = (h[i] + h[i + 1]) / 3.0;
        if i + 1 < k - 2 {
            b[(i, i + 1)] = h[i + 1] / 6.0;
            b[(i + 1, i)] = h[i + 1] / 6.0;
        }
    }
    (d, b)
}

impl CrBasis {
    /// Builds the basis for `s(x, bs = "cr", k = k)`, returning it with its penalty.
    pub fn construct(label: &str, x: &[f64], k: usize, knots: Option<&[f64]>) -> Result<(CrBasis, Array2<f64>)> {
        if k < 3 {
            return Err(EngineError::BadBasisDimension {
                term: label.to_string(),
                k,
                reason: "a cubic regression spline needs k >= 3".to_string(),
            });
        }
        let knots = match knots {
            Some(given) => {
                if given.len() != k {
                    return Err(EngineError::InvalidSpec {
                        what: format!("`{label}`: {} knots supplied for k = {k}", given.len()),
                    });
                }
                let mut kn = given.to_vec();
                kn.sort_by(|a, b| a.total_cmp(b));
                kn
            }
            None => {
                let u = sorted_unique(x);
                if u.len() < k {
                    return Err(EngineError::TooFewUniqueValues { term: label.to_string(), k, unique: u.len() });
                }
                quantile7(&u, &r_seq(0.0, 1.0, k))
            }
        };
        let basis = CrBasis::from_knots(knots)?;
        let s = basis.penalty();
        Ok((basis, s))
    }

    /// A basis on given (sorted, distinct) knots.
    pub fn from_knots(knots: Vec<f64>) -> Result<CrBasis> {
        let k = knots.len();
        let (d, b) = natural_spline_system(&knots);
        let bf = SpdFactor::new(b.view())
            .ok_or_else(|| EngineError::InvalidSpec { what: "cr knots must be distinct".to_string() })?;
        let mut f = Array2::zeros((k, k));
        f.slice_mut(ndarray::s![1..k - 1, ..]).assign(&bf.solve(d.view()));
        Ok(CrBasis { knots, f })
    }

    /// `D' B^-1 D`: the integrated squared second derivative of the spline with the
    /// given knot values.
    pub fn penalty(&self) -> Array2<f64> {
        let (d, _) = natural_spline_system(&self.knots);
        let mut s = d.t().dot(&self.f.slice(ndarray::s![1..self.knots.len() - 1, ..]));
        crate::linalg::symmetrize(&mut s);
        s
    }

    /// The basis evaluated at `x` (one row per value).
    pub fn matrix(&self, x: &[f64]) -> Array2<f64> {
        let k = self.knots.len();
        let mut out = vec![0.0; x.len() * k];
        self.fill_x(x, &mut out);
        Array2::from_shape_vec((x.len(), k), out).expect("row-major shape")
    }

    /// `X(x) beta` without forming `X(x)`: the spline with knot values `beta` has
    /// second derivatives `F beta` at the knots, so each value needs only the two
    /// knots around it (Wood 2017 §5.3.1).
    fn dot_x(&self, x: &[f64], beta: &[f64], by: Option<&[f64]>, out: &mut [f64]) {
        let k = self.knots.len();
        let kn = &self.knots;
        let g2 = self.f.dot(&ndarray::ArrayView1::from(beta)).to_vec();
        // On interval j, with t = x - knot_j and h its width, the spline
        //   (h - t)/h b_j + t/h b_j+1 + ((h - t)^3/h - (h - t) h)/6 g_j + (t^3/h - t h)/6 g_j+1
        // expands to the cubic c0 + c1 t + c2 t^2 + c3 t^3 below: one table lookup and
        // three multiply-adds per point.
        let cubics: Vec<[f64; 4]> = (0..k - 1)
            .map(|j| {
                let h = kn[j + 1] - kn[j];
                [
                    beta[j],
                    (beta[j + 1] - beta[j]) / h - h * (2.0 * g2[j] + g2[j + 1]) / 6.0,
                    g2[j] / 2.0,
                    (g2[j + 1] - g2[j]) / (6.0 * h),
                ]
            })
            .collect();
        let finder = IntervalFinder::new(kn);
        for (r, (o, &xi)) in out.iter_mut().zip(x).enumerate() {
            let v = if xi < kn[0] {
                let h = kn[1] - kn[0];
                let d = xi - kn[0];
                -d * h / 3.0 * g2[0] - d * h / 6.0 * g2[1] + (1.0 - d / h) * beta[0] + d / h * beta[1]
            } else if xi > kn[k - 1] {
                let h = kn[k - 1] - kn[k - 2];
                let d = xi - kn[k - 1];
                d * h / 6.0 * g2[k - 2] + d * h / 3.0 * g2[k - 1] - d / h * beta[k - 2] + (1.0 + d / h) * beta[k - 1]
            } else {
                let j = finder.find(xi);
                let [c0, c1, c2, c3] = cubics[j];
                let t = xi - kn[j];
                c0 + t * (c1 + t * (c2 + t * c3))
            };
            *o += by.map_or(v, |b| v * b[r]);
        }
    }

    /// The basis at `x`, row-major into `out` (`x.len()` rows of `k`): rows are
    /// written whole and in order, which keeps the writes sequential.
    fn fill_x(&self, x: &[f64], out: &mut [f64]) {
        let k = self.knots.len();
        let kn = &self.knots;
        let f = self.f.as_standard_layout();
        let f = f.as_slice().expect("standard layout");
        let f_row = |j: usize| &f[j * k..(j + 1) * k];
        let finder = IntervalFinder::new(kn);
        for (row, &xi) in out.chunks_exact_mut(k).zip(x) {
            if xi < kn[0] {
                let h = kn[1] - kn[0];
                let d = xi - kn[0];
                let (a, b) = (-d * h / 3.0, -d * h / 6.0);
                for ((v, f0), f1) in row.iter_mut().zip(f_row(0)).zip(f_row(1)) {
                    *v = a * f0 + b * f1;
                }
                row[0] += 1.0 - d / h;
                row[1] += d / h;
            } else if xi > kn[k - 1] {
                let h = kn[k - 1] - kn[k - 2];
                let d = xi - kn[k - 1];
                let (a, b) = (d * h / 6.0, d * h / 3.0);
                for ((v, f0), f1) in row.iter_mut().zip(f_row(k - 2)).zip(f_row(k - 1)) {
                    *v = a * f0 + b * f1;
                }
                row[k - 2] -= d / h;
                row[k - 1] += 1.0 + d / h;
            } else {
                let j = finder.find(xi);
                let h = kn[j + 1] - kn[j];
                let am = kn[j + 1] - xi;
                let ap = xi - kn[j];
                let cm = am * (am * am / h - h) / 6.0;
                let cp = ap * (ap * ap / h - h) / 6.0;
                for ((v, f0), f1) in row.iter_mut().zip(f_row(j)).zip(f_row(j + 1)) {
                    *v = cm * f0 + cp * f1;
                }
                row[j] += am / h;
                row[j + 1] += ap / h;
            }
        }
    }
}

impl RawBasis for CrBasis {
    const STORED: &'static [&'static str] = &["cr"];

    fn class(&self) -> &'static str {
        "cr"
    }

    fn width(&self) -> usize {
        self.knots.len()
    }

    one_covariate_basis!();

    fn write_state(&self, st: &mut State) {
        st.insert("knots".into(), self.knots.clone());
    }

    fn read_state(f: &Fields<'_>, _: &str) -> Result<CrBasis> {
        CrBasis::from_knots(f.knots(3)?)
    }
}

/// `bs = "cr"`.
pub const CR: ClassEntry =
    ClassEntry { name: "cr", margin: true, values_parameterized: true, build: build_cr, bounds: spline_bounds };

/// `bs = "cs"`: the same basis, with the penalty's two null-space eigenvalues made a
/// tenth, then a hundredth, of its smallest positive one (mgcv's shrinkage), so that
/// the whole term can be penalized away.
pub const CS: ClassEntry =
    ClassEntry { name: "cs", margin: false, values_parameterized: true, build: build_cs, bounds: spline_bounds };

fn build_cr(a: &ClassArgs<'_>) -> Result<Built> {
    a.check_scale(3)?;
    let (b, penalty) = CrBasis::construct(a.label, a.one_covariate("cr")?, a.k.unwrap_or(10), a.knots)?;
    Ok(Built::one(Basis::Cr(b), penalty, None))
}

fn build_cs(a: &ClassArgs<'_>) -> Result<Built> {
    let built = build_cr(a)?;
    Ok(Built { penalties: vec![shrink_null_space(&built.penalties[0], 2, true)], ..built })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interpolates_knot_values_and_reproduces_lines() {
        let x: Vec<f64> = (0..50).map(|i| (i as f64 / 7.0).sin() * 3.0 + i as f64 / 10.0).collect();
        let (basis, s) = CrBasis::construct("s(x)", &x, 6, None).unwrap();
        // At the knots the basis is the identity (value parameterization).
        let at_knots = basis.matrix(&basis.knots);
        for i in 0..6 {
            for j in 0..6 {
                let want = if i == j { 1.0 } else { 0.0 };
                assert!((at_knots[(i, j)] - want).abs() < 1e-12);
            }
        }
        // A straight line is in the penalty's null space and is reproduced everywhere,
        // including outside the knot range.
        let line: Vec<f64> = basis.knots.iter().map(|k| 2.0 - 0.5 * k).collect();
        let pen = s.dot(&ndarray::Array1::from(line.clone()));
        assert!(pen.iter().all(|v| v.abs() < 1e-9));
        let pts = [-3.0, 0.3, 2.2, 12.0];
        let vals = basis.matrix(&pts).dot(&ndarray::Array1::from(line));
        for (p, v) in pts.iter().zip(vals.iter()) {
            assert!((v - (2.0 - 0.5 * p)).abs() < 1e-9, "{p}: {v}");
        }
    }

    #[test]
    fn too_few_unique_values_is_an_error() {
        let x = [1.0, 2.0, 2.0, 3.0];
        let err = CrBasis::construct("s(x)", &x, 5, None).unwrap_err();
        assert_eq!(err, EngineError::TooFewUniqueValues { term: "s(x)".into(), k: 5, unique: 3 });
    }
}
