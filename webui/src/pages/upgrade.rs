//! System upgrade: the running slot and release, where the last upgrade stands (and a
//! fallback, when the box came back from a release that did not come up), and an upload of an
//! upgrade bundle (`dialgate-<arch>.upgrade`, made by appliance-image/build.sh), which routerd
//! checks and stages for the appliance's installer (`POST /v1/system/upgrade`). The form works
//! without scripts; app.js adds an upload progress bar (`data-upload-progress`).

use std::fmt::Write;

use axum::Extension;
use axum::extract::{Multipart, State};
use axum::http::{Method, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use dialgate_routerd::api::upgrade::{BUNDLE_CONTENT_TYPE, UpgradeStaged, UpgradeStatus};
use dialgate_routerd::upgrade::MAX_BUNDLE;

use crate::app::{Shared, Visitor, routerd_error};
use crate::html::{self, esc};

/// The largest request `POST /upgrade` takes: a bundle plus the multipart framing.
pub const MAX_UPGRADE_REQUEST: usize = MAX_BUNDLE as usize + 64 * 1024;

/// How long routerd may take to receive and check a bundle on a small box.
const CHECK_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(600);

fn status_card(s: &UpgradeStatus) -> String {
    if !s.available {
        return "<p>This system takes no image upgrades (routerd runs outside the appliance \
                image).</p>"
            .to_owned();
    }
    let mut b = String::new();
    let _ = write!(
        b,
        "<dl class=\"card\" id=\"upgrade-status\"><dt>Running</dt><dd>slot {} &mdash; {}</dd>\
<dt>Upgrade</dt><dd>{}",
        esc(s.slot.as_deref().unwrap_or("?")),
        esc(s.version.as_deref().unwrap_or("unknown release")),
        esc(&s.state)
    );
    if let Some(v) = &s.target_version {
        let _ = write!(b, " {}", esc(v));
    }
    if let Some(slot) = &s.target_slot {
        let _ = write!(b, " (slot {})", esc(slot));
    }
    if let Some(m) = &s.message {
        let _ = write!(b, ": {}", esc(m));
    }
    b.push_str("</dd></dl>");
    if let Some(f) = &s.fallback {
        let _ = write!(
            b,
            "<p class=\"field-error\" role=\"alert\" id=\"upgrade-fallback\">The box fell back: {}</p>",
            esc(f)
        );
    }
    b
}

fn upgrade_page(
    v: &Visitor,
    status: &UpgradeStatus,
    flash: Option<&str>,
    error: Option<&str>,
) -> String {
    let mut b = status_card(status);
    if status.available {
        let (invalid, err) = match error {
            Some(e) => (
                " aria-invalid=\"true\" aria-describedby=\"bundle-error\"",
                format!(
                    "<p class=\"field-error\" id=\"bundle-error\">{}</p>",
                    esc(e)
                ),
            ),
            None => ("", String::new()),
        };
        let _ = write!(
            b,
            "<form method=\"post\" action=\"/upgrade?csrf={csrf}\" enctype=\"multipart/form-data\" \
class=\"card\" id=\"upgrade-form\" data-upload-progress=\"upgrade-progress\">\
<p>The release is written to the inactive root slot; the configuration is kept. If the new \
release does not come up, the box goes back to this one by itself.</p>\
<div class=\"field\"><label for=\"bundle\">Upgrade bundle (dialgate-&lt;arch&gt;.upgrade)</label>\
<input type=\"file\" id=\"bundle\" name=\"bundle\" accept=\".upgrade\" required{invalid}>{err}</div>\
<div class=\"field\"><label><input type=\"checkbox\" name=\"reboot\" value=\"1\" checked> \
Reboot into it once it is written</label></div>\
<progress id=\"upgrade-progress\" max=\"100\" value=\"0\" hidden aria-label=\"Upload progress\"></progress>\
<button type=\"submit\">Upload and install</button></form>",
            csrf = esc(&v.csrf),
        );
    }
    html::page("System upgrade", &v.chrome("/upgrade", flash), &b)
}

/// `GET /upgrade`.
pub async fn show(State(app): State<Shared>, Extension(v): Extension<Visitor>) -> Response {
    let status = match app.client.get::<UpgradeStatus>("/v1/system/upgrade").await {
        Ok(s) => s,
        Err(e) => return routerd_error(&v, "/upgrade", &e),
    };
    let flash = app.sessions().take_flash(&v.id);
    Html(upgrade_page(&v, &status, flash.as_deref(), None)).into_response()
}

/// `POST /upgrade?csrf=`: the bundle goes to routerd, which checks and stages it.
pub async fn upload(
    State(app): State<Shared>,
    Extension(v): Extension<Visitor>,
    mut multipart: Multipart,
) -> Response {
    let mut bundle: Option<Vec<u8>> = None;
    let mut reboot = false;
    let mut error = None;
    loop {
        match multipart.next_field().await {
            Ok(Some(mut field)) => match field.name() {
                Some("bundle") => {
                    let mut data = Vec::new();
                    loop {
                        match field.chunk().await {
                            Ok(Some(chunk)) if data.len() + chunk.len() > MAX_BUNDLE as usize => {
                                error = Some("The file is larger than an upgrade bundle can be.");
                                break;
                            }
                            Ok(Some(chunk)) => data.extend_from_slice(&chunk),
                            Ok(None) => break,
                            Err(_) => {
                                error = Some("The upload was cut off; try again.");
                                break;
                            }
                        }
                    }
                    bundle = Some(data);
                }
                Some("reboot") => reboot = true,
                _ => {}
            },
            Ok(None) => break,
            Err(_) => {
                error = Some("The upload was cut off; try again.");
                break;
            }
        }
        if error.is_some() {
            break;
        }
    }
    let bundle = match (error, bundle) {
        (None, Some(b)) if !b.is_empty() => b,
        (e, _) => {
            return refused(&app, &v, e.unwrap_or("Choose an upgrade bundle.")).await;
        }
    };
    let path = format!("/v1/system/upgrade?reboot={reboot}");
    let staged = app
        .client
        .clone()
        .with_timeout(CHECK_TIMEOUT)
        .send_bytes::<UpgradeStaged>(Method::POST, &path, bundle, BUNDLE_CONTENT_TYPE)
        .await;
    match staged {
        Ok(s) => {
            tracing::info!(ip = %v.ip, version = %s.version, reboot, "upgrade bundle staged from the web UI");
            let message = if s.reboot {
                format!(
                    "Release {} checked; it is being written, then the box reboots into it.",
                    s.version
                )
            } else {
                format!(
                    "Release {} checked; it is being written and boots at the next reboot.",
                    s.version
                )
            };
            app.sessions().set_flash(&v.id, message);
            Redirect::to("/upgrade").into_response()
        }
        Err(dialgate_routerd::api::client::ClientError::Api { body, .. }) => {
            refused(&app, &v, &body.error).await
        }
        Err(e) => routerd_error(&v, "/upgrade", &e),
    }
}

async fn refused(app: &Shared, v: &Visitor, error: &str) -> Response {
    let status = app
        .client
        .get::<UpgradeStatus>("/v1/system/upgrade")
        .await
        .unwrap_or_else(|_| UpgradeStatus {
            available: true,
            state: "unknown".to_owned(),
            ..UpgradeStatus::default()
        });
    (
        StatusCode::UNPROCESSABLE_ENTITY,
        Html(upgrade_page(v, &status, None, Some(error))),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fallback_is_shown_and_escaped() {
        let s = UpgradeStatus {
            available: true,
            slot: Some("a".into()),
            version: Some("v1".into()),
            state: "idle".into(),
            fallback: Some("slot b (<v2>) did not come up".into()),
            ..UpgradeStatus::default()
        };
        let html = status_card(&s);
        assert!(
            html.contains("The box fell back: slot b (&lt;v2&gt;)"),
            "{html}"
        );
        assert!(html.contains("slot a &mdash; v1"), "{html}");
        let none = status_card(&UpgradeStatus::default());
        assert!(none.contains("takes no image upgrades"), "{none}");
    }
}
