//! PPTP settings: the PPTP link's role, listen addresses (or server to dial), limits, its
//! address pool and encryption policy. MS-CHAPv2 with MPPE-128 is required unless weak
//! options are ticked, and those need an explicit acknowledgement of the warning.
//!
//! The page edits the configuration document (comments and layout kept, with `toml_edit`),
//! has routerd check it (`POST /v1/config/check`, problems shown on their fields), then
//! applies it (`POST /v1/config` with the version it was read at), the same validate, apply
//! and rollback path as `routerctl`.

use std::fmt::Write;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::{Extension, Form};
use dialgate_routerd::api::ConfigShow;
use dialgate_routerd::config::{AuthMethod, Document, Ipv4Range, LinkRole};
use serde::Deserialize;
use toml_edit::{Array, DocumentMut, InlineTable, Item, Table, TableLike, value};

use super::{applied_flash, check_and_apply, current, record_failure};
use crate::app::{Shared, Visitor, routerd_error};
use crate::html::{self, FieldErrors, Kind, csrf_field};

/// The plugin file of PPTP (in routerd's `plugin_dir`).
pub const PPTP_PLUGIN_FILE: &str = "libdialgate_plugin_pptp.so";

/// The PPTP form, as strings (what the admin typed) and checkboxes.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
pub struct PptpForm {
    /// The link's name.
    #[serde(default)]
    pub link_name: String,
    /// `answer` (server) or `dial` (client).
    #[serde(default)]
    pub role: String,
    /// Answering: listen addresses, separated by commas or spaces.
    #[serde(default)]
    pub listen: String,
    /// Dialing: the server, `ip[:port]`.
    #[serde(default)]
    pub target: String,
    /// Dialing: our user name.
    #[serde(default)]
    pub dial_user: String,
    /// Dialing: our password (empty: keep the stored one).
    #[serde(default)]
    pub dial_password: String,
    /// Calls at once on this link.
    #[serde(default)]
    pub max_sessions: String,
    /// Control connections from one address at once.
    #[serde(default)]
    pub max_connections_per_source: String,
    /// Sessions at once on the whole box (`[limits] max_sessions`).
    #[serde(default)]
    pub limits_max_sessions: String,
    /// Answering: the pool's ranges, separated by commas or spaces.
    #[serde(default)]
    pub pool_ranges: String,
    /// Answering: our address on the sessions.
    #[serde(default)]
    pub pool_local: String,
    /// Answering: DNS servers handed out.
    #[serde(default)]
    pub pool_dns: String,
    /// MS-CHAPv2.
    #[serde(default)]
    pub mschap_v2: Option<String>,
    /// Weak: MS-CHAPv1.
    #[serde(default)]
    pub mschap_v1: Option<String>,
    /// Weak: CHAP-MD5.
    #[serde(default)]
    pub chap_md5: Option<String>,
    /// Weak: PAP (clear text).
    #[serde(default)]
    pub pap: Option<String>,
    /// Weak: MPPE-40.
    #[serde(default)]
    pub mppe_40: Option<String>,
    /// Weak: MPPE-56.
    #[serde(default)]
    pub mppe_56: Option<String>,
    /// Weak: stateful MPPE.
    #[serde(default)]
    pub mppe_stateful: Option<String>,
    /// Insecure: sessions without encryption.
    #[serde(default)]
    pub no_encryption: Option<String>,
    /// The admin read the warning.
    #[serde(default)]
    pub weak_confirm: Option<String>,
}

fn on(b: bool) -> Option<String> {
    b.then(|| "on".to_owned())
}

impl PptpForm {
    fn weak_ticked(&self) -> bool {
        [
            &self.mschap_v1,
            &self.chap_md5,
            &self.pap,
            &self.mppe_40,
            &self.mppe_56,
            &self.mppe_stateful,
            &self.no_encryption,
        ]
        .iter()
        .any(|o| o.is_some())
    }
}

/// Where the PPTP link and its pool are in the document.
#[derive(Debug, Clone, Default)]
pub(crate) struct Place {
    plugin: Option<String>,
    link: Option<usize>,
    pool: Option<usize>,
}

fn list(s: &str) -> Vec<String> {
    s.split([',', ' ', '\n'])
        .map(str::trim)
        .filter(|x| !x.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Reads the form's values from the configuration (the first link of a plugin whose file
/// is the PPTP plugin); defaults for a new answering link when there is none.
pub(crate) fn read(doc: &Document) -> (PptpForm, Place) {
    let c = doc.config();
    let plugin = c
        .plugins
        .iter()
        .find(|p| p.file.to_string_lossy().contains("dialgate_plugin_pptp"))
        .map(|p| p.name.clone());
    let link = plugin
        .as_ref()
        .and_then(|p| c.links.iter().position(|l| &l.plugin == p));
    let mut f = PptpForm {
        link_name: "pptp-in".into(),
        role: "answer".into(),
        listen: "0.0.0.0:1723".into(),
        max_sessions: "1000".into(),
        max_connections_per_source: "16".into(),
        limits_max_sessions: c.limits.max_sessions.to_string(),
        ..PptpForm::default()
    };
    let mut ppp = c.ppp.clone();
    let mut pool = None;
    if let Some(l) = link.and_then(|i| c.links.get(i)) {
        f.link_name = l.name.clone();
        f.role = match l.role {
            LinkRole::Answer => "answer".into(),
            LinkRole::Dial => "dial".into(),
        };
        let cfg = &l.config;
        let strings = |key: &str| -> String {
            match cfg.get(key) {
                Some(toml::Value::Array(a)) => a
                    .iter()
                    .filter_map(|v| v.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
                Some(toml::Value::String(s)) => s.clone(),
                _ => String::new(),
            }
        };
        let listen = strings("listen");
        f.listen = if listen.is_empty() && l.role == LinkRole::Answer {
            "0.0.0.0:1723".into()
        } else {
            listen
        };
        f.target = strings("target");
        for (key, slot) in [
            ("max_sessions", &mut f.max_sessions),
            (
                "max_connections_per_source",
                &mut f.max_connections_per_source,
            ),
        ] {
            if let Some(n) = cfg.get(key).and_then(toml::Value::as_integer) {
                *slot = n.to_string();
            }
        }
        if let Some(cred) = &l.credentials {
            f.dial_user = cred.user.clone();
        }
        pool = l
            .pool
            .as_ref()
            .and_then(|p| c.pools.iter().position(|x| &x.name == p));
        let o = &l.ppp;
        macro_rules! over {
            ($($k:ident),*) => { $( if let Some(v) = o.$k.clone() { ppp.$k = v; } )* };
        }
        over!(
            auth_methods,
            allow_weak_mschap_v1,
            allow_weak_chap_md5,
            allow_weak_pap_cleartext,
            allow_weak_mppe_40,
            allow_weak_mppe_56,
            allow_mppe_stateful,
            allow_insecure_no_encryption
        );
    }
    if let Some(p) = pool.and_then(|i| c.pools.get(i)) {
        f.pool_ranges = p
            .ranges
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", ");
        f.pool_local = p.local_address.map(|a| a.to_string()).unwrap_or_default();
        f.pool_dns = p
            .dns
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", ");
    }
    let has = |m: AuthMethod| ppp.auth_methods.contains(&m);
    f.mschap_v2 = on(has(AuthMethod::MsChapV2));
    f.mschap_v1 = on(has(AuthMethod::MsChapV1) && ppp.allow_weak_mschap_v1);
    f.chap_md5 = on(has(AuthMethod::ChapMd5) && ppp.allow_weak_chap_md5);
    f.pap = on(has(AuthMethod::Pap) && ppp.allow_weak_pap_cleartext);
    f.mppe_40 = on(ppp.allow_weak_mppe_40);
    f.mppe_56 = on(ppp.allow_weak_mppe_56);
    f.mppe_stateful = on(ppp.allow_mppe_stateful);
    f.no_encryption = on(ppp.allow_insecure_no_encryption);
    f.weak_confirm = on(f.weak_ticked());
    (f, Place { plugin, link, pool })
}

fn positive(s: &str, field: &str, errors: &mut FieldErrors) -> Option<i64> {
    match s.trim().parse::<u32>() {
        Ok(n) if n > 0 => Some(i64::from(n)),
        _ => {
            errors.add(field, "A whole number of at least 1.");
            None
        }
    }
}

/// Checks the form on its own (before routerd checks the document it makes).
pub fn validate(f: &PptpForm) -> FieldErrors {
    let mut e = FieldErrors::default();
    let name = f.link_name.trim();
    if name.is_empty()
        || name.len() > 64
        || !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
    {
        e.add(
            "link_name",
            "1 to 64 letters, digits, dots, dashes or underscores.",
        );
    }
    match f.role.as_str() {
        "answer" => {
            let addrs = list(&f.listen);
            if addrs.is_empty() {
                e.add("listen", "At least one address, e.g. 0.0.0.0:1723.");
            } else if addrs.len() > 16 {
                e.add("listen", "At most 16 addresses.");
            }
            for a in &addrs {
                if a.parse::<SocketAddr>().is_err() {
                    e.add("listen", format!("{a:?} is not an address:port."));
                }
            }
            let ranges = list(&f.pool_ranges);
            if ranges.is_empty() {
                e.add(
                    "pool_ranges",
                    "At least one range, e.g. 192.168.1.200-192.168.1.249.",
                );
            }
            for r in &ranges {
                if r.parse::<Ipv4Range>().is_err() {
                    e.add(
                        "pool_ranges",
                        format!("{r:?} is not a range first-last of IPv4 addresses."),
                    );
                }
            }
            if !f.pool_local.trim().is_empty() && f.pool_local.trim().parse::<Ipv4Addr>().is_err() {
                e.add("pool_local", "An IPv4 address (or empty: the LAN address).");
            }
            let dns = list(&f.pool_dns);
            if dns.len() > 2 {
                e.add("pool_dns", "At most 2 servers.");
            }
            if dns.iter().any(|d| d.parse::<Ipv4Addr>().is_err()) {
                e.add("pool_dns", "IPv4 addresses, separated by commas.");
            }
        }
        "dial" => {
            let t = f.target.trim();
            let ok = t.parse::<SocketAddr>().is_ok() || t.parse::<IpAddr>().is_ok();
            if !ok {
                e.add("target", "The server's address, ip or ip:port.");
            }
            if f.dial_user.trim().is_empty() {
                e.add("dial_user", "The user name to log in with.");
            }
        }
        _ => e.add("role", "Choose answer or dial."),
    }
    positive(&f.max_sessions, "max_sessions", &mut e);
    positive(
        &f.max_connections_per_source,
        "max_connections_per_source",
        &mut e,
    );
    positive(&f.limits_max_sessions, "limits_max_sessions", &mut e);
    if f.mschap_v2.is_none() && f.mschap_v1.is_none() && f.chap_md5.is_none() && f.pap.is_none() {
        e.add("mschap_v2", "At least one authentication method.");
    }
    if f.weak_ticked() && f.weak_confirm.is_none() {
        e.add(
            "weak_confirm",
            "Weak options are ticked: confirm that you read the warning, or untick them.",
        );
    }
    e
}

fn strings(items: &[String]) -> Item {
    let mut a = Array::new();
    for s in items {
        a.push(s.as_str());
    }
    value(a)
}

fn sub<'a>(parent: &'a mut Table, key: &str) -> Result<&'a mut dyn TableLike, String> {
    parent
        .entry(key)
        .or_insert_with(|| Item::Table(Table::new()))
        .as_table_like_mut()
        .ok_or_else(|| format!("`{key}` is not a table in the configuration"))
}

fn aot_mut<'a>(
    doc: &'a mut DocumentMut,
    key: &str,
) -> Result<&'a mut toml_edit::ArrayOfTables, String> {
    doc.entry(key)
        .or_insert_with(|| Item::ArrayOfTables(toml_edit::ArrayOfTables::new()))
        .as_array_of_tables_mut()
        .ok_or_else(|| {
            format!("`{key}` is not an array of tables ([[{key}]]) in the configuration")
        })
}

/// Writes a valid form into the document (the PPTP plugin, link and pool are added when
/// missing).
pub(crate) fn write(doc: &mut DocumentMut, place: &Place, f: &PptpForm) -> Result<(), String> {
    let plugin = match &place.plugin {
        Some(p) => p.clone(),
        None => {
            let mut t = Table::new();
            t["name"] = value("pptp");
            t["file"] = value(PPTP_PLUGIN_FILE);
            aot_mut(doc, "plugin")?.push(t);
            "pptp".to_owned()
        }
    };
    let answer = f.role == "answer";
    let link_name = f.link_name.trim().to_owned();
    // The pool (answering links).
    let mut pool_name = None;
    if answer {
        let pools = aot_mut(doc, "pool")?;
        let idx = match place.pool {
            Some(i) if i < pools.len() => i,
            _ => {
                let mut t = Table::new();
                let name = format!("{link_name}-pool");
                t["name"] = value(name);
                pools.push(t);
                pools.len() - 1
            }
        };
        let Some(p) = pools.get_mut(idx) else {
            return Err("pool vanished".into());
        };
        pool_name = p.get("name").and_then(|v| v.as_str()).map(str::to_owned);
        p["ranges"] = strings(&list(&f.pool_ranges));
        let local = f.pool_local.trim();
        if local.is_empty() {
            p.remove("local_address");
        } else {
            p["local_address"] = value(local);
        }
        let dns = list(&f.pool_dns);
        if dns.is_empty() {
            p.remove("dns");
        } else {
            p["dns"] = strings(&dns);
        }
    }
    let links = aot_mut(doc, "link")?;
    let idx = match place.link {
        Some(i) if i < links.len() => i,
        _ => {
            let mut t = Table::new();
            t["plugin"] = value(plugin);
            links.push(t);
            links.len() - 1
        }
    };
    let Some(l) = links.get_mut(idx) else {
        return Err("link vanished".into());
    };
    l["name"] = value(link_name);
    l["role"] = value(f.role.as_str());
    if let Some(p) = pool_name {
        l["pool"] = value(p);
    } else {
        l.remove("pool");
    }
    if answer {
        l.remove("credentials");
    } else {
        let mut cred = InlineTable::new();
        cred.insert("user", f.dial_user.trim().into());
        let old = l
            .get("credentials")
            .and_then(|c| c.get("password"))
            .and_then(|p| p.as_str())
            .map(str::to_owned);
        let password = if f.dial_password.is_empty() {
            old.unwrap_or_default()
        } else {
            f.dial_password.clone()
        };
        cred.insert("password", password.into());
        l["credentials"] = value(cred);
    }
    let number = |s: &str| s.trim().parse::<i64>().unwrap_or(1);
    {
        let cfg = sub(l, "config")?;
        if answer {
            cfg.insert("listen", strings(&list(&f.listen)));
            cfg.remove("target");
        } else {
            cfg.insert("target", value(f.target.trim()));
            cfg.remove("listen");
        }
        cfg.insert("max_sessions", value(number(&f.max_sessions)));
        if answer {
            cfg.insert(
                "max_connections_per_source",
                value(number(&f.max_connections_per_source)),
            );
        } else {
            cfg.remove("max_connections_per_source");
        }
    }
    {
        let ppp = sub(l, "ppp")?;
        let mut methods = Vec::new();
        for (ticked, m) in [
            (&f.mschap_v2, "mschap-v2"),
            (&f.mschap_v1, "mschap-v1"),
            (&f.chap_md5, "chap-md5"),
            (&f.pap, "pap"),
        ] {
            if ticked.is_some() {
                methods.push(m.to_owned());
            }
        }
        ppp.insert("auth_methods", strings(&methods));
        for (ticked, key) in [
            (&f.mschap_v1, "allow_weak_mschap_v1"),
            (&f.chap_md5, "allow_weak_chap_md5"),
            (&f.pap, "allow_weak_pap_cleartext"),
            (&f.mppe_40, "allow_weak_mppe_40"),
            (&f.mppe_56, "allow_weak_mppe_56"),
            (&f.mppe_stateful, "allow_mppe_stateful"),
            (&f.no_encryption, "allow_insecure_no_encryption"),
        ] {
            ppp.insert(key, value(ticked.is_some()));
        }
    }
    let limits = sub(doc.as_table_mut(), "limits")?;
    limits.insert("max_sessions", value(number(&f.limits_max_sessions)));
    Ok(())
}

/// Which form field a problem routerd found belongs to.
fn field_of(path: &str, message: &str) -> &'static str {
    let has = |s: &str| path.contains(s) || message.contains(s);
    if path.starts_with("limits") {
        "limits_max_sessions"
    } else if path.starts_with("pool") {
        if path.contains("dns") {
            "pool_dns"
        } else if path.contains("local") {
            "pool_local"
        } else {
            "pool_ranges"
        }
    } else if path.starts_with("link") {
        if has("listen") {
            "listen"
        } else if has("target") {
            "target"
        } else if has("max_connections_per_source") {
            "max_connections_per_source"
        } else if has("max_sessions") {
            "max_sessions"
        } else if path.contains("credentials") {
            "dial_user"
        } else if path.contains("ppp") {
            "mschap_v2"
        } else if path.ends_with(".name") {
            "link_name"
        } else {
            ""
        }
    } else {
        ""
    }
}

/// Puts a problem routerd found on its field, or on the form as a whole.
fn add_issue(errors: &mut FieldErrors, issue: &dialgate_routerd::api::ConfigIssue) {
    match field_of(&issue.field, &issue.message) {
        "" => errors.add("", format!("{}: {}", issue.field, issue.message)),
        field => errors.add(field, issue.message.clone()),
    }
}

fn render(
    v: &Visitor,
    f: &PptpForm,
    version: u64,
    exists: bool,
    errors: &FieldErrors,
    flash: Option<&str>,
) -> String {
    let mut b = String::new();
    if !exists {
        b.push_str("<p>No PPTP link is configured yet: saving this form adds one.</p>");
    }
    let _ = write!(
        b,
        "{}<form method=\"post\" action=\"/pptp\" id=\"pptp-form\">{}\
<input type=\"hidden\" name=\"base_version\" value=\"{version}\">",
        errors.summary(),
        csrf_field(&v.csrf)
    );
    let roles = [
        ("answer".to_owned(), "Answer calls (PPTP server)".to_owned()),
        ("dial".to_owned(), "Dial a server (PPTP client)".to_owned()),
    ];
    let _ = write!(
        b,
        "<fieldset><legend>Link</legend>{}{}{}{}{}{}</fieldset>",
        html::input(
            "pptp",
            "link_name",
            "Link name",
            Kind::Text,
            &f.link_name,
            "",
            errors
        ),
        html::select("pptp", "role", "Role", &roles, &f.role, errors),
        html::input(
            "pptp",
            "listen",
            "Listen addresses (answering)",
            Kind::Text,
            &f.listen,
            "address:port, separated by commas; 0.0.0.0:1723 is every IPv4 address.",
            errors
        ),
        html::input(
            "pptp",
            "target",
            "Server to dial (dialing)",
            Kind::Text,
            &f.target,
            "ip or ip:port (port 1723 when left out).",
            errors
        ),
        html::input(
            "pptp",
            "dial_user",
            "User name (dialing)",
            Kind::Text,
            &f.dial_user,
            "",
            errors
        ),
        html::input(
            "pptp",
            "dial_password",
            "Password (dialing)",
            Kind::Password,
            "",
            "Leave empty to keep the stored one.",
            errors
        ),
    );
    let _ = write!(
        b,
        "<fieldset><legend>Limits</legend>{}{}{}</fieldset>",
        html::input(
            "pptp",
            "max_sessions",
            "Calls at once on this link",
            Kind::Number,
            &f.max_sessions,
            "",
            errors
        ),
        html::input(
            "pptp",
            "max_connections_per_source",
            "Control connections from one address",
            Kind::Number,
            &f.max_connections_per_source,
            "",
            errors
        ),
        html::input(
            "pptp",
            "limits_max_sessions",
            "Sessions at once on the whole box",
            Kind::Number,
            &f.limits_max_sessions,
            "",
            errors
        ),
    );
    let _ = write!(
        b,
        "<fieldset><legend>Client addresses (answering)</legend>{}{}{}</fieldset>",
        html::input(
            "pptp",
            "pool_ranges",
            "Address ranges",
            Kind::Text,
            &f.pool_ranges,
            "first-last, separated by commas, e.g. 192.168.1.200-192.168.1.249.",
            errors
        ),
        html::input(
            "pptp",
            "pool_local",
            "Our address on the sessions",
            Kind::Text,
            &f.pool_local,
            "Empty: the LAN interface's address.",
            errors
        ),
        html::input(
            "pptp",
            "pool_dns",
            "DNS servers",
            Kind::Text,
            &f.pool_dns,
            "At most 2.",
            errors
        ),
    );
    let _ = write!(
        b,
        "<fieldset><legend>Encryption policy</legend><p>Required by default: MS-CHAPv2 \
authentication and MPPE-128 encryption (stateless).</p>{}",
        html::checkbox(
            "pptp",
            "mschap_v2",
            "MS-CHAPv2",
            f.mschap_v2.is_some(),
            errors
        ),
    );
    let open = if f.weak_ticked() || errors.get("weak_confirm").is_some() {
        " open"
    } else {
        ""
    };
    let _ = write!(
        b,
        "<details{open}><summary>Weak and insecure options</summary>\
<p class=\"warning\" id=\"weak-warning\"><strong>Warning:</strong> these options make the tunnel \
easy to break: MS-CHAPv1, CHAP-MD5 and PAP expose passwords; MPPE-40/56 keys can be searched \
in minutes; stateful MPPE loses sync on packet loss; no encryption sends everything in the \
clear. Only for old clients that cannot do better.</p>{}{}{}{}{}{}{}{}</details></fieldset>",
        html::checkbox(
            "pptp",
            "mschap_v1",
            "Allow MS-CHAPv1 (weak)",
            f.mschap_v1.is_some(),
            errors
        ),
        html::checkbox(
            "pptp",
            "chap_md5",
            "Allow CHAP-MD5 (weak; needs clear-text secrets)",
            f.chap_md5.is_some(),
            errors
        ),
        html::checkbox(
            "pptp",
            "pap",
            "Allow PAP (clear-text passwords)",
            f.pap.is_some(),
            errors
        ),
        html::checkbox(
            "pptp",
            "mppe_40",
            "Allow MPPE-40 (weak)",
            f.mppe_40.is_some(),
            errors
        ),
        html::checkbox(
            "pptp",
            "mppe_56",
            "Allow MPPE-56 (weak)",
            f.mppe_56.is_some(),
            errors
        ),
        html::checkbox(
            "pptp",
            "mppe_stateful",
            "Allow stateful MPPE",
            f.mppe_stateful.is_some(),
            errors
        ),
        html::checkbox(
            "pptp",
            "no_encryption",
            "Allow sessions without encryption (insecure)",
            f.no_encryption.is_some(),
            errors
        ),
        html::checkbox(
            "pptp",
            "weak_confirm",
            "I have read the warning and want the ticked weak options",
            f.weak_confirm.is_some(),
            errors
        ),
    );
    b.push_str("<button type=\"submit\">Check and apply</button></form>");
    html::page("PPTP", &v.chrome("/pptp", flash), &b)
}

/// [`current`], or a bare 502 with the reason.
async fn current_or_502(app: &Shared) -> Result<(ConfigShow, Document), Response> {
    current(app)
        .await
        .map_err(|e| (StatusCode::BAD_GATEWAY, e).into_response())
}

/// `GET /pptp`.
pub async fn show(State(app): State<Shared>, Extension(v): Extension<Visitor>) -> Response {
    let (show, doc) = match app.client.get::<ConfigShow>("/v1/config").await {
        Ok(s) => match Document::parse("current", s.toml.clone()) {
            Ok(d) => (s, d),
            Err(e) => return (StatusCode::BAD_GATEWAY, e.to_string()).into_response(),
        },
        Err(e) => return routerd_error(&v, "/pptp", &e),
    };
    let (f, place) = read(&doc);
    let flash = app.sessions().take_flash(&v.id);
    Html(render(
        &v,
        &f,
        show.version,
        place.link.is_some(),
        &FieldErrors::default(),
        flash.as_deref(),
    ))
    .into_response()
}

/// `POST /pptp`: validate the form, write the document, have routerd check it, apply it.
pub async fn save(
    State(app): State<Shared>,
    Extension(v): Extension<Visitor>,
    Form(f): Form<PptpForm>,
) -> Response {
    let (show, doc) = match current_or_502(&app).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let (_, place) = read(&doc);
    let exists = place.link.is_some();
    let mut errors = validate(&f);
    let fail = |errors: &FieldErrors| {
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            Html(render(&v, &f, show.version, exists, errors, None)),
        )
            .into_response()
    };
    if !errors.is_empty() {
        return fail(&errors);
    }
    let mut edit = match show.toml.parse::<DocumentMut>() {
        Ok(d) => d,
        Err(e) => {
            errors.add(
                "",
                format!("The current configuration cannot be edited: {e}"),
            );
            return fail(&errors);
        }
    };
    if let Err(e) = write(&mut edit, &place, &f) {
        errors.add("", e);
        return fail(&errors);
    }
    let toml = edit.to_string();
    match check_and_apply(&app, toml, "web UI: PPTP settings", Some(show.version)).await {
        Ok(r) => {
            tracing::info!(ip = %v.ip, version = r.version, "PPTP settings applied from the web UI");
            app.sessions().set_flash(&v.id, applied_flash(&r));
            Redirect::to("/pptp").into_response()
        }
        Err(failure) => {
            record_failure(failure, &mut errors, add_issue, |_, _| {});
            fail(&errors)
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn doc(text: &str) -> Document {
        Document::parse("t", text.to_owned()).unwrap()
    }

    #[test]
    fn defaults_require_mschapv2_and_mppe128() {
        let (f, place) = read(&doc(""));
        assert!(place.link.is_none());
        assert_eq!(f.role, "answer");
        assert!(f.mschap_v2.is_some());
        assert!(!f.weak_ticked());
        assert!(
            validate(&f).get("pool_ranges").is_some(),
            "an answering link needs a pool"
        );
    }

    #[test]
    fn weak_options_need_the_confirmation() {
        let (mut f, _) = read(&doc(""));
        f.pool_ranges = "192.0.2.10-192.0.2.20".into();
        assert!(validate(&f).is_empty(), "{:?}", validate(&f));
        f.mppe_40 = on(true);
        assert!(validate(&f).get("weak_confirm").is_some());
        f.weak_confirm = on(true);
        assert!(validate(&f).is_empty());
    }

    #[test]
    fn field_messages() {
        let f = PptpForm {
            link_name: "bad name!".into(),
            role: "answer".into(),
            listen: "0.0.0.0:1723, nonsense".into(),
            max_sessions: "0".into(),
            max_connections_per_source: "x".into(),
            limits_max_sessions: "10".into(),
            pool_ranges: "192.0.2.20-192.0.2.10".into(),
            pool_dns: "1.1.1.1, 2.2.2.2, 3.3.3.3".into(),
            ..PptpForm::default()
        };
        let e = validate(&f);
        for field in [
            "link_name",
            "listen",
            "max_sessions",
            "max_connections_per_source",
            "pool_ranges",
            "pool_dns",
            "mschap_v2",
        ] {
            assert!(e.get(field).is_some(), "{field}: {e:?}");
        }
        assert!(e.get("limits_max_sessions").is_none());
    }

    #[test]
    fn writes_a_new_link_that_routerd_accepts_and_reads_back() {
        let base = "# my comment\n[system]\nhostname = \"box\"\n";
        let (mut f, place) = read(&doc(base));
        f.pool_ranges = "192.0.2.10-192.0.2.20".into();
        f.pool_local = "192.0.2.1".into();
        f.listen = "127.0.0.1:1723".into();
        f.max_sessions = "50".into();
        let mut edit: DocumentMut = base.parse().unwrap();
        write(&mut edit, &place, &f).unwrap();
        let text = edit.to_string();
        assert!(text.contains("# my comment"), "comments kept:\n{text}");
        let back = doc(&text);
        let (g, place2) = read(&back);
        assert!(place2.link.is_some() && place2.pool.is_some(), "{text}");
        assert_eq!(g.listen, "127.0.0.1:1723");
        assert_eq!(g.max_sessions, "50");
        assert_eq!(g.pool_ranges, "192.0.2.10-192.0.2.20");
        assert!(g.mschap_v2.is_some() && !g.weak_ticked());
        // Editing again changes in place (no second link).
        let mut h = g.clone();
        h.max_sessions = "60".into();
        h.mppe_stateful = on(true);
        h.weak_confirm = on(true);
        let mut edit2: DocumentMut = text.parse().unwrap();
        write(&mut edit2, &place2, &h).unwrap();
        let back2 = doc(&edit2.to_string());
        assert_eq!(back2.config().links.len(), 1);
        let (k, _) = read(&back2);
        assert_eq!(k.max_sessions, "60");
        assert!(k.mppe_stateful.is_some());
    }

    #[test]
    fn problems_map_to_fields() {
        assert_eq!(field_of("link[0].config.listen", "bad"), "listen");
        assert_eq!(field_of("pool[1].ranges", "overlap"), "pool_ranges");
        assert_eq!(field_of("limits.max_sessions", "x"), "limits_max_sessions");
        assert_eq!(field_of("system", "x"), "");
    }
}
