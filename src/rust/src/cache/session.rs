//! One fit's dealings with the store: where it starts, its checkpoints, its final entry.
//!
//! A session looks for the best entry under the fit's exact key (a finalized fit,
//! else the most advanced checkpoint), then for a seed under its model key. During the
//! outer iterations it checkpoints every improvement of the best criterion value and,
//! otherwise, at most once per `CHECKPOINT_INTERVAL`; writes go through a background
//! thread so the optimizer never waits on the disk (only the last pending checkpoint is
//! written when several queue up). At the end it finalizes: the converged fit under the
//! exact key (its checkpoints are then removed), a seed under the model key, and
//! eviction. No store failure ever fails the fit: the first one is kept as `problem`
//! for the R layer to warn about.

use std::collections::BTreeMap;
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

use super::key::{Fingerprint, ModelKeys};
use super::payload::{Entry, EntryKind};
use super::store::{StoredEntry, WarmStartStore};

/// Checkpoints that do not improve the criterion are written at most this often.
pub const CHECKPOINT_INTERVAL: Duration = Duration::from_secs(2);
/// Seeds kept per model key: the newest few are all a new fit needs.
const SEEDS_KEPT: usize = 8;
const FINAL_NAME: &str = "final.wgs";

/// How a fit started.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Cold,
    /// A finalized fit of the same problem: returned without iterating.
    Exact,
    /// A checkpoint of the same problem: the optimization continues from it.
    Resumed,
    /// A fit of the same model to other data: its smoothing parameters are the start.
    Seeded,
    /// The caller's start (mgcv's `in.out`), taken as a seed is.
    Given,
}

impl Source {
    pub fn as_str(&self) -> &'static str {
        match self {
            Source::Cold => "cold",
            Source::Exact => "exact",
            Source::Resumed => "resumed",
            Source::Seeded => "seeded",
            Source::Given => "in.out",
        }
    }
}

/// What the store offers a new fit.
#[derive(Debug, Clone)]
pub enum Start {
    Cold,
    Exact(Entry),
    Resume(Entry),
    Seed(Entry),
}

type Job = (Fingerprint, String, Entry);

pub struct Session {
    store: WarmStartStore,
    keys: ModelKeys,
    /// This session's own file names (per writer, so concurrent fits of one key never
    /// overwrite each other's checkpoints or seeds).
    checkpoint_name: String,
    seed_name: String,
    best: f64,
    last_write: Option<Instant>,
    sender: Option<mpsc::Sender<Job>>,
    writer: Option<JoinHandle<Option<String>>>,
    problem: Option<String>,
    /// No entry of this model can be larger than this (see `load`).
    max_entry_bytes: u64,
    /// What the store held that was not used, and why (for one warning each).
    notices: Vec<String>,
}

impl Session {
    /// A session of the fit with `keys`, none of whose entries can be larger than
    /// `max_entry_bytes`.
    pub fn new(store: WarmStartStore, keys: ModelKeys, max_entry_bytes: u64) -> Session {
        let writer = writer_id();
        Session {
            store,
            keys,
            checkpoint_name: format!("ckpt-{writer}.wgs"),
            seed_name: format!("seed-{writer}.wgs"),
            best: f64::INFINITY,
            last_write: None,
            sender: None,
            writer: None,
            problem: None,
            max_entry_bytes,
            notices: Vec::new(),
        }
    }

    /// Whether only this user can write to the store (see `WarmStartStore::trusted`).
    pub fn trusted(&self) -> bool {
        self.store.trusted()
    }

    /// The entries under `key`, noting what was refused.
    fn load(&mut self, key: &Fingerprint) -> Vec<StoredEntry> {
        let loaded = self.store.load(key, self.max_entry_bytes);
        self.notices.extend(loaded.refused);
        loaded.entries
    }

    /// What the store held that was not used, and why.
    pub fn take_notices(&mut self) -> Vec<String> {
        std::mem::take(&mut self.notices)
    }

    /// The best start the store holds (the fit checks that it matches the model).
    pub fn start(&mut self) -> Start {
        let usable = |e: &StoredEntry| e.entry.rho.0.iter().all(|r| r.is_finite());
        let exact: Vec<StoredEntry> = self.load(&self.keys.exact.clone()).into_iter().filter(usable).collect();
        if let Some(hit) = exact
            .iter()
            .find(|e| e.name == FINAL_NAME && e.entry.kind == EntryKind::Final && e.entry.finished.is_some())
        {
            self.store.touch(&self.keys.exact, &hit.name);
            return Start::Exact(hit.entry.clone());
        }
        // The most advanced checkpoint: the lowest criterion value.
        if let Some(ckpt) = exact
            .iter()
            .filter(|e| e.entry.kind == EntryKind::Checkpoint && e.entry.criterion.is_finite())
            .min_by(|a, b| a.entry.criterion.total_cmp(&b.entry.criterion))
        {
            self.store.touch(&self.keys.exact, &ckpt.name);
            return Start::Resume(ckpt.entry.clone());
        }
        // Criterion values of other data are not comparable: the newest seed.
        let model = self.keys.model;
        self.load(&model)
            .into_iter()
            .filter(|e| usable(e) && e.entry.kind == EntryKind::Seed)
            .max_by_key(|e| e.modified)
            .map_or(Start::Cold, |e| {
                self.store.touch(&self.keys.model, &e.name);
                Start::Seed(e.entry)
            })
    }

    /// Offers an iterate of the optimizer; written if it improves on the best value so
    /// far or the last write is old enough.
    pub fn checkpoint(&mut self, entry: Entry) {
        let improved = entry.criterion < self.best;
        let due = self.last_write.is_none_or(|t| t.elapsed() >= CHECKPOINT_INTERVAL);
        if !(improved || due) {
            return;
        }
        self.best = self.best.min(entry.criterion);
        self.last_write = Some(Instant::now());
        let job = (self.keys.exact, self.checkpoint_name.clone(), entry);
        if self.sender.is_none() && self.writer.is_none() {
            let (tx, rx) = mpsc::channel::<Job>();
            let store = self.store.clone();
            match std::thread::Builder::new().name("warmgam-store".into()).spawn(move || write_jobs(&store, rx)) {
                Ok(handle) => {
                    self.writer = Some(handle);
                    self.sender = Some(tx);
                }
                // No thread (a process limit, say): write this checkpoint here.
                Err(e) => self.note(Some(format!("no thread for checkpoints ({e})"))),
            }
        }
        match &self.sender {
            Some(tx) => {
                let _ = tx.send(job);
            }
            None => {
                let (key, name, entry) = job;
                let written = self.store.write(&key, &name, &entry);
                self.note(written.err().map(|e| e.to_string()));
            }
        }
    }

    /// Waits until every checkpoint offered so far is on disk (or has failed).
    pub fn flush(&mut self) {
        self.sender = None;
        if let Some(handle) = self.writer.take() {
            let outcome = handle.join().unwrap_or_else(|_| Some("the store's writer thread failed".into()));
            self.note(outcome);
        }
    }

    /// Files a converged fit under the exact key (replacing its checkpoints) and its
    /// smoothing parameters as a seed under the model key, then enforces the store's
    /// limits.
    pub fn finalize(&mut self, fit: Entry) {
        self.flush();
        let seed = fit.seed();
        let written = self.store.write(&self.keys.exact, FINAL_NAME, &fit);
        let ok = written.is_ok();
        self.note(written.err().map(|e| e.to_string()));
        if ok {
            self.store.remove_where(&self.keys.exact, |name| name != FINAL_NAME);
        }
        let written = self.store.write(&self.keys.model, &self.seed_name, &seed);
        self.note(written.err().map(|e| e.to_string()));
        self.prune_seeds();
        self.store.evict();
    }

    /// Keeps the newest `SEEDS_KEPT` seeds of the model key.
    fn prune_seeds(&self) {
        let loaded = self.store.load(&self.keys.model, self.max_entry_bytes);
        let mut seeds: Vec<(SystemTime, String)> = loaded.entries.into_iter().map(|e| (e.modified, e.name)).collect();
        if seeds.len() <= SEEDS_KEPT {
            return;
        }
        seeds.sort();
        let doomed: Vec<String> = seeds[..seeds.len() - SEEDS_KEPT].iter().map(|(_, n)| n.clone()).collect();
        self.store.remove_where(&self.keys.model, |name| doomed.iter().any(|d| d == name));
    }

    /// Forgets the exact key's entries (a `"refresh"` fit, or a hit that failed
    /// verification).
    pub fn discard_exact(&self) {
        self.store.remove_where(&self.keys.exact, |_| true);
    }

    fn note(&mut self, problem: Option<String>) {
        if self.problem.is_none() {
            self.problem = problem;
        }
    }

    /// The first store failure of this session, if any (after pending writes finish).
    pub fn finish(mut self) -> Option<String> {
        self.flush();
        self.problem.take()
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        // An interrupted or failed fit still leaves its latest checkpoint on disk.
        self.flush();
    }
}

/// The writer thread: writes each key's latest queued entry, returns the first error.
fn write_jobs(store: &WarmStartStore, rx: mpsc::Receiver<Job>) -> Option<String> {
    let mut problem = None;
    while let Ok(first) = rx.recv() {
        let mut latest: BTreeMap<(Fingerprint, String), Entry> = BTreeMap::new();
        for (key, name, entry) in std::iter::once(first).chain(rx.try_iter()) {
            latest.insert((key, name), entry);
        }
        for ((key, name), entry) in latest {
            if let Err(e) = store.write(&key, &name, &entry) {
                problem.get_or_insert_with(|| e.to_string());
            }
        }
    }
    problem
}

/// A name unique to this session among all processes and hosts sharing the store.
fn writer_id() -> String {
    let mut h = blake3::Hasher::new();
    h.update(&std::process::id().to_le_bytes());
    let now = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default();
    h.update(&now.as_nanos().to_le_bytes());
    h.update(format!("{:?}", std::thread::current().id()).as_bytes());
    let local = 0u8;
    h.update(&(&local as *const u8 as usize).to_le_bytes());
    if let Ok(host) = std::fs::read_to_string("/proc/sys/kernel/hostname") {
        h.update(host.as_bytes());
    }
    h.finalize().to_hex()[..16].to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cache::store::StoreLimits;

    fn session(dir: &std::path::Path, exact: u8, model: u8) -> Session {
        let limits = StoreLimits { max_bytes: u64::MAX, max_age: Duration::from_secs(1 << 30) };
        let store = WarmStartStore::open(dir, false, limits).unwrap();
        Session::new(store, ModelKeys { exact: Fingerprint([exact; 32]), model: Fingerprint([model; 32]) }, u64::MAX)
    }

    fn iterate(criterion: f64, iteration: usize) -> Entry {
        Entry::new(EntryKind::Checkpoint, 10, vec![criterion, 1.0], criterion, iteration)
    }

    fn finished(criterion: f64) -> Entry {
        let mut e = Entry::new(EntryKind::Final, 10, vec![criterion, 1.0], criterion, 5);
        e.converged = true;
        e.finished = Some(crate::cache::payload::FinishedFit {
            vp: Default::default(),
            ve: Default::default(),
            edf: Default::default(),
            edf1: Default::default(),
            gradient: Default::default(),
            hessian_eigenvalues: Default::default(),
            deviance: 0.0,
            null_deviance: 0.0,
            null_space_dim: 0,
            termination: 0,
            term_tests: Default::default(),
            smooths: Default::default(),
            vc: Default::default(),
            edf2: Default::default(),
        });
        e
    }

    #[test]
    fn checkpoint_then_resume_then_exact_then_seed() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = session(dir.path(), 1, 9);
        assert!(matches!(s.start(), Start::Cold));
        s.checkpoint(iterate(5.0, 1));
        s.checkpoint(iterate(4.0, 2));
        // Not an improvement and not due: skipped.
        s.checkpoint(iterate(4.5, 3));
        assert!(s.finish().is_none());
        let mut s = session(dir.path(), 1, 9);
        match s.start() {
            Start::Resume(e) => assert_eq!((e.criterion, e.iteration), (4.0, 2)),
            other => panic!("expected a resume, got {other:?}"),
        }
        let mut s = session(dir.path(), 1, 9);
        s.finalize(finished(3.0));
        assert!(s.finish().is_none());
        assert!(matches!(session(dir.path(), 1, 9).start(), Start::Exact(_)));
        // Its checkpoints are gone; other data of the same model is seeded.
        match session(dir.path(), 2, 9).start() {
            Start::Seed(e) => assert_eq!(e.rho.0, vec![3.0, 1.0]),
            other => panic!("expected a seed, got {other:?}"),
        }
        assert_eq!(WarmStartStore::existing(dir.path()).info(false).entries, 2);
    }

    #[test]
    fn seeds_are_pruned_to_the_newest() {
        let dir = tempfile::tempdir().unwrap();
        for i in 0..(SEEDS_KEPT + 3) {
            let mut s = session(dir.path(), 10 + i as u8, 9);
            s.finalize(finished(i as f64));
            s.finish();
        }
        let model = WarmStartStore::existing(dir.path()).load(&Fingerprint([9; 32]), u64::MAX).entries;
        assert_eq!(model.len(), SEEDS_KEPT);
    }

    #[test]
    fn writer_ids_differ() {
        assert_ne!(writer_id(), writer_id());
    }
}
