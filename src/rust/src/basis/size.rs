//! Upper bounds on a term's size, known from its spec before anything is built: its
//! number of columns and how many numbers its stored state holds. They bound what a
//! store entry of the model can be (a larger file is not read) and what the model
//! needs in memory (a model that cannot fit is refused before allocating, instead of
//! aborting the R session when an allocation fails).

use super::registry::{Kind, SizeArgs};
use super::tensor::MarginSpec;
use super::SmoothSpec;

/// Columns and state values of a cubic or P-spline class (`cr`, `cs`, `cc`, `ps`): at
/// most `k` (or the given knots') columns and a few more, the knots and the dense
/// matrices.
pub(super) fn spline_bounds(a: &SizeArgs<'_>) -> (usize, usize) {
    let given_knots = a.knots.map_or(0, |k| k.len());
    let k = a.k.unwrap_or(10).max(given_knots);
    (k + 8, given_knots + k + dense_state(k + 8))
}

/// A term's penalties, constraint and reparametrization: a few `k x k` matrices.
pub(super) fn dense_state(k: usize) -> usize {
    k.saturating_mul(k).saturating_mul(6).saturating_add(16 * k + 64)
}

fn margin_bounds(m: &MarginSpec, rows: usize) -> (usize, usize) {
    let penalty_dim = m.penalty.as_ref().map(|s| s.nrows());
    (m.class.bounds)(&SizeArgs {
        k: m.k,
        dim: m.dim,
        m: &m.m,
        knots: m.knots.as_deref(),
        rows,
        penalty_dim,
        parameters: &m.parameters,
    })
}

impl SmoothSpec<'_> {
    /// Rows the basis is built from (all terms of an `id` pooled).
    fn build_rows(&self) -> usize {
        self.pooled.as_ref().and_then(|p| p.first()).or(self.vars.first()).map_or(0, |v| v.len())
    }

    /// At most how many penalties as wide as the term it builds: a tensor product one
    /// per margin, an adaptive smooth one per weight function, a B-spline one per
    /// derivative order, one more with `select`. (An adaptive smooth of two
    /// covariates has nine by default: at k = 150 a margin, 16 GiB of them.)
    pub fn max_penalties(&self) -> usize {
        let own = match (self.kind, self.m.as_slice()) {
            (Kind::Tensor { .. }, _) => self.margins.len(),
            (Kind::Adaptive, []) => {
                if self.margins.len() == 1 {
                    5
                } else {
                    9
                }
            }
            (Kind::Adaptive, [kp]) if self.margins.len() == 1 => *kp,
            (Kind::Adaptive, [a]) => a.saturating_mul(*a),
            (Kind::Adaptive, [a, b, ..]) => a.saturating_mul(*b),
            (Kind::Class(c), m) if c.name == "bs" => m.len().saturating_sub(1),
            _ => 1,
        };
        own.max(1) + usize::from(self.select)
    }

    /// At least the term's number of columns, and at least the numbers its stored
    /// state holds.
    pub fn size_bounds(&self) -> (usize, usize) {
        let rows = self.build_rows();
        match self.kind {
            Kind::Tensor { .. } | Kind::Adaptive => {
                let margins: Vec<(usize, usize)> = self.margins.iter().map(|m| margin_bounds(m, rows)).collect();
                let width = margins.iter().fold(1usize, |a, (w, _)| a.saturating_mul(*w));
                let state = margins.iter().fold(dense_state(width), |a, (_, s)| a.saturating_add(*s));
                (width, state)
            }
            Kind::FactorSmooth | Kind::SumToZeroFactor => {
                let levels = self.k.unwrap_or(rows);
                let (w, s) = self.margins.first().map_or((rows, rows), |m| margin_bounds(m, rows));
                let width = levels.saturating_mul(w);
                (width, s.saturating_add(levels).saturating_add(dense_state(width)))
            }
            Kind::Given => {
                let width = self.given.as_ref().map_or(0, |g| g.x.ncols());
                (width, dense_state(width))
            }
            Kind::Class(class) => (class.bounds)(&SizeArgs {
                k: self.k,
                dim: self.vars.len(),
                m: &self.m,
                knots: self.knots.as_deref(),
                rows,
                penalty_dim: self.penalty.as_ref().map(|s| s.nrows()),
                parameters: &self.parameters,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::basis::construct;
    use ndarray::Array2;

    fn margin(bs: &str, k: usize) -> MarginSpec {
        MarginSpec::for_tests(bs, k, 1)
    }

    /// The bounds hold for every class (the columns built, the state stored).
    #[test]
    fn bounds_cover_what_is_built() {
        let mut next = crate::fit::uniform_stream(11);
        let n = 300;
        let x: Vec<f64> = (0..n).map(|_| next()).collect();
        let z: Vec<f64> = (0..n).map(|_| next()).collect();
        let g: Vec<f64> = (0..n).map(|i| (1 + i % 7) as f64).collect();
        let specs = vec![
            SmoothSpec::for_tests("s(x)", "cr", 10, vec![x.clone()]),
            SmoothSpec::for_tests("s(x)", "cc", 8, vec![x.clone()]),
            SmoothSpec::for_tests("s(x)", "ps", 12, vec![x.clone()]),
            SmoothSpec::for_tests("s(x)", "cp", 12, vec![x.clone()]),
            SmoothSpec { m: vec![3, 2, 1], ..SmoothSpec::for_tests("s(x)", "bs", 12, vec![x.clone()]) },
            SmoothSpec { k: None, ..SmoothSpec::for_tests("s(x,z)", "gp", 0, vec![x.clone(), z.clone()]) },
            SmoothSpec { k: None, ..SmoothSpec::for_tests("s(x,z)", "ds", 0, vec![x.clone(), z.clone()]) },
            SmoothSpec { k: None, ..SmoothSpec::for_tests("s(x,z)", "tp", 30, vec![x.clone(), z.clone()]) },
            SmoothSpec::for_tests("s(x)", "tp", 10, vec![x.clone()]),
            SmoothSpec { centre: false, ..SmoothSpec::for_tests("s(g)", "re", 7, vec![g.clone()]) },
            SmoothSpec {
                k: None,
                margins: vec![margin("cr", 5), margin("tp", 6)],
                ..SmoothSpec::for_tests("te(x,z)", "te", 0, vec![x.clone(), z.clone()])
            },
            SmoothSpec {
                k: None,
                margins: vec![margin("ps", 20)],
                ..SmoothSpec::for_tests("s(x)", "ad", 0, vec![x.clone()])
            },
            SmoothSpec {
                k: None,
                margins: vec![margin("ps", 8), margin("ps", 8)],
                ..SmoothSpec::for_tests("te(x,z)", "ad", 0, vec![x.clone(), z.clone()])
            },
            SmoothSpec {
                margins: vec![margin("tp", 5)],
                centre: false,
                ..SmoothSpec::for_tests("s(x,g)", "fs", 7, vec![x.clone(), g.clone()])
            },
            SmoothSpec {
                margins: vec![margin("cr", 5)],
                centre: false,
                ..SmoothSpec::for_tests("s(g,x)", "sz", 7, vec![x.clone(), g.clone()])
            },
            SmoothSpec {
                k: None,
                penalty: Some(Array2::from_shape_fn((7, 7), |(i, j)| match i.abs_diff(j) {
                    0 => 2.0,
                    1 => -1.0,
                    _ => 0.0,
                })),
                ..SmoothSpec::for_tests("s(g)", "mrf", 0, vec![g.clone()])
            },
        ];
        for spec in &specs {
            let sm = construct(spec).unwrap();
            let (width, state) = spec.size_bounds();
            let stored: usize = sm.state().values().map(|v| v.len()).sum();
            assert!(sm.basis.width() <= width, "{}: {} columns > {width}", spec.kind.name(), sm.basis.width());
            assert!(stored <= state, "{}: {stored} state values > {state}", spec.kind.name());
        }
    }
}
