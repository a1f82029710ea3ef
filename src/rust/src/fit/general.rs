//! General smooth models: a general family's log likelihood (`family::general`) of
//! several linear predictors, each a block of the model matrix's columns (mgcv's
//! `lpi`), with smoothing parameters chosen by the Laplace-approximate REML (Wood, Pya
//! & Säfken 2016, JASA 111:1548-1563, §3; mgcv's `gam.fit5`).
//!
//! * Inner fit at fixed smoothing parameters: Newton's method on the penalized
//!   negative log likelihood `Q(beta) = -l(beta) + beta'S beta / 2`, with the
//!   observed Hessian `H = -d2l/dbeta dbeta' + S`, step halving until `Q` falls.
//! * Smoothing parameters: the outer Newton iteration (`fit::outer`) on the criterion
//!   with its exact gradient and Hessian (`fit::general_laml`).
//! * What the fit reports: `Vp = H^-1`, the edf from `F = H^-1 (H - S)`, `Vc` and
//!   `edf2` corrected for smoothing parameter uncertainty (`fit::uncertainty`, with
//!   mgcv's general-family ridge) and the smooth terms' tests (`fit::term_tests`).

use std::ops::Range;

use ndarray::{s, Array1, Array2, ArrayView2, Axis};

use super::cox::RiskSets;
use super::mvn::MvnStats;
use super::outer::{self, Eval, NewtonSettings, Objective, Termination};
use super::penalty::PenaltySet;
use super::problem::initial_rho;
use super::softmax;
use super::start::{plateau_probe, ProbeAt};
use super::term_tests::{self, TermTest};
use super::uncertainty;
use crate::error::{EngineError, Result};
use crate::family::general::{GeneralFamily, LpLink};
use crate::family::link::Link;
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
/// columns of each linear predictor (mgcv's `lpi`: a predictor's own blocks of
/// columns, and blocks it shares with other predictors, as mgcv's `1 + 2 ~ s(x)`
/// makes them), their offsets, the response, the family, the
/// penalties with the smoothing parameter each is linked to, and the given (fixed)
/// log smoothing parameters.
pub struct GeneralModel<'a> {
    pub x: ArrayView2<'a, f64>,
    pub lp: Vec<Vec<Range<usize>>>,
    pub offset: Vec<Vec<f64>>,
    pub y: &'a [f64],
    pub likelihood: Likelihood,
    pub penalties: PenaltySet,
    pub links: Vec<usize>,
    pub fixed: Vec<Option<f64>>,
    pub terms: Vec<GeneralTerm>,
    pub settings: GeneralSettings,
}

/// What the log likelihood sums over.
pub enum Likelihood {
    /// The rows, each through a general family.
    Rows(GeneralFamily),
    /// The risk sets of survival data: Cox's partial likelihood, one predictor
    /// with every column of the model matrix (`fit::cox`).
    Cox(RiskSets),
    /// Multivariate normal responses, one predictor each, with the precision
    /// matrix's parameters as the last coefficients (`fit::mvn`).
    Mvn(MvnStats),
    /// The multinomial logit with `K` predictors, any `K` (`fit::softmax`).
    Softmax(usize),
}

impl Likelihood {
    pub fn links(&self) -> Vec<LpLink> {
        match self {
            Likelihood::Rows(family) => family.links(),
            Likelihood::Cox(_) => vec![LpLink::Standard(Link::Identity)],
            Likelihood::Mvn(stats) => vec![LpLink::Standard(Link::Identity); stats.d()],
            Likelihood::Softmax(k) => vec![LpLink::Standard(Link::Identity); *k],
        }
    }
}

/// The penalized fit at one set of smoothing parameters.
pub(super) struct Inner {
    pub beta: Vec<f64>,
    pub eta: Vec<Vec<f64>>,
    pub ll: f64,
    /// `beta' S_lambda beta`.
    pub penalty: f64,
    /// `-d2l/dbeta dbeta'` (the data part of `H`).
    pub hd: Array2<f64>,
    /// Of `H = hd + S_lambda`.
    pub factor: SpdFactor,
    pub converged: bool,
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
    /// The log smoothing parameters, and `sp` their exponentials.
    pub rho: Vec<f64>,
    pub sp: Vec<f64>,
    pub iterations: usize,
    pub termination: Termination,
    pub inner_converged: bool,
    pub gradient: Vec<f64>,
    /// Each linear predictor, then each parameter, at every observation.
    pub eta: Vec<Vec<f64>>,
    pub parameters: Vec<Vec<f64>>,
    pub term_tests: Vec<TermTest>,
}

/// Where a fit starts other than cold (a seed from the warm-start store): log
/// smoothing parameters, one per smoothing parameter, and the coefficients when they
/// fit the model.
pub struct GeneralStart {
    pub rho: Vec<f64>,
    pub beta: Option<Vec<f64>>,
}

/// Newton iterations of the inner fit; its convergence is `g'H^-1 g` (twice the
/// predicted fall of `Q`) below this fraction of `1 + |Q|`, and one more step.
const MAX_INNER: usize = 200;
/// Newton steps for the check of the search's end from the family's start.
const FRESH_STEPS: usize = 25;
/// Newton steps for an inner fit at a point whose value alone is asked for
/// (`GeneralObjective::fit_at`).
const TRIAL_STEPS: usize = 40;
const INNER_TOL: f64 = 1e-10;
/// How many times a search resumes from a better inner optimum (`GeneralModel::fit`).
const MAX_RESTARTS: usize = 3;
/// mgcv's regularization of the criterion's Hessian in `Vc`'s second-order term for
/// general families (`gam.fit5.post.proc`).
const GENERAL_SECOND_ORDER_RIDGE: f64 = 1.0 / 50.0;

impl GeneralModel<'_> {
    pub(super) fn n(&self) -> usize {
        self.x.nrows()
    }

    pub(super) fn p(&self) -> usize {
        self.x.ncols()
    }

    pub(super) fn k(&self) -> usize {
        self.lp.len()
    }

    /// Each predictor's part of the model matrix times `v`'s part (no offset).
    pub(super) fn predictor_products(&self, v: &[f64]) -> Vec<Vec<f64>> {
        self.lp
            .iter()
            .map(|blocks| {
                let mut out = vec![0.0; self.n()];
                for cols in blocks {
                    let part = linalg::mat_vec(self.x.slice(s![.., cols.clone()]), &v[cols.clone()]);
                    out.iter_mut().zip(part.iter()).for_each(|(o, p)| *o += p);
                }
                out
            })
            .collect()
    }

    /// Every column of predictor `a`, in order.
    pub(super) fn columns(&self, a: usize) -> Vec<usize> {
        self.lp[a].iter().flat_map(|r| r.clone()).collect()
    }

    /// The family's parameters (each predictor through its link) at `eta`.
    pub(crate) fn parameters_of(&self, eta: &[Vec<f64>]) -> Vec<Vec<f64>> {
        let links = self.likelihood.links();
        eta.iter().zip(&links).map(|(e, l)| e.iter().map(|v| l.inverse(*v)).collect()).collect()
    }

    pub(crate) fn eta(&self, beta: &[f64]) -> Vec<Vec<f64>> {
        let mut eta = self.predictor_products(beta);
        for (e, off) in eta.iter_mut().zip(&self.offset) {
            if !off.is_empty() {
                e.iter_mut().zip(off).for_each(|(v, o)| *v += o);
            }
        }
        eta
    }

    pub(super) fn row_eta(eta: &[Vec<f64>], i: usize) -> [f64; crate::family::general::MAX_LP] {
        let mut e = [0.0; crate::family::general::MAX_LP];
        for (a, col) in eta.iter().enumerate() {
            e[a] = col[i];
        }
        e
    }

    /// `work` on the rows in two fixed halves, on two threads when the settings
    /// allow: the halves, and so every sum over them, are the same on one thread or
    /// two. (The per-row family derivatives of a location-scale fit were a quarter of
    /// its time, and all of a twlss fit's likelihood work.)
    pub(super) fn in_halves<T: Send>(&self, work: impl Fn(Range<usize>) -> T + Sync) -> (T, T) {
        linalg::in_halves(self.n(), self.settings.threads, work)
    }

    fn loglik(&self, beta: &[f64], eta: &[Vec<f64>]) -> f64 {
        match &self.likelihood {
            Likelihood::Rows(family) => {
                let k = self.k();
                let (a, b) = self
                    .in_halves(|rows| rows.map(|i| family.loglik(self.y[i], &Self::row_eta(eta, i)[..k])).sum::<f64>());
                a + b
            }
            Likelihood::Cox(sets) => sets.loglik(&eta[0]),
            Likelihood::Mvn(stats) => stats.loglik(beta),
            Likelihood::Softmax(_) => softmax::loglik(self.y, eta),
        }
    }

    fn s_lambda(&self, lambda: &[f64]) -> Array2<f64> {
        let mut s = Array2::zeros((self.p(), self.p()));
        self.penalties.add_to(&mut s, lambda);
        s
    }

    /// `X_r' diag(w) X_t` for two blocks of columns (weights of any sign); the
    /// symmetric lower-triangle product when they are the same block.
    fn weighted_block(&self, r: &Range<usize>, t: &Range<usize>, w: &[f64]) -> Array2<f64> {
        let xr = self.x.slice(s![.., r.clone()]);
        if r == t {
            return linalg::weighted_gram(xr, w, self.settings.threads);
        }
        let xt = self.x.slice(s![.., t.clone()]);
        let w = Array1::from(w.to_vec()).insert_axis(Axis(1));
        let xtw = &xt * &w;
        linalg::matmul(xr.t(), xtw.view(), self.settings.threads)
    }

    /// `sum_ab X_a' diag(w_ab) X_b` for weights `w[a * K + b]` (symmetric in `a, b`;
    /// an empty `w_ab` is a zero term, not formed). A block that several predictors
    /// share collects the terms of each of them.
    pub(super) fn weighted_gram(&self, w: &[Vec<f64>]) -> Array2<f64> {
        let k = self.k();
        let mut out = Array2::zeros((self.p(), self.p()));
        for a in 0..k {
            for b in a..k {
                if w[a * k + b].is_empty() {
                    continue;
                }
                for (i, r) in self.lp[a].iter().enumerate() {
                    for (j, t) in self.lp[b].iter().enumerate() {
                        // Within one predictor, a pair of blocks once, then mirrored.
                        if a == b && j < i {
                            continue;
                        }
                        let block = self.weighted_block(r, t, &w[a * k + b]);
                        let mut to = out.slice_mut(s![r.clone(), t.clone()]);
                        to += &block;
                        if !(a == b && i == j) {
                            let mut to = out.slice_mut(s![t.clone(), r.clone()]);
                            to += &block.t();
                        }
                    }
                }
            }
        }
        out
    }

    /// The log likelihood, the gradient of `-l` and `-d2l/dbeta dbeta'` at `eta`.
    fn derivatives(&self, beta: &[f64], eta: &[Vec<f64>]) -> (f64, Vec<f64>, Array2<f64>) {
        let family = match &self.likelihood {
            Likelihood::Rows(family) => family,
            Likelihood::Cox(sets) => return sets.derivatives(self.x, &eta[0], self.settings.threads),
            Likelihood::Mvn(stats) => return stats.derivatives(beta),
            Likelihood::Softmax(_) => {
                let (ll, d1, d2) = softmax::derivatives(self.y, eta);
                return self.assemble(ll, &d1, &d2);
            }
        };
        let k = self.k();
        let half = |rows: Range<usize>| {
            let len = rows.len();
            let (mut ll, mut d1, mut d2) = (0.0, vec![vec![0.0; len]; k], vec![vec![0.0; len]; k * k]);
            for (r, i) in rows.enumerate() {
                let jet = family.eta_jet(self.y[i], &Self::row_eta(eta, i)[..k], 2);
                ll += jet.l;
                for a in 0..k {
                    d1[a][r] = -jet.d1[a];
                    for b in 0..k {
                        d2[a * k + b][r] = -jet.d2[a][b];
                    }
                }
            }
            (ll, d1, d2)
        };
        let ((ll_a, mut d1, mut d2), (ll_b, d1_b, d2_b)) = self.in_halves(half);
        d1.iter_mut().zip(d1_b).for_each(|(a, b)| a.extend(b));
        d2.iter_mut().zip(d2_b).for_each(|(a, b)| a.extend(b));
        self.assemble(ll_a + ll_b, &d1, &d2)
    }

    /// The gradient of `-l` and `-d2l/dbeta dbeta'` from `-l`'s derivatives in each
    /// row's linear predictors (`d1[a][i]`, `d2[a * K + b][i]`).
    fn assemble(&self, ll: f64, d1: &[Vec<f64>], d2: &[Vec<f64>]) -> (f64, Vec<f64>, Array2<f64>) {
        let k = self.k();
        let mut grad = vec![0.0; self.p()];
        for a in 0..k {
            for cols in &self.lp[a] {
                let g = linalg::mat_vec(self.x.slice(s![.., cols.clone()]).t(), &d1[a]);
                grad[cols.clone()].iter_mut().zip(g.iter()).for_each(|(t, v)| *t += *v);
            }
        }
        (ll, grad, self.weighted_gram(d2))
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

    /// `Q(beta)` at penalty multipliers `lambda` (infinite where the likelihood is
    /// not finite).
    pub(super) fn penalized_objective(&self, lambda: &[f64], beta: &[f64]) -> f64 {
        let b = Array1::from(beta.to_vec());
        let q = -self.loglik(beta, &self.eta(beta)) + 0.5 * b.dot(&self.s_lambda(lambda).dot(&b));
        if q.is_nan() {
            f64::INFINITY
        } else {
            q
        }
    }

    /// Newton's method on `Q(beta)` at penalty multipliers `lambda`, from `start`.
    pub(super) fn inner(&self, lambda: &[f64], start: &[f64]) -> Result<Inner> {
        self.inner_within(lambda, start, MAX_INNER)
    }

    /// `inner` with at most `max_steps` Newton steps (`Inner::converged` says
    /// whether they were enough).
    fn inner_within(&self, lambda: &[f64], start: &[f64], max_steps: usize) -> Result<Inner> {
        let s = self.s_lambda(lambda);
        let penalty_of = |b: &[f64]| {
            let b = Array1::from(b.to_vec());
            b.dot(&s.dot(&b))
        };
        let mut beta = start.to_vec();
        let mut eta = self.eta(&beta);
        // The log likelihood with its derivatives at the current coefficients. A full
        // step's end is evaluated with its derivatives at once: it is nearly always
        // accepted, and the next iteration (or the fit) needs them there.
        let mut current = self.derivatives(&beta, &eta);
        let mut q = -current.0 + 0.5 * penalty_of(&beta);
        if !q.is_finite() {
            return Err(EngineError::NonFinite { what: "the log likelihood at the starting coefficients".into() });
        }
        let mut converged = false;
        for _ in 0..max_steps {
            let (_, g, hd) = &current;
            let sb = s.dot(&Array1::from(beta.clone()));
            let grad: Vec<f64> = g.iter().zip(sb.iter()).map(|(a, b)| a + b).collect();
            let h = hd + &s;
            let (factor, _) = Self::factor_with_ridge(&h)
                .ok_or_else(|| EngineError::NonFinite { what: "the penalized Hessian of the log likelihood".into() })?;
            let step = factor.solve_vec(&grad);
            let decrement: f64 = grad.iter().zip(step.iter()).map(|(a, b)| a * b).sum();
            let done = decrement.abs() < INNER_TOL * (1.0 + q.abs());
            let mut alpha = 1.0;
            let mut accepted = None;
            for attempt in 0..50 {
                let cand: Vec<f64> = beta.iter().zip(step.iter()).map(|(b, d)| b - alpha * d).collect();
                let eta_c = self.eta(&cand);
                let (q_c, at_c) = if attempt == 0 {
                    let d = self.derivatives(&cand, &eta_c);
                    (-d.0 + 0.5 * penalty_of(&cand), Some(d))
                } else {
                    (-self.loglik(&cand, &eta_c) + 0.5 * penalty_of(&cand), None)
                };
                if q_c.is_finite() && q_c <= q + 1e-13 * (1.0 + q.abs()) {
                    accepted = Some((cand, eta_c, q_c, at_c));
                    break;
                }
                alpha *= 0.5;
            }
            match accepted {
                Some((b, e, qc, at_c)) => {
                    current = at_c.unwrap_or_else(|| self.derivatives(&b, &e));
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
        let (ll, _, hd) = current;
        let factor = SpdFactor::new((&hd + &s).view()).ok_or_else(|| EngineError::NotIdentifiable {
            detail: "the penalized Hessian of the log likelihood is not positive definite at the fit".into(),
        })?;
        let penalty = penalty_of(&beta);
        Ok(Inner { beta, eta, ll, penalty, hd, factor, converged })
    }

    pub(super) fn full_rho(&self, free: &[usize], values: &[f64]) -> Vec<f64> {
        let mut rho: Vec<f64> = self.fixed.iter().map(|f| f.unwrap_or(0.0)).collect();
        for (&j, &v) in free.iter().zip(values) {
            rho[j] = v;
        }
        rho
    }

    /// Fits the model: smoothing parameters by the outer Newton iteration on the
    /// criterion, then what the fit reports at them.
    pub fn fit(&self, monitor: &mut outer::Monitor<'_>) -> Result<GeneralFit> {
        self.fit_from(monitor, None)
    }

    /// `fit`, starting the search at `from` (kept inside the bounds a cold search
    /// has, so that the problem, and the optimum, are the cold fit's).
    pub fn fit_from(&self, monitor: &mut outer::Monitor<'_>, from: Option<&GeneralStart>) -> Result<GeneralFit> {
        let (n, p, k) = (self.n(), self.p(), self.k());
        if n < 2 || p == 0 || self.lp.iter().flatten().any(|r| r.end > p) || self.offset.len() != k {
            return Err(EngineError::InvalidSpec { what: "general model dimensions".into() });
        }
        // The fit's working matrices, before any is made (a failed allocation aborts
        // R): about four n x p (weighted copies of X, its products with H^-1, Cox's
        // risk-set sums) and eight p x p.
        super::size::check_dense(
            &format!("the working matrices of a general fit to {n} rows"),
            n.saturating_mul(4).saturating_add(p.saturating_mul(8)),
            p,
        )?;
        let start = self.start_coefficients();
        let free: Vec<usize> = (0..self.fixed.len()).filter(|&j| self.fixed[j].is_none()).collect();
        // mgcv's initial smoothing parameters, from the data Hessian at the start.
        let (_, _, hd0) = self.derivatives(&start, &self.eta(&start));
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
        let cold_rho0 = rho0.clone();
        let from = from.filter(|f| f.rho.len() == self.fixed.len());
        let (rho0, beta0) = match from {
            Some(f) => (
                free.iter()
                    .zip(settings.lower.iter().zip(&settings.upper))
                    .map(|(&j, (lo, hi))| f.rho[j].clamp(*lo, *hi))
                    .collect(),
                f.beta
                    .clone()
                    .filter(|b| b.len() == p && b.iter().all(|v| v.is_finite()))
                    .unwrap_or_else(|| start.clone()),
            ),
            None => (rho0, start.clone()),
        };
        let mut objective = GeneralObjective { model: self, free: free.clone(), beta: beta0, last: None, anchor: None };
        let mut result = outer::newton(&mut objective, &rho0, &settings, monitor)?;
        let mut iterations = result.iterations;
        if from.is_some() {
            let tol = |v: f64| self.settings.tol * (1.0 + v.abs());
            // A seeded search does not end above the cold start's point: where that
            // is lower, the search from it (the cold search) decides.
            let value = result.eval.value;
            match objective.evaluate(&cold_rho0, false) {
                Ok(e) if e.value < value - tol(value) => {
                    let step = (&cold_rho0[..], Some(start.clone()));
                    iterations += self.search_again(&mut objective, step, value, &settings, monitor, &mut result)?;
                }
                Err(EngineError::Interrupted) => return Err(EngineError::Interrupted),
                _ => {}
            }
            // A seed's smoothing parameter far out on the criterion's plateau (a term
            // shrunk to its null space in the seed's data) is a point where a search
            // stops whatever this data's optimum. Where the search ended far from the
            // cold start of some smoothing parameters, the criterion is probed with
            // those at their cold start and at the edge of the box a seed is kept to
            // elsewhere (`seed_start`), on the plateau's side: the criterion between
            // the plateau and the cold start need not fall monotonically, and lower
            // at either point, the search runs again from the lower. (Searching again
            // from the cold start every time cost gaulss folds a whole cold search:
            // 1.6 times a cold fit at 1e5 rows.)
            let value = result.eval.value;
            let mut lowest: Option<(Vec<f64>, f64)> = None;
            // The probes' inner fits start from the end's coefficients, and leave the
            // objective as they found it.
            let kept = (objective.beta.clone(), objective.last.take(), objective.anchor.take());
            for to in [ProbeAt::Cold, ProbeAt::Edge] {
                let probe: Vec<f64> =
                    result.rho.iter().zip(&cold_rho0).map(|(r, c)| plateau_probe(*r, *c, to)).collect();
                if probe == result.rho {
                    break;
                }
                objective.anchor = None;
                objective.beta = kept.0.clone();
                match objective.evaluate(&probe, false) {
                    Ok(e) if e.value < value - tol(value) && lowest.as_ref().is_none_or(|(_, v)| e.value < *v) => {
                        lowest = Some((probe, e.value));
                    }
                    Err(EngineError::Interrupted) => return Err(EngineError::Interrupted),
                    _ => {}
                }
            }
            (objective.beta, objective.last, objective.anchor) = kept;
            if let Some((probe, _)) = lowest {
                let beat = value - tol(value);
                iterations +=
                    self.search_again(&mut objective, (&probe, None), beat, &settings, monitor, &mut result)?;
            }
        }
        // Each inner fit starts from the last one's coefficients, so the path can end
        // in a local optimum of the penalized likelihood that is not the best at the
        // final smoothing parameters (a non-canonical link can have several). The
        // criterion is defined by the best one: an inner fit from the family's start
        // decides, and when it is better the search resumes from it.
        for _ in 0..MAX_RESTARTS {
            let rho = self.full_rho(&free, &result.rho);
            let lambda = self.penalty_lambda(&rho);
            // Far out on a plateau (a penalty e^21 times the data's) an inner fit can
            // end where its Hessian is not positive definite to working precision,
            // from one start and not from another. From the start it is then no
            // better optimum; from the search's coefficients, the fresh one is.
            // The fit from the start gets `FRESH_STEPS` Newton steps: from a start
            // in a non-convex region it can crawl (gumbls at 2e4: 43 steps, a fifth
            // of the fit's time, down to the same optimum). Still above the search's
            // fit by then, it is not taken: only a fit found better is worth
            // finishing.
            let fresh = match self.inner_within(&lambda, &start, FRESH_STEPS) {
                Ok(fresh) => fresh,
                Err(EngineError::Interrupted) => return Err(EngineError::Interrupted),
                Err(_) => break,
            };
            let current = match objective.last.take() {
                Some((r, inner)) if r == result.rho => Some(inner),
                _ => match self.inner(&lambda, &objective.beta) {
                    Ok(inner) => Some(inner),
                    Err(EngineError::Interrupted) => return Err(EngineError::Interrupted),
                    Err(_) => None,
                },
            };
            let objective_of = |inner: &Inner| -inner.ll + 0.5 * inner.penalty;
            if let Some(current) = current {
                let q = objective_of(&current);
                if objective_of(&fresh) >= q - INNER_TOL * (1.0 + q.abs()) {
                    objective.last = Some((result.rho.clone(), current));
                    break;
                }
            }
            let fresh = if fresh.converged {
                fresh
            } else {
                match self.inner(&lambda, &fresh.beta) {
                    Ok(finished) => finished,
                    Err(EngineError::Interrupted) => return Err(EngineError::Interrupted),
                    Err(_) => break,
                }
            };
            objective.beta = fresh.beta.clone();
            objective.anchor = None;
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
        let derivatives = self.rho_derivatives(&inner, &rho, &free, true);
        let (dbeta, hess) = (derivatives.dbeta, derivatives.hess.expect("the Hessian was asked for"));
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

    /// Searches again from `from.0` (the inner fits from coefficients `from.1` when
    /// given, else from where the objective is) and takes that end in place of
    /// `result` when its criterion is below `beat`; otherwise puts the objective's
    /// coefficients back, so that `result` stands as it was. Returns the
    /// iterations the search took.
    fn search_again(
        &self,
        objective: &mut GeneralObjective<'_, '_>,
        from: (&[f64], Option<Vec<f64>>),
        beat: f64,
        settings: &NewtonSettings,
        monitor: &mut outer::Monitor<'_>,
        result: &mut outer::OuterResult,
    ) -> Result<usize> {
        let kept = objective.beta.clone();
        if let Some(beta) = from.1 {
            // The last point's first-order prediction is no start for other coefficients.
            objective.beta = beta;
            objective.anchor = None;
        }
        let again = outer::newton(objective, from.0, settings, monitor)?;
        let iterations = again.iterations;
        if again.eval.value < beat {
            *result = again;
        } else {
            objective.beta = kept;
            objective.last = None;
            objective.anchor = None;
        }
        Ok(iterations)
    }

    pub(super) fn penalty_lambda(&self, rho: &[f64]) -> Vec<f64> {
        self.penalty_rho(rho).iter().map(|r| r.exp()).collect()
    }

    /// Where the fit starts (as mgcv's general families' `initialize`): each
    /// predictor in turn by a penalized least squares fit of the family's start
    /// targets, its penalties at mgcv's initial smoothing parameters (for the
    /// model matrix's own cross products), so that the first Newton steps start
    /// near the optimum rather than from constants.
    pub(super) fn start_coefficients(&self) -> Vec<f64> {
        let (p, k) = (self.p(), self.k());
        // Each predictor's own cross products (its blocks' cross terms included).
        let unit: Vec<Vec<f64>> =
            (0..k * k).map(|ab| if ab / k == ab % k { vec![1.0; self.n()] } else { Vec::new() }).collect();
        let xtx = self.weighted_gram(&unit);
        let lambda: Vec<f64> = initial_rho(&xtx, &self.penalties).iter().map(|r| r.exp()).collect();
        let mut a_mat = xtx;
        self.penalties.add_to(&mut a_mat, &lambda);
        let mut beta = vec![0.0; p];
        let mut earlier: Vec<Vec<f64>> = Vec::new();
        let links = self.likelihood.links();
        for a in 0..k {
            // Cox's model starts at zero coefficients, as mgcv's `cox.ph` does.
            let target = match &self.likelihood {
                Likelihood::Rows(family) => family.start_targets(a, self.y, &earlier),
                Likelihood::Cox(_) => vec![0.0; self.n()],
                // Each response about its own predictor.
                Likelihood::Mvn(_) => self.y[a * self.n()..(a + 1) * self.n()].to_vec(),
                Likelihood::Softmax(_) => softmax::start_targets(a, self.y),
            };
            let off = &self.offset[a];
            let z: Array1<f64> =
                target.iter().enumerate().map(|(i, t)| t - off.get(i).copied().unwrap_or(0.0)).collect();
            // A shared block is fitted with each predictor in turn; the last one's
            // values are the start.
            let cols = self.columns(a);
            let xa = self.x.select(Axis(1), &cols);
            let rhs = xa.t().dot(&z);
            let block = a_mat.select(Axis(0), &cols).select(Axis(1), &cols);
            let solved = Self::factor_with_ridge(&block).map(|(f, _)| f.solve_vec(rhs.as_slice().expect("contiguous")));
            if let Some(b) = solved.filter(|b| b.iter().all(|v| v.is_finite())) {
                cols.iter().zip(b.iter()).for_each(|(&c, v)| beta[c] = *v);
            }
            let eta = xa.dot(&Array1::from(cols.iter().map(|&c| beta[c]).collect::<Vec<f64>>()));
            earlier.push(
                eta.iter().enumerate().map(|(i, e)| links[a].inverse(e + off.get(i).copied().unwrap_or(0.0))).collect(),
            );
        }
        if let Likelihood::Mvn(stats) = &self.likelihood {
            stats.start_theta(&mut beta);
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
        // Where the log likelihood is not concave in the coefficients at the fit (its
        // Hessian indefinite, as shash's can be), mgcv's covariances and edf use the
        // Hessian with its negative eigenvalues set to zero (`gam.fit5.post.proc`);
        // the criterion keeps the Hessian itself.
        let mut penalized = inner.hd.clone();
        self.penalties.add_to(&mut penalized, &self.penalty_lambda(rho));
        let floored = floor_negative_curvature(&inner.hd, &penalized);
        let (hd, vp) = match &floored {
            Some(h) => {
                let mut total = h.clone();
                self.penalties.add_to(&mut total, &self.penalty_lambda(rho));

                match SpdFactor::new(total.view()) {
                    Some(factor) => (h, factor.inverse()),
                    None => (&inner.hd, inner.factor.inverse()),
                }
            }
            None => (&inner.hd, inner.factor.inverse()),
        };
        let f = linalg::matmul(vp.view(), hd.view(), self.settings.threads);
        let edf: Vec<f64> = f.diag().to_vec();
        let ff = linalg::matmul(f.view(), f.view(), self.settings.threads);
        let edf1: Vec<f64> = edf.iter().zip(ff.diag()).map(|(e, q)| 2.0 * e - q).collect();
        let ve = linalg::matmul(f.view(), vp.view(), self.settings.threads);
        let parameters = self.parameters_of(&inner.eta);
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
                    let g = hd.slice(s![r.clone(), r.clone()]).to_owned();
                    let rank = edf1[r.clone()].iter().sum::<f64>().min(r.len() as f64);
                    term_tests::wald_test(&b, &g, &v, rank)
                }
            })
            .collect();
        let criterion = self.criterion(&inner, rho);
        let corrected = uncertainty::corrected(
            hd,
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
            rho: rho.to_vec(),
            sp: rho.iter().map(|r| r.exp()).collect(),
            iterations: result.iterations,
            termination: result.termination,
            inner_converged: inner.converged,
            gradient: result.eval.grad.to_vec(),
            eta: inner.eta,
            parameters,
            term_tests,
        }
    }
}

/// `h` with its negative eigenvalues replaced by zero, when it has any, both taken
/// after scaling by `D = diag(penalized)^-1/2` (mgcv's scaling of the penalized
/// Hessian): `D^-1 floor(D h D) D^-1`.
fn floor_negative_curvature(h: &Array2<f64>, penalized: &Array2<f64>) -> Option<Array2<f64>> {
    let d: Vec<f64> = penalized.diag().iter().map(|v| if *v > 0.0 { 1.0 / v.sqrt() } else { 1.0 }).collect();
    let scaled = Array2::from_shape_fn(h.dim(), |(i, j)| d[i] * h[(i, j)] * d[j]);
    let (values, vectors) = linalg::sym_eigen(scaled.view());
    if values.iter().all(|v| *v >= 0.0) {
        return None;
    }
    let floored = linalg::from_eigen(&values, &vectors, |v| v.max(0.0));
    Some(Array2::from_shape_fn(h.dim(), |(i, j)| floored[(i, j)] / (d[i] * d[j])))
}

/// The criterion as a function of the free log smoothing parameters, keeping the last
/// inner fit (so that the derivatives at an accepted point cost no second fit) and
/// starting each inner fit from the last coefficients.
struct GeneralObjective<'m, 'a> {
    model: &'m GeneralModel<'a>,
    free: Vec<usize>,
    beta: Vec<f64>,
    last: Option<(Vec<f64>, Inner)>,
    anchor: Option<Anchor>,
}

/// The last point evaluated with derivatives: its parameters, coefficients and
/// `d beta / d rho`, from which a fit elsewhere starts at the first-order prediction
/// of its coefficients.
type Anchor = (Vec<f64>, Vec<f64>, Vec<Vec<f64>>);

impl GeneralObjective<'_, '_> {
    /// The inner fit at `values` from `start`. A point asked for its value only (a
    /// line search's trial, a probe) gets `TRIAL_STEPS` Newton steps: where the
    /// inner fit has not converged by then (or ends where its Hessian is not
    /// positive definite) it is no point to compare criteria at, and the trial
    /// fails as a singular one does (the step is shortened). From a start in a
    /// non-convex region an inner fit can crawl: gumbls at 2e4 (one response
    /// seed) spent all 200 steps, 1.3 s of its 2.8 s, at a point of its first
    /// line search, and took that unconverged fit as the step's end.
    fn fit_at(&self, values: &[f64], start: &[f64], value_only: bool) -> Result<Inner> {
        let lambda = self.model.penalty_lambda(&self.model.full_rho(&self.free, values));
        if !value_only {
            return self.model.inner(&lambda, start);
        }
        let inner = self.model.inner_within(&lambda, start, TRIAL_STEPS)?;
        if !inner.converged {
            return Err(EngineError::NotIdentifiable {
                detail: format!("the inner fit at a trial point did not converge in {TRIAL_STEPS} Newton steps"),
            });
        }
        Ok(inner)
    }
}

impl Objective for GeneralObjective<'_, '_> {
    fn coefficient_change(&self, rho: &[f64], dir: &[f64]) -> Option<f64> {
        let (at, beta, dbeta) = self.anchor.as_ref()?;
        if at.as_slice() != rho {
            return None;
        }
        let top = beta.iter().fold(0.0_f64, |m, v| m.max(v.abs()));
        let change = (0..beta.len())
            .map(|i| dbeta.iter().zip(dir).map(|(db, d)| db[i] * d).sum::<f64>().abs())
            .fold(0.0_f64, f64::max);
        Some(if top > 0.0 { change / top } else { change })
    }

    fn evaluate(&mut self, values: &[f64], derivatives: bool) -> Result<Eval> {
        let reuse = matches!(&self.last, Some((r, _)) if r.as_slice() == values);
        if !reuse {
            let inner = match &self.anchor {
                Some((at, beta, dbeta)) => {
                    let mut start = beta.clone();
                    for (j, db) in dbeta.iter().enumerate() {
                        let step = values[j] - at[j];
                        start.iter_mut().zip(db).for_each(|(b, d)| *b += step * d);
                    }
                    // After a long step the prediction can be worse than the point
                    // itself: the inner fit starts from whichever is better.
                    let rho = self.model.full_rho(&self.free, values);
                    let lambda = self.model.penalty_lambda(&rho);
                    let start = if self.model.penalized_objective(&lambda, &start)
                        < self.model.penalized_objective(&lambda, beta)
                    {
                        start
                    } else {
                        beta.clone()
                    };
                    self.fit_at(values, &start, !derivatives)?
                }
                None => self.fit_at(values, &self.beta.clone(), !derivatives)?,
            };
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
        let d = self.model.rho_derivatives(inner, &rho, &self.free, true);
        let (grad, hess) = (d.grad, d.hess.expect("the Hessian was asked for"));
        self.anchor = Some((values.to_vec(), inner.beta.clone(), d.dbeta));
        Ok(Eval { value, grad: Array1::from(grad), hess, coefficients: self.beta.clone() })
    }
}
