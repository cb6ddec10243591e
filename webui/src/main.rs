//! `dialgate-webui`: the web UI server. See the crate documentation and README.md, "Web UI".

use std::io::Write as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::Parser;
use dialgate_routerd::api::client::Client;
use dialgate_webui::app::{AppState, router};
use dialgate_webui::auth::LimitPolicy;
use dialgate_webui::{privs, store, tls};

/// dialgate's web UI: HTTPS on `--listen`, HTTP on `--http-listen` redirected to it; a client
/// of routerd's management socket.
#[derive(Debug, Parser)]
#[command(version)]
struct Args {
    /// routerd's management socket (its group must let this process connect: mode 0660).
    #[arg(long, default_value = "/run/dialgate/routerd.sock")]
    socket: PathBuf,
    /// The web UI's state directory: admin password hash, TLS certificate and key.
    #[arg(long, default_value = "/var/lib/dialgate-webui")]
    state_dir: PathBuf,
    /// HTTPS address (port 0: any free port, printed on standard output).
    #[arg(long, default_value = "127.0.0.1:8443")]
    listen: SocketAddr,
    /// Plain HTTP address, redirected to HTTPS; "none" disables it.
    #[arg(long, default_value = "127.0.0.1:8080")]
    http_listen: String,
    /// When started as root: the user to run as after binding the ports (required then).
    #[arg(long)]
    user: Option<String>,
    /// Names in the self-signed certificate (made on first start).
    #[arg(long = "cert-name", default_values_t = ["dialgate.local".to_owned(), "localhost".to_owned(), "127.0.0.1".to_owned()])]
    cert_names: Vec<String>,
    /// Failed logins from one address that lock it out.
    #[arg(long, default_value_t = 5)]
    login_failures: u32,
    /// The window, in seconds, failed logins are counted in.
    #[arg(long, default_value_t = 900)]
    login_window_secs: u64,
    /// How long, in seconds, an address stays locked out.
    #[arg(long, default_value_t = 900)]
    lockout_secs: u64,
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    match run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: Args) -> Result<(), String> {
    let user = match (&args.user, privs::is_root()) {
        (Some(name), true) => Some(privs::find_user(name).map_err(|e| e.to_string())?),
        (Some(_), false) => {
            return Err(
                "--user needs root (started as an ordinary user, the web UI runs as that user)"
                    .into(),
            );
        }
        (None, true) => {
            return Err(
                "refusing to run as root: pass --user NAME to drop to after binding the ports"
                    .into(),
            );
        }
        (None, false) => None,
    };
    store::ensure_dir(&args.state_dir).map_err(|e| e.to_string())?;
    let (tls_config, created) =
        tls::load_or_create(&args.state_dir, &args.cert_names).map_err(|e| e.to_string())?;
    if created {
        tracing::info!(names = ?args.cert_names, "made a self-signed TLS certificate in {}", args.state_dir.display());
    }
    if let Some(u) = &user {
        let files: Vec<PathBuf> = vec![
            args.state_dir.clone(),
            args.state_dir.join(tls::CERT_FILE),
            args.state_dir.join(tls::KEY_FILE),
        ];
        let refs: Vec<&std::path::Path> = files.iter().map(PathBuf::as_path).collect();
        privs::give(u, &refs).map_err(|e| e.to_string())?;
    }
    let https = std::net::TcpListener::bind(args.listen)
        .map_err(|e| format!("binding {}: {e}", args.listen))?;
    let http = match args.http_listen.as_str() {
        "none" | "" => None,
        a => {
            let addr: SocketAddr = a.parse().map_err(|e| format!("--http-listen {a}: {e}"))?;
            Some(std::net::TcpListener::bind(addr).map_err(|e| format!("binding {addr}: {e}"))?)
        }
    };
    if let Some(u) = &user {
        privs::drop_to(u).map_err(|e| e.to_string())?;
        tracing::info!(user = %u.name, "dropped root");
    }
    let https_addr = https.local_addr().map_err(|e| e.to_string())?;
    let http_addr = http.as_ref().and_then(|l| l.local_addr().ok());
    for l in std::iter::once(&https).chain(http.as_ref()) {
        l.set_nonblocking(true).map_err(|e| e.to_string())?;
    }
    if !store::AdminPassword::new(&args.state_dir).is_set() {
        tracing::warn!("no admin password yet: the first visit to https://{https_addr}/ sets it");
    }
    let policy = LimitPolicy {
        max_failures: args.login_failures.max(1),
        window: Duration::from_secs(args.login_window_secs),
        lockout: Duration::from_secs(args.lockout_secs),
    };
    let state = Arc::new(AppState::new(
        Client::new(&args.socket).with_timeout(Duration::from_secs(30)),
        args.state_dir.clone(),
        policy,
    ));
    let runtime = tokio::runtime::Runtime::new().map_err(|e| e.to_string())?;
    runtime.block_on(async move {
        let https = tokio::net::TcpListener::from_std(https).map_err(|e| e.to_string())?;
        let http = match http {
            Some(l) => Some(tokio::net::TcpListener::from_std(l).map_err(|e| e.to_string())?),
            None => None,
        };
        tracing::info!(
            "HTTPS on {https_addr}, routerd at {}",
            args.socket.display()
        );
        let mut out = std::io::stdout().lock();
        let _ = writeln!(
            out,
            "listening https={https_addr} http={}",
            http_addr.map_or("none".to_owned(), |a| a.to_string())
        );
        let _ = out.flush();
        drop(out);
        if let Some(l) = http {
            tokio::spawn(tls::serve_redirect(l, https_addr.port()));
        }
        let app = router(state);
        tokio::select! {
            () = tls::serve_tls(https, tls_config, app) => {}
            _ = tokio::signal::ctrl_c() => {}
            () = sigterm() => {}
        }
        tracing::info!("stopping");
        Ok::<(), String>(())
    })
}

async fn sigterm() {
    match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(mut s) => {
            s.recv().await;
        }
        Err(_) => std::future::pending().await,
    }
}
