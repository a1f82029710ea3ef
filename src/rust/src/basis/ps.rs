//! P-splines (`bs = "ps"`, Eilers & Marx 1996; Wood 2017 §5.3.3): a B-spline basis on
//! evenly spaced knots with a difference penalty on adjacent coefficients. Beyond the
//! outer interior knots the basis continues linearly (value and slope at the boundary).

use ndarray::Array2;

use super::knots::r_seq;
use super::registry::{one_covariate_basis, Basis, Built, ClassArgs, ClassEntry, RawBasis};
use super::size::spline_bounds;
use super::state::{Fields, State};
use crate::error::{EngineError, Result};

#[derive(Debug, Clone)]
pub struct PsBasis {
    /// The full knot sequence (including the `m1 + 1` knots beyond each end).
    pub knots: Vec<f64>,
    /// Order of the B-splines minus 2 (`m[1]`; 2 means cubic).
    pub m1: usize,
}

impl PsBasis {
    /// `s(x, bs = "ps", k = k, m = c(m1, m2))`: `k` B-splines of degree `m1 + 1` and an
    /// order-`m2` difference penalty.
    pub fn construct(
        label: &str,
        x: &[f64],
        k: usize,
        m1: usize,
        m2: usize,
        knots: Option<&[f64]>,
    ) -> Result<(PsBasis, Array2<f64>)> {
        let order = m1 + 2;
        if k < order || k <= m2 {
            return Err(EngineError::BadBasisDimension {
                term: label.to_string(),
                k,
                reason: format!(
                    "a P-spline of order {order} with an order-{m2} penalty needs k >= {}",
                    order.max(m2 + 1)
                ),
            });
        }
        Ok((PsBasis::on_data(label, x, k, m1, knots)?, difference_penalty(k, m2)))
    }

    /// The basis of `k` B-splines of degree `m1 + 1` on `knots` (`k + m1 + 2` of them),
    /// or on evenly spaced knots whose interior ones span the data's range widened by
    /// a thousandth at each end (as mgcv's `ps` and `bs` place them).
    pub fn on_data(label: &str, x: &[f64], k: usize, m1: usize, knots: Option<&[f64]>) -> Result<PsBasis> {
        let order = m1 + 2;
        let knots = match knots {
            Some(given) if given.len() == k + order => given.to_vec(),
            Some(given) => {
                return Err(EngineError::InvalidSpec {
                    what: format!("`{label}`: a P-spline with k = {k} needs {} knots, not {}", k + order, given.len()),
                })
            }
            None => {
                let nk = k - m1;
                let (mut lo, mut hi) =
                    x.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &v| (a.min(v), b.max(v)));
                let range = hi - lo;
                // A covariate of one value gives coincident knots and a basis of NaNs.
                if !(range > 0.0) {
                    return Err(EngineError::TooFewUniqueValues { term: label.to_string(), k, unique: 1 });
                }
                lo -= range * 0.001;
                hi += range * 0.001;
                let dx = (hi - lo) / (nk - 1) as f64;
                let ext = dx * (m1 + 1) as f64;
                r_seq(lo - ext, hi + ext, nk + 2 * m1 + 2)
            }
        };
        Ok(PsBasis { knots, m1 })
    }

    pub fn ncoef(&self) -> usize {
        self.knots.len() - (self.m1 + 2)
    }

    pub fn matrix(&self, x: &[f64]) -> Array2<f64> {
        let nb = self.ncoef();
        let mut out = vec![0.0; x.len() * nb];
        self.fill_x(x, &mut out);
        Array2::from_shape_vec((x.len(), nb), out).expect("row-major shape")
    }

    /// `X(x) beta` without forming `X(x)`: only the `order` B-splines that are
    /// non-zero at a point contribute.
    fn dot_x(&self, x: &[f64], beta: &[f64], by: Option<&[f64]>, out: &mut [f64]) {
        let order = self.m1 + 2;
        let nb = self.ncoef();
        let lo = self.knots[order - 1];
        let hi = self.knots[nb];
        let dot = |v: &[f64]| v.iter().zip(beta).map(|(a, b)| a * b).sum::<f64>();
        let at_lo = (dot(&bspline_values(&self.knots, order, lo)), dot(&bspline_slopes(&self.knots, order, lo)));
        let at_hi = (dot(&bspline_values(&self.knots, order, hi)), dot(&bspline_slopes(&self.knots, order, hi)));
        let mut work = vec![0.0; 3 * order];
        for (r, (o, &xi)) in out.iter_mut().zip(x).enumerate() {
            let v = if xi < lo {
                at_lo.0 + (xi - lo) * at_lo.1
            } else if xi > hi {
                at_hi.0 + (xi - hi) * at_hi.1
            } else {
                let first = bspline_local(&self.knots, order, xi, &mut work);
                work[..order].iter().zip(&beta[first..first + order]).map(|(a, b)| a * b).sum()
            };
            *o += by.map_or(v, |b| v * b[r]);
        }
    }

    /// The basis at `x`, row-major into `out` (`x.len()` rows of `ncoef()`); beyond
    /// the outer knots the basis continues linearly.
    fn fill_x(&self, x: &[f64], out: &mut [f64]) {
        let order = self.m1 + 2;
        let nb = self.ncoef();
        let lo = self.knots[order - 1];
        let hi = self.knots[nb];
        let at_lo = (bspline_values(&self.knots, order, lo), bspline_slopes(&self.knots, order, lo));
        let at_hi = (bspline_values(&self.knots, order, hi), bspline_slopes(&self.knots, order, hi));
        let mut work = vec![0.0; 3 * order];
        for (row, &xi) in out.chunks_exact_mut(nb).zip(x) {
            if xi < lo || xi > hi {
                let (edge, (val, slope)) = if xi < lo { (lo, &at_lo) } else { (hi, &at_hi) };
                for ((v, a), b) in row.iter_mut().zip(val).zip(slope) {
                    *v = a + (xi - edge) * b;
                }
            } else {
                bspline_into(&self.knots, order, xi, &mut work, row);
            }
        }
    }
}

/// First derivatives of all B-splines at `x`.
fn bspline_slopes(knots: &[f64], order: usize, x: f64) -> Vec<f64> {
    bspline_derivatives(knots, order, 1, x)
}

/// Derivatives of order `d < order` of all `len(knots) - order` B-splines at `x`, from
/// the B-splines of order `order - d` by `d` steps of (de Boor 2001, ch. X)
/// `B'_{j,q} = (q-1) (B_{j,q-1} / (t_{j+q-1} - t_j) - B_{j+1,q-1} / (t_{j+q} - t_{j+1}))`,
/// a term with coincident knots counting as zero.
pub(super) fn bspline_derivatives(knots: &[f64], order: usize, d: usize, x: f64) -> Vec<f64> {
    let mut v = bspline_values(knots, order - d, x);
    let ratio = |num: f64, den: f64| if den > 0.0 { num / den } else { 0.0 };
    for q in order - d + 1..=order {
        let scale = (q - 1) as f64;
        v = (0..knots.len() - q)
            .map(|j| scale * (ratio(v[j], knots[j + q - 1] - knots[j]) - ratio(v[j + 1], knots[j + q] - knots[j + 1])))
            .collect();
    }
    v
}

/// All `len(knots) - order` B-splines of `order` at `x` by the Cox-de Boor recursion
/// (de Boor 2001, ch. IX), on the knot span `knots[i] <= x < knots[i + 1]` clamped to
/// the spans where all `order` B-splines are complete.
fn bspline_values(knots: &[f64], order: usize, x: f64) -> Vec<f64> {
    let mut out = vec![0.0; knots.len() - order];
    bspline_into(knots, order, x, &mut vec![0.0; 3 * order], &mut out);
    out
}

/// `bspline_values` into `out`, with `work` (at least `3 * order` long) as scratch.
fn bspline_into(knots: &[f64], order: usize, x: f64, work: &mut [f64], out: &mut [f64]) {
    let first = bspline_local(knots, order, x, work);
    out.fill(0.0);
    out[first..first + order].copy_from_slice(&work[..order]);
}

/// The `order` B-splines that can be non-zero at `x`, into `work[..order]` (`work` at
/// least `3 * order` long); returns the index of the first of them.
pub(super) fn bspline_local(knots: &[f64], order: usize, x: f64, work: &mut [f64]) -> usize {
    let nb = knots.len() - order;
    let pos = knots.partition_point(|&k| k <= x).saturating_sub(1);
    let i = pos.clamp(order - 1, nb - 1);
    let (n, rest) = work.split_at_mut(order);
    let (left, right) = rest.split_at_mut(order);
    n[0] = 1.0;
    for j in 1..order {
        left[j] = x - knots[i + 1 - j];
        right[j] = knots[i + j] - x;
        let mut saved = 0.0;
        for r in 0..j {
            let temp = n[r] / (right[r + 1] + left[j - r]);
            n[r] = saved + right[r + 1] * temp;
            saved = left[j - r] * temp;
        }
        n[j] = saved;
    }
    i + 1 - order
}

/// `D'D` for the order-`m2` difference matrix `D` on `k` coefficients.
pub fn difference_penalty(k: usize, m2: usize) -> Array2<f64> {
    let mut d = Array2::<f64>::eye(k);
    for _ in 0..m2 {
        let rows = d.nrows();
        let next = Array2::from_shape_fn((rows - 1, k), |(i, j)| d[(i + 1, j)] - d[(i, j)]);
        d = next;
    }
    d.t().dot(&d)
}

impl RawBasis for PsBasis {
    const STORED: &'static [&'static str] = &["ps"];

    fn class(&self) -> &'static str {
        "ps"
    }

    fn width(&self) -> usize {
        self.ncoef()
    }

    one_covariate_basis!();

    fn write_state(&self, st: &mut State) {
        st.insert("knots".into(), self.knots.clone());
        st.insert("m1".into(), vec![self.m1 as f64]);
    }

    fn read_state(f: &Fields<'_>, _: &str) -> Result<PsBasis> {
        let m1 = f.count("m1")?;
        Ok(PsBasis { knots: f.knots(m1 + 3)?, m1 })
    }
}

/// `bs = "ps"`, with `m = c(basis order, penalty order)`.
pub const PS: ClassEntry =
    ClassEntry { name: "ps", margin: true, values_parameterized: false, build: build_ps, bounds: spline_bounds };

fn build_ps(a: &ClassArgs<'_>) -> Result<Built> {
    a.check_scale(3)?;
    let m1 = a.m.first().copied().unwrap_or(2);
    let m2 = a.m.get(1).copied().unwrap_or(m1);
    let (b, penalty) = PsBasis::construct(a.label, a.one_covariate("ps")?, a.k.unwrap_or(10), m1, m2, a.knots)?;
    Ok(Built::one(Basis::Ps(b), penalty, None))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partition_of_unity_and_linear_extrapolation() {
        let x: Vec<f64> = (0..100).map(|i| i as f64 / 33.0).collect();
        let (basis, s) = PsBasis::construct("s(x)", &x, 10, 2, 2, None).unwrap();
        assert_eq!(basis.ncoef(), 10);
        let pts = [-1.0, 0.0, 0.7, 1.5, 3.0, 4.2];
        let m = basis.matrix(&pts);
        for r in 0..pts.len() {
            let total: f64 = m.row(r).sum();
            assert!((total - 1.0).abs() < 1e-12, "row {r}: {total}");
        }
        // Second differences annihilate constants and lines.
        let line = ndarray::Array1::from_iter((0..10).map(|j| 1.0 + 0.3 * j as f64));
        assert!(s.dot(&line).iter().all(|v| v.abs() < 1e-12));
        // The slope used beyond the end equals the slope just inside it.
        let e = 1e-6;
        let hi = basis.knots[basis.ncoef()];
        let inner = (basis.matrix(&[hi]).row(0).to_owned() - basis.matrix(&[hi - e]).row(0)) / e;
        let outer = (basis.matrix(&[hi + 1.0]).row(0).to_owned() - basis.matrix(&[hi]).row(0)) / 1.0;
        for c in 0..10 {
            assert!((inner[c] - outer[c]).abs() < 1e-4);
        }
    }
}
