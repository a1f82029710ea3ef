//! The Laplace-approximate REML and ML criteria of a generalized additive model, with
//! their exact gradient and Hessian in the log smoothing parameters and the log scale
//! (Wood 2011, JRSS-B 73:3-36, §2-3 and Appendix C; the form mgcv's `gam.fit3` uses):
//!
//! `V = (Dp / (2 phi) - ls(phi)) / gamma + log|H|/2 - log|S|_+/2
//!      - [REML] M_p/2 (log(2 pi phi) - log(gamma))`,
//!
//! with `Dp = D(beta) + beta'S beta` at the penalized fit, `H = X'WX + S` its Hessian in
//! `beta` (observed information) and `ls` the saturated log likelihood. For ML, `|H|` is
//! taken on the penalty range space, where the null-space coefficients are not
//! integrated out.
//!
//! Unlike the Gaussian case, `W` depends on `rho` through `beta`:
//! `dW_i/drho_j = D'''_i/2 (X dbeta_j)_i`. The traces `tr(G X' diag(v) X)` that brings
//! are `sum_i v_i a_i` with `a_i = x_i' G x_i`, and the second derivatives need
//! `X' diag(D'''/2 X dbeta_k) X` for each `k`: all are formed in one pass over the data.

use faer::Mat;
use ndarray::{s, Array1, Array2};

use crate::error::{EngineError, Result};
use crate::fit::criterion::Method;
use crate::fit::outer::Eval;
use crate::fit::penalty::PenaltySet;
use crate::fit::pirls::{GlmData, InnerFit};
use crate::linalg::{self, SpdFactor};

/// How the criterion is formed.
#[derive(Debug, Clone, Copy)]
pub struct LamlSettings {
    pub method: Method,
    pub gamma: f64,
    /// The scale is a parameter (the last one) rather than known to be 1.
    pub scale_param: bool,
}

/// `G` in `d log|H|_* = tr(G dH)`: `H^-1` for REML, `U_r (U_r' H U_r)^-1 U_r'` for
/// ML; with `log|H|_*`.
fn log_det_inverse(fit: &InnerFit, penalties: &PenaltySet, lambda: &[f64], method: Method) -> Result<(f64, Array2<f64>)> {
    if method != Method::Ml {
        return Ok((fit.log_det_h, fit.h_inv.clone()));
    }
    let (u_r, reduced) = penalties.range_space();
    let mut h_r = u_r.t().dot(&fit.xtwx).dot(&u_r);
    reduced.add_to(&mut h_r, lambda);
    let factor = SpdFactor::new(h_r.view())
        .ok_or_else(|| EngineError::NotIdentifiable { detail: "the penalized part of X'WX + S is not positive definite".into() })?;
    Ok((factor.log_det(), u_r.dot(&factor.inverse()).dot(&u_r.t())))
}

/// `M[:, B_j] S_j` for each penalty: the non-zero columns of `M S_j`.
fn penalty_columns(m: &Array2<f64>, penalties: &PenaltySet) -> Vec<Array2<f64>> {
    penalties.penalties.iter().map(|pen| m.slice(s![.., pen.start..pen.start + pen.len()]).dot(&pen.s)).collect()
}

/// `tr(A M S_j)` from `P = M[:, B_j] S_j`.
fn trace_with(start: usize, p_cols: &Array2<f64>, a: &Array2<f64>) -> f64 {
    let mut t = 0.0;
    for c in 0..p_cols.ncols() {
        for r in 0..p_cols.nrows() {
            t += a[(start + c, r)] * p_cols[(r, c)];
        }
    }
    t
}

/// What the pass over the data collects for the derivatives (see the module notes;
/// `h3 = D'''/2`, `h4 = D''''/2`, `e_j = X dbeta_j`).
struct PassSums {
    /// `sum h3 a e_j`.
    t1: Vec<f64>,
    /// `sum h4 a e_j e_k`.
    t2: Array2<f64>,
    /// `X'(h3 a)`.
    q: Vec<f64>,
    /// `X'(h3 e_j e_k)`, for `j <= k` in row-major order.
    r: Vec<Vec<f64>>,
    /// `X' diag(h3 e_k) X`.
    c: Vec<Array2<f64>>,
}

fn pair_index(m: usize, j: usize, k: usize) -> usize {
    let (a, b) = if j <= k { (j, k) } else { (k, j) };
    a * m - a * (a + 1) / 2 + b
}

fn derivative_pass(
    data: &GlmData<'_, '_>,
    fit: &InnerFit,
    g: &Array2<f64>,
    dbeta: &Array2<f64>,
    interrupted: &mut dyn FnMut() -> bool,
) -> Result<PassSums> {
    let (n, p) = (data.design.nrows(), data.design.ncols());
    let m = dbeta.ncols();
    let parallel = linalg::par(data.threads);
    let mut sums = PassSums {
        t1: vec![0.0; m],
        t2: Array2::zeros((m, m)),
        q: vec![0.0; p],
        r: vec![vec![0.0; p]; m * (m + 1) / 2],
        c: Vec::new(),
    };
    let mut c_acc: Vec<Mat<f64>> = (0..m).map(|_| Mat::zeros(p, p)).collect();
    // `X'(h3 a)` and `X'(h3 e_j e_k)` as one product with a block of weight columns.
    let n_pairs = m * (m + 1) / 2;
    let mut qr_acc = Mat::<f64>::zeros(p, 1 + n_pairs);
    let mut scratch = Mat::<f64>::zeros(0, 0);
    let mut basis_scratch = Vec::new();
    let mut chunks = 0usize;
    let (mut h3, mut h4, mut a, mut v) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    linalg::for_each_chunk(
        n,
        p,
        |start, rows, buf| {
            chunks += 1;
            if chunks % 128 == 0 && interrupted() {
                return Err(EngineError::Interrupted);
            }
            data.design.fill_rows(start, rows, buf, &mut basis_scratch);
            Ok(())
        },
        |start, chunk| {
            let rows = chunk.nrows();
            let e = linalg::product(chunk, dbeta.view(), parallel);
            let xg = linalg::product(chunk, g.view(), parallel);
            // a_i = x_i' G x_i, column by column (both are column-major).
            a.clear();
            a.resize(rows, 0.0);
            for c in 0..p {
                let (gc, xc) = (xg.col_as_slice(c), chunk.column(c));
                for i in 0..rows {
                    a[i] += gc[i] * xc[i];
                }
            }
            h3.clear();
            h4.clear();
            for i in 0..rows {
                let row = start + i;
                let (d3, d4) = if data.w[row] == 0.0 {
                    (0.0, 0.0)
                } else {
                    let t = data.family.eta_terms(data.y[row], data.w[row], fit.eta[row]).ok_or_else(|| EngineError::NonFinite {
                        what: "the fitted means".into(),
                    })?;
                    (t.d[2] / 2.0, t.d[3] / 2.0)
                };
                h3.push(d3);
                h4.push(d4);
            }
            let mut block = Mat::<f64>::zeros(rows, 1 + n_pairs);
            for i in 0..rows {
                block[(i, 0)] = h3[i] * a[i];
            }
            for j in 0..m {
                let ej = e.col_as_slice(j);
                for i in 0..rows {
                    sums.t1[j] += h3[i] * a[i] * ej[i];
                }
                for k in j..m {
                    let ek = e.col_as_slice(k);
                    let (mut t2, col) = (0.0, 1 + pair_index(m, j, k));
                    for i in 0..rows {
                        let eje = ej[i] * ek[i];
                        t2 += h4[i] * a[i] * eje;
                        block[(i, col)] = h3[i] * eje;
                    }
                    sums.t2[(j, k)] += t2;
                    if k != j {
                        sums.t2[(k, j)] += t2;
                    }
                }
                v.clear();
                v.extend((0..rows).map(|i| h3[i] * ej[i]));
                linalg::add_weighted_gram(&mut c_acc[j], chunk, &v, &mut scratch, parallel);
            }
            linalg::add_xt_block(&mut qr_acc, chunk, &block, parallel);
            Ok(())
        },
    )?;
    sums.q = qr_acc.col_as_slice(0).to_vec();
    sums.r = (0..n_pairs).map(|c| qr_acc.col_as_slice(1 + c).to_vec()).collect();
    sums.c = c_acc.iter().map(linalg::from_lower).collect();
    Ok(sums)
}

/// The criterion at per-penalty log smoothing parameters `rho` (and `log_phi` when the
/// scale is a parameter) for the inner fit `fit` there; with gradient and Hessian when
/// `derivatives` (otherwise they are empty), and then also `d beta / d rho` (p x m).
/// `ls` is `family.saturated_loglik` at the scale.
#[allow(clippy::too_many_arguments)]
pub fn evaluate(
    data: &GlmData<'_, '_>,
    settings: &LamlSettings,
    fit: &InnerFit,
    rho: &[f64],
    log_phi: f64,
    ls: [f64; 3],
    derivatives: bool,
    interrupted: &mut dyn FnMut() -> bool,
) -> Result<(Eval, Option<Array2<f64>>)> {
    let penalties = data.penalties;
    let m = penalties.len();
    let p = penalties.p;
    let lambda: Vec<f64> = rho.iter().map(|r| r.exp()).collect();
    let phi = log_phi.exp();
    let gamma = settings.gamma;
    let reml = settings.method == Method::Reml;
    let mp = penalties.null_space_dim() as f64;
    let dp = fit.deviance + fit.penalty;
    let (log_det, g) = log_det_inverse(fit, penalties, &lambda, settings.method)?;
    let ls_pen = penalties.log_det(rho);
    let mut value = (dp / (2.0 * phi) - ls[0]) / gamma + 0.5 * (log_det - ls_pen.value);
    if reml {
        value -= 0.5 * mp * ((2.0 * std::f64::consts::PI * phi).ln() - gamma.ln());
    }
    let coefficients = fit.beta.to_vec();
    if !derivatives {
        return Ok((Eval { value, grad: Array1::zeros(0), hess: Array2::zeros((0, 0)), coefficients }, None));
    }

    // dbeta_j = -lambda_j H^-1 S_j beta (implicit differentiation of the penalized
    // score; Wood 2011 §3.1).
    let s_beta: Vec<Array1<f64>> =
        penalties.penalties.iter().map(|pen| pen.s.dot(&fit.beta.slice(s![pen.start..pen.start + pen.len()]))).collect();
    let mut dbeta = Array2::<f64>::zeros((p, m));
    for (j, pen) in penalties.penalties.iter().enumerate() {
        let col = fit.h_inv.slice(s![.., pen.start..pen.start + pen.len()]).dot(&s_beta[j]) * -lambda[j];
        dbeta.column_mut(j).assign(&col);
    }
    let sums = derivative_pass(data, fit, &g, &dbeta, interrupted)?;
    let g_cols = penalty_columns(&g, penalties);
    let g_traces: Vec<f64> =
        penalties.penalties.iter().zip(&g_cols).map(|(pen, pc)| (0..pen.len()).map(|c| pc[(pen.start + c, c)]).sum()).collect();
    let gc: Vec<Array2<f64>> = sums.c.iter().map(|c| g.dot(c)).collect();
    // S_j v restricted to its block, embedded in p.
    let s_times = |j: usize, v: &Array1<f64>| -> Array1<f64> {
        let pen = &penalties.penalties[j];
        let mut out = Array1::zeros(p);
        out.slice_mut(s![pen.start..pen.start + pen.len()]).assign(&pen.s.dot(&v.slice(s![pen.start..pen.start + pen.len()])));
        out
    };
    let db: Vec<Array1<f64>> = (0..m).map(|j| dbeta.column(j).to_owned()).collect();
    let d_dp: Vec<f64> = (0..m).map(|j| lambda[j] * s_beta[j].dot(&fit.beta.slice(s![penalties.penalties[j].start..penalties.penalties[j].start + penalties.penalties[j].len()]))).collect();
    let q = Array1::from(sums.q.clone());

    let np = m + usize::from(settings.scale_param);
    let mut grad = Array1::zeros(np);
    let mut hess = Array2::zeros((np, np));
    for j in 0..m {
        let l1 = sums.t1[j] + lambda[j] * g_traces[j];
        grad[j] = d_dp[j] / (2.0 * phi * gamma) + 0.5 * (l1 - ls_pen.grad[j]);
        let sb_j = s_times(j, &fit.beta);
        for k in j..m {
            // d2beta_jk = delta_jk dbeta_j - H^-1 (r_jk + lambda_k S_k dbeta_j + lambda_j S_j dbeta_k)
            let rhs = Array1::from(sums.r[pair_index(m, j, k)].clone()) + s_times(k, &db[j]) * lambda[k] + s_times(j, &db[k]) * lambda[j];
            let mut d2b = fit.h_inv.dot(&rhs) * -1.0;
            if j == k {
                d2b += &db[j];
            }
            let mut d2_dp = 2.0 * lambda[j] * sb_j.dot(&db[k]);
            let mut l2 = sums.t2[(j, k)] + q.dot(&d2b);
            if j == k {
                d2_dp += d_dp[j];
                l2 += lambda[j] * g_traces[j];
            }
            let (pj, pk) = (&penalties.penalties[j], &penalties.penalties[k]);
            l2 -= linalg_trace_product(&gc[k], &gc[j])
                + lambda[j] * trace_with(pj.start, &g_cols[j], &gc[k])
                + lambda[k] * trace_with(pk.start, &g_cols[k], &gc[j])
                + lambda[j] * lambda[k] * trace_pair(pj.start, &g_cols[j], pk.start, &g_cols[k]);
            let h = d2_dp / (2.0 * phi * gamma) + 0.5 * (l2 - ls_pen.hess[(j, k)]);
            hess[(j, k)] = h;
            hess[(k, j)] = h;
        }
    }
    if settings.scale_param {
        // The scale's derivatives (mgcv's gam.fit3), in log(phi).
        let t = m;
        grad[t] = (-dp / (2.0 * phi) - ls[1] * phi) / gamma - if reml { mp / 2.0 } else { 0.0 };
        hess[(t, t)] = (dp / (2.0 * phi) - ls[2] * phi * phi - ls[1] * phi) / gamma;
        for j in 0..m {
            let h = -d_dp[j] / (2.0 * phi * gamma);
            hess[(j, t)] = h;
            hess[(t, j)] = h;
        }
    }
    if grad.iter().chain(hess.iter()).any(|v| !v.is_finite()) {
        return Err(EngineError::NonFinite { what: "the derivatives of the REML criterion".into() });
    }
    Ok((Eval { value, grad, hess, coefficients }, Some(dbeta)))
}

/// `tr(A B)`.
fn linalg_trace_product(a: &Array2<f64>, b: &Array2<f64>) -> f64 {
    crate::fit::penalty::trace_of_product(a, b)
}

/// `tr(G S_j G S_k)` from `P_j = G[:, B_j] S_j` and `P_k`.
fn trace_pair(start_j: usize, pj: &Array2<f64>, start_k: usize, pk: &Array2<f64>) -> f64 {
    let mut t = 0.0;
    for c in 0..pj.ncols() {
        for r in 0..pk.ncols() {
            t += pj[(start_k + r, c)] * pk[(start_j + c, r)];
        }
    }
    t
}
