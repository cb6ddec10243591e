//! The engine's configuration: a plain struct with secure defaults and builder methods.
//!
//! Defaults follow the appliance's policy: as authenticator only MS-CHAPv2 is requested, as
//! peer only MS-CHAPv2 is accepted, and MPPE with 128-bit keys is required whenever a network
//! protocol runs. Everything weaker is an explicit opt-in whose name says it is weak
//! (`allow_weak_*`) or insecure (`allow_insecure_*`).
//!
//! Randomness for challenges is injected ([`Config::random`]); without it, authentication
//! fails closed (the engine never falls back to a predictable source for secrets).

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use dialgate_wire::ppp::Protocol;

use crate::auth::{AuthBackend, AuthPolicy, AuthenticatorConfig, Credentials, Method, PeerConfig};
use crate::cp::CpConfig;
use crate::lcp::LcpConfig;
use crate::ncp::{
    AddressPool, CcpConfig, IpcpClientConfig, IpcpServerConfig, Ipv6cpConfig, IpxcpConfig,
    MppeKeyLength, MppePolicy, NbfcpConfig,
};

/// A source of unpredictable octets (challenges, identifiers): use a CSPRNG (e.g. the OS's
/// `getrandom`). Shared by every authentication exchange of the link.
pub type RandomSource = Arc<dyn Fn(&mut [u8]) + Send + Sync>;

/// Decides, when the Network phase begins, whether the authenticated peer (its user name,
/// empty without authentication) may run the network control protocol `ncp` (IPCP,
/// IPV6CP, IPXCP, NBFCP). A refused NCP is not started and the peer's packets of it are
/// Protocol-Rejected (RFC 1661 §5.7).
pub type NetworkFilter = Arc<dyn Fn(&str, Protocol) -> bool + Send + Sync>;

/// We authenticate the peer.
#[derive(Debug, Clone)]
pub struct AuthenticatorRole {
    /// Where credentials are checked (local users, RADIUS, ...).
    pub backend: Arc<dyn AuthBackend>,
    /// Our name in Challenges, timers, messages.
    pub settings: AuthenticatorConfig,
}

/// The peer authenticates us.
#[derive(Debug, Clone)]
pub struct PeerRole {
    /// Our user name and password.
    pub credentials: Credentials,
    /// Timers and retries.
    pub settings: PeerConfig,
}

/// How IPCP runs.
#[derive(Clone)]
pub enum IpcpRole {
    /// We assign the peer's address from a pool (RAS server).
    Server {
        /// Our address and the DNS/NBNS servers we hand out.
        config: IpcpServerConfig,
        /// Where peer addresses come from.
        pool: Arc<dyn AddressPool>,
    },
    /// The server assigns our address (client).
    Client(IpcpClientConfig),
}

/// Configuration of one PPP link.
#[derive(Clone, Default)]
pub struct Config {
    /// LCP: MRU, ACCM, compression, magic number, keepalive. Its `auth_request` and
    /// `auth_accept` lists are filled by the engine from the roles and `allow_weak_*` below.
    pub lcp: LcpConfig,
    /// Restart timer and counters shared by every control protocol (RFC 1661 §4.6).
    pub cp: CpConfig,
    /// Authenticate the peer (we are the authenticator). Default: none.
    pub authenticator: Option<AuthenticatorRole>,
    /// Let the peer authenticate us with these credentials. Default: none (we refuse to be
    /// authenticated).
    pub peer: Option<PeerRole>,
    /// Randomness for challenges; required when either role is set.
    pub random: Option<RandomSource>,
    /// Restrict and order the authentication methods (both roles): only these, in this
    /// order, and each still only if the `allow_weak_*` flags allow it. `None` (the default):
    /// every allowed method, strongest first.
    pub auth_methods: Option<Vec<Method>>,
    /// Allow PAP: the password crosses the link in clear text. Weak; default false.
    pub allow_weak_pap_cleartext: bool,
    /// Allow CHAP-MD5: needs clear-text secrets on the authenticator. Weak; default false.
    pub allow_weak_chap_md5: bool,
    /// Allow MS-CHAPv1: DES over the NT hash, no mutual authentication. Weak; default false.
    pub allow_weak_mschap_v1: bool,
    /// Restrict the MPPE key lengths: only these, each still only if the `allow_weak_mppe_*`
    /// flags allow it. `None` (the default): every allowed length (the strongest wins).
    pub mppe_key_lengths: Option<Vec<MppeKeyLength>>,
    /// Allow 40-bit MPPE keys. Weak; default false.
    pub allow_weak_mppe_40: bool,
    /// Allow 56-bit MPPE keys. Weak; default false.
    pub allow_weak_mppe_56: bool,
    /// Accept stateful MPPE when the peer asks for it (default false: stateless only, which
    /// survives packet loss without Reset-Requests).
    pub allow_mppe_stateful: bool,
    /// Ask for stateful MPPE ourselves (RFC 3078 §2.1, H bit clear). Weak: in stateful mode
    /// one lost packet costs a CCP Reset-Request round trip and every packet sent meanwhile.
    /// Implies [`allow_mppe_stateful`](Self::allow_mppe_stateful); the link falls back to
    /// stateless MPPE when the peer does not allow stateful mode. Default false.
    pub prefer_weak_mppe_stateful: bool,
    /// Carry data unencrypted when MPPE cannot be negotiated. Insecure; default false: MPPE
    /// (128-bit unless weaker is allowed) is required for any network protocol.
    pub allow_insecure_no_encryption: bool,
    /// IPCP (IPv4). Default: not run.
    pub ipcp: Option<IpcpRole>,
    /// IPV6CP (IPv6). Default: not run (the peer's IPV6CP is Protocol-Rejected).
    pub ipv6cp: Option<Ipv6cpConfig>,
    /// IPXCP (IPX). Default: not run.
    pub ipxcp: Option<IpxcpConfig>,
    /// NBFCP (NetBEUI). Default: not run.
    pub nbfcp: Option<NbfcpConfig>,
    /// Which of the NCPs above the authenticated peer may run (`None`: all of them). When
    /// it refuses every one, the link is closed as soon as the Network phase begins.
    pub network_filter: Option<NetworkFilter>,
    /// Close the link after this long without data in either direction (`None`: never).
    pub idle_timeout: Option<Duration>,
    /// Close the link this long after it reached the Network phase (`None`: never).
    pub session_timeout: Option<Duration>,
    /// Seed for magic numbers, identifiers and IPv6 interface identifiers (not secrets); give
    /// every link a different one.
    pub seed: u64,
}

impl fmt::Debug for IpcpRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Server { config, .. } => f
                .debug_struct("Server")
                .field("config", config)
                .finish_non_exhaustive(),
            Self::Client(config) => f.debug_tuple("Client").field(config).finish(),
        }
    }
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("lcp", &self.lcp)
            .field("cp", &self.cp)
            .field(
                "authenticator",
                &self.authenticator.as_ref().map(|a| &a.settings),
            )
            .field(
                "peer",
                &self.peer.as_ref().map(|p| p.credentials.user().to_owned()),
            )
            .field("random", &self.random.is_some())
            .field("auth_methods", &self.auth_methods)
            .field("allow_weak_pap_cleartext", &self.allow_weak_pap_cleartext)
            .field("allow_weak_chap_md5", &self.allow_weak_chap_md5)
            .field("allow_weak_mschap_v1", &self.allow_weak_mschap_v1)
            .field("mppe_key_lengths", &self.mppe_key_lengths)
            .field("allow_weak_mppe_40", &self.allow_weak_mppe_40)
            .field("allow_weak_mppe_56", &self.allow_weak_mppe_56)
            .field("allow_mppe_stateful", &self.allow_mppe_stateful)
            .field("prefer_weak_mppe_stateful", &self.prefer_weak_mppe_stateful)
            .field(
                "allow_insecure_no_encryption",
                &self.allow_insecure_no_encryption,
            )
            .field("ipcp", &self.ipcp.is_some())
            .field("ipv6cp", &self.ipv6cp)
            .field("ipxcp", &self.ipxcp.is_some())
            .field("nbfcp", &self.nbfcp)
            .field("network_filter", &self.network_filter.is_some())
            .field("idle_timeout", &self.idle_timeout)
            .field("session_timeout", &self.session_timeout)
            .finish_non_exhaustive()
    }
}

impl Config {
    /// The authentication policy the `allow_weak_*` flags describe (both directions).
    pub fn auth_policy(&self) -> AuthPolicy {
        AuthPolicy {
            allow_weak_mschap_v1: self.allow_weak_mschap_v1,
            allow_weak_chap_md5: self.allow_weak_chap_md5,
            allow_weak_pap_cleartext: self.allow_weak_pap_cleartext,
        }
    }

    /// The authentication methods to request or accept, in order of preference: policy's
    /// allowed methods, strongest first, or [`auth_methods`](Self::auth_methods) filtered by
    /// policy.
    pub fn allowed_methods(&self) -> Vec<Method> {
        let policy = self.auth_policy();
        match &self.auth_methods {
            Some(list) => list.iter().copied().filter(|m| policy.allows(*m)).collect(),
            None => policy.offer().collect(),
        }
    }

    /// Whether any network-layer protocol is configured.
    pub fn runs_network(&self) -> bool {
        self.ipcp.is_some() || self.ipv6cp.is_some() || self.ipxcp.is_some() || self.nbfcp.is_some()
    }

    /// Whether data must be encrypted (MPPE required).
    pub fn requires_encryption(&self) -> bool {
        !self.allow_insecure_no_encryption
    }

    /// The CCP policy these settings describe, given whether authentication produced keys.
    pub fn ccp_config(&self, keys_available: bool) -> CcpConfig {
        let listed = |k: MppeKeyLength| {
            self.mppe_key_lengths
                .as_ref()
                .is_none_or(|list| list.contains(&k))
        };
        CcpConfig {
            mppe: if self.requires_encryption() {
                MppePolicy::Required
            } else {
                MppePolicy::Allowed
            },
            allow_mppe_128: listed(MppeKeyLength::Bits128),
            allow_weak_mppe_56: self.allow_weak_mppe_56 && listed(MppeKeyLength::Bits56),
            allow_weak_mppe_40: self.allow_weak_mppe_40 && listed(MppeKeyLength::Bits40),
            allow_stateful: self.allow_mppe_stateful || self.prefer_weak_mppe_stateful,
            prefer_weak_stateful: self.prefer_weak_mppe_stateful,
            keys_available,
        }
    }

    /// Authenticate the peer with `backend`, sending `name` in Challenges (builder style).
    pub fn with_authenticator(mut self, backend: Arc<dyn AuthBackend>, name: &str) -> Self {
        self.authenticator = Some(AuthenticatorRole {
            backend,
            settings: AuthenticatorConfig {
                name: name.to_owned(),
                ..AuthenticatorConfig::default()
            },
        });
        self
    }

    /// Let the peer authenticate us with `credentials` (builder style).
    pub fn with_credentials(mut self, credentials: Credentials) -> Self {
        self.peer = Some(PeerRole {
            credentials,
            settings: PeerConfig::default(),
        });
        self
    }

    /// Use `random` for challenges (builder style).
    pub fn with_random(mut self, random: RandomSource) -> Self {
        self.random = Some(random);
        self
    }

    /// Run IPCP as the server, granting addresses from `pool` (builder style).
    pub fn with_ipcp_server(
        mut self,
        config: IpcpServerConfig,
        pool: Arc<dyn AddressPool>,
    ) -> Self {
        self.ipcp = Some(IpcpRole::Server { config, pool });
        self
    }

    /// Run IPCP as the client (builder style).
    pub fn with_ipcp_client(mut self, config: IpcpClientConfig) -> Self {
        self.ipcp = Some(IpcpRole::Client(config));
        self
    }

    /// Set the seed (builder style).
    pub fn with_seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Set the idle timeout (builder style).
    pub fn with_idle_timeout(mut self, timeout: Duration) -> Self {
        self.idle_timeout = Some(timeout);
        self
    }

    /// Set the session timeout (builder style).
    pub fn with_session_timeout(mut self, timeout: Duration) -> Self {
        self.session_timeout = Some(timeout);
        self
    }

    /// Set the keepalive (builder style); `None` disables it.
    pub fn with_echo(mut self, interval: Option<Duration>, failures: u32) -> Self {
        self.lcp.echo_interval = interval;
        self.lcp.echo_failures = failures;
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_offer_only_mschap_v2_and_require_mppe_128() {
        let c = Config::default();
        assert_eq!(c.allowed_methods(), [Method::MsChapV2]);
        let ccp = c.ccp_config(true);
        assert_eq!(ccp.mppe, MppePolicy::Required);
        assert!(ccp.allow_mppe_128 && !ccp.allow_weak_mppe_40 && !ccp.allow_weak_mppe_56);
        assert!(!ccp.allow_stateful && !ccp.prefer_weak_stateful);
        assert!(c.authenticator.is_none() && c.peer.is_none() && c.random.is_none());
    }

    #[test]
    fn weak_methods_are_opt_in_and_ordered_strongest_first() {
        let c = Config {
            allow_weak_pap_cleartext: true,
            allow_weak_mschap_v1: true,
            ..Config::default()
        };
        assert_eq!(
            c.allowed_methods(),
            [Method::MsChapV2, Method::MsChapV1, Method::Pap]
        );
    }

    #[test]
    fn auth_methods_restrict_but_never_bypass_policy() {
        let c = Config {
            auth_methods: Some(vec![Method::Pap, Method::MsChapV1, Method::MsChapV2]),
            allow_weak_pap_cleartext: true,
            ..Config::default()
        };
        assert_eq!(c.allowed_methods(), [Method::Pap, Method::MsChapV2]);
    }

    #[test]
    fn insecure_no_encryption_makes_mppe_optional() {
        let c = Config {
            allow_insecure_no_encryption: true,
            ..Config::default()
        };
        assert_eq!(c.ccp_config(false).mppe, MppePolicy::Allowed);
    }

    #[test]
    fn preferring_stateful_mppe_implies_allowing_it() {
        let c = Config {
            prefer_weak_mppe_stateful: true,
            ..Config::default()
        };
        let ccp = c.ccp_config(true);
        assert!(ccp.allow_stateful && ccp.prefer_weak_stateful);
        let c = Config {
            allow_mppe_stateful: true,
            ..Config::default()
        };
        let ccp = c.ccp_config(true);
        assert!(ccp.allow_stateful && !ccp.prefer_weak_stateful);
    }

    #[test]
    fn mppe_key_lengths_restrict_but_never_bypass_policy() {
        let c = Config {
            mppe_key_lengths: Some(vec![MppeKeyLength::Bits40, MppeKeyLength::Bits56]),
            allow_weak_mppe_56: true,
            ..Config::default()
        };
        let ccp = c.ccp_config(true);
        assert!(!ccp.allow_mppe_128 && ccp.allow_weak_mppe_56 && !ccp.allow_weak_mppe_40);
    }
}
