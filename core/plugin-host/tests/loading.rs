//! Plugin loading (issue 3, "Tests that must exist: plugin loading"): a missing file, a
//! library that is not a plugin, another ABI major version, a failing init, a panicking
//! method, the frozen 1.0 and 1.1 plugins, and the ABI 1.2 additions (a hangup cause, the
//! link congestion signal) with a fallback for the older plugins.
//!
//! abi_stable never unloads a library, and loading a path twice returns the same module, so
//! these tests share loaded plugins freely; each test makes its own instances and host.

mod support;

use std::path::Path;
use std::time::Duration;

use dialgate_plugin_host::abi::{
    ABI_VERSION, AbiVersion, HandleId, HangupCause, HostError, LinkDownCause, LinkId, LinkInfo,
    LogLevel, PluginError, PluginKind, TimerId, Timestamp,
};
use dialgate_plugin_host::{
    CallError, HostServices, InstanceState, LoadError, PluginInstance, host_box, load,
};
use support::{Event, Recorder, SharedRecorder, plugin_path};

/// A PPP LCP Echo-Request (RFC 1661 §5.8), as a frame the core would send.
const FRAME: &[u8] = &[0xFF, 0x03, 0xC0, 0x21, 0x09, 0x01, 0x00, 0x08, 0, 0, 0, 0];

fn instance(name: &str, config: &str) -> (PluginInstance, std::sync::Arc<Recorder>) {
    let rec = Recorder::new();
    let plugin = load(plugin_path(name)).expect("plugin loads");
    let inst = plugin
        .instantiate(config, host_box(SharedRecorder(rec.clone())))
        .expect("instance");
    (inst, rec)
}

fn assert_names(err: &LoadError, path: &Path, needles: &[&str]) {
    let text = err.to_string();
    assert_eq!(err.path(), path);
    assert!(
        text.contains(&path.display().to_string()),
        "{text:?} does not name {}",
        path.display()
    );
    for needle in needles {
        assert!(
            text.contains(needle),
            "{text:?} does not mention {needle:?}"
        );
    }
}

#[test]
fn missing_file_is_refused_naming_it() {
    let path = Path::new(env!("CARGO_TARGET_TMPDIR")).join("no-such-plugin.so");
    let err = load(&path).expect_err("missing");
    assert!(matches!(err, LoadError::NotFound { .. }), "{err:?}");
    assert_names(&err, &path, &["no such file"]);
}

#[test]
fn a_file_that_is_not_a_shared_library_is_refused() {
    let path = Path::new(env!("CARGO_TARGET_TMPDIR")).join("plugin-host-not-elf.so");
    std::fs::write(&path, b"port = \"/dev/ttyS0\"\n").expect("write temp file");
    let err = load(&path).expect_err("not a library");
    assert!(matches!(err, LoadError::NotALibrary { .. }), "{err:?}");
    assert_names(&err, &path, &["not a loadable shared library"]);
}

#[test]
fn a_shared_library_without_our_root_module_is_not_a_plugin() {
    let path = plugin_path("not-a-plugin");
    let err = load(&path).expect_err("not a plugin");
    assert!(matches!(err, LoadError::NotAPlugin { .. }), "{err:?}");
    assert_names(&err, &path, &["not a dialgate plugin", "root module"]);
}

#[test]
fn another_major_version_is_refused_naming_both_versions() {
    let path = plugin_path("wrong-major");
    let err = load(&path).expect_err("ABI 2.0");
    match &err {
        LoadError::AbiVersionMismatch { plugin, host, .. } => {
            assert_eq!(*plugin, AbiVersion { major: 2, minor: 0 });
            assert_eq!(*host, ABI_VERSION);
        }
        other => panic!("expected a version mismatch, got {other:?}"),
    }
    assert_names(
        &err,
        &path,
        &["plugin ABI 2.0", &format!("plugin ABI {ABI_VERSION}")],
    );
}

#[test]
fn same_version_other_types_is_refused_by_the_layout_check() {
    let path = plugin_path("bad-layout");
    let err = load(&path).expect_err("layout differs");
    match &err {
        LoadError::LayoutMismatch {
            plugin,
            host,
            details,
            ..
        } => {
            assert_eq!(*plugin, AbiVersion { major: 1, minor: 0 });
            assert_eq!(*host, ABI_VERSION);
            assert!(!details.is_empty());
        }
        other => panic!("expected a layout mismatch, got {other:?}"),
    }
    // The summary keeps abi_stable's verdict, not its full type dump.
    assert_names(
        &err,
        &path,
        &["plugin ABI 1.0", "types differ", "Error:mismatched package"],
    );
}

#[test]
fn init_failure_names_the_plugin_file_and_field() {
    let path = plugin_path("init-fails");
    let plugin = load(&path).expect("init-fails loads; only new() fails");
    assert_eq!(plugin.info().name, "init-fails");
    assert!(plugin.info().config_schema.contains("\"port\""));
    let err = plugin
        .instantiate(
            "port = \"/dev/nonexistent\"",
            host_box(SharedRecorder(Recorder::new())),
        )
        .expect_err("new fails");
    assert!(
        matches!(&err.error, PluginError::InvalidConfig { message } if message.contains("field `port`")),
        "{err:?}"
    );
    let text = err.to_string();
    assert!(text.contains(&path.display().to_string()), "{text}");
    assert!(text.contains("init-fails 0.1.0"), "{text}");
}

#[test]
fn echo_plugin_reports_itself_and_works() {
    let plugin = load(plugin_path("echo")).expect("echo loads");
    let info = plugin.info();
    assert_eq!(info.name, "echo");
    assert_eq!(info.version, "0.1.0");
    assert_eq!(info.kind, PluginKind::LINK);
    assert_eq!(info.abi_version, ABI_VERSION);
    assert!(info.description.contains("loops"));

    let rec = Recorder::new();
    let mut echo = plugin
        .instantiate(
            "# nothing to configure\n",
            host_box(SharedRecorder(rec.clone())),
        )
        .expect("instance");
    let now = Timestamp::from_nanos(1_000);
    echo.start(now).expect("start");
    assert_eq!(
        rec.take(),
        vec![
            Event::Log(LogLevel::Info, "echo started".into()),
            Event::SetTimer(TimerId(1), now.saturating_add(Duration::from_secs(1))),
        ]
    );

    let link = echo.dial(now, "peer-a").expect("dial");
    echo.send_frame(now, link, FRAME).expect("send");
    echo.on_data(now, HandleId(7), b"AT\r").expect("data");
    echo.hangup(now, link).expect("hangup");
    assert_eq!(
        rec.take(),
        vec![
            Event::LinkUp(link, "peer-a".into()),
            Event::Frame(link, FRAME.to_vec()),
            Event::Write(HandleId(7), b"AT\r".to_vec()),
            Event::LinkDown(link, LinkDownCause::Requested, "hangup".into()),
        ]
    );

    // An ordinary error leaves the instance running.
    let err = echo.send_frame(now, link, FRAME).expect_err("link is gone");
    assert!(
        matches!(&err, CallError::Plugin(PluginError::Unsupported { message }) if message.contains("no link")),
        "{err:?}"
    );
    assert_eq!(echo.state(), &InstanceState::Running);
    echo.stop(now).expect("stop");
}

#[test]
fn echo_plugin_rejects_configuration_it_does_not_take() {
    let plugin = load(plugin_path("echo")).expect("echo loads");
    let err = plugin
        .instantiate("speed = 9600", host_box(SharedRecorder(Recorder::new())))
        .expect_err("no config accepted");
    assert!(
        matches!(&err.error, PluginError::InvalidConfig { message } if message.contains("speed = 9600")),
        "{err:?}"
    );
}

#[test]
fn loading_a_path_twice_gives_independent_instances() {
    let (mut a, rec_a) = instance("echo", "");
    let (mut b, rec_b) = instance("echo", "");
    let now = Timestamp::ZERO;
    assert_eq!(a.dial(now, "a").expect("dial"), LinkId(1));
    assert_eq!(b.dial(now, "b").expect("dial"), LinkId(1));
    assert_eq!(rec_a.take(), vec![Event::LinkUp(LinkId(1), "a".into())]);
    assert_eq!(rec_b.take(), vec![Event::LinkUp(LinkId(1), "b".into())]);
}

#[test]
fn a_panicking_method_disables_only_that_instance() {
    let (mut bad, _) = instance("panics", "");
    let (mut sibling, sibling_rec) = instance("panics", "");
    let (mut echo, echo_rec) = instance("echo", "");
    let now = Timestamp::ZERO;
    let bad_link = bad.dial(now, "bad").expect("dial");
    let sibling_link = sibling.dial(now, "sibling").expect("dial");
    let echo_link = echo.dial(now, "echo").expect("dial");

    // The host survives the panic and gets it as an error.
    let err = bad
        .send_frame(now, bad_link, b"PANIC please")
        .expect_err("panics");
    match &err {
        CallError::Panicked { message } => {
            assert!(message.contains("index out of bounds"), "{message}")
        }
        other => panic!("expected a panic error, got {other:?}"),
    }
    assert!(bad.is_failed());
    assert!(
        matches!(bad.state(), InstanceState::Failed { message } if message.contains("index out of bounds"))
    );
    // The failed instance is not called again.
    assert_eq!(
        bad.send_frame(now, bad_link, FRAME),
        Err(CallError::Disabled)
    );
    assert_eq!(bad.on_timer(now, TimerId(1)), Err(CallError::Disabled));

    // Another instance of the same plugin, and another plugin, carry on.
    sibling_rec.take();
    echo_rec.take();
    sibling
        .send_frame(now, sibling_link, FRAME)
        .expect("sibling works");
    echo.send_frame(now, echo_link, FRAME).expect("echo works");
    assert_eq!(
        sibling_rec.take(),
        vec![Event::Frame(sibling_link, FRAME.to_vec())]
    );
    assert_eq!(
        echo_rec.take(),
        vec![Event::Frame(echo_link, FRAME.to_vec())]
    );

    // The host drops the failed instance and creates a new one.
    drop(bad);
    let (mut again, again_rec) = instance("panics", "");
    let link = again.dial(now, "again").expect("dial");
    again
        .send_frame(now, link, FRAME)
        .expect("new instance works");
    assert_eq!(
        again_rec.take(),
        vec![
            Event::LinkUp(link, "again".into()),
            Event::Frame(link, FRAME.to_vec())
        ]
    );
}

#[test]
fn a_panic_in_any_method_is_caught() {
    let (mut inst, _) = instance("panics", "");
    let err = inst
        .on_timer(Timestamp::ZERO, TimerId(9))
        .expect_err("panics");
    assert!(
        matches!(&err, CallError::Panicked { message } if message.contains("timer 9 fired")),
        "{err:?}"
    );
    assert!(inst.is_failed());
}

#[test]
fn a_panic_in_new_is_an_init_error() {
    let plugin = load(plugin_path("panics")).expect("loads");
    let err = plugin
        .instantiate(
            "panic_in_new = true",
            host_box(SharedRecorder(Recorder::new())),
        )
        .expect_err("new panics");
    assert!(
        matches!(&err.error, PluginError::Panicked { message } if message.contains("asked to panic in new")),
        "{err:?}"
    );
}

#[test]
fn a_panic_while_dropping_an_instance_is_contained() {
    let (inst, _) = instance("panics", "panic_in_drop = true");
    drop(inst);
    // Still here, and the plugin still makes working instances.
    let (mut next, rec) = instance("panics", "");
    let link = next.dial(Timestamp::ZERO, "after-drop").expect("dial");
    assert_eq!(rec.take(), vec![Event::LinkUp(link, "after-drop".into())]);
}

/// A host whose frame callback panics: the plugin gets `HostError::Internal`, not an abort.
struct PanickingHost;

impl HostServices for PanickingHost {
    fn now(&self) -> Timestamp {
        Timestamp::ZERO
    }
    fn log(&self, _: LogLevel, _: &str) {}
    fn link_up(&self, _: LinkId, _: LinkInfo<'_>) -> Result<(), HostError> {
        Ok(())
    }
    fn deliver_frame(&self, _: LinkId, _: &[u8]) -> Result<(), HostError> {
        panic!("host bug in deliver_frame");
    }
}

#[test]
fn a_panicking_host_callback_is_an_error_for_the_plugin() {
    let plugin = load(plugin_path("echo")).expect("echo loads");
    let mut echo = plugin
        .instantiate("", host_box(PanickingHost))
        .expect("instance");
    let link = echo.dial(Timestamp::ZERO, "x").expect("dial");
    let err = echo
        .send_frame(Timestamp::ZERO, link, FRAME)
        .expect_err("host failed");
    assert!(
        matches!(&err, CallError::Plugin(PluginError::Failed { message }) if message.contains("internal host error")),
        "{err:?}"
    );
    assert!(!echo.is_failed(), "a host error is not the plugin's panic");
}

#[test]
fn frozen_v1_plugin_loads_and_works() {
    let plugin = load(plugin_path("frozen-v1")).expect("the frozen 1.0 plugin must keep loading");
    let info = plugin.info();
    assert_eq!(info.name, "frozen-v1");
    assert_eq!(info.abi_version, AbiVersion { major: 1, minor: 0 });
    assert_eq!(info.kind, PluginKind::LINK);

    let rec = Recorder::new();
    let mut inst = plugin
        .instantiate("", host_box(SharedRecorder(rec.clone())))
        .expect("instance");
    let now = Timestamp::from_nanos(5);
    inst.start(now).expect("start");
    let link = inst.dial(now, "frozen-peer").expect("dial");
    inst.send_frame(now, link, FRAME).expect("send");
    inst.on_data(now, HandleId(3), b"\x7e\x7d").expect("data");
    inst.hangup(now, link).expect("hangup");
    inst.stop(now).expect("stop");
    assert_eq!(
        rec.take(),
        vec![
            Event::Log(LogLevel::Info, "frozen-v1 started".into()),
            Event::LinkUp(link, "frozen-peer".into()),
            Event::Frame(link, FRAME.to_vec()),
            Event::Write(HandleId(3), b"\x7e\x7d".to_vec()),
            Event::LinkDown(link, LinkDownCause::Requested, "hangup".into()),
        ]
    );
    // The frozen plugin is shielded too: its panic becomes an error.
    let err = inst
        .send_frame(now, LinkId(99), b"PANIC")
        .expect_err("frozen plugin panics on request");
    assert!(matches!(err, CallError::Panicked { .. }), "{err:?}");
}

#[test]
fn frozen_v1_plugin_gets_hangup_for_a_hangup_with_cause() {
    // ABI 1.2's `hangup_with_cause` is not in a 1.0 plugin's vtable: the host's call falls
    // back to its `hangup`.
    let (mut inst, rec) = instance("frozen-v1", "");
    let now = Timestamp::from_nanos(5);
    let link = inst.dial(now, "frozen-peer").expect("dial");
    inst.hangup_with_cause(now, link, HangupCause::LINE_DROP)
        .expect("hangup with cause");
    assert_eq!(
        rec.take(),
        vec![
            Event::LinkUp(link, "frozen-peer".into()),
            Event::LinkDown(link, LinkDownCause::Requested, "hangup".into()),
        ]
    );
}

#[test]
fn frozen_v1_1_plugin_loads_and_works() {
    let plugin = load(plugin_path("frozen-v1_1")).expect("the frozen 1.1 plugin must keep loading");
    let info = plugin.info();
    assert_eq!(info.name, "frozen-v1_1");
    assert_eq!(info.abi_version, AbiVersion { major: 1, minor: 1 });
    assert_eq!(info.kind, PluginKind::LINK);

    let rec = Recorder::new();
    let mut inst = plugin
        .instantiate("", host_box(SharedRecorder(rec.clone())))
        .expect("instance");
    let now = Timestamp::from_nanos(5);
    inst.start(now).expect("start");
    let link = inst.dial(now, "frozen-peer").expect("dial");
    inst.send_frame(now, link, FRAME).expect("send");
    // ABI 1.2's hangup with a cause reaches the 1.1 plugin's `hangup`.
    inst.hangup_with_cause(now, link, HangupCause::ADMIN)
        .expect("hangup with cause");
    inst.stop(now).expect("stop");
    assert_eq!(
        rec.take(),
        vec![
            Event::Log(LogLevel::Info, "frozen-v1_1 started".into()),
            // ABI 1.1's `set_counter` reaches the 1.2 host.
            Event::Counter("frames".into(), 0),
            Event::LinkUp(link, "frozen-peer".into()),
            Event::Counter("frames".into(), 1),
            Event::Frame(link, FRAME.to_vec()),
            Event::LinkDown(link, LinkDownCause::Requested, "hangup".into()),
        ]
    );
    let err = inst
        .send_frame(now, LinkId(99), b"PANIC")
        .expect_err("frozen plugin panics on request");
    assert!(matches!(err, CallError::Panicked { .. }), "{err:?}");
}

#[test]
fn abi_1_2_hangup_cause_and_congestion_signal_reach_the_other_side() {
    let (mut echo, rec) = instance("echo", "");
    let now = Timestamp::from_nanos(5);
    let a = echo.dial(now, "a").expect("dial");
    let b = echo.dial(now, "b").expect("dial");
    let c = echo.dial(now, "c").expect("dial");
    // Plugin -> host: the congestion signal, per link.
    echo.send_frame(now, a, b"CONGEST").expect("congest");
    echo.send_frame(now, b, b"CONGEST").expect("congest");
    echo.send_frame(now, a, b"UNCONGEST").expect("uncongest");
    // Host -> plugin: the cause of a hangup; UNSPECIFIED is plain `hangup`.
    echo.hangup_with_cause(now, a, HangupCause::LINE_DROP)
        .expect("hangup");
    echo.hangup_with_cause(now, b, HangupCause::SESSION_END)
        .expect("hangup");
    echo.hangup_with_cause(now, c, HangupCause::UNSPECIFIED)
        .expect("hangup");
    assert_eq!(
        rec.take(),
        vec![
            Event::LinkUp(a, "a".into()),
            Event::LinkUp(b, "b".into()),
            Event::LinkUp(c, "c".into()),
            Event::Congested(a, true),
            Event::Congested(b, true),
            Event::Congested(a, false),
            Event::LinkDown(a, LinkDownCause::Requested, "hangup (line drop)".into()),
            Event::LinkDown(b, LinkDownCause::Requested, "hangup (session end)".into()),
            Event::LinkDown(c, LinkDownCause::Requested, "hangup".into()),
        ]
    );
}

#[test]
fn hangup_causes_are_an_open_code_space() {
    // A cause a plugin does not know keeps its number (a newer host may send it).
    assert_eq!(HangupCause(200).to_string(), "unknown cause 200");
    assert_eq!(HangupCause::ADMIN.to_string(), "administrator");
    assert_ne!(HangupCause::IDLE, HangupCause::ADMIN);
}

/// ABI 1.3: a plugin's configuration form. The frozen 1.0 and 1.1 plugins have no
/// `config_ui` field, so no form (their 1.0 `config_schema` alone never drew one); a 1.3
/// plugin without hints has none either.
#[test]
fn plugins_before_abi_1_3_or_without_hints_report_no_form() {
    for name in ["frozen-v1", "frozen-v1_1", "echo", "init-fails"] {
        let plugin = load(plugin_path(name)).expect("loads");
        assert_eq!(plugin.info().form, None, "{name}");
    }
    let frozen = load(plugin_path("frozen-v1")).expect("loads");
    assert!(
        !frozen.info().config_schema.is_empty(),
        "1.0 had a schema field; it is not a form on its own"
    );
}

/// ABI 1.3: a malformed form is the plugin's error, reported naming the place; the plugin
/// still loads and works.
#[test]
fn a_malformed_form_is_reported_and_the_plugin_still_works() {
    let plugin = load(plugin_path("bad-schema")).expect("a bad form does not stop loading");
    let info = plugin.info();
    assert_eq!(info.abi_version, ABI_VERSION);
    let err = match &info.form {
        Some(Err(e)) => e.clone(),
        other => panic!("the form is an error: {other:?}"),
    };
    assert_eq!(err.place, "schema.properties.port.type");
    assert!(err.message.contains("`number`"), "{err}");

    let rec = Recorder::new();
    let mut inst = plugin
        .instantiate("", host_box(SharedRecorder(rec.clone())))
        .expect("instance");
    let now = Timestamp::from_nanos(9);
    let link = inst.dial(now, "peer").expect("dial");
    inst.send_frame(now, link, FRAME).expect("send");
    assert_eq!(
        rec.take(),
        vec![
            Event::LinkUp(link, "peer".into()),
            Event::Frame(link, FRAME.to_vec()),
        ]
    );
}
