//! The multivariate normal additive model (mgcv's `mvn(d)`): `d` responses per row,
//! each with its own linear predictor for its mean, and a precision matrix
//! `P = R'R` shared by every row, `R` upper triangular with diagonal `exp(theta_kk)`
//! and off-diagonal entries `theta_kl` (Wood, Pya & Säfken 2016, JASA
//! 111:1548-1563, §5.3). The `d(d+1)/2` parameters `theta` are unpenalized
//! coefficients after the predictors' (mgcv's ordering: row by row of `R`). The
//! log likelihood
//!
//! `l = n sum_k theta_kk - sum_ab P_ab S_ab / 2 - n d log(2 pi) / 2`,
//! `S_ab = sum_i (y_ia - mu_ia)(y_ib - mu_ib)`,
//!
//! depends on the data only through `X_a'X_b`, `X_a'y_b` and `Y'Y`, so once those
//! are formed every evaluation costs nothing in the number of rows. The Hessian's
//! derivatives along directions of the coefficients (what the criterion's gradient
//! and Hessian take traces of) come from evaluating the Hessian in hyper-dual
//! numbers (`HyperDual`), exact to rounding.

use std::ops::{Add, Mul, Neg, Sub};

use ndarray::{Array2, ArrayView2, ShapeBuilder};

use crate::linalg;

/// A number the Hessian is evaluated in.
trait Scalar: Copy + Add<Output = Self> + Sub<Output = Self> + Mul<Output = Self> + Neg<Output = Self> {
    fn constant(x: f64) -> Self;
    fn exp(self) -> Self;
}

impl Scalar for f64 {
    fn constant(x: f64) -> f64 {
        x
    }
    fn exp(self) -> f64 {
        f64::exp(self)
    }
}

/// `v + a e + b f + c e f` with `e^2 = f^2 = 0`: a function evaluated at
/// `x + e u + f w` carries its derivatives along `u` (`a`), `w` (`b`) and both (`c`).
#[derive(Debug, Clone, Copy)]
struct HyperDual {
    v: f64,
    a: f64,
    b: f64,
    c: f64,
}

impl Add for HyperDual {
    type Output = HyperDual;
    fn add(self, o: HyperDual) -> HyperDual {
        HyperDual { v: self.v + o.v, a: self.a + o.a, b: self.b + o.b, c: self.c + o.c }
    }
}

impl Sub for HyperDual {
    type Output = HyperDual;
    fn sub(self, o: HyperDual) -> HyperDual {
        HyperDual { v: self.v - o.v, a: self.a - o.a, b: self.b - o.b, c: self.c - o.c }
    }
}

impl Mul for HyperDual {
    type Output = HyperDual;
    fn mul(self, o: HyperDual) -> HyperDual {
        HyperDual {
            v: self.v * o.v,
            a: self.v * o.a + self.a * o.v,
            b: self.v * o.b + self.b * o.v,
            c: self.v * o.c + self.c * o.v + self.a * o.b + self.b * o.a,
        }
    }
}

impl Neg for HyperDual {
    type Output = HyperDual;
    fn neg(self) -> HyperDual {
        HyperDual { v: -self.v, a: -self.a, b: -self.b, c: -self.c }
    }
}

impl Scalar for HyperDual {
    fn constant(x: f64) -> HyperDual {
        HyperDual { v: x, a: 0.0, b: 0.0, c: 0.0 }
    }
    fn exp(self) -> HyperDual {
        let e = self.v.exp();
        HyperDual { v: e, a: e * self.a, b: e * self.b, c: e * (self.c + self.a * self.b) }
    }
}

/// The model's sufficient statistics: each predictor's columns of the coefficient
/// vector, `X_a'X_b`, `X_a'y_b` and `Y'Y`, and where `theta` starts.
#[derive(Debug, Clone)]
pub struct MvnStats {
    d: usize,
    n: f64,
    cols: Vec<Vec<usize>>,
    xx: Vec<Vec<Array2<f64>>>,
    xy: Vec<Vec<Vec<f64>>>,
    yy: Array2<f64>,
    theta_start: usize,
    p: usize,
}

impl MvnStats {
    /// From the model matrix `x` (its last `d(d+1)/2` columns `theta`'s, unused),
    /// each predictor's columns and the responses `y` (`n x d`, by columns).
    pub fn new(x: ArrayView2<'_, f64>, cols: Vec<Vec<usize>>, y: &[f64], threads: usize) -> MvnStats {
        let (n, p) = x.dim();
        let d = cols.len();
        let theta_start = p - d * (d + 1) / 2;
        let used = x.slice(ndarray::s![.., ..theta_start]);
        let gram = linalg::weighted_gram(used, &vec![1.0; n], threads);
        let ym = ArrayView2::from_shape((n, d).f(), y).expect("y is n x d");
        let xty = linalg::matmul(used.t(), ym, threads);
        let yy = linalg::matmul(ym.t(), ym, threads);
        let xx = cols
            .iter()
            .map(|ca| {
                cols.iter()
                    .map(|cb| Array2::from_shape_fn((ca.len(), cb.len()), |(i, j)| gram[(ca[i], cb[j])]))
                    .collect()
            })
            .collect();
        let xy = cols.iter().map(|ca| (0..d).map(|b| ca.iter().map(|&i| xty[(i, b)]).collect()).collect()).collect();
        MvnStats { d, n: n as f64, cols, xx, xy, yy, theta_start, p }
    }

    pub fn d(&self) -> usize {
        self.d
    }

    /// `theta`'s index of `R[i, j]` (`i <= j`): row by row of `R`.
    fn theta_index(&self, i: usize, j: usize) -> usize {
        i * self.d - i * (i + 1) / 2 + j
    }

    /// `R` from `theta`.
    fn root<T: Scalar>(&self, theta: &[T]) -> Vec<Vec<T>> {
        let d = self.d;
        let mut r = vec![vec![T::constant(0.0); d]; d];
        for i in 0..d {
            for j in i..d {
                let t = theta[self.theta_index(i, j)];
                r[i][j] = if i == j { t.exp() } else { t };
            }
        }
        r
    }

    /// `X_a'(y_b - X_b beta_b)` for every pair of predictors, and `S`.
    fn residual_products<T: Scalar>(&self, beta: &[T]) -> (Vec<Vec<Vec<T>>>, Vec<Vec<T>>) {
        let d = self.d;
        let coef: Vec<Vec<T>> = self.cols.iter().map(|c| c.iter().map(|&i| beta[i]).collect()).collect();
        let xr: Vec<Vec<Vec<T>>> = (0..d)
            .map(|a| {
                (0..d)
                    .map(|b| {
                        let xx = &self.xx[a][b];
                        (0..xx.nrows())
                            .map(|i| {
                                let mut s = T::constant(self.xy[a][b][i]);
                                for (j, cb) in coef[b].iter().enumerate() {
                                    s = s - T::constant(xx[(i, j)]) * *cb;
                                }
                                s
                            })
                            .collect()
                    })
                    .collect()
            })
            .collect();
        // S_ab = y_a'y_b - beta_a'X_a'y_b - beta_b'X_b'r_a (r_a = y_a - X_a beta_a).
        let s = (0..d)
            .map(|a| {
                (0..d)
                    .map(|b| {
                        let mut v = T::constant(self.yy[(a, b)]);
                        for (i, ca) in coef[a].iter().enumerate() {
                            v = v - *ca * T::constant(self.xy[a][b][i]);
                        }
                        for (j, cb) in coef[b].iter().enumerate() {
                            v = v - *cb * xr[b][a][j];
                        }
                        v
                    })
                    .collect()
            })
            .collect();
        (xr, s)
    }

    /// `P = R'R`.
    fn precision<T: Scalar>(&self, r: &[Vec<T>]) -> Vec<Vec<T>> {
        let d = self.d;
        (0..d)
            .map(|a| (0..d).map(|b| (0..=a.min(b)).fold(T::constant(0.0), |acc, k| acc + r[k][a] * r[k][b])).collect())
            .collect()
    }

    /// `dP / dtheta_t` for `theta_t = R[i, j]`: `c (e_j R_i' + R_i e_j')`, `R_i` row
    /// `i` of `R` and `c = R[i, i]` on the diagonal (where `R[i, i] = exp(theta_t)`),
    /// 1 off it.
    fn precision_derivative<T: Scalar>(&self, r: &[Vec<T>], (i, j): (usize, usize)) -> Vec<Vec<T>> {
        let d = self.d;
        let c = if i == j { r[i][i] } else { T::constant(1.0) };
        (0..d)
            .map(|a| {
                (0..d)
                    .map(|b| {
                        let mut v = T::constant(0.0);
                        if a == j {
                            v = v + r[i][b];
                        }
                        if b == j {
                            v = v + r[i][a];
                        }
                        c * v
                    })
                    .collect()
            })
            .collect()
    }

    /// The pairs `(i, j)`, `i <= j`, of `theta` in order.
    fn theta_pairs(&self) -> Vec<(usize, usize)> {
        (0..self.d).flat_map(|i| (i..self.d).map(move |j| (i, j))).collect()
    }

    /// `-d2l/dbeta dbeta'` (every coefficient, `theta`'s too) at `beta`.
    fn negative_hessian<T: Scalar>(&self, beta: &[T]) -> Vec<Vec<T>> {
        let d = self.d;
        let zero = T::constant(0.0);
        let mut h = vec![vec![zero; self.p]; self.p];
        let theta = &beta[self.theta_start..];
        let r = self.root(theta);
        let prec = self.precision(&r);
        let (xr, s) = self.residual_products(beta);
        // (beta_a, beta_b): P_ab X_a'X_b.
        for a in 0..d {
            for b in 0..d {
                let xx = &self.xx[a][b];
                for (i, &ci) in self.cols[a].iter().enumerate() {
                    for (j, &cj) in self.cols[b].iter().enumerate() {
                        h[ci][cj] = prec[a][b] * T::constant(xx[(i, j)]);
                    }
                }
            }
        }
        let pairs = self.theta_pairs();
        let dp: Vec<Vec<Vec<T>>> = pairs.iter().map(|&ij| self.precision_derivative(&r, ij)).collect();
        for (t, dpt) in dp.iter().enumerate() {
            let ct = self.theta_start + t;
            // (beta_a, theta_t): -sum_b dP_ab X_a'r_b.
            for a in 0..d {
                for (i, &ci) in self.cols[a].iter().enumerate() {
                    let mut v = zero;
                    for b in 0..d {
                        v = v + dpt[a][b] * xr[a][b][i];
                    }
                    h[ci][ct] = -v;
                    h[ct][ci] = -v;
                }
            }
            // (theta_t, theta_s): sum_ab d2P_ab S_ab / 2, with
            // d2P = c_t c_s [i_t = i_s] (E_{j_t j_s} + E_{j_s j_t}) + [t = s diagonal] dP_t.
            let (it, jt) = pairs[t];
            let c_t = if it == jt { r[it][it] } else { T::constant(1.0) };
            for (s_idx, &(is, js)) in pairs.iter().enumerate() {
                let mut v = zero;
                if it == is {
                    let c_s = if is == js { r[is][is] } else { T::constant(1.0) };
                    v = c_t * c_s * (s[jt][js] + s[js][jt]);
                }
                if s_idx == t && it == jt {
                    for a in 0..d {
                        for b in 0..d {
                            v = v + dpt[a][b] * s[a][b];
                        }
                    }
                }
                h[ct][self.theta_start + s_idx] = v * T::constant(0.5);
            }
        }
        h
    }

    /// The log likelihood at `beta`.
    pub fn loglik(&self, beta: &[f64]) -> f64 {
        let theta = &beta[self.theta_start..];
        let prec = self.precision(&self.root(theta));
        let (_, s) = self.residual_products(beta);
        self.loglik_from(theta, &prec, &s)
    }

    /// The log likelihood from `theta`, `P` and `S`.
    fn loglik_from(&self, theta: &[f64], prec: &[Vec<f64>], s: &[Vec<f64>]) -> f64 {
        let quad: f64 =
            (0..self.d).flat_map(|a| (0..self.d).map(move |b| (a, b))).map(|(a, b)| prec[a][b] * s[a][b]).sum();
        let log_det: f64 = (0..self.d).map(|k| theta[self.theta_index(k, k)]).sum();
        self.n * log_det - 0.5 * quad - 0.5 * self.n * self.d as f64 * (2.0 * std::f64::consts::PI).ln()
    }

    /// The log likelihood, the gradient of `-l` and `-d2l/dbeta dbeta'` at `beta`.
    pub fn derivatives(&self, beta: &[f64]) -> (f64, Vec<f64>, Array2<f64>) {
        let d = self.d;
        let theta = &beta[self.theta_start..];
        let r = self.root(theta);
        let prec = self.precision(&r);
        let (xr, s) = self.residual_products(beta);
        let mut grad = vec![0.0; self.p];
        for a in 0..d {
            for (i, &ci) in self.cols[a].iter().enumerate() {
                grad[ci] = -(0..d).map(|b| prec[a][b] * xr[a][b][i]).sum::<f64>();
            }
        }
        for (t, &ij) in self.theta_pairs().iter().enumerate() {
            let dp = self.precision_derivative(&r, ij);
            let quad: f64 = (0..d).flat_map(|a| (0..d).map(move |b| (a, b))).map(|(a, b)| dp[a][b] * s[a][b]).sum();
            let diagonal = if ij.0 == ij.1 { self.n } else { 0.0 };
            grad[self.theta_start + t] = -(diagonal - 0.5 * quad);
        }
        let h = self.negative_hessian(beta);
        (self.loglik_from(theta, &prec, &s), grad, Array2::from_shape_fn((self.p, self.p), |(i, j)| h[i][j]))
    }

    /// `theta`'s start from each response's residual variance about its
    /// predictor's start coefficients in `beta`: `R = diag(1 / sd)`, as mgcv's.
    pub fn start_theta(&self, beta: &mut [f64]) {
        let (_, s) = self.residual_products(beta);
        for k in 0..self.d {
            let var = (s[k][k] / self.n).max(1e-12);
            beta[self.theta_start + self.theta_index(k, k)] = -0.5 * var.ln();
        }
    }
}

/// `-d2l/dbeta dbeta'`'s derivatives along directions of the coefficients, at a
/// fit, contracted with `Q = H^-1` where the criterion takes traces.
pub struct Curvature<'a> {
    stats: &'a MvnStats,
    beta: Vec<f64>,
    qmat: Array2<f64>,
}

impl<'a> Curvature<'a> {
    pub fn new(stats: &'a MvnStats, beta: &[f64], hinv: &Array2<f64>) -> Curvature<'a> {
        Curvature { stats, beta: beta.to_vec(), qmat: hinv.clone() }
    }

    /// The Hessian at `beta + e u + f w`.
    fn at(&self, u: &[f64], w: &[f64]) -> Vec<Vec<HyperDual>> {
        let point: Vec<HyperDual> =
            (0..self.beta.len()).map(|i| HyperDual { v: self.beta[i], a: u[i], b: w[i], c: 0.0 }).collect();
        self.stats.negative_hessian(&point)
    }

    /// `D_u Hd`.
    pub fn matrix(&self, u: &[f64]) -> Array2<f64> {
        let zero = vec![0.0; u.len()];
        let h = self.at(u, &zero);
        Array2::from_shape_fn(self.qmat.dim(), |(i, j)| h[i][j].a)
    }

    /// `tr(Q D_u Hd)`.
    pub fn trace(&self, u: &[f64]) -> f64 {
        (&self.qmat * &self.matrix(u)).sum()
    }

    /// `tr(Q D2_{u,w} Hd)`.
    pub fn second_trace(&self, u: &[f64], w: &[f64]) -> f64 {
        let h = self.at(u, w);
        let q = &self.qmat;
        (0..q.nrows()).flat_map(|i| (0..q.ncols()).map(move |j| (i, j))).map(|(i, j)| q[(i, j)] * h[i][j].c).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Three responses, two columns each predictor (intercept, slope), the last six
    /// columns `theta`'s.
    fn stats() -> (MvnStats, Vec<f64>) {
        let n = 40;
        let p = 6 + 6;
        let x = Array2::from_shape_fn((n, p).f(), |(i, j)| {
            let v = i as f64 / n as f64;
            match j {
                0 | 2 | 4 => 1.0,
                1 => v,
                3 => (3.0 * v).sin(),
                5 => v * v,
                _ => 0.0,
            }
        });
        let y: Vec<f64> = (0..3 * n).map(|k| ((k * 7 % 13) as f64 - 6.0) / 4.0 + (k / n) as f64).collect();
        let cols = vec![vec![0, 1], vec![2, 3], vec![4, 5]];
        let s = MvnStats::new(x.view(), cols, &y, 1);
        let beta = vec![0.3, -0.2, 1.1, 0.4, 1.9, -0.3, 0.1, 0.2, -0.1, -0.2, 0.3, 0.05];
        (s, beta)
    }

    #[test]
    fn gradient_and_hessian_match_finite_differences() {
        let (s, beta) = stats();
        let (ll, grad, hd) = s.derivatives(&beta);
        assert!((ll - s.loglik(&beta)).abs() < 1e-12);
        let h = 1e-6;
        for k in 0..beta.len() {
            let moved = |d: f64| {
                let mut b = beta.clone();
                b[k] += d;
                b
            };
            let fd = -(s.loglik(&moved(h)) - s.loglik(&moved(-h))) / (2.0 * h);
            assert!((fd - grad[k]).abs() < 1e-5 * (1.0 + fd.abs()), "gradient {k}: {fd} against {}", grad[k]);
            let (_, gp, _) = s.derivatives(&moved(h));
            let (_, gm, _) = s.derivatives(&moved(-h));
            for l in 0..beta.len() {
                let fd = (gp[l] - gm[l]) / (2.0 * h);
                assert!(
                    (fd - hd[(l, k)]).abs() < 1e-5 * (1.0 + fd.abs()),
                    "Hessian ({l}, {k}): {fd} against {}",
                    hd[(l, k)]
                );
            }
        }
    }

    #[test]
    fn curvature_matches_finite_differences_of_the_hessian() {
        let (s, beta) = stats();
        let p = beta.len();
        let qmat = Array2::from_shape_fn((p, p), |(i, j)| if i == j { 1.0 + 0.1 * i as f64 } else { 0.05 });
        let curv = Curvature::new(&s, &beta, &qmat);
        let u: Vec<f64> = (0..p).map(|i| ((i * 5 % 7) as f64 - 3.0) / 10.0).collect();
        let w: Vec<f64> = (0..p).map(|i| ((i * 3 % 5) as f64 - 2.0) / 10.0).collect();
        let hd_at = |t: f64, r: f64| {
            let b: Vec<f64> = (0..p).map(|i| beta[i] + t * u[i] + r * w[i]).collect();
            s.derivatives(&b).2
        };
        let h = 1e-4;
        let fd = (&hd_at(h, 0.0) - &hd_at(-h, 0.0)) / (2.0 * h);
        assert!((&fd - &curv.matrix(&u)).iter().all(|v| v.abs() < 1e-6), "D_u Hd");
        let fd2 = (&(&hd_at(h, h) - &hd_at(h, -h)) - &(&hd_at(-h, h) - &hd_at(-h, -h))) / (4.0 * h * h);
        let fd_trace = (&qmat * &fd2).sum();
        let exact = curv.second_trace(&u, &w);
        assert!((fd_trace - exact).abs() < 1e-5 * (1.0 + fd_trace.abs()), "{fd_trace} against {exact}");
    }
}
