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
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
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
    /// Worker threads, each with its own share of the source addresses, connections and GRE
    /// socket (at least 1).
    pub threads: usize,
}

/// A connection's state, shared by its task and the GRE reader.
struct ConnCell {
    conn: RefCell<Conn>,
    /// Wakes the task: it has TCP output, an earlier deadline or is done, or the run is
    /// stopping.
    notify: Notify,
    src: Ipv4Addr,
    /// The deadline the task sleeps until: the GRE reader wakes it only when the connection
    /// needs an earlier one (most GRE packets only move the session along).
    armed: Cell<Instant>,
    /// Control messages the GRE path produced (a call cleared), for the task to write.
    tcp_out: RefCell<Vec<u8>>,
}

impl ConnCell {
    fn new(conn: Conn, src: Ipv4Addr) -> Self {
        Self {
            conn: RefCell::new(conn),
            notify: Notify::new(),
            src,
            armed: Cell::new(far_future()),
            tcp_out: RefCell::new(Vec::new()),
        }
    }

    /// Arm the task's timer for the connection's next deadline.
    fn rearm(&self, sleep: std::pin::Pin<&mut tokio::time::Sleep>) {
        let deadline = self.conn.borrow().poll_timeout().unwrap_or_else(far_future);
        self.armed.set(deadline);
        sleep.reset(deadline.into());
    }

    /// After input outside the task (GRE): wake the task if it has something to do.
    fn wake_if_needed(&self) {
        let mut conn = self.conn.borrow_mut();
        let output = conn.poll_tcp_transmit(&mut self.tcp_out.borrow_mut());
        if output
            || conn.is_done()
            || conn.wants_calls()
            || conn.poll_timeout().is_some_and(|t| t < self.armed.get())
        {
            self.notify.notify_one();
        }
    }
}

/// State shared by every task of the run (single-threaded).
struct Shared {
    config: RunConfig,
    /// Counters of the whole run, shared by the workers.
    totals: Arc<Mutex<Totals>>,
    /// Sessions this worker started, and those of them that came up or failed (its own
    /// in-flight bound).
    launched: Cell<u64>,
    finished: Cell<u64>,
    /// (our address, our Call ID) -> connection, for GRE.
    calls: RefCell<HashMap<(Ipv4Addr, u16), Rc<ConnCell>>>,
    /// Live connections, for the shutdown.
    conns: RefCell<HashMap<u64, Rc<ConnCell>>>,
    /// A setup finished (the launcher may start another) or a connection ended.
    progress: Notify,
    stopping: Cell<bool>,
    gre: Gre,
    /// Scratch space for building GRE packets and reading TCP.
    scratch: RefCell<Vec<u8>>,
    /// GRE packets waiting for one `sendmmsg` (shared socket only).
    tx: RefCell<TxQueue>,
}

/// GRE packets queued for the shared socket: their bytes back to back, with each one's
/// source address and range.
#[derive(Default)]
struct TxQueue {
    bytes: Vec<u8>,
    packets: Vec<(Ipv4Addr, std::ops::Range<usize>)>,
}

/// The run's counters, shared by the workers: the [`Stats`] (through `Deref`), the
/// latencies since the last progress report and when the last session came up.
#[derive(Default)]
struct Totals {
    stats: Stats,
    interval_latency: Histogram,
    last_up: Option<Instant>,
}

impl std::ops::Deref for Totals {
    type Target = Stats;
    fn deref(&self) -> &Stats {
        &self.stats
    }
}

impl std::ops::DerefMut for Totals {
    fn deref_mut(&mut self) -> &mut Stats {
        &mut self.stats
    }
}

impl Totals {
    /// A report of the run so far (takes the interval's latencies).
    fn report(
        &mut self,
        kind: &'static str,
        started: Instant,
        interval: Duration,
        interval_up: u64,
    ) -> Report {
        let ramp = self
            .last_up
            .map_or(Duration::ZERO, |t| t.saturating_duration_since(started));
        let latency = std::mem::take(&mut self.interval_latency);
        Report::new(
            kind,
            &self.stats,
            started.elapsed(),
            ramp,
            interval,
            interval_up,
            &latency,
        )
    }
}

fn lock(totals: &Mutex<Totals>) -> MutexGuard<'_, Totals> {
    totals
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn print(report: &Report, json: bool) {
    let text = if json { report.json() } else { report.text() };
    let mut out = io::stdout().lock();
    let _ = writeln!(out, "{}", text.trim_end());
    let _ = out.flush();
}

/// The GRE sockets.
enum Gre {
    Shared(Rc<AsyncFd<GreSocket>>),
    PerSource(HashMap<Ipv4Addr, Rc<AsyncFd<GreSocket>>>),
}

const SCRATCH: usize = 4096;
const SOCKET_BUFFER: usize = 8 << 20;

impl Shared {
    /// Send a GRE packet from `src`: at once on a per-source socket; queued for the next
    /// [`send_queued`](Self::send_queued) on the shared one.
    fn send_gre(&self, src: Ipv4Addr, packet: &[u8]) {
        let dst = *self.config.target.ip();
        let r = match &self.gre {
            Gre::Shared(_) => {
                let full = {
                    let mut tx = self.tx.borrow_mut();
                    let start = tx.bytes.len();
                    tx.bytes.extend_from_slice(packet);
                    let end = tx.bytes.len();
                    tx.packets.push((src, start..end));
                    tx.packets.len() >= gre_socket::MAX_BATCH
                };
                if full {
                    self.send_queued();
                }
                return;
            }
            Gre::PerSource(map) => match map.get(&src) {
                Some(sock) => sock.get_ref().send_to(dst, packet),
                None => Err(io::Error::other("no socket for the source")),
            },
        };
        let mut stats = self.lock();
        match r {
            Ok(()) => stats.gre_tx += 1,
            Err(_) => stats.gre_tx_errors += 1,
        }
    }

    /// Send the queued GRE packets (one `sendmmsg` per [`gre_socket::MAX_BATCH`]).
    fn send_queued(&self) {
        let Gre::Shared(sock) = &self.gre else {
            return;
        };
        let dst = *self.config.target.ip();
        let mut tx = self.tx.borrow_mut();
        let TxQueue { bytes, packets } = &mut *tx;
        let (mut sent, mut refused) = (0u64, 0u64);
        for chunk in packets.chunks(gre_socket::MAX_BATCH) {
            let batch: Vec<(Ipv4Addr, &[u8])> = chunk
                .iter()
                .filter_map(|(src, range)| Some((*src, bytes.get(range.clone())?)))
                .collect();
            let mut at = 0;
            while at < batch.len() {
                match sock
                    .get_ref()
                    .send_batch_from(dst, batch.get(at..).unwrap_or_default())
                {
                    Ok(n) if n > 0 => {
                        sent += n as u64;
                        at += n;
                    }
                    // The first packet left was refused: count it, try the rest.
                    _ => {
                        refused += 1;
                        at += 1;
                    }
                }
            }
        }
        bytes.clear();
        packets.clear();
        let mut stats = self.lock();
        stats.gre_tx += sent;
        stats.gre_tx_errors += refused;
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
        let mut done = 0;
        let mut stats = self.lock();
        while let Some(event) = conn.poll_event() {
            match event {
                ConnEvent::ControlUp => stats.connections_established += 1,
                ConnEvent::SessionUp { latency, .. } => {
                    stats.up(latency);
                    stats.interval_latency.record(latency);
                    stats.last_up = Some(now);
                    done += 1;
                }
                ConnEvent::SessionFailed { failure, .. } => {
                    stats.fail(failure);
                    done += 1;
                }
                ConnEvent::SessionDown { lost, .. } => stats.down(lost),
                ConnEvent::EchoSent => stats.echo_sent += 1,
                ConnEvent::EchoAnswered => stats.echo_answered += 1,
                ConnEvent::CallIdCollision => stats.call_id_collisions += 1,
            }
        }
        drop(stats);
        if done > 0 {
            self.finished.set(self.finished.get() + done);
            self.progress.notify_one();
        }
    }

    /// The run's counters.
    fn lock(&self) -> MutexGuard<'_, Totals> {
        lock(&self.totals)
    }

    /// Sessions of this worker in setup now.
    fn in_setup(&self) -> u64 {
        self.launched.get().saturating_sub(self.finished.get())
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
            cell.rearm(sleep.as_mut());
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
            shared.send_queued();
            // TCP output: write what fits now, keep the rest for when the socket is writable.
            pending.append(&mut cell.tcp_out.borrow_mut());
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
            cell.rearm(sleep.as_mut());
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
    shared.lock().connections_open -= 1;
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

/// Read GRE datagrams from `sock` (a batch per system call) and hand each to its
/// connection; the answers go out together after each batch.
async fn gre_reader(shared: Rc<Shared>, sock: Rc<AsyncFd<GreSocket>>) {
    let mut batch = gre_socket::RecvBatch::default();
    loop {
        let Ok(mut guard) = sock.readable().await else {
            return;
        };
        let mut handled = 0usize;
        loop {
            match sock.get_ref().recv_batch(&mut batch) {
                Ok(n) => {
                    for i in 0..n {
                        match batch.get_mut(i) {
                            Some(datagram) if !datagram.is_empty() => {
                                gre_datagram(&shared, datagram);
                            }
                            _ => {
                                let mut stats = shared.lock();
                                stats.gre_rx += 1;
                                stats.gre_rx_unmatched += 1;
                            }
                        }
                    }
                    shared.send_queued();
                    handled += n;
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
        shared.send_queued();
        drop(guard);
        if handled >= 256 {
            tokio::task::yield_now().await;
        }
    }
}

fn gre_datagram(shared: &Shared, datagram: &mut [u8]) {
    shared.lock().gre_rx += 1;
    let Some(rx) = gre_socket::split(datagram) else {
        shared.lock().gre_rx_unmatched += 1;
        return;
    };
    if rx.src != *shared.config.target.ip() {
        shared.lock().gre_rx_unmatched += 1;
        return;
    }
    let cell = shared.calls.borrow().get(&(rx.dst, rx.call_id)).cloned();
    let Some(cell) = cell else {
        shared.lock().gre_rx_unmatched += 1;
        return;
    };
    let matched =
        cell.conn
            .borrow_mut()
            .handle_gre(Instant::now(), rx.call_id, rx.seq, rx.ack, rx.payload);
    if !matched {
        shared.lock().gre_rx_unmatched += 1;
    }
    shared.flush_gre(&cell);
    shared.drain(&cell);
    cell.wake_if_needed();
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

/// Run the load on `config.threads` worker threads and return the final report (also
/// printed). Each worker has a current-thread runtime, its share of the source addresses
/// (by address modulo the number of workers; fewer workers if a share would be empty), every
/// n-th connection and its own GRE socket, which filters on those addresses. This thread
/// prints the progress reports and stops every worker on SIGINT, SIGTERM or the end of the
/// duration.
pub fn run(config: RunConfig) -> io::Result<Report> {
    if config.sources.is_empty() {
        return Err(io::Error::other("no source addresses"));
    }
    let mut threads = config.threads.max(1);
    let split = |n: usize| -> Vec<Vec<Ipv4Addr>> {
        (0..n)
            .map(|k| {
                config
                    .sources
                    .iter()
                    .filter(|a| u32::from(**a) as usize % n == k)
                    .copied()
                    .collect()
            })
            .collect()
    };
    let mut parts = split(threads);
    while threads > 1 && parts.iter().any(Vec::is_empty) {
        threads -= 1;
        parts = split(threads);
    }
    let totals = Arc::new(Mutex::new(Totals::default()));
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let mut seed = config.seed.unwrap_or_else(os_seed);
    let mut workers = Vec::new();
    for (index, sources) in parts.into_iter().enumerate() {
        let worker = Worker {
            index,
            count: threads,
            sources,
            seed: crate::client::splitmix(&mut seed),
            totals: Arc::clone(&totals),
            stop: Arc::clone(&stop),
        };
        let config = config.clone();
        let handle = std::thread::Builder::new()
            .name(format!("loadgen-{index}"))
            .spawn(move || worker.run(config));
        match handle {
            Ok(h) => workers.push(h),
            Err(e) => {
                stop.store(true, Ordering::Relaxed);
                return Err(e);
            }
        }
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(supervise(&config, &totals, &stop, started, &workers));
    let mut result = Ok(());
    for w in workers {
        match w.join() {
            Ok(Ok(())) => {}
            Ok(Err(e)) => result = Err(e),
            Err(_) => result = Err(io::Error::other("a worker thread panicked")),
        }
    }
    result?;
    let report = lock(&totals).report("final", started, Duration::ZERO, 0);
    print(&report, config.json);
    Ok(report)
}

/// Until every worker is done: progress reports, and the stop on a signal or the duration.
async fn supervise(
    config: &RunConfig,
    totals: &Mutex<Totals>,
    stop: &AtomicBool,
    started: Instant,
    workers: &[std::thread::JoinHandle<io::Result<()>>],
) {
    use tokio::signal::unix::{SignalKind, signal};
    let deadline = config.duration.map_or_else(far_future, |d| started + d);
    let mut int = signal(SignalKind::interrupt()).ok();
    let mut term = signal(SignalKind::terminate()).ok();
    let every = config.report_interval;
    let mut next_report = every.map_or_else(far_future, |e| started + e);
    let (mut last, mut last_up) = (started, 0);
    let poll = Duration::from_millis(50);
    while !workers.iter().all(std::thread::JoinHandle::is_finished) {
        let wake = (Instant::now() + poll).min(next_report).min(deadline);
        tokio::select! {
            _ = async { int.as_mut()?.recv().await }, if int.is_some() => {
                stop.store(true, Ordering::Relaxed);
            }
            _ = async { term.as_mut()?.recv().await }, if term.is_some() => {
                stop.store(true, Ordering::Relaxed);
            }
            () = tokio::time::sleep_until(wake.into()) => {}
        }
        let now = Instant::now();
        if now >= deadline {
            stop.store(true, Ordering::Relaxed);
        }
        if let Some(e) = every
            && now >= next_report
        {
            let report = {
                let mut t = lock(totals);
                let up = t.sessions_up;
                let r = t.report("progress", started, now - last, up - last_up);
                last_up = up;
                r
            };
            print(&report, config.json);
            last = now;
            next_report += e;
            if next_report <= now {
                next_report = now + e;
            }
        }
    }
}

/// One worker thread's share of the run.
struct Worker {
    index: usize,
    count: usize,
    sources: Vec<Ipv4Addr>,
    seed: u64,
    totals: Arc<Mutex<Totals>>,
    stop: Arc<AtomicBool>,
}

impl Worker {
    fn run(self, config: RunConfig) -> io::Result<()> {
        let stop = Arc::clone(&self.stop);
        let result = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .and_then(|runtime| {
                let local = tokio::task::LocalSet::new();
                local.block_on(&runtime, self.work(config))
            });
        if result.is_err() {
            // The others cannot finish the run without this worker's share.
            stop.store(true, Ordering::Relaxed);
        }
        result
    }

    async fn work(self, config: RunConfig) -> io::Result<()> {
        let calls = u64::from(config.settings.calls_per_connection.max(1));
        let connections = config.sessions.div_ceil(calls);
        let count = self.count as u64;
        let mine = (connections + count - 1 - self.index as u64) / count;
        let gre = match config.gre_mode {
            GreMode::Shared => {
                let sock = GreSocket::open(None)?;
                sock.set_buffers(SOCKET_BUFFER);
                if self.count > 1 {
                    sock.filter_destinations(self.count as u32, self.index as u32)?;
                }
                Gre::Shared(Rc::new(register(sock)?))
            }
            GreMode::PerSource => {
                let used = self
                    .sources
                    .len()
                    .min(usize::try_from(mine).unwrap_or(usize::MAX));
                let mut map = HashMap::new();
                for src in self.sources.iter().take(used.max(1)) {
                    let sock = GreSocket::open(Some(*src))?;
                    sock.set_buffers(1 << 20);
                    map.insert(*src, Rc::new(register(sock)?));
                }
                Gre::PerSource(map)
            }
        };
        let mut seed = self.seed;
        let shared = Rc::new(Shared {
            totals: self.totals,
            launched: Cell::new(0),
            finished: Cell::new(0),
            calls: RefCell::default(),
            conns: RefCell::default(),
            progress: Notify::new(),
            stopping: Cell::new(false),
            gre,
            scratch: RefCell::new(vec![0; SCRATCH]),
            tx: RefCell::default(),
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
        tasks.push(tokio::task::spawn_local(stopper(
            Rc::clone(&shared),
            self.stop,
        )));

        let settings = Arc::new(shared.config.settings.clone());
        let in_flight = shared.config.in_flight.div_ceil(count).max(calls);
        let interval = shared
            .config
            .rate
            .filter(|r| *r > 0.0)
            .map(|r| Duration::from_secs_f64(calls as f64 * count as f64 / r));
        let start = Instant::now();
        for j in 0..mine {
            let n = j * count + self.index as u64;
            if shared.stopping.get() {
                break;
            }
            if let Some(every) = interval {
                let at = start + every.mul_f64(j as f64);
                tokio::time::sleep_until(at.into()).await;
            }
            while !shared.stopping.get() && shared.in_setup() + calls > in_flight {
                shared.progress.notified().await;
            }
            if shared.stopping.get() {
                break;
            }
            let first = n * calls;
            let this = calls.min(shared.config.sessions.saturating_sub(first));
            let mut conn_settings = Arc::clone(&settings);
            if this != calls {
                let mut s = (*settings).clone();
                s.calls_per_connection = this as u16;
                conn_settings = Arc::new(s);
            }
            let Some(&src) = self.sources.get((j as usize) % self.sources.len().max(1)) else {
                break;
            };
            let conn_seed = crate::client::splitmix(&mut seed);
            let cell = Rc::new(ConnCell::new(
                Conn::new(conn_settings, first, conn_seed, Instant::now()),
                src,
            ));
            {
                let mut stats = shared.lock();
                stats.connections_started += 1;
                stats.connections_open += 1;
                stats.sessions_started += this;
            }
            shared.launched.set(shared.launched.get() + this);
            shared.conns.borrow_mut().insert(n, Rc::clone(&cell));
            tokio::task::spawn_local(run_conn(Rc::clone(&shared), n, cell));
        }
        // Wait for every connection to end (the hold times, the duration or a signal end
        // them).
        while !shared.conns.borrow().is_empty() {
            shared.progress.notified().await;
        }
        for t in tasks {
            t.abort();
        }
        Ok(())
    }
}

/// Stop this worker's connections when the run stops.
async fn stopper(shared: Rc<Shared>, stop: Arc<AtomicBool>) {
    let mut tick = tokio::time::interval(Duration::from_millis(20));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    while !stop.load(Ordering::Relaxed) {
        tick.tick().await;
    }
    shared.stop();
}
