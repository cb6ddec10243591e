//! The seam between the state machines and `dialgate_wire` / `dialgate_crypto`: packets
//! parsed and built with `dialgate_wire::{pap, chap}` (MS-CHAP values and messages with
//! `chap::mschap`), MS-CHAP and MPPE computed with `dialgate_crypto`.

use dialgate_crypto::NtHash;
use dialgate_crypto::mppe::{self, MppeKeys, Role};
use dialgate_crypto::mschap;
use dialgate_wire::chap::{self, mschap as wms};
use dialgate_wire::pap;

pub(crate) use dialgate_crypto::mschap::ct_eq;

// ---------------------------------------------------------------------------------------
// Packets
// ---------------------------------------------------------------------------------------

/// A CHAP packet (RFC 1994 §4), flattened from `chap::Repr` for matching.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Chap<'a> {
    Challenge {
        id: u8,
        value: &'a [u8],
        name: &'a [u8],
    },
    Response {
        id: u8,
        value: &'a [u8],
        name: &'a [u8],
    },
    Success {
        id: u8,
        message: &'a [u8],
    },
    Failure {
        id: u8,
        message: &'a [u8],
    },
}

/// A PAP packet (RFC 1334 §2.2), flattened from `pap::Repr`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Pap<'a> {
    Request {
        id: u8,
        user: &'a [u8],
        password: &'a [u8],
    },
    Ack {
        id: u8,
        message: &'a [u8],
    },
    Nak {
        id: u8,
        message: &'a [u8],
    },
}

/// Why a packet was not understood: an unknown Code, or anything else.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ParseError {
    Malformed,
    UnknownCode,
}

impl From<dialgate_wire::Error> for ParseError {
    fn from(e: dialgate_wire::Error) -> Self {
        match e {
            dialgate_wire::Error::UnknownCode => ParseError::UnknownCode,
            _ => ParseError::Malformed,
        }
    }
}

pub(crate) fn parse_chap(data: &[u8]) -> Result<Chap<'_>, ParseError> {
    let r = chap::Repr::parse(data)?;
    let id = r.identifier;
    Ok(match r.body {
        chap::Body::Challenge { value, name } => Chap::Challenge { id, value, name },
        chap::Body::Response { value, name } => Chap::Response { id, value, name },
        chap::Body::Success { message } => Chap::Success { id, message },
        chap::Body::Failure { message } => Chap::Failure { id, message },
    })
}

/// Build a CHAP packet. Values are at most 64 octets and names and messages are bounded by
/// the callers, so emitting cannot fail; if it ever did, the packet would be empty and the
/// caller's `push` drops it.
pub(crate) fn emit_chap(p: &Chap<'_>) -> Vec<u8> {
    let (identifier, body) = match *p {
        Chap::Challenge { id, value, name } => (id, chap::Body::Challenge { value, name }),
        Chap::Response { id, value, name } => (id, chap::Body::Response { value, name }),
        Chap::Success { id, message } => (id, chap::Body::Success { message }),
        Chap::Failure { id, message } => (id, chap::Body::Failure { message }),
    };
    let mut out = Vec::new();
    let _ = chap::Repr { identifier, body }.push(&mut out);
    out
}

pub(crate) fn parse_pap(data: &[u8]) -> Result<Pap<'_>, ParseError> {
    let r = pap::Repr::parse(data)?;
    let id = r.identifier;
    Ok(match r.body {
        pap::Body::Request { peer_id, password } => Pap::Request {
            id,
            user: peer_id,
            password,
        },
        pap::Body::Ack { message } => Pap::Ack { id, message },
        pap::Body::Nak { message } => Pap::Nak { id, message },
    })
}

/// Build a PAP packet; empty if a field exceeds 255 octets (see [`emit_chap`]).
pub(crate) fn emit_pap(p: &Pap<'_>) -> Vec<u8> {
    let (identifier, body) = match *p {
        Pap::Request { id, user, password } => (
            id,
            pap::Body::Request {
                peer_id: user,
                password,
            },
        ),
        Pap::Ack { id, message } => (id, pap::Body::Ack { message }),
        Pap::Nak { id, message } => (id, pap::Body::Nak { message }),
    };
    let mut out = Vec::new();
    let _ = pap::Repr { identifier, body }.push(&mut out);
    out
}

// ---------------------------------------------------------------------------------------
// MS-CHAP values and messages
// ---------------------------------------------------------------------------------------

pub(crate) use wms::{V1Response, V2Response};

pub(crate) fn parse_v1_response(value: &[u8]) -> Option<V1Response> {
    V1Response::parse(value).ok()
}

/// The MS-CHAPv1 Response value a peer sends: no LM response, "use NT" set (RFC 2433 §3).
pub(crate) fn emit_v1_response(nt_response: &[u8; 24]) -> [u8; 49] {
    V1Response {
        lm_response: [0; 24],
        nt_response: *nt_response,
        flags: 1,
    }
    .to_bytes()
}

pub(crate) fn parse_v2_response(value: &[u8]) -> Option<V2Response> {
    V2Response::parse(value).ok()
}

pub(crate) fn emit_v2_response(peer_challenge: &[u8; 16], nt_response: &[u8; 24]) -> [u8; 49] {
    V2Response::new(*peer_challenge, *nt_response).to_bytes()
}

/// `S=<40 hex> M=<message>` (RFC 2759 §5).
pub(crate) fn format_v2_success(auth_resp: &[u8; 20], message: &str) -> Vec<u8> {
    let mut out = Vec::new();
    wms::V2Success {
        authenticator_response: *auth_resp,
        message: Some(message.as_bytes()),
    }
    .push(&mut out);
    out
}

/// The authenticator response of an MS-CHAPv2 Success message.
pub(crate) fn parse_v2_success(message: &[u8]) -> Option<[u8; 20]> {
    wms::V2Success::parse(message)
        .ok()
        .map(|s| s.authenticator_response)
}

/// An MS-CHAP Failure message to send (RFC 2433 §3, RFC 2759 §6).
pub(crate) struct MsFailure<'a> {
    pub code: u32,
    pub retry: bool,
    pub challenge: Option<&'a [u8]>,
    pub version: Option<u32>,
    pub message: &'a str,
}

pub(crate) fn format_ms_failure(f: &MsFailure<'_>) -> Vec<u8> {
    let challenge = f.challenge.and_then(|c| match c.len() {
        8 => c.try_into().ok().map(wms::FailureChallenge::V1),
        16 => c.try_into().ok().map(wms::FailureChallenge::V2),
        _ => None,
    });
    let mut out = Vec::new();
    wms::Failure {
        error: Some(f.code),
        retry: Some(f.retry),
        challenge,
        version: f.version,
        message: Some(f.message.as_bytes()),
    }
    .push(&mut out);
    out
}

/// A received MS-CHAP Failure message.
pub(crate) struct ParsedMsFailure<'a> {
    pub code: u32,
    pub retry: bool,
    challenge: Option<wms::FailureChallenge>,
    pub message: &'a [u8],
}

impl ParsedMsFailure<'_> {
    /// The `C=` challenge for the retry, 8 (MS-CHAPv1) or 16 (MS-CHAPv2) octets.
    pub fn challenge(&self) -> Option<&[u8]> {
        match &self.challenge {
            Some(wms::FailureChallenge::V1(c)) => Some(c),
            Some(wms::FailureChallenge::V2(c)) => Some(c),
            None => None,
        }
    }
}

/// Parse a Failure message; a missing `E=` is taken as 691 and a missing `R=` as no retry.
pub(crate) fn parse_ms_failure(message: &[u8]) -> Option<ParsedMsFailure<'_>> {
    let f = wms::Failure::parse(message).ok()?;
    Some(ParsedMsFailure {
        code: f.error.unwrap_or(wms::error::AUTHENTICATION_FAILURE),
        retry: f.retry.unwrap_or(false),
        challenge: f.challenge,
        message: f.message.unwrap_or_default(),
    })
}

// ---------------------------------------------------------------------------------------
// Crypto
// ---------------------------------------------------------------------------------------

pub(crate) use dialgate_crypto::PasswordError;

pub(crate) fn nt_password_hash(password: &str) -> Result<NtHash, PasswordError> {
    mschap::nt_password_hash(password)
}

/// CHAP-MD5 response: MD5(Identifier ‖ secret ‖ challenge) (RFC 1994 §4.1).
pub(crate) fn chap_md5_response(id: u8, secret: &[u8], challenge: &[u8]) -> [u8; 16] {
    dialgate_crypto::chap::chap_md5_response(id, secret, challenge)
}

pub(crate) fn mschap_v1_nt_response(challenge: &[u8; 8], nt_hash: &NtHash) -> [u8; 24] {
    mschap::mschapv1_nt_challenge_response(challenge, nt_hash)
}

pub(crate) fn mschap_v2_nt_response(
    authenticator_challenge: &[u8; 16],
    peer_challenge: &[u8; 16],
    user: &[u8],
    nt_hash: &NtHash,
) -> [u8; 24] {
    mschap::generate_nt_response(authenticator_challenge, peer_challenge, user, nt_hash)
}

pub(crate) fn mschap_v2_authenticator_response(
    nt_hash: &NtHash,
    nt_response: &[u8; 24],
    peer_challenge: &[u8; 16],
    authenticator_challenge: &[u8; 16],
    user: &[u8],
) -> [u8; 20] {
    mschap::generate_authenticator_response(
        nt_hash,
        nt_response,
        peer_challenge,
        authenticator_challenge,
        user,
    )
}

/// MPPE start keys after MS-CHAPv1 (RFC 3079 §2.3): symmetric, the same on both ends.
pub(crate) fn mppe_keys_v1(nt_hash: &NtHash, challenge: &[u8; 8]) -> Option<MppeKeys> {
    Some(mppe::mppe_keys_from_mschapv1(nt_hash, challenge))
}

/// MPPE start keys after MS-CHAPv2 (RFC 3079 §3.4), the authenticator's send/receive.
pub(crate) fn mppe_keys_v2_authenticator(
    nt_hash: &NtHash,
    nt_response: &[u8; 24],
) -> Option<MppeKeys> {
    Some(mppe::mppe_keys_from_mschapv2(
        nt_hash,
        nt_response,
        Role::Authenticator,
    ))
}

/// MPPE start keys after MS-CHAPv2 (RFC 3079 §3.4), the peer's send/receive.
pub(crate) fn mppe_keys_v2_peer(nt_hash: &NtHash, nt_response: &[u8; 24]) -> Option<MppeKeys> {
    Some(mppe::mppe_keys_from_mschapv2(
        nt_hash,
        nt_response,
        Role::Peer,
    ))
}

/// Constant-time equality of two key sets.
pub(crate) fn keys_eq(a: &MppeKeys, b: &MppeKeys) -> bool {
    ct_eq(&a.send, &b.send) & ct_eq(&a.recv, &b.recv)
}

/// Equality of optional key sets (constant time when both are present).
pub(crate) fn opt_keys_eq(a: Option<&MppeKeys>, b: Option<&MppeKeys>) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => keys_eq(a, b),
        (None, None) => true,
        _ => false,
    }
}
