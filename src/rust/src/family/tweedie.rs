//! The Tweedie distribution with power `1 < p < 2` (mgcv's `Tweedie(p)`, and `tw()`
//! at a given `p`; the R layer's `tw()` names it "tweedie"): a compound
//! Poisson-gamma distribution with mass at zero, `V(mu) = mu^p`, scale estimated.
//! An estimated `p` is searched directly within mgcv's `tw()` default range.
//!
//! Its saturated log likelihood needs the density's normalizing part, by the series
//! of Dunn & Smyth (2005, Statistics and Computing 15:267-280, §4).
//! For `y > 0`, `f(y; mu, phi) = a(y, phi) exp((y theta - kappa(theta)) / phi)` with
//! `a = (1/y) sum_{j>=1} W_j` and
//! `log W_j = j (-alpha log y + alpha log(p - 1) - (1 - alpha) log phi - log(2 - p))
//!            - lgamma(j + 1) - lgamma(-j alpha)`, `alpha = (2 - p) / (1 - p) < 0`.
//! The terms rise to a peak near `j = y^(2-p) / (phi (2 - p))` and fall away on
//! both sides; the sum is taken outward from the peak until the terms are below
//! `e^-37` of it (under double precision's rounding of the sum).

use super::exponential::{observed, ExponentialFamily};
use super::special::lgamma;
use super::ParameterSearch;

/// Terms of the series below `e^-DROP` of the largest are left out (under double
/// precision's rounding of the sum).
pub const DROP: f64 = 37.0;

/// Beyond this largest term's index (`phi` near zero: the density a spike), or this
/// many terms, the series is not summed: the log density is NaN, which a fit's step
/// control turns back from. (Terms within `e^-DROP` of the largest number about
/// `17 sqrt(peak)`: a million of them reach peaks of 1e9.)
pub const MAX_PEAK: f64 = 1e12;
pub const MAX_TERMS: usize = 1_000_000;

/// Beyond this index a term's `lgamma`s are computed afresh (a table from `j = 1`
/// would grow with `y / phi`).
const KEPT_TERMS: usize = 100_000;

/// `lgamma(j + 1)` and `lgamma(-j alpha)` for `j = 1, 2, ...`, kept for one power
/// while the rows of a sum are walked: every row's series needs the same ones, and
/// the two `lgamma`s were most of a `tw()` fit's time. Filled as terms are first
/// needed; each value is the one computed afresh would be.
pub struct SeriesTerms {
    p: f64,
    alpha: f64,
    /// `(lgamma(j + 1), lgamma(-j alpha))` at index `j` (index 0 unused).
    table: Vec<(f64, f64)>,
}

impl SeriesTerms {
    pub fn new(p: f64) -> SeriesTerms {
        SeriesTerms { p, alpha: (2.0 - p) / (1.0 - p), table: vec![(f64::NAN, f64::NAN)] }
    }

    fn at(&mut self, j: f64) -> (f64, f64) {
        let fresh = |j: f64| (lgamma(j + 1.0), lgamma(-j * self.alpha));
        let i = j as usize;
        if i >= KEPT_TERMS {
            return fresh(j);
        }
        while self.table.len() <= i {
            let next = fresh(self.table.len() as f64);
            self.table.push(next);
        }
        self.table[i]
    }
}

/// `log a(y, phi)` and its first two derivatives in `phi`, for `y > 0` (NaN where
/// the series is not summed: `MAX_PEAK`), at the power of `terms`, which keep the
/// terms' `lgamma`s.
pub fn log_a(terms: &mut SeriesTerms, y: f64, phi: f64) -> [f64; 3] {
    let (p, alpha) = (terms.p, terms.alpha);
    let slope = -alpha * y.ln() + alpha * (p - 1.0).ln() - (1.0 - alpha) * phi.ln() - (2.0 - p).ln();
    let mut log_w = |j: f64| {
        let (factorial, gamma) = terms.at(j);
        j * slope - factorial - gamma
    };
    let peak = (y.powf(2.0 - p) / (phi * (2.0 - p))).max(1.0).round();
    if !(peak <= MAX_PEAK) {
        return [f64::NAN; 3];
    }
    let top = log_w(peak);
    if !top.is_finite() {
        return [f64::NAN; 3];
    }
    // sum of w_j, j w_j and j^2 w_j with w_j = W_j / W_peak.
    let mut sums = [0.0_f64; 3];
    let mut count = 0;
    let mut add = |j: f64| -> bool {
        let lw = log_w(j) - top;
        count += 1;
        // (NaN stops the sum too.)
        if !(lw >= -DROP) || count > MAX_TERMS {
            return false;
        }
        let w = lw.exp();
        sums[0] += w;
        sums[1] += j * w;
        sums[2] += j * j * w;
        true
    };
    let mut j = peak;
    while add(j) {
        j += 1.0;
    }
    let mut j = peak - 1.0;
    while j >= 1.0 && add(j) {
        j -= 1.0;
    }
    if count > MAX_TERMS {
        return [f64::NAN; 3];
    }
    // d log W_j / d phi = -j (1 - alpha) / phi.
    let c = (1.0 - alpha) / phi;
    let mean = sums[1] / sums[0];
    let var = sums[2] / sums[0] - mean * mean;
    [top + sums[0].ln() - y.ln(), -c * mean, c * mean / phi + c * c * var]
}

/// The log density at `mu` (with its first two derivatives in `phi`), mgcv's
/// `ldTweedie`: `y = 0` has probability `exp(-mu^(2-p) / (phi (2-p)))`; at the power
/// of `terms` (the series').
pub fn log_density(terms: &mut SeriesTerms, y: f64, mu: f64, phi: f64) -> [f64; 3] {
    let p = terms.p;
    let kappa = mu.powf(2.0 - p) / (2.0 - p);
    if y == 0.0 {
        return [-kappa / phi, kappa / (phi * phi), -2.0 * kappa / phi.powi(3)];
    }
    let exponent = y * mu.powf(1.0 - p) / (1.0 - p) - kappa;
    let [la, la1, la2] = log_a(terms, y, phi);
    [exponent / phi + la, -exponent / (phi * phi) + la1, 2.0 * exponent / phi.powi(3) + la2]
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Tweedie {
    pub p: f64,
}

impl Tweedie {
    /// The unit deviance at `mu` from `m1 = mu^(1-p)` (`mu^(2-p) = m1 mu`); the
    /// term in `y` alone, `y^(2-p) / ((1-p)(2-p))`, is 0 at `y = 0`.
    fn deviance_from(&self, y: f64, mu: f64, m1: f64) -> f64 {
        let p = self.p;
        let ya = if y > 0.0 { y.powf(2.0 - p) / ((1.0 - p) * (2.0 - p)) } else { 0.0 };
        2.0 * (ya - y * m1 / (1.0 - p) + m1 * mu / (2.0 - p))
    }
}

impl ExponentialFamily for Tweedie {
    const NAME: &'static str = "tweedie";
    const PARAMETERS: &'static [&'static str] = &["power"];
    const EXAMPLE: Self = Tweedie { p: 1.35 };

    /// `p` in (1, 2).
    fn new(parameters: &[f64]) -> Option<Self> {
        let &[p] = parameters else { return None };
        (p > 1.0 && p < 2.0).then_some(Tweedie { p })
    }

    fn parameters(&self) -> Vec<f64> {
        vec![self.p]
    }

    fn known_scale(&self) -> bool {
        false
    }

    fn variance(&self, mu: f64) -> [f64; 4] {
        let p = &self.p;
        let v = mu.powf(*p);
        [v, p * v / mu, p * (p - 1.0) * v / (mu * mu), p * (p - 1.0) * (p - 2.0) * v / mu.powi(3)]
    }

    /// One `powf` for the mean's powers: `mu^(1-p)`, then `mu^(2-p)` and `mu^-p` from
    /// it (the powers were a `tw()` fit's largest cost after the series).
    fn deviance(&self, y: f64, mu: f64) -> [f64; 3] {
        let p = self.p;
        let m1 = mu.powf(1.0 - p);
        let m0 = m1 / mu;
        [self.deviance_from(y, mu, m1), 2.0 * (m1 - y * m0), 2.0 * ((1.0 - p) * m0 + p * y * m0 / mu)]
    }

    fn unit_deviance(&self, y: f64, mu: f64) -> f64 {
        self.deviance_from(y, mu, mu.powf(1.0 - self.p))
    }

    /// mgcv's: `y + 0.1` where `y` is 0.
    fn start_mean(&self, y: f64, _w: f64, _quasi: bool) -> f64 {
        y + 0.1 * f64::from(y == 0.0)
    }

    fn support_problem(&self, y: f64, _quasi: bool) -> Option<&'static str> {
        (y < 0.0).then_some("must be non-negative")
    }

    /// `log f(y; mu = y, phi)` (mgcv's `Tweedie(p)$ls`); zeros add nothing.
    fn saturated_loglik(&self, y: &[f64], w: &[f64], phi: f64) -> [f64; 3] {
        let mut out = [0.0; 3];
        let mut terms = SeriesTerms::new(self.p);
        for (&y, &w) in observed(y, w).filter(|(y, _)| **y > 0.0) {
            let d = log_density(&mut terms, y, y, phi);
            for k in 0..3 {
                out[k] += w * d[k];
            }
        }
        out
    }

    /// Within mgcv's `tw()` default range [1.01, 1.99].
    fn parameter_searches(&self) -> Vec<ParameterSearch> {
        vec![ParameterSearch { start: self.p.clamp(1.01, 1.99), lo: 1.01, hi: 1.99, step: 0.1 }]
    }

    /// `c` is the power.
    fn at_coordinates(&self, c: &[f64]) -> Self {
        Tweedie { p: c[0] }
    }

    /// mgcv's `tw()` reports the scale REML/ML chose.
    fn reports_criterion_scale(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Against mgcv's `ldTweedie(y, mu, p, phi)` (log density, d/dphi, d2/dphi2),
    /// across the series' regimes (few terms near y = 0, many at large y / phi).
    #[test]
    fn log_density_matches_mgcv() {
        let cases: [(f64, f64, f64, f64, [f64; 3]); 5] = [
            (0.3, 1.3, 0.8, 1.4, [-9.377941764722570e-01, -1.218269809583781e-01, -2.057119277649852e+00]),
            (2.5, 0.4, 2.0, 1.7, [-3.729275167950106e+00, 4.228952010451119e-01, -6.395256390989412e-01]),
            (5.0, 3.0, 0.5, 1.15, [-2.424536299832077e+00, 8.078205989782390e-01, -5.323628756956737e+00]),
            (0.05, 1.0, 1.0, 1.5, [-6.153188800877241e-01, -9.364980217624419e-02, -1.631150048059142e+00]),
            (40.0, 30.0, 0.3, 1.3, [-4.475715985396192e+00, 4.189333289099636e+00, -3.353119134778262e+01]),
        ];
        for (y, mu, phi, p, want) in cases {
            let got = log_density(&mut SeriesTerms::new(p), y, mu, phi);
            for k in 0..3 {
                assert!(
                    (got[k] - want[k]).abs() < 1e-9 * (1.0 + want[k].abs()),
                    "y {y} mu {mu}: {k}: {} vs {}",
                    got[k],
                    want[k]
                );
            }
        }
        // Zero: the point mass.
        let z = log_density(&mut SeriesTerms::new(1.6), 0.0, 2.0, 1.5);
        assert!((z[0] + 2f64.powf(0.4) / (1.5 * 0.4)).abs() < 1e-14);
    }
}
