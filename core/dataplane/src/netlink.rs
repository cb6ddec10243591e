//! A minimal rtnetlink client (RFC 3549; the message layouts of Linux `rtnetlink(7)`): link
//! up/down and MTU, addresses, routes and proxy neighbour entries. Just what the data plane
//! needs, no dump parsing.
//!
//! Each request is sent with `NLM_F_ACK` and the call returns when the kernel's
//! acknowledgement arrives (rtnetlink handles requests synchronously, so that is
//! microseconds: cheap enough to add a route per session as it comes up). The socket is
//! blocking with a receive timeout; it acts in the network namespace it was opened in.

use core::fmt;
use core::net::IpAddr;
use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::time::Duration;

use nix::sys::socket::{
    AddressFamily, MsgFlags, NetlinkAddr, SockFlag, SockProtocol, SockType, bind, recv, send,
    setsockopt, socket, sockopt,
};
use nix::sys::time::TimeVal;

// Values from linux/netlink.h, linux/rtnetlink.h, linux/if_addr.h, linux/neighbour.h.
const NLMSG_ERROR: u16 = 2;
const NLM_F_REQUEST: u16 = 0x01;
const NLM_F_ACK: u16 = 0x04;
const NLM_F_REPLACE: u16 = 0x100;
const NLM_F_EXCL: u16 = 0x200;
const NLM_F_CREATE: u16 = 0x400;
const RTM_NEWLINK: u16 = 16;
const RTM_NEWADDR: u16 = 20;
const RTM_DELADDR: u16 = 21;
const RTM_NEWROUTE: u16 = 24;
const RTM_DELROUTE: u16 = 25;
const RTM_NEWNEIGH: u16 = 28;
const RTM_DELNEIGH: u16 = 29;
const IFLA_MTU: u16 = 4;
const IFA_ADDRESS: u16 = 1;
const IFA_LOCAL: u16 = 2;
const IFA_FLAGS: u16 = 8;
const IFA_F_NODAD: u32 = 0x02;
const IFA_F_PERMANENT: u32 = 0x80;
const RTA_DST: u16 = 1;
const RTA_OIF: u16 = 4;
const RTA_PREFSRC: u16 = 7;
const RTA_TABLE: u16 = 15;
const RTA_METRICS: u16 = 8;
const RTAX_MTU: u16 = 2;
const RT_TABLE_MAIN: u8 = 254;
const RT_SCOPE_UNIVERSE: u8 = 0;
const RT_SCOPE_LINK: u8 = 253;
const RTN_UNICAST: u8 = 1;
const NDA_DST: u16 = 1;
const NTF_PROXY: u8 = 0x08;
const NUD_PERMANENT: u16 = 0x80;
const IFF_UP: u32 = 0x1;
const AF_UNSPEC: u8 = 0;
const AF_INET: u8 = 2;
const AF_INET6: u8 = 10;

/// `RTPROT_STATIC`: the routing protocol value routes are tagged with by default.
pub const RTPROT_STATIC: u8 = 4;

const HEADER_LEN: usize = 16;

/// An error the kernel answered a request with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetlinkError {
    /// What was asked, e.g. `"add route 10.0.0.5/32 dev 7"`.
    pub request: String,
    /// The positive errno.
    pub errno: i32,
}

impl fmt::Display for NetlinkError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: {}",
            self.request,
            io::Error::from_raw_os_error(self.errno)
        )
    }
}

impl std::error::Error for NetlinkError {}

impl NetlinkError {
    /// The errno of an [`io::Error`] returned by a [`Netlink`] request, if the kernel
    /// refused it (for example `libc::EEXIST` or `libc::ESRCH`).
    pub fn errno_of(e: &io::Error) -> Option<i32> {
        e.get_ref()
            .and_then(|inner| inner.downcast_ref::<Self>())
            .map(|n| n.errno)
    }
}

/// The index of interface `name` in the current network namespace.
pub fn ifindex(name: &str) -> io::Result<u32> {
    crate::tun::check_interface_name(name)?;
    nix::net::if_::if_nametoindex(name)
        .map_err(|e| io::Error::new(io::Error::from(e).kind(), format!("interface {name}: {e}")))
}

/// An rtnetlink socket.
#[derive(Debug)]
pub struct Netlink {
    fd: OwnedFd,
    seq: u32,
    msg: Vec<u8>,
    rx: Vec<u8>,
    route_protocol: u8,
}

impl Netlink {
    /// Opens an rtnetlink socket in the current network namespace.
    pub fn open() -> io::Result<Self> {
        let fd = socket(
            AddressFamily::Netlink,
            SockType::Raw,
            SockFlag::SOCK_CLOEXEC,
            SockProtocol::NetlinkRoute,
        )?;
        bind(fd.as_raw_fd(), &NetlinkAddr::new(0, 0))?;
        setsockopt(
            &fd,
            sockopt::ReceiveTimeout,
            &TimeVal::new(RECEIVE_TIMEOUT.as_secs() as libc::time_t, 0),
        )?;
        Ok(Self {
            fd,
            seq: 0,
            msg: Vec::with_capacity(256),
            rx: vec![0u8; 8192],
            route_protocol: RTPROT_STATIC,
        })
    }

    /// Tags the routes this socket adds with `protocol` (`rtm_protocol`), so an operator can
    /// tell them apart (`ip route show proto N`). Default [`RTPROT_STATIC`].
    pub fn set_route_protocol(&mut self, protocol: u8) {
        self.route_protocol = protocol;
    }

    /// Sets the link administratively up (`IFF_UP`), and its MTU if given.
    pub fn set_link_up(&mut self, ifindex: u32, mtu: Option<u32>) -> io::Result<()> {
        self.set_link(ifindex, true, mtu)
    }

    /// Sets the link administratively down.
    pub fn set_link_down(&mut self, ifindex: u32) -> io::Result<()> {
        self.set_link(ifindex, false, None)
    }

    fn set_link(&mut self, ifindex: u32, up: bool, mtu: Option<u32>) -> io::Result<()> {
        let mut m = Message::start(&mut self.msg, RTM_NEWLINK, 0);
        // struct ifinfomsg: family, pad, type, index, flags, change.
        m.bytes(&[AF_UNSPEC, 0]);
        m.bytes(&0u16.to_ne_bytes());
        m.bytes(&ifindex.to_ne_bytes());
        m.bytes(&(if up { IFF_UP } else { 0 }).to_ne_bytes());
        m.bytes(&IFF_UP.to_ne_bytes());
        if let Some(mtu) = mtu {
            m.attr(IFLA_MTU, &mtu.to_ne_bytes());
        }
        let what = || {
            format!(
                "set link {ifindex} {}{}",
                if up { "up" } else { "down" },
                mtu.map(|m| format!(" mtu {m}")).unwrap_or_default()
            )
        };
        self.request(what)
    }

    /// Adds `addr/prefix_len` to the interface (replacing an identical one). IPv6 addresses
    /// skip duplicate address detection, so they are usable at once.
    pub fn add_address(&mut self, ifindex: u32, addr: IpAddr, prefix_len: u8) -> io::Result<()> {
        self.address(
            RTM_NEWADDR,
            NLM_F_CREATE | NLM_F_REPLACE,
            ifindex,
            addr,
            prefix_len,
        )
    }

    /// Removes `addr/prefix_len` from the interface.
    pub fn del_address(&mut self, ifindex: u32, addr: IpAddr, prefix_len: u8) -> io::Result<()> {
        self.address(RTM_DELADDR, 0, ifindex, addr, prefix_len)
    }

    fn address(
        &mut self,
        kind: u16,
        flags: u16,
        ifindex: u32,
        addr: IpAddr,
        prefix_len: u8,
    ) -> io::Result<()> {
        let (family, octets) = family_octets(&addr);
        let mut m = Message::start(&mut self.msg, kind, flags);
        // struct ifaddrmsg: family, prefixlen, flags, scope, index.
        m.bytes(&[family, prefix_len, 0, RT_SCOPE_UNIVERSE]);
        m.bytes(&ifindex.to_ne_bytes());
        m.attr(IFA_LOCAL, octets.as_slice());
        m.attr(IFA_ADDRESS, octets.as_slice());
        m.attr(IFA_FLAGS, &(IFA_F_NODAD | IFA_F_PERMANENT).to_ne_bytes());
        let verb = if kind == RTM_NEWADDR { "add" } else { "delete" };
        self.request(|| format!("{verb} address {addr}/{prefix_len} dev {ifindex}"))
    }

    /// Routes `dst/prefix_len` to interface `ifindex` in the main table (scope link,
    /// unicast); an existing route to the same destination is replaced. With `mtu`, the route
    /// carries that MTU (`RTAX_MTU`): the kernel then fragments IPv4 to it, or answers
    /// "Fragmentation Needed" (RFC 1191 §4) / "Packet Too Big" (RFC 4443 §3.2) for traffic it
    /// cannot fragment, so a session with a small MRU works behind a TUN of larger MTU.
    pub fn add_route(
        &mut self,
        ifindex: u32,
        dst: IpAddr,
        prefix_len: u8,
        mtu: Option<u32>,
    ) -> io::Result<()> {
        self.route(
            RTM_NEWROUTE,
            NLM_F_CREATE | NLM_F_REPLACE,
            ifindex,
            (dst, prefix_len),
            None,
            mtu,
        )
    }

    /// Routes `dst/prefix_len` to interface `ifindex` with the preferred source address
    /// `src` (`RTA_PREFSRC`: what the kernel picks as source for traffic it originates on
    /// this route), unless a route to the same destination (and metric) already exists in
    /// the main table: then it fails with `AlreadyExists` and leaves that route alone, so a
    /// dial-out session never takes over, say, the box's own default route (pppd's
    /// `defaultroute` behaves the same). `mtu` as in [`add_route`](Self::add_route).
    pub fn add_route_from(
        &mut self,
        ifindex: u32,
        dst: IpAddr,
        prefix_len: u8,
        src: IpAddr,
        mtu: Option<u32>,
    ) -> io::Result<()> {
        self.route(
            RTM_NEWROUTE,
            NLM_F_CREATE | NLM_F_EXCL,
            ifindex,
            (dst, prefix_len),
            Some(src),
            mtu,
        )
    }

    /// Removes the route `dst/prefix_len` through `ifindex`.
    pub fn del_route(&mut self, ifindex: u32, dst: IpAddr, prefix_len: u8) -> io::Result<()> {
        self.route(RTM_DELROUTE, 0, ifindex, (dst, prefix_len), None, None)
    }

    fn route(
        &mut self,
        kind: u16,
        flags: u16,
        ifindex: u32,
        (dst, prefix_len): (IpAddr, u8),
        src: Option<IpAddr>,
        mtu: Option<u32>,
    ) -> io::Result<()> {
        let (family, octets) = family_octets(&dst);
        let mut m = Message::start(&mut self.msg, kind, flags);
        // struct rtmsg: family, dst_len, src_len, tos, table, protocol, scope, type, flags.
        m.bytes(&[
            family,
            prefix_len,
            0,
            0,
            RT_TABLE_MAIN,
            self.route_protocol,
            RT_SCOPE_LINK,
            RTN_UNICAST,
        ]);
        m.bytes(&0u32.to_ne_bytes());
        m.attr(RTA_DST, octets.as_slice());
        m.attr(RTA_OIF, &ifindex.to_ne_bytes());
        m.attr(RTA_TABLE, &u32::from(RT_TABLE_MAIN).to_ne_bytes());
        if let Some(src) = src {
            m.attr(RTA_PREFSRC, family_octets(&src).1.as_slice());
        }
        if let Some(mtu) = mtu {
            // RTA_METRICS nests one rtattr: RTAX_MTU.
            let mut nested = [0u8; 8];
            nested[0..2].copy_from_slice(&8u16.to_ne_bytes());
            nested[2..4].copy_from_slice(&RTAX_MTU.to_ne_bytes());
            nested[4..8].copy_from_slice(&mtu.to_ne_bytes());
            m.attr(RTA_METRICS, &nested);
        }
        let verb = if kind == RTM_NEWROUTE {
            "add"
        } else {
            "delete"
        };
        let mtu_text = mtu.map(|m| format!(" mtu {m}")).unwrap_or_default();
        let src_text = src.map(|s| format!(" src {s}")).unwrap_or_default();
        self.request(|| {
            format!("{verb} route {dst}/{prefix_len} dev {ifindex}{src_text}{mtu_text}")
        })
    }

    /// Adds a proxy neighbour entry (`ip neigh add proxy ADDR dev IF`): with
    /// `net.ipv6.conf.IF.proxy_ndp = 1` the kernel answers Neighbor Solicitations for `addr`
    /// on that interface (RFC 4861 §7.2.8, §7.2.4).
    pub fn add_proxy_neighbour(&mut self, ifindex: u32, addr: IpAddr) -> io::Result<()> {
        self.proxy_neighbour(RTM_NEWNEIGH, NLM_F_CREATE | NLM_F_REPLACE, ifindex, addr)
    }

    /// Removes a proxy neighbour entry.
    pub fn del_proxy_neighbour(&mut self, ifindex: u32, addr: IpAddr) -> io::Result<()> {
        self.proxy_neighbour(RTM_DELNEIGH, 0, ifindex, addr)
    }

    fn proxy_neighbour(
        &mut self,
        kind: u16,
        flags: u16,
        ifindex: u32,
        addr: IpAddr,
    ) -> io::Result<()> {
        let (family, octets) = family_octets(&addr);
        let mut m = Message::start(&mut self.msg, kind, flags);
        // struct ndmsg: family, pad1, pad2, ifindex, state, flags, type.
        m.bytes(&[family, 0, 0, 0]);
        m.bytes(&ifindex.to_ne_bytes());
        m.bytes(&NUD_PERMANENT.to_ne_bytes());
        m.bytes(&[NTF_PROXY, 0]);
        m.attr(NDA_DST, octets.as_slice());
        let verb = if kind == RTM_NEWNEIGH {
            "add"
        } else {
            "delete"
        };
        self.request(|| format!("{verb} proxy neighbour {addr} dev {ifindex}"))
    }

    /// Sends the message in `self.msg` and waits for its acknowledgement.
    fn request(&mut self, what: impl FnOnce() -> String) -> io::Result<()> {
        self.seq = self.seq.wrapping_add(1);
        let seq = self.seq;
        finish(&mut self.msg, seq);
        let sent = send(self.fd.as_raw_fd(), &self.msg, MsgFlags::empty())?;
        if sent != self.msg.len() {
            return Err(io::Error::new(
                io::ErrorKind::WriteZero,
                "short netlink send",
            ));
        }
        loop {
            let n = recv(self.fd.as_raw_fd(), &mut self.rx, MsgFlags::empty())?;
            match find_ack(self.rx.get(..n).unwrap_or_default(), seq) {
                Some(0) => return Ok(()),
                Some(errno) => {
                    let err = NetlinkError {
                        request: what(),
                        errno,
                    };
                    return Err(io::Error::new(
                        io::Error::from_raw_os_error(errno).kind(),
                        err,
                    ));
                }
                None => continue,
            }
        }
    }
}

fn family_octets(addr: &IpAddr) -> (u8, Octets) {
    match addr {
        IpAddr::V4(a) => (AF_INET, Octets::V4(a.octets())),
        IpAddr::V6(a) => (AF_INET6, Octets::V6(a.octets())),
    }
}

enum Octets {
    V4([u8; 4]),
    V6([u8; 16]),
}

impl Octets {
    fn as_slice(&self) -> &[u8] {
        match self {
            Self::V4(o) => o,
            Self::V6(o) => o,
        }
    }
}

/// A netlink message being built in a reused buffer.
struct Message<'a>(&'a mut Vec<u8>);

impl<'a> Message<'a> {
    fn start(buf: &'a mut Vec<u8>, kind: u16, extra_flags: u16) -> Self {
        buf.clear();
        // struct nlmsghdr: len (filled by `finish`), type, flags, seq (by `finish`), pid.
        buf.extend_from_slice(&0u32.to_ne_bytes());
        buf.extend_from_slice(&kind.to_ne_bytes());
        buf.extend_from_slice(&(NLM_F_REQUEST | NLM_F_ACK | extra_flags).to_ne_bytes());
        buf.extend_from_slice(&0u32.to_ne_bytes());
        buf.extend_from_slice(&0u32.to_ne_bytes());
        Self(buf)
    }

    fn bytes(&mut self, b: &[u8]) {
        self.0.extend_from_slice(b);
    }

    /// A `struct rtattr` (length, type, payload), padded to 4 octets.
    fn attr(&mut self, kind: u16, payload: &[u8]) {
        let len = 4 + payload.len();
        // Attributes here are at most 20 octets.
        self.0.extend_from_slice(&(len as u16).to_ne_bytes());
        self.0.extend_from_slice(&kind.to_ne_bytes());
        self.0.extend_from_slice(payload);
        self.0.resize(self.0.len().next_multiple_of(4), 0);
    }
}

/// Fills in the length and sequence number of the message in `buf`.
fn finish(buf: &mut [u8], seq: u32) {
    let len = buf.len() as u32;
    if let Some(f) = buf.get_mut(0..4) {
        f.copy_from_slice(&len.to_ne_bytes());
    }
    if let Some(f) = buf.get_mut(8..12) {
        f.copy_from_slice(&seq.to_ne_bytes());
    }
}

/// The errno (0 for success) of the `NLMSG_ERROR` acknowledging `seq` in a received
/// datagram, if there is one.
fn find_ack(mut data: &[u8], seq: u32) -> Option<i32> {
    while data.len() >= HEADER_LEN {
        let len = u32::from_ne_bytes(data.get(0..4)?.try_into().ok()?) as usize;
        let kind = u16::from_ne_bytes(data.get(4..6)?.try_into().ok()?);
        let got_seq = u32::from_ne_bytes(data.get(8..12)?.try_into().ok()?);
        if len < HEADER_LEN || len > data.len() {
            return None;
        }
        if kind == NLMSG_ERROR && got_seq == seq {
            let code = i32::from_ne_bytes(data.get(16..20)?.try_into().ok()?);
            return Some(code.saturating_neg());
        }
        data = data.get(len.next_multiple_of(4)..).unwrap_or_default();
    }
    None
}

/// How long a request waits for the kernel's acknowledgement before failing.
pub const RECEIVE_TIMEOUT: Duration = Duration::from_secs(5);

#[cfg(test)]
mod tests {
    use super::*;
    use core::net::Ipv4Addr;

    #[test]
    fn builds_a_route_request_rtnetlink_7() {
        let mut buf = Vec::new();
        let mut m = Message::start(&mut buf, RTM_NEWROUTE, NLM_F_CREATE);
        m.bytes(&[
            AF_INET,
            32,
            0,
            0,
            RT_TABLE_MAIN,
            4,
            RT_SCOPE_LINK,
            RTN_UNICAST,
        ]);
        m.bytes(&0u32.to_ne_bytes());
        m.attr(RTA_DST, &Ipv4Addr::new(10, 0, 0, 5).octets());
        m.attr(RTA_OIF, &7u32.to_ne_bytes());
        finish(&mut buf, 42);
        assert_eq!(buf.len(), 16 + 12 + 8 + 8);
        assert_eq!(u32::from_ne_bytes(buf[0..4].try_into().unwrap()), 44);
        assert_eq!(
            u16::from_ne_bytes(buf[4..6].try_into().unwrap()),
            RTM_NEWROUTE
        );
        assert_eq!(
            u16::from_ne_bytes(buf[6..8].try_into().unwrap()),
            NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE
        );
        assert_eq!(u32::from_ne_bytes(buf[8..12].try_into().unwrap()), 42);
        // rtattr RTA_DST: len 8, type 1, 10.0.0.5.
        assert_eq!(&buf[28..36], &[8, 0, 1, 0, 10, 0, 0, 5][..]);
    }

    #[test]
    fn attributes_are_padded_to_four_octets() {
        let mut buf = Vec::new();
        let mut m = Message::start(&mut buf, RTM_NEWLINK, 0);
        m.attr(99, &[1]);
        assert_eq!(buf.len(), 16 + 8);
        assert_eq!(&buf[16..24], &[5, 0, 99, 0, 1, 0, 0, 0][..]);
    }

    fn ack(seq: u32, code: i32) -> Vec<u8> {
        let mut v = Vec::new();
        v.extend_from_slice(&36u32.to_ne_bytes());
        v.extend_from_slice(&NLMSG_ERROR.to_ne_bytes());
        v.extend_from_slice(&0u16.to_ne_bytes());
        v.extend_from_slice(&seq.to_ne_bytes());
        v.extend_from_slice(&0u32.to_ne_bytes());
        v.extend_from_slice(&code.to_ne_bytes());
        v.extend_from_slice(&[0u8; 16]);
        v
    }

    #[test]
    fn finds_the_matching_ack() {
        assert_eq!(find_ack(&ack(5, 0), 5), Some(0));
        assert_eq!(find_ack(&ack(5, -17), 5), Some(17));
        assert_eq!(find_ack(&ack(4, -17), 5), None);
        let mut two = ack(4, 0);
        two.extend(ack(5, -3));
        assert_eq!(find_ack(&two, 5), Some(3));
        // Truncated or nonsense lengths end the walk without panicking.
        assert_eq!(find_ack(&ack(5, 0)[..20], 5), None);
        let mut bad = ack(5, 0);
        bad[0..4].copy_from_slice(&3u32.to_ne_bytes());
        assert_eq!(find_ack(&bad, 5), None);
        assert_eq!(find_ack(&[], 5), None);
    }

    #[test]
    fn netlink_errors_keep_their_errno() {
        let e = io::Error::new(
            io::ErrorKind::AlreadyExists,
            NetlinkError {
                request: "add route".into(),
                errno: libc::EEXIST,
            },
        );
        assert_eq!(NetlinkError::errno_of(&e), Some(libc::EEXIST));
        assert!(e.to_string().starts_with("add route: "));
        assert_eq!(NetlinkError::errno_of(&io::Error::other("x")), None);
    }
}
