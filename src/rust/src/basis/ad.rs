//! Adaptive smoothers (`bs = "ad"`; Wood 2017, §5.3.5, and mgcv's
//! `smooth.construct.ad.smooth.spec`): a spline whose wiggliness penalty varies over
//! the covariate, the weight itself a smooth function with coefficients of its own.
//!
//! One covariate: a P-spline (or `cr`, `cc`, `cp`) basis of `nk` coefficients, and
//! the penalty `sum_r w(r) (D b)_r^2` on its second differences `D b`, with the weight
//! `w = sum_i lambda_i v_i` in a small basis `v_1 .. v_kp` over the difference index
//! (a P-spline of `kp` functions at `r / nk`). The penalty is linear in the `lambda_i`,
//! so the term is an ordinary multi-penalty smooth: `S_i = D' diag(v_i) D`, one
//! smoothing parameter each. `kp = 1` keeps the base basis's own penalty.
//!
//! Two covariates: a tensor product of P-splines (`np = FALSE`), penalized by the
//! second differences along the coefficient grid's two directions and the mixed one
//! (scaled by `sqrt(1/8)`, as mgcv's `D2`), each weighted by a tensor product P-spline
//! of `kp1 x kp2` functions over the grid.
//!
//! The fitted basis is the base's own, so it is stored, predicted and drawn as one.

use ndarray::Array2;

use super::cp::CpBasis;
use super::ps::PsBasis;
use super::registry::{Basis, Built};
use super::tensor::{Margin, MarginSpec, TensorBasis};
use crate::error::{EngineError, Result};

/// The basis and penalties of `s(.., bs = "ad", m = kp)` with its base basis (one
/// covariate) or the two margins of its tensor product (two) in `margins`.
pub fn construct(
    label: &str,
    vars: &[&[f64]],
    margins: &[MarginSpec],
    m: &[usize],
) -> Result<(Basis, Vec<Array2<f64>>)> {
    match (vars, margins) {
        ([x], [base]) => one_covariate(label, x, base, m),
        ([x, z], [mx, mz]) => two_covariates(label, [x, z], [mx, mz], m),
        _ => Err(EngineError::InvalidSpec {
            what: format!("`{label}`: the adaptive smooth class is limited to 1 or 2 covariates"),
        }),
    }
}

fn too_large(label: &str) -> EngineError {
    EngineError::InvalidSpec {
        what: format!("`{label}`: the penalty basis (`m`) is too large for the smoothing basis (`k`); lower `m`"),
    }
}

fn one_covariate(label: &str, x: &[f64], base: &MarginSpec, m: &[usize]) -> Result<(Basis, Vec<Array2<f64>>)> {
    let Built { basis, penalties: own, .. } = base.build(label, &[x])?;
    let nk = basis.width();
    let kp = m.first().copied().unwrap_or(5);
    if kp + 2 >= nk {
        return Err(too_large(label));
    }
    if kp <= 1 {
        return Ok((basis, own));
    }
    // The weight basis over the difference index, at `r / nk` for r = 1 .. nk - 2.
    let at: Vec<f64> = (1..=nk - 2).map(|r| r as f64 / nk as f64).collect();
    let weights = if kp == 2 {
        Array2::from_shape_fn((at.len(), 2), |(r, j)| if j == 0 { 1.0 } else { at[r] })
    } else {
        // Quadratic B-splines for three functions, cubic for more; cyclic ones when the
        // base is cyclic.
        let order = if kp == 3 { 1 } else { 2 };
        let w = if matches!(base.class.name, "cc" | "cp") {
            Basis::Cp(CpBasis::construct(label, &at, kp, order, order, None)?.0)
        } else {
            Basis::Ps(PsBasis::on_data(label, &at, kp, order, None)?)
        };
        w.matrix(&[&at])
    };
    let diffs: Vec<Difference> =
        (0..nk - 2).map(|r| Difference { terms: vec![(r, 1.0), (r + 1, -2.0), (r + 2, 1.0)], at: (r, 0) }).collect();
    let penalties = (0..kp).map(|i| weighted_penalty(nk, &diffs, |d| weights[(d.at.0, i)])).collect();
    Ok((basis, penalties))
}

fn two_covariates(
    label: &str,
    vars: [&[f64]; 2],
    specs: [&MarginSpec; 2],
    m: &[usize],
) -> Result<(Basis, Vec<Array2<f64>>)> {
    let mut margins = Vec::with_capacity(2);
    for (spec, x) in specs.iter().zip(vars) {
        let basis = spec.build(label, &[x])?.basis;
        margins.push(Margin { basis, dim: 1, constraint: None, reparam: None });
    }
    let (ni, nj) = (margins[0].width(), margins[1].width());
    let basis = Basis::Tensor(TensorBasis { margins, interaction: false });
    let kp = match m {
        [] => [3, 3],
        [a] => [*a, *a],
        [a, b, ..] => [*a, *b],
    };
    let total = kp[0] * kp[1];
    if total > ni.saturating_sub(2) * nj.saturating_sub(2) {
        return Err(too_large(label));
    }
    let diffs = grid_differences(ni, nj);
    if total == 1 {
        return Ok((basis, vec![weighted_penalty(ni * nj, &diffs, |_| 1.0)]));
    }
    if kp.iter().any(|&p| p < 2) {
        // (mgcv stops here too: with three weight functions it fails on an undefined
        // object, with fewer than two in a direction it says the basis is too small.)
        return Err(EngineError::InvalidSpec {
            what: format!("`{label}`: the penalty basis (`m`) of a two-covariate adaptive smooth needs at least 2 functions per covariate"),
        });
    }
    // The weight basis: a tensor product of P-splines over the coefficient grid's
    // indices (1-based, as mgcv's), quadratic or linear B-splines. mgcv builds it
    // with `te()`, which takes a margin of fewer than 3 functions for a mistake and
    // gives both margins 5; the penalties then use the first `kp1 kp2` products.
    let order = (kp[0].min(kp[1]) - 2).min(1);
    let kp = if kp.iter().any(|&p| p < 3) { [5, 5] } else { kp };
    // Each margin's functions at its grid indices (the knots depend on their range
    // only); column `a kp2 + b` of the product is `a` of the first times `b` of the
    // second.
    let on_grid = |n: usize, p: usize| -> Result<Array2<f64>> {
        let at: Vec<f64> = (1..=n).map(|v| v as f64).collect();
        Ok(Basis::Ps(PsBasis::on_data(label, &at, p, order, None)?).matrix(&[&at]))
    };
    let (wi, wj) = (on_grid(ni, kp[0])?, on_grid(nj, kp[1])?);
    let penalties = (0..total)
        .map(|i| weighted_penalty(ni * nj, &diffs, |d| wi[(d.at.0, i / kp[1])] * wj[(d.at.1, i % kp[1])]))
        .collect();
    Ok((basis, penalties))
}

/// One row of a difference operator: its non-zero coefficients, and the grid point
/// (row, column; 0-based) its weight is evaluated at.
struct Difference {
    terms: Vec<(usize, f64)>,
    at: (usize, usize),
}

/// The second differences of coefficients on an `ni x nj` grid (coefficient `r + c
/// ni`), along the rows, along the columns, and the mixed ones, as mgcv's `D2`.
fn grid_differences(ni: usize, nj: usize) -> Vec<Difference> {
    let idx = |r: usize, c: usize| r + c * ni;
    let mut rr = Vec::new();
    for c in 0..nj {
        for r in 1..ni - 1 {
            rr.push(Difference {
                terms: vec![(idx(r, c), -2.0), (idx(r - 1, c), 1.0), (idx(r + 1, c), 1.0)],
                at: (r, c),
            });
        }
    }
    let mut cc = Vec::new();
    for c in 1..nj - 1 {
        for r in 0..ni {
            cc.push(Difference {
                terms: vec![(idx(r, c), -2.0), (idx(r, c - 1), 1.0), (idx(r, c + 1), 1.0)],
                at: (r, c),
            });
        }
    }
    let h = 0.125f64.sqrt();
    let mut cr = Vec::new();
    for c in 1..nj - 1 {
        for r in 1..ni - 1 {
            let terms =
                vec![(idx(r - 1, c - 1), h), (idx(r + 1, c + 1), h), (idx(r - 1, c + 1), -h), (idx(r + 1, c - 1), -h)];
            cr.push(Difference { terms, at: (r, c) });
        }
    }
    rr.into_iter().chain(cc).chain(cr).collect()
}

/// `sum_r w(d_r) d_r d_r'` over the rows `d_r` of a difference operator.
fn weighted_penalty(k: usize, diffs: &[Difference], w: impl Fn(&Difference) -> f64) -> Array2<f64> {
    let mut s = Array2::zeros((k, k));
    for d in diffs {
        let wd = w(d);
        for &(a, va) in &d.terms {
            for &(b, vb) in &d.terms {
                s[(a, b)] += wd * va * vb;
            }
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn covariates() -> (Vec<f64>, Vec<f64>) {
        let x = (0..400).map(|i| ((i * 37) % 400) as f64 / 399.0).collect();
        let z = (0..400).map(|i| ((i * 91) % 400) as f64 / 399.0).collect();
        (x, z)
    }

    fn max_abs_diff(a: &Array2<f64>, b: &Array2<f64>) -> f64 {
        a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, f64::max)
    }

    /// B-spline weights sum to one at every difference, so the adaptive penalties add
    /// up to the unweighted one (all smoothing parameters equal: an ordinary P-spline).
    #[test]
    fn penalties_add_up_to_the_unweighted_penalty() {
        let (x, z) = covariates();
        let ps = MarginSpec::for_tests("ps", 12, 1);
        for kp in [3, 5, 7] {
            let (basis, pens) = construct("s(x)", &[&x], std::slice::from_ref(&ps), &[kp]).unwrap();
            assert_eq!((basis.width(), pens.len()), (12, kp));
            let (_, unweighted) = construct("s(x)", &[&x], std::slice::from_ref(&ps), &[1]).unwrap();
            let sum = pens.iter().skip(1).fold(pens[0].clone(), |a, s| a + s);
            // (The base's own penalty is the same second-difference penalty.)
            assert!(max_abs_diff(&sum, &unweighted[0]) < 1e-12, "kp = {kp}");
        }
        let margin = MarginSpec::for_tests("ps", 8, 1);
        let margins = [margin.clone(), margin];
        let (_, plain) = construct("s(x,z)", &[&x, &z], &margins, &[1]).unwrap();
        let (basis, pens) = construct("s(x,z)", &[&x, &z], &margins, &[3, 4]).unwrap();
        assert_eq!((basis.width(), pens.len(), plain.len()), (64, 12, 1));
        let sum = pens.iter().skip(1).fold(pens[0].clone(), |a, s| a + s);
        assert!(max_abs_diff(&sum, &plain[0]) < 1e-12);
    }

    /// A penalty is zero where its weight function is: the first of five cubic
    /// B-splines over the differences does not reach the last coefficients.
    #[test]
    fn each_penalty_acts_where_its_weight_does() {
        let (x, _) = covariates();
        let ps = MarginSpec::for_tests("ps", 40, 1);
        let (_, pens) = construct("s(x)", &[&x], &[ps], &[5]).unwrap();
        let first = &pens[0];
        assert!(first[(0, 0)] > 0.0);
        assert!(first.row(39).iter().all(|v| *v == 0.0));
        assert!(pens[4].row(0).iter().all(|v| *v == 0.0));
    }

    #[test]
    fn too_large_a_penalty_basis_is_refused() {
        let (x, _) = covariates();
        let ps = MarginSpec::for_tests("ps", 8, 1);
        let err = construct("s(x)", &[&x], &[ps], &[6]).unwrap_err().to_string();
        assert!(err.contains("too large"), "{err}");
    }
}
