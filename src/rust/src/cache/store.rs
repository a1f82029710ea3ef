//! The on-disk warm-start store: one directory per key, one file per entry.
//!
//! ```text
//! <root>/<64 hex digits of a key>/final.wgs          a converged fit (exact key)
//!                                 ckpt-<writer>.wgs  an unfinished fit's iterate
//!                                 seed-<writer>.wgs  a converged fit's start (model key)
//!                                 .tmp-*             a write in progress
//! ```
//!
//! Writes are atomic: the entry is written to a temporary file in the same directory
//! and renamed over its name, so a reader sees the old entry or the new one, never a
//! mixture, whatever other processes (or hosts sharing the filesystem) do. They are
//! not synced to the disk: a store is a cache, and what a crash can leave (an empty
//! or torn file under an entry's name) fails the checksum below and is a miss, never
//! an answer. (Syncing each file and its directory cost a warm nb() fold 70 ms of its
//! 250, more than the seed saved.)
//! Entries that several writers may produce at once are named per writer, so none is
//! lost; the final entry of a key is the same whoever writes it. Every file carries a
//! header with the key it belongs to and a blake3 checksum of its payload: a file that
//! is torn, truncated, foreign (another key's, or not ours at all) or corrupted is
//! skipped and removed, and is never an error for the fit. Temporary files are
//! removed only once they are an hour old, far longer than any write takes, so a live
//! writer's file is never touched.
//!
//! The store trusts whoever can write to it: a writer can put any (well-formed) result
//! under any key. Directories are created owner-only unless the store is shared on
//! purpose, and a store whose root others can write to is reported as untrusted
//! (`trusted()`), so that what it serves is verified before use, as ssh treats key
//! files others can write.
//!
//! Nothing is opened that is not a regular file, and no link is followed below the
//! root: a FIFO or device named like an entry would block or feed a reader forever,
//! and a key directory that is a link would make eviction and writes act outside the
//! store. Such files are skipped (and reported), never read, written through or
//! removed through.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use super::entry_file::{
    frame, identity, open_regular, read_entry, remove_if_unchanged, FileIdentity, Found, MAX_ENTRY_BYTES,
};
use super::key::Fingerprint;
use super::payload::{self, Entry};

const ENTRY_SUFFIX: &str = ".wgs";
const TEMP_PREFIX: &str = ".tmp-";
/// Temporary files older than this belong to writers that died.
const STALE_TEMP: Duration = Duration::from_secs(3600);

#[derive(Debug, Clone, Copy)]
pub struct StoreLimits {
    /// Entries beyond this total size are evicted, oldest first.
    pub max_bytes: u64,
    /// Entries not written or used for this long are evicted.
    pub max_age: Duration,
}

#[derive(Debug, Clone)]
pub struct WarmStartStore {
    root: PathBuf,
    shared: bool,
    limits: StoreLimits,
    trusted: bool,
}

/// What `load` found under a key.
#[derive(Debug, Clone, Default)]
pub struct Loaded {
    pub entries: Vec<StoredEntry>,
    /// Why files named like entries were not read (not regular files, links, larger
    /// than any entry of the model can be).
    pub refused: Vec<String>,
}

/// A verified entry and its file's name and modification time.
#[derive(Debug, Clone)]
pub struct StoredEntry {
    pub name: String,
    pub modified: SystemTime,
    pub entry: Entry,
}

#[derive(Debug, Clone, Default)]
pub struct StoreInfo {
    pub keys: usize,
    pub entries: usize,
    pub bytes: u64,
    /// Modification times of the oldest and newest entries, in seconds since the epoch.
    pub oldest: Option<f64>,
    pub newest: Option<f64>,
    /// Entries that failed verification (counted only when asked to verify).
    pub damaged: usize,
}

impl WarmStartStore {
    /// Opens (creating if needed) the store at `root`, and checks that it can be written.
    pub fn open(root: &Path, shared: bool, limits: StoreLimits) -> io::Result<WarmStartStore> {
        let mut store = WarmStartStore { root: root.to_path_buf(), shared, limits, trusted: true };
        store.create_dir(root)?;
        // A probe write: an unwritable store is found now, once, not at every checkpoint.
        drop(store.temp_file(root)?);
        store.trusted = writers_trusted(&fs::metadata(root)?, shared);
        Ok(store)
    }

    /// The store at `root` as it is, for inspection and clearing: nothing is created.
    pub fn existing(root: &Path) -> WarmStartStore {
        let limits = StoreLimits { max_bytes: u64::MAX, max_age: Duration::MAX };
        let trusted = fs::metadata(root).is_ok_and(|m| writers_trusted(&m, false));
        WarmStartStore { root: root.to_path_buf(), shared: false, limits, trusted }
    }

    /// False when users other than this one can write to the store's root: then
    /// anyone could have planted what it holds.
    pub fn trusted(&self) -> bool {
        self.trusted
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    fn key_dir(&self, key: &Fingerprint) -> PathBuf {
        // Hex only: no key can name a path outside the store.
        self.root.join(key.to_hex())
    }

    /// The key's directory when it is a real directory (not a link), `Ok(None)` when
    /// there is none, `Err` (a message) when something else has its name.
    fn existing_key_dir(&self, key: &Fingerprint) -> std::result::Result<Option<PathBuf>, String> {
        let dir = self.key_dir(key);
        match fs::symlink_metadata(&dir) {
            Ok(m) if m.file_type().is_dir() => Ok(Some(dir)),
            Ok(_) => Err(format!("{} is not a directory (a link?); the store does not follow it", dir.display())),
            Err(_) => Ok(None),
        }
    }

    fn create_dir(&self, dir: &Path) -> io::Result<()> {
        let mut builder = fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::DirBuilderExt;
            builder.mode(if self.shared { 0o777 } else { 0o700 });
        }
        builder.create(dir)
    }

    fn temp_file(&self, dir: &Path) -> io::Result<tempfile::NamedTempFile> {
        let mut builder = tempfile::Builder::new();
        builder.prefix(TEMP_PREFIX);
        #[cfg(unix)]
        if self.shared {
            use std::os::unix::fs::PermissionsExt;
            // The umask still applies.
            builder.permissions(fs::Permissions::from_mode(0o666));
        }
        builder.tempfile_in(dir)
    }

    /// Writes `entry` as `name` under `key`, atomically.
    pub fn write(&self, key: &Fingerprint, name: &str, entry: &Entry) -> io::Result<()> {
        debug_assert!(is_entry_name(name));
        let bytes = frame(key, &payload::encode(entry));
        if bytes.len() as u64 > MAX_ENTRY_BYTES {
            // Readers would refuse it: do not spend the disk on it.
            return Err(io::Error::other(format!(
                "an entry of {} bytes exceeds the store's limit of {MAX_ENTRY_BYTES}",
                bytes.len()
            )));
        }
        let dir = self.key_dir(key);
        // The directory may be removed by another process's eviction between our
        // creating it and writing into it: one retry.
        let mut attempt = 0;
        loop {
            self.create_dir(&dir)?;
            // `create_dir` accepts a link to a directory: never write through one.
            self.existing_key_dir(key).map_err(io::Error::other)?;
            match self.write_in(&dir, name, &bytes) {
                Err(e) if e.kind() == io::ErrorKind::NotFound && attempt == 0 => attempt += 1,
                other => return other,
            }
        }
    }

    fn write_in(&self, dir: &Path, name: &str, bytes: &[u8]) -> io::Result<()> {
        let mut tmp = self.temp_file(dir)?;
        tmp.write_all(bytes)?;
        tmp.persist(dir.join(name)).map_err(|e| e.error)?;
        Ok(())
    }

    /// Every verified entry under `key` no larger than `max_bytes`; invalid files are
    /// removed on the way, and files that are not regular files are left alone.
    pub fn load(&self, key: &Fingerprint, max_bytes: u64) -> Loaded {
        let mut out = Loaded::default();
        let dir = match self.existing_key_dir(key) {
            Ok(Some(dir)) => dir,
            Ok(None) => return out,
            Err(why) => {
                out.refused.push(why);
                return out;
            }
        };
        let Ok(listing) = fs::read_dir(&dir) else { return out };
        for item in listing.flatten() {
            let name = item.file_name().to_string_lossy().into_owned();
            if !name.ends_with(ENTRY_SUFFIX) {
                continue;
            }
            let path = dir.join(&name);
            match read_entry(&path, key, max_bytes) {
                Ok(Found::Valid(entry, id)) => out.entries.push(StoredEntry { name, modified: id.2, entry: *entry }),
                Ok(Found::Invalid(id)) => {
                    remove_if_unchanged(&path, id);
                }
                Ok(Found::TooLarge(id)) => {
                    out.refused.push(format!(
                        "{} ({} bytes) is larger than any entry of this model can be; removed",
                        path.display(),
                        id.1
                    ));
                    remove_if_unchanged(&path, id);
                }
                Ok(Found::NotRegular) => {
                    out.refused.push(format!("{} is not a regular file; not read", path.display()))
                }
                // An I/O error says nothing about the entry (it may be in use or the
                // filesystem may be busy): skip it, keep it.
                Err(_) => {}
            }
        }
        out
    }

    /// Marks an entry as used, so that eviction (oldest first) keeps it longer.
    pub fn touch(&self, key: &Fingerprint, name: &str) {
        let Ok(Some(dir)) = self.existing_key_dir(key) else { return };
        if let Ok(Some(f)) = open_regular(&dir.join(name), true) {
            let _ = f.set_modified(SystemTime::now());
        }
    }

    /// Removes every entry under `key` for which `doomed` holds (temporary files are
    /// never touched).
    pub fn remove_where(&self, key: &Fingerprint, doomed: impl Fn(&str) -> bool) {
        let Ok(Some(dir)) = self.existing_key_dir(key) else { return };
        let Ok(listing) = fs::read_dir(&dir) else { return };
        for item in listing.flatten() {
            let name = item.file_name().to_string_lossy().into_owned();
            if is_entry_name(&name) && doomed(&name) {
                let _ = fs::remove_file(dir.join(name));
            }
        }
    }

    /// The store's own clock: the modification time of a file just created in it. On
    /// a shared filesystem that is the file server's time, the one every entry's age
    /// is measured in, whatever this host's clock says.
    fn now(&self) -> SystemTime {
        self.temp_file(&self.root)
            .ok()
            .and_then(|f| f.as_file().metadata().ok())
            .and_then(|m| m.modified().ok())
            .unwrap_or_else(SystemTime::now)
    }

    /// Enforces the age limit and the size budget, oldest entries first, and clears
    /// dead writers' temporary files. Errors are ignored: eviction is housekeeping and
    /// never fails a fit.
    pub fn evict(&self) {
        let now = self.now();
        let mut files = self.scan(|path, modified| {
            if age(now, modified) > STALE_TEMP {
                let _ = fs::remove_file(path);
            }
        });
        let mut total: u64 = files.iter().map(|f| f.bytes).sum();
        files.sort_by_key(|f| f.modified);
        for f in &files {
            let expired = age(now, f.modified) > self.limits.max_age;
            if expired || total > self.limits.max_bytes {
                // Another process may have evicted it first (then it is gone all the
                // same), or renamed a fresh entry over it (then it stays).
                if remove_if_unchanged(&f.path, f.id) {
                    total = total.saturating_sub(f.bytes);
                }
                if let Some(dir) = f.path.parent() {
                    // Fails, harmlessly, while the directory holds anything.
                    let _ = fs::remove_dir(dir);
                }
            }
        }
    }

    /// What the store holds; with `verify`, every entry is also read and checked
    /// (and left in place: the next fit of its key removes it).
    pub fn info(&self, verify: bool) -> StoreInfo {
        let files = self.scan(|_, _| {});
        let damaged = if verify {
            files
                .iter()
                .filter(|f| {
                    let key = f
                        .path
                        .parent()
                        .and_then(|d| d.file_name())
                        .and_then(|n| Fingerprint::from_hex(&n.to_string_lossy()));
                    match key {
                        Some(key) => matches!(
                            read_entry(&f.path, &key, MAX_ENTRY_BYTES),
                            Ok(Found::Invalid(_) | Found::NotRegular | Found::TooLarge(_))
                        ),
                        None => true,
                    }
                })
                .count()
        } else {
            0
        };
        let mut keys: Vec<&Path> = files.iter().filter_map(|f| f.path.parent()).collect();
        keys.dedup();
        let secs = |t: SystemTime| t.duration_since(SystemTime::UNIX_EPOCH).map(|d| d.as_secs_f64()).unwrap_or(0.0);
        StoreInfo {
            keys: keys.len(),
            entries: files.len(),
            bytes: files.iter().map(|f| f.bytes).sum(),
            oldest: files.iter().map(|f| f.modified).min().map(secs),
            newest: files.iter().map(|f| f.modified).max().map(secs),
            damaged,
        }
    }

    /// Removes every entry and the key directories left empty (and nothing else:
    /// directories that are not keys, and temporary files of writers that may still
    /// be running, are left alone). Returns the number of entries removed.
    pub fn clear(&self) -> usize {
        let now = self.now();
        // A live writer's temporary file is left to it (its rename would fail).
        let files = self.scan(|path, modified| {
            if age(now, modified) > STALE_TEMP {
                let _ = fs::remove_file(path);
            }
        });
        let mut removed = 0;
        for f in &files {
            if fs::remove_file(&f.path).is_ok() {
                removed += 1;
            }
            if let Some(dir) = f.path.parent() {
                let _ = fs::remove_dir(dir);
            }
        }
        removed
    }

    /// Entry files of every key directory; `temp` sees each temporary file.
    fn scan(&self, mut temp: impl FnMut(&Path, SystemTime)) -> Vec<FileInfo> {
        let mut out = Vec::new();
        let Ok(keys) = fs::read_dir(&self.root) else { return out };
        for key in keys.flatten() {
            let key_name = key.file_name().to_string_lossy().into_owned();
            if Fingerprint::from_hex(&key_name).is_none() || !key.file_type().is_ok_and(|t| t.is_dir()) {
                continue;
            }
            let Ok(files) = fs::read_dir(key.path()) else { continue };
            for file in files.flatten() {
                let name = file.file_name().to_string_lossy().into_owned();
                let Ok(meta) = file.metadata() else { continue };
                let modified = meta.modified().unwrap_or(SystemTime::UNIX_EPOCH);
                if name.starts_with(TEMP_PREFIX) {
                    temp(&file.path(), modified);
                } else if is_entry_name(&name) {
                    out.push(FileInfo { path: file.path(), bytes: meta.len(), modified, id: identity(&meta) });
                }
            }
            // Key directories left empty (by a crash between writes, say) go too.
            let _ = fs::remove_dir(key.path());
        }
        out
    }
}

struct FileInfo {
    path: PathBuf,
    bytes: u64,
    modified: SystemTime,
    id: FileIdentity,
}

fn age(now: SystemTime, then: SystemTime) -> Duration {
    now.duration_since(then).unwrap_or(Duration::ZERO)
}

/// Names the store writes: lowercase letters, digits and dashes, then `.wgs`.
pub fn is_entry_name(name: &str) -> bool {
    name.strip_suffix(ENTRY_SUFFIX).is_some_and(|stem| {
        !stem.is_empty() && stem.bytes().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-')
    })
}

/// Whether everyone who can write to a directory with metadata `meta` is trusted:
/// its owner must be this user and nobody else may write to it; or, when the store is
/// shared on purpose (`shared`: the user chose to share it with a group), its owner
/// and group may (the directory is often another member's). A world-writable store is
/// never trusted.
fn writers_trusted(meta: &fs::Metadata, shared: bool) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        // SAFETY: geteuid has no preconditions and cannot fail.
        let me = unsafe { libc::geteuid() };
        let others = if shared { 0o002 } else { 0o022 };
        meta.mode() & others == 0 && (shared || meta.uid() == me)
    }
    #[cfg(not(unix))]
    {
        let _ = (meta, shared);
        true
    }
}

#[cfg(test)]
#[path = "store_tests.rs"]
mod tests;
