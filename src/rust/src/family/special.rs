//! The log gamma function and its derivatives (digamma, trigamma, and the polygamma
//! functions to order 4), for the Gamma and count families' saturated log
//! likelihoods and the beta family's deviance. `lgamma` is musl's (through `libm`);
//! the others shift the argument up by the recurrences `psi(x) = psi(x + 1) - 1/x`,
//! `psi^(n)(x) = psi^(n)(x + 1) - (-1)^n n! / x^(n+1)` until the asymptotic series
//! (Abramowitz & Stegun 6.3.18, 6.4.11-12) is accurate to double precision.

pub fn lgamma(x: f64) -> f64 {
    libm::lgamma(x)
}

/// Below this the series is shifted up first: the truncated terms are then below
/// 1e-17 relative.
const SERIES_FROM: f64 = 12.0;

pub fn digamma(mut x: f64) -> f64 {
    let mut acc = 0.0;
    while x < SERIES_FROM {
        acc -= 1.0 / x;
        x += 1.0;
    }
    let z = 1.0 / (x * x);
    let tail = z * (1.0 / 12.0 - z * (1.0 / 120.0 - z * (1.0 / 252.0 - z * (1.0 / 240.0 - z * (1.0 / 132.0)))));
    acc + x.ln() - 0.5 / x - tail
}

pub fn trigamma(mut x: f64) -> f64 {
    let mut acc = 0.0;
    while x < SERIES_FROM {
        acc += 1.0 / (x * x);
        x += 1.0;
    }
    let z = 1.0 / (x * x);
    let tail = 1.0 / x
        + z / 2.0
        + z / x * (1.0 / 6.0 - z * (1.0 / 30.0 - z * (1.0 / 42.0 - z * (1.0 / 30.0 - z * (5.0 / 66.0)))));
    acc + tail
}

/// Below this the polygamma series are shifted up first: their first omitted terms
/// (in `B_16`) are then under 1e-15 relative for orders 0 to 2 and 1e-12 for 3 and 4.
const POLYGAMMA_SERIES_FROM: f64 = 10.0;

/// The asymptotic series' coefficients of `1/x^(2k+n)` for orders `n = 0..=4`:
/// `(-1)^(n+1) B_2k (2k+n-1)! / (2k)!` (for `n = 0`, `-B_2k / (2k)`), A&S 6.3.18 and
/// 6.4.11, with the Bernoulli numbers `B_2` to `B_14`.
const POLYGAMMA_SERIES: [[f64; 7]; 5] = {
    const B: [f64; 7] = [1.0 / 6.0, -1.0 / 30.0, 1.0 / 42.0, -1.0 / 30.0, 5.0 / 66.0, -691.0 / 2730.0, 7.0 / 6.0];
    let mut c = [[0.0; 7]; 5];
    let mut k = 0;
    while k < 7 {
        let two_k = 2.0 * (k as f64 + 1.0);
        c[0][k] = -B[k] / two_k;
        // (2k + n - 1)! / (2k)! for n = 1..=4, built up one factor at a time.
        let mut ratio = 1.0 / two_k;
        let mut n = 1;
        while n <= 4 {
            ratio *= two_k + n as f64 - 1.0;
            let sign = if n % 2 == 1 { 1.0 } else { -1.0 };
            c[n][k] = sign * B[k] * ratio;
            n += 1;
        }
        k += 1;
    }
    c
};

/// Digamma and the polygamma functions `psi^(n)(x)`, `n = 0..=4`, at once for
/// `x > 0` (one shared recurrence: the beta family needs them all at each mean).
pub fn polygammas(x: f64) -> [f64; 5] {
    series_polygammas::<false>(x).1
}

/// `lgamma(x)` with the polygammas of `polygammas`, for `x > 0`, from the same
/// recurrence and series (Stirling's for `lgamma`, A&S 6.1.41: its first omitted
/// term, in `B_16`, is under 1e-17 at the series' threshold). The Tweedie
/// series needs both at each of its terms.
pub fn lgamma_polygammas(x: f64) -> (f64, [f64; 5]) {
    series_polygammas::<true>(x)
}

/// `lgamma_polygammas`, its `lgamma` (the product of the shifts, Stirling's series
/// and a second logarithm) left out unless `LGAMMA` (then NaN): the beta family
/// needs only the polygammas at each mean.
fn series_polygammas<const LGAMMA: bool>(mut x: f64) -> (f64, [f64; 5]) {
    // The product of the arguments shifted over (lgamma(x) = lgamma(x + m) - log of it).
    let mut shifted = 1.0;
    let mut acc = [0.0; 5];
    while x < POLYGAMMA_SERIES_FROM {
        shifted *= x;
        // psi^(n)(x) = psi^(n)(x + 1) + (-1)^(n+1) n! / x^(n+1).
        let r = 1.0 / x;
        let r2 = r * r;
        acc[0] -= r;
        acc[1] += r2;
        acc[2] -= 2.0 * r2 * r;
        acc[3] += 6.0 * r2 * r2;
        acc[4] -= 24.0 * r2 * r2 * r;
        x += 1.0;
    }
    let r = 1.0 / x;
    let z = r * r;
    // The series in 1/x^2 by Horner's rule, then the leading terms.
    let tail = |c: &[f64; 7]| c.iter().rev().fold(0.0, |s, &ck| (s + ck) * z);
    let r3 = z * r;
    let log_x = x.ln();
    let lgamma = if LGAMMA { stirling(x, log_x) - shifted.ln() } else { f64::NAN };
    let psi = [
        acc[0] + log_x - 0.5 * r + tail(&POLYGAMMA_SERIES[0]),
        acc[1] + r + 0.5 * z + r * tail(&POLYGAMMA_SERIES[1]),
        acc[2] - z - r3 + z * tail(&POLYGAMMA_SERIES[2]),
        acc[3] + 2.0 * r3 + 3.0 * z * z + r3 * tail(&POLYGAMMA_SERIES[3]),
        acc[4] - 6.0 * z * z - 12.0 * z * r3 + z * z * tail(&POLYGAMMA_SERIES[4]),
    ];
    (lgamma, psi)
}

/// `lgamma(x)` for `x > 0` by `lgamma_polygammas`' recurrence and series, without
/// the polygammas: where values must agree to the last digit with derivatives taken
/// from `lgamma_polygammas` (libm's `lgamma` differs from it by rounding).
pub fn lgamma_by_series(mut x: f64) -> f64 {
    let mut shifted = 1.0;
    while x < POLYGAMMA_SERIES_FROM {
        shifted *= x;
        x += 1.0;
    }
    stirling(x, x.ln()) - shifted.ln()
}

/// Stirling's series for `lgamma(x)`, `x` at least `POLYGAMMA_SERIES_FROM`.
fn stirling(x: f64, log_x: f64) -> f64 {
    let r = 1.0 / x;
    let z = r * r;
    let tail = r * LGAMMA_SERIES.iter().rev().fold(0.0, |s, &ck| s * z + ck);
    (x - 0.5) * log_x - x + 0.5 * (2.0 * std::f64::consts::PI).ln() + tail
}

/// Stirling's series' coefficients `B_2k / (2k (2k - 1))` of `1/x^(2k - 1)`, `k = 1..=7`.
const LGAMMA_SERIES: [f64; 7] =
    [1.0 / 12.0, -1.0 / 360.0, 1.0 / 1260.0, -1.0 / 1680.0, 1.0 / 1188.0, -691.0 / 360_360.0, 1.0 / 156.0];

/// The polygamma function `psi^(n)(x)`, the `n`-th derivative of digamma, for
/// `0 <= n <= 4` and `x > 0`.
pub fn polygamma(n: usize, x: f64) -> f64 {
    polygammas(x)[n]
}

/// `x log(y)`, zero at `x = 0`.
pub fn xlogy(x: f64, y: f64) -> f64 {
    if x == 0.0 {
        0.0
    } else {
        x * y.ln()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::family::central;

    #[test]
    fn known_values() {
        // psi(1) = -Euler's gamma, psi'(1) = pi^2/6, psi(1/2) = -gamma - 2 ln 2.
        let euler = 0.577_215_664_901_532_9;
        assert!((digamma(1.0) + euler).abs() < 1e-14);
        assert!((digamma(0.5) + euler + 2.0 * 2f64.ln()).abs() < 1e-14);
        assert!((trigamma(1.0) - std::f64::consts::PI.powi(2) / 6.0).abs() < 1e-14);
        assert!((trigamma(0.5) - std::f64::consts::PI.powi(2) / 2.0).abs() < 1e-13);
        // psigamma(x, n) in R.
        assert!((polygamma(2, 1.0) + 2.404_113_806_319_188_5).abs() < 1e-13);
        assert!((polygamma(3, 0.3) - 743.141_764_655_049_8).abs() < 1e-10);
        assert!((polygamma(4, 2.5) + 0.313_755_999_506_731_4).abs() < 1e-13);
        // Just above the series' threshold, where its truncation error is largest.
        let r = [
            2.282_815_446_439_122_4,
            0.101_952_596_170_991_92,
            -0.010_385_386_816_300_036,
            0.002_114_001_300_486_876_6,
            -0.000_644_925_737_382_089_8,
        ];
        // lgamma from the shared series, against libm's on both sides of the shift.
        for x in [0.01, 0.7, 1.0, 2.33, 9.99, 10.0, 10.3, 57.1, 1e4] {
            let (l, _) = lgamma_polygammas(x);
            assert_eq!(l, lgamma_by_series(x));
            assert!((l - lgamma(x)).abs() < 1e-13 * (1.0 + lgamma(x).abs()), "lgamma({x}): {l} vs {}", lgamma(x));
        }
        for (n, r) in r.into_iter().enumerate() {
            let v = polygamma(n, 10.3);
            assert!((v - r).abs() < 1e-12 * r.abs(), "polygamma({n}, 10.3): {v} vs {r}");
        }
    }

    #[test]
    fn derivatives_match_finite_differences() {
        for x in [0.03, 0.7, 3.2, 15.0, 250.0] {
            let d = central(lgamma, x, 1e-6);
            assert!((d - digamma(x)).abs() / (1.0 + d.abs()) < 1e-7, "digamma({x})");
            let t = central(digamma, x, 1e-6);
            assert!((t - trigamma(x)).abs() / (1.0 + t.abs()) < 1e-7, "trigamma({x})");
            let mut lower: fn(f64) -> f64 = trigamma;
            let orders: [fn(f64) -> f64; 3] = [|x| polygamma(2, x), |x| polygamma(3, x), |x| polygamma(4, x)];
            for (n, f) in (2..).zip(orders) {
                let d = central(lower, x, 1e-5);
                assert!((d - f(x)).abs() / (1.0 + d.abs()) < 1e-6, "polygamma({n}, {x}): {d} vs {}", f(x));
                lower = f;
            }
            let all = polygammas(x);
            assert!((all[0] - digamma(x)).abs() < 1e-14 * (1.0 + digamma(x).abs()), "polygamma(0, {x})");
            assert!((all[1] - trigamma(x)).abs() < 1e-14 * (1.0 + trigamma(x)), "polygamma(1, {x})");
        }
    }
}
