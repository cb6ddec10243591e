//! routerctl: the command line client of routerd's management API (a unix socket).
//!
//! Exit codes: 0 success; 1 routerd refused or failed the operation (or `config check` found
//! problems); 2 bad usage or unreadable local input (a file, the password); 3 routerd is not
//! reachable (no socket, no permission, no answer in time); 4 routerd's answer was not
//! understood.

use std::fmt::Write as _;
use std::io::{BufRead, IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use dialgate_routerd::api::client::{Client, ClientError, encode_segment};
use dialgate_routerd::api::upgrade::{UpgradeStaged, UpgradeStatus};
use dialgate_routerd::api::users_attrs::{NetProtocol, UserAttrs};
use dialgate_routerd::api::{
    API_DOCUMENT_NAME, ApplyRequest, ApplyResult, CheckReport, CheckRequest, ConfigIssue,
    ConfigShow, Encryption, History, LogLine, PluginInfo, PluginRestart, SessionInfo,
    SetPasswordRequest, Status, Traffic, UserEntry, UserSet,
};
use dialgate_routerd::config::ManagementConfig;
use dialgate_routerd::hardware::HardwareInfo;
use hyper::Method;
use serde::Serialize;

/// Control a running routerd.
#[derive(Debug, Parser)]
#[command(
    name = "routerctl",
    version,
    about,
    after_help = "Exit codes: 0 success, 1 routerd refused or failed the operation (or the \
                  checked configuration is invalid), 2 bad usage or unreadable local input, \
                  3 routerd not reachable, 4 unexpected answer."
)]
struct Args {
    /// routerd's management socket [default: /run/dialgate/routerd.sock]
    #[arg(long, global = true, value_name = "PATH")]
    socket: Option<PathBuf>,
    /// Print routerd's JSON answer instead of a table.
    #[arg(long, global = true)]
    json: bool,
    /// Seconds to wait for an answer.
    #[arg(long, global = true, default_value_t = 30, value_name = "SECS")]
    timeout: u64,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Daemon status: version, uptime, sessions, plugins, interfaces.
    Status,
    /// Sessions (default: list).
    Sessions {
        #[command(subcommand)]
        action: Option<SessionsCmd>,
    },
    /// Local users (default: list).
    Users {
        #[command(subcommand)]
        action: Option<UsersCmd>,
    },
    /// Plugins with their versions, state and restarts (default: list).
    Plugins {
        #[command(subcommand)]
        action: Option<PluginsCmd>,
    },
    /// The configuration (default: show).
    Config {
        #[command(subcommand)]
        action: Option<ConfigCmd>,
    },
    /// Recent log lines.
    Logs {
        /// Only lines of this session.
        #[arg(long, value_name = "ID")]
        session: Option<u64>,
        /// At most this many (the newest).
        #[arg(long, value_name = "N")]
        limit: Option<usize>,
    },
    /// The Prometheus metrics, as routerd exposes them.
    Metrics,
    /// The appliance: image upgrades into the inactive root slot.
    System {
        #[command(subcommand)]
        action: SystemCmd,
    },
}

#[derive(Debug, Subcommand)]
enum SystemCmd {
    /// Check an upgrade bundle (`dialgate-<arch>.upgrade`, made by appliance-image/build.sh)
    /// and write it to the inactive root slot, keeping the configuration; the box boots it
    /// next (with --reboot: now) and falls back to this slot if it does not come up.
    Upgrade {
        /// The bundle.
        file: PathBuf,
        /// Reboot into the new slot once it is written.
        #[arg(long)]
        reboot: bool,
        /// Boot tries the new slot gets before the box falls back (1 to 9).
        #[arg(long, default_value_t = dialgate_routerd::api::upgrade::DEFAULT_TRIES)]
        tries: u8,
    },
    /// The running slot and release, and where the last upgrade stands.
    UpgradeStatus,
    /// The box's hardware profile: interfaces with their roles, serial ports with their
    /// modem-control lines and the links on them.
    Hardware,
}

#[derive(Debug, Subcommand)]
enum SessionsCmd {
    /// Every session.
    List,
    /// One session in detail.
    Show {
        /// Session id.
        id: u64,
    },
    /// End a session.
    Kill {
        /// Session id.
        id: u64,
    },
}

#[derive(Debug, Subcommand)]
enum PluginsCmd {
    /// Every plugin the configuration lists.
    List,
    /// Restart a plugin's instances (or one link's) now and reset their restart backoff.
    Restart {
        /// Plugin (or link) name.
        name: String,
    },
}

#[derive(Debug, Subcommand)]
enum UsersCmd {
    /// Every user (never a password or hash).
    List,
    /// Set (or create a user with) a password, read from the terminal (asked twice) or
    /// from one line of standard input; never from the command line.
    SetPassword {
        /// User name.
        name: String,
    },
    /// Remove a user.
    Remove {
        /// User name.
        name: String,
    },
    /// Show a user's attributes: static address, allowed links and protocols.
    Show {
        /// User name.
        name: String,
    },
    /// Change a user's attributes (the options not given stay as they are).
    Set {
        /// User name.
        name: String,
        /// The IPv4 address every session of the user gets instead of a pool address
        /// (outside every pool range); `none` removes it.
        #[arg(long, value_name = "ADDRESS|none")]
        static_address: Option<String>,
        /// The link plugins the user may call in on, comma-separated (`pptp,serial`);
        /// `all` lifts the restriction.
        #[arg(long, value_name = "PLUGINS|all")]
        links: Option<String>,
        /// The network protocols the user may run, comma-separated (`ip,ipx,netbeui`); `all`
        /// lifts the restriction.
        #[arg(long, value_name = "PROTOCOLS|all")]
        protocols: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
enum ConfigCmd {
    /// Print the current configuration, or a kept version of it.
    Show {
        /// A kept version (see `config history`); default: the current one.
        version: Option<u64>,
    },
    /// Validate FILE against routerd's schema and show what applying it would change.
    Check {
        /// The TOML file.
        file: PathBuf,
    },
    /// Validate and apply FILE (routerd rolls back if applying fails).
    Apply {
        /// The TOML file.
        file: PathBuf,
        /// Why (kept in the history).
        #[arg(long)]
        reason: Option<String>,
        /// Apply only if this is still the current version.
        #[arg(long, value_name = "VERSION")]
        base_version: Option<u64>,
    },
    /// Apply a kept version again.
    Rollback {
        /// The version.
        version: u64,
    },
    /// The kept versions.
    History,
}

/// A failed command: its exit code and message.
#[derive(Debug)]
struct Failure {
    code: u8,
    message: String,
}

impl Failure {
    fn usage(message: impl Into<String>) -> Self {
        Failure {
            code: 2,
            message: message.into(),
        }
    }
}

impl From<ClientError> for Failure {
    fn from(e: ClientError) -> Self {
        let code = match &e {
            ClientError::Api { .. } => 1,
            ClientError::Connect { .. } | ClientError::Timeout(_) => 3,
            ClientError::Http(_) | ClientError::Decode(_) => 4,
        };
        let mut message = e.to_string();
        if let ClientError::Api { body, .. } = &e
            && let Some(detail) = &body.detail
        {
            // Invalid configurations carry their problems; show them one per line.
            if let Ok(issues) = serde_json::from_value::<Vec<ConfigIssue>>(detail.clone()) {
                for i in issues {
                    let _ = write!(message, "\n  {i}");
                }
            } else if !detail.is_null() {
                let _ = write!(message, "\n  {detail}");
            }
        }
        Failure { code, message }
    }
}

type Outcome = Result<Output, Failure>;

/// What to print on success, and the exit code (1 for a failed check).
struct Output {
    text: String,
    code: u8,
}

fn ok(text: String) -> Outcome {
    Ok(Output { text, code: 0 })
}

fn json_text(value: &impl Serialize) -> Result<String, Failure> {
    serde_json::to_string_pretty(value)
        .map(|mut s| {
            s.push('\n');
            s
        })
        .map_err(|e| Failure {
            code: 4,
            message: e.to_string(),
        })
}

/// Columns padded to their widest cell.
fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let mut line = |cells: &mut dyn Iterator<Item = &str>| {
        let mut l = String::new();
        for (i, (cell, w)) in cells.zip(&widths).enumerate() {
            if i > 0 {
                l.push_str("  ");
            }
            let _ = write!(l, "{cell:<w$}");
        }
        out.push_str(l.trim_end());
        out.push('\n');
    };
    line(&mut headers.iter().copied());
    for row in rows {
        line(&mut row.iter().map(String::as_str));
    }
    out
}

fn or_dash<T: ToString>(v: Option<T>) -> String {
    v.map_or_else(|| "-".to_owned(), |v| v.to_string())
}

fn duration(secs: u64) -> String {
    let (d, h, m, s) = (secs / 86_400, secs / 3600 % 24, secs / 60 % 60, secs % 60);
    if d > 0 {
        format!("{d}d {h:02}:{m:02}:{s:02}")
    } else {
        format!("{h:02}:{m:02}:{s:02}")
    }
}

fn bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut unit = 0;
    while v >= 1024.0 && unit + 1 < UNITS.len() {
        v /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[unit])
    }
}

fn encryption(e: &Encryption) -> String {
    match e {
        Encryption::None => "none".to_owned(),
        Encryption::Mppe { bits, stateless } => {
            format!("mppe-{bits}{}", if *stateless { " stateless" } else { "" })
        }
    }
}

fn lower<T: Serialize>(v: &T) -> String {
    match serde_json::to_value(v) {
        Ok(serde_json::Value::String(s)) => s,
        Ok(other) => other.to_string(),
        Err(_) => "?".to_owned(),
    }
}

fn traffic_line(t: &Traffic) -> String {
    format!(
        "in {} ({} packets), out {} ({} packets)",
        t.bytes_in, t.packets_in, t.bytes_out, t.packets_out
    )
}

fn show_status(s: &Status) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "routerd {}, up {}", s.version, duration(s.uptime_secs));
    let _ = writeln!(out, "configuration version {}", s.config_version);
    let c = &s.sessions;
    let _ = writeln!(
        out,
        "sessions: {} ({} terminated, {} relayed, {} up)",
        c.total, c.terminate, c.relay, c.up
    );
    if !s.plugins.is_empty() {
        let plugins: Vec<String> = s
            .plugins
            .iter()
            .map(|p| format!("{} ({})", p.name, p.state))
            .collect();
        let _ = writeln!(out, "plugins: {}", plugins.join(", "));
    }
    for i in &s.interfaces {
        let _ = writeln!(
            out,
            "interface {} ({}): {}{}{}",
            i.name,
            i.role,
            if i.up { "up" } else { "down" },
            i.mtu.map(|m| format!(", mtu {m}")).unwrap_or_default(),
            i.error
                .as_ref()
                .map(|e| format!(", error: {e}"))
                .unwrap_or_default()
        );
    }
    out
}

fn show_sessions(sessions: &[SessionInfo]) -> String {
    let rows: Vec<Vec<String>> = sessions
        .iter()
        .map(|s| {
            vec![
                s.id.to_string(),
                or_dash(s.user.as_ref()),
                s.link.clone(),
                lower(&s.role),
                or_dash(s.peer.as_ref()),
                or_dash(s.ipv4),
                or_dash(s.ipv6_prefix.map(|p| format!("{p}/64"))),
                encryption(&s.encryption),
                bytes(s.traffic.bytes_in),
                bytes(s.traffic.bytes_out),
                duration(s.uptime_secs),
                lower(&s.state),
            ]
        })
        .collect();
    table(
        &[
            "ID",
            "USER",
            "LINK",
            "ROLE",
            "PEER",
            "IPV4",
            "IPV6",
            "ENCRYPTION",
            "IN",
            "OUT",
            "UPTIME",
            "STATE",
        ],
        &rows,
    )
}

fn show_session(s: &SessionInfo) -> String {
    let fields = [
        ("id", s.id.to_string()),
        ("user", or_dash(s.user.as_ref())),
        ("link", s.link.clone()),
        ("role", lower(&s.role)),
        ("peer", or_dash(s.peer.as_ref())),
        ("ipv4", or_dash(s.ipv4)),
        ("ipv6", or_dash(s.ipv6_prefix.map(|p| format!("{p}/64")))),
        ("encryption", encryption(&s.encryption)),
        ("traffic", traffic_line(&s.traffic)),
        ("started", s.started.to_string()),
        ("uptime", duration(s.uptime_secs)),
        ("state", lower(&s.state)),
    ];
    let mut out = String::new();
    for (k, v) in fields {
        let _ = writeln!(out, "{k:<11} {v}");
    }
    out
}

fn show_plugins(plugins: &[PluginInfo]) -> String {
    let rows: Vec<Vec<String>> = plugins
        .iter()
        .map(|p| {
            vec![
                p.name.clone(),
                or_dash(p.version.as_ref()),
                or_dash(p.abi_version.as_ref()),
                lower(&p.kind),
                match p.next_restart_secs {
                    Some(secs) => format!("{} (in {secs} s)", p.state),
                    None => p.state.to_string(),
                },
                p.sessions.to_string(),
                p.restarts.to_string(),
                p.file.clone(),
                or_dash(p.error.as_ref().or(p.last_error.as_ref())),
            ]
        })
        .collect();
    table(
        &[
            "NAME", "VERSION", "ABI", "KIND", "STATE", "SESSIONS", "RESTARTS", "FILE", "ERROR",
        ],
        &rows,
    )
}

fn show_logs(lines: &[LogLine]) -> String {
    let mut out = String::new();
    for l in lines {
        let _ = write!(out, "{} {:<5} ", l.time, l.level);
        if let Some(s) = l.session {
            let _ = write!(out, "[session {s}] ");
        }
        let _ = write!(out, "{}: {}", l.target, l.message);
        for (k, v) in &l.fields {
            let _ = write!(out, " {k}={v}");
        }
        out.push('\n');
    }
    out
}

/// Problems of a checked file, named after the file rather than the API's document name.
fn issues_for(file: &Path, issues: &[ConfigIssue]) -> String {
    let mut out = String::new();
    for i in issues {
        let mut i = i.clone();
        if i.file == API_DOCUMENT_NAME {
            i.file = file.display().to_string();
        }
        let _ = writeln!(out, "{i}");
    }
    out
}

fn read_file(file: &Path) -> Result<String, Failure> {
    std::fs::read_to_string(file)
        .map_err(|e| Failure::usage(format!("cannot read {}: {e}", file.display())))
}

/// Turns terminal echo off until dropped.
struct NoEcho {
    saved: nix::sys::termios::Termios,
}

impl NoEcho {
    fn new() -> Result<Self, nix::Error> {
        use nix::sys::termios::{LocalFlags, SetArg, tcgetattr, tcsetattr};
        let saved = tcgetattr(std::io::stdin())?;
        let mut quiet = saved.clone();
        quiet.local_flags.remove(LocalFlags::ECHO);
        quiet.local_flags.insert(LocalFlags::ECHONL);
        tcsetattr(std::io::stdin(), SetArg::TCSANOW, &quiet)?;
        Ok(NoEcho { saved })
    }
}

impl Drop for NoEcho {
    fn drop(&mut self) {
        use nix::sys::termios::{SetArg, tcsetattr};
        let _ = tcsetattr(std::io::stdin(), SetArg::TCSANOW, &self.saved);
    }
}

fn read_line_limited() -> Result<String, Failure> {
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .take(4096)
        .read_line(&mut line)
        .map_err(|e| Failure::usage(format!("reading the password: {e}")))?;
    let trimmed = line.strip_suffix('\n').unwrap_or(&line);
    let trimmed = trimmed.strip_suffix('\r').unwrap_or(trimmed);
    Ok(trimmed.to_owned())
}

fn show_attrs(a: &UserAttrs) -> String {
    let list = |v: Option<Vec<String>>| v.map_or_else(|| "all".to_owned(), |v| v.join(","));
    format!(
        "static address: {}\nlinks: {}\nprotocols: {}\n",
        a.static_address
            .map_or_else(|| "none (pool)".to_owned(), |a| a.to_string()),
        list(a.links.as_ref().map(|l| l.iter().cloned().collect())),
        list(
            a.protocols
                .as_ref()
                .map(|p| p.iter().map(|p| p.as_str().to_owned()).collect())
        ),
    )
}

/// Applies `users set`'s options to `attrs`.
fn edit_attrs(
    attrs: &mut UserAttrs,
    static_address: Option<&str>,
    links: Option<&str>,
    protocols: Option<&str>,
) -> Result<(), Failure> {
    let items = |s: &str| -> Vec<String> {
        s.split(',')
            .map(str::trim)
            .filter(|x| !x.is_empty())
            .map(str::to_owned)
            .collect()
    };
    if let Some(a) = static_address {
        attrs.static_address = if a == "none" {
            None
        } else {
            Some(a.parse().map_err(|_| {
                Failure::usage(format!("--static-address: {a:?} is not an IPv4 address"))
            })?)
        };
    }
    if let Some(l) = links {
        attrs.links = (l != "all").then(|| items(l).into_iter().collect());
    }
    if let Some(p) = protocols {
        attrs.protocols = if p == "all" {
            None
        } else {
            let mut set = std::collections::BTreeSet::new();
            for name in items(p) {
                let proto = NetProtocol::ALL
                    .into_iter()
                    .find(|x| x.as_str() == name)
                    .ok_or_else(|| {
                        Failure::usage(format!(
                            "--protocols: {name:?} is not one of ip, ipx, netbeui"
                        ))
                    })?;
                set.insert(proto);
            }
            Some(set)
        };
    }
    Ok(())
}

fn read_password(user: &str) -> Result<String, Failure> {
    if !std::io::stdin().is_terminal() {
        return read_line_limited();
    }
    let mut err = std::io::stderr().lock();
    let _guard = NoEcho::new().map_err(|e| Failure::usage(format!("cannot turn echo off: {e}")))?;
    let _ = write!(err, "New password for {user}: ");
    let _ = err.flush();
    let first = read_line_limited()?;
    let _ = write!(err, "Again: ");
    let _ = err.flush();
    let second = read_line_limited()?;
    if first != second {
        return Err(Failure::usage("the passwords differ; nothing changed"));
    }
    Ok(first)
}

async fn run(args: &Args, c: &Client) -> Outcome {
    let json = args.json;
    macro_rules! render {
        ($value:expr, $human:expr) => {{
            let v = $value;
            if json { json_text(&v) } else { Ok($human(&v)) }
        }};
    }
    let text = match &args.command {
        Command::Status => render!(c.get::<Status>("/v1/status").await?, show_status)?,
        Command::Sessions { action } => match action.as_ref().unwrap_or(&SessionsCmd::List) {
            SessionsCmd::List => render!(
                c.get::<Vec<SessionInfo>>("/v1/sessions").await?,
                |s: &Vec<SessionInfo>| show_sessions(s)
            )?,
            SessionsCmd::Show { id } => render!(
                c.get::<SessionInfo>(&format!("/v1/sessions/{id}")).await?,
                show_session
            )?,
            SessionsCmd::Kill { id } => {
                c.call::<()>(Method::DELETE, &format!("/v1/sessions/{id}"), None::<&()>)
                    .await?;
                if json {
                    json_text(&serde_json::json!({ "killed": id }))?
                } else {
                    format!("session {id} killed\n")
                }
            }
        },
        Command::Users { action } => match action.as_ref().unwrap_or(&UsersCmd::List) {
            UsersCmd::List => render!(
                c.get::<Vec<UserEntry>>("/v1/users").await?,
                |users: &Vec<UserEntry>| {
                    let rows: Vec<Vec<String>> = users
                        .iter()
                        .map(|u| {
                            vec![
                                u.name.clone(),
                                u.sessions.to_string(),
                                if u.weak_cleartext_secret { "yes" } else { "no" }.to_owned(),
                            ]
                        })
                        .collect();
                    table(&["NAME", "SESSIONS", "CLEARTEXT-SECRET"], &rows)
                }
            )?,
            UsersCmd::SetPassword { name } => {
                let password = read_password(name)?;
                if password.is_empty() {
                    return Err(Failure::usage("empty password; nothing changed"));
                }
                let set: UserSet = c
                    .call(
                        Method::PUT,
                        &format!("/v1/users/{}/password", encode_segment(name)),
                        Some(&SetPasswordRequest { password }),
                    )
                    .await?;
                render!(set, |s: &UserSet| format!(
                    "{} {}\n",
                    if s.created {
                        "created user"
                    } else {
                        "password changed for"
                    },
                    s.name
                ))?
            }
            UsersCmd::Remove { name } => {
                c.call::<()>(
                    Method::DELETE,
                    &format!("/v1/users/{}", encode_segment(name)),
                    None::<&()>,
                )
                .await?;
                if json {
                    json_text(&serde_json::json!({ "removed": name }))?
                } else {
                    format!("removed user {name}\n")
                }
            }
            UsersCmd::Show { name } => render!(
                c.get::<UserAttrs>(&format!("/v1/users/{}/attrs", encode_segment(name)))
                    .await?,
                show_attrs
            )?,
            UsersCmd::Set {
                name,
                static_address,
                links,
                protocols,
            } => {
                let path = format!("/v1/users/{}/attrs", encode_segment(name));
                let mut attrs: UserAttrs = c.get(&path).await?;
                edit_attrs(
                    &mut attrs,
                    static_address.as_deref(),
                    links.as_deref(),
                    protocols.as_deref(),
                )?;
                let stored: UserAttrs = c.call(Method::PUT, &path, Some(&attrs)).await?;
                render!(stored, show_attrs)?
            }
        },
        Command::Plugins { action } => match action.as_ref().unwrap_or(&PluginsCmd::List) {
            PluginsCmd::List => render!(
                c.get::<Vec<PluginInfo>>("/v1/plugins").await?,
                |p: &Vec<PluginInfo>| show_plugins(p)
            )?,
            PluginsCmd::Restart { name } => render!(
                c.call::<PluginRestart>(
                    Method::POST,
                    &format!("/v1/plugins/{}/restart", encode_segment(name)),
                    None::<&()>
                )
                .await?,
                |r: &PluginRestart| if r.restarted.is_empty() {
                    format!("{}: no instance to restart\n", r.name)
                } else {
                    format!("{}: restarted {}\n", r.name, r.restarted.join(", "))
                }
            )?,
        },
        Command::Config { action } => match action
            .as_ref()
            .unwrap_or(&ConfigCmd::Show { version: None })
        {
            ConfigCmd::Show { version } => render!(
                match version {
                    Some(v) =>
                        c.get::<ConfigShow>(&format!("/v1/config/versions/{v}"))
                            .await?,
                    None => c.get::<ConfigShow>("/v1/config").await?,
                },
                |s: &ConfigShow| s.toml.clone()
            )?,
            ConfigCmd::Check { file } => {
                let toml = read_file(file)?;
                let report: CheckReport = c
                    .call(
                        Method::POST,
                        "/v1/config/check",
                        Some(&CheckRequest { toml }),
                    )
                    .await?;
                let code = u8::from(!report.valid);
                let text = if json {
                    json_text(&report)?
                } else if report.valid {
                    let mut t = format!("{}: OK\n", file.display());
                    for change in &report.changes {
                        let _ = writeln!(t, "  {change}");
                    }
                    if report.changes.is_empty() {
                        t.push_str("  no changes\n");
                    }
                    t
                } else {
                    // Problems go to stderr, like routerd --check-config.
                    return Err(Failure {
                        code,
                        message: issues_for(file, &report.errors).trim_end().to_owned(),
                    });
                };
                return Ok(Output { text, code });
            }
            ConfigCmd::Apply {
                file,
                reason,
                base_version,
            } => {
                let toml = read_file(file)?;
                let request =
                    ApplyRequest {
                        toml,
                        reason: Some(reason.clone().unwrap_or_else(|| {
                            format!("routerctl config apply {}", file.display())
                        })),
                        base_version: *base_version,
                    };
                let applied: Result<ApplyResult, ClientError> =
                    c.call(Method::POST, "/v1/config", Some(&request)).await;
                match applied {
                    Ok(a) => render!(a, show_applied)?,
                    Err(ClientError::Api { status, body }) => {
                        let issues = body
                            .detail
                            .clone()
                            .and_then(|d| serde_json::from_value::<Vec<ConfigIssue>>(d).ok());
                        let message = match issues {
                            Some(issues) => format!(
                                "routerd: configuration not applied (HTTP {status}):\n{}",
                                issues_for(file, &issues).trim_end()
                            ),
                            None => Failure::from(ClientError::Api { status, body }).message,
                        };
                        return Err(Failure { code: 1, message });
                    }
                    Err(e) => return Err(e.into()),
                }
            }
            ConfigCmd::Rollback { version } => render!(
                c.call::<ApplyResult>(
                    Method::POST,
                    &format!("/v1/config/rollback/{version}"),
                    None::<&()>
                )
                .await?,
                show_applied
            )?,
            ConfigCmd::History => render!(
                c.get::<History>("/v1/config/history").await?,
                |h: &History| {
                    let rows: Vec<Vec<String>> = h
                        .versions
                        .iter()
                        .map(|v| {
                            vec![
                                format!(
                                    "{}{}",
                                    v.version,
                                    if v.version == h.current { " *" } else { "" }
                                ),
                                v.time.to_string(),
                                v.reason.clone(),
                            ]
                        })
                        .collect();
                    table(&["VERSION", "TIME", "REASON"], &rows)
                }
            )?,
        },
        Command::Logs { session, limit } => {
            let mut path = "/v1/logs".to_owned();
            let mut sep = '?';
            if let Some(s) = session {
                let _ = write!(path, "{sep}session={s}");
                sep = '&';
            }
            if let Some(l) = limit {
                let _ = write!(path, "{sep}limit={l}");
            }
            render!(c.get::<Vec<LogLine>>(&path).await?, |l: &Vec<LogLine>| {
                show_logs(l)
            })?
        }
        Command::Metrics => c.get_text("/metrics").await?,
        Command::System { action } => match action {
            SystemCmd::Upgrade {
                file,
                reboot,
                tries,
            } => {
                let bundle = read_bundle(file)?;
                // Receiving and checking a bundle takes a while on a small box.
                let c = c
                    .clone()
                    .with_timeout(Duration::from_secs(args.timeout.max(600)));
                let path = format!("/v1/system/upgrade?tries={tries}&reboot={reboot}");
                render!(
                    c.send_bytes::<UpgradeStaged>(
                        Method::POST,
                        &path,
                        bundle,
                        dialgate_routerd::api::upgrade::BUNDLE_CONTENT_TYPE
                    )
                    .await?,
                    |s: &UpgradeStaged| format!(
                        "upgrade to {} ({}, {} bytes) checked and staged; {}\n",
                        s.version,
                        s.arch,
                        s.bytes,
                        if s.reboot {
                            "the box reboots into it once it is written"
                        } else {
                            "it boots at the next reboot once written (routerctl system upgrade-status)"
                        }
                    )
                )?
            }
            SystemCmd::Hardware => render!(
                c.get::<HardwareInfo>("/v1/system/hardware").await?,
                show_hardware
            )?,
            SystemCmd::UpgradeStatus => render!(
                c.get::<UpgradeStatus>("/v1/system/upgrade").await?,
                show_upgrade_status
            )?,
        },
    };
    ok(text)
}

fn read_bundle(file: &Path) -> Result<Vec<u8>, Failure> {
    let cannot = |e: std::io::Error| Failure::usage(format!("cannot read {}: {e}", file.display()));
    let len = std::fs::metadata(file).map_err(cannot)?.len();
    if len > dialgate_routerd::upgrade::MAX_BUNDLE {
        return Err(Failure::usage(format!(
            "{} is larger than an upgrade bundle can be ({} bytes)",
            file.display(),
            dialgate_routerd::upgrade::MAX_BUNDLE
        )));
    }
    std::fs::read(file).map_err(cannot)
}

fn show_hardware(h: &HardwareInfo) -> String {
    let yes_no = |b: bool| if b { "yes" } else { "no" }.to_owned();
    let Some(board) = &h.board else {
        return match &h.error {
            Some(e) => format!("hardware profile {}: {e}\n", h.profile_path),
            None => format!("no hardware profile ({} does not exist)\n", h.profile_path),
        };
    };
    let mut out = format!(
        "board: {board} ({})\nprofile: {}\n",
        h.description.as_deref().unwrap_or(""),
        h.profile_path
    );
    match h.board_matches {
        Some(true) => out.push_str("detection: matches this box\n"),
        Some(false) => {
            let _ = writeln!(
                out,
                "detection: DOES NOT MATCH this box ({}; profile: {})",
                h.board_seen.as_deref().unwrap_or("?"),
                h.detect.as_deref().unwrap_or("?")
            );
        }
        None => out.push_str("detection: any (generic profile)\n"),
    }
    out.push('\n');
    let rows: Vec<Vec<String>> = h
        .interfaces
        .iter()
        .map(|i| {
            vec![
                i.name.clone(),
                i.role.to_uppercase(),
                i.path.clone(),
                i.address.clone(),
                yes_no(i.present),
            ]
        })
        .collect();
    out.push_str(&table(
        &["INTERFACE", "ROLE", "PATH", "ADDRESS", "PRESENT"],
        &rows,
    ));
    if !h.serial.is_empty() {
        out.push('\n');
        let rows: Vec<Vec<String>> = h
            .serial
            .iter()
            .map(|p| {
                vec![
                    p.device.clone(),
                    if p.modem_control { "modem" } else { "none" }.to_owned(),
                    yes_no(p.present),
                    p.link.clone().unwrap_or_else(|| "-".to_owned()),
                    p.description.clone(),
                ]
            })
            .collect();
        out.push_str(&table(
            &["SERIAL", "MODEM-LINES", "PRESENT", "LINK", "DESCRIPTION"],
            &rows,
        ));
    }
    out
}

fn show_upgrade_status(s: &UpgradeStatus) -> String {
    if !s.available {
        return "this system takes no image upgrades\n".to_owned();
    }
    let mut out = format!(
        "running: slot {} ({})\nupgrade: {}",
        s.slot.as_deref().unwrap_or("?"),
        s.version.as_deref().unwrap_or("unknown release"),
        s.state
    );
    if let Some(v) = &s.target_version {
        let _ = write!(out, " {v}");
    }
    if let Some(slot) = &s.target_slot {
        let _ = write!(out, " (slot {slot})");
    }
    out.push('\n');
    if let Some(m) = &s.message {
        let _ = writeln!(out, "  {m}");
    }
    if let Some(f) = &s.fallback {
        let _ = writeln!(out, "fell back: {f}");
    }
    out
}

fn show_applied(a: &ApplyResult) -> String {
    let mut out = format!("configuration version {} is current\n", a.version);
    for change in &a.changes {
        let _ = writeln!(out, "  {change}");
    }
    out
}

fn main() -> ExitCode {
    let args = Args::parse();
    let socket = args
        .socket
        .clone()
        .unwrap_or_else(|| ManagementConfig::default().socket);
    let client = Client::new(socket).with_timeout(Duration::from_secs(args.timeout.max(1)));
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            let _ = writeln!(std::io::stderr(), "routerctl: cannot start: {e}");
            return ExitCode::from(4);
        }
    };
    match runtime.block_on(run(&args, &client)) {
        Ok(out) => {
            let mut stdout = std::io::stdout().lock();
            // A closed pipe (`routerctl ... | head`) is not an error worth reporting.
            let _ = stdout.write_all(out.text.as_bytes());
            let _ = stdout.flush();
            ExitCode::from(out.code)
        }
        Err(f) => {
            let _ = writeln!(std::io::stderr(), "routerctl: {}", f.message);
            ExitCode::from(f.code)
        }
    }
}
