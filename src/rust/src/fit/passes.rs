//! The passes over the data that build what the fit holds: `X'WX`, `X'Wz` and `z'Wz`
//! for the Gaussian problem, and the dense model matrix a generalized fit keeps. They
//! go through the row passes of `row_source` (threads, chunks, interrupt polls).

use ndarray::{s, Array2, ShapeBuilder};

use crate::error::{EngineError, Result};
use crate::linalg;

use super::design::Design;
use super::gaussian::Gram;
use super::row_source::{self, weighted_cross_products};
use super::rows;

/// The data side of the problem: `X'WX`, `X'Wz`, `z'Wz` with `z = y - offset`, in one
/// pass over the data.
pub fn gram(
    design: &Design<'_>,
    y: &[f64],
    w: &[f64],
    offset: &[f64],
    threads: usize,
    interrupted: &mut dyn FnMut() -> bool,
) -> Result<Gram> {
    let z: Vec<f64> = y.iter().zip(offset).map(|(a, b)| a - b).collect();
    let u: Vec<f64> = w.iter().zip(&z).map(|(w, z)| w * z).collect();
    // Wide random effects are accumulated from their level codes (`rows`): their
    // columns through the dense product would cost `n p^2`.
    let (xtwx, xtwy) = weighted_cross_products(design, &rows::Layout::of(design), None, w, &u, threads, interrupted)?;
    let ytwy = z.iter().zip(w).map(|(v, wi)| wi * v * v).sum();
    let positive = w.iter().filter(|v| **v > 0.0);
    let n = positive.clone().count() as f64;
    let sum_log_w = positive.map(|v| v.ln()).sum();
    Ok(Gram { xtwx, xtwy, ytwy, n, sum_log_w })
}

/// A generalized fit passes over the data several times per outer iteration: up to
/// this size the model matrix is formed once and held in memory rather than
/// evaluated from the bases on every pass.
pub const MAX_DESIGN_BYTES: usize = 1 << 30;

/// The model matrix's dense columns (`layout`), formed a chunk of rows at a time, in
/// contiguous blocks of rows over `threads` (evaluating the bases is most of a pass:
/// at 1e6 rows it took as long as two `X'WX`). Only the calling thread polls `interrupted`; it tells the
/// others to stop.
pub(super) fn model_matrix(
    design: &Design<'_>,
    layout: &rows::Layout<'_>,
    threads: usize,
    interrupted: &mut dyn FnMut() -> bool,
) -> Result<Array2<f64>> {
    use std::sync::atomic::{AtomicBool, Ordering};
    // Below this, a thread costs more than it saves.
    const ROWS_PER_THREAD: usize = 4_096;
    let (n, p) = (design.nrows(), layout.dense_width());
    let mut x = Array2::<f64>::zeros((n, p).f());
    let parts = threads.clamp(1, (n / ROWS_PER_THREAD).max(1));
    let per = n.div_ceil(parts).max(1);
    let stop = AtomicBool::new(false);
    let fill_block =
        |first: usize, mut block: ndarray::ArrayViewMut2<'_, f64>, poll: &mut dyn FnMut() -> bool| -> bool {
            let rows = block.nrows();
            let mut buf = Array2::<f64>::zeros((linalg::CHUNK_ROWS.min(rows.max(1)), p).f());
            let mut scratch = Vec::new();
            let mut at = 0;
            while at < rows {
                if poll() {
                    return false;
                }
                let len = linalg::CHUNK_ROWS.min(rows - at);
                design.fill_rows_except(first + at, len, &mut buf, &mut scratch, layout.skip());
                block.slice_mut(s![at..at + len, ..]).assign(&buf.slice(s![..len, ..]));
                at += len;
            }
            true
        };
    let completed = std::thread::scope(|scope| {
        let mut blocks = x.axis_chunks_iter_mut(ndarray::Axis(0), per).enumerate();
        let (_, own) = blocks.next().expect("at least one block");
        let workers: Vec<_> = blocks
            .map(|(t, block)| {
                let (fill_block, stop) = (&fill_block, &stop);
                scope.spawn(move || fill_block(t * per, block, &mut || stop.load(Ordering::Relaxed)))
            })
            .collect();
        let mine = fill_block(0, own, &mut row_source::signalling(interrupted, &stop));
        let theirs = workers.into_iter().all(|w| w.join().expect("a model matrix worker panicked"));
        mine && theirs
    });
    if !completed {
        return Err(EngineError::Interrupted);
    }
    Ok(x)
}
