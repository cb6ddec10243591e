//! Checks beyond types: ranges and sizes, names and references, and security switches that
//! contradict each other. Every problem is reported (not only the first), each with the path
//! of the field to fix.

use std::collections::{BTreeMap, HashMap};
use std::net::{Ipv4Addr, Ipv6Addr};

use super::schema::{
    AuthMethod, Config, LinkConfig, LinkMode, LinkRole, PppOverrides, PppSettings,
    is_contained_relative,
};
use super::source::FieldPath;
use super::value::{Ipv4Range, RoutePrefix};

/// One semantic problem: the field to fix and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issue {
    /// The field (or the table, for a missing field).
    pub path: FieldPath,
    /// What is wrong.
    pub message: String,
}

/// MRU bounds: pppd's floor of 128 and a ceiling well above any link MTU we serve.
pub const MRU_RANGE: (u16, u16) = (128, 16384);
/// Most networks one dialing link may route through its session (`link.routes`).
pub const MAX_LINK_ROUTES: usize = 256;

/// Most addresses all pools together may hold (the data plane sizes tables from this).
pub const MAX_POOL_ADDRESSES: u64 = 1 << 20;
/// Longest timeout accepted, one year.
pub const MAX_TIMEOUT_SECS: u32 = 365 * 24 * 3600;

/// Every semantic problem of `cfg`, in document order of the checks.
pub fn validate(cfg: &Config) -> Vec<Issue> {
    let mut v = Validator {
        cfg,
        issues: Vec::new(),
    };
    v.system();
    v.management();
    let root = FieldPath::root();
    let defaults = v.ppp(&cfg.ppp, &|f| root.key("ppp").key(f), &|_| true);
    v.issues.extend(defaults.iter().cloned());
    v.pools();
    v.lan_and_tun();
    v.plugins();
    v.links(&defaults);
    v.limits_and_accounting();
    v.issues
}

struct Validator<'a> {
    cfg: &'a Config,
    issues: Vec<Issue>,
}

fn path() -> FieldPath {
    FieldPath::root()
}

/// Pool, plugin and link names: 1 to 64 of `A-Z a-z 0-9 _ . -`, not starting with `.`/`-`.
pub(crate) fn name_problem(name: &str) -> Option<&'static str> {
    if name.is_empty() || name.len() > 64 {
        return Some("names are 1 to 64 characters");
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
    {
        return Some("names use only letters, digits, '_', '.' and '-'");
    }
    if name.starts_with(['.', '-']) {
        return Some("names do not start with '.' or '-'");
    }
    None
}

/// Linux interface names: 1 to 15 bytes, printable ASCII without '/', ':' or blanks.
fn ifname_problem(name: &str) -> Option<&'static str> {
    if name.is_empty() || name.len() > 15 {
        return Some("interface names are 1 to 15 characters");
    }
    if name == "." || name == ".." {
        return Some("not a valid interface name");
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_graphic() && b != b'/' && b != b':')
    {
        return Some("interface names are printable ASCII without '/', ':' or blanks");
    }
    None
}

/// User names as the PPP engine takes them: 1 to 255 octets, no control characters, no
/// backslash (a `DOMAIN\` prefix is stripped before lookup, so such a name never matches).
pub(crate) fn user_name_problem(name: &str) -> Option<&'static str> {
    if name.is_empty() || name.len() > 255 {
        return Some("user names are 1 to 255 octets");
    }
    if name.chars().any(char::is_control) {
        return Some("user names contain no control characters");
    }
    if name.contains('\\') {
        return Some("user names contain no '\\' (a DOMAIN\\ prefix is stripped before lookup)");
    }
    None
}

fn hostname_problem(name: &str) -> Option<&'static str> {
    let label_ok = |l: &str| {
        !l.is_empty()
            && l.len() <= 63
            && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !l.starts_with('-')
            && !l.ends_with('-')
    };
    if name.is_empty() || name.len() > 253 || !name.split('.').all(label_ok) {
        return Some("host names are dot-separated labels of letters, digits and '-' (RFC 1123)");
    }
    None
}

/// Why `addr` cannot be handed to a client or used as a server address.
pub(crate) fn ipv4_problem(addr: Ipv4Addr) -> Option<&'static str> {
    let o = addr.octets();
    if o[0] == 0 {
        Some("0.0.0.0/8 is not a host address")
    } else if addr.is_loopback() {
        Some("127.0.0.0/8 is loopback")
    } else if addr.is_link_local() {
        Some("169.254.0.0/16 is link-local")
    } else if o[0] >= 224 {
        Some("224.0.0.0 and above is multicast, reserved or broadcast")
    } else {
        None
    }
}

fn ipv6_prefix_problem(addr: Ipv6Addr) -> Option<&'static str> {
    let first = addr.segments()[0];
    if addr.is_unspecified() || addr.is_loopback() {
        Some("not a routable prefix")
    } else if first & 0xff00 == 0xff00 {
        Some("ff00::/8 is multicast")
    } else if first & 0xffc0 == 0xfe80 {
        Some("fe80::/10 is link-local")
    } else {
        None
    }
}

const WEAK_AUTH: [(&str, AuthMethod, &str); 3] = [
    (
        "allow_weak_mschap_v1",
        AuthMethod::MsChapV1,
        "MS-CHAPv1 is DES over the NT hash, without mutual authentication",
    ),
    (
        "allow_weak_chap_md5",
        AuthMethod::ChapMd5,
        "CHAP-MD5 needs clear-text secrets in the user store",
    ),
    (
        "allow_weak_pap_cleartext",
        AuthMethod::Pap,
        "PAP sends the password in clear text",
    ),
];

impl Validator<'_> {
    fn err(&mut self, path: FieldPath, message: impl Into<String>) {
        self.issues.push(Issue {
            path,
            message: message.into(),
        });
    }

    fn system(&mut self) {
        let s = &self.cfg.system;
        let at = |f: &str| path().key("system").key(f);
        if let Some(p) = hostname_problem(&s.hostname) {
            self.err(at("hostname"), format!("{p}: {:?}", s.hostname));
        }
        for (field, dir) in [("plugin_dir", &s.plugin_dir), ("state_dir", &s.state_dir)] {
            if !dir.is_absolute() {
                self.err(at(field), format!("must be an absolute path, not {dir:?}"));
            }
        }
        for (field, dir) in [
            ("upgrade_dir", &s.upgrade_dir),
            ("hw_profile", &s.hw_profile),
        ] {
            if let Some(dir) = dir
                && !dir.is_absolute()
            {
                self.err(at(field), format!("must be an absolute path, not {dir:?}"));
            }
        }
        if !(1..=1000).contains(&s.config_history) {
            self.err(
                at("config_history"),
                format!("must be 1 to 1000, not {}", s.config_history),
            );
        }
    }

    fn management(&mut self) {
        let m = &self.cfg.management;
        let at = |f: &str| path().key("management").key(f);
        if !m.socket.is_absolute() {
            self.err(
                at("socket"),
                format!("must be an absolute path, not {:?}", m.socket),
            );
        }
        // sun_path holds 108 bytes including the terminating zero.
        if m.socket.as_os_str().len() > 107 {
            self.err(at("socket"), "unix socket paths are at most 107 bytes long");
        }
        if let Some(addr) = m.metrics_listen
            && addr.port() == 0
        {
            self.err(at("metrics_listen"), "needs a port (not 0)");
        }
    }

    /// Checks one set of PPP settings; `at` maps a field name to the path to report,
    /// `may_be_inert` says whether an opt-in without effect is reported for that field.
    fn ppp(
        &self,
        s: &PppSettings,
        at: &dyn Fn(&str) -> FieldPath,
        may_be_inert: &dyn Fn(&str) -> bool,
    ) -> Vec<Issue> {
        let mut out = Vec::new();
        let mut err = |path: FieldPath, message: String| out.push(Issue { path, message });
        let (lo, hi) = MRU_RANGE;
        if !(lo..=hi).contains(&s.mru) {
            err(at("mru"), format!("must be {lo} to {hi}, not {}", s.mru));
        }
        if s.echo_interval_secs > 3600 {
            err(
                at("echo_interval_secs"),
                format!("must be 0 (off) to 3600, not {}", s.echo_interval_secs),
            );
        }
        if !(1..=100).contains(&s.echo_failures) {
            err(
                at("echo_failures"),
                format!("must be 1 to 100, not {}", s.echo_failures),
            );
        }
        for (field, value) in [
            ("idle_timeout_secs", s.idle_timeout_secs),
            ("session_timeout_secs", s.session_timeout_secs),
        ] {
            if value > MAX_TIMEOUT_SECS {
                err(
                    at(field),
                    format!("must be 0 (never) to {MAX_TIMEOUT_SECS} (a year), not {value}"),
                );
            }
        }
        if s.auth_methods.is_empty() {
            err(
                at("auth_methods"),
                "lists no method: list at least \"mschap-v2\"".to_owned(),
            );
        }
        for (i, m) in s.auth_methods.iter().enumerate() {
            if s.auth_methods[..i].contains(m) {
                err(
                    at("auth_methods").index(i),
                    format!("\"{m}\" is listed twice"),
                );
            }
            if !s.permits(*m)
                && let Some((flag, _, why)) = WEAK_AUTH.iter().find(|(_, wm, _)| wm == m)
            {
                err(
                    at("auth_methods").index(i),
                    format!("\"{m}\" is weak ({why}): it needs {flag} = true"),
                );
            }
        }
        for (flag, m, _) in WEAK_AUTH {
            if s.permits(m) && !s.auth_methods.contains(&m) && may_be_inert(flag) {
                err(
                    at(flag),
                    format!("has no effect: auth_methods does not list \"{m}\""),
                );
            }
        }
        let keys = s.auth_methods.iter().any(|m| m.yields_mppe_keys());
        if !keys && !s.auth_methods.is_empty() {
            if !s.allow_insecure_no_encryption {
                err(
                    at("auth_methods"),
                    "MPPE-128 is required but no listed method derives MPPE keys (only \
                     mschap-v2 and mschap-v1 do): add \"mschap-v2\" or set \
                     allow_insecure_no_encryption = true"
                        .to_owned(),
                );
            }
            for (flag, on) in [
                ("allow_weak_mppe_40", s.allow_weak_mppe_40),
                ("allow_weak_mppe_56", s.allow_weak_mppe_56),
                ("allow_mppe_stateful", s.allow_mppe_stateful),
                ("prefer_weak_mppe_stateful", s.prefer_weak_mppe_stateful),
            ] {
                if on && may_be_inert(flag) {
                    err(
                        at(flag),
                        "has no effect: MPPE needs keys from mschap-v2 or mschap-v1, and \
                         auth_methods lists neither"
                            .to_owned(),
                    );
                }
            }
        }
        out
    }

    fn pools(&mut self) {
        let cfg = self.cfg;
        let mut names: HashMap<&str, usize> = HashMap::new();
        // Every dynamic range: (range, pool index, range index).
        let mut all: Vec<(Ipv4Range, usize, usize)> = Vec::new();
        let mut total: u64 = 0;
        for (j, pool) in cfg.pools.iter().enumerate() {
            let at = path().key("pool").index(j);
            if let Some(p) = name_problem(&pool.name) {
                self.err(at.key("name"), format!("{p}: {:?}", pool.name));
            }
            if let Some(first) = names.insert(&pool.name, j) {
                self.err(
                    at.key("name"),
                    format!("duplicate pool name {:?} (also pool[{first}])", pool.name),
                );
            }
            if pool.ranges.is_empty() && pool.static_addresses.is_empty() {
                self.err(
                    at.clone(),
                    "pool has no addresses: give ranges or [pool.static]",
                );
            }
            for (k, r) in pool.ranges.iter().enumerate() {
                for addr in [r.first, r.last] {
                    if let Some(p) = ipv4_problem(addr) {
                        self.err(at.key("ranges").index(k), format!("{addr}: {p}"));
                        break;
                    }
                }
                all.push((*r, j, k));
            }
            total += pool.dynamic_size();
            for (field, list) in [("dns", &pool.dns), ("wins", &pool.wins)] {
                if list.len() > 2 {
                    self.err(
                        at.key(field),
                        "at most 2 servers (primary and secondary, RFC 1877)",
                    );
                }
                for (k, addr) in list.iter().enumerate() {
                    if let Some(p) = ipv4_problem(*addr) {
                        self.err(at.key(field).index(k), format!("{addr}: {p}"));
                    }
                }
            }
        }
        if total > MAX_POOL_ADDRESSES {
            self.err(
                path().key("pool"),
                format!("pools hold {total} addresses together; at most {MAX_POOL_ADDRESSES}"),
            );
        }
        all.sort();
        // Overlaps: compare each range with the one reaching furthest among those before it.
        let mut reach: Option<(Ipv4Range, usize, usize)> = None;
        for &(r, j, k) in &all {
            if let Some((prev, pj, pk)) = reach {
                if prev.overlaps(&r) {
                    self.err(
                        path().key("pool").index(j).key("ranges").index(k),
                        format!(
                            "{r} overlaps {prev} (pool[{pj}].ranges[{pk}], pool {:?})",
                            cfg.pools.get(pj).map_or("", |p| p.name.as_str())
                        ),
                    );
                }
                if r.last <= prev.last {
                    continue;
                }
            }
            reach = Some((r, j, k));
        }
        let in_range = |addr: Ipv4Addr| all.iter().find(|(r, _, _)| r.contains(addr));
        let mut statics: HashMap<Ipv4Addr, FieldPath> = HashMap::new();
        for (j, pool) in cfg.pools.iter().enumerate() {
            let at = path().key("pool").index(j);
            for (user, addr) in &pool.static_addresses {
                let here = at.key("static").key(user);
                if let Some(p) = user_name_problem(user) {
                    self.err(here.clone(), p);
                }
                if let Some(p) = ipv4_problem(*addr) {
                    self.err(here.clone(), format!("{addr}: {p}"));
                }
                if let Some((r, rj, rk)) = in_range(*addr) {
                    self.err(
                        here.clone(),
                        format!(
                            "{addr} is inside the dynamic range {r} (pool[{rj}].ranges[{rk}]); \
                             static addresses must lie outside every range"
                        ),
                    );
                }
                if let Some(other) = statics.insert(*addr, here.clone()) {
                    self.err(
                        here,
                        format!("{addr} is also the static address at {other}"),
                    );
                }
            }
        }
        for (j, pool) in cfg.pools.iter().enumerate() {
            let Some(local) = pool.local_address else {
                continue;
            };
            let here = path().key("pool").index(j).key("local_address");
            if let Some(p) = ipv4_problem(local) {
                self.err(here.clone(), format!("{local}: {p}"));
            }
            if let Some((r, rj, rk)) = in_range(local) {
                self.err(
                    here.clone(),
                    format!("{local} is inside the dynamic range {r} (pool[{rj}].ranges[{rk}])"),
                );
            }
            if let Some(other) = statics.get(&local) {
                self.err(here, format!("{local} is the static address at {other}"));
            }
        }
    }

    fn lan_and_tun(&mut self) {
        let cfg = self.cfg;
        if let Some(lan) = &cfg.lan {
            let at = |f: &str| path().key("lan").key(f);
            if let Some(p) = ifname_problem(&lan.interface) {
                self.err(at("interface"), format!("{p}: {:?}", lan.interface));
            }
            if let Some(prefix) = lan.ipv6_prefix {
                if !(16..=64).contains(&prefix.len()) {
                    self.err(
                        at("ipv6_prefix"),
                        format!(
                            "{prefix}: the length must be 16 to 64 (one /64 is delegated per \
                             session)"
                        ),
                    );
                }
                if let Some(p) = ipv6_prefix_problem(prefix.addr()) {
                    self.err(at("ipv6_prefix"), format!("{prefix}: {p}"));
                }
            }
        }
        let tun = &cfg.tun;
        let at = |f: &str| path().key("tun").key(f);
        if let Some(p) = ifname_problem(&tun.name) {
            self.err(at("name"), format!("{p}: {:?}", tun.name));
        }
        if cfg.lan.as_ref().is_some_and(|l| l.interface == tun.name) {
            self.err(
                at("name"),
                "the TUN device cannot have the LAN interface's name",
            );
        }
        if !(576..=65535).contains(&tun.mtu) {
            self.err(at("mtu"), format!("must be 576 to 65535, not {}", tun.mtu));
        } else if tun.mtu < 1280 && cfg.lan.as_ref().is_some_and(|l| l.ipv6_prefix.is_some()) {
            self.err(
                at("mtu"),
                format!(
                    "IPv6 needs an MTU of at least 1280 (RFC 8200 §5), not {}",
                    tun.mtu
                ),
            );
        }
    }

    fn plugins(&mut self) {
        let mut names: HashMap<&str, usize> = HashMap::new();
        for (k, plugin) in self.cfg.plugins.iter().enumerate() {
            let at = path().key("plugin").index(k);
            if let Some(p) = name_problem(&plugin.name) {
                self.err(at.key("name"), format!("{p}: {:?}", plugin.name));
            }
            if let Some(first) = names.insert(&plugin.name, k) {
                self.err(
                    at.key("name"),
                    format!(
                        "duplicate plugin name {:?} (also plugin[{first}])",
                        plugin.name
                    ),
                );
            }
            if !plugin.file.is_absolute() && !is_contained_relative(&plugin.file) {
                self.err(
                    at.key("file"),
                    format!(
                        "{:?}: give a file name inside system.plugin_dir (no \"..\") or an \
                         absolute path",
                        plugin.file
                    ),
                );
            }
        }
    }

    fn links(&mut self, ppp_defaults: &[Issue]) {
        let cfg = self.cfg;
        let mut names: HashMap<&str, usize> = HashMap::new();
        let index: BTreeMap<&str, usize> = cfg
            .links
            .iter()
            .enumerate()
            .map(|(i, l)| (l.name.as_str(), i))
            .collect();
        for (i, link) in cfg.links.iter().enumerate() {
            let at = path().key("link").index(i);
            if let Some(p) = name_problem(&link.name) {
                self.err(at.key("name"), format!("{p}: {:?}", link.name));
            }
            if let Some(first) = names.insert(&link.name, i) {
                self.err(
                    at.key("name"),
                    format!("duplicate link name {:?} (also link[{first}])", link.name),
                );
            }
            match cfg.plugins.iter().position(|p| p.name == link.plugin) {
                None => {
                    let known: Vec<&str> = cfg.plugins.iter().map(|p| p.name.as_str()).collect();
                    self.err(
                        at.key("plugin"),
                        format!("unknown plugin {:?} (known: {known:?})", link.plugin),
                    );
                }
                Some(k) => {
                    if link.enabled && cfg.plugins.get(k).is_some_and(|p| !p.enabled) {
                        self.err(
                            at.key("plugin"),
                            format!(
                                "plugin {:?} is disabled (plugin[{k}].enabled = false): \
                                 disable this link too",
                                link.plugin
                            ),
                        );
                    }
                }
            }
            match link.mode {
                LinkMode::Terminate => self.terminating_link(i, link, ppp_defaults),
                LinkMode::Relay => self.relay_link(i, link, &index),
            }
        }
    }

    fn terminating_link(&mut self, i: usize, link: &LinkConfig, ppp_defaults: &[Issue]) {
        let cfg = self.cfg;
        let at = path().key("link").index(i);
        if link.relay_to.is_some() {
            self.err(at.key("relay_to"), "relay_to needs mode = \"relay\"");
        }
        match link.role {
            LinkRole::Answer => {
                match &link.pool {
                    None => self.err(
                        at.clone(),
                        "an answering link that terminates PPP needs a pool (pool = \"name\")",
                    ),
                    Some(name) if cfg.pool(name).is_none() => {
                        let known: Vec<&str> = cfg.pools.iter().map(|p| p.name.as_str()).collect();
                        self.err(
                            at.key("pool"),
                            format!("unknown pool {name:?} (known: {known:?})"),
                        );
                    }
                    Some(_) => {}
                }
                if link.credentials.is_some() {
                    self.err(
                        at.key("credentials"),
                        "an answering link authenticates its peers against the user store; \
                         credentials are for dialing links",
                    );
                }
                if !link.routes.is_empty() {
                    self.err(
                        at.key("routes"),
                        "routes are for dialing links; an answering link routes each client's \
                         address (and /64) to its session by itself",
                    );
                }
            }
            LinkRole::Dial => {
                if link.pool.is_some() {
                    self.err(
                        at.key("pool"),
                        "a dialing link gets its address from the peer: remove pool",
                    );
                }
                self.routes(i, link);
                if let Some(c) = &link.credentials {
                    if let Some(p) = user_name_problem(&c.user) {
                        self.err(at.key("credentials").key("user"), p);
                    }
                    if dialgate_crypto::mschap::nt_password_hash(&c.password).is_err() {
                        self.err(
                            at.key("credentials").key("password"),
                            "longer than 256 characters (RFC 2759 §8.3)",
                        );
                    }
                }
            }
        }
        if !link.ppp.is_empty() {
            self.link_ppp(i, &link.ppp, ppp_defaults);
        }
    }

    /// A dialing link's `routes`: at most [`MAX_LINK_ROUTES`], no duplicates.
    fn routes(&mut self, i: usize, link: &LinkConfig) {
        let at = path().key("link").index(i).key("routes");
        if link.routes.len() > MAX_LINK_ROUTES {
            self.err(
                at.clone(),
                format!(
                    "{} routes; a link routes at most {MAX_LINK_ROUTES} networks",
                    link.routes.len()
                ),
            );
        }
        let mut seen: HashMap<RoutePrefix, usize> = HashMap::new();
        for (k, r) in link.routes.iter().enumerate() {
            if let Some(first) = seen.insert(*r, k) {
                self.err(
                    at.index(k),
                    format!("duplicate route {r} (also routes[{first}])"),
                );
            }
        }
    }

    /// The effective settings of a link with overrides; problems of fields the link sets
    /// are reported there, problems it inherits unchanged only once, on `[ppp]`.
    fn link_ppp(&mut self, i: usize, overrides: &PppOverrides, ppp_defaults: &[Issue]) {
        let table = path().key("link").index(i).key("ppp");
        let effective = self.cfg.ppp.with_overrides(overrides);
        let at = |f: &str| {
            if overrides.sets(f) {
                table.key(f)
            } else {
                table.clone()
            }
        };
        let found = self.ppp(&effective, &at, &|f| overrides.sets(f));
        for issue in found {
            let inherited =
                issue.path == table && ppp_defaults.iter().any(|d| d.message == issue.message);
            if !inherited {
                self.issues.push(issue);
            }
        }
    }

    fn relay_link(&mut self, i: usize, link: &LinkConfig, index: &BTreeMap<&str, usize>) {
        let cfg = self.cfg;
        let at = path().key("link").index(i);
        if link.pool.is_some() {
            self.err(at.key("pool"), "a relay link carries no IP: remove pool");
        }
        if !link.routes.is_empty() {
            self.err(
                at.key("routes"),
                "a relay link carries no IP: remove routes",
            );
        }
        if link.credentials.is_some() {
            self.err(
                at.key("credentials"),
                "a relay link passes authentication through untouched: remove credentials",
            );
        }
        if !link.ppp.is_empty() {
            self.err(
                at.key("ppp"),
                "a relay link does not run PPP here: these settings have no effect",
            );
        }
        match (link.role, &link.relay_to) {
            (LinkRole::Dial, Some(_)) => self.err(
                at.key("relay_to"),
                "a dialing relay link carries relayed calls; relay_to belongs on the answering \
                 link",
            ),
            (LinkRole::Dial, None) => {}
            (LinkRole::Answer, None) => self.err(
                at.clone(),
                "an answering relay link needs relay_to = \"<dialing relay link>\"",
            ),
            (LinkRole::Answer, Some(target)) => {
                let here = at.key("relay_to");
                match index.get(target.as_str()).and_then(|&t| cfg.links.get(t)) {
                    None => self.err(here, format!("unknown link {target:?}")),
                    Some(t) if t.name == link.name => {
                        self.err(here, "a link cannot relay to itself")
                    }
                    Some(t) if t.role != LinkRole::Dial || t.mode != LinkMode::Relay => self.err(
                        here,
                        format!(
                            "link {target:?} must be a dialing relay link (role = \"dial\", \
                             mode = \"relay\")"
                        ),
                    ),
                    Some(t) if link.enabled && !t.enabled => {
                        self.err(here, format!("link {target:?} is disabled"))
                    }
                    Some(_) => {}
                }
            }
        }
    }

    fn limits_and_accounting(&mut self) {
        let l = &self.cfg.limits;
        let at = |t: &str, f: &str| path().key(t).key(f);
        if !(1..=1_000_000).contains(&l.max_sessions) {
            self.err(
                at("limits", "max_sessions"),
                format!("must be 1 to 1000000, not {}", l.max_sessions),
            );
        }
        if let Some(n) = l.per_user_sessions
            && (n == 0 || n > l.max_sessions)
        {
            self.err(
                at("limits", "per_user_sessions"),
                format!(
                    "must be 1 to max_sessions ({}), not {n}; leave it out for no limit",
                    l.max_sessions
                ),
            );
        }
        if l.capture_packets > crate::daemon::capture::MAX_PACKETS {
            self.err(
                at("limits", "capture_packets"),
                format!(
                    "must be 0 (capture off) to {}, not {}",
                    crate::daemon::capture::MAX_PACKETS,
                    l.capture_packets
                ),
            );
        }
        let (lo, hi) = crate::daemon::capture::SNAPLEN_RANGE;
        if !(lo..=hi).contains(&l.capture_snaplen) {
            self.err(
                at("limits", "capture_snaplen"),
                format!("must be {lo} to {hi}, not {}", l.capture_snaplen),
            );
        }
        if l.auth_failures_per_source > 1000 {
            self.err(
                at("limits", "auth_failures_per_source"),
                format!(
                    "must be 0 (no lockout) to 1000, not {}",
                    l.auth_failures_per_source
                ),
            );
        }
        for (field, value) in [
            ("auth_failure_window_secs", l.auth_failure_window_secs),
            ("auth_lockout_secs", l.auth_lockout_secs),
        ] {
            if !(1..=86_400).contains(&value) {
                self.err(
                    at("limits", field),
                    format!("must be 1 to 86400 (a day), not {value}"),
                );
            }
        }
        let a = &self.cfg.accounting;
        if !(4096..=1 << 40).contains(&a.rotate_size_bytes) {
            self.err(
                at("accounting", "rotate_size_bytes"),
                format!("must be 4096 to 2^40, not {}", a.rotate_size_bytes),
            );
        }
        if !(1..=1000).contains(&a.keep) {
            self.err(
                at("accounting", "keep"),
                format!("must be 1 to 1000, not {}", a.keep),
            );
        }
        if !a.path.is_absolute() && !is_contained_relative(&a.path) {
            self.err(
                at("accounting", "path"),
                format!(
                    "{:?}: give a file name inside system.state_dir (no \"..\") or an absolute \
                     path",
                    a.path
                ),
            );
        }
        if a.path.is_absolute() && a.path.file_name().is_none() {
            self.err(at("accounting", "path"), "must name a file");
        }
    }
}
