//! End to end, as root, in network namespaces this test creates (and deletes): two routerd
//! processes joined by a pty cable, one serving with a pool from its LAN's subnet, one
//! dialling with MS-CHAPv2 and MPPE-128; the client pings a host on the server's LAN (a
//! third namespace behind a veth pair) from its PPP address and gets the replies back,
//! through the server's TUN, kernel forwarding and proxy ARP; the byte counters both daemons
//! report through routerctl agree.
//!
//! ```text
//!  netns cli                     netns srv                              netns lan
//!  routerd B (dial) --pty cable-- routerd A (answer, pool 10.77.0.10-20)
//!  dialgate0 10.77.0.1x/32        dialgate0, forwarding, proxy ARP on vS -- vL 10.77.0.2/24
//!                                 vS 10.77.0.1/24
//! ```

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::net::Ipv4Addr;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use dialgate_routerd::api::{Encryption, SessionState};
use dialgate_routerd::users::UserStore;
use support::netns::{Lab, ip, is_root, ping_in, sessions, wait_until};
use support::{PtyCable, TempDir, cargo_build, library};

const LAN_HOST: Ipv4Addr = Ipv4Addr::new(10, 77, 0, 2);
const LAN_ROUTER: Ipv4Addr = Ipv4Addr::new(10, 77, 0, 1);

#[test]
fn client_pings_the_servers_lan_through_two_routerds_over_a_pty() {
    if !is_root() {
        eprintln!("skipped: needs root (network namespaces, TUN)");
        return;
    }
    cargo_build(&["dialgate-plugin-serial"], &[]);
    let serial = library("dialgate_plugin_serial");
    let dir = TempDir::new("netns");
    let mut lab = Lab::new("e2e", &["srv", "cli", "lan"]);
    let srv_ns = lab.ns("srv").to_owned();

    // The LAN: a veth pair between srv and lan.
    let tag = std::process::id() % 100_000;
    let (v_srv, v_lan) = (format!("dgs{tag}"), format!("dgl{tag}"));
    lab.veth(
        ("srv", &v_srv, "10.77.0.1/24"),
        ("lan", &v_lan, "10.77.0.2/24"),
    );

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
    std::fs::write(b_dir.join("routerd.toml"), b_config).unwrap();
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
    let up = |socket: &Path| {
        let s = sessions(socket);
        s.into_iter()
            .find(|x| x.state == SessionState::Up && x.ipv4.is_some())
    };
    let (a, b) = wait_until(Duration::from_secs(40), || {
        Some((up(&a_socket)?, up(&b_socket)?))
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

    // The client reaches the LAN through its session (a dial link routes only the server's
    // own address by itself; the LAN route is the operator's).
    let cli_ns = lab.ns("cli").to_owned();
    let client = client_addr.to_string();
    ip(&[
        "-n",
        &cli_ns,
        "route",
        "add",
        "10.77.0.0/24",
        "dev",
        "dialgate0",
        "src",
        &client,
    ]);
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

    // The counters agree: IP octets and packets one side sent, the other received.
    let agree = wait_until(Duration::from_secs(5), || {
        let a = up(&a_socket)?.traffic;
        let b = up(&b_socket)?.traffic;
        (a.bytes_in == b.bytes_out
            && a.bytes_out == b.bytes_in
            && a.packets_in == b.packets_out
            && a.packets_out == b.packets_in
            && a.packets_in >= u64::from(2 * pings))
        .then_some((a, b))
    });
    let (ta, tb) = agree.unwrap_or_else(|| {
        panic!(
            "counters agree: A {:?} B {:?}",
            up(&a_socket).map(|s| s.traffic),
            up(&b_socket).map(|s| s.traffic)
        )
    });
    // 2 x 5 echo requests of 84 octets each (20 IP + 8 ICMP + 56 data); the replies, and
    // at least one Router Advertisement the other way.
    assert_eq!(ta.bytes_in, 10 * 84, "{ta:?} {tb:?}");
    assert!(ta.packets_out > 10, "{ta:?}");

    // Clean shutdown of both daemons.
    for mut p in lab.processes.drain(..) {
        let status = p.terminate(Duration::from_secs(15)).expect("routerd exits");
        assert!(status.success(), "{status}\n{}", logs());
    }
}
