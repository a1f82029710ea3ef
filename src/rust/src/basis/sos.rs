//! Splines on the sphere (`bs = "sos"`; Wahba 1981, "Spline interpolation and
//! smoothing on the sphere", SIAM J. Sci. Stat. Comput. 2; Wendelberger 1981; mgcv's
//! `smooth.construct.sos.smooth.spec`).
//!
//! The covariates are latitude and longitude in degrees. The penalty's reproducing
//! kernel at angle `gamma` between two points depends on mgcv's `m` (the order):
//! - `m = 0` (default): Wendelberger's second-order spline, with
//!   `z = (1 + cos gamma) / 2`, `(1 - pi^2/6 + Li2(z)) / (4 pi)` (`Li2` the
//!   dilogarithm);
//! - `m = 1..4`: Wahba's (1981, table 1) pseudo-splines of penalty order `(m + 2)/2`,
//!   polynomials in `W = (1 - cos gamma) / 2`, `sqrt(W)` and `log(1 + 1/sqrt(W))`;
//! - `m = -1`: a Duchon spline (`m = 2`, `s = 1/2`) of the chord distance `r` in the
//!   3-D embedding, `r^2 log(r) / (8 pi)`, with the linear functions of the embedding
//!   as its null space; `m = -2`: `-r`, first-derivative penalization.
//!
//! Every other null space is the constant. The low-rank basis is built as a Duchon
//! spline's (`ds`): the kernel matrix of the knots truncated to its `k` eigenpairs
//! largest in magnitude, the side condition absorbed by a LINPACK-convention QR, and
//! then, as mgcv does, every column but the one of least spread (the constant's)
//! divided by its standard deviation over the data.

use ndarray::{s, Array2};

use super::registry::{Basis, Built, ClassArgs, ClassEntry, RawBasis, SizeArgs};
use super::size::dense_state;
use super::state::{put_matrix, Fields, State};
use super::tp::distinct_points;
use crate::error::{EngineError, Result};
use crate::lanczos::{extreme_eigenpairs_packed, PackedSymmetric};
use crate::vector_math::{fused, ln_positive, with_wide_vectors, WideBody};

#[derive(Debug, Clone)]
pub struct SosBasis {
    /// Knots, `nk x 2` (latitude, longitude), in radians.
    pub knots: Array2<f64>,
    /// Maps `[kernel(x, knots), null(x)]` (`nk + null columns`) to the basis (`k`
    /// columns).
    pub uz: Array2<f64>,
    /// mgcv's `m`, -2 to 4.
    pub order: i32,
}

/// The dilogarithm `Li2(z) = sum_k z^k / k^2` on `[0, 1]`: for `z <= 1/2` by its
/// series in `u = -log(1 - z)` with Bernoulli numbers (`sum_n B_n u^(n+1) / (n+1)!`,
/// `u <= log 2`, so a dozen terms reach double precision), beyond by the reflection
/// `Li2(z) = pi^2/6 - log(z) log(1 - z) - Li2(1 - z)` (Abramowitz & Stegun 27.7).
/// Both sides are computed and one selected, without branches, so that a loop over
/// it vectorizes; they share their two logarithms (`u` is `-log(1 - z)` or
/// `-log(z)`). (For tiny `z`, `1 - z` loses relative digits of `u`, not absolute
/// ones: the kernel adds `Li2` to a constant of order one.)
#[inline(always)]
fn dilog<const FMA: bool>(z: f64) -> f64 {
    const PI2_6: f64 = std::f64::consts::PI * std::f64::consts::PI / 6.0;
    // B_2, B_4, .., B_16 (B_0 and B_1 give `u - u^2 / 4`; the odd ones beyond B_1
    // vanish), each over (n + 1)!: the series is `u - u^2/4 + u^3 P(u^2)`. The next
    // term, B_18 u^19 / 19!, is below 5e-19 for u <= log 2.
    const SERIES: [f64; 8] = {
        let bernoulli =
            [1.0 / 6.0, -1.0 / 30.0, 1.0 / 42.0, -1.0 / 30.0, 5.0 / 66.0, -691.0 / 2730.0, 7.0 / 6.0, -3617.0 / 510.0];
        let mut out = [0.0; 8];
        let mut factorial = 6.0;
        let mut i = 0;
        while i < 8 {
            out[i] = bernoulli[i] / factorial;
            let a = (2 * i) as f64 + 4.0;
            factorial *= a * (a + 1.0);
            i += 1;
        }
        out
    };
    let reflect = z > 0.5;
    // (Exact for z >= 1/2, as is 1 - w = z there.)
    let w = 1.0 - z;
    let (log_z, log_w) = (ln_positive::<FMA>(z), ln_positive::<FMA>(w));
    let u = -(if reflect { log_z } else { log_w });
    let s = u * u;
    let mut p = SERIES[7];
    for c in SERIES[..7].iter().rev() {
        p = fused::<FMA>(p, s, *c);
    }
    let sum = fused::<FMA>(u * s, p, u - s / 4.0);
    // (At z = 1 and z = 0 one logarithm is of 0, a finite number times the other,
    // log 1 = 0.)
    if reflect {
        PI2_6 - (log_z * log_w + sum)
    } else {
        sum
    }
}

/// The kernel of order `ORDER` (mgcv's `m`) at `cos gamma`; the order is a constant
/// so that a loop over the kernel has no branch on it.
#[inline(always)]
fn kernel_of<const ORDER: i32, const FMA: bool>(cos_gamma: f64) -> f64 {
    use std::f64::consts::PI;
    let x = cos_gamma.clamp(-1.0, 1.0);
    match ORDER {
        0 => (1.0 - PI * PI / 6.0 + dilog::<FMA>(0.5 + x / 2.0)) / (4.0 * PI),
        -1 | -2 => {
            // The chord `2 sin(gamma / 2)`, kept off zero as mgcv keeps it (its log).
            let r = (2.0 * (1.0 - x)).sqrt().max(f64::MIN_POSITIVE * 10.0);
            if ORDER == -2 {
                -r
            } else {
                r * r * ln_positive::<FMA>(r) / (8.0 * PI)
            }
        }
        _ => {
            // Wahba's W, C = sqrt(W) and A = log(1 + 1/C), W kept off zero as mgcv.
            let w = (1.0 - x).max(f64::EPSILON * 1e-4) / 2.0;
            let c = w.sqrt();
            let a = ln_positive::<FMA>(1.0 + 1.0 / c);
            let c2 = 2.0 * c;
            let (w2, w3) = (w * w, w * w * w);
            let q = match ORDER {
                1 => 2.0 * a * w - c2 + 0.5,
                2 => (a * (6.0 * w2 - 2.0 * w) - 3.0 * c2 * w + 3.0 * w + 0.5) / 2.0 - 1.0 / 6.0,
                3 => {
                    (a * (60.0 * w3 - 36.0 * w2) + 30.0 * w2 + c2 * (8.0 * w - 30.0 * w2) - 3.0 * w + 1.0) / 18.0
                        - 1.0 / 24.0
                }
                _ => {
                    (a * (70.0 * w3 * w - 60.0 * w3 + 6.0 * w2) + 35.0 * w3 * (1.0 - c2) + c2 * 55.0 * w2 / 3.0
                        - 12.5 * w2
                        - w / 3.0
                        + 0.25)
                        / 24.0
                        - 1.0 / 120.0
                }
            };
            q / (2.0 * PI)
        }
    }
}

/// The kernel of order `order` (mgcv's `m`, -2 to 4) at `cos gamma`.
#[cfg(test)]
fn kernel(order: i32, cos_gamma: f64) -> f64 {
    let mut out = [0.0];
    with_wide_vectors(Kernels { order, cos: &[cos_gamma], out: &mut out });
    out[0]
}

/// The kernels at the cosines `cos`, into `out`, in loops that vectorize: every
/// pair of a data row and a knot passes through here.
struct Kernels<'a> {
    order: i32,
    cos: &'a [f64],
    out: &'a mut [f64],
}

impl WideBody for Kernels<'_> {
    type Output = ();

    #[inline(always)]
    fn run<const FMA: bool>(self) {
        // (An indexed loop calling the kernel itself: an iterator adaptor's loop, or
        // a function passed in, may be left out of line, compiled for the baseline
        // CPU and not vectorized.)
        #[inline(always)]
        fn each<const ORDER: i32, const FMA: bool>(cos: &[f64], out: &mut [f64]) {
            let n = out.len().min(cos.len());
            for i in 0..n {
                out[i] = kernel_of::<ORDER, FMA>(cos[i]);
            }
        }
        let Kernels { order, cos, out } = self;
        match order {
            0 => each::<0, FMA>(cos, out),
            -1 => each::<-1, FMA>(cos, out),
            -2 => each::<-2, FMA>(cos, out),
            1 => each::<1, FMA>(cos, out),
            2 => each::<2, FMA>(cos, out),
            3 => each::<3, FMA>(cos, out),
            _ => each::<4, FMA>(cos, out),
        }
    }
}

/// Points on the sphere by the sines and cosines of their latitudes and longitudes,
/// one vector each, so that the angles from a point to all of them vectorize.
struct SphereColumns {
    sin_lat: Vec<f64>,
    cos_lat: Vec<f64>,
    sin_lon: Vec<f64>,
    cos_lon: Vec<f64>,
}

impl SphereColumns {
    fn new(points: &[OnSphere]) -> SphereColumns {
        SphereColumns {
            sin_lat: points.iter().map(|p| p.sin_lat).collect(),
            cos_lat: points.iter().map(|p| p.cos_lat).collect(),
            sin_lon: points.iter().map(|p| p.sin_lon).collect(),
            cos_lon: points.iter().map(|p| p.cos_lon).collect(),
        }
    }

    /// The kernels of order `order` between `p` and every point, into `out`; `cos` is
    /// scratch of the same length. (`cos gamma = sin a sin b + cos a cos b cos(lon_a -
    /// lon_b)`, the last cosine expanded so that a pair costs no trigonometry.)
    fn kernels(&self, order: i32, p: &OnSphere, cos: &mut [f64], out: &mut [f64]) {
        let s = self;
        for (i, c) in cos.iter_mut().enumerate() {
            let cos_dlon = p.cos_lon * s.cos_lon[i] + p.sin_lon * s.sin_lon[i];
            *c = p.sin_lat * s.sin_lat[i] + p.cos_lat * s.cos_lat[i] * cos_dlon;
        }
        with_wide_vectors(Kernels { order, cos, out });
    }
}

/// The penalty's null space at a point: the constant, and for `m = -1` also the
/// point's coordinates in the 3-D embedding (mgcv's order: 1, x, y, z).
fn null_space(order: i32, p: &OnSphere, out: &mut [f64]) {
    out[0] = 1.0;
    if order == -1 {
        out[1] = p.cos_lat * p.sin_lon;
        out[2] = p.cos_lat * p.cos_lon;
        out[3] = p.sin_lat;
    }
}

fn null_dim(order: i32) -> usize {
    if order == -1 {
        4
    } else {
        1
    }
}

/// A point (latitude, longitude in radians) by the sines and cosines the angle to
/// another needs (see `SphereColumns::kernels`).
#[derive(Clone, Copy)]
struct OnSphere {
    sin_lat: f64,
    cos_lat: f64,
    sin_lon: f64,
    cos_lon: f64,
}

impl OnSphere {
    fn new(lat: f64, lon: f64) -> OnSphere {
        OnSphere { sin_lat: lat.sin(), cos_lat: lat.cos(), sin_lon: lon.sin(), cos_lon: lon.cos() }
    }
}

impl SosBasis {
    pub fn construct(
        label: &str,
        vars: &[&[f64]],
        k: usize,
        knots: Option<&[f64]>,
        order: i32,
        threads: usize,
    ) -> Result<(SosBasis, Array2<f64>, Array2<f64>)> {
        let bad = |what: String| EngineError::InvalidSpec { what: format!("`{label}`: {what}") };
        if vars.len() != 2 {
            return Err(bad("a spline on the sphere takes latitude and longitude (in degrees)".into()));
        }
        let n = vars[0].len();
        let rad = std::f64::consts::PI / 180.0;
        let points = match knots {
            Some(kn) if !kn.is_empty() && kn.len() % 2 == 0 => {
                let nk = kn.len() / 2;
                Array2::from_shape_fn((nk, 2), |(i, l)| kn[l * nk + i] * rad)
            }
            Some(_) => return Err(bad("the knots must give latitude and longitude alike".into())),
            None => {
                let (distinct, _) = distinct_points(n, 2, |i, l| vars[l][i]);
                Array2::from_shape_fn((distinct.len(), 2), |(i, l)| vars[l][distinct[i]] * rad)
            }
        };
        let nk = points.nrows();
        let nt = null_dim(order);
        if k <= nt || k > nk {
            return Err(EngineError::BadBasisDimension {
                term: label.to_string(),
                k,
                reason: format!("a spline on the sphere of order {order} on {nk} points needs {} <= k <= {nk}", nt + 1),
            });
        }
        let on: Vec<OnSphere> = (0..nk).map(|i| OnSphere::new(points[(i, 0)], points[(i, 1)])).collect();
        let columns = SphereColumns::new(&on);
        let mut cos = vec![0.0; nk];
        let r = PackedSymmetric::from_rows(nk, |i, row| columns.kernels(order, &on[i], &mut cos[..=i], row));
        // The kernel matrix's k extreme eigenpairs; with as many knots as columns, the
        // matrix itself (mgcv's rule).
        let (d, u) = if k < nk {
            let (values, vectors) = extreme_eigenpairs_packed(&r, k, threads);
            (Array2::from_diag(&ndarray::arr1(&values)), vectors)
        } else {
            (r.to_dense(), Array2::eye(nk))
        };
        let mut t = Array2::<f64>::zeros((nk, nt));
        for (i, p) in on.iter().enumerate() {
            null_space(order, p, t.row_mut(i).as_slice_mut().expect("standard layout"));
        }
        let z = super::ds::qr_complement(&u.t().dot(&t));
        let kz = k - nt;
        let mut pen = Array2::<f64>::zeros((k, k));
        pen.slice_mut(s![..kz, ..kz]).assign(&z.t().dot(&d).dot(&z));
        let mut uz = Array2::<f64>::zeros((nk + nt, k));
        uz.slice_mut(s![..nk, ..kz]).assign(&u.dot(&z));
        for j in 0..nt {
            uz[(nk + j, kz + j)] = 1.0;
        }
        let mut basis = SosBasis { knots: points, uz, order };
        let mut x = vec![0.0; n * k];
        super::fill_rows_parallel(n, k, threads, &mut x, &|start, out| {
            basis.fill(&super::rows(vars, start, out.len() / k), out);
        });
        let mut x = Array2::from_shape_vec((n, k), x).expect("row-major shape");
        // mgcv's column scaling: 1 / sd over the data, the smallest sd (the
        // constant's) counted as 1.
        let sd: Vec<f64> = x
            .columns()
            .into_iter()
            .map(|c| {
                let mean = c.sum() / n as f64;
                (c.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n as f64 - 1.0)).sqrt()
            })
            .collect();
        let smallest = sd.iter().copied().fold(f64::INFINITY, f64::min);
        let xs: Vec<f64> = sd.iter().map(|&v| if v == smallest { 1.0 } else { 1.0 / v }).collect();
        for (j, s) in xs.iter().enumerate() {
            basis.uz.column_mut(j).mapv_inplace(|v| v * s);
        }
        let pen = Array2::from_shape_fn((k, k), |(a, b)| pen[(a, b)] * xs[a] * xs[b]);
        for (j, s) in xs.iter().enumerate() {
            x.column_mut(j).mapv_inplace(|v| v * s);
        }
        Ok((basis, x, pen))
    }

    /// The basis at `vars`, row-major into `out`: kernels against the knots a block of
    /// rows at a time, times `uz`.
    fn fill(&self, vars: &[&[f64]], out: &mut [f64]) {
        const BLOCK: usize = 256;
        let rad = std::f64::consts::PI / 180.0;
        let (nk, k) = (self.knots.nrows(), self.uz.ncols());
        let n = vars[0].len();
        let nt = null_dim(self.order);
        let knots: Vec<OnSphere> = (0..nk).map(|i| OnSphere::new(self.knots[(i, 0)], self.knots[(i, 1)])).collect();
        let knots = SphereColumns::new(&knots);
        let mut cos = vec![0.0; nk];
        let mut block = Array2::<f64>::zeros((BLOCK.min(n.max(1)), nk + nt));
        let mut start = 0;
        while start < n {
            let len = BLOCK.min(n - start);
            for r in 0..len {
                let p = OnSphere::new(vars[0][start + r] * rad, vars[1][start + r] * rad);
                let mut row = block.row_mut(r);
                let row = row.as_slice_mut().expect("standard layout");
                knots.kernels(self.order, &p, &mut cos, &mut row[..nk]);
                null_space(self.order, &p, &mut row[nk..]);
            }
            let part = crate::linalg::matmul(block.slice(s![..len, ..]), self.uz.view(), 1);
            for r in 0..len {
                for (o, v) in out[(start + r) * k..(start + r + 1) * k].iter_mut().zip(part.row(r)) {
                    *o = *v;
                }
            }
            start += len;
        }
    }
}

impl RawBasis for SosBasis {
    const STORED: &'static [&'static str] = &["sos"];

    fn class(&self) -> &'static str {
        "sos"
    }

    fn n_vars(&self) -> Option<usize> {
        Some(2)
    }

    fn width(&self) -> usize {
        self.uz.ncols()
    }

    fn fill_raw(&self, vars: &[&[f64]], out: &mut [f64]) {
        self.fill(vars, out)
    }

    fn write_state(&self, st: &mut State) {
        put_matrix(st, "points", "points_dim", &self.knots);
        put_matrix(st, "uz", "uz_dim", &self.uz);
        // (Written only when not mgcv's default, so that default entries keep their
        // layout.)
        if self.order != 0 {
            st.insert("order".into(), vec![self.order as f64]);
        }
    }

    fn read_state(f: &Fields<'_>, _: &str) -> Result<SosBasis> {
        let knots = f.matrix("points", "points_dim")?;
        let uz = f.matrix("uz", "uz_dim")?;
        let order = if f.has("order") { f.number("order")? } else { 0.0 };
        if !(-2.0..=4.0).contains(&order) || order.fract() != 0.0 {
            return Err(f.bad("stored spline on the sphere has an order outside -2 to 4"));
        }
        let order = order as i32;
        let nt = null_dim(order);
        if knots.ncols() != 2 || uz.nrows() != knots.nrows() + nt || uz.ncols() <= nt {
            return Err(f.bad("stored spline on the sphere has inconsistent parts"));
        }
        Ok(SosBasis { knots, uz, order })
    }
}

/// `bs = "sos"`. Its `m` (the order) arrives as the class's parameter.
pub const SOS: ClassEntry =
    ClassEntry { name: "sos", margin: false, values_parameterized: false, build: build_sos, bounds: sos_bounds };

fn build_sos(a: &ClassArgs<'_>) -> Result<Built> {
    let order = sos_order(a.parameters);
    let (b, x, penalty) = SosBasis::construct(a.label, a.vars, a.k.unwrap_or(50), a.knots, order, a.threads)?;
    Ok(Built::one(Basis::Sos(b), penalty, Some(x)))
}

/// mgcv's reading of `m`: rounded, above 4 taken as 4, below -2 as -1.
fn sos_order(parameters: &[f64]) -> i32 {
    match parameters.first() {
        Some(m) if m.is_finite() => {
            let m = m.round();
            if m > 4.0 {
                4
            } else if m < -2.0 {
                -1
            } else {
                m as i32
            }
        }
        _ => 0,
    }
}

fn sos_bounds(a: &SizeArgs<'_>) -> (usize, usize) {
    let k = a.k.unwrap_or(50);
    let given = a.knots.map_or(0, |k| k.len());
    let points = if given > 0 { given / 2 } else { a.rows };
    (k, points * 2 + (points + 4) * k + dense_state(k) + 8)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The dilogarithm against its defining series, on both sides of 1/2.
    #[test]
    fn dilog_matches_its_series() {
        for z in [0.0_f64, 0.05, 0.3, 0.5, 0.51, 0.8, 0.97] {
            let series: f64 = (1..20000).map(|k| z.powi(k) / (k * k) as f64).sum();
            assert!((dilog::<false>(z) - series).abs() < 1e-13, "z = {z}: {} vs {series}", dilog::<false>(z));
        }
        let pi = std::f64::consts::PI;
        assert!((dilog::<false>(1.0) - pi * pi / 6.0).abs() < 1e-15);
    }

    /// The kernel is largest for coincident points and the basis has the constant as
    /// its last column.
    #[test]
    fn basis_on_the_sphere() {
        let lat: Vec<f64> = (0..80).map(|i| -70.0 + (i * 37 % 80) as f64 * 1.7).collect();
        let lon: Vec<f64> = (0..80).map(|i| -170.0 + (i * 13 % 80) as f64 * 4.1).collect();
        assert!(kernel(0, 1.0) > kernel(0, 0.3) && kernel(0, 0.3) > kernel(0, -1.0));
        let (b, x, s) = SosBasis::construct("s(lat,lon)", &[&lat, &lon], 12, None, 0, 1).unwrap();
        assert_eq!((x.ncols(), s.nrows()), (12, 12));
        assert!(x.column(11).iter().all(|v| (v - 1.0).abs() < 1e-12));
        let mut again = vec![0.0; 80 * 12];
        b.fill(&[&lat, &lon], &mut again);
        assert!(again.iter().zip(x.iter()).all(|(a, b)| (a - b).abs() < 1e-10));
    }

    /// Every order builds a basis whose last columns span its null space (scaled),
    /// a penalty that is zero on them, and predictions that reproduce the basis;
    /// its kernels are finite at coincident and antipodal points.
    #[test]
    fn every_order() {
        let lat: Vec<f64> = (0..90).map(|i| -80.0 + (i * 37 % 90) as f64 * 1.8).collect();
        let lon: Vec<f64> = (0..90).map(|i| -175.0 + (i * 13 % 90) as f64 * 3.9).collect();
        for order in -2..=4 {
            assert!(kernel(order, 1.0).is_finite() && kernel(order, -1.0).is_finite(), "order {order}");
            let nt = null_dim(order);
            let (b, x, s) = SosBasis::construct("s(lat,lon)", &[&lat, &lon], 15, None, order, 1).unwrap();
            assert_eq!((x.ncols(), s.nrows()), (15, 15));
            assert!(x.column(15 - nt).iter().all(|v| (v - 1.0).abs() < 1e-12), "order {order}");
            assert!(s.slice(s![.., 15 - nt..]).iter().all(|v| *v == 0.0));
            let mut again = vec![0.0; 90 * 15];
            b.fill(&[&lat, &lon], &mut again);
            assert!(again.iter().zip(x.iter()).all(|(a, b)| (a - b).abs() < 1e-10), "order {order}");
        }
        assert_eq!((sos_order(&[7.0]), sos_order(&[-3.0]), sos_order(&[1.4]), sos_order(&[])), (4, -1, 1, 0));
    }
}
