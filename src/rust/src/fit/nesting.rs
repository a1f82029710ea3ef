//! Nested smooth terms made identifiable as mgcv's `gam.side()` does (`?gam.side`;
//! Wood 2017 §5.6.3). In `y ~ s(x) + te(x, z)` the tensor product can represent
//! every function of `x` alone, so the model is not identifiable. For each term that
//! shares covariates with smaller ones (`SmoothSpec::side`, worked out by the R
//! layer, which knows the covariates' names), the columns of its constrained basis
//! that the smaller terms and the constant already span are found and deleted, with
//! the matching rows and columns of its penalties.
//!
//! Which columns go: mgcv's `fixDependence()`. With `X1` the constant and the smaller
//! terms' columns and `X2` the term's, take `Q1' X2` below `X1`'s rank (what `X1`
//! cannot explain), factor it with column pivoting, and delete the pivoted columns
//! from the first `r0` on, where `r0` is the first position at which the mean
//! absolute value of `R`'s trailing square block falls below `|R_X1[1,1]| tol`. The
//! trailing block of the `R` factor of `[X1 X2]` is `Q1' X2` up to a rotation from
//! the left, which changes neither column norms nor the pivoted factor's `R`, so it
//! is built a chunk of rows at a time (a stacked QR, never the whole matrix) and the
//! pivoting runs on a `p2 x p2` matrix.

use faer::Mat;
use ndarray::{s, Array2, ArrayView2, ShapeBuilder};

use super::row_source::{pass, ChunkWork, RowSource};
use super::spec::ModelSpec;
use crate::basis::{self, Side, Smooth};
use crate::error::{EngineError, Result};
use crate::linalg;

/// mgcv's tolerance (`gam.side(tol = .Machine$double.eps^0.5)`).
const TOL: f64 = 1.490_116_119_384_765_6e-8;

/// Deletes from every nested term the columns its smaller terms span, working up
/// through the terms by number of covariates as mgcv does (a smaller term's own
/// deletions are made before it is used to check a larger one).
pub fn apply(spec: &ModelSpec<'_>, smooths: &mut [Smooth], threads: usize) -> Result<()> {
    let mut order: Vec<usize> = (0..smooths.len()).filter(|&i| spec.smooths[i].side.is_some()).collect();
    if order.is_empty() {
        return Ok(());
    }
    let n = spec.xp.nrows();
    let coefficients = spec.xp.ncols() + smooths.iter().map(Smooth::ncoef).sum::<usize>();
    let nested = order.iter().any(|&i| spec.smooths[i].side.as_ref().is_some_and(|s| !s.lower.is_empty()));
    if nested && n < coefficients {
        // mgcv then checks the penalty-augmented matrices instead (`with.pen`).
        return Err(EngineError::NotIdentifiable {
            detail: format!(
                "the model has nested smooth terms and fewer rows ({n}) than coefficients ({coefficients}); \
                 warmgam makes nested terms identifiable only with more rows than coefficients"
            ),
        });
    }
    order.sort_by_key(|&i| (spec.smooths[i].vars.len(), i));
    for i in order {
        let side = spec.smooths[i].side.as_ref().expect("chosen for having one");
        if side.lower.iter().any(|&j| j >= smooths.len() || j == i) {
            return Err(EngineError::InvalidSpec { what: format!("`{}`: bad nested terms", smooths[i].label) });
        }
        if !side.lower.is_empty() {
            let deleted = dependent_columns(spec, smooths, i, side, threads)?;
            if !deleted.is_empty() {
                delete_columns(&mut smooths[i], deleted)?;
            }
        }
        if !side.delete.is_empty() {
            let mut given = side.delete.clone();
            given.sort_unstable();
            given.dedup();
            if given.last().is_some_and(|&j| j >= smooths[i].ncoef()) {
                return Err(EngineError::InvalidSpec { what: format!("`{}`: bad aliased columns", smooths[i].label) });
            }
            delete_columns(&mut smooths[i], given)?;
        }
    }
    Ok(())
}

/// The columns `[1, X_lower..., X_term]` a chunk of rows at a time.
struct NestedRows<'s, 'a> {
    spec: &'s ModelSpec<'a>,
    smooths: &'s [Smooth],
    /// The smaller terms, then the term.
    terms: Vec<usize>,
    constant: bool,
    width: usize,
}

impl RowSource for NestedRows<'_, '_> {
    fn nrows(&self) -> usize {
        self.spec.xp.nrows()
    }

    fn chunk_rows(&self) -> usize {
        linalg::CHUNK_ROWS
    }

    fn chunk<'w>(&'w self, start: usize, len: usize, work: &'w mut ChunkWork) -> Result<ArrayView2<'w, f64>> {
        let (buf, scratch) = work.parts(self.chunk_rows().max(len), self.width);
        let mut at = 0;
        if self.constant {
            buf.slice_mut(s![..len, 0]).fill(1.0);
            at = 1;
        }
        for &j in &self.terms {
            let sm = &self.smooths[j];
            let sm_spec = &self.spec.smooths[j];
            let vars: Vec<&[f64]> = sm_spec.vars.iter().map(|v| &v[start..start + len]).collect();
            let by = sm_spec.by.as_deref().map(|b| &b[start..start + len]);
            sm.fill(&vars, by, scratch, buf.slice_mut(s![..len, at..at + sm.ncoef()]));
            at += sm.ncoef();
        }
        Ok(buf.slice(s![..len, ..]))
    }
}

/// mgcv's `fixDependence(X1, X2)`: the term's columns (0-based, ascending) to delete.
fn dependent_columns(
    spec: &ModelSpec<'_>,
    smooths: &[Smooth],
    term: usize,
    side: &Side,
    threads: usize,
) -> Result<Vec<usize>> {
    let p1 = usize::from(side.constant) + side.lower.iter().map(|&j| smooths[j].ncoef()).sum::<usize>();
    let p2 = smooths[term].ncoef();
    if p1 == 0 || p2 == 0 {
        return Ok(Vec::new());
    }
    let rows = NestedRows {
        spec,
        smooths,
        terms: side.lower.iter().copied().chain(std::iter::once(term)).collect(),
        constant: side.constant,
        width: p1 + p2,
    };
    let r = stacked_r(&rows, p1 + p2, threads)?;
    // `qr(X1)`'s first diagonal element: the norm of X1's first column.
    let r11 = r[(0, 0)].abs();
    let r22 = Array2::from_shape_fn((p2, p2), |(a, b)| r[(p1 + a, p1 + b)]);
    let (factor, pivot) = pivoted_qr(r22);
    // Shrink the trailing block from the full size while its mean absolute value is
    // below the tolerance (1-based `r0..r` in mgcv's loop; 0-based `from..p2` here).
    let mut from = p2;
    while from > 0 {
        let block = factor.slice(s![from - 1.., from - 1..]);
        let mean = block.iter().map(|v| v.abs()).sum::<f64>() / block.len() as f64;
        if mean >= r11 * TOL {
            break;
        }
        from -= 1;
    }
    let mut deleted: Vec<usize> = pivot[from..].to_vec();
    deleted.sort_unstable();
    Ok(deleted)
}

/// The `R` factor of the QR decomposition of all the rows of `rows`: each thread
/// stacks its chunks under its running `R` and refactors; the threads' factors are
/// then stacked and factored once more.
fn stacked_r(rows: &dyn RowSource, p: usize, threads: usize) -> Result<Mat<f64>> {
    let stack = |r: &Mat<f64>, below: &dyn Fn(usize, usize) -> f64, extra: usize| {
        Mat::from_fn(r.nrows() + extra, p, |i, j| if i < r.nrows() { r[(i, j)] } else { below(i - r.nrows(), j) })
    };
    let parts = pass(
        rows,
        threads,
        &mut || false,
        || Mat::<f64>::zeros(0, p),
        |r, _, chunk| {
            *r = linalg::qr_upper(stack(r, &|i, j| chunk[(i, j)], chunk.nrows()));
            Ok(())
        },
    )?;
    let mut out = Mat::<f64>::zeros(0, p);
    for part in parts {
        out = linalg::qr_upper(stack(&out, &|i, j| part[(i, j)], part.nrows()));
    }
    if out.nrows() < p {
        return Err(EngineError::TooFewRows { rows: rows.nrows(), coefficients: p });
    }
    Ok(out)
}

/// QR with column pivoting (Businger & Golub 1965, LAPACK's `dgeqp3` without its
/// blocking): at each step the remaining column of largest norm below the current
/// row (the first of equals) is brought forward. Returns `R` and the original index
/// of each of its columns.
fn pivoted_qr(mut a: Array2<f64>) -> (Array2<f64>, Vec<usize>) {
    let (m, n) = a.dim();
    let mut pivot: Vec<usize> = (0..n).collect();
    for k in 0..m.min(n) {
        let norm_below = |a: &Array2<f64>, j: usize| a.slice(s![k.., j]).iter().map(|v| v * v).sum::<f64>();
        let best = (k..n).fold(k, |best, j| if norm_below(&a, j) > norm_below(&a, best) { j } else { best });
        if best != k {
            for i in 0..m {
                a.swap((i, k), (i, best));
            }
            pivot.swap(k, best);
        }
        let norm = norm_below(&a, k).sqrt();
        if norm == 0.0 {
            continue;
        }
        let alpha = if a[(k, k)] > 0.0 { -norm } else { norm };
        let mut v: Vec<f64> = a.slice(s![k.., k]).to_vec();
        v[0] -= alpha;
        let vv: f64 = v.iter().map(|x| x * x).sum();
        for j in k + 1..n {
            let dot: f64 = v.iter().zip(a.slice(s![k.., j])).map(|(x, y)| x * y).sum();
            let f = 2.0 * dot / vv;
            for (i, vi) in v.iter().enumerate() {
                a[(k + i, j)] -= f * vi;
            }
        }
        a[(k, k)] = alpha;
        a.slice_mut(s![k + 1.., k]).fill(0.0);
    }
    (a, pivot)
}

/// Leaves out columns `deleted` (ascending, among the term's present columns) of a
/// term: its penalties lose those rows and columns, a penalty left with nothing is
/// dropped (with its scale), and the rank and null space are those of what remains,
/// as in `gam.side()`. Columns left out before stay out.
fn delete_columns(sm: &mut Smooth, deleted: Vec<usize>) -> Result<()> {
    let keep: Vec<usize> = (0..sm.ncoef()).filter(|j| deleted.binary_search(j).is_err()).collect();
    // The term's present columns, numbered among all its constrained columns.
    let present: Vec<usize> = sm.kept_columns().collect();
    if keep.is_empty() {
        return Err(EngineError::NotIdentifiable {
            detail: format!("every column of `{}` is spanned by the smaller terms nested in it", sm.label),
        });
    }
    let mut penalties = Vec::new();
    // One scale per penalty of the basis (`select`'s null-space penalty has none).
    let mut scales = Vec::new();
    for (q, s) in sm.penalties.iter().enumerate() {
        let reduced = Array2::from_shape_fn((keep.len(), keep.len()).f(), |(a, b)| s[(keep[a], keep[b])]);
        if reduced.iter().any(|v| *v != 0.0) {
            penalties.push(reduced);
            scales.extend(sm.s_scale.get(q));
        }
    }
    let k = keep.len();
    let null_space_dim = mgcv_null_space_dim(&penalties, k);
    sm.rank = match penalties.iter().cloned().reduce(|a, b| a + b) {
        Some(total) => basis::penalty_rank(&total),
        None => 0,
    };
    sm.s_scale = scales;
    sm.penalties = penalties;
    sm.null_space_dim = null_space_dim;
    let mut all: Vec<usize> = sm.deleted.iter().copied().chain(deleted.iter().map(|&j| present[j])).collect();
    all.sort_unstable();
    sm.deleted = all;
    Ok(())
}

/// The null space dimension `gam.side()` records: eigenvalues of the penalties, each
/// divided by its Frobenius norm and summed, below `eps^0.75` of the largest. (mgcv
/// counts the first penalty twice when there are several; so does this, to agree.)
fn mgcv_null_space_dim(penalties: &[Array2<f64>], k: usize) -> usize {
    let normalized = |s: &Array2<f64>| s / s.iter().map(|v| v * v).sum::<f64>().sqrt();
    let Some(first) = penalties.first() else { return k };
    let mut total = normalized(first);
    if penalties.len() > 1 {
        for s in penalties {
            total = total + normalized(s);
        }
    }
    let values = linalg::sym_eigenvalues(total.view());
    let top = values.iter().fold(f64::NEG_INFINITY, |a, v| a.max(*v));
    values.iter().filter(|v| **v < top * f64::EPSILON.powf(0.75)).count()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::basis::tensor::MarginSpec;
    use crate::basis::SmoothSpec;
    use crate::fit::design::design;

    fn pseudo(n: usize, a: usize, m: usize) -> Vec<f64> {
        (0..n).map(|i| ((i * a) % m) as f64 / m as f64).collect()
    }

    /// `R'R = X'X`: the stacked factor over chunks and threads is a QR factor of the
    /// whole matrix.
    #[test]
    fn stacked_factor_is_a_qr_factor() {
        let n = 9_000;
        let x = Array2::from_shape_fn((n, 6).f(), |(i, j)| ((i * (j + 3) * 7919) % 1009) as f64 / 1009.0 + j as f64);
        struct Held(Array2<f64>);
        impl RowSource for Held {
            fn nrows(&self) -> usize {
                self.0.nrows()
            }
            fn chunk_rows(&self) -> usize {
                1000
            }
            fn chunk<'s>(&'s self, start: usize, len: usize, _: &'s mut ChunkWork) -> Result<ArrayView2<'s, f64>> {
                Ok(self.0.slice(s![start..start + len, ..]))
            }
        }
        let r = stacked_r(&Held(x.clone()), 6, 2).unwrap();
        let rtr = Array2::from_shape_fn((6, 6), |(a, b)| (0..6).map(|k| r[(k, a)] * r[(k, b)]).sum::<f64>());
        let xtx = x.t().dot(&x);
        let err = (&rtr - &xtx).iter().fold(0.0_f64, |m, v| m.max(v.abs()));
        assert!(err < 1e-9 * xtx[(5, 5)], "{err}");
        assert!((0..6).all(|i| (0..i).all(|j| r[(i, j)] == 0.0)));
    }

    /// Pivoting brings the largest remaining column forward, and `A P = Q R`.
    #[test]
    fn pivoted_factor_reproduces_the_permuted_matrix() {
        let a = Array2::from_shape_fn((5, 5), |(i, j)| ((i * 5 + j * 3) % 7) as f64 + if j == 3 { 10.0 } else { 0.0 });
        let (r, pivot) = pivoted_qr(a.clone());
        assert_eq!(pivot[0], 3);
        let ap = Array2::from_shape_fn((5, 5), |(i, j)| a[(i, pivot[j])]);
        let want = ap.t().dot(&ap);
        let got = r.t().dot(&r);
        assert!((&got - &want).iter().all(|v| v.abs() < 1e-10 * want[(0, 0)]));
        // Diagonal magnitudes do not increase (column-norm pivoting).
        assert!((1..5).all(|k| r[(k, k)].abs() <= r[(k - 1, k - 1)].abs() + 1e-12));
    }

    /// `s(x) + te(x, z)`: the tensor product loses the columns `s(x)` spans; what
    /// remains, with the intercept and `s(x)`, has full column rank.
    #[test]
    fn nested_term_loses_what_the_smaller_spans() {
        let n = 800;
        let (x, z) = (pseudo(n, 7919, 997), pseudo(n, 104_729, 1013));
        let margin = |k| MarginSpec::for_tests("cr", k, 1);
        let small = SmoothSpec::for_tests("s(x)", "cr", 8, vec![x.clone()]);
        let large = SmoothSpec {
            margins: vec![margin(5), margin(5)],
            side: Some(Side { lower: vec![0], constant: true, delete: Vec::new() }),
            ..SmoothSpec::for_tests("te(x,z)", "te", 25, vec![x.clone(), z])
        };
        let xp = Array2::from_elem((n, 1).f(), 1.0);
        let spec = ModelSpec::for_tests(x.clone(), xp, vec![small, large]);
        let d = design(&spec).unwrap();
        let te = &d.smooths[1];
        // Of the tensor product's functions of x alone (cubic splines on 5 knots),
        // s(x) (on 8 other knots) spans the linear one.
        assert_eq!(te.deleted.len(), 1);
        assert_eq!(te.ncoef(), 23);
        assert!(te.penalties.iter().all(|s| s.dim() == (23, 23)));
        let p = d.ncols();
        let mut full = Array2::zeros((n, p).f());
        d.fill_rows(0, n, &mut full, &mut Vec::new());
        let sv = linalg::singular_values(full.view()).unwrap();
        let (top, bottom) = (sv.iter().cloned().fold(0.0, f64::max), sv.iter().cloned().fold(f64::INFINITY, f64::min));
        assert!(bottom > 1e-8 * top, "{bottom} / {top}");
        // Without the side constraint the same columns are rank deficient.
        let plain = ModelSpec::for_tests(
            x.clone(),
            Array2::from_elem((n, 1).f(), 1.0),
            vec![
                SmoothSpec::for_tests("s(x)", "cr", 8, vec![x.clone()]),
                SmoothSpec { side: None, ..spec.smooths[1].clone() },
            ],
        );
        let d = design(&plain).unwrap();
        let mut full = Array2::zeros((n, d.ncols()).f());
        d.fill_rows(0, n, &mut full, &mut Vec::new());
        let sv = linalg::singular_values(full.view()).unwrap();
        let (top, bottom) = (sv.iter().cloned().fold(0.0, f64::max), sv.iter().cloned().fold(f64::INFINITY, f64::min));
        assert!(bottom < 1e-10 * top);
    }

    /// Columns given to leave out are numbered among those the nesting left, and end
    /// up numbered among all the term's constrained columns.
    #[test]
    fn given_deletions_follow_the_nesting_ones() {
        let n = 800;
        let (x, z) = (pseudo(n, 7919, 997), pseudo(n, 104_729, 1013));
        let margin = |k| MarginSpec::for_tests("cr", k, 1);
        let spec_with = |delete: Vec<usize>| {
            let large = SmoothSpec {
                margins: vec![margin(5), margin(5)],
                side: Some(Side { lower: vec![0], constant: true, delete }),
                ..SmoothSpec::for_tests("te(x,z)", "te", 25, vec![x.clone(), z.clone()])
            };
            let small = SmoothSpec::for_tests("s(x)", "cr", 8, vec![x.clone()]);
            ModelSpec::for_tests(x.clone(), Array2::from_elem((n, 1).f(), 1.0), vec![small, large])
        };
        let nested = spec_with(Vec::new());
        let first = design(&nested).unwrap().smooths[1].deleted.clone();
        assert_eq!(first, vec![23]);
        let given = spec_with(vec![0]);
        let mut te = design(&given).unwrap().smooths[1].clone();
        assert_eq!(te.deleted, vec![0, 23]);
        assert_eq!(te.ncoef(), 22);
        assert!(te.penalties.iter().all(|s| s.dim() == (22, 22)));
        // Column 21 of the 22 left (1..=22) is column 22.
        delete_columns(&mut te, vec![21]).unwrap();
        assert_eq!(te.deleted, vec![0, 22, 23]);
        let out_of_range = spec_with(vec![23]);
        assert!(matches!(design(&out_of_range), Err(EngineError::InvalidSpec { .. })));
    }
}
