//! Host-owned I/O for plugins: ttys and TCP sockets registered with tokio, each with a reader
//! task that queues what arrives to the plugin's actor, and a bounded write queue drained by
//! a writer task when the descriptor cannot take everything at once.
//!
//! Writes never block the caller: the bytes go to the descriptor at once when its queue is
//! empty, the rest into the queue; when the queue cannot take the whole write, nothing is
//! taken and the plugin gets [`HostError::Busy`] (then `on_writable` once it has drained).
//!
//! Datagram handles (raw IP sockets, packet sockets) have no queue: each datagram or frame
//! is sent at once, and a full socket buffer answers [`HostError::Busy`] (drop and count).

use std::collections::{HashMap, VecDeque};
use std::io;
use std::net::SocketAddr;
use std::os::fd::OwnedFd;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use dialgate_plugin_host::abi::{CloseReason, HandleId, HostError, ModemStatus};
use nix::errno::Errno;
use tokio::io::unix::AsyncFd;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, mpsc};
use tokio::task::JoinHandle;

use super::actor::ActorMsg;
use super::buffers::BufPool;
use super::router::lock;
use super::tty;

/// Octets a handle's write queue holds at most.
pub const WRITE_QUEUE_LIMIT: usize = 256 * 1024;

/// How often the modem status lines of a modem tty are polled.
const MODEM_POLL: Duration = Duration::from_millis(250);

/// The descriptor behind a handle.
#[derive(Debug, Clone)]
pub enum IoKind {
    /// A tty.
    Tty(Arc<AsyncFd<OwnedFd>>),
    /// A TCP connection.
    Tcp(Arc<TcpStream>),
    /// A TCP listener (no data).
    Listener,
    /// A TCP connection being established (no data yet).
    Connecting,
    /// A raw IP socket for one protocol (datagrams with [`IoTable::send_to`]).
    RawIp(Arc<AsyncFd<OwnedFd>>),
    /// A packet socket on one interface for one ethertype (one frame per write).
    Packet(Arc<AsyncFd<OwnedFd>>),
}

/// The write side of a handle.
#[derive(Debug, Default)]
pub struct WriteQueue {
    buf: Mutex<VecDeque<u8>>,
    notify: Notify,
    /// A write answered Busy: send `on_writable` once drained.
    owe_writable: AtomicBool,
    /// The instance's count of handles that owe `on_writable` (see [`IoTable::congestion`]).
    congested: Arc<AtomicUsize>,
}

impl WriteQueue {
    /// A write answered Busy.
    fn set_owed(&self) {
        if !self.owe_writable.swap(true, Ordering::Relaxed) {
            self.congested.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Whether `on_writable` was owed (and now is not).
    fn take_owed(&self) -> bool {
        let owed = self.owe_writable.swap(false, Ordering::Relaxed);
        if owed {
            self.congested.fetch_sub(1, Ordering::Relaxed);
        }
        owed
    }
}

/// One open handle.
#[derive(Debug)]
pub struct IoHandle {
    /// The descriptor.
    pub kind: IoKind,
    /// Pending output.
    pub out: Arc<WriteQueue>,
    tasks: Vec<JoinHandle<()>>,
}

impl Drop for IoHandle {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
        self.out.take_owed();
    }
}

/// The handles of one plugin instance.
#[derive(Debug, Default)]
pub struct IoTable {
    handles: HashMap<HandleId, IoHandle>,
    congested: Arc<AtomicUsize>,
    /// Tasks of closed handles, aborted but perhaps not yet dropped: a socket a task owns
    /// (a listener's) is closed only once the runtime drops the task.
    closing: Vec<JoinHandle<()>>,
}

impl IoTable {
    /// How many of the instance's handles have a full write queue (a write answered Busy and
    /// they have not drained since). While it is non-zero the instance's link is congested:
    /// the actor drops packets from the TUN before the session encrypts them, since a frame
    /// encrypted and then dropped spends an MPPE coherency count for good, and a burst of
    /// over 2048 of them (RFC 3078's 12-bit count, half of it forward) desynchronises the
    /// peer's stateless decryption for the rest of the session.
    pub fn congestion(&self) -> Arc<AtomicUsize> {
        self.congested.clone()
    }

    /// Number of open handles.
    pub fn len(&self) -> usize {
        self.handles.len()
    }

    /// Whether no handle is open.
    pub fn is_empty(&self) -> bool {
        self.handles.is_empty()
    }

    /// Forgets (and closes) a handle.
    pub fn remove(&mut self, handle: HandleId) -> bool {
        match self.handles.remove(&handle) {
            Some(h) => {
                self.retire(h);
                true
            }
            None => false,
        }
    }

    /// Closes everything.
    pub fn clear(&mut self) {
        let handles: Vec<IoHandle> = self.handles.drain().map(|(_, h)| h).collect();
        for h in handles {
            self.retire(h);
        }
    }

    /// Aborts a closed handle's tasks and keeps them until they are gone (see
    /// [`take_closing`](Self::take_closing)); finished ones are forgotten, so the list
    /// holds only tasks the runtime has not dropped yet.
    fn retire(&mut self, mut h: IoHandle) {
        self.closing.retain(|t| !t.is_finished());
        for t in h.tasks.drain(..) {
            t.abort();
            self.closing.push(t);
        }
    }

    /// The aborted tasks of closed handles not yet dropped by the runtime. Awaiting them
    /// (after [`clear`](Self::clear)) makes sure every socket the instance had is closed, so
    /// that its successor can bind the same address at once.
    pub fn take_closing(&mut self) -> Vec<JoinHandle<()>> {
        std::mem::take(&mut self.closing)
    }

    /// Registers a handle.
    pub fn insert(&mut self, id: HandleId, kind: IoKind, tasks: Vec<JoinHandle<()>>) {
        self.handles.insert(
            id,
            IoHandle {
                kind,
                out: Arc::new(WriteQueue {
                    congested: self.congested.clone(),
                    ..WriteQueue::default()
                }),
                tasks,
            },
        );
    }

    /// Adds a task to a handle (it is aborted when the handle closes).
    pub fn add_task(&mut self, id: HandleId, task: JoinHandle<()>) {
        match self.handles.get_mut(&id) {
            Some(h) => h.tasks.push(task),
            None => task.abort(),
        }
    }

    /// Replaces a handle's descriptor (a connection became established).
    pub fn set_kind(&mut self, id: HandleId, kind: IoKind) -> Option<Arc<WriteQueue>> {
        let h = self.handles.get_mut(&id)?;
        h.kind = kind;
        Some(h.out.clone())
    }

    /// The TCP connection behind a handle.
    pub fn tcp(&self, id: HandleId) -> Option<Arc<TcpStream>> {
        match &self.handles.get(&id)?.kind {
            IoKind::Tcp(s) => Some(s.clone()),
            _ => None,
        }
    }

    /// The tty behind a handle.
    pub fn tty(&self, id: HandleId) -> Option<Arc<AsyncFd<OwnedFd>>> {
        match &self.handles.get(&id)?.kind {
            IoKind::Tty(fd) => Some(fd.clone()),
            _ => None,
        }
    }

    /// Writes (or queues) `bytes` on a handle; on a packet socket, sends them as one frame.
    pub fn write(&self, id: HandleId, bytes: &[u8]) -> Result<(), HostError> {
        let h = self.handles.get(&id).ok_or(HostError::Closed)?;
        if let IoKind::Packet(fd) = &h.kind {
            return packet::send(fd.get_ref(), bytes);
        }
        let mut q = lock(&h.out.buf);
        if q.len() + bytes.len() > WRITE_QUEUE_LIMIT {
            h.out.set_owed();
            return Err(HostError::Busy);
        }
        let mut rest = bytes;
        if q.is_empty() {
            let written = match &h.kind {
                IoKind::Tty(fd) => match nix::unistd::write(fd.get_ref(), bytes) {
                    Ok(n) => Ok(n),
                    Err(Errno::EAGAIN | Errno::EINTR) => Ok(0),
                    Err(e) => Err(io::Error::from(e)),
                },
                IoKind::Tcp(s) => match s.try_write(bytes) {
                    Ok(n) => Ok(n),
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(0),
                    Err(e) => Err(e),
                },
                IoKind::Listener | IoKind::RawIp(_) | IoKind::Packet(_) => {
                    return Err(HostError::Invalid {
                        message: "not a stream: use send_to on raw IP sockets".into(),
                    });
                }
                IoKind::Connecting => Ok(0),
            };
            let n = written.map_err(|e| HostError::Io {
                errno: e.raw_os_error().unwrap_or(0),
                message: e.to_string().into(),
            })?;
            rest = bytes.get(n..).unwrap_or_default();
        }
        if !rest.is_empty() {
            q.extend(rest);
            h.out.notify.notify_one();
        }
        Ok(())
    }
}

impl IoTable {
    /// Sends one datagram on a raw IP socket to `dst` (the kernel adds the IP header).
    /// Never blocks: a full socket buffer answers [`HostError::Busy`] (drop and count).
    pub fn send_to(
        &self,
        id: HandleId,
        dst: std::net::IpAddr,
        bytes: &[u8],
    ) -> Result<(), HostError> {
        let h = self.handles.get(&id).ok_or(HostError::Closed)?;
        let IoKind::RawIp(fd) = &h.kind else {
            return Err(HostError::Invalid {
                message: "send_to needs a raw IP socket".into(),
            });
        };
        match raw::send_to(fd.get_ref(), dst, bytes) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Err(HostError::Busy),
            Err(e) => Err(HostError::Io {
                errno: e.raw_os_error().unwrap_or(0),
                message: format!("send to {dst}: {e}").into(),
            }),
        }
    }
}

/// Raw IP sockets (GRE for PPTP): `socket(2)`, `bind(2)`, `sendto(2)` through libc.
pub mod raw {
    use std::io;
    use std::net::IpAddr;
    use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};

    fn sockaddr(addr: IpAddr) -> (libc::sockaddr_storage, libc::socklen_t) {
        // SAFETY: sockaddr_storage is plain old data; all zeroes is a valid value.
        let mut storage: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
        let len = match addr {
            IpAddr::V4(a) => {
                let sin = libc::sockaddr_in {
                    sin_family: libc::AF_INET as libc::sa_family_t,
                    sin_port: 0,
                    sin_addr: libc::in_addr {
                        s_addr: u32::from_ne_bytes(a.octets()),
                    },
                    sin_zero: [0; 8],
                };
                // SAFETY: sockaddr_storage is larger than and aligned for sockaddr_in.
                unsafe {
                    std::ptr::write(
                        (&mut storage as *mut libc::sockaddr_storage).cast::<libc::sockaddr_in>(),
                        sin,
                    )
                };
                std::mem::size_of::<libc::sockaddr_in>()
            }
            IpAddr::V6(a) => {
                let sin6 = libc::sockaddr_in6 {
                    sin6_family: libc::AF_INET6 as libc::sa_family_t,
                    sin6_port: 0,
                    sin6_flowinfo: 0,
                    sin6_addr: libc::in6_addr {
                        s6_addr: a.octets(),
                    },
                    sin6_scope_id: 0,
                };
                // SAFETY: sockaddr_storage is larger than and aligned for sockaddr_in6.
                unsafe {
                    std::ptr::write(
                        (&mut storage as *mut libc::sockaddr_storage).cast::<libc::sockaddr_in6>(),
                        sin6,
                    )
                };
                std::mem::size_of::<libc::sockaddr_in6>()
            }
        };
        (storage, len as libc::socklen_t)
    }

    /// A non-blocking raw socket for IP `protocol`, IPv6 when `bind` is an IPv6 address,
    /// bound to `bind` if given. Needs `CAP_NET_RAW`.
    pub fn open(protocol: u8, bind: Option<IpAddr>) -> io::Result<OwnedFd> {
        let family = match bind {
            Some(IpAddr::V6(_)) => libc::AF_INET6,
            _ => libc::AF_INET,
        };
        // SAFETY: a plain socket(2) call; the result is checked.
        let raw = unsafe {
            libc::socket(
                family,
                libc::SOCK_RAW | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
                libc::c_int::from(protocol),
            )
        };
        if raw < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: socket(2) returned a new descriptor that nothing else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        set_receive_buffer(&fd, RECEIVE_BUFFER);
        if let Some(addr) = bind {
            let (sa, len) = sockaddr(addr);
            // SAFETY: binds our descriptor to a sockaddr that lives for the call.
            let r = unsafe {
                libc::bind(
                    fd.as_raw_fd(),
                    (&sa as *const libc::sockaddr_storage).cast(),
                    len,
                )
            };
            if r < 0 {
                return Err(io::Error::last_os_error());
            }
        }
        Ok(fd)
    }

    /// Receive buffer of a raw socket: one socket carries every call's GRE, and thousands of
    /// sessions negotiating at once arrive in bursts the default (about 200 KiB, some 270
    /// small datagrams) overflows; each drop costs a session a 3 s PPP retransmission.
    pub const RECEIVE_BUFFER: usize = 8 << 20;

    /// Ask for `bytes` of receive buffer: beyond `rmem_max` with `SO_RCVBUFFORCE` (we keep
    /// CAP_NET_ADMIN), else as far as `SO_RCVBUF` goes. Best effort.
    fn set_receive_buffer(fd: &OwnedFd, bytes: usize) {
        let v = libc::c_int::try_from(bytes).unwrap_or(libc::c_int::MAX);
        for opt in [libc::SO_RCVBUFFORCE, libc::SO_RCVBUF] {
            // SAFETY: setsockopt(2) on our descriptor with a c_int that lives for the call.
            let r = unsafe {
                libc::setsockopt(
                    fd.as_raw_fd(),
                    libc::SOL_SOCKET,
                    opt,
                    (&v as *const libc::c_int).cast(),
                    std::mem::size_of::<libc::c_int>() as libc::socklen_t,
                )
            };
            if r == 0 {
                return;
            }
        }
    }

    /// Sends one datagram to `dst`.
    pub fn send_to(fd: &impl AsFd, dst: IpAddr, bytes: &[u8]) -> io::Result<()> {
        let (sa, len) = sockaddr(dst);
        // SAFETY: sends a live buffer to a sockaddr that lives for the call.
        let n = unsafe {
            libc::sendto(
                fd.as_fd().as_raw_fd(),
                bytes.as_ptr().cast(),
                bytes.len(),
                libc::MSG_DONTWAIT,
                (&sa as *const libc::sockaddr_storage).cast(),
                len,
            )
        };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }
}

/// Packet sockets (IPX, NetBEUI on the LAN): `AF_PACKET`/`SOCK_RAW` bound to one interface
/// and one ethertype, through libc. Frames carry their link-layer header both ways.
pub mod packet {
    use std::io;
    use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};

    use dialgate_plugin_host::abi::HostError;

    /// The longest frame a packet socket delivers: an Ethernet frame of a 1500-octet MTU with
    /// its header and a VLAN tag fits with room to spare. Longer frames (jumbo) are dropped
    /// and counted, so that every read fits a pooled buffer.
    pub const MAX_FRAME: usize = 2048;

    /// The shortest frame a packet socket sends: an Ethernet header.
    pub const MIN_FRAME: usize = 14;

    /// Interface names are shorter than `IFNAMSIZ` (16) octets.
    fn check_interface(name: &str) -> Result<(), String> {
        if name.is_empty() || name.len() >= libc::IFNAMSIZ {
            return Err(format!(
                "interface name {name:?} must be 1 to {} octets",
                libc::IFNAMSIZ - 1
            ));
        }
        if name
            .bytes()
            .any(|b| b == 0 || b == b'/' || b.is_ascii_whitespace())
        {
            return Err(format!("interface name {name:?} has a forbidden character"));
        }
        Ok(())
    }

    /// Checks the arguments of `open_packet`: a plausible interface name and an ethertype
    /// other than 0.
    pub fn check(interface: &str, ethertype: u16) -> Result<(), HostError> {
        check_interface(interface).map_err(|m| HostError::Invalid { message: m.into() })?;
        if ethertype == 0 {
            return Err(HostError::Invalid {
                message: "ethertype 0 is not a protocol".into(),
            });
        }
        Ok(())
    }

    fn index_of(interface: &str) -> io::Result<libc::c_uint> {
        let name = std::ffi::CString::new(interface)
            .map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
        // SAFETY: a NUL-terminated string that lives for the call.
        let index = unsafe { libc::if_nametoindex(name.as_ptr()) };
        if index == 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(index)
    }

    /// A non-blocking packet socket bound to `interface` for `ethertype` (host order). Frames
    /// this host sends on the interface are not delivered back (`PACKET_IGNORE_OUTGOING`
    /// where the kernel has it; [`recv`] filters them too). Needs `CAP_NET_RAW`.
    pub fn open(interface: &str, ethertype: u16) -> io::Result<OwnedFd> {
        check_interface(interface).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
        let ifindex = index_of(interface)?;
        let protocol = ethertype.to_be();
        // SAFETY: a plain socket(2) call; the result is checked.
        let raw = unsafe {
            libc::socket(
                libc::AF_PACKET,
                libc::SOCK_RAW | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
                libc::c_int::from(protocol),
            )
        };
        if raw < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: socket(2) returned a new descriptor that nothing else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        let one: libc::c_int = 1;
        // SAFETY: sets an int option from a live int; failure (old kernels) is tolerated.
        let _ = unsafe {
            libc::setsockopt(
                fd.as_raw_fd(),
                libc::SOL_PACKET,
                libc::PACKET_IGNORE_OUTGOING,
                (&one as *const libc::c_int).cast(),
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            )
        };
        // SAFETY: sockaddr_ll is plain old data; all zeroes is a valid value.
        let mut sll: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
        sll.sll_family = libc::AF_PACKET as libc::c_ushort;
        sll.sll_protocol = protocol;
        sll.sll_ifindex = libc::c_int::try_from(ifindex)
            .map_err(|_| io::Error::from_raw_os_error(libc::ENODEV))?;
        // SAFETY: binds our descriptor to a sockaddr_ll that lives for the call.
        let r = unsafe {
            libc::bind(
                fd.as_raw_fd(),
                (&sll as *const libc::sockaddr_ll).cast(),
                std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t,
            )
        };
        if r < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(fd)
    }

    /// Sends one frame (link-layer header included) on the bound interface. Never blocks:
    /// a full socket buffer answers [`HostError::Busy`].
    pub fn send(fd: &impl AsFd, frame: &[u8]) -> Result<(), HostError> {
        if frame.len() < MIN_FRAME {
            return Err(HostError::Invalid {
                message: format!(
                    "a frame of {} octets is shorter than a link-layer header ({MIN_FRAME})",
                    frame.len()
                )
                .into(),
            });
        }
        // SAFETY: sends a live buffer on our descriptor (bound, so no address is needed).
        let n = unsafe {
            libc::send(
                fd.as_fd().as_raw_fd(),
                frame.as_ptr().cast(),
                frame.len(),
                libc::MSG_DONTWAIT,
            )
        };
        if n < 0 {
            let e = io::Error::last_os_error();
            return Err(match e.raw_os_error() {
                Some(libc::EAGAIN | libc::ENOBUFS) => HostError::Busy,
                errno => HostError::Io {
                    errno: errno.unwrap_or(0),
                    message: format!("sending a frame: {e}").into(),
                },
            });
        }
        Ok(())
    }

    /// What [`recv`] read.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum Received {
        /// A frame of this many octets, at the start of the buffer.
        Frame(usize),
        /// A frame this host sent (looped back by the kernel): ignore it.
        Outgoing,
        /// A frame longer than the buffer (its real length): dropped.
        Truncated(usize),
    }

    /// Reads one frame into `buf`.
    pub fn recv(fd: &impl AsFd, buf: &mut [u8]) -> io::Result<Received> {
        // SAFETY: sockaddr_ll is plain old data; all zeroes is a valid value.
        let mut sll: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
        let mut len = std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t;
        // SAFETY: reads into a live buffer of the given length; the kernel writes at most
        // `len` octets of address into `sll`.
        let n = unsafe {
            libc::recvfrom(
                fd.as_fd().as_raw_fd(),
                buf.as_mut_ptr().cast(),
                buf.len(),
                libc::MSG_TRUNC | libc::MSG_DONTWAIT,
                (&mut sll as *mut libc::sockaddr_ll).cast(),
                &mut len,
            )
        };
        let n = usize::try_from(n).map_err(|_| io::Error::last_os_error())?;
        if sll.sll_pkttype == libc::PACKET_OUTGOING {
            return Ok(Received::Outgoing);
        }
        if n > buf.len() {
            return Ok(Received::Truncated(n));
        }
        Ok(Received::Frame(n))
    }
}

/// Reads frames from a packet socket, queueing each to the actor (pooled buffers; frames
/// longer than [`packet::MAX_FRAME`] are dropped and counted in `dropped`).
pub async fn packet_reader(
    handle: HandleId,
    fd: Arc<AsyncFd<OwnedFd>>,
    tx: mpsc::Sender<ActorMsg>,
    pool: BufPool,
    dropped: Arc<std::sync::atomic::AtomicU64>,
) {
    let reason = loop {
        // Error readiness too: when the interface goes away the kernel reports ENETDOWN on
        // the socket (EPOLLERR, no EPOLLIN), and the socket stays unbound for good. Reading
        // then returns the error, which closes the handle and tells the plugin.
        let ready = fd.ready(tokio::io::Interest::READABLE | tokio::io::Interest::ERROR);
        let mut guard = match ready.await {
            Ok(g) => g,
            Err(e) => break close_reason(&e),
        };
        let mut buf = pool.get();
        buf.resize(packet::MAX_FRAME, 0);
        match guard.try_io(|fd| packet::recv(fd.get_ref(), &mut buf)) {
            Ok(Ok(packet::Received::Frame(n))) => {
                buf.truncate(n);
                if tx.send(ActorMsg::Data { handle, buf }).await.is_err() {
                    return;
                }
            }
            Ok(Ok(packet::Received::Outgoing)) => pool.put(buf),
            Ok(Ok(packet::Received::Truncated(n))) => {
                dropped.fetch_add(1, Ordering::Relaxed);
                tracing::debug!(
                    "packet socket: a {n}-octet frame dropped (longer than {})",
                    packet::MAX_FRAME
                );
                pool.put(buf);
            }
            Ok(Err(e)) if e.kind() == io::ErrorKind::Interrupted => pool.put(buf),
            Ok(Err(e)) => {
                pool.put(buf);
                break close_reason(&e);
            }
            Err(_would_block) => pool.put(buf),
        }
    };
    let _ = tx.send(ActorMsg::Closed { handle, reason }).await;
}

/// Reads datagrams from a raw IP socket, queueing each to the actor. IPv4 datagrams come with
/// their IP header; Linux gives IPv6 raw sockets the payload only.
pub async fn raw_reader(
    handle: HandleId,
    fd: Arc<AsyncFd<OwnedFd>>,
    tx: mpsc::Sender<ActorMsg>,
    pool: BufPool,
) {
    // One datagram can be 64 KiB: read into this, hand on a pooled copy of what came
    // (zeroing 64 KiB per GRE packet was routerd's top cost under load).
    let mut scratch = vec![0u8; 65_535];
    let reason = loop {
        let mut guard = match fd.readable().await {
            Ok(g) => g,
            Err(e) => break close_reason(&e),
        };
        match guard
            .try_io(|fd| nix::unistd::read(fd.get_ref(), &mut scratch).map_err(io::Error::from))
        {
            Ok(Ok(n)) => {
                let mut buf = pool.get();
                buf.clear();
                buf.extend_from_slice(scratch.get(..n).unwrap_or_default());
                if tx.send(ActorMsg::Data { handle, buf }).await.is_err() {
                    return;
                }
            }
            Ok(Err(e)) if e.kind() == io::ErrorKind::Interrupted => {}
            Ok(Err(e)) => break close_reason(&e),
            Err(_would_block) => {}
        }
    };
    let _ = tx.send(ActorMsg::Closed { handle, reason }).await;
}

fn close_reason(e: &io::Error) -> CloseReason {
    match e.kind() {
        io::ErrorKind::ConnectionReset
        | io::ErrorKind::ConnectionRefused
        | io::ErrorKind::ConnectionAborted
        | io::ErrorKind::BrokenPipe => CloseReason::Reset,
        _ => match e.raw_os_error() {
            Some(libc::EIO) => CloseReason::Hangup,
            Some(errno) => CloseReason::Error { errno },
            None => CloseReason::Error { errno: 0 },
        },
    }
}

/// Reads a tty until EOF or an error, queueing chunks to the actor.
pub async fn tty_reader(
    handle: HandleId,
    fd: Arc<AsyncFd<OwnedFd>>,
    tx: mpsc::Sender<ActorMsg>,
    pool: BufPool,
) {
    let reason = loop {
        let mut guard = match fd.readable().await {
            Ok(g) => g,
            Err(e) => break close_reason(&e),
        };
        let mut buf = pool.get();
        match guard.try_io(|fd| nix::unistd::read(fd.get_ref(), &mut buf).map_err(io::Error::from))
        {
            Ok(Ok(0)) => {
                pool.put(buf);
                break CloseReason::Eof;
            }
            Ok(Ok(n)) => {
                buf.truncate(n);
                if tx.send(ActorMsg::Data { handle, buf }).await.is_err() {
                    return;
                }
            }
            Ok(Err(e)) if e.kind() == io::ErrorKind::Interrupted => pool.put(buf),
            Ok(Err(e)) => {
                pool.put(buf);
                break close_reason(&e);
            }
            Err(_would_block) => pool.put(buf),
        }
    };
    let _ = tx.send(ActorMsg::Closed { handle, reason }).await;
}

/// Drains a tty's write queue whenever it has data and the tty can take it.
pub async fn tty_writer(
    handle: HandleId,
    fd: Arc<AsyncFd<OwnedFd>>,
    out: Arc<WriteQueue>,
    tx: mpsc::Sender<ActorMsg>,
) {
    let mut chunk = vec![0u8; 16 * 1024];
    loop {
        out.notify.notified().await;
        loop {
            let n = {
                let q = lock(&out.buf);
                let (a, b) = q.as_slices();
                let n = (a.len() + b.len()).min(chunk.len());
                let from_a = n.min(a.len());
                chunk[..from_a].copy_from_slice(&a[..from_a]);
                chunk[from_a..n].copy_from_slice(&b[..n - from_a]);
                n
            };
            if n == 0 {
                break;
            }
            let mut guard = match fd.writable().await {
                Ok(g) => g,
                Err(_) => return,
            };
            match guard
                .try_io(|fd| nix::unistd::write(fd.get_ref(), &chunk[..n]).map_err(io::Error::from))
            {
                Ok(Ok(w)) => {
                    lock(&out.buf).drain(..w);
                }
                Ok(Err(e)) if e.kind() == io::ErrorKind::Interrupted => {}
                Ok(Err(_)) => return,
                Err(_would_block) => {}
            }
        }
        if out.take_owed() && tx.send(ActorMsg::Writable { handle }).await.is_err() {
            return;
        }
    }
}

/// Polls a modem tty's status lines and reports changes.
pub async fn modem_watch(handle: HandleId, fd: Arc<AsyncFd<OwnedFd>>, tx: mpsc::Sender<ActorMsg>) {
    let mut last: Option<ModemStatus> = None;
    loop {
        match tty::modem_status(fd.get_ref()) {
            Ok(status) => {
                if last != Some(status) {
                    last = Some(status);
                    if tx.send(ActorMsg::Modem { handle, status }).await.is_err() {
                        return;
                    }
                }
            }
            // Not a serial port (a pty): there are no lines to watch.
            Err(_) => return,
        }
        tokio::time::sleep(MODEM_POLL).await;
    }
}

/// Reads a TCP connection until EOF or an error.
pub async fn tcp_reader(
    handle: HandleId,
    stream: Arc<TcpStream>,
    tx: mpsc::Sender<ActorMsg>,
    pool: BufPool,
) {
    let reason = loop {
        if let Err(e) = stream.readable().await {
            break close_reason(&e);
        }
        let mut buf = pool.get();
        match stream.try_read(&mut buf) {
            Ok(0) => {
                pool.put(buf);
                break CloseReason::Eof;
            }
            Ok(n) => {
                buf.truncate(n);
                if tx.send(ActorMsg::Data { handle, buf }).await.is_err() {
                    return;
                }
            }
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
                ) =>
            {
                pool.put(buf)
            }
            Err(e) => {
                pool.put(buf);
                break close_reason(&e);
            }
        }
    };
    let _ = tx.send(ActorMsg::Closed { handle, reason }).await;
}

/// Drains a TCP connection's write queue.
pub async fn tcp_writer(
    handle: HandleId,
    stream: Arc<TcpStream>,
    out: Arc<WriteQueue>,
    tx: mpsc::Sender<ActorMsg>,
) {
    // The copy buffer exists only while there is output: an idle connection (a PPTP
    // control connection is idle nearly all its life, and there are tens of thousands)
    // must not hold 16 KiB.
    const CHUNK: usize = 16 * 1024;
    let mut chunk: Vec<u8> = Vec::new();
    loop {
        out.notify.notified().await;
        loop {
            let n = {
                let q = lock(&out.buf);
                let (a, b) = q.as_slices();
                let n = (a.len() + b.len()).min(CHUNK);
                let from_a = n.min(a.len());
                chunk.clear();
                chunk.extend_from_slice(&a[..from_a]);
                chunk.extend_from_slice(&b[..n - from_a]);
                n
            };
            if n == 0 {
                break;
            }
            if stream.writable().await.is_err() {
                return;
            }
            match stream.try_write(&chunk[..n]) {
                Ok(w) => {
                    lock(&out.buf).drain(..w);
                }
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
                    ) => {}
                Err(_) => return,
            }
        }
        chunk = Vec::new();
        if out.take_owed() && tx.send(ActorMsg::Writable { handle }).await.is_err() {
            return;
        }
    }
}

/// What an accept loop needs to register connections.
pub trait Registrar: Send + Sync + 'static {
    /// Registers an accepted connection and returns its handle.
    fn register_tcp(&self, stream: TcpStream) -> HandleId;
    /// Starts reading and writing a registered connection. Called only after the
    /// `Accepted` message is queued, so that no data of the connection reaches the plugin
    /// before it knows the handle.
    fn start_tcp(&self, conn: HandleId);
}

/// Accepts connections until the listener fails.
pub async fn accept_loop<R: Registrar>(
    listener_id: HandleId,
    listener: TcpListener,
    registrar: Arc<R>,
    tx: mpsc::Sender<ActorMsg>,
) {
    loop {
        match listener.accept().await {
            Ok((stream, peer)) => {
                let conn = registrar.register_tcp(stream);
                let msg = ActorMsg::Accepted {
                    listener: listener_id,
                    conn,
                    peer: SocketAddr::into(peer),
                };
                if tx.send(msg).await.is_err() {
                    return;
                }
                registrar.start_tcp(conn);
            }
            Err(e) => {
                // EMFILE and friends: back off instead of spinning.
                tracing::warn!("accept: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Closing a listener's handle and awaiting [`IoTable::take_closing`] releases its
    /// address: a restarted instance binds it right away (before, the address stayed taken
    /// until the runtime got round to dropping the aborted accept task, and a busy daemon
    /// refused the restart of a changed PPTP link).
    #[tokio::test(flavor = "current_thread")]
    async fn a_closed_listener_frees_its_address_once_its_tasks_are_awaited() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let task = tokio::spawn(async move { while listener.accept().await.is_ok() {} });
        tokio::task::yield_now().await;
        let mut table = IoTable::default();
        table.insert(HandleId(1), IoKind::Listener, vec![task]);
        assert!(table.remove(HandleId(1)));
        let closing = table.take_closing();
        assert_eq!(closing.len(), 1, "the accept task is kept until it is gone");
        for t in closing {
            assert!(t.await.unwrap_err().is_cancelled());
        }
        std::net::TcpListener::bind(addr).expect("the address is free again");
        assert!(table.take_closing().is_empty());
    }

    /// A tty whose peer never reads: the write queue fills, a write answers Busy, and the
    /// instance counts the handle as congested until it drains or closes.
    #[tokio::test]
    async fn a_full_write_queue_marks_the_instance_congested_until_it_closes() {
        let pty = nix::pty::openpty(None, None).unwrap();
        let flags = nix::fcntl::fcntl(&pty.master, nix::fcntl::FcntlArg::F_GETFL).unwrap();
        let flags = nix::fcntl::OFlag::from_bits_truncate(flags) | nix::fcntl::OFlag::O_NONBLOCK;
        nix::fcntl::fcntl(&pty.master, nix::fcntl::FcntlArg::F_SETFL(flags)).unwrap();
        // SAFETY: the OwnedFd owns its descriptor for the AsyncFd's lifetime.
        let fd = Arc::new(unsafe { AsyncFd::register(pty.master) }.unwrap());
        let mut table = IoTable::default();
        let congestion = table.congestion();
        table.insert(HandleId(3), IoKind::Tty(fd), Vec::new());
        let frame = [0x7eu8; 1500];
        let mut busy = false;
        for _ in 0..(2 * WRITE_QUEUE_LIMIT / frame.len()) {
            match table.write(HandleId(3), &frame) {
                Ok(()) => {}
                Err(HostError::Busy) => {
                    busy = true;
                    break;
                }
                Err(e) => panic!("{e:?}"),
            }
        }
        assert!(busy, "the queue filled up");
        assert_eq!(congestion.load(Ordering::Relaxed), 1);
        // Busy again: still one congested handle.
        assert!(matches!(
            table.write(HandleId(3), &frame),
            Err(HostError::Busy)
        ));
        assert_eq!(congestion.load(Ordering::Relaxed), 1);
        assert!(table.remove(HandleId(3)));
        assert_eq!(congestion.load(Ordering::Relaxed), 0);
        drop(pty.slave);
    }

    #[tokio::test]
    async fn raw_ip_socket_sends_and_receives_datagrams_with_the_ipv4_header() {
        if !dialgate_test_support::require_root("a raw IP socket (CAP_NET_RAW)") {
            return;
        }
        // Protocol 253 is reserved for experimentation (RFC 3692).
        let lo = std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);
        let fd = raw::open(253, Some(lo)).unwrap();
        // SAFETY: the OwnedFd owns its descriptor for the AsyncFd's lifetime.
        let fd = Arc::new(unsafe { AsyncFd::register(fd) }.unwrap());
        let (tx, mut rx) = mpsc::channel(4);
        let reader = tokio::spawn(raw_reader(
            HandleId(1),
            fd.clone(),
            tx,
            BufPool::new(2048, 4),
        ));
        let mut table = IoTable::default();
        table.insert(HandleId(1), IoKind::RawIp(fd), Vec::new());
        table.send_to(HandleId(1), lo, b"dialgate").unwrap();
        assert!(matches!(
            table.write(HandleId(1), b"x"),
            Err(HostError::Invalid { .. })
        ));
        let got = tokio::time::timeout(Duration::from_secs(5), rx.recv())
            .await
            .unwrap()
            .unwrap();
        let ActorMsg::Data { handle, buf } = got else {
            panic!("expected data, got {got:?}");
        };
        assert_eq!(handle, HandleId(1));
        assert_eq!(buf[0] >> 4, 4, "IPv4 header included");
        assert_eq!(buf[9], 253, "protocol field");
        assert!(buf.ends_with(b"dialgate"));
        reader.abort();
    }
}
