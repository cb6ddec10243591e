//! Local users: NT hashes on disk, never clear text unless explicitly allowed, and the
//! conversion into the PPP engine's store.

#![allow(clippy::unwrap_used)] // Test helpers panic on purpose.

mod common;

use std::fs;
use std::os::unix::fs::PermissionsExt;

use common::TempDir;
use dialgate_crypto::chap::chap_md5_response;
use dialgate_crypto::mschap::{generate_nt_response, nt_password_hash};
use dialgate_ppp::auth::{AuthBackend, AuthRequest, RejectReason, RequestContext, Verdict};
use dialgate_routerd::users::{UserInfo, UserStore, UsersError, parse_hex_hash};

const CTX: RequestContext = RequestContext {
    session: 1,
    attempt: 0,
};

/// NtPasswordHash("password"), the widely published value (RFC 2759 §8.3's function).
const PASSWORD_NT_HASH: &str = "8846f7eaee8fb117ad06bdd830b7586c";

fn pap(backend: &dyn AuthBackend, user: &str, password: &str) -> Verdict {
    backend.verify(
        CTX,
        &AuthRequest::Pap {
            user: user.as_bytes(),
            password: password.as_bytes(),
        },
    )
}

fn chap_md5(backend: &dyn AuthBackend, user: &str, secret: &str) -> Verdict {
    let challenge = [7u8; 16];
    backend.verify(
        CTX,
        &AuthRequest::ChapMd5 {
            user: user.as_bytes(),
            id: 3,
            challenge: &challenge,
            response: chap_md5_response(3, secret.as_bytes(), &challenge),
        },
    )
}

fn mschap_v2(backend: &dyn AuthBackend, user: &str, password: &str) -> Verdict {
    let (auth, peer) = ([0x11u8; 16], [0x22u8; 16]);
    let nt = nt_password_hash(password).unwrap();
    backend.verify(
        CTX,
        &AuthRequest::MsChapV2 {
            user: user.as_bytes(),
            authenticator_challenge: auth,
            peer_challenge: peer,
            nt_response: generate_nt_response(&auth, &peer, user.as_bytes(), &nt),
        },
    )
}

fn rejected(v: &Verdict) -> Option<&RejectReason> {
    match v {
        Verdict::Reject(r) => Some(&r.reason),
        _ => None,
    }
}

#[test]
fn passwords_are_stored_as_nt_hashes_only() {
    let dir = TempDir::new("users");
    let path = dir.path().join("users.toml");
    let mut users = UserStore::open(&path).unwrap();
    assert!(users.is_empty());
    users.set_password("alice", "password").unwrap();
    users.set_password("bob", "hunter2").unwrap();
    let text = fs::read_to_string(&path).unwrap();
    assert!(text.contains(PASSWORD_NT_HASH), "{text}");
    assert!(
        !text.contains("hunter2") && !text.contains("\"password\""),
        "{text}"
    );
    assert_eq!(
        fs::metadata(&path).unwrap().permissions().mode() & 0o777,
        0o600
    );
    // Reopened, the users are there and verify.
    let users = UserStore::open(&path).unwrap();
    assert_eq!(
        users.list(),
        vec![
            UserInfo {
                name: "alice".into(),
                has_weak_cleartext_secret: false,
                attrs: Default::default(),
            },
            UserInfo {
                name: "bob".into(),
                has_weak_cleartext_secret: false,
                attrs: Default::default(),
            },
        ]
    );
    let local = users.to_local_users().unwrap();
    assert_eq!(local.len(), 2);
    assert!(matches!(
        mschap_v2(&local, "alice", "password"),
        Verdict::Accept(_)
    ));
    assert_eq!(
        rejected(&mschap_v2(&local, "alice", "Password")),
        Some(&RejectReason::WrongPassword)
    );
    assert!(matches!(pap(&local, "bob", "hunter2"), Verdict::Accept(_)));
    assert_eq!(
        rejected(&pap(&local, "carol", "x")),
        Some(&RejectReason::UnknownUser)
    );
    // CHAP-MD5 needs clear text, which this store does not have.
    assert_eq!(
        rejected(&chap_md5(&local, "bob", "hunter2")),
        Some(&RejectReason::CleartextSecretUnavailable)
    );
}

#[test]
fn nt_hashes_can_be_imported() {
    let dir = TempDir::new("users-import");
    let path = dir.path().join("users.toml");
    let mut users = UserStore::open(&path).unwrap();
    users
        .set_nt_hash(
            "alice",
            parse_hex_hash(&PASSWORD_NT_HASH.to_uppercase()).unwrap(),
        )
        .unwrap();
    let local = users.to_local_users().unwrap();
    assert!(matches!(
        pap(&local, "alice", "password"),
        Verdict::Accept(_)
    ));
    assert!(parse_hex_hash("8846f7eaee8fb117ad06bdd830b7586").is_none());
    assert!(parse_hex_hash("8846f7eaee8fb117ad06bdd830b7586g").is_none());
    assert!(parse_hex_hash("+846f7eaee8fb117ad06bdd830b7586c").is_none());
}

#[test]
fn cleartext_secrets_need_the_explicit_opt_in() {
    let dir = TempDir::new("users-weak");
    let path = dir.path().join("users.toml");
    let mut users = UserStore::open(&path).unwrap();
    users.set_password("alice", "password").unwrap();
    let before = fs::read(&path).unwrap();
    assert!(matches!(
        users.set_weak_cleartext_secret("bob", "chap-secret"),
        Err(UsersError::CleartextNotAllowed)
    ));
    assert_eq!(fs::read(&path).unwrap(), before, "nothing written");
    assert!(!users.contains("bob"));

    users.set_allow_weak_cleartext_secrets(true).unwrap();
    users
        .set_weak_cleartext_secret("bob", "chap-secret")
        .unwrap();
    let local = UserStore::open(&path).unwrap().to_local_users().unwrap();
    assert!(local.allows_weak_cleartext_secrets());
    assert!(matches!(
        chap_md5(&local, "bob", "chap-secret"),
        Verdict::Accept(_)
    ));
    assert!(matches!(
        mschap_v2(&local, "bob", "chap-secret"),
        Verdict::Accept(_)
    ));
    assert_eq!(
        rejected(&chap_md5(&local, "alice", "password")),
        Some(&RejectReason::CleartextSecretUnavailable)
    );
    // set_password drops a stored clear-text secret.
    users.set_password("bob", "chap-secret").unwrap();
    assert!(!fs::read_to_string(&path).unwrap().contains("chap-secret"));
    users
        .set_weak_cleartext_secret("bob", "chap-secret")
        .unwrap();

    // Turning the opt-in off erases every clear-text secret; hashes keep working.
    users.set_allow_weak_cleartext_secrets(false).unwrap();
    let text = fs::read_to_string(&path).unwrap();
    assert!(!text.contains("chap-secret"), "{text}");
    let users = UserStore::open(&path).unwrap();
    assert!(!users.allows_weak_cleartext_secrets());
    assert!(users.list().iter().all(|u| !u.has_weak_cleartext_secret));
    let local = users.to_local_users().unwrap();
    assert!(matches!(
        pap(&local, "bob", "chap-secret"),
        Verdict::Accept(_)
    ));
}

#[test]
fn files_that_break_the_rules_are_refused() {
    let dir = TempDir::new("users-bad");
    let path = dir.path().join("users.toml");
    let cases: [(&str, &str); 5] = [
        (
            // Clear text without the opt-in.
            "[user.bob]\nnt_hash = \"8846f7eaee8fb117ad06bdd830b7586c\"\nweak_cleartext_secret = \"password\"\n",
            "user \"bob\" has a clear-text secret but allow_weak_cleartext_secrets is false",
        ),
        (
            // Clear text that does not match its hash.
            "allow_weak_cleartext_secrets = true\n[user.bob]\nnt_hash = \"8846f7eaee8fb117ad06bdd830b7586c\"\nweak_cleartext_secret = \"other\"\n",
            "user \"bob\": the clear-text secret does not match nt_hash",
        ),
        (
            "[user.bob]\nnt_hash = \"8846\"\n",
            "2:11: nt_hash must be 32 hex digits",
        ),
        (
            "[user.bob]\nnt_hash = \"8846f7eaee8fb117ad06bdd830b7586c\"\npassword = \"x\"\n",
            "3:1: unknown field `password`",
        ),
        (
            "[user.\"DOM\\\\bob\"]\nnt_hash = \"8846f7eaee8fb117ad06bdd830b7586c\"\n",
            "user \"DOM\\\\bob\": user names contain no '\\'",
        ),
    ];
    for (text, expected) in cases {
        fs::write(&path, text).unwrap();
        match UserStore::open(&path) {
            Err(UsersError::Invalid { message, .. }) => {
                assert!(message.starts_with(expected), "{message:?} vs {expected:?}")
            }
            other => panic!("{text}: {other:?}"),
        }
    }
}

#[test]
fn names_and_passwords_are_checked() {
    let dir = TempDir::new("users-names");
    let mut users = UserStore::open(&dir.path().join("users.toml")).unwrap();
    for bad in ["", "DOMAIN\\alice", "tab\there", &"x".repeat(256)] {
        assert!(
            matches!(
                users.set_password(bad, "pw"),
                Err(UsersError::BadUserName { .. })
            ),
            "{bad:?}"
        );
    }
    assert!(matches!(
        users.set_password("alice", &"p".repeat(257)),
        Err(UsersError::PasswordTooLong)
    ));
    users.set_password("alice", &"p".repeat(256)).unwrap();
    users.set_password("Émile", "pw").unwrap();
    assert!(users.remove("alice").unwrap());
    assert!(!users.remove("alice").unwrap());
    let users = UserStore::open(users.path()).unwrap();
    assert_eq!(users.len(), 1);
    assert!(users.contains("Émile"));
}

#[test]
fn a_failed_write_changes_nothing() {
    let dir = TempDir::new("users-fail");
    // The directory does not exist: every write fails.
    let mut users = UserStore::open(&dir.path().join("missing/users.toml")).unwrap();
    assert!(matches!(
        users.set_password("alice", "pw"),
        Err(UsersError::Io { .. })
    ));
    assert!(users.is_empty());
    assert!(users.set_allow_weak_cleartext_secrets(true).is_err());
    assert!(!users.allows_weak_cleartext_secrets());
}
