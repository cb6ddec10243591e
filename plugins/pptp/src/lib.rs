//! The `pptp` link plugin: PPP over PPTP (RFC 2637), on the sans-IO `dialgate-pptp` crate.
//!
//! One instance serves one `[[link]]`. An *answering* link listens on TCP 1723 (its `listen`
//! addresses) and answers the calls its peers ask for; a *dialing* link opens a control
//! connection to its `target` when the core dials and asks for one call. The host owns every
//! socket: the plugin asks it for the TCP listeners and connections and for **one raw IP
//! socket for protocol 47**, which carries the enhanced GRE of every call ([`config`] lists
//! the keys).
//!
//! # Roles (RFC 2637 §3.2)
//!
//! | link, peer sends                | we are | on the wire                                      |
//! |---------------------------------|--------|--------------------------------------------------|
//! | answer, Outgoing-Call-Request   | PAC    | OCRQ in, OCRP out: the server Windows and Linux clients (PNS) call |
//! | answer, Incoming-Call-Request   | PNS    | ICRQ in, ICRP out, ICCN in: behind an ISP's front end |
//! | dial, `call_type = "outgoing"`  | PNS    | OCRQ out, OCRP in: a client, LAN-to-LAN          |
//! | dial, `call_type = "incoming"`  | PAC    | ICRQ out, ICRP in, ICCN out: a front end         |
//!
//! An answering link asks the core first ([`HostHandle::link_up`]) and only then accepts the
//! peer's Outgoing-Call-Request, so a call the core refuses (its session limit, an address
//! rate-limited after authentication failures) is refused on the wire with a result code:
//! `Do Not Accept` (7) when the core denies it, `Busy` (4) when it is busy, `General Error` /
//! `No-Resource` otherwise. An Incoming-Call-Request is accepted first (the call is up only
//! with Incoming-Call-Connected) and its link reported up then; a refusal there clears the
//! call with Call-Clear-Request.
//!
//! # Frames
//!
//! PPTP carries PPP frames in GRE without HDLC framing (RFC 2637 §4.1): no flags, no octet
//! stuffing, no FCS, so no ACCM applies to our frames. The GRE payload is the PPP frame the
//! core's engine makes and takes ([`dialgate_plugin_sdk::abi`]: optional `FF 03`, protocol,
//! information). The ACCMs the core negotiates ([`Plugin::set_link_params`]) matter only to
//! a PAC's async line: where we are the PNS, we pass them to the PAC in Set-Link-Info
//! (RFC 2637 §2.15); where we are the PAC, a Set-Link-Info from the PNS is recorded and
//! counted (there is no async line here to apply it to). `set_link_params` also tells the
//! plugin that the call's LCP is up, which ends its `call_setup_timeout_secs`.
//!
//! # GRE
//!
//! A GRE packet is accepted only when its IPv4 source is the control connection's peer and
//! its Key names one of our calls on that connection ([`dialgate_pptp::gre::GreCall`] does
//! the rest: window, acknowledgments, reordering). Everything else is dropped and counted
//! under its reason ([`Counters`]): not IPv4, a fragment, bad GRE (version, flags, protocol,
//! truncated), an unknown Call ID, a known Call ID from another address (spoofed), and the
//! per-call drops (duplicates, late, no room, acknowledgments of packets never sent).
//!
//! Every pptp link of a routerd has its own raw socket and the kernel hands each of them
//! every GRE datagram, so the links of one process keep their calls' (peer address, Call ID)
//! pairs in one registry: a datagram that names another link's call is ignored and counted
//! apart (`gre_other_link`), not as hostile, and no two links give calls from one address the
//! same Call ID. A call the peer asks for whose ID (chosen per control connection) is taken
//! for that address gets another before our reply names it (`call_ids_renumbered`). Received
//! datagrams are copied once into a reused buffer; sent frames are encapsulated in place in
//! another: nothing is allocated per packet.
//!
//! # Half-open limits
//!
//! A control connection that is not started, or carries no call, for
//! `control_idle_timeout_secs` is closed (Stop-Control-Connection-Request); a call whose LCP
//! is not up `call_setup_timeout_secs` after it came up is cleared; one source address holds
//! at most `max_connections_per_source` control connections and the link at most
//! `max_sessions` calls (and as many control connections).

pub mod config;
mod ipv4;
mod registry;
#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use dialgate_plugin_sdk::{
    CloseReason, Direction, HandleId, HangupCause, HostError, HostHandle, IpAddress, LinkDownCause,
    LinkId, LinkInfo, LinkParams, LogLevel, Plugin, PluginError, PluginKind, SocketAddress,
    TimerId, Timestamp,
};
use dialgate_pptp::control::{
    CallDownReason, CallId, CallRequest, CallRole, ClearCause, CloseReason as CtlClose,
    ControlConfig, ControlConnection, Event, IncomingCallParams, OutgoingCallParams, Refusal, Role,
    State,
};
use dialgate_pptp::gre::{self, GreCall, GreConfig, RxDrop, SendError, Sent};
use dialgate_wire::gre as gre_wire;
use dialgate_wire::pptp::{BearerCapabilities, FixedStr, FramingCapabilities, StopReason};

use registry::Registry;

pub use config::{CallType, Config, ConfigError, Mode};

/// Timer ids at or above this are per-call timers (`LINK_TIMER | link`); below, a control
/// connection's (its TCP handle's id).
const LINK_TIMER: u64 = 1 << 62;
/// The timer that publishes the counters to the host ([`HostHandle::set_counter`]).
const STATS_TIMER: TimerId = TimerId(1 << 61);
/// How often the counters are published.
pub const STATS_INTERVAL: Duration = Duration::from_secs(1);
/// The longest PPP Information field a call carries in one unfragmented IPv4 packet on a
/// 1500-octet path: 1500 less 20 (IPv4 header), 16 (enhanced GRE header with sequence and
/// acknowledgment numbers, RFC 2637 §4.1) and 4 (PPP address, control and protocol fields,
/// uncompressed). The core is told before each call comes up (plugin ABI 1.2
/// [`HostHandle::set_link_mru`]) and asks the peer for no larger an MRU: a larger frame would
/// go out as two IP fragments, which doubles the packets and costs the receiver a reassembly.
pub const PATH_MRU: u16 = 1460;
/// How many other Call IDs a call the peer asked for may try when its own is in use for
/// the same address (see `Pptp::claim_call_id`).
const CALL_ID_TRIES: u16 = 64;
/// The largest GRE payload: the buffers are sized for the largest IPv4 datagram.
const MAX_PAYLOAD: usize = 65_535;

/// Plugin-wide counters: every dropped packet and refused connection under its reason.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counters {
    /// Control connections accepted.
    pub connections: u64,
    /// Control connections refused: the source already holds `max_connections_per_source`.
    pub refused_per_source: u64,
    /// Control connections refused: `max_sessions` connections are open.
    pub refused_max_connections: u64,
    /// Control connections closed for a malformed message (RFC 2637 §3: wrong cookie,
    /// length, truncation).
    pub control_malformed: u64,
    /// Control messages of an unknown type (skipped).
    pub control_unknown_type: u64,
    /// Control messages out of state (ignored, or the connection closed where RFC 2637 says).
    pub control_out_of_state: u64,
    /// Control messages naming no call of the connection.
    pub control_unknown_call: u64,
    /// Control connections closed because the host could not take our output.
    pub control_overload: u64,
    /// Control connections closed for `control_idle_timeout_secs`.
    pub control_idle_closed: u64,
    /// Calls up.
    pub calls: u64,
    /// Calls refused (limits, the core said no, no GRE socket, IPv6 peer).
    pub calls_refused: u64,
    /// Calls cleared for `call_setup_timeout_secs`.
    pub calls_setup_timeout: u64,
    /// Set-Link-Info received (as PAC) or sent (as PNS).
    pub set_link_info: u64,
    /// GRE datagrams received.
    pub gre_rx: u64,
    /// Dropped: not an IPv4 GRE datagram (bad header, truncated, a fragment).
    pub gre_bad_ip: u64,
    /// Dropped: GRE version is not 1 (RFC 2637 §4.1).
    pub gre_bad_version: u64,
    /// Dropped: reserved GRE flags set, or the K bit clear.
    pub gre_bad_flags: u64,
    /// Dropped: GRE protocol type is not PPP (0x880B).
    pub gre_bad_protocol: u64,
    /// Dropped: truncated, or sequence/payload inconsistent.
    pub gre_malformed: u64,
    /// Dropped: the Key names no call of ours.
    pub gre_unknown_call: u64,
    /// Dropped: the Key names a call of ours, but the source is not its peer.
    pub gre_spoofed_source: u64,
    /// Ignored: the source and Key name a call of another pptp link of this process (the
    /// kernel gives every GRE datagram to every raw socket); not hostile.
    pub gre_other_link: u64,
    /// Dropped: GRE from a call's peer before the call was up (a call we placed whose reply,
    /// over TCP, the GRE overtook; an Incoming-Call-Connected not yet received).
    pub gre_before_call_up: u64,
    /// Calls the peer asked for whose Call ID (chosen per control connection) was in use
    /// for another call from the same address, and that got another one.
    pub call_ids_renumbered: u64,
    /// Dropped by the call: duplicate sequence number.
    pub gre_duplicate: u64,
    /// Dropped by the call: older than a frame already delivered.
    pub gre_late: u64,
    /// Dropped by the call: out of order and no room to hold it.
    pub gre_no_room: u64,
    /// Acknowledgments of packets never sent (ignored; RFC 2637 §4.2).
    pub gre_bad_ack: u64,
    /// Data packets beyond the window we advertised (RFC 2637 §4.2.4; counted, taken).
    pub gre_window_overflow: u64,
    /// Frames delivered to the core.
    pub rx_frames: u64,
    /// Frames the core refused (busy, link gone).
    pub rx_refused: u64,
    /// Frames sent.
    pub tx_frames: u64,
    /// Frames dropped: the GRE window was full (RFC 2637 §4.2) and the call's transmit
    /// queue too.
    pub tx_window_full: u64,
    /// Frames that waited in a call's transmit queue for the GRE window to open.
    pub tx_queued: u64,
    /// Times a call's transmit queue reached its high-water mark (the core was told the
    /// link is congested, [`HostHandle::set_link_congested`]).
    pub tx_congested: u64,
    /// Frames dropped: the host's socket was busy or failed.
    pub tx_errors: u64,
    /// Frames for links that have no call (any more).
    pub tx_no_call: u64,
}

impl Counters {
    /// Each counter with its name (for logs and metrics).
    pub fn named(&self) -> [(&'static str, u64); COUNTERS] {
        [
            ("connections", self.connections),
            ("refused_per_source", self.refused_per_source),
            ("refused_max_connections", self.refused_max_connections),
            ("control_malformed", self.control_malformed),
            ("control_unknown_type", self.control_unknown_type),
            ("control_out_of_state", self.control_out_of_state),
            ("control_unknown_call", self.control_unknown_call),
            ("control_overload", self.control_overload),
            ("control_idle_closed", self.control_idle_closed),
            ("calls", self.calls),
            ("calls_refused", self.calls_refused),
            ("calls_setup_timeout", self.calls_setup_timeout),
            ("set_link_info", self.set_link_info),
            ("gre_rx", self.gre_rx),
            ("gre_bad_ip", self.gre_bad_ip),
            ("gre_bad_version", self.gre_bad_version),
            ("gre_bad_flags", self.gre_bad_flags),
            ("gre_bad_protocol", self.gre_bad_protocol),
            ("gre_malformed", self.gre_malformed),
            ("gre_unknown_call", self.gre_unknown_call),
            ("gre_spoofed_source", self.gre_spoofed_source),
            ("gre_duplicate", self.gre_duplicate),
            ("gre_late", self.gre_late),
            ("gre_no_room", self.gre_no_room),
            ("rx_frames", self.rx_frames),
            ("rx_refused", self.rx_refused),
            ("tx_frames", self.tx_frames),
            ("tx_window_full", self.tx_window_full),
            ("tx_errors", self.tx_errors),
            ("tx_no_call", self.tx_no_call),
            ("gre_bad_ack", self.gre_bad_ack),
            ("gre_window_overflow", self.gre_window_overflow),
            ("gre_other_link", self.gre_other_link),
            ("gre_before_call_up", self.gre_before_call_up),
            ("call_ids_renumbered", self.call_ids_renumbered),
            ("tx_queued", self.tx_queued),
            ("tx_congested", self.tx_congested),
        ]
    }
}

impl fmt::Display for Counters {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, (name, value)) in self.named().iter().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            write!(f, "{name}={value}")?;
        }
        Ok(())
    }
}

/// Maps the host's timestamps to the `Instant`s the sans-IO crate takes, from one anchor
/// taken when the instance is created.
#[derive(Debug, Clone, Copy)]
struct Clock {
    base: Instant,
    base_ts: Timestamp,
}

impl Clock {
    fn instant(&self, ts: Timestamp) -> Instant {
        self.base + ts.saturating_duration_since(self.base_ts)
    }

    fn timestamp(&self, at: Instant) -> Timestamp {
        self.base_ts
            .saturating_add(at.saturating_duration_since(self.base))
    }
}

/// What a control connection is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ConnKind {
    /// Accepted on a listener.
    Answer,
    /// Opened by `dial` for this link.
    Dial(LinkId),
}

/// One control connection (a TCP handle of the host's).
#[derive(Debug)]
struct Conn {
    /// `None` while a dialled TCP connection is being established.
    cc: Option<ControlConnection>,
    kind: ConnKind,
    peer: SocketAddr,
    /// `peer` as text: what `LinkInfo.peer` says.
    peer_text: String,
    /// Our calls on it, by our Call ID.
    calls: HashMap<CallId, LinkId>,
    /// Since when it has had no call (or was opened): `control_idle_timeout` runs from here.
    idle_since: Option<Instant>,
    /// The deadline armed with the host.
    armed: Option<Instant>,
    /// The idle timeout closed it (counted once).
    idle_closed: bool,
    /// Whether the counters of its `ControlConnection` were added to ours.
    counted: bool,
}

/// One call: a link of the core's.
#[derive(Debug)]
struct Call {
    conn: HandleId,
    /// Our Call ID (the Key of GRE packets the peer sends); `None` until the call is placed.
    call: Option<CallId>,
    role: Option<CallRole>,
    /// The peer's IPv4 address (GRE's destination and expected source).
    peer_ip: Option<Ipv4Addr>,
    /// The data channel, once the call is up.
    gre: Option<GreCall>,
    /// The core has the link up.
    up: bool,
    /// The core said LCP is up (`set_link_params`).
    lcp_open: bool,
    /// `call_setup_timeout` deadline.
    setup_deadline: Option<Instant>,
    /// The deadline armed with the host.
    armed: Option<Instant>,
    /// The core asked for the hangup.
    hangup: bool,
    /// Placed by `dial`: the core waits for `link_up` or `link_down`.
    dialled: bool,
    /// What the core was last told of the call's congestion
    /// ([`HostHandle::set_link_congested`]).
    congested: bool,
}

/// The `pptp` plugin instance (see the crate docs).
#[derive(Debug)]
pub struct Pptp {
    host: HostHandle,
    config: Config,
    clock: Clock,
    gre_config: GreConfig,
    gre: Option<HandleId>,
    listeners: Vec<HandleId>,
    conns: HashMap<HandleId, Conn>,
    calls: HashMap<LinkId, Call>,
    /// GRE demultiplexing: (peer address, our Call ID) -> link.
    gre_index: HashMap<(Ipv4Addr, u16), LinkId>,
    /// Live calls per our Call ID, whatever the peer (tells spoofed sources from unknown IDs).
    call_ids: HashMap<u16, u32>,
    /// Our (peer, Call ID) pairs among every pptp link of the process.
    registry: Registry,
    /// Control connections per source address.
    per_source: HashMap<IpAddr, u32>,
    next_link: u64,
    rx_buf: Box<[u8]>,
    tx_buf: Box<[u8]>,
    ack_buf: [u8; gre_wire::MAX_HEADER_LEN],
    ctl_out: Vec<u8>,
    counters: Counters,
    /// What the host was last told, per [`Counters::named`] entry.
    published: Option<[u64; COUNTERS]>,
}

/// How many counters [`Counters::named`] lists.
const COUNTERS: usize = 37;

impl Pptp {
    /// The plugin-wide counters, with the counters of the live control connections added.
    pub fn counters(&self) -> Counters {
        let mut c = self.counters;
        for conn in self.conns.values() {
            if let (Some(cc), false) = (&conn.cc, conn.counted) {
                add_control_counters(&mut c, cc);
            }
        }
        for call in self.calls.values() {
            if let Some(g) = &call.gre {
                add_gre_counters(&mut c, g);
            }
        }
        c
    }

    /// Open control connections.
    pub fn connection_count(&self) -> usize {
        self.conns.len()
    }

    /// Calls (links) the plugin holds, up or coming up.
    pub fn call_count(&self) -> usize {
        self.calls.len()
    }

    /// Tells the host every counter that changed since the last time (all of them the first
    /// time), for its metrics.
    fn publish_counters(&mut self) {
        let named = self.counters().named();
        let last = self.published.unwrap_or([u64::MAX; COUNTERS]);
        let mut now = [0; COUNTERS];
        for (i, (name, value)) in named.iter().enumerate() {
            now[i] = *value;
            if last.get(i) != Some(value) {
                self.host.set_counter(name, *value);
            }
        }
        self.published = Some(now);
    }

    fn log(&self, level: LogLevel, message: impl fmt::Display) {
        self.host.log(level, &message.to_string());
    }

    fn control_config(&self, peer: SocketAddr, seed: u64) -> ControlConfig {
        let pac = matches!(self.config.mode, Mode::Answer { .. });
        ControlConfig {
            host_name: FixedStr::new_truncated(self.config.host_name.as_bytes()),
            vendor: FixedStr::new_truncated(b"dialgate"),
            firmware_revision: 1,
            framing_capabilities: FramingCapabilities::ASYNCHRONOUS
                | FramingCapabilities::SYNCHRONOUS,
            bearer_capabilities: BearerCapabilities::ANALOG | BearerCapabilities::DIGITAL,
            // RFC 2637 §2.1: what a PAC supports; a PNS sends 0.
            maximum_channels: if pac {
                u16::try_from(self.config.max_sessions).unwrap_or(u16::MAX)
            } else {
                0
            },
            local_addr: None,
            peer_addr: Some(peer.ip()),
            setup_timeout: self.config.control_idle_timeout,
            echo_interval: self.config.echo_interval,
            echo_timeout: self.config.echo_interval,
            max_calls: u16::try_from(self.config.max_sessions).unwrap_or(u16::MAX),
            recv_window: self.config.receive_window,
            seed,
            ..ControlConfig::default()
        }
    }

    fn new_link(&mut self) -> LinkId {
        self.next_link += 1;
        LinkId(self.next_link)
    }

    // ---- timers --------------------------------------------------------------------------

    /// Arms a timer for `want` unless an earlier deadline is armed already (an early
    /// wake-up finds nothing due and re-arms).
    fn arm(
        host: &HostHandle,
        clock: &Clock,
        timer: TimerId,
        armed: &mut Option<Instant>,
        want: Option<Instant>,
    ) {
        if let Some(w) = want
            && armed.is_none_or(|a| w < a)
        {
            host.set_timer(timer, clock.timestamp(w));
            *armed = Some(w);
        }
    }

    fn arm_conn(&mut self, handle: HandleId) {
        let idle = self.config.control_idle_timeout;
        let Some(conn) = self.conns.get_mut(&handle) else {
            return;
        };
        let Some(cc) = &conn.cc else {
            return;
        };
        let idle_deadline = conn
            .idle_since
            .filter(|_| !conn.idle_closed)
            .map(|t| t + idle);
        let want = [cc.poll_timeout(), idle_deadline]
            .into_iter()
            .flatten()
            .min();
        Self::arm(
            &self.host,
            &self.clock,
            TimerId(handle.0),
            &mut conn.armed,
            want,
        );
    }

    fn arm_call(&mut self, link: LinkId) {
        let Some(call) = self.calls.get_mut(&link) else {
            return;
        };
        let gre = call.gre.as_ref().and_then(GreCall::poll_timeout);
        let setup = call.setup_deadline.filter(|_| !call.lcp_open);
        let want = [gre, setup].into_iter().flatten().min();
        Self::arm(
            &self.host,
            &self.clock,
            TimerId(LINK_TIMER | link.0),
            &mut call.armed,
            want,
        );
    }

    // ---- control connections ---------------------------------------------------------------

    /// Runs a control connection's events and output after any input to it.
    fn pump(&mut self, now: Instant, handle: HandleId) {
        while let Some(event) = self
            .conns
            .get_mut(&handle)
            .and_then(|c| c.cc.as_mut())
            .and_then(ControlConnection::poll_event)
        {
            self.on_event(now, handle, event);
        }
        let Some(conn) = self.conns.get_mut(&handle) else {
            return;
        };
        let Some(cc) = conn.cc.as_mut() else {
            return;
        };
        // A dialled connection carries one call: once it is gone (its Call-Disconnect-Notify
        // received, or given up on), stop the connection (RFC 2637 §2.3 reason 1, "general
        // request to clear control connection").
        if matches!(conn.kind, ConnKind::Dial(_))
            && cc.state() == State::Established
            && cc.call_count() == 0
            && conn.calls.is_empty()
        {
            cc.close(now, StopReason::None);
        }
        self.ctl_out.clear();
        if cc.poll_transmit(&mut self.ctl_out)
            && let Err(e) = self.host.write(handle, &self.ctl_out)
            && !cc.is_closed()
        {
            // Control messages are small: a queue this full means a peer that does not
            // read. Give up on it.
            self.counters.control_overload += 1;
            cc.abort();
            let peer = conn.peer_text.clone();
            self.log(
                LogLevel::Warn,
                format_args!("control connection {peer}: write failed ({e}); closed"),
            );
            return self.pump(now, handle);
        }
        let closed = self
            .conns
            .get(&handle)
            .and_then(|c| c.cc.as_ref())
            .is_some_and(ControlConnection::is_closed);
        if closed {
            self.host.close(handle);
            self.forget_conn(handle, "control connection closed");
        } else {
            self.arm_conn(handle);
        }
    }

    /// Forgets a control connection whose TCP handle is closed: its calls go down.
    fn forget_conn(&mut self, handle: HandleId, why: &str) {
        let Some(mut conn) = self.conns.remove(&handle) else {
            return;
        };
        if let (Some(cc), false) = (&conn.cc, conn.counted) {
            add_control_counters(&mut self.counters, cc);
            conn.counted = true;
        }
        if let Some(n) = self.per_source.get_mut(&conn.peer.ip()) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                self.per_source.remove(&conn.peer.ip());
            }
        }
        self.host.cancel_timer(TimerId(handle.0));
        let mut links: Vec<LinkId> = conn.calls.values().copied().collect();
        if let ConnKind::Dial(link) = conn.kind
            && !links.contains(&link)
        {
            links.push(link);
        }
        for link in links {
            self.drop_call(link, LinkDownCause::CarrierLost, why);
        }
    }

    /// Removes a call and tells the core, if it had the link (or was dialling it).
    fn drop_call(&mut self, link: LinkId, cause: LinkDownCause, why: &str) {
        let Some(call) = self.calls.remove(&link) else {
            return;
        };
        if let (Some(ip), Some(id)) = (call.peer_ip, call.call) {
            // Ours since the call was placed or accepted, filed for GRE or not.
            self.registry.release(ip, id.0);
        }
        if let (Some(ip), Some(id)) = (call.peer_ip, call.call)
            && self.gre_index.get(&(ip, id.0)) == Some(&link)
        {
            self.gre_index.remove(&(ip, id.0));
            if let Some(n) = self.call_ids.get_mut(&id.0) {
                *n = n.saturating_sub(1);
                if *n == 0 {
                    self.call_ids.remove(&id.0);
                }
            }
        }
        if let Some(g) = &call.gre {
            add_gre_counters(&mut self.counters, g);
        }
        self.host.cancel_timer(TimerId(LINK_TIMER | link.0));
        if let Some(conn) = self.conns.get_mut(&call.conn)
            && let Some(id) = call.call
        {
            conn.calls.remove(&id);
        }
        if call.up || call.dialled || call.hangup {
            let cause = if call.hangup {
                LinkDownCause::Requested
            } else {
                cause
            };
            self.host.link_down(link, cause, why);
        }
    }

    fn on_event(&mut self, now: Instant, handle: HandleId, event: Event) {
        match event {
            Event::Established(peer) => {
                self.on_established(now, handle, &peer.host_name.to_string_lossy())
            }
            Event::CallRequested { call, request } => {
                self.on_call_requested(now, handle, call, request)
            }
            Event::CallUp(info) => self.on_call_up(now, handle, info),
            Event::CallDown { call, reason } => self.on_call_down(now, handle, call, reason),
            Event::SetLinkInfo {
                call,
                send_accm,
                receive_accm,
            } => {
                self.counters.set_link_info += 1;
                self.log(
                    LogLevel::Debug,
                    format_args!(
                        "Set-Link-Info for call {}: send ACCM {send_accm:#010x}, receive ACCM {receive_accm:#010x} (no async line here: recorded only)",
                        call.0
                    ),
                );
            }
            Event::WanError { call, errors } => self.log(
                LogLevel::Info,
                format_args!("WAN-Error-Notify for call {}: {errors:?}", call.0),
            ),
            Event::Collision { won } => self.log(
                LogLevel::Info,
                format_args!("crossing Start-Control-Connection-Requests (won: {won})"),
            ),
            Event::Closed(reason) => self.on_closed_event(handle, reason),
        }
    }

    fn on_established(&mut self, now: Instant, handle: HandleId, host_name: &str) {
        let Some(conn) = self.conns.get_mut(&handle) else {
            return;
        };
        let peer = conn.peer_text.clone();
        conn.idle_since = Some(now);
        let ConnKind::Dial(link) = conn.kind else {
            self.log(
                LogLevel::Info,
                format_args!("control connection from {peer} ({host_name}) established"),
            );
            return;
        };
        self.log(
            LogLevel::Info,
            format_args!("control connection to {peer} ({host_name}) established"),
        );
        let call_type = match self.config.mode {
            Mode::Dial { call_type, .. } => call_type,
            Mode::Answer { .. } => CallType::Outgoing,
        };
        let Some(conn) = self.conns.get_mut(&handle) else {
            return;
        };
        let Some(cc) = conn.cc.as_mut() else {
            return;
        };
        let peer_ip = match conn.peer.ip() {
            IpAddr::V4(v4) => Some(v4),
            IpAddr::V6(_) => None,
        };
        // Claim the Call ID before the request names it: the peer's GRE may reach every
        // pptp link of the process before this one learns that the call is up.
        let registry = &self.registry;
        let claimed = peer_ip.map(|ip| {
            cc.choose_next_call_id(CALL_ID_TRIES, |id| !registry.claim(ip, id))
                .map(|id| (ip, id))
        });
        if claimed == Some(None) {
            self.log(
                LogLevel::Warn,
                format_args!("placing the call to {peer}: no free Call ID for its address"),
            );
            if let Some(cc) = self.conns.get_mut(&handle).and_then(|c| c.cc.as_mut()) {
                cc.close(now, StopReason::None);
            }
            self.pump(now, handle);
            return;
        }
        let claimed = claimed.flatten();
        let Some(conn) = self.conns.get_mut(&handle) else {
            return;
        };
        let Some(cc) = conn.cc.as_mut() else {
            return;
        };
        let placed = match call_type {
            CallType::Outgoing => cc.place_outgoing_call(now, &OutgoingCallParams::default()),
            CallType::Incoming => cc.place_incoming_call(now, &IncomingCallParams::default()),
        };
        match placed {
            Ok(id) => {
                conn.calls.insert(id, link);
                conn.idle_since = None;
                if let Some((ip, chosen)) = claimed
                    && chosen != id
                {
                    // Not the ID chosen: give the claim back; the call claims its own
                    // when it comes up.
                    self.registry.release(ip, chosen.0);
                }
                if let Some(call) = self.calls.get_mut(&link) {
                    call.call = Some(id);
                    call.peer_ip = peer_ip;
                }
            }
            Err(e) => {
                if let Some((ip, chosen)) = claimed {
                    self.registry.release(ip, chosen.0);
                }
                self.log(
                    LogLevel::Warn,
                    format_args!("placing the call to {peer}: {e:?}"),
                );
                if let Some(cc) = self.conns.get_mut(&handle).and_then(|c| c.cc.as_mut()) {
                    cc.close(now, StopReason::None);
                }
            }
        }
    }

    /// Why a call the peer asked for cannot be taken, before the core is asked.
    fn admission(&self, conn: &Conn) -> Result<Ipv4Addr, (Refusal, String)> {
        if conn.kind != ConnKind::Answer {
            return Err((Refusal::DoNotAccept, "a dialing link takes no calls".into()));
        }
        if self.calls.len() >= self.config.max_sessions as usize {
            return Err((
                Refusal::Busy,
                format!("{} calls (max_sessions)", self.calls.len()),
            ));
        }
        if self.gre.is_none() {
            return Err((Refusal::NoResource, "no GRE socket".into()));
        }
        let IpAddr::V4(ip) = conn.peer.ip() else {
            return Err((Refusal::NoResource, "GRE over IPv6 is not supported".into()));
        };
        Ok(ip)
    }

    /// Our Call ID for a call `peer` asked for on `handle`, claimed in the registry: the one
    /// its control connection chose or, when a call on another control connection from the
    /// same address (of this link or another pptp link) holds that ID, another free one. GRE
    /// names the call by address and our ID alone (RFC 2637 §4.1); the call is renumbered
    /// before our reply tells the peer its ID.
    fn claim_call_id(
        &mut self,
        handle: HandleId,
        call: CallId,
        peer: Ipv4Addr,
    ) -> Result<CallId, String> {
        if self.registry.claim(peer, call.0) {
            return Ok(call);
        }
        let registry = &self.registry;
        let cc = self
            .conns
            .get_mut(&handle)
            .and_then(|c| c.cc.as_mut())
            .ok_or_else(|| "no control connection".to_owned())?;
        // The first ID the registry lets us claim ends the search.
        let renumbered = cc
            .renumber_call(call, CALL_ID_TRIES, |id| !registry.claim(peer, id))
            .map_err(|e| {
                format!(
                    "Call ID {} already in use for {peer} and no free one in {CALL_ID_TRIES} tries ({e:?})",
                    call.0
                )
            })?;
        self.counters.call_ids_renumbered += 1;
        Ok(renumbered)
    }

    fn refuse(&mut self, handle: HandleId, call: CallId, refusal: Refusal, why: &str) {
        self.counters.calls_refused += 1;
        let Some(conn) = self.conns.get_mut(&handle) else {
            return;
        };
        let peer = conn.peer_text.clone();
        if let Some(cc) = conn.cc.as_mut() {
            let _ = cc.refuse_call(call, refusal);
        }
        self.log(
            LogLevel::Warn,
            format_args!("call from {peer} refused ({refusal:?}): {why}"),
        );
    }

    fn on_call_requested(
        &mut self,
        now: Instant,
        handle: HandleId,
        call: CallId,
        request: CallRequest,
    ) {
        let Some(conn) = self.conns.get(&handle) else {
            return;
        };
        let peer_ip = match self.admission(conn) {
            Ok(ip) => ip,
            Err((refusal, why)) => return self.refuse(handle, call, refusal, &why),
        };
        let peer_text = conn.peer_text.clone();
        let call = match self.claim_call_id(handle, call, peer_ip) {
            Ok(id) => id,
            Err(why) => return self.refuse(handle, call, Refusal::NoResource, &why),
        };
        let link = self.new_link();
        let role = match request {
            CallRequest::Outgoing(_) => CallRole::PacOutgoing,
            CallRequest::Incoming(_) => CallRole::PnsIncoming,
        };
        let mut entry = Call {
            conn: handle,
            call: Some(call),
            role: Some(role),
            peer_ip: Some(peer_ip),
            gre: None,
            up: false,
            lcp_open: false,
            setup_deadline: None,
            armed: None,
            hangup: false,
            dialled: false,
            congested: false,
        };
        if let CallRequest::Outgoing(r) = request {
            // RFC 2637 §3.2.4.1: as PAC we "dial" now; the core decides.
            let called = r.phone_number.to_string_lossy().into_owned();
            let info = LinkInfo {
                called_number: called.as_str().into(),
                speed_bps: u64::from(r.maximum_bps),
                ..LinkInfo::new(Direction::Incoming, &peer_text)
            };
            self.host.set_link_mru(link, PATH_MRU);
            if let Err(e) = self.host.link_up(link, info) {
                let refusal = match e {
                    HostError::Denied { .. } => Refusal::DoNotAccept,
                    HostError::Busy => Refusal::Busy,
                    _ => Refusal::NoResource,
                };
                self.registry.release(peer_ip, call.0);
                return self.refuse(
                    handle,
                    call,
                    refusal,
                    &format!("the core refused the link: {e}"),
                );
            }
            entry.up = true;
        }
        self.register_call(link, entry);
        let accepted = self
            .conns
            .get_mut(&handle)
            .and_then(|c| c.cc.as_mut())
            .map(|cc| cc.accept_call(now, call));
        if let Some(Err(e)) = accepted {
            self.drop_call(
                link,
                LinkDownCause::Failed,
                &format!("accepting the call: {e:?}"),
            );
        }
    }

    /// Files a call under its link, its connection and the GRE index.
    fn register_call(&mut self, link: LinkId, call: Call) {
        if let (Some(ip), Some(id)) = (call.peer_ip, call.call) {
            self.gre_index.insert((ip, id.0), link);
            *self.call_ids.entry(id.0).or_insert(0) += 1;
            if let Some(conn) = self.conns.get_mut(&call.conn) {
                conn.calls.insert(id, link);
                conn.idle_since = None;
            }
        }
        self.calls.insert(link, call);
    }

    fn on_call_up(
        &mut self,
        now: Instant,
        handle: HandleId,
        info: dialgate_pptp::control::CallInfo,
    ) {
        let Some(conn) = self.conns.get(&handle) else {
            return;
        };
        let Some(&link) = conn.calls.get(&info.call) else {
            return;
        };
        let peer_text = conn.peer_text.clone();
        let gre = GreCall::new(info.gre_params(), &self.gre_config, now);
        let setup_deadline = now + self.config.call_setup_timeout;
        let mut newly_placed = false;
        if let Some(call) = self.calls.get_mut(&link) {
            call.gre = Some(gre);
            call.role = Some(info.role);
            call.setup_deadline = Some(setup_deadline);
            newly_placed = call.gre_index_pending();
        }
        if newly_placed {
            // A call we placed: file it for GRE now that it exists.
            if let Some(call) = self.calls.get(&link)
                && let (Some(ip), Some(id)) = (call.peer_ip, call.call)
            {
                // Claimed when it was placed; a call without a claim takes one now.
                let ours =
                    self.registry.claim(ip, id.0) || !self.registry.claimed_by_another(ip, id.0);
                if !ours {
                    self.log(
                        LogLevel::Warn,
                        format_args!("Call ID {} already in use for {ip}", id.0),
                    );
                    self.clear(now, link, "Call ID collision", ClearCause::GeneralError);
                    return;
                }
                self.gre_index.insert((ip, id.0), link);
                *self.call_ids.entry(id.0).or_insert(0) += 1;
            }
        }
        self.counters.calls += 1;
        self.log(
            LogLevel::Info,
            format_args!(
                "call {} (peer call {}) with {peer_text} up as {:?}, link {}; peer window {}, speed {} bit/s",
                info.call.0, info.peer_call_id, info.role, link.0, info.peer_window, info.connect_speed
            ),
        );
        let already_up = self.calls.get(&link).is_some_and(|c| c.up);
        if !already_up {
            let direction = if info.role.is_answer() {
                Direction::Incoming
            } else {
                Direction::Outgoing
            };
            let info = LinkInfo {
                speed_bps: u64::from(info.connect_speed),
                ..LinkInfo::new(direction, &peer_text)
            };
            self.host.set_link_mru(link, PATH_MRU);
            match self.host.link_up(link, info) {
                Ok(()) => {
                    if let Some(call) = self.calls.get_mut(&link) {
                        call.up = true;
                    }
                }
                Err(e) => {
                    self.counters.calls_refused += 1;
                    self.log(
                        LogLevel::Warn,
                        format_args!(
                            "call with {peer_text} cleared: the core refused the link: {e}"
                        ),
                    );
                    self.clear(
                        now,
                        link,
                        &format!("the core refused the link: {e}"),
                        ClearCause::GeneralError,
                    );
                    return;
                }
            }
        }
        self.arm_call(link);
    }

    /// Clears a call on its control connection (Call-Clear-Request as PNS,
    /// Call-Disconnect-Notify as PAC); `CallDown` follows from the connection.
    /// `cause` is the Call-Disconnect-Notify result where we are the PAC (RFC 2637 §2.13).
    fn clear(&mut self, now: Instant, link: LinkId, why: &str, cause: ClearCause) {
        let Some(call) = self.calls.get(&link) else {
            return;
        };
        let (handle, id) = (call.conn, call.call);
        let cleared = match (id, self.conns.get_mut(&handle).and_then(|c| c.cc.as_mut())) {
            (Some(id), Some(cc)) => cc.clear_call(now, id, cause).is_ok(),
            _ => false,
        };
        if !cleared {
            self.drop_call(link, LinkDownCause::Failed, why);
        }
    }

    fn on_call_down(
        &mut self,
        now: Instant,
        handle: HandleId,
        call: CallId,
        reason: CallDownReason,
    ) {
        let Some(conn) = self.conns.get_mut(&handle) else {
            return;
        };
        let link = conn.calls.get(&call).copied();
        let peer = conn.peer_text.clone();
        let (cause, why) = match reason {
            CallDownReason::ClearedByPeer => (
                LinkDownCause::PeerHangup,
                "the peer cleared the call (Call-Clear-Request)".to_owned(),
            ),
            CallDownReason::Disconnected {
                result,
                error,
                cause,
            } => (
                LinkDownCause::PeerHangup,
                format!(
                    "the peer disconnected the call (Call-Disconnect-Notify, result {result:?}, error {error:?}, cause {cause})"
                ),
            ),
            CallDownReason::OutgoingRefused {
                result,
                error,
                cause,
            } => (
                LinkDownCause::Failed,
                format!(
                    "the peer refused the call (Outgoing-Call-Reply, result {result:?}, error {error:?}, cause {cause})"
                ),
            ),
            CallDownReason::IncomingRefused { result, error } => (
                LinkDownCause::Failed,
                format!(
                    "the peer refused the call (Incoming-Call-Reply, result {result:?}, error {error:?})"
                ),
            ),
            CallDownReason::Refused => (LinkDownCause::Failed, "the call was refused".to_owned()),
            CallDownReason::Cleared => (LinkDownCause::Requested, "call cleared".to_owned()),
            CallDownReason::Timeout => (LinkDownCause::Timeout, "no reply in time".to_owned()),
            CallDownReason::ControlClosed => (
                LinkDownCause::CarrierLost,
                "the control connection closed".to_owned(),
            ),
        };
        if let Some(link) = link {
            self.log(
                LogLevel::Info,
                format_args!("call {} with {peer} down: {why}", call.0),
            );
            self.drop_call(link, cause, &why);
        }
        let Some(conn) = self.conns.get_mut(&handle) else {
            return;
        };
        if conn.calls.is_empty() {
            conn.idle_since = Some(now);
        }
    }

    fn on_closed_event(&mut self, handle: HandleId, reason: CtlClose) {
        let Some(conn) = self.conns.get(&handle) else {
            return;
        };
        let peer = conn.peer_text.clone();
        let text = match reason {
            CtlClose::Local => {
                "stopped (Stop-Control-Connection-Request sent, reply received)".to_owned()
            }
            CtlClose::PeerStopped(r) => {
                format!("stopped by the peer (Stop-Control-Connection-Request, reason {r:?})")
            }
            CtlClose::StartRefused { result, error } => {
                format!("the peer refused to start it (result {result:?}, error {error:?})")
            }
            CtlClose::StartDeclined(r) => format!("start declined ({r:?})"),
            CtlClose::Version(v) => format!("unsupported protocol version {v:#06x}"),
            CtlClose::SetupTimeout => "not started in time".to_owned(),
            CtlClose::EchoTimeout => "no Echo-Reply (RFC 2637 §3.1.4)".to_owned(),
            CtlClose::StopTimeout => "no Stop-Control-Connection-Reply in time".to_owned(),
            CtlClose::Collision => "given up after a collision".to_owned(),
            CtlClose::Aborted => "aborted".to_owned(),
            CtlClose::TcpClosed => "the peer closed the TCP connection".to_owned(),
            CtlClose::Malformed(e) => format!("malformed message ({e}): closed"),
            CtlClose::Overload => "the peer made us queue too much output".to_owned(),
        };
        let level = match reason {
            CtlClose::Malformed(_) | CtlClose::Overload | CtlClose::EchoTimeout => LogLevel::Warn,
            _ => LogLevel::Info,
        };
        self.log(level, format_args!("control connection {peer} {text}"));
    }

    /// A new control connection on `handle` (accepted, or a dialled one that connected).
    fn open_conn(&mut self, now: Instant, handle: HandleId, peer: SocketAddr, kind: ConnKind) {
        let mut seed = [0u8; 8];
        // The seed makes Call IDs unpredictable (GRE injection needs the ID); without OS
        // randomness fall back to the clock and handle.
        if getrandom::fill(&mut seed).is_err() {
            seed = (self.host.now().as_nanos() ^ handle.0.rotate_left(32)).to_le_bytes();
        }
        let role = match kind {
            ConnKind::Answer => Role::Responder,
            ConnKind::Dial(_) => Role::Initiator,
        };
        let cc = ControlConnection::new(
            role,
            self.control_config(peer, u64::from_le_bytes(seed)),
            now,
        );
        let conn = self.conns.entry(handle).or_insert_with(|| Conn {
            cc: None,
            kind,
            peer,
            peer_text: peer.to_string(),
            calls: HashMap::new(),
            idle_since: None,
            armed: None,
            idle_closed: false,
            counted: false,
        });
        conn.cc = Some(cc);
        conn.idle_since = Some(now);
        self.pump(now, handle);
    }

    fn on_gre(&mut self, now: Instant, datagram: &[u8]) {
        self.counters.gre_rx += 1;
        let (src, packet) = match ipv4::gre_payload(datagram) {
            Ok(v) => v,
            Err(_) => {
                self.counters.gre_bad_ip += 1;
                return;
            }
        };
        let p = match gre_wire::Packet::new_checked(packet) {
            Ok(p) => p,
            Err(e) => {
                match e {
                    gre_wire::Error::BadVersion(_) => self.counters.gre_bad_version += 1,
                    gre_wire::Error::BadFlags(_) | gre_wire::Error::NoKey => {
                        self.counters.gre_bad_flags += 1
                    }
                    gre_wire::Error::BadProtocol(_) => self.counters.gre_bad_protocol += 1,
                    _ => self.counters.gre_malformed += 1,
                }
                return;
            }
        };
        let call_id = p.call_id();
        let Some(&link) = self.gre_index.get(&(src, call_id)) else {
            if self.registry.claimed_by_another(src, call_id) {
                // Another pptp link's call: the kernel gives its GRE to every raw socket.
                self.counters.gre_other_link += 1;
            } else if self.registry.claimed_by_us(src, call_id) {
                // A call we placed that is not up yet: the peer's first GRE can overtake
                // its reply, which comes over TCP.
                self.counters.gre_before_call_up += 1;
            } else if self.call_ids.contains_key(&call_id) {
                self.counters.gre_spoofed_source += 1;
            } else {
                self.counters.gre_unknown_call += 1;
            }
            return;
        };
        let (seq, ack) = (p.sequence(), p.ack());
        let payload = p.payload();
        let Some(buf) = self.rx_buf.get_mut(..payload.len()) else {
            self.counters.gre_malformed += 1;
            return;
        };
        buf.copy_from_slice(payload);
        let Some(call) = self.calls.get_mut(&link) else {
            return;
        };
        let Some(g) = call.gre.as_mut() else {
            // Accepted, not up yet (an Incoming-Call-Connected still on its way).
            self.counters.gre_before_call_up += 1;
            return;
        };
        match g.handle_parsed(now, call_id, seq, ack, buf) {
            Ok(Some(frame)) => match self.host.deliver_frame(link, frame) {
                Ok(()) => self.counters.rx_frames += 1,
                Err(_) => self.counters.rx_refused += 1,
            },
            Ok(None) | Err(RxDrop::WrongCall) | Err(RxDrop::Malformed(_)) => {}
            Err(RxDrop::Duplicate | RxDrop::Late | RxDrop::NoRoom) => {}
        }
        self.after_gre(now, link);
    }

    /// Delivers frames released from the reorder buffer and sends a due acknowledgment.
    fn after_gre(&mut self, now: Instant, link: LinkId) {
        let Some(call) = self.calls.get_mut(&link) else {
            return;
        };
        let Some(g) = call.gre.as_mut() else {
            return;
        };
        while let Some(frame) = g.poll_deliver() {
            match self.host.deliver_frame(link, frame) {
                Ok(()) => self.counters.rx_frames += 1,
                Err(_) => self.counters.rx_refused += 1,
            }
        }
        // Frames that waited for the window go first: they carry the acknowledgment we owe.
        if let (Some(ip), Some(sock)) = (call.peer_ip, self.gre) {
            let dst = IpAddress::V4(ip.octets());
            while let Some(packet) = g.poll_send(now, &mut self.tx_buf) {
                match self.host.send_to(sock, dst, packet) {
                    Ok(()) => self.counters.tx_frames += 1,
                    Err(_) => self.counters.tx_errors += 1,
                }
            }
        }
        if let (Some(len), Some(ip), Some(sock)) = (
            g.poll_transmit(now, &mut self.ack_buf),
            call.peer_ip,
            self.gre,
        ) && let Some(packet) = self.ack_buf.get(..len)
            && self
                .host
                .send_to(sock, IpAddress::V4(ip.octets()), packet)
                .is_err()
        {
            self.counters.tx_errors += 1;
        }
        self.signal_congestion(link);
        self.arm_call(link);
    }

    /// Tells the core when a call's transmit queue crossed its high- or low-water mark, so
    /// that it drops packets for the link before encrypting them (plugin ABI 1.2).
    fn signal_congestion(&mut self, link: LinkId) {
        let Some(call) = self.calls.get_mut(&link) else {
            return;
        };
        let congested = call.gre.as_ref().is_some_and(GreCall::congested);
        if congested != call.congested {
            call.congested = congested;
            self.host.set_link_congested(link, congested);
        }
    }

    fn on_conn_timer(&mut self, now: Instant, handle: HandleId) {
        let idle = self.config.control_idle_timeout;
        let Some(conn) = self.conns.get_mut(&handle) else {
            return;
        };
        conn.armed = None;
        let Some(cc) = conn.cc.as_mut() else {
            return;
        };
        cc.handle_timeout(now);
        if !conn.idle_closed
            && conn.calls.is_empty()
            && conn.idle_since.is_some_and(|t| t + idle <= now)
            && cc.state() == State::Established
        {
            conn.idle_closed = true;
            self.counters.control_idle_closed += 1;
            let peer = conn.peer_text.clone();
            cc.close(now, StopReason::None);
            self.log(
                LogLevel::Info,
                format_args!(
                    "control connection {peer}: no call for {} s, closing",
                    idle.as_secs()
                ),
            );
        }
        self.pump(now, handle);
    }

    fn on_call_timer(&mut self, now: Instant, link: LinkId) {
        let Some(call) = self.calls.get_mut(&link) else {
            return;
        };
        call.armed = None;
        if let Some(g) = call.gre.as_mut() {
            g.handle_timeout(now);
        }
        let setup_expired = !call.lcp_open && call.setup_deadline.is_some_and(|d| d <= now);
        if setup_expired {
            call.setup_deadline = None;
            self.counters.calls_setup_timeout += 1;
            let handle = call.conn;
            self.log(
                LogLevel::Info,
                format_args!(
                    "link {}: PPP not up {} s after the call came up: clearing it",
                    link.0,
                    self.config.call_setup_timeout.as_secs()
                ),
            );
            self.clear(
                now,
                link,
                "the PPP link did not come up in time",
                ClearCause::GeneralError,
            );
            self.pump(now, handle);
            return;
        }
        self.after_gre(now, link);
    }
}

impl Call {
    /// Whether this is a call we placed whose GRE index entry is not filed yet.
    fn gre_index_pending(&self) -> bool {
        matches!(
            self.role,
            Some(CallRole::PnsOutgoing | CallRole::PacIncoming)
        )
    }
}

/// The Call-Disconnect-Notify result (RFC 2637 §2.13) for the core's hangup cause; as PNS
/// the call is cleared with Call-Clear-Request whatever the cause (§2.12 has no result).
fn clear_cause(cause: HangupCause) -> ClearCause {
    match cause {
        HangupCause::LINE_DROP => ClearCause::LostCarrier,
        HangupCause::SESSION_END => ClearCause::Request,
        HangupCause::ERROR => ClearCause::GeneralError,
        // An administrator, the idle or session limit, no cause (a 1.1 host), or a cause
        // newer than this plugin: administrative.
        _ => ClearCause::AdminShutdown,
    }
}

/// Adds a call's GRE drop counters to ours.
fn add_gre_counters(c: &mut Counters, g: &GreCall) {
    let k = g.counters();
    c.gre_duplicate += k.rx_duplicate;
    c.gre_late += k.rx_late;
    c.gre_no_room += k.rx_no_room;
    c.gre_malformed += k.rx_malformed;
    c.gre_bad_ack += k.rx_bad_ack;
    c.gre_window_overflow += k.rx_window_overflow;
    c.tx_queued += k.tx_queued;
    c.tx_congested += k.tx_congested;
}

/// Adds a control connection's drop counters to ours.
fn add_control_counters(c: &mut Counters, cc: &ControlConnection) {
    let k = cc.counters();
    c.control_malformed += k.malformed;
    c.control_unknown_type += k.unknown_type;
    c.control_out_of_state += k.out_of_state;
    c.control_unknown_call += k.unknown_call;
}

impl Plugin for Pptp {
    const NAME: &'static str = "pptp";
    const KIND: PluginKind = PluginKind::LINK;
    const DESCRIPTION: &'static str = "PPTP (RFC 2637): control connections on TCP 1723, PPP over enhanced GRE; answers and places calls";
    const CONFIG_SCHEMA: &'static str = config::SCHEMA;
    const CONFIG_UI: &'static str = config::UI;

    fn new(config_toml: &str, host: HostHandle) -> Result<Self, PluginError> {
        let config = Config::parse(config_toml).map_err(PluginError::invalid_config)?;
        let gre_config = GreConfig {
            compat: config.gre_compat,
            initial_seq: 1,
            ..GreConfig::default()
        };
        let clock = Clock {
            base: Instant::now(),
            base_ts: host.now(),
        };
        Ok(Pptp {
            host,
            config,
            clock,
            gre_config,
            gre: None,
            listeners: Vec::new(),
            conns: HashMap::new(),
            calls: HashMap::new(),
            gre_index: HashMap::new(),
            call_ids: HashMap::new(),
            registry: Registry::new(),
            per_source: HashMap::new(),
            next_link: 0,
            rx_buf: vec![0; MAX_PAYLOAD].into_boxed_slice(),
            tx_buf: vec![0; gre::HEADER_ROOM + MAX_PAYLOAD].into_boxed_slice(),
            ack_buf: [0; gre_wire::MAX_HEADER_LEN],
            ctl_out: Vec::with_capacity(1024),
            counters: Counters::default(),
            published: None,
        })
    }

    fn start(&mut self, now: Timestamp) -> Result<(), PluginError> {
        self.publish_counters();
        self.host
            .set_timer(STATS_TIMER, now.saturating_add(STATS_INTERVAL));
        let bind = gre_bind_address(&self.config.mode);
        let gre = self
            .host
            .open_raw_ip(gre_wire::IP_PROTOCOL, bind.map(IpAddress::from))
            .map_err(|e| PluginError::failed(format_args!("opening the raw GRE socket: {e}")))?;
        if let Some(ip) = bind {
            self.log(LogLevel::Info, format_args!("GRE socket bound to {ip}"));
        }
        self.gre = Some(gre);
        if let Mode::Answer { listen } = &self.config.mode {
            for addr in listen.clone() {
                let h = self
                    .host
                    .tcp_listen(addr)
                    .map_err(|e| PluginError::failed(format_args!("listening on {addr}: {e}")))?;
                self.listeners.push(h);
                self.log(LogLevel::Info, format_args!("listening for PPTP on {addr}"));
            }
        }
        Ok(())
    }

    fn stop(&mut self, now: Timestamp) -> Result<(), PluginError> {
        let now = self.clock.instant(now);
        let handles: Vec<HandleId> = self.conns.keys().copied().collect();
        for h in handles {
            // RFC 2637 §2.3: Stop-Local-Shutdown; we do not wait for the reply.
            if let Some(cc) = self.conns.get_mut(&h).and_then(|c| c.cc.as_mut()) {
                cc.close(now, StopReason::LocalShutdown);
            }
            self.pump(now, h);
            self.host.close(h);
            self.forget_conn(h, "the plugin stopped");
        }
        for h in self.listeners.drain(..) {
            self.host.close(h);
        }
        if let Some(h) = self.gre.take() {
            self.host.close(h);
        }
        self.host.cancel_timer(STATS_TIMER);
        self.publish_counters();
        self.log(LogLevel::Info, format_args!("stopped: {}", self.counters));
        Ok(())
    }

    fn on_timer(&mut self, now: Timestamp, timer: TimerId) -> Result<(), PluginError> {
        if timer == STATS_TIMER {
            self.publish_counters();
            self.host
                .set_timer(STATS_TIMER, now.saturating_add(STATS_INTERVAL));
            return Ok(());
        }
        let now = self.clock.instant(now);
        if timer.0 & LINK_TIMER != 0 {
            self.on_call_timer(now, LinkId(timer.0 & !LINK_TIMER));
        } else {
            self.on_conn_timer(now, HandleId(timer.0));
        }
        Ok(())
    }

    fn on_data(
        &mut self,
        now: Timestamp,
        handle: HandleId,
        bytes: &[u8],
    ) -> Result<(), PluginError> {
        let now = self.clock.instant(now);
        if Some(handle) == self.gre {
            self.on_gre(now, bytes);
            return Ok(());
        }
        let Some(cc) = self.conns.get_mut(&handle).and_then(|c| c.cc.as_mut()) else {
            return Ok(());
        };
        cc.handle_bytes(now, bytes);
        self.pump(now, handle);
        Ok(())
    }

    fn on_tcp_accepted(
        &mut self,
        now: Timestamp,
        _listener: HandleId,
        conn: HandleId,
        peer: SocketAddress,
    ) -> Result<(), PluginError> {
        let now = self.clock.instant(now);
        let peer = SocketAddr::from(peer);
        let from_source = self.per_source.get(&peer.ip()).copied().unwrap_or(0);
        if from_source >= self.config.max_connections_per_source {
            self.counters.refused_per_source += 1;
            self.host.close(conn);
            self.log(
                LogLevel::Warn,
                format_args!("control connection from {peer} refused: {from_source} open from that address (max_connections_per_source)"),
            );
            return Ok(());
        }
        if self.conns.len() >= self.config.max_sessions as usize {
            self.counters.refused_max_connections += 1;
            self.host.close(conn);
            self.log(
                LogLevel::Warn,
                format_args!(
                    "control connection from {peer} refused: {} open (max_sessions)",
                    self.conns.len()
                ),
            );
            return Ok(());
        }
        self.counters.connections += 1;
        *self.per_source.entry(peer.ip()).or_insert(0) += 1;
        self.open_conn(now, conn, peer, ConnKind::Answer);
        Ok(())
    }

    fn on_connected(&mut self, now: Timestamp, handle: HandleId) -> Result<(), PluginError> {
        let now = self.clock.instant(now);
        let Some(conn) = self.conns.get(&handle) else {
            return Ok(());
        };
        let (peer, kind) = (conn.peer, conn.kind);
        self.open_conn(now, handle, peer, kind);
        Ok(())
    }

    fn on_closed(
        &mut self,
        now: Timestamp,
        handle: HandleId,
        reason: CloseReason,
    ) -> Result<(), PluginError> {
        let now = self.clock.instant(now);
        if Some(handle) == self.gre {
            self.gre = None;
            self.log(
                LogLevel::Error,
                format_args!("the raw GRE socket closed ({reason:?})"),
            );
            return Ok(());
        }
        if let Some(i) = self.listeners.iter().position(|&l| l == handle) {
            self.listeners.remove(i);
            self.log(
                LogLevel::Error,
                format_args!("a PPTP listener closed ({reason:?})"),
            );
            return Ok(());
        }
        let Some(conn) = self.conns.get_mut(&handle) else {
            return Ok(());
        };
        match conn.cc.as_mut() {
            Some(cc) => {
                cc.handle_tcp_closed();
                // Calls go down and the connection is forgotten by the pump (nothing more
                // can be written, so the write of what is left fails quietly).
                self.pump(now, handle);
                self.forget_conn(handle, "the control connection closed");
            }
            None => {
                let peer = conn.peer_text.clone();
                self.log(
                    LogLevel::Warn,
                    format_args!("connecting to {peer} failed ({reason:?})"),
                );
                self.forget_conn(handle, &format!("connecting to {peer} failed ({reason:?})"));
            }
        }
        Ok(())
    }

    fn dial(&mut self, _now: Timestamp, _target: &str) -> Result<LinkId, PluginError> {
        let Mode::Dial { target, .. } = self.config.mode else {
            return Err(PluginError::unsupported(
                "an answering pptp link (no target) does not dial",
            ));
        };
        let handle = self
            .host
            .tcp_connect(target)
            .map_err(|e| PluginError::failed(format_args!("connecting to {target}: {e}")))?;
        let link = self.new_link();
        self.conns.insert(
            handle,
            Conn {
                cc: None,
                kind: ConnKind::Dial(link),
                peer: target,
                peer_text: target.to_string(),
                calls: HashMap::new(),
                idle_since: None,
                armed: None,
                idle_closed: false,
                counted: false,
            },
        );
        *self.per_source.entry(target.ip()).or_insert(0) += 1;
        self.calls.insert(
            link,
            Call {
                conn: handle,
                call: None,
                role: None,
                peer_ip: None,
                gre: None,
                up: false,
                lcp_open: false,
                setup_deadline: None,
                armed: None,
                hangup: false,
                dialled: true,
                congested: false,
            },
        );
        self.log(
            LogLevel::Info,
            format_args!("dialling {target} as link {}", link.0),
        );
        Ok(link)
    }

    fn hangup(&mut self, now: Timestamp, link: LinkId) -> Result<(), PluginError> {
        self.hangup_with_cause(now, link, HangupCause::UNSPECIFIED)
    }

    fn hangup_with_cause(
        &mut self,
        now: Timestamp,
        link: LinkId,
        cause: HangupCause,
    ) -> Result<(), PluginError> {
        let now = self.clock.instant(now);
        let Some(call) = self.calls.get_mut(&link) else {
            // Already down: say so again, the core waits for it.
            self.host
                .link_down(link, LinkDownCause::Requested, "no such call");
            return Ok(());
        };
        call.hangup = true;
        let handle = call.conn;
        if call.call.is_none() {
            // Still connecting or starting the control connection: give it up.
            self.host.close(handle);
            self.forget_conn(handle, "hung up before the call was placed");
            return Ok(());
        }
        self.clear(now, link, "hung up", clear_cause(cause));
        self.pump(now, handle);
        Ok(())
    }

    fn send_frame(
        &mut self,
        now: Timestamp,
        link: LinkId,
        frame: &[u8],
    ) -> Result<(), PluginError> {
        let Some(call) = self.calls.get_mut(&link) else {
            self.counters.tx_no_call += 1;
            return Ok(());
        };
        let (Some(g), Some(ip), Some(sock)) = (call.gre.as_mut(), call.peer_ip, self.gre) else {
            self.counters.tx_no_call += 1;
            return Ok(());
        };
        let len = frame.len();
        let Some(dst) = self
            .tx_buf
            .get_mut(gre::HEADER_ROOM..gre::HEADER_ROOM + len)
        else {
            self.counters.tx_errors += 1;
            return Ok(());
        };
        dst.copy_from_slice(frame);
        let now = self.clock.instant(now);
        match g.send(now, &mut self.tx_buf, len) {
            Ok(Sent::Now(packet)) => {
                match self.host.send_to(sock, IpAddress::V4(ip.octets()), packet) {
                    Ok(()) => self.counters.tx_frames += 1,
                    Err(_) => self.counters.tx_errors += 1,
                }
            }
            Ok(Sent::Queued) => {}
            Err(SendError::WindowFull) => self.counters.tx_window_full += 1,
            Err(SendError::BufferTooSmall | SendError::BadLength) => self.counters.tx_errors += 1,
        }
        self.signal_congestion(link);
        self.arm_call(link);
        Ok(())
    }

    fn set_link_params(
        &mut self,
        now: Timestamp,
        link: LinkId,
        params: LinkParams,
    ) -> Result<(), PluginError> {
        let now = self.clock.instant(now);
        let Some(call) = self.calls.get_mut(&link) else {
            return Ok(());
        };
        call.lcp_open = true;
        call.setup_deadline = None;
        let (handle, id, role) = (call.conn, call.call, call.role);
        // RFC 2637 §2.15: the PNS tells the PAC the ACCMs PPP negotiated; a PAC has nothing
        // to send (and no async line here to apply them to).
        if let (Some(id), Some(CallRole::PnsOutgoing | CallRole::PnsIncoming)) = (id, role)
            && let Some(cc) = self.conns.get_mut(&handle).and_then(|c| c.cc.as_mut())
            && cc.set_link_info(id, params.tx_accm, params.rx_accm).is_ok()
        {
            self.counters.set_link_info += 1;
            self.pump(now, handle);
        }
        Ok(())
    }
}

dialgate_plugin_sdk::export_plugin!(Pptp);

/// The local address the raw GRE socket is bound to: the one address an answering link
/// listens on, when it listens on exactly one specific IPv4 address. The kernel then hands the
/// socket only GRE sent to that address, so another PPTP server on the same host (another
/// routerd, on another address) does not see this link's GRE, nor this one its. Listening on
/// `0.0.0.0` or on several addresses, and dialing, leave the socket unbound (GRE arrives for
/// every address, and the shared Call ID registry tells the links of one routerd apart).
fn gre_bind_address(mode: &Mode) -> Option<std::net::IpAddr> {
    let Mode::Answer { listen } = mode else {
        return None;
    };
    let first = listen.first()?.ip();
    let one = listen.iter().all(|a| a.ip() == first);
    (one && first.is_ipv4() && !first.is_unspecified()).then_some(first)
}
