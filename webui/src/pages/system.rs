//! System: the hardware profile, network interfaces (WAN/LAN role, addresses, state,
//! counters), DNS servers and time (shown, not set), and reboot behind a confirmation page.

use std::fmt::Write;

use axum::extract::State;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::{Extension, Form};
use dialgate_routerd::api::client::ClientError;
use dialgate_routerd::api::system::{NetInterface, SystemInfo};
use serde::Deserialize;
use serde_json::Value;

use crate::app::{Shared, Visitor, routerd_error};
use crate::html::{self, csrf_field, esc};

/// A string field of a JSON object, or "".
fn text<'a>(v: &'a Value, key: &str) -> &'a str {
    v.get(key).and_then(Value::as_str).unwrap_or("")
}

/// The profile roles of `GET /v1/system/hardware` by interface name.
fn profile_roles(hw: Option<&Value>) -> Vec<(String, String)> {
    hw.and_then(|h| h.get("interfaces"))
        .and_then(Value::as_array)
        .map(|list| {
            list.iter()
                .map(|i| (text(i, "name").to_owned(), text(i, "role").to_owned()))
                .collect()
        })
        .unwrap_or_default()
}

/// A role as people say it.
fn role_label(role: &str) -> String {
    match role {
        "wan" => "WAN".to_owned(),
        "lan" => "LAN".to_owned(),
        "mgmt" => "management".to_owned(),
        "tun" => "sessions (TUN)".to_owned(),
        other => other.to_owned(),
    }
}

fn yes_no(v: Option<bool>) -> &'static str {
    match v {
        Some(true) => "yes",
        Some(false) => "no",
        None => "—",
    }
}

/// The hardware section, from the profile routerd read (`GET /v1/system/hardware`).
fn hardware_section(hw: &Result<Value, ClientError>) -> String {
    let mut b = String::from("<h2 id=\"hardware\">Hardware profile</h2>");
    let hw = match hw {
        Ok(v) => v,
        Err(ClientError::Api { status: 404, .. }) => {
            b.push_str("<p>routerd has no hardware profile (none installed at its <code>system.hw_profile</code> path).</p>");
            return b;
        }
        Err(e) => {
            let _ = write!(
                b,
                "<p class=\"field-error\">routerd did not give the hardware profile: {}</p>",
                esc(&e.to_string())
            );
            return b;
        }
    };
    if let Some(err) = hw.get("error").and_then(Value::as_str) {
        let _ = write!(
            b,
            "<p class=\"field-error\">The profile could not be read: {}</p>",
            esc(err)
        );
    }
    b.push_str("<dl class=\"kv\">");
    for (key, label) in [
        ("board", "Board"),
        ("description", "Description"),
        ("arch", "Architecture"),
        ("console", "Console"),
        ("detect", "Recognised by"),
        ("profile_path", "Profile file"),
    ] {
        let value = match hw.get(key) {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Object(o)) => o
                .iter()
                .map(|(k, v)| format!("{k} {}", v.as_str().map_or(v.to_string(), str::to_owned)))
                .collect::<Vec<_>>()
                .join(", "),
            Some(Value::Null) | None => continue,
            Some(other) => other.to_string(),
        };
        let _ = write!(
            b,
            "<dt>{label}</dt><dd data-hw=\"{key}\">{}</dd>",
            esc(&value)
        );
    }
    b.push_str("</dl>");
    if let Some(list) = hw.get("interfaces").and_then(Value::as_array)
        && !list.is_empty()
    {
        b.push_str("<h3>Ports</h3><div class=\"table-wrap\"><table class=\"responsive\"><thead><tr>\
<th scope=\"col\">Name</th><th scope=\"col\">Role</th><th scope=\"col\">Device path</th>\
<th scope=\"col\">Default address</th><th scope=\"col\">Present</th><th scope=\"col\">What</th></tr></thead><tbody>");
        for i in list {
            let _ = write!(
                b,
                "<tr><td data-label=\"Name\">{}</td><td data-label=\"Role\">{}</td><td data-label=\"Device path\">{}</td>\
<td data-label=\"Default address\">{}</td><td data-label=\"Present\">{}</td><td data-label=\"What\">{}</td></tr>",
                esc(text(i, "name")),
                esc(&role_label(text(i, "role"))),
                esc(text(i, "path")),
                esc(text(i, "address")),
                yes_no(i.get("present").and_then(Value::as_bool)),
                esc(text(i, "description")),
            );
        }
        b.push_str("</tbody></table></div>");
    }
    match hw.get("serial").and_then(Value::as_array) {
        Some(list) if !list.is_empty() => {
            b.push_str("<h3>Serial ports</h3><div class=\"table-wrap\"><table class=\"responsive\"><thead><tr>\
<th scope=\"col\">Device</th><th scope=\"col\">Modem lines</th><th scope=\"col\">Present</th>\
<th scope=\"col\">Used by</th><th scope=\"col\">What</th></tr></thead><tbody>");
            for s in list {
                let _ = write!(
                    b,
                    "<tr><td data-label=\"Device\">{}</td><td data-label=\"Modem lines\">{}</td><td data-label=\"Present\">{}</td>\
<td data-label=\"Used by\">{}</td><td data-label=\"What\">{}</td></tr>",
                    esc(text(s, "device")),
                    yes_no(s.get("modem_control").and_then(Value::as_bool)),
                    yes_no(s.get("present").and_then(Value::as_bool)),
                    esc(text(s, "link")),
                    esc(text(s, "description")),
                );
            }
            b.push_str("</tbody></table></div>");
        }
        _ => b.push_str("<p>The profile lists no serial port.</p>"),
    }
    b
}

fn state_badge(i: &NetInterface) -> String {
    let (class, label) = match (i.state.as_str(), i.admin_up) {
        ("up", _) => ("ok", "up"),
        (_, false) => ("muted", "disabled"),
        ("down" | "lowerlayerdown", true) => ("bad", "no link"),
        (_, true) => ("ok", "up"),
    };
    format!(
        "<span class=\"badge {class}\" title=\"operstate {}\">{label}</span>",
        esc(&i.state)
    )
}

fn counter(v: Option<u64>) -> String {
    v.map(html::bytes).unwrap_or_else(|| "—".to_owned())
}

/// The interfaces table.
fn interfaces_section(info: &SystemInfo, roles: &[(String, String)]) -> String {
    let mut b = String::from(
        "<h2 id=\"interfaces\">Network interfaces</h2><div class=\"table-wrap\"><table class=\"responsive\" id=\"interface-table\"><thead><tr>\
<th scope=\"col\">Interface</th><th scope=\"col\">Role</th><th scope=\"col\">State</th><th scope=\"col\">Addresses</th>\
<th scope=\"col\">MAC</th><th scope=\"col\">MTU</th><th scope=\"col\">Received</th><th scope=\"col\">Sent</th>\
<th scope=\"col\">Errors</th></tr></thead><tbody>",
    );
    for i in &info.interfaces {
        // The profile names the box's ports (WAN/LAN); routerd knows its TUN and LAN.
        let role = roles
            .iter()
            .find(|(n, _)| *n == i.name)
            .map(|(_, r)| r.as_str())
            .or(i.role.as_deref())
            .map(role_label)
            .unwrap_or_default();
        let errors = match (i.counters.rx_errors, i.counters.tx_errors) {
            (None, None) => "—".to_owned(),
            (rx, tx) => format!("{} / {}", rx.unwrap_or(0), tx.unwrap_or(0)),
        };
        let _ = write!(
            b,
            "<tr data-interface=\"{name}\"><td data-label=\"Interface\">{name}</td><td data-label=\"Role\">{role}</td>\
<td data-label=\"State\">{state}</td><td data-label=\"Addresses\">{addrs}</td><td data-label=\"MAC\">{mac}</td>\
<td data-label=\"MTU\">{mtu}</td><td data-label=\"Received\">{rx}</td><td data-label=\"Sent\">{tx}</td>\
<td data-label=\"Errors\">{errors}</td></tr>",
            name = esc(&i.name),
            role = esc(&role),
            state = state_badge(i),
            addrs = i
                .addresses
                .iter()
                .map(|a| esc(a))
                .collect::<Vec<_>>()
                .join("<br>"),
            mac = esc(i.mac.as_deref().unwrap_or("")),
            mtu = i.mtu.map(|m| m.to_string()).unwrap_or_default(),
            rx = counter(i.counters.rx_bytes),
            tx = counter(i.counters.tx_bytes),
        );
    }
    b.push_str("</tbody></table></div>");
    b
}

/// `GET /system`.
pub async fn show(State(app): State<Shared>, Extension(v): Extension<Visitor>) -> Response {
    let c = &app.client;
    let (info, hw) = tokio::join!(c.system_info(), c.get::<Value>("/v1/system/hardware"));
    let info = match info {
        Ok(i) => i,
        Err(e) => return routerd_error(&v, "/system", &e),
    };
    let flash = app.sessions().take_flash(&v.id);
    let mut b = String::new();
    b.push_str(&hardware_section(&hw));
    b.push_str(&interfaces_section(&info, &profile_roles(hw.as_ref().ok())));
    let dns = if info.dns.is_empty() {
        "none".to_owned()
    } else {
        info.dns
            .iter()
            .map(|d| esc(d))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let _ = write!(
        b,
        "<h2 id=\"dns-time\">DNS and time</h2><dl class=\"kv\">\
<dt>Time (UTC)</dt><dd id=\"system-time\">{time}</dd><dt>Up since boot</dt><dd>{uptime}</dd>\
<dt>DNS servers</dt><dd id=\"dns-servers\">{dns}</dd><dt>Host name</dt><dd>{host}</dd><dt>Kernel</dt><dd>{kernel}</dd></dl>\
<p><small>Shown, not set here: the box takes its DNS servers from DHCP (<code>/etc/resolv.conf</code>) \
and keeps UTC; routerd's configuration has no DNS or NTP settings yet.</small></p>\
<h2 id=\"reboot\">Reboot</h2><p>Restarts the box: every session ends.</p>\
<p><a class=\"button danger\" href=\"/system/reboot\">Reboot…</a></p>",
        time = esc(&info.time.to_string()),
        uptime = info
            .boot_uptime_secs
            .map(html::duration)
            .unwrap_or_else(|| "—".to_owned()),
        host = esc(info.hostname.as_deref().unwrap_or("—")),
        kernel = esc(info.kernel.as_deref().unwrap_or("—")),
    );
    Html(html::page(
        "System",
        &v.chrome("/system", flash.as_deref()),
        &b,
    ))
    .into_response()
}

fn confirm_page(v: &Visitor, error: Option<&str>) -> String {
    let error = error
        .map(|e| {
            format!(
                "<div class=\"error-summary\" role=\"alert\"><p>The box was not rebooted: {}</p></div>",
                esc(e)
            )
        })
        .unwrap_or_default();
    let body = format!(
        "{error}<div class=\"warning\" role=\"note\"><p><strong>Reboot the box now?</strong> Every session \
ends and the web UI is away until the box is up again (usually under a minute).</p></div>\
<form method=\"post\" action=\"/system/reboot\" id=\"reboot-form\">{csrf}\
<input type=\"hidden\" name=\"confirm\" value=\"yes\">\
<button type=\"submit\" class=\"danger\">Reboot now</button> <a href=\"/system\">Cancel</a></form>",
        csrf = csrf_field(&v.csrf)
    );
    html::page("Reboot", &v.chrome("/system", None), &body)
}

/// `GET /system/reboot`: the confirmation.
pub async fn confirm(Extension(v): Extension<Visitor>) -> Response {
    Html(confirm_page(&v, None)).into_response()
}

/// The reboot form.
#[derive(Debug, Deserialize)]
pub struct RebootForm {
    /// `yes` from the confirmation page.
    #[serde(default)]
    confirm: String,
}

/// `POST /system/reboot`: only with the confirmation page's `confirm=yes`.
pub async fn reboot(
    State(app): State<Shared>,
    Extension(v): Extension<Visitor>,
    Form(form): Form<RebootForm>,
) -> Response {
    if form.confirm != "yes" {
        return Redirect::to("/system/reboot").into_response();
    }
    match app.client.reboot().await {
        Ok(_) => {
            tracing::warn!(ip = %v.ip, "reboot requested from the web UI");
            Html(html::page(
                "Rebooting",
                &v.chrome("/system", None),
                "<p role=\"status\" id=\"rebooting\">The box is rebooting. Reload this page in a minute.</p>",
            ))
            .into_response()
        }
        Err(e) => (
            axum::http::StatusCode::BAD_GATEWAY,
            Html(confirm_page(&v, Some(&e.to_string()))),
        )
            .into_response(),
    }
}

#[cfg(test)]
mod tests {
    use dialgate_routerd::api::system::NetCounters;
    use dialgate_routerd::time::Timestamp;

    use super::*;

    fn iface(name: &str, role: Option<&str>, state: &str) -> NetInterface {
        NetInterface {
            name: name.to_owned(),
            role: role.map(str::to_owned),
            state: state.to_owned(),
            admin_up: true,
            mac: Some("52:54:00:00:00:01".to_owned()),
            mtu: Some(1500),
            addresses: vec!["192.0.2.1/24".to_owned(), "<b>".to_owned()],
            counters: NetCounters {
                rx_bytes: Some(2048),
                ..NetCounters::default()
            },
        }
    }

    #[test]
    fn interfaces_take_the_profile_role_then_routerds() {
        let info = SystemInfo {
            hostname: None,
            kernel: None,
            time: Timestamp::EPOCH,
            boot_uptime_secs: None,
            dns: vec![],
            interfaces: vec![
                iface("wan0", None, "up"),
                iface("dg0", Some("tun"), "unknown"),
                iface("eth9", None, "down"),
            ],
        };
        let roles = profile_roles(Some(&serde_json::json!({
            "interfaces": [{"name": "wan0", "role": "wan"}]
        })));
        let s = interfaces_section(&info, &roles);
        assert!(s.contains("<td data-label=\"Role\">WAN</td>"), "{s}");
        assert!(s.contains("sessions (TUN)"), "{s}");
        assert!(s.contains("no link"), "{s}");
        assert!(s.contains("192.0.2.1/24<br>&lt;b&gt;"), "escaped: {s}");
        assert!(s.contains("2.0 KiB"), "{s}");
    }

    #[test]
    fn hardware_from_the_profile_or_a_note() {
        let hw = serde_json::json!({
            "profile_path": "/etc/dialgate/hw-profile.toml",
            "board": "apu2", "description": "PC Engines <APU2>", "arch": "x86_64",
            "interfaces": [{"name": "wan0", "role": "wan", "path": "0000:01:00.0",
                            "address": "dhcp", "present": true}],
            "serial": [{"device": "ttyS1", "modem_control": false, "present": false}]
        });
        let s = hardware_section(&Ok(hw));
        assert!(s.contains("data-hw=\"board\">apu2"), "{s}");
        assert!(s.contains("PC Engines &lt;APU2&gt;"), "{s}");
        assert!(s.contains("x86_64"), "{s}");
        assert!(s.contains("0000:01:00.0"), "{s}");
        assert!(s.contains("ttyS1"), "{s}");
        let none = hardware_section(&Err(ClientError::Api {
            status: 404,
            body: dialgate_routerd::api::ErrorBody {
                error: "no profile".into(),
                detail: None,
            },
        }));
        assert!(none.contains("no hardware profile"), "{none}");
    }
}
