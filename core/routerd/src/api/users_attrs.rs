//! Per-user attributes and old configuration versions over the management API.
//!
//! | method and path                  | body          | answer                          |
//! |----------------------------------|---------------|---------------------------------|
//! | `GET /v1/users/{name}/attrs`     |               | [`UserAttrs`]                   |
//! | `PUT /v1/users/{name}/attrs`     | [`UserAttrs`] | [`UserAttrs`] (as stored)       |
//! | `GET /v1/config/versions/{n}`    |               | [`ConfigShow`] of version `n`   |
//!
//! A refused attribute is a 400 whose `detail` is `{"field": "static_address"}` (or `links`,
//! `protocols`), so a form can show the message on its field.

use axum::extract::State;
use axum::response::{IntoResponse, Response};

use super::control::ApiError;
use super::http::{ApiJson, ApiPath, ApiState, check_user_name};
pub use crate::users::{NetProtocol, UserAttrs};

/// The `detail` of a 400 naming the attribute at fault.
pub fn field_of(detail: Option<&serde_json::Value>) -> Option<&str> {
    detail?.get("field")?.as_str()
}

pub(super) async fn get_attrs(
    State(s): State<ApiState>,
    ApiPath(name): ApiPath<String>,
) -> Result<Response, ApiError> {
    check_user_name(&name)?;
    s.control
        .user_attrs(name)
        .await
        .map(|a| axum::Json(a).into_response())
}

pub(super) async fn put_attrs(
    State(s): State<ApiState>,
    ApiPath(name): ApiPath<String>,
    ApiJson(attrs): ApiJson<UserAttrs>,
) -> Result<Response, ApiError> {
    check_user_name(&name)?;
    s.control
        .set_user_attrs(name, attrs)
        .await
        .map(|a| axum::Json(a).into_response())
}

pub(super) async fn config_version(
    State(s): State<ApiState>,
    ApiPath(version): ApiPath<String>,
) -> Result<Response, ApiError> {
    let version: u64 = version
        .parse()
        .map_err(|_| ApiError::bad_request("configuration version must be a decimal number"))?;
    s.control
        .config_version(version)
        .await
        .map(|c| axum::Json(c).into_response())
}
