//! B-splines with derivative penalties (`bs = "bs"`; Wood 2017, "P-splines with
//! derivative based penalties and tensor product smoothing of unevenly distributed
//! data", Statistics and Computing 27; mgcv's `smooth.construct.bs.smooth.spec`).
//!
//! `m = c(m1, m2, m3, ..)`: B-splines of degree `m1` (cubic by default) on the knots a
//! P-spline of the same order would have, and one penalty per derivative order `m2`,
//! `m3`, .., each `int (f^(d)(x))^2 dx` over the interior knot range. The `d`-th
//! derivative is a polynomial of degree `m1 - d` between knots, so the squared one has
//! degree `2 (m1 - d)` and Gauss-Legendre quadrature with `m1 - d + 1` points per knot
//! interval gives the integral exactly.
//!
//! The basis is a P-spline basis (`PsBasis`, stored as one), so prediction beyond the
//! knot range continues linearly, as mgcv's does.

use ndarray::Array2;

use super::ps::{bspline_derivatives, PsBasis};
use super::registry::{Basis, Built, ClassArgs, ClassEntry};
use super::size::spline_bounds;
use crate::error::{EngineError, Result};

/// `bs = "bs"`.
pub const BS: ClassEntry =
    ClassEntry { name: "bs", margin: true, values_parameterized: false, build: build_bs, bounds: spline_bounds };

/// The degree and penalty orders of `m` (mgcv's defaults: `c(3, 2)`; one value `m1`
/// means `c(m1, max(0, m1 - 1))`).
fn orders(m: &[usize]) -> (usize, Vec<usize>) {
    match m {
        [] => (3, vec![2]),
        [m1] => (*m1, vec![m1.saturating_sub(1)]),
        [m1, rest @ ..] => (*m1, rest.to_vec()),
    }
}

fn build_bs(a: &ClassArgs<'_>) -> Result<Built> {
    a.check_scale(3)?;
    let (degree, derivs) = orders(a.m);
    let k = a.k.unwrap_or(10.max(degree));
    let bad = |reason: String| EngineError::BadBasisDimension { term: a.label.to_string(), k, reason };
    if degree == 0 {
        return Err(EngineError::InvalidSpec {
            what: format!("`{}`: a B-spline of degree 0 is not built natively", a.label),
        });
    }
    if k <= degree {
        return Err(bad(format!("a B-spline basis of degree {degree} needs k >= {}", degree + 1)));
    }
    if let Some(d) = derivs.iter().find(|&&d| d > degree) {
        return Err(EngineError::InvalidSpec {
            what: format!("`{}`: a penalty on derivative {d} of a degree-{degree} B-spline is zero", a.label),
        });
    }
    let mut sorted = derivs.clone();
    sorted.sort_unstable();
    sorted.dedup();
    if sorted.len() < derivs.len() {
        return Err(EngineError::InvalidSpec {
            what: format!("`{}`: each derivative order in `m` may be penalized once", a.label),
        });
    }
    let basis = PsBasis::on_data(a.label, a.one_covariate("bs")?, k, degree - 1, a.knots)?;
    let penalties = derivs.iter().map(|&d| derivative_penalty(&basis, d)).collect();
    Ok(Built { basis: Basis::Ps(basis), penalties, raw: None })
}

/// `int (f^(d))^2` over the interior knot range as a matrix in the coefficients.
fn derivative_penalty(basis: &PsBasis, d: usize) -> Array2<f64> {
    let order = basis.m1 + 2;
    let k = basis.ncoef();
    let (nodes, weights) = gauss_legendre(order - d);
    let mut s = Array2::zeros((k, k));
    for w in basis.knots[order - 1..=k].windows(2) {
        let (half, mid) = ((w[1] - w[0]) / 2.0, (w[1] + w[0]) / 2.0);
        if !(half > 0.0) {
            continue;
        }
        for (z, wt) in nodes.iter().zip(&weights) {
            let v = bspline_derivatives(&basis.knots, order, d, mid + half * z);
            // Only the `order` B-splines of this interval are non-zero.
            let nz: Vec<usize> = (0..k).filter(|&j| v[j] != 0.0).collect();
            for &i in &nz {
                for &j in &nz {
                    s[(i, j)] += wt * half * v[i] * v[j];
                }
            }
        }
    }
    s
}

/// The `q`-point Gauss-Legendre rule on [-1, 1] (exact for polynomials of degree
/// `2q - 1`): nodes by Newton's method on the Legendre polynomial `P_q`, from the
/// Chebyshev-like starts of Abramowitz & Stegun (1964, 22.16.6), and weights
/// `2 / ((1 - x^2) P_q'(x)^2)` (25.4.29).
fn gauss_legendre(q: usize) -> (Vec<f64>, Vec<f64>) {
    let (mut nodes, mut weights) = (Vec::with_capacity(q), Vec::with_capacity(q));
    for i in 0..q {
        let mut x = (std::f64::consts::PI * (i as f64 + 0.75) / (q as f64 + 0.5)).cos();
        let mut slope = 1.0;
        for _ in 0..100 {
            // P_q(x) and P_q'(x) by the three-term recurrence.
            let (mut p0, mut p1) = (1.0, x);
            for n in 2..=q {
                let p2 = ((2 * n - 1) as f64 * x * p1 - (n - 1) as f64 * p0) / n as f64;
                (p0, p1) = (p1, p2);
            }
            // P_q' = q (x P_q - P_{q-1}) / (x^2 - 1).
            slope = q as f64 * (x * p1 - p0) / (x * x - 1.0);
            let step = p1 / slope;
            x -= step;
            if step.abs() < 1e-15 {
                break;
            }
        }
        nodes.push(x);
        weights.push(2.0 / ((1.0 - x * x) * slope * slope));
    }
    (nodes, weights)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gauss_legendre_integrates_polynomials_exactly() {
        for q in 1..8 {
            let (x, w) = gauss_legendre(q);
            for p in 0..2 * q {
                let got: f64 = x.iter().zip(&w).map(|(x, w)| w * x.powi(p as i32)).sum();
                let want = if p % 2 == 1 { 0.0 } else { 2.0 / (p + 1) as f64 };
                assert!((got - want).abs() < 1e-13, "q = {q}, power {p}: {got} vs {want}");
            }
        }
    }

    /// The penalty against the integral by a fine midpoint rule on the function of
    /// some coefficients, and its null space: polynomials of degree below `d`.
    #[test]
    fn penalty_is_the_integrated_squared_derivative() {
        let x: Vec<f64> = (0..100).map(|i| i as f64 / 99.0).collect();
        let basis = PsBasis::on_data("s(x)", &x, 12, 2, None).unwrap();
        let beta: Vec<f64> = (0..12).map(|j| ((j * 7) % 5) as f64 - 2.0).collect();
        for d in 0..=3 {
            let s = derivative_penalty(&basis, d);
            let quad: f64 =
                beta.iter().enumerate().map(|(i, a)| (0..12).map(|j| a * s[(i, j)] * beta[j]).sum::<f64>()).sum();
            // Midpoint rule inside each knot interval, where the derivative is smooth.
            let cells = 20_000;
            let fine: f64 = basis.knots[3..=12]
                .windows(2)
                .flat_map(|w| {
                    let h = (w[1] - w[0]) / cells as f64;
                    (0..cells).map(move |c| (w[0] + (c as f64 + 0.5) * h, h))
                })
                .map(|(at, h)| {
                    let v = bspline_derivatives(&basis.knots, 4, d, at);
                    let f: f64 = v.iter().zip(&beta).map(|(a, b)| a * b).sum();
                    f * f * h
                })
                .sum();
            assert!((quad - fine).abs() < 1e-6 * fine.max(1.0), "d = {d}: {quad} vs {fine}");
            assert_eq!(crate::basis::penalty_rank(&s), 12 - d, "d = {d}");
        }
    }

    #[test]
    fn orders_follow_mgcv_defaults() {
        assert_eq!(orders(&[]), (3, vec![2]));
        assert_eq!(orders(&[2]), (2, vec![1]));
        assert_eq!(orders(&[3, 2, 1]), (3, vec![2, 1]));
    }
}
