//! Image upgrades through routerd's API and routerctl (`routerctl system upgrade`,
//! `POST /v1/system/upgrade`): a bundle is checked and staged in `system.upgrade_dir` for the
//! appliance's installer; a bundle for another architecture, a damaged one, or one sent to a
//! system without an upgrade directory is refused and leaves what was staged alone; the
//! status reports the installer's and the boot's records.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use dialgate_routerd::api::upgrade::UpgradeStatus;
use dialgate_routerd::upgrade::build_bundle;
use support::routerd::{spawn_routerd, wait_for_socket};
use support::{TempDir, routerctl};

fn status(socket: &std::path::Path) -> UpgradeStatus {
    let (code, out) = routerctl(socket, &["--json", "system", "upgrade-status"], "");
    assert_eq!(code, 0, "{out}");
    serde_json::from_str(&out).unwrap()
}

#[test]
fn routerctl_stages_checked_bundles_for_the_installer() {
    let dir = TempDir::new("upgrade-api");
    let spool = dir.path().join("upgrade");
    std::fs::create_dir(&spool).unwrap();
    let socket = dir.path().join("routerd.sock");
    let config = format!(
        "[system]\nstate_dir = \"{state}\"\nplugin_dir = \"{state}\"\ndrop_capabilities = false\n\
         upgrade_dir = \"{spool}\"\n[management]\nsocket = \"{socket}\"\n",
        state = dir.path().display(),
        spool = spool.display(),
        socket = socket.display(),
    );
    let file = dir.path().join("routerd.toml");
    std::fs::write(&file, config).unwrap();
    let log = dir.path().join("routerd.log");
    let _routerd = spawn_routerd(&file, &log, &[]);
    wait_for_socket(&socket, &log);

    let s = status(&socket);
    assert!(s.available);
    assert_eq!(s.state, "idle");

    // A good bundle for this machine's architecture: staged with its request.
    let root = vec![0x5au8; 70_000];
    let files: [(&str, &[u8]); 3] = [
        ("root.sqfs", &root),
        ("vmlinuz", b"kernel"),
        ("initrd.img", b"initramfs"),
    ];
    let arch = std::env::consts::ARCH;
    let good = dir.path().join("good.upgrade");
    std::fs::write(&good, build_bundle(arch, "v2-test", &files)).unwrap();
    let (code, out) = routerctl(
        &socket,
        &["system", "upgrade", good.to_str().unwrap(), "--tries", "2"],
        "",
    );
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("v2-test"), "{out}");
    let ready = spool.join("ready");
    assert_eq!(std::fs::read(ready.join("root.sqfs")).unwrap(), root);
    assert_eq!(std::fs::read(ready.join("vmlinuz")).unwrap(), b"kernel");
    assert_eq!(
        std::fs::read_to_string(ready.join("request")).unwrap(),
        "tries=2\nreboot=0\n"
    );
    assert!(!spool.join("upload.part").exists());
    let s = status(&socket);
    assert_eq!(s.state, "staged");
    assert_eq!(s.target_version.as_deref(), Some("v2-test"));

    // Refused: another architecture, a damaged file, too many tries. What was staged stays.
    let other = if arch == "x86_64" {
        "aarch64"
    } else {
        "x86_64"
    };
    let foreign = dir.path().join("foreign.upgrade");
    std::fs::write(&foreign, build_bundle(other, "v3", &files)).unwrap();
    let (code, _) = routerctl(
        &socket,
        &["system", "upgrade", foreign.to_str().unwrap()],
        "",
    );
    assert_eq!(code, 1);
    let mut damaged = build_bundle(arch, "v4", &files);
    let at = damaged.len() / 2;
    damaged[at] ^= 0x01;
    let bad = dir.path().join("bad.upgrade");
    std::fs::write(&bad, damaged).unwrap();
    let (code, _) = routerctl(&socket, &["system", "upgrade", bad.to_str().unwrap()], "");
    assert_eq!(code, 1);
    let (code, _) = routerctl(
        &socket,
        &["system", "upgrade", good.to_str().unwrap(), "--tries", "10"],
        "",
    );
    assert_eq!(code, 1);
    assert_eq!(status(&socket).target_version.as_deref(), Some("v2-test"));

    // The installer's and the boot's records (as dg-upgrade writes them).
    std::fs::remove_dir_all(&ready).unwrap();
    std::fs::write(
        spool.join("state"),
        "state=installed\nslot=b\nversion=v2-test\nmessage=boots at the next reboot\n",
    )
    .unwrap();
    std::fs::write(
        spool.join("boot"),
        "slot=a\nversion=v1\nfallback=slot b (v0) did not come up in its boot tries\n",
    )
    .unwrap();
    let (code, out) = routerctl(&socket, &["system", "upgrade-status"], "");
    assert_eq!(code, 0);
    assert!(out.contains("running: slot a (v1)"), "{out}");
    assert!(out.contains("installed v2-test (slot b)"), "{out}");
    assert!(out.contains("fell back: slot b (v0)"), "{out}");

    // Without the directory the system takes no upgrades.
    std::fs::remove_dir_all(&spool).unwrap();
    assert!(!status(&socket).available);
    let (code, _) = routerctl(&socket, &["system", "upgrade", good.to_str().unwrap()], "");
    assert_eq!(code, 1);
}
