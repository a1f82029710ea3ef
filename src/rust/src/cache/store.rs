//! The on-disk warm-start store: one directory per key, one file per entry.
//!
//! ```text
//! <root>/<64 hex digits of a key>/final.wgs          a converged fit (exact key)
//!                                 ckpt-<writer>.wgs  an unfinished fit's iterate
//!                                 seed-<writer>.wgs  a converged fit's start (model key)
//!                                 .tmp-*             a write in progress
//! ```
//!
//! Writes are atomic: the entry is written to a temporary file in the same directory,
//! synced, and renamed over its name, so a reader sees the old entry or the new one,
//! never a mixture, whatever other processes (or hosts sharing the filesystem) do.
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

use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use super::key::Fingerprint;
use super::payload::{self, Entry};

const MAGIC: &[u8; 8] = b"WARMGAM\x01";
const HEADER_BYTES: usize = 8 + 32 + 8 + 32;
/// No entry is larger than this (a 4000-coefficient model's two covariance matrices
/// take 256 MB); anything claiming more is not read.
const MAX_ENTRY_BYTES: u64 = 1 << 30;
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
        tmp.as_file().sync_all()?;
        tmp.persist(dir.join(name)).map_err(|e| e.error)?;
        // Make the rename itself durable; not every filesystem allows syncing a
        // directory, and the entry is already complete either way.
        if let Ok(d) = File::open(dir) {
            let _ = d.sync_all();
        }
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

/// `MAGIC | key | payload length | blake3(payload) | payload`.
fn frame(key: &Fingerprint, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER_BYTES + payload.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&key.0);
    out.extend_from_slice(&(payload.len() as u64).to_le_bytes());
    out.extend_from_slice(blake3::hash(payload).as_bytes());
    out.extend_from_slice(payload);
    out
}

/// The entry in `bytes` if it is a complete, uncorrupted entry of `key`.
fn unframe(bytes: &[u8], key: &Fingerprint) -> Option<Entry> {
    if bytes.len() < HEADER_BYTES || &bytes[..8] != MAGIC || bytes[8..40] != key.0 {
        return None;
    }
    let len = u64::from_le_bytes(bytes[40..48].try_into().ok()?);
    let payload = &bytes[HEADER_BYTES..];
    if len != payload.len() as u64 || blake3::hash(payload).as_bytes()[..] != bytes[48..80] {
        return None;
    }
    payload::decode(payload)
}

/// Which version of a file was read: another writer may rename a fresh entry over it.
type FileIdentity = (u64, u64, SystemTime);

fn identity(meta: &fs::Metadata) -> FileIdentity {
    #[cfg(unix)]
    let ino = std::os::unix::fs::MetadataExt::ino(meta);
    #[cfg(not(unix))]
    let ino = 0;
    (ino, meta.len(), meta.modified().unwrap_or(SystemTime::UNIX_EPOCH))
}

/// What reading an entry file found.
enum Found {
    Valid(Box<Entry>, FileIdentity),
    /// Not a complete, uncorrupted entry of the key.
    Invalid(FileIdentity),
    /// Larger than the caller's bound: not read.
    TooLarge(FileIdentity),
    /// A FIFO, device, socket, directory or link: not opened (or not read).
    NotRegular,
}

/// Opens `path` if it is a regular file, without following a link and without
/// blocking (a FIFO would block `open` itself until a writer appears); `Ok(None)`
/// for anything else.
fn open_regular(path: &Path, write: bool) -> io::Result<Option<File>> {
    if !fs::symlink_metadata(path)?.file_type().is_file() {
        return Ok(None);
    }
    let mut options = File::options();
    options.read(!write).write(write);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(libc::O_NONBLOCK | libc::O_NOFOLLOW);
    }
    // The name may have been replaced since: check what was opened.
    let file = match options.open(path) {
        Ok(f) => f,
        #[cfg(unix)]
        Err(e) if e.raw_os_error() == Some(libc::ELOOP) => return Ok(None),
        Err(e) => return Err(e),
    };
    Ok(file.metadata()?.file_type().is_file().then_some(file))
}

/// Reads and verifies one entry file of at most `max_bytes`; `Err` when it could
/// not be read. The header is checked before the payload is read, so a file of the
/// right size but not of this key costs one small read.
fn read_entry(path: &Path, key: &Fingerprint, max_bytes: u64) -> io::Result<Found> {
    let Some(mut file) = open_regular(path, false)? else { return Ok(Found::NotRegular) };
    let id = identity(&file.metadata()?);
    if id.1 > max_bytes.min(MAX_ENTRY_BYTES) {
        return Ok(Found::TooLarge(id));
    }
    let mut header = [0u8; HEADER_BYTES];
    if id.1 < HEADER_BYTES as u64 || file.read_exact(&mut header).is_err() || !header_matches(&header, key, id.1) {
        return Ok(Found::Invalid(id));
    }
    let mut bytes = Vec::with_capacity(id.1 as usize);
    bytes.extend_from_slice(&header);
    // Read no more than the size checked above, whatever the file does meanwhile; a
    // file that changed size is not the entry that was checked.
    file.take(id.1 + 1 - HEADER_BYTES as u64).read_to_end(&mut bytes)?;
    if bytes.len() as u64 != id.1 {
        return Ok(Found::Invalid(id));
    }
    Ok(match unframe(&bytes, key) {
        Some(entry) => Found::Valid(Box::new(entry), id),
        None => Found::Invalid(id),
    })
}

/// Whether a header is ours, for `key`, and claims a payload that fills the file.
fn header_matches(header: &[u8; HEADER_BYTES], key: &Fingerprint, file_bytes: u64) -> bool {
    let claimed = u64::from_le_bytes(header[40..48].try_into().expect("8 bytes"));
    &header[..8] == MAGIC && header[8..40] == key.0 && claimed.checked_add(HEADER_BYTES as u64) == Some(file_bytes)
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

/// Removes the version of a file that was read (or listed), unless another writer has
/// since renamed a fresh entry over it. True when that version is gone, whoever
/// removed it.
fn remove_if_unchanged(path: &Path, read: FileIdentity) -> bool {
    match fs::metadata(path) {
        Err(e) => e.kind() == io::ErrorKind::NotFound,
        Ok(m) if identity(&m) == read => match fs::remove_file(path) {
            Ok(()) => true,
            Err(e) => e.kind() == io::ErrorKind::NotFound,
        },
        Ok(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cache::payload::{Bounded, EntryKind};

    fn limits() -> StoreLimits {
        StoreLimits { max_bytes: u64::MAX, max_age: Duration::from_secs(1 << 30) }
    }

    fn key(i: u8) -> Fingerprint {
        Fingerprint([i; 32])
    }

    fn entry(criterion: f64) -> Entry {
        let mut e = Entry::new(EntryKind::Checkpoint, 10, vec![1.0, 2.0], criterion, 3);
        e.coefficients = Bounded(vec![0.5; 20]);
        e.scale = 1.0;
        e
    }

    #[test]
    fn round_trip_and_layout() {
        let dir = tempfile::tempdir().unwrap();
        let store = WarmStartStore::open(dir.path(), false, limits()).unwrap();
        store.write(&key(1), "ckpt-a.wgs", &entry(3.0)).unwrap();
        store.write(&key(1), "final.wgs", &entry(2.0)).unwrap();
        let mut got = store.load(&key(1), u64::MAX).entries;
        got.sort_by(|a, b| a.name.cmp(&b.name));
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].entry, entry(3.0));
        assert_eq!(got[1].entry, entry(2.0));
        assert!(store.load(&key(2), u64::MAX).entries.is_empty());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(dir.path().join(key(1).to_hex())).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o700);
        }
        let info = store.info(false);
        assert_eq!((info.keys, info.entries), (1, 2));
        assert_eq!(store.clear(), 2);
        assert_eq!(store.info(false).entries, 0);
    }

    #[test]
    fn damaged_and_foreign_files_are_skipped_and_removed() {
        let dir = tempfile::tempdir().unwrap();
        let store = WarmStartStore::open(dir.path(), false, limits()).unwrap();
        let kdir = dir.path().join(key(1).to_hex());
        store.write(&key(1), "final.wgs", &entry(1.0)).unwrap();
        let good = fs::read(kdir.join("final.wgs")).unwrap();
        // Truncated, bit-flipped, garbage, empty, and another key's entry.
        fs::write(kdir.join("ckpt-a.wgs"), &good[..good.len() - 3]).unwrap();
        let mut flipped = good.clone();
        *flipped.last_mut().unwrap() ^= 1;
        fs::write(kdir.join("ckpt-b.wgs"), &flipped).unwrap();
        fs::write(kdir.join("ckpt-c.wgs"), b"not an entry at all").unwrap();
        fs::write(kdir.join("ckpt-d.wgs"), b"").unwrap();
        store.write(&key(2), "final.wgs", &entry(1.0)).unwrap();
        fs::copy(dir.path().join(key(2).to_hex()).join("final.wgs"), kdir.join("ckpt-e.wgs")).unwrap();
        let got = store.load(&key(1), u64::MAX).entries;
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].name, "final.wgs");
        let left: Vec<_> = fs::read_dir(&kdir).unwrap().flatten().map(|f| f.file_name()).collect();
        assert_eq!(left.len(), 1, "{left:?}");
        // Usable again afterwards.
        store.write(&key(1), "ckpt-a.wgs", &entry(0.5)).unwrap();
        assert_eq!(store.load(&key(1), u64::MAX).entries.len(), 2);
    }

    #[test]
    fn eviction_keeps_the_newest_under_budget_and_spares_live_temp_files() {
        let dir = tempfile::tempdir().unwrap();
        let open = |max_bytes| {
            WarmStartStore::open(dir.path(), false, StoreLimits { max_bytes, max_age: Duration::from_secs(3600) })
                .unwrap()
        };
        let store = open(u64::MAX);
        for i in 0..5u8 {
            store.write(&key(i), "final.wgs", &entry(i as f64)).unwrap();
            let path = dir.path().join(key(i).to_hex()).join("final.wgs");
            let t = SystemTime::now() - Duration::from_secs(100 * (5 - i as u64));
            File::options().write(true).open(&path).unwrap().set_modified(t).unwrap();
        }
        let live_temp = dir.path().join(key(0).to_hex()).join(".tmp-live");
        fs::write(&live_temp, b"partial").unwrap();
        let one = store.info(false).bytes / 5;
        open(2 * one + one / 2).evict();
        assert_eq!(store.info(false).entries, 2);
        assert!(store.load(&key(0), u64::MAX).entries.is_empty() && store.load(&key(2), u64::MAX).entries.is_empty());
        assert_eq!(store.load(&key(4), u64::MAX).entries.len(), 1);
        assert!(live_temp.exists(), "a fresh temporary file was removed");
        // The age limit.
        let path = dir.path().join(key(3).to_hex()).join("final.wgs");
        File::options()
            .write(true)
            .open(&path)
            .unwrap()
            .set_modified(SystemTime::now() - Duration::from_secs(7200))
            .unwrap();
        open(u64::MAX).evict();
        assert_eq!(store.info(false).entries, 1);
    }

    #[test]
    fn concurrent_writers_never_mix_entries() {
        let dir = tempfile::tempdir().unwrap();
        let store = WarmStartStore::open(dir.path(), false, limits()).unwrap();
        std::thread::scope(|s| {
            for t in 0..8u8 {
                let store = store.clone();
                s.spawn(move || {
                    for i in 0..40 {
                        let mut e = entry(t as f64);
                        e.coefficients = Bounded(vec![t as f64; 50 + i]);
                        store.write(&key(7), "final.wgs", &e).unwrap();
                        store.write(&key(7), &format!("ckpt-{t}.wgs"), &e).unwrap();
                        for got in store.load(&key(7), u64::MAX).entries {
                            // Every entry read is one some writer wrote whole.
                            let c = got.entry.criterion;
                            assert!(got.entry.coefficients.0.iter().all(|v| *v == c));
                        }
                    }
                });
            }
        });
        assert_eq!(store.load(&key(7), u64::MAX).entries.len(), 9);
    }

    /// Not a test on its own: the body of each child process of
    /// `concurrent_writer_processes` (a no-op in a normal test run).
    #[test]
    fn child_writer() {
        let Ok(dir) = std::env::var("WARMGAM_STORE_CHILD_DIR") else { return };
        let id: u8 = std::env::var("WARMGAM_STORE_CHILD_ID").unwrap().parse().unwrap();
        let store = WarmStartStore::open(Path::new(&dir), false, limits()).unwrap();
        for i in 0..60 {
            let mut e = entry(id as f64);
            e.coefficients = Bounded(vec![id as f64; 100 + i]);
            // A key every process writes, and one of its own.
            store.write(&key(9), "final.wgs", &e).unwrap();
            store.write(&key(10 + id), &format!("ckpt-{id}.wgs"), &e).unwrap();
            for got in store.load(&key(9), u64::MAX).entries {
                assert!(got.entry.coefficients.0.iter().all(|v| *v == got.entry.criterion), "a mixed entry");
            }
        }
    }

    #[test]
    fn concurrent_writer_processes() {
        let dir = tempfile::tempdir().unwrap();
        let exe = std::env::current_exe().unwrap();
        let children: Vec<_> = (0..4u8)
            .map(|id| {
                std::process::Command::new(&exe)
                    .args(["--exact", "cache::store::tests::child_writer", "--test-threads=1"])
                    .env("WARMGAM_STORE_CHILD_DIR", dir.path())
                    .env("WARMGAM_STORE_CHILD_ID", id.to_string())
                    .stdout(std::process::Stdio::null())
                    .spawn()
                    .unwrap()
            })
            .collect();
        for mut child in children {
            assert!(child.wait().unwrap().success(), "a writer process failed");
        }
        let store = WarmStartStore::existing(dir.path());
        let shared = store.load(&key(9), u64::MAX).entries;
        assert_eq!(shared.len(), 1);
        assert!(shared[0].entry.coefficients.0.iter().all(|v| *v == shared[0].entry.criterion));
        for id in 0..4u8 {
            assert_eq!(store.load(&key(10 + id), u64::MAX).entries.len(), 1);
        }
        let info = store.info(true);
        assert_eq!((info.entries, info.damaged), (5, 0));
        let temps = fs::read_dir(dir.path().join(key(9).to_hex()))
            .unwrap()
            .flatten()
            .filter(|f| f.file_name().to_string_lossy().starts_with(TEMP_PREFIX))
            .count();
        assert_eq!(temps, 0, "temporary files left behind");
    }

    #[test]
    fn unwritable_root_is_an_error_at_open() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("plain-file");
        fs::write(&file, b"x").unwrap();
        assert!(WarmStartStore::open(&file.join("store"), false, limits()).is_err());
    }

    #[cfg(unix)]
    fn mkfifo(path: &Path) {
        let c = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).unwrap();
        // SAFETY: a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    }

    /// Issue 15.1: a FIFO (or a link to one) named like an entry blocked every reader.
    #[cfg(unix)]
    #[test]
    fn fifo_named_like_an_entry_is_skipped_not_opened() {
        let dir = tempfile::tempdir().unwrap();
        let store = WarmStartStore::open(dir.path(), false, limits()).unwrap();
        store.write(&key(1), "ckpt-a.wgs", &entry(3.0)).unwrap();
        let kdir = dir.path().join(key(1).to_hex());
        mkfifo(&kdir.join("final.wgs"));
        mkfifo(&dir.path().join("elsewhere-fifo"));
        std::os::unix::fs::symlink(dir.path().join("elsewhere-fifo"), kdir.join("seed-x.wgs")).unwrap();
        // Would block forever if the FIFO were opened for reading.
        let (tx, rx) = std::sync::mpsc::channel();
        let s2 = store.clone();
        std::thread::spawn(move || {
            let loaded = s2.load(&key(1), u64::MAX);
            store_info_and_touch(&s2);
            tx.send(loaded).unwrap();
        });
        let loaded = rx.recv_timeout(Duration::from_secs(20)).expect("load blocked on a FIFO");
        assert_eq!(loaded.entries.len(), 1);
        assert_eq!(loaded.refused.len(), 2, "{:?}", loaded.refused);
        assert!(loaded.refused.iter().all(|r| r.contains("not a regular file")));
        // Left where they are, the link's target too.
        assert!(kdir.join("final.wgs").exists() && dir.path().join("elsewhere-fifo").exists());
    }

    #[cfg(unix)]
    fn store_info_and_touch(store: &WarmStartStore) {
        let info = store.info(true);
        assert_eq!(info.damaged, 2);
        store.touch(&key(1), "final.wgs");
    }

    /// Issue 15.2: a key directory replaced by a link made the store remove and write
    /// files in the directory it pointed to.
    #[cfg(unix)]
    #[test]
    fn linked_key_directory_is_never_followed() {
        let dir = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        let store = WarmStartStore::open(dir.path(), false, limits()).unwrap();
        // Files there that look like entries of the key.
        let victim = WarmStartStore::open(outside.path(), false, limits()).unwrap();
        victim.write(&key(1), "ckpt-a.wgs", &entry(1.0)).unwrap();
        let target = outside.path().join(key(1).to_hex());
        fs::write(target.join("seed-b.wgs"), b"someone else's file").unwrap();
        std::os::unix::fs::symlink(&target, dir.path().join(key(1).to_hex())).unwrap();
        let loaded = store.load(&key(1), u64::MAX);
        assert!(loaded.entries.is_empty());
        assert!(loaded.refused[0].contains("does not follow"), "{:?}", loaded.refused);
        assert!(store.write(&key(1), "final.wgs", &entry(2.0)).is_err());
        store.remove_where(&key(1), |_| true);
        store.touch(&key(1), "ckpt-a.wgs");
        store.evict();
        assert_eq!(store.clear(), 0);
        let left: Vec<_> =
            fs::read_dir(&target).unwrap().flatten().map(|f| f.file_name().into_string().unwrap()).collect();
        let mut left = left;
        left.sort();
        assert_eq!(left, ["ckpt-a.wgs", "seed-b.wgs"]);
        assert!(!target.join("final.wgs").exists());
    }

    /// Issue 15.4: a 1 GiB sparse file named like an entry was read whole.
    #[test]
    fn entry_larger_than_the_bound_is_not_read() {
        let dir = tempfile::tempdir().unwrap();
        let store = WarmStartStore::open(dir.path(), false, limits()).unwrap();
        store.write(&key(1), "final.wgs", &entry(1.0)).unwrap();
        let kdir = dir.path().join(key(1).to_hex());
        let size = fs::metadata(kdir.join("final.wgs")).unwrap().len();
        // A huge sparse file with our header.
        let mut header = fs::read(kdir.join("final.wgs")).unwrap()[..HEADER_BYTES].to_vec();
        header[40..48].copy_from_slice(&((1u64 << 30) - HEADER_BYTES as u64).to_le_bytes());
        let big = kdir.join("ckpt-big.wgs");
        fs::write(&big, &header).unwrap();
        File::options().write(true).open(&big).unwrap().set_len(1 << 30).unwrap();
        let started = std::time::Instant::now();
        let loaded = store.load(&key(1), size + 10);
        assert!(started.elapsed() < Duration::from_secs(1));
        assert_eq!(loaded.entries.len(), 1);
        assert_eq!(loaded.refused.len(), 1, "{:?}", loaded.refused);
        assert!(!big.exists(), "an oversized entry file is removed");
        // A bound below the real entry's size refuses it too.
        assert!(store.load(&key(1), size - 1).entries.is_empty());
    }

    /// Issue 15.5: a store others can write to was used without a word.
    #[cfg(unix)]
    #[test]
    fn a_store_others_can_write_is_untrusted() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        assert!(WarmStartStore::open(dir.path(), false, limits()).unwrap().trusted());
        fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o777)).unwrap();
        assert!(!WarmStartStore::open(dir.path(), false, limits()).unwrap().trusted());
        fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o770)).unwrap();
        assert!(!WarmStartStore::existing(dir.path()).trusted());
        assert!(!WarmStartStore::open(dir.path(), false, limits()).unwrap().trusted());
        // Shared with the group on purpose: the group is trusted, the world never.
        assert!(WarmStartStore::open(dir.path(), true, limits()).unwrap().trusted());
        fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o777)).unwrap();
        assert!(!WarmStartStore::open(dir.path(), true, limits()).unwrap().trusted());
        fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o700)).unwrap();
    }
}
