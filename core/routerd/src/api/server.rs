//! Serving the management API: the unix socket and the TCP metrics listener.

use core::future::Future;
use std::fs;
use std::io;
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokio::net::{TcpListener, UnixListener};

use super::control::Control;
use super::http::{metrics_router, router};

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

/// Serves the management API on `listener` until `shutdown` completes, then finishes the
/// requests in flight.
pub async fn serve_unix(
    listener: UnixListener,
    control: Arc<dyn Control>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    axum::serve(listener, router(control))
        .with_graceful_shutdown(shutdown)
        .await
}

/// Serves `GET /metrics` (and JSON errors for anything else) on a TCP listener, for
/// `management.metrics_listen`.
pub async fn serve_metrics(
    listener: TcpListener,
    control: Arc<dyn Control>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    axum::serve(listener, metrics_router(control))
        .with_graceful_shutdown(shutdown)
        .await
}
