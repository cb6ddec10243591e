//! End to end over PPTP, as root, in network namespaces this test creates (and deletes): a
//! routerd PPTP server and a routerd PPTP client joined by a veth pair (the "Internet"), the
//! server's LAN behind a third namespace. The client dials with MS-CHAPv2 and MPPE-128 (the
//! defaults), pings the server and a LAN host, the byte counters of both daemons agree, then
//! the client hangs up: Call-Clear-Request, Call-Disconnect-Notify, Stop-Control-Connection,
//! reported with their reasons on both sides.
//!
//! The traffic is captured in the server's namespace and must dissect cleanly in tshark (no
//! malformed packet, no error-level expert item), and tshark must see every control message
//! of the session and GRE with the Call IDs the control connection agreed.
//!
//! ```text
//!  netns cli                      netns srv                              netns lan
//!  routerd B (pptp dial) --veth-- routerd A (pptp answer, pool 10.78.0.10-20)
//!  vC 192.0.2.2/24                vI 192.0.2.1/24
//!  dialgate0 10.78.0.1x/32        dialgate0, forwarding, proxy ARP on vS -- vL 10.78.0.2/24
//!                                 vS 10.78.0.1/24
//! ```

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::collections::BTreeSet;
use std::net::Ipv4Addr;
use std::path::Path;

use std::time::Duration;

use dialgate_routerd::api::{Encryption, SessionState};
use dialgate_routerd::users::UserStore;
use support::netns::{
    Lab, PptpServer, assert_clean_dissection, assert_counters_agree, gre_keys, in_netns, ip,
    ping_in, plugin_counters, pptp_control_rows, raw_send, raw_socket, session_up, sessions,
    start_capture, tcp_from, wait_until,
};
use support::{TempDir, cargo_build, library, routerctl};

const LAN_HOST: Ipv4Addr = Ipv4Addr::new(10, 78, 0, 2);
const LAN_ROUTER: Ipv4Addr = Ipv4Addr::new(10, 78, 0, 1);
const SERVER: &str = "192.0.2.1";
const SERVER_IP: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
const CLIENT_IP: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 2);
/// A second address in the client's namespace that sends the hostile control messages and
/// GRE (left out of the capture: tshark rightly calls those malformed).
const ATTACKER: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 3);
/// The PPTP Magic Cookie (RFC 2637 §2).
const COOKIE: u32 = 0x1A2B_3C4D;

/// A PPTP control message (RFC 2637 §2): the header with `cookie`, then `body`.
fn control(kind: u16, cookie: u32, body: &[u8]) -> Vec<u8> {
    let mut m = Vec::new();
    m.extend_from_slice(&((12 + body.len()) as u16).to_be_bytes());
    m.extend_from_slice(&1u16.to_be_bytes()); // Control Message
    m.extend_from_slice(&cookie.to_be_bytes());
    m.extend_from_slice(&kind.to_be_bytes());
    m.extend_from_slice(&[0, 0]);
    m.extend_from_slice(body);
    m
}

/// Start-Control-Connection-Request (RFC 2637 §2.1), 156 octets.
fn sccrq(cookie: u32) -> Vec<u8> {
    let mut body = vec![0u8; 144];
    body[0..2].copy_from_slice(&0x0100u16.to_be_bytes()); // Protocol Version 1.0
    body[4..8].copy_from_slice(&1u32.to_be_bytes()); // async framing
    body[8..12].copy_from_slice(&1u32.to_be_bytes()); // analog bearer
    body[16..24].copy_from_slice(b"attacker");
    control(1, cookie, &body)
}

/// Outgoing-Call-Request (RFC 2637 §2.7), 168 octets.
fn ocrq(call_id: u16) -> Vec<u8> {
    let mut body = vec![0u8; 156];
    body[0..2].copy_from_slice(&call_id.to_be_bytes());
    body[4..8].copy_from_slice(&2400u32.to_be_bytes());
    body[8..12].copy_from_slice(&10_000_000u32.to_be_bytes());
    body[12..16].copy_from_slice(&3u32.to_be_bytes());
    body[16..20].copy_from_slice(&3u32.to_be_bytes());
    body[20..22].copy_from_slice(&64u16.to_be_bytes());
    control(7, COOKIE, &body)
}

/// An enhanced GRE packet (RFC 2637 §4.1) with this first word, Key Call ID, sequence
/// and acknowledgment numbers, payload.
fn gre(word: u16, call: u16, seq: Option<u32>, ack: Option<u32>, payload: &[u8]) -> Vec<u8> {
    let mut p = Vec::new();
    p.extend_from_slice(&word.to_be_bytes());
    p.extend_from_slice(&0x880Bu16.to_be_bytes());
    p.extend_from_slice(&(payload.len() as u16).to_be_bytes());
    p.extend_from_slice(&call.to_be_bytes());
    for n in [seq, ack].into_iter().flatten() {
        p.extend_from_slice(&n.to_be_bytes());
    }
    p.extend_from_slice(payload);
    p
}

/// Reads from `stream` until the peer closes it (Ok) or `timeout` passes (Err), returning
/// what arrived.
fn read_to_close(stream: &mut std::net::TcpStream, timeout: Duration) -> Result<Vec<u8>, Vec<u8>> {
    use std::io::Read;
    stream.set_read_timeout(Some(timeout)).unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 1024];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return Ok(got),
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return Ok(got),
            Err(_) => return Err(got),
        }
    }
}

/// Reads exactly `n` octets (a reply) within `timeout`.
fn read_n(stream: &mut std::net::TcpStream, n: usize, timeout: Duration) -> Vec<u8> {
    use std::io::Read;
    stream.set_read_timeout(Some(timeout)).unwrap();
    let mut got = vec![0u8; n];
    stream.read_exact(&mut got).expect("a reply");
    got
}

fn client_config(dir: &Path, socket: &Path, plugin: &Path) -> String {
    format!(
        r#"
[system]
hostname = "cli"
state_dir = "{state}"
plugin_dir = "{state}"

[management]
socket = "{socket}"

[[plugin]]
name = "pptp"
file = "{plugin}"

[[link]]
name = "pptp-out"
plugin = "pptp"
role = "dial"
credentials = {{ user = "alice", password = "correct horse battery" }}
[link.config]
target = "{SERVER}"
"#,
        state = dir.display(),
        socket = socket.display(),
        plugin = plugin.display(),
    )
}

#[test]
fn pptp_client_pings_the_servers_lan_and_hangs_up_cleanly() {
    if !dialgate_test_support::require_root("network namespaces, TUN and raw GRE sockets") {
        return;
    }
    cargo_build(&["dialgate-plugin-pptp"], &[]);
    let pptp = library("dialgate_plugin_pptp");
    let dir = TempDir::new("pptp-netns");
    let mut lab = Lab::new("pp", &["srv", "cli", "lan"]);
    let tag = std::process::id() % 100_000;
    let (v_inet_s, v_inet_c) = (format!("dpi{tag}"), format!("dpc{tag}"));
    let (v_lan_s, v_lan_l) = (format!("dps{tag}"), format!("dpl{tag}"));
    lab.veth(
        ("srv", &v_inet_s, &format!("{SERVER}/24")),
        ("cli", &v_inet_c, "192.0.2.2/24"),
    );
    lab.veth(
        ("srv", &v_lan_s, "10.78.0.1/24"),
        ("lan", &v_lan_l, "10.78.0.2/24"),
    );

    // Capture the PPTP traffic on the server's Internet side.
    let pcap = dir.path().join("pptp.pcapng");
    let mut capture = start_capture(
        &lab,
        "srv",
        &v_inet_s,
        &format!("(tcp port 1723 or ip proto 47) and not host {ATTACKER}"),
        &pcap,
    );

    let a_dir = dir.path().join("a");
    let b_dir = dir.path().join("b");
    std::fs::create_dir_all(&a_dir).unwrap();
    std::fs::create_dir_all(&b_dir).unwrap();
    let a_socket = a_dir.join("routerd.sock");
    let b_socket = b_dir.join("routerd.sock");
    std::fs::write(
        a_dir.join("routerd.toml"),
        PptpServer {
            hostname: "srv",
            dir: &a_dir,
            plugin: &pptp,
            lan_if: &v_lan_s,
            lan_net: "10.78.0",
            link: "pptp-in",
            listen: &format!("{SERVER}:1723"),
            link_config: "echo_interval_secs = 60",
        }
        .config(),
    )
    .unwrap();
    std::fs::write(
        b_dir.join("routerd.toml"),
        client_config(&b_dir, &b_socket, &pptp),
    )
    .unwrap();
    let mut users = UserStore::open(&a_dir.join("users.toml")).unwrap();
    users
        .set_password("alice", "correct horse battery")
        .unwrap();
    drop(users);

    lab.start_routerd("srv", &a_dir.join("routerd.toml"), &a_dir.join("log"));
    // The server listens before the client dials (the client would redial anyway).
    let listening = wait_until(Duration::from_secs(20), || {
        std::fs::read_to_string(a_dir.join("log"))
            .unwrap_or_default()
            .contains("listening for PPTP")
            .then_some(())
    });
    let log_a = || std::fs::read_to_string(a_dir.join("log")).unwrap_or_default();
    let log_b = || std::fs::read_to_string(b_dir.join("log")).unwrap_or_default();
    let logs = || {
        format!(
            "--- routerd A (server):\n{}\n--- routerd B (client):\n{}",
            log_a(),
            log_b()
        )
    };
    assert!(listening.is_some(), "server listening\n{}", logs());
    lab.start_routerd("cli", &b_dir.join("routerd.toml"), &b_dir.join("log"));

    // Both sessions up: MS-CHAPv2 authenticated, MPPE-128, an address from the LAN pool.
    let (a, b) = wait_until(Duration::from_secs(40), || {
        Some((session_up(&a_socket)?, session_up(&b_socket)?))
    })
    .unwrap_or_else(|| panic!("sessions up on both routerds\n{}", logs()));
    assert_eq!(a.user.as_deref(), Some("alice"));
    assert_eq!(a.link, "pptp-in");
    assert_eq!(b.link, "pptp-out");
    // The server's session names the client's control connection, ip:port.
    let peer = a.peer.clone().unwrap_or_default();
    assert!(peer.starts_with("192.0.2.2:"), "server-side peer {peer:?}");
    assert_eq!(b.peer.as_deref(), Some("192.0.2.1:1723"));
    let client_addr = b.ipv4.unwrap();
    assert_eq!(a.ipv4, Some(client_addr));
    assert!((Ipv4Addr::new(10, 78, 0, 10)..=Ipv4Addr::new(10, 78, 0, 20)).contains(&client_addr));
    for s in [&a, &b] {
        assert_eq!(
            s.encryption,
            Encryption::Mppe {
                bits: 128,
                stateless: true
            }
        );
    }

    // Through the tunnel: the server's LAN address, then the LAN host (forwarded by the
    // server's kernel, the client's address answered by proxy ARP).
    let cli_ns = lab.ns("cli").to_owned();
    let client = client_addr.to_string();
    ip(&[
        "-n",
        &cli_ns,
        "route",
        "add",
        "10.78.0.0/24",
        "dev",
        "dialgate0",
        "src",
        &client,
    ]);
    let pings = 5;
    assert_eq!(
        ping_in(&cli_ns, client_addr, LAN_ROUTER, pings),
        pings,
        "echo replies from the server's LAN address\n{}",
        logs()
    );
    assert_eq!(
        ping_in(&cli_ns, client_addr, LAN_HOST, pings),
        pings,
        "echo replies from the LAN host\n{}",
        logs()
    );
    // And back: the LAN host pings the client through the server.
    let lan_ns = lab.ns("lan").to_owned();
    assert_eq!(
        ping_in(&lan_ns, LAN_HOST, client_addr, pings),
        pings,
        "echo replies from the client to the LAN host\n{}",
        logs()
    );

    // The counters agree: IP octets and packets one side sent, the other received.
    let (ta, tb) = assert_counters_agree(&a_socket, &b_socket, u64::from(3 * pings));
    // 3 x 5 echo packets of 84 octets (20 IP + 8 ICMP + 56 data) from the client: 10
    // requests and 5 replies.
    assert_eq!(ta.bytes_in, 15 * 84, "{ta:?} {tb:?}");
    assert_eq!(ta.bytes_out, 15 * 84, "{ta:?} {tb:?}");

    // Hostile input against the running server, while the session is up.
    let server_call: u16 = log_a()
        .lines()
        .find(|l| l.contains("up as PacOutgoing"))
        .and_then(|l| l.split("call ").nth(1))
        .and_then(|rest| rest.split(' ').next())
        .and_then(|id| id.parse().ok())
        .unwrap_or_else(|| panic!("the server logged its Call ID\n{}", logs()));
    ip(&[
        "-n",
        &cli_ns,
        "addr",
        "add",
        &format!("{ATTACKER}/24"),
        "dev",
        &v_inet_c,
    ]);
    ip(&[
        "-n",
        &lan_ns,
        "route",
        "add",
        "192.0.2.0/24",
        "via",
        "10.78.0.1",
    ]);
    let lcp_echo = [0xFF, 0x03, 0xC0, 0x21, 9, 1, 0, 8, 0, 0, 0, 0];
    in_netns(&cli_ns, move || {
        let s = raw_socket(libc::IPPROTO_GRE, ATTACKER);
        // A Call ID that is not ours (RFC 2637 §4.1 Key).
        raw_send(
            &s,
            SERVER_IP,
            &gre(0x3001, server_call ^ 0x5a5a, Some(1), None, &lcp_echo),
        );
        // GRE version 0, and reserved flags (C) set.
        raw_send(
            &s,
            SERVER_IP,
            &gre(0x3000, server_call, Some(1), None, &lcp_echo),
        );
        raw_send(
            &s,
            SERVER_IP,
            &gre(0xB001, server_call, Some(1), None, &lcp_echo),
        );
        // Our Call ID, from an address that is not the control connection's peer.
        raw_send(
            &s,
            SERVER_IP,
            &gre(0x3001, server_call, Some(1), None, &lcp_echo),
        );
        // From the real peer: an acknowledgment of a packet never sent (RFC 2637 §4.2).
        let p = raw_socket(libc::IPPROTO_GRE, CLIENT_IP);
        raw_send(
            &p,
            SERVER_IP,
            &gre(0x2081, server_call, None, Some(0x7fff_fff0), &[]),
        );
    });
    in_netns(&lan_ns, move || {
        // Spoofed from the LAN side too.
        let s = raw_socket(libc::IPPROTO_GRE, LAN_HOST);
        raw_send(
            &s,
            SERVER_IP,
            &gre(0x3001, server_call, Some(7), None, &lcp_echo),
        );
    });
    let server = std::net::SocketAddrV4::new(SERVER_IP, 1723);
    in_netns(&cli_ns, move || {
        let wait = Duration::from_secs(5);
        // A wrong Magic Cookie (RFC 2637 §2: the stream cannot be trusted): closed.
        let mut c = tcp_from(ATTACKER, server);
        std::io::Write::write_all(&mut c, &sccrq(0xDEAD_BEEF)).unwrap();
        assert!(
            read_to_close(&mut c, wait).is_ok(),
            "closed after a wrong cookie"
        );
        // A Length shorter than the header: closed.
        let mut c = tcp_from(ATTACKER, server);
        let mut short = sccrq(COOKIE);
        short[0..2].copy_from_slice(&8u16.to_be_bytes());
        std::io::Write::write_all(&mut c, &short).unwrap();
        assert!(
            read_to_close(&mut c, wait).is_ok(),
            "closed after a bad length"
        );
        // Out of state: a call request before Start-Control-Connection: General Error,
        // Not-Connected (RFC 2637 §2.16), and nothing else happens.
        let mut c = tcp_from(ATTACKER, server);
        std::io::Write::write_all(&mut c, &ocrq(77)).unwrap();
        let reply = read_n(&mut c, 32, wait);
        assert_eq!(&reply[8..10], &8u16.to_be_bytes(), "an Outgoing-Call-Reply");
        assert_eq!(
            (reply[16], reply[17]),
            (2, 1),
            "General Error / Not-Connected"
        );
        // An unknown message type is skipped; the connection then starts normally, and a
        // second Start-Control-Connection-Request is out of state (ignored).
        std::io::Write::write_all(&mut c, &control(99, COOKIE, &[])).unwrap();
        std::io::Write::write_all(&mut c, &sccrq(COOKIE)).unwrap();
        let reply = read_n(&mut c, 156, wait);
        assert_eq!(
            &reply[8..10],
            &2u16.to_be_bytes(),
            "a Start-Control-Connection-Reply"
        );
        assert_eq!(reply[14], 1, "result: successful channel establishment");
        std::io::Write::write_all(&mut c, &sccrq(COOKIE)).unwrap();
        // Truncated: half a message, then the TCP close.
        let mut t = tcp_from(ATTACKER, server);
        std::io::Write::write_all(&mut t, &sccrq(COOKIE)[..30]).unwrap();
        t.shutdown(std::net::Shutdown::Write).unwrap();
        assert!(
            read_to_close(&mut t, wait).is_ok(),
            "closed after a truncated message"
        );
        // A Stop-Control-Connection-Request ends the started one (RFC 2637 §2.3).
        std::io::Write::write_all(&mut c, &control(3, COOKIE, &[1, 0, 0, 0])).unwrap();
        let reply = read_to_close(&mut c, wait).expect("closed after the stop");
        assert_eq!(reply.len(), 16, "a Stop-Control-Connection-Reply");
        assert_eq!(&reply[8..10], &4u16.to_be_bytes());
    });
    // Every drop is counted under its reason, in routerd's metrics.
    let wanted = [
        ("gre_unknown_call", 1),
        ("gre_bad_version", 1),
        ("gre_bad_flags", 1),
        ("gre_spoofed_source", 2),
        ("gre_bad_ack", 1),
        ("control_malformed", 2),
        ("control_unknown_type", 1),
        ("control_out_of_state", 2),
    ];
    let counted = wait_until(Duration::from_secs(5), || {
        let c = plugin_counters(&a_socket, "pptp-in");
        wanted
            .iter()
            .all(|(name, min)| c.get(*name).is_some_and(|v| v >= min))
            .then_some(c)
    });
    assert!(
        counted.is_some(),
        "drops counted in the metrics: {:?}\n{}",
        plugin_counters(&a_socket, "pptp-in"),
        logs()
    );
    // The session is still up and carries traffic.
    assert_eq!(
        ping_in(&cli_ns, client_addr, LAN_HOST, pings),
        pings,
        "the session still works after the hostile input\n{}",
        logs()
    );

    // The client hangs up: its session is killed, the plugin clears the call
    // (Call-Clear-Request), the server answers with Call-Disconnect-Notify, and the client
    // stops the control connection (Stop-Control-Connection-Request, reason 1 "none").
    let (code, _) = routerctl(&b_socket, &["sessions", "kill", &b.id.to_string()], "");
    assert_eq!(code, 0, "routerctl sessions kill");
    let torn_down = wait_until(Duration::from_secs(20), || {
        let (a, b) = (log_a(), log_b());
        (a.contains("the peer cleared the call (Call-Clear-Request)")
            && a.contains("stopped by the peer (Stop-Control-Connection-Request, reason None)")
            && b.contains("call cleared")
            && b.contains("stopped (Stop-Control-Connection-Request sent, reply received)"))
        .then_some(())
    });
    assert!(
        torn_down.is_some(),
        "teardown reported on both sides\n{}",
        logs()
    );
    // The server's session ended with the plugin's reason.
    assert!(
        wait_until(Duration::from_secs(10), || {
            sessions(&a_socket)
                .iter()
                .all(|s| s.id != a.id)
                .then_some(())
        })
        .is_some(),
        "server session ended\n{}",
        logs()
    );

    // Stop the daemons (the client may have redialled meanwhile), then the capture.
    for mut p in lab.processes.drain(..) {
        let status = p.terminate(Duration::from_secs(15)).expect("routerd exits");
        assert!(status.success(), "{status}\n{}", logs());
    }
    std::thread::sleep(Duration::from_millis(500));
    capture
        .terminate(Duration::from_secs(10))
        .expect("dumpcap exits");

    // Clean dissection: nothing malformed, no error-level expert item.
    assert_clean_dissection(&pcap);

    // Not vacuous: tshark saw the whole control conversation and GRE with the agreed IDs.
    let (rows, control) = pptp_control_rows(&pcap);
    let types: BTreeSet<(&str, &str)> = rows
        .iter()
        .map(|r| (r[0].as_str(), r[1].as_str()))
        .collect();
    for (src, kind) in [
        ("192.0.2.2", "1"),  // Start-Control-Connection-Request
        ("192.0.2.1", "2"),  // Start-Control-Connection-Reply
        ("192.0.2.2", "7"),  // Outgoing-Call-Request
        ("192.0.2.1", "8"),  // Outgoing-Call-Reply
        ("192.0.2.2", "12"), // Call-Clear-Request
        ("192.0.2.1", "13"), // Call-Disconnect-Notify
        ("192.0.2.2", "3"),  // Stop-Control-Connection-Request
        ("192.0.2.1", "4"),  // Stop-Control-Connection-Reply
    ] {
        assert!(
            types.contains(&(src, kind)),
            "type {kind} from {src} in\n{control}"
        );
    }
    // The first call: the client's Call ID (OCRQ) and the server's (OCRP).
    let ocrq = rows.iter().find(|r| r[1] == "7").unwrap();
    let ocrp = rows.iter().find(|r| r[1] == "8").unwrap();
    let (client_call, server_call) = (ocrq[2].as_str(), ocrp[2].as_str());
    assert_eq!(
        ocrp[3], client_call,
        "OCRP's Peer Call ID is the OCRQ's Call ID"
    );
    // Call-Disconnect-Notify answers the clear with result 4 (Request, RFC 2637 §2.13);
    // Stop-Control-Connection-Request says reason 1 (None, §2.3).
    let cdn = rows.iter().find(|r| r[1] == "13").unwrap();
    assert_eq!(cdn[2], server_call, "CDN carries the server's Call ID");
    assert_eq!(cdn[5], "4", "CDN result code");
    let stop = rows.iter().find(|r| r[1] == "3").unwrap();
    assert_eq!(stop[4], "1", "Stop-Control-Connection-Request reason");
    // GRE both ways, keyed with the receiver's Call ID (RFC 2637 §4.1).
    let gre = gre_keys(&pcap);
    let keys: BTreeSet<(&str, &str)> = gre.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
    assert!(
        keys.contains(&("192.0.2.2", server_call)),
        "client -> server GRE: {keys:?}"
    );
    assert!(
        keys.contains(&("192.0.2.1", client_call)),
        "server -> client GRE: {keys:?}"
    );
    let packets = gre.len();
    eprintln!(
        "control messages (src, type, call, peer call, reason, result):\n{control}{packets} GRE packets"
    );
    assert!(
        packets >= 30,
        "{packets} GRE packets (15 pings each way and PPP)"
    );
}

/// routerd A with two answering pptp links (ports 1723 and 1724, a pool each), routerd B with
/// two dialing links, one to each: every GRE datagram reaches both links' raw sockets on
/// each side.
fn two_links_configs(a_dir: &Path, b_dir: &Path, plugin: &Path) -> (String, String) {
    let head = |dir: &Path, host: &str| {
        format!(
            r#"
[system]
hostname = "{host}"
state_dir = "{state}"
plugin_dir = "{state}"

[management]
socket = "{state}/routerd.sock"

[[plugin]]
name = "pptp"
file = "{plugin}"
"#,
            state = dir.display(),
            plugin = plugin.display(),
        )
    };
    let mut a = head(a_dir, "srv");
    let mut b = head(b_dir, "cli");
    for (i, (port, user)) in [(1723, "alice"), (1724, "bob")].into_iter().enumerate() {
        let n = i + 1;
        let net = 78 + i;
        a += &format!(
            r#"
[[pool]]
name = "p{n}"
ranges = ["10.{net}.0.10-10.{net}.0.20"]
local_address = "10.{net}.0.1"

[[link]]
name = "in{n}"
plugin = "pptp"
role = "answer"
pool = "p{n}"
[link.config]
listen = ["{SERVER}:{port}"]
"#
        );
        b += &format!(
            r#"
[[link]]
name = "out{n}"
plugin = "pptp"
role = "dial"
credentials = {{ user = "{user}", password = "correct horse battery" }}
[link.config]
target = "{SERVER}:{port}"
"#
        );
    }
    (a, b)
}

/// Two pptp links in one routerd, each end: the kernel gives every GRE datagram to both
/// links' raw sockets, and a link ignores the other's (counted as `gre_other_link`, not as an
/// unknown call or a spoofed source) while GRE that names no call of either link, or a link's
/// Call ID from an address that is not its peer, is still dropped and counted (RFC 2637 §4.1).
#[test]
fn two_pptp_links_in_one_routerd_ignore_each_others_gre_rfc2637_4_1() {
    if !dialgate_test_support::require_root("network namespaces, TUN and raw GRE sockets") {
        return;
    }
    cargo_build(&["dialgate-plugin-pptp"], &[]);
    let pptp = library("dialgate_plugin_pptp");
    let dir = TempDir::new("pptp-2links");
    let lab = Lab::new("p2", &["srv", "cli"]);
    let mut lab = lab;
    let tag = std::process::id() % 100_000;
    let (v_s, v_c) = (format!("d2s{tag}"), format!("d2c{tag}"));
    lab.veth(
        ("srv", &v_s, &format!("{SERVER}/24")),
        ("cli", &v_c, "192.0.2.2/24"),
    );
    let srv_ns = lab.ns("srv").to_owned();
    let cli_ns = lab.ns("cli").to_owned();
    // The server's own session addresses (the pools' local addresses).
    for local in ["10.78.0.1/32", "10.79.0.1/32"] {
        ip(&["-n", &srv_ns, "addr", "add", local, "dev", "lo"]);
    }
    ip(&[
        "-n",
        &cli_ns,
        "addr",
        "add",
        &format!("{ATTACKER}/24"),
        "dev",
        &v_c,
    ]);
    let a_dir = dir.path().join("a");
    let b_dir = dir.path().join("b");
    std::fs::create_dir_all(&a_dir).unwrap();
    std::fs::create_dir_all(&b_dir).unwrap();
    let (a_socket, b_socket) = (a_dir.join("routerd.sock"), b_dir.join("routerd.sock"));
    let (a_text, b_text) = two_links_configs(&a_dir, &b_dir, &pptp);
    std::fs::write(a_dir.join("routerd.toml"), a_text).unwrap();
    std::fs::write(b_dir.join("routerd.toml"), b_text).unwrap();
    let mut users = UserStore::open(&a_dir.join("users.toml")).unwrap();
    users
        .set_password("alice", "correct horse battery")
        .unwrap();
    users.set_password("bob", "correct horse battery").unwrap();
    drop(users);
    let log_a = || std::fs::read_to_string(a_dir.join("log")).unwrap_or_default();
    let log_b = || std::fs::read_to_string(b_dir.join("log")).unwrap_or_default();
    let logs = || {
        format!(
            "--- routerd A (server):\n{}\n--- routerd B (client):\n{}",
            log_a(),
            log_b()
        )
    };
    lab.start_routerd("srv", &a_dir.join("routerd.toml"), &a_dir.join("log"));
    let listening = wait_until(Duration::from_secs(20), || {
        (log_a().matches("listening for PPTP").count() == 2).then_some(())
    });
    assert!(listening.is_some(), "both links listening\n{}", logs());
    lab.start_routerd("cli", &b_dir.join("routerd.toml"), &b_dir.join("log"));

    // Both calls up on both routerds.
    let up = |socket: &Path, link: &str| {
        sessions(socket)
            .into_iter()
            .find(|x| x.link == link && x.state == SessionState::Up && x.ipv4.is_some())
    };
    let (in1, in2, out1, out2) = wait_until(Duration::from_secs(60), || {
        Some((
            up(&a_socket, "in1")?,
            up(&a_socket, "in2")?,
            up(&b_socket, "out1")?,
            up(&b_socket, "out2")?,
        ))
    })
    .unwrap_or_else(|| panic!("two sessions up on both routerds\n{}", logs()));
    assert_eq!(in1.user.as_deref(), Some("alice"));
    assert_eq!(in2.user.as_deref(), Some("bob"));
    assert_eq!(out1.ipv4, in1.ipv4);
    assert_eq!(out2.ipv4, in2.ipv4);

    // Traffic through each session: every datagram of one reaches the other link too.
    let pings = 10;
    for (session, server) in [(&out1, "10.78.0.1"), (&out2, "10.79.0.1")] {
        let src = session.ipv4.unwrap();
        assert_eq!(
            ping_in(&cli_ns, src, server.parse().unwrap(), pings),
            pings,
            "echo replies from {server} over {}\n{}",
            session.link,
            logs()
        );
    }
    // Each link saw the other's GRE and ignored it as another link's, on both routerds; none
    // of it counted as hostile.
    let links = [
        (&a_socket, "in1"),
        (&a_socket, "in2"),
        (&b_socket, "out1"),
        (&b_socket, "out2"),
    ];
    let seen = wait_until(Duration::from_secs(5), || {
        links
            .iter()
            .all(|(socket, link)| {
                plugin_counters(socket, link)
                    .get("gre_other_link")
                    .is_some_and(|&n| n >= u64::from(pings))
            })
            .then_some(())
    });
    let all = || {
        links
            .iter()
            .map(|(socket, link)| format!("{link}: {:?}\n", plugin_counters(socket, link)))
            .collect::<String>()
    };
    assert!(
        seen.is_some(),
        "each link ignored the other's GRE:\n{}",
        all()
    );
    for (socket, link) in links {
        let c = plugin_counters(socket, link);
        for hostile in ["gre_unknown_call", "gre_spoofed_source"] {
            assert_eq!(c.get(hostile), Some(&0), "{link} {hostile}:\n{}", all());
        }
    }

    // Still hostile: from the real peer, a Call ID no link of A has; from another address,
    // in1's Call ID.
    // The plugin logs "call ID (peer call P) with PEER up as PacOutgoing"; in1's session
    // names the same control connection as its peer.
    let in1_peer = format!(
        "with {} up as PacOutgoing",
        in1.peer.as_deref().unwrap_or("?")
    );
    let in1_call: u16 = log_a()
        .lines()
        .find(|l| l.contains(&in1_peer))
        .and_then(|l| l.split("call ").nth(1))
        .and_then(|rest| rest.split(' ').next())
        .and_then(|id| id.parse().ok())
        .unwrap_or_else(|| panic!("in1 logged its Call ID\n{}", logs()));
    let lcp_echo = [0xFF, 0x03, 0xC0, 0x21, 9, 1, 0, 8, 0, 0, 0, 0];
    let calls: Vec<u16> = log_a()
        .lines()
        .filter(|l| l.contains("up as PacOutgoing"))
        .filter_map(|l| l.split("call ").nth(1)?.split(' ').next()?.parse().ok())
        .collect();
    let unknown = (1..=u16::MAX)
        .map(|d| in1_call.wrapping_add(d))
        .find(|id| !calls.contains(id))
        .unwrap();
    in_netns(&cli_ns, move || {
        let peer = raw_socket(libc::IPPROTO_GRE, CLIENT_IP);
        raw_send(
            &peer,
            SERVER_IP,
            &gre(0x3001, unknown, Some(1), None, &lcp_echo),
        );
        let stranger = raw_socket(libc::IPPROTO_GRE, ATTACKER);
        raw_send(
            &stranger,
            SERVER_IP,
            &gre(0x3001, in1_call, Some(1), None, &lcp_echo),
        );
    });
    let counted = wait_until(Duration::from_secs(5), || {
        let one = plugin_counters(&a_socket, "in1");
        let two = plugin_counters(&a_socket, "in2");
        (one.get("gre_unknown_call") == Some(&1)
            && one.get("gre_spoofed_source") == Some(&1)
            && two.get("gre_unknown_call").is_some_and(|&n| n >= 1))
        .then_some(())
    });
    assert!(counted.is_some(), "hostile GRE still counted:\n{}", all());
    for mut p in lab.processes.drain(..) {
        let status = p.terminate(Duration::from_secs(15)).expect("routerd exits");
        assert!(status.success(), "{status}\n{}", logs());
    }
}

/// A PPTP server routerd answering on `server` only, with its own TUN device and pool.
fn one_address_server(dir: &Path, plugin: &Path, n: u32, server: &str) -> String {
    let net = 77 + n;
    format!(
        r#"
[system]
hostname = "srv{n}"
state_dir = "{state}"
plugin_dir = "{state}"

[management]
socket = "{state}/routerd.sock"

[tun]
name = "dgsrv{n}"

[[plugin]]
name = "pptp"
file = "{plugin}"

[[pool]]
name = "p{n}"
ranges = ["10.{net}.0.10-10.{net}.0.20"]
local_address = "10.{net}.0.1"

[[link]]
name = "in{n}"
plugin = "pptp"
role = "answer"
pool = "p{n}"
[link.config]
listen = ["{server}:1723"]
"#,
        state = dir.display(),
        plugin = plugin.display(),
    )
}

/// Two routerd processes on one host, each answering PPTP on its own address: each binds its
/// raw GRE socket to its address, so neither sees the other's GRE (before, every datagram of
/// one reached the other, which counted it as GRE for an unknown call). RFC 2637 §4.1: GRE
/// runs between the two addresses of the control connection.
#[test]
fn two_routerds_on_one_host_see_only_their_own_gre_rfc2637_4_1() {
    if !dialgate_test_support::require_root("network namespaces, TUN and raw GRE sockets") {
        return;
    }
    const SERVER2: &str = "192.0.2.4";
    cargo_build(&["dialgate-plugin-pptp"], &[]);
    let pptp = library("dialgate_plugin_pptp");
    let dir = TempDir::new("pptp-2routerds");
    let mut lab = Lab::new("p3", &["srv", "cli"]);
    let tag = std::process::id() % 100_000;
    let (v_s, v_c) = (format!("d3s{tag}"), format!("d3c{tag}"));
    lab.veth(
        ("srv", &v_s, &format!("{SERVER}/24")),
        ("cli", &v_c, "192.0.2.2/24"),
    );
    let srv_ns = lab.ns("srv").to_owned();
    let cli_ns = lab.ns("cli").to_owned();
    ip(&[
        "-n",
        &srv_ns,
        "addr",
        "add",
        &format!("{SERVER2}/24"),
        "dev",
        &v_s,
    ]);
    for local in ["10.78.0.1/32", "10.79.0.1/32"] {
        ip(&["-n", &srv_ns, "addr", "add", local, "dev", "lo"]);
    }
    let dirs: Vec<_> = ["a", "b", "c"]
        .iter()
        .map(|d| {
            let p = dir.path().join(d);
            std::fs::create_dir_all(&p).unwrap();
            p
        })
        .collect();
    let (a_dir, b_dir, c_dir) = (&dirs[0], &dirs[1], &dirs[2]);
    std::fs::write(
        a_dir.join("routerd.toml"),
        one_address_server(a_dir, &pptp, 1, SERVER),
    )
    .unwrap();
    std::fs::write(
        b_dir.join("routerd.toml"),
        one_address_server(b_dir, &pptp, 2, SERVER2),
    )
    .unwrap();
    // The client: one routerd dialing both servers.
    let mut client = format!(
        r#"
[system]
hostname = "cli"
state_dir = "{state}"
plugin_dir = "{state}"

[management]
socket = "{state}/routerd.sock"

[[plugin]]
name = "pptp"
file = "{plugin}"
"#,
        state = c_dir.display(),
        plugin = pptp.display(),
    );
    for (n, (server, user)) in [(SERVER, "alice"), (SERVER2, "bob")]
        .into_iter()
        .enumerate()
    {
        client += &format!(
            r#"
[[link]]
name = "out{i}"
plugin = "pptp"
role = "dial"
credentials = {{ user = "{user}", password = "correct horse battery" }}
[link.config]
target = "{server}:1723"
"#,
            i = n + 1
        );
    }
    std::fs::write(c_dir.join("routerd.toml"), client).unwrap();
    for (d, user) in [(a_dir, "alice"), (b_dir, "bob")] {
        let mut users = UserStore::open(&d.join("users.toml")).unwrap();
        users.set_password(user, "correct horse battery").unwrap();
    }
    let log = |d: &Path| std::fs::read_to_string(d.join("log")).unwrap_or_default();
    let logs = || {
        format!(
            "--- routerd A:\n{}\n--- routerd B:\n{}\n--- client:\n{}",
            log(a_dir),
            log(b_dir),
            log(c_dir)
        )
    };
    lab.start_routerd("srv", &a_dir.join("routerd.toml"), &a_dir.join("log"));
    lab.start_routerd("srv", &b_dir.join("routerd.toml"), &b_dir.join("log"));
    let bound = wait_until(Duration::from_secs(20), || {
        (log(a_dir).contains(&format!("GRE socket bound to {SERVER}"))
            && log(b_dir).contains(&format!("GRE socket bound to {SERVER2}")))
        .then_some(())
    });
    assert!(bound.is_some(), "both servers bound their GRE\n{}", logs());
    lab.start_routerd("cli", &c_dir.join("routerd.toml"), &c_dir.join("log"));

    let (a_socket, b_socket, c_socket) = (
        a_dir.join("routerd.sock"),
        b_dir.join("routerd.sock"),
        c_dir.join("routerd.sock"),
    );
    let up = |socket: &Path, link: &str| {
        sessions(socket)
            .into_iter()
            .find(|x| x.link == link && x.state == SessionState::Up && x.ipv4.is_some())
    };
    let (out1, out2) = wait_until(Duration::from_secs(60), || {
        up(&a_socket, "in1")?;
        up(&b_socket, "in2")?;
        Some((up(&c_socket, "out1")?, up(&c_socket, "out2")?))
    })
    .unwrap_or_else(|| panic!("a session up on each server\n{}", logs()));
    let pings = 10;
    for (session, server) in [(&out1, "10.78.0.1"), (&out2, "10.79.0.1")] {
        assert_eq!(
            ping_in(
                &cli_ns,
                session.ipv4.unwrap(),
                server.parse().unwrap(),
                pings
            ),
            pings,
            "echo replies from {server} over {}\n{}",
            session.link,
            logs()
        );
    }
    // The counters are published every few seconds: wait until they include the pings.
    let servers = [(&a_socket, "in1"), (&b_socket, "in2")];
    let published = wait_until(Duration::from_secs(15), || {
        servers
            .iter()
            .all(|(socket, link)| {
                plugin_counters(socket, link)
                    .get("gre_rx")
                    .is_some_and(|&n| n >= u64::from(pings))
            })
            .then_some(())
    });
    assert!(
        published.is_some(),
        "GRE counted on both servers\n{}",
        logs()
    );
    for (socket, link) in servers {
        let c = plugin_counters(socket, link);
        for other in ["gre_unknown_call", "gre_spoofed_source", "gre_other_link"] {
            assert_eq!(
                c.get(other),
                Some(&0),
                "{link} saw the other routerd's GRE ({other}): {c:?}\n{}",
                logs()
            );
        }
    }
    for mut p in lab.processes.drain(..) {
        let status = p.terminate(Duration::from_secs(15)).expect("routerd exits");
        assert!(status.success(), "{status}\n{}", logs());
    }
}
