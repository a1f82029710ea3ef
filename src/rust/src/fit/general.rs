//! General smooth models: a general family's log likelihood (`family::general`) of
//! several linear predictors, each a block of the model matrix's columns (mgcv's
//! `lpi`), with smoothing parameters chosen by the Laplace-approximate REML (Wood, Pya
//! & Säfken 2016, JASA 111:1548-1563, §3; mgcv's `gam.fit5`).
//!
//! * Inner fit at fixed smoothing parameters: Newton's method on the penalized
//!   negative log likelihood `Q(beta) = -l(beta) + beta'S beta / 2`, with the
//!   observed Hessian `H = -d2l/dbeta dbeta' + S`, step halving until `Q` falls.
//! * Criterion: `V = Q(beta) + log|H|/2 - log|S|_+/2 - M_p log(2 pi)/2`.
//! * Its gradient in `rho = log(lambda)`, exactly (§3.1): by the envelope theorem
//!   `dV/drho_j = lambda_j beta'S_j beta/2 + tr(H^-1 dH_j)/2 - dlog|S|_+/2`, with
//!   `dH_j = lambda_j S_j + X' diag(-l''' X dbeta_j) X` and
//!   `dbeta_j = -H^-1 lambda_j S_j beta`; the trace of the data part is
//!   `sum_i sum_ab w_iab x_ia' [H^-1]_ab x_ib` over the predictors `a, b`.
//! * Its Hessian by forward differences of that gradient (one inner fit per smoothing
//!   parameter, started from the first-order prediction of its coefficients): mgcv
//!   forms it from the fourth derivatives, which only the speed of the outer Newton
//!   iteration depends on, not where it ends.

use std::ops::Range;

use ndarray::{s, Array1, Array2, ArrayView2, Axis};

use super::outer::{self, Eval, NewtonSettings, Objective, Termination};
use super::penalty::PenaltySet;
use super::problem::initial_rho;
use super::term_tests::{self, TermTest};
use super::uncertainty;
use crate::error::{EngineError, Result};
use crate::family::general::GeneralFamily;
use crate::linalg::{self, SpdFactor};

/// A smooth term of a general model: its columns and what its test needs.
#[derive(Debug, Clone)]
pub struct GeneralTerm {
    pub cols: Range<usize>,
    pub null_space_dim: usize,
}

#[derive(Debug, Clone)]
pub struct GeneralSettings {
    pub tol: f64,
    pub max_iter: usize,
    pub max_step: f64,
    pub threads: usize,
}

/// The model: the whole model matrix (`n x p`, every predictor's columns), the
/// columns of each linear predictor, their offsets, the response, the family, the
/// penalties with the smoothing parameter each is linked to, and the given (fixed)
/// log smoothing parameters.
pub struct GeneralModel<'a> {
    pub x: ArrayView2<'a, f64>,
    pub lp: Vec<Range<usize>>,
    pub offset: Vec<Vec<f64>>,
    pub y: &'a [f64],
    pub family: GeneralFamily,
    pub penalties: PenaltySet,
    pub links: Vec<usize>,
    pub fixed: Vec<Option<f64>>,
    pub terms: Vec<GeneralTerm>,
    pub settings: GeneralSettings,
}

/// The penalized fit at one set of smoothing parameters.
struct Inner {
    beta: Vec<f64>,
    eta: Vec<Vec<f64>>,
    ll: f64,
    /// `beta' S_lambda beta`.
    penalty: f64,
    /// `-d2l/dbeta dbeta'` (the data part of `H`).
    hd: Array2<f64>,
    factor: SpdFactor,
    converged: bool,
}

/// What a general fit reports.
pub struct GeneralFit {
    pub coefficients: Vec<f64>,
    pub vp: Array2<f64>,
    pub ve: Array2<f64>,
    pub edf: Vec<f64>,
    pub edf1: Vec<f64>,
    /// Corrected for smoothing parameter uncertainty (`fit::uncertainty`).
    pub vc: Array2<f64>,
    pub edf2: Vec<f64>,
    pub ll: f64,
    pub criterion: f64,
    pub sp: Vec<f64>,
    pub iterations: usize,
    pub termination: Termination,
    pub inner_converged: bool,
    pub gradient: Vec<f64>,
    /// Each linear predictor, then each parameter, at every observation.
    pub eta: Vec<Vec<f64>>,
    pub parameters: Vec<Vec<f64>>,
    pub deviance: f64,
    pub null_deviance: f64,
    pub null_space_dim: usize,
    pub term_tests: Vec<TermTest>,
}

/// Newton iterations of the inner fit; its convergence is `g'H^-1 g` (twice the
/// predicted fall of `Q`) below this fraction of `1 + |Q|`, and one more step.
const MAX_INNER: usize = 200;
const INNER_TOL: f64 = 1e-10;
/// How many times a search resumes from a better inner optimum (`GeneralModel::fit`).
const MAX_RESTARTS: usize = 3;
/// Forward-difference step in a log smoothing parameter for the criterion's Hessian.
const HESSIAN_STEP: f64 = 1e-4;
/// mgcv's regularization of the criterion's Hessian in `Vc`'s second-order term for
/// general families (`gam.fit5.post.proc`).
const GENERAL_SECOND_ORDER_RIDGE: f64 = 1.0 / 50.0;

impl GeneralModel<'_> {
    fn n(&self) -> usize {
        self.y.len()
    }

    fn p(&self) -> usize {
        self.x.ncols()
    }

    fn k(&self) -> usize {
        self.lp.len()
    }

    fn eta(&self, beta: &[f64]) -> Vec<Vec<f64>> {
        self.lp
            .iter()
            .zip(&self.offset)
            .map(|(cols, off)| {
                let b = Array1::from(beta[cols.clone()].to_vec());
                let mut e = self.x.slice(s![.., cols.clone()]).dot(&b).to_vec();
                if !off.is_empty() {
                    e.iter_mut().zip(off).for_each(|(v, o)| *v += o);
                }
                e
            })
            .collect()
    }

    fn row_eta(eta: &[Vec<f64>], i: usize) -> [f64; crate::family::general::MAX_LP] {
        let mut e = [0.0; crate::family::general::MAX_LP];
        for (a, col) in eta.iter().enumerate() {
            e[a] = col[i];
        }
        e
    }

    fn loglik(&self, eta: &[Vec<f64>]) -> f64 {
        (0..self.n()).map(|i| self.family.eta_jet(self.y[i], &Self::row_eta(eta, i)[..self.k()], 0).l).sum()
    }

    fn s_lambda(&self, lambda: &[f64]) -> Array2<f64> {
        let mut s = Array2::zeros((self.p(), self.p()));
        self.penalties.add_to(&mut s, lambda);
        s
    }

    /// `X_a' diag(w) X_b`.
    fn weighted_block(&self, a: usize, b: usize, w: &[f64]) -> Array2<f64> {
        let xa = self.x.slice(s![.., self.lp[a].clone()]);
        let xb = self.x.slice(s![.., self.lp[b].clone()]);
        let w = Array1::from(w.to_vec()).insert_axis(Axis(1));
        let xbw = &xb * &w;
        linalg::matmul(xa.t(), xbw.view(), self.settings.threads)
    }

    /// The log likelihood, the gradient of `-l` and `-d2l/dbeta dbeta'` at `eta`.
    fn derivatives(&self, eta: &[Vec<f64>]) -> (f64, Vec<f64>, Array2<f64>) {
        let (n, k) = (self.n(), self.k());
        let mut ll = 0.0;
        let mut d1 = vec![vec![0.0; n]; k];
        let mut d2 = vec![vec![0.0; n]; k * k];
        for i in 0..n {
            let jet = self.family.eta_jet(self.y[i], &Self::row_eta(eta, i)[..k], 2);
            ll += jet.l;
            for a in 0..k {
                d1[a][i] = -jet.d1[a];
                for b in 0..k {
                    d2[a * k + b][i] = -jet.d2[a][b];
                }
            }
        }
        let mut grad = vec![0.0; self.p()];
        for a in 0..k {
            let xa = self.x.slice(s![.., self.lp[a].clone()]);
            let g = xa.t().dot(&Array1::from(d1[a].clone()));
            grad[self.lp[a].clone()].iter_mut().zip(g.iter()).for_each(|(t, v)| *t = *v);
        }
        let mut hd = Array2::zeros((self.p(), self.p()));
        for a in 0..k {
            for b in a..k {
                let block = self.weighted_block(a, b, &d2[a * k + b]);
                hd.slice_mut(s![self.lp[a].clone(), self.lp[b].clone()]).assign(&block);
                if a != b {
                    hd.slice_mut(s![self.lp[b].clone(), self.lp[a].clone()]).assign(&block.t());
                }
            }
        }
        (ll, grad, hd)
    }

    /// A Cholesky factor of `h`, with the smallest ridge that makes it positive
    /// definite when it is not (far from the optimum, where `-l` is not convex).
    fn factor_with_ridge(h: &Array2<f64>) -> Option<(SpdFactor, bool)> {
        if let Some(f) = SpdFactor::new(h.view()) {
            return Some((f, false));
        }
        let top = h.diag().iter().fold(0.0_f64, |m, v| m.max(v.abs())).max(1e-300);
        let mut ridge = 1e-8 * top;
        for _ in 0..40 {
            let mut a = h.clone();
            a.diag_mut().iter_mut().for_each(|v| *v += ridge);
            if let Some(f) = SpdFactor::new(a.view()) {
                return Some((f, true));
            }
            ridge *= 10.0;
        }
        None
    }

    /// Newton's method on `Q(beta)` at penalty multipliers `lambda`, from `start`.
    fn inner(&self, lambda: &[f64], start: &[f64]) -> Result<Inner> {
        let s = self.s_lambda(lambda);
        let penalty_of = |b: &[f64]| {
            let b = Array1::from(b.to_vec());
            b.dot(&s.dot(&b))
        };
        let mut beta = start.to_vec();
        let mut eta = self.eta(&beta);
        let mut q = -self.loglik(&eta) + 0.5 * penalty_of(&beta);
        if !q.is_finite() {
            return Err(EngineError::NonFinite { what: "the log likelihood at the starting coefficients".into() });
        }
        let mut converged = false;
        for _ in 0..MAX_INNER {
            let (_, g, hd) = self.derivatives(&eta);
            let sb = s.dot(&Array1::from(beta.clone()));
            let grad: Vec<f64> = g.iter().zip(sb.iter()).map(|(a, b)| a + b).collect();
            let h = &hd + &s;
            let (factor, _) = Self::factor_with_ridge(&h)
                .ok_or_else(|| EngineError::NonFinite { what: "the penalized Hessian of the log likelihood".into() })?;
            let step = factor.solve_vec(&grad);
            let decrement: f64 = grad.iter().zip(step.iter()).map(|(a, b)| a * b).sum();
            let done = decrement.abs() < INNER_TOL * (1.0 + q.abs());
            let mut alpha = 1.0;
            let mut accepted = None;
            for _ in 0..50 {
                let cand: Vec<f64> = beta.iter().zip(step.iter()).map(|(b, d)| b - alpha * d).collect();
                let eta_c = self.eta(&cand);
                let q_c = -self.loglik(&eta_c) + 0.5 * penalty_of(&cand);
                if q_c.is_finite() && q_c <= q + 1e-13 * (1.0 + q.abs()) {
                    accepted = Some((cand, eta_c, q_c));
                    break;
                }
                alpha *= 0.5;
            }
            match accepted {
                Some((b, e, qc)) => {
                    beta = b;
                    eta = e;
                    q = qc;
                }
                None => {
                    converged = done;
                    break;
                }
            }
            if done {
                converged = true;
                break;
            }
        }
        let (ll, _, hd) = self.derivatives(&eta);
        let factor = SpdFactor::new((&hd + &s).view()).ok_or_else(|| EngineError::NotIdentifiable {
            detail: "the penalized Hessian of the log likelihood is not positive definite at the fit".into(),
        })?;
        let penalty = penalty_of(&beta);
        Ok(Inner { beta, eta, ll, penalty, hd, factor, converged })
    }

    /// Each penalty's `lambda` from the smoothing parameters' `rho`.
    fn penalty_rho(&self, rho: &[f64]) -> Vec<f64> {
        self.links.iter().map(|&l| rho[l]).collect()
    }

    fn criterion(&self, inner: &Inner, rho: &[f64]) -> f64 {
        let log_s = self.penalties.log_det(&self.penalty_rho(rho)).value;
        let mp = self.penalties.null_space_dim() as f64;
        -inner.ll + 0.5 * inner.penalty + 0.5 * inner.factor.log_det()
            - 0.5 * log_s
            - 0.5 * mp * (2.0 * std::f64::consts::PI).ln()
    }

    /// `lambda_pen S_pen beta` summed over the penalties linked to smoothing
    /// parameter `j`.
    fn s_j_beta(&self, j: usize, rho: &[f64], beta: &[f64]) -> Vec<f64> {
        let mut out = vec![0.0; self.p()];
        for (pen, &l) in self.penalties.penalties.iter().zip(&self.links) {
            if l != j {
                continue;
            }
            let cols = pen.start..pen.start + pen.len();
            let v = pen.s.dot(&Array1::from(beta[cols.clone()].to_vec())) * rho[j].exp();
            out[cols].iter_mut().zip(v.iter()).for_each(|(o, x)| *o += x);
        }
        out
    }

    /// The criterion's gradient in the free log smoothing parameters `free` (indices
    /// into `rho`), and each one's `d beta / d rho`.
    fn gradient(&self, inner: &Inner, rho: &[f64], free: &[usize]) -> (Vec<f64>, Vec<Vec<f64>>) {
        let (n, k) = (self.n(), self.k());
        let hinv = inner.factor.inverse();
        let log_s = self.penalties.log_det(&self.penalty_rho(rho));
        // x_ia' [H^-1]_ab x_ib for every row and pair of predictors.
        let mut quad = vec![vec![0.0; n]; k * k];
        for a in 0..k {
            for b in a..k {
                let xa = self.x.slice(s![.., self.lp[a].clone()]);
                let xb = self.x.slice(s![.., self.lp[b].clone()]);
                let block = hinv.slice(s![self.lp[a].clone(), self.lp[b].clone()]);
                let t = linalg::matmul(xa, block, self.settings.threads);
                let q: Vec<f64> = t.rows().into_iter().zip(xb.rows()).map(|(r, x)| r.dot(&x)).collect();
                quad[b * k + a] = q.clone();
                quad[a * k + b] = q;
            }
        }
        let dbeta: Vec<Vec<f64>> = free
            .iter()
            .map(|&j| {
                let sb = self.s_j_beta(j, rho, &inner.beta);
                hinv.dot(&Array1::from(sb)).iter().map(|v| -v).collect()
            })
            .collect();
        let deta: Vec<Vec<Vec<f64>>> = dbeta
            .iter()
            .map(|db| {
                self.lp
                    .iter()
                    .map(|cols| {
                        self.x.slice(s![.., cols.clone()]).dot(&Array1::from(db[cols.clone()].to_vec())).to_vec()
                    })
                    .collect()
            })
            .collect();
        // The data part of tr(H^-1 dH_j): sum_i sum_ab (-sum_c l_abc deta_c) quad_ab.
        let mut data_trace = vec![0.0; free.len()];
        for i in 0..n {
            let jet = self.family.eta_jet(self.y[i], &Self::row_eta(&inner.eta, i)[..k], 3);
            for (t, de) in data_trace.iter_mut().zip(&deta) {
                let mut sum = 0.0;
                for a in 0..k {
                    for b in 0..k {
                        let w: f64 = (0..k).map(|c| jet.d3[a][b][c] * de[c][i]).sum();
                        sum -= w * quad[a * k + b][i];
                    }
                }
                *t += sum;
            }
        }
        let grad = free
            .iter()
            .zip(&data_trace)
            .map(|(&j, dt)| {
                let mut pen_trace = 0.0;
                let mut log_s_grad = 0.0;
                for (m, (pen, &l)) in self.penalties.penalties.iter().zip(&self.links).enumerate() {
                    if l != j {
                        continue;
                    }
                    let r = pen.start..pen.start + pen.len();
                    let block = hinv.slice(s![r.clone(), r]);
                    pen_trace += rho[j].exp() * (&block * &pen.s.t()).sum();
                    log_s_grad += log_s.grad[m];
                }
                let sb = self.s_j_beta(j, rho, &inner.beta);
                let b_s_b: f64 = inner.beta.iter().zip(&sb).map(|(a, b)| a * b).sum();
                0.5 * b_s_b + 0.5 * (pen_trace + dt) - 0.5 * log_s_grad
            })
            .collect();
        (grad, dbeta)
    }

    /// The criterion's Hessian in the free log smoothing parameters by differences
    /// of its gradient (`grad`, at `values`): forward ones for the outer iteration's
    /// steps, central ones for the covariance the fit reports. Each moved fit starts
    /// from the coefficients predicted by `dbeta`.
    fn hessian(
        &self,
        inner: &Inner,
        values: &[f64],
        free: &[usize],
        grad: &[f64],
        dbeta: &[Vec<f64>],
        central: bool,
    ) -> Result<Array2<f64>> {
        let m = free.len();
        let gradient_at = |j: usize, h: f64| -> Result<Vec<f64>> {
            let mut moved = values.to_vec();
            moved[j] += h;
            let start: Vec<f64> = inner.beta.iter().zip(&dbeta[j]).map(|(b, d)| b + h * d).collect();
            let rho = self.full_rho(free, &moved);
            let fit = self.inner(&self.penalty_lambda(&rho), &start)?;
            Ok(self.gradient(&fit, &rho, free).0)
        };
        let mut hess = Array2::zeros((m, m));
        for j in 0..m {
            let plus = gradient_at(j, HESSIAN_STEP)?;
            let (minus, width) = if central {
                (gradient_at(j, -HESSIAN_STEP)?, 2.0 * HESSIAN_STEP)
            } else {
                (grad.to_vec(), HESSIAN_STEP)
            };
            for i in 0..m {
                hess[(i, j)] = (plus[i] - minus[i]) / width;
            }
        }
        linalg::symmetrize(&mut hess);
        Ok(hess)
    }

    fn full_rho(&self, free: &[usize], values: &[f64]) -> Vec<f64> {
        let mut rho: Vec<f64> = self.fixed.iter().map(|f| f.unwrap_or(0.0)).collect();
        for (&j, &v) in free.iter().zip(values) {
            rho[j] = v;
        }
        rho
    }

    /// Fits the model: smoothing parameters by the outer Newton iteration on the
    /// criterion, then what the fit reports at them.
    pub fn fit(&self, monitor: &mut outer::Monitor<'_>) -> Result<GeneralFit> {
        let (n, p, k) = (self.n(), self.p(), self.k());
        if n < 2 || p == 0 || self.lp.iter().any(|r| r.end > p) || self.offset.len() != k {
            return Err(EngineError::InvalidSpec { what: "general model dimensions".into() });
        }
        let start = self.start_coefficients();
        let free: Vec<usize> = (0..self.fixed.len()).filter(|&j| self.fixed[j].is_none()).collect();
        // mgcv's initial smoothing parameters, from the data Hessian at the start.
        let (_, _, hd0) = self.derivatives(&self.eta(&start));
        let per_penalty = initial_rho(&hd0, &self.penalties);
        let mut init = vec![0.0; self.fixed.len()];
        let mut count = vec![0usize; self.fixed.len()];
        for (r, &l) in per_penalty.iter().zip(&self.links) {
            init[l] += r;
            count[l] += 1;
        }
        init.iter_mut().zip(&count).for_each(|(v, &c)| *v /= c.max(1) as f64);
        let rho0: Vec<f64> = free.iter().map(|&j| init[j]).collect();
        let settings = NewtonSettings {
            max_iter: self.settings.max_iter,
            tol: self.settings.tol,
            max_step: self.settings.max_step,
            lower: rho0.iter().map(|r| r - 40.0).collect(),
            upper: rho0.iter().map(|r| r + 20.0).collect(),
        };
        let mut objective = GeneralObjective { model: self, free: free.clone(), beta: start.clone(), last: None };
        let mut result = outer::newton(&mut objective, &rho0, &settings, monitor)?;
        let mut iterations = result.iterations;
        // Each inner fit starts from the last one's coefficients, so the path can end
        // in a local optimum of the penalized likelihood that is not the best at the
        // final smoothing parameters (a non-canonical link can have several). The
        // criterion is defined by the best one: an inner fit from the family's start
        // decides, and when it is better the search resumes from it.
        for _ in 0..MAX_RESTARTS {
            let rho = self.full_rho(&free, &result.rho);
            let lambda = self.penalty_lambda(&rho);
            let fresh = self.inner(&lambda, &start)?;
            let current = match objective.last.take() {
                Some((r, inner)) if r == result.rho => inner,
                _ => self.inner(&lambda, &objective.beta)?,
            };
            let objective_of = |inner: &Inner| -inner.ll + 0.5 * inner.penalty;
            if objective_of(&fresh) >= objective_of(&current) - INNER_TOL * (1.0 + objective_of(&current).abs()) {
                objective.last = Some((result.rho.clone(), current));
                break;
            }
            objective.beta = fresh.beta.clone();
            objective.last = Some((result.rho.clone(), fresh));
            let again = outer::newton(&mut objective, &result.rho, &settings, monitor)?;
            iterations += again.iterations;
            result = again;
        }
        result.iterations = iterations;
        let rho = self.full_rho(&free, &result.rho);
        let inner = match objective.last.take() {
            Some((r, inner)) if r == result.rho => inner,
            _ => self.inner(&self.penalty_lambda(&rho), &objective.beta)?,
        };
        let (grad, dbeta) = self.gradient(&inner, &rho, &free);
        let hess = self.hessian(&inner, &result.rho, &free, &grad, &dbeta, true)?;
        let lambda = self.penalty_lambda(&rho);
        let sens = uncertainty::Sensitivity {
            db_drho: Array2::from_shape_fn((self.p(), free.len()), |(i, j)| dbeta[j][i]),
            hess,
            lambda_of: free
                .iter()
                .map(|&j| self.links.iter().zip(&lambda).map(|(&l, &v)| if l == j { v } else { 0.0 }).collect())
                .collect(),
            ridge: GENERAL_SECOND_ORDER_RIDGE,
        };
        Ok(self.report(inner, &rho, result, &sens))
    }

    fn penalty_lambda(&self, rho: &[f64]) -> Vec<f64> {
        self.penalty_rho(rho).iter().map(|r| r.exp()).collect()
    }

    /// Each predictor's intercept column (a column constant at 1) at the family's
    /// start, every other coefficient at zero.
    fn start_coefficients(&self) -> Vec<f64> {
        let mut beta = vec![0.0; self.p()];
        let start = self.family.start(self.y);
        for (a, cols) in self.lp.iter().enumerate() {
            let off = &self.offset[a];
            let mean_off = if off.is_empty() { 0.0 } else { off.iter().sum::<f64>() / off.len() as f64 };
            if let Some(c) = cols.clone().find(|&c| self.x.column(c).iter().all(|v| *v == 1.0)) {
                beta[c] = start[a] - mean_off;
            }
        }
        beta
    }

    fn report(
        &self,
        inner: Inner,
        rho: &[f64],
        result: outer::OuterResult,
        sens: &uncertainty::Sensitivity,
    ) -> GeneralFit {
        let vp = inner.factor.inverse();
        let f = linalg::matmul(vp.view(), inner.hd.view(), self.settings.threads);
        let edf: Vec<f64> = f.diag().to_vec();
        let ff = linalg::matmul(f.view(), f.view(), self.settings.threads);
        let edf1: Vec<f64> = edf.iter().zip(ff.diag()).map(|(e, q)| 2.0 * e - q).collect();
        let ve = linalg::matmul(f.view(), vp.view(), self.settings.threads);
        let parameters: Vec<Vec<f64>> = {
            let links = self.family.links();
            inner.eta.iter().zip(&links).map(|(e, l)| e.iter().map(|v| l.inverse(*v)).collect()).collect()
        };
        let (deviance, null_deviance) = self.family.deviances(self.y, &parameters);
        let term_tests = self
            .terms
            .iter()
            .map(|t| {
                let r = t.cols.clone();
                let b = Array1::from(inner.beta[r.clone()].to_vec());
                let v = vp.slice(s![r.clone(), r.clone()]).to_owned();
                if t.null_space_dim == 0 {
                    let e = ve.slice(s![r.clone(), r.clone()]).to_owned();
                    term_tests::random_effect_test(&b, &v, &e)
                } else {
                    let g = inner.hd.slice(s![r.clone(), r.clone()]).to_owned();
                    let rank = edf1[r.clone()].iter().sum::<f64>().min(r.len() as f64);
                    term_tests::wald_test(&b, &g, &v, rank)
                }
            })
            .collect();
        let criterion = self.criterion(&inner, rho);
        let corrected = uncertainty::corrected(
            &inner.hd,
            &self.penalties,
            &self.penalty_lambda(rho),
            sens,
            &vp,
            1.0,
            &edf1,
            self.settings.threads,
        );
        GeneralFit {
            vc: corrected.vc,
            edf2: corrected.edf2,
            coefficients: inner.beta,
            vp,
            ve,
            edf,
            edf1,
            ll: inner.ll,
            criterion,
            sp: rho.iter().map(|r| r.exp()).collect(),
            iterations: result.iterations,
            termination: result.termination,
            inner_converged: inner.converged,
            gradient: result.eval.grad.to_vec(),
            eta: inner.eta,
            parameters,
            deviance,
            null_deviance,
            null_space_dim: self.penalties.null_space_dim(),
            term_tests,
        }
    }
}

/// The criterion as a function of the free log smoothing parameters, keeping the last
/// inner fit (so that the derivatives at an accepted point cost no second fit) and
/// starting each inner fit from the last coefficients.
struct GeneralObjective<'m, 'a> {
    model: &'m GeneralModel<'a>,
    free: Vec<usize>,
    beta: Vec<f64>,
    last: Option<(Vec<f64>, Inner)>,
}

impl GeneralObjective<'_, '_> {
    fn fit_at(&self, values: &[f64], start: &[f64]) -> Result<(Vec<f64>, Inner)> {
        let rho = self.model.full_rho(&self.free, values);
        let inner = self.model.inner(&self.model.penalty_lambda(&rho), start)?;
        Ok((rho, inner))
    }
}

impl Objective for GeneralObjective<'_, '_> {
    fn evaluate(&mut self, values: &[f64], derivatives: bool) -> Result<Eval> {
        let reuse = matches!(&self.last, Some((r, _)) if r.as_slice() == values);
        if !reuse {
            let start = self.beta.clone();
            let (_, inner) = self.fit_at(values, &start)?;
            self.last = Some((values.to_vec(), inner));
        }
        let (_, inner) = self.last.as_ref().expect("an inner fit");
        self.beta = inner.beta.clone();
        let rho = self.model.full_rho(&self.free, values);
        let value = self.model.criterion(inner, &rho);
        if !derivatives {
            let coefficients = inner.beta.clone();
            return Ok(Eval { value, grad: Array1::zeros(0), hess: Array2::zeros((0, 0)), coefficients });
        }
        let (grad, dbeta) = self.model.gradient(inner, &rho, &self.free);
        let hess = self.model.hessian(inner, values, &self.free, &grad, &dbeta, false)?;
        Ok(Eval { value, grad: Array1::from(grad), hess, coefficients: self.beta.clone() })
    }
}
