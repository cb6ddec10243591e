//! `GET /v1/system/hardware`: the box's hardware profile labelled with what exists now and
//! which link uses which serial port ([`crate::hardware::HardwareInfo`]).

use axum::extract::State;
use axum::response::{IntoResponse, Response};

use super::control::ApiError;
use super::http::ApiState;

/// `GET /v1/system/hardware`.
pub(super) async fn hardware(State(s): State<ApiState>) -> Result<Response, ApiError> {
    s.control
        .hardware()
        .await
        .map(|info| axum::Json(info).into_response())
}
