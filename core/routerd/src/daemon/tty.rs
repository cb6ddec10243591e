//! Opening a tty for a link plugin: raw mode, 8N1, the requested speed and flow control,
//! `CLOCAL` for local lines, `HUPCL` on request (RFC 1662 §4: async HDLC needs an 8-bit clean
//! line). Modem control and status lines through `TIOCMGET`/`TIOCMBIS`/`TIOCMBIC`.

use std::io;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};

use dialgate_plugin_host::abi::{FlowControl, ModemControl, ModemStatus};
use nix::fcntl::{OFlag, open};
use nix::sys::stat::Mode;
use nix::sys::termios::{
    BaudRate, ControlFlags, InputFlags, SetArg, cfmakeraw, cfsetspeed, tcflush, tcgetattr,
    tcsetattr,
};

/// What [`open`] applies (the ABI's `TtySettings`, owned).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TtyConfig {
    /// The device.
    pub path: String,
    /// Line speed in bit/s.
    pub speed: u32,
    /// Flow control.
    pub flow_control: FlowControl,
    /// Ignore the modem status lines (`CLOCAL`).
    pub local: bool,
    /// Drop DTR on close (`HUPCL`).
    pub hangup_on_close: bool,
}

/// The termios speeds Linux offers, ascending.
const SPEEDS: &[(u32, BaudRate)] = &[
    (300, BaudRate::B300),
    (600, BaudRate::B600),
    (1200, BaudRate::B1200),
    (2400, BaudRate::B2400),
    (4800, BaudRate::B4800),
    (9600, BaudRate::B9600),
    (19200, BaudRate::B19200),
    (38400, BaudRate::B38400),
    (57600, BaudRate::B57600),
    (115_200, BaudRate::B115200),
    (230_400, BaudRate::B230400),
    (460_800, BaudRate::B460800),
    (921_600, BaudRate::B921600),
    (1_000_000, BaudRate::B1000000),
    (2_000_000, BaudRate::B2000000),
    (4_000_000, BaudRate::B4000000),
];

/// The termios speed nearest to `bps` (ties go to the faster one).
pub fn nearest_speed(bps: u32) -> (u32, BaudRate) {
    let mut best = SPEEDS[0];
    for &(rate, baud) in SPEEDS {
        if rate.abs_diff(bps) <= best.0.abs_diff(bps) {
            best = (rate, baud);
        }
    }
    best
}

/// Opens `config.path` non-blocking, without making it our controlling terminal, and sets
/// it up. The descriptor is close-on-exec.
pub fn open_tty(config: &TtyConfig) -> io::Result<OwnedFd> {
    if config.path.is_empty() || config.path.contains('\0') {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "tty path is empty or contains NUL",
        ));
    }
    let fd = open(
        config.path.as_str(),
        OFlag::O_RDWR | OFlag::O_NOCTTY | OFlag::O_NONBLOCK | OFlag::O_CLOEXEC,
        Mode::empty(),
    )?;
    let mut t = tcgetattr(&fd)?;
    cfmakeraw(&mut t);
    let (_, baud) = nearest_speed(config.speed);
    cfsetspeed(&mut t, baud)?;
    t.control_flags |= ControlFlags::CREAD | ControlFlags::CS8;
    t.control_flags.set(ControlFlags::CLOCAL, config.local);
    t.control_flags
        .set(ControlFlags::HUPCL, config.hangup_on_close);
    t.control_flags.set(
        ControlFlags::CRTSCTS,
        config.flow_control == FlowControl::Hardware,
    );
    t.input_flags.set(
        InputFlags::IXON | InputFlags::IXOFF,
        config.flow_control == FlowControl::Software,
    );
    tcsetattr(&fd, SetArg::TCSANOW, &t)?;
    // Whatever sat in the line's buffers belongs to an earlier user of the port.
    let _ = tcflush(&fd, nix::sys::termios::FlushArg::TCIOFLUSH);
    Ok(fd)
}

/// Reads the modem status lines.
pub fn modem_status(fd: &impl AsFd) -> io::Result<ModemStatus> {
    let mut bits: libc::c_int = 0;
    // SAFETY: TIOCMGET writes one c_int through the pointer, which points to a live local.
    let r = unsafe { libc::ioctl(fd.as_fd().as_raw_fd(), libc::TIOCMGET, &mut bits) };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(ModemStatus {
        dcd: bits & libc::TIOCM_CAR != 0,
        dsr: bits & libc::TIOCM_DSR != 0,
        cts: bits & libc::TIOCM_CTS != 0,
        ri: bits & libc::TIOCM_RNG != 0,
    })
}

/// Sets DTR and RTS.
pub fn set_modem_control(fd: &impl AsFd, control: ModemControl) -> io::Result<()> {
    let raw = fd.as_fd().as_raw_fd();
    let mut on: libc::c_int = 0;
    let mut off: libc::c_int = 0;
    for (wanted, bit) in [
        (control.dtr, libc::TIOCM_DTR),
        (control.rts, libc::TIOCM_RTS),
    ] {
        if wanted {
            on |= bit;
        } else {
            off |= bit;
        }
    }
    for (request, bits) in [(libc::TIOCMBIS, &on), (libc::TIOCMBIC, &off)] {
        if *bits == 0 {
            continue;
        }
        // SAFETY: TIOCMBIS/TIOCMBIC read one c_int through the pointer, a live local.
        let r = unsafe { libc::ioctl(raw, request, bits as *const libc::c_int) };
        if r < 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use nix::pty::openpty;

    #[test]
    fn speeds_map_to_the_nearest_termios_rate() {
        assert_eq!(nearest_speed(115_200).0, 115_200);
        assert_eq!(nearest_speed(100_000).0, 115_200);
        assert_eq!(nearest_speed(0).0, 300);
        assert_eq!(nearest_speed(u32::MAX).0, 4_000_000);
    }

    #[test]
    fn opens_a_pty_raw_with_the_settings() {
        let pty = openpty(None, None).unwrap();
        let path = nix::unistd::ttyname(&pty.slave).unwrap();
        let config = TtyConfig {
            path: path.display().to_string(),
            speed: 57_600,
            flow_control: FlowControl::Hardware,
            local: true,
            hangup_on_close: false,
        };
        let fd = open_tty(&config).unwrap();
        let t = tcgetattr(&fd).unwrap();
        assert!(
            t.control_flags
                .contains(ControlFlags::CLOCAL | ControlFlags::CRTSCTS)
        );
        assert!(!t.control_flags.contains(ControlFlags::HUPCL));
        assert!(
            !t.local_flags
                .contains(nix::sys::termios::LocalFlags::ICANON)
        );
        assert_eq!(
            nix::sys::termios::cfgetospeed(&t),
            BaudRate::B57600,
            "speed applied"
        );
    }

    #[test]
    fn refuses_bad_paths() {
        let bad = TtyConfig {
            path: String::new(),
            speed: 9600,
            flow_control: FlowControl::None,
            local: true,
            hangup_on_close: false,
        };
        assert!(open_tty(&bad).is_err());
        let missing = TtyConfig {
            path: "/dev/does-not-exist-dialgate".into(),
            ..bad
        };
        assert_eq!(
            open_tty(&missing).unwrap_err().kind(),
            io::ErrorKind::NotFound
        );
    }
}
