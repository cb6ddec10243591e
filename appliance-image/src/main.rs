//! `dg-hwprofile`: reads a hardware profile (`hw-profiles/<box>.toml`) with routerd's own
//! schema ([`dialgate_routerd::config::hw_profile`]) for the image build.
//!
//! ```text
//! dg-hwprofile check FILE...   parse and check each file; print OK or every problem
//! dg-hwprofile shell FILE      print the profile as shell assignments (DG_*), for
//!                              appliance-image/build.sh and the image's init
//! ```
//!
//! Exit status: 0 fine, 1 a profile is invalid, 2 usage or unreadable file.

use std::fmt::Write as _;
use std::io::Write as _;
use std::process::ExitCode;

use dialgate_routerd::config::hw_profile::{Detect, HwProfile};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.split_first() {
        Some((cmd, files)) if cmd == "check" && !files.is_empty() => check(files),
        Some((cmd, [file])) if cmd == "shell" => match load(file) {
            Ok(p) => {
                let _ = std::io::stdout().write_all(shell(&p).as_bytes());
                ExitCode::SUCCESS
            }
            Err(code) => code,
        },
        _ => {
            let _ = writeln!(
                std::io::stderr(),
                "usage: dg-hwprofile check FILE... | dg-hwprofile shell FILE"
            );
            ExitCode::from(2)
        }
    }
}

fn load(file: &str) -> Result<HwProfile, ExitCode> {
    let text = std::fs::read_to_string(file).map_err(|e| {
        let _ = writeln!(std::io::stderr(), "dg-hwprofile: {file}: {e}");
        ExitCode::from(2)
    })?;
    HwProfile::parse(&text).map_err(|e| {
        let mut err = std::io::stderr().lock();
        for p in &e.problems {
            let _ = writeln!(err, "{file}: {p}");
        }
        ExitCode::from(1)
    })
}

fn check(files: &[String]) -> ExitCode {
    let mut status = ExitCode::SUCCESS;
    for f in files {
        match load(f) {
            Ok(_) => {
                let _ = writeln!(std::io::stdout(), "{f}: OK");
            }
            Err(code) => status = code,
        }
    }
    status
}

/// `'text'` with every `'` closed, escaped and reopened: safe for `sh` to read back.
fn sh_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// The profile as `DG_*=value` lines (see appliance-image/README.md for the names).
fn shell(p: &HwProfile) -> String {
    let mut out = String::new();
    let mut var = |name: &str, value: &str| {
        let _ = writeln!(out, "DG_{name}={}", sh_quote(value));
    };
    var("BOARD", &p.board.name);
    var("ARCH", p.board.arch.as_str());
    let firmware: Vec<&str> = p.board.firmware.iter().map(|f| f.as_str()).collect();
    var("FIRMWARE", &firmware.join(" "));
    match &p.board.detect {
        Detect::Dmi {
            sys_vendor,
            product_name,
            board_name,
        } => {
            var("DETECT", "dmi");
            var("DETECT_SYS_VENDOR", sys_vendor);
            var("DETECT_PRODUCT_NAME", product_name.as_deref().unwrap_or(""));
            var("DETECT_BOARD_NAME", board_name.as_deref().unwrap_or(""));
        }
        Detect::Devicetree { compatible } => {
            var("DETECT", "devicetree");
            var("DETECT_COMPATIBLE", compatible);
        }
        Detect::Any => var("DETECT", "any"),
    }
    var("CONSOLE", &p.console.device);
    var("CMDLINE", &p.kernel_cmdline());
    var("MODULES", &p.kernel.modules.join(" "));
    var("NET_COUNT", &p.interfaces.len().to_string());
    for (i, ifc) in p.interfaces.iter().enumerate() {
        var(&format!("NET_{i}_NAME"), &ifc.name);
        var(&format!("NET_{i}_ROLE"), ifc.role.as_str());
        var(&format!("NET_{i}_PATH"), &ifc.path);
        var(&format!("NET_{i}_ADDRESS"), &ifc.address);
    }
    let modem: Vec<String> = p
        .serial
        .iter()
        .flat_map(|s| {
            let flag = if s.modem_control { "modem" } else { "local" };
            s.devices().into_iter().map(move |d| format!("{d}:{flag}"))
        })
        .collect();
    var("SERIAL", &modem.join(" "));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_survives_quotes() {
        assert_eq!(sh_quote("a'b"), r"'a'\''b'");
        assert_eq!(sh_quote(""), "''");
    }
}
