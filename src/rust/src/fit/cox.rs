//! Cox's proportional hazards model (mgcv's `cox.ph`): the log partial likelihood
//! of right-censored survival times, with Breslow's (Peto's) handling of tied
//! times, as mgcv's `coxlpl` computes it (Hastie & Tibshirani 1990, *Generalized
//! Additive Models*, §8.3; Wood, Pya & Säfken 2016, JASA 111:1548-1563, §3.4):
//!
//! `l = sum_i d_i eta_i - sum_j D_j log S_j`, `S_j = sum_{i in R_j} exp(eta_i)`,
//!
//! where `j` runs over the distinct event times of each stratum, `D_j` counts the
//! events at that time and `R_j` is the stratum's rows still at risk (time at least
//! the event's). No row's term is a function of its own linear predictor alone, so
//! the fit (`fit::general`) takes its derivatives in the coefficients from here
//! rather than from a row-wise family.
//!
//! `log S_j` is the cumulant generating function of the distribution
//! `p_i = exp(eta_i) / S_j` on `R_j`. Hence `-d2l/dbeta dbeta' = sum_j D_j Cov_j(x)`,
//! its derivative in a direction `u = X v` of the linear predictor is
//! `sum_j D_j k3_j(x, x, u)` and its second derivative in `u, w` is
//! `sum_j D_j k4_j(x, x, u, w)`: the third and fourth joint cumulants of `p_j`,
//! written out in moments below. Every sum over a risk set is a running sum along
//! the rows in decreasing time, so each costs one pass over the data.

use ndarray::{Array1, Array2, ArrayView2, ArrayViewMut2, Axis, ShapeBuilder};

use crate::linalg;

/// The risk sets of survival data: rows by stratum, then by decreasing time, so
/// that each risk set is the first rows of its stratum.
#[derive(Debug, Clone)]
pub struct RiskSets {
    order: Vec<usize>,
    events: Vec<EventTime>,
    /// For each position along `order`, the first event time whose risk set holds
    /// it (`NONE` for rows censored before their stratum's first event).
    first_event: Vec<usize>,
    status: Vec<f64>,
    strata: Vec<f64>,
}

/// One distinct event time: its risk set is positions `stratum_start..end` of
/// `order`, and `count` events happen at it.
#[derive(Debug, Clone)]
struct EventTime {
    stratum_start: usize,
    end: usize,
    count: f64,
}

const NONE: usize = usize::MAX;

/// The most memory a Hessian evaluation keeps of its directions' risk-set sums.
const KEPT_BYTES: usize = 1 << 30;

impl RiskSets {
    /// From each row's time, status (1 an event, 0 censored) and stratum code
    /// (empty: one stratum).
    pub fn new(time: &[f64], status: &[f64], strata: &[f64]) -> RiskSets {
        let n = time.len();
        let stratum = |i: usize| strata.get(i).copied().unwrap_or(0.0);
        let mut order: Vec<usize> = (0..n).collect();
        order.sort_by(|&a, &b| stratum(a).total_cmp(&stratum(b)).then(time[b].total_cmp(&time[a])));
        let mut events = Vec::new();
        let mut stratum_start = 0;
        let mut pos = 0;
        while pos < n {
            let (t, s) = (time[order[pos]], stratum(order[pos]));
            if pos > 0 && s != stratum(order[pos - 1]) {
                stratum_start = pos;
            }
            let mut end = pos;
            let mut count = 0.0;
            while end < n && time[order[end]] == t && stratum(order[end]) == s {
                count += status[order[end]];
                end += 1;
            }
            if count > 0.0 {
                events.push(EventTime { stratum_start, end, count });
            }
            pos = end;
        }
        let mut first_event = vec![NONE; n];
        let mut current = NONE;
        let mut pos = 0;
        for (j, ev) in events.iter().enumerate() {
            if ev.stratum_start != current {
                current = ev.stratum_start;
                pos = current;
            }
            while pos < ev.end {
                first_event[pos] = j;
                pos += 1;
            }
        }
        RiskSets { order, events, first_event, status: status.to_vec(), strata: strata.to_vec() }
    }

    /// What the risk sets are made of besides the times: each row's status and
    /// stratum (the store's key covers them).
    pub fn status_and_strata(&self) -> [&[f64]; 2] {
        [&self.status, &self.strata]
    }

    pub fn n_events(&self) -> usize {
        self.events.len()
    }

    /// `sum_{i in R_j} v_i` for every event time `j`.
    fn risk_sums(&self, v: &[f64]) -> Vec<f64> {
        let mut out = Vec::with_capacity(self.events.len());
        let (mut current, mut pos, mut acc) = (NONE, 0, 0.0);
        for ev in &self.events {
            if ev.stratum_start != current {
                (current, pos, acc) = (ev.stratum_start, ev.stratum_start, 0.0);
            }
            while pos < ev.end {
                acc += v[self.order[pos]];
                pos += 1;
            }
            out.push(acc);
        }
        out
    }

    /// `sum_{i in R_j} v_i x_i'` for every event time `j` (a row each). The columns
    /// are independent: two fixed halves of them on two threads when `threads`
    /// allows (the same sums either way).
    fn risk_row_sums(&self, x: ArrayView2<'_, f64>, v: &[f64], threads: usize) -> Array2<f64> {
        let p = x.ncols();
        let mut out = Array2::zeros((self.events.len(), p).f());
        let weighted: Vec<f64> = self.order.iter().map(|&i| v[i]).collect();
        let half = p / 2;
        let (left, right) = out.view_mut().split_at(Axis(1), half);
        let (x_left, x_right) = x.split_at(Axis(1), half);
        if !linalg::halves_on_two_threads(x.nrows(), threads) {
            self.risk_row_sums_into(x_left, &weighted, left);
            self.risk_row_sums_into(x_right, &weighted, right);
        } else {
            std::thread::scope(|s| {
                s.spawn(|| self.risk_row_sums_into(x_right, &weighted, right));
                self.risk_row_sums_into(x_left, &weighted, left);
            });
        }
        out
    }

    /// `risk_row_sums` for the columns of `x` into those of `out`, with `weighted`
    /// the weights in time order.
    fn risk_row_sums_into(&self, x: ArrayView2<'_, f64>, weighted: &[f64], mut out: ArrayViewMut2<'_, f64>) {
        // Column by column: R holds `x` by columns, and a column's running sum reads
        // it in place (a row of `x` is scattered over the whole matrix).
        let mut sorted = vec![0.0; self.order.len()];
        for (column, mut target) in x.columns().into_iter().zip(out.columns_mut()) {
            // The column's products in time order first (a gather), then the running
            // sums over plain slices.
            match column.as_slice() {
                Some(c) => sorted.iter_mut().zip(&self.order).zip(weighted).for_each(|((s, &i), w)| *s = w * c[i]),
                None => sorted.iter_mut().zip(&self.order).zip(weighted).for_each(|((s, &i), w)| *s = w * column[i]),
            }
            let (mut current, mut pos, mut acc) = (NONE, 0, 0.0);
            for (ev, t) in self.events.iter().zip(target.iter_mut()) {
                if ev.stratum_start != current {
                    (current, pos, acc) = (ev.stratum_start, ev.stratum_start, 0.0);
                }
                acc += sorted[pos..ev.end].iter().sum::<f64>();
                pos = ev.end;
                *t = acc;
            }
        }
    }

    /// `sum_{j : i in R_j} v_j` for every row `i` (original order): the sum over the
    /// event times whose risk sets hold the row, each a later event of its stratum.
    fn row_tails(&self, v: &[f64]) -> Vec<f64> {
        let m = self.events.len();
        let mut tail = vec![0.0; m + 1];
        for j in (0..m).rev() {
            let same = j + 1 < m && self.events[j + 1].stratum_start == self.events[j].stratum_start;
            tail[j] = v[j] + if same { tail[j + 1] } else { 0.0 };
        }
        let mut out = vec![0.0; self.order.len()];
        for (pos, &i) in self.order.iter().enumerate() {
            let j = self.first_event[pos];
            out[i] = if j == NONE { 0.0 } else { tail[j] };
        }
        out
    }

    /// `exp(eta - c)` and the constant `c` (the largest `eta`), which cancels from
    /// every ratio and keeps the exponentials finite.
    fn scaled_exp(eta: &[f64]) -> (Vec<f64>, f64) {
        let c = eta.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let c = if c.is_finite() { c } else { 0.0 };
        (eta.iter().map(|e| (e - c).exp()).collect(), c)
    }

    /// The log partial likelihood at `eta`.
    pub fn loglik(&self, eta: &[f64]) -> f64 {
        let (e, c) = Self::scaled_exp(eta);
        self.loglik_from(eta, &self.risk_sums(&e), c)
    }

    /// The log partial likelihood from the risk sets' sums `S_j` of `exp(eta - c)`.
    fn loglik_from(&self, eta: &[f64], s: &[f64], c: f64) -> f64 {
        let events: f64 = eta.iter().zip(&self.status).map(|(e, d)| d * e).sum();
        events - self.events.iter().zip(s).map(|(ev, s)| ev.count * (s.ln() + c)).sum::<f64>()
    }

    /// The log partial likelihood, the gradient of `-l` and `-d2l/dbeta dbeta'` at
    /// `eta = X beta (+ offset)`.
    pub fn derivatives(&self, x: ArrayView2<'_, f64>, eta: &[f64], threads: usize) -> (f64, Vec<f64>, Array2<f64>) {
        let state = State::new(self, x, eta, threads);
        // -dl/deta_i = e_i A_i - d_i.
        let r: Vec<f64> = (0..eta.len()).map(|i| state.e[i] * state.a[i] - self.status[i]).collect();
        let grad = x.t().dot(&Array1::from(r)).to_vec();
        let w: Vec<f64> = state.e.iter().zip(&state.a).map(|(e, a)| e * a).collect();
        let mut hd = linalg::weighted_gram(x, &w, threads);
        let v: Vec<f64> = self.events.iter().zip(&state.s).map(|(ev, s)| ev.count / (s * s)).collect();
        hd -= &linalg::weighted_gram(state.b.view(), &v, threads);
        (state.ll, grad, hd)
    }
}

/// The risk sets' sums at one linear predictor: `e_i = exp(eta_i - c)`, `S_j`,
/// `A_i = sum_{j : i in R_j} D_j / S_j` (Breslow's cumulative hazard at the row's
/// time, over `exp(c)`) and `b_j = sum_{R_j} e_i x_i`.
struct State {
    e: Vec<f64>,
    s: Vec<f64>,
    a: Vec<f64>,
    b: Array2<f64>,
    ll: f64,
}

impl State {
    fn new(sets: &RiskSets, x: ArrayView2<'_, f64>, eta: &[f64], threads: usize) -> State {
        let (e, c) = RiskSets::scaled_exp(eta);
        let s = sets.risk_sums(&e);
        let per_event: Vec<f64> = sets.events.iter().zip(&s).map(|(ev, s)| ev.count / s).collect();
        let a = sets.row_tails(&per_event);
        let b = sets.risk_row_sums(x, &e, threads);
        let ll = sets.loglik_from(eta, &s, c);
        State { e, s, a, b, ll }
    }
}

/// How `Hd = -d2l/dbeta dbeta'` moves with the coefficients at a fit, contracted
/// with `Q = H^-1` where the criterion takes traces: what the derivatives of the
/// Laplace-approximate REML in the log smoothing parameters need
/// (`fit::general_laml`).
pub struct Curvature<'a> {
    sets: &'a RiskSets,
    x: ArrayView2<'a, f64>,
    state: State,
    /// `x_i' Q x_i`.
    q: Vec<f64>,
    /// `g_j = Q b_j` (a row each) and `b_j' Q b_j`.
    g: Array2<f64>,
    bqb: Vec<f64>,
    qmat: Array2<f64>,
    /// `x_i' T_i` with `T_i = sum_{j : i in R_j} D_j g_j / S_j^2`.
    xi: Vec<f64>,
    /// `tau` with `tr(Q D_u Hd) = tau'u`: the trace is linear in `u`.
    tau: Vec<f64>,
    /// The directions of `prepare`, with `Q c_j(u)` for each (`None`: computed at
    /// each use, when keeping them all would take more than `KEPT_BYTES`).
    directions: Vec<Option<(Direction, Array2<f64>)>>,
    threads: usize,
}

/// A direction's risk-set sums: `u_j = E_j[u]`, `c_j = sum_{R_j} e_i u_i x_i`,
/// `C_i = sum_{j : i in R_j} D_j u_j / S_j`.
#[derive(Clone)]
struct Direction {
    mean: Vec<f64>,
    c: Array2<f64>,
    tail: Vec<f64>,
}

impl<'a> Curvature<'a> {
    pub fn new(
        sets: &'a RiskSets,
        x: ArrayView2<'a, f64>,
        eta: &[f64],
        hinv: &Array2<f64>,
        q: Vec<f64>,
        threads: usize,
    ) -> Curvature<'a> {
        let state = State::new(sets, x, eta, threads);
        let g = linalg::matmul(state.b.view(), hinv.view(), threads);
        let bqb = row_dots(&state.b, &g);
        let mut out = Curvature {
            sets,
            x,
            state,
            q,
            g,
            bqb,
            qmat: hinv.clone(),
            xi: Vec::new(),
            tau: Vec::new(),
            directions: Vec::new(),
            threads,
        };
        // T_i column by column: each column of D_j g_j / S_j^2 summed over the risk
        // sets holding row i.
        let w2 = out.per_event(2);
        let mut xi = vec![0.0; eta.len()];
        for (gc, xc) in out.g.columns().into_iter().zip(x.columns()) {
            let weighted: Vec<f64> = gc.iter().zip(&w2).map(|(g, w)| g * w).collect();
            let t = sets.row_tails(&weighted);
            xi.iter_mut().zip(xc.iter().zip(&t)).for_each(|(o, (x, t))| *o += x * t);
        }
        out.xi = xi;
        // tau_i = e_i (A_i q_i - sum_{j : i in R_j} D_j E_j[q] / S_j - 2 x_i'T_i
        //   + 2 sum_{j : i in R_j} D_j b_j'Q b_j / S_j^3): `trace`'s terms with the
        // sums over event times and rows exchanged.
        let mean_q = out.means(&out.q);
        let s = &out.state.s;
        let by_q: Vec<f64> = (0..s.len()).map(|j| sets.events[j].count * mean_q[j] / s[j]).collect();
        let by_b: Vec<f64> = (0..s.len()).map(|j| 2.0 * w2[j] * out.bqb[j] / s[j]).collect();
        let (tq, tb) = (sets.row_tails(&by_q), sets.row_tails(&by_b));
        out.tau = (0..eta.len())
            .map(|i| out.state.e[i] * (out.state.a[i] * out.q[i] - tq[i] - 2.0 * out.xi[i] + tb[i]))
            .collect();
        out
    }

    /// `D_j / S_j^k` for every event time.
    fn per_event(&self, k: i32) -> Vec<f64> {
        self.sets.events.iter().zip(&self.state.s).map(|(ev, s)| ev.count / s.powi(k)).collect()
    }

    /// `E_j[f]` for every event time.
    fn means(&self, f: &[f64]) -> Vec<f64> {
        let ef: Vec<f64> = self.state.e.iter().zip(f).map(|(e, v)| e * v).collect();
        self.sets.risk_sums(&ef).iter().zip(&self.state.s).map(|(v, s)| v / s).collect()
    }

    fn direction(&self, u: &[f64]) -> Direction {
        let mean = self.means(u);
        let weights: Vec<f64> = self.per_event(1).iter().zip(&mean).map(|(w, m)| w * m).collect();
        let eu: Vec<f64> = self.state.e.iter().zip(u).map(|(e, v)| e * v).collect();
        Direction { c: self.sets.risk_row_sums(self.x, &eu, self.threads), tail: self.sets.row_tails(&weights), mean }
    }

    /// `tr(Q D_u Hd)`, the data part of `tr(H^-1 dH)` along `u`:
    /// `sum_j D_j tr(Q k3_j(x, x, u))` with
    /// `k3(x, x, u) = E[xx'u] - E[xx'] E[u] - E[xu] mu' - mu E[xu]' + 2 mu mu' E[u]`,
    /// that is `sum_i e_i (u_i A_i - C_i) q_i - 2 sum_j D_j c_j'g_j / S_j^2
    /// + 2 sum_j D_j E_j[u] b_j'Q b_j / S_j^2`, linear in `u`: `tau'u`.
    pub fn trace(&self, u: &[f64]) -> f64 {
        self.tau.iter().zip(u).map(|(t, v)| t * v).sum()
    }

    /// Keeps the risk-set sums of the directions `dirs` (the linear predictor's
    /// derivatives in each log smoothing parameter) for `matrix` and
    /// `second_traces`, when they fit in `KEPT_BYTES` (two event-by-coefficient
    /// matrices each: a large model with many smoothing parameters would not).
    pub fn prepare(&mut self, dirs: &[Vec<f64>]) {
        self.prepare_within(dirs, KEPT_BYTES);
    }

    fn prepare_within(&mut self, dirs: &[Vec<f64>], budget: usize) {
        let bytes = dirs.len().saturating_mul(self.sets.n_events()).saturating_mul(self.g.ncols()).saturating_mul(16);
        self.directions = if bytes <= budget {
            dirs.iter().map(|u| Some(self.sums_of(u))).collect()
        } else {
            dirs.iter().map(|_| None).collect()
        };
    }

    fn sums_of(&self, u: &[f64]) -> (Direction, Array2<f64>) {
        let d = self.direction(u);
        let qc = linalg::matmul(d.c.view(), self.qmat.view(), self.threads);
        (d, qc)
    }

    /// Prepared direction `k` (`u` itself), kept or computed now.
    fn prepared(&self, k: usize, u: &[f64]) -> std::borrow::Cow<'_, (Direction, Array2<f64>)> {
        match &self.directions[k] {
            Some(kept) => std::borrow::Cow::Borrowed(kept),
            None => std::borrow::Cow::Owned(self.sums_of(u)),
        }
    }

    /// `D_u Hd` along prepared direction `k`, `u` itself.
    pub fn matrix(&self, k: usize, u: &[f64]) -> Array2<f64> {
        let kept = self.prepared(k, u);
        let d = &kept.0;
        let w: Vec<f64> = (0..u.len()).map(|i| self.state.e[i] * (u[i] * self.state.a[i] - d.tail[i])).collect();
        let mut out = linalg::weighted_gram(self.x, &w, self.threads);
        let w2 = self.per_event(2);
        let scaled: Vec<f64> = w2.iter().zip(&d.mean).map(|(w, m)| 2.0 * w * m).collect();
        out += &linalg::weighted_gram(self.state.b.view(), &scaled, self.threads);
        // - sum_j D_j / S_j^2 (c_j b_j' + b_j c_j').
        let mut wb = self.state.b.clone();
        wb.rows_mut().into_iter().zip(&w2).for_each(|(mut r, w)| r *= *w);
        let cross = linalg::matmul(d.c.t(), wb.view(), self.threads);
        out -= &cross;
        out -= &cross.t();
        out
    }

    /// `tr(Q D2_{u,w} Hd)` for each pair `(u, w)` of the prepared directions `dirs`:
    /// `sum_j D_j tr(Q k4_j(x, x, u, w))`, the fourth joint cumulant in moments,
    /// with `x x'` contracted by `Q`.
    pub fn second_traces(&self, dirs: &[Vec<f64>], pairs: &[(usize, usize)]) -> Vec<f64> {
        let m = self.sets.n_events();
        let mean_q = self.means(&self.q);
        let mean_qu: Vec<Vec<f64>> =
            dirs.iter().map(|u| self.means(&u.iter().zip(&self.q).map(|(a, b)| a * b).collect::<Vec<f64>>())).collect();
        // E_j[xu]'Q mu_j = c_j(u)'g_j / S_j^2, once per direction.
        let s2: Vec<f64> = self.state.s.iter().map(|s| s * s).collect();
        let xu_q_mu: Vec<Vec<f64>> = (0..dirs.len())
            .map(|k| row_dots(&self.prepared(k, &dirs[k]).0.c, &self.g).iter().zip(&s2).map(|(v, s)| v / s).collect())
            .collect();
        pairs
            .iter()
            .map(|&(a, b)| {
                let (u, w) = (&dirs[a], &dirs[b]);
                let uw: Vec<f64> = u.iter().zip(w).map(|(x, y)| x * y).collect();
                let quw: Vec<f64> = uw.iter().zip(&self.q).map(|(x, q)| x * q).collect();
                let mean_quw = self.means(&quw);
                let mean_uw = self.means(&uw);
                // sum_j D_j E_j[xuw]'Q mu_j = sum_i e_i u_i w_i x_i'T_i.
                let xuw_q_mu: f64 = (0..uw.len()).map(|i| self.state.e[i] * uw[i] * self.xi[i]).sum();
                // (Two directions at a time, whether kept or computed now.)
                let (pa, pb) = (self.prepared(a, u), self.prepared(b, w));
                let (da, db, qc_b) = (&pa.0, &pb.0, &pb.1);
                let (xa, xb) = (&xu_q_mu[a], &xu_q_mu[b]);
                let cqc = row_dots(&da.c, qc_b);
                let per_event: f64 = (0..m)
                    .map(|j| {
                        let (ub, wb) = (da.mean[j], db.mean[j]);
                        let mu_q_mu = self.bqb[j] / s2[j];
                        let xu_q_xw = cqc[j] / s2[j];
                        let k4 = mean_quw[j]
                            - mean_qu[a][j] * wb
                            - mean_qu[b][j] * ub
                            - mean_q[j] * mean_uw[j]
                            - 2.0 * xu_q_xw
                            + 2.0 * (mean_q[j] * ub * wb + 2.0 * xa[j] * wb + 2.0 * xb[j] * ub + mean_uw[j] * mu_q_mu)
                            - 6.0 * mu_q_mu * ub * wb;
                        self.sets.events[j].count * k4
                    })
                    .sum();
                per_event - 2.0 * xuw_q_mu
            })
            .collect()
    }
}

/// `a_j' b_j` for every row `j` of two matrices of one shape, column by column: the
/// event-by-coefficient sums are column-major, so a row is scattered over the
/// whole matrix (row by row, these products were a tenth of a Cox fit).
fn row_dots(a: &Array2<f64>, b: &Array2<f64>) -> Vec<f64> {
    let mut out = vec![0.0; a.nrows()];
    for (ca, cb) in a.columns().into_iter().zip(b.columns()) {
        out.iter_mut().zip(ca.iter().zip(cb.iter())).for_each(|(o, (x, y))| *o += x * y);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Survival data with ties, censoring and two strata; `x` three columns.
    fn data() -> (Vec<f64>, Vec<f64>, Vec<f64>, Array2<f64>) {
        let n = 60;
        let x = Array2::from_shape_fn((n, 3), |(i, j)| ((i * (j + 3)) as f64 * 0.37).sin() + 0.1 * j as f64);
        let time: Vec<f64> = (0..n).map(|i| ((i * 7 % 23) as f64 / 4.0).floor() + 1.0).collect();
        let status: Vec<f64> = (0..n).map(|i| if i % 4 == 3 { 0.0 } else { 1.0 }).collect();
        let strata: Vec<f64> = (0..n).map(|i| (i % 2) as f64).collect();
        (time, status, strata, x)
    }

    /// The risk sets' column sums on two threads (two halves of the columns, from
    /// 4096 rows) are those of one thread, and the definition's:
    /// `sum_{i in R_j} v_i x_i` over the rows of the event's stratum at or after its
    /// time.
    #[test]
    fn risk_row_sums_match_their_definition_on_one_thread_or_two() {
        let n = 5000;
        let x = Array2::from_shape_fn((n, 5).f(), |(i, j)| ((i * (j + 3)) as f64 * 0.37).sin() + 0.1 * j as f64);
        let time: Vec<f64> = (0..n).map(|i| ((i * 7 % 523) as f64 / 4.0).floor() + 1.0).collect();
        let status: Vec<f64> = (0..n).map(|i| if i % 4 == 3 { 0.0 } else { 1.0 }).collect();
        let strata: Vec<f64> = (0..n).map(|i| (i % 2) as f64).collect();
        let v: Vec<f64> = (0..n).map(|i| 1.0 + (i % 9) as f64 / 9.0).collect();
        let sets = RiskSets::new(&time, &status, &strata);
        let one = sets.risk_row_sums(x.view(), &v, 1);
        assert_eq!(one, sets.risk_row_sums(x.view(), &v, 2));
        for (j, ev) in sets.events.iter().enumerate() {
            // The event's time and stratum, from the first row of its tie block.
            let first = sets.order[ev.end - 1];
            for c in 0..5 {
                let want: f64 = (0..n)
                    .filter(|&i| strata[i] == strata[first] && time[i] >= time[first])
                    .map(|i| v[i] * x[(i, c)])
                    .sum();
                assert!((one[(j, c)] - want).abs() <= 1e-10 * want.abs().max(1.0), "event {j}, column {c}");
            }
        }
    }

    #[test]
    fn gradient_and_hessian_match_finite_differences() {
        let (time, status, strata, x) = data();
        let sets = RiskSets::new(&time, &status, &strata);
        let beta = [0.3, -0.5, 0.2];
        let eta_of = |b: &[f64]| x.dot(&Array1::from(b.to_vec())).to_vec();
        let (ll, grad, hd) = sets.derivatives(x.view(), &eta_of(&beta), 1);
        assert!((ll - sets.loglik(&eta_of(&beta))).abs() < 1e-12);
        let h = 1e-5;
        for k in 0..3 {
            let shifted = |d: f64| {
                let mut b = beta;
                b[k] += d;
                b
            };
            let fd = -(sets.loglik(&eta_of(&shifted(h))) - sets.loglik(&eta_of(&shifted(-h)))) / (2.0 * h);
            assert!((fd - grad[k]).abs() < 1e-6, "gradient {k}: {fd} against {}", grad[k]);
            let (_, gp, _) = sets.derivatives(x.view(), &eta_of(&shifted(h)), 1);
            let (_, gm, _) = sets.derivatives(x.view(), &eta_of(&shifted(-h)), 1);
            for l in 0..3 {
                let fd = (gp[l] - gm[l]) / (2.0 * h);
                assert!((fd - hd[(l, k)]).abs() < 1e-6, "Hessian ({l}, {k}): {fd} against {}", hd[(l, k)]);
            }
        }
    }

    #[test]
    fn curvature_matches_finite_differences_of_the_hessian() {
        let (time, status, strata, x) = data();
        let sets = RiskSets::new(&time, &status, &strata);
        let beta = [0.3, -0.5, 0.2];
        let eta_of = |b: &[f64]| x.dot(&Array1::from(b.to_vec())).to_vec();
        let qmat = Array2::from_shape_fn((3, 3), |(i, j)| if i == j { 1.0 + i as f64 } else { 0.3 });
        let q: Vec<f64> = x.rows().into_iter().map(|r| r.dot(&qmat.dot(&r))).collect();
        let mut curv = Curvature::new(&sets, x.view(), &eta_of(&beta), &qmat, q, 1);
        let dirs = [[1.0, 0.5, -0.2], [-0.3, 0.8, 0.4]];
        let us: Vec<Vec<f64>> = dirs.iter().map(|v| eta_of(v)).collect();
        curv.prepare(&us);
        let hd_at = |t: f64, s: f64| {
            let b: Vec<f64> = (0..3).map(|k| beta[k] + t * dirs[0][k] + s * dirs[1][k]).collect();
            sets.derivatives(x.view(), &eta_of(&b), 1).2
        };
        let h = 1e-4;
        let fd = (&hd_at(h, 0.0) - &hd_at(-h, 0.0)) / (2.0 * h);
        let exact = curv.matrix(0, &us[0]);
        assert!((&fd - &exact).iter().all(|v| v.abs() < 1e-6), "D_u Hd");
        let trace = (&qmat * &exact).sum();
        assert!((trace - curv.trace(&us[0])).abs() < 1e-9, "trace of D_u Hd");
        let fd2 = (&(&hd_at(h, h) - &hd_at(h, -h)) - &(&hd_at(-h, h) - &hd_at(-h, -h))) / (4.0 * h * h);
        let second = curv.second_traces(&us, &[(0, 1), (0, 0)]);
        let fd_trace = (&qmat * &fd2).sum();
        assert!((fd_trace - second[0]).abs() < 1e-5 * (1.0 + fd_trace.abs()), "{fd_trace} against {}", second[0]);
        let fd_uu = (&(&hd_at(h, 0.0) - &(&hd_at(0.0, 0.0) * 2.0)) + &hd_at(-h, 0.0)) / (h * h);
        let fd_trace = (&qmat * &fd_uu).sum();
        assert!((fd_trace - second[1]).abs() < 1e-4 * (1.0 + fd_trace.abs()), "{fd_trace} against {}", second[1]);
        // Directions too large to keep are summed at each use, to the same numbers.
        curv.prepare_within(&us, 0);
        assert!(curv.directions.iter().all(|d| d.is_none()));
        assert_eq!(curv.matrix(0, &us[0]), exact);
        assert_eq!(curv.second_traces(&us, &[(0, 1), (0, 0)]), second);
    }
}
