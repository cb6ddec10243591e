//! The NBF forwarder, sans-IO: which PPP sessions a LAN frame goes to, and what LAN frame a
//! session's NBF frame becomes. Bytes and time in; session ids and frame bytes out (into
//! buffers the caller owns); no I/O, no clock, no allocation per frame once warm.
//!
//! Each session that may use the plugin gets a slot, and the slot its own LAN MAC address:
//! `mac_base + slot` (locally administered, unique within the instance). Towards the LAN a
//! caller *is* that MAC address: its frames leave with it as source, and frames the LAN sends
//! to it go to the session. So LAN stations reach the caller's NetBIOS names, and the caller
//! reaches theirs, without anyone re-addressing anything (see the README).
//!
//! # Session → LAN (RFC 2097 §2.1, §3.4)
//!
//! The PPP information field is the NBF frame from its IEEE 802.2 LLC header on, or, if the
//! peer negotiated IEEE-MAC-Address-Required (§3.4), with an 802.3 MAC header before it. With
//! a MAC header the destination is the caller's. Without one it is derived:
//! - name-addressed queries and datagrams (ADD_NAME_QUERY, NAME_QUERY, DATAGRAM, ...) go to
//!   the NetBIOS group address `03:00:00:00:00:01`, as NBF sends them on Ethernet;
//! - responses (NAME_RECOGNIZED, ADD_NAME_RESPONSE, STATUS_RESPONSE) go to the station whose
//!   query they answer: the querier is remembered per session by the query's response
//!   correlator (a bounded ring), which the response carries as its transmit correlator;
//! - everything else (LLC connection frames: SABME, UA, I, RR, ...; session data) goes to the
//!   session's *LLC peer*: the last LAN station that sent the session a unicast frame
//!   (normally the one that answered its NAME_QUERY). Without MAC headers a caller can
//!   therefore hold LLC connections to one LAN station at a time; with them, to any number.
//!
//! # LAN → sessions
//!
//! - A unicast frame to a session's MAC goes to that session.
//! - A group-addressed (NetBIOS multicast or broadcast) name-addressed frame whose
//!   destination name is one of a session's names (projected with Name-Projection, §3.1, or
//!   seen as the source of the caller's own name frames) goes to that session: its owner
//!   must see queries for its names to answer and defend them (§2.3).
//! - Any other group-addressed frame goes to every session, within a per-session limit of
//!   `multicast_burst` frames per window: the window is the Multicast-Filtering period the
//!   peer asked for (§3.3), or one second when it asked for none; a period of 0xFFFF stops
//!   them. Frames over the limit are dropped and counted.
//! - Frames from one of our own session MACs (looped back by a switch) are dropped.

use dialgate_plugin_sdk::Timestamp;

use crate::wire::netbios::{Command, Name};
use crate::wire::{MacAddr, NbfFrame, ethernet};

/// How many queriers a session remembers for its responses.
pub const QUERIERS: usize = 8;
/// How many NetBIOS names a session is known by (projected and learned).
pub const MAX_NAMES: usize = 32;
/// The Multicast-Filtering period that means "never forward multicast" (RFC 2097 §3.3).
pub const NEVER: u16 = 0xFFFF;

/// What the forwarder is configured with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForwarderConfig {
    /// The first session MAC; slot `n` gets `mac_base + n`.
    pub mac_base: MacAddr,
    /// The most sessions served at once (slots).
    pub max_sessions: u16,
    /// Forward group-addressed LAN frames that are not for a session's own names.
    pub forward_multicast: bool,
    /// At most this many of those per session per window.
    pub multicast_burst: u32,
    /// The window when the peer asked for no Multicast-Filtering period, in seconds.
    pub multicast_window_secs: u16,
    /// Users whose sessions may use the plugin; empty: every session.
    pub users: Vec<String>,
}

/// What the NCP negotiated for a session (from `on_session_up`'s TOML).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SessionParams {
    /// The authenticated user.
    pub user: String,
    /// The peer asked for MAC headers (IEEE-MAC-Address-Required, §3.4).
    pub mac_headers: bool,
    /// The Multicast-Filtering period the peer asked for (§3.3).
    pub multicast_period: Option<u16>,
    /// Names the peer projected (Name-Projection, §3.1).
    pub names: Vec<Name>,
}

/// Why a session cannot use the forwarder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UpError {
    /// Its user is not in `users`.
    NotAllowed,
    /// Every slot is taken.
    Full,
}

/// Why a frame was not forwarded. Each is counted ([`Counters`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Drop {
    /// Not an 802.3 frame with a length field, or a truncated one.
    NotLlc,
    /// LLC SAPs other than NetBIOS's (0xF0).
    NotNetbios,
    /// An LLC UI frame without a valid NetBIOS header.
    Malformed,
    /// A LAN frame whose source is one of our session MACs.
    Looped,
    /// A unicast LAN frame to a MAC that is not a session's.
    NotForUs,
    /// A group-addressed LAN frame while multicast forwarding is off, or that no session may
    /// take now.
    Multicast,
    /// A frame from or for a session the forwarder does not serve.
    UnknownSession,
    /// A session frame whose LAN destination is not known (a response to no remembered
    /// query, or a connection frame before any LAN station spoke to the session).
    NoDestination,
    /// Longer than an 802.3 frame carries, or than the output buffer.
    TooLong,
}

impl Drop {
    /// The counter name of this reason.
    pub const fn counter(self) -> &'static str {
        match self {
            Drop::NotLlc => "drop_not_llc",
            Drop::NotNetbios => "drop_not_netbios",
            Drop::Malformed => "drop_malformed",
            Drop::Looped => "drop_looped",
            Drop::NotForUs => "drop_not_for_us",
            Drop::Multicast => "drop_multicast",
            Drop::UnknownSession => "drop_unknown_session",
            Drop::NoDestination => "drop_no_destination",
            Drop::TooLong => "drop_too_long",
        }
    }

    /// Every reason, for publishing counters.
    pub const ALL: [Drop; 9] = [
        Drop::NotLlc,
        Drop::NotNetbios,
        Drop::Malformed,
        Drop::Looped,
        Drop::NotForUs,
        Drop::Multicast,
        Drop::UnknownSession,
        Drop::NoDestination,
        Drop::TooLong,
    ];

    fn index(self) -> usize {
        match self {
            Drop::NotLlc => 0,
            Drop::NotNetbios => 1,
            Drop::Malformed => 2,
            Drop::Looped => 3,
            Drop::NotForUs => 4,
            Drop::Multicast => 5,
            Drop::UnknownSession => 6,
            Drop::NoDestination => 7,
            Drop::TooLong => 8,
        }
    }
}

/// What the forwarder did, counted since it started.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Counters {
    /// LAN frames seen.
    pub lan_frames: u64,
    /// Deliveries of LAN frames to sessions (a frame to three sessions counts three).
    pub to_sessions: u64,
    /// Of those, group-addressed frames delivered within the multicast limit.
    pub multicast_forwarded: u64,
    /// Group-addressed frames a session did not get because of its limit or its period.
    pub multicast_limited: u64,
    /// Session frames seen.
    pub session_frames: u64,
    /// Session frames sent on the LAN.
    pub to_lan: u64,
    /// Dropped frames by reason ([`Drop::index`]).
    pub drops: [u64; 9],
}

impl Counters {
    /// Drops for `reason`.
    pub fn dropped(&self, reason: Drop) -> u64 {
        self.drops.get(reason.index()).copied().unwrap_or(0)
    }

    /// Every counter as `(name, value)`, for `Host::set_counter`.
    pub fn named(&self) -> impl Iterator<Item = (&'static str, u64)> + '_ {
        [
            ("lan_frames", self.lan_frames),
            ("to_sessions", self.to_sessions),
            ("multicast_forwarded", self.multicast_forwarded),
            ("multicast_limited", self.multicast_limited),
            ("session_frames", self.session_frames),
            ("to_lan", self.to_lan),
        ]
        .into_iter()
        .chain(Drop::ALL.iter().map(|d| (d.counter(), self.dropped(*d))))
    }
}

/// One served session.
#[derive(Debug, Clone)]
struct Session {
    id: u64,
    mac: MacAddr,
    mac_headers: bool,
    /// The caller's own MAC, as its MAC headers say (MAC-header sessions).
    caller_mac: Option<MacAddr>,
    names: Vec<Name>,
    llc_peer: Option<MacAddr>,
    /// (response correlator of a query, querier), most recent at `next_querier - 1`.
    queriers: [Option<(u16, MacAddr)>; QUERIERS],
    next_querier: usize,
    multicast_period: Option<u16>,
    window_start: Option<Timestamp>,
    window_count: u32,
}

impl Session {
    fn owns(&self, name: &Name) -> bool {
        self.names.iter().any(|n| n == name)
    }

    fn learn_name(&mut self, name: Name) {
        if self.owns(&name) {
            return;
        }
        if self.names.len() >= MAX_NAMES {
            self.names.remove(0);
        }
        self.names.push(name);
    }

    fn remember_querier(&mut self, correlator: u16, mac: MacAddr) {
        if let Some(slot) = self.queriers.get_mut(self.next_querier % QUERIERS) {
            *slot = Some((correlator, mac));
        }
        self.next_querier = (self.next_querier + 1) % QUERIERS;
    }

    /// The querier a response with transmit correlator `correlator` answers; the most
    /// recent querier when none matches.
    fn querier(&self, correlator: u16) -> Option<MacAddr> {
        let exact = self
            .queriers
            .iter()
            .flatten()
            .find(|(c, _)| *c == correlator)
            .map(|(_, m)| *m);
        let latest = (self.next_querier + QUERIERS - 1) % QUERIERS;
        exact.or_else(|| self.queriers.get(latest).copied().flatten().map(|(_, m)| m))
    }

    /// Whether one more group-addressed frame may go to this session now (and counts it).
    fn take_multicast(&mut self, now: Timestamp, burst: u32, default_window: u16) -> bool {
        let window = match self.multicast_period {
            Some(NEVER) => return false,
            Some(p) if p > 0 => p,
            _ => default_window,
        };
        let window = std::time::Duration::from_secs(u64::from(window));
        let fresh = match self.window_start {
            Some(start) => now.saturating_duration_since(start) >= window,
            None => true,
        };
        if fresh {
            self.window_start = Some(now);
            self.window_count = 0;
        }
        if self.window_count >= burst {
            return false;
        }
        self.window_count += 1;
        true
    }
}

/// The forwarder; see the [module docs](self).
#[derive(Debug)]
pub struct Forwarder {
    config: ForwarderConfig,
    /// Indexed by slot.
    slots: Vec<Option<Session>>,
    counters: Counters,
}

impl Forwarder {
    /// A forwarder with no sessions.
    pub fn new(config: ForwarderConfig) -> Self {
        let slots = vec![None; usize::from(config.max_sessions)];
        Forwarder {
            config,
            slots,
            counters: Counters::default(),
        }
    }

    /// The counters.
    pub fn counters(&self) -> &Counters {
        &self.counters
    }

    fn drop(&mut self, reason: Drop) -> Drop {
        if let Some(c) = self.counters.drops.get_mut(reason.index()) {
            *c += 1;
        }
        reason
    }

    /// The MAC of slot `slot`.
    pub fn slot_mac(&self, slot: u16) -> MacAddr {
        let [a, b, c, d, e, f] = self.config.mac_base.0;
        let low = u16::from_be_bytes([e, f]).wrapping_add(slot).to_be_bytes();
        MacAddr([a, b, c, d, low[0], low[1]])
    }

    fn session(&self, id: u64) -> Option<&Session> {
        self.slots.iter().flatten().find(|s| s.id == id)
    }

    fn session_mut(&mut self, id: u64) -> Option<&mut Session> {
        self.slots.iter_mut().flatten().find(|s| s.id == id)
    }

    /// The LAN MAC of session `id`, if it is served.
    pub fn mac_of(&self, id: u64) -> Option<MacAddr> {
        self.session(id).map(|s| s.mac)
    }

    /// Number of sessions served.
    pub fn sessions(&self) -> usize {
        self.slots.iter().flatten().count()
    }

    /// NBFCP opened on session `id`: give it a slot and a MAC (the same ones again if it is
    /// served already, with the new parameters).
    pub fn session_up(&mut self, id: u64, params: SessionParams) -> Result<MacAddr, UpError> {
        if !self.config.users.is_empty() && !self.config.users.contains(&params.user) {
            return Err(UpError::NotAllowed);
        }
        let slot = match self
            .slots
            .iter()
            .position(|s| s.as_ref().is_some_and(|s| s.id == id))
        {
            Some(slot) => slot,
            None => self
                .slots
                .iter()
                .position(Option::is_none)
                .ok_or(UpError::Full)?,
        };
        let mac = self.slot_mac(u16::try_from(slot).unwrap_or(u16::MAX));
        let mut names = params.names;
        names.truncate(MAX_NAMES);
        let session = Session {
            id,
            mac,
            mac_headers: params.mac_headers,
            caller_mac: None,
            names,
            llc_peer: None,
            queriers: [None; QUERIERS],
            next_querier: 0,
            multicast_period: params.multicast_period,
            window_start: None,
            window_count: 0,
        };
        if let Some(s) = self.slots.get_mut(slot) {
            *s = Some(session);
        }
        Ok(mac)
    }

    /// NBFCP closed or the session ended: its slot and MAC are free again.
    pub fn session_down(&mut self, id: u64) -> bool {
        match self
            .slots
            .iter_mut()
            .find(|s| s.as_ref().is_some_and(|s| s.id == id))
        {
            Some(slot) => {
                *slot = None;
                true
            }
            None => false,
        }
    }

    /// A LAN frame (802.3 header on, FCS off) arrived at `now`. The sessions it goes to are
    /// put in `targets` (cleared first); [`for_session`](Self::for_session) then gives each
    /// one's information field.
    pub fn from_lan(
        &mut self,
        now: Timestamp,
        frame: &[u8],
        targets: &mut Vec<u64>,
    ) -> Result<(), Drop> {
        targets.clear();
        self.counters.lan_frames += 1;
        let Ok(eth) = ethernet::Frame::new_checked(frame) else {
            return Err(self.drop(Drop::NotLlc));
        };
        let nbf = match NbfFrame::parse(eth.payload()) {
            Ok(nbf) => nbf,
            Err(crate::wire::NbfError::NotNetbios { .. }) => {
                return Err(self.drop(Drop::NotNetbios));
            }
            Err(crate::wire::NbfError::Llc(_)) => return Err(self.drop(Drop::NotLlc)),
            Err(crate::wire::NbfError::NetBios(_)) => return Err(self.drop(Drop::Malformed)),
        };
        let (src, dst) = (eth.src(), eth.dst());
        if self.slots.iter().flatten().any(|s| s.mac == src) {
            return Err(self.drop(Drop::Looped));
        }
        let header = nbf.netbios;
        if !dst.is_group() {
            let Some(session) = self.slots.iter_mut().flatten().find(|s| s.mac == dst) else {
                return Err(self.drop(Drop::NotForUs));
            };
            // The station that talks to the caller is the one its connection frames go to.
            session.llc_peer = Some(src);
            if let Some(h) = header.filter(|h| is_query(h.command)) {
                session.remember_querier(h.resp_correlator, src);
            }
            targets.push(session.id);
            self.counters.to_sessions += 1;
            return Ok(());
        }
        // Group-addressed: first the owners of the destination name.
        let dest_name = header.and_then(|h| match h.addressing {
            crate::wire::netbios::Addressing::Names { dest, .. } => Some(dest),
            crate::wire::netbios::Addressing::Sessions { .. } => None,
        });
        let query = header.filter(|h| is_query(h.command));
        for s in self.slots.iter_mut().flatten() {
            if dest_name.is_some_and(|n| s.owns(&n)) {
                if let Some(h) = query {
                    s.remember_querier(h.resp_correlator, src);
                }
                targets.push(s.id);
            }
        }
        let owners = targets.len();
        if owners == 0 && self.config.forward_multicast {
            let (burst, window) = (
                self.config.multicast_burst,
                self.config.multicast_window_secs,
            );
            for s in self.slots.iter_mut().flatten() {
                if s.take_multicast(now, burst, window) {
                    if let Some(h) = query {
                        s.remember_querier(h.resp_correlator, src);
                    }
                    targets.push(s.id);
                    self.counters.multicast_forwarded += 1;
                } else {
                    self.counters.multicast_limited += 1;
                }
            }
        }
        if targets.is_empty() {
            return Err(self.drop(Drop::Multicast));
        }
        self.counters.to_sessions += targets.len() as u64;
        Ok(())
    }

    /// The information field LAN frame `frame` (accepted by [`from_lan`](Self::from_lan))
    /// becomes on session `id`: the LLC PDU, or for a MAC-header session the frame with the
    /// caller's own MAC as destination when it was ours, written into `out`.
    pub fn for_session<'a>(&self, id: u64, frame: &'a [u8], out: &'a mut [u8]) -> Option<&'a [u8]> {
        let session = self.session(id)?;
        let eth = ethernet::Frame::new_checked(frame).ok()?;
        if !session.mac_headers {
            return frame.get(eth.payload_range());
        }
        let len = ethernet::HEADER_LEN + eth.payload().len();
        let dst = match (eth.dst() == session.mac, session.caller_mac) {
            (true, Some(caller)) => caller,
            _ => eth.dst(),
        };
        let header = ethernet::Repr {
            dst,
            src: eth.src(),
            payload_len: eth.payload().len(),
        };
        let buf = out.get_mut(..len)?;
        header.emit(buf).ok()?;
        buf.get_mut(ethernet::HEADER_LEN..)?
            .copy_from_slice(eth.payload());
        Some(buf)
    }

    /// Session `id` sent information field `info` at `now`: the LAN frame it becomes is
    /// written into `out` (padded to the 60-octet minimum); its length is returned.
    pub fn from_session(
        &mut self,
        _now: Timestamp,
        id: u64,
        info: &[u8],
        out: &mut [u8],
    ) -> Result<usize, Drop> {
        self.counters.session_frames += 1;
        let Some(session) = self.session(id) else {
            return Err(self.drop(Drop::UnknownSession));
        };
        let (pdu, given_dst, caller_src) = if session.mac_headers {
            let Ok(eth) = ethernet::Frame::new_checked(info) else {
                return Err(self.drop(Drop::NotLlc));
            };
            let pdu = info.get(eth.payload_range()).unwrap_or_default();
            (pdu, Some(eth.dst()), Some(eth.src()))
        } else {
            (info, None, None)
        };
        let nbf = match NbfFrame::parse(pdu) {
            Ok(nbf) => nbf,
            Err(crate::wire::NbfError::NotNetbios { .. }) => {
                return Err(self.drop(Drop::NotNetbios));
            }
            Err(crate::wire::NbfError::Llc(_)) => return Err(self.drop(Drop::NotLlc)),
            Err(crate::wire::NbfError::NetBios(_)) => return Err(self.drop(Drop::Malformed)),
        };
        if pdu.len() > ethernet::MAX_PAYLOAD {
            return Err(self.drop(Drop::TooLong));
        }
        let dst = match given_dst {
            Some(dst) => Some(dst),
            None => destination(session, &nbf),
        };
        let Some(dst) = dst else {
            return Err(self.drop(Drop::NoDestination));
        };
        let src = session.mac;
        let len = (ethernet::HEADER_LEN + pdu.len()).max(ethernet::MIN_FRAME);
        let Some(buf) = out.get_mut(..len) else {
            return Err(self.drop(Drop::TooLong));
        };
        let header = ethernet::Repr {
            dst,
            src,
            payload_len: pdu.len(),
        };
        if header.emit(buf).is_err() {
            return Err(self.drop(Drop::TooLong));
        }
        let end = ethernet::HEADER_LEN + pdu.len();
        if let Some(body) = buf.get_mut(ethernet::HEADER_LEN..end) {
            body.copy_from_slice(pdu);
        }
        if let Some(pad) = buf.get_mut(end..) {
            pad.fill(0);
        }
        // Learn the caller's names and MAC from what it sends.
        if let Some(session) = self.session_mut(id) {
            if let Some(caller) = caller_src {
                session.caller_mac = Some(caller);
            }
            if let Some(h) = nbf.netbios
                && let crate::wire::netbios::Addressing::Names { source, .. } = h.addressing
                && claims_source_name(h.command)
            {
                session.learn_name(source);
            }
        }
        self.counters.to_lan += 1;
        Ok(len)
    }
}

/// Commands whose responder answers the querier (by its response correlator).
fn is_query(c: Command) -> bool {
    matches!(
        c,
        Command::NameQuery
            | Command::AddNameQuery
            | Command::AddGroupNameQuery
            | Command::StatusQuery
    )
}

/// Commands whose source name is a name the sender holds (or is adding).
fn claims_source_name(c: Command) -> bool {
    matches!(
        c,
        Command::AddNameQuery
            | Command::AddGroupNameQuery
            | Command::NameQuery
            | Command::Datagram
            | Command::DatagramBroadcast
            | Command::StatusQuery
    )
}

/// Where a session's frame without MAC header goes on the LAN (see the module docs).
fn destination(session: &Session, nbf: &NbfFrame) -> Option<MacAddr> {
    match nbf.netbios {
        Some(h) if h.command.is_response() => session.querier(h.xmit_correlator),
        Some(h) if nbf.llc.control.is_ui() && h.command.is_name_addressed() => {
            Some(MacAddr::NETBIOS_MULTICAST)
        }
        _ => session.llc_peer,
    }
}

#[cfg(test)]
mod tests;
