//! A test host for the serial plugin that really opens ttys: a [`HostServices`] implementation
//! (what routerd will be) over pty pairs. The test holds each pty's master; the plugin's
//! config names the slave's path, which the host opens, puts in raw mode with the requested
//! termios settings, and reads in a poll loop ([`pump`]), handing every chunk to the plugin.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::os::fd::{AsFd, OwnedFd};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use dialgate_plugin_host::abi::{
    CloseReason, Direction, FlowControl, HandleId, HostError, LinkDownCause, LinkId, LinkInfo,
    LinkParams, LogLevel, ModemControl, ModemStatus, TimerId, Timestamp, TtySettings,
};
use dialgate_plugin_host::{HostServices, PluginInstance};
use dialgate_plugin_sdk::{HostHandle, Plugin};
use dialgate_plugin_serial::Serial;
use dialgate_wire::hdlc::{Decoder, Encoder};
use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::stat::Mode;
use nix::sys::termios::{
    BaudRate, ControlFlags, InputFlags, SetArg, cfmakeraw, cfsetspeed, tcgetattr, tcsetattr,
};

/// How long tests wait for something that should happen at once.
pub const PATIENCE: Duration = Duration::from_secs(5);

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// A pty pair: the test's master, and the slave's path for the plugin's config.
#[derive(Debug)]
pub struct Pty {
    /// The master: what the "peer" reads and writes.
    pub master: OwnedFd,
    /// The slave's path, e.g. `/dev/pts/3`.
    pub path: String,
    /// The slave as `openpty` returned it, kept open so that the pair survives until the
    /// host opens the path (and to read its termios back).
    pub slave: OwnedFd,
}

impl Pty {
    /// Opens a pty pair with a raw master.
    pub fn new() -> Pty {
        let pair = nix::pty::openpty(None, None).expect("openpty");
        let mut t = tcgetattr(&pair.master).expect("tcgetattr master");
        cfmakeraw(&mut t);
        tcsetattr(&pair.master, SetArg::TCSANOW, &t).expect("tcsetattr master");
        let path = nix::unistd::ttyname(&pair.slave)
            .expect("ttyname")
            .to_str()
            .expect("UTF-8 pty path")
            .to_owned();
        Pty {
            master: pair.master,
            path,
            slave: pair.slave,
        }
    }

    /// Writes all of `bytes` to the master.
    pub fn write(&self, bytes: &[u8]) {
        write_all(self.master.as_fd(), bytes);
    }

    /// Reads from the master what arrives within `wait` (at least one read's worth when
    /// anything comes), until `quiet` passes without more.
    pub fn read(&self, wait: Duration, quiet: Duration) -> Vec<u8> {
        let mut out = Vec::new();
        let mut buf = [0u8; 4096];
        let deadline = Instant::now() + wait;
        loop {
            let left = if out.is_empty() {
                deadline.saturating_duration_since(Instant::now())
            } else {
                quiet
            };
            if !readable(self.master.as_fd(), left) {
                return out;
            }
            match nix::unistd::read(&self.master, &mut buf) {
                Ok(0) => return out,
                Ok(n) => out.extend_from_slice(buf.get(..n).expect("read length")),
                Err(Errno::EINTR | Errno::EAGAIN) => {}
                Err(e) => panic!("reading the pty master: {e}"),
            }
        }
    }
}

/// Waits up to `wait` for `fd` to be readable.
pub fn readable(fd: std::os::fd::BorrowedFd<'_>, wait: Duration) -> bool {
    let ms = u16::try_from(wait.as_millis()).unwrap_or(u16::MAX);
    let mut fds = [PollFd::new(fd, PollFlags::POLLIN)];
    matches!(poll(&mut fds, PollTimeout::from(ms)), Ok(n) if n > 0)
}

/// Writes all of `bytes` to a (possibly non-blocking) fd.
pub fn write_all(fd: std::os::fd::BorrowedFd<'_>, mut bytes: &[u8]) {
    while !bytes.is_empty() {
        match nix::unistd::write(fd, bytes) {
            Ok(n) => bytes = bytes.get(n..).unwrap_or_default(),
            Err(Errno::EINTR) => {}
            Err(Errno::EAGAIN) => {
                let mut fds = [PollFd::new(fd, PollFlags::POLLOUT)];
                let _ = poll(&mut fds, PollTimeout::from(100u16));
            }
            Err(e) => panic!("write: {e}"),
        }
    }
}

/// HDLC-encodes `frames` with `accm` (RFC 1662 §4), each with its opening flag.
pub fn hdlc(frames: &[&[u8]], accm: u32) -> Vec<u8> {
    let enc = Encoder::new().with_accm(accm);
    let mut out = Vec::new();
    for f in frames {
        enc.encode(f, &mut out);
    }
    out
}

/// Decodes every complete frame in `wire` with receive ACCM `accm`.
pub fn unhdlc(wire: &[u8], accm: u32) -> Vec<Vec<u8>> {
    let mut dec = Decoder::new(70_000).with_accm(accm);
    let mut out = Vec::new();
    dec.feed(wire, |f| out.push(f.to_vec()));
    out
}

/// What the plugin did to its host, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    Log(LogLevel, String),
    Opened {
        handle: HandleId,
        path: String,
        speed: u32,
        flow_control: FlowControl,
        local: bool,
        hangup_on_close: bool,
    },
    ModemControl(HandleId, ModemControl),
    Closed(HandleId),
    LinkUp {
        link: LinkId,
        direction: Direction,
        peer: String,
        called_number: String,
        speed_bps: u64,
    },
    LinkDown(LinkId, LinkDownCause, String),
    Frame(LinkId, Vec<u8>),
}

/// One open tty.
#[derive(Debug)]
struct Tty {
    handle: HandleId,
    fd: OwnedFd,
}

/// The shared state behind [`PtyHost`].
#[derive(Debug)]
pub struct Inner {
    origin: Instant,
    /// Added to the real clock, so tests can jump ahead to timer deadlines.
    skew_nanos: AtomicU64,
    next_handle: AtomicU64,
    ttys: Mutex<Vec<Tty>>,
    timers: Mutex<BTreeMap<u64, Timestamp>>,
    events: Mutex<Vec<Event>>,
    /// Sizes of the chunks [`pump`] handed to the plugin, per handle.
    chunks: Mutex<Vec<(HandleId, usize)>>,
    /// Paths the host refuses by policy.
    pub denied: Mutex<Vec<String>>,
    /// Answer writes with `Busy`.
    pub write_busy: AtomicBool,
}

/// The test host: cheap to clone, one per plugin instance.
#[derive(Debug, Clone)]
pub struct PtyHost(pub Arc<Inner>);

impl Default for PtyHost {
    fn default() -> Self {
        PtyHost::new()
    }
}

impl PtyHost {
    /// A host with nothing open.
    pub fn new() -> PtyHost {
        PtyHost(Arc::new(Inner {
            origin: Instant::now(),
            skew_nanos: AtomicU64::new(0),
            next_handle: AtomicU64::new(100),
            ttys: Mutex::new(Vec::new()),
            timers: Mutex::new(BTreeMap::new()),
            events: Mutex::new(Vec::new()),
            chunks: Mutex::new(Vec::new()),
            denied: Mutex::new(Vec::new()),
            write_busy: AtomicBool::new(false),
        }))
    }

    /// The handle the plugin gets from this host.
    pub fn handle(&self) -> HostHandle {
        HostHandle::new(dialgate_plugin_host::host_box(self.clone()))
    }

    /// The serial plugin in-process on this host (the rlib, behind the real ABI host object).
    pub fn serial(&self, config: &str) -> Serial {
        Serial::new(config, self.handle()).expect("valid config")
    }

    /// The clock the plugin sees.
    pub fn clock(&self) -> Timestamp {
        let real = u64::try_from(self.0.origin.elapsed().as_nanos()).unwrap_or(u64::MAX);
        Timestamp::from_nanos(real.saturating_add(self.0.skew_nanos.load(Ordering::Relaxed)))
    }

    /// Moves the clock ahead by `d`.
    pub fn advance(&self, d: Duration) {
        let nanos = u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
        self.0.skew_nanos.fetch_add(nanos, Ordering::Relaxed);
    }

    /// Takes the events recorded so far.
    pub fn take(&self) -> Vec<Event> {
        std::mem::take(&mut *lock(&self.0.events))
    }

    /// Takes the events recorded so far, without log lines.
    pub fn take_quiet(&self) -> Vec<Event> {
        self.take()
            .into_iter()
            .filter(|e| !matches!(e, Event::Log(..)))
            .collect()
    }

    /// The armed timers and their deadlines.
    pub fn timers(&self) -> Vec<(TimerId, Timestamp)> {
        lock(&self.0.timers)
            .iter()
            .map(|(t, d)| (TimerId(*t), *d))
            .collect()
    }

    /// Removes and returns the timers due now.
    pub fn due_timers(&self) -> Vec<TimerId> {
        let now = self.clock();
        let mut timers = lock(&self.0.timers);
        let due: Vec<u64> = timers
            .iter()
            .filter(|(_, d)| **d <= now)
            .map(|(t, _)| *t)
            .collect();
        for t in &due {
            timers.remove(t);
        }
        due.into_iter().map(TimerId).collect()
    }

    /// The handles open now.
    pub fn handles(&self) -> Vec<HandleId> {
        lock(&self.0.ttys).iter().map(|t| t.handle).collect()
    }

    /// The sizes of the chunks handed to the plugin so far.
    pub fn chunks(&self) -> Vec<(HandleId, usize)> {
        lock(&self.0.chunks).clone()
    }

    /// Reads whatever is ready on the open ttys within `wait`: data, or a hangup (the tty is
    /// then closed, as routerd does).
    pub fn read_ready(&self, wait: Duration) -> Vec<Input> {
        let ttys = lock(&self.0.ttys);
        let ms = u16::try_from(wait.as_millis()).unwrap_or(u16::MAX);
        let mut fds: Vec<PollFd<'_>> = ttys
            .iter()
            .map(|t| PollFd::new(t.fd.as_fd(), PollFlags::POLLIN))
            .collect();
        if fds.is_empty() {
            drop(fds);
            drop(ttys);
            std::thread::sleep(wait);
            return Vec::new();
        }
        match poll(&mut fds, PollTimeout::from(ms)) {
            Ok(n) if n > 0 => {}
            _ => return Vec::new(),
        }
        let ready: Vec<(usize, PollFlags)> = fds
            .iter()
            .enumerate()
            .filter_map(|(i, p)| p.revents().filter(|r| !r.is_empty()).map(|r| (i, r)))
            .collect();
        drop(fds);
        let mut out = Vec::new();
        let mut buf = [0u8; 4096];
        for (i, revents) in ready {
            let Some(tty) = ttys.get(i) else { continue };
            if revents.contains(PollFlags::POLLIN) {
                match nix::unistd::read(&tty.fd, &mut buf) {
                    Ok(n) if n > 0 => {
                        let data = buf.get(..n).expect("read length").to_vec();
                        out.push(Input::Data(tty.handle, data));
                        continue;
                    }
                    // A tty reads end of file once it hung up.
                    Ok(_) => out.push(Input::Closed(tty.handle, CloseReason::Hangup)),
                    Err(Errno::EAGAIN | Errno::EINTR) => continue,
                    // A pty slave whose master closed reads EIO: the line hung up.
                    Err(Errno::EIO) => out.push(Input::Closed(tty.handle, CloseReason::Hangup)),
                    Err(e) => out.push(Input::Closed(
                        tty.handle,
                        CloseReason::Error { errno: e as i32 },
                    )),
                }
            } else if revents.intersects(PollFlags::POLLHUP | PollFlags::POLLERR) {
                out.push(Input::Closed(tty.handle, CloseReason::Hangup));
            }
        }
        drop(ttys);
        for input in &out {
            match input {
                Input::Closed(h, _) => lock(&self.0.ttys).retain(|t| t.handle != *h),
                Input::Data(h, d) => lock(&self.0.chunks).push((*h, d.len())),
            }
        }
        out
    }
}

/// What the host read from a tty.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    Data(HandleId, Vec<u8>),
    Closed(HandleId, CloseReason),
}

/// The termios speed for a bit rate.
fn baud(speed: u32) -> Option<BaudRate> {
    Some(match speed {
        50 => BaudRate::B50,
        75 => BaudRate::B75,
        110 => BaudRate::B110,
        134 => BaudRate::B134,
        150 => BaudRate::B150,
        200 => BaudRate::B200,
        300 => BaudRate::B300,
        600 => BaudRate::B600,
        1200 => BaudRate::B1200,
        1800 => BaudRate::B1800,
        2400 => BaudRate::B2400,
        4800 => BaudRate::B4800,
        9600 => BaudRate::B9600,
        19200 => BaudRate::B19200,
        38400 => BaudRate::B38400,
        57600 => BaudRate::B57600,
        115200 => BaudRate::B115200,
        230400 => BaudRate::B230400,
        460800 => BaudRate::B460800,
        500000 => BaudRate::B500000,
        576000 => BaudRate::B576000,
        921600 => BaudRate::B921600,
        1000000 => BaudRate::B1000000,
        1152000 => BaudRate::B1152000,
        1500000 => BaudRate::B1500000,
        2000000 => BaudRate::B2000000,
        2500000 => BaudRate::B2500000,
        3000000 => BaudRate::B3000000,
        3500000 => BaudRate::B3500000,
        4000000 => BaudRate::B4000000,
        _ => return None,
    })
}

fn io_error(e: Errno, what: &str) -> HostError {
    HostError::Io {
        errno: e as i32,
        message: format!("{what}: {e}").into(),
    }
}

impl HostServices for PtyHost {
    fn now(&self) -> Timestamp {
        self.clock()
    }
    fn log(&self, level: LogLevel, message: &str) {
        if std::env::var_os("SERIAL_TEST_LOG").is_some() {
            eprintln!("[{level:?}] {message}");
        }
        lock(&self.0.events).push(Event::Log(level, message.to_owned()));
    }
    fn set_timer(&self, timer: TimerId, deadline: Timestamp) {
        lock(&self.0.timers).insert(timer.0, deadline);
    }
    fn cancel_timer(&self, timer: TimerId) {
        lock(&self.0.timers).remove(&timer.0);
    }

    /// Opens the tty non-blocking, raw, with the requested speed, flow control and modem
    /// line handling.
    fn open_tty(&self, settings: TtySettings<'_>) -> Result<HandleId, HostError> {
        let path = settings.path.as_str();
        if lock(&self.0.denied).iter().any(|d| d == path) {
            return Err(HostError::Denied {
                message: format!("{path} is not an allowed tty").into(),
            });
        }
        let speed = baud(settings.speed).ok_or_else(|| HostError::Invalid {
            message: format!("speed {}", settings.speed).into(),
        })?;
        let fd = nix::fcntl::open(
            PathBuf::from(path).as_path(),
            OFlag::O_RDWR | OFlag::O_NOCTTY | OFlag::O_NONBLOCK | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| io_error(e, path))?;
        let mut t = tcgetattr(&fd).map_err(|e| io_error(e, "tcgetattr"))?;
        cfmakeraw(&mut t);
        cfsetspeed(&mut t, speed).map_err(|e| io_error(e, "cfsetspeed"))?;
        t.control_flags.insert(ControlFlags::CREAD);
        t.control_flags.set(ControlFlags::CLOCAL, settings.local);
        t.control_flags
            .set(ControlFlags::HUPCL, settings.hangup_on_close);
        t.control_flags.set(
            ControlFlags::CRTSCTS,
            settings.flow_control == FlowControl::Hardware,
        );
        t.input_flags.set(
            InputFlags::IXON | InputFlags::IXOFF,
            settings.flow_control == FlowControl::Software,
        );
        tcsetattr(&fd, SetArg::TCSANOW, &t).map_err(|e| io_error(e, "tcsetattr"))?;
        let handle = HandleId(self.0.next_handle.fetch_add(1, Ordering::Relaxed));
        lock(&self.0.ttys).push(Tty { handle, fd });
        lock(&self.0.events).push(Event::Opened {
            handle,
            path: path.to_owned(),
            speed: settings.speed,
            flow_control: settings.flow_control,
            local: settings.local,
            hangup_on_close: settings.hangup_on_close,
        });
        Ok(handle)
    }

    fn set_modem_control(&self, handle: HandleId, control: ModemControl) -> Result<(), HostError> {
        lock(&self.0.events).push(Event::ModemControl(handle, control));
        Ok(())
    }

    /// Writes all of it, waiting up to a second for room (then `Busy`).
    fn write(&self, handle: HandleId, mut bytes: &[u8]) -> Result<(), HostError> {
        if self.0.write_busy.load(Ordering::Relaxed) {
            return Err(HostError::Busy);
        }
        let ttys = lock(&self.0.ttys);
        let tty = ttys
            .iter()
            .find(|t| t.handle == handle)
            .ok_or(HostError::Closed)?;
        let deadline = Instant::now() + Duration::from_secs(1);
        while !bytes.is_empty() {
            match nix::unistd::write(&tty.fd, bytes) {
                Ok(n) => bytes = bytes.get(n..).unwrap_or_default(),
                Err(Errno::EINTR) => {}
                Err(Errno::EAGAIN) if Instant::now() < deadline => {
                    let mut fds = [PollFd::new(tty.fd.as_fd(), PollFlags::POLLOUT)];
                    let _ = poll(&mut fds, PollTimeout::from(50u16));
                }
                Err(Errno::EAGAIN) => return Err(HostError::Busy),
                Err(e) => return Err(io_error(e, "write")),
            }
        }
        Ok(())
    }

    fn close(&self, handle: HandleId) {
        lock(&self.0.ttys).retain(|t| t.handle != handle);
        lock(&self.0.events).push(Event::Closed(handle));
    }

    fn link_up(&self, link: LinkId, info: LinkInfo<'_>) -> Result<(), HostError> {
        lock(&self.0.events).push(Event::LinkUp {
            link,
            direction: info.direction,
            peer: info.peer.as_str().to_owned(),
            called_number: info.called_number.as_str().to_owned(),
            speed_bps: info.speed_bps,
        });
        Ok(())
    }

    fn link_down(&self, link: LinkId, cause: LinkDownCause, message: &str) {
        lock(&self.0.events).push(Event::LinkDown(link, cause, message.to_owned()));
    }

    fn deliver_frame(&self, link: LinkId, frame: &[u8]) -> Result<(), HostError> {
        lock(&self.0.events).push(Event::Frame(link, frame.to_vec()));
        Ok(())
    }
}

/// What the host drives: the plugin in-process ([`Serial`]) or behind the ABI
/// ([`PluginInstance`], in-process or loaded from the cdylib).
pub trait Target {
    fn start(&mut self, now: Timestamp);
    fn stop(&mut self, now: Timestamp);
    fn on_data(&mut self, now: Timestamp, handle: HandleId, bytes: &[u8]);
    fn on_closed(&mut self, now: Timestamp, handle: HandleId, reason: CloseReason);
    fn on_timer(&mut self, now: Timestamp, timer: TimerId);
    fn on_modem_status(&mut self, now: Timestamp, handle: HandleId, status: ModemStatus);
    fn send_frame(&mut self, now: Timestamp, link: LinkId, frame: &[u8]);
    fn set_link_params(&mut self, now: Timestamp, link: LinkId, params: LinkParams);
}

impl Target for Serial {
    fn start(&mut self, now: Timestamp) {
        Plugin::start(self, now).expect("start");
    }
    fn stop(&mut self, now: Timestamp) {
        Plugin::stop(self, now).expect("stop");
    }
    fn on_data(&mut self, now: Timestamp, handle: HandleId, bytes: &[u8]) {
        Plugin::on_data(self, now, handle, bytes).expect("on_data");
    }
    fn on_closed(&mut self, now: Timestamp, handle: HandleId, reason: CloseReason) {
        Plugin::on_closed(self, now, handle, reason).expect("on_closed");
    }
    fn on_timer(&mut self, now: Timestamp, timer: TimerId) {
        Plugin::on_timer(self, now, timer).expect("on_timer");
    }
    fn on_modem_status(&mut self, now: Timestamp, handle: HandleId, status: ModemStatus) {
        Plugin::on_modem_status(self, now, handle, status).expect("on_modem_status");
    }
    fn send_frame(&mut self, now: Timestamp, link: LinkId, frame: &[u8]) {
        Plugin::send_frame(self, now, link, frame).expect("send_frame");
    }
    fn set_link_params(&mut self, now: Timestamp, link: LinkId, params: LinkParams) {
        Plugin::set_link_params(self, now, link, params).expect("set_link_params");
    }
}

impl Target for PluginInstance {
    fn start(&mut self, now: Timestamp) {
        PluginInstance::start(self, now).expect("start");
    }
    fn stop(&mut self, now: Timestamp) {
        PluginInstance::stop(self, now).expect("stop");
    }
    fn on_data(&mut self, now: Timestamp, handle: HandleId, bytes: &[u8]) {
        PluginInstance::on_data(self, now, handle, bytes).expect("on_data");
    }
    fn on_closed(&mut self, now: Timestamp, handle: HandleId, reason: CloseReason) {
        PluginInstance::on_closed(self, now, handle, reason).expect("on_closed");
    }
    fn on_timer(&mut self, now: Timestamp, timer: TimerId) {
        PluginInstance::on_timer(self, now, timer).expect("on_timer");
    }
    fn on_modem_status(&mut self, now: Timestamp, handle: HandleId, status: ModemStatus) {
        PluginInstance::on_modem_status(self, now, handle, status).expect("on_modem_status");
    }
    fn send_frame(&mut self, now: Timestamp, link: LinkId, frame: &[u8]) {
        PluginInstance::send_frame(self, now, link, frame).expect("send_frame");
    }
    fn set_link_params(&mut self, now: Timestamp, link: LinkId, params: LinkParams) {
        PluginInstance::set_link_params(self, now, link, params).expect("set_link_params");
    }
}

/// Fires the timers that are due.
pub fn fire_timers(host: &PtyHost, target: &mut impl Target) {
    for timer in host.due_timers() {
        target.on_timer(host.clock(), timer);
    }
}

/// One turn of the host's loop: read what is ready within `wait`, hand it to the plugin,
/// then fire due timers. Returns how many inputs were handled.
pub fn pump(host: &PtyHost, target: &mut impl Target, wait: Duration) -> usize {
    fire_timers(host, target);
    let inputs = host.read_ready(wait);
    for input in &inputs {
        match input {
            Input::Data(h, bytes) => target.on_data(host.clock(), *h, bytes),
            Input::Closed(h, reason) => target.on_closed(host.clock(), *h, *reason),
        }
    }
    fire_timers(host, target);
    inputs.len()
}

/// Pumps until `done` holds for the events so far (which it may consume), or panics after
/// [`PATIENCE`].
pub fn pump_until(
    host: &PtyHost,
    target: &mut impl Target,
    mut done: impl FnMut(&[Event]) -> bool,
) -> Vec<Event> {
    let deadline = Instant::now() + PATIENCE;
    let mut seen = Vec::new();
    loop {
        seen.extend(
            host.take()
                .into_iter()
                .filter(|e| !matches!(e, Event::Log(..))),
        );
        if done(&seen) {
            return seen;
        }
        assert!(
            Instant::now() < deadline,
            "timed out; events so far: {seen:?}"
        );
        pump(host, target, Duration::from_millis(20));
    }
}

/// The frames among `events`.
pub fn frames(events: &[Event]) -> Vec<(LinkId, Vec<u8>)> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Frame(l, f) => Some((*l, f.clone())),
            _ => None,
        })
        .collect()
}

/// The one answer port config for a pty.
pub fn answer_config(path: &str) -> String {
    format!("[[ports]]\nname = \"p0\"\ndevice = \"{path}\"\n")
}
