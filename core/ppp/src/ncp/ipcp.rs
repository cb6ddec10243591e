//! IPCP option policy (RFC 1332, with the DNS and NBNS options of RFC 1877).
//!
//! Two roles:
//! - **server** (the RAS side): requests its own IP-Address (RFC 1332 §3.3), hands the peer an
//!   address from an [`AddressPool`], and answers the peer's DNS/NBNS requests (RFC 1877 §1.1,
//!   §1.2) with the configured servers;
//! - **client**: requests IP-Address 0.0.0.0 (or a configured one) and takes the address the
//!   server naks back, optionally asks for DNS/NBNS servers the same way, and accepts the
//!   server's own address.
//!
//! Neither role does Van Jacobson compression: IP-Compression-Protocol (RFC 1332 §3.2) and the
//! deprecated IP-Addresses option (RFC 1332 §3.1) are rejected.

use core::fmt;
use core::net::Ipv4Addr;
use std::sync::Arc;

use dialgate_wire::ipcp::{IpcpOption, kind};

use super::util::{Judge, Sent, push, typed};
use crate::options::{NegotiationFailure, OptionPolicy, Reply, RequestVerdict};

/// Where the server role gets the peer's address from.
///
/// The engine creates the IPCP policy after authentication and passes the authenticated user
/// name; whether a user has a static address is the pool's business. Implementations must be
/// cheap and must not block: they are called from the protocol path.
pub trait AddressPool: Send + Sync {
    /// Grant an address to `user`'s session. `hint` is the non-zero address the peer asked
    /// for in its IP-Address option (RFC 1332 §3.3), which the pool may honour or ignore.
    /// `None` when no address is available: the link is then refused.
    fn allocate(&self, user: &str, hint: Option<Ipv4Addr>) -> Option<Ipv4Addr>;

    /// Give back an address obtained from [`allocate`](Self::allocate).
    fn release(&self, addr: Ipv4Addr);
}

/// Configuration of the server role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IpcpServerConfig {
    /// Our own address, sent in our IP-Address option (RFC 1332 §3.3).
    pub local: Ipv4Addr,
    /// Primary and secondary DNS servers handed to the peer (RFC 1877 §1.1, §1.3); a request
    /// for a server not configured here is rejected.
    pub dns: [Option<Ipv4Addr>; 2],
    /// Primary and secondary NBNS (WINS) servers (RFC 1877 §1.2, §1.4).
    pub nbns: [Option<Ipv4Addr>; 2],
}

/// Configuration of the client role.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IpcpClientConfig {
    /// The address to request; `None` requests 0.0.0.0 so the server assigns one
    /// (RFC 1332 §3.3). Either way the server's Nak is accepted.
    pub address: Option<Ipv4Addr>,
    /// Ask the server for primary and secondary DNS servers (RFC 1877 §1.1, §1.3).
    pub request_dns: bool,
    /// Ask the server for primary and secondary NBNS servers (RFC 1877 §1.2, §1.4).
    pub request_nbns: bool,
}

/// What IPCP agreed, once both directions are acked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpcpNegotiated {
    /// Our address on the link.
    pub local: Ipv4Addr,
    /// The peer's address: in the server role the address granted from the pool; in the
    /// client role the server's own address, if it sent one.
    pub peer: Option<Ipv4Addr>,
    /// DNS servers: the ones the peer accepted from us (server role) or the ones the server
    /// gave us (client role).
    pub dns: [Option<Ipv4Addr>; 2],
    /// NBNS servers, same convention as `dns`.
    pub nbns: [Option<Ipv4Addr>; 2],
}

enum Role {
    Server {
        config: IpcpServerConfig,
        pool: Arc<dyn AddressPool>,
        user: String,
        /// Granted once and kept until the policy is dropped, so a renegotiation
        /// (RFC 1661 restart) offers the same address.
        granted: Option<Ipv4Addr>,
    },
    Client {
        config: IpcpClientConfig,
    },
}

impl fmt::Debug for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Server {
                config,
                user,
                granted,
                ..
            } => f
                .debug_struct("Server")
                .field("config", config)
                .field("user", user)
                .field("granted", granted)
                .finish_non_exhaustive(),
            Self::Client { config } => f.debug_struct("Client").field("config", config).finish(),
        }
    }
}

/// The IPCP option policy (RFC 1332, RFC 1877); see the [module docs](self).
#[derive(Debug)]
pub struct IpcpPolicy {
    role: Role,
    /// IP-Address of our next request; `None` once the peer rejected it.
    req_addr: Option<Ipv4Addr>,
    /// DNS/NBNS options of our next request (primary, secondary), by slot; `None` = not asked.
    req_servers: [Option<Ipv4Addr>; 4],
    sent: Sent,
    /// Set when the peer acked our last request.
    ours_acked: bool,
    /// What we acked in the peer's last request, if we acked it.
    theirs_acked: Option<PeerRequest>,
    /// RFC 1661 §5.3: we appended IP-Address to a Nak once; do not insist a second time.
    addr_prompted: bool,
}

#[derive(Debug, Clone, Copy, Default)]
struct PeerRequest {
    addr: Option<Ipv4Addr>,
    servers: [Option<Ipv4Addr>; 4],
}

/// The DNS/NBNS option in `slot`: 0 primary DNS, 1 secondary DNS, 2 primary NBNS,
/// 3 secondary NBNS (RFC 1877 §1.1-§1.4).
fn server_option(slot: usize, addr: Ipv4Addr) -> Option<IpcpOption<'static>> {
    match slot {
        0 => Some(IpcpOption::PrimaryDns(addr)),
        1 => Some(IpcpOption::SecondaryDns(addr)),
        2 => Some(IpcpOption::PrimaryNbns(addr)),
        3 => Some(IpcpOption::SecondaryNbns(addr)),
        _ => None,
    }
}

/// The slot and address of a DNS/NBNS option.
fn server_slot(option: &IpcpOption<'_>) -> Option<(usize, Ipv4Addr)> {
    match *option {
        IpcpOption::PrimaryDns(a) => Some((0, a)),
        IpcpOption::SecondaryDns(a) => Some((1, a)),
        IpcpOption::PrimaryNbns(a) => Some((2, a)),
        IpcpOption::SecondaryNbns(a) => Some((3, a)),
        _ => None,
    }
}

/// The slot of a DNS/NBNS option type.
fn kind_slot(option_kind: u8) -> Option<usize> {
    match option_kind {
        kind::PRIMARY_DNS => Some(0),
        kind::SECONDARY_DNS => Some(1),
        kind::PRIMARY_NBNS => Some(2),
        kind::SECONDARY_NBNS => Some(3),
        _ => None,
    }
}

fn pool_exhausted() -> NegotiationFailure {
    NegotiationFailure::RequiredOptionRefused {
        option: kind::IP_ADDRESS,
        what: "no address left in the pool for the peer",
    }
}

impl IpcpPolicy {
    /// The server role: `user` is the authenticated peer, passed to `pool`.
    pub fn server(config: IpcpServerConfig, pool: Arc<dyn AddressPool>, user: &str) -> Self {
        Self::with_role(Role::Server {
            config,
            pool,
            user: user.to_owned(),
            granted: None,
        })
    }

    /// The client role.
    pub fn client(config: IpcpClientConfig) -> Self {
        Self::with_role(Role::Client { config })
    }

    fn with_role(role: Role) -> Self {
        let mut policy = Self {
            role,
            req_addr: None,
            req_servers: [None; 4],
            sent: Sent::default(),
            ours_acked: false,
            theirs_acked: None,
            addr_prompted: false,
        };
        policy.reset();
        policy
    }

    /// What was agreed: `Some` once the peer acked our request and we acked theirs.
    pub fn negotiated(&self) -> Option<IpcpNegotiated> {
        let theirs = self.theirs_acked?;
        if !self.ours_acked {
            return None;
        }
        match &self.role {
            Role::Server {
                config, granted, ..
            } => Some(IpcpNegotiated {
                local: config.local,
                peer: *granted,
                dns: [theirs.servers[0], theirs.servers[1]],
                nbns: [theirs.servers[2], theirs.servers[3]],
            }),
            Role::Client { config } => {
                let local = self.req_addr.or(config.address)?;
                let learned = self.req_servers.map(|s| s.filter(|a| !a.is_unspecified()));
                Some(IpcpNegotiated {
                    local,
                    peer: theirs.addr,
                    dns: [learned[0], learned[1]],
                    nbns: [learned[2], learned[3]],
                })
            }
        }
    }

    /// The address granted to the peer so far (server role).
    pub fn granted_address(&self) -> Option<Ipv4Addr> {
        match &self.role {
            Role::Server { granted, .. } => *granted,
            Role::Client { .. } => None,
        }
    }

    /// The server role's grant for the peer, asking the pool once (RFC 1332 §3.3).
    fn grant(&mut self, hint: Option<Ipv4Addr>) -> Result<Ipv4Addr, NegotiationFailure> {
        let Role::Server {
            config,
            pool,
            user,
            granted,
        } = &mut self.role
        else {
            return Err(NegotiationFailure::Malformed);
        };
        if let Some(addr) = *granted {
            return Ok(addr);
        }
        let hint = hint.filter(|h| !h.is_unspecified() && *h != config.local);
        let addr = pool.allocate(user, hint).ok_or_else(pool_exhausted)?;
        if addr.is_unspecified() || addr.is_broadcast() || addr == config.local {
            // A pool that hands out nonsense is treated as empty; give it back.
            pool.release(addr);
            return Err(pool_exhausted());
        }
        *granted = Some(addr);
        Ok(addr)
    }

    /// The DNS/NBNS server we hand out in `slot`, if any (server role only).
    fn server_for(&self, slot: usize) -> Option<Ipv4Addr> {
        match &self.role {
            Role::Server { config, .. } => match slot {
                0 | 1 => config.dns.get(slot).copied().flatten(),
                _ => config.nbns.get(slot - 2).copied().flatten(),
            },
            Role::Client { .. } => None,
        }
    }

    fn is_server(&self) -> bool {
        matches!(self.role, Role::Server { .. })
    }
}

impl Drop for IpcpPolicy {
    fn drop(&mut self) {
        if let Role::Server {
            pool,
            granted: Some(addr),
            ..
        } = &self.role
        {
            pool.release(*addr);
        }
    }
}

impl OptionPolicy for IpcpPolicy {
    fn name(&self) -> &'static str {
        "IPCP"
    }

    fn reset(&mut self) {
        match &self.role {
            Role::Server { config, .. } => {
                self.req_addr = Some(config.local);
                self.req_servers = [None; 4];
            }
            Role::Client { config } => {
                self.req_addr = Some(config.address.unwrap_or(Ipv4Addr::UNSPECIFIED));
                let dns = config.request_dns.then_some(Ipv4Addr::UNSPECIFIED);
                let nbns = config.request_nbns.then_some(Ipv4Addr::UNSPECIFIED);
                self.req_servers = [dns, dns, nbns, nbns];
            }
        }
        self.sent.clear();
        self.ours_acked = false;
        self.theirs_acked = None;
        self.addr_prompted = false;
    }

    fn build_request(&mut self, out: &mut Vec<u8>) {
        let start = out.len();
        if let Some(addr) = self.req_addr {
            push(out, &IpcpOption::IpAddress(addr));
        }
        for (slot, value) in self.req_servers.iter().enumerate() {
            if let Some(option) = value.and_then(|addr| server_option(slot, addr)) {
                push(out, &option);
            }
        }
        self.sent.record(out.get(start..).unwrap_or_default());
        self.ours_acked = false;
    }

    fn check_request(
        &mut self,
        list: &[u8],
        reply: &mut Reply,
        nak_exhausted: bool,
    ) -> Result<RequestVerdict, NegotiationFailure> {
        let opts = typed::<IpcpOption<'_>>(list)?;
        self.theirs_acked = None;
        let mut judge = Judge::new(reply, nak_exhausted);
        let mut seen = PeerRequest::default();
        let mut saw_addr = false;
        for (raw, option) in opts {
            let option = match option {
                Ok(option) => option,
                // A known option with a malformed value (RFC 1661 §5.4).
                Err(_) => {
                    judge.reject(&raw);
                    continue;
                }
            };
            if let IpcpOption::IpAddress(addr) = option {
                saw_addr = true;
                if self.is_server() {
                    // RFC 1332 §3.3: 0.0.0.0 asks us for an address; any address other than
                    // the one granted gets the granted one back in a Nak.
                    let granted = self.grant(Some(addr))?;
                    if addr == granted {
                        seen.addr = Some(addr);
                    } else {
                        judge.nak(&raw, &IpcpOption::IpAddress(granted));
                    }
                } else if addr.is_unspecified() {
                    // The server asks us to assign it an address: a client has none.
                    judge.reject(&raw);
                } else {
                    seen.addr = Some(addr);
                }
            } else if let Some((slot, asked)) = server_slot(&option) {
                // RFC 1877 §1: 0.0.0.0 (or a wrong address) asks for the server's; we Nak
                // with the configured one, or reject when none is configured.
                match self.server_for(slot) {
                    Some(ours) if asked == ours => {
                        if let Some(s) = seen.servers.get_mut(slot) {
                            *s = Some(ours);
                        }
                    }
                    Some(ours) => {
                        if let Some(instead) = server_option(slot, ours) {
                            judge.nak(&raw, &instead);
                        }
                    }
                    None => judge.reject(&raw),
                }
            } else {
                // IP-Addresses (§3.1, deprecated), IP-Compression-Protocol (§3.2, no VJ
                // here) and unknown options.
                judge.reject(&raw);
            }
        }
        if self.is_server() {
            // The server always needs an address for the peer, asked for or not.
            let granted = self.grant(None)?;
            if !saw_addr && !self.addr_prompted && judge.nak_append(&IpcpOption::IpAddress(granted))
            {
                self.addr_prompted = true;
            }
        }
        if judge.all_acked() {
            self.theirs_acked = Some(seen);
        }
        Ok(reply.verdict())
    }

    fn on_ack(&mut self, list: &[u8]) -> Result<(), NegotiationFailure> {
        self.sent.check_ack(list)?;
        if !self.is_server() && self.req_addr.is_some_and(|a| a.is_unspecified()) {
            // Acking 0.0.0.0 leaves us without an address: not an answer we can use.
            return Err(NegotiationFailure::Malformed);
        }
        self.ours_acked = true;
        Ok(())
    }

    fn on_nak(&mut self, list: &[u8]) -> Result<(), NegotiationFailure> {
        let server = self.is_server();
        for (raw, option) in typed::<IpcpOption<'_>>(list)? {
            let option = match option {
                Ok(option) => option,
                Err(_) if raw.kind() == kind::IP_ADDRESS || kind_slot(raw.kind()).is_some() => {
                    return Err(NegotiationFailure::Malformed);
                }
                // Suggestions for options we do not negotiate (RFC 1661 §5.3).
                Err(_) => continue,
            };
            if server {
                // The server role is authoritative for its own address and servers.
                continue;
            }
            match option {
                IpcpOption::IpAddress(addr) if !addr.is_unspecified() => {
                    if self.req_addr.is_some() {
                        self.req_addr = Some(addr);
                    }
                }
                other => {
                    if let Some((slot, addr)) = server_slot(&other)
                        && !addr.is_unspecified()
                        && let Some(value) = self.req_servers.get_mut(slot)
                        && value.is_some()
                    {
                        *value = Some(addr);
                    }
                }
            }
        }
        Ok(())
    }

    fn on_reject(&mut self, list: &[u8]) -> Result<(), NegotiationFailure> {
        for rejected in self.sent.check_reject(list)? {
            if rejected == kind::IP_ADDRESS {
                let needs_assignment = match &self.role {
                    Role::Client { config } => config.address.is_none(),
                    Role::Server { .. } => false,
                };
                if needs_assignment {
                    return Err(NegotiationFailure::RequiredOptionRefused {
                        option: kind::IP_ADDRESS,
                        what: "IP address assignment",
                    });
                }
                self.req_addr = None;
            } else if let Some(value) =
                kind_slot(rejected).and_then(|s| self.req_servers.get_mut(s))
            {
                *value = None;
            }
        }
        Ok(())
    }
}
