//! How credentials are checked: the [`AuthBackend`] trait and the [`LocalUsers`] store.
//!
//! The authenticator never assumes it holds the peer's password: it hands what the peer sent
//! to a backend, and a backend that verifies MS-CHAPv2 itself (a local store, or a RADIUS
//! server per RFC 2548) returns the authenticator response and the MPPE keys.

use core::fmt;
use std::borrow::Cow;
use std::collections::HashMap;

use dialgate_crypto::NtHash;
use dialgate_crypto::mschap::strip_domain;

use super::MppeKeys;
use super::glue;

/// Win32 error code ERROR_RESTRICTED_LOGON_HOURS (RFC 2759 §6).
pub const E_RESTRICTED_LOGON_HOURS: u32 = 646;
/// Win32 error code ERROR_ACCT_DISABLED (RFC 2759 §6).
pub const E_ACCT_DISABLED: u32 = 647;
/// Win32 error code ERROR_PASSWD_EXPIRED (RFC 2759 §6).
pub const E_PASSWD_EXPIRED: u32 = 648;
/// Win32 error code ERROR_NO_DIALIN_PERMISSION (RFC 2759 §6).
pub const E_NO_DIALIN_PERMISSION: u32 = 649;
/// Win32 error code ERROR_AUTHENTICATION_FAILURE (RFC 2759 §6); also used for plain
/// CHAP/PAP failures, which carry no code on the wire.
pub const E_AUTHENTICATION_FAILURE: u32 = 691;

/// Who asks, passed through to the backend so that an asynchronous one can route its late
/// answer back to the right [`Authenticator::complete`](super::Authenticator::complete).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RequestContext {
    /// Opaque session tag from [`AuthenticatorConfig::session`](super::AuthenticatorConfig).
    pub session: u64,
    /// Which verification of this session (0 for the first Response, 1 for the first retry...).
    pub attempt: u32,
}

/// What the peer offered, one arm per method. Names are the bytes the peer sent (for MS-CHAP
/// possibly `DOMAIN\user`; see [`strip_domain`]).
#[derive(Clone, PartialEq, Eq)]
pub enum AuthRequest<'a> {
    /// PAP Authenticate-Request (RFC 1334 §2.2.1).
    Pap {
        /// Peer-ID.
        user: &'a [u8],
        /// Password, in clear text.
        password: &'a [u8],
    },
    /// CHAP-MD5 Response (RFC 1994 §4.1): `response` should be MD5(id ‖ secret ‖ challenge).
    ChapMd5 {
        /// Name field of the Response.
        user: &'a [u8],
        /// Identifier of the Challenge/Response exchange.
        id: u8,
        /// The challenge we sent.
        challenge: &'a [u8],
        /// The peer's 16-octet hash.
        response: [u8; 16],
    },
    /// MS-CHAPv1 Response (RFC 2433 §5).
    MsChapV1 {
        /// Name field of the Response.
        user: &'a [u8],
        /// The 8-octet challenge we sent.
        challenge: [u8; 8],
        /// LAN Manager compatible response (refused by [`LocalUsers`]).
        lm_response: [u8; 24],
        /// Windows NT compatible response.
        nt_response: [u8; 24],
        /// The Use-Windows-NT-compatible-Response flag.
        use_nt: bool,
    },
    /// MS-CHAPv2 Response (RFC 2759 §4).
    MsChapV2 {
        /// Name field of the Response.
        user: &'a [u8],
        /// The 16-octet challenge we sent.
        authenticator_challenge: [u8; 16],
        /// The peer's 16-octet challenge.
        peer_challenge: [u8; 16],
        /// The peer's NT-Response.
        nt_response: [u8; 24],
    },
}

impl AuthRequest<'_> {
    /// The name the peer presented.
    pub fn user(&self) -> &[u8] {
        match self {
            AuthRequest::Pap { user, .. }
            | AuthRequest::ChapMd5 { user, .. }
            | AuthRequest::MsChapV1 { user, .. }
            | AuthRequest::MsChapV2 { user, .. } => user,
        }
    }
}

impl fmt::Debug for AuthRequest<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let user = String::from_utf8_lossy(self.user());
        let kind = match self {
            AuthRequest::Pap { .. } => "Pap",
            AuthRequest::ChapMd5 { .. } => "ChapMd5",
            AuthRequest::MsChapV1 { .. } => "MsChapV1",
            AuthRequest::MsChapV2 { .. } => "MsChapV2",
        };
        // Responses and passwords are secrets (offline-crackable); only the name is shown.
        f.debug_struct(kind)
            .field("user", &user)
            .finish_non_exhaustive()
    }
}

/// A positive verdict.
#[derive(Clone)]
pub struct Accepted {
    /// MS-CHAPv2 AuthenticatorResponse (RFC 2759 §8.7), required for MS-CHAPv2: the
    /// authenticator sends it as `S=` and the peer checks it.
    pub authenticator_response: Option<[u8; 20]>,
    /// MPPE session keys (RFC 3079), from the authenticator's point of view.
    pub mppe: Option<MppeKeys>,
}

impl PartialEq for Accepted {
    fn eq(&self, other: &Self) -> bool {
        self.authenticator_response == other.authenticator_response
            && glue::opt_keys_eq(self.mppe.as_ref(), other.mppe.as_ref())
    }
}

impl Eq for Accepted {}

impl fmt::Debug for Accepted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Accepted")
            .field(
                "authenticator_response",
                &self.authenticator_response.is_some(),
            )
            .field("mppe", &self.mppe.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

/// Why a backend rejected the credentials, for logs (the peer only sees the code and
/// message of [`Rejected`], so that it cannot tell an unknown user from a wrong password).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RejectReason {
    /// No such user.
    UnknownUser,
    /// The response or password does not match.
    WrongPassword,
    /// MS-CHAPv1 with only the LAN Manager response (RFC 2433 §5): refused as too weak.
    LmResponseRefused,
    /// CHAP-MD5 needs the clear-text secret, which the store does not hold for this user
    /// (it keeps NT hashes only unless built with `allow_weak_cleartext_secrets`).
    CleartextSecretUnavailable,
    /// Any other reason given by the backend (account disabled, no dial-in permission...).
    Other(Cow<'static, str>),
}

impl fmt::Display for RejectReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RejectReason::UnknownUser => f.write_str("unknown user"),
            RejectReason::WrongPassword => f.write_str("wrong password"),
            RejectReason::LmResponseRefused => {
                f.write_str("MS-CHAPv1 LAN Manager response refused (NT response required)")
            }
            RejectReason::CleartextSecretUnavailable => f.write_str(
                "CHAP-MD5 needs a clear-text secret: the user store keeps NT hashes only \
                 (enable allow_weak_cleartext_secrets and give the user a secret)",
            ),
            RejectReason::Other(s) => f.write_str(s),
        }
    }
}

/// A negative verdict.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejected {
    /// Win32 error code for MS-CHAP Failure messages (RFC 2759 §6): 691 authentication
    /// failure, 646 restricted hours, 647 account disabled, 648 password expired, 649 no
    /// dial-in permission. Only 691 allows a retry.
    pub code: u32,
    /// Why, for logs.
    pub reason: RejectReason,
}

impl Rejected {
    /// A 691 authentication failure.
    pub fn auth_failure(reason: RejectReason) -> Self {
        Rejected {
            code: E_AUTHENTICATION_FAILURE,
            reason,
        }
    }
}

/// A backend's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// The credentials are good.
    Accept(Accepted),
    /// The credentials are bad (or the account may not dial in).
    Reject(Rejected),
    /// The answer will come later through
    /// [`Authenticator::complete`](super::Authenticator::complete) (e.g. RADIUS).
    Pending,
    /// The backend could not decide (server unreachable, internal error). The peer is
    /// refused without a retry.
    Error(Cow<'static, str>),
}

/// How credentials are checked: locally now, RADIUS later.
pub trait AuthBackend: Send + Sync + fmt::Debug {
    /// Verify what the peer sent. An asynchronous backend returns [`Verdict::Pending`] and
    /// later delivers the verdict for `ctx` to the session's authenticator.
    fn verify(&self, ctx: RequestContext, req: &AuthRequest<'_>) -> Verdict;
}

/// Errors building a [`LocalUsers`] store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreError {
    /// A clear-text secret was given but the store was not built with
    /// `allow_weak_cleartext_secrets`.
    CleartextNotAllowed,
    /// User names are 1 to 255 octets.
    BadUserName,
    /// The password is too long to hash (RFC 2759 §8.3: 256 characters at most).
    PasswordTooLong,
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreError::CleartextNotAllowed => f.write_str(
                "clear-text secrets need allow_weak_cleartext_secrets (only CHAP-MD5 uses them)",
            ),
            StoreError::BadUserName => f.write_str("user names are 1 to 255 octets"),
            StoreError::PasswordTooLong => f.write_str("password longer than 256 characters"),
        }
    }
}

impl std::error::Error for StoreError {}

struct LocalUser {
    /// Zeroed on drop by `NtHash` itself.
    nt_hash: NtHash,
    cleartext: Option<Vec<u8>>,
}

impl Drop for LocalUser {
    fn drop(&mut self) {
        if let Some(s) = self.cleartext.as_mut() {
            s.fill(0);
            core::hint::black_box(s);
        }
    }
}

/// Checked instead of a missing user, so that timing does not reveal unknown names.
static DUMMY_USER: LocalUser = LocalUser {
    nt_hash: NtHash::from_bytes([0; 16]),
    cleartext: None,
};

/// A local user store keeping NT password hashes (MD4 of the UTF-16LE password,
/// RFC 2759 §8.3), never clear text unless built with
/// [`LocalUsers::with_weak_cleartext_secrets`].
///
/// Verifies MS-CHAPv2, MS-CHAPv1 (NT response only) and PAP (the offered password is hashed
/// and compared in constant time) from the hash; CHAP-MD5 only for users that carry a
/// clear-text secret. Lookups strip a `DOMAIN\` prefix and are case-sensitive.
pub struct LocalUsers {
    users: HashMap<Vec<u8>, LocalUser>,
    allow_weak_cleartext_secrets: bool,
}

impl fmt::Debug for LocalUsers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalUsers")
            .field("users", &self.users.len())
            .field(
                "allow_weak_cleartext_secrets",
                &self.allow_weak_cleartext_secrets,
            )
            .finish_non_exhaustive()
    }
}

impl Default for LocalUsers {
    fn default() -> Self {
        Self::new()
    }
}

impl LocalUsers {
    /// An empty store holding NT hashes only: CHAP-MD5 is rejected for every user.
    pub fn new() -> Self {
        LocalUsers {
            users: HashMap::new(),
            allow_weak_cleartext_secrets: false,
        }
    }

    /// An empty store that may also hold clear-text secrets, for CHAP-MD5. Weak: a stolen
    /// store then reveals passwords.
    pub fn with_weak_cleartext_secrets() -> Self {
        LocalUsers {
            users: HashMap::new(),
            allow_weak_cleartext_secrets: true,
        }
    }

    /// Whether clear-text secrets are allowed.
    pub fn allows_weak_cleartext_secrets(&self) -> bool {
        self.allow_weak_cleartext_secrets
    }

    /// Number of users.
    pub fn len(&self) -> usize {
        self.users.len()
    }

    /// Whether the store is empty.
    pub fn is_empty(&self) -> bool {
        self.users.is_empty()
    }

    fn check_name(user: &str) -> Result<(), StoreError> {
        if user.is_empty() || user.len() > 255 {
            return Err(StoreError::BadUserName);
        }
        Ok(())
    }

    /// Add (or replace) a user from its password; only the NT hash is kept.
    pub fn add_password(&mut self, user: &str, password: &str) -> Result<(), StoreError> {
        let hash = glue::nt_password_hash(password).map_err(|_| StoreError::PasswordTooLong)?;
        self.add_nt_hash(user, hash)
    }

    /// Add (or replace) a user from its NT password hash.
    pub fn add_nt_hash(&mut self, user: &str, nt_hash: NtHash) -> Result<(), StoreError> {
        Self::check_name(user)?;
        self.users.insert(
            user.as_bytes().to_vec(),
            LocalUser {
                nt_hash,
                cleartext: None,
            },
        );
        Ok(())
    }

    /// Add (or replace) a user keeping its clear-text secret too, so that CHAP-MD5 works.
    /// Refused unless the store was built with [`LocalUsers::with_weak_cleartext_secrets`].
    pub fn add_weak_cleartext_secret(
        &mut self,
        user: &str,
        password: &str,
    ) -> Result<(), StoreError> {
        if !self.allow_weak_cleartext_secrets {
            return Err(StoreError::CleartextNotAllowed);
        }
        Self::check_name(user)?;
        let nt_hash = glue::nt_password_hash(password).map_err(|_| StoreError::PasswordTooLong)?;
        self.users.insert(
            user.as_bytes().to_vec(),
            LocalUser {
                nt_hash,
                cleartext: Some(password.as_bytes().to_vec()),
            },
        );
        Ok(())
    }

    fn lookup(&self, user: &[u8]) -> Option<&LocalUser> {
        self.users.get(strip_domain(user))
    }

    fn verify_inner(&self, req: &AuthRequest<'_>) -> Result<Accepted, Rejected> {
        let found = self.lookup(req.user());
        let entry = found.unwrap_or(&DUMMY_USER);
        let fail = |ok: bool| -> Result<(), Rejected> {
            match (found.is_some(), ok) {
                (true, true) => Ok(()),
                (false, _) => Err(Rejected::auth_failure(RejectReason::UnknownUser)),
                (true, false) => Err(Rejected::auth_failure(RejectReason::WrongPassword)),
            }
        };
        match *req {
            AuthRequest::Pap { password, .. } => {
                // PAP needs no clear text on our side: hash what the peer offered.
                let ok = match core::str::from_utf8(password) {
                    Ok(p) => glue::nt_password_hash(p).is_ok_and(|h| h.ct_eq(&entry.nt_hash)),
                    Err(_) => false,
                };
                fail(ok)?;
                Ok(Accepted {
                    authenticator_response: None,
                    mppe: None,
                })
            }
            AuthRequest::ChapMd5 {
                id,
                challenge,
                response,
                ..
            } => {
                found.ok_or(Rejected::auth_failure(RejectReason::UnknownUser))?;
                let Some(secret) = entry
                    .cleartext
                    .as_deref()
                    .filter(|_| self.allow_weak_cleartext_secrets)
                else {
                    return Err(Rejected::auth_failure(
                        RejectReason::CleartextSecretUnavailable,
                    ));
                };
                let expected = glue::chap_md5_response(id, secret, challenge);
                fail(glue::ct_eq(&expected, &response))?;
                Ok(Accepted {
                    authenticator_response: None,
                    mppe: None,
                })
            }
            AuthRequest::MsChapV1 {
                challenge,
                nt_response,
                use_nt,
                ..
            } => {
                if !use_nt {
                    found.ok_or(Rejected::auth_failure(RejectReason::UnknownUser))?;
                    return Err(Rejected::auth_failure(RejectReason::LmResponseRefused));
                }
                let expected = glue::mschap_v1_nt_response(&challenge, &entry.nt_hash);
                fail(glue::ct_eq(&expected, &nt_response))?;
                Ok(Accepted {
                    authenticator_response: None,
                    mppe: glue::mppe_keys_v1(&entry.nt_hash, &challenge),
                })
            }
            AuthRequest::MsChapV2 {
                user,
                authenticator_challenge,
                peer_challenge,
                nt_response,
                ..
            } => {
                let name = strip_domain(user);
                let expected = glue::mschap_v2_nt_response(
                    &authenticator_challenge,
                    &peer_challenge,
                    name,
                    &entry.nt_hash,
                );
                fail(glue::ct_eq(&expected, &nt_response))?;
                Ok(Accepted {
                    authenticator_response: Some(glue::mschap_v2_authenticator_response(
                        &entry.nt_hash,
                        &nt_response,
                        &peer_challenge,
                        &authenticator_challenge,
                        name,
                    )),
                    mppe: glue::mppe_keys_v2_authenticator(&entry.nt_hash, &nt_response),
                })
            }
        }
    }
}

impl AuthBackend for LocalUsers {
    fn verify(&self, _ctx: RequestContext, req: &AuthRequest<'_>) -> Verdict {
        match self.verify_inner(req) {
            Ok(a) => Verdict::Accept(a),
            Err(r) => Verdict::Reject(r),
        }
    }
}
