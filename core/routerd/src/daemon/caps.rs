//! Dropping privileges once start-up is done.
//!
//! routerd starts as root: creating the TUN device, setting sysctls and binding sockets need
//! it. Afterwards it keeps only what running sessions need:
//!
//! - `CAP_NET_ADMIN`: routes, addresses and proxy neighbours per session, sysctl restore;
//! - `CAP_NET_RAW`: raw IP sockets (GRE for PPTP) and packet sockets (IPX);
//! - `CAP_NET_BIND_SERVICE`: listeners on ports below 1024 (PPTP's 1723 is above, but link
//!   plugins may use others).
//!
//! Every other capability is removed from the bounding, inheritable, permitted and effective
//! sets and the ambient set is cleared, and `no_new_privs` is set, so neither routerd nor a
//! plugin nor anything they execute can get them back. The uid stays 0 (files in the state
//! directory and ttys stay accessible as their owner), but without `CAP_DAC_OVERRIDE`,
//! `CAP_SYS_ADMIN`, `CAP_SYS_MODULE`, `CAP_SYS_PTRACE` and the rest, root is confined to the
//! network. `system.drop_capabilities = false` turns this off (for debugging).
//!
//! Nothing routerd does needs more than the kept three: creating the TUN device and writing
//! `net.*` sysctls need `CAP_NET_ADMIN` only (the sysctl files are root's own), and the state
//! directory, the management socket and ttys are opened as their owner, root. So the drop
//! happens first, while the process is still single-threaded, and covers every thread.

use std::io;

/// `CAP_NET_BIND_SERVICE`.
pub const CAP_NET_BIND_SERVICE: u32 = 10;
/// `CAP_NET_ADMIN`.
pub const CAP_NET_ADMIN: u32 = 12;
/// `CAP_NET_RAW`.
pub const CAP_NET_RAW: u32 = 13;

/// The capabilities routerd keeps.
pub const KEPT: [u32; 3] = [CAP_NET_BIND_SERVICE, CAP_NET_ADMIN, CAP_NET_RAW];

/// The kept set as a bit mask (bit n = capability n).
pub fn kept_mask() -> u64 {
    KEPT.iter().fold(0, |m, c| m | (1u64 << c))
}

const LINUX_CAPABILITY_VERSION_3: u32 = 0x2008_0522;

#[repr(C)]
struct CapHeader {
    version: u32,
    pid: libc::c_int,
}

#[repr(C)]
#[derive(Clone, Copy, Default)]
struct CapData {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}

fn last_cap() -> u32 {
    std::fs::read_to_string("/proc/sys/kernel/cap_last_cap")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(40)
}

fn prctl(option: libc::c_int, arg: libc::c_ulong) -> io::Result<()> {
    // SAFETY: prctl with integer arguments only; no pointers are passed.
    let r = unsafe {
        libc::prctl(
            option,
            arg,
            0 as libc::c_ulong,
            0 as libc::c_ulong,
            0 as libc::c_ulong,
        )
    };
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// Drops every capability but [`KEPT`] from the calling thread, and so from every thread it
/// creates afterwards. Capability sets are per thread on Linux: call this while the process
/// has a single thread, before the runtime starts its workers (routerd does it first thing in
/// `main`, right after reading its configuration: everything it does afterwards, TUN and
/// sysctls included, needs only the kept capabilities).
pub fn drop_capabilities() -> io::Result<()> {
    for cap in 0..=last_cap() {
        if KEPT.contains(&cap) {
            continue;
        }
        match prctl(libc::PR_CAPBSET_DROP, libc::c_ulong::from(cap)) {
            Ok(()) => {}
            // Already dropped, or unknown to this kernel.
            Err(e) if e.raw_os_error() == Some(libc::EINVAL) => {}
            Err(e) => return Err(e),
        }
    }
    let _ = prctl(
        libc::PR_CAP_AMBIENT,
        libc::PR_CAP_AMBIENT_CLEAR_ALL as libc::c_ulong,
    );
    let mask = kept_mask();
    let mut header = CapHeader {
        version: LINUX_CAPABILITY_VERSION_3,
        pid: 0,
    };
    let mut data = [CapData::default(); 2];
    // Keep only what we still have of the kept set.
    // SAFETY: capget writes two CapData structs (version 3) through the pointer, which points
    // to a live array of two; the header is a live local.
    let r = unsafe {
        libc::syscall(
            libc::SYS_capget,
            &mut header as *mut CapHeader,
            data.as_mut_ptr(),
        )
    };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    let low = (mask & 0xffff_ffff) as u32;
    let high = (mask >> 32) as u32;
    data[0].permitted &= low;
    data[0].effective = data[0].permitted;
    data[0].inheritable = 0;
    data[1].permitted &= high;
    data[1].effective = data[1].permitted;
    data[1].inheritable = 0;
    header.version = LINUX_CAPABILITY_VERSION_3;
    header.pid = 0;
    // SAFETY: capset reads the header and two CapData structs (version 3) through the
    // pointers, both live locals.
    let r = unsafe {
        libc::syscall(
            libc::SYS_capset,
            &mut header as *mut CapHeader,
            data.as_ptr(),
        )
    };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    prctl(libc::PR_SET_NO_NEW_PRIVS, 1)
}

/// The effective capability mask of thread `tid` of this process (from `/proc`).
pub fn effective_mask(tid: Option<i32>) -> io::Result<u64> {
    let path = match tid {
        Some(t) => format!("/proc/self/task/{t}/status"),
        None => "/proc/self/status".to_owned(),
    };
    let status = std::fs::read_to_string(path)?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("CapEff:"))
        .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
        .ok_or_else(|| io::Error::other("no CapEff line"))
}
