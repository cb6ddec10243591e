//! Building workspace crates from inside a test, temporary directories, child processes and
//! a null-modem cable made of ptys: what the daemon-level tests of routerd, the web UI and the
//! appliance image all need.
//!
//! Test-only code: failures panic with what went wrong, so a broken environment fails the
//! test loudly instead of being skipped.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// The profile directory the running test executable was built in (`target/<profile>`).
pub fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap_or_else(|e| panic!("the test executable's path: {e}"));
    exe.parent()
        .and_then(Path::parent)
        .unwrap_or_else(|| panic!("{} is not in target/<profile>/deps", exe.display()))
        .to_path_buf()
}

/// The workspace root (this crate lives in `tests/support`).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Builds workspace `packages` (and the binaries `bins`) into the running test's target
/// directory and profile, so that plugins link the same abi_stable as the host under test.
/// Calls are serialised within one test process.
pub fn cargo_build(packages: &[&str], bins: &[&str]) {
    static LOCK: Mutex<()> = Mutex::new(());
    let _guard = LOCK
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let profile_dir = profile_dir();
    let profile = match profile_dir.file_name().and_then(|n| n.to_str()) {
        Some("debug") => "dev",
        Some(other) => other,
        None => panic!("odd profile directory {}", profile_dir.display()),
    };
    let target_dir = profile_dir
        .parent()
        .unwrap_or_else(|| panic!("{} has no parent", profile_dir.display()));
    let mut cmd = Command::new(env!("CARGO"));
    cmd.current_dir(workspace_root())
        .args(["build", "--quiet", "--profile", profile, "--target-dir"])
        .arg(target_dir);
    for p in packages {
        cmd.args(["-p", p]);
    }
    for b in bins {
        cmd.args(["--bin", b]);
    }
    let status = cmd
        .status()
        .unwrap_or_else(|e| panic!("running cargo build: {e}"));
    assert!(
        status.success(),
        "cargo build {packages:?} {bins:?}: {status}"
    );
}

/// The shared library of crate `lib_name` (underscored) in the running test's profile dir.
pub fn library(lib_name: &str) -> PathBuf {
    use std::env::consts::{DLL_PREFIX, DLL_SUFFIX};
    profile_dir().join(format!("{DLL_PREFIX}{lib_name}{DLL_SUFFIX}"))
}

/// A fresh directory under the system's temporary directory, removed on drop. It is mode
/// 0755, so an unprivileged process a test starts (the web UI) can reach what is inside.
#[derive(Debug)]
pub struct TempDir(pub PathBuf);

impl TempDir {
    /// Makes `$TMPDIR/dialgate-<tag>-<pid>-<n>`.
    pub fn new(tag: &str) -> TempDir {
        use std::os::unix::fs::PermissionsExt;
        static N: AtomicU32 = AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "dialgate-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755))
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        TempDir(dir)
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A child process killed (SIGKILL) and reaped on drop unless it already exited.
#[derive(Debug)]
pub struct Child(pub Option<std::process::Child>);

impl Child {
    /// The process id (0 once reaped).
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

/// Two pty pairs whose masters are joined by a thread copying bytes both ways: a null-modem
/// cable between the two slave devices ([`PtyCable::a`] and [`PtyCable::b`], by path).
/// Dropping it cuts the cable: the masters close and both slaves hang up, as a modem line
/// does when carrier drops.
#[derive(Debug)]
pub struct PtyCable {
    a: PathBuf,
    b: PathBuf,
    stop: std::sync::Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
    // Held open so that the masters do not see a hangup while no daemon has the slaves open.
    _slaves: [std::os::fd::OwnedFd; 2],
}

impl PtyCable {
    /// Opens the two pty pairs (raw mode) and starts the copying thread.
    pub fn new() -> PtyCable {
        use nix::pty::openpty;
        use nix::sys::termios::{SetArg, cfmakeraw, tcgetattr, tcsetattr};
        use std::os::fd::AsFd;
        let one = openpty(None, None).unwrap_or_else(|e| panic!("openpty: {e}"));
        let two = openpty(None, None).unwrap_or_else(|e| panic!("openpty: {e}"));
        for fd in [&one.master, &one.slave, &two.master, &two.slave] {
            // Not inherited by the daemons a test spawns: a master held open in a child
            // would keep the slaves from hanging up when the cable is cut (dropped).
            nix::fcntl::fcntl(
                fd,
                nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::FD_CLOEXEC),
            )
            .unwrap_or_else(|e| panic!("FD_CLOEXEC on a pty: {e}"));
            let mut t = tcgetattr(fd).unwrap_or_else(|e| panic!("tcgetattr: {e}"));
            cfmakeraw(&mut t);
            tcsetattr(fd, SetArg::TCSANOW, &t).unwrap_or_else(|e| panic!("tcsetattr: {e}"));
        }
        let a = nix::unistd::ttyname(one.slave.as_fd()).unwrap_or_else(|e| panic!("{e}"));
        let b = nix::unistd::ttyname(two.slave.as_fd()).unwrap_or_else(|e| panic!("{e}"));
        let stop = std::sync::Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let (ma, mb) = (one.master, two.master);
        let thread = std::thread::spawn(move || pump(&ma, &mb, &flag));
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

impl Default for PtyCable {
    fn default() -> Self {
        PtyCable::new()
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

fn pump(a: &std::os::fd::OwnedFd, b: &std::os::fd::OwnedFd, stop: &AtomicBool) {
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
        let ready = fds.map(|f| f.revents().is_some_and(|r| r.contains(PollFlags::POLLIN)));
        for (i, (from, to)) in [(a, b), (b, a)].into_iter().enumerate() {
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
