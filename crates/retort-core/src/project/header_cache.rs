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
use rustc_hash::FxHasher;
use std::collections::HashMap;
use std::fs;
use std::hash::Hasher;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{Duration, SystemTime};

/// Bump whenever `python_revision::read_static` (or anything it depends on) may answer
/// differently for the same bytes, or when the entry format changes.
pub(super) const PARSER_VERSION: u32 = 2;
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
    let home = crate::home::dir()?;
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
    fn of_stat(st: &libc::stat) -> Self {
        // The fields' types differ between systems; these are the values `std` reports too.
        #[allow(clippy::unnecessary_cast)]
        Self {
            size: st.st_size as u64,
            mtime_s: st.st_mtime as i64,
            mtime_ns: st.st_mtime_nsec as i64,
            ctime_s: st.st_ctime as i64,
            ctime_ns: st.st_ctime_nsec as i64,
            ino: st.st_ino as u64,
            dev: st.st_dev as u64,
        }
    }

    /// The stamp a `stat`-like call writes into its buffer, if it succeeds (returns 0).
    #[cfg(unix)]
    fn by(call: impl FnOnce(*mut libc::stat) -> libc::c_int) -> Option<Self> {
        let mut st = std::mem::MaybeUninit::<libc::stat>::uninit();
        let rc = call(st.as_mut_ptr());
        // SAFETY: the call wrote `st` when it succeeded, and it is read only then.
        (rc == 0).then(|| Self::of_stat(unsafe { st.assume_init_ref() }))
    }

    /// The stamp of an open file (`fstat`), and whether it is a regular file (one `fstat`
    /// answers both: a FIFO or a device must not be read as a revision).
    #[cfg(unix)]
    pub(super) fn of_file(file: &fs::File) -> std::io::Result<(Self, bool)> {
        use std::os::fd::AsRawFd;
        let mut st = std::mem::MaybeUninit::<libc::stat>::uninit();
        // SAFETY: the descriptor is open; `st` is a valid buffer.
        if unsafe { libc::fstat(file.as_raw_fd(), st.as_mut_ptr()) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
        // SAFETY: `fstat` succeeded, so it wrote `st`.
        let st = unsafe { st.assume_init_ref() };
        Ok((
            Self::of_stat(st),
            st.st_mode & libc::S_IFMT == libc::S_IFREG,
        ))
    }

    #[cfg(not(unix))]
    pub(super) fn of_file(file: &fs::File) -> std::io::Result<(Self, bool)> {
        let meta = file.metadata()?;
        Ok((Self::of(&meta), meta.is_file()))
    }

    #[cfg(not(unix))]
    fn of(meta: &fs::Metadata) -> Self {
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
    path: &'a [u8],
    stamp: Stamp,
    payload: &'a [u8],
    /// The whole entry, copied as is when the cache is written again.
    raw: &'a [u8],
}

/// A cache file read and checked: its entries, in the load order they were written in, and
/// (made when first needed: the files usually come in that same order) by path.
#[derive(Default)]
pub(super) struct Index<'a> {
    entries: Vec<Entry<'a>>,
    by_path: OnceLock<HashMap<&'a [u8], usize, rustc_hash::FxBuildHasher>>,
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
    #[cfg(test)]
    pub(super) fn parse(bytes: &'a [u8]) -> Self {
        match verified_body(bytes) {
            Some(body) => Self::try_parse(body).unwrap_or_default(),
            None => Self::default(),
        }
    }

    /// [`Index::parse`] of bytes given by [`read`], whose checksum it has checked.
    pub(super) fn parse_read(bytes: &'a [u8]) -> Self {
        let body = &bytes[..bytes.len().saturating_sub(8)];
        Self::try_parse(body).unwrap_or_default()
    }

    fn try_parse(body: &'a [u8]) -> Option<Self> {
        let mut r = Reader { bytes: body };
        if r.take(MAGIC.len())? != MAGIC || r.bytes_field()? != tool_id().as_bytes() {
            return None;
        }
        let count = r.u32()? as usize;
        let mut index = Self {
            entries: Vec::with_capacity(count.min(body.len() / 64)),
            by_path: OnceLock::new(),
        };
        for _ in 0..count {
            let rest = r.bytes;
            let path = r.bytes_field()?;
            let stamp = Stamp::decode(&mut r)?;
            let payload = r.bytes_field()?;
            let raw = &rest[..rest.len() - r.bytes.len()];
            index.entries.push(Entry {
                path,
                stamp,
                payload,
                raw,
            });
        }
        r.bytes.is_empty().then_some(index)
    }

    /// The entry of `path`: entry `guess` when it is that file's, else looked up by path.
    /// (Two entries of one path, which the writer never makes, would both be valid answers:
    /// an entry is used only when its file's stamp is the recorded one.)
    fn find(&self, path: &[u8], guess: usize) -> Option<usize> {
        if self.entries.get(guess).is_some_and(|e| e.path == path) {
            return Some(guess);
        }
        let by_path = self.by_path.get_or_init(|| {
            let mut map = HashMap::with_capacity_and_hasher(self.entries.len(), Default::default());
            for (n, entry) in self.entries.iter().enumerate() {
                map.entry(entry.path).or_insert(n);
            }
            map
        });
        by_path.get(path).copied()
    }

    pub(super) fn len(&self) -> usize {
        self.entries.len()
    }

    /// Entry `n` as stored, to be copied into the next cache.
    pub(super) fn raw(&self, n: usize) -> &'a [u8] {
        self.entries[n].raw
    }

    /// The recorded revision of `path`, if the file's current stamp (taken now through `stat`)
    /// is the recorded one: the revision and the entry's number.
    /// `guess` is the entry number it probably has (the files come in the order they were
    /// recorded in).
    pub(super) fn lookup(
        &self,
        path: &Path,
        guess: usize,
        stat: &mut StatAt,
    ) -> Option<(RevisionFile, usize)> {
        let n = self.find(path.as_os_str().as_encoded_bytes(), guess)?;
        let entry = &self.entries[n];
        if stat.stamp(path)? != entry.stamp {
            return None;
        }
        Some((decode_revision(entry.payload, path.to_path_buf())?, n))
    }
}

/// `stat` of files by name in their folder, opened once for the files that follow in the
/// same folder: the kernel then looks up one name instead of walking the whole path (a
/// third of the time of 10,000 `stat`s on Linux).
#[derive(Default)]
pub(super) struct StatAt {
    #[cfg(unix)]
    dir: Option<(PathBuf, Option<std::os::fd::OwnedFd>)>,
    #[cfg(unix)]
    name: Vec<u8>,
}

impl StatAt {
    /// The stamp of the file at `path` (symlinks followed, as `fs::metadata` does).
    #[cfg(unix)]
    pub(super) fn stamp(&mut self, path: &Path) -> Option<Stamp> {
        use std::os::fd::AsRawFd;
        use std::os::unix::ffi::OsStrExt;
        let (Some(parent), Some(name)) = (path.parent(), path.file_name()) else {
            return Self::stamp_by_path(path);
        };
        if self.dir.as_ref().is_none_or(|(dir, _)| dir != parent) {
            // A folder that cannot be opened: whole paths for its files.
            let fd = fs::File::open(parent).ok().map(std::os::fd::OwnedFd::from);
            self.dir = Some((parent.to_path_buf(), fd));
        }
        let Some((_, Some(dir))) = &self.dir else {
            return Self::stamp_by_path(path);
        };
        self.name.clear();
        self.name.extend_from_slice(name.as_bytes());
        self.name.push(0);
        // SAFETY: `name` is NUL-terminated (a file name holds no NUL); `st` is a valid buffer.
        Stamp::by(|st| unsafe { libc::fstatat(dir.as_raw_fd(), self.name.as_ptr().cast(), st, 0) })
    }

    #[cfg(unix)]
    fn stamp_by_path(path: &Path) -> Option<Stamp> {
        use std::os::unix::ffi::OsStrExt;
        let path = std::ffi::CString::new(path.as_os_str().as_bytes()).ok()?;
        // SAFETY: `path` is NUL-terminated; `st` is a valid buffer.
        Stamp::by(|st| unsafe { libc::stat(path.as_ptr(), st) })
    }

    #[cfg(not(unix))]
    pub(super) fn stamp(&mut self, path: &Path) -> Option<Stamp> {
        fs::metadata(path).ok().map(|meta| Stamp::of(&meta))
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

/// The cache file's bytes, or nothing if it cannot be read or its checksum is wrong (checked
/// here: this runs on a thread of its own while the folders are listed).
pub(super) fn read(file: &Path) -> Vec<u8> {
    let bytes = fs::read(file).unwrap_or_default();
    if verified_body(&bytes).is_some() {
        bytes
    } else {
        Vec::new()
    }
}

/// The bytes before the checksum, if it is theirs.
fn verified_body(bytes: &[u8]) -> Option<&[u8]> {
    let body_len = bytes.len().checked_sub(8)?;
    let (body, sum) = bytes.split_at(body_len);
    (checksum(body).to_le_bytes() == sum).then_some(body)
}

/// Writes the cache file atomically (a temporary file renamed into place); any failure leaves
/// the old file (or none) and is otherwise ignored.
pub(super) fn write(file: &Path, bytes: &[u8]) {
    let Some(dir) = file.parent() else {
        return;
    };
    if crate::private::create_dir_all(dir).is_err() {
        return;
    }
    let mut name = file.file_name().unwrap_or_default().to_os_string();
    name.push(format!(".{}.tmp", std::process::id()));
    let temp = dir.join(name);
    let written = crate::private::create_file(&temp)
        .and_then(|mut f| f.write_all(bytes))
        .and_then(|()| fs::rename(&temp, file));
    if written.is_err() {
        let _ = fs::remove_file(&temp);
    }
}

/// A 64-bit checksum (FxHash of the bytes and their length): a torn or truncated write is
/// caught with all but a 2^-64 chance; the file is a cache, never the only copy.
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
