//! MS-CHAP (RFC 2433, RFC 2759) and MPPE (RFC 3078, RFC 3079) on RustCrypto primitives.
//!
//! - [`mschap`]: NT/LM password hashes and the MS-CHAPv1/v2 response computations, all
//!   taking the NT hash rather than the password.
#![deny(unsafe_code)]

pub mod mschap;

pub use mschap::{NtHash, PasswordError};
