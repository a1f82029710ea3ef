//! A general smooth model's fit through the warm-start store (design §4), as
//! `warm.rs` does it for the other models: a converged fit of the same model and data
//! (the exact key) is returned as stored; a converged fit of the same model to other
//! data (the model key: cross-validation folds, updated data) starts the smoothing
//! parameter search; otherwise the fit is cold. The search has the cold fit's bounds
//! and tolerance whatever its start, so a seed changes how fast it converges, not what
//! it converges to. General fits write no checkpoints.

use ndarray::{Array2, ShapeBuilder};

use crate::cache::key::{general_keys, ModelIdentity};
use crate::cache::payload::{Bounded, Entry, EntryKind, FinishedFit};
use crate::cache::session::{Source, Start};
use crate::error::{EngineError, Result};
use crate::fit::general::{GeneralFit, GeneralModel, GeneralStart};
use crate::fit::outer::{self, Termination};
use crate::warm::{self, CacheSettings, WarmReport};

/// Fits `model`, through the store when `cache` is given.
pub fn fit_general_warm(
    model: &GeneralModel<'_>,
    identity: &ModelIdentity,
    cache: Option<&CacheSettings>,
    monitor: &mut outer::Monitor<'_>,
) -> Result<(GeneralFit, WarmReport)> {
    let mut report = WarmReport::cold();
    let (p, m) = (model.x.ncols(), model.fixed.len());
    // An entry holds three p x p matrices (Vp, Ve, Vc), vectors of p and m, and the
    // term tests' mixture weights (at most p), with room for the encoding's framing.
    let max_bytes = (8 * (3 * p * p + 16 * p + 8 * m) + 65536) as u64;
    let Some(cache) = cache else {
        return Ok((model.fit(monitor)?, report));
    };
    let Some((mut session, start)) = warm::open_session(cache, general_keys(model, identity), max_bytes, &mut report)
    else {
        return Ok((model.fit(monitor)?, report));
    };
    // What others could have written is not served (general fits have no verified
    // hit): the fit runs cold, and says why.
    if !session.trusted() {
        report.notices.push(format!(
            "the store at {} can be written by other users, so a general fit does not use what it holds (it runs cold); use a private directory for the store to avoid this",
            cache.dir.display()
        ));
    }
    let start = if session.trusted() && !cache.verify { start } else { Start::Cold };
    let from = match start {
        Start::Exact(entry) => {
            if let Some(fit) = restored(model, &entry) {
                report.source = Source::Exact;
                report.problem = session.finish();
                return Ok((fit, report));
            }
            // A hit that does not fit the model is not trusted.
            session.discard_exact();
            None
        }
        Start::Seed(entry) | Start::Resume(entry) if entry.rho.0.len() == m => {
            report.source = Source::Seeded;
            report.seed_iterations = Some(entry.iteration);
            // A checkpoint's coefficients are of this very design; a seed's are of a
            // basis built on other data (other knots, another eigenbasis for tp),
            // where they are no start: the inner fit from them failed outright (a
            // penalized Hessian not positive definite) where the cold fit did not.
            let beta = (entry.kind == EntryKind::Checkpoint && entry.coefficients.0.len() == p)
                .then(|| entry.coefficients.0.clone());
            Some(GeneralStart { rho: entry.rho.0.clone(), beta })
        }
        _ => None,
    };
    let fit = match model.fit_from(monitor, from.as_ref()) {
        // A start from another fit where this data's fit fails (twlss folds seeded by
        // the full data's smoothing parameters: a penalized Hessian not positive
        // definite at the end) is no start: the cold fit, which does not fail there.
        Err(e) if from.is_some() && !matches!(e, EngineError::Interrupted) => {
            report.source = Source::Cold;
            report.seed_iterations = None;
            model.fit_from(monitor, None)?
        }
        other => other?,
    };
    if fit.termination.is_converged() {
        session.finalize(final_entry(model, &fit));
    }
    report.problem = session.finish();
    Ok((fit, report))
}

/// The store's record of a converged general fit: its log smoothing parameters and
/// coefficients, and what the fit reports that costs more than a pass over the data
/// to form again (the log likelihood is kept as `-2 l` in `deviance`).
fn final_entry(model: &GeneralModel<'_>, fit: &GeneralFit) -> Entry {
    let mut entry = Entry::new(EntryKind::Final, model.y.len(), fit.rho.clone(), fit.criterion, fit.iterations);
    entry.coefficients = Bounded(fit.coefficients.clone());
    entry.converged = fit.inner_converged;
    entry.finished = Some(FinishedFit {
        vp: Bounded(warm::column_major(&fit.vp)),
        ve: Bounded(warm::column_major(&fit.ve)),
        edf: Bounded(fit.edf.clone()),
        edf1: Bounded(fit.edf1.clone()),
        gradient: Bounded(fit.gradient.clone()),
        hessian_eigenvalues: Bounded(Vec::new()),
        deviance: -2.0 * fit.ll,
        null_deviance: f64::NAN,
        null_space_dim: 0,
        termination: fit.termination.code(),
        term_tests: warm::stored_tests(&fit.term_tests),
        smooths: Default::default(),
        vc: Bounded(warm::column_major(&fit.vc)),
        edf2: Bounded(fit.edf2.clone()),
    });
    entry
}

/// The fit an exact hit holds: as stored, with the linear predictors and the
/// family's parameters formed from the coefficients as the fit formed them; `None`
/// when the entry is not a complete fit of this model.
fn restored(model: &GeneralModel<'_>, entry: &Entry) -> Option<GeneralFit> {
    let f = entry.finished.as_ref()?;
    let (p, m) = (model.x.ncols(), model.fixed.len());
    let beta = &entry.coefficients.0;
    let matrix =
        |v: &Bounded<f64>| (v.0.len() == p * p).then(|| Array2::from_shape_vec((p, p).f(), v.0.clone()).ok()).flatten();
    let sized = [f.edf.0.len(), f.edf1.0.len(), f.edf2.0.len()].iter().all(|&l| l == p);
    if beta.len() != p || entry.rho.0.len() != m || !sized || !beta.iter().all(|v| v.is_finite()) {
        return None;
    }
    let termination = Termination::from_code(f.termination)?;
    let term_tests = warm::term_tests(&f.term_tests).filter(|t| t.len() == model.terms.len())?;
    let eta = model.eta(beta);
    let parameters = model.parameters_of(&eta);
    Some(GeneralFit {
        coefficients: beta.clone(),
        vp: matrix(&f.vp)?,
        ve: matrix(&f.ve)?,
        edf: f.edf.0.clone(),
        edf1: f.edf1.0.clone(),
        vc: matrix(&f.vc)?,
        edf2: f.edf2.0.clone(),
        ll: -f.deviance / 2.0,
        criterion: entry.criterion,
        rho: entry.rho.0.clone(),
        sp: entry.rho.0.iter().map(|r| r.exp()).collect(),
        iterations: entry.iteration as usize,
        termination,
        inner_converged: entry.converged,
        gradient: f.gradient.0.clone(),
        eta,
        parameters,
        term_tests,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cache::store::StoreLimits;
    use crate::family::general::GeneralFamily;
    use crate::fit::general::GeneralSettings;
    use crate::fit::general::Likelihood;
    use crate::fit::penalty::{Penalty, PenaltySet};
    use std::time::Duration;

    /// A small Gaussian location-scale model (as `general_laml`'s tests) on `y`.
    fn with_model<T>(y: &[f64], mut check: impl FnMut(&GeneralModel<'_>) -> T) -> T {
        let n = y.len();
        let mut xm = Array2::zeros((n, 10));
        for i in 0..n {
            let v = (i as f64 + 0.5) / n as f64;
            for j in 0..5 {
                let col = |v: f64| if j == 0 { 1.0 } else { (v * (j as f64 + 1.0) * 2.1).sin() };
                xm[(i, j)] = col(v);
                xm[(i, 5 + j)] = col(1.0 - v);
            }
        }
        let ridge = Array2::from_shape_fn((4, 4), |(i, j)| if i == j { 1.0 } else { 0.2 });
        let pens = vec![Penalty { start: 1, s: ridge.clone() }, Penalty { start: 6, s: ridge }];
        let links = vec!["identity".to_string(), "logb".to_string()];
        let model = GeneralModel {
            x: xm.view(),
            lp: vec![vec![0..5], vec![5..10]],
            offset: vec![Vec::new(), Vec::new()],
            y,
            likelihood: Likelihood::Rows(GeneralFamily::from_r("gaulss", &links, &[0.01]).expect("gaulss")),
            penalties: PenaltySet::new(10, pens),
            links: vec![0, 1],
            fixed: vec![None, None],
            terms: Vec::new(),
            settings: GeneralSettings { tol: 1e-8, max_iter: 50, max_step: 5.0, threads: 1 },
        };
        check(&model)
    }

    fn response(n: usize, shift: f64) -> Vec<f64> {
        (0..n)
            .map(|i| {
                let v = (i as f64 + 0.5) / n as f64;
                2.0 + v.sin() + shift * v + 0.3 * (1.0 + v) * ((i * 37 % 11) as f64 - 5.0) / 3.0
            })
            .collect()
    }

    /// Cold, then an exact hit identical to it, then other data seeded to the same
    /// optimum as a cold fit of it.
    #[test]
    fn exact_hits_are_the_fit_and_seeds_reach_the_cold_optimum() {
        let dir = tempfile::tempdir().unwrap();
        let limits = StoreLimits { max_bytes: u64::MAX, max_age: Duration::from_secs(1 << 30) };
        let cache =
            CacheSettings { dir: dir.path().to_path_buf(), shared: false, limits, refresh: false, verify: false };
        let id = ModelIdentity { formula: "toy".into(), family: "gaulss".into(), ..Default::default() };
        let mut monitor = |_: usize, _: &[f64], _: &outer::Eval| Ok(());
        let y = response(150, 0.0);
        let (cold, report) = with_model(&y, |m| fit_general_warm(m, &id, Some(&cache), &mut monitor).unwrap());
        assert_eq!(report.source, Source::Cold);
        let (hit, report) = with_model(&y, |m| fit_general_warm(m, &id, Some(&cache), &mut monitor).unwrap());
        assert_eq!(report.source, Source::Exact);
        assert_eq!(hit.coefficients, cold.coefficients);
        assert_eq!(
            (hit.vp.clone(), hit.vc.clone(), hit.edf2.clone()),
            (cold.vp.clone(), cold.vc.clone(), cold.edf2.clone())
        );
        assert_eq!(
            (hit.ll, hit.criterion, hit.sp.clone(), hit.eta.clone()),
            (cold.ll, cold.criterion, cold.sp.clone(), cold.eta.clone())
        );

        let other = response(150, 0.4);
        let (seeded, report) = with_model(&other, |m| fit_general_warm(m, &id, Some(&cache), &mut monitor).unwrap());
        assert_eq!(report.source, Source::Seeded);
        let unseeded = with_model(&other, |m| m.fit(&mut monitor).unwrap());
        assert!(
            (seeded.criterion / unseeded.criterion - 1.0).abs() < 1e-9,
            "{} {}",
            seeded.criterion,
            unseeded.criterion
        );
        let scale = unseeded.coefficients.iter().fold(0.0_f64, |a, v| a.max(v.abs()));
        let apart =
            seeded.coefficients.iter().zip(&unseeded.coefficients).fold(0.0_f64, |a, (s, u)| a.max((s - u).abs()));
        assert!(apart < 1e-5 * scale, "{apart}");
    }
}
