//! A term whose basis is built elsewhere: a class warmgam has no native code for
//! (a user's own `smooth.construct` method, `t2()`, any class mgcv adds) is built by
//! mgcv's `smoothCon()` in the R layer, and handed over as its model matrix on the
//! data (mgcv's constraint absorbed) with its penalties (mgcv's scaling). The
//! engine fits it as any penalized block. Its one covariate is the row number, so a
//! pass over the data reads its rows; predictions at new data are mgcv's
//! (`PredictMat()`), made in R. It is rebuilt from the data, never from a stored
//! state (the matrix is data, as large as the data).

use std::sync::Arc;

use ndarray::Array2;

use super::registry::RawBasis;
use super::state::{Fields, State};
use crate::error::Result;

#[derive(Debug, Clone)]
pub struct GivenBasis {
    /// The model matrix on the data, `n x k`.
    x: Arc<Array2<f64>>,
}

impl GivenBasis {
    pub fn new(x: Array2<f64>) -> GivenBasis {
        GivenBasis { x: Arc::new(x) }
    }
}

impl RawBasis for GivenBasis {
    const STORED: &'static [&'static str] = &["mgcv"];

    fn class(&self) -> &'static str {
        "mgcv"
    }

    fn n_vars(&self) -> Option<usize> {
        Some(1)
    }

    fn width(&self) -> usize {
        self.x.ncols()
    }

    /// `vars[0]` holds row numbers of the data.
    fn fill_raw(&self, vars: &[&[f64]], out: &mut [f64]) {
        let k = self.width();
        for (row, &at) in out.chunks_exact_mut(k).zip(vars[0]) {
            let i = at as usize;
            for (j, o) in row.iter_mut().enumerate() {
                *o = self.x[(i, j)];
            }
        }
    }

    fn write_state(&self, _: &mut State) {}

    fn read_state(f: &Fields<'_>, _: &str) -> Result<Self> {
        Err(f.bad("a term built by mgcv is rebuilt from the data, not from a stored state"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::basis::{construct, Given, Kind, SmoothSpec};

    /// A given term keeps its matrix and penalties as they are, reads its rows by
    /// number, and is not rebuilt from a state.
    #[test]
    fn a_given_term_is_its_matrix_and_penalties() {
        let n = 50;
        let x = Array2::from_shape_fn((n, 3), |(i, j)| (i as f64 / n as f64).powi(j as i32 + 1));
        let s = Array2::from_diag(&ndarray::arr1(&[1.0, 2.0, 0.0]));
        let rows: Vec<f64> = (0..n).map(|i| i as f64).collect();
        let spec = SmoothSpec {
            kind: Kind::Given,
            centre: false,
            given: Some(Given { x: x.clone(), penalties: vec![s.clone()] }),
            ..SmoothSpec::for_tests("s(x)", "cr", 3, vec![rows])
        };
        let sm = construct(&spec).unwrap();
        assert_eq!((sm.ncoef(), sm.rank, sm.null_space_dim), (3, 2, 1));
        assert_eq!(sm.penalties, vec![s]);
        let picked = [7.0, 0.0, 49.0];
        let got = sm.predict_matrix(&[&picked], None);
        for (r, &i) in picked.iter().enumerate() {
            assert_eq!(got.row(r), x.row(i as usize));
        }
        assert!(crate::basis::Smooth::from_state("s(x)", "mgcv", &sm.state()).is_err());
    }
}
