//! One plugin instance as an actor: a tokio task owns the [`PluginInstance`] and is the only
//! caller of it. Everything that must reach the plugin (bytes read from its handles, timers,
//! packets for its sessions, relayed frames, commands) is a message on the actor's queue or
//! an entry in [`Core`]'s outbox; the plugin's calls into the host ([`PluginHost`]) only
//! update state and queue work, so they never block and never re-enter the plugin.
//!
//! A plugin that panics is disabled by [`PluginInstance`]; the actor then ends every session
//! of the instance with the reason and stops, and routerd goes on.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use dialgate_plugin_host::abi::{
    CloseReason, HandleId, HangupCause, HostError, IpAddress, LinkDownCause, LinkId, LinkInfo,
    LogLevel, ModemControl, ModemStatus, PppProtocol, SessionId, SessionInfo, SocketAddress,
    TimerId, Timestamp, TtySettings,
};
use dialgate_plugin_host::{CallError, HostServices, PluginInstance};
use serde::Serialize;
use tokio::io::unix::AsyncFd;
use tokio::net::TcpStream;
use tokio::sync::{Notify, mpsc, oneshot};

use super::clock;
use super::io::{self, IoKind, IoTable, Registrar};
use super::lan::{LanMsg, LanSend, Registration, parse_options};
use super::router::{Router, lock};
use super::session::{Core, Env, Out, RelayPeer};
use super::spec::LinkSpec;
use super::tty::{self, TtyConfig};

/// Depth of an actor's queue.
pub const QUEUE: usize = 1024;

/// How long a stopping instance waits for the runtime to drop its closed handles' tasks.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(2);

/// A relayed call between two actors.
#[derive(Debug)]
pub enum RelayMsg {
    /// To a dialing relay link: place a call for the answering side's session `back`.
    Open {
        /// The answering side.
        back: RelayPeer,
    },
    /// To the answering side: the outgoing call for your session on `link` is up.
    Up {
        /// The answering side's link.
        link: LinkId,
        /// The outgoing call.
        peer: RelayPeer,
    },
    /// Send this frame on `link`, untouched.
    Frame {
        /// The link.
        link: LinkId,
        /// The frame.
        buf: Vec<u8>,
    },
    /// The other side of the relay on `link` went down.
    Down {
        /// The link.
        link: LinkId,
        /// Why.
        reason: String,
        /// Why, for the plugin's hangup of the other leg.
        cause: HangupCause,
    },
}

/// Requests from the daemon.
#[derive(Debug)]
pub enum Command {
    /// End session `session` (if this instance owns it); answers whether it did.
    Kill {
        /// Session id.
        session: u64,
        /// Why (recorded).
        reason: String,
        /// The answer.
        done: oneshot::Sender<bool>,
    },
    /// End every session, stop the plugin and end the actor.
    Stop {
        /// Why (recorded for each session).
        reason: String,
        /// Answered when stopped.
        done: oneshot::Sender<()>,
    },
    /// Send a raw frame on a link (diagnostics and tests).
    SendFrame {
        /// The link.
        link: LinkId,
        /// The frame.
        buf: Vec<u8>,
    },
}

/// What reaches an actor.
#[derive(Debug)]
pub enum ActorMsg {
    /// Bytes read from a handle.
    Data {
        /// The handle.
        handle: HandleId,
        /// The bytes.
        buf: Vec<u8>,
    },
    /// A handle closed.
    Closed {
        /// The handle.
        handle: HandleId,
        /// Why.
        reason: CloseReason,
    },
    /// A listener accepted a connection.
    Accepted {
        /// The listener.
        listener: HandleId,
        /// The new connection.
        conn: HandleId,
        /// Who connected.
        peer: SocketAddress,
    },
    /// A connection is established.
    Connected {
        /// The handle.
        handle: HandleId,
    },
    /// A handle's write queue drained after a `Busy`.
    Writable {
        /// The handle.
        handle: HandleId,
    },
    /// A modem tty's status lines changed.
    Modem {
        /// The handle.
        handle: HandleId,
        /// The lines.
        status: ModemStatus,
    },
    /// An IP packet from the TUN for the session on `link`.
    Packet {
        /// The link.
        link: LinkId,
        /// The packet.
        buf: Vec<u8>,
    },
    /// A relayed call.
    Relay(RelayMsg),
    /// A request from the daemon.
    Command(Command),
    /// To a LAN-protocol plugin's actor: a session event or datagram of its protocol.
    Lan(LanMsg),
    /// To a link's actor: a LAN-protocol plugin's datagram for one of its sessions.
    LanSend(LanSend),
    /// To a link's actor: the plugin owning NCP `ncp` (re)registered; tell it about the
    /// sessions where that NCP is open.
    LanReplay {
        /// The NCP.
        ncp: u16,
    },
}

/// The state of a plugin instance, for the management API.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", content = "message", rename_all = "snake_case")]
pub enum InstanceState {
    /// Starting (`start` not yet returned).
    Starting,
    /// Running.
    Running,
    /// A call panicked: the instance is disabled and its sessions ended.
    Failed(String),
    /// `start` failed.
    StartFailed(String),
    /// Stopped.
    Stopped,
}

/// What the actor, its host callbacks and its I/O tasks share.
#[derive(Debug)]
pub struct InstanceShared {
    /// The link, router and queue.
    pub env: Env,
    /// Sessions and output.
    pub core: Mutex<Core>,
    /// Handles.
    pub io: Mutex<IoTable>,
    /// Wakes the actor (a timer set, output queued from a plugin thread).
    pub wake: Notify,
    /// The runtime I/O is registered with.
    pub rt: tokio::runtime::Handle,
    /// The instance's state.
    pub state: Mutex<InstanceState>,
    next_handle: AtomicU64,
}

impl InstanceShared {
    fn new_handle(&self) -> HandleId {
        HandleId(self.next_handle.fetch_add(1, Ordering::Relaxed))
    }

    fn log_prefix(&self) -> (&str, &str) {
        (&self.env.spec.plugin, &self.env.spec.name)
    }
}

impl Registrar for InstanceShared {
    fn register_tcp(&self, stream: TcpStream) -> HandleId {
        let id = self.new_handle();
        lock(&self.io).insert(id, IoKind::Tcp(Arc::new(stream)), Vec::new());
        id
    }

    fn start_tcp(&self, id: HandleId) {
        let mut io = lock(&self.io);
        let Some(stream) = io.tcp(id) else {
            return; // Closed meanwhile.
        };
        if let Some(out) = io.set_kind(id, IoKind::Tcp(stream.clone())) {
            let r = self.rt.spawn(io::tcp_reader(
                id,
                stream.clone(),
                self.env.tx.clone(),
                self.env.router.buffers.clone(),
            ));
            let w = self
                .rt
                .spawn(io::tcp_writer(id, stream, out, self.env.tx.clone()));
            io.add_task(id, r);
            io.add_task(id, w);
        }
    }
}

fn io_error(context: &str, e: &std::io::Error) -> HostError {
    HostError::Io {
        errno: e.raw_os_error().unwrap_or(0),
        message: format!("{context}: {e}").into(),
    }
}

/// The host callbacks of one plugin instance.
#[derive(Debug, Clone)]
pub struct PluginHost(pub Arc<InstanceShared>);

impl HostServices for PluginHost {
    fn now(&self) -> Timestamp {
        clock::timestamp()
    }

    fn log(&self, level: LogLevel, message: &str) {
        let (plugin, link) = self.0.log_prefix();
        match level {
            LogLevel::Error => tracing::error!(plugin, link, "{message}"),
            LogLevel::Warn => tracing::warn!(plugin, link, "{message}"),
            LogLevel::Info => tracing::info!(plugin, link, "{message}"),
            LogLevel::Debug => tracing::debug!(plugin, link, "{message}"),
            LogLevel::Trace => tracing::trace!(plugin, link, "{message}"),
        }
    }

    fn set_timer(&self, timer: TimerId, deadline: Timestamp) {
        lock(&self.0.core)
            .timers
            .insert(timer, clock::to_instant(deadline));
        self.0.wake.notify_one();
    }

    fn cancel_timer(&self, timer: TimerId) {
        lock(&self.0.core).timers.remove(&timer);
    }

    fn open_tty(&self, settings: TtySettings<'_>) -> Result<HandleId, HostError> {
        let config = TtyConfig {
            path: settings.path.as_str().to_owned(),
            speed: settings.speed,
            flow_control: settings.flow_control,
            local: settings.local,
            hangup_on_close: settings.hangup_on_close,
        };
        let fd = tty::open_tty(&config).map_err(|e| io_error(&config.path, &e))?;
        let fd = {
            let _enter = self.0.rt.enter();
            // SAFETY: the OwnedFd owns its descriptor for as long as the AsyncFd holds it and
            // always returns that same descriptor.
            let registered = unsafe { AsyncFd::register(fd) }.map_err(std::io::Error::from);
            Arc::new(registered.map_err(|e| io_error(&config.path, &e))?)
        };
        let id = self.0.new_handle();
        let tx = self.0.env.tx.clone();
        let mut io = lock(&self.0.io);
        io.insert(id, IoKind::Tty(fd.clone()), Vec::new());
        if let Some(out) = io.set_kind(id, IoKind::Tty(fd.clone())) {
            let pool = self.0.env.router.buffers.clone();
            io.add_task(
                id,
                self.0
                    .rt
                    .spawn(io::tty_reader(id, fd.clone(), tx.clone(), pool)),
            );
            io.add_task(
                id,
                self.0
                    .rt
                    .spawn(io::tty_writer(id, fd.clone(), out, tx.clone())),
            );
            if !config.local {
                io.add_task(id, self.0.rt.spawn(io::modem_watch(id, fd, tx)));
            }
        }
        tracing::debug!(
            plugin = self.0.env.spec.plugin,
            link = self.0.env.spec.name,
            "tty {} opened as handle {id}",
            config.path
        );
        Ok(id)
    }

    fn set_modem_control(&self, handle: HandleId, control: ModemControl) -> Result<(), HostError> {
        let fd = lock(&self.0.io).tty(handle).ok_or(HostError::Closed)?;
        tty::set_modem_control(fd.get_ref(), control).map_err(|e| io_error("modem control", &e))
    }

    fn tcp_listen(&self, addr: SocketAddress) -> Result<HandleId, HostError> {
        let sa = SocketAddr::from(addr);
        let std = std::net::TcpListener::bind(sa).map_err(|e| io_error(&sa.to_string(), &e))?;
        std.set_nonblocking(true)
            .map_err(|e| io_error(&sa.to_string(), &e))?;
        let listener = {
            let _enter = self.0.rt.enter();
            tokio::net::TcpListener::from_std(std).map_err(|e| io_error(&sa.to_string(), &e))?
        };
        let id = self.0.new_handle();
        let mut io = lock(&self.0.io);
        io.insert(id, IoKind::Listener, Vec::new());
        let task = self.0.rt.spawn(io::accept_loop(
            id,
            listener,
            self.0.clone(),
            self.0.env.tx.clone(),
        ));
        io.add_task(id, task);
        Ok(id)
    }

    fn tcp_connect(&self, addr: SocketAddress) -> Result<HandleId, HostError> {
        let sa = SocketAddr::from(addr);
        let id = self.0.new_handle();
        lock(&self.0.io).insert(id, IoKind::Connecting, Vec::new());
        let shared = self.0.clone();
        let task = self.0.rt.spawn(async move {
            let tx = shared.env.tx.clone();
            match TcpStream::connect(sa).await {
                Ok(stream) => {
                    let stream = Arc::new(stream);
                    let out = lock(&shared.io).set_kind(id, IoKind::Tcp(stream.clone()));
                    let Some(out) = out else {
                        return; // Closed meanwhile.
                    };
                    let r = shared.rt.spawn(io::tcp_reader(
                        id,
                        stream.clone(),
                        tx.clone(),
                        shared.env.router.buffers.clone(),
                    ));
                    let w = shared.rt.spawn(io::tcp_writer(id, stream, out, tx.clone()));
                    {
                        let mut io = lock(&shared.io);
                        io.add_task(id, r);
                        io.add_task(id, w);
                    }
                    let _ = tx.send(ActorMsg::Connected { handle: id }).await;
                }
                Err(e) => {
                    let reason = match e.raw_os_error() {
                        Some(libc::ECONNREFUSED | libc::ECONNRESET) => CloseReason::Reset,
                        Some(errno) => CloseReason::Error { errno },
                        None => CloseReason::Error { errno: 0 },
                    };
                    let _ = tx.send(ActorMsg::Closed { handle: id, reason }).await;
                }
            }
        });
        lock(&self.0.io).add_task(id, task);
        Ok(id)
    }

    fn open_raw_ip(&self, protocol: u8, bind: Option<IpAddress>) -> Result<HandleId, HostError> {
        let bind = bind.map(std::net::IpAddr::from);
        let what = format!("raw IP socket for protocol {protocol}");
        let fd = io::raw::open(protocol, bind).map_err(|e| io_error(&what, &e))?;
        let fd = {
            let _enter = self.0.rt.enter();
            // SAFETY: the OwnedFd owns its descriptor for as long as the AsyncFd holds it and
            // always returns that same descriptor.
            let registered = unsafe { AsyncFd::register(fd) }.map_err(std::io::Error::from);
            Arc::new(registered.map_err(|e| io_error(&what, &e))?)
        };
        let id = self.0.new_handle();
        let mut io = lock(&self.0.io);
        io.insert(id, IoKind::RawIp(fd.clone()), Vec::new());
        let task = self.0.rt.spawn(io::raw_reader(
            id,
            fd,
            self.0.env.tx.clone(),
            self.0.env.router.buffers.clone(),
        ));
        io.add_task(id, task);
        Ok(id)
    }

    fn send_to(&self, handle: HandleId, dst: IpAddress, bytes: &[u8]) -> Result<(), HostError> {
        lock(&self.0.io).send_to(handle, dst.into(), bytes)
    }

    fn open_packet(&self, interface: &str, ethertype: u16) -> Result<HandleId, HostError> {
        io::packet::check(interface, ethertype)?;
        let what = format!("packet socket on {interface} for ethertype {ethertype:#06x}");
        let fd = io::packet::open(interface, ethertype).map_err(|e| io_error(&what, &e))?;
        let fd = {
            let _enter = self.0.rt.enter();
            // SAFETY: the OwnedFd owns its descriptor for as long as the AsyncFd holds it and
            // always returns that same descriptor.
            let registered = unsafe { AsyncFd::register(fd) }.map_err(std::io::Error::from);
            Arc::new(registered.map_err(|e| io_error(&what, &e))?)
        };
        let id = self.0.new_handle();
        let mut io = lock(&self.0.io);
        io.insert(id, IoKind::Packet(fd.clone()), Vec::new());
        let task = self.0.rt.spawn(io::packet_reader(
            id,
            fd,
            self.0.env.tx.clone(),
            self.0.env.router.buffers.clone(),
            self.0.env.router.stats.packet_too_long.clone(),
        ));
        io.add_task(id, task);
        let (plugin, link) = self.0.log_prefix();
        tracing::debug!(plugin, link, "{what} opened as handle {id}");
        Ok(id)
    }

    fn write(&self, handle: HandleId, bytes: &[u8]) -> Result<(), HostError> {
        lock(&self.0.io).write(handle, bytes)
    }

    fn close(&self, handle: HandleId) {
        lock(&self.0.io).remove(handle);
    }

    fn link_up(&self, link: LinkId, info: LinkInfo<'_>) -> Result<(), HostError> {
        let now = clock::now();
        let r = lock(&self.0.core).link_up(&self.0.env, now, link, &info);
        self.0.wake.notify_one();
        r
    }

    fn link_down(&self, link: LinkId, cause: LinkDownCause, message: &str) {
        let now = clock::now();
        lock(&self.0.core).link_down(&self.0.env, now, link, cause, message);
        self.0.wake.notify_one();
    }

    fn deliver_frame(&self, link: LinkId, frame: &[u8]) -> Result<(), HostError> {
        let now = clock::now();
        let r = lock(&self.0.core).deliver(&self.0.env, now, link, frame);
        self.0.wake.notify_one();
        r
    }

    fn register_protocol(
        &self,
        data: PppProtocol,
        ncp: PppProtocol,
        ncp_options: &str,
    ) -> Result<(), HostError> {
        let env = &self.0.env;
        if !env.spec.lan_protocol {
            return Err(HostError::Denied {
                message: "only LAN-protocol plugins register protocols".into(),
            });
        }
        let policy = parse_options(data, ncp, ncp_options)?;
        let registration = Registration {
            instance: env.spec.name.clone(),
            data,
            ncp,
            policy,
            tx: env.tx.clone(),
        };
        env.router
            .lan
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .register(registration)?;
        tracing::info!(
            plugin = env.spec.plugin,
            "protocol {data} registered: new sessions negotiate {ncp}"
        );
        // Sessions where that NCP is open already (the plugin restarted) are reported again.
        for (_, tx) in env.router.link_txs() {
            let _ = tx.try_send(ActorMsg::LanReplay { ncp: ncp.0 });
        }
        Ok(())
    }

    fn send_session_frame(
        &self,
        session: SessionId,
        protocol: PppProtocol,
        payload: &[u8],
    ) -> Result<(), HostError> {
        let router = &self.0.env.router;
        if !router.lan().holds(&self.0.env.tx, protocol.0) {
            return Err(HostError::Denied {
                message: format!("protocol {protocol} is not registered by this plugin").into(),
            });
        }
        let (link_name, link) = {
            let sessions = lock(&router.sessions);
            let s = sessions.get(&session.0).ok_or(HostError::Closed)?;
            (s.link.clone(), LinkId(s.link_id))
        };
        let tx = router.link_tx(&link_name).ok_or(HostError::Closed)?;
        let msg = ActorMsg::LanSend(LanSend {
            link,
            session: session.0,
            protocol: protocol.0,
            buf: router.buffers.copy_of(payload),
        });
        match tx.try_send(msg) {
            Ok(()) => Ok(()),
            Err(e) => {
                if let ActorMsg::LanSend(m) = e.into_inner() {
                    router.buffers.put(m.buf);
                }
                Err(HostError::Busy)
            }
        }
    }

    fn set_link_congested(&self, link: LinkId, congested: bool) {
        lock(&self.0.core).set_congested(link, congested);
    }

    fn set_link_mru(&self, link: LinkId, mru: u16) {
        lock(&self.0.core).set_mru_hint(link, mru);
    }

    fn set_counter(&self, name: &str, value: u64) {
        let valid = !name.is_empty()
            && name.len() <= 64
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        if !valid {
            return;
        }
        let spec = &self.0.env.spec;
        let mut counters = lock(&self.0.env.router.stats.plugin_counters);
        let key = (spec.plugin.clone(), spec.name.clone(), name.to_owned());
        if let Some(v) = counters.get_mut(&key) {
            *v = value;
        } else if counters.len() < super::router::MAX_PLUGIN_COUNTERS {
            counters.insert(key, value);
        }
    }
}

/// Creates the shared state of an instance for `spec` (the actor queue's receiver is
/// returned alongside).
pub fn instance_shared(
    spec: LinkSpec,
    router: Arc<Router>,
) -> (Arc<InstanceShared>, mpsc::Receiver<ActorMsg>) {
    let (tx, rx) = mpsc::channel(QUEUE);
    let now = clock::now();
    let dials = spec.dials_on_start();
    let shared = Arc::new(InstanceShared {
        env: Env { spec, router, tx },
        core: Mutex::new(Core::new(dials, now)),
        io: Mutex::new(IoTable::default()),
        wake: Notify::new(),
        rt: tokio::runtime::Handle::current(),
        state: Mutex::new(InstanceState::Starting),
        next_handle: AtomicU64::new(1),
    });
    (shared, rx)
}

/// The actor of one plugin instance.
#[derive(Debug)]
pub struct Actor {
    instance: PluginInstance,
    shared: Arc<InstanceShared>,
    rx: mpsc::Receiver<ActorMsg>,
    failed: bool,
    /// The error the plugin returned from its last failed call.
    last_error: Option<String>,
    /// Handles with a full write queue ([`IoTable::congestion`]).
    congested: Arc<AtomicUsize>,
}

impl Actor {
    /// An actor for `instance`, created with [`PluginHost`]`(shared.clone())` as its host.
    pub fn new(
        instance: PluginInstance,
        shared: Arc<InstanceShared>,
        rx: mpsc::Receiver<ActorMsg>,
    ) -> Self {
        let congested = lock(&shared.io).congestion();
        Actor {
            instance,
            shared,
            rx,
            failed: false,
            last_error: None,
            congested,
        }
    }

    fn env(&self) -> &Env {
        &self.shared.env
    }

    /// Calls the plugin; a panic disables the instance and ends its sessions.
    fn call<T>(
        &mut self,
        what: &str,
        f: impl FnOnce(&mut PluginInstance, Timestamp) -> Result<T, CallError>,
    ) -> Option<T> {
        if self.failed {
            return None;
        }
        let now = clock::timestamp();
        match f(&mut self.instance, now) {
            Ok(v) => Some(v),
            Err(CallError::Plugin(e)) => {
                let (plugin, link) = self.shared.log_prefix();
                tracing::debug!(plugin, link, "{what}: {e}");
                self.last_error = Some(e.to_string());
                None
            }
            Err(CallError::Panicked { message }) => {
                self.fail(what, &message);
                None
            }
            Err(CallError::Disabled) => {
                self.fail(what, "disabled");
                None
            }
        }
    }

    fn fail(&mut self, what: &str, message: &str) {
        self.failed = true;
        let env = &self.shared.env;
        let reason = format!("plugin {} failed in {what}: {message}", env.spec.plugin);
        tracing::error!(
            plugin = env.spec.plugin,
            link = env.spec.name,
            "{reason}; instance disabled, its sessions end"
        );
        *lock(&self.shared.state) = InstanceState::Failed(reason.clone());
        env.router
            .stats
            .plugin_failures
            .fetch_add(1, Ordering::Relaxed);
        *lock(&env.router.stats.plugin_panics)
            .entry(env.spec.plugin.clone())
            .or_insert(0) += 1;
        lock(&self.shared.core).end_all(env, clock::now(), &reason, false);
        env.router.instance_failed.notify_one();
    }

    /// Performs queued plugin work and handles engine events until nothing is left (or a
    /// bounded amount of it: then the actor wakes itself to go on after other messages).
    fn flush(&mut self) {
        for _ in 0..100_000 {
            let item = {
                let mut core = lock(&self.shared.core);
                let item = match core.outbox.pop_front() {
                    Some(item) => Some(item),
                    None => {
                        core.process(&self.shared.env, clock::now());
                        core.outbox.pop_front()
                    }
                };
                if let Some(Out::Frame { link, buf }) = &item {
                    core.capture_out(clock::now(), *link, buf);
                }
                item
            };
            let Some(item) = item else {
                return;
            };
            match item {
                Out::Frame { link, buf } => {
                    self.call("send_frame", |i, now| i.send_frame(now, link, &buf));
                    let router = self.shared.env.router.clone();
                    lock(&self.shared.core).recycle(&router, buf);
                }
                Out::LinkParams { link, params } => {
                    self.call("set_link_params", |i, now| {
                        i.set_link_params(now, link, params)
                    });
                }
                Out::Hangup { link, cause } => {
                    self.call("hangup", |i, now| i.hangup_with_cause(now, link, cause));
                }
            }
        }
        self.shared.wake.notify_one();
    }

    fn on_deadline(&mut self) {
        let now = clock::now();
        let due = lock(&self.shared.core).due_timers(now);
        for timer in due {
            self.call("on_timer", |i, ts| i.on_timer(ts, timer));
        }
        let redial = {
            let mut core = lock(&self.shared.core);
            core.timeouts(now);
            core.take_redial(now)
        };
        if redial {
            self.dial_out(now);
        }
    }

    fn dial_out(&mut self, now: Instant) {
        let target = self.env().spec.name.clone();
        tracing::info!(link = target, "dialling");
        match self.call("dial", |i, ts| i.dial(ts, &target)) {
            Some(link) => {
                let mut core = lock(&self.shared.core);
                if !core.sessions.contains_key(&link) {
                    core.dial_pending = Some(link);
                }
            }
            None => lock(&self.shared.core).dial_failed(now),
        }
    }

    fn relay_open(&mut self, back: RelayPeer) {
        lock(&self.shared.core).dialing_for = Some(back.clone());
        let target = self.env().spec.name.clone();
        let dialled = self.call("dial", |i, ts| i.dial(ts, &target));
        let mut core = lock(&self.shared.core);
        let still_waiting = core.dialing_for.take().is_some();
        match dialled {
            Some(link) if still_waiting => {
                core.dialed.insert(link, back);
            }
            Some(_) => {}
            None => Core::relay_dial_failed(&back, "the plugin refused the call"),
        }
    }

    /// Handles one message; returns the stop acknowledgement when asked to stop.
    fn handle(&mut self, msg: ActorMsg) -> Option<(String, oneshot::Sender<()>)> {
        let router = self.shared.env.router.clone();
        match msg {
            ActorMsg::Data { handle, buf } => {
                self.call("on_data", |i, now| i.on_data(now, handle, &buf));
                router.buffers.put(buf);
            }
            ActorMsg::Closed { handle, reason } => {
                lock(&self.shared.io).remove(handle);
                self.call("on_closed", |i, now| i.on_closed(now, handle, reason));
            }
            ActorMsg::Accepted {
                listener,
                conn,
                peer,
            } => {
                self.call("on_tcp_accepted", |i, now| {
                    i.on_tcp_accepted(now, listener, conn, peer)
                });
            }
            ActorMsg::Connected { handle } => {
                self.call("on_connected", |i, now| i.on_connected(now, handle));
            }
            ActorMsg::Writable { handle } => {
                self.call("on_writable", |i, now| i.on_writable(now, handle));
            }
            ActorMsg::Modem { handle, status } => {
                self.call("on_modem_status", |i, now| {
                    i.on_modem_status(now, handle, status)
                });
            }
            ActorMsg::Packet { link, buf } => {
                if self.congested.load(Ordering::Relaxed) > 0 {
                    // The link is not taking frames: drop before encryption (see
                    // `IoTable::congestion`).
                    if let Some(dp) = &router.dataplane {
                        dp.stats.drop_queue_full.fetch_add(1, Ordering::Relaxed);
                    }
                    router.buffers.put(buf);
                } else {
                    lock(&self.shared.core).packet(&self.shared.env, clock::now(), link, buf);
                }
            }
            ActorMsg::Relay(RelayMsg::Open { back }) => self.relay_open(back),
            ActorMsg::Relay(m) => {
                lock(&self.shared.core).relay(&self.shared.env, clock::now(), m);
            }
            ActorMsg::Command(Command::Kill {
                session,
                reason,
                done,
            }) => {
                let killed =
                    lock(&self.shared.core).kill(&self.shared.env, clock::now(), session, &reason);
                let _ = done.send(killed);
            }
            ActorMsg::Command(Command::SendFrame { link, buf }) => {
                lock(&self.shared.core)
                    .outbox
                    .push_back(Out::Frame { link, buf });
            }
            ActorMsg::Command(Command::Stop { reason, done }) => return Some((reason, done)),
            ActorMsg::Lan(m) => self.lan_event(m),
            ActorMsg::LanSend(m) => {
                lock(&self.shared.core).lan_send(&self.shared.env, clock::now(), m);
            }
            ActorMsg::LanReplay { ncp } => {
                lock(&self.shared.core).lan_replay(&self.shared.env, ncp);
            }
        }
        None
    }

    /// A LAN-protocol plugin's session event or datagram.
    fn lan_event(&mut self, m: LanMsg) {
        match m {
            LanMsg::Up {
                session,
                protocol,
                user,
                peer,
                negotiated,
            } => {
                let info = SessionInfo {
                    user: user.as_str().into(),
                    peer: peer.as_str().into(),
                    negotiated: negotiated.as_str().into(),
                };
                self.call("on_session_up", |i, now| {
                    i.on_session_up(now, SessionId(session), PppProtocol(protocol), info)
                });
            }
            LanMsg::Frame {
                session,
                protocol,
                buf,
            } => {
                self.call("on_session_frame", |i, now| {
                    i.on_session_frame(now, SessionId(session), PppProtocol(protocol), &buf)
                });
                self.shared.env.router.buffers.put(buf);
            }
            LanMsg::Down { session, protocol } => {
                self.call("on_session_down", |i, now| {
                    i.on_session_down(now, SessionId(session), PppProtocol(protocol))
                });
            }
        }
    }

    /// Runs the instance until it is stopped or fails.
    pub async fn run(mut self) {
        let spec_name = self.env().spec.name.clone();
        let plugin = self.env().spec.plugin.clone();
        let started = self.call("start", |i, now| i.start(now));
        if started.is_none() && !self.failed {
            let why = self
                .last_error
                .take()
                .unwrap_or_else(|| "start failed".into());
            tracing::warn!(
                plugin,
                link = spec_name,
                "plugin instance did not start: {why}"
            );
            *lock(&self.shared.state) = InstanceState::StartFailed(why);
        } else if !self.failed {
            *lock(&self.shared.state) = InstanceState::Running;
            tracing::info!(plugin, link = spec_name, "plugin instance started");
        }
        let mut stop = None;
        while !self.failed && matches!(*lock(&self.shared.state), InstanceState::Running) {
            self.flush();
            if self.failed {
                break;
            }
            let deadline = lock(&self.shared.core).next_deadline();
            let sleep = match deadline {
                Some(d) => tokio::time::sleep_until(d.into()),
                None => tokio::time::sleep(Duration::from_secs(3600)),
            };
            tokio::select! {
                msg = self.rx.recv() => match msg {
                    Some(m) => {
                        if let Some(s) = self.handle(m) {
                            stop = Some(s);
                            break;
                        }
                        // Take whatever else is queued before the next flush.
                        for _ in 0..64 {
                            match self.rx.try_recv() {
                                Ok(m) => if let Some(s) = self.handle(m) {
                                    stop = Some(s);
                                    break;
                                },
                                Err(_) => break,
                            }
                        }
                        if stop.is_some() {
                            break;
                        }
                    }
                    None => break,
                },
                () = self.shared.wake.notified() => {}
                () = sleep => self.on_deadline(),
            }
        }
        let reason = stop
            .as_ref()
            .map(|(r, _)| r.clone())
            .unwrap_or_else(|| "plugin instance stopped".into());
        if !self.failed {
            lock(&self.shared.core).end_all(&self.shared.env, clock::now(), &reason, true);
            self.flush();
            self.call("stop", |i, now| i.stop(now));
            let mut state = lock(&self.shared.state);
            // A failed start stays visible as such (the daemon reports its reason).
            if !matches!(*state, InstanceState::StartFailed(_)) {
                *state = InstanceState::Stopped;
            }
        }
        let closing = {
            let mut io = lock(&self.shared.io);
            io.clear();
            io.take_closing()
        };
        // The stop is answered only once the sockets are closed: a restarted instance binds
        // the same listen address right after.
        for task in closing {
            let _ = tokio::time::timeout(CLOSE_TIMEOUT, task).await;
        }
        lock(&self.shared.core).timers.clear();
        self.shared
            .env
            .router
            .unregister_link(&spec_name, &self.shared.env.tx);
        let gone = self
            .shared
            .env
            .router
            .lan
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .unregister(&self.shared.env.tx);
        for protocol in gone {
            tracing::info!(plugin, "protocol {protocol} unregistered");
        }
        tracing::info!(plugin, link = spec_name, "plugin instance ended");
        // Answer the stop only once the instance is dropped (its handles closed).
        let Actor { instance, rx, .. } = self;
        drop(instance);
        drop(rx);
        if let Some((_, done)) = stop {
            let _ = done.send(());
        }
    }
}
