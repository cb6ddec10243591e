//! MS-CHAP (RFC 2433, RFC 2759) and MPPE (RFC 3078, RFC 3079) on RustCrypto primitives.
//!
//! - [`mschap`]: NT/LM password hashes and the MS-CHAPv1/v2 response computations, all
//!   taking the NT hash rather than the password.
//! - [`mppe`]: MPPE start and session keys, and the per-packet cipher.
#![deny(unsafe_code)]

pub mod mppe;
pub mod mschap;

pub use mppe::{Decrypter, Encrypter, KeyLength, MppeError, MppeHeader, MppeKeys, Role};
pub use mschap::{NtHash, PasswordError};
