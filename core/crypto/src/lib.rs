//! MS-CHAP (RFC 2433, RFC 2759) and MPPE (RFC 3078, RFC 3079) on RustCrypto primitives.
//!
//! - [`chap`]: the RFC 1994 CHAP-MD5 response.
//! - [`mschap`]: NT/LM password hashes and the MS-CHAPv1/v2 response computations. Every
//!   function takes the NT password hash ([`NtHash`]), never the password, except
//!   [`mschap::nt_password_hash`] itself: a local store keeps NT hashes and a RADIUS backend
//!   verifies responses without the engine seeing a password.
//! - [`mppe`]: MPPE start keys from MS-CHAP credentials, and the per-packet cipher
//!   ([`Encrypter`], [`Decrypter`]) with its key changes and resynchronisation.
//!
//! What the PPP engine calls:
//!
//! | step | authenticator (server) | peer (client) |
//! |---|---|---|
//! | MS-CHAPv2 response | [`mschap::verify_nt_response`] | [`mschap::generate_nt_response`] |
//! | MS-CHAPv2 success | [`mschap::generate_authenticator_response`] | [`mschap::verify_authenticator_response`] |
//! | MS-CHAPv1 response | [`mschap::verify_mschapv1_nt_response`] | [`mschap::mschapv1_nt_challenge_response`] |
//! | MPPE keys after v2 | [`mppe::mppe_keys_from_mschapv2`]`(.., Role::Authenticator)` or RADIUS MS-MPPE-Send/Recv-Key | [`mppe::mppe_keys_from_mschapv2`]`(.., Role::Peer)` |
//! | MPPE keys after v1 | [`mppe::mppe_keys_from_mschapv1`] (or `_lm` for 40/56-bit per RFC 3079 §2.1) | same |
//! | data | `Encrypter::new(&keys.send, ..)`, `Decrypter::new(&keys.recv, ..)` | same |
//! | CCP Reset-Request received | [`Encrypter::reset`] | same |
//! | [`MppeError::NeedReset`] | send CCP Reset-Request | same |
#![deny(unsafe_code)]

pub mod chap;
pub mod mppe;
pub mod mschap;

pub use mppe::{
    Decrypter, Encrypter, KeyLength, MppeError, MppeHeader, MppeKeys, ResetStyle, Role,
};
pub use mschap::{NtHash, PasswordError};
