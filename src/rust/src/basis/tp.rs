//! Thin plate regression splines (`bs = "tp"`, Wood 2003, JRSS-B 65:95-114; Wood 2017
//! §5.5.1) in any number of dimensions.
//!
//! The full thin plate spline on the distinct covariate points has the radial basis
//! `E_ij = eta(|x_i - x_j|)` and the polynomial null space `T`. Truncating `E` to its
//! `k` eigenvalues largest in magnitude (`E ~ U D U'`) and absorbing the side condition
//! `T' U delta = 0` through an orthogonal `Z` gives the basis `[U D Z, T]` with penalty
//! `Z' D Z` on the first `k - M` coefficients. Covariates are centred first, and the
//! columns are scaled to unit root mean square over the data, as mgcv does.

use ndarray::{s, Array1, Array2, ShapeBuilder};

use super::radial::{null_space_powers, Radial};
use super::radial_line::RadialLine;
use super::registry::{dot_by_rows, Basis, Built, ClassArgs, ClassEntry, RawBasis, SizeArgs};
use super::shrink_null_space;
use super::size::dense_state;
use super::state::{put_matrix, Fields, State};
use crate::error::{EngineError, Result};
use crate::lanczos::{extreme_eigenpairs_of, extreme_eigenpairs_packed, PackedSymmetric};
use crate::linalg::symmetrize;

#[derive(Debug, Clone)]
pub struct TpBasis {
    /// Penalty order (`m`): the spline penalizes `m`-th derivatives.
    pub m: usize,
    /// Column means subtracted from the covariates.
    pub shift: Vec<f64>,
    /// The distinct (centred) points, `nu x d`.
    pub points: Array2<f64>,
    /// Maps `[eta(x, points), T(x)]` (`nu + M` columns) to the basis (`k` columns).
    pub uz: Array2<f64>,
    /// The radial function: the thin plate spline's, or a Duchon spline's
    /// (`bs = "ds"`, built the same way on its own radial function, without the
    /// thin plate's column scaling).
    pub radial: Radial,
    pub duchon: bool,
    /// With one covariate, the basis as piecewise polynomials, made on first use.
    pieces: std::sync::OnceLock<Pieces>,
}

/// Smallest `m` with `2m > d` (the thin plate spline needs it to be continuous).
pub fn default_order(d: usize) -> usize {
    let mut m = 0;
    while 2 * m < d + 2 {
        m += 1;
    }
    m
}

/// The penalty order used for `d` covariates when `m` is given (mgcv raises an order
/// with `2m <= d` to the default).
pub fn order(d: usize, m: Option<usize>) -> usize {
    match m {
        Some(m) if 2 * m > d => m,
        _ => default_order(d),
    }
}

/// mgcv's default basis dimension: the null space's size plus 8, 27 or 100 for one,
/// two, or three and more covariates.
pub fn default_k(d: usize, m: Option<usize>) -> usize {
    null_space_powers(order(d, m), d).len() + [8, 27, 100][d.clamp(1, 3) - 1]
}

fn monomials(x: &[f64], powers: &[Vec<usize>]) -> Vec<f64> {
    powers.iter().map(|p| p.iter().zip(x).map(|(&e, &v)| v.powi(e as i32)).product()).collect()
}

/// Householder reflections applied from the right so that `A Q = [0, R]` (`A` is
/// `M x k`, `M < k`): the first `k - M` columns of `Q` span the null space of `A`.
fn right_null_space(a: &Array2<f64>) -> Array2<f64> {
    let (mm, k) = a.dim();
    let mut a = a.clone();
    let mut q = Array2::<f64>::eye(k);
    for i in 0..mm {
        let len = k - i;
        let mut u = Array1::<f64>::zeros(k);
        let scale = (0..len).fold(0.0_f64, |s, j| s.max(a[(i, j)].abs()));
        if scale == 0.0 {
            continue;
        }
        for j in 0..len {
            u[j] = a[(i, j)] / scale;
        }
        let mut norm = u.dot(&u).sqrt();
        if u[len - 1] < 0.0 {
            norm = -norm;
        }
        u[len - 1] += norm;
        let uu = u.dot(&u);
        // A <- A (I - 2 u u' / u'u), likewise Q.
        for mat in [&mut a, &mut q] {
            let au = mat.dot(&u);
            for r in 0..mat.nrows() {
                for c in 0..len {
                    mat[(r, c)] -= 2.0 * au[r] * u[c] / uu;
                }
            }
        }
    }
    q.slice(s![.., 0..k - mm]).to_owned()
}

/// The distinct points among `n` rows of `d` coordinates `coord(row, l)`, in
/// lexicographic order (ties broken by row, so the first row of each point is kept),
/// and the index of each row's point.
pub(super) fn distinct_points(n: usize, d: usize, coord: impl Fn(usize, usize) -> f64) -> (Vec<usize>, Vec<usize>) {
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| {
        for l in 0..d {
            match coord(a, l).total_cmp(&coord(b, l)) {
                std::cmp::Ordering::Equal => continue,
                o => return o,
            }
        }
        a.cmp(&b)
    });
    let mut point_of_row = vec![0usize; n];
    let mut uniq: Vec<usize> = Vec::new();
    for (pos, &row) in order.iter().enumerate() {
        if pos == 0 || (0..d).any(|l| coord(row, l) != coord(order[pos - 1], l)) {
            uniq.push(row);
        }
        point_of_row[row] = uniq.len() - 1;
    }
    (uniq, point_of_row)
}

impl TpBasis {
    pub fn new(m: usize, shift: Vec<f64>, points: Array2<f64>, uz: Array2<f64>) -> TpBasis {
        let radial = Radial::thin_plate(m, points.ncols());
        TpBasis { m, shift, points, uz, radial, duchon: false, pieces: std::sync::OnceLock::new() }
    }

    /// A Duchon spline's basis (`duchon_s`: its `s`).
    fn with_radial(mut self, radial: Radial, duchon: bool) -> TpBasis {
        self.radial = radial;
        self.duchon = duchon;
        self
    }

    /// Most points a basis is built on without given knots. The R layer passes
    /// mgcv's subsample beyond `max.knots` = 2000 distinct points; this guard sits
    /// above that, since R tells points apart by their 15-digit text and this
    /// engine by their values.
    pub const MAX_POINTS: usize = 5000;

    /// `vars`: the `d` covariate columns; `knots`: optional knot points (`nk x d`,
    /// column-major), used when there are at least `k` of them (mgcv's rule; fewer
    /// are ignored). Returns the basis, its design matrix on the data and its penalty.
    pub fn construct(
        label: &str,
        vars: &[&[f64]],
        k: usize,
        m: Option<usize>,
        knots: Option<&[f64]>,
        threads: usize,
        duchon_s: Option<f64>,
    ) -> Result<(TpBasis, Array2<f64>, Array2<f64>)> {
        let d = vars.len();
        let n = vars[0].len();
        let m = match (m, duchon_s) {
            (Some(m), Some(_)) => m.max(1),
            (Some(m), None) if 2 * m > d => m,
            _ => default_order(d),
        };
        let radial = match duchon_s {
            Some(s) => Radial::duchon(m, s, d),
            None => Radial::thin_plate(m, d),
        };
        let powers = null_space_powers(m, d);
        let mm = powers.len();
        if k <= mm {
            return Err(EngineError::BadBasisDimension {
                term: label.to_string(),
                k,
                reason: format!("a thin plate spline of order {m} in {d} dimension(s) needs k > {mm}"),
            });
        }
        let shift: Vec<f64> = vars.iter().map(|v| v.iter().sum::<f64>() / n as f64).collect();
        // The point set: the knots when given (mgcv's Cases B and C), else the data.
        let knots = knots.filter(|kn| !kn.is_empty() && kn.len() % d == 0 && kn.len() / d >= k);
        let (points, point_of_row) = match knots {
            Some(kn) => {
                let nk = kn.len() / d;
                let (uniq, _) = distinct_points(nk, d, |i, l| kn[l * nk + i] - shift[l]);
                (Array2::from_shape_fn((uniq.len(), d), |(i, l)| kn[l * nk + uniq[i]] - shift[l]), None)
            }
            None => {
                let (uniq, of_row) = distinct_points(n, d, |i, l| vars[l][i] - shift[l]);
                (Array2::from_shape_fn((uniq.len(), d), |(i, l)| vars[l][uniq[i]] - shift[l]), Some(of_row))
            }
        };
        let nu = points.nrows();
        if nu < k {
            return Err(EngineError::TooFewUniqueValues { term: label.to_string(), k, unique: nu });
        }
        // Beyond mgcv's `max.knots` the caller passes a subsample of the points as
        // knots (the R layer draws mgcv's): on every point the n x n radial matrix
        // would take minutes and gigabytes.
        if knots.is_none() && nu > Self::MAX_POINTS {
            return Err(EngineError::InvalidSpec {
                what: format!("`{label}`: a thin plate basis on {nu} distinct points needs a subsample of at most {} as its knots", Self::MAX_POINTS),
            });
        }
        // The radial matrix of the points by its lower triangle (its diagonal is
        // eta(0) = 0).
        let radial_matrix = || {
            let columns: Vec<Vec<f64>> = (0..d).map(|l| points.column(l).to_vec()).collect();
            let mut r2 = vec![0.0; nu];
            let mut x = vec![0.0; d];
            PackedSymmetric::from_rows(nu, |i, row| {
                x.iter_mut().zip(&columns).for_each(|(v, c)| *v = c[i]);
                let before: Vec<&[f64]> = columns.iter().map(|c| &c[..i]).collect();
                radial.fill_distances(&x, &before, &mut r2[..i], &mut row[..i]);
            })
        };
        let t = Array2::from_shape_fn((nu, mm), |(i, j)| {
            powers[j].iter().enumerate().map(|(l, &p)| points[(i, l)].powi(p as i32)).product::<f64>()
        });
        // The k eigenpairs of E largest in magnitude (Wood 2003 §2.1). With one
        // covariate E is multiplied through prefix sums, without forming it.
        let (dvals, u) = if d == 1 && !radial.log {
            let q = radial.power as usize;
            let line = RadialLine::new(points.column(0).as_slice().expect("one column"), q, radial.constant);
            extreme_eigenpairs_of(nu, k, &|v: &[f64], z: &mut [f64]| line.apply(v, z), &|| radial_matrix().to_dense())
        } else {
            extreme_eigenpairs_packed(&radial_matrix(), k, threads)
        };
        // The side condition's null space: mgcv's C convention for a thin plate
        // spline, its R `qr()`'s for a Duchon spline (the same space; the penalty's
        // scaling, and so the smoothing parameters' scale, follow the basis chosen).
        let z = match duchon_s {
            Some(_) => super::ds::qr_complement(&u.t().dot(&t)),
            None => right_null_space(&t.t().dot(&u)),
        };
        let kz = k - mm;
        let uz_part = u.dot(&z);
        // `UZ` maps `[eta(x, points), T(x)]` to the (unscaled) basis.
        let mut uz = Array2::<f64>::zeros((nu + mm, k));
        uz.slice_mut(s![..nu, ..kz]).assign(&uz_part);
        for j in 0..mm {
            uz[(nu + j, kz + j)] = 1.0;
        }
        let mut x = match &point_of_row {
            // The data are the points: the eigen-identity `E U ~ U D` gives the rows
            // without evaluating eta (mgcv's Case A).
            Some(of_row) => {
                let udz = Array2::from_shape_fn((nu, k), |(i, j)| {
                    if j < kz {
                        (0..k).map(|a| u[(i, a)] * dvals[a] * z[(a, j)]).sum()
                    } else {
                        t[(i, j - kz)]
                    }
                });
                let mut x = Array2::<f64>::zeros((n, k).f());
                for r in 0..n {
                    x.row_mut(r).assign(&udz.row(of_row[r]));
                }
                x
            }
            // Knots: each data row is evaluated against them, as `predict` would.
            None => {
                let unscaled =
                    TpBasis::new(m, shift.clone(), points.clone(), uz.clone()).with_radial(radial, duchon_s.is_some());
                let mut x = vec![0.0; n * k];
                super::fill_rows_parallel(n, k, threads, &mut x, &|start, out| {
                    let len = out.len() / k;
                    let rows: Vec<&[f64]> = vars.iter().map(|v| &v[start..start + len]).collect();
                    for (dst, src) in out.chunks_exact_mut(k).zip(unscaled.matrix(&rows).rows()) {
                        dst.iter_mut().zip(src).for_each(|(d, s)| *d = *s);
                    }
                });
                Array2::from_shape_vec((n, k), x).expect("row-major shape")
            }
        };
        // A Duchon spline's columns are not scaled (mgcv's are not).
        let w: Vec<f64> = match duchon_s {
            Some(_) => vec![1.0; k],
            None => (0..k).map(|j| (x.column(j).iter().map(|v| v * v).sum::<f64>() / n as f64).sqrt()).collect(),
        };
        for j in 0..k {
            x.column_mut(j).mapv_inplace(|v| v / w[j]);
            uz.column_mut(j).mapv_inplace(|v| v / w[j]);
        }
        let mut pen = Array2::<f64>::zeros((k, k));
        for a in 0..kz {
            for b in 0..kz {
                let v: f64 = (0..k).map(|i| z[(i, a)] * dvals[i] * z[(i, b)]).sum();
                pen[(a, b)] = v / (w[a] * w[b]);
            }
        }
        symmetrize(&mut pen);
        Ok((TpBasis::new(m, shift, points, uz).with_radial(radial, duchon_s.is_some()), x, pen))
    }

    pub fn dim(&self) -> usize {
        self.points.ncols()
    }

    pub fn matrix(&self, vars: &[&[f64]]) -> Array2<f64> {
        if self.dim() == 1 && !self.radial.log {
            return self.pieces.get_or_init(|| Pieces::new(self)).matrix(vars[0], self.shift[0]);
        }
        self.matrix_by_points(vars)
    }

    /// The basis from its definition: `eta` at every point, times `UZ`.
    fn matrix_by_points(&self, vars: &[&[f64]]) -> Array2<f64> {
        let d = self.dim();
        let n = vars[0].len();
        let nu = self.points.nrows();
        let powers = null_space_powers(self.m, d);
        // Rows a block at a time: `[eta, T]` has a column per point (up to thousands).
        const BLOCK: usize = 256;
        let mut out = Array2::<f64>::zeros((n, self.uz.ncols()));
        let mut b = Array2::<f64>::zeros((BLOCK.min(n.max(1)), nu + powers.len()));
        let mut xs = vec![0.0; d];
        // The points by coordinate, so that a row's distances to them vectorize.
        let columns: Vec<Vec<f64>> = (0..d).map(|l| self.points.column(l).to_vec()).collect();
        let columns: Vec<&[f64]> = columns.iter().map(|c| c.as_slice()).collect();
        let mut r2 = vec![0.0; nu];
        let mut start = 0;
        while start < n {
            let len = BLOCK.min(n - start);
            for r in 0..len {
                for l in 0..d {
                    xs[l] = vars[l][start + r] - self.shift[l];
                }
                let mut row = b.row_mut(r);
                let row = row.as_slice_mut().expect("standard layout");
                self.radial.fill_distances(&xs, &columns, &mut r2, &mut row[..nu]);
                for (j, v) in monomials(&xs, &powers).into_iter().enumerate() {
                    row[nu + j] = v;
                }
            }
            let block = crate::linalg::matmul(b.slice(s![..len, ..]), self.uz.view(), 1);
            out.slice_mut(s![start..start + len, ..]).assign(&block);
            start += len;
        }
        out
    }
}

/// A one-dimensional thin plate basis as piecewise polynomials. With one covariate
/// `eta(r) = c |r|^q`, `q = 2m - 1` odd, so between consecutive points every column
/// `f(x) = sum_j uz_j c |x - p_j|^q + sum_l uz_(nu+l) x^l` is a polynomial of degree
/// `q`: `|x - p_j|^q = s_j (x - p_j)^q` with `s_j = +1` for points at or below `x`
/// and `-1` above. Its coefficients on each interval follow from prefix sums over the
/// sorted points, so a row costs a binary search and `O(q k)` instead of `nu`
/// evaluations of `eta` and an `nu x k` product (thousands of points at large n).
/// The sums regroup the direct evaluation's terms by powers of `x`: both lose digits
/// to the same cancellation between large radial terms, though not identically (the
/// tests bound the difference at 1e-9 of the basis's scale).
#[derive(Debug, Clone)]
struct Pieces {
    sorted: Vec<f64>,
    /// `sorted` cut into equal-width buckets over its range: bucket `b` starts at
    /// position `bucket_start[b]`, so that finding a row's interval searches a few
    /// points instead of all of them (binary search's unpredictable branches
    /// dominated the cost).
    bucket_start: Vec<usize>,
    lo: f64,
    bucket_width: f64,
    /// Interval `i` (`i` points at or below `x`), column `c`: the coefficients of
    /// `x^0..=x^q` at `[(i * k + c) * (q + 1)..]`.
    coef: Vec<f64>,
    q: usize,
    k: usize,
}

impl Pieces {
    fn new(b: &TpBasis) -> Pieces {
        let nu = b.points.nrows();
        let k = b.uz.ncols();
        let q = b.radial.power as usize;
        let c_eta = b.radial.constant;
        let mut order: Vec<usize> = (0..nu).collect();
        order.sort_by(|&a, &b2| b.points[(a, 0)].total_cmp(&b.points[(b2, 0)]));
        let sorted: Vec<f64> = order.iter().map(|&j| b.points[(j, 0)]).collect();
        let binom = |n: usize, r: usize| (0..r).fold(1.0, |acc, i| acc * (n - i) as f64 / (i + 1) as f64);
        // moment[c][r] = sum_j uz[j, c] (-p_j)^r over the points below, and the totals.
        let mut below = vec![0.0; k * (q + 1)];
        let mut total = vec![0.0; k * (q + 1)];
        let powers = |p: f64| -> Vec<f64> {
            (0..=q)
                .scan(1.0, |acc, _| {
                    let v = *acc;
                    *acc *= -p;
                    Some(v)
                })
                .collect()
        };
        for (&j, &p) in order.iter().zip(&sorted) {
            let pw = powers(p);
            for c in 0..k {
                for r in 0..=q {
                    total[c * (q + 1) + r] += b.uz[(j, c)] * pw[r];
                }
            }
        }
        let mut coef = vec![0.0; (nu + 1) * k * (q + 1)];
        for i in 0..=nu {
            if i > 0 {
                let (j, pw) = (order[i - 1], powers(sorted[i - 1]));
                for c in 0..k {
                    for r in 0..=q {
                        below[c * (q + 1) + r] += b.uz[(j, c)] * pw[r];
                    }
                }
            }
            for c in 0..k {
                let at = (i * k + c) * (q + 1);
                for e in 0..=q {
                    let r = q - e;
                    let signed = 2.0 * below[c * (q + 1) + r] - total[c * (q + 1) + r];
                    coef[at + e] = c_eta * binom(q, e) * signed;
                }
                // The null space: x^l for l < m (l <= q).
                for l in 0..b.m {
                    coef[at + l] += b.uz[(nu + l, c)];
                }
            }
        }
        let buckets = 4 * nu.max(1);
        let (lo, hi) = (sorted[0], sorted[nu - 1]);
        let bucket_width = if hi > lo { (hi - lo) / buckets as f64 } else { 1.0 };
        let bucket_start =
            (0..=buckets).map(|b| sorted.partition_point(|p| *p < lo + b as f64 * bucket_width)).collect();
        Pieces { sorted, bucket_start, lo, bucket_width, coef, q, k }
    }

    /// The number of points at or below `x`.
    fn interval(&self, x: f64) -> usize {
        let last = self.bucket_start.len() - 1;
        let b = ((x - self.lo) / self.bucket_width).floor();
        if !(b >= 0.0) {
            return self.sorted.partition_point(|p| *p <= x);
        }
        let b = (b as usize).min(last - 1);
        // Every point before bucket `b - 1` is below `x` and every point from bucket
        // `b + 2` on is above it: one bucket of slack either side for rounding.
        let from = self.bucket_start[b.saturating_sub(1)];
        let to = if b + 2 <= last { self.bucket_start[b + 2] } else { self.sorted.len() };
        from + self.sorted[from..to].partition_point(|p| *p <= x)
    }

    /// Adds `diag(by) X beta` at `x`: the columns' polynomials of each interval
    /// weighted by `beta` into one, then one polynomial per row (`matrix` evaluates
    /// all `k`, which an exact hit of `s(x0)` at 1e5 rows spent 5 ms on).
    fn dot(&self, x: &[f64], shift: f64, beta: &[f64], by: Option<&[f64]>, out: &mut [f64]) {
        let (q, k) = (self.q, self.k);
        let intervals = self.coef.len() / (k * (q + 1));
        let mut combined = vec![0.0; intervals * (q + 1)];
        for (i, poly) in combined.chunks_exact_mut(q + 1).enumerate() {
            for (c, b) in beta.iter().enumerate() {
                let cf = &self.coef[(i * k + c) * (q + 1)..(i * k + c + 1) * (q + 1)];
                poly.iter_mut().zip(cf).for_each(|(p, a)| *p += b * a);
            }
        }
        for (r, (o, &v)) in out.iter_mut().zip(x).enumerate() {
            let xc = v - shift;
            let i = self.interval(xc);
            let value = combined[i * (q + 1)..(i + 1) * (q + 1)].iter().rev().fold(0.0, |acc, a| acc * xc + a);
            *o += by.map_or(value, |b| value * b[r]);
        }
    }

    fn matrix(&self, x: &[f64], shift: f64) -> Array2<f64> {
        let (q, k) = (self.q, self.k);
        let mut out = Array2::<f64>::zeros((x.len(), k));
        for (mut row, &v) in out.rows_mut().into_iter().zip(x) {
            let xc = v - shift;
            let i = self.interval(xc);
            let base = i * k * (q + 1);
            for c in 0..k {
                let cf = &self.coef[base + c * (q + 1)..base + (c + 1) * (q + 1)];
                row[c] = cf.iter().rev().fold(0.0, |acc, a| acc * xc + a);
            }
        }
        out
    }
}

impl RawBasis for TpBasis {
    const STORED: &'static [&'static str] = &["tp", "ds"];

    fn class(&self) -> &'static str {
        if self.duchon {
            "ds"
        } else {
            "tp"
        }
    }

    fn n_vars(&self) -> Option<usize> {
        Some(self.dim())
    }

    fn width(&self) -> usize {
        self.uz.ncols()
    }

    fn dot(&self, vars: &[&[f64]], beta: &[f64], by: Option<&[f64]>, out: &mut [f64]) {
        if self.dim() == 1 && !self.radial.log {
            return self.pieces.get_or_init(|| Pieces::new(self)).dot(vars[0], self.shift[0], beta, by, out);
        }
        dot_by_rows(self, vars, beta, by, out)
    }

    fn fill_raw(&self, vars: &[&[f64]], out: &mut [f64]) {
        let x = self.matrix(vars);
        for (dst, src) in out.chunks_exact_mut(x.ncols()).zip(x.rows()) {
            for (d, s) in dst.iter_mut().zip(src) {
                *d = *s;
            }
        }
    }

    fn write_state(&self, st: &mut State) {
        st.insert("m".into(), vec![self.m as f64]);
        st.insert("shift".into(), self.shift.clone());
        put_matrix(st, "points", "points_dim", &self.points);
        put_matrix(st, "uz", "uz_dim", &self.uz);
        if self.duchon {
            let r = &self.radial;
            st.insert("radial".into(), vec![r.power as f64, f64::from(u8::from(r.log)), r.constant]);
        }
    }

    fn read_state(f: &Fields<'_>, class: &str) -> Result<TpBasis> {
        let mut b = TpBasis::new(
            f.count("m")?,
            f.get("shift")?.clone(),
            f.matrix("points", "points_dim")?,
            f.matrix("uz", "uz_dim")?,
        );
        if class == "ds" {
            match f.get("radial")?.as_slice() {
                [p, l, c] if p.fract() == 0.0 && c.is_finite() => {
                    b = b.with_radial(Radial { power: *p as i32, log: *l != 0.0, constant: *c }, true);
                }
                _ => return Err(f.bad("stored Duchon spline has a bad radial function")),
            }
        }
        let d = b.points.ncols();
        let consistent = b.shift.len() == d
            && d > 0
            && b.points.nrows() > 0
            && b.uz.ncols() > 0
            && b.m >= 1
            && (b.duchon || 2 * b.m > d)
            && b.uz.nrows() == b.points.nrows() + null_space_powers(b.m, d).len();
        if !consistent {
            return Err(f.bad("stored thin plate basis has inconsistent parts"));
        }
        Ok(b)
    }
}

/// `bs = "tp"`.
pub const TP: ClassEntry =
    ClassEntry { name: "tp", margin: true, values_parameterized: false, build: build_tp, bounds: tp_bounds };

/// `bs = "ts"`: the same basis, with the penalty's null-space eigenvalues made a
/// tenth of its smallest positive one (mgcv's shrinkage).
pub const TS: ClassEntry =
    ClassEntry { name: "ts", margin: true, values_parameterized: false, build: build_ts, bounds: tp_bounds };

fn build_tp(a: &ClassArgs<'_>) -> Result<Built> {
    let d = a.vars.len();
    let m = a.m.first().copied().filter(|&m| m > 0);
    // The radial functions raise distances to the power 2m - d (and the null space
    // to m - 1).
    let ord = order(d, m);
    a.check_scale((2 * ord).saturating_sub(d).max(2 * ord - 2).max(1))?;
    let k = a.k.unwrap_or(default_k(d, m));
    let (b, x, penalty) = TpBasis::construct(a.label, a.vars, k, m, a.knots, a.threads, None)?;
    Ok(Built::one(Basis::Tp(b), penalty, Some(x)))
}

fn build_ts(a: &ClassArgs<'_>) -> Result<Built> {
    let m = a.m.first().copied().filter(|&m| m > 0);
    let null_dim = null_space_powers(order(a.vars.len(), m), a.vars.len()).len();
    let built = build_tp(a)?;
    Ok(Built { penalties: vec![shrink_null_space(&built.penalties[0], null_dim, false)], ..built })
}

/// The knots (points, `dim` each) and the eigenbasis on them (`uz`).
fn tp_bounds(a: &SizeArgs<'_>) -> (usize, usize) {
    let m = a.m.first().copied().filter(|&m| m > 0);
    let k = a.k.unwrap_or_else(|| default_k(a.dim, m));
    let given = a.knots.map_or(0, |k| k.len());
    let points = if given > 0 { given / a.dim.max(1) } else { a.rows };
    let null = null_space_powers(order(a.dim, m), a.dim).len();
    (k, points * a.dim + (points + null) * k + dense_state(k))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The piecewise polynomial evaluation of a one-dimensional basis against the
    /// definition, for penalty orders 1 to 3, covariates on very different scales,
    /// and points outside the data's range.
    #[test]
    fn piecewise_one_dimensional_basis_matches_the_definition() {
        for (m, scale, offset) in [(2, 1.0, 0.0), (1, 1.0, 0.0), (3, 1.0, 0.0), (2, 1e4, 0.0), (2, 1e-3, 1e3)] {
            let n = 700;
            let x: Vec<f64> = (0..n).map(|i| offset + scale * (((i * 7919) % 1000) as f64 / 1000.0).powi(2)).collect();
            let knots: Vec<f64> = x.iter().step_by(5).copied().collect();
            let (basis, _, _) = TpBasis::construct("s(x)", &[&x], 12, Some(m), Some(&knots), 1, None).unwrap();
            let new: Vec<f64> = (0..300).map(|i| offset + scale * (-0.1 + 1.2 * i as f64 / 299.0)).collect();
            let fast = basis.matrix(&[&new]);
            let slow = basis.matrix_by_points(&[&new]);
            let top = slow.iter().fold(0.0_f64, |a, v| a.max(v.abs()));
            let err = (&fast - &slow).iter().fold(0.0_f64, |a, v| a.max(v.abs()));
            assert!(err < 1e-9 * top, "m = {m}, scale = {scale}: {err} of {top}");
        }
    }

    /// `dot` (one combined polynomial per interval) equals the basis rows times the
    /// coefficients, in one dimension and (by rows) in two, with and without `by`.
    #[test]
    fn dot_equals_the_rows_product() {
        let n = 500;
        let x: Vec<f64> = (0..n).map(|i| 3.0 * (((i * 7919) % 1000) as f64 / 1000.0).powi(2) - 1.0).collect();
        let z: Vec<f64> = (0..n).map(|i| (i as f64 * 0.11).cos()).collect();
        let by: Vec<f64> = (0..n).map(|i| 0.5 + (i % 5) as f64).collect();
        for vars in [vec![x.as_slice()], vec![x.as_slice(), z.as_slice()]] {
            let (basis, rows, _) = TpBasis::construct("s", &vars, 10, None, None, 1, None).unwrap();
            let beta: Vec<f64> = (0..basis.width()).map(|j| ((j * 37 % 11) as f64 - 5.0) / 3.0).collect();
            let new: Vec<f64> = (0..n).map(|i| -1.2 + 3.4 * i as f64 / n as f64).collect();
            let at: Vec<&[f64]> = if vars.len() == 1 { vec![&new] } else { vec![&new, &z] };
            let rows_at = basis.matrix(&at);
            for weights in [None, Some(by.as_slice())] {
                let mut got = vec![0.0; n];
                basis.dot(&at, &beta, weights, &mut got);
                let top = rows.iter().fold(0.0_f64, |a, v| a.max(v.abs()));
                for (r, row) in rows_at.rows().into_iter().enumerate() {
                    let v: f64 = row.iter().zip(&beta).map(|(a, b)| a * b).sum();
                    let want = weights.map_or(v, |w| v * w[r]);
                    assert!((got[r] - want).abs() < 1e-10 * top * 10.0, "{} vs {want}", got[r]);
                }
            }
        }
    }

    #[test]
    fn prediction_at_the_data_reproduces_the_design() {
        let n = 60;
        let x1: Vec<f64> = (0..n).map(|i| (i as f64 * 0.37).sin()).collect();
        let x2: Vec<f64> = (0..n).map(|i| (i as f64 * 0.11).cos()).collect();
        let (basis, x, s) = TpBasis::construct("s(x1,x2)", &[&x1, &x2], 12, None, None, 1, None).unwrap();
        let again = basis.matrix(&[&x1, &x2]);
        let diff = (&x - &again).iter().fold(0.0_f64, |a, v| a.max(v.abs()));
        assert!(diff < 1e-10, "{diff}");
        // The null space (last M = 3 columns) is unpenalized; the rest is penalized.
        assert!(s.slice(s![.., 9..]).iter().all(|v| *v == 0.0));
        assert!(s[(0, 0)].abs() > 0.0);
        // Columns have unit root mean square.
        for j in 0..12 {
            let rms = (x.column(j).iter().map(|v| v * v).sum::<f64>() / n as f64).sqrt();
            assert!((rms - 1.0).abs() < 1e-12);
        }
    }

    #[test]
    fn knots_define_the_points_and_the_design_is_the_prediction() {
        let n = 300;
        let x1: Vec<f64> = (0..n).map(|i| (i as f64 * 0.37).sin()).collect();
        let x2: Vec<f64> = (0..n).map(|i| (i as f64 * 0.11).cos()).collect();
        // Every third data point as a knot (plus a duplicate, which is dropped).
        let mut rows: Vec<usize> = (0..n).step_by(3).collect();
        rows.push(0);
        let knots: Vec<f64> = rows.iter().map(|&i| x1[i]).chain(rows.iter().map(|&i| x2[i])).collect();
        let (basis, x, _) = TpBasis::construct("s(x1,x2)", &[&x1, &x2], 15, None, Some(&knots), 1, None).unwrap();
        assert_eq!(basis.points.nrows(), 100);
        let again = basis.matrix(&[&x1, &x2]);
        let diff = (&x - &again).iter().fold(0.0_f64, |a, v| a.max(v.abs()));
        assert!(diff < 1e-10, "{diff}");
        // Fewer knots than k are ignored, as mgcv does: the data are the points.
        let few: Vec<f64> = knots[..10].iter().chain(&knots[101..111]).copied().collect();
        let (basis, _, _) = TpBasis::construct("s(x1,x2)", &[&x1, &x2], 15, None, Some(&few), 1, None).unwrap();
        assert_eq!(basis.points.nrows(), n);
    }

    /// Without knots, more distinct points than mgcv's `max.knots` is refused (the
    /// radial matrix would be n x n); with a subsample as knots it builds.
    #[test]
    fn many_points_need_a_knot_subsample() {
        let n = TpBasis::MAX_POINTS + 500;
        let x1: Vec<f64> = (0..n).map(|i| (i as f64 * 0.37).sin()).collect();
        let x2: Vec<f64> = (0..n).map(|i| (i as f64 * 0.11).cos()).collect();
        let err = TpBasis::construct("s(x1,x2)", &[&x1, &x2], 15, None, None, 1, None).unwrap_err();
        assert!(matches!(&err, EngineError::InvalidSpec { what } if what.contains("subsample")), "{err:?}");
        let rows: Vec<usize> = (0..n).step_by(5).collect();
        let knots: Vec<f64> = rows.iter().map(|&i| x1[i]).chain(rows.iter().map(|&i| x2[i])).collect();
        assert!(TpBasis::construct("s(x1,x2)", &[&x1, &x2], 15, None, Some(&knots), 2, None).is_ok());
    }
}
