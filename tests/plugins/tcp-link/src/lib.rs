//! Test plugin `tcp-link`: a link plugin that carries PPP frames over TCP, each frame preceded
//! by its length (two octets, big-endian), so that calls have IP peers (`ip:port`) as PPTP
//! calls do.
//!
//! Configuration (TOML, read literally): `listen = "ADDR:PORT"` answers calls: every accepted
//! connection is an incoming link whose peer is the connecting address; `connect =
//! "ADDR:PORT"` dials: `dial` connects and the link comes up once connected. A link the host
//! refuses (`link_up` fails) is hung up at once.

use std::collections::HashMap;
use std::net::SocketAddr;

use dialgate_plugin_sdk::{
    CloseReason, Direction, HandleId, HostHandle, LinkDownCause, LinkId, LinkInfo, LogLevel,
    Plugin, PluginError, PluginKind, SocketAddress, Timestamp,
};

/// The longest frame carried.
const MAX_FRAME: usize = 4096;

struct Conn {
    link: LinkId,
    up: bool,
    peer: String,
    rx: Vec<u8>,
}

struct TcpLink {
    host: HostHandle,
    listen: Option<SocketAddr>,
    connect: Option<SocketAddr>,
    conns: HashMap<HandleId, Conn>,
    next_link: u64,
    out: Vec<u8>,
}

fn setting(config: &str, key: &str) -> Result<Option<SocketAddr>, PluginError> {
    for line in config.lines() {
        let Some((k, v)) = line.split_once('=') else {
            continue;
        };
        if k.trim() == key {
            let v = v.trim().trim_matches('"');
            return v
                .parse()
                .map(Some)
                .map_err(|_| PluginError::invalid_config(format_args!("{key}: {v:?}")));
        }
    }
    Ok(None)
}

impl TcpLink {
    fn conn_of(&self, link: LinkId) -> Option<HandleId> {
        self.conns
            .iter()
            .find(|(_, c)| c.link == link)
            .map(|(h, _)| *h)
    }

    fn new_link(&mut self) -> LinkId {
        self.next_link += 1;
        LinkId(self.next_link)
    }

    /// Brings the link of `handle` up; hangs up when the host refuses it.
    fn bring_up(&mut self, handle: HandleId, direction: Direction) {
        let Some(conn) = self.conns.get_mut(&handle) else {
            return;
        };
        let link = conn.link;
        match self
            .host
            .link_up(conn.link, LinkInfo::new(direction, &conn.peer))
        {
            Ok(()) => conn.up = true,
            Err(e) => {
                self.host.log(
                    LogLevel::Info,
                    &format!("call from {} refused: {e}", conn.peer),
                );
                self.host.close(handle);
                self.conns.remove(&handle);
                // A dialled call the core was waiting for: tell it the call failed.
                if direction == Direction::Outgoing {
                    self.host
                        .link_down(link, LinkDownCause::Failed, "refused by the host");
                }
            }
        }
    }

    fn drop_conn(&mut self, handle: HandleId, cause: LinkDownCause, why: &str) {
        if let Some(conn) = self.conns.remove(&handle) {
            self.host.close(handle);
            if conn.up {
                self.host.link_down(conn.link, cause, why);
            }
        }
    }
}

impl Plugin for TcpLink {
    const NAME: &'static str = "tcp-link";
    const KIND: PluginKind = PluginKind::LINK;
    const DESCRIPTION: &'static str = "PPP frames over TCP (test plugin)";

    fn new(config_toml: &str, host: HostHandle) -> Result<Self, PluginError> {
        Ok(TcpLink {
            host,
            listen: setting(config_toml, "listen")?,
            connect: setting(config_toml, "connect")?,
            conns: HashMap::new(),
            next_link: 0,
            out: Vec::with_capacity(MAX_FRAME + 2),
        })
    }

    fn start(&mut self, _now: Timestamp) -> Result<(), PluginError> {
        if let Some(addr) = self.listen {
            self.host.tcp_listen(addr).map_err(PluginError::failed)?;
        }
        Ok(())
    }

    fn on_tcp_accepted(
        &mut self,
        _now: Timestamp,
        _listener: HandleId,
        conn: HandleId,
        peer: SocketAddress,
    ) -> Result<(), PluginError> {
        let link = self.new_link();
        self.conns.insert(
            conn,
            Conn {
                link,
                up: false,
                peer: peer.to_string(),
                rx: Vec::new(),
            },
        );
        self.bring_up(conn, Direction::Incoming);
        Ok(())
    }

    fn dial(&mut self, _now: Timestamp, _target: &str) -> Result<LinkId, PluginError> {
        let addr = self
            .connect
            .ok_or_else(|| PluginError::unsupported("no connect address"))?;
        let handle = self.host.tcp_connect(addr).map_err(PluginError::failed)?;
        let link = self.new_link();
        self.conns.insert(
            handle,
            Conn {
                link,
                up: false,
                peer: addr.to_string(),
                rx: Vec::new(),
            },
        );
        Ok(link)
    }

    fn on_connected(&mut self, _now: Timestamp, handle: HandleId) -> Result<(), PluginError> {
        self.bring_up(handle, Direction::Outgoing);
        Ok(())
    }

    fn on_closed(
        &mut self,
        _now: Timestamp,
        handle: HandleId,
        _reason: CloseReason,
    ) -> Result<(), PluginError> {
        if let Some(conn) = self.conns.remove(&handle) {
            if conn.up {
                self.host
                    .link_down(conn.link, LinkDownCause::PeerHangup, "connection closed");
            } else {
                self.host
                    .link_down(conn.link, LinkDownCause::Failed, "connection failed");
            }
        }
        Ok(())
    }

    fn on_data(
        &mut self,
        _now: Timestamp,
        handle: HandleId,
        bytes: &[u8],
    ) -> Result<(), PluginError> {
        let Some(conn) = self.conns.get_mut(&handle) else {
            return Ok(());
        };
        conn.rx.extend_from_slice(bytes);
        let link = conn.link;
        let mut frames = Vec::new();
        while let Some(len) = conn
            .rx
            .get(..2)
            .map(|h| usize::from(u16::from_be_bytes([h[0], h[1]])))
        {
            if len > MAX_FRAME {
                conn.rx.clear();
                break;
            }
            let Some(frame) = conn.rx.get(2..2 + len) else {
                break;
            };
            frames.push(frame.to_vec());
            conn.rx.drain(..2 + len);
        }
        let up = conn.up;
        for frame in frames {
            if up {
                let _ = self.host.deliver_frame(link, &frame);
            }
        }
        Ok(())
    }

    fn send_frame(
        &mut self,
        _now: Timestamp,
        link: LinkId,
        frame: &[u8],
    ) -> Result<(), PluginError> {
        let handle = self
            .conn_of(link)
            .ok_or_else(|| PluginError::unsupported(format_args!("no link {link}")))?;
        let len = u16::try_from(frame.len())
            .ok()
            .filter(|l| usize::from(*l) <= MAX_FRAME)
            .ok_or_else(|| PluginError::failed("frame too long"))?;
        self.out.clear();
        self.out.extend_from_slice(&len.to_be_bytes());
        self.out.extend_from_slice(frame);
        self.host
            .write(handle, &self.out)
            .map_err(PluginError::failed)
    }

    fn hangup(&mut self, _now: Timestamp, link: LinkId) -> Result<(), PluginError> {
        let handle = self
            .conn_of(link)
            .ok_or_else(|| PluginError::unsupported(format_args!("no link {link}")))?;
        self.drop_conn(handle, LinkDownCause::Requested, "hangup");
        Ok(())
    }

    fn stop(&mut self, _now: Timestamp) -> Result<(), PluginError> {
        let handles: Vec<HandleId> = self.conns.keys().copied().collect();
        for h in handles {
            self.drop_conn(h, LinkDownCause::Requested, "stopped");
        }
        Ok(())
    }
}

dialgate_plugin_sdk::export_plugin!(TcpLink);
