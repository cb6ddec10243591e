//! Boots the aarch64 appliance image (`appliance-image/build.sh aarch64`, cross-built, under
//! `target/`) in `qemu-system-aarch64 -M virt` with TCG from AAVMF (UEFI) through
//! `appliance-image/run-qemu.sh`, and checks, within bounded times:
//!
//! - the web UI answers over HTTPS on the forwarded port (QEMU start to the first answer is
//!   the boot time this test bounds);
//! - routerd answers (metrics) and is the aarch64 build;
//! - both plugins, cross-built as shared objects, are dlopened by routerd in the box: a
//!   configuration with a PPTP link and a serial link (on the emulated PCI serial card) is
//!   applied with routerctl, and both plugins report running and open their listener / port.
//!
//! `tests/run-all.sh` builds the image before `cargo test`;
//! `DIALGATE_APPLIANCE_IMAGE_AARCH64` points at another one.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::{Appliance, SECOND, image};

/// QEMU start to the web UI answering over HTTPS, under TCG: about 4x what was measured on this
/// 2-core machine under load (see appliance-image/README.md, "Boot time").
const BOOT_LIMIT: Duration = Duration::from_secs(150);

/// Both plugins, a PPTP server on the LAN side and a serial answer link on the first port of
/// the emulated PCI card (8250_pci: guest ttyS0 on aarch64).
fn box_config() -> String {
    common::box_config(
        "dialgate-arm",
        r#"
[[link]]
name = "pptp-in"
plugin = "pptp"
role = "answer"
pool = "office"
[link.config]
listen = ["10.0.2.15:1723"]

[[link]]
name = "modem0"
plugin = "serial"
role = "answer"
pool = "office"
[[link.config.ports]]
name = "modem0"
device = "/dev/ttyS0"
speed = 115200
"#,
    )
}

#[test]
fn aarch64_uefi_boot_serves_web_ui_and_loads_plugins() {
    let mut box_ = Appliance::start(&image("aarch64"), &["--no-tap"]);
    let status = box_.web_ui_status(BOOT_LIMIT);
    let boot = box_.started.elapsed();
    eprintln!(
        "aarch64 UEFI boot, QEMU start to the web UI answering: {:.1} s",
        boot.as_secs_f64()
    );
    assert!((200..400).contains(&status), "web UI answered {status}");
    assert!(
        boot < BOOT_LIMIT,
        "the web UI answered after {boot:?} (limit {BOOT_LIMIT:?})"
    );

    box_.wait_for("@@DIALGATE routerd up", 0, 60 * SECOND);
    let metrics = box_.metrics(60 * SECOND);
    assert!(metrics.contains("dialgate_uptime_seconds"), "{metrics}");
    let arch = box_.ok("uname -m");
    assert!(arch.contains("aarch64"), "{arch}");
    let interp = box_.ok("ls -l /lib/ld-linux-aarch64.so.1");
    assert!(interp.contains("ld-linux-aarch64.so.1"), "{interp}");

    // Both plugins dlopened by routerd, each serving its link.
    box_.write_file("/tmp/arm.toml", &box_config());
    box_.ok("routerctl config apply /tmp/arm.toml");
    let running = |p: &str| {
        format!("routerctl plugins | awk '$1 == \"{p}\" && $5 == \"running\"' | grep -q .")
    };
    let (status, out) = box_.sh(
        &format!(
            "for i in $(seq 60); do {{ {} && {}; }} && break; sleep 1; done; routerctl plugins",
            running("pptp"),
            running("serial")
        ),
        90 * SECOND,
    );
    assert_eq!(status, 0, "{out}");
    for p in ["pptp", "serial"] {
        let (status, _) = box_.sh(&running(p), 30 * SECOND);
        assert_eq!(
            status,
            0,
            "plugin {p} is not running:\n{out}\n{}",
            box_.ok("tail -20 /var/log/routerd.log")
        );
    }
    assert!(out.contains("libdialgate_plugin_pptp.so"), "{out}");
    assert!(out.contains("libdialgate_plugin_serial.so"), "{out}");
    box_.ok(
        "for i in $(seq 100); do netstat -ltn | grep -q '10.0.2.15:1723 ' && break; \
         sleep 0.1; done; netstat -ltn | grep -q '10.0.2.15:1723 '",
    );
    // The serial link holds its port open.
    box_.ok("ls -l /proc/$(pidof routerd)/fd | grep -q /dev/ttyS0");
}
