//! The parameters the outer optimizer searches (Wood 2011 §2): log smoothing
//! parameters, each shared by the penalties linked to it, free or fixed, then the
//! family's extra parameters; the criterion as a function of the free ones
//! (`FreeObjective`), and mgcv's initial smoothing parameters.

use ndarray::{Array1, Array2};

use crate::error::Result;

use super::gaussian::{self, Gram};
use super::glm::GlmObjective;
use super::outer::{Eval, Objective};
use super::penalty::PenaltySet;
use super::spec::Method;

/// The criterion of one model as a function of the per-penalty log smoothing
/// parameters and the family's extra parameters.
// One per fit, made once: the size of the Gaussian variant does not matter.
#[allow(clippy::large_enum_variant)]
pub(super) enum Criterion<'a, 'd> {
    Gaussian { gram: &'a Gram, penalties: &'a PenaltySet, method: Method, gamma: f64 },
    Glm(GlmObjective<'a, 'd>),
}

/// The criterion as a function of the free parameters: the log smoothing parameters
/// (each shared by the penalties linked to it), then the family's extra parameters.
pub(super) struct FreeObjective<'a, 'd> {
    pub(super) criterion: Criterion<'a, 'd>,
    /// Full parameter vector; `None` entries are free, in order.
    pub(super) fixed: &'a [Option<f64>],
    /// The smoothing parameter of each penalty.
    pub(super) links: &'a [usize],
    /// Number of smoothing parameters (the rest of `fixed` are extra parameters).
    pub(super) n_sp: usize,
}

impl FreeObjective<'_, '_> {
    pub(super) fn full_rho(&self, free: &[f64]) -> Vec<f64> {
        full_rho(self.fixed, free)
    }

    pub(super) fn free_index(&self) -> Vec<usize> {
        (0..self.fixed.len()).filter(|&j| self.fixed[j].is_none()).collect()
    }
}

impl Objective for FreeObjective<'_, '_> {
    fn evaluation_is_cheap(&self) -> bool {
        match &self.criterion {
            // From X'WX alone: no pass over the rows.
            Criterion::Gaussian { .. } => true,
            Criterion::Glm(g) => g.data.y.len() < POLISH_BELOW_ROWS,
        }
    }

    fn coefficient_change(&self, rho: &[f64], dir: &[f64]) -> Option<f64> {
        let Criterion::Glm(g) = &self.criterion else { return None };
        let full = self.full_rho(rho);
        // The step in each free parameter moves every penalty linked to it.
        let mut step = vec![0.0; full.len()];
        for (&j, d) in self.free_index().iter().zip(dir) {
            step[j] = *d;
        }
        g.coefficient_change(&penalty_rho(self.links, &full[..self.n_sp]), &penalty_rho(self.links, &step[..self.n_sp]))
    }

    fn evaluate(&mut self, rho: &[f64], derivatives: bool) -> Result<Eval> {
        let full = self.full_rho(rho);
        let per_penalty = penalty_rho(self.links, &full[..self.n_sp]);
        let extra = &full[self.n_sp..];
        let e = match &mut self.criterion {
            Criterion::Gaussian { gram, penalties, method, gamma } => {
                gaussian::evaluate(gram, penalties, *method, *gamma, &per_penalty)?.0
            }
            Criterion::Glm(g) => g.evaluate(&per_penalty, extra.first().copied().unwrap_or(0.0), derivatives)?,
        };
        if e.grad.is_empty() {
            return Ok(Eval { grad: Array1::zeros(0), hess: Array2::zeros((0, 0)), ..e });
        }
        // A shared parameter moves all its penalties: derivatives add up (chain rule).
        // Each penalty's index in `e` maps to its parameter; extra parameters follow.
        let m = full.len();
        let np = per_penalty.len();
        let to_param = |i: usize| if i < np { self.links[i] } else { self.n_sp + (i - np) };
        let mut grad = Array1::<f64>::zeros(m);
        let mut hess = Array2::<f64>::zeros((m, m));
        for i in 0..e.grad.len() {
            grad[to_param(i)] += e.grad[i];
            for j in 0..e.grad.len() {
                hess[(to_param(i), to_param(j))] += e.hess[(i, j)];
            }
        }
        let idx = self.free_index();
        Ok(Eval {
            value: e.value,
            grad: Array1::from_iter(idx.iter().map(|&j| grad[j])),
            hess: Array2::from_shape_fn((idx.len(), idx.len()), |(a, b)| hess[(idx[a], idx[b])]),
            coefficients: e.coefficients,
        })
    }
}

/// Each penalty's log smoothing parameter from the parameters it is linked to.
pub(super) fn penalty_rho(links: &[usize], params: &[f64]) -> Vec<f64> {
    links.iter().map(|&l| params[l]).collect()
}

/// Initial smoothing parameters, as mgcv's `initial.sp`: each penalty scaled to the
/// size of its block of `X'WX` (the mean diagonal of both over the rows and columns
/// the penalty touches), then all of them by the power of ten that brings the mean
/// of `XX_ii / (XX_ii + S_ii)` over the penalized coefficients to about 0.4 (so that
/// the start is neither all data nor all penalty), on the log scale.
pub(super) fn initial_rho(xtwx: &Array2<f64>, penalties: &PenaltySet) -> Vec<f64> {
    let p = xtwx.nrows();
    let mut ldss = vec![0.0; p];
    let mut penalized = vec![false; p];
    let mut sp: Vec<f64> = penalties
        .penalties
        .iter()
        .map(|pen| {
            let k = pen.len();
            let top = pen.s.iter().fold(0.0_f64, |a, v| a.max(v.abs()));
            let thresh = f64::EPSILON.powf(0.8) * top;
            let row_mean = |i: usize| (0..k).map(|j| pen.s[(i, j)].abs()).sum::<f64>() / k as f64;
            let col_mean = |j: usize| (0..k).map(|i| pen.s[(i, j)].abs()).sum::<f64>() / k as f64;
            let used: Vec<usize> = (0..k)
                .filter(|&i| row_mean(i) > thresh && col_mean(i) > thresh && pen.s[(i, i)].abs() > thresh)
                .collect();
            if used.is_empty() {
                return 1.0;
            }
            let size_xx =
                used.iter().map(|&i| xtwx[(pen.start + i, pen.start + i)].abs()).sum::<f64>() / used.len() as f64;
            let size_s = used.iter().map(|&i| pen.s[(i, i)]).sum::<f64>() / used.len() as f64;
            let sp = if size_s > 0.0 && size_xx > 0.0 { size_xx / size_s } else { 1.0 };
            for &i in &used {
                penalized[pen.start + i] = true;
            }
            for i in 0..k {
                ldss[pen.start + i] += sp * pen.s[(i, i)];
            }
            sp
        })
        .collect();
    let rows: Vec<usize> = (0..p).filter(|&i| ldss[i] > 0.0 && penalized[i] && xtwx[(i, i)] > 0.0).collect();
    if !rows.is_empty() {
        let balance = |factor: f64| {
            rows.iter().map(|&i| xtwx[(i, i)] / (xtwx[(i, i)] + factor * ldss[i])).sum::<f64>() / rows.len() as f64
        };
        let mut factor = 1.0;
        while balance(factor) > 0.4 && factor < 1e30 {
            factor *= 10.0;
        }
        while balance(factor) < 0.4 && factor > 1e-30 {
            factor /= 10.0;
        }
        sp.iter_mut().for_each(|v| *v *= factor);
    }
    sp.iter().map(|v| v.ln()).collect()
}

pub(super) fn full_rho(fixed: &[Option<f64>], free: &[f64]) -> Vec<f64> {
    let mut it = free.iter();
    fixed.iter().map(|f| f.unwrap_or_else(|| *it.next().expect("free parameter"))).collect()
}

/// Generalized fits of fewer rows take the converged search's last Newton step too
/// (`outer::polish`): an inner fit and a derivative pass over them cost little.
pub(super) const POLISH_BELOW_ROWS: usize = 10_000;
