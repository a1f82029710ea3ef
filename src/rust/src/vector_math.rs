//! Elementwise functions written so that a loop over a slice of them vectorizes.
//!
//! A radial basis (thin plate, Duchon, sphere splines) evaluates a logarithm for
//! every pair of a data row and a knot: 4e7 of them for 2e4 rows and 2000 knots,
//! a third of such a fit when each went through libm's scalar `log`. Here the
//! logarithm is a branch-free polynomial (no table, no call), so a loop over it
//! compiles to vector instructions, four lanes wide on CPUs with AVX2 (selected at
//! run time: the package is built for any x86-64).

/// Work to run with the widest vectors the CPU has: `run` must be
/// `#[inline(always)]`, so that it is compiled into `with_wide_vectors`' AVX2 copy
/// (a closure would not do: its body stays a function of its own, compiled for the
/// baseline x86-64).
pub trait WideBody {
    type Output;
    fn run(self) -> Self::Output;
}

/// Runs `body` compiled for AVX2 and FMA when the CPU has them (the loops in it then
/// use 256-bit vectors), else as it is.
#[inline(always)]
pub fn with_wide_vectors<B: WideBody>(body: B) -> B::Output {
    #[cfg(target_arch = "x86_64")]
    if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
        // SAFETY: the CPU has AVX2 and FMA (checked above), all `wide` needs.
        let out = unsafe { wide(body) };
        crate::linalg::clear_vector_state();
        return out;
    }
    body.run()
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn wide<B: WideBody>(body: B) -> B::Output {
    body.run()
}

/// `ln x` for a positive finite `x` (0 or anything else gives a meaningless number:
/// callers select those out), within 2 units in the last place of libm's.
///
/// With `x = 2^e m`, `m` in `[sqrt(1/2), sqrt(2))`: `ln m = 2 atanh(f)` with
/// `f = (m - 1) / (m + 1)`, `|f| <= 0.1716`, whose odd series `2 f (1 + f^2/3 + f^4/5
/// + ..)` reaches double precision by `f^22` (Abramowitz & Stegun 4.1.27); `e ln 2`
/// is added in two parts, the first exact for any `e`, as fdlibm's `log`.
#[inline(always)]
pub fn ln_positive(x: f64) -> f64 {
    const MANTISSA: u64 = (1 << 52) - 1;
    const ONE: u64 = 0x3ff0_0000_0000_0000;
    // `2^52 + b` as a double has `b` in its low bits: the exponent field becomes a
    // double without an integer conversion (which has no 4-lane form in AVX2).
    const TWO_52: f64 = 4_503_599_627_370_496.0;
    const TWO_54: f64 = 18_014_398_509_481_984.0;
    const LN2_HI: f64 = 6.931_471_803_691_238_164_9e-1;
    const LN2_LO: f64 = 1.908_214_929_270_587_700_0e-10;
    // A subnormal `x` is first scaled by 2^54 into the normal range.
    let tiny = x < f64::MIN_POSITIVE;
    let bits = (if tiny { x * TWO_54 } else { x }).to_bits();
    let biased = f64::from_bits((bits >> 52) | TWO_52.to_bits()) - TWO_52;
    let m = f64::from_bits((bits & MANTISSA) | ONE);
    let high = m > std::f64::consts::SQRT_2;
    let m = if high { 0.5 * m } else { m };
    let e = biased - 1023.0 + if high { 1.0 } else { 0.0 } - if tiny { 54.0 } else { 0.0 };
    let f = (m - 1.0) / (m + 1.0);
    let s = f * f;
    // 1/3, 1/5, .., 1/21 by Horner's rule in s.
    let mut p = 1.0 / 21.0;
    for c in [1.0 / 19.0, 1.0 / 17.0, 1.0 / 15.0, 1.0 / 13.0, 1.0 / 11.0, 1.0 / 9.0, 1.0 / 7.0, 1.0 / 5.0, 1.0 / 3.0] {
        p = p * s + c;
    }
    let two_f = 2.0 * f;
    e * LN2_HI + (e * LN2_LO + (two_f + two_f * s * p))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ulps(a: f64, b: f64) -> f64 {
        ((a - b) / (b.abs() * f64::EPSILON).max(f64::MIN_POSITIVE)).abs()
    }

    /// Against libm over many magnitudes, near 1 (where `ln` is small and relative
    /// accuracy is hardest) and at the edges of the mantissa's reduction.
    #[test]
    fn ln_positive_agrees_with_libm() {
        let mut worst = 0.0_f64;
        let mut check = |x: f64| {
            let (got, want) = (ln_positive(x), x.ln());
            let err = if want == 0.0 { got.abs() } else { ulps(got, want) };
            worst = worst.max(err);
        };
        // (From subnormal numbers, by steps that move them.)
        let mut x = 1e-320;
        while x < 1e300 {
            check(x);
            x *= 1.0 + std::f64::consts::PI * 1e-3;
        }
        check(5e-324);
        for i in 1..20000 {
            let t = i as f64 * 1e-5;
            check(1.0 + t);
            check(1.0 - t / 2.0);
            check(std::f64::consts::SQRT_2 * (1.0 + (t - 0.1) * 1e-3));
        }
        check(f64::MIN_POSITIVE);
        check(f64::MAX);
        assert!(worst <= 2.0, "{worst} ulps");
        assert_eq!(ln_positive(1.0), 0.0);
    }

    struct Logs<'a>(&'a [f64]);

    impl WideBody for Logs<'_> {
        type Output = Vec<f64>;
        #[inline(always)]
        fn run(self) -> Vec<f64> {
            self.0.iter().map(|x| ln_positive(*x)).collect()
        }
    }

    #[test]
    fn wide_vectors_give_the_same_values() {
        let xs: Vec<f64> = (1..5000).map(|i| i as f64 * 0.37).collect();
        let narrow: Vec<f64> = xs.iter().map(|x| ln_positive(*x)).collect();
        let wide = with_wide_vectors(Logs(&xs));
        for (a, b) in narrow.iter().zip(&wide) {
            assert!(ulps(*a, *b) <= 1.0);
        }
    }
}
