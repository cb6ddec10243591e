//! The configuration store in the state directory: crash-safe writes, kept versions with
//! timestamps and reasons, rollback, and apply as a transaction.
//!
//! Layout of the store directory (the daemon uses `<state_dir>/config`):
//!
//! ```text
//! current.toml            the configuration routerd boots with
//! versions/0000000042.toml  every kept version, verbatim (comments included)
//! index.json              committed versions: number, time, reason; which one is current
//! ```
//!
//! Every file is replaced with [`write_atomic`] (temporary file in the same directory, fsync,
//! rename over, fsync of the directory), so a crash leaves each file old or new, never torn.
//! The index is the commit point of [`ConfigStore::apply`]: a crash between writing
//! `current.toml` and the index leaves an uncommitted configuration, which
//! [`ConfigStore::open`] replaces with the last committed one.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use serde::{Deserialize, Serialize};

use crate::config::{ConfigDiff, ConfigErrors, Document};
use crate::time::Timestamp;

/// Suffix marking temporary files of [`write_atomic`]; leftovers from a crash carry it.
const TEMP_MARK: &str = ".tmp-";

static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// Opens a directory and fsyncs it, making renames and unlinks in it durable.
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// Replaces `path` with `contents` crash-safely: writes a temporary file (mode 0600) in the
/// same directory, fsyncs it, renames it over `path` and fsyncs the directory. After a crash
/// at any point `path` holds either its old or its new contents, never a mix; a leftover
/// temporary file is named `.<name>.tmp-<pid>-<n>` (see [`remove_stale_temps`]).
pub fn write_atomic(path: &Path, contents: &[u8]) -> io::Result<()> {
    let dir = parent_dir(path);
    let name = path
        .file_name()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "path has no file name"))?;
    let n = TEMP_COUNTER.fetch_add(1, Ordering::Relaxed);
    let mut tmp_name = std::ffi::OsString::from(".");
    tmp_name.push(name);
    tmp_name.push(format!("{TEMP_MARK}{}-{n}", std::process::id()));
    let tmp = dir.join(tmp_name);
    let result = (|| {
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)?;
        file.write_all(contents)?;
        file.sync_all()?;
        drop(file);
        fs::rename(&tmp, path)
    })();
    if let Err(e) = result {
        let _ = fs::remove_file(&tmp);
        return Err(e);
    }
    sync_dir(dir)
}

/// Removes temporary files [`write_atomic`] left in `dir` when a process died mid-write.
/// Call it only when no other process writes there.
pub fn remove_stale_temps(dir: &Path) -> io::Result<()> {
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with('.') && name.contains(TEMP_MARK) {
            fs::remove_file(entry.path())?;
        }
    }
    Ok(())
}

/// One kept configuration version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VersionInfo {
    /// Version number (increasing, never reused).
    pub version: u64,
    /// When it was committed.
    pub time: Timestamp,
    /// Why (given by whoever applied it).
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Index {
    format: u32,
    current: u64,
    next: u64,
    versions: Vec<VersionInfo>,
}

const INDEX_FORMAT: u32 = 1;

/// Errors of the store itself.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A file operation failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// The directory holds no store yet (see [`ConfigStore::init`]).
    #[error("{}: no configuration store here", .0.display())]
    NotInitialized(PathBuf),
    /// [`ConfigStore::init`] found a store already there.
    #[error("{}: a configuration store exists already", .0.display())]
    AlreadyInitialized(PathBuf),
    /// The index cannot be read.
    #[error("{}: corrupt index: {message}", path.display())]
    CorruptIndex {
        /// The index file.
        path: PathBuf,
        /// Why.
        message: String,
    },
    /// A stored version is not a valid configuration (for example after a schema change).
    #[error("{0}")]
    Invalid(ConfigErrors),
    /// No such version is kept.
    #[error("configuration version {0} is not kept")]
    UnknownVersion(u64),
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> StoreError + '_ {
    move |source| StoreError::Io {
        path: path.to_owned(),
        source,
    }
}

/// Why [`ConfigStore::apply`] did not apply a configuration.
#[derive(Debug, thiserror::Error)]
pub enum ApplyError<E> {
    /// The new configuration is invalid; nothing was written.
    #[error("{0}")]
    Invalid(ConfigErrors),
    /// Writing the new configuration failed before the callback ran; the store is unchanged
    /// (`current.toml` was restored if it had been replaced).
    #[error("writing the configuration: {0}")]
    Store(StoreError),
    /// The apply callback failed; `current.toml` was restored and the history is unchanged.
    #[error("applying the configuration: {0}")]
    Rejected(E),
    /// The apply callback failed and restoring the previous `current.toml` failed too. The
    /// index still names the previous version, so [`ConfigStore::open`] restores it.
    #[error("applying the configuration: {rejected}; restoring the previous one: {restore}")]
    RestoreFailed {
        /// The callback's error.
        rejected: E,
        /// The restore's error.
        restore: StoreError,
    },
    /// The callback succeeded but the new version could not be committed to the index: the
    /// runtime runs the new configuration while the store (and the next boot) has the
    /// previous one. The caller should re-apply the previous configuration to its runtime.
    #[error("committing the configuration: {0}")]
    Commit(StoreError),
}

/// A committed change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applied {
    /// The new current version.
    pub version: u64,
    /// What changed relative to the previous current version.
    pub diff: ConfigDiff,
}

/// The configuration store. Keeps as many versions as the current configuration's
/// `system.config_history` says (the current one included).
#[derive(Debug)]
pub struct ConfigStore {
    dir: PathBuf,
    index: Index,
    current: Document,
    recovered: bool,
}

impl ConfigStore {
    fn index_path(dir: &Path) -> PathBuf {
        dir.join("index.json")
    }

    fn current_path(dir: &Path) -> PathBuf {
        dir.join("current.toml")
    }

    fn versions_dir(dir: &Path) -> PathBuf {
        dir.join("versions")
    }

    fn version_path(dir: &Path, version: u64) -> PathBuf {
        Self::versions_dir(dir).join(format!("{version:010}.toml"))
    }

    /// Creates a store in `dir` (created if missing) whose first version is `initial`.
    pub fn init(dir: &Path, initial: &Document, reason: &str) -> Result<Self, StoreError> {
        let index_path = Self::index_path(dir);
        if index_path.exists() {
            return Err(StoreError::AlreadyInitialized(dir.to_owned()));
        }
        let versions = Self::versions_dir(dir);
        fs::create_dir_all(&versions).map_err(io_err(&versions))?;
        sync_dir(dir).map_err(io_err(dir))?;
        let index = Index {
            format: INDEX_FORMAT,
            current: 1,
            next: 2,
            versions: vec![VersionInfo {
                version: 1,
                time: Timestamp::now(),
                reason: reason.to_owned(),
            }],
        };
        let v1 = Self::version_path(dir, 1);
        write_atomic(&v1, initial.text().as_bytes()).map_err(io_err(&v1))?;
        let cur = Self::current_path(dir);
        write_atomic(&cur, initial.text().as_bytes()).map_err(io_err(&cur))?;
        Self::write_index(dir, &index)?;
        Ok(ConfigStore {
            dir: dir.to_owned(),
            index,
            current: initial.clone(),
            recovered: false,
        })
    }

    /// Opens the store in `dir`, or creates it with `initial` when there is none.
    pub fn open_or_init(dir: &Path, initial: &Document, reason: &str) -> Result<Self, StoreError> {
        match Self::open(dir) {
            Err(StoreError::NotInitialized(_)) => Self::init(dir, initial, reason),
            other => other,
        }
    }

    /// Opens the store in `dir`, finishing what a crash interrupted: leftover temporary
    /// files are removed, an uncommitted `current.toml` is replaced by the committed
    /// version, and version files the index does not list are deleted.
    pub fn open(dir: &Path) -> Result<Self, StoreError> {
        let index_path = Self::index_path(dir);
        let raw = match fs::read(&index_path) {
            Ok(raw) => raw,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(StoreError::NotInitialized(dir.to_owned()));
            }
            Err(e) => return Err(io_err(&index_path)(e)),
        };
        let corrupt = |message: String| StoreError::CorruptIndex {
            path: index_path.clone(),
            message,
        };
        let index: Index = serde_json::from_slice(&raw).map_err(|e| corrupt(e.to_string()))?;
        if index.format != INDEX_FORMAT {
            return Err(corrupt(format!("unknown format {}", index.format)));
        }
        if !index.versions.iter().any(|v| v.version == index.current)
            || index.versions.iter().any(|v| v.version >= index.next)
        {
            return Err(corrupt("inconsistent version numbers".to_owned()));
        }
        let versions = Self::versions_dir(dir);
        remove_stale_temps(dir).map_err(io_err(dir))?;
        remove_stale_temps(&versions).map_err(io_err(&versions))?;
        let current = Self::read_version(dir, index.current)?;
        let cur = Self::current_path(dir);
        let on_disk = match fs::read(&cur) {
            Ok(b) => Some(b),
            Err(e) if e.kind() == io::ErrorKind::NotFound => None,
            Err(e) => return Err(io_err(&cur)(e)),
        };
        let recovered = on_disk.as_deref() != Some(current.text().as_bytes());
        if recovered {
            write_atomic(&cur, current.text().as_bytes()).map_err(io_err(&cur))?;
        }
        let mut store = ConfigStore {
            dir: dir.to_owned(),
            index,
            current,
            recovered,
        };
        store.remove_unlisted_versions()?;
        Ok(store)
    }

    fn read_version(dir: &Path, version: u64) -> Result<Document, StoreError> {
        let path = Self::version_path(dir, version);
        let text = fs::read_to_string(&path).map_err(io_err(&path))?;
        Document::parse(path.display().to_string(), text).map_err(StoreError::Invalid)
    }

    fn write_index(dir: &Path, index: &Index) -> Result<(), StoreError> {
        let path = Self::index_path(dir);
        let mut json = serde_json::to_vec_pretty(index).map_err(|e| StoreError::Io {
            path: path.clone(),
            source: io::Error::other(e),
        })?;
        json.push(b'\n');
        write_atomic(&path, &json).map_err(io_err(&path))
    }

    fn remove_unlisted_versions(&mut self) -> Result<(), StoreError> {
        let versions = Self::versions_dir(&self.dir);
        let mut removed = false;
        for entry in fs::read_dir(&versions).map_err(io_err(&versions))? {
            let entry = entry.map_err(io_err(&versions))?;
            let name = entry.file_name();
            let listed = name
                .to_str()
                .and_then(|n| n.strip_suffix(".toml"))
                .and_then(|n| n.parse::<u64>().ok())
                .is_some_and(|v| self.index.versions.iter().any(|i| i.version == v));
            if !listed {
                let p = entry.path();
                fs::remove_file(&p).map_err(io_err(&p))?;
                removed = true;
            }
        }
        if removed {
            sync_dir(&versions).map_err(io_err(&versions))?;
        }
        Ok(())
    }

    /// The store directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The path of the file routerd boots with.
    pub fn current_file(&self) -> PathBuf {
        Self::current_path(&self.dir)
    }

    /// Whether [`open`](Self::open) had to restore the committed configuration (an apply
    /// was interrupted by a crash).
    pub fn recovered(&self) -> bool {
        self.recovered
    }

    /// The current configuration.
    pub fn current(&self) -> &Document {
        &self.current
    }

    /// The current version number.
    pub fn current_version(&self) -> u64 {
        self.index.current
    }

    /// The kept versions, oldest first (the current one is the newest).
    pub fn history(&self) -> &[VersionInfo] {
        &self.index.versions
    }

    /// A kept version.
    pub fn get(&self, version: u64) -> Result<Document, StoreError> {
        if !self.index.versions.iter().any(|v| v.version == version) {
            return Err(StoreError::UnknownVersion(version));
        }
        Self::read_version(&self.dir, version)
    }

    /// Parses and validates `text`, then [`apply`](Self::apply)s it.
    pub fn apply_text<E>(
        &mut self,
        name: &str,
        text: &str,
        reason: &str,
        on_apply: impl FnOnce(&ConfigDiff, &Document) -> Result<(), E>,
    ) -> Result<Applied, ApplyError<E>> {
        let doc = Document::parse(name, text).map_err(ApplyError::Invalid)?;
        self.apply(&doc, reason, on_apply)
    }

    /// Applies `new` as a transaction: writes it as the next version and as `current.toml`,
    /// calls `on_apply` with the diff from the current configuration, and then either
    /// commits it to the history (callback `Ok`) or restores the previous `current.toml`
    /// and leaves the history unchanged (callback `Err`).
    pub fn apply<E>(
        &mut self,
        new: &Document,
        reason: &str,
        on_apply: impl FnOnce(&ConfigDiff, &Document) -> Result<(), E>,
    ) -> Result<Applied, ApplyError<E>> {
        let diff = ConfigDiff::between(self.current.config(), new.config());
        let version = self.index.next;
        let vpath = Self::version_path(&self.dir, version);
        let cur = Self::current_path(&self.dir);
        write_atomic(&vpath, new.text().as_bytes())
            .map_err(|e| ApplyError::Store(io_err(&vpath)(e)))?;
        if let Err(e) = write_atomic(&cur, new.text().as_bytes()) {
            let _ = self.undo(&vpath);
            return Err(ApplyError::Store(io_err(&cur)(e)));
        }
        if let Err(rejected) = on_apply(&diff, new) {
            return Err(match self.undo(&vpath) {
                Ok(()) => ApplyError::Rejected(rejected),
                Err(restore) => ApplyError::RestoreFailed { rejected, restore },
            });
        }
        let mut index = self.index.clone();
        index.versions.push(VersionInfo {
            version,
            time: Timestamp::now(),
            reason: reason.to_owned(),
        });
        index.current = version;
        index.next = version + 1;
        let keep = usize::try_from(new.config().system.config_history)
            .unwrap_or(usize::MAX)
            .max(1);
        let excess = index.versions.len().saturating_sub(keep);
        let pruned: Vec<VersionInfo> = index.versions.drain(..excess).collect();
        Self::write_index(&self.dir, &index).map_err(ApplyError::Commit)?;
        // Committed. Pruned files that cannot be removed now are removed by the next open.
        for v in &pruned {
            let _ = fs::remove_file(Self::version_path(&self.dir, v.version));
        }
        self.index = index;
        self.current = new.clone();
        Ok(Applied { version, diff })
    }

    /// Puts the previous configuration back in `current.toml` and drops the uncommitted
    /// version file.
    fn undo(&self, vpath: &Path) -> Result<(), StoreError> {
        let cur = Self::current_path(&self.dir);
        write_atomic(&cur, self.current.text().as_bytes()).map_err(io_err(&cur))?;
        match fs::remove_file(vpath) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(io_err(vpath)(e)),
        }
        let versions = Self::versions_dir(&self.dir);
        sync_dir(&versions).map_err(io_err(&versions))
    }

    /// Applies kept version `to` again, as a new version whose reason names it (the history
    /// is never rewritten). Same transaction as [`apply`](Self::apply).
    pub fn rollback<E>(
        &mut self,
        to: u64,
        reason: &str,
        on_apply: impl FnOnce(&ConfigDiff, &Document) -> Result<(), E>,
    ) -> Result<Applied, ApplyError<E>> {
        let doc = self.get(to).map_err(|e| match e {
            StoreError::Invalid(errors) => ApplyError::Invalid(errors),
            other => ApplyError::Store(other),
        })?;
        let reason = if reason.is_empty() {
            format!("rollback to version {to}")
        } else {
            format!("rollback to version {to}: {reason}")
        };
        self.apply(&doc, &reason, on_apply)
    }
}
