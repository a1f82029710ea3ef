//! The influence matrix `F = (X'WX + S_lambda)^-1 X'WX` of a penalized fit and what a
//! fit reports from it (Wood 2017 §6.1.2, §6.10): the effective degrees of freedom
//! per coefficient `diag(F)`, the alternative `edf1 = diag(2F - FF)` behind the term
//! tests and AIC, and the frequentist covariance `Ve = F Vp`.

use ndarray::{Array2, ArrayView2};

use crate::linalg;

pub struct Influence {
    pub f: Array2<f64>,
    pub edf: Vec<f64>,
    pub edf1: Vec<f64>,
}

impl Influence {
    /// From `H^-1` and `X'WX` (with `diagonal_block`, a block of `X'WX` that is a
    /// diagonal matrix: a wide random effect); the products on `threads` threads.
    pub fn new(
        h_inv: &Array2<f64>,
        xtwx: &Array2<f64>,
        diagonal_block: Option<std::ops::Range<usize>>,
        threads: usize,
    ) -> Influence {
        let f = match diagonal_block {
            Some(block) => linalg::matmul_bordered(h_inv, xtwx, block, threads),
            None => linalg::matmul(h_inv.view(), xtwx.view(), threads),
        };
        let edf: Vec<f64> = f.diag().to_vec();
        // Only the diagonal of FF is needed: p^2 work instead of p^3.
        let ff = linalg::diag_of_product(f.view(), f.view());
        let edf1 = edf.iter().zip(&ff).map(|(e, d)| 2.0 * e - d).collect();
        Influence { f, edf, edf1 }
    }

    /// Total edf, `tr(F)`.
    pub fn tau(&self) -> f64 {
        self.edf.iter().sum()
    }

    /// `Ve = F Vp`.
    pub fn frequentist_covariance(&self, vp: ArrayView2<'_, f64>, threads: usize) -> Array2<f64> {
        linalg::matmul(self.f.view(), vp, threads)
    }
}
