//! A management API server over a [`FakeControl`] on a real unix socket in a temp directory.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use dialgate_routerd::api::{bind_unix, serve_unix};

use super::FakeControl;

/// A directory removed on drop.
#[derive(Debug)]
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> Self {
        static N: AtomicU32 = AtomicU32::new(0);
        let path = std::env::temp_dir().join(format!(
            "dg-mgmt-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).expect("create temp dir");
        TempDir(path)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The API served over a fake control on its own runtime thread.
#[derive(Debug)]
pub struct TestServer {
    pub control: Arc<FakeControl>,
    pub socket: PathBuf,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<std::io::Result<()>>>,
    _dir: TempDir,
}

impl TestServer {
    pub fn start() -> Self {
        let dir = TempDir::new("api");
        let socket = dir.path().join("routerd.sock");
        let control = Arc::new(FakeControl::new());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let (c, s) = (control.clone(), socket.clone());
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()?;
            rt.block_on(async move {
                let listener = match bind_unix(&s) {
                    Ok(l) => l,
                    Err(e) => {
                        let _ = ready_tx.send(Err(e.to_string()));
                        return Ok(());
                    }
                };
                let _ = ready_tx.send(Ok(()));
                serve_unix(listener, c, async move {
                    let _ = stopped.await;
                })
                .await
            })
        });
        match ready_rx.recv_timeout(Duration::from_secs(10)) {
            Ok(Ok(())) => {}
            other => panic!("the test server did not start: {other:?}"),
        }
        TestServer {
            control,
            socket,
            stop: Some(stop),
            thread: Some(thread),
            _dir: dir,
        }
    }

    /// Sends raw bytes and reads until the server closes (send `Connection: close`) or 10 s
    /// pass.
    pub fn raw(&self, request: &[u8]) -> Vec<u8> {
        self.raw_for(request, Duration::from_secs(10))
    }

    /// Sends raw bytes and reads until the server closes or `timeout` passes without data.
    /// (No half-close: hyper drops a half-closed connection without answering.)
    pub fn raw_for(&self, request: &[u8], timeout: Duration) -> Vec<u8> {
        let mut stream = UnixStream::connect(&self.socket).expect("connect");
        stream.set_read_timeout(Some(timeout)).expect("timeout");
        // The server may answer and close before reading everything: ignore write errors.
        let _ = stream.write_all(request);
        let mut out = Vec::new();
        let mut buf = [0u8; 4096];
        while let Ok(n) = stream.read(&mut buf) {
            if n == 0 {
                break;
            }
            out.extend_from_slice(&buf[..n]);
        }
        out
    }

    /// Whether the server still answers `GET /v1/status` with 200.
    pub fn alive(&self) -> bool {
        let answer = self.raw(b"GET /v1/status HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        answer.starts_with(b"HTTP/1.1 200")
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
