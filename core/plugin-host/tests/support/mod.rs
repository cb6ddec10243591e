//! Shared by the plugin-host tests and benchmark: building the test plugins, and a host that
//! records what plugins do.

#![allow(dead_code)]

use std::env::consts::{DLL_PREFIX, DLL_SUFFIX};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use dialgate_plugin_host::HostServices;
use dialgate_plugin_host::abi::{
    HandleId, HostError, LinkDownCause, LinkId, LinkInfo, LogLevel, TimerId, Timestamp,
};

/// The test plugins' packages (under tests/plugins/).
pub const TEST_PLUGINS: &[&str] = &[
    "dialgate-test-plugin-echo",
    "dialgate-test-plugin-not-a-plugin",
    "dialgate-test-plugin-wrong-major",
    "dialgate-test-plugin-bad-layout",
    "dialgate-test-plugin-init-fails",
    "dialgate-test-plugin-bad-schema",
    "dialgate-test-plugin-panics",
    "dialgate-test-plugin-frozen-v1",
    "dialgate-test-plugin-frozen-v1_1",
];

/// The directory the test plugins are built into: the profile directory this test executable
/// was built in (`target/<profile>/deps/<test>` -> `target/<profile>`), so the plugins link
/// the same abi_stable build as the host under test.
fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("the test executable's path");
    let deps = exe.parent().expect("deps/");
    deps.parent().expect("the profile directory").to_path_buf()
}

/// Builds every test plugin once per test process (`cargo build -p ...` into this build's
/// target directory and profile; a no-op when they are up to date, as after
/// `cargo test --workspace`), and returns the directory that holds them.
fn built_plugins_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let profile_dir = profile_dir();
        let target_dir = profile_dir.parent().expect("the target directory");
        let profile = match profile_dir.file_name().and_then(|n| n.to_str()) {
            Some("debug") => "dev",
            Some(other) => other,
            None => panic!("odd profile directory {}", profile_dir.display()),
        };
        let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let mut cmd = Command::new(env!("CARGO"));
        cmd.current_dir(&workspace)
            .args(["build", "--quiet", "--profile", profile, "--target-dir"])
            .arg(target_dir);
        for package in TEST_PLUGINS {
            cmd.args(["-p", package]);
        }
        let status = cmd
            .status()
            .expect("running cargo to build the test plugins");
        assert!(
            status.success(),
            "building the test plugins failed: {status}"
        );
        profile_dir
    })
}

/// The path of a test plugin's shared library, by its short name (`echo`, `frozen-v1`).
pub fn plugin_path(name: &str) -> PathBuf {
    let lib = format!(
        "{DLL_PREFIX}dialgate_test_plugin_{}{DLL_SUFFIX}",
        name.replace('-', "_")
    );
    built_plugins_dir().join(lib)
}

/// What a plugin did to its host, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    Log(LogLevel, String),
    SetTimer(TimerId, Timestamp),
    CancelTimer(TimerId),
    Write(HandleId, Vec<u8>),
    LinkUp(LinkId, String),
    LinkDown(LinkId, LinkDownCause, String),
    Frame(LinkId, Vec<u8>),
    /// ABI 1.1 `set_counter`.
    Counter(String, u64),
    /// ABI 1.2 `set_link_congested`.
    Congested(LinkId, bool),
}

/// A host that records events, and counts delivered frames without allocating.
#[derive(Debug, Default)]
pub struct Recorder {
    events: Mutex<Vec<Event>>,
    /// Frames delivered.
    pub frames: AtomicU64,
    /// Bytes delivered.
    pub bytes: AtomicU64,
    /// Record each frame's bytes as an [`Event::Frame`] (off for benchmarks).
    pub record_frames: bool,
}

impl Recorder {
    /// A recorder that keeps frames.
    pub fn new() -> Arc<Recorder> {
        Arc::new(Recorder {
            record_frames: true,
            ..Recorder::default()
        })
    }

    /// A recorder that only counts frames.
    pub fn counting() -> Arc<Recorder> {
        Arc::new(Recorder::default())
    }

    /// Takes the events recorded so far.
    pub fn take(&self) -> Vec<Event> {
        std::mem::take(&mut *self.events.lock().expect("recorder lock"))
    }

    fn push(&self, e: Event) {
        self.events.lock().expect("recorder lock").push(e);
    }
}

/// Lets one recorder be shared by the test and the plugin's host object.
#[derive(Debug, Clone)]
pub struct SharedRecorder(pub Arc<Recorder>);

impl HostServices for SharedRecorder {
    fn now(&self) -> Timestamp {
        Timestamp::from_nanos(42)
    }
    fn log(&self, level: LogLevel, message: &str) {
        self.0.push(Event::Log(level, message.to_owned()));
    }
    fn set_timer(&self, timer: TimerId, deadline: Timestamp) {
        self.0.push(Event::SetTimer(timer, deadline));
    }
    fn cancel_timer(&self, timer: TimerId) {
        self.0.push(Event::CancelTimer(timer));
    }
    fn write(&self, handle: HandleId, bytes: &[u8]) -> Result<(), HostError> {
        self.0.push(Event::Write(handle, bytes.to_vec()));
        Ok(())
    }
    fn link_up(&self, link: LinkId, info: LinkInfo<'_>) -> Result<(), HostError> {
        self.0
            .push(Event::LinkUp(link, info.peer.as_str().to_owned()));
        Ok(())
    }
    fn link_down(&self, link: LinkId, cause: LinkDownCause, message: &str) {
        self.0
            .push(Event::LinkDown(link, cause, message.to_owned()));
    }
    fn set_counter(&self, name: &str, value: u64) {
        self.0.push(Event::Counter(name.to_owned(), value));
    }
    fn set_link_congested(&self, link: LinkId, congested: bool) {
        self.0.push(Event::Congested(link, congested));
    }
    fn deliver_frame(&self, link: LinkId, frame: &[u8]) -> Result<(), HostError> {
        self.0.frames.fetch_add(1, Ordering::Relaxed);
        self.0
            .bytes
            .fetch_add(frame.len() as u64, Ordering::Relaxed);
        if self.0.record_frames {
            self.0.push(Event::Frame(link, frame.to_vec()));
        }
        Ok(())
    }
}
