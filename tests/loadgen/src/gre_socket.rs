//! Raw IPv4 sockets for IP protocol 47 (GRE, RFC 2637 §4), through libc: the kernel adds the
//! IP header on send and hands the whole datagram, IP header included, on receive.
//!
//! Two ways to send from many source addresses: one socket bound to each address
//! ([`GreSocket::open`] with `Some(addr)`, then [`GreSocket::send_to`]), or one unbound socket
//! that names the source of each packet in an `IP_PKTINFO` control message
//! ([`GreSocket::send_from`], RFC 3542-style `ipi_spec_dst`, honoured by Linux raw sockets).
//! On receive a raw socket sees every GRE datagram its binding matches, so the kernel walks
//! every bound socket for each packet: one socket is cheaper with many addresses (the driver's
//! `--gre-socket` picks, to measure both).

use std::io;
use std::net::Ipv4Addr;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

/// IP protocol number of GRE.
pub const IPPROTO_GRE: libc::c_int = 47;

/// A non-blocking raw IPv4 socket for GRE.
#[derive(Debug)]
pub struct GreSocket {
    fd: OwnedFd,
}

fn sockaddr_in(addr: Ipv4Addr) -> libc::sockaddr_in {
    libc::sockaddr_in {
        sin_family: libc::AF_INET as libc::sa_family_t,
        sin_port: 0,
        sin_addr: libc::in_addr {
            s_addr: u32::from_ne_bytes(addr.octets()),
        },
        sin_zero: [0; 8],
    }
}

fn check(r: libc::c_int) -> io::Result<libc::c_int> {
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r)
    }
}

fn check_len(r: libc::ssize_t) -> io::Result<usize> {
    usize::try_from(r).map_err(|_| io::Error::last_os_error())
}

impl GreSocket {
    /// Open one, bound to `bind` if given (only GRE to that address is received, and it is
    /// the source of what is sent). Needs `CAP_NET_RAW`.
    pub fn open(bind: Option<Ipv4Addr>) -> io::Result<Self> {
        // SAFETY: a plain socket(2) call; the result is checked.
        let raw = check(unsafe {
            libc::socket(
                libc::AF_INET,
                libc::SOCK_RAW | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
                IPPROTO_GRE,
            )
        })?;
        // SAFETY: socket(2) returned a new descriptor nothing else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        let sock = Self { fd };
        if let Some(addr) = bind {
            let sa = sockaddr_in(addr);
            // SAFETY: binds our descriptor to a sockaddr_in that lives for the call.
            check(unsafe {
                libc::bind(
                    sock.fd.as_raw_fd(),
                    (&sa as *const libc::sockaddr_in).cast(),
                    std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
                )
            })?;
        }
        Ok(sock)
    }

    /// Ask for `bytes` of receive and send buffer (forced beyond `rmem_max` when privileged;
    /// best effort).
    pub fn set_buffers(&self, bytes: usize) {
        let v = libc::c_int::try_from(bytes).unwrap_or(libc::c_int::MAX);
        for (force, plain) in [
            (libc::SO_RCVBUFFORCE, libc::SO_RCVBUF),
            (libc::SO_SNDBUFFORCE, libc::SO_SNDBUF),
        ] {
            for opt in [force, plain] {
                // SAFETY: setsockopt(2) on our descriptor with a c_int that lives for the call.
                let r = unsafe {
                    libc::setsockopt(
                        self.fd.as_raw_fd(),
                        libc::SOL_SOCKET,
                        opt,
                        (&v as *const libc::c_int).cast(),
                        std::mem::size_of::<libc::c_int>() as libc::socklen_t,
                    )
                };
                if r == 0 {
                    break;
                }
            }
        }
    }

    /// Keep only the datagrams whose IPv4 destination `d` has `u32::from(d) % modulus ==
    /// remainder` (a classic BPF socket filter): every raw GRE socket sees every GRE packet,
    /// so workers that split the source addresses this way each take only their own.
    pub fn filter_destinations(&self, modulus: u32, remainder: u32) -> io::Result<()> {
        // linux/filter.h instruction classes and modes.
        const BPF_LD: u16 = 0x00;
        const BPF_W: u16 = 0x00;
        const BPF_ABS: u16 = 0x20;
        const BPF_ALU: u16 = 0x04;
        const BPF_MOD: u16 = 0x90;
        const BPF_K: u16 = 0x00;
        const BPF_JMP: u16 = 0x05;
        const BPF_JEQ: u16 = 0x10;
        const BPF_RET: u16 = 0x06;
        // asm-generic/socket.h (the same on x86 and ARM).
        const SO_ATTACH_FILTER: libc::c_int = 26;
        if modulus == 0 {
            return Err(io::Error::other("filter modulus 0"));
        }
        let op = |code: u16, jt: u8, jf: u8, k: u32| libc::sock_filter { code, jt, jf, k };
        let mut program = [
            // A = the IPv4 destination (offset 16; a raw socket's filter sees the IP header).
            op(BPF_LD | BPF_W | BPF_ABS, 0, 0, 16),
            op(BPF_ALU | BPF_MOD | BPF_K, 0, 0, modulus),
            op(BPF_JMP | BPF_JEQ | BPF_K, 0, 1, remainder),
            op(BPF_RET | BPF_K, 0, 0, u32::MAX),
            op(BPF_RET | BPF_K, 0, 0, 0),
        ];
        let prog = libc::sock_fprog {
            len: program.len() as libc::c_ushort,
            filter: program.as_mut_ptr(),
        };
        // SAFETY: setsockopt(2) on our descriptor with a sock_fprog that points at a program
        // living for the call (the kernel copies it).
        check(unsafe {
            libc::setsockopt(
                self.fd.as_raw_fd(),
                libc::SOL_SOCKET,
                SO_ATTACH_FILTER,
                (&prog as *const libc::sock_fprog).cast(),
                std::mem::size_of::<libc::sock_fprog>() as libc::socklen_t,
            )
        })
        .map(drop)
    }

    /// Send one GRE packet to `dst` (from the bound address, or the routing's choice).
    pub fn send_to(&self, dst: Ipv4Addr, packet: &[u8]) -> io::Result<()> {
        let sa = sockaddr_in(dst);
        // SAFETY: sends a live buffer to a sockaddr_in that lives for the call.
        check_len(unsafe {
            libc::sendto(
                self.fd.as_raw_fd(),
                packet.as_ptr().cast(),
                packet.len(),
                libc::MSG_DONTWAIT,
                (&sa as *const libc::sockaddr_in).cast(),
                std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
            )
        })
        .map(drop)
    }

    /// Send one GRE packet to `dst` from local address `src` (`IP_PKTINFO`).
    pub fn send_from(&self, src: Ipv4Addr, dst: Ipv4Addr, packet: &[u8]) -> io::Result<()> {
        let mut sa = sockaddr_in(dst);
        let info = libc::in_pktinfo {
            ipi_ifindex: 0,
            ipi_spec_dst: libc::in_addr {
                s_addr: u32::from_ne_bytes(src.octets()),
            },
            ipi_addr: libc::in_addr { s_addr: 0 },
        };
        // Control buffer: one cmsghdr + in_pktinfo, aligned for cmsghdr.
        const SPACE: usize = 64;
        #[repr(C, align(8))]
        struct Control([u8; SPACE]);
        let mut control = Control([0; SPACE]);
        // SAFETY: CMSG_SPACE/CMSG_LEN are pure arithmetic.
        let (space, len) = unsafe {
            (
                libc::CMSG_SPACE(std::mem::size_of::<libc::in_pktinfo>() as u32) as usize,
                libc::CMSG_LEN(std::mem::size_of::<libc::in_pktinfo>() as u32) as usize,
            )
        };
        if space > SPACE {
            return Err(io::Error::other("control buffer too small"));
        }
        let mut iov = libc::iovec {
            iov_base: packet.as_ptr().cast_mut().cast(),
            iov_len: packet.len(),
        };
        // SAFETY: msghdr is plain old data; all zeroes is a valid value.
        let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
        msg.msg_name = (&mut sa as *mut libc::sockaddr_in).cast();
        msg.msg_namelen = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = control.0.as_mut_ptr().cast();
        msg.msg_controllen = space as _;
        // SAFETY: msg points at a control buffer of `space` bytes, enough for one header
        // with an in_pktinfo (checked above); CMSG_FIRSTHDR/CMSG_DATA stay inside it.
        unsafe {
            let cmsg = libc::CMSG_FIRSTHDR(&msg);
            if cmsg.is_null() {
                return Err(io::Error::other("no room for IP_PKTINFO"));
            }
            (*cmsg).cmsg_level = libc::IPPROTO_IP;
            (*cmsg).cmsg_type = libc::IP_PKTINFO;
            (*cmsg).cmsg_len = len as _;
            std::ptr::write_unaligned(libc::CMSG_DATA(cmsg).cast::<libc::in_pktinfo>(), info);
        }
        // SAFETY: every pointer in msg refers to live locals for the duration of the call;
        // the packet is only read.
        check_len(unsafe { libc::sendmsg(self.fd.as_raw_fd(), &msg, libc::MSG_DONTWAIT) }).map(drop)
    }

    /// Send a batch of GRE packets to `dst`, each from its own local address (`IP_PKTINFO`),
    /// with one `sendmmsg(2)`: `packets` yields (source, packet). Returns how many the
    /// kernel took (the rest were refused: buffer full), or the error when it took none.
    pub fn send_batch_from(
        &self,
        dst: Ipv4Addr,
        packets: &[(Ipv4Addr, &[u8])],
    ) -> io::Result<usize> {
        let n = packets.len().min(MAX_BATCH);
        if n == 0 {
            return Ok(0);
        }
        let sa = sockaddr_in(dst);
        // SAFETY: CMSG_SPACE/CMSG_LEN are pure arithmetic.
        let (space, len) = unsafe {
            (
                libc::CMSG_SPACE(std::mem::size_of::<libc::in_pktinfo>() as u32) as usize,
                libc::CMSG_LEN(std::mem::size_of::<libc::in_pktinfo>() as u32) as usize,
            )
        };
        if space > CONTROL_SPACE {
            return Err(io::Error::other("control buffer too small"));
        }
        let mut controls = [Control([0; CONTROL_SPACE]); MAX_BATCH];
        let mut iovs = [libc::iovec {
            iov_base: std::ptr::null_mut(),
            iov_len: 0,
        }; MAX_BATCH];
        // SAFETY: mmsghdr is plain old data; all zeroes is a valid value.
        let mut msgs: [libc::mmsghdr; MAX_BATCH] = unsafe { std::mem::zeroed() };
        for (i, (src, packet)) in packets.iter().take(n).enumerate() {
            let (Some(iov), Some(control), Some(m)) =
                (iovs.get_mut(i), controls.get_mut(i), msgs.get_mut(i))
            else {
                break;
            };
            *iov = libc::iovec {
                iov_base: packet.as_ptr().cast_mut().cast(),
                iov_len: packet.len(),
            };
            let msg = &mut m.msg_hdr;
            msg.msg_name = (&sa as *const libc::sockaddr_in).cast_mut().cast();
            msg.msg_namelen = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
            msg.msg_iov = iov;
            msg.msg_iovlen = 1;
            msg.msg_control = control.0.as_mut_ptr().cast();
            msg.msg_controllen = space as _;
            let info = libc::in_pktinfo {
                ipi_ifindex: 0,
                ipi_spec_dst: libc::in_addr {
                    s_addr: u32::from_ne_bytes(src.octets()),
                },
                ipi_addr: libc::in_addr { s_addr: 0 },
            };
            // SAFETY: msg points at its own control buffer of `space` bytes, enough for one
            // header with an in_pktinfo (checked above); CMSG_FIRSTHDR/CMSG_DATA stay inside.
            unsafe {
                let cmsg = libc::CMSG_FIRSTHDR(msg);
                if cmsg.is_null() {
                    return Err(io::Error::other("no room for IP_PKTINFO"));
                }
                (*cmsg).cmsg_level = libc::IPPROTO_IP;
                (*cmsg).cmsg_type = libc::IP_PKTINFO;
                (*cmsg).cmsg_len = len as _;
                std::ptr::write_unaligned(libc::CMSG_DATA(cmsg).cast::<libc::in_pktinfo>(), info);
            }
        }
        // SAFETY: the first `n` headers point at live locals (address, iovecs, control
        // buffers) and at the caller's packets, which are only read, for the whole call.
        let sent = unsafe {
            libc::sendmmsg(
                self.fd.as_raw_fd(),
                msgs.as_mut_ptr(),
                n as libc::c_uint,
                libc::MSG_DONTWAIT,
            )
        };
        check(sent).map(|k| k as usize)
    }

    /// Receive up to [`MAX_BATCH`] datagrams (IP header included) with one `recvmmsg(2)`
    /// into `batch`; `WouldBlock` when none waits.
    pub fn recv_batch(&self, batch: &mut RecvBatch) -> io::Result<usize> {
        let base = batch.buf.as_mut_ptr();
        let mut iovs = [libc::iovec {
            iov_base: std::ptr::null_mut(),
            iov_len: 0,
        }; MAX_BATCH];
        // SAFETY: mmsghdr is plain old data; all zeroes is a valid value.
        let mut msgs: [libc::mmsghdr; MAX_BATCH] = unsafe { std::mem::zeroed() };
        for (i, (iov, m)) in iovs.iter_mut().zip(msgs.iter_mut()).enumerate() {
            // SAFETY: slot i lies inside the buffer (MAX_BATCH slots of RECV_SLOT octets).
            *iov = libc::iovec {
                iov_base: unsafe { base.add(i * RECV_SLOT) }.cast(),
                iov_len: RECV_SLOT,
            };
            m.msg_hdr.msg_iov = iov;
            m.msg_hdr.msg_iovlen = 1;
        }
        // SAFETY: every header points at its own iovec, which points at its own slot of the
        // batch's buffer; the kernel writes at most RECV_SLOT octets into each.
        let got = check(unsafe {
            libc::recvmmsg(
                self.fd.as_raw_fd(),
                msgs.as_mut_ptr(),
                MAX_BATCH as libc::c_uint,
                libc::MSG_DONTWAIT,
                std::ptr::null_mut(),
            )
        })? as usize;
        batch.count = got.min(MAX_BATCH);
        for (len, m) in batch.lens.iter_mut().zip(msgs.iter()).take(batch.count) {
            // A datagram longer than its slot was cut: report no length (dropped).
            *len = if m.msg_hdr.msg_flags & libc::MSG_TRUNC != 0 {
                0
            } else {
                m.msg_len as usize
            };
        }
        Ok(batch.count)
    }

    /// Receive one datagram (IP header included) into `buf`; `WouldBlock` when none waits.
    pub fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        // SAFETY: reads into a live, writable buffer of the given length.
        check_len(unsafe {
            libc::recv(
                self.fd.as_raw_fd(),
                buf.as_mut_ptr().cast(),
                buf.len(),
                libc::MSG_DONTWAIT,
            )
        })
    }
}

/// Most datagrams per `sendmmsg`/`recvmmsg` call.
pub const MAX_BATCH: usize = 32;
/// Room for one received datagram: session setup and echo traffic are far smaller; a longer
/// datagram is dropped.
const RECV_SLOT: usize = 2048;
const CONTROL_SPACE: usize = 64;

/// A control-message buffer for one `IP_PKTINFO`, aligned for `cmsghdr`.
#[derive(Clone, Copy)]
#[repr(C, align(8))]
struct Control([u8; CONTROL_SPACE]);

/// Buffers for [`GreSocket::recv_batch`].
#[derive(Debug)]
pub struct RecvBatch {
    buf: Vec<u8>,
    lens: [usize; MAX_BATCH],
    count: usize,
}

impl Default for RecvBatch {
    fn default() -> Self {
        Self {
            buf: vec![0; MAX_BATCH * RECV_SLOT],
            lens: [0; MAX_BATCH],
            count: 0,
        }
    }
}

impl RecvBatch {
    /// Datagram `i` of the last receive (empty if it was cut short).
    pub fn get_mut(&mut self, i: usize) -> Option<&mut [u8]> {
        if i >= self.count {
            return None;
        }
        let len = *self.lens.get(i)?;
        self.buf.get_mut(i * RECV_SLOT..i * RECV_SLOT + len)
    }
}

impl AsFd for GreSocket {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

impl AsRawFd for GreSocket {
    fn as_raw_fd(&self) -> std::os::fd::RawFd {
        self.fd.as_raw_fd()
    }
}

/// An IPv4 datagram carrying GRE, split into what the driver needs to find the session.
#[derive(Debug, PartialEq, Eq)]
pub struct Received<'a> {
    /// The IP source (the server).
    pub src: Ipv4Addr,
    /// The IP destination (one of our source addresses).
    pub dst: Ipv4Addr,
    /// The Key's Call ID (our Call ID).
    pub call_id: u16,
    /// Sequence Number, if present.
    pub seq: Option<u32>,
    /// Acknowledgment Number, if present.
    pub ack: Option<u32>,
    /// The PPP frame (empty for an acknowledgment only).
    pub payload: &'a mut [u8],
}

/// Split a received datagram (IPv4 header, then enhanced GRE, RFC 2637 §4.1); `None` when it
/// is not a well-formed one.
pub fn split(datagram: &mut [u8]) -> Option<Received<'_>> {
    let first = *datagram.first()?;
    let ihl = usize::from(first & 0x0f) * 4;
    if first >> 4 != 4 || ihl < 20 || *datagram.get(9)? != IPPROTO_GRE as u8 {
        return None;
    }
    let total = usize::from(u16::from_be_bytes([*datagram.get(2)?, *datagram.get(3)?]));
    let addr = |at: usize| -> Option<Ipv4Addr> {
        Some(Ipv4Addr::from(
            <[u8; 4]>::try_from(datagram.get(at..at + 4)?).ok()?,
        ))
    };
    let (src, dst) = (addr(12)?, addr(16)?);
    let gre = datagram.get_mut(ihl..total.max(ihl).min(datagram.len()))?;
    let p = dialgate_wire::gre::Packet::new_checked(&gre[..]).ok()?;
    let (header_len, payload_len) = (p.header_len(), usize::from(p.payload_len()));
    let (call_id, seq, ack) = (p.call_id(), p.sequence(), p.ack());
    let payload = gre.get_mut(header_len..header_len + payload_len)?;
    Some(Received {
        src,
        dst,
        call_id,
        seq,
        ack,
        payload,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn datagram(gre: &[u8]) -> Vec<u8> {
        let mut d = vec![
            0x45, 0, 0, 0, 0, 0, 0, 0, 64, 47, 0, 0, 10, 0, 0, 1, 10, 99, 0, 7,
        ];
        let total = (d.len() + gre.len()) as u16;
        d[2..4].copy_from_slice(&total.to_be_bytes());
        d.extend_from_slice(gre);
        d
    }

    #[test]
    fn rfc2637_4_1_split_finds_call_id_sequence_ack_and_payload() {
        let mut gre = Vec::new();
        dialgate_wire::gre::Repr::data(0x1234, 7, Some(3), &[0xff, 0x03, 0xc0, 0x21])
            .push(&mut gre)
            .unwrap();
        let mut d = datagram(&gre);
        let r = split(&mut d).unwrap();
        assert_eq!(r.src, Ipv4Addr::new(10, 0, 0, 1));
        assert_eq!(r.dst, Ipv4Addr::new(10, 99, 0, 7));
        assert_eq!((r.call_id, r.seq, r.ack), (0x1234, Some(7), Some(3)));
        assert_eq!(r.payload, [0xff, 0x03, 0xc0, 0x21]);
    }

    #[test]
    fn split_refuses_what_is_not_enhanced_gre_in_ipv4() {
        let mut gre = Vec::new();
        dialgate_wire::gre::Repr::ack_only(9, 1)
            .push(&mut gre)
            .unwrap();
        let good = datagram(&gre);
        assert!(split(&mut good.clone()).is_some_and(|r| r.payload.is_empty()));
        for cut in [0, 10, 20, 25] {
            assert!(split(&mut good[..cut].to_vec()).is_none(), "cut {cut}");
        }
        let mut udp = good.clone();
        udp[9] = 17;
        assert!(split(&mut udp).is_none());
        let mut v6 = good.clone();
        v6[0] = 0x65;
        assert!(split(&mut v6).is_none());
        let mut gre_v0 = good;
        gre_v0[21] &= 0xf8; // GRE version 0: not PPTP's enhanced GRE
        assert!(split(&mut gre_v0).is_none());
    }
}
