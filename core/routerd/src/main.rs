//! The routerd daemon. The runtime is not built yet; `--check-config` validates a file.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use dialgate_routerd::config::{DEFAULT_CONFIG, Document, LoadError};

/// dialgate router daemon.
#[derive(Debug, Parser)]
#[command(name = "routerd", version, about)]
struct Args {
    /// Validate FILE, print OK or every error, and exit: 0 valid, 1 invalid, 2 unreadable.
    #[arg(long, value_name = "FILE", conflicts_with = "print_default_config")]
    check_config: Option<PathBuf>,
    /// Print the embedded default configuration and exit.
    #[arg(long)]
    print_default_config: bool,
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
    let _ = writeln!(
        std::io::stderr().lock(),
        "routerd: the daemon runtime is not implemented yet (issue 3); try --check-config FILE"
    );
    ExitCode::from(2)
}
