//! Calls of a control connection (RFC 2637 §3.2): roles, states, Call IDs.

use std::collections::BTreeMap;
use std::time::Instant;

use dialgate_wire::pptp::FramingType;

use crate::gre::GreParams;

/// Our Call ID for one call: unique among the live calls of its control connection
/// (RFC 2637 §3.2.2), and the Key of the GRE packets the peer sends for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CallId(pub u16);

/// Which of the four call state machines of RFC 2637 §3.2 a call runs: who asked for it and
/// which end (PAC or PNS) we are for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CallRole {
    /// We answered an Outgoing-Call-Request: we are the PAC (§3.2.4.1). Windows and Linux
    /// clients play the PNS and ask the server for an "outgoing call".
    PacOutgoing,
    /// We sent an Outgoing-Call-Request: we are the PNS (§3.2.4.2), e.g. a client or a
    /// LAN-to-LAN link.
    PnsOutgoing,
    /// We answered an Incoming-Call-Request: we are the PNS behind a PAC front end
    /// (§3.2.3.2).
    PnsIncoming,
    /// We sent an Incoming-Call-Request (and then Incoming-Call-Connected): we are the PAC
    /// front end relaying a dial-in call (§3.2.3.1).
    PacIncoming,
}

impl CallRole {
    /// Whether we are the PAC for this call (it is cleared with Call-Disconnect-Notify; the
    /// peer's Call-Clear-Request asks for that).
    pub fn is_pac(self) -> bool {
        matches!(self, CallRole::PacOutgoing | CallRole::PacIncoming)
    }

    /// Whether the peer asked for the call.
    pub fn is_answer(self) -> bool {
        matches!(self, CallRole::PacOutgoing | CallRole::PnsIncoming)
    }
}

/// Where a call stands (the states of RFC 2637 §3.2.3-§3.2.4, shared between the roles).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CallState {
    /// The peer asked for the call; the owner has not accepted or refused it yet (the PAC's
    /// `wait_cs_ans`, the PNS's decision on an Incoming-Call-Request).
    WaitAnswer,
    /// We asked and wait for the Outgoing- or Incoming-Call-Reply (`wait_reply`).
    WaitReply,
    /// PNS, incoming: we accepted and wait for Incoming-Call-Connected (`wait_connect`).
    WaitConnect,
    /// Data may flow (`established`).
    Established,
    /// PNS: we sent Call-Clear-Request and wait for Call-Disconnect-Notify
    /// (`wait_disconnect`). The owner already saw the call go down.
    WaitDisconnect,
}

/// What a call that came up runs with (the payload of [`Event::CallUp`](super::Event)).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CallInfo {
    /// Our Call ID.
    pub call: CallId,
    /// The peer's Call ID (the Key of the GRE packets we send).
    pub peer_call_id: u16,
    /// The state machine the call runs.
    pub role: CallRole,
    /// The Packet Recv. Window Size we advertised.
    pub local_window: u16,
    /// The Packet Recv. Window Size the peer advertised (0: it runs no window).
    pub peer_window: u16,
    /// The peer's Packet Processing (or Transmit) Delay, in 1/10 s.
    pub peer_processing_delay: u16,
    /// The connect speed in bits per second reported by the PAC (ours when we are it).
    pub connect_speed: u32,
    /// The Call Serial Number of the request (RFC 2637 §2.7, §2.9), for logs.
    pub serial_number: u16,
}

impl CallInfo {
    /// The parameters of the call's GRE data channel.
    pub fn gre_params(&self) -> GreParams {
        GreParams {
            local_call_id: self.call.0,
            peer_call_id: self.peer_call_id,
            local_window: self.local_window,
            peer_window: self.peer_window,
            peer_processing_delay: self.peer_processing_delay,
        }
    }
}

/// One call's state inside the connection.
#[derive(Debug, Clone)]
pub(crate) struct Call {
    pub(crate) role: CallRole,
    pub(crate) state: CallState,
    /// The peer's Call ID, once known (from its request or its reply).
    pub(crate) peer: Option<u16>,
    pub(crate) serial: u16,
    /// When the current state times out.
    pub(crate) deadline: Option<Instant>,
    pub(crate) peer_window: u16,
    pub(crate) peer_delay: u16,
    pub(crate) connect_speed: u32,
    /// What an Incoming-Call-Connected we send after the reply carries (PAC incoming).
    pub(crate) framing_type: FramingType,
}

impl Call {
    pub(crate) fn new(role: CallRole, state: CallState, peer: Option<u16>, serial: u16) -> Self {
        Self {
            role,
            state,
            peer,
            serial,
            deadline: None,
            peer_window: 0,
            peer_delay: 0,
            connect_speed: 0,
            framing_type: FramingType::Asynchronous,
        }
    }

    pub(crate) fn with_deadline(mut self, deadline: Instant) -> Self {
        self.deadline = Some(deadline);
        self
    }
}

/// The live calls of one control connection, by our Call ID, and the allocator.
#[derive(Debug, Clone)]
pub(crate) struct Calls {
    map: BTreeMap<u16, Call>,
    next_id: u16,
    next_serial: u16,
}

impl Calls {
    /// An empty table; Call IDs start at `first_id` (random per connection) and count up.
    pub(crate) fn new(first_id: u16, first_serial: u16) -> Self {
        Self {
            map: BTreeMap::new(),
            next_id: first_id,
            next_serial: first_serial,
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.map.len()
    }

    /// A Call ID no live call uses (RFC 2637 §3.2.2), counting up from the last one handed
    /// out so that a freed ID is not reused until the space wraps; `None` when all 65536 are
    /// in use.
    pub(crate) fn allocate(&mut self) -> Option<u16> {
        if self.map.len() > usize::from(u16::MAX) {
            return None;
        }
        for _ in 0..=u16::MAX {
            let id = self.next_id;
            self.next_id = id.wrapping_add(1);
            if !self.map.contains_key(&id) {
                return Some(id);
            }
        }
        None
    }

    /// The first of the next `tries` free Call IDs (in [`allocate`](Self::allocate)'s order)
    /// that `avoid` does not reject; `None` if there is none.
    pub(crate) fn allocate_avoiding(
        &mut self,
        tries: u16,
        mut avoid: impl FnMut(u16) -> bool,
    ) -> Option<u16> {
        for _ in 0..tries {
            let id = self.allocate()?;
            if !avoid(id) {
                return Some(id);
            }
        }
        None
    }

    /// Makes [`allocate`](Self::allocate) hand out next the ID
    /// [`allocate_avoiding`](Self::allocate_avoiding) finds, and returns it.
    pub(crate) fn steer(&mut self, tries: u16, avoid: impl FnMut(u16) -> bool) -> Option<u16> {
        let id = self.allocate_avoiding(tries, avoid)?;
        self.next_id = id;
        Some(id)
    }

    /// The next Call Serial Number (RFC 2637 §2.7: identifies the call in logs).
    pub(crate) fn serial(&mut self) -> u16 {
        let s = self.next_serial;
        self.next_serial = s.wrapping_add(1);
        s
    }

    pub(crate) fn insert(&mut self, id: u16, call: Call) {
        self.map.insert(id, call);
    }

    pub(crate) fn get(&self, id: u16) -> Option<&Call> {
        self.map.get(&id)
    }

    pub(crate) fn get_mut(&mut self, id: u16) -> Option<&mut Call> {
        self.map.get_mut(&id)
    }

    pub(crate) fn remove(&mut self, id: u16) -> Option<Call> {
        self.map.remove(&id)
    }

    /// Our ID of the live call whose peer Call ID is `peer` (Call-Clear-Request and
    /// Call-Disconnect-Notify name the sender's own ID, RFC 2637 §2.12-§2.13). Calls already
    /// being torn down are found last.
    pub(crate) fn by_peer(&self, peer: u16) -> Option<u16> {
        let mut found = None;
        for (&id, call) in &self.map {
            if call.peer == Some(peer) {
                if call.state != CallState::WaitDisconnect {
                    return Some(id);
                }
                found.get_or_insert(id);
            }
        }
        found
    }

    /// Whether a live call the peer asked for already uses its ID `peer`.
    pub(crate) fn peer_request_exists(&self, peer: u16) -> bool {
        self.map.values().any(|c| {
            c.peer == Some(peer) && c.role.is_answer() && c.state != CallState::WaitDisconnect
        })
    }

    pub(crate) fn ids(&self) -> Vec<u16> {
        self.map.keys().copied().collect()
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = (u16, &Call)> {
        self.map.iter().map(|(&id, c)| (id, c))
    }

    pub(crate) fn earliest_deadline(&self) -> Option<Instant> {
        self.map.values().filter_map(|c| c.deadline).min()
    }

    pub(crate) fn clear(&mut self) {
        self.map.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call() -> Call {
        Call {
            role: CallRole::PacOutgoing,
            state: CallState::Established,
            peer: Some(1),
            serial: 0,
            deadline: None,
            peer_window: 0,
            peer_delay: 0,
            connect_speed: 0,
            framing_type: FramingType::Asynchronous,
        }
    }

    #[test]
    fn call_ids_unique_and_not_reused_at_once_rfc2637_3_2_2() {
        let mut calls = Calls::new(u16::MAX - 1, 0);
        let a = calls.allocate().unwrap();
        calls.insert(a, call());
        let b = calls.allocate().unwrap();
        calls.insert(b, call());
        // Wraps safely past 65535.
        assert_eq!((a, b), (u16::MAX - 1, u16::MAX));
        calls.remove(a);
        let c = calls.allocate().unwrap();
        assert_eq!(c, 0, "the freed ID waits for the next wrap");
        calls.insert(c, call());
        // Around the wrap, live IDs are skipped.
        let mut calls2 = Calls::new(5, 0);
        calls2.insert(5, call());
        calls2.insert(6, call());
        assert_eq!(calls2.allocate(), Some(7));
    }

    #[test]
    fn allocation_avoiding_ids_skips_them_within_its_tries_rfc2637_3_2_2() {
        let mut calls = Calls::new(10, 0);
        calls.insert(11, call());
        // 10 and 12 rejected, 11 live: 13 is the third free ID tried.
        assert_eq!(
            calls.allocate_avoiding(3, |id| id == 10 || id == 12),
            Some(13)
        );
        let mut calls = Calls::new(10, 0);
        assert_eq!(calls.steer(3, |id| id == 10 || id == 11), Some(12));
        assert_eq!(calls.allocate(), Some(12), "the steered ID comes next");
        assert_eq!(calls.allocate(), Some(13));
        let mut calls = Calls::new(10, 0);
        assert_eq!(calls.allocate_avoiding(2, |id| id < 100), None);
        assert_eq!(calls.allocate_avoiding(0, |_| false), None);
    }

    #[test]
    fn call_id_space_exhaustion_rfc2637_3_2_2() {
        let mut calls = Calls::new(0, 0);
        for _ in 0..=u16::MAX {
            let id = calls.allocate().unwrap();
            calls.insert(id, call());
        }
        assert_eq!(calls.allocate(), None);
        calls.remove(1234);
        assert_eq!(calls.allocate(), Some(1234));
    }
}
