//! The local user file: NT password hashes (MD4 of the UTF-16LE password, RFC 2759 §8.3),
//! never clear text unless the file explicitly allows weak clear-text secrets (needed only by
//! CHAP-MD5, RFC 1994). Written crash-safely with [`crate::store::write_atomic`], mode 0600.
//!
//! ```toml
//! allow_weak_cleartext_secrets = false
//!
//! [user.alice]
//! nt_hash = "8846f7eaee8fb117ad06bdd830b7586c"
//!
//! [user.bob]                       # only with allow_weak_cleartext_secrets = true
//! nt_hash = "..."
//! weak_cleartext_secret = "..."
//! ```

use core::fmt;
use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};

use dialgate_crypto::NtHash;
use dialgate_crypto::mschap::{ct_eq, nt_password_hash};
use dialgate_ppp::auth::LocalUsers;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::config::user_name_problem;
use crate::store::write_atomic;

/// A stored NT hash, written as 32 hex digits.
#[derive(Clone)]
struct HexHash(NtHash);

impl Serialize for HexHash {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut s = String::with_capacity(32);
        for b in self.0.as_bytes() {
            s.push_str(&format!("{b:02x}"));
        }
        serializer.serialize_str(&s)
    }
}

impl<'de> Deserialize<'de> for HexHash {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        crate::config::deserialize_from_str(deserializer, "32 hex digits")
    }
}

impl core::str::FromStr for HexHash {
    type Err = &'static str;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse_hex_hash(s)
            .map(HexHash)
            .ok_or("nt_hash must be 32 hex digits")
    }
}

/// Parses 32 hex digits into an NT hash.
pub fn parse_hex_hash(s: &str) -> Option<NtHash> {
    let b = s.as_bytes();
    if b.len() != 32 {
        return None;
    }
    let mut out = [0u8; 16];
    for (o, pair) in out.iter_mut().zip(b.chunks_exact(2)) {
        let hi = char::from(*pair.first()?).to_digit(16)?;
        let lo = char::from(*pair.get(1)?).to_digit(16)?;
        *o = u8::try_from(hi * 16 + lo).ok()?;
    }
    Some(NtHash::from_bytes(out))
}

#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct UserEntry {
    nt_hash: HexHash,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    weak_cleartext_secret: Option<String>,
}

impl Drop for UserEntry {
    fn drop(&mut self) {
        if let Some(s) = self.weak_cleartext_secret.take() {
            let mut bytes = s.into_bytes();
            bytes.fill(0);
            core::hint::black_box(&mut bytes);
        }
    }
}

#[derive(Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct UsersFile {
    #[serde(default)]
    allow_weak_cleartext_secrets: bool,
    #[serde(default, rename = "user")]
    users: BTreeMap<String, UserEntry>,
}

/// Errors of the user store.
#[derive(Debug, thiserror::Error)]
pub enum UsersError {
    /// Reading or writing the file failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The users file.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// The file is not a valid users file.
    #[error("{}: {message}", path.display())]
    Invalid {
        /// The users file.
        path: PathBuf,
        /// Why (with the position for syntax and type errors).
        message: String,
    },
    /// A user name the PPP engine cannot match.
    #[error("user {user:?}: {reason}")]
    BadUserName {
        /// The name (shortened).
        user: String,
        /// Why.
        reason: &'static str,
    },
    /// The password is longer than 256 characters (RFC 2759 §8.3).
    #[error("password longer than 256 characters")]
    PasswordTooLong,
    /// A clear-text secret was given but the store does not allow them.
    #[error(
        "clear-text secrets need allow_weak_cleartext_secrets = true (only CHAP-MD5 uses them)"
    )]
    CleartextNotAllowed,
}

/// What [`UserStore::list`] shows of a user (never a hash or secret).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UserInfo {
    /// The user name.
    pub name: String,
    /// Whether a clear-text secret is stored (CHAP-MD5 works for this user).
    pub has_weak_cleartext_secret: bool,
}

/// The local users, backed by a file. Every change is written before it returns; a failed
/// write leaves both the file and the in-memory state unchanged.
pub struct UserStore {
    path: PathBuf,
    file: UsersFile,
}

impl fmt::Debug for UserStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UserStore")
            .field("path", &self.path)
            .field("users", &self.file.users.len())
            .field(
                "allow_weak_cleartext_secrets",
                &self.file.allow_weak_cleartext_secrets,
            )
            .finish()
    }
}

fn check_user(user: &str) -> Result<(), UsersError> {
    match user_name_problem(user) {
        None => Ok(()),
        Some(reason) => Err(UsersError::BadUserName {
            user: user.chars().take(64).collect(),
            reason,
        }),
    }
}

fn hash(password: &str) -> Result<NtHash, UsersError> {
    nt_password_hash(password).map_err(|_| UsersError::PasswordTooLong)
}

impl UserStore {
    /// Opens the users file at `path`; a missing file is an empty store (created on the
    /// first change). Refuses a file that stores clear text without allowing it, or whose
    /// clear-text secret does not match its hash.
    pub fn open(path: &Path) -> Result<Self, UsersError> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == io::ErrorKind::NotFound => String::new(),
            Err(source) => {
                return Err(UsersError::Io {
                    path: path.to_owned(),
                    source,
                });
            }
        };
        let invalid = |message: String| UsersError::Invalid {
            path: path.to_owned(),
            message,
        };
        let file: UsersFile = toml::from_str(&text).map_err(|e| {
            let loc = e
                .span()
                .map(|s| crate::config::Location::of_offset(&text, s.start));
            match loc {
                Some(l) => invalid(format!("{}:{}: {}", l.line, l.column, e.message())),
                None => invalid(e.message().to_owned()),
            }
        })?;
        for (name, entry) in &file.users {
            if let Some(reason) = user_name_problem(name) {
                return Err(invalid(format!("user {name:?}: {reason}")));
            }
            if let Some(secret) = &entry.weak_cleartext_secret {
                if !file.allow_weak_cleartext_secrets {
                    return Err(invalid(format!(
                        "user {name:?} has a clear-text secret but allow_weak_cleartext_secrets \
                         is false"
                    )));
                }
                let matches = nt_password_hash(secret)
                    .is_ok_and(|h| ct_eq(h.as_bytes(), entry.nt_hash.0.as_bytes()));
                if !matches {
                    return Err(invalid(format!(
                        "user {name:?}: the clear-text secret does not match nt_hash"
                    )));
                }
            }
        }
        Ok(UserStore {
            path: path.to_owned(),
            file,
        })
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The users, sorted by name.
    pub fn list(&self) -> Vec<UserInfo> {
        self.file
            .users
            .iter()
            .map(|(name, e)| UserInfo {
                name: name.clone(),
                has_weak_cleartext_secret: e.weak_cleartext_secret.is_some(),
            })
            .collect()
    }

    /// Number of users.
    pub fn len(&self) -> usize {
        self.file.users.len()
    }

    /// Whether there are no users.
    pub fn is_empty(&self) -> bool {
        self.file.users.is_empty()
    }

    /// Whether `user` exists.
    pub fn contains(&self, user: &str) -> bool {
        self.file.users.contains_key(user)
    }

    /// Whether clear-text secrets may be stored.
    pub fn allows_weak_cleartext_secrets(&self) -> bool {
        self.file.allow_weak_cleartext_secrets
    }

    /// Writes `next` and adopts it, or leaves everything as it was.
    fn commit(&mut self, next: UsersFile) -> Result<(), UsersError> {
        let io = |source| UsersError::Io {
            path: self.path.clone(),
            source,
        };
        let mut text = String::from(
            "# dialgate local users: NT password hashes (RFC 2759 §8.3), managed by routerd.\n",
        );
        text.push_str(&toml::to_string(&next).map_err(|e| io(io::Error::other(e)))?);
        write_atomic(&self.path, text.as_bytes()).map_err(io)?;
        self.file = next;
        Ok(())
    }

    /// Sets `user`'s password: only its NT hash is stored (any clear-text secret of the user
    /// is dropped).
    pub fn set_password(&mut self, user: &str, password: &str) -> Result<(), UsersError> {
        check_user(user)?;
        let nt_hash = hash(password)?;
        self.set_nt_hash(user, nt_hash)
    }

    /// Sets `user`'s NT hash directly (e.g. imported from another system).
    pub fn set_nt_hash(&mut self, user: &str, nt_hash: NtHash) -> Result<(), UsersError> {
        check_user(user)?;
        let mut next = self.file.clone();
        next.users.insert(
            user.to_owned(),
            UserEntry {
                nt_hash: HexHash(nt_hash),
                weak_cleartext_secret: None,
            },
        );
        self.commit(next)
    }

    /// Sets `user`'s password keeping the clear text too, so that CHAP-MD5 works for the
    /// user. Refused unless the store allows weak clear-text secrets.
    pub fn set_weak_cleartext_secret(
        &mut self,
        user: &str,
        password: &str,
    ) -> Result<(), UsersError> {
        if !self.file.allow_weak_cleartext_secrets {
            return Err(UsersError::CleartextNotAllowed);
        }
        check_user(user)?;
        let nt_hash = hash(password)?;
        let mut next = self.file.clone();
        next.users.insert(
            user.to_owned(),
            UserEntry {
                nt_hash: HexHash(nt_hash),
                weak_cleartext_secret: Some(password.to_owned()),
            },
        );
        self.commit(next)
    }

    /// Allows or forbids clear-text secrets. Forbidding them erases every stored one (the
    /// NT hashes stay, so MS-CHAP and PAP keep working).
    pub fn set_allow_weak_cleartext_secrets(&mut self, allow: bool) -> Result<(), UsersError> {
        let mut next = self.file.clone();
        next.allow_weak_cleartext_secrets = allow;
        if !allow {
            for entry in next.users.values_mut() {
                entry.weak_cleartext_secret = None;
            }
        }
        self.commit(next)
    }

    /// Removes `user`; whether it existed.
    pub fn remove(&mut self, user: &str) -> Result<bool, UsersError> {
        if !self.file.users.contains_key(user) {
            return Ok(false);
        }
        let mut next = self.file.clone();
        next.users.remove(user);
        self.commit(next)?;
        Ok(true)
    }

    /// The store the PPP engine verifies against.
    pub fn to_local_users(&self) -> Result<LocalUsers, UsersError> {
        let mut out = if self.file.allow_weak_cleartext_secrets {
            LocalUsers::with_weak_cleartext_secrets()
        } else {
            LocalUsers::new()
        };
        for (name, entry) in &self.file.users {
            let result = match &entry.weak_cleartext_secret {
                Some(secret) => out.add_weak_cleartext_secret(name, secret),
                None => out.add_nt_hash(name, entry.nt_hash.0.clone()),
            };
            result.map_err(|e| match e {
                dialgate_ppp::auth::StoreError::CleartextNotAllowed => {
                    UsersError::CleartextNotAllowed
                }
                dialgate_ppp::auth::StoreError::PasswordTooLong => UsersError::PasswordTooLong,
                _ => UsersError::BadUserName {
                    user: name.chars().take(64).collect(),
                    reason: "rejected by the PPP user store",
                },
            })?;
        }
        Ok(out)
    }
}
