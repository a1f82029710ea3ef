//! The few eigenpairs of largest magnitude of a symmetric matrix, by the Lanczos
//! iteration with full reorthogonalization (Golub & Van Loan 2013, §10.1; Demmel 1997
//! §7.4). Thin plate regression splines need the `k` extreme eigenpairs of a dense
//! `n x n` radial-basis matrix with `n` up to thousands (Wood 2003 §2.1): a full
//! eigendecomposition costs `O(n^3)`, the iteration `O(n^2)` per step for a few dozen
//! steps. mgcv computes the same pairs the same way (its `Rlanczos`).

use ndarray::{Array2, ArrayView2};

use crate::linalg::sym_eigen;
use crate::vector_math::{with_wide_vectors, WideBody};

/// The `k` eigenpairs of symmetric `a` largest in absolute value, ordered as mgcv
/// orders them: positive eigenvalues from the largest down, then negative ones from
/// the least negative. Returns the values and the vectors (`n x k`, columns of unit
/// length). Small matrices are decomposed fully; large ones by Lanczos iterations
/// whose products use up to `threads` threads (at most two).
pub fn extreme_eigenpairs(a: ArrayView2<'_, f64>, k: usize, threads: usize) -> (Vec<f64>, Array2<f64>) {
    let product = |q: &[f64], z: &mut [f64]| symmetric_mat_vec(&a, q, z, threads);
    extreme_eigenpairs_of(a.nrows(), k, &product, &|| a.to_owned())
}

/// `extreme_eigenpairs` of a symmetric matrix held by its lower triangle: each
/// Lanczos product reads half the memory a full matrix's would (it is the
/// iteration's cost: a radial basis of 2000 knots is 32 MB in full, 16 MB packed).
pub fn extreme_eigenpairs_packed(a: &PackedSymmetric, k: usize, threads: usize) -> (Vec<f64>, Array2<f64>) {
    let product = |q: &[f64], z: &mut [f64]| a.product(q, z, threads);
    extreme_eigenpairs_of(a.n, k, &product, &|| a.to_dense())
}

/// A symmetric `n x n` matrix by its lower triangle, row after row (row `i` holds
/// columns `0..=i`).
pub struct PackedSymmetric {
    n: usize,
    lower: Vec<f64>,
}

impl PackedSymmetric {
    /// The matrix whose row `i`, columns `0..=i`, `fill(i, row)` writes.
    pub fn from_rows(n: usize, mut fill: impl FnMut(usize, &mut [f64])) -> PackedSymmetric {
        let mut lower = vec![0.0; n * (n + 1) / 2];
        for i in 0..n {
            fill(i, &mut lower[i * (i + 1) / 2..(i + 1) * (i + 2) / 2]);
        }
        PackedSymmetric { n, lower }
    }

    fn row(&self, i: usize) -> &[f64] {
        &self.lower[i * (i + 1) / 2..(i + 1) * (i + 2) / 2]
    }

    pub fn to_dense(&self) -> Array2<f64> {
        let mut out = Array2::<f64>::zeros((self.n, self.n));
        for i in 0..self.n {
            for (j, v) in self.row(i).iter().enumerate() {
                out[(i, j)] = *v;
                out[(j, i)] = *v;
            }
        }
        out
    }

    /// `z = A q`. Each stored entry serves twice, in row `i`'s sum and in column
    /// `i`'s contribution to the rows above. From `PARALLEL_FROM` the rows are cut
    /// in two parts of equal work, whose products are added: on two threads when
    /// `threads` allows, else one after the other, so that the sums are the same.
    fn product(&self, q: &[f64], z: &mut [f64], threads: usize) {
        let n = self.n;
        if n < PARALLEL_FROM {
            z.fill(0.0);
            with_wide_vectors(PackedRows { a: self, rows: 0..n, q, z });
            return;
        }
        // Rows 0..cut hold about half the entries.
        let cut = ((n as f64) / std::f64::consts::SQRT_2) as usize;
        let mut other = vec![0.0; n];
        z.fill(0.0);
        let (top, bottom) =
            (PackedRows { a: self, rows: 0..cut, q, z }, PackedRows { a: self, rows: cut..n, q, z: &mut other });
        if threads >= 2 {
            std::thread::scope(|s| {
                s.spawn(|| with_wide_vectors(top));
                with_wide_vectors(bottom);
            });
        } else {
            with_wide_vectors(top);
            with_wide_vectors(bottom);
        }
        z.iter_mut().zip(&other).for_each(|(a, b)| *a += b);
    }
}

/// Adds the products of rows `rows` of a packed symmetric matrix (and of the
/// columns they hold) with `q` into `z`.
struct PackedRows<'a> {
    a: &'a PackedSymmetric,
    rows: std::ops::Range<usize>,
    q: &'a [f64],
    z: &'a mut [f64],
}

impl WideBody for PackedRows<'_> {
    type Output = ();

    #[inline(always)]
    fn run<const FMA: bool>(self) {
        let PackedRows { a, rows, q, z } = self;
        for i in rows {
            let row = a.row(i);
            let (qi, diagonal) = (q[i], row[i]);
            let (above, rest) = z.split_at_mut(i);
            // One pass: row i's sum (four partial sums, so that it vectorizes) and
            // its entries times q_i into the rows above.
            // (Four at a time as arrays: one bounds check per four, so that the body
            // becomes vector instructions.)
            let mut acc = [0.0; 4];
            let whole = i - i % 4;
            for c in 0..whole / 4 {
                let j = 4 * c;
                let r: &[f64; 4] = row[j..j + 4].try_into().expect("four");
                let qq: &[f64; 4] = q[j..j + 4].try_into().expect("four");
                let zz: &mut [f64; 4] = (&mut above[j..j + 4]).try_into().expect("four");
                for l in 0..4 {
                    acc[l] += r[l] * qq[l];
                    zz[l] += qi * r[l];
                }
            }
            let mut tail = 0.0;
            for j in whole..i {
                tail += row[j] * q[j];
                above[j] += qi * row[j];
            }
            rest[0] += (acc[0] + acc[1]) + (acc[2] + acc[3]) + tail + diagonal * qi;
        }
    }
}

/// `extreme_eigenpairs` of the symmetric `n x n` matrix that `product` multiplies
/// by (`z = A q`) without forming it; `dense` forms it, for the small matrices that
/// are decomposed fully.
pub fn extreme_eigenpairs_of(
    n: usize,
    k: usize,
    product: &dyn Fn(&[f64], &mut [f64]),
    dense: &dyn Fn() -> Array2<f64>,
) -> (Vec<f64>, Array2<f64>) {
    assert!(k <= n, "asked for more eigenpairs than the matrix has");
    // Below this the full decomposition is as fast and exact.
    const FULL_BELOW: usize = 200;
    let (values, vectors) =
        if n < FULL_BELOW || 3 * k >= n { sym_eigen(dense().view()) } else { lanczos(n, k, product) };
    select_extreme(&values, &vectors, k)
}

/// The indices of the `k` values largest in magnitude among ascending `values` (ties
/// to the positive side), in mgcv's order: positive ones from the largest down, then
/// negative ones from the least negative.
fn extreme_indices(values: &[f64], k: usize) -> Vec<usize> {
    let (mut hi, mut lo) = (values.len(), 0usize);
    let mut take_pos = Vec::new();
    let mut take_neg = Vec::new();
    while take_pos.len() + take_neg.len() < k {
        if values[hi - 1].abs() >= values[lo].abs() {
            hi -= 1;
            take_pos.push(hi);
        } else {
            take_neg.push(lo);
            lo += 1;
        }
    }
    take_neg.reverse();
    take_pos.into_iter().chain(take_neg).collect()
}

/// The `k` extreme values and their vectors (see `extreme_indices`).
fn select_extreme(values: &[f64], vectors: &Array2<f64>, k: usize) -> (Vec<f64>, Array2<f64>) {
    let chosen = extreme_indices(values, k);
    let out = Array2::from_shape_fn((vectors.nrows(), k), |(i, j)| vectors[(i, chosen[j])]);
    (chosen.iter().map(|&j| values[j]).collect(), out)
}

/// Ritz pairs of `a` from a Lanczos run long enough that the `k` extreme ones have
/// converged; values ascending, as `sym_eigen` returns them.
fn lanczos(n: usize, k: usize, product: &dyn Fn(&[f64], &mut [f64])) -> (Vec<f64>, Array2<f64>) {
    // mgcv's convergence tolerance (relative to the largest Ritz value) and check
    // interval.
    let tol = f64::EPSILON.powf(0.7);
    let check_every = (k / 2).max(10).min((n / 10).max(1));
    // A fixed, generic start (mgcv's congruential sequence): runs are reproducible.
    let mut q = Vec::with_capacity(n);
    let mut jr = 1u64;
    for _ in 0..n {
        jr = (106 * jr + 1283) % 6075;
        q.push(jr as f64 / 6075.0 - 0.5);
    }
    let norm = q.iter().map(|v| v * v).sum::<f64>().sqrt();
    q.iter_mut().for_each(|v| *v /= norm);

    let mut basis: Vec<Vec<f64>> = vec![q];
    let (mut alpha, mut beta): (Vec<f64>, Vec<f64>) = (Vec::new(), Vec::new());
    let mut z = vec![0.0; n];
    loop {
        let j = basis.len() - 1;
        product(&basis[j], &mut z);
        let aj = dot(&basis[j], &z);
        alpha.push(aj);
        axpy(-aj, &basis[j], &mut z);
        if j > 0 {
            axpy(-beta[j - 1], &basis[j - 1], &mut z);
        }
        // Full reorthogonalization, twice ("twice is enough": Parlett 1998 §6.9).
        for _ in 0..2 {
            for qi in &basis {
                let c = dot(&z, qi);
                axpy(-c, qi, &mut z);
            }
        }
        let bj = dot(&z, &z).sqrt();
        let last = j + 1 == n;
        if (j + 1 >= k && (j + 1).is_multiple_of(check_every)) || last || bj == 0.0 {
            let (values, vectors) = tridiagonal_eigen(&alpha, &beta);
            if last || bj == 0.0 || converged(&values, &vectors, bj, k, tol) {
                let m = basis.len();
                let ritz = Array2::from_shape_fn((n, m), |(i, c)| (0..m).map(|l| basis[l][i] * vectors[(l, c)]).sum());
                return (values, ritz);
            }
        }
        beta.push(bj);
        basis.push(z.iter().map(|v| v / bj).collect());
    }
}

/// Whether the `k` Ritz values largest in magnitude have converged: the residual of
/// Ritz pair `i` is `|beta_j * v_i[last]|`.
fn converged(values: &[f64], vectors: &Array2<f64>, bj: f64, k: usize, tol: f64) -> bool {
    let m = values.len();
    let norm = values[0].abs().max(values[m - 1].abs());
    extreme_indices(values, k).into_iter().all(|i| (bj * vectors[(m - 1, i)]).abs() <= norm * tol)
}

fn tridiagonal_eigen(alpha: &[f64], beta: &[f64]) -> (Vec<f64>, Array2<f64>) {
    let m = alpha.len();
    let t = Array2::from_shape_fn((m, m), |(i, j)| {
        if i == j {
            alpha[i]
        } else if i + 1 == j {
            beta[i]
        } else if j + 1 == i {
            beta[j]
        } else {
            0.0
        }
    });
    sym_eigen(t.view())
}

/// `z = A q` for a symmetric `A`, by faer's (vectorized) matrix-vector product, its
/// rows split between two threads when `threads` allows and `A` is large (the
/// product reads all of `A` from memory each time: it is the Lanczos iteration's
/// cost). Each row's sum is formed the same way either way.
fn symmetric_mat_vec(a: &ArrayView2<'_, f64>, q: &[f64], z: &mut [f64], threads: usize) {
    let n = q.len();
    let qm = faer::MatRef::from_column_major_slice(q, n, 1);
    let av = crate::linalg::view(a);
    let product = |rows: std::ops::Range<usize>, out: &mut [f64]| {
        let zm = faer::MatMut::from_column_major_slice_mut(out, rows.len(), 1);
        let block = av.subrows(rows.start, rows.len());
        faer::linalg::matmul::matmul(zm, faer::Accum::Replace, block, qm, 1.0, faer::Par::Seq);
        crate::linalg::clear_vector_state();
    };
    if threads < 2 || n < PARALLEL_FROM {
        product(0..n, z);
        return;
    }
    let half = n / 2;
    let (top, bottom) = z.split_at_mut(half);
    std::thread::scope(|s| {
        s.spawn(|| product(0..half, top));
        product(half..n, bottom);
    });
}

/// From this order the matrix-vector product is split between two threads.
const PARALLEL_FROM: usize = 512;

/// With four partial sums, so that the loop vectorizes.
fn dot(a: &[f64], b: &[f64]) -> f64 {
    let mut acc = [0.0; 4];
    let (ca, cb) = (a.chunks_exact(4), b.chunks_exact(4));
    let tail: f64 = ca.remainder().iter().zip(cb.remainder()).map(|(x, y)| x * y).sum();
    for (x, y) in ca.zip(cb) {
        for l in 0..4 {
            acc[l] += x[l] * y[l];
        }
    }
    acc.iter().sum::<f64>() + tail
}

fn axpy(c: f64, x: &[f64], y: &mut [f64]) {
    y.iter_mut().zip(x).for_each(|(yi, xi)| *yi += c * xi);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lanczos_finds_the_extreme_pairs_of_a_radial_basis_matrix() {
        // A thin-plate-like matrix: |x_i - x_j|^3 on 400 irregular points, whose
        // extreme eigenvalues are of both signs.
        let n = 400;
        let x: Vec<f64> = (0..n).map(|i| ((i * 7919) % 1009) as f64 / 1009.0).collect();
        let a = Array2::from_shape_fn((n, n), |(i, j)| (x[i] - x[j]).abs().powi(3) / 12.0);
        let k = 12;
        let (all_values, all_vectors) = sym_eigen(a.view());
        let (full_values, full_vectors) = select_extreme(&all_values, &all_vectors, k);
        let (values, vectors) = extreme_eigenpairs(a.view(), k, 1);
        assert!(values.iter().any(|v| *v < 0.0) && values.iter().any(|v| *v > 0.0));
        for c in 0..k {
            assert!((values[c] - full_values[c]).abs() <= 1e-9 * full_values[0].abs(), "value {c}");
            // Same vector up to sign.
            let d: f64 = (0..n).map(|i| vectors[(i, c)] * full_vectors[(i, c)]).sum();
            assert!((d.abs() - 1.0).abs() < 1e-8, "vector {c}: {d}");
        }
    }

    /// Two threads give every row's sum exactly as one does, so a fit's basis does
    /// not depend on its thread count.
    #[test]
    fn packed_products_match_the_full_matrix() {
        for n in [7, 300, 1100] {
            let a = Array2::from_shape_fn((n, n), |(i, j)| ((i * j) % 13) as f64 - 6.0 + (i + j) as f64 * 0.01);
            let packed = PackedSymmetric::from_rows(n, |i, row| {
                for (j, v) in row.iter_mut().enumerate() {
                    *v = a[(i.max(j), i.min(j))];
                }
            });
            let full = packed.to_dense();
            let q: Vec<f64> = (0..n).map(|i| ((i * 7) % 11) as f64 / 11.0 - 0.4).collect();
            let want: Vec<f64> = (0..n).map(|i| (0..n).map(|j| full[(i, j)] * q[j]).sum()).collect();
            let (mut one, mut two) = (vec![1.0; n], vec![2.0; n]);
            packed.product(&q, &mut one, 1);
            packed.product(&q, &mut two, 2);
            assert_eq!(one, two, "the same sums on one thread or two");
            let scale = want.iter().fold(0.0_f64, |m, v| m.max(v.abs()));
            for (g, w) in one.iter().zip(&want) {
                assert!((g - w).abs() <= 1e-12 * scale, "{g} vs {w}");
            }
        }
    }

    #[test]
    fn split_product_is_bit_identical() {
        let n = 700;
        let a = Array2::from_shape_fn((n, n), |(i, j)| (((i + 1) * (j + 1)) as f64).sqrt().sin());
        let q: Vec<f64> = (0..n).map(|i| (i as f64 * 0.37).cos()).collect();
        let (mut one, mut two) = (vec![0.0; n], vec![0.0; n]);
        symmetric_mat_vec(&a.view(), &q, &mut one, 1);
        symmetric_mat_vec(&a.view(), &q, &mut two, 2);
        assert_eq!(one, two);
    }
}
