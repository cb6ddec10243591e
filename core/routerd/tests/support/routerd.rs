//! A test routerd: its configuration ([`Config`]), started in process ([`start_in_process`],
//! [`Api`]) or as the `routerd` binary ([`spawn_routerd`]).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use dialgate_routerd::api::client::Client;
use dialgate_routerd::api::{Control, LogRing, bind_unix, serve_unix};
use dialgate_routerd::config::Document;
use dialgate_routerd::daemon::actor::InstanceState;
use dialgate_routerd::daemon::control::DaemonControl;
use dialgate_routerd::daemon::{Daemon, Options};
use dialgate_routerd::users::UserStore;

use super::{Child, binary, cargo_build, library};

/// The user the serial dial links of [`Config::serial_dial`] call as.
pub const USER: &str = "alice";
/// [`USER`]'s password.
pub const PASSWORD: &str = "correct horse";

/// A test routerd's configuration: `[system]` and `[management]` on a state directory (the
/// management socket `routerd.sock` in it), then the tables added, in order.
#[derive(Debug, Clone)]
pub struct Config {
    state: PathBuf,
    plugin_dir: PathBuf,
    drop_capabilities: bool,
    tables: String,
}

impl Config {
    /// On state directory `state`, with no plugin directory and all capabilities kept.
    pub fn new(state: &Path) -> Config {
        Config {
            state: state.to_path_buf(),
            plugin_dir: PathBuf::from("/nonexistent"),
            drop_capabilities: false,
            tables: String::new(),
        }
    }

    /// `system.plugin_dir`.
    pub fn plugin_dir(mut self, dir: &Path) -> Config {
        self.plugin_dir = dir.to_path_buf();
        self
    }

    /// `system.drop_capabilities = true`.
    pub fn drop_capabilities(mut self) -> Config {
        self.drop_capabilities = true;
        self
    }

    /// `toml` as it stands: whole tables, or keys of the table added last.
    pub fn raw(mut self, toml: &str) -> Config {
        self.tables.push_str(toml);
        self
    }

    /// `[ppp]` without LCP echoes.
    pub fn no_lcp_echo(self) -> Config {
        self.raw("\n[ppp]\necho_interval_secs = 0\n")
    }

    /// The pool "office": 192.0.2.100-109, local end 192.0.2.1.
    pub fn pool(self) -> Config {
        self.pool_with("")
    }

    /// [`Config::pool`] with more of its keys (`keys`, one a line).
    pub fn pool_with(self, keys: &str) -> Config {
        self.raw(&format!(
            "\n[[pool]]\nname = \"office\"\nranges = [\"192.0.2.100-192.0.2.109\"]\n\
             local_address = \"192.0.2.1\"\n{keys}"
        ))
    }

    /// A `[[plugin]]` named `name` from the library `file`.
    pub fn plugin(self, name: &str, file: &Path) -> Config {
        self.raw(&format!(
            "\n[[plugin]]\nname = \"{name}\"\nfile = \"{}\"\n",
            file.display()
        ))
    }

    /// [`serial_answer`].
    pub fn serial_answer(self, name: &str, device: &Path, extra: &str) -> Config {
        self.raw(&serial_answer(name, device, extra))
    }

    /// [`serial_dial`].
    pub fn serial_dial(self, name: &str, device: &Path) -> Config {
        self.raw(&serial_dial(name, device))
    }

    /// The configuration's text.
    pub fn text(&self) -> String {
        let mut s = String::new();
        let _ = write!(
            s,
            "\n[system]\nstate_dir = \"{state}\"\nplugin_dir = \"{plugins}\"\n\
             drop_capabilities = {drop}\n\n[management]\nsocket = \"{state}/routerd.sock\"\n",
            state = self.state.display(),
            plugins = self.plugin_dir.display(),
            drop = self.drop_capabilities,
        );
        s.push_str(&self.tables);
        s
    }

    /// The configuration as a document named `test.toml`; fails the test if it is not valid.
    pub fn document(&self) -> Document {
        Document::parse("test.toml", self.text()).expect("valid test configuration")
    }
}

/// An answering serial link named `name` on the pool "office" with one port (also `name`) on
/// `device`; `extra` (keys or subtables of the link) goes before the port.
pub fn serial_answer(name: &str, device: &Path, extra: &str) -> String {
    format!(
        "\n[[link]]\nname = \"{name}\"\nplugin = \"serial\"\nrole = \"answer\"\npool = \"office\"\n\
         {extra}\n[[link.config.ports]]\nname = \"{name}\"\ndevice = \"{}\"\n",
        device.display()
    )
}

/// A dialling serial link named `name`, calling as [`USER`], with one dialling port (also
/// `name`) on `device`.
pub fn serial_dial(name: &str, device: &Path) -> String {
    format!(
        "\n[[link]]\nname = \"{name}\"\nplugin = \"serial\"\nrole = \"dial\"\n\
         credentials = {{ user = \"{USER}\", password = \"{PASSWORD}\" }}\n\
         [[link.config.ports]]\nname = \"{name}\"\ndevice = \"{}\"\nrole = \"dial\"\n",
        device.display()
    )
}

/// The serial plugin's library, built on first use.
pub fn serial_plugin() -> PathBuf {
    cargo_build(&["dialgate-plugin-serial"], &[]);
    library("dialgate_plugin_serial")
}

/// Adds [`USER`] with [`PASSWORD`] to the users file of state directory `dir`; returns the
/// store (for more settings; it is written already).
pub fn add_user(dir: &Path) -> UserStore {
    let mut users = UserStore::open(&dir.join("users.toml")).unwrap();
    users.set_password(USER, PASSWORD).unwrap();
    users
}

/// The state of link `link`'s plugin instance in `daemon` (`None`: no such link).
pub async fn link_state(daemon: &Daemon, link: &str) -> Option<Result<InstanceState, String>> {
    daemon
        .link_states()
        .await
        .into_iter()
        .find(|(n, _)| n == link)
        .map(|(_, s)| s)
}

/// Options for routerd in process on state directory `dir`, without a data plane (no root).
pub fn in_process(dir: &Path) -> Options {
    Options {
        no_dataplane: true,
        state_dir: Some(dir.to_path_buf()),
    }
}

/// Starts routerd in process on `doc` and state directory `dir`, without a data plane.
pub async fn start_in_process(dir: &Path, doc: &Document) -> Arc<Daemon> {
    Daemon::start(doc, in_process(dir)).await.unwrap()
}

/// routerd's management API over a real unix socket (`api.sock` in a test's directory), served
/// in process until [`Api::stop`].
pub struct Api {
    /// A client on the socket.
    pub client: Client,
    /// What the API serves.
    pub control: Arc<dyn Control>,
    stop: tokio::sync::oneshot::Sender<()>,
    server: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Api {
    /// Serves `daemon`'s API on `dir`/api.sock.
    pub fn serve(dir: &Path, daemon: Arc<Daemon>) -> Api {
        let control: Arc<dyn Control> = Arc::new(DaemonControl::new(daemon, LogRing::new(16)));
        let socket = dir.join("api.sock");
        let listener = bind_unix(&socket).unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(serve_unix(listener, control.clone(), async move {
            let _ = stopped.await;
        }));
        Api {
            client: Client::new(&socket),
            control,
            stop,
            server,
        }
    }

    /// Tells the server to stop; returns its task (to await its end).
    pub fn stop(self) -> tokio::task::JoinHandle<std::io::Result<()>> {
        let _ = self.stop.send(());
        self.server
    }
}

/// Starts the `routerd` binary on the configuration file `config` without a data plane (no
/// root for sessions), with `env` set and its standard error in the file `log`.
pub fn spawn_routerd(config: &Path, log: &Path, env: &[(&str, &str)]) -> Child {
    let log = std::fs::File::create(log).unwrap();
    Child(Some(
        Command::new(binary("routerd"))
            .arg("--config")
            .arg(config)
            .arg("--no-dataplane")
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("starting routerd"),
    ))
}

/// Waits (30 s) until routerd's management socket `socket` exists; fails the test with
/// routerd's log `log` otherwise.
pub fn wait_for_socket(socket: &Path, log: &Path) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !socket.exists() {
        assert!(
            Instant::now() < deadline,
            "routerd did not start (no socket):\n{}",
            std::fs::read_to_string(log).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}
