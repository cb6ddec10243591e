//! The bridging table and data path, sans-IO: IPX datagrams from sessions and Ethernet frames
//! from the LAN go in, frames for the LAN and datagrams for sessions come out through a
//! [`Sink`], and every drop is counted ([`Counters`]).
//!
//! # Addresses
//!
//! Every caller joins the LAN's IPX network (IPXCP gives it the network number, RFC 1552
//! §3.1). On the LAN each session has its own node number, [`Bridge::session_up`] derives it:
//! the configured two-octet prefix (locally administered, so it never collides with a
//! burned-in address) and four octets from the session id, unique among the sessions.
//!
//! The core negotiates one IPXCP option policy for every session, so a caller keeps the
//! node number it negotiated on its link (its own, or the one the policy gave it). The
//! bridge maps between the two: a caller's source node becomes its LAN node on the way out,
//! and a LAN packet to that LAN node gets the caller's link node as destination on the way
//! in (the IPX checksum, when a packet has one, is recomputed). A caller that negotiated no
//! node is held to the source node of its first datagram.
//!
//! # Hop count
//!
//! Transport Control is left alone. The caller and the LAN are one IPX network (the same
//! network number on both sides): a packet crossing the bridge goes from a node of a
//! network to a node of the same network, which is not a routing hop. Only routers count
//! hops (the IPX router specification: a router increments Transport Control when it
//! forwards a packet to another network and discards it at 16). RFC 1552 §2 carries the IPX
//! packet unchanged in the PPP Information field; a router at the end of the link would
//! increment, this bridge is not one.
//!
//! # What goes where
//!
//! - From a session: the source must be the LAN's network (or 0) and the caller's node,
//!   else the datagram is dropped and counted. To a broadcast node: out on the LAN and to
//!   every other session. To another caller's LAN node: to that session. Otherwise out on
//!   the LAN to the destination node's MAC address. Destinations on other networks need a
//!   router's address, which a bridge without RIP does not know: dropped and counted.
//! - From the LAN: to a caller's LAN node: to that session. To the broadcast node: to every
//!   session, at most `broadcasts_per_sec` a second. Anything else is not the bridge's.

use std::collections::HashMap;

use dialgate_wire::ipx::{self, Packet};

use crate::config::Config;
use crate::frame::{self, FrameError, FrameType};
use crate::routes::{self, Routes};

/// Where the bridge's output goes: the plugin sends it through the host.
pub trait Sink {
    /// Send one Ethernet frame on the LAN port; `false` when it could not be queued.
    fn to_lan(&mut self, frame: &[u8]) -> bool;
    /// Send one IPX datagram on `session`; `false` when it could not be queued.
    fn to_session(&mut self, session: u64, datagram: &[u8]) -> bool;
}

macro_rules! counters {
    ($($(#[$doc:meta])* $name:ident,)*) => {
        /// What the bridge did and dropped, by reason. Counters only grow.
        #[derive(Debug, Clone, Default, PartialEq, Eq)]
        pub struct Counters {
            $($(#[$doc])* pub $name: u64,)*
        }

        impl Counters {
            /// Every counter with its name (as published to the host).
            pub fn iter(&self) -> impl Iterator<Item = (&'static str, u64)> + '_ {
                [$((stringify!($name), self.$name),)*].into_iter()
            }
        }
    };
}

counters! {
    /// IPX datagrams received from sessions.
    session_rx,
    /// Frames sent on the LAN.
    lan_tx,
    /// IPX frames from the LAN for a caller (unicast or broadcast).
    lan_rx,
    /// Datagrams delivered to sessions.
    session_tx,
    /// Dropped: a datagram from a session that is not an IPX packet.
    drop_session_malformed,
    /// Dropped: a datagram from a session not bridged (refused or already down).
    drop_session_unknown,
    /// Dropped: a datagram whose source network or node is not the caller's.
    drop_wrong_source,
    /// Dropped: a datagram to another network no LAN router announced.
    drop_remote_network,
    /// Datagrams to other networks sent to the LAN router announcing them.
    routed_via_lan_router,
    /// Route entries heard in LAN routers' RIP responses.
    rip_entries_heard,
    /// Dropped: a checksummed datagram, which raw 802.3 framing cannot carry.
    drop_checksummed_raw,
    /// Dropped: a datagram too long for the LAN's frame.
    drop_too_long,
    /// Dropped: a datagram whose IPX checksum is wrong (the bridge would otherwise hide the
    /// damage when it recomputes the checksum after rewriting a node).
    drop_bad_checksum,
    /// Ignored: a LAN frame that is not IPX in the configured frame type.
    lan_not_ipx,
    /// Dropped: a LAN frame with a truncated frame or IPX header.
    lan_malformed,
    /// Dropped: a LAN packet from a node that is a caller's (a loop or a spoof).
    lan_spoofed,
    /// Dropped: a LAN packet for a caller whose IPX checksum is wrong.
    lan_bad_checksum,
    /// Ignored: a LAN packet for a node that is no caller's, or another network.
    lan_not_for_callers,
    /// LAN broadcasts passed to the sessions.
    broadcast_in,
    /// Copies of LAN broadcasts sent to sessions.
    broadcast_copies,
    /// Dropped: LAN broadcasts over `broadcasts_per_sec`.
    broadcast_rate_limited,
    /// Dropped: the host's queue for the LAN port was full.
    lan_busy,
    /// Dropped: the host's queue for a session was full, or it ended.
    session_busy,
    /// Sessions bridged.
    sessions_up,
    /// Sessions refused: IPXCP agreed on another network number.
    refused_network,
    /// Sessions refused: `max_sessions` are bridged already.
    refused_full,
    /// Sessions refused: the user is not allowed.
    refused_user,
}

/// Why a session is not bridged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// IPXCP agreed on `network` (the peer asked for a higher one, RFC 1552 §3.1), not the
    /// LAN's.
    WrongNetwork(u32),
    /// `max_sessions` sessions are bridged already.
    Full,
    /// The user may not bridge (`allow_users`, `allow_unauthenticated`).
    NotAllowed,
}

impl core::fmt::Display for Refusal {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Refusal::WrongNetwork(n) => write!(
                f,
                "IPXCP agreed on network {n:08x}, not the LAN's (the caller asked for a higher one)"
            ),
            Refusal::Full => f.write_str("max_sessions sessions are bridged already"),
            Refusal::NotAllowed => f.write_str("the user may not bridge"),
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    /// The caller's node on the LAN.
    lan_node: [u8; 6],
    /// The caller's node on its link (IPXCP), once known.
    link_node: Option<[u8; 6]>,
}

/// The bridge between sessions and one LAN port (see the [module docs](self)).
#[derive(Debug)]
pub struct Bridge {
    network: u32,
    frame_type: FrameType,
    node_prefix: [u8; 2],
    max_sessions: usize,
    broadcasts_per_sec: u32,
    sessions: HashMap<u64, Entry>,
    by_node: HashMap<[u8; 6], u64>,
    /// Start of the current one-second broadcast window (host clock, ns) and its count.
    window: (u64, u32),
    /// Reused: the rewritten IPX packet.
    packet: Vec<u8>,
    /// Reused: the Ethernet frame.
    frame: Vec<u8>,
    /// Reused: the sessions a broadcast goes to.
    targets: Vec<u64>,
    /// Networks behind LAN routers, from their RIP responses.
    routes: Routes,
    /// What happened so far.
    pub counters: Counters,
}

const SECOND: u64 = 1_000_000_000;

impl Bridge {
    /// A bridge with no sessions.
    pub fn new(config: &Config) -> Bridge {
        let max_sessions = usize::try_from(config.max_sessions).unwrap_or(1);
        Bridge {
            network: config.network,
            frame_type: config.frame_type,
            node_prefix: config.node_prefix,
            max_sessions,
            broadcasts_per_sec: config.broadcasts_per_sec,
            sessions: HashMap::with_capacity(max_sessions.min(256)),
            by_node: HashMap::with_capacity(max_sessions.min(256)),
            window: (0, 0),
            packet: Vec::with_capacity(2048),
            frame: Vec::with_capacity(2048),
            targets: Vec::with_capacity(max_sessions.min(256)),
            routes: Routes::default(),
            counters: Counters::default(),
        }
    }

    fn node(&self, low: u32) -> [u8; 6] {
        let [a, b] = self.node_prefix;
        let [c, d, e, f] = low.to_be_bytes();
        [a, b, c, d, e, f]
    }

    /// The node number of the bridge's own end of every link (IPXCP §3.2): the prefix
    /// followed by zeros, never a caller's.
    pub fn local_node(&self) -> [u8; 6] {
        self.node(0)
    }

    /// The node number IPXCP gives a caller that asks for one (§3.2). Every such caller
    /// gets the same link node; the bridge gives each its own LAN node.
    pub fn assigned_link_node(&self) -> [u8; 6] {
        self.node(u32::MAX)
    }

    /// Number of sessions bridged.
    pub fn len(&self) -> usize {
        self.sessions.len()
    }

    /// Whether no session is bridged.
    pub fn is_empty(&self) -> bool {
        self.sessions.is_empty()
    }

    /// The LAN node of `session`, if it is bridged.
    pub fn lan_node(&self, session: u64) -> Option<[u8; 6]> {
        self.sessions.get(&session).map(|e| e.lan_node)
    }

    /// Starts bridging `session`, whose IPXCP agreed on `network` and the caller's
    /// `link_node` (if it sent one), for `user`'s session if `allowed`. Returns the
    /// caller's LAN node. A session already bridged keeps its node.
    pub fn session_up(
        &mut self,
        session: u64,
        network: u32,
        link_node: Option<[u8; 6]>,
        allowed: bool,
    ) -> Result<[u8; 6], Refusal> {
        if let Some(e) = self.sessions.get_mut(&session) {
            e.link_node = link_node.or(e.link_node);
            return Ok(e.lan_node);
        }
        if !allowed {
            self.counters.refused_user += 1;
            return Err(Refusal::NotAllowed);
        }
        if network != self.network {
            self.counters.refused_network += 1;
            return Err(Refusal::WrongNetwork(network));
        }
        if self.sessions.len() >= self.max_sessions {
            self.counters.refused_full += 1;
            return Err(Refusal::Full);
        }
        // The session id's low 32 bits, skipping the bridge's own node, the assigned link
        // node and nodes in use: fewer than max_sessions + 2 tries.
        let mut low = session as u32;
        let lan_node = loop {
            let node = self.node(low);
            if low != 0 && low != u32::MAX && !self.by_node.contains_key(&node) {
                break node;
            }
            low = low.wrapping_add(1);
        };
        let link_node = link_node.filter(|n| *n != ipx::BROADCAST_NODE && *n != [0; 6]);
        self.sessions.insert(
            session,
            Entry {
                lan_node,
                link_node,
            },
        );
        self.by_node.insert(lan_node, session);
        self.counters.sessions_up += 1;
        Ok(lan_node)
    }

    /// Stops bridging `session`; `false` if it was not bridged.
    pub fn session_down(&mut self, session: u64) -> bool {
        match self.sessions.remove(&session) {
            Some(e) => {
                self.by_node.remove(&e.lan_node);
                true
            }
            None => false,
        }
    }

    /// Sends `self.packet` on the LAN to `dst`.
    fn send_lan(&mut self, dst: [u8; 6], src: [u8; 6], sink: &mut impl Sink) {
        match frame::encode(self.frame_type, dst, src, &self.packet, &mut self.frame) {
            Ok(()) if sink.to_lan(&self.frame) => self.counters.lan_tx += 1,
            Ok(()) => self.counters.lan_busy += 1,
            Err(FrameError::TooLong | FrameError::NotIpx | FrameError::Truncated) => {
                self.counters.drop_too_long += 1;
            }
        }
    }

    fn deliver(&mut self, session: u64, sink: &mut impl Sink) {
        if sink.to_session(session, &self.packet) {
            self.counters.session_tx += 1;
        } else {
            self.counters.session_busy += 1;
        }
    }

    /// Rewrites the destination node of `self.packet` to `node`, fixing the checksum.
    fn rewrite_dst(&mut self, node: Option<[u8; 6]>) {
        if let Some(node) = node {
            let mut p = Packet::new_unchecked(&mut self.packet[..]);
            p.set_dst_node(node);
            p.update_checksum();
        }
    }

    /// The LAN router to `network` at `now_nanos`, if one announced it.
    pub fn router_to(&self, now_nanos: u64, network: u32) -> Option<[u8; 6]> {
        self.routes.router(now_nanos, network)
    }

    /// One IPX datagram (a PPP Information field) from `session`, at `now_nanos` on the
    /// host's clock.
    pub fn from_session(
        &mut self,
        now_nanos: u64,
        session: u64,
        datagram: &[u8],
        sink: &mut impl Sink,
    ) {
        self.counters.session_rx += 1;
        let Some(entry) = self.sessions.get_mut(&session) else {
            self.counters.drop_session_unknown += 1;
            return;
        };
        let Ok(packet) = Packet::new_checked(datagram) else {
            self.counters.drop_session_malformed += 1;
            return;
        };
        let (src, dst) = (packet.src(), packet.dst());
        let node_ok = match entry.link_node {
            Some(node) => node == src.node,
            None => src.node != ipx::BROADCAST_NODE && src.node != [0; 6],
        };
        if (src.network != self.network && src.network != 0) || !node_ok {
            self.counters.drop_wrong_source += 1;
            return;
        }
        entry.link_node = Some(src.node);
        let lan_node = entry.lan_node;
        let router = if dst.network != self.network && dst.network != 0 {
            match self.routes.router(now_nanos, dst.network) {
                Some(router) => Some(router),
                None => {
                    self.counters.drop_remote_network += 1;
                    return;
                }
            }
        } else {
            None
        };
        if self.frame_type == FrameType::Raw8023 && packet.has_checksum() {
            self.counters.drop_checksummed_raw += 1;
            return;
        }
        if !packet.verify_checksum() {
            self.counters.drop_bad_checksum += 1;
            return;
        }
        self.packet.clear();
        self.packet.extend_from_slice(packet.as_bytes());
        {
            let mut p = Packet::new_unchecked(&mut self.packet[..]);
            p.set_src_node(lan_node);
            p.update_checksum();
        }
        if let Some(router) = router {
            self.counters.routed_via_lan_router += 1;
            self.send_lan(router, lan_node, sink);
        } else if dst.is_broadcast() {
            self.send_lan(ipx::BROADCAST_NODE, lan_node, sink);
            self.targets.clear();
            self.targets
                .extend(self.sessions.keys().copied().filter(|s| *s != session));
            for i in 0..self.targets.len() {
                if let Some(&other) = self.targets.get(i) {
                    self.deliver(other, sink);
                }
            }
        } else if let Some(&other) = self.by_node.get(&dst.node) {
            // Caller to caller: never on the LAN.
            let link_node = self.sessions.get(&other).and_then(|e| e.link_node);
            self.rewrite_dst(link_node);
            self.deliver(other, sink);
        } else {
            self.send_lan(dst.node, lan_node, sink);
        }
    }

    /// One Ethernet frame from the LAN port, at `now_nanos` on the host's clock.
    pub fn from_lan(&mut self, now_nanos: u64, eth: &[u8], sink: &mut impl Sink) {
        let decoded = match frame::decode(self.frame_type, eth) {
            Ok(d) => d,
            Err(FrameError::NotIpx) => {
                self.counters.lan_not_ipx += 1;
                return;
            }
            Err(_) => {
                self.counters.lan_malformed += 1;
                return;
            }
        };
        let Ok(packet) = Packet::new_checked(decoded.ipx) else {
            self.counters.lan_malformed += 1;
            return;
        };
        let (src, dst) = (packet.src(), packet.dst());
        if src.socket == routes::RIP_SOCKET
            && dst.socket == routes::RIP_SOCKET
            && !self.by_node.contains_key(&decoded.src)
            && packet.verify_checksum()
        {
            for (network, hops, ticks) in routes::rip_response_entries(packet.payload()) {
                self.counters.rip_entries_heard += 1;
                if network != self.network && network != 0 {
                    self.routes
                        .learn(now_nanos, network, decoded.src, hops, ticks);
                }
            }
        }
        if dst.network != self.network && dst.network != 0 {
            self.counters.lan_not_for_callers += 1;
            return;
        }
        let target = if dst.is_broadcast() {
            None
        } else if let Some(&s) = self.by_node.get(&dst.node) {
            Some(s)
        } else {
            self.counters.lan_not_for_callers += 1;
            return;
        };
        if self.by_node.contains_key(&src.node) || self.by_node.contains_key(&decoded.src) {
            self.counters.lan_spoofed += 1;
            return;
        }
        if !packet.verify_checksum() {
            self.counters.lan_bad_checksum += 1;
            return;
        }
        self.packet.clear();
        self.packet.extend_from_slice(packet.as_bytes());
        self.counters.lan_rx += 1;
        match target {
            Some(session) => {
                let link_node = self.sessions.get(&session).and_then(|e| e.link_node);
                self.rewrite_dst(link_node);
                self.deliver(session, sink);
            }
            None => {
                if now_nanos.saturating_sub(self.window.0) >= SECOND {
                    self.window = (now_nanos, 0);
                }
                if self.window.1 >= self.broadcasts_per_sec {
                    self.counters.broadcast_rate_limited += 1;
                    return;
                }
                self.window.1 += 1;
                self.counters.broadcast_in += 1;
                self.targets.clear();
                self.targets.extend(self.sessions.keys().copied());
                for i in 0..self.targets.len() {
                    if let Some(&s) = self.targets.get(i) {
                        self.counters.broadcast_copies += 1;
                        self.deliver(s, sink);
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dialgate_wire::ipx::{Address, PacketType, Repr};

    const NET: u32 = 0x0000_C0DE;
    const HOST: [u8; 6] = [0x00, 0x1b, 0x21, 0x0a, 0x0b, 0x0c];

    #[derive(Default)]
    struct Recorder {
        lan: Vec<Vec<u8>>,
        sessions: Vec<(u64, Vec<u8>)>,
        busy: bool,
    }

    impl Sink for Recorder {
        fn to_lan(&mut self, frame: &[u8]) -> bool {
            self.lan.push(frame.to_vec());
            !self.busy
        }
        fn to_session(&mut self, session: u64, datagram: &[u8]) -> bool {
            self.sessions.push((session, datagram.to_vec()));
            !self.busy
        }
    }

    fn config(extra: &str) -> Config {
        Config::parse(&format!("interface = \"eth1\"\nnetwork = {NET}\n{extra}"))
            .expect("valid config")
    }

    fn datagram(src: Address, dst: Address, checksummed: bool, payload: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        Repr {
            checksummed,
            transport_control: 2,
            packet_type: PacketType::Pep,
            dst,
            src,
            payload,
        }
        .push(&mut out)
        .expect("emits");
        out
    }

    fn addr(network: u32, node: [u8; 6], socket: u16) -> Address {
        Address {
            network,
            node,
            socket,
        }
    }

    const CALLER: [u8; 6] = [2, 0, 0, 0, 0, 1];

    #[test]
    fn nodes_are_unique_locally_administered_and_stable() {
        let mut b = Bridge::new(&config(""));
        assert_eq!(b.local_node(), [2, 0x49, 0, 0, 0, 0]);
        let n1 = b.session_up(1, NET, Some(CALLER), true).expect("up");
        assert_eq!(n1, [2, 0x49, 0, 0, 0, 1]);
        assert_eq!(b.session_up(1, NET, Some(CALLER), true), Ok(n1));
        // Session ids equal in their low 32 bits get the next free node.
        let n2 = b
            .session_up(1 << 32 | 1, NET, Some(CALLER), true)
            .expect("up");
        assert_eq!(n2, [2, 0x49, 0, 0, 0, 2]);
        // Id 0 would be the bridge's own node; u32::MAX the assigned link node.
        assert_eq!(
            b.session_up(1 << 33, NET, None, true),
            Ok([2, 0x49, 0, 0, 0, 3])
        );
        assert_eq!(
            b.session_up(u64::from(u32::MAX), NET, None, true),
            Ok([2, 0x49, 0, 0, 0, 4])
        );
        assert!(b.session_down(1));
        assert!(!b.session_down(1));
        assert_eq!(b.lan_node(1), None);
        assert_eq!(b.session_up(7, NET, None, true), Ok([2, 0x49, 0, 0, 0, 7]));
        assert_eq!(b.len(), 4);
    }

    #[test]
    fn sessions_are_refused_for_another_network_a_full_table_or_the_user_rfc1552_3_1() {
        let mut b = Bridge::new(&config("max_sessions = 1"));
        assert_eq!(
            b.session_up(1, NET + 1, None, true),
            Err(Refusal::WrongNetwork(NET + 1))
        );
        assert_eq!(b.session_up(1, NET, None, false), Err(Refusal::NotAllowed));
        assert!(b.session_up(1, NET, None, true).is_ok());
        assert_eq!(b.session_up(2, NET, None, true), Err(Refusal::Full));
        let c = &b.counters;
        assert_eq!(
            (
                c.refused_network,
                c.refused_user,
                c.refused_full,
                c.sessions_up
            ),
            (1, 1, 1, 1)
        );
    }

    #[test]
    fn a_callers_unicast_goes_out_from_its_lan_node_hops_untouched() {
        for checksummed in [false, true] {
            let mut b = Bridge::new(&config(""));
            let lan_node = b.session_up(5, NET, Some(CALLER), true).expect("up");
            let mut out = Recorder::default();
            let d = datagram(
                addr(NET, CALLER, 0x4001),
                addr(NET, HOST, 0x0451),
                checksummed,
                b"ncp",
            );
            b.from_session(0, 5, &d, &mut out);
            assert_eq!(out.lan.len(), 1);
            let eth = &out.lan[0];
            assert_eq!(&eth[..6], &HOST);
            assert_eq!(&eth[6..12], &lan_node);
            assert_eq!(&eth[14..17], &[0xE0, 0xE0, 0x03], "802.2 by default");
            let ipx = frame::decode(FrameType::Llc8022, eth).expect("IPX").ipx;
            let p = Packet::new_checked(ipx).expect("valid");
            assert_eq!(p.src(), addr(NET, lan_node, 0x4001));
            assert_eq!(p.dst(), addr(NET, HOST, 0x0451));
            assert_eq!(p.transport_control(), 2, "a bridge is not a hop");
            assert_eq!(p.has_checksum(), checksummed);
            assert!(p.verify_checksum());
            assert_eq!(p.payload(), b"ncp");
            assert_eq!((b.counters.session_rx, b.counters.lan_tx), (1, 1));
        }
    }

    #[test]
    fn wrong_sources_malformed_and_remote_destinations_are_dropped_and_counted() {
        let mut b = Bridge::new(&config(""));
        b.session_up(5, NET, Some(CALLER), true).expect("up");
        let mut out = Recorder::default();
        let to_host = addr(NET, HOST, 0x0451);
        b.from_session(
            0,
            5,
            &datagram(addr(NET + 1, CALLER, 1), to_host, false, b""),
            &mut out,
        );
        b.from_session(
            0,
            5,
            &datagram(addr(NET, HOST, 1), to_host, false, b""),
            &mut out,
        );
        b.from_session(0, 5, b"hello from session 9", &mut out);
        b.from_session(
            0,
            6,
            &datagram(addr(NET, CALLER, 1), to_host, false, b""),
            &mut out,
        );
        b.from_session(
            0,
            5,
            &datagram(addr(NET, CALLER, 1), addr(7, HOST, 1), false, b""),
            &mut out,
        );
        // Network 0 ("this network") is the caller's own too.
        b.from_session(
            0,
            5,
            &datagram(addr(0, CALLER, 1), to_host, false, b""),
            &mut out,
        );
        let c = &b.counters;
        assert_eq!(c.drop_wrong_source, 2);
        assert_eq!(c.drop_session_malformed, 1);
        assert_eq!(c.drop_session_unknown, 1);
        assert_eq!(c.drop_remote_network, 1);
        assert_eq!(c.lan_tx, 1);
        assert_eq!(out.lan.len(), 1);
    }

    #[test]
    fn a_caller_without_a_negotiated_node_is_held_to_its_first() {
        let mut b = Bridge::new(&config(""));
        b.session_up(5, NET, None, true).expect("up");
        let mut out = Recorder::default();
        let to_host = addr(NET, HOST, 1);
        let bcast = addr(NET, ipx::BROADCAST_NODE, 1);
        b.from_session(0, 5, &datagram(bcast, to_host, false, b""), &mut out);
        b.from_session(
            0,
            5,
            &datagram(addr(NET, CALLER, 1), to_host, false, b""),
            &mut out,
        );
        b.from_session(
            0,
            5,
            &datagram(addr(NET, HOST, 1), to_host, false, b""),
            &mut out,
        );
        assert_eq!(b.counters.drop_wrong_source, 2);
        assert_eq!(b.counters.lan_tx, 1);
    }

    #[test]
    fn lan_unicast_reaches_its_caller_with_the_link_node() {
        let mut b = Bridge::new(&config("frame_type = \"ethernet_ii\""));
        let lan_node = b.session_up(5, NET, Some(CALLER), true).expect("up");
        b.session_up(6, NET, Some([2, 0, 0, 0, 0, 2]), true)
            .expect("up");
        let mut out = Recorder::default();
        let ipx = datagram(
            addr(NET, HOST, 0x451),
            addr(NET, lan_node, 0x4001),
            true,
            b"reply",
        );
        let mut eth = Vec::new();
        frame::encode(FrameType::EthernetII, lan_node, HOST, &ipx, &mut eth).expect("frame");
        b.from_lan(0, &eth, &mut out);
        assert_eq!(out.sessions.len(), 1);
        let (s, d) = &out.sessions[0];
        assert_eq!(*s, 5);
        let p = Packet::new_checked(&d[..]).expect("valid");
        assert_eq!(p.dst(), addr(NET, CALLER, 0x4001));
        assert!(p.verify_checksum(), "recomputed after the rewrite");
        assert_eq!(p.payload(), b"reply");
        assert_eq!(d.len(), 35, "Ethernet's padding is not passed on");
        // Another frame type on the same segment, another node, and a spoofed source.
        let mut llc = Vec::new();
        frame::encode(FrameType::Llc8022, lan_node, HOST, &ipx, &mut llc).expect("frame");
        b.from_lan(0, &llc, &mut out);
        let other = datagram(addr(NET, HOST, 1), addr(NET, HOST, 1), false, b"");
        frame::encode(FrameType::EthernetII, HOST, HOST, &other, &mut eth).expect("frame");
        b.from_lan(0, &eth, &mut out);
        let spoof = datagram(
            addr(NET, lan_node, 1),
            addr(NET, ipx::BROADCAST_NODE, 1),
            false,
            b"",
        );
        frame::encode(FrameType::EthernetII, HOST, HOST, &spoof, &mut eth).expect("frame");
        b.from_lan(0, &eth, &mut out);
        b.from_lan(0, &eth[..20], &mut out);
        let c = &b.counters;
        assert_eq!(
            (
                c.lan_not_ipx,
                c.lan_not_for_callers,
                c.lan_spoofed,
                c.lan_malformed
            ),
            (1, 1, 1, 1)
        );
        assert_eq!(out.sessions.len(), 1);
    }

    #[test]
    fn lan_broadcasts_go_to_every_session_bounded_per_second() {
        let mut b = Bridge::new(&config("broadcasts_per_sec = 2"));
        for s in 1..=3 {
            b.session_up(s, NET, None, true).expect("up");
        }
        let mut out = Recorder::default();
        let sap = datagram(
            addr(NET, HOST, 0x452),
            addr(0, ipx::BROADCAST_NODE, 0x452),
            false,
            b"sap",
        );
        let mut eth = Vec::new();
        frame::encode(
            FrameType::Llc8022,
            ipx::BROADCAST_NODE,
            HOST,
            &sap,
            &mut eth,
        )
        .expect("frame");
        for t in [0, 1, 2, SECOND + 3] {
            b.from_lan(t, &eth, &mut out);
        }
        let c = &b.counters;
        assert_eq!((c.broadcast_in, c.broadcast_rate_limited), (3, 1));
        assert_eq!(c.broadcast_copies, 9);
        let mut got: Vec<u64> = out.sessions.iter().map(|(s, _)| *s).collect();
        got.sort_unstable();
        assert_eq!(got, [1, 1, 1, 2, 2, 2, 3, 3, 3]);
        assert!(out.sessions.iter().all(|(_, d)| d == &sap));
    }

    #[test]
    fn a_callers_broadcast_reaches_the_lan_and_the_other_callers_and_callers_reach_each_other() {
        let mut b = Bridge::new(&config(""));
        let n5 = b.session_up(5, NET, Some(CALLER), true).expect("up");
        let two = [2, 0, 0, 0, 0, 2];
        let n6 = b.session_up(6, NET, Some(two), true).expect("up");
        let mut out = Recorder::default();
        let bcast = addr(NET, ipx::BROADCAST_NODE, 0x452);
        b.from_session(
            0,
            5,
            &datagram(addr(NET, CALLER, 1), bcast, false, b"q"),
            &mut out,
        );
        assert_eq!(out.lan.len(), 1);
        assert_eq!(&out.lan[0][..6], &ipx::BROADCAST_NODE);
        assert_eq!(out.sessions.len(), 1);
        assert_eq!(out.sessions[0].0, 6);
        assert_eq!(
            Packet::new_checked(&out.sessions[0].1[..])
                .expect("ok")
                .src()
                .node,
            n5
        );
        // Unicast to the other caller's LAN node: delivered with its link node, not on the LAN.
        b.from_session(
            0,
            5,
            &datagram(addr(NET, CALLER, 1), addr(NET, n6, 9), false, b"u"),
            &mut out,
        );
        assert_eq!(out.lan.len(), 1);
        let (s, d) = &out.sessions[1];
        assert_eq!(*s, 6);
        let p = Packet::new_checked(&d[..]).expect("ok");
        assert_eq!((p.src().node, p.dst().node), (n5, two));
    }

    #[test]
    fn other_networks_go_to_the_lan_router_that_announced_them_in_rip() {
        let mut b = Bridge::new(&config(""));
        b.session_up(5, NET, Some(CALLER), true).expect("up");
        let mut out = Recorder::default();
        let far = addr(0x77, [0, 0, 0, 0, 0, 1], 0x451);
        let to_far = datagram(addr(NET, CALLER, 0x4001), far, false, b"far");
        b.from_session(0, 5, &to_far, &mut out);
        assert_eq!(b.counters.drop_remote_network, 1);
        // A LAN router broadcasts a RIP response: network 0x77 at 1 hop, 2 ticks, and our
        // own network (not a route).
        let router = [0, 0, 0x0c, 1, 2, 3];
        let mut rip = vec![0, 2];
        rip.extend_from_slice(&[0, 0, 0, 0x77, 0, 1, 0, 2]);
        rip.extend_from_slice(&NET.to_be_bytes());
        rip.extend_from_slice(&[0, 1, 0, 1]);
        let response = datagram(
            addr(NET, router, routes::RIP_SOCKET),
            addr(NET, ipx::BROADCAST_NODE, routes::RIP_SOCKET),
            false,
            &rip,
        );
        let mut eth = Vec::new();
        frame::encode(
            FrameType::Llc8022,
            ipx::BROADCAST_NODE,
            router,
            &response,
            &mut eth,
        )
        .expect("frame");
        b.from_lan(10, &eth, &mut out);
        assert_eq!(b.counters.rip_entries_heard, 2);
        assert_eq!(b.router_to(10, 0x77), Some(router));
        assert_eq!(b.router_to(10, NET), None);
        assert_eq!(out.sessions.len(), 1, "the caller hears the broadcast too");
        b.from_session(20, 5, &to_far, &mut out);
        assert_eq!(b.counters.routed_via_lan_router, 1);
        let sent = out.lan.last().expect("a frame");
        assert_eq!(&sent[..6], &router, "to the router's MAC address");
        let p = Packet::new_checked(frame::decode(FrameType::Llc8022, sent).expect("IPX").ipx)
            .expect("valid");
        assert_eq!(p.dst(), far, "the IPX destination stays the far host");
        // Three minutes later the route is gone.
        b.from_session(10 + routes::ROUTE_LIFETIME, 5, &to_far, &mut out);
        assert_eq!(b.counters.drop_remote_network, 2);
    }

    #[test]
    fn raw_8023_refuses_checksummed_packets_and_busy_hosts_are_counted() {
        let mut b = Bridge::new(&config("frame_type = \"ethernet_802.3\""));
        b.session_up(5, NET, Some(CALLER), true).expect("up");
        let mut out = Recorder {
            busy: true,
            ..Recorder::default()
        };
        let to_host = addr(NET, HOST, 1);
        b.from_session(
            0,
            5,
            &datagram(addr(NET, CALLER, 1), to_host, true, b""),
            &mut out,
        );
        b.from_session(
            0,
            5,
            &datagram(addr(NET, CALLER, 1), to_host, false, b""),
            &mut out,
        );
        assert_eq!(b.counters.drop_checksummed_raw, 1);
        assert_eq!((b.counters.lan_busy, b.counters.lan_tx), (1, 0));
        assert_eq!(&out.lan[0][12..16], &[0, 30, 0xFF, 0xFF]);
        let mut bad = datagram(addr(NET, CALLER, 1), to_host, true, b"x");
        bad[30] ^= 1;
        let mut llc = Bridge::new(&config(""));
        llc.session_up(5, NET, Some(CALLER), true).expect("up");
        llc.from_session(0, 5, &bad, &mut out);
        assert_eq!(llc.counters.drop_bad_checksum, 1);
        let lan_node = llc.lan_node(5).expect("bridged");
        let mut reply = datagram(addr(NET, HOST, 1), addr(NET, lan_node, 1), true, b"x");
        reply[30] ^= 1;
        let mut eth = Vec::new();
        frame::encode(FrameType::Llc8022, lan_node, HOST, &reply, &mut eth).expect("frame");
        llc.from_lan(0, &eth, &mut out);
        assert_eq!(llc.counters.lan_bad_checksum, 1);
        let long = datagram(addr(NET, CALLER, 1), to_host, false, &[0; 1480]);
        b.from_session(0, 5, &long, &mut out);
        assert_eq!(b.counters.drop_too_long, 1);
        assert!(
            b.counters
                .iter()
                .any(|(n, v)| n == "drop_too_long" && v == 1)
        );
    }
}
