//! Tests of the store: entries, damage, eviction, concurrent writers, and files and
//! links that must not be followed or opened.

use super::*;
use crate::cache::entry_file::HEADER_BYTES;
use crate::cache::payload::{Bounded, EntryKind};
use std::fs::File;

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
        WarmStartStore::open(dir.path(), false, StoreLimits { max_bytes, max_age: Duration::from_secs(3600) }).unwrap()
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
    let left: Vec<_> = fs::read_dir(&target).unwrap().flatten().map(|f| f.file_name().into_string().unwrap()).collect();
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
