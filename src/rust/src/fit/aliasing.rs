//! Aliased directions: a model whose unpenalized directions (its parametric columns
//! and each smooth term's penalty null space, all of a term with no penalty) are
//! linearly dependent on the data is not identifiable, whatever the smoothing
//! parameters. Left alone, such a model's penalized system is singular only in
//! exact arithmetic: rounding makes it barely positive definite and the fit returns
//! coefficients and standard errors of no meaning. Found from `X'WX` (formed by the
//! fit anyway), and reported, so that the R layer can find the aliased parametric
//! columns exactly (a pivoted QR of the model matrix, `R/setup.R`) and fix them at
//! zero as mgcv does.

use ndarray::Array2;

use super::design::Design;
use crate::error::{EngineError, Result};
use crate::linalg;

/// Below this, the smallest eigenvalue of the unpenalized directions' `X'WX` scaled
/// to a unit diagonal (a correlation matrix) counts as a dependence: the `R` factor's
/// smallest relative diagonal would be under 1e-5. An exactly aliased model gives
/// ~1e-15.
const DEPENDENT: f64 = 1e-10;

/// Refuses, as not identifiable, a model whose unpenalized directions are dependent.
pub fn check_unpenalized(design: &Design<'_>, xtwx: &Array2<f64>) -> Result<()> {
    let t = unpenalized_directions(design);
    let q = t.ncols();
    if q == 0 {
        return Ok(());
    }
    let g = t.t().dot(&xtwx.dot(&t));
    let diag: Vec<f64> = (0..q).map(|j| g[(j, j)]).collect();
    let top = diag.iter().fold(0.0_f64, |a, v| a.max(*v));
    let zero = diag.iter().position(|d| *d <= top * f64::EPSILON);
    let smallest = match zero {
        Some(_) => 0.0,
        None => {
            let scaled = Array2::from_shape_fn((q, q), |(a, b)| g[(a, b)] / (diag[a] * diag[b]).sqrt());
            linalg::sym_eigenvalues(scaled.view()).into_iter().fold(f64::INFINITY, f64::min)
        }
    };
    if smallest < DEPENDENT {
        return Err(EngineError::NotIdentifiable {
            detail: "unpenalized directions are aliased (parametric columns, or smooth terms' unpenalized parts, \
                     that others already span)"
                .into(),
        });
    }
    Ok(())
}

/// The unpenalized directions as columns of a `p x q` matrix: each unpenalized
/// parametric column's unit vector, the null-space basis of each penalized block of
/// columns (a smooth term's, or parametric columns under `paraPen`), and every
/// column of a smooth without penalties.
fn unpenalized_directions(design: &Design<'_>) -> Array2<f64> {
    let p = design.ncols();
    let p0 = design.xp.ncols();
    let mut columns: Vec<Vec<(usize, f64)>> = Vec::new();
    // Blocks of columns with the penalties on them: `(first, width, penalties)`.
    let mut blocks: Vec<(usize, usize, Vec<&Array2<f64>>)> = Vec::new();
    for pen in design.parametric {
        let width = pen.s.nrows();
        match blocks.iter_mut().find(|b| b.0 == pen.start && b.1 == width) {
            Some(block) => block.2.push(&pen.s),
            None => blocks.push((pen.start, width, vec![&pen.s])),
        }
    }
    let covered = |j: usize| blocks.iter().any(|b| (b.0..b.0 + b.1).contains(&j));
    columns.extend((0..p0).filter(|&j| !covered(j)).map(|j| vec![(j, 1.0)]));
    for (sm, &first) in design.smooths.iter().zip(&design.first_col) {
        blocks.push((first, sm.ncoef(), sm.penalties().collect()));
    }
    for (first, width, penalties) in blocks {
        let Some((s0, rest)) = penalties.split_first() else {
            columns.extend((0..width).map(|j| vec![(first + j, 1.0)]));
            continue;
        };
        let normalized = |s: &Array2<f64>| s / s.iter().map(|v| v * v).sum::<f64>().sqrt();
        let total = rest.iter().fold(normalized(s0), |acc, s| acc + normalized(s));
        let u0 = crate::basis::null_space(&total);
        columns.extend(u0.columns().into_iter().map(|v| (0..width).map(|r| (first + r, v[r])).collect()));
    }
    let mut t = Array2::zeros((p, columns.len()));
    for (c, col) in columns.iter().enumerate() {
        for &(r, v) in col {
            t[(r, c)] = v;
        }
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::basis::SmoothSpec;
    use crate::fit::design::design;
    use crate::fit::spec::ModelSpec;
    use ndarray::ShapeBuilder;

    /// `y ~ x + s(x)`: the smooth's null space holds `x`, so the model is refused;
    /// `y ~ z + s(x)` is not.
    #[test]
    fn a_parametric_column_in_a_null_space_is_aliased() {
        let n = 400;
        let x: Vec<f64> = (0..n).map(|i| ((i * 7919) % 997) as f64 / 997.0).collect();
        let z: Vec<f64> = (0..n).map(|i| ((i * 104_729) % 1013) as f64 / 1013.0).collect();
        let check = |second: &[f64]| {
            let xp = Array2::from_shape_fn((n, 2).f(), |(i, j)| if j == 0 { 1.0 } else { second[i] });
            let spec =
                ModelSpec::for_tests(x.clone(), xp, vec![SmoothSpec::for_tests("s(x)", "cr", 8, vec![x.clone()])]);
            let d = design(&spec).unwrap();
            let mut full = Array2::zeros((n, d.ncols()).f());
            d.fill_rows(0, n, &mut full, &mut Vec::new());
            check_unpenalized(&d, &full.t().dot(&full))
        };
        assert!(matches!(check(&x), Err(EngineError::NotIdentifiable { .. })));
        assert!(check(&z).is_ok());
        // An all-zero column (an empty factor cell) is aliased too.
        assert!(check(&vec![0.0; n]).is_err());
    }
}
