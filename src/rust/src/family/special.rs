//! The log gamma function and its first two derivatives (digamma, trigamma), for the
//! Gamma and count families' saturated log likelihoods. `lgamma` is musl's (through
//! `libm`); digamma and trigamma shift the argument up by the recurrences
//! `psi(x) = psi(x + 1) - 1/x`, `psi'(x) = psi'(x + 1) + 1/x^2` until the asymptotic
//! series (Abramowitz & Stegun 6.3.18, 6.4.12) is accurate to double precision.

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
    }

    #[test]
    fn derivatives_match_finite_differences() {
        for x in [0.03, 0.7, 3.2, 15.0, 250.0] {
            let d = central(lgamma, x, 1e-6);
            assert!((d - digamma(x)).abs() / (1.0 + d.abs()) < 1e-7, "digamma({x})");
            let t = central(digamma, x, 1e-6);
            assert!((t - trigamma(x)).abs() / (1.0 + t.abs()) < 1e-7, "trigamma({x})");
        }
    }
}
