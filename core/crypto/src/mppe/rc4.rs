//! The RC4 keystream generator MPPE encrypts with (RFC 3078 §1, [6]).
//!
//! A thin wrapper so the rest of the crate sees one small type: keyed from 1..=16 octets,
//! re-keyed in place (no allocation), and applied to buffers in place.

use cipher::{KeyInit, StreamCipher};

/// RC4 state: the permutation and the two indices.
pub(crate) struct Rc4 {
    inner: rc4::Rc4,
}

impl Rc4 {
    /// Runs the key schedule over `key` (1..=16 octets in MPPE).
    pub(crate) fn new(key: &[u8]) -> Self {
        Self { inner: keyed(key) }
    }

    /// Re-runs the key schedule in place: the state is exactly as after [`Rc4::new`].
    pub(crate) fn rekey(&mut self, key: &[u8]) {
        self.inner = keyed(key);
    }

    /// XORs the next `buf.len()` keystream octets into `buf`.
    pub(crate) fn apply(&mut self, buf: &mut [u8]) {
        self.inner.apply_keystream(buf);
    }
}

fn keyed(key: &[u8]) -> rc4::Rc4 {
    // MPPE keys are 8 or 16 octets; the crate accepts 1..=256, so this cannot fail for
    // them. A zero-length key (never produced here) falls back to a one-octet zero key
    // rather than panicking.
    rc4::Rc4::new_from_slice(key)
        .or_else(|_| rc4::Rc4::new_from_slice(&[0]))
        .unwrap_or_else(|_| unreachable!("one-octet keys are valid"))
}
