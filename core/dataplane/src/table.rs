//! The userspace route table: client address -> session (the WireGuard design).
//!
//! The kernel routes every client address to the one TUN device; the packet read from the
//! TUN is then handed to the session this table names for its destination: one IPv4 /32 per
//! client and one IPv6 /64 per session. In the other direction, a packet a session sends
//! must come from that session's own address (anti-spoofing) before it is written to the TUN.
//!
//! Lookups are O(1) (a hash map with a multiplicative hasher over the integer form of the
//! address) and allocate nothing. Drops are counted by reason in atomics, so the lookup
//! methods take `&self` and the table can sit behind an `RwLock` or be swapped whole.

use core::hash::{BuildHasherDefault, Hasher};
use core::net::{Ipv4Addr, Ipv6Addr};
use core::sync::atomic::{AtomicU64, Ordering};
use std::collections::HashMap;
use std::collections::hash_map::Entry;

use crate::ip::{self, HeaderError, IpVersion};

/// Why the data plane dropped a packet, for the drop counters and metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DropReason {
    /// Shorter than the fixed IP header of its version.
    TooShort,
    /// The IP version nibble is neither 4 nor 6.
    BadVersion,
    /// Read from the TUN for an address no session holds.
    UnknownDestination,
    /// Sent by a session from an address that is not the session's own.
    Spoofed,
}

impl DropReason {
    /// Every reason, in the order of [`DropCounts`]'s fields.
    pub const ALL: [Self; 4] = [
        Self::TooShort,
        Self::BadVersion,
        Self::UnknownDestination,
        Self::Spoofed,
    ];

    /// A stable name for logs and metric labels.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::TooShort => "too_short",
            Self::BadVersion => "bad_version",
            Self::UnknownDestination => "unknown_destination",
            Self::Spoofed => "spoofed",
        }
    }

    fn index(self) -> usize {
        match self {
            Self::TooShort => 0,
            Self::BadVersion => 1,
            Self::UnknownDestination => 2,
            Self::Spoofed => 3,
        }
    }
}

impl From<HeaderError> for DropReason {
    fn from(e: HeaderError) -> Self {
        match e {
            HeaderError::TooShort => Self::TooShort,
            HeaderError::BadVersion => Self::BadVersion,
        }
    }
}

/// A snapshot of the drop counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DropCounts {
    /// [`DropReason::TooShort`].
    pub too_short: u64,
    /// [`DropReason::BadVersion`].
    pub bad_version: u64,
    /// [`DropReason::UnknownDestination`].
    pub unknown_destination: u64,
    /// [`DropReason::Spoofed`].
    pub spoofed: u64,
}

impl DropCounts {
    /// The count for one reason.
    pub fn get(&self, reason: DropReason) -> u64 {
        match reason {
            DropReason::TooShort => self.too_short,
            DropReason::BadVersion => self.bad_version,
            DropReason::UnknownDestination => self.unknown_destination,
            DropReason::Spoofed => self.spoofed,
        }
    }

    /// All drops.
    pub fn total(&self) -> u64 {
        DropReason::ALL.iter().map(|r| self.get(*r)).sum()
    }
}

/// Drop counters, one atomic per reason; relaxed ordering (they are statistics).
#[derive(Debug, Default)]
pub struct DropCounters([AtomicU64; 4]);

impl DropCounters {
    /// Counts one drop.
    pub fn count(&self, reason: DropReason) {
        if let Some(c) = self.0.get(reason.index()) {
            c.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// The current values.
    pub fn snapshot(&self) -> DropCounts {
        let get = |r: DropReason| {
            self.0
                .get(r.index())
                .map_or(0, |c| c.load(Ordering::Relaxed))
        };
        DropCounts {
            too_short: get(DropReason::TooShort),
            bad_version: get(DropReason::BadVersion),
            unknown_destination: get(DropReason::UnknownDestination),
            spoofed: get(DropReason::Spoofed),
        }
    }
}

/// A multiplicative hasher for integer keys (the Fx hash of rustc). The keys are addresses
/// the router assigned itself, so hash flooding by a peer is not a concern: a peer can only
/// make lookups, not choose what is stored.
#[derive(Debug, Default, Clone, Copy)]
pub struct AddrHasher(u64);

const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

impl Hasher for AddrHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.write_u64(u64::from_le_bytes(word));
        }
    }

    fn write_u32(&mut self, i: u32) {
        self.write_u64(u64::from(i));
    }

    fn write_u64(&mut self, i: u64) {
        self.0 = (self.0.rotate_left(5) ^ i).wrapping_mul(SEED);
    }
}

type AddrMap<K, S> = HashMap<K, S, BuildHasherDefault<AddrHasher>>;

/// An address is already routed to another session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AddressInUse<S> {
    /// The session that holds it.
    pub holder: S,
}

impl<S: core::fmt::Debug> core::fmt::Display for AddressInUse<S> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "address already routed to session {:?}", self.holder)
    }
}

impl<S: core::fmt::Debug> std::error::Error for AddressInUse<S> {}

/// The /64 prefix of an IPv6 address, as the table keys it.
pub fn prefix64(addr: &Ipv6Addr) -> u64 {
    // The high 64 bits of the address.
    (addr.to_bits() >> 64) as u64
}

/// Address -> session table; `S` is the caller's session id (small and `Copy`).
#[derive(Debug)]
pub struct AddressTable<S> {
    v4: AddrMap<u32, S>,
    v6: AddrMap<u64, S>,
    drops: DropCounters,
}

impl<S> Default for AddressTable<S> {
    fn default() -> Self {
        Self {
            v4: AddrMap::default(),
            v6: AddrMap::default(),
            drops: DropCounters::default(),
        }
    }
}

impl<S: Copy + Eq> AddressTable<S> {
    /// An empty table.
    pub fn new() -> Self {
        Self::default()
    }

    /// Routes the IPv4 address `addr` (/32) to `session`. Re-inserting the same pair is a
    /// no-op; an address held by another session is refused.
    pub fn insert_v4(&mut self, addr: Ipv4Addr, session: S) -> Result<(), AddressInUse<S>> {
        insert(&mut self.v4, addr.to_bits(), session)
    }

    /// Removes the route of `addr` if `session` holds it; returns whether it did.
    pub fn remove_v4(&mut self, addr: Ipv4Addr, session: S) -> bool {
        remove(&mut self.v4, addr.to_bits(), session)
    }

    /// Routes the /64 that contains `prefix` to `session` (the low 64 bits are ignored).
    pub fn insert_v6(&mut self, prefix: Ipv6Addr, session: S) -> Result<(), AddressInUse<S>> {
        insert(&mut self.v6, prefix64(&prefix), session)
    }

    /// Removes the route of the /64 containing `prefix` if `session` holds it.
    pub fn remove_v6(&mut self, prefix: Ipv6Addr, session: S) -> bool {
        remove(&mut self.v6, prefix64(&prefix), session)
    }

    /// The session that holds `addr`.
    pub fn lookup_v4(&self, addr: Ipv4Addr) -> Option<S> {
        self.v4.get(&addr.to_bits()).copied()
    }

    /// The session whose /64 contains `addr`.
    pub fn lookup_v6(&self, addr: Ipv6Addr) -> Option<S> {
        self.v6.get(&prefix64(&addr)).copied()
    }

    /// Number of IPv4 routes and IPv6 routes.
    pub fn len(&self) -> (usize, usize) {
        (self.v4.len(), self.v6.len())
    }

    /// No routes at all.
    pub fn is_empty(&self) -> bool {
        self.v4.is_empty() && self.v6.is_empty()
    }

    /// The session a packet read from the TUN goes to, by its destination address. A packet
    /// that is too short, of another version or for no session is dropped and counted.
    pub fn route_from_tun(&self, packet: &[u8]) -> Result<S, DropReason> {
        let found = match ip::version(packet) {
            Ok(IpVersion::V4) => ip::ipv4_destination(packet).and_then(|a| self.lookup_v4(a)),
            Ok(IpVersion::V6) => ip::ipv6_destination(packet).and_then(|a| self.lookup_v6(a)),
            Err(e) => return Err(self.drop(e.into())),
        };
        found.ok_or_else(|| self.drop(DropReason::UnknownDestination))
    }

    /// Anti-spoofing for a packet `session` sent: its source must be the session's own
    /// IPv4 address or lie in its /64. Returns the packet's version; otherwise the packet is
    /// dropped and counted.
    ///
    /// IPv6 link-local traffic of the session (a Router Solicitation from `fe80::/10`) fails
    /// this check by design: handle it first with [`crate::ra::parse_router_solicitation`].
    pub fn check_from_session(&self, session: S, packet: &[u8]) -> Result<IpVersion, DropReason> {
        let version = ip::version(packet).map_err(|e| self.drop(e.into()))?;
        let holder = match version {
            IpVersion::V4 => ip::ipv4_source(packet).and_then(|a| self.lookup_v4(a)),
            IpVersion::V6 => ip::ipv6_source(packet).and_then(|a| self.lookup_v6(a)),
        };
        if holder == Some(session) {
            Ok(version)
        } else {
            Err(self.drop(DropReason::Spoofed))
        }
    }

    /// The drop counters so far.
    pub fn drops(&self) -> DropCounts {
        self.drops.snapshot()
    }

    fn drop(&self, reason: DropReason) -> DropReason {
        self.drops.count(reason);
        reason
    }
}

fn insert<K: core::hash::Hash + Eq, S: Copy + Eq>(
    map: &mut AddrMap<K, S>,
    key: K,
    session: S,
) -> Result<(), AddressInUse<S>> {
    match map.entry(key) {
        Entry::Occupied(e) if *e.get() == session => Ok(()),
        Entry::Occupied(e) => Err(AddressInUse { holder: *e.get() }),
        Entry::Vacant(e) => {
            e.insert(session);
            Ok(())
        }
    }
}

fn remove<K: core::hash::Hash + Eq, S: Copy + Eq>(
    map: &mut AddrMap<K, S>,
    key: K,
    session: S,
) -> bool {
    match map.entry(key) {
        Entry::Occupied(e) if *e.get() == session => {
            e.remove();
            true
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v4_packet(src: [u8; 4], dst: [u8; 4]) -> Vec<u8> {
        let mut p = vec![0u8; 28];
        p[0] = 0x45;
        p[2..4].copy_from_slice(&28u16.to_be_bytes());
        p[9] = ip::PROTO_UDP;
        p[12..16].copy_from_slice(&src);
        p[16..20].copy_from_slice(&dst);
        p
    }

    fn v6_packet(src: Ipv6Addr, dst: Ipv6Addr) -> Vec<u8> {
        let mut p = vec![0u8; 48];
        p[0] = 0x60;
        p[4..6].copy_from_slice(&8u16.to_be_bytes());
        p[6] = ip::PROTO_UDP;
        p[7] = 64;
        p[8..24].copy_from_slice(&src.octets());
        p[24..40].copy_from_slice(&dst.octets());
        p
    }

    #[test]
    fn routes_ipv4_by_destination_rfc791_3_1() {
        let mut t = AddressTable::new();
        t.insert_v4(Ipv4Addr::new(10, 0, 0, 100), 7u32).unwrap();
        t.insert_v4(Ipv4Addr::new(10, 0, 0, 101), 8u32).unwrap();
        let p = v4_packet([192, 0, 2, 1], [10, 0, 0, 101]);
        assert_eq!(t.route_from_tun(&p), Ok(8));
        let p = v4_packet([192, 0, 2, 1], [10, 0, 0, 102]);
        assert_eq!(t.route_from_tun(&p), Err(DropReason::UnknownDestination));
        assert_eq!(t.drops().unknown_destination, 1);
    }

    #[test]
    fn routes_ipv6_by_destination_prefix64_rfc8200_3() {
        let mut t = AddressTable::new();
        let prefix: Ipv6Addr = "2001:db8:100:5::".parse().unwrap();
        t.insert_v6(prefix, 5u32).unwrap();
        let inside: Ipv6Addr = "2001:db8:100:5:1234:5678:9abc:def0".parse().unwrap();
        let outside: Ipv6Addr = "2001:db8:100:6::1".parse().unwrap();
        let from: Ipv6Addr = "2001:db8::1".parse().unwrap();
        assert_eq!(t.route_from_tun(&v6_packet(from, inside)), Ok(5));
        assert_eq!(
            t.route_from_tun(&v6_packet(from, outside)),
            Err(DropReason::UnknownDestination)
        );
    }

    #[test]
    fn malformed_packets_are_counted_by_reason() {
        let t = AddressTable::<u32>::new();
        assert_eq!(t.route_from_tun(&[]), Err(DropReason::TooShort));
        assert_eq!(t.route_from_tun(&[0x45; 19]), Err(DropReason::TooShort));
        assert_eq!(t.route_from_tun(&[0x60; 39]), Err(DropReason::TooShort));
        assert_eq!(t.route_from_tun(&[0x00; 60]), Err(DropReason::BadVersion));
        assert_eq!(
            t.check_from_session(1, &[0xf0; 60]),
            Err(DropReason::BadVersion)
        );
        let d = t.drops();
        assert_eq!((d.too_short, d.bad_version, d.total()), (3, 2, 5));
    }

    #[test]
    fn anti_spoofing_accepts_only_the_sessions_own_source() {
        let mut t = AddressTable::new();
        t.insert_v4(Ipv4Addr::new(10, 0, 0, 100), 1u32).unwrap();
        t.insert_v4(Ipv4Addr::new(10, 0, 0, 101), 2u32).unwrap();
        let own = v4_packet([10, 0, 0, 100], [8, 8, 8, 8]);
        let others = v4_packet([10, 0, 0, 101], [8, 8, 8, 8]);
        let unknown = v4_packet([10, 9, 9, 9], [8, 8, 8, 8]);
        assert_eq!(t.check_from_session(1, &own), Ok(IpVersion::V4));
        assert_eq!(t.check_from_session(1, &others), Err(DropReason::Spoofed));
        assert_eq!(t.check_from_session(1, &unknown), Err(DropReason::Spoofed));

        let p64: Ipv6Addr = "2001:db8:1:1::".parse().unwrap();
        t.insert_v6(p64, 1).unwrap();
        let dst: Ipv6Addr = "2001:db8::53".parse().unwrap();
        let good = v6_packet("2001:db8:1:1::abcd".parse().unwrap(), dst);
        let link_local = v6_packet("fe80::1".parse().unwrap(), dst);
        let neighbour = v6_packet("2001:db8:1:2::1".parse().unwrap(), dst);
        assert_eq!(t.check_from_session(1, &good), Ok(IpVersion::V6));
        assert_eq!(t.check_from_session(2, &good), Err(DropReason::Spoofed));
        assert_eq!(
            t.check_from_session(1, &link_local),
            Err(DropReason::Spoofed)
        );
        assert_eq!(
            t.check_from_session(1, &neighbour),
            Err(DropReason::Spoofed)
        );
        assert_eq!(t.drops().spoofed, 5);
    }

    #[test]
    fn insert_refuses_an_address_held_by_another_session() {
        let mut t = AddressTable::new();
        let a = Ipv4Addr::new(10, 0, 0, 5);
        t.insert_v4(a, 1u32).unwrap();
        assert_eq!(t.insert_v4(a, 1), Ok(()));
        assert_eq!(t.insert_v4(a, 2), Err(AddressInUse { holder: 1 }));
        // Only the holder may remove it: a late teardown of session 2 cannot unroute 1.
        assert!(!t.remove_v4(a, 2));
        assert_eq!(t.lookup_v4(a), Some(1));
        assert!(t.remove_v4(a, 1));
        assert_eq!(t.lookup_v4(a), None);
        assert!(t.is_empty());

        let p: Ipv6Addr = "2001:db8:0:7::".parse().unwrap();
        t.insert_v6(p, 3).unwrap();
        assert_eq!(
            t.insert_v6("2001:db8:0:7::99".parse().unwrap(), 4),
            Err(AddressInUse { holder: 3 })
        );
        assert_eq!(t.len(), (0, 1));
        assert!(t.remove_v6("2001:db8:0:7::1".parse().unwrap(), 3));
        assert!(t.is_empty());
    }

    #[test]
    fn many_sessions_each_find_their_own() {
        let mut t = AddressTable::new();
        for i in 0..20_000u32 {
            t.insert_v4(Ipv4Addr::from_bits(0x0a00_0000 + i), i)
                .unwrap();
        }
        for i in (0..20_000u32).step_by(7) {
            assert_eq!(t.lookup_v4(Ipv4Addr::from_bits(0x0a00_0000 + i)), Some(i));
        }
        assert_eq!(t.lookup_v4(Ipv4Addr::from_bits(0x0a00_0000 + 20_000)), None);
    }
}
