//! The built cdylib loads through `dialgate_plugin_host::load` like any plugin routerd will
//! load, describes itself, refuses a bad configuration naming the field, and carries PPP
//! frames over a pty when driven through the ABI.

mod support;

use std::env::consts::{DLL_PREFIX, DLL_SUFFIX};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

use dialgate_plugin_host::abi::{ABI_VERSION, PluginError, PluginKind};
use dialgate_plugin_host::{host_box, load};
use dialgate_wire::hdlc::DEFAULT_ACCM;
use support::{Event, PATIENCE, Pty, PtyHost, answer_config, frames, hdlc, pump_until, unhdlc};

/// Builds this package's cdylib into the target directory and profile this test was built
/// with (a no-op after `cargo test`, which already built it), and returns its path.
fn plugin_path() -> &'static Path {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| {
        let exe = std::env::current_exe().expect("the test executable's path");
        // target/<profile>/deps/<test> -> target/<profile>
        let profile_dir = exe
            .parent()
            .and_then(Path::parent)
            .expect("the profile directory");
        let target_dir = profile_dir.parent().expect("the target directory");
        let profile = match profile_dir.file_name().and_then(|n| n.to_str()) {
            Some("debug") => "dev",
            Some(other) => other,
            None => panic!("odd profile directory {}", profile_dir.display()),
        };
        let status = Command::new(env!("CARGO"))
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .args([
                "build",
                "--quiet",
                "--lib",
                "--profile",
                profile,
                "--target-dir",
            ])
            .arg(target_dir)
            .args(["-p", env!("CARGO_PKG_NAME")])
            .status()
            .expect("running cargo to build the plugin");
        assert!(
            status.success(),
            "building the serial plugin failed: {status}"
        );
        profile_dir.join(format!("{DLL_PREFIX}dialgate_plugin_serial{DLL_SUFFIX}"))
    })
}

#[test]
fn the_cdylib_loads_as_a_plugin() {
    let plugin = load(plugin_path()).expect("the serial plugin loads");
    let info = plugin.info();
    assert_eq!(info.name, "serial");
    assert_eq!(info.kind, PluginKind::LINK);
    assert_eq!(info.abi_version, ABI_VERSION);
    assert_eq!(info.version, env!("CARGO_PKG_VERSION"));
    assert!(info.description.contains("RFC 1662"));
    assert_eq!(info.config_schema, dialgate_plugin_serial::config::SCHEMA);
    // ABI 1.3: the host read and parsed its configuration form.
    let form = match &info.form {
        Some(Ok(form)) => form,
        other => panic!("the serial plugin has a form: {other:?}"),
    };
    assert_eq!(form.title, "Serial ports and modems");
    assert!(form.field("ports").is_some());
}

#[test]
fn the_loaded_plugin_refuses_a_bad_config_naming_the_field() {
    let plugin = load(plugin_path()).expect("loads");
    let err = plugin
        .instantiate(
            "[[ports]]\nname = \"p0\"\ndevice = \"/dev/ttyS0\"\nflow_control = \"cts\"\n",
            host_box(PtyHost::new()),
        )
        .expect_err("bad flow control");
    match &err.error {
        PluginError::InvalidConfig { message } => {
            assert!(message.starts_with("ports[0].flow_control: "), "{message}");
            assert!(message.contains("`rtscts`"), "{message}");
        }
        other => panic!("{other:?}"),
    }
    assert!(err.to_string().contains("serial"), "{err}");
}

#[test]
fn the_loaded_plugin_carries_frames_over_a_pty() {
    let plugin = load(plugin_path()).expect("loads");
    let pty = Pty::new();
    let host = PtyHost::new();
    let mut instance = plugin
        .instantiate(&answer_config(&pty.path), host_box(host.clone()))
        .expect("instance");
    instance.start(host.clock()).expect("start");
    let link = match host.take_quiet().as_slice() {
        [Event::Opened { .. }, Event::LinkUp { link, .. }] => *link,
        other => panic!("{other:?}"),
    };
    let lcp = [
        0xFF, 0x03, 0xC0, 0x21, 0x09, 0x01, 0x00, 0x08, 0x7E, 0x7D, 0x00, 0x11,
    ];
    pty.write(&hdlc(&[&lcp], DEFAULT_ACCM));
    let events = pump_until(&host, &mut instance, |e| !frames(e).is_empty());
    assert_eq!(frames(&events), vec![(link, lcp.to_vec())]);
    instance
        .send_frame(host.clock(), link, &lcp)
        .expect("send_frame");
    let wire = pty.read(PATIENCE, Duration::from_millis(50));
    assert_eq!(unhdlc(&wire, DEFAULT_ACCM), vec![lcp.to_vec()]);
    instance.stop(host.clock()).expect("stop");
}
