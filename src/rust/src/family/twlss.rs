//! The Tweedie location-scale-shape family (mgcv's `twlss`; Wood & Fasiolo 2017,
//! Biometrics 73:1071-1081): the mean `mu` on the first linear predictor (log,
//! identity or square root link), the power on the second, whose parameter (identity
//! link, as mgcv names it) `theta` is mapped into `(a, b)` within `(1, 2)` by the
//! likelihood itself, `p = a + (b - a) / (1 + exp(-theta))`, and the log scale
//! `rho = log phi` on the third (identity).
//!
//! The log density is `tweedie::log_density`'s (Dunn & Smyth 2005): for `y = 0`,
//! `-mu^(2-p) / (phi (2 - p))`; for `y > 0`,
//! `(y mu^(1-p) / (1 - p) - mu^(2-p) / (2 - p)) / phi + log a(y, phi, p)` with
//! `log a = -log y + log sum_j W_j`, `W_j` the series' terms. The series is summed
//! in `mjet`'s arithmetic over the terms that matter at the point (those within
//! `e^-37` of the largest, as `tweedie::log_a` sums them), so that its derivatives
//! in `p` and `phi` to fourth order come with it: the exact Laplace-approximate REML
//! and its derivatives, where mgcv's `twlss` has no third or fourth derivatives
//! and chooses its smoothing parameters by extended Fellner-Schall iteration.

use std::cell::RefCell;
use std::sync::OnceLock;

use super::general::LpLink;
use super::link::Link;
use super::mjet::{MJet, Space};
use super::special::{lgamma_by_series, lgamma_polygammas};
use super::tweedie::{DROP, MAX_PEAK, MAX_TERMS};

/// The embeddings (`Space::embedding`) of a log likelihood's three parts.
type Parts = [Vec<(u8, u8)>; 3];

/// For each order, how the parts enter the space of `(mu, theta, rho)`: `A` from
/// `(mu, theta)`, `1 / phi` from `rho`, `log a` from `(theta, rho)`.
fn embeddings() -> &'static [Parts; 5] {
    static EMBEDDINGS: OnceLock<[Parts; 5]> = OnceLock::new();
    EMBEDDINGS.get_or_init(|| {
        std::array::from_fn(|order| {
            let (s, s1, s2) = (Space::get(3, order), Space::get(1, order), Space::get(2, order));
            [s.embedding(s2, &[0, 1]), s.embedding(s1, &[2]), s.embedding(s2, &[1, 2])]
        })
    })
}

thread_local! {
    static TERMS: RefCell<Terms> = RefCell::new(Terms::default());
}

/// The parts of the series' terms that do not depend on `y` or `phi`, kept from row
/// to row while `alpha` (the power) stays the same, as it does for every row of a
/// model whose power is one constant: `lgamma(-j alpha)`, its derivatives
/// (`polygammas`) and `log j!` (`sum_{i <= j} log i`, whatever the power). Filled
/// as terms are first needed; every value is the one computed afresh would be.
/// An entry holds for the power whose `generation` it was filled in: a new power
/// starts a new generation instead of clearing the tables (a power that varies by
/// row changes it at every row).
#[derive(Default)]
struct Terms {
    alpha: f64,
    generation: u64,
    lgamma: Vec<f64>,
    psi: Vec<[f64; 4]>,
    /// The generation each `lgamma` and `psi` entry was filled in.
    lgamma_of: Vec<u64>,
    psi_of: Vec<u64>,
    log_factorial: Vec<f64>,
}

/// Terms beyond this are computed afresh each time (a table from `j = 0` would grow
/// with `y / phi`).
const KEPT_TERMS: usize = 100_000;

impl Terms {
    /// Forgets the terms of another power.
    fn at_alpha(&mut self, alpha: f64) {
        if self.generation == 0 || alpha.to_bits() != self.alpha.to_bits() {
            self.alpha = alpha;
            self.generation += 1;
        }
    }

    /// `lgamma(-j alpha)`, its derivatives `psi^(0..=3)` when `with_psi` (else
    /// NaN), and `log j!`.
    fn term(&mut self, j: usize, with_psi: bool) -> (f64, [f64; 4], f64) {
        let x = -(j as f64) * self.alpha;
        if j >= KEPT_TERMS {
            let log_factorial = lgamma_by_series(j as f64 + 1.0);
            if !with_psi {
                return (lgamma_by_series(x), [f64::NAN; 4], log_factorial);
            }
            let (lg, psi) = lgamma_polygammas(x);
            return (lg, [psi[0], psi[1], psi[2], psi[3]], log_factorial);
        }
        if j >= self.lgamma.len() {
            self.lgamma.resize(j + 1, f64::NAN);
            self.psi.resize(j + 1, [f64::NAN; 4]);
            self.lgamma_of.resize(j + 1, 0);
            self.psi_of.resize(j + 1, 0);
        }
        while self.log_factorial.len() <= j {
            let i = self.log_factorial.len();
            let previous = self.log_factorial.last().copied().unwrap_or(0.0);
            self.log_factorial.push(if i < 2 { 0.0 } else { previous + (i as f64).ln() });
        }
        let now = self.generation;
        if with_psi && self.psi_of[j] != now {
            let (lg, psi) = lgamma_polygammas(x);
            self.lgamma[j] = lg;
            self.psi[j] = [psi[0], psi[1], psi[2], psi[3]];
            (self.lgamma_of[j], self.psi_of[j]) = (now, now);
        } else if self.lgamma_of[j] != now {
            self.lgamma[j] = lgamma_by_series(x);
            self.lgamma_of[j] = now;
        }
        let psi = if self.psi_of[j] == now { self.psi[j] } else { [f64::NAN; 4] };
        (self.lgamma[j], psi, self.log_factorial[j])
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Twlss {
    pub links: [LpLink; 3],
    /// The power's limits `a < b`.
    pub limits: [f64; 2],
}

impl Twlss {
    /// Links `[mean link, "identity", "identity"]` with the mean's link one of mgcv's
    /// (`log`, `identity`, `sqrt`), and the power's limits `a < b` in `[1, 2]` as the
    /// constants.
    pub fn new(links: &[String], constants: &[f64]) -> Option<Twlss> {
        let &[a, b] = constants else { return None };
        let mean = match links.first().map(String::as_str)? {
            "log" => Link::Log,
            "identity" => Link::Identity,
            "sqrt" => Link::Sqrt,
            _ => return None,
        };
        let limits_ok = (1.0..=2.0).contains(&a) && (1.0..=2.0).contains(&b) && a < b;
        (links.len() == 3 && links[1] == "identity" && links[2] == "identity" && limits_ok).then_some(Twlss {
            links: [LpLink::Standard(mean), LpLink::Standard(Link::Identity), LpLink::Standard(Link::Identity)],
            limits: [a, b],
        })
    }

    /// `theta` are `s`'s three variables themselves (as `GeneralFamily` makes them):
    /// the log likelihood `e^-rho A(mu, theta) + log a(theta, rho)` is formed from
    /// its parts in the smaller spaces of the variables each depends on.
    pub fn loglik<const N: usize>(&self, s: &Space, y: f64, theta: &[MJet<N>]) -> MJet<N> {
        let (mu, th, rho) = (theta[0].value(), theta[1].value(), theta[2].value());
        let order = s.order();
        // A = y mu^(1-p) / (1 - p) - mu^(2-p) / (2 - p), in (mu, theta).
        let s2 = Space::get(2, order);
        let p = self.power(s2, &s2.var(1, th));
        let log_mu = s2.ln(&s2.var(0, mu));
        let two_p = s2.shift(&s2.scale(&p, -1.0), 2.0);
        let mut a = s2.scale(&s2.mul(&s2.exp(&s2.mul(&two_p, &log_mu)), &s2.recip(&two_p)), -1.0);
        if y > 0.0 {
            let one_p = s2.shift(&s2.scale(&p, -1.0), 1.0);
            let first = s2.mul(&s2.exp(&s2.mul(&one_p, &log_mu)), &s2.recip(&one_p));
            a = s2.add(&a, &s2.scale(&first, y));
        }
        let s1 = Space::get(1, order);
        let inv_phi = s1.exp(&s1.scale(&s1.var(0, rho), -1.0));
        let [of_a, of_phi, of_log_a] = &embeddings()[order];
        let l = s.mul(&s.embed(of_a, &a), &s.embed(of_phi, &inv_phi));
        if y == 0.0 {
            return l;
        }
        let log_a = self.log_a(s2, y, &s2.var(0, th), &s2.var(1, rho));
        s.add(&l, &s.embed(of_log_a, &log_a))
    }

    /// The power `p = a + (b - a) / (1 + exp(-theta))`.
    fn power<const N: usize>(&self, s: &Space, theta: &MJet<N>) -> MJet<N> {
        let [a, b] = self.limits;
        let logistic = s.recip(&s.shift(&s.exp(&s.scale(theta, -1.0)), 1.0));
        s.shift(&s.scale(&logistic, b - a), a)
    }

    /// `log a(y, phi, p)` for `y > 0` (`tweedie::log_a`'s series, in jets).
    ///
    /// Each term's log, `log W_j = j slope - lgamma(j + 1) - lgamma(-j alpha)`, is
    /// its value `v_j` plus `j sigma - (lgamma(-j alpha) - lgamma(-j alpha_0))`, with
    /// `sigma` and `u = alpha - alpha_0` the slope's and alpha's jets less their
    /// values: a polynomial in `sigma` and `u` whose coefficients are `j` and the
    /// polygamma functions at `-j alpha_0` (Taylor's series of lgamma). So
    /// `sum_j W_j = sum_{a,b} sigma^a u^b T_ab` with scalar sums `T_ab` over the
    /// terms, `T_ab = sum_j e^(v_j) j^a / a! [u^b] exp(sum_k g_jk u^k)`: the series
    /// costs scalars per term and a few jet products per row.
    /// `theta` and `rho` are jets of `s` (of two variables).
    fn log_a<const N: usize>(&self, s: &Space, y: f64, theta: &MJet<N>, rho: &MJet<N>) -> MJet<N> {
        let log_y = y.ln();
        let p = &self.power(s, theta);
        let one_p = s.shift(&s.scale(p, -1.0), 1.0);
        let two_p = s.shift(&s.scale(p, -1.0), 2.0);
        let alpha = s.mul(&two_p, &s.recip(&one_p));
        // slope = -alpha log y + alpha log(p - 1) - (1 - alpha) rho - log(2 - p).
        let slope = s.sub(
            &s.add(&s.scale(&alpha, -log_y), &s.mul(&alpha, &s.ln(&s.shift(p, -1.0)))),
            &s.add(&s.mul(&s.shift(&s.scale(&alpha, -1.0), 1.0), rho), &s.ln(&two_p)),
        );
        // Which terms count is decided at the point's values: from the largest
        // outwards while they are within `e^-DROP` of it.
        let (a0, sl0, phi) = (alpha.value(), slope.value(), rho.value().exp());
        let peak = (y.powf(two_p.value()) / (phi * two_p.value())).max(1.0).round();
        if !(peak <= MAX_PEAK) {
            return s.constant(f64::NAN);
        }
        // log W_j less lgamma(j + 1), and lgamma(-j alpha)'s derivatives (to the
        // space's order).
        let order = s.order();
        let need_psi = order > 0;
        let mut t = [[0.0_f64; 5]; 5];
        let top = TERMS.with_borrow_mut(|terms| {
            terms.at_alpha(a0);
            let peak = peak as usize;
            let (lg, _, lf) = terms.term(peak, need_psi);
            let top = peak as f64 * sl0 - lg - lf;
            let mut count = 0;
            // Adds term j's part of each T_ab; false once it is below e^-DROP of the top
            // (or NaN, or past `MAX_TERMS`).
            let mut add = |j: usize| -> bool {
                let (lg, psi, lf) = terms.term(j, need_psi);
                let lw = j as f64 * sl0 - lg - lf - top;
                count += 1;
                if !(lw >= -DROP) || count > MAX_TERMS {
                    return false;
                }
                let w = lw.exp();
                if order == 0 {
                    t[0][0] += w;
                    return true;
                }
                let j = j as f64;
                // g_k = -psi^(k-1)(x) (-j)^k / k!, the u^k coefficient of -lgamma(-j alpha).
                let g1 = psi[0] * j;
                let g2 = -psi[1] * j * j / 2.0;
                let g3 = psi[2] * j * j * j / 6.0;
                let g4 = -psi[3] * j * j * j * j / 24.0;
                // The u^b coefficients of exp(g1 u + g2 u^2 + g3 u^3 + g4 u^4).
                let e = [
                    1.0,
                    g1,
                    g2 + g1 * g1 / 2.0,
                    g3 + g1 * g2 + g1 * g1 * g1 / 6.0,
                    g4 + g1 * g3 + g2 * g2 / 2.0 + g1 * g1 * g2 / 2.0 + g1.powi(4) / 24.0,
                ];
                // j^a / a!, the sigma^a coefficient of exp(j sigma).
                let mut ja = w;
                for (a, row) in t.iter_mut().enumerate().take(order + 1) {
                    for (b, cell) in row.iter_mut().enumerate().take(order + 1 - a) {
                        *cell += ja * e[b];
                    }
                    ja *= j / (a + 1) as f64;
                }
                true
            };
            add(peak);
            let mut j = peak + 1;
            while add(j) {
                j += 1;
            }
            let mut j = peak - 1;
            while j >= 1 && add(j) {
                j -= 1;
            }
            if count > MAX_TERMS || !top.is_finite() {
                f64::NAN
            } else {
                top
            }
        });
        if top.is_nan() {
            return s.constant(f64::NAN);
        }
        let u = s.shift(&alpha, -a0);
        let sigma = s.shift(&slope, -sl0);
        let mut u_powers = vec![s.constant(1.0)];
        for b in 1..=order {
            u_powers.push(s.mul(&u_powers[b - 1], &u));
        }
        // sum_a sigma^a (sum_b T_ab u^b), by Horner's rule in sigma.
        let mut sum = s.constant(0.0);
        for (a, row) in t.iter().enumerate().take(order + 1).rev() {
            let mut in_u = s.constant(0.0);
            for (b, coefficient) in row.iter().enumerate().take(order + 1 - a) {
                in_u = s.add(&in_u, &s.scale(&u_powers[b], *coefficient));
            }
            sum = if a == order { in_u } else { s.add(&s.mul(&sum, &sigma), &in_u) };
        }
        s.shift(&s.ln(&sum), top - log_y)
    }

    /// mgcv's starting values: the mean from `log(|y| + 1e-7 max y)` on its link's
    /// scale, the power at the middle of its range, the log scale from the log of
    /// `|y - mu| / mu^1.5` at the starting means.
    pub fn start_targets(&self, lp: usize, y: &[f64], earlier: &[Vec<f64>]) -> Vec<f64> {
        match lp {
            0 => {
                let top = y.iter().fold(0.0_f64, |m, v| m.max(*v));
                match self.links[0] {
                    LpLink::Standard(Link::Identity) => y.to_vec(),
                    link => y.iter().map(|v| link.link(v.abs() + top * 1e-7)).collect(),
                }
            }
            1 => vec![0.0; y.len()],
            _ => y.iter().zip(&earlier[0]).map(|(v, m)| ((v - m).abs() / m.abs().powf(1.5)).max(1e-300).ln()).collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::family::tweedie;

    /// The jet's value is the Tweedie log density, and its first two derivatives in
    /// `rho` are `tweedie::log_density`'s in `phi` carried to `log phi`.
    #[test]
    fn value_and_scale_derivatives_match_the_tweedie_density() {
        let links: Vec<String> = ["log", "identity", "identity"].map(String::from).to_vec();
        let family = Twlss::new(&links, &[1.01, 1.99]).expect("twlss");
        let s = Space::get(3, 2);
        for &(y, mu, p, phi) in
            &[(0.0, 1.3, 1.4, 0.7), (2.5, 1.7, 1.3, 0.5), (0.02, 3.0, 1.8, 2.0), (14.0, 9.0, 1.1, 0.3)]
        {
            let theta = f64::ln((p - 1.01) / (1.99 - p));
            let vars: [MJet; 3] = [s.var(0, mu), s.var(1, theta), s.var(2, f64::ln(phi))];
            let jet = s.to_jet(&family.loglik(s, y, &vars));
            let [l, d1, d2] = tweedie::log_density(&mut tweedie::SeriesTerms::new(p), y, mu, phi);
            assert!((jet.l - l).abs() < 1e-12 * (1.0 + l.abs()), "value at y = {y}: {} against {l}", jet.l);
            // d/drho = phi d/dphi; d2/drho2 = phi^2 d2/dphi2 + phi d/dphi.
            let (r1, r2) = (phi * d1, phi * phi * d2 + phi * d1);
            assert!((jet.d1[2] - r1).abs() < 1e-10 * (1.0 + r1.abs()), "d/drho at y = {y}");
            assert!((jet.d2[2][2] - r2).abs() < 1e-9 * (1.0 + r2.abs()), "d2/drho2 at y = {y}");
        }
    }

    /// A scale near zero (the density a spike: its series' largest term beyond
    /// `MAX_PEAK`) or a NaN power gives NaN at once, which the fit's step control
    /// turns back from, not a series summed for ever.
    #[test]
    fn degenerate_parameters_give_nan_at_once() {
        let links: Vec<String> = ["log", "identity", "identity"].map(String::from).to_vec();
        let family = Twlss::new(&links, &[1.01, 1.99]).expect("twlss");
        for order in [0, 2, 4] {
            let s = Space::get(3, order);
            for (th, rho) in [(0.0, -800.0), (0.0, -40.0), (f64::NAN, 0.0), (0.0, f64::NAN)] {
                let vars: [MJet; 3] = [s.var(0, 2.0), s.var(1, th), s.var(2, rho)];
                assert!(family.loglik(s, 3.5, &vars).value().is_nan(), "theta {th}, rho {rho}");
            }
        }
        assert!(tweedie::log_a(&mut tweedie::SeriesTerms::new(1.5), 3.5, 0.0)[0].is_nan());
        assert!(tweedie::log_a(&mut tweedie::SeriesTerms::new(1.5), 3.5, f64::NAN)[0].is_nan());
    }

    /// Links and limits other than mgcv's are refused.
    #[test]
    fn refuses_other_links_and_limits() {
        let links = |m: &str| -> Vec<String> { [m, "identity", "identity"].map(String::from).to_vec() };
        assert!(Twlss::new(&links("log"), &[1.01, 1.99]).is_some());
        assert!(Twlss::new(&links("sqrt"), &[1.01, 1.99]).is_some());
        assert!(Twlss::new(&links("logit"), &[1.01, 1.99]).is_none());
        assert!(Twlss::new(&links("log"), &[1.5, 1.2]).is_none());
        assert!(Twlss::new(&links("log"), &[0.5, 1.99]).is_none());
        assert!(Twlss::new(&links("log"), &[1.01]).is_none());
    }
}
