//! The Laplace-approximate REML of a general smooth model (`fit::general`) and its
//! exact gradient and Hessian in the log smoothing parameters (Wood, Pya & Säfken
//! 2016, JASA 111:1548-1563, §3.1 and Appendix; mgcv's `gam.fit5`):
//!
//! `V = -l(beta) + beta'S beta/2 + log|H|/2 - log|S|_+/2 - M_p log(2 pi)/2`,
//! `H = -d2l/dbeta dbeta' + S` at the penalized fit.
//!
//! With `s_j = lambda_j S_j beta`, `dbeta_j = -H^-1 s_j` and `deta_j = X dbeta_j`
//! (one column per predictor), and writing `X'diag(w)X` for the matrix whose block
//! `(a, b)` is `X_a' diag(w_ab) X_b`:
//!
//! * `dH_j = lambda_j S_j + X'diag(-l''' deta_j)X`;
//! * `dV_j = beta's_j/2 + tr(H^-1 dH_j)/2 - dlog|S|_j/2` (envelope theorem);
//! * `d2beta_jk = -H^-1 (dH_k dbeta_j + [j = k] s_j + lambda_j S_j dbeta_k)`;
//! * `d2H_jk = [j = k] lambda_j S_j + X'diag(-l''' d2eta_jk - l'''' deta_j deta_k)X`;
//! * `d2V_jk = [j = k] beta's_j/2 + s_j'dbeta_k + tr(H^-1 d2H_jk)/2
//!   - tr(H^-1 dH_k H^-1 dH_j)/2 - d2log|S|_jk/2`.
//!
//! The data parts of the traces are `sum_i sum_ab w_iab x_ia' [H^-1]_ab x_ib`.

use ndarray::{s, Array1, Array2};

use super::general::{GeneralModel, Inner, Likelihood};
use super::{cox, mvn, softmax};
use crate::family::general::MAX_LP;
use crate::linalg;

/// The criterion's derivatives in the free log smoothing parameters.
pub(super) struct RhoDerivatives {
    pub grad: Vec<f64>,
    /// When asked for.
    pub hess: Option<Array2<f64>>,
    /// `d beta / d rho_j`, one per free parameter.
    pub dbeta: Vec<Vec<f64>>,
}

impl GeneralModel<'_> {
    /// Each penalty's log smoothing parameter from the smoothing parameters'.
    pub(super) fn penalty_rho(&self, rho: &[f64]) -> Vec<f64> {
        self.links.iter().map(|&l| rho[l]).collect()
    }

    pub(super) fn criterion(&self, inner: &Inner, rho: &[f64]) -> f64 {
        let log_s = self.penalties.log_det(&self.penalty_rho(rho)).value;
        // (mgcv counts the unpenalized coefficients of the linear predictors only:
        // mvn()'s precision parameters, added after its set-up, are not in `Mp`.)
        let extra = match &self.likelihood {
            Likelihood::Mvn(stats) => stats.d() * (stats.d() + 1) / 2,
            _ => 0,
        };
        let mp = (self.penalties.null_space_dim() - extra) as f64;
        -inner.ll + 0.5 * inner.penalty + 0.5 * inner.factor.log_det()
            - 0.5 * log_s
            - 0.5 * mp * (2.0 * std::f64::consts::PI).ln()
    }

    /// `lambda_j S_j v`, over the penalties linked to smoothing parameter `j`.
    fn s_j_times(&self, j: usize, rho: &[f64], v: &[f64]) -> Vec<f64> {
        let mut out = vec![0.0; self.p()];
        for (pen, &l) in self.penalties.penalties.iter().zip(&self.links) {
            if l != j {
                continue;
            }
            let cols = pen.start..pen.start + pen.len();
            let sv = pen.s.dot(&Array1::from(v[cols.clone()].to_vec())) * rho[j].exp();
            out[cols].iter_mut().zip(sv.iter()).for_each(|(o, x)| *o += x);
        }
        out
    }

    /// `x_ia' [H^-1]_ab x_ib` for every row and pair of predictors (`[a * K + b]`).
    fn quadratic_forms(&self, hinv: &Array2<f64>) -> Vec<Vec<f64>> {
        let k = self.k();
        let mut quad = vec![Vec::new(); k * k];
        for a in 0..k {
            for b in a..k {
                let mut q = vec![0.0; self.n()];
                for r in &self.lp[a] {
                    for t in &self.lp[b] {
                        let xr = self.x.slice(s![.., r.clone()]);
                        let xt = self.x.slice(s![.., t.clone()]);
                        let block = hinv.slice(s![r.clone(), t.clone()]);
                        let prod = linalg::matmul(xr, block, self.settings.threads);
                        q.iter_mut()
                            .zip(prod.rows().into_iter().zip(xt.rows()))
                            .for_each(|(o, (u, x))| *o += u.dot(&x));
                    }
                }
                quad[b * k + a] = q.clone();
                quad[a * k + b] = q;
            }
        }
        quad
    }

    /// The gradient (and, when `hessian`, the Hessian) of the criterion in the free
    /// log smoothing parameters `free` (indices into `rho`) at the inner fit.
    pub(super) fn rho_derivatives(&self, inner: &Inner, rho: &[f64], free: &[usize], hessian: bool) -> RhoDerivatives {
        let m = free.len();
        let hinv = inner.factor.inverse();
        let log_s = self.penalties.log_det(&self.penalty_rho(rho));
        let s_beta: Vec<Vec<f64>> = free.iter().map(|&j| self.s_j_times(j, rho, &inner.beta)).collect();
        let dot = |a: &[f64], b: &[f64]| a.iter().zip(b).map(|(x, y)| x * y).sum::<f64>();
        let solve = |v: &[f64]| -> Vec<f64> { hinv.dot(&Array1::from(v.to_vec())).to_vec() };
        let dbeta: Vec<Vec<f64>> = s_beta.iter().map(|sb| solve(sb).iter().map(|v| -v).collect()).collect();
        let dirs: Vec<Direction> = dbeta.iter().map(|db| self.direction(db.clone())).collect();
        let mut curvature = self.curvature(inner, &hinv, hessian);
        // Per free parameter: lambda_j tr(H^-1 S_j) and its penalties' indices.
        let linked: Vec<Vec<usize>> =
            free.iter().map(|&j| (0..self.links.len()).filter(|&q| self.links[q] == j).collect()).collect();
        let pen_trace: Vec<f64> = free
            .iter()
            .zip(&linked)
            .map(|(&j, pens)| {
                pens.iter()
                    .map(|&q| {
                        let pen = &self.penalties.penalties[q];
                        let r = pen.start..pen.start + pen.len();
                        rho[j].exp() * (&hinv.slice(s![r.clone(), r]) * &pen.s.t()).sum()
                    })
                    .sum()
            })
            .collect();
        let grad: Vec<f64> = (0..m)
            .map(|j| {
                let dlog_s: f64 = linked[j].iter().map(|&q| log_s.grad[q]).sum();
                0.5 * dot(&inner.beta, &s_beta[j]) + 0.5 * (pen_trace[j] + curvature.trace(&dirs[j])) - 0.5 * dlog_s
            })
            .collect();
        if !hessian {
            return RhoDerivatives { grad, hess: None, dbeta };
        }
        // dH_j and M_j = H^-1 dH_j.
        curvature.prepare(&dirs);
        let dh: Vec<Array2<f64>> = (0..m)
            .map(|j| {
                let mut d = curvature.matrix(self, j, &dirs);
                let lambda: Vec<f64> = (0..self.links.len())
                    .map(|q| if self.links[q] == free[j] { rho[free[j]].exp() } else { 0.0 })
                    .collect();
                self.penalties.add_each(&mut d, &lambda);
                d
            })
            .collect();
        let mh: Vec<Array2<f64>> =
            dh.iter().map(|d| linalg::matmul(hinv.view(), d.view(), self.settings.threads)).collect();
        // d2beta_jk and d2eta_jk for each pair j <= k.
        let pairs: Vec<(usize, usize)> = (0..m).flat_map(|j| (j..m).map(move |kk| (j, kk))).collect();
        let d2: Vec<Direction> = pairs
            .iter()
            .map(|&(j, kk)| {
                let mut v = dh[kk].dot(&Array1::from(dbeta[j].clone())).to_vec();
                let sj_dbk = self.s_j_times(free[j], rho, &dbeta[kk]);
                for (t, x) in v.iter_mut().zip(&sj_dbk) {
                    *t += x;
                }
                if j == kk {
                    for (t, x) in v.iter_mut().zip(&s_beta[j]) {
                        *t += x;
                    }
                }
                self.direction(solve(&v).iter().map(|x| -x).collect())
            })
            .collect();
        let data = curvature.second_traces(self, inner, &pairs, &dirs, &d2);
        let mut hess = Array2::zeros((m, m));
        for (t, &(j, kk)) in pairs.iter().enumerate() {
            let d2log_s: f64 =
                linked[j].iter().map(|&p| linked[kk].iter().map(|&q| log_s.hess[(p, q)]).sum::<f64>()).sum();
            let trace_mm = (&mh[kk] * &mh[j].t()).sum();
            let mut h = dot(&s_beta[j], &dbeta[kk]) + 0.5 * data[t] - 0.5 * trace_mm - 0.5 * d2log_s;
            if j == kk {
                h += 0.5 * dot(&inner.beta, &s_beta[j]) + 0.5 * pen_trace[j];
            }
            hess[(j, kk)] = h;
            hess[(kk, j)] = h;
        }
        RhoDerivatives { grad, hess: Some(hess), dbeta }
    }
}

/// The data part of the criterion's derivatives: how `Hd = -d2l/dbeta dbeta'` moves
/// along directions of the linear predictors, contracted with `H^-1` where the
/// criterion takes a trace.
/// A direction of the coefficients and the linear predictors' move along it.
struct Direction {
    beta: Vec<f64>,
    eta: Vec<Vec<f64>>,
}

enum Curvature<'a> {
    /// A sum over rows of a general family: per row `T_c = sum_ab q_ab l_abc` (the
    /// first-order traces are sums of `T . deta`), `q_ab = x_ia' [H^-1]_ab x_ib`, and
    /// the third derivatives when the Hessian is wanted.
    Rows { t3: Vec<Vec<f64>>, third: Vec<[[[f64; MAX_LP]; MAX_LP]; MAX_LP]>, quad: Vec<Vec<f64>> },
    /// Cox's partial likelihood (`fit::cox`).
    Cox(Box<cox::Curvature<'a>>),
    /// Multivariate normal responses (`fit::mvn`).
    Mvn(mvn::Curvature<'a>),
    /// The multinomial logit (`fit::softmax`).
    Softmax(softmax::Curvature),
}

impl GeneralModel<'_> {
    fn direction(&self, beta: Vec<f64>) -> Direction {
        Direction { eta: self.predictor_products(&beta), beta }
    }

    fn curvature(&self, inner: &Inner, hinv: &Array2<f64>, hessian: bool) -> Curvature<'_> {
        if let Likelihood::Mvn(stats) = &self.likelihood {
            return Curvature::Mvn(mvn::Curvature::new(stats, &inner.beta, hinv));
        }
        let quad = self.quadratic_forms(hinv);
        if let Likelihood::Softmax(_) = &self.likelihood {
            return Curvature::Softmax(softmax::Curvature::new(&inner.eta, quad));
        }
        let family = match &self.likelihood {
            Likelihood::Cox(sets) => {
                let q = quad.into_iter().next().expect("one predictor");
                return Curvature::Cox(Box::new(cox::Curvature::new(
                    sets,
                    self.x.view(),
                    &inner.eta[0],
                    hinv,
                    q,
                    self.settings.threads,
                )));
            }
            Likelihood::Rows(family) => family,
            Likelihood::Mvn(_) | Likelihood::Softmax(_) => unreachable!("returned above"),
        };
        let k = self.k();
        let half = |rows: std::ops::Range<usize>| {
            let mut t3 = vec![Vec::with_capacity(rows.len()); k];
            let mut third = Vec::with_capacity(if hessian { rows.len() } else { 0 });
            for i in rows {
                let jet = family.eta_jet(self.y[i], &Self::row_eta(&inner.eta, i)[..k], 3);
                for (c, t) in t3.iter_mut().enumerate() {
                    t.push((0..k * k).map(|ab| quad[ab][i] * jet.d3[ab / k][ab % k][c]).sum());
                }
                if hessian {
                    third.push(jet.d3);
                }
            }
            (t3, third)
        };
        let ((mut t3, mut third), (t3_b, third_b)) = self.in_halves(half);
        t3.iter_mut().zip(t3_b).for_each(|(a, b)| a.extend(b));
        third.extend(third_b);
        Curvature::Rows { t3, third, quad }
    }
}

impl Curvature<'_> {
    /// The data part of `tr(H^-1 dH)` along a direction.
    fn trace(&self, dir: &Direction) -> f64 {
        let deta = &dir.eta;
        match self {
            // -sum_i sum_c T_c v_c.
            Curvature::Rows { t3, .. } => {
                -t3.iter().zip(deta).map(|(t, v)| t.iter().zip(v).map(|(a, b)| a * b).sum::<f64>()).sum::<f64>()
            }
            Curvature::Cox(c) => c.trace(&deta[0]),
            Curvature::Mvn(c) => c.trace(&dir.beta),
            Curvature::Softmax(c) => c.trace(deta),
        }
    }

    /// Keeps what `matrix` and `second_traces` need of the directions `deta` (each
    /// the linear predictors' derivative in one log smoothing parameter).
    fn prepare(&mut self, dirs: &[Direction]) {
        if let Curvature::Cox(c) = self {
            c.prepare(&dirs.iter().map(|d| d.eta[0].clone()).collect::<Vec<_>>());
        }
    }

    /// The data part of `dH` along direction `j` of `deta`: `X'diag(-l''' deta_j)X`
    /// for rows.
    fn matrix(&self, model: &GeneralModel<'_>, j: usize, dirs: &[Direction]) -> Array2<f64> {
        let deta = &dirs[j].eta;
        match self {
            Curvature::Rows { third, .. } => {
                let (n, k) = (model.n(), model.k());
                let w: Vec<Vec<f64>> = (0..k * k)
                    .map(|ab| {
                        (0..n).map(|i| -(0..k).map(|c| third[i][ab / k][ab % k][c] * deta[c][i]).sum::<f64>()).collect()
                    })
                    .collect();
                model.weighted_gram(&w)
            }
            Curvature::Cox(c) => c.matrix(j, &deta[0]),
            Curvature::Mvn(c) => c.matrix(&dirs[j].beta),
            Curvature::Softmax(c) => model.weighted_gram(&c.weights(deta)),
        }
    }

    /// The data part of `tr(H^-1 d2H_jk)` for each pair: the first-order trace along
    /// `d2eta_jk` and the second derivative of `Hd` along `deta_j, deta_k`.
    fn second_traces(
        &self,
        model: &GeneralModel<'_>,
        inner: &Inner,
        pairs: &[(usize, usize)],
        dirs: &[Direction],
        d2: &[Direction],
    ) -> Vec<f64> {
        let mut data: Vec<f64> = d2.iter().map(|d| self.trace(d)).collect();
        match self {
            Curvature::Cox(c) => {
                let etas: Vec<Vec<f64>> = dirs.iter().map(|d| d.eta[0].clone()).collect();
                data.iter_mut().zip(c.second_traces(&etas, pairs)).for_each(|(d, v)| *d += v);
            }
            Curvature::Mvn(c) => {
                for (t, &(j, kk)) in pairs.iter().enumerate() {
                    data[t] += c.second_trace(&dirs[j].beta, &dirs[kk].beta);
                }
            }
            // (-l's fourth derivatives are the cumulants k4: the data part is
            // +sum q k4 u w.)
            Curvature::Softmax(c) => {
                let etas: Vec<Vec<Vec<f64>>> = dirs.iter().map(|d| d.eta.clone()).collect();
                data.iter_mut().zip(c.second(&etas, pairs)).for_each(|(d, v)| *d += v);
            }
            // -sum_cd G_cd deta_jc deta_kd, G_cd = sum_ab q_ab l_abcd, one pass over
            // the rows for every pair.
            Curvature::Rows { quad, .. } => {
                let Likelihood::Rows(family) = &model.likelihood else { unreachable!("rows have a row family") };
                let k = model.k();
                let half = |rows: std::ops::Range<usize>| {
                    let mut part = vec![0.0; pairs.len()];
                    for i in rows {
                        let fourth = family.eta_fourth(model.y[i], &GeneralModel::row_eta(&inner.eta, i)[..k]);
                        let mut g = [[0.0; MAX_LP]; MAX_LP];
                        for (c, row) in g.iter_mut().enumerate().take(k) {
                            for (d, v) in row.iter_mut().enumerate().take(k) {
                                *v = (0..k * k).map(|ab| quad[ab][i] * fourth[ab / k][ab % k][c][d]).sum();
                            }
                        }
                        for (t, &(j, kk)) in pairs.iter().enumerate() {
                            let mut sum = 0.0;
                            for (c, row) in g.iter().enumerate().take(k) {
                                for (d, v) in row.iter().enumerate().take(k) {
                                    sum += v * dirs[j].eta[c][i] * dirs[kk].eta[d][i];
                                }
                            }
                            part[t] += sum;
                        }
                    }
                    part
                };
                let (a, b) = model.in_halves(half);
                data.iter_mut().zip(a.iter().zip(&b)).for_each(|(d, (a, b))| *d -= a + b);
            }
        }
        data
    }
}

#[cfg(test)]
mod tests {
    use super::super::general::{GeneralModel, GeneralSettings};
    use crate::family::general::GeneralFamily;
    use crate::fit::cox::RiskSets;
    use crate::fit::general::Likelihood;
    use crate::fit::mvn::MvnStats;
    use crate::fit::penalty::{Penalty, PenaltySet};
    use ndarray::{Array2, ArrayView2};

    /// A general model for the derivative tests: no offsets, every smoothing
    /// parameter estimated, no term tests, tight settings on one thread.
    fn test_model<'a>(
        x: ArrayView2<'a, f64>,
        lp: Vec<Vec<std::ops::Range<usize>>>,
        y: &'a [f64],
        likelihood: Likelihood,
        penalties: PenaltySet,
        links: Vec<usize>,
    ) -> GeneralModel<'a> {
        let n_sp = links.iter().max().map_or(0, |m| m + 1);
        GeneralModel {
            x,
            offset: vec![Vec::new(); lp.len()],
            lp,
            y,
            likelihood,
            penalties,
            links,
            fixed: vec![None; n_sp],
            terms: Vec::new(),
            settings: GeneralSettings { tol: 1e-8, max_iter: 50, max_step: 5.0, threads: 1 },
        }
    }

    /// A two-predictor Gaussian location-scale model on a small design: intercept
    /// and four polynomial-like columns each, a ridge penalty on each predictor's
    /// non-intercept columns; with `shared`, three more columns that both
    /// predictors take (mgcv's `1 + 2 ~ ...`), with a ridge penalty of their own.
    fn with_model(mean_link: &str, shared: bool, check: impl Fn(&GeneralModel<'_>)) {
        let n = 120;
        let p = if shared { 13 } else { 10 };
        let x: Vec<f64> = (0..n).map(|i| (i as f64 + 0.5) / n as f64).collect();
        let cols = |j: usize, v: f64| if j == 0 { 1.0 } else { (v * (j as f64 + 1.0) * 2.1).sin() };
        let mut xm = Array2::zeros((n, p));
        for i in 0..n {
            for j in 0..5 {
                xm[(i, j)] = cols(j, x[i]);
                xm[(i, 5 + j)] = cols(j, 1.0 - x[i]);
            }
            for j in 10..p {
                xm[(i, j)] = (x[i] * (j as f64 - 8.3) * 1.7).cos() * 0.5;
            }
        }
        let y: Vec<f64> = x
            .iter()
            .enumerate()
            .map(|(i, v)| 2.0 + v.sin() + 0.3 * (1.0 + v) * ((i * 37 % 11) as f64 - 5.0) / 3.0)
            .collect();
        let ridge = |m: usize| Array2::from_shape_fn((m, m), |(i, j)| if i == j { 1.0 } else { 0.2 });
        let mut pens = vec![Penalty { start: 1, s: ridge(4) }, Penalty { start: 6, s: ridge(4) }];
        let mut lp = vec![vec![0..5], vec![5..10]];
        if shared {
            pens.push(Penalty { start: 10, s: ridge(3) });
            lp.iter_mut().for_each(|blocks| blocks.push(10..13));
        }
        let links = vec![mean_link.to_string(), "logb".to_string()];
        let n_sp = pens.len();
        let model = test_model(
            xm.view(),
            lp,
            &y,
            Likelihood::Rows(GeneralFamily::from_r("gaulss", &links, &[0.01]).expect("gaulss")),
            PenaltySet::new(p, pens),
            (0..n_sp).collect(),
        );
        check(&model);
    }

    /// The exact gradient against central differences of the criterion, and the
    /// exact Hessian against central differences of the gradient.
    fn assert_derivatives(model: &GeneralModel<'_>, what: &str) {
        let free: Vec<usize> = (0..model.fixed.len()).collect();
        let rho: Vec<f64> = [0.4, -1.1, 0.7][..free.len()].to_vec();
        let start = model.start_coefficients();
        let fit_at = |r: &[f64]| model.inner(&model.penalty_lambda(r), &start).expect("inner fit");
        let inner = fit_at(&rho);
        let d = model.rho_derivatives(&inner, &rho, &free, true);
        let hess = d.hess.expect("hessian");
        let h = 1e-5;
        for j in 0..free.len() {
            let moved = |step: f64| {
                let mut r = rho.clone();
                r[j] += step;
                r
            };
            let (up, down) = (moved(h), moved(-h));
            let (fu, fd) = (fit_at(&up), fit_at(&down));
            let numeric = (model.criterion(&fu, &up) - model.criterion(&fd, &down)) / (2.0 * h);
            assert!((d.grad[j] - numeric).abs() < 1e-6 * (1.0 + numeric.abs()), "{what} grad {j}");
            let gu = model.rho_derivatives(&fu, &up, &free, false).grad;
            let gd = model.rho_derivatives(&fd, &down, &free, false).grad;
            for i in 0..free.len() {
                let numeric = (gu[i] - gd[i]) / (2.0 * h);
                assert!(
                    (hess[(i, j)] - numeric).abs() < 1e-5 * (1.0 + numeric.abs()),
                    "{what} hess {i}{j}: {} vs {numeric}",
                    hess[(i, j)]
                );
            }
        }
    }

    /// Gaussian location-scale models, with a block shared by both predictors too.
    #[test]
    fn derivatives_match_finite_differences() {
        for (link, shared) in [("identity", false), ("log", false), ("identity", true), ("log", true)] {
            with_model(link, shared, |model| assert_derivatives(model, link));
        }
    }

    /// Cox's partial likelihood with ties and two strata: five columns, two
    /// penalized blocks.
    #[test]
    fn cox_derivatives_match_finite_differences() {
        let n = 150;
        let xm = Array2::from_shape_fn((n, 5), |(i, j)| ((i * (j + 2)) as f64 * 0.29 + j as f64).sin());
        let eta: Vec<f64> = (0..n).map(|i| 0.8 * xm[(i, 0)] - 0.5 * xm[(i, 3)]).collect();
        // Times decreasing in eta (high hazard, early event), with ties and censoring.
        let time: Vec<f64> = (0..n).map(|i| ((2.0 - eta[i]) * 3.0 + (i % 5) as f64 * 0.4).round()).collect();
        let status: Vec<f64> = (0..n).map(|i| if i % 3 == 2 { 0.0 } else { 1.0 }).collect();
        let strata: Vec<f64> = (0..n).map(|i| (i % 2) as f64).collect();
        let ridge = |m: usize| Array2::from_shape_fn((m, m), |(i, j)| if i == j { 1.0 } else { 0.2 });
        let model = test_model(
            xm.view(),
            vec![vec![0..5]],
            &time,
            Likelihood::Cox(RiskSets::new(&time, &status, &strata)),
            PenaltySet::new(5, vec![Penalty { start: 0, s: ridge(2) }, Penalty { start: 2, s: ridge(3) }]),
            vec![0, 1],
        );
        assert_derivatives(&model, "cox");
    }

    /// Two normal responses, each with an intercept and three penalized columns,
    /// and the precision factor's three parameters (zero columns of `x`).
    #[test]
    fn mvn_derivatives_match_finite_differences() {
        let n = 80;
        let xm = Array2::from_shape_fn((n, 11), |(i, j)| {
            let v = i as f64 / n as f64;
            match j {
                0 | 4 => 1.0,
                1..=3 => (v * (j as f64 + 1.0) * 2.3).sin(),
                5..=7 => (v * (j as f64 - 3.0) * 1.7).cos(),
                _ => 0.0,
            }
        });
        let y: Vec<f64> = (0..2 * n).map(|k| ((k * 11 % 17) as f64 - 8.0) / 5.0 + (k % n) as f64 / n as f64).collect();
        let ridge = Array2::from_shape_fn((3, 3), |(i, j)| if i == j { 1.0 } else { 0.2 });
        let model = test_model(
            xm.view(),
            vec![vec![0..4], vec![4..8]],
            &y,
            Likelihood::Mvn(MvnStats::new(xm.view(), vec![(0..4).collect(), (4..8).collect()], &y, 1)),
            PenaltySet::new(11, vec![Penalty { start: 1, s: ridge.clone() }, Penalty { start: 5, s: ridge }]),
            vec![0, 1],
        );
        assert_derivatives(&model, "mvn");
    }

    /// The multinomial logit with five predictors (more than the row families'
    /// `MAX_LP`), each an intercept and two penalized columns.
    #[test]
    fn softmax_derivatives_match_finite_differences() {
        let (n, k) = (150, 5);
        let xm = Array2::from_shape_fn((n, 3 * k), |(i, j)| {
            let v = i as f64 / n as f64;
            match j % 3 {
                0 => 1.0,
                1 => (v * (j as f64 + 1.0) * 1.3).sin(),
                _ => (v * (j as f64 + 2.0) * 0.7).cos(),
            }
        });
        let y: Vec<f64> = (0..n).map(|i| ((i * 7 + i / 13) % (k + 1)) as f64).collect();
        let ridge = Array2::from_shape_fn((2, 2), |(i, j)| if i == j { 1.0 } else { 0.3 });
        let pens: Vec<Penalty> = (0..k).map(|a| Penalty { start: 3 * a + 1, s: ridge.clone() }).collect();
        let model = test_model(
            xm.view(),
            (0..k).map(|a| std::iter::once(3 * a..3 * a + 3).collect()).collect(),
            &y,
            Likelihood::Softmax(k),
            PenaltySet::new(3 * k, pens),
            vec![0, 1, 2, 0, 1],
        );
        assert_derivatives(&model, "softmax");
    }
}
