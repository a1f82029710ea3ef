//! General families: a log likelihood of one observation that depends on several
//! linear predictors `eta_1, ..., eta_K`, each through its own link to one of the
//! distribution's parameters (mgcv's `general.family`; Wood, Pya & Säfken 2016,
//! JASA 111:1548-1563, §3-4). A family gives the log likelihood and its first three
//! derivatives in the parameters (`Jet`); `eta_jet` turns them into derivatives in
//! the linear predictors by the chain rule, each parameter depending on its own
//! predictor only. The fit (`fit::general`) needs the first two for its Newton
//! iteration on the coefficients and the third for the derivatives of the
//! Laplace-approximate REML in the log smoothing parameters.

use super::gaulss::Gaulss;
use super::link::Link;

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

/// The link of one linear predictor to its parameter.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum LpLink {
    /// One of the exponential families' links.
    Standard(Link),
    /// mgcv's `logb`: `theta = 1 / (exp(eta) + b)`, a parameter (`gaulss`'s
    /// `1 / sigma`) kept below `1 / b`.
    LogB(f64),
}

impl LpLink {
    /// The parameter and its first three derivatives in `eta`.
    fn inverse_derivatives(&self, eta: f64) -> (f64, [f64; 3]) {
        match self {
            LpLink::Standard(link) => {
                let d = link.mu_derivatives(eta);
                (link.inverse(eta), [d[0], d[1], d[2]])
            }
            LpLink::LogB(b) => {
                let e = eta.exp();
                let u = 1.0 / (e + b);
                let (u2, u3, u4) = (u * u, u * u * u, u * u * u * u);
                (u, [-e * u2, -e * u2 + 2.0 * e * e * u3, -e * u2 + 6.0 * e * e * u3 - 6.0 * e * e * e * u4])
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
        }
    }
}

/// The general families the engine fits, each with its predictors' links.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum GeneralFamily {
    Gaulss(Gaulss),
}

impl GeneralFamily {
    /// From the R layer's names: the family (mgcv's `family$family`), each linear
    /// predictor's link name and the family's constants (`gaulss`'s `b`). `None` for
    /// what the engine does not fit.
    pub fn from_r(name: &str, links: &[String], constants: &[f64]) -> Option<GeneralFamily> {
        match name {
            "gaulss" => Gaulss::new(links, constants).map(GeneralFamily::Gaulss),
            _ => None,
        }
    }

    pub fn n_lp(&self) -> usize {
        match self {
            GeneralFamily::Gaulss(_) => 2,
        }
    }

    pub fn links(&self) -> Vec<LpLink> {
        match self {
            GeneralFamily::Gaulss(f) => f.links.to_vec(),
        }
    }

    /// The log likelihood of `y` at parameters `theta` and, up to `order` (at most
    /// 3), its derivatives in them.
    fn parameter_jet(&self, y: f64, theta: &[f64], order: usize) -> Jet {
        match self {
            GeneralFamily::Gaulss(f) => f.jet(y, theta, order),
        }
    }

    /// Why `y` cannot be a response of this family, if it cannot.
    pub fn support_problem(&self, y: f64) -> Option<&'static str> {
        match self {
            GeneralFamily::Gaulss(_) => (!y.is_finite()).then_some("must be finite"),
        }
    }

    /// The parameters at linear predictors `eta`.
    pub fn parameters(&self, eta: &[f64]) -> Vec<f64> {
        self.links().iter().zip(eta).map(|(link, &e)| link.inverse(e)).collect()
    }

    /// The log likelihood of `y` at linear predictors `eta` and, up to `order`, its
    /// derivatives in them: with `theta_a = h_a(eta_a)` and `L` the parameter jet,
    ///
    /// `l_a = L_a h_a'`, `l_ab = L_ab h_a' h_b' + [a = b] L_a h_a''`,
    /// `l_abc = L_abc h_a' h_b' h_c' + [a = c] L_ab h_a'' h_b' + [b = c] L_ab h_a' h_b''
    ///        + [a = b] (L_ac h_a'' h_c' + [a = c] L_a h_a''')`.
    pub fn eta_jet(&self, y: f64, eta: &[f64], order: usize) -> Jet {
        let k = self.n_lp();
        let links = self.links();
        let mut theta = [0.0; MAX_LP];
        let mut h = [[0.0; 3]; MAX_LP];
        for a in 0..k {
            let (t, d) = links[a].inverse_derivatives(eta[a]);
            theta[a] = t;
            h[a] = d;
        }
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

    /// The parameters a fit starts from, one per linear predictor, from the response
    /// (each predictor's intercept; the other coefficients start at zero).
    pub fn start(&self, y: &[f64]) -> Vec<f64> {
        match self {
            GeneralFamily::Gaulss(f) => f.start(y),
        }
    }

    /// The deviance of each observation at parameters `theta` (mgcv's squared
    /// deviance residuals) and the null deviance's at the fitted parameters.
    pub fn deviances(&self, y: &[f64], theta: &[Vec<f64>]) -> (f64, f64) {
        match self {
            GeneralFamily::Gaulss(f) => f.deviances(y, theta),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn central(f: impl Fn(f64) -> f64, h: f64) -> f64 {
        (f(h) - f(-h)) / (2.0 * h)
    }

    /// The chain rule against central differences of the jet one order down.
    #[test]
    fn eta_jet_matches_finite_differences() {
        let links = vec!["log".to_string(), "logb".to_string()];
        let family = GeneralFamily::from_r("gaulss", &links, &[0.01]).expect("gaulss");
        let (y, eta) = (1.7, [0.3, -0.4]);
        let jet = family.eta_jet(y, &eta, 3);
        let at = |a: usize, h: f64| {
            let mut e = eta;
            e[a] += h;
            family.eta_jet(y, &e, 3)
        };
        for a in 0..2 {
            let d1 = central(|h| at(a, h).l, 1e-5);
            assert!((jet.d1[a] - d1).abs() < 1e-6 * (1.0 + d1.abs()), "l_{a}");
            for b in 0..2 {
                let d2 = central(|h| at(b, h).d1[a], 1e-5);
                assert!((jet.d2[a][b] - d2).abs() < 1e-6 * (1.0 + d2.abs()), "l_{a}{b}");
                for c in 0..2 {
                    let d3 = central(|h| at(c, h).d2[a][b], 1e-5);
                    assert!((jet.d3[a][b][c] - d3).abs() < 1e-6 * (1.0 + d3.abs()), "l_{a}{b}{c}");
                }
            }
        }
    }
}
