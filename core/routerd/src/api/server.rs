//! Serving the management API: the unix socket and the TCP metrics listener.

use core::future::Future;
use core::pin::pin;
use core::time::Duration;
use std::fs;
use std::io;
use std::net::SocketAddr;
use std::os::unix::fs::DirBuilderExt;
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::Router;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream, UnixListener, UnixStream};
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;

use super::control::Control;
use super::http::{metrics_router, router};
use crate::config::ManagementConfig;

/// The socket file's mode: owner and group may connect.
pub const SOCKET_MODE: u32 = 0o660;

/// Why the API socket could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum BindError {
    /// Another process answers on the socket (another routerd?).
    #[error("{}: another process is listening on this socket", .0.display())]
    InUse(PathBuf),
    /// Something that is not a socket is in the way; it is left alone.
    #[error("{}: exists and is not a socket", .0.display())]
    NotASocket(PathBuf),
    /// The metrics listener could not be bound.
    #[error("metrics listener {addr}: {source}")]
    Metrics {
        /// The configured address.
        addr: SocketAddr,
        /// Why.
        source: io::Error,
    },
    /// A file operation failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The path.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> BindError + '_ {
    move |source| BindError::Io {
        path: path.to_owned(),
        source,
    }
}

/// Binds the API socket at `path` with mode [`SOCKET_MODE`].
///
/// A stale socket file (nobody answers) is removed first; a live one or a non-socket file is
/// an error. The socket is bound under a temporary name, given its mode, and renamed into
/// place, so the path never shows a socket with the wrong mode. The parent directory must
/// exist. Must be called inside a tokio runtime.
pub fn bind_unix(path: &Path) -> Result<UnixListener, BindError> {
    match fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_socket() => {
            if std::os::unix::net::UnixStream::connect(path).is_ok() {
                return Err(BindError::InUse(path.to_owned()));
            }
            fs::remove_file(path).map_err(io_err(path))?;
        }
        Ok(_) => return Err(BindError::NotASocket(path.to_owned())),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(io_err(path)(e)),
    }
    let Some(name) = path.file_name() else {
        return Err(io_err(path)(io::Error::new(
            io::ErrorKind::InvalidInput,
            "not a file path",
        )));
    };
    let mut temp_name = std::ffi::OsString::from(".");
    temp_name.push(name);
    temp_name.push(format!(".{}.tmp", std::process::id()));
    let temp = path.with_file_name(temp_name);
    // A leftover from a crashed start of this very pid cannot be live; ignore "not found".
    let _ = fs::remove_file(&temp);
    let listener = UnixListener::bind(&temp).map_err(io_err(&temp))?;
    let placed = fs::set_permissions(&temp, fs::Permissions::from_mode(SOCKET_MODE))
        .map_err(io_err(&temp))
        .and_then(|()| fs::rename(&temp, path).map_err(io_err(path)));
    if let Err(e) = placed {
        let _ = fs::remove_file(&temp);
        return Err(e);
    }
    Ok(listener)
}

/// Connections served at the same time; further clients wait in the listen backlog.
pub const MAX_CONNECTIONS: usize = 128;

/// A client must send a request's headers within this time, or is disconnected.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// After the shutdown signal, requests in flight get this long to finish.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// A listener the server accepts from.
trait Accept: Send + 'static {
    type Io: AsyncRead + AsyncWrite + Unpin + Send + 'static;
    fn accept_io(&self) -> impl Future<Output = io::Result<Self::Io>> + Send;
}

impl Accept for UnixListener {
    type Io = UnixStream;
    async fn accept_io(&self) -> io::Result<UnixStream> {
        self.accept().await.map(|(s, _)| s)
    }
}

impl Accept for TcpListener {
    type Io = TcpStream;
    async fn accept_io(&self) -> io::Result<TcpStream> {
        self.accept().await.map(|(s, _)| s)
    }
}

/// The accept loop: HTTP/1.1 only, [`MAX_CONNECTIONS`], [`HEADER_READ_TIMEOUT`], and a
/// graceful shutdown bounded by [`SHUTDOWN_GRACE`].
async fn serve<L: Accept>(
    listener: L,
    app: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut connections = JoinSet::new();
    let mut shutdown = pin!(shutdown);
    loop {
        // Reap finished connection tasks so the set stays small.
        while connections.try_join_next().is_some() {}
        let slot = tokio::select! {
            () = &mut shutdown => break,
            slot = slots.clone().acquire_owned() => match slot {
                Ok(slot) => slot,
                Err(_) => break,
            },
        };
        let io = tokio::select! {
            () = &mut shutdown => break,
            io = listener.accept_io() => match io {
                Ok(io) => io,
                Err(e) => {
                    // Out of descriptors or similar: back off instead of spinning.
                    tracing::warn!(error = %e, "management API: accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        let service = TowerToHyperService::new(app.clone());
        let mut stop = stop_rx.clone();
        connections.spawn(async move {
            let _slot = slot;
            let mut builder = http1::Builder::new();
            builder
                .timer(TokioTimer::new())
                .header_read_timeout(HEADER_READ_TIMEOUT);
            let conn = builder.serve_connection(TokioIo::new(io), service);
            let mut conn = pin!(conn);
            let result = tokio::select! {
                r = conn.as_mut() => r,
                _ = async move { stop.wait_for(|stop| *stop).await.is_ok() } => {
                    conn.as_mut().graceful_shutdown();
                    conn.await
                }
            };
            if let Err(e) = result {
                tracing::debug!(error = %e, "management API: connection ended with an error");
            }
        });
    }
    let _ = stop_tx.send(true);
    let drained = tokio::time::timeout(SHUTDOWN_GRACE, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::warn!("management API: closing connections still open after the grace period");
        connections.shutdown().await;
    }
    Ok(())
}

/// Serves the management API on `listener` until `shutdown` completes, then gives requests
/// in flight [`SHUTDOWN_GRACE`] to finish. The socket file stays; remove it at exit.
pub async fn serve_unix(
    listener: UnixListener,
    control: Arc<dyn Control>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    serve(listener, router(control), shutdown).await
}

/// Serves `GET /metrics` (and JSON errors for anything else) on a TCP listener, for
/// `management.metrics_listen`.
pub async fn serve_metrics(
    listener: TcpListener,
    control: Arc<dyn Control>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    serve(listener, metrics_router(control), shutdown).await
}

/// The management API as the daemon runs it: the unix socket and, when configured, the TCP
/// metrics listener, each served by its own task.
#[derive(Debug)]
pub struct ManagementServer {
    socket: PathBuf,
    metrics: Option<SocketAddr>,
    stop: watch::Sender<bool>,
    tasks: JoinSet<io::Result<()>>,
}

impl ManagementServer {
    /// Binds the socket (creating its directory with mode 0750 if missing, see [`bind_unix`])
    /// and the metrics listener of `config`, and starts serving. Must be called inside a tokio
    /// runtime.
    pub async fn start(
        config: &ManagementConfig,
        control: Arc<dyn Control>,
    ) -> Result<Self, BindError> {
        if let Some(dir) = config.socket.parent()
            && !dir.as_os_str().is_empty()
            && !dir.exists()
        {
            fs::DirBuilder::new()
                .recursive(true)
                .mode(0o750)
                .create(dir)
                .map_err(io_err(dir))?;
        }
        let unix = bind_unix(&config.socket)?;
        let tcp = match config.metrics_listen {
            Some(addr) => match TcpListener::bind(addr).await {
                Ok(l) => Some(l),
                Err(source) => {
                    let _ = fs::remove_file(&config.socket);
                    return Err(BindError::Metrics { addr, source });
                }
            },
            None => None,
        };
        let metrics = match &tcp {
            Some(l) => l.local_addr().ok(),
            None => None,
        };
        let (stop, stopped) = watch::channel(false);
        let signal = move || {
            let mut rx = stopped.clone();
            async move {
                let _ = rx.wait_for(|s| *s).await;
            }
        };
        let mut tasks = JoinSet::new();
        tasks.spawn(serve_unix(unix, control.clone(), signal()));
        if let Some(tcp) = tcp {
            tasks.spawn(serve_metrics(tcp, control, signal()));
        }
        tracing::info!(socket = %config.socket.display(), metrics = ?metrics, "management API listening");
        Ok(ManagementServer {
            socket: config.socket.clone(),
            metrics,
            stop,
            tasks,
        })
    }

    /// The socket's path.
    pub fn socket(&self) -> &Path {
        &self.socket
    }

    /// The metrics listener's bound address (useful with port 0), if any.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics
    }

    /// Stops accepting, lets requests in flight finish (at most [`SHUTDOWN_GRACE`]), and
    /// removes the socket file.
    pub async fn stop(mut self) {
        let _ = self.stop.send(true);
        while let Some(done) = self.tasks.join_next().await {
            if let Ok(Err(e)) = done {
                tracing::warn!(error = %e, "management API server failed");
            }
        }
        let _ = fs::remove_file(&self.socket);
    }
}
