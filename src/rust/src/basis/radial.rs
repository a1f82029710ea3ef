//! Radial basis functions and the polynomial null spaces that go with them: the
//! thin plate spline's `eta` (Duchon 1977; Wood 2003 eq. 4) and Duchon's splines
//! (Duchon 1977; Wood 2017 §5.8.3, mgcv's `DuchonE`), both `c r^p`, times `log r`
//! when the power is even and the thin plate's dimension is even.

use crate::vector_math::{ln_positive, with_wide_vectors, WideBody};

/// `phi(r) = c r^power`, or `c r^power log r`; `phi(0) = 0`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Radial {
    pub power: i32,
    pub log: bool,
    pub constant: f64,
}

impl Radial {
    /// The thin plate spline of penalty order `m` in `d` dimensions.
    pub fn thin_plate(m: usize, d: usize) -> Radial {
        Radial { power: 2 * m as i32 - d as i32, log: d.is_multiple_of(2), constant: eta_constant(m, d) }
    }

    /// Duchon's spline with `m = c(m, s)` in `d` dimensions: power `2m + 2s - d`, with
    /// mgcv's sign so that the penalty is positive.
    pub fn duchon(m: usize, s: f64, d: usize) -> Radial {
        let power = (2.0 * m as f64 + 2.0 * s - d as f64).round() as i32;
        let sign = if (power.div_euclid(2) + 1).rem_euclid(2) == 0 { 1.0 } else { -1.0 };
        Radial { power, log: power.rem_euclid(2) == 0, constant: sign }
    }

    /// `phi` at the squared distance `r2`.
    #[inline]
    pub fn at(&self, r2: f64) -> f64 {
        if r2 <= 0.0 {
            return 0.0;
        }
        let rp = power_of(r2, self.power);
        if !self.log {
            return self.constant * rp;
        }
        // (`fill_distances`' logarithm: the same bits, or within an ulp where that
        // fuses its multiply-adds.)
        self.constant * 0.5 * ln_positive::<false>(r2) * rp
    }

    /// `phi` at the squared distances from `x` to each point (the points' coordinates
    /// by column, `points[l][j]`), into `out`; `r2` is scratch of the same length.
    /// The values are `at`'s, in loops that vectorize: every pair of a row and a knot
    /// of a thin plate, Duchon or sphere spline passes through here.
    pub fn fill_distances(&self, x: &[f64], points: &[&[f64]], r2: &mut [f64], out: &mut [f64]) {
        with_wide_vectors(Distances { radial: self, x, points, r2, out });
    }
}

/// `Radial::fill_distances`' loops.
struct Distances<'a> {
    radial: &'a Radial,
    x: &'a [f64],
    points: &'a [&'a [f64]],
    r2: &'a mut [f64],
    out: &'a mut [f64],
}

impl WideBody for Distances<'_> {
    type Output = ();

    #[inline(always)]
    fn run<const FMA: bool>(self) {
        let Distances { radial, x, points, r2, out } = self;
        let c = radial.constant;
        // (One pass per point for the usual one or two covariates: a pass per
        // covariate, adding into `r2`, did not vectorize. Written out: a loop that
        // calls a function passed in may be left out of line, not vectorized.)
        match (x, points) {
            ([x0], [p0]) => {
                for (v, p) in r2.iter_mut().zip(*p0) {
                    *v = (x0 - p) * (x0 - p);
                }
            }
            ([x0, x1], [p0, p1]) => {
                let n = r2.len().min(p0.len()).min(p1.len());
                for i in 0..n {
                    r2[i] = (x0 - p0[i]) * (x0 - p0[i]) + (x1 - p1[i]) * (x1 - p1[i]);
                }
            }
            _ => {
                r2.fill(0.0);
                for (&xl, pl) in x.iter().zip(points) {
                    for (acc, p) in r2.iter_mut().zip(*pl) {
                        *acc += (xl - p) * (xl - p);
                    }
                }
            }
        }
        let r2 = &*r2;
        match (radial.log, radial.power) {
            (true, 0) => each_positive::<true, 0, FMA>(c, r2, out),
            (true, 2) => each_positive::<true, 2, FMA>(c, r2, out),
            (true, 4) => each_positive::<true, 4, FMA>(c, r2, out),
            (false, 1) => each_positive::<false, 1, FMA>(c, r2, out),
            (false, 2) => each_positive::<false, 2, FMA>(c, r2, out),
            (false, 3) => each_positive::<false, 3, FMA>(c, r2, out),
            (false, 4) => each_positive::<false, 4, FMA>(c, r2, out),
            (false, 5) => each_positive::<false, 5, FMA>(c, r2, out),
            _ => out.iter_mut().zip(r2).for_each(|(o, v)| *o = radial.at(*v)),
        }
    }
}

/// `r^power` from `r2 = r^2`: an even power from `r2` itself, the usual ones by
/// multiplication (`powi` with a power known only at run time is a library call,
/// which took 13% of a Duchon spline's fit). Shared by `at` and `fill_distances`, so
/// that both give the same bits; with a constant power the match folds away.
#[inline(always)]
fn power_of(r2: f64, power: i32) -> f64 {
    if power % 2 == 0 {
        match power / 2 {
            0 => 1.0,
            1 => r2,
            2 => r2 * r2,
            h => r2.powi(h),
        }
    } else {
        let r = r2.sqrt();
        match power {
            1 => r,
            3 => r2 * r,
            5 => r2 * r2 * r,
            p => r.powi(p),
        }
    }
}

/// `out[i] = c r^POWER (log r if LOG)` at `r2[i]`, 0 where `r2[i]` is 0: `at`'s
/// values, branch-free so that it vectorizes. (An indexed loop calling the formula
/// itself: an iterator adaptor's loop, or a function passed in, may be left out of
/// line, compiled for the baseline CPU and not vectorized.)
#[inline(always)]
fn each_positive<const LOG: bool, const POWER: i32, const FMA: bool>(c: f64, r2: &[f64], out: &mut [f64]) {
    let n = out.len().min(r2.len());
    for i in 0..n {
        let v = r2[i];
        let rp = power_of(v, POWER);
        let y = if LOG { c * 0.5 * ln_positive::<FMA>(v) * rp } else { c * rp };
        out[i] = if v > 0.0 { y } else { 0.0 };
    }
}

/// Exponents of the `M = choose(m + d - 1, d)` monomials of total degree `< m`, in
/// mgcv's order (first variable fastest).
pub fn null_space_powers(m: usize, d: usize) -> Vec<Vec<usize>> {
    let count = binomial(m + d - 1, d);
    let mut out = Vec::with_capacity(count);
    let mut idx = vec![0usize; d];
    for _ in 0..count {
        out.push(idx.clone());
        if idx.iter().sum::<usize>() < m - 1 {
            idx[0] += 1;
        } else {
            let mut sum = idx.iter().sum::<usize>() - idx[0];
            idx[0] = 0;
            for j in 1..d {
                idx[j] += 1;
                sum += 1;
                if sum == m {
                    sum -= idx[j];
                    idx[j] = 0;
                } else {
                    break;
                }
            }
        }
    }
    out
}

fn binomial(n: usize, k: usize) -> usize {
    (0..k).fold(1usize, |acc, i| acc * (n - i) / (i + 1))
}

/// The constant of the thin plate radial function (Duchon 1977; Wood 2003 eq. 4).
pub(super) fn eta_constant(m: usize, d: usize) -> f64 {
    let pi = std::f64::consts::PI;
    let fact = |v: usize| (1..=v).fold(1.0, |a, i| a * i as f64);
    if d.is_multiple_of(2) {
        let sign = if (m + 1 + d / 2).is_multiple_of(2) { 1.0 } else { -1.0 };
        sign / (2f64.powi(2 * m as i32 - 1) * pi.powf(d as f64 / 2.0) * fact(m - 1) * fact(m - d / 2))
    } else {
        gamma_half_integer(d as f64 / 2.0 - m as f64)
            / (2f64.powi(2 * m as i32) * pi.powf(d as f64 / 2.0) * fact(m - 1))
    }
}

/// `Gamma(z)` for half-integer `z` (positive or negative).
fn gamma_half_integer(z: f64) -> f64 {
    let mut g = std::f64::consts::PI.sqrt(); // Gamma(1/2)
    let mut a = 0.5;
    while a < z - 0.25 {
        g *= a;
        a += 1.0;
    }
    while a > z + 0.25 {
        a -= 1.0;
        g /= a;
    }
    g
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn powers_follow_mgcv_order() {
        assert_eq!(null_space_powers(2, 1), vec![vec![0], vec![1]]);
        assert_eq!(null_space_powers(2, 2), vec![vec![0, 0], vec![1, 0], vec![0, 1]]);
        assert_eq!(null_space_powers(3, 3).len(), 10);
    }

    #[test]
    fn eta_constants_match_closed_forms() {
        // d = 1, m = 2: eta(r) = r^3 / 12.
        assert!((eta_constant(2, 1) - 1.0 / 12.0).abs() < 1e-15);
        // d = 2, m = 2: eta(r) = r^2 log(r) / (8 pi).
        assert!((eta_constant(2, 2) - 1.0 / (8.0 * std::f64::consts::PI)).abs() < 1e-15);
    }

    #[test]
    fn duchon_signs_and_powers_follow_mgcv() {
        // m = 2, s = 0, d = 2: r^2 log r, sign +1; m = 2, s = 0.5, d = 2: r^3, sign +1;
        // m = 1, s = 0.5, d = 2: r^1, sign -1.
        assert_eq!(Radial::duchon(2, 0.0, 2), Radial { power: 2, log: true, constant: 1.0 });
        assert_eq!(Radial::duchon(2, 0.5, 2), Radial { power: 3, log: false, constant: 1.0 });
        assert_eq!(Radial::duchon(1, 0.5, 2), Radial { power: 1, log: false, constant: -1.0 });
        assert_eq!(Radial::duchon(2, 0.0, 0).constant, -1.0);
        let r = Radial::duchon(2, 0.0, 2);
        assert!((r.at(4.0) - 4.0 * 2f64.ln()).abs() < 1e-15);
        assert_eq!(r.at(0.0), 0.0);
    }
}
