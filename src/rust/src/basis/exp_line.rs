//! Sums `f_j(x) = sum_p c(|x - p| / rho) w_pj` over points `p` on a line, for
//! correlation functions of the form `c(r) = exp(-r) P(r)` with `P` a polynomial (the
//! exponential and the Matérn correlations of half-integer smoothness; Rasmussen &
//! Williams 2006, §4.2.1), in `O((n + m) q^2 k)` for `n` evaluation points, `m`
//! points `p`, `k` weight columns and `P` of degree `q`, instead of `n m`
//! evaluations of `exp`.
//!
//! Split the sum into the points at or left of `x` and those right of it. On the
//! left, `S_l(x) = sum_{p <= x} w_p exp(-r) r^l` with `r = (x - p) / rho`; moving `x`
//! right by `delta` (in units of `rho`) turns each `r` into `r + delta`, so
//! `S_l <- exp(-delta) sum_{i <= l} C(l, i) delta^(l - i) S_i`, and a point passed
//! adds its weights to `S_0`. Every term is a non-negative multiple of a weight, so
//! the sweep loses no more digits than the direct sum (no large exponentials cancel).
//! The right-hand sums are the mirror image, swept from the right. Then
//! `f(x) = sum_l a_l (S_l^left + S_l^right)` for `P(r) = sum_l a_l r^l`.

use ndarray::Array2;

/// Most terms `P` may have (degree 3, Matérn 3.5, needs 4).
const MAX_TERMS: usize = 8;

/// Points on a line, ready to sum a correlation over.
#[derive(Debug, Clone)]
pub struct ExpLine {
    /// The points, ascending.
    sorted: Vec<f64>,
    /// `sorted[i]` is point `order[i]` as given.
    order: Vec<usize>,
    /// `P`'s coefficients, `a_0..a_q`.
    poly: Vec<f64>,
    rho: f64,
}

impl ExpLine {
    /// `points` (any order), for `c(r) = exp(-r) sum_l poly[l] r^l` at
    /// `r = |x - p| / rho`.
    pub fn new(points: &[f64], poly: Vec<f64>, rho: f64) -> ExpLine {
        assert!(!poly.is_empty() && poly.len() <= MAX_TERMS, "a polynomial of 1 to {MAX_TERMS} terms");
        let mut order: Vec<usize> = (0..points.len()).collect();
        order.sort_by(|&a, &b| points[a].total_cmp(&points[b]));
        let sorted = order.iter().map(|&i| points[i]).collect();
        ExpLine { sorted, order, poly, rho }
    }

    /// `f_j(x_r) = sum_p c(|x_r - p| / rho) weights[p, j]` for every `x_r`, row-major
    /// into `out` (`x.len() x k`); `weights` has a row per point, in the order given
    /// to `new`.
    pub fn eval(&self, x: &[f64], weights: &Array2<f64>, out: &mut [f64]) {
        let k = weights.ncols();
        let q = self.poly.len();
        let mut order: Vec<usize> = (0..x.len()).collect();
        order.sort_by(|&a, &b| x[a].total_cmp(&x[b]));
        out.fill(0.0);
        let mut sums = vec![0.0; q * k];
        let mut binom = vec![0.0; q * q];
        for l in 0..q {
            binom[l * q] = 1.0;
            for i in 1..=l {
                binom[l * q + i] = binom[(l - 1) * q + i - 1] + if i < l { binom[(l - 1) * q + i] } else { 0.0 };
            }
        }
        // Left sums: points at or left of x, swept left to right.
        let mut at = f64::NAN;
        let mut next = 0;
        for &r in &order {
            while next < self.sorted.len() && self.sorted[next] <= x[r] {
                self.shift(&mut sums, &binom, &mut at, self.sorted[next], k);
                for j in 0..k {
                    sums[j] += weights[(self.order[next], j)];
                }
                next += 1;
            }
            self.shift(&mut sums, &binom, &mut at, x[r], k);
            self.emit(&sums, &mut out[r * k..(r + 1) * k]);
        }
        // Right sums: points strictly right of x, swept right to left.
        sums.fill(0.0);
        at = f64::NAN;
        let mut next = self.sorted.len();
        for &r in order.iter().rev() {
            while next > 0 && self.sorted[next - 1] > x[r] {
                next -= 1;
                self.shift(&mut sums, &binom, &mut at, self.sorted[next], k);
                for j in 0..k {
                    sums[j] += weights[(self.order[next], j)];
                }
            }
            self.shift(&mut sums, &binom, &mut at, x[r], k);
            self.emit(&sums, &mut out[r * k..(r + 1) * k]);
        }
    }

    /// Moves the sums from position `at` to `to` (either direction: the distance is
    /// what grows).
    fn shift(&self, sums: &mut [f64], binom: &[f64], at: &mut f64, to: f64, k: usize) {
        let q = self.poly.len();
        let delta = if at.is_nan() { 0.0 } else { (to - *at).abs() / self.rho };
        *at = to;
        if delta == 0.0 {
            return;
        }
        let decay = (-delta).exp();
        let mut powers = [1.0; MAX_TERMS];
        for l in 1..q {
            powers[l] = powers[l - 1] * delta;
        }
        // Highest order first: S_l's update reads the old S_i, i <= l.
        for l in (0..q).rev() {
            for j in 0..k {
                let mut v = 0.0;
                for i in 0..=l {
                    v += binom[l * q + i] * powers[l - i] * sums[i * k + j];
                }
                sums[l * k + j] = decay * v;
            }
        }
    }

    /// Adds `sum_l a_l S_l` to `out`.
    fn emit(&self, sums: &[f64], out: &mut [f64]) {
        let k = out.len();
        for (l, a) in self.poly.iter().enumerate() {
            for (o, s) in out.iter_mut().zip(&sums[l * k..(l + 1) * k]) {
                *o += a * s;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The sweep against the direct sum, for each polynomial the Matérn family uses,
    /// at points inside, outside and exactly on the knots.
    #[test]
    fn sweep_matches_the_direct_sum() {
        let points: Vec<f64> = (0..40).map(|i| ((i * 17) % 40) as f64 / 13.0 - 1.0).collect();
        let weights = Array2::from_shape_fn((40, 3), |(i, j)| ((i * 7 + j * 3) % 11) as f64 - 5.0);
        let mut x: Vec<f64> = (0..60).map(|i| ((i * 29) % 60) as f64 / 17.0 - 1.5).collect();
        x.extend_from_slice(&points[..5]);
        for poly in [vec![1.0], vec![1.0, 1.0], vec![1.0, 1.0, 1.0 / 3.0], vec![1.0, 1.0, 0.4, 1.0 / 15.0]] {
            for rho in [0.3, 2.5] {
                let line = ExpLine::new(&points, poly.clone(), rho);
                let mut got = vec![0.0; x.len() * 3];
                line.eval(&x, &weights, &mut got);
                for (r, &xr) in x.iter().enumerate() {
                    for j in 0..3 {
                        let want: f64 = points
                            .iter()
                            .enumerate()
                            .map(|(p, &pv)| {
                                let d = (xr - pv).abs() / rho;
                                let c: f64 = poly.iter().enumerate().map(|(l, a)| a * d.powi(l as i32)).sum();
                                c * (-d).exp() * weights[(p, j)]
                            })
                            .sum();
                        let err = (got[r * 3 + j] - want).abs();
                        assert!(err < 1e-12 * (1.0 + want.abs()), "poly {poly:?} rho {rho} x {xr}: {err}");
                    }
                }
            }
        }
    }
}
