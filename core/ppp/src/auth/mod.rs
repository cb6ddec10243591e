//! The PPP authentication phase (RFC 1661 §3.5): PAP (RFC 1334), CHAP-MD5 (RFC 1994),
//! MS-CHAPv1 (RFC 2433) and MS-CHAPv2 (RFC 2759), in both directions.
//!
//! Sans-IO, like the rest of the engine: packets and `Instant`s go in through `handle_*`
//! methods; packets to send come out of `poll_transmit`, the next deadline out of
//! `poll_timeout` and the result out of `poll_outcome`. Nothing here reads a clock, does I/O
//! or draws randomness itself: challenges come from the [`FillRandom`] the caller injects.
//!
//! - [`Authenticator`]: we verify the peer, through an [`AuthBackend`] that may answer later
//!   ([`Verdict::Pending`]); the backend, not the engine, holds or checks the secrets.
//! - [`Peer`]: we prove ourselves with [`Credentials`], and check the MS-CHAPv2
//!   authenticator response (mutual authentication).
//! - [`Method`] and [`AuthPolicy`]: what LCP may negotiate, MS-CHAPv2 only by default.
//!
//! Packets are parsed and built with `dialgate_wire::{pap, chap}` and the MS-CHAP values
//! computed with `dialgate_crypto`; this module holds the state machines only.
//!
//! How the engine drives the phase once LCP is Opened (RFC 1661 §3.5):
//!
//! ```
//! use std::sync::Arc;
//! use std::time::Instant;
//! use dialgate_ppp::auth::*;
//!
//! let mut users = LocalUsers::new();
//! users.add_password("alice", "correct horse").unwrap();
//! // LCP agreed that we authenticate the peer with MS-CHAPv2 (`Method::from_lcp_option_data`
//! // on the acked Authentication-Protocol option) and that the peer does not authenticate us.
//! let config = AuthenticatorConfig { name: "dialgate".into(), ..Default::default() };
//! let rng: FillRandom = Box::new(|buf: &mut [u8]| buf.fill(0x5a)); // use a CSPRNG
//! let auth = Authenticator::new(Method::MsChapV2, config, Arc::new(users), rng);
//! let mut phase = AuthPhase::new(Some(auth), None);
//!
//! let now = Instant::now();
//! phase.start(now);
//! while let Some(t) = phase.poll_transmit() {
//!     // send t.data as a PPP frame of protocol t.protocol (0xc223 here: the Challenge)
//!     assert_eq!(t.protocol, PROTO_CHAP);
//! }
//! // On every PAP/CHAP frame: phase.handle_packet(now, protocol, payload);
//! // at phase.poll_timeout(): phase.handle_timeout(now);
//! // on an asynchronous backend's answer: phase.complete(now, ctx, verdict).
//! assert!(phase.poll_timeout().is_some());
//! assert!(phase.result().is_none()); // Some(Ok(..)) -> Network phase, Some(Err(..)) -> close
//! ```

mod authenticator;
mod backend;
mod glue;
mod method;
mod peer;
mod phase;

use core::fmt;

pub use authenticator::{Authenticator, AuthenticatorConfig};
pub use backend::{
    Accepted, AuthBackend, AuthRequest, E_ACCT_DISABLED, E_AUTHENTICATION_FAILURE,
    E_NO_DIALIN_PERMISSION, E_PASSWD_EXPIRED, E_RESTRICTED_LOGON_HOURS, LocalUsers, RejectReason,
    Rejected, RequestContext, StoreError, Verdict,
};
pub use dialgate_crypto::mschap::strip_domain;
pub use dialgate_crypto::{MppeKeys, NtHash, PasswordError};
pub use method::{
    AuthPolicy, CHAP_ALG_MD5, CHAP_ALG_MSCHAP_V1, CHAP_ALG_MSCHAP_V2, Method, PROTO_CHAP,
    PROTO_PAP, PeerPolicy,
};
pub use peer::{Credentials, Peer, PeerConfig};
pub use phase::{AuthPhase, PhaseSuccess, Route, Side, route};

/// The randomness source injected by the caller: fills the buffer with unpredictable octets
/// (challenges, MS-CHAPv2 peer challenges, initial identifiers). Use a CSPRNG in production.
pub type FillRandom = Box<dyn FnMut(&mut [u8]) + Send>;

/// Longest PAP/CHAP packet accepted from the peer; longer ones are dropped and counted.
/// (RFC 1661 §6.1 default MRU is 1500.)
pub const MAX_PACKET_LEN: usize = 1500;

/// Longest name accepted in a Response or Authenticate-Request (RADIUS User-Name is at most
/// 253 octets, RFC 2865 §5.1; 255 is the PAP field limit).
pub const MAX_NAME_LEN: usize = 255;

/// A packet to send: the PPP protocol number and the PAP/CHAP packet (header included).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transmit {
    /// [`PROTO_PAP`] or [`PROTO_CHAP`].
    pub protocol: u16,
    /// The packet, from its Code octet.
    pub data: Vec<u8>,
}

/// A successful authentication.
#[derive(Clone)]
pub struct AuthSuccess {
    /// The name authenticated: the peer's (authenticator side) or ours (peer side).
    pub user: String,
    /// The method used.
    pub method: Method,
    /// MPPE session keys (RFC 3079), MS-CHAP only. On both sides `send` is what this end
    /// encrypts with and `recv` what it decrypts with.
    pub mppe: Option<MppeKeys>,
}

impl PartialEq for AuthSuccess {
    fn eq(&self, other: &Self) -> bool {
        self.user == other.user
            && self.method == other.method
            && glue::opt_keys_eq(self.mppe.as_ref(), other.mppe.as_ref())
    }
}

impl Eq for AuthSuccess {}

impl fmt::Debug for AuthSuccess {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthSuccess")
            .field("user", &self.user)
            .field("method", &self.method)
            .field("mppe", &self.mppe.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

/// Why authentication failed. Each arm says who is at fault.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthFailure {
    /// Authenticator side: the backend rejected the peer's credentials (after any MS-CHAP
    /// retries). `code` is the Win32 code sent in the Failure (691 for PAP/CHAP-MD5).
    WrongCredentials {
        /// Win32 error code (RFC 2759 §6).
        code: u32,
        /// Why, for logs; the peer never sees it.
        reason: RejectReason,
    },
    /// Peer side: the authenticator refused our credentials (Failure / Authenticate-Nak).
    Refused {
        /// Win32 error code parsed from `E=` (MS-CHAP), 691 otherwise.
        code: u32,
        /// The authenticator's message (`M=` for MS-CHAP), lossily decoded, truncated.
        message: String,
    },
    /// The other end never answered (all retransmissions spent, or nothing arrived).
    Timeout,
    /// Authenticator side: after a retryable MS-CHAP Failure (`R=1`) the peer never retried.
    PeerGaveUp,
    /// The method is not allowed by policy (the engine asked for one LCP should not have
    /// agreed), or the peer used a different one.
    MethodMismatch {
        /// The method in question.
        method: Method,
    },
    /// Authenticator side: the backend failed or did not answer in time.
    BackendError(String),
    /// Peer side: MS-CHAPv2 Success with a missing or wrong `S=` authenticator response
    /// (RFC 2759 §5: the peer MUST end the session).
    BadAuthenticatorResponse,
    /// Our own settings cannot be used (e.g. a PAP user name or password over 255 octets).
    LocalConfig(&'static str),
}

impl fmt::Display for AuthFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AuthFailure::WrongCredentials { code, reason } => {
                write!(f, "peer's credentials rejected (error {code}: {reason})")
            }
            AuthFailure::Refused { code, message } => {
                write!(
                    f,
                    "authenticator refused our credentials (error {code}: {message})"
                )
            }
            AuthFailure::Timeout => f.write_str("authentication timed out"),
            AuthFailure::PeerGaveUp => f.write_str("peer did not retry after a failure"),
            AuthFailure::MethodMismatch { method } => {
                write!(f, "authentication method {method} not allowed")
            }
            AuthFailure::BackendError(e) => write!(f, "authentication backend error: {e}"),
            AuthFailure::BadAuthenticatorResponse => {
                f.write_str("authenticator failed mutual authentication (bad S= response)")
            }
            AuthFailure::LocalConfig(what) => write!(f, "unusable local settings: {what}"),
        }
    }
}

impl std::error::Error for AuthFailure {}

/// The result of one direction of authentication.
pub type AuthOutcome = Result<AuthSuccess, AuthFailure>;

/// Counters of one authentication state machine. Every packet that is not acted on is
/// counted in exactly one `dropped_*` counter.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AuthStats {
    /// Packets handed to `handle_packet`.
    pub rx_packets: u64,
    /// Packets sent (including retransmissions).
    pub tx_packets: u64,
    /// Retransmissions on the restart timer.
    pub retransmissions: u64,
    /// Duplicates answered by repeating our last reply.
    pub duplicates: u64,
    /// Truncated, inconsistent or oversized packets, and values of the wrong size.
    pub dropped_malformed: u64,
    /// Packets of the other protocol (PAP vs CHAP) than the negotiated method.
    pub dropped_wrong_protocol: u64,
    /// Codes this side does not handle (e.g. a Challenge sent to the authenticator).
    pub dropped_wrong_code: u64,
    /// Identifiers that match no outstanding exchange.
    pub dropped_wrong_id: u64,
    /// Well-formed packets that arrive in a state where they mean nothing (e.g. while the
    /// backend is still deciding, or after the outcome).
    pub dropped_unexpected: u64,
    /// Backend verdicts delivered for a request that is no longer outstanding.
    pub stale_verdicts: u64,
}

impl AuthStats {
    /// Total packets dropped.
    pub fn dropped(&self) -> u64 {
        self.dropped_malformed
            + self.dropped_wrong_protocol
            + self.dropped_wrong_code
            + self.dropped_wrong_id
            + self.dropped_unexpected
    }
}
