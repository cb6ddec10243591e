//! `pptp-testserver`: a minimal PPTP server (PAC, MS-CHAPv2, MPPE-128, IPCP) that answers ICMP
//! echo requests itself. For testing `pptp-loadgen` without routerd and measuring its own
//! ceiling; not the product.
//!
//! ```text
//! pptp-testserver --listen 10.98.0.1 --user 'load{n}' --users 1000 --password secret \
//!     --pool 10.200.0.1 --pool-size 60000
//! ```

use std::net::{Ipv4Addr, SocketAddrV4};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::Parser;
use dialgate_loadgen::server::{Quirk, RangePool, ServerSettings};
use dialgate_ppp::Config;
use dialgate_ppp::auth::LocalUsers;
use dialgate_ppp::ncp::IpcpServerConfig;
use dialgate_pptp::control::ControlConfig;
use dialgate_pptp::gre::GreConfig;

/// A minimal PPTP server for load-generator tests.
#[derive(Debug, Parser)]
#[command(name = "pptp-testserver", version)]
struct Cli {
    /// Address to listen on (port 1723); GRE goes out from it.
    #[arg(long)]
    listen: Ipv4Addr,
    /// User name; `{n}` makes users 1..=--users.
    #[arg(long)]
    user: String,
    /// Password of every user.
    #[arg(long)]
    password: String,
    /// Users to create when the name has `{n}`.
    #[arg(long, default_value_t = 1)]
    users: u64,
    /// First address of the client pool.
    #[arg(long, default_value = "10.200.0.1")]
    pool: Ipv4Addr,
    /// Addresses in the pool.
    #[arg(long, default_value_t = 65_000)]
    pool_size: u32,
    /// Our IPCP address.
    #[arg(long, default_value = "10.199.0.1")]
    local: Ipv4Addr,
    /// Seconds between JSON counter lines (0: none).
    #[arg(long, default_value_t = 0)]
    report_interval: u64,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let mut users = LocalUsers::new();
    let names: Vec<String> = if cli.user.contains("{n}") {
        (1..=cli.users.max(1))
            .map(|n| cli.user.replace("{n}", &n.to_string()))
            .collect()
    } else {
        vec![cli.user.clone()]
    };
    for name in names {
        if let Err(e) = users.add_password(&name, &cli.password) {
            eprintln!("pptp-testserver: user {name}: {e}");
            return ExitCode::from(2);
        }
    }
    let mut seed = [0u8; 8];
    let _ = getrandom::fill(&mut seed);
    let state = std::sync::atomic::AtomicU64::new(u64::from_le_bytes(seed));
    let random: dialgate_ppp::config::RandomSource = Arc::new(move |buf: &mut [u8]| {
        for chunk in buf.chunks_mut(8) {
            let mut s =
                state.fetch_add(0x9e37_79b9_7f4a_7c15, std::sync::atomic::Ordering::Relaxed);
            let v = dialgate_loadgen::client::splitmix(&mut s).to_le_bytes();
            chunk.copy_from_slice(v.get(..chunk.len()).unwrap_or_default());
        }
    });
    let mut ppp = Config::default()
        .with_authenticator(Arc::new(users), "pptp-testserver")
        .with_random(random)
        .with_ipcp_server(
            IpcpServerConfig {
                local: cli.local,
                dns: [None, None],
                nbns: [None, None],
            },
            Arc::new(RangePool::new(cli.pool, cli.pool_size)),
        );
    ppp.lcp.echo_interval = None;
    let settings = ServerSettings {
        ppp,
        control: ControlConfig {
            maximum_channels: u16::MAX,
            ..ControlConfig::default()
        },
        gre: GreConfig::default(),
        quirk: Quirk::None,
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("pptp-testserver: {e}");
            return ExitCode::from(2);
        }
    };
    dialgate_loadgen::driver::raise_fd_limit(1 << 20);
    let report = (cli.report_interval > 0).then(|| Duration::from_secs(cli.report_interval));
    let local = tokio::task::LocalSet::new();
    let listen = SocketAddrV4::new(cli.listen, 1723);
    match local.block_on(
        &runtime,
        dialgate_loadgen::serve::serve(listen, settings, report),
    ) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("pptp-testserver: {e}");
            ExitCode::FAILURE
        }
    }
}
