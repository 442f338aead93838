//! Receipts, rendered one way everywhere: [`ReceiptRow`] is what a subject sees of one
//! receipt (`receipts verify`, the demo), as a table row or as JSON. No engine or log type's
//! `Debug` text reaches the user: every actor, action and outcome is spelled out here.

use credseal_log::{Action, Actor, Outcome, ReceiptBody, ReceiptView};
use serde::Serialize;

use super::{date, table};

/// Who acted, as a subject reads it: `bank-a (credential 1001)`, `officer operator`, `you`.
pub(crate) fn actor(a: &Actor) -> String {
    match a {
        Actor::Department { id, credential_serial } => format!("{id} (credential {credential_serial})"),
        Actor::Subject => "you".into(),
        Actor::Officer { id } => format!("officer {id}"),
        Actor::Responder { id } => format!("responder {id}"),
        Actor::Platform => "platform".into(),
        Actor::Source { id } => format!("{id} (source)"),
    }
}

/// What was done, as one lower-case word (the values `receipts verify --json` has always
/// printed).
pub(crate) fn action(a: Action) -> &'static str {
    match a {
        Action::Query => "query",
        Action::SelfQuery => "selfquery",
        Action::Ingest => "ingest",
        Action::Correction => "correction",
        Action::KeyEvent => "keyevent",
        Action::Shred => "shred",
        Action::Trace => "trace",
        Action::Admin => "admin",
    }
}

/// How it ended: `granted`, `denied: <code>`, or for a non-access event what it did.
pub(crate) fn outcome(b: &ReceiptBody) -> String {
    match &b.outcome {
        Outcome::Granted => "granted".into(),
        Outcome::Denied { code } => format!("denied: {code}"),
        // A non-access event: what it did.
        Outcome::Done if !b.detail.is_empty() => b.detail.clone(),
        Outcome::Done => "done".into(),
    }
}

/// Who acted, as `--json` gives it: a kind and, where there is one, an id and a credential
/// serial (never display text).
#[derive(Clone, Debug, Serialize)]
pub(crate) struct ActorJson {
    /// `department`, `subject`, `officer`, `responder`, `platform` or `source`.
    kind: &'static str,
    id: Option<String>,
    credential_serial: Option<u64>,
}

impl ActorJson {
    fn new(a: &Actor) -> Self {
        let (kind, id, credential_serial) = match a {
            Actor::Department { id, credential_serial } => ("department", Some(id.clone()), Some(*credential_serial)),
            Actor::Subject => ("subject", None, None),
            Actor::Officer { id } => ("officer", Some(id.clone()), None),
            Actor::Responder { id } => ("responder", Some(id.clone()), None),
            Actor::Platform => ("platform", None, None),
            Actor::Source { id } => ("source", Some(id.clone()), None),
        };
        Self {
            kind,
            id,
            credential_serial,
        }
    }
}

/// One receipt as its subject sees it: in full, or sealed (a confidential purpose) with the
/// date it opens.
#[derive(Clone, Debug)]
pub(crate) struct ReceiptRow {
    /// The subject's receipt counter.
    pub(crate) counter: u64,
    /// The receipt's log index.
    pub(crate) index: u64,
    /// When (Unix seconds); `None` while sealed.
    pub(crate) time: Option<u64>,
    /// [`actor`], or `(sealed)`.
    pub(crate) actor: String,
    /// [`action`], or `(sealed)`.
    pub(crate) action: String,
    /// The purpose code.
    pub(crate) purpose: String,
    /// The classes concerned.
    pub(crate) classes: Vec<String>,
    /// [`outcome`], or `sealed until <date>`.
    pub(crate) outcome: String,
    /// The receipt's free-text detail.
    pub(crate) detail: String,
    /// Until when a sealed receipt stays sealed (Unix seconds).
    pub(crate) sealed_until: Option<u64>,
    /// The actor, outcome word and denial code for `--json`; `None` while sealed.
    structured: Option<(ActorJson, &'static str, Option<String>)>,
}

impl ReceiptRow {
    /// The row of a verified receipt.
    pub(crate) fn new(r: &ReceiptView) -> Self {
        match r {
            ReceiptView::Full(s) => {
                let b = s.body();
                ReceiptRow {
                    counter: r.counter(),
                    index: b.index,
                    time: Some(b.time),
                    actor: actor(&b.actor),
                    action: action(b.action).into(),
                    purpose: b.purpose.clone(),
                    classes: b.classes.iter().cloned().collect(),
                    outcome: outcome(b),
                    detail: b.detail.clone(),
                    sealed_until: None,
                    structured: Some((
                        ActorJson::new(&b.actor),
                        match &b.outcome {
                            Outcome::Granted => "granted",
                            Outcome::Denied { .. } => "denied",
                            Outcome::Done => "done",
                        },
                        match &b.outcome {
                            Outcome::Denied { code } => Some(code.to_string()),
                            _ => None,
                        },
                    )),
                }
            }
            ReceiptView::Sealed {
                counter,
                index,
                sealed_until,
                ..
            } => ReceiptRow {
                counter: *counter,
                index: *index,
                time: None,
                actor: "(sealed)".into(),
                action: "(sealed)".into(),
                purpose: String::new(),
                classes: Vec::new(),
                outcome: format!("sealed until {}", date(*sealed_until)),
                detail: String::new(),
                sealed_until: Some(*sealed_until),
                structured: None,
            },
        }
    }

    /// Its JSON form; `new`: not seen in an earlier verification.
    pub(crate) fn json(&self, new: bool) -> ReceiptJson {
        let non_empty = |s: &str| (!s.is_empty()).then(|| s.to_string());
        let (actor, outcome, denial_code) = match &self.structured {
            Some((a, o, c)) => (Some(a.clone()), *o, c.clone()),
            None => (None, "sealed", None),
        };
        ReceiptJson {
            counter: self.counter,
            index: self.index,
            time: self.time,
            sealed: self.structured.is_none(),
            actor,
            action: self.structured.as_ref().map(|_| self.action.clone()),
            purpose: non_empty(&self.purpose),
            classes: self.classes.clone(),
            outcome,
            denial_code,
            detail: non_empty(&self.detail),
            sealed_until: self.sealed_until,
            new,
        }
    }
}

/// The table of receipts: `#`, date, who, action, purpose, classes, outcome.
pub(crate) fn receipt_table(rows: &[ReceiptRow]) -> String {
    let t: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            vec![
                r.counter.to_string(),
                r.time.map(date).unwrap_or_default(),
                r.actor.clone(),
                r.action.clone(),
                r.purpose.clone(),
                r.classes.join(","),
                r.outcome.clone(),
            ]
        })
        .collect();
    table(
        &["#", "date (UTC)", "who", "action", "purpose", "classes", "outcome"],
        &t,
    )
}

/// One receipt in `receipts verify --json` (docs/json.md). While sealed, only `counter`,
/// `index`, `sealed`, `sealed_until` and `new` say anything; the rest is null or empty.
#[derive(Debug, Serialize)]
pub(crate) struct ReceiptJson {
    counter: u64,
    index: u64,
    time: Option<u64>,
    sealed: bool,
    actor: Option<ActorJson>,
    /// [`action`]'s word.
    action: Option<String>,
    purpose: Option<String>,
    classes: Vec<String>,
    /// `granted`, `denied`, `done` (a non-access event) or `sealed`.
    outcome: &'static str,
    /// The denial code of a denied access, else null.
    denial_code: Option<String>,
    detail: Option<String>,
    sealed_until: Option<u64>,
    new: bool,
}

/// `receipts verify --json`.
#[derive(Debug, Serialize)]
pub(crate) struct VerifyJson {
    /// Always true (a failed verification prints no document).
    pub(crate) ok: bool,
    /// The checkpoint's tree size.
    pub(crate) tree_size: u64,
    /// The log key that signs the log now (the pinned one unless the log rotated its key).
    pub(crate) log_key: String,
    /// Log key handovers walked from the pinned key.
    pub(crate) handovers: u64,
    /// The --witness witnesses whose cosignature the checkpoint carries.
    pub(crate) witnesses: Vec<String>,
    /// Every receipt of the bundle.
    pub(crate) receipts: Vec<ReceiptJson>,
}
