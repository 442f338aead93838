//! Request bodies: JSON only, size-capped, read within the timeout, unknown fields refused.

use std::time::Duration;

use axum::body::Body;
use axum::http::{HeaderMap, StatusCode, header};
use http_body_util::{BodyExt, Limited};
use serde::de::DeserializeOwned;

use crate::problem::Problem;

/// Whether the request says its body is JSON (`application/json`, parameters allowed).
fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|m| m.trim().eq_ignore_ascii_case("application/json"))
}

/// The most of a refused body that is read and dropped before the refusal goes out.
const DISCARD_MAX: usize = 1 << 20;

/// Reads and drops what is left of `body`, up to [`DISCARD_MAX`] bytes and within `timeout`.
/// A refusal sent while the client is still sending would otherwise close the connection
/// under it: the client gets a reset (or a pooled connection that is gone) instead of the
/// problem document. A body larger than that is cut off as before.
pub(crate) async fn discard(body: &mut Body, timeout: Duration) {
    let _ = tokio::time::timeout(timeout, async {
        let mut n = 0;
        while n <= DISCARD_MAX {
            match body.frame().await {
                Some(Ok(f)) => n += f.data_ref().map_or(0, |d| d.len()),
                _ => break,
            }
        }
    })
    .await;
}

/// Reads a JSON body of at most `limit` bytes within `timeout` and decodes it as `T`.
pub(crate) async fn read_json<T: DeserializeOwned>(
    headers: &HeaderMap,
    mut body: Body,
    limit: usize,
    timeout: Duration,
) -> Result<T, Problem> {
    if !is_json(headers) {
        discard(&mut body, timeout).await;
        return Err(Problem::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported-media-type",
            "the request body must be JSON (Content-Type: application/json)",
        ));
    }
    let too_large = || {
        Problem::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload-too-large",
            format!("the request body is larger than {limit} bytes"),
        )
    };
    if let Some(n) = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        && n > limit as u64
    {
        discard(&mut body, timeout).await;
        return Err(too_large());
    }
    let bytes = match tokio::time::timeout(timeout, Limited::new(&mut body, limit).collect()).await {
        Err(_) => {
            return Err(Problem::new(
                StatusCode::REQUEST_TIMEOUT,
                "timeout",
                format!("the request body did not arrive within {} s", timeout.as_secs()),
            ));
        }
        Ok(Err(e)) if e.is::<http_body_util::LengthLimitError>() => {
            discard(&mut body, timeout).await;
            return Err(too_large());
        }
        Ok(Err(_)) => return Err(Problem::bad_request("the request body could not be read")),
        Ok(Ok(c)) => c.to_bytes(),
    };
    serde_json::from_slice(&bytes).map_err(|e| Problem::bad_request(format!("the request body: {}", describe(&e))))
}

/// What is wrong with a body, and where, without echoing what was sent: serde's own message
/// quotes the client's unknown field names and mistyped values, which may be a subject id or
/// a field value. Only the parts that come from our types are kept (a missing field's name,
/// what a field expects).
fn describe(e: &serde_json::Error) -> String {
    let at = format!("at line {} column {}", e.line(), e.column());
    match e.classify() {
        serde_json::error::Category::Data => {
            let msg = e.to_string();
            // "missing field `x` at line …": `x` is one of our own field names.
            if let Some(rest) = msg.strip_prefix("missing field `")
                && let Some((field, _)) = rest.split_once('`')
                && field.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')
            {
                return format!("missing field `{field}` {at}");
            }
            let kind = if msg.starts_with("unknown field") {
                "an unknown field"
            } else if msg.starts_with("invalid type") {
                "a value of the wrong type"
            } else {
                "an unexpected value"
            };
            // "…, expected <what our type takes> at line …": the last ", expected " is ours,
            // whatever the client's part before it holds.
            let suffix = format!(" {at}");
            match msg.strip_suffix(&suffix).and_then(|m| m.rsplit_once(", expected ")) {
                Some((_, expected)) => format!("{kind} (expected {expected}) {at}"),
                None => format!("{kind} {at}"),
            }
        }
        serde_json::error::Category::Eof => format!("the JSON ends too early {at}"),
        _ => format!("not valid JSON {at}"),
    }
}

#[cfg(test)]
mod tests {
    use super::describe;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Req {
        credential: String,
        token: String,
    }

    fn err(body: &str) -> String {
        describe(&serde_json::from_str::<Req>(body).unwrap_err())
    }

    #[test]
    fn problems_name_what_and_where_but_not_what_was_sent() {
        let secret = "42010619960510907X";
        let cases = [
            (
                format!(r#"{{"{secret}": 1}}"#),
                "an unknown field (expected `credential` or `token`) at line 1 column 21",
            ),
            (
                format!(r#"{{"credential": 420106199605109070, "token": "{secret}"}}"#),
                "a value of the wrong type (expected a string) at line 1 column 33",
            ),
            (
                r#"{"credential": "x, expected y"}"#.to_string(),
                "missing field `token` at line 1 column 31",
            ),
            (
                format!(r#"{{"credential": "{secret}"#),
                "the JSON ends too early at line 1 column 34",
            ),
            (
                format!(r#"{{"credential": {secret}}}"#),
                "a value of the wrong type (expected a string) at line 1 column 32",
            ),
            (
                format!(r#"{{"credential": "{secret}", "token": "t"}} x"#),
                "not valid JSON at line 1 column 52",
            ),
        ];
        for (body, want) in cases {
            let got = err(&body);
            assert_eq!(got, want, "{body}");
            assert!(!got.contains(secret) && !got.contains("420106"), "{got}");
        }
    }
}
