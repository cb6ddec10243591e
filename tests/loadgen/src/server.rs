//! A minimal PPTP server, sans-IO, on the same crates: it answers Start-Control-Connection-
//! Request and Outgoing-Call-Request as a PAC (RFC 2637 §3.1.2, §3.2.4.1), runs enhanced GRE
//! (§4) and a PPP engine per call that authenticates with MS-CHAPv2, requires MPPE-128,
//! assigns an address from a pool, and answers every ICMP echo request itself (there is no
//! LAN behind it).
//!
//! It is not the product (routerd with the pptp plugin is): it lets the load generator be
//! tested without routerd, and measures the load generator's own ceiling (`pptp-testserver`).

use std::collections::VecDeque;
use std::fmt;
use std::net::Ipv4Addr;
use std::ops::Range;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use dialgate_ppp::ncp::AddressPool;
use dialgate_ppp::{Config, Engine, Protocol};
use dialgate_pptp::control::{self, CallId, ControlConfig, ControlConnection, Refusal};
use dialgate_pptp::gre::{GreCall, GreConfig, HEADER_ROOM};
use dialgate_wire::pptp::StartResult;

use crate::client::splitmix;
use crate::icmp;

/// How the test server misbehaves (for the client's failure tests).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Quirk {
    /// Behave.
    #[default]
    None,
    /// Refuse every Start-Control-Connection-Request (Not-Authorized).
    RefuseStart,
    /// Refuse every call (Busy).
    RefuseCalls,
    /// Never answer echo requests.
    NoEchoReplies,
}

/// Settings shared by every connection.
#[derive(Clone)]
pub struct ServerSettings {
    /// PPP: authenticator, IPCP server with its pool, MPPE policy.
    pub ppp: Config,
    /// Control connection settings (the seed is set per connection).
    pub control: ControlConfig,
    /// GRE settings.
    pub gre: GreConfig,
    /// Misbehaviour.
    pub quirk: Quirk,
}

impl fmt::Debug for ServerSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerSettings")
            .field("quirk", &self.quirk)
            .finish_non_exhaustive()
    }
}

/// A pool of consecutive IPv4 addresses.
#[derive(Debug)]
pub struct RangePool(Mutex<Vec<Ipv4Addr>>);

impl RangePool {
    /// `count` addresses from `first` on.
    pub fn new(first: Ipv4Addr, count: u32) -> Self {
        let base = u32::from(first);
        Self(Mutex::new(
            (0..count)
                .rev()
                .map(|i| Ipv4Addr::from(base.wrapping_add(i)))
                .collect(),
        ))
    }
}

impl AddressPool for RangePool {
    fn allocate(&self, _user: &str, _hint: Option<Ipv4Addr>) -> Option<Ipv4Addr> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).pop()
    }

    fn release(&self, addr: Ipv4Addr) {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(addr);
    }
}

/// What the server's driver counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServerEvent {
    /// A call came up.
    CallUp,
    /// A call went down.
    CallDown,
    /// The peer sent Stop-Control-Connection-Request.
    Stopped,
}

#[derive(Debug)]
struct ServerCall {
    id: u16,
    gre: GreCall,
    engine: Engine,
    queued: bool,
    /// Echo replies (IP datagrams) to encrypt and send.
    replies: VecDeque<Vec<u8>>,
}

/// Most echo replies a call holds before it drops new ones.
const MAX_REPLIES: usize = 16;

/// One control connection of the server (see the module documentation).
#[derive(Debug)]
pub struct ServerConn {
    settings: Arc<ServerSettings>,
    control: ControlConnection,
    calls: Vec<ServerCall>,
    /// Call requests waiting for [`accept_calls`](Self::accept_calls).
    requested: Vec<CallId>,
    released: Vec<u16>,
    events: VecDeque<ServerEvent>,
    seed: u64,
    frame: Vec<u8>,
}

impl ServerConn {
    /// A connection the peer just opened.
    pub fn new(settings: Arc<ServerSettings>, mut seed: u64, now: Instant) -> Self {
        let config = ControlConfig {
            seed: splitmix(&mut seed),
            ..settings.control.clone()
        };
        let mut control = ControlConnection::new(control::Role::Responder, config, now);
        if settings.quirk == Quirk::RefuseStart {
            control.refuse_start(StartResult::NotAuthorized);
        }
        Self {
            settings,
            control,
            calls: Vec::new(),
            requested: Vec::new(),
            released: Vec::new(),
            events: VecDeque::new(),
            seed,
            frame: Vec::with_capacity(128),
        }
    }

    /// Calls currently up.
    pub fn calls(&self) -> usize {
        self.calls.len()
    }

    /// The engine of the call with our Call ID `id`.
    pub fn engine(&self, id: u16) -> Option<&Engine> {
        self.calls.iter().find(|c| c.id == id).map(|c| &c.engine)
    }

    /// Bytes read from the TCP connection.
    pub fn handle_tcp(&mut self, now: Instant, bytes: &[u8]) {
        self.control.handle_bytes(now, bytes);
        self.process(now);
    }

    /// The peer closed the TCP connection.
    pub fn handle_tcp_closed(&mut self, now: Instant) {
        self.control.handle_tcp_closed();
        self.process(now);
    }

    /// Whether [`accept_calls`](Self::accept_calls) has work.
    pub fn wants_accept(&self) -> bool {
        !self.requested.is_empty()
    }

    /// Answer the calls the peer asked for: `claim(id)` reserves our Call ID for GRE from
    /// this peer, or says another connection from it uses the ID (the call is refused).
    pub fn accept_calls(&mut self, now: Instant, mut claim: impl FnMut(u16) -> bool) {
        for call in std::mem::take(&mut self.requested) {
            if self.settings.quirk == Quirk::RefuseCalls || !claim(call.0) {
                let _ = self.control.refuse_call(call, Refusal::Busy);
            } else if self.control.accept_call(now, call).is_err() {
                // The peer cleared it meanwhile.
                self.released.push(call.0);
            }
        }
        self.process(now);
    }

    /// The next Call ID the driver must forget.
    pub fn poll_released(&mut self) -> Option<u16> {
        self.released.pop()
    }

    /// The next event.
    pub fn poll_event(&mut self) -> Option<ServerEvent> {
        self.events.pop_front()
    }

    /// Move pending control output to the end of `buf`.
    pub fn poll_tcp_transmit(&mut self, buf: &mut Vec<u8>) -> bool {
        self.control.poll_transmit(buf)
    }

    /// Whether the connection is over.
    pub fn is_done(&self) -> bool {
        self.control.is_closed()
    }

    /// A GRE packet for our Call ID `call_id`; false when no call has it.
    pub fn handle_gre(
        &mut self,
        now: Instant,
        call_id: u16,
        seq: Option<u32>,
        ack: Option<u32>,
        payload: &mut [u8],
    ) -> bool {
        let answer = self.settings.quirk != Quirk::NoEchoReplies;
        let Some(call) = self.calls.iter_mut().find(|c| c.id == call_id) else {
            return false;
        };
        call.queued = true;
        if let Ok(Some(frame)) = call.gre.handle_parsed(now, call_id, seq, ack, payload) {
            Self::deliver(&mut call.engine, &mut call.replies, now, frame, answer);
        }
        while let Some(frame) = call.gre.poll_deliver() {
            Self::deliver(&mut call.engine, &mut call.replies, now, frame, answer);
        }
        true
    }

    /// Hand a frame to the engine; queue the reply to an echo request.
    fn deliver(
        engine: &mut Engine,
        replies: &mut VecDeque<Vec<u8>>,
        now: Instant,
        frame: &mut [u8],
        answer: bool,
    ) {
        let Some(d) = engine.handle_frame(now, frame) else {
            return;
        };
        if d.protocol != Protocol::IPV4 || !answer || replies.len() >= MAX_REPLIES {
            return;
        }
        if let Some((false, echo)) = icmp::parse(d.payload) {
            let reply = icmp::Echo {
                src: echo.dst,
                dst: echo.src,
                ..echo
            };
            let mut ip = vec![0u8; icmp::ECHO_LEN];
            if icmp::emit(reply, true, &mut ip).is_some() {
                replies.push_back(ip);
            }
        }
    }

    /// The earliest deadline.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let calls = self.calls.iter().filter_map(|c| {
            [c.engine.poll_timeout(), c.gre.poll_timeout()]
                .into_iter()
                .flatten()
                .min()
        });
        self.control.poll_timeout().into_iter().chain(calls).min()
    }

    /// Run the timers due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.control.poll_timeout().is_some_and(|t| t <= now) {
            self.control.handle_timeout(now);
        }
        for c in &mut self.calls {
            if c.engine.poll_timeout().is_some_and(|t| t <= now) {
                c.engine.handle_timeout(now);
                c.queued = true;
            }
            if c.gre.poll_timeout().is_some_and(|t| t <= now) {
                c.gre.handle_timeout(now);
                c.queued = true;
            }
        }
        self.process(now);
    }

    /// The next GRE packet to send, built in `buf`: its range.
    pub fn poll_gre_transmit(&mut self, now: Instant, buf: &mut [u8]) -> Option<Range<usize>> {
        for call in &mut self.calls {
            if !call.queued {
                continue;
            }
            if call.gre.can_send() {
                self.frame.clear();
                let len = if call.engine.poll_transmit(&mut self.frame) {
                    let len = self.frame.len();
                    buf.get_mut(HEADER_ROOM..HEADER_ROOM + len)?
                        .copy_from_slice(&self.frame);
                    Some(len)
                } else if let Some(ip) = call.replies.pop_front() {
                    let out = buf.get_mut(HEADER_ROOM..)?;
                    call.engine
                        .send_datagram(now, Protocol::IPV4, &ip, out)
                        .ok()
                } else {
                    None
                };
                if let Some(len) = len {
                    let packet_len = call.gre.encapsulate(now, buf, len).ok()?.len();
                    return Some(HEADER_ROOM + len - packet_len..HEADER_ROOM + len);
                }
            }
            if let Some(n) = call.gre.poll_transmit(now, buf) {
                return Some(0..n);
            }
            call.queued = false;
        }
        None
    }

    fn process(&mut self, now: Instant) {
        while let Some(event) = self.control.poll_event() {
            match event {
                control::Event::CallRequested { call, .. } => self.requested.push(call),
                control::Event::CallUp(info) => {
                    let seed = splitmix(&mut self.seed);
                    let mut engine = Engine::new(
                        Config {
                            seed,
                            ..self.settings.ppp.clone()
                        },
                        now,
                    );
                    engine.open(now);
                    engine.lower_up(now);
                    self.calls.push(ServerCall {
                        id: info.call.0,
                        gre: GreCall::new(info.gre_params(), &self.settings.gre, now),
                        engine,
                        queued: true,
                        replies: VecDeque::new(),
                    });
                    self.events.push_back(ServerEvent::CallUp);
                }
                control::Event::CallDown { call, .. } => {
                    if let Some(pos) = self.calls.iter().position(|c| c.id == call.0) {
                        let mut c = self.calls.swap_remove(pos);
                        c.engine.lower_down(now);
                        self.events.push_back(ServerEvent::CallDown);
                    }
                    self.requested.retain(|r| *r != call);
                    self.released.push(call.0);
                }
                control::Event::Closed(control::CloseReason::PeerStopped(_)) => {
                    self.events.push_back(ServerEvent::Stopped);
                }
                _ => {}
            }
        }
    }
}
