//! Host-owned I/O for plugins: ttys and TCP sockets registered with tokio, each with a reader
//! task that queues what arrives to the plugin's actor, and a bounded write queue drained by
//! a writer task when the descriptor cannot take everything at once.
//!
//! Writes never block the caller: the bytes go to the descriptor at once when its queue is
//! empty, the rest into the queue; when the queue cannot take the whole write, nothing is
//! taken and the plugin gets [`HostError::Busy`] (then `on_writable` once it has drained).

use std::collections::{HashMap, VecDeque};
use std::io;
use std::net::SocketAddr;
use std::os::fd::OwnedFd;
use std::sync::atomic::{AtomicBool, Ordering};
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
}

/// The write side of a handle.
#[derive(Debug, Default)]
pub struct WriteQueue {
    buf: Mutex<VecDeque<u8>>,
    notify: Notify,
    /// A write answered Busy: send `on_writable` once drained.
    owe_writable: AtomicBool,
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
    }
}

/// The handles of one plugin instance.
#[derive(Debug, Default)]
pub struct IoTable {
    handles: HashMap<HandleId, IoHandle>,
}

impl IoTable {
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
        self.handles.remove(&handle).is_some()
    }

    /// Closes everything.
    pub fn clear(&mut self) {
        self.handles.clear();
    }

    /// Registers a handle.
    pub fn insert(&mut self, id: HandleId, kind: IoKind, tasks: Vec<JoinHandle<()>>) {
        self.handles.insert(
            id,
            IoHandle {
                kind,
                out: Arc::new(WriteQueue::default()),
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

    /// The tty behind a handle.
    pub fn tty(&self, id: HandleId) -> Option<Arc<AsyncFd<OwnedFd>>> {
        match &self.handles.get(&id)?.kind {
            IoKind::Tty(fd) => Some(fd.clone()),
            _ => None,
        }
    }

    /// Writes (or queues) `bytes` on a handle.
    pub fn write(&self, id: HandleId, bytes: &[u8]) -> Result<(), HostError> {
        let h = self.handles.get(&id).ok_or(HostError::Closed)?;
        let mut q = lock(&h.out.buf);
        if q.len() + bytes.len() > WRITE_QUEUE_LIMIT {
            h.out.owe_writable.store(true, Ordering::Relaxed);
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
                IoKind::Listener => {
                    return Err(HostError::Invalid {
                        message: "cannot write to a listener".into(),
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
        if out.owe_writable.swap(false, Ordering::Relaxed)
            && tx.send(ActorMsg::Writable { handle }).await.is_err()
        {
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
        if out.owe_writable.swap(false, Ordering::Relaxed)
            && tx.send(ActorMsg::Writable { handle }).await.is_err()
        {
            return;
        }
    }
}

/// What an accept loop needs to register connections.
pub trait Registrar: Send + Sync + 'static {
    /// Registers an accepted connection and returns its handle.
    fn register_tcp(&self, stream: TcpStream) -> HandleId;
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
            }
            Err(e) => {
                // EMFILE and friends: back off instead of spinning.
                tracing::warn!("accept: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}
