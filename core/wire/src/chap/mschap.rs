//! MS-CHAP value and message formats carried in CHAP packets: MS-CHAPv1 (RFC 2433) and
//! MS-CHAPv2 (RFC 2759). The cryptography lives in `dialgate-crypto`; this module only moves
//! bytes.

use crate::cp::Writer;
use crate::{Error, Result};

/// Value-Size of an MS-CHAP Response (RFC 2433 §3, RFC 2759 §4).
pub const RESPONSE_LEN: usize = 49;
/// Length of an MS-CHAPv1 challenge (RFC 2433 §2).
pub const V1_CHALLENGE_LEN: usize = 8;
/// Length of an MS-CHAPv2 challenge (authenticator or peer, RFC 2759 §3-4).
pub const V2_CHALLENGE_LEN: usize = 16;

/// Windows error codes sent in a Failure message (RFC 2759 §6).
pub mod error {
    /// ERROR_RESTRICTED_LOGON_HOURS.
    pub const RESTRICTED_LOGON_HOURS: u32 = 646;
    /// ERROR_ACCT_DISABLED.
    pub const ACCT_DISABLED: u32 = 647;
    /// ERROR_PASSWD_EXPIRED.
    pub const PASSWD_EXPIRED: u32 = 648;
    /// ERROR_NO_DIALIN_PERMISSION.
    pub const NO_DIALIN_PERMISSION: u32 = 649;
    /// ERROR_AUTHENTICATION_FAILURE.
    pub const AUTHENTICATION_FAILURE: u32 = 691;
    /// ERROR_CHANGING_PASSWORD.
    pub const CHANGING_PASSWORD: u32 = 709;
}

/// The 49-octet MS-CHAPv1 Response value (RFC 2433 §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct V1Response {
    /// LAN Manager compatible challenge response (zeros when not sent).
    pub lm_response: [u8; 24],
    /// Windows NT compatible challenge response.
    pub nt_response: [u8; 24],
    /// The "use Windows NT compatible challenge response" flag: 1 use `nt_response`, 0 use
    /// `lm_response`; kept as received.
    pub flags: u8,
}

impl V1Response {
    /// Parse a Response value; it must be exactly 49 octets.
    pub fn parse(value: &[u8]) -> Result<Self> {
        let v: &[u8; RESPONSE_LEN] = value.try_into().map_err(|_| Error::Malformed)?;
        let (lm, rest) = v.split_first_chunk::<24>().ok_or(Error::Malformed)?;
        let (nt, rest) = rest.split_first_chunk::<24>().ok_or(Error::Malformed)?;
        Ok(V1Response {
            lm_response: *lm,
            nt_response: *nt,
            flags: rest.first().copied().unwrap_or(0),
        })
    }

    /// Whether the NT response is the one to check.
    pub fn use_nt(&self) -> bool {
        self.flags == 1
    }

    /// The 49-octet value.
    pub fn to_bytes(&self) -> [u8; RESPONSE_LEN] {
        let mut out = [0u8; RESPONSE_LEN];
        let mut w = Writer::new(&mut out);
        // The array is exactly sized, so these cannot fail.
        let _ = w
            .put(&self.lm_response)
            .and_then(|()| w.put(&self.nt_response))
            .and_then(|()| w.u8(self.flags));
        out
    }
}

/// The 49-octet MS-CHAPv2 Response value (RFC 2759 §4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct V2Response {
    /// Peer-Challenge.
    pub peer_challenge: [u8; 16],
    /// Reserved, zero on send; kept as received.
    pub reserved: [u8; 8],
    /// NT-Response.
    pub nt_response: [u8; 24],
    /// Flags, zero on send; kept as received.
    pub flags: u8,
}

impl V2Response {
    /// Parse a Response value; it must be exactly 49 octets.
    pub fn parse(value: &[u8]) -> Result<Self> {
        let v: &[u8; RESPONSE_LEN] = value.try_into().map_err(|_| Error::Malformed)?;
        let (pc, rest) = v.split_first_chunk::<16>().ok_or(Error::Malformed)?;
        let (reserved, rest) = rest.split_first_chunk::<8>().ok_or(Error::Malformed)?;
        let (nt, rest) = rest.split_first_chunk::<24>().ok_or(Error::Malformed)?;
        Ok(V2Response {
            peer_challenge: *pc,
            reserved: *reserved,
            nt_response: *nt,
            flags: rest.first().copied().unwrap_or(0),
        })
    }

    /// A response with zero Reserved and Flags, as a peer sends it.
    pub fn new(peer_challenge: [u8; 16], nt_response: [u8; 24]) -> Self {
        V2Response {
            peer_challenge,
            reserved: [0; 8],
            nt_response,
            flags: 0,
        }
    }

    /// The 49-octet value.
    pub fn to_bytes(&self) -> [u8; RESPONSE_LEN] {
        let mut out = [0u8; RESPONSE_LEN];
        let mut w = Writer::new(&mut out);
        let _ = w
            .put(&self.peer_challenge)
            .and_then(|()| w.put(&self.reserved))
            .and_then(|()| w.put(&self.nt_response))
            .and_then(|()| w.u8(self.flags));
        out
    }
}

const HEX: &[u8; 16] = b"0123456789ABCDEF";

fn hex_nibble(c: u8) -> Result<u8> {
    match c {
        b'0'..=b'9' => Ok(c - b'0'),
        b'a'..=b'f' => Ok(c - b'a' + 10),
        b'A'..=b'F' => Ok(c - b'A' + 10),
        _ => Err(Error::Malformed),
    }
}

/// Decode exactly `2 * N` hex digits (either case).
fn unhex<const N: usize>(text: &[u8]) -> Result<[u8; N]> {
    if text.len() != 2 * N {
        return Err(Error::Malformed);
    }
    let mut out = [0u8; N];
    for (o, pair) in out.iter_mut().zip(text.chunks_exact(2)) {
        if let [hi, lo] = pair {
            *o = (hex_nibble(*hi)? << 4) | hex_nibble(*lo)?;
        }
    }
    Ok(out)
}

fn put_hex(w: &mut Writer<'_>, bytes: &[u8]) -> Result<()> {
    for &b in bytes {
        w.put(&[HEX[usize::from(b >> 4)], HEX[usize::from(b & 0xf)]])?;
    }
    Ok(())
}

fn parse_decimal(text: &[u8]) -> Result<u32> {
    if text.is_empty() || text.len() > 10 {
        return Err(Error::Malformed);
    }
    text.iter().try_fold(0u32, |acc, &c| {
        let d = c
            .checked_sub(b'0')
            .filter(|d| *d < 10)
            .ok_or(Error::Malformed)?;
        acc.checked_mul(10)
            .and_then(|a| a.checked_add(u32::from(d)))
            .ok_or(Error::Malformed)
    })
}

fn decimal_len(mut v: u32) -> usize {
    let mut n = 1;
    while v >= 10 {
        v /= 10;
        n += 1;
    }
    n
}

fn put_decimal(w: &mut Writer<'_>, v: u32) -> Result<()> {
    let mut digits = [0u8; 10];
    let n = decimal_len(v);
    let mut x = v;
    for slot in digits.iter_mut().take(n).rev() {
        *slot = b'0' + (x % 10) as u8;
        x /= 10;
    }
    w.put(digits.get(..n).unwrap_or_default())
}

/// The MS-CHAPv2 Success message `S=<40 hex digits> M=<message>` (RFC 2759 §5).
///
/// pppd also accepts the message without ` M=...`; so does [`parse`](Self::parse).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct V2Success<'a> {
    /// The 20-octet authenticator response ("S=").
    pub authenticator_response: [u8; 20],
    /// The text after " M=", if present.
    pub message: Option<&'a [u8]>,
}

impl<'a> V2Success<'a> {
    /// Parse a Success message (hex digits in either case).
    pub fn parse(text: &'a [u8]) -> Result<Self> {
        let rest = text.strip_prefix(b"S=").ok_or(Error::Malformed)?;
        let (hex, tail) = rest.split_at_checked(40).ok_or(Error::Malformed)?;
        let authenticator_response = unhex::<20>(hex)?;
        let message = match tail {
            [] => None,
            _ => Some(tail.strip_prefix(b" M=").ok_or(Error::Malformed)?),
        };
        Ok(V2Success {
            authenticator_response,
            message,
        })
    }

    /// Length of the formatted message.
    pub fn buffer_len(&self) -> usize {
        42 + self.message.map_or(0, |m| 3 + m.len())
    }

    /// Format the message (upper-case hex, RFC 2759 §5) into the start of `buf`.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        let mut w = Writer::new(buf);
        w.put(b"S=")?;
        put_hex(&mut w, &self.authenticator_response)?;
        if let Some(m) = self.message {
            w.put(b" M=")?;
            w.put(m)?;
        }
        Ok(w.position())
    }

    /// Append the formatted message to `out`.
    pub fn push(&self, out: &mut Vec<u8>) {
        push_with(out, self.buffer_len(), |buf| self.emit(buf));
    }
}

/// The challenge in a Failure message: 16 octets for MS-CHAPv2, 8 for MS-CHAPv1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FailureChallenge {
    /// MS-CHAPv1 (RFC 2433 §3): 16 hex digits.
    V1([u8; V1_CHALLENGE_LEN]),
    /// MS-CHAPv2 (RFC 2759 §6): 32 hex digits.
    V2([u8; V2_CHALLENGE_LEN]),
}

impl FailureChallenge {
    fn bytes(&self) -> &[u8] {
        match self {
            FailureChallenge::V1(c) => c,
            FailureChallenge::V2(c) => c,
        }
    }
}

/// The MS-CHAP Failure message `E=%d R=%d C=<hex> V=%d M=<text>` (RFC 2433 §3, RFC 2759 §6).
///
/// Every field is optional on parse (real peers vary); fields before `M=` may come in any order
/// but each at most once. [`emit`](Self::emit) writes them in the RFC's order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Failure<'a> {
    /// "E=": the Windows error code, e.g. [`error::AUTHENTICATION_FAILURE`].
    pub error: Option<u32>,
    /// "R=": whether a retry is allowed.
    pub retry: Option<bool>,
    /// "C=": the challenge for the retry.
    pub challenge: Option<FailureChallenge>,
    /// "V=": the password-change protocol version (3 for MS-CHAPv2).
    pub version: Option<u32>,
    /// "M=": the text, to the end of the message (may contain spaces).
    pub message: Option<&'a [u8]>,
}

impl<'a> Failure<'a> {
    /// Parse a Failure message.
    pub fn parse(text: &'a [u8]) -> Result<Self> {
        let mut f = Failure::default();
        let mut rest = text;
        while !rest.is_empty() {
            if let Some(m) = rest.strip_prefix(b"M=") {
                f.message = Some(m);
                break;
            }
            let end = rest.iter().position(|&c| c == b' ').unwrap_or(rest.len());
            let (token, tail) = rest.split_at(end);
            rest = match tail {
                [b' ', after @ ..] if !after.is_empty() => after,
                [] => tail,
                _ => return Err(Error::Malformed),
            };
            fn set<T>(slot: &mut Option<T>, v: T) -> Result<()> {
                if slot.replace(v).is_some() {
                    Err(Error::Malformed)
                } else {
                    Ok(())
                }
            }
            match token {
                [b'E', b'=', v @ ..] => set(&mut f.error, parse_decimal(v)?)?,
                [b'R', b'=', b'0'] => set(&mut f.retry, false)?,
                [b'R', b'=', b'1'] => set(&mut f.retry, true)?,
                [b'V', b'=', v @ ..] => set(&mut f.version, parse_decimal(v)?)?,
                [b'C', b'=', v @ ..] => {
                    let c = match v.len() {
                        16 => FailureChallenge::V1(unhex(v)?),
                        32 => FailureChallenge::V2(unhex(v)?),
                        _ => return Err(Error::Malformed),
                    };
                    set(&mut f.challenge, c)?;
                }
                _ => return Err(Error::Malformed),
            }
        }
        Ok(f)
    }

    /// Length of the formatted message.
    pub fn buffer_len(&self) -> usize {
        let fields = [
            self.error.map(|e| 2 + decimal_len(e)),
            self.retry.map(|_| 3),
            self.challenge.map(|c| 2 + 2 * c.bytes().len()),
            self.version.map(|v| 2 + decimal_len(v)),
            self.message.map(|m| 2 + m.len()),
        ];
        let present = fields.iter().flatten();
        let count = present.clone().count();
        present.sum::<usize>() + count.saturating_sub(1)
    }

    /// Format the message into the start of `buf`, fields separated by single spaces.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        let mut w = Writer::new(buf);
        let sep = |w: &mut Writer<'_>| {
            if w.position() > 0 {
                w.put(b" ")
            } else {
                Ok(())
            }
        };
        if let Some(e) = self.error {
            w.put(b"E=")?;
            put_decimal(&mut w, e)?;
        }
        if let Some(r) = self.retry {
            sep(&mut w)?;
            w.put(if r { b"R=1" } else { b"R=0" })?;
        }
        if let Some(c) = self.challenge {
            sep(&mut w)?;
            w.put(b"C=")?;
            put_hex(&mut w, c.bytes())?;
        }
        if let Some(v) = self.version {
            sep(&mut w)?;
            w.put(b"V=")?;
            put_decimal(&mut w, v)?;
        }
        if let Some(m) = self.message {
            sep(&mut w)?;
            w.put(b"M=")?;
            w.put(m)?;
        }
        Ok(w.position())
    }

    /// Append the formatted message to `out`.
    pub fn push(&self, out: &mut Vec<u8>) {
        push_with(out, self.buffer_len(), |buf| self.emit(buf));
    }
}

fn push_with(out: &mut Vec<u8>, len: usize, emit: impl FnOnce(&mut [u8]) -> Result<usize>) {
    let start = out.len();
    out.resize(start + len, 0);
    let written = emit(out.get_mut(start..).unwrap_or_default()).unwrap_or(0);
    out.truncate(start + written);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v2_success_rfc2759_5() {
        // pptpd's Success (ref-pcaps mschapv2-mppe128, frame 23).
        let text = b"S=61DE0FDE9DC932B4FAF4A2D246589AA1BE29B588 M=Access granted";
        let s = V2Success::parse(text).unwrap();
        assert_eq!(s.authenticator_response[..4], [0x61, 0xde, 0x0f, 0xde]);
        assert_eq!(s.authenticator_response[19], 0x88);
        assert_eq!(s.message, Some(&b"Access granted"[..]));
        let mut out = Vec::new();
        s.push(&mut out);
        assert_eq!(out, text);
        assert_eq!(s.buffer_len(), text.len());
    }

    #[test]
    fn v2_success_without_message_and_lowercase() {
        let text = b"S=61de0fde9dc932b4faf4a2d246589aa1be29b588";
        let s = V2Success::parse(text).unwrap();
        assert_eq!(s.message, None);
        let mut out = Vec::new();
        s.push(&mut out);
        assert_eq!(out, text.to_ascii_uppercase());
        assert_eq!(V2Success::parse(&out), Ok(s));
    }

    #[test]
    fn v2_success_hostile() {
        for bad in [
            &b""[..],
            b"S=",
            b"S=61DE0FDE9DC932B4FAF4A2D246589AA1BE29B58",
            b"S=61DE0FDE9DC932B4FAF4A2D246589AA1BE29B58G",
            b"S=61DE0FDE9DC932B4FAF4A2D246589AA1BE29B588M=x",
            b"s=61DE0FDE9DC932B4FAF4A2D246589AA1BE29B588",
        ] {
            assert_eq!(V2Success::parse(bad), Err(Error::Malformed), "{bad:?}");
        }
    }

    #[test]
    fn v2_failure_rfc2759_6() {
        // The example layout of RFC 2759 §6 with a real error code.
        let text = b"E=691 R=1 C=0123456789ABCDEF0123456789ABCDEF V=3 M=Authentication failure";
        let f = Failure::parse(text).unwrap();
        assert_eq!(f.error, Some(error::AUTHENTICATION_FAILURE));
        assert_eq!(f.retry, Some(true));
        assert_eq!(
            f.challenge,
            Some(FailureChallenge::V2([
                0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef, 0x01, 0x23, 0x45, 0x67, 0x89, 0xab,
                0xcd, 0xef
            ]))
        );
        assert_eq!(f.version, Some(3));
        assert_eq!(f.message, Some(&b"Authentication failure"[..]));
        let mut out = Vec::new();
        f.push(&mut out);
        assert_eq!(out, text);
        assert_eq!(f.buffer_len(), text.len());
    }

    #[test]
    fn v1_failure_rfc2433_3() {
        let text = b"E=649 R=0 C=0011223344556677 V=2";
        let f = Failure::parse(text).unwrap();
        assert_eq!(f.error, Some(error::NO_DIALIN_PERMISSION));
        assert_eq!(f.retry, Some(false));
        assert_eq!(
            f.challenge,
            Some(FailureChallenge::V1([
                0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77
            ]))
        );
        assert_eq!(f.message, None);
        let mut out = Vec::new();
        f.push(&mut out);
        assert_eq!(out, text);
    }

    #[test]
    fn failure_partial_and_reordered() {
        assert_eq!(Failure::parse(b""), Ok(Failure::default()));
        let f = Failure::parse(b"E=691").unwrap();
        assert_eq!((f.error, f.retry, f.message), (Some(691), None, None));
        let f = Failure::parse(b"M=go away").unwrap();
        assert_eq!(f.message, Some(&b"go away"[..]));
        let f = Failure::parse(b"R=0 E=709 M=").unwrap();
        assert_eq!(
            (f.error, f.retry, f.message),
            (Some(709), Some(false), Some(&b""[..]))
        );
        let mut out = Vec::new();
        f.push(&mut out);
        assert_eq!(out, b"E=709 R=0 M=");
    }

    #[test]
    fn failure_hostile() {
        for bad in [
            &b"E="[..],
            b"E=12345678901",
            b"E=4294967296",
            b"E=-1",
            b"R=2",
            b"C=0123",
            b"E=1 E=2",
            b"E=1  R=1",
            b"E=1 ",
            b"X=1",
            b"V=3x",
        ] {
            assert_eq!(Failure::parse(bad), Err(Error::Malformed), "{bad:?}");
        }
        assert_eq!(
            Failure::parse(b"E=4294967295").unwrap().error,
            Some(u32::MAX)
        );
    }

    #[test]
    fn v2_response_rfc2759_4() {
        // The Response of ref-pcaps mschapv2-mppe128 frame 22 begins with the peer challenge
        // 0f67b6cd... followed by 8 zero octets.
        let mut value = [0u8; 49];
        value[..4].copy_from_slice(&[0x0f, 0x67, 0xb6, 0xcd]);
        value[24..28].copy_from_slice(&[0x1d, 0xd7, 0x96, 0x52]);
        let r = V2Response::parse(&value).unwrap();
        assert_eq!(r.peer_challenge[..4], [0x0f, 0x67, 0xb6, 0xcd]);
        assert_eq!(r.nt_response[..4], [0x1d, 0xd7, 0x96, 0x52]);
        assert_eq!((r.reserved, r.flags), ([0; 8], 0));
        assert_eq!(r.to_bytes(), value);
        assert_eq!(V2Response::new(r.peer_challenge, r.nt_response), r);
        assert_eq!(V2Response::parse(&value[..48]), Err(Error::Malformed));
    }

    #[test]
    fn v1_response_rfc2433_3() {
        let mut value = [0u8; 49];
        value[24] = 0xaa;
        value[48] = 1;
        let r = V1Response::parse(&value).unwrap();
        assert_eq!(
            (r.lm_response, r.nt_response[0], r.use_nt()),
            ([0; 24], 0xaa, true)
        );
        assert_eq!(r.to_bytes(), value);
        assert_eq!(V1Response::parse(&[0; 50]), Err(Error::Malformed));
    }
}
