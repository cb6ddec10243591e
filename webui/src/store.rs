//! The web UI's own state directory: the admin password hash and the TLS certificate.
//!
//! Every file is written crash-safe: a temporary file in the same directory, `fsync`, `rename`
//! over the old name, `fsync` of the directory. A crash leaves the old file or the new one,
//! never a torn one.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};

/// The file holding the admin password's argon2 hash (PHC string format).
pub const ADMIN_FILE: &str = "admin.argon2";

/// The shortest admin password accepted.
pub const MIN_PASSWORD_LEN: usize = 10;

/// The longest admin password accepted (argon2 takes any length; this bounds the work).
pub const MAX_PASSWORD_LEN: usize = 256;

/// Why a state file could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A file system operation failed.
    #[error("{what} {}: {source}", path.display())]
    Io {
        /// What was being done.
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The stored hash is not a valid PHC string.
    #[error("admin.argon2 is not an argon2 hash: {0}")]
    BadHash(String),
    /// Hashing failed.
    #[error("hashing the password: {0}")]
    Hash(String),
}

fn io<'a>(what: &'static str, path: &'a Path) -> impl FnOnce(std::io::Error) -> StoreError + 'a {
    move |source| StoreError::Io {
        what,
        path: path.to_path_buf(),
        source,
    }
}

/// Writes `bytes` to `path` crash-safe, with permissions `mode` (e.g. `0o600`).
pub fn write_atomic(path: &Path, bytes: &[u8], mode: u32) -> Result<(), StoreError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tmp"));
    let _ = fs::remove_file(&tmp);
    let mut f = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(&tmp)
        .map_err(io("creating", &tmp))?;
    f.write_all(bytes).map_err(io("writing", &tmp))?;
    f.sync_all().map_err(io("syncing", &tmp))?;
    drop(f);
    fs::rename(&tmp, path).map_err(io("renaming onto", path))?;
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io("syncing directory", dir))?;
    Ok(())
}

/// Creates the state directory (mode 0700) if it does not exist.
pub fn ensure_dir(dir: &Path) -> Result<(), StoreError> {
    use std::os::unix::fs::DirBuilderExt;
    if dir.is_dir() {
        return Ok(());
    }
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(io("creating directory", dir))
}

/// The admin password, hashed with argon2id, in `<state_dir>/admin.argon2`.
#[derive(Debug, Clone)]
pub struct AdminPassword {
    path: PathBuf,
}

impl AdminPassword {
    /// The password file in `state_dir`.
    pub fn new(state_dir: &Path) -> Self {
        AdminPassword {
            path: state_dir.join(ADMIN_FILE),
        }
    }

    /// Whether a password has been set (first boot is over).
    pub fn is_set(&self) -> bool {
        self.path.is_file()
    }

    /// Hashes and stores `password` (replacing any previous one).
    pub fn set(&self, password: &str) -> Result<(), StoreError> {
        let mut salt = [0u8; 16];
        getrandom::fill(&mut salt).map_err(|e| StoreError::Hash(e.to_string()))?;
        let salt = SaltString::encode_b64(&salt).map_err(|e| StoreError::Hash(e.to_string()))?;
        let hash = Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map_err(|e| StoreError::Hash(e.to_string()))?
            .to_string();
        write_atomic(&self.path, format!("{hash}\n").as_bytes(), 0o600)
    }

    /// Whether `password` is the stored one (false when none is set).
    pub fn verify(&self, password: &str) -> Result<bool, StoreError> {
        let text = match fs::read_to_string(&self.path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
            Err(e) => return Err(io("reading", &self.path)(e)),
        };
        let hash =
            PasswordHash::new(text.trim()).map_err(|e| StoreError::BadHash(e.to_string()))?;
        Ok(Argon2::default()
            .verify_password(password.as_bytes(), &hash)
            .is_ok())
    }
}

/// Checks a new admin password; `Err` is the message shown next to the field.
pub fn check_new_password(password: &str, confirm: &str) -> Result<(), &'static str> {
    let n = password.chars().count();
    if n < MIN_PASSWORD_LEN {
        return Err("At least 10 characters.");
    }
    if password.len() > MAX_PASSWORD_LEN {
        return Err("At most 256 bytes.");
    }
    if password != confirm {
        return Err("The two passwords differ.");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn password_set_verify_and_file_mode() {
        let dir = std::env::temp_dir().join(format!("webui-store-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        ensure_dir(&dir).unwrap();
        let admin = AdminPassword::new(&dir);
        assert!(!admin.is_set());
        assert!(!admin.verify("anything").unwrap());
        admin.set("correct horse battery").unwrap();
        assert!(admin.is_set());
        assert!(admin.verify("correct horse battery").unwrap());
        assert!(!admin.verify("correct horse batterY").unwrap());
        let text = fs::read_to_string(dir.join(ADMIN_FILE)).unwrap();
        assert!(text.starts_with("$argon2id$"), "{text}");
        use std::os::unix::fs::PermissionsExt;
        let mode = fs::metadata(dir.join(ADMIN_FILE))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn new_password_rules() {
        assert!(check_new_password("short", "short").is_err());
        assert!(check_new_password("long enough pw", "long enough pX").is_err());
        assert!(check_new_password(&"x".repeat(300), &"x".repeat(300)).is_err());
        assert!(check_new_password("long enough pw", "long enough pw").is_ok());
    }
}
