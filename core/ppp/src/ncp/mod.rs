//! Option policies of the network-layer control protocols and of CCP: what this end asks for
//! and what it accepts, one [`OptionPolicy`](crate::options::OptionPolicy) per protocol.
//!
//! | policy | protocol | RFC |
//! |---|---|---|
//! | [`IpcpPolicy`] | IPCP (0x8021) | RFC 1332, RFC 1877 |
//! | [`Ipv6cpPolicy`] | IPV6CP (0x8057) | RFC 5072 |
//! | [`CcpPolicy`] | CCP (0x80FD) with MPPE | RFC 1962, RFC 3078, RFC 3079 |
//! | [`IpxcpPolicy`] | IPXCP (0x802B) | RFC 1552 |
//! | [`NbfcpPolicy`] | NBFCP (0x803F) | RFC 2097 |
//!
//! Every policy follows the same rules of RFC 1661 §5: a Configure-Ack must echo the last
//! request exactly (§5.2), a Configure-Reject may only list options we sent (§5.4), a
//! malformed option list is an `Err` and never a panic, and once the automaton reports
//! Max-Failure (`nak_exhausted`, §4.6) every Nak becomes a Reject. The policies expose what was
//! agreed through a `negotiated()` getter once both directions are acked.

mod ccp;
mod ipcp;
mod ipv6cp;
mod ipxcp;
mod nbfcp;
mod util;

pub use ccp::{CcpConfig, CcpNegotiated, CcpPolicy, MppeKeyLength, MppeParams, MppePolicy};
pub use ipcp::{AddressPool, IpcpClientConfig, IpcpNegotiated, IpcpPolicy, IpcpServerConfig};
pub use ipv6cp::{InterfaceIdSource, Ipv6cpConfig, Ipv6cpNegotiated, Ipv6cpPolicy};
pub use ipxcp::{IpxRoutingProtocol, IpxcpConfig, IpxcpNegotiated, IpxcpPolicy};
pub use nbfcp::{
    MulticastFiltering, NbfcpConfig, NbfcpNegotiated, NbfcpPolicy, PeerInformation, ProjectedName,
};
