//! The authenticator: we verify the peer (RFC 1994 §2, RFC 1334 §2, RFC 2433, RFC 2759).

use core::fmt;
use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::backend::{
    AuthBackend, AuthRequest, E_AUTHENTICATION_FAILURE, Rejected, RequestContext,
};
use super::glue::{self, Chap, MsFailure, Pap, ParseError};
use super::{
    AuthFailure, AuthOutcome, AuthStats, AuthSuccess, FillRandom, MAX_NAME_LEN, MAX_PACKET_LEN,
    Method, Transmit, Verdict,
};

/// Settings of an [`Authenticator`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthenticatorConfig {
    /// Our name, sent in every Challenge (RFC 1994 §4.1).
    pub name: String,
    /// Restart timer between Challenge retransmissions (RFC 1661 §4.6 default 3 s).
    pub restart_timer: Duration,
    /// Challenges sent in all before giving up with [`AuthFailure::Timeout`] (default 10).
    pub max_challenges: u32,
    /// MS-CHAP retries after a 691 failure (`R=1`, RFC 2759 §6); default 2 as Windows RAS.
    pub mschap_retries: u32,
    /// How long to wait for the retry Response after a Failure with `R=1`: the peer may be
    /// prompting its user (RFC 2759 §6 "disables short timeouts"). Default 60 s.
    pub retry_wait: Duration,
    /// How long a [`Verdict::Pending`] backend may take (default 30 s).
    pub backend_timeout: Duration,
    /// How long a PAP authenticator waits for an Authenticate-Request (default 30 s).
    pub pap_timeout: Duration,
    /// CHAP-MD5 challenge length in octets, 1 to 64 (default 16; pppd sends 16 to 24).
    pub chap_md5_challenge_len: usize,
    /// Message of Success / Authenticate-Ack (`M=` for MS-CHAPv2). Default "Access granted".
    pub success_message: String,
    /// Message of Failure / Authenticate-Nak (`M=` for MS-CHAP). Default "Access denied".
    pub failure_message: String,
    /// Opaque tag passed to the backend in [`RequestContext::session`].
    pub session: u64,
}

impl Default for AuthenticatorConfig {
    fn default() -> Self {
        AuthenticatorConfig {
            name: String::new(),
            restart_timer: Duration::from_secs(3),
            max_challenges: 10,
            mschap_retries: 2,
            retry_wait: Duration::from_secs(60),
            backend_timeout: Duration::from_secs(30),
            pap_timeout: Duration::from_secs(30),
            chap_md5_challenge_len: 16,
            success_message: "Access granted".into(),
            failure_message: "Access denied".into(),
            session: 0,
        }
    }
}

/// Longest challenge we generate.
const MAX_CHALLENGE: usize = 64;
/// Longest message we put in a Success/Failure (config strings are truncated to it).
const MAX_MESSAGE: usize = 200;
/// Outgoing queue bound: each input produces at most one packet, so this is never reached
/// by a caller that polls; a caller that never polls loses the oldest packets.
const MAX_QUEUED: usize = 8;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// `start` not called yet.
    Initial,
    /// CHAP: Challenge `id` outstanding, `sent` transmissions so far.
    ChallengeSent { sent: u32, deadline: Instant },
    /// PAP: waiting for an Authenticate-Request.
    PapWaiting { deadline: Instant },
    /// The backend is deciding on the Response/Request with identifier `id`.
    Verifying { id: u8, deadline: Instant },
    /// MS-CHAP: Failure with `R=1` sent with identifier `failed_id`; waiting for the retry.
    RetryWait { failed_id: u8, deadline: Instant },
    /// Outcome reached; duplicates of the last Response still get the last reply.
    Done,
}

/// What the backend is deciding on, kept while [`Verdict::Pending`].
#[derive(Clone)]
struct PendingRequest {
    user: Vec<u8>,
}

/// The authenticator side of one method, for one link.
///
/// Drive it with [`start`](Self::start) when the authentication phase begins, then
/// [`handle_packet`](Self::handle_packet) for every PAP/CHAP frame, and
/// [`handle_timeout`](Self::handle_timeout) when [`poll_timeout`](Self::poll_timeout)'s
/// deadline passes; after each call drain [`poll_transmit`](Self::poll_transmit) and check
/// [`poll_outcome`](Self::poll_outcome). An asynchronous backend's verdict goes in through
/// [`complete`](Self::complete).
pub struct Authenticator {
    method: Method,
    config: AuthenticatorConfig,
    backend: Arc<dyn AuthBackend>,
    rng: FillRandom,
    state: State,
    /// Identifier of the outstanding Challenge (CHAP).
    id: u8,
    challenge: [u8; MAX_CHALLENGE],
    challenge_len: usize,
    /// Retries left after a retryable MS-CHAP failure.
    retries_left: u32,
    /// Verifications started (the `attempt` of [`RequestContext`]).
    attempts: u32,
    pending: Option<PendingRequest>,
    /// Identifier and bytes of our last Success/Failure/Ack/Nak, for duplicates.
    last_reply: Option<(u8, Vec<u8>)>,
    outcome: Option<AuthOutcome>,
    outcome_polled: bool,
    queue: VecDeque<Transmit>,
    stats: AuthStats,
}

impl fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Authenticator")
            .field("method", &self.method)
            .field("state", &self.state)
            .field("id", &self.id)
            .field("retries_left", &self.retries_left)
            .field("outcome", &self.outcome)
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

impl Authenticator {
    /// An authenticator for the `method` LCP negotiated, checking credentials with
    /// `backend`, drawing challenges and identifiers from `rng`.
    pub fn new(
        method: Method,
        config: AuthenticatorConfig,
        backend: Arc<dyn AuthBackend>,
        rng: FillRandom,
    ) -> Self {
        let retries_left = config.mschap_retries;
        Authenticator {
            method,
            config,
            backend,
            rng,
            state: State::Initial,
            id: 0,
            challenge: [0; MAX_CHALLENGE],
            challenge_len: 0,
            retries_left,
            attempts: 0,
            pending: None,
            last_reply: None,
            outcome: None,
            outcome_polled: false,
            queue: VecDeque::new(),
            stats: AuthStats::default(),
        }
    }

    /// The method being verified.
    pub fn method(&self) -> Method {
        self.method
    }

    /// Counters.
    pub fn stats(&self) -> &AuthStats {
        &self.stats
    }

    /// The outcome, once reached (stays available after [`poll_outcome`](Self::poll_outcome)).
    pub fn outcome(&self) -> Option<&AuthOutcome> {
        self.outcome.as_ref()
    }

    /// Whether the backend is deciding (a [`Verdict::Pending`] is outstanding).
    pub fn is_pending(&self) -> bool {
        matches!(self.state, State::Verifying { .. })
    }

    /// The context of the outstanding backend request, if one is pending.
    pub fn pending_context(&self) -> Option<RequestContext> {
        self.is_pending().then(|| self.context())
    }

    /// Begin: send the first Challenge (CHAP family) or start waiting for the peer's
    /// Authenticate-Request (PAP). Calling it again has no effect.
    pub fn start(&mut self, now: Instant) {
        if self.state != State::Initial {
            return;
        }
        if self.method == Method::Pap {
            self.state = State::PapWaiting {
                deadline: now + self.config.pap_timeout,
            };
            return;
        }
        let mut id = [0u8; 1];
        (self.rng)(&mut id);
        self.id = id[0];
        self.new_challenge();
        self.send_challenge();
        self.state = State::ChallengeSent {
            sent: 1,
            deadline: now + self.config.restart_timer,
        };
    }

    /// The next deadline at which [`handle_timeout`](Self::handle_timeout) must be called.
    pub fn poll_timeout(&self) -> Option<Instant> {
        match self.state {
            State::ChallengeSent { deadline, .. }
            | State::PapWaiting { deadline }
            | State::Verifying { deadline, .. }
            | State::RetryWait { deadline, .. } => Some(deadline),
            State::Initial | State::Done => None,
        }
    }

    /// The next packet to send.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.queue.pop_front()
    }

    /// The outcome, returned once when it is reached.
    pub fn poll_outcome(&mut self) -> Option<AuthOutcome> {
        if self.outcome_polled {
            return None;
        }
        let o = self.outcome.clone()?;
        self.outcome_polled = true;
        Some(o)
    }

    /// Timers: retransmit the Challenge, or give up.
    pub fn handle_timeout(&mut self, now: Instant) {
        match self.state {
            State::ChallengeSent { sent, deadline } if now >= deadline => {
                if sent < self.config.max_challenges {
                    self.send_challenge();
                    self.stats.retransmissions += 1;
                    self.state = State::ChallengeSent {
                        sent: sent + 1,
                        deadline: now + self.config.restart_timer,
                    };
                } else {
                    self.finish(Err(AuthFailure::Timeout));
                }
            }
            State::PapWaiting { deadline } if now >= deadline => {
                self.finish(Err(AuthFailure::Timeout));
            }
            State::Verifying { id, deadline } if now >= deadline => {
                self.pending = None;
                self.send_failure(id, E_AUTHENTICATION_FAILURE, false);
                self.finish(Err(AuthFailure::BackendError(
                    "backend did not answer in time".into(),
                )));
            }
            State::RetryWait { deadline, .. } if now >= deadline => {
                self.finish(Err(AuthFailure::PeerGaveUp));
            }
            _ => {}
        }
    }

    /// A PAP (`protocol` 0xc023) or CHAP (0xc223) packet from the peer, from its Code octet.
    pub fn handle_packet(&mut self, now: Instant, protocol: u16, data: &[u8]) {
        self.stats.rx_packets += 1;
        if protocol != self.method.protocol() {
            self.stats.dropped_wrong_protocol += 1;
            return;
        }
        if data.len() > MAX_PACKET_LEN {
            self.stats.dropped_malformed += 1;
            return;
        }
        if self.method == Method::Pap {
            match glue::parse_pap(data) {
                Ok(Pap::Request { id, user, password }) => {
                    self.on_pap_request(now, id, user, password)
                }
                Ok(_) | Err(ParseError::UnknownCode) => self.stats.dropped_wrong_code += 1,
                Err(ParseError::Malformed) => self.stats.dropped_malformed += 1,
            }
        } else {
            match glue::parse_chap(data) {
                Ok(Chap::Response { id, value, name }) => self.on_response(now, id, value, name),
                Ok(_) | Err(ParseError::UnknownCode) => self.stats.dropped_wrong_code += 1,
                Err(ParseError::Malformed) => self.stats.dropped_malformed += 1,
            }
        }
    }

    /// Deliver the verdict of a backend that answered [`Verdict::Pending`] for `ctx`.
    /// Ignored (and counted in [`AuthStats::stale_verdicts`]) when that request is no longer
    /// outstanding, e.g. after the backend timeout.
    pub fn complete(&mut self, now: Instant, ctx: RequestContext, verdict: Verdict) {
        let State::Verifying { id, .. } = self.state else {
            self.stats.stale_verdicts += 1;
            return;
        };
        if ctx != self.context() || matches!(verdict, Verdict::Pending) {
            self.stats.stale_verdicts += 1;
            return;
        }
        let Some(pending) = self.pending.take() else {
            self.stats.stale_verdicts += 1;
            return;
        };
        self.apply_verdict(now, id, &pending.user, verdict);
    }

    fn context(&self) -> RequestContext {
        RequestContext {
            session: self.config.session,
            attempt: self.attempts.saturating_sub(1),
        }
    }

    fn new_challenge(&mut self) {
        self.challenge_len = match self.method {
            Method::MsChapV2 => 16,
            Method::MsChapV1 => 8,
            Method::ChapMd5 => self.config.chap_md5_challenge_len.clamp(1, MAX_CHALLENGE),
            Method::Pap => 0,
        };
        let len = self.challenge_len;
        if let Some(buf) = self.challenge.get_mut(..len) {
            (self.rng)(buf);
        }
    }

    fn challenge(&self) -> &[u8] {
        self.challenge.get(..self.challenge_len).unwrap_or_default()
    }

    fn push(&mut self, data: Vec<u8>) {
        if data.is_empty() {
            // Emitting failed: fields are bounded before this point, so this cannot happen.
            return;
        }
        if self.queue.len() >= MAX_QUEUED {
            self.queue.pop_front();
        }
        self.stats.tx_packets += 1;
        self.queue.push_back(Transmit {
            protocol: self.method.protocol(),
            data,
        });
    }

    fn send_challenge(&mut self) {
        let pkt = glue::emit_chap(&Chap::Challenge {
            id: self.id,
            value: self.challenge(),
            name: self.config.name.as_bytes(),
        });
        self.push(pkt);
    }

    fn reply(&mut self, id: u8, data: Vec<u8>) {
        self.last_reply = Some((id, data.clone()));
        self.push(data);
    }

    fn finish(&mut self, outcome: AuthOutcome) {
        self.state = State::Done;
        self.outcome = Some(outcome);
    }

    /// Repeat our last reply if `id` is the identifier it answered (RFC 1994 §4.2: a lost
    /// Success/Failure is recovered by the peer repeating its Response).
    fn repeat_reply(&mut self, id: u8) -> bool {
        match &self.last_reply {
            Some((last, data)) if *last == id => {
                let data = data.clone();
                self.stats.duplicates += 1;
                self.push(data);
                true
            }
            _ => false,
        }
    }

    fn on_response(&mut self, now: Instant, id: u8, value: &[u8], name: &[u8]) {
        if self.repeat_reply(id) {
            return;
        }
        match self.state {
            State::ChallengeSent { .. } if id == self.id => {}
            // RFC 2759 §6 / RFC 2433 §6: the retry Response answers the challenge carried
            // in the Failure; peers number it Failure's identifier + 1, any new one will do.
            State::RetryWait { failed_id, .. } if id != failed_id => self.id = id,
            State::ChallengeSent { .. } | State::RetryWait { .. } => {
                self.stats.dropped_wrong_id += 1;
                return;
            }
            State::Verifying { id: pending_id, .. } if id == pending_id => {
                // The peer repeats its Response while the backend decides: nothing to say yet.
                self.stats.duplicates += 1;
                return;
            }
            State::Verifying { .. } | State::Done => {
                self.stats.dropped_wrong_id += 1;
                return;
            }
            State::Initial | State::PapWaiting { .. } => {
                self.stats.dropped_unexpected += 1;
                return;
            }
        }
        if name.len() > MAX_NAME_LEN {
            self.stats.dropped_malformed += 1;
            return;
        }
        let challenge = self.challenge;
        let challenge = challenge.get(..self.challenge_len).unwrap_or_default();
        let req = match self.method {
            Method::ChapMd5 => {
                let Ok(response) = <[u8; 16]>::try_from(value) else {
                    self.stats.dropped_malformed += 1;
                    return;
                };
                AuthRequest::ChapMd5 {
                    user: name,
                    id,
                    challenge,
                    response,
                }
            }
            Method::MsChapV1 => {
                let (Some(r), Ok(challenge)) = (
                    glue::parse_v1_response(value),
                    <[u8; 8]>::try_from(challenge),
                ) else {
                    self.stats.dropped_malformed += 1;
                    return;
                };
                AuthRequest::MsChapV1 {
                    user: name,
                    challenge,
                    lm_response: r.lm_response,
                    nt_response: r.nt_response,
                    use_nt: r.use_nt(),
                }
            }
            Method::MsChapV2 => {
                let (Some(r), Ok(authenticator_challenge)) = (
                    glue::parse_v2_response(value),
                    <[u8; 16]>::try_from(challenge),
                ) else {
                    self.stats.dropped_malformed += 1;
                    return;
                };
                AuthRequest::MsChapV2 {
                    user: name,
                    authenticator_challenge,
                    peer_challenge: r.peer_challenge,
                    nt_response: r.nt_response,
                }
            }
            Method::Pap => {
                self.stats.dropped_unexpected += 1;
                return;
            }
        };
        self.verify(now, id, &req);
    }

    fn on_pap_request(&mut self, now: Instant, id: u8, user: &[u8], password: &[u8]) {
        if self.repeat_reply(id) {
            return;
        }
        match self.state {
            State::PapWaiting { .. } => {}
            State::Verifying { id: pending_id, .. } if pending_id == id => {
                self.stats.duplicates += 1;
                return;
            }
            State::Verifying { .. } | State::Done => {
                self.stats.dropped_wrong_id += 1;
                return;
            }
            _ => {
                self.stats.dropped_unexpected += 1;
                return;
            }
        }
        if user.len() > MAX_NAME_LEN {
            self.stats.dropped_malformed += 1;
            return;
        }
        self.verify(now, id, &AuthRequest::Pap { user, password });
    }

    fn verify(&mut self, now: Instant, id: u8, req: &AuthRequest<'_>) {
        self.attempts += 1;
        let verdict = self.backend.verify(self.context(), req);
        if matches!(verdict, Verdict::Pending) {
            self.pending = Some(PendingRequest {
                user: req.user().to_vec(),
            });
            self.state = State::Verifying {
                id,
                deadline: now + self.config.backend_timeout,
            };
            return;
        }
        self.apply_verdict(now, id, req.user(), verdict);
    }

    fn apply_verdict(&mut self, now: Instant, id: u8, user: &[u8], verdict: Verdict) {
        let user_name = String::from_utf8_lossy(user).into_owned();
        match verdict {
            Verdict::Accept(acc) => {
                let msg = truncate(&self.config.success_message);
                let pkt = match self.method {
                    Method::Pap => glue::emit_pap(&Pap::Ack {
                        id,
                        message: msg.as_bytes(),
                    }),
                    Method::MsChapV2 => {
                        let Some(auth_resp) = acc.authenticator_response else {
                            // Without it the peer cannot authenticate us (RFC 2759 §5).
                            self.send_failure(id, E_AUTHENTICATION_FAILURE, false);
                            self.finish(Err(AuthFailure::BackendError(
                                "MS-CHAPv2 accepted without an authenticator response".into(),
                            )));
                            return;
                        };
                        let message = glue::format_v2_success(&auth_resp, msg);
                        glue::emit_chap(&Chap::Success {
                            id,
                            message: &message,
                        })
                    }
                    Method::ChapMd5 | Method::MsChapV1 => glue::emit_chap(&Chap::Success {
                        id,
                        message: msg.as_bytes(),
                    }),
                };
                self.reply(id, pkt);
                self.finish(Ok(AuthSuccess {
                    user: user_name,
                    method: self.method,
                    mppe: acc.mppe,
                }));
            }
            Verdict::Reject(Rejected { code, reason }) => {
                let retry = self.method.is_ms_chap()
                    && code == E_AUTHENTICATION_FAILURE
                    && self.retries_left > 0;
                if retry {
                    self.retries_left -= 1;
                    self.send_failure(id, code, true);
                    self.state = State::RetryWait {
                        failed_id: id,
                        deadline: now + self.config.retry_wait,
                    };
                } else {
                    self.send_failure(id, code, false);
                    self.finish(Err(AuthFailure::WrongCredentials { code, reason }));
                }
            }
            Verdict::Error(e) => {
                self.send_failure(id, E_AUTHENTICATION_FAILURE, false);
                self.finish(Err(AuthFailure::BackendError(e.into_owned())));
            }
            Verdict::Pending => {
                // Only reachable through `complete`, which filters it out.
                self.stats.stale_verdicts += 1;
            }
        }
    }

    /// Send Failure / Authenticate-Nak for `id`. For MS-CHAP the message carries a fresh
    /// challenge (RFC 2759 §6: `C=`), which becomes the one the retry must answer.
    fn send_failure(&mut self, id: u8, code: u32, retry: bool) {
        let msg = truncate(&self.config.failure_message).to_owned();
        let pkt = match self.method {
            Method::Pap => glue::emit_pap(&Pap::Nak {
                id,
                message: msg.as_bytes(),
            }),
            Method::ChapMd5 => glue::emit_chap(&Chap::Failure {
                id,
                message: msg.as_bytes(),
            }),
            Method::MsChapV1 | Method::MsChapV2 => {
                self.new_challenge();
                let version = (self.method == Method::MsChapV2).then_some(3);
                let message = glue::format_ms_failure(&MsFailure {
                    code,
                    retry,
                    challenge: Some(self.challenge()),
                    version,
                    message: &msg,
                });
                glue::emit_chap(&Chap::Failure {
                    id,
                    message: &message,
                })
            }
        };
        self.reply(id, pkt);
    }
}

/// `s` cut to at most [`MAX_MESSAGE`] octets on a character boundary.
fn truncate(s: &str) -> &str {
    let mut end = s.len().min(MAX_MESSAGE);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s.get(..end).unwrap_or_default()
}
