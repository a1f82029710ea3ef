//! Knot placement rules shared by the spline bases, reproducing R's arithmetic so that
//! knots (and hence coefficients) agree with mgcv's to the last bit where possible.

/// Sorted distinct values of `x`.
pub fn sorted_unique(x: &[f64]) -> Vec<f64> {
    let mut u = x.to_vec();
    u.sort_unstable_by(|a, b| a.total_cmp(b));
    u.dedup();
    u
}

/// R's `seq(from, to, length.out = len)`: `from + i * by` with the last value set to
/// `to` exactly.
pub fn r_seq(from: f64, to: f64, len: usize) -> Vec<f64> {
    match len {
        0 => Vec::new(),
        1 => vec![from],
        _ => {
            let by = (to - from) / (len - 1) as f64;
            let mut v: Vec<f64> = (0..len).map(|i| from + i as f64 * by).collect();
            v[len - 1] = to;
            v
        }
    }
}

/// R's `quantile(x, probs, type = 7)` for sorted `x` (Hyndman & Fan 1996, definition 7).
pub fn quantile7(sorted: &[f64], probs: &[f64]) -> Vec<f64> {
    let n = sorted.len();
    probs
        .iter()
        .map(|&p| {
            let index = 1.0 + (n.saturating_sub(1)) as f64 * p;
            let lo = index.floor();
            let hi = index.ceil();
            let q = sorted[lo as usize - 1];
            let x_hi = sorted[hi as usize - 1];
            if index > lo && x_hi != q {
                let h = index - lo;
                (1.0 - h) * q + h * x_hi
            } else {
                q
            }
        })
        .collect()
}

/// mgcv's even spread of `nk` knots over the sorted distinct values `u` (linear
/// interpolation between order statistics; used by the cyclic spline).
pub fn place_knots(u: &[f64], nk: usize) -> Vec<f64> {
    let n = u.len();
    if nk == 2 {
        return vec![u[0], u[n - 1]];
    }
    let delta = (n - 1) as f64 / (nk - 1) as f64;
    let mut k = Vec::with_capacity(nk);
    k.push(u[0]);
    for i in 1..nk - 1 {
        let pos = delta * i as f64;
        let lbi = pos.floor() as usize; // 0-based index of floor(delta*i) + 1 (1-based)
        let frac = pos + 1.0 - (lbi + 1) as f64;
        k.push(u[lbi] * (1.0 - frac) + u[lbi + 1] * frac);
    }
    k.push(u[n - 1]);
    k
}

/// Index `j` of the knot interval `[knots[j], knots[j + 1]]` holding `x`, clamped to
/// the first and last intervals for points outside the knot range.
pub fn interval(knots: &[f64], x: f64) -> usize {
    let last = knots.len() - 2;
    // First knot >= x, so that x in (knots[j], knots[j + 1]].
    let pos = knots.partition_point(|&k| k < x);
    pos.saturating_sub(1).min(last)
}

/// `interval` for many points against one knot sequence, in constant time per point:
/// a table over an even grid of the knot range gives each grid cell's interval, from
/// which the answer is at most a few knots away (the knots are few and in cache).
pub struct IntervalFinder<'a> {
    knots: &'a [f64],
    lo: f64,
    cells_per_unit: f64,
    table: Vec<usize>,
}

impl<'a> IntervalFinder<'a> {
    /// Grid cells per knot interval: enough that most cells hold no knot.
    const CELLS_PER_KNOT: usize = 8;

    pub fn new(knots: &'a [f64]) -> IntervalFinder<'a> {
        let (lo, hi) = (knots[0], knots[knots.len() - 1]);
        let cells = Self::CELLS_PER_KNOT * knots.len();
        let cells_per_unit = if hi > lo { cells as f64 / (hi - lo) } else { 0.0 };
        let table =
            (0..=cells).map(|c| interval(knots, lo + c as f64 / cells_per_unit.max(f64::MIN_POSITIVE))).collect();
        IntervalFinder { knots, lo, cells_per_unit, table }
    }

    /// The same as `interval(knots, x)`.
    #[inline]
    pub fn find(&self, x: f64) -> usize {
        let last = self.knots.len() - 2;
        // `as` saturates (and maps NaN to 0): the cell is always in the table.
        let cell = (((x - self.lo) * self.cells_per_unit) as usize).min(self.table.len() - 1);
        let mut j = self.table[cell];
        // The table entry may be off by the knots inside the cell, or by one through
        // rounding of the cell index: walk to the exact answer either way.
        while j < last && self.knots[j + 1] < x {
            j += 1;
        }
        while j > 0 && self.knots[j] >= x {
            j -= 1;
        }
        j
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_match_r_type_7() {
        // quantile(c(1, 2, 4, 8, 16), c(0, 0.3, 0.5, 0.9, 1)) in R: 1 2.4 4 12.8 16
        let q = quantile7(&[1.0, 2.0, 4.0, 8.0, 16.0], &[0.0, 0.3, 0.5, 0.9, 1.0]);
        let want = [1.0, 2.4, 4.0, 12.8, 16.0];
        for (a, b) in q.iter().zip(want) {
            assert!((a - b).abs() < 1e-12, "{a} vs {b}");
        }
    }

    #[test]
    fn r_seq_ends_exactly() {
        let s = r_seq(0.0, 1.0, 7);
        assert_eq!(s[0], 0.0);
        assert_eq!(s[6], 1.0);
        assert!((s[3] - 0.5).abs() < 1e-15);
    }

    #[test]
    fn interval_finder_agrees_with_binary_search() {
        let knots = [0.0, 0.1, 0.15, 0.4, 0.41, 0.9, 1.0];
        let finder = IntervalFinder::new(&knots);
        for i in -200..1400 {
            let x = i as f64 / 1000.0;
            assert_eq!(finder.find(x), interval(&knots, x), "x = {x}");
        }
        for &x in &knots {
            assert_eq!(finder.find(x), interval(&knots, x), "at knot {x}");
            let below = f64::from_bits(x.to_bits().wrapping_sub(1));
            assert_eq!(finder.find(below), interval(&knots, below));
        }
        assert_eq!(finder.find(f64::INFINITY), interval(&knots, f64::INFINITY));
    }

    #[test]
    fn intervals_are_clamped() {
        let k = [0.0, 1.0, 2.0, 3.0];
        assert_eq!(interval(&k, -1.0), 0);
        assert_eq!(interval(&k, 0.0), 0);
        assert_eq!(interval(&k, 1.0), 0);
        assert_eq!(interval(&k, 1.5), 1);
        assert_eq!(interval(&k, 3.0), 2);
        assert_eq!(interval(&k, 9.0), 2);
    }
}
