//! Microsoft Point-to-Point Encryption: key derivation (RFC 3079) and the RC4 packet cipher
//! (RFC 3078).
//!
//! Typical use after MS-CHAPv2 on the authenticator:
//!
//! ```
//! use dialgate_crypto::mppe::{self, Decrypter, Encrypter, KeyLength, Role};
//! use dialgate_crypto::mschap::nt_password_hash;
//!
//! let nt_hash = nt_password_hash("clientPass").unwrap();
//! let nt_response = [0u8; 24]; // the peer's NT-Response
//! let keys = mppe::mppe_keys_from_mschapv2(&nt_hash, &nt_response, Role::Authenticator);
//! let mut tx = Encrypter::new(&keys.send, KeyLength::Bits128, true);
//! let mut rx = Decrypter::new(&keys.recv, KeyLength::Bits128, true);
//!
//! let mut packet = *b"\x00\x21hello"; // protocol field + data
//! let header = tx.encrypt(&mut packet);
//! // ... send header.to_bytes() ‖ packet inside PPP protocol 0x00FD ...
//! # let _ = &mut rx;
//! ```

mod cipher;
pub mod keys;
mod rc4;

pub use cipher::{
    COUNT_SPACE, Decrypter, Encrypter, MAX_FORWARD, MppeError, MppeHeader, REORDER_WINDOW,
    RESYNC_EVIDENCE, ResetStyle,
};
pub use keys::{
    Direction, KeyLength, MppeKeys, Role, mppe_keys_from_mschapv1, mppe_keys_from_mschapv1_lm,
    mppe_keys_from_mschapv2, mppe_keys_from_mschapv2_hash_hash,
};
