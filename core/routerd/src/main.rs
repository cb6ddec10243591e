//! The routerd daemon.
//!
//! `routerd --config FILE` runs with FILE (which becomes the current version in the
//! configuration store of the state directory when it differs); `routerd` alone runs with the
//! store's current configuration, or the embedded default (`--print-default-config`) when
//! there is none yet: the first start of a new box, where it serves the management API and
//! metrics and no link until one is configured. `--state-dir` and `--socket` override the
//! configuration's state directory (default `/var/lib/dialgate`) and management socket.
//! `routerd --check-config FILE` validates a file and exits.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use dialgate_routerd::api::LogRing;
use dialgate_routerd::config::{DEFAULT_CONFIG, Document, LoadError};
use dialgate_routerd::daemon::control::ApiServer;
use dialgate_routerd::daemon::{self, Daemon, Options};
use dialgate_routerd::store::ConfigStore;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;

/// dialgate router daemon.
#[derive(Debug, Parser)]
#[command(name = "routerd", version, about)]
struct Args {
    /// Validate FILE, print OK or every error, and exit: 0 valid, 1 invalid, 2 unreadable.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["print_default_config", "config"])]
    check_config: Option<PathBuf>,
    /// Print the embedded default configuration and exit.
    #[arg(long)]
    print_default_config: bool,
    /// Run with this configuration file.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Use this state directory instead of the configuration's `system.state_dir`.
    #[arg(long, value_name = "DIR")]
    state_dir: Option<PathBuf>,
    /// Serve the management API on this socket instead of the configuration's
    /// `management.socket`.
    #[arg(long, value_name = "PATH")]
    socket: Option<PathBuf>,
    /// Run without the TUN device (no IP data plane): for tests without root, and relays.
    #[arg(long)]
    no_dataplane: bool,
}

fn check_config(path: &std::path::Path) -> ExitCode {
    match Document::load(path) {
        Ok(_) => {
            let _ = writeln!(std::io::stdout().lock(), "{}: OK", path.display());
            ExitCode::SUCCESS
        }
        Err(LoadError::Invalid(errors)) => {
            let mut err = std::io::stderr().lock();
            for e in errors.errors() {
                let _ = writeln!(err, "{e}");
            }
            let n = errors.errors().len();
            let _ = writeln!(
                err,
                "{}: {n} error{}",
                path.display(),
                if n == 1 { "" } else { "s" }
            );
            ExitCode::from(1)
        }
        Err(e @ LoadError::Io { .. }) => {
            let _ = writeln!(std::io::stderr().lock(), "routerd: {e}");
            ExitCode::from(2)
        }
    }
}

fn fail(message: impl std::fmt::Display) -> ExitCode {
    let _ = writeln!(std::io::stderr().lock(), "routerd: {message}");
    ExitCode::from(1)
}

/// The configuration to start with (see the crate docs).
fn initial_document(args: &Args) -> Result<Document, String> {
    if let Some(path) = &args.config {
        return Document::load(path).map_err(|e| e.to_string());
    }
    let default = Document::default_config().map_err(|e| e.to_string())?;
    let state_dir = args
        .state_dir
        .clone()
        .unwrap_or_else(|| default.config().system.state_dir.clone());
    match ConfigStore::open(&state_dir.join("config")) {
        Ok(store) => Ok(store.current().clone()),
        Err(_) => Ok(default),
    }
}

fn main() -> ExitCode {
    let args = Args::parse();
    if let Some(path) = &args.check_config {
        return check_config(path);
    }
    if args.print_default_config {
        let _ = std::io::stdout()
            .lock()
            .write_all(DEFAULT_CONFIG.as_bytes());
        return ExitCode::SUCCESS;
    }
    let doc = match initial_document(&args) {
        Ok(d) => d,
        Err(e) => return fail(e),
    };
    let system = &doc.config().system;
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(system.log_level.as_str()));
    let logs = LogRing::default();
    tracing_subscriber::registry()
        .with(filter)
        .with(tracing_subscriber::fmt::layer().with_writer(std::io::stderr))
        .with(logs.layer())
        .init();
    // While the process is still single-threaded: the capability sets are per thread, and
    // every thread created from now on inherits the reduced ones.
    if system.drop_capabilities {
        match daemon::caps::drop_capabilities() {
            Ok(()) => tracing::info!(
                "capabilities reduced to CAP_NET_ADMIN, CAP_NET_RAW, CAP_NET_BIND_SERVICE"
            ),
            Err(e) => return fail(format!("dropping capabilities: {e}")),
        }
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("routerd")
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return fail(format!("tokio runtime: {e}")),
    };
    let options = Options {
        no_dataplane: args.no_dataplane,
        state_dir: args.state_dir.clone(),
    };
    runtime.block_on(async move {
        let daemon = match Daemon::start(&doc, options).await {
            Ok(d) => d,
            Err(e) => return fail(e),
        };
        let mut management = daemon.running_config().await.management;
        if let Some(socket) = args.socket {
            management.socket = socket;
        }
        let api = match ApiServer::start(daemon.clone(), logs, &management).await {
            Ok(api) => api,
            Err(e) => {
                daemon.shutdown("the management API did not start").await;
                return fail(format!("management API: {e}"));
            }
        };
        tracing::info!(
            state_dir = %daemon.state_dir().display(),
            "routerd {} running",
            env!("CARGO_PKG_VERSION")
        );
        let reason = wait_for_signal().await;
        tracing::info!("{reason}: shutting down");
        api.shutdown().await;
        daemon
            .shutdown(&format!("routerd shutting down ({reason})"))
            .await;
        ExitCode::SUCCESS
    })
}

async fn wait_for_signal() -> &'static str {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        // Without signal handlers the process still stops on SIGTERM (default action).
        std::future::pending::<()>().await;
        return "never";
    };
    tokio::select! {
        _ = term.recv() => "SIGTERM",
        _ = int.recv() => "SIGINT",
    }
}
