//! The interop VM on its own (root; the image of `tests/vm/build.sh`): Debian's kernel boots
//! under QEMU (TCG) on a tap device in a namespace this test makes, has PPP (`/dev/ppp`,
//! ppp_generic, ppp_async, ppp_mppe), runs pppd 2.4.9, and its pptpd answers a
//! Start-Control-Connection-Request from the host side of the tap (RFC 2637 §2.1, §2.2) and
//! a Stop-Control-Connection-Request (§2.3, §2.4).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::time::Duration;

use dialgate_test_support::require_root;
use dialgate_test_support::vm::{Netns, Vm, VmImage, VmOptions};
use dialgate_wire::pptp::{
    BearerCapabilities, FixedStr, FramingCapabilities, PROTOCOL_VERSION, Repr,
    StartControlConnectionRequest, StartResult, StopControlConnectionRequest, StopReason,
    StopResult, TCP_PORT, message_len,
};

const HOST: Ipv4Addr = Ipv4Addr::new(10, 77, 9, 1);
const GUEST: Ipv4Addr = Ipv4Addr::new(10, 77, 9, 2);
const SECOND: Duration = Duration::from_secs(1);

const PPTPD_CONF: &str = "option /etc/ppp/pptpd-options\nlocalip 10.77.10.1\n\
                          remoteip 10.77.10.100-109\n";

/// Reads one whole control message from `s`.
fn read_message(s: &mut TcpStream) -> Repr {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 256];
    loop {
        if let Some(len) = message_len(&buf).expect("a valid PPTP header") {
            return Repr::parse(&buf[..len]).expect("a valid PPTP control message");
        }
        let n = s.read(&mut chunk).expect("reading the control connection");
        assert!(n > 0, "pptpd closed the control connection early");
        buf.extend_from_slice(&chunk[..n]);
    }
}

fn send(s: &mut TcpStream, m: impl Into<Repr>) {
    let mut out = Vec::new();
    m.into().push(&mut out).unwrap();
    s.write_all(&out).unwrap();
}

#[test]
fn vm_boots_with_ppp_and_pptpd_answers_sccrq_rfc2637_2_1() {
    if !require_root("a network namespace and a tap device for the interop VM") {
        return;
    }
    let image = VmImage::require();
    let ns = Netns::new("boot").unwrap();
    ns.add_tap("tap0", HOST, 24).unwrap();
    let options = VmOptions::new("tap0", GUEST, 24).file("/etc/pptpd.conf", PPTPD_CONF, 0o644);
    let mut vm = Vm::boot(&image, &ns, &options).unwrap_or_else(|e| panic!("{e}"));
    eprintln!(
        "interop VM booted in {:.2} s (guest uptime at /init's network setup: {:?} s)",
        vm.boot_time().as_secs_f64(),
        vm.guest_boot_time()
    );

    // PPP in the guest kernel.
    vm.sh("test -c /dev/ppp", 10 * SECOND);
    let modules = vm.sh("cut -d' ' -f1 /proc/modules", 10 * SECOND);
    for m in ["ppp_generic", "ppp_async", "ppp_mppe", "slhc", "virtio_net"] {
        assert!(
            modules.lines().any(|l| l.trim() == m),
            "{m} not loaded: {modules}"
        );
    }
    let version = vm.sh("pppd --version 2>&1", 10 * SECOND);
    assert!(version.contains("pppd version 2.4.9"), "{version}");

    // The tap works both ways.
    let ping = vm.sh(&format!("ping -c 2 -W 5 {HOST}"), 20 * SECOND);
    assert!(ping.contains("2 packets received"), "{ping}");

    // pptpd listens on 1723 ...
    vm.sh("pptpd", 10 * SECOND);
    vm.sh(
        "for i in $(seq 100); do netstat -ltn | grep -q ':1723 ' && exit 0; sleep 0.1; done; \
         exit 1",
        20 * SECOND,
    );

    // ... and answers an SCCRQ from the host's side of the tap with a successful SCCRP,
    // then a Stop-Control-Connection-Request with its reply.
    let (reply, stop_reply) = ns
        .run_in(|| {
            let addr = SocketAddr::from((GUEST, TCP_PORT));
            let mut s = TcpStream::connect_timeout(&addr, 20 * SECOND).expect("TCP to pptpd");
            s.set_read_timeout(Some(30 * SECOND)).unwrap();
            send(
                &mut s,
                StartControlConnectionRequest {
                    protocol_version: PROTOCOL_VERSION,
                    framing_capabilities: FramingCapabilities::ASYNCHRONOUS
                        | FramingCapabilities::SYNCHRONOUS,
                    bearer_capabilities: BearerCapabilities::ANALOG | BearerCapabilities::DIGITAL,
                    maximum_channels: 0,
                    firmware_revision: 1,
                    host_name: FixedStr::new_truncated(b"dialgate-test"),
                    vendor: FixedStr::new_truncated(b"dialgate"),
                },
            );
            let reply = read_message(&mut s);
            send(
                &mut s,
                StopControlConnectionRequest {
                    reason: StopReason::None,
                },
            );
            (reply, read_message(&mut s))
        })
        .unwrap();
    let Repr::StartControlConnectionReply(sccrp) = reply else {
        panic!("pptpd answered an SCCRQ with {reply:?}");
    };
    assert_eq!(sccrp.result, StartResult::Success, "{sccrp:?}");
    assert_eq!(sccrp.protocol_version, PROTOCOL_VERSION);
    assert!(!sccrp.host_name.is_empty(), "{sccrp:?}");
    let Repr::StopControlConnectionReply(stop) = stop_reply else {
        panic!("pptpd answered a StopCCRQ with {stop_reply:?}");
    };
    assert_eq!(stop.result, StopResult::Ok, "{stop:?}");

    let log = vm.shutdown(30 * SECOND).unwrap_or_else(|e| panic!("{e}"));
    assert!(log.contains("@@DGVM poweroff"), "{log}");
}
