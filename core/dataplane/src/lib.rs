//! The IP data plane: one TUN device for every session, an address -> session table, IPv4
//! pools, TCP MSS clamping, IPv6 /64 per session with Router Advertisements, and the host
//! setup (forwarding, proxy ARP/NDP, routes) that makes client addresses reachable.
//!
//! IP never crosses a plugin (DESIGN §1): the kernel routes every client address to the one
//! TUN device, and [`table::AddressTable`] picks the session for each packet read from it
//! (the WireGuard design). The crate is runtime-agnostic: the TUN is a non-blocking file
//! descriptor with synchronous `recv`/`send`, which routerd wraps in tokio's `AsyncFd`.
//!
//! - [`tun`]: the TUN device and batched non-blocking reads into reusable buffers.
//! - [`table`]: address -> session lookup, anti-spoofing, drops counted by reason.
//! - [`pool`]: IPv4 pools (ranges, static addresses) implementing IPCP's `AddressPool`.
//! - [`mss`]: TCP MSS clamping with an incremental checksum update.
//! - [`ra`]: IPv6 prefixes per session, Router Advertisements and Solicitations.
//! - [`netlink`]: a minimal rtnetlink client for links, addresses, routes, proxy NDP.
//! - [`sysctl`], [`lan`]: forwarding and proxy ARP/NDP, restored on shutdown.
//! - [`ip`]: the header fields and checksums the rest reads.
//!
//! # How routerd drives it
//!
//! At start: [`HostSetup::apply`] (forwarding, proxy ARP/NDP; restored on drop),
//! [`Tun::create`] (or [`Tun::create_multi_queue`]), [`Netlink::set_link_up`] with the TUN
//! MTU and [`Netlink::add_address`] for the router's own addresses, then one
//! [`SessionRoutes`] for the TUN, an [`AddressTable`], a [`SharedIpv4Pool`] (handed to each
//! session's IPCP as its `AddressPool`) and a [`PrefixPool`] for IPv6.
//!
//! Per session, once IPCP/IPV6CP are open: `table.insert_v4(addr, id)` and
//! `routes.add_v4_mtu(addr, Some(session_mtu))`; for IPv6 a /64 from the prefix pool,
//! `table.insert_v6` and `routes.add_v6_mtu`, then an RA built by [`RouterAdvert::for_session`]
//! and sent over the session whenever its [`RaSchedule`] says so (and after each Router
//! Solicitation, recognised by [`ra::parse_router_solicitation`]). At teardown the same in
//! reverse, and the pools get their addresses back.
//!
//! Per packet, TUN -> session: [`Tun::recv_batch`] into a reused [`PacketBatch`],
//! [`AddressTable::route_from_tun`] for the session, [`clamp_mss`] with the session MTU,
//! then the session's PPP engine. Session -> TUN: [`ra::parse_router_solicitation`] first,
//! then [`AddressTable::check_from_session`] (anti-spoofing), [`clamp_mss`], [`Tun::send`].
//! Drops are counted by reason in the table ([`AddressTable::drops`]).
pub mod ip;
pub mod lan;
pub mod mss;
pub mod netlink;
pub mod pool;
pub mod ra;
pub mod sysctl;
pub mod table;
pub mod tun;

pub use ip::IpVersion;
pub use lan::{HostConfig, HostSetup, SessionRoutes};
pub use mss::{MssOutcome, clamp_mss};
pub use netlink::Netlink;
pub use pool::{Ipv4Pool, Ipv4Range, PoolError, SharedIpv4Pool};
pub use ra::{Ipv6Prefix, PrefixPool, RaSchedule, RouterAdvert, RsSchedule};
pub use table::{AddressTable, DropCounts, DropReason};
pub use tun::{PacketBatch, Tun};
