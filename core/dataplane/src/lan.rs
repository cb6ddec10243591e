//! Host plumbing that makes client addresses reachable from the LAN.
//!
//! - [`HostSetup`]: IPv4/IPv6 forwarding, proxy ARP and proxy NDP on the LAN interface,
//!   restored when routerd shuts down.
//! - [`SessionRoutes`]: per session, a /32 (IPv4) or /64 (IPv6) route to the TUN device, and
//!   optionally a proxy NDP entry on the LAN.
//!
//! How proxy ARP works here: a client address `A` from the LAN's own subnet has a host route
//! `A/32 dev TUN`. When a LAN host asks "who has A?", the kernel (with
//! `net.ipv4.conf.LAN.proxy_arp = 1`) sees that `A` is routed out of another interface than
//! the one the request came in on and answers with the LAN interface's own MAC address; the
//! packet then arrives at the router, is forwarded to the TUN, and the
//! [`AddressTable`](crate::table::AddressTable) picks the session. IPv6 has no such
//! route-based proxy: each proxied address needs a proxy neighbour entry
//! (`net.ipv6.conf.LAN.proxy_ndp = 1` plus [`SessionRoutes::add_proxy_ndp`]).

use core::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::io;

use crate::netlink::Netlink;
use crate::sysctl::SysctlGuard;
use crate::tun::check_interface_name;

/// What [`HostSetup::apply`] turns on.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HostConfig {
    /// The LAN interface for proxy ARP / proxy NDP, if client addresses come from its subnet.
    pub lan_interface: Option<String>,
    /// `net.ipv4.ip_forward = 1`.
    pub ipv4_forwarding: bool,
    /// `net.ipv6.conf.all.forwarding = 1`. Note that the host then ignores Router
    /// Advertisements on its own interfaces unless `accept_ra = 2` there.
    pub ipv6_forwarding: bool,
    /// `net.ipv4.conf.LAN.proxy_arp = 1`, and `net.ipv4.neigh.LAN.proxy_delay = 0` so the
    /// answer is not held back by the default random delay of up to 0.8 s.
    pub proxy_arp: bool,
    /// `net.ipv6.conf.LAN.proxy_ndp = 1` and `net.ipv6.neigh.LAN.proxy_delay = 0`. The kernel
    /// answers proxied Neighbor Solicitations only with IPv6 forwarding on.
    pub proxy_ndp: bool,
}

/// The kernel settings applied for routerd; dropping it (or [`restore`](Self::restore))
/// puts the previous values back.
#[derive(Debug)]
pub struct HostSetup {
    guard: SysctlGuard,
}

impl HostSetup {
    /// Applies `config` in the current network namespace. On error the settings made so far
    /// are restored.
    pub fn apply(config: &HostConfig) -> io::Result<Self> {
        let mut guard = SysctlGuard::new();
        if config.ipv4_forwarding {
            guard.set(&["net", "ipv4", "ip_forward"], "1")?;
        }
        if config.ipv6_forwarding {
            guard.set(&["net", "ipv6", "conf", "all", "forwarding"], "1")?;
        }
        if config.proxy_arp || config.proxy_ndp {
            let Some(lan) = config.lan_interface.as_deref() else {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "proxy ARP/NDP needs the LAN interface",
                ));
            };
            check_interface_name(lan)?;
            if config.proxy_arp {
                guard.set(&["net", "ipv4", "conf", lan, "proxy_arp"], "1")?;
                guard.set(&["net", "ipv4", "neigh", lan, "proxy_delay"], "0")?;
            }
            if config.proxy_ndp {
                guard.set(&["net", "ipv6", "conf", lan, "proxy_ndp"], "1")?;
                guard.set(&["net", "ipv6", "neigh", lan, "proxy_delay"], "0")?;
            }
        }
        Ok(Self { guard })
    }

    /// The settings changed and the values they had before.
    pub fn changed(&self) -> impl Iterator<Item = (&str, &str)> {
        self.guard.changed()
    }

    /// Puts the previous values back now, reporting the first failure.
    pub fn restore(mut self) -> io::Result<()> {
        self.guard.restore()
    }

    /// Leaves the settings in place when dropped.
    pub fn keep(self) {
        self.guard.keep();
    }
}

/// Adds and removes the kernel routes of sessions: everything for a client goes to the TUN.
#[derive(Debug)]
pub struct SessionRoutes {
    netlink: Netlink,
    tun_index: u32,
    lan_index: Option<u32>,
}

impl SessionRoutes {
    /// Routes through the TUN with index `tun_index`; `lan_index` is the LAN interface for
    /// proxy NDP entries, if any.
    pub fn new(netlink: Netlink, tun_index: u32, lan_index: Option<u32>) -> Self {
        Self {
            netlink,
            tun_index,
            lan_index,
        }
    }

    /// Routes the client address `addr/32` to the TUN (replacing a stale route to it).
    pub fn add_v4(&mut self, addr: Ipv4Addr) -> io::Result<()> {
        self.add_v4_mtu(addr, None)
    }

    /// [`add_v4`](Self::add_v4) with the session `mtu`, for a session whose MTU is below
    /// the TUN's: the kernel then fragments or sends "Fragmentation Needed" for that client
    /// alone (see [`Netlink::add_route`]).
    pub fn add_v4_mtu(&mut self, addr: Ipv4Addr, mtu: Option<u16>) -> io::Result<()> {
        self.netlink
            .add_route(self.tun_index, IpAddr::V4(addr), 32, mtu.map(u32::from))
    }

    /// Removes the route of `addr/32`.
    pub fn remove_v4(&mut self, addr: Ipv4Addr) -> io::Result<()> {
        self.netlink.del_route(self.tun_index, IpAddr::V4(addr), 32)
    }

    /// Routes the session's /64 containing `prefix` to the TUN.
    pub fn add_v6(&mut self, prefix: Ipv6Addr) -> io::Result<()> {
        self.add_v6_mtu(prefix, None)
    }

    /// [`add_v6`](Self::add_v6) with the session `mtu` (at least 1280 for IPv6,
    /// RFC 8200 §5).
    pub fn add_v6_mtu(&mut self, prefix: Ipv6Addr, mtu: Option<u16>) -> io::Result<()> {
        self.netlink.add_route(
            self.tun_index,
            IpAddr::V6(mask64(prefix)),
            64,
            mtu.map(u32::from),
        )
    }

    /// Removes the route of the /64 containing `prefix`.
    pub fn remove_v6(&mut self, prefix: Ipv6Addr) -> io::Result<()> {
        self.netlink
            .del_route(self.tun_index, IpAddr::V6(mask64(prefix)), 64)
    }

    /// Routes one IPv6 address `addr/128` to the TUN: a client address inside the LAN's
    /// on-link /64, made reachable with [`add_proxy_ndp`](Self::add_proxy_ndp).
    pub fn add_host_v6(&mut self, addr: Ipv6Addr, mtu: Option<u16>) -> io::Result<()> {
        self.netlink
            .add_route(self.tun_index, IpAddr::V6(addr), 128, mtu.map(u32::from))
    }

    /// Removes the route of `addr/128`.
    pub fn remove_host_v6(&mut self, addr: Ipv6Addr) -> io::Result<()> {
        self.netlink
            .del_route(self.tun_index, IpAddr::V6(addr), 128)
    }

    /// Answers Neighbor Solicitations for `addr` on the LAN (needs `proxy_ndp`); for a
    /// client address inside the LAN's on-link prefix.
    pub fn add_proxy_ndp(&mut self, addr: Ipv6Addr) -> io::Result<()> {
        let lan = self.lan()?;
        self.netlink.add_proxy_neighbour(lan, IpAddr::V6(addr))
    }

    /// Removes the proxy NDP entry of `addr`.
    pub fn remove_proxy_ndp(&mut self, addr: Ipv6Addr) -> io::Result<()> {
        let lan = self.lan()?;
        self.netlink.del_proxy_neighbour(lan, IpAddr::V6(addr))
    }

    /// The netlink socket, for other requests (addresses on the TUN, link state).
    pub fn netlink(&mut self) -> &mut Netlink {
        &mut self.netlink
    }

    fn lan(&self) -> io::Result<u32> {
        self.lan_index.ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                "proxy NDP needs the LAN interface",
            )
        })
    }
}

fn mask64(addr: Ipv6Addr) -> Ipv6Addr {
    Ipv6Addr::from_bits(addr.to_bits() & !(u128::from(u64::MAX)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proxy_without_lan_interface_is_refused() {
        let cfg = HostConfig {
            proxy_arp: true,
            ..HostConfig::default()
        };
        let e = HostSetup::apply(&cfg).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
        let cfg = HostConfig {
            proxy_ndp: true,
            lan_interface: Some("../../x".into()),
            ..HostConfig::default()
        };
        assert!(HostSetup::apply(&cfg).is_err());
    }

    #[test]
    fn nothing_asked_nothing_changed() {
        let s = HostSetup::apply(&HostConfig::default()).unwrap();
        assert_eq!(s.changed().count(), 0);
        s.restore().unwrap();
    }

    #[test]
    fn mask64_keeps_the_prefix() {
        assert_eq!(
            mask64("2001:db8:1:2:3:4:5:6".parse().unwrap()),
            "2001:db8:1:2::".parse::<Ipv6Addr>().unwrap()
        );
    }
}
