//! The peer: we prove ourselves to the authenticator (RFC 1994 §2, RFC 1334 §2, RFC 2433,
//! RFC 2759).

use core::fmt;
use std::collections::VecDeque;
use std::time::{Duration, Instant};

use dialgate_crypto::mschap::strip_domain;
use dialgate_crypto::{NtHash, PasswordError};

use super::backend::E_AUTHENTICATION_FAILURE;
use super::glue::{self, Chap, Pap, ParseError};
use super::{
    AuthFailure, AuthOutcome, AuthStats, AuthSuccess, FillRandom, MAX_PACKET_LEN, Method, MppeKeys,
    PeerPolicy, Transmit,
};

/// Our user name and password, as a client holds them.
///
/// The clear-text password stays in memory (PAP and CHAP-MD5 send or hash it); the NT hash
/// for MS-CHAP is derived once. Both are wiped on drop and redacted in `Debug`.
pub struct Credentials {
    user: String,
    password: String,
    nt_hash: NtHash,
}

impl Credentials {
    /// Credentials for `user` with `password`; fails for a password too long to hash
    /// (RFC 2759 §8.3: 256 characters).
    pub fn new(
        user: impl Into<String>,
        password: impl Into<String>,
    ) -> Result<Self, PasswordError> {
        let password = password.into();
        let nt_hash = glue::nt_password_hash(&password)?;
        Ok(Credentials {
            user: user.into(),
            password,
            nt_hash,
        })
    }

    /// The user name.
    pub fn user(&self) -> &str {
        &self.user
    }
}

impl Clone for Credentials {
    fn clone(&self) -> Self {
        Credentials {
            user: self.user.clone(),
            password: self.password.clone(),
            nt_hash: self.nt_hash.clone(),
        }
    }
}

impl Drop for Credentials {
    fn drop(&mut self) {
        let mut pw = core::mem::take(&mut self.password).into_bytes();
        pw.fill(0);
        core::hint::black_box(&pw);
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("user", &self.user)
            .field("password", &"<redacted>")
            .finish()
    }
}

/// Settings of a [`Peer`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerConfig {
    /// Restart timer for retransmitting our Response / Authenticate-Request (3 s).
    pub restart_timer: Duration,
    /// Transmissions of one Response / Authenticate-Request before [`AuthFailure::Timeout`]
    /// (default 10).
    pub max_transmissions: u32,
    /// How long to wait for the first Challenge (default 30 s).
    pub challenge_timeout: Duration,
    /// MS-CHAP retries we make after a Failure with `R=1` (default 2).
    pub max_retries: u32,
}

impl Default for PeerConfig {
    fn default() -> Self {
        PeerConfig {
            restart_timer: Duration::from_secs(3),
            max_transmissions: 10,
            challenge_timeout: Duration::from_secs(30),
            max_retries: 2,
        }
    }
}

/// Longest Failure / Nak message kept in [`AuthFailure::Refused`].
const MAX_MESSAGE: usize = 200;
const MAX_QUEUED: usize = 8;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Initial,
    /// CHAP: waiting for a Challenge.
    WaitChallenge {
        deadline: Instant,
    },
    /// Our Response (CHAP) or Authenticate-Request (PAP) with identifier `id` is outstanding.
    Sent {
        id: u8,
        sent: u32,
        deadline: Instant,
    },
    /// Outcome reached. After a success a new Challenge (RFC 1994 §2 periodic
    /// re-authentication) is still answered.
    Done,
}

/// The peer side of one method, for one link.
///
/// Drive it like the [`Authenticator`](super::Authenticator): [`start`](Self::start),
/// [`handle_packet`](Self::handle_packet), [`handle_timeout`](Self::handle_timeout), and drain
/// [`poll_transmit`](Self::poll_transmit) / [`poll_outcome`](Self::poll_outcome).
pub struct Peer {
    method: Method,
    config: PeerConfig,
    creds: Credentials,
    rng: FillRandom,
    state: State,
    /// The challenge being answered (to recognise a retransmitted Challenge).
    challenge: Vec<u8>,
    /// Our last Response / Authenticate-Request, retransmitted on the restart timer.
    last_sent: Vec<u8>,
    /// MS-CHAPv2: the `S=` value we expect (RFC 2759 §8.7).
    expected_auth_response: Option<[u8; 20]>,
    /// MS-CHAP: NT-Response and challenge of the outstanding Response, for the MPPE keys.
    nt_response: [u8; 24],
    retries: u32,
    outcome: Option<AuthOutcome>,
    outcome_fresh: bool,
    queue: VecDeque<Transmit>,
    stats: AuthStats,
}

impl fmt::Debug for Peer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Peer")
            .field("method", &self.method)
            .field("user", &self.creds.user)
            .field("state", &self.state)
            .field("retries", &self.retries)
            .field("outcome", &self.outcome)
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

impl Peer {
    /// A peer for the `method` LCP negotiated. Fails with [`AuthFailure::MethodMismatch`]
    /// when `policy` does not allow it (we must not prove ourselves with a weak method the
    /// configuration did not opt into), and with [`AuthFailure::LocalConfig`] for PAP
    /// credentials over 255 octets.
    pub fn new(
        method: Method,
        policy: &PeerPolicy,
        config: PeerConfig,
        creds: Credentials,
        rng: FillRandom,
    ) -> Result<Self, AuthFailure> {
        if !policy.allows(method) {
            return Err(AuthFailure::MethodMismatch { method });
        }
        // RFC 1334 §2.2.1: one-octet Peer-ID and Passwd lengths.
        if method == Method::Pap && (creds.user.len() > 255 || creds.password.len() > 255) {
            return Err(AuthFailure::LocalConfig(
                "PAP user name or password over 255 octets",
            ));
        }
        Ok(Peer {
            method,
            config,
            creds,
            rng,
            state: State::Initial,
            challenge: Vec::new(),
            last_sent: Vec::new(),
            expected_auth_response: None,
            nt_response: [0; 24],
            retries: 0,
            outcome: None,
            outcome_fresh: false,
            queue: VecDeque::new(),
            stats: AuthStats::default(),
        })
    }

    /// The method in use.
    pub fn method(&self) -> Method {
        self.method
    }

    /// Counters.
    pub fn stats(&self) -> &AuthStats {
        &self.stats
    }

    /// The latest outcome (stays available after [`poll_outcome`](Self::poll_outcome)).
    pub fn outcome(&self) -> Option<&AuthOutcome> {
        self.outcome.as_ref()
    }

    /// Begin: PAP sends the Authenticate-Request (identifier from `rng`); CHAP waits for the
    /// Challenge. Calling it again has no effect.
    pub fn start(&mut self, now: Instant) {
        if self.state != State::Initial {
            return;
        }
        if self.method == Method::Pap {
            let mut id = [0u8; 1];
            (self.rng)(&mut id);
            let pkt = glue::emit_pap(&Pap::Request {
                id: id[0],
                user: self.creds.user.as_bytes(),
                password: self.creds.password.as_bytes(),
            });
            self.send(pkt);
            self.state = State::Sent {
                id: id[0],
                sent: 1,
                deadline: now + self.config.restart_timer,
            };
        } else {
            self.state = State::WaitChallenge {
                deadline: now + self.config.challenge_timeout,
            };
        }
    }

    /// The next deadline at which [`handle_timeout`](Self::handle_timeout) must be called.
    pub fn poll_timeout(&self) -> Option<Instant> {
        match self.state {
            State::WaitChallenge { deadline } | State::Sent { deadline, .. } => Some(deadline),
            State::Initial | State::Done => None,
        }
    }

    /// The next packet to send.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.queue.pop_front()
    }

    /// A new outcome, returned once. After a success, a re-challenge can produce another.
    pub fn poll_outcome(&mut self) -> Option<AuthOutcome> {
        if !self.outcome_fresh {
            return None;
        }
        self.outcome_fresh = false;
        self.outcome.clone()
    }

    /// Timers: retransmit our Response / Authenticate-Request, or give up.
    pub fn handle_timeout(&mut self, now: Instant) {
        match self.state {
            State::WaitChallenge { deadline } if now >= deadline => {
                self.finish(Err(AuthFailure::Timeout));
            }
            State::Sent { id, sent, deadline } if now >= deadline => {
                if sent < self.config.max_transmissions {
                    let pkt = self.last_sent.clone();
                    self.send(pkt);
                    self.stats.retransmissions += 1;
                    self.state = State::Sent {
                        id,
                        sent: sent + 1,
                        deadline: now + self.config.restart_timer,
                    };
                } else {
                    self.finish(Err(AuthFailure::Timeout));
                }
            }
            _ => {}
        }
    }

    /// A PAP (`protocol` 0xc023) or CHAP (0xc223) packet from the authenticator.
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
                Ok(Pap::Ack { id, message }) => self.on_pap_reply(id, true, message),
                Ok(Pap::Nak { id, message }) => self.on_pap_reply(id, false, message),
                Ok(Pap::Request { .. }) | Err(ParseError::UnknownCode) => {
                    self.stats.dropped_wrong_code += 1
                }
                Err(ParseError::Malformed) => self.stats.dropped_malformed += 1,
            }
        } else {
            match glue::parse_chap(data) {
                Ok(Chap::Challenge { id, value, .. }) => self.on_challenge(now, id, value),
                Ok(Chap::Success { id, message }) => self.on_success(id, message),
                Ok(Chap::Failure { id, message }) => self.on_failure(now, id, message),
                Ok(Chap::Response { .. }) | Err(ParseError::UnknownCode) => {
                    self.stats.dropped_wrong_code += 1
                }
                Err(ParseError::Malformed) => self.stats.dropped_malformed += 1,
            }
        }
    }

    fn send(&mut self, data: Vec<u8>) {
        if data.is_empty() {
            // Emitting failed: fields are bounded before this point, so this cannot happen.
            return;
        }
        if self.queue.len() >= MAX_QUEUED {
            self.queue.pop_front();
        }
        self.stats.tx_packets += 1;
        self.last_sent.clone_from(&data);
        self.queue.push_back(Transmit {
            protocol: self.method.protocol(),
            data,
        });
    }

    fn finish(&mut self, outcome: AuthOutcome) {
        self.state = State::Done;
        self.outcome = Some(outcome);
        self.outcome_fresh = true;
    }

    fn succeeded(&self) -> bool {
        matches!(self.outcome, Some(Ok(_)))
    }

    fn on_challenge(&mut self, now: Instant, id: u8, value: &[u8]) {
        let expected_len = match self.method {
            Method::MsChapV2 => Some(16),
            Method::MsChapV1 => Some(8),
            _ => None,
        };
        if value.is_empty() || expected_len.is_some_and(|n| n != value.len()) {
            self.stats.dropped_malformed += 1;
            return;
        }
        match self.state {
            // The authenticator retransmits its Challenge: answer with the same Response
            // (same MS-CHAPv2 peer challenge), RFC 1994 §4.1.
            State::Sent {
                id: sent_id, sent, ..
            } if sent_id == id && self.challenge == value => {
                self.stats.duplicates += 1;
                let pkt = self.last_sent.clone();
                self.send(pkt);
                self.state = State::Sent {
                    id,
                    sent: sent + 1,
                    deadline: now + self.config.restart_timer,
                };
                return;
            }
            State::WaitChallenge { .. } | State::Sent { .. } => {}
            State::Done if self.succeeded() => {}
            State::Done | State::Initial => {
                self.stats.dropped_unexpected += 1;
                return;
            }
        }
        self.respond(now, id, value);
    }

    /// Build and send the Response to challenge `value` with identifier `id`.
    fn respond(&mut self, now: Instant, id: u8, value: &[u8]) {
        self.challenge.clear();
        self.challenge.extend_from_slice(value);
        let user = self.creds.user.as_bytes();
        let response: Vec<u8> = match self.method {
            Method::ChapMd5 => {
                glue::chap_md5_response(id, self.creds.password.as_bytes(), value).to_vec()
            }
            Method::MsChapV1 => {
                let Ok(challenge) = <[u8; 8]>::try_from(value) else {
                    return;
                };
                self.nt_response = glue::mschap_v1_nt_response(&challenge, &self.creds.nt_hash);
                glue::emit_v1_response(&self.nt_response).to_vec()
            }
            Method::MsChapV2 => {
                let Ok(auth_challenge) = <[u8; 16]>::try_from(value) else {
                    return;
                };
                let mut peer_challenge = [0u8; 16];
                (self.rng)(&mut peer_challenge);
                let name = strip_domain(user);
                self.nt_response = glue::mschap_v2_nt_response(
                    &auth_challenge,
                    &peer_challenge,
                    name,
                    &self.creds.nt_hash,
                );
                self.expected_auth_response = Some(glue::mschap_v2_authenticator_response(
                    &self.creds.nt_hash,
                    &self.nt_response,
                    &peer_challenge,
                    &auth_challenge,
                    name,
                ));
                glue::emit_v2_response(&peer_challenge, &self.nt_response).to_vec()
            }
            Method::Pap => return,
        };
        let pkt = glue::emit_chap(&Chap::Response {
            id,
            value: &response,
            name: user,
        });
        self.send(pkt);
        self.state = State::Sent {
            id,
            sent: 1,
            deadline: now + self.config.restart_timer,
        };
    }

    fn on_success(&mut self, id: u8, message: &[u8]) {
        match self.state {
            State::Sent { id: sent_id, .. } if sent_id == id => {}
            State::Sent { .. } => {
                self.stats.dropped_wrong_id += 1;
                return;
            }
            // A repeated Success after we finished.
            State::Done if self.succeeded() => {
                self.stats.duplicates += 1;
                return;
            }
            _ => {
                self.stats.dropped_unexpected += 1;
                return;
            }
        }
        let mppe = match self.method {
            Method::MsChapV2 => {
                // RFC 2759 §5: the peer MUST verify the authenticator response.
                let ok = match (glue::parse_v2_success(message), self.expected_auth_response) {
                    (Some(got), Some(want)) => glue::ct_eq(&got, &want),
                    _ => false,
                };
                if !ok {
                    self.finish(Err(AuthFailure::BadAuthenticatorResponse));
                    return;
                }
                glue::mppe_keys_v2_peer(&self.creds.nt_hash, &self.nt_response)
            }
            Method::MsChapV1 => {
                let Ok(challenge) = <[u8; 8]>::try_from(self.challenge.as_slice()) else {
                    return;
                };
                glue::mppe_keys_v1(&self.creds.nt_hash, &challenge)
            }
            Method::ChapMd5 | Method::Pap => None,
        };
        self.success(mppe);
    }

    fn success(&mut self, mppe: Option<MppeKeys>) {
        let user = self.creds.user.clone();
        self.finish(Ok(AuthSuccess {
            user,
            method: self.method,
            mppe,
        }));
    }

    fn on_failure(&mut self, now: Instant, id: u8, message: &[u8]) {
        match self.state {
            State::Sent { id: sent_id, .. } if sent_id == id => {}
            State::Sent { .. } => {
                self.stats.dropped_wrong_id += 1;
                return;
            }
            _ => {
                self.stats.dropped_unexpected += 1;
                return;
            }
        }
        if !self.method.is_ms_chap() {
            let message = lossy(message);
            self.finish(Err(AuthFailure::Refused {
                code: E_AUTHENTICATION_FAILURE,
                message,
            }));
            return;
        }
        let Some(f) = glue::parse_ms_failure(message) else {
            self.finish(Err(AuthFailure::Refused {
                code: E_AUTHENTICATION_FAILURE,
                message: lossy(message),
            }));
            return;
        };
        let want_len = if self.method == Method::MsChapV2 {
            16
        } else {
            8
        };
        let challenge = f
            .challenge()
            .filter(|c| c.len() == want_len)
            .map(<[u8]>::to_vec);
        match challenge {
            Some(c) if f.retry && self.retries < self.config.max_retries => {
                // RFC 2759 §6: answer the new challenge; the retry Response takes the
                // Failure's identifier plus one.
                self.retries += 1;
                self.respond(now, id.wrapping_add(1), &c);
            }
            _ => {
                let message = lossy(f.message);
                self.finish(Err(AuthFailure::Refused {
                    code: f.code,
                    message,
                }));
            }
        }
    }

    fn on_pap_reply(&mut self, id: u8, ack: bool, message: &[u8]) {
        match self.state {
            State::Sent { id: sent_id, .. } if sent_id == id => {}
            State::Sent { .. } => {
                self.stats.dropped_wrong_id += 1;
                return;
            }
            State::Done if self.succeeded() && ack => {
                self.stats.duplicates += 1;
                return;
            }
            _ => {
                self.stats.dropped_unexpected += 1;
                return;
            }
        }
        if ack {
            self.success(None);
        } else {
            self.finish(Err(AuthFailure::Refused {
                code: E_AUTHENTICATION_FAILURE,
                message: lossy(message),
            }));
        }
    }
}

fn lossy(message: &[u8]) -> String {
    let m = message
        .get(..message.len().min(MAX_MESSAGE))
        .unwrap_or_default();
    String::from_utf8_lossy(m).into_owned()
}
