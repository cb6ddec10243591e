//! Root, in network namespaces: `pptp-loadgen` against `pptp-testserver` over real TCP and raw
//! GRE sockets, from many source addresses, with both GRE socket strategies. Every session
//! must come up (control, call, MS-CHAPv2, MPPE-128, IPCP), pass an echo and close cleanly.

mod common;

use std::path::Path;
use std::time::Duration;

use common::{Lab, SRV_ADDR};
use dialgate_test_support::require_root;

fn run(gre_socket: &str, calls: &str, threads: &str) {
    let mut lab = Lab::new("ts", 10);
    lab.spawn(
        &lab.srv.clone(),
        "testserver",
        Path::new(env!("CARGO_BIN_EXE_pptp-testserver")),
        &[
            "--listen",
            &SRV_ADDR.to_string(),
            "--user",
            "load{n}",
            "--users",
            "5",
            "--password",
            "secret",
        ],
    );
    assert!(
        lab.wait_listening(Duration::from_secs(10)),
        "{}",
        lab.log("testserver")
    );
    let (code, report, output) = lab.loadgen(
        &[
            "--target",
            &SRV_ADDR.to_string(),
            "--sources",
            "10.99.0.1-10.99.0.10",
            "--user",
            "load{n}",
            "--users",
            "5",
            "--password",
            "secret",
            "--sessions",
            "50",
            "--in-flight",
            "16",
            "--calls-per-connection",
            calls,
            "--gre-socket",
            gre_socket,
            "--pings",
            "2",
            "--hold",
            "1",
            "--report-interval",
            "0",
            "--threads",
            threads,
        ],
        Duration::from_secs(60),
    );
    assert_eq!(code, 0, "{output}\n{}", lab.log("testserver"));
    assert_eq!(report["up"], 50, "{report}");
    assert_eq!(report["peak"].as_u64().map(|p| p > 0), Some(true));
    assert_eq!(report["failed"], 0, "{report}");
    assert_eq!(report["closed"], 50, "every session closed by us: {report}");
    assert_eq!(report["echo_answered"], 100, "{report}");
    assert_eq!(report["gre"]["tx_errors"], 0, "{report}");
    // Without the workers' filters each would see the other's GRE too (half unmatched); a
    // late packet after a call closed may be.
    let (rx, unmatched) = (&report["gre"]["rx"], &report["gre"]["rx_unmatched"]);
    assert!(
        unmatched.as_u64().unwrap_or(u64::MAX) * 10 < rx.as_u64().unwrap_or(0),
        "{report}"
    );
}

#[test]
fn fifty_sessions_shared_gre_socket() {
    if !require_root("network namespaces and raw GRE sockets") {
        return;
    }
    run("shared", "1", "1");
}

/// Two workers split the sources by address parity; each one's shared GRE socket filters on
/// its own destinations, so nothing arrives at the wrong worker.
#[test]
fn fifty_sessions_two_workers_shared_gre_sockets() {
    if !require_root("network namespaces and raw GRE sockets") {
        return;
    }
    run("shared", "1", "2");
}

#[test]
fn fifty_sessions_per_source_gre_sockets_five_calls_per_connection() {
    if !require_root("network namespaces and raw GRE sockets") {
        return;
    }
    run("per-source", "5", "2");
}
