//! Shared by routerd's end-to-end tests: building plugins into this build's target directory,
//! temporary state directories, waiting for conditions.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::env::consts::{DLL_PREFIX, DLL_SUFFIX};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

pub mod netns;

/// The profile directory this test executable was built in (`target/<profile>`).
pub fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("the test executable's path");
    exe.parent()
        .and_then(Path::parent)
        .expect("target/<profile>/deps/<test>")
        .to_path_buf()
}

/// Builds `packages` (and the routerd binary when `bin` is set) into this build's target
/// directory and profile, so they link the same abi_stable as the host under test.
pub fn cargo_build(packages: &[&str], bins: &[&str]) {
    static LOCK: Mutex<()> = Mutex::new(());
    let _guard = LOCK
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
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
    for p in packages {
        cmd.args(["-p", p]);
    }
    for b in bins {
        cmd.args(["--bin", b]);
    }
    let status = cmd.status().expect("running cargo build");
    assert!(
        status.success(),
        "cargo build {packages:?} {bins:?}: {status}"
    );
}

/// The shared library of package `lib_name` (underscored crate name) in the profile dir.
pub fn library(lib_name: &str) -> PathBuf {
    profile_dir().join(format!("{DLL_PREFIX}{lib_name}{DLL_SUFFIX}"))
}

/// A test plugin's library by short name (`echo`, `panics`), built on first use.
pub fn test_plugin(name: &str) -> PathBuf {
    let package = format!("dialgate-test-plugin-{name}");
    cargo_build(&[&package], &[]);
    library(&format!("dialgate_test_plugin_{}", name.replace('-', "_")))
}

/// A fresh directory under the system's temporary directory, removed on drop.
#[derive(Debug)]
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        static N: AtomicU32 = AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "dialgate-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Polls `f` every 20 ms until it returns `Some` or `timeout` passes.
pub async fn wait_for<T>(timeout: Duration, mut f: impl AsyncFnMut() -> Option<T>) -> Option<T> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = f().await {
            return Some(v);
        }
        if Instant::now() >= deadline {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The session stop records of the accounting log in routerd's state directory `dir`.
pub fn accounting_stops(dir: &Path) -> Vec<dialgate_routerd::accounting::SessionStop> {
    use dialgate_routerd::accounting::{Record, log_files};
    log_files(&dir.join("accounting.jsonl"), 10)
        .into_iter()
        .flat_map(|f| {
            std::fs::read_to_string(f)
                .unwrap_or_default()
                .lines()
                .filter_map(|l| serde_json::from_str::<Record>(l).ok())
                .collect::<Vec<_>>()
        })
        .filter_map(|r| match r {
            Record::Stop(s) => Some(s),
            _ => None,
        })
        .collect()
}

/// Two pty pairs whose masters are joined by a thread copying bytes both ways: a null-modem
/// cable between the two slave devices ([`PtyCable::a`] and [`PtyCable::b`], by path).
/// Dropping it cuts the cable: the masters close and both slaves hang up, as a modem line
/// does when carrier drops.
#[derive(Debug)]
pub struct PtyCable {
    a: PathBuf,
    b: PathBuf,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
    // Held open so that the masters do not see a hangup while no daemon has the slaves open.
    _slaves: [std::os::fd::OwnedFd; 2],
}

impl PtyCable {
    pub fn new() -> PtyCable {
        use nix::pty::openpty;
        use nix::sys::termios::{SetArg, cfmakeraw, tcgetattr, tcsetattr};
        use std::os::fd::AsFd;
        let one = openpty(None, None).expect("openpty");
        let two = openpty(None, None).expect("openpty");
        for fd in [&one.master, &one.slave, &two.master, &two.slave] {
            // Not inherited by the daemons a test spawns: a master held open in a child
            // would keep the slaves from hanging up when the cable is cut (dropped).
            nix::fcntl::fcntl(
                fd,
                nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::FD_CLOEXEC),
            )
            .unwrap();
            let mut t = tcgetattr(fd).unwrap();
            cfmakeraw(&mut t);
            tcsetattr(fd, SetArg::TCSANOW, &t).unwrap();
        }
        let a = nix::unistd::ttyname(one.slave.as_fd()).unwrap();
        let b = nix::unistd::ttyname(two.slave.as_fd()).unwrap();
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = stop.clone();
        let (ma, mb) = (one.master, two.master);
        let thread = std::thread::spawn(move || pump(ma, mb, &flag));
        PtyCable {
            a,
            b,
            stop,
            thread: Some(thread),
            _slaves: [one.slave, two.slave],
        }
    }

    /// One end (a slave device path).
    pub fn a(&self) -> &Path {
        &self.a
    }

    /// The other end.
    pub fn b(&self) -> &Path {
        &self.b
    }
}

impl Drop for PtyCable {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn pump(a: std::os::fd::OwnedFd, b: std::os::fd::OwnedFd, stop: &std::sync::atomic::AtomicBool) {
    use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
    use std::os::fd::AsFd;
    let mut buf = [0u8; 4096];
    while !stop.load(Ordering::Relaxed) {
        let mut fds = [
            PollFd::new(a.as_fd(), PollFlags::POLLIN),
            PollFd::new(b.as_fd(), PollFlags::POLLIN),
        ];
        if poll(&mut fds, PollTimeout::from(50u16)).unwrap_or(0) == 0 {
            continue;
        }
        let ready: Vec<bool> = fds
            .iter()
            .map(|f| f.revents().is_some_and(|r| r.contains(PollFlags::POLLIN)))
            .collect();
        for (i, (from, to)) in [(&a, &b), (&b, &a)].into_iter().enumerate() {
            if !ready[i] {
                continue;
            }
            match nix::unistd::read(from.as_fd(), &mut buf) {
                Ok(n) if n > 0 => {
                    let mut rest = &buf[..n];
                    while !rest.is_empty() {
                        match nix::unistd::write(to.as_fd(), rest) {
                            Ok(w) => rest = &rest[w..],
                            Err(nix::errno::Errno::EAGAIN | nix::errno::Errno::EINTR) => {
                                std::thread::sleep(Duration::from_millis(1));
                            }
                            Err(_) => break,
                        }
                    }
                }
                _ => std::thread::sleep(Duration::from_millis(5)),
            }
        }
    }
}

/// A child process killed (SIGKILL) and reaped on drop unless it already exited.
#[derive(Debug)]
pub struct Child(pub Option<std::process::Child>);

impl Child {
    /// The process id.
    pub fn pid(&self) -> u32 {
        self.0.as_ref().map_or(0, std::process::Child::id)
    }

    /// Sends SIGTERM and waits up to `timeout` for the exit status.
    pub fn terminate(&mut self, timeout: Duration) -> Option<std::process::ExitStatus> {
        let child = self.0.as_mut()?;
        let pid = nix::unistd::Pid::from_raw(i32::try_from(child.id()).ok()?);
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
        let deadline = Instant::now() + timeout;
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                self.0 = None;
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Child {
    fn drop(&mut self) {
        if let Some(mut c) = self.0.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// The path of one of routerd's binaries (cargo builds them for integration tests).
pub fn binary(name: &str) -> PathBuf {
    match name {
        "routerd" => PathBuf::from(env!("CARGO_BIN_EXE_routerd")),
        "routerctl" => PathBuf::from(env!("CARGO_BIN_EXE_routerctl")),
        other => profile_dir().join(other),
    }
}

/// Runs `routerctl --socket SOCKET ARGS...` (with `stdin` fed in) and returns the exit
/// code and standard output.
pub fn routerctl(socket: &Path, args: &[&str], stdin: &str) -> (i32, String) {
    use std::io::Write as _;
    let mut child = Command::new(binary("routerctl"))
        .arg("--socket")
        .arg(socket)
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::inherit())
        .spawn()
        .expect("running routerctl");
    if let Some(mut input) = child.stdin.take() {
        let _ = input.write_all(stdin.as_bytes());
    }
    let out = child.wait_with_output().expect("routerctl output");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}
