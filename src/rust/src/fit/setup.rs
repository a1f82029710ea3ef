//! The model set up but not fitted (mgcv's `gam(fit = FALSE)`): the smooth terms
//! built on the data, the whole model matrix and the penalties, for users who inspect
//! or reuse them, and for the R layer's search for aliased parametric columns when a
//! fit finds the model not identifiable.

use ndarray::Array2;

use super::design::{design, Design};
use super::passes::model_matrix;
use super::rows::Layout;
use super::size::check_dense;
use super::spec::{validate, ModelSpec};
use crate::error::Result;

pub struct Setup<'a> {
    pub design: Design<'a>,
    /// Every column of the model matrix, `n x p`.
    pub x: Array2<f64>,
}

pub fn setup<'a>(spec: &'a ModelSpec<'_>, interrupted: &mut dyn FnMut() -> bool) -> Result<Setup<'a>> {
    validate(spec)?;
    check_dense("the model matrix", spec.y.len(), spec.max_columns())?;
    let design = design(spec)?;
    let x = model_matrix(&design, &Layout::dense(&design), spec.threads, interrupted)?;
    Ok(Setup { design, x })
}
