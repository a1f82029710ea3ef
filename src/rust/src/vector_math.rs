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
/// baseline x86-64). `FMA` says whether fused multiply-adds are single instructions
/// in the copy being compiled: use them through `fused` only.
pub trait WideBody {
    type Output;
    fn run<const FMA: bool>(self) -> Self::Output;
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
    body.run::<false>()
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn wide<B: WideBody>(body: B) -> B::Output {
    body.run::<true>()
}

/// `a b + c`, fused (one rounding) where `FMA` says the instruction is there; without
/// it `mul_add` would be a library call, many times slower than the two operations.
#[inline(always)]
pub fn fused<const FMA: bool>(a: f64, b: f64, c: f64) -> f64 {
    if FMA {
        a.mul_add(b, c)
    } else {
        a * b + c
    }
}

/// `ln x` for a positive finite `x` (0 or anything else gives a meaningless number:
/// callers select those out), within 2 units in the last place of libm's.
///
/// With `x = 2^e m`, `m` in `[sqrt(1/2), sqrt(2))` and `f = (m - 1) / (m + 1)`
/// (`|f| <= 0.1716`): `ln m = 2 atanh(f) = 2f + f R(f^2)`, `R` the minimax
/// polynomial of degree 7 of fdlibm's `log` (Sun Microsystems 1993; its error
/// below 2^-58.45); `e ln 2` is added in two parts, the first exact for any `e`.
#[inline(always)]
pub fn ln_positive<const FMA: bool>(x: f64) -> f64 {
    const MANTISSA: u64 = (1 << 52) - 1;
    const ONE: u64 = 0x3ff0_0000_0000_0000;
    // `2^52 + b` as a double has `b` in its low bits: the exponent field becomes a
    // double without an integer conversion (which has no 4-lane form in AVX2).
    const TWO_52: f64 = 4_503_599_627_370_496.0;
    const TWO_54: f64 = 18_014_398_509_481_984.0;
    const LN2_HI: f64 = 6.931_471_803_691_238_164_9e-1;
    const LN2_LO: f64 = 1.908_214_929_270_587_700_0e-10;
    // fdlibm's Lg7 .. Lg1.
    const LG: [f64; 7] = [
        1.479_819_860_511_658_591e-1,
        1.531_383_769_920_937_332e-1,
        1.818_357_216_161_805_012e-1,
        2.222_219_843_214_978_396e-1,
        2.857_142_874_366_239_149e-1,
        3.999_999_999_940_941_908e-1,
        6.666_666_666_666_735_130e-1,
    ];
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
    let mut p = LG[0];
    for c in &LG[1..] {
        p = fused::<FMA>(p, s, *c);
    }
    let ln_m = fused::<FMA>(f, s * p, 2.0 * f);
    fused::<FMA>(e, LN2_HI, fused::<FMA>(e, LN2_LO, ln_m))
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
            let (got, want) = (ln_positive::<false>(x), x.ln());
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
        assert_eq!(ln_positive::<false>(1.0), 0.0);
    }

    struct Logs<'a>(&'a [f64]);

    impl WideBody for Logs<'_> {
        type Output = Vec<f64>;
        #[inline(always)]
        fn run<const FMA: bool>(self) -> Vec<f64> {
            self.0.iter().map(|x| ln_positive::<FMA>(*x)).collect()
        }
    }

    #[test]
    fn wide_vectors_give_the_same_values() {
        let xs: Vec<f64> = (1..5000).map(|i| i as f64 * 0.37).collect();
        let narrow: Vec<f64> = xs.iter().map(|x| ln_positive::<false>(*x)).collect();
        let wide = with_wide_vectors(Logs(&xs));
        // (Fused multiply-adds round once where the narrow copy rounds twice.)
        for (a, b) in narrow.iter().zip(&wide) {
            assert!(ulps(*a, *b) <= 2.0);
        }
    }
}
