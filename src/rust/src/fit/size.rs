//! What a model can need, known from its spec before anything is built: the most
//! coefficients it can have, the largest store entry it can make, and whether its
//! dense matrices can fit in this machine's memory at all. A failed allocation aborts
//! the R process, so a model that cannot fit is refused first, with the figures.

use crate::error::{EngineError, Result};

use super::ModelSpec;

/// Bytes of one double.
const DOUBLE: f64 = 8.0;
/// Dense `p x p` matrices a fit holds at once (`X'WX`, the penalized system's factor,
/// `Vp` and `Ve`).
const SQUARE_MATRICES: f64 = 4.0;

impl ModelSpec<'_> {
    /// At least the model's number of coefficients.
    pub fn max_columns(&self) -> usize {
        self.smooths.iter().fold(self.xp.ncols(), |a, sm| a.saturating_add(sm.size_bounds().0))
    }

    /// At least the size of any store entry of this model: its `p x p` matrices
    /// (`Vp`, `Ve`, `Vc`), per-coefficient vectors, smoothing parameters, tests and
    /// the smooths' states, with room for the encoding's own bytes.
    pub fn max_entry_bytes(&self) -> u64 {
        // Each term's bounds once: its columns and its state.
        let (mut p, mut state) = (self.xp.ncols() as u64, 0u64);
        for sm in &self.smooths {
            let (columns, values) = sm.size_bounds();
            p = p.saturating_add(columns as u64);
            state = state.saturating_add(values as u64 + 256);
        }
        let values = p.saturating_mul(p).saturating_mul(4).saturating_add(p.saturating_mul(32)).saturating_add(state);
        values.saturating_mul(9).saturating_add(1 << 16)
    }

    /// Refuses a model whose dense matrices alone exceed this machine's memory and
    /// swap (when that is known).
    pub fn check_memory(&self) -> Result<()> {
        let p = self.max_columns() as f64;
        let mut bytes = SQUARE_MATRICES * p * p * DOUBLE;
        // Each term's penalties, built at its full width before any fitting.
        for sm in &self.smooths {
            let width = sm.size_bounds().0 as f64;
            bytes += sm.max_penalties() as f64 * width * width * DOUBLE;
        }
        if !self.family.is_gaussian_identity() {
            // Generalized fits hold the model matrix.
            bytes += self.y.len() as f64 * p * DOUBLE;
        }
        match memory_bytes() {
            Some(available) if bytes > available => Err(EngineError::TooLarge {
                what: format!(
                    "{} coefficients{}",
                    p as u64,
                    if self.family.is_gaussian_identity() {
                        String::new()
                    } else {
                        format!(" on {} rows", self.y.len())
                    }
                ),
                bytes,
                available,
            }),
            _ => Ok(()),
        }
    }
}

/// Refuses a dense `rows x columns` matrix larger than this machine's memory and
/// swap (when that is known).
pub fn check_dense(what: &str, rows: usize, columns: usize) -> Result<()> {
    let bytes = rows as f64 * columns as f64 * DOUBLE;
    match memory_bytes() {
        Some(available) if bytes > available => Err(EngineError::TooLarge { what: what.to_string(), bytes, available }),
        _ => Ok(()),
    }
}

/// This machine's memory and swap, in bytes (Linux; `None` elsewhere).
fn memory_bytes() -> Option<f64> {
    let info = std::fs::read_to_string("/proc/meminfo").ok()?;
    let field = |name: &str| -> Option<f64> {
        let line = info.lines().find(|l| l.starts_with(name))?;
        line.split_whitespace().nth(1)?.parse::<f64>().ok().map(|kib| kib * 1024.0)
    };
    Some(field("MemTotal:")? + field("SwapTotal:").unwrap_or(0.0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::basis::SmoothSpec;
    use ndarray::Array2;

    /// Issue 15: `s(x, bs = "cr", k = 1e5)` at n = 2e5 aborted R allocating a `k x k`
    /// matrix (80 GB).
    #[test]
    fn a_model_beyond_memory_is_refused_before_building() {
        let n = 2000;
        let x: Vec<f64> = (0..n).map(|i| i as f64).collect();
        let huge = SmoothSpec::for_tests("s(x)", "cr", 100_000, vec![x.clone()]);
        let spec = ModelSpec::for_tests(x.clone(), Array2::ones((n, 1)), vec![huge]);
        assert!(spec.max_columns() >= 100_000);
        if memory_bytes().is_some_and(|m| m < 1e12) {
            let err = spec.check_memory().unwrap_err();
            assert!(matches!(err, EngineError::TooLarge { .. }));
            assert!(err.to_string().contains("GiB"), "{err}");
        }
        let small = ModelSpec::for_tests(
            x.clone(),
            Array2::ones((n, 1)),
            vec![SmoothSpec::for_tests("s(x)", "cr", 10, vec![x])],
        );
        assert!(small.check_memory().is_ok());
        assert!(small.max_entry_bytes() < 1 << 20);
    }

    /// A two-covariate adaptive smooth builds nine penalties as wide as itself: the
    /// estimate counts them (it counted only the fit's four square matrices).
    #[test]
    fn penalties_count_towards_memory() {
        let n = 2000;
        let x: Vec<f64> = (0..n).map(|i| i as f64).collect();
        let margin = crate::basis::tensor::MarginSpec::for_tests("ps", 300, 1);
        let ad = SmoothSpec {
            k: None,
            margins: vec![margin.clone(), margin],
            ..SmoothSpec::for_tests("te(x,z)", "ad", 0, vec![x.clone(), x.clone()])
        };
        assert_eq!(ad.max_penalties(), 9);
        let width = ad.size_bounds().0 as f64;
        let spec = ModelSpec::for_tests(x.clone(), Array2::ones((n, 1)), vec![ad]);
        if memory_bytes().is_some_and(|m| m < 1e14) {
            match spec.check_memory() {
                Err(EngineError::TooLarge { bytes, .. }) => {
                    assert!(bytes >= (SQUARE_MATRICES + 9.0) * width * width * DOUBLE)
                }
                other => panic!("not refused: {other:?}"),
            }
        }
    }
}
