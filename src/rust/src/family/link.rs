//! Link functions `eta = g(mu)` and the derivatives of `g` that penalized IRLS and the
//! derivatives of the Laplace-approximate REML need (Wood 2011 §3, Wood, Pya &
//! Säfken 2016 §3): `g'`, `g''`, `g'''` in `mu`, and the inverse link with `dmu/deta`.
//! The Gaussian identity fit does not go through it.

use super::normal;

/// A link function, as R's `make.link` names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Link {
    Identity,
    Log,
    Logit,
    Probit,
    Cloglog,
    Cauchit,
    Inverse,
    /// `1 / mu^2` (R's "1/mu^2").
    InverseSquare,
    Sqrt,
    /// `mu^q` for another power `q` (R's `power(q)`, named "mu^q").
    Power(Exponent),
}

/// A power link's exponent (its bits, so that links compare exactly).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Exponent(u64);

impl Exponent {
    pub fn new(q: f64) -> Exponent {
        Exponent(q.to_bits())
    }

    pub fn value(self) -> f64 {
        f64::from_bits(self.0)
    }
}

/// `a (a - 1) ... (a - k + 1) x^(a - k)`: the k-th derivative of `x^a`.
fn power_derivative(x: f64, a: f64, k: i32) -> f64 {
    (0..k).map(|j| a - j as f64).product::<f64>() * x.powf(a - k as f64)
}

impl Link {
    pub fn parse(name: &str) -> Option<Link> {
        Some(match name {
            "identity" => Link::Identity,
            "log" => Link::Log,
            "logit" => Link::Logit,
            "probit" => Link::Probit,
            "cloglog" => Link::Cloglog,
            "cauchit" => Link::Cauchit,
            "inverse" => Link::Inverse,
            "1/mu^2" => Link::InverseSquare,
            "sqrt" => Link::Sqrt,
            _ => {
                let q: f64 = name.strip_prefix("mu^")?.parse().ok()?;
                match q {
                    1.0 => Link::Identity,
                    0.5 => Link::Sqrt,
                    -1.0 => Link::Inverse,
                    -2.0 => Link::InverseSquare,
                    // `power(0)` is R's log link, named "log".
                    q if q.is_finite() && q != 0.0 => Link::Power(Exponent::new(q)),
                    _ => return None,
                }
            }
        })
    }

    /// `g(mu)`.
    pub fn link(&self, mu: f64) -> f64 {
        match self {
            Link::Identity => mu,
            Link::Log => mu.ln(),
            Link::Logit => (mu / (1.0 - mu)).ln(),
            Link::Probit => normal::quantile(mu),
            Link::Cloglog => (-(-mu).ln_1p()).ln(),
            Link::Cauchit => (std::f64::consts::PI * (mu - 0.5)).tan(),
            Link::Inverse => 1.0 / mu,
            Link::InverseSquare => 1.0 / (mu * mu),
            Link::Sqrt => mu.sqrt(),
            Link::Power(q) => mu.powf(q.value()),
        }
    }

    /// `g^-1(eta)`.
    pub fn inverse(&self, eta: f64) -> f64 {
        match self {
            Link::Identity => eta,
            Link::Log => eta.exp(),
            Link::Logit => 1.0 / (1.0 + (-eta).exp()),
            Link::Probit => normal::cdf(eta),
            Link::Cloglog => -(-eta.exp()).exp_m1(),
            Link::Cauchit => 0.5 + eta.atan() / std::f64::consts::PI,
            Link::Inverse => 1.0 / eta,
            Link::InverseSquare => 1.0 / eta.sqrt(),
            Link::Sqrt => eta * eta,
            Link::Power(q) => eta.powf(1.0 / q.value()),
        }
    }

    /// `dmu/deta` at `eta`.
    pub fn mu_eta(&self, eta: f64) -> f64 {
        1.0 / self.d1(self.inverse(eta))
    }

    /// `g'(mu)`.
    pub fn d1(&self, mu: f64) -> f64 {
        match self {
            Link::Identity => 1.0,
            Link::Log => 1.0 / mu,
            Link::Logit => 1.0 / (mu * (1.0 - mu)),
            // With eta = g(mu): d eta / d mu = 1 / phi(eta), and phi' = -eta phi.
            Link::Probit => 1.0 / normal::density(normal::quantile(mu)),
            Link::Cloglog => -1.0 / ((1.0 - mu) * (-mu).ln_1p()),
            Link::Cauchit => {
                let c = (std::f64::consts::PI * (mu - 0.5)).cos();
                std::f64::consts::PI / (c * c)
            }
            Link::Inverse => -1.0 / (mu * mu),
            Link::InverseSquare => -2.0 / (mu * mu * mu),
            Link::Sqrt => 0.5 / mu.sqrt(),
            Link::Power(q) => power_derivative(mu, q.value(), 1),
        }
    }

    /// `g''(mu)`.
    pub fn d2(&self, mu: f64) -> f64 {
        match self {
            Link::Identity => 0.0,
            Link::Log => -1.0 / (mu * mu),
            Link::Logit => (2.0 * mu - 1.0) / (mu * mu * (1.0 - mu) * (1.0 - mu)),
            Link::Probit => {
                let eta = normal::quantile(mu);
                eta / normal::density(eta).powi(2)
            }
            Link::Cloglog => {
                // g' = -1/(a L) with a = 1 - mu, L = ln(a): g'' = -(1 + L)/(a^2 L^2).
                let (a, l) = (1.0 - mu, (-mu).ln_1p());
                -(1.0 + l) / (a * a * l * l)
            }
            Link::Cauchit => {
                let pi = std::f64::consts::PI;
                let x = pi * (mu - 0.5);
                2.0 * pi * pi * x.tan() / (x.cos() * x.cos())
            }
            Link::Inverse => 2.0 / (mu * mu * mu),
            Link::InverseSquare => 6.0 / mu.powi(4),
            Link::Sqrt => -0.25 / mu.powf(1.5),
            Link::Power(q) => power_derivative(mu, q.value(), 2),
        }
    }

    /// `dmu/deta`, `d2mu/deta2`, `d3mu/deta3` and `d4mu/deta4` at `eta`, written
    /// directly in `eta` so that they stay accurate where `g'` is large (the tails of
    /// the binomial links). Penalized IRLS and the Laplace-approximate REML's third and
    /// fourth derivatives of the deviance in `eta` are built from them (Wood 2011
    /// Appendix C, by the chain rule).
    pub fn mu_derivatives(&self, eta: f64) -> [f64; 4] {
        match self {
            Link::Identity => [1.0, 0.0, 0.0, 0.0],
            Link::Log => {
                let m = eta.exp();
                [m, m, m, m]
            }
            Link::Logit => {
                let mu = self.inverse(eta);
                let m1 = mu * (1.0 - mu);
                let m2 = m1 * (1.0 - 2.0 * mu);
                let m3 = m2 * (1.0 - 2.0 * mu) - 2.0 * m1 * m1;
                let m4 = m3 * (1.0 - 2.0 * mu) - 6.0 * m1 * m2;
                [m1, m2, m3, m4]
            }
            Link::Probit => {
                // phi' = -eta phi, so the k-th derivative is a Hermite polynomial times phi.
                let d = normal::density(eta);
                [d, -eta * d, (eta * eta - 1.0) * d, (3.0 * eta - eta.powi(3)) * d]
            }
            Link::Cloglog => {
                // mu = 1 - exp(-e), e = exp(eta): each derivative is exp(-e) times a
                // polynomial in e.
                let e = eta.exp();
                let s = (-e).exp();
                [
                    s * e,
                    s * e * (1.0 - e),
                    s * e * (1.0 - 3.0 * e + e * e),
                    s * e * (1.0 - 7.0 * e + 6.0 * e * e - e.powi(3)),
                ]
            }
            Link::Cauchit => {
                let pi = std::f64::consts::PI;
                let q = 1.0 + eta * eta;
                [
                    1.0 / (pi * q),
                    -2.0 * eta / (pi * q * q),
                    (6.0 * eta * eta - 2.0) / (pi * q.powi(3)),
                    24.0 * eta * (1.0 - eta * eta) / (pi * q.powi(4)),
                ]
            }
            Link::Inverse => [-1.0 / (eta * eta), 2.0 / eta.powi(3), -6.0 / eta.powi(4), 24.0 / eta.powi(5)],
            Link::InverseSquare => {
                // mu = eta^(-1/2).
                let r = eta.sqrt();
                [-0.5 / (eta * r), 0.75 / (eta * eta * r), -1.875 / (eta.powi(3) * r), 6.5625 / (eta.powi(4) * r)]
            }
            Link::Sqrt => [2.0 * eta, 2.0, 0.0, 0.0],
            Link::Power(q) => {
                // mu = eta^(1/q).
                let a = 1.0 / q.value();
                [1, 2, 3, 4].map(|k| power_derivative(eta, a, k))
            }
        }
    }

    /// `g'''(mu)`.
    pub fn d3(&self, mu: f64) -> f64 {
        match self {
            Link::Identity => 0.0,
            Link::Log => 2.0 / (mu * mu * mu),
            Link::Logit => {
                // g' = 1/mu + 1/(1 - mu): g''' = 2/mu^3 + 2/(1 - mu)^3.
                2.0 / mu.powi(3) + 2.0 / (1.0 - mu).powi(3)
            }
            Link::Probit => {
                let eta = normal::quantile(mu);
                (1.0 + 2.0 * eta * eta) / normal::density(eta).powi(3)
            }
            Link::Cloglog => {
                // d/dmu of -(1 + L)/(a^2 L^2), with dL/dmu = -1/a and da/dmu = -1.
                let (a, l) = (1.0 - mu, (-mu).ln_1p());
                -(2.0 * l * l + 3.0 * l + 2.0) / (a.powi(3) * l.powi(3))
            }
            Link::Cauchit => {
                let pi = std::f64::consts::PI;
                let x = pi * (mu - 0.5);
                let sec2 = 1.0 / (x.cos() * x.cos());
                2.0 * pi.powi(3) * sec2 * (sec2 + 2.0 * x.tan() * x.tan())
            }
            Link::Inverse => -6.0 / mu.powi(4),
            Link::InverseSquare => -24.0 / mu.powi(5),
            Link::Sqrt => 0.375 / mu.powf(2.5),
            Link::Power(q) => power_derivative(mu, q.value(), 3),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::family::central;

    const ALL: [Link; 11] = [
        Link::Identity,
        Link::Log,
        Link::Logit,
        Link::Probit,
        Link::Cloglog,
        Link::Cauchit,
        Link::Inverse,
        Link::InverseSquare,
        Link::Sqrt,
        Link::Power(Exponent(0x3FB9_9999_9999_999A)), // 0.1
        Link::Power(Exponent(0xC008_0000_0000_0000)), // -3
    ];

    #[test]
    fn derivatives_match_finite_differences() {
        for link in ALL {
            for mu in [0.13, 0.41, 0.77] {
                let checks = [
                    ("g'", link.d1(mu), central(|m| link.link(m), mu, 1e-5)),
                    ("g''", link.d2(mu), central(|m| link.d1(m), mu, 1e-5)),
                    ("g'''", link.d3(mu), central(|m| link.d2(m), mu, 1e-5)),
                ];
                for (what, exact, numeric) in checks {
                    let err = (exact - numeric).abs() / (1.0 + exact.abs());
                    assert!(err < 1e-6, "{link:?} {what} at {mu}: {exact} vs {numeric}");
                }
                // The inverse inverts, and dmu/deta is 1/g'.
                let eta = link.link(mu);
                assert!((link.inverse(eta) - mu).abs() < 1e-12, "{link:?} inverse at {mu}");
                let numeric = central(|e| link.inverse(e), eta, 1e-5);
                assert!((link.mu_eta(eta) - numeric).abs() / (1.0 + numeric.abs()) < 1e-6, "{link:?} mu_eta");
            }
        }
    }

    #[test]
    fn mean_derivatives_in_eta_match_finite_differences() {
        for link in ALL {
            for mu in [0.13, 0.41, 0.77] {
                let eta = link.link(mu);
                let d = link.mu_derivatives(eta);
                let numeric = [
                    central(|e| link.inverse(e), eta, 1e-5),
                    central(|e| link.mu_derivatives(e)[0], eta, 1e-5),
                    central(|e| link.mu_derivatives(e)[1], eta, 1e-5),
                    central(|e| link.mu_derivatives(e)[2], eta, 1e-5),
                ];
                for k in 0..4 {
                    let err = (d[k] - numeric[k]).abs() / (1.0 + d[k].abs());
                    assert!(err < 1e-6, "{link:?} d{}mu at mu = {mu}: {} vs {}", k + 1, d[k], numeric[k]);
                }
            }
        }
    }

    #[test]
    fn names_are_rs() {
        for (name, link) in [("logit", Link::Logit), ("1/mu^2", Link::InverseSquare), ("cloglog", Link::Cloglog)] {
            assert_eq!(Link::parse(name), Some(link));
        }
        assert_eq!(Link::parse("probit"), Some(Link::Probit));
        assert_eq!(Link::parse("loglog"), None);
        assert_eq!(Link::parse("mu^0.1"), Some(Link::Power(Exponent::new(0.1))));
        assert_eq!(Link::parse("mu^0.5"), Some(Link::Sqrt));
        assert_eq!(Link::parse("mu^0"), None);
        assert_eq!(Exponent(0x3FB9_9999_9999_999A).value(), 0.1);
    }
}
