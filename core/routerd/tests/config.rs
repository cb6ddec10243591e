//! The configuration schema: the default is valid, every kind of error names the file, line,
//! column and field, unknown keys are refused, per-link overrides and the diff.

#![allow(clippy::unwrap_used)] // Test helpers panic on purpose.

use std::net::Ipv4Addr;

use dialgate_routerd::config::{
    AuthMethod, Config, ConfigDiff, DEFAULT_CONFIG, Document, LinkMode, LinkRole,
};

/// A configuration using every section.
const FULL: &str = r#"
[system]
hostname = "ras.example.net"
plugin_dir = "/usr/lib/dialgate/plugins"
state_dir = "/var/lib/dialgate"
log_level = "debug"

[management]
socket = "/run/dialgate/routerd.sock"
metrics_listen = "127.0.0.1:9633"

[ppp]
mru = 1400
auth_methods = ["mschap-v2", "mschap-v1"]
allow_weak_mschap_v1 = true

[[pool]]
name = "office"
ranges = ["192.168.7.100-192.168.7.149", "192.168.7.160-192.168.7.169"]
local_address = "192.168.7.1"
dns = ["192.168.7.1", "192.0.2.53"]
wins = ["192.168.7.2"]
[pool.static]
alice = "192.168.7.50"
"bob.smith" = "192.168.7.51"

[[pool]]
name = "isp"
ranges = ["10.20.0.1-10.20.3.254"]

[lan]
interface = "eth0"
proxy_arp = true
ipv6_prefix = "2001:db8:100::/56"

[tun]
name = "dg0"
mtu = 1400

[[plugin]]
name = "serial"
file = "libdialgate_serial.so"
[plugin.config]
lock_dir = "/run/lock"

[[plugin]]
name = "pptp"
file = "/opt/dialgate/libdialgate_pptp.so"
enabled = true

[[link]]
name = "modem0"
plugin = "serial"
role = "answer"
pool = "office"
[link.config]
device = "/dev/ttyS0"
speed = 115200
[link.ppp]
idle_timeout_secs = 1800
auth_methods = ["mschap-v2"]

[[link]]
name = "vpn"
plugin = "pptp"
role = "answer"
pool = "isp"

[[link]]
name = "uplink"
plugin = "serial"
role = "dial"
credentials = { user = "branch1", password = "s3cret" }
[link.config]
device = "/dev/ttyUSB0"

[[link]]
name = "front"
plugin = "serial"
role = "answer"
mode = "relay"
relay_to = "to-pns"

[[link]]
name = "to-pns"
plugin = "pptp"
role = "dial"
mode = "relay"

[limits]
max_sessions = 500
per_user_sessions = 2

[accounting]
path = "acct/sessions.jsonl"
rotate_size_bytes = 1048576
keep = 5
"#;

fn parse(text: &str) -> Result<Config, Vec<String>> {
    Document::parse("routerd.toml", text)
        .map(Document::into_config)
        .map_err(|e| e.errors().iter().map(ToString::to_string).collect())
}

/// The errors of `text`, which must be invalid.
fn errors(text: &str) -> Vec<String> {
    match parse(text) {
        Ok(cfg) => panic!("accepted: {cfg:#?}"),
        Err(e) => e,
    }
}

/// `FULL` with `from` replaced by `to` (which must occur).
fn full_with(from: &str, to: &str) -> String {
    assert!(FULL.contains(from), "{from:?}");
    FULL.replacen(from, to, 1)
}

/// 1-based line of the first occurrence of `needle` in `text`, and its column.
fn pos(text: &str, needle: &str) -> (usize, usize) {
    let at = text.find(needle).unwrap_or_else(|| panic!("{needle:?}"));
    let before = &text[..at];
    let line = before.matches('\n').count() + 1;
    let col = at - before.rfind('\n').map_or(0, |i| i + 1) + 1;
    (line, col)
}

#[test]
fn default_config_is_valid_and_safe() {
    let doc = Document::default_config().unwrap();
    let cfg = doc.config();
    assert_eq!(doc.text(), DEFAULT_CONFIG);
    assert_eq!(cfg.ppp.auth_methods, vec![AuthMethod::MsChapV2]);
    assert!(!cfg.ppp.allow_insecure_no_encryption);
    assert!(!cfg.ppp.allow_weak_mppe_40 && !cfg.ppp.allow_weak_mppe_56);
    assert!(!cfg.ppp.allow_weak_pap_cleartext && !cfg.ppp.allow_weak_chap_md5);
    assert!(!cfg.ppp.allow_weak_mschap_v1 && !cfg.ppp.allow_mppe_stateful);
    assert!(cfg.links.is_empty() && cfg.plugins.is_empty());
    let metrics = cfg.management.metrics_listen.unwrap();
    assert!(metrics.ip().is_loopback());
    // The file spells out the built-in defaults, plus the metrics listener.
    let mut expected = Config::default();
    expected.management.metrics_listen = Some(metrics);
    assert_eq!(*cfg, expected);
    // Parsing section by section agrees with serde's whole-document path.
    assert_eq!(toml::from_str::<Config>(DEFAULT_CONFIG).unwrap(), *cfg);
}

#[test]
fn empty_document_is_the_builtin_default() {
    assert_eq!(parse("").unwrap(), Config::default());
}

#[test]
fn full_example_parses_and_round_trips() {
    let cfg = parse(FULL).unwrap();
    assert_eq!(cfg.pools.len(), 2);
    assert_eq!(cfg.pools[0].dynamic_size(), 60);
    assert_eq!(
        cfg.pools[0].static_addresses.get("bob.smith"),
        Some(&Ipv4Addr::new(192, 168, 7, 51))
    );
    let front = cfg.link("front").unwrap();
    assert_eq!(
        (front.role, front.mode),
        (LinkRole::Answer, LinkMode::Relay)
    );
    assert_eq!(
        cfg.link("modem0").unwrap().config_toml(),
        "device = \"/dev/ttyS0\"\nspeed = 115200\n"
    );
    assert_eq!(
        cfg.plugin("serial").unwrap().config_toml(),
        "lock_dir = \"/run/lock\"\n"
    );
    assert!(cfg.plugin("serial").unwrap().enabled);
    assert_eq!(
        cfg.plugin_path(cfg.plugin("serial").unwrap()),
        std::path::Path::new("/usr/lib/dialgate/plugins/libdialgate_serial.so")
    );
    assert_eq!(
        cfg.plugin_path(cfg.plugin("pptp").unwrap()),
        std::path::Path::new("/opt/dialgate/libdialgate_pptp.so")
    );
    assert_eq!(
        cfg.accounting_path(),
        std::path::Path::new("/var/lib/dialgate/acct/sessions.jsonl")
    );
    let creds = cfg.link("uplink").unwrap().credentials.as_ref().unwrap();
    assert!(
        !format!("{creds:?}").contains("s3cret"),
        "password redacted"
    );
    // Serialize and parse again: the same configuration.
    let text = toml::to_string(&cfg).unwrap();
    assert_eq!(parse(&text).unwrap(), cfg, "{text}");
    let doc = Document::from_config("api", &cfg).unwrap();
    assert_eq!(*doc.config(), cfg);
    assert_eq!(
        cfg.config_store_dir(),
        std::path::Path::new("/var/lib/dialgate/config")
    );
    assert_eq!(
        cfg.users_path(),
        std::path::Path::new("/var/lib/dialgate/users.toml")
    );
    // A typed configuration is validated like a file.
    let mut bad = cfg.clone();
    bad.links[1].pool = Some("nope".into());
    let e = Document::from_config("api", &bad).unwrap_err();
    assert_eq!(e.errors().len(), 1);
    assert_eq!(e.errors()[0].path.to_string(), "link[1].pool");
}

#[test]
fn per_link_overrides_merge_over_defaults() {
    let cfg = parse(FULL).unwrap();
    let modem = cfg.effective_ppp(cfg.link("modem0").unwrap());
    assert_eq!(modem.mru, 1400, "inherited");
    assert_eq!(modem.idle_timeout_secs, 1800, "overridden");
    assert_eq!(modem.auth_methods, vec![AuthMethod::MsChapV2]);
    let vpn = cfg.effective_ppp(cfg.link("vpn").unwrap());
    assert_eq!(vpn, cfg.ppp);
    // Into an engine configuration.
    let mut engine = dialgate_ppp::Config::default();
    modem.apply_to(&mut engine);
    assert_eq!(engine.lcp.mru, 1400);
    assert_eq!(
        engine.idle_timeout,
        Some(std::time::Duration::from_secs(1800))
    );
    assert_eq!(engine.session_timeout, None);
    assert_eq!(
        engine.lcp.echo_interval,
        Some(std::time::Duration::from_secs(30))
    );
    assert!(engine.allow_weak_mschap_v1);
    assert!(engine.requires_encryption());
    assert_eq!(
        engine.allowed_methods(),
        vec![dialgate_ppp::auth::Method::MsChapV2]
    );
}

#[test]
fn unknown_pool_names_file_line_column_and_field() {
    let text = full_with("pool = \"isp\"", "pool = \"office2\"");
    let (line, col) = pos(&text, "\"office2\"");
    assert_eq!(
        errors(&text),
        vec![format!(
            "routerd.toml:{line}:{col}: link[1].pool: unknown pool \"office2\" (known: [\"office\", \"isp\"])"
        )]
    );
}

#[test]
fn unknown_keys_are_rejected_where_they_are() {
    // In a section.
    let text = "[ppp]\nmru = 1400\nmtu = 1400\n";
    assert_eq!(
        errors(text),
        vec![
            "routerd.toml:3:1: ppp.mtu: unknown field `mtu`, expected one of `mru`, \
             `echo_interval_secs`, `echo_failures`, `idle_timeout_secs`, \
             `session_timeout_secs`, `auth_methods`, `allow_weak_mschap_v1`, \
             `allow_weak_chap_md5`, `allow_weak_pap_cleartext`, `allow_weak_mppe_40`, \
             `allow_weak_mppe_56`, `allow_mppe_stateful`, `prefer_weak_mppe_stateful`, \
             `allow_insecure_no_encryption`"
        ]
    );
    // An unknown section.
    assert_eq!(
        errors("[system]\nhostname = \"a\"\n\n[routing]\nx = 1\n")[0],
        "routerd.toml:4:2: routing: unknown section `routing`, expected one of `system`, \
         `management`, `ppp`, `pool`, `lan`, `tun`, `plugin`, `link`, `limits`, `accounting`"
    );
    // In the second of several [[link]] tables, and in a link's [link.ppp] table.
    let text = full_with(
        "role = \"dial\"\ncredentials",
        "role = \"dial\"\nspeed = 9600\ncredentials",
    );
    let (line, col) = pos(&text, "speed = 9600");
    let e = errors(&text);
    assert_eq!(e.len(), 1, "{e:?}");
    assert!(
        e[0].starts_with(&format!(
            "routerd.toml:{line}:{col}: link[2].speed: unknown field `speed`"
        )),
        "{e:?}"
    );
    let text = full_with("idle_timeout_secs = 1800", "idle_timeout = 1800");
    let (line, col) = pos(&text, "idle_timeout = 1800");
    let e = errors(&text);
    assert!(
        e[0].starts_with(&format!(
            "routerd.toml:{line}:{col}: link[0].ppp.idle_timeout: unknown field"
        )),
        "{e:?}"
    );
    // Inline tables too.
    let text = full_with(
        "password = \"s3cret\"",
        "password = \"s3cret\", domain = \"X\"",
    );
    let (line, col) = pos(&text, "domain");
    let e = errors(&text);
    assert!(
        e[0].starts_with(&format!(
            "routerd.toml:{line}:{col}: link[2].credentials.domain: unknown field `domain`"
        )),
        "{e:?}"
    );
}

#[test]
fn errors_serialize_for_the_api() {
    let e = Document::parse("routerd.toml", "[tun]\nmtu = 10\n").unwrap_err();
    assert_eq!(
        serde_json::to_value(&e).unwrap(),
        serde_json::json!([{
            "file": "routerd.toml",
            "location": {"line": 2, "column": 7},
            "path": "tun.mtu",
            "message": "must be 576 to 65535, not 10"
        }])
    );
}

#[test]
fn type_errors_name_the_value() {
    let e = errors("[ppp]\nmru = \"big\"\n");
    assert_eq!(
        e,
        vec!["routerd.toml:2:7: ppp.mru: invalid type: string \"big\", expected u16"]
    );
    let e = errors("[ppp]\nmru = 70000\n");
    assert_eq!(
        e,
        vec!["routerd.toml:2:7: ppp.mru: invalid value: integer `70000`, expected u16"]
    );
    let text = full_with(
        "\"192.168.7.160-192.168.7.169\"",
        "\"192.168.7.169-192.168.7.160\"",
    );
    let (line, col) = pos(&text, "\"192.168.7.169-");
    assert_eq!(
        errors(&text),
        vec![format!(
            "routerd.toml:{line}:{col}: pool[0].ranges[1]: address range \"192.168.7.169-192.168.7.160\" ends before it starts"
        )]
    );
    let text = full_with(
        "role = \"dial\"\ncredentials",
        "role = \"listen\"\ncredentials",
    );
    let (line, col) = pos(&text, "\"listen\"");
    let e = errors(&text);
    assert!(
        e[0].starts_with(&format!(
            "routerd.toml:{line}:{col}: link[2].role: unknown variant `listen`"
        )),
        "{e:?}"
    );
    let e = errors("[ppp]\nauth_methods = [\"mschap-v2\", \"eap\"]\n");
    assert!(
        e[0].starts_with("routerd.toml:2:30: ppp.auth_methods[1]: unknown variant `eap`"),
        "{e:?}"
    );
    let e = errors("[lan]\ninterface = \"eth0\"\nipv6_prefix = \"2001:db8::1/64\"\n");
    assert_eq!(
        e,
        vec![
            "routerd.toml:3:15: lan.ipv6_prefix: IPv6 prefix \"2001:db8::1/64\" has host bits \
             set (did you mean 2001:db8::/64?)"
        ]
    );
}

#[test]
fn missing_required_fields_point_at_their_table() {
    let text = full_with("name = \"vpn\"\n", "");
    let (line, _) = pos(&text, "plugin = \"pptp\"\nrole");
    // The [[link]] header just above the entry that lost its name.
    let e = errors(&text);
    assert_eq!(
        e,
        vec![format!(
            "routerd.toml:{}:1: link[1]: missing field `name`",
            line - 1
        )]
    );
    let e = errors("[system]\n\n[lan]\nproxy_arp = false\n");
    assert_eq!(e, vec!["routerd.toml:3:1: lan: missing field `interface`"]);
}

#[test]
fn every_bad_entry_is_reported_not_only_the_first() {
    let text = "[[link]]\nname = \"a\"\n\n[[link]]\nname = 5\n\n[[pool]]\nname = \"p\"\nranges = [\"x\"]\n\n[tun]\nmtu = -1\n";
    let e = errors(text);
    assert_eq!(e.len(), 4, "{e:#?}");
    assert!(
        e[0].starts_with("routerd.toml:1:1: link[0]: missing field `plugin`"),
        "{e:?}"
    );
    assert!(
        e[1].starts_with("routerd.toml:5:8: link[1].name: invalid type: integer `5`"),
        "{e:?}"
    );
    assert!(
        e[2].starts_with("routerd.toml:9:11: pool[0].ranges[0]: bad address range \"x\""),
        "{e:?}"
    );
    assert!(
        e[3].starts_with("routerd.toml:12:7: tun.mtu: invalid value: integer `-1`"),
        "{e:?}"
    );
}

#[test]
fn syntax_errors_have_positions() {
    let e = errors("[system]\nhostname = \"a\"\n[lan\ninterface = \"eth0\"\n");
    assert!(e[0].starts_with("routerd.toml:3:5: "), "{e:?}");
    let e = errors("[ppp]\nmru = 1400\nmru = 1500\n");
    assert!(e[0].starts_with("routerd.toml:3:1: "), "{e:?}");
    assert!(e[0].contains("duplicate"), "{e:?}");
}

#[test]
fn overlapping_pools_are_refused() {
    let text = full_with(
        "\"10.20.0.1-10.20.3.254\"",
        "\"192.168.7.140-192.168.7.155\"",
    );
    let (line, col) = pos(&text, "\"192.168.7.140-");
    assert_eq!(
        errors(&text),
        vec![format!(
            "routerd.toml:{line}:{col}: pool[1].ranges[0]: 192.168.7.140-192.168.7.155 overlaps \
             192.168.7.100-192.168.7.149 (pool[0].ranges[0], pool \"office\")"
        )]
    );
    // Within one pool, contained entirely in an earlier range.
    let e = errors(
        "[[pool]]\nname = \"p\"\nranges = [\"10.0.0.1-10.0.0.100\", \"10.0.0.200\", \"10.0.0.5-10.0.0.6\"]\n",
    );
    assert_eq!(e.len(), 1, "{e:?}");
    assert!(
        e[0].starts_with("routerd.toml:3:48: pool[0].ranges[2]: 10.0.0.5-10.0.0.6 overlaps"),
        "{e:?}"
    );
}

#[test]
fn pool_addresses_must_be_usable_and_consistent() {
    let e = errors(
        "[[pool]]\nname = \"p\"\nranges = [\"127.0.0.1-127.0.0.9\", \"10.0.0.1-10.0.0.9\"]\n\
         local_address = \"10.0.0.5\"\ndns = [\"10.0.0.1\", \"10.0.0.2\", \"10.0.0.3\"]\n\
         [pool.static]\nalice = \"10.0.0.9\"\nbob = \"10.0.1.1\"\ncarol = \"10.0.1.1\"\n",
    );
    let expected = [
        "routerd.toml:3:11: pool[0].ranges[0]: 127.0.0.1: 127.0.0.0/8 is loopback",
        "routerd.toml:4:17: pool[0].local_address: 10.0.0.5 is inside the dynamic range 10.0.0.1-10.0.0.9 (pool[0].ranges[1])",
        "routerd.toml:5:7: pool[0].dns: at most 2 servers (primary and secondary, RFC 1877)",
        "routerd.toml:7:9: pool[0].static.alice: 10.0.0.9 is inside the dynamic range 10.0.0.1-10.0.0.9 (pool[0].ranges[1]); static addresses must lie outside every range",
        "routerd.toml:9:9: pool[0].static.carol: 10.0.1.1 is also the static address at pool[0].static.bob",
    ];
    assert_eq!(e, expected);
    let e = errors("[[pool]]\nname = \"p\"\n");
    assert_eq!(
        e,
        vec!["routerd.toml:1:1: pool[0]: pool has no addresses: give ranges or [pool.static]"]
    );
    let e = errors("[[pool]]\nname = \"big\"\nranges = [\"10.0.0.0-10.31.255.255\"]\n");
    assert!(
        e[0].starts_with("routerd.toml:1:1: pool: pools hold 2097152 addresses together"),
        "{e:?}"
    );
}

#[test]
fn duplicate_names_are_refused() {
    let text = full_with("name = \"isp\"", "name = \"office\"");
    let e = errors(&text);
    let second = text.find("name = \"office\"").unwrap() + 1;
    let (line, col) = pos(&text[second..], "name = \"office\"");
    let line = line + text[..second].matches('\n').count();
    assert!(
        e.contains(&format!(
            "routerd.toml:{line}:{}: pool[1].name: duplicate pool name \"office\" (also pool[0])",
            col + 7
        )),
        "{e:?}"
    );
    let text = full_with("name = \"vpn\"", "name = \"modem0\"");
    let e = errors(&text);
    assert!(
        e.iter()
            .any(|m| m.contains("link[1].name: duplicate link name \"modem0\" (also link[0])")),
        "{e:?}"
    );
}

#[test]
fn weak_methods_need_their_opt_in() {
    let e = errors("[ppp]\nauth_methods = [\"mschap-v2\", \"pap\"]\n");
    assert_eq!(
        e,
        vec![
            "routerd.toml:2:30: ppp.auth_methods[1]: \"pap\" is weak (PAP sends the password in \
             clear text): it needs allow_weak_pap_cleartext = true"
        ]
    );
    // Allowed and listed: fine.
    parse("[ppp]\nauth_methods = [\"mschap-v2\", \"pap\"]\nallow_weak_pap_cleartext = true\n")
        .unwrap();
    // Allowed but not listed: the opt-in does nothing, which is a mistake.
    let e = errors("[ppp]\nallow_weak_chap_md5 = true\n");
    assert_eq!(
        e,
        vec![
            "routerd.toml:2:23: ppp.allow_weak_chap_md5: has no effect: auth_methods does not list \"chap-md5\""
        ]
    );
    let e = errors("[ppp]\nauth_methods = [\"mschap-v2\", \"mschap-v2\"]\n");
    assert_eq!(
        e,
        vec!["routerd.toml:2:30: ppp.auth_methods[1]: \"mschap-v2\" is listed twice"]
    );
    let e = errors("[ppp]\nauth_methods = []\n");
    assert_eq!(
        e,
        vec!["routerd.toml:2:16: ppp.auth_methods: lists no method: list at least \"mschap-v2\""]
    );
}

#[test]
fn mppe_needs_a_method_that_yields_keys() {
    let e = errors(
        "[ppp]\nauth_methods = [\"chap-md5\"]\nallow_weak_chap_md5 = true\nallow_weak_mppe_40 = true\n",
    );
    assert_eq!(e.len(), 2, "{e:?}");
    assert!(e[0].starts_with("routerd.toml:2:16: ppp.auth_methods: MPPE-128 is required but no listed method derives MPPE keys"), "{e:?}");
    // The MPPE opt-in does nothing either way.
    assert!(
        e[1].starts_with("routerd.toml:4:22: ppp.allow_weak_mppe_40: has no effect"),
        "{e:?}"
    );
    // Without encryption it is consistent, but an MPPE opt-in then does nothing.
    let e = errors(
        "[ppp]\nauth_methods = [\"chap-md5\"]\nallow_weak_chap_md5 = true\n\
         allow_insecure_no_encryption = true\nallow_weak_mppe_40 = true\n",
    );
    assert_eq!(e.len(), 1, "{e:?}");
    assert!(
        e[0].starts_with("routerd.toml:5:22: ppp.allow_weak_mppe_40: has no effect"),
        "{e:?}"
    );
    parse(
        "[ppp]\nauth_methods = [\"chap-md5\"]\nallow_weak_chap_md5 = true\n\
         allow_insecure_no_encryption = true\n",
    )
    .unwrap();
}

#[test]
fn link_overrides_are_checked_where_they_are_set() {
    // The link turns on PAP without the opt-in: reported inside [link.ppp].
    let text = full_with(
        "auth_methods = [\"mschap-v2\"]\n\n",
        "auth_methods = [\"mschap-v2\", \"pap\"]\n\n",
    );
    let (line, col) = pos(&text, "\"pap\"");
    assert_eq!(
        errors(&text),
        vec![format!(
            "routerd.toml:{line}:{col}: link[0].ppp.auth_methods[1]: \"pap\" is weak (PAP sends \
             the password in clear text): it needs allow_weak_pap_cleartext = true"
        )]
    );
    // A bad default is reported once, at [ppp], not again for every link that inherits it.
    let text = full_with("mru = 1400\n", "mru = 100\n");
    let (line, col) = pos(&text, "100");
    assert_eq!(
        errors(&text),
        vec![format!(
            "routerd.toml:{line}:{col}: ppp.mru: must be 128 to 16384, not 100"
        )]
    );
    // A link whose override removes the only key-deriving method, inheriting "MPPE required".
    let text = full_with(
        "auth_methods = [\"mschap-v2\"]\n\n",
        "auth_methods = [\"pap\"]\nallow_weak_pap_cleartext = true\n\n",
    );
    let (line, col) = pos(&text, "[\"pap\"]");
    let e = errors(&text);
    assert_eq!(e.len(), 1, "{e:?}");
    assert!(
        e[0].starts_with(&format!(
            "routerd.toml:{line}:{col}: link[0].ppp.auth_methods: MPPE-128 is required"
        )),
        "{e:?}"
    );
}

#[test]
fn links_reference_known_plugins_and_sensible_roles() {
    let text = full_with(
        "plugin = \"pptp\"\nrole = \"answer\"",
        "plugin = \"l2tp\"\nrole = \"answer\"",
    );
    let (line, col) = pos(&text, "\"l2tp\"");
    assert_eq!(
        errors(&text),
        vec![format!(
            "routerd.toml:{line}:{col}: link[1].plugin: unknown plugin \"l2tp\" (known: [\"serial\", \"pptp\"])"
        )]
    );
    // A disabled plugin with an enabled link.
    let text = full_with("enabled = true\n", "enabled = false\n");
    let e = errors(&text);
    assert_eq!(e.len(), 2, "{e:?}");
    assert!(
        e.iter()
            .all(|m| m.contains("plugin \"pptp\" is disabled (plugin[1].enabled = false)")),
        "{e:?}"
    );
    // Answering terminating link without a pool: reported at its [[link]] header.
    let text = full_with("pool = \"isp\"\n", "");
    let e = errors(&text);
    assert_eq!(e.len(), 1, "{e:?}");
    assert!(
        e[0].ends_with(
            "link[1]: an answering link that terminates PPP needs a pool (pool = \"name\")"
        ),
        "{e:?}"
    );
    // A dialing link with a pool; credentials on an answering link.
    let text = full_with(
        "role = \"dial\"\ncredentials",
        "role = \"dial\"\npool = \"isp\"\ncredentials",
    );
    assert!(
        errors(&text)[0].contains("link[2].pool: a dialing link gets its address from the peer")
    );
    let text = full_with(
        "pool = \"isp\"\n",
        "pool = \"isp\"\ncredentials = { user = \"u\", password = \"p\" }\n",
    );
    assert!(
        errors(&text)[0].contains("link[1].credentials: an answering link authenticates its peers")
    );
}

#[test]
fn dialing_links_name_routes_through_their_session() {
    let text = full_with(
        "password = \"s3cret\" }\n",
        "password = \"s3cret\" }\nroutes = [\"192.168.7.0/24\", \"0.0.0.0/0\", \"2001:db8:100::/56\"]\n",
    );
    let cfg = parse(&text).unwrap();
    let routes: Vec<String> = cfg.links[2]
        .routes
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(routes, ["192.168.7.0/24", "0.0.0.0/0", "2001:db8:100::/56"]);
    // Serialized back the way they were written.
    let again: Config = toml::from_str(&toml::to_string(&cfg).unwrap()).unwrap();
    assert_eq!(again, cfg);

    // Malformed prefixes are reported at the value, with the fix for host bits.
    let text = full_with(
        "password = \"s3cret\" }\n",
        "password = \"s3cret\" }\nroutes = [\"192.168.7.0/24\", \"192.168.7.1/24\"]\n",
    );
    let (line, col) = pos(&text, "\"192.168.7.1/24\"");
    let e = errors(&text);
    assert_eq!(e.len(), 1, "{e:?}");
    assert!(
        e[0].starts_with(&format!("routerd.toml:{line}:{col}: link[2].routes[1]:")),
        "{e:?}"
    );
    assert!(e[0].contains("did you mean 192.168.7.0/24?"), "{e:?}");
    for bad in ["\"10.0.0.0/33\"", "\"eth0\"", "\"::/129\"", "24"] {
        let text = full_with(
            "password = \"s3cret\" }\n",
            &format!("password = \"s3cret\" }}\nroutes = [{bad}]\n"),
        );
        let e = errors(&text);
        assert!(e[0].contains("link[2].routes[0]"), "{bad}: {e:?}");
    }

    // Duplicates.
    let text = full_with(
        "password = \"s3cret\" }\n",
        "password = \"s3cret\" }\nroutes = [\"10.1.0.0/16\", \"10.2.0.0/16\", \"10.1.0.0/16\"]\n",
    );
    let e = errors(&text);
    assert_eq!(e.len(), 1, "{e:?}");
    assert!(
        e[0].ends_with("link[2].routes[2]: duplicate route 10.1.0.0/16 (also routes[0])"),
        "{e:?}"
    );

    // Routes belong on dialing terminating links only.
    let text = full_with(
        "pool = \"isp\"\n",
        "pool = \"isp\"\nroutes = [\"10.9.0.0/16\"]\n",
    );
    let e = errors(&text);
    assert_eq!(e.len(), 1, "{e:?}");
    assert!(
        e[0].contains("link[1].routes: routes are for dialing links"),
        "{e:?}"
    );
    let text = full_with(
        "mode = \"relay\"\n\n",
        "mode = \"relay\"\nroutes = [\"10.9.0.0/16\"]\n\n",
    );
    let e = errors(&text);
    assert_eq!(e.len(), 1, "{e:?}");
    assert!(
        e[0].contains("link[4].routes: a relay link carries no IP: remove routes"),
        "{e:?}"
    );
}

#[test]
fn default_config_examples_are_valid_once_uncommented() {
    let (head, examples) = DEFAULT_CONFIG
        .split_once("# --- Examples")
        .expect("the default configuration has an examples section");
    let examples = examples.split_once('\n').map_or("", |(_, rest)| rest);
    let uncommented: Vec<&str> = examples
        .lines()
        .map(|l| {
            l.strip_prefix("# ")
                .or_else(|| l.strip_prefix('#'))
                .unwrap_or(l)
        })
        .collect();
    let text = format!("{head}\n{}\n", uncommented.join("\n"));
    let cfg = parse(&text).unwrap_or_else(|e| panic!("{e:#?}\n{text}"));
    let dial = cfg.links.iter().find(|l| l.role == LinkRole::Dial).unwrap();
    assert!(!dial.routes.is_empty(), "the dial example shows routes");
}

#[test]
fn relay_links_are_checked() {
    let text = full_with("relay_to = \"to-pns\"", "relay_to = \"nowhere\"");
    let (line, col) = pos(&text, "\"nowhere\"");
    assert_eq!(
        errors(&text),
        vec![format!(
            "routerd.toml:{line}:{col}: link[3].relay_to: unknown link \"nowhere\""
        )]
    );
    let text = full_with("relay_to = \"to-pns\"", "relay_to = \"front\"");
    assert!(errors(&text)[0].ends_with("link[3].relay_to: a link cannot relay to itself"));
    let text = full_with("relay_to = \"to-pns\"", "relay_to = \"uplink\"");
    assert!(
        errors(&text)[0].contains("link[3].relay_to: link \"uplink\" must be a dialing relay link")
    );
    let text = full_with(
        "mode = \"relay\"\nrelay_to = \"to-pns\"\n",
        "mode = \"relay\"\n",
    );
    assert!(
        errors(&text)[0].ends_with(
            "link[3]: an answering relay link needs relay_to = \"<dialing relay link>\""
        )
    );
    let text = full_with(
        "relay_to = \"to-pns\"\n",
        "relay_to = \"to-pns\"\npool = \"isp\"\n[link.ppp]\nmru = 1400\n",
    );
    let e = errors(&text);
    assert_eq!(e.len(), 2, "{e:?}");
    assert!(
        e[0].contains("link[3].pool: a relay link carries no IP"),
        "{e:?}"
    );
    assert!(
        e[1].contains("link[3].ppp: a relay link does not run PPP here"),
        "{e:?}"
    );
    // relay_to on a terminating link.
    let text = full_with(
        "pool = \"isp\"\n",
        "pool = \"isp\"\nrelay_to = \"to-pns\"\n",
    );
    assert!(errors(&text)[0].ends_with("link[1].relay_to: relay_to needs mode = \"relay\""));
}

#[test]
fn ranges_of_scalar_settings() {
    let cases = [
        (
            "[system]\nstate_dir = \"var/lib\"\n",
            "routerd.toml:2:13: system.state_dir: must be an absolute path, not \"var/lib\"",
        ),
        (
            "[system]\nhostname = \"bad_name\"\n",
            "routerd.toml:2:12: system.hostname: host names are dot-separated labels of letters, digits and '-' (RFC 1123): \"bad_name\"",
        ),
        (
            "[system]\nconfig_history = 0\n",
            "routerd.toml:2:18: system.config_history: must be 1 to 1000, not 0",
        ),
        (
            "[management]\nmetrics_listen = \"127.0.0.1:0\"\n",
            "routerd.toml:2:18: management.metrics_listen: needs a port (not 0)",
        ),
        (
            "[ppp]\necho_failures = 0\n",
            "routerd.toml:2:17: ppp.echo_failures: must be 1 to 100, not 0",
        ),
        (
            "[ppp]\nidle_timeout_secs = 40000000\n",
            "routerd.toml:2:21: ppp.idle_timeout_secs: must be 0 (never) to 31536000 (a year), not 40000000",
        ),
        (
            "[tun]\nname = \"a-very-long-ifname\"\n",
            "routerd.toml:2:8: tun.name: interface names are 1 to 15 characters: \"a-very-long-ifname\"",
        ),
        (
            "[tun]\nmtu = 100\n",
            "routerd.toml:2:7: tun.mtu: must be 576 to 65535, not 100",
        ),
        (
            "[lan]\ninterface = \"eth0\"\nipv6_prefix = \"2001:db8::/48\"\n[tun]\nmtu = 1000\n",
            "routerd.toml:5:7: tun.mtu: IPv6 needs an MTU of at least 1280 (RFC 8200 §5), not 1000",
        ),
        (
            "[lan]\ninterface = \"eth0\"\nipv6_prefix = \"2001:db8::/96\"\n",
            "routerd.toml:3:15: lan.ipv6_prefix: 2001:db8::/96: the length must be 16 to 64 (one /64 is delegated per session)",
        ),
        (
            "[lan]\ninterface = \"eth0\"\nipv6_prefix = \"fe80::/64\"\n",
            "routerd.toml:3:15: lan.ipv6_prefix: fe80::/64: fe80::/10 is link-local",
        ),
        (
            "[limits]\nmax_sessions = 10\nper_user_sessions = 11\n",
            "routerd.toml:3:21: limits.per_user_sessions: must be 1 to max_sessions (10), not 11; leave it out for no limit",
        ),
        (
            "[limits]\nauth_failures_per_source = 1001\n",
            "routerd.toml:2:28: limits.auth_failures_per_source: must be 0 (no lockout) to 1000, not 1001",
        ),
        (
            "[limits]\nauth_lockout_secs = 0\n",
            "routerd.toml:2:21: limits.auth_lockout_secs: must be 1 to 86400 (a day), not 0",
        ),
        (
            "[limits]\nauth_failure_window_secs = 90000\n",
            "routerd.toml:2:28: limits.auth_failure_window_secs: must be 1 to 86400 (a day), not 90000",
        ),
        (
            "[accounting]\nkeep = 0\n",
            "routerd.toml:2:8: accounting.keep: must be 1 to 1000, not 0",
        ),
        (
            "[accounting]\npath = \"../../etc/passwd\"\n",
            "routerd.toml:2:8: accounting.path: \"../../etc/passwd\": give a file name inside system.state_dir (no \"..\") or an absolute path",
        ),
        (
            "[accounting]\nrotate_size_bytes = 10\n",
            "routerd.toml:2:21: accounting.rotate_size_bytes: must be 4096 to 2^40, not 10",
        ),
        (
            "[[plugin]]\nname = \"x\"\nfile = \"../x.so\"\n",
            "routerd.toml:3:8: plugin[0].file: \"../x.so\": give a file name inside system.plugin_dir (no \"..\") or an absolute path",
        ),
        (
            "[[plugin]]\nname = \"x y\"\nfile = \"x.so\"\n",
            "routerd.toml:2:8: plugin[0].name: names use only letters, digits, '_', '.' and '-': \"x y\"",
        ),
    ];
    for (text, expected) in cases {
        assert_eq!(errors(text), vec![expected.to_owned()], "{text}");
    }
}

#[test]
fn errors_without_a_file_position_still_name_the_field() {
    let mut cfg = Config::default();
    cfg.ppp.mru = 10;
    let issues = dialgate_routerd::config::validate(&cfg);
    assert_eq!(issues.len(), 1);
    assert_eq!(issues[0].path.to_string(), "ppp.mru");
}

fn diff(old: &str, new: &str) -> ConfigDiff {
    ConfigDiff::between(&parse(old).unwrap(), &parse(new).unwrap())
}

#[test]
fn diff_of_identical_configs_is_empty() {
    assert!(diff(FULL, FULL).is_empty());
    // Comments and layout are not changes.
    let reformatted = toml::to_string(&parse(FULL).unwrap()).unwrap();
    assert!(diff(FULL, &reformatted).is_empty());
}

#[test]
fn diff_names_what_changed_and_which_links_it_touches() {
    // A pool edit touches the links terminating into it, nothing else.
    let d = diff(
        FULL,
        &full_with("\"10.20.0.1-10.20.3.254\"", "\"10.20.0.1-10.20.7.254\""),
    );
    assert_eq!(d.pools.changed, vec!["isp"]);
    assert!(d.links.is_empty());
    assert_eq!(d.links_affected.iter().collect::<Vec<_>>(), vec!["vpn"]);
    assert!(!d.ppp && !d.system && !d.lan);
    // A plugin's settings touch every link it serves.
    let d = diff(
        FULL,
        &full_with("lock_dir = \"/run/lock\"", "lock_dir = \"/var/lock\""),
    );
    assert_eq!(d.plugins.changed, vec!["serial"]);
    assert_eq!(
        d.links_affected.iter().collect::<Vec<_>>(),
        vec!["front", "modem0", "uplink"]
    );
    // A [ppp] default touches the terminating links that inherit it: modem0 overrides
    // idle_timeout_secs, so changing that default leaves it alone.
    let d = diff(
        FULL,
        &full_with("mru = 1400\n", "mru = 1400\nidle_timeout_secs = 600\n"),
    );
    assert!(d.ppp);
    assert_eq!(
        d.links_affected.iter().collect::<Vec<_>>(),
        vec!["uplink", "vpn"]
    );
    // The mru default reaches every terminating link, never relay links.
    let d = diff(FULL, &full_with("mru = 1400", "mru = 1300"));
    assert_eq!(
        d.links_affected.iter().collect::<Vec<_>>(),
        vec!["modem0", "uplink", "vpn"]
    );
    // Links added, removed and edited.
    let d = diff(FULL, &full_with("name = \"vpn\"", "name = \"vpn2\""));
    assert_eq!(d.links.added, vec!["vpn2"]);
    assert_eq!(d.links.removed, vec!["vpn"]);
    assert!(d.links_affected.is_empty());
    let d = diff(FULL, &full_with("speed = 115200", "speed = 57600"));
    assert_eq!(d.links.changed, vec!["modem0"]);
    assert_eq!(d.links_affected.iter().collect::<Vec<_>>(), vec!["modem0"]);
    // Whole-process sections.
    let d = diff(FULL, &full_with("max_sessions = 500", "max_sessions = 600"));
    assert!(d.limits && d.links_affected.is_empty() && !d.accounting);
    let d = diff(FULL, &full_with("mtu = 1400", "mtu = 1450"));
    assert!(d.tun && !d.lan);
}
