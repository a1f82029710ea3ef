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

use std::ops::Range;

use ndarray::{Array1, Array2, ArrayView2};

use crate::error::{EngineError, Result};
use crate::family::Family;
use crate::fit::penalty::PenaltySet;
use crate::fit::row_source;
use crate::fit::rows::Layout;
use crate::fit::Design;
use crate::fit::ModelSpec;
use crate::linalg::{self, SpdSystem};

/// The data and model of a generalized fit.
pub struct GlmData<'b, 'd> {
    pub design: &'b Design<'d>,
    pub penalties: &'b PenaltySet,
    pub family: Family,
    pub y: &'b [f64],
    /// The response's second column where the family reads one (`ModelSpec::censor`).
    pub censor: Option<&'b [f64]>,
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

impl<'b, 'd> GlmData<'b, 'd> {
    /// The data of `spec`'s generalized fit on `design`, with the model matrix `x`
    /// when it is held in memory.
    pub fn new(
        spec: &'b ModelSpec<'_>,
        design: &'b Design<'d>,
        penalties: &'b PenaltySet,
        x: Option<&'b Array2<f64>>,
    ) -> GlmData<'b, 'd> {
        GlmData {
            design,
            penalties,
            family: spec.family,
            y: &spec.y,
            censor: spec.censor.as_deref(),
            w: &spec.weights,
            offset: &spec.offset,
            threads: spec.threads,
            x,
            layout: Layout::of(design),
        }
    }

    /// Row `i`'s second response column: its bound, or `y` itself for an exact row.
    pub fn censor_at(&self, i: usize) -> f64 {
        self.censor.map_or(self.y[i], |c| c[i])
    }

    /// The deviance at `eta`; `None` when a mean is invalid. Summed in two fixed
    /// halves of the rows (`linalg::in_halves`), on two threads when allowed.
    pub fn deviance(&self, eta: &[f64]) -> Option<f64> {
        let (a, b) = linalg::in_halves(eta.len(), self.threads, |rows| self.deviance_of(eta, rows));
        let dev = a? + b?;
        dev.is_finite().then_some(dev)
    }

    fn deviance_of(&self, eta: &[f64], rows: Range<usize>) -> Option<f64> {
        // The family's libm calls run scalar SSE: faer's wide kernels before them
        // must not leave the vector state dirty (`linalg::clear_vector_state`).
        linalg::clear_vector_state();
        let mut dev = 0.0;
        for i in rows {
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
            dev += fam.distribution.censored_deviance(self.y[i], self.censor_at(i), self.w[i], mu);
        }
        Some(dev)
    }

    /// `beta' S_lambda beta`.
    pub fn penalty(&self, beta: &Array1<f64>, lambda: &[f64]) -> f64 {
        self.penalties
            .penalties
            .iter()
            .zip(self.penalties.totals(lambda))
            .map(|(pen, l)| {
                let b = beta.slice(ndarray::s![pen.start..pen.start + pen.len()]);
                l * b.dot(&pen.s.dot(&b))
            })
            .sum()
    }

    /// Passes over the model matrix in parallel (`row_source::pass`).
    pub(crate) fn par_chunks<T: Send>(
        &self,
        interrupted: &mut dyn FnMut() -> bool,
        init: impl Fn() -> T + Sync,
        visit: impl Fn(&mut T, usize, ArrayView2<'_, f64>) -> Result<()> + Sync,
    ) -> Result<Vec<T>> {
        row_source::pass(
            &*row_source::source(self.design, &self.layout, self.x),
            self.threads,
            interrupted,
            init,
            visit,
        )
    }

    /// `offset + X b`. From the model matrix when it is held: the bases' own
    /// evaluation (`Design::fitted`) costs a thin plate term a distance to each of
    /// its knots per row, which penalized IRLS would pay at every step.
    pub(crate) fn linear_predictor(&self, b: &[f64]) -> Vec<f64> {
        let Some(x) = self.x else {
            return self.design.fitted(b, self.offset, self.threads);
        };
        let b = Array2::from_shape_vec((b.len(), 1), b.to_vec()).expect("a column");
        let b_dense = self.layout.dense_rows(&b);
        let parts = row_source::pass(
            &row_source::HeldRows(x),
            self.threads,
            &mut || false,
            Vec::new,
            |eta: &mut Vec<f64>, start, chunk| {
                let rows: Vec<usize> = (start..start + chunk.nrows()).collect();
                let xb = self.layout.times(&rows, chunk, &b, &b_dense);
                eta.extend((0..chunk.nrows()).map(|r| self.offset[start + r] + xb[(r, 0)]));
                Ok(())
            },
        )
        .expect("a pass that is never interrupted and cannot fail");
        parts.concat()
    }

    /// `X'WX` and `X'u` in one pass over the data.
    pub(crate) fn cross_products(
        &self,
        w: &[f64],
        u: &[f64],
        interrupted: &mut dyn FnMut() -> bool,
    ) -> Result<(Array2<f64>, Array1<f64>)> {
        row_source::weighted_cross_products(self.design, &self.layout, self.x, w, u, self.threads, interrupted)
    }

    /// The IRLS weights and working terms at `eta`: observed information (Newton) or
    /// expected (Fisher). Formed in two fixed halves of the rows (`linalg::in_halves`).
    pub(crate) fn working(&self, eta: &[f64], fisher: bool) -> Result<(Vec<f64>, Vec<f64>)> {
        let (a, b) = linalg::in_halves(eta.len(), self.threads, |rows| self.working_of(eta, fisher, rows));
        let ((mut w, mut u), (w2, u2)) = (a?, b?);
        w.extend(w2);
        u.extend(u2);
        Ok((w, u))
    }

    fn working_of(&self, eta: &[f64], fisher: bool, rows: Range<usize>) -> Result<(Vec<f64>, Vec<f64>)> {
        linalg::clear_vector_state();
        let mut w = vec![0.0; rows.len()];
        let mut u = vec![0.0; rows.len()];
        for (r, i) in rows.enumerate() {
            if self.w[i] == 0.0 {
                continue;
            }
            let z = eta[i] - self.offset[i];
            if fisher {
                let (wf, uf) = self.family.fisher_terms(self.y[i], self.censor_at(i), self.w[i], eta[i]);
                w[r] = wf;
                u[r] = wf * z + uf;
            } else {
                let t = self.family.eta_terms(self.y[i], self.censor_at(i), self.w[i], eta[i]).ok_or_else(|| {
                    EngineError::NonFinite {
                        what: "the fitted means (a linear predictor left the link's range)".into(),
                    }
                })?;
                w[r] = t.d[1] / 2.0;
                u[r] = w[r] * z - t.d[0] / 2.0;
            }
            if !(w[r].is_finite() && u[r].is_finite()) {
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
        .then(|| data.linear_predictor(start))
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
        let mut eta_new = data.linear_predictor(beta_new.as_slice().expect("contiguous"));
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

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::fit::penalty::Penalty;
    use crate::fit::{design, uniform_stream, ModelSpec};
    use crate::linalg::SpdFactor;
    use ndarray::ShapeBuilder;
    use std::borrow::Cow;

    /// A small dense generalized problem: an intercept and two penalized blocks of
    /// three columns (second- and first-order difference penalties), non-unit prior
    /// weights, and a response drawn from `family` around a smooth truth. The model
    /// matrix is the parametric one, so the tests can form everything densely.
    pub(crate) struct Problem {
        pub(crate) spec: ModelSpec<'static>,
        pub(crate) x: Array2<f64>,
        pub(crate) pens: PenaltySet,
    }

    pub(crate) fn problem(family: &str, link: &str, seed: u64) -> Problem {
        let n = 200;
        let mut u = uniform_stream(seed);
        let xs: Vec<f64> = (0..n).map(|_| u()).collect();
        let zs: Vec<f64> = (0..n).map(|_| u()).collect();
        let pi = std::f64::consts::PI;
        let x = Array2::from_shape_fn((n, 7).f(), |(i, j)| match j {
            0 => 1.0,
            1..=3 => 0.5 * (j as f64 * pi * xs[i]).sin(),
            _ => 0.5 * ((j - 3) as f64 * pi * zs[i]).cos(),
        });
        // A truth with valid means for every family used (positive for the log and
        // identity links, inside (0, 1) for the binomial).
        let eta: Vec<f64> = (0..n).map(|i| 0.8 + 0.6 * (pi * xs[i]).sin() - 0.4 * (pi * zs[i]).cos()).collect();
        let y: Vec<f64> = eta
            .iter()
            .map(|&e| match family {
                "gaussian" => e + u() - 0.5,
                "binomial" => f64::from(u() < 1.0 / (1.0 + (-(e - 0.8) * 2.0).exp())),
                "poisson" => {
                    // Knuth's inversion with the mean exp(eta) (log link) or eta.
                    let mu = if link == "log" { e.exp() } else { e };
                    let (mut k, mut prod) = (0.0, u());
                    while prod > (-mu).exp() {
                        k += 1.0;
                        prod *= u();
                    }
                    k
                }
                "Gamma" => e.exp() * (-(u().max(1e-12)).ln() + 0.05),
                _ => panic!("no such test family"),
            })
            .collect();
        let w: Vec<f64> = (0..n).map(|i| 0.5 + (i % 4) as f64 * 0.5).collect();
        let spec = ModelSpec {
            family: Family::from_r(family, link, "", &[]).expect("a known family"),
            weights: Cow::Owned(w),
            ..ModelSpec::for_tests(y, x.clone(), vec![])
        };
        let pens = vec![
            Penalty { start: 1, s: crate::basis::ps::difference_penalty(3, 2) },
            Penalty { start: 4, s: crate::basis::ps::difference_penalty(3, 1) },
        ];
        Problem { spec, x, pens: PenaltySet::new(7, pens) }
    }

    pub(crate) fn data<'b, 'd>(d: &'b Design<'d>, pr: &'b Problem) -> GlmData<'b, 'd> {
        assert_eq!(d.ncols(), pr.x.ncols(), "the design is the parametric matrix");
        GlmData {
            design: d,
            penalties: &pr.pens,
            family: pr.spec.family,
            y: &pr.spec.y,
            censor: pr.spec.censor.as_deref(),
            w: &pr.spec.weights,
            offset: &pr.spec.offset,
            threads: 1,
            x: None,
            layout: Layout::of(d),
        }
    }

    /// `S_lambda` as a dense p x p matrix.
    pub(crate) fn s_lambda(pens: &PenaltySet, lambda: &[f64]) -> Array2<f64> {
        let mut s = Array2::zeros((pens.p, pens.p));
        pens.add_to(&mut s, lambda);
        s
    }

    fn max_abs(v: impl IntoIterator<Item = f64>) -> f64 {
        v.into_iter().fold(0.0_f64, |m, a| m.max(a.abs()))
    }

    /// Poisson log (canonical): at the fit the penalized score
    /// `X'w(y - mu) - S_lambda beta` vanishes, `eta = X beta`, the deviance and penalty
    /// are those of `beta` by their definitions, and `X'WX`, `H^-1`, `log|H|` are those
    /// at `beta` (W = w mu).
    #[test]
    fn poisson_fit_is_the_stationary_point_of_the_penalized_deviance() {
        let pr = problem("poisson", "log", 11);
        let d = design(&pr.spec).unwrap();
        let data = data(&d, &pr);
        let lambda = [0.7, 3.0];
        let fit = pirls(&data, &lambda, &[], &mut || false).unwrap();
        assert!(fit.converged && fit.iterations < 30, "{} iterations", fit.iterations);
        let (x, y, w) = (&pr.x, &pr.spec.y, &pr.spec.weights);
        let eta = x.dot(&fit.beta);
        // eta is formed by the terms rather than by this product: equal to rounding.
        assert!(max_abs(eta.iter().zip(&fit.eta).map(|(a, b)| a - b)) < 1e-12);
        let mu = eta.mapv(f64::exp);
        let resid = Array1::from_shape_fn(y.len(), |i| w[i] * (y[i] - mu[i]));
        let s = s_lambda(&pr.pens, &lambda);
        let score = x.t().dot(&resid) - s.dot(&fit.beta);
        // The score's own scale is X'wy (~1e2); Newton stopped at a relative step of
        // 1e-9 after quadratic contraction, so what is left is far below 1e-8 of it.
        let scale = max_abs(x.t().dot(&Array1::from_shape_fn(y.len(), |i| w[i] * y[i])));
        assert!(max_abs(score.iter().copied()) < 1e-8 * scale, "score {score} vs scale {scale}");
        let dev: f64 = (0..y.len())
            .map(|i| {
                let ylogy = if y[i] > 0.0 { y[i] * (y[i] / mu[i]).ln() } else { 0.0 };
                2.0 * w[i] * (ylogy - (y[i] - mu[i]))
            })
            .sum();
        // Sums of 200 terms of order 1: rounding ~1e-13 relative.
        assert!((fit.deviance - dev).abs() < 1e-10 * dev, "{} vs {dev}", fit.deviance);
        let pen = fit.beta.dot(&s.dot(&fit.beta));
        assert!((fit.penalty - pen).abs() < 1e-10 * (pen + 1e-3), "{} vs {pen}", fit.penalty);
        // X'WX holds the weights of the last iteration, within one (tiny) step of beta.
        let xw = Array2::from_shape_fn(x.raw_dim(), |(i, j)| x[(i, j)] * w[i] * mu[i]);
        let xtwx = x.t().dot(&xw);
        let top = max_abs(xtwx.iter().copied());
        assert!(max_abs((&fit.xtwx - &xtwx).iter().copied()) < 1e-7 * top);
        let h = &xtwx + &s;
        let eye = fit.h_inv.dot(&h);
        assert!(max_abs((&eye - &Array2::<f64>::eye(7)).iter().copied()) < 1e-7);
        let ld = SpdFactor::new(h.view()).unwrap().log_det();
        assert!((fit.log_det_h - ld).abs() < 1e-7 * ld.abs().max(1.0), "{} vs {ld}", fit.log_det_h);
    }

    /// Gamma log (non-canonical, where the step is Newton's with the observed
    /// information): the central finite-difference gradient of the penalized deviance
    /// `D(beta) + beta'S beta`, from the family's own deviance, vanishes at the fit.
    #[test]
    fn gamma_log_fit_zeroes_the_gradient_of_the_penalized_deviance() {
        let pr = problem("Gamma", "log", 12);
        let d = design(&pr.spec).unwrap();
        let data = data(&d, &pr);
        let lambda = [2.0, 0.2];
        let fit = pirls(&data, &lambda, &[], &mut || false).unwrap();
        assert!(fit.converged);
        let pdev = |b: &Array1<f64>| {
            let eta = pr.x.dot(b);
            data.deviance(eta.as_slice().unwrap()).unwrap() + data.penalty(b, &lambda)
        };
        let p0 = pdev(&fit.beta);
        assert!((p0 - fit.deviance - fit.penalty).abs() < 1e-10 * p0);
        let h = 1e-5;
        let mut worst = 0.0_f64;
        // The gradient's scale away from the optimum: beta moved by 0.1 in each
        // coordinate gives a gradient of order H 0.1 (~10-100).
        let mut far = 0.0_f64;
        for j in 0..7 {
            let mut up = fit.beta.clone();
            let mut dn = fit.beta.clone();
            up[j] += h;
            dn[j] -= h;
            worst = worst.max(((pdev(&up) - pdev(&dn)) / (2.0 * h)).abs());
            let mut moved = fit.beta.clone();
            moved[j] += 0.1;
            let (mut a, mut b) = (moved.clone(), moved.clone());
            a[j] += h;
            b[j] -= h;
            far = far.max(((pdev(&a) - pdev(&b)) / (2.0 * h)).abs());
        }
        // Rounding in the difference is ~1e-16 pdev / h ~ 1e-9 and truncation h^2 D'''
        // is smaller still; a real gradient is of the size of `far`.
        assert!(far > 1.0, "the check can see a gradient: {far}");
        assert!(worst < 1e-6 * far.max(1.0), "gradient {worst} at the fit (scale {far})");
    }

    /// Binomial logit from a bad start (|eta| up to ~8): a full Newton step from there
    /// raises the penalized deviance (checked densely below, so the iteration must
    /// halve), and the fit still reaches the one from the starting means.
    #[test]
    fn step_halving_recovers_from_a_bad_start() {
        let pr = problem("binomial", "logit", 13);
        let d = design(&pr.spec).unwrap();
        let data = data(&d, &pr);
        let lambda = [0.3, 0.3];
        let reference = pirls(&data, &lambda, &[], &mut || false).unwrap();
        let bad = Array1::from(vec![-4.0, 8.0, -8.0, 8.0, 8.0, -8.0, 8.0]);
        let pdev = |b: &Array1<f64>| {
            let eta = pr.x.dot(b);
            data.deviance(eta.as_slice().unwrap()).map(|v| v + data.penalty(b, &lambda))
        };
        let p_bad = pdev(&bad).expect("the bad start has valid means");
        // One undamped Newton step from the bad start, formed densely.
        let (x, y, w) = (&pr.x, &pr.spec.y, &pr.spec.weights);
        let eta = x.dot(&bad);
        let mu = eta.mapv(|e| 1.0 / (1.0 + (-e).exp()));
        let ww = Array1::from_shape_fn(y.len(), |i| w[i] * mu[i] * (1.0 - mu[i]));
        let uu = Array1::from_shape_fn(y.len(), |i| ww[i] * eta[i] + w[i] * (y[i] - mu[i]));
        let xw = Array2::from_shape_fn(x.raw_dim(), |(i, j)| x[(i, j)] * ww[i]);
        let h = x.t().dot(&xw) + s_lambda(&pr.pens, &lambda);
        let newton = SpdFactor::new(h.view()).unwrap().solve_vec(x.t().dot(&uu).as_slice().unwrap());
        assert!(pdev(&newton).is_none_or(|v| v > p_bad), "the full step must overshoot for this test to mean anything");
        let fit = pirls(&data, &lambda, bad.as_slice().unwrap(), &mut || false).unwrap();
        assert!(fit.converged);
        // Both converged to the same unique minimum (strictly convex): coefficients of
        // order 1 agree to well within the stopping rule's 1e-9 relative steps.
        let diff = max_abs(fit.beta.iter().zip(&reference.beta).map(|(a, b)| a - b));
        assert!(diff < 1e-7, "{} vs {}", fit.beta, reference.beta);
        let (a, b) = (fit.deviance + fit.penalty, reference.deviance + reference.penalty);
        assert!((a - b).abs() < 1e-10 * b, "{a} vs {b}");
        assert!(a < p_bad);
    }

    /// Poisson identity: a start whose means are negative (invalid) and one of the
    /// wrong length both fall back to the starting means, and reach the fit.
    #[test]
    fn an_invalid_start_falls_back_to_the_starting_means() {
        let pr = problem("poisson", "identity", 14);
        let d = design(&pr.spec).unwrap();
        let data = data(&d, &pr);
        let lambda = [1.0, 1.0];
        let reference = pirls(&data, &lambda, &[], &mut || false).unwrap();
        let negative = [-5.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0];
        assert!(data.deviance(&pr.x.dot(&Array1::from(negative.to_vec())).to_vec()).is_none());
        for start in [&negative[..], &[1.0, 2.0][..]] {
            let fit = pirls(&data, &lambda, start, &mut || false).unwrap();
            assert!(fit.converged);
            let diff = max_abs(fit.beta.iter().zip(&reference.beta).map(|(a, b)| a - b));
            // The same unique minimum, to well within the stopping rule.
            assert!(diff < 1e-7, "{} vs {}", fit.beta, reference.beta);
        }
    }
}
