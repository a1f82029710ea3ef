//! The outer optimizer: Newton's method on log smoothing parameters with exact gradient
//! and Hessian (Wood 2011, JRSS-B 73:3-36, §3; Wood 2017 §6.2).
//!
//! The problem (criterion value, gradient, Hessian) is an `Objective`; this module only
//! steps. An indefinite Hessian is made positive definite by taking the absolute values
//! of its eigenvalues (Wood 2011 §3.3), steps are capped in length and halved until the
//! criterion decreases, and every run ends with a `Termination` that R reports.

use ndarray::{Array1, Array2};

use crate::error::{EngineError, Result};
use crate::linalg::sym_eigen;

/// Value, gradient and Hessian of the criterion at one point.
#[derive(Debug, Clone)]
pub struct Eval {
    pub value: f64,
    pub grad: Array1<f64>,
    pub hess: Array2<f64>,
    /// The inner fit's coefficients at this point (empty when the objective has none):
    /// checkpoints keep them so that a resumed fit's inner iteration starts there.
    pub coefficients: Vec<f64>,
}

pub trait Objective {
    /// The criterion at `rho`, with its gradient and Hessian when `derivatives` (an
    /// objective may return them anyway when they cost nothing extra; otherwise they
    /// are empty). Line searches ask for values only.
    fn evaluate(&mut self, rho: &[f64], derivatives: bool) -> Result<Eval>;

    /// How far a step `dir` from `rho` (the last point evaluated with derivatives)
    /// would move the coefficients, to first order (`max |J dir| / max |beta|`, with
    /// `J = d beta / d rho`); `None` when the objective does not know `J` there.
    fn coefficient_change(&self, _rho: &[f64], _dir: &[f64]) -> Option<f64> {
        None
    }

    /// Whether one more evaluation costs little next to the fit (no pass over many
    /// rows): then a converged search takes its last Newton step too (`polish`).
    fn evaluation_is_cheap(&self) -> bool {
        false
    }
}

#[derive(Debug, Clone)]
pub struct NewtonSettings {
    pub max_iter: usize,
    /// Converged when the gradient and the last change of the criterion are below
    /// `tol * (1 + |V|)` (the scaled test of mgcv's `newton`) and the last step moved
    /// the coefficients by at most `10 tol` relative.
    ///
    /// The coefficient test is what makes the answer independent of the start: `V`
    /// grows with the number of observations while its gradient does not, so at large
    /// n the scaled gradient test alone accepts points a visible distance from the
    /// optimum, and which point depends on where the optimizer came from. Near the
    /// optimum Newton steps shrink quadratically, so a step that barely moves the
    /// coefficients leaves them barely short of their limit, also along flat
    /// directions (a smooth heading to its null space), where steps stay long in the
    /// log smoothing parameter but change the fit less and less.
    pub tol: f64,
    /// Largest step in any log smoothing parameter.
    pub max_step: f64,
    /// Bounds on each parameter: beyond them the fit no longer changes to working
    /// precision (a smooth fully penalized or not penalized at all).
    pub lower: Vec<f64>,
    pub upper: Vec<f64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Termination {
    Converged,
    MaxIterations,
    /// No step along the (modified) Newton or steepest-descent direction reduced the
    /// criterion, while the gradient was not yet small.
    NoProgress,
    /// Nothing to optimize (no free smoothing parameters).
    NoParameters,
}

impl Termination {
    pub fn as_str(&self) -> &'static str {
        match self {
            Termination::Converged => "converged",
            Termination::MaxIterations => "iteration limit reached",
            Termination::NoProgress => "no step reduced the criterion",
            Termination::NoParameters => "no smoothing parameters to estimate",
        }
    }

    /// A stable code for the store (`from_code` inverts it).
    pub fn code(&self) -> u8 {
        match self {
            Termination::Converged => 0,
            Termination::MaxIterations => 1,
            Termination::NoProgress => 2,
            Termination::NoParameters => 3,
        }
    }

    pub fn from_code(code: u8) -> Option<Termination> {
        [Termination::Converged, Termination::MaxIterations, Termination::NoProgress, Termination::NoParameters]
            .into_iter()
            .find(|t| t.code() == code)
    }

    pub fn is_converged(&self) -> bool {
        matches!(self, Termination::Converged | Termination::NoParameters)
    }
}

#[derive(Debug, Clone)]
pub struct OuterResult {
    pub rho: Vec<f64>,
    pub eval: Eval,
    pub iterations: usize,
    pub termination: Termination,
}

/// Called after each accepted step with the iteration count, the iterate and its
/// evaluation; an error (e.g. an interrupt) stops the optimizer.
pub type Monitor<'a> = dyn FnMut(usize, &[f64], &Eval) -> Result<()> + 'a;

const MAX_HALVINGS: usize = 30;

pub fn newton(
    objective: &mut dyn Objective,
    rho0: &[f64],
    settings: &NewtonSettings,
    monitor: &mut Monitor<'_>,
) -> Result<OuterResult> {
    let m = rho0.len();
    let mut rho: Vec<f64> = (0..m).map(|j| rho0[j].clamp(settings.lower[j], settings.upper[j])).collect();
    let mut eval = objective.evaluate(&rho, true)?;
    if m == 0 {
        return Ok(OuterResult { rho, eval, iterations: 0, termination: Termination::NoParameters });
    }
    let mut last_change = f64::INFINITY;
    let mut last_coef_change = f64::INFINITY;
    for iter in 0..settings.max_iter {
        let scale = 1.0 + eval.value.abs();
        let free = free_parameters(&rho, &eval.grad, settings);
        let max_grad = free.iter().map(|&j| eval.grad[j].abs()).fold(0.0, f64::max);
        let settled = last_change < settings.tol * scale && last_coef_change <= 10.0 * settings.tol;
        if max_grad < settings.tol * scale && (settled || max_grad == 0.0) {
            let (rho, eval) = polish(objective, rho, eval, &free, settings)?;
            return Ok(OuterResult { rho, eval, iterations: iter, termination: Termination::Converged });
        }
        let direction = newton_direction(&eval, &free, settings.max_step);
        // Looking ahead instead of back: when the step Newton would take next promises
        // less than the tolerance, both in the criterion and (to first order) in the
        // coefficients, that step is not worth its inner fits. This is the last
        // step's test applied to the next one, and it also ends the iteration where
        // the gradient cannot get below `tol (1 + |V|)` because of its own rounding
        // (at large n: inner fits converged to `1e-9` relative leave a gradient
        // error above it), where no step can decrease the criterion any more.
        if predicted_decrease(&eval, &direction).abs() < settings.tol * scale
            && objective.coefficient_change(&rho, &direction).is_some_and(|c| c <= 10.0 * settings.tol)
        {
            let (rho, eval) = polish(objective, rho, eval, &free, settings)?;
            return Ok(OuterResult { rho, eval, iterations: iter, termination: Termination::Converged });
        }
        let steepest = steepest_direction(&eval, &free, settings.max_step);
        let mut accepted = None;
        for dir in [direction, steepest] {
            if let Some(step) = line_search(objective, &rho, &eval, &dir, settings)? {
                accepted = Some(step);
                break;
            }
        }
        let Some((new_rho, new_eval)) = accepted else {
            // Nothing decreases the criterion: we are at the optimum to working
            // precision if the gradient is small on a looser scale.
            let termination =
                if max_grad < settings.tol.sqrt() * scale { Termination::Converged } else { Termination::NoProgress };
            return Ok(OuterResult { rho, eval, iterations: iter, termination });
        };
        last_change = (eval.value - new_eval.value).abs();
        last_coef_change = relative_change(&eval.coefficients, &new_eval.coefficients);
        rho = new_rho;
        eval = new_eval;
        monitor(iter + 1, &rho, &eval)?;
    }
    Ok(OuterResult { rho, eval, iterations: settings.max_iter, termination: Termination::MaxIterations })
}

/// At a converged point, one more Newton step when evaluations are cheap. The tests
/// stop the search within the tolerance of the optimum, at a point that depends on
/// the path (a resumed or seeded search stops elsewhere than a cold one, up to ~1e-7
/// in the coefficients); Newton's quadratic convergence puts the next point within
/// the square of that, so every path files the same answer (issue 15.8: concurrent
/// fits filed answers 5e-8 apart). The step is kept only if the criterion does not
/// rise beyond rounding.
fn polish(
    objective: &mut dyn Objective,
    rho: Vec<f64>,
    eval: Eval,
    free: &[usize],
    settings: &NewtonSettings,
) -> Result<(Vec<f64>, Eval)> {
    if !objective.evaluation_is_cheap() || free.is_empty() {
        return Ok((rho, eval));
    }
    let direction = newton_direction(&eval, free, settings.max_step);
    let next: Vec<f64> =
        (0..rho.len()).map(|j| (rho[j] + direction[j]).clamp(settings.lower[j], settings.upper[j])).collect();
    if next == rho {
        return Ok((rho, eval));
    }
    let polished = objective.evaluate(&next, true)?;
    let rounding = 1e-12 * (1.0 + eval.value.abs());
    Ok(if polished.value <= eval.value + rounding && polished.grad.iter().all(|g| g.is_finite()) {
        (next, polished)
    } else {
        // The step's evaluation replaced what the objective remembers (its last
        // inner fit): evaluate the kept point again.
        let again = objective.evaluate(&rho, true)?;
        (rho, again)
    })
}

/// `max |b - a| / max |b|`; zero when there are no coefficients to compare.
fn relative_change(a: &[f64], b: &[f64]) -> f64 {
    if a.len() != b.len() || b.is_empty() {
        return 0.0;
    }
    let top = b.iter().fold(0.0_f64, |m, v| m.max(v.abs()));
    let diff = a.iter().zip(b).fold(0.0_f64, |m, (x, y)| m.max((x - y).abs()));
    if top > 0.0 {
        diff / top
    } else {
        diff
    }
}

/// Parameters not pinned at a bound by a gradient pointing outwards.
fn free_parameters(rho: &[f64], grad: &Array1<f64>, s: &NewtonSettings) -> Vec<usize> {
    (0..rho.len())
        .filter(|&j| {
            let at_upper = rho[j] >= s.upper[j] && grad[j] < 0.0;
            let at_lower = rho[j] <= s.lower[j] && grad[j] > 0.0;
            !(at_upper || at_lower)
        })
        .collect()
}

/// `-H^-1 g` on the free parameters, with `H`'s eigenvalues replaced by their absolute
/// values (floored relative to the largest) so that the direction is one of descent.
fn newton_direction(eval: &Eval, free: &[usize], max_step: f64) -> Vec<f64> {
    let m = eval.grad.len();
    let k = free.len();
    let mut dir = vec![0.0; m];
    if k == 0 {
        return dir;
    }
    let h = Array2::from_shape_fn((k, k), |(a, b)| eval.hess[(free[a], free[b])]);
    // A Hessian that overflowed (a Tweedie scale parameter far out, say) gives no
    // Newton step; the gradient still gives a direction downhill.
    if !h.iter().all(|v| v.is_finite()) {
        return steepest_direction(eval, free, max_step);
    }
    let (values, vectors) = sym_eigen(h.view());
    let top = values.iter().fold(0.0_f64, |a, v| a.max(v.abs()));
    let floor = (top * 1e-7).max(f64::MIN_POSITIVE);
    let g = Array1::from_iter(free.iter().map(|&j| eval.grad[j]));
    let ug = vectors.t().dot(&g);
    let scaled = Array1::from_iter(ug.iter().zip(&values).map(|(c, v)| c / v.abs().max(floor)));
    let step = vectors.dot(&scaled);
    for (a, &j) in free.iter().enumerate() {
        dir[j] = -step[a];
    }
    cap(&mut dir, max_step);
    dir
}

fn steepest_direction(eval: &Eval, free: &[usize], max_step: f64) -> Vec<f64> {
    let mut dir = vec![0.0; eval.grad.len()];
    for &j in free {
        // No direction along a parameter whose derivative overflowed.
        dir[j] = if eval.grad[j].is_finite() { -eval.grad[j] } else { 0.0 };
    }
    cap(&mut dir, max_step);
    dir
}

fn cap(dir: &mut [f64], max_step: f64) {
    let longest = dir.iter().fold(0.0_f64, |a, v| a.max(v.abs()));
    if longest > max_step {
        let f = max_step / longest;
        dir.iter_mut().for_each(|v| *v *= f);
    }
}

/// Halves the step until the criterion decreases; `None` when it never does.
///
/// A full step that decreased the criterion by clearly more than the quadratic model
/// predicted is on a criterion flattening out along the direction (a smoothing
/// parameter heading to a bound, where the criterion decays like `exp(-rho)` and
/// Newton steps have length one): the step is then doubled while that keeps paying,
/// which saves whole outer iterations.
fn line_search(
    objective: &mut dyn Objective,
    rho: &[f64],
    eval: &Eval,
    dir: &[f64],
    s: &NewtonSettings,
) -> Result<Option<(Vec<f64>, Eval)>> {
    let trial_at =
        |t: f64| -> Vec<f64> { (0..rho.len()).map(|j| (rho[j] + t * dir[j]).clamp(s.lower[j], s.upper[j])).collect() };
    let mut t = 1.0;
    for _ in 0..MAX_HALVINGS {
        let trial = trial_at(t);
        if trial.iter().zip(rho).all(|(a, b)| a == b) {
            return Ok(None);
        }
        // Far out along a direction the penalized system can become numerically
        // singular (a smoothing parameter so large that the penalty swamps the data
        // beyond double precision): such a point is not a descent, so the step is
        // shortened, as for any other failed trial.
        let e = match objective.evaluate(&trial, false) {
            Err(EngineError::NotIdentifiable { .. }) => {
                t *= 0.5;
                continue;
            }
            other => other?,
        };
        if e.value.is_finite() && e.value < eval.value {
            let (mut best, mut best_e) = (trial, e);
            let predicted = predicted_decrease(eval, dir);
            // A decrease within the tolerance says nothing about the criterion's shape.
            let meaningful = eval.value - best_e.value > s.tol * (1.0 + eval.value.abs());
            if t == 1.0 && meaningful && predicted > 0.0 && eval.value - best_e.value > EXTEND_RATIO * predicted {
                let mut length = 1.0;
                while length < MAX_EXTENSION {
                    length *= 2.0;
                    let longer = trial_at(length);
                    if longer == best {
                        break;
                    }
                    match objective.evaluate(&longer, false) {
                        Ok(le) if le.value.is_finite() && le.value < best_e.value => {
                            best = longer;
                            best_e = le;
                        }
                        Ok(_) | Err(EngineError::NotIdentifiable { .. }) => break,
                        Err(other) => return Err(other),
                    }
                }
            }
            // The accepted point's derivatives, unless the objective gave them already.
            let e = if best_e.grad.len() == rho.len() { best_e } else { objective.evaluate(&best, true)? };
            return Ok(Some((best, e)));
        }
        t *= 0.5;
    }
    Ok(None)
}

/// A full step is extended (doubled while the criterion keeps falling) when it fell by
/// more than this multiple of the decrease the quadratic model predicts (1 on a
/// quadratic; `(1 - e^-1) / (1/2) = 1.26` on an exponential tail).
const EXTEND_RATIO: f64 = 1.15;
/// Longest extended step, as a multiple of the (capped) Newton step.
const MAX_EXTENSION: f64 = 4.0;

/// `-(g'd + d'Hd/2)`: the decrease the local quadratic model predicts along `d`.
fn predicted_decrease(eval: &Eval, dir: &[f64]) -> f64 {
    let d = Array1::from(dir.to_vec());
    if eval.hess.nrows() != d.len() {
        return 0.0;
    }
    -(eval.grad.dot(&d) + 0.5 * d.dot(&eval.hess.dot(&d)))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A Hessian that overflowed gives the steepest descent direction, not a panic
    /// (a tw() fit at n = 2e4 reached one: the eigen-decomposition failed).
    #[test]
    fn an_overflowed_hessian_gives_a_downhill_direction() {
        let eval = Eval {
            value: 1.0,
            grad: Array1::from(vec![2.0, f64::INFINITY, -1.0]),
            hess: Array2::from_shape_vec((3, 3), vec![1.0, 0.0, 0.0, 0.0, f64::NAN, 0.0, 0.0, 0.0, 1.0]).unwrap(),
            coefficients: Vec::new(),
        };
        let dir = newton_direction(&eval, &[0, 1, 2], 5.0);
        assert_eq!(dir, vec![-2.0, 0.0, 1.0]);
    }

    /// A smooth, non-quadratic bowl with a known minimum at (1, -2).
    struct Bowl;
    impl Objective for Bowl {
        fn evaluate(&mut self, r: &[f64], _derivatives: bool) -> Result<Eval> {
            let (a, b) = (r[0] - 1.0, r[1] + 2.0);
            let value = a * a + (b * b).powi(2) + a.powi(4) + 0.5 * a * b * b;
            let grad = Array1::from(vec![2.0 * a + 4.0 * a.powi(3) + 0.5 * b * b, 4.0 * b.powi(3) + a * b]);
            let hess = Array2::from_shape_vec((2, 2), vec![2.0 + 12.0 * a * a, b, b, 12.0 * b * b + a]).unwrap();
            Ok(Eval { value, grad, hess, coefficients: Vec::new() })
        }
    }

    #[test]
    fn newton_finds_the_minimum_and_says_so() {
        let settings =
            NewtonSettings { max_iter: 200, tol: 1e-10, max_step: 5.0, lower: vec![-50.0; 2], upper: vec![50.0; 2] };
        let mut count = 0;
        let res = newton(&mut Bowl, &[4.0, 3.0], &settings, &mut |_, _, _| {
            count += 1;
            Ok(())
        })
        .unwrap();
        assert_eq!(res.termination, Termination::Converged);
        assert!((res.rho[0] - 1.0).abs() < 1e-4);
        assert!((res.rho[1] + 2.0).abs() < 1e-2);
        assert_eq!(count, res.iterations);
    }

    #[test]
    fn a_parameter_pushed_to_its_bound_stays_there() {
        struct Slope;
        impl Objective for Slope {
            fn evaluate(&mut self, r: &[f64], _derivatives: bool) -> Result<Eval> {
                // Decreasing in r[0] forever, quadratic in r[1].
                let value = (-r[0]).exp() + (r[1] - 3.0).powi(2);
                let grad = Array1::from(vec![-(-r[0]).exp(), 2.0 * (r[1] - 3.0)]);
                let hess = Array2::from_shape_vec((2, 2), vec![(-r[0]).exp(), 0.0, 0.0, 2.0]).unwrap();
                Ok(Eval { value, grad, hess, coefficients: Vec::new() })
            }
        }
        let settings =
            NewtonSettings { max_iter: 100, tol: 1e-10, max_step: 5.0, lower: vec![-10.0; 2], upper: vec![10.0; 2] };
        let res = newton(&mut Slope, &[0.0, 0.0], &settings, &mut |_, _, _| Ok(())).unwrap();
        assert_eq!(res.termination, Termination::Converged);
        assert_eq!(res.rho[0], 10.0);
        assert!((res.rho[1] - 3.0).abs() < 1e-8);
    }

    /// A criterion whose gradient carries rounding noise above `tol (1 + |V|)` and
    /// whose value cannot be decreased below its own noise: the look-ahead test ends
    /// the iteration at the optimum (the test on the last step alone line searched
    /// until no step decreased the value).
    #[test]
    fn a_gradient_noisier_than_the_tolerance_still_converges() {
        struct Noisy {
            evaluations: usize,
        }
        impl Objective for Noisy {
            fn evaluate(&mut self, r: &[f64], _derivatives: bool) -> Result<Eval> {
                self.evaluations += 1;
                // Deterministic "noise" of size 1e-4 in the gradient; the value is
                // flat to rounding within 1e-3 of the optimum at 2.
                let noise = 1e-4 * (1e6 * r[0]).sin();
                let d = r[0] - 2.0;
                let value = 1e3 + if d.abs() < 1e-3 { 0.0 } else { 0.5 * d * d };
                let grad = Array1::from(vec![d + noise]);
                let hess = Array2::from_elem((1, 1), 1.0);
                Ok(Eval { value, grad, hess, coefficients: vec![1.0] })
            }
            fn coefficient_change(&self, _rho: &[f64], dir: &[f64]) -> Option<f64> {
                // The coefficients barely move with the parameter.
                Some(1e-5 * dir[0].abs())
            }
        }
        let settings =
            NewtonSettings { max_iter: 100, tol: 1e-8, max_step: 5.0, lower: vec![-50.0], upper: vec![50.0] };
        let mut objective = Noisy { evaluations: 0 };
        let res = newton(&mut objective, &[4.0], &settings, &mut |_, _, _| Ok(())).unwrap();
        assert_eq!(res.termination, Termination::Converged);
        assert!((res.rho[0] - 2.0).abs() < 2e-3, "stopped at {}", res.rho[0]);
        assert!(objective.evaluations <= 4, "{} evaluations", objective.evaluations);
    }

    /// The look-ahead test does not skip a step that still moves the coefficients.
    #[test]
    fn a_step_that_moves_the_coefficients_is_taken() {
        struct Quadratic;
        impl Objective for Quadratic {
            fn evaluate(&mut self, r: &[f64], _derivatives: bool) -> Result<Eval> {
                let d = r[0] - 1.0;
                // A large value makes `tol (1 + |V|)` loose (1e-2) for the gradient.
                let value = 1e6 + 0.5 * d * d;
                Ok(Eval {
                    value,
                    grad: Array1::from(vec![d]),
                    hess: Array2::from_elem((1, 1), 1.0),
                    coefficients: vec![r[0]],
                })
            }
            fn coefficient_change(&self, rho: &[f64], dir: &[f64]) -> Option<f64> {
                Some(dir[0].abs() / rho[0].abs())
            }
        }
        let settings =
            NewtonSettings { max_iter: 100, tol: 1e-8, max_step: 5.0, lower: vec![-50.0], upper: vec![50.0] };
        let res = newton(&mut Quadratic, &[1.001], &settings, &mut |_, _, _| Ok(())).unwrap();
        assert_eq!(res.termination, Termination::Converged);
        assert!((res.rho[0] - 1.0).abs() < 1e-9, "stopped at {}", res.rho[0]);
    }
}
