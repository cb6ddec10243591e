//! Test plugin `lan-probe`: a LAN-protocol plugin. It registers IPX (0x002B) with IPXCP
//! (0x802B); when IPXCP opens on a session it sends one datagram on it, `hello from session
//! N` (or the bytes its configuration gives as `greeting_hex = "ffff0022..."`, e.g. a real
//! IPX packet); everything it sees is appended, one line per event, to the file its
//! configuration names (`record = "/path"`), so that a test can follow it:
//!
//! ```text
//! up SESSION PROTOCOL user=USER peer=PEER negotiated=KEY=VALUE;KEY=VALUE...
//! sent SESSION ok            (or: sent SESSION error MESSAGE)
//! frame SESSION PROTOCOL PAYLOAD
//! hex SESSION PROTOCOL PAYLOAD-IN-HEX   (only with `greeting_hex`)
//! down SESSION PROTOCOL
//! ```

use std::io::Write;

use dialgate_plugin_sdk::{
    HostHandle, LogLevel, Plugin, PluginError, PluginKind, PppProtocol, SessionId, SessionInfo,
    Timestamp,
};

/// The IPXCP options the probe registers (the core's schema, see routerd's `daemon::lan`).
const IPXCP_OPTIONS: &str =
    "network = 0x2a\nrouting_protocol = \"rip-sap\"\nrouter_name = \"probe\"\n";

struct LanProbe {
    host: HostHandle,
    record: Option<String>,
    /// The greeting's bytes, when configured.
    greeting: Option<Vec<u8>>,
}

fn setting(config_toml: &str, key: &str) -> Option<String> {
    config_toml.lines().find_map(|l| {
        let (k, v) = l.split_once('=')?;
        (k.trim() == key).then(|| v.trim().trim_matches('"').to_owned())
    })
}

fn from_hex(text: &str) -> Option<Vec<u8>> {
    let text = text.as_bytes();
    if !text.len().is_multiple_of(2) {
        return None;
    }
    text.chunks(2)
        .map(|pair| u8::from_str_radix(std::str::from_utf8(pair).ok()?, 16).ok())
        .collect()
}

fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl LanProbe {
    fn note(&self, line: &str) {
        let Some(path) = &self.record else {
            self.host.log(LogLevel::Info, line);
            return;
        };
        let written = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .and_then(|mut f| f.write_all(format!("{line}\n").as_bytes()));
        if let Err(e) = written {
            self.host
                .log(LogLevel::Error, &format!("lan-probe: {path}: {e}"));
        }
    }
}

impl Plugin for LanProbe {
    const NAME: &'static str = "lan-probe";
    const KIND: PluginKind = PluginKind::LAN_PROTOCOL;
    const DESCRIPTION: &'static str = "records IPX sessions and greets each (test plugin)";

    fn new(config_toml: &str, host: HostHandle) -> Result<Self, PluginError> {
        let record = setting(config_toml, "record");
        let greeting = match setting(config_toml, "greeting_hex") {
            Some(hex) => {
                Some(from_hex(&hex).ok_or_else(|| PluginError::invalid_config("greeting_hex"))?)
            }
            None => None,
        };
        Ok(LanProbe {
            host,
            record,
            greeting,
        })
    }

    fn start(&mut self, _now: Timestamp) -> Result<(), PluginError> {
        self.host
            .register_protocol(PppProtocol::IPX, PppProtocol::IPXCP, IPXCP_OPTIONS)
            .map_err(PluginError::failed)?;
        // A protocol without a core policy is refused.
        if self
            .host
            .register_protocol(PppProtocol(0x0021), PppProtocol(0x8021), "")
            .is_ok()
        {
            return Err(PluginError::failed("IPCP registration was accepted"));
        }
        self.note("registered");
        Ok(())
    }

    fn on_session_up(
        &mut self,
        _now: Timestamp,
        session: SessionId,
        protocol: PppProtocol,
        info: SessionInfo<'_>,
    ) -> Result<(), PluginError> {
        let negotiated = info.negotiated.as_str().trim().replace('\n', ";");
        self.note(&format!(
            "up {session} {protocol} user={} peer={} negotiated={negotiated}",
            info.user.as_str(),
            info.peer.as_str()
        ));
        let hello = match &self.greeting {
            Some(bytes) => bytes.clone(),
            None => format!("hello from session {session}").into_bytes(),
        };
        match self.host.send_session_frame(session, protocol, &hello) {
            Ok(()) => self.note(&format!("sent {session} ok")),
            Err(e) => self.note(&format!("sent {session} error {e}")),
        }
        Ok(())
    }

    fn on_session_frame(
        &mut self,
        _now: Timestamp,
        session: SessionId,
        protocol: PppProtocol,
        payload: &[u8],
    ) -> Result<(), PluginError> {
        self.note(&format!(
            "frame {session} {protocol} {}",
            String::from_utf8_lossy(payload)
        ));
        if self.greeting.is_some() {
            self.note(&format!("hex {session} {protocol} {}", to_hex(payload)));
        }
        Ok(())
    }

    fn on_session_down(
        &mut self,
        _now: Timestamp,
        session: SessionId,
        protocol: PppProtocol,
    ) -> Result<(), PluginError> {
        self.note(&format!("down {session} {protocol}"));
        Ok(())
    }
}

dialgate_plugin_sdk::export_plugin!(LanProbe);
