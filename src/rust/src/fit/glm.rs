//! Generalized fits: the Laplace-approximate criterion as a function of the log
//! smoothing parameters (and log scale), evaluated through penalized IRLS, and what the
//! fit reports at the optimum (Wood 2017 §6.2.3, §6.9; mgcv's `gam.fit3.post.proc`).
//!
//! The objective keeps its last inner fit, so the derivatives at a point the line
//! search accepted cost no second inner iteration, and starts each new inner fit from
//! the last accepted coefficients moved along `d beta / d rho` (a first-order
//! prediction), so that the inner iteration needs few passes over the data.

use ndarray::{Array1, Array2};

use crate::error::{EngineError, Result};
use crate::fit::gcv;
use crate::fit::influence::Influence;
use crate::fit::laml::{self, LamlSettings, RowCache};
use crate::fit::outer::Eval;
use crate::fit::pirls::{pirls, GlmData, InnerFit};
use crate::linalg::SpdSystem;

/// Beyond this distance in any log smoothing parameter the linear prediction of the
/// coefficients is no better than the last coefficients themselves.
const PREDICT_WITHIN: f64 = 2.0;

pub struct GlmObjective<'b, 'd> {
    pub data: GlmData<'b, 'd>,
    pub settings: LamlSettings,
    /// `ls` when the scale is known (it is then a constant).
    ls_known: Option<[f64; 3]>,
    /// The last inner fit, with the per-penalty log smoothing parameters it was made at.
    last: Option<(Vec<f64>, InnerFit)>,
    /// The last point whose derivatives were computed: rho, beta and d beta / d rho.
    anchor: Option<(Vec<f64>, Array1<f64>, Array2<f64>)>,
    /// The derivative pass's per-row products at `last`.
    rows: RowCache,
    start: Array1<f64>,
}

impl<'b, 'd> GlmObjective<'b, 'd> {
    pub fn new(data: GlmData<'b, 'd>, settings: LamlSettings, start: Array1<f64>) -> GlmObjective<'b, 'd> {
        let ls_known = (!settings.scale_param)
            .then(|| data.family.saturated_loglik(data.y, data.censor, data.w, data.family.known_scale_value()));
        // Only a fit of more rows than the iterations' Hessians use makes a second pass
        // at its last iterate (for the Hessian it reports).
        let rows = RowCache { keep: data.design.nrows() > laml::HESSIAN_ROWS, products: None };
        GlmObjective { data, settings, ls_known, last: None, anchor: None, rows, start }
    }

    /// The criterion at per-penalty `rho` and `log_phi` (ignored when the scale is
    /// known: it is then the family's).
    pub fn evaluate(&mut self, rho: &[f64], log_phi: f64, derivatives: bool) -> Result<Eval> {
        let log_phi = if self.settings.scale_param { log_phi } else { self.data.family.known_scale_value().ln() };
        self.inner(rho)?;
        let ls = self.ls_known.unwrap_or_else(|| {
            self.data.family.saturated_loglik(self.data.y, self.data.censor, self.data.w, log_phi.exp())
        });
        let (_, fit) = self.last.as_ref().expect("inner fit made above");
        let (eval, dbeta) = if self.settings.method.prediction_error() {
            gcv::evaluate(&self.data, &self.settings, fit, rho, derivatives, &mut self.rows, &mut || false)?
        } else {
            laml::evaluate(&self.data, &self.settings, fit, rho, log_phi, ls, derivatives, &mut self.rows, &mut || {
                false
            })?
        };
        if let Some(dbeta) = dbeta {
            self.anchor = Some((rho.to_vec(), fit.beta.clone(), dbeta));
        }
        Ok(eval)
    }

    /// `d beta / d rho` at `rho` (per penalty; one column each), from the last
    /// evaluation with derivatives when it was made there.
    pub fn beta_derivatives(&mut self, rho: &[f64], log_phi: f64) -> Result<Array2<f64>> {
        if !matches!(&self.anchor, Some((r, ..)) if r == rho) {
            self.evaluate(rho, log_phi, true)?;
        }
        match &self.anchor {
            Some((r, _, dbeta)) if r == rho => Ok(dbeta.clone()),
            _ => Err(EngineError::InvalidSpec { what: "internal: no coefficient derivatives at the optimum".into() }),
        }
    }

    /// `max |dbeta/drho delta| / max |beta|` at per-penalty `rho`, when its
    /// derivatives were the last computed (see `Objective::coefficient_change`).
    pub fn coefficient_change(&self, rho: &[f64], delta: &[f64]) -> Option<f64> {
        let (r, beta, dbeta) = self.anchor.as_ref().filter(|(r, ..)| r == rho)?;
        debug_assert_eq!(r.len(), delta.len());
        let top = beta.iter().fold(0.0_f64, |m, v| m.max(v.abs()));
        let moved = dbeta.dot(&Array1::from(delta.to_vec())).iter().fold(0.0_f64, |m, v| m.max(v.abs()));
        Some(if top > 0.0 { moved / top } else { moved })
    }

    /// The inner fit at `rho` (per penalty), from the cache when it was the last one.
    pub fn inner(&mut self, rho: &[f64]) -> Result<&InnerFit> {
        if !matches!(&self.last, Some((r, _)) if r == rho) {
            let start = match &self.anchor {
                Some((r, beta, dbeta)) => {
                    let delta: Vec<f64> = rho.iter().zip(r).map(|(a, b)| a - b).collect();
                    if delta.iter().all(|d| d.abs() <= PREDICT_WITHIN) {
                        beta + &dbeta.dot(&Array1::from(delta))
                    } else {
                        beta.clone()
                    }
                }
                None => self.start.clone(),
            };
            let lambda: Vec<f64> = rho.iter().map(|r| r.exp()).collect();
            let fit = pirls(&self.data, &lambda, start.as_slice().expect("contiguous"), &mut || false)?;
            self.last = Some((rho.to_vec(), fit));
            self.rows.products = None;
        }
        Ok(&self.last.as_ref().expect("set above").1)
    }
}

/// What a generalized fit reports beyond the criterion.
pub struct GlmSummary {
    pub edf: Vec<f64>,
    pub edf1: Vec<f64>,
    pub vp: Array2<f64>,
    pub ve: Array2<f64>,
    /// mgcv's `scale.est` (Fletcher's estimate) when the scale is unknown, else 1.
    pub scale: f64,
    /// `X'W X` with the expected-information weights, for the term tests.
    pub xtwx_fisher: Array2<f64>,
}

/// The covariance matrices and effective degrees of freedom at the final inner fit, as
/// mgcv reports them: from the expected information `W_F` (the observed one for
/// canonical links), `H_F = X'W_F X + S`, `F = H_F^-1 X'W_F X`, `Vp = H_F^-1 scale`,
/// `Ve = F Vp`, the scale being the family's where it is known.
/// `scale`: the scale to report when it is not Fletcher's estimate (mgcv's `tw()`
/// reports the one REML chose).
pub fn summarize(data: &GlmData<'_, '_>, fit: &InnerFit, lambda: &[f64], scale: Option<f64>) -> Result<GlmSummary> {
    let p = fit.beta.len();
    // Where the two informations agree, the inner fit's last X'WX is this one (its
    // weights are those at the last iterate, within the converged step of the
    // final coefficients): no pass over the data.
    let xtwx_fisher = if data.family.information_is_expected() && fit.xtwx.nrows() == p {
        fit.xtwx.clone()
    } else {
        let (w, u) = data.working(&fit.eta, true)?;
        data.cross_products(&w, &u, &mut || false)?.0
    };
    let mut h = xtwx_fisher.clone();
    data.penalties.add_to(&mut h, lambda);
    let h_inv = SpdSystem::new(&h, data.penalties.diagonal_block(&h))
        .ok_or_else(|| EngineError::NotIdentifiable {
            detail: "X'WX + S with the expected information is not positive definite".into(),
        })?
        .inverse();
    let influence = Influence::new(&h_inv, &xtwx_fisher, data.penalties.diagonal_block(&xtwx_fisher), data.threads);
    let tau = influence.tau();
    let scale = if data.family.scale_known() {
        data.family.known_scale_value()
    } else {
        scale.unwrap_or_else(|| fletcher_scale(data, &fit.eta, tau))
    };
    let vp = &h_inv * scale;
    let ve = influence.frequentist_covariance(vp.view(), data.threads);
    let Influence { edf, edf1, .. } = influence;
    Ok(GlmSummary { edf, edf1, vp, ve, scale, xtwx_fisher })
}

/// Fletcher's (2012) scale estimate, mgcv's default: the Pearson statistic over the
/// residual degrees of freedom, divided by `1 + mean(V'(mu) (y - mu) / V(mu))` (the
/// mean over every row, as mgcv takes it, floored at -0.9).
fn fletcher_scale(data: &GlmData<'_, '_>, eta: &[f64], tau: f64) -> f64 {
    let n = eta.len() as f64;
    let (mut pearson, mut s) = (0.0, 0.0);
    for i in 0..eta.len() {
        let mu = data.family.mean(eta[i]);
        let [v, v1, ..] = data.family.distribution.variance(mu);
        let r = data.y[i] - mu;
        pearson += data.w[i] * r * r / v;
        s += v1 * r / v;
    }
    let s_bar = (s / n).max(-0.9);
    pearson / (n - tau) / (1.0 + s_bar)
}

/// The null model's deviance, as mgcv reports it: around the weighted mean of `y` with
/// an intercept (the intercept-only fit with the offset when there is one), and at the
/// offset alone without one.
pub fn null_deviance(data: &GlmData<'_, '_>, intercept: bool) -> f64 {
    let fam = &data.family;
    // The deviance at a linear predictor; infinite where a mean is invalid.
    let dev = |eta: &dyn Fn(usize) -> f64| -> f64 {
        let eta: Vec<f64> = (0..data.y.len()).map(eta).collect();
        data.deviance(&eta).unwrap_or(f64::INFINITY)
    };
    if !intercept {
        return dev(&|i| data.offset[i]);
    }
    let sw: f64 = data.w.iter().sum();
    let mean = data.y.iter().zip(data.w).map(|(y, w)| y * w).sum::<f64>() / sw;
    let mean = fam.distribution.clamp_mean(mean);
    let alpha0 = fam.link.link(mean);
    if data.offset.iter().all(|o| *o == 0.0) {
        return dev(&|_| alpha0);
    }
    // Newton's method on the intercept alone, with step halving.
    let mut alpha = alpha0;
    let mut current = dev(&|i| alpha + data.offset[i]);
    for _ in 0..100 {
        let (mut g, mut h) = (0.0, 0.0);
        for i in 0..data.y.len() {
            if data.w[i] > 0.0 {
                if let Some(t) = fam.eta_terms(data.y[i], data.censor_at(i), data.w[i], alpha + data.offset[i]) {
                    g += t.d[0];
                    h += t.d[1];
                }
            }
        }
        if h <= 0.0 || !h.is_finite() {
            break;
        }
        let mut step = -g / h;
        let mut next = dev(&|i| alpha + step + data.offset[i]);
        let mut tries = 0;
        while !(next <= current) && tries < 40 {
            step *= 0.5;
            next = dev(&|i| alpha + step + data.offset[i]);
            tries += 1;
        }
        if !(next <= current) {
            break;
        }
        alpha += step;
        let done = (current - next).abs() <= 1e-12 * (1.0 + current.abs());
        current = next;
        if done {
            break;
        }
    }
    current
}

#[cfg(test)]
mod tests {
    use ndarray::{Array2, ShapeBuilder};

    use crate::basis::SmoothSpec;
    use crate::family::Family;
    use crate::fit::outer::Objective;
    use crate::fit::Method;
    use crate::fit::{prepare, ModelSpec};

    /// Two smooths of pseudo-random covariates and a response drawn from `family`
    /// around a smooth mean.
    fn spec(family: Family, method: Method) -> ModelSpec<'static> {
        let n = 300;
        let mut unif = crate::fit::uniform_stream(99);
        let x: Vec<f64> = (0..n).map(|_| unif()).collect();
        let z: Vec<f64> = (0..n).map(|_| unif()).collect();
        let y: Vec<f64> = (0..n)
            .map(|i| {
                let eta = (3.0 * x[i]).sin() + 0.5 * z[i];
                match family.distribution {
                    crate::family::distribution::Distribution::Binomial(_) => {
                        f64::from(unif() < 1.0 / (1.0 + (-eta).exp()))
                    }
                    _ => (0.5 + eta).exp() * (0.3 + 1.4 * unif()),
                }
            })
            .collect();
        let smooth = |label: &str, v: Vec<f64>| SmoothSpec::for_tests(label, "cr", 7, vec![v]);
        let xp = Array2::from_elem((n, 1).f(), 1.0);
        let mut spec = ModelSpec::for_tests(y, xp, vec![smooth("s(x)", x), smooth("s(z)", z)]);
        spec.family = family;
        spec.method = method;
        spec
    }

    /// The criterion's gradient and Hessian against central differences of its value
    /// and gradient, each parameter in turn (the scale's too when it is estimated).
    fn check(family: Family, method: Method) {
        let spec = spec(family, method);
        let prepared = prepare(&spec, &mut || false).unwrap();
        let mut objective = prepared.objective(&spec);
        let at: Vec<f64> = prepared.rho_init.iter().enumerate().map(|(j, r)| r + 0.4 - 0.3 * j as f64).collect();
        let e = objective.evaluate(&at, true).unwrap();
        let h = 1e-4;
        for j in 0..at.len() {
            let (mut up, mut dn) = (at.clone(), at.clone());
            up[j] += h;
            dn[j] -= h;
            let eu = objective.evaluate(&up, true).unwrap();
            let ed = objective.evaluate(&dn, true).unwrap();
            let g = (eu.value - ed.value) / (2.0 * h);
            assert!(
                (g - e.grad[j]).abs() < 1e-5 * (1.0 + g.abs()),
                "{family:?} {method:?} grad {j}: fd {g} vs {}",
                e.grad[j]
            );
            for k in 0..at.len() {
                let hk = (eu.grad[k] - ed.grad[k]) / (2.0 * h);
                assert!(
                    (hk - e.hess[(j, k)]).abs() < 1e-4 * (1.0 + hk.abs()),
                    "{family:?} {method:?} hess {j}{k}: fd {hk} vs {}",
                    e.hess[(j, k)]
                );
            }
        }
    }

    #[test]
    fn laml_derivatives_match_finite_differences() {
        let fam = |f: &str, l: &str| Family::from_r(f, l, "", &[]).unwrap();
        check(fam("binomial", "logit"), Method::Reml);
        check(fam("binomial", "probit"), Method::Reml);
        check(fam("Gamma", "log"), Method::Reml);
        check(fam("Gamma", "inverse"), Method::Ml);
        check(fam("poisson", "sqrt"), Method::Ml);
        // GCV for an estimated scale, UBRE for a known one.
        check(fam("Gamma", "inverse"), Method::Gcv);
        check(fam("binomial", "logit"), Method::Gcv);
        check(fam("poisson", "log"), Method::Gcv);
        check(fam("Gamma", "log"), Method::Gcv);
        check(fam("binomial", "probit"), Method::Gcv);
        // The extended families at a given theta / power (the Tweedie scale estimated).
        check(Family::from_r("negbin", "log", "", &[2.5]).unwrap(), Method::Reml);
        check(Family::from_r("negbin", "sqrt", "", &[1.2]).unwrap(), Method::Ml);
        check(Family::from_r("tweedie", "log", "", &[1.4]).unwrap(), Method::Reml);
        check(Family::from_r("tweedie", "identity", "", &[1.7]).unwrap(), Method::Ml);
    }
}
