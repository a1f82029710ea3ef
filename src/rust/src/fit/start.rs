//! Where an outer search starts: the box around the cold start that every search
//! keeps to, a checkpoint or a seed from another fit brought into it, the check that
//! a search from elsewhere did not stop on a plateau a cold search would leave, and
//! performance iteration, the start of a large generalized fit.

use ndarray::Array1;

use crate::error::{EngineError, Result};

use super::driver::{Prepared, Problem};
use super::gaussian::Gram;
use super::outer::{newton, Eval, NewtonSettings, Objective};
use super::pirls::GlmData;
use super::problem::{Criterion, FreeObjective};
use super::spec::{GivenStart, Method, ModelSpec};

/// How far (in log smoothing parameter) a start from elsewhere may lie from the cold
/// start: far enough for any optimum a cold search finds nearby, near enough that
/// the criterion is not yet flat (it flattens like `exp(-|rho - rho_init|)`).
pub(super) const SEED_RANGE: f64 = 10.0;

/// Where `Prepared::off_plateau` puts back a parameter on the plateau.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(super) enum ProbeAt {
    Cold,
    Edge,
}

/// Whether a log smoothing parameter `rho` lies on the criterion's plateau as seen
/// from the cold start `cold`: further than `SEED_RANGE` from it, where its term is
/// shrunk to the penalty's null space or left unpenalized.
pub(super) fn on_plateau(rho: f64, cold: f64) -> bool {
    (rho - cold).abs() > SEED_RANGE
}

/// Where a plateau check (`ProbeAt`) puts a log smoothing parameter `rho` whose cold
/// start is `cold`: unchanged unless it lies on the plateau.
pub(super) fn plateau_probe(rho: f64, cold: f64, to: ProbeAt) -> f64 {
    if !on_plateau(rho, cold) {
        return rho;
    }
    match to {
        ProbeAt::Cold => cold,
        ProbeAt::Edge => cold + SEED_RANGE.copysign(rho - cold),
    }
}

impl Prepared<'_> {
    /// A checkpoint of this very problem, kept where a cold search can go (`bounds`):
    /// an iterate of a cold search lies inside that box already, so a resumed search
    /// goes on along the cold path (and files the cold answer); a stale or planted
    /// one is brought to the box's edge, where `off_plateau` checks what the search
    /// makes of it.
    pub fn resume_start(&self, checkpoint: &[f64]) -> Option<Vec<f64>> {
        let n = self.n_sp();
        if !(checkpoint.len() == n || checkpoint.len() == n + self.family_parameters) {
            return None;
        }
        let (lower, upper) = self.bounds(&(0..n).collect::<Vec<_>>());
        Some(checkpoint.iter().enumerate().map(|(j, r)| if j < n { r.clamp(lower[j], upper[j]) } else { *r }).collect())
    }

    /// A start taken from a fit to other data, made safe to start from. Beyond a
    /// certain distance from the balanced start a smoothing parameter sits on the
    /// criterion's plateau (a term fully penalized, or not at all), where the
    /// gradient vanishes: started there, the optimizer would stop there even when this
    /// data's optimum is a finite value it would reach from a cold start. Within
    /// `e^10` of the balanced start the criterion still slopes towards the optimum.
    pub fn seed_start(&self, seed: &[f64]) -> Option<Vec<f64>> {
        // Estimated family parameters (log theta) follow, and are kept as they are.
        let n = self.n_sp();
        (seed.len() == n || seed.len() == n + self.family_parameters).then(|| {
            seed.iter()
                .zip(&self.rho_init)
                .map(|(r, i)| r.clamp(i - SEED_RANGE, i + SEED_RANGE))
                .chain(seed[n..].iter().copied())
                .collect()
        })
    }

    /// The caller's start (mgcv's `in.out`) as a seed: its smoothing parameters, then
    /// the scale where it is searched (the cold start's when not given), brought
    /// within `SEED_RANGE` of the cold start as any seed is.
    pub fn given_start(&self, given: &GivenStart) -> Result<Vec<f64>> {
        if given.log_sp.len() != self.n_smoothing || given.log_sp.iter().any(|v| !v.is_finite()) {
            return Err(EngineError::InvalidSpec {
                what: format!(
                    "`in.out$sp` must hold {} positive smoothing parameters, one per smoothing parameter of the model; it has {}",
                    self.n_smoothing,
                    given.log_sp.len()
                ),
            });
        }
        let mut rho = given.log_sp.clone();
        if self.n_sp() > self.n_smoothing {
            rho.push(given.log_scale.filter(|v| v.is_finite()).unwrap_or(self.rho_init[self.n_smoothing]));
        }
        Ok(self.seed_start(&rho).expect("a start of the model's shape"))
    }

    /// The box around the cold start that a search of the `free` parameters keeps to.
    ///
    /// The start balances each penalty against its block of X'WX. Far below it a
    /// term is unpenalized to working precision. Far above it the fit no longer
    /// changes (the term's penalized part is shrunk by e^-25 ~ 1e-11), while the
    /// penalized system loses digits: with the penalty e^k times the data, the
    /// penalty's null space keeps only ~16 - k/2.3 of them, and beyond ~e^30 the
    /// criterion is numerical noise an optimizer would wander in, to a point that
    /// depends on where it started. Penalized IRLS needs more: its Newton steps
    /// are solves with that system, and at e^25 they are rounding noise in the
    /// penalty's null space (a step halving cannot repair), so a generalized fit
    /// stops at e^20, where the penalized part is already shrunk by ~2e-9.
    pub(super) fn bounds(&self, free: &[usize]) -> (Vec<f64>, Vec<f64>) {
        let reach = if matches!(self.problem, Problem::Glm { .. }) { 20.0 } else { 25.0 };
        let lower = free.iter().map(|&j| self.rho_init[j] - 40.0).collect();
        let upper = free.iter().map(|&j| self.rho_init[j] + if j < self.n_smoothing { reach } else { 25.0 }).collect();
        (lower, upper)
    }

    /// For a point `rho` (of the `free` parameters) at which the criterion is
    /// `value`: when some smoothing parameters lie more than `SEED_RANGE` from the
    /// cold start, the point with those put back (`to`), if the criterion is lower
    /// there (by more than the tolerance).
    /// - At the cold start: a cold search starts there and goes downhill; a point
    ///   beyond a plateau that is higher than it is not where a cold search ends,
    ///   however flat the criterion is around it.
    /// - At the edge of `seed_start`'s box, on the plateau's side: lower there, the
    ///   criterion slopes down from the plateau to an optimum between the two, which
    ///   a search started on the plateau would not see.
    pub(super) fn off_plateau(
        &self,
        objective: &mut FreeObjective<'_, '_>,
        free: &[usize],
        rho: &[f64],
        value: f64,
        tol: f64,
        to: ProbeAt,
    ) -> Result<Option<Vec<f64>>> {
        let mut probe = rho.to_vec();
        for (i, &j) in free.iter().enumerate().filter(|(_, &j)| j < self.n_smoothing) {
            probe[i] = plateau_probe(rho[i], self.rho_init[j], to);
        }
        if probe == rho {
            return Ok(None);
        }
        Ok(match objective.evaluate(&probe, false) {
            Ok(eval) if eval.value < value - tol * (1.0 + value.abs()) => Some(probe),
            Err(EngineError::Interrupted) => return Err(EngineError::Interrupted),
            _ => None,
        })
    }

    /// A start for a generalized fit by performance iteration (Gu 1992, SIAM J. Sci.
    /// Stat. Comput. 13:1059; Wood 2017 §6.1.1, mgcv's `bam`): alternate one Fisher
    /// scoring step's working linear model with the choice of its smoothing parameters
    /// by the Gaussian criterion (no further pass over the data), until the smoothing
    /// parameters settle. Each round costs one pass; the exact Laplace criterion's
    /// optimum, which the Newton iteration then finds, is usually a few steps away.
    /// It starts from `eta` when given (a seed's linear predictor at these rows), else
    /// from the starting means.
    /// Returns all parameters (the family's extra ones as `from` has them) and the last
    /// coefficients; `None` when a round fails (the start is used as it is).
    pub(super) fn performance_start(
        &self,
        spec: &ModelSpec<'_>,
        from: &[f64],
        eta: Option<&[f64]>,
    ) -> Result<Option<(Vec<f64>, Array1<f64>)>> {
        const ROUNDS: usize = 8;
        const SETTLED: f64 = 0.02;
        let Problem::Glm { first_pass, .. } = &self.problem else { return Ok(None) };
        let data = GlmData::new(spec, &self.design, &self.penalties, self.x.as_ref());
        let m = self.n_smoothing;
        let mut rho = from.to_vec();
        // From a seed's linear predictor where it gives valid means, else from the
        // starting means (whose cross products `prepare` formed already).
        let given = eta.filter(|e| e.len() == self.design.nrows() && data.deviance(e).is_some());
        let mut eta = given.map_or_else(|| data.start_eta(), <[f64]>::to_vec);
        let mut beta = None;
        for round in 0..ROUNDS {
            let (w, u) = data.working(&eta, true)?;
            let (xtwx, xtwy) = if round == 0 && given.is_none() {
                first_pass.clone()
            } else {
                data.cross_products(&w, &u, &mut || false)?
            };
            let positive = || w.iter().zip(&u).filter(|(w, _)| **w > 0.0);
            let gram = Gram {
                xtwx,
                xtwy,
                ytwy: positive().map(|(w, u)| u * u / w).sum(),
                n: positive().count() as f64,
                sum_log_w: positive().map(|(w, _)| w.ln()).sum(),
            };
            // (GACV's start is GCV's: the working model is Gaussian, where they differ little.)
            let method = if spec.method.prediction_error() { Method::Gcv } else { Method::Reml };
            let mut working = FreeObjective {
                criterion: Criterion::Gaussian { gram: &gram, penalties: &self.penalties, method, gamma: spec.gamma },
                fixed: &self.fixed[..m],
                links: &self.links,
                n_sp: m,
            };
            let free = working.free_index();
            let settings = NewtonSettings {
                max_iter: 50,
                tol: 1e-6,
                max_step: spec.control.max_step,
                lower: free.iter().map(|&j| self.rho_init[j] - 40.0).collect(),
                upper: free.iter().map(|&j| self.rho_init[j] + 20.0).collect(),
            };
            let from: Vec<f64> = free.iter().map(|&j| rho[j]).collect();
            let result = newton(&mut working, &from, &settings, &mut |_: usize, _: &[f64], _: &Eval| Ok(()))?;
            let next = working.full_rho(&result.rho);
            // A parameter beyond `SEED_RANGE` of the cold start before and after the
            // round is on the criterion's plateau (its term shrunk to the penalty's
            // null space, or unpenalized), where it drifts by whole units per round
            // with no effect on the fit: it does not hold performance iteration up
            // (nb() folds took 8 rounds, the last 5 only such a term's drift).
            let change = (0..m)
                .filter(|&j| !(on_plateau(rho[j], self.rho_init[j]) && on_plateau(next[j], self.rho_init[j])))
                .fold(0.0_f64, |a, j| a.max((next[j] - rho[j]).abs()));
            rho[..m].copy_from_slice(&next);
            let b = Array1::from(result.eval.coefficients.clone());
            eta = self.design.fitted(b.as_slice().expect("contiguous"), &spec.offset, spec.threads);
            if data.deviance(&eta).is_none() {
                return Ok(None);
            }
            beta = Some(b);
            if change < SETTLED {
                break;
            }
        }
        Ok(beta.map(|b| (rho, b)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::family::Family;
    use crate::fit::driver::{prepare, Iterate};

    /// Performance iteration is only a start: the fit from it reaches the cold
    /// fit's optimum (a binary model, whose smoothing parameters it gets near).
    #[test]
    pub(super) fn performance_start_reaches_the_cold_optimum() {
        let mut spec = ModelSpec::two_smooths_for_tests(2000, 7, |x, z, u| {
            f64::from(u < 1.0 / (1.0 + (-(3.0 * x).sin() - z * z).exp()))
        });
        spec.family = Family::from_r("binomial", "logit", "", &[]).unwrap();
        let prepared = prepare(&spec, &mut || false).unwrap();
        let (rho, beta) = prepared.performance_start(&spec, &prepared.rho_init, None).unwrap().expect("a start");
        assert_eq!(rho.len(), prepared.n_sp());
        assert_eq!(beta.len(), prepared.design.ncols());
        let cold = prepared.optimize(&spec, None, &mut |_: &Iterate<'_>| Ok(())).unwrap();
        let from = prepared.optimize(&spec, Some(&rho), &mut |_: &Iterate<'_>| Ok(())).unwrap();
        assert!((cold.criterion - from.criterion).abs() < 1e-8 * cold.criterion.abs());
        let err =
            cold.linear_predictor.iter().zip(&from.linear_predictor).fold(0.0_f64, |a, (p, q)| a.max((p - q).abs()));
        assert!(err < 1e-6, "{err}");
        // The start is close: fewer outer iterations than from the cold start.
        assert!(from.iterations <= cold.iterations, "{} vs {}", from.iterations, cold.iterations);
    }

    /// The plateau check at the box's edge (a family parameter's trial started from
    /// another trial's point) puts a term with a signal back at the edge, on the
    /// plateau's side, where the criterion is lower; at the optimum it finds nothing.
    #[test]
    fn the_edge_probe_brings_back_a_term_with_a_signal() {
        let spec = ModelSpec::two_smooths_for_tests(400, 3, |x, _, u| (6.0 * x).sin() + u - 0.5);
        let prepared = prepare(&spec, &mut || false).unwrap();
        let fit = prepared.optimize(&spec, None, &mut |_: &Iterate<'_>| Ok(())).unwrap();
        let mut objective = prepared.objective_from(&spec, None);
        let free = objective.free_index();
        let cold = &prepared.rho_init;
        // The fit's own point (the scale is profiled out: two free parameters).
        assert_eq!(free, [0, 1]);
        let optimum: Vec<f64> = fit.sp.iter().map(|s| s.ln()).collect();
        let mut probe = |rho: &[f64], to: ProbeAt| {
            let value = objective.evaluate(rho, false).unwrap().value;
            prepared.off_plateau(&mut objective, &free, rho, value, 1e-8, to).unwrap()
        };
        // s(x) moved up its plateau.
        let signal = vec![cold[0] + 18.0, optimum[1]];
        let back = probe(&signal, ProbeAt::Edge).expect("s(x) is brought back");
        assert!((back[0] - (cold[0] + SEED_RANGE)).abs() < 1e-12, "{} against {}", back[0], cold[0]);
        // s(z), without a signal, sits on its plateau at the optimum: it goes back
        // with s(x).
        assert!(on_plateau(optimum[1], cold[1]));
        assert!((back[1] - (cold[1] + SEED_RANGE)).abs() < 1e-12);
        // The check at the cold start (seeds', and a trial's first) puts it there.
        let back = probe(&signal, ProbeAt::Cold).expect("s(x) is brought back to the cold start");
        assert_eq!(back[0], cold[0]);
        // At the optimum there is nothing lower to go back to.
        assert!(probe(&optimum, ProbeAt::Edge).is_none());
        assert!(probe(&optimum, ProbeAt::Cold).is_none());
    }
}
