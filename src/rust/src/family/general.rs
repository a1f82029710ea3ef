//! General families: a log likelihood of one observation that depends on several
//! linear predictors `eta_1, ..., eta_K`, each through its own link to one of the
//! distribution's parameters (mgcv's `general.family`; Wood, Pya & Säfken 2016,
//! JASA 111:1548-1563, §3-4). A family gives the log likelihood and its first three
//! derivatives in the parameters (`Jet`); `eta_jet` turns them into derivatives in
//! the linear predictors by the chain rule, each parameter depending on its own
//! predictor only, and `eta_fourth` the fourth derivatives (Faà di Bruno's formula
//! over the set partitions of the four differentiations). The fit (`fit::general`)
//! needs the first two for its Newton iteration on the coefficients, the third for
//! the gradient of the Laplace-approximate REML in the log smoothing parameters and
//! the fourth for its Hessian.

use super::gammals::Gammals;
use super::gaulss::Gaulss;
use super::gevlss::Gevlss;
use super::gumbls::Gumbls;
use super::link::Link;
use super::mjet::{MJet, Space};
use super::shash::Shash;
use super::twlss::Twlss;
use super::ziplss::Ziplss;

/// The most linear predictors a general family here has.
pub const MAX_LP: usize = 4;

/// `l` and its first three derivatives in `K` arguments (the parameters or the
/// linear predictors); only the first `K` entries of each index are used.
#[derive(Debug, Clone, Copy)]
pub struct Jet {
    pub l: f64,
    pub d1: [f64; MAX_LP],
    pub d2: [[f64; MAX_LP]; MAX_LP],
    pub d3: [[[f64; MAX_LP]; MAX_LP]; MAX_LP],
}

impl Jet {
    pub fn zero() -> Jet {
        Jet { l: 0.0, d1: [0.0; MAX_LP], d2: [[0.0; MAX_LP]; MAX_LP], d3: [[[0.0; MAX_LP]; MAX_LP]; MAX_LP] }
    }
}

/// Fourth derivatives in `K` arguments (kept apart from `Jet`: only the criterion's
/// Hessian needs them, once per outer iteration).
pub type Fourth = [[[[f64; MAX_LP]; MAX_LP]; MAX_LP]; MAX_LP];

/// The set partitions of the four differentiations `{0, 1, 2, 3}`, each block a
/// bit mask (Faà di Bruno: one term of the fourth derivative per partition).
const PARTITIONS_OF_FOUR: [&[u8]; 15] = [
    &[0b1111],
    &[0b0111, 0b1000],
    &[0b1011, 0b0100],
    &[0b1101, 0b0010],
    &[0b1110, 0b0001],
    &[0b0011, 0b1100],
    &[0b0101, 0b1010],
    &[0b1001, 0b0110],
    &[0b0011, 0b0100, 0b1000],
    &[0b0101, 0b0010, 0b1000],
    &[0b1001, 0b0010, 0b0100],
    &[0b0110, 0b0001, 0b1000],
    &[0b1010, 0b0001, 0b0100],
    &[0b1100, 0b0001, 0b0010],
    &[0b0001, 0b0010, 0b0100, 0b1000],
];

/// The link of one linear predictor to its parameter.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum LpLink {
    /// One of the exponential families' links.
    Standard(Link),
    /// mgcv's `logb`: `theta = 1 / (exp(eta) + b)`, a parameter (`gaulss`'s
    /// `1 / sigma`) kept below `1 / b`.
    LogB(f64),
    /// mgcv's `log` link of `gumbls` and `gammals`: `theta = b + log(1 + exp(eta))`,
    /// a log scale kept above `b`.
    SoftplusB(f64),
    /// A logistic function stretched to `(shift, shift + scale)`: `gevlss`'s `logit`
    /// link for its shape, `theta = scale / (1 + exp(-eta)) + shift`.
    ScaledLogit { scale: f64, shift: f64 },
    /// mgcv's `logeb` link of `shash`: `theta = log(exp(eta) + b)`, a log scale kept
    /// above `log(b)`.
    LogEB(f64),
}

impl LpLink {
    /// The parameter and its first four derivatives in `eta`.
    fn inverse_derivatives(&self, eta: f64) -> (f64, [f64; 4]) {
        match self {
            LpLink::Standard(link) => (link.inverse(eta), link.mu_derivatives(eta)),
            LpLink::LogB(b) => {
                // u = 1 / (e + b) with e = exp(eta): du/deta = -e u^2.
                let e = eta.exp();
                let u = 1.0 / (e + b);
                let (e2, e3, e4) = (e * e, e * e * e, e * e * e * e);
                let (u2, u3, u4, u5) = (u * u, u * u * u, u * u * u * u, u * u * u * u * u);
                (
                    u,
                    [
                        -e * u2,
                        -e * u2 + 2.0 * e2 * u3,
                        -e * u2 + 6.0 * e2 * u3 - 6.0 * e3 * u4,
                        -e * u2 + 14.0 * e2 * u3 - 36.0 * e3 * u4 + 24.0 * e4 * u5,
                    ],
                )
            }
            LpLink::SoftplusB(b) => {
                // The derivative is the logistic function s.
                let s = 1.0 / (1.0 + (-eta).exp());
                let value = if eta > 36.0 { b + eta } else { b + eta.exp().ln_1p() };
                let v = s * (1.0 - s);
                (value, [s, v, v * (1.0 - 2.0 * s), v * (1.0 - 6.0 * s + 6.0 * s * s)])
            }
            LpLink::LogEB(b) => {
                // The derivative is the logistic function of eta - log(b).
                let s = 1.0 / (1.0 + b * (-eta).exp());
                let v = s * (1.0 - s);
                let value = if eta > 36.0 { eta + (b * (-eta).exp()).ln_1p() } else { (eta.exp() + b).ln() };
                (value, [s, v, v * (1.0 - 2.0 * s), v * (1.0 - 6.0 * s + 6.0 * s * s)])
            }
            LpLink::ScaledLogit { scale, shift } => {
                let s = 1.0 / (1.0 + (-eta).exp());
                let v = s * (1.0 - s);
                let d = [
                    v,
                    v * (1.0 - 2.0 * s),
                    v * (1.0 - 6.0 * s + 6.0 * s * s),
                    v * (1.0 - 2.0 * s) * (1.0 - 12.0 * s + 12.0 * s * s),
                ];
                (scale * s + shift, d.map(|x| scale * x))
            }
        }
    }

    pub fn inverse(&self, eta: f64) -> f64 {
        self.inverse_derivatives(eta).0
    }

    /// `eta` at parameter value `theta` (for starting values).
    pub fn link(&self, theta: f64) -> f64 {
        match self {
            LpLink::Standard(link) => link.link(theta),
            LpLink::LogB(b) => (1.0 / theta - b).max(1e-10).ln(),
            LpLink::LogEB(b) => (theta.exp() - b).max(1e-300).ln(),
            LpLink::ScaledLogit { scale, shift } => {
                let p = ((theta - shift) / scale).clamp(1e-12, 1.0 - 1e-12);
                (p / (1.0 - p)).ln()
            }
            LpLink::SoftplusB(b) => {
                let excess = (theta - b).max(1e-10);
                if excess > 36.0 {
                    excess
                } else {
                    excess.exp_m1().ln()
                }
            }
        }
    }
}

/// The general families the engine fits, each with its predictors' links.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum GeneralFamily {
    Gaulss(Gaulss),
    Gumbls(Gumbls),
    Gammals(Gammals),
    Ziplss(Ziplss),
    Gevlss(Gevlss),
    Shash(Shash),
    Twlss(Twlss),
}

/// `$body` with `$n` the const jet size (`mjet::JET_SIZES`) that space `$s` takes:
/// each family's log likelihood is compiled once per size, so that a jet of a
/// small space is not carried in the largest space's array. (The sizes are listed
/// again here: a macro cannot read the constant; a test checks that they agree.)
macro_rules! in_jets {
    ($s:expr, |$n:ident| $body:expr) => {
        in_jets!(@sizes $s.jet_size(), $n, $body; 1, 5, 10, 15, 35; 70)
    };
    (@sizes $size:expr, $n:ident, $body:expr; $($k:literal),+; $largest:literal) => {
        match $size {
            $($k => {
                const $n: usize = $k;
                $body
            })+
            _ => {
                const $n: usize = $largest;
                $body
            }
        }
    };
}

impl GeneralFamily {
    /// From the R layer's names: the family (mgcv's `family$family`), each linear
    /// predictor's link name and the family's constants (`gaulss`'s `b`). `None` for
    /// what the engine does not fit.
    pub fn from_r(name: &str, links: &[String], constants: &[f64]) -> Option<GeneralFamily> {
        match name {
            "gaulss" => Gaulss::new(links, constants).map(GeneralFamily::Gaulss),
            "gumbls" => Gumbls::new(links, constants).map(GeneralFamily::Gumbls),
            "gammals" => Gammals::new(links, constants).map(GeneralFamily::Gammals),
            "ziplss" => Ziplss::new(links, constants).map(GeneralFamily::Ziplss),
            "gevlss" => Gevlss::new(links, constants).map(GeneralFamily::Gevlss),
            "shash" => Shash::new(links, constants).map(GeneralFamily::Shash),
            "twlss" => Twlss::new(links, constants).map(GeneralFamily::Twlss),
            _ => None,
        }
    }

    pub fn n_lp(&self) -> usize {
        match self {
            GeneralFamily::Gaulss(_)
            | GeneralFamily::Gumbls(_)
            | GeneralFamily::Gammals(_)
            | GeneralFamily::Ziplss(_) => 2,
            GeneralFamily::Gevlss(_) | GeneralFamily::Twlss(_) => 3,
            GeneralFamily::Shash(_) => 4,
        }
    }

    pub fn links(&self) -> Vec<LpLink> {
        (0..self.n_lp()).map(|a| self.link(a)).collect()
    }

    /// The link of predictor `a` (without allocating: called for every row).
    fn link(&self, a: usize) -> LpLink {
        match self {
            GeneralFamily::Gaulss(f) => f.links[a],
            GeneralFamily::Gumbls(f) => f.links[a],
            GeneralFamily::Gammals(f) => f.links[a],
            GeneralFamily::Ziplss(f) => f.links[a],
            GeneralFamily::Gevlss(f) => f.links[a],
            GeneralFamily::Shash(f) => f.links[a],
            GeneralFamily::Twlss(f) => f.links[a],
        }
    }

    /// The log likelihood of `y` at parameters `theta` and, up to `order` (at most
    /// 3), its derivatives in them.
    fn parameter_jet(&self, y: f64, theta: &[f64], order: usize) -> Jet {
        match self {
            GeneralFamily::Gaulss(f) => f.jet(y, theta, order),
            _ => {
                let s = Space::get(theta.len(), order);
                in_jets!(s, |N| s.to_jet(&self.differentiated::<N>(s, y, theta)))
            }
        }
    }

    /// The log likelihood as a truncated Taylor polynomial in the parameters at
    /// `theta` (families written in `mjet`'s terms), in jets of `N` coefficients
    /// (at least `s.len()`).
    fn differentiated<const N: usize>(&self, s: &Space, y: f64, theta: &[f64]) -> MJet<N> {
        let mut vars = [s.constant::<N>(0.0); MAX_LP];
        for (v, &t) in theta.iter().enumerate() {
            vars[v] = s.var(v, t);
        }
        let vars = &vars[..theta.len()];
        match self {
            GeneralFamily::Gaulss(_) => unreachable!("gaulss has its derivatives by hand"),
            GeneralFamily::Gumbls(f) => f.loglik(s, y, vars),
            GeneralFamily::Gammals(f) => f.loglik(s, y, vars),
            GeneralFamily::Ziplss(f) => f.loglik(s, y, vars),
            GeneralFamily::Gevlss(f) => f.loglik(s, y, vars),
            GeneralFamily::Shash(f) => f.loglik(s, y, vars),
            GeneralFamily::Twlss(f) => f.loglik(s, y, vars),
        }
    }

    /// The log likelihood's derivatives in the parameters to third order, and its
    /// fourth (those of `mjet`'s families from one evaluation to fourth order).
    fn parameter_jet_and_fourth(&self, y: f64, theta: &[f64]) -> (Jet, Fourth) {
        match self {
            GeneralFamily::Gaulss(f) => (f.jet(y, theta, 3), f.fourth(y, theta)),
            _ => {
                let s = Space::get(theta.len(), 4);
                in_jets!(s, |N| {
                    let l = self.differentiated::<N>(s, y, theta);
                    (s.to_jet(&l), s.to_fourth(&l))
                })
            }
        }
    }

    fn parameters_and_derivatives(&self, eta: &[f64]) -> ([f64; MAX_LP], [[f64; 4]; MAX_LP]) {
        let mut theta = [0.0; MAX_LP];
        let mut h = [[0.0; 4]; MAX_LP];
        for a in 0..self.n_lp() {
            let (t, d) = self.link(a).inverse_derivatives(eta[a]);
            theta[a] = t;
            h[a] = d;
        }
        (theta, h)
    }

    /// The log likelihood of `y` at linear predictors `eta`.
    pub fn loglik(&self, y: f64, eta: &[f64]) -> f64 {
        let k = self.n_lp();
        let (theta, _) = self.parameters_and_derivatives(eta);
        match self {
            GeneralFamily::Gaulss(f) => f.loglik(y, &theta[..k]),
            _ => self.differentiated::<1>(Space::get(k, 0), y, &theta[..k]).value(),
        }
    }

    /// The fourth derivatives of the log likelihood of `y` in the linear predictors
    /// `eta` (`jet`, the parameter jet's lower orders, from `parameter_jet`): each
    /// is a sum over the set partitions of the four differentiations whose blocks
    /// each differentiate one predictor, of the parameter derivative of the
    /// partition's order times each block's link derivative of the block's size.
    pub fn eta_fourth(&self, y: f64, eta: &[f64]) -> Fourth {
        let k = self.n_lp();
        let (theta, h) = self.parameters_and_derivatives(eta);
        let (p, p4) = self.parameter_jet_and_fourth(y, &theta[..k]);
        let mut out = [[[[0.0; MAX_LP]; MAX_LP]; MAX_LP]; MAX_LP];
        for entry in fourth_plan(k) {
            let mut total = 0.0;
            for term in &entry.terms {
                let mut factor = 1.0;
                for &(first, size) in &term.factors[..term.blocks] {
                    factor *= h[first][size];
                }
                let at = term.factors.map(|(first, _)| first);
                let l = match term.blocks {
                    1 => p.d1[at[0]],
                    2 => p.d2[at[0]][at[1]],
                    3 => p.d3[at[0]][at[1]][at[2]],
                    _ => p4[at[0]][at[1]][at[2]][at[3]],
                };
                total += l * factor;
            }
            for &[i, j, l, m] in &entry.permutations {
                out[i][j][l][m] = total;
            }
        }
        out
    }

    /// The log likelihood of `y` at linear predictors `eta` and, up to `order`, its
    /// derivatives in them: with `theta_a = h_a(eta_a)` and `L` the parameter jet,
    ///
    /// `l_a = L_a h_a'`, `l_ab = L_ab h_a' h_b' + [a = b] L_a h_a''`,
    /// `l_abc = L_abc h_a' h_b' h_c' + [a = c] L_ab h_a'' h_b' + [b = c] L_ab h_a' h_b''
    ///        + [a = b] (L_ac h_a'' h_c' + [a = c] L_a h_a''')`.
    pub fn eta_jet(&self, y: f64, eta: &[f64], order: usize) -> Jet {
        let k = self.n_lp();
        let (theta, h) = self.parameters_and_derivatives(eta);
        let p = self.parameter_jet(y, &theta[..k], order);
        let mut out = Jet::zero();
        out.l = p.l;
        if order == 0 {
            return out;
        }
        for a in 0..k {
            out.d1[a] = p.d1[a] * h[a][0];
        }
        if order == 1 {
            return out;
        }
        for a in 0..k {
            for b in 0..k {
                let mut v = p.d2[a][b] * h[a][0] * h[b][0];
                if a == b {
                    v += p.d1[a] * h[a][1];
                }
                out.d2[a][b] = v;
            }
        }
        if order == 2 {
            return out;
        }
        for a in 0..k {
            for b in 0..k {
                for c in 0..k {
                    let mut v = p.d3[a][b][c] * h[a][0] * h[b][0] * h[c][0];
                    if a == c {
                        v += p.d2[a][b] * h[a][1] * h[b][0];
                    }
                    if b == c {
                        v += p.d2[a][b] * h[a][0] * h[b][1];
                    }
                    if a == b {
                        v += p.d2[a][c] * h[a][1] * h[c][0];
                        if a == c {
                            v += p.d1[a] * h[a][2];
                        }
                    }
                    out.d3[a][b][c] = v;
                }
            }
        }
        out
    }

    /// Where a fit starts predictor `lp`: a value per row on its scale (which the
    /// fit smooths by a penalized regression), given the earlier predictors'
    /// parameters at their start.
    pub fn start_targets(&self, lp: usize, y: &[f64], earlier: &[Vec<f64>]) -> Vec<f64> {
        match self {
            GeneralFamily::Gaulss(f) => f.start_targets(lp, y, earlier),
            GeneralFamily::Gumbls(f) => f.start_targets(lp, y, earlier),
            GeneralFamily::Gammals(f) => f.start_targets(lp, y, earlier),
            GeneralFamily::Ziplss(f) => f.start_targets(lp, y, earlier),
            GeneralFamily::Gevlss(f) => f.start_targets(lp, y, earlier),
            GeneralFamily::Shash(f) => f.start_targets(lp, y, earlier),
            GeneralFamily::Twlss(f) => f.start_targets(lp, y, earlier),
        }
    }
}

/// One fourth derivative `l_abcd` (`a <= b <= c <= d`) of `eta_fourth`: the
/// partitions of the four differentiations whose blocks each differentiate one
/// predictor, and the index orders it is stored under.
struct FourthEntry {
    terms: Vec<FourthTerm>,
    permutations: Vec<[usize; 4]>,
}

/// A partition's term: for each of its `blocks` the predictor it differentiates
/// and its size less one, `(first, size - 1)`. The term is the parameter derivative
/// at those predictors times each block's link derivative `h[first][size - 1]`.
struct FourthTerm {
    blocks: usize,
    factors: [(usize, usize); 4],
}

/// `eta_fourth`'s terms for `k` predictors, worked out once (they depend on `k`
/// only): choosing the partitions row by row was a tenth of a gaulss fit.
fn fourth_plan(k: usize) -> &'static [FourthEntry] {
    static PLANS: std::sync::OnceLock<Vec<Vec<FourthEntry>>> = std::sync::OnceLock::new();
    &PLANS.get_or_init(|| (0..=MAX_LP).map(fourth_entries).collect())[k]
}

fn fourth_entries(k: usize) -> Vec<FourthEntry> {
    let mut entries = Vec::new();
    for a in 0..k {
        for b in a..k {
            for c in b..k {
                for d in c..k {
                    let idx = [a, b, c, d];
                    let mut terms = Vec::new();
                    'partition: for blocks in PARTITIONS_OF_FOUR {
                        let mut term = FourthTerm { blocks: blocks.len(), factors: [(0, 0); 4] };
                        for (r, &mask) in blocks.iter().enumerate() {
                            let first = idx[mask.trailing_zeros() as usize];
                            if (0..4).any(|i| mask & (1 << i) != 0 && idx[i] != first) {
                                continue 'partition;
                            }
                            term.factors[r] = (first, mask.count_ones() as usize - 1);
                        }
                        terms.push(term);
                    }
                    let mut orders: Vec<[usize; 4]> = permutations(idx).collect();
                    orders.sort_unstable();
                    orders.dedup();
                    entries.push(FourthEntry { terms, permutations: orders });
                }
            }
        }
    }
    entries
}

/// The 24 orderings of four indices (with repeats where indices repeat).
fn permutations(idx: [usize; 4]) -> impl Iterator<Item = [usize; 4]> {
    const ORDERS: [[usize; 4]; 24] = [
        [0, 1, 2, 3],
        [0, 1, 3, 2],
        [0, 2, 1, 3],
        [0, 2, 3, 1],
        [0, 3, 1, 2],
        [0, 3, 2, 1],
        [1, 0, 2, 3],
        [1, 0, 3, 2],
        [1, 2, 0, 3],
        [1, 2, 3, 0],
        [1, 3, 0, 2],
        [1, 3, 2, 0],
        [2, 0, 1, 3],
        [2, 0, 3, 1],
        [2, 1, 0, 3],
        [2, 1, 3, 0],
        [2, 3, 0, 1],
        [2, 3, 1, 0],
        [3, 0, 1, 2],
        [3, 0, 2, 1],
        [3, 1, 0, 2],
        [3, 1, 2, 0],
        [3, 2, 0, 1],
        [3, 2, 1, 0],
    ];
    ORDERS.into_iter().map(move |o| [idx[o[0]], idx[o[1]], idx[o[2]], idx[o[3]]])
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every space's jet size has its own arm in `in_jets!` (a size without one
    /// would be carried in the largest jets); the spaces reach every one of
    /// `JET_SIZES`.
    #[test]
    fn every_jet_size_has_its_arm() {
        for k in 1..=MAX_LP {
            for order in 0..=4 {
                let s = Space::get(k, order);
                assert_eq!(in_jets!(s, |N| N), s.jet_size(), "{k} variables, order {order}");
            }
        }
    }

    fn central(f: impl Fn(f64) -> f64, h: f64) -> f64 {
        (f(h) - f(-h)) / (2.0 * h)
    }

    /// The chain rule against central differences of the jet one order down.
    #[test]
    fn eta_jet_matches_finite_differences() {
        for mean in ["log", "identity", "inverse"] {
            let links = vec![mean.to_string(), "logb".to_string()];
            check_jet(GeneralFamily::from_r("gaulss", &links, &[0.01]).expect("gaulss"));
        }
        let links = vec!["identity".to_string(), "log".to_string()];
        for name in ["gumbls", "gammals"] {
            check_jet(GeneralFamily::from_r(name, &links, &[-7.0]).expect(name));
        }
        let links = vec!["identity".to_string(); 2];
        check_jet(GeneralFamily::from_r("ziplss", &links, &[]).expect("ziplss"));
        let links = vec!["identity".to_string(), "identity".to_string(), "logit".to_string()];
        check_jet(GeneralFamily::from_r("gevlss", &links, &[]).expect("gevlss"));
        let links: Vec<String> = ["identity", "logeb", "identity", "identity"].map(String::from).to_vec();
        check_jet(GeneralFamily::from_r("shash", &links, &[0.01, 1e-3]).expect("shash"));
        let links: Vec<String> = ["log", "identity", "identity"].map(String::from).to_vec();
        check_jet(GeneralFamily::from_r("twlss", &links, &[1.01, 1.99]).expect("twlss"));
    }

    fn check_jet(family: GeneralFamily) {
        let k = family.n_lp();
        let y = 1.7;
        let eta: Vec<f64> = [0.3, -0.4, 0.2, 0.1][..k].to_vec();
        let jet = family.eta_jet(y, &eta, 3);
        let fourth = family.eta_fourth(y, &eta);
        assert!((family.loglik(y, &eta) - jet.l).abs() < 1e-15);
        let at = |a: usize, h: f64| {
            let mut e = eta.clone();
            e[a] += h;
            family.eta_jet(y, &e, 3)
        };
        for a in 0..k {
            let d1 = central(|h| at(a, h).l, 1e-5);
            assert!((jet.d1[a] - d1).abs() < 1e-6 * (1.0 + d1.abs()), "l_{a}");
            for b in 0..k {
                let d2 = central(|h| at(b, h).d1[a], 1e-5);
                assert!((jet.d2[a][b] - d2).abs() < 1e-6 * (1.0 + d2.abs()), "l_{a}{b}");
                for c in 0..k {
                    let d3 = central(|h| at(c, h).d2[a][b], 1e-5);
                    assert!((jet.d3[a][b][c] - d3).abs() < 1e-6 * (1.0 + d3.abs()), "l_{a}{b}{c}");
                    for d in 0..k {
                        let d4 = central(|h| at(d, h).d3[a][b][c], 1e-5);
                        assert!((fourth[a][b][c][d] - d4).abs() < 1e-6 * (1.0 + d4.abs()), "l_{a}{b}{c}{d}");
                    }
                }
            }
        }
    }
}
