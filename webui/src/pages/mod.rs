//! One module per page (group).

pub mod config;
pub mod dashboard;
pub mod diff;
pub mod graph;
pub mod import;
pub mod login;
pub mod logs;
pub mod plugin_forms;
pub mod plugins;
pub mod pptp;
pub mod sessions;
pub mod system;
pub mod upgrade;
pub mod users;

use axum::http::Method;
use dialgate_routerd::api::client::ClientError;
use dialgate_routerd::api::{
    ApplyRequest, ApplyResult, CheckReport, CheckRequest, ConfigIssue, ConfigShow,
};
use dialgate_routerd::config::Document;

use crate::app::Shared;
use crate::html::FieldErrors;

/// Why a configuration change from a page did not land.
#[derive(Debug)]
pub(crate) enum ApplyFailure {
    /// `POST /v1/config/check` found problems; nothing was applied.
    Invalid(Vec<ConfigIssue>),
    /// routerd answered the apply with an error (409 when `base_version` is stale; any other
    /// status when it refused or rolled back): its message and the problems it listed.
    Refused {
        /// The HTTP status.
        status: u16,
        /// routerd's message.
        error: String,
        /// Problems listed in the answer's detail (empty when none).
        issues: Vec<ConfigIssue>,
    },
    /// routerd could not be asked (socket, time-out, HTTP), at the check or the apply.
    Unreachable(ClientError),
}

/// The configuration in force (`GET /v1/config`) and its parsed document; the error as text.
pub(crate) async fn current(app: &Shared) -> Result<(ConfigShow, Document), String> {
    let show = app
        .client
        .get::<ConfigShow>("/v1/config")
        .await
        .map_err(|e| e.to_string())?;
    let doc = Document::parse("current", show.toml.clone()).map_err(|e| e.to_string())?;
    Ok((show, doc))
}

/// Every page's configuration change: routerd's check first, then the apply (which keeps the
/// previous version and rolls back on failure), as the CLI does.
pub(crate) async fn check_and_apply(
    app: &Shared,
    toml: String,
    reason: &str,
    base_version: Option<u64>,
) -> Result<ApplyResult, ApplyFailure> {
    let report = app
        .client
        .call::<CheckReport>(
            Method::POST,
            "/v1/config/check",
            Some(&CheckRequest { toml: toml.clone() }),
        )
        .await
        .map_err(ApplyFailure::Unreachable)?;
    if !report.valid {
        return Err(ApplyFailure::Invalid(report.errors));
    }
    let request = ApplyRequest {
        toml,
        reason: Some(reason.to_owned()),
        base_version,
    };
    match app
        .client
        .call::<ApplyResult>(Method::POST, "/v1/config", Some(&request))
        .await
    {
        Ok(applied) => Ok(applied),
        Err(ClientError::Api { status, body }) => Err(ApplyFailure::Refused {
            status,
            issues: body
                .detail
                .and_then(|d| serde_json::from_value::<Vec<ConfigIssue>>(d).ok())
                .unwrap_or_default(),
            error: body.error,
        }),
        Err(e) => Err(ApplyFailure::Unreachable(e)),
    }
}

/// The flash a form page shows once its change landed.
pub(crate) fn applied_flash(r: &ApplyResult) -> String {
    let changes = if r.changes.is_empty() {
        "no change".to_owned()
    } else {
        r.changes.join("; ")
    };
    format!(
        "Applied as configuration version {} ({changes}).",
        r.version
    )
}

/// Puts why a form's change did not land onto the form: each problem on its field (`place`),
/// a stale base version as a reload hint, routerd's refusal (first offered to `refusal`,
/// which may put it on a field too) as a form-wide message.
pub(crate) fn record_failure(
    failure: ApplyFailure,
    errors: &mut FieldErrors,
    mut place: impl FnMut(&mut FieldErrors, &ConfigIssue),
    refusal: impl FnOnce(&mut FieldErrors, &str),
) {
    match failure {
        ApplyFailure::Invalid(issues) => {
            for issue in &issues {
                place(errors, issue);
            }
        }
        ApplyFailure::Refused { status: 409, .. } => errors.add(
            "",
            "The configuration changed meanwhile: reload the page and try again.",
        ),
        ApplyFailure::Refused { error, issues, .. } => {
            for issue in &issues {
                place(errors, issue);
            }
            refusal(errors, &error);
            errors.add(
                "",
                format!("routerd refused the change (rolled back): {error}"),
            );
        }
        ApplyFailure::Unreachable(e) => errors.add("", e.to_string()),
    }
}
