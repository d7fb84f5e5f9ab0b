//! A cache of the revision headers read from Alembic's Python files, so that a large project is
//! not parsed again on every command.
//!
//! Why: on a 10,000-revision project, opening, reading and checking every file is most of what
//! `retort heads` costs; a `stat` per file and one read of this cache is several times cheaper
//! (Alembic does the same with `__pycache__`). The answer must never differ from reading the
//! files, so:
//!
//! - an entry is used only when the file's stamp (size, mtime and ctime to the nanosecond,
//!   inode, device) is the one recorded when it was read, and the stamp is taken (`fstat` on
//!   the open file) before its bytes are read;
//! - a file changed within [`RACY_WINDOW`] of its reading is not recorded: a second change in
//!   the same clock tick could keep its stamp (git's "racily clean" problem);
//! - only files read statically into a revision are recorded (never errors, nor files left to
//!   Python), and the cache's key includes the crate's version and [`PARSER_VERSION`];
//! - the whole file carries a checksum; anything unexpected (missing, truncated, corrupt, other
//!   version) makes the cache ignored, and failing to write it is not an error.
//!
//! The cache lives in Retort's home (`<home>/cache/headers-<hash of the config path>.bin`), is
//! written whole to a temporary file and renamed into place, and holds only the files of the
//! last load (files gone are dropped).
//!
//! Format (little-endian): magic, format version, tool id, entry count, entries, checksum of
//! all the bytes before it. An entry: path, stamp, payload length, payload (the
//! [`RevisionFile`] fields but its path).

use super::RevisionFile;
use super::loading::FxHasher;
use std::collections::HashMap;
use std::fs;
use std::hash::{BuildHasherDefault, Hasher};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// Bump whenever `python_revision::read_static` (or anything it depends on) may answer
/// differently for the same bytes, or when the entry format changes.
pub(super) const PARSER_VERSION: u32 = 1;
const MAGIC: &[u8; 8] = b"RTHDRCHE";
/// A file modified less than this long before it was read is not recorded (see the module).
pub(super) const RACY_WINDOW: Duration = Duration::from_secs(2);
/// Projects with fewer revision files than this are read without a cache: parsing them costs
/// a few milliseconds, and a cache file per small (or temporary) project is not worth keeping.
pub(super) const MIN_FILES: usize = 256;

fn tool_id() -> String {
    format!(
        "retort-core {} parser {PARSER_VERSION}",
        env!("CARGO_PKG_VERSION")
    )
}

/// The cache file for the project whose configuration is `config_path`, in Retort's home;
/// `None` when there is no home.
pub(super) fn default_file(config_path: &Path) -> Option<PathBuf> {
    let home = crate::store::default_path().ok()?;
    let home = home.parent()?;
    let config = fs::canonicalize(config_path)
        .or_else(|_| std::path::absolute(config_path))
        .ok()?;
    let mut hasher = FxHasher::default();
    hasher.write(config.as_os_str().as_encoded_bytes());
    hasher.write_u64(config.as_os_str().len() as u64);
    Some(
        home.join("cache")
            .join(format!("headers-{:016x}.bin", hasher.finish())),
    )
}

/// What identifies one version of a file's content.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Stamp {
    size: u64,
    mtime_s: i64,
    mtime_ns: i64,
    ctime_s: i64,
    ctime_ns: i64,
    ino: u64,
    dev: u64,
}

impl Stamp {
    #[cfg(unix)]
    pub(super) fn of(meta: &fs::Metadata) -> Self {
        use std::os::unix::fs::MetadataExt;
        Self {
            size: meta.size(),
            mtime_s: meta.mtime(),
            mtime_ns: meta.mtime_nsec(),
            ctime_s: meta.ctime(),
            ctime_ns: meta.ctime_nsec(),
            ino: meta.ino(),
            dev: meta.dev(),
        }
    }

    #[cfg(not(unix))]
    pub(super) fn of(meta: &fs::Metadata) -> Self {
        let nanos = |t: std::io::Result<SystemTime>| {
            t.ok()
                .and_then(|t| t.duration_since(SystemTime::UNIX_EPOCH).ok())
                .map_or((-1, -1), |d| {
                    (d.as_secs() as i64, i64::from(d.subsec_nanos()))
                })
        };
        let (mtime_s, mtime_ns) = nanos(meta.modified());
        let (ctime_s, ctime_ns) = nanos(meta.created());
        Self {
            size: meta.len(),
            mtime_s,
            mtime_ns,
            ctime_s,
            ctime_ns,
            ino: 0,
            dev: 0,
        }
    }

    /// Whether a file with this stamp, read at `now`, may be recorded: its last change (mtime
    /// and ctime) is at least [`RACY_WINDOW`] older than `now`.
    pub(super) fn settled(&self, now: SystemTime) -> bool {
        let Ok(now) = now.duration_since(SystemTime::UNIX_EPOCH) else {
            return false;
        };
        let limit = now.saturating_sub(RACY_WINDOW);
        let at = |s: i64, ns: i64| {
            u64::try_from(s)
                .ok()
                .zip(u32::try_from(ns).ok().filter(|&ns| ns < 1_000_000_000))
                .map(|(s, ns)| Duration::new(s, ns))
        };
        matches!(
            (at(self.mtime_s, self.mtime_ns), at(self.ctime_s, self.ctime_ns)),
            (Some(m), Some(c)) if m < limit && c < limit
        )
    }

    fn encode(&self, out: &mut Vec<u8>) {
        for word in [
            self.size,
            self.mtime_s as u64,
            self.mtime_ns as u64,
            self.ctime_s as u64,
            self.ctime_ns as u64,
            self.ino,
            self.dev,
        ] {
            out.extend_from_slice(&word.to_le_bytes());
        }
    }

    fn decode(r: &mut Reader<'_>) -> Option<Self> {
        Some(Self {
            size: r.u64()?,
            mtime_s: r.u64()? as i64,
            mtime_ns: r.u64()? as i64,
            ctime_s: r.u64()? as i64,
            ctime_ns: r.u64()? as i64,
            ino: r.u64()?,
            dev: r.u64()?,
        })
    }
}

/// One entry of a cache file, borrowed from its bytes.
struct Entry<'a> {
    stamp: Stamp,
    payload: &'a [u8],
    /// The whole entry, copied as is when the cache is written again.
    raw: &'a [u8],
}

/// A cache file read and checked: its entries by path.
#[derive(Default)]
pub(super) struct Index<'a> {
    entries: Vec<Entry<'a>>,
    by_path: HashMap<&'a [u8], usize, BuildHasherDefault<FxHasher>>,
}

/// What the reading of one file left for the next cache.
pub(super) enum Note {
    /// Not recorded (an error, a file for Python, a file changed too recently, no cache).
    None,
    /// Answered from entry `n` of the index, still valid.
    Hit(usize),
    /// Read from the file: its new entry.
    Fresh(Vec<u8>),
}

impl<'a> Index<'a> {
    /// The index of a cache file's bytes; empty when they are not a valid cache of this build.
    pub(super) fn parse(bytes: &'a [u8]) -> Self {
        Self::try_parse(bytes).unwrap_or_default()
    }

    fn try_parse(bytes: &'a [u8]) -> Option<Self> {
        let body_len = bytes.len().checked_sub(8)?;
        let (body, sum) = bytes.split_at(body_len);
        if checksum(body).to_le_bytes() != sum {
            return None;
        }
        let mut r = Reader { bytes: body };
        if r.take(MAGIC.len())? != MAGIC || r.bytes_field()? != tool_id().as_bytes() {
            return None;
        }
        let count = r.u32()? as usize;
        let mut index = Self {
            entries: Vec::with_capacity(count.min(body.len() / 64)),
            by_path: HashMap::with_capacity_and_hasher(
                count.min(body.len() / 64),
                Default::default(),
            ),
        };
        for n in 0..count {
            let rest = r.bytes;
            let path = r.bytes_field()?;
            let stamp = Stamp::decode(&mut r)?;
            let payload = r.bytes_field()?;
            let raw = &rest[..rest.len() - r.bytes.len()];
            index.entries.push(Entry {
                stamp,
                payload,
                raw,
            });
            if index.by_path.insert(path, n).is_some() {
                return None;
            }
        }
        r.bytes.is_empty().then_some(index)
    }

    pub(super) fn len(&self) -> usize {
        self.entries.len()
    }

    /// Entry `n` as stored, to be copied into the next cache.
    pub(super) fn raw(&self, n: usize) -> &'a [u8] {
        self.entries[n].raw
    }

    /// The recorded revision of `path`, if the file's current stamp (`stat` now) is the
    /// recorded one: the revision and the entry's number.
    pub(super) fn lookup(&self, path: &Path) -> Option<(RevisionFile, usize)> {
        let n = *self.by_path.get(path.as_os_str().as_encoded_bytes())?;
        let entry = &self.entries[n];
        let stamp = Stamp::of(&fs::metadata(path).ok()?);
        if stamp != entry.stamp {
            return None;
        }
        Some((decode_revision(entry.payload, path.to_path_buf())?, n))
    }
}

/// The entry recording `rev`, read from `path` whose stamp (taken before reading) is `stamp`.
pub(super) fn encode_entry(path: &Path, stamp: &Stamp, rev: &RevisionFile) -> Vec<u8> {
    let mut payload = Vec::with_capacity(128 + rev.longdoc.len());
    put_bytes(&mut payload, rev.revision.as_bytes());
    for list in [&rev.down_revision, &rev.branch_labels, &rev.depends_on] {
        put_u32(&mut payload, list.len());
        for item in list {
            put_bytes(&mut payload, item.as_bytes());
        }
    }
    put_bytes(&mut payload, rev.longdoc.as_bytes());
    match &rev.create_date {
        Some(date) => {
            payload.push(1);
            put_bytes(&mut payload, date.as_bytes());
        }
        None => payload.push(0),
    }
    let path = path.as_os_str().as_encoded_bytes();
    let mut entry = Vec::with_capacity(payload.len() + path.len() + 72);
    put_bytes(&mut entry, path);
    stamp.encode(&mut entry);
    put_bytes(&mut entry, &payload);
    entry
}

fn decode_revision(payload: &[u8], path: PathBuf) -> Option<RevisionFile> {
    let mut r = Reader { bytes: payload };
    let revision = r.string()?;
    let mut lists: [Vec<String>; 3] = Default::default();
    for list in &mut lists {
        let len = r.u32()? as usize;
        if len > r.bytes.len() / 4 {
            return None;
        }
        list.reserve_exact(len);
        for _ in 0..len {
            list.push(r.string()?);
        }
    }
    let longdoc = r.string()?;
    let create_date = match r.take(1)?[0] {
        0 => None,
        1 => Some(r.string()?),
        _ => return None,
    };
    if !r.bytes.is_empty() {
        return None;
    }
    let [down_revision, branch_labels, depends_on] = lists;
    Some(RevisionFile {
        revision,
        down_revision,
        branch_labels,
        depends_on,
        longdoc,
        create_date,
        path,
        sql: None,
    })
}

/// The bytes of the cache file for these entries (in load order).
pub(super) fn encode_file<'e>(entries: impl Iterator<Item = &'e [u8]>) -> Vec<u8> {
    let entries: Vec<&[u8]> = entries.collect();
    let size: usize = entries.iter().map(|e| e.len()).sum();
    let id = tool_id();
    let mut out = Vec::with_capacity(size + id.len() + 32);
    out.extend_from_slice(MAGIC);
    put_bytes(&mut out, id.as_bytes());
    put_u32(&mut out, entries.len());
    for entry in entries {
        out.extend_from_slice(entry);
    }
    let sum = checksum(&out);
    out.extend_from_slice(&sum.to_le_bytes());
    out
}

/// The cache file's bytes, or nothing if it cannot be read.
pub(super) fn read(file: &Path) -> Vec<u8> {
    fs::read(file).unwrap_or_default()
}

/// Writes the cache file atomically (a temporary file renamed into place); any failure leaves
/// the old file (or none) and is otherwise ignored.
pub(super) fn write(file: &Path, bytes: &[u8]) {
    let Some(dir) = file.parent() else {
        return;
    };
    if fs::create_dir_all(dir).is_err() {
        return;
    }
    let mut name = file.file_name().unwrap_or_default().to_os_string();
    name.push(format!(".{}.tmp", std::process::id()));
    let temp = dir.join(name);
    let written = fs::File::create(&temp)
        .and_then(|mut f| f.write_all(bytes))
        .and_then(|()| fs::rename(&temp, file));
    if written.is_err() {
        let _ = fs::remove_file(&temp);
    }
}

/// A 64-bit checksum (FxHash's mixing, word by word, and the length): any change of one word,
/// and any truncation, changes it.
fn checksum(bytes: &[u8]) -> u64 {
    let mut hasher = FxHasher::default();
    hasher.write(bytes);
    hasher.write_u64(bytes.len() as u64);
    hasher.finish()
}

fn put_u32(out: &mut Vec<u8>, n: usize) {
    // Lengths of paths, strings and lists: far below 4 GiB.
    out.extend_from_slice(&u32::try_from(n).unwrap_or(u32::MAX).to_le_bytes());
}

fn put_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    put_u32(out, bytes.len());
    out.extend_from_slice(bytes);
}

/// Bounds-checked reading of an entry's fields.
struct Reader<'a> {
    bytes: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if n > self.bytes.len() {
            return None;
        }
        let (head, rest) = self.bytes.split_at(n);
        self.bytes = rest;
        Some(head)
    }

    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes(self.take(4)?.try_into().ok()?))
    }

    fn u64(&mut self) -> Option<u64> {
        Some(u64::from_le_bytes(self.take(8)?.try_into().ok()?))
    }

    fn bytes_field(&mut self) -> Option<&'a [u8]> {
        let len = self.u32()? as usize;
        self.take(len)
    }

    fn string(&mut self) -> Option<String> {
        std::str::from_utf8(self.bytes_field()?)
            .ok()
            .map(str::to_owned)
    }
}
