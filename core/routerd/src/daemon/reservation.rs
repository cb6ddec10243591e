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

use std::net::Ipv4Addr;
use std::sync::{Arc, Mutex, PoisonError};

use dialgate_dataplane::SharedIpv4Pool;
use dialgate_ppp::ncp::AddressPool;

/// One session's reserved address in a shared pool; see the [module docs](self).
#[derive(Debug)]
pub struct Reservation {
    pool: Arc<SharedIpv4Pool>,
    held: Mutex<Option<Ipv4Addr>>,
}

impl Reservation {
    /// A reservation in `pool` that holds nothing yet.
    pub fn new(pool: Arc<SharedIpv4Pool>) -> Self {
        Self {
            pool,
            held: Mutex::new(None),
        }
    }

    fn held(&self) -> std::sync::MutexGuard<'_, Option<Ipv4Addr>> {
        // Every update is a single assignment: a poisoned lock still holds a valid value.
        self.held.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Reserves an address for `user`'s session (the user's static address, or a range
    /// address), unless one is held already. `false` when the pool has none for it.
    pub fn reserve(&self, user: &str) -> bool {
        let mut held = self.held();
        if held.is_none() {
            *held = self.pool.with(|p| p.allocate(user, None));
        }
        held.is_some()
    }

    /// The address held, if any.
    pub fn address(&self) -> Option<Ipv4Addr> {
        *self.held()
    }

    /// Gives the address back to the pool (the session ended). Releasing twice is harmless.
    pub fn release(&self) {
        if let Some(addr) = self.held().take() {
            self.pool.with(|p| p.release(addr));
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
        let Some(current) = *held else {
            *held = self.pool.with(|p| p.allocate(user, hint));
            return *held;
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
                        *held = Some(h);
                    }
                    Some(other) => {
                        p.release(other);
                    }
                    None => {}
                }
            });
        }
        *held
    }

    /// IPCP gives its grant back when its policy is dropped; the reserved address stays held
    /// until the session ends. Anything else is returned to the pool.
    fn release(&self, addr: Ipv4Addr) {
        if *self.held() != Some(addr) {
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
        let one = Reservation::new(p.clone());
        let two = Reservation::new(p.clone());
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
        let r = Reservation::new(p.clone());
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
        let other = Reservation::new(p.clone());
        assert!(other.reserve("bob"));
        let taken = other.address().unwrap();
        let r = Reservation::new(p.clone());
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
        let one = Reservation::new(p.clone());
        let two = Reservation::new(p.clone());
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
    fn without_a_reservation_ipcp_allocates_through_it_and_the_session_end_frees_it() {
        let p = pool("192.0.2.200", &[]);
        let r = Reservation::new(p.clone());
        assert_eq!(
            AddressPool::allocate(&r, "alice", None),
            Some(a("192.0.2.200"))
        );
        assert!(r.reserve("alice"));
        assert_eq!(
            AddressPool::allocate(&Reservation::new(p.clone()), "x", None),
            None
        );
        drop(r);
        assert_eq!(in_use(&p), 0);
    }
}
