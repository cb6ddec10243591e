//! The demo over a real pty pair: two engines, async HDLC, MS-CHAPv2, MPPE-128, IPCP, pings.

use std::process::Command;

#[test]
fn two_engines_negotiate_over_a_pty_and_ping_through_mppe() {
    let out = Command::new(env!("CARGO_BIN_EXE_dialgate-ppp-demo"))
        .args(["--pings", "3", "--timeout", "30"])
        .output()
        .expect("run the demo");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "demo failed:\n{stdout}\n{stderr}");
    for want in [
        "authenticated user \"alice\" (MsChapV2)",
        "CCP up: MPPE Bits128, stateless",
        "IPCP up: local 192.168.77.100 peer 192.168.77.1",
        "echo reply 3 from 192.168.77.1",
        "3 of 3 echo requests answered",
        "link down: closed by administrator",
    ] {
        assert!(stdout.contains(want), "missing {want:?} in:\n{stdout}");
    }
}

#[test]
fn bad_arguments_are_reported_not_panicked() {
    let out = Command::new(env!("CARGO_BIN_EXE_dialgate-ppp-demo"))
        .args(["--pings", "lots"])
        .output()
        .expect("run the demo");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--pings lots"));
}
