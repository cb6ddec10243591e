//! Views over the bytes of every PPP-family wire format the appliance speaks.
//!
//! Each format follows the same pattern: a `Packet<T: AsRef<[u8]>>` view whose
//! `new_checked` validates untrusted input (including the packet's own length
//! field), and a `Repr` with `parse` / `buffer_len` / `emit` such that
//! `parse(emit(r)) == r`.
//!
//! Nothing here panics on untrusted input: every parser returns [`Error`].
#![deny(unsafe_code)]

use core::fmt;

pub mod ccp;
pub mod chap;
pub mod cp;
pub mod gre;
pub mod hdlc;
pub mod ipcp;
pub mod ipv6cp;
pub mod ipx;
pub mod ipxcp;
pub mod lcp;
pub mod nbfcp;
pub mod pap;
pub mod ppp;
pub mod pptp;

/// Why bytes could not be parsed or emitted.
///
/// One error type for the whole crate; the engine maps each to its reaction on the wire
/// (silent drop, Code-Reject, Configure-Reject, ...).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Error {
    /// The buffer ends before a fixed-size header or field does.
    Truncated,
    /// A length field is inconsistent: below its minimum, or past the end of the buffer.
    BadLength,
    /// A field holds a value the format forbids.
    Malformed,
    /// A PPP protocol number breaks RFC 1661 §2 (last octet even, or first octet odd).
    BadProtocol,
    /// The output buffer is too small for what was asked.
    BufferTooSmall,
    /// A Code this format does not define (PAP/CHAP packets with such codes are discarded).
    UnknownCode,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Error::Truncated => "truncated packet",
            Error::BadLength => "inconsistent length field",
            Error::Malformed => "malformed field",
            Error::BadProtocol => "invalid PPP protocol number",
            Error::BufferTooSmall => "output buffer too small",
            Error::UnknownCode => "unknown code",
        })
    }
}

impl std::error::Error for Error {}

/// The result of parsing or emitting wire data.
pub type Result<T> = core::result::Result<T, Error>;
