//! Simple random effects (`bs = "re"`, Wood 2017 §5.8; mgcv's `smooth.construct.re`):
//! one coefficient per level of a grouping factor, the columns its indicators (times
//! a covariate, for random slopes), and the identity as penalty, so that the
//! coefficients are shrunk as i.i.d. normal effects with variance `scale / lambda`.
//! The term has no null space and needs no identifiability constraint.

use ndarray::Array2;

use super::registry::{Basis, Built, ClassArgs, ClassEntry, RawBasis, SizeArgs};
use super::size::dense_state;
use super::state::{Fields, State};
use crate::error::{EngineError, Result};

#[derive(Debug, Clone)]
pub struct ReBasis {
    pub levels: usize,
}

impl ReBasis {
    /// `codes`: each row's level, 1 to `levels` (0 for a level not seen in fitting,
    /// which predicts no effect). `slope`: the covariate of random slopes, if any.
    pub fn construct(label: &str, codes: &[f64], levels: usize) -> Result<(ReBasis, Array2<f64>)> {
        if levels == 0 {
            return Err(EngineError::InvalidSpec {
                what: format!("`{label}`: a random effect needs at least one level"),
            });
        }
        if codes.iter().any(|c| *c < 1.0 || *c > levels as f64 || c.fract() != 0.0) {
            return Err(EngineError::InvalidSpec {
                what: format!("`{label}`: level codes must be whole numbers from 1 to {levels}"),
            });
        }
        Ok((ReBasis { levels }, Array2::eye(levels)))
    }

    /// The basis at `codes` (times `slope`), row-major into `out` (`codes.len()` rows
    /// of `levels`).
    fn fill_codes(&self, codes: &[f64], slope: Option<&[f64]>, out: &mut [f64]) {
        for (r, row) in out.chunks_exact_mut(self.levels).enumerate() {
            row.fill(0.0);
            let code = codes[r];
            if code >= 1.0 && code <= self.levels as f64 {
                row[code as usize - 1] = slope.map_or(1.0, |s| s[r]);
            }
        }
    }

    /// Adds `diag(by) X beta` to `out` without forming `X`.
    fn dot_codes(&self, codes: &[f64], slope: Option<&[f64]>, beta: &[f64], by: Option<&[f64]>, out: &mut [f64]) {
        for (r, o) in out.iter_mut().enumerate() {
            let code = codes[r];
            if code >= 1.0 && code <= self.levels as f64 {
                let v = beta[code as usize - 1] * slope.map_or(1.0, |s| s[r]);
                *o += by.map_or(v, |b| v * b[r]);
            }
        }
    }
}

impl RawBasis for ReBasis {
    const STORED: &'static [&'static str] = &["re"];

    fn class(&self) -> &'static str {
        "re"
    }

    /// The level codes, then any random-slope covariate.
    fn n_vars(&self) -> Option<usize> {
        None
    }

    fn width(&self) -> usize {
        self.levels
    }

    fn fill_raw(&self, vars: &[&[f64]], out: &mut [f64]) {
        self.fill_codes(vars[0], vars.get(1).copied(), out)
    }

    fn dot(&self, vars: &[&[f64]], beta: &[f64], by: Option<&[f64]>, out: &mut [f64]) {
        self.dot_codes(vars[0], vars.get(1).copied(), beta, by, out)
    }

    fn write_state(&self, st: &mut State) {
        st.insert("levels".into(), vec![self.levels as f64]);
    }

    fn read_state(f: &Fields<'_>, _: &str) -> Result<ReBasis> {
        Ok(ReBasis { levels: f.count("levels")?.max(1) })
    }
}

/// `bs = "re"`: `k` is the number of levels (the R layer counts them).
pub const RE: ClassEntry =
    ClassEntry { name: "re", margin: false, values_parameterized: false, build: build_re, bounds: re_bounds };

fn build_re(a: &ClassArgs<'_>) -> Result<Built> {
    let levels = a
        .k
        .ok_or_else(|| EngineError::InvalidSpec { what: format!("`{}`: the number of levels is missing", a.label) })?;
    let (b, penalty) = ReBasis::construct(a.label, a.vars[0], levels)?;
    Ok(Built::one(Basis::Re(b), penalty, None))
}

/// One column and one stored number per level.
fn re_bounds(a: &SizeArgs<'_>) -> (usize, usize) {
    let levels = a.k.unwrap_or(a.rows);
    (levels, levels + dense_state(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn indicators_and_slopes() {
        let (b, s) = ReBasis::construct("s(g)", &[1.0, 3.0, 2.0], 3).unwrap();
        assert_eq!(s, Array2::<f64>::eye(3));
        let mut out = vec![9.0; 12];
        b.fill_codes(&[1.0, 3.0, 0.0, 2.0], Some(&[2.0, 3.0, 4.0, 5.0]), &mut out);
        assert_eq!(out, vec![2.0, 0.0, 0.0, 0.0, 0.0, 3.0, 0.0, 0.0, 0.0, 0.0, 5.0, 0.0]);
        let mut fitted = vec![1.0; 4];
        b.dot_codes(&[1.0, 3.0, 0.0, 2.0], None, &[10.0, 20.0, 30.0], None, &mut fitted);
        assert_eq!(fitted, vec![11.0, 31.0, 1.0, 21.0]);
        assert!(ReBasis::construct("s(g)", &[4.0], 3).is_err());
    }
}
