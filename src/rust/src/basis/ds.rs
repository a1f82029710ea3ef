//! Duchon splines (`bs = "ds"`; Duchon 1977; Wood 2017 §5.8.3; mgcv's
//! `smooth.construct.ds.smooth.spec`): thin plate splines generalized by `m = c(m, s)`,
//! penalizing `m`-th derivatives in a norm weighted by `|t|^(2s)` in frequency, with
//! radial function `r^(2m + 2s - d)` (`log r` when that power is even) and the
//! polynomials of degree below `m` as null space. The low-rank basis is built exactly
//! as a thin plate regression spline's (`tp::TpBasis`), without its column scaling.

use ndarray::Array2;

use super::radial::null_space_powers;
use super::registry::{Basis, Built, ClassArgs, ClassEntry, SizeArgs};
use super::size::dense_state;
use super::tp::TpBasis;
use crate::error::{EngineError, Result};

/// `bs = "ds"`. Its `m` arrives as the class's parameters (`s` may be half an integer).
pub const DS: ClassEntry =
    ClassEntry { name: "ds", margin: false, values_parameterized: false, build: build_ds, bounds: ds_bounds };

/// mgcv's default basis dimension: the null space plus 10, 30 or 100.
fn default_k(m: usize, d: usize) -> usize {
    null_space_powers(m, d).len() + [10, 30, 100][d.clamp(1, 3) - 1]
}

fn build_ds(a: &ClassArgs<'_>) -> Result<Built> {
    let d = a.vars.len();
    let m = a.parameters.first().copied().unwrap_or(2.0);
    let s = a.parameters.get(1).copied().unwrap_or(0.0);
    // mgcv's conditions (its R layer adjusts `s` into them): a continuous function
    // (2m + 2s > d) with |s| < d / 2.
    let ok = m >= 1.0
        && m.fract() == 0.0
        && (2.0 * s).fract() == 0.0
        && 2.0 * s.abs() < d as f64
        && 2.0 * (m + s) > d as f64;
    if !ok {
        return Err(EngineError::InvalidSpec {
            what: format!("`{}`: a Duchon spline needs m = c(m, s) with m >= 1, |s| < d/2 and m + s > d/2", a.label),
        });
    }
    let m = m as usize;
    a.check_scale((2.0 * (m as f64 + s)).ceil() as usize)?;
    let (b, x, penalty) =
        TpBasis::construct(a.label, a.vars, a.k.unwrap_or(default_k(m, d)), Some(m), a.knots, a.threads, Some(s))?;
    Ok(Built::one(Basis::Tp(b), penalty, Some(x)))
}

/// As a thin plate spline's: the knots and the eigenbasis on them.
fn ds_bounds(a: &SizeArgs<'_>) -> (usize, usize) {
    let k = a.k.unwrap_or_else(|| default_k(2, a.dim.max(1)));
    let given = a.knots.map_or(0, |k| k.len());
    let points = if given > 0 { given / a.dim.max(1) } else { a.rows };
    (k, points * a.dim + (points + k) * k + dense_state(k) + 8)
}

/// The last `k - M` columns of `Q` in the QR factorization of `a` (`k x M`, full
/// column rank) by Householder reflections in LINPACK's convention (`dqrdc2`, R's
/// `qr()`): `H_l = I - u u' / u_l`, `u = x / (sign(x_l) |x|)` with 1 added to `u_l`.
pub(super) fn qr_complement(a: &Array2<f64>) -> Array2<f64> {
    let (k, mm) = a.dim();
    let mut x = a.clone();
    let mut reflectors: Vec<Vec<f64>> = Vec::with_capacity(mm);
    for l in 0..mm {
        let norm = (l..k).map(|i| x[(i, l)] * x[(i, l)]).sum::<f64>().sqrt();
        let mut u = vec![0.0; k];
        if norm > 0.0 {
            let signed = if x[(l, l)] < 0.0 { -norm } else { norm };
            for i in l..k {
                u[i] = x[(i, l)] / signed;
            }
            u[l] += 1.0;
            for j in l + 1..mm {
                let t = -(l..k).map(|i| u[i] * x[(i, j)]).sum::<f64>() / u[l];
                for i in l..k {
                    x[(i, j)] += t * u[i];
                }
            }
        }
        reflectors.push(u);
    }
    // Q E for E the last k - M columns of the identity: H_1 (H_2 (.. H_M E)).
    let mut q = Array2::from_shape_fn((k, k - mm), |(i, j)| if i == mm + j { 1.0 } else { 0.0 });
    for (l, u) in reflectors.iter().enumerate().rev() {
        if u[l] == 0.0 {
            continue;
        }
        for j in 0..k - mm {
            let t = (l..k).map(|i| u[i] * q[(i, j)]).sum::<f64>() / u[l];
            for i in l..k {
                q[(i, j)] -= t * u[i];
            }
        }
    }
    q
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The complement is orthonormal and orthogonal to the columns of `a`.
    #[test]
    fn qr_complement_spans_the_null_space() {
        let a = Array2::from_shape_fn((7, 3), |(i, j)| ((i * 3 + j * 5) % 7) as f64 - 2.5 + (i == j) as u8 as f64);
        let z = qr_complement(&a);
        assert_eq!(z.dim(), (7, 4));
        let ztz = z.t().dot(&z);
        let atz = a.t().dot(&z);
        for i in 0..4 {
            for j in 0..4 {
                assert!((ztz[(i, j)] - f64::from(u8::from(i == j))).abs() < 1e-12);
            }
        }
        assert!(atz.iter().all(|v| v.abs() < 1e-12));
    }
}
