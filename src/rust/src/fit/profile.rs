//! One-dimensional minimization of a profile criterion: the REML/ML (or GCV/UBRE)
//! score as a function of a family parameter with the smoothing parameters chosen
//! afresh at each value (the negative binomial `theta`). By the envelope theorem the
//! profile's minimum is the joint minimum over both, which mgcv's `nb()` finds by
//! Newton's method on all parameters at once (Wood, Pya & Säfken 2016 §3).
//!
//! A downhill search with growing steps brackets the minimum, then Brent's method
//! (golden sections with parabolic steps; Brent 1973, *Algorithms for Minimization
//! without Derivatives*, ch. 5) narrows the bracket.

use crate::error::Result;

/// The golden section's smaller fraction, `(3 - sqrt(5)) / 2`.
const CGOLD: f64 = 0.381_966_011_250_105_1;
/// The growth factor of the bracketing steps, the golden ratio.
const GOLD: f64 = 1.618_033_988_749_895;
const MAX_EVALUATIONS: usize = 100;

/// The point of `[lo, hi]` where `f` is smallest, to within `tol` (relative to
/// `max(|x|, 1)`), searched from `x0` with a first step of `step`; with its value. A
/// minimum at a bound is returned as that bound.
///
/// The search also stops, as the outer Newton iteration does (`outer.rs`), once the
/// parabola through its three best points promises a decrease below `value_tol`
/// relative to `1 + |f|`, and then returns that parabola's minimum (not evaluated)
/// with the value it predicts there: `f` is the criterion optimized to a tolerance at
/// each point, so that points that close are told apart only by the inner
/// optimizations' noise.
pub fn minimize(
    f: &mut dyn FnMut(f64) -> Result<f64>,
    lo: f64,
    hi: f64,
    x0: f64,
    step: f64,
    tol: f64,
    value_tol: f64,
) -> Result<(f64, f64)> {
    let clamp = |x: f64| x.clamp(lo, hi);
    // A value that is not finite counts as worse than any that is.
    let eval = |x: f64, f: &mut dyn FnMut(f64) -> Result<f64>| -> Result<f64> {
        f(x).map(|v| if v.is_finite() { v } else { f64::INFINITY })
    };
    let mut a = clamp(x0);
    let mut fa = eval(a, f)?;
    // Downhill: b is the second point, c the third, growing away from a.
    let mut b = clamp(a + step);
    if b == a {
        b = clamp(a - step);
    }
    let mut fb = eval(b, f)?;
    if fb > fa {
        std::mem::swap(&mut a, &mut b);
        std::mem::swap(&mut fa, &mut fb);
    }
    let mut c = clamp(b + GOLD * (b - a));
    let mut fc = if c == b { fb } else { eval(c, f)? };
    let mut evaluations = 3;
    while fc < fb && evaluations < MAX_EVALUATIONS {
        if c == lo || c == hi {
            // Still falling at the bound. The minimum is there unless the criterion
            // rises again just inside it: the growing steps may have passed over a
            // minimum between b and the bound.
            let inside = c - 0.01 * (c - b);
            let f_inside = eval(inside, f)?;
            evaluations += 1;
            if f_inside > fc {
                return Ok((c, fc));
            }
            (a, fa, b, fb) = (b, fb, inside, f_inside);
            break;
        }
        let next = clamp(c + GOLD * (c - b));
        (a, fa, b, fb) = (b, fb, c, fc);
        c = next;
        fc = eval(c, f)?;
        evaluations += 1;
    }
    if fc == fb && c == b {
        return Ok((b, fb));
    }
    // Brent's method on [a, c] (either order) from b, the lowest point so far. The
    // bracket's ends are its first two other points, so that its first step can be a
    // parabola's (Brent starts from golden sections alone when it has no points).
    let (mut lo_b, mut hi_b) = if a < c { (a, c) } else { (c, a) };
    let (mut x, mut fx) = (b, fb);
    let ((mut w, mut fw), (mut v, mut fv)) = if fa <= fc { ((a, fa), (c, fc)) } else { ((c, fc), (a, fa)) };
    let (mut d, mut e) = (0.0_f64, 0.0_f64);
    if w == x || v == x || w == v {
        (w, fw, v, fv) = (x, fx, x, fx);
    } else {
        // As if the last two steps had spanned the bracket: the parabola's first two
        // steps are then both taken when they fall inside it.
        (d, e) = (hi_b - lo_b, hi_b - lo_b);
    }
    while evaluations < MAX_EVALUATIONS {
        let xm = 0.5 * (lo_b + hi_b);
        let tol1 = tol * x.abs().max(1.0);
        let tol2 = 2.0 * tol1;
        if (x - xm).abs() <= tol2 - 0.5 * (hi_b - lo_b) {
            break;
        }
        let mut golden = true;
        if e.abs() > tol1 {
            // A parabola through x, w and v.
            let r = (x - w) * (fx - fv);
            let mut q = (x - v) * (fx - fw);
            let mut p = (x - v) * q - (x - w) * r;
            q = 2.0 * (q - r);
            if q > 0.0 {
                p = -p;
            }
            q = q.abs();
            let e_old = e;
            e = d;
            if p.abs() < (0.5 * q * e_old).abs() && p > q * (lo_b - x) && p < q * (hi_b - x) {
                d = p / q;
                // The parabola's curvature (its second divided difference) and the
                // decrease it promises at its minimum, `A d^2`.
                let curvature = ((fw - fx) / (w - x) - (fv - fx) / (v - x)) / (w - v);
                if curvature > 0.0 && curvature * d * d < value_tol * (1.0 + fx.abs()) {
                    // The parabola's minimum, not evaluated: nearer the minimum than
                    // any point so far (the caller fits there once more anyway).
                    let u = (x + d).clamp(lo_b, hi_b);
                    return Ok((u, fx - curvature * d * d));
                }
                let u = x + d;
                if u - lo_b < tol2 || hi_b - u < tol2 {
                    d = tol1.copysign(xm - x);
                }
                golden = false;
            }
        }
        if golden {
            e = if x >= xm { lo_b - x } else { hi_b - x };
            d = CGOLD * e;
        }
        let u = if d.abs() >= tol1 { x + d } else { x + tol1.copysign(d) };
        let fu = eval(u, f)?;
        evaluations += 1;
        if fu <= fx {
            if u >= x {
                lo_b = x;
            } else {
                hi_b = x;
            }
            (v, fv, w, fw, x, fx) = (w, fw, x, fx, u, fu);
        } else {
            if u < x {
                lo_b = u;
            } else {
                hi_b = u;
            }
            if fu <= fw || w == x {
                (v, fv, w, fw) = (w, fw, u, fu);
            } else if fu <= fv || v == x || v == w {
                (v, fv) = (u, fu);
            }
        }
    }
    Ok((x, fx))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_interior_and_boundary_minima() {
        let mut calls = 0;
        let mut f = |x: f64| -> Result<f64> {
            calls += 1;
            Ok((x - 1.3).powi(2) + 0.1 * (x - 1.3).powi(4) + 5.0)
        };
        let (x, fx) = minimize(&mut f, -10.0, 10.0, -4.0, 1.0, 1e-8, 0.0).unwrap();
        assert!((x - 1.3).abs() < 1e-6, "{x}");
        assert!((fx - 5.0).abs() < 1e-10);
        assert!(calls < 60, "{calls}");
        // Decreasing towards the upper bound.
        let (x, _) = minimize(&mut |x: f64| Ok(-x), -3.0, 2.5, 0.0, 1.0, 1e-8, 0.0).unwrap();
        assert_eq!(x, 2.5);
        // A minimum just inside the bound, which the growing steps pass over (1.5,
        // 1.6, 1.76, then the bound 1.99): a tw() power search ended at 1.99 with a
        // criterion 0.55 above the one at 1.949.
        let (x, _) = minimize(&mut |x: f64| Ok((x - 1.949).powi(2)), 1.01, 1.99, 1.5, 0.1, 1e-8, 0.0).unwrap();
        assert!((x - 1.949).abs() < 1e-6, "{x}");
        // Non-finite values count as worse than any finite one.
        let (x, _) = minimize(
            &mut |x: f64| Ok(if x < 0.0 { f64::NAN } else { (x - 0.5).powi(2) }),
            -2.0,
            2.0,
            1.0,
            0.5,
            1e-8,
            0.0,
        )
        .unwrap();
        assert!((x - 0.5).abs() < 1e-6);
    }

    /// Started near the minimum with a small step, the search brackets it at once and
    /// its parabolas finish it; with a value tolerance it stops once the next point
    /// could only gain less than that.
    #[test]
    fn a_start_near_the_minimum_takes_few_evaluations() {
        let profile = |x: f64| 3000.0 + 800.0 * (x - 1.1404).powi(2) + 90.0 * (x - 1.1404).powi(3);
        let mut calls = 0;
        let mut f = |x: f64| -> Result<f64> {
            calls += 1;
            Ok(profile(x))
        };
        let (x, fx) = minimize(&mut f, -7.0, 12.0, 1.1442, 0.05, 1e-6, 1e-8).unwrap();
        // Within what the value tolerance can tell apart: 800 (x - m)^2 < 3e-5.
        assert!((x - 1.1404).abs() < 2e-4, "{x}");
        assert!((fx - 3000.0).abs() < 3e-5 * 1.01, "{fx}");
        assert!(calls <= 6, "{calls} evaluations");
        // Without it, to the point tolerance.
        let mut calls_tight = 0;
        let (x, _) = minimize(
            &mut |x: f64| {
                calls_tight += 1;
                Ok(profile(x))
            },
            -7.0,
            12.0,
            1.1442,
            0.05,
            1e-6,
            0.0,
        )
        .unwrap();
        assert!((x - 1.1404).abs() < 1e-5, "{x}");
        assert!(calls_tight > calls);
    }
}
