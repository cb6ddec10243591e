//! The local accounting log: one JSON object per line for every session start and stop, and
//! for every session that failed before it came up, so that nothing is lost when no RADIUS
//! server is configured.
//!
//! Durability: each record is written with one `write` on a file opened in append mode and
//! then `fdatasync`ed before [`AccountingLog::append`] returns, so a record reported written
//! survives a crash or power loss (one sync per session event is cheap at session rates).
//!
//! Crashes: a process killed mid-write can leave a torn last line. [`AccountingLog::open`]
//! terminates such a line with a newline so the next record starts on a line of its own,
//! and [`Records`] reports it as [`ReadItem::Bad`] and goes on: a torn line never breaks
//! later records.
//!
//! Rotation: when a record would grow the file past the configured size, the file is renamed
//! to `path.1` (`path.1` to `path.2` and so on, the oldest beyond `keep` deleted) and a new
//! one started.

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::net::Ipv4Addr;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::config::Ipv6Prefix;
use crate::store::sync_dir;
use crate::time::Timestamp;

/// Longest line the reader accepts; longer ones are skipped as bad.
pub const MAX_LINE: usize = 64 * 1024;

/// A session came up.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionStart {
    /// When.
    pub time: Timestamp,
    /// Session id (unique within a routerd run).
    pub session: u64,
    /// Authenticated user name (empty when the peer was not authenticated, e.g. relayed).
    pub user: String,
    /// Link name from the configuration.
    pub link: String,
    /// The peer as the link plugin describes it (address, calling number...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peer: Option<String>,
    /// IPv4 address assigned to the peer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ipv4: Option<Ipv4Addr>,
    /// IPv6 prefix delegated to the peer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ipv6_prefix: Option<Ipv6Prefix>,
}

/// A session ended. Byte and packet counts are from our side: `in` received from the peer,
/// `out` sent to it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionStop {
    /// When.
    pub time: Timestamp,
    /// Session id.
    pub session: u64,
    /// Authenticated user name.
    pub user: String,
    /// Link name.
    pub link: String,
    /// The peer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peer: Option<String>,
    /// IPv4 address the peer had.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ipv4: Option<Ipv4Addr>,
    /// IPv6 prefix the peer had.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ipv6_prefix: Option<Ipv6Prefix>,
    /// When the session came up.
    pub started: Timestamp,
    /// How long it lasted, in milliseconds.
    pub duration_ms: u64,
    /// Octets received from the peer.
    pub bytes_in: u64,
    /// Octets sent to the peer.
    pub bytes_out: u64,
    /// Packets received from the peer.
    pub packets_in: u64,
    /// Packets sent to the peer.
    pub packets_out: u64,
    /// Why it ended (e.g. "peer-terminated", "idle-timeout", "admin-kill").
    pub reason: String,
}

/// A session that ended before it came up: LCP or authentication failed, a limit refused
/// it, no address could be assigned, a relayed call was not connected. It has no
/// [`SessionStart`] record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionFailed {
    /// When.
    pub time: Timestamp,
    /// Session id.
    pub session: u64,
    /// The user name, if it was learnt (authenticated, or presented by the peer).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// Link name.
    pub link: String,
    /// The peer as the link plugin describes it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peer: Option<String>,
    /// When the call came in (or was placed).
    pub started: Timestamp,
    /// How long it lasted, in milliseconds.
    pub duration_ms: u64,
    /// Why it failed.
    pub reason: String,
}

/// One line of the log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Record {
    /// A session came up.
    Start(SessionStart),
    /// A session ended.
    Stop(SessionStop),
    /// A session ended before it came up.
    Failed(SessionFailed),
}

impl Record {
    /// The session the record is about.
    pub fn session(&self) -> u64 {
        match self {
            Record::Start(s) => s.session,
            Record::Stop(s) => s.session,
            Record::Failed(s) => s.session,
        }
    }

    /// When it happened.
    pub fn time(&self) -> Timestamp {
        match self {
            Record::Start(s) => s.time,
            Record::Stop(s) => s.time,
            Record::Failed(s) => s.time,
        }
    }
}

/// Errors writing the log.
#[derive(Debug, thiserror::Error)]
pub enum AccountingError {
    /// A file operation failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// The record could not be encoded.
    #[error("encoding an accounting record: {0}")]
    Encode(#[from] serde_json::Error),
}

/// The path of rotated file `n` (1 is the newest): `path.n`.
pub fn rotated_path(path: &Path, n: u32) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(format!(".{n}"));
    PathBuf::from(s)
}

/// The appending side.
#[derive(Debug)]
pub struct AccountingLog {
    path: PathBuf,
    file: File,
    size: u64,
    rotate_size: u64,
    keep: u32,
}

fn open_append(path: &Path) -> io::Result<File> {
    OpenOptions::new()
        .read(true)
        .append(true)
        .create(true)
        .mode(0o600)
        .open(path)
}

impl AccountingLog {
    /// Opens (or creates, mode 0600) the log at `path` for appending; rotates past
    /// `rotate_size` bytes keeping `keep` old files (at least 1). A torn last line left by a
    /// crash is terminated so that it stays a line of its own.
    pub fn open(path: &Path, rotate_size: u64, keep: u32) -> Result<Self, AccountingError> {
        let io = |source| AccountingError::Io {
            path: path.to_owned(),
            source,
        };
        let mut file = open_append(path).map_err(io)?;
        let mut size = file.metadata().map_err(io)?.len();
        if size > 0 {
            let mut last = [0u8; 1];
            file.seek(SeekFrom::Start(size - 1)).map_err(io)?;
            file.read_exact(&mut last).map_err(io)?;
            if last != *b"\n" {
                file.write_all(b"\n").map_err(io)?;
                file.sync_data().map_err(io)?;
                size += 1;
            }
        }
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            sync_dir(dir).map_err(|source| AccountingError::Io {
                path: dir.to_owned(),
                source,
            })?;
        }
        Ok(AccountingLog {
            path: path.to_owned(),
            file,
            size,
            rotate_size: rotate_size.max(1),
            keep: keep.max(1),
        })
    }

    /// The log's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Bytes in the current file.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Appends `record` as one line and syncs it to disk before returning.
    pub fn append(&mut self, record: &Record) -> Result<(), AccountingError> {
        let mut line = serde_json::to_vec(record)?;
        line.push(b'\n');
        let len = u64::try_from(line.len()).unwrap_or(u64::MAX);
        if self.size > 0 && self.size.saturating_add(len) > self.rotate_size {
            self.rotate()?;
        }
        let io = |source| AccountingError::Io {
            path: self.path.clone(),
            source,
        };
        self.file.write_all(&line).map_err(io)?;
        self.file.sync_data().map_err(io)?;
        self.size += len;
        Ok(())
    }

    /// Starts a new file now: `path` becomes `path.1`, `path.1` becomes `path.2`, ..., and
    /// the file beyond `keep` is deleted.
    pub fn rotate(&mut self) -> Result<(), AccountingError> {
        let io = |path: &Path| {
            let path = path.to_owned();
            move |source| AccountingError::Io { path, source }
        };
        let oldest = rotated_path(&self.path, self.keep);
        match fs::remove_file(&oldest) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(io(&oldest)(e)),
        }
        for n in (1..self.keep).rev() {
            let from = rotated_path(&self.path, n);
            match fs::rename(&from, rotated_path(&self.path, n + 1)) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(io(&from)(e)),
            }
        }
        fs::rename(&self.path, rotated_path(&self.path, 1)).map_err(io(&self.path))?;
        self.file = open_append(&self.path).map_err(io(&self.path))?;
        self.size = 0;
        if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            sync_dir(dir).map_err(io(dir))?;
        }
        Ok(())
    }
}

/// The files of the log at `path` that exist, oldest first: `path.keep`, ..., `path.1`,
/// `path`.
pub fn log_files(path: &Path, keep: u32) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = (1..=keep)
        .rev()
        .map(|n| rotated_path(path, n))
        .filter(|p| p.exists())
        .collect();
    if path.exists() {
        out.push(path.to_owned());
    }
    out
}

/// One item read from the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReadItem {
    /// A record.
    Record(Record),
    /// A line that is not a record (torn by a crash, or too long), skipped.
    Bad {
        /// The file.
        file: PathBuf,
        /// Its line number, from 1.
        line: u64,
    },
}

/// Iterates the records of the log and its rotated files, oldest first.
#[derive(Debug)]
pub struct Records {
    files: std::vec::IntoIter<PathBuf>,
    current: Option<(PathBuf, BufReader<File>, u64)>,
    buf: Vec<u8>,
}

impl Records {
    /// Reads the log at `path` with up to `keep` rotated files.
    pub fn open(path: &Path, keep: u32) -> Records {
        Records {
            files: log_files(path, keep).into_iter(),
            current: None,
            buf: Vec::new(),
        }
    }

    /// Every record, skipping bad lines; also returns how many were skipped.
    pub fn read_all(path: &Path, keep: u32) -> io::Result<(Vec<Record>, u64)> {
        let mut records = Vec::new();
        let mut bad = 0;
        for item in Records::open(path, keep) {
            match item? {
                ReadItem::Record(r) => records.push(r),
                ReadItem::Bad { .. } => bad += 1,
            }
        }
        Ok((records, bad))
    }
}

/// Reads one line of at most [`MAX_LINE`] bytes into `buf` (without the newline);
/// `Ok(None)` at the end, `Ok(Some(false))` when the line was longer (its rest is skipped).
fn read_line(reader: &mut impl BufRead, buf: &mut Vec<u8>) -> io::Result<Option<bool>> {
    buf.clear();
    let mut any = false;
    let mut fits = true;
    loop {
        let chunk = reader.fill_buf()?;
        if chunk.is_empty() {
            return Ok(any.then_some(fits));
        }
        any = true;
        let (part, done) = match chunk.iter().position(|&b| b == b'\n') {
            Some(i) => (chunk.get(..i).unwrap_or(chunk), Some(i + 1)),
            None => (chunk, None),
        };
        if fits && buf.len() + part.len() <= MAX_LINE {
            buf.extend_from_slice(part);
        } else {
            fits = false;
            buf.clear();
        }
        let used = done.unwrap_or(chunk.len());
        reader.consume(used);
        if done.is_some() {
            return Ok(Some(fits));
        }
    }
}

impl Iterator for Records {
    type Item = io::Result<ReadItem>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if self.current.is_none() {
                let path = self.files.next()?;
                match File::open(&path) {
                    Ok(f) => self.current = Some((path, BufReader::new(f), 0)),
                    // Rotated away between listing and opening: nothing lost, read on.
                    Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                    Err(e) => return Some(Err(e)),
                }
            }
            let (path, reader, line) = self.current.as_mut()?;
            match read_line(reader, &mut self.buf) {
                Err(e) => {
                    self.current = None;
                    return Some(Err(e));
                }
                Ok(None) => {
                    self.current = None;
                }
                Ok(Some(fits)) => {
                    *line += 1;
                    if fits && self.buf.iter().all(u8::is_ascii_whitespace) {
                        continue;
                    }
                    let parsed = fits
                        .then(|| serde_json::from_slice::<Record>(&self.buf).ok())
                        .flatten();
                    return Some(Ok(match parsed {
                        Some(r) => ReadItem::Record(r),
                        None => ReadItem::Bad {
                            file: path.clone(),
                            line: *line,
                        },
                    }));
                }
            }
        }
    }
}
