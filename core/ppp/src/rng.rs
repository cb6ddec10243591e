//! A small deterministic generator for values that must differ between links but need not be
//! secret: LCP magic numbers (RFC 1661 §6.4) and initial identifiers. It is seeded by the
//! caller (from the OS's randomness in production, a fixed seed in tests), so the engine never
//! reads global state. Secrets (challenges) come from the auth module's injected source.

/// xorshift64* (Vigna), seeded through splitmix64 so that any seed, even 0, works.
#[derive(Debug, Clone)]
pub struct Rng {
    state: u64,
}

impl Rng {
    /// A generator from `seed`.
    pub fn new(seed: u64) -> Self {
        // splitmix64 step: spreads the seed and never yields the forbidden all-zero state
        // except for one seed, which is patched.
        let mut z = seed.wrapping_add(0x9e37_79b9_7f4a_7c15);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        Self {
            state: if z == 0 { 0x2545_f491_4f6c_dd1d } else { z },
        }
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.state;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.state = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// The next 32 random bits.
    pub fn next_u32(&mut self) -> u32 {
        (self.next_u64() >> 32) as u32
    }

    /// A non-zero 32-bit value different from every value in `avoid`.
    pub fn nonzero_u32_except(&mut self, avoid: &[u32]) -> u32 {
        loop {
            let v = self.next_u32();
            if v != 0 && !avoid.contains(&v) {
                return v;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeds_give_distinct_streams() {
        let mut a = Rng::new(0);
        let mut b = Rng::new(1);
        let va: Vec<u32> = (0..8).map(|_| a.next_u32()).collect();
        let vb: Vec<u32> = (0..8).map(|_| b.next_u32()).collect();
        assert_ne!(va, vb);
        assert!(va.iter().any(|&v| v != va[0]));
    }

    #[test]
    fn nonzero_except_avoids() {
        let mut r = Rng::new(7);
        let first = r.clone().next_u32();
        let v = r.nonzero_u32_except(&[first]);
        assert!(v != 0 && v != first);
    }
}
