//! The tokio driver of the test server ([`crate::server`]): a TCP listener on port 1723, one
//! task per control connection, one raw GRE socket whose packets are found by (peer address,
//! Call ID). Same shape as [`crate::driver`], server side.

use std::cell::RefCell;
use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::io::{self, Write as _};
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::AsyncWriteExt as _;
use tokio::io::unix::AsyncFd;
use tokio::net::{TcpSocket, TcpStream};
use tokio::sync::Notify;

use crate::gre_socket::{self, GreSocket};
use crate::server::{ServerConn, ServerEvent, ServerSettings};

/// What the test server counts.
#[derive(Debug, Clone, Copy, Default, serde::Serialize)]
pub struct ServeStats {
    /// Control connections accepted.
    pub connections: u64,
    /// Control connections open.
    pub connections_open: u64,
    /// Calls that came up.
    pub calls_up: u64,
    /// Calls up now.
    pub calls_active: u64,
    /// GRE packets received / for no call / sent / refused by the socket.
    pub gre_rx: u64,
    /// GRE packets for no call.
    pub gre_rx_unmatched: u64,
    /// GRE packets sent.
    pub gre_tx: u64,
    /// GRE packets the socket refused.
    pub gre_tx_errors: u64,
}

struct Cell {
    conn: RefCell<ServerConn>,
    notify: Notify,
    peer: Ipv4Addr,
}

struct Shared {
    settings: Arc<ServerSettings>,
    local: Ipv4Addr,
    gre: Rc<AsyncFd<GreSocket>>,
    calls: RefCell<HashMap<(Ipv4Addr, u16), Rc<Cell>>>,
    stats: RefCell<ServeStats>,
    scratch: RefCell<Vec<u8>>,
}

impl Shared {
    fn flush_gre(&self, cell: &Cell) {
        let now = Instant::now();
        let mut scratch = self.scratch.borrow_mut();
        let mut conn = cell.conn.borrow_mut();
        while let Some(range) = conn.poll_gre_transmit(now, &mut scratch) {
            let Some(packet) = scratch.get(range) else {
                continue;
            };
            let r = self.gre.get_ref().send_from(self.local, cell.peer, packet);
            let mut stats = self.stats.borrow_mut();
            match r {
                Ok(()) => stats.gre_tx += 1,
                Err(_) => stats.gre_tx_errors += 1,
            }
        }
    }

    fn drain(&self, cell: &Rc<Cell>) {
        let now = Instant::now();
        let mut conn = cell.conn.borrow_mut();
        if conn.wants_accept() {
            let mut calls = self.calls.borrow_mut();
            conn.accept_calls(now, |id| match calls.entry((cell.peer, id)) {
                Entry::Vacant(v) => {
                    v.insert(Rc::clone(cell));
                    true
                }
                Entry::Occupied(_) => false,
            });
        }
        while let Some(id) = conn.poll_released() {
            let mut calls = self.calls.borrow_mut();
            if calls
                .get(&(cell.peer, id))
                .is_some_and(|c| Rc::ptr_eq(c, cell))
            {
                calls.remove(&(cell.peer, id));
            }
        }
        let mut stats = self.stats.borrow_mut();
        while let Some(e) = conn.poll_event() {
            match e {
                ServerEvent::CallUp => {
                    stats.calls_up += 1;
                    stats.calls_active += 1;
                }
                ServerEvent::CallDown => stats.calls_active = stats.calls_active.saturating_sub(1),
                ServerEvent::Stopped => {}
            }
        }
    }
}

async fn run_conn(shared: Rc<Shared>, cell: Rc<Cell>, mut stream: TcpStream) {
    let far = || Instant::now() + Duration::from_secs(86_400);
    let sleep = tokio::time::sleep_until(far().into());
    tokio::pin!(sleep);
    let mut pending = Vec::new();
    loop {
        shared.drain(&cell);
        shared.flush_gre(&cell);
        cell.conn.borrow_mut().poll_tcp_transmit(&mut pending);
        if !pending.is_empty() {
            if stream.write_all(&pending).await.is_err() {
                cell.conn.borrow_mut().handle_tcp_closed(Instant::now());
            }
            pending.clear();
        }
        if cell.conn.borrow().is_done() {
            break;
        }
        let deadline = cell.conn.borrow().poll_timeout().unwrap_or_else(far);
        sleep.as_mut().reset(deadline.into());
        tokio::select! {
            r = stream.readable() => {
                if r.is_err() {
                    cell.conn.borrow_mut().handle_tcp_closed(Instant::now());
                    continue;
                }
                let mut scratch = shared.scratch.borrow_mut();
                loop {
                    match stream.try_read(&mut scratch) {
                        Ok(0) => {
                            cell.conn.borrow_mut().handle_tcp_closed(Instant::now());
                            break;
                        }
                        Ok(n) => cell
                            .conn
                            .borrow_mut()
                            .handle_tcp(Instant::now(), scratch.get(..n).unwrap_or_default()),
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                        Err(_) => {
                            cell.conn.borrow_mut().handle_tcp_closed(Instant::now());
                            break;
                        }
                    }
                }
            }
            () = cell.notify.notified() => {}
            () = &mut sleep => cell.conn.borrow_mut().handle_timeout(Instant::now()),
        }
    }
    let _ = stream.shutdown().await;
    shared.drain(&cell);
    shared
        .calls
        .borrow_mut()
        .retain(|_, c| !Rc::ptr_eq(c, &cell));
    shared.stats.borrow_mut().connections_open -= 1;
}

async fn gre_reader(shared: Rc<Shared>) {
    let mut buf = vec![0u8; 65_536];
    loop {
        let Ok(mut guard) = shared.gre.readable().await else {
            return;
        };
        let mut handled = 0;
        loop {
            match shared.gre.get_ref().recv(&mut buf) {
                Ok(n) => {
                    handled += 1;
                    shared.stats.borrow_mut().gre_rx += 1;
                    let Some(rx) = buf.get_mut(..n).and_then(gre_socket::split) else {
                        shared.stats.borrow_mut().gre_rx_unmatched += 1;
                        continue;
                    };
                    let cell = shared.calls.borrow().get(&(rx.src, rx.call_id)).cloned();
                    let Some(cell) = cell else {
                        shared.stats.borrow_mut().gre_rx_unmatched += 1;
                        continue;
                    };
                    cell.conn.borrow_mut().handle_gre(
                        Instant::now(),
                        rx.call_id,
                        rx.seq,
                        rx.ack,
                        rx.payload,
                    );
                    shared.flush_gre(&cell);
                    cell.notify.notify_one();
                    if handled >= 256 {
                        break;
                    }
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

/// Serve on `listen` until the task is dropped, printing [`ServeStats`] as JSON every
/// `report` (if given). Must run inside a `LocalSet`.
pub async fn serve(
    listen: SocketAddrV4,
    settings: ServerSettings,
    report: Option<Duration>,
) -> io::Result<()> {
    let socket = TcpSocket::new_v4()?;
    socket.set_reuseaddr(true)?;
    socket.bind(SocketAddr::V4(listen))?;
    let listener = socket.listen(65_535)?;
    let gre = GreSocket::open(None)?;
    gre.set_buffers(8 << 20);
    // SAFETY: GreSocket owns its descriptor (an OwnedFd) for as long as the AsyncFd holds it
    // and always returns that same descriptor.
    let gre = unsafe { AsyncFd::register(gre) }.map_err(io::Error::from)?;
    let shared = Rc::new(Shared {
        settings: Arc::new(settings),
        local: *listen.ip(),
        gre: Rc::new(gre),
        calls: RefCell::default(),
        stats: RefCell::default(),
        scratch: RefCell::new(vec![0; 4096]),
    });
    tokio::task::spawn_local(gre_reader(Rc::clone(&shared)));
    if let Some(every) = report {
        let shared = Rc::clone(&shared);
        tokio::task::spawn_local(async move {
            let mut tick = tokio::time::interval(every);
            loop {
                tick.tick().await;
                let stats = *shared.stats.borrow();
                let line = serde_json::to_string(&stats).unwrap_or_default();
                let _ = writeln!(io::stdout().lock(), "{line}");
            }
        });
    }
    let mut seed = 0x7365_7276_6572u64;
    loop {
        let (stream, peer) = listener.accept().await?;
        let SocketAddr::V4(peer) = peer else {
            continue;
        };
        let _ = stream.set_nodelay(true);
        let conn = ServerConn::new(
            Arc::clone(&shared.settings),
            crate::client::splitmix(&mut seed),
            Instant::now(),
        );
        let cell = Rc::new(Cell {
            conn: RefCell::new(conn),
            notify: Notify::new(),
            peer: *peer.ip(),
        });
        {
            let mut stats = shared.stats.borrow_mut();
            stats.connections += 1;
            stats.connections_open += 1;
        }
        tokio::task::spawn_local(run_conn(Rc::clone(&shared), cell, stream));
    }
}
