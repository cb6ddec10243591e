//! Routes to other IPX networks, learned by listening to the RIP responses LAN routers
//! broadcast (Novell's IPX RIP: socket 0x0453; data: a 2-octet operation, 1 request or
//! 2 response, then entries of network (4 octets), hops (2) and ticks (2), at most 50).
//!
//! A caller's packet to another network must go to a router's node on the LAN; over PPP the
//! caller has no such next hop to give (the link is point to point), so the bridge picks
//! the router from what it heard. It never answers or originates RIP: the callers hear the
//! routers' broadcasts themselves (through the bridge) and the routers hear theirs.
//!
//! The table is bounded ([`MAX_ROUTES`]), and a route not heard again within
//! [`ROUTE_LIFETIME`] (three of RIP's 60-second broadcast periods) is forgotten.

use std::collections::HashMap;

/// The IPX socket of RIP.
pub const RIP_SOCKET: u16 = 0x0453;
/// RIP's response operation.
pub const RIP_RESPONSE: u16 = 2;
/// The hop count that means "unreachable".
pub const UNREACHABLE_HOPS: u16 = 16;
/// The most routes kept.
pub const MAX_ROUTES: usize = 4096;
/// How long a route lives without being heard again (ns): 180 s.
pub const ROUTE_LIFETIME: u64 = 180_000_000_000;

/// One learned route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Route {
    /// The router's node on the LAN.
    pub router: [u8; 6],
    /// The router's delay to the network, in ticks (1/18 s).
    pub ticks: u16,
    /// The router's hop count to the network.
    pub hops: u16,
    /// When the route expires (host clock, ns).
    pub expires: u64,
}

/// The entries of a RIP response (`data` is the IPX payload): `(network, hops, ticks)`.
/// Anything else (a request, a short packet) yields nothing; a trailing partial entry is
/// ignored.
pub fn rip_response_entries(data: &[u8]) -> impl Iterator<Item = (u32, u16, u16)> + '_ {
    let entries = match data {
        [0, 2, rest @ ..] => rest,
        _ => &[],
    };
    entries.chunks_exact(8).filter_map(|e| match e {
        &[a, b, c, d, h1, h2, t1, t2] => Some((
            u32::from_be_bytes([a, b, c, d]),
            u16::from_be_bytes([h1, h2]),
            u16::from_be_bytes([t1, t2]),
        )),
        _ => None,
    })
}

/// Networks reachable through LAN routers.
#[derive(Debug, Default)]
pub struct Routes {
    table: HashMap<u32, Route>,
}

impl Routes {
    /// Records a route to `network` through `router`, heard at `now`: a new network (while
    /// the table has room), an update from the same router (an unreachable one removes it),
    /// or a faster one (fewer ticks, then fewer hops) from another router.
    pub fn learn(&mut self, now: u64, network: u32, router: [u8; 6], hops: u16, ticks: u16) {
        let route = Route {
            router,
            ticks,
            hops,
            expires: now.saturating_add(ROUTE_LIFETIME),
        };
        let reachable = hops < UNREACHABLE_HOPS;
        match self.table.get_mut(&network) {
            Some(old) if old.router == router => {
                if reachable {
                    *old = route;
                } else {
                    self.table.remove(&network);
                }
            }
            Some(old)
                if reachable && (old.expires <= now || (ticks, hops) < (old.ticks, old.hops)) =>
            {
                *old = route;
            }
            Some(_) => {}
            None if reachable => {
                if self.table.len() >= MAX_ROUTES {
                    self.table.retain(|_, r| r.expires > now);
                }
                if self.table.len() < MAX_ROUTES {
                    self.table.insert(network, route);
                }
            }
            None => {}
        }
    }

    /// The router to `network` at `now`, if a live route is known.
    pub fn router(&self, now: u64, network: u32) -> Option<[u8; 6]> {
        self.table
            .get(&network)
            .filter(|r| r.expires > now)
            .map(|r| r.router)
    }

    /// Number of routes held (expired ones included until replaced or pruned).
    pub fn len(&self) -> usize {
        self.table.len()
    }

    /// Whether no route is held.
    pub fn is_empty(&self) -> bool {
        self.table.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const R1: [u8; 6] = [0, 0, 0x0c, 0, 0, 1];
    const R2: [u8; 6] = [0, 0, 0x0c, 0, 0, 2];

    #[test]
    fn rip_responses_parse_and_requests_do_not() {
        let data = [0, 2, 0, 0, 0, 7, 0, 1, 0, 2, 0, 0, 0, 8, 0, 16, 0, 3, 0xAA];
        let e: Vec<_> = rip_response_entries(&data).collect();
        assert_eq!(e, [(7, 1, 2), (8, 16, 3)]);
        assert_eq!(
            rip_response_entries(&[0, 1, 0, 0, 0, 7, 0, 1, 0, 2]).count(),
            0
        );
        assert_eq!(rip_response_entries(&[0]).count(), 0);
    }

    #[test]
    fn routes_are_learned_updated_preferred_by_ticks_and_expire() {
        let mut r = Routes::default();
        r.learn(0, 7, R1, 2, 3);
        assert_eq!(r.router(0, 7), Some(R1));
        // A slower router does not replace it, a faster one does.
        r.learn(1, 7, R2, 1, 9);
        assert_eq!(r.router(1, 7), Some(R1));
        r.learn(2, 7, R2, 3, 2);
        assert_eq!(r.router(2, 7), Some(R2));
        // Its own router declaring it unreachable removes it.
        r.learn(3, 7, R2, UNREACHABLE_HOPS, 0);
        assert_eq!(r.router(3, 7), None);
        r.learn(4, 8, R1, UNREACHABLE_HOPS, 0);
        assert!(r.is_empty());
        // Routes expire; an expired route is replaced by any router.
        r.learn(0, 9, R1, 1, 1);
        assert_eq!(r.router(ROUTE_LIFETIME - 1, 9), Some(R1));
        assert_eq!(r.router(ROUTE_LIFETIME, 9), None);
        r.learn(ROUTE_LIFETIME, 9, R2, 5, 50);
        assert_eq!(r.router(ROUTE_LIFETIME, 9), Some(R2));
    }

    #[test]
    fn the_table_is_bounded() {
        let mut r = Routes::default();
        for n in 0..(MAX_ROUTES as u32 + 10) {
            r.learn(0, n, R1, 1, 1);
        }
        assert_eq!(r.len(), MAX_ROUTES);
        // Once the old ones expired, new networks find room.
        r.learn(ROUTE_LIFETIME, 1 << 30, R1, 1, 1);
        assert_eq!(r.len(), 1);
    }
}
