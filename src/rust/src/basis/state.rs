//! A constructed smooth as named numeric vectors (a `State`): the R object carries it
//! so that `predict()` can rebuild the basis, and the store keeps it so that an exact
//! hit need not construct the basis from the data again.
//!
//! A tensor product's margins are written into one field, `margins`, as a flat
//! self-describing sequence: the number of margins, then per margin its class (an
//! index into `CLASSES`), its number of covariates and its number of fields, then
//! each field as a name (an index into `STATE_FIELDS`), a length and the values.

use std::collections::BTreeMap;

use ndarray::{Array2, ShapeBuilder};

use super::constraint::SumToZero;
use super::tensor::Margin;
use super::{Basis, Smooth};
use crate::error::{EngineError, Result};

/// Named numeric vectors describing a smooth for prediction.
pub type State = BTreeMap<String, Vec<f64>>;

/// Every name a `State` uses (the store records states by index into this list: append
/// only, never reorder).
pub const STATE_FIELDS: [&str; 26] = [
    "knots",
    "m1",
    "m",
    "shift",
    "points",
    "points_dim",
    "uz",
    "uz_dim",
    "householder",
    "penalty",
    "s_scale",
    "rank",
    "has_by",
    "levels",
    "null_penalty",
    "margins",
    "reparam",
    "deleted",
    "correlation",
    "radial",
    "order",
    "unconstrained",
    "grid",
    "cells",
    "boundary",
    "arc",
];

/// The basis classes (the store records them by index: append only).
pub const CLASSES: [&str; 18] =
    ["cr", "cc", "ps", "tp", "re", "te", "ti", "fs", "mgcv", "cp", "gp", "mrf", "sz", "ds", "sos", "so", "sf", "sw"];

/// Column-major values of a matrix, as R holds them.
pub(super) fn column_major(a: &Array2<f64>) -> Vec<f64> {
    a.t().iter().copied().collect()
}

/// Stores `a` as `name` (column-major) with its dimensions as `dim` (what
/// `Fields::matrix(name, dim)` reads back).
pub(super) fn put_matrix(st: &mut State, name: &str, dim: &str, a: &Array2<f64>) {
    st.insert(name.into(), column_major(a));
    st.insert(dim.into(), vec![a.nrows() as f64, a.ncols() as f64]);
}

impl Smooth {
    pub fn state(&self) -> State {
        let mut st = State::new();
        self.basis.write_state(&mut st);
        if let Some(c) = &self.constraint {
            st.insert("householder".into(), c.u.clone());
        }
        st.insert("penalty".into(), self.penalties.iter().flat_map(column_major).collect());
        st.insert("s_scale".into(), self.s_scale.clone());
        st.insert("rank".into(), vec![self.rank as f64, self.null_space_dim as f64]);
        st.insert("has_by".into(), vec![if self.has_by { 1.0 } else { 0.0 }]);
        if !self.deleted.is_empty() {
            st.insert("deleted".into(), self.deleted.iter().map(|&j| j as f64).collect());
        }
        st
    }

    pub fn from_state(label: &str, class: &str, st: &State) -> Result<Smooth> {
        let fields = Fields { label, st };
        let basis = read_basis(&fields, class)?;
        let constraint = st.get("householder").map(|u| SumToZero { u: u.clone() });
        // The basis, less the constraint's column, must give the penalties' columns.
        let width = basis.width();
        let constrained = match &constraint {
            Some(c) if c.u.len() == width && c.u[0] != 0.0 && width > 1 => width - 1,
            Some(_) => return Err(fields.bad("stored basis and constraint do not fit together")),
            None => width,
        };
        let deleted =
            deleted_columns(st.get("deleted"), constrained).ok_or_else(|| fields.bad("stored `deleted` columns"))?;
        let k = constrained - deleted.len();
        // An unpenalized term (`fx = TRUE`) has none.
        let stored = fields.get("penalty")?;
        let mut penalties = if stored.is_empty() {
            Vec::new()
        } else {
            square_matrices(stored, k).ok_or_else(|| fields.bad("stored penalties do not fit the basis"))?
        };
        // Fits made before tensor products kept `select`'s penalty apart.
        if let Some(v) = st.get("null_penalty") {
            penalties.extend(
                square_matrices(v, k)
                    .filter(|m| m.len() == 1)
                    .ok_or_else(|| fields.bad("stored null-space penalty has the wrong size"))?,
            );
        }
        let rank_field = fields.get("rank")?;
        let rank = fields.count("rank")?.min(k);
        let null_space_dim = match rank_field.get(1) {
            Some(v) if v.is_finite() && *v >= 0.0 && v.fract() == 0.0 => (*v as usize).min(k),
            Some(_) => return Err(fields.bad("stored `rank` is not a count")),
            None if st.contains_key("null_penalty") => 0,
            None => k - rank,
        };
        Ok(Smooth {
            label: label.to_string(),
            basis,
            constraint,
            null_space_dim,
            penalties,
            s_scale: fields.get("s_scale")?.clone(),
            rank,
            has_by: fields.number("has_by")? != 0.0,
            id: None,
            deleted,
        })
    }
}

/// A stored `deleted` field: distinct ascending column indices below `width`, fewer
/// than `width`; none when absent.
fn deleted_columns(values: Option<&Vec<f64>>, width: usize) -> Option<Vec<usize>> {
    let Some(values) = values else { return Some(Vec::new()) };
    let ok = values.len() < width
        && values.iter().all(|v| v.fract() == 0.0 && *v >= 0.0 && *v < width as f64)
        && values.windows(2).all(|w| w[0] < w[1]);
    ok.then(|| values.iter().map(|&v| v as usize).collect())
}

/// `values` split into `k x k` matrices (column-major); `None` unless it holds a whole
/// number of them.
fn square_matrices(values: &[f64], k: usize) -> Option<Vec<Array2<f64>>> {
    let size = k * k;
    if size == 0 || !values.len().is_multiple_of(size) {
        return None;
    }
    Some(values.chunks_exact(size).map(|c| Array2::from_shape_vec((k, k).f(), c.to_vec()).expect("k x k")).collect())
}

/// Typed access to a state's fields, with errors naming the term.
pub struct Fields<'a> {
    label: &'a str,
    st: &'a State,
}

impl Fields<'_> {
    pub fn bad(&self, what: &str) -> EngineError {
        EngineError::InvalidSpec { what: format!("`{}`: {what}", self.label) }
    }

    pub fn has(&self, name: &str) -> bool {
        self.st.contains_key(name)
    }

    pub fn get(&self, name: &str) -> Result<&Vec<f64>> {
        self.st.get(name).ok_or_else(|| self.bad(&format!("stored basis lacks `{name}`")))
    }

    /// A whole, non-negative number (a count or an order) stored as a double.
    pub fn count(&self, name: &str) -> Result<usize> {
        match self.get(name)?.first() {
            Some(v) if v.is_finite() && *v >= 0.0 && v.fract() == 0.0 => Ok(*v as usize),
            _ => Err(self.bad(&format!("stored `{name}` is not a count"))),
        }
    }

    pub fn number(&self, name: &str) -> Result<f64> {
        self.get(name)?.first().copied().ok_or_else(|| self.bad(&format!("stored `{name}` is empty")))
    }

    /// A matrix stored column-major with its shape in `dim`.
    pub fn matrix(&self, name: &str, dim: &str) -> Result<Array2<f64>> {
        let d = self.get(dim)?;
        if d.len() != 2 || d.iter().any(|v| !(v.is_finite() && *v >= 0.0 && v.fract() == 0.0)) {
            return Err(self.bad(&format!("stored `{dim}` is not a shape")));
        }
        Array2::from_shape_vec((d[0] as usize, d[1] as usize).f(), self.get(name)?.clone())
            .map_err(|_| self.bad(&format!("stored `{name}` has the wrong size")))
    }

    pub fn knots(&self, min: usize) -> Result<Vec<f64>> {
        let k = self.get("knots")?;
        if k.len() < min || k.windows(2).any(|w| !(w[0] < w[1])) {
            return Err(self.bad(&format!("stored knots must be at least {min} increasing values")));
        }
        Ok(k.clone())
    }
}

fn read_basis(f: &Fields<'_>, class: &str) -> Result<Basis> {
    Basis::read_state(f, class).unwrap_or_else(|| Err(f.bad(&format!("unknown basis \"{class}\""))))
}

pub(super) fn encode_margins(margins: &[Margin]) -> Vec<f64> {
    let mut out = vec![margins.len() as f64];
    for m in margins {
        let mut st = State::new();
        m.basis.write_state(&mut st);
        if let Some(c) = &m.constraint {
            st.insert("householder".into(), c.u.clone());
        }
        if let Some(p) = &m.reparam {
            st.insert("reparam".into(), column_major(p));
        }
        let class = CLASSES.iter().position(|c| *c == m.basis.class()).expect("a listed class");
        out.extend([class as f64, m.dim as f64, st.len() as f64]);
        for (name, values) in &st {
            let index = STATE_FIELDS.iter().position(|f| f == name).expect("a listed field");
            out.extend([index as f64, values.len() as f64]);
            out.extend(values);
        }
    }
    out
}

pub(super) fn decode_margins(f: &Fields<'_>, values: &[f64]) -> Result<Vec<Margin>> {
    let bad = || f.bad("stored tensor margins are damaged");
    let mut rest = values;
    let mut take = |n: usize| -> Result<&[f64]> {
        if rest.len() < n {
            return Err(bad());
        }
        let (head, tail) = rest.split_at(n);
        rest = tail;
        Ok(head)
    };
    let as_count = |v: f64, max: usize| -> Result<usize> {
        if v.is_finite() && v >= 0.0 && v.fract() == 0.0 && v <= max as f64 {
            Ok(v as usize)
        } else {
            Err(bad())
        }
    };
    let n_margins = as_count(take(1)?[0], values.len())?;
    let mut margins = Vec::with_capacity(n_margins.min(16));
    for _ in 0..n_margins {
        let head = take(3)?;
        let class = *CLASSES.get(as_count(head[0], CLASSES.len())?).ok_or_else(bad)?;
        let (dim, n_fields) = (as_count(head[1], values.len())?, as_count(head[2], STATE_FIELDS.len())?);
        let mut st = State::new();
        for _ in 0..n_fields {
            let h = take(2)?;
            let name = STATE_FIELDS.get(as_count(h[0], STATE_FIELDS.len())?).ok_or_else(bad)?;
            let len = as_count(h[1], values.len())?;
            st.insert(name.to_string(), take(len)?.to_vec());
        }
        if matches!(class, "te" | "ti" | "re" | "fs") || dim == 0 {
            return Err(bad());
        }
        let basis = read_basis(&Fields { label: f.label, st: &st }, class)?;
        if basis.n_vars() != Some(dim) {
            return Err(bad());
        }
        let constraint = st.get("householder").map(|u| SumToZero { u: u.clone() });
        if constraint.as_ref().is_some_and(|c| c.u.len() != basis.width() || c.u[0] == 0.0) {
            return Err(bad());
        }
        let width = basis.width() - usize::from(constraint.is_some());
        let reparam = match st.get("reparam") {
            Some(v) => Some(square_matrices(v, width).filter(|m| m.len() == 1).ok_or_else(bad)?.remove(0)),
            None => None,
        };
        margins.push(Margin { basis, dim, constraint, reparam });
    }
    if !rest.is_empty() || margins.is_empty() {
        return Err(bad());
    }
    Ok(margins)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::basis::tensor::MarginSpec;
    use crate::basis::{construct, SmoothSpec};

    /// A smooth rebuilt from its state predicts exactly as the one constructed from
    /// the data, for every class including tensor products and `select`.
    #[test]
    #[allow(clippy::type_complexity)] // a table of cases
    fn smooths_rebuilt_from_their_state_predict_the_same() {
        let n = 120;
        let x: Vec<f64> = (0..n).map(|i| ((i * 37) % n) as f64 / n as f64).collect();
        let z: Vec<f64> = (0..n).map(|i| ((i * 11) % 97) as f64 / 97.0).collect();
        let margin = |bs: &str, k: usize| MarginSpec::for_tests(bs, k, 1);
        let cases: Vec<(&str, Vec<Vec<f64>>, Vec<MarginSpec>, bool)> = vec![
            ("cr", vec![x.clone()], vec![], true),
            ("ps", vec![x.clone()], vec![], false),
            ("cp", vec![x.clone()], vec![], true),
            ("bs", vec![x.clone()], vec![], false),
            ("gp", vec![x.clone(), z.clone()], vec![], false),
            ("ds", vec![x.clone(), z.clone()], vec![], true),
            (
                "sos",
                vec![x.iter().map(|v| v * 120.0 - 60.0).collect(), z.iter().map(|v| v * 300.0).collect()],
                vec![],
                false,
            ),
            ("tp", vec![x.clone(), z.clone()], vec![], false),
            ("te", vec![x.clone(), z.clone()], vec![margin("ps", 5), margin("tp", 4)], false),
            ("ti", vec![x.clone(), z.clone()], vec![margin("cr", 4), margin("cc", 5)], true),
            ("fs", vec![x.clone(), (0..n).map(|i| (1 + i % 4) as f64).collect()], vec![margin("tp", 5)], false),
        ];
        let sphere = cases.iter().find(|c| c.0 == "sos").map(|c| c.1.clone()).expect("a sphere case");
        // (A spline on the sphere of another order than mgcv's default keeps it.)
        let orders = [SmoothSpec { parameters: vec![-1.0], ..SmoothSpec::for_tests("sos", "sos", 7, sphere.clone()) }];
        let specs = cases.into_iter().map(|(bs, vars, margins, select)| {
            // A factor smooth's k is its number of levels.
            let k = if bs == "fs" { 4 } else { 6 };
            SmoothSpec { centre: bs != "fs", select, margins, ..SmoothSpec::for_tests(bs, bs, k, vars) }
        });
        for spec in specs.chain(orders) {
            let (bs, vars) = (spec.label.to_string(), spec.vars.iter().map(|v| v.to_vec()).collect::<Vec<_>>());
            let sm = construct(&spec).unwrap();
            let st = sm.state();
            for name in st.keys() {
                assert!(STATE_FIELDS.contains(&name.as_str()), "{name}");
            }
            assert!(CLASSES.contains(&sm.basis.class()));
            let back = Smooth::from_state(&bs, sm.basis.class(), &st).unwrap();
            let refs: Vec<&[f64]> = vars.iter().map(|v| v.as_slice()).collect();
            assert_eq!(back.predict_matrix(&refs, None), sm.predict_matrix(&refs, None), "{bs}");
            assert_eq!(back.penalties, sm.penalties, "{bs}");
            assert_eq!((back.rank, back.null_space_dim), (sm.rank, sm.null_space_dim), "{bs}");
        }
    }

    /// A damaged margin encoding is an error, never a panic.
    #[test]
    fn damaged_margins_are_errors() {
        let st: State = [("margins".to_string(), vec![2.0, 0.0, 1.0, 5.0, 0.0, 3.0])].into_iter().collect();
        let f = Fields { label: "te", st: &st };
        assert!(read_basis(&f, "te").is_err());
        let st: State = [("margins".to_string(), vec![1e300])].into_iter().collect();
        assert!(read_basis(&Fields { label: "te", st: &st }, "ti").is_err());
    }
}
