//! `GET /metrics`: a [`MetricsSnapshot`] in the Prometheus text exposition format (0.0.4).
//!
//! The format is small enough to write by hand: per metric a `# HELP` and a `# TYPE` line,
//! then `name{label="value",...} number` samples. Label values escape `\`, `"` and newlines.

use core::fmt::Write;

use super::control::{MetricsSnapshot, PluginState, Traffic};

/// Every metric name starts with this.
pub const PREFIX: &str = "dialgate_";

/// One metric family being written.
struct Family<'a> {
    out: &'a mut String,
    name: &'a str,
}

impl Family<'_> {
    fn sample(&mut self, labels: &[(&str, &str)], value: u64) {
        self.out.push_str(PREFIX);
        self.out.push_str(self.name);
        if !labels.is_empty() {
            self.out.push('{');
            for (i, (k, v)) in labels.iter().enumerate() {
                if i > 0 {
                    self.out.push(',');
                }
                self.out.push_str(k);
                self.out.push_str("=\"");
                escape_label_value(self.out, v);
                self.out.push('"');
            }
            self.out.push('}');
        }
        let _ = writeln!(self.out, " {value}");
    }
}

fn family<'a>(out: &'a mut String, name: &'a str, kind: &str, help: &str) -> Family<'a> {
    let _ = writeln!(out, "# HELP {PREFIX}{name} {help}");
    let _ = writeln!(out, "# TYPE {PREFIX}{name} {kind}");
    Family { out, name }
}

/// Escapes a label value: `\` → `\\`, `"` → `\"`, newline → `\n`.
fn escape_label_value(out: &mut String, v: &str) {
    for c in v.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

/// The `{prefix}bytes_total` and `{prefix}packets_total` families, one sample per row and
/// direction.
fn traffic(out: &mut String, prefix: &str, what: &str, rows: &[(&[(&str, &str)], Traffic)]) {
    type Pick = fn(&Traffic) -> (u64, u64);
    let families: [(&str, &str, Pick); 2] = [
        ("bytes_total", "Bytes", |t| (t.bytes_in, t.bytes_out)),
        ("packets_total", "Packets", |t| {
            (t.packets_in, t.packets_out)
        }),
    ];
    for (suffix, unit, pick) in families {
        let name = format!("{prefix}{suffix}");
        let help = format!("{unit} {what} (in: from the peer, out: to the peer).");
        let mut f = family(out, &name, "counter", &help);
        for (labels, t) in rows {
            let (v_in, v_out) = pick(t);
            for (dir, v) in [("in", v_in), ("out", v_out)] {
                let mut l = labels.to_vec();
                l.push(("direction", dir));
                f.sample(&l, v);
            }
        }
    }
}

/// Renders a snapshot.
pub fn render(m: &MetricsSnapshot) -> String {
    let mut out = String::with_capacity(4096);
    family(
        &mut out,
        "uptime_seconds",
        "gauge",
        "Seconds since routerd started.",
    )
    .sample(&[], m.uptime_secs);

    let mut f = family(&mut out, "sessions", "gauge", "Current sessions, by role.");
    f.sample(&[("role", "terminate")], m.sessions.terminate);
    f.sample(&[("role", "relay")], m.sessions.relay);
    family(
        &mut out,
        "sessions_up",
        "gauge",
        "Current sessions with traffic flowing.",
    )
    .sample(&[], m.sessions.up);
    family(
        &mut out,
        "sessions_started_total",
        "counter",
        "Sessions started.",
    )
    .sample(&[], m.sessions_started);
    let mut f = family(
        &mut out,
        "sessions_ended_total",
        "counter",
        "Sessions ended, by teardown reason.",
    );
    for (reason, n) in &m.sessions_ended {
        f.sample(&[("reason", reason)], *n);
    }

    traffic(
        &mut out,
        "",
        "through all sessions, ended ones included",
        &[(&[], m.traffic)],
    );

    let mut f = family(
        &mut out,
        "drops_total",
        "counter",
        "Packets dropped, by reason.",
    );
    for (reason, n) in &m.drops {
        f.sample(&[("reason", reason)], *n);
    }
    let mut f = family(
        &mut out,
        "auth_failures_total",
        "counter",
        "Failed authentications, by reason.",
    );
    for (reason, n) in &m.auth_failures {
        f.sample(&[("reason", reason)], *n);
    }
    family(
        &mut out,
        "auth_lockouts_total",
        "counter",
        "Source addresses locked out after repeated authentication failures.",
    )
    .sample(&[], m.auth_lockouts);

    let mut f = family(
        &mut out,
        "plugin_state",
        "gauge",
        "1 for the plugin's current state, 0 for the others.",
    );
    for p in &m.plugins {
        for state in PluginState::ALL {
            let s = state.to_string();
            f.sample(
                &[("plugin", &p.name), ("state", &s)],
                u64::from(p.state == state),
            );
        }
    }
    let mut f = family(
        &mut out,
        "plugin_sessions",
        "gauge",
        "Current sessions on the plugin's links.",
    );
    for p in &m.plugins {
        f.sample(&[("plugin", &p.name)], p.sessions);
    }
    let mut f = family(
        &mut out,
        "plugin_errors_total",
        "counter",
        "Errors returned by the plugin's methods.",
    );
    for p in &m.plugins {
        f.sample(&[("plugin", &p.name)], p.errors);
    }
    let mut f = family(
        &mut out,
        "plugin_panics_total",
        "counter",
        "Panics caught at the plugin boundary.",
    );
    for p in &m.plugins {
        f.sample(&[("plugin", &p.name)], p.panics);
    }
    let mut f = family(
        &mut out,
        "plugin_restarts_total",
        "counter",
        "Restarts of the plugin's instances (automatic after a failure, or requested).",
    );
    for p in &m.plugins {
        f.sample(&[("plugin", &p.name)], p.restarts);
    }
    let names: Vec<[(&str, &str); 1]> = m.plugins.iter().map(|p| [("plugin", &*p.name)]).collect();
    let rows: Vec<(&[(&str, &str)], Traffic)> = names
        .iter()
        .zip(&m.plugins)
        .map(|(l, p)| (&l[..], p.traffic))
        .collect();
    traffic(&mut out, "plugin_", "on the plugin's links", &rows);
    let mut f = family(
        &mut out,
        "plugin_counter",
        "counter",
        "Counters a plugin instance publishes (drops of hostile input by reason and the like).",
    );
    for c in &m.plugin_counters {
        f.sample(
            &[("plugin", &c.plugin), ("link", &c.link), ("name", &c.name)],
            c.value,
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::control::{PluginCounter, PluginMetrics, SessionCounts};

    fn snapshot() -> MetricsSnapshot {
        MetricsSnapshot {
            uptime_secs: 12,
            sessions: SessionCounts {
                total: 3,
                terminate: 2,
                relay: 1,
                up: 2,
            },
            sessions_started: 9,
            sessions_ended: [("idle-timeout".to_owned(), 4)].into_iter().collect(),
            traffic: Traffic {
                bytes_in: 100,
                bytes_out: 200,
                packets_in: 1,
                packets_out: 2,
            },
            drops: [("quote\"back\\slash\nnl".to_owned(), 7)]
                .into_iter()
                .collect(),
            auth_failures: [("bad-password".to_owned(), 3)].into_iter().collect(),
            auth_lockouts: 2,
            plugins: vec![
                PluginMetrics {
                    name: "serial".to_owned(),
                    state: PluginState::Running,
                    sessions: 3,
                    traffic: Traffic {
                        bytes_in: 10,
                        bytes_out: 20,
                        packets_in: 30,
                        packets_out: 40,
                    },
                    errors: 0,
                    panics: 1,
                    restarts: 1,
                },
                PluginMetrics {
                    name: "pptp".to_owned(),
                    state: PluginState::Failed,
                    sessions: 0,
                    traffic: Traffic::default(),
                    errors: 5,
                    panics: 0,
                    restarts: 0,
                },
            ],
            plugin_counters: vec![PluginCounter {
                plugin: "pptp".to_owned(),
                link: "pptp-in".to_owned(),
                name: "gre_unknown_call".to_owned(),
                value: 6,
            }],
        }
    }

    #[test]
    fn samples_and_labels() {
        let text = render(&snapshot());
        for line in [
            "dialgate_uptime_seconds 12",
            "dialgate_sessions{role=\"terminate\"} 2",
            "dialgate_sessions{role=\"relay\"} 1",
            "dialgate_sessions_ended_total{reason=\"idle-timeout\"} 4",
            "dialgate_bytes_total{direction=\"in\"} 100",
            "dialgate_packets_total{direction=\"out\"} 2",
            "dialgate_drops_total{reason=\"quote\\\"back\\\\slash\\nnl\"} 7",
            "dialgate_auth_failures_total{reason=\"bad-password\"} 3",
            "dialgate_auth_lockouts_total 2",
            "dialgate_plugin_state{plugin=\"serial\",state=\"running\"} 1",
            "dialgate_plugin_state{plugin=\"pptp\",state=\"running\"} 0",
            "dialgate_plugin_state{plugin=\"pptp\",state=\"failed\"} 1",
            "dialgate_plugin_bytes_total{plugin=\"serial\",direction=\"out\"} 20",
            "dialgate_plugin_packets_total{plugin=\"serial\",direction=\"in\"} 30",
            "dialgate_plugin_errors_total{plugin=\"pptp\"} 5",
            "dialgate_plugin_panics_total{plugin=\"serial\"} 1",
            "dialgate_plugin_restarts_total{plugin=\"serial\"} 1",
            "dialgate_plugin_state{plugin=\"pptp\",state=\"restarting\"} 0",
            "dialgate_plugin_counter{plugin=\"pptp\",link=\"pptp-in\",name=\"gre_unknown_call\"} 6",
        ] {
            assert!(
                text.lines().any(|l| l == line),
                "missing {line:?} in\n{text}"
            );
        }
    }

    #[test]
    fn every_family_has_help_and_type_once_and_samples_follow_it() {
        let text = render(&snapshot());
        let mut declared: Vec<String> = Vec::new();
        let mut current = String::new();
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("# TYPE ") {
                let name = rest.split(' ').next().unwrap_or_default().to_owned();
                assert!(!declared.contains(&name), "{name} declared twice");
                declared.push(name.clone());
                current = name;
            } else if !line.starts_with('#') {
                let name = line.split(['{', ' ']).next().unwrap_or_default();
                assert_eq!(name, current, "sample {line:?} outside its family");
                let value = line.rsplit(' ').next().unwrap_or_default();
                assert!(value.parse::<u64>().is_ok(), "bad value in {line:?}");
            }
        }
        assert!(declared.len() >= 14, "{declared:?}");
    }
}
