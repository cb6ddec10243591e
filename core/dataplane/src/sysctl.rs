//! Kernel parameters under `/proc/sys`, with the previous values kept for restoring.
//!
//! A key is given as path segments (`["net", "ipv4", "conf", "eth0", "proxy_arp"]`), never as
//! a dotted string: interface names may contain dots (`eth0.100`), and each segment is checked
//! so a name from the config cannot walk out of `/proc/sys`.
//!
//! `/proc/sys/net` shows the network namespace of the thread that opens the file.
//! [`SysctlGuard`] keeps each file it changed open, so restoring writes to the namespace the
//! value was set in, whichever thread drops the guard.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::PathBuf;

const ROOT: &str = "/proc/sys";
/// Longest value read back (sysctl values here are short numbers).
const MAX_VALUE: usize = 256;

/// The `/proc/sys` path of `key`, checking every segment.
pub fn path(key: &[&str]) -> io::Result<PathBuf> {
    if key.is_empty() {
        return Err(bad_key(key));
    }
    let mut p = PathBuf::from(ROOT);
    for segment in key {
        let ok = !segment.is_empty()
            && *segment != "."
            && *segment != ".."
            && segment.len() <= 64
            && !segment.contains(['/', '\0']);
        if !ok {
            return Err(bad_key(key));
        }
        p.push(segment);
    }
    Ok(p)
}

fn bad_key(key: &[&str]) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        format!("invalid sysctl key {key:?}"),
    )
}

fn context(key: &[&str], e: io::Error) -> io::Error {
    io::Error::new(e.kind(), format!("sysctl {}: {e}", key.join(".")))
}

fn read_file(file: &File) -> io::Result<String> {
    let mut buf = [0u8; MAX_VALUE];
    let n = file.read_at(&mut buf, 0)?;
    let text = buf.get(..n).unwrap_or_default();
    Ok(String::from_utf8_lossy(text).trim().to_owned())
}

fn write_file(file: &File, value: &str) -> io::Result<()> {
    file.write_at(value.as_bytes(), 0).map(drop)
}

/// Reads `key` (trimmed).
pub fn read(key: &[&str]) -> io::Result<String> {
    let file = File::open(path(key)?).map_err(|e| context(key, e))?;
    read_file(&file).map_err(|e| context(key, e))
}

/// Writes `value` to `key`.
pub fn write(key: &[&str], value: &str) -> io::Result<()> {
    let file = OpenOptions::new()
        .write(true)
        .open(path(key)?)
        .map_err(|e| context(key, e))?;
    write_file(&file, value).map_err(|e| context(key, e))
}

/// Sets kernel parameters and puts the previous values back on [`restore`](Self::restore)
/// or drop, in reverse order.
#[derive(Debug, Default)]
pub struct SysctlGuard {
    saved: Vec<Saved>,
}

#[derive(Debug)]
struct Saved {
    key: String,
    file: File,
    previous: String,
}

impl SysctlGuard {
    /// An empty guard.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets `key` to `value`, remembering the value before (the first one, if the key is set
    /// twice). Setting a key to the value it already has is recorded all the same.
    pub fn set(&mut self, key: &[&str], value: &str) -> io::Result<()> {
        let name = key.join(".");
        if let Some(saved) = self.saved.iter().find(|s| s.key == name) {
            return write_file(&saved.file, value).map_err(|e| context(key, e));
        }
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(path(key)?)
            .map_err(|e| context(key, e))?;
        let previous = read_file(&file).map_err(|e| context(key, e))?;
        write_file(&file, value).map_err(|e| context(key, e))?;
        self.saved.push(Saved {
            key: name,
            file,
            previous,
        });
        Ok(())
    }

    /// The keys changed so far and their previous values.
    pub fn changed(&self) -> impl Iterator<Item = (&str, &str)> {
        self.saved
            .iter()
            .map(|s| (s.key.as_str(), s.previous.as_str()))
    }

    /// Puts every previous value back (newest first); the first error is returned after all
    /// were tried.
    pub fn restore(&mut self) -> io::Result<()> {
        let mut first = Ok(());
        while let Some(s) = self.saved.pop() {
            if let Err(e) = write_file(&s.file, &s.previous)
                && first.is_ok()
            {
                first = Err(io::Error::new(e.kind(), format!("restore {}: {e}", s.key)));
            }
        }
        first
    }

    /// Forgets the saved values: the settings stay after the guard is dropped.
    pub fn keep(mut self) {
        self.saved.clear();
    }
}

impl Drop for SysctlGuard {
    fn drop(&mut self) {
        // Errors cannot be reported from drop; call `restore` to see them.
        let _ = self.restore();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_cannot_escape_proc_sys() {
        assert_eq!(
            path(&["net", "ipv4", "conf", "eth0.100", "proxy_arp"]).unwrap(),
            PathBuf::from("/proc/sys/net/ipv4/conf/eth0.100/proxy_arp")
        );
        for bad in [
            &["net", "..", "x"][..],
            &["net", "a/b"],
            &["net", ""],
            &[],
            &["."],
            &["x\0"],
        ] {
            assert!(path(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn reads_a_kernel_value() {
        // Present on every Linux; readable without privileges.
        let v = read(&["kernel", "ostype"]).unwrap();
        assert_eq!(v, "Linux");
        assert!(read(&["kernel", "no_such_key_here"]).is_err());
    }
}
