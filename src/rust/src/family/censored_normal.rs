//! The censored normal (mgcv's `cnorm()`): a normal response with mean `mu` and
//! standard deviation `sigma` that may be observed exactly, only as an interval, or
//! only as a bound, as in Tobit regression and log-normal accelerated failure time
//! models (Wood, Pya & Säfken 2016, JASA §3; mgcv's `?cnorm`). An extended family:
//! `log(sigma)` is estimated with the smoothing parameters and the scale is 1.
//!
//! Each row's response is a pair, mgcv's two-column `cbind(y, censor)`: `censor ==
//! y` is an exact observation, `censor == -Inf` says the value is at most `y`,
//! `censor == Inf` at least `y`, and any other finite `censor` that the value lies
//! between the two. A prior weight `w` divides the variance (`sigma / sqrt(w)` for
//! that row), as mgcv's `th = theta - log(w) / 2`.
//!
//! The deviance of an exact row is `w (y - mu)^2 / sigma^2`; of a censored one,
//! `2 log P_sat - 2 log P(mu)` with `P(mu) = Phi(b) - Phi(a)`, `a` and `b` the
//! standardized ends of the interval (infinite for a bound), and `P_sat` its largest
//! value, at the interval's centre (1 for a bound). Its derivatives in `mu` come from
//! those of `P`, differences of the normal density's derivatives at the two ends,
//! each divided by `P` in log space so that rows far in a tail keep their precision.
//! `-log P` is convex in `mu` (`Phi` is log-concave), so the observed information is
//! positive and is taken as the expected one (mgcv's `EDmu2` is its `Dmu2`).
//!
//! The saturated log likelihood of an exact row is the normal's,
//! `-log(2 pi) / 2 - log(sigma / sqrt(w))`. mgcv 1.8-41's `cnorm()$ls` has
//! `+log(2 pi) / 2` there (its `aic` has the right sign), which moves its REML score
//! by `log(2 pi)` per exact row and nothing else; warmgam keeps the true likelihood.

use std::f64::consts::{FRAC_1_SQRT_2, PI};

use super::exponential::ExponentialFamily;
use super::jet::Jet;
use super::normal;
use super::ParameterSearch;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CensoredNormal {
    pub sigma: f64,
}

/// `log phi(x)`, `-inf` at infinite `x`.
fn log_density(x: f64) -> f64 {
    -0.5 * x * x - 0.5 * (2.0 * PI).ln()
}

/// `log Phi(x)`, accurate in both tails: the lower tail by its asymptotic series
/// where `Phi` would underflow (Abramowitz & Stegun 26.2.12; at `x < -30` the first
/// omitted term is below 2e-12 relative), the upper by `log1p` of the lower.
fn log_cdf(x: f64) -> f64 {
    if x == f64::INFINITY {
        0.0
    } else if x < -30.0 {
        let z = 1.0 / (x * x);
        let series = 1.0 - z * (1.0 - 3.0 * z * (1.0 - 5.0 * z * (1.0 - 7.0 * z)));
        log_density(x) - (-x).ln() + series.ln()
    } else if x > 5.0 {
        (-normal::cdf(-x)).ln_1p()
    } else {
        normal::cdf(x).ln()
    }
}

/// `log(Phi(b) - Phi(a))` for `a < b` (either may be infinite), from the tail where
/// the difference keeps its relative precision.
fn log_interval_probability(a: f64, b: f64) -> f64 {
    if a == f64::NEG_INFINITY {
        log_cdf(b)
    } else if b == f64::INFINITY {
        log_cdf(-a)
    } else if a >= 0.0 {
        let upper = log_cdf(-a);
        upper + (-(log_cdf(-b) - upper).exp_m1()).ln()
    } else if b <= 0.0 {
        let lower = log_cdf(b);
        lower + (-(log_cdf(a) - lower).exp_m1()).ln()
    } else {
        (-(normal::cdf(a) + normal::cdf(-b))).ln_1p()
    }
}

/// `phi^(k)(x) / phi(x)` for `k = 0..=3`: the Hermite polynomials with signs.
fn density_derivative_ratios(x: f64) -> [f64; 4] {
    [1.0, -x, x * x - 1.0, x * (3.0 - x * x)]
}

impl CensoredNormal {
    /// The row's standard deviation under prior weight `w`.
    fn row_sigma(&self, w: f64) -> f64 {
        self.sigma / w.sqrt()
    }

    /// The standardized ends `(a, b)` of a censored row's interval at `mu`, and its
    /// half-width `h` (infinite for a bound); `None` for an exact row.
    fn ends(y: f64, censor: f64, mu: f64, s: f64) -> Option<(f64, f64, f64)> {
        if censor == y {
            return None;
        }
        let (lo, hi) = if censor == f64::NEG_INFINITY {
            (f64::NEG_INFINITY, y)
        } else if censor == f64::INFINITY {
            (y, f64::INFINITY)
        } else {
            (y.min(censor), y.max(censor))
        };
        Some(((lo - mu) / s, (hi - mu) / s, (hi - lo) / (2.0 * s)))
    }

    /// `log P(mu)` of a censored row as a function of `mu` with its first four
    /// derivatives: `P^(k) / P` from the density's derivatives at the ends, divided by
    /// `P` in log space, then `log` of the jet `P(mu + t) / P(mu)`.
    fn log_probability(a: f64, b: f64, s: f64) -> Jet {
        let log_p = log_interval_probability(a, b);
        let ratio = |x: f64| if x.is_finite() { (log_density(x) - log_p).exp() } else { 0.0 };
        let (ra, rb) = (ratio(a), ratio(b));
        let (pa, pb) = (density_derivative_ratios(a), density_derivative_ratios(b));
        // d/dmu of a standardized end is -1/s, so P^(k) = (-1/s)^k (phi^(k-1)(b) - phi^(k-1)(a)).
        let mut relative = [1.0; 5];
        let mut factor = 1.0;
        for k in 1..5 {
            factor *= -1.0 / s;
            let at = |r: f64, p: &[f64; 4]| if r == 0.0 { 0.0 } else { r * p[k - 1] };
            relative[k] = factor * (at(rb, &pb) - at(ra, &pa));
        }
        let mut jet = Jet(relative).ln();
        jet.0[0] = log_p;
        jet
    }

    /// The saturated log likelihood of a censored row: `log P` at the interval's
    /// centre, `log(2 Phi(h) - 1)`, and 0 for a bound.
    fn log_saturated(h: f64) -> f64 {
        if h.is_infinite() {
            0.0
        } else {
            libm::erf(h * FRAC_1_SQRT_2).ln()
        }
    }
}

impl ExponentialFamily for CensoredNormal {
    const NAME: &'static str = "cnorm";
    const PARAMETERS: &'static [&'static str] = &["sigma"];
    const EXAMPLE: Self = CensoredNormal { sigma: 0.8 };

    /// `sigma > 0`, finite.
    fn new(parameters: &[f64]) -> Option<Self> {
        let &[sigma] = parameters else { return None };
        (sigma > 0.0 && sigma.is_finite()).then_some(CensoredNormal { sigma })
    }

    fn parameters(&self) -> Vec<f64> {
        vec![self.sigma]
    }

    fn known_scale(&self) -> bool {
        true
    }

    fn variance(&self, _mu: f64) -> [f64; 4] {
        [self.sigma * self.sigma, 0.0, 0.0, 0.0]
    }

    fn variance_derivatives(&self) -> bool {
        false
    }

    fn expected_is_observed(&self) -> bool {
        true
    }

    fn deviance(&self, y: f64, mu: f64) -> [f64; 3] {
        let [d1, d2, ..] = self.deviance_mu_derivatives(y, mu);
        [self.unit_deviance(y, mu), d1, d2]
    }

    /// An exact row's.
    fn unit_deviance(&self, y: f64, mu: f64) -> f64 {
        let r = (y - mu) / self.sigma;
        r * r
    }

    fn deviance_mu_derivatives(&self, y: f64, mu: f64) -> [f64; 4] {
        let s2 = self.sigma * self.sigma;
        [-2.0 * (y - mu) / s2, 2.0 / s2, 0.0, 0.0]
    }

    fn censored_deviance(&self, y: f64, censor: f64, w: f64, mu: f64) -> f64 {
        let s = self.row_sigma(w);
        match Self::ends(y, censor, mu, s) {
            None => w * self.unit_deviance(y, mu),
            Some((a, b, h)) => 2.0 * (Self::log_saturated(h) - log_interval_probability(a, b)),
        }
    }

    fn censored_deviance_mu_derivatives(&self, y: f64, censor: f64, w: f64, mu: f64) -> [f64; 4] {
        let s = self.row_sigma(w);
        match Self::ends(y, censor, mu, s) {
            None => self.deviance_mu_derivatives(y, mu).map(|d| w * d),
            Some((a, b, _)) => {
                let j = Self::log_probability(a, b, s).0;
                [-2.0 * j[1], -2.0 * j[2], -2.0 * j[3], -2.0 * j[4]]
            }
        }
    }

    fn valid_mean(&self, mu: f64) -> bool {
        mu.is_finite()
    }

    /// `y`, or 0.1 where `y` is 0 (for the log and sqrt links).
    fn start_mean(&self, y: f64, _w: f64, _quasi: bool) -> f64 {
        if y == 0.0 {
            0.1
        } else {
            y
        }
    }

    fn support_problem(&self, _y: f64, _quasi: bool) -> Option<&'static str> {
        None
    }

    /// Every row exact.
    fn saturated_loglik(&self, y: &[f64], w: &[f64], phi: f64) -> [f64; 3] {
        self.censored_saturated_loglik(y, None, w, phi)
    }

    fn censored_saturated_loglik(&self, y: &[f64], censor: Option<&[f64]>, w: &[f64], _phi: f64) -> [f64; 3] {
        let mut ls = 0.0;
        // Zero-weight rows do not count.
        for i in (0..y.len()).filter(|&i| w[i] > 0.0) {
            let s = self.row_sigma(w[i]);
            let c = censor.map_or(y[i], |c| c[i]);
            ls += match Self::ends(y[i], c, 0.0, s) {
                None => -0.5 * (2.0 * PI).ln() - s.ln(),
                Some((_, _, h)) => Self::log_saturated(h),
            };
        }
        [ls, 0.0, 0.0]
    }

    /// `log(sigma)` within e^12 of its start.
    fn parameter_searches(&self) -> Vec<ParameterSearch> {
        let c = self.sigma.ln();
        vec![ParameterSearch { start: c, lo: c - 12.0, hi: c + 12.0, step: 1.0 }]
    }

    fn at_coordinates(&self, c: &[f64]) -> Self {
        CensoredNormal { sigma: c[0].exp() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::family::central;

    /// `(y, censor, w, mu)`: exact, interval, left-censored, right-censored, a weighted
    /// interval given upside down, and a mean far outside its interval.
    const ROWS: [(f64, f64, f64, f64); 6] = [
        (1.3, 1.3, 1.0, 0.2),
        (0.5, 1.5, 1.0, 0.2),
        (0.0, f64::NEG_INFINITY, 1.0, 0.2),
        (1.0, f64::INFINITY, 1.0, 0.2),
        (1.5, 0.5, 2.0, 0.2),
        (0.5, 1.5, 1.0, 3.1),
    ];

    /// mgcv 1.8-41's `cnorm()` at `sigma = 0.8` (R 4.2.2): `dev.resids` and `Dd(level =
    /// 2)`'s `Dmu` to `Dmu4` for `ROWS`, and `ls`.
    #[test]
    fn deviance_and_derivatives_match_mgcv() {
        let dev = [
            1.890625,
            0.87786948488659022,
            1.82612352962226998,
            3.68204329001852715,
            1.54976331931897615,
            6.09929996355708681,
        ];
        let d = [
            [-3.4375, 3.125, 0.0, 0.0],
            [-2.1981586207628512, 2.7647404525225299, -0.061115083557909511, 0.059662811652729353],
            [2.4088849485410098, 2.1485868012346461, 0.740382298646858117, -0.545782204369074098],
            [-3.8128381904024535, 2.5028197950926616, -0.456762482054883456, -0.386596600003620949],
            [-3.9171100548695534, 5.0942395563830480, -0.634785352244647605, 0.216694194480716362],
            [5.8586645837083013, 2.8727725480235176, 0.089455397100593359, -0.010220271340713794],
        ];
        let c = CensoredNormal { sigma: 0.8 };
        for (i, &(y, censor, w, mu)) in ROWS.iter().enumerate() {
            let v = c.censored_deviance(y, censor, w, mu);
            assert!((v - dev[i]).abs() < 1e-12 * (1.0 + dev[i]), "row {i}: {v} vs {}", dev[i]);
            let got = c.censored_deviance_mu_derivatives(y, censor, w, mu);
            for k in 0..4 {
                assert!((got[k] - d[i][k]).abs() < 1e-10 * (1.0 + d[i][k].abs()), "row {i} order {}: {got:?}", k + 1);
            }
        }
        // mgcv's ls is -0.84919038823639692; the one exact row adds log(2 pi) less here
        // (mgcv's sign error, in the module's notes).
        let y: Vec<f64> = ROWS.iter().map(|r| r.0).collect();
        let censor: Vec<f64> = ROWS.iter().map(|r| r.1).collect();
        let w: Vec<f64> = ROWS.iter().map(|r| r.2).collect();
        let ls = c.censored_saturated_loglik(&y, Some(&censor), &w, 1.0)[0];
        assert!((ls - (-0.84919038823639692 - (2.0 * PI).ln())).abs() < 1e-12, "{ls}");
    }

    /// Far in a tail, where `Phi` underflows, the derivatives stay finite and agree
    /// with differences of the deviance (mgcv's ratio of densities gives NaN there).
    #[test]
    fn tails_keep_their_precision() {
        let c = CensoredNormal { sigma: 1.0 };
        for &(y, censor, mu) in &[
            (0.0, f64::INFINITY, 45.0),
            (0.0, f64::NEG_INFINITY, -45.0),
            (50.0, 51.0, 1.0),
            (-51.0, -50.0, 1.0),
            (40.0, f64::NEG_INFINITY, 1.0),
        ] {
            let d = c.censored_deviance_mu_derivatives(y, censor, 1.0, mu);
            assert!(d.iter().all(|v| v.is_finite()), "{y} {censor} {mu}: {d:?}");
            for k in 0..2 {
                let numeric = central(
                    |m| {
                        if k == 0 {
                            c.censored_deviance(y, censor, 1.0, m)
                        } else {
                            c.censored_deviance_mu_derivatives(y, censor, 1.0, m)[k - 1]
                        }
                    },
                    mu,
                    1e-6,
                );
                assert!(
                    (d[k] - numeric).abs() < 1e-5 * (1.0 + numeric.abs()),
                    "{y} {censor} {mu} order {}: {} vs {numeric}",
                    k + 1,
                    d[k]
                );
            }
        }
    }
}
