//! The `ipx-bridge` LAN-protocol plugin: remote callers reach the office LAN's IPX network
//! over PPP without re-addressing anything.
//!
//! At start the plugin opens a packet socket on the LAN port through the host
//! (`open_packet`, for the configured frame type) and registers IPX (0x002B) with IPXCP
//! (0x802B), asking the core to offer the LAN's network number (RFC 1552 §3.1). When IPXCP
//! opens on a session the bridge gives the caller a node on the LAN; from then on the
//! caller's IPX datagrams go out on the LAN port and LAN frames for its node (and IPX
//! broadcasts) come back to it. [`bridge`] has the rules, [`frame`] the Ethernet frame
//! types, [`config`] the settings; the IPX header itself is `dialgate_wire::ipx`.
//!
//! Counters (drops by reason, frames each way) are published to the host once a second
//! (`set_counter`): routerd shows them in its metrics as `dialgate_plugin_counter`.

pub mod bridge;
pub mod config;
pub mod frame;
pub mod routes;

use core::fmt::Write as _;
use std::time::Duration;

use dialgate_plugin_sdk::{
    CloseReason, HandleId, HostHandle, LogLevel, Plugin, PluginError, PluginKind, PppProtocol,
    SessionId, SessionInfo, TimerId, Timestamp,
};

use crate::bridge::{Bridge, Counters, Sink};
use crate::config::Config;

/// The timer that publishes the counters.
const COUNTERS_TIMER: TimerId = TimerId(1);
/// How often the counters are published.
const COUNTERS_PERIOD: Duration = Duration::from_secs(1);
/// The timer that reopens the LAN port's packet socket after it closed.
const REOPEN_TIMER: TimerId = TimerId(2);
/// The first wait before reopening; it doubles up to [`REOPEN_MAX`].
const REOPEN_FIRST: Duration = Duration::from_secs(2);
/// The longest wait before reopening.
const REOPEN_MAX: Duration = Duration::from_secs(60);

/// One plugin instance: the bridge, its LAN port and the host.
#[derive(Debug)]
pub struct IpxBridge {
    host: HostHandle,
    config: Config,
    bridge: Bridge,
    lan: Option<HandleId>,
    published: Counters,
    /// The wait before the next reopen attempt of the LAN port.
    reopen_wait: Duration,
}

/// The bridge's output, sent through the host.
struct HostSink<'a> {
    host: &'a HostHandle,
    lan: Option<HandleId>,
}

impl Sink for HostSink<'_> {
    fn to_lan(&mut self, frame: &[u8]) -> bool {
        self.lan
            .is_some_and(|lan| self.host.write(lan, frame).is_ok())
    }

    fn to_session(&mut self, session: u64, datagram: &[u8]) -> bool {
        self.host
            .send_session_frame(SessionId(session), PppProtocol::IPX, datagram)
            .is_ok()
    }
}

/// `02:49:00:00:00:01`.
pub fn node_text(node: &[u8; 6]) -> String {
    let mut s = String::with_capacity(17);
    for (i, b) in node.iter().enumerate() {
        if i > 0 {
            s.push(':');
        }
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// Parses `02:49:00:00:00:01` (the core's notation in the negotiated TOML).
pub fn parse_node(text: &str) -> Option<[u8; 6]> {
    let mut node = [0u8; 6];
    let mut parts = text.split([':', '-']);
    for octet in &mut node {
        let part = parts.next()?;
        if part.len() != 2 {
            return None;
        }
        *octet = u8::from_str_radix(part, 16).ok()?;
    }
    parts.next().is_none().then_some(node)
}

/// What IPXCP agreed on a session, from the `negotiated` TOML of `on_session_up`: the
/// network and the caller's node (absent when it sent none).
pub fn parse_negotiated(text: &str) -> Option<(u32, Option<[u8; 6]>)> {
    let table: toml::Table = text.parse().ok()?;
    let network = u32::try_from(table.get("network")?.as_integer()?).ok()?;
    let peer = match table.get("peer_node") {
        Some(v) => Some(parse_node(v.as_str()?)?),
        None => None,
    };
    Some((network, peer))
}

impl IpxBridge {
    /// The IPXCP option policy registered with the core (its schema: routerd's
    /// `daemon::lan`): the LAN's network number, the bridge's own node, and the node given
    /// to callers that ask for one. No routing protocol is requested: a bridge runs none.
    pub fn ncp_options(&self) -> String {
        format!(
            "network = {}\nlocal_node = \"{}\"\npeer_node = \"{}\"\n",
            self.config.network,
            node_text(&self.bridge.local_node()),
            node_text(&self.bridge.assigned_link_node()),
        )
    }

    /// The bridge (its table and counters).
    pub fn bridge(&self) -> &Bridge {
        &self.bridge
    }

    /// Opens the LAN port's packet socket for the frame type.
    fn open_lan(&self) -> Result<HandleId, String> {
        let ft = self.config.frame_type;
        self.host
            .open_packet(&self.config.interface, ft.socket_protocol())
            .map_err(|e| format!("packet socket on {} for {ft}: {e}", self.config.interface))
    }

    fn publish(&mut self) {
        for ((name, value), (_, old)) in self.bridge.counters.iter().zip(self.published.iter()) {
            if value != old {
                self.host.set_counter(name, value);
            }
        }
        self.published = self.bridge.counters.clone();
    }
}

impl Plugin for IpxBridge {
    const NAME: &'static str = "ipx-bridge";
    const KIND: PluginKind = PluginKind::LAN_PROTOCOL;
    const DESCRIPTION: &'static str =
        "bridges IPX between PPP sessions (IPXCP, RFC 1552) and one Ethernet port";
    const CONFIG_SCHEMA: &'static str = config::SCHEMA;
    const CONFIG_UI: &'static str = config::UI;

    fn new(config_toml: &str, host: HostHandle) -> Result<Self, PluginError> {
        let config = Config::parse(config_toml).map_err(PluginError::invalid_config)?;
        let bridge = Bridge::new(&config);
        Ok(IpxBridge {
            host,
            config,
            bridge,
            lan: None,
            published: Counters::default(),
            reopen_wait: REOPEN_FIRST,
        })
    }

    fn start(&mut self, now: Timestamp) -> Result<(), PluginError> {
        let ft = self.config.frame_type;
        self.lan = Some(self.open_lan().map_err(PluginError::failed)?);
        self.host
            .register_protocol(PppProtocol::IPX, PppProtocol::IPXCP, &self.ncp_options())
            .map_err(|e| PluginError::failed(format_args!("registering IPX: {e}")))?;
        self.host.log(
            LogLevel::Info,
            &format!(
                "bridging IPX network {:08x} ({ft}) on {}",
                self.config.network, self.config.interface
            ),
        );
        self.host
            .set_timer(COUNTERS_TIMER, now.saturating_add(COUNTERS_PERIOD));
        Ok(())
    }

    fn stop(&mut self, _now: Timestamp) -> Result<(), PluginError> {
        if let Some(lan) = self.lan.take() {
            self.host.close(lan);
        }
        self.host.cancel_timer(COUNTERS_TIMER);
        self.host.cancel_timer(REOPEN_TIMER);
        self.publish();
        Ok(())
    }

    fn on_timer(&mut self, now: Timestamp, timer: TimerId) -> Result<(), PluginError> {
        if timer == COUNTERS_TIMER {
            self.publish();
            self.host
                .set_timer(COUNTERS_TIMER, now.saturating_add(COUNTERS_PERIOD));
        } else if timer == REOPEN_TIMER && self.lan.is_none() {
            match self.open_lan() {
                Ok(lan) => {
                    self.lan = Some(lan);
                    self.reopen_wait = REOPEN_FIRST;
                    self.host.log(
                        LogLevel::Info,
                        &format!("{} reopened: bridging again", self.config.interface),
                    );
                }
                Err(e) => {
                    self.reopen_wait = (self.reopen_wait * 2).min(REOPEN_MAX);
                    self.host.log(
                        LogLevel::Warn,
                        &format!("{e}; retrying in {}s", self.reopen_wait.as_secs()),
                    );
                    self.host
                        .set_timer(REOPEN_TIMER, now.saturating_add(self.reopen_wait));
                }
            }
        }
        Ok(())
    }

    fn on_data(
        &mut self,
        now: Timestamp,
        handle: HandleId,
        bytes: &[u8],
    ) -> Result<(), PluginError> {
        if Some(handle) == self.lan {
            let mut sink = HostSink {
                host: &self.host,
                lan: self.lan,
            };
            self.bridge.from_lan(now.as_nanos(), bytes, &mut sink);
        }
        Ok(())
    }

    fn on_closed(
        &mut self,
        now: Timestamp,
        handle: HandleId,
        reason: CloseReason,
    ) -> Result<(), PluginError> {
        if Some(handle) == self.lan {
            // The interface went away (a USB NIC unplugged, a VLAN deleted): sessions stay
            // up, nothing crosses until the port is back.
            self.lan = None;
            self.host.log(
                LogLevel::Error,
                &format!(
                    "the packet socket on {} closed ({reason:?}); reopening in {}s",
                    self.config.interface,
                    self.reopen_wait.as_secs()
                ),
            );
            self.host
                .set_timer(REOPEN_TIMER, now.saturating_add(self.reopen_wait));
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
        if protocol != PppProtocol::IPX {
            return Err(PluginError::unsupported(format_args!(
                "ipx-bridge does not handle {protocol}"
            )));
        }
        let Some((network, link_node)) = parse_negotiated(info.negotiated.as_str()) else {
            self.host.log(
                LogLevel::Warn,
                &format!("session {session}: unreadable IPXCP result, not bridged"),
            );
            return Ok(());
        };
        let user = info.user.as_str();
        let allowed = self.config.allows(user);
        match self
            .bridge
            .session_up(session.0, network, link_node, allowed)
        {
            Ok(node) => self.host.log(
                LogLevel::Info,
                &format!(
                    "session {session} (user {user:?}) bridged as node {:08x}.{}",
                    self.config.network,
                    node_text(&node).replace(':', "")
                ),
            ),
            Err(refusal) => self.host.log(
                LogLevel::Warn,
                &format!("session {session} (user {user:?}) not bridged: {refusal}"),
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
        if protocol == PppProtocol::IPX {
            let mut sink = HostSink {
                host: &self.host,
                lan: self.lan,
            };
            self.bridge
                .from_session(now.as_nanos(), session.0, payload, &mut sink);
        }
        Ok(())
    }

    fn on_session_down(
        &mut self,
        _now: Timestamp,
        session: SessionId,
        _protocol: PppProtocol,
    ) -> Result<(), PluginError> {
        if self.bridge.session_down(session.0) {
            self.host.log(
                LogLevel::Info,
                &format!("session {session} no longer bridged"),
            );
        }
        Ok(())
    }
}

dialgate_plugin_sdk::export_plugin!(IpxBridge);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn negotiated_ipxcp_toml_rfc1552_3() {
        let text = "network = 49374\nlocal_node = \"02:49:00:00:00:00\"\n\
                    peer_node = \"02:00:00:00:00:01\"\npeer_routing = [\"rip-sap\"]\n\
                    peer_configuration_complete = false\n";
        assert_eq!(
            parse_negotiated(text),
            Some((49374, Some([2, 0, 0, 0, 0, 1])))
        );
        assert_eq!(parse_negotiated("network = 7\n"), Some((7, None)));
        for bad in [
            "",
            "network = -1",
            "network = 1\npeer_node = \"02:00\"",
            "= x",
        ] {
            assert_eq!(parse_negotiated(bad), None, "{bad}");
        }
        assert_eq!(
            parse_node("02:49:00:00:00:0a"),
            Some([2, 0x49, 0, 0, 0, 10])
        );
        assert_eq!(parse_node("02:49:00:00:00:0a:00"), None);
        assert_eq!(node_text(&[2, 0x49, 0, 0, 0, 10]), "02:49:00:00:00:0a");
    }
}
