//! The multinomial logit likelihood (mgcv's `multinom(K)`) for any number of
//! classes: a response in `0..=K`, `K` linear predictors, `P(y = a) = p_a =
//! exp(eta_a) / (1 + sum_b exp(eta_b))` (class 0's predictor is zero),
//! `l = eta_y - log(1 + sum_b exp(eta_b))`.
//!
//! `log(1 + sum_b exp(eta_b))` is the cumulant generating function of the class
//! indicator vector `z` (`z = e_a` with probability `p_a`, `0` otherwise), so
//! `-l`'s derivatives of order two to four in `eta` are `z`'s joint cumulants
//! `k2`, `k3`, `k4`. `z`'s moments are diagonal (`E[z_a z_b z_c] = p_a` when
//! `a = b = c`, else 0), so every contraction the criterion takes of them
//! (`sum_ab q_ab k3_abc`, `sum_c k3_abc u_c`, `sum_ab q_ab k4_abcd`) costs `O(K^2)`
//! per row, without the `K^4` arrays a general row family's fourth derivatives
//! need (Wood, Pya & Säfken 2016, JASA 111:1548-1563, §3 for their use).

/// The class probabilities `p_1..p_K` at one row's linear predictors.
fn probabilities(eta: &[f64]) -> Vec<f64> {
    // exp(eta_a - c) / (exp(-c) + sum_b exp(eta_b - c)), c the largest of 0 and eta.
    let c = eta.iter().copied().fold(0.0_f64, f64::max);
    let e: Vec<f64> = eta.iter().map(|v| (v - c).exp()).collect();
    let total = (-c).exp() + e.iter().sum::<f64>();
    e.iter().map(|v| v / total).collect()
}

fn row(eta: &[Vec<f64>], i: usize) -> Vec<f64> {
    eta.iter().map(|col| col[i]).collect()
}

/// The log likelihood of one row, class `y`.
pub fn row_loglik(y: f64, eta: &[f64]) -> f64 {
    let c = eta.iter().copied().fold(0.0_f64, f64::max);
    let log_total = c + ((-c).exp() + eta.iter().map(|v| (v - c).exp()).sum::<f64>()).ln();
    let class = y as usize;
    (if class == 0 { 0.0 } else { eta[class - 1] }) - log_total
}

/// The log likelihood over the rows.
pub fn loglik(y: &[f64], eta: &[Vec<f64>]) -> f64 {
    (0..y.len()).map(|i| row_loglik(y[i], &row(eta, i))).sum()
}

/// The log likelihood and `-l`'s first and second derivatives in each row's
/// linear predictors (`[a][i]` and `[a * K + b][i]`): `p_a - [y = a]` and
/// `k2_ab = p_a [a = b] - p_a p_b`.
pub fn derivatives(y: &[f64], eta: &[Vec<f64>]) -> (f64, Vec<Vec<f64>>, Vec<Vec<f64>>) {
    let (n, k) = (y.len(), eta.len());
    let mut d1 = vec![vec![0.0; n]; k];
    let mut d2 = vec![vec![0.0; n]; k * k];
    let mut ll = 0.0;
    for i in 0..n {
        let e = row(eta, i);
        ll += row_loglik(y[i], &e);
        let p = probabilities(&e);
        for a in 0..k {
            d1[a][i] = p[a] - if y[i] as usize == a + 1 { 1.0 } else { 0.0 };
            for b in 0..k {
                d2[a * k + b][i] = if a == b { p[a] } else { 0.0 } - p[a] * p[b];
            }
        }
    }
    (ll, d1, d2)
}

/// Each class's log odds against class 0 in the sample (smoothed by a half count),
/// the same for every row: predictor `lp`'s start.
pub fn start_targets(lp: usize, y: &[f64]) -> Vec<f64> {
    let count = |c: usize| y.iter().filter(|&&v| v as usize == c).count() as f64 + 0.5;
    vec![(count(lp + 1) / count(0)).ln(); y.len()]
}

/// The criterion's data curvature at a fit: per row the probabilities and the
/// quadratic forms `q_ab = x_ia' [H^-1]_ab x_ib`, with `A = sum_a q_aa p_a`,
/// `Qp` and `p'Qp`.
pub struct Curvature {
    k: usize,
    p: Vec<Vec<f64>>,
    q: Vec<Vec<f64>>,
    a: Vec<f64>,
    qp: Vec<Vec<f64>>,
    pqp: Vec<f64>,
}

impl Curvature {
    /// From the fit's linear predictors and the quadratic forms `quad[a * K + b][i]`.
    pub fn new(eta: &[Vec<f64>], quad: Vec<Vec<f64>>) -> Curvature {
        let (k, n) = (eta.len(), eta.first().map_or(0, |c| c.len()));
        let rows: Vec<Vec<f64>> = (0..n).map(|i| probabilities(&row(eta, i))).collect();
        let p: Vec<Vec<f64>> = (0..k).map(|a| rows.iter().map(|r| r[a]).collect()).collect();
        let mut a_sum = vec![0.0; n];
        let mut qp = vec![vec![0.0; n]; k];
        let mut pqp = vec![0.0; n];
        for i in 0..n {
            for c in 0..k {
                a_sum[i] += quad[c * k + c][i] * p[c][i];
                qp[c][i] = (0..k).map(|b| quad[c * k + b][i] * p[b][i]).sum();
                pqp[i] += p[c][i] * qp[c][i];
            }
        }
        Curvature { k, p, q: quad, a: a_sum, qp, pqp }
    }

    /// The data part of `tr(H^-1 dH)` along `deta`: `sum_i sum_c (sum_ab q_ab
    /// k3_abc) deta_c`, with `sum_ab q_ab k3_abc = q_cc p_c - A p_c - 2 (Qp)_c p_c +
    /// 2 p'Qp p_c`.
    pub fn trace(&self, deta: &[Vec<f64>]) -> f64 {
        let k = self.k;
        let mut total = 0.0;
        for (i, &a) in self.a.iter().enumerate() {
            for c in 0..k {
                let pc = self.p[c][i];
                let t = self.q[c * k + c][i] * pc - a * pc - 2.0 * self.qp[c][i] * pc + 2.0 * self.pqp[i] * pc;
                total += t * deta[c][i];
            }
        }
        total
    }

    /// The weights of `dH = X'diag(w)X` along `deta`: `w_ab = sum_c k3_abc u_c =
    /// [a = b] p_a (u_a - p.u) - p_a p_b (u_a + u_b - 2 p.u)`.
    pub fn weights(&self, deta: &[Vec<f64>]) -> Vec<Vec<f64>> {
        let k = self.k;
        let n = self.a.len();
        let mut w = vec![vec![0.0; n]; k * k];
        for i in 0..n {
            let pu: f64 = (0..k).map(|c| self.p[c][i] * deta[c][i]).sum();
            for a in 0..k {
                let (pa, ua) = (self.p[a][i], deta[a][i]);
                for b in 0..k {
                    let (pb, ub) = (self.p[b][i], deta[b][i]);
                    let mut v = -pa * pb * (ua + ub - 2.0 * pu);
                    if a == b {
                        v += pa * (ua - pu);
                    }
                    w[a * k + b][i] = v;
                }
            }
        }
        w
    }

    /// `sum_i sum_cd (sum_ab q_ab k4_abcd) u_c w_d` for each pair of directions,
    /// with `sum_ab q_ab k4_abcd = [c = d] p_c (q_cc - 2 (Qp)_c - A + 2 p'Qp)
    /// - p_c p_d (q_cc + q_dd + 2 q_cd - 2 A - 4 (Qp)_c - 4 (Qp)_d + 6 p'Qp)`.
    pub fn second(&self, dirs: &[Vec<Vec<f64>>], pairs: &[(usize, usize)]) -> Vec<f64> {
        let k = self.k;
        let mut out = vec![0.0; pairs.len()];
        let mut s = vec![0.0; k * k];
        for i in 0..self.a.len() {
            let (a, pqp) = (self.a[i], self.pqp[i]);
            for c in 0..k {
                let (pc, qcc, qpc) = (self.p[c][i], self.q[c * k + c][i], self.qp[c][i]);
                for d in 0..k {
                    let (pd, qdd, qpd) = (self.p[d][i], self.q[d * k + d][i], self.qp[d][i]);
                    let mut v = -pc
                        * pd
                        * (qcc + qdd + 2.0 * self.q[c * k + d][i] - 2.0 * a - 4.0 * qpc - 4.0 * qpd + 6.0 * pqp);
                    if c == d {
                        v += pc * (qcc - 2.0 * qpc - a + 2.0 * pqp);
                    }
                    s[c * k + d] = v;
                }
            }
            for (t, &(j, l)) in pairs.iter().enumerate() {
                let mut sum = 0.0;
                for c in 0..k {
                    for d in 0..k {
                        sum += s[c * k + d] * dirs[j][c][i] * dirs[l][d][i];
                    }
                }
                out[t] += sum;
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Five classes beyond class 0 at a few rows: `-l`'s derivatives by central
    /// differences of the log likelihood, and every contraction against the tensors
    /// of those finite differences.
    #[test]
    fn contractions_match_finite_differences() {
        let k = 5;
        let n = 4;
        let eta: Vec<Vec<f64>> =
            (0..k).map(|a| (0..n).map(|i| ((a * 3 + i * 7) % 11) as f64 / 5.0 - 1.0).collect()).collect();
        let y = [0.0, 3.0, 5.0, 1.0];
        // -l of row i as a function of its predictors.
        let f = |i: usize, e: &[f64]| -row_loglik(y[i], e);
        let h = 1e-3;
        let (_, d1, d2) = derivatives(&y, &eta);
        let quad: Vec<Vec<f64>> =
            (0..k * k).map(|ab| (0..n).map(|i| 1.0 + ((ab / k + ab % k + i) % 4) as f64 * 0.25).collect()).collect();
        let curv = Curvature::new(&eta, quad.clone());
        let dirs: Vec<Vec<Vec<f64>>> = (0..2)
            .map(|s| (0..k).map(|c| (0..n).map(|i| ((c + 2 * i + 3 * s) % 5) as f64 / 4.0 - 0.5).collect()).collect())
            .collect();
        let mut trace = 0.0;
        let mut second = 0.0;
        for i in 0..n {
            let e = row(&eta, i);
            let at = |shift: &[(usize, f64)]| {
                let mut v = e.clone();
                for &(a, d) in shift {
                    v[a] += d;
                }
                f(i, &v)
            };
            for a in 0..k {
                let fd = (at(&[(a, h)]) - at(&[(a, -h)])) / (2.0 * h);
                assert!((fd - d1[a][i]).abs() < 1e-6, "d1");
                for b in 0..k {
                    let fd = (at(&[(a, h), (b, h)]) - at(&[(a, h), (b, -h)]) - at(&[(a, -h), (b, h)])
                        + at(&[(a, -h), (b, -h)]))
                        / (4.0 * h * h);
                    assert!((fd - d2[a * k + b][i]).abs() < 1e-5, "d2 {a}{b}: {fd} vs {}", d2[a * k + b][i]);
                }
            }
            // Third derivatives by differences of the analytic second ones.
            let k2 = |v: &[f64]| derivatives(&[y[i]], &v.iter().map(|x| vec![*x]).collect::<Vec<_>>()).2;
            let third = |a: usize, b: usize, c: usize| {
                let (mut up, mut dn) = (e.clone(), e.clone());
                up[c] += h;
                dn[c] -= h;
                (k2(&up)[a * k + b][0] - k2(&dn)[a * k + b][0]) / (2.0 * h)
            };
            let fourth = |a: usize, b: usize, c: usize, d: usize| {
                let shifted = |sc: f64, sd: f64| {
                    let mut v = e.clone();
                    v[c] += sc;
                    v[d] += sd;
                    k2(&v)[a * k + b][0]
                };
                (shifted(h, h) - shifted(h, -h) - shifted(-h, h) + shifted(-h, -h)) / (4.0 * h * h)
            };
            for a in 0..k {
                for b in 0..k {
                    let w: f64 = (0..k).map(|c| third(a, b, c) * dirs[0][c][i]).sum();
                    let exact = curv.weights(&dirs[0])[a * k + b][i];
                    assert!((w - exact).abs() < 1e-6, "weights {a}{b}: {w} vs {exact}");
                    for c in 0..k {
                        trace += quad[a * k + b][i] * third(a, b, c) * dirs[0][c][i];
                        for d in 0..k {
                            second += quad[a * k + b][i] * fourth(a, b, c, d) * dirs[0][c][i] * dirs[1][d][i];
                        }
                    }
                }
            }
        }
        assert!(
            (trace - curv.trace(&dirs[0])).abs() < 1e-6 * (1.0 + trace.abs()),
            "{trace} vs {}",
            curv.trace(&dirs[0])
        );
        let exact = curv.second(&dirs, &[(0, 1)])[0];
        assert!((second - exact).abs() < 1e-4 * (1.0 + second.abs()), "{second} vs {exact}");
    }
}
