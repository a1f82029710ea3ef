//! GCV and UBRE for generalized families, with their exact gradient and Hessian in
//! the log smoothing parameters (Wood 2008, JRSS-B 70:495-518; Wood 2011 Appendix C;
//! the forms mgcv's `gam.fit3` uses):
//!
//! * GCV (scale unknown): `V = n D / (n - gamma tau)^2`;
//! * UBRE / Mallows' Cp (scale known, `phi = 1`): `V = D/n + 2 gamma phi tau / n - phi`;
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
    debug_assert_eq!(settings.method, Method::Gcv);
    let penalties = data.penalties;
    let (p, m) = (penalties.p, penalties.len());
    let lambda: Vec<f64> = rho.iter().map(|r| r.exp()).collect();
    let n = data.w.iter().filter(|w| **w > 0.0).count() as f64;
    let gamma = settings.gamma;
    let ubre = data.family.scale_known();
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
    for (sj, l) in s_full.iter().zip(&lambda) {
        s_lambda.scaled_add(*l, sj);
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
    let (value, shape) = criterion_value(ubre, n, gamma, dev, tau);
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
    let (grad, hess) = shape.combine(&d_dev, &d_tau, &d2_dev, &d2_tau);
    Ok((Eval { value, grad, hess, coefficients }, Some(dbeta)))
}

/// The criterion's partial derivatives in `D` and `tau` (it is linear in `D`).
pub(crate) struct Shape {
    d_dev: f64,
    d_tau: f64,
    d_dev_tau: f64,
    d_tau_tau: f64,
}

impl Shape {
    /// The criterion's gradient and Hessian in `rho` from those of `D` and `tau`
    /// (the chain rule).
    pub(crate) fn combine(
        &self,
        d_dev: &[f64],
        d_tau: &[f64],
        d2_dev: &Array2<f64>,
        d2_tau: &Array2<f64>,
    ) -> (Array1<f64>, Array2<f64>) {
        let m = d_dev.len();
        let mut grad = Array1::zeros(m);
        let mut hess = Array2::zeros((m, m));
        for j in 0..m {
            grad[j] = self.d_dev * d_dev[j] + self.d_tau * d_tau[j];
            for k in 0..m {
                hess[(j, k)] = self.d_dev * d2_dev[(j, k)]
                    + self.d_tau * d2_tau[(j, k)]
                    + self.d_dev_tau * (d_dev[j] * d_tau[k] + d_dev[k] * d_tau[j])
                    + self.d_tau_tau * d_tau[j] * d_tau[k];
            }
        }
        (grad, hess)
    }
}

/// GCV (`ubre` false) or UBRE with `phi = 1` at deviance `dev` and trace `tau`, with
/// its partial derivatives in both.
pub(crate) fn criterion_value(ubre: bool, n: f64, gamma: f64, dev: f64, tau: f64) -> (f64, Shape) {
    if ubre {
        // phi = 1: D/n + 2 gamma tau / n - 1.
        (
            dev / n + 2.0 * gamma * tau / n - 1.0,
            Shape { d_dev: 1.0 / n, d_tau: 2.0 * gamma / n, d_dev_tau: 0.0, d_tau_tau: 0.0 },
        )
    } else {
        let delta = n - gamma * tau;
        (
            n * dev / (delta * delta),
            Shape {
                d_dev: n / (delta * delta),
                d_tau: 2.0 * n * dev * gamma / delta.powi(3),
                d_dev_tau: 2.0 * n * gamma / delta.powi(3),
                d_tau_tau: 6.0 * n * dev * gamma * gamma / delta.powi(4),
            },
        )
    }
}
