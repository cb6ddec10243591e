//! The PPTP front-end path end to end (issue 4), as root, in network namespaces this test
//! creates (and deletes): a dial-in caller on a serial line reaches routerd A, an ISP's
//! front end (the PAC), which relays the call untouched over PPTP to routerd B, the
//! company's server (the PNS), with Incoming-Call-Request/-Reply/-Connected (RFC 2637
//! §3.2.1/§3.2.3). B terminates the caller's PPP with MS-CHAPv2 and MPPE-128 and gives it an
//! address on its LAN; the caller pings B's LAN and the LAN host pings back; the byte
//! counters of the caller and B agree. The caller then hangs up (the line drops, as a modem's
//! carrier would): the PAC reports it with Call-Disconnect-Notify (RFC 2637 §2.13, the PAC's
//! message for a call that ends on its side; the PNS would use Call-Clear-Request) and stops
//! the control connection, and B's session ends with that reason.
//!
//! The PPTP traffic is captured in B's namespace and must dissect cleanly in tshark.
//!
//! ```text
//!  netns cli                 pty cable     netns pac                     netns pns                       netns lan
//!  routerd C (serial dial) ============= routerd A (serial answer,     routerd B (pptp answer,
//!  dialgate0 10.79.0.1x/32                relay_to pptp dial relay,     pool 10.79.0.10-20)
//!                                         call_type = "incoming")
//!                                        vA 192.0.2.2/24 ------veth---- vB 192.0.2.1/24
//!                                                                       vS 10.79.0.1/24 --veth-- vL 10.79.0.2/24
//! ```

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::collections::BTreeSet;
use std::net::Ipv4Addr;
use std::path::Path;
use std::time::Duration;

use dialgate_routerd::api::{Encryption, SessionRole, SessionState};
use dialgate_routerd::users::UserStore;
use support::netns::{
    Lab, PptpServer, assert_clean_dissection, gre_keys, ip, ping_in, pptp_control_rows, sessions,
    start_capture, wait_until,
};
use support::{PtyCable, TempDir, accounting_stops, cargo_build, library};

const LAN_HOST: Ipv4Addr = Ipv4Addr::new(10, 79, 0, 2);
const LAN_ROUTER: Ipv4Addr = Ipv4Addr::new(10, 79, 0, 1);
const PNS: &str = "192.0.2.1";
const PAC: &str = "192.0.2.2";

fn head(name: &str, dir: &Path) -> String {
    format!(
        r#"
[system]
hostname = "{name}"
state_dir = "{state}"
plugin_dir = "{state}"

[management]
socket = "{state}/routerd.sock"
"#,
        state = dir.display(),
    )
}

/// The caller: a routerd dialing on its serial line, as a PPP client.
fn caller_config(dir: &Path, serial: &Path, device: &Path) -> String {
    format!(
        r#"{head}
[[plugin]]
name = "serial"
file = "{serial}"

[[link]]
name = "line"
plugin = "serial"
role = "dial"
credentials = {{ user = "alice", password = "correct horse battery" }}
[[link.config.ports]]
name = "line"
device = "{device}"
role = "dial"
"#,
        head = head("caller", dir),
        serial = serial.display(),
        device = device.display(),
    )
}

/// The front end (PAC): the modem line relayed to a PPTP call it places as an incoming call.
fn pac_config(dir: &Path, serial: &Path, pptp: &Path, device: &Path) -> String {
    format!(
        r#"{head}
[[plugin]]
name = "serial"
file = "{serial}"

[[plugin]]
name = "pptp"
file = "{pptp}"

[[link]]
name = "modems"
plugin = "serial"
role = "answer"
mode = "relay"
relay_to = "to-pns"
[[link.config.ports]]
name = "modem0"
device = "{device}"

[[link]]
name = "to-pns"
plugin = "pptp"
role = "dial"
mode = "relay"
[link.config]
target = "{PNS}"
call_type = "incoming"
"#,
        head = head("pac", dir),
        serial = serial.display(),
        pptp = pptp.display(),
        device = device.display(),
    )
}

#[test]
fn a_serial_caller_reaches_the_pns_through_the_pac_with_incoming_call_requests() {
    if !dialgate_test_support::require_root("network namespaces, TUN and raw GRE sockets") {
        return;
    }
    cargo_build(&["dialgate-plugin-pptp", "dialgate-plugin-serial"], &[]);
    let pptp = library("dialgate_plugin_pptp");
    let serial = library("dialgate_plugin_serial");
    let dir = TempDir::new("pptp-frontend");
    let mut lab = Lab::new("fe", &["cli", "pac", "pns", "lan"]);
    let tag = std::process::id() % 100_000;
    let (v_pac, v_pns) = (format!("dfa{tag}"), format!("dfb{tag}"));
    let (v_lan_s, v_lan_l) = (format!("dfs{tag}"), format!("dfl{tag}"));
    lab.veth(
        ("pac", &v_pac, &format!("{PAC}/24")),
        ("pns", &v_pns, &format!("{PNS}/24")),
    );
    lab.veth(
        ("pns", &v_lan_s, "10.79.0.1/24"),
        ("lan", &v_lan_l, "10.79.0.2/24"),
    );
    let pcap = dir.path().join("frontend.pcapng");
    let mut capture = start_capture(&lab, "pns", &v_pns, "tcp port 1723 or ip proto 47", &pcap);

    let cable = PtyCable::new();
    let [c_dir, a_dir, b_dir] = ["c", "a", "b"].map(|n| dir.path().join(n));
    for (d, text) in [
        (&c_dir, caller_config(&c_dir, &serial, cable.a())),
        (&a_dir, pac_config(&a_dir, &serial, &pptp, cable.b())),
        (
            &b_dir,
            PptpServer {
                hostname: "pns",
                dir: &b_dir,
                plugin: &pptp,
                lan_if: &v_lan_s,
                lan_net: "10.79.0",
                link: "from-pac",
                listen: &format!("{PNS}:1723"),
                link_config: "",
            }
            .config(),
        ),
    ] {
        std::fs::create_dir_all(d).unwrap();
        std::fs::write(d.join("routerd.toml"), text).unwrap();
    }
    let mut users = UserStore::open(&b_dir.join("users.toml")).unwrap();
    users
        .set_password("alice", "correct horse battery")
        .unwrap();
    drop(users);
    let [c_socket, a_socket, b_socket] = [&c_dir, &a_dir, &b_dir].map(|d| d.join("routerd.sock"));
    let log = |d: &Path| std::fs::read_to_string(d.join("log")).unwrap_or_default();
    let logs = || {
        format!(
            "--- caller:\n{}\n--- routerd A (PAC):\n{}\n--- routerd B (PNS):\n{}",
            log(&c_dir),
            log(&a_dir),
            log(&b_dir)
        )
    };

    lab.start_routerd("pns", &b_dir.join("routerd.toml"), &b_dir.join("log"));
    let listening = wait_until(Duration::from_secs(20), || {
        log(&b_dir).contains("listening for PPTP").then_some(())
    });
    assert!(listening.is_some(), "the PNS listens\n{}", logs());
    lab.start_routerd("pac", &a_dir.join("routerd.toml"), &a_dir.join("log"));
    lab.start_routerd("cli", &c_dir.join("routerd.toml"), &c_dir.join("log"));

    // Up end to end: the caller and B negotiated MS-CHAPv2 and MPPE-128 through A, which
    // relays the call.
    let up = |socket: &Path, role: SessionRole| {
        sessions(socket)
            .into_iter()
            .find(|x| x.state == SessionState::Up && x.role == role)
    };
    let (c, a, b) = wait_until(Duration::from_secs(60), || {
        let b = up(&b_socket, SessionRole::Terminate).filter(|s| s.ipv4.is_some())?;
        let c = up(&c_socket, SessionRole::Terminate).filter(|s| s.ipv4.is_some())?;
        Some((c, up(&a_socket, SessionRole::Relay)?, b))
    })
    .unwrap_or_else(|| panic!("caller, relay and PNS sessions up\n{}", logs()));
    assert_eq!(b.user.as_deref(), Some("alice"));
    assert_eq!(b.link, "from-pac");
    assert_eq!(a.link, "modems");
    assert_eq!(c.link, "line");
    // B's session names the PAC's control connection; A does not run PPP (no user, no
    // address, no encryption of its own).
    let peer = b.peer.clone().unwrap_or_default();
    assert!(peer.starts_with("192.0.2.2:"), "PNS-side peer {peer:?}");
    assert_eq!((a.ipv4, a.encryption), (None, Encryption::None));
    let caller_addr = c.ipv4.unwrap();
    assert_eq!(b.ipv4, Some(caller_addr));
    assert!((Ipv4Addr::new(10, 79, 0, 10)..=Ipv4Addr::new(10, 79, 0, 20)).contains(&caller_addr));
    for s in [&b, &c] {
        let mppe = Encryption::Mppe {
            bits: 128,
            stateless: true,
        };
        assert_eq!(s.encryption, mppe, "{}", s.link);
    }
    // A placed an incoming call (RFC 2637 §3.2.1: the PAC's role), B answered it as PNS.
    let a_log = log(&a_dir);
    assert!(a_log.contains("up as PacIncoming"), "{}", logs());
    assert!(log(&b_dir).contains("up as PnsIncoming"), "{}", logs());

    // Through A and the tunnel: B's LAN address, the LAN host, and back.
    let cli_ns = lab.ns("cli").to_owned();
    let lan_ns = lab.ns("lan").to_owned();
    let caller = caller_addr.to_string();
    ip(&[
        "-n",
        &cli_ns,
        "route",
        "add",
        "10.79.0.0/24",
        "dev",
        "dialgate0",
        "src",
        &caller,
    ]);
    let pings = 5;
    for (ns, from, to) in [
        (&cli_ns, caller_addr, LAN_ROUTER),
        (&cli_ns, caller_addr, LAN_HOST),
        (&lan_ns, LAN_HOST, caller_addr),
    ] {
        assert_eq!(
            ping_in(ns, from, to, pings),
            pings,
            "echo replies {from} -> {to}\n{}",
            logs()
        );
    }

    // The counters agree: the IP the caller sent B received, and back (A relays PPP frames
    // untouched, MPPE included: at least as many frames each way, and more octets).
    let agree = wait_until(Duration::from_secs(5), || {
        let c = up(&c_socket, SessionRole::Terminate)?.traffic;
        let b = up(&b_socket, SessionRole::Terminate)?.traffic;
        let a = up(&a_socket, SessionRole::Relay)?.traffic;
        (c.bytes_out == b.bytes_in
            && c.bytes_in == b.bytes_out
            && c.packets_out == b.packets_in
            && c.packets_in == b.packets_out
            && b.packets_in >= u64::from(3 * pings)
            && a.packets_in >= c.packets_out
            && a.packets_out >= c.packets_in
            && a.bytes_in > c.bytes_out
            && a.bytes_out > c.bytes_in)
            .then_some((c, b))
    });
    let (tc, tb) = agree.unwrap_or_else(|| {
        panic!(
            "counters agree: caller {:?} relay {:?} PNS {:?}",
            up(&c_socket, SessionRole::Terminate).map(|s| s.traffic),
            up(&a_socket, SessionRole::Relay).map(|s| s.traffic),
            up(&b_socket, SessionRole::Terminate).map(|s| s.traffic),
        )
    });
    // 3 x 5 echo packets of 84 octets: 10 from the caller, 5 to it... and the same back.
    assert_eq!(tb.bytes_in, 15 * 84, "{tc:?} {tb:?}");
    assert_eq!(tb.bytes_out, 15 * 84, "{tc:?} {tb:?}");

    // The caller hangs up: its line drops (the cable is cut, the ptys hang up as a modem's
    // carrier would). A's relay session ends; as the PAC it disconnects the call with
    // Call-Disconnect-Notify (RFC 2637 §2.13) and stops the control connection, and B's
    // session ends with that reason.
    drop(cable);
    let torn_down = wait_until(Duration::from_secs(20), || {
        let (a, b) = (log(&a_dir), log(&b_dir));
        (b.contains("the peer disconnected the call (Call-Disconnect-Notify")
            && b.contains("stopped by the peer (Stop-Control-Connection-Request, reason None)")
            && a.contains("stopped (Stop-Control-Connection-Request sent, reply received)"))
        .then_some(())
    });
    assert!(
        torn_down.is_some(),
        "teardown reported on both sides\n{}",
        logs()
    );
    let stop_of = |d: &Path, id| accounting_stops(d).into_iter().find(|s| s.session == id);
    let b_stop = wait_until(Duration::from_secs(10), || stop_of(&b_dir, b.id))
        .unwrap_or_else(|| panic!("B accounted the session's end\n{}", logs()));
    assert!(
        b_stop.reason.contains("Call-Disconnect-Notify"),
        "B's session ended for the PAC's disconnect: {:?}",
        b_stop.reason
    );
    assert_eq!(b_stop.user, "alice");
    assert_eq!(b_stop.ipv4, Some(caller_addr));
    assert!(b_stop.bytes_in >= tb.bytes_in && b_stop.bytes_out >= tb.bytes_out);
    let a_stop = wait_until(Duration::from_secs(10), || stop_of(&a_dir, a.id))
        .unwrap_or_else(|| panic!("A accounted the relay's end\n{}", logs()));
    assert!(
        a_stop.reason.contains("hung up"),
        "A's relay session ended for the hang-up: {:?}",
        a_stop.reason
    );

    for mut p in lab.processes.drain(..) {
        let status = p.terminate(Duration::from_secs(15)).expect("routerd exits");
        assert!(status.success(), "{status}\n{}", logs());
    }
    std::thread::sleep(Duration::from_millis(500));
    capture
        .terminate(Duration::from_secs(10))
        .expect("dumpcap exits");

    assert_clean_dissection(&pcap);
    let (rows, control) = pptp_control_rows(&pcap);
    let types: BTreeSet<(&str, &str)> = rows
        .iter()
        .map(|r| (r[0].as_str(), r[1].as_str()))
        .collect();
    for (src, kind) in [
        (PAC, "1"),  // Start-Control-Connection-Request
        (PNS, "2"),  // Start-Control-Connection-Reply
        (PAC, "9"),  // Incoming-Call-Request
        (PNS, "10"), // Incoming-Call-Reply
        (PAC, "11"), // Incoming-Call-Connected
        (PAC, "13"), // Call-Disconnect-Notify
        // The Stop-Control-Connection-Request follows the CDN in the same TCP segment, and
        // tshark 4.0 dissects only a segment's first PPTP message: its reply stands for it
        // (and A logged the exchange, checked above).
        (PNS, "4"), // Stop-Control-Connection-Reply
    ] {
        assert!(
            types.contains(&(src, kind)),
            "type {kind} from {src} in\n{control}"
        );
    }
    // Neither side sent a Call-Clear-Request (only a PNS may, RFC 2637 §2.12) or any
    // outgoing-call message.
    for kind in ["7", "8", "12"] {
        assert!(
            rows.iter().all(|r| r[1] != kind),
            "no message of type {kind} in\n{control}"
        );
    }
    let icrq = rows.iter().find(|r| r[1] == "9").unwrap();
    let icrp = rows.iter().find(|r| r[1] == "10").unwrap();
    let iccn = rows.iter().find(|r| r[1] == "11").unwrap();
    let cdn = rows.iter().find(|r| r[1] == "13").unwrap();
    let (pac_call, pns_call) = (icrq[2].as_str(), icrp[2].as_str());
    assert_eq!(
        icrp[3], pac_call,
        "ICRP's Peer Call ID is the ICRQ's Call ID"
    );
    // ICCN and CDN name the call by the PAC's Call ID... ICCN carries the PNS's as its
    // Peer Call ID (RFC 2637 §2.11), CDN the PAC's own (§2.13).
    assert_eq!(iccn[3], pns_call, "ICCN's Peer Call ID\n{control}");
    assert_eq!(cdn[2], pac_call, "CDN's Call ID\n{control}");
    // Result 1, Lost Carrier (RFC 2637 §2.13): the core hung the call up because its
    // relayed line dropped, and said so (plugin ABI 1.2 hangup cause).
    assert_eq!(cdn[5], "1", "CDN result\n{control}");
    // GRE both ways, keyed with the receiver's Call ID (RFC 2637 §4.1).
    let gre = gre_keys(&pcap);
    let keys: BTreeSet<(&str, &str)> = gre.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
    assert!(keys.contains(&(PAC, pns_call)), "PAC -> PNS GRE: {keys:?}");
    assert!(keys.contains(&(PNS, pac_call)), "PNS -> PAC GRE: {keys:?}");
    eprintln!(
        "control messages (src, type, call, peer call, reason, result):\n{control}{} GRE packets",
        gre.len()
    );
    assert!(gre.len() >= 30, "{} GRE packets", gre.len());
}
