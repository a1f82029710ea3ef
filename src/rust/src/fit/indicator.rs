//! `X'WX` and `X'Wz` for a model with random-effect terms (`bs = "re"`) without
//! forming their columns.
//!
//! A random effect's columns are level indicators (times a slope and a `by`): each
//! row has one non-zero among them. Streaming them through the dense product would
//! cost `n p^2` with `p` counting every level (10^11 flops for 1000 levels at
//! n = 10^5); here only the other columns go through it, and the indicator blocks are
//! accumulated row by row: their diagonal, their cross products with each other and
//! with the dense columns, in `O(n (p_dense + terms))` (the structure mgcv's `bam`
//! exploits by discretization, Wood et al. 2017 §3, here exactly).

use ndarray::{s, Array1, Array2};

use super::Design;
use crate::basis::Basis;
use crate::error::Result;
use crate::linalg;

/// A random-effect term: its columns, level codes and row multipliers.
struct Block<'a> {
    /// First column in the model matrix, and the number of levels.
    first: usize,
    levels: usize,
    codes: &'a [f64],
    slope: Option<&'a [f64]>,
    by: Option<&'a [f64]>,
}

impl Block<'_> {
    /// Row `i`'s column within the block (0-based) and its value; `None` for a row
    /// with no level (a zero row).
    fn entry(&self, i: usize) -> Option<(usize, f64)> {
        let c = self.codes[i];
        if !(c >= 1.0 && c <= self.levels as f64) {
            return None;
        }
        let v = self.slope.map_or(1.0, |s| s[i]) * self.by.map_or(1.0, |b| b[i]);
        Some((c as usize - 1, v))
    }
}

/// Below this many levels a random effect goes through the dense product: the
/// bookkeeping would cost more than it saves.
const MIN_LEVELS: usize = 32;

/// `X'WX` and `X'Wz` with the random-effect blocks accumulated row by row; `None` when
/// the model has no random effect wide enough to be worth it.
pub fn cross_products(
    design: &Design<'_>,
    w: &[f64],
    z: &[f64],
    threads: usize,
    interrupted: &mut dyn FnMut() -> bool,
) -> Option<Result<(Array2<f64>, Array1<f64>)>> {
    // Unconstrained: each level is its own column.
    let skip: Vec<bool> =
        design.smooths.iter().map(|sm| matches!(sm.basis, Basis::Re(_)) && sm.constraint.is_none() && sm.ncoef() >= MIN_LEVELS).collect();
    if !skip.iter().any(|s| *s) {
        return None;
    }
    let blocks: Vec<Block<'_>> = (0..design.smooths.len())
        .filter(|&j| skip[j])
        .map(|j| Block {
            first: design.first_col[j],
            levels: design.smooths[j].ncoef(),
            codes: design.vars[j][0],
            slope: design.vars[j].get(1).copied(),
            by: design.by[j],
        })
        .collect();
    // The dense columns, in model-matrix order.
    let dense: Vec<usize> = (0..design.ncols()).filter(|&c| !blocks.iter().any(|b| c >= b.first && c < b.first + b.levels)).collect();
    let (p, pd) = (design.ncols(), dense.len());
    // Per block: diagonal, X_b'Wz, and X_b'W X_dense.
    let mut diag: Vec<Vec<f64>> = blocks.iter().map(|b| vec![0.0; b.levels]).collect();
    let mut xtz: Vec<Vec<f64>> = blocks.iter().map(|b| vec![0.0; b.levels]).collect();
    let mut with_dense: Vec<Array2<f64>> = blocks.iter().map(|b| Array2::zeros((b.levels, pd))).collect();
    // Between blocks a and b > a.
    let mut between: Vec<Vec<Array2<f64>>> =
        (0..blocks.len()).map(|a| (0..blocks.len()).map(|b| if b > a { Array2::zeros((blocks[a].levels, blocks[b].levels)) } else { Array2::zeros((0, 0)) }).collect()).collect();
    let mut scratch = Vec::new();
    let mut entries: Vec<Option<(usize, f64)>> = vec![None; blocks.len()];
    let mut chunks = 0usize;
    let dense_pass = linalg::cross_products_by_chunks(design.nrows(), pd, w, z, threads, |start, rows, buf| {
        chunks += 1;
        if chunks % 128 == 0 && interrupted() {
            return Err(crate::error::EngineError::Interrupted);
        }
        design.fill_rows_except(start, rows, buf, &mut scratch, &skip);
        for r in 0..rows {
            let i = start + r;
            for (e, b) in entries.iter_mut().zip(&blocks) {
                *e = b.entry(i);
            }
            for (a, e) in entries.iter().enumerate() {
                let Some((col, v)) = *e else { continue };
                let wv = w[i] * v;
                diag[a][col] += wv * v;
                xtz[a][col] += wv * z[i];
                let mut row = with_dense[a].row_mut(col);
                for (d, x) in row.iter_mut().zip(buf.row(r).iter()) {
                    *d += wv * x;
                }
                for (b, f) in entries.iter().enumerate().skip(a + 1) {
                    if let Some((col_b, vb)) = *f {
                        between[a][b][(col, col_b)] += wv * vb;
                    }
                }
            }
        }
        Ok(())
    });
    Some(dense_pass.map(|(gram_dense, xtz_dense)| {
        let mut gram = Array2::<f64>::zeros((p, p));
        let mut xtwz = Array1::<f64>::zeros(p);
        for (a, &ca) in dense.iter().enumerate() {
            xtwz[ca] = xtz_dense[a];
            for (b, &cb) in dense.iter().enumerate() {
                gram[(ca, cb)] = gram_dense[(a, b)];
            }
        }
        for (a, blk) in blocks.iter().enumerate() {
            for l in 0..blk.levels {
                let c = blk.first + l;
                gram[(c, c)] = diag[a][l];
                xtwz[c] = xtz[a][l];
                for (d, &cd) in dense.iter().enumerate() {
                    gram[(c, cd)] = with_dense[a][(l, d)];
                    gram[(cd, c)] = with_dense[a][(l, d)];
                }
            }
            for (b, other) in blocks.iter().enumerate().skip(a + 1) {
                let m = &between[a][b];
                gram.slice_mut(s![blk.first..blk.first + blk.levels, other.first..other.first + other.levels]).assign(m);
                gram.slice_mut(s![other.first..other.first + other.levels, blk.first..blk.first + blk.levels]).assign(&m.t());
            }
        }
        (gram, xtwz)
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::basis::SmoothSpec;
    use crate::fit::{design, ModelSpec};
    use ndarray::ShapeBuilder;

    /// The structured products against the dense ones, with two random-effect terms
    /// (one with slopes) and a spline.
    #[test]
    fn structured_cross_products_match_the_dense_ones() {
        let n = 3000;
        let x: Vec<f64> = (0..n).map(|i| ((i * 37) % n) as f64 / n as f64).collect();
        let g1: Vec<f64> = (0..n).map(|i| (1 + (i * 7) % 40) as f64).collect();
        let g2: Vec<f64> = (0..n).map(|i| (1 + (i * 13) % 35) as f64).collect();
        let slope: Vec<f64> = (0..n).map(|i| ((i % 17) as f64 - 8.0) / 8.0).collect();
        let spec_of = |label: &str, bs: &str, k: usize, vars: Vec<Vec<f64>>| SmoothSpec { centre: bs != "re", ..SmoothSpec::for_tests(label, bs, k, vars) };
        let xp = Array2::from_shape_fn((n, 2).f(), |(i, j)| if j == 0 { 1.0 } else { x[i] * x[i] });
        let smooths = vec![
            spec_of("s(g1)", "re", 40, vec![g1.clone()]),
            spec_of("s(x)", "cr", 8, vec![x.clone()]),
            spec_of("s(g2,slope)", "re", 35, vec![g2.clone(), slope.clone()]),
        ];
        let spec = ModelSpec::for_tests(x.clone(), xp, smooths);
        let d = design(&spec).unwrap();
        let w: Vec<f64> = (0..n).map(|i| 0.5 + (i % 5) as f64).collect();
        let z: Vec<f64> = (0..n).map(|i| (i as f64 * 0.01).sin()).collect();
        let (g, v) = cross_products(&d, &w, &z, 2, &mut || false).expect("has wide random effects").unwrap();
        let mut scratch = Vec::new();
        let (gd, vd) = linalg::cross_products_by_chunks(n, d.ncols(), &w, &z, 2, |start, rows, buf| {
            d.fill_rows(start, rows, buf, &mut scratch);
            Ok(())
        })
        .unwrap();
        let scale = gd.iter().fold(0.0_f64, |a, v| a.max(v.abs()));
        let err = (&g - &gd).iter().fold(0.0_f64, |a, v| a.max(v.abs()));
        assert!(err < 1e-12 * scale, "{err}");
        let err = (&v - &vd).iter().fold(0.0_f64, |a, v| a.max(v.abs()));
        assert!(err < 1e-10, "{err}");
    }
}
