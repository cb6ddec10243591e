//! `dg-login`: the login of the appliance's serial console, run by the image's init on the
//! console in a loop.
//!
//! ```text
//! dg-login [--password-file /var/lib/dialgate/webui/admin.argon2] [--shell /bin/sh]
//! ```
//!
//! The box has one administrator, whose password is set in the web UI on first boot (argon2id,
//! `webui/src/store.rs`). Like OpenWrt before its root password is set, the console is open
//! until then (whoever holds the console of an unconfigured box sets it up); once the password
//! is set, the console asks for it (like RouterOS), with a 3 s pause after each wrong one and
//! at most 3 tries per run. A lost password is reset from the boot menu's recovery entry (see
//! appliance-image/README.md, "Console and recovery").
//!
//! Exit status: 1 after 3 wrong passwords (the init starts it again), 2 usage; on success the
//! shell replaces it.

use std::io::{BufRead, Read, Write};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::Duration;

use argon2::password_hash::{PasswordHash, PasswordVerifier};

/// Where the web UI keeps the admin password's hash on the appliance.
pub const DEFAULT_PASSWORD_FILE: &str = "/var/lib/dialgate/webui/admin.argon2";

/// The longest password read (the web UI accepts no longer one).
const MAX_PASSWORD: usize = 1024;

/// Wrong passwords per run.
const TRIES: u32 = 3;

/// Pause after a wrong password.
const PAUSE: Duration = Duration::from_secs(3);

/// What to do with the console.
#[derive(Debug, PartialEq, Eq)]
enum Gate {
    /// No admin password yet: open, with a notice.
    Open,
    /// Ask for the password with this hash.
    Password(String),
}

fn gate(file: &Path) -> Gate {
    match std::fs::read_to_string(file) {
        Ok(text) if !text.trim().is_empty() => Gate::Password(text.trim().to_owned()),
        _ => Gate::Open,
    }
}

/// Whether `password` matches the PHC string `hash` (false for a malformed hash).
fn verify(hash: &str, password: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|h| {
        argon2::Argon2::default()
            .verify_password(password.as_bytes(), &h)
            .is_ok()
    })
}

/// Turns terminal echo off until dropped (nothing happens when stdin is no terminal).
struct NoEcho(Option<nix::sys::termios::Termios>);

impl NoEcho {
    fn new() -> NoEcho {
        use nix::sys::termios::{LocalFlags, SetArg, tcgetattr, tcsetattr};
        let Ok(saved) = tcgetattr(std::io::stdin()) else {
            return NoEcho(None);
        };
        let mut quiet = saved.clone();
        quiet.local_flags.remove(LocalFlags::ECHO);
        let _ = tcsetattr(std::io::stdin(), SetArg::TCSANOW, &quiet);
        NoEcho(Some(saved))
    }
}

impl Drop for NoEcho {
    fn drop(&mut self) {
        use nix::sys::termios::{SetArg, tcsetattr};
        if let Some(saved) = &self.0 {
            let _ = tcsetattr(std::io::stdin(), SetArg::TCSANOW, saved);
        }
    }
}

/// One line from stdin, at most [`MAX_PASSWORD`] bytes, without its line end; `None` at end
/// of input.
fn read_line() -> Option<String> {
    let mut buf = Vec::new();
    let n = std::io::stdin()
        .lock()
        .take(MAX_PASSWORD as u64)
        .read_until(b'\n', &mut buf)
        .ok()?;
    if n == 0 {
        return None;
    }
    while matches!(buf.last(), Some(b'\n' | b'\r')) {
        buf.pop();
    }
    Some(String::from_utf8_lossy(&buf).into_owned())
}

fn shell(path: &Path) -> ExitCode {
    let err = Command::new(path).arg("-l").exec();
    let _ = writeln!(std::io::stderr(), "dg-login: {}: {err}", path.display());
    ExitCode::from(2)
}

fn main() -> ExitCode {
    let mut file = PathBuf::from(DEFAULT_PASSWORD_FILE);
    let mut sh = PathBuf::from("/bin/sh");
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match (arg.as_str(), args.next()) {
            ("--password-file", Some(v)) => file = PathBuf::from(v),
            ("--shell", Some(v)) => sh = PathBuf::from(v),
            _ => {
                let _ = writeln!(
                    std::io::stderr(),
                    "usage: dg-login [--password-file FILE] [--shell SHELL]"
                );
                return ExitCode::from(2);
            }
        }
    }
    let mut out = std::io::stdout();
    let hash = match gate(&file) {
        Gate::Open => {
            let _ = writeln!(
                out,
                "\ndialgate: no admin password is set yet; the console is open until it is.\n\
                 Set it in the web UI (https://<this box's LAN address>/)."
            );
            return shell(&sh);
        }
        Gate::Password(hash) => hash,
    };
    for _ in 0..TRIES {
        let _ = write!(out, "\ndialgate console: admin password: ");
        let _ = out.flush();
        let line = {
            let _quiet = NoEcho::new();
            read_line()
        };
        let _ = writeln!(out);
        let Some(password) = line else {
            return ExitCode::from(1);
        };
        if verify(&hash, &password) {
            return shell(&sh);
        }
        std::thread::sleep(PAUSE);
        let _ = writeln!(out, "Login incorrect");
    }
    ExitCode::from(1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use argon2::password_hash::{PasswordHasher, SaltString};

    fn hash(password: &str) -> String {
        let salt = SaltString::encode_b64(b"0123456789abcdef").expect("salt");
        argon2::Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .expect("hash")
            .to_string()
    }

    #[test]
    fn verifies_the_web_uis_argon2id_hash() {
        let h = hash("correct horse");
        assert!(h.starts_with("$argon2id$"), "{h}");
        assert!(verify(&h, "correct horse"));
        assert!(!verify(&h, "correct horsE"));
        assert!(!verify("not a hash", "correct horse"));
    }

    #[test]
    fn console_is_open_until_a_password_is_set() {
        let dir = std::env::temp_dir().join(format!("dg-login-{}", std::process::id()));
        let _ = std::fs::create_dir_all(&dir);
        let file = dir.join("admin.argon2");
        let _ = std::fs::remove_file(&file);
        assert_eq!(gate(&file), Gate::Open);
        let _ = std::fs::write(&file, format!("{}\n", hash("pw")));
        assert!(matches!(gate(&file), Gate::Password(h) if verify(&h, "pw")));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
