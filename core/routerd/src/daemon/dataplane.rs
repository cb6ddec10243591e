//! The IP data plane wiring: the one TUN device, the address -> session routes, the kernel
//! routes and sysctls, and the task that reads the TUN.
//!
//! Packets from the TUN are looked up by destination (server sessions) or by source (the
//! local IPv4 or IPv6 address of a dial-out session: everything the kernel sends from that
//! address goes over that session), copied into a pooled buffer and queued to the actor that
//! owns the session. Datagrams from a session are checked against its addresses
//! (anti-spoofing), MSS-clamped and written to the TUN directly from the actor.
//!
//! A dial-out session's addresses go on the TUN (`/32`, and the `/128` formed from the
//! server's Router Advertisement), and the link's configured routes (or, for IPv6 without
//! any, a default route) go through the TUN with that address as preferred source, so the
//! kernel's traffic to those networks leaves from it and the source lookup finds the
//! session. Routes that already exist are left alone (never taken over) and only the ones
//! added are removed when the session's protocol goes down.

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};

use dialgate_dataplane::ip::{self, IpVersion};
use dialgate_dataplane::ra::parse_router_solicitation;
use dialgate_dataplane::{
    AddressTable, HostConfig, HostSetup, Netlink, PacketBatch, PrefixPool, SessionRoutes, Tun,
    clamp_mss,
};
use dialgate_plugin_host::abi::LinkId;
use serde::Serialize;
use tokio::io::unix::AsyncFd;
use tokio::sync::mpsc;

use super::actor::ActorMsg;
use super::buffers::BufPool;
use crate::config::{Config, RoutePrefix};

/// Where the packets of a session go: its actor's queue and the plugin's link.
#[derive(Debug, Clone)]
pub struct SessionRoute {
    /// The actor owning the session.
    pub tx: mpsc::Sender<ActorMsg>,
    /// The link (in the actor's plugin instance).
    pub link: LinkId,
}

/// What a dial-out session put on the TUN and in the kernel's routing table.
#[derive(Debug, Default)]
struct ClientEntry {
    /// Our IPv4 address and the server's (routed `/32`).
    v4: Option<(Ipv4Addr, Option<Ipv4Addr>)>,
    /// Our IPv6 address (from the server's RA).
    v6: Option<Ipv6Addr>,
    /// Routes this session added (destination, length), both families.
    routes: Vec<(IpAddr, u8)>,
}

#[derive(Debug, Default)]
struct Routes {
    table: AddressTable<u64>,
    sessions: HashMap<u64, SessionRoute>,
    /// Local IPv4 address of a dial-out session -> the session.
    clients: HashMap<Ipv4Addr, u64>,
    /// Local IPv6 address of a dial-out session -> the session.
    clients_v6: HashMap<Ipv6Addr, u64>,
    /// Dial-out sessions' addresses and routes.
    client_entries: HashMap<u64, ClientEntry>,
}

impl Routes {
    /// The dial-out session a packet from the TUN belongs to, by its source address.
    fn client_by_source(&self, packet: &[u8]) -> Option<u64> {
        match packet.first().map(|b| b >> 4) {
            Some(4) if !self.clients.is_empty() => {
                ip::ipv4_source(packet).and_then(|s| self.clients.get(&s).copied())
            }
            Some(6) if !self.clients_v6.is_empty() => {
                ip::ipv6_source(packet).and_then(|s| self.clients_v6.get(&s).copied())
            }
            _ => None,
        }
    }
}

/// Which end of its session this box is, for [`DataPlane::from_session`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionSide {
    /// We serve the peer: it must send from its own address or /64.
    Server,
    /// We dialled: what the server sends must be for our own addresses.
    Client {
        /// Our IPv4 address, once IPCP is up.
        v4: Option<Ipv4Addr>,
        /// Our IPv6 address, once the server's RA gave us one.
        v6: Option<Ipv6Addr>,
    },
}

/// Data plane counters (all cumulative).
#[derive(Debug, Default)]
pub struct DataPlaneStats {
    /// Packets read from the TUN.
    pub tun_rx_packets: AtomicU64,
    /// Octets read from the TUN.
    pub tun_rx_bytes: AtomicU64,
    /// Packets written to the TUN.
    pub tun_tx_packets: AtomicU64,
    /// Octets written to the TUN.
    pub tun_tx_bytes: AtomicU64,
    /// Dropped: from the TUN for no session.
    pub drop_no_session: AtomicU64,
    /// Dropped: from a session with a source (or, dial-out, a destination) not its own.
    pub drop_spoofed: AtomicU64,
    /// Dropped: not an IPv4/IPv6 packet.
    pub drop_malformed: AtomicU64,
    /// Dropped: the session's actor queue was full, or its link's write queue (the packet
    /// is dropped before encryption then).
    pub drop_queue_full: AtomicU64,
    /// Dropped: the TUN refused the write.
    pub drop_tun_write: AtomicU64,
    /// Dropped: larger than the session's MTU.
    pub drop_too_large: AtomicU64,
    /// TCP SYNs whose MSS option was lowered.
    pub mss_clamped: AtomicU64,
}

/// A snapshot of [`DataPlaneStats`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[allow(missing_docs)]
pub struct DataPlaneCounts {
    pub tun_rx_packets: u64,
    pub tun_rx_bytes: u64,
    pub tun_tx_packets: u64,
    pub tun_tx_bytes: u64,
    pub drop_no_session: u64,
    pub drop_spoofed: u64,
    pub drop_malformed: u64,
    pub drop_queue_full: u64,
    pub drop_tun_write: u64,
    pub drop_too_large: u64,
    pub mss_clamped: u64,
}

impl DataPlaneStats {
    /// A snapshot.
    pub fn snapshot(&self) -> DataPlaneCounts {
        let g = |a: &AtomicU64| a.load(Ordering::Relaxed);
        DataPlaneCounts {
            tun_rx_packets: g(&self.tun_rx_packets),
            tun_rx_bytes: g(&self.tun_rx_bytes),
            tun_tx_packets: g(&self.tun_tx_packets),
            tun_tx_bytes: g(&self.tun_tx_bytes),
            drop_no_session: g(&self.drop_no_session),
            drop_spoofed: g(&self.drop_spoofed),
            drop_malformed: g(&self.drop_malformed),
            drop_queue_full: g(&self.drop_queue_full),
            drop_tun_write: g(&self.drop_tun_write),
            drop_too_large: g(&self.drop_too_large),
            mss_clamped: g(&self.mss_clamped),
        }
    }
}

/// What [`DataPlane::from_session`] did with a datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FromSession {
    /// Written to the TUN.
    Sent,
    /// Dropped (and counted).
    Dropped,
    /// An ICMPv6 Router Solicitation from the session's link-local address: answer it.
    RouterSolicitation,
}

/// The TUN device and everything routed through it.
#[derive(Debug)]
pub struct DataPlane {
    tun: AsyncFd<Tun>,
    ifindex: u32,
    mtu: u32,
    routes: RwLock<Routes>,
    kernel: Mutex<SessionRoutes>,
    host: Mutex<Option<HostSetup>>,
    prefixes: Option<Mutex<PrefixPool>>,
    /// Counters.
    pub stats: DataPlaneStats,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl DataPlane {
    /// Creates the TUN device, brings it up with the configured MTU, and applies the host
    /// settings (forwarding, proxy ARP/NDP) the configuration asks for. Must run inside the
    /// tokio runtime. Needs `CAP_NET_ADMIN`.
    pub fn create(config: &Config) -> io::Result<Self> {
        let tun = Tun::create(&config.tun.name)?;
        let ifindex = tun.ifindex()?;
        let mut netlink = Netlink::open()?;
        netlink.set_link_up(ifindex, Some(config.tun.mtu))?;
        let lan = config.lan.as_ref();
        let lan_index =
            match lan {
                Some(l) => Some(dialgate_dataplane::netlink::ifindex(&l.interface).map_err(
                    |e| io::Error::new(e.kind(), format!("LAN interface {}: {e}", l.interface)),
                )?),
                None => None,
            };
        let ipv6 = lan.and_then(|l| l.ipv6_prefix);
        // Forwarding serves the clients of answering links; a box that only dials out keeps
        // the kernel's setting.
        let serves = config.links.iter().any(|l| {
            l.enabled
                && l.role == crate::config::LinkRole::Answer
                && l.mode == crate::config::LinkMode::Terminate
        });
        let host = HostSetup::apply(&HostConfig {
            lan_interface: lan.map(|l| l.interface.clone()),
            ipv4_forwarding: serves || lan.is_some(),
            ipv6_forwarding: ipv6.is_some(),
            proxy_arp: lan.is_some_and(|l| l.proxy_arp),
            proxy_ndp: false,
        })?;
        let prefixes = match ipv6 {
            Some(p) => {
                let prefix = dialgate_dataplane::Ipv6Prefix::new(p.addr(), p.len())
                    .ok_or_else(|| io::Error::other(format!("bad IPv6 prefix {p}")))?;
                Some(Mutex::new(PrefixPool::new(prefix).map_err(|e| {
                    io::Error::new(io::ErrorKind::InvalidInput, format!("{p}: {e}"))
                })?))
            }
            None => None,
        };
        let name = tun.name().to_owned();
        tracing::info!(
            tun = %name,
            mtu = config.tun.mtu,
            "data plane up{}",
            lan.map(|l| format!(", LAN {} (proxy ARP {})", l.interface, l.proxy_arp))
                .unwrap_or_default()
        );
        Ok(DataPlane {
            // SAFETY: the Tun owns its descriptor (a File) for as long as the AsyncFd holds it
            // and always returns that same descriptor.
            tun: unsafe { AsyncFd::register(tun) }.map_err(io::Error::from)?,
            ifindex,
            mtu: config.tun.mtu,
            routes: RwLock::new(Routes::default()),
            kernel: Mutex::new(SessionRoutes::new(netlink, ifindex, lan_index)),
            host: Mutex::new(Some(host)),
            prefixes,
            stats: DataPlaneStats::default(),
        })
    }

    /// The TUN's interface name.
    pub fn tun_name(&self) -> &str {
        self.tun.get_ref().name()
    }

    /// The TUN's MTU.
    pub fn mtu(&self) -> u32 {
        self.mtu
    }

    /// The route MTU for a session: `mtu` when below the TUN's (the kernel then fragments or
    /// answers "Fragmentation Needed" for that session alone).
    fn route_mtu(&self, mtu: u16) -> Option<u16> {
        (u32::from(mtu) < self.mtu).then_some(mtu)
    }

    /// Routes `addr` (a client's address from a pool) to `session`: table entry and kernel
    /// route `addr/32 dev TUN` with the session's `mtu`.
    pub fn add_server_v4(
        &self,
        session: u64,
        addr: Ipv4Addr,
        route: SessionRoute,
        mtu: u16,
    ) -> Result<(), String> {
        {
            let mut r = self.routes.write().unwrap_or_else(PoisonError::into_inner);
            r.table
                .insert_v4(addr, session)
                .map_err(|e| format!("address {addr}: {e}"))?;
            r.sessions.insert(session, route);
        }
        if let Err(e) = lock(&self.kernel).add_v4_mtu(addr, self.route_mtu(mtu)) {
            self.remove_session(session, Some(addr), None, false);
            return Err(format!("route {addr}/32: {e}"));
        }
        Ok(())
    }

    /// A dial-out session got `local` (and the server is `peer`): the address goes on the
    /// TUN, everything the kernel sends from it goes over `session`, and so do the IPv4
    /// networks of `routes` (from `local`; see the module docs).
    pub fn add_client_v4(
        &self,
        session: u64,
        local: Ipv4Addr,
        peer: Option<Ipv4Addr>,
        route: SessionRoute,
        mtu: u16,
        routes: &[RoutePrefix],
    ) -> Result<(), String> {
        {
            let mut r = self.routes.write().unwrap_or_else(PoisonError::into_inner);
            if r.clients.contains_key(&local) || r.table.lookup_v4(local).is_some() {
                return Err(format!("address {local} is already in use"));
            }
            r.clients.insert(local, session);
            r.sessions.insert(session, route);
            r.client_entries.entry(session).or_default().v4 = Some((local, peer));
        }
        let mut k = lock(&self.kernel);
        let added = k
            .netlink()
            .add_address(self.ifindex, IpAddr::V4(local), 32)
            .and_then(|()| match peer {
                Some(p) => k.add_v4_mtu(p, self.route_mtu(mtu)),
                None => Ok(()),
            });
        drop(k);
        if let Err(e) = added {
            self.remove_client_v4(session);
            return Err(format!("address {local} on the TUN: {e}"));
        }
        let v4: Vec<RoutePrefix> = routes
            .iter()
            .filter(|p| p.addr().is_ipv4())
            .copied()
            .collect();
        self.add_client_routes(session, IpAddr::V4(local), &v4, mtu);
        Ok(())
    }

    /// A dial-out session formed `local` from the server's Router Advertisement: the address
    /// goes on the TUN (`/128`), everything the kernel sends from it goes over `session`, and
    /// so do the IPv6 networks of `routes`, or, when it names none and `default` is set (the
    /// RA made the server a default router), `::/0`.
    pub fn add_client_v6(
        &self,
        session: u64,
        local: Ipv6Addr,
        route: SessionRoute,
        mtu: u16,
        routes: &[RoutePrefix],
        default: bool,
    ) -> Result<(), String> {
        {
            let mut r = self.routes.write().unwrap_or_else(PoisonError::into_inner);
            if r.clients_v6.contains_key(&local) || r.table.lookup_v6(local).is_some() {
                return Err(format!("address {local} is already in use"));
            }
            r.clients_v6.insert(local, session);
            r.sessions.insert(session, route);
            r.client_entries.entry(session).or_default().v6 = Some(local);
        }
        let added = lock(&self.kernel)
            .netlink()
            .add_address(self.ifindex, IpAddr::V6(local), 128);
        if let Err(e) = added {
            self.remove_client_v6(session);
            return Err(format!("address {local} on the TUN: {e}"));
        }
        let mut v6: Vec<RoutePrefix> = routes
            .iter()
            .filter(|p| !p.addr().is_ipv4())
            .copied()
            .collect();
        if v6.is_empty() && default {
            v6.extend(RoutePrefix::new(IpAddr::V6(Ipv6Addr::UNSPECIFIED), 0));
        }
        // IPv6 links carry at least 1280 octets (RFC 8200 §5).
        self.add_client_routes(session, IpAddr::V6(local), &v6, mtu.max(1280));
        Ok(())
    }

    /// Adds `routes` through the TUN from `src` for `session`, recording the ones added; one
    /// that cannot be added (it exists already, say) is logged and skipped.
    fn add_client_routes(&self, session: u64, src: IpAddr, routes: &[RoutePrefix], mtu: u16) {
        let mtu = self.route_mtu(mtu).map(u32::from);
        for r in routes {
            let added = lock(&self.kernel).netlink().add_route_from(
                self.ifindex,
                r.addr(),
                r.len(),
                src,
                mtu,
            );
            match added {
                Ok(()) => {
                    let mut routes = self.routes.write().unwrap_or_else(PoisonError::into_inner);
                    match routes.client_entries.get_mut(&session) {
                        Some(entry) => entry.routes.push((r.addr(), r.len())),
                        None => {
                            // The session went away meanwhile.
                            drop(routes);
                            let _ = lock(&self.kernel).netlink().del_route(
                                self.ifindex,
                                r.addr(),
                                r.len(),
                            );
                            return;
                        }
                    }
                    tracing::info!(route = %r, src = %src, "route through the session added");
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                    tracing::warn!(route = %r, "a route to {r} exists already: left alone");
                }
                Err(e) => tracing::warn!(route = %r, "cannot route {r} through the session: {e}"),
            }
        }
    }

    /// Removes `session`'s routes of one family (`v4`) and returns nothing; the kernel part
    /// of [`remove_client_v4`](Self::remove_client_v4) and
    /// [`remove_client_v6`](Self::remove_client_v6).
    fn remove_client_routes(&self, routes: Vec<(IpAddr, u8)>) {
        let mut k = lock(&self.kernel);
        for (dst, len) in routes {
            let _ = k.netlink().del_route(self.ifindex, dst, len);
        }
    }

    /// Takes `session`'s entry apart for one family: its address and its routes of that
    /// family; forgets the session once it has no address left.
    fn take_client(
        &self,
        session: u64,
        v4: bool,
    ) -> (Option<IpAddr>, Vec<(IpAddr, u8)>, Option<Ipv4Addr>) {
        let mut r = self.routes.write().unwrap_or_else(PoisonError::into_inner);
        let Routes {
            clients,
            clients_v6,
            client_entries,
            sessions,
            ..
        } = &mut *r;
        let Some(entry) = client_entries.get_mut(&session) else {
            return (None, Vec::new(), None);
        };
        let (family, rest): (Vec<_>, Vec<_>) = entry
            .routes
            .drain(..)
            .partition(|(dst, _)| dst.is_ipv4() == v4);
        entry.routes = rest;
        let (addr, peer) = if v4 {
            match entry.v4.take() {
                Some((local, peer)) => {
                    if clients.get(&local) == Some(&session) {
                        clients.remove(&local);
                    }
                    (Some(IpAddr::V4(local)), peer)
                }
                None => (None, None),
            }
        } else {
            match entry.v6.take() {
                Some(local) => {
                    if clients_v6.get(&local) == Some(&session) {
                        clients_v6.remove(&local);
                    }
                    (Some(IpAddr::V6(local)), None)
                }
                None => (None, None),
            }
        };
        if entry.v4.is_none() && entry.v6.is_none() {
            client_entries.remove(&session);
            sessions.remove(&session);
        }
        (addr, family, peer)
    }

    /// Undoes [`add_client_v4`](Self::add_client_v4): routes, the server's `/32`, our
    /// address.
    pub fn remove_client_v4(&self, session: u64) {
        let (addr, routes, peer) = self.take_client(session, true);
        self.remove_client_routes(routes);
        let mut k = lock(&self.kernel);
        if let Some(p) = peer {
            let _ = k.remove_v4(p);
        }
        if let Some(a) = addr {
            let _ = k.netlink().del_address(self.ifindex, a, 32);
        }
    }

    /// Undoes [`add_client_v6`](Self::add_client_v6): routes, then our address.
    pub fn remove_client_v6(&self, session: u64) {
        let (addr, routes, _) = self.take_client(session, false);
        self.remove_client_routes(routes);
        if let Some(a) = addr {
            let _ = lock(&self.kernel)
                .netlink()
                .del_address(self.ifindex, a, 128);
        }
    }

    /// Gives a session a /64 from the IPv6 prefix and routes it: `None` without a prefix or
    /// when every /64 is taken.
    pub fn add_v6(&self, session: u64, route: SessionRoute, mtu: u16) -> Option<Ipv6Addr> {
        let subnet = lock(self.prefixes.as_ref()?).allocate()?;
        {
            let mut r = self.routes.write().unwrap_or_else(PoisonError::into_inner);
            if r.table.insert_v6(subnet, session).is_err() {
                drop(r);
                self.release_prefix(subnet);
                return None;
            }
            r.sessions.insert(session, route);
        }
        // IPv6 links carry at least 1280 octets (RFC 8200 §5).
        let mtu = self.route_mtu(mtu.max(1280));
        if let Err(e) = lock(&self.kernel).add_v6_mtu(subnet, mtu) {
            tracing::warn!("route {subnet}/64: {e}");
            self.remove_session(session, None, Some(subnet), false);
            return None;
        }
        Some(subnet)
    }

    fn release_prefix(&self, subnet: Ipv6Addr) {
        if let Some(p) = &self.prefixes {
            lock(p).release(subnet);
        }
    }

    /// Removes everything routed to `session`: its IPv4 address, its /64 (server sessions),
    /// and with `client` a dial-out session's addresses and routes.
    pub fn remove_session(
        &self,
        session: u64,
        v4: Option<Ipv4Addr>,
        v6: Option<Ipv6Addr>,
        client: bool,
    ) {
        if client {
            self.remove_client_v4(session);
            self.remove_client_v6(session);
        }
        {
            let mut r = self.routes.write().unwrap_or_else(PoisonError::into_inner);
            if let Some(a) = v4 {
                r.table.remove_v4(a, session);
            }
            if let Some(p) = v6 {
                r.table.remove_v6(p, session);
            }
            r.sessions.remove(&session);
        }
        let mut k = lock(&self.kernel);
        if let Some(a) = v4 {
            let _ = k.remove_v4(a);
        }
        if let Some(p) = v6 {
            let _ = k.remove_v6(p);
            drop(k);
            self.release_prefix(p);
        }
    }

    /// A datagram a session delivered: anti-spoofing (a server session must send from its own
    /// address or /64; a dial-out session's traffic must be for one of its own addresses),
    /// MSS clamping to the session's `mtu`, then the TUN.
    pub fn from_session(
        &self,
        session: u64,
        side: SessionSide,
        packet: &mut [u8],
        mtu: u16,
    ) -> FromSession {
        let version = match side {
            SessionSide::Client { v4, v6 } => match ip::version(packet) {
                Ok(IpVersion::V4) if v4.is_some() && ip::ipv4_destination(packet) == v4 => {
                    IpVersion::V4
                }
                Ok(IpVersion::V6) if v6.is_some() && ip::ipv6_destination(packet) == v6 => {
                    IpVersion::V6
                }
                Ok(IpVersion::V6) => {
                    // Not for our address (none yet, or multicast): nothing here is
                    // addressed by it.
                    self.stats.drop_no_session.fetch_add(1, Ordering::Relaxed);
                    return FromSession::Dropped;
                }
                Ok(_) => {
                    self.stats.drop_spoofed.fetch_add(1, Ordering::Relaxed);
                    return FromSession::Dropped;
                }
                Err(_) => {
                    self.stats.drop_malformed.fetch_add(1, Ordering::Relaxed);
                    return FromSession::Dropped;
                }
            },
            SessionSide::Server => {
                if parse_router_solicitation(packet).is_some() {
                    return FromSession::RouterSolicitation;
                }
                let r = self.routes.read().unwrap_or_else(PoisonError::into_inner);
                match r.table.check_from_session(session, packet) {
                    Ok(v) => v,
                    Err(_) => {
                        self.stats.drop_spoofed.fetch_add(1, Ordering::Relaxed);
                        return FromSession::Dropped;
                    }
                }
            }
        };
        let _ = version;
        if matches!(
            clamp_mss(packet, mtu),
            dialgate_dataplane::MssOutcome::Clamped { .. }
        ) {
            self.stats.mss_clamped.fetch_add(1, Ordering::Relaxed);
        }
        match self.tun.get_ref().send(packet) {
            Ok(()) => {
                self.stats.tun_tx_packets.fetch_add(1, Ordering::Relaxed);
                self.stats
                    .tun_tx_bytes
                    .fetch_add(packet.len() as u64, Ordering::Relaxed);
                FromSession::Sent
            }
            Err(_) => {
                self.stats.drop_tun_write.fetch_add(1, Ordering::Relaxed);
                FromSession::Dropped
            }
        }
    }

    /// Reads the TUN until the runtime ends, queueing each packet to its session's actor.
    pub async fn run_reader(self: Arc<Self>, pool: BufPool) {
        let slot = usize::try_from(self.mtu).unwrap_or(1500).max(1500);
        let mut batch = PacketBatch::new(64, slot);
        loop {
            let mut guard = match self.tun.readable().await {
                Ok(g) => g,
                Err(e) => {
                    tracing::error!("TUN: {e}; the data plane stops");
                    return;
                }
            };
            match guard.try_io(|tun| tun.get_ref().recv_batch(&mut batch)) {
                Ok(Ok(_)) => self.dispatch(&batch, &pool),
                Ok(Err(e)) => {
                    tracing::warn!("TUN read: {e}");
                    tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                }
                Err(_would_block) => {}
            }
        }
    }

    fn dispatch(&self, batch: &PacketBatch, pool: &BufPool) {
        let r = self.routes.read().unwrap_or_else(PoisonError::into_inner);
        for packet in batch.iter() {
            self.stats.tun_rx_packets.fetch_add(1, Ordering::Relaxed);
            self.stats
                .tun_rx_bytes
                .fetch_add(packet.len() as u64, Ordering::Relaxed);
            let session = match r.client_by_source(packet) {
                Some(s) => s,
                None => match r.table.route_from_tun(packet) {
                    Ok(s) => s,
                    Err(_) => {
                        self.stats.drop_no_session.fetch_add(1, Ordering::Relaxed);
                        continue;
                    }
                },
            };
            let Some(route) = r.sessions.get(&session) else {
                self.stats.drop_no_session.fetch_add(1, Ordering::Relaxed);
                continue;
            };
            let msg = ActorMsg::Packet {
                link: route.link,
                buf: pool.copy_of(packet),
            };
            if let Err(e) = route.tx.try_send(msg) {
                self.stats.drop_queue_full.fetch_add(1, Ordering::Relaxed);
                if let mpsc::error::TrySendError::Full(ActorMsg::Packet { buf, .. })
                | mpsc::error::TrySendError::Closed(ActorMsg::Packet { buf, .. }) = e
                {
                    pool.put(buf);
                }
            }
        }
    }

    /// Puts the kernel settings back (routerd is stopping).
    pub fn shutdown(&self) {
        if let Some(h) = lock(&self.host).take()
            && let Err(e) = h.restore()
        {
            tracing::warn!("restoring sysctls: {e}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v4_packet(src: Ipv4Addr) -> Vec<u8> {
        let mut p = vec![0u8; 20];
        p[0] = 0x45;
        p[12..16].copy_from_slice(&src.octets());
        p
    }

    fn v6_packet(src: Ipv6Addr) -> Vec<u8> {
        let mut p = vec![0u8; 40];
        p[0] = 0x60;
        p[8..24].copy_from_slice(&src.octets());
        p
    }

    #[test]
    fn dial_out_sessions_are_found_by_source_address_of_either_family() {
        let local4 = Ipv4Addr::new(10, 77, 0, 12);
        let local6: Ipv6Addr = "2001:db8:77::1234".parse().unwrap();
        let mut r = Routes::default();
        assert_eq!(r.client_by_source(&v4_packet(local4)), None);
        r.clients.insert(local4, 7);
        r.clients_v6.insert(local6, 9);
        // RFC 791 §3.1 / RFC 8200 §3: the source field of each version.
        assert_eq!(r.client_by_source(&v4_packet(local4)), Some(7));
        assert_eq!(r.client_by_source(&v6_packet(local6)), Some(9));
        assert_eq!(
            r.client_by_source(&v4_packet(Ipv4Addr::new(10, 77, 0, 13))),
            None
        );
        // An IPv6 packet whose octets 12..16 spell a client's IPv4 address is not that
        // client's (the version decides which field is the source).
        let mut lookalike: [u8; 16] = "2001:db8::".parse::<Ipv6Addr>().unwrap().octets();
        lookalike[4..8].copy_from_slice(&local4.octets());
        assert_eq!(
            r.client_by_source(&v6_packet(Ipv6Addr::from(lookalike))),
            None
        );
        // Truncated and empty packets are nobody's.
        assert_eq!(r.client_by_source(&v4_packet(local4)[..15]), None);
        assert_eq!(r.client_by_source(&[]), None);
    }
}
