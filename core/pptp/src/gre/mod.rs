//! Enhanced GRE for one call (RFC 2637 §4), sans-IO.
//!
//! [`GreCall`] owns one call's data channel state:
//!
//! - **send path** ([`GreCall::send`], [`GreCall::encapsulate`]): assigns sequence numbers
//!   (§4.1), piggy-backs the acknowledgment owed to the peer, and (in RFC mode) stops at the
//!   §4.2 sliding window: at most the current transmit window of packets may be
//!   unacknowledged. Frames that meet a full window wait in a bounded transmit queue
//!   ([`GreConfig::tx_queue`]) and go out in order as acknowledgments open the window
//!   ([`GreCall::poll_send`]); [`GreCall::congested`] rises at a high-water mark and falls at a
//!   low-water mark, so the owner can stop feeding the call before the queue overflows. The window starts at
//!   half the peer's advertised receive window (§4.2.1), halves on an acknowledgment time-out
//!   (§4.2.2) and grows by one for every window's worth acknowledged in time (§4.2.3). The
//!   time-out is the adaptive one of §4.4 / Appendix A (a TCP-style RTT and deviation
//!   estimate, doubled on each time-out, within configured bounds).
//! - **receive path** ([`GreCall::handle_packet`]): takes the peer's acknowledgments, delivers
//!   PPP frames in sequence order (§4.3), holds out-of-order packets in a bounded reorder
//!   buffer (a fixed pool of slots sized when the call is set up) up to a time limit and then
//!   skips the gap, drops duplicates and late packets with a counted reason, and owes the peer
//!   an acknowledgment: piggy-backed on the next data packet or sent alone
//!   ([`GreCall::poll_transmit`]) when no data goes out within the acknowledgment delay.
//! - **compatibility mode** ([`Mode::Compat`]), chosen automatically: peers that advertise a
//!   window of 0 (Windows) or never acknowledge do not run the sliding window, so we do not
//!   stall on it; received frames are delivered at once (configurable: keep reordering).
//!
//! Nothing here allocates per packet: received in-order frames are handed back as a slice of
//! the caller's buffer, sends are built in place in the caller's buffer, and only the reorder
//! pool (allocated once, on the first out-of-order packet) and the transmit queue (allocated
//! once, on the first frame that has to wait) hold copies.

use std::time::{Duration, Instant};

use dialgate_wire::gre;

/// Room the caller leaves before a PPP frame for [`GreCall::encapsulate`]: the longest enhanced
/// GRE header (RFC 2637 §4.1: 8 octets, sequence number, acknowledgment number).
pub const HEADER_ROOM: usize = gre::MAX_HEADER_LEN;

/// Whether the RFC's flow control runs (RFC 2637 §4.2) or the call follows a peer that does
/// not implement it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// The §4.2 sliding window and §4.4 time-outs apply; frames are reordered (§4.3).
    Rfc,
    /// The peer does not run the window: sends never stall on it, and received frames are
    /// delivered at once unless [`GreConfig::compat_reorder`] is set.
    Compat(CompatReason),
}

/// Why a call runs in [`Mode::Compat`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompatReason {
    /// The peer advertised a receive window of 0 (Windows does).
    ZeroWindow,
    /// The peer acknowledged nothing through repeated acknowledgment time-outs.
    NoAcks,
    /// [`CompatPolicy::Always`].
    Forced,
}

/// How [`Mode`] is chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CompatPolicy {
    /// From what the peer does (its advertised window, whether it acknowledges).
    #[default]
    Auto,
    /// Always [`Mode::Compat`].
    Always,
    /// Always [`Mode::Rfc`]; a peer window of 0 is then treated as a window of 1.
    Never,
}

/// Settings of the GRE data channel, shared by every call of a plugin instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GreConfig {
    /// Slots of the reorder buffer (rounded up to a power of two, at most 256; 0: no
    /// reordering, out-of-order frames are delivered or dropped at once). The pool,
    /// `(slots + 1) * slot_size` octets, is allocated on a call's first out-of-order frame
    /// and kept for the call's life; calls that never see one cost nothing.
    pub reorder_slots: u16,
    /// Octets per reorder slot: the largest PPP frame that can be held. Larger out-of-order
    /// frames are dropped (counted).
    pub slot_size: usize,
    /// How long an out-of-order frame may wait for the gap before it to fill.
    pub reorder_timeout: Duration,
    /// How the compatibility mode is chosen.
    pub compat: CompatPolicy,
    /// Keep reordering in compatibility mode (default: deliver at once).
    pub compat_reorder: bool,
    /// The RTT estimate before the first sample when the peer's Packet Processing Delay is 0
    /// (RFC 2637 Appendix A seeds it with the PPD).
    pub initial_rtt: Duration,
    /// Lower bound of the adaptive acknowledgment time-out.
    pub min_ack_timeout: Duration,
    /// Upper bound of the adaptive acknowledgment time-out (Appendix A's MaxTimeOut).
    pub max_ack_timeout: Duration,
    /// The longest an acknowledgment we owe waits for a data packet to ride on before it is
    /// sent alone (also at most half the current acknowledgment time-out).
    pub ack_delay: Duration,
    /// Acknowledgment time-outs without any acknowledgment from the peer after which
    /// [`CompatPolicy::Auto`] switches to [`CompatReason::NoAcks`].
    pub no_ack_timeouts: u8,
    /// Sequence number of our first data packet (pptpd starts at 0, pptp-linux at 1).
    pub initial_seq: u32,
    /// Frames [`GreCall::send`] holds while the transmit window is full (RFC 2637 §4.2), each
    /// up to `slot_size` octets; 0: none, a frame that meets a full window is dropped. The
    /// queue, `tx_queue * slot_size` octets, is allocated on a call's first queued frame.
    pub tx_queue: u16,
    /// [`GreCall::congested`] rises when this many frames are queued...
    pub tx_queue_high: u16,
    /// ...and falls when no more than this many are.
    pub tx_queue_low: u16,
}

impl Default for GreConfig {
    fn default() -> Self {
        Self {
            reorder_slots: 8,
            slot_size: 1600,
            reorder_timeout: Duration::from_millis(100),
            compat: CompatPolicy::Auto,
            compat_reorder: false,
            initial_rtt: Duration::from_millis(500),
            min_ack_timeout: Duration::from_millis(200),
            max_ack_timeout: Duration::from_secs(10),
            ack_delay: Duration::from_millis(50),
            no_ack_timeouts: 2,
            initial_seq: 0,
            tx_queue: 128,
            tx_queue_high: 32,
            tx_queue_low: 8,
        }
    }
}

/// What the control connection negotiated for one call (RFC 2637 §2.7-§2.11).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GreParams {
    /// Our Call ID: the Key field of packets the peer sends us.
    pub local_call_id: u16,
    /// The peer's Call ID: the Key field of packets we send.
    pub peer_call_id: u16,
    /// The Packet Recv. Window Size we advertised.
    pub local_window: u16,
    /// The Packet Recv. Window Size the peer advertised (0: it runs no window).
    pub peer_window: u16,
    /// The peer's Packet Processing Delay, in 1/10 s (seeds the RTT estimate).
    pub peer_processing_delay: u16,
}

/// Per-call counters; every dropped packet is counted under its reason.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GreCounters {
    /// Packets handed to [`GreCall::handle_packet`].
    pub rx_packets: u64,
    /// Frames delivered (directly or from the reorder buffer).
    pub rx_delivered: u64,
    /// Frames delivered after waiting in the reorder buffer.
    pub rx_reordered: u64,
    /// Acknowledgment-only packets received.
    pub rx_ack_only: u64,
    /// Sequence numbers skipped over (lost, or given up on after the reorder time-out).
    pub rx_lost: u64,
    /// Dropped: a sequence number already delivered or held (RFC 2637 §4.3 duplicates).
    pub rx_duplicate: u64,
    /// Dropped: older than a frame already delivered (arrived after its gap was skipped).
    pub rx_late: u64,
    /// Dropped: the packet does not parse as enhanced GRE (RFC 2637 §4.1).
    pub rx_malformed: u64,
    /// Dropped: the Key field names another call.
    pub rx_wrong_call: u64,
    /// Dropped: out of order and no room to hold it (too large for a slot, or the overflow
    /// slot still undelivered).
    pub rx_no_room: u64,
    /// Data packets beyond the window we advertised (RFC 2637 §4.2.4; counted, still taken).
    pub rx_window_overflow: u64,
    /// Acknowledgments for packets never sent (ignored).
    pub rx_bad_ack: u64,
    /// Data packets sent.
    pub tx_packets: u64,
    /// Acknowledgment-only packets sent.
    pub tx_ack_only: u64,
    /// Frames dropped because the transmit window was full (RFC 2637 §4.2) and the transmit
    /// queue had no room for them (or [`GreCall::encapsulate`] refused them).
    pub tx_window_full: u64,
    /// Frames that waited in the transmit queue for the window to open.
    pub tx_queued: u64,
    /// Times [`GreCall::congested`] rose.
    pub tx_congested: u64,
    /// Acknowledgment time-outs (RFC 2637 §4.4).
    pub ack_timeouts: u64,
}

/// Why [`GreCall::handle_packet`] dropped a packet (each also counted in [`GreCounters`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RxDrop {
    /// Not an enhanced GRE packet (RFC 2637 §4.1): why.
    Malformed(gre::Error),
    /// The Key field's Call ID is not ours.
    WrongCall,
    /// A sequence number already delivered or held.
    Duplicate,
    /// Older than a frame already delivered.
    Late,
    /// Out of order and no room to hold it.
    NoRoom,
}

/// What [`GreCall::send`] did with a frame.
#[derive(Debug, PartialEq, Eq)]
pub enum Sent<'b> {
    /// The window is open: send this packet now (a sub-slice of the caller's buffer).
    Now(&'b [u8]),
    /// The window is full: the frame waits in the transmit queue ([`GreCall::poll_send`]).
    Queued,
}

/// Why [`GreCall::encapsulate`] or [`GreCall::send`] sent nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SendError {
    /// The transmit window is full (RFC 2637 §4.2) and the frame could not be queued (the
    /// queue is full or disabled, or the frame is longer than a slot): it is dropped (PPP
    /// tolerates loss). From [`GreCall::encapsulate`]: retry after an acknowledgment or
    /// [`GreCall::poll_timeout`].
    WindowFull,
    /// The buffer is shorter than [`HEADER_ROOM`] + the payload length.
    BufferTooSmall,
    /// The frame is empty or longer than 65535 octets.
    BadLength,
}

/// `a - b` in serial-number arithmetic: positive when `a` comes after `b` (wraps at 2^32).
pub(crate) fn seq_diff(a: u32, b: u32) -> i32 {
    a.wrapping_sub(b) as i32
}

/// Appendix A's estimator, in microseconds: RTT and mean deviation, gains 1/8 and 1/4.
#[derive(Debug, Clone, Copy)]
struct RttEstimator {
    rtt_us: i64,
    dev_us: i64,
}

impl RttEstimator {
    fn sample(&mut self, sample: Duration) {
        let sample_us = i64::try_from(sample.as_micros()).unwrap_or(i64::MAX / 4);
        let diff = sample_us - self.rtt_us;
        self.dev_us += (diff.abs() - self.dev_us) / 4;
        self.rtt_us += diff / 8;
    }

    /// RTT + 4 * DEV.
    fn timeout(&self) -> Duration {
        let us = self
            .rtt_us
            .saturating_add(self.dev_us.saturating_mul(4))
            .max(0);
        Duration::from_micros(us as u64)
    }

    fn rtt(&self) -> Duration {
        Duration::from_micros(self.rtt_us.max(0) as u64)
    }
}

/// The send side: sequence numbers, the §4.2 window and the §4.4 time-out.
#[derive(Debug, Clone)]
struct Tx {
    /// Sequence number of the next data packet.
    next_seq: u32,
    /// Highest sequence number acknowledged (or given up on after a time-out).
    acked: u32,
    /// The current transmit window (RFC 2637 §4.2.1-§4.2.3).
    window: u32,
    /// The window the peer advertised (its maximum).
    max_window: u32,
    /// Packets acknowledged since the window last grew.
    acked_in_window: u32,
    /// The packet being timed for an RTT sample, and when it left.
    timed: Option<(u32, Instant)>,
    /// When the acknowledgment timer (re)started: the oldest unacknowledged packet was sent,
    /// or the last acknowledgment advanced.
    timer_start: Option<Instant>,
    rtt: RttEstimator,
    /// The current acknowledgment time-out (ATO), backed off on time-outs.
    ato: Duration,
    any_ack: bool,
    timeouts_without_ack: u8,
}

impl Tx {
    fn in_flight(&self) -> u32 {
        self.next_seq.wrapping_sub(self.acked).wrapping_sub(1)
    }
}

/// One held out-of-order frame.
#[derive(Debug, Clone, Copy)]
struct Held {
    seq: u32,
    len: usize,
    arrived: Instant,
}

/// The reorder pool: `slots` ring slots indexed by sequence number, plus one overflow slot.
#[derive(Debug)]
struct Pool {
    bytes: Box<[u8]>,
    held: Box<[Option<Held>]>,
}

/// The receive side.
#[derive(Debug)]
struct Rx {
    /// The next sequence number to deliver (`None` until the first data packet).
    next: Option<u32>,
    /// Highest sequence number received: what we acknowledge.
    highest: Option<u32>,
    /// The last acknowledgment number we sent.
    ack_sent: Option<u32>,
    /// An acknowledgment is owed since then, for this many packets.
    owed_since: Option<Instant>,
    owed: u32,
    /// Ring slots (a power of two; 0 disables reordering).
    slots: usize,
    pool: Option<Pool>,
    /// Frames held in the ring (not counting the overflow slot).
    held: usize,
    /// Deliver every held frame up to and including this sequence number, skipping gaps.
    skip_through: Option<u32>,
    /// Bit `i` set: sequence number `next - 1 - i` was delivered (duplicate detection).
    delivered: u64,
}

/// The transmit queue: a ring of `slot_size` slots, allocated on first use.
#[derive(Debug)]
struct TxQueue {
    bytes: Box<[u8]>,
    lens: Box<[usize]>,
    /// The oldest queued frame's slot.
    head: usize,
    /// Frames queued.
    len: usize,
}

/// Enhanced GRE state of one call (see the module documentation).
#[derive(Debug)]
pub struct GreCall {
    config: GreConfig,
    params: GreParams,
    mode: Mode,
    tx: Tx,
    rx: Rx,
    txq: Option<TxQueue>,
    /// The queue rose to `tx_queue_high` and has not drained to `tx_queue_low` since.
    congested: bool,
    counters: GreCounters,
}

impl GreCall {
    /// The data channel of a call that just came up with `params`.
    pub fn new(params: GreParams, config: &GreConfig, now: Instant) -> Self {
        let _ = now;
        let mode = match config.compat {
            CompatPolicy::Always => Mode::Compat(CompatReason::Forced),
            CompatPolicy::Auto if params.peer_window == 0 => Mode::Compat(CompatReason::ZeroWindow),
            _ => Mode::Rfc,
        };
        let max_window = u32::from(params.peer_window.max(1));
        let ppd = Duration::from_millis(u64::from(params.peer_processing_delay) * 100);
        let seed = if ppd.is_zero() {
            config.initial_rtt
        } else {
            ppd
        };
        let rtt = RttEstimator {
            rtt_us: i64::try_from(seed.as_micros()).unwrap_or(i64::MAX / 4),
            dev_us: 0,
        };
        let ato = rtt.timeout().clamp(
            config.min_ack_timeout,
            config.max_ack_timeout.max(config.min_ack_timeout),
        );
        let slots = match config.reorder_slots {
            0 => 0,
            n => usize::from(n.min(256)).next_power_of_two(),
        };
        Self {
            params,
            mode,
            tx: Tx {
                next_seq: config.initial_seq,
                acked: config.initial_seq.wrapping_sub(1),
                // RFC 2637 §4.2.1: start at half the peer's window, at least one packet.
                window: max_window.div_ceil(2).max(1),
                max_window,
                acked_in_window: 0,
                timed: None,
                timer_start: None,
                rtt,
                ato,
                any_ack: false,
                timeouts_without_ack: 0,
            },
            rx: Rx {
                next: None,
                highest: None,
                ack_sent: None,
                owed_since: None,
                owed: 0,
                slots,
                pool: None,
                held: 0,
                skip_through: None,
                delivered: 0,
            },
            txq: None,
            congested: false,
            counters: GreCounters::default(),
            config: config.clone(),
        }
    }

    /// The parameters the call was set up with.
    pub fn params(&self) -> &GreParams {
        &self.params
    }

    /// RFC or compatibility mode.
    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// The counters.
    pub fn counters(&self) -> &GreCounters {
        &self.counters
    }

    /// The current transmit window (RFC 2637 §4.2), in packets.
    pub fn send_window(&self) -> u32 {
        self.tx.window
    }

    /// Data packets sent and not yet acknowledged (nor given up on after a time-out).
    pub fn in_flight(&self) -> u32 {
        self.tx.in_flight()
    }

    /// The current adaptive acknowledgment time-out (RFC 2637 §4.4).
    pub fn ack_timeout(&self) -> Duration {
        self.tx.ato
    }

    /// The smoothed round-trip estimate (RFC 2637 Appendix A).
    pub fn rtt(&self) -> Duration {
        self.tx.rtt.rtt()
    }

    fn reordering(&self) -> bool {
        self.rx.slots > 0 && (self.mode == Mode::Rfc || self.config.compat_reorder)
    }

    fn ack_delay(&self) -> Duration {
        self.config.ack_delay.min(self.tx.ato / 2)
    }

    /// Whether the window holds us back (RFC mode only).
    fn window_full(&self) -> bool {
        self.mode == Mode::Rfc && self.tx.in_flight() >= self.tx.window
    }

    /// Whether [`encapsulate`](Self::encapsulate) would send now.
    pub fn can_send(&self) -> bool {
        !self.window_full()
    }

    /// Frames waiting in the transmit queue.
    pub fn queued(&self) -> usize {
        self.txq.as_ref().map_or(0, |q| q.len)
    }

    /// Whether the owner should stop handing this call frames: the transmit queue rose to
    /// [`GreConfig::tx_queue_high`] and has not yet drained to
    /// [`GreConfig::tx_queue_low`]. Check after [`send`](Self::send) and
    /// [`poll_send`](Self::poll_send).
    pub fn congested(&self) -> bool {
        self.congested
    }

    /// Send a PPP frame, or queue it while the window is full (RFC 2637 §4.2). The frame is
    /// in `buf[HEADER_ROOM..HEADER_ROOM + payload_len]`, as for
    /// [`encapsulate`](Self::encapsulate). Frames go out in the order given: while any frame
    /// waits, a new one queues behind it even if the window has room. After an
    /// acknowledgment ([`handle_packet`](Self::handle_packet)) or a time-out
    /// ([`handle_timeout`](Self::handle_timeout)), drain [`poll_send`](Self::poll_send).
    pub fn send<'b>(
        &mut self,
        now: Instant,
        buf: &'b mut [u8],
        payload_len: usize,
    ) -> Result<Sent<'b>, SendError> {
        if payload_len == 0 || payload_len > usize::from(u16::MAX) {
            return Err(SendError::BadLength);
        }
        if buf.len() < HEADER_ROOM + payload_len {
            return Err(SendError::BufferTooSmall);
        }
        if self.queued() == 0 && !self.window_full() {
            return self.encapsulate(now, buf, payload_len).map(Sent::Now);
        }
        let frame = buf
            .get(HEADER_ROOM..HEADER_ROOM + payload_len)
            .ok_or(SendError::BufferTooSmall)?;
        if !self.enqueue(frame) {
            self.counters.tx_window_full += 1;
            return Err(SendError::WindowFull);
        }
        self.counters.tx_queued += 1;
        if !self.congested && self.queued() >= usize::from(self.config.tx_queue_high.max(1)) {
            self.congested = true;
            self.counters.tx_congested += 1;
        }
        Ok(Sent::Queued)
    }

    /// Copies `frame` to the tail of the transmit queue; `false` when it does not fit.
    fn enqueue(&mut self, frame: &[u8]) -> bool {
        let capacity = usize::from(self.config.tx_queue);
        let slot_size = self.config.slot_size;
        if capacity == 0 || frame.len() > slot_size || self.queued() >= capacity {
            return false;
        }
        let q = self.txq.get_or_insert_with(|| TxQueue {
            bytes: vec![0; capacity * slot_size].into_boxed_slice(),
            lens: vec![0; capacity].into_boxed_slice(),
            head: 0,
            len: 0,
        });
        let index = (q.head + q.len) % capacity;
        let start = index * slot_size;
        let (Some(dst), Some(len)) = (
            q.bytes.get_mut(start..start + frame.len()),
            q.lens.get_mut(index),
        ) else {
            return false;
        };
        dst.copy_from_slice(frame);
        *len = frame.len();
        q.len += 1;
        true
    }

    /// The next queued frame as a packet to send now, built in `buf` (which must hold
    /// [`HEADER_ROOM`] + [`GreConfig::slot_size`] octets), if one waits and the window has
    /// room; `None` otherwise. Call until `None` after each
    /// [`handle_packet`](Self::handle_packet) and [`handle_timeout`](Self::handle_timeout).
    pub fn poll_send<'b>(&mut self, now: Instant, buf: &'b mut [u8]) -> Option<&'b [u8]> {
        if self.queued() == 0 || self.window_full() {
            return None;
        }
        let capacity = usize::from(self.config.tx_queue);
        let slot_size = self.config.slot_size;
        let q = self.txq.as_mut()?;
        let index = q.head;
        let len = q.lens.get(index).copied().unwrap_or(0);
        q.head = (q.head + 1) % capacity.max(1);
        q.len -= 1;
        let start = index * slot_size;
        let copied = match (
            q.bytes.get(start..start + len),
            buf.get_mut(HEADER_ROOM..HEADER_ROOM + len),
        ) {
            (Some(src), Some(dst)) if len > 0 => {
                dst.copy_from_slice(src);
                true
            }
            _ => false,
        };
        if self.congested && self.queued() <= usize::from(self.config.tx_queue_low) {
            self.congested = false;
        }
        if !copied {
            // A buffer too small for the frame: it is lost.
            self.counters.tx_window_full += 1;
            return None;
        }
        self.encapsulate(now, buf, len).ok()
    }

    /// Take one received enhanced GRE packet (the IP payload, RFC 2637 §4.1).
    ///
    /// Returns the PPP frame to deliver now, if this packet is the next in sequence (a slice
    /// of `packet`, which may be decrypted in place); `None` if it was an acknowledgment only
    /// or is held for reordering. After delivering it, drain
    /// [`poll_deliver`](Self::poll_deliver): held frames it released follow it. Then call
    /// [`poll_transmit`](Self::poll_transmit) and re-arm the timer from
    /// [`poll_timeout`](Self::poll_timeout).
    pub fn handle_packet<'a>(
        &mut self,
        now: Instant,
        packet: &'a mut [u8],
    ) -> Result<Option<&'a mut [u8]>, RxDrop> {
        let (header_len, payload_len, call_id, sequence, ack) =
            match gre::Packet::new_checked(&packet[..]) {
                Ok(p) => (
                    p.header_len(),
                    usize::from(p.payload_len()),
                    p.call_id(),
                    p.sequence(),
                    p.ack(),
                ),
                Err(e) => {
                    self.counters.rx_packets += 1;
                    self.counters.rx_malformed += 1;
                    return Err(RxDrop::Malformed(e));
                }
            };
        let Some(payload) = packet.get_mut(header_len..header_len + payload_len) else {
            self.counters.rx_packets += 1;
            self.counters.rx_malformed += 1;
            return Err(RxDrop::Malformed(gre::Error::Truncated));
        };
        self.handle_parsed(now, call_id, sequence, ack, payload)
    }

    /// [`handle_packet`](Self::handle_packet) for a caller that already parsed the
    /// enhanced GRE header (to find the call by its Key): the header's Call ID, Sequence and
    /// Acknowledgment Numbers, and the payload.
    pub fn handle_parsed<'a>(
        &mut self,
        now: Instant,
        call_id: u16,
        seq: Option<u32>,
        ack: Option<u32>,
        payload: &'a mut [u8],
    ) -> Result<Option<&'a mut [u8]>, RxDrop> {
        self.counters.rx_packets += 1;
        if call_id != self.params.local_call_id {
            self.counters.rx_wrong_call += 1;
            return Err(RxDrop::WrongCall);
        }
        if let Some(ack) = ack {
            self.on_ack(now, ack);
        }
        let Some(seq) = seq else {
            if payload.is_empty() {
                self.counters.rx_ack_only += 1;
                return Ok(None);
            }
            // RFC 2637 §4.1: a payload is always sequenced.
            self.counters.rx_malformed += 1;
            return Err(RxDrop::Malformed(gre::Error::PayloadWithoutSequence));
        };
        self.note_received(now, seq);
        let Some(next) = self.rx.next else {
            // The first data packet sets the sequence (peers start at 0 or 1).
            self.rx.next = Some(seq);
            self.delivered_next();
            return Ok(Some(payload));
        };
        let d = seq_diff(seq, next);
        if d < 0 {
            // RFC 2637 §4.3: never hand PPP a frame out of order; a duplicate is discarded.
            let behind = (-(d as i64)) as u64;
            if behind <= 64 && self.rx.delivered >> (behind - 1) & 1 == 1 {
                self.counters.rx_duplicate += 1;
                return Err(RxDrop::Duplicate);
            }
            self.counters.rx_late += 1;
            return Err(RxDrop::Late);
        }
        if self.held_index(seq).is_some() {
            self.counters.rx_duplicate += 1;
            return Err(RxDrop::Duplicate);
        }
        if d == 0 {
            self.delivered_next();
            return Ok(Some(payload));
        }
        // Ahead of the next expected frame: a gap.
        let d = d as u32;
        if !self.reordering() && self.rx.held == 0 && !self.spare_used() {
            self.skip_to(seq);
            self.delivered_next();
            return Ok(Some(payload));
        }
        if payload.len() > self.config.slot_size {
            self.counters.rx_no_room += 1;
            return Err(RxDrop::NoRoom);
        }
        let slots = self.rx.slots;
        let in_ring = self.reordering() && (d as usize) <= slots;
        let index = if in_ring {
            seq as usize & (slots - 1)
        } else {
            // Too far ahead to hold in the ring: give up on the gap. Every held frame comes
            // first, then this one, parked in the overflow slot.
            if self.spare_used() {
                self.counters.rx_no_room += 1;
                return Err(RxDrop::NoRoom);
            }
            slots
        };
        let slot_size = self.config.slot_size;
        let pool = self.rx.pool.get_or_insert_with(|| Pool {
            bytes: vec![0; (slots + 1) * slot_size].into_boxed_slice(),
            held: vec![None; slots + 1].into_boxed_slice(),
        });
        let start = index * slot_size;
        let (Some(dst), Some(entry)) = (
            pool.bytes.get_mut(start..start + payload.len()),
            pool.held.get_mut(index),
        ) else {
            self.counters.rx_no_room += 1;
            return Err(RxDrop::NoRoom);
        };
        if let Some(old) = entry {
            // Only a frame already behind the sequence may be overwritten.
            if seq_diff(old.seq, next) >= 0 {
                self.counters.rx_no_room += 1;
                return Err(RxDrop::NoRoom);
            }
            if in_ring {
                self.rx.held = self.rx.held.saturating_sub(1);
            }
        }
        dst.copy_from_slice(payload);
        *entry = Some(Held {
            seq,
            len: payload.len(),
            arrived: now,
        });
        if in_ring {
            self.rx.held += 1;
        } else {
            self.rx.skip_through = Some(seq.wrapping_sub(1));
        }
        Ok(None)
    }

    /// The frame `next` was delivered: advance, remembering it for duplicate detection.
    fn delivered_next(&mut self) {
        if let Some(next) = self.rx.next {
            self.rx.delivered = self.rx.delivered << 1 | 1;
            self.rx.next = Some(next.wrapping_add(1));
            self.counters.rx_delivered += 1;
        }
    }

    /// Give up on every sequence number before `seq` (RFC 2637 §4.3: lost or too late).
    fn skip_to(&mut self, seq: u32) {
        if let Some(next) = self.rx.next {
            let gap = seq.wrapping_sub(next);
            self.counters.rx_lost += u64::from(gap);
            self.rx.delivered = self.rx.delivered.checked_shl(gap).unwrap_or(0);
            self.rx.next = Some(seq);
        }
    }

    /// Where `seq` is held (a ring slot or the overflow slot), if it is.
    fn held_index(&self, seq: u32) -> Option<usize> {
        let pool = self.rx.pool.as_ref()?;
        let slots = self.rx.slots;
        let ring = (slots > 0).then(|| seq as usize & (slots - 1));
        [ring, Some(slots)].into_iter().flatten().find(|&i| {
            pool.held
                .get(i)
                .and_then(|h| h.as_ref())
                .is_some_and(|h| h.seq == seq)
        })
    }

    fn spare_used(&self) -> bool {
        self.rx
            .pool
            .as_ref()
            .and_then(|p| p.held.get(self.rx.slots))
            .is_some_and(Option::is_some)
    }

    /// Record a data packet for the acknowledgment we owe.
    fn note_received(&mut self, now: Instant, seq: u32) {
        let newer = self.rx.highest.is_none_or(|h| seq_diff(seq, h) > 0);
        if newer {
            self.rx.highest = Some(seq);
        }
        if let Some(sent) = self.rx.ack_sent
            && self.params.local_window > 0
            && seq_diff(seq, sent) > i32::from(self.params.local_window)
        {
            self.counters.rx_window_overflow += 1;
        }
        self.rx.owed_since.get_or_insert(now);
        self.rx.owed = self.rx.owed.saturating_add(1);
    }

    /// The peer acknowledged everything up to `ack` (RFC 2637 §4.2.5).
    fn on_ack(&mut self, now: Instant, ack: u32) {
        let tx = &mut self.tx;
        let last_sent = tx.next_seq.wrapping_sub(1);
        if seq_diff(ack, last_sent) > 0 {
            self.counters.rx_bad_ack += 1;
            return;
        }
        let advance = seq_diff(ack, tx.acked);
        if advance <= 0 {
            return; // stale or repeated
        }
        tx.any_ack = true;
        tx.timeouts_without_ack = 0;
        tx.acked = ack;
        if let Some((seq, sent)) = tx.timed
            && seq_diff(ack, seq) >= 0
        {
            tx.timed = None;
            tx.rtt.sample(now.saturating_duration_since(sent));
            tx.ato = tx.rtt.timeout().clamp(
                self.config.min_ack_timeout,
                self.config.max_ack_timeout.max(self.config.min_ack_timeout),
            );
        }
        // RFC 2637 §4.2.3: one more packet of window per window acknowledged in time.
        tx.acked_in_window += advance as u32;
        if tx.acked_in_window >= tx.window {
            tx.acked_in_window = 0;
            tx.window = (tx.window + 1).min(tx.max_window);
        }
        tx.timer_start = (tx.in_flight() > 0).then_some(now);
    }

    /// The next held frame that may now be delivered, in sequence order; `None` when none.
    /// Call until `None` after each [`handle_packet`](Self::handle_packet) and
    /// [`handle_timeout`](Self::handle_timeout).
    pub fn poll_deliver(&mut self) -> Option<&mut [u8]> {
        let index = self.next_deliverable()?;
        let slot_size = self.config.slot_size;
        let held = self.rx.pool.as_mut()?.held.get_mut(index)?.take()?;
        if index < self.rx.slots {
            self.rx.held = self.rx.held.saturating_sub(1);
        }
        self.delivered_next();
        self.counters.rx_reordered += 1;
        let start = index * slot_size;
        self.rx
            .pool
            .as_mut()?
            .bytes
            .get_mut(start..start + held.len)
    }

    /// The slot of the next frame to deliver, skipping gaps up to `skip_through`.
    fn next_deliverable(&mut self) -> Option<usize> {
        loop {
            let next = self.rx.next?;
            if let Some(index) = self.held_index(next) {
                return Some(index);
            }
            let through = self.rx.skip_through?;
            if seq_diff(through, next) < 0 {
                self.rx.skip_through = None;
                return None;
            }
            let oldest = self.rx.pool.as_ref().and_then(|p| {
                p.held
                    .iter()
                    .flatten()
                    .map(|h| h.seq)
                    .filter(|&s| seq_diff(s, next) > 0 && seq_diff(s, through) <= 0)
                    .min_by_key(|&s| seq_diff(s, next))
            });
            match oldest {
                Some(seq) => self.skip_to(seq),
                None => {
                    self.skip_to(through.wrapping_add(1));
                    self.rx.skip_through = None;
                }
            }
        }
    }

    /// Build a data packet in place: the PPP frame is in
    /// `buf[HEADER_ROOM..HEADER_ROOM + payload_len]`; the header (with the acknowledgment we
    /// owe, if any) goes right before it. Returns the packet to send, a sub-slice of `buf`.
    ///
    /// In [`Mode::Rfc`], fails with [`SendError::WindowFull`] when the window is full
    /// (RFC 2637 §4.2); the frame is not consumed and no sequence number is used.
    pub fn encapsulate<'b>(
        &mut self,
        now: Instant,
        buf: &'b mut [u8],
        payload_len: usize,
    ) -> Result<&'b [u8], SendError> {
        if payload_len == 0 || payload_len > usize::from(u16::MAX) {
            return Err(SendError::BadLength);
        }
        if buf.len() < HEADER_ROOM + payload_len {
            return Err(SendError::BufferTooSmall);
        }
        let (seq, ack) = self.next_data(now)?;
        let (head, tail) = buf.split_at_mut(HEADER_ROOM);
        let repr = gre::Repr::data(
            self.params.peer_call_id,
            seq,
            ack,
            tail.get(..payload_len).unwrap_or_default(),
        );
        let start = HEADER_ROOM - repr.header_len();
        // Cannot fail: the lengths were checked above.
        let _ = repr.emit_header(head.get_mut(start..).unwrap_or_default());
        buf.get(start..HEADER_ROOM + payload_len)
            .ok_or(SendError::BufferTooSmall)
    }

    /// The Sequence Number and the Acknowledgment Number to piggy-back for the next data
    /// packet, for a caller that emits the header itself ([`encapsulate`](Self::encapsulate)
    /// does both). Fails when the window is full (RFC 2637 §4.2).
    pub fn next_data(&mut self, now: Instant) -> Result<(u32, Option<u32>), SendError> {
        if self.window_full() {
            self.counters.tx_window_full += 1;
            return Err(SendError::WindowFull);
        }
        let tx = &mut self.tx;
        let seq = tx.next_seq;
        if tx.in_flight() == 0 {
            tx.timer_start = Some(now);
        }
        tx.next_seq = seq.wrapping_add(1);
        if tx.timed.is_none() {
            tx.timed = Some((seq, now));
        }
        // In compatibility mode nothing bounds the unacknowledged count: keep the arithmetic
        // meaningful by forgetting what is far behind.
        if tx.in_flight() > 1 << 20 {
            tx.acked = seq.wrapping_sub(1 << 16);
        }
        self.counters.tx_packets += 1;
        Ok((seq, self.take_ack()))
    }

    /// The acknowledgment to piggy-back, if one is owed.
    fn take_ack(&mut self) -> Option<u32> {
        self.rx.owed_since?;
        let ack = self.rx.highest?;
        self.rx.owed_since = None;
        self.rx.owed = 0;
        self.rx.ack_sent = Some(ack);
        Some(ack)
    }

    /// When the acknowledgment we owe must go out alone: after the acknowledgment delay, or
    /// at once when a quarter of the window we advertised is owed. The peer's transmit
    /// window starts at half of ours (RFC 2637 §4.2.1) and may be halved again (§4.2.2):
    /// acknowledging at a quarter keeps a sender at either size sending, where waiting for
    /// half would stall it for the delay (or for good, at a window below half).
    fn ack_deadline(&self) -> Option<Instant> {
        let since = self.rx.owed_since?;
        let immediate = self.params.local_window > 0
            && self.rx.owed >= u32::from(self.params.local_window).div_ceil(4);
        Some(if immediate {
            since
        } else {
            since + self.ack_delay()
        })
    }

    /// An acknowledgment-only packet (RFC 2637 §4.2) written to the start of `buf` when one
    /// is due; returns its length. Call after [`handle_packet`](Self::handle_packet) and
    /// [`handle_timeout`](Self::handle_timeout).
    pub fn poll_transmit(&mut self, now: Instant, buf: &mut [u8]) -> Option<usize> {
        if self.ack_deadline()? > now {
            return None;
        }
        let repr = gre::Repr::ack_only(self.params.peer_call_id, self.rx.highest?);
        let len = repr.emit(buf).ok()?;
        self.take_ack();
        self.counters.tx_ack_only += 1;
        Some(len)
    }

    /// The Acknowledgment Number of an acknowledgment-only packet due now, if one is, for a
    /// caller that emits the header itself ([`poll_transmit`](Self::poll_transmit) does
    /// both).
    pub fn take_due_ack(&mut self, now: Instant) -> Option<u32> {
        if self.ack_deadline()? > now {
            return None;
        }
        let ack = self.take_ack();
        self.counters.tx_ack_only += 1;
        ack
    }

    /// The earliest deadline for [`handle_timeout`](Self::handle_timeout).
    pub fn poll_timeout(&self) -> Option<Instant> {
        let ato = (self.mode == Mode::Rfc && self.tx.in_flight() > 0)
            .then(|| self.tx.timer_start.map(|t| t + self.tx.ato))
            .flatten();
        let hold = self.rx.pool.as_ref().and_then(|p| {
            p.held
                .iter()
                .flatten()
                .map(|h| h.arrived)
                .min()
                .map(|t| t + self.config.reorder_timeout)
        });
        [ato, hold, self.ack_deadline()].into_iter().flatten().min()
    }

    /// Run the timers due at `now`: the acknowledgment time-out (RFC 2637 §4.2.2, §4.4) and
    /// the reorder hold limit. Then drain [`poll_deliver`](Self::poll_deliver) and
    /// [`poll_transmit`](Self::poll_transmit).
    pub fn handle_timeout(&mut self, now: Instant) {
        self.ack_timer(now);
        self.hold_timer(now);
    }

    fn ack_timer(&mut self, now: Instant) {
        if self.mode != Mode::Rfc || self.tx.in_flight() == 0 {
            return;
        }
        let tx = &mut self.tx;
        let Some(start) = tx.timer_start else {
            return;
        };
        if start + tx.ato > now {
            return;
        }
        self.counters.ack_timeouts += 1;
        // §4.2.2: halve the window (rounding up, at least 1); no retransmission: what was
        // in flight is given up on. Appendix A: back the time-out off.
        tx.window = tx.window.div_ceil(2).max(1);
        tx.acked_in_window = 0;
        tx.acked = tx.next_seq.wrapping_sub(1);
        tx.timed = None;
        tx.timer_start = None;
        tx.ato = (tx.ato * 2).min(self.config.max_ack_timeout.max(self.config.min_ack_timeout));
        if !tx.any_ack {
            tx.timeouts_without_ack = tx.timeouts_without_ack.saturating_add(1);
            if self.config.compat == CompatPolicy::Auto
                && tx.timeouts_without_ack >= self.config.no_ack_timeouts.max(1)
            {
                self.mode = Mode::Compat(CompatReason::NoAcks);
            }
        }
    }

    fn hold_timer(&mut self, now: Instant) {
        let Some(pool) = self.rx.pool.as_ref() else {
            return;
        };
        let Some(next) = self.rx.next else {
            return;
        };
        // Give up on every gap before the newest frame that waited too long.
        let expired = pool.held[..self.rx.slots.min(pool.held.len())]
            .iter()
            .flatten()
            .filter(|h| h.arrived + self.config.reorder_timeout <= now)
            .map(|h| h.seq)
            .max_by_key(|&s| seq_diff(s, next));
        if let Some(seq) = expired {
            let through = match self.rx.skip_through {
                Some(t) if seq_diff(t, seq) > 0 => t,
                _ => seq,
            };
            self.rx.skip_through = Some(through);
        }
    }
}

#[cfg(test)]
mod tests;
