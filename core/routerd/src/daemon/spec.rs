//! What a link runs with, resolved from the configuration once per plugin instance: the
//! plugin's instance configuration, and the template every session's PPP engine is built
//! from.
//!
//! # One plugin instance per link
//!
//! Every enabled `[[link]]` gets its own instance of its plugin. The instance receives the
//! `[plugin.config]` table merged with the link's `[link.config]` table (the link's keys win)
//! as its TOML document. A dialing link is dialled with the link's name as the target. One
//! instance per link keeps a configuration change local: changing one link restarts only
//! that link's instance, and the sessions of every other link stay up.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;

use dialgate_dataplane::{Ipv4Pool, Ipv4Range, SharedIpv4Pool};
use dialgate_ppp::Protocol;
use dialgate_ppp::auth::{AuthBackend, AuthenticatorConfig, Credentials, PeerConfig};
use dialgate_ppp::config::{AuthenticatorRole, IpcpRole, PeerRole, RandomSource};
use dialgate_ppp::ncp::{IpcpClientConfig, IpcpServerConfig, Ipv6cpConfig};

use super::auth_guard::{AuthNote, LinkAccess, SessionBackend};
use super::reservation::Reservation;
use super::router::Router;
use crate::config::{
    Config, LinkConfig, LinkMode, LinkRole, PluginConfig, PoolConfig, PppSettings, RoutePrefix,
};
use crate::users::NetProtocol;

/// How a terminating link's sessions run their engine.
#[derive(Clone)]
pub enum EngineTemplate {
    /// We authenticate the caller and hand it an address from a pool.
    Server {
        /// PPP settings (`[ppp]` with the link's overrides).
        settings: PppSettings,
        /// Our address and the DNS/WINS servers handed out.
        ipcp: IpcpServerConfig,
        /// The pool.
        pool: Arc<SharedIpv4Pool>,
        /// Run IPV6CP (a `[lan] ipv6_prefix` is configured).
        ipv6: bool,
    },
    /// We dial out and are authenticated by the peer.
    Client {
        /// PPP settings.
        settings: PppSettings,
        /// Our credentials.
        credentials: Credentials,
        /// Networks routed through the session once it is up (`link.routes`).
        routes: Vec<RoutePrefix>,
    },
}

impl std::fmt::Debug for EngineTemplate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            EngineTemplate::Server { ipcp, ipv6, .. } => f
                .debug_struct("Server")
                .field("ipcp", ipcp)
                .field("ipv6", ipv6)
                .finish_non_exhaustive(),
            EngineTemplate::Client { credentials, .. } => f
                .debug_struct("Client")
                .field("user", &credentials.user())
                .finish_non_exhaustive(),
        }
    }
}

/// The OS's CSPRNG (challenges must be unpredictable).
pub fn os_random() -> RandomSource {
    Arc::new(|buf: &mut [u8]| {
        if let Err(e) = getrandom::fill(buf) {
            // Without randomness no challenge is safe: refuse to go on.
            tracing::error!("the OS random source failed: {e}");
            std::process::abort();
        }
    })
}

/// A random u64 from the OS (0 if it fails: only used for non-secret seeds).
pub fn random_u64() -> u64 {
    let mut b = [0u8; 8];
    let _ = getrandom::fill(&mut b);
    u64::from_le_bytes(b)
}

impl EngineTemplate {
    /// A fresh engine configuration for one session whose caller comes from `source` on a
    /// link of `plugin`, with what an answering session keeps beside its engine. The users'
    /// attributes apply to answering sessions: `links` and `protocols` are checked at
    /// authentication, and the NCPs a user may not run are not started (the engine's
    /// network filter).
    pub fn engine_config(
        &self,
        router: &Arc<Router>,
        source: Option<IpAddr>,
        plugin: &str,
    ) -> SessionSetup {
        let mut c = dialgate_ppp::Config {
            random: Some(os_random()),
            seed: random_u64(),
            ..dialgate_ppp::Config::default()
        };
        let mut note = None;
        let mut reservation = None;
        router
            .lan
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .apply_to(&mut c);
        match self {
            EngineTemplate::Server {
                settings,
                ipcp,
                pool,
                ipv6,
            } => {
                settings.apply_to(&mut c);
                let mut protocols = vec![NetProtocol::Ip];
                if c.ipxcp.is_some() {
                    protocols.push(NetProtocol::Ipx);
                }
                if c.nbfcp.is_some() {
                    protocols.push(NetProtocol::Netbeui);
                }
                let link = LinkAccess {
                    plugin: plugin.to_owned(),
                    protocols,
                };
                let (backend, n) = SessionBackend::new(router, source, link);
                let filter_router = router.clone();
                c.network_filter = Some(Arc::new(move |user: &str, ncp: Protocol| {
                    NetProtocol::of_ncp(ncp.0)
                        .is_none_or(|p| filter_router.user_attrs(user).allows_protocol(p))
                }));
                note = Some(n);
                let backend: Arc<dyn AuthBackend> = Arc::new(backend);
                c.authenticator = Some(AuthenticatorRole {
                    backend,
                    settings: AuthenticatorConfig {
                        name: router.hostname(),
                        ..AuthenticatorConfig::default()
                    },
                });
                let r = Arc::new(Reservation::new(pool.clone(), router.statics.clone()));
                c.ipcp = Some(IpcpRole::Server {
                    config: ipcp.clone(),
                    pool: r.clone(),
                });
                reservation = Some(r);
                if *ipv6 {
                    c.ipv6cp = Some(Ipv6cpConfig::default());
                }
            }
            EngineTemplate::Client {
                settings,
                credentials,
                ..
            } => {
                settings.apply_to(&mut c);
                c.peer = Some(PeerRole {
                    credentials: credentials.clone(),
                    settings: PeerConfig::default(),
                });
                c.ipcp = Some(IpcpRole::Client(IpcpClientConfig {
                    address: None,
                    request_dns: true,
                    request_nbns: false,
                }));
                // IPV6CP too, so a server can delegate a /64 (announced by RA); a server
                // without IPv6 Protocol-Rejects it and IPv4 runs alone.
                c.ipv6cp = Some(Ipv6cpConfig::default());
            }
        }
        SessionSetup {
            config: c,
            auth: note,
            reservation,
        }
    }
}

/// One session's engine configuration and what the session keeps beside it.
#[derive(Debug)]
pub struct SessionSetup {
    /// The engine's configuration.
    pub config: dialgate_ppp::Config,
    /// Answering sessions: what the authentication backend ([`SessionBackend`]) saw.
    pub auth: Option<Arc<AuthNote>>,
    /// Answering sessions: the pool address reserved at authentication, which the engine's
    /// IPCP grants (see [`Reservation`]).
    pub reservation: Option<Arc<Reservation>>,
}

/// Everything a link's actor needs from the configuration.
#[derive(Debug, Clone)]
pub struct LinkSpec {
    /// The link's name.
    pub name: String,
    /// The plugin's name.
    pub plugin: String,
    /// Answer or dial.
    pub role: LinkRole,
    /// Terminate or relay.
    pub mode: LinkMode,
    /// Relay: the dialing link calls go out on.
    pub relay_to: Option<String>,
    /// The instance's configuration document.
    pub instance_config: String,
    /// Terminating links: how sessions run.
    pub engine: Option<EngineTemplate>,
    /// The instance of a LAN-protocol plugin (no links; `name` is `@` and the plugin's name).
    pub lan_protocol: bool,
}

impl LinkSpec {
    /// The networks a dialing link routes through its session (`link.routes`); none for
    /// other links.
    pub fn routes(&self) -> &[RoutePrefix] {
        match &self.engine {
            Some(EngineTemplate::Client { routes, .. }) => routes,
            _ => &[],
        }
    }

    /// Whether the actor places a call as soon as it starts (and again after each one ends).
    pub fn dials_on_start(&self) -> bool {
        !self.lan_protocol && self.role == LinkRole::Dial && self.mode == LinkMode::Terminate
    }

    /// The spec of a LAN-protocol plugin's instance: named `@` and the plugin's name (link
    /// names cannot start with `@`), configured with `[plugin.config]`.
    pub fn lan_instance(plugin: &PluginConfig) -> LinkSpec {
        LinkSpec {
            name: lan_instance_name(&plugin.name),
            plugin: plugin.name.clone(),
            role: LinkRole::Answer,
            mode: LinkMode::Terminate,
            relay_to: None,
            instance_config: plugin.config_toml(),
            engine: None,
            lan_protocol: true,
        }
    }
}

/// The instance name of LAN-protocol plugin `plugin`.
pub fn lan_instance_name(plugin: &str) -> String {
    format!("@{plugin}")
}

/// The instance configuration: `[plugin.config]` merged with `[link.config]`.
pub fn instance_config(plugin: &PluginConfig, link: &LinkConfig) -> String {
    let mut table = plugin.config.clone();
    for (k, v) in &link.config {
        table.insert(k.clone(), v.clone());
    }
    toml::to_string(&table).unwrap_or_default()
}

/// Our address on a pool's sessions: its `local_address`, else the LAN interface's first
/// IPv4 address.
pub fn pool_local_address(config: &Config, pool: &PoolConfig) -> Result<Ipv4Addr, String> {
    if let Some(a) = pool.local_address {
        return Ok(a);
    }
    let Some(lan) = &config.lan else {
        return Err(format!(
            "pool {:?} has no local_address and there is no [lan] interface to take one from",
            pool.name
        ));
    };
    let addrs = nix::ifaddrs::getifaddrs().map_err(|e| format!("listing addresses: {e}"))?;
    for ifa in addrs {
        if ifa.interface_name != lan.interface {
            continue;
        }
        if let Some(sin) = ifa.address.as_ref().and_then(|a| a.as_sockaddr_in()) {
            return Ok(sin.ip());
        }
    }
    Err(format!(
        "pool {:?} has no local_address and LAN interface {} has no IPv4 address",
        pool.name, lan.interface
    ))
}

/// Builds the address pool of a `[[pool]]`.
pub fn build_pool(pool: &PoolConfig) -> Result<Arc<SharedIpv4Pool>, String> {
    let ranges: Vec<Ipv4Range> = pool
        .ranges
        .iter()
        .filter_map(|r| Ipv4Range::new(r.first, r.last))
        .collect();
    let statics = pool.static_addresses.iter().map(|(u, a)| (u.clone(), *a));
    let p = Ipv4Pool::new(&ranges, statics).map_err(|e| format!("pool {:?}: {e}", pool.name))?;
    Ok(Arc::new(SharedIpv4Pool::new(p)))
}

/// Resolves a link of `config` into its spec; `pools` gives the pool objects by name (shared
/// by every link using a pool).
pub fn link_spec(
    config: &Config,
    link: &LinkConfig,
    pools: &dyn Fn(&str) -> Option<Arc<SharedIpv4Pool>>,
) -> Result<LinkSpec, String> {
    let plugin = config
        .plugin(&link.plugin)
        .ok_or_else(|| format!("link {:?}: unknown plugin {:?}", link.name, link.plugin))?;
    let settings = config.effective_ppp(link);
    let engine = match (link.mode, link.role) {
        (LinkMode::Relay, _) => None,
        (LinkMode::Terminate, LinkRole::Answer) => {
            let pool_name = link
                .pool
                .as_deref()
                .ok_or_else(|| format!("link {:?}: no pool", link.name))?;
            let pool_cfg = config
                .pool(pool_name)
                .ok_or_else(|| format!("link {:?}: unknown pool {pool_name:?}", link.name))?;
            let pool = pools(pool_name)
                .ok_or_else(|| format!("link {:?}: pool {pool_name:?} missing", link.name))?;
            let local = pool_local_address(config, pool_cfg)?;
            let two = |v: &[Ipv4Addr]| [v.first().copied(), v.get(1).copied()];
            Some(EngineTemplate::Server {
                settings,
                ipcp: IpcpServerConfig {
                    local,
                    dns: two(&pool_cfg.dns),
                    nbns: two(&pool_cfg.wins),
                },
                pool,
                ipv6: config.lan.as_ref().is_some_and(|l| l.ipv6_prefix.is_some()),
            })
        }
        (LinkMode::Terminate, LinkRole::Dial) => {
            let c = link
                .credentials
                .as_ref()
                .ok_or_else(|| format!("link {:?}: no credentials", link.name))?;
            let credentials = Credentials::new(&c.user, &c.password)
                .map_err(|e| format!("link {:?}: credentials: {e}", link.name))?;
            Some(EngineTemplate::Client {
                settings,
                credentials,
                routes: link.routes.clone(),
            })
        }
    };
    Ok(LinkSpec {
        name: link.name.clone(),
        plugin: plugin.name.clone(),
        role: link.role,
        mode: link.mode,
        relay_to: link.relay_to.clone(),
        instance_config: instance_config(plugin, link),
        engine,
        lan_protocol: false,
    })
}
