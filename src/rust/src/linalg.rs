//! The one bridge to faer. The engine holds its data as ndarray arrays (column-major
//! when they come from R); this module views them as faer matrices for the products and
//! factorizations, and hands ndarray arrays back.

use faer::linalg::matmul::triangular::{self, BlockStructure};
use faer::{Accum, Mat, MatRef, Par, Side};
use ndarray::{Array1, Array2, ArrayView2, ShapeBuilder};

#[cfg(test)]
use crate::error::Result;

/// Rows per chunk when accumulating cross products: large enough for the product
/// kernels to run at full speed, small enough that the weighted copy stays in cache.
pub const CHUNK_ROWS: usize = 4096;

/// A faer view of an ndarray matrix of any layout (no copy).
pub fn view<'a>(a: &'a ArrayView2<'_, f64>) -> MatRef<'a, f64> {
    let (n, p) = a.dim();
    let s = a.strides();
    // SAFETY: the pointer, shape and strides describe exactly the memory of `a`, which
    // outlives the returned view.
    unsafe { MatRef::from_raw_parts(a.as_ptr(), n, p, s[0], s[1]) }
}

/// Copies a faer matrix into a column-major ndarray array.
pub fn to_array(m: MatRef<'_, f64>) -> Array2<f64> {
    let mut out = Array2::zeros((m.nrows(), m.ncols()).f());
    for j in 0..m.ncols() {
        for i in 0..m.nrows() {
            out[(i, j)] = m[(i, j)];
        }
    }
    out
}

fn to_mat(a: &ArrayView2<'_, f64>) -> Mat<f64> {
    view(a).to_owned()
}

/// Parallelism for faer's kernels.
pub fn par(threads: usize) -> Par {
    if threads <= 1 {
        Par::Seq
    } else {
        Par::rayon(threads)
    }
}

/// The upper triangular factor `R` (`min(m, n) x n`) of the QR decomposition of `a`,
/// factored in place on the calling thread (it runs inside a parallel pass).
pub fn qr_upper(mut a: Mat<f64>) -> Mat<f64> {
    use faer::dyn_stack::{MemBuffer, MemStack};
    use faer::linalg::qr::no_pivoting::factor::{qr_in_place, qr_in_place_scratch, recommended_block_size};
    let (m, n) = (a.nrows(), a.ncols());
    let size = m.min(n);
    if size == 0 {
        return Mat::zeros(size, n);
    }
    let block = recommended_block_size::<f64>(m, n);
    let mut coeff = Mat::<f64>::zeros(block, size);
    let mut mem = MemBuffer::new(qr_in_place_scratch::<f64>(m, n, block, Par::Seq, Default::default()));
    qr_in_place(a.as_mut(), coeff.as_mut(), Par::Seq, MemStack::new(&mut mem), Default::default());
    Mat::from_fn(size, n, |i, j| if j >= i { a[(i, j)] } else { 0.0 })
}

/// `X'WX` and `X'Wz` for a model matrix held whole (tests build small problems this
/// way; fits stream theirs through `fit::row_source::weighted_cross_products`).
#[cfg(test)]
pub fn weighted_cross_products(
    x: ArrayView2<'_, f64>,
    w: &[f64],
    z: &[f64],
    threads: usize,
) -> (Array2<f64>, Array1<f64>) {
    let (n, p) = x.dim();
    cross_products_by_chunks(n, p, w, z, threads, |start, rows, buf| {
        buf.slice_mut(ndarray::s![..rows, ..]).assign(&x.slice(ndarray::s![start..start + rows, ..]));
        Ok(())
    })
    .expect("filling from a matrix cannot fail")
}

/// `X'WX` and `X'Wz` (non-negative weights) where `fill(start, rows, buf)` writes rows
/// `start..start + rows` of `X` into the first `rows` rows of `buf`, one chunk at a
/// time on one thread (the products on `threads`): the tests' reference for the fits'
/// passes (`fit::rows`), which split the rows over threads instead.
#[cfg(test)]
pub fn cross_products_by_chunks(
    n: usize,
    p: usize,
    w: &[f64],
    z: &[f64],
    threads: usize,
    mut fill: impl FnMut(usize, usize, &mut Array2<f64>) -> Result<()>,
) -> Result<(Array2<f64>, Array1<f64>)> {
    let parallel = par(threads);
    let mut gram = Mat::<f64>::zeros(p, p);
    let mut xtz = vec![0.0; p];
    let mut buf = Array2::<f64>::zeros((CHUNK_ROWS.min(n.max(1)), p).f());
    let mut sw = vec![0.0; CHUNK_ROWS];
    let mut start = 0;
    while start < n {
        let rows = CHUNK_ROWS.min(n - start);
        fill(start, rows, &mut buf)?;
        for i in 0..rows {
            sw[i] = w[start + i].sqrt();
        }
        for j in 0..p {
            let mut col = buf.column_mut(j);
            let mut acc = 0.0;
            for i in 0..rows {
                let v = col[i] * sw[i];
                col[i] = v;
                acc += v * sw[i] * z[start + i];
            }
            xtz[j] += acc;
        }
        let chunk = buf.slice(ndarray::s![..rows, ..]);
        let chunk = view(&chunk);
        triangular::matmul(
            gram.as_mut(),
            BlockStructure::TriangularLower,
            Accum::Add,
            chunk.transpose(),
            BlockStructure::Rectangular,
            chunk,
            BlockStructure::Rectangular,
            1.0,
            parallel,
        );
        start += rows;
    }
    Ok((from_lower(&gram), Array1::from(xtz)))
}

/// Accumulates `X_c' diag(w) X_c` into the lower triangle of `acc`, for weights of
/// any sign (the observed information of a non-canonical link can be negative for
/// some observations). `scratch` holds `diag(w) X_c`.
pub fn add_weighted_gram(
    acc: &mut Mat<f64>,
    chunk: ArrayView2<'_, f64>,
    w: &[f64],
    scratch: &mut Mat<f64>,
    parallel: Par,
) {
    let (rows, p) = chunk.dim();
    if scratch.nrows() != rows || scratch.ncols() != p {
        *scratch = Mat::zeros(rows, p);
    }
    // With every weight non-negative the product is the symmetric
    // (W^1/2 X)'(W^1/2 X), one operand; otherwise X'(WX).
    let symmetric = w.iter().all(|v| *v >= 0.0);
    // The row scales once per row, not once per element (a square root per element
    // cost as much as the product itself).
    let root: Vec<f64>;
    let scale = if symmetric {
        root = w.iter().map(|v| v.sqrt()).collect();
        &root[..]
    } else {
        w
    };
    for j in 0..p {
        let col = chunk.column(j);
        let out = scratch.col_as_slice_mut(j);
        match col.as_slice() {
            Some(x) => out.iter_mut().zip(x).zip(scale).for_each(|((o, x), s)| *o = x * s),
            None => out.iter_mut().zip(col.iter()).zip(scale).for_each(|((o, x), s)| *o = x * s),
        }
    }
    let lhs = if symmetric { scratch.as_ref().transpose() } else { view(&chunk).transpose() };
    triangular::matmul(
        acc.as_mut(),
        BlockStructure::TriangularLower,
        Accum::Add,
        lhs,
        BlockStructure::Rectangular,
        scratch.as_ref(),
        BlockStructure::Rectangular,
        1.0,
        parallel,
    );
    clear_vector_state();
}

/// Below this many rows per half, `in_halves` stays on one thread: starting a
/// thread costs about as much as 2000 rows of a location-scale family's work.
const MIN_ROWS_PER_HALF: usize = 2048;

/// Whether work over `rows` rows split in two halves runs them on two threads
/// (`in_halves`, and passes that split their output another way).
pub fn halves_on_two_threads(rows: usize, threads: usize) -> bool {
    threads >= 2 && rows >= 2 * MIN_ROWS_PER_HALF
}

/// `work` on rows `0..n` in two fixed halves, on two threads when `threads` allows
/// and each half has `MIN_ROWS_PER_HALF` rows: the halves, and so every sum over
/// them, are the same on one thread or two. For per-row work over rows held in
/// memory (deviances, working weights, likelihood derivatives, weighted Grams).
pub fn in_halves<T: Send>(n: usize, threads: usize, work: impl Fn(std::ops::Range<usize>) -> T + Sync) -> (T, T) {
    let (first, second) = (0..n / 2, n / 2..n);
    if !halves_on_two_threads(n, threads) {
        return (work(first), work(second));
    }
    std::thread::scope(|s| {
        let other = s.spawn(|| work(second));
        let mine = work(first);
        (mine, other.join().expect("a row thread panicked"))
    })
}

/// Rows per product in `weighted_gram`: the scaled rows (`diag(w) X`) of a chunk
/// stay in cache and are reused from chunk to chunk.
const GRAM_CHUNK_ROWS: usize = 2048;

/// `X' diag(w) X` as a symmetric ndarray matrix (weights of any sign). Each half of
/// the rows (`in_halves`) is summed a chunk at a time on its own thread: one
/// scaled copy of all of `X`, zeroed and then filled, cost a general family's fit
/// more in page faults than the product, and faer's own threads idled on a product
/// this narrow.
pub fn weighted_gram(x: ArrayView2<'_, f64>, w: &[f64], threads: usize) -> Array2<f64> {
    let (n, p) = x.dim();
    let (mut a, b) = in_halves(n, threads, |rows| {
        let mut acc = Mat::<f64>::zeros(p, p);
        let mut scratch = Mat::<f64>::zeros(0, 0);
        let mut start = rows.start;
        while start < rows.end {
            let end = (start + GRAM_CHUNK_ROWS).min(rows.end);
            let chunk = x.slice(ndarray::s![start..end, ..]);
            add_weighted_gram(&mut acc, chunk, &w[start..end], &mut scratch, Par::Seq);
            start = end;
        }
        acc
    });
    a += &b;
    from_lower(&a)
}

/// `A B` as an ndarray, by faer on `threads` threads when it is large enough to pay
/// for them: ndarray's own product runs on one thread without the wide kernels,
/// which made the p x p products of a model with a 1000-level random effect cost
/// more than its whole smoothing parameter search.
pub fn matmul(a: ArrayView2<'_, f64>, b: ArrayView2<'_, f64>, threads: usize) -> Array2<f64> {
    const PARALLEL_FROM: usize = 1 << 24;
    let work = a.nrows() * a.ncols() * b.ncols();
    let parallel = if work >= PARALLEL_FROM { par(threads) } else { Par::Seq };
    to_array(product(a, b, parallel).as_ref())
}

/// `A C` for a dense `A` and a symmetric `C` whose rows and columns in `block` form a
/// diagonal submatrix (a random effect's `X' diag(v) X`): the block's columns of
/// the product are `A`'s scaled, so the work is `O(p^2 q)` for `q` coefficients
/// outside the block instead of `O(p^3)`.
pub fn matmul_bordered(a: &Array2<f64>, c: &Array2<f64>, block: std::ops::Range<usize>, threads: usize) -> Array2<f64> {
    let p = c.nrows();
    let outside: Vec<usize> = (0..p).filter(|i| !block.contains(i)).collect();
    let c_out = c.select(ndarray::Axis(0), &outside);
    let mut out = matmul(a.select(ndarray::Axis(1), &outside).view(), c_out.view(), threads);
    let inside = a.slice(ndarray::s![.., block.clone()]);
    let c_in_out = c.slice(ndarray::s![block.clone(), ..]).select(ndarray::Axis(1), &outside);
    let mixed = matmul(inside, c_in_out.view(), threads);
    for (k, &j) in outside.iter().enumerate() {
        out.column_mut(j).scaled_add(1.0, &mixed.column(k));
    }
    for j in block {
        out.column_mut(j).scaled_add(c[(j, j)], &a.column(j));
    }
    out
}

/// `diag(A B)` without forming the product.
pub fn diag_of_product(a: ArrayView2<'_, f64>, b: ArrayView2<'_, f64>) -> Vec<f64> {
    (0..a.nrows()).map(|i| a.row(i).dot(&b.column(i))).collect()
}

/// mgcv's relative tolerance for a numerically zero eigenvalue or singular value,
/// `.Machine$double.eps^0.66` (about 4.7e-11): the penalties' rank
/// (`totalPenaltySpace`), a penalty's null space for `select = TRUE`, and whether a
/// tensor margin's reparameterization is singular. A coarser tolerance drops
/// genuine directions of an ill-conditioned (reparameterized) tensor margin.
pub fn rank_tolerance() -> f64 {
    f64::EPSILON.powf(0.66)
}

/// `A v` for `A` of any layout (`a.t()` gives `A' v`), by faer's product on the
/// calling thread: ndarray's own matrix-vector product walks a column-major `A` row
/// by row (an eighth of a location-scale fit's time went there).
pub fn mat_vec(a: ArrayView2<'_, f64>, v: &[f64]) -> Vec<f64> {
    let mut out = vec![0.0; a.nrows()];
    let vm = MatRef::from_column_major_slice(v, v.len(), 1);
    let om = faer::MatMut::from_column_major_slice_mut(&mut out, a.nrows(), 1);
    faer::linalg::matmul::matmul(om, Accum::Replace, view(&a), vm, 1.0, Par::Seq);
    clear_vector_state();
    out
}

/// `A B` into a new faer matrix (column-major), with `parallel` threads.
pub fn product(a: ArrayView2<'_, f64>, b: ArrayView2<'_, f64>, parallel: Par) -> Mat<f64> {
    let mut out = Mat::<f64>::zeros(a.nrows(), b.ncols());
    faer::linalg::matmul::matmul(out.as_mut(), Accum::Replace, view(&a), view(&b), 1.0, parallel);
    clear_vector_state();
    out
}

/// Marks the upper halves of the vector registers clean (`vzeroupper`) after faer's
/// wide kernels. Left dirty, they make every later scalar SSE instruction pay a
/// transition penalty on many x86 cores (Intel's optimization manual, "Mixing AVX
/// code with SSE code"): the correlations of a Gaussian process basis, libm's `exp`
/// between products, ran 18 times slower (7.3 s against 0.40 s for 4e7 of them).
#[inline]
pub fn clear_vector_state() {
    #[cfg(target_arch = "x86_64")]
    if std::is_x86_feature_detected!("avx") {
        // SAFETY: the CPU has AVX (checked above), all `zeroupper` needs.
        unsafe { zeroupper() }
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx")]
unsafe fn zeroupper() {
    std::arch::x86_64::_mm256_zeroupper()
}

/// The lower triangular `R` with `A = R R'` (Cholesky), `None` when a pivot is not
/// positive. For products `|R' x|^2 = x' A x` only: unlike `SpdFactor` there is no
/// threshold on the pivots, since a backward-stable factor of an ill-conditioned
/// matrix still gives its quadratic forms to working precision.
pub fn lower_root(a: ArrayView2<'_, f64>) -> Option<Mat<f64>> {
    let llt = view(&a).to_owned().llt(Side::Lower).ok()?;
    Some(llt.L().to_owned())
}

/// `X_c R` for a chunk `X_c` and a lower triangular `R` (only its lower triangle is
/// read), on the calling thread: half the flops of a general product.
pub fn times_lower(chunk: ArrayView2<'_, f64>, r: &Mat<f64>) -> Mat<f64> {
    let mut out = Mat::<f64>::zeros(chunk.nrows(), r.ncols());
    triangular::matmul(
        out.as_mut(),
        BlockStructure::Rectangular,
        Accum::Replace,
        view(&chunk),
        BlockStructure::Rectangular,
        r.as_ref(),
        BlockStructure::TriangularLower,
        1.0,
        Par::Seq,
    );
    clear_vector_state();
    out
}

/// `acc += X_c' V` for a chunk `X_c` and a block of weight columns `V`.
pub fn add_xt_block(acc: &mut Mat<f64>, chunk: ArrayView2<'_, f64>, v: &Mat<f64>, parallel: Par) {
    faer::linalg::matmul::matmul(acc.as_mut(), Accum::Add, view(&chunk).transpose(), v.as_ref(), 1.0, parallel);
    clear_vector_state();
}

/// A symmetric ndarray matrix from the lower triangle of `m`.
pub fn from_lower(m: &Mat<f64>) -> Array2<f64> {
    let mut out = to_array(m.as_ref());
    for j in 0..out.ncols() {
        for i in 0..j {
            out[(i, j)] = out[(j, i)];
        }
    }
    out
}

/// A Cholesky factorization of a symmetric positive definite matrix, computed on the
/// diagonally equilibrated matrix `D^-1/2 A D^-1/2` so that penalties many orders of
/// magnitude larger than the data part do not cost accuracy in the other blocks.
pub struct SpdFactor {
    l: Mat<f64>,
    /// `sqrt(diag(A))`.
    d: Vec<f64>,
}

impl SpdFactor {
    /// `None` when `a` is not numerically positive definite.
    pub fn new(a: ArrayView2<'_, f64>) -> Option<SpdFactor> {
        let p = a.nrows();
        let mut d = Vec::with_capacity(p);
        for i in 0..p {
            let v = a[(i, i)];
            if !(v > 0.0) || !v.is_finite() {
                return None;
            }
            d.push(v.sqrt());
        }
        let scaled = Mat::<f64>::from_fn(p, p, |i, j| a[(i, j)] / (d[i] * d[j]));
        let llt = scaled.llt(Side::Lower).ok()?;
        let l = llt.L().to_owned();
        // A pivot this small means the equilibrated matrix is singular to working
        // precision: the solve would be noise.
        let min_pivot = (0..p).map(|i| l[(i, i)]).fold(f64::INFINITY, f64::min);
        if p > 0 && min_pivot < 1e-7 {
            return None;
        }
        Some(SpdFactor { l, d })
    }

    pub fn dim(&self) -> usize {
        self.d.len()
    }

    /// `log|A|`.
    pub fn log_det(&self) -> f64 {
        (0..self.dim()).map(|i| 2.0 * (self.l[(i, i)].ln() + self.d[i].ln())).sum()
    }

    /// `A^-1 B`.
    pub fn solve(&self, b: ArrayView2<'_, f64>) -> Array2<f64> {
        let p = self.dim();
        let mut rhs = Mat::<f64>::from_fn(p, b.ncols(), |i, j| b[(i, j)] / self.d[i]);
        faer::linalg::triangular_solve::solve_lower_triangular_in_place(self.l.as_ref(), rhs.as_mut(), Par::Seq);
        faer::linalg::triangular_solve::solve_upper_triangular_in_place(
            self.l.as_ref().transpose(),
            rhs.as_mut(),
            Par::Seq,
        );
        let mut out = to_array(rhs.as_ref());
        for i in 0..p {
            out.row_mut(i).mapv_inplace(|v| v / self.d[i]);
        }
        out
    }

    /// `M^-1 B` for the lower-triangular `M` with `A = M M'`: `B' A^-1 B` is
    /// `(M^-1 B)'(M^-1 B)`, and `M^-1 C M^-T` has the eigenvalues of `A^-1 C`.
    pub fn whiten(&self, b: ArrayView2<'_, f64>) -> Array2<f64> {
        // A = D L L' D with the equilibration D = diag(d): M = D L.
        let mut rhs = Mat::<f64>::from_fn(self.dim(), b.ncols(), |i, j| b[(i, j)] / self.d[i]);
        faer::linalg::triangular_solve::solve_lower_triangular_in_place(self.l.as_ref(), rhs.as_mut(), Par::Seq);
        to_array(rhs.as_ref())
    }

    pub fn solve_vec(&self, b: &[f64]) -> Array1<f64> {
        let bm = ArrayView2::from_shape((b.len(), 1), b).expect("vector as column");
        self.solve(bm).column(0).to_owned()
    }

    /// `R^-1`, where `A = R'R` with `R` upper triangular (the Cholesky factor, which
    /// is unique, so the equilibration does not change it: `R = L' D^1/2`).
    pub fn inverse_upper_factor(&self) -> Array2<f64> {
        let p = self.dim();
        let mut l_inv = Mat::<f64>::identity(p, p);
        faer::linalg::triangular_solve::solve_lower_triangular_in_place(self.l.as_ref(), l_inv.as_mut(), Par::Seq);
        // R^-1 = D^-1/2 (L^-1)'.
        Array2::from_shape_fn((p, p), |(i, j)| l_inv[(j, i)] / self.d[i])
    }

    /// `A^-1`.
    pub fn inverse(&self) -> Array2<f64> {
        let eye = Array2::eye(self.dim());
        let mut inv = self.solve(eye.view());
        symmetrize(&mut inv);
        inv
    }
}

/// `H^-1` and `log|H|` of a symmetric positive definite `H` whose rows and columns
/// in `block` form a diagonal submatrix (a random effect's levels: disjoint indicator
/// columns plus a ridge), by eliminating that block (Schur complement; e.g. Golub &
/// Van Loan 2013 §3.2.10): with `a` the other indices, `D = H[block, block]`,
/// `B = H[a, block]` and `S = H[a, a] - B D^-1 B'`,
/// `H^-1 = [[S^-1, -S^-1 B D^-1], [., D^-1 + D^-1 B' S^-1 B D^-1]]` and
/// `log|H| = log|D| + log|S|`. For a k-level factor beside q other coefficients this
/// costs O(k^2 q + k q^2 + q^3) instead of O((k + q)^3). `None` when `D` or `S` is
/// not numerically positive definite.
pub fn bordered_diagonal_inverse(
    h: &Array2<f64>,
    block: std::ops::Range<usize>,
    threads: usize,
) -> Option<(Array2<f64>, f64)> {
    let p = h.nrows();
    let inside: Vec<usize> = block.clone().collect();
    let outside: Vec<usize> = (0..p).filter(|i| !block.contains(i)).collect();
    let d: Vec<f64> = inside.iter().map(|&i| h[(i, i)]).collect();
    if d.iter().any(|v| !(*v > 0.0 && v.is_finite())) {
        return None;
    }
    let (k, q) = (inside.len(), outside.len());
    let b = Array2::from_shape_fn((q, k), |(r, c)| h[(outside[r], inside[c])]);
    let b_d = Array2::from_shape_fn((q, k), |(r, c)| b[(r, c)] / d[c]);
    let mut schur =
        Array2::from_shape_fn((q, q), |(r, c)| h[(outside[r], outside[c])]) - matmul(b_d.view(), b.t(), threads);
    symmetrize(&mut schur);
    let factor = SpdFactor::new(schur.view())?;
    let s_inv = factor.inverse();
    let x = matmul(s_inv.view(), b_d.view(), threads);
    let dd = matmul(b_d.t(), x.view(), threads);
    let mut inv = Array2::<f64>::zeros((p, p));
    for (r, &i) in outside.iter().enumerate() {
        for (c, &j) in outside.iter().enumerate() {
            inv[(i, j)] = s_inv[(r, c)];
        }
        for (c, &j) in inside.iter().enumerate() {
            inv[(i, j)] = -x[(r, c)];
            inv[(j, i)] = -x[(r, c)];
        }
    }
    for (r, &i) in inside.iter().enumerate() {
        for (c, &j) in inside.iter().enumerate() {
            inv[(i, j)] = dd[(r, c)];
        }
        inv[(i, i)] += 1.0 / d[r];
    }
    let log_det = d.iter().map(|v| v.ln()).sum::<f64>() + factor.log_det();
    Some((inv, log_det))
}

/// A symmetric positive definite system `H`: Cholesky-factorized, or, when it has a
/// wide diagonal block, inverted by eliminating that block
/// (`bordered_diagonal_inverse`), which is cheaper than the factorization alone.
pub enum SpdSystem {
    Dense(SpdFactor),
    Bordered { inverse: Array2<f64>, log_det: f64 },
}

impl SpdSystem {
    /// `None` when `h` is not numerically positive definite.
    pub fn new(h: &Array2<f64>, diagonal_block: Option<std::ops::Range<usize>>) -> Option<SpdSystem> {
        // The elimination is O(k^2 q) for k levels beside q coefficients: one thread.
        if let Some((inverse, log_det)) = diagonal_block.and_then(|b| bordered_diagonal_inverse(h, b, 1)) {
            return Some(SpdSystem::Bordered { inverse, log_det });
        }
        SpdFactor::new(h.view()).map(SpdSystem::Dense)
    }

    pub fn solve_vec(&self, b: &[f64]) -> Array1<f64> {
        match self {
            SpdSystem::Dense(f) => f.solve_vec(b),
            SpdSystem::Bordered { inverse, .. } => inverse.dot(&ndarray::ArrayView1::from(b)),
        }
    }

    pub fn log_det(&self) -> f64 {
        match self {
            SpdSystem::Dense(f) => f.log_det(),
            SpdSystem::Bordered { log_det, .. } => *log_det,
        }
    }

    pub fn inverse(&self) -> Array2<f64> {
        match self {
            SpdSystem::Dense(f) => f.inverse(),
            SpdSystem::Bordered { inverse, .. } => inverse.clone(),
        }
    }
}

/// `A^-1` of a square matrix, by LU with partial pivoting; `None` when the result is
/// not finite.
pub fn inverse(a: ArrayView2<'_, f64>) -> Option<Array2<f64>> {
    use faer::linalg::solvers::DenseSolveCore;
    let inv = to_mat(&a).partial_piv_lu().inverse();
    let out = to_array(inv.as_ref());
    out.iter().all(|v| v.is_finite()).then_some(out)
}

/// The singular values of `a`; `None` when the decomposition fails.
pub fn singular_values(a: ArrayView2<'_, f64>) -> Option<Vec<f64>> {
    to_mat(&a).singular_values().ok()
}

/// Replaces `a` by `(a + a') / 2`.
pub fn symmetrize(a: &mut Array2<f64>) {
    let p = a.nrows();
    for j in 0..p {
        for i in 0..j {
            let m = 0.5 * (a[(i, j)] + a[(j, i)]);
            a[(i, j)] = m;
            a[(j, i)] = m;
        }
    }
}

/// The eigenvalues of a symmetric matrix, in increasing order (no eigenvectors: a
/// fraction of the decomposition's cost).
pub fn sym_eigenvalues(a: ArrayView2<'_, f64>) -> Vec<f64> {
    let mut values =
        to_mat(&a).self_adjoint_eigenvalues(Side::Lower).expect("eigenvalues of a finite symmetric matrix");
    values.sort_by(|x, y| x.total_cmp(y));
    values
}

/// `U f(D) U'` from a symmetric eigen-decomposition `(D, U)` (`sym_eigen`): a
/// function of the matrix, e.g. its pseudo-inverse.
pub fn from_eigen(values: &[f64], vectors: &Array2<f64>, f: impl Fn(f64) -> f64) -> Array2<f64> {
    let scaled = Array2::from_shape_fn(vectors.dim(), |(i, j)| vectors[(i, j)] * f(values[j]));
    matmul(scaled.view(), vectors.t(), 1)
}

/// Symmetric eigen-decomposition: eigenvalues in increasing order and the matching
/// eigenvectors as columns.
pub fn sym_eigen(a: ArrayView2<'_, f64>) -> (Vec<f64>, Array2<f64>) {
    let m = to_mat(&a);
    let e = m.self_adjoint_eigen(Side::Lower).expect("symmetric eigen-decomposition of a finite matrix");
    let s = e.S();
    let values = (0..a.nrows()).map(|i| s[i]).collect();
    (values, to_array(e.U()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn cross_products_match_definition() {
        let n = 10_000;
        let p = 5;
        let x = Array2::from_shape_fn((n, p).f(), |(i, j)| ((i * 7 + j * 13) % 17) as f64 / 17.0 + j as f64);
        let w: Vec<f64> = (0..n).map(|i| 1.0 + (i % 3) as f64).collect();
        let z: Vec<f64> = (0..n).map(|i| (i % 11) as f64).collect();
        let (g, v) = weighted_cross_products(x.view(), &w, &z, 2);
        for a in 0..p {
            let mut va = 0.0;
            for i in 0..n {
                va += x[(i, a)] * w[i] * z[i];
            }
            assert!((v[a] - va).abs() <= 1e-12 * va.abs().max(1.0) * n as f64);
            for b in 0..p {
                let gab: f64 = (0..n).map(|i| x[(i, a)] * w[i] * x[(i, b)]).sum();
                assert!((g[(a, b)] - gab).abs() <= 1e-12 * gab.abs().max(1.0) * n as f64);
            }
        }
    }

    /// In halves of 2048-row chunks (here 3 chunks a half, the last one short), on
    /// one thread or two: the definition's sums, and the same bits either way. With
    /// weights of one sign (the symmetric product) and of both.
    #[test]
    fn weighted_gram_matches_its_definition_on_one_thread_or_two() {
        let (n, p) = (2 * (2 * GRAM_CHUNK_ROWS + 700), 6);
        let x = Array2::from_shape_fn((n, p).f(), |(i, j)| ((i * 7 + j * 13) % 17) as f64 / 17.0 - 0.3 * j as f64);
        for signed in [false, true] {
            let w: Vec<f64> =
                (0..n).map(|i| (1 + i % 5) as f64 - if signed && i % 7 == 0 { 4.0 } else { 0.0 }).collect();
            let one = weighted_gram(x.view(), &w, 1);
            let two = weighted_gram(x.view(), &w, 2);
            assert_eq!(one, two, "signed weights: {signed}");
            for a in 0..p {
                for b in 0..p {
                    let want: f64 = (0..n).map(|i| x[(i, a)] * w[i] * x[(i, b)]).sum();
                    let scale: f64 = (0..n).map(|i| (x[(i, a)] * w[i] * x[(i, b)]).abs()).sum();
                    assert!((one[(a, b)] - want).abs() <= 1e-13 * scale, "({a}, {b}): {} vs {want}", one[(a, b)]);
                }
            }
        }
    }

    #[test]
    fn spd_factor_solves_and_inverts() {
        let a = array![[4.0, 1.0, 0.5], [1.0, 3.0, 0.2], [0.5, 0.2, 1e6]];
        let f = SpdFactor::new(a.view()).unwrap();
        let inv = f.inverse();
        let eye = a.dot(&inv);
        for i in 0..3 {
            for j in 0..3 {
                let want = if i == j { 1.0 } else { 0.0 };
                assert!((eye[(i, j)] - want).abs() < 1e-12);
            }
        }
        // log|A| against the product of eigenvalues.
        let (ev, _) = sym_eigen(a.view());
        let ld: f64 = ev.iter().map(|v| v.ln()).sum();
        assert!((f.log_det() - ld).abs() < 1e-10);
        // R^-1 is upper triangular with R'R = A.
        let r_inv = f.inverse_upper_factor();
        let a_inv = r_inv.dot(&r_inv.t());
        for i in 0..3 {
            for j in 0..3 {
                assert!((a_inv[(i, j)] - inv[(i, j)]).abs() < 1e-12 * (1.0 + inv[(i, j)].abs()));
                if i > j {
                    assert_eq!(r_inv[(i, j)], 0.0);
                }
            }
        }
        assert!(SpdFactor::new(array![[1.0, 1.0], [1.0, 1.0]].view()).is_none());
    }

    #[test]
    fn bordered_diagonal_inverse_matches_the_dense_one() {
        let (p, block) = (12, 3..10);
        // Diagonally dominant, so positive definite; diagonal on the block.
        let mut h = Array2::<f64>::from_shape_fn((p, p), |(i, j)| ((i * 7 + j * 3) % 5) as f64 / 10.0 - 0.2);
        h = &h + &h.t();
        for i in 0..p {
            for j in 0..p {
                if i != j && block.contains(&i) && block.contains(&j) {
                    h[(i, j)] = 0.0;
                }
            }
            h[(i, i)] = 4.0 + i as f64;
        }
        let dense = SpdFactor::new(h.view()).unwrap();
        let (inv, log_det) = bordered_diagonal_inverse(&h, block, 2).unwrap();
        let want = dense.inverse();
        let err = inv.iter().zip(want.iter()).fold(0.0_f64, |m, (a, b)| m.max((a - b).abs()));
        assert!(err < 1e-12, "{err}");
        assert!((log_det - dense.log_det()).abs() < 1e-12);
    }

    #[test]
    fn bordered_product_matches_the_dense_one() {
        let (p, block) = (10, 2..8);
        let a = Array2::<f64>::from_shape_fn((p, p), |(i, j)| ((i * 5 + j * 7) % 13) as f64 - 6.0);
        let mut c = Array2::<f64>::from_shape_fn((p, p), |(i, j)| ((i * 3 + j * 3) % 7) as f64 - 3.0);
        for i in block.clone() {
            for j in block.clone() {
                if i != j {
                    c[(i, j)] = 0.0;
                }
            }
        }
        let got = matmul_bordered(&a, &c, block, 2);
        let want = a.dot(&c);
        assert!(got.iter().zip(want.iter()).all(|(x, y)| (x - y).abs() < 1e-12));
    }
}
