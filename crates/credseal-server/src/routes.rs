//! The routes of API v1: each handler decodes the request, calls the engine on the blocking
//! pool, and encodes the result. No policy here: every decision is the engine's.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use axum::Router;
use axum::body::Body;
use axum::extract::{MatchedPath, Path, State};
use axum::http::{HeaderMap, HeaderValue, Request, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use credseal_auth::{Token, Unverified};
use credseal_engine::{Clock, QueryError, SystemClock};
use serde::{Deserialize, Serialize};

use crate::body::read_json;
use crate::pickup::{Begin, Held};
use crate::problem::{LogDetail, Problem};
use crate::state::{AppState, ConnInfo, DeptTag};

type St = State<Arc<AppState>>;

/// The router of API v1 and the operational routes.
pub(crate) fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/v1/queries", post(post_query))
        .route("/v1/queries/{query_id}", get(get_query))
        .route("/v1/self-queries", post(post_self_query))
        .route("/v1/bundles", post(post_bundle))
        .route("/v1/revocations", put(put_revocations))
        .route("/v1/ingest", post(post_ingest))
        .route("/v1/notices/{department}", get(get_notices))
        .route("/v1/objections", post(post_objection))
        .route("/v1/objections/{objection_id}", get(get_objection))
        .route("/v1/objection-answers", post(post_objection_answer))
        .route("/v1/withdrawals", post(post_withdrawal))
        .route("/v1/log/key", get(log_key))
        .route("/v1/log/vrf-key", get(vrf_key))
        .route("/v1/log/checkpoint", get(checkpoint))
        .route("/v1/log/key-history", get(key_history))
        .route("/checkpoint", get(checkpoint))
        .route("/key-history", get(key_history))
        .route("/tile/{*path}", get(tile))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn_with_state(state.clone(), around))
        .with_state(state)
}

/// Around every request: the concurrency cap (503 + Retry-After beyond it), the drain,
/// `Cache-Control`, the metrics and the request log line.
async fn around(State(st): St, req: Request<Body>, next: Next) -> Response {
    let started = Instant::now();
    let route: &'static str = route_name(req.extensions().get::<MatchedPath>().map(MatchedPath::as_str));
    let operational = matches!(route, "/healthz" | "/readyz" | "/metrics");
    let public = operational || route.starts_with("/v1/log/") || TILED.contains(&route);
    let mut resp = if operational {
        // Health checks and metrics answer at once from memory, also under overload (when
        // an operator needs them most); they take no in-flight permit.
        next.run(req).await
    } else if st.draining.load(Ordering::SeqCst) && !public {
        crate::body::discard(&mut req.into_body(), st.cfg.timeout).await;
        Problem::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "draining",
            "the service is shutting down; try another instance",
        )
        .retry_after(5)
        .into_response()
    } else if req.method() != axum::http::Method::GET && req.method() != axum::http::Method::HEAD {
        // A request with a body takes its in-flight slot in its handler once the body has
        // arrived ([`admit`]): a client sending slowly holds a connection, never a slot.
        next.run(req).await
    } else {
        match admit(&st) {
            Ok(permit) => {
                let r = next.run(req).await;
                drop(permit);
                r
            }
            Err(p) => p.into_response(),
        }
    };
    // Public log material may be cached and revalidated; everything else, errors on the
    // log routes included, is never stored.
    // A full tile never changes (C2SP tlog-tiles): its handler says so, and that stands.
    let cache = if route == TILE_ROUTE && resp.headers().contains_key(header::CACHE_CONTROL) {
        None
    } else if (route.starts_with("/v1/log/") || TILED.contains(&route)) && resp.status().is_success() {
        Some("no-cache")
    } else {
        Some("no-store")
    };
    if let Some(cache) = cache {
        resp.headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    }
    resp.headers_mut()
        .insert("x-content-type-options", HeaderValue::from_static("nosniff"));
    let secs = started.elapsed().as_secs_f64();
    let status = resp.status().as_u16();
    st.metrics.request(route, status, secs);
    if st.cfg.log_requests {
        let dept = resp.extensions().get::<DeptTag>().map(|d| d.0.as_str());
        let mut line = serde_json::json!({
            "time": SystemClock.now().unwrap_or(0),
            "route": route,
            "status": status,
            "latency_us": (secs * 1e6) as u64,
            "department": dept,
        });
        if let Some(LogDetail(d)) = resp.extensions().get::<LogDetail>() {
            line["error"] = serde_json::Value::String(d.clone());
        }
        eprintln!("{line}");
    }
    resp
}

/// Reads a request's JSON body (see [`read_json`]), counted in `credseal_requests_receiving`
/// meanwhile.
async fn read_body<T: serde::de::DeserializeOwned>(
    st: &AppState,
    headers: &HeaderMap,
    body: Body,
    limit: usize,
) -> Result<T, Problem> {
    struct Receiving<'a>(&'a AppState);
    impl Drop for Receiving<'_> {
        // Also when the request is dropped mid-body (its client went away).
        fn drop(&mut self) {
            self.0.receiving.fetch_sub(1, Ordering::Relaxed);
        }
    }
    st.receiving.fetch_add(1, Ordering::Relaxed);
    let _receiving = Receiving(st);
    read_json(headers, body, limit, st.cfg.timeout).await
}

/// What a handler with a body does first: the body ([`read_body`]), then a slot
/// ([`admit`]), then the time.
async fn accept<T: serde::de::DeserializeOwned>(
    st: &AppState,
    headers: &HeaderMap,
    body: Body,
    limit: usize,
) -> Result<(T, tokio::sync::OwnedSemaphorePermit, u64), Problem> {
    let q = read_body(st, headers, body, limit).await?;
    let permit = admit(st)?;
    Ok((q, permit, now()?))
}

/// 503 `overloaded` with `Retry-After: 1`, counted in the metrics.
fn overloaded(st: &AppState, detail: String) -> Problem {
    st.metrics.denial("overloaded");
    Problem::new(StatusCode::SERVICE_UNAVAILABLE, "overloaded", detail).retry_after(1)
}

/// An in-flight slot, or 503 `overloaded` when all are taken.
fn admit(st: &AppState) -> Result<tokio::sync::OwnedSemaphorePermit, Problem> {
    st.inflight.clone().try_acquire_owned().map_err(|_| {
        overloaded(
            st,
            format!("more than {} requests at once; try again shortly", st.cfg.max_inflight),
        )
    })
}

/// The C2SP tlog-tiles routes: the log's public checkpoint and tiles, at the server's root.
/// (`/key-history`, beside them: the log key's handover notes, for auditors of a rotated log.)
const TILED: [&str; 3] = ["/checkpoint", "/key-history", TILE_ROUTE];

/// The route of every tile and entry bundle (`/tile/<L>/<N>[.p/<W>]`, `/tile/entries/…`).
const TILE_ROUTE: &str = "/tile/{*path}";

/// The route template as a static string (bounded label values for metrics and logs).
fn route_name(matched: Option<&str>) -> &'static str {
    const ROUTES: [&str; 21] = [
        "/v1/queries",
        "/v1/queries/{query_id}",
        "/v1/self-queries",
        "/v1/bundles",
        "/v1/revocations",
        "/v1/ingest",
        "/v1/notices/{department}",
        "/v1/objections",
        "/v1/objections/{objection_id}",
        "/v1/objection-answers",
        "/v1/withdrawals",
        "/v1/log/key",
        "/v1/log/vrf-key",
        "/v1/log/checkpoint",
        "/v1/log/key-history",
        "/checkpoint",
        "/key-history",
        TILE_ROUTE,
        "/healthz",
        "/readyz",
        "/metrics",
    ];
    matched
        .and_then(|m| ROUTES.iter().find(|r| **r == m).copied())
        .unwrap_or("other")
}

async fn not_found() -> Problem {
    Problem::not_found("no such route in API v1 (see docs/openapi.yaml)")
}

async fn method_not_allowed() -> Problem {
    Problem::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method-not-allowed",
        "this route does not take that method",
    )
}

fn now() -> Result<u64, Problem> {
    SystemClock.now().map_err(|e| Problem::internal(format!("clock: {e}")))
}

/// Runs engine work on the blocking pool.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Result<T, Problem> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| Problem::internal(format!("engine task: {e}")))
}

/// A department route: with `--client-ca`, a verified client certificate is required.
fn require_client(st: &AppState, conn: Option<&ConnInfo>) -> Result<(), Problem> {
    if st.require_client_cert && !conn.is_some_and(|c| c.client_verified) {
        return Err(Problem::new(
            StatusCode::FORBIDDEN,
            "client-certificate-required",
            "department routes need a client certificate issued by the platform's client CA",
        ));
    }
    Ok(())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct QueryReq {
    credential: String,
    token: String,
}

#[derive(Serialize)]
struct AnswerResp {
    query_id: String,
    answer: String,
}

fn json_bytes(body: Arc<[u8]>) -> Response {
    let mut r = Response::new(Body::from(body.to_vec()));
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    r
}

fn tagged(mut r: Response, dept: Option<String>) -> Response {
    if let Some(d) = dept {
        r.extensions_mut().insert(DeptTag(d));
    }
    r
}

/// How long a refusal of a genuine token is held at least (a token already expired is held
/// this long): a captured token sent again gets the same refusal without another engine
/// call or receipt.
const DENIAL_HOLD_SECS: u64 = 600;

/// The held response of a query: its answer, or the refusal of its genuine token.
fn held_response(h: Held) -> Response {
    match h.denial {
        Some(p) => tagged(p.into_response(), h.department),
        None => tagged(json_bytes(h.body), h.department),
    }
}

/// `POST /v1/queries`: a department's query → its sealed answer, after the receipt is durable.
async fn post_query(State(st): St, headers: HeaderMap, req: Request<Body>) -> Response {
    let conn = req.extensions().get::<ConnInfo>().copied();
    if let Err(p) = require_client(&st, conn.as_ref()) {
        st.metrics.denial(p.code());
        crate::body::discard(&mut req.into_body(), st.cfg.timeout).await;
        return p.into_response();
    }
    let q: QueryReq = match read_body(&st, &headers, req.into_body(), st.cfg.max_body).await {
        Ok(q) => q,
        Err(p) => return p.into_response(),
    };
    // A slot only now that the body is here: a client that sends its body slowly holds a
    // connection, never a slot.
    let _permit = match admit(&st) {
        Ok(permit) => permit,
        Err(p) => return p.into_response(),
    };
    // Unverified peeks, used only to find the bucket, the held answer and the log's
    // department; the engine decides everything.
    let credential_digest = credseal_crypto::sha256(q.credential.trim().as_bytes());
    let claimed = st.claims.department(&credential_digest, q.credential.trim());
    let token = Unverified::<Token>::parse_text(q.token.trim()).ok();
    let peek = token
        .as_ref()
        .and_then(|t| Some((t.digest(), t.peek_unverified().ok()?)));
    let now = match now() {
        Ok(n) => n,
        Err(p) => return p.into_response(),
    };
    // A held refusal is for this token *with this credential*: a captured token posted with
    // some other credential is refused on its own, and cannot plant a refusal that the
    // department's own request would then get.
    let held = |st: &AppState| {
        let (digest, body) = peek.as_ref()?;
        st.pickup
            .get(&body.query_id, now)
            .filter(|h| h.token_digest == *digest)
            .filter(|h| h.credential_digest.is_none_or(|c| c == credential_digest))
    };
    if let Some(h) = held(&st) {
        // The answer (or refusal) of this very token again: no second engine call, no second
        // receipt. The log names the department it was made for, not whatever credential
        // came with the retry.
        st.metrics.pickup();
        return held_response(h);
    }
    if let Some(d) = &claimed
        && let Some(wait) = st.rates.check(d)
    {
        st.metrics.denial("rate-limited");
        let p = Problem::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate-limited",
            format!(
                "the department's query rate limit ({}/s) is reached; try again shortly",
                st.cfg.dept_rate
            ),
        )
        .retry_after(wait);
        return p.into_response();
    }
    // The same token already in the engine (a client that retried while its first attempt
    // runs): wait for that one's outcome instead of a second engine call, which would be
    // refused as replayed.
    let slot = match peek
        .as_ref()
        .map(|(digest, body)| st.pickup.begin(body.query_id, *digest))
    {
        Some(Begin::Run(slot)) => Some(slot),
        Some(Begin::Wait(mut rx)) => {
            let _ = tokio::time::timeout(st.cfg.drain_timeout, rx.wait_for(Option::is_some)).await;
            if let Some(h) = held(&st) {
                st.metrics.pickup();
                return held_response(h);
            }
            // The first attempt failed without an outcome to hold: ask the engine, which
            // says why.
            None
        }
        Some(Begin::Other) | None => None,
    };
    // The engine call and the bookkeeping after it run in a task of their own, so that a
    // client that goes away mid-query (its connection dropped, its timeout hit) does not
    // cancel them: the receipt is written either way, and the answer is held for pickup
    // by `GET /v1/queries/{query_id}` or the same token posted again.
    let work = EngineTask::start(&st);
    let task_st = st.clone();
    let (cred, tok) = (q.credential, q.token);
    let task = tokio::spawn(async move {
        let _work = work;
        let st = task_st;
        let (reply, answer) = tokio::sync::oneshot::channel();
        let job = crate::engine::QueryJob {
            credential: cred,
            token: tok,
            now,
            reply,
        };
        if st.queries.submit(job).is_err() {
            return Err(overloaded(
                &st,
                "the platform's query queue is full; try again shortly".into(),
            ));
        }
        let r = answer
            .await
            .map_err(|_| Problem::internal("the query thread stopped before answering"))?;
        Ok::<_, Problem>(match r {
            Ok(answer) => {
                if let Some(d) = &claimed {
                    st.rates.take(d);
                }
                st.metrics.answer();
                let body: Arc<[u8]> = serde_json::to_vec(&AnswerResp {
                    query_id: credseal_core::hex(&answer.query_id),
                    answer: answer.to_text(),
                })
                .unwrap_or_default()
                .into();
                if let Some((digest, t)) = peek {
                    st.pickup.put(
                        answer.query_id,
                        Held {
                            token_digest: digest,
                            body: body.clone(),
                            expires_at: t.expires_at,
                            department: claimed.clone(),
                            denial: None,
                            credential_digest: None,
                        },
                        now,
                    );
                }
                if let Some(slot) = slot {
                    slot.done(body.clone());
                }
                tagged(json_bytes(body), claimed)
            }
            Err(e) => {
                // Only granted queries draw from the department's bucket: a refused one —
                // forged, or a genuine token sent again, expired or for another platform —
                // must not use up the department's rate.
                let genuine = matches!(&e, QueryError::Denied(d) if !d.is_forgery());
                let p = Problem::from_query(&e);
                st.metrics.denial(p.code());
                let dept = claimed.filter(|_| genuine);
                if genuine && let Some((digest, t)) = peek {
                    // Held like an answer: the same token again gets this refusal without a
                    // second receipt.
                    st.pickup.put_if_absent(
                        t.query_id,
                        Held {
                            token_digest: digest,
                            body: Arc::from(&b""[..]),
                            expires_at: t.expires_at.max(now.saturating_add(DENIAL_HOLD_SECS)),
                            department: dept.clone(),
                            denial: Some(p.clone()),
                            credential_digest: Some(credential_digest),
                        },
                        now,
                    );
                    if let Some(slot) = slot {
                        slot.done(Arc::from(&b""[..]));
                    }
                }
                tagged(p.into_response(), dept)
            }
        })
    });
    match task.await {
        Ok(Ok(r)) => r,
        Ok(Err(p)) => p.into_response(),
        Err(e) => Problem::internal(format!("query task: {e}")).into_response(),
    }
}

/// Counts engine work that outlives its request (see [`post_query`]); the drain waits for
/// it before the store closes.
pub(crate) struct EngineTask(Arc<AppState>);

impl EngineTask {
    fn start(st: &Arc<AppState>) -> Self {
        st.engine_tasks.fetch_add(1, Ordering::SeqCst);
        Self(st.clone())
    }
}

impl Drop for EngineTask {
    fn drop(&mut self) {
        self.0.engine_tasks.fetch_sub(1, Ordering::SeqCst);
    }
}

/// `GET /v1/queries/{query_id}`: the answer again, while its token is valid.
async fn get_query(State(st): St, Path(id): Path<String>, req: Request<Body>) -> Response {
    if let Err(p) = require_client(&st, req.extensions().get::<ConnInfo>()) {
        return p.into_response();
    }
    let parsed = credseal_core::unhex(&id).and_then(|b| <[u8; 16]>::try_from(b).ok());
    let Some(qid) = parsed else {
        return Problem::bad_request("a query id is 32 hexadecimal digits").into_response();
    };
    let now = match now() {
        Ok(n) => n,
        Err(p) => return p.into_response(),
    };
    match st.pickup.get(&qid, now) {
        Some(h) => {
            st.metrics.pickup();
            held_response(h)
        }
        None => Problem::not_found(
            "no answer is held for this query id (never answered here, its token expired, or it was pushed out)",
        )
        .into_response(),
    }
}

/// The answer to `GET /v1/notices/{department}`.
#[derive(Serialize)]
struct NoticesResp {
    notices: Vec<String>,
}

/// `GET /v1/notices/{department}`: the department's correction notices, each sealed to its
/// sealing key (anyone may fetch them, only the department opens them; a department route
/// under mutual TLS).
async fn get_notices(State(st): St, Path(dept): Path<String>, req: Request<Body>) -> Response {
    if let Err(p) = require_client(&st, req.extensions().get::<ConnInfo>()) {
        return p.into_response();
    }
    let plain = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.');
    if dept.is_empty() || dept.len() > 64 || !dept.chars().all(plain) {
        return Problem::bad_request("a department id is 1-64 letters, digits, '-', '_' or '.'").into_response();
    }
    let platform = st.platform.clone();
    match blocking(move || platform.correction_notices(&dept)).await {
        Err(p) => p.into_response(),
        Ok(Ok(notices)) => axum::Json(NoticesResp { notices }).into_response(),
        Ok(Err(e)) => Problem::from_engine(&e).into_response(),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SelfQueryReq {
    query: String,
}

/// `POST /v1/self-queries`: a subject's query for its own records.
async fn post_self_query(State(st): St, headers: HeaderMap, req: Request<Body>) -> Response {
    let (q, _permit, now): (SelfQueryReq, _, _) = match accept(&st, &headers, req.into_body(), st.cfg.max_body).await {
        Ok(v) => v,
        Err(p) => return p.into_response(),
    };
    let platform = st.platform.clone();
    match blocking(move || platform.self_query(q.query.trim(), now)).await {
        Err(p) => p.into_response(),
        Ok(Ok(answer)) => {
            st.metrics.answer();
            axum::Json(AnswerResp {
                query_id: credseal_core::hex(&answer.query_id),
                answer: answer.to_text(),
            })
            .into_response()
        }
        Ok(Err(e)) => {
            let p = Problem::from_query(&e);
            st.metrics.denial(p.code());
            p.into_response()
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BundleReq {
    request: String,
}

#[derive(Serialize)]
struct BundleResp {
    bundle: String,
    receipts: usize,
}

/// `POST /v1/bundles`: a subject's signed request → its receipt bundle.
async fn post_bundle(State(st): St, headers: HeaderMap, req: Request<Body>) -> Response {
    let (q, _permit, now): (BundleReq, _, _) = match accept(&st, &headers, req.into_body(), st.cfg.max_body).await {
        Ok(v) => v,
        Err(p) => return p.into_response(),
    };
    let platform = st.platform.clone();
    let transport = st.witnesses.clone();
    match blocking(move || platform.export_for_request_witnessed(q.request.trim(), now, &*transport)).await {
        Err(p) => p.into_response(),
        Ok(Ok((b, _outcomes))) => axum::Json(BundleResp {
            receipts: b.entries.len(),
            bundle: b.to_text(),
        })
        .into_response(),
        Ok(Err(e)) => {
            let p = Problem::from_query(&e);
            st.metrics.denial(p.code());
            p.into_response()
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RevocationsReq {
    list: String,
}

#[derive(Serialize)]
struct RevocationsResp {
    version: u64,
}

/// `PUT /v1/revocations`: installs a newer revocation list signed by the authority.
async fn put_revocations(State(st): St, headers: HeaderMap, req: Request<Body>) -> Response {
    let (q, _permit, _now): (RevocationsReq, _, _) = match accept(&st, &headers, req.into_body(), st.cfg.max_body).await
    {
        Ok(v) => v,
        Err(p) => return p.into_response(),
    };
    let platform = st.platform.clone();
    let r = blocking(move || {
        let session = platform.staff_session(SERVICE_SESSION).map_err(QueryError::Failed)?;
        platform.install_revocations(&session, q.list.trim())
    })
    .await;
    match r {
        Err(p) => p.into_response(),
        Ok(Ok(version)) => axum::Json(RevocationsResp { version }).into_response(),
        Ok(Err(e)) => {
            let p = Problem::from_query(&e);
            st.metrics.denial(p.code());
            p.into_response()
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct IngestReq {
    batch: String,
}

/// `POST /v1/ingest`: a data provider's signed batch → the ingest summary; records that do
/// not validate → 422 `ingest-rejected` with the errors by line, nothing written.
async fn post_ingest(State(st): St, headers: HeaderMap, req: Request<Body>) -> Response {
    let (q, _permit, now): (IngestReq, _, _) =
        match accept(&st, &headers, req.into_body(), st.cfg.max_ingest_body).await {
            Ok(v) => v,
            Err(p) => return p.into_response(),
        };
    let platform = st.platform.clone();
    match blocking(move || platform.ingest_signed_batch(&q.batch, now)).await {
        Err(p) => p.into_response(),
        Ok(Ok(summary)) => axum::Json(summary).into_response(),
        Ok(Err(e @ credseal_engine::EngineError::Ingest(_))) => {
            let class = e.class();
            let credseal_engine::EngineError::Ingest(report) = e else {
                unreachable!("matched above")
            };
            let errors = report
                .errors
                .iter()
                .map(|e| crate::problem::FieldError {
                    line: e.line,
                    field: Some(e.field.clone()).filter(|f| !f.is_empty()),
                    message: e.message.clone(),
                })
                .collect();
            st.metrics.denial("ingest-rejected");
            let more = if report.more > 0 {
                format!(" ({} more not listed)", report.more)
            } else {
                String::new()
            };
            Problem::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "ingest-rejected",
                format!(
                    "the batch's records do not validate: {} error(s){more}; nothing was written",
                    report.errors.len()
                ),
            )
            .with_errors(errors)
            .with_exit_class(class)
            .into_response()
        }
        Ok(Err(e)) => {
            let p = Problem::from_engine(&e);
            st.metrics.denial(p.code());
            p.into_response()
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ObjectionReq {
    objection: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ObjectionAnswerReq {
    answer: String,
}

/// An objection's state as the service shows it: no subject id, no record id (the subject
/// knows both; the objection id is its handle).
#[derive(Serialize)]
struct ObjectionResp {
    objection_id: String,
    kind: String,
    class: String,
    version: u32,
    provider: String,
    filed_at: u64,
    due: u64,
    /// `open`, `overdue`, `corrected` or `upheld`.
    status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    corrected_by_version: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    answered_at: Option<u64>,
}

impl ObjectionResp {
    fn new(o: credseal_engine::ObjectionState, now: u64) -> Self {
        use credseal_engine::ObjectionStatus as S;
        let (status, corrected_by_version, reason) = match &o.status {
            S::Open if o.overdue_noted || o.overdue(now) => ("overdue", None, None),
            S::Open => ("open", None, None),
            S::Corrected { version } => ("corrected", Some(*version), None),
            S::Upheld { reason } => ("upheld", None, Some(reason.clone())),
            S::Deleted { reason } => ("deleted", None, Some(reason.clone())),
        };
        Self {
            objection_id: credseal_core::hex(&o.id),
            kind: o.kind,
            class: o.class,
            version: o.version,
            provider: o.provider,
            filed_at: o.filed_at,
            due: o.due,
            status,
            corrected_by_version,
            reason,
            answered_at: o.answered_at,
        }
    }
}

/// An objection call's result as a response: `ok` with the state, or the engine's problem.
fn objection_response(
    st: &AppState,
    r: Result<credseal_engine::Result<credseal_engine::ObjectionState>, Problem>,
    ok: StatusCode,
    now: u64,
) -> Response {
    match r {
        Err(p) => p.into_response(),
        Ok(Ok(o)) => (ok, axum::Json(ObjectionResp::new(o, now))).into_response(),
        Ok(Err(e)) => {
            let p = Problem::from_engine(&e);
            st.metrics.denial(p.code());
            p.into_response()
        }
    }
}

/// `POST /v1/objections`: a subject's signed objection (or application for credit repair)
/// → 201 with its state; the record is disputed from now on (docs/formats.md §9c).
async fn post_objection(State(st): St, headers: HeaderMap, req: Request<Body>) -> Response {
    let (q, _permit, now): (ObjectionReq, _, _) = match accept(&st, &headers, req.into_body(), st.cfg.max_body).await {
        Ok(v) => v,
        Err(p) => return p.into_response(),
    };
    let platform = st.platform.clone();
    let r = blocking(move || platform.file_objection(&q.objection, now)).await;
    objection_response(&st, r, StatusCode::CREATED, now)
}

/// `POST /v1/objection-answers`: the record's provider's (or, for a repair, the
/// authority's) signed answer upholding the record → the objection's state.
async fn post_objection_answer(State(st): St, headers: HeaderMap, req: Request<Body>) -> Response {
    let (q, _permit, now): (ObjectionAnswerReq, _, _) =
        match accept(&st, &headers, req.into_body(), st.cfg.max_body).await {
            Ok(v) => v,
            Err(p) => return p.into_response(),
        };
    let platform = st.platform.clone();
    let r = blocking(move || platform.answer_objection(&q.answer, now)).await;
    objection_response(&st, r, StatusCode::OK, now)
}

/// `GET /v1/objections/{objection_id}`: where an objection stands (the id is the random
/// handle the subject chose when signing; the state names no subject and no record id).
async fn get_objection(State(st): St, Path(id): Path<String>) -> Response {
    let parsed = credseal_core::unhex(&id).and_then(|b| <[u8; 16]>::try_from(b).ok());
    let Some(oid) = parsed else {
        return Problem::bad_request("an objection id is 32 hexadecimal digits").into_response();
    };
    let now = match now() {
        Ok(n) => n,
        Err(p) => return p.into_response(),
    };
    let platform = st.platform.clone();
    let r = blocking(move || {
        platform
            .objection(&oid)
            .and_then(|o| o.ok_or_else(|| credseal_engine::EngineError::NotFound("no objection with this id".into())))
    })
    .await;
    objection_response(&st, r, StatusCode::OK, now)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WithdrawalReq {
    withdrawal: String,
}

/// A withdrawal installed: the consent withdrawn and the platform it is withdrawn on.
#[derive(Serialize)]
struct WithdrawalResp {
    consent_id: String,
    origin: String,
}

/// `POST /v1/withdrawals`: a subject's signed consent withdrawal → installed (with a receipt
/// in the subject's chain, as `subject withdraw --data` does); every query that starts
/// after this answer and presents the consent is denied `consent-withdrawn`.
async fn post_withdrawal(State(st): St, headers: HeaderMap, req: Request<Body>) -> Response {
    let (q, _permit, now): (WithdrawalReq, _, _) = match accept(&st, &headers, req.into_body(), st.cfg.max_body).await {
        Ok(v) => v,
        Err(p) => return p.into_response(),
    };
    let platform = st.platform.clone();
    let r = blocking(move || {
        platform
            .withdraw_consent(&q.withdrawal, now)
            .map(|cid| (cid, platform.origin().to_string()))
    })
    .await;
    match r {
        Err(p) => p.into_response(),
        Ok(Ok((cid, origin))) => axum::Json(WithdrawalResp {
            consent_id: credseal_core::hex(&cid),
            origin,
        })
        .into_response(),
        Ok(Err(e)) => {
            let p = Problem::from_engine(&e);
            st.metrics.denial(p.code());
            p.into_response()
        }
    }
}

/// The name the service's receipts give for what it does on an authority's signed order.
const SERVICE_SESSION: &str = "service";

fn text(body: String) -> Response {
    let mut r = Response::new(Body::from(body));
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}

async fn log_key(State(st): St) -> Response {
    let platform = st.platform.clone();
    match blocking(move || platform.log_vkey()).await {
        Err(p) => p.into_response(),
        Ok(Ok(k)) => text(format!("{k}\n")),
        Ok(Err(e)) => Problem::from_engine(&e).into_response(),
    }
}

async fn vrf_key(State(st): St) -> Response {
    text(format!("{}\n", st.platform.vrf_public_key().to_text()))
}

async fn checkpoint(State(st): St) -> Response {
    let platform = st.platform.clone();
    match blocking(move || platform.published_checkpoint()).await {
        Err(p) => p.into_response(),
        Ok(Ok(Some(c))) => text(c),
        Ok(Ok(None)) => Problem::not_found("the log has no receipt yet, so no checkpoint").into_response(),
        Ok(Err(e)) => Problem::from_engine(&e).into_response(),
    }
}

/// `GET /tile/…` (C2SP tlog-tiles): a hash tile or entry bundle of the log's latest
/// checkpoint's tree (or an earlier one's), 404 beyond it. A full tile is immutable and
/// cached for a year; a partial one is revalidated.
async fn tile(State(st): St, Path(path): Path<String>) -> Response {
    let Ok(tile) = credseal_c2sp::Tile::parse_path(&format!("tile/{path}")) else {
        return Problem::not_found("not a C2SP tile path (tile/<L>/<N>[.p/<W>] or tile/entries/<N>[.p/<W>])")
            .into_response();
    };
    let key = tile.path();
    let bytes = match st.tiles.get(&key) {
        Some(b) => Ok(Ok(Some(b))),
        None => {
            let platform = st.platform.clone();
            blocking(move || platform.log_tile(&tile).map(|b| b.map(Arc::<[u8]>::from))).await
        }
    };
    match bytes {
        Err(p) => p.into_response(),
        Ok(Ok(Some(bytes))) => {
            if tile.is_full() {
                st.tiles.put(&key, bytes.clone());
            }
            let mut r = Response::new(Body::from(axum::body::Bytes::from_owner(bytes)));
            r.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/octet-stream"),
            );
            let cache = if tile.is_full() {
                "public, max-age=31536000, immutable"
            } else {
                "no-cache"
            };
            r.headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
            r
        }
        Ok(Ok(None)) => Problem::not_found("the log's tree does not reach this tile").into_response(),
        Ok(Err(e)) => Problem::from_engine(&e).into_response(),
    }
}

async fn key_history(State(st): St) -> Response {
    let platform = st.platform.clone();
    match blocking(move || platform.log_key_history()).await {
        Err(p) => p.into_response(),
        Ok(Ok(h)) => text(h.notes().join("\n")),
        Ok(Err(e)) => Problem::from_engine(&e).into_response(),
    }
}

async fn healthz() -> Response {
    text("ok\n".into())
}

async fn readyz(State(st): St) -> Response {
    if st.draining.load(Ordering::SeqCst) {
        return Problem::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "draining",
            "the service is shutting down",
        )
        .retry_after(5)
        .into_response();
    }
    text("ready\n".into())
}

async fn metrics(State(st): St) -> Response {
    let st2 = st.clone();
    match blocking(move || st2.metrics.render(&st2)).await {
        Err(p) => p.into_response(),
        Ok(body) => {
            let mut r = Response::new(Body::from(body));
            r.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
            );
            r
        }
    }
}
