//! The control-protocol layer shared by LCP and every NCP (RFC 1661 §5).
//!
//! [`ControlProtocol`] wraps one [`Fsm`] and one [`OptionPolicy`] and speaks the packet codes
//! every control protocol shares: Configure-Request/Ack/Nak/Reject, Terminate-Request/Ack and
//! Code-Reject (codes 1 to 7). It owns the identifiers, the last Configure-Request (to match
//! replies by identifier and to check that an Ack echoes it, §5.2), the restart timer and the
//! queue of packets to send. Codes particular to one protocol (LCP's Echo, Discard and
//! Protocol-Reject, CCP's Reset-Request/Ack) are declared by the owner at construction and handed
//! back to it as [`Received::Extra`]; any other code is answered with Code-Reject (RUC).
//!
//! Sans-IO: packets and time in, packets, a deadline and [`LayerEvent`]s out. Packets here are
//! the PPP Information field of one control protocol (Code, Identifier, Length, Data); the
//! engine adds and strips the PPP protocol header.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use dialgate_wire::cp as wire;

use crate::fsm::{Action, Actions, Event, Fsm, FsmConfig, State};
use crate::options::{NegotiationFailure, OptionPolicy, Reply, RequestVerdict};

/// Configure-Request (RFC 1661 §5.1).
pub const CONFIGURE_REQUEST: u8 = 1;
/// Configure-Ack (RFC 1661 §5.2).
pub const CONFIGURE_ACK: u8 = 2;
/// Configure-Nak (RFC 1661 §5.3).
pub const CONFIGURE_NAK: u8 = 3;
/// Configure-Reject (RFC 1661 §5.4).
pub const CONFIGURE_REJECT: u8 = 4;
/// Terminate-Request (RFC 1661 §5.5).
pub const TERMINATE_REQUEST: u8 = 5;
/// Terminate-Ack (RFC 1661 §5.5).
pub const TERMINATE_ACK: u8 = 6;
/// Code-Reject (RFC 1661 §5.6).
pub const CODE_REJECT: u8 = 7;

/// Length of the Code/Identifier/Length header (RFC 1661 §5).
pub const HEADER_LEN: usize = wire::HEADER_LEN;

/// Tunables of one control protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CpConfig {
    /// Restart timer period (RFC 1661 §4.6: default 3 seconds).
    pub restart_period: Duration,
    /// Counter limits.
    pub fsm: FsmConfig,
    /// Most packets kept queued for transmission; beyond, new packets are dropped and counted
    /// (a peer must not make us grow memory without bound).
    pub max_queued: usize,
}

impl Default for CpConfig {
    fn default() -> Self {
        Self {
            restart_period: Duration::from_secs(3),
            fsm: FsmConfig::default(),
            max_queued: 32,
        }
    }
}

/// Why a layer finished (This-Layer-Finished, RFC 1661 §4.4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FinishReason {
    /// We closed it (administrative Close, or the owner closed it for its own reason).
    Closed,
    /// The peer sent Terminate-Request.
    PeerTerminated,
    /// Max-Configure Configure-Requests went unanswered or unacked (TO- while negotiating).
    NoResponse,
    /// The option policy gave up: the negotiation cannot converge.
    NegotiationFailed(NegotiationFailure),
    /// The peer Code-Rejected a code we cannot do without, or Protocol-Rejected the protocol
    /// (RXJ-, RFC 1661 §5.6, §5.7).
    Rejected,
}

/// What the owner learns from the layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LayerEvent {
    /// This-Layer-Up: the layer reached Opened; the policy holds the negotiated values.
    Up,
    /// This-Layer-Down: the layer left Opened.
    Down,
    /// This-Layer-Started: the layer needs the lower layer.
    Started,
    /// This-Layer-Finished: the layer no longer needs the lower layer.
    Finished(FinishReason),
}

/// What [`ControlProtocol::handle_packet`] did with a packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Received<'a> {
    /// Handled by the layer, or silently discarded (then counted in [`CpStats`]).
    Consumed,
    /// A code the owner declared as its own; the layer did nothing with it.
    Extra {
        /// The packet's Code.
        code: u8,
        /// The packet's Identifier.
        identifier: u8,
        /// The Data field (after the 4-byte header, up to the packet's Length).
        data: &'a [u8],
    },
    /// The peer Code-Rejected our `code`; the layer already fed RXJ+ or RXJ- to the automaton.
    CodeRejected {
        /// The rejected code.
        code: u8,
    },
}

/// Counters of one control protocol.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CpStats {
    /// Packets received (well-formed or not).
    pub rx_packets: u64,
    /// Packets sent (queued for transmission).
    pub tx_packets: u64,
    /// Packets discarded because the header or Length field was malformed.
    pub rx_malformed: u64,
    /// Configure-Ack/Nak/Reject discarded: wrong identifier, duplicate, or an Ack that does not
    /// echo our request.
    pub rx_unmatched: u64,
    /// Configure-Requests whose option list was malformed (silently discarded, RFC 1661 §5).
    pub rx_bad_options: u64,
    /// Unknown codes answered with Code-Reject.
    pub rx_unknown_code: u64,
    /// Packets dropped because the transmit queue was full.
    pub tx_dropped: u64,
    /// Events the automaton marks as impossible in its current state.
    pub illegal_events: u64,
}

/// The packet that triggered the current transition, for the actions that answer it.
#[derive(Clone, Copy)]
struct Trigger<'a> {
    identifier: u8,
    /// Data field (for a Configure-Request: its options).
    data: &'a [u8],
    /// The whole packet (for Code-Reject).
    packet: &'a [u8],
}

/// One control protocol: automaton, option policy, identifiers, restart timer, send queue.
#[derive(Debug)]
pub struct ControlProtocol<P: OptionPolicy> {
    protocol: u16,
    policy: P,
    fsm: Fsm,
    config: CpConfig,
    extra_codes: &'static [u8],
    /// Identifier of the next packet we originate.
    next_id: u8,
    /// Identifier and options of our outstanding Configure-Request.
    req_id: u8,
    req_options: Vec<u8>,
    /// Whether a reply to `req_id` was already accepted (duplicates are discarded).
    req_answered: bool,
    /// The verdict on the peer's last Configure-Request.
    reply: Reply,
    verdict: RequestVerdict,
    deadline: Option<Instant>,
    /// Largest packet the peer accepts (its MRU), for Code-Reject truncation.
    peer_mru: usize,
    tx: VecDeque<Vec<u8>>,
    spare: Vec<Vec<u8>>,
    events: VecDeque<LayerEvent>,
    finish_reason: Option<FinishReason>,
    /// Set after a Protocol-Reject of this protocol: nothing more is sent.
    rejected: bool,
    stats: CpStats,
}

impl<P: OptionPolicy> ControlProtocol<P> {
    /// A layer for PPP protocol number `protocol` in the Initial state.
    ///
    /// `extra_codes` are codes beyond 1-7 that the owner handles itself (for LCP 8 to 11 and 12
    /// to 13 as it implements them, for CCP 14 and 15); every other code is Code-Rejected.
    pub fn new(protocol: u16, policy: P, config: CpConfig, extra_codes: &'static [u8]) -> Self {
        Self {
            protocol,
            policy,
            fsm: Fsm::new(config.fsm),
            config,
            extra_codes,
            next_id: 1,
            req_id: 0,
            req_options: Vec::new(),
            req_answered: true,
            reply: Reply::default(),
            verdict: RequestVerdict::Ack,
            deadline: None,
            peer_mru: 1500,
            tx: VecDeque::new(),
            spare: Vec::new(),
            events: VecDeque::new(),
            finish_reason: None,
            rejected: false,
            stats: CpStats::default(),
        }
    }

    /// The PPP protocol number of this layer.
    pub fn protocol(&self) -> u16 {
        self.protocol
    }

    /// The option policy (negotiated values are read through it).
    pub fn policy(&self) -> &P {
        &self.policy
    }

    /// The option policy, mutably (for configuration between negotiations).
    pub fn policy_mut(&mut self) -> &mut P {
        &mut self.policy
    }

    /// The automaton's state.
    pub fn state(&self) -> State {
        self.fsm.state()
    }

    /// The reason This-Layer-Finished will report, once recorded: set when the peer sends
    /// Terminate-Request, on Max-Configure, a fatal reject or a close, and taken when the
    /// layer finishes (or cleared when it comes up again).
    pub fn pending_finish(&self) -> Option<&FinishReason> {
        self.finish_reason.as_ref()
    }

    /// Whether the layer is Opened.
    pub fn is_open(&self) -> bool {
        self.fsm.state() == State::Opened
    }

    /// Counters.
    pub fn stats(&self) -> CpStats {
        CpStats {
            illegal_events: self.fsm.illegal_events(),
            ..self.stats
        }
    }

    /// Set the largest packet the peer accepts (its negotiated MRU).
    pub fn set_peer_mru(&mut self, mru: usize) {
        self.peer_mru = mru.max(HEADER_LEN + 2);
    }

    /// Administrative Open (RFC 1661 §4.3).
    pub fn open(&mut self, now: Instant) {
        self.rejected = false;
        if self.fsm.state() == State::Closed {
            // A fresh negotiation starts from the configured preferences.
            self.policy.reset();
        }
        self.event(now, Event::Open, None);
    }

    /// Administrative Close (RFC 1661 §4.3).
    pub fn close(&mut self, now: Instant) {
        self.finish_reason.get_or_insert(FinishReason::Closed);
        self.event(now, Event::Close, None);
    }

    /// Close because the negotiation cannot converge; the layer finishes with that reason.
    pub fn fail(&mut self, now: Instant, failure: NegotiationFailure) {
        self.finish_reason = Some(FinishReason::NegotiationFailed(failure));
        self.event(now, Event::Close, None);
    }

    /// The lower layer is up (RFC 1661 §4.3 Up).
    pub fn up(&mut self, now: Instant) {
        self.event(now, Event::Up, None);
    }

    /// The lower layer is down (RFC 1661 §4.3 Down).
    pub fn down(&mut self, now: Instant) {
        self.event(now, Event::Down, None);
    }

    /// Feed RXR (Echo-Request/Reply, Discard-Request); returns whether the automaton asks for
    /// an Echo-Reply (`ser`, only in Opened). The owner builds the reply.
    pub fn receive_rxr(&mut self, now: Instant) -> bool {
        self.event(now, Event::Rxr, None)
            .is_some_and(|actions| actions.contains(&Action::Ser))
    }

    /// The peer Protocol-Rejected this protocol (RFC 1661 §5.7): the layer gets RXJ- and sends
    /// nothing more until the next [`open`](Self::open).
    pub fn protocol_rejected(&mut self, now: Instant) {
        self.finish_reason = Some(FinishReason::Rejected);
        self.event(now, Event::RxjMinus, None);
        self.rejected = true;
        self.tx.clear();
    }

    /// Whether the peer Protocol-Rejected this protocol.
    pub fn is_rejected(&self) -> bool {
        self.rejected
    }

    /// The next Identifier for a packet we originate.
    pub fn next_identifier(&mut self) -> u8 {
        let id = self.next_id;
        self.next_id = self.next_id.wrapping_add(1);
        id
    }

    /// Queue a packet of an owner-handled code (Echo-Reply, Protocol-Reject, Reset-Ack, ...).
    /// `data` is truncated to the peer's MRU.
    pub fn send_packet(&mut self, code: u8, identifier: u8, data: &[u8]) {
        self.queue(code, identifier, &[data]);
    }

    /// Queue a packet whose data is the concatenation of `parts`, truncated to the peer's MRU.
    pub fn send_packet_parts(&mut self, code: u8, identifier: u8, parts: &[&[u8]]) {
        self.queue(code, identifier, parts);
    }

    /// The restart timer deadline, if the timer runs.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.deadline
    }

    /// Run the restart timer if its deadline has passed.
    pub fn handle_timeout(&mut self, now: Instant) {
        match self.deadline {
            Some(deadline) if deadline <= now => {}
            _ => return,
        }
        self.deadline = None;
        if matches!(
            self.fsm.state(),
            State::ReqSent | State::AckRcvd | State::AckSent
        ) && self.fsm.restart_counter() == 0
        {
            self.finish_reason.get_or_insert(FinishReason::NoResponse);
        }
        let result = self.fsm.timeout();
        if let Ok(actions) = result {
            self.run(now, actions, None);
        }
    }

    /// Append the next queued packet (Code..Data, no PPP header) to `out`; false if none.
    pub fn poll_transmit(&mut self, out: &mut Vec<u8>) -> bool {
        let Some(packet) = self.tx.pop_front() else {
            return false;
        };
        out.extend_from_slice(&packet);
        self.recycle(packet);
        true
    }

    /// Whether packets are waiting in the transmit queue.
    pub fn has_transmit(&self) -> bool {
        !self.tx.is_empty()
    }

    /// The next layer event.
    pub fn poll_event(&mut self) -> Option<LayerEvent> {
        self.events.pop_front()
    }

    /// Handle one received packet of this protocol (the PPP Information field).
    ///
    /// Total: malformed packets are discarded and counted, never a panic.
    pub fn handle_packet<'a>(&mut self, now: Instant, packet: &'a [u8]) -> Received<'a> {
        self.stats.rx_packets += 1;
        let Some((code, identifier, data, packet)) = split(packet) else {
            self.stats.rx_malformed += 1;
            return Received::Consumed;
        };
        let trigger = Trigger {
            identifier,
            data,
            packet,
        };
        match code {
            CONFIGURE_REQUEST => self.receive_configure_request(now, trigger),
            CONFIGURE_ACK => self.receive_configure_ack(now, trigger),
            CONFIGURE_NAK | CONFIGURE_REJECT => self.receive_configure_nak(now, code, trigger),
            TERMINATE_REQUEST => {
                if matches!(
                    self.fsm.state(),
                    State::ReqSent | State::AckRcvd | State::AckSent | State::Opened
                ) {
                    self.finish_reason = Some(FinishReason::PeerTerminated);
                }
                self.event(now, Event::Rtr, Some(trigger));
            }
            TERMINATE_ACK => {
                self.event(now, Event::Rta, Some(trigger));
            }
            CODE_REJECT => {
                let Some(&rejected) = data.first() else {
                    self.stats.rx_malformed += 1;
                    return Received::Consumed;
                };
                // RFC 1661 §5.6: a rejected code the protocol cannot do without (the
                // negotiation and termination codes, and Code-Reject itself) is RXJ-.
                if (CONFIGURE_REQUEST..=CODE_REJECT).contains(&rejected) {
                    self.finish_reason = Some(FinishReason::Rejected);
                    self.event(now, Event::RxjMinus, Some(trigger));
                } else {
                    self.event(now, Event::RxjPlus, Some(trigger));
                }
                return Received::CodeRejected { code: rejected };
            }
            other if self.extra_codes.contains(&other) => {
                return Received::Extra {
                    code: other,
                    identifier,
                    data,
                };
            }
            _ => {
                self.stats.rx_unknown_code += 1;
                self.event(now, Event::Ruc, Some(trigger));
            }
        }
        Received::Consumed
    }

    fn receive_configure_request(&mut self, now: Instant, trigger: Trigger<'_>) {
        let state = self.fsm.state();
        let event = if matches!(
            state,
            State::Stopped | State::ReqSent | State::AckRcvd | State::AckSent | State::Opened
        ) {
            if state == State::Stopped {
                // Stopped leads into a fresh negotiation (irc, scr): start from preferences.
                self.policy.reset();
            }
            self.reply.clear();
            match self
                .policy
                .check_request(trigger.data, &mut self.reply, self.fsm.nak_exhausted())
            {
                Ok(_) => {
                    // The reply lists decide what is sent (Reject over Nak over Ack), so the
                    // answer always matches what the policy filled in.
                    self.verdict = self.reply.verdict();
                    if self.verdict == RequestVerdict::Ack {
                        Event::RcrPlus
                    } else {
                        Event::RcrMinus
                    }
                }
                Err(_) => {
                    self.stats.rx_bad_options += 1;
                    return;
                }
            }
        } else {
            // Closed answers Terminate-Ack, Closing/Stopping ignore: no judgement needed.
            Event::RcrPlus
        };
        self.event(now, event, Some(trigger));
    }

    /// Whether a reply with `identifier` answers our outstanding Configure-Request.
    fn matches_request(&mut self, identifier: u8) -> bool {
        if !matches!(
            self.fsm.state(),
            State::ReqSent | State::AckRcvd | State::AckSent | State::Opened
        ) {
            // Closed/Stopped answer with Terminate-Ack, Closing/Stopping ignore: no match needed.
            return true;
        }
        if self.req_answered || identifier != self.req_id {
            self.stats.rx_unmatched += 1;
            return false;
        }
        true
    }

    fn negotiating(&self) -> bool {
        matches!(
            self.fsm.state(),
            State::ReqSent | State::AckRcvd | State::AckSent | State::Opened
        )
    }

    fn receive_configure_ack(&mut self, now: Instant, trigger: Trigger<'_>) {
        if !self.matches_request(trigger.identifier) {
            return;
        }
        if self.negotiating() {
            // RFC 1661 §5.2: the options MUST exactly match those of the request.
            if trigger.data != self.req_options.as_slice() {
                self.stats.rx_unmatched += 1;
                return;
            }
            if self.policy.on_ack(trigger.data).is_err() {
                self.stats.rx_unmatched += 1;
                return;
            }
            self.req_answered = true;
        }
        self.event(now, Event::Rca, Some(trigger));
    }

    fn receive_configure_nak(&mut self, now: Instant, code: u8, trigger: Trigger<'_>) {
        if !self.matches_request(trigger.identifier) {
            return;
        }
        if self.negotiating() {
            self.req_answered = true;
            let result = if code == CONFIGURE_NAK {
                self.policy.on_nak(trigger.data)
            } else {
                self.policy.on_reject(trigger.data)
            };
            if let Err(failure) = result {
                self.fail(now, failure);
                return;
            }
        }
        self.event(now, Event::Rcn, Some(trigger));
    }

    /// Feed `event` to the automaton and perform the resulting actions.
    fn event(
        &mut self,
        now: Instant,
        event: Event,
        trigger: Option<Trigger<'_>>,
    ) -> Option<Actions> {
        match self.fsm.handle(event) {
            Ok(actions) => {
                self.run(now, actions, trigger);
                Some(actions)
            }
            Err(_) => None,
        }
    }

    fn run(&mut self, now: Instant, actions: Actions, trigger: Option<Trigger<'_>>) {
        let trigger_id = trigger.map(|t| t.identifier);
        for &action in &actions {
            match action {
                Action::Tlu => {
                    self.finish_reason = None;
                    self.events.push_back(LayerEvent::Up);
                }
                Action::Tld => self.events.push_back(LayerEvent::Down),
                Action::Tls => {
                    self.finish_reason = None;
                    self.policy.reset();
                    self.events.push_back(LayerEvent::Started);
                }
                Action::Tlf => {
                    let reason = self.finish_reason.take().unwrap_or(FinishReason::Closed);
                    self.events.push_back(LayerEvent::Finished(reason));
                }
                Action::Irc | Action::Zrc => {}
                Action::StartTimer => self.deadline = Some(now + self.config.restart_period),
                Action::StopTimer => self.deadline = None,
                Action::Scr => self.send_configure_request(),
                Action::Sca => {
                    let (id, data) = trigger.map_or((0, &[][..]), |t| (t.identifier, t.data));
                    self.queue(CONFIGURE_ACK, id, &[data]);
                }
                Action::Scn => {
                    let id = trigger_id.unwrap_or(0);
                    let reply = core::mem::take(&mut self.reply);
                    if self.verdict == RequestVerdict::Reject {
                        self.queue(CONFIGURE_REJECT, id, &[&reply.rej]);
                    } else {
                        self.queue(CONFIGURE_NAK, id, &[&reply.nak]);
                        self.fsm.record_nak();
                    }
                    self.reply = reply;
                }
                Action::Str => {
                    let id = self.next_identifier();
                    self.queue(TERMINATE_REQUEST, id, &[]);
                }
                Action::Sta => {
                    let id = match trigger_id {
                        Some(id) => id,
                        None => self.next_identifier(),
                    };
                    self.queue(TERMINATE_ACK, id, &[]);
                }
                Action::Scj => {
                    let id = self.next_identifier();
                    let rejected = trigger.map_or(&[][..], |t| t.packet);
                    self.queue(CODE_REJECT, id, &[rejected]);
                }
                // The owner builds Echo-Replies (it knows the magic number): see receive_rxr.
                Action::Ser => {}
            }
        }
    }

    fn send_configure_request(&mut self) {
        self.req_id = self.next_identifier();
        self.req_answered = false;
        let mut options = core::mem::take(&mut self.req_options);
        options.clear();
        self.policy.build_request(&mut options);
        self.queue(CONFIGURE_REQUEST, self.req_id, &[&options]);
        self.req_options = options;
    }

    fn queue(&mut self, code: u8, identifier: u8, parts: &[&[u8]]) {
        if self.rejected {
            self.stats.tx_dropped += 1;
            return;
        }
        if self.tx.len() >= self.config.max_queued {
            self.stats.tx_dropped += 1;
            return;
        }
        let mut packet = self.spare.pop().unwrap_or_default();
        packet.clear();
        let limit = self.peer_mru.min(usize::from(u16::MAX));
        packet.extend_from_slice(&[code, identifier, 0, 0]);
        for part in parts {
            let room = limit.saturating_sub(packet.len());
            packet.extend_from_slice(part.get(..room).unwrap_or(part));
        }
        let len = u16::try_from(packet.len())
            .unwrap_or(u16::MAX)
            .to_be_bytes();
        if let Some(field) = packet.get_mut(2..4) {
            field.copy_from_slice(&len);
        }
        self.stats.tx_packets += 1;
        self.tx.push_back(packet);
    }

    fn recycle(&mut self, packet: Vec<u8>) {
        if self.spare.len() < 4 {
            self.spare.push(packet);
        }
    }
}

/// Split a control packet into Code, Identifier, Data and the packet itself without padding
/// (RFC 1661 §5). `None` when the packet is shorter than its header or its Length field is
/// below 4 or past the end.
fn split(packet: &[u8]) -> Option<(u8, u8, &[u8], &[u8])> {
    let repr = wire::Repr::parse(packet).ok()?;
    let whole = packet.get(..HEADER_LEN + repr.data.len())?;
    Some((repr.code.into(), repr.identifier, repr.data, whole))
}

#[cfg(test)]
mod tests;
