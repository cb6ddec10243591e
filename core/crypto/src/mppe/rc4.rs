//! The RC4 keystream generator MPPE encrypts with (RFC 3078 §1, [6]).
//!
//! A small safe implementation rather than the `rc4` crate's: MPPE re-keys RC4 for every
//! stateless packet and streams whole packets through it, and the crate's byte-at-a-time
//! `apply_keystream` ran at about a third of OpenSSL's RC4 (measured with
//! `tests/bench/mppe-vs-openssl.sh`). The crate stays as the test oracle.
//!
//! Indices are `u8`, so every S-box access is in bounds by construction (no checks in the
//! loops). Two things make it fast:
//! - `S[i+1]`, which the next step adds into `j`, is loaded *before* this step's swap is
//!   stored, and patched on the rare (1 in 256) step where the swap wrote it (`j == i+1`).
//!   The patch is a cold branch, so the `j` dependency chain is only the additions; loading
//!   after the stores made every step wait for the store addresses.
//! - the keystream is built eight octets at a time and XORed into the buffer with a single
//!   64-bit load and store.

/// RC4 state: the permutation and the two indices.
pub(crate) struct Rc4 {
    s: [u8; 256],
    i: u8,
    j: u8,
}

const IDENTITY: [u8; 256] = {
    let mut s = [0u8; 256];
    let mut i = 0;
    while i < 256 {
        s[i] = i as u8;
        i += 1;
    }
    s
};

/// The value to use when the swap just wrote `S[i+1]`: kept out of line so the common case
/// compiles to a predicted branch rather than a conditional move on the `j` chain.
#[cold]
#[inline(never)]
fn swapped_into_next(si: u8) -> u8 {
    si
}

impl Rc4 {
    /// Runs the key schedule over `key` (8 or 16 octets in MPPE; other lengths work, more
    /// slowly). An empty key, which MPPE never produces, is treated as one zero octet.
    pub(crate) fn new(key: &[u8]) -> Self {
        let mut rc4 = Self {
            s: IDENTITY,
            i: 0,
            j: 0,
        };
        rc4.schedule(key);
        rc4
    }

    /// Re-runs the key schedule in place: the state is exactly as after [`Rc4::new`].
    pub(crate) fn rekey(&mut self, key: &[u8]) {
        self.s = IDENTITY;
        self.i = 0;
        self.j = 0;
        self.schedule(key);
    }

    fn schedule(&mut self, key: &[u8]) {
        match key.len() {
            8 | 16 => {
                let mut padded = [0u8; 16];
                padded[..key.len()].copy_from_slice(key);
                let mask = key.len() - 1;
                self.schedule_with(|i| padded[i & mask & 15]);
            }
            0 => self.schedule_with(|_| 0),
            len => self.schedule_with(|i| key.get(i % len).copied().unwrap_or(0)),
        }
    }

    /// The key-scheduling algorithm; `key_at(i)` is key octet `i mod keylen`.
    #[inline(always)]
    fn schedule_with(&mut self, key_at: impl Fn(usize) -> u8) {
        let s = &mut self.s;
        let mut j = 0u8;
        let mut si = s[0];
        for i in 0..=255u8 {
            let iu = usize::from(i);
            j = j.wrapping_add(si).wrapping_add(key_at(iu));
            let sj = s[usize::from(j)];
            let next = i.wrapping_add(1);
            let pre = s[usize::from(next)];
            s[iu] = sj;
            s[usize::from(j)] = si;
            si = if j == next {
                swapped_into_next(si)
            } else {
                pre
            };
        }
    }

    /// XORs the next `buf.len()` keystream octets into `buf`.
    pub(crate) fn apply(&mut self, buf: &mut [u8]) {
        let (mut i, mut j) = (self.i, self.j);
        let s = &mut self.s;
        // Invariant at the top of each step: `si == s[i + 1]`.
        let mut si = s[usize::from(i.wrapping_add(1))];
        let mut step = || {
            i = i.wrapping_add(1);
            j = j.wrapping_add(si);
            let sj = s[usize::from(j)];
            let next = i.wrapping_add(1);
            let pre = s[usize::from(next)];
            s[usize::from(j)] = si;
            s[usize::from(i)] = sj;
            let out = s[usize::from(si.wrapping_add(sj))];
            si = if j == next {
                swapped_into_next(si)
            } else {
                pre
            };
            out
        };
        let (chunks, tail) = buf.as_chunks_mut::<8>();
        for chunk in chunks {
            // Keystream octet k goes to bits 8k..8k+8, i.e. little-endian order. Shifting
            // into one register keeps fewer values live than collecting an array.
            let mut ks = 0u64;
            for k in 0..8 {
                ks |= u64::from(step()) << (8 * k);
            }
            *chunk = (u64::from_le_bytes(*chunk) ^ ks).to_le_bytes();
        }
        for b in tail {
            *b ^= step();
        }
        self.i = i;
        self.j = j;
    }
}

impl Drop for Rc4 {
    fn drop(&mut self) {
        self.s.fill(0);
        core::hint::black_box(&mut self.s);
    }
}

#[cfg(test)]
mod tests {
    use super::Rc4;
    use cipher::{KeyInit, StreamCipher};

    fn oracle(key: &[u8], data: &mut [u8]) {
        rc4::Rc4::new_from_slice(key).unwrap().apply_keystream(data);
    }

    #[test]
    fn rc4_rfc6229_key_0102030405() {
        // RFC 6229 §2, 40-bit key 0x0102030405: keystream octets 0-15.
        let mut buf = [0u8; 16];
        Rc4::new(&[1, 2, 3, 4, 5]).apply(&mut buf);
        assert_eq!(
            buf,
            [
                0xb2, 0x39, 0x63, 0x05, 0xf0, 0x3d, 0xc0, 0x27, 0xcc, 0xc3, 0x52, 0x4a, 0x0a, 0x11,
                0x18, 0xa8
            ]
        );
    }

    #[test]
    fn rc4_matches_crate_across_chunk_boundaries() {
        for key_len in [1usize, 5, 8, 16, 32] {
            let key: Vec<u8> = (0..key_len as u8)
                .map(|k| k.wrapping_mul(29) ^ 0xa5)
                .collect();
            let data: Vec<u8> = (0..3000u32).map(|x| (x * 7 + 3) as u8).collect();
            let mut expect = data.clone();
            oracle(&key, &mut expect);
            // Feed the same stream in uneven pieces.
            let mut ours = data.clone();
            let mut rc4 = Rc4::new(&key);
            let mut at = 0;
            for piece in [0usize, 1, 7, 8, 9, 15, 16, 17, 100, 1400] {
                let end = (at + piece).min(ours.len());
                rc4.apply(&mut ours[at..end]);
                at = end;
            }
            rc4.apply(&mut ours[at..]);
            assert_eq!(ours, expect, "key length {key_len}");
        }
    }

    #[test]
    fn rc4_matches_crate_for_many_keys() {
        // Thousands of schedules and streams hit the rare j == i+1 patch path many times.
        let mut x = 0x1234_5678u32;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        };
        for n in 0..4000 {
            let len = if n % 2 == 0 { 8 } else { 16 };
            let key: Vec<u8> = (0..len).map(|_| next()).collect();
            let mut ours = [0u8; 300];
            let mut expect = [0u8; 300];
            Rc4::new(&key).apply(&mut ours);
            oracle(&key, &mut expect);
            assert_eq!(ours, expect, "key {key:02x?}");
        }
    }

    #[test]
    fn rc4_rekey_equals_new() {
        let mut a = Rc4::new(b"first key");
        let mut junk = [0u8; 33];
        a.apply(&mut junk);
        a.rekey(b"second key");
        let mut x = [0u8; 64];
        let mut y = [0u8; 64];
        a.apply(&mut x);
        Rc4::new(b"second key").apply(&mut y);
        assert_eq!(x, y);
        let mut empty = [0u8; 8];
        let mut zero = [0u8; 8];
        Rc4::new(&[]).apply(&mut empty);
        Rc4::new(&[0]).apply(&mut zero);
        assert_eq!(empty, zero);
    }
}
