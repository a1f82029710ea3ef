//! Soap film smoothers (`bs = "so"`, `"sf"`, `"sw"`; Wood, Bravington & Hedley 2008,
//! "Soap film smoothing", JRSS-B 70:931-955; mgcv's `smooth.construct.so.smooth.spec`).
//!
//! A smooth over a domain bounded by closed loops (islands allowed), that does not
//! smooth across the boundary. It is the sum of two parts, each a field on a square
//! grid over the domain, solved from the 5-point discretization of `-Laplacian`:
//! - the film (`sf`): each loop's boundary values are a cyclic cubic spline of arc
//!   length along the loop, extended inside as a harmonic function (Laplace's
//!   equation with those values on the loop's boundary cells, zero on the others);
//!   its penalty is the spline's own, `int f''^2`;
//! - the wiggly part (`sw`): for each knot, `rho = A^-1 delta` (a point source at the
//!   knot), scaled to maximum 1, and the basis field `g = A^-1 rho`, zero on the
//!   boundary; the penalty is `h^2 R'R`, `int rho^2`, full rank.
//!
//! `so` is both, side by side. The basis at a point interpolates the fields
//! bilinearly from the four surrounding cell centres (the nearest usable centre where
//! some are outside the domain), and is NaN outside the domain. Every column is then
//! divided by its range over the data, as mgcv does. The grid follows mgcv's
//! construction step by step (`tools/notes/soap-film.md`), including the details
//! that decide its numbers: which grid cells count as boundary cells, the arc
//! length each gets, and where a knot's source sits.

use faer::linalg::solvers::Solve;
use faer::sparse::{SparseColMat, Triplet};
use ndarray::Array2;

use super::cc::CcBasis;
use super::registry::{Basis, Built, ClassArgs, ClassEntry, RawBasis, SizeArgs};
use super::state::{put_matrix, Fields, State};
use crate::error::{EngineError, Result};

/// A cell outside the domain (no unknown in the system).
const OUTSIDE: i64 = -1;

/// A boundary loop's vertices, x and y.
type Loop = (Vec<f64>, Vec<f64>);

/// The domain's loops and the grid over them: which cells are unknowns of the
/// system, and in what order (boundary cells first).
#[derive(Debug, Clone)]
pub struct SoapGrid {
    /// Closed loops (the last vertex repeats the first), x then y.
    loops: Vec<Loop>,
    x0: f64,
    y0: f64,
    h: f64,
    nx: usize,
    ny: usize,
    /// Per cell `i * ny + j`: its unknown's index, or `OUTSIDE`.
    index: Vec<i64>,
    /// Boundary cells per loop; the first `sum(per_loop)` unknowns are boundary cells,
    /// loop by loop.
    per_loop: Vec<usize>,
    /// Each boundary cell's arc length along its loop.
    arc: Vec<f64>,
}

/// Even-odd rule over every segment of every loop: the number of segments met by
/// the ray from `(px, py)` downwards is odd (mgcv's `in.out`; a point on an edge
/// counts as crossed).
fn inside(loops: &[Loop], px: f64, py: f64) -> bool {
    let mut odd = false;
    for (x, y) in loops {
        for s in 1..x.len() {
            let (mut xa, mut ya, mut xb, mut yb) = (x[s - 1], y[s - 1], x[s], y[s]);
            if xa == xb {
                continue;
            }
            if xa > xb {
                std::mem::swap(&mut xa, &mut xb);
                std::mem::swap(&mut ya, &mut yb);
            }
            if !(xa < px && px <= xb) {
                continue;
            }
            let crossed = if ya <= py && yb <= py {
                true
            } else if ya > py && yb > py {
                false
            } else {
                py >= (px - xa) * (yb - ya) / (xb - xa) + ya
            };
            odd ^= crossed;
        }
    }
    odd
}

/// Each loop closed (its first vertex repeated at the end when it is not there).
fn close_loops(loops: Vec<Loop>) -> Vec<Loop> {
    loops
        .into_iter()
        .map(|(mut x, mut y)| {
            let last = x.len() - 1;
            if x[0] != x[last] || y[0] != y[last] {
                x.push(x[0]);
                y.push(y[0]);
            }
            (x, y)
        })
        .collect()
}

impl SoapGrid {
    /// The grid of `nmax` cells along the longer side of the loops' bounding box.
    pub fn new(label: &str, loops: Vec<Loop>, nmax: usize) -> Result<SoapGrid> {
        let bad = |what: &str| EngineError::InvalidSpec { what: format!("`{label}`: {what}") };
        if loops.is_empty() || loops.iter().any(|(x, y)| x.len() < 3 || x.len() != y.len()) {
            return Err(bad("each boundary loop needs at least 3 vertices, with x and y alike"));
        }
        if loops.iter().any(|(x, y)| x.iter().chain(y).any(|v| !v.is_finite())) {
            return Err(bad("the boundary has missing or infinite coordinates"));
        }
        if !(3..=5000).contains(&nmax) {
            return Err(bad("`nmax` (grid cells along the longer side) must be from 3 to 5000"));
        }
        let loops = close_loops(loops);
        let range = |values: &mut dyn Iterator<Item = f64>| {
            values.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| (lo.min(v), hi.max(v)))
        };
        let (x0, x1) = range(&mut loops.iter().flat_map(|l| l.0.iter().copied()));
        let (y0, y1) = range(&mut loops.iter().flat_map(|l| l.1.iter().copied()));
        if !(x1 > x0 && y1 > y0) {
            return Err(bad("the boundary encloses no area"));
        }
        let (h, nx, ny) = if x1 - x0 > y1 - y0 {
            let h = (x1 - x0) / (nmax - 1) as f64;
            (h, nmax, ((y1 - y0) / h).ceil() as usize + 1)
        } else {
            let h = (y1 - y0) / (nmax - 1) as f64;
            (h, ((x1 - x0) / h).ceil() as usize + 1, nmax)
        };
        let mut grid =
            SoapGrid { loops, x0, y0, h, nx, ny, index: vec![OUTSIDE; nx * ny], per_loop: Vec::new(), arc: Vec::new() };
        grid.find_cells();
        Ok(grid)
    }

    fn centre(&self, i: usize, j: usize) -> (f64, f64) {
        (self.x0 + i as f64 * self.h, self.y0 + j as f64 * self.h)
    }

    /// Numbers the unknowns: boundary cells (every cell, inside or not, next to a
    /// grid line a loop crosses) in the order the loops' segments meet them, each
    /// with the arc length of the segment point nearest it (by mgcv's measure), then
    /// the cells whose centres are inside, in cell order.
    fn find_cells(&mut self) {
        let (h, ny) = (self.h, self.ny);
        let (xb0, yb0) = (self.x0 - h / 2.0, self.y0 - h / 2.0);
        let mut boundary: Vec<Option<usize>> = vec![None; self.nx * ny];
        let mut closest: Vec<f64> = Vec::new();
        let mut arc: Vec<f64> = Vec::new();
        let mut per_loop = vec![0usize; self.loops.len()];
        for (l, (x, y)) in self.loops.iter().enumerate() {
            let mut along = 0.0;
            for s in 1..x.len() {
                let (a, b) = ((x[s - 1], y[s - 1]), (x[s], y[s]));
                let length = ((b.0 - a.0).powi(2) + (b.1 - a.1).powi(2)).sqrt();
                // Vertical grid lines (phase 0), then horizontal ones (phase 1): the
                // segment's ends ordered along the phase's axis.
                for phase in 0..2 {
                    let coord = |p: (f64, f64)| if phase == 0 { (p.0, p.1) } else { (p.1, p.0) };
                    let (ca, cb) = (coord(a), coord(b));
                    let reversed = !(ca.0 < cb.0);
                    let (p, q) = if reversed { (b, a) } else { (a, b) };
                    let (cp, cq) = (coord(p), coord(q));
                    if cq.0 - cp.0 == 0.0 {
                        continue;
                    }
                    let (base_along, base_across) = if phase == 0 { (xb0, yb0) } else { (yb0, xb0) };
                    let first = ((cp.0 - base_along) / h).ceil() as i64;
                    let last = ((cq.0 - base_along) / h).floor() as i64;
                    for m in first..=last {
                        let line = base_along + m as f64 * h;
                        let cross = cp.1 + (line - cp.0) * (cq.1 - cp.1) / (cq.0 - cp.0);
                        let r = ((cross - base_across) / h).floor() as i64;
                        for side in [m - 1, m] {
                            let (i, j) = if phase == 0 { (side, r) } else { (r, side) };
                            if i < 0 || j < 0 || i as usize >= self.nx || j as usize >= ny {
                                continue;
                            }
                            let c = i as usize * ny + j as usize;
                            let b_index = *boundary[c].get_or_insert_with(|| {
                                per_loop[l] += 1;
                                closest.push(f64::INFINITY);
                                arc.push(0.0);
                                closest.len() - 1
                            });
                            // The segment point nearest the centre, clamped to the
                            // segment along the phase's axis.
                            let centre = self.centre(i as usize, j as usize);
                            let (lx, ly) = (q.0 - p.0, q.1 - p.1);
                            let beta = ((centre.0 - p.0) * lx + (centre.1 - p.1) * ly) / (lx * lx + ly * ly);
                            let mut point = (p.0 + beta * lx, p.1 + beta * ly);
                            if coord(point).0 < cp.0 {
                                point = p;
                            } else if coord(point).0 > cq.0 {
                                point = q;
                            }
                            // mgcv measures the point against the centre relative to
                            // the segment's start (not the geometric distance); it
                            // decides which segment gives the cell its arc length.
                            let delta =
                                ((point.0 - (centre.0 - p.0)).powi(2) + (point.1 - (centre.1 - p.1)).powi(2)).sqrt();
                            if delta < closest[b_index] {
                                closest[b_index] = delta;
                                let from_p = ((point.0 - p.0).powi(2) + (point.1 - p.1).powi(2)).sqrt();
                                let total = (lx * lx + ly * ly).sqrt();
                                arc[b_index] = along + if reversed { total - from_p } else { from_p };
                            }
                        }
                    }
                }
                along += length;
            }
        }
        // Boundary cells are numbered as met, loop by loop, so each loop's cells are
        // a block (a cell belongs to the loop that met it first).
        let nb = closest.len();
        for (c, b) in boundary.iter().enumerate() {
            if let Some(b) = b {
                self.index[c] = *b as i64;
            }
        }
        let mut next = nb as i64;
        for i in 0..self.nx {
            for j in 0..ny {
                let c = i * ny + j;
                if boundary[c].is_none() {
                    let (px, py) = self.centre(i, j);
                    if inside(&self.loops, px, py) {
                        self.index[c] = next;
                        next += 1;
                    }
                }
            }
        }
        self.per_loop = per_loop;
        self.arc = arc;
    }

    /// Number of boundary cells.
    fn n_boundary(&self) -> usize {
        self.arc.len()
    }

    /// Number of unknowns.
    fn n_unknowns(&self) -> usize {
        self.index.iter().filter(|v| **v >= 0).count()
    }

    fn at(&self, i: usize, j: usize) -> i64 {
        self.index[i * self.ny + j]
    }

    /// The 5-point `-Laplacian` with an identity row for each boundary cell, as
    /// mgcv's `pde_coeffs` assembles it: an interior cell's direction contributes
    /// only when both its neighbours in it are unknowns.
    fn system(&self, label: &str) -> Result<faer::sparse::linalg::solvers::Lu<usize, f64>> {
        let (nx, ny) = (self.nx, self.ny);
        let w = 1.0 / (self.h * self.h);
        let nb = self.n_boundary() as i64;
        let mut entries = Vec::new();
        for i in 0..nx {
            for j in 0..ny {
                let s = self.at(i, j);
                if s < 0 {
                    continue;
                }
                let row = s as usize;
                if s < nb {
                    entries.push(Triplet::new(row, row, 1.0));
                    continue;
                }
                let mut diag = 0.0;
                if i > 0 && i + 1 < nx {
                    let (a, b) = (self.at(i - 1, j), self.at(i + 1, j));
                    if a >= 0 && b >= 0 {
                        entries.push(Triplet::new(row, a as usize, -w));
                        entries.push(Triplet::new(row, b as usize, -w));
                        diag += 2.0 * w;
                    }
                }
                if j > 0 && j + 1 < ny {
                    let (a, b) = (self.at(i, j - 1), self.at(i, j + 1));
                    if a >= 0 && b >= 0 {
                        entries.push(Triplet::new(row, a as usize, -w));
                        entries.push(Triplet::new(row, b as usize, -w));
                        diag += 2.0 * w;
                    }
                    if diag > 0.5 * w {
                        entries.push(Triplet::new(row, row, diag));
                    }
                }
            }
        }
        let n = self.n_unknowns();
        let singular = || {
            EngineError::InvalidSpec {
            what: format!("`{label}`: the soap film's grid system is singular (the boundary is too fine for the grid: raise `nmax`)"),
        }
        };
        let a = SparseColMat::<usize, f64>::try_new_from_triplets(n, n, &entries).map_err(|_| singular())?;
        a.sp_lu().map_err(|_| singular())
    }

    /// The fields `A^-1 rhs` for the columns of `rhs` (`unknowns x m`).
    fn solve(lu: &faer::sparse::linalg::solvers::Lu<usize, f64>, rhs: &Array2<f64>) -> Array2<f64> {
        let (n, m) = rhs.dim();
        let mut b = faer::Mat::<f64>::from_fn(n, m, |i, j| rhs[(i, j)]);
        lu.solve_in_place(b.as_mut());
        Array2::from_shape_fn((n, m), |(i, j)| b[(i, j)])
    }

    /// The fields (`unknowns x m`) at each point (row-major into `out`, `m` per row):
    /// bilinear in the four surrounding cell centres when all are unknowns, else the
    /// nearest one that is (by mgcv's sequence of reflections), NaN when none is or
    /// the point is outside the domain.
    fn interpolate(&self, fields: &Array2<f64>, px: &[f64], py: &[f64], out: &mut [f64]) {
        let m = fields.ncols();
        let h = self.h;
        for (r, row) in out.chunks_exact_mut(m).enumerate() {
            let (x, y) = (px[r], py[r]);
            row.fill(f64::NAN);
            if !(x.is_finite() && y.is_finite() && inside(&self.loops, x, y)) {
                continue;
            }
            let ix = ((x - self.x0) / h).floor();
            let iy = ((y - self.y0) / h).floor();
            let node = |di: f64, dj: f64| -> Option<usize> {
                let (i, j) = (ix + di, iy + dj);
                if i < 0.0 || j < 0.0 || i >= self.nx as f64 || j >= self.ny as f64 {
                    return None;
                }
                let s = self.at(i as usize, j as usize);
                (s >= 0).then_some(s as usize)
            };
            let corners = [node(0.0, 0.0), node(0.0, 1.0), node(1.0, 1.0), node(1.0, 0.0)];
            let mut xa = x - self.x0 - ix * h;
            let mut ya = y - self.y0 - iy * h;
            if let [Some(g00), Some(g01), Some(g11), Some(g10)] = corners {
                for (o, c) in row.iter_mut().zip(0..m) {
                    let (a, b, cc, d) = (fields[(g00, c)], fields[(g10, c)], fields[(g01, c)], fields[(g11, c)]);
                    *o = a + (b - a) / h * xa + (cc - a) / h * ya + (d - b - cc + a) / (h * h) * xa * ya;
                }
                continue;
            }
            // The nearest usable corner, visiting 00, 01, 11, 10 and reflecting the
            // offsets only at usable corners (mgcv's rule, copied for its numbers).
            let mut best: Option<(f64, usize)> = None;
            for (k, corner) in corners.iter().enumerate() {
                let Some(s) = corner else { continue };
                match k {
                    1 | 3 => ya = h - ya,
                    2 => xa = h - xa,
                    _ => {}
                }
                let d = xa * xa + ya * ya;
                if best.is_none_or(|(b, _)| d < b) {
                    best = Some((d, *s));
                }
            }
            if let Some((_, s)) = best {
                row.iter_mut().zip(fields.row(s)).for_each(|(o, v)| *o = *v);
            }
        }
    }
}

/// Which parts a soap film term has.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum SoapKind {
    /// `so`: film and wiggly part.
    Both,
    /// `sf`: the film alone.
    Film,
    /// `sw`: the wiggly part alone.
    Wiggly,
}

impl SoapKind {
    fn parse(class: &str) -> Option<SoapKind> {
        match class {
            "so" => Some(SoapKind::Both),
            "sf" => Some(SoapKind::Film),
            "sw" => Some(SoapKind::Wiggly),
            _ => None,
        }
    }

    fn name(self) -> &'static str {
        match self {
            SoapKind::Both => "so",
            SoapKind::Film => "sf",
            SoapKind::Wiggly => "sw",
        }
    }
}

#[derive(Debug, Clone)]
pub struct SoapBasis {
    kind: SoapKind,
    grid: SoapGrid,
    /// The basis fields on the unknowns, each column already divided by its range
    /// over the fitting data.
    fields: Array2<f64>,
}

/// A soap film's settings: the grid size, each loop's spline dimension, the loops,
/// and the boundary values given at a loop's vertices (mgcv's `f`), if any.
struct Settings {
    nmax: usize,
    k: Vec<usize>,
    loops: Vec<Loop>,
    known: Vec<Option<Vec<f64>>>,
}

/// A count stored as a double (a loop's length, a grid's size): a whole number
/// below 1e9, else `None` (damaged).
fn whole_count(v: f64) -> Option<usize> {
    (v >= 0.0 && v.fract() == 0.0 && v < 1e9).then_some(v as usize)
}

/// The soap film's settings as the R layer packs them into the class parameters:
/// `nmax`, the number of loops, each loop's `k`, each loop's number of vertices,
/// each loop's number of given boundary values (0 or its vertices), then every
/// loop's x coordinates, every loop's y coordinates, and the given values.
fn unpack(label: &str, p: &[f64]) -> Result<Settings> {
    let bad = || EngineError::InvalidSpec { what: format!("`{label}`: the soap film's boundary is damaged") };
    let count = |v: f64| whole_count(v).ok_or_else(bad);
    let (&nmax, rest) = p.split_first().ok_or_else(bad)?;
    let (&loops, rest) = rest.split_first().ok_or_else(bad)?;
    let loops = count(loops)?;
    if rest.len() < 3 * loops {
        return Err(bad());
    }
    let k: Vec<usize> = rest[..loops].iter().map(|v| count(*v)).collect::<Result<_>>()?;
    let lengths: Vec<usize> = rest[loops..2 * loops].iter().map(|v| count(*v)).collect::<Result<_>>()?;
    let given: Vec<usize> = rest[2 * loops..3 * loops].iter().map(|v| count(*v)).collect::<Result<_>>()?;
    if given.iter().zip(&lengths).any(|(g, len)| *g != 0 && g != len) {
        return Err(bad());
    }
    let total: usize = lengths.iter().sum();
    let coords = &rest[3 * loops..];
    if coords.len() != 2 * total + given.iter().sum::<usize>() {
        return Err(bad());
    }
    let mut at = 2 * total;
    let known = given
        .iter()
        .map(|&g| {
            let values = (g > 0).then(|| coords[at..at + g].to_vec());
            at += g;
            values
        })
        .collect();
    let mut at = 0;
    let shapes = lengths
        .iter()
        .map(|&len| {
            let x = coords[at..at + len].to_vec();
            let y = coords[total + at..total + at + len].to_vec();
            at += len;
            (x, y)
        })
        .collect();
    Ok(Settings { nmax: count(nmax)?, k, loops: shapes, known })
}

impl SoapBasis {
    /// Builds the term on the data `vars` (x, y), with the wiggly part's `knots`
    /// (x then y). Returns the basis, its penalties (one per loop's film, then the
    /// wiggly part's) and the basis on the data.
    pub fn construct(
        label: &str,
        kind: SoapKind,
        vars: &[&[f64]],
        parameters: &[f64],
        knots: Option<&[f64]>,
    ) -> Result<(SoapBasis, Vec<Array2<f64>>, Array2<f64>)> {
        let bad = |what: String| EngineError::InvalidSpec { what: format!("`{label}`: {what}") };
        if vars.len() != 2 {
            return Err(bad("a soap film smooths two covariates".into()));
        }
        let Settings { nmax, k, loops, known } = unpack(label, parameters)?;
        let grid = SoapGrid::new(label, loops, nmax)?;
        let lu = grid.system(label)?;
        let n_unknowns = grid.n_unknowns();
        let mut columns: Vec<Array2<f64>> = Vec::new();
        let mut raw_penalties: Vec<Array2<f64>> = Vec::new();
        if kind != SoapKind::Wiggly {
            let mut start = 0;
            for (l, &count) in grid.per_loop.iter().enumerate() {
                // (A loop with given values is the known part, not a basis.)
                if known[l].is_some() {
                    start += count;
                    continue;
                }
                let arc = &grid.arc[start..start + count];
                // The loop's cyclic spline, its knots spread over the boundary cells'
                // arc lengths and 0 (mgcv's period: the largest arc length).
                let mut with_zero = arc.to_vec();
                with_zero.push(0.0);
                let kl = k.get(l).copied().unwrap_or(10);
                let (cc, s) = CcBasis::construct(label, &with_zero, kl, None)?;
                let values = cc.matrix(arc);
                let mut rhs = Array2::<f64>::zeros((n_unknowns, values.ncols()));
                rhs.slice_mut(ndarray::s![start..start + count, ..]).assign(&values);
                columns.push(SoapGrid::solve(&lu, &rhs));
                raw_penalties.push(s);
                start += count;
            }
        }
        if kind != SoapKind::Film {
            let kn = knots.ok_or_else(|| bad("a soap film's wiggly part needs knots (`knots = `)".into()))?;
            if kn.is_empty() || kn.len() % 2 != 0 {
                return Err(bad("the soap film's knots must give x and y alike".into()));
            }
            let nk = kn.len() / 2;
            let mut sources = Array2::<f64>::zeros((n_unknowns, nk));
            for q in 0..nk {
                // R's round(), half to even, of the knot's cell; mgcv places the
                // source at the unknown before the knot cell's (its 1-based index
                // read as 0-based), kept here for its numbers.
                let i = ((kn[q] - grid.x0) / grid.h).round_ties_even();
                let j = ((kn[nk + q] - grid.y0) / grid.h).round_ties_even();
                let s = if i >= 1.0 && j >= 1.0 && i < grid.nx as f64 && j < grid.ny as f64 {
                    grid.at(i as usize, j as usize)
                } else {
                    OUTSIDE
                };
                if s < grid.n_boundary() as i64 || s < 1 {
                    return Err(bad(format!("knot {} is on or outside the soap film's boundary", q + 1)));
                }
                sources[(s as usize - 1, q)] = 1.0;
            }
            let mut rho = SoapGrid::solve(&lu, &sources);
            for mut col in rho.columns_mut() {
                let top = col.iter().fold(f64::NEG_INFINITY, |a, v| a.max(*v));
                col.mapv_inplace(|v| v / top);
            }
            let h2 = grid.h * grid.h;
            raw_penalties.push(rho.t().dot(&rho) * h2);
            columns.push(SoapGrid::solve(&lu, &rho));
        }
        let p: usize = columns.iter().map(|c| c.ncols()).sum();
        if p == 0 {
            return Err(bad(
                "every boundary loop has given values (`f`), so the film has no basis functions: use bs = \"so\" or leave a loop free"
                    .into(),
            ));
        }
        let mut fields = Array2::<f64>::zeros((n_unknowns, p));
        let mut at = 0;
        for c in &columns {
            fields.slice_mut(ndarray::s![.., at..at + c.ncols()]).assign(c);
            at += c.ncols();
        }
        let mut basis = SoapBasis { kind, grid, fields };
        let n = vars[0].len();
        let mut x = vec![0.0; n * p];
        basis.grid.interpolate(&basis.fields, vars[0], vars[1], &mut x);
        if let Some(r) = x.chunks_exact(p).position(|row| row.iter().any(|v| v.is_nan())) {
            return Err(bad(format!("row {} of the data is outside the soap film's boundary", r + 1)));
        }
        let mut x = Array2::from_shape_vec((n, p), x).expect("row-major shape");
        // Each column over its range on the data (mgcv's `irng`), penalties alike.
        let scale: Vec<f64> = x
            .columns()
            .into_iter()
            .map(|c| {
                let (lo, hi) = c.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| (a.min(*v), b.max(*v)));
                1.0 / (hi - lo)
            })
            .collect();
        if scale.iter().any(|s| !s.is_finite()) {
            return Err(bad("a soap film basis function is constant over the data".into()));
        }
        for (j, s) in scale.iter().enumerate() {
            x.column_mut(j).mapv_inplace(|v| v * s);
            basis.fields.column_mut(j).mapv_inplace(|v| v * s);
        }
        let mut penalties = Vec::with_capacity(raw_penalties.len());
        let mut at = 0;
        for s in raw_penalties {
            let w = s.nrows();
            let mut full = Array2::<f64>::zeros((p, p));
            for a in 0..w {
                for b in 0..w {
                    full[(at + a, at + b)] = s[(a, b)] * scale[at + a] * scale[at + b];
                }
            }
            penalties.push(full);
            at += w;
        }
        Ok((basis, penalties, x))
    }
}

/// A loop's given boundary values at arc length `d` along it: linear in the arc
/// length between vertices (the first of vertices at one arc length counts), `d`
/// clamped to the loop (mgcv's `approx` of `f` on the vertices' arc lengths).
fn boundary_value(lp: &Loop, f: &[f64], d: f64) -> f64 {
    let (x, y) = lp;
    let mut along = vec![0.0];
    for s in 1..x.len() {
        along.push(along[s - 1] + ((x[s] - x[s - 1]).powi(2) + (y[s] - y[s - 1]).powi(2)).sqrt());
    }
    // The closing vertex repeats the first's value.
    let value = |i: usize| f[i % f.len()];
    let d = d.clamp(along[0], along[along.len() - 1]);
    let mut i = 0;
    while i + 1 < along.len() && along[i + 1] < d {
        i += 1;
    }
    if i + 1 >= along.len() {
        return value(i);
    }
    // Skip to the first of vertices sharing this arc length.
    while i > 0 && along[i - 1] == along[i] {
        i -= 1;
    }
    let mut j = i + 1;
    while j + 1 < along.len() && along[j] == along[i] {
        j += 1;
    }
    if along[j] == along[i] {
        return value(i);
    }
    value(i) + (value(j) - value(i)) * (d - along[i]) / (along[j] - along[i])
}

/// The known part of a soap film whose loops have given boundary values, at the
/// points `(x, y)` (NaN outside the domain): those values on the loops' boundary
/// cells extended inside as a harmonic function (mgcv's offset for such a term).
pub fn known_part(label: &str, parameters: &[f64], x: &[f64], y: &[f64]) -> Result<Vec<f64>> {
    let Settings { nmax, loops, known, .. } = unpack(label, parameters)?;
    let n_original: Vec<usize> = loops.iter().map(|l| l.0.len()).collect();
    let grid = SoapGrid::new(label, loops, nmax)?;
    let lu = grid.system(label)?;
    let mut rhs = Array2::<f64>::zeros((grid.n_unknowns(), 1));
    let mut start = 0;
    for (l, &count) in grid.per_loop.iter().enumerate() {
        if let Some(f) = &known[l] {
            if f.len() != n_original[l] {
                return Err(EngineError::InvalidSpec {
                    what: format!(
                        "`{label}`: loop {} has {} boundary values for {} vertices",
                        l + 1,
                        f.len(),
                        n_original[l]
                    ),
                });
            }
            for b in start..start + count {
                rhs[(b, 0)] = boundary_value(&grid.loops[l], f, grid.arc[b]);
            }
        }
        start += count;
    }
    let u = SoapGrid::solve(&lu, &rhs);
    let mut out = vec![0.0; x.len()];
    grid.interpolate(&u, x, y, &mut out);
    Ok(out)
}

impl RawBasis for SoapBasis {
    const STORED: &'static [&'static str] = &["so", "sf", "sw"];

    fn class(&self) -> &'static str {
        self.kind.name()
    }

    fn n_vars(&self) -> Option<usize> {
        Some(2)
    }

    fn width(&self) -> usize {
        self.fields.ncols()
    }

    fn fill_raw(&self, vars: &[&[f64]], out: &mut [f64]) {
        self.grid.interpolate(&self.fields, vars[0], vars[1], out);
    }

    fn write_state(&self, st: &mut State) {
        let g = &self.grid;
        let mut shape = vec![g.x0, g.y0, g.h, g.nx as f64, g.ny as f64, g.loops.len() as f64];
        shape.extend(g.loops.iter().map(|(x, _)| x.len() as f64));
        shape.extend(g.per_loop.iter().map(|c| *c as f64));
        st.insert("grid".into(), shape);
        st.insert("cells".into(), g.index.iter().map(|v| *v as f64).collect());
        st.insert("boundary".into(), g.loops.iter().flat_map(|(x, y)| x.iter().chain(y)).copied().collect());
        st.insert("arc".into(), g.arc.clone());
        put_matrix(st, "uz", "uz_dim", &self.fields);
    }

    fn read_state(f: &Fields<'_>, class: &str) -> Result<SoapBasis> {
        let kind = SoapKind::parse(class).ok_or_else(|| f.bad("unknown soap film class"))?;
        let shape = f.get("grid")?;
        let damaged = || f.bad("stored soap film is damaged");
        if shape.len() < 6 {
            return Err(damaged());
        }
        let count = |v: f64| whole_count(v).ok_or_else(damaged);
        let (nx, ny, n_loops) = (count(shape[3])?, count(shape[4])?, count(shape[5])?);
        if shape.len() != 6 + 2 * n_loops {
            return Err(damaged());
        }
        let lengths: Vec<usize> = shape[6..6 + n_loops].iter().map(|v| count(*v)).collect::<Result<_>>()?;
        let per_loop: Vec<usize> = shape[6 + n_loops..].iter().map(|v| count(*v)).collect::<Result<_>>()?;
        let coords = f.get("boundary")?;
        if coords.len() != 2 * lengths.iter().sum::<usize>() {
            return Err(damaged());
        }
        let mut at = 0;
        let loops = lengths
            .iter()
            .map(|&len| {
                let x = coords[at..at + len].to_vec();
                let y = coords[at + len..at + 2 * len].to_vec();
                at += 2 * len;
                (x, y)
            })
            .collect();
        let index: Vec<i64> = f.get("cells")?.iter().map(|v| *v as i64).collect();
        let fields = f.matrix("uz", "uz_dim")?;
        let unknowns = index.iter().filter(|v| **v >= 0).count();
        if index.len() != nx * ny || fields.nrows() != unknowns || index.iter().any(|v| *v >= unknowns as i64) {
            return Err(damaged());
        }
        let grid = SoapGrid {
            loops,
            x0: shape[0],
            y0: shape[1],
            h: shape[2],
            nx,
            ny,
            index,
            per_loop,
            arc: f.get("arc")?.clone(),
        };
        Ok(SoapBasis { kind, grid, fields })
    }
}

fn build(a: &ClassArgs<'_>, kind: SoapKind) -> Result<Built> {
    let (b, penalties, x) = SoapBasis::construct(a.label, kind, a.vars, a.parameters, a.knots)?;
    Ok(Built { basis: Basis::Soap(Box::new(b)), penalties, raw: Some(x) })
}

fn build_so(a: &ClassArgs<'_>) -> Result<Built> {
    build(a, SoapKind::Both)
}

fn build_sf(a: &ClassArgs<'_>) -> Result<Built> {
    build(a, SoapKind::Film)
}

fn build_sw(a: &ClassArgs<'_>) -> Result<Built> {
    build(a, SoapKind::Wiggly)
}

/// Columns at most: each loop's `k` and the knots; the stored fields: at most
/// `nmax^2` cells times the columns.
fn soap_bounds(a: &SizeArgs<'_>) -> (usize, usize) {
    let knots = a.knots.map_or(0, |k| k.len() / 2);
    let (nmax, k) = match unpack("", a.parameters) {
        Ok(settings) => (settings.nmax, settings.k.iter().sum::<usize>()),
        Err(_) => (200, 10),
    };
    let width = k.saturating_add(knots);
    (width, width.saturating_add(2).saturating_mul(nmax.saturating_mul(nmax)))
}

/// `bs = "so"`: the film and the wiggly part.
pub const SO: ClassEntry =
    ClassEntry { name: "so", margin: false, values_parameterized: false, build: build_so, bounds: soap_bounds };
/// `bs = "sf"`: the film alone (boundary values extended inside).
pub const SF: ClassEntry =
    ClassEntry { name: "sf", margin: true, values_parameterized: false, build: build_sf, bounds: soap_bounds };
/// `bs = "sw"`: the wiggly part alone (zero on the boundary).
pub const SW: ClassEntry =
    ClassEntry { name: "sw", margin: true, values_parameterized: false, build: build_sw, bounds: soap_bounds };

#[cfg(test)]
mod tests {
    use super::*;

    fn square() -> Vec<Loop> {
        vec![(vec![0.0, 2.0, 2.0, 0.0], vec![0.0, 0.0, 1.0, 1.0])]
    }

    /// The even-odd rule: inside a square, outside it, and in a hole.
    #[test]
    fn inside_by_crossings() {
        let sq = close_loops(square());
        assert!(inside(&sq, 1.0, 0.5));
        assert!(!inside(&sq, 2.5, 0.5) && !inside(&sq, 1.0, -0.1));
        let mut holed = sq.clone();
        holed.extend(close_loops(vec![(vec![0.8, 1.2, 1.2, 0.8], vec![0.4, 0.4, 0.6, 0.6])]));
        assert!(!inside(&holed, 1.0, 0.5) && inside(&holed, 0.5, 0.5));
    }

    /// The grid's shape, its boundary cells' arc lengths along the loop (within a
    /// cell of the loop's length), and the system's solution of a harmonic function
    /// from its boundary values: `x + 2y` is harmonic, so it is exact inside.
    #[test]
    fn grid_and_harmonic_extension() {
        let grid = SoapGrid::new("s(x,y)", square(), 41).unwrap();
        assert_eq!((grid.nx, grid.ny), (41, 21));
        assert!((grid.h - 0.05).abs() < 1e-15);
        let max_arc = grid.arc.iter().fold(0.0_f64, |a, v| a.max(*v));
        assert!(max_arc <= 6.0 && max_arc > 6.0 - 2.0 * grid.h, "{max_arc}");
        let lu = grid.system("s(x,y)").unwrap();
        let n = grid.n_unknowns();
        let mut rhs = Array2::<f64>::zeros((n, 1));
        for i in 0..grid.nx {
            for j in 0..grid.ny {
                let s = grid.at(i, j);
                if s >= 0 && (s as usize) < grid.n_boundary() {
                    let (x, y) = grid.centre(i, j);
                    rhs[(s as usize, 0)] = x + 2.0 * y;
                }
            }
        }
        let u = SoapGrid::solve(&lu, &rhs);
        for i in 0..grid.nx {
            for j in 0..grid.ny {
                let s = grid.at(i, j);
                if s >= 0 {
                    let (x, y) = grid.centre(i, j);
                    assert!((u[(s as usize, 0)] - (x + 2.0 * y)).abs() < 1e-9);
                }
            }
        }
        // Bilinear interpolation reproduces it between centres; outside is NaN.
        let mut out = vec![0.0; 3];
        grid.interpolate(&u, &[0.73, 1.91, 2.5], &[0.37, 0.52, 0.5], &mut out);
        assert!((out[0] - (0.73 + 0.74)).abs() < 1e-9 && (out[1] - (1.91 + 1.04)).abs() < 1e-9);
        assert!(out[2].is_nan());
    }
}
