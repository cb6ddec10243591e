//! `pptp-loadgen`: set up many PPTP sessions against a server and report how it copes.
//!
//! Every session is a whole client: control connection (RFC 2637), Outgoing-Call-Request,
//! LCP, MS-CHAPv2, CCP/MPPE-128, IPCP, then ICMP echo requests through the tunnel that must
//! be answered. Sessions are held (`--hold`, or until `--duration` / SIGINT / SIGTERM) and
//! closed politely. Exit status: 0 when every session came up and none was lost, 1 otherwise,
//! 2 on a usage or setup error.
//!
//! Example (inside a namespace whose veth carries 10.99.0.1-10.99.15.254):
//!
//! ```text
//! pptp-loadgen --target 10.98.0.1 --sources 10.99.0.0/20 --user 'load{n}' --users 1000 \
//!     --password secret --sessions 20000 --in-flight 512 --hold 30 --json
//! ```

use std::io::Write as _;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, ValueEnum};
use dialgate_loadgen::client::{MAX_PINGS, Settings};
use dialgate_loadgen::driver::{self, GreMode, RunConfig};
use dialgate_loadgen::sources;
use dialgate_ppp::Config;
use dialgate_ppp::config::RandomSource;
use dialgate_ppp::ncp::IpcpClientConfig;
use dialgate_pptp::control::ControlConfig;
use dialgate_pptp::gre::GreConfig;
use dialgate_wire::pptp::FixedStr;

/// GRE socket strategy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum GreSocketArg {
    /// One raw socket; each packet names its source address (IP_PKTINFO).
    Shared,
    /// One raw socket bound to each source address.
    PerSource,
}

/// PPTP load generator: many complete PPTP client sessions (control connection, call,
/// MS-CHAPv2, MPPE-128, IPCP, echo traffic) from many source addresses.
#[derive(Debug, Parser)]
#[command(name = "pptp-loadgen", version)]
struct Cli {
    /// The PPTP server: ADDRESS or ADDRESS:PORT (default port 1723).
    #[arg(long)]
    target: String,
    /// Source addresses, one per control connection, round-robin: A.B.C.D/LEN (every host
    /// address), A.B.C.D-A.B.C.D, A.B.C.D, comma-separated. They must be local addresses.
    #[arg(long)]
    sources: String,
    /// User name; `{n}` is replaced by a number (see --users).
    #[arg(long)]
    user: String,
    /// Password (the same for every user).
    #[arg(long)]
    password: String,
    /// With `{n}` in --user: cycle through users 1..=N; 0: session number + 1.
    #[arg(long, default_value_t = 0)]
    users: u64,
    /// Sessions (calls) to set up in total.
    #[arg(long, default_value_t = 1)]
    sessions: u64,
    /// Session setups started per second; leave out to go as fast as --in-flight allows.
    #[arg(long)]
    rate: Option<f64>,
    /// Most sessions in setup at once.
    #[arg(long, default_value_t = 256)]
    in_flight: u64,
    /// Calls per control connection (1 like real clients; more to load the call path).
    #[arg(long, default_value_t = 1)]
    calls_per_connection: u16,
    /// Seconds each session stays up before it is closed; leave out to hold every session
    /// until --duration ends or SIGINT/SIGTERM.
    #[arg(long)]
    hold: Option<f64>,
    /// Stop everything after this many seconds.
    #[arg(long)]
    duration: Option<f64>,
    /// ICMP echo requests each session sends through its tunnel once IPCP and MPPE are up;
    /// the setup is complete when all are answered (0: complete at IPCP + MPPE).
    #[arg(long, default_value_t = 1)]
    pings: u16,
    /// Where the echo requests go (an address on the server's LAN); default: the server's
    /// IPCP address.
    #[arg(long)]
    ping_target: Option<Ipv4Addr>,
    /// Seconds from the TCP connect until the setup must be complete.
    #[arg(long, default_value_t = 30.0)]
    setup_timeout: f64,
    /// Seconds a polite teardown may take.
    #[arg(long, default_value_t = 5.0)]
    close_timeout: f64,
    /// Our own LCP keepalive interval in seconds (0: off; the server runs its own).
    #[arg(long, default_value_t = 0)]
    lcp_echo: u64,
    /// Packet Recv. Window Size we advertise per call (RFC 2637 §2.7; 0 like Windows).
    #[arg(long, default_value_t = 64)]
    recv_window: u16,
    /// GRE sockets: one shared (IP_PKTINFO per packet) or one bound per source address.
    #[arg(long, value_enum, default_value_t = GreSocketArg::Shared)]
    gre_socket: GreSocketArg,
    /// Seconds between progress reports (0: final report only).
    #[arg(long, default_value_t = 1.0)]
    report_interval: f64,
    /// Reports as JSON, one object per line (progress lines, then the final one).
    #[arg(long)]
    json: bool,
    /// Seed for Call IDs, magic numbers and challenges (default: from the OS).
    #[arg(long)]
    seed: Option<u64>,
    /// Worker threads, each with its share of the source addresses and connections. One
    /// costs the least CPU per setup (each more adds a filtered copy of every GRE packet):
    /// more only when the generator has cores the server does not need.
    #[arg(long, default_value_t = 1)]
    threads: usize,
}

fn secs(what: &str, v: f64) -> Result<Duration, String> {
    Duration::try_from_secs_f64(v).map_err(|_| format!("--{what} {v}: not a duration"))
}

/// A fast, non-cryptographic random source for challenges: a load generator needs distinct
/// values, not secret ones.
fn fast_random(seed: u64) -> RandomSource {
    use std::sync::atomic::{AtomicU64, Ordering};
    let state = AtomicU64::new(seed);
    std::sync::Arc::new(move |buf: &mut [u8]| {
        for chunk in buf.chunks_mut(8) {
            let mut s = state.fetch_add(0x9e37_79b9_7f4a_7c15, Ordering::Relaxed);
            let v = dialgate_loadgen::client::splitmix(&mut s).to_le_bytes();
            chunk.copy_from_slice(v.get(..chunk.len()).unwrap_or_default());
        }
    })
}

fn build(cli: &Cli) -> Result<RunConfig, String> {
    let target = match cli.target.parse::<SocketAddrV4>() {
        Ok(t) => t,
        Err(_) => SocketAddrV4::new(
            cli.target
                .parse::<Ipv4Addr>()
                .map_err(|_| format!("--target {:?}: not an IPv4 address", cli.target))?,
            1723,
        ),
    };
    let sources = sources::parse(&cli.sources).map_err(|e| e.to_string())?;
    if cli.pings > MAX_PINGS {
        return Err(format!("--pings: at most {MAX_PINGS}"));
    }
    if cli.calls_per_connection == 0 {
        return Err("--calls-per-connection: at least 1".into());
    }
    let setup_timeout = secs("setup-timeout", cli.setup_timeout)?;
    let seed = cli.seed.unwrap_or_else(|| {
        let mut b = [0u8; 8];
        let _ = getrandom::fill(&mut b);
        u64::from_le_bytes(b)
    });
    let mut ppp = Config::default()
        .with_random(fast_random(seed ^ 0x6c6f_6164))
        .with_ipcp_client(IpcpClientConfig {
            address: None,
            request_dns: false,
            request_nbns: false,
        });
    ppp.lcp.echo_interval = (cli.lcp_echo > 0).then(|| Duration::from_secs(cli.lcp_echo));
    let control = ControlConfig {
        host_name: FixedStr::new_truncated(b"pptp-loadgen"),
        vendor: FixedStr::new_truncated(b"dialgate"),
        setup_timeout,
        reply_timeout: setup_timeout,
        recv_window: cli.recv_window,
        max_calls: cli.calls_per_connection.saturating_add(16),
        ..ControlConfig::default()
    };
    let settings = Settings {
        calls_per_connection: cli.calls_per_connection,
        user: cli.user.clone(),
        password: cli.password.clone(),
        user_count: cli.users,
        ppp,
        control,
        gre: GreConfig::default(),
        pings: cli.pings,
        ping_target: cli.ping_target,
        setup_timeout,
        hold: cli.hold.map(|h| secs("hold", h)).transpose()?,
        close_timeout: secs("close-timeout", cli.close_timeout)?,
    };
    Ok(RunConfig {
        target,
        sources,
        sessions: cli.sessions,
        rate: cli.rate,
        in_flight: cli.in_flight.max(1),
        settings,
        gre_mode: match cli.gre_socket {
            GreSocketArg::Shared => GreMode::Shared,
            GreSocketArg::PerSource => GreMode::PerSource,
        },
        report_interval: (cli.report_interval > 0.0)
            .then(|| secs("report-interval", cli.report_interval))
            .transpose()?,
        json: cli.json,
        duration: cli.duration.map(|d| secs("duration", d)).transpose()?,
        seed: Some(seed),
        threads: cli.threads.max(1),
    })
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let config = match build(&cli) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("pptp-loadgen: {e}");
            return ExitCode::from(2);
        }
    };
    let wanted_fds = config
        .sessions
        .div_ceil(u64::from(config.settings.calls_per_connection))
        + config.sources.len() as u64
        + 1024;
    let limit = driver::raise_fd_limit(wanted_fds);
    if limit < wanted_fds {
        eprintln!(
            "pptp-loadgen: warning: open-file limit {limit} is below the {wanted_fds} this run \
             may need (raise it with ulimit -n)"
        );
    }
    let sessions = config.sessions;
    let result = driver::run(config);
    let _ = std::io::stdout().flush();
    match result {
        Ok(r) if r.up == sessions && r.failed == 0 && r.dropped.is_empty() => ExitCode::SUCCESS,
        Ok(_) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("pptp-loadgen: {e}");
            ExitCode::from(2)
        }
    }
}
