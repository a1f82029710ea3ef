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
use ndarray::{s, Array1, Array2, ShapeBuilder};

use crate::error::{EngineError, Result};
use crate::fit::outer::Eval;
use crate::fit::penalty::{penalty_columns, trace_of_columns, trace_of_product, trace_with_columns, PenaltySet};
use crate::fit::pirls::{GlmData, InnerFit};
use crate::fit::rows::{CrossParts, GramParts, Layout};
use crate::fit::Method;
use crate::linalg::{self, SpdFactor};

/// How the criterion is formed.
#[derive(Debug, Clone, Copy)]
pub struct LamlSettings {
    pub method: Method,
    pub gamma: f64,
    /// The scale is a parameter (the last one) rather than known to be 1.
    pub scale_param: bool,
    /// Form the Hessian's data terms from a systematic subsample of about this many
    /// rows when there are more (`HESSIAN_ROWS` while iterating,
    /// `REPORTED_HESSIAN_ROWS` for the Hessian the fit reports).
    pub hessian_rows: usize,
}

/// `G` in `d log|H|_* = tr(G dH)`: `H^-1` for REML, `U_r (U_r' H U_r)^-1 U_r'` for
/// ML; with `log|H|_*`.
fn log_det_inverse(
    fit: &InnerFit,
    penalties: &PenaltySet,
    lambda: &[f64],
    method: Method,
) -> Result<(f64, Array2<f64>)> {
    if method != Method::Ml {
        return Ok((fit.log_det_h, fit.h_inv.clone()));
    }
    let (u_r, reduced) = penalties.range_space();
    let mut h_r = u_r.t().dot(&fit.xtwx).dot(&u_r);
    reduced.add_to(&mut h_r, lambda);
    let factor = SpdFactor::new(h_r.view()).ok_or_else(|| EngineError::NotIdentifiable {
        detail: "the penalized part of X'WX + S is not positive definite".into(),
    })?;
    Ok((factor.log_det(), u_r.dot(&factor.inverse()).dot(&u_r.t())))
}

/// What the pass over the data collects for the derivatives (see the module notes;
/// `h3 = D'''/2`, `h4 = D''''/2`, `e_j = X dbeta_j`).
pub(crate) struct PassSums {
    /// `sum h3 a e_j`.
    pub(crate) t1: Vec<f64>,
    /// `sum h4 a e_j e_k`.
    pub(crate) t2: Array2<f64>,
    /// `X'(h3 a)`.
    pub(crate) q: Vec<f64>,
    /// `X'(h3 e_j e_k)`, for `j <= k` in row-major order.
    pub(crate) r: Vec<Vec<f64>>,
    /// `X' diag(h3 e_k) X`.
    pub(crate) c: Vec<Array2<f64>>,
}

pub(crate) fn pair_index(m: usize, j: usize, k: usize) -> usize {
    let (a, b) = if j <= k { (j, k) } else { (k, j) };
    a * m - a * (a + 1) / 2 + b
}

/// Rows beyond which the terms that only the Hessian needs are formed on a systematic
/// subsample of about this many rows (every `stride`-th row, scaled up). The gradient
/// stays exact, so the optimum does not move; Newton's steps use a Hessian whose
/// data part has a relative error of about `1/sqrt(HESSIAN_ROWS)`.
pub const HESSIAN_ROWS: usize = 5_000;

/// Rows the reported Hessian (the fit's, behind `gam_check()` and the covariance
/// corrected for smoothing-parameter uncertainty) is formed from: every row up to
/// this many, a systematic subsample beyond, where its data part has a relative
/// error of about `1/sqrt(REPORTED_HESSIAN_ROWS)` = 0.3%. At 1e6 rows every row
/// would cost as much as the rest of the fit's passes after performance iteration.
pub const REPORTED_HESSIAN_ROWS: usize = 100_000;

/// One thread's share of the derivative pass.
struct PassPart {
    t1: Vec<f64>,
    t2: Array2<f64>,
    /// `[X'(h3 a), X'(h3 e_j e_k)...]` over the sampled rows.
    qr: CrossParts,
    c: Vec<GramParts>,
    sampled: usize,
    /// This part's rows' products, when they are kept.
    kept: Option<RowProducts>,
}

impl PassPart {
    /// Empty sums for `m` penalties.
    fn new(layout: &Layout<'_>, m: usize, keep: bool) -> PassPart {
        PassPart {
            t1: vec![0.0; m],
            t2: Array2::zeros((m, m)),
            qr: CrossParts::new(layout, 1 + m * (m + 1) / 2),
            c: (0..m).map(|_| GramParts::new(layout)).collect(),
            sampled: 0,
            kept: keep.then(|| RowProducts { a: Vec::new(), e: vec![Vec::new(); m] }),
        }
    }
}

/// The per-row products a derivative pass forms before its sums, `a_i = x_i' Q x_i`
/// and the columns of `X dbeta`. They depend on the inner fit only (through `Q` and
/// `dbeta`), so a second pass at the same fit (the reported Hessian, formed from more
/// rows than the iterations' at the last iterate) takes them from the first instead
/// of forming them again: `X_c Q` is most of a pass's flops, at 1e6 rows two `X'WX`'s
/// worth.
pub(crate) struct RowProducts {
    a: Vec<f64>,
    e: Vec<Vec<f64>>,
}

/// Where the derivative passes keep their `RowProducts` (for the one inner fit they
/// were formed at; whoever makes a new inner fit empties it).
#[derive(Default)]
pub struct RowCache {
    /// Keep the products a pass forms (only worth their `n (m + 1)` numbers when a
    /// second pass at the same fit is to come).
    pub(crate) keep: bool,
    pub(crate) products: Option<RowProducts>,
}

/// The pass over the data the derivatives need, with `a_i = x_i' Q x_i` for the
/// matrix `Q` given (`G` for the REML/ML log determinant; `H^-1 S H^-1` for GCV's
/// trace). With `expected`, the trace terms (`t1`, `t2`, `q`, `C_k`) differentiate
/// the expected-information weights `W_F` instead of `D''/2` (GCV's trace for a
/// non-canonical link); `X'(h3 e_j e_k)`, which moves `beta`, always uses `D'''/2`.
/// The Hessian's terms come from a systematic subsample of about `hessian_rows` rows.
///
/// `cache` holds the per-row products `a` and `X dbeta` (`RowProducts`): the pass
/// takes them from it when it has them (for this `fit`, `g` and `dbeta`) instead of
/// forming them, and otherwise leaves there the ones it formed when `cache.keep`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn derivative_pass(
    data: &GlmData<'_, '_>,
    fit: &InnerFit,
    g: &Array2<f64>,
    dbeta: &Array2<f64>,
    hessian_rows: usize,
    expected: bool,
    cache: &mut RowCache,
    interrupted: &mut dyn FnMut() -> bool,
) -> Result<PassSums> {
    let n = data.design.nrows();
    let layout = &data.layout;
    let m = dbeta.ncols();
    let stride = n.div_ceil(hessian_rows.max(1)).max(1);
    let n_pairs = m * (m + 1) / 2;
    let dbeta_dense = layout.dense_rows(dbeta);
    let known = cache.products.take();
    let form = known.is_none().then(|| layout.quadratic_form(g));
    let keep = cache.keep && known.is_none();
    let parts = data.par_chunks(
        interrupted,
        || PassPart::new(layout, m, keep),
        |part, start, chunk| {
            let rows = chunk.nrows();
            let fresh;
            let (a, e): (&[f64], Vec<&[f64]>) = match (&known, &form) {
                (Some(k), _) => (&k.a[start..start + rows], k.e.iter().map(|c| &c[start..start + rows]).collect()),
                (None, Some(form)) => {
                    let all: Vec<usize> = (start..start + rows).collect();
                    fresh = (form.at(&all, chunk), layout.times(&all, chunk, dbeta, &dbeta_dense));
                    (&fresh.0, (0..m).map(|j| fresh.1.col_as_slice(j)).collect())
                }
                (None, None) => unreachable!("a form is made when the products are not known"),
            };
            if let Some(kept) = &mut part.kept {
                kept.a.extend_from_slice(a);
                kept.e.iter_mut().zip(&e).for_each(|(to, from)| to.extend_from_slice(from));
            }
            // h3, h4: the trace weights' derivatives in eta; hr: D'''/2 for d2beta.
            let mut h3 = Vec::with_capacity(rows);
            let mut h4 = Vec::with_capacity(rows);
            let mut hr = Vec::with_capacity(rows);
            for i in 0..rows {
                let row = start + i;
                let (d3, d4, dr) = if data.w[row] == 0.0 {
                    (0.0, 0.0, 0.0)
                } else {
                    let t = data
                        .family
                        .eta_terms(data.y[row], data.censor_at(row), data.w[row], fit.eta[row])
                        .ok_or_else(|| EngineError::NonFinite { what: "the fitted means".into() })?;
                    if expected {
                        let [f3, f4] = data.family.fisher_weight_derivatives(data.w[row], fit.eta[row]);
                        (f3, f4, t.d[2] / 2.0)
                    } else {
                        (t.d[2] / 2.0, t.d[3] / 2.0, t.d[2] / 2.0)
                    }
                };
                h3.push(d3);
                h4.push(d4);
                hr.push(dr);
            }
            // The gradient's term, from every row.
            for j in 0..m {
                let ej = e[j];
                part.t1[j] += (0..rows).map(|i| h3[i] * a[i] * ej[i]).sum::<f64>();
            }
            // The Hessian's terms, from the sampled rows.
            let picked: Vec<usize> = (0..rows).filter(|i| (start + i) % stride == 0).collect();
            if picked.is_empty() {
                return Ok(());
            }
            part.sampled += picked.len();
            let global: Vec<usize> = picked.iter().map(|i| start + i).collect();
            let sub_rows;
            let sub = if stride == 1 {
                chunk.view()
            } else {
                sub_rows = Array2::from_shape_fn((picked.len(), chunk.ncols()).f(), |(r, c)| chunk[(picked[r], c)]);
                sub_rows.view()
            };
            let mut block = Mat::<f64>::zeros(picked.len(), 1 + n_pairs);
            for (r, &i) in picked.iter().enumerate() {
                block[(r, 0)] = h3[i] * a[i];
            }
            let mut v = Vec::with_capacity(picked.len());
            for j in 0..m {
                let ej = e[j];
                for k in j..m {
                    let ek = e[k];
                    let (mut t2, col) = (0.0, 1 + pair_index(m, j, k));
                    for (r, &i) in picked.iter().enumerate() {
                        let eje = ej[i] * ek[i];
                        t2 += h4[i] * a[i] * eje;
                        block[(r, col)] = hr[i] * eje;
                    }
                    part.t2[(j, k)] += t2;
                    if k != j {
                        part.t2[(k, j)] += t2;
                    }
                }
                v.clear();
                v.extend(picked.iter().map(|&i| h3[i] * ej[i]));
                part.c[j].add(layout, &global, sub, &v);
            }
            part.qr.add(layout, &global, sub, &block);
            Ok(())
        },
    )?;
    let mut parts = parts.into_iter();
    let mut total = parts.next().expect("at least one part");
    for part in parts {
        // The parts are in row order: their rows' products follow each other.
        if let (Some(to), Some(from)) = (&mut total.kept, &part.kept) {
            to.a.extend_from_slice(&from.a);
            to.e.iter_mut().zip(&from.e).for_each(|(t, f)| t.extend_from_slice(f));
        }
        total.t1.iter_mut().zip(&part.t1).for_each(|(a, b)| *a += b);
        total.t2 += &part.t2;
        total.qr.merge(&part.qr);
        for (a, b) in total.c.iter_mut().zip(&part.c) {
            a.merge(b);
        }
        total.sampled += part.sampled;
    }
    cache.products = known.or(total.kept);
    let scale = if total.sampled > 0 { n as f64 / total.sampled as f64 } else { 0.0 };
    Ok(PassSums {
        t1: total.t1,
        t2: total.t2 * scale,
        q: (total.qr.column(layout, 0) * scale).to_vec(),
        r: (0..n_pairs).map(|c| (total.qr.column(layout, 1 + c) * scale).to_vec()).collect(),
        c: total.c.iter().map(|c| c.assemble(layout) * scale).collect(),
    })
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
    cache: &mut RowCache,
    interrupted: &mut dyn FnMut() -> bool,
) -> Result<(Eval, Option<Array2<f64>>)> {
    let penalties = data.penalties;
    let m = penalties.len();
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

    let (dbeta, s_beta) = beta_derivatives(fit, penalties, &lambda);
    let sums = derivative_pass(data, fit, &g, &dbeta, settings.hessian_rows, false, cache, interrupted)?;
    let g_cols = penalty_columns(&g, penalties);
    let g_traces: Vec<f64> = penalties
        .penalties
        .iter()
        .zip(&g_cols)
        .map(|(pen, pc)| (0..pen.len()).map(|c| pc[(pen.start + c, c)]).sum())
        .collect();
    // A wide random effect's block of each C_k is diagonal (disjoint indicators).
    let gc: Vec<Array2<f64>> = sums
        .c
        .iter()
        .map(|c| match penalties.diagonal_block(c) {
            Some(block) => linalg::matmul_bordered(&g, c, block, data.threads),
            None => linalg::matmul(g.view(), c.view(), data.threads),
        })
        .collect();
    let s_times = |j: usize, v: &Array1<f64>| penalty_times(penalties, j, v);
    let db: Vec<Array1<f64>> = (0..m).map(|j| dbeta.column(j).to_owned()).collect();
    let d_dp: Vec<f64> = (0..m)
        .map(|j| {
            lambda[j]
                * s_beta[j].dot(&fit.beta.slice(s![
                    penalties.penalties[j].start..penalties.penalties[j].start + penalties.penalties[j].len()
                ]))
        })
        .collect();
    let q = Array1::from(sums.q.clone());

    let np = m + usize::from(settings.scale_param);
    let mut grad = Array1::zeros(np);
    let mut hess = Array2::zeros((np, np));
    for j in 0..m {
        let l1 = sums.t1[j] + lambda[j] * g_traces[j];
        grad[j] = d_dp[j] / (2.0 * phi * gamma) + 0.5 * (l1 - ls_pen.grad[j]);
        let sb_j = s_times(j, &fit.beta);
        for k in j..m {
            let d2b = second_beta_derivative(fit, penalties, &lambda, &db, &sums, j, k);
            let mut d2_dp = 2.0 * lambda[j] * sb_j.dot(&db[k]);
            let mut l2 = sums.t2[(j, k)] + q.dot(&d2b);
            if j == k {
                d2_dp += d_dp[j];
                l2 += lambda[j] * g_traces[j];
            }
            let (pj, pk) = (&penalties.penalties[j], &penalties.penalties[k]);
            l2 -= trace_of_product(&gc[k], &gc[j])
                + lambda[j] * trace_with_columns(pj.start, &g_cols[j], &gc[k])
                + lambda[k] * trace_with_columns(pk.start, &g_cols[k], &gc[j])
                + lambda[j] * lambda[k] * trace_of_columns(pj.start, &g_cols[j], pk.start, &g_cols[k]);
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

/// `d beta / d rho_j = -lambda_j H^-1 S_j beta` for each penalty (implicit
/// differentiation of the penalized score; Wood 2011 §3.1), as the columns of a
/// p x m matrix; with each `S_j beta` (block rows only).
pub(crate) fn beta_derivatives(
    fit: &InnerFit,
    penalties: &PenaltySet,
    lambda: &[f64],
) -> (Array2<f64>, Vec<Array1<f64>>) {
    let (p, m) = (penalties.p, penalties.len());
    let s_beta: Vec<Array1<f64>> = penalties
        .penalties
        .iter()
        .map(|pen| pen.s.dot(&fit.beta.slice(s![pen.start..pen.start + pen.len()])))
        .collect();
    let mut dbeta = Array2::<f64>::zeros((p, m));
    for (j, pen) in penalties.penalties.iter().enumerate() {
        let col = fit.h_inv.slice(s![.., pen.start..pen.start + pen.len()]).dot(&s_beta[j]) * -lambda[j];
        dbeta.column_mut(j).assign(&col);
    }
    (dbeta, s_beta)
}

/// `S_j v`, restricted to the penalty's block and embedded in p.
pub(crate) fn penalty_times(penalties: &PenaltySet, j: usize, v: &Array1<f64>) -> Array1<f64> {
    let pen = &penalties.penalties[j];
    let mut out = Array1::zeros(penalties.p);
    out.slice_mut(s![pen.start..pen.start + pen.len()])
        .assign(&pen.s.dot(&v.slice(s![pen.start..pen.start + pen.len()])));
    out
}

/// `d2beta / drho_j drho_k = delta_jk dbeta_j - H^-1 (X'(h3 e_j e_k) + lambda_k S_k dbeta_j
/// + lambda_j S_j dbeta_k)`: the derivative of `dbeta_j` with `H` itself moving
/// through `W` (Wood 2011 Appendix C).
pub(crate) fn second_beta_derivative(
    fit: &InnerFit,
    penalties: &PenaltySet,
    lambda: &[f64],
    db: &[Array1<f64>],
    sums: &PassSums,
    j: usize,
    k: usize,
) -> Array1<f64> {
    let m = penalties.len();
    let rhs = Array1::from(sums.r[pair_index(m, j, k)].clone())
        + penalty_times(penalties, k, &db[j]) * lambda[k]
        + penalty_times(penalties, j, &db[k]) * lambda[j];
    let mut d2b = fit.h_inv.dot(&rhs) * -1.0;
    if j == k {
        d2b += &db[j];
    }
    d2b
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fit::gaussian::{self, Gram};
    use crate::fit::pirls::pirls;
    use crate::fit::pirls::tests::{data, problem, Problem};
    use crate::fit::{design, Design};

    fn settings(method: Method, gamma: f64, scale_param: bool) -> LamlSettings {
        // Every row in the Hessian's terms (n = 200), so that it is exact.
        LamlSettings { method, gamma, scale_param, hessian_rows: 1_000_000 }
    }

    /// The criterion at `rho` (and `log_phi`) from a fresh inner fit warm-started at
    /// `start`, with `ls` at that scale as the objective forms it.
    fn criterion(d: &Design<'_>, pr: &Problem, set: &LamlSettings, rho: &[f64], log_phi: f64, start: &[f64]) -> Eval {
        let data = data(d, pr);
        let lambda: Vec<f64> = rho.iter().map(|r| r.exp()).collect();
        let fit = pirls(&data, &lambda, start, &mut || false).unwrap();
        assert!(fit.converged);
        let ls = data.family.saturated_loglik(data.y, data.censor, data.w, log_phi.exp());
        let mut cache = RowCache::default();
        evaluate(&data, set, &fit, rho, log_phi, ls, true, &mut cache, &mut || false).unwrap().0
    }

    fn gram_of(pr: &Problem) -> Gram {
        let (x, y, w) = (&pr.x, &pr.spec.y, &pr.spec.weights);
        let xw = Array2::from_shape_fn(x.raw_dim(), |(i, j)| x[(i, j)] * w[i]);
        let wy = Array1::from_shape_fn(y.len(), |i| w[i] * y[i]);
        Gram {
            xtwx: x.t().dot(&xw),
            xtwy: x.t().dot(&wy),
            ytwy: wy.iter().zip(y.iter()).map(|(a, b)| a * b).sum(),
            n: y.len() as f64,
            sum_log_w: w.iter().map(|v| v.ln()).sum(),
        }
    }

    /// For the Gaussian identity model the Laplace approximation is exact: at the
    /// profiled scale `phi = Dp / a` its value is the Gaussian criterion's (scale
    /// profiled out), its log-scale derivative vanishes, its rho gradient is the
    /// profiled gradient (envelope theorem) and the Schur complement of its Hessian
    /// on the scale is the profiled Hessian. REML at two `gamma`s, and ML.
    #[test]
    fn gaussian_identity_agrees_with_the_gaussian_criterion() {
        let pr = problem("gaussian", "identity", 31);
        let d = design(&pr.spec).unwrap();
        let gram = gram_of(&pr);
        for (method, gamma, rho) in
            [(Method::Reml, 1.0, [0.4, -0.8]), (Method::Reml, 1.5, [-1.5, 1.0]), (Method::Ml, 1.0, [0.4, -0.8])]
        {
            let (g, pls) = gaussian::evaluate(&gram, &pr.pens, method, gamma, &rho).unwrap();
            let a = gaussian::scale_df(&gram, &pr.pens, method, gamma);
            let log_phi = (gaussian::penalized_deviance(&gram, &pls) / a).ln();
            let e = criterion(&d, &pr, &settings(method, gamma, true), &rho, log_phi, &[]);
            // Values of order n = 200 from two routes: agreement to 1e-9 relative
            // leaves room for the Gram route's cancellation in Dp = c - beta'b.
            assert!((e.value - g.value).abs() < 1e-9 * g.value.abs(), "{method:?}: {} vs {}", e.value, g.value);
            let top = g.grad.iter().chain(g.hess.iter()).fold(1.0_f64, |m, v| m.max(v.abs()));
            // The scale's gradient is n/2-sized terms cancelling: 1e-8 of the scale.
            assert!(e.grad[2].abs() < 1e-8 * gram.n, "{method:?}: d/dlog(phi) = {}", e.grad[2]);
            for j in 0..2 {
                assert!((e.grad[j] - g.grad[j]).abs() < 1e-8 * top, "{method:?} grad: {} vs {}", e.grad, g.grad);
                for k in 0..2 {
                    let schur = e.hess[(j, k)] - e.hess[(j, 2)] * e.hess[(2, k)] / e.hess[(2, 2)];
                    assert!(
                        (schur - g.hess[(j, k)]).abs() < 1e-8 * top,
                        "{method:?} hess {j}{k}: {schur} vs {}",
                        g.hess[(j, k)]
                    );
                }
            }
        }
    }

    /// The gradient and Hessian in (rho, log phi) against central differences of the
    /// criterion (refitting the inner problem): REML for Poisson log (scale known),
    /// REML with the scale for Gamma log (non-canonical: W moves with beta through
    /// D'''), ML for binomial probit (non-canonical, range-space determinant).
    #[test]
    fn derivatives_match_finite_differences() {
        for (family, link, method, gamma, scale) in [
            ("poisson", "log", Method::Reml, 1.0, false),
            ("Gamma", "log", Method::Reml, 1.3, true),
            ("binomial", "probit", Method::Ml, 1.0, false),
        ] {
            let pr = problem(family, link, 32);
            let d = design(&pr.spec).unwrap();
            let set = settings(method, gamma, scale);
            let x0 = [0.3, -1.2, if scale { -0.5 } else { 0.0 }];
            let np = if scale { 3 } else { 2 };
            let e = criterion(&d, &pr, &set, &x0[..2], x0[2], &[]);
            assert_eq!(e.grad.len(), np);
            let start = e.coefficients.clone();
            let h = 1e-4;
            let scale_g = e.grad.iter().fold(0.0_f64, |m, v| m.max(v.abs()));
            let scale_h = e.hess.iter().fold(0.0_f64, |m, v| m.max(v.abs()));
            for j in 0..np {
                let (mut up, mut dn) = (x0, x0);
                up[j] += h;
                dn[j] -= h;
                let eu = criterion(&d, &pr, &set, &up[..2], up[2], &start);
                let ed = criterion(&d, &pr, &set, &dn[..2], dn[2], &start);
                // Truncation (h^2/6 times the third derivative, ~1e-9 of the scale) and
                // the inner fits' residual (~1e-12 relative, magnified by 1/h): 1e-5
                // of the derivatives' own scale.
                let g = (eu.value - ed.value) / (2.0 * h);
                assert!((g - e.grad[j]).abs() < 1e-5 * scale_g, "{family} grad {j}: fd {g} vs {}", e.grad[j]);
                for k in 0..np {
                    let hk = (eu.grad[k] - ed.grad[k]) / (2.0 * h);
                    assert!(
                        (hk - e.hess[(j, k)]).abs() < 1e-5 * scale_h,
                        "{family} hess {j}{k}: fd {hk} vs {}",
                        e.hess[(j, k)]
                    );
                }
            }
        }
    }

    /// `pair_index` numbers the pairs `j <= k` in row-major order, 0 to m(m+1)/2 - 1,
    /// symmetrically.
    #[test]
    fn pair_index_numbers_the_upper_triangle_in_order() {
        let m = 4;
        let mut next = 0;
        for j in 0..m {
            for k in j..m {
                assert_eq!(pair_index(m, j, k), next);
                assert_eq!(pair_index(m, k, j), next);
                next += 1;
            }
        }
        assert_eq!(next, m * (m + 1) / 2);
    }
}
