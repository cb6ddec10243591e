//! MS-CHAP (RFC 2433, RFC 2759) and MPPE (RFC 3078, RFC 3079) on RustCrypto primitives.
#![deny(unsafe_code)]
