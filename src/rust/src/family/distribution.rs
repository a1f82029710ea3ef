//! The exponential families' variance functions and unit deviances, with the
//! derivatives in `mu` that penalized IRLS and the Laplace-approximate REML use
//! (Wood 2017 §3.1, §6.6).

/// An exponential family, as R's family objects name them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Distribution {
    Gaussian,
    Binomial,
    Poisson,
    Gamma,
    InverseGaussian,
    /// The negative binomial with shape `theta` (mgcv's `negbin(theta)`, and `nb()`
    /// at a given `theta`): `V(mu) = mu + mu^2 / theta`, scale 1.
    NegBin {
        theta: f64,
    },
    /// The Tweedie distribution with power `1 < p < 2` (mgcv's `Tweedie(p)`, and
    /// `tw()` at a given `p`): `V(mu) = mu^p`, scale estimated.
    Tweedie {
        p: f64,
    },
}

impl Distribution {
    pub fn parse(name: &str) -> Option<Distribution> {
        Some(match name {
            "gaussian" => Distribution::Gaussian,
            "binomial" => Distribution::Binomial,
            "poisson" => Distribution::Poisson,
            "Gamma" => Distribution::Gamma,
            "inverse.gaussian" => Distribution::InverseGaussian,
            _ => return None,
        })
    }

    /// Whether the scale is known (1) rather than estimated.
    pub fn known_scale(&self) -> bool {
        matches!(self, Distribution::Binomial | Distribution::Poisson | Distribution::NegBin { .. })
    }

    /// `V(mu)` and its first three derivatives.
    pub fn variance(&self, mu: f64) -> [f64; 4] {
        match self {
            Distribution::Gaussian => [1.0, 0.0, 0.0, 0.0],
            Distribution::Binomial => [mu * (1.0 - mu), 1.0 - 2.0 * mu, -2.0, 0.0],
            Distribution::Poisson => [mu, 1.0, 0.0, 0.0],
            Distribution::Gamma => [mu * mu, 2.0 * mu, 2.0, 0.0],
            Distribution::InverseGaussian => [mu.powi(3), 3.0 * mu * mu, 6.0 * mu, 6.0],
            Distribution::NegBin { theta } => [mu + mu * mu / theta, 1.0 + 2.0 * mu / theta, 2.0 / theta, 0.0],
            Distribution::Tweedie { p } => {
                let v = mu.powf(*p);
                [v, p * v / mu, p * (p - 1.0) * v / (mu * mu), p * (p - 1.0) * (p - 2.0) * v / mu.powi(3)]
            }
        }
    }

    /// The first four derivatives in `mu` of the unit deviance. Every exponential
    /// family's deviance is `2 int_mu^y (y - t) / V(t) dt` (McCullagh & Nelder 1989
    /// §2.3), so `d' = -2 (y - mu) / V` and the rest follow from `V`'s derivatives.
    pub fn deviance_mu_derivatives(&self, y: f64, mu: f64) -> [f64; 4] {
        let [v, v1, v2, v3] = self.variance(mu);
        let r = y - mu;
        let (a1, a2, a3) = (v1 / v, v2 / v, v3 / v);
        [
            -2.0 * r / v,
            (2.0 + 2.0 * r * a1) / v,
            (-4.0 * a1 + 2.0 * r * (a2 - 2.0 * a1 * a1)) / v,
            (-6.0 * a2 + 12.0 * a1 * a1 + 2.0 * r * (a3 - 6.0 * a1 * a2 + 6.0 * a1.powi(3))) / v,
        ]
    }

    /// Whether `mu` is a valid mean.
    pub fn valid_mean(&self, mu: f64) -> bool {
        match self {
            Distribution::Gaussian => mu.is_finite(),
            Distribution::Binomial => mu > 0.0 && mu < 1.0,
            _ => mu > 0.0 && mu.is_finite(),
        }
    }

    /// The unit deviance `d(y, mu)` (prior weight 1) and its first two derivatives in
    /// `mu`; `y log y` is taken as 0 at `y = 0`, as R's `dev.resids` do.
    pub fn deviance(&self, y: f64, mu: f64) -> [f64; 3] {
        let ylog = |a: f64, b: f64| if a == 0.0 { 0.0 } else { a * (a / b).ln() };
        match self {
            Distribution::Gaussian => [(y - mu).powi(2), -2.0 * (y - mu), 2.0],
            Distribution::Binomial => [
                2.0 * (ylog(y, mu) + ylog(1.0 - y, 1.0 - mu)),
                2.0 * (-y / mu + (1.0 - y) / (1.0 - mu)),
                2.0 * (y / (mu * mu) + (1.0 - y) / ((1.0 - mu) * (1.0 - mu))),
            ],
            Distribution::Poisson => [2.0 * (ylog(y, mu) - (y - mu)), 2.0 * (1.0 - y / mu), 2.0 * y / (mu * mu)],
            Distribution::Gamma => [
                2.0 * (-(y / mu).ln() + (y - mu) / mu),
                2.0 * (1.0 / mu - y / (mu * mu)),
                2.0 * (-1.0 / (mu * mu) + 2.0 * y / mu.powi(3)),
            ],
            Distribution::InverseGaussian => [
                (y - mu).powi(2) / (y * mu * mu),
                -2.0 * y / mu.powi(3) + 2.0 / (mu * mu),
                6.0 * y / mu.powi(4) - 4.0 / mu.powi(3),
            ],
            Distribution::Tweedie { p } => {
                let p = *p;
                let ya = if y > 0.0 { y.powf(2.0 - p) / ((1.0 - p) * (2.0 - p)) } else { 0.0 };
                [
                    2.0 * (ya - y * mu.powf(1.0 - p) / (1.0 - p) + mu.powf(2.0 - p) / (2.0 - p)),
                    2.0 * (mu.powf(1.0 - p) - y * mu.powf(-p)),
                    2.0 * ((1.0 - p) * mu.powf(-p) + p * y * mu.powf(-p - 1.0)),
                ]
            }
            Distribution::NegBin { theta } => {
                let t = *theta;
                [
                    2.0 * (ylog(y, mu) - (y + t) * ((y + t) / (mu + t)).ln()),
                    2.0 * (-y / mu + (y + t) / (mu + t)),
                    2.0 * (y / (mu * mu) - (y + t) / ((mu + t) * (mu + t))),
                ]
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::family::central;

    const ALL: [Distribution; 7] = [
        Distribution::Gaussian,
        Distribution::Binomial,
        Distribution::Poisson,
        Distribution::Gamma,
        Distribution::InverseGaussian,
        Distribution::NegBin { theta: 1.7 },
        Distribution::Tweedie { p: 1.35 },
    ];

    #[test]
    fn derivatives_match_finite_differences() {
        for family in ALL {
            for (y, mu) in [(0.3, 0.45), (0.8, 0.6), (0.0, 0.2), (1.0, 0.7)] {
                if y == 0.0 && matches!(family, Distribution::Gamma | Distribution::InverseGaussian) {
                    continue; // outside the support
                }
                let [v, v1, v2, v3] = family.variance(mu);
                let generic = family.deviance_mu_derivatives(y, mu);
                let [d, d1, d2] = family.deviance(y, mu);
                let checks = [
                    ("V'", v1, central(|m| family.variance(m)[0], mu, 1e-6)),
                    ("V''", v2, central(|m| family.variance(m)[1], mu, 1e-6)),
                    ("V'''", v3, central(|m| family.variance(m)[2], mu, 1e-6)),
                    ("generic d'", generic[0], d1),
                    ("generic d''", generic[1], d2),
                    ("d'''", generic[2], central(|m| family.deviance_mu_derivatives(y, m)[1], mu, 1e-6)),
                    ("d''''", generic[3], central(|m| family.deviance_mu_derivatives(y, m)[2], mu, 1e-6)),
                    ("d'", d1, central(|m| family.deviance(y, m)[0], mu, 1e-6)),
                    ("d''", d2, central(|m| family.deviance(y, m)[1], mu, 1e-6)),
                ];
                for (what, exact, numeric) in checks {
                    assert!(
                        (exact - numeric).abs() / (1.0 + exact.abs()) < 1e-6,
                        "{family:?} {what} at y={y}, mu={mu}: {exact} vs {numeric}"
                    );
                }
                assert!(v > 0.0 && d >= 0.0, "{family:?}");
                // The deviance is zero at mu = y (where y is a valid mean).
                if y > 0.0 && y < 1.0 {
                    assert!(family.deviance(y, y)[0].abs() < 1e-14, "{family:?} d(y, y)");
                }
            }
        }
    }
}
