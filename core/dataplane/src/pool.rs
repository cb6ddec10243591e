//! IPv4 address pools: ranges, per-user static addresses, allocation and release.
//!
//! [`Ipv4Pool`] is the plain data structure (`&mut self`); [`SharedIpv4Pool`] wraps it in a
//! mutex and implements [`dialgate_ppp::ncp::AddressPool`], which IPCP's server role calls
//! after authentication (RFC 1332 §3.3). Exhaustion returns `None`, and IPCP then refuses the
//! link cleanly.
//!
//! Addresses may come from the LAN's own subnet: the router answers ARP for them on the LAN
//! (proxy ARP, see [`crate::lan`]), so nobody re-addresses the LAN.
//!
//! Allocation walks a bitmap from a rotating cursor, skipping full 64-address words, so a
//! freshly released address is not handed out again at once (a late packet for the old
//! session does not reach the new one) and the cost stays low even in a large, busy pool.

use core::fmt;
use core::net::Ipv4Addr;
use core::str::FromStr;
use std::collections::{HashMap, HashSet};
use std::sync::{Mutex, PoisonError};

use dialgate_ppp::ncp::AddressPool;

/// The most addresses one pool may span (a /12); keeps the bitmap at 128 KiB.
pub const MAX_POOL_ADDRESSES: u64 = 1 << 20;

/// An inclusive range of IPv4 addresses: `"10.0.0.100-10.0.0.199"`, a CIDR block
/// `"10.0.0.0/25"` (every address of it, network and broadcast included: on a PPP link
/// they are ordinary host addresses), or one address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ipv4Range {
    first: u32,
    last: u32,
}

impl Ipv4Range {
    /// `first..=last`; `None` when `first > last`.
    pub fn new(first: Ipv4Addr, last: Ipv4Addr) -> Option<Self> {
        let (first, last) = (first.to_bits(), last.to_bits());
        (first <= last).then_some(Self { first, last })
    }

    /// The first address.
    pub fn first(&self) -> Ipv4Addr {
        Ipv4Addr::from_bits(self.first)
    }

    /// The last address.
    pub fn last(&self) -> Ipv4Addr {
        Ipv4Addr::from_bits(self.last)
    }

    /// Number of addresses.
    pub fn len(&self) -> u64 {
        u64::from(self.last - self.first) + 1
    }

    /// Never empty; present for the `len` convention.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// Whether `addr` is in the range.
    pub fn contains(&self, addr: Ipv4Addr) -> bool {
        (self.first..=self.last).contains(&addr.to_bits())
    }

    fn overlaps(&self, other: &Self) -> bool {
        self.first <= other.last && other.first <= self.last
    }
}

impl fmt::Display for Ipv4Range {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.first(), self.last())
    }
}

/// A pool definition that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PoolError {
    /// A range string that is not `a.b.c.d-e.f.g.h`, `a.b.c.d/len` or `a.b.c.d`.
    BadRange(String),
    /// A range whose first address is above its last.
    Reversed(String),
    /// Two ranges share addresses.
    Overlap(Ipv4Range, Ipv4Range),
    /// The ranges together exceed [`MAX_POOL_ADDRESSES`].
    TooLarge(u64),
    /// `0.0.0.0`, `255.255.255.255`, loopback or multicast in a range or as a static address.
    Unusable(Ipv4Addr),
    /// Two users share a static address.
    DuplicateStatic(Ipv4Addr),
}

impl fmt::Display for PoolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::BadRange(s) => write!(
                f,
                "bad address range {s:?}: expected a.b.c.d-e.f.g.h, a.b.c.d/len or a.b.c.d"
            ),
            Self::Reversed(s) => write!(f, "address range {s:?} ends before it starts"),
            Self::Overlap(a, b) => write!(f, "address ranges {a} and {b} overlap"),
            Self::TooLarge(n) => write!(
                f,
                "pool spans {n} addresses, more than the limit of {MAX_POOL_ADDRESSES}"
            ),
            Self::Unusable(a) => write!(f, "{a} cannot be given to a client"),
            Self::DuplicateStatic(a) => write!(f, "static address {a} is given to two users"),
        }
    }
}

impl std::error::Error for PoolError {}

impl FromStr for Ipv4Range {
    type Err = PoolError;

    fn from_str(s: &str) -> Result<Self, PoolError> {
        let bad = || PoolError::BadRange(s.to_owned());
        let s_trim = s.trim();
        if let Some((a, b)) = s_trim.split_once('-') {
            let a: Ipv4Addr = a.trim().parse().map_err(|_| bad())?;
            let b: Ipv4Addr = b.trim().parse().map_err(|_| bad())?;
            return Self::new(a, b).ok_or_else(|| PoolError::Reversed(s.to_owned()));
        }
        if let Some((a, len)) = s_trim.split_once('/') {
            let a: Ipv4Addr = a.trim().parse().map_err(|_| bad())?;
            let len: u32 = len.trim().parse().map_err(|_| bad())?;
            if len > 32 {
                return Err(bad());
            }
            let mask = u32::MAX.checked_shl(32 - len).unwrap_or(0);
            let first = a.to_bits() & mask;
            return Ok(Self {
                first,
                last: first | !mask,
            });
        }
        let a: Ipv4Addr = s_trim.parse().map_err(|_| bad())?;
        Ok(Self {
            first: a.to_bits(),
            last: a.to_bits(),
        })
    }
}

fn usable(addr: Ipv4Addr) -> bool {
    !(addr.is_unspecified() || addr.is_broadcast() || addr.is_loopback() || addr.is_multicast())
}

/// One range's allocation bitmap.
#[derive(Debug)]
struct Block {
    range: Ipv4Range,
    /// One bit per address: set = taken (allocated or reserved for a static user).
    bits: Vec<u64>,
}

impl Block {
    fn new(range: Ipv4Range) -> Self {
        let n = range.len();
        let words = n.div_ceil(64) as usize;
        let mut bits = vec![0u64; words];
        // Bits past the end of the range are permanently "taken".
        let tail = (n % 64) as u32;
        if let (Some(last), true) = (bits.last_mut(), tail != 0) {
            *last = !0u64 << tail;
        }
        Self { range, bits }
    }

    fn index(&self, addr: Ipv4Addr) -> Option<(usize, u64)> {
        if !self.range.contains(addr) {
            return None;
        }
        let i = u64::from(addr.to_bits() - self.range.first);
        Some(((i / 64) as usize, 1u64 << (i % 64)))
    }

    fn is_taken(&self, addr: Ipv4Addr) -> Option<bool> {
        let (w, bit) = self.index(addr)?;
        self.bits.get(w).map(|word| word & bit != 0)
    }

    /// Sets or clears `addr`'s bit; returns the previous state.
    fn set(&mut self, addr: Ipv4Addr, taken: bool) -> Option<bool> {
        let (w, bit) = self.index(addr)?;
        let word = self.bits.get_mut(w)?;
        let was = *word & bit != 0;
        if taken {
            *word |= bit;
        } else {
            *word &= !bit;
        }
        Some(was)
    }

    /// Takes the first free address at or after offset `from` (wrapping around the block);
    /// returns its offset.
    fn take_from(&mut self, from: u64) -> Option<u64> {
        let n = self.bits.len();
        if n == 0 {
            return None;
        }
        let start_w = (from / 64) as usize % n;
        let start_bit = (from % 64) as u32;
        let high = !0u64 << start_bit;
        for step in 0..=n {
            let w = (start_w + step) % n;
            let word = self.bits.get_mut(w)?;
            let mut free = !*word;
            if step == 0 {
                free &= high;
            } else if step == n {
                // Back at the first word: the bits below the start.
                free &= !high;
            }
            if free != 0 {
                let bit = free.trailing_zeros();
                *word |= 1u64 << bit;
                // Below range.len(): bits past the end of the range are always set.
                return Some((w as u64) * 64 + u64::from(bit));
            }
        }
        None
    }
}

/// An IPv4 address pool: ranges plus per-user static addresses.
#[derive(Debug)]
pub struct Ipv4Pool {
    blocks: Vec<Block>,
    /// User -> static address.
    statics: HashMap<String, Ipv4Addr>,
    /// Static addresses currently held by a session (static addresses outside every range
    /// are tracked only here).
    statics_in_use: HashSet<Ipv4Addr>,
    /// Static address -> whether it lies inside a range (its bit is then reserved).
    static_addrs: HashSet<Ipv4Addr>,
    /// Rotating cursor: (block, offset in it) where the next search starts.
    cursor: (usize, u64),
    capacity: u64,
    in_use: u64,
}

impl Ipv4Pool {
    /// A pool of the dynamic `ranges` and the per-user `statics` (user name -> address). A
    /// static address may lie inside a range (it is then never handed to anyone else) or
    /// outside every range.
    pub fn new(
        ranges: &[Ipv4Range],
        statics: impl IntoIterator<Item = (String, Ipv4Addr)>,
    ) -> Result<Self, PoolError> {
        let mut total = 0u64;
        for (i, r) in ranges.iter().enumerate() {
            for a in [r.first(), r.last()] {
                if !usable(a) {
                    return Err(PoolError::Unusable(a));
                }
            }
            if let Some(other) = ranges.iter().skip(i + 1).find(|o| o.overlaps(r)) {
                return Err(PoolError::Overlap(*r, *other));
            }
            total += r.len();
        }
        if total > MAX_POOL_ADDRESSES {
            return Err(PoolError::TooLarge(total));
        }
        let mut blocks: Vec<Block> = ranges.iter().map(|r| Block::new(*r)).collect();
        let mut by_user = HashMap::new();
        let mut static_addrs = HashSet::new();
        let mut reserved = 0u64;
        for (user, addr) in statics {
            if !usable(addr) {
                return Err(PoolError::Unusable(addr));
            }
            if !static_addrs.insert(addr) {
                return Err(PoolError::DuplicateStatic(addr));
            }
            if blocks.iter_mut().any(|b| b.set(addr, true).is_some()) {
                reserved += 1;
            }
            by_user.insert(user, addr);
        }
        Ok(Self {
            blocks,
            statics: by_user,
            statics_in_use: HashSet::new(),
            static_addrs,
            cursor: (0, 0),
            capacity: total - reserved,
            in_use: 0,
        })
    }

    /// Grants an address to a session of `user`: the user's static address if one is
    /// configured (and `None` if that address is already held: one static user, one
    /// session); else `hint` if it is free in a range; else the next free range address.
    /// `None` when the pool is exhausted.
    pub fn allocate(&mut self, user: &str, hint: Option<Ipv4Addr>) -> Option<Ipv4Addr> {
        if let Some(&addr) = self.statics.get(user) {
            return self.statics_in_use.insert(addr).then_some(addr);
        }
        if let Some(h) = hint.filter(|h| !self.static_addrs.contains(h))
            && let Some(block) = self.blocks.iter_mut().find(|b| b.range.contains(h))
            && block.set(h, true) == Some(false)
        {
            self.in_use += 1;
            return Some(h);
        }
        let nblocks = self.blocks.len();
        let (start_block, start_offset) = self.cursor;
        for step in 0..nblocks {
            let b = (start_block + step) % nblocks;
            let from = if step == 0 { start_offset } else { 0 };
            let block = self.blocks.get_mut(b)?;
            if let Some(offset) = block.take_from(from) {
                self.cursor = (b, offset + 1);
                self.in_use += 1;
                // offset < 2^32 as it lies in the range.
                return Some(Ipv4Addr::from_bits(block.range.first + offset as u32));
            }
        }
        None
    }

    /// Gives `addr` back. Releasing an address that is not held is ignored (and reported as
    /// `false`), so a double release cannot free someone else's address twice.
    pub fn release(&mut self, addr: Ipv4Addr) -> bool {
        if self.static_addrs.contains(&addr) {
            return self.statics_in_use.remove(&addr);
        }
        for block in &mut self.blocks {
            if let Some(was) = block.set(addr, false) {
                if was {
                    self.in_use -= 1;
                }
                return was;
            }
        }
        false
    }

    /// Whether `addr` is currently held by a session.
    pub fn is_allocated(&self, addr: Ipv4Addr) -> bool {
        if self.static_addrs.contains(&addr) {
            return self.statics_in_use.contains(&addr);
        }
        self.blocks
            .iter()
            .find_map(|b| b.is_taken(addr))
            .unwrap_or(false)
    }

    /// Range addresses available to dynamic allocation (statics excluded).
    pub fn capacity(&self) -> u64 {
        self.capacity
    }

    /// Range addresses currently allocated dynamically.
    pub fn in_use(&self) -> u64 {
        self.in_use
    }

    /// The ranges, in configuration order.
    pub fn ranges(&self) -> impl Iterator<Item = Ipv4Range> + '_ {
        self.blocks.iter().map(|b| b.range)
    }
}

/// A thread-safe [`Ipv4Pool`]: the [`AddressPool`] routerd hands to each session's IPCP.
#[derive(Debug)]
pub struct SharedIpv4Pool(Mutex<Ipv4Pool>);

impl SharedIpv4Pool {
    /// Wraps `pool`.
    pub fn new(pool: Ipv4Pool) -> Self {
        Self(Mutex::new(pool))
    }

    /// Runs `f` on the pool under the lock (for metrics and the management API).
    pub fn with<R>(&self, f: impl FnOnce(&mut Ipv4Pool) -> R) -> R {
        // A panic elsewhere while holding the lock leaves the bitmap consistent (every
        // mutation is a single bit operation), so a poisoned lock is still usable.
        let mut guard = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        f(&mut guard)
    }
}

impl AddressPool for SharedIpv4Pool {
    fn allocate(&self, user: &str, hint: Option<Ipv4Addr>) -> Option<Ipv4Addr> {
        self.with(|p| p.allocate(user, hint))
    }

    fn release(&self, addr: Ipv4Addr) {
        self.with(|p| p.release(addr));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn a(s: &str) -> Ipv4Addr {
        s.parse().unwrap()
    }

    fn range(s: &str) -> Ipv4Range {
        s.parse().unwrap()
    }

    #[test]
    fn parses_ranges_cidr_and_single_addresses() {
        let r = range("10.0.0.100-10.0.0.199");
        assert_eq!(
            (r.first(), r.last(), r.len()),
            (a("10.0.0.100"), a("10.0.0.199"), 100)
        );
        assert_eq!(range(" 10.0.0.100 - 10.0.0.100 ").len(), 1);
        let c = range("192.168.7.77/25");
        assert_eq!(
            (c.first(), c.last()),
            (a("192.168.7.0"), a("192.168.7.127"))
        );
        assert_eq!(range("10.1.1.1").len(), 1);
        assert_eq!(range("10.1.1.1/32").len(), 1);
        assert_eq!(r.to_string(), "10.0.0.100-10.0.0.199");
        for bad in [
            "",
            "10.0.0.1-",
            "x-10.0.0.1",
            "10.0.0.0/33",
            "10.0.0/8",
            "10.0.0.1-2",
        ] {
            assert!(
                matches!(bad.parse::<Ipv4Range>(), Err(PoolError::BadRange(_))),
                "{bad}"
            );
        }
        assert!(matches!(
            "10.0.0.9-10.0.0.1".parse::<Ipv4Range>(),
            Err(PoolError::Reversed(_))
        ));
    }

    #[test]
    fn rejects_overlaps_unusable_and_oversized_pools() {
        let r1 = range("10.0.0.0-10.0.0.10");
        let r2 = range("10.0.0.10-10.0.0.20");
        assert_eq!(
            Ipv4Pool::new(&[r1, r2], []).unwrap_err(),
            PoolError::Overlap(r1, r2)
        );
        assert_eq!(
            Ipv4Pool::new(&[range("0.0.0.0-0.0.0.9")], []).unwrap_err(),
            PoolError::Unusable(a("0.0.0.0"))
        );
        assert_eq!(
            Ipv4Pool::new(&[range("10.0.0.0/8")], []).unwrap_err(),
            PoolError::TooLarge(1 << 24)
        );
        let dup = [
            ("a".to_owned(), a("10.0.0.5")),
            ("b".to_owned(), a("10.0.0.5")),
        ];
        assert_eq!(
            Ipv4Pool::new(&[r1], dup).unwrap_err(),
            PoolError::DuplicateStatic(a("10.0.0.5"))
        );
        assert!(Ipv4Pool::new(&[range("10.0.0.0/12")], []).is_ok());
    }

    #[test]
    fn allocates_every_address_once_then_exhausts() {
        let mut p = Ipv4Pool::new(&[range("10.0.0.100-10.0.0.199")], []).unwrap();
        let mut seen = HashSet::new();
        for _ in 0..100 {
            let addr = p.allocate("u", None).unwrap();
            assert!(range("10.0.0.100-10.0.0.199").contains(addr));
            assert!(seen.insert(addr), "{addr} handed out twice");
        }
        assert_eq!(p.allocate("u", None), None, "exhausted pool refuses");
        assert_eq!(p.in_use(), 100);
        assert!(p.release(a("10.0.0.150")));
        assert!(!p.release(a("10.0.0.150")), "double release is ignored");
        assert_eq!(p.allocate("v", None), Some(a("10.0.0.150")));
        assert_eq!(p.allocate("v", None), None);
    }

    #[test]
    fn released_addresses_are_not_reused_at_once() {
        let mut p = Ipv4Pool::new(&[range("10.0.0.0/24")], []).unwrap();
        let first = p.allocate("u", None).unwrap();
        p.release(first);
        assert_ne!(p.allocate("u", None), Some(first));
    }

    #[test]
    fn honours_a_free_hint_in_range_only_rfc1332_3_3() {
        let mut p = Ipv4Pool::new(&[range("10.0.0.100-10.0.0.109")], []).unwrap();
        assert_eq!(
            p.allocate("u", Some(a("10.0.0.105"))),
            Some(a("10.0.0.105"))
        );
        // Taken: falls back to the next free one.
        let other = p.allocate("v", Some(a("10.0.0.105"))).unwrap();
        assert_ne!(other, a("10.0.0.105"));
        // Outside every range: ignored.
        let outside = p.allocate("w", Some(a("172.16.0.1"))).unwrap();
        assert!(range("10.0.0.100-10.0.0.109").contains(outside));
    }

    #[test]
    fn static_addresses_per_user() {
        let statics = [
            ("alice".to_owned(), a("10.0.0.101")), // inside the range: reserved
            ("bob".to_owned(), a("192.168.1.50")), // the LAN's subnet, outside the range
        ];
        let mut p = Ipv4Pool::new(&[range("10.0.0.100-10.0.0.103")], statics).unwrap();
        assert_eq!(p.capacity(), 3);
        assert_eq!(p.allocate("alice", None), Some(a("10.0.0.101")));
        assert_eq!(
            p.allocate("alice", None),
            None,
            "static address already in use"
        );
        assert_eq!(
            p.allocate("bob", Some(a("10.0.0.100"))),
            Some(a("192.168.1.50"))
        );
        // Nobody else gets alice's address, not even by hint.
        let mut dynamic = HashSet::new();
        for _ in 0..3 {
            dynamic.insert(p.allocate("carol", Some(a("10.0.0.101"))).unwrap());
        }
        assert!(!dynamic.contains(&a("10.0.0.101")));
        assert_eq!(p.allocate("carol", None), None);
        assert!(p.is_allocated(a("10.0.0.101")));
        assert!(p.release(a("10.0.0.101")));
        assert!(!p.is_allocated(a("10.0.0.101")));
        assert_eq!(
            p.allocate("carol", None),
            None,
            "a static address stays reserved"
        );
        assert_eq!(p.allocate("alice", None), Some(a("10.0.0.101")));
    }

    #[test]
    fn several_ranges_and_a_large_one() {
        let mut p = Ipv4Pool::new(&[range("10.0.0.1-10.0.0.2"), range("10.4.0.0/14")], []).unwrap();
        let n = p.capacity();
        assert_eq!(n, 2 + (1 << 18));
        for _ in 0..n {
            assert!(p.allocate("u", None).is_some());
        }
        assert_eq!(p.allocate("u", None), None);
        assert!(p.release(a("10.0.0.2")));
        assert_eq!(p.allocate("u", None), Some(a("10.0.0.2")));
    }

    #[test]
    fn an_empty_pool_refuses() {
        let mut p = Ipv4Pool::new(&[], [("x".to_owned(), a("10.9.9.9"))]).unwrap();
        assert_eq!(p.allocate("y", None), None);
        assert_eq!(p.allocate("x", None), Some(a("10.9.9.9")));
    }

    #[test]
    fn shared_pool_is_an_ipcp_address_pool() {
        let pool: Arc<dyn AddressPool> = Arc::new(SharedIpv4Pool::new(
            Ipv4Pool::new(&[range("10.0.0.1-10.0.0.4")], []).unwrap(),
        ));
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let pool = pool.clone();
                std::thread::spawn(move || pool.allocate("u", None))
            })
            .collect();
        let got: HashSet<_> = threads
            .into_iter()
            .map(|t| t.join().unwrap().unwrap())
            .collect();
        assert_eq!(got.len(), 4);
        assert_eq!(pool.allocate("u", None), None);
        pool.release(a("10.0.0.3"));
        assert_eq!(pool.allocate("u", None), Some(a("10.0.0.3")));
    }
}
