//! The whole Authentication phase of one link (RFC 1661 §3.5): zero, one or two directions
//! at once, with PAP/CHAP frames routed to the side they are meant for.

use std::time::Instant;

use super::{
    AuthFailure, AuthSuccess, Authenticator, MppeKeys, PROTO_CHAP, PROTO_PAP, Peer, RequestContext,
    Transmit, Verdict,
};

/// Which side of the authentication a PAP/CHAP packet is meant for, from its Code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// A CHAP Response or PAP Authenticate-Request: for our [`Authenticator`].
    Authenticator,
    /// A CHAP Challenge/Success/Failure or PAP Ack/Nak: for our [`Peer`].
    Peer,
}

/// Route a PAP (RFC 1334 §2.2) or CHAP (RFC 1994 §4) packet by its Code octet. `None` for
/// other protocols, empty packets and unknown codes (RFC 1994 does not define Code-Reject for
/// CHAP; such packets are silently discarded).
pub fn route(protocol: u16, data: &[u8]) -> Option<Route> {
    let code = *data.first()?;
    match (protocol, code) {
        (PROTO_CHAP, 2) | (PROTO_PAP, 1) => Some(Route::Authenticator),
        (PROTO_CHAP, 1 | 3 | 4) | (PROTO_PAP, 2 | 3) => Some(Route::Peer),
        _ => None,
    }
}

/// Which direction failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// We were verifying the peer.
    Authenticator,
    /// We were proving ourselves.
    Peer,
}

/// A finished Authentication phase.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PhaseSuccess {
    /// Who the peer is, when we authenticated it.
    pub peer: Option<AuthSuccess>,
    /// Who we proved to be, when the peer authenticated us.
    pub us: Option<AuthSuccess>,
}

impl PhaseSuccess {
    /// The MPPE keys for CCP: from the direction where we are the authenticator when there
    /// are any (the usual RAS case), otherwise from the direction where we are the peer.
    pub fn mppe(&self) -> Option<&MppeKeys> {
        fn keys(s: &Option<AuthSuccess>) -> Option<&MppeKeys> {
            s.as_ref().and_then(|s| s.mppe.as_ref())
        }
        keys(&self.peer).or_else(|| keys(&self.us))
    }
}

/// Both directions of the Authentication phase. The phase succeeds when every direction
/// LCP negotiated has succeeded, and fails as soon as one fails.
#[derive(Debug)]
pub struct AuthPhase {
    authenticator: Option<Authenticator>,
    peer: Option<Peer>,
    us_ok: Option<AuthSuccess>,
    peer_ok: Option<AuthSuccess>,
    result: Option<Result<PhaseSuccess, (Side, AuthFailure)>>,
    unrouted: u64,
}

impl AuthPhase {
    /// The phase with the directions LCP negotiated: `authenticator` when we asked the peer
    /// to authenticate (our Authentication-Protocol option was acked), `peer` when the peer
    /// asked us. With neither, the phase succeeds at once.
    pub fn new(authenticator: Option<Authenticator>, peer: Option<Peer>) -> Self {
        AuthPhase {
            authenticator,
            peer,
            us_ok: None,
            peer_ok: None,
            result: None,
            unrouted: 0,
        }
    }

    /// Start both directions.
    pub fn start(&mut self, now: Instant) {
        if let Some(a) = self.authenticator.as_mut() {
            a.start(now);
        }
        if let Some(p) = self.peer.as_mut() {
            p.start(now);
        }
        self.update();
    }

    /// A PAP/CHAP frame from the link.
    pub fn handle_packet(&mut self, now: Instant, protocol: u16, data: &[u8]) {
        match route(protocol, data) {
            Some(Route::Authenticator) if self.authenticator.is_some() => {
                if let Some(a) = self.authenticator.as_mut() {
                    a.handle_packet(now, protocol, data);
                }
            }
            Some(Route::Peer) if self.peer.is_some() => {
                if let Some(p) = self.peer.as_mut() {
                    p.handle_packet(now, protocol, data);
                }
            }
            _ => self.unrouted += 1,
        }
        self.update();
    }

    /// Fire the timers that are due.
    pub fn handle_timeout(&mut self, now: Instant) {
        if let Some(a) = self.authenticator.as_mut() {
            a.handle_timeout(now);
        }
        if let Some(p) = self.peer.as_mut() {
            p.handle_timeout(now);
        }
        self.update();
    }

    /// Deliver an asynchronous backend's verdict (see [`Authenticator::complete`]).
    pub fn complete(&mut self, now: Instant, ctx: RequestContext, verdict: Verdict) {
        if let Some(a) = self.authenticator.as_mut() {
            a.complete(now, ctx, verdict);
        }
        self.update();
    }

    /// The next packet to send (the authenticator's first).
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.authenticator
            .as_mut()
            .and_then(Authenticator::poll_transmit)
            .or_else(|| self.peer.as_mut().and_then(Peer::poll_transmit))
    }

    /// The earliest deadline of either direction.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let a = self
            .authenticator
            .as_ref()
            .and_then(Authenticator::poll_timeout);
        let p = self.peer.as_ref().and_then(Peer::poll_timeout);
        a.into_iter().chain(p).min()
    }

    /// The phase's result, once known. After success the engine moves to the Network phase
    /// (keeping this object to answer duplicate Responses and re-challenges); after failure
    /// it closes LCP (RFC 1661 §3.5).
    pub fn result(&self) -> Option<&Result<PhaseSuccess, (Side, AuthFailure)>> {
        self.result.as_ref()
    }

    /// The authenticator direction, if any.
    pub fn authenticator(&self) -> Option<&Authenticator> {
        self.authenticator.as_ref()
    }

    /// The peer direction, if any.
    pub fn peer(&self) -> Option<&Peer> {
        self.peer.as_ref()
    }

    /// Packets that matched no active direction (e.g. a Challenge when the peer did not ask
    /// us to authenticate, or an unknown code).
    pub fn unrouted(&self) -> u64 {
        self.unrouted
    }

    /// Collect the directions' outcomes. A failure after success (a failed re-challenge,
    /// RFC 1994 §2) still turns the result into a failure.
    fn update(&mut self) {
        if matches!(self.result, Some(Err(_))) {
            return;
        }
        if let Some(o) = self
            .authenticator
            .as_mut()
            .and_then(Authenticator::poll_outcome)
        {
            match o {
                Ok(s) => self.peer_ok = Some(s),
                Err(e) => {
                    self.result = Some(Err((Side::Authenticator, e)));
                    return;
                }
            }
        }
        if let Some(o) = self.peer.as_mut().and_then(Peer::poll_outcome) {
            match o {
                Ok(s) => self.us_ok = Some(s),
                Err(e) => {
                    self.result = Some(Err((Side::Peer, e)));
                    return;
                }
            }
        }
        let auth_done = self.authenticator.is_none() || self.peer_ok.is_some();
        let peer_done = self.peer.is_none() || self.us_ok.is_some();
        if auth_done && peer_done && self.result.is_none() {
            self.result = Some(Ok(PhaseSuccess {
                peer: self.peer_ok.clone(),
                us: self.us_ok.clone(),
            }));
        }
    }
}
