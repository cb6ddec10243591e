//! Dropping root: the web UI binds its ports (possibly 443 and 80) and reads its state as
//! root when started so, then runs as an ordinary user. It reaches routerd only through the
//! management socket, whose group (mode 0660) the user must be in.

use std::path::Path;

use nix::unistd::{Gid, Uid, User, chown, initgroups, setgid, setuid};

/// Why privileges could not be dropped.
#[derive(Debug, thiserror::Error)]
pub enum PrivError {
    /// No such user.
    #[error("no user named {0:?}")]
    NoUser(String),
    /// A system call failed.
    #[error("{what}: {source}")]
    Sys {
        /// Which step.
        what: &'static str,
        /// Why.
        source: nix::Error,
    },
    /// Root could be regained after the switch (the drop did not take).
    #[error("still able to regain root after dropping privileges")]
    NotDropped,
}

fn sys(what: &'static str) -> impl FnOnce(nix::Error) -> PrivError {
    move |source| PrivError::Sys { what, source }
}

/// Looks `name` up.
pub fn find_user(name: &str) -> Result<User, PrivError> {
    User::from_name(name)
        .map_err(sys("looking up the user"))?
        .ok_or_else(|| PrivError::NoUser(name.to_owned()))
}

/// Gives `paths` to `user` (so the state directory stays writable after the drop).
pub fn give(user: &User, paths: &[&Path]) -> Result<(), PrivError> {
    for p in paths {
        chown(*p, Some(user.uid), Some(user.gid)).map_err(sys("chown of the state directory"))?;
    }
    Ok(())
}

/// Switches to `user`: its supplementary groups (initgroups), group, then user id; then
/// checks root cannot be regained.
pub fn drop_to(user: &User) -> Result<(), PrivError> {
    let cname = std::ffi::CString::new(user.name.as_bytes())
        .map_err(|_| PrivError::NoUser(user.name.clone()))?;
    initgroups(&cname, user.gid).map_err(sys("initgroups"))?;
    setgid(user.gid).map_err(sys("setgid"))?;
    setuid(user.uid).map_err(sys("setuid"))?;
    if user.uid != Uid::from_raw(0)
        && (setuid(Uid::from_raw(0)).is_ok() || setgid(Gid::from_raw(0)).is_ok())
    {
        return Err(PrivError::NotDropped);
    }
    Ok(())
}

/// Whether the process runs as root.
pub fn is_root() -> bool {
    Uid::effective().is_root()
}
