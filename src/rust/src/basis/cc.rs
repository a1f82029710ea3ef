//! Cyclic cubic regression spline (`bs = "cc"`, Wood 2017 §5.3.2): a cubic spline whose
//! value and first two derivatives match at the two end knots, parameterized by its
//! values at all knots but the last (which equals the first). Covariate values outside
//! the knot range are wrapped onto it with the period `knots[last] - knots[0]`.

use ndarray::Array2;

use super::knots::{place_knots, sorted_unique, IntervalFinder};
use super::registry::{one_covariate_basis, Basis, Built, ClassArgs, ClassEntry, RawBasis};
use super::size::spline_bounds;
use super::state::{Fields, State};
use crate::error::{EngineError, Result};
use crate::linalg::{symmetrize, SpdFactor};

#[derive(Debug, Clone)]
pub struct CcBasis {
    pub knots: Vec<f64>,
    /// `B^-1 D`: values at the knots to second derivatives there (cyclic).
    bd: Array2<f64>,
}

/// The cyclic analogue of the natural spline system `B g'' = D g` (Wood 2017 §5.3.2):
/// both are (k-1) x (k-1) with wrap-around neighbours.
fn cyclic_system(knots: &[f64]) -> (Array2<f64>, Array2<f64>) {
    let n = knots.len() - 1;
    let h: Vec<f64> = knots.windows(2).map(|w| w[1] - w[0]).collect();
    let mut b = Array2::zeros((n, n));
    let mut d = Array2::zeros((n, n));
    for i in 0..n {
        let im = if i == 0 { n - 1 } else { i - 1 };
        let ip = if i == n - 1 { 0 } else { i + 1 };
        b[(i, im)] += h[im] / 6.0;
        b[(i, i)] += (h[im] + h[i]) / 3.0;
        b[(i, ip)] += h[i] / 6.0;
        d[(i, im)] += 1.0 / h[im];
        d[(i, i)] -= 1.0 / h[im] + 1.0 / h[i];
        d[(i, ip)] += 1.0 / h[i];
    }
    (b, d)
}

impl CcBasis {
    /// Builds `s(x, bs = "cc", k = k)`: `k` knots, `k - 1` coefficients.
    pub fn construct(label: &str, x: &[f64], k: usize, knots: Option<&[f64]>) -> Result<(CcBasis, Array2<f64>)> {
        if k < 4 {
            return Err(EngineError::BadBasisDimension {
                term: label.to_string(),
                k,
                reason: "a cyclic cubic spline needs k >= 4".to_string(),
            });
        }
        let knots = match knots {
            Some(given) if given.len() == k => {
                let mut kn = given.to_vec();
                kn.sort_by(|a, b| a.total_cmp(b));
                kn
            }
            Some(given) => {
                return Err(EngineError::InvalidSpec {
                    what: format!("`{label}`: {} knots supplied for k = {k}", given.len()),
                })
            }
            None => {
                let u = sorted_unique(x);
                if u.len() < k {
                    return Err(EngineError::TooFewUniqueValues { term: label.to_string(), k, unique: u.len() });
                }
                place_knots(&u, k)
            }
        };
        let basis = CcBasis::from_knots(knots)?;
        let s = basis.penalty();
        Ok((basis, s))
    }

    pub fn from_knots(knots: Vec<f64>) -> Result<CcBasis> {
        let (b, d) = cyclic_system(&knots);
        let bf = SpdFactor::new(b.view())
            .ok_or_else(|| EngineError::InvalidSpec { what: "cc knots must be distinct".to_string() })?;
        Ok(CcBasis { bd: bf.solve(d.view()), knots })
    }

    /// `D' B^-1 D`.
    pub fn penalty(&self) -> Array2<f64> {
        let (_, d) = cyclic_system(&self.knots);
        let mut s = d.t().dot(&self.bd);
        symmetrize(&mut s);
        s
    }

    pub fn matrix(&self, x: &[f64]) -> Array2<f64> {
        let n = self.knots.len() - 1;
        let mut out = vec![0.0; x.len() * n];
        self.fill_x(x, &mut out);
        Array2::from_shape_vec((x.len(), n), out).expect("row-major shape")
    }

    /// Where `raw` falls once wrapped onto the period: the knots `lo` and `hi` (with
    /// `hi` wrapping to 0 past the last interval) and the weights of their values
    /// (`am / h`, `ap / h`) and of their second derivatives (`cm`, `cp`).
    fn locate(&self, finder: &IntervalFinder<'_>, raw: f64) -> Local {
        let kn = &self.knots;
        let n = kn.len() - 1;
        let (x0, x1) = (kn[0], kn[n]);
        let period = x1 - x0;
        let xi = if raw > x1 {
            x0 + (raw - x1).rem_euclid(period)
        } else if raw < x0 {
            x1 - (x0 - raw).rem_euclid(period)
        } else {
            raw
        };
        let i = finder.find(xi);
        let h = kn[i + 1] - kn[i];
        let am = kn[i + 1] - xi;
        let ap = xi - kn[i];
        Local {
            lo: i,
            hi: if i + 1 == n { 0 } else { i + 1 },
            value_lo: am / h,
            value_hi: ap / h,
            curv_lo: am * am * am / (6.0 * h) - h * am / 6.0,
            curv_hi: ap * ap * ap / (6.0 * h) - h * ap / 6.0,
        }
    }

    /// `X(x) beta` without forming `X(x)`: two knots' values and second derivatives
    /// per point, as `fill_raw` but with `B^-1 D beta` formed once.
    fn dot_x(&self, x: &[f64], beta: &[f64], by: Option<&[f64]>, out: &mut [f64]) {
        let g2 = self.bd.dot(&ndarray::ArrayView1::from(beta)).to_vec();
        let finder = IntervalFinder::new(&self.knots);
        for (r, (o, &raw)) in out.iter_mut().zip(x).enumerate() {
            let p = self.locate(&finder, raw);
            let v = g2[p.lo] * p.curv_lo + g2[p.hi] * p.curv_hi + p.value_lo * beta[p.lo] + p.value_hi * beta[p.hi];
            *o += by.map_or(v, |b| v * b[r]);
        }
    }

    /// The basis at `x`, row-major into `out` (`x.len()` rows of `knots - 1`).
    fn fill_x(&self, x: &[f64], out: &mut [f64]) {
        let n = self.knots.len() - 1;
        let bd = self.bd.as_standard_layout();
        let bd = bd.as_slice().expect("standard layout");
        let finder = IntervalFinder::new(&self.knots);
        for (row, &raw) in out.chunks_exact_mut(n).zip(x) {
            let p = self.locate(&finder, raw);
            let (b_lo, b_hi) = (&bd[p.lo * n..(p.lo + 1) * n], &bd[p.hi * n..(p.hi + 1) * n]);
            for ((v, a), b) in row.iter_mut().zip(b_lo).zip(b_hi) {
                *v = a * p.curv_lo + b * p.curv_hi;
            }
            row[p.lo] += p.value_lo;
            row[p.hi] += p.value_hi;
        }
    }
}

/// A point's two knots and their weights (see `CcBasis::locate`).
struct Local {
    lo: usize,
    hi: usize,
    value_lo: f64,
    value_hi: f64,
    curv_lo: f64,
    curv_hi: f64,
}

impl RawBasis for CcBasis {
    const STORED: &'static [&'static str] = &["cc"];

    fn class(&self) -> &'static str {
        "cc"
    }

    fn width(&self) -> usize {
        self.knots.len() - 1
    }

    one_covariate_basis!();

    fn write_state(&self, st: &mut State) {
        st.insert("knots".into(), self.knots.clone());
    }

    fn read_state(f: &Fields<'_>, _: &str) -> Result<CcBasis> {
        CcBasis::from_knots(f.knots(4)?)
    }
}

/// `bs = "cc"`.
pub const CC: ClassEntry =
    ClassEntry { name: "cc", margin: true, values_parameterized: true, build: build_cc, bounds: spline_bounds };

fn build_cc(a: &ClassArgs<'_>) -> Result<Built> {
    a.check_scale(3)?;
    let (b, penalty) = CcBasis::construct(a.label, a.one_covariate("cc")?, a.k.unwrap_or(10), a.knots)?;
    Ok(Built::one(Basis::Cc(b), penalty, None))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn is_periodic_and_interpolates() {
        let x: Vec<f64> = (0..200).map(|i| i as f64 / 199.0).collect();
        let (basis, s) = CcBasis::construct("s(x)", &x, 8, None).unwrap();
        let first = basis.matrix(&[0.0]);
        let last = basis.matrix(&[1.0]);
        let wrapped = basis.matrix(&[1.25]);
        let inside = basis.matrix(&[0.25]);
        for c in 0..7 {
            assert!((first[(0, c)] - last[(0, c)]).abs() < 1e-12);
            assert!((wrapped[(0, c)] - inside[(0, c)]).abs() < 1e-12);
        }
        // Constants are unpenalized and the penalty has rank k - 2.
        let ones = ndarray::Array1::<f64>::ones(7);
        assert!(s.dot(&ones).iter().all(|v| v.abs() < 1e-8));
        let at_knots = basis.matrix(&basis.knots[..7]);
        for i in 0..7 {
            assert!((at_knots[(i, i)] - 1.0).abs() < 1e-12);
        }
    }
}
