//! Image upgrades through the management API (the appliance's A/B root slots):
//!
//! | method and path                          | body                 | answer              |
//! |------------------------------------------|----------------------|---------------------|
//! | `GET /v1/system/upgrade`                 |                      | [`UpgradeStatus`]   |
//! | `POST /v1/system/upgrade?tries=N&reboot=true` | a bundle, `application/octet-stream` | 202 [`UpgradeStaged`] |
//!
//! routerd only checks and stages: the bundle ([`crate::upgrade`]) is streamed into
//! `system.upgrade_dir` (`upload.part`, at most [`MAX_BUNDLE`] bytes), unpacked and checked
//! (manifest, sizes, SHA-256 digests, architecture) into `staging/`, then `staging/` becomes
//! `ready/` in one rename, with a `request` file (`tries=N`, `reboot=0|1`). The appliance's
//! installer (`dg-upgrade`, run by the image's init as full root) claims `ready/` by renaming it
//! to `installing/`, writes the inactive slot, the kernel and initramfs and a boot entry with
//! boot counting, and records its progress in `state` (`state=installing|installed|failed`,
//! `slot=`, `version=`, `message=`). At boot the init writes `boot` (`slot=`, `version=`, and
//! `fallback=` when the slot an upgrade installed did not come up and the box went back).
//! Upgrades are offered only when the directory exists (the image's init makes it).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use http_body_util::BodyExt;
use serde::{Deserialize, Serialize};
use tokio::io::AsyncWriteExt;

use super::control::ApiError;
use super::http::ApiState;
use crate::upgrade::{BundleError, MAX_BUNDLE, unpack};

/// The content type of a bundle upload.
pub const BUNDLE_CONTENT_TYPE: &str = "application/octet-stream";

/// Boot tries of a new slot when the request does not say.
pub const DEFAULT_TRIES: u8 = 3;

/// The most boot tries a request may ask for.
pub const MAX_TRIES: u8 = 9;

/// The most bytes read of a status file.
const MAX_STATUS_FILE: u64 = 4096;

/// Where the upgrade stands, `GET /v1/system/upgrade`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpgradeStatus {
    /// Whether this system takes image upgrades.
    pub available: bool,
    /// The root slot running now (`a`, `b`), when the image's init recorded it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slot: Option<String>,
    /// The release running now.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// `idle` (nothing pending), `staged` (checked, waiting for the installer),
    /// `installing`, `installed` (boots next time) or `failed`.
    pub state: String,
    /// The slot the last upgrade went (or goes) to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_slot: Option<String>,
    /// The release the last upgrade installs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_version: Option<String>,
    /// The installer's last word (why it failed, what to do next).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Set when the box fell back at this boot: which slot and release did not come up.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fallback: Option<String>,
}

/// A bundle accepted and staged, `POST /v1/system/upgrade` (202).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpgradeStaged {
    /// The bundle's release.
    pub version: String,
    /// Its architecture.
    pub arch: String,
    /// Its size in bytes.
    pub bytes: u64,
    /// Boot tries the new slot gets before the box falls back.
    pub tries: u8,
    /// Whether the box reboots into it once installed.
    pub reboot: bool,
}

/// The query of `POST /v1/system/upgrade`.
#[derive(Debug, Clone, Default)]
pub struct UpgradeQuery {
    /// Boot tries of the new slot (1 to [`MAX_TRIES`], default [`DEFAULT_TRIES`]).
    pub tries: Option<u8>,
    /// Reboot into the new slot once it is installed (default false).
    pub reboot: Option<bool>,
}

/// One upload at a time.
static UPLOADING: AtomicBool = AtomicBool::new(false);

struct UploadGuard;

impl UploadGuard {
    fn take() -> Option<UploadGuard> {
        UPLOADING
            .compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
            .ok()
            .map(|_| UploadGuard)
    }
}

impl Drop for UploadGuard {
    fn drop(&mut self) {
        UPLOADING.store(false, Ordering::Release);
    }
}

/// `key=value` lines of a small status file (missing file: none).
fn read_status_file(path: &Path) -> Vec<(String, String)> {
    use std::io::Read;
    let mut text = String::new();
    if let Ok(f) = std::fs::File::open(path) {
        let _ = f.take(MAX_STATUS_FILE).read_to_string(&mut text);
    }
    text.lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect()
}

fn value(pairs: &[(String, String)], key: &str) -> Option<String> {
    pairs
        .iter()
        .rev()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.clone())
        .filter(|v| !v.is_empty())
}

/// The status of the upgrade directory `dir`.
pub fn status_of(dir: &Path) -> UpgradeStatus {
    if !dir.is_dir() {
        return UpgradeStatus {
            state: "idle".to_owned(),
            ..UpgradeStatus::default()
        };
    }
    let boot = read_status_file(&dir.join("boot"));
    let state = read_status_file(&dir.join("state"));
    let staged = if dir.join("ready").is_dir() {
        std::fs::read_to_string(dir.join("ready").join(crate::upgrade::MANIFEST))
            .ok()
            .and_then(|t| crate::upgrade::Manifest::parse(&t).ok())
    } else {
        None
    };
    let (state_name, target_version) = match &staged {
        Some(m) => ("staged".to_owned(), Some(m.version.clone())),
        None => (
            value(&state, "state").unwrap_or_else(|| "idle".to_owned()),
            value(&state, "version"),
        ),
    };
    UpgradeStatus {
        available: true,
        slot: value(&boot, "slot"),
        version: value(&boot, "version"),
        state: state_name,
        target_slot: if staged.is_some() {
            None
        } else {
            value(&state, "slot")
        },
        target_version,
        message: if staged.is_some() {
            None
        } else {
            value(&state, "message")
        },
        fallback: value(&boot, "fallback"),
    }
}

async fn upgrade_dir(s: &ApiState) -> Result<PathBuf, ApiError> {
    match s.control.upgrade_dir().await {
        Some(dir) if dir.is_dir() => Ok(dir),
        _ => Err(ApiError::not_found(
            "this system takes no image upgrades (no upgrade directory)",
        )),
    }
}

/// `GET /v1/system/upgrade`.
pub(super) async fn status(State(s): State<ApiState>) -> Response {
    let status = match s.control.upgrade_dir().await {
        Some(dir) => tokio::task::spawn_blocking(move || status_of(&dir))
            .await
            .unwrap_or_default(),
        None => UpgradeStatus {
            state: "idle".to_owned(),
            ..UpgradeStatus::default()
        },
    };
    axum::Json(status).into_response()
}

/// `POST /v1/system/upgrade`: receives, checks and stages a bundle.
pub(super) async fn stage(State(s): State<ApiState>, req: Request) -> Result<Response, ApiError> {
    let query: UpgradeQuery = parse_query(req.uri().query().unwrap_or(""))?;
    let tries = query.tries.unwrap_or(DEFAULT_TRIES);
    if !(1..=MAX_TRIES).contains(&tries) {
        return Err(ApiError::bad_request(format!(
            "tries must be 1 to {MAX_TRIES}"
        )));
    }
    let reboot = query.reboot.unwrap_or(false);
    let content_type = req
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if content_type != BUNDLE_CONTENT_TYPE {
        return Err(ApiError::UnsupportedMediaType(format!(
            "an upgrade bundle is sent as {BUNDLE_CONTENT_TYPE}"
        )));
    }
    let dir = upgrade_dir(&s).await?;
    let Some(_guard) = UploadGuard::take() else {
        return Err(ApiError::Conflict(
            "another upgrade bundle is being received".to_owned(),
        ));
    };
    if dir.join("installing").exists() {
        return Err(ApiError::Conflict(
            "an upgrade is being installed; try again when it is done".to_owned(),
        ));
    }
    let part = dir.join("upload.part");
    let received = receive(req.into_body(), &part).await;
    let bytes = match received {
        Ok(n) => n,
        Err(e) => {
            let _ = tokio::fs::remove_file(&part).await;
            return Err(e);
        }
    };
    let staged = {
        let dir = dir.clone();
        let part = part.clone();
        tokio::task::spawn_blocking(move || stage_blocking(&dir, &part, tries, reboot))
            .await
            .map_err(|_| ApiError::internal("the bundle check stopped"))?
    };
    let _ = tokio::fs::remove_file(&part).await;
    let manifest = staged.map_err(|e| match e {
        BundleError::Io(e) => ApiError::internal(format!("staging the upgrade: {e}")),
        BundleError::TooLarge => {
            ApiError::PayloadTooLarge(format!("the bundle is larger than {MAX_BUNDLE} bytes"))
        }
        other => ApiError::bad_request(other.to_string()),
    })?;
    tracing::info!(version = %manifest.version, bytes, tries, reboot, "image upgrade staged");
    let body = UpgradeStaged {
        version: manifest.version,
        arch: manifest.arch,
        bytes,
        tries,
        reboot,
    };
    Ok((StatusCode::ACCEPTED, axum::Json(body)).into_response())
}

fn parse_query(raw: &str) -> Result<UpgradeQuery, ApiError> {
    let mut q = UpgradeQuery::default();
    for pair in raw.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        match k {
            "tries" => {
                q.tries = Some(
                    v.parse()
                        .map_err(|_| ApiError::bad_request("tries must be a small number"))?,
                );
            }
            "reboot" => {
                q.reboot = Some(match v {
                    "true" | "1" | "" => true,
                    "false" | "0" => false,
                    _ => return Err(ApiError::bad_request("reboot must be true or false")),
                });
            }
            _ => {
                return Err(ApiError::bad_request(format!(
                    "unknown query parameter {:?}",
                    k.chars().take(32).collect::<String>()
                )));
            }
        }
    }
    Ok(q)
}

/// Streams the request body into `part`, refusing more than [`MAX_BUNDLE`] bytes.
async fn receive(mut body: Body, part: &Path) -> Result<u64, ApiError> {
    let io = |e: std::io::Error| ApiError::internal(format!("{}: {e}", part.display()));
    let mut file = tokio::fs::File::create(part).await.map_err(io)?;
    let mut total: u64 = 0;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| ApiError::bad_request(format!("reading the upload: {e}")))?;
        let Ok(data) = frame.into_data() else {
            continue;
        };
        total += data.len() as u64;
        if total > MAX_BUNDLE {
            return Err(ApiError::PayloadTooLarge(format!(
                "the bundle is larger than {MAX_BUNDLE} bytes"
            )));
        }
        file.write_all(&data).await.map_err(io)?;
    }
    file.flush().await.map_err(io)?;
    Ok(total)
}

/// Unpacks `part` into `dir/staging`, then makes it `dir/ready` with its `request`.
fn stage_blocking(
    dir: &Path,
    part: &Path,
    tries: u8,
    reboot: bool,
) -> Result<crate::upgrade::Manifest, BundleError> {
    let staging = dir.join("staging");
    let _ = std::fs::remove_dir_all(&staging);
    std::fs::create_dir(&staging)?;
    let result = std::fs::File::open(part)
        .map_err(BundleError::from)
        .and_then(|f| unpack(std::io::BufReader::new(f), &staging, std::env::consts::ARCH));
    let manifest = match result {
        Ok(m) => m,
        Err(e) => {
            let _ = std::fs::remove_dir_all(&staging);
            return Err(e);
        }
    };
    std::fs::write(
        staging.join("request"),
        format!("tries={tries}\nreboot={}\n", u8::from(reboot)),
    )?;
    let ready = dir.join("ready");
    let _ = std::fs::remove_dir_all(&ready);
    std::fs::rename(&staging, &ready)?;
    Ok(manifest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_reads_the_installers_and_inits_records() {
        let dir = std::env::temp_dir().join(format!("dg-upgrade-status-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap_or_default();
        assert_eq!(status_of(&dir).state, "idle");
        assert!(status_of(&dir).available);
        std::fs::write(
            dir.join("boot"),
            "slot=a\nversion=v1\nfallback=slot b (v2) did not come up\n",
        )
        .unwrap_or_default();
        std::fs::write(dir.join("state"), "state=installed\nslot=b\nversion=v2\n")
            .unwrap_or_default();
        let s = status_of(&dir);
        assert_eq!(s.slot.as_deref(), Some("a"));
        assert_eq!(s.state, "installed");
        assert_eq!(s.target_slot.as_deref(), Some("b"));
        assert_eq!(s.fallback.as_deref(), Some("slot b (v2) did not come up"));
        assert!(!status_of(&dir.join("missing")).available);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn query_is_checked() {
        assert!(parse_query("tries=2&reboot=true").is_ok());
        assert!(parse_query("tries=x").is_err());
        assert!(parse_query("reboot=maybe").is_err());
        assert!(parse_query("other=1").is_err());
    }
}
