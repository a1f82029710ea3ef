//! The model matrix's rows as a generalized fit's passes see them: the dense columns
//! as a matrix chunk, and each wide random effect (`bs = "re"` with many levels) as
//! its level codes, since a row has one non-zero among a factor's indicator columns.
//!
//! Streaming a 1000-level factor's columns through the dense products costs `n p^2`
//! per pass (10^11 flops at n = 10^5); kept as codes, its parts of `X'WX`, `X'v`,
//! `X B` and `x_i' G x_i` cost `O(n (q + terms))` beyond the dense `q` columns' own
//! (the structure mgcv's `bam` exploits by discretization, Wood et al. 2017 §3, here
//! exactly). The Gaussian `X'WX` and every pass of a generalized fit use it. A
//! Markov random field of many regions is kept the same way: its model row is a row
//! of a table by region (its constraint and reduced rank applied), so the sums are
//! formed by region and then through the table. Without such terms the layout is
//! trivial: every column dense, and the same code is the plain dense pass.

use faer::{Mat, Par};
use ndarray::{Array1, Array2, ArrayView2, Axis};

use super::design::Design;
use crate::basis::Basis;
use crate::linalg;

/// A term's model rows at each of its levels (`levels x ncoef`): its constraint and
/// any reduced rank applied, as `Smooth::fill` applies them.
fn level_table(sm: &crate::basis::Smooth, levels: usize) -> Array2<f64> {
    let codes: Vec<f64> = (1..=levels).map(|l| l as f64).collect();
    let mut out = Array2::<f64>::zeros((levels, sm.ncoef()));
    sm.fill(&[&codes], None, &mut Vec::new(), out.view_mut());
    out
}

/// Below this many levels a random effect goes through the dense products.
pub const MIN_LEVELS: usize = 32;

/// Rows per chunk when the model matrix is held in memory: small enough that a
/// chunk's products (`diag(w) X_c`, `X_c G`: 2.5 MB at 77 columns) stay in cache
/// for the next product over the same rows; 32768 rows made the derivative pass
/// 1.7 times slower at 1e6 rows.
pub const MEMORY_CHUNK_ROWS: usize = 4096;

/// A random effect kept as codes.
#[derive(Debug, Clone)]
struct Block<'a> {
    /// First column in the model matrix, number of levels, and the block's first
    /// index among all blocks' columns (`wide`).
    first: usize,
    levels: usize,
    offset: usize,
    codes: &'a [f64],
    slope: Option<&'a [f64]>,
    by: Option<&'a [f64]>,
    /// A term whose model row is a row of a table by level (`levels x width`: a
    /// Markov random field, its sum-to-zero constraint absorbed); `None`: level `l`
    /// is model column `first + l`.
    map: Option<Array2<f64>>,
}

impl Block<'_> {
    /// Number of model columns.
    fn width(&self) -> usize {
        self.map.as_ref().map_or(self.levels, |m| m.ncols())
    }
}

/// One row's non-zero in a block: its index among the blocks' levels (`wide`), its
/// model column (a table's block: none, `usize::MAX`) and its value.
#[derive(Debug, Clone, Copy)]
pub struct Entry {
    wide: usize,
    col: usize,
    value: f64,
    /// Its block (an index into `Layout::blocks`).
    block: usize,
}

#[derive(Debug, Clone)]
pub struct Layout<'a> {
    /// Per smooth: kept as codes.
    skip: Vec<bool>,
    /// Model columns formed densely, in order.
    dense: Vec<usize>,
    blocks: Vec<Block<'a>>,
    /// Number of the blocks' levels (the `wide` indices of `Entry`).
    levels: usize,
    p: usize,
}

impl<'a> Layout<'a> {
    /// Wide, unconstrained random effects kept as codes (each level its own column),
    /// and Markov random fields of many regions as their codes and the table of
    /// their model rows by region.
    pub fn of(design: &Design<'a>) -> Layout<'a> {
        let coded = |sm: &crate::basis::Smooth| {
            matches!(sm.basis, Basis::Re(_)) && sm.constraint.is_none() && sm.ncoef() >= MIN_LEVELS
        };
        let tabled = |sm: &crate::basis::Smooth| match &sm.basis {
            Basis::Mrf(m) => m.levels >= MIN_LEVELS,
            _ => false,
        };
        let skip: Vec<bool> = design.smooths.iter().map(|sm| coded(sm) || tabled(sm)).collect();
        let mut blocks = Vec::new();
        let mut offset = 0;
        for (j, _) in skip.iter().enumerate().filter(|(_, s)| **s) {
            let sm = &design.smooths[j];
            let (levels, map) = match &sm.basis {
                Basis::Mrf(m) => (m.levels, Some(level_table(sm, m.levels))),
                _ => (sm.ncoef(), None),
            };
            blocks.push(Block {
                first: design.first_col[j],
                levels,
                offset,
                codes: design.vars[j][0],
                slope: design.vars[j].get(1).copied(),
                by: design.by[j],
                map,
            });
            offset += levels;
        }
        let p = design.ncols();
        let in_block = |c: usize| blocks.iter().any(|b| c >= b.first && c < b.first + b.width());
        let dense: Vec<usize> = (0..p).filter(|&c| !in_block(c)).collect();
        Layout { skip, dense, blocks, levels: offset, p }
    }

    /// Whether some random effect is kept as codes.
    pub fn has_blocks(&self) -> bool {
        !self.blocks.is_empty()
    }

    /// Every column dense (what `of` gives a model without wide random effects).
    pub fn dense(design: &Design<'a>) -> Layout<'a> {
        let p = design.ncols();
        Layout { skip: vec![false; design.smooths.len()], dense: (0..p).collect(), blocks: Vec::new(), levels: 0, p }
    }

    /// The smooths kept as codes (for `Design::fill_rows_except`).
    pub fn skip(&self) -> &[bool] {
        &self.skip
    }

    /// Number of dense columns (a chunk's width).
    pub fn dense_width(&self) -> usize {
        self.dense.len()
    }

    /// Row `i`'s non-zeros in the blocks (none for a row with no level).
    fn entries(&self, i: usize, out: &mut Vec<Entry>) {
        out.clear();
        for (block, b) in self.blocks.iter().enumerate() {
            let c = b.codes[i];
            if !(c >= 1.0 && c <= b.levels as f64) {
                continue;
            }
            let l = c as usize - 1;
            let value = b.slope.map_or(1.0, |s| s[i]) * b.by.map_or(1.0, |v| v[i]);
            let col = if b.map.is_some() { usize::MAX } else { b.first + l };
            out.push(Entry { wide: b.offset + l, col, value, block });
        }
    }

    /// The rows of `m` (p x k) at the dense columns.
    pub fn dense_rows(&self, m: &Array2<f64>) -> Array2<f64> {
        m.select(Axis(0), &self.dense)
    }

    /// `X_c B` for the chunk of rows `rows` (global indices) whose dense columns are
    /// `chunk`, with `b_dense = dense_rows(B)`.
    pub fn times(
        &self,
        rows: &[usize],
        chunk: ArrayView2<'_, f64>,
        b: &Array2<f64>,
        b_dense: &Array2<f64>,
    ) -> Mat<f64> {
        let mut out = linalg::product(chunk, b_dense.view(), Par::Seq);
        if !self.blocks.is_empty() {
            // A table's block: its rows times `B`'s rows for the block, once.
            let tabled: Vec<Option<Array2<f64>>> = self
                .blocks
                .iter()
                .map(|bl| bl.map.as_ref().map(|m| m.dot(&b.slice(ndarray::s![bl.first..bl.first + bl.width(), ..]))))
                .collect();
            let mut e = Vec::new();
            for (r, &i) in rows.iter().enumerate() {
                self.entries(i, &mut e);
                for en in &e {
                    match &tabled[en.block] {
                        Some(mb) => {
                            let l = en.wide - self.blocks[en.block].offset;
                            for j in 0..b.ncols() {
                                out[(r, j)] += en.value * mb[(l, j)];
                            }
                        }
                        None => {
                            for j in 0..b.ncols() {
                                out[(r, j)] += en.value * b[(en.col, j)];
                            }
                        }
                    }
                }
            }
        }
        out
    }

    /// `x_i' G x_i` for the rows of chunks, as `QuadraticForm::at` gives them.
    pub fn quadratic_form<'s, 'g>(&'s self, g: &'g Array2<f64>) -> QuadraticForm<'s, 'a, 'g> {
        let g_dense =
            Array2::from_shape_fn((self.dense.len(), self.dense.len()), |(r, c)| g[(self.dense[r], self.dense[c])]);
        // With `G_d = R R'` (R lower triangular), `x' G_d x = |R' x|^2`, and the product
        // `X_c R` with a triangular factor took two thirds of the time of `X_c G_d`
        // (faer, 4096 x 77 chunks). `G` is positive semi-definite (ML's and GCV's
        // matrices are rank-deficient), so the root may not exist: then `X_c G_d`.
        let dense = match linalg::lower_root(g_dense.view()) {
            Some(root) => DenseForm::Root(root),
            None => DenseForm::Full(g_dense),
        };
        // Per level of the blocks: `G[dense, level]` and `G[level, level]`, with a
        // table's level the combination of its model columns the table gives.
        let mut mixed = Array2::<f64>::zeros((self.dense.len(), self.levels));
        let mut diagonal = vec![0.0; self.levels];
        for b in &self.blocks {
            let cols = b.first..b.first + b.width();
            match &b.map {
                None => {
                    for l in 0..b.levels {
                        diagonal[b.offset + l] = g[(b.first + l, b.first + l)];
                        for (r, &d) in self.dense.iter().enumerate() {
                            mixed[(r, b.offset + l)] = g[(d, b.first + l)];
                        }
                    }
                }
                Some(m) => {
                    let mg = m.dot(&g.slice(ndarray::s![cols.clone(), cols.clone()]));
                    let dm = g.slice(ndarray::s![.., cols]).select(Axis(0), &self.dense).dot(&m.t());
                    for l in 0..b.levels {
                        diagonal[b.offset + l] = mg.row(l).dot(&m.row(l));
                        mixed.column_mut(b.offset + l).assign(&dm.column(l));
                    }
                }
            }
        }
        // Between the levels of two blocks of which one has a table: `M_a G_ab M_b'`
        // (two plain blocks read `G` itself).
        let mut between = vec![vec![None; self.blocks.len()]; self.blocks.len()];
        for (x, a) in self.blocks.iter().enumerate() {
            for (y, b) in self.blocks.iter().enumerate().skip(x + 1) {
                if a.map.is_none() && b.map.is_none() {
                    continue;
                }
                let block = g.slice(ndarray::s![a.first..a.first + a.width(), b.first..b.first + b.width()]);
                let left = a.map.as_ref().map_or_else(|| block.to_owned(), |m| m.dot(&block));
                between[x][y] = Some(match &b.map {
                    Some(m) => left.dot(&m.t()),
                    None => left,
                });
            }
        }
        QuadraticForm { layout: self, g, dense, mixed, diagonal, between }
    }
}

/// `x_i' G x_i` for one symmetric positive semi-definite `G` (p x p), split as the
/// layout splits the columns.
pub struct QuadraticForm<'s, 'a, 'g> {
    layout: &'s Layout<'a>,
    g: &'g Array2<f64>,
    dense: DenseForm,
    /// `G[dense, level]` and `G[level, level]` per level of the blocks.
    mixed: Array2<f64>,
    diagonal: Vec<f64>,
    /// `[a][b]` (`a < b`): `G` between the levels of blocks `a` and `b` when either
    /// has a table.
    between: Vec<Vec<Option<Array2<f64>>>>,
}

/// `G[dense, dense]`: its triangular root when it has one, else itself.
enum DenseForm {
    Root(Mat<f64>),
    Full(Array2<f64>),
}

impl QuadraticForm<'_, '_, '_> {
    /// The forms of the chunk of rows `rows` (global indices) whose dense columns are
    /// `chunk`.
    pub fn at(&self, rows: &[usize], chunk: ArrayView2<'_, f64>) -> Vec<f64> {
        let mut a = vec![0.0; rows.len()];
        // Column by column (both are column-major).
        match &self.dense {
            DenseForm::Root(root) => {
                let xr = linalg::times_lower(chunk, root);
                for c in 0..chunk.ncols() {
                    a.iter_mut().zip(xr.col_as_slice(c)).for_each(|(a, v)| *a += v * v);
                }
            }
            DenseForm::Full(g_dense) => {
                let xg = linalg::product(chunk, g_dense.view(), Par::Seq);
                for c in 0..chunk.ncols() {
                    let gc = xg.col_as_slice(c);
                    match chunk.column(c).as_slice() {
                        Some(xc) => a.iter_mut().zip(gc).zip(xc).for_each(|((a, g), x)| *a += g * x),
                        None => a.iter_mut().zip(gc).zip(chunk.column(c).iter()).for_each(|((a, g), x)| *a += g * x),
                    }
                }
            }
        }
        if self.layout.has_blocks() {
            let g = self.g;
            let mut e = Vec::new();
            for (r, &i) in rows.iter().enumerate() {
                self.layout.entries(i, &mut e);
                for (k, en) in e.iter().enumerate() {
                    a[r] += 2.0 * en.value * chunk.row(r).dot(&self.mixed.column(en.wide));
                    a[r] += en.value * en.value * self.diagonal[en.wide];
                    // (`entries` gives a row's entries in block order.)
                    for other in &e[k + 1..] {
                        let between = match &self.between[en.block][other.block] {
                            Some(t) => {
                                let (la, lb) =
                                    (self.layout.blocks[en.block].offset, self.layout.blocks[other.block].offset);
                                t[(en.wide - la, other.wide - lb)]
                            }
                            None => g[(en.col, other.col)],
                        };
                        a[r] += 2.0 * en.value * other.value * between;
                    }
                }
            }
        }
        a
    }
}

/// `X' diag(w) X` accumulated over chunks, in parts: the dense columns' block (lower
/// triangle), and per block column its diagonal, its products with the dense columns
/// and with other blocks' columns.
pub struct GramParts {
    dense: Mat<f64>,
    scratch: Mat<f64>,
    diag: Vec<f64>,
    with_dense: Array2<f64>,
    /// Between the columns of different blocks (empty with fewer than two blocks).
    between: Array2<f64>,
}

impl GramParts {
    pub fn new(layout: &Layout<'_>) -> GramParts {
        let (q, k) = (layout.dense.len(), layout.levels);
        let kb = if layout.blocks.len() > 1 { k } else { 0 };
        GramParts {
            dense: Mat::zeros(q, q),
            scratch: Mat::zeros(0, 0),
            diag: vec![0.0; k],
            with_dense: Array2::zeros((k, q)),
            between: Array2::zeros((kb, kb)),
        }
    }

    /// Adds the rows `rows` (global indices) whose dense columns are `chunk`, with
    /// weights `w` (one per row, any sign).
    pub fn add(&mut self, layout: &Layout<'_>, rows: &[usize], chunk: ArrayView2<'_, f64>, w: &[f64]) {
        linalg::add_weighted_gram(&mut self.dense, chunk, w, &mut self.scratch, Par::Seq);
        if layout.blocks.is_empty() {
            return;
        }
        let mut e = Vec::new();
        for (r, &i) in rows.iter().enumerate() {
            layout.entries(i, &mut e);
            for (k, en) in e.iter().enumerate() {
                let wv = w[r] * en.value;
                self.diag[en.wide] += wv * en.value;
                self.with_dense.row_mut(en.wide).scaled_add(wv, &chunk.row(r));
                for other in &e[k + 1..] {
                    self.between[(en.wide, other.wide)] += wv * other.value;
                }
            }
        }
    }

    pub fn merge(&mut self, other: &GramParts) {
        self.dense += &other.dense;
        self.diag.iter_mut().zip(&other.diag).for_each(|(a, b)| *a += b);
        self.with_dense += &other.with_dense;
        self.between += &other.between;
    }

    /// The full, symmetric p x p matrix.
    pub fn assemble(&self, layout: &Layout<'_>) -> Array2<f64> {
        let dense = linalg::from_lower(&self.dense);
        let mut out = Array2::<f64>::zeros((layout.p, layout.p));
        for (a, &ca) in layout.dense.iter().enumerate() {
            for (b, &cb) in layout.dense.iter().enumerate() {
                out[(ca, cb)] = dense[(a, b)];
            }
        }
        for b in &layout.blocks {
            let levels = b.offset..b.offset + b.levels;
            match &b.map {
                None => {
                    for l in 0..b.levels {
                        let (k, c) = (b.offset + l, b.first + l);
                        out[(c, c)] = self.diag[k];
                        for (d, &cd) in layout.dense.iter().enumerate() {
                            out[(c, cd)] = self.with_dense[(k, d)];
                            out[(cd, c)] = self.with_dense[(k, d)];
                        }
                    }
                }
                // A table `M`: `M' diag(d) M` and `M' [level sums with the dense
                // columns]`.
                Some(m) => {
                    let cols = b.first..b.first + b.width();
                    let md = Array2::from_shape_fn(m.dim(), |(l, a)| m[(l, a)] * self.diag[b.offset + l]);
                    out.slice_mut(ndarray::s![cols.clone(), cols.clone()]).assign(&md.t().dot(m));
                    let with = m.t().dot(&self.with_dense.slice(ndarray::s![levels, ..]));
                    for (a, c) in cols.enumerate() {
                        for (d, &cd) in layout.dense.iter().enumerate() {
                            out[(c, cd)] = with[(a, d)];
                            out[(cd, c)] = with[(a, d)];
                        }
                    }
                }
            }
        }
        // Between two blocks: the level sums, through the tables `M_a' B M_b`.
        for (x, a) in layout.blocks.iter().enumerate() {
            for b in layout.blocks.iter().skip(x + 1) {
                let sums =
                    self.between.slice(ndarray::s![a.offset..a.offset + a.levels, b.offset..b.offset + b.levels]);
                let left = a.map.as_ref().map_or_else(|| sums.to_owned(), |m| m.t().dot(&sums));
                let model = match &b.map {
                    Some(m) => left.dot(m),
                    None => left,
                };
                for ((i, j), v) in model.indexed_iter() {
                    if *v != 0.0 {
                        out[(a.first + i, b.first + j)] = *v;
                        out[(b.first + j, a.first + i)] = *v;
                    }
                }
            }
        }
        out
    }
}

/// `X' V` for a block of columns `V` (one row per data row), accumulated over chunks.
pub struct CrossParts {
    dense: Mat<f64>,
    wide: Array2<f64>,
}

impl CrossParts {
    pub fn new(layout: &Layout<'_>, columns: usize) -> CrossParts {
        CrossParts { dense: Mat::zeros(layout.dense.len(), columns), wide: Array2::zeros((layout.levels, columns)) }
    }

    pub fn add(&mut self, layout: &Layout<'_>, rows: &[usize], chunk: ArrayView2<'_, f64>, v: &Mat<f64>) {
        linalg::add_xt_block(&mut self.dense, chunk, v, Par::Seq);
        if layout.blocks.is_empty() {
            return;
        }
        let mut e = Vec::new();
        for (r, &i) in rows.iter().enumerate() {
            layout.entries(i, &mut e);
            for en in &e {
                for c in 0..v.ncols() {
                    self.wide[(en.wide, c)] += en.value * v[(r, c)];
                }
            }
        }
    }

    pub fn merge(&mut self, other: &CrossParts) {
        self.dense += &other.dense;
        self.wide += &other.wide;
    }

    /// Column `c` of `X'V`, in model order.
    pub fn column(&self, layout: &Layout<'_>, c: usize) -> Array1<f64> {
        let mut out = Array1::zeros(layout.p);
        for (a, &ca) in layout.dense.iter().enumerate() {
            out[ca] = self.dense[(a, c)];
        }
        for b in &layout.blocks {
            match &b.map {
                None => (0..b.levels).for_each(|l| out[b.first + l] = self.wide[(b.offset + l, c)]),
                Some(m) => {
                    let sums = self.wide.slice(ndarray::s![b.offset..b.offset + b.levels, c]);
                    for (a, v) in m.t().dot(&sums).iter().enumerate() {
                        out[b.first + a] = *v;
                    }
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::basis::SmoothSpec;
    use crate::error::EngineError;
    use crate::family::Family;
    use crate::fit::laml::{derivative_pass, RowCache};
    use crate::fit::penalty::PenaltySet;
    use crate::fit::pirls::{pirls, GlmData};
    use crate::fit::row_source::weighted_cross_products;
    use crate::fit::{design, penalty_set, uniform_stream, ModelSpec};
    use ndarray::ShapeBuilder;

    /// The Gaussian `X'WX` and `X'Wz` with two random-effect terms (one with slopes)
    /// kept as codes, against the dense product.
    #[test]
    fn structured_cross_products_match_the_dense_ones() {
        let n = 3000;
        let x: Vec<f64> = (0..n).map(|i| ((i * 37) % n) as f64 / n as f64).collect();
        let g1: Vec<f64> = (0..n).map(|i| (1 + (i * 7) % 40) as f64).collect();
        let g2: Vec<f64> = (0..n).map(|i| (1 + (i * 13) % 35) as f64).collect();
        let slope: Vec<f64> = (0..n).map(|i| ((i % 17) as f64 - 8.0) / 8.0).collect();
        let spec_of = |label: &str, bs: &str, k: usize, vars: Vec<Vec<f64>>| SmoothSpec {
            centre: bs != "re",
            ..SmoothSpec::for_tests(label, bs, k, vars)
        };
        let xp = Array2::from_shape_fn((n, 2).f(), |(i, j)| if j == 0 { 1.0 } else { x[i] * x[i] });
        let smooths = vec![
            spec_of("s(g1)", "re", 40, vec![g1]),
            spec_of("s(x)", "cr", 8, vec![x.clone()]),
            spec_of("s(g2,slope)", "re", 35, vec![g2, slope]),
        ];
        let spec = ModelSpec::for_tests(x.clone(), xp, smooths);
        let d = design(&spec).unwrap();
        let w: Vec<f64> = (0..n).map(|i| 0.5 + (i % 5) as f64).collect();
        let z: Vec<f64> = (0..n).map(|i| (i as f64 * 0.01).sin()).collect();
        let u: Vec<f64> = w.iter().zip(&z).map(|(w, z)| w * z).collect();
        let layout = Layout::of(&d);
        assert!(layout.has_blocks());
        let (g, v) = weighted_cross_products(&d, &layout, None, &w, &u, 2, &mut || false).unwrap();
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

    /// A pass split over two threads gives the one-thread reference's `X'WX`, and an
    /// interrupt seen on the calling thread stops both.
    #[test]
    fn a_pass_on_threads_matches_one_thread_and_stops_on_an_interrupt() {
        let n = 20_000;
        let mut u = uniform_stream(8);
        let x: Vec<f64> = (0..n).map(|_| u()).collect();
        let z: Vec<f64> = (0..n).map(|_| u()).collect();
        let xp = Array2::from_shape_fn((n, 1).f(), |_| 1.0);
        let smooths =
            vec![SmoothSpec::for_tests("s(x)", "cr", 10, vec![x]), SmoothSpec::for_tests("s(z)", "ps", 8, vec![z])];
        let spec = ModelSpec::for_tests(vec![0.0; n], xp, smooths);
        let d = design(&spec).unwrap();
        let layout = Layout::of(&d);
        let w: Vec<f64> = (0..n).map(|i| 0.5 + (i % 3) as f64).collect();
        let v: Vec<f64> = (0..n).map(|i| (i as f64 * 0.001).cos()).collect();
        let wv: Vec<f64> = w.iter().zip(&v).map(|(a, b)| a * b).collect();
        let (g, xv) = weighted_cross_products(&d, &layout, None, &w, &wv, 2, &mut || false).unwrap();
        let mut scratch = Vec::new();
        let (gd, xvd) = linalg::cross_products_by_chunks(n, d.ncols(), &w, &v, 1, |start, rows, buf| {
            d.fill_rows(start, rows, buf, &mut scratch);
            Ok(())
        })
        .unwrap();
        let scale = gd.iter().fold(0.0_f64, |a, v| a.max(v.abs()));
        assert!((&g - &gd).iter().all(|e| e.abs() < 1e-12 * scale));
        assert!((&xv - &xvd).iter().all(|e| e.abs() < 1e-9));
        let mut polls = 0;
        let stopped = weighted_cross_products(&d, &layout, None, &w, &wv, 2, &mut || {
            polls += 1;
            polls > 1
        });
        assert!(matches!(stopped, Err(EngineError::Interrupted)));
        assert_eq!(polls, 2, "the calling thread stops at its first poll after the interrupt");
    }

    /// Binary responses depending on `x`, and two factors of 40 and 35 levels, over
    /// 20000 rows: two threads of rows (`pass` splits from 2 x 8192 rows), so that the
    /// kept products of the parts are put together in row order.
    fn coded_data() -> (Vec<f64>, Vec<f64>, Vec<f64>, Vec<f64>) {
        let n = 20_000;
        let mut u = uniform_stream(5);
        let x: Vec<f64> = (0..n).map(|_| u()).collect();
        let g1: Vec<f64> = (0..n).map(|_| (1.0 + (u() * 40.0).floor()).min(40.0)).collect();
        let g2: Vec<f64> = (0..n).map(|_| (1.0 + (u() * 35.0).floor()).min(35.0)).collect();
        let y: Vec<f64> = (0..n).map(|i| f64::from(u() < 0.3 + 0.4 * x[i])).collect();
        (x, g1, g2, y)
    }

    fn coded_spec(label: &str, bs: &str, k: usize, vars: Vec<Vec<f64>>) -> SmoothSpec<'static> {
        SmoothSpec { centre: bs != "re", ..SmoothSpec::for_tests(label, bs, k, vars) }
    }

    /// A generalized fit's passes with two random effects (one a slope) kept as codes
    /// give what the dense passes give: `X'WX`, `X'u`, and every derivative sum.
    #[test]
    fn structured_passes_match_the_dense_ones() {
        let (x, g1, g2, y) = coded_data();
        let smooths = vec![
            coded_spec("s(g1)", "re", 40, vec![g1]),
            coded_spec("s(x)", "cr", 8, vec![x.clone()]),
            coded_spec("s(g2,x)", "re", 35, vec![g2, x]),
        ];
        passes_match_the_dense_ones(y, smooths, 2);
    }

    /// As above with a Markov random field of 40 regions (a chain) kept as its codes
    /// and the table of its model rows, full rank and reduced to 12 columns, alone
    /// and beside a random effect of 35 levels.
    #[test]
    fn passes_with_a_markov_random_field_match_the_dense_ones() {
        let (x, g1, g2, y) = coded_data();
        let regions = 40;
        let chain = Array2::from_shape_fn((regions, regions), |(i, j)| {
            if i == j {
                if i == 0 || i == regions - 1 {
                    1.0
                } else {
                    2.0
                }
            } else if i.abs_diff(j) == 1 {
                -1.0
            } else {
                0.0
            }
        });
        for k in [regions, 12] {
            let mrf = SmoothSpec { penalty: Some(chain.clone()), ..coded_spec("s(g1)", "mrf", k, vec![g1.clone()]) };
            let smooths = vec![coded_spec("s(x)", "cr", 8, vec![x.clone()]), mrf.clone()];
            passes_match_the_dense_ones(y.clone(), smooths, 1);
            let re = coded_spec("s(g2,x)", "re", 35, vec![g2.clone(), x.clone()]);
            passes_match_the_dense_ones(y.clone(), vec![re, coded_spec("s(x)", "cr", 8, vec![x.clone()]), mrf], 2);
        }
    }

    fn passes_match_the_dense_ones(y: Vec<f64>, smooths: Vec<SmoothSpec<'_>>, blocks: usize) {
        let n = y.len();
        let xp = Array2::from_shape_fn((n, 1).f(), |_| 1.0);
        let spec = ModelSpec {
            family: Family::from_r("binomial", "logit", "", &[]).unwrap(),
            ..ModelSpec::for_tests(y.clone(), xp, smooths)
        };
        let d = design(&spec).unwrap();
        let pens = penalty_set(&d);
        fn data_with<'b, 'd>(
            d: &'b Design<'d>,
            pens: &'b PenaltySet,
            spec: &'b ModelSpec<'_>,
            layout: Layout<'d>,
        ) -> GlmData<'b, 'd> {
            GlmData {
                design: d,
                penalties: pens,
                family: spec.family,
                y: &spec.y,
                censor: spec.censor.as_deref(),
                w: &spec.weights,
                offset: &spec.offset,
                threads: 2,
                x: None,
                layout,
            }
        }
        let (coded, dense) =
            (data_with(&d, &pens, &spec, Layout::of(&d)), data_with(&d, &pens, &spec, Layout::dense(&d)));
        assert_eq!(coded.layout.blocks.len(), blocks);
        let close = |a: &Array2<f64>, b: &Array2<f64>| {
            let top = b.iter().fold(0.0_f64, |m, v| m.max(v.abs()));
            a.iter().zip(b.iter()).fold(0.0_f64, |m, (p, q)| m.max((p - q).abs())) <= 1e-11 * top
        };
        let eta = dense.start_eta();
        let (w, wu) = dense.working(&eta, false).unwrap();
        let (a1, v1) = coded.cross_products(&w, &wu, &mut || false).unwrap();
        let (a2, v2) = dense.cross_products(&w, &wu, &mut || false).unwrap();
        assert!(close(&a1, &a2));
        assert!(close(&v1.insert_axis(Axis(1)), &v2.insert_axis(Axis(1))));
        let lambda = vec![1.0; pens.len()];
        let fit = pirls(&dense, &lambda, &[], &mut || false).unwrap();
        let p = d.ncols();
        let dbeta = Array2::from_shape_fn((p, 3), |(i, j)| ((i * 7 + j * 3) % 11) as f64 / 11.0 - 0.5);
        // The coded pass keeps its per-row products at 500 sampled rows and takes
        // them at every row, as a fit's reported Hessian does after its last iterate.
        let mut kept = RowCache { keep: true, products: None };
        for rows in [500, n] {
            let s1 = derivative_pass(&coded, &fit, &fit.h_inv, &dbeta, rows, false, &mut kept, &mut || false).unwrap();
            let s2 =
                derivative_pass(&dense, &fit, &fit.h_inv, &dbeta, rows, false, &mut RowCache::default(), &mut || false)
                    .unwrap();
            assert!(kept.products.is_some());
            let vec_close = |a: &[f64], b: &[f64]| {
                close(
                    &Array2::from_shape_vec((a.len(), 1), a.to_vec()).unwrap(),
                    &Array2::from_shape_vec((b.len(), 1), b.to_vec()).unwrap(),
                )
            };
            assert!(vec_close(&s1.t1, &s2.t1));
            assert!(close(&s1.t2, &s2.t2));
            assert!(vec_close(&s1.q, &s2.q));
            assert!(s1.r.iter().zip(&s2.r).all(|(a, b)| vec_close(a, b)));
            assert!(s1.c.iter().zip(&s2.c).all(|(a, b)| close(a, b)));
        }
    }

    /// `x_i' G x_i` by the triangular root of a positive definite `G`, and by the
    /// product with a positive semi-definite one (no root), against the sums.
    #[test]
    fn quadratic_forms_match_the_direct_sums() {
        let (n, p) = (300, 9);
        let mut u = uniform_stream(3);
        let x = Array2::from_shape_fn((n, p).f(), |_| u() - 0.5);
        let b = Array2::from_shape_fn((p, p), |_| u() - 0.5);
        let pd = b.t().dot(&b) + Array2::<f64>::eye(p) * 0.1;
        // Rank 4, and its last column zero: no Cholesky factor.
        let mut low = b.slice(ndarray::s![..4, ..]).to_owned();
        low.column_mut(p - 1).fill(0.0);
        let psd = low.t().dot(&low);
        let xs: Vec<f64> = (0..n).map(|_| u()).collect();
        let spec = ModelSpec::for_tests(xs.clone(), x.clone(), vec![]);
        let d = design(&spec).unwrap();
        let layout = Layout::dense(&d);
        let rows: Vec<usize> = (0..n).collect();
        for (g, has_root) in [(&pd, true), (&psd, false)] {
            let form = layout.quadratic_form(g);
            assert_eq!(matches!(form.dense, DenseForm::Root(_)), has_root);
            let a = form.at(&rows, x.view());
            for (i, ai) in a.iter().enumerate() {
                let direct = x.row(i).dot(&g.dot(&x.row(i)));
                assert!((ai - direct).abs() <= 1e-13 * (1.0 + direct.abs()), "row {i}: {ai} vs {direct}");
            }
        }
    }
}
