//! MS-CHAP version 1 (RFC 2433) and version 2 (RFC 2759) response computations.
//!
//! Every function past [`nt_password_hash`] takes the NT password hash ([`NtHash`]) rather
//! than the clear-text password: a local user store keeps only NT hashes, and a RADIUS
//! backend verifies responses without the engine ever seeing a password.
//!
//! Who calls what:
//! - the **authenticator** (we authenticate a peer) checks the peer's NT-Response with
//!   [`verify_nt_response`] and, for MS-CHAPv2, sends the value of
//!   [`generate_authenticator_response`] in its Success packet;
//! - the **peer** (we dial out) sends [`generate_nt_response`] (v2) or
//!   [`mschapv1_nt_challenge_response`] (v1) and checks the authenticator's answer with
//!   [`verify_authenticator_response`].

use core::fmt;

use cipher::{BlockCipherEncrypt, KeyInit};
use des::Des;
use md4::{Digest, Md4};
use sha1::Sha1;

/// Longest password RFC 2759 §8.3 accepts: 256 Unicode (UTF-16) characters.
pub const MAX_NT_PASSWORD_CHARS: usize = 256;
/// Longest password an LM hash covers (RFC 2433 §A.2): 14 OEM characters.
pub const MAX_LM_PASSWORD_CHARS: usize = 14;

/// Why a password cannot be hashed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PasswordError {
    /// More than [`MAX_NT_PASSWORD_CHARS`] UTF-16 code units (RFC 2759 §8.3).
    TooLongForNtHash,
    /// More than [`MAX_LM_PASSWORD_CHARS`] octets (RFC 2433 §A.2): no LM hash exists.
    TooLongForLmHash,
}

impl fmt::Display for PasswordError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TooLongForNtHash => write!(f, "password longer than 256 UTF-16 characters"),
            Self::TooLongForLmHash => {
                write!(f, "password longer than 14 characters has no LM hash")
            }
        }
    }
}

impl std::error::Error for PasswordError {}

/// The NT password hash: MD4 over the UTF-16LE password (RFC 2759 §8.3, RFC 2433 §A.6).
///
/// It is a password equivalent, so its `Debug` output is redacted and it is overwritten
/// with zeros when dropped (best effort: the compiler may have made copies elsewhere).
#[derive(Clone)]
pub struct NtHash([u8; 16]);

impl NtHash {
    /// Wraps a stored NT hash (for example one read from the local user database).
    pub const fn from_bytes(bytes: [u8; 16]) -> Self {
        Self(bytes)
    }

    /// The 16 hash octets.
    pub const fn as_bytes(&self) -> &[u8; 16] {
        &self.0
    }

    /// Constant-time equality.
    pub fn ct_eq(&self, other: &NtHash) -> bool {
        ct_eq(&self.0, &other.0)
    }
}

impl fmt::Debug for NtHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("NtHash(<redacted>)")
    }
}

impl Drop for NtHash {
    fn drop(&mut self) {
        for b in self.0.iter_mut() {
            *b = 0;
        }
        // Keeps the zeroing stores from being removed as dead.
        core::hint::black_box(&mut self.0);
    }
}

/// Compares two byte strings in time that depends only on their lengths.
pub fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    core::hint::black_box(diff) == 0
}

/// NtPasswordHash (RFC 2759 §8.3, RFC 2433 §A.6): MD4 of the password in UTF-16LE, with no
/// terminating zero. Fails for passwords longer than 256 UTF-16 code units.
pub fn nt_password_hash(password: &str) -> Result<NtHash, PasswordError> {
    let mut unicode = [0u8; MAX_NT_PASSWORD_CHARS * 2];
    let mut len = 0;
    for unit in password.encode_utf16() {
        let slot = unicode
            .get_mut(len..len + 2)
            .ok_or(PasswordError::TooLongForNtHash)?;
        slot.copy_from_slice(&unit.to_le_bytes());
        len += 2;
    }
    let hash = Md4::digest(&unicode[..len]);
    unicode.fill(0);
    core::hint::black_box(&mut unicode);
    Ok(NtHash(hash.into()))
}

/// HashNtPasswordHash (RFC 2759 §8.4): MD4 of the NT hash.
pub fn hash_nt_password_hash(hash: &NtHash) -> [u8; 16] {
    Md4::digest(hash.0).into()
}

/// LmPasswordHash (RFC 2433 §A.2): the password upper-cased and zero-padded to 14 octets,
/// each 7-octet half used as a DES key to encrypt "KGS!@#$%" (DesHash, §A.3).
///
/// `password` is in the OEM character set; only ASCII letters are upper-cased (the OEM
/// code page's rules for other characters are not applied). Fails for more than 14 octets.
pub fn lm_password_hash(password: &[u8]) -> Result<[u8; 16], PasswordError> {
    const STD_TEXT: &[u8; 8] = b"KGS!@#$%";
    let mut padded = [0u8; MAX_LM_PASSWORD_CHARS];
    padded
        .get_mut(..password.len())
        .ok_or(PasswordError::TooLongForLmHash)?
        .copy_from_slice(password);
    padded.make_ascii_uppercase();
    let mut hash = [0u8; 16];
    for (out, key) in hash
        .as_chunks_mut::<8>()
        .0
        .iter_mut()
        .zip(padded.as_chunks::<7>().0)
    {
        *out = des_encrypt(STD_TEXT, key);
    }
    padded.fill(0);
    core::hint::black_box(&mut padded);
    Ok(hash)
}

/// Spreads a 56-bit DES key over 8 octets, seven key bits per octet followed by an odd
/// parity bit (RFC 2759 §9.3, RFC 2433 §B.3).
pub fn expand_des_key(key: &[u8; 7]) -> [u8; 8] {
    let bits = key.iter().fold(0u64, |acc, &b| (acc << 8) | u64::from(b));
    let mut out = [0u8; 8];
    for (i, o) in out.iter_mut().enumerate() {
        // Bits 55..49 of the key for octet 0, 48..42 for octet 1, and so on.
        let seven = ((bits >> (49 - 7 * i)) & 0x7f) as u8;
        let b = seven << 1;
        *o = b | u8::from(b.count_ones().is_multiple_of(2));
    }
    out
}

/// DesEncrypt (RFC 2759 §8.6, RFC 2433 §A.4): DES-ECB of one block under a 7-octet key.
pub fn des_encrypt(clear: &[u8; 8], key: &[u8; 7]) -> [u8; 8] {
    let cipher = Des::new(&expand_des_key(key).into());
    let mut block = (*clear).into();
    cipher.encrypt_block(&mut block);
    block.into()
}

/// ChallengeResponse (RFC 2759 §8.5, RFC 2433 §A.7): the password hash zero-padded to 21
/// octets, each 7-octet third used as a DES key to encrypt the 8-octet challenge.
pub fn challenge_response(challenge: &[u8; 8], password_hash: &[u8; 16]) -> [u8; 24] {
    let mut z = [0u8; 21];
    z[..16].copy_from_slice(password_hash);
    let mut response = [0u8; 24];
    for (out, key) in response
        .as_chunks_mut::<8>()
        .0
        .iter_mut()
        .zip(z.as_chunks::<7>().0)
    {
        *out = des_encrypt(challenge, key);
    }
    z.fill(0);
    core::hint::black_box(&mut z);
    response
}

/// MS-CHAPv1 NtChallengeResponse (RFC 2433 §A.5), from the NT hash.
pub fn mschapv1_nt_challenge_response(challenge: &[u8; 8], nt_hash: &NtHash) -> [u8; 24] {
    challenge_response(challenge, &nt_hash.0)
}

/// MS-CHAPv1 LmChallengeResponse (RFC 2433 §A.1), from the LM hash. Deprecated by the RFC:
/// peers send zeros here and set the "use NT response" flag.
pub fn mschapv1_lm_challenge_response(challenge: &[u8; 8], lm_hash: &[u8; 16]) -> [u8; 24] {
    challenge_response(challenge, lm_hash)
}

/// The user name without any "DOMAIN\" prefix: the part after the last backslash
/// (RFC 2759 §8.2, RFC 2433 §6).
pub fn strip_domain(user_name: &[u8]) -> &[u8] {
    match user_name.iter().rposition(|&b| b == b'\\') {
        Some(i) => user_name.get(i + 1..).unwrap_or_default(),
        None => user_name,
    }
}

/// ChallengeHash (RFC 2759 §8.2): the first 8 octets of SHA-1 over the peer challenge, the
/// authenticator challenge and the user name. Any "DOMAIN\" prefix of `user_name` is
/// removed here, as the RFC requires.
pub fn challenge_hash(
    peer_challenge: &[u8; 16],
    authenticator_challenge: &[u8; 16],
    user_name: &[u8],
) -> [u8; 8] {
    let digest = Sha1::new()
        .chain_update(peer_challenge)
        .chain_update(authenticator_challenge)
        .chain_update(strip_domain(user_name))
        .finalize();
    let mut challenge = [0u8; 8];
    challenge.copy_from_slice(&digest[..8]);
    challenge
}

/// GenerateNTResponse (RFC 2759 §8.1): the MS-CHAPv2 NT-Response, from the NT hash.
pub fn generate_nt_response(
    authenticator_challenge: &[u8; 16],
    peer_challenge: &[u8; 16],
    user_name: &[u8],
    nt_hash: &NtHash,
) -> [u8; 24] {
    let challenge = challenge_hash(peer_challenge, authenticator_challenge, user_name);
    challenge_response(&challenge, &nt_hash.0)
}

/// Checks a received MS-CHAPv2 NT-Response in constant time (the authenticator's side of
/// RFC 2759 §4/§5). `received` is the 24-octet field; any other length fails.
pub fn verify_nt_response(
    authenticator_challenge: &[u8; 16],
    peer_challenge: &[u8; 16],
    user_name: &[u8],
    nt_hash: &NtHash,
    received: &[u8],
) -> bool {
    let expected =
        generate_nt_response(authenticator_challenge, peer_challenge, user_name, nt_hash);
    ct_eq(&expected, received)
}

/// Checks a received MS-CHAPv1 NT response (RFC 2433 §6) in constant time.
pub fn verify_mschapv1_nt_response(challenge: &[u8; 8], nt_hash: &NtHash, received: &[u8]) -> bool {
    ct_eq(
        &mschapv1_nt_challenge_response(challenge, nt_hash),
        received,
    )
}

/// "Magic server to client signing constant" (RFC 2759 §8.7, Magic1).
const AUTH_MAGIC1: &[u8; 39] = b"Magic server to client signing constant";
/// "Pad to make it do more than one iteration" (RFC 2759 §8.7, Magic2).
const AUTH_MAGIC2: &[u8; 41] = b"Pad to make it do more than one iteration";

/// GenerateAuthenticatorResponse (RFC 2759 §8.7): the 20-octet digest the authenticator
/// proves itself with. The "S=" + 40 hex digits text form is built by the CHAP wire code.
pub fn generate_authenticator_response(
    nt_hash: &NtHash,
    nt_response: &[u8; 24],
    peer_challenge: &[u8; 16],
    authenticator_challenge: &[u8; 16],
    user_name: &[u8],
) -> [u8; 20] {
    let hash_hash = hash_nt_password_hash(nt_hash);
    let digest = Sha1::new()
        .chain_update(hash_hash)
        .chain_update(nt_response)
        .chain_update(AUTH_MAGIC1)
        .finalize();
    let challenge = challenge_hash(peer_challenge, authenticator_challenge, user_name);
    Sha1::new()
        .chain_update(digest)
        .chain_update(challenge)
        .chain_update(AUTH_MAGIC2)
        .finalize()
        .into()
}

/// CheckAuthenticatorResponse (RFC 2759 §8.8), the peer's side: compares the value it
/// computed with [`generate_authenticator_response`] against the 20 octets decoded from the
/// authenticator's "S=" field, in constant time. Any other length fails.
pub fn verify_authenticator_response(expected: &[u8; 20], received: &[u8]) -> bool {
    ct_eq(expected, received)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        let s: String = s.chars().filter(|c| !c.is_whitespace()).collect();
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    fn arr<const N: usize>(s: &str) -> [u8; N] {
        hex(s).try_into().unwrap()
    }

    // RFC 2759 §9.2 "Hash Example": user "User", password "clientPass".
    const USER: &[u8] = b"User";
    const PASSWORD: &str = "clientPass";
    const AUTH_CHALLENGE: &str = "5B 5D 7C 7D 7B 3F 2F 3E 3C 2C 60 21 32 26 26 28";
    const PEER_CHALLENGE: &str = "21 40 23 24 25 5E 26 2A 28 29 5F 2B 3A 33 7C 7E";
    const CHALLENGE: &str = "D0 2E 43 86 BC E9 12 26";
    const PASSWORD_HASH: &str = "44 EB BA 8D 53 12 B8 D6 11 47 44 11 F5 69 89 AE";
    const NT_RESPONSE: &str =
        "82 30 9E CD 8D 70 8B 5E A0 8F AA 39 81 CD 83 54 42 33 11 4A 3D 85 D6 DF";
    const PASSWORD_HASH_HASH: &str = "41 C0 0C 58 4B D2 D9 1C 40 17 A2 A1 2F A5 9F 3F";
    const AUTHENTICATOR_RESPONSE: &str = "407A5589115FD0D6209F510FE9C04566932CDA56";

    #[test]
    fn mschapv2_rfc2759_9_2_password_unicode() {
        // The RFC prints the UTF-16LE form of "clientPass"; hashing it directly must give
        // the same PasswordHash as our encoder.
        let unicode = hex("63 00 6C 00 69 00 65 00 6E 00 74 00 50 00 61 00 73 00 73 00");
        let direct: [u8; 16] = Md4::digest(&unicode).into();
        assert_eq!(direct, arr::<16>(PASSWORD_HASH));
    }

    #[test]
    fn mschapv2_rfc2759_9_2_password_hash() {
        let h = nt_password_hash(PASSWORD).unwrap();
        assert_eq!(h.as_bytes(), &arr::<16>(PASSWORD_HASH));
    }

    #[test]
    fn mschapv2_rfc2759_9_2_password_hash_hash() {
        let h = NtHash::from_bytes(arr(PASSWORD_HASH));
        assert_eq!(hash_nt_password_hash(&h), arr::<16>(PASSWORD_HASH_HASH));
    }

    #[test]
    fn mschapv2_rfc2759_9_2_challenge_hash() {
        let c = challenge_hash(&arr(PEER_CHALLENGE), &arr(AUTH_CHALLENGE), USER);
        assert_eq!(c, arr::<8>(CHALLENGE));
    }

    #[test]
    fn mschapv2_rfc2759_9_2_nt_response() {
        let h = nt_password_hash(PASSWORD).unwrap();
        let r = generate_nt_response(&arr(AUTH_CHALLENGE), &arr(PEER_CHALLENGE), USER, &h);
        assert_eq!(r, arr::<24>(NT_RESPONSE));
        // The same via ChallengeResponse on the printed 8-octet Challenge.
        assert_eq!(challenge_response(&arr(CHALLENGE), h.as_bytes()), r);
    }

    #[test]
    fn mschapv2_rfc2759_9_2_authenticator_response() {
        let h = nt_password_hash(PASSWORD).unwrap();
        let a = generate_authenticator_response(
            &h,
            &arr(NT_RESPONSE),
            &arr(PEER_CHALLENGE),
            &arr(AUTH_CHALLENGE),
            USER,
        );
        assert_eq!(a, arr::<20>(AUTHENTICATOR_RESPONSE));
        assert!(verify_authenticator_response(
            &a,
            &hex(AUTHENTICATOR_RESPONSE)
        ));
    }

    #[test]
    fn mschapv2_rfc2759_9_2_verify_nt_response() {
        let h = nt_password_hash(PASSWORD).unwrap();
        let (ac, pc) = (arr(AUTH_CHALLENGE), arr(PEER_CHALLENGE));
        let good = hex(NT_RESPONSE);
        assert!(verify_nt_response(&ac, &pc, USER, &h, &good));
        let mut bad = good.clone();
        bad[23] ^= 1;
        assert!(!verify_nt_response(&ac, &pc, USER, &h, &bad));
        assert!(!verify_nt_response(&ac, &pc, USER, &h, &good[..23]));
        let wrong = nt_password_hash("clientPasS").unwrap();
        assert!(!verify_nt_response(&ac, &pc, USER, &wrong, &good));
    }

    #[test]
    fn mschapv2_rfc2759_8_2_domain_is_stripped() {
        let (pc, ac) = (arr(PEER_CHALLENGE), arr(AUTH_CHALLENGE));
        assert_eq!(
            challenge_hash(&pc, &ac, b"BIGCO\\User"),
            arr::<8>(CHALLENGE)
        );
        assert_eq!(strip_domain(b"BIGCO\\johndoe"), b"johndoe");
        assert_eq!(strip_domain(b"johndoe"), b"johndoe");
        assert_eq!(strip_domain(b"trailing\\"), b"");
        assert_eq!(strip_domain(b""), b"");
    }

    #[test]
    fn mschapv2_rfc2759_8_8_authenticator_response_mismatch() {
        let expected = arr::<20>(AUTHENTICATOR_RESPONSE);
        let mut other = expected;
        other[0] ^= 0x80;
        assert!(!verify_authenticator_response(&expected, &other));
        assert!(!verify_authenticator_response(&expected, &expected[..19]));
        assert!(!verify_authenticator_response(&expected, &[]));
    }

    #[test]
    fn mschapv2_rfc2759_9_3_des_key_parity() {
        // "MyPw": the RFC prints the ASCII octets; NtPasswordHash takes its UTF-16 form.
        let h = nt_password_hash("MyPw").unwrap();
        assert_eq!(
            h.as_bytes(),
            &arr::<16>("FC 15 6A F7 ED CD 6C 0E DD E3 33 7D 42 7F 4E AC")
        );
        assert_eq!(
            expand_des_key(&arr("FC 15 6A F7 ED CD 6C")),
            arr::<8>("FD 0B 5B 5E 7F 6E 34 D9")
        );
        assert_eq!(
            expand_des_key(&arr("0E DD E3 33 7D 42 7F")),
            arr::<8>("0E 6E 79 67 37 EA 08 FE")
        );
    }

    #[test]
    fn mschapv1_rfc2433_b_2_nt_challenge_response() {
        let unicode = hex("4D 00 79 00 50 00 77 00");
        let direct: [u8; 16] = Md4::digest(&unicode).into();
        let h = nt_password_hash("MyPw").unwrap();
        let printed = arr::<16>("FC 15 6A F7 ED CD 6C 0E DD E3 33 7D 42 7F 4E AC");
        assert_eq!(direct, printed);
        assert_eq!(h.as_bytes(), &printed);
        let challenge = arr::<8>("10 2D B5 DF 08 5D 30 41");
        let expected =
            arr::<24>("4E 9D 3C 8F 9C FD 38 5D 5B F4 D3 24 67 91 95 6C A4 C3 51 AB 40 9A 3D 61");
        assert_eq!(mschapv1_nt_challenge_response(&challenge, &h), expected);
        assert!(verify_mschapv1_nt_response(&challenge, &h, &expected));
        assert!(!verify_mschapv1_nt_response(&challenge, &h, &expected[1..]));
    }

    #[test]
    fn mschapv1_rfc2433_b_3_des_key_generation() {
        assert_eq!(
            expand_des_key(&arr("FC 15 6A F7 ED CD 6C")),
            arr::<8>("FD 0B 5B 5E 7F 6E 34 D9")
        );
        assert_eq!(
            expand_des_key(&arr("0E DD E3 33 7D 42 7F")),
            arr::<8>("0E 6E 79 67 37 EA 08 FE")
        );
    }

    #[test]
    fn des_encrypt_fips81_vector() {
        // The classic DES vector (key 0123456789ABCDEF, "Now is t" -> 3FA40E8A984D4815):
        // its 8-octet key carries 56 key bits; the 7-octet form is those bits packed.
        let key7 = arr::<7>("00 45 13 38 95 73 77");
        let k8 = expand_des_key(&key7);
        // Parity bits differ from the FIPS key, the key bits do not.
        for (a, b) in k8.iter().zip(arr::<8>("01 23 45 67 89 AB CD EF")) {
            assert_eq!(a & 0xfe, b & 0xfe);
        }
        assert_eq!(
            des_encrypt(b"Now is t", &key7),
            arr::<8>("3F A4 0E 8A 98 4D 48 15")
        );
    }

    #[test]
    fn rfc2433_a_2_lm_password_hash() {
        // Well-known LM hash of "password" (upper-cased to "PASSWORD").
        assert_eq!(
            lm_password_hash(b"password").unwrap(),
            arr::<16>("E5 2C AC 67 41 9A 9A 22 4A 3B 10 8F 3F A6 CB 6D")
        );
        // The empty password's LM hash is the famous AAD3B435B51404EE... pair.
        assert_eq!(
            lm_password_hash(b"").unwrap(),
            arr::<16>("AA D3 B4 35 B5 14 04 EE AA D3 B4 35 B5 14 04 EE")
        );
        assert_eq!(
            lm_password_hash(b"PassWord").unwrap(),
            lm_password_hash(b"PASSWORD").unwrap()
        );
        assert_eq!(
            lm_password_hash(b"fifteen chars!!"),
            Err(PasswordError::TooLongForLmHash)
        );
        assert!(lm_password_hash(b"fourteen chars").is_ok());
    }

    #[test]
    fn rfc2433_a_1_lm_challenge_response_is_challenge_response_of_lm_hash() {
        let lm = lm_password_hash(b"MyPw").unwrap();
        let c = arr::<8>("10 2D B5 DF 08 5D 30 41");
        let r = mschapv1_lm_challenge_response(&c, &lm);
        assert_eq!(r, challenge_response(&c, &lm));
        // Third block: key is lm[14..16] + five zero octets.
        let mut k = [0u8; 7];
        k[..2].copy_from_slice(&lm[14..]);
        assert_eq!(r[16..], des_encrypt(&c, &k));
    }

    #[test]
    fn rfc2759_8_3_password_length_limit() {
        let max: String = "x".repeat(MAX_NT_PASSWORD_CHARS);
        assert!(nt_password_hash(&max).is_ok());
        let over: String = "x".repeat(MAX_NT_PASSWORD_CHARS + 1);
        assert_eq!(
            nt_password_hash(&over).unwrap_err(),
            PasswordError::TooLongForNtHash
        );
        // A character outside the BMP takes two UTF-16 units.
        let astral: String = "\u{1F600}".repeat(128);
        assert!(nt_password_hash(&astral).is_ok());
        let astral_over = format!("{astral}x");
        assert!(nt_password_hash(&astral_over).is_err());
        assert!(nt_password_hash("").is_ok());
    }

    #[test]
    fn rfc2759_8_3_non_ascii_password_is_utf16le() {
        let h = nt_password_hash("pässwörd").unwrap();
        let units: Vec<u8> = "pässwörd"
            .encode_utf16()
            .flat_map(u16::to_le_bytes)
            .collect();
        let direct: [u8; 16] = Md4::digest(&units).into();
        assert_eq!(h.as_bytes(), &direct);
    }

    #[test]
    fn nt_hash_debug_is_redacted() {
        let h = nt_password_hash(PASSWORD).unwrap();
        let s = format!("{h:?}");
        assert!(!s.to_lowercase().contains("44"), "{s}");
        assert!(s.contains("redacted"));
        assert!(h.ct_eq(&NtHash::from_bytes(arr(PASSWORD_HASH))));
        assert!(!h.ct_eq(&NtHash::from_bytes([0; 16])));
    }

    #[test]
    fn ct_eq_lengths_and_contents() {
        assert!(ct_eq(b"", b""));
        assert!(ct_eq(b"abc", b"abc"));
        assert!(!ct_eq(b"abc", b"abd"));
        assert!(!ct_eq(b"abc", b"ab"));
    }
}
