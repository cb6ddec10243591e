//! The browser tests' harness: a real routerd (without a data plane) on a temporary state
//! directory and socket, the web UI on loopback, and Debian's headless Chromium driven over
//! WebDriver (chromedriver).
//!
//! Chromium or chromedriver missing is a failure, not a skip, unless
//! `DIALGATE_SKIP_BROWSER_TESTS=1` says to skip (`tests/apt-packages.txt` lists the packages).

#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout
)]

use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};

// Each test binary uses a different part of the shared helpers.
#[allow(unused_imports)]
pub use dialgate_test_support::{Child, PtyCable, TempDir, cargo_build, library, profile_dir};

/// Set to `1` to skip the browser tests when Chromium cannot run here.
pub const SKIP_ENV: &str = "DIALGATE_SKIP_BROWSER_TESTS";

/// The Chromium and chromedriver binaries of Debian's `chromium` and `chromium-driver`.
pub const CHROMIUM: &str = "/usr/bin/chromium";
pub const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// An admin password the tests set on first boot.
pub const ADMIN_PASSWORD: &str = "correct horse battery";

/// Whether the browser tests should run; panics (fails) when the browser is missing and
/// skipping was not asked for.
pub fn browser_available() -> bool {
    let present = Path::new(CHROMIUM).exists() && Path::new(CHROMEDRIVER).exists();
    if present {
        return true;
    }
    if std::env::var(SKIP_ENV).is_ok_and(|v| v == "1") {
        eprintln!("skipping: {CHROMIUM} or {CHROMEDRIVER} missing and {SKIP_ENV}=1");
        return false;
    }
    panic!(
        "{CHROMIUM} or {CHROMEDRIVER} is missing: apt-get install chromium chromium-driver \
(see tests/apt-packages.txt), or set {SKIP_ENV}=1 to skip the browser tests"
    );
}

/// Where screenshots go: `target/webui-screenshots/`.
pub fn screenshot_dir() -> PathBuf {
    let dir = profile_dir().parent().unwrap().join("webui-screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn is_root() -> bool {
    nix::unistd::Uid::effective().is_root()
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn wait_for<T>(timeout: Duration, mut f: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = f() {
            return Some(v);
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// What the harness starts.
#[derive(Debug, Default)]
pub struct Options {
    /// Extra TOML appended to routerd's configuration.
    pub routerd_extra: String,
    /// Extra keys of routerd's `[system]` table.
    pub system_extra: String,
    /// Extra arguments for the web UI.
    pub webui_args: Vec<String>,
    /// Local users (name, password) in routerd's user store before it starts.
    pub users: Vec<(String, String)>,
}

/// routerd + web UI + chromedriver, and a WebDriver session with headless Chromium.
pub struct Harness {
    pub dir: TempDir,
    pub socket: PathBuf,
    pub https: SocketAddr,
    pub http: SocketAddr,
    pub browser: Client,
    name: String,
    shots: u32,
    /// The WebDriver session, ended on drop unless [`Harness::close`] ended it.
    session: Option<String>,
    driver_port: u16,
    /// Chromium's own profile directory: its processes are found by it on drop.
    profile: PathBuf,
    webui: Child,
    routerd: Child,
    chromedriver: Child,
}

impl std::fmt::Debug for Harness {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Harness")
            .field("https", &self.https)
            .finish()
    }
}

impl Harness {
    /// Starts everything; `name` prefixes this test's screenshots.
    pub async fn start(name: &str, opts: Options) -> Harness {
        cargo_build(&["dialgate-routerd"], &["routerd"]);
        // This test's screenshots of an earlier run go: the folder shows this run only.
        if let Ok(entries) = std::fs::read_dir(screenshot_dir()) {
            for e in entries.flatten() {
                if e.file_name()
                    .to_string_lossy()
                    .starts_with(&format!("{name}-"))
                {
                    let _ = std::fs::remove_file(e.path());
                }
            }
        }
        let dir = TempDir::new(name);
        let run = dir.path().join("run");
        std::fs::create_dir_all(&run).unwrap();
        if is_root() {
            // As deployed: the socket directory is setgid to the web UI's group, so the
            // socket (mode 0660) is in that group and the unprivileged web UI may connect.
            let nogroup = nix::unistd::Group::from_name("nogroup")
                .unwrap()
                .expect("group nogroup");
            nix::unistd::chown(&run, None, Some(nogroup.gid)).unwrap();
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&run, std::fs::Permissions::from_mode(0o2750)).unwrap();
        }
        let socket = run.join("routerd.sock");
        let state = dir.path().join("routerd-state");
        let config = format!(
            "[system]\nstate_dir = \"{}\"\nplugin_dir = \"{}\"\ndrop_capabilities = false\n{}\n\
[management]\nsocket = \"{}\"\n{}",
            state.display(),
            profile_dir().display(),
            opts.system_extra,
            socket.display(),
            opts.routerd_extra
        );
        if !opts.users.is_empty() {
            std::fs::create_dir_all(&state).unwrap();
            let mut store =
                dialgate_routerd::users::UserStore::open(&state.join("users.toml")).unwrap();
            for (name, password) in &opts.users {
                store.set_password(name, password).unwrap();
            }
        }
        let config_file = dir.path().join("routerd.toml");
        std::fs::write(&config_file, config).unwrap();
        let log = std::fs::File::create(dir.path().join("routerd.log")).unwrap();
        let routerd = Child(Some(
            Command::new(profile_dir().join("routerd"))
                .arg("--config")
                .arg(&config_file)
                .arg("--no-dataplane")
                .env("RUST_LOG", "info")
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(log)
                .spawn()
                .expect("starting routerd"),
        ));
        wait_for(Duration::from_secs(30), || socket.exists().then_some(())).unwrap_or_else(|| {
            panic!(
                "routerd's socket never appeared; log:\n{}",
                std::fs::read_to_string(dir.path().join("routerd.log")).unwrap_or_default()
            )
        });

        let mut cmd = Command::new(env!("CARGO_BIN_EXE_dialgate-webui"));
        cmd.arg("--socket")
            .arg(&socket)
            .arg("--state-dir")
            .arg(dir.path().join("webui-state"))
            .args(["--listen", "127.0.0.1:0", "--http-listen", "127.0.0.1:0"])
            .args(&opts.webui_args)
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(dir.path().join("webui.log")).unwrap());
        if is_root() {
            cmd.args(["--user", "nobody"]);
        }
        let mut webui = cmd.spawn().expect("starting dialgate-webui");
        let mut line = String::new();
        BufReader::new(webui.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let webui = Child(Some(webui));
        let (https, http) = parse_listening(&line).unwrap_or_else(|| {
            panic!(
                "web UI did not start ({line:?}); log:\n{}",
                std::fs::read_to_string(dir.path().join("webui.log")).unwrap_or_default()
            )
        });

        let port = free_port();
        let chromedriver = Child(Some(
            Command::new(CHROMEDRIVER)
                .arg(format!("--port={port}"))
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("starting chromedriver"),
        ));
        wait_for(Duration::from_secs(20), || {
            TcpStream::connect(("127.0.0.1", port)).ok()
        })
        .expect("chromedriver listening");
        let profile = dir.path().join("chromium-profile");
        let mut caps = serde_json::Map::new();
        caps.insert("acceptInsecureCerts".into(), serde_json::json!(true));
        caps.insert(
            "goog:chromeOptions".into(),
            serde_json::json!({
                "binary": CHROMIUM,
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu",
                         "--disable-dev-shm-usage", "--window-size=1280,900",
                         "--no-first-run", "--disable-extensions",
                         format!("--user-data-dir={}", profile.display())],
            }),
        );
        let browser = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(caps)
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
            .expect("a WebDriver session with headless Chromium");
        let session = browser.session_id().await.ok().flatten();
        Harness {
            session,
            driver_port: port,
            profile,
            dir,
            socket,
            https,
            http,
            browser,
            name: name.to_owned(),
            shots: 0,
            webui,
            routerd,
            chromedriver,
        }
    }

    /// `https://127.0.0.1:PORT{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("https://{}{path}", self.https)
    }

    /// Opens `path`.
    pub async fn goto(&self, path: &str) {
        self.browser.goto(&self.url(path)).await.unwrap();
    }

    /// The current path.
    pub async fn path(&self) -> String {
        self.browser.current_url().await.unwrap().path().to_owned()
    }

    /// The page's visible text.
    pub async fn text(&self) -> String {
        self.browser
            .find(Locator::Css("body"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    /// Types into the input `#id` (clearing it first).
    pub async fn fill(&self, id: &str, value: &str) {
        let e = self
            .browser
            .find(Locator::Id(id))
            .await
            .unwrap_or_else(|e| panic!("input #{id}: {e}"));
        e.clear().await.unwrap();
        e.send_keys(value).await.unwrap();
    }

    /// Clicks the element matching `css` and waits until a new document replaced the
    /// current one (a form submission or link).
    pub async fn click(&self, css: &str) {
        let old = self.browser.find(Locator::Css("body")).await.unwrap();
        self.browser
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("{css}: {e}"))
            .click()
            .await
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(15);
        // A stale <body> means the old document is gone.
        while old.tag_name().await.is_ok() {
            assert!(
                Instant::now() < deadline,
                "clicking {css} loaded no new page"
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        let ready = "return document.readyState;";
        while self
            .browser
            .execute(ready, vec![])
            .await
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .as_deref()
            != Some("complete")
        {
            assert!(
                Instant::now() < deadline,
                "page after clicking {css} never loaded"
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// Clicks the element matching `css` on this page (no navigation expected).
    pub async fn tap(&self, css: &str) {
        self.browser
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("{css}: {e}"))
            .click()
            .await
            .unwrap();
    }

    /// Saves a screenshot as `target/webui-screenshots/<test>-<n>-<what>.png`, after checking
    /// the accessibility basics of the page: every form control has a label.
    pub async fn screenshot(&mut self, what: &str) {
        let unlabelled = self
            .browser
            .execute(
                "return Array.from(document.querySelectorAll('input, select, textarea'))
                   .filter(e => e.type !== 'hidden' && !e.hidden)
                   .filter(e => !(e.labels && e.labels.length > 0)
                             && !e.getAttribute('aria-label') && !e.getAttribute('aria-labelledby'))
                   .map(e => e.outerHTML);",
                vec![],
            )
            .await
            .unwrap();
        assert_eq!(
            unlabelled.as_array().map(Vec::len),
            Some(0),
            "form controls without a label on {what}: {unlabelled}"
        );
        self.shots += 1;
        let png = self.browser.screenshot().await.unwrap();
        let file = screenshot_dir().join(format!("{}-{:02}-{what}.png", self.name, self.shots));
        std::fs::write(&file, png).unwrap();
    }

    /// The one-time setup code the web UI wrote to its state directory (lower case and
    /// spaced, as someone might type it).
    pub fn setup_code(&self) -> String {
        let file = self.dir.path().join("webui-state").join("setup-code");
        std::fs::read_to_string(&file)
            .unwrap_or_else(|e| panic!("{}: {e}", file.display()))
            .trim()
            .to_lowercase()
            .replace('-', " ")
    }

    /// routerd's log so far.
    pub fn routerd_log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("routerd.log")).unwrap_or_default()
    }

    /// The web UI's log so far.
    pub fn webui_log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("webui.log")).unwrap_or_default()
    }

    /// Ends the browser session (dropping the harness does too, panicking test or not).
    pub async fn close(mut self) {
        if self.browser.clone().close().await.is_ok() {
            self.session = None;
        }
    }
}

impl Drop for Harness {
    /// Ends the WebDriver session (chromedriver then quits Chromium), stops chromedriver,
    /// and kills whatever Chromium process still runs with this harness's own profile
    /// directory, so a panicking test leaves no browser behind.
    fn drop(&mut self) {
        if let Some(id) = self.session.take() {
            end_webdriver_session(self.driver_port, &id);
        }
        drop(std::mem::replace(&mut self.chromedriver, Child(None)));
        for pid in processes_with_arg(&format!("--user-data-dir={}", self.profile.display())) {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
    }
}

/// `DELETE /session/{id}` to chromedriver on `port` (plain HTTP/1.1, bounded waits).
fn end_webdriver_session(port: u16, id: &str) {
    use std::io::{Read, Write};
    let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else {
        return;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(10)));
    let _ = s.set_write_timeout(Some(Duration::from_secs(5)));
    let request = format!(
        "DELETE /session/{id} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: 0\r\n\
Connection: close\r\n\r\n"
    );
    if s.write_all(request.as_bytes()).is_ok() {
        let mut answer = Vec::new();
        let _ = s.take(64 * 1024).read_to_end(&mut answer);
    }
}

/// The processes (of this user) one of whose arguments is exactly `arg`.
pub fn processes_with_arg(arg: &str) -> Vec<i32> {
    let mut out = Vec::new();
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return out;
    };
    for e in dir.flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|n| n.parse::<i32>().ok()) else {
            continue;
        };
        if let Ok(cmdline) = std::fs::read(e.path().join("cmdline"))
            && cmdline.split(|b| *b == 0).any(|a| a == arg.as_bytes())
        {
            out.push(pid);
        }
    }
    out
}

fn parse_listening(line: &str) -> Option<(SocketAddr, SocketAddr)> {
    let rest = line.trim().strip_prefix("listening ")?;
    let mut https = None;
    let mut http = None;
    for part in rest.split(' ') {
        if let Some(a) = part.strip_prefix("https=") {
            https = a.parse().ok();
        } else if let Some(a) = part.strip_prefix("http=") {
            http = a.parse().ok();
        }
    }
    Some((https?, http?))
}
