//! The `serial` link plugin: PPP over ttys (serial ports, USB adapters, ptys) with the
//! asynchronous HDLC-like framing of RFC 1662.
//!
//! One instance serves the ports its configuration lists ([`config`]), one PPP call at a time
//! per port. The host owns every file descriptor: the plugin asks it to open each tty with
//! the port's [`TtySettings`] (raw mode, speed, flow control, `CLOCAL` or modem lines) and is
//! then driven with the bytes read from it ([`Plugin::on_data`]). Received bytes go through a
//! per-port [`Decoder`] and every complete frame (good FCS, unescaped, FCS removed) is handed to
//! the core with [`HostHandle::deliver_frame`]; frames from the core ([`Plugin::send_frame`])
//! are escaped with the port's send ACCM, get their FCS and flags in a per-port buffer, and go
//! to the tty with [`HostHandle::write`]. Neither direction allocates per frame.
//!
//! # When a call is up
//!
//! | role, lines      | link up                                                            |
//! |------------------|--------------------------------------------------------------------|
//! | answer, local    | when the port is opened; after a call ended, when the peer sends an LCP Configure-Request (that frame is then delivered) |
//! | answer, modem    | when DCD rises                                                     |
//! | dial, local      | right after [`Plugin::dial`] (from a timer, so `dial` returns the id first) |
//! | dial, modem      | when DCD rises after `dial` raised DTR, or `link_down(Timeout)` after `dial_timeout_secs` |
//!
//! A local line (a null-modem cable, a pty) has no carrier to wait for, so its first call is
//! up as soon as the port is open: the core then starts LCP at once, which also works with a
//! peer that waits passively for our Configure-Request. Once that call has ended, bringing it
//! straight back up would restart a session the core just closed, so the port waits for the
//! peer to start LCP again; trailing frames of the old call do not count.
//!
//! A call ends with [`Host::link_down`](dialgate_plugin_sdk::abi::Host::link_down) and a cause:
//! `Requested` for [`Plugin::hangup`] and [`Plugin::stop`] (a modem line also drops DTR for a
//! second so that the modem hangs up), `CarrierLost` when DCD drops on a modem line or the tty
//! hangs up (`POLLHUP` or end of file), `Timeout` when a modem dial gets no
//! carrier, `Failed` on other I/O errors. A port whose tty the host closed is reopened every
//! five seconds.
//!
//! # The receive ACCM changes between two frames
//!
//! The core's LCP decides the ACCMs; it passes them in [`Plugin::set_link_params`] after it
//! has processed the frame that opened LCP. A peer whose LCP opened first may already send
//! with the new (usually empty) ACCM, and those frames can arrive in the same read as the
//! Configure-Ack: decoded with the old receive ACCM (all control characters flagged), their
//! unescaped control characters would be dropped and the FCS would fail (RFC 1662 §7.1).
//! The plugin therefore decodes one frame at a time and, after delivering an LCP frame, holds
//! the rest of the read in a bounded per-port buffer and arms a timer due at once
//! ([`HostHandle::set_timer`]). Decoding resumes when the core sets the link parameters or the
//! timer fires, whichever comes first: a host that applies `set_link_params` for a delivered
//! frame before it fires timers gets every frame decoded with the right ACCM. Bytes that
//! arrive meanwhile are appended to the buffer; what does not fit is counted as an overrun.
//!
//! With `flow_control = "xonxoff"` the plugin always escapes XON and XOFF (0x11, 0x13) when
//! sending and drops them unescaped when receiving, whatever LCP negotiated (RFC 1662 §7.1).
//!
//! # Counters
//!
//! Per port ([`PortStats`]): frames and octets each way, bad FCS, aborts, runts, over-long
//! frames, ACCM-dropped characters, overruns, frames the host refused or that arrived with no
//! call up. The ABI has no statistics call yet: they are logged when a call ends and when the
//! plugin stops, and [`Serial::stats`] returns them to in-process users.

pub mod config;

use std::fmt;
use std::time::Duration;

use dialgate_plugin_sdk::{
    CloseReason, Direction, FlowControl, HandleId, HostError, HostHandle, LinkDownCause, LinkId,
    LinkInfo, LinkParams, LogLevel, ModemControl, ModemStatus, Plugin, PluginError, PluginKind,
    TimerId, Timestamp, TtySettings,
};
use dialgate_wire::hdlc::{DEFAULT_ACCM, Decoder, Encoder};

pub use config::{Config, ConfigError, Lines, PortConfig, Role};

/// XON (0x11) and XOFF (0x13) in an ACCM: always escaped on ports with software flow control.
pub const XON_XOFF_ACCM: u32 = (1 << 0x11) | (1 << 0x13);
/// The most octets a port holds while it waits for new link parameters (see the crate docs).
pub const HOLD_CAPACITY: usize = 16 * 1024;
/// How long after the host closed a port's tty the plugin opens it again.
pub const REOPEN_DELAY: Duration = Duration::from_secs(5);
/// How long DTR stays low when a call on a modem line is hung up.
pub const HANGUP_DTR_LOW: Duration = Duration::from_secs(1);
/// Octets a frame may carry beyond the MRU: Address, Control and a two-octet Protocol field
/// (RFC 1661 §2; the same allowance as the PPP engine's).
pub const FRAME_HEADER_ALLOWANCE: usize = 4;

/// The LCP protocol number (RFC 1661 §3.1).
const LCP: [u8; 2] = [0xC0, 0x21];
/// The LCP Configure-Request code (RFC 1661 §5.1).
const CONFIGURE_REQUEST: u8 = 1;

/// The LCP packet in a frame, if it is one (Address and Control optional; LCP never uses
/// protocol field compression, RFC 1661 §6.5).
fn lcp_packet(frame: &[u8]) -> Option<&[u8]> {
    let rest = frame.strip_prefix(&[0xFF, 0x03]).unwrap_or(frame);
    rest.strip_prefix(&LCP)
}

/// Counters of one port since the instance was created.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PortStats {
    /// Octets read from the tty.
    pub rx_octets: u64,
    /// Frames delivered to the core.
    pub rx_frames: u64,
    /// Octets of those frames (Address through Information).
    pub rx_bytes: u64,
    /// Frames discarded for a bad FCS (RFC 1662 §4.3).
    pub rx_bad_fcs: u64,
    /// Frames aborted by the sender (Control Escape, Flag; RFC 1662 §4.3).
    pub rx_aborts: u64,
    /// Frames too short to hold an FCS.
    pub rx_runts: u64,
    /// Frames longer than the port's MRU plus the header allowance.
    pub rx_overlong: u64,
    /// Unescaped control characters dropped by the receive ACCM (RFC 1662 §7.1).
    pub rx_accm_dropped: u64,
    /// Octets dropped because the hold buffer was full (see the crate docs).
    pub rx_overruns: u64,
    /// Good frames received on a local answer port between calls that did not start one.
    pub rx_idle_frames: u64,
    /// Octets received while no call was up or coming up (not decoded).
    pub rx_idle_octets: u64,
    /// Frames the host refused (busy, link closed, error).
    pub rx_refused: u64,
    /// Frames sent.
    pub tx_frames: u64,
    /// Octets of those frames (before framing).
    pub tx_bytes: u64,
    /// Octets written to the tty (flags, escapes and FCS included).
    pub tx_octets: u64,
    /// Frames dropped because the host's write queue was full.
    pub tx_busy: u64,
    /// Frames that failed to write, or were larger than the port's maximum.
    pub tx_errors: u64,
    /// Calls brought up.
    pub calls: u64,
}

impl fmt::Display for PortStats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "rx_octets={} rx_frames={} rx_bytes={} rx_bad_fcs={} rx_aborts={} rx_runts={} \
             rx_overlong={} rx_accm_dropped={} rx_overruns={} rx_idle_frames={} \
             rx_idle_octets={} rx_refused={} tx_frames={} tx_bytes={} tx_octets={} tx_busy={} \
             tx_errors={} calls={}",
            self.rx_octets,
            self.rx_frames,
            self.rx_bytes,
            self.rx_bad_fcs,
            self.rx_aborts,
            self.rx_runts,
            self.rx_overlong,
            self.rx_accm_dropped,
            self.rx_overruns,
            self.rx_idle_frames,
            self.rx_idle_octets,
            self.rx_refused,
            self.tx_frames,
            self.tx_bytes,
            self.tx_octets,
            self.tx_busy,
            self.tx_errors,
            self.calls,
        )
    }
}

/// The state of a port's call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Call {
    /// No call (the tty may or may not be open).
    Idle,
    /// `dial` returned this link; waiting for the line.
    Dialing(LinkId),
    /// A call is up.
    Up(LinkId),
    /// A modem line was hung up; DTR is low until the timer raises it again.
    HangingUp,
}

/// The timers a port uses; a [`TimerId`] is the port's index times 16 plus the kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TimerKind {
    /// Resume decoding held octets (see the crate docs).
    Resume = 0,
    /// Complete a dial (local lines: at once; modem lines: the carrier timeout).
    Dial = 1,
    /// Raise DTR again after a hangup.
    Dtr = 2,
    /// Reopen a tty the host closed.
    Reopen = 3,
}

const TIMER_KINDS: [TimerKind; 4] = [
    TimerKind::Resume,
    TimerKind::Dial,
    TimerKind::Dtr,
    TimerKind::Reopen,
];

fn timer_id(port: usize, kind: TimerKind) -> TimerId {
    TimerId(((port as u64) << 4) | kind as u64)
}

fn parse_timer(timer: TimerId) -> Option<(usize, TimerKind)> {
    let port = usize::try_from(timer.0 >> 4).ok()?;
    let kind = TIMER_KINDS
        .iter()
        .copied()
        .find(|k| *k as u64 == timer.0 & 0xF)?;
    Some((port, kind))
}

/// The line state of a port: its tty and call.
#[derive(Debug)]
struct Line {
    handle: Option<HandleId>,
    call: Call,
    /// The last DCD the host reported (modem lines).
    dcd: bool,
    /// Reopen failures since the last success (only the first is logged as a warning).
    open_failures: u32,
}

/// The receive side of a port.
#[derive(Debug)]
struct Rx {
    decoder: Decoder,
    /// Octets held while waiting for link parameters; `held[pos..]` is still to decode.
    held: Vec<u8>,
    pos: usize,
}

impl Rx {
    fn is_holding(&self) -> bool {
        self.pos < self.held.len()
    }

    /// Appends `bytes` to the hold buffer; what does not fit is dropped and counted.
    fn hold(&mut self, bytes: &[u8], stats: &mut PortStats) {
        if self.held.len() + bytes.len() > HOLD_CAPACITY && self.pos > 0 {
            self.held.drain(..self.pos);
            self.pos = 0;
        }
        let room = HOLD_CAPACITY.saturating_sub(self.held.len());
        let (kept, lost) = bytes.split_at(room.min(bytes.len()));
        self.held.extend_from_slice(kept);
        stats.rx_overruns += lost.len() as u64;
    }
}

/// One configured port.
#[derive(Debug)]
struct Port {
    cfg: PortConfig,
    line: Line,
    rx: Rx,
    /// The send ACCM (the peer's, plus XON/XOFF with software flow control).
    tx_accm: u32,
    /// The framed frame being written; reused, never reallocated after construction.
    tx_buf: Vec<u8>,
    stats: PortStats,
}

impl Port {
    fn new(cfg: PortConfig) -> Port {
        let max_frame = usize::from(cfg.mru) + FRAME_HEADER_ALLOWANCE;
        let encoder = Encoder::new();
        Port {
            rx: Rx {
                decoder: Decoder::new(max_frame),
                held: Vec::with_capacity(HOLD_CAPACITY),
                pos: 0,
            },
            line: Line {
                handle: None,
                call: Call::Idle,
                dcd: false,
                open_failures: 0,
            },
            tx_accm: DEFAULT_ACCM,
            tx_buf: Vec::with_capacity(encoder.max_encoded_len(max_frame)),
            stats: PortStats::default(),
            cfg,
        }
    }

    /// ACCM bits always set on this port.
    fn fixed_accm(&self) -> u32 {
        match self.cfg.flow_control {
            FlowControl::Software => XON_XOFF_ACCM,
            FlowControl::None | FlowControl::Hardware => 0,
        }
    }

    /// Back to the framing every call starts with: default ACCMs, no partial frame, nothing
    /// held (RFC 1662 §7.1).
    fn reset_framing(&mut self) {
        self.rx.decoder.reset();
        self.rx.decoder.set_accm(DEFAULT_ACCM | self.fixed_accm());
        self.rx.held.clear();
        self.rx.pos = 0;
        self.tx_accm = DEFAULT_ACCM | self.fixed_accm();
    }

    fn max_frame(&self) -> usize {
        self.rx.decoder.max_frame()
    }

    /// The counters, with the decoder's merged in.
    fn stats(&self) -> PortStats {
        let d = self.rx.decoder.stats();
        PortStats {
            rx_bad_fcs: d.bad_fcs,
            rx_aborts: d.aborts,
            rx_runts: d.runts,
            rx_overlong: d.overlong,
            rx_accm_dropped: d.accm_dropped,
            ..self.stats
        }
    }
}

/// Hands one received frame to the core, counting the outcome.
fn deliver(host: &HostHandle, link: LinkId, frame: &[u8], stats: &mut PortStats) {
    match host.deliver_frame(link, frame) {
        Ok(()) => {
            stats.rx_frames += 1;
            stats.rx_bytes += frame.len() as u64;
        }
        Err(_) => stats.rx_refused += 1,
    }
}

/// Decodes `input` one frame at a time and delivers each frame on `link`. Stops after an LCP
/// frame when more input follows, and returns how much was consumed then (the caller holds
/// the rest until the link parameters are settled); `None` when all of it was consumed.
fn decode_and_deliver(
    decoder: &mut Decoder,
    host: &HostHandle,
    link: LinkId,
    stats: &mut PortStats,
    input: &[u8],
) -> Option<usize> {
    let mut rest = input;
    while let Some(frame) = decoder.decode(&mut rest) {
        deliver(host, link, frame, stats);
        if lcp_packet(frame).is_some() && !rest.is_empty() {
            return Some(input.len() - rest.len());
        }
    }
    None
}

/// The serial link plugin (see the crate docs).
#[derive(Debug)]
pub struct Serial {
    host: HostHandle,
    ports: Vec<Port>,
    /// The last link id handed out; ids are never reused within an instance.
    last_link: u64,
}

impl Serial {
    /// The counters of every port, by name, in configuration order.
    pub fn stats(&self) -> impl Iterator<Item = (&str, PortStats)> + '_ {
        self.ports.iter().map(|p| (p.cfg.name.as_str(), p.stats()))
    }

    /// The configuration in use.
    pub fn ports(&self) -> impl Iterator<Item = &PortConfig> + '_ {
        self.ports.iter().map(|p| &p.cfg)
    }

    fn next_link(&mut self) -> LinkId {
        self.last_link += 1;
        LinkId(self.last_link)
    }

    fn port_by_handle(&self, handle: HandleId) -> Option<usize> {
        self.ports
            .iter()
            .position(|p| p.line.handle == Some(handle))
    }

    fn port_by_link(&self, link: LinkId) -> Option<usize> {
        self.ports
            .iter()
            .position(|p| matches!(p.line.call, Call::Up(l) | Call::Dialing(l) if l == link))
    }

    fn log(&self, level: LogLevel, message: fmt::Arguments<'_>) {
        self.host.log(level, &message.to_string());
    }

    /// Asks the host for port `i`'s tty. A refusal that retrying cannot fix (denied by policy,
    /// invalid, unsupported) is an error; anything else is retried every [`REOPEN_DELAY`].
    fn open_port(&mut self, i: usize, now: Timestamp) -> Result<(), PluginError> {
        let Some(port) = self.ports.get_mut(i) else {
            return Ok(());
        };
        let settings = TtySettings {
            path: port.cfg.device.as_str().into(),
            speed: port.cfg.speed,
            flow_control: port.cfg.flow_control,
            local: port.cfg.lines == Lines::Local,
            hangup_on_close: port.cfg.lines == Lines::Modem,
        };
        match self.host.open_tty(settings) {
            Ok(handle) => {
                port.line = Line {
                    handle: Some(handle),
                    call: Call::Idle,
                    dcd: false,
                    open_failures: 0,
                };
                port.reset_framing();
                let (name, device) = (port.cfg.name.clone(), port.cfg.device.clone());
                let (role, lines) = (port.cfg.role, port.cfg.lines);
                self.log(
                    LogLevel::Info,
                    format_args!("port {name}: opened {device} ({role:?}, {lines:?} lines)"),
                );
                match (role, lines) {
                    (Role::Answer, Lines::Local) => {
                        let link = self.next_link();
                        self.start_call(i, link, Direction::Incoming);
                    }
                    (_, Lines::Modem) => self.set_modem_lines(i, true),
                    (Role::Dial, Lines::Local) => {}
                }
                Ok(())
            }
            Err(
                e @ (HostError::Denied { .. }
                | HostError::Invalid { .. }
                | HostError::Unsupported { .. }),
            ) => Err(PluginError::failed(format_args!(
                "port {}: the host refused to open {}: {e}",
                port.cfg.name, port.cfg.device
            ))),
            Err(e) => {
                port.line.open_failures += 1;
                let level = if port.line.open_failures == 1 {
                    LogLevel::Warn
                } else {
                    LogLevel::Debug
                };
                let message = format!(
                    "port {}: cannot open {}: {e}; retrying every {} s",
                    port.cfg.name,
                    port.cfg.device,
                    REOPEN_DELAY.as_secs()
                );
                self.host.log(level, &message);
                self.host.set_timer(
                    timer_id(i, TimerKind::Reopen),
                    now.saturating_add(REOPEN_DELAY),
                );
                Ok(())
            }
        }
    }

    /// Raises or drops DTR and RTS on a modem line (a failure is logged: the call then
    /// depends on the modem's own settings).
    fn set_modem_lines(&self, i: usize, up: bool) {
        let Some(port) = self.ports.get(i) else {
            return;
        };
        let Some(handle) = port.line.handle else {
            return;
        };
        let control = ModemControl { dtr: up, rts: up };
        if let Err(e) = self.host.set_modem_control(handle, control) {
            self.log(
                LogLevel::Debug,
                format_args!("port {}: cannot set DTR/RTS: {e}", port.cfg.name),
            );
        }
    }

    /// Reports a call on port `i` up as `link`. Does not touch the receive side, so that a
    /// frame the decoder holds stays valid. An incoming call the core refuses is dropped; a
    /// dialled one is reported down.
    fn start_call(&mut self, i: usize, link: LinkId, direction: Direction) -> bool {
        let Some(port) = self.ports.get_mut(i) else {
            return false;
        };
        start_call(
            &self.host,
            &port.cfg,
            &mut port.line,
            &mut port.stats,
            link,
            direction,
        )
    }

    /// Ends the call on port `i`, if any, with `cause`.
    fn end_call(&mut self, i: usize, cause: LinkDownCause, message: &str) {
        let Some(port) = self.ports.get_mut(i) else {
            return;
        };
        if let Call::Up(link) | Call::Dialing(link) = port.line.call {
            self.host.link_down(link, cause, message);
            port.line.call = Call::Idle;
            port.reset_framing();
            let stats = port.stats();
            let line = format!(
                "port {}: link {link} down ({cause:?}: {message}); {stats}",
                port.cfg.name
            );
            self.host.log(LogLevel::Info, &line);
        }
        self.host.cancel_timer(timer_id(i, TimerKind::Resume));
        self.host.cancel_timer(timer_id(i, TimerKind::Dial));
    }

    /// A dialled call got its line: report it up.
    fn complete_dial(&mut self, i: usize) {
        let Some(port) = self.ports.get(i) else {
            return;
        };
        if let Call::Dialing(link) = port.line.call {
            self.host.cancel_timer(timer_id(i, TimerKind::Dial));
            self.start_call(i, link, Direction::Outgoing);
        }
    }

    /// Decodes what port `i` holds, if its call is up.
    fn resume(&mut self, i: usize, now: Timestamp) {
        let Some(port) = self.ports.get_mut(i) else {
            return;
        };
        let Call::Up(link) = port.line.call else {
            return;
        };
        if !port.rx.is_holding() {
            return;
        }
        let held = port.rx.held.get(port.rx.pos..).unwrap_or_default();
        match decode_and_deliver(
            &mut port.rx.decoder,
            &self.host,
            link,
            &mut port.stats,
            held,
        ) {
            None => {
                port.rx.held.clear();
                port.rx.pos = 0;
            }
            Some(n) => {
                port.rx.pos += n;
                self.host.set_timer(timer_id(i, TimerKind::Resume), now);
            }
        }
    }

    /// A local answer port between calls: decode, and answer the first LCP Configure-Request.
    fn answer_on_request(&mut self, i: usize, bytes: &[u8], now: Timestamp) {
        let link = LinkId(self.last_link + 1);
        let Some(port) = self.ports.get_mut(i) else {
            return;
        };
        let mut rest = bytes;
        while let Some(frame) = port.rx.decoder.decode(&mut rest) {
            let request = lcp_packet(frame).and_then(|p| p.first()) == Some(&CONFIGURE_REQUEST);
            if !request {
                port.stats.rx_idle_frames += 1;
                continue;
            }
            let started = start_call(
                &self.host,
                &port.cfg,
                &mut port.line,
                &mut port.stats,
                link,
                Direction::Incoming,
            );
            if !started {
                return;
            }
            self.last_link = link.0;
            deliver(&self.host, link, frame, &mut port.stats);
            if !rest.is_empty() {
                // The Configure-Request is an LCP frame: hold the rest (see the crate docs).
                port.rx.hold(rest, &mut port.stats);
                self.host.set_timer(timer_id(i, TimerKind::Resume), now);
            }
            return;
        }
    }
}

/// What a call on a port is, for [`HostHandle::link_up`].
fn link_info(cfg: &PortConfig, direction: Direction) -> LinkInfo<'_> {
    LinkInfo {
        direction,
        peer: cfg.device.as_str().into(),
        calling_number: "".into(),
        called_number: match direction {
            Direction::Outgoing => cfg.number.as_str().into(),
            Direction::Incoming => "".into(),
        },
        speed_bps: u64::from(cfg.speed),
    }
}

/// See [`Serial::start_call`]; takes the port's parts so that the decoder may stay borrowed.
fn start_call(
    host: &HostHandle,
    cfg: &PortConfig,
    line: &mut Line,
    stats: &mut PortStats,
    link: LinkId,
    direction: Direction,
) -> bool {
    match host.link_up(link, link_info(cfg, direction)) {
        Ok(()) => {
            line.call = Call::Up(link);
            stats.calls += 1;
            let message = format!(
                "port {}: link {link} up ({direction:?}, {})",
                cfg.name, cfg.device
            );
            host.log(LogLevel::Info, &message);
            true
        }
        Err(e) => {
            let message = format!("port {}: the core refused the call: {e}", cfg.name);
            if direction == Direction::Outgoing {
                host.link_down(link, LinkDownCause::Failed, &message);
            }
            host.log(LogLevel::Warn, &message);
            line.call = Call::Idle;
            false
        }
    }
}

impl Plugin for Serial {
    const NAME: &'static str = "serial";
    const KIND: PluginKind = PluginKind::LINK;
    const DESCRIPTION: &'static str =
        "PPP over serial lines and ptys with RFC 1662 async HDLC framing";
    const CONFIG_SCHEMA: &'static str = config::SCHEMA;
    const CONFIG_UI: &'static str = config::UI;

    fn new(config_toml: &str, host: HostHandle) -> Result<Self, PluginError> {
        let config = Config::parse(config_toml).map_err(PluginError::invalid_config)?;
        Ok(Serial {
            host,
            ports: config.ports.into_iter().map(Port::new).collect(),
            last_link: 0,
        })
    }

    /// Opens every port. Fails (closing what it opened) when the host refuses a tty for good
    /// (denied by policy, an invalid path); a tty that cannot be opened now is retried.
    fn start(&mut self, now: Timestamp) -> Result<(), PluginError> {
        for i in 0..self.ports.len() {
            if let Err(e) = self.open_port(i, now) {
                self.stop(now)?;
                return Err(e);
            }
        }
        Ok(())
    }

    fn stop(&mut self, _now: Timestamp) -> Result<(), PluginError> {
        for i in 0..self.ports.len() {
            self.end_call(i, LinkDownCause::Requested, "serial plugin stopped");
            for kind in TIMER_KINDS {
                self.host.cancel_timer(timer_id(i, kind));
            }
            if let Some(port) = self.ports.get_mut(i) {
                port.line.call = Call::Idle;
                if let Some(handle) = port.line.handle.take() {
                    self.host.close(handle);
                }
                let line = format!("port {}: stopped; {}", port.cfg.name, port.stats());
                self.host.log(LogLevel::Info, &line);
            }
        }
        Ok(())
    }

    fn on_timer(&mut self, now: Timestamp, timer: TimerId) -> Result<(), PluginError> {
        let Some((i, kind)) = parse_timer(timer) else {
            return Ok(());
        };
        let Some(port) = self.ports.get(i) else {
            return Ok(());
        };
        let (call, lines, dcd, open) = (
            port.line.call,
            port.cfg.lines,
            port.line.dcd,
            port.line.handle.is_some(),
        );
        let dial_timeout = port.cfg.dial_timeout;
        match kind {
            TimerKind::Resume => self.resume(i, now),
            TimerKind::Dial => {
                if let Call::Dialing(_) = call {
                    if lines == Lines::Local || dcd {
                        self.complete_dial(i);
                    } else {
                        let message = format!("no carrier within {} s", dial_timeout.as_secs());
                        self.end_call(i, LinkDownCause::Timeout, &message);
                        self.set_modem_lines(i, false);
                        if let Some(port) = self.ports.get_mut(i) {
                            port.line.call = Call::HangingUp;
                        }
                        self.host.set_timer(
                            timer_id(i, TimerKind::Dtr),
                            now.saturating_add(HANGUP_DTR_LOW),
                        );
                    }
                }
            }
            TimerKind::Dtr => {
                if call == Call::HangingUp {
                    self.set_modem_lines(i, true);
                    if let Some(port) = self.ports.get_mut(i) {
                        port.line.call = Call::Idle;
                    }
                }
            }
            TimerKind::Reopen => {
                if !open && let Err(e) = self.open_port(i, now) {
                    self.log(LogLevel::Error, format_args!("{e}"));
                }
            }
        }
        Ok(())
    }

    fn on_data(
        &mut self,
        now: Timestamp,
        handle: HandleId,
        bytes: &[u8],
    ) -> Result<(), PluginError> {
        let Some(i) = self.port_by_handle(handle) else {
            return Ok(());
        };
        let local_dial = self.ports.get(i).is_some_and(|p| {
            matches!(p.line.call, Call::Dialing(_)) && p.cfg.lines == Lines::Local
        });
        if local_dial {
            // The dial timer has not fired yet, but the peer already talks: the line is there.
            self.complete_dial(i);
        }
        let Some(port) = self.ports.get_mut(i) else {
            return Ok(());
        };
        port.stats.rx_octets += bytes.len() as u64;
        match (port.line.call, port.cfg.role, port.cfg.lines) {
            (Call::Up(link), _, _) => {
                if port.rx.is_holding() {
                    port.rx.hold(bytes, &mut port.stats);
                    return Ok(());
                }
                let consumed = decode_and_deliver(
                    &mut port.rx.decoder,
                    &self.host,
                    link,
                    &mut port.stats,
                    bytes,
                );
                if let Some(n) = consumed {
                    port.rx
                        .hold(bytes.get(n..).unwrap_or_default(), &mut port.stats);
                    self.host.set_timer(timer_id(i, TimerKind::Resume), now);
                }
            }
            (Call::Idle, Role::Answer, Lines::Local) => self.answer_on_request(i, bytes, now),
            _ => port.stats.rx_idle_octets += bytes.len() as u64,
        }
        Ok(())
    }

    fn on_closed(
        &mut self,
        now: Timestamp,
        handle: HandleId,
        reason: CloseReason,
    ) -> Result<(), PluginError> {
        let Some(i) = self.port_by_handle(handle) else {
            return Ok(());
        };
        let (cause, message) = match reason {
            // A tty hangs up when carrier drops (or, for a pty, when the master closes); it
            // reads end of file only after that.
            CloseReason::Hangup => (LinkDownCause::CarrierLost, "the tty hung up".to_owned()),
            CloseReason::Eof => (
                LinkDownCause::CarrierLost,
                "end of file on the tty (hung up)".to_owned(),
            ),
            CloseReason::Reset => (LinkDownCause::PeerHangup, "the tty was reset".to_owned()),
            CloseReason::Error { errno } => (
                LinkDownCause::Failed,
                format!("I/O error {errno} on the tty"),
            ),
        };
        self.end_call(i, cause, &message);
        self.host.cancel_timer(timer_id(i, TimerKind::Dtr));
        if let Some(port) = self.ports.get_mut(i) {
            port.line.handle = None;
            port.line.call = Call::Idle;
            port.line.dcd = false;
            let line = format!(
                "port {}: {} closed ({message}); reopening in {} s",
                port.cfg.name,
                port.cfg.device,
                REOPEN_DELAY.as_secs()
            );
            self.host.log(LogLevel::Warn, &line);
        }
        self.host.set_timer(
            timer_id(i, TimerKind::Reopen),
            now.saturating_add(REOPEN_DELAY),
        );
        Ok(())
    }

    fn on_modem_status(
        &mut self,
        _now: Timestamp,
        handle: HandleId,
        status: ModemStatus,
    ) -> Result<(), PluginError> {
        let Some(i) = self.port_by_handle(handle) else {
            return Ok(());
        };
        let Some(port) = self.ports.get_mut(i) else {
            return Ok(());
        };
        if port.cfg.lines == Lines::Local {
            return Ok(());
        }
        port.line.dcd = status.dcd;
        match (port.line.call, status.dcd, port.cfg.role) {
            (Call::Idle, true, Role::Answer) => {
                let link = self.next_link();
                if let Some(port) = self.ports.get_mut(i) {
                    port.reset_framing();
                }
                self.start_call(i, link, Direction::Incoming);
            }
            (Call::Dialing(_), true, _) => {
                if let Some(port) = self.ports.get_mut(i) {
                    port.reset_framing();
                }
                self.complete_dial(i);
            }
            (Call::Up(_), false, _) => {
                self.end_call(i, LinkDownCause::CarrierLost, "carrier lost (DCD dropped)");
            }
            _ => {}
        }
        Ok(())
    }

    /// `target` is a dial port's name, or empty for the first idle dial port.
    fn dial(&mut self, now: Timestamp, target: &str) -> Result<LinkId, PluginError> {
        let found = self.ports.iter().position(|p| {
            p.cfg.role == Role::Dial
                && if target.is_empty() {
                    p.line.call == Call::Idle && p.line.handle.is_some()
                } else {
                    p.cfg.name == target
                }
        });
        let Some(i) = found else {
            let dial_ports: Vec<&str> = self
                .ports
                .iter()
                .filter(|p| p.cfg.role == Role::Dial)
                .map(|p| p.cfg.name.as_str())
                .collect();
            let list = dial_ports.join(", ");
            return Err(match (target.is_empty(), dial_ports.is_empty()) {
                (_, true) => PluginError::unsupported("no dial ports configured"),
                (true, false) => {
                    PluginError::failed(format_args!("no idle dial port (dial ports: {list})"))
                }
                (false, false) => PluginError::unsupported(format_args!(
                    "no dial port named `{target}` (dial ports: {list})"
                )),
            });
        };
        let link = LinkId(self.last_link + 1);
        let Some(port) = self.ports.get_mut(i) else {
            return Err(PluginError::failed("port vanished"));
        };
        if port.line.handle.is_none() {
            return Err(PluginError::failed(format_args!(
                "port {}: {} is not open",
                port.cfg.name, port.cfg.device
            )));
        }
        if port.line.call != Call::Idle {
            return Err(PluginError::failed(format_args!(
                "port {} is busy",
                port.cfg.name
            )));
        }
        self.last_link = link.0;
        port.line.call = Call::Dialing(link);
        port.reset_framing();
        let deadline = match port.cfg.lines {
            Lines::Local => now,
            Lines::Modem if port.line.dcd => now,
            Lines::Modem => now.saturating_add(port.cfg.dial_timeout),
        };
        let modem = port.cfg.lines == Lines::Modem;
        if modem {
            self.set_modem_lines(i, true);
        }
        self.host.set_timer(timer_id(i, TimerKind::Dial), deadline);
        Ok(link)
    }

    fn hangup(&mut self, now: Timestamp, link: LinkId) -> Result<(), PluginError> {
        let Some(i) = self.port_by_link(link) else {
            return Err(PluginError::unsupported(format_args!("no link {link}")));
        };
        self.end_call(i, LinkDownCause::Requested, "hangup requested");
        let modem = self
            .ports
            .get(i)
            .is_some_and(|p| p.cfg.lines == Lines::Modem && p.line.handle.is_some());
        if modem {
            self.set_modem_lines(i, false);
            if let Some(port) = self.ports.get_mut(i) {
                port.line.call = Call::HangingUp;
            }
            self.host.set_timer(
                timer_id(i, TimerKind::Dtr),
                now.saturating_add(HANGUP_DTR_LOW),
            );
        }
        Ok(())
    }

    fn send_frame(
        &mut self,
        _now: Timestamp,
        link: LinkId,
        frame: &[u8],
    ) -> Result<(), PluginError> {
        let Some(port) = self
            .ports
            .iter_mut()
            .find(|p| p.line.call == Call::Up(link))
        else {
            return Err(PluginError::unsupported(format_args!("no link {link}")));
        };
        let Some(handle) = port.line.handle else {
            return Err(PluginError::failed(format_args!("link {link}: tty closed")));
        };
        if frame.len() > port.max_frame() {
            port.stats.tx_errors += 1;
            return Err(PluginError::failed(format_args!(
                "port {}: a frame of {} octets exceeds the port's maximum of {}",
                port.cfg.name,
                frame.len(),
                port.max_frame()
            )));
        }
        port.tx_buf.clear();
        Encoder::new()
            .with_accm(port.tx_accm)
            .encode(frame, &mut port.tx_buf);
        match self.host.write(handle, &port.tx_buf) {
            Ok(()) => {
                port.stats.tx_frames += 1;
                port.stats.tx_bytes += frame.len() as u64;
                port.stats.tx_octets += port.tx_buf.len() as u64;
                Ok(())
            }
            Err(HostError::Busy) => {
                // PPP tolerates loss; the peer's protocols retransmit.
                port.stats.tx_busy += 1;
                Ok(())
            }
            Err(e) => {
                port.stats.tx_errors += 1;
                Err(PluginError::failed(format_args!(
                    "port {}: write: {e}",
                    port.cfg.name
                )))
            }
        }
    }

    fn set_link_params(
        &mut self,
        now: Timestamp,
        link: LinkId,
        params: LinkParams,
    ) -> Result<(), PluginError> {
        let Some(i) = self
            .ports
            .iter()
            .position(|p| p.line.call == Call::Up(link))
        else {
            return Err(PluginError::unsupported(format_args!("no link {link}")));
        };
        if let Some(port) = self.ports.get_mut(i) {
            let fixed = port.fixed_accm();
            port.tx_accm = params.tx_accm | fixed;
            port.rx.decoder.set_accm(params.rx_accm | fixed);
        }
        self.resume(i, now);
        Ok(())
    }
}

dialgate_plugin_sdk::export_plugin!(Serial);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timer_ids_round_trip() {
        for port in [0, 1, 17, 255] {
            for kind in TIMER_KINDS {
                assert_eq!(parse_timer(timer_id(port, kind)), Some((port, kind)));
            }
        }
        assert_eq!(parse_timer(TimerId(0xF)), None);
    }

    #[test]
    fn lcp_frames_rfc1661_3_1() {
        assert_eq!(
            lcp_packet(&[0xFF, 0x03, 0xC0, 0x21, 1, 2]),
            Some(&[1, 2][..])
        );
        assert_eq!(lcp_packet(&[0xC0, 0x21, 9]), Some(&[9][..]));
        assert_eq!(lcp_packet(&[0xFF, 0x03, 0x80, 0x21, 1]), None);
        assert_eq!(lcp_packet(&[0x21, 0x45]), None);
        assert_eq!(lcp_packet(&[]), None);
    }

    #[test]
    fn hold_buffer_is_bounded_and_counts_overruns() {
        let mut rx = Rx {
            decoder: Decoder::new(64),
            held: Vec::with_capacity(HOLD_CAPACITY),
            pos: 0,
        };
        let mut stats = PortStats::default();
        rx.hold(&vec![1; HOLD_CAPACITY - 10], &mut stats);
        rx.hold(&[2; 30], &mut stats);
        assert_eq!(rx.held.len(), HOLD_CAPACITY);
        assert_eq!(stats.rx_overruns, 20);
        // Consumed octets are compacted away before new ones are dropped.
        rx.pos = 100;
        rx.hold(&[3; 50], &mut stats);
        assert_eq!(stats.rx_overruns, 20);
        assert_eq!(rx.pos, 0);
        assert_eq!(rx.held.len(), HOLD_CAPACITY - 50);
        assert_eq!(rx.held.capacity(), HOLD_CAPACITY);
    }
}
