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

fn wald_test(b: &Array1<f64>, g: &Array2<f64>, v: &Array2<f64>, rank_in: f64) -> TermTest {
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

fn random_effect_test(b: &Array1<f64>, vp: &Array2<f64>, ve: &Array2<f64>) -> TermTest {
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
