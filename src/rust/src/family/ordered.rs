//! Ordered categorical responses (mgcv's `ocat()`; the R layer names it "ocat"): `y`
//! a class label `1..R`, observed when a latent logistic variable with mean
//! `mu = eta` falls between two cut points, `alpha_{y-1} < mu + e <= alpha_y`, with
//! `alpha_0 = -inf`, `alpha_R = inf` and `alpha_1 = -1` (fixing the location), so
//! `P(y = k) = F(alpha_k - mu) - F(alpha_{k-1} - mu)`, `F` the logistic distribution
//! function (McCullagh 1980; Wood, Pya & Säfken 2016, JASA §3). The other `R - 2`
//! cut points are estimated with the smoothing parameters, searched as mgcv
//! parameterizes them, the logs of the gaps `alpha_{k+1} - alpha_k`; the scale is 1.
//!
//! As mgcv's, the deviance is `-2 log P(y)` (its `ls` is 0). Its derivatives in `mu`
//! follow from those of `P`, differences of the logistic density's derivatives at
//! the two cut points. `-log P` is convex in `mu` (a difference of a log-concave
//! distribution function's values), so the observed information is positive, and
//! mgcv takes it as the expected one (its `EDmu2` is its `Dmu2`).

use super::exponential::ExponentialFamily;
use super::ParameterSearch;

/// Most classes (cut points are held in a fixed array, so that the family is `Copy`).
pub const MAX_CLASSES: usize = 64;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Ordered {
    /// `alpha_1 = -1, ..., alpha_{R-1}`, increasing; the rest unused.
    cuts: [f64; MAX_CLASSES - 1],
    /// The number of classes `R >= 2`.
    classes: usize,
}

/// The logistic distribution function at `x`, its upper tail `1 - F`, and its
/// density's value and first three derivatives, `[F, 1 - F, f, f', f'', f''']`, from
/// `e^-|x|` (accurate in both tails); the density's are 0 at infinite `x`.
fn logistic(x: f64) -> [f64; 6] {
    if x.is_infinite() {
        let cdf = if x > 0.0 { 1.0 } else { 0.0 };
        return [cdf, 1.0 - cdf, 0.0, 0.0, 0.0, 0.0];
    }
    let e = (-x.abs()).exp();
    let big = 1.0 / (1.0 + e);
    let (cdf, tail) = if x >= 0.0 { (big, e * big) } else { (e * big, big) };
    // f = F (1 - F); f' = f (1 - 2F); f'' = f (1 - 6F + 6F^2); f''' = f (1 - 14F + 36F^2 - 24F^3).
    let f = cdf * tail;
    let (c, c2, c3) = (cdf, cdf * cdf, cdf * cdf * cdf);
    [cdf, tail, f, f * (1.0 - 2.0 * c), f * (1.0 - 6.0 * c + 6.0 * c2), f * (1.0 - 14.0 * c + 36.0 * c2 - 24.0 * c3)]
}

/// `P = F(b) - F(a)` from `logistic` at `a < b`, as the difference of the two tails
/// that is accurate (mgcv's `Fdiff`): both in the lower tail, both in the upper
/// (`1 - F(x) = F(-x)`), or one in each.
fn interval_probability(a: f64, b: f64, la: &[f64; 6], lb: &[f64; 6]) -> f64 {
    if b <= 0.0 {
        lb[0] - la[0]
    } else if a >= 0.0 {
        la[1] - lb[1]
    } else {
        1.0 - la[0] - lb[1]
    }
}

impl Ordered {
    /// The cut points below and above class `y` (`-inf` below 1, `inf` above `R`).
    fn bounds(&self, y: f64) -> (f64, f64) {
        let k = y as usize;
        let lower = if k <= 1 { f64::NEG_INFINITY } else { self.cuts[k - 2] };
        let upper = if k >= self.classes { f64::INFINITY } else { self.cuts[k - 1] };
        (lower, upper)
    }

    /// `P(y)` at `mu` (`interval_probability`).
    fn probability(&self, y: f64, mu: f64) -> f64 {
        let (lo, hi) = self.bounds(y);
        let (a, b) = (lo - mu, hi - mu);
        interval_probability(a, b, &logistic(a), &logistic(b))
    }

    /// The cut points, `alpha_1 .. alpha_{R-1}`.
    pub fn cut_points(&self) -> &[f64] {
        &self.cuts[..self.classes - 1]
    }
}

impl ExponentialFamily for Ordered {
    const NAME: &'static str = "ocat";
    const PARAMETERS: &'static [&'static str] = &["cuts"];
    const EXAMPLE: Self = {
        let mut cuts = [0.0; MAX_CLASSES - 1];
        cuts[0] = -1.0;
        cuts[1] = 0.5;
        cuts[2] = 1.7;
        Ordered { cuts, classes: 4 }
    };
    const ZERO_AT_Y: bool = false;

    /// The cut points `alpha_1 = -1 < alpha_2 < ... < alpha_{R-1}`, finite, for
    /// `2 <= R <= MAX_CLASSES` classes.
    fn new(parameters: &[f64]) -> Option<Self> {
        let n = parameters.len();
        let ok = (1..MAX_CLASSES).contains(&n)
            && parameters[0] == -1.0
            && parameters.iter().all(|v| v.is_finite())
            && parameters.windows(2).all(|w| w[1] > w[0]);
        ok.then(|| {
            let mut cuts = [0.0; MAX_CLASSES - 1];
            cuts[..n].copy_from_slice(parameters);
            Ordered { cuts, classes: n + 1 }
        })
    }

    fn parameters(&self) -> Vec<f64> {
        self.cut_points().to_vec()
    }

    fn known_scale(&self) -> bool {
        true
    }

    /// The logistic variance: only a scale for the (unused) Fisher steps and start,
    /// the observed information being taken as the expected (`expected_is_observed`).
    fn variance(&self, _mu: f64) -> [f64; 4] {
        [std::f64::consts::PI.powi(2) / 3.0, 0.0, 0.0, 0.0]
    }

    fn expected_is_observed(&self) -> bool {
        true
    }

    fn deviance(&self, y: f64, mu: f64) -> [f64; 3] {
        let [d1, d2, ..] = self.deviance_mu_derivatives(y, mu);
        [self.unit_deviance(y, mu), d1, d2]
    }

    fn unit_deviance(&self, y: f64, mu: f64) -> f64 {
        -2.0 * self.probability(y, mu).ln()
    }

    /// From `P`'s derivatives in `mu`, `P^(k) = (-1)^k (f^(k-1)(b) - f^(k-1)(a))`
    /// at the cut points' distances `a`, `b` from `mu`, by the derivatives of `log P`.
    fn deviance_mu_derivatives(&self, y: f64, mu: f64) -> [f64; 4] {
        let (lo, hi) = self.bounds(y);
        let (a, b) = (lo - mu, hi - mu);
        let (la, lb) = (logistic(a), logistic(b));
        let p = interval_probability(a, b, &la, &lb);
        let r1 = (la[2] - lb[2]) / p;
        let r2 = (lb[3] - la[3]) / p;
        let r3 = (la[4] - lb[4]) / p;
        let r4 = (lb[5] - la[5]) / p;
        let l1 = r1;
        let l2 = r2 - l1 * l1;
        let l3 = r3 - 3.0 * l1 * r2 + 2.0 * l1.powi(3);
        let l4 = r4 - 4.0 * r3 * l1 - 3.0 * r2 * r2 + 12.0 * r2 * l1 * l1 - 6.0 * l1.powi(4);
        [-2.0 * l1, -2.0 * l2, -2.0 * l3, -2.0 * l4]
    }

    fn valid_mean(&self, mu: f64) -> bool {
        mu.is_finite()
    }

    /// mgcv's: the middle of the class's interval, with -2 below the first cut point
    /// and one above the last.
    fn start_mean(&self, y: f64, _w: f64, _quasi: bool) -> f64 {
        let (lo, hi) = self.bounds(y);
        let lo = if lo.is_finite() { lo } else { -2.0 };
        let hi = if hi.is_finite() { hi } else { self.cuts[self.classes - 2] + 1.0 };
        (lo + hi) / 2.0
    }

    fn support_problem(&self, y: f64, _quasi: bool) -> Option<&'static str> {
        (!(y >= 1.0 && y <= self.classes as f64 && y == y.round())).then_some("must be a class label 1..R")
    }

    /// mgcv's `ocat()$ls`: 0, the deviance being `-2 log P`.
    fn saturated_loglik(&self, _y: &[f64], _w: &[f64], _phi: f64) -> [f64; 3] {
        [0.0; 3]
    }

    /// The log gaps `log(alpha_{k+1} - alpha_k)`, each within (-12, 6).
    fn parameter_searches(&self) -> Vec<ParameterSearch> {
        self.cut_points()
            .windows(2)
            .map(|w| ParameterSearch { start: (w[1] - w[0]).ln().clamp(-12.0, 6.0), lo: -12.0, hi: 6.0, step: 1.0 })
            .collect()
    }

    fn at_coordinates(&self, c: &[f64]) -> Self {
        let mut cuts = self.cuts;
        for (k, ck) in c.iter().enumerate() {
            cuts[k + 1] = cuts[k] + ck.exp();
        }
        Ordered { cuts, ..*self }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::family::central;

    /// mgcv's `ocat(theta = c(1.5, 1.2))` (cut points -1, 0.5, 1.7):
    /// `dev.resids(y, mu, 1)` at four classes (R 4.2.2, mgcv 1.8-41).
    #[test]
    fn deviance_matches_mgcv() {
        let o = Ordered::EXAMPLE;
        for (y, mu, r) in REFERENCE {
            let d = o.unit_deviance(y, mu);
            assert!((d - r).abs() < 1e-12 * (1.0 + r.abs()), "y = {y}, mu = {mu}: {d} vs {r}");
        }
    }
    const REFERENCE: [(f64, f64, f64); 4] = [
        (1.0, 0.3, 3.082_016_907_665_984_5),
        (2.0, -3.0, 4.818_321_776_482_094_7),
        (3.0, 1.1, 2.466_716_637_664_410_1),
        (4.0, 40.0, 0.0),
    ];

    #[test]
    fn derivatives_match_finite_differences_in_every_class() {
        let o = Ordered::EXAMPLE;
        for y in [1.0, 2.0, 3.0, 4.0] {
            for mu in [-4.0, -0.3, 0.9, 2.5, 6.0] {
                let d = o.deviance_mu_derivatives(y, mu);
                let numeric = [
                    central(|m| o.unit_deviance(y, m), mu, 1e-6),
                    central(|m| o.deviance_mu_derivatives(y, m)[0], mu, 1e-6),
                    central(|m| o.deviance_mu_derivatives(y, m)[1], mu, 1e-6),
                    central(|m| o.deviance_mu_derivatives(y, m)[2], mu, 1e-6),
                ];
                for k in 0..4 {
                    assert!(
                        (d[k] - numeric[k]).abs() < 1e-6 * (1.0 + d[k].abs()),
                        "y = {y}, mu = {mu}, D^({}): {} vs {}",
                        k + 1,
                        d[k],
                        numeric[k]
                    );
                }
                // -log P is convex in mu.
                assert!(d[1] > 0.0, "y = {y}, mu = {mu}");
            }
        }
    }
}
