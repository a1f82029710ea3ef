//! A fit through the warm-start store (design §4): an exact finalized hit is returned
//! without iterating; a checkpoint of the same problem is resumed; a fit of the same
//! model to other data seeds the start; otherwise the fit is cold. Whatever the start,
//! the optimizer solves the same problem with the same bounds and tolerance, so a warm
//! start changes how fast a fit converges, never what it converges to.

use std::path::PathBuf;

use ndarray::{Array2, ShapeBuilder};

use crate::basis::{self, Smooth, State};
use crate::cache::key::{model_keys, ModelIdentity, ModelKeys};
use crate::cache::payload::{Bounded, Entry, EntryKind, FinishedFit, StoredSmooths, StoredTests};
use crate::cache::session::{Session, Source, Start};
use crate::cache::store::{StoreLimits, WarmStartStore};
use crate::error::{EngineError, Result};
use crate::fit::outer::Termination;
use crate::fit::term_tests::TermTest;
use crate::fit::{self, Design, FitResult, Iterate, ModelSpec};

/// Where the store is and how this fit uses it.
#[derive(Debug, Clone)]
pub struct CacheSettings {
    pub dir: PathBuf,
    /// Created for sharing with other users (group/world permissions per the umask)
    /// rather than owner-only.
    pub shared: bool,
    pub limits: StoreLimits,
    /// Fit cold and overwrite what the store holds for this problem.
    pub refresh: bool,
    /// Re-check an exact hit with one inner fit before trusting it.
    pub verify: bool,
}

/// How the fit used the store.
#[derive(Debug, Clone)]
pub struct WarmReport {
    pub source: Source,
    /// Hex of the exact key (`None` when the store was not used).
    pub key: Option<String>,
    /// Why the store could not be used or written, if it could not.
    pub problem: Option<String>,
    /// What the store held that was not used, or not trusted, and why.
    pub notices: Vec<String>,
    /// For an exact hit under `verify`: whether it passed. A hit that fails is
    /// discarded and the fit runs cold.
    pub verified: Option<bool>,
    /// For a seeded fit: the outer iterations the seed's own fit took (from its start,
    /// usually cold), against which this fit's count says what the seed saved.
    pub seed_iterations: Option<u64>,
    /// For a seeded fit with a family search: the values of the family's parameters
    /// the seed's own fit tried.
    pub seed_family_trials: Option<u64>,
}

impl WarmReport {
    /// The report of a fit that has not (yet) used the store: a cold start.
    pub fn cold() -> WarmReport {
        WarmReport {
            source: Source::Cold,
            key: None,
            problem: None,
            notices: Vec::new(),
            verified: None,
            seed_iterations: None,
            seed_family_trials: None,
        }
    }
}

/// The store's session for a fit with `keys` and where it starts (cold under
/// `refresh`, whose exact entries are forgotten), with the exact key and the store's
/// notices in `report`; `None`, with the reason in `report`, when the store cannot be
/// used (the fit then runs cold).
pub(crate) fn open_session(
    cache: &CacheSettings,
    keys: ModelKeys,
    max_entry_bytes: u64,
    report: &mut WarmReport,
) -> Option<(Session, Start)> {
    report.key = Some(keys.exact.to_hex());
    let store = match WarmStartStore::open(&cache.dir, cache.shared, cache.limits) {
        Ok(store) => store,
        Err(e) => {
            report.problem = Some(format!("the store at {} cannot be used: {e}", cache.dir.display()));
            return None;
        }
    };
    let mut session = Session::new(store, keys, max_entry_bytes);
    let start = if cache.refresh {
        session.discard_exact();
        Start::Cold
    } else {
        session.start()
    };
    report.notices = session.take_notices();
    Some((session, start))
}

/// Fits `spec`, through the store when `cache` is given. `interrupted` is polled after
/// every outer iterate.
pub fn fit_warm<'a>(
    spec: &'a ModelSpec<'_>,
    identity: &ModelIdentity,
    cache: Option<&CacheSettings>,
    interrupted: &mut dyn FnMut() -> bool,
) -> Result<(Design<'a>, FitResult, WarmReport)> {
    // Knots still to be drawn (`SmoothSpec::knots_pending`) allow only an exact hit:
    // every other path builds the design, which refuses them (`fit::design`).
    let mut report = WarmReport::cold();
    let Some(cache) = cache else {
        if let Some(given) = &spec.start {
            let prepared = fit::prepare(spec, interrupted)?;
            let from = prepared.given_start(given)?;
            report.source = Source::Given;
            let result = prepared.optimize(spec, Some(&from), &mut |_: &Iterate<'_>| check(interrupted))?;
            check(interrupted)?;
            return Ok((prepared.design, result, report));
        }
        let (design, result) = cold_fit(spec, interrupted)?;
        return Ok((design, result, report));
    };
    let Some((session, start)) = open_session(cache, model_keys(spec, identity), spec.max_entry_bytes(), &mut report)
    else {
        let (design, result) = cold_fit(spec, interrupted)?;
        return Ok((design, result, report));
    };
    // What others could have written is checked before it is served.
    let verify = cache.verify || !session.trusted();
    if !session.trusted() {
        report.notices.push(format!(
            "the store at {} can be written by other users, so an exact hit it serves is verified first (one inner fit) and its checkpoints and seeds are not used; use a private directory for the store to avoid this",
            cache.dir.display()
        ));
    }

    if let Start::Exact(entry) = &start {
        if let Some(stored) = stored_fit(entry, fit::n_family_parameters(spec)) {
            if !verify {
                let smooths = entry.finished.as_ref().and_then(|f| stored_smooths(spec, &f.smooths));
                match fit::rebuild(spec, stored, smooths) {
                    Ok((design, result)) => {
                        report.source = Source::Exact;
                        report.problem = session.finish();
                        return Ok((design, result, report));
                    }
                    // Not a hit that does not fit: the bases are to be built first.
                    Err(EngineError::KnotsPending) => return Err(EngineError::KnotsPending),
                    Err(_) => {}
                }
            } else {
                let prepared = fit::prepare(spec, interrupted)?;
                let passed = prepared.verify(spec, &stored);
                report.verified = Some(passed);
                if passed {
                    if let Ok(result) = fit::restore(spec, &prepared.design, stored) {
                        report.source = Source::Exact;
                        report.problem = session.finish();
                        return Ok((prepared.design, result, report));
                    }
                }
                session.discard_exact();
                return optimize(spec, prepared, session, None, 0, report, interrupted);
            }
        }
        // A hit that does not fit the model is not trusted.
        session.discard_exact();
    }

    let mut prepared = fit::prepare(spec, interrupted)?;
    // What others could have written is no start: only a verified exact hit is used.
    let start = if session.trusted() { start } else { Start::Cold };
    let (source, from, done) = match start {
        // A checkpoint is an iterate of this very problem: the optimization continues
        // from it, inside the box a cold search keeps to (a checkpoint is a start, not
        // a result: one on the criterion's plateau is checked once the search ends).
        Start::Resume(e) => match prepared.resume_start(&e.rho.0) {
            Some(rho) => (Source::Resumed, Some(rho), e.iteration),
            None => (Source::Cold, None, 0),
        },
        // The caller's start comes before another fit's.
        Start::Seed(_) | Start::Cold | Start::Exact(_) if spec.start.is_some() => {
            let given = spec.start.as_ref().expect("checked");
            (Source::Given, Some(prepared.given_start(given)?), 0)
        }
        Start::Seed(e) => match prepared.seed_start(&e.rho.0) {
            Some(rho) => {
                if prepared.uses_seed_predictor() {
                    prepared.seed_eta = e
                        .finished
                        .as_ref()
                        .and_then(|f| stored_smooths(spec, &f.smooths))
                        .and_then(|smooths| fit::linear_predictor_of(spec, smooths, &e.coefficients.0));
                }
                report.seed_iterations = Some(e.iteration);
                report.seed_family_trials = (e.family_trials > 0).then_some(e.family_trials);
                (Source::Seeded, Some(rho), 0)
            }
            // A seed of another shape is no start at all.
            None => (Source::Cold, None, 0),
        },
        Start::Cold | Start::Exact(_) => (Source::Cold, None, 0),
    };
    // Any start but the cold one may sit on a plateau of the criterion that a cold
    // search would not stop on (a seed whose smooth was shrunk to its null space,
    // where this data's is not): the search checks, once it ends, that it did not.
    prepared.check_plateau = source != Source::Cold;
    prepared.seeded = source == Source::Seeded;
    report.source = source;
    optimize(spec, prepared, session, from, done, report, interrupted)
}

fn store_smooths(design: &Design<'_>) -> StoredSmooths {
    let mut out = StoredSmooths::default();
    for sm in &design.smooths {
        let class = basis::CLASSES.iter().position(|c| *c == sm.basis.class()).expect("a listed class");
        out.classes.0.push(class as u8);
        let state = sm.state();
        out.field_counts.0.push(state.len() as f64);
        for (name, values) in state {
            let index = basis::STATE_FIELDS.iter().position(|f| *f == name).expect("a listed field");
            out.field_names.0.push(index as u8);
            out.field_lengths.0.push(values.len() as f64);
            out.values.0.extend(values);
        }
    }
    out
}

/// The smooth terms of a stored fit; `None` when the record is inconsistent.
fn stored_smooths(spec: &ModelSpec<'_>, s: &StoredSmooths) -> Option<Vec<Smooth>> {
    let m = s.classes.0.len();
    if m != spec.smooths.len() || s.field_counts.0.len() != m || s.field_names.0.len() != s.field_lengths.0.len() {
        return None;
    }
    let count = |v: f64| (v >= 0.0 && v.fract() == 0.0).then_some(v as usize);
    let (mut field, mut at) = (0, 0);
    let mut out = Vec::with_capacity(m);
    for (i, sm_spec) in spec.smooths.iter().enumerate() {
        let mut state = State::new();
        for _ in 0..count(s.field_counts.0[i])? {
            let name = basis::STATE_FIELDS.get(*s.field_names.0.get(field)? as usize)?;
            let len = count(*s.field_lengths.0.get(field)?)?;
            state.insert(name.to_string(), s.values.0.get(at..at + len)?.to_vec());
            field += 1;
            at += len;
        }
        let class = basis::CLASSES.get(s.classes.0[i] as usize)?;
        out.push(Smooth::from_state(&sm_spec.label, class, &state).ok()?);
    }
    (field == s.field_names.0.len() && at == s.values.0.len()).then_some(out)
}

/// The outer optimization with checkpoints, then the final entry.
fn optimize<'a>(
    spec: &'a ModelSpec<'_>,
    prepared: fit::Prepared<'a>,
    mut session: Session,
    from: Option<Vec<f64>>,
    done: u64,
    mut report: WarmReport,
    interrupted: &mut dyn FnMut() -> bool,
) -> Result<(Design<'a>, FitResult, WarmReport)> {
    let rows = spec.y.len();
    let mut progress = |it: &Iterate<'_>| -> Result<()> {
        let mut entry =
            Entry::new(EntryKind::Checkpoint, rows, it.rho.to_vec(), it.criterion, done as usize + it.iteration);
        entry.coefficients = Bounded(it.coefficients.to_vec());
        session.checkpoint(entry);
        check(interrupted)
    };
    // On an error (an interrupt) the session is dropped, which waits for its last
    // checkpoint to reach the disk.
    let result = prepared.optimize(spec, from.as_deref(), &mut progress)?;
    if result.termination.is_converged() {
        session.finalize(final_entry(&result, &prepared.design, rows, done));
    }
    report.problem = session.finish();
    // The fit's last stretch (its summaries) has no poll of its own: a time limit
    // passed there is still R's to raise (the result is stored either way).
    check(interrupted)?;
    Ok((prepared.design, result, report))
}

/// A fit without the store.
fn cold_fit<'a>(spec: &'a ModelSpec<'_>, interrupted: &mut dyn FnMut() -> bool) -> Result<(Design<'a>, FitResult)> {
    let prepared = fit::prepare(spec, interrupted)?;
    let result = prepared.optimize(spec, None, &mut |_: &Iterate<'_>| check(interrupted))?;
    check(interrupted)?;
    Ok((prepared.design, result))
}

fn check(interrupted: &mut dyn FnMut() -> bool) -> Result<()> {
    if interrupted() {
        Err(EngineError::Interrupted)
    } else {
        Ok(())
    }
}

fn final_entry(r: &FitResult, design: &Design<'_>, rows: usize, done: u64) -> Entry {
    let rho = r.sp.iter().map(|l| l.ln()).chain(r.family_parameters.iter().copied()).collect();
    let mut entry = Entry::new(EntryKind::Final, rows, rho, r.criterion, done as usize + r.iterations);
    entry.coefficients = Bounded(r.coefficients.clone());
    entry.family_trials = r.family_trials as u64;
    entry.scale = r.scale;
    entry.converged = true;
    entry.finished = Some(FinishedFit {
        vp: Bounded(column_major(&r.vp)),
        ve: Bounded(column_major(&r.ve)),
        edf: Bounded(r.edf.clone()),
        edf1: Bounded(r.edf1.clone()),
        gradient: Bounded(r.gradient.clone()),
        hessian_eigenvalues: Bounded(r.hessian_eigenvalues.clone()),
        deviance: r.deviance,
        null_deviance: r.null_deviance,
        null_space_dim: r.null_space_dim as u64,
        termination: r.termination.code(),
        term_tests: stored_tests(&r.term_tests),
        smooths: store_smooths(design),
        vc: Bounded(r.vc.as_ref().map(column_major).unwrap_or_default()),
        edf2: Bounded(r.edf2.clone().unwrap_or_default()),
    });
    entry
}

/// The fit a final entry holds, without fitted values; `None` when the entry is not
/// a complete, consistent final fit. The entry keeps the log smoothing parameters and
/// then the `extra` family parameters (as searched) in one vector: the family's are
/// taken as stored, so an exact hit reports them to the bit.
fn stored_fit(entry: &Entry, extra: usize) -> Option<FitResult> {
    let f = entry.finished.as_ref()?;
    let p = entry.coefficients.0.len();
    let m = entry.rho.0.len().checked_sub(extra)?;
    let matrix =
        |v: &Bounded<f64>| (v.0.len() == p * p).then(|| Array2::from_shape_vec((p, p).f(), v.0.clone()).ok()).flatten();
    let finite = |v: &[f64]| v.iter().all(|x| x.is_finite());
    if !(entry.converged && finite(&entry.coefficients.0) && finite(&entry.rho.0) && entry.scale.is_finite()) {
        return None;
    }
    Some(FitResult {
        coefficients: entry.coefficients.0.clone(),
        linear_predictor: Vec::new(),
        edf: f.edf.0.clone(),
        edf1: f.edf1.0.clone(),
        vp: matrix(&f.vp)?,
        ve: matrix(&f.ve)?,
        scale: entry.scale,
        criterion: entry.criterion,
        sp: entry.rho.0[..m].iter().map(|r| r.exp()).collect(),
        termination: Termination::from_code(f.termination)?,
        iterations: 0,
        family_trials: 0,
        gradient: f.gradient.0.clone(),
        hessian_eigenvalues: f.hessian_eigenvalues.0.clone(),
        deviance: f.deviance,
        null_deviance: f.null_deviance,
        null_space_dim: f.null_space_dim as usize,
        term_tests: term_tests(&f.term_tests)?,
        family_parameters: entry.rho.0[m..].to_vec(),
        inner_converged: true,
        // Empty when the fit has none (GCV, or nothing estimated).
        vc: if f.vc.0.is_empty() { None } else { Some(matrix(&f.vc)?) },
        edf2: (!f.edf2.0.is_empty()).then(|| f.edf2.0.clone()),
    })
}

pub(crate) fn column_major(a: &Array2<f64>) -> Vec<f64> {
    a.t().iter().copied().collect()
}

pub(crate) fn stored_tests(tests: &[TermTest]) -> StoredTests {
    let mut out = StoredTests::default();
    for t in tests {
        let (random, stat, stat1, rank, rank1, weights) = match t {
            TermTest::Wald { stat, stat1, rank, rank1, weights } => (0, *stat, *stat1, *rank, *rank1, weights),
            TermTest::RandomEffect { stat, weights, rank } => (1, *stat, *stat, *rank, *rank, weights),
        };
        out.random_effect.0.push(random);
        out.stat.0.push(stat);
        out.stat1.0.push(stat1);
        out.rank.0.push(rank);
        out.rank1.0.push(rank1);
        out.weight_counts.0.push(weights.len() as f64);
        out.weights.0.extend(weights);
    }
    out
}

/// The tests of a stored fit; `None` when the fields disagree in length.
pub(crate) fn term_tests(s: &StoredTests) -> Option<Vec<TermTest>> {
    let m = s.random_effect.0.len();
    let lengths = [s.stat.0.len(), s.stat1.0.len(), s.rank.0.len(), s.rank1.0.len(), s.weight_counts.0.len()];
    if lengths.iter().any(|&l| l != m) {
        return None;
    }
    let mut weights = s.weights.0.as_slice();
    let mut out = Vec::with_capacity(m);
    for i in 0..m {
        let count = s.weight_counts.0[i];
        if !(count >= 0.0 && count <= weights.len() as f64 && count.fract() == 0.0) {
            return None;
        }
        let (mine, rest) = weights.split_at(count as usize);
        weights = rest;
        out.push(if s.random_effect.0[i] == 1 {
            TermTest::RandomEffect { stat: s.stat.0[i], weights: mine.to_vec(), rank: s.rank.0[i] }
        } else {
            TermTest::Wald {
                stat: s.stat.0[i],
                stat1: s.stat1.0[i],
                rank: s.rank.0[i],
                rank1: s.rank1.0[i],
                weights: mine.to_vec(),
            }
        });
    }
    weights.is_empty().then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::basis::SmoothSpec;
    use std::time::Duration;

    /// A signal in `x` and none in `z`, 400 rows.
    fn spec() -> ModelSpec<'static> {
        ModelSpec::two_smooths_for_tests(400, 7, |x, _, u| (6.0 * x).sin() + 0.3 * (u - 0.5) * 3.46)
    }

    fn identity() -> ModelIdentity {
        ModelIdentity {
            formula: "y ~ s(x) + s(z)".into(),
            family: "gaussian".into(),
            link: "identity".into(),
            parametric_names: vec!["(Intercept)".into()],
        }
    }

    fn settings(dir: &std::path::Path, verify: bool) -> CacheSettings {
        let limits = StoreLimits { max_bytes: u64::MAX, max_age: Duration::from_secs(1 << 30) };
        CacheSettings { dir: dir.to_path_buf(), shared: false, limits, refresh: false, verify }
    }

    fn max_rel_diff(a: &[f64], b: &[f64]) -> f64 {
        let scale = b.iter().fold(0.0_f64, |m, v| m.max(v.abs()));
        a.iter().zip(b).fold(0.0_f64, |m, (x, y)| m.max((x - y).abs())) / scale
    }

    /// Issue 15.3: a crafted checkpoint with every log smoothing parameter at 40 (or
    /// 1e300) resumed on the criterion's plateau, stopped there, and was filed as the
    /// final fit (edf 3 where the cold fit has 12.9).
    #[test]
    fn crafted_checkpoint_on_the_plateau_gives_the_cold_answer() {
        let spec = spec();
        let (_, cold, _) = fit_warm(&spec, &identity(), None, &mut || false).unwrap();
        for planted in [40.0, 1e300, -40.0] {
            let dir = tempfile::tempdir().unwrap();
            let keys = model_keys(&spec, &identity());
            let store = WarmStartStore::open(dir.path(), false, settings(dir.path(), false).limits).unwrap();
            let entry = Entry::new(EntryKind::Checkpoint, 400, vec![planted; 2], -1e10, 3);
            store.write(&keys.exact, "ckpt-planted.wgs", &entry).unwrap();
            let (_, warm, report) =
                fit_warm(&spec, &identity(), Some(&settings(dir.path(), false)), &mut || false).unwrap();
            assert_eq!(report.source, Source::Resumed);
            let diff = max_rel_diff(&warm.linear_predictor, &cold.linear_predictor);
            assert!(diff < 1e-6, "planted {planted}: fitted values {diff:e} from the cold fit's");
            // And what it filed is served as the cold answer.
            let (_, exact, report) =
                fit_warm(&spec, &identity(), Some(&settings(dir.path(), false)), &mut || false).unwrap();
            assert_eq!(report.source, Source::Exact);
            assert!(max_rel_diff(&exact.linear_predictor, &cold.linear_predictor) < 1e-6);
        }
    }

    /// Issue 15.3: `verify_warm` accepted a stored fit at a stationary point of the
    /// plateau; it must prove the point is where a cold search ends.
    #[test]
    fn verify_refuses_a_final_fit_on_the_plateau() {
        let spec = spec();
        let (_, cold, _) = fit_warm(&spec, &identity(), None, &mut || false).unwrap();
        // The fit with the signal's smoothing parameter fixed up the plateau (inside
        // the box a cold search keeps to), filed as this model's final entry.
        let fixed = ModelSpec { sp: vec![Some(cold.sp[0] * 14f64.exp()), Some(cold.sp[1])], ..spec.clone() };
        let (design, plateau, _) = fit_warm(&fixed, &identity(), None, &mut || false).unwrap();
        assert!(max_rel_diff(&plateau.linear_predictor, &cold.linear_predictor) > 0.05);
        let dir = tempfile::tempdir().unwrap();
        let keys = model_keys(&spec, &identity());
        let store = WarmStartStore::open(dir.path(), false, settings(dir.path(), true).limits).unwrap();
        let mut entry = final_entry(&plateau, &design, 400, 0);
        entry.converged = true;
        store.write(&keys.exact, "final.wgs", &entry).unwrap();
        let (_, verified, report) =
            fit_warm(&spec, &identity(), Some(&settings(dir.path(), true)), &mut || false).unwrap();
        assert_eq!(report.verified, Some(false));
        assert!(max_rel_diff(&verified.linear_predictor, &cold.linear_predictor) < 1e-6);
        // The cold fit's own final entry passes.
        let (_, again, report) =
            fit_warm(&spec, &identity(), Some(&settings(dir.path(), true)), &mut || false).unwrap();
        assert_eq!((report.source, report.verified), (Source::Exact, Some(true)));
        assert!(max_rel_diff(&again.linear_predictor, &cold.linear_predictor) < 1e-6);
    }

    /// Issue 21: a seed keeps its coefficients and bases, from which a fit of other
    /// data forms the seed's linear predictor at its own rows. With a family search
    /// (nb()'s theta) performance iteration and the first trial start there; the
    /// seeded fit still reaches the cold fit's answer, in fewer trials.
    #[test]
    fn a_seed_gives_its_linear_predictor_and_the_cold_answer() {
        let counts = |seed: u64, n: usize| -> ModelSpec<'static> {
            let mut next = fit::uniform_stream(seed);
            let x: Vec<f64> = (0..n).map(|_| next()).collect();
            let z: Vec<f64> = (0..n).map(|_| next()).collect();
            // Overdispersed counts: a Poisson draw (by inversion) at a gamma-ish mean.
            let y: Vec<f64> = x
                .iter()
                .map(|x| {
                    let mean = (1.0 + (6.0 * x).sin()).exp() * (0.25 + 1.5 * next());
                    let (u, mut k, mut p) = (next(), 0.0, (-mean).exp());
                    let mut cdf = p;
                    while u > cdf && k < 200.0 {
                        k += 1.0;
                        p *= mean / k;
                        cdf += p;
                    }
                    k
                })
                .collect();
            let smooths = vec![
                SmoothSpec::for_tests("s(x)", "cr", 10, vec![x]),
                SmoothSpec::for_tests("s(z)", "cr", 10, vec![z]),
            ];
            let mut spec = ModelSpec::for_tests(y, ndarray::Array2::ones((n, 1)), smooths);
            spec.family = crate::family::Family::from_r("negbin", "log", "", &[1.0]).unwrap();
            spec.estimate_parameter = true;
            spec
        };
        // Above the rows from which a generalized fit starts with performance iteration.
        let (first, other) = (counts(11, 12_000), counts(12, 12_000));
        let dir = tempfile::tempdir().unwrap();
        let plain = settings(dir.path(), false);
        let (design, fitted, report) = fit_warm(&first, &identity(), Some(&plain), &mut || false).unwrap();
        assert_eq!(report.source, Source::Cold);
        // The seed it files reproduces its linear predictor from its own bases.
        let seed = final_entry(&fitted, &design, 12_000, 0).seed();
        assert_eq!(seed.kind, EntryKind::Seed);
        let smooths = stored_smooths(&first, &seed.finished.as_ref().unwrap().smooths).unwrap();
        let eta = fit::linear_predictor_of(&first, smooths, &seed.coefficients.0).unwrap();
        assert!(max_rel_diff(&eta, &fitted.linear_predictor) < 1e-12);
        // Other data: seeded, the cold answer, no more trials than cold.
        let (_, seeded, report) = fit_warm(&other, &identity(), Some(&plain), &mut || false).unwrap();
        assert_eq!(report.source, Source::Seeded);
        let (_, cold, _) = fit_warm(&other, &identity(), None, &mut || false).unwrap();
        assert!(max_rel_diff(&seeded.linear_predictor, &cold.linear_predictor) < 1e-6);
        assert!((seeded.family_parameters[0] - cold.family_parameters[0]).abs() < 1e-4);
        assert!(seeded.family_trials <= cold.family_trials, "{} > {}", seeded.family_trials, cold.family_trials);
    }

    /// The warm-start policy: which source each state of the store gives, and that
    /// every source gives the cold answer.
    #[test]
    fn each_store_state_gives_its_source_and_the_cold_answer() {
        let spec = spec();
        let (_, cold, _) = fit_warm(&spec, &identity(), None, &mut || false).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let fit = |settings: &CacheSettings| fit_warm(&spec, &identity(), Some(settings), &mut || false).unwrap();
        let plain = settings(dir.path(), false);
        let close = |r: &FitResult| max_rel_diff(&r.linear_predictor, &cold.linear_predictor) < 1e-8;
        // Empty store: cold; then the same call: exact (no iterations).
        let (_, first, report) = fit(&plain);
        assert_eq!(report.source, Source::Cold);
        assert!(close(&first));
        let (_, hit, report) = fit(&plain);
        assert_eq!((report.source, hit.iterations), (Source::Exact, 0));
        assert!(close(&hit));
        // Refresh: cold again, whatever is stored.
        let (_, refreshed, report) = fit(&CacheSettings { refresh: true, ..plain.clone() });
        assert_eq!(report.source, Source::Cold);
        assert!(close(&refreshed));
        // Other data of the same model: seeded from the model key.
        let mut other = spec.clone();
        other.y = std::borrow::Cow::Owned(spec.y.iter().map(|v| v * 1.01).collect());
        let (_, _, report) = fit_warm(&other, &identity(), Some(&plain), &mut || false).unwrap();
        assert_eq!(report.source, Source::Seeded);
        assert_eq!(report.seed_iterations, Some(first.iterations as u64), "what the seed's own fit took");
        // A checkpoint alone (a search stopped after 3 iterations): resumed, along the
        // cold search's path.
        let keys = model_keys(&spec, &identity());
        let store = WarmStartStore::open(dir.path(), false, plain.limits).unwrap();
        store.remove_where(&keys.exact, |_| true);
        let stopped = ModelSpec { control: fit::Control { max_iter: 3, ..spec.control.clone() }, ..spec.clone() };
        let (_, partial, _) = fit_warm(&stopped, &identity(), Some(&plain), &mut || false).unwrap();
        assert!(!partial.termination.is_converged());
        let (_, resumed, report) = fit(&plain);
        assert_eq!(report.source, Source::Resumed);
        assert!(close(&resumed), "{:e}", max_rel_diff(&resumed.linear_predictor, &cold.linear_predictor));
        // A store others can write: exact hits verified, no seeds or checkpoints.
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
            let (_, hit, report) = fit(&plain);
            assert_eq!((report.source, report.verified), (Source::Exact, Some(true)));
            assert!(close(&hit));
            assert!(report.notices.iter().any(|n| n.contains("other users")));
            let (_, _, report) = fit_warm(&other, &identity(), Some(&plain), &mut || false).unwrap();
            assert_eq!(report.source, Source::Exact, "the seeded fit above filed its own final entry");
            let mut third = spec.clone();
            third.y = std::borrow::Cow::Owned(spec.y.iter().map(|v| v * 0.99).collect());
            let (_, _, report) = fit_warm(&third, &identity(), Some(&plain), &mut || false).unwrap();
            assert_eq!(report.source, Source::Cold, "no seed from an untrusted store");
            std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
        }
    }
}
