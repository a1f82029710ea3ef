//! The smoothing parameters a model is given rather than estimates: the model's
//! `sp` (mgcv's `gam(sp =)`), a parametric penalty's and a term's own (which
//! override the model's), and mgcv's `min.sp`, a fixed part of every multiplier
//! (`PenaltySet::totals`).

use crate::error::{EngineError, Result};

use super::design::Design;
use super::penalty::PenaltySet;
use super::spec::ModelSpec;

/// For each of the `m` smoothing parameters, `Some(log value)` when it is given;
/// sets `penalties`' fixed parts from `min.sp`. `links` maps each penalty to its
/// smoothing parameter.
pub(super) fn given_parameters(
    spec: &ModelSpec<'_>,
    design: &Design<'_>,
    links: &[usize],
    m: usize,
    penalties: &mut PenaltySet,
) -> Result<Vec<Option<f64>>> {
    let mut fixed: Vec<Option<f64>> = if spec.sp.is_empty() {
        vec![None; m]
    } else if spec.sp.len() == m {
        spec.sp.iter().map(|v| v.map(|l| l.max(f64::MIN_POSITIVE).ln())).collect()
    } else {
        return Err(EngineError::InvalidSpec {
            what: format!("sp has {} entries but the model has {m} smoothing parameters", spec.sp.len()),
        });
    };
    if !spec.min_sp.is_empty() {
        if spec.min_sp.len() != m || !spec.min_sp.iter().all(|v| v.is_finite() && *v >= 0.0) {
            return Err(EngineError::InvalidSpec {
                what: format!("min.sp must hold {m} finite non-negative values, one per smoothing parameter"),
            });
        }
        penalties.set_floor(links.iter().map(|&l| spec.min_sp[l]).collect());
    }
    // A parametric penalty's given `sp`, and a term's own, override the model's.
    for (q, pen) in spec.parametric_penalties.iter().enumerate() {
        if let Some(v) = pen.sp {
            fixed[links[q]] = Some(v.max(f64::MIN_POSITIVE).ln());
        }
    }
    let mut first_penalty = spec.parametric_penalties.len();
    for (sm, sm_spec) in design.smooths.iter().zip(&spec.smooths) {
        let count = sm.penalties().count();
        if !sm_spec.sp.is_empty() {
            if sm_spec.sp.len() != count {
                return Err(EngineError::InvalidSpec {
                    what: format!(
                        "`sp` of `{}` has {} entries but the term has {count} smoothing parameters",
                        sm.label,
                        sm_spec.sp.len()
                    ),
                });
            }
            for (q, sp) in sm_spec.sp.iter().enumerate() {
                if let Some(v) = sp {
                    fixed[links[first_penalty + q]] = Some(v.max(f64::MIN_POSITIVE).ln());
                }
            }
        }
        first_penalty += count;
    }
    Ok(fixed)
}
