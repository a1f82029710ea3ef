//! Test statistics for smooth terms, as `summary()` reports them.
//!
//! * Terms with an unpenalized null space: Wood (2013, Biometrika 100:221-228), the
//!   Wald-type statistic `T = beta' V^{r-} beta` with `V^{r-}` the rank-`r`
//!   pseudo-inverse of the term's Bayesian covariance, `r` the term's effective degrees
//!   of freedom (`edf1`); a fractional `r` is handled by the paper's §3 smoothing of the
//!   pseudo-inverse between `floor(r)` and `floor(r) + 1`, giving two statistics whose
//!   p-values are averaged, with a two-term chi-squared mixture as reference.
//! * Fully penalized terms (no null space, e.g. cyclic splines): the random-effect
//!   test of Wood (2013, Biometrika 100:1005-1010): `T = beta' Vp^-1 beta` referred to
//!   a weighted sum of chi-squared(1) variables with weights the eigenvalues of
//!   `Vp^-1 Ve`.
//!
//! The engine computes statistics and reference distributions; R evaluates the tail
//! probabilities with its distribution functions.

use std::ops::Range;

use ndarray::{s, Array1, Array2, Axis};

use super::design::Design;
use crate::basis::Basis;
use crate::fit::penalty::PenaltySet;
use crate::linalg::{self, sym_eigen, sym_eigenvalues, SpdFactor};

#[derive(Debug, Clone)]
pub enum TermTest {
    /// Wood (2013a): statistics `stat` and `stat1` (the two smoothed pseudo-inverses),
    /// reference rank `rank`, rank for the chi-squared/F tail `rank1`, and the mixture
    /// weights (empty when `rank` is an integer).
    Wald { stat: f64, stat1: f64, rank: f64, rank1: f64, weights: Vec<f64> },
    /// Wood (2013b): statistic (on the scale of the data) and the chi-squared(1)
    /// mixture weights.
    RandomEffect { stat: f64, weights: Vec<f64>, rank: f64 },
}

/// What the random-effect tests need beyond the covariances: each penalty's
/// smoothing parameter and the scale (`Vp = scale (X'WX + S)^-1`).
pub struct Penalized<'a> {
    pub penalties: &'a PenaltySet,
    pub lambda: &'a [f64],
    pub scale: f64,
}

pub fn smooth_tests(
    design: &Design<'_>,
    xtwx: &Array2<f64>,
    penalized: &Penalized<'_>,
    beta: &[f64],
    vp: &Array2<f64>,
    ve: &Array2<f64>,
    edf1: &[f64],
) -> Vec<TermTest> {
    let ranges: Vec<Range<usize>> =
        design.smooths.iter().zip(&design.first_col).map(|(sm, &start)| start..start + sm.ncoef()).collect();
    let random: Vec<bool> = design.smooths.iter().map(|sm| matches!(sm.basis, Basis::Re(_))).collect();
    design
        .smooths
        .iter()
        .enumerate()
        .map(|(j, sm)| {
            let range = ranges[j].clone();
            let (start, end) = (range.start, range.end);
            let b = Array1::from(beta[start..end].to_vec());
            if sm.null_space_dim == 0 {
                // With other random effects in the model, mgcv tests a random effect
                // with those integrated out (its `recov`).
                let others: Vec<Range<usize>> =
                    (0..ranges.len()).filter(|&k| k != j && random[k]).map(|k| ranges[k].clone()).collect();
                if random[j] && !others.is_empty() {
                    if let Some((v, e)) = marginal_covariances(xtwx, penalized, vp, range.clone(), &others) {
                        return random_effect_test(&b, &v, &e);
                    }
                }
                let v = vp.slice(s![start..end, start..end]).to_owned();
                let e = ve.slice(s![start..end, start..end]).to_owned();
                random_effect_test(&b, &v, &e)
            } else {
                let v = vp.slice(s![start..end, start..end]).to_owned();
                let g = xtwx.slice(s![start..end, start..end]).to_owned();
                let r = edf1[start..end].iter().sum::<f64>().min((end - start) as f64);
                wald_test(&b, &g, &v, r)
            }
        })
        .collect()
}

/// The Bayesian and frequentist covariances of term `m`'s coefficients with the
/// other random effects (`others`) treated as random rather than as fixed, penalized
/// coefficients, as mgcv's `recov` forms them for `reTest` (Wood 2013, Biometrika
/// 100:1005-1010, §4). Integrating `b_2 ~ N(0, scale S_2^-)` out of the model adds
/// `M = A_{.2} S_2^- A_{2.}` to `A = X'WX`:
/// `Ve = Vp (A + M) Vp / scale`, and the term's `Vp` block becomes
/// `scale [(A + M + S_1)^-1]_mm` on the coefficients other than the other random
/// effects'. `None` when that system is not positive definite.
fn marginal_covariances(
    xtwx: &Array2<f64>,
    penalized: &Penalized<'_>,
    vp: &Array2<f64>,
    m: Range<usize>,
    others: &[Range<usize>],
) -> Option<(Array2<f64>, Array2<f64>)> {
    let p = xtwx.nrows();
    let in_others = |c: usize| others.iter().any(|r| r.contains(&c));
    let idx2: Vec<usize> = (0..p).filter(|&c| in_others(c)).collect();
    let idx1: Vec<usize> = (0..p).filter(|&c| !in_others(c)).collect();
    let (mut s1, mut s2) = (Array2::<f64>::zeros((p, p)), Array2::<f64>::zeros((p, p)));
    for (pen, l) in penalized.penalties.penalties.iter().zip(penalized.lambda) {
        let target = if in_others(pen.start) { &mut s2 } else { &mut s1 };
        target.slice_mut(s![pen.start..pen.start + pen.len(), pen.start..pen.start + pen.len()]).scaled_add(*l, &pen.s);
    }
    let s2_pinv = psd_pseudo_inverse(&s2.select(Axis(0), &idx2).select(Axis(1), &idx2));
    let a_2 = xtwx.select(Axis(1), &idx2);
    let added = linalg::matmul(linalg::matmul(a_2.view(), s2_pinv.view(), 1).view(), a_2.t(), 1);
    let a_m = xtwx + &added;
    let vp_m = vp.slice(s![m.clone(), ..]);
    let ve_m = linalg::matmul(linalg::matmul(vp_m, a_m.view(), 1).view(), vp_m.t(), 1) / penalized.scale;
    let q = (&a_m + &s1).select(Axis(0), &idx1).select(Axis(1), &idx1);
    let q_inv = SpdFactor::new(q.view())?.inverse();
    let pos: Vec<usize> =
        m.map(|c| idx1.iter().position(|&i| i == c).expect("the term is not among the others")).collect();
    let v_m = q_inv.select(Axis(0), &pos).select(Axis(1), &pos) * penalized.scale;
    Some((v_m, ve_m))
}

/// The pseudo-inverse of a positive semi-definite matrix, eigenvalues below
/// `eps^0.8` of the largest taken as zero (mgcv's `recov` threshold).
fn psd_pseudo_inverse(a: &Array2<f64>) -> Array2<f64> {
    let (values, vectors) = sym_eigen(a.view());
    let floor = values.iter().fold(0.0_f64, |m, v| m.max(*v)) * f64::EPSILON.powf(0.8);
    linalg::from_eigen(&values, &vectors, |v| if v > floor { 1.0 / v } else { 0.0 })
}

/// Upper-triangular `R` with `R'R = G` (the R factor of the term's weighted columns).
fn r_factor(g: &Array2<f64>) -> Option<Array2<f64>> {
    let p = g.nrows();
    let mut l = Array2::<f64>::zeros((p, p));
    for j in 0..p {
        let mut d = g[(j, j)];
        for k in 0..j {
            d -= l[(j, k)] * l[(j, k)];
        }
        if d <= 0.0 {
            return None;
        }
        l[(j, j)] = d.sqrt();
        for i in j + 1..p {
            let mut v = g[(i, j)];
            for k in 0..j {
                v -= l[(i, k)] * l[(j, k)];
            }
            l[(i, j)] = v / l[(j, j)];
        }
    }
    Some(l.t().to_owned())
}

pub(crate) fn wald_test(b: &Array1<f64>, g: &Array2<f64>, v: &Array2<f64>, rank_in: f64) -> TermTest {
    let Some(r) = r_factor(g) else {
        return TermTest::Wald { stat: f64::NAN, stat1: f64::NAN, rank: rank_in, rank1: rank_in, weights: vec![] };
    };
    let mut rv = r.dot(v).dot(&r.t());
    crate::linalg::symmetrize(&mut rv);
    let (asc_values, asc_vectors) = sym_eigen(rv.view());
    let q = asc_values.len();
    // Decreasing order, and each eigenvector's first element made non-negative so the
    // statistic does not depend on the solver's sign choices.
    let ev: Vec<f64> = (0..q).rev().map(|i| asc_values[i]).collect();
    let mut vec = Array2::from_shape_fn((q, q), |(i, j)| asc_vectors[(i, q - 1 - j)]);
    for j in 0..q {
        if vec[(0, j)] < 0.0 {
            vec.column_mut(j).mapv_inplace(|x| -x);
        }
    }
    let mut rank = rank_in;
    let mut k = rank.floor().max(0.0) as usize;
    let mut nu = (rank - k as f64).abs();
    let mut k1 = if nu > 0.0 { k + 1 } else { k };
    let top = ev[0];
    let r_est = ev.iter().filter(|&&e| e > top * f64::EPSILON.powf(0.9)).count();
    if r_est < k1 {
        k = r_est;
        k1 = r_est;
        nu = 0.0;
        rank = r_est as f64;
    }
    let k1 = k1.max(1);
    let mut vec = vec.slice(s![.., 0..k1]).to_owned();
    let mut vec1;
    if nu > 0.0 && k > 0 {
        for j in 0..k - 1 {
            let f = 1.0 / ev[j].sqrt();
            vec.column_mut(j).mapv_inplace(|x| x * f);
        }
        // Smooth the pseudo-inverse between rank k and k + 1 (Wood 2013a §3).
        let b12 = (0.5 * nu * (1.0 - nu)).max(0.0).sqrt();
        let (e0, e1) = (ev[k - 1].powf(-0.5), ev[k].powf(-0.5));
        let bm =
            Array2::from_shape_vec((2, 2), vec![e0 * e0, e0 * b12 * e1, e1 * b12 * e0, e1 * nu * e1]).expect("2x2");
        let (bv, bvec) = sym_eigen(bm.view());
        let root = Array2::from_shape_fn((2, 2), |(i, j)| {
            (0..2).map(|c| bvec[(i, c)] * bv[c].max(0.0).sqrt() * bvec[(j, c)]).sum::<f64>()
        });
        let last = vec.slice(s![.., k - 1..k1]).to_owned(); // q x 2
        vec1 = vec.clone();
        let flip = Array2::from_shape_vec((2, 2), vec![-1.0, 0.0, 0.0, 1.0]).expect("2x2");
        vec1.slice_mut(s![.., k - 1..k1]).assign(&last.dot(&root.dot(&flip).t()));
        vec.slice_mut(s![.., k - 1..k1]).assign(&last.dot(&root.t()));
    } else {
        if k == 0 {
            let f = (1.0 / ev[0]).sqrt();
            vec.mapv_inplace(|x| x * f);
        } else {
            for j in 0..k1.min(k) {
                let f = 1.0 / ev[j].sqrt();
                vec.column_mut(j).mapv_inplace(|x| x * f);
            }
        }
        vec1 = vec.clone();
    }
    let rp = r.dot(b);
    let stat = vec.t().dot(&rp).iter().map(|x| x * x).sum();
    let stat1 = vec1.t().dot(&rp).iter().map(|x| x * x).sum();
    let mut rank1 = rank;
    let mut weights = Vec::new();
    if nu > 0.0 {
        if k1 == 1 {
            rank1 = 1.0;
            weights = vec![1.0];
        } else {
            weights = vec![1.0; k1];
            let rp = nu + 1.0;
            weights[k - 1] = (rp + (rp * (2.0 - rp)).sqrt()) / 2.0;
            weights[k1 - 1] = rp - weights[k - 1];
        }
    }
    TermTest::Wald { stat, stat1, rank, rank1, weights }
}

pub(crate) fn random_effect_test(b: &Array1<f64>, vp: &Array2<f64>, ve: &Array2<f64>) -> TermTest {
    let Some(f) = SpdFactor::new(vp.view()) else {
        return TermTest::RandomEffect { stat: f64::NAN, weights: vec![], rank: f64::NAN };
    };
    let stat = b.dot(&f.solve_vec(&b.to_vec()));
    // The eigenvalues of Vp^-1 Ve are those of the symmetric M^-1 Ve M^-T, Vp = M M'
    // (values only: at a 1000-level random effect the eigenvectors were most of a
    // fit's time).
    let half = f.whiten(ve.view());
    let mut inner = f.whiten(half.t());
    crate::linalg::symmetrize(&mut inner);
    let values = sym_eigenvalues(inner.view());
    let top = values.iter().fold(0.0_f64, |a, v| a.max(*v));
    let weights: Vec<f64> = values.iter().rev().map(|v| v.max(0.0)).collect();
    let rank = weights.iter().filter(|v| **v > top * f64::EPSILON.powf(0.8)).count() as f64;
    TermTest::RandomEffect { stat, weights, rank }
}

#[cfg(test)]
mod tests {
    use ndarray::{Array1, Array2};

    use super::*;
    use crate::basis::SmoothSpec;
    use crate::fit::design::{design, penalty_set};
    use crate::fit::penalty::Penalty;
    use crate::fit::uniform_stream;
    use crate::fit::ModelSpec;

    /// Eigenvalues (decreasing) and eigenvectors (columns) of a small symmetric
    /// matrix by cyclic Jacobi rotations, independent of the engine's solver.
    fn jacobi(a: &Array2<f64>) -> (Vec<f64>, Array2<f64>) {
        let n = a.nrows();
        let (mut a, mut v) = (a.clone(), Array2::<f64>::eye(n));
        for _ in 0..60 {
            let off: f64 = (0..n).flat_map(|i| (0..i).map(move |j| (i, j))).map(|(i, j)| a[(i, j)].powi(2)).sum();
            if off == 0.0 {
                break;
            }
            for p in 0..n {
                for q in p + 1..n {
                    if a[(p, q)] == 0.0 {
                        continue;
                    }
                    let theta = (a[(q, q)] - a[(p, p)]) / (2.0 * a[(p, q)]);
                    let t = theta.signum() / (theta.abs() + (theta * theta + 1.0).sqrt());
                    let c = 1.0 / (t * t + 1.0).sqrt();
                    let s = t * c;
                    for k in 0..n {
                        let (x, y) = (a[(k, p)], a[(k, q)]);
                        (a[(k, p)], a[(k, q)]) = (c * x - s * y, s * x + c * y);
                    }
                    for k in 0..n {
                        let (x, y) = (a[(p, k)], a[(q, k)]);
                        (a[(p, k)], a[(q, k)]) = (c * x - s * y, s * x + c * y);
                    }
                    for k in 0..n {
                        let (x, y) = (v[(k, p)], v[(k, q)]);
                        (v[(k, p)], v[(k, q)]) = (c * x - s * y, s * x + c * y);
                    }
                }
            }
        }
        let mut order: Vec<usize> = (0..n).collect();
        order.sort_by(|&i, &j| a[(j, j)].total_cmp(&a[(i, i)]));
        (order.iter().map(|&i| a[(i, i)]).collect(), v.select(Axis(1), &order))
    }

    /// `f(A)` for symmetric `A`, through its eigen-decomposition.
    fn sym_fn(a: &Array2<f64>, f: impl Fn(f64) -> f64) -> Array2<f64> {
        let (values, u) = jacobi(a);
        let n = values.len();
        Array2::from_shape_fn((n, n), |(i, j)| (0..n).map(|k| u[(i, k)] * f(values[k]) * u[(j, k)]).sum())
    }

    /// `B B' + ridge I` for a pseudo-random `q x m` matrix `B`: of rank `m` when
    /// `ridge` is 0.
    fn spd(q: usize, m: usize, ridge: f64, seed: u64) -> Array2<f64> {
        let mut next = uniform_stream(seed);
        let b = Array2::from_shape_fn((q, m), |_| next() - 0.5);
        b.dot(&b.t()) + Array2::<f64>::eye(q) * ridge
    }

    fn vector(q: usize, seed: u64) -> Array1<f64> {
        let mut next = uniform_stream(seed);
        Array1::from_shape_fn(q, |_| 2.0 * next() - 1.0)
    }

    fn close(a: f64, b: f64, tol: f64) -> bool {
        (a - b).abs() <= tol * (1.0 + a.abs().max(b.abs()))
    }

    fn max_abs(a: &Array2<f64>) -> f64 {
        a.iter().fold(0.0_f64, |m, v| m.max(v.abs()))
    }

    struct Wald {
        stat: f64,
        stat1: f64,
        rank: f64,
        rank1: f64,
        weights: Vec<f64>,
    }

    fn wald(b: &Array1<f64>, g: &Array2<f64>, v: &Array2<f64>, rank: f64) -> Wald {
        match wald_test(b, g, v, rank) {
            TermTest::Wald { stat, stat1, rank, rank1, weights } => Wald { stat, stat1, rank, rank1, weights },
            other => panic!("not a Wald test: {other:?}"),
        }
    }

    /// The matrix `M` of a quadratic form `t(b) = b' M b`, by polarization.
    fn form_matrix(q: usize, t: impl Fn(&Array1<f64>) -> f64) -> Array2<f64> {
        let unit = |i: usize| Array1::from_shape_fn(q, |k| f64::from(k == i));
        let diag: Vec<f64> = (0..q).map(|i| t(&unit(i))).collect();
        Array2::from_shape_fn((q, q), |(i, j)| {
            if i == j {
                diag[i]
            } else {
                (t(&(unit(i) + unit(j))) - diag[i] - diag[j]) / 2.0
            }
        })
    }

    /// The weights of the chi-squared(1) mixture that `b' M b` follows when
    /// `b ~ N(0, V)`: the eigenvalues of `V^1/2 M V^1/2`, decreasing.
    fn null_mixture(m: &Array2<f64>, v: &Array2<f64>) -> Vec<f64> {
        let root = sym_fn(v, |x| x.max(0.0).sqrt());
        jacobi(&root.dot(m).dot(&root)).0
    }

    /// The definition of Wood (2013a) in the metric of `G`, with the symmetric root
    /// `G^1/2` for `R` (the statistic does not depend on which root): `z = U' R b`
    /// with `R V R' = U diag(ev) U'`; the rank-`k` statistic `sum_{j<k} z_j^2 / ev_j`
    /// and, for `k + nu`, the pair `(k - 1 terms) + z' E B E z` with
    /// `E = diag(ev_k, ev_k+1)^-1/2` and `B = [1, +-b12; +-b12, nu]`.
    fn definition(b: &Array1<f64>, g: &Array2<f64>, v: &Array2<f64>, k: usize, nu: f64) -> (f64, f64) {
        let r = sym_fn(g, f64::sqrt);
        let (ev, u) = jacobi(&r.dot(v).dot(&r));
        let z = u.t().dot(&r.dot(b));
        let head: f64 = (0..k.saturating_sub(usize::from(nu > 0.0))).map(|j| z[j] * z[j] / ev[j]).sum();
        if nu == 0.0 {
            return (head, head);
        }
        let (x, y) = (z[k - 1] / ev[k - 1].sqrt(), z[k] / ev[k].sqrt());
        let b12 = (0.5 * nu * (1.0 - nu)).sqrt();
        let pair = |sign: f64| head + x * x + 2.0 * sign * b12 * x * y + nu * y * y;
        (pair(1.0), pair(-1.0))
    }

    /// The two statistics equal the definition's pair, in either order.
    fn same_pair(got: &Wald, want: (f64, f64), tol: f64) -> bool {
        (close(got.stat, want.0, tol) && close(got.stat1, want.1, tol))
            || (close(got.stat, want.1, tol) && close(got.stat1, want.0, tol))
    }

    #[test]
    fn r_factor_is_the_upper_cholesky_factor() {
        let g = spd(5, 7, 0.1, 1);
        let r = r_factor(&g).unwrap();
        for i in 0..5 {
            assert!(r[(i, i)] > 0.0);
            for j in 0..i {
                assert_eq!(r[(i, j)], 0.0, "below the diagonal");
            }
        }
        assert!(max_abs(&(r.t().dot(&r) - &g)) < 1e-13);
        assert!(r_factor(&spd(5, 3, 0.0, 1)).is_none(), "singular");
        assert!(r_factor(&(spd(5, 7, 0.1, 1) - Array2::<f64>::eye(5) * 10.0)).is_none(), "indefinite");
    }

    /// Moore-Penrose, with eigenvalues below `eps^0.8` of the largest dropped.
    #[test]
    fn pseudo_inverse_drops_only_negligible_eigenvalues() {
        let (_, u) = jacobi(&spd(5, 5, 0.0, 2));
        let with = |values: [f64; 5]| {
            Array2::from_shape_fn((5, 5), |(i, j)| (0..5).map(|k| u[(i, k)] * values[k] * u[(j, k)]).sum::<f64>())
        };
        let a = with([3.0, 1.0, 1e-6, 1e-13, 0.0]);
        let got = psd_pseudo_inverse(&a);
        let want = with([1.0 / 3.0, 1.0, 1e6, 0.0, 0.0]);
        assert!(max_abs(&(&got - &want)) < 1e-8 * max_abs(&want), "{}", max_abs(&(&got - &want)));
        assert!(max_abs(&(a.dot(&got).dot(&a) - &a)) < 1e-8);
        assert!(max_abs(&(got.dot(&a).dot(&got) - &got)) < 1e-8 * max_abs(&want));
    }

    /// At full integer rank the statistic is `b' V^-1 b`, referred to chi-squared(q).
    #[test]
    fn full_rank_statistic_is_the_wald_statistic() {
        let (g, v, b) = (spd(5, 8, 0.2, 3), spd(5, 6, 0.05, 4), vector(5, 5));
        let want = b.dot(&sym_fn(&v, |x| 1.0 / x).dot(&b));
        let t = wald(&b, &g, &v, 5.0);
        assert!(close(t.stat, want, 1e-10) && t.stat1 == t.stat, "{} vs {want}", t.stat);
        assert_eq!((t.rank, t.rank1, t.weights.len()), (5.0, 5.0, 0));
    }

    /// At integer rank r < q: the rank-r pseudo-inverse in the metric of `G`, and
    /// exactly chi-squared(r) when `b ~ N(0, V)`.
    #[test]
    fn integer_rank_statistic_is_the_truncated_one() {
        let (g, v, b) = (spd(5, 8, 0.2, 6), spd(5, 6, 0.05, 7), vector(5, 8));
        let t = wald(&b, &g, &v, 3.0);
        assert!(same_pair(&t, definition(&b, &g, &v, 3, 0.0), 1e-9), "{} {}", t.stat, t.stat1);
        assert!(t.weights.is_empty() && t.rank == 3.0 && t.rank1 == 3.0);
        let mixture = null_mixture(&form_matrix(5, |b| wald(b, &g, &v, 3.0).stat), &v);
        for (got, want) in mixture.iter().zip([1.0, 1.0, 1.0, 0.0, 0.0]) {
            assert!((got - want).abs() < 1e-9, "{mixture:?}");
        }
    }

    /// At rank k + nu: the smoothed pseudo-inverses of Wood (2013a) §3, whose
    /// statistics follow exactly the two-term mixture reported as `weights` (mean and
    /// variance those of chi-squared(k + nu)); continuous in the rank at both ends.
    #[test]
    fn fractional_rank_smooths_between_the_neighbouring_ranks() {
        let (g, v, b) = (spd(5, 8, 0.2, 9), spd(5, 6, 0.05, 10), vector(5, 11));
        let t = wald(&b, &g, &v, 2.3);
        assert!(same_pair(&t, definition(&b, &g, &v, 2, 0.3), 1e-9), "{} {}", t.stat, t.stat1);
        assert!(t.stat != t.stat1);
        assert_eq!((t.rank, t.rank1, t.weights.len()), (2.3, 2.3, 3));
        let sum: f64 = t.weights.iter().sum();
        let squares: f64 = t.weights.iter().map(|w| w * w).sum();
        assert!(close(sum, 2.3, 1e-14) && close(squares, 2.3, 1e-14), "{:?}", t.weights);
        let mut want = t.weights.clone();
        want.sort_by(|a, b| b.total_cmp(a));
        want.extend([0.0, 0.0]);
        for second in [false, true] {
            let m = form_matrix(5, |b| {
                let t = wald(b, &g, &v, 2.3);
                if second {
                    t.stat1
                } else {
                    t.stat
                }
            });
            let mixture = null_mixture(&m, &v);
            for (got, want) in mixture.iter().zip(&want) {
                assert!((got - want).abs() < 1e-9, "{mixture:?} vs {want:?}");
            }
        }
        // Continuity: near 2 the rank-2 statistic, near 3 the rank-3 one.
        let (two, three) = (wald(&b, &g, &v, 2.0).stat, wald(&b, &g, &v, 3.0).stat);
        for (rank, want) in [(2.0 + 1e-10, two), (3.0 - 1e-10, three)] {
            let t = wald(&b, &g, &v, rank);
            assert!(close(t.stat, want, 1e-4) && close(t.stat1, want, 1e-4), "{rank}: {} vs {want}", t.stat);
        }
    }

    /// Below rank 1, and at rank 0, the statistic is the rank-1 one (mgcv's
    /// `vec[, 1:k1]` keeps the first eigenvector when `k1` is 0); below 1 it is
    /// referred to chi-squared(1).
    #[test]
    fn rank_below_one_uses_the_leading_direction() {
        let (g, v, b) = (spd(4, 6, 0.2, 12), spd(4, 5, 0.05, 13), vector(4, 14));
        let (want, _) = definition(&b, &g, &v, 1, 0.0);
        let t = wald(&b, &g, &v, 0.6);
        assert!(close(t.stat, want, 1e-10) && t.stat1 == t.stat);
        assert_eq!((t.rank, t.rank1, t.weights.clone()), (0.6, 1.0, vec![1.0]));
        let t = wald(&b, &g, &v, 0.0);
        assert!(close(t.stat, want, 1e-10) && t.stat1 == t.stat);
        assert_eq!((t.rank, t.rank1, t.weights.len()), (0.0, 0.0, 0));
    }

    /// A rank beyond the numerical rank of `V` falls to that rank, as an integer.
    #[test]
    fn rank_is_truncated_to_that_of_the_covariance() {
        let (g, v, b) = (spd(5, 8, 0.2, 15), spd(5, 2, 0.0, 16), vector(5, 17));
        let t = wald(&b, &g, &v, 3.6);
        assert_eq!((t.rank, t.rank1, t.weights.len()), (2.0, 2.0, 0));
        assert!(same_pair(&t, definition(&b, &g, &v, 2, 0.0), 1e-8), "{} {}", t.stat, t.stat1);
        // Within the rank nothing is truncated.
        let t = wald(&b, &g, &v, 1.5);
        assert_eq!((t.rank, t.weights.len()), (1.5, 2));
        assert!(same_pair(&t, definition(&b, &g, &v, 1, 0.5), 1e-8));
    }

    /// Zero coefficients give 0 (p-value 1); the statistic grows as `c^2` with the
    /// coefficients, falls as `1/s` with the covariance, and does not depend on the
    /// scale of `G` (nor do the rank and weights).
    #[test]
    fn statistic_is_a_quadratic_form_in_the_coefficients() {
        let (g, v, b) = (spd(5, 8, 0.2, 18), spd(5, 6, 0.05, 19), vector(5, 20));
        for rank in [2.3, 4.0] {
            let base = wald(&b, &g, &v, rank);
            let zero = wald(&Array1::zeros(5), &g, &v, rank);
            assert_eq!((zero.stat, zero.stat1), (0.0, 0.0));
            let big = wald(&(&b * 30.0), &g, &v, rank);
            assert!(close(big.stat, 900.0 * base.stat, 1e-12) && close(big.stat1, 900.0 * base.stat1, 1e-12));
            let wide = wald(&b, &g, &(&v * 7.0), rank);
            assert!(close(wide.stat, base.stat / 7.0, 1e-12) && close(wide.stat1, base.stat1 / 7.0, 1e-12));
            let scaled = wald(&b, &(&g * 1e3), &v, rank);
            assert!(close(scaled.stat, base.stat, 1e-10) && close(scaled.stat1, base.stat1, 1e-10));
            assert_eq!((scaled.rank, scaled.rank1), (base.rank, base.rank1));
            assert!(scaled.weights.iter().zip(&base.weights).all(|(a, b)| close(*a, *b, 1e-14)));
        }
    }

    #[test]
    fn factorization_failures_give_nan_statistics() {
        let (v, b) = (spd(4, 6, 0.05, 21), vector(4, 22));
        let t = wald(&b, &spd(4, 2, 0.0, 23), &v, 2.5);
        assert!(t.stat.is_nan() && t.stat1.is_nan() && t.rank == 2.5 && t.rank1 == 2.5 && t.weights.is_empty());
        let TermTest::RandomEffect { stat, weights, rank } = random_effect_test(&b, &spd(4, 2, 0.0, 24), &v) else {
            panic!("not a random-effect test")
        };
        assert!(stat.is_nan() && rank.is_nan() && weights.is_empty());
    }

    /// `T = b' Vp^-1 b`, and the weights (decreasing) the eigenvalues of
    /// `Vp^-1/2 Ve Vp^-1/2`: the mixture `T` follows when `b ~ N(0, Ve)`. The rank
    /// counts the weights above `eps^0.8` of the largest.
    #[test]
    fn random_effect_test_matches_its_definition() {
        let (vp, b) = (spd(4, 6, 0.1, 25), vector(4, 26));
        let vp_inv = sym_fn(&vp, |x| 1.0 / x);
        let root_inv = sym_fn(&vp, |x| 1.0 / x.sqrt());
        // A `Ve` whose mixture weights are 1, 0.5, 1e-6 and 0: the small one counts.
        let (_, u) = jacobi(&spd(4, 4, 0.0, 33));
        let root = sym_fn(&vp, f64::sqrt);
        let small = Array2::from_shape_fn((4, 4), |(i, j)| {
            [1.0, 0.5, 1e-6, 0.0].iter().enumerate().map(|(k, w)| u[(i, k)] * w * u[(j, k)]).sum::<f64>()
        });
        let small = root.dot(&small).dot(&root);
        let cases = [(spd(4, 5, 0.02, 27), 4.0), (vp.clone(), 4.0), (spd(4, 2, 0.0, 28), 2.0), (small, 3.0)];
        for (ve, want_rank) in cases {
            let TermTest::RandomEffect { stat, weights, rank } = random_effect_test(&b, &vp, &ve) else {
                panic!("not a random-effect test")
            };
            assert!(close(stat, b.dot(&vp_inv.dot(&b)), 1e-12), "{stat}");
            let want = jacobi(&root_inv.dot(&ve).dot(&root_inv)).0;
            for (got, want) in weights.iter().zip(&want) {
                assert!((got - want).abs() < 1e-12 * want.abs().max(1.0), "{weights:?} vs {want:?}");
                assert!(*got >= 0.0);
            }
            assert_eq!(rank, want_rank, "{weights:?}");
            let zero = random_effect_test(&Array1::zeros(4), &vp, &ve);
            assert!(matches!(zero, TermTest::RandomEffect { stat, .. } if stat == 0.0));
        }
    }

    /// A positive definite `A = X'WX`, penalties on two random effects (1..3, 3..5)
    /// and on a smooth (5..7), and `Vp = scale (A + S)^-1`.
    fn marginal_case(a: &Array2<f64>) -> (PenaltySet, Vec<f64>, f64, Array2<f64>) {
        let smooth = Array2::from_shape_vec((2, 2), vec![1.0, -1.0, -1.0, 1.0]).unwrap();
        let penalties = PenaltySet::new(
            7,
            vec![
                Penalty { start: 1, s: Array2::eye(2) },
                Penalty { start: 3, s: Array2::eye(2) },
                Penalty { start: 5, s: smooth },
            ],
        );
        let (lambda, scale) = (vec![2.0, 0.5, 3.0], 1.3);
        let mut h = a.clone();
        penalties.add_to(&mut h, &lambda);
        let vp = sym_fn(&h, |x| scale / x);
        (penalties, lambda, scale, vp)
    }

    /// `marginal_covariances` against its formula, with `S_2^-` the inverse of the
    /// other random effect's ridge; and when the other random effect is orthogonal
    /// to everything else, integrating it out changes nothing.
    #[test]
    fn marginal_covariances_integrate_out_the_other_random_effects() {
        let a = spd(7, 9, 0.3, 29);
        let (penalties, lambda, scale, vp) = marginal_case(&a);
        let pen = Penalized { penalties: &penalties, lambda: &lambda, scale };
        let (v, e) = marginal_covariances(&a, &pen, &vp, 1..3, std::slice::from_ref(&(3..5))).unwrap();
        let (idx1, idx2) = ([0, 1, 2, 5, 6], [3, 4]);
        let a_2 = a.select(Axis(1), &idx2);
        let a_m = &a + &(a_2.dot(&a_2.t()) / lambda[1]);
        let vp_m = vp.slice(s![1..3, ..]);
        let want_e = vp_m.dot(&a_m).dot(&vp_m.t()) / scale;
        let mut q = a_m.clone();
        PenaltySet::new(7, vec![penalties.penalties[0].clone(), penalties.penalties[2].clone()])
            .add_to(&mut q, &[lambda[0], lambda[2]]);
        let q = q.select(Axis(0), &idx1).select(Axis(1), &idx1);
        let want_v = sym_fn(&q, |x| scale / x).slice(s![1..3, 1..3]).to_owned();
        assert!(max_abs(&(&v - &want_v)) < 1e-12 * max_abs(&want_v));
        assert!(max_abs(&(&e - &want_e)) < 1e-12 * max_abs(&want_e));
        assert!(max_abs(&(&v - &vp.slice(s![1..3, 1..3]))) > 1e-3, "the case is not degenerate");

        let mut orthogonal = a.clone();
        for i in 0..7 {
            for j in 3..5 {
                if !(3..5).contains(&i) {
                    (orthogonal[(i, j)], orthogonal[(j, i)]) = (0.0, 0.0);
                }
            }
        }
        let (penalties, lambda, scale, vp) = marginal_case(&orthogonal);
        let pen = Penalized { penalties: &penalties, lambda: &lambda, scale };
        let (v, e) = marginal_covariances(&orthogonal, &pen, &vp, 1..3, std::slice::from_ref(&(3..5))).unwrap();
        let vp_m = vp.slice(s![1..3, ..]);
        let plain_e = vp_m.dot(&orthogonal).dot(&vp_m.t()) / scale;
        assert!(max_abs(&(&v - &vp.slice(s![1..3, 1..3]))) < 1e-12);
        assert!(max_abs(&(&e - &plain_e)) < 1e-12);
    }

    /// Each term gets its test: the Wald test for a term with a null space (rank its
    /// summed `edf1`, at most its coefficients), the random-effect test for a fully
    /// penalized term, and for a random effect beside another one the random-effect
    /// test with the other integrated out.
    #[test]
    fn each_term_gets_its_test() {
        let n = 80;
        let mut next = uniform_stream(30);
        let x: Vec<f64> = (0..n).map(|_| next()).collect();
        let g: Vec<f64> = (0..n).map(|i| (1 + i % 4) as f64).collect();
        let h: Vec<f64> = (0..n).map(|i| (1 + (i * 7) % 3) as f64).collect();
        let smooths = vec![
            SmoothSpec::for_tests("s(x)", "cr", 6, vec![x.clone()]),
            SmoothSpec::for_tests("s(x)", "cc", 6, vec![x.clone()]),
            SmoothSpec { select: true, ..SmoothSpec::for_tests("s(x)", "cr", 6, vec![x.clone()]) },
            SmoothSpec { centre: false, ..SmoothSpec::for_tests("s(g)", "re", 4, vec![g]) },
            SmoothSpec { centre: false, ..SmoothSpec::for_tests("s(h)", "re", 3, vec![h]) },
        ];
        let spec = ModelSpec::for_tests(vec![0.0; n], Array2::from_elem((n, 1), 1.0), smooths);
        let d = design(&spec).unwrap();
        let nulls: Vec<usize> = d.smooths.iter().map(|sm| sm.null_space_dim).collect();
        assert_eq!(nulls, [1, 0, 0, 0, 0]);
        let p = d.ncols();
        let penalties = penalty_set(&d);
        let lambda: Vec<f64> = (0..penalties.penalties.len()).map(|j| 0.5 + j as f64).collect();
        let (a, scale) = (spd(p, p + 3, 0.2, 31), 0.8);
        let mut h = a.clone();
        penalties.add_to(&mut h, &lambda);
        let vp = sym_fn(&h, |x| scale / x);
        let ve = vp.dot(&a).dot(&vp) / scale;
        let beta = vector(p, 32).to_vec();
        let pen = Penalized { penalties: &penalties, lambda: &lambda, scale };
        let range = |j: usize| d.first_col[j]..d.first_col[j] + d.smooths[j].ncoef();
        let block = |m: &Array2<f64>, j: usize| m.slice(s![range(j), range(j)]).to_owned();
        let coef = |j: usize| Array1::from(beta[range(j)].to_vec());
        let show = |t: &TermTest| format!("{t:?}");
        for edf in [0.7, 3.0] {
            let edf1 = vec![edf; p];
            let tests = smooth_tests(&d, &a, &pen, &beta, &vp, &ve, &edf1);
            let rank = edf1[range(0)].iter().sum::<f64>().min(d.smooths[0].ncoef() as f64);
            assert_eq!(rank > 4.9, edf > 1.0, "the second case is capped at the term's coefficients");
            assert_eq!(show(&tests[0]), show(&wald_test(&coef(0), &block(&a, 0), &block(&vp, 0), rank)));
            for j in [1, 2] {
                assert_eq!(show(&tests[j]), show(&random_effect_test(&coef(j), &block(&vp, j), &block(&ve, j))));
            }
            for (j, other) in [(3, 4), (4, 3)] {
                let (v, e) = marginal_covariances(&a, &pen, &vp, range(j), &[range(other)]).unwrap();
                assert_eq!(show(&tests[j]), show(&random_effect_test(&coef(j), &v, &e)));
                assert_ne!(show(&tests[j]), show(&random_effect_test(&coef(j), &block(&vp, j), &block(&ve, j))));
            }
        }
    }
}
