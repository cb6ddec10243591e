//! Packet sockets as the host offers them to plugins (`Host::open_packet`): in a network
//! namespace the test creates, with a veth pair, frames of ethertype 0x8137 (IPX) written on
//! one end's handle arrive on the other end's handle with their Ethernet header; frames of
//! other ethertypes and the host's own frames are not delivered. Needs root (CI runs as
//! root); fails without it unless `DIALGATE_SKIP_ROOT_TESTS=1`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fs::File;
use std::os::fd::AsRawFd;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use dialgate_plugin_host::HostServices;
use dialgate_plugin_host::abi::{HandleId, HostError};
use dialgate_ppp::auth::LocalUsers;
use dialgate_routerd::config::{AccountingConfig, LimitsConfig, LinkMode, LinkRole};
use dialgate_routerd::daemon::accounting::Accounting;
use dialgate_routerd::daemon::actor::{ActorMsg, PluginHost, instance_shared};
use dialgate_routerd::daemon::router::Router;
use dialgate_routerd::daemon::spec::LinkSpec;
use tokio::sync::mpsc;

fn ip(args: &[&str]) {
    let out = Command::new("ip").args(args).output().expect("running ip");
    assert!(
        out.status.success(),
        "ip {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A network namespace deleted on drop.
struct NetNs(String);

impl NetNs {
    fn new() -> NetNs {
        static N: AtomicU32 = AtomicU32::new(0);
        let name = format!(
            "dgpkt-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        );
        ip(&["netns", "add", &name]);
        NetNs(name)
    }
}

impl Drop for NetNs {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.0]).status();
    }
}

fn host() -> (PluginHost, mpsc::Receiver<ActorMsg>) {
    let accounting = Accounting::start(
        &AccountingConfig {
            enabled: false,
            ..AccountingConfig::default()
        },
        "/nonexistent".into(),
    );
    let router = Arc::new(Router::new(
        None,
        LocalUsers::new(),
        LimitsConfig::default(),
        "test".into(),
        accounting,
    ));
    let spec = LinkSpec {
        name: "lan".into(),
        plugin: "ipx-test".into(),
        role: LinkRole::Answer,
        mode: LinkMode::Terminate,
        relay_to: None,
        instance_config: String::new(),
        engine: None,
        lan_protocol: true,
    };
    let (shared, rx) = instance_shared(spec, router);
    (PluginHost(shared), rx)
}

fn ethernet(dst: [u8; 6], src: [u8; 6], ethertype: u16, payload: &[u8]) -> Vec<u8> {
    let mut f = Vec::new();
    f.extend_from_slice(&dst);
    f.extend_from_slice(&src);
    f.extend_from_slice(&ethertype.to_be_bytes());
    f.extend_from_slice(payload);
    f
}

/// The next frame delivered to the actor queue, or `None` within `wait`.
async fn next_data(
    rx: &mut mpsc::Receiver<ActorMsg>,
    wait: Duration,
) -> Option<(HandleId, Vec<u8>)> {
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        match tokio::time::timeout_at(deadline, rx.recv()).await {
            Ok(Some(ActorMsg::Data { handle, buf })) => return Some((handle, buf)),
            Ok(Some(_)) => continue,
            Ok(None) | Err(_) => return None,
        }
    }
}

#[test]
fn packet_sockets_carry_ipx_frames_across_a_veth_pair() {
    if !dialgate_test_support::require_root("a network namespace and packet sockets") {
        return;
    }
    let ns = NetNs::new();
    let path = format!("/run/netns/{}", ns.0);
    let body = std::thread::spawn(move || {
        let file = File::open(&path).unwrap();
        // SAFETY: setns on a namespace file this thread opened; only this thread moves.
        let r = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
        assert_eq!(r, 0, "setns {path}");
        // This thread (and the `ip` processes it starts) now live in the namespace.
        ip(&["link", "add", "pk0", "type", "veth", "peer", "name", "pk1"]);
        ip(&["link", "set", "pk0", "address", "02:00:00:00:00:01"]);
        ip(&["link", "set", "pk1", "address", "02:00:00:00:00:02"]);
        ip(&["link", "set", "pk0", "up"]);
        ip(&["link", "set", "pk1", "up"]);
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let (host, mut rx) = host();
            // Bad arguments are refused with a typed error.
            assert!(matches!(
                host.open_packet("", 0x8137),
                Err(HostError::Invalid { .. })
            ));
            assert!(matches!(
                host.open_packet("pk0", 0),
                Err(HostError::Invalid { .. })
            ));
            assert!(matches!(
                host.open_packet("no-such-if", 0x8137),
                Err(HostError::Io { errno, .. }) if errno == libc::ENODEV
            ));
            let a = host
                .open_packet("pk0", 0x8137)
                .expect("packet socket on pk0");
            let b = host
                .open_packet("pk1", 0x8137)
                .expect("packet socket on pk1");
            assert_ne!(a, b);
            let mac_a = [2, 0, 0, 0, 0, 1];
            let mac_b = [2, 0, 0, 0, 0, 2];

            // An IPv4 frame is not for these sockets; a frame shorter than a header is
            // refused.
            host.write(a, &ethernet(mac_b, mac_a, 0x0800, &[0x45; 40]))
                .unwrap();
            assert!(matches!(
                host.write(a, &[1, 2, 3]),
                Err(HostError::Invalid { .. })
            ));
            // An IPX frame (ethertype 0x8137): checksum FFFF, length, transport control, type,
            // then the payload.
            let mut ipx = vec![0xff, 0xff, 0x00, 0x26, 0x00, 0x04];
            ipx.resize(30, 0);
            ipx.extend_from_slice(b"dialgate");
            let frame = ethernet(mac_b, mac_a, 0x8137, &ipx);
            host.write(a, &frame).unwrap();
            let (handle, got) = next_data(&mut rx, Duration::from_secs(5))
                .await
                .expect("the IPX frame arrives");
            assert_eq!(handle, b, "delivered on the other end's handle");
            assert_eq!(got, frame, "with its Ethernet header, unchanged");
            // The sender does not get its own frame back, and the IPv4 frame went nowhere.
            assert!(
                next_data(&mut rx, Duration::from_millis(300))
                    .await
                    .is_none()
            );

            // And back.
            let reply = ethernet(mac_a, mac_b, 0x8137, &ipx);
            host.write(b, &reply).unwrap();
            let (handle, got) = next_data(&mut rx, Duration::from_secs(5))
                .await
                .expect("the reply arrives");
            assert_eq!((handle, got), (a, reply));

            // A closed handle refuses writes.
            host.close(a);
            assert_eq!(host.write(a, &frame), Err(HostError::Closed));
        });
    });
    body.join().expect("the namespace test body");
}
