//! One entry file of the store: its frame (a header naming its key, the payload's
//! length and blake3 checksum, then the payload), and how a file is opened, read and
//! removed without following links, blocking on special files or removing a version
//! another writer has just renamed into place.

use std::fs::{self, File};
use std::io::{self, Read};
use std::path::Path;
use std::time::SystemTime;

use super::key::Fingerprint;
use super::payload::{self, Entry};

pub(super) const MAGIC: &[u8; 8] = b"WARMGAM\x01";
pub(super) const HEADER_BYTES: usize = 8 + 32 + 8 + 32;
/// No entry is larger than this (a 4000-coefficient model's two covariance matrices
/// take 256 MB); anything claiming more is not read.
pub(super) const MAX_ENTRY_BYTES: u64 = 1 << 30;

/// `MAGIC | key | payload length | blake3(payload) | payload`.
pub(super) fn frame(key: &Fingerprint, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER_BYTES + payload.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&key.0);
    out.extend_from_slice(&(payload.len() as u64).to_le_bytes());
    out.extend_from_slice(blake3::hash(payload).as_bytes());
    out.extend_from_slice(payload);
    out
}

/// The entry in `bytes` if it is a complete, uncorrupted entry of `key`.
pub(super) fn unframe(bytes: &[u8], key: &Fingerprint) -> Option<Entry> {
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
pub(super) type FileIdentity = (u64, u64, SystemTime);

pub(super) fn identity(meta: &fs::Metadata) -> FileIdentity {
    #[cfg(unix)]
    let ino = std::os::unix::fs::MetadataExt::ino(meta);
    #[cfg(not(unix))]
    let ino = 0;
    (ino, meta.len(), meta.modified().unwrap_or(SystemTime::UNIX_EPOCH))
}

/// What reading an entry file found.
pub(super) enum Found {
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
pub(super) fn open_regular(path: &Path, write: bool) -> io::Result<Option<File>> {
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
pub(super) fn read_entry(path: &Path, key: &Fingerprint, max_bytes: u64) -> io::Result<Found> {
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
pub(super) fn header_matches(header: &[u8; HEADER_BYTES], key: &Fingerprint, file_bytes: u64) -> bool {
    let claimed = u64::from_le_bytes(header[40..48].try_into().expect("8 bytes"));
    &header[..8] == MAGIC && header[8..40] == key.0 && claimed.checked_add(HEADER_BYTES as u64) == Some(file_bytes)
}

/// Removes the version of a file that was read (or listed), unless another writer has
/// since renamed a fresh entry over it. True when that version is gone, whoever
/// removed it.
pub(super) fn remove_if_unchanged(path: &Path, read: FileIdentity) -> bool {
    match fs::metadata(path) {
        Err(e) => e.kind() == io::ErrorKind::NotFound,
        Ok(m) if identity(&m) == read => match fs::remove_file(path) {
            Ok(()) => true,
            Err(e) => e.kind() == io::ErrorKind::NotFound,
        },
        Ok(_) => false,
    }
}
