//! Views over the bytes of every PPP-family wire format the appliance speaks.
//!
//! Each format follows the same pattern: a `Packet<T: AsRef<[u8]>>` view whose
//! `new_checked` validates untrusted input (including the packet's own length
//! field), and a `Repr` with `parse` / `buffer_len` / `emit` such that
//! `parse(emit(r)) == r`.
#![deny(unsafe_code)]
