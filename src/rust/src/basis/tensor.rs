//! Tensor product smooths, mgcv's `te()` and `ti()` (Wood 2006, Biometrics
//! 62:1025-1036; Wood 2017 §5.6).
//!
//! Each margin is a basis of one or more covariates (`cr`, `cc`, `ps`, `cp`, `bs`,
//! `mrf`, `gp`, `tp`). The
//! tensor basis at a row is the Kronecker product of the margins' rows (first margin
//! slowest), and there is one penalty per margin, `I ⊗ .. ⊗ S_j ⊗ .. ⊗ I`, so that
//! each direction is smoothed by a parameter of its own and the smooth is invariant
//! to the covariates' units.
//!
//! As mgcv (`np = TRUE`), a one-dimensional `ps`, `bs`, `gp` or `tp` margin is
//! reparameterized so
//! that its coefficients are the function's values at `k` evenly spaced points over
//! the covariate's range: the identity in the other margins' penalties then means the
//! same thing whatever the basis (`cr` and `cc` are parameterized that way already).
//! Each margin's penalty is then divided by its largest eigenvalue.
//!
//! `ti()` leaves out the main effects: every margin carries its own sum-to-zero
//! constraint, so the product contains no function of fewer covariates, and the
//! tensor itself needs no further constraint.

use ndarray::{Array2, ArrayView2, Axis};

use super::constraint::SumToZero;
use super::registry::{Basis, Built, ClassArgs, ClassEntry, RawBasis};
use super::state::{decode_margins, encode_margins, Fields, State};
use super::{rows, CHUNK_ROWS};
use crate::error::{EngineError, Result};
use crate::linalg::{sym_eigen, symmetrize};

/// One margin of a tensor product as the R layer gives it.
#[derive(Debug, Clone)]
pub struct MarginSpec {
    pub class: &'static ClassEntry,
    pub k: Option<usize>,
    /// Number of covariates (consecutive in the term's covariates).
    pub dim: usize,
    pub m: Vec<usize>,
    pub knots: Option<Vec<f64>>,
    /// The knots are a subsample of the data (as `SmoothSpec::knots_sampled`).
    pub knots_sampled: bool,
    /// A penalty the spec gives (a Markov random field margin's).
    pub penalty: Option<Array2<f64>>,
    /// Real-valued settings of the class (a Gaussian process margin's `m`); empty
    /// for the default.
    pub parameters: Vec<f64>,
}

#[derive(Debug, Clone)]
pub struct Margin {
    pub basis: Basis,
    pub dim: usize,
    /// `ti()`: the margin's own sum-to-zero constraint.
    pub constraint: Option<SumToZero>,
    /// `np = TRUE`: maps the (constrained) basis to values at evenly spaced points.
    pub reparam: Option<Array2<f64>>,
}

impl MarginSpec {
    /// The margin's basis built on its covariates `vars`. A class that cannot be a
    /// margin is refused (the R layer refuses it first, naming the term's argument).
    pub fn build(&self, label: &str, vars: &[&[f64]]) -> Result<Built> {
        if !self.class.margin {
            return Err(EngineError::InvalidSpec {
                what: format!(
                    "`{label}`: a margin has basis \"{}\"; margins can be \"{}\"",
                    self.class.name,
                    super::registry::margin_names().join("\", \"")
                ),
            });
        }
        let args = ClassArgs {
            label,
            vars,
            k: self.k,
            m: &self.m,
            knots: self.knots.as_deref(),
            parameters: &self.parameters,
            penalty: self.penalty.as_ref(),
            threads: 1,
        };
        (self.class.build)(&args)
    }

    /// A margin of class `bs` with dimension `k` on `dim` covariates, every other
    /// setting at its default.
    #[cfg(test)]
    pub fn for_tests(bs: &str, k: usize, dim: usize) -> MarginSpec {
        let class = super::registry::class_entry(bs).expect("a registered class");
        MarginSpec {
            class,
            k: Some(k),
            dim,
            m: Vec::new(),
            knots: None,
            knots_sampled: false,
            penalty: None,
            parameters: Vec::new(),
        }
    }
}

impl Margin {
    pub fn width(&self) -> usize {
        self.basis.width() - usize::from(self.constraint.is_some())
    }

    /// The margin's columns at `vars` (`rows x width()`).
    pub fn matrix(&self, vars: &[&[f64]]) -> Array2<f64> {
        let raw = self.basis.matrix(vars);
        let x = match &self.constraint {
            Some(c) => c.apply_columns(&raw),
            None => raw,
        };
        match &self.reparam {
            Some(p) => crate::linalg::matmul(x.view(), p.view(), 1),
            None => x,
        }
    }
}

#[derive(Debug, Clone)]
pub struct TensorBasis {
    pub margins: Vec<Margin>,
    /// `ti()` rather than `te()`.
    pub interaction: bool,
}

impl TensorBasis {
    /// Builds the margins on the data and returns the basis with its penalties, one per
    /// margin (unscaled: the caller scales them as every smooth's).
    pub fn construct(
        label: &str,
        vars: &[&[f64]],
        margins: &[MarginSpec],
        interaction: bool,
    ) -> Result<(TensorBasis, Vec<Array2<f64>>)> {
        let dims: usize = margins.iter().map(|m| m.dim).sum();
        if margins.is_empty() || dims != vars.len() || margins.iter().any(|m| m.dim == 0) {
            return Err(EngineError::InvalidSpec {
                what: format!("`{label}`: the margins' dimensions must add up to the {} covariates", vars.len()),
            });
        }
        let mut built = Vec::with_capacity(margins.len());
        let mut penalties = Vec::with_capacity(margins.len());
        let mut at = 0;
        for (i, spec) in margins.iter().enumerate() {
            let mv = &vars[at..at + spec.dim];
            at += spec.dim;
            let (basis, s, _) = spec.build(label, mv)?.single(label)?;
            // (A class without a sum-to-zero constraint of its own, a soap film's
            // interior part, keeps none as a ti() margin, as mgcv's smoothCon().)
            let constraint = (interaction && !spec.class.unconstrained()).then(|| {
                let x = basis.matrix(mv);
                let means: Vec<f64> = x.mean_axis(Axis(0)).expect("rows").to_vec();
                SumToZero::new(&means)
            });
            let mut s = match &constraint {
                Some(c) => c.apply_penalty(&s),
                None => s,
            };
            let mut margin = Margin { basis, dim: spec.dim, constraint, reparam: None };
            if spec.dim == 1 && !spec.class.values_parameterized {
                if let Some(p) = value_reparam(&margin, mv[0]) {
                    s = p.t().dot(&s).dot(&p);
                    symmetrize(&mut s);
                    margin.reparam = Some(p);
                }
            }
            let top = sym_eigen(s.view()).0.last().copied().unwrap_or(0.0);
            if !(top > 0.0) {
                return Err(EngineError::InvalidSpec { what: format!("`{label}`: margin {} has no penalty", i + 1) });
            }
            penalties.push(s / top);
            built.push(margin);
        }
        let widths: Vec<usize> = built.iter().map(|m| m.width()).collect();
        let tensor_penalties = (0..penalties.len()).map(|j| kronecker_penalty(&penalties, &widths, j)).collect();
        Ok((TensorBasis { margins: built, interaction }, tensor_penalties))
    }
}

impl RawBasis for TensorBasis {
    const STORED: &'static [&'static str] = &["te", "ti"];

    fn class(&self) -> &'static str {
        if self.interaction {
            "ti"
        } else {
            "te"
        }
    }

    fn n_vars(&self) -> Option<usize> {
        Some(self.margins.iter().map(|m| m.dim).sum())
    }

    fn width(&self) -> usize {
        self.margins.iter().map(|m| m.width()).product()
    }

    /// The tensor basis at `vars`, row-major into `out` (`rows x width()`): each row
    /// the Kronecker product of the margins' rows, the first margin varying slowest.
    fn fill_raw(&self, vars: &[&[f64]], out: &mut [f64]) {
        let mut at = 0;
        let parts: Vec<Array2<f64>> = self
            .margins
            .iter()
            .map(|m| {
                let x = m.matrix(&vars[at..at + m.dim]).as_standard_layout().into_owned();
                at += m.dim;
                x
            })
            .collect();
        let width = self.width();
        for (r, dst) in out.chunks_exact_mut(width).enumerate() {
            // Expand in place, one margin at a time: entry `a` of the product so far
            // becomes entries `a w .. a w + w - 1`. Going down from the last entry,
            // every write lands at or beyond the entry being read.
            dst[0] = 1.0;
            let mut len = 1;
            for part in &parts {
                let w = part.ncols();
                let row = &part.as_slice().expect("standard layout")[r * w..(r + 1) * w];
                for a in (0..len).rev() {
                    let v = dst[a];
                    for (d, b) in dst[a * w..(a + 1) * w].iter_mut().zip(row) {
                        *d = v * b;
                    }
                }
                len *= w;
            }
        }
    }

    /// `diag(by) X beta` without the rows of `X`: with the coefficients as an array
    /// over the margins' columns (first margin slowest), the last margin is
    /// contracted for a chunk of rows by one matrix product, then each other margin
    /// row by row. That is about `prod(widths)` operations per row, with no row of
    /// `prod(widths)` values written and read again (an exact hit of a 10 x 10 te()
    /// at 1e5 rows spent 15 ms here forming them).
    fn dot(&self, vars: &[&[f64]], beta: &[f64], by: Option<&[f64]>, out: &mut [f64]) {
        let widths: Vec<usize> = self.margins.iter().map(Margin::width).collect();
        let last = *widths.last().expect("a tensor has margins");
        let front = self.width() / last;
        let coefficients = ArrayView2::from_shape((front, last), beta).expect("one coefficient per column");
        let mut start = 0;
        while start < out.len() {
            let len = CHUNK_ROWS.min(out.len() - start);
            let chunk = rows(vars, start, len);
            let mut at = 0;
            let parts: Vec<Array2<f64>> = self
                .margins
                .iter()
                .map(|m| {
                    let x = m.matrix(&chunk[at..at + m.dim]);
                    at += m.dim;
                    x
                })
                .collect();
            // `t[r, f]`: row r's sum over the margins contracted so far, at index f of
            // the margins still to go.
            let mut t = parts[parts.len() - 1].dot(&coefficients.t());
            for part in parts[..parts.len() - 1].iter().rev() {
                let w = part.ncols();
                let rest = t.ncols() / w;
                let mut next = Array2::<f64>::zeros((len, rest));
                for r in 0..len {
                    let row = part.row(r);
                    for f in 0..rest {
                        next[(r, f)] = (0..w).map(|a| t[(r, f * w + a)] * row[a]).sum();
                    }
                }
                t = next;
            }
            for (r, o) in out[start..start + len].iter_mut().enumerate() {
                let v = t[(r, 0)];
                *o += by.map_or(v, |b| v * b[start + r]);
            }
            start += len;
        }
    }

    fn write_state(&self, st: &mut State) {
        st.insert("margins".into(), encode_margins(&self.margins));
    }

    fn read_state(f: &Fields<'_>, class: &str) -> Result<TensorBasis> {
        Ok(TensorBasis { margins: decode_margins(f, f.get("margins")?)?, interaction: class == "ti" })
    }
}

/// `P^-1` for `P` the margin's columns at `width()` evenly spaced points over the
/// covariate's range (mgcv's `np = TRUE`); `None` when `P` is close to singular.
fn value_reparam(margin: &Margin, x: &[f64]) -> Option<Array2<f64>> {
    let w = margin.width();
    let (lo, hi) = x.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| (a.min(*v), b.max(*v)));
    let points: Vec<f64> =
        (0..w).map(|i| if w == 1 { lo } else { lo + (hi - lo) * i as f64 / (w - 1) as f64 }).collect();
    let p = margin.matrix(&[&points]);
    let singular = crate::linalg::singular_values(p.view())?;
    let (large, small) =
        (singular.iter().fold(0.0_f64, |a, v| a.max(*v)), singular.iter().fold(f64::INFINITY, |a, v| a.min(*v)));
    // Skipped (as mgcv does) when the values at the points are close to singular.
    if !(small > crate::linalg::rank_tolerance() * large) {
        return None;
    }
    crate::linalg::inverse(p.view())
}

/// `I ⊗ .. ⊗ S_j ⊗ .. ⊗ I` over margins of widths `widths`.
fn kronecker_penalty(penalties: &[Array2<f64>], widths: &[usize], j: usize) -> Array2<f64> {
    let mut out = Array2::from_elem((1, 1), 1.0);
    for (i, &w) in widths.iter().enumerate() {
        let factor = if i == j { penalties[i].clone() } else { Array2::eye(w) };
        out = kronecker(&out, &factor);
    }
    out
}

fn kronecker(a: &Array2<f64>, b: &Array2<f64>) -> Array2<f64> {
    let (ar, ac) = a.dim();
    let (br, bc) = b.dim();
    Array2::from_shape_fn((ar * br, ac * bc), |(r, c)| a[(r / br, c / bc)] * b[(r % br, c % bc)])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn margin(bs: &str, k: usize, dim: usize) -> MarginSpec {
        MarginSpec::for_tests(bs, k, dim)
    }

    fn data(n: usize) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
        let x: Vec<f64> = (0..n).map(|i| ((i * 37) % n) as f64 / n as f64).collect();
        let z: Vec<f64> = (0..n).map(|i| ((i * 11) % 97) as f64 / 97.0 * 3.0).collect();
        let v: Vec<f64> = (0..n).map(|i| ((i * 53) % 89) as f64 / 89.0 - 0.5).collect();
        (x, z, v)
    }

    /// Each row of the tensor basis is the Kronecker product of the margins' rows.
    #[test]
    fn tensor_rows_are_products_of_margin_rows() {
        let (x, z, v) = data(200);
        for interaction in [false, true] {
            let specs = [margin("cr", 5, 1), margin("tp", 12, 2)];
            let vars: Vec<&[f64]> = vec![&x, &z, &v];
            let (t, _) = TensorBasis::construct("te", &vars, &specs, interaction).unwrap();
            let m1 = t.margins[0].matrix(&vars[..1]);
            let m2 = t.margins[1].matrix(&vars[1..]);
            let (w1, w2) = (m1.ncols(), m2.ncols());
            assert_eq!(t.width(), w1 * w2);
            let mut out = vec![0.0; 200 * w1 * w2];
            t.fill_raw(&vars, &mut out);
            let mut err = 0.0_f64;
            for r in 0..200 {
                for a in 0..w1 {
                    for b in 0..w2 {
                        err = err.max((out[r * w1 * w2 + a * w2 + b] - m1[(r, a)] * m2[(r, b)]).abs());
                    }
                }
            }
            assert!(err < 1e-14, "{err}");
            // ti margins are centred on the data.
            if interaction {
                for col in m1.columns() {
                    assert!(col.sum().abs() < 1e-10);
                }
            }
        }
    }

    /// The penalties against explicit Kronecker products of the margins' penalties.
    /// The contracted product equals the rows' product, for two and three margins
    /// (one of two covariates), te() and ti(), with and without `by`.
    #[test]
    fn dot_without_rows_equals_the_rows_product() {
        let n = CHUNK_ROWS + 300; // more than one chunk of rows
        let (x, z, v) = data(n);
        let by: Vec<f64> = (0..n).map(|i| 0.5 + (i % 7) as f64 / 3.0).collect();
        let cases: [(&[MarginSpec], Vec<&[f64]>); 2] = [
            (&[margin("cr", 5, 1), margin("ps", 6, 1)], vec![&x, &z]),
            (&[margin("cr", 4, 1), margin("tp", 7, 2), margin("cc", 5, 1)], vec![&x, &z, &v, &x]),
        ];
        for (specs, vars) in cases {
            for interaction in [false, true] {
                let (t, _) = TensorBasis::construct("te", &vars, specs, interaction).unwrap();
                let k = t.width();
                let beta: Vec<f64> = (0..k).map(|j| ((j * 37 % 11) as f64 - 5.0) / 3.0).collect();
                let mut raw = vec![0.0; n * k];
                t.fill_raw(&vars, &mut raw);
                for weights in [None, Some(by.as_slice())] {
                    let mut got = vec![1.0; n];
                    t.dot(&vars, &beta, weights, &mut got);
                    for (r, row) in raw.chunks_exact(k).enumerate() {
                        let v: f64 = row.iter().zip(&beta).map(|(a, b)| a * b).sum();
                        let want = 1.0 + weights.map_or(v, |w| v * w[r]);
                        assert!((got[r] - want).abs() < 1e-12 * (1.0 + want.abs()), "{} vs {want}", got[r]);
                    }
                }
            }
        }
    }

    #[test]
    fn kronecker_penalties_match_explicit_construction() {
        let s1 = Array2::from_shape_fn((3, 3), |(i, j)| (1 + i + j) as f64);
        let s2 = Array2::from_shape_fn((2, 2), |(i, j)| if i == j { 2.0 } else { -1.0 });
        let pens = [s1.clone(), s2.clone()];
        let p1 = kronecker_penalty(&pens, &[3, 2], 0);
        let p2 = kronecker_penalty(&pens, &[3, 2], 1);
        for r in 0..6 {
            for c in 0..6 {
                let (i, k) = (r / 2, r % 2);
                let (j, l) = (c / 2, c % 2);
                let want1 = s1[(i, j)] * if k == l { 1.0 } else { 0.0 };
                let want2 = if i == j { 1.0 } else { 0.0 } * s2[(k, l)];
                assert_eq!(p1[(r, c)], want1);
                assert_eq!(p2[(r, c)], want2);
            }
        }
    }

    /// A reparameterized margin's coefficients are its values at evenly spaced points.
    #[test]
    fn reparameterized_margins_interpolate_at_their_points() {
        let (x, _, _) = data(300);
        let specs = [margin("ps", 6, 1), margin("tp", 5, 1)];
        let vars: Vec<&[f64]> = vec![&x, &x];
        let (t, pens) = TensorBasis::construct("te", &vars, &specs, false).unwrap();
        for m in &t.margins {
            assert!(m.reparam.is_some());
            let w = m.width();
            let (lo, hi) =
                (x.iter().cloned().fold(f64::INFINITY, f64::min), x.iter().cloned().fold(f64::NEG_INFINITY, f64::max));
            let pts: Vec<f64> = (0..w).map(|i| lo + (hi - lo) * i as f64 / (w - 1) as f64).collect();
            let p = m.matrix(&[&pts]);
            let err = (&p - &Array2::<f64>::eye(w)).iter().fold(0.0_f64, |a, v| a.max(v.abs()));
            assert!(err < 1e-9, "{err}");
        }
        assert_eq!(pens.len(), 2);
        assert_eq!(pens[0].nrows(), t.width());
    }
}
