//! How a pass over the data reads the model matrix's rows (`RowSource`: held in
//! memory, or formed from the bases a chunk at a time) and how it runs (`pass`: one
//! contiguous range of rows per thread, an accumulator per thread, interrupt polls
//! on the calling thread); and the pass every fit makes, `X'WX` with `X'u`.

use faer::Mat;
use ndarray::{Array1, Array2, ArrayView2, ShapeBuilder};

use super::design::Design;
use super::rows::{CrossParts, GramParts, Layout, MEMORY_CHUNK_ROWS};
use crate::error::{EngineError, Result};
use crate::linalg;

/// Where a pass's rows come from: the dense columns of the model matrix (those
/// `Layout` does not keep as level codes), a chunk of rows at a time. Every pass over
/// the data (`X'WX`, `X'v`, `X B`, the leverages' `x_i' G x_i`) reads its rows through
/// this, so another representation of the model matrix (discretized covariates as
/// in Wood et al. 2017, or row blocks read from files or reduced across workers) is
/// one more implementation, not a change to the passes.
pub trait RowSource: Sync {
    fn nrows(&self) -> usize;
    /// Rows per chunk this source is best read in.
    fn chunk_rows(&self) -> usize;
    /// Rows `start..start + len` (`len` at most `chunk_rows()`), as a view of rows
    /// held in memory or of rows formed in `work` (one per thread, reused across
    /// chunks). An error stops the pass.
    fn chunk<'s>(&'s self, start: usize, len: usize, work: &'s mut ChunkWork) -> Result<ArrayView2<'s, f64>>;
}

/// A thread's working space for `RowSource::chunk`.
#[derive(Default)]
pub struct ChunkWork {
    buf: Array2<f64>,
    scratch: Vec<f64>,
}

impl ChunkWork {
    /// The chunk buffer, at least `rows x cols` (column-major), and the scratch space.
    pub fn parts(&mut self, rows: usize, cols: usize) -> (&mut Array2<f64>, &mut Vec<f64>) {
        if self.buf.nrows() < rows || self.buf.ncols() != cols {
            self.buf = Array2::zeros((rows, cols).f());
        }
        (&mut self.buf, &mut self.scratch)
    }
}

/// The model matrix's dense columns held in memory.
pub struct HeldRows<'x>(pub &'x Array2<f64>);

impl RowSource for HeldRows<'_> {
    fn nrows(&self) -> usize {
        self.0.nrows()
    }

    fn chunk_rows(&self) -> usize {
        MEMORY_CHUNK_ROWS
    }

    fn chunk<'s>(&'s self, start: usize, len: usize, _: &'s mut ChunkWork) -> Result<ArrayView2<'s, f64>> {
        Ok(self.0.slice(ndarray::s![start..start + len, ..]))
    }
}

/// The model matrix's dense columns formed from the terms' bases a chunk at a time.
pub struct BasisRows<'d, 'a, 'l> {
    design: &'d Design<'a>,
    layout: &'d Layout<'l>,
}

impl<'d, 'a, 'l> BasisRows<'d, 'a, 'l> {
    pub fn new(design: &'d Design<'a>, layout: &'d Layout<'l>) -> BasisRows<'d, 'a, 'l> {
        BasisRows { design, layout }
    }
}

impl RowSource for BasisRows<'_, '_, '_> {
    fn nrows(&self) -> usize {
        self.design.nrows()
    }

    fn chunk_rows(&self) -> usize {
        linalg::CHUNK_ROWS
    }

    fn chunk<'s>(&'s self, start: usize, len: usize, work: &'s mut ChunkWork) -> Result<ArrayView2<'s, f64>> {
        let (buf, scratch) = work.parts(self.chunk_rows().max(len), self.layout.dense_width());
        self.design.fill_rows_except(start, len, buf, scratch, self.layout.skip());
        Ok(buf.slice(ndarray::s![..len, ..]))
    }
}

/// The rows of a model: held in memory when `x` is given, else formed from the bases.
pub fn source<'s>(
    design: &'s Design<'_>,
    layout: &'s Layout<'_>,
    x: Option<&'s Array2<f64>>,
) -> Box<dyn RowSource + 's> {
    match x {
        Some(x) => Box::new(HeldRows(x)),
        None => Box::new(BasisRows::new(design, layout)),
    }
}

/// Passes over the model matrix's rows in parallel: the rows are split into one
/// contiguous range per thread, and each thread visits its range a chunk at a time
/// (`RowSource`) into an accumulator of its own, made by `init`; the accumulators come
/// back in row order. Products over a chunk are sequential within a thread: for
/// `X'WX`, whose output is small and whose inner dimension is long, splitting the rows
/// is what parallelizes well (as bam's block-wise cross products). The first range
/// runs on the calling thread, which polls `interrupted` before each of its chunks and
/// tells the others to stop (R's interrupt check may only run there).
pub fn pass<T: Send>(
    rows: &dyn RowSource,
    threads: usize,
    interrupted: &mut dyn FnMut() -> bool,
    init: impl Fn() -> T + Sync,
    visit: impl Fn(&mut T, usize, ArrayView2<'_, f64>) -> Result<()> + Sync,
) -> Result<Vec<T>> {
    use std::sync::atomic::{AtomicBool, Ordering};
    let n = rows.nrows();
    // Below this, a thread costs more than it saves.
    const MIN_ROWS_PER_THREAD: usize = 4_096;
    let parts = threads.clamp(1, (n / MIN_ROWS_PER_THREAD).max(1));
    let per = n.div_ceil(parts).max(1);
    let stop = AtomicBool::new(false);
    let run = |from: usize, to: usize, poll: &mut dyn FnMut() -> bool| -> Result<T> {
        let mut acc = init();
        let mut work = ChunkWork::default();
        let mut start = from;
        while start < to {
            if poll() {
                return Err(EngineError::Interrupted);
            }
            let len = rows.chunk_rows().min(to - start);
            visit(&mut acc, start, rows.chunk(start, len, &mut work)?)?;
            start += len;
        }
        Ok(acc)
    };
    let mut poll_here = signalling(interrupted, &stop);
    if parts == 1 {
        return Ok(vec![run(0, n, &mut poll_here)?]);
    }
    std::thread::scope(|scope| {
        let others: Vec<_> = (1..parts)
            .map(|t| {
                let (run, stop) = (&run, &stop);
                scope.spawn(move || run(t * per, ((t + 1) * per).min(n), &mut || stop.load(Ordering::Relaxed)))
            })
            .collect();
        let first = run(0, per.min(n), &mut poll_here);
        // Every thread is joined before an error is returned.
        let rest: Vec<Result<T>> = others.into_iter().map(|h| h.join().expect("a pass thread panicked")).collect();
        std::iter::once(first).chain(rest).collect()
    })
}

/// `interrupted`, polled on the calling thread, raising `stop` for the other threads
/// of a parallel pass when it reports an interrupt.
pub fn signalling<'s>(
    interrupted: &'s mut dyn FnMut() -> bool,
    stop: &'s std::sync::atomic::AtomicBool,
) -> impl FnMut() -> bool + 's {
    move || {
        let asked = interrupted();
        if asked {
            stop.store(true, std::sync::atomic::Ordering::Relaxed);
        }
        asked
    }
}

/// `X' diag(w) X` and `X'u` in one pass (weights of any sign).
pub fn weighted_cross_products(
    design: &Design<'_>,
    layout: &Layout<'_>,
    x: Option<&Array2<f64>>,
    w: &[f64],
    u: &[f64],
    threads: usize,
    interrupted: &mut dyn FnMut() -> bool,
) -> Result<(Array2<f64>, Array1<f64>)> {
    let parts = pass(
        &*source(design, layout, x),
        threads,
        interrupted,
        || (GramParts::new(layout), CrossParts::new(layout, 1)),
        |(gram, xtu), start, chunk| {
            let n = chunk.nrows();
            let rows: Vec<usize> = (start..start + n).collect();
            gram.add(layout, &rows, chunk, &w[start..start + n]);
            xtu.add(layout, &rows, chunk, &Mat::from_fn(n, 1, |r, _| u[start + r]));
            Ok(())
        },
    )?;
    let mut parts = parts.into_iter();
    let (mut gram, mut xtu) = parts.next().expect("at least one part");
    for (g, v) in parts {
        gram.merge(&g);
        xtu.merge(&v);
    }
    Ok((gram.assemble(layout), xtu.column(layout, 0)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fit::uniform_stream;

    /// A source as a file- or worker-backed one would be: its own chunk length, rows
    /// copied into the working space, and a failure at a given row.
    struct Copied {
        x: Array2<f64>,
        fail_at: Option<usize>,
    }

    impl RowSource for Copied {
        fn nrows(&self) -> usize {
            self.x.nrows()
        }

        fn chunk_rows(&self) -> usize {
            7
        }

        fn chunk<'s>(&'s self, start: usize, len: usize, work: &'s mut ChunkWork) -> Result<ArrayView2<'s, f64>> {
            if self.fail_at.is_some_and(|r| (start..start + len).contains(&r)) {
                return Err(EngineError::Interrupted);
            }
            work.buf = self.x.slice(ndarray::s![start..start + len, ..]).to_owned();
            Ok(work.buf.view())
        }
    }

    fn cross_product(rows: &dyn RowSource, threads: usize) -> Result<Array2<f64>> {
        let q = 3;
        let parts = pass(
            rows,
            threads,
            &mut || false,
            || Array2::<f64>::zeros((q, q)),
            |acc, _, chunk| {
                *acc += &chunk.t().dot(&chunk);
                Ok(())
            },
        )?;
        Ok(parts.into_iter().fold(Array2::zeros((q, q)), |a, p| a + p))
    }

    /// Any source gives the same pass: `X'X` from held rows, from a source with
    /// another chunk length on two threads, and directly.
    #[test]
    fn every_source_gives_the_same_pass() {
        let n = 20_000;
        let mut u = uniform_stream(3);
        let x = Array2::from_shape_fn((n, 3).f(), |_| u() - 0.5);
        let want = x.t().dot(&x);
        let held = cross_product(&HeldRows(&x), 2).unwrap();
        let copied = cross_product(&Copied { x: x.clone(), fail_at: None }, 2).unwrap();
        for got in [held, copied] {
            let err = (&got - &want).iter().fold(0.0_f64, |a, v| a.max(v.abs()));
            assert!(err < 1e-10 * n as f64, "{err}");
        }
        // A source's failure on another thread's rows ends the pass with it.
        let failed = cross_product(&Copied { x, fail_at: Some(n - 3) }, 2);
        assert!(matches!(failed, Err(EngineError::Interrupted)));
    }
}
