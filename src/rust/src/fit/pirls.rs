//! Penalized iteratively re-weighted least squares: the inner fit of a generalized
//! additive model at fixed smoothing parameters (Wood 2017 §6.1.1; Wood 2011 §3.1).
//!
//! Each iteration is a Newton step on the penalized deviance `D(beta) + beta'S beta`:
//! with `W = D''(eta)/2` (the observed information, as mgcv's `gam.fit3` uses for the
//! Laplace approximation), `H = X'WX + S` and `u = W (eta - offset) - D'(eta)/2`, the
//! new coefficients are `H^-1 X'u`. Where `H` is not positive definite (a non-canonical
//! link far from the optimum) the step falls back to Fisher scoring. A step that raises
//! the penalized deviance, or leaves the family's means, is halved towards the last
//! iterate. Each iteration is one pass over the data forming `X'WX` a chunk of rows at
//! a time; the fitted values come from the terms, without the model matrix.

use ndarray::{Array1, Array2, ArrayView2};

use crate::error::{EngineError, Result};
use crate::family::Family;
use crate::fit::penalty::PenaltySet;
use crate::fit::rows::{self, Layout};
use crate::fit::Design;
use crate::linalg::SpdSystem;

/// The data and model of a generalized fit.
pub struct GlmData<'b, 'd> {
    pub design: &'b Design<'d>,
    pub penalties: &'b PenaltySet,
    pub family: Family,
    pub y: &'b [f64],
    pub w: &'b [f64],
    pub offset: &'b [f64],
    pub threads: usize,
    /// The model matrix's dense columns (`layout`), when they are held in memory (see
    /// `fit::MAX_DESIGN_BYTES`); otherwise each pass evaluates the bases again.
    pub x: Option<&'b Array2<f64>>,
    /// Which columns the passes form densely and which they keep as level codes.
    pub layout: Layout<'d>,
}

/// The penalized fit at one set of smoothing parameters.
#[derive(Debug, Clone)]
pub struct InnerFit {
    pub beta: Array1<f64>,
    /// `X beta + offset`.
    pub eta: Vec<f64>,
    pub deviance: f64,
    /// `beta' S_lambda beta`.
    pub penalty: f64,
    /// `X'WX` with the observed-information weights of the last iteration, which (at
    /// convergence) are those at `beta` to within the last step.
    pub xtwx: Array2<f64>,
    pub h_inv: Array2<f64>,
    pub log_det_h: f64,
    pub iterations: usize,
    pub converged: bool,
}

/// Most inner iterations; Newton's method from a warm start needs a handful.
pub const MAX_INNER: usize = 100;
/// Converged when a step moves no coefficient by more than this, relative to the
/// largest: Newton steps shrink quadratically, so the error left is far smaller.
const BETA_TOL: f64 = 1e-9;
const MAX_HALVINGS: usize = 60;
/// Below this relative change a step that no longer contracts is rounding noise.
const NOISE_FLOOR: f64 = 1e-5;

impl GlmData<'_, '_> {
    /// The deviance at `eta`; `None` when a mean is invalid.
    pub fn deviance(&self, eta: &[f64]) -> Option<f64> {
        let mut dev = 0.0;
        for i in 0..eta.len() {
            if self.w[i] == 0.0 {
                continue;
            }
            let fam = &self.family;
            if !fam.valid_eta(eta[i]) {
                return None;
            }
            let mu = fam.mean(eta[i]);
            if !fam.distribution.valid_mean(mu) {
                return None;
            }
            dev += self.w[i] * fam.distribution.deviance(self.y[i], mu)[0];
        }
        dev.is_finite().then_some(dev)
    }

    /// `beta' S_lambda beta`.
    pub fn penalty(&self, beta: &Array1<f64>, lambda: &[f64]) -> f64 {
        self.penalties
            .penalties
            .iter()
            .zip(lambda)
            .map(|(pen, l)| {
                let b = beta.slice(ndarray::s![pen.start..pen.start + pen.len()]);
                l * b.dot(&pen.s.dot(&b))
            })
            .sum()
    }

    /// Passes over the model matrix in parallel (`rows::pass`).
    pub(crate) fn par_chunks<T: Send>(
        &self,
        interrupted: &mut dyn FnMut() -> bool,
        init: impl Fn() -> T + Sync,
        visit: impl Fn(&mut T, usize, ArrayView2<'_, f64>) -> Result<()> + Sync,
    ) -> Result<Vec<T>> {
        rows::pass(self.design, &self.layout, self.x, self.threads, interrupted, init, visit)
    }

    /// `X'WX` and `X'u` in one pass over the data.
    pub(crate) fn cross_products(
        &self,
        w: &[f64],
        u: &[f64],
        interrupted: &mut dyn FnMut() -> bool,
    ) -> Result<(Array2<f64>, Array1<f64>)> {
        rows::weighted_cross_products(self.design, &self.layout, self.x, w, u, self.threads, interrupted)
    }

    /// The IRLS weights and working terms at `eta`: observed information (Newton) or
    /// expected (Fisher).
    pub(crate) fn working(&self, eta: &[f64], fisher: bool) -> Result<(Vec<f64>, Vec<f64>)> {
        let n = eta.len();
        let mut w = vec![0.0; n];
        let mut u = vec![0.0; n];
        for i in 0..n {
            if self.w[i] == 0.0 {
                continue;
            }
            let z = eta[i] - self.offset[i];
            if fisher {
                let (wf, uf) = self.family.fisher_terms(self.y[i], self.w[i], eta[i]);
                w[i] = wf;
                u[i] = wf * z + uf;
            } else {
                let t = self.family.eta_terms(self.y[i], self.w[i], eta[i]).ok_or_else(|| EngineError::NonFinite {
                    what: "the fitted means (a linear predictor left the link's range)".into(),
                })?;
                w[i] = t.d[1] / 2.0;
                u[i] = w[i] * z - t.d[0] / 2.0;
            }
            if !(w[i].is_finite() && u[i].is_finite()) {
                return Err(EngineError::NonFinite { what: "the working weights".into() });
            }
        }
        Ok((w, u))
    }

    /// The starting linear predictor `g(mustart)`.
    pub fn start_eta(&self) -> Vec<f64> {
        self.y.iter().zip(self.w).map(|(&y, &w)| self.family.link.link(self.family.start_mean(y, w))).collect()
    }
}

/// Penalized IRLS at smoothing parameters `lambda` (one per penalty), from the
/// coefficients `start`, or from the family's starting means (R's `mustart`) where
/// those give no valid fitted means.
pub fn pirls(
    data: &GlmData<'_, '_>,
    lambda: &[f64],
    start: &[f64],
    interrupted: &mut dyn FnMut() -> bool,
) -> Result<InnerFit> {
    let p = data.design.ncols();
    let from_start = (start.len() == p)
        .then(|| data.design.fitted(start, data.offset, data.threads))
        .and_then(|eta| data.deviance(&eta).map(|dev| (eta, dev)));
    let (mut beta, mut eta, mut pdev_old) = match from_start {
        Some((eta, dev)) => {
            let beta = Array1::from(start.to_vec());
            let pdev = dev + data.penalty(&beta, lambda);
            (Some(beta), eta, pdev)
        }
        None => {
            let eta = data.start_eta();
            if data.deviance(&eta).is_none() {
                return Err(EngineError::InvalidSpec {
                    what: "no valid starting values: the starting means are outside the family's range".into(),
                });
            }
            (None, eta, f64::INFINITY)
        }
    };
    let mut iterations = 0;
    let mut last_change = f64::INFINITY;
    loop {
        iterations += 1;
        // The Newton step, or Fisher scoring where X'WX + S is not positive definite.
        let mut step = None;
        for fisher in [false, true] {
            let (w, u) = data.working(&eta, fisher)?;
            let (xtwx, xtu) = data.cross_products(&w, &u, interrupted)?;
            let mut h = xtwx.clone();
            data.penalties.add_to(&mut h, lambda);
            if let Some(factor) = SpdSystem::new(&h, data.penalties.diagonal_block(&h)) {
                step = Some((factor.solve_vec(xtu.as_slice().expect("contiguous")), xtwx, factor));
                break;
            }
        }
        let Some((mut beta_new, xtwx, factor)) = step else {
            return Err(EngineError::NotIdentifiable {
                detail: "X'WX + S is not positive definite; check for aliased parametric terms or a smooth that duplicates another".into(),
            });
        };
        if beta_new.iter().any(|b| !b.is_finite()) {
            return Err(EngineError::NonFinite { what: "the coefficients of the inner iteration".into() });
        }
        let mut eta_new = data.design.fitted(beta_new.as_slice().expect("contiguous"), data.offset, data.threads);
        let mut pdev = data.deviance(&eta_new).map(|d| d + data.penalty(&beta_new, lambda));
        let Some(beta_old) = &beta else {
            // From the starting means there are no coefficients to halve towards: the
            // working point moves half way to the step's linear predictor until it is
            // valid, and the iteration continues from there (the coefficients and the
            // linear predictor agree again once a step is accepted).
            if pdev.is_none() {
                let mut halvings = 0;
                while pdev.is_none() && halvings < MAX_HALVINGS {
                    eta_new.iter_mut().zip(&eta).for_each(|(a, b)| *a = 0.5 * (*a + b));
                    pdev = data.deviance(&eta_new);
                    halvings += 1;
                }
                if pdev.is_none() || iterations >= MAX_INNER {
                    return Err(EngineError::InvalidSpec {
                        what: "no valid starting values: every step from the starting means leaves the family's range"
                            .into(),
                    });
                }
                eta = eta_new;
                continue;
            }
            beta = Some(beta_new);
            eta = eta_new;
            pdev_old = pdev.expect("checked above");
            continue;
        };
        // Step halving towards the last iterate while the step diverges, leaves the
        // family's range or raises the penalized deviance (beyond rounding). Both ends
        // are consistent (`eta = X beta + offset`), so their midpoints are too.
        let threshold = 1e-10 * (0.1 + pdev_old.abs());
        let mut halvings = 0;
        while pdev.is_none_or(|v| !(v <= pdev_old + threshold)) {
            if halvings == MAX_HALVINGS {
                break;
            }
            halvings += 1;
            beta_new = (&beta_new + beta_old) * 0.5;
            eta_new.iter_mut().zip(&eta).for_each(|(a, b)| *a = 0.5 * (*a + b));
            pdev = data.deviance(&eta_new).map(|d| d + data.penalty(&beta_new, lambda));
        }
        let Some(pdev_new) = pdev.filter(|v| v.is_finite()) else {
            return Err(EngineError::NonFinite {
                what: "the penalized deviance (the inner iteration diverged)".into(),
            });
        };
        let top = beta_new.iter().fold(0.0_f64, |m, v| m.max(v.abs())).max(f64::MIN_POSITIVE);
        let change = beta_old.iter().zip(&beta_new).fold(0.0_f64, |m, (a, c)| m.max((a - c).abs())) / top;
        // Newton's iterates contract quadratically until rounding takes over: a small
        // step that is not much smaller than the one before has reached that floor
        // (a penalized system with a huge smoothing parameter keeps few digits), and
        // so has a step halved to no progress. Either way it cannot get closer.
        let stalled = halvings == MAX_HALVINGS || (change < NOISE_FLOOR && change > 0.3 * last_change);
        last_change = change;
        let converged = change <= BETA_TOL || stalled;
        let penalty = data.penalty(&beta_new, lambda);
        let deviance = pdev_new - penalty;
        beta = Some(beta_new);
        eta = eta_new;
        pdev_old = pdev_new;
        if converged || iterations >= MAX_INNER {
            let beta = beta.expect("set above");
            return Ok(InnerFit {
                log_det_h: factor.log_det(),
                h_inv: factor.inverse(),
                beta,
                eta,
                deviance,
                penalty,
                xtwx,
                iterations,
                // Halved to no change: the last iterate is as close as rounding allows.
                converged: converged && (halvings < MAX_HALVINGS || change < NOISE_FLOOR),
            });
        }
    }
}
