//! The seam between the state machines and `dialgate_wire` / `dialgate_crypto`: packet
//! parsing and building, MS-CHAP value formats, and the MS-CHAP / MPPE computations.
//!
//! TEMPORARY: the codec half below is a stand-in until `dialgate_wire::{pap, chap}` land;
//! it must be replaced by calls into them before this branch lands on main.

use dialgate_crypto::NtHash;
use dialgate_crypto::mppe::{self, MppeKeys, Role};
use dialgate_crypto::mschap;

pub(crate) use dialgate_crypto::mschap::ct_eq;

// ---------------------------------------------------------------------------------------
// Packets
// ---------------------------------------------------------------------------------------

/// A CHAP packet (RFC 1994 §4).
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

/// A PAP packet (RFC 1334 §2.2).
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

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ParseError {
    Malformed,
    UnknownCode,
}

fn header(data: &[u8]) -> Result<(u8, u8, &[u8]), ParseError> {
    let [code, id, l0, l1, ..] = *data else {
        return Err(ParseError::Malformed);
    };
    let len = usize::from(u16::from_be_bytes([l0, l1]));
    if len < 4 {
        return Err(ParseError::Malformed);
    }
    let body = data.get(4..len).ok_or(ParseError::Malformed)?;
    Ok((code, id, body))
}

fn value_and_name(body: &[u8]) -> Result<(&[u8], &[u8]), ParseError> {
    let (&n, rest) = body.split_first().ok_or(ParseError::Malformed)?;
    let n = usize::from(n);
    if n == 0 {
        return Err(ParseError::Malformed);
    }
    let value = rest.get(..n).ok_or(ParseError::Malformed)?;
    let name = rest.get(n..).ok_or(ParseError::Malformed)?;
    Ok((value, name))
}

pub(crate) fn parse_chap(data: &[u8]) -> Result<Chap<'_>, ParseError> {
    let (code, id, body) = header(data)?;
    match code {
        1 => value_and_name(body).map(|(value, name)| Chap::Challenge { id, value, name }),
        2 => value_and_name(body).map(|(value, name)| Chap::Response { id, value, name }),
        3 => Ok(Chap::Success { id, message: body }),
        4 => Ok(Chap::Failure { id, message: body }),
        _ => Err(ParseError::UnknownCode),
    }
}

fn with_header(code: u8, id: u8, body: &[&[u8]]) -> Vec<u8> {
    let len = 4 + body.iter().map(|b| b.len()).sum::<usize>();
    let mut out = Vec::with_capacity(len);
    out.push(code);
    out.push(id);
    out.extend_from_slice(&u16::try_from(len).unwrap_or(u16::MAX).to_be_bytes());
    for b in body {
        out.extend_from_slice(b);
    }
    out
}

pub(crate) fn emit_chap(p: &Chap<'_>) -> Vec<u8> {
    match *p {
        Chap::Challenge { id, value, name } => {
            with_header(1, id, &[&[value.len() as u8], value, name])
        }
        Chap::Response { id, value, name } => {
            with_header(2, id, &[&[value.len() as u8], value, name])
        }
        Chap::Success { id, message } => with_header(3, id, &[message]),
        Chap::Failure { id, message } => with_header(4, id, &[message]),
    }
}

pub(crate) fn parse_pap(data: &[u8]) -> Result<Pap<'_>, ParseError> {
    let (code, id, body) = header(data)?;
    let field = |b: &[u8]| -> Result<(usize, usize), ParseError> {
        let (&n, _) = b.split_first().ok_or(ParseError::Malformed)?;
        Ok((1, usize::from(n)))
    };
    match code {
        1 => {
            let (o, n) = field(body)?;
            let user = body.get(o..o + n).ok_or(ParseError::Malformed)?;
            let rest = body.get(o + n..).ok_or(ParseError::Malformed)?;
            let (o2, n2) = field(rest)?;
            let password = rest.get(o2..o2 + n2).ok_or(ParseError::Malformed)?;
            Ok(Pap::Request { id, user, password })
        }
        2 | 3 => {
            let message = match body.split_first() {
                Some((&n, rest)) => rest.get(..usize::from(n)).ok_or(ParseError::Malformed)?,
                None => &[],
            };
            Ok(if code == 2 {
                Pap::Ack { id, message }
            } else {
                Pap::Nak { id, message }
            })
        }
        _ => Err(ParseError::UnknownCode),
    }
}

pub(crate) fn emit_pap(p: &Pap<'_>) -> Vec<u8> {
    match *p {
        Pap::Request { id, user, password } => with_header(
            1,
            id,
            &[&[user.len() as u8], user, &[password.len() as u8], password],
        ),
        Pap::Ack { id, message } => with_header(2, id, &[&[message.len() as u8], message]),
        Pap::Nak { id, message } => with_header(3, id, &[&[message.len() as u8], message]),
    }
}

// ---------------------------------------------------------------------------------------
// MS-CHAP values and messages
// ---------------------------------------------------------------------------------------

/// MS-CHAPv1 Response value (RFC 2433 §5).
pub(crate) struct V1Response {
    pub lm_response: [u8; 24],
    pub nt_response: [u8; 24],
    pub use_nt: bool,
}

/// MS-CHAPv2 Response value (RFC 2759 §4).
pub(crate) struct V2Response {
    pub peer_challenge: [u8; 16],
    pub nt_response: [u8; 24],
}

pub(crate) fn parse_v1_response(value: &[u8]) -> Option<V1Response> {
    let v: &[u8; 49] = value.try_into().ok()?;
    Some(V1Response {
        lm_response: v[..24].try_into().ok()?,
        nt_response: v[24..48].try_into().ok()?,
        use_nt: v[48] == 1,
    })
}

pub(crate) fn emit_v1_response(nt_response: &[u8; 24]) -> [u8; 49] {
    let mut v = [0u8; 49];
    v[24..48].copy_from_slice(nt_response);
    v[48] = 1;
    v
}

pub(crate) fn parse_v2_response(value: &[u8]) -> Option<V2Response> {
    let v: &[u8; 49] = value.try_into().ok()?;
    Some(V2Response {
        peer_challenge: v[..16].try_into().ok()?,
        nt_response: v[24..48].try_into().ok()?,
    })
}

pub(crate) fn emit_v2_response(peer_challenge: &[u8; 16], nt_response: &[u8; 24]) -> [u8; 49] {
    let mut v = [0u8; 49];
    v[..16].copy_from_slice(peer_challenge);
    v[24..48].copy_from_slice(nt_response);
    v
}

fn hex_upper(bytes: &[u8]) -> String {
    use core::fmt::Write;
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02X}");
    }
    s
}

fn unhex(s: &[u8]) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    s.chunks(2)
        .map(|p| u8::from_str_radix(core::str::from_utf8(p).ok()?, 16).ok())
        .collect()
}

/// `S=<40 hex> M=<message>` (RFC 2759 §5).
pub(crate) fn format_v2_success(auth_resp: &[u8; 20], message: &str) -> Vec<u8> {
    format!("S={} M={}", hex_upper(auth_resp), message).into_bytes()
}

/// The authenticator response of an MS-CHAPv2 Success message.
pub(crate) fn parse_v2_success(message: &[u8]) -> Option<[u8; 20]> {
    let rest = message.strip_prefix(b"S=")?;
    unhex(rest.get(..40)?)?.try_into().ok()
}

/// An MS-CHAP Failure message (RFC 2433 §6, RFC 2759 §6).
pub(crate) struct MsFailure<'a> {
    pub code: u32,
    pub retry: bool,
    pub challenge: Option<&'a [u8]>,
    pub version: Option<u32>,
    pub message: &'a str,
}

pub(crate) fn format_ms_failure(f: &MsFailure<'_>) -> Vec<u8> {
    let mut s = format!("E={} R={}", f.code, u8::from(f.retry));
    if let Some(c) = f.challenge {
        s.push_str(" C=");
        s.push_str(&hex_upper(c));
    }
    if let Some(v) = f.version {
        s.push_str(&format!(" V={v}"));
    }
    s.push_str(" M=");
    s.push_str(f.message);
    s.into_bytes()
}

/// Parsed Failure message.
pub(crate) struct ParsedMsFailure<'a> {
    pub code: u32,
    pub retry: bool,
    challenge: Option<Vec<u8>>,
    pub message: &'a [u8],
}

impl ParsedMsFailure<'_> {
    pub fn challenge(&self) -> Option<&[u8]> {
        self.challenge.as_deref()
    }
}

pub(crate) fn parse_ms_failure(message: &[u8]) -> Option<ParsedMsFailure<'_>> {
    let text = core::str::from_utf8(message).ok()?;
    let (fields, msg) = match text.find("M=") {
        Some(i) => (&text[..i], &message[i + 2..]),
        None => (text, &message[message.len()..]),
    };
    let mut out = ParsedMsFailure {
        code: 691,
        retry: false,
        challenge: None,
        message: msg,
    };
    for f in fields.split_ascii_whitespace() {
        if let Some(v) = f.strip_prefix("E=") {
            out.code = v.parse().ok()?;
        } else if let Some(v) = f.strip_prefix("R=") {
            out.retry = v == "1";
        } else if let Some(v) = f.strip_prefix("C=") {
            out.challenge = unhex(v.as_bytes());
        } else if !f.starts_with("V=") {
            return None;
        }
    }
    Some(out)
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
    use md5::{Digest, Md5};
    Md5::new()
        .chain_update([id])
        .chain_update(secret)
        .chain_update(challenge)
        .finalize()
        .into()
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
