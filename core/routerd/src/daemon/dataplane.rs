//! The IP data plane wiring: the one TUN device, the address -> session routes, the kernel
//! routes and sysctls, and the task that reads the TUN.
//!
//! Packets from the TUN are looked up by destination (server sessions) or by source (the
//! local address of a dial-out session: everything the kernel sends from that address goes
//! over that session), copied into a pooled buffer and queued to the actor that owns the
//! session. Datagrams from a session are checked against its addresses (anti-spoofing),
//! MSS-clamped and written to the TUN directly from the actor.

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
use crate::config::Config;

/// Where the packets of a session go: its actor's queue and the plugin's link.
#[derive(Debug, Clone)]
pub struct SessionRoute {
    /// The actor owning the session.
    pub tx: mpsc::Sender<ActorMsg>,
    /// The link (in the actor's plugin instance).
    pub link: LinkId,
}

#[derive(Debug, Default)]
struct Routes {
    table: AddressTable<u64>,
    sessions: HashMap<u64, SessionRoute>,
    /// Local IPv4 address of a dial-out session -> the session.
    clients: HashMap<Ipv4Addr, u64>,
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
    /// Dropped: the session's actor queue was full.
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
            self.remove_session(session, Some(addr), None, None);
            return Err(format!("route {addr}/32: {e}"));
        }
        Ok(())
    }

    /// A dial-out session got `local` (and the server is `peer`): the address goes on the
    /// TUN and everything the kernel sends from it goes over `session`.
    pub fn add_client_v4(
        &self,
        session: u64,
        local: Ipv4Addr,
        peer: Option<Ipv4Addr>,
        route: SessionRoute,
        mtu: u16,
    ) -> Result<(), String> {
        {
            let mut r = self.routes.write().unwrap_or_else(PoisonError::into_inner);
            if r.clients.contains_key(&local) || r.table.lookup_v4(local).is_some() {
                return Err(format!("address {local} is already in use"));
            }
            r.clients.insert(local, session);
            r.sessions.insert(session, route);
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
            self.remove_client(session, local, peer);
            return Err(format!("address {local} on the TUN: {e}"));
        }
        Ok(())
    }

    /// Undoes [`add_client_v4`](Self::add_client_v4).
    pub fn remove_client(&self, session: u64, local: Ipv4Addr, peer: Option<Ipv4Addr>) {
        {
            let mut r = self.routes.write().unwrap_or_else(PoisonError::into_inner);
            if r.clients.get(&local) == Some(&session) {
                r.clients.remove(&local);
            }
            r.sessions.remove(&session);
        }
        let mut k = lock(&self.kernel);
        if let Some(p) = peer {
            let _ = k.remove_v4(p);
        }
        let _ = k.netlink().del_address(self.ifindex, IpAddr::V4(local), 32);
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
            self.remove_session(session, None, Some(subnet), None);
            return None;
        }
        Some(subnet)
    }

    fn release_prefix(&self, subnet: Ipv6Addr) {
        if let Some(p) = &self.prefixes {
            lock(p).release(subnet);
        }
    }

    /// Removes everything routed to `session`: its IPv4 address, its /64, its client address.
    pub fn remove_session(
        &self,
        session: u64,
        v4: Option<Ipv4Addr>,
        v6: Option<Ipv6Addr>,
        client: Option<(Ipv4Addr, Option<Ipv4Addr>)>,
    ) {
        if let Some((local, peer)) = client {
            self.remove_client(session, local, peer);
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
    /// address or /64; a dial-out session's traffic must be for its local address), MSS
    /// clamping to the session's `mtu`, then the TUN.
    pub fn from_session(
        &self,
        session: u64,
        client_local: Option<Ipv4Addr>,
        packet: &mut [u8],
        mtu: u16,
    ) -> FromSession {
        let version = match client_local {
            Some(local) => match ip::version(packet) {
                Ok(IpVersion::V4) if ip::ipv4_destination(packet) == Some(local) => IpVersion::V4,
                Ok(IpVersion::V6) => {
                    // A dial-out session routes IPv4 only (a server's Router Advertisement
                    // arrives here): nothing on this side is addressed by it.
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
            None => {
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
            let by_source = if r.clients.is_empty() {
                None
            } else {
                ip::ipv4_source(packet).and_then(|s| r.clients.get(&s).copied())
            };
            let session = match by_source {
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
