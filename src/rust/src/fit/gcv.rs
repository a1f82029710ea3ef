//! GCV and UBRE for generalized families, with their exact gradient and Hessian in
//! the log smoothing parameters (Wood 2008, JRSS-B 70:495-518; Wood 2011 Appendix C;
//! the forms mgcv's `gam.fit3` uses):
//!
//! * GCV (scale unknown): `V = n D / (n - gamma tau)^2`;
//! * UBRE / Mallows' Cp (scale known, `phi = 1`): `V = D/n + 2 gamma phi tau / n - phi`;
//! * GACV (scale unknown; Gu & Xiang 2001, Wood 2008 §4): `V = D/n + 2 gamma tau P /
//!   (n (n - gamma tau))`, `P = sum_i w_i (y_i - mu_i)^2 / V(mu_i)` the Pearson
//!   statistic, whose derivatives in `rho` are sums over the rows of its derivatives
//!   in `eta` times `deta = X dbeta` (and `X d2beta`);
//!
//! with `D` the deviance at the penalized fit and `tau = tr(H^-1 X'WX) = p - tr(M)`,
//! `M = H^-1 S_lambda`. Writing `dH_j = C_j + lambda_j S_j` with
//! `C_j = X' diag(h3 X dbeta_j) X`:
//!
//! * `dD_j = -2 beta'S dbeta_j`, `d2D_jk = 2 dbeta_j'X'WX dbeta_k - 2 beta'S d2beta_jk`
//!   (the penalized score is zero at the fit);
//! * `dtr(M)_j = lambda_j tr(H^-1 S_j) - tr(H^-1 dH_j M)`, and its derivative in
//!   `rho_k` by the product rule (see `trace_derivatives`).
//!
//! The traces `tr(H^-1 C_j M)` are `sum_i h3_i e_ij b_i` with `b_i = x_i' H^-1 S H^-1 x_i`,
//! formed in the same pass over the data as the REML derivatives.
//!
//! mgcv takes `tau` with the expected information `W_F`: `H_F = X'W_F X + S` in the
//! trace, and `C_j = X' diag(W_F' X dbeta_j) X` in its derivatives, while `dbeta` and
//! `d2beta` come from the inner fit's Hessian (observed information). For canonical
//! links the two agree.

use ndarray::{s, Array1, Array2};

use crate::error::{EngineError, Result};
use crate::fit::laml::{beta_derivatives, derivative_pass, second_beta_derivative, LamlSettings, RowCache};
use crate::fit::outer::Eval;
use crate::fit::penalty::trace_of_product;
use crate::fit::pirls::{GlmData, InnerFit};
use crate::fit::Method;
use crate::linalg::{self, SpdFactor};

/// The criterion at per-penalty `rho` for the inner fit there; gradient and Hessian
/// when `derivatives`, and then also `d beta / d rho`.
pub fn evaluate(
    data: &GlmData<'_, '_>,
    settings: &LamlSettings,
    fit: &InnerFit,
    rho: &[f64],
    derivatives: bool,
    cache: &mut RowCache,
    interrupted: &mut dyn FnMut() -> bool,
) -> Result<(Eval, Option<Array2<f64>>)> {
    debug_assert!(settings.method.prediction_error());
    let penalties = data.penalties;
    let (p, m) = (penalties.p, penalties.len());
    let lambda: Vec<f64> = rho.iter().map(|r| r.exp()).collect();
    let n = data.w.iter().filter(|w| **w > 0.0).count() as f64;
    let gamma = settings.gamma;
    let score = match data.family.scale_known() {
        true => Score::Ubre(data.family.known_scale_value()),
        false if settings.method == Method::Gacv => Score::Gacv,
        false => Score::Gcv,
    };
    let gacv = matches!(score, Score::Gacv);
    // S_j embedded in p x p, and S_lambda.
    let s_full: Vec<Array2<f64>> = penalties
        .penalties
        .iter()
        .map(|pen| {
            let mut a = Array2::zeros((p, p));
            a.slice_mut(s![pen.start..pen.start + pen.len(), pen.start..pen.start + pen.len()]).assign(&pen.s);
            a
        })
        .collect();
    let mut s_lambda = Array2::<f64>::zeros((p, p));
    for (sj, l) in s_full.iter().zip(penalties.totals(&lambda)) {
        s_lambda.scaled_add(l, sj);
    }
    // mgcv takes the trace with the expected information: for a non-canonical link
    // that is another matrix than the inner fit's Hessian (one more pass over the
    // data); `dbeta` and `d2beta` still come from the Hessian itself.
    let expected = !data.family.information_is_expected();
    let fisher_h_inv;
    let h_inv = if expected {
        let (w, u) = data.working(&fit.eta, true)?;
        let (mut h, _) = data.cross_products(&w, &u, interrupted)?;
        h += &s_lambda;
        fisher_h_inv = SpdFactor::new(h.view())
            .ok_or_else(|| EngineError::NotIdentifiable {
                detail: "X'WX + S with the expected information is not positive definite".into(),
            })?
            .inverse();
        &fisher_h_inv
    } else {
        &fit.h_inv
    };
    let mm = linalg::matmul(h_inv.view(), s_lambda.view(), data.threads);
    let tau = p as f64 - mm.diag().sum();
    let dev = fit.deviance;
    let pearson = if gacv { pearson_terms(data, &fit.eta).0 } else { 0.0 };
    let (value, shape) = criterion_value(score, n, gamma, dev, tau, pearson);
    let coefficients = fit.beta.to_vec();
    if !derivatives {
        return Ok((Eval { value, grad: Array1::zeros(0), hess: Array2::zeros((0, 0)), coefficients }, None));
    }

    let (dbeta, _) = beta_derivatives(fit, penalties, &lambda);
    let db: Vec<Array1<f64>> = (0..m).map(|j| dbeta.column(j).to_owned()).collect();
    let k_mat = linalg::matmul(mm.view(), h_inv.view(), data.threads);
    let sums = derivative_pass(data, fit, &k_mat, &dbeta, settings.hessian_rows, expected, cache, interrupted)?;
    let s_beta = s_lambda.dot(&fit.beta);
    let a_db: Vec<Array1<f64>> = db.iter().map(|v| fit.xtwx.dot(v)).collect();

    // GACV's Pearson statistic: its derivatives in eta, and in rho through
    // deta_j = X dbeta_j (and X d2beta_jk, filled in below).
    let (_, p1, p2) = if gacv { pearson_terms(data, &fit.eta) } else { (0.0, Vec::new(), Vec::new()) };
    let deta: Vec<Vec<f64>> = if gacv { db.iter().map(|v| x_times(data, v)).collect() } else { Vec::new() };
    let mut d_p = vec![0.0; m];
    let mut d2_p = Array2::<f64>::zeros((m, m));
    for j in 0..deta.len() {
        d_p[j] = p1.iter().zip(&deta[j]).map(|(a, e)| a * e).sum();
        for k in j..m {
            let v: f64 = (0..p2.len()).map(|i| p2[i] * deta[j][i] * deta[k][i]).sum();
            d2_p[(j, k)] = v;
            d2_p[(k, j)] = v;
        }
    }
    let (d_dev, d_tau, d2_dev, d2_tau) = {
        let hs: Vec<Array2<f64>> =
            s_full.iter().map(|sj| linalg::matmul(h_inv.view(), sj.view(), data.threads)).collect();
        let hdh: Vec<Array2<f64>> =
            (0..m).map(|j| linalg::matmul(h_inv.view(), sums.c[j].view(), data.threads) + &hs[j] * lambda[j]).collect();
        let tr_hs: Vec<f64> = hs.iter().map(|a| a.diag().sum()).collect();
        let tr_hs_m: Vec<f64> = hs.iter().map(|a| trace_of_product(a, &mm)).collect();
        let mut d_dev = vec![0.0; m];
        let mut d_tau = vec![0.0; m];
        let mut d2_dev = Array2::<f64>::zeros((m, m));
        let mut d2_tau = Array2::<f64>::zeros((m, m));
        for j in 0..m {
            d_dev[j] = -2.0 * s_beta.dot(&db[j]);
            // d tr(M)_j = lambda_j tr(H^-1 S_j) - tr(H^-1 C_j M) - lambda_j tr(H^-1 S_j M)
            d_tau[j] = -(lambda[j] * tr_hs[j] - sums.t1[j] - lambda[j] * tr_hs_m[j]);
            for k in j..m {
                let d2b = second_beta_derivative(fit, penalties, &lambda, &db, &sums, j, k);
                if gacv {
                    let d2eta = x_times(data, &d2b);
                    let v: f64 = p1.iter().zip(&d2eta).map(|(a, e)| a * e).sum();
                    d2_p[(j, k)] += v;
                    if j != k {
                        d2_p[(k, j)] += v;
                    }
                }
                let v = 2.0 * db[j].dot(&a_db[k]) - 2.0 * s_beta.dot(&d2b);
                d2_dev[(j, k)] = v;
                d2_dev[(k, j)] = v;
                let hk_hj = linalg::matmul(hdh[k].view(), hdh[j].view(), data.threads);
                let hj_hk = linalg::matmul(hdh[j].view(), hdh[k].view(), data.threads);
                let mut d2g = -lambda[j] * trace_of_product(&hdh[k], &hs[j])
                    - lambda[k] * trace_of_product(&hdh[j], &hs[k])
                    + trace_of_product(&hk_hj, &mm)
                    + trace_of_product(&hj_hk, &mm)
                    - (sums.t2[(j, k)] + Array1::from(sums.q.clone()).dot(&d2b));
                if j == k {
                    d2g += lambda[j] * tr_hs[j] - lambda[j] * tr_hs_m[j];
                }
                d2_tau[(j, k)] = -d2g;
                d2_tau[(k, j)] = -d2g;
            }
        }
        (d_dev, d_tau, d2_dev, d2_tau)
    };
    let (grad, hess) = shape.combine(&d_dev, &d_tau, &d_p, &d2_dev, &d2_tau, &d2_p);
    Ok((Eval { value, grad, hess, coefficients }, Some(dbeta)))
}

/// `X v` (no offset).
fn x_times(data: &GlmData<'_, '_>, v: &Array1<f64>) -> Vec<f64> {
    let with_offset = data.linear_predictor(v.as_slice().expect("contiguous"));
    with_offset.iter().zip(data.offset).map(|(e, o)| e - o).collect()
}

/// The Pearson statistic `P = sum_i w_i (y_i - mu_i)^2 / V(mu_i)` at `eta` and each
/// row's first two derivatives of its term in `eta` (rows of zero weight count
/// nothing): with `r = y - mu` and `q(mu) = r^2 / V`,
/// `q' = -2r/V - r^2 V'/V^2`, `q'' = 2/V + 4r V'/V^2 - r^2 (V''/V^2 - 2V'^2/V^3)`,
/// and in `eta` `q' mu'` and `q'' mu'^2 + q' mu''`.
fn pearson_terms(data: &GlmData<'_, '_>, eta: &[f64]) -> (f64, Vec<f64>, Vec<f64>) {
    let n = eta.len();
    let (mut total, mut d1, mut d2) = (0.0, vec![0.0; n], vec![0.0; n]);
    for i in 0..n {
        let w = data.w[i];
        if w == 0.0 {
            continue;
        }
        let mu = data.family.mean(eta[i]);
        let [v, v1, v2, _] = data.family.distribution.variance(mu);
        let [m1, m2, ..] = data.family.link.mu_derivatives(eta[i]);
        let r = data.y[i] - mu;
        let q1 = -2.0 * r / v - r * r * v1 / (v * v);
        let q2 = 2.0 / v + 4.0 * r * v1 / (v * v) - r * r * (v2 / (v * v) - 2.0 * v1 * v1 / (v * v * v));
        total += w * r * r / v;
        d1[i] = w * q1 * m1;
        d2[i] = w * (q2 * m1 * m1 + q1 * m2);
    }
    (total, d1, d2)
}

/// Which prediction error criterion (`ubre` with its known scale).
#[derive(Debug, Clone, Copy)]
pub(crate) enum Score {
    Ubre(f64),
    Gcv,
    Gacv,
}

/// The criterion's partial derivatives in `D`, `tau` and the Pearson statistic `P`
/// (it is linear in `D` and in `P`).
pub(crate) struct Shape {
    d_dev: f64,
    d_tau: f64,
    d_p: f64,
    d_dev_tau: f64,
    d_tau_tau: f64,
    d_tau_p: f64,
}

impl Shape {
    /// The criterion's gradient and Hessian in `rho` from those of `D` and `tau`
    /// (the chain rule).
    pub(crate) fn combine(
        &self,
        d_dev: &[f64],
        d_tau: &[f64],
        d_p: &[f64],
        d2_dev: &Array2<f64>,
        d2_tau: &Array2<f64>,
        d2_p: &Array2<f64>,
    ) -> (Array1<f64>, Array2<f64>) {
        let m = d_dev.len();
        let mut grad = Array1::zeros(m);
        let mut hess = Array2::zeros((m, m));
        // (P's derivatives are read only where the criterion has P.)
        let gacv = self.d_p != 0.0 || self.d_tau_p != 0.0;
        for j in 0..m {
            grad[j] = self.d_dev * d_dev[j] + self.d_tau * d_tau[j];
            if gacv {
                grad[j] += self.d_p * d_p[j];
            }
            for k in 0..m {
                hess[(j, k)] = self.d_dev * d2_dev[(j, k)]
                    + self.d_tau * d2_tau[(j, k)]
                    + self.d_dev_tau * (d_dev[j] * d_tau[k] + d_dev[k] * d_tau[j])
                    + self.d_tau_tau * d_tau[j] * d_tau[k];
                if gacv {
                    hess[(j, k)] += self.d_p * d2_p[(j, k)] + self.d_tau_p * (d_tau[j] * d_p[k] + d_tau[k] * d_p[j]);
                }
            }
        }
        (grad, hess)
    }
}

/// The criterion `score` at deviance `dev`, trace `tau` and Pearson statistic
/// `pearson` (GACV's only), with its partial derivatives in them.
pub(crate) fn criterion_value(score: Score, n: f64, gamma: f64, dev: f64, tau: f64, pearson: f64) -> (f64, Shape) {
    let delta = n - gamma * tau;
    match score {
        // D/n + 2 gamma phi tau / n - phi.
        Score::Ubre(phi) => (
            dev / n + 2.0 * gamma * phi * tau / n - phi,
            Shape {
                d_dev: 1.0 / n,
                d_tau: 2.0 * gamma * phi / n,
                d_p: 0.0,
                d_dev_tau: 0.0,
                d_tau_tau: 0.0,
                d_tau_p: 0.0,
            },
        ),
        Score::Gcv => (
            n * dev / (delta * delta),
            Shape {
                d_dev: n / (delta * delta),
                d_tau: 2.0 * n * dev * gamma / delta.powi(3),
                d_p: 0.0,
                d_dev_tau: 2.0 * n * gamma / delta.powi(3),
                d_tau_tau: 6.0 * n * dev * gamma * gamma / delta.powi(4),
                d_tau_p: 0.0,
            },
        ),
        // D/n + 2 gamma tau P / (n delta): d/dtau of tau / delta is n / delta^2.
        Score::Gacv => (
            dev / n + 2.0 * gamma * tau * pearson / (n * delta),
            Shape {
                d_dev: 1.0 / n,
                d_tau: 2.0 * gamma * pearson / (delta * delta),
                d_p: 2.0 * gamma * tau / (n * delta),
                d_dev_tau: 0.0,
                d_tau_tau: 4.0 * gamma * gamma * pearson / delta.powi(3),
                d_tau_p: 2.0 * gamma / (delta * delta),
            },
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fit::gaussian::{self, Gram};
    use crate::fit::pirls::pirls;
    use crate::fit::pirls::tests::{data, problem, s_lambda, Problem};
    use crate::fit::{design, Design};

    fn settings(method: Method, gamma: f64) -> LamlSettings {
        // Every row in the Hessian's terms (n = 200), so that it is exact.
        LamlSettings { method, gamma, scale_param: false, hessian_rows: 1_000_000 }
    }

    /// The criterion at `rho` from a fresh inner fit (warm-started at `start`).
    fn criterion_by(
        method: Method,
        d: &Design<'_>,
        pr: &Problem,
        gamma: f64,
        rho: &[f64],
        start: &[f64],
        derivs: bool,
    ) -> Eval {
        let data = data(d, pr);
        let lambda: Vec<f64> = rho.iter().map(|r| r.exp()).collect();
        let fit = pirls(&data, &lambda, start, &mut || false).unwrap();
        assert!(fit.converged);
        let mut cache = RowCache::default();
        evaluate(&data, &settings(method, gamma), &fit, rho, derivs, &mut cache, &mut || false).unwrap().0
    }

    fn criterion(d: &Design<'_>, pr: &Problem, gamma: f64, rho: &[f64], start: &[f64], derivs: bool) -> Eval {
        criterion_by(Method::Gcv, d, pr, gamma, rho, start, derivs)
    }

    /// The gradient and Hessian of `e` (the criterion `method` at `rho`) against
    /// central differences of the criterion and of its gradient, refitting the inner
    /// problem. Truncation (h^2/6 times the third derivative, ~1e-9 of the scale) and
    /// the inner fits' residual (~1e-12 relative) over h: 1e-5 of the derivatives'
    /// scale is ample, and an error in any term of the formulas is of the order of
    /// that scale.
    fn assert_derivatives(
        method: Method,
        d: &Design<'_>,
        pr: &Problem,
        gamma: f64,
        rho: &[f64; 2],
        e: &Eval,
        label: &str,
    ) {
        let start = e.coefficients.clone();
        let h = 1e-4;
        let scale_g = e.grad.iter().fold(0.0_f64, |m, v| m.max(v.abs()));
        let scale_h = e.hess.iter().fold(0.0_f64, |m, v| m.max(v.abs()));
        assert!(scale_g > 0.0 && scale_h > 0.0);
        for j in 0..2 {
            let (mut up, mut dn) = (*rho, *rho);
            up[j] += h;
            dn[j] -= h;
            let eu = criterion_by(method, d, pr, gamma, &up, &start, true);
            let ed = criterion_by(method, d, pr, gamma, &dn, &start, true);
            let g = (eu.value - ed.value) / (2.0 * h);
            assert!((g - e.grad[j]).abs() < 1e-5 * scale_g, "{label} grad {j}: fd {g} vs {}", e.grad[j]);
            for k in 0..2 {
                let hk = (eu.grad[k] - ed.grad[k]) / (2.0 * h);
                assert!(
                    (hk - e.hess[(j, k)]).abs() < 1e-5 * scale_h,
                    "{label} hess {j}{k}: fd {hk} vs {}",
                    e.hess[(j, k)]
                );
            }
        }
    }

    /// GCV/UBRE's value against its definition from dense matrices: `D` from the
    /// coefficients by the deviance's formula, `tau = tr((X'WX + S)^-1 X'WX)` with the
    /// expected-information weights, `V = n D / (n - gamma tau)^2` (scale unknown) or
    /// `D/n + 2 gamma tau/n - 1` (known).
    #[test]
    fn value_matches_its_definition_on_a_dense_problem() {
        for (family, link, gamma) in
            [("gaussian", "identity", 1.0), ("poisson", "log", 1.0), ("poisson", "log", 1.4), ("Gamma", "log", 1.4)]
        {
            let pr = problem(family, link, 21);
            let d = design(&pr.spec).unwrap();
            let rho = [0.4, -0.8];
            let lambda: Vec<f64> = rho.iter().map(|r: &f64| r.exp()).collect();
            let e = criterion(&d, &pr, gamma, &rho, &[], false);
            let beta = Array1::from(e.coefficients.clone());
            let (x, y, w) = (&pr.x, &pr.spec.y, &pr.spec.weights);
            let mu = x.dot(&beta).mapv(|t| if link == "log" { t.exp() } else { t });
            let n = y.len();
            // Deviance terms and expected-information weights, family by family (Gamma
            // log: W_F = w mu'^2 / V(mu) = w).
            let (dev_i, wf): (Vec<f64>, Vec<f64>) = (0..n)
                .map(|i| match family {
                    "gaussian" => (w[i] * (y[i] - mu[i]).powi(2), w[i]),
                    "poisson" => {
                        let ylogy = if y[i] > 0.0 { y[i] * (y[i] / mu[i]).ln() } else { 0.0 };
                        (2.0 * w[i] * (ylogy - (y[i] - mu[i])), w[i] * mu[i])
                    }
                    _ => (2.0 * w[i] * (-(y[i] / mu[i]).ln() + (y[i] - mu[i]) / mu[i]), w[i]),
                })
                .unzip();
            let dev: f64 = dev_i.iter().sum();
            let xw = Array2::from_shape_fn(x.raw_dim(), |(i, j)| x[(i, j)] * wf[i]);
            let a = x.t().dot(&xw);
            let h_inv = SpdFactor::new((&a + &s_lambda(&pr.pens, &lambda)).view()).unwrap().inverse();
            let tau = h_inv.dot(&a).diag().sum();
            let nf = n as f64;
            let direct = if family == "poisson" {
                dev / nf + 2.0 * gamma * tau / nf - 1.0
            } else {
                nf * dev / (nf - gamma * tau).powi(2)
            };
            // tau is a sum of 7 terms of order 1 and D one of 200; the Poisson fit's
            // weights are its last iterate's (within 1e-9 relative): 1e-8 covers both.
            assert!((e.value - direct).abs() < 1e-8 * direct.abs(), "{family} {gamma}: {} vs {direct}", e.value);
            assert!(tau > 2.0 && tau < 7.0, "a meaningful trace: {tau}");
        }
    }

    /// GACV (scale unknown): its value against its definition, `D/n + 2 gamma tau P /
    /// (n (n - gamma tau))` with the Pearson statistic from the coefficients, and its
    /// gradient and Hessian against central differences, for a quasi-Poisson log
    /// model (canonical) and a Gamma log one (the trace with the expected
    /// information).
    #[test]
    fn gacv_matches_its_definition_and_finite_differences() {
        for (family, link, gamma) in [("quasipoisson", "log", 1.0), ("Gamma", "log", 1.4)] {
            let mut pr = problem(if family == "quasipoisson" { "poisson" } else { family }, link, 24);
            pr.spec.family = crate::family::Family::from_r(family, link, "", &[]).unwrap();
            let d = design(&pr.spec).unwrap();
            let rho = [0.3, -1.2];
            let e = criterion_by(Method::Gacv, &d, &pr, gamma, &rho, &[], true);
            let g = criterion_by(Method::Gcv, &d, &pr, gamma, &rho, &[], false);
            // GCV's value gives D and tau: GCV = n D / delta^2 and the same fit.
            let beta = Array1::from(e.coefficients.clone());
            let (x, y, w) = (&pr.x, &pr.spec.y, &pr.spec.weights);
            let mu = x.dot(&beta).mapv(f64::exp);
            let pearson: f64 = (0..y.len())
                .map(|i| w[i] * (y[i] - mu[i]).powi(2) / if family == "Gamma" { mu[i] * mu[i] } else { mu[i] })
                .sum();
            let dev: f64 = (0..y.len())
                .map(|i| match family {
                    "Gamma" => 2.0 * w[i] * (-(y[i] / mu[i]).ln() + (y[i] - mu[i]) / mu[i]),
                    _ => {
                        let ylogy = if y[i] > 0.0 { y[i] * (y[i] / mu[i]).ln() } else { 0.0 };
                        2.0 * w[i] * (ylogy - (y[i] - mu[i]))
                    }
                })
                .sum();
            let n = y.len() as f64;
            let delta = (n * dev / g.value).sqrt();
            let tau = (n - delta) / gamma;
            let direct = dev / n + 2.0 * gamma * tau * pearson / (n * delta);
            assert!((e.value - direct).abs() < 1e-8 * direct, "{family}: {} vs {direct}", e.value);
            assert_derivatives(Method::Gacv, &d, &pr, gamma, &rho, &e, family);
        }
    }

    /// For the Gaussian identity model the generalized GCV and the Gaussian one
    /// (`fit::gaussian`, derived separately from the Gram matrix) agree in value,
    /// gradient and Hessian.
    #[test]
    fn gaussian_identity_agrees_with_the_gaussian_criterion() {
        let pr = problem("gaussian", "identity", 22);
        let d = design(&pr.spec).unwrap();
        let (x, y, w) = (&pr.x, &pr.spec.y, &pr.spec.weights);
        let xw = Array2::from_shape_fn(x.raw_dim(), |(i, j)| x[(i, j)] * w[i]);
        let wy = Array1::from_shape_fn(y.len(), |i| w[i] * y[i]);
        let gram = Gram {
            xtwx: x.t().dot(&xw),
            xtwy: x.t().dot(&wy),
            ytwy: wy.iter().zip(y.iter()).map(|(a, b)| a * b).sum(),
            n: y.len() as f64,
            sum_log_w: w.iter().map(|v| v.ln()).sum(),
        };
        for (rho, gamma) in [([0.4, -0.8], 1.0), ([-2.0, 1.5], 1.4)] {
            let e = criterion(&d, &pr, gamma, &rho, &[], true);
            let (g, _) = gaussian::evaluate(&gram, &pr.pens, Method::Gcv, gamma, &rho).unwrap();
            // Two routes to the same numbers in double precision (the Gram route forms
            // D as c - 2 beta'b + beta'A beta, which cancels to ~1e-12 relative).
            assert!((e.value - g.value).abs() < 1e-9 * g.value, "{} vs {}", e.value, g.value);
            let top = g.grad.iter().chain(g.hess.iter()).fold(0.0_f64, |m, v| m.max(v.abs()));
            for (a, b) in e.grad.iter().zip(&g.grad).chain(e.hess.iter().zip(&g.hess)) {
                assert!((a - b).abs() < 1e-7 * top, "{} vs {}: grad {} hess {}", a, b, e.grad, e.hess);
            }
        }
    }

    /// The gradient and Hessian in rho against central differences of the criterion
    /// (refitting the inner problem): UBRE for Poisson log, GCV for Gamma log (whose
    /// trace takes the expected information while beta moves by the observed one) and
    /// for a quasibinomial probit (non-canonical, scale unknown).
    #[test]
    fn derivatives_match_finite_differences() {
        for (family, link, gamma) in [("poisson", "log", 1.0), ("Gamma", "log", 1.4), ("quasibinomial", "probit", 1.0)]
        {
            let pr = if family == "quasibinomial" {
                let mut pr = problem("binomial", link, 23);
                pr.spec.family = crate::family::Family::from_r(family, link, "", &[]).unwrap();
                pr
            } else {
                problem(family, link, 23)
            };
            let d = design(&pr.spec).unwrap();
            let rho = [0.3, -1.2];
            let e = criterion(&d, &pr, gamma, &rho, &[], true);
            assert_derivatives(Method::Gcv, &d, &pr, gamma, &rho, &e, family);
        }
    }
}
