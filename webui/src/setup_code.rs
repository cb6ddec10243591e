//! The one-time setup code: until the first admin password is set, `/setup` asks for a code
//! the web UI made at start, logged to its console and written to `<state_dir>/setup-code`
//! (mode 0600), so whoever reaches the page first cannot take the box without access to
//! the console or the box's files. A new code is made at every start while no password is
//! set; the file is removed once one is.

use std::path::Path;

use crate::auth::constant_time_eq;
use crate::store::{StoreError, write_atomic};

/// The code's file in the state directory.
pub const SETUP_CODE_FILE: &str = "setup-code";

/// The code's alphabet: no 0/O, 1/I/L (read off a console and typed again).
const ALPHABET: &[u8; 30] = b"ABCDEFGHJKMNPQRSTUVWXYZ2345678";

/// Characters of the code (4 groups of 4 from a 30-character alphabet: 78 bits).
pub const CODE_CHARS: usize = 16;

/// A fresh code, `XXXX-XXXX-XXXX-XXXX`; `None` when the OS has no randomness.
pub fn generate() -> Option<String> {
    let mut raw = [0u8; CODE_CHARS];
    getrandom::fill(&mut raw).ok()?;
    let mut out = String::with_capacity(CODE_CHARS + 3);
    for (i, b) in raw.iter().enumerate() {
        if i > 0 && i % 4 == 0 {
            out.push('-');
        }
        // 30 usable characters; the rejection of 240..=255 keeps the choice uniform.
        let mut v = *b;
        while v >= 240 {
            let mut one = [0u8; 1];
            getrandom::fill(&mut one).ok()?;
            v = one[0];
        }
        out.push(char::from(*ALPHABET.get(usize::from(v % 30))?));
    }
    Some(out)
}

/// The code as compared: upper case, without spaces and dashes.
pub fn normalize(code: &str) -> String {
    code.chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .flat_map(char::to_uppercase)
        .take(64)
        .collect()
}

/// Whether `given` (as typed) is `expected`.
pub fn matches(expected: &str, given: &str) -> bool {
    constant_time_eq(&normalize(expected), &normalize(given))
}

/// At start: a new code written to `<state_dir>/setup-code` when no admin password is set
/// (`admin_set` false), else the file removed and `None`.
pub fn prepare(state_dir: &Path, admin_set: bool) -> Result<Option<String>, StoreError> {
    let path = state_dir.join(SETUP_CODE_FILE);
    if admin_set {
        remove(state_dir);
        return Ok(None);
    }
    let code = generate().ok_or_else(|| StoreError::Hash("no OS randomness".to_owned()))?;
    write_atomic(&path, format!("{code}\n").as_bytes(), 0o600)?;
    Ok(Some(code))
}

/// Removes the code's file (the password is set).
pub fn remove(state_dir: &Path) {
    let _ = std::fs::remove_file(state_dir.join(SETUP_CODE_FILE));
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn codes_are_grouped_unambiguous_and_differ() {
        let a = generate().unwrap();
        let b = generate().unwrap();
        assert_ne!(a, b);
        assert_eq!(a.len(), CODE_CHARS + 3);
        assert_eq!(a.split('-').count(), 4);
        assert!(
            a.chars().all(|c| c == '-' || ALPHABET.contains(&(c as u8))),
            "{a}"
        );
        assert!(matches(&a, &a.to_lowercase().replace('-', " ")));
        assert!(!matches(&a, &b));
        assert!(!matches(&a, ""));
    }

    #[test]
    fn prepared_at_start_and_removed_once_a_password_exists() {
        let dir = std::env::temp_dir().join(format!("dg-setup-code-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let code = prepare(&dir, false).unwrap().unwrap();
        let file = dir.join(SETUP_CODE_FILE);
        assert_eq!(std::fs::read_to_string(&file).unwrap().trim(), code);
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        // A restart makes a new one.
        let again = prepare(&dir, false).unwrap().unwrap();
        assert_ne!(code, again);
        assert_eq!(prepare(&dir, true).unwrap(), None);
        assert!(!file.exists());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
