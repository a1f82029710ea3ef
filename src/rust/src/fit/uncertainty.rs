//! The coefficients' covariance corrected for smoothing-parameter uncertainty, and the
//! effective degrees of freedom that go with it (Wood, Pya & Säfken 2016, JASA
//! 111:1548-1563, §3.1; Wood 2017 §6.11.1; the quantities mgcv reports as `Vc` and
//! `edf2`).
//!
//! `Vp` is the posterior covariance at the estimated smoothing parameters, as if they
//! were known. Taking `rho` (log smoothing parameters) as approximately normal around
//! its estimate, with covariance the inverse Hessian of the REML/ML criterion, adds
//! - a first-order term: the posterior mean moves with `rho`, `J V_rho J'` with
//!   `J = d beta / d rho`;
//! - a second-order term: the posterior's spread moves with `rho`. Writing a draw as
//!   `beta_hat + R^-1 z` with `R'R = H = X'WX + S_lambda` (unit scale) and expanding
//!   `R^-1` to first order in `rho` gives `phi sum_jk V_jk (dR^-1/drho_j)(dR^-1/drho_k)'`.
//!
//! Where the criterion is flat in some `rho` (a term at its bound) the inverse Hessian
//! is unbounded: the first-order term uses the pseudo-inverse, dropping non-positive
//! curvature, and the second-order term the regularized `(Hess + I/10)^-1`, as mgcv
//! does. An estimated scale's row and column are dropped after inverting (the
//! coefficients do not depend on it), which gives the marginal covariance of `rho`.

use ndarray::{s, Array2};

use crate::fit::penalty::PenaltySet;
use crate::linalg::{self, sym_eigen, symmetrize, SpdFactor};

/// `Vc` and `edf2`.
pub struct Corrected {
    pub vc: Array2<f64>,
    pub edf2: Vec<f64>,
}

/// How the fit depends on the free smoothing parameters at the optimum.
pub struct Sensitivity {
    /// `d beta / d rho`: one column per free smoothing parameter.
    pub db_drho: Array2<f64>,
    /// The criterion's Hessian in the free smoothing parameters, followed by the
    /// family's extra parameters (the log scale, when estimated).
    pub hess: Array2<f64>,
    /// Per free smoothing parameter, the `lambda` of every penalty it sets (zero for
    /// the penalties it does not): `dH / d rho_j = S` at these.
    pub lambda_of: Vec<Vec<f64>>,
    /// Added to the Hessian's eigenvalues in the second-order term (mgcv's `1/10`
    /// for single-predictor models, `SECOND_ORDER_RIDGE`, and `1/50` for general
    /// families, `gam.fit5.post.proc`).
    pub ridge: f64,
}

/// Regularization of the Hessian in the second-order term (mgcv's `1/10`).
pub const SECOND_ORDER_RIDGE: f64 = 0.1;

/// `Vc = Vp + J V_rho J' + phi sum_jk V_jk dR^-1_j dR^-1_k'` and `edf2 = diag(Vc X'WX) / phi`,
/// capped as mgcv caps it: when `sum(edf2)` exceeds `sum(edf1)`, `edf2 = edf1`.
/// `xtwx` is the `X'WX` behind `vp = phi (X'WX + S_lambda)^-1`.
#[allow(clippy::too_many_arguments)] // the quantities of Wood, Pya & Saefken (2016) §3.3, each as computed
pub fn corrected(
    xtwx: &Array2<f64>,
    penalties: &PenaltySet,
    lambda: &[f64],
    sens: &Sensitivity,
    vp: &Array2<f64>,
    scale: f64,
    edf1: &[f64],
    threads: usize,
) -> Corrected {
    let m = sens.db_drho.ncols();
    let p = vp.nrows();
    let (values, vectors) = sym_eigen(sens.hess.view());
    // The smoothing parameters' block, without an estimated scale's row and column.
    let inverse_with = |f: &dyn Fn(f64) -> f64| -> Array2<f64> {
        linalg::from_eigen(&values, &vectors, f).slice(s![..m, ..m]).to_owned()
    };
    let v_rho = inverse_with(&|d| if d > 0.0 { 1.0 / d } else { 0.0 });
    let v_reg = inverse_with(&|d| 1.0 / (d.max(0.0) + sens.ridge));
    let j = &sens.db_drho;
    let mut vc = vp + &j.dot(&v_rho).dot(&j.t());
    let mut h = xtwx.clone();
    penalties.add_to(&mut h, lambda);
    // mgcv leaves the second-order term out when the Cholesky factorization fails.
    if let Some(factor) = SpdFactor::new(h.view()) {
        let r_inv = factor.inverse_upper_factor();
        let d_r_inv: Vec<Array2<f64>> =
            sens.lambda_of.iter().map(|l| inverse_factor_derivative(&r_inv, penalties, l, p, threads)).collect();
        // sum_jk V_jk A_j A_k' = sum_l e_l B_l B_l' with V = U diag(e) U', B_l = sum_j U_jl A_j.
        let (e, u) = sym_eigen(v_reg.view());
        for l in 0..m {
            let mut b = Array2::<f64>::zeros((p, p));
            for (jj, a) in d_r_inv.iter().enumerate() {
                b.scaled_add(u[(jj, l)], a);
            }
            vc.scaled_add(scale * e[l].max(0.0), &linalg::matmul(b.view(), b.t(), threads));
        }
    }
    symmetrize(&mut vc);
    let mut edf2: Vec<f64> = linalg::diag_of_product(vc.view(), xtwx.view()).iter().map(|d| d / scale).collect();
    if edf2.iter().sum::<f64>() > edf1.iter().sum::<f64>() {
        edf2 = edf1.to_vec();
    }
    Corrected { vc, edf2 }
}

/// `d R^-1 / d rho` where `R'R = H` and `dH/d rho = S` (`sum lambda S` over `lambda`):
/// with `X = R^-T S R^-1`, `dR = Phi(X) R` where `Phi` keeps the upper triangle and
/// halves the diagonal (differentiating `R'R = H`), so `dR^-1 = -R^-1 dR R^-1 = -R^-1 Phi(X)`.
fn inverse_factor_derivative(
    r_inv: &Array2<f64>,
    penalties: &PenaltySet,
    lambda: &[f64],
    p: usize,
    threads: usize,
) -> Array2<f64> {
    let mut dh = Array2::<f64>::zeros((p, p));
    penalties.add_each(&mut dh, lambda);
    let mut x = linalg::matmul(linalg::matmul(r_inv.t(), dh.view(), threads).view(), r_inv.view(), threads);
    for i in 0..p {
        x[(i, i)] *= 0.5;
        x.slice_mut(s![i + 1.., i]).fill(0.0);
    }
    -linalg::matmul(r_inv.view(), x.view(), threads)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fit::penalty::Penalty;
    use ndarray::Array2;

    /// `dR^-1/drho` against central differences of the Cholesky factor's inverse.
    #[test]
    fn inverse_factor_derivative_matches_finite_differences() {
        let p = 6;
        let xtx =
            Array2::from_shape_fn((p, p), |(i, j)| 1.0 / (1.0 + i as f64 + j as f64) + if i == j { 0.5 } else { 0.0 });
        let s1 = Array2::from_shape_fn((3, 3), |(i, j)| if i == j { 2.0 } else { -0.5 });
        let s2 = Array2::from_shape_fn((4, 4), |(i, j)| (1.0 + (i * j) as f64) / 4.0);
        let pens = PenaltySet::new(p, vec![Penalty { start: 1, s: s1 }, Penalty { start: 2, s: s2 }]);
        let rho = [0.3, -0.7];
        let r_inv_at = |rho: &[f64]| {
            let mut h = xtx.clone();
            pens.add_to(&mut h, &rho.iter().map(|r: &f64| r.exp()).collect::<Vec<_>>());
            SpdFactor::new(h.view()).unwrap().inverse_upper_factor()
        };
        let r_inv = r_inv_at(&rho);
        for j in 0..2 {
            let mut lambda = vec![0.0; 2];
            lambda[j] = rho[j].exp();
            let got = inverse_factor_derivative(&r_inv, &pens, &lambda, p, 2);
            let h = 1e-5;
            let (mut up, mut down) = (rho, rho);
            up[j] += h;
            down[j] -= h;
            let fd = (r_inv_at(&up) - r_inv_at(&down)) / (2.0 * h);
            let err = (&got - &fd).iter().fold(0.0_f64, |a, v| a.max(v.abs()));
            assert!(err < 1e-8, "penalty {j}: {err}");
        }
    }
}
