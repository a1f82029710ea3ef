//! Gaussian process smooths (`bs = "gp"`; Kammann & Wand 2003, "Geoadditive models",
//! JRSS C 52; Wood 2017 §5.8.2; mgcv's `smooth.construct.gp.smooth.spec`).
//!
//! A low-rank kriging basis: with `C` the correlation matrix of the knots (the
//! distinct covariate points, or a subsample of them) under a correlation function
//! `c(r / range)`, and `U`, `D` its `kk` eigenpairs largest in magnitude, the basis at
//! `x` is `[c(|x - knots|) U, 1, x]` (`[.., 1]` alone for a stationary process,
//! mgcv's negative `m[1]`) and the penalty `diag(D, 0)`. Covariates are centred on
//! their means first. The correlation functions are mgcv's `m[1]` = 1 spherical, 2
//! power exponential (`exp(-r^m[3])`), 3-5 Matérn with smoothness 1.5, 2.5, 3.5;
//! `m[2]` is the range, by default the largest distance between knots.

use ndarray::{s, Array2};

use super::exp_line::ExpLine;
use super::registry::{Basis, Built, ClassArgs, ClassEntry, RawBasis, SizeArgs};
use super::size::dense_state;
use super::state::{put_matrix, Fields, State};
use super::tp::distinct_points;
use crate::error::{EngineError, Result};
use crate::lanczos::{extreme_eigenpairs, extreme_eigenpairs_of};
use std::sync::OnceLock;

/// A correlation function and its range (mgcv's `gp.defn`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Correlation {
    /// 1 spherical, 2 power exponential, 3-5 Matérn 1.5, 2.5, 3.5.
    pub kind: u8,
    pub range: f64,
    /// The power exponential's power, in (0, 2].
    pub power: f64,
}

impl Correlation {
    /// `P` of `c(r) = exp(-r) P(r)`, for the functions of that form.
    fn exp_polynomial(&self) -> Option<Vec<f64>> {
        match self.kind {
            2 if self.power == 1.0 => Some(vec![1.0]),
            3 => Some(vec![1.0, 1.0]),
            4 => Some(vec![1.0, 1.0, 1.0 / 3.0]),
            5 => Some(vec![1.0, 1.0, 0.4, 1.0 / 15.0]),
            _ => None,
        }
    }

    /// The correlation at distance `dist`.
    #[inline]
    fn at(&self, dist: f64) -> f64 {
        let r = dist / self.range;
        match self.kind {
            1 if r <= 1.0 => 1.0 - 1.5 * r + 0.5 * r * r * r,
            1 => 0.0,
            2 => (-r.powf(self.power)).exp(),
            3 => (1.0 + r) * (-r).exp(),
            4 => (1.0 + r + r * r / 3.0) * (-r).exp(),
            _ => (1.0 + r + 0.4 * r * r + r * r * r / 15.0) * (-r).exp(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct GpBasis {
    pub corr: Correlation,
    /// Only a constant, not a linear trend, is unpenalized (mgcv's negative `m[1]`).
    pub stationary: bool,
    /// The covariates' means on the data the basis was built on.
    pub shift: Vec<f64>,
    /// Knots (rows), centred by `shift`.
    pub points: Array2<f64>,
    /// Eigenvectors of the knots' correlation matrix (`knots x kk`).
    pub uz: Array2<f64>,
    /// With one covariate and an exponential-times-polynomial correlation, the basis
    /// by a sweep over the sorted knots (`ExpLine`), made on first use.
    line: OnceLock<Option<ExpLine>>,
}

/// The sweep for a one-dimensional basis whose correlation it can sum.
fn exp_line(points: &Array2<f64>, corr: &Correlation) -> Option<ExpLine> {
    let poly = corr.exp_polynomial().filter(|_| points.ncols() == 1)?;
    Some(ExpLine::new(&points.column(0).to_vec(), poly, corr.range))
}

/// mgcv's default basis dimension: `d + 1 + (10, 30, 100)[d]`.
fn default_k(d: usize) -> usize {
    d + 1 + [10, 30, 100].get(d - 1).copied().unwrap_or(100)
}

impl GpBasis {
    fn new(corr: Correlation, stationary: bool, shift: Vec<f64>, points: Array2<f64>, uz: Array2<f64>) -> GpBasis {
        GpBasis { corr, stationary, shift, points, uz, line: OnceLock::new() }
    }

    fn line(&self) -> Option<&ExpLine> {
        self.line.get_or_init(|| exp_line(&self.points, &self.corr)).as_ref()
    }

    fn dim(&self) -> usize {
        self.points.ncols()
    }

    fn null_dim(&self) -> usize {
        if self.stationary {
            1
        } else {
            self.dim() + 1
        }
    }

    /// `parameters`: mgcv's `m` (type, range, power; missing or non-positive range:
    /// the largest knot distance). `knots`: `nk x d` column-major, else the data's
    /// distinct points.
    pub fn construct(
        label: &str,
        vars: &[&[f64]],
        k: Option<usize>,
        parameters: &[f64],
        knots: Option<&[f64]>,
        threads: usize,
    ) -> Result<(GpBasis, Array2<f64>)> {
        let d = vars.len();
        let n = vars[0].len();
        let bad = |what: String| EngineError::InvalidSpec { what: format!("`{label}`: {what}") };
        let kind_value = parameters.first().copied().unwrap_or(3.0);
        let kind = kind_value.abs().round();
        let power = parameters.get(2).copied().unwrap_or(1.0);
        if !((1.0..=5.0).contains(&kind) && power > 0.0 && power <= 2.0) {
            return Err(bad(format!(
                "a Gaussian process needs `m[1]` of 1 to 5 in absolute value and a power `m[3]` in (0, 2], not {parameters:?}"
            )));
        }
        let stationary = kind_value < 0.0;
        let shift: Vec<f64> = vars.iter().map(|v| v.iter().sum::<f64>() / n as f64).collect();
        let (distinct, _) = distinct_points(n, d, |i, l| vars[l][i]);
        let points = match knots {
            Some(kn) if !kn.is_empty() && kn.len() % d == 0 => {
                let nk = kn.len() / d;
                Array2::from_shape_fn((nk, d), |(i, l)| kn[l * nk + i] - shift[l])
            }
            Some(_) => return Err(bad("the knots must give every covariate the same number of values".into())),
            None => Array2::from_shape_fn((distinct.len(), d), |(i, l)| vars[l][distinct[i]] - shift[l]),
        };
        let null = if stationary { 1 } else { d + 1 };
        let k = k.unwrap_or_else(|| default_k(d));
        if distinct.len() < k {
            return Err(EngineError::TooFewUniqueValues { term: label.to_string(), k, unique: distinct.len() });
        }
        if k < d + 2 {
            return Err(EngineError::BadBasisDimension {
                term: label.to_string(),
                k,
                reason: format!("a Gaussian process smooth in {d} dimension(s) needs k >= {}", d + 2),
            });
        }
        let nk = points.nrows();
        let kk = k - null;
        if kk > nk {
            return Err(EngineError::BadBasisDimension {
                term: label.to_string(),
                k,
                reason: format!("{nk} knots give at most k = {}", nk + null),
            });
        }
        let distance =
            |i: usize, j: usize| (0..d).map(|l| (points[(i, l)] - points[(j, l)]).powi(2)).sum::<f64>().sqrt();
        let range = match parameters.get(1) {
            Some(&r) if r > 0.0 => r,
            _ if d == 1 => {
                let (lo, hi) =
                    points.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &v| (a.min(v), b.max(v)));
                hi - lo
            }
            _ => (0..nk).flat_map(|i| (0..i).map(move |j| (i, j))).map(|(i, j)| distance(i, j)).fold(0.0, f64::max),
        };
        if !(range > 0.0 && range.is_finite()) {
            return Err(bad("the knots of a Gaussian process smooth must not all be one point".into()));
        }
        let corr = Correlation { kind: kind as u8, range, power };
        let c = || Array2::from_shape_fn((nk, nk), |(i, j)| corr.at(distance(i, j)));
        let mut penalty = Array2::zeros((k, k));
        let uz = if kk < nk {
            // With one covariate the correlation matrix is multiplied by a sweep over
            // the knots, without forming it.
            let (values, vectors) = match exp_line(&points, &corr) {
                Some(line) => {
                    let at = points.column(0).to_vec();
                    let product = |v: &[f64], z: &mut [f64]| {
                        let w = Array2::from_shape_vec((nk, 1), v.to_vec()).expect("a column");
                        line.eval(&at, &w, z);
                    };
                    extreme_eigenpairs_of(nk, kk, &product, &c)
                }
                None => extreme_eigenpairs(c().view(), kk, threads),
            };
            for (j, v) in values.iter().enumerate() {
                penalty[(j, j)] = *v;
            }
            vectors
        } else {
            penalty.slice_mut(s![..kk, ..kk]).assign(&c());
            Array2::eye(nk)
        };
        Ok((GpBasis::new(corr, stationary, shift, points, uz), penalty))
    }

    /// The basis at `vars`, row-major into `out`: the correlations with every knot a
    /// block of rows at a time, times `uz`, then the trend.
    fn fill(&self, vars: &[&[f64]], out: &mut [f64]) {
        const BLOCK: usize = 256;
        let (d, nk, kk) = (self.dim(), self.points.nrows(), self.uz.ncols());
        let width = kk + self.null_dim();
        let n = vars[0].len();
        if let Some(line) = self.line() {
            let x: Vec<f64> = vars[0].iter().map(|v| v - self.shift[0]).collect();
            let mut eig = vec![0.0; n * kk];
            line.eval(&x, &self.uz, &mut eig);
            for (r, row) in out.chunks_exact_mut(width).enumerate() {
                row[..kk].copy_from_slice(&eig[r * kk..(r + 1) * kk]);
                row[kk] = 1.0;
                if !self.stationary {
                    row[kk + 1] = x[r];
                }
            }
            return;
        }
        let mut corr = Array2::<f64>::zeros((BLOCK.min(n.max(1)), nk));
        let mut xs = vec![0.0; d];
        let mut start = 0;
        while start < n {
            let len = BLOCK.min(n - start);
            for r in 0..len {
                for (l, x) in xs.iter_mut().enumerate() {
                    *x = vars[l][start + r] - self.shift[l];
                }
                for (i, c) in corr.row_mut(r).iter_mut().enumerate() {
                    let dist = (0..d).map(|l| (xs[l] - self.points[(i, l)]).powi(2)).sum::<f64>().sqrt();
                    *c = self.corr.at(dist);
                }
            }
            let block = crate::linalg::matmul(corr.slice(s![..len, ..]), self.uz.view(), 1);
            for r in 0..len {
                let row = &mut out[(start + r) * width..(start + r + 1) * width];
                for (o, v) in row.iter_mut().zip(block.row(r)) {
                    *o = *v;
                }
                row[kk] = 1.0;
                if !self.stationary {
                    for l in 0..d {
                        row[kk + 1 + l] = vars[l][start + r] - self.shift[l];
                    }
                }
            }
            start += len;
        }
    }
}

impl RawBasis for GpBasis {
    const STORED: &'static [&'static str] = &["gp"];

    fn class(&self) -> &'static str {
        "gp"
    }

    fn n_vars(&self) -> Option<usize> {
        Some(self.dim())
    }

    fn width(&self) -> usize {
        self.uz.ncols() + self.null_dim()
    }

    fn fill_raw(&self, vars: &[&[f64]], out: &mut [f64]) {
        self.fill(vars, out)
    }

    fn write_state(&self, st: &mut State) {
        let sign = if self.stationary { -1.0 } else { 1.0 };
        st.insert("correlation".into(), vec![sign * self.corr.kind as f64, self.corr.range, self.corr.power]);
        st.insert("shift".into(), self.shift.clone());
        put_matrix(st, "points", "points_dim", &self.points);
        put_matrix(st, "uz", "uz_dim", &self.uz);
    }

    fn read_state(f: &Fields<'_>, _: &str) -> Result<GpBasis> {
        let def = f.get("correlation")?;
        let points = f.matrix("points", "points_dim")?;
        let uz = f.matrix("uz", "uz_dim")?;
        let shift = f.get("shift")?.clone();
        let kind = def.first().map_or(0.0, |v| v.abs());
        let consistent = def.len() == 3
            && (1.0..=5.0).contains(&kind)
            && def[1] > 0.0
            && def[2] > 0.0
            && shift.len() == points.ncols()
            && !shift.is_empty()
            && uz.nrows() == points.nrows()
            && uz.ncols() > 0;
        if !consistent {
            return Err(f.bad("stored Gaussian process basis has inconsistent parts"));
        }
        let corr = Correlation { kind: kind as u8, range: def[1], power: def[2] };
        Ok(GpBasis::new(corr, def[0] < 0.0, shift, points, uz))
    }
}

/// `bs = "gp"`.
pub const GP: ClassEntry =
    ClassEntry { name: "gp", margin: true, values_parameterized: false, build: build_gp, bounds: gp_bounds };

fn build_gp(a: &ClassArgs<'_>) -> Result<Built> {
    a.check_scale(3)?;
    let (b, penalty) = GpBasis::construct(a.label, a.vars, a.k, a.parameters, a.knots, a.threads)?;
    Ok(Built::one(Basis::Gp(b), penalty, None))
}

/// The knots and the eigenvectors on them.
fn gp_bounds(a: &SizeArgs<'_>) -> (usize, usize) {
    let k = a.k.unwrap_or_else(|| default_k(a.dim.max(1)));
    let given = a.knots.map_or(0, |k| k.len());
    let points = if given > 0 { given / a.dim.max(1) } else { a.rows };
    (k, points * a.dim + points * k + dense_state(k) + 16)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn correlations_match_their_definitions() {
        let c = |kind, power| Correlation { kind, range: 2.0, power };
        let r: f64 = 0.6; // distance 1.2 over range 2
        assert!((c(1, 1.0).at(1.2) - (1.0 - 1.5 * r + 0.5 * r.powi(3))).abs() < 1e-15);
        assert_eq!(c(1, 1.0).at(2.5), 0.0);
        assert!((c(2, 1.5).at(1.2) - (-r.powf(1.5)).exp()).abs() < 1e-15);
        assert!((c(3, 1.0).at(1.2) - (1.0 + r) * (-r).exp()).abs() < 1e-15);
        for kind in 1..=5 {
            assert_eq!(c(kind, 1.0).at(0.0), 1.0);
        }
    }

    /// The basis is `[C(x, knots) U, 1, x]`; the penalty is the eigenvalues'.
    #[test]
    fn basis_and_penalty_follow_the_eigenpairs() {
        let x: Vec<f64> = (0..60).map(|i| ((i * 17) % 60) as f64 / 59.0).collect();
        let (b, s) = GpBasis::construct("s(x)", &[&x], Some(8), &[3.0, -1.0, 1.0], None, 1).unwrap();
        assert_eq!(b.width(), 8);
        assert!((b.corr.range - 1.0).abs() < 1e-12);
        let c = Array2::from_shape_fn((60, 60), |(i, j)| b.corr.at((b.points[(i, 0)] - b.points[(j, 0)]).abs()));
        let cu = c.dot(&b.uz);
        for j in 0..6 {
            for i in 0..60 {
                assert!((cu[(i, j)] - s[(j, j)] * b.uz[(i, j)]).abs() < 1e-8);
            }
        }
        // The one-dimensional sweep against the definition, inside and outside the
        // knots' range.
        for at in [-0.7, 0.25, 0.5, 1.4] {
            let mut row = vec![0.0; 8];
            b.fill(&[&[at]], &mut row);
            for j in 0..6 {
                let want: f64 =
                    (0..60).map(|i| b.corr.at((at - b.shift[0] - b.points[(i, 0)]).abs()) * b.uz[(i, j)]).sum();
                assert!((row[j] - want).abs() < 1e-12, "x = {at}, column {j}");
            }
        }
        let mut out = vec![0.0; 8];
        b.fill(&[&[0.25]], &mut out);
        assert!((out[6] - 1.0).abs() < 1e-15 && (out[7] - (0.25 - b.shift[0])).abs() < 1e-15);
        let (st, _) = GpBasis::construct("s(x)", &[&x], Some(8), &[-2.0, 0.5, 1.0], None, 1).unwrap();
        assert!(st.stationary && st.width() == 8 && st.uz.ncols() == 7);
        assert!(GpBasis::construct("s(x)", &[&x], Some(8), &[7.0], None, 1).is_err());
        assert!(GpBasis::construct("s(x)", &[&x], Some(80), &[3.0], None, 1).is_err());
    }
}
