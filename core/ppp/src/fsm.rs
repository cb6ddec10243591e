//! The option-negotiation automaton of RFC 1661 §4, shared by LCP and every NCP.
//!
//! Pure and timer-less: [`Fsm::handle`] and [`Fsm::timeout`] take one event and return the
//! actions to perform, in a small fixed-capacity [`Actions`] list (no allocation). The owner
//! (the control-protocol layer) sends the packets, runs the restart timer and reports
//! This-Layer-Up/Down/Started/Finished upwards.
//!
//! The automaton follows the §4.1 state transition table cell by cell. Where the table lists
//! several actions, they are returned in the printed order, with two kinds of actions added:
//!
//! * [`Action::StartTimer`] right after every `scr`, `str` and `zrc` (the restart timer is
//!   (re)started whenever a Configure-Request or Terminate-Request is sent, §4.6, and `zrc`
//!   "MUST set the timeout to a suitable value", §4.4);
//! * [`Action::StopTimer`] first, whenever the transition leaves one of the states in which the
//!   restart timer runs (Closing, Stopping, Req-Sent, Ack-Rcvd, Ack-Sent, §4.2) for one in which
//!   it does not (Initial, Starting, Closed, Stopped, Opened).
//!
//! The restart counter (§4.6) is owned here: `irc` loads Max-Terminate when the cell goes on
//! to send a Terminate-Request, Max-Configure otherwise; each `scr`/`str` decrements it; `zrc`
//! zeroes it. A timeout is TO+ while the counter is above zero and TO- once it has expired.
//!
//! The footnoted cells are implemented as printed, with these readings:
//!
//! * `[r]` (restart option, §4.3 Open event): an Open in Stopped, Closing, Stopping or Opened
//!   does **not** restart the link; it only records that the layer is administratively open
//!   (Closing becomes Stopping). A caller that wants a renegotiation issues Down then Up.
//! * `[p]` (passive option, §4.2 Stopped): after TO- the automaton rests in Stopped and waits
//!   for the peer's Configure-Request (or Down); it never retransmits on its own from there.
//!   Whether a layer that finished this way takes the link down is the owner's decision.
//! * `[x]` (crossed connection, §4.3 RCA event): a Configure-Ack in Ack-Rcvd or Opened restarts
//!   the negotiation with a new Configure-Request, as printed.
//!
//! The `-` cells (events that cannot happen in that state) leave the state unchanged, return
//! [`IllegalEvent`] and are counted; they never panic.

use core::fmt;
use core::ops::Deref;

/// The ten states of RFC 1661 §4.2.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum State {
    /// 0: lower layer down, no Open has occurred.
    Initial,
    /// 1: administratively open, waiting for the lower layer (This-Layer-Started was signalled).
    Starting,
    /// 2: lower layer up, no Open has occurred; Configure-Requests are answered with
    /// Terminate-Ack.
    Closed,
    /// 3: open, but the negotiation gave up or the peer terminated; waits for a Configure-Request.
    Stopped,
    /// 4: a Terminate-Request was sent after a Close; waits for Terminate-Ack.
    Closing,
    /// 5: a Terminate-Request was sent (or one was acked in Opened); the layer is still open.
    Stopping,
    /// 6: a Configure-Request was sent; nothing acked yet.
    ReqSent,
    /// 7: our Configure-Request was acked; the peer's not yet.
    AckRcvd,
    /// 8: we acked the peer's Configure-Request; ours is not yet acked.
    AckSent,
    /// 9: both Configure-Requests acked; the layer is up.
    Opened,
}

impl State {
    /// The RFC 1661 state number (0 to 9).
    pub fn number(self) -> u8 {
        self as u8
    }

    /// Whether the restart timer runs in this state (RFC 1661 §4.2).
    pub fn timer_runs(self) -> bool {
        matches!(
            self,
            Self::Closing | Self::Stopping | Self::ReqSent | Self::AckRcvd | Self::AckSent
        )
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Initial => "Initial",
            Self::Starting => "Starting",
            Self::Closed => "Closed",
            Self::Stopped => "Stopped",
            Self::Closing => "Closing",
            Self::Stopping => "Stopping",
            Self::ReqSent => "Req-Sent",
            Self::AckRcvd => "Ack-Rcvd",
            Self::AckSent => "Ack-Sent",
            Self::Opened => "Opened",
        })
    }
}

/// The events of RFC 1661 §4.3 that the owner feeds in.
///
/// The two timeout events TO+ and TO- are not inputs: the owner calls [`Fsm::timeout`] and the
/// automaton decides from its restart counter. [`Event::TimeoutPlus`] and
/// [`Event::TimeoutMinus`] only appear in [`IllegalEvent`] reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Event {
    /// Up: the lower layer is up.
    Up,
    /// Down: the lower layer is down.
    Down,
    /// Open: administrative Open.
    Open,
    /// Close: administrative Close.
    Close,
    /// TO+: restart timer expired with the counter above zero (reported only).
    TimeoutPlus,
    /// TO-: restart timer expired with the counter exhausted (reported only).
    TimeoutMinus,
    /// RCR+: a good (acceptable) Configure-Request was received.
    RcrPlus,
    /// RCR-: a bad Configure-Request was received (we answer Nak or Reject).
    RcrMinus,
    /// RCA: a Configure-Ack matching our last request was received.
    Rca,
    /// RCN: a Configure-Nak or Configure-Reject matching our last request was received.
    Rcn,
    /// RTR: a Terminate-Request was received.
    Rtr,
    /// RTA: a Terminate-Ack was received.
    Rta,
    /// RUC: a packet with an unknown code was received.
    Ruc,
    /// RXJ+: a Code-Reject or Protocol-Reject that still allows operation was received.
    RxjPlus,
    /// RXJ-: a Code-Reject or Protocol-Reject that makes operation impossible was received.
    RxjMinus,
    /// RXR: an Echo-Request, Echo-Reply or Discard-Request was received.
    Rxr,
}

/// The actions of RFC 1661 §4.4, plus explicit restart-timer control.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    /// tlu, This-Layer-Up: the layer entered Opened.
    Tlu,
    /// tld, This-Layer-Down: the layer is leaving Opened.
    Tld,
    /// tls, This-Layer-Started: the layer needs the lower layer.
    Tls,
    /// tlf, This-Layer-Finished: the layer no longer needs the lower layer.
    Tlf,
    /// irc, Initialize-Restart-Count (already applied to the counter).
    Irc,
    /// zrc, Zero-Restart-Count (already applied to the counter).
    Zrc,
    /// scr, Send-Configure-Request (the counter was already decremented).
    Scr,
    /// sca, Send-Configure-Ack.
    Sca,
    /// scn, Send-Configure-Nak or Configure-Reject, as the option policy decided.
    Scn,
    /// str, Send-Terminate-Request (the counter was already decremented).
    Str,
    /// sta, Send-Terminate-Ack.
    Sta,
    /// scj, Send-Code-Reject.
    Scj,
    /// ser, Send-Echo-Reply.
    Ser,
    /// (Re)start the restart timer with the configured period.
    StartTimer,
    /// Stop the restart timer.
    StopTimer,
}

/// Most actions one transition can produce (e.g. `tld,irc,str` + timer start).
pub const MAX_ACTIONS: usize = 6;

/// The actions of one transition, in order; a fixed-capacity list (no allocation).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Actions {
    buf: [Action; MAX_ACTIONS],
    len: u8,
}

impl Actions {
    const fn new() -> Self {
        Self {
            buf: [Action::Tlu; MAX_ACTIONS],
            len: 0,
        }
    }

    fn push(&mut self, action: Action) {
        // Capacity is a static property of the table (at most 4 + 1 timer action); the check
        // keeps this total anyway.
        if let Some(slot) = self.buf.get_mut(usize::from(self.len)) {
            *slot = action;
            self.len += 1;
        }
    }

    /// The actions as a slice.
    pub fn as_slice(&self) -> &[Action] {
        self.buf.get(..usize::from(self.len)).unwrap_or(&[])
    }
}

impl Deref for Actions {
    type Target = [Action];
    fn deref(&self) -> &[Action] {
        self.as_slice()
    }
}

impl fmt::Debug for Actions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.as_slice()).finish()
    }
}

impl<'a> IntoIterator for &'a Actions {
    type Item = &'a Action;
    type IntoIter = core::slice::Iter<'a, Action>;
    fn into_iter(self) -> Self::IntoIter {
        self.as_slice().iter()
    }
}

/// An event that the §4.1 table marks `-` for the current state: nothing was done.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IllegalEvent {
    /// The state the automaton was (and still is) in.
    pub state: State,
    /// The event that cannot happen there.
    pub event: Event,
}

impl fmt::Display for IllegalEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "event {:?} cannot happen in state {}",
            self.event, self.state
        )
    }
}

/// Counter limits of RFC 1661 §4.6.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FsmConfig {
    /// Configure-Requests sent without an Ack before giving up (default 10).
    pub max_configure: u8,
    /// Terminate-Requests sent without an Ack before giving up (default 2).
    pub max_terminate: u8,
    /// Configure-Naks sent without an Ack before Naks turn into Rejects (default 5).
    pub max_failure: u8,
}

impl Default for FsmConfig {
    fn default() -> Self {
        Self {
            max_configure: 10,
            max_terminate: 2,
            max_failure: 5,
        }
    }
}

/// The RFC 1661 §4 automaton with its restart and failure counters.
#[derive(Debug, Clone)]
pub struct Fsm {
    state: State,
    config: FsmConfig,
    restart: u8,
    naks_sent: u8,
    illegal: u64,
}

use Action::{Irc, Sca, Scj, Scn, Scr, Ser, Sta, Str, Tld, Tlf, Tls, Tlu, Zrc};
use State::{
    AckRcvd, AckSent, Closed, Closing, Initial, Opened, ReqSent, Starting, Stopped, Stopping,
};

/// The §4.1 table: the cell's printed actions and next state, or `None` for `-`.
fn cell(state: State, event: Event) -> Option<(&'static [Action], State)> {
    use Event::*;
    let c: (&'static [Action], State) = match (state, event) {
        // 0 Initial
        (Initial, Up) => (&[], Closed),
        (Initial, Open) => (&[Tls], Starting),
        (Initial, Close) => (&[], Initial),
        // 1 Starting
        (Starting, Up) => (&[Irc, Scr], ReqSent),
        (Starting, Open) => (&[], Starting),
        (Starting, Close) => (&[Tlf], Initial),
        (Initial | Starting, _) => return None,
        // 2 Closed
        (Closed, Down) => (&[], Initial),
        (Closed, Open) => (&[Irc, Scr], ReqSent),
        (Closed, Close) => (&[], Closed),
        (Closed, RcrPlus | RcrMinus | Rca | Rcn | Rtr) => (&[Sta], Closed),
        (Closed, Rta | RxjPlus | Rxr) => (&[], Closed),
        (Closed, Ruc) => (&[Scj], Closed),
        (Closed, RxjMinus) => (&[Tlf], Closed),
        // 3 Stopped
        (Stopped, Down) => (&[Tls], Starting),
        (Stopped, Open) => (&[], Stopped),
        (Stopped, Close) => (&[], Closed),
        (Stopped, RcrPlus) => (&[Irc, Scr, Sca], AckSent),
        (Stopped, RcrMinus) => (&[Irc, Scr, Scn], ReqSent),
        (Stopped, Rca | Rcn | Rtr) => (&[Sta], Stopped),
        (Stopped, Rta | RxjPlus | Rxr) => (&[], Stopped),
        (Stopped, Ruc) => (&[Scj], Stopped),
        (Stopped, RxjMinus) => (&[Tlf], Stopped),
        // 4 Closing
        (Closing, Down) => (&[], Initial),
        (Closing, Open) => (&[], Stopping),
        (Closing, Close) => (&[], Closing),
        (Closing, TimeoutPlus) => (&[Str], Closing),
        (Closing, TimeoutMinus) => (&[Tlf], Closed),
        (Closing, RcrPlus | RcrMinus | Rca | Rcn | RxjPlus | Rxr) => (&[], Closing),
        (Closing, Rtr) => (&[Sta], Closing),
        (Closing, Rta) => (&[Tlf], Closed),
        (Closing, Ruc) => (&[Scj], Closing),
        (Closing, RxjMinus) => (&[Tlf], Closed),
        // 5 Stopping
        (Stopping, Down) => (&[], Starting),
        (Stopping, Open) => (&[], Stopping),
        (Stopping, Close) => (&[], Closing),
        (Stopping, TimeoutPlus) => (&[Str], Stopping),
        (Stopping, TimeoutMinus) => (&[Tlf], Stopped),
        (Stopping, RcrPlus | RcrMinus | Rca | Rcn | RxjPlus | Rxr) => (&[], Stopping),
        (Stopping, Rtr) => (&[Sta], Stopping),
        (Stopping, Rta) => (&[Tlf], Stopped),
        (Stopping, Ruc) => (&[Scj], Stopping),
        (Stopping, RxjMinus) => (&[Tlf], Stopped),
        (Closed | Stopped | Closing | Stopping, _) => return None,
        // 6 Req-Sent
        (ReqSent, Down) => (&[], Starting),
        (ReqSent, Open) => (&[], ReqSent),
        (ReqSent, Close) => (&[Irc, Str], Closing),
        (ReqSent, TimeoutPlus) => (&[Scr], ReqSent),
        (ReqSent, TimeoutMinus) => (&[Tlf], Stopped),
        (ReqSent, RcrPlus) => (&[Sca], AckSent),
        (ReqSent, RcrMinus) => (&[Scn], ReqSent),
        (ReqSent, Rca) => (&[Irc], AckRcvd),
        (ReqSent, Rcn) => (&[Irc, Scr], ReqSent),
        (ReqSent, Rtr) => (&[Sta], ReqSent),
        (ReqSent, Rta | RxjPlus | Rxr) => (&[], ReqSent),
        (ReqSent, Ruc) => (&[Scj], ReqSent),
        (ReqSent, RxjMinus) => (&[Tlf], Stopped),
        // 7 Ack-Rcvd
        (AckRcvd, Down) => (&[], Starting),
        (AckRcvd, Open) => (&[], AckRcvd),
        (AckRcvd, Close) => (&[Irc, Str], Closing),
        (AckRcvd, TimeoutPlus) => (&[Scr], ReqSent),
        (AckRcvd, TimeoutMinus) => (&[Tlf], Stopped),
        (AckRcvd, RcrPlus) => (&[Sca, Tlu], Opened),
        (AckRcvd, RcrMinus) => (&[Scn], AckRcvd),
        (AckRcvd, Rca | Rcn) => (&[Scr], ReqSent),
        (AckRcvd, Rtr) => (&[Sta], ReqSent),
        (AckRcvd, Rta | RxjPlus) => (&[], ReqSent),
        (AckRcvd, Ruc) => (&[Scj], AckRcvd),
        (AckRcvd, RxjMinus) => (&[Tlf], Stopped),
        (AckRcvd, Rxr) => (&[], AckRcvd),
        // 8 Ack-Sent
        (AckSent, Down) => (&[], Starting),
        (AckSent, Open) => (&[], AckSent),
        (AckSent, Close) => (&[Irc, Str], Closing),
        (AckSent, TimeoutPlus) => (&[Scr], AckSent),
        (AckSent, TimeoutMinus) => (&[Tlf], Stopped),
        (AckSent, RcrPlus) => (&[Sca], AckSent),
        (AckSent, RcrMinus) => (&[Scn], ReqSent),
        (AckSent, Rca) => (&[Irc, Tlu], Opened),
        (AckSent, Rcn) => (&[Irc, Scr], AckSent),
        (AckSent, Rtr) => (&[Sta], ReqSent),
        (AckSent, Rta | RxjPlus | Rxr) => (&[], AckSent),
        (AckSent, Ruc) => (&[Scj], AckSent),
        (AckSent, RxjMinus) => (&[Tlf], Stopped),
        (ReqSent | AckRcvd | AckSent, Up) => return None,
        // 9 Opened
        (Opened, Down) => (&[Tld], Starting),
        (Opened, Open) => (&[], Opened),
        (Opened, Close) => (&[Tld, Irc, Str], Closing),
        (Opened, RcrPlus) => (&[Tld, Scr, Sca], AckSent),
        (Opened, RcrMinus) => (&[Tld, Scr, Scn], ReqSent),
        (Opened, Rca | Rcn | Rta) => (&[Tld, Scr], ReqSent),
        (Opened, Rtr) => (&[Tld, Zrc, Sta], Stopping),
        (Opened, Ruc) => (&[Scj], Opened),
        (Opened, RxjPlus) => (&[], Opened),
        (Opened, RxjMinus) => (&[Tld, Irc, Str], Stopping),
        (Opened, Rxr) => (&[Ser], Opened),
        (Opened, Up | TimeoutPlus | TimeoutMinus) => return None,
    };
    Some(c)
}

impl Fsm {
    /// A new automaton in the Initial state.
    pub fn new(config: FsmConfig) -> Self {
        Self {
            state: State::Initial,
            config,
            restart: 0,
            naks_sent: 0,
            illegal: 0,
        }
    }

    /// The current state.
    pub fn state(&self) -> State {
        self.state
    }

    /// The counter limits.
    pub fn config(&self) -> &FsmConfig {
        &self.config
    }

    /// The restart counter (§4.6).
    pub fn restart_counter(&self) -> u8 {
        self.restart
    }

    /// How many `-` events were received since creation.
    pub fn illegal_events(&self) -> u64 {
        self.illegal
    }

    /// Whether Max-Failure Configure-Naks were sent without an intervening Configure-Ack
    /// (§4.6): further Naks must become Configure-Rejects.
    pub fn nak_exhausted(&self) -> bool {
        self.naks_sent >= self.config.max_failure
    }

    /// Record that the `scn` just performed was a Configure-Nak (not a Configure-Reject).
    pub fn record_nak(&mut self) {
        self.naks_sent = self.naks_sent.saturating_add(1);
    }

    /// Feed one event (not a timeout: use [`timeout`](Self::timeout)).
    ///
    /// Returns the actions in order, or [`IllegalEvent`] for a `-` cell (state unchanged, the
    /// event counted). Passing [`Event::TimeoutPlus`]/[`Event::TimeoutMinus`] here is treated
    /// like [`timeout`](Self::timeout): the counter decides which one it is.
    pub fn handle(&mut self, event: Event) -> Result<Actions, IllegalEvent> {
        let event = match event {
            Event::TimeoutPlus | Event::TimeoutMinus => self.timeout_kind(),
            other => other,
        };
        let Some((printed, next)) = cell(self.state, event) else {
            self.illegal = self.illegal.saturating_add(1);
            return Err(IllegalEvent {
                state: self.state,
                event,
            });
        };
        let mut out = Actions::new();
        if self.state.timer_runs() && !next.timer_runs() {
            out.push(Action::StopTimer);
        }
        let terminating = printed.contains(&Str);
        for &action in printed {
            out.push(action);
            match action {
                Irc => {
                    self.restart = if terminating {
                        self.config.max_terminate
                    } else {
                        self.config.max_configure
                    };
                }
                Zrc => {
                    self.restart = 0;
                    out.push(Action::StartTimer);
                }
                Scr | Str => {
                    self.restart = self.restart.saturating_sub(1);
                    out.push(Action::StartTimer);
                }
                Sca => self.naks_sent = 0,
                _ => {}
            }
        }
        let negotiating = |s: State| matches!(s, ReqSent | AckRcvd | AckSent);
        if !negotiating(self.state) && negotiating(next) {
            // A fresh negotiation: Max-Failure counts Naks within one negotiation only.
            self.naks_sent = 0;
        }
        self.state = next;
        Ok(out)
    }

    /// The restart timer expired: TO+ while the restart counter is above zero, TO- after.
    pub fn timeout(&mut self) -> Result<Actions, IllegalEvent> {
        let event = self.timeout_kind();
        self.handle(event)
    }

    fn timeout_kind(&self) -> Event {
        if self.restart > 0 {
            Event::TimeoutPlus
        } else {
            Event::TimeoutMinus
        }
    }

    /// An automaton placed directly in `state` with the given restart counter (tests only).
    #[cfg(test)]
    pub(crate) fn at(state: State, restart: u8) -> Self {
        Self {
            state,
            restart,
            ..Self::new(FsmConfig::default())
        }
    }
}

#[cfg(test)]
mod tests;
