//! Truncated Taylor arithmetic: a function's value and first four derivatives at a
//! point, carried through sums, products and compositions with elementary
//! functions (forward-mode differentiation; Griewank & Walther 2008, *Evaluating
//! Derivatives*, ch. 13). A family whose log likelihood is a composition (the
//! zero-inflated Poisson's) writes it once and gets the four derivatives penalized
//! IRLS and the Laplace-approximate REML need, instead of deriving each by hand.

use std::ops::{Add, Mul, Neg, Sub};

/// `[f, f', f'', f''', f'''']` at one point.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Jet(pub [f64; 5]);

impl Jet {
    /// The variable itself at `x`.
    pub fn var(x: f64) -> Jet {
        Jet([x, 1.0, 0.0, 0.0, 0.0])
    }

    pub fn constant(c: f64) -> Jet {
        Jet([c, 0.0, 0.0, 0.0, 0.0])
    }

    pub fn value(&self) -> f64 {
        self.0[0]
    }

    /// `phi(self)`, given `phi` and its first four derivatives at `self`'s value, by
    /// Faà di Bruno's formula.
    pub fn compose(self, d: [f64; 5]) -> Jet {
        let [_, u1, u2, u3, u4] = self.0;
        Jet([
            d[0],
            d[1] * u1,
            d[2] * u1 * u1 + d[1] * u2,
            d[3] * u1.powi(3) + 3.0 * d[2] * u1 * u2 + d[1] * u3,
            d[4] * u1.powi(4) + 6.0 * d[3] * u1 * u1 * u2 + d[2] * (3.0 * u2 * u2 + 4.0 * u1 * u3) + d[1] * u4,
        ])
    }

    pub fn exp(self) -> Jet {
        let e = self.value().exp();
        self.compose([e; 5])
    }

    pub fn ln(self) -> Jet {
        let u = self.value();
        let r = 1.0 / u;
        self.compose([u.ln(), r, -r * r, 2.0 * r.powi(3), -6.0 * r.powi(4)])
    }

    /// `1 - e^-self`, accurate where `self` is small.
    pub fn one_minus_exp_neg(self) -> Jet {
        let u = self.value();
        let e = (-u).exp();
        self.compose([-(-u).exp_m1(), e, -e, e, -e])
    }
}

impl Add for Jet {
    type Output = Jet;
    fn add(self, o: Jet) -> Jet {
        Jet(std::array::from_fn(|k| self.0[k] + o.0[k]))
    }
}

impl Sub for Jet {
    type Output = Jet;
    fn sub(self, o: Jet) -> Jet {
        Jet(std::array::from_fn(|k| self.0[k] - o.0[k]))
    }
}

impl Neg for Jet {
    type Output = Jet;
    fn neg(self) -> Jet {
        Jet(self.0.map(|v| -v))
    }
}

impl Mul<f64> for Jet {
    type Output = Jet;
    fn mul(self, c: f64) -> Jet {
        Jet(self.0.map(|v| v * c))
    }
}

/// Leibniz's rule.
impl Mul for Jet {
    type Output = Jet;
    fn mul(self, o: Jet) -> Jet {
        let (f, g) = (self.0, o.0);
        Jet([
            f[0] * g[0],
            f[1] * g[0] + f[0] * g[1],
            f[2] * g[0] + 2.0 * f[1] * g[1] + f[0] * g[2],
            f[3] * g[0] + 3.0 * f[2] * g[1] + 3.0 * f[1] * g[2] + f[0] * g[3],
            f[4] * g[0] + 4.0 * f[3] * g[1] + 6.0 * f[2] * g[2] + 4.0 * f[1] * g[3] + f[0] * g[4],
        ])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::family::central;

    /// `ln(1 - e^(-e^x)) * x + e^(2x)`: every operation, against differences.
    #[test]
    fn derivatives_match_finite_differences() {
        let f = |x: Jet| (x.exp().one_minus_exp_neg().ln() * x) + (x * 2.0).exp() - Jet::constant(1.0);
        for x in [-3.0, -0.2, 0.7, 2.1] {
            let j = f(Jet::var(x));
            for k in 0..4 {
                let numeric = central(|t| f(Jet::var(t)).0[k], x, 1e-5);
                assert!(
                    (j.0[k + 1] - numeric).abs() < 1e-6 * (1.0 + numeric.abs()),
                    "x = {x}, order {}: {} vs {numeric}",
                    k + 1,
                    j.0[k + 1]
                );
            }
        }
    }
}
