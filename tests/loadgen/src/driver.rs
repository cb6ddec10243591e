//! The tokio driver: one thread (a current-thread runtime), one task per control connection,
//! one reader task per GRE socket, a launcher that keeps the setup rate and the number of
//! setups in flight, and a reporter.
//!
//! Per connection the state is a [`Conn`] behind an `Rc<RefCell<_>>`, shared by the
//! connection's task (TCP, timers, events) and the GRE reader (which finds it by destination
//! address and Call ID, hands it the packet and sends what it answers at once). Timers are
//! tokio's (a hierarchical wheel); buffers for reads and packet building are shared scratch
//! space, so a session costs its protocol state and little more.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::io::{self, Write as _};
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::AsyncWriteExt as _;
use tokio::io::unix::AsyncFd;
use tokio::net::{TcpSocket, TcpStream};
use tokio::sync::Notify;

use crate::client::{Conn, ConnEvent, Failure, Settings};
use crate::gre_socket::{self, GreSocket};
use crate::stats::{Histogram, Report, Stats};

/// How GRE leaves and enters the load generator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GreMode {
    /// One unbound raw socket; the source of each packet is named with `IP_PKTINFO`.
    Shared,
    /// One raw socket bound to each source address.
    PerSource,
}

/// Everything a run needs.
#[derive(Debug, Clone)]
pub struct RunConfig {
    /// The server: address and port (1723).
    pub target: SocketAddrV4,
    /// Source addresses, used round-robin, one per control connection.
    pub sources: Vec<Ipv4Addr>,
    /// Sessions (calls) to set up in total.
    pub sessions: u64,
    /// Setups started per second (`None`: as fast as `in_flight` allows).
    pub rate: Option<f64>,
    /// Most sessions in setup at once.
    pub in_flight: u64,
    /// How each session is set up.
    pub settings: Settings,
    /// GRE sockets.
    pub gre_mode: GreMode,
    /// Progress report interval (`None`: final report only).
    pub report_interval: Option<Duration>,
    /// Reports as JSON lines instead of text.
    pub json: bool,
    /// Stop everything after this long (`None`: when every session is over, or on SIGINT /
    /// SIGTERM).
    pub duration: Option<Duration>,
    /// Seed for Call IDs and PPP magic numbers (`None`: from the OS).
    pub seed: Option<u64>,
}

/// A connection's state, shared by its task and the GRE reader.
struct ConnCell {
    conn: RefCell<Conn>,
    /// Wakes the task: GRE arrived, or the run is stopping.
    notify: Notify,
    src: Ipv4Addr,
}

/// State shared by every task of the run (single-threaded).
struct Shared {
    config: RunConfig,
    stats: RefCell<Stats>,
    /// Latencies since the last report.
    interval_latency: RefCell<Histogram>,
    /// (our address, our Call ID) -> connection, for GRE.
    calls: RefCell<HashMap<(Ipv4Addr, u16), Rc<ConnCell>>>,
    /// Live connections, for the shutdown.
    conns: RefCell<HashMap<u64, Rc<ConnCell>>>,
    /// A setup finished (the launcher may start another) or a connection ended.
    progress: Notify,
    stopping: Cell<bool>,
    started: Instant,
    last_up: Cell<Option<Instant>>,
    gre: Gre,
    /// Scratch space for building GRE packets and reading TCP.
    scratch: RefCell<Vec<u8>>,
}

/// The GRE sockets.
enum Gre {
    Shared(Rc<AsyncFd<GreSocket>>),
    PerSource(HashMap<Ipv4Addr, Rc<AsyncFd<GreSocket>>>),
}

const SCRATCH: usize = 4096;
const SOCKET_BUFFER: usize = 8 << 20;

impl Shared {
    fn send_gre(&self, src: Ipv4Addr, packet: &[u8]) {
        let dst = *self.config.target.ip();
        let r = match &self.gre {
            Gre::Shared(sock) => sock.get_ref().send_from(src, dst, packet),
            Gre::PerSource(map) => match map.get(&src) {
                Some(sock) => sock.get_ref().send_to(dst, packet),
                None => Err(io::Error::other("no socket for the source")),
            },
        };
        let mut stats = self.stats.borrow_mut();
        match r {
            Ok(()) => stats.gre_tx += 1,
            Err(_) => stats.gre_tx_errors += 1,
        }
    }

    /// Send every GRE packet `cell`'s connection has.
    fn flush_gre(&self, cell: &ConnCell) {
        let now = Instant::now();
        let mut scratch = self.scratch.borrow_mut();
        let mut conn = cell.conn.borrow_mut();
        while let Some(range) = conn.poll_gre_transmit(now, &mut scratch) {
            if let Some(packet) = scratch.get(range) {
                self.send_gre(cell.src, packet);
            }
        }
    }

    /// Count `cell`'s events, keep the Call ID table, place calls.
    fn drain(&self, cell: &Rc<ConnCell>) {
        let now = Instant::now();
        let mut conn = cell.conn.borrow_mut();
        if conn.wants_calls() {
            let mut calls = self.calls.borrow_mut();
            conn.place_calls(now, |id| {
                use std::collections::hash_map::Entry;
                match calls.entry((cell.src, id)) {
                    Entry::Vacant(v) => {
                        v.insert(Rc::clone(cell));
                        true
                    }
                    Entry::Occupied(_) => false,
                }
            });
        }
        while let Some(id) = conn.poll_released() {
            self.calls.borrow_mut().remove(&(cell.src, id));
        }
        let mut progress = false;
        let mut stats = self.stats.borrow_mut();
        while let Some(event) = conn.poll_event() {
            match event {
                ConnEvent::ControlUp => stats.connections_established += 1,
                ConnEvent::SessionUp { latency, .. } => {
                    stats.up(latency);
                    self.interval_latency.borrow_mut().record(latency);
                    self.last_up.set(Some(now));
                    progress = true;
                }
                ConnEvent::SessionFailed { failure, .. } => {
                    stats.fail(failure);
                    progress = true;
                }
                ConnEvent::SessionDown { lost, .. } => stats.down(lost),
                ConnEvent::EchoSent => stats.echo_sent += 1,
                ConnEvent::EchoAnswered => stats.echo_answered += 1,
                ConnEvent::CallIdCollision => stats.call_id_collisions += 1,
            }
        }
        if progress {
            self.progress.notify_one();
        }
    }

    /// Sessions in setup now.
    fn in_setup(&self) -> u64 {
        let s = self.stats.borrow();
        s.sessions_started
            .saturating_sub(s.sessions_up)
            .saturating_sub(s.failed())
    }

    fn report(&self, kind: &'static str, interval: Duration, interval_up: u64) -> Report {
        let stats = self.stats.borrow();
        let ramp = self.last_up.get().map_or(Duration::ZERO, |t| {
            t.saturating_duration_since(self.started)
        });
        let latency = self.interval_latency.replace(Histogram::default());
        Report::new(
            kind,
            &stats,
            self.started.elapsed(),
            ramp,
            interval,
            interval_up,
            &latency,
        )
    }

    fn print(&self, report: &Report) {
        let text = if self.config.json {
            report.json()
        } else {
            report.text()
        };
        let mut out = io::stdout().lock();
        let _ = writeln!(out, "{}", text.trim_end());
        let _ = out.flush();
    }

    /// Stop every connection.
    fn stop(&self) {
        if self.stopping.replace(true) {
            return;
        }
        let now = Instant::now();
        let conns: Vec<Rc<ConnCell>> = self.conns.borrow().values().cloned().collect();
        for cell in conns {
            cell.conn.borrow_mut().shutdown(now);
            cell.notify.notify_one();
        }
        self.progress.notify_one();
    }
}

fn connect_failure(e: &io::Error) -> Failure {
    match e.kind() {
        io::ErrorKind::ConnectionRefused => Failure::TcpRefused,
        _ => Failure::TcpError,
    }
}

fn far_future() -> Instant {
    Instant::now() + Duration::from_secs(86_400)
}

/// Open the TCP connection from `src`.
async fn connect(src: Ipv4Addr, target: SocketAddrV4) -> io::Result<TcpStream> {
    let socket = TcpSocket::new_v4()?;
    socket.bind(SocketAddr::from((src, 0)))?;
    let stream = socket.connect(SocketAddr::V4(target)).await?;
    stream.set_nodelay(true)?;
    Ok(stream)
}

/// One connection's task: TCP connect, then TCP, timers and events until it is over.
async fn run_conn(shared: Rc<Shared>, id: u64, cell: Rc<ConnCell>) {
    let sleep = tokio::time::sleep_until(far_future().into());
    tokio::pin!(sleep);

    // Connect, watching the setup deadline and the shutdown.
    let stream = {
        let connecting = connect(cell.src, shared.config.target);
        tokio::pin!(connecting);
        loop {
            let deadline = cell.conn.borrow().poll_timeout().unwrap_or_else(far_future);
            sleep.as_mut().reset(deadline.into());
            tokio::select! {
                r = &mut connecting => {
                    let now = Instant::now();
                    match r {
                        Ok(stream) => {
                            cell.conn.borrow_mut().connected(now);
                            break Some(stream);
                        }
                        Err(e) => {
                            cell.conn.borrow_mut().connect_failed(connect_failure(&e));
                            break None;
                        }
                    }
                }
                () = cell.notify.notified() => {}
                () = &mut sleep => cell.conn.borrow_mut().handle_timeout(Instant::now()),
            }
            shared.drain(&cell);
            if cell.conn.borrow().is_done() {
                break None;
            }
        }
    };
    if let Some(mut stream) = stream {
        let mut pending: Vec<u8> = Vec::new();
        loop {
            shared.drain(&cell);
            shared.flush_gre(&cell);
            // TCP output: write what fits now, keep the rest for when the socket is writable.
            cell.conn.borrow_mut().poll_tcp_transmit(&mut pending);
            if !pending.is_empty() {
                match stream.try_write(&pending) {
                    Ok(n) => {
                        pending.drain(..n);
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                    Err(_) => {
                        pending.clear();
                        cell.conn.borrow_mut().handle_tcp_closed(Instant::now());
                        continue;
                    }
                }
                if !pending.is_empty() && stream.write_all(&pending).await.is_err() {
                    cell.conn.borrow_mut().handle_tcp_closed(Instant::now());
                }
                pending.clear();
            }
            if cell.conn.borrow().is_done() {
                break;
            }
            let deadline = cell.conn.borrow().poll_timeout().unwrap_or_else(far_future);
            sleep.as_mut().reset(deadline.into());
            tokio::select! {
                r = stream.readable() => {
                    if r.is_err() {
                        cell.conn.borrow_mut().handle_tcp_closed(Instant::now());
                        continue;
                    }
                    read_tcp(&shared, &cell, &stream);
                }
                () = cell.notify.notified() => {}
                () = &mut sleep => cell.conn.borrow_mut().handle_timeout(Instant::now()),
            }
        }
        let _ = stream.shutdown().await;
    }
    shared.drain(&cell);
    // Forget whatever Call IDs are left (a connection that ends owns none).
    shared
        .calls
        .borrow_mut()
        .retain(|_, c| !Rc::ptr_eq(c, &cell));
    shared.conns.borrow_mut().remove(&id);
    shared.stats.borrow_mut().connections_open -= 1;
    shared.progress.notify_one();
}

/// Read what the TCP connection has (without waiting) into the connection.
fn read_tcp(shared: &Shared, cell: &ConnCell, stream: &TcpStream) {
    let mut scratch = shared.scratch.borrow_mut();
    loop {
        match stream.try_read(&mut scratch) {
            Ok(0) => {
                cell.conn.borrow_mut().handle_tcp_closed(Instant::now());
                return;
            }
            Ok(n) => {
                let bytes = scratch.get(..n).unwrap_or_default();
                cell.conn.borrow_mut().handle_tcp(Instant::now(), bytes);
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => {
                cell.conn.borrow_mut().handle_tcp_closed(Instant::now());
                return;
            }
        }
    }
}

/// Read GRE datagrams from `sock` and hand each to its connection.
async fn gre_reader(shared: Rc<Shared>, sock: Rc<AsyncFd<GreSocket>>) {
    let mut buf = vec![0u8; 65_536];
    loop {
        let Ok(mut guard) = sock.readable().await else {
            return;
        };
        let mut handled = 0u32;
        loop {
            match sock.get_ref().recv(&mut buf) {
                Ok(n) => {
                    if let Some(datagram) = buf.get_mut(..n) {
                        gre_datagram(&shared, datagram);
                    }
                    handled += 1;
                    if handled >= 256 {
                        break;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    guard.clear_ready();
                    break;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => {
                    guard.clear_ready();
                    break;
                }
            }
        }
        drop(guard);
        if handled >= 256 {
            tokio::task::yield_now().await;
        }
    }
}

fn gre_datagram(shared: &Shared, datagram: &mut [u8]) {
    shared.stats.borrow_mut().gre_rx += 1;
    let Some(rx) = gre_socket::split(datagram) else {
        shared.stats.borrow_mut().gre_rx_unmatched += 1;
        return;
    };
    if rx.src != *shared.config.target.ip() {
        shared.stats.borrow_mut().gre_rx_unmatched += 1;
        return;
    }
    let cell = shared.calls.borrow().get(&(rx.dst, rx.call_id)).cloned();
    let Some(cell) = cell else {
        shared.stats.borrow_mut().gre_rx_unmatched += 1;
        return;
    };
    let matched =
        cell.conn
            .borrow_mut()
            .handle_gre(Instant::now(), rx.call_id, rx.seq, rx.ack, rx.payload);
    if !matched {
        shared.stats.borrow_mut().gre_rx_unmatched += 1;
    }
    shared.flush_gre(&cell);
    cell.notify.notify_one();
}

/// Raise the open-file limit to what `wanted` descriptors need (up to the hard limit, or
/// beyond it when privileged). Returns the soft limit in force.
pub fn raise_fd_limit(wanted: u64) -> u64 {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    let Ok((soft, hard)) = getrlimit(Resource::RLIMIT_NOFILE) else {
        return 0;
    };
    if soft >= wanted {
        return soft;
    }
    if hard < wanted && setrlimit(Resource::RLIMIT_NOFILE, wanted, wanted).is_ok() {
        return wanted;
    }
    let target = wanted.min(hard);
    if setrlimit(Resource::RLIMIT_NOFILE, target, hard).is_ok() {
        target
    } else {
        soft
    }
}

/// Register a GRE socket with the reactor.
fn register(sock: GreSocket) -> io::Result<AsyncFd<GreSocket>> {
    // SAFETY: GreSocket owns its descriptor (an OwnedFd) for as long as the AsyncFd holds it
    // and always returns that same descriptor.
    unsafe { AsyncFd::register(sock) }.map_err(io::Error::from)
}

fn os_seed() -> u64 {
    let mut b = [0u8; 8];
    if getrandom::fill(&mut b).is_err() {
        // Seeds only spread Call IDs and magic numbers: the clock will do.
        return Instant::now().elapsed().as_nanos() as u64 ^ u64::from(std::process::id());
    }
    u64::from_le_bytes(b)
}

/// Run the load: returns the final report. Must be called inside a current-thread runtime's
/// `LocalSet`.
pub async fn run(config: RunConfig) -> io::Result<Report> {
    if config.sources.is_empty() {
        return Err(io::Error::other("no source addresses"));
    }
    let calls = u64::from(config.settings.calls_per_connection.max(1));
    let connections = config.sessions.div_ceil(calls);
    let gre = match config.gre_mode {
        GreMode::Shared => {
            let sock = GreSocket::open(None)?;
            sock.set_buffers(SOCKET_BUFFER);
            Gre::Shared(Rc::new(register(sock)?))
        }
        GreMode::PerSource => {
            let used = config
                .sources
                .len()
                .min(usize::try_from(connections).unwrap_or(usize::MAX));
            let mut map = HashMap::new();
            for src in config.sources.iter().take(used.max(1)) {
                let sock = GreSocket::open(Some(*src))?;
                sock.set_buffers(1 << 20);
                map.insert(*src, Rc::new(register(sock)?));
            }
            Gre::PerSource(map)
        }
    };
    let mut seed = config.seed.unwrap_or_else(os_seed);
    let shared = Rc::new(Shared {
        stats: RefCell::default(),
        interval_latency: RefCell::default(),
        calls: RefCell::default(),
        conns: RefCell::default(),
        progress: Notify::new(),
        stopping: Cell::new(false),
        started: Instant::now(),
        last_up: Cell::new(None),
        gre,
        scratch: RefCell::new(vec![0; SCRATCH]),
        config,
    });
    let readers: Vec<Rc<AsyncFd<GreSocket>>> = match &shared.gre {
        Gre::Shared(sock) => vec![Rc::clone(sock)],
        Gre::PerSource(map) => map.values().cloned().collect(),
    };
    let mut tasks = Vec::new();
    for sock in readers {
        tasks.push(tokio::task::spawn_local(gre_reader(
            Rc::clone(&shared),
            sock,
        )));
    }
    if let Some(every) = shared.config.report_interval {
        tasks.push(tokio::task::spawn_local(reporter(
            Rc::clone(&shared),
            every,
        )));
    }
    tasks.push(tokio::task::spawn_local(stopper(Rc::clone(&shared))));

    let settings = Arc::new(shared.config.settings.clone());
    let interval = shared
        .config
        .rate
        .filter(|r| *r > 0.0)
        .map(|r| Duration::from_secs_f64(calls as f64 / r));
    let start = Instant::now();
    for n in 0..connections {
        if shared.stopping.get() {
            break;
        }
        if let Some(every) = interval {
            let at = start + every.mul_f64(n as f64);
            tokio::time::sleep_until(at.into()).await;
        }
        while !shared.stopping.get()
            && shared.in_setup() + calls > shared.config.in_flight.max(calls)
        {
            shared.progress.notified().await;
        }
        if shared.stopping.get() {
            break;
        }
        let first = n * calls;
        let this = calls.min(shared.config.sessions - first);
        let mut conn_settings = Arc::clone(&settings);
        if this != calls {
            let mut s = (*settings).clone();
            s.calls_per_connection = this as u16;
            conn_settings = Arc::new(s);
        }
        let src = shared.config.sources[(n as usize) % shared.config.sources.len()];
        let conn_seed = crate::client::splitmix(&mut seed);
        let cell = Rc::new(ConnCell {
            conn: RefCell::new(Conn::new(conn_settings, first, conn_seed, Instant::now())),
            notify: Notify::new(),
            src,
        });
        {
            let mut stats = shared.stats.borrow_mut();
            stats.connections_started += 1;
            stats.connections_open += 1;
            stats.sessions_started += this;
        }
        shared.conns.borrow_mut().insert(n, Rc::clone(&cell));
        tokio::task::spawn_local(run_conn(Rc::clone(&shared), n, cell));
    }
    // Wait for every connection to end (the hold times, the duration or a signal end them).
    while !shared.conns.borrow().is_empty() {
        shared.progress.notified().await;
    }
    for t in tasks {
        t.abort();
    }
    let report = shared.report("final", Duration::ZERO, 0);
    shared.print(&report);
    Ok(report)
}

/// Print a progress report every `every`.
async fn reporter(shared: Rc<Shared>, every: Duration) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick.tick().await;
    let mut last_up = 0;
    let mut last = Instant::now();
    loop {
        tick.tick().await;
        let now = Instant::now();
        let up = shared.stats.borrow().sessions_up;
        let report = shared.report("progress", now - last, up - last_up);
        shared.print(&report);
        last_up = up;
        last = now;
    }
}

/// Stop on SIGINT, SIGTERM or the end of the duration.
async fn stopper(shared: Rc<Shared>) {
    use tokio::signal::unix::{SignalKind, signal};
    let deadline = shared
        .config
        .duration
        .map_or_else(far_future, |d| shared.started + d);
    let (Ok(mut int), Ok(mut term)) = (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    ) else {
        tokio::time::sleep_until(deadline.into()).await;
        shared.stop();
        return;
    };
    tokio::select! {
        _ = int.recv() => {}
        _ = term.recv() => {}
        () = tokio::time::sleep_until(deadline.into()) => {}
    }
    shared.stop();
}
