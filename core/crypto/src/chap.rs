//! PPP CHAP with MD5 (RFC 1994 §4.1): Response = MD5(Identifier ‖ secret ‖ Challenge).
//!
//! Unlike MS-CHAP this needs the clear-text secret on both ends, so the appliance offers it
//! only where a weak method is explicitly enabled.

use md5::{Digest, Md5};

use crate::mschap::ct_eq;

/// The 16-octet CHAP-MD5 Response value (RFC 1994 §4.1).
pub fn chap_md5_response(identifier: u8, secret: &[u8], challenge: &[u8]) -> [u8; 16] {
    Md5::new()
        .chain_update([identifier])
        .chain_update(secret)
        .chain_update(challenge)
        .finalize()
        .into()
}

/// Checks a received CHAP-MD5 Response value in constant time; any length but 16 fails.
pub fn verify_chap_md5_response(
    identifier: u8,
    secret: &[u8],
    challenge: &[u8],
    received: &[u8],
) -> bool {
    ct_eq(&chap_md5_response(identifier, secret, challenge), received)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chap_rfc1994_4_1_md5_response() {
        // MD5(0x01 ‖ "MyPw" ‖ c49c74a7d3f8fa006ea57190f28ab34c), computed independently with
        // Python's hashlib: 822c2bc654b1d0a8dbea8737fbbdde0e.
        let challenge = [
            0xc4, 0x9c, 0x74, 0xa7, 0xd3, 0xf8, 0xfa, 0x00, 0x6e, 0xa5, 0x71, 0x90, 0xf2, 0x8a,
            0xb3, 0x4c,
        ];
        let expected = [
            0x82, 0x2c, 0x2b, 0xc6, 0x54, 0xb1, 0xd0, 0xa8, 0xdb, 0xea, 0x87, 0x37, 0xfb, 0xbd,
            0xde, 0x0e,
        ];
        assert_eq!(chap_md5_response(1, b"MyPw", &challenge), expected);
        assert!(verify_chap_md5_response(1, b"MyPw", &challenge, &expected));
        assert!(!verify_chap_md5_response(2, b"MyPw", &challenge, &expected));
        assert!(!verify_chap_md5_response(1, b"MyPW", &challenge, &expected));
        assert!(!verify_chap_md5_response(
            1,
            b"MyPw",
            &challenge,
            &expected[..15]
        ));
    }
}
