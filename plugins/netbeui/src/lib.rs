//! The `netbeui` LAN-protocol plugin: NetBIOS Frames (NBF, the NetBEUI protocol) between PPP
//! sessions that negotiate NBFCP (RFC 2097) and one LAN Ethernet port.
//!
//! At start the plugin asks the host for a packet socket on the configured interface for
//! IEEE 802.2 LLC frames (Linux's `ETH_P_802_2`, 0x0004: every 802.3 frame with a length
//! field and an LLC header) and registers NBF (0x003F) with NBFCP (0x803F), so the core
//! negotiates NBFCP on every new session. From then on it is driven by the host:
//! [`Plugin::on_session_up`] gives a session a LAN MAC address of its own,
//! [`Plugin::on_session_frame`] turns a session's NBF frame into an 802.3 frame from that
//! address, and every LAN frame ([`Plugin::on_data`]) goes to the sessions the
//! [`forward::Forwarder`] picks. The protocol logic is all in [`forward`] and [`wire`]
//! (sans-IO); this file is glue. The README explains the design against RFC 2097.
//!
//! Counters (`Host::set_counter`, published every second): see [`forward::Counters`], plus
//! `host_refused` (frames the host would not take: a full socket buffer, a gone session, no
//! LAN port). When the host closes the LAN port (the interface went away), the plugin keeps
//! its sessions and tries to reopen the port after 1 s, doubling the wait up to 60 s.

pub mod config;
pub mod forward;
pub mod wire;

use std::time::Duration;

use dialgate_plugin_sdk::{
    CloseReason, HandleId, HostHandle, LogLevel, Plugin, PluginError, PluginKind, PppProtocol,
    SessionId, SessionInfo, TimerId, Timestamp,
};

use config::Config;
use forward::{Forwarder, SessionParams, UpError};
use wire::netbios::Name;

/// Linux's `ETH_P_802_2`: what a packet socket binds to for 802.3 frames with an LLC header.
pub const ETH_P_802_2: u16 = 0x0004;

/// The timer that publishes counters and retries a lost LAN port.
const TICK: TimerId = TimerId(1);
/// How often it fires.
const TICK_PERIOD: Duration = Duration::from_secs(1);
/// The first wait before reopening a LAN port that closed; it doubles up to
/// [`REOPEN_MAX`] while the port stays unavailable.
const REOPEN_FIRST: Duration = Duration::from_secs(1);
/// The longest wait between reopen attempts.
const REOPEN_MAX: Duration = Duration::from_secs(60);

/// One plugin instance.
pub struct NetBeui {
    host: HostHandle,
    config: Config,
    fwd: Forwarder,
    lan: Option<HandleId>,
    /// When the LAN port, if closed, is next tried, and the wait after that.
    reopen_at: Timestamp,
    reopen_wait: Duration,
    /// Scratch: the LAN frame a session frame becomes (MAC header + 1500 octets).
    lan_buf: Vec<u8>,
    /// Scratch: a LAN frame as a MAC-header session gets it.
    session_buf: Vec<u8>,
    /// Scratch: the sessions a LAN frame goes to.
    targets: Vec<u64>,
    host_refused: u64,
}

impl std::fmt::Debug for NetBeui {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NetBeui")
            .field("interface", &self.config.interface)
            .field("lan", &self.lan)
            .field("sessions", &self.fwd.sessions())
            .finish_non_exhaustive()
    }
}

/// A name from the negotiated TOML's `[[projected_names]]` (the core writes the 16 octets as
/// text; names that are not 16 octets of it are skipped).
fn projected_name(text: &str) -> Option<Name> {
    text.as_bytes().try_into().ok()
}

/// What `on_session_up`'s TOML (routerd's `daemon::lan::negotiated_toml`) says about NBFCP.
pub fn session_params(user: &str, negotiated: &str) -> SessionParams {
    let table: toml::Table = negotiated.parse().unwrap_or_default();
    let mac_headers = table
        .get("mac_headers")
        .and_then(toml::Value::as_bool)
        .unwrap_or(false);
    let multicast_period = table
        .get("peer_multicast_period")
        .and_then(toml::Value::as_integer)
        .and_then(|p| u16::try_from(p).ok());
    let names = table
        .get("projected_names")
        .and_then(toml::Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|n| n.get("name").and_then(toml::Value::as_str))
                .filter_map(projected_name)
                .take(forward::MAX_NAMES)
                .collect()
        })
        .unwrap_or_default();
    SessionParams {
        user: user.to_owned(),
        mac_headers,
        multicast_period,
        names,
    }
}

impl NetBeui {
    fn open_lan(&mut self) -> Result<HandleId, PluginError> {
        let handle = self
            .host
            .open_packet(&self.config.interface, ETH_P_802_2)
            .map_err(|e| {
                PluginError::failed(format_args!(
                    "packet socket on {}: {e}",
                    self.config.interface
                ))
            })?;
        self.lan = Some(handle);
        Ok(handle)
    }

    fn publish(&self) {
        for (name, value) in self.fwd.counters().named() {
            self.host.set_counter(name, value);
        }
        self.host.set_counter("host_refused", self.host_refused);
    }
}

impl Plugin for NetBeui {
    const NAME: &'static str = "netbeui";
    const KIND: PluginKind = PluginKind::LAN_PROTOCOL;
    const DESCRIPTION: &'static str =
        "NetBIOS Frames (NBFCP, RFC 2097) between PPP sessions and a LAN port";
    const CONFIG_SCHEMA: &'static str = config::SCHEMA;
    const CONFIG_UI: &'static str = config::UI;

    fn new(config_toml: &str, host: HostHandle) -> Result<Self, PluginError> {
        let config = Config::parse(config_toml).map_err(PluginError::invalid_config)?;
        let fwd = Forwarder::new(config.forwarder.clone());
        let targets = Vec::with_capacity(usize::from(config.forwarder.max_sessions));
        Ok(NetBeui {
            host,
            config,
            fwd,
            lan: None,
            reopen_at: Timestamp::ZERO,
            reopen_wait: REOPEN_FIRST,
            lan_buf: vec![0; wire::ethernet::HEADER_LEN + wire::ethernet::MAX_PAYLOAD],
            session_buf: vec![0; wire::ethernet::HEADER_LEN + wire::ethernet::MAX_PAYLOAD],
            targets,
            host_refused: 0,
        })
    }

    fn start(&mut self, now: Timestamp) -> Result<(), PluginError> {
        self.open_lan()?;
        self.host
            .register_protocol(
                PppProtocol::NBF,
                PppProtocol::NBFCP,
                &self.config.ncp_options(),
            )
            .map_err(|e| PluginError::failed(format_args!("registering NBF: {e}")))?;
        self.host.set_timer(TICK, now.saturating_add(TICK_PERIOD));
        self.host.log(
            LogLevel::Info,
            &format!(
                "NBF registered; LAN port {}, caller MACs from {}",
                self.config.interface, self.config.forwarder.mac_base
            ),
        );
        Ok(())
    }

    fn stop(&mut self, _now: Timestamp) -> Result<(), PluginError> {
        self.host.cancel_timer(TICK);
        if let Some(handle) = self.lan.take() {
            self.host.close(handle);
        }
        self.publish();
        Ok(())
    }

    fn on_timer(&mut self, now: Timestamp, timer: TimerId) -> Result<(), PluginError> {
        if timer != TICK {
            return Ok(());
        }
        if self.lan.is_none() && now >= self.reopen_at {
            match self.open_lan() {
                Ok(_) => {
                    self.reopen_wait = REOPEN_FIRST;
                    self.host.log(
                        LogLevel::Info,
                        &format!("LAN port {} reopened", self.config.interface),
                    );
                }
                Err(e) => {
                    self.reopen_wait = (self.reopen_wait * 2).min(REOPEN_MAX);
                    self.reopen_at = now.saturating_add(self.reopen_wait);
                    self.host.log(
                        LogLevel::Warn,
                        &format!("{e}; retrying in {} s", self.reopen_wait.as_secs()),
                    );
                }
            }
        }
        self.publish();
        self.host.set_timer(TICK, now.saturating_add(TICK_PERIOD));
        Ok(())
    }

    fn on_closed(
        &mut self,
        now: Timestamp,
        handle: HandleId,
        reason: CloseReason,
    ) -> Result<(), PluginError> {
        if self.lan == Some(handle) {
            self.lan = None;
            self.reopen_wait = REOPEN_FIRST;
            self.reopen_at = now.saturating_add(REOPEN_FIRST);
            self.host.log(
                LogLevel::Error,
                &format!(
                    "LAN port {} closed ({reason:?}); reopening in {} s",
                    self.config.interface,
                    REOPEN_FIRST.as_secs()
                ),
            );
        }
        Ok(())
    }

    fn on_data(
        &mut self,
        now: Timestamp,
        handle: HandleId,
        bytes: &[u8],
    ) -> Result<(), PluginError> {
        if self.lan != Some(handle) {
            return Ok(());
        }
        if self.fwd.from_lan(now, bytes, &mut self.targets).is_err() {
            return Ok(());
        }
        for &id in &self.targets {
            let Some(info) = self.fwd.for_session(id, bytes, &mut self.session_buf) else {
                continue;
            };
            if self
                .host
                .send_session_frame(SessionId(id), PppProtocol::NBF, info)
                .is_err()
            {
                self.host_refused += 1;
            }
        }
        Ok(())
    }

    fn on_session_up(
        &mut self,
        _now: Timestamp,
        session: SessionId,
        protocol: PppProtocol,
        info: SessionInfo<'_>,
    ) -> Result<(), PluginError> {
        if protocol != PppProtocol::NBF {
            return Err(PluginError::unsupported(format_args!(
                "netbeui does not handle {protocol}"
            )));
        }
        let params = session_params(info.user.as_str(), info.negotiated.as_str());
        let (user, names, mac_headers) =
            (params.user.clone(), params.names.len(), params.mac_headers);
        match self.fwd.session_up(session.0, params) {
            Ok(mac) => self.host.log(
                LogLevel::Info,
                &format!(
                    "session {session} (user {user:?}) is {mac} on {}; {names} projected \
                     names, MAC headers {}",
                    self.config.interface,
                    if mac_headers { "on" } else { "off" }
                ),
            ),
            Err(UpError::NotAllowed) => self.host.log(
                LogLevel::Info,
                &format!("session {session}: user {user:?} may not use NetBEUI"),
            ),
            Err(UpError::Full) => self.host.log(
                LogLevel::Warn,
                &format!(
                    "session {session}: all {} NetBEUI slots taken",
                    self.config.forwarder.max_sessions
                ),
            ),
        }
        Ok(())
    }

    fn on_session_frame(
        &mut self,
        now: Timestamp,
        session: SessionId,
        protocol: PppProtocol,
        payload: &[u8],
    ) -> Result<(), PluginError> {
        if protocol != PppProtocol::NBF {
            return Ok(());
        }
        let Ok(len) = self
            .fwd
            .from_session(now, session.0, payload, &mut self.lan_buf)
        else {
            return Ok(());
        };
        let (Some(handle), Some(frame)) = (self.lan, self.lan_buf.get(..len)) else {
            self.host_refused += 1;
            return Ok(());
        };
        if self.host.write(handle, frame).is_err() {
            self.host_refused += 1;
        }
        Ok(())
    }

    fn on_session_down(
        &mut self,
        _now: Timestamp,
        session: SessionId,
        _protocol: PppProtocol,
    ) -> Result<(), PluginError> {
        if self.fwd.session_down(session.0) {
            self.host.log(
                LogLevel::Info,
                &format!("session {session} left {}", self.config.interface),
            );
        }
        Ok(())
    }
}

dialgate_plugin_sdk::export_plugin!(NetBeui);
