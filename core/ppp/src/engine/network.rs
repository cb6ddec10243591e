//! The Network phase's layers as the engine holds them: one object-safe view over every
//! `ControlProtocol<NCP policy>`, and the MPPE state CCP sets up.

use std::fmt;
use std::time::Instant;

use dialgate_crypto::{Decrypter, Encrypter, KeyLength, MppeKeys};
use dialgate_wire::ppp::Protocol;

use super::NetworkParams;
use crate::cp::{ControlProtocol, LayerEvent};
use crate::ncp::{IpcpPolicy, Ipv6cpPolicy, IpxcpPolicy, MppeKeyLength, MppeParams, NbfcpPolicy};
use crate::options::OptionPolicy;

/// What a network-layer policy negotiated, for [`super::Event::NetworkUp`].
pub(crate) trait Negotiated {
    /// The negotiated parameters (valid once the layer is Opened).
    fn params(&self) -> Option<NetworkParams>;
}

impl Negotiated for IpcpPolicy {
    fn params(&self) -> Option<NetworkParams> {
        self.negotiated().map(NetworkParams::Ipcp)
    }
}

impl Negotiated for Ipv6cpPolicy {
    fn params(&self) -> Option<NetworkParams> {
        self.negotiated().map(NetworkParams::Ipv6cp)
    }
}

impl Negotiated for IpxcpPolicy {
    fn params(&self) -> Option<NetworkParams> {
        self.negotiated().map(NetworkParams::Ipxcp)
    }
}

impl Negotiated for NbfcpPolicy {
    fn params(&self) -> Option<NetworkParams> {
        self.negotiated().map(NetworkParams::Nbfcp)
    }
}

/// An NCP as the engine drives it, whatever its policy.
pub(crate) trait NcpLayer: fmt::Debug + Send {
    fn protocol(&self) -> u16;
    fn open(&mut self, now: Instant);
    fn up(&mut self, now: Instant);
    fn handle_packet(&mut self, now: Instant, packet: &[u8]);
    fn handle_timeout(&mut self, now: Instant);
    fn poll_timeout(&self) -> Option<Instant>;
    fn poll_transmit(&mut self, out: &mut Vec<u8>) -> bool;
    fn poll_event(&mut self) -> Option<LayerEvent>;
    fn protocol_rejected(&mut self, now: Instant);
    fn set_peer_mru(&mut self, mru: usize);
    fn params(&self) -> Option<NetworkParams>;
}

impl<P: OptionPolicy + Negotiated + fmt::Debug + Send> NcpLayer for ControlProtocol<P> {
    fn protocol(&self) -> u16 {
        ControlProtocol::protocol(self)
    }
    fn open(&mut self, now: Instant) {
        ControlProtocol::open(self, now);
    }
    fn up(&mut self, now: Instant) {
        ControlProtocol::up(self, now);
    }
    fn handle_packet(&mut self, now: Instant, packet: &[u8]) {
        // NCPs have no codes beyond 1-7: everything else was Code-Rejected inside.
        let _ = ControlProtocol::handle_packet(self, now, packet);
    }
    fn handle_timeout(&mut self, now: Instant) {
        ControlProtocol::handle_timeout(self, now);
    }
    fn poll_timeout(&self) -> Option<Instant> {
        ControlProtocol::poll_timeout(self)
    }
    fn poll_transmit(&mut self, out: &mut Vec<u8>) -> bool {
        ControlProtocol::poll_transmit(self, out)
    }
    fn poll_event(&mut self) -> Option<LayerEvent> {
        ControlProtocol::poll_event(self)
    }
    fn protocol_rejected(&mut self, now: Instant) {
        ControlProtocol::protocol_rejected(self, now);
    }
    fn set_peer_mru(&mut self, mru: usize) {
        ControlProtocol::set_peer_mru(self, mru);
    }
    fn params(&self) -> Option<NetworkParams> {
        self.policy().params()
    }
}

/// One configured network-layer protocol.
#[derive(Debug)]
pub(crate) struct NcpSlot {
    /// The data protocol it carries (IPv4 for IPCP, ...).
    pub data: Protocol,
    pub layer: Box<dyn NcpLayer>,
    /// The layer is Opened.
    pub opened: bool,
    /// [`super::Event::NetworkUp`] was reported and not yet taken back.
    pub reported: bool,
    /// The layer finished (This-Layer-Finished) and has not restarted.
    pub finished: Option<super::FailureCause>,
    /// Encryption is required and CCP has not opened yet: the layer is up (Closed) but not
    /// administratively opened, so it sends nothing (RFC 3078 §3, RFC 1968 §2.1).
    pub held: bool,
    /// The peer's latest Configure-Request received while `held`, answered once the layer
    /// opens (at most one, of at most our MRU).
    pub early_request: Option<Vec<u8>>,
}

impl NcpSlot {
    pub fn new(data: Protocol, layer: Box<dyn NcpLayer>) -> Self {
        Self {
            data,
            layer,
            opened: false,
            reported: false,
            finished: None,
            held: false,
            early_request: None,
        }
    }
}

/// MPPE in both directions, keyed from the authentication outcome (RFC 3078, RFC 3079).
pub(crate) struct Mppe {
    pub params: MppeParams,
    pub encrypter: Encrypter,
    pub decrypter: Decrypter,
    /// When we last sent a CCP Reset-Request (stateful mode, RFC 3078 §8.2).
    pub last_reset_request: Option<Instant>,
}

impl fmt::Debug for Mppe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Mppe")
            .field("params", &self.params)
            .finish_non_exhaustive()
    }
}

impl Mppe {
    pub fn new(params: MppeParams, keys: &MppeKeys) -> Self {
        let length = match params.key_length {
            MppeKeyLength::Bits40 => KeyLength::Bits40,
            MppeKeyLength::Bits56 => KeyLength::Bits56,
            MppeKeyLength::Bits128 => KeyLength::Bits128,
        };
        Self {
            params,
            encrypter: Encrypter::new(&keys.send, length, params.stateless),
            decrypter: Decrypter::new(&keys.recv, length, params.stateless),
            last_reset_request: None,
        }
    }
}
