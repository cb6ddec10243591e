//! IPv6 per session: a /64 carved from a configured prefix, announced by Router
//! Advertisement over the PPP link once IPV6CP is open (RFC 5072 §5 leaves address
//! configuration to Neighbor Discovery; RFC 4861 §6.2 is the router side).
//!
//! - [`Ipv6Prefix`] and [`PrefixPool`]: a /48 (say) split into /64s, one per session.
//! - [`RouterAdvert`]: an RA (RFC 4861 §4.2) with a Prefix Information option (§4.6.2;
//!   on-link, autonomous), an MTU option (§4.6.4) and RDNSS (RFC 8106 §5.1), emitted as a
//!   whole IPv6 packet from `fe80::<our interface id>` to `ff02::1` with hop limit 255 and
//!   the ICMPv6 checksum over the pseudo-header (RFC 4443 §2.3, RFC 8200 §8.1).
//! - [`parse_router_solicitation`]: recognises a valid Router Solicitation from the client
//!   (RFC 4861 §6.1.1), which is answered with an RA.
//! - [`RaSchedule`]: when to send (RFC 4861 §6.2.4 initial burst, §6.2.6 rate limit),
//!   sans-IO: time is a parameter.
//! - The host side, for dial-out sessions: [`RouterSolicitation::emit`] and [`RsSchedule`]
//!   (RFC 4861 §6.3.7) ask for an RA, which [`RouterAdvert::parse`] reads.
//!
//! Everything here is a pure function of its arguments and never panics on input.

use core::fmt;
use core::net::Ipv6Addr;
use core::str::FromStr;
use std::collections::HashSet;
use std::time::{Duration, Instant};

use crate::ip;

/// ICMPv6 type Router Solicitation (RFC 4861 §4.1).
pub const TYPE_ROUTER_SOLICITATION: u8 = 133;
/// ICMPv6 type Router Advertisement (RFC 4861 §4.2).
pub const TYPE_ROUTER_ADVERTISEMENT: u8 = 134;
/// The hop limit every Neighbor Discovery message carries (RFC 4861 §4.1, §4.2).
pub const ND_HOP_LIMIT: u8 = 255;

const OPT_SOURCE_LL: u8 = 1;
const OPT_PREFIX_INFO: u8 = 3;
const OPT_MTU: u8 = 5;
const OPT_RDNSS: u8 = 25;
const RA_FIXED: usize = 16;
const PIO_LEN: usize = 32;
const MTU_LEN: usize = 8;

/// The all-nodes multicast address `ff02::1` (RFC 4291 §2.7.1).
pub const ALL_NODES: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 1);

/// The link-local address `fe80::<iid>` (RFC 4291 §2.5.6) for an interface identifier
/// negotiated by IPV6CP (RFC 5072 §4.1).
pub fn link_local(iid: u64) -> Ipv6Addr {
    Ipv6Addr::from_bits((0xfe80u128 << 112) | u128::from(iid))
}

/// An IPv6 prefix, such as the `2001:db8:100::/48` sessions get their /64s from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Ipv6Prefix {
    addr: Ipv6Addr,
    len: u8,
}

/// A prefix that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PrefixError {
    /// Not `addr/len` with `len` at most 128.
    Syntax(String),
    /// Longer than /64: there is no /64 to carve from it.
    TooLong(u8),
}

impl fmt::Display for PrefixError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Syntax(s) => write!(f, "bad IPv6 prefix {s:?}: expected addr/len"),
            Self::TooLong(l) => write!(f, "prefix length /{l} is longer than /64"),
        }
    }
}

impl std::error::Error for PrefixError {}

impl Ipv6Prefix {
    /// `addr/len` with the host bits cleared; `None` if `len > 128`.
    pub fn new(addr: Ipv6Addr, len: u8) -> Option<Self> {
        if len > 128 {
            return None;
        }
        let mask = u128::MAX.checked_shl(128 - u32::from(len)).unwrap_or(0);
        Some(Self {
            addr: Ipv6Addr::from_bits(addr.to_bits() & mask),
            len,
        })
    }

    /// The network address.
    pub fn addr(&self) -> Ipv6Addr {
        self.addr
    }

    /// The prefix length.
    pub fn len(&self) -> u8 {
        self.len
    }

    /// Whether this is `::/0`.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Number of /64s inside (saturating at `u64::MAX` for a /0); 0 if longer than /64.
    pub fn count64(&self) -> u64 {
        match self.len {
            0 => u64::MAX,
            1..=64 => 1u64 << (64 - self.len),
            _ => 0,
        }
    }

    /// The `index`th /64 inside the prefix (its network address), or `None` past the end.
    pub fn subnet64(&self, index: u64) -> Option<Ipv6Addr> {
        if self.len > 64 || (self.len > 0 && index >= self.count64()) {
            return None;
        }
        Some(Ipv6Addr::from_bits(
            self.addr.to_bits() | (u128::from(index) << 64),
        ))
    }

    /// Whether `addr` lies in the prefix.
    pub fn contains(&self, addr: Ipv6Addr) -> bool {
        let mask = u128::MAX
            .checked_shl(128 - u32::from(self.len))
            .unwrap_or(0);
        addr.to_bits() & mask == self.addr.to_bits()
    }
}

impl fmt::Display for Ipv6Prefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.len)
    }
}

impl FromStr for Ipv6Prefix {
    type Err = PrefixError;

    fn from_str(s: &str) -> Result<Self, PrefixError> {
        let bad = || PrefixError::Syntax(s.to_owned());
        let (a, l) = s.trim().split_once('/').ok_or_else(bad)?;
        let addr: Ipv6Addr = a.parse().map_err(|_| bad())?;
        let len: u8 = l.parse().map_err(|_| bad())?;
        Self::new(addr, len).ok_or_else(bad)
    }
}

/// Hands out the /64s of a prefix, one per session: fresh ones in order, then released
/// ones (oldest first is not promised).
#[derive(Debug)]
pub struct PrefixPool {
    prefix: Ipv6Prefix,
    next_fresh: u64,
    released: Vec<u64>,
    in_use: HashSet<u64>,
}

impl PrefixPool {
    /// A pool of the /64s of `prefix`, which must be /64 or shorter. The all-zero /64 is
    /// skipped (it is the one a router usually numbers its own LAN or loopback from).
    pub fn new(prefix: Ipv6Prefix) -> Result<Self, PrefixError> {
        if prefix.len() > 64 {
            return Err(PrefixError::TooLong(prefix.len()));
        }
        Ok(Self {
            prefix,
            next_fresh: u64::from(prefix.len() < 64),
            released: Vec::new(),
            in_use: HashSet::new(),
        })
    }

    /// The configured prefix.
    pub fn prefix(&self) -> Ipv6Prefix {
        self.prefix
    }

    /// A /64 for a new session (its network address); `None` when all are in use.
    pub fn allocate(&mut self) -> Option<Ipv6Addr> {
        let index = match self.released.pop() {
            Some(i) => i,
            None => {
                let i = self.next_fresh;
                self.prefix.subnet64(i)?;
                self.next_fresh = i.checked_add(1)?;
                i
            }
        };
        self.in_use.insert(index);
        self.prefix.subnet64(index)
    }

    /// Gives a /64 back; `false` (and nothing happens) if it was not allocated.
    pub fn release(&mut self, subnet: Ipv6Addr) -> bool {
        if !self.prefix.contains(subnet) {
            return false;
        }
        let index = ((subnet.to_bits() - self.prefix.addr().to_bits()) >> 64) as u64;
        if self.in_use.remove(&index) {
            self.released.push(index);
            true
        } else {
            false
        }
    }

    /// Number of /64s allocated.
    pub fn in_use(&self) -> usize {
        self.in_use.len()
    }
}

/// The Prefix Information option of an RA (RFC 4861 §4.6.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PrefixInfo {
    /// The prefix (host bits zero).
    pub prefix: Ipv6Addr,
    /// Its length; 64 for SLAAC (RFC 4862 §5.5.3 with RFC 4291's 64-bit identifiers).
    pub prefix_len: u8,
    /// L flag: the prefix is on-link.
    pub on_link: bool,
    /// A flag: hosts may form addresses from it (SLAAC).
    pub autonomous: bool,
    /// Valid lifetime in seconds (`u32::MAX` = infinity).
    pub valid_lifetime: u32,
    /// Preferred lifetime in seconds; at most the valid lifetime.
    pub preferred_lifetime: u32,
}

/// A Router Advertisement (RFC 4861 §4.2) with the options a session's client needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RouterAdvert {
    /// Cur Hop Limit advised to the host (0 = unspecified).
    pub hop_limit: u8,
    /// M flag: addresses via DHCPv6.
    pub managed: bool,
    /// O flag: other configuration via DHCPv6.
    pub other: bool,
    /// Router Lifetime in seconds; non-zero makes us the client's default router.
    pub router_lifetime: u16,
    /// Reachable Time in milliseconds (0 = unspecified).
    pub reachable_time: u32,
    /// Retrans Timer in milliseconds (0 = unspecified).
    pub retrans_timer: u32,
    /// The session's /64.
    pub prefix: Option<PrefixInfo>,
    /// The link MTU (RFC 4861 §4.6.4), i.e. the session MTU.
    pub mtu: Option<u32>,
    /// Recursive DNS servers (RFC 8106 §5.1), up to two.
    pub dns: [Option<Ipv6Addr>; 2],
    /// Their lifetime in seconds.
    pub dns_lifetime: u32,
}

/// Why an RA could not be parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NdError {
    /// The buffer is too short for what it claims.
    Truncated,
    /// Not an ICMPv6 Router Advertisement in a bare IPv6 header.
    NotRouterAdvert,
    /// Hop limit other than 255 (RFC 4861 §6.1.2: it may have been forwarded).
    HopLimit,
    /// ICMPv6 checksum mismatch (RFC 4443 §2.3).
    Checksum,
    /// An option with length 0 or running past the end (RFC 4861 §4.6).
    BadOption,
    /// The output buffer is too small.
    BufferTooSmall,
}

impl RouterAdvert {
    /// An RA announcing `subnet64` to one session: on-link and autonomous, with the
    /// default lifetimes of RFC 4861 §6.2.1 (router 1800 s, prefix valid 30 days, preferred
    /// 7 days) and the session `mtu` if given.
    pub fn for_session(subnet64: Ipv6Addr, mtu: Option<u32>) -> Self {
        Self {
            hop_limit: 64,
            managed: false,
            other: false,
            router_lifetime: 1800,
            reachable_time: 0,
            retrans_timer: 0,
            prefix: Some(PrefixInfo {
                prefix: subnet64,
                prefix_len: 64,
                on_link: true,
                autonomous: true,
                valid_lifetime: 2_592_000,
                preferred_lifetime: 604_800,
            }),
            mtu,
            dns: [None, None],
            dns_lifetime: 0,
        }
    }

    fn dns_count(&self) -> usize {
        self.dns.iter().flatten().count()
    }

    /// Length of the ICMPv6 message (header and options).
    pub fn icmp_len(&self) -> usize {
        let dns = self.dns_count();
        RA_FIXED
            + if self.prefix.is_some() { PIO_LEN } else { 0 }
            + if self.mtu.is_some() { MTU_LEN } else { 0 }
            + if dns > 0 { 8 + 16 * dns } else { 0 }
    }

    /// Length of the whole IPv6 packet [`emit`](Self::emit) writes.
    pub fn buffer_len(&self) -> usize {
        ip::IPV6_HEADER + self.icmp_len()
    }

    /// Writes the RA as an IPv6 packet from `src` (our link-local address, see
    /// [`link_local`]) to `dst` ([`ALL_NODES`], or the soliciting client) into `buf`;
    /// returns the packet length.
    pub fn emit(&self, buf: &mut [u8], src: Ipv6Addr, dst: Ipv6Addr) -> Result<usize, NdError> {
        let total = self.buffer_len();
        let icmp_len = self.icmp_len();
        let out = buf.get_mut(..total).ok_or(NdError::BufferTooSmall)?;
        out.fill(0);
        let (header, icmp) = out.split_at_mut(ip::IPV6_HEADER);
        write_ipv6_header(header, icmp_len, src, dst);

        let flags = if self.managed { 0x80 } else { 0 } | if self.other { 0x40 } else { 0 };
        let mut w = Writer::new(icmp);
        w.put(&[TYPE_ROUTER_ADVERTISEMENT, 0, 0, 0, self.hop_limit, flags]);
        w.put(&self.router_lifetime.to_be_bytes());
        w.put(&self.reachable_time.to_be_bytes());
        w.put(&self.retrans_timer.to_be_bytes());
        if let Some(p) = &self.prefix {
            let pflags = if p.on_link { 0x80 } else { 0 } | if p.autonomous { 0x40 } else { 0 };
            w.put(&[OPT_PREFIX_INFO, 4, p.prefix_len, pflags]);
            w.put(&p.valid_lifetime.to_be_bytes());
            w.put(&p.preferred_lifetime.to_be_bytes());
            w.put(&[0; 4]);
            w.put(&p.prefix.octets());
        }
        if let Some(mtu) = self.mtu {
            w.put(&[OPT_MTU, 1, 0, 0]);
            w.put(&mtu.to_be_bytes());
        }
        let dns = self.dns_count();
        if dns > 0 {
            // Length in units of 8 octets: 1 + 2 per address (RFC 8106 §5.1).
            w.put(&[OPT_RDNSS, (1 + 2 * dns) as u8, 0, 0]);
            w.put(&self.dns_lifetime.to_be_bytes());
            for a in self.dns.iter().flatten() {
                w.put(&a.octets());
            }
        }
        if !w.ok || w.at != icmp_len {
            return Err(NdError::BufferTooSmall);
        }
        let checksum = icmpv6_checksum(&src, &dst, icmp);
        icmp.get_mut(2..4)
            .ok_or(NdError::BufferTooSmall)?
            .copy_from_slice(&checksum.to_be_bytes());
        Ok(total)
    }

    /// Parses an RA packet (IPv6 header included) as a host would accept it
    /// (RFC 4861 §6.1.2): hop limit 255, valid checksum, well-formed options. Returns the
    /// source address and the RA; unknown options are skipped, the first Prefix
    /// Information option is kept.
    pub fn parse(packet: &[u8]) -> Result<(Ipv6Addr, Self), NdError> {
        let (src, icmp) = nd_message(packet, TYPE_ROUTER_ADVERTISEMENT)?;
        let fixed = icmp.get(..RA_FIXED).ok_or(NdError::Truncated)?;
        let be32 = |at: usize| ip::array::<4>(fixed, at).map(u32::from_be_bytes);
        let mut ra = Self {
            hop_limit: fixed.get(4).copied().ok_or(NdError::Truncated)?,
            managed: fixed.get(5).is_some_and(|f| f & 0x80 != 0),
            other: fixed.get(5).is_some_and(|f| f & 0x40 != 0),
            router_lifetime: ip::be16(fixed, 6).ok_or(NdError::Truncated)?,
            reachable_time: be32(8).ok_or(NdError::Truncated)?,
            retrans_timer: be32(12).ok_or(NdError::Truncated)?,
            prefix: None,
            mtu: None,
            dns: [None, None],
            dns_lifetime: 0,
        };
        for (kind, body) in options(icmp.get(RA_FIXED..).unwrap_or_default())? {
            match kind {
                OPT_PREFIX_INFO if ra.prefix.is_none() && body.len() == PIO_LEN => {
                    let be32 = |at: usize| ip::array::<4>(body, at).map(u32::from_be_bytes);
                    let flags = body.get(3).copied().unwrap_or(0);
                    ra.prefix = Some(PrefixInfo {
                        prefix_len: body.get(2).copied().unwrap_or(0),
                        on_link: flags & 0x80 != 0,
                        autonomous: flags & 0x40 != 0,
                        valid_lifetime: be32(4).ok_or(NdError::Truncated)?,
                        preferred_lifetime: be32(8).ok_or(NdError::Truncated)?,
                        prefix: ip::array::<16>(body, 16)
                            .map(Ipv6Addr::from)
                            .ok_or(NdError::Truncated)?,
                    });
                }
                OPT_MTU if body.len() == MTU_LEN => {
                    ra.mtu = ip::array::<4>(body, 4).map(u32::from_be_bytes);
                }
                OPT_RDNSS if body.len() >= 24 => {
                    ra.dns_lifetime = ip::array::<4>(body, 4).map_or(0, u32::from_be_bytes);
                    for (slot, chunk) in ra
                        .dns
                        .iter_mut()
                        .zip(body.get(8..).unwrap_or_default().chunks_exact(16))
                    {
                        *slot = ip::array::<16>(chunk, 0).map(Ipv6Addr::from);
                    }
                }
                _ => {}
            }
        }
        Ok((src, ra))
    }
}

/// A valid Router Solicitation from the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RouterSolicitation {
    /// Its source: the client's link-local address, or `::` before it has one.
    pub source: Ipv6Addr,
}

/// Recognises a Router Solicitation (RFC 4861 §4.1) that passes the validity checks of
/// §6.1.1: ICMPv6 in a bare IPv6 header, hop limit 255, code 0, valid checksum, ICMP length
/// at least 8, every option of non-zero length, and no Source Link-Layer Address option if
/// the source is unspecified. `None` for anything else (the packet then goes through the
/// normal path, where anti-spoofing drops link-local sources).
pub fn parse_router_solicitation(packet: &[u8]) -> Option<RouterSolicitation> {
    let (source, icmp) = nd_message(packet, TYPE_ROUTER_SOLICITATION).ok()?;
    let opts = options(icmp.get(8..)?).ok()?;
    if source.is_unspecified() && opts.into_iter().any(|(k, _)| k == OPT_SOURCE_LL) {
        return None;
    }
    Some(RouterSolicitation { source })
}

/// The source address and ICMPv6 message of an ND message of type `kind` in `packet`, after
/// the header, hop limit, code and checksum checks.
fn nd_message(packet: &[u8], kind: u8) -> Result<(Ipv6Addr, &[u8]), NdError> {
    if ip::version(packet) != Ok(ip::IpVersion::V6) {
        return Err(NdError::NotRouterAdvert);
    }
    let payload_len = usize::from(ip::be16(packet, 4).ok_or(NdError::Truncated)?);
    let next = packet.get(6).copied().ok_or(NdError::Truncated)?;
    let hop_limit = packet.get(7).copied().ok_or(NdError::Truncated)?;
    let src = ip::ipv6_source(packet).ok_or(NdError::Truncated)?;
    let dst = ip::ipv6_destination(packet).ok_or(NdError::Truncated)?;
    let icmp = packet
        .get(ip::IPV6_HEADER..ip::IPV6_HEADER + payload_len)
        .ok_or(NdError::Truncated)?;
    if next != ip::PROTO_ICMPV6 || icmp.first() != Some(&kind) {
        return Err(NdError::NotRouterAdvert);
    }
    if icmp.get(1) != Some(&0) || icmp.len() < 8 {
        return Err(NdError::NotRouterAdvert);
    }
    if hop_limit != ND_HOP_LIMIT {
        return Err(NdError::HopLimit);
    }
    if icmpv6_checksum(&src, &dst, icmp) != 0 {
        return Err(NdError::Checksum);
    }
    Ok((src, icmp))
}

/// Splits ND options (RFC 4861 §4.6: type, length in units of 8 octets). An option of
/// length zero or past the end makes the whole message invalid. At most 16 options are
/// looked at; a longer list is cut there.
fn options(mut data: &[u8]) -> Result<OptionList<'_>, NdError> {
    let mut list = OptionList::default();
    while !data.is_empty() {
        let kind = data.first().copied().ok_or(NdError::BadOption)?;
        let units = usize::from(data.get(1).copied().ok_or(NdError::BadOption)?);
        if units == 0 {
            return Err(NdError::BadOption);
        }
        let (opt, rest) = data.split_at_checked(units * 8).ok_or(NdError::BadOption)?;
        list.push(kind, opt);
        data = rest;
    }
    Ok(list)
}

#[derive(Default)]
struct OptionList<'a> {
    items: [(u8, &'a [u8]); 16],
    len: usize,
}

impl<'a> OptionList<'a> {
    fn push(&mut self, kind: u8, body: &'a [u8]) {
        if let Some(slot) = self.items.get_mut(self.len) {
            *slot = (kind, body);
            self.len += 1;
        }
    }
}

impl<'a> IntoIterator for OptionList<'a> {
    type Item = (u8, &'a [u8]);
    type IntoIter = core::iter::Take<core::array::IntoIter<(u8, &'a [u8]), 16>>;

    fn into_iter(self) -> Self::IntoIter {
        self.items.into_iter().take(self.len)
    }
}

/// The ICMPv6 checksum field value for `icmp` (checksum field as it is: zero when
/// computing, the sent value when verifying, where 0 then means valid) over the IPv6
/// pseudo-header (RFC 4443 §2.3, RFC 8200 §8.1).
pub fn icmpv6_checksum(src: &Ipv6Addr, dst: &Ipv6Addr, icmp: &[u8]) -> u16 {
    // ICMPv6 messages here are far below 4 GiB.
    let pseudo = ip::ipv6_pseudo_sum(src, dst, icmp.len() as u32, ip::PROTO_ICMPV6);
    ip::finish(ip::add(pseudo, ip::sum(icmp)))
}

fn write_ipv6_header(h: &mut [u8], payload_len: usize, src: Ipv6Addr, dst: Ipv6Addr) {
    let mut w = Writer::new(h);
    w.put(&[0x60, 0, 0, 0]);
    // RA payloads are a few hundred octets at most.
    w.put(&(payload_len as u16).to_be_bytes());
    w.put(&[ip::PROTO_ICMPV6, ND_HOP_LIMIT]);
    w.put(&src.octets());
    w.put(&dst.octets());
}

/// Sequential writer that records, rather than panics on, running out of room.
struct Writer<'a> {
    buf: &'a mut [u8],
    at: usize,
    ok: bool,
}

impl<'a> Writer<'a> {
    fn new(buf: &'a mut [u8]) -> Self {
        Self {
            buf,
            at: 0,
            ok: true,
        }
    }

    fn put(&mut self, bytes: &[u8]) {
        match self.buf.get_mut(self.at..self.at + bytes.len()) {
            Some(dst) => {
                dst.copy_from_slice(bytes);
                self.at += bytes.len();
            }
            None => self.ok = false,
        }
    }
}

impl RouterSolicitation {
    /// Length of the packet [`emit`](Self::emit) writes: the IPv6 header and an RS without
    /// options.
    pub const BUFFER_LEN: usize = ip::IPV6_HEADER + 8;

    /// Writes a Router Solicitation (RFC 4861 §4.1) as a host sends it over PPP: from
    /// [`source`](Self::source) (the link-local address from the interface identifier
    /// IPV6CP negotiated, see [`link_local`]) to [`ALL_ROUTERS`], hop limit 255, without the
    /// Source Link-Layer Address option (a PPP link has no link-layer address); returns the
    /// packet length.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize, NdError> {
        let out = buf
            .get_mut(..Self::BUFFER_LEN)
            .ok_or(NdError::BufferTooSmall)?;
        out.fill(0);
        let (header, icmp) = out.split_at_mut(ip::IPV6_HEADER);
        write_ipv6_header(header, icmp.len(), self.source, ALL_ROUTERS);
        // Type, code, checksum, 4 reserved octets (RFC 4861 §4.1).
        icmp[0] = TYPE_ROUTER_SOLICITATION;
        let checksum = icmpv6_checksum(&self.source, &ALL_ROUTERS, icmp);
        icmp.get_mut(2..4)
            .ok_or(NdError::BufferTooSmall)?
            .copy_from_slice(&checksum.to_be_bytes());
        Ok(Self::BUFFER_LEN)
    }
}

/// The all-routers multicast address `ff02::2` (RFC 4291 §2.7.1), where hosts send Router
/// Solicitations.
pub const ALL_ROUTERS: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 2);

/// RFC 4861 §10: MAX_RTR_SOLICITATIONS.
pub const MAX_RTR_SOLICITATIONS: u8 = 3;
/// RFC 4861 §10: RTR_SOLICITATION_INTERVAL.
pub const RTR_SOLICITATION_INTERVAL: Duration = Duration::from_secs(4);

/// When a host (a dial-out session) sends Router Solicitations (RFC 4861 §6.3.7), sans-IO
/// like [`RaSchedule`]: [`start`](Self::start) when IPV6CP opens, then at
/// [`poll_timeout`](Self::poll_timeout) ask [`poll_send`](Self::poll_send);
/// [`advertised`](Self::advertised) once a valid RA arrived. At most
/// [`MAX_RTR_SOLICITATIONS`], [`RTR_SOLICITATION_INTERVAL`] apart.
///
/// The random delay before the first one (§6.3.7, up to 1 s) spreads the solicitations of
/// many hosts coming up on one link at once; a PPP link has one host, so it goes out at once.
#[derive(Debug, Clone, Default)]
pub struct RsSchedule {
    next: Option<Instant>,
    left: u8,
}

impl RsSchedule {
    /// IPV6CP opened: the first RS is due now.
    pub fn start(&mut self, now: Instant) {
        self.next = Some(now);
        self.left = MAX_RTR_SOLICITATIONS;
    }

    /// A valid RA arrived (or the session went down): no more solicitations.
    pub fn advertised(&mut self) {
        self.next = None;
        self.left = 0;
    }

    /// When [`poll_send`](Self::poll_send) should next be called.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.next
    }

    /// Whether an RS is due at `now`; if so it counts as sent.
    pub fn poll_send(&mut self, now: Instant) -> bool {
        match self.next {
            Some(due) if due <= now && self.left > 0 => {
                self.left -= 1;
                self.next = (self.left > 0).then(|| now + RTR_SOLICITATION_INTERVAL);
                true
            }
            _ => false,
        }
    }
}

/// RFC 4861 §10: MAX_INITIAL_RTR_ADVERTISEMENTS.
pub const MAX_INITIAL_RTR_ADVERTISEMENTS: u8 = 3;
/// RFC 4861 §10: MAX_INITIAL_RTR_ADVERT_INTERVAL.
pub const MAX_INITIAL_RTR_ADVERT_INTERVAL: Duration = Duration::from_secs(16);
/// RFC 4861 §10: MIN_DELAY_BETWEEN_RAS.
pub const MIN_DELAY_BETWEEN_RAS: Duration = Duration::from_secs(3);

/// When to send RAs on one session (RFC 4861 §6.2.4, §6.2.6), sans-IO in the quinn style:
/// [`start`](Self::start) when IPV6CP opens, [`on_solicitation`](Self::on_solicitation) for
/// each valid RS, and at [`poll_timeout`](Self::poll_timeout) call
/// [`poll_send`](Self::poll_send), which says whether to send one now.
///
/// The random delay before answering an RS (§6.2.6, up to 0.5 s) exists to spread the
/// answers of several routers to several hosts on a shared link; a PPP link has one host
/// and one router, so the answer goes out at once, rate-limited to one per 3 s.
#[derive(Debug, Clone)]
pub struct RaSchedule {
    min_interval: Duration,
    max_interval: Duration,
    next: Option<Instant>,
    last_sent: Option<Instant>,
    initial_left: u8,
}

impl RaSchedule {
    /// Unsolicited RAs every `min_interval..=max_interval` (uniformly random). The bounds of
    /// RFC 4861 §6.2.1 are enforced: max in 4..=1800 s, min in 3 s..=0.75 max.
    pub fn new(min_interval: Duration, max_interval: Duration) -> Self {
        let max_interval = max_interval.clamp(Duration::from_secs(4), Duration::from_secs(1800));
        let min_interval = min_interval.clamp(Duration::from_secs(3), max_interval.mul_f64(0.75));
        Self {
            min_interval,
            max_interval,
            next: None,
            last_sent: None,
            initial_left: 0,
        }
    }

    /// The defaults of RFC 4861 §6.2.1: MaxRtrAdvInterval 600 s, MinRtrAdvInterval 200 s.
    pub fn rfc_defaults() -> Self {
        Self::new(Duration::from_secs(200), Duration::from_secs(600))
    }

    /// IPV6CP opened: the first RA is due now, followed by the initial burst.
    pub fn start(&mut self, now: Instant) {
        self.initial_left = MAX_INITIAL_RTR_ADVERTISEMENTS;
        self.next = Some(now);
    }

    /// The session went down: nothing more is due.
    pub fn stop(&mut self) {
        self.next = None;
        self.initial_left = 0;
    }

    /// A valid RS arrived: answer now, or as soon as 3 s passed since the last RA.
    pub fn on_solicitation(&mut self, now: Instant) {
        let earliest = self
            .last_sent
            .map_or(now, |t| (t + MIN_DELAY_BETWEEN_RAS).max(now));
        self.next = Some(self.next.map_or(earliest, |n| n.min(earliest)));
    }

    /// When [`poll_send`](Self::poll_send) should next be called.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.next
    }

    /// Whether an RA is due at `now`; if so it counts as sent and the next one is scheduled
    /// using `random` (any value from the caller's random source) for the jitter.
    pub fn poll_send(&mut self, now: Instant, random: u32) -> bool {
        match self.next {
            Some(due) if due <= now => {}
            _ => return false,
        }
        self.last_sent = Some(now);
        let spread = self.max_interval.saturating_sub(self.min_interval);
        let mut interval =
            self.min_interval + spread.mul_f64(f64::from(random) / f64::from(u32::MAX));
        if self.initial_left > 0 {
            self.initial_left -= 1;
            if self.initial_left > 0 {
                interval = interval.min(MAX_INITIAL_RTR_ADVERT_INTERVAL);
            }
        }
        self.next = Some(now + interval);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v6(s: &str) -> Ipv6Addr {
        s.parse().unwrap()
    }

    /// An independent one's complement sum: the pseudo-header laid out byte by byte as in
    /// RFC 8200 §8.1 (source, destination, 32-bit length, three zero octets, next header),
    /// then the message, summed as 16-bit words in a u64 and folded at the end.
    fn verify_checksum(packet: &[u8]) -> bool {
        let len = u16::from_be_bytes([packet[4], packet[5]]) as usize;
        let mut pseudo = Vec::new();
        pseudo.extend_from_slice(&packet[8..40]);
        pseudo.extend_from_slice(&(len as u32).to_be_bytes());
        pseudo.extend_from_slice(&[0, 0, 0, packet[6]]);
        pseudo.extend_from_slice(&packet[40..40 + len]);
        if pseudo.len() % 2 == 1 {
            pseudo.push(0);
        }
        let mut total: u64 = pseudo
            .chunks(2)
            .map(|w| (u64::from(w[0]) << 8) | u64::from(w[1]))
            .sum();
        while total >> 16 != 0 {
            total = (total & 0xffff) + (total >> 16);
        }
        total == 0xffff
    }

    #[test]
    fn carves_a_64_per_session_from_a_48() {
        let p: Ipv6Prefix = "2001:db8:100::/48".parse().unwrap();
        assert_eq!(p.count64(), 65536);
        assert_eq!(p.subnet64(0), Some(v6("2001:db8:100::")));
        assert_eq!(p.subnet64(5), Some(v6("2001:db8:100:5::")));
        assert_eq!(p.subnet64(0xffff), Some(v6("2001:db8:100:ffff::")));
        assert_eq!(p.subnet64(0x10000), None);
        assert!(p.contains(v6("2001:db8:100:ab::1")));
        assert!(!p.contains(v6("2001:db8:101::1")));
        // Host bits are cleared.
        let q: Ipv6Prefix = "2001:db8:100:1::7/48".parse().unwrap();
        assert_eq!(q, p);
        assert_eq!(q.to_string(), "2001:db8:100::/48");
        assert!("2001:db8::/129".parse::<Ipv6Prefix>().is_err());
        assert!("2001:db8::".parse::<Ipv6Prefix>().is_err());
    }

    #[test]
    fn prefix_pool_allocates_releases_and_exhausts() {
        let mut pool = PrefixPool::new("2001:db8:7::/62".parse().unwrap()).unwrap();
        let got: Vec<_> = (0..3).map(|_| pool.allocate().unwrap()).collect();
        // The all-zero /64 is skipped.
        assert_eq!(
            got,
            [
                v6("2001:db8:7:1::"),
                v6("2001:db8:7:2::"),
                v6("2001:db8:7:3::")
            ]
        );
        assert_eq!(pool.allocate(), None);
        assert!(pool.release(v6("2001:db8:7:2::")));
        assert!(!pool.release(v6("2001:db8:7:2::")), "double release");
        assert!(!pool.release(v6("2001:db8:8::")), "outside the prefix");
        assert_eq!(pool.allocate(), Some(v6("2001:db8:7:2::")));
        assert_eq!(pool.in_use(), 3);
        assert!(PrefixPool::new("2001:db8::/80".parse().unwrap()).is_err());
        // A /64 prefix is a pool of exactly one.
        let mut one = PrefixPool::new("2001:db8:9:9::/64".parse().unwrap()).unwrap();
        assert_eq!(one.allocate(), Some(v6("2001:db8:9:9::")));
        assert_eq!(one.allocate(), None);
    }

    #[test]
    fn router_advert_layout_rfc4861_4_2() {
        let iid = 0x0200_5eff_fe00_0001;
        let mut ra = RouterAdvert::for_session(v6("2001:db8:100:5::"), Some(1400));
        ra.dns = [Some(v6("2001:db8::53")), None];
        ra.dns_lifetime = 600;
        let mut buf = [0u8; 256];
        let n = ra.emit(&mut buf, link_local(iid), ALL_NODES).unwrap();
        let p = &buf[..n];
        assert_eq!(n, 40 + 16 + 32 + 8 + 24);
        // IPv6 header: version 6, payload length, next header 58, hop limit 255.
        assert_eq!(p[0] >> 4, 6);
        assert_eq!(u16::from_be_bytes([p[4], p[5]]) as usize, n - 40);
        assert_eq!((p[6], p[7]), (58, 255));
        assert_eq!(&p[8..24], &v6("fe80::200:5eff:fe00:1").octets());
        assert_eq!(&p[24..40], &v6("ff02::1").octets());
        // ICMPv6 RA: type 134 code 0, hop limit, flags, router lifetime.
        let icmp = &p[40..];
        assert_eq!((icmp[0], icmp[1], icmp[4], icmp[5]), (134, 0, 64, 0));
        assert_eq!(u16::from_be_bytes([icmp[6], icmp[7]]), 1800);
        // Prefix Information: type 3 len 4, /64, L and A set, then the prefix.
        let pio = &icmp[16..48];
        assert_eq!((pio[0], pio[1], pio[2], pio[3]), (3, 4, 64, 0xc0));
        assert_eq!(u32::from_be_bytes(pio[4..8].try_into().unwrap()), 2_592_000);
        assert_eq!(u32::from_be_bytes(pio[8..12].try_into().unwrap()), 604_800);
        assert_eq!(&pio[16..32], &v6("2001:db8:100:5::").octets());
        // MTU option, then RDNSS of one address (length 3).
        assert_eq!(&icmp[48..56], &[5, 1, 0, 0, 0, 0, 0x05, 0x78]);
        assert_eq!((icmp[56], icmp[57]), (25, 3));
        assert!(verify_checksum(p), "checksum over the pseudo-header");
    }

    #[test]
    fn router_advert_round_trips() {
        let mut ra = RouterAdvert::for_session(v6("2001:db8:1:2::"), None);
        ra.managed = true;
        ra.dns = [Some(v6("2001:db8::1")), Some(v6("2001:db8::2"))];
        ra.dns_lifetime = 1200;
        ra.reachable_time = 30_000;
        let src = link_local(7);
        let mut buf = vec![0u8; ra.buffer_len()];
        ra.emit(&mut buf, src, ALL_NODES).unwrap();
        assert!(verify_checksum(&buf));
        assert_eq!(RouterAdvert::parse(&buf), Ok((src, ra)));
        // Any flipped bit is caught by the checksum or a header check, except in the
        // traffic class and flow label (RFC 8200 §3), which nothing covers.
        for i in 0..buf.len() * 8 {
            if (i < 4) || (8..32).contains(&i) {
                continue;
            }
            let mut bad = buf.clone();
            bad[i / 8] ^= 1 << (i % 8);
            assert_ne!(RouterAdvert::parse(&bad), Ok((src, ra)), "bit {i}");
        }
        assert_eq!(
            ra.emit(&mut [0u8; 60], src, ALL_NODES),
            Err(NdError::BufferTooSmall)
        );
    }

    #[test]
    fn parse_rejects_bad_hop_limit_and_bad_options_rfc4861_6_1_2() {
        let ra = RouterAdvert::for_session(v6("2001:db8:1:2::"), Some(1500));
        let mut buf = vec![0u8; ra.buffer_len()];
        ra.emit(&mut buf, link_local(1), ALL_NODES).unwrap();
        let mut forwarded = buf.clone();
        forwarded[7] = 254;
        assert_eq!(RouterAdvert::parse(&forwarded), Err(NdError::HopLimit));
        let mut zero_len = buf.clone();
        zero_len[40 + 16 + 1] = 0;
        // Fix the checksum so the option check is what fails.
        zero_len[42] = 0;
        zero_len[43] = 0;
        let c = icmpv6_checksum(&link_local(1), &ALL_NODES, &zero_len[40..]);
        zero_len[42..44].copy_from_slice(&c.to_be_bytes());
        assert_eq!(RouterAdvert::parse(&zero_len), Err(NdError::BadOption));
        for len in 0..buf.len() {
            assert!(RouterAdvert::parse(&buf[..len]).is_err());
        }
    }

    /// A Router Solicitation as Linux sends it over PPP: from its link-local address to
    /// ff02::2, no options.
    fn solicitation(src: Ipv6Addr, options: &[u8], hop_limit: u8) -> Vec<u8> {
        let dst = v6("ff02::2");
        let mut icmp = vec![TYPE_ROUTER_SOLICITATION, 0, 0, 0, 0, 0, 0, 0];
        icmp.extend_from_slice(options);
        let c = icmpv6_checksum(&src, &dst, &icmp);
        icmp[2..4].copy_from_slice(&c.to_be_bytes());
        let mut p = vec![0u8; 40];
        write_ipv6_header(&mut p, icmp.len(), src, dst);
        p[7] = hop_limit;
        p.extend_from_slice(&icmp);
        p
    }

    #[test]
    fn router_solicitation_validity_rfc4861_6_1_1() {
        let ll = v6("fe80::1234:5678:9abc:def0");
        let rs = solicitation(ll, &[], 255);
        assert!(verify_checksum(&rs));
        assert_eq!(
            parse_router_solicitation(&rs),
            Some(RouterSolicitation { source: ll })
        );
        // Hop limit other than 255.
        assert_eq!(parse_router_solicitation(&solicitation(ll, &[], 64)), None);
        // Bad checksum.
        let mut bad = rs.clone();
        bad[43] ^= 1;
        assert_eq!(parse_router_solicitation(&bad), None);
        // Option of length zero.
        assert_eq!(
            parse_router_solicitation(&solicitation(ll, &[1, 0, 0, 0, 0, 0, 0, 0], 255)),
            None
        );
        // Unspecified source with a Source Link-Layer Address option.
        let slla = [1, 1, 2, 0, 0, 0, 0, 1];
        assert_eq!(
            parse_router_solicitation(&solicitation(Ipv6Addr::UNSPECIFIED, &slla, 255)),
            None
        );
        assert!(parse_router_solicitation(&solicitation(ll, &slla, 255)).is_some());
        assert!(
            parse_router_solicitation(&solicitation(Ipv6Addr::UNSPECIFIED, &[], 255)).is_some()
        );
        // An RA is not an RS, and short input is nothing.
        let ra = RouterAdvert::for_session(v6("2001:db8::"), None);
        let mut buf = vec![0u8; ra.buffer_len()];
        ra.emit(&mut buf, ll, ALL_NODES).unwrap();
        assert_eq!(parse_router_solicitation(&buf), None);
        for len in 0..rs.len() {
            assert_eq!(parse_router_solicitation(&rs[..len]), None);
        }
    }

    #[test]
    fn emitted_router_solicitation_is_valid_rfc4861_4_1() {
        let ll = link_local(0x0123_4567_89ab_cdef);
        let mut buf = [0xaau8; 64];
        let n = RouterSolicitation { source: ll }.emit(&mut buf).unwrap();
        assert_eq!(n, 48);
        let rs = &buf[..n];
        // IPv6 header: version 6, payload 8, next header ICMPv6, hop limit 255, to ff02::2.
        assert_eq!(rs[0], 0x60);
        assert_eq!(&rs[4..8], &[0, 8, 58, 255]);
        assert_eq!(&rs[8..24], &ll.octets());
        assert_eq!(&rs[24..40], &v6("ff02::2").octets());
        // Type 133, code 0, reserved zero, no options.
        assert_eq!(rs[40], 133);
        assert_eq!(rs[41], 0);
        assert_eq!(&rs[44..48], &[0, 0, 0, 0]);
        assert!(verify_checksum(rs));
        // The server side accepts it (§6.1.1).
        assert_eq!(
            parse_router_solicitation(rs),
            Some(RouterSolicitation { source: ll })
        );
        assert_eq!(
            RouterSolicitation { source: ll }.emit(&mut [0u8; 47]),
            Err(NdError::BufferTooSmall)
        );
    }

    #[test]
    fn solicitations_three_4_s_apart_until_advertised_rfc4861_6_3_7() {
        let t0 = Instant::now();
        let mut s = RsSchedule::default();
        assert_eq!(s.poll_timeout(), None);
        assert!(!s.poll_send(t0));
        s.start(t0);
        assert!(s.poll_send(t0));
        assert_eq!(s.poll_timeout(), Some(t0 + Duration::from_secs(4)));
        assert!(!s.poll_send(t0 + Duration::from_secs(3)));
        assert!(s.poll_send(t0 + Duration::from_secs(4)));
        assert!(s.poll_send(t0 + Duration::from_secs(8)));
        // MAX_RTR_SOLICITATIONS sent: nothing more is due.
        assert_eq!(s.poll_timeout(), None);
        assert!(!s.poll_send(t0 + Duration::from_secs(60)));
        // An RA stops them early.
        s.start(t0);
        assert!(s.poll_send(t0));
        s.advertised();
        assert_eq!(s.poll_timeout(), None);
        assert!(!s.poll_send(t0 + Duration::from_secs(4)));
    }

    #[test]
    fn schedule_initial_burst_then_random_intervals_rfc4861_6_2_4() {
        let t0 = Instant::now();
        let mut s = RaSchedule::rfc_defaults();
        assert_eq!(s.poll_timeout(), None);
        assert!(!s.poll_send(t0, 0));
        s.start(t0);
        assert_eq!(s.poll_timeout(), Some(t0));
        assert!(s.poll_send(t0, u32::MAX));
        // Initial RAs at most 16 s apart, however large the random draw.
        assert_eq!(s.poll_timeout(), Some(t0 + Duration::from_secs(16)));
        assert!(!s.poll_send(t0 + Duration::from_secs(15), 0));
        let t1 = t0 + Duration::from_secs(16);
        assert!(s.poll_send(t1, u32::MAX));
        assert_eq!(s.poll_timeout(), Some(t1 + Duration::from_secs(16)));
        let t2 = t1 + Duration::from_secs(16);
        assert!(s.poll_send(t2, 0));
        // After the third, the regular interval: min 200 s with random 0, max 600 s.
        assert_eq!(s.poll_timeout(), Some(t2 + Duration::from_secs(200)));
        let t3 = t2 + Duration::from_secs(200);
        assert!(s.poll_send(t3, u32::MAX));
        assert_eq!(s.poll_timeout(), Some(t3 + Duration::from_secs(600)));
        s.stop();
        assert_eq!(s.poll_timeout(), None);
    }

    #[test]
    fn solicitations_are_answered_at_most_every_3_s_rfc4861_6_2_6() {
        let t0 = Instant::now();
        let mut s = RaSchedule::rfc_defaults();
        s.start(t0);
        assert!(s.poll_send(t0, 0));
        s.on_solicitation(t0 + Duration::from_secs(1));
        assert_eq!(s.poll_timeout(), Some(t0 + Duration::from_secs(3)));
        assert!(s.poll_send(t0 + Duration::from_secs(3), 0));
        s.on_solicitation(t0 + Duration::from_secs(10));
        assert_eq!(s.poll_timeout(), Some(t0 + Duration::from_secs(10)));
    }

    #[test]
    fn schedule_clamps_intervals_rfc4861_6_2_1() {
        let t0 = Instant::now();
        let mut s = RaSchedule::new(Duration::ZERO, Duration::from_secs(1));
        s.start(t0);
        s.initial_left = 0;
        assert!(s.poll_send(t0, 0));
        // Max raised to 4 s, min to 3 s.
        assert_eq!(s.poll_timeout(), Some(t0 + Duration::from_secs(3)));
    }
}
