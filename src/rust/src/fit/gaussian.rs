//! The Gaussian identity model's smoothness selection criteria (REML, ML, GCV/UBRE) and
//! their exact first and second derivatives in `rho = log(lambda)`.
//!
//! Everything is computed from `A = X'WX`, `b = X'Wy` and `c = y'Wy`, formed once
//! (Wood 2017 §6.2): for `H = A + S_lambda`, `beta = H^-1 b`, the penalized deviance is
//! `Dp = c - beta'b` and the deviance `D = Dp - beta' S_lambda beta`.
//!
//! * REML and ML (Wood 2011, JRSS-B 73:3-36, eq. 4 with the Gaussian likelihood), with
//!   the scale profiled out (see `likelihood_criterion`).
//! * GCV (Craven & Wahba 1979; Wood 2017 §4.2.3): `V = n D / (n - gamma tau)^2`,
//!   `tau = tr(H^-1 A)`.
//!
//! Derivatives use `d beta / d rho_j = -lambda_j H^-1 S_j beta` and
//! `d log|H| / d rho_j = lambda_j tr(H^-1 S_j)` (Wood 2011 §3.2, Appendix A).

use ndarray::{s, Array1, Array2};

use crate::error::{EngineError, Result};
use crate::fit::gcv::{criterion_value, Score};
use crate::fit::outer::Eval;
use crate::fit::penalty::{penalty_columns, trace_of_columns, trace_with_columns, LogDet, PenaltySet};
use crate::fit::Method;
use crate::linalg::{SpdFactor, SpdSystem};

/// The data side of a Gaussian penalized least-squares problem.
#[derive(Debug, Clone)]
pub struct Gram {
    /// `X'WX`.
    pub xtwx: Array2<f64>,
    /// `X'Wy` (y already net of any offset).
    pub xtwy: Array1<f64>,
    /// `y'Wy`.
    pub ytwy: f64,
    /// Number of observations with positive weight.
    pub n: f64,
    /// `sum(log(w))` over the observations with positive weight (enters the REML/ML
    /// constant).
    pub sum_log_w: f64,
}

/// The penalized least-squares fit at one `rho`, with what the criterion needs.
pub struct PlsFit {
    pub beta: Array1<f64>,
    pub h_inv: Array2<f64>,
    pub log_det_h: f64,
    pub lambda: Vec<f64>,
}

/// `(X'WX + S_lambda)^-1 X'Wy`.
pub fn pls_fit(gram: &Gram, penalties: &PenaltySet, rho: &[f64]) -> Result<PlsFit> {
    let lambda: Vec<f64> = rho.iter().map(|r| r.exp()).collect();
    let mut h = gram.xtwx.clone();
    penalties.add_to(&mut h, &lambda);
    let system = SpdSystem::new(&h, penalties.diagonal_block(&h)).ok_or_else(|| EngineError::NotIdentifiable {
        detail: "X'WX + S is not positive definite; check for aliased parametric terms \
                 or a smooth that duplicates another"
            .to_string(),
    })?;
    let h_inv = system.inverse();
    let beta = h_inv.dot(&gram.xtwy);
    Ok(PlsFit { beta, h_inv, log_det_h: system.log_det(), lambda })
}

/// Per-penalty pieces: `P_j = H^-1[:, B_j] S_j` (the non-zero columns of `H^-1 S_j`) and
/// `S_j beta`.
struct PenaltyParts {
    start: usize,
    len: usize,
    p_mat: Array2<f64>,
    s_beta: Array1<f64>,
}

impl PenaltyParts {
    /// `H^-1 S_j v`.
    fn apply(&self, v: &Array1<f64>) -> Array1<f64> {
        self.p_mat.dot(&v.slice(s![self.start..self.start + self.len]))
    }

    /// `tr(H^-1 S_j)`.
    fn trace(&self) -> f64 {
        (0..self.len).map(|c| self.p_mat[(self.start + c, c)]).sum()
    }
}

/// `tr(H^-1 S_j H^-1 S_k)` from the non-zero columns of both.
fn trace_pair(a: &PenaltyParts, b: &PenaltyParts) -> f64 {
    trace_of_columns(a.start, &a.p_mat, b.start, &b.p_mat)
}

/// `tr(H^-1 S_k Q)` for a dense `Q`.
fn trace_with(a: &PenaltyParts, q: &Array2<f64>) -> f64 {
    trace_with_columns(a.start, &a.p_mat, q)
}

fn parts(fit: &PlsFit, penalties: &PenaltySet) -> Vec<PenaltyParts> {
    parts_of(&fit.h_inv, penalties, Some(&fit.beta))
}

/// `PenaltyParts` with `m` in place of `H^-1` (ML's determinant uses the range space's
/// inverse), and each `S_j beta` only when `beta` is given (empty otherwise).
fn parts_of(m: &Array2<f64>, penalties: &PenaltySet, beta: Option<&Array1<f64>>) -> Vec<PenaltyParts> {
    penalties
        .penalties
        .iter()
        .zip(penalty_columns(m, penalties))
        .map(|(pen, p_mat)| PenaltyParts {
            start: pen.start,
            len: pen.len(),
            p_mat,
            s_beta: beta
                .map_or_else(|| Array1::zeros(0), |b| pen.s.dot(&b.slice(s![pen.start..pen.start + pen.len()]))),
        })
        .collect()
}

/// `d beta / d rho_j = -lambda_j H^-1 S_j beta`.
fn beta_derivatives(fit: &PlsFit, pp: &[PenaltyParts]) -> Vec<Array1<f64>> {
    pp.iter()
        .zip(&fit.lambda)
        .map(|(q, l)| fit.h_inv.slice(s![.., q.start..q.start + q.len]).dot(&q.s_beta) * -*l)
        .collect()
}

/// `d beta / d rho` at `fit`, one column per penalty.
pub fn beta_sensitivities(fit: &PlsFit, penalties: &PenaltySet) -> Array2<f64> {
    let columns = beta_derivatives(fit, &parts(fit, penalties));
    Array2::from_shape_fn((fit.beta.len(), columns.len()), |(i, j)| columns[j][i])
}

/// The REML/ML criterion keeps the scale as a parameter `theta = log phi` in mgcv;
/// here it is profiled out. At the optimum the full criterion's curvature in `theta`
/// is `a / (2 gamma)` and its cross derivatives are `-a/(2 gamma) dDp/drho_j / Dp`
/// (differentiate `Dp/(2 phi gamma) + a/(2 gamma) log phi` at `phi = Dp/a`): the
/// profiled Hessian is the full one's Schur complement, so these recover the full one.
pub fn scale_curvature(
    gram: &Gram,
    penalties: &PenaltySet,
    method: Method,
    gamma: f64,
    fit: &PlsFit,
) -> (f64, Vec<f64>) {
    let coef = scale_df(gram, penalties, method, gamma) / (2.0 * gamma);
    let dp = penalized_deviance(gram, fit).max(f64::MIN_POSITIVE);
    let cross = parts(fit, penalties)
        .iter()
        .zip(&fit.lambda)
        .map(|(q, l)| -coef * l * q.s_beta.dot(&fit.beta.slice(s![q.start..q.start + q.len])) / dp)
        .collect();
    (coef, cross)
}

fn embed(p: usize, part: &PenaltyParts, v: &Array1<f64>) -> Array1<f64> {
    let mut out = Array1::zeros(p);
    out.slice_mut(s![part.start..part.start + part.len]).assign(v);
    out
}

/// The criterion at `rho` (all smoothing parameters) with its gradient and Hessian.
pub fn evaluate(
    gram: &Gram,
    penalties: &PenaltySet,
    method: Method,
    gamma: f64,
    rho: &[f64],
) -> Result<(Eval, PlsFit)> {
    let fit = pls_fit(gram, penalties, rho)?;
    let eval = match method {
        Method::Reml | Method::Ml => likelihood_criterion(gram, penalties, method, gamma, &fit)?,
        Method::Gcv | Method::Gacv => gcv_criterion(gram, penalties, method, gamma, &fit),
    };
    let eval = Eval { coefficients: fit.beta.to_vec(), ..eval };
    Ok((eval, fit))
}

/// Penalized deviance `Dp = c - beta'b`.
pub fn penalized_deviance(gram: &Gram, fit: &PlsFit) -> f64 {
    gram.ytwy - fit.beta.dot(&gram.xtwy)
}

/// Weighted residual sum of squares `D = c - 2 beta'b + beta'A beta`.
pub fn deviance(gram: &Gram, fit: &PlsFit) -> f64 {
    gram.ytwy - 2.0 * fit.beta.dot(&gram.xtwy) + fit.beta.dot(&gram.xtwx.dot(&fit.beta))
}

/// `a = n - gamma M_p` (REML) or `n` (ML): the profiled scale is `phi = Dp / a`.
pub fn scale_df(gram: &Gram, penalties: &PenaltySet, method: Method, gamma: f64) -> f64 {
    match method {
        Method::Reml => gram.n - gamma * penalties.null_space_dim() as f64,
        _ => gram.n,
    }
}

/// `log|A + S_lambda|` with its gradient and Hessian in `rho`, from the inverse
/// `(A + S_lambda)^-1`: `d/d rho_j = lambda_j tr(H^-1 S_j)`,
/// `d2/d rho_j d rho_k = delta_jk lambda_j tr(H^-1 S_j) - lambda_j lambda_k tr(H^-1 S_j H^-1 S_k)`
/// (Wood 2011 §3.2).
fn log_det_derivatives(pp: &[PenaltyParts], log_det: f64, lambda: &[f64]) -> LogDet {
    let m = pp.len();
    let traces: Vec<f64> = pp.iter().map(|q| q.trace()).collect();
    let mut out = LogDet { value: log_det, grad: Array1::zeros(m), hess: Array2::zeros((m, m)) };
    for j in 0..m {
        out.grad[j] = lambda[j] * traces[j];
        for k in 0..m {
            out.hess[(j, k)] = -lambda[j] * lambda[k] * trace_pair(&pp[j], &pp[k]);
        }
        out.hess[(j, j)] += lambda[j] * traces[j];
    }
    out
}

/// The log determinant in the REML/ML criterion: `log|X'WX + S_lambda|` for REML; for
/// ML the null-space coefficients are not integrated out, so the determinant is taken
/// on the penalty range space, `log|U_r'(X'WX + S_lambda)U_r|` (Wood 2011 §2.2).
fn hessian_log_det(
    gram: &Gram,
    penalties: &PenaltySet,
    method: Method,
    fit: &PlsFit,
    pp: &[PenaltyParts],
) -> Result<LogDet> {
    if method == Method::Reml {
        return Ok(log_det_derivatives(pp, fit.log_det_h, &fit.lambda));
    }
    let (u_r, reduced) = penalties.range_space();
    let mut h_r = u_r.t().dot(&gram.xtwx).dot(&u_r);
    reduced.add_to(&mut h_r, &fit.lambda);
    let factor = SpdFactor::new(h_r.view()).ok_or_else(|| EngineError::NotIdentifiable {
        detail: "the penalized part of X'WX + S is not positive definite".to_string(),
    })?;
    let pp_r = parts_of(&factor.inverse(), &reduced, None);
    Ok(log_det_derivatives(&pp_r, factor.log_det(), &fit.lambda))
}

/// REML/ML with the scale profiled out. With `phi` free, the criterion (Wood 2011 eq. 4
/// for the Gaussian likelihood, with `gamma` dividing the log likelihood as in mgcv) is
/// `Dp/(2 phi gamma) + (n log(2 pi phi) - sum(log w))/(2 gamma) + log|H|/2
///  - log|S|_+/2 - [REML] M_p/2 (log(2 pi phi) - log(gamma))`,
/// minimized by `phi = Dp / a`; substituting gives
/// `a/(2 gamma) (1 + log(2 pi Dp / a)) - sum(log w)/(2 gamma) + (log|H| - log|S|_+)/2
///  + [REML] M_p/2 log(gamma)`. (`|H|` is on the penalty range space for ML.)
fn likelihood_criterion(gram: &Gram, penalties: &PenaltySet, method: Method, gamma: f64, fit: &PlsFit) -> Result<Eval> {
    let m = penalties.len();
    let p = penalties.p;
    let pp = parts(fit, penalties);
    let a = scale_df(gram, penalties, method, gamma);
    let dp = penalized_deviance(gram, fit).max(f64::MIN_POSITIVE);
    let rho: Vec<f64> = fit.lambda.iter().map(|l| l.ln()).collect();
    let ls = penalties.log_det(&rho);
    let lh = hessian_log_det(gram, penalties, method, fit, &pp)?;
    let coef = a / (2.0 * gamma);
    let mut value = coef * (1.0 + (2.0 * std::f64::consts::PI * dp / a).ln()) - gram.sum_log_w / (2.0 * gamma)
        + 0.5 * (lh.value - ls.value);
    if method == Method::Reml {
        value += 0.5 * penalties.null_space_dim() as f64 * gamma.ln();
    }
    let dbeta = beta_derivatives(fit, &pp);
    let bsb: Vec<f64> = pp.iter().map(|q| q.s_beta.dot(&fit.beta.slice(s![q.start..q.start + q.len]))).collect();
    let mut grad = Array1::zeros(m);
    let mut hess = Array2::zeros((m, m));
    // dDp_j = lambda_j beta'S_j beta (envelope theorem: d Dp / d beta = 0 at beta-hat).
    let d_dp: Vec<f64> = (0..m).map(|j| fit.lambda[j] * bsb[j]).collect();
    for j in 0..m {
        let lj = fit.lambda[j];
        grad[j] = coef * d_dp[j] / dp + 0.5 * (lh.grad[j] - ls.grad[j]);
        let sb = embed(p, &pp[j], &pp[j].s_beta);
        for k in 0..m {
            // d2Dp_jk = delta_jk lambda_j beta'S_j beta + 2 lambda_j beta'S_j dbeta_k
            let mut d2_dp = 2.0 * lj * sb.dot(&dbeta[k]);
            if j == k {
                d2_dp += d_dp[j];
            }
            hess[(j, k)] =
                coef * (d2_dp / dp - d_dp[j] * d_dp[k] / (dp * dp)) + 0.5 * (lh.hess[(j, k)] - ls.hess[(j, k)]);
        }
    }
    Ok(Eval { value, grad, hess, coefficients: Vec::new() })
}

fn gcv_criterion(gram: &Gram, penalties: &PenaltySet, method: Method, gamma: f64, fit: &PlsFit) -> Eval {
    let m = penalties.len();
    let p = penalties.p;
    let n = gram.n;
    let pp = parts(fit, penalties);
    let lam = &fit.lambda;
    let totals = penalties.totals(lam);
    let d = deviance(gram, fit).max(0.0);
    // M = H^-1 S_lambda, so that F = H^-1 A = I - M and tau = p - tr(M).
    let mut s_lambda = Array2::zeros((p, p));
    penalties.add_to(&mut s_lambda, lam);
    let m_mat = fit.h_inv.dot(&s_lambda);
    let s_lambda_beta = s_lambda.dot(&fit.beta);
    let tau = p as f64 - m_mat.diag().sum();
    let traces: Vec<f64> = pp.iter().map(|q| q.trace()).collect();
    let tt = Array2::from_shape_fn((m, m), |(j, k)| trace_pair(&pp[j], &pp[k]));
    // d beta_j = -lambda_j H^-1 S_j beta
    let dbeta = beta_derivatives(fit, &pp);
    let a_dbeta: Vec<Array1<f64>> = dbeta.iter().map(|v| gram.xtwx.dot(v)).collect();
    // K_j M, needed for the triple traces tr(K_k K_j M).
    let km: Vec<Array2<f64>> = pp.iter().map(|q| q.p_mat.dot(&m_mat.slice(s![q.start..q.start + q.len, ..]))).collect();
    let mut d_d = Array1::zeros(m);
    let mut d_tau = Array1::zeros(m);
    let mut d2_d = Array2::zeros((m, m));
    let mut d2_tau = Array2::zeros((m, m));
    for j in 0..m {
        // dD_j = 2 dbeta_j'(A beta - b) = -2 dbeta_j' S_lambda beta
        d_d[j] = -2.0 * dbeta[j].dot(&s_lambda_beta);
        // G = tr(M) = sum_i (lambda_i + floor_i) tr(K_i); tau = p - G. sum_t is
        // tr(K_j M).
        let sum_t: f64 = totals.iter().enumerate().map(|(i, t)| t * tt[(j, i)]).sum();
        d_tau[j] = -(lam[j] * traces[j] - lam[j] * sum_t);
        for k in 0..m {
            // d2 beta_jk = delta_jk dbeta_j - lambda_j K_j dbeta_k - lambda_k K_k dbeta_j
            let mut d2b = -pp[j].apply(&dbeta[k]) * lam[j] - pp[k].apply(&dbeta[j]) * lam[k];
            if j == k {
                d2b += &dbeta[j];
            }
            d2_d[(j, k)] = -2.0 * d2b.dot(&s_lambda_beta) + 2.0 * dbeta[j].dot(&a_dbeta[k]);
            // d2G_jk = delta_jk (lambda_j t_j - lambda_j sum_i lambda_i T_ji)
            //          - 2 lambda_j lambda_k T_jk
            //          + lambda_j lambda_k (tr(K_k K_j M) + tr(K_j K_k M))
            let mut d2g = -2.0 * lam[j] * lam[k] * tt[(j, k)]
                + lam[j] * lam[k] * (trace_with(&pp[k], &km[j]) + trace_with(&pp[j], &km[k]));
            if j == k {
                d2g += lam[j] * traces[j] - lam[j] * sum_t;
            }
            d2_tau[(j, k)] = -d2g;
        }
    }
    // The Gaussian's Pearson statistic is its deviance (GACV's `P = D`).
    let score = if method == Method::Gacv { Score::Gacv } else { Score::Gcv };
    let (value, shape) = criterion_value(score, n, gamma, d, tau, d);
    let d_d = d_d.as_slice().expect("contiguous");
    let (grad, hess) = shape.combine(d_d, d_tau.as_slice().expect("contiguous"), d_d, &d2_d, &d2_tau, &d2_d);
    Eval { value, grad, hess, coefficients: Vec::new() }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fit::penalty::Penalty;
    use crate::linalg::weighted_cross_products;
    use ndarray::ShapeBuilder;

    /// A small pseudo-random Gaussian problem: intercept plus two penalized blocks.
    fn problem() -> (Gram, PenaltySet) {
        let n = 120;
        let p = 9;
        let mut unif = crate::fit::uniform_stream(12345);
        let x = Array2::from_shape_fn((n, p).f(), |(i, j)| {
            if j == 0 {
                1.0
            } else {
                (i as f64 * 0.05 * j as f64).sin() + 0.3 * unif()
            }
        });
        let y: Vec<f64> = (0..n).map(|i| (i as f64 * 0.07).cos() + unif()).collect();
        let w: Vec<f64> = (0..n).map(|i| 0.5 + (i % 4) as f64 * 0.5).collect();
        let (xtwx, xtwy) = weighted_cross_products(x.view(), &w, &y, 1);
        let ytwy = y.iter().zip(&w).map(|(a, b)| a * a * b).sum();
        let gram = Gram { xtwx, xtwy, ytwy, n: n as f64, sum_log_w: w.iter().map(|v| v.ln()).sum() };
        let d2 = crate::basis::ps::difference_penalty(4, 2);
        let d1 = crate::basis::ps::difference_penalty(4, 1);
        let pens = vec![Penalty { start: 1, s: d2 }, Penalty { start: 5, s: d1 }];
        (gram, PenaltySet::new(p, pens))
    }

    fn check(method: Method, gamma: f64) {
        let (gram, pens) = problem();
        let rho = [0.3, -1.1];
        let (e, _) = evaluate(&gram, &pens, method, gamma, &rho).unwrap();
        let h = 1e-5;
        for j in 0..2 {
            let mut up = rho;
            let mut dn = rho;
            up[j] += h;
            dn[j] -= h;
            let (eu, _) = evaluate(&gram, &pens, method, gamma, &up).unwrap();
            let (ed, _) = evaluate(&gram, &pens, method, gamma, &dn).unwrap();
            let g = (eu.value - ed.value) / (2.0 * h);
            let scale = e.grad[j].abs().max(1e-3);
            assert!((g - e.grad[j]).abs() < 1e-6 * scale.max(1.0), "{method:?} grad {j}: fd {g} vs {}", e.grad[j]);
            for k in 0..2 {
                let hk = (eu.grad[k] - ed.grad[k]) / (2.0 * h);
                let sc = e.hess[(j, k)].abs().max(1e-2);
                assert!(
                    (hk - e.hess[(j, k)]).abs() < 1e-5 * sc.max(1.0),
                    "{method:?} hess {j}{k}: fd {hk} vs {}",
                    e.hess[(j, k)]
                );
            }
        }
    }

    #[test]
    fn reml_derivatives_match_finite_differences() {
        check(Method::Reml, 1.0);
        check(Method::Reml, 1.4);
    }

    #[test]
    fn ml_derivatives_match_finite_differences() {
        check(Method::Ml, 1.0);
    }

    #[test]
    fn gcv_derivatives_match_finite_differences() {
        check(Method::Gcv, 1.0);
        check(Method::Gcv, 1.4);
        check(Method::Gacv, 1.0);
        check(Method::Gacv, 1.4);
    }

    /// GACV's value: `D/n + 2 gamma tau D / (n (n - gamma tau))` (the Gaussian's
    /// Pearson statistic is its deviance), with `D` and `tau` read off GCV's value
    /// at the same fit and its derivative's structure, `n D / delta^2`.
    #[test]
    fn gacv_value_is_its_definition() {
        let (gram, pens) = problem();
        let rho = [0.3, -1.1];
        let gamma = 1.4;
        let (gacv, fit) = evaluate(&gram, &pens, Method::Gacv, gamma, &rho).unwrap();
        let (gcv, _) = evaluate(&gram, &pens, Method::Gcv, gamma, &rho).unwrap();
        let d = deviance(&gram, &fit);
        let n = gram.n;
        let delta = (n * d / gcv.value).sqrt();
        let tau = (n - delta) / gamma;
        let direct = d / n + 2.0 * gamma * tau * d / (n * delta);
        assert!((gacv.value - direct).abs() < 1e-10 * direct, "{} vs {direct}", gacv.value);
    }
}
