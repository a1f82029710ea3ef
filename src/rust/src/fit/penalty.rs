//! The penalty `S_lambda = sum_j lambda_j S_j` and its generalized log determinant.
//!
//! Each `S_j` acts on one contiguous block of coefficients (a smooth term's columns).
//! Penalties on the same block form a group; groups on different blocks are
//! independent, so `log|S_lambda|_+` is the sum of the groups' log determinants, each
//! taken on the group's fixed range space (Wood 2011 §3.1 and Appendix B: the range
//! space does not depend on lambda while every lambda is positive).

use ndarray::{Array1, Array2};

use crate::linalg::{sym_eigen, SpdFactor};

/// One penalty matrix on coefficients `start..start + s.nrows()`.
#[derive(Debug, Clone)]
pub struct Penalty {
    pub start: usize,
    pub s: Array2<f64>,
}

impl Penalty {
    pub fn len(&self) -> usize {
        self.s.nrows()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Penalties on a shared block, projected on the block's range space.
#[derive(Debug, Clone)]
struct Group {
    /// Indices into `PenaltySet::penalties`.
    members: Vec<usize>,
    /// `log|U' S_j U|` of a group with a single member `j`, whose
    /// `log|lambda_j U' S_j U| = rank rho_j + log|U' S_j U|` needs no factorization.
    single_log_det: Option<f64>,
    /// `U' S_j U` for each member, `U` an orthonormal basis of the range space.
    reduced: Vec<Array2<f64>>,
    /// `U`, block rows only.
    u: Array2<f64>,
    start: usize,
    rank: usize,
}

#[derive(Debug, Clone)]
pub struct PenaltySet {
    pub p: usize,
    pub penalties: Vec<Penalty>,
    /// Coefficients fixed at zero (aliased parametric columns, left out of `p`) that
    /// the criterion still counts as unpenalized, as mgcv's does (`M_p`).
    pub aliased: usize,
    /// mgcv's `min.sp`: a fixed amount of each penalty, so that `S_lambda` is
    /// `sum_j (lambda_j + floor_j) S_j` (mgcv adds it as its fixed penalty `H`). Only
    /// `lambda_j` moves with `rho_j`, so derivatives in `rho` see `lambda_j S_j` alone.
    floor: Vec<f64>,
    groups: Vec<Group>,
    /// Each penalty's diagonal when it is a diagonal matrix (a random effect's
    /// ridge), found once: products with it are then column scalings.
    diagonals: Vec<Option<Array1<f64>>>,
}

/// Diagonal blocks narrower than this are left to the dense factorization.
const MIN_DIAGONAL_BLOCK: usize = 32;

/// `log|S_lambda|_+` with its gradient and Hessian in `rho = log(lambda)`.
pub struct LogDet {
    pub value: f64,
    pub grad: Array1<f64>,
    pub hess: Array2<f64>,
}

impl PenaltySet {
    pub fn new(p: usize, penalties: Vec<Penalty>) -> PenaltySet {
        let mut groups: Vec<Group> = Vec::new();
        let mut block_of: Vec<(usize, usize)> = Vec::new();
        for (j, pen) in penalties.iter().enumerate() {
            let block = (pen.start, pen.len());
            match block_of.iter().position(|b| *b == block) {
                Some(g) => groups[g].members.push(j),
                None => {
                    block_of.push(block);
                    groups.push(Group {
                        members: vec![j],
                        single_log_det: None,
                        reduced: Vec::new(),
                        u: Array2::zeros((0, 0)),
                        start: pen.start,
                        rank: 0,
                    });
                }
            }
        }
        let diagonals: Vec<Option<Array1<f64>>> = penalties.iter().map(|pen| diagonal(&pen.s)).collect();
        // Each group's share of the norm-balanced total penalty (every member over
        // its Frobenius norm): eigenvalues, and eigenvectors unless the group is a
        // lone diagonal penalty (a random effect's ridge), whose range space is the
        // coordinates with a non-zero diagonal, with no eigen-decomposition (which
        // costs k^3 for k levels). The range space of a sum of positive
        // semi-definite matrices is the union of their ranges.
        let frobenius = |s: &Array2<f64>| s.iter().map(|v| v * v).sum::<f64>().sqrt().max(f64::MIN_POSITIVE);
        let spectra: Vec<(Array1<f64>, Option<Array2<f64>>)> = groups
            .iter()
            .map(|g| {
                let len = penalties[g.members[0]].len();
                if let (Some(d), 1) = (&diagonals[g.members[0]], g.members.len()) {
                    let norm = d.iter().map(|v| v * v).sum::<f64>().sqrt().max(f64::MIN_POSITIVE);
                    return (d / norm, None);
                }
                let mut total = Array2::<f64>::zeros((len, len));
                for &j in &g.members {
                    let s = &penalties[j].s;
                    total.scaled_add(1.0 / frobenius(s), s);
                }
                let (values, vectors) = sym_eigen(total.view());
                (Array1::from(values), Some(vectors))
            })
            .collect();
        let top = spectra.iter().flat_map(|(v, _)| v.iter()).fold(0.0_f64, |m, v| m.max(*v));
        // Eigenvalues of the norm-balanced total penalty below this count as zero
        // (mgcv's `totalPenaltySpace`, the largest taken over every penalty of the
        // model): a coarser cut drops a `log(lambda)` from the criterion.
        let cutoff = top * crate::linalg::rank_tolerance();
        for (g, (values, vectors)) in groups.iter_mut().zip(spectra) {
            let len = values.len();
            let keep: Vec<usize> = (0..len).filter(|&i| values[i] > cutoff).collect();
            let Some(vectors) = vectors else {
                let d = diagonals[g.members[0]].as_ref().expect("a diagonal penalty");
                g.u = Array2::from_shape_fn((len, keep.len()), |(i, c)| if i == keep[c] { 1.0 } else { 0.0 });
                g.rank = keep.len();
                g.reduced = vec![Array2::from_diag(&Array1::from_iter(keep.iter().map(|&i| d[i])))];
                g.single_log_det = Some(keep.iter().map(|&i| d[i].ln()).sum());
                continue;
            };
            let u = Array2::from_shape_fn((len, keep.len()), |(i, c)| vectors[(i, keep[c])]);
            g.rank = keep.len();
            g.reduced = g.members.iter().map(|&j| u.t().dot(&penalties[j].s).dot(&u)).collect();
            g.u = u;
            if let [only] = g.reduced.as_slice() {
                g.single_log_det = SpdFactor::new(only.view()).map(|f| f.log_det());
            }
        }
        let floor = vec![0.0; penalties.len()];
        PenaltySet { p, penalties, aliased: 0, floor, groups, diagonals }
    }

    /// Sets each penalty's fixed amount (`min.sp`, one per penalty, non-negative).
    pub fn set_floor(&mut self, floor: Vec<f64>) {
        debug_assert_eq!(floor.len(), self.len());
        self.floor = floor;
    }

    /// The multipliers of the penalties in `S_lambda`: `lambda_j + floor_j`.
    pub fn totals(&self, lambda: &[f64]) -> Vec<f64> {
        lambda.iter().zip(&self.floor).map(|(l, f)| l + f).collect()
    }

    pub fn len(&self) -> usize {
        self.penalties.len()
    }

    pub fn is_empty(&self) -> bool {
        self.penalties.is_empty()
    }

    /// Total rank of `S_lambda` for positive lambda.
    pub fn rank(&self) -> usize {
        self.groups.iter().map(|g| g.rank).sum()
    }

    /// Rank of the penalties' null space among all `p` coefficients (`M_p`).
    pub fn null_space_dim(&self) -> usize {
        self.p - self.rank() + self.aliased
    }

    /// The penalties' range space: `U_r` (p x rank, block diagonal and orthonormal) and
    /// the penalties expressed on it, `U_r' S_j U_r`, in the original order.
    pub fn range_space(&self) -> (Array2<f64>, PenaltySet) {
        let r = self.rank();
        let mut u_r = Array2::<f64>::zeros((self.p, r));
        let mut reduced: Vec<Option<Penalty>> = vec![None; self.len()];
        let mut at = 0;
        for g in &self.groups {
            u_r.slice_mut(ndarray::s![g.start..g.start + g.u.nrows(), at..at + g.rank]).assign(&g.u);
            for (s, &j) in g.reduced.iter().zip(&g.members) {
                reduced[j] = Some(Penalty { start: at, s: s.clone() });
            }
            at += g.rank;
        }
        let pens = reduced.into_iter().map(|p| p.expect("every penalty is in a group")).collect();
        let mut set = PenaltySet::new(r, pens);
        set.floor = self.floor.clone();
        (u_r, set)
    }

    /// The widest penalized block of `h` (`X'WX + S`) that is a diagonal matrix (a
    /// random effect's levels), when one has at least `MIN_DIAGONAL_BLOCK`
    /// coefficients: `linalg::SpdSystem` eliminates it.
    pub fn diagonal_block(&self, h: &Array2<f64>) -> Option<std::ops::Range<usize>> {
        self.penalties
            .iter()
            .map(|pen| pen.start..pen.start + pen.len())
            .filter(|r| r.len() >= MIN_DIAGONAL_BLOCK)
            .filter(|r| r.clone().all(|i| r.clone().all(|j| i == j || h[(i, j)] == 0.0)))
            .max_by_key(|r| r.len())
    }

    /// Adds `S_lambda = sum_j (lambda_j + floor_j) S_j` to `a`.
    pub fn add_to(&self, a: &mut Array2<f64>, lambda: &[f64]) {
        self.add_each(a, &self.totals(lambda));
    }

    /// Adds `sum_j c_j S_j` to `a` (a derivative of `S_lambda` when `c` holds the
    /// moving `lambda`s).
    pub fn add_each(&self, a: &mut Array2<f64>, c: &[f64]) {
        for (pen, &l) in self.penalties.iter().zip(c) {
            let k = pen.len();
            let mut block = a.slice_mut(ndarray::s![pen.start..pen.start + k, pen.start..pen.start + k]);
            block.scaled_add(l, &pen.s);
        }
    }

    /// `log|S_lambda|_+` and its derivatives in `rho`.
    pub fn log_det(&self, rho: &[f64]) -> LogDet {
        let m = self.len();
        let mut out = LogDet { value: 0.0, grad: Array1::zeros(m), hess: Array2::zeros((m, m)) };
        for g in &self.groups {
            if g.rank == 0 {
                continue;
            }
            if let (Some(log_det), [j]) = (g.single_log_det, g.members.as_slice()) {
                // log|(lambda + f) S| = rank log(lambda + f) + log|S|: with f = 0,
                // tr(M^-1 lambda_j S_j) = rank and the Hessian's two terms cancel.
                let (lambda, f) = (rho[*j].exp(), self.floor[*j]);
                let share = lambda / (lambda + f);
                let rank = g.rank as f64;
                out.value += rank * if f > 0.0 { (lambda + f).ln() } else { rho[*j] } + log_det;
                out.grad[*j] += rank * share;
                out.hess[(*j, *j)] += rank * share * (1.0 - share);
                continue;
            }
            let mut total = Array2::<f64>::zeros((g.rank, g.rank));
            for (s, &j) in g.reduced.iter().zip(&g.members) {
                total.scaled_add(rho[j].exp() + self.floor[j], s);
            }
            let Some(f) = SpdFactor::new(total.view()) else {
                // Singular to working precision: only possible with wildly unbalanced
                // lambdas; the eigenvalue route is exact there.
                let (values, _) = sym_eigen(total.view());
                out.value += values.iter().map(|v| v.max(f64::MIN_POSITIVE).ln()).sum::<f64>();
                continue;
            };
            out.value += f.log_det();
            // d/d rho_j = tr(M^-1 lambda_j S_j); the Hessian adds
            // -lambda_j lambda_k tr(M^-1 S_j M^-1 S_k) (Wood 2011 Appendix B).
            let scaled: Vec<Array2<f64>> =
                g.reduced.iter().zip(&g.members).map(|(s, &j)| f.solve(s.view()) * rho[j].exp()).collect();
            for (a, &ja) in g.members.iter().enumerate() {
                let ta = trace(&scaled[a]);
                out.grad[ja] += ta;
                out.hess[(ja, ja)] += ta;
                for (b, &jb) in g.members.iter().enumerate() {
                    out.hess[(ja, jb)] -= trace_of_product(&scaled[a], &scaled[b]);
                }
            }
        }
        out
    }
}

/// `M[:, B_j] S_j` for each penalty: the non-zero columns of `M S_j` (with `S_j`
/// embedded in p x p), from which the traces below are taken.
pub fn penalty_columns(m: &Array2<f64>, penalties: &PenaltySet) -> Vec<Array2<f64>> {
    penalties
        .penalties
        .iter()
        .zip(&penalties.diagonals)
        .map(|(pen, diagonal)| {
            let cols = m.slice(ndarray::s![.., pen.start..pen.start + pen.len()]);
            // A diagonal penalty (a random effect's identity) scales the columns: the
            // product would cost p k^2 for a k-level factor.
            match diagonal {
                Some(d) => &cols * d,
                None => cols.dot(&pen.s),
            }
        })
        .collect()
}

/// The diagonal of `s` when every other entry is zero.
fn diagonal(s: &Array2<f64>) -> Option<Array1<f64>> {
    let off_diagonal_zero = s.indexed_iter().all(|((i, j), v)| i == j || *v == 0.0);
    off_diagonal_zero.then(|| s.diag().to_owned())
}

/// `tr(A M S_j)` from `P = M[:, B_j] S_j`, the block starting at `start`.
pub fn trace_with_columns(start: usize, p_cols: &Array2<f64>, a: &Array2<f64>) -> f64 {
    let mut t = 0.0;
    for c in 0..p_cols.ncols() {
        for r in 0..p_cols.nrows() {
            t += a[(start + c, r)] * p_cols[(r, c)];
        }
    }
    t
}

/// `tr(M S_j M S_k)` from `P_j = M[:, B_j] S_j` and `P_k = M[:, B_k] S_k`.
pub fn trace_of_columns(start_j: usize, pj: &Array2<f64>, start_k: usize, pk: &Array2<f64>) -> f64 {
    let mut t = 0.0;
    for c in 0..pj.ncols() {
        for r in 0..pk.ncols() {
            t += pj[(start_k + r, c)] * pk[(start_j + c, r)];
        }
    }
    t
}

pub fn trace(a: &Array2<f64>) -> f64 {
    a.diag().sum()
}

/// `tr(A B)` without forming the product.
pub fn trace_of_product(a: &Array2<f64>, b: &Array2<f64>) -> f64 {
    let mut t = 0.0;
    for i in 0..a.nrows() {
        for j in 0..a.ncols() {
            t += a[(i, j)] * b[(j, i)];
        }
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    fn second_difference(k: usize) -> Array2<f64> {
        let mut d = Array2::<f64>::zeros((k - 2, k));
        for i in 0..k - 2 {
            d[(i, i)] = 1.0;
            d[(i, i + 1)] = -2.0;
            d[(i, i + 2)] = 1.0;
        }
        d.t().dot(&d)
    }

    #[test]
    fn single_penalty_log_det_is_rank_times_rho_plus_constant() {
        let s = second_difference(6);
        let set = PenaltySet::new(8, vec![Penalty { start: 2, s }]);
        assert_eq!(set.rank(), 4);
        assert_eq!(set.null_space_dim(), 4);
        let a = set.log_det(&[0.0]);
        let b = set.log_det(&[1.5]);
        assert!((b.value - a.value - 4.0 * 1.5).abs() < 1e-10);
        assert!((a.grad[0] - 4.0).abs() < 1e-10);
        assert!(a.hess[(0, 0)].abs() < 1e-10);
    }

    #[test]
    fn two_penalty_group_derivatives_match_finite_differences() {
        let s1 = second_difference(5);
        let s2 = array![
            [1.0, 0.0, 0.0, 0.0, 0.0],
            [0.0, 1.0, 0.0, 0.0, 0.0],
            [0.0, 0.0, 0.0, 0.0, 0.0],
            [0.0, 0.0, 0.0, 0.0, 0.0],
            [0.0, 0.0, 0.0, 0.0, 0.0]
        ];
        let set = PenaltySet::new(5, vec![Penalty { start: 0, s: s1 }, Penalty { start: 0, s: s2 }]);
        assert_eq!(set.rank(), 5);
        check_log_det_derivatives(&set, [0.3, -0.7]);
    }

    #[test]
    fn floored_penalties_match_finite_differences_and_their_definition() {
        // A group of two and a lone penalty, each with a fixed amount (mgcv's min.sp).
        let s1 = second_difference(5);
        let s2 = Array2::from_diag(&array![1.0, 1.0, 0.0, 0.0, 0.0]);
        let s3 = second_difference(4);
        let pens = vec![Penalty { start: 0, s: s1 }, Penalty { start: 0, s: s2 }, Penalty { start: 5, s: s3 }];
        let mut set = PenaltySet::new(9, pens);
        set.set_floor(vec![0.4, 0.0, 2.5]);
        let rho = [0.3, -0.7, -1.2];
        check_log_det_derivatives(&set, rho);
        // The value is log|sum (lambda_j + floor_j) S_j|_+ on each block's range.
        let lambda = rho.map(f64::exp);
        let mut a = Array2::<f64>::zeros((9, 9));
        set.add_to(&mut a, &lambda);
        let (values, _) = sym_eigen(a.view());
        let direct: f64 = values.iter().filter(|v| **v > 1e-9).map(|v| v.ln()).sum();
        assert!((set.log_det(&rho).value - direct).abs() < 1e-9);
    }

    fn check_log_det_derivatives<const M: usize>(set: &PenaltySet, rho: [f64; M]) {
        let h = 1e-5;
        let at = set.log_det(&rho);
        for j in 0..M {
            let mut up = rho;
            let mut dn = rho;
            up[j] += h;
            dn[j] -= h;
            let (u, d) = (set.log_det(&up), set.log_det(&dn));
            let g = (u.value - d.value) / (2.0 * h);
            assert!((g - at.grad[j]).abs() < 1e-7, "grad {j}: {g} vs {}", at.grad[j]);
            for k in 0..M {
                let hk = (u.grad[k] - d.grad[k]) / (2.0 * h);
                assert!((hk - at.hess[(j, k)]).abs() < 1e-6);
            }
        }
    }
}
