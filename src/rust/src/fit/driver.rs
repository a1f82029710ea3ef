//! The fit's driver: `prepare` builds the model and its first pass over the data,
//! `Prepared::optimize` chooses the smoothing parameters (and a family parameter
//! searched by refitting) with the outer Newton iteration from a cold or warm start,
//! and `Prepared::verify` checks a stored fit (Wood 2011; Wood, Pya & Saefken 2016).

use ndarray::{Array1, Array2};

use crate::error::{EngineError, Result};
use crate::family::ParameterSearch;
use crate::linalg;

use super::design::{design, penalty_set, Design};
use super::gaussian::{self, Gram};
use super::given::given_parameters;
use super::glm::GlmObjective;
use super::laml::{self, LamlSettings};
use super::outer::{newton, Eval, NewtonSettings, Objective, OuterResult};
use super::passes::{gram, model_matrix, MAX_DESIGN_BYTES};
use super::penalty::PenaltySet;
use super::pirls::GlmData;
use super::problem::{full_rho, initial_rho, penalty_rho, Criterion, FreeObjective};
use super::report::{finish, finish_glm, FitResult};
use super::spec::{validate, ModelSpec};
use super::start::ProbeAt;
use super::{family_search, rows, uncertainty};

/// One accepted outer iterate, as a fit reports it to its caller.
pub struct Iterate<'a> {
    /// Outer iterations done in this fit.
    pub iteration: usize,
    /// All log smoothing parameters (fixed ones included).
    pub rho: &'a [f64],
    pub criterion: f64,
    pub coefficients: &'a [f64],
}

/// Sees every accepted outer iterate; an error (e.g. an interrupt) stops the fit.
pub type Progress<'a> = dyn FnMut(&Iterate<'_>) -> Result<()> + 'a;

/// Where a search of the smoothing parameters starts.
#[derive(Clone, Copy, Default)]
pub(super) struct SearchStart<'s> {
    /// All parameters (the cold start when `None`).
    pub rho: Option<&'s [f64]>,
    /// Coefficients of this design for the first inner fit (a generalized fit's),
    /// when there are better ones than the first IRLS step at `rho`.
    pub coefficients: Option<&'s [f64]>,
    /// The start is a family parameter's trial (or the final fit) begun from the
    /// best trial so far: closer than performance iteration would bring it, which
    /// is therefore skipped.
    pub close: bool,
    /// A `close` start whose parameters on the criterion's plateau are checked
    /// once the search ends (`off_plateau`), as another fit's are: the best trial
    /// so far was at another value of the family's parameters.
    pub probe: bool,
}

/// How a model's criterion is computed: from `X'WX` formed once (Gaussian identity),
/// or through penalized IRLS from starting coefficients.
pub(super) enum Problem {
    Gaussian(Gram),
    Glm {
        start: Array1<f64>,
        /// `X'WX` and `X'u` at the starting means: the first IRLS step again, at
        /// other smoothing parameters, when a fit starts warm.
        first_pass: (Array2<f64>, Array1<f64>),
    },
}

/// A model ready for the outer optimization: its design, penalties, and `X'WX` (or the
/// start of its penalized IRLS).
pub struct Prepared<'a> {
    pub design: Design<'a>,
    pub(super) problem: Problem,
    /// The model matrix of a generalized fit, when held in memory.
    pub(super) x: Option<Array2<f64>>,
    pub(super) penalties: PenaltySet,
    /// Per parameter (smoothing parameters, then the family's extra parameters):
    /// `Some(log value)` when fixed.
    pub(super) fixed: Vec<Option<f64>>,
    /// Number of smoothing parameters.
    pub(super) n_smoothing: usize,
    /// The smoothing parameter of each penalty.
    pub(super) links: Vec<usize>,
    /// The cold start; the optimizer's bounds are placed around it whatever the start,
    /// so that warm and cold fits solve the same problem.
    pub(super) rho_init: Vec<f64>,
    /// How many of the family's own parameters (theta, the Tweedie power, ...) are
    /// estimated (outside these parameters, by `optimize`).
    pub(super) family_parameters: usize,
    /// Whether a search from a given start checks, once it ends, that parameters it
    /// left far from the cold start are not on a plateau a cold search would not
    /// stop on (`off_plateau`). Set for starts that are not this fit's own (a
    /// checkpoint of the store); one more inner fit when it applies.
    pub check_plateau: bool,
    /// Whether the start is another sample's optimum (a seed). Without family
    /// parameters to search, performance iteration then starts from the cold start
    /// (`uses_seed_predictor`): from the starting means, a seed's smoothing
    /// parameters alone are no closer than the cold ones (binomial folds took 4 outer
    /// iterations seeded against 3 cold).
    pub seeded: bool,
    /// The seed fit's linear predictor at this data's rows (its own bases and
    /// coefficients): performance iteration starts there, at the seed's smoothing
    /// parameters, where the working model is already close to this fit's.
    pub seed_eta: Option<Vec<f64>>,
}

/// Builds the model and makes the one pass over the data that forms `X'WX` (for a
/// generalized family: at the starting means, which also gives the first penalized
/// IRLS step), polling `interrupted` on the way.
pub fn prepare<'a>(spec: &'a ModelSpec<'_>, interrupted: &mut dyn FnMut() -> bool) -> Result<Prepared<'a>> {
    validate(spec)?;
    let design = design(spec)?;
    let (n, p) = (design.nrows(), design.ncols());
    if n < p {
        return Err(EngineError::TooFewRows { rows: n, coefficients: p });
    }
    let mut penalties = penalty_set(&design);
    penalties.aliased = spec.aliased;
    let links = design.penalty_links();
    let m = design.n_smoothing_parameters();
    let mut fixed = given_parameters(spec, &design, &links, m, &mut penalties)?;
    // A shared parameter starts from the mean of its penalties' starts.
    let pool = |per_penalty: Vec<f64>| -> Vec<f64> {
        (0..m)
            .map(|k| {
                let linked: Vec<f64> =
                    links.iter().zip(&per_penalty).filter(|(l, _)| **l == k).map(|(_, r)| *r).collect();
                linked.iter().sum::<f64>() / linked.len() as f64
            })
            .collect()
    };
    let mut x = None;
    let (problem, rho_init) = if spec.family.is_gaussian_identity() {
        let gram = gram(&design, &spec.y, &spec.weights, &spec.offset, spec.threads, interrupted)?;
        if spec.check_aliasing {
            super::aliasing::check_unpenalized(&design, &gram.xtwx)?;
        }
        let rho_init = pool(initial_rho(&gram.xtwx, &penalties));
        (Problem::Gaussian(gram), rho_init)
    } else {
        // Wide random effects stay level codes (`rows::Layout`): only the dense
        // columns are held.
        let layout = rows::Layout::of(&design);
        if n.saturating_mul(layout.dense_width()).saturating_mul(8) <= MAX_DESIGN_BYTES {
            x = Some(model_matrix(&design, &layout, spec.threads, interrupted)?);
        }
        let (xtwx, xtu) = {
            let data = GlmData::new(spec, &design, &penalties, x.as_ref());
            let eta = data.start_eta();
            if data.deviance(&eta).is_none() {
                return Err(EngineError::InvalidSpec {
                    what: "no valid starting values: the starting means are outside the family's range".into(),
                });
            }
            let (w, u) = data.working(&eta, true)?;
            data.cross_products(&w, &u, interrupted)?
        };
        if spec.check_aliasing {
            super::aliasing::check_unpenalized(&design, &xtwx)?;
        }
        let mut rho_init = pool(initial_rho(&xtwx, &penalties));
        // The first IRLS step, at the starting smoothing parameters.
        let mut h = xtwx.clone();
        penalties.add_to(&mut h, &penalty_rho(&links, &rho_init).iter().map(|r| r.exp()).collect::<Vec<_>>());
        let start = linalg::SpdFactor::new(h.view())
            .map(|f| f.solve_vec(xtu.as_slice().expect("contiguous")))
            .filter(|b| b.iter().all(|v| v.is_finite()))
            .ok_or_else(|| EngineError::NotIdentifiable {
                detail: "X'WX + S is not positive definite at the starting values; check for aliased parametric terms"
                    .into(),
            })?;
        if spec.scale_parameter() {
            // The scale starts at the Pearson statistic per observation of the first step.
            let eta = design.fitted(start.as_slice().expect("contiguous"), &spec.offset, spec.threads);
            let fam = &spec.family;
            let pearson: f64 = (0..n)
                .map(|i| {
                    let mu = fam.mean(eta[i]);
                    spec.weights[i] * (spec.y[i] - mu).powi(2) / fam.distribution.variance(mu)[0]
                })
                .sum();
            let phi = pearson / n as f64;
            rho_init.push(if phi.is_finite() && phi > 0.0 { phi.ln() } else { 0.0 });
            fixed.push(None);
        }
        (Problem::Glm { start, first_pass: (xtwx, xtu) }, rho_init)
    };
    Ok(Prepared {
        design,
        problem,
        x,
        penalties,
        fixed,
        n_smoothing: m,
        links,
        rho_init,
        family_parameters: if spec.estimate_parameter { spec.family.parameter_searches().len() } else { 0 },
        check_plateau: false,
        seeded: false,
        seed_eta: None,
    })
}

/// From this many rows a cold generalized fit starts from performance iteration.
const PERFORMANCE_FROM_ROWS: usize = 10_000;

impl<'a> Prepared<'a> {
    /// Whether performance iteration starts from the cold start though the fit is
    /// seeded (`seeded`).
    fn seed_ignored(&self) -> bool {
        self.seeded && !self.uses_seed_predictor()
    }

    /// Whether a seeded fit starts from the seed's linear predictor (`seed_eta`):
    /// with a family search, where it places the first trial's family parameters and
    /// performance iteration close to this fit's. Without one it was measured to save
    /// nothing (binomial folds with 11 smoothing parameters: two rounds of
    /// performance iteration instead of four, then the same two outer iterations to
    /// the Laplace criterion's optimum, ending elsewhere within the tolerance: fold
    /// metrics 3e-6 apart), so such a fit searches as a cold one does.
    pub fn uses_seed_predictor(&self) -> bool {
        self.family_parameters > 0
    }

    /// Number of smoothing parameters (fixed ones included).
    pub fn n_sp(&self) -> usize {
        self.fixed.len()
    }

    #[cfg(test)]
    pub(super) fn objective<'s>(&'s self, spec: &'s ModelSpec<'_>) -> FreeObjective<'s, 'a> {
        self.objective_from(spec, None)
    }

    /// The objective, whose inner fits start from `start` when given.
    pub(super) fn objective_from<'s>(
        &'s self,
        spec: &'s ModelSpec<'_>,
        start: Option<&[f64]>,
    ) -> FreeObjective<'s, 'a> {
        let criterion = match &self.problem {
            Problem::Gaussian(gram) => {
                Criterion::Gaussian { gram, penalties: &self.penalties, method: spec.method, gamma: spec.gamma }
            }
            Problem::Glm { start: first, .. } => {
                let settings = LamlSettings {
                    method: spec.method,
                    gamma: spec.gamma,
                    scale_param: spec.scale_parameter(),
                    hessian_rows: laml::HESSIAN_ROWS,
                };
                let start = match start {
                    Some(b) if b.len() == self.design.ncols() => Array1::from(b.to_vec()),
                    _ => first.clone(),
                };
                Criterion::Glm(GlmObjective::new(
                    GlmData::new(spec, &self.design, &self.penalties, self.x.as_ref()),
                    settings,
                    start,
                ))
            }
        };
        FreeObjective { criterion, fixed: &self.fixed, links: &self.links, n_sp: self.n_smoothing }
    }

    /// Chooses the smoothing parameters (and the estimated family parameters, whose
    /// search coordinates, such as `log(theta)` or the Tweedie power, follow them in
    /// `start` and in the fit's `extra`) from `start` (the cold start when `None`),
    /// and reports the fit.
    pub fn optimize(
        &self,
        spec: &ModelSpec<'_>,
        start: Option<&[f64]>,
        progress: &mut Progress<'_>,
    ) -> Result<FitResult> {
        let searches = spec.family.parameter_searches();
        if !spec.estimate_parameter || searches.is_empty() {
            return self.optimize_smoothing(spec, SearchStart { rho: start, ..SearchStart::default() }, progress);
        }
        let (n, k) = (self.n_sp(), searches.len());
        let at = |c: &[f64]| ModelSpec { family: spec.family.at_coordinates(c), ..spec.clone() };
        let blind: Vec<f64> = searches.iter().map(|s| s.start).collect();
        // A start may carry the family's parameters (a seed, or a checkpoint).
        let (mut warm, mut c0) = match start {
            Some(s) if s.len() == n + k => (Some(s[..n].to_vec()), s[n..].to_vec()),
            Some(s) if s.len() == n => (Some(s.to_vec()), blind),
            _ => (None, blind),
        };
        let (mut iterations, mut trials) = (0, 0);
        if spec.family.scale_known() {
            // Start from the parameters' maximum likelihood values at the means of one
            // inner fit at the starting values (the smoothing parameters' too). A
            // seed's values are another sample's optimum: this fit's own means place
            // its parameters closer (nb() folds: 2 to 3 trials from here, 3 to 4 from
            // the seed's theta). An inner fit that fails there (diverging at the blind
            // start) only loses this start.
            // A seed's own linear predictor at these rows (`seed_eta`) is such means
            // already, without the inner fit.
            let eta = match &self.seed_eta {
                Some(eta) => Some(eta.clone()),
                None => {
                    let first = at(&c0);
                    let mut objective = self.objective_from(&first, None);
                    let free: Vec<f64> = objective
                        .free_index()
                        .iter()
                        .map(|&j| warm.as_ref().map_or(self.rho_init[j], |w| w[j]))
                        .collect();
                    match objective.evaluate(&free, false) {
                        Err(EngineError::Interrupted) => return Err(EngineError::Interrupted),
                        Err(_) => None,
                        Ok(eval) => (eval.coefficients.len() == self.design.ncols())
                            .then(|| self.design.fitted(&eval.coefficients, &spec.offset, spec.threads)),
                    }
                }
            };
            if let Some(eta) = eta {
                if let Some(c) = self.likelihood_coordinates(spec, &eta, &searches, &c0)? {
                    c0 = c;
                }
            }
        }
        // The best trial: its criterion, all its parameters and its coefficients.
        let mut best: Option<(f64, Vec<f64>, Vec<f64>)> = None;
        let chosen = {
            // The criterion at coordinates c, with the smoothing parameters chosen
            // there, and its derivatives in c at those smoothing parameters. Each
            // search starts from the best point so far, brought within reach of the
            // criterion's slope (`seed_start`): at a poor value the smoothing
            // parameters may run off to the plateau, where a search started there
            // would stop at once. A value where the fit fails (an inner iteration
            // diverging at an extreme value) has no point; an interrupt stops the
            // search.
            let mut point = |c: &[f64]| -> Result<Option<family_search::Point>> {
                trials += 1;
                let at_c = at(c);
                let from = SearchStart {
                    rho: warm.as_deref(),
                    coefficients: best.as_ref().map(|(_, _, b)| b.as_slice()),
                    close: best.is_some(),
                    probe: true,
                };
                let (result, objective) = match self.search_smoothing(&at_c, from, progress) {
                    Err(EngineError::Interrupted) => return Err(EngineError::Interrupted),
                    Err(_) => return Ok(None),
                    Ok(found) => found,
                };
                iterations += result.iterations;
                let params = objective.full_rho(&result.rho);
                drop(objective);
                // The criterion at other values of the family's parameters, the
                // smoothing parameters held: inner fits from this trial's coefficients.
                let mut at_fixed = |cc: &[f64]| -> Result<f64> {
                    let moved = at(cc);
                    let mut objective = self.objective_from(&moved, Some(&result.eval.coefficients));
                    match objective.evaluate(&result.rho, false) {
                        Ok(eval) => Ok(eval.value),
                        Err(EngineError::Interrupted) => Err(EngineError::Interrupted),
                        Err(_) => Ok(f64::INFINITY),
                    }
                };
                // The centre of the differences is the trial's own value: an inner fit
                // there from its own coefficients gives it again (within 3e-10 of a
                // value of 4.6e4 in nb() folds: 3e-4 in the curvature at nb's steps).
                let value = result.eval.value;
                let (gradient, curvature) = family_search::finite_differences(&mut at_fixed, c, value, &searches)?;
                if best.as_ref().is_none_or(|(v, _, _)| value < *v) {
                    // The next trials start here as they are: a parameter on the
                    // plateau (a term with no effect) stays there, where the search
                    // stops at once, rather than crawling back up one unit per
                    // iteration from the edge of `seed_start`'s box (nb() folds: 3
                    // to 4 iterations per trial). The plateau check after each
                    // search (`probe`) still moves it back if that is better.
                    warm = Some(params.clone());
                    best = Some((value, params, result.eval.coefficients.clone()));
                }
                Ok(Some(family_search::Point { value, gradient, curvature }))
            };
            // Stopped where the next step promises less than a thousandth of the
            // outer tolerance: the criterion is flat there, and fitted values are
            // within 1e-6 of the minimum's.
            family_search::minimize(&mut point, &searches, &c0, 1e-3 * spec.control.tol)?
        };
        // At the search's answer, from the best trial's smoothing parameters.
        let (_, rho, coefficients) = best.ok_or_else(|| EngineError::InvalidSpec {
            what: "no value of the family's parameters gave a fit".into(),
        })?;
        // The fit at the chosen values again, from the best trial's smoothing
        // parameters and coefficients (no iterations to speak of, and no performance
        // iteration: it would start over from the starting means), now with its
        // report and the covariance corrected for their uncertainty, which the trials
        // did without.
        let from = SearchStart { rho: Some(&rho), coefficients: Some(&coefficients), close: true, probe: false };
        let mut fit = self.optimize_smoothing(&at(&chosen), from, progress)?;
        fit.family_parameters.extend_from_slice(&chosen);
        fit.iterations += iterations;
        fit.family_trials = trials;
        Ok(fit)
    }

    /// The coordinates of the family's parameters that maximize the likelihood at the
    /// means of the linear predictor `eta` (with `ls` where it depends on them; each
    /// value one pass over the means, no refits); `None` when there is no such value.
    fn likelihood_coordinates(
        &self,
        spec: &ModelSpec<'_>,
        eta: &[f64],
        searches: &[ParameterSearch],
        c0: &[f64],
    ) -> Result<Option<Vec<f64>>> {
        let mu: Vec<f64> = eta.iter().map(|&e| spec.family.mean(e)).collect();
        let minus_loglik = |c: &[f64]| -> f64 {
            let dist = spec.family.at_coordinates(c).distribution;
            let dev: f64 = (0..mu.len())
                .filter(|&i| spec.weights[i] > 0.0)
                .map(|i| {
                    let censor = spec.censor.as_ref().map_or(spec.y[i], |c| c[i]);
                    dist.censored_deviance(spec.y[i], censor, spec.weights[i], mu[i])
                })
                .sum();
            dev / 2.0 - dist.censored_saturated_loglik(&spec.y, spec.censor.as_deref(), &spec.weights, 1.0)[0]
        };
        let mut point = |c: &[f64]| -> Result<Option<family_search::Point>> {
            let value = minus_loglik(c);
            if !value.is_finite() {
                return Ok(None);
            }
            let (gradient, curvature) =
                family_search::finite_differences(&mut |cc: &[f64]| Ok(minus_loglik(cc)), c, value, searches)?;
            Ok(Some(family_search::Point { value, gradient, curvature }))
        };
        let c = family_search::minimize(&mut point, searches, c0, 1e-12)?;
        Ok(minus_loglik(&c).is_finite().then_some(c))
    }

    /// The smoothing parameters chosen at the family as `spec` gives it (its own
    /// parameter, theta or the Tweedie power, held where it is), and the fit there.
    /// Its report includes the covariance corrected for the smoothing parameters'
    /// uncertainty.
    fn optimize_smoothing(
        &self,
        spec: &ModelSpec<'_>,
        start: SearchStart<'_>,
        progress: &mut Progress<'_>,
    ) -> Result<FitResult> {
        let (mut result, mut objective) = self.search_smoothing(spec, start, progress)?;
        // The Hessian reported with the fit (and behind `gam_check()`'s report) is
        // formed from many more rows than the iterations' (every row up to
        // `REPORTED_HESSIAN_ROWS`).
        if let Criterion::Glm(g) = &mut objective.criterion {
            if self.design.nrows() > laml::HESSIAN_ROWS && !result.eval.grad.is_empty() {
                g.settings.hessian_rows = laml::REPORTED_HESSIAN_ROWS;
                result.eval = objective.evaluate(&result.rho, true)?;
            }
        }
        let params = objective.full_rho(&result.rho);
        let per_penalty = penalty_rho(&self.links, &params[..self.n_smoothing]);
        let sensitivity = self.sensitivity(spec, &mut objective, &params, &per_penalty, &result.eval.hess)?;
        let mut fit = match &mut objective.criterion {
            Criterion::Gaussian { gram, .. } => {
                finish(spec, &self.design, gram, &self.penalties, &per_penalty, &result, sensitivity)?
            }
            Criterion::Glm(g) => {
                let inner = g.inner(&per_penalty)?.clone();
                let lambda: Vec<f64> = per_penalty.iter().map(|r| r.exp()).collect();
                // mgcv's tw() reports the scale REML chose; other families Fletcher's.
                let reml_scale = (spec.estimate_parameter && spec.family.distribution.reports_criterion_scale())
                    .then(|| params.get(self.n_smoothing).map(|r| r.exp()))
                    .flatten();
                finish_glm(spec, &g.data, &inner, &lambda, &result, sensitivity, reml_scale)?
            }
        };
        fit.sp = params[..self.n_smoothing].iter().map(|r| r.exp()).collect();
        fit.family_parameters = params[self.n_smoothing..].to_vec();
        Ok(fit)
    }

    /// The search of `optimize_smoothing`, without the fit's report.
    fn search_smoothing<'s>(
        &'s self,
        spec: &'s ModelSpec<'_>,
        from: SearchStart<'_>,
        progress: &mut Progress<'_>,
    ) -> Result<(OuterResult, FreeObjective<'s, 'a>)> {
        let SearchStart { rho: start, coefficients, close, probe } = from;
        // A generalized fit started warm takes its first coefficients from the given
        // ones, else from the first IRLS step at the warm start's smoothing
        // parameters, not the cold start's: far from them, the inner iteration would
        // need many steps to get there.
        let given = coefficients.filter(|b| b.len() == self.design.ncols()).map(<[f64]>::to_vec);
        let warm_coefficients = match (&self.problem, start) {
            _ if given.is_some() => given,
            (Problem::Glm { first_pass: (xtwx, xtu), .. }, Some(rho)) if rho.len() == self.n_sp() => {
                let mut h = xtwx.clone();
                let lambda: Vec<f64> =
                    penalty_rho(&self.links, &rho[..self.n_smoothing]).iter().map(|r| r.exp()).collect();
                self.penalties.add_to(&mut h, &lambda);
                linalg::SpdFactor::new(h.view())
                    .map(|f| f.solve_vec(xtu.as_slice().expect("contiguous")).to_vec())
                    .filter(|b| b.iter().all(|v| v.is_finite()))
            }
            _ => None,
        };
        // A generalized fit of many rows starts where performance iteration leaves
        // it (`performance_start`, from the given start when there is one): few
        // passes over the data bring it close, closer than another sample's optimum
        // (a seed) is, since they bring the coefficients close too.
        let performance = match &self.problem {
            Problem::Glm { .. } if self.design.nrows() >= PERFORMANCE_FROM_ROWS && !(close && start.is_some()) => {
                let from = start.filter(|s| s.len() == self.n_sp() && !self.seed_ignored()).unwrap_or(&self.rho_init);
                self.performance_start(spec, from, self.seed_eta.as_deref()).ok().flatten()
            }
            _ => None,
        };
        let warm_coefficients = match &performance {
            Some((_, beta)) => Some(beta.to_vec()),
            None => warm_coefficients,
        };
        // Whether the search's end is checked for a plateau (`off_plateau`):
        // - a start from another fit, against the cold start; not a seeded fit that
        //   ran performance iteration from the cold start (it searches as a cold one
        //   does: there is no other start to check);
        // - a trial started from the best trial so far (`probe`), against the cold
        //   start and then the edge of the box a seed is kept to (the criterion
        //   between the plateau and the cold start need not fall monotonically):
        //   that trial was at other values of the family's parameters. Not the
        //   final fit, from the best trial's own result at nearly its values: that
        //   search checked it.
        let checked: &[ProbeAt] = if close {
            if probe {
                &[ProbeAt::Cold, ProbeAt::Edge]
            } else {
                &[]
            }
        } else if self.check_plateau
            && start.is_some_and(|s| s != &self.rho_init[..])
            && !(self.seed_ignored() && performance.is_some())
        {
            &[ProbeAt::Cold]
        } else {
            &[]
        };
        let start = performance.as_ref().map(|(rho, _)| rho.as_slice()).or(start);
        let mut objective = self.objective_from(spec, warm_coefficients.as_deref());
        let free = objective.free_index();
        let from = start.filter(|s| s.len() == self.n_sp()).unwrap_or(&self.rho_init);
        let start: Vec<f64> = free.iter().map(|&j| from[j]).collect();
        let (lower, upper) = self.bounds(&free);
        let settings = NewtonSettings {
            max_iter: spec.control.max_iter,
            tol: spec.control.tol,
            max_step: spec.control.max_step,
            lower,
            upper,
        };
        let fixed = &self.fixed;
        let mut monitor = |iteration: usize, rho: &[f64], eval: &Eval| -> Result<()> {
            let full = full_rho(fixed, rho);
            progress(&Iterate { iteration, rho: &full, criterion: eval.value, coefficients: &eval.coefficients })
        };
        let mut result = match newton(&mut objective, &start, &settings, &mut monitor) {
            // A warm start (from a fit to other data) where this model's penalized
            // system is numerically singular: start cold instead.
            Err(EngineError::NotIdentifiable { .. }) if from != &self.rho_init[..] => {
                let cold: Vec<f64> = free.iter().map(|&j| self.rho_init[j]).collect();
                newton(&mut objective, &cold, &settings, &mut monitor)?
            }
            other => other?,
        };
        // A start from elsewhere (a checkpoint) may sit on a plateau where the
        // criterion is flat and the search stops at once, which a cold search,
        // coming from `rho_init`, would not reach: move such parameters back and
        // search again if that is better.
        for &to in checked {
            if let Some(restart) =
                self.off_plateau(&mut objective, &free, &result.rho, result.eval.value, spec.control.tol, to)?
            {
                result = newton(&mut objective, &restart, &settings, &mut monitor)?;
                break;
            }
        }
        Ok((result, objective))
    }

    /// How the fit moves with the free smoothing parameters at the optimum, for the
    /// covariance corrected for their uncertainty; `None` under GCV/UBRE (which has
    /// no likelihood to give them a distribution, as in mgcv) or with none to estimate.
    fn sensitivity(
        &self,
        spec: &ModelSpec<'_>,
        objective: &mut FreeObjective<'_, '_>,
        params: &[f64],
        per_penalty: &[f64],
        hess: &Array2<f64>,
    ) -> Result<Option<uncertainty::Sensitivity>> {
        let free_sp: Vec<usize> = objective.free_index().into_iter().filter(|&j| j < self.n_smoothing).collect();
        if spec.method.prediction_error() || free_sp.is_empty() || hess.is_empty() {
            return Ok(None);
        }
        let (per_penalty_db, scale_terms) = match &mut objective.criterion {
            Criterion::Gaussian { gram, penalties, method, gamma } => {
                let pls = gaussian::pls_fit(gram, penalties, per_penalty)?;
                (
                    gaussian::beta_sensitivities(&pls, penalties),
                    Some(gaussian::scale_curvature(gram, penalties, *method, *gamma, &pls)),
                )
            }
            Criterion::Glm(g) => {
                (g.beta_derivatives(per_penalty, params.get(self.n_smoothing).copied().unwrap_or(0.0))?, None)
            }
        };
        let p = per_penalty_db.nrows();
        let m = free_sp.len();
        // Each penalty's free parameter, if its parameter is free.
        let column_of: Vec<Option<usize>> =
            self.links.iter().map(|&link| free_sp.iter().position(|&j| j == link)).collect();
        let mut db_drho = Array2::<f64>::zeros((p, m));
        let mut lambda_of = vec![vec![0.0; per_penalty.len()]; m];
        for (i, c) in column_of.iter().enumerate() {
            if let Some(c) = *c {
                db_drho.column_mut(c).scaled_add(1.0, &per_penalty_db.column(i));
                lambda_of[c][i] = per_penalty[i].exp();
            }
        }
        // The Gaussian criterion profiles the scale out: put its row and column back
        // (`gaussian::scale_curvature`), so that the inverse is mgcv's.
        let hess = match scale_terms {
            Some((curvature, cross)) => {
                let mut v = vec![0.0; m];
                for (i, c) in column_of.iter().enumerate() {
                    if let Some(c) = *c {
                        v[c] += cross[i];
                    }
                }
                Array2::from_shape_fn((m + 1, m + 1), |(a, b)| match (a < m, b < m) {
                    (true, true) => hess[(a, b)] + v[a] * v[b] / curvature,
                    (true, false) => v[a],
                    (false, true) => v[b],
                    (false, false) => curvature,
                })
            }
            None => hess.clone(),
        };
        Ok(Some(uncertainty::Sensitivity { db_drho, hess, lambda_of, ridge: uncertainty::SECOND_ORDER_RIDGE }))
    }

    /// Whether a stored fit is what this model gives at the stored smoothing
    /// parameters: one inner fit there must reproduce its criterion value and
    /// coefficients, and the gradient must be as small as convergence left it.
    pub fn verify(&self, spec: &ModelSpec<'_>, stored: &FitResult) -> bool {
        let mut rho: Vec<f64> =
            stored.sp.iter().map(|l| l.ln()).chain(stored.family_parameters.iter().copied()).collect();
        if rho.len() != self.n_sp() + self.family_parameters {
            return false;
        }
        // At the stored family parameters, when they were estimated.
        let at;
        let spec = if self.family_parameters > 0 {
            let c = rho.split_off(self.n_sp());
            at = ModelSpec { family: spec.family.at_coordinates(&c), ..spec.clone() };
            &at
        } else {
            spec
        };
        let mut objective = self.objective_from(spec, Some(&stored.coefficients));
        let free_index = objective.free_index();
        let free: Vec<f64> = free_index.iter().map(|&j| rho[j]).collect();
        // Where a cold search can go at all.
        let (lower, upper) = self.bounds(&free_index);
        if free.iter().zip(lower.iter().zip(&upper)).any(|(r, (lo, hi))| !(lo <= r && r <= hi)) {
            return false;
        }
        let Ok(eval) = objective.evaluate(&free, true) else { return false };
        // Not a plateau a cold search would not stop on.
        if !matches!(
            self.off_plateau(&mut objective, &free_index, &free, eval.value, spec.control.tol, ProbeAt::Cold),
            Ok(None)
        ) {
            return false;
        }
        let scale = 1.0 + eval.value.abs();
        let close = |a: f64, b: f64| (a - b).abs() <= 1e-8 * (1.0 + a.abs().max(b.abs()));
        // Convergence leaves the gradient below `tol * scale`; a bound-pinned
        // parameter may keep a larger one pointing outwards, as may a fit that
        // stopped on `no progress` at the looser sqrt(tol) level.
        let max_grad = eval.grad.iter().fold(0.0_f64, |a, g| a.max(g.abs()));
        let grad_ok = max_grad <= spec.control.tol.sqrt() * scale
            || stored.gradient.iter().zip(eval.grad.iter()).all(|(a, b)| close(*a, *b));
        close(eval.value, stored.criterion)
            && grad_ok
            && eval.coefficients.len() == stored.coefficients.len()
            && eval.coefficients.iter().zip(&stored.coefficients).all(|(a, b)| close(*a, *b))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::basis::SmoothSpec;
    use crate::fit::uniform_stream;
    use ndarray::ShapeBuilder;
    use std::borrow::Cow;

    /// The fitted values, evaluated term by term without the model matrix, against
    /// the model matrix (chunk by chunk) times the coefficients.
    #[test]
    fn fitted_values_match_the_model_matrix() {
        let n = 1500;
        let x: Vec<f64> = (0..n).map(|i| ((i * 7919) % n) as f64 / n as f64).collect();
        let z: Vec<f64> = (0..n).map(|i| ((i * 104_729) % 1013) as f64 / 1013.0).collect();
        let by: Vec<f64> = (0..n).map(|i| 1.0 + (i % 3) as f64).collect();
        let smooth = |bs: &str, vars: Vec<Vec<f64>>, by: Option<Vec<f64>>| SmoothSpec {
            by: by.clone().map(Cow::Owned),
            ..SmoothSpec::for_tests(&format!("s.{bs}.{}", by.is_some()), bs, 9, vars)
        };
        let xp = Array2::from_shape_fn((n, 2).f(), |(i, j)| if j == 0 { 1.0 } else { z[i] });
        let smooths = vec![
            smooth("cr", vec![x.clone()], None),
            smooth("cc", vec![z.clone()], Some(by.clone())),
            smooth("ps", vec![x.clone()], Some(by)),
            smooth("tp", vec![x.clone(), z.clone()], None),
        ];
        let spec = ModelSpec::for_tests(z.clone(), xp, smooths);
        let design = design(&spec).unwrap();
        let p = design.ncols();
        let b: Vec<f64> = (0..p).map(|j| ((j * 37) % 11) as f64 - 5.0).collect();
        let got = design.fitted(&b, &vec![0.0; n], 2);
        let mut buf = Array2::zeros((CHUNK, p).f());
        let mut scratch = Vec::new();
        let mut max_err = 0.0_f64;
        for start in (0..n).step_by(CHUNK) {
            let rows = CHUNK.min(n - start);
            design.fill_rows(start, rows, &mut buf, &mut scratch);
            for r in 0..rows {
                let want: f64 = (0..p).map(|j| buf[(r, j)] * b[j]).sum();
                max_err = max_err.max((got[start + r] - want).abs() / (1.0 + want.abs()));
            }
        }
        assert!(max_err < 1e-11, "{max_err}");
    }

    const CHUNK: usize = 400;

    /// The model matrix formed in blocks of rows on two threads (and its terms
    /// built on two) is the one formed on one.
    #[test]
    fn model_matrix_on_threads_matches_one_thread() {
        let n = 45_000;
        let mut u = uniform_stream(3);
        let x: Vec<f64> = (0..n).map(|_| u()).collect();
        let z: Vec<f64> = (0..n).map(|_| u()).collect();
        let xp = Array2::from_shape_fn((n, 1).f(), |_| 1.0);
        let smooths = vec![
            SmoothSpec::for_tests("s(x)", "cr", 10, vec![x.clone()]),
            SmoothSpec::for_tests("s(z)", "ps", 8, vec![z]),
            SmoothSpec::for_tests("s(x, bs = \"cc\")", "cc", 6, vec![x]),
        ];
        let spec =
            |threads: usize| ModelSpec { threads, ..ModelSpec::for_tests(vec![0.0; n], xp.clone(), smooths.clone()) };
        let (one, two) = (spec(1), spec(2));
        let (d1, d2) = (design(&one).unwrap(), design(&two).unwrap());
        let a = model_matrix(&d1, &rows::Layout::dense(&d1), 1, &mut || false).unwrap();
        let b = model_matrix(&d2, &rows::Layout::dense(&d2), 2, &mut || false).unwrap();
        assert_eq!(a.dim(), b.dim());
        assert!(a.iter().zip(b.iter()).all(|(p, q)| p == q));
        // An interrupt on the calling thread stops the others too.
        let mut polls = 0;
        let stopped = model_matrix(&d2, &rows::Layout::dense(&d2), 2, &mut || {
            polls += 1;
            polls > 2
        });
        assert!(matches!(stopped, Err(EngineError::Interrupted)));
    }
}
