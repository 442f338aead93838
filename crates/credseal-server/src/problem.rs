//! RFC 9457 problem details: every error the service returns, with the CLI's exit class.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use credseal_engine::{EngineError, ErrorClass, QueryError};
use serde::Serialize;

/// The media type of a problem document (RFC 9457 §3).
pub const PROBLEM_JSON: &str = "application/problem+json";

/// One field error of a rejected ingest batch.
#[derive(Clone, Debug, Serialize)]
pub struct FieldError {
    /// 1-based line of the batch's records.
    pub line: u64,
    /// The field, where one is at fault.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// What is wrong.
    pub message: String,
}

/// An error response: `type` is `urn:credseal:problem:<code>`, `code` the engine's denial
/// code or one of the service's own, `exit_class` what the CLI would exit with.
#[derive(Clone, Debug, Serialize)]
pub struct Problem {
    #[serde(rename = "type")]
    kind: String,
    title: &'static str,
    status: u16,
    detail: String,
    code: String,
    exit_class: u8,
    #[serde(skip_serializing_if = "Option::is_none")]
    errors: Option<Vec<FieldError>>,
    #[serde(skip)]
    retry_after: Option<u64>,
    /// Logged, never sent: the full cause of an internal error.
    #[serde(skip)]
    pub(crate) log_detail: Option<String>,
}

impl Problem {
    /// A problem with `status`, `code` and `detail`; the exit class follows the status.
    pub fn new(status: StatusCode, code: &str, detail: impl Into<String>) -> Self {
        let exit_class = match status {
            StatusCode::FORBIDDEN => 3,
            StatusCode::UNPROCESSABLE_ENTITY => 4,
            s if s.is_server_error() || s == StatusCode::TOO_MANY_REQUESTS => 1,
            _ => 2,
        };
        Self {
            kind: format!("urn:credseal:problem:{code}"),
            title: status.canonical_reason().unwrap_or("Error"),
            status: status.as_u16(),
            detail: detail.into(),
            code: code.to_string(),
            exit_class,
            errors: None,
            retry_after: None,
            log_detail: None,
        }
    }

    /// 400 with code `bad-request`.
    pub fn bad_request(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad-request", detail)
    }

    /// 404 with code `not-found`.
    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not-found", detail)
    }

    /// 500 with code `internal`: the client learns nothing of the cause, the log does.
    pub fn internal(cause: impl Into<String>) -> Self {
        let mut p = Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "the platform could not complete the request; nothing was released",
        );
        p.log_detail = Some(cause.into());
        p
    }

    /// With a `Retry-After` header (seconds).
    pub fn retry_after(mut self, secs: u64) -> Self {
        self.retry_after = Some(secs);
        self
    }

    /// With per-line errors (a rejected ingest batch).
    pub fn with_errors(mut self, errors: Vec<FieldError>) -> Self {
        self.errors = Some(errors);
        self
    }

    /// The HTTP status.
    pub fn status(&self) -> u16 {
        self.status
    }

    /// The problem code.
    pub fn code(&self) -> &str {
        &self.code
    }

    /// The problem for an engine error, by its exit class.
    pub fn from_engine(e: &EngineError) -> Self {
        match e {
            EngineError::Pushback { .. } => {
                Self::new(StatusCode::SERVICE_UNAVAILABLE, "overloaded", e.to_string()).retry_after(1)
            }
            EngineError::NotFound(m) => Self::not_found(m.clone()),
            EngineError::Denied { code, .. } => Self::new(StatusCode::FORBIDDEN, code, e.to_string()),
            EngineError::Verification(_) => {
                Self::new(StatusCode::UNPROCESSABLE_ENTITY, "verification-failed", e.to_string())
            }
            EngineError::Invalid { .. } | EngineError::Conflict { .. } => Self::bad_request(e.to_string()),
            _ => match e.class() {
                ErrorClass::Denied => Self::new(StatusCode::FORBIDDEN, "access-denied", e.to_string()),
                ErrorClass::Verification => {
                    Self::new(StatusCode::UNPROCESSABLE_ENTITY, "verification-failed", e.to_string())
                }
                ErrorClass::Usage => Self::bad_request(e.to_string()),
                // Store and I/O failures: paths and causes stay in the server's log.
                _ => Self::internal(e.to_string()),
            },
        }
    }

    /// The problem for a query's refusal: denials carry the engine's code, 403 for a lack of
    /// authority (exit 3) and 422 for a forged or malformed object (exit 4).
    pub fn from_query(e: &QueryError) -> Self {
        match e {
            QueryError::Denied(d) if d.is_forgery() => Self::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                d.code(),
                format!("verification failed ({}): {d}", d.code()),
            ),
            QueryError::Denied(d) => Self::new(
                StatusCode::FORBIDDEN,
                d.code(),
                format!("access denied ({}): {d}", d.code()),
            ),
            QueryError::Failed(e) => Self::from_engine(e),
        }
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = serde_json::to_vec(&self).unwrap_or_default();
        let mut r = (status, body).into_response();
        let h = r.headers_mut();
        h.insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        if let Some(s) = self.retry_after {
            h.insert(header::RETRY_AFTER, HeaderValue::from(s));
        }
        if let Some(d) = self.log_detail.clone() {
            r.extensions_mut().insert(LogDetail(d));
        }
        r
    }
}

/// The cause of an internal error, for the request log only.
#[derive(Clone, Debug)]
pub(crate) struct LogDetail(pub(crate) String);
