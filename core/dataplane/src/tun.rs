//! The TUN device: one layer-3 interface that carries every session's IP.
//!
//! Opened from `/dev/net/tun` with `IFF_TUN | IFF_NO_PI` (whole IP packets, no packet-info
//! prefix; the version nibble tells IPv4 from IPv6), non-blocking and close-on-exec. Reads and
//! writes are synchronous and never block: an empty queue is [`io::ErrorKind::WouldBlock`],
//! which is what tokio's `AsyncFd::try_io` expects. The device disappears, with every route
//! through it, when its last descriptor closes.
//!
//! Setting the MTU, bringing the link up and adding addresses go through [`crate::netlink`].
//!
//! There is no `recvmmsg` for a TUN descriptor; [`Tun::recv_batch`] reads until the queue is
//! empty or the [`PacketBatch`] is full, into buffers allocated once. With `IFF_MULTI_QUEUE`
//! ([`Tun::create_multi_queue`]) the kernel spreads flows over several descriptors, one per
//! worker thread.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::os::unix::fs::OpenOptionsExt;

/// The clone device.
const CLONE_DEVICE: &str = "/dev/net/tun";
/// Longest interface name, without the terminating NUL (IFNAMSIZ - 1).
pub const MAX_NAME_LEN: usize = libc::IFNAMSIZ - 1;

/// An interface name that the kernel would refuse or that could escape a `/proc/sys` path:
/// empty, longer than [`MAX_NAME_LEN`], `.`/`..`, or containing `/`, whitespace, `:` or NUL.
pub fn check_interface_name(name: &str) -> io::Result<()> {
    let bad = name.is_empty()
        || name.len() > MAX_NAME_LEN
        || name == "."
        || name == ".."
        || name
            .chars()
            .any(|c| c == '/' || c == ':' || c == '\0' || c.is_whitespace());
    if bad {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("invalid interface name {name:?}"),
        ));
    }
    Ok(())
}

/// One queue of a TUN device.
#[derive(Debug)]
pub struct Tun {
    file: File,
    name: String,
}

impl Tun {
    /// Creates (or attaches to a persistent) TUN device `name`. A name with `%d`, such as
    /// `"dg%d"`, lets the kernel pick the number; [`name`](Self::name) tells the result.
    /// Needs `CAP_NET_ADMIN` in the current network namespace, where the device is created.
    pub fn create(name: &str) -> io::Result<Self> {
        Self::open(name, libc::IFF_TUN | libc::IFF_NO_PI)
    }

    /// Creates a multi-queue TUN device with `queues` descriptors (`IFF_MULTI_QUEUE`): the
    /// kernel hashes each flow to one queue, so each can be served by its own thread.
    pub fn create_multi_queue(name: &str, queues: usize) -> io::Result<Vec<Self>> {
        let flags = libc::IFF_TUN | libc::IFF_NO_PI | libc::IFF_MULTI_QUEUE;
        let first = Self::open(name, flags)?;
        let mut all = Vec::with_capacity(queues.max(1));
        let actual = first.name.clone();
        all.push(first);
        for _ in 1..queues {
            all.push(Self::open(&actual, flags)?);
        }
        Ok(all)
    }

    fn open(name: &str, flags: libc::c_int) -> io::Result<Self> {
        check_interface_name(name)?;
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC)
            .open(CLONE_DEVICE)
            .map_err(|e| io::Error::new(e.kind(), format!("{CLONE_DEVICE}: {e}")))?;
        let name = set_iff(&file, name, flags)?;
        Ok(Self { file, name })
    }

    /// The interface name the kernel gave the device.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The interface index (for [`crate::netlink`] requests).
    pub fn ifindex(&self) -> io::Result<u32> {
        crate::netlink::ifindex(&self.name)
    }

    /// Reads one IP packet into `buf`, returning its length. [`io::ErrorKind::WouldBlock`]
    /// when no packet is queued. A packet longer than `buf` is dropped with
    /// [`io::ErrorKind::InvalidData`]; size `buf` to the device MTU.
    pub fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        let n = (&self.file).read(buf)?;
        if n > buf.len() {
            // The TUN driver reports the full packet length when it truncated the copy.
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "{n}-octet packet larger than the {}-octet buffer",
                    buf.len()
                ),
            ));
        }
        Ok(n)
    }

    /// Writes one whole IP packet (IPv4 or IPv6, told by its first nibble) to the kernel.
    pub fn send(&self, packet: &[u8]) -> io::Result<()> {
        let n = (&self.file).write(packet)?;
        if n != packet.len() {
            return Err(io::Error::new(
                io::ErrorKind::WriteZero,
                format!("TUN took {n} of {} octets", packet.len()),
            ));
        }
        Ok(())
    }

    /// Reads packets into `batch` until the queue is empty or every slot is used; returns
    /// how many were read (the batch is cleared first). [`io::ErrorKind::WouldBlock`] only
    /// when not even one packet was queued. Oversized packets are skipped and counted in
    /// [`PacketBatch::oversized`].
    pub fn recv_batch(&self, batch: &mut PacketBatch) -> io::Result<usize> {
        batch.clear();
        while let Some(slot) = batch.next_slot() {
            match self.recv(slot) {
                Ok(n) => batch.commit(n),
                Err(e) if e.kind() == io::ErrorKind::InvalidData => batch.oversized += 1,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock && !batch.is_empty() => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        }
        Ok(batch.len())
    }
}

impl AsFd for Tun {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.file.as_fd()
    }
}

impl AsRawFd for Tun {
    fn as_raw_fd(&self) -> RawFd {
        self.file.as_raw_fd()
    }
}

/// `TUNSETIFF`: attaches `file` to the device `name` with `flags`; returns the final name.
fn set_iff(file: &File, name: &str, flags: libc::c_int) -> io::Result<String> {
    // SAFETY: `ifreq` is a plain C struct (a name array and a union of integers, sockaddrs
    // and a pointer) for which all-zero bytes are a valid value.
    let mut req: libc::ifreq = unsafe { core::mem::zeroed() };
    for (dst, src) in req.ifr_name.iter_mut().zip(name.as_bytes()) {
        *dst = *src as libc::c_char;
    }
    // The IFF_* values fit in the c_short union member (they are below 0x8000).
    req.ifr_ifru.ifru_flags = flags as libc::c_short;
    // SAFETY: TUNSETIFF reads and writes one `struct ifreq`; `req` is a valid, initialised,
    // exclusively borrowed ifreq that outlives the call, its name is NUL-terminated (at most
    // IFNAMSIZ - 1 bytes were copied into the zeroed array), and the descriptor is open.
    let rc = unsafe { libc::ioctl(file.as_raw_fd(), libc::TUNSETIFF, &mut req) };
    if rc < 0 {
        let e = io::Error::last_os_error();
        return Err(io::Error::new(e.kind(), format!("TUNSETIFF {name}: {e}")));
    }
    let bytes: Vec<u8> = req
        .ifr_name
        .iter()
        .take_while(|c| **c != 0)
        .map(|c| *c as u8)
        .collect();
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// A reusable set of packet buffers for [`Tun::recv_batch`]: one allocation, fixed slots.
#[derive(Debug)]
pub struct PacketBatch {
    buf: Box<[u8]>,
    slot_size: usize,
    lens: Box<[usize]>,
    count: usize,
    /// Packets skipped because they did not fit a slot (cumulative).
    pub oversized: u64,
}

impl PacketBatch {
    /// `slots` buffers of `slot_size` octets each (use the TUN's MTU, or 65535 to be safe
    /// from any MTU change). At least one slot of one octet.
    pub fn new(slots: usize, slot_size: usize) -> Self {
        let slots = slots.max(1);
        let slot_size = slot_size.max(1);
        Self {
            buf: vec![0u8; slots.saturating_mul(slot_size)].into_boxed_slice(),
            slot_size,
            lens: vec![0usize; slots].into_boxed_slice(),
            count: 0,
            oversized: 0,
        }
    }

    /// Number of packets held.
    pub fn len(&self) -> usize {
        self.count
    }

    /// No packets held.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Number of slots.
    pub fn capacity(&self) -> usize {
        self.lens.len()
    }

    /// Size of each slot.
    pub fn slot_size(&self) -> usize {
        self.slot_size
    }

    /// Forgets the packets held (the memory stays).
    pub fn clear(&mut self) {
        self.count = 0;
    }

    /// Packet `i`.
    pub fn get(&self, i: usize) -> Option<&[u8]> {
        if i >= self.count {
            return None;
        }
        let len = *self.lens.get(i)?;
        let start = i.checked_mul(self.slot_size)?;
        self.buf.get(start..start.checked_add(len)?)
    }

    /// Packet `i`, mutable (for MSS clamping in place).
    pub fn get_mut(&mut self, i: usize) -> Option<&mut [u8]> {
        if i >= self.count {
            return None;
        }
        let len = *self.lens.get(i)?;
        let start = i.checked_mul(self.slot_size)?;
        self.buf.get_mut(start..start.checked_add(len)?)
    }

    /// The packets held, in arrival order.
    pub fn iter(&self) -> impl Iterator<Item = &[u8]> + '_ {
        self.buf
            .chunks(self.slot_size)
            .zip(self.lens.iter())
            .take(self.count)
            .map(|(slot, len)| slot.get(..*len).unwrap_or_default())
    }

    /// The packets held, mutable.
    pub fn iter_mut(&mut self) -> impl Iterator<Item = &mut [u8]> + '_ {
        self.buf
            .chunks_mut(self.slot_size)
            .zip(self.lens.iter())
            .take(self.count)
            .map(|(slot, len)| slot.get_mut(..*len).unwrap_or_default())
    }

    /// The next free slot, whole; `None` when full.
    pub fn next_slot(&mut self) -> Option<&mut [u8]> {
        if self.count >= self.lens.len() {
            return None;
        }
        let start = self.count.checked_mul(self.slot_size)?;
        self.buf.get_mut(start..start.checked_add(self.slot_size)?)
    }

    /// Marks the slot returned by [`next_slot`](Self::next_slot) as holding `len` octets.
    pub fn commit(&mut self, len: usize) {
        if let Some(l) = self.lens.get_mut(self.count) {
            *l = len.min(self.slot_size);
            self.count += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interface_names_are_checked() {
        for good in ["dg0", "dg%d", "a", "tun-sessions.1", "123456789012345"] {
            assert!(check_interface_name(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "1234567890123456",
            ".",
            "..",
            "a/b",
            "a b",
            "eth0:1",
            "x\0",
        ] {
            assert!(check_interface_name(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn batch_slots_fill_and_iterate() {
        let mut b = PacketBatch::new(3, 8);
        assert_eq!((b.capacity(), b.slot_size(), b.len()), (3, 8, 0));
        for (i, n) in [(1u8, 3usize), (2, 8), (3, 1)] {
            let slot = b.next_slot().unwrap();
            assert_eq!(slot.len(), 8);
            slot[..n].fill(i);
            b.commit(n);
        }
        assert!(b.next_slot().is_none(), "full");
        let got: Vec<Vec<u8>> = b.iter().map(<[u8]>::to_vec).collect();
        assert_eq!(got, vec![vec![1; 3], vec![2; 8], vec![3; 1]]);
        for p in b.iter_mut() {
            p[0] = 9;
        }
        assert_eq!(b.get(1).unwrap()[0], 9);
        assert_eq!(b.get(3), None);
        b.clear();
        assert!(b.is_empty());
        assert_eq!(b.iter().count(), 0);
        assert_eq!(b.get_mut(0), None);
    }

    #[test]
    fn batch_degenerate_sizes_do_not_panic() {
        let mut b = PacketBatch::new(0, 0);
        assert_eq!((b.capacity(), b.slot_size()), (1, 1));
        b.commit(100);
        assert_eq!(b.get(0).map(<[u8]>::len), Some(1));
        b.commit(1);
        assert_eq!(b.len(), 1);
    }
}
