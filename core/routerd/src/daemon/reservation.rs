//! A server session's hold on its pool address, from authentication to the session's end.
//!
//! IPCP asks for the peer's address only when it negotiates, and with encryption required
//! that waits for CCP (RFC 3078 §3), well after authentication. Probing the pool at
//! authentication and taking the address at IPCP left a window in which two authenticated
//! sessions both saw the last address free and one of them failed later, in IPCP, instead of
//! being refused cleanly at authentication. So the session reserves its address when the
//! user is authenticated ([`Reservation::reserve`]) and hands that same address to IPCP,
//! which reaches the pool only through the reservation (it is the session's
//! [`AddressPool`]). The address goes back to the pool when the session ends
//! ([`Reservation::release`], or on drop), not when IPCP lets go of it: an LCP renegotiation
//! restarts IPCP with the same address.
//!
//! A user with a static address in the users file reserves that address instead
//! ([`Reservation::reserve_for`] with `Some(address)`): it lies outside every pool range and
//! is held in the box-wide [`StaticAddresses`], so two sessions never share it, whichever
//! links they came in on.

use std::collections::HashSet;
use std::net::Ipv4Addr;
use std::sync::{Arc, Mutex, PoisonError};

use dialgate_dataplane::SharedIpv4Pool;
use dialgate_ppp::ncp::AddressPool;

/// The users' static addresses (from the users file) currently held by a session.
#[derive(Debug, Default)]
pub struct StaticAddresses(Mutex<HashSet<Ipv4Addr>>);

impl StaticAddresses {
    fn set(&self) -> std::sync::MutexGuard<'_, HashSet<Ipv4Addr>> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Takes `addr`; `false` when a session holds it already.
    pub fn claim(&self, addr: Ipv4Addr) -> bool {
        self.set().insert(addr)
    }

    /// Gives `addr` back.
    pub fn release(&self, addr: Ipv4Addr) {
        self.set().remove(&addr);
    }

    /// Whether a session holds `addr`.
    pub fn is_held(&self, addr: Ipv4Addr) -> bool {
        self.set().contains(&addr)
    }
}

/// Why a session got no address at authentication.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoAddress {
    /// The pool has no free address (or the user's `[pool.static]` address is held).
    PoolExhausted,
    /// The user's static address is held by another session.
    StaticInUse(Ipv4Addr),
    /// The user's static address lies in a range of this link's pool (the pool changed
    /// after the address was set): refused rather than risk handing it out twice.
    StaticInRange(Ipv4Addr),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Held {
    Pool(Ipv4Addr),
    Static(Ipv4Addr),
}

impl Held {
    fn addr(self) -> Ipv4Addr {
        match self {
            Held::Pool(a) | Held::Static(a) => a,
        }
    }
}

/// One session's reserved address in a shared pool; see the [module docs](self).
#[derive(Debug)]
pub struct Reservation {
    pool: Arc<SharedIpv4Pool>,
    statics: Arc<StaticAddresses>,
    held: Mutex<Option<Held>>,
}

impl Reservation {
    /// A reservation in `pool` (users' static addresses held in `statics`) that holds
    /// nothing yet.
    pub fn new(pool: Arc<SharedIpv4Pool>, statics: Arc<StaticAddresses>) -> Self {
        Self {
            pool,
            statics,
            held: Mutex::new(None),
        }
    }

    fn held(&self) -> std::sync::MutexGuard<'_, Option<Held>> {
        // Every update is a single assignment: a poisoned lock still holds a valid value.
        self.held.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Reserves an address for `user`'s session (the user's `[pool.static]` address, or a
    /// range address), unless one is held already. `false` when the pool has none for it.
    pub fn reserve(&self, user: &str) -> bool {
        self.reserve_for(user, None).is_ok()
    }

    /// Reserves `static_address` (the user's static address from the users file) or, when
    /// `None`, a pool address for `user`'s session, unless one is held already.
    pub fn reserve_for(
        &self,
        user: &str,
        static_address: Option<Ipv4Addr>,
    ) -> Result<Ipv4Addr, NoAddress> {
        let mut held = self.held();
        if let Some(h) = *held {
            return Ok(h.addr());
        }
        match static_address {
            Some(addr) => {
                if self.pool.with(|p| p.ranges().any(|r| r.contains(addr))) {
                    return Err(NoAddress::StaticInRange(addr));
                }
                if !self.statics.claim(addr) {
                    return Err(NoAddress::StaticInUse(addr));
                }
                *held = Some(Held::Static(addr));
                Ok(addr)
            }
            None => {
                let addr = self
                    .pool
                    .with(|p| p.allocate(user, None))
                    .ok_or(NoAddress::PoolExhausted)?;
                *held = Some(Held::Pool(addr));
                Ok(addr)
            }
        }
    }

    /// The address held, if any.
    pub fn address(&self) -> Option<Ipv4Addr> {
        self.held().map(Held::addr)
    }

    /// Gives the address back (the session ended). Releasing twice is harmless.
    pub fn release(&self) {
        match self.held().take() {
            Some(Held::Pool(addr)) => {
                self.pool.with(|p| p.release(addr));
            }
            Some(Held::Static(addr)) => self.statics.release(addr),
            None => {}
        }
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        self.release();
    }
}

impl AddressPool for Reservation {
    /// The reserved address (reserving one now if authentication did not), or `hint` instead
    /// when the peer asked for a free range address (RFC 1332 §3.3): the reservation moves
    /// to it and the address held before goes back.
    fn allocate(&self, user: &str, hint: Option<Ipv4Addr>) -> Option<Ipv4Addr> {
        let mut held = self.held();
        let current = match *held {
            None => {
                *held = self.pool.with(|p| p.allocate(user, hint)).map(Held::Pool);
                return held.map(Held::addr);
            }
            // A static address from the users file: the peer's hint cannot move it.
            Some(Held::Static(addr)) => return Some(addr),
            Some(Held::Pool(addr)) => addr,
        };
        if let Some(h) = hint.filter(|h| *h != current) {
            self.pool.with(|p| {
                if p.is_allocated(h) {
                    return;
                }
                // A static user gets `None` here (its address is the one held); a range
                // user gets `h` if it is a free range address, else some other address,
                // which goes straight back.
                match p.allocate(user, Some(h)) {
                    Some(a) if a == h => {
                        p.release(current);
                        *held = Some(Held::Pool(h));
                    }
                    Some(other) => {
                        p.release(other);
                    }
                    None => {}
                }
            });
        }
        held.map(Held::addr)
    }

    /// IPCP gives its grant back when its policy is dropped; the reserved address stays held
    /// until the session ends. Anything else is returned to the pool.
    fn release(&self, addr: Ipv4Addr) {
        if self.address() != Some(addr) {
            self.pool.with(|p| p.release(addr));
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use dialgate_dataplane::{Ipv4Pool, Ipv4Range};

    fn a(s: &str) -> Ipv4Addr {
        s.parse().unwrap()
    }

    fn pool(range: &str, statics: &[(&str, &str)]) -> Arc<SharedIpv4Pool> {
        let r: Ipv4Range = range.parse().unwrap();
        let statics = statics.iter().map(|(u, s)| ((*u).to_owned(), a(s)));
        Arc::new(SharedIpv4Pool::new(Ipv4Pool::new(&[r], statics).unwrap()))
    }

    fn in_use(p: &SharedIpv4Pool) -> u64 {
        p.with(|p| p.in_use())
    }

    #[test]
    fn the_last_address_is_taken_at_reservation_and_a_second_session_is_refused() {
        let p = pool("192.0.2.200", &[]);
        let one = Reservation::new(p.clone(), Arc::default());
        let two = Reservation::new(p.clone(), Arc::default());
        assert!(one.reserve("alice"));
        assert_eq!(one.address(), Some(a("192.0.2.200")));
        assert_eq!(in_use(&p), 1);
        // Before either session's IPCP runs, the second is refused.
        assert!(!two.reserve("alice"));
        assert_eq!(two.address(), None);
        // Reserving again keeps the same address.
        assert!(one.reserve("alice"));
        assert_eq!(in_use(&p), 1);
        one.release();
        assert_eq!(in_use(&p), 0);
        assert!(two.reserve("alice"));
    }

    #[test]
    fn ipcp_gets_the_reserved_address_and_its_release_keeps_it_held_rfc1332_3_3() {
        let p = pool("192.0.2.100-192.0.2.109", &[]);
        let r = Reservation::new(p.clone(), Arc::default());
        assert!(r.reserve("alice"));
        let addr = r.address().unwrap();
        assert_eq!(AddressPool::allocate(&r, "alice", None), Some(addr));
        assert_eq!(in_use(&p), 1);
        // IPCP's policy dropped (an LCP renegotiation): still held, and granted again.
        AddressPool::release(&r, addr);
        assert_eq!(in_use(&p), 1);
        assert!(p.with(|p| p.is_allocated(addr)));
        assert_eq!(AddressPool::allocate(&r, "alice", None), Some(addr));
        // The session ends: back to the pool, once.
        r.release();
        r.release();
        assert_eq!(in_use(&p), 0);
    }

    #[test]
    fn a_free_hint_moves_the_reservation_a_taken_one_does_not_rfc1332_3_3() {
        let p = pool("192.0.2.100-192.0.2.109", &[]);
        let other = Reservation::new(p.clone(), Arc::default());
        assert!(other.reserve("bob"));
        let taken = other.address().unwrap();
        let r = Reservation::new(p.clone(), Arc::default());
        assert!(r.reserve("alice"));
        let first = r.address().unwrap();
        // The hint is someone else's address: the reservation stays.
        assert_eq!(AddressPool::allocate(&r, "alice", Some(taken)), Some(first));
        // An address outside the pool: stays too, and nothing leaks.
        assert_eq!(
            AddressPool::allocate(&r, "alice", Some(a("198.51.100.7"))),
            Some(first)
        );
        assert_eq!(in_use(&p), 2);
        // A free one: the reservation moves and the old address is free again.
        let free = a("192.0.2.107");
        assert_eq!(AddressPool::allocate(&r, "alice", Some(free)), Some(free));
        assert_eq!(r.address(), Some(free));
        assert!(!p.with(|p| p.is_allocated(first)));
        assert_eq!(in_use(&p), 2);
    }

    #[test]
    fn a_static_user_reserves_its_address_once() {
        let p = pool("192.0.2.100-192.0.2.109", &[("carol", "192.0.2.50")]);
        let one = Reservation::new(p.clone(), Arc::default());
        let two = Reservation::new(p.clone(), Arc::default());
        assert!(one.reserve("carol"));
        assert_eq!(one.address(), Some(a("192.0.2.50")));
        // A hint cannot move a static user off its address.
        assert_eq!(
            AddressPool::allocate(&one, "carol", Some(a("192.0.2.101"))),
            Some(a("192.0.2.50"))
        );
        assert!(!two.reserve("carol"));
        drop(one);
        assert!(two.reserve("carol"));
    }

    #[test]
    fn a_users_file_static_address_is_held_box_wide_and_ignores_hints_rfc1332_3_3() {
        let p1 = pool("192.0.2.100-192.0.2.109", &[]);
        let p2 = pool("198.51.100.10-198.51.100.19", &[]);
        let statics = Arc::new(StaticAddresses::default());
        let one = Reservation::new(p1.clone(), statics.clone());
        assert_eq!(
            one.reserve_for("dave", Some(a("192.0.2.250"))),
            Ok(a("192.0.2.250"))
        );
        // No pool address was taken, and IPCP gets the static address whatever the hint.
        assert_eq!(in_use(&p1), 0);
        assert_eq!(
            AddressPool::allocate(&one, "dave", Some(a("192.0.2.101"))),
            Some(a("192.0.2.250"))
        );
        // IPCP letting go keeps it held.
        AddressPool::release(&one, a("192.0.2.250"));
        assert!(statics.is_held(a("192.0.2.250")));
        // A second session of dave, on a link with another pool: refused.
        let two = Reservation::new(p2.clone(), statics.clone());
        assert_eq!(
            two.reserve_for("dave", Some(a("192.0.2.250"))),
            Err(NoAddress::StaticInUse(a("192.0.2.250")))
        );
        assert_eq!(two.address(), None);
        // An address inside this link's pool range is refused (the pool grew over it).
        let three = Reservation::new(p1.clone(), statics.clone());
        assert_eq!(
            three.reserve_for("erin", Some(a("192.0.2.105"))),
            Err(NoAddress::StaticInRange(a("192.0.2.105")))
        );
        assert_eq!(in_use(&p1), 0);
        drop(one);
        assert!(!statics.is_held(a("192.0.2.250")));
        assert!(two.reserve_for("dave", Some(a("192.0.2.250"))).is_ok());
    }

    #[test]
    fn without_a_reservation_ipcp_allocates_through_it_and_the_session_end_frees_it() {
        let p = pool("192.0.2.200", &[]);
        let r = Reservation::new(p.clone(), Arc::default());
        assert_eq!(
            AddressPool::allocate(&r, "alice", None),
            Some(a("192.0.2.200"))
        );
        assert!(r.reserve("alice"));
        assert_eq!(
            AddressPool::allocate(&Reservation::new(p.clone(), Arc::default()), "x", None),
            None
        );
        drop(r);
        assert_eq!(in_use(&p), 0);
    }
}
