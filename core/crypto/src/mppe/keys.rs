//! MPPE key derivation: start keys from MS-CHAP credentials (RFC 3079 §2, §3), the initial
//! session key and the key change (RFC 3078 §7.3, RFC 3079 §2.4/§3.4).
//!
//! Terms, as in RFC 3079:
//! - the **start key** (MasterSendKey / MasterReceiveKey, or the MS-CHAPv1 initial session
//!   key) is what authentication produces, one per direction. It is also what RADIUS hands a
//!   NAS in MS-MPPE-Send-Key / MS-MPPE-Recv-Key (RFC 2548 §2.4.2/§2.4.3);
//! - the **session key** is what RC4 is keyed with. The first one is
//!   GetNewKeyFromSHA(start key, start key), reduced to the negotiated strength
//!   ([`initial_session_key`]); each key change derives the next from the start key and the
//!   current session key ([`change_key`]).
//!
//! Start keys are carried as 16 octets; 40- and 56-bit sessions use the first 8 of them,
//! which is exactly what RFC 3079 §3.1/§3.2 compute (the 8-octet GetAsymmetricStartKey
//! output is the first 8 octets of the 16-octet one).

use core::fmt;

use sha1::{Digest, Sha1};

use super::rc4::Rc4;
use crate::mschap::{NtHash, hash_nt_password_hash};

/// The negotiated MPPE key strength (CCP option 18 bits L, M, S; RFC 3078 §2, RFC 3079).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyLength {
    /// 40-bit: an 8-octet RC4 key whose first three octets are 0xD1 0x26 0x9E.
    Bits40,
    /// 56-bit: an 8-octet RC4 key whose first octet is 0xD1.
    Bits56,
    /// 128-bit: a 16-octet RC4 key.
    Bits128,
}

impl KeyLength {
    /// Octets of key material RC4 is keyed with: 8 for 40/56-bit, 16 for 128-bit.
    pub const fn octets(self) -> usize {
        match self {
            Self::Bits40 | Self::Bits56 => 8,
            Self::Bits128 => 16,
        }
    }
}

/// Which end of the MS-CHAPv2 exchange we are: it decides which magic constant gives the
/// send key and which the receive key (RFC 3079 §3.4, GetAsymmetricStartKey's `IsServer`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// The side that sent the CHAP Challenge (the server, RAS or NAS; `IsServer = TRUE`).
    Authenticator,
    /// The side that answered it (the dial-in client; `IsServer = FALSE`).
    Peer,
}

/// The two MPPE start keys of one side of a link (16 octets each; 40/56-bit use the first 8).
///
/// `send` keys the [`Encrypter`](super::Encrypter) for what this side transmits, `recv` the
/// [`Decrypter`](super::Decrypter) for what it receives. One side's `send` is the other side's
/// `recv`. For an authenticator these are RADIUS's MS-MPPE-Send-Key and MS-MPPE-Recv-Key.
#[derive(Clone)]
pub struct MppeKeys {
    /// Start key for the direction this side transmits.
    pub send: [u8; 16],
    /// Start key for the direction this side receives.
    pub recv: [u8; 16],
}

impl fmt::Debug for MppeKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MppeKeys(<redacted>)")
    }
}

impl Drop for MppeKeys {
    fn drop(&mut self) {
        self.send.fill(0);
        self.recv.fill(0);
        core::hint::black_box(&mut self.send);
        core::hint::black_box(&mut self.recv);
    }
}

/// SHApad1 (RFC 3079 §2.4/§3.4): 40 zero octets.
const SHA_PAD1: [u8; 40] = [0; 40];
/// SHApad2 (RFC 3079 §2.4/§3.4): 40 octets of 0xF2.
const SHA_PAD2: [u8; 40] = [0xf2; 40];

/// "This is the MPPE Master Key" (RFC 3079 §3.4, Magic1).
const MASTER_MAGIC: &[u8; 27] = b"This is the MPPE Master Key";
/// RFC 3079 §3.4 Magic2: the client's send key and the server's receive key.
const MAGIC_CLIENT_SEND: &[u8; 84] =
    b"On the client side, this is the send key; on the server side, it is the receive key.";
/// RFC 3079 §3.4 Magic3: the client's receive key and the server's send key.
const MAGIC_CLIENT_RECV: &[u8; 84] =
    b"On the client side, this is the receive key; on the server side, it is the send key.";

/// GetKey (RFC 3079 §2.4) / GetNewKeyFromSHA (RFC 3079 §3.4, RFC 3078 §7.3):
/// SHA-1(start ‖ SHApad1 ‖ current ‖ SHApad2), both keys of the same length (8 or 16).
/// Returns the whole digest; callers take as many octets as their key length.
pub fn get_new_key_from_sha(start_key: &[u8], current_key: &[u8]) -> [u8; 20] {
    Sha1::new()
        .chain_update(start_key)
        .chain_update(SHA_PAD1)
        .chain_update(current_key)
        .chain_update(SHA_PAD2)
        .finalize()
        .into()
}

/// Key-strength reduction (RFC 3079 §2.1/§2.2/§3.1/§3.2, RFC 3078 §7.3): 40-bit keys start
/// 0xD1 0x26 0x9E, 56-bit keys start 0xD1; 128-bit keys are left alone.
pub fn reduce_key(key: &mut [u8; 16], length: KeyLength) {
    match length {
        KeyLength::Bits40 => key[..3].copy_from_slice(&[0xd1, 0x26, 0x9e]),
        KeyLength::Bits56 => key[0] = 0xd1,
        KeyLength::Bits128 => {}
    }
}

/// The first session key (RFC 3079 §2.1-§2.3, §3.1-§3.3): GetNewKeyFromSHA(start, start),
/// reduced. Only the first [`KeyLength::octets`] octets are meaningful; the rest are zero.
pub fn initial_session_key(start_key: &[u8; 16], length: KeyLength) -> [u8; 16] {
    let n = length.octets();
    let digest = get_new_key_from_sha(&start_key[..n], &start_key[..n]);
    let mut key = [0u8; 16];
    key[..n].copy_from_slice(&digest[..n]);
    reduce_key(&mut key, length);
    key
}

/// Changes the session key (RFC 3078 §7.3): the interim key GetNewKeyFromSHA(start, current)
/// keys RC4, which encrypts the interim key itself into the new session key; then reduce.
pub fn change_key(start_key: &[u8; 16], session_key: &mut [u8; 16], length: KeyLength) {
    let n = length.octets();
    let digest = get_new_key_from_sha(&start_key[..n], &session_key[..n]);
    let interim = &digest[..n];
    let out = &mut session_key[..n];
    out.copy_from_slice(interim);
    Rc4::new(interim).apply(out);
    reduce_key(session_key, length);
}

/// GetMasterKey (RFC 3079 §3.4): the first 16 octets of
/// SHA-1(PasswordHashHash ‖ NT-Response ‖ "This is the MPPE Master Key").
pub fn master_key(password_hash_hash: &[u8; 16], nt_response: &[u8; 24]) -> [u8; 16] {
    let digest = Sha1::new()
        .chain_update(password_hash_hash)
        .chain_update(nt_response)
        .chain_update(MASTER_MAGIC)
        .finalize();
    let mut key = [0u8; 16];
    key.copy_from_slice(&digest[..16]);
    key
}

/// Which way a start key is used, for [`asymmetric_start_key`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// The key this side encrypts with (`IsSend = TRUE`).
    Send,
    /// The key this side decrypts with (`IsSend = FALSE`).
    Receive,
}

/// GetAsymmetricStartKey (RFC 3079 §3.4) with a 16-octet SessionKeyLength: the first 16
/// octets of SHA-1(MasterKey ‖ SHSpad1 ‖ magic ‖ SHSpad2), the magic chosen by direction and
/// role. The 8-octet (40/56-bit) start key is the first 8 octets of this value.
pub fn asymmetric_start_key(master_key: &[u8; 16], direction: Direction, role: Role) -> [u8; 16] {
    let magic = match (direction, role) {
        (Direction::Send, Role::Peer) | (Direction::Receive, Role::Authenticator) => {
            MAGIC_CLIENT_SEND
        }
        (Direction::Receive, Role::Peer) | (Direction::Send, Role::Authenticator) => {
            MAGIC_CLIENT_RECV
        }
    };
    let digest = Sha1::new()
        .chain_update(master_key)
        .chain_update(SHA_PAD1)
        .chain_update(magic)
        .chain_update(SHA_PAD2)
        .finalize();
    let mut key = [0u8; 16];
    key.copy_from_slice(&digest[..16]);
    key
}

/// MPPE start keys after MS-CHAPv2 (RFC 3079 §3), from the MS-CHAPv2 NT-Response and the
/// hash of the NT password hash (what a RADIUS server or local store can supply).
///
/// For [`Role::Authenticator`], `send` is MasterSendKey built with Magic3 and `recv`
/// MasterReceiveKey built with Magic2; for [`Role::Peer`] the other way round, so the two
/// ends agree direction by direction.
pub fn mppe_keys_from_mschapv2_hash_hash(
    password_hash_hash: &[u8; 16],
    nt_response: &[u8; 24],
    role: Role,
) -> MppeKeys {
    let master = master_key(password_hash_hash, nt_response);
    MppeKeys {
        send: asymmetric_start_key(&master, Direction::Send, role),
        recv: asymmetric_start_key(&master, Direction::Receive, role),
    }
}

/// MPPE start keys after MS-CHAPv2 (RFC 3079 §3), from the NT password hash: see
/// [`mppe_keys_from_mschapv2_hash_hash`].
pub fn mppe_keys_from_mschapv2(nt_hash: &NtHash, nt_response: &[u8; 24], role: Role) -> MppeKeys {
    mppe_keys_from_mschapv2_hash_hash(&hash_nt_password_hash(nt_hash), nt_response, role)
}

/// GetStartKey (RFC 3079 §2.4): the first 16 octets of
/// SHA-1(PasswordHashHash ‖ PasswordHashHash ‖ Challenge).
pub fn mschapv1_start_key(challenge: &[u8; 8], password_hash_hash: &[u8; 16]) -> [u8; 16] {
    let digest = Sha1::new()
        .chain_update(password_hash_hash)
        .chain_update(password_hash_hash)
        .chain_update(challenge)
        .finalize();
    let mut key = [0u8; 16];
    key.copy_from_slice(&digest[..16]);
    key
}

/// MPPE start keys after MS-CHAPv1 from the NT hash (RFC 3079 §2.3): GetStartKey over the
/// authenticator's 8-octet challenge. MS-CHAPv1 keys are symmetric: `send == recv`, the same
/// for both ends. RFC 3079 uses this for 128-bit keys; Linux pppd uses it (its first 8
/// octets) for 40-bit keys as well, where RFC 3079 §2.1/§2.2 derive 40/56-bit keys from the
/// LAN Manager hash instead ([`mppe_keys_from_mschapv1_lm`]).
pub fn mppe_keys_from_mschapv1(nt_hash: &NtHash, challenge: &[u8; 8]) -> MppeKeys {
    let key = mschapv1_start_key(challenge, &hash_nt_password_hash(nt_hash));
    MppeKeys {
        send: key,
        recv: key,
    }
}

/// MPPE start keys after MS-CHAPv1 from the LAN Manager hash (RFC 3079 §2.1/§2.2, 40- and
/// 56-bit only): the first 8 octets of the LM hash. Symmetric, like
/// [`mppe_keys_from_mschapv1`].
pub fn mppe_keys_from_mschapv1_lm(lm_hash: &[u8; 16]) -> MppeKeys {
    let mut key = [0u8; 16];
    key[..8].copy_from_slice(&lm_hash[..8]);
    MppeKeys {
        send: key,
        recv: key,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mschap::{generate_nt_response, lm_password_hash, nt_password_hash};

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

    fn pad16(eight: &[u8]) -> [u8; 16] {
        let mut k = [0u8; 16];
        k[..eight.len()].copy_from_slice(eight);
        k
    }

    #[test]
    fn rfc3079_magic_lengths() {
        // The RFC gives Magic1 as 27 octets and Magic2/Magic3 as 84 octets each.
        assert_eq!(MASTER_MAGIC.len(), 27);
        assert_eq!(MAGIC_CLIENT_SEND.len(), 84);
        assert_eq!(MAGIC_CLIENT_RECV.len(), 84);
    }

    // RFC 3079 §2.5 samples: password "clientPass" (and, for 128-bit, the challenge below).
    // Every expectation is computed here from the RFC's inputs, step by step, and each
    // intermediate is compared with what the RFC prints for that step.
    const V1_PASSWORD: &str = "clientPass";
    const V1_CHALLENGE: &str = "10 2d b5 df 08 5d 30 41";
    /// RFC 3079 §2.5.1 step 1 (LmPasswordHash of "clientPass").
    const V1_LM_HASH: &str = "76 a1 52 93 60 96 d7 83 0e 23 90 22 74 04 af d2";
    /// RFC 3079 §2.5.1/§2.5.2: GetKey(first 8 octets of the LM hash, same, 8), before
    /// reduction.
    const V1_LM_GETKEY: &str = "d8 08 01 53 8c ec 4a 08";

    #[test]
    fn mppe_rfc3079_2_5_1_mschapv1_40_bit() {
        let lm = lm_password_hash(V1_PASSWORD.as_bytes()).unwrap();
        assert_eq!(lm, arr::<16>(V1_LM_HASH));
        let start = mppe_keys_from_mschapv1_lm(&lm).send;
        assert_eq!(start[..8], lm[..8]);
        let digest = get_new_key_from_sha(&start[..8], &start[..8]);
        assert_eq!(digest[..8], arr::<8>(V1_LM_GETKEY));
        // Step 4: the first three octets become d1 26 9e.
        let key = initial_session_key(&start, KeyLength::Bits40);
        assert_eq!(key, pad16(&hex("d1 26 9e 53 8c ec 4a 08")));
    }

    #[test]
    fn mppe_rfc3079_2_5_2_mschapv1_56_bit() {
        let lm = lm_password_hash(V1_PASSWORD.as_bytes()).unwrap();
        let start = mppe_keys_from_mschapv1_lm(&lm).recv;
        // Same GetKey output as §2.5.1; only the first octet becomes d1.
        let key = initial_session_key(&start, KeyLength::Bits56);
        assert_eq!(key, pad16(&hex("d1 08 01 53 8c ec 4a 08")));
    }

    #[test]
    fn mppe_rfc3079_2_5_3_mschapv1_128_bit() {
        let nt = nt_password_hash(V1_PASSWORD).unwrap();
        // Steps 1-2: PasswordHash and PasswordHashHash, as printed (and as in RFC 2759 §9.2).
        assert_eq!(
            nt.as_bytes(),
            &arr::<16>("44 eb ba 8d 53 12 b8 d6 11 47 44 11 f5 69 89 ae")
        );
        let hh = hash_nt_password_hash(&nt);
        assert_eq!(
            hh,
            arr::<16>("41 c0 0c 58 4b d2 d9 1c 40 17 a2 a1 2f a5 9f 3f")
        );
        // Step 3: GetStartKey. The RFC prints the 7th and 8th octets as "ac ca" in step 3
        // but as "ac c1" where step 4 repeats the value as GetKey's input; SHA-1 of the
        // step-2 inputs gives "ac c1", and only "ac c1" leads to step 4's printed output.
        // So step 3's "ca" is the typo.
        let start = mschapv1_start_key(&arr(V1_CHALLENGE), &hh);
        let printed_step4_input = arr::<16>("a8 94 78 50 cf c0 ac c1 d1 78 9f b6 2d dc dd b0");
        let misprinted_step3 = arr::<16>("a8 94 78 50 cf c0 ac ca d1 78 9f b6 2d dc dd b0");
        assert_eq!(start, printed_step4_input);
        assert_ne!(start, misprinted_step3);
        let keys = mppe_keys_from_mschapv1(&nt, &arr(V1_CHALLENGE));
        assert_eq!(keys.send, start);
        assert_eq!(keys.recv, start);
        // Step 4: GetKey(InitialSessionKey, InitialSessionKey, 16) = the first session key.
        let expected = arr::<16>("59 d1 59 bc 09 f7 6f 1d a2 a8 6a 28 ff ec 0b 1e");
        assert_eq!(initial_session_key(&start, KeyLength::Bits128), expected);
        // And the misprinted value would not produce it.
        assert_ne!(
            initial_session_key(&misprinted_step3, KeyLength::Bits128),
            expected
        );
    }

    // RFC 3079 §3.5 samples: the RFC 2759 §9.2 exchange (user "User", password
    // "clientPass"); the keys shown are the server's (authenticator's) send keys
    // (GetAsymmetricStartKey with IsSend = TRUE, IsServer = TRUE).
    const AUTH_CHALLENGE: &str = "5B 5D 7C 7D 7B 3F 2F 3E 3C 2C 60 21 32 26 26 28";
    const PEER_CHALLENGE: &str = "21 40 23 24 25 5E 26 2A 28 29 5F 2B 3A 33 7C 7E";
    const NT_RESPONSE: &str =
        "82 30 9E CD 8D 70 8B 5E A0 8F AA 39 81 CD 83 54 42 33 11 4A 3D 85 D6 DF";
    /// RFC 3079 §3.5.1-§3.5.3 step 3: GetMasterKey.
    const MASTER_KEY: &str = "FD EC E3 71 7A 8C 83 8C B3 88 E5 27 AE 3C DD 31";
    /// RFC 3079 §3.5.3: SendStartKey128. §3.5.1/§3.5.2 print its first 8 octets as
    /// SendStartKey40/56.
    const SEND_START_KEY: &str = "8B 7C DC 14 9B 99 3A 1B A1 18 CB 15 3F 56 DC CB";

    fn v2_keys(role: Role) -> MppeKeys {
        let nt = nt_password_hash(V1_PASSWORD).unwrap();
        let r = generate_nt_response(&arr(AUTH_CHALLENGE), &arr(PEER_CHALLENGE), b"User", &nt);
        assert_eq!(r, arr::<24>(NT_RESPONSE));
        let hh = hash_nt_password_hash(&nt);
        assert_eq!(master_key(&hh, &r), arr::<16>(MASTER_KEY));
        mppe_keys_from_mschapv2(&nt, &r, role)
    }

    #[test]
    fn mppe_rfc3079_3_5_1_mschapv2_40_bit() {
        let keys = v2_keys(Role::Authenticator);
        assert_eq!(keys.send[..8], arr::<8>("8B 7C DC 14 9B 99 3A 1B"));
        // GetNewKeyFromSHA(SendStartKey40, SendStartKey40, 8) then d1 26 9e.
        assert_eq!(
            initial_session_key(&keys.send, KeyLength::Bits40),
            pad16(&hex("D1 26 9E C4 9F A6 2E 3E"))
        );
    }

    #[test]
    fn mppe_rfc3079_3_5_2_mschapv2_56_bit() {
        let keys = v2_keys(Role::Authenticator);
        assert_eq!(keys.send[..8], arr::<8>("8B 7C DC 14 9B 99 3A 1B"));
        assert_eq!(
            initial_session_key(&keys.send, KeyLength::Bits56),
            pad16(&hex("D1 5C 00 C4 9F A6 2E 3E"))
        );
    }

    #[test]
    fn mppe_rfc3079_3_5_3_mschapv2_128_bit() {
        let keys = v2_keys(Role::Authenticator);
        assert_eq!(keys.send, arr::<16>(SEND_START_KEY));
        assert_eq!(
            initial_session_key(&keys.send, KeyLength::Bits128),
            arr::<16>("40 5C B2 24 7A 79 56 E6 E2 11 00 7A E2 7B 22 D4")
        );
    }

    #[test]
    fn mppe_rfc3079_3_4_roles_mirror_each_other() {
        let server = v2_keys(Role::Authenticator);
        let client = v2_keys(Role::Peer);
        assert_eq!(server.send, client.recv);
        assert_eq!(server.recv, client.send);
        assert_ne!(server.send, server.recv);
        // The pw-hash-hash entry point (RADIUS-style) agrees with the NT-hash one.
        let hh = hash_nt_password_hash(&nt_password_hash(V1_PASSWORD).unwrap());
        let k = mppe_keys_from_mschapv2_hash_hash(&hh, &arr(NT_RESPONSE), Role::Peer);
        assert_eq!(k.send, client.send);
        assert_eq!(k.recv, client.recv);
    }

    #[test]
    fn mppe_rfc3078_7_3_change_key_is_rc4_of_interim_key() {
        for length in [KeyLength::Bits40, KeyLength::Bits56, KeyLength::Bits128] {
            let n = length.octets();
            let start = arr::<16>(SEND_START_KEY);
            let session = initial_session_key(&start, length);
            let mut changed = session;
            change_key(&start, &mut changed, length);
            // Recompute with the rc4 crate directly as an independent oracle.
            use cipher::{KeyInit, StreamCipher};
            let interim = get_new_key_from_sha(&start[..n], &session[..n]);
            let mut expect = pad16(&interim[..n]);
            let mut oracle = ::rc4::Rc4::new_from_slice(&interim[..n]).unwrap();
            oracle.apply_keystream(&mut expect[..n]);
            reduce_key(&mut expect, length);
            assert_eq!(changed, expect, "{length:?}");
            assert_ne!(changed, session);
            assert!(changed[n..].iter().all(|&b| b == 0));
        }
    }

    #[test]
    fn mppe_rfc3079_reduction_prefixes() {
        let mut k = [0xffu8; 16];
        reduce_key(&mut k, KeyLength::Bits40);
        assert_eq!(k[..4], [0xd1, 0x26, 0x9e, 0xff]);
        let mut k = [0xffu8; 16];
        reduce_key(&mut k, KeyLength::Bits56);
        assert_eq!(k[..2], [0xd1, 0xff]);
        let mut k = [0xffu8; 16];
        reduce_key(&mut k, KeyLength::Bits128);
        assert_eq!(k, [0xff; 16]);
    }

    #[test]
    fn mppe_keys_debug_is_redacted() {
        let keys = v2_keys(Role::Peer);
        assert_eq!(format!("{keys:?}"), "MppeKeys(<redacted>)");
    }
}
