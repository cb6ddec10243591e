//! The interop VM: Debian's kernel and an initramfs with pppd, pptpd and pptp-linux, booted
//! under QEMU (TCG) on a tap device inside a network namespace the test owns.
//!
//! The host kernel has no PPP; Debian's has. `tests/vm/build.sh` builds the image (see
//! `tests/vm/README.md`); [`VmImage::require`] finds it, [`Netns`] makes the namespace and the
//! tap, [`Vm::boot`] starts QEMU there and waits until the guest's `/init` reads commands from
//! the serial console, and [`Vm::run`] runs one shell command in the guest and returns its
//! output and exit status.
//!
//! ```text
//!  test netns (Netns)                      QEMU (TCG), in the same netns
//!  tap0  10.77.9.1/24  <---- virtio-net ---->  eth0  10.77.9.2/24
//!  the test's own processes (routerd)           pppd, pptpd, pptp-linux, busybox
//! ```
//!
//! Every wait is bounded: QEMU is killed after [`VmOptions::time_limit`] by a watchdog thread,
//! the guest powers itself off after the same time, and dropping a [`Vm`] kills QEMU at once.
//! Dropping a [`Netns`] deletes the namespace with its tap.

use std::fmt;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

/// Environment variable naming the directory of the built image (default `<repo>/target/vm`).
pub const VM_DIR_ENV: &str = "DIALGATE_VM_DIR";
/// Set to `1` to copy the guest's console to stderr as it arrives.
pub const VM_ECHO_ENV: &str = "DIALGATE_VM_ECHO";

/// What the guest's `/init` prints (see `tests/vm/init`).
const MARK: &str = "@@DGVM ";

/// Why the VM could not be used.
#[derive(Debug)]
pub enum VmError {
    /// The image is not built, or a file of it is missing.
    NotBuilt(String),
    /// A host command (ip, qemu) could not be run or failed.
    Host(String),
    /// The guest did not get to a point in time; the console so far is attached.
    Timeout {
        /// What was awaited.
        what: String,
        /// The console log up to then.
        console: String,
    },
    /// QEMU exited; the console so far is attached.
    Exited {
        /// What was awaited.
        what: String,
        /// The console log up to then.
        console: String,
    },
}

impl fmt::Display for VmError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            VmError::NotBuilt(m) => write!(
                f,
                "the interop VM image is missing ({m}); build it with tests/vm/build.sh \
                 (tests/run-all.sh does) or point {VM_DIR_ENV} at a built one"
            ),
            VmError::Host(m) => write!(f, "host side of the VM: {m}"),
            VmError::Timeout { what, console } => {
                write!(f, "timed out waiting for {what}; console:\n{console}")
            }
            VmError::Exited { what, console } => {
                write!(
                    f,
                    "QEMU exited while waiting for {what}; console:\n{console}"
                )
            }
        }
    }
}

impl std::error::Error for VmError {}

/// The built image: a kernel and the initramfs of `tests/vm/build.sh`.
#[derive(Debug, Clone)]
pub struct VmImage {
    /// The kernel QEMU boots: the uncompressed ELF (PVH entry) where there is one.
    pub kernel: PathBuf,
    /// The initramfs.
    pub initramfs: PathBuf,
}

impl VmImage {
    /// The image directory: `$DIALGATE_VM_DIR`, else `<repo>/target/vm`.
    pub fn dir() -> PathBuf {
        match std::env::var_os(VM_DIR_ENV) {
            Some(d) => PathBuf::from(d),
            None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/vm"),
        }
    }

    /// Finds the image in [`VmImage::dir`].
    pub fn locate() -> Result<VmImage, VmError> {
        let dir = Self::dir();
        let pick = |names: &[&str]| {
            names
                .iter()
                .map(|n| dir.join(n))
                .find(|p| p.is_file())
                .ok_or_else(|| VmError::NotBuilt(format!("no {} in {}", names[0], dir.display())))
        };
        Ok(VmImage {
            kernel: pick(&["vmlinux", "vmlinuz"])?,
            initramfs: pick(&["initramfs.img"])?,
        })
    }

    /// [`VmImage::locate`], panicking with how to build the image when it is missing.
    pub fn require() -> VmImage {
        match Self::locate() {
            Ok(image) => image,
            Err(e) => panic!("{e}"),
        }
    }
}

/// Runs `ip` with `args`, failing with its stderr.
pub fn ip(args: &[&str]) -> Result<(), VmError> {
    let out = Command::new("ip")
        .args(args)
        .output()
        .map_err(|e| VmError::Host(format!("running ip: {e}")))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(VmError::Host(format!(
            "ip {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        )))
    }
}

/// A network namespace made for one test, with its loopback up; deleted on drop (with every
/// interface in it).
#[derive(Debug)]
pub struct Netns {
    name: String,
}

impl Netns {
    /// Creates `dgvm-<tag>-<pid>-<n>`.
    pub fn new(tag: &str) -> Result<Netns, VmError> {
        static N: AtomicU32 = AtomicU32::new(0);
        let name = format!(
            "dgvm-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        );
        ip(&["netns", "add", &name])?;
        let ns = Netns { name };
        ip(&["-n", &ns.name, "link", "set", "lo", "up"])?;
        Ok(ns)
    }

    /// The namespace's name (for `ip netns exec`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Its file under `/var/run/netns`, for `setns(2)`.
    pub fn path(&self) -> PathBuf {
        Path::new("/var/run/netns").join(&self.name)
    }

    /// Runs `ip -n <ns> args...`.
    pub fn ip(&self, args: &[&str]) -> Result<(), VmError> {
        let mut all = vec!["-n", self.name.as_str()];
        all.extend_from_slice(args);
        ip(&all)
    }

    /// Runs `f` on a thread that has entered this namespace (so its sockets live there) and
    /// returns what it returns; a panic in `f` is passed on.
    pub fn run_in<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, VmError> {
        let path = self.path();
        let file = std::fs::File::open(&path)
            .map_err(|e| VmError::Host(format!("opening {}: {e}", path.display())))?;
        let thread = std::thread::spawn(move || {
            nix::sched::setns(&file, nix::sched::CloneFlags::CLONE_NEWNET)
                .map(|()| f())
                .map_err(|e| VmError::Host(format!("setns {}: {e}", path.display())))
        });
        match thread.join() {
            Ok(r) => r,
            Err(panic) => std::panic::resume_unwind(panic),
        }
    }

    /// Sends `count` ICMP echo requests (RFC 792) with 56 data octets from `src` to `dst`
    /// inside this namespace, one a second at most, and counts the matching echo replies.
    pub fn ping(&self, src: Ipv4Addr, dst: Ipv4Addr, count: u16) -> Result<u16, VmError> {
        self.run_in(move || icmp_echo(src, dst, count))?
    }

    /// Creates tap device `dev` with `addr/prefix` and brings it up.
    pub fn add_tap(&self, dev: &str, addr: Ipv4Addr, prefix: u8) -> Result<(), VmError> {
        self.ip(&["tuntap", "add", "dev", dev, "mode", "tap"])?;
        self.ip(&["addr", "add", &format!("{addr}/{prefix}"), "dev", dev])?;
        self.ip(&["link", "set", dev, "up"])
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .status();
    }
}

/// The Internet checksum (RFC 1071) of `data`.
fn internet_checksum(data: &[u8]) -> u16 {
    let mut sum: u32 = data
        .chunks(2)
        .map(|c| u32::from(u16::from_be_bytes([c[0], c.get(1).copied().unwrap_or(0)])))
        .sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// The body of [`Netns::ping`], on a thread inside the namespace.
fn icmp_echo(src: Ipv4Addr, dst: Ipv4Addr, count: u16) -> Result<u16, VmError> {
    use nix::sys::socket::{
        AddressFamily, MsgFlags, SockFlag, SockProtocol, SockType, SockaddrIn, bind, recvfrom,
        sendto, setsockopt, socket, sockopt,
    };
    use std::net::SocketAddrV4;
    use std::os::fd::AsRawFd;
    let err =
        |what: &str, e: nix::Error| VmError::Host(format!("ping {src} -> {dst}: {what}: {e}"));
    let fd = socket(
        AddressFamily::Inet,
        SockType::Raw,
        SockFlag::SOCK_CLOEXEC,
        SockProtocol::Icmp,
    )
    .map_err(|e| err("raw ICMP socket", e))?;
    bind(fd.as_raw_fd(), &SockaddrIn::from(SocketAddrV4::new(src, 0)))
        .map_err(|e| err("bind", e))?;
    let tick = nix::sys::time::TimeVal::new(0, 200_000);
    setsockopt(&fd, sockopt::ReceiveTimeout, &tick).map_err(|e| err("SO_RCVTIMEO", e))?;
    let ident = (std::process::id() & 0xffff) as u16;
    let to = SockaddrIn::from(SocketAddrV4::new(dst, 0));
    let mut replies = 0;
    for seq in 1..=count {
        let mut echo = vec![8, 0, 0, 0];
        echo.extend_from_slice(&ident.to_be_bytes());
        echo.extend_from_slice(&seq.to_be_bytes());
        echo.extend((0..56u8).map(|i| i.wrapping_mul(7)));
        let sum = internet_checksum(&echo);
        echo[2..4].copy_from_slice(&sum.to_be_bytes());
        sendto(fd.as_raw_fd(), &echo, &to, MsgFlags::empty()).map_err(|e| err("sendto", e))?;
        let deadline = Instant::now() + Duration::from_secs(1);
        let mut buf = [0u8; 1500];
        while Instant::now() < deadline {
            let Ok((n, Some(from))) = recvfrom::<SockaddrIn>(fd.as_raw_fd(), &mut buf) else {
                continue;
            };
            // A raw ICMP socket reads the IP header too.
            let packet = &buf[..n];
            let ihl = usize::from(packet.first().copied().unwrap_or(0) & 0x0f) * 4;
            let Some(icmp) = packet.get(ihl..ihl + 8) else {
                continue;
            };
            let reply = icmp[0] == 0
                && icmp[4..6] == ident.to_be_bytes()
                && icmp[6..8] == seq.to_be_bytes()
                && from.ip() == dst;
            if reply && packet.get(ihl + 8..) == echo.get(8..) {
                replies += 1;
                break;
            }
        }
    }
    Ok(replies)
}

/// How to boot the VM.
#[derive(Debug, Clone)]
pub struct VmOptions {
    /// The tap device in the namespace that becomes the guest's eth0.
    pub tap: String,
    /// The guest's eth0 address and prefix length.
    pub addr: (Ipv4Addr, u8),
    /// The guest's default gateway, if any.
    pub gateway: Option<Ipv4Addr>,
    /// Guest memory in MiB.
    pub memory_mib: u32,
    /// The hard limit of the VM's life: QEMU is killed and the guest powers off after it.
    pub time_limit: Duration,
    /// How long booting (QEMU start to the command loop) may take.
    pub boot_timeout: Duration,
    /// Files added to the guest's root file system (absolute path, contents, mode), e.g.
    /// `/etc/ppp/chap-secrets`; they replace the image's files of the same name.
    pub files: Vec<(String, Vec<u8>, u32)>,
}

impl VmOptions {
    /// Defaults: eth0 on `tap` with `addr/prefix`, 256 MiB, 5 minutes of life, 90 s to boot.
    pub fn new(tap: &str, addr: Ipv4Addr, prefix: u8) -> VmOptions {
        VmOptions {
            tap: tap.to_owned(),
            addr: (addr, prefix),
            gateway: None,
            memory_mib: 256,
            time_limit: Duration::from_secs(300),
            boot_timeout: Duration::from_secs(90),
            files: Vec::new(),
        }
    }

    /// Adds a file to the guest (see [`VmOptions::files`]).
    pub fn file(mut self, path: &str, contents: impl Into<Vec<u8>>, mode: u32) -> VmOptions {
        self.files.push((path.to_owned(), contents.into(), mode));
        self
    }
}

/// The output of one command run in the guest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandOutput {
    /// The exit status `sh -c` returned.
    pub status: i32,
    /// Its standard output and error (and whatever else reached the console meanwhile).
    pub output: String,
}

#[derive(Debug, Default)]
struct Console {
    lines: Vec<String>,
    exited: bool,
}

type Shared = Arc<(Mutex<Console>, Condvar)>;

fn lock(shared: &Shared) -> MutexGuard<'_, Console> {
    shared.0.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A running VM. Dropping it kills QEMU.
#[derive(Debug)]
pub struct Vm {
    child: Arc<Mutex<Child>>,
    stdin: Option<ChildStdin>,
    console: Shared,
    stop_watchdog: Option<mpsc::Sender<()>>,
    threads: Vec<std::thread::JoinHandle<()>>,
    boot_time: Duration,
    guest_boot_time: Option<f64>,
    next_id: u32,
    // The initramfs with the test's files appended; removed on drop.
    initrd: PathBuf,
}

impl Vm {
    /// Boots the image in `netns` on the tap device of `options` and waits for the guest's
    /// command loop.
    pub fn boot(image: &VmImage, netns: &Netns, options: &VmOptions) -> Result<Vm, VmError> {
        let initrd = std::env::temp_dir().join(format!("{}-initrd.img", netns.name()));
        write_initrd(&image.initramfs, &options.files, &initrd)?;
        let limit = options.time_limit.as_secs().max(1);
        let mut append = format!(
            "console=ttyS0 quiet panic=-1 mitigations=off cryptomgr.notests 8250.nr_uarts=1 \
             dg.addr={}/{} dg.timeout={limit}",
            options.addr.0, options.addr.1
        );
        if let Some(gw) = options.gateway {
            append.push_str(&format!(" dg.gw={gw}"));
        }
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", netns.name(), "qemu-system-x86_64"])
            .args(["-accel", "tcg", "-cpu", "max", "-smp", "1"])
            .args(["-m", &options.memory_mib.to_string()])
            .args(["-nodefaults", "-no-user-config", "-display", "none"])
            .args(["-serial", "stdio", "-no-reboot"])
            .arg("-kernel")
            .arg(&image.kernel)
            .arg("-initrd")
            .arg(&initrd)
            .args(["-append", &append])
            .args([
                "-netdev",
                &format!("tap,id=n0,ifname={},script=no,downscript=no", options.tap),
                "-device",
                "virtio-net-pci,netdev=n0,mac=52:54:00:d1:a1:01",
            ])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let started = Instant::now();
        let mut child = cmd
            .spawn()
            .map_err(|e| VmError::Host(format!("starting qemu-system-x86_64: {e}")))?;
        let stdin = child.stdin.take();
        let stdout = child.stdout.take();
        let stderr = child.stderr.take();
        let console: Shared = Arc::default();
        let echo = std::env::var(VM_ECHO_ENV).is_ok_and(|v| v == "1");
        let mut threads = Vec::new();
        if let Some(out) = stdout {
            threads.push(reader(out, console.clone(), echo, true));
        }
        if let Some(err) = stderr {
            threads.push(reader(err, console.clone(), echo, false));
        }
        let child = Arc::new(Mutex::new(child));
        let (stop_tx, stop_rx) = mpsc::channel::<()>();
        let watched = child.clone();
        let time_limit = options.time_limit;
        threads.push(std::thread::spawn(move || {
            if let Err(mpsc::RecvTimeoutError::Timeout) = stop_rx.recv_timeout(time_limit) {
                let mut c = watched.lock().unwrap_or_else(PoisonError::into_inner);
                let _ = c.kill();
            }
        }));
        let mut vm = Vm {
            child,
            stdin,
            console,
            stop_watchdog: Some(stop_tx),
            threads,
            boot_time: Duration::ZERO,
            guest_boot_time: None,
            next_id: 1,
            initrd,
        };
        let booted = vm.wait_line(0, options.boot_timeout, "the guest's boot", |l| {
            l.starts_with("@@DGVM ready")
        })?;
        vm.boot_time = started.elapsed();
        vm.guest_boot_time = {
            let c = lock(&vm.console);
            c.lines[..booted]
                .iter()
                .find_map(|l| l.strip_prefix("@@DGVM booted "))
                .and_then(|t| t.trim().parse().ok())
        };
        Ok(vm)
    }

    /// Wall-clock time from starting QEMU to the guest's command loop.
    pub fn boot_time(&self) -> Duration {
        self.boot_time
    }

    /// The guest's uptime when `/init` had loaded its modules and configured eth0.
    pub fn guest_boot_time(&self) -> Option<f64> {
        self.guest_boot_time
    }

    /// The console so far.
    pub fn console(&self) -> String {
        lock(&self.console).lines.join("\n")
    }

    /// Waits for a console line at index `from` or later that satisfies `pred`; returns its
    /// index.
    fn wait_line(
        &self,
        from: usize,
        timeout: Duration,
        what: &str,
        pred: impl Fn(&str) -> bool,
    ) -> Result<usize, VmError> {
        let deadline = Instant::now() + timeout;
        let mut c = lock(&self.console);
        let mut next = from;
        loop {
            if let Some(i) = c.lines[next.min(c.lines.len())..]
                .iter()
                .position(|l| pred(l))
            {
                return Ok(next + i);
            }
            next = c.lines.len().max(from);
            if c.exited {
                return Err(VmError::Exited {
                    what: what.to_owned(),
                    console: c.lines.join("\n"),
                });
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(VmError::Timeout {
                    what: what.to_owned(),
                    console: c.lines.join("\n"),
                });
            }
            c = self
                .console
                .1
                .wait_timeout(c, deadline - now)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }

    /// Waits up to `timeout` for a console line containing `text`, from now on.
    pub fn wait_for(&self, text: &str, timeout: Duration) -> Result<String, VmError> {
        let from = lock(&self.console).lines.len();
        self.wait_console(from, text, timeout)
    }

    /// Waits up to `timeout` for a console line containing `text` that arrived at line index
    /// `from` or later (see [`Vm::console_len`]).
    pub fn wait_console(
        &self,
        from: usize,
        text: &str,
        timeout: Duration,
    ) -> Result<String, VmError> {
        let i = self.wait_line(from, timeout, &format!("{text:?} on the console"), |l| {
            l.contains(text)
        })?;
        Ok(lock(&self.console).lines[i].clone())
    }

    /// The number of console lines so far.
    pub fn console_len(&self) -> usize {
        lock(&self.console).lines.len()
    }

    /// Runs `command` with `sh -c` in the guest (stdin /dev/null) and waits up to `timeout`
    /// for it to finish. One line only; start daemons in the background (`&`) or let them
    /// daemonize.
    pub fn run(&mut self, command: &str, timeout: Duration) -> Result<CommandOutput, VmError> {
        if command.contains('\n') || command.len() > 3000 {
            return Err(VmError::Host(
                "a guest command is one line of at most 3000 octets".into(),
            ));
        }
        let id = self.next_id;
        self.next_id += 1;
        let from = self.console_len();
        let stdin = self
            .stdin
            .as_mut()
            .ok_or_else(|| VmError::Host("the console input is closed".into()))?;
        stdin
            .write_all(format!("{id} {command}\n").as_bytes())
            .and_then(|()| stdin.flush())
            .map_err(|e| VmError::Host(format!("writing to the console: {e}")))?;
        let marker = format!("{MARK}rc {id} ");
        let end = self.wait_line(from, timeout, &format!("command {command:?}"), |l| {
            l.starts_with(&marker)
        })?;
        let c = lock(&self.console);
        let status = c.lines[end]
            .strip_prefix(&marker)
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(-1);
        Ok(CommandOutput {
            status,
            output: c.lines[from..end].join("\n"),
        })
    }

    /// [`Vm::run`] that panics, with the console, unless the command exits with 0; returns its
    /// output.
    pub fn sh(&mut self, command: &str, timeout: Duration) -> String {
        match self.run(command, timeout) {
            Ok(CommandOutput { status: 0, output }) => output,
            Ok(CommandOutput { status, output }) => panic!(
                "guest command {command:?} exited with {status}:\n{output}\n--- console:\n{}",
                self.console()
            ),
            Err(e) => panic!("guest command {command:?}: {e}"),
        }
    }

    /// Asks the guest to power off and waits up to `timeout` for QEMU to exit by itself;
    /// returns the console log, or an error (and QEMU is killed) if it did not exit.
    pub fn shutdown(mut self, timeout: Duration) -> Result<String, VmError> {
        if let Some(mut stdin) = self.stdin.take() {
            let _ = stdin.write_all(b"0 echo '@@DGVM poweroff'; poweroff -f\n");
        }
        match self.wait_line(0, timeout, "QEMU to exit after power off", |_| false) {
            Err(VmError::Exited { console, .. }) => Ok(console),
            Err(e) => Err(e),
            Ok(_) => Err(VmError::Host(
                "unreachable: no console line is awaited".into(),
            )),
        }
    }
}

impl Drop for Vm {
    fn drop(&mut self) {
        self.stdin.take();
        {
            let mut c = self.child.lock().unwrap_or_else(PoisonError::into_inner);
            let _ = c.kill();
            let _ = c.wait();
        }
        self.stop_watchdog.take();
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
        let _ = std::fs::remove_file(&self.initrd);
    }
}

/// Collects the lines of one of QEMU's output streams into the console.
fn reader(
    stream: impl Read + Send + 'static,
    console: Shared,
    echo: bool,
    marks_exit: bool,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let mut r = BufReader::new(stream);
        let mut buf = Vec::new();
        loop {
            buf.clear();
            match r.read_until(b'\n', &mut buf) {
                Ok(0) | Err(_) => break,
                Ok(_) => {
                    let line = String::from_utf8_lossy(&buf)
                        .trim_end_matches(['\r', '\n'])
                        .to_owned();
                    if echo {
                        eprintln!("vm| {line}");
                    }
                    lock(&console).lines.push(line);
                    console.1.notify_all();
                }
            }
        }
        if marks_exit {
            lock(&console).exited = true;
            console.1.notify_all();
        }
    })
}

/// Writes the image's initramfs followed by a newc archive of `files` to `dest`; the kernel
/// unpacks both, the second over the first.
fn write_initrd(base: &Path, files: &[(String, Vec<u8>, u32)], dest: &Path) -> Result<(), VmError> {
    let host = |e: std::io::Error| VmError::Host(format!("writing {}: {e}", dest.display()));
    let mut image = std::fs::read(base)
        .map_err(|e| VmError::NotBuilt(format!("reading {}: {e}", base.display())))?;
    // The kernel reads an uncompressed archive that starts at a multiple of 4 octets, and
    // skips zeros between archives.
    image.resize(image.len().next_multiple_of(4), 0);
    image.extend_from_slice(&newc_archive(files));
    let mut f = std::fs::File::create(dest).map_err(host)?;
    f.write_all(&image).map_err(host)
}

/// A cpio archive in the "newc" format the kernel's initramfs unpacker reads, holding `files`
/// (absolute paths) and the directories above them.
pub fn newc_archive(files: &[(String, Vec<u8>, u32)]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut ino = 1u32;
    let mut dirs: Vec<String> = Vec::new();
    for (path, _, _) in files {
        let rel = path.trim_start_matches('/');
        let mut acc = String::new();
        let parts: Vec<&str> = rel.split('/').collect();
        for part in parts.iter().take(parts.len().saturating_sub(1)) {
            if !acc.is_empty() {
                acc.push('/');
            }
            acc.push_str(part);
            if !dirs.contains(&acc) {
                dirs.push(acc.clone());
            }
        }
    }
    for dir in &dirs {
        newc_entry(&mut out, ino, dir, 0o040_755, &[]);
        ino += 1;
    }
    for (path, data, mode) in files {
        newc_entry(
            &mut out,
            ino,
            path.trim_start_matches('/'),
            0o100_000 | (mode & 0o7777),
            data,
        );
        ino += 1;
    }
    newc_entry(&mut out, 0, "TRAILER!!!", 0, &[]);
    out
}

fn newc_entry(out: &mut Vec<u8>, ino: u32, name: &str, mode: u32, data: &[u8]) {
    let fields = [
        ino,
        mode,
        0, // uid
        0, // gid
        if mode & 0o040_000 != 0 { 2 } else { 1 },
        0, // mtime
        u32::try_from(data.len()).unwrap_or(u32::MAX),
        0, // devmajor
        0, // devminor
        0, // rdevmajor
        0, // rdevminor
        u32::try_from(name.len() + 1).unwrap_or(u32::MAX),
        0, // check
    ];
    out.extend_from_slice(b"070701");
    for f in fields {
        out.extend_from_slice(format!("{f:08X}").as_bytes());
    }
    out.extend_from_slice(name.as_bytes());
    out.push(0);
    out.resize(out.len().next_multiple_of(4), 0);
    out.extend_from_slice(data);
    out.resize(out.len().next_multiple_of(4), 0);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn newc_archive_layout() {
        let a = newc_archive(&[("/etc/ppp/x".into(), b"hello".to_vec(), 0o600)]);
        // Two directories, the file, the trailer: each header 110 octets, 4-aligned.
        assert_eq!(&a[..6], b"070701");
        assert_eq!(a.len() % 4, 0);
        let text = String::from_utf8_lossy(&a);
        let etc = text.find("etc\0").unwrap_or(0);
        let ppp = text.find("etc/ppp\0").unwrap_or(0);
        let file = text.find("etc/ppp/x\0").unwrap_or(0);
        assert!(0 < etc && etc < ppp && ppp < file, "{text:?}");
        // The file entry: mode 0100600, size 5, name size 10, then its data.
        let header = &text[file - 110..file];
        assert_eq!(&header[14..22], "00008180");
        assert_eq!(&header[54..62], "00000005");
        assert_eq!(&header[94..102], "0000000A");
        assert!(text[file..].starts_with("etc/ppp/x\0hello\0\0\0"));
        assert!(text.ends_with("TRAILER!!!\0\0\0\0"), "{text:?}");
    }
}
