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
//!
//! [user.carol]                     # attributes (all optional; stores without them load)
//! nt_hash = "..."
//! static_address = "192.0.2.250"   # the session gets this instead of a pool address
//! links = ["pptp"]                 # the link plugins the user may call in on
//! protocols = ["ip"]               # the network protocols (NCPs) the user may run
//! ```

use core::fmt;
use std::collections::{BTreeMap, BTreeSet};
use std::io;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

use dialgate_crypto::NtHash;
use dialgate_crypto::mschap::{ct_eq, nt_password_hash};
use dialgate_ppp::auth::LocalUsers;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

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

/// A network protocol family a user may run (its NCP is rejected otherwise).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NetProtocol {
    /// IPv4 and IPv6 (IPCP, RFC 1332, and IPV6CP, RFC 5072).
    Ip,
    /// IPX (IPXCP, RFC 1552).
    Ipx,
    /// NetBEUI (NBFCP, RFC 2097).
    Netbeui,
}

impl NetProtocol {
    /// Every protocol, in display order.
    pub const ALL: [NetProtocol; 3] = [NetProtocol::Ip, NetProtocol::Ipx, NetProtocol::Netbeui];

    /// The name used in the users file and the API (`ip`, `ipx`, `netbeui`).
    pub fn as_str(self) -> &'static str {
        match self {
            NetProtocol::Ip => "ip",
            NetProtocol::Ipx => "ipx",
            NetProtocol::Netbeui => "netbeui",
        }
    }

    /// The family of a PPP network control protocol number (IPCP 0x8021, IPV6CP 0x8057,
    /// IPXCP 0x802b, NBFCP 0x803f); `None` for any other.
    pub fn of_ncp(ncp: u16) -> Option<NetProtocol> {
        match ncp {
            0x8021 | 0x8057 => Some(NetProtocol::Ip),
            0x802b => Some(NetProtocol::Ipx),
            0x803f => Some(NetProtocol::Netbeui),
            _ => None,
        }
    }
}

impl fmt::Display for NetProtocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a user may do besides authenticating: stored beside the hash in the users file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserAttrs {
    /// The IPv4 address every session of the user gets instead of a pool address (one
    /// session at a time). It lies outside every pool range.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub static_address: Option<Ipv4Addr>,
    /// The link plugins (`[[link]] plugin`, e.g. `pptp`, `serial`) the user may call in on;
    /// `None`: every one. A call on another link is refused at authentication.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub links: Option<BTreeSet<String>>,
    /// The network protocols the user may run; `None`: every one. The others' NCPs are
    /// Protocol-Rejected (RFC 1661 §5.7).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocols: Option<BTreeSet<NetProtocol>>,
}

impl UserAttrs {
    /// Whether the user may call in on a link of plugin `plugin`.
    pub fn allows_link(&self, plugin: &str) -> bool {
        self.links.as_ref().is_none_or(|l| l.contains(plugin))
    }

    /// Whether the user may run `protocol`.
    pub fn allows_protocol(&self, protocol: NetProtocol) -> bool {
        self.protocols
            .as_ref()
            .is_none_or(|p| p.contains(&protocol))
    }

    /// Whether nothing is restricted or assigned.
    pub fn is_default(&self) -> bool {
        *self == UserAttrs::default()
    }
}

/// The longest link-plugin list a user may carry.
pub const MAX_USER_LINKS: usize = 32;

#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct UserEntry {
    nt_hash: HexHash,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    weak_cleartext_secret: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    static_address: Option<Ipv4Addr>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    links: Option<BTreeSet<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    protocols: Option<BTreeSet<NetProtocol>>,
}

impl UserEntry {
    fn new(nt_hash: NtHash, weak_cleartext_secret: Option<String>) -> Self {
        UserEntry {
            nt_hash: HexHash(nt_hash),
            weak_cleartext_secret,
            static_address: None,
            links: None,
            protocols: None,
        }
    }

    fn attrs(&self) -> UserAttrs {
        UserAttrs {
            static_address: self.static_address,
            links: self.links.clone(),
            protocols: self.protocols.clone(),
        }
    }

    fn set_attrs(&mut self, attrs: UserAttrs) {
        self.static_address = attrs.static_address;
        self.links = attrs.links;
        self.protocols = attrs.protocols;
    }
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
    /// No such user.
    #[error("no user {0:?}")]
    NoSuchUser(String),
    /// An attribute is not acceptable; `field` names it (`static_address`, `links`).
    #[error("{field}: {message}")]
    BadAttribute {
        /// The attribute.
        field: &'static str,
        /// Why.
        message: String,
    },
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
    /// Its attributes.
    pub attrs: UserAttrs,
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

/// Why `user` cannot be a user name (the configuration's rules), if it cannot.
pub fn user_name_problem(user: &str) -> Option<&'static str> {
    crate::config::user_name_problem(user)
}

fn check_attrs(attrs: &UserAttrs) -> Result<(), UsersError> {
    if let Some(addr) = attrs.static_address
        && let Some(reason) = crate::config::ipv4_host_problem(addr)
    {
        return Err(UsersError::BadAttribute {
            field: "static_address",
            message: format!("{addr}: {reason}"),
        });
    }
    if let Some(links) = &attrs.links {
        if links.len() > MAX_USER_LINKS {
            return Err(UsersError::BadAttribute {
                field: "links",
                message: format!("at most {MAX_USER_LINKS} link plugins"),
            });
        }
        for l in links {
            if let Some(reason) = crate::config::name_problem(l) {
                return Err(UsersError::BadAttribute {
                    field: "links",
                    message: format!("{:?}: {reason}", l.chars().take(64).collect::<String>()),
                });
            }
        }
    }
    Ok(())
}

/// Why `addr` cannot be a user's static address under `config`: it lies in a pool's range,
/// is a pool's local address, or is a `[pool.static]` address of another user. `None` when
/// it is fine.
pub fn static_address_problem(
    config: &crate::config::Config,
    user: &str,
    addr: Ipv4Addr,
) -> Option<String> {
    if let Some(reason) = crate::config::ipv4_host_problem(addr) {
        return Some(format!("{addr}: {reason}"));
    }
    for pool in &config.pools {
        if let Some(r) = pool.ranges.iter().find(|r| r.contains(addr)) {
            return Some(format!(
                "{addr} lies in pool {:?}'s range {r}: choose an address outside every range",
                pool.name
            ));
        }
        if pool.local_address == Some(addr) {
            return Some(format!("{addr} is pool {:?}'s local address", pool.name));
        }
        if let Some((other, _)) = pool
            .static_addresses
            .iter()
            .find(|(u, a)| **a == addr && u.as_str() != user)
        {
            return Some(format!(
                "{addr} is user {other:?}'s static address in pool {:?}",
                pool.name
            ));
        }
    }
    None
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
        let mut statics: BTreeMap<Ipv4Addr, &str> = BTreeMap::new();
        for (name, entry) in &file.users {
            if let Some(reason) = user_name_problem(name) {
                return Err(invalid(format!("user {name:?}: {reason}")));
            }
            if let Err(e) = check_attrs(&entry.attrs()) {
                return Err(invalid(format!("user {name:?}: {e}")));
            }
            if let Some(addr) = entry.static_address
                && let Some(other) = statics.insert(addr, name)
            {
                return Err(invalid(format!(
                    "user {name:?}: static address {addr} is also user {other:?}'s"
                )));
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
                attrs: e.attrs(),
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

    /// Sets `user`'s NT hash directly (e.g. imported from another system). The user's
    /// attributes stay.
    pub fn set_nt_hash(&mut self, user: &str, nt_hash: NtHash) -> Result<(), UsersError> {
        check_user(user)?;
        let mut next = self.file.clone();
        let mut entry = UserEntry::new(nt_hash, None);
        if let Some(old) = next.users.get(user) {
            entry.set_attrs(old.attrs());
        }
        next.users.insert(user.to_owned(), entry);
        self.commit(next)
    }

    /// `user`'s attributes; `None` when there is no such user.
    pub fn attrs(&self, user: &str) -> Option<UserAttrs> {
        self.file.users.get(user).map(UserEntry::attrs)
    }

    /// Every user's attributes, for the sessions (users without any are left out).
    pub fn all_attrs(&self) -> BTreeMap<String, UserAttrs> {
        self.file
            .users
            .iter()
            .map(|(n, e)| (n.clone(), e.attrs()))
            .filter(|(_, a)| !a.is_default())
            .collect()
    }

    /// Replaces `user`'s attributes. Refused when the user does not exist, a link plugin
    /// name is malformed, or the static address is not a host address or is another user's
    /// (the caller checks it against the pools, see [`static_address_problem`]).
    pub fn set_attrs(&mut self, user: &str, attrs: UserAttrs) -> Result<(), UsersError> {
        check_attrs(&attrs)?;
        if !self.file.users.contains_key(user) {
            return Err(UsersError::NoSuchUser(user.chars().take(64).collect()));
        }
        if let Some(addr) = attrs.static_address
            && let Some((other, _)) = self
                .file
                .users
                .iter()
                .find(|(n, e)| n.as_str() != user && e.static_address == Some(addr))
        {
            return Err(UsersError::BadAttribute {
                field: "static_address",
                message: format!("{addr} is already user {other:?}'s static address"),
            });
        }
        let mut next = self.file.clone();
        if let Some(e) = next.users.get_mut(user) {
            e.set_attrs(attrs);
        }
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
        let mut entry = UserEntry::new(nt_hash, Some(password.to_owned()));
        if let Some(old) = next.users.get(user) {
            entry.set_attrs(old.attrs());
        }
        next.users.insert(user.to_owned(), entry);
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn temp(tag: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("dg-users-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir.join("users.toml")
    }

    #[test]
    fn an_old_store_without_attributes_still_loads() {
        let path = temp("old");
        std::fs::write(
            &path,
            "[user.alice]\nnt_hash = \"8846f7eaee8fb117ad06bdd830b7586c\"\n",
        )
        .unwrap();
        let store = UserStore::open(&path).unwrap();
        assert_eq!(store.attrs("alice"), Some(UserAttrs::default()));
        assert!(store.all_attrs().is_empty());
    }

    #[test]
    fn attributes_persist_and_survive_a_password_change() {
        let path = temp("persist");
        let mut store = UserStore::open(&path).unwrap();
        store.set_password("alice", "correct horse").unwrap();
        let attrs = UserAttrs {
            static_address: Some(Ipv4Addr::new(192, 0, 2, 250)),
            links: Some(BTreeSet::from(["pptp".to_owned()])),
            protocols: Some(BTreeSet::from([NetProtocol::Ip, NetProtocol::Ipx])),
        };
        store.set_attrs("alice", attrs.clone()).unwrap();
        store.set_password("alice", "another horse").unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains("static_address = \"192.0.2.250\""), "{text}");
        assert!(text.contains("protocols = [\"ip\", \"ipx\"]"), "{text}");
        let again = UserStore::open(&path).unwrap();
        assert_eq!(again.attrs("alice"), Some(attrs.clone()));
        assert!(!attrs.allows_link("serial"));
        assert!(attrs.allows_protocol(NetProtocol::Ipx));
        assert!(!attrs.allows_protocol(NetProtocol::Netbeui));
        assert_eq!(NetProtocol::of_ncp(0x8057), Some(NetProtocol::Ip));
    }

    #[test]
    fn attributes_are_checked() {
        let path = temp("checked");
        let mut store = UserStore::open(&path).unwrap();
        assert!(matches!(
            store.set_attrs("nobody", UserAttrs::default()),
            Err(UsersError::NoSuchUser(_))
        ));
        store.set_password("alice", "a").unwrap();
        store.set_password("bob", "b").unwrap();
        let fixed = UserAttrs {
            static_address: Some(Ipv4Addr::new(192, 0, 2, 250)),
            ..UserAttrs::default()
        };
        store.set_attrs("alice", fixed.clone()).unwrap();
        assert!(matches!(
            store.set_attrs("bob", fixed),
            Err(UsersError::BadAttribute {
                field: "static_address",
                ..
            })
        ));
        let multicast = UserAttrs {
            static_address: Some(Ipv4Addr::new(224, 0, 0, 1)),
            ..UserAttrs::default()
        };
        assert!(store.set_attrs("bob", multicast).is_err());
        let bad_link = UserAttrs {
            links: Some(BTreeSet::from(["no spaces".to_owned()])),
            ..UserAttrs::default()
        };
        assert!(matches!(
            store.set_attrs("bob", bad_link),
            Err(UsersError::BadAttribute { field: "links", .. })
        ));
        // A file where two users share a static address is refused.
        std::fs::write(
            &path,
            "[user.a]\nnt_hash = \"8846f7eaee8fb117ad06bdd830b7586c\"\nstatic_address = \"192.0.2.9\"\n\
             [user.b]\nnt_hash = \"8846f7eaee8fb117ad06bdd830b7586c\"\nstatic_address = \"192.0.2.9\"\n",
        )
        .unwrap();
        assert!(matches!(
            UserStore::open(&path),
            Err(UsersError::Invalid { .. })
        ));
    }
}
