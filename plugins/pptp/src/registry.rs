//! The calls of every `pptp` instance in the process, by (peer address, our Call ID).
//!
//! Each instance (one per link) has its own raw GRE socket, and the kernel hands every
//! protocol-47 datagram to every raw socket. GRE names its call by our Call ID alone
//! (RFC 2637 §4.1), so with two pptp links in one routerd each link receives the other's
//! GRE, and two links must never give calls from the same peer address the same Call ID.
//! The registry is that shared knowledge: an instance claims each call's (peer, ID) pair
//! while the call lives, picks Call IDs no instance holds for that peer, and recognises a
//! datagram that belongs to another instance's call (ignored, not counted as hostile).
//! Instances loaded from the same library file share it (the dynamic loader maps a library
//! once per process).

use std::collections::HashMap;
use std::net::Ipv4Addr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{LazyLock, Mutex, MutexGuard, PoisonError};

/// (peer address, our Call ID) -> the owning instance.
type Claims = HashMap<(Ipv4Addr, u16), u64>;

static CLAIMS: LazyLock<Mutex<Claims>> = LazyLock::new(|| Mutex::new(HashMap::new()));
static NEXT_OWNER: AtomicU64 = AtomicU64::new(1);

fn claims() -> MutexGuard<'static, Claims> {
    // Every update is a single map operation: a poisoned lock still holds a valid map.
    CLAIMS.lock().unwrap_or_else(PoisonError::into_inner)
}

/// One instance's view of the registry; its claims go when it is dropped.
#[derive(Debug)]
pub(crate) struct Registry {
    owner: u64,
}

impl Registry {
    /// A new owner with no claims.
    pub(crate) fn new() -> Self {
        Self {
            owner: NEXT_OWNER.fetch_add(1, Ordering::Relaxed),
        }
    }

    /// Claims `(peer, id)` for one of our calls: `false` if it is held already, by another
    /// instance or by another call of ours.
    pub(crate) fn claim(&self, peer: Ipv4Addr, id: u16) -> bool {
        match claims().entry((peer, id)) {
            std::collections::hash_map::Entry::Vacant(v) => {
                v.insert(self.owner);
                true
            }
            std::collections::hash_map::Entry::Occupied(_) => false,
        }
    }

    /// Gives back a claim of ours (another instance's is left alone).
    pub(crate) fn release(&self, peer: Ipv4Addr, id: u16) {
        let mut c = claims();
        if c.get(&(peer, id)) == Some(&self.owner) {
            c.remove(&(peer, id));
        }
    }

    /// Whether any instance, this one included, holds `(peer, id)`.
    #[cfg(test)]
    pub(crate) fn is_claimed(&self, peer: Ipv4Addr, id: u16) -> bool {
        claims().contains_key(&(peer, id))
    }

    /// Whether this instance holds `(peer, id)`.
    pub(crate) fn claimed_by_us(&self, peer: Ipv4Addr, id: u16) -> bool {
        claims().get(&(peer, id)) == Some(&self.owner)
    }

    /// Whether another instance holds `(peer, id)`: GRE from `peer` with Key `id` is its.
    pub(crate) fn claimed_by_another(&self, peer: Ipv4Addr, id: u16) -> bool {
        claims()
            .get(&(peer, id))
            .is_some_and(|&owner| owner != self.owner)
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        claims().retain(|_, owner| *owner != self.owner);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Addresses from 198.18.0.0/15 (RFC 2544), unique to this test module: the registry is
    // process-wide and other tests run in parallel.
    const P: Ipv4Addr = Ipv4Addr::new(198, 18, 77, 1);
    const Q: Ipv4Addr = Ipv4Addr::new(198, 18, 77, 2);

    #[test]
    fn two_instances_share_the_claims_rfc2637_4_1() {
        let a = Registry::new();
        let b = Registry::new();
        assert!(a.claim(P, 7));
        assert!(!a.claim(P, 7), "held already, by another call of ours");
        assert!(!b.claim(P, 7), "another instance holds it");
        assert!(b.claim(Q, 7), "the same ID for another peer is free");
        assert!(a.is_claimed(P, 7) && b.is_claimed(P, 7));
        assert!(!a.claimed_by_another(P, 7));
        assert!(b.claimed_by_another(P, 7));
        assert!(a.claimed_by_us(P, 7) && !b.claimed_by_us(P, 7));
        assert!(a.claimed_by_another(Q, 7));
        assert!(!a.claimed_by_another(P, 8));
        // Releasing someone else's claim does nothing.
        b.release(P, 7);
        assert!(b.claimed_by_another(P, 7));
        a.release(P, 7);
        assert!(!b.is_claimed(P, 7));
        assert!(b.claim(P, 7));
        // An instance's claims go with it.
        drop(b);
        assert!(!a.is_claimed(P, 7) && !a.is_claimed(Q, 7));
    }
}
