//! The search over a family's own parameters `theta` (the negative binomial's
//! `log(theta)`, the Tweedie power, the beta precision's log, the scaled t's degrees
//! of freedom and scale): the profile criterion `V(theta) = min_rho L(rho, theta)`,
//! the REML/ML score with the smoothing parameters chosen afresh at each `theta`, by a
//! quasi-Newton method. Its minimum is the joint minimum over both, which mgcv finds
//! by Newton's method on all of them at once (Wood, Pya & Säfken 2016, JASA, §3).
//!
//! By the envelope theorem `grad V(theta) = dL/dtheta` at `rho*(theta)`: central
//! differences of `L` at fixed `rho*` (inner fits only, no smoothing parameter search)
//! give it. The Hessian of `L(rho*(theta0), .)` at `theta0` is at least `V`'s, since
//! that function lies above `V` and touches it at `theta0`: its Newton step does not
//! overshoot, and a BFGS update from the last step's change in the (exact) gradient
//! brings it to `V`'s own curvature along the step (in one dimension, the secant
//! method: superlinear convergence).

use ndarray::{Array1, Array2};

use crate::error::Result;
use crate::family::ParameterSearch;
use crate::linalg;

/// The criterion at one `theta`, with its gradient and a curvature (a positive
/// semi-definite upper bound on the Hessian, or the Hessian itself).
pub struct Point {
    pub value: f64,
    pub gradient: Vec<f64>,
    pub curvature: Array2<f64>,
}

/// Most quasi-Newton iterations.
const MAX_ITERATIONS: usize = 40;
/// Step halvings before a direction is given up.
const MAX_HALVINGS: usize = 8;

/// The `theta` that minimizes the criterion `point` evaluates (`None` where no fit
/// exists there), within each coordinate's bounds, from `start`. The search stops
/// where the next step promises a decrease below `value_tol (1 + |V|)`, returning
/// that step's end (not evaluated; the caller fits there once more anyway), or where
/// no step along the quasi-Newton direction decreases the criterion.
pub fn minimize(
    point: &mut dyn FnMut(&[f64]) -> Result<Option<Point>>,
    searches: &[ParameterSearch],
    start: &[f64],
    value_tol: f64,
) -> Result<Vec<f64>> {
    let k = searches.len();
    let clamp = |theta: &[f64]| -> Vec<f64> { theta.iter().zip(searches).map(|(t, s)| t.clamp(s.lo, s.hi)).collect() };
    let mut theta = clamp(start);
    let Some(mut at) = point(&theta)? else {
        return Ok(theta);
    };
    let mut curvature = at.curvature.clone();
    for _ in 0..MAX_ITERATIONS {
        let step = newton_step(&at.gradient, &curvature, &theta, searches);
        if step.iter().all(|d| *d == 0.0) {
            break;
        }
        let gd: f64 = at.gradient.iter().zip(&step).map(|(g, d)| g * d).sum();
        let dhd = quadratic(&curvature, &step);
        let promised = -(gd + 0.5 * dhd);
        if promised < value_tol * (1.0 + at.value.abs()) {
            return Ok(clamp(&add(&theta, &step, 1.0)));
        }
        // Backtracking until the criterion falls (Armijo's condition).
        let mut scale = 1.0;
        let mut accepted = None;
        for _ in 0..=MAX_HALVINGS {
            let trial = clamp(&add(&theta, &step, scale));
            if let Some(p) = point(&trial)? {
                if p.value.is_finite() && p.value <= at.value + 1e-4 * scale * gd {
                    accepted = Some((trial, p));
                    break;
                }
            }
            scale /= 2.0;
        }
        let Some((next, p)) = accepted else { break };
        let s: Vec<f64> = next.iter().zip(&theta).map(|(a, b)| a - b).collect();
        let y: Vec<f64> = p.gradient.iter().zip(&at.gradient).map(|(a, b)| a - b).collect();
        // The new point's own curvature bound, corrected along the step to the
        // gradients' change (BFGS), where that change is one of a convex function.
        curvature = p.curvature.clone();
        let sy: f64 = s.iter().zip(&y).map(|(a, b)| a * b).sum();
        let shs = quadratic(&curvature, &s);
        if sy > 1e-12 * norm(&s) * norm(&y) && shs > 0.0 {
            let hs = curvature.dot(&Array1::from(s.clone()));
            for i in 0..k {
                for j in 0..k {
                    curvature[(i, j)] += y[i] * y[j] / sy - hs[i] * hs[j] / shs;
                }
            }
        }
        theta = next;
        at = p;
    }
    Ok(theta)
}

/// The central differences of `f` at `theta` (whose value is `f0`): its gradient and
/// Hessian, with steps of `1e-3` of each coordinate's first search step, one-sided at
/// a bound. An infinite value at a difference point (no fit there) leaves the
/// one-sided difference from the other side.
pub fn finite_differences(
    f: &mut dyn FnMut(&[f64]) -> Result<f64>,
    theta: &[f64],
    f0: f64,
    searches: &[ParameterSearch],
) -> Result<(Vec<f64>, Array2<f64>)> {
    let k = theta.len();
    let h: Vec<f64> = searches.iter().map(|s| 1e-3 * s.step).collect();
    let mut at = |i: usize, di: f64, j: usize, dj: f64| -> Result<f64> {
        let mut t = theta.to_vec();
        t[i] += di;
        t[j] += dj;
        f(&t)
    };
    let mut gradient = vec![0.0; k];
    let mut hessian = Array2::zeros((k, k));
    // Each coordinate's difference step and the value there (the upper side, or the
    // lower one at the upper bound), for the mixed differences.
    let mut shifts = vec![0.0; k];
    let mut shifted = vec![f0; k];
    for i in 0..k {
        let (lo, hi) = (searches[i].lo, searches[i].hi);
        let up = (theta[i] + h[i] <= hi).then(|| at(i, h[i], i, 0.0)).transpose()?.filter(|v| v.is_finite());
        let down = (theta[i] - h[i] >= lo).then(|| at(i, -h[i], i, 0.0)).transpose()?.filter(|v| v.is_finite());
        (gradient[i], hessian[(i, i)], shifts[i], shifted[i]) = match (up, down) {
            (Some(u), Some(d)) => ((u - d) / (2.0 * h[i]), (u - 2.0 * f0 + d) / (h[i] * h[i]), h[i], u),
            (Some(u), None) => ((u - f0) / h[i], 0.0, h[i], u),
            (None, Some(d)) => ((f0 - d) / h[i], 0.0, -h[i], d),
            (None, None) => (0.0, 0.0, 0.0, f0),
        };
    }
    // Mixed second differences from the points already taken and one more per pair.
    for i in 0..k {
        for j in 0..i {
            if shifts[i] == 0.0 || shifts[j] == 0.0 {
                continue;
            }
            let fij = at(i, shifts[i], j, shifts[j])?;
            let mixed = (fij - shifted[i] - shifted[j] + f0) / (shifts[i] * shifts[j]);
            if mixed.is_finite() {
                hessian[(i, j)] = mixed;
                hessian[(j, i)] = mixed;
            }
        }
    }
    Ok((gradient, hessian))
}

/// The Newton step `-H^-1 g`, made positive definite by raising the diagonal where
/// it is not, on the coordinates not held at a bound by a gradient pointing out of
/// it, and scaled down to at most twice each coordinate's first search step.
fn newton_step(gradient: &[f64], curvature: &Array2<f64>, theta: &[f64], searches: &[ParameterSearch]) -> Vec<f64> {
    let k = gradient.len();
    let free: Vec<usize> = (0..k)
        .filter(|&i| {
            let s = &searches[i];
            !((theta[i] <= s.lo && gradient[i] > 0.0) || (theta[i] >= s.hi && gradient[i] < 0.0))
        })
        .collect();
    let mut step = vec![0.0; k];
    if free.is_empty() {
        return step;
    }
    let m = free.len();
    let mut h = Array2::from_shape_fn((m, m), |(a, b)| curvature[(free[a], free[b])]);
    let g: Vec<f64> = free.iter().map(|&i| -gradient[i]).collect();
    let scale = (0..m).map(|a| h[(a, a)].abs()).fold(0.0_f64, f64::max).max(1e-8);
    let mut shift = 0.0;
    let solution = loop {
        if let Some(factor) = linalg::SpdFactor::new(h.view()) {
            let d = factor.solve_vec(&g);
            if d.iter().all(|v| v.is_finite()) {
                break d;
            }
        }
        // Not positive definite: a Levenberg shift, growing tenfold.
        let add = if shift == 0.0 { 1e-6 * scale } else { 9.0 * shift };
        shift += add;
        for a in 0..m {
            h[(a, a)] += add;
        }
        if shift > 1e12 * scale {
            // A steepest descent step of the largest allowed length.
            break Array1::from(g.iter().map(|v| v.signum() * 2.0).collect::<Vec<_>>());
        }
    };
    let mut ratio: f64 = 1.0;
    for (a, &i) in free.iter().enumerate() {
        let cap = 2.0 * searches[i].step;
        if solution[a].abs() > cap {
            ratio = ratio.min(cap / solution[a].abs());
        }
    }
    for (a, &i) in free.iter().enumerate() {
        step[i] = solution[a] * ratio;
    }
    step
}

fn quadratic(h: &Array2<f64>, v: &[f64]) -> f64 {
    let v = Array1::from(v.to_vec());
    v.dot(&h.dot(&v))
}

fn norm(v: &[f64]) -> f64 {
    v.iter().map(|x| x * x).sum::<f64>().sqrt()
}

fn add(theta: &[f64], step: &[f64], scale: f64) -> Vec<f64> {
    theta.iter().zip(step).map(|(t, d)| t + scale * d).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn searches(k: usize) -> Vec<ParameterSearch> {
        vec![ParameterSearch { start: 0.0, lo: -10.0, hi: 10.0, step: 1.0 }; k]
    }

    /// A profile whose partial curvature (what the caller can measure at fixed
    /// smoothing parameters) is twice the true one: the secant updates still find
    /// the minimum in a few evaluations.
    #[test]
    fn finds_the_minimum_of_a_profile_with_overstated_curvature() {
        let target = [1.3, -0.7];
        let f = |t: &[f64]| {
            let (a, b) = (t[0] - target[0], t[1] - target[1]);
            500.0 + 40.0 * a * a + 10.0 * a * b + 25.0 * b * b + 3.0 * a.powi(4)
        };
        let mut calls = 0;
        let mut point = |t: &[f64]| -> Result<Option<Point>> {
            calls += 1;
            let v = f(t);
            let (g, h) = finite_differences(&mut |u: &[f64]| Ok(f(u)), t, v, &searches(2))?;
            Ok(Some(Point { value: v, gradient: g, curvature: h * 2.0 }))
        };
        let theta = minimize(&mut point, &searches(2), &[-2.0, 2.0], 1e-12).unwrap();
        assert!((theta[0] - target[0]).abs() < 1e-4 && (theta[1] - target[1]).abs() < 1e-4, "{theta:?}");
        assert!(calls < 25, "{calls} evaluations");
    }

    /// A minimum beyond a bound is returned at the bound; differences there are one-sided.
    #[test]
    fn stops_at_a_bound() {
        let f = |t: &[f64]| (t[0] - 14.0).powi(2);
        let mut point = |t: &[f64]| -> Result<Option<Point>> {
            let v = f(t);
            let (g, h) = finite_differences(&mut |u: &[f64]| Ok(f(u)), t, v, &searches(1))?;
            Ok(Some(Point { value: v, gradient: g, curvature: h }))
        };
        let theta = minimize(&mut point, &searches(1), &[0.0], 1e-12).unwrap();
        assert_eq!(theta, vec![10.0]);
    }
}
