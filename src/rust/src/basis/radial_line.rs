//! The radial matrix of a one-dimensional thin plate spline, `E_ij = c |p_i - p_j|^q`
//! (`q = 2m - 1`, odd: Wood 2003 eq. 4 with `d = 1`), multiplied by a vector without
//! forming it. With the points sorted, `|p_i - p_j|^q` is `(p_i - p_j)^q` for the
//! points below `p_i` and its negative for those above; expanding the power
//! binomially, `(E v)_i` is a polynomial in `p_i` whose coefficients are prefix sums
//! of `(-p_j)^r v_j`. A product then costs `O(n q)` instead of `O(n^2)` (with `n` up
//! to mgcv's 2000 knots, the Lanczos iteration's products were the set-up's cost).
//! The sums regroup the direct product's terms by powers of `p_i`, as the basis's
//! piecewise evaluation does (`tp::Pieces`): they agree to rounding, the cancellation
//! bounded by the points' range to the power `q`.

/// `E` for points `p`, ready to multiply.
#[derive(Debug, Clone)]
pub struct RadialLine {
    /// Point indices in increasing order of the points.
    order: Vec<usize>,
    sorted: Vec<f64>,
    q: usize,
    c: f64,
    /// `C(q, e)` for `e = 0..=q`.
    binomial: Vec<f64>,
}

impl RadialLine {
    pub fn new(points: &[f64], q: usize, c: f64) -> RadialLine {
        let mut order: Vec<usize> = (0..points.len()).collect();
        order.sort_by(|&a, &b| points[a].total_cmp(&points[b]));
        let sorted = order.iter().map(|&j| points[j]).collect();
        let binomial = (0..=q).map(|e| (0..e).fold(1.0, |acc, i| acc * (q - i) as f64 / (i + 1) as f64)).collect();
        RadialLine { order, sorted, q, c, binomial }
    }

    /// `z = E v`.
    pub fn apply(&self, v: &[f64], z: &mut [f64]) {
        let q = self.q;
        // (-p)^r v for r = 0..=q.
        let moments = |p: f64, w: f64, out: &mut [f64]| {
            let mut acc = w;
            for slot in out.iter_mut() {
                *slot = acc;
                acc *= -p;
            }
        };
        let mut own = vec![0.0; q + 1];
        let mut total = vec![0.0; q + 1];
        for (&j, &p) in self.order.iter().zip(&self.sorted) {
            moments(p, v[j], &mut own);
            total.iter_mut().zip(&own).for_each(|(t, o)| *t += o);
        }
        let mut below = vec![0.0; q + 1];
        for (&i, &x) in self.order.iter().zip(&self.sorted) {
            moments(x, v[i], &mut own);
            // Below minus above, leaving the point itself out (`E_ii = 0`).
            let mut zi = 0.0;
            let mut x_power = 1.0;
            for e in 0..=q {
                let r = q - e;
                zi += self.binomial[e] * x_power * (2.0 * below[r] - total[r] + own[r]);
                x_power *= x;
            }
            z[i] = self.c * zi;
            below.iter_mut().zip(&own).for_each(|(b, o)| *b += o);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The product equals the dense matrix's, for cubic and quintic radial functions.
    #[test]
    fn product_matches_the_dense_matrix() {
        let n = 300;
        let points: Vec<f64> = (0..n).map(|i| ((i * 7919) % 1009) as f64 / 1009.0 - 0.5).collect();
        let v: Vec<f64> = (0..n).map(|i| (i as f64 * 0.61).sin()).collect();
        for q in [3usize, 5] {
            let c = 0.37;
            let line = RadialLine::new(&points, q, c);
            let mut z = vec![0.0; n];
            line.apply(&v, &mut z);
            let scale = z.iter().fold(0.0_f64, |m, x| m.max(x.abs()));
            for i in 0..n {
                let direct: f64 = (0..n).map(|j| c * (points[i] - points[j]).abs().powi(q as i32) * v[j]).sum();
                assert!((z[i] - direct).abs() < 1e-12 * scale, "q {q} row {i}: {} vs {direct}", z[i]);
            }
        }
    }
}
