//! Cyclic P-splines (`bs = "cp"`; Eilers & Marx 1996, Wood 2017 §5.3.3 and mgcv's
//! `smooth.construct.cp.smooth.spec`): B-splines on `k + 1` evenly spaced knots from
//! the smallest to the largest covariate value, wrapped so that the curve and its
//! derivatives join at the two ends, with a cyclic difference penalty.
//!
//! The wrapped basis is the periodic sum of ordinary B-splines: with period
//! `P = knots[k] - knots[0]` and the knot sequence continued periodically
//! (`t_{i + k} = t_i + P`), column `j` at `x` is `sum_m B_j(x + m P)`. For `x` in the
//! knot range this is the `order` B-splines that are non-zero there, on the continued
//! sequence, each folded onto its column modulo `k`. Values outside the range are
//! wrapped onto it first.

use ndarray::Array2;

use super::knots::r_seq;
use super::ps::bspline_local;
use super::registry::{one_covariate_basis, Basis, Built, ClassArgs, ClassEntry, RawBasis};
use super::size::spline_bounds;
use super::state::{Fields, State};
use crate::error::{EngineError, Result};

#[derive(Debug, Clone)]
pub struct CpBasis {
    /// The `k + 1` knots of one period; the first and last are the cycle's ends.
    pub knots: Vec<f64>,
    /// B-spline order (degree + 1): `m[1] + 2`.
    pub order: usize,
    /// One period's knots continued by `order` knots at each end (`extended[order + i]
    /// = knots[i]`).
    extended: Vec<f64>,
}

impl CpBasis {
    /// `s(x, bs = "cp", k = k, m = c(m1, m2))`: `k` cyclic B-splines of degree `m1 + 1`
    /// and a cyclic order-`m2` difference penalty. `knots`: the `k + 1` knots, or the
    /// two ends of the cycle (which must contain the data).
    pub fn construct(
        label: &str,
        x: &[f64],
        k: usize,
        m1: usize,
        m2: usize,
        knots: Option<&[f64]>,
    ) -> Result<(CpBasis, Array2<f64>)> {
        let order = m1 + 2;
        if k < order {
            return Err(EngineError::BadBasisDimension {
                term: label.to_string(),
                k,
                reason: format!("a cyclic P-spline of order {order} needs k >= {order}"),
            });
        }
        if m2 >= k {
            return Err(EngineError::BadBasisDimension {
                term: label.to_string(),
                k,
                reason: format!("a cyclic order-{m2} difference penalty needs k > {m2}"),
            });
        }
        let (lo, hi) = x.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &v| (a.min(v), b.max(v)));
        let knots = match knots {
            None => r_seq(lo, hi, k + 1),
            Some([a, b]) => {
                let (a, b) = (a.min(*b), a.max(*b));
                if a > lo || b < hi {
                    return Err(EngineError::InvalidSpec {
                        what: format!(
                            "`{label}`: the knot range [{a}, {b}] of a cyclic P-spline does not include the data"
                        ),
                    });
                }
                r_seq(a, b, k + 1)
            }
            Some(given) if given.len() == k + 1 => {
                let mut kn = given.to_vec();
                kn.sort_by(|a, b| a.total_cmp(b));
                kn
            }
            Some(given) => {
                return Err(EngineError::InvalidSpec {
                    what: format!(
                    "`{label}`: a cyclic P-spline with k = {k} needs {} knots (or the two ends of the cycle), not {}",
                    k + 1,
                    given.len()
                ),
                })
            }
        };
        if knots.windows(2).any(|w| !(w[1] > w[0])) {
            return Err(EngineError::InvalidSpec {
                what: format!("`{label}`: the knots of a cyclic P-spline must be distinct (the covariate must vary)"),
            });
        }
        let basis = CpBasis::from_knots(knots, order);
        Ok((basis, cyclic_difference_penalty(k, m2)))
    }

    fn from_knots(knots: Vec<f64>, order: usize) -> CpBasis {
        let k = knots.len() - 1;
        let period = knots[k] - knots[0];
        // Knot `i` of the periodic continuation, for any integer `i`.
        let at = |i: isize| {
            let (cycle, j) = (i.div_euclid(k as isize), i.rem_euclid(k as isize) as usize);
            knots[j] + cycle as f64 * period
        };
        let extended = (-(order as isize)..(k + order) as isize + 1).map(at).collect();
        CpBasis { knots, order, extended }
    }

    pub fn ncoef(&self) -> usize {
        self.knots.len() - 1
    }

    /// `x` moved by whole periods into the knot range (mgcv's `cwrap`).
    fn wrap(&self, x: f64) -> f64 {
        let (lo, hi) = (self.knots[0], self.knots[self.ncoef()]);
        let period = hi - lo;
        if x > hi {
            lo + (x - hi).rem_euclid(period)
        } else if x < lo {
            hi - (lo - x).rem_euclid(period)
        } else {
            x
        }
    }

    /// Calls `each(column, value)` for the `order` basis functions non-zero at `x`.
    fn local(&self, x: f64, work: &mut [f64], mut each: impl FnMut(usize, f64)) {
        let k = self.ncoef();
        let first = bspline_local(&self.extended, self.order, self.wrap(x), work);
        for (i, v) in work[..self.order].iter().enumerate() {
            // Extended B-spline `s = first + i` starts at knot `s - order` of the
            // period; mgcv's column `c` starts at knot `c - order + 1`.
            let col = (first + i + k - 1) % k;
            each(col, *v);
        }
    }

    pub fn matrix(&self, x: &[f64]) -> Array2<f64> {
        let k = self.ncoef();
        let mut out = vec![0.0; x.len() * k];
        self.fill_x(x, &mut out);
        Array2::from_shape_vec((x.len(), k), out).expect("row-major shape")
    }

    fn fill_x(&self, x: &[f64], out: &mut [f64]) {
        let k = self.ncoef();
        let mut work = vec![0.0; 3 * self.order];
        for (row, &xi) in out.chunks_exact_mut(k).zip(x) {
            row.fill(0.0);
            self.local(xi, &mut work, |c, v| row[c] += v);
        }
    }

    fn dot_x(&self, x: &[f64], beta: &[f64], by: Option<&[f64]>, out: &mut [f64]) {
        let mut work = vec![0.0; 3 * self.order];
        for (r, (o, &xi)) in out.iter_mut().zip(x).enumerate() {
            let mut v = 0.0;
            self.local(xi, &mut work, |c, b| v += b * beta[c]);
            *o += by.map_or(v, |b| v * b[r]);
        }
    }
}

/// `D'D` for the cyclic order-`m2` difference matrix `D` on `k` coefficients (row `i`
/// differences coefficients `i, .., i + m2` modulo `k`). Any cyclic shift of the rows'
/// starting column gives the same `D'D`, as circulant matrices commute with shifts.
fn cyclic_difference_penalty(k: usize, m2: usize) -> Array2<f64> {
    // Coefficients of the m2-th difference: (-1)^(m2 - j) C(m2, j).
    let mut coef = vec![1.0];
    for _ in 0..m2 {
        let mut next = vec![0.0; coef.len() + 1];
        for (j, c) in coef.iter().enumerate() {
            next[j] -= c;
            next[j + 1] += c;
        }
        coef = next;
    }
    let mut d = Array2::zeros((k, k));
    for i in 0..k {
        for (j, c) in coef.iter().enumerate() {
            d[(i, (i + j) % k)] += c;
        }
    }
    d.t().dot(&d)
}

impl RawBasis for CpBasis {
    const STORED: &'static [&'static str] = &["cp"];

    fn class(&self) -> &'static str {
        "cp"
    }

    fn width(&self) -> usize {
        self.ncoef()
    }

    one_covariate_basis!();

    fn write_state(&self, st: &mut State) {
        st.insert("knots".into(), self.knots.clone());
        st.insert("m1".into(), vec![(self.order - 2) as f64]);
    }

    fn read_state(f: &Fields<'_>, _: &str) -> Result<CpBasis> {
        let order = f.count("m1")? + 2;
        Ok(CpBasis::from_knots(f.knots(order + 1)?, order))
    }
}

/// `bs = "cp"`, with `m = c(basis order - 2, penalty order)` (one value: both).
pub const CP: ClassEntry =
    ClassEntry { name: "cp", margin: true, values_parameterized: false, build: build_cp, bounds: spline_bounds };

fn build_cp(a: &ClassArgs<'_>) -> Result<Built> {
    a.check_scale(3)?;
    let m1 = a.m.first().copied().unwrap_or(2);
    let m2 = a.m.get(1).copied().unwrap_or(m1);
    let k = a.k.unwrap_or(10.max(m1));
    let (b, penalty) = CpBasis::construct(a.label, a.one_covariate("cp")?, k, m1, m2, a.knots)?;
    Ok(Built::one(Basis::Cp(b), penalty, None))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The wrapped basis is a partition of unity, periodic, and continuous with its
    /// first derivatives across the ends; the penalty annihilates constants only.
    #[test]
    fn periodic_partition_of_unity() {
        let x: Vec<f64> = (0..200).map(|i| 0.3 + 2.0 * i as f64 / 199.0).collect();
        let (b, s) = CpBasis::construct("s(x)", &x, 12, 2, 2, None).unwrap();
        let (lo, hi) = (b.knots[0], b.knots[12]);
        let pts: Vec<f64> = (0..50).map(|i| lo + (hi - lo) * i as f64 / 49.0).collect();
        let m = b.matrix(&pts);
        for r in 0..pts.len() {
            assert!((m.row(r).sum() - 1.0).abs() < 1e-12);
        }
        let period = hi - lo;
        let a = b.matrix(&[lo + 0.123, lo + 0.123 + period, lo + 0.123 - 2.0 * period]);
        for c in 0..12 {
            assert!((a[(0, c)] - a[(1, c)]).abs() < 1e-12 && (a[(0, c)] - a[(2, c)]).abs() < 1e-12);
        }
        let e = 1e-7;
        let ends = b.matrix(&[lo, lo + e, hi - e, hi]);
        for c in 0..12 {
            assert!((ends[(0, c)] - ends[(3, c)]).abs() < 1e-12);
            let (left, right) = ((ends[(3, c)] - ends[(2, c)]) / e, (ends[(1, c)] - ends[(0, c)]) / e);
            assert!((left - right).abs() < 1e-5, "column {c}: slopes {left} and {right}");
        }
        let ones = ndarray::Array1::ones(12);
        assert!(s.dot(&ones).iter().all(|v| v.abs() < 1e-12));
        assert_eq!(crate::basis::penalty_rank(&s), 11);
    }

    #[test]
    fn refuses_what_it_cannot_build() {
        let x: Vec<f64> = (0..50).map(|i| i as f64).collect();
        assert!(CpBasis::construct("s(x)", &x, 3, 2, 2, None).is_err());
        assert!(CpBasis::construct("s(x)", &x, 10, 2, 2, Some(&[1.0, 40.0])).is_err());
        assert!(CpBasis::construct("s(x)", &x, 10, 2, 2, Some(&[0.0, 1.0, 2.0])).is_err());
        assert!(CpBasis::construct("s(x)", &[1.0; 10], 10, 2, 2, None).is_err());
    }
}
