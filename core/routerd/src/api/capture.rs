//! `GET /v1/sessions/{id}/pcap`: a session's capture ring as a pcap file
//! (`application/vnd.tcpdump.pcap`, link type 204 PPP with direction; see
//! [`crate::daemon::capture`]). 404 when there is no such session, or it captures nothing
//! (`[limits] capture_packets = 0` when it started).

use axum::extract::State;
use axum::http::HeaderValue;
use axum::http::header::{CONTENT_DISPOSITION, CONTENT_TYPE};
use axum::response::{IntoResponse, Response};

use super::ApiError;
use super::http::{ApiPath, ApiState, parse_session_id};

/// The media type of a pcap file.
pub const PCAP_CONTENT_TYPE: &str = "application/vnd.tcpdump.pcap";

pub(super) async fn handler(
    State(s): State<ApiState>,
    ApiPath(id): ApiPath<String>,
) -> Result<Response, ApiError> {
    let id = parse_session_id(&id)?;
    let pcap = s.control.session_pcap(id).await?;
    let mut response = pcap.into_response();
    let h = response.headers_mut();
    h.insert(CONTENT_TYPE, HeaderValue::from_static(PCAP_CONTENT_TYPE));
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"session-{id}.pcap\"")) {
        h.insert(CONTENT_DISPOSITION, v);
    }
    Ok(response)
}
