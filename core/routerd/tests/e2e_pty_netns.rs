//! End to end, as root, in network namespaces this test creates (and deletes): two routerd
//! processes joined by a pty cable, one serving with a pool from its LAN's subnet, one
//! dialling with MS-CHAPv2 and MPPE-128; the client pings a host on the server's LAN (a
//! third namespace behind a veth pair) from its PPP address and gets the replies back,
//! through the server's TUN, kernel forwarding and proxy ARP; the byte counters both daemons
//! report through routerctl agree.
//!
//! The client reaches the LAN through the routes its link names (`routes = [...]`),
//! installed by routerd B once IPCP is up and removed when the session ends. Over IPv6, B
//! takes the server's Router Advertisement, forms its address from the delegated /64 and its
//! IPV6CP interface identifier, and pings the LAN host's IPv6 address through the session.
//!
//! ```text
//!  netns cli                     netns srv                              netns lan
//!  routerd B (dial) --pty cable-- routerd A (answer, pool 10.77.0.10-20, /64s of 2001:db8:77::/48)
//!  dialgate0 10.77.0.1x/32        dialgate0, forwarding, proxy ARP on vS -- vL 10.77.0.2/24
//!            2001:db8:77:N::iid   vS 10.77.0.1/24, 2001:db8:ff::1/64         2001:db8:ff::2/64
//!  routes 10.77.0.0/24, 2001:db8:ff::/64 via dialgate0
//! ```

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::net::{Ipv4Addr, Ipv6Addr};
use std::process::Command;
use std::time::Duration;

use dialgate_routerd::api::Encryption;
use dialgate_routerd::users::UserStore;
use support::netns::{
    Lab, assert_counters_agree, ip, ip_out, ping_in, ping6_in, session_up, sessions, wait_until,
};
use support::{PtyCable, TempDir, cargo_build, library, routerctl};

const LAN_HOST: Ipv4Addr = Ipv4Addr::new(10, 77, 0, 2);
const LAN_ROUTER: Ipv4Addr = Ipv4Addr::new(10, 77, 0, 1);
const LAN_HOST_V6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0xff, 0, 0, 0, 0, 2);

#[test]
fn client_pings_the_servers_lan_through_two_routerds_over_a_pty() {
    if !dialgate_test_support::require_root("network namespaces and the TUN device") {
        return;
    }
    cargo_build(&["dialgate-plugin-serial"], &[]);
    let serial = library("dialgate_plugin_serial");
    let dir = TempDir::new("netns");
    let mut lab = Lab::new("e2e", &["srv", "cli", "lan"]);
    let (srv_ns, lan_ns) = (lab.ns("srv").to_owned(), lab.ns("lan").to_owned());

    // The LAN: a veth pair between srv and lan.
    let tag = std::process::id() % 100_000;
    let (v_srv, v_lan) = (format!("dgs{tag}"), format!("dgl{tag}"));
    lab.veth(
        ("srv", &v_srv, "10.77.0.1/24"),
        ("lan", &v_lan, "10.77.0.2/24"),
    );
    // The LAN's IPv6 subnet; the LAN routes the sessions' /48 back through the server.
    ip(&[
        "-n",
        &srv_ns,
        "addr",
        "add",
        "2001:db8:ff::1/64",
        "dev",
        &v_srv,
        "nodad",
    ]);
    ip(&[
        "-n",
        &lan_ns,
        "addr",
        "add",
        "2001:db8:ff::2/64",
        "dev",
        &v_lan,
        "nodad",
    ]);
    ip(&[
        "-n",
        &lan_ns,
        "-6",
        "route",
        "add",
        "2001:db8:77::/48",
        "via",
        "2001:db8:ff::1",
    ]);

    let cable = PtyCable::new();
    let a_dir = dir.path().join("a");
    let b_dir = dir.path().join("b");
    std::fs::create_dir_all(&a_dir).unwrap();
    std::fs::create_dir_all(&b_dir).unwrap();
    let a_socket = a_dir.join("routerd.sock");
    let b_socket = b_dir.join("routerd.sock");
    let a_config = format!(
        r#"
[system]
hostname = "srv"
state_dir = "{state}"
plugin_dir = "{state}"

[management]
socket = "{socket}"

[lan]
interface = "{v_srv}"
proxy_arp = true
ipv6_prefix = "2001:db8:77::/48"

[[pool]]
name = "lan"
ranges = ["10.77.0.10-10.77.0.20"]
local_address = "10.77.0.1"

[[plugin]]
name = "serial"
file = "{serial}"

[[link]]
name = "modem"
plugin = "serial"
role = "answer"
pool = "lan"
[[link.config.ports]]
name = "modem"
device = "{a}"
"#,
        state = a_dir.display(),
        socket = a_socket.display(),
        serial = serial.display(),
        a = cable.a().display(),
    );
    let b_config = format!(
        r#"
[system]
hostname = "cli"
state_dir = "{state}"
plugin_dir = "{state}"

[management]
socket = "{socket}"

[[plugin]]
name = "serial"
file = "{serial}"

[[link]]
name = "uplink"
plugin = "serial"
role = "dial"
credentials = {{ user = "alice", password = "correct horse battery" }}
routes = ["10.77.0.0/24", "2001:db8:ff::/64"]
[[link.config.ports]]
name = "uplink"
device = "{b}"
role = "dial"
"#,
        state = b_dir.display(),
        socket = b_socket.display(),
        serial = serial.display(),
        b = cable.b().display(),
    );
    std::fs::write(a_dir.join("routerd.toml"), a_config).unwrap();
    std::fs::write(b_dir.join("routerd.toml"), &b_config).unwrap();
    let mut users = UserStore::open(&a_dir.join("users.toml")).unwrap();
    users
        .set_password("alice", "correct horse battery")
        .unwrap();
    drop(users);

    lab.start_routerd("srv", &a_dir.join("routerd.toml"), &a_dir.join("log"));
    lab.start_routerd("cli", &b_dir.join("routerd.toml"), &b_dir.join("log"));
    let logs = || {
        format!(
            "--- routerd A:\n{}\n--- routerd B:\n{}",
            std::fs::read_to_string(a_dir.join("log")).unwrap_or_default(),
            std::fs::read_to_string(b_dir.join("log")).unwrap_or_default()
        )
    };

    // Both sessions up: MS-CHAPv2 authenticated, MPPE-128, an address from the LAN pool.
    let (a, b) = wait_until(Duration::from_secs(40), || {
        Some((session_up(&a_socket)?, session_up(&b_socket)?))
    })
    .unwrap_or_else(|| panic!("sessions up on both routerds\n{}", logs()));
    assert_eq!(a.user.as_deref(), Some("alice"));
    let client_addr = b.ipv4.unwrap();
    assert_eq!(a.ipv4, Some(client_addr));
    assert!((Ipv4Addr::new(10, 77, 0, 10)..=Ipv4Addr::new(10, 77, 0, 20)).contains(&client_addr));
    for s in [&a, &b] {
        assert_eq!(
            s.encryption,
            Encryption::Mppe {
                bits: 128,
                stateless: true
            }
        );
    }

    // IPV6CP: the server delegated a /64 of its prefix to the session and routes it to its
    // TUN; its Router Advertisements went over the session (counted below).
    let prefix = a.ipv6_prefix.expect("a /64 delegated");
    assert_eq!(prefix.segments()[..3], [0x2001, 0xdb8, 0x77]);
    let out = Command::new("ip")
        .args(["-n", &srv_ns, "-6", "route", "show", "dev", "dialgate0"])
        .output()
        .unwrap();
    let routes = String::from_utf8_lossy(&out.stdout);
    assert!(routes.contains(&format!("{prefix}/64")), "{routes}");

    // The client reaches the LAN through the routes its link names, from its PPP address.
    let cli_ns = lab.ns("cli").to_owned();
    let client = client_addr.to_string();
    let route_v4 = ip_out(&["-n", &cli_ns, "route", "show", "10.77.0.0/24"]);
    assert!(
        route_v4.contains("dev dialgate0") && route_v4.contains(&format!("src {client}")),
        "the link's IPv4 route through the session: {route_v4:?}\n{}",
        logs()
    );
    // The server's own address answers first (routed over the session by routerd B).
    let pings = 5;
    assert_eq!(
        ping_in(&cli_ns, client_addr, LAN_ROUTER, pings),
        pings,
        "echo replies from the server's LAN address\n{}",
        logs()
    );
    // Then the LAN host: forwarded by srv's kernel, its ARP for the client answered by proxy.
    assert_eq!(
        ping_in(&cli_ns, client_addr, LAN_HOST, pings),
        pings,
        "echo replies from the LAN host\n{}",
        logs()
    );

    // IPv6: B took the server's Router Advertisement and formed its address from the
    // delegated /64 and its interface identifier; the address is on B's TUN, the link's IPv6
    // route goes through it.
    let b_prefix = wait_until(Duration::from_secs(20), || {
        session_up(&b_socket)?.ipv6_prefix
    })
    .unwrap_or_else(|| panic!("B formed an IPv6 address from the RA\n{}", logs()));
    assert_eq!(b_prefix, prefix, "B's /64 is the one A delegated");
    let addrs = ip_out(&[
        "-n",
        &cli_ns,
        "-6",
        "addr",
        "show",
        "dev",
        "dialgate0",
        "scope",
        "global",
    ]);
    let client_v6: Ipv6Addr = addrs
        .split_whitespace()
        .skip_while(|w| *w != "inet6")
        .nth(1)
        .and_then(|a| a.split('/').next())
        .and_then(|a| a.parse().ok())
        .unwrap_or_else(|| panic!("a global IPv6 address on B's TUN: {addrs:?}"));
    assert_eq!(
        client_v6.segments()[..4],
        prefix.segments()[..4],
        "{client_v6} inside {prefix}/64"
    );
    assert!(
        client_v6.segments()[4..].iter().any(|s| *s != 0),
        "{client_v6} carries the interface identifier"
    );
    let route_v6 = ip_out(&["-n", &cli_ns, "-6", "route", "show", "2001:db8:ff::/64"]);
    assert!(
        route_v6.contains("dev dialgate0") && route_v6.contains(&format!("src {client_v6}")),
        "the link's IPv6 route through the session: {route_v6:?}"
    );
    assert_eq!(
        ping6_in(&cli_ns, client_v6, LAN_HOST_V6, pings),
        pings,
        "ICMPv6 echo replies from the LAN host\n{}",
        logs()
    );

    // The counters agree: IP octets and packets one side sent, the other received.
    let (ta, tb) = assert_counters_agree(&a_socket, &b_socket, u64::from(3 * pings));
    // A received 2 x 5 IPv4 echo requests of 84 octets (20 IP + 8 ICMP + 56 data), 5 IPv6
    // ones of 104 (40 + 8 + 56), and B's Router Solicitations of 48 octets (40 + 8: at most
    // three, RFC 4861 §6.3.7; none when A's first RA came first); it sent the replies and
    // at least one RA.
    let solicitations = ta
        .bytes_in
        .checked_sub(10 * 84 + 5 * 104)
        .map(|rest| (rest / 48, rest % 48));
    assert!(
        matches!(solicitations, Some((0..=3, 0))),
        "A's IP octets in: {ta:?} {tb:?}"
    );
    assert_eq!(
        ta.packets_in,
        15 + solicitations.map_or(0, |(n, _)| n),
        "{ta:?}"
    );
    assert!(ta.packets_out > 15, "{ta:?}");

    // Ending the session (here: the dial link disabled by a configuration change, so it does
    // not redial) removes B's routes and addresses; the TUN stays.
    let off = b_config.replace(
        "role = \"dial\"\ncredentials",
        "role = \"dial\"\nenabled = false\ncredentials",
    );
    assert_ne!(off, b_config);
    std::fs::write(b_dir.join("off.toml"), off).unwrap();
    let off_path = b_dir.join("off.toml");
    let (code, out) = routerctl(
        &b_socket,
        &["config", "apply", off_path.to_str().unwrap()],
        "",
    );
    assert_eq!(code, 0, "routerctl config apply: {out}");
    let gone = wait_until(Duration::from_secs(10), || {
        let v4 = ip_out(&["-n", &cli_ns, "route", "show", "dev", "dialgate0"]);
        let v6 = ip_out(&["-n", &cli_ns, "-6", "route", "show", "dev", "dialgate0"]);
        let addrs = ip_out(&[
            "-n",
            &cli_ns,
            "addr",
            "show",
            "dev",
            "dialgate0",
            "scope",
            "global",
        ]);
        (sessions(&b_socket).is_empty()
            && !v4.contains("10.77.0.")
            && !v6.contains("2001:db8:")
            && !addrs.contains("inet"))
        .then_some(())
    });
    assert!(
        gone.is_some(),
        "B's routes and addresses removed: routes {:?} {:?}, addresses {:?}\n{}",
        ip_out(&["-n", &cli_ns, "route", "show", "dev", "dialgate0"]),
        ip_out(&["-n", &cli_ns, "-6", "route", "show", "dev", "dialgate0"]),
        ip_out(&["-n", &cli_ns, "addr", "show", "dev", "dialgate0"]),
        logs()
    );

    // Clean shutdown of both daemons.
    for mut p in lab.processes.drain(..) {
        let status = p.terminate(Duration::from_secs(15)).expect("routerd exits");
        assert!(status.success(), "{status}\n{}", logs());
    }
}
