//! Subject rights and data quality through the real `credseal` binary.
//!
//! Authorised providers: the authority enrols a data provider with a signed provider
//! credential (`authority provider-credential`, installed by `provider enroll`) naming the
//! classes it may write and, optionally, its record-id namespace; a provider's signed batch
//! is written only if every record lies inside it, and its subject's receipt names the
//! provider. Anything else — another provider's record, a class it is not enrolled for, an id
//! outside its namespace, another source — is refused whole (exit 3) with nothing written.
//! Unsigned files go in only as an operator import naming the officer, receipted as such.

mod common;

use std::process::{Command, Output, Stdio};

use common::{code, stderr, stdout};

const CATALOG: &str = "../../keys-example/catalog.toml";
const RECORDS: &str = "../../keys-example/records.jsonl";
const PASS: &str = "test passphrase, not a real one";
const ORIGIN: &str = "rights.credseal.invalid/log";

/// A subject of records.jsonl with a loan and a repayment from `boc-guangzhou` and an
/// identity record from `psb-guangzhou`.
const SUBJECT: &str = "44010619970815204X";
/// The provider the fixture enrols, for loans and repayment only.
const PROVIDER: &str = "boc-guangzhou";
/// Its loan of SUBJECT (version 1 in records.jsonl).
const OWN_LOAN: &str = "LN-2025-000199";

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_credseal"));
    c.current_dir(env!("CARGO_MANIFEST_DIR"));
    c.env_remove("CREDSEAL_DATA");
    c.env_remove("CREDSEAL_OFFICER");
    c.env("CREDSEAL_PASSPHRASE", PASS);
    c
}

fn run(args: &[&str]) -> Output {
    bin().args(args).stdin(Stdio::null()).output().unwrap()
}

#[track_caller]
fn ok(args: &[&str]) -> Output {
    let o = run(args);
    assert_eq!(code(&o), 0, "{args:?}: {}", stderr(&o));
    o
}

/// The line of records.jsonl holding `record_id` (its first version), as JSON.
fn example(record_id: &str) -> serde_json::Value {
    let all = std::fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(RECORDS)).unwrap();
    let line = all
        .lines()
        .find(|l| l.contains(&format!("\"record_id\":\"{record_id}\"")))
        .unwrap();
    serde_json::from_str(line).unwrap()
}

/// A platform with the example data (an operator import), an authority it trusts, the
/// provider `boc-guangzhou` enrolled for loans and repayment, and SUBJECT's key registered.
struct Fx {
    dir: tempfile::TempDir,
    data: String,
    auth: String,
    provider_key: String,
    subject_dir: String,
    vkey: String,
    vrf: String,
    n: std::cell::Cell<u32>,
    /// The last answer opened by [`Fx::query_at`], whole (`open --json`).
    last_answer: std::cell::RefCell<serde_json::Value>,
}

impl Fx {
    fn new() -> Self {
        Self::with_catalog(None)
    }

    /// [`Fx::new`] on a platform made with this catalogue text (default: the example's).
    fn with_catalog(catalog: Option<&str>) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let catalog_file = dir.path().join("catalog.toml").display().to_string();
        let catalog_file = match catalog {
            Some(text) => {
                std::fs::write(&catalog_file, text).unwrap();
                catalog_file
            }
            None => CATALOG.to_string(),
        };
        let p = |n: &str| dir.path().join(n).display().to_string();
        let (data, auth, provider_key, subject_dir) = (p("data"), p("authority.key"), p("boc.key"), p("subject"));
        ok(&[
            "init",
            "--data",
            &data,
            "--catalog",
            &catalog_file,
            "--origin",
            ORIGIN,
            "--kdf-mib",
            "8",
            "--kdf-passes",
            "1",
        ]);
        ok(&[
            "ingest",
            "--operator-import",
            "--officer",
            "op-import",
            "--data",
            &data,
            RECORDS,
        ]);
        ok(&["authority", "keygen", "--unencrypted", "--out", &auth]);
        ok(&["authority", "trust", "--data", &data, "--key", &format!("{auth}.pub")]);
        ok(&["provider", "keygen", "--unencrypted", "--out", &provider_key]);
        ok(&["subject", "keygen", "--unencrypted", "--out-dir", &subject_dir]);
        ok(&[
            "subject",
            "register",
            "--data",
            &data,
            "--subject",
            SUBJECT,
            "--key",
            &format!("{subject_dir}/signing.pub"),
        ]);
        let vkey = p("vkey");
        std::fs::write(&vkey, stdout(&ok(&["log", "key", "--data", &data]))).unwrap();
        let vrf = p("vrf");
        std::fs::write(&vrf, stdout(&ok(&["log", "key", "--vrf", "--data", &data]))).unwrap();
        let fx = Fx {
            dir,
            data,
            auth,
            provider_key,
            subject_dir,
            vkey,
            vrf,
            n: std::cell::Cell::new(0),
            last_answer: Default::default(),
        };
        let o = fx.enroll(PROVIDER, &fx.provider_key, "loans,repayment", "", 5001);
        assert_eq!(code(&o), 0, "{}", stderr(&o));
        assert!(
            stdout(&o).contains("provider boc-guangzhou enrolled for loans, repayment"),
            "{}",
            stdout(&o)
        );
        fx
    }

    /// A new, unused path in the fixture directory.
    fn fresh(&self, name: &str) -> String {
        self.n.set(self.n.get() + 1);
        self.dir
            .path()
            .join(format!("{name}-{}", self.n.get()))
            .display()
            .to_string()
    }

    /// The authority's provider credential for `id` (key `key`), installed: the output of
    /// `provider enroll`.
    fn enroll(&self, id: &str, key: &str, classes: &str, prefix: &str, serial: u64) -> Output {
        let cred = self.credential(&self.auth, id, key, classes, prefix, serial);
        run(&["provider", "enroll", "--data", &self.data, "--credential", &cred])
    }

    /// A provider credential signed with `auth`; the file.
    fn credential(&self, auth: &str, id: &str, key: &str, classes: &str, prefix: &str, serial: u64) -> String {
        let cred = self.fresh("cred");
        let serial = serial.to_string();
        let pk = format!("{key}.pub");
        let mut args = vec![
            "authority",
            "provider-credential",
            "--key",
            auth,
            "--serial",
            &serial,
            "--provider",
            id,
            "--name",
            id,
            "--provider-key",
            &pk,
            "--classes",
            classes,
            "--audience",
            ORIGIN,
            "--out",
            &cred,
        ];
        if !prefix.is_empty() {
            args.extend(["--record-prefix", prefix]);
        }
        ok(&args);
        cred
    }

    /// `records` (JSON values, one a line) signed as one batch by `id` with `key`.
    fn batch(&self, key: &str, id: &str, records: &[serde_json::Value]) -> String {
        let rec = self.fresh("records.jsonl");
        let text: String = records.iter().map(|r| format!("{r}\n")).collect();
        std::fs::write(&rec, text).unwrap();
        let out = self.fresh("batch");
        ok(&[
            "provider",
            "sign-batch",
            "--key",
            key,
            "--provider",
            id,
            "--audience",
            ORIGIN,
            "--records",
            &rec,
            "--out",
            &out,
        ]);
        out
    }

    fn ingest(&self, batch: &str) -> Output {
        run(&["ingest", "--data", &self.data, "--batch", batch, "--json"])
    }

    /// The log's size now.
    fn size(&self) -> u64 {
        let note = stdout(&ok(&["log", "checkpoint", "--data", &self.data]));
        note.lines().nth(1).unwrap().parse().unwrap()
    }

    /// Records stored now (`check`).
    fn records(&self) -> u64 {
        let v: serde_json::Value =
            serde_json::from_slice(&ok(&["check", "--data", &self.data, "--json"]).stdout).unwrap();
        v["records"].as_u64().unwrap()
    }

    /// SUBJECT's receipts, as `receipts verify --json` shows them.
    fn receipts(&self) -> Vec<serde_json::Value> {
        let req = self.fresh("request");
        ok(&[
            "receipts",
            "request",
            "--key",
            &format!("{}/signing.key", self.subject_dir),
            "--subject",
            SUBJECT,
            "--audience",
            ORIGIN,
            "--out",
            &req,
        ]);
        let bundle = self.fresh("bundle");
        ok(&[
            "receipts",
            "export",
            "--data",
            &self.data,
            "--request",
            &req,
            "--out",
            &bundle,
        ]);
        let state = self.fresh("state");
        let o = ok(&[
            "receipts",
            "verify",
            "--vkey",
            &self.vkey,
            "--vrf-key",
            &self.vrf,
            "--subject",
            SUBJECT,
            "--state",
            &state,
            &bundle,
            "--json",
        ]);
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        v["receipts"].as_array().unwrap().clone()
    }

    /// A refused batch: exit 3, its reason code in the message, and nothing written (the log
    /// and the stored records unchanged).
    #[track_caller]
    fn refused(&self, batch: &str, code_want: &str) {
        let (size, records) = (self.size(), self.records());
        let o = self.ingest(batch);
        assert_eq!(code(&o), 3, "{}", stderr(&o));
        assert!(stderr(&o).contains(&format!("({code_want})")), "{}", stderr(&o));
        // With --json only the error document, with the denial code.
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        assert_eq!(v["schema"], "credseal/error/v1", "{v}");
        assert_eq!(v["code"], code_want, "{v}");
        assert_eq!(
            (self.size(), self.records()),
            (size, records),
            "a refused batch writes nothing"
        );
    }
}

/// `v` as version `version` superseding `supersedes`, with `field` set to `value`.
fn corrected(mut v: serde_json::Value, version: u32, field: &str, value: &str) -> serde_json::Value {
    v["supersedes"] = serde_json::json!(version - 1);
    v["version"] = serde_json::json!(version);
    v["fields"][field] = serde_json::json!(value);
    v
}

#[test]
fn provider_batch_inside_its_credential_is_written_and_receipted_in_its_name() {
    let fx = Fx::new();
    let fix = corrected(example(OWN_LOAN), 2, "balance", "350.00");
    let o = fx.ingest(&fx.batch(&fx.provider_key, PROVIDER, &[fix]));
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["written"], 1, "{v}");
    let receipts = fx.receipts();
    let last = receipts.last().unwrap();
    assert_eq!(last["action"], "correction", "{last}");
    assert_eq!(last["actor"]["kind"], "source", "{last}");
    assert_eq!(last["actor"]["id"], PROVIDER, "{last}");
    assert!(
        last["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("from a batch signed by provider boc-guangzhou"),
        "{last}"
    );
    // The operator's import of the example data is receipted as one.
    assert!(
        receipts[0]["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("unsigned, an operator import by officer op-import"),
        "{}",
        receipts[0]
    );
    let listed = stdout(&ok(&["provider", "list", "--data", &fx.data]));
    assert!(
        listed.contains("boc-guangzhou  serial 5001  classes loans,repayment"),
        "{listed}"
    );
}

#[test]
fn provider_writing_another_providers_record_is_refused_with_nothing_written() {
    let fx = Fx::new();
    // bocom-guangzhou's loan of another subject, "corrected" by boc-guangzhou in its own name.
    let mut theirs = corrected(example("LN-2025-000212"), 2, "balance", "1.00");
    theirs["source"] = serde_json::json!(PROVIDER);
    // With a valid record of its own in the same batch: the whole batch is refused.
    let own = corrected(example(OWN_LOAN), 2, "balance", "350.00");
    let batch = fx.batch(&fx.provider_key, PROVIDER, &[own.clone(), theirs]);
    fx.refused(&batch, "provider-record-not-owned");
    // A record naming another source than the provider.
    let mut other_source = corrected(example(OWN_LOAN), 2, "balance", "350.00");
    other_source["source"] = serde_json::json!("bocom-guangzhou");
    fx.refused(
        &fx.batch(&fx.provider_key, PROVIDER, &[other_source]),
        "provider-source-mismatch",
    );
    // The refused batches used nothing up: the provider's own record alone goes in.
    let o = fx.ingest(&fx.batch(&fx.provider_key, PROVIDER, &[own]));
    assert_eq!(code(&o), 0, "{}", stderr(&o));
}

#[test]
fn provider_writing_an_unenrolled_class_is_refused_with_nothing_written() {
    let fx = Fx::new();
    // A new credit-card record of its own: credit-cards is not in its credential.
    let mut card = example("CC-2026-000150");
    card["record_id"] = serde_json::json!("CC-2026-900001");
    card["subject"] = serde_json::json!(SUBJECT);
    fx.refused(
        &fx.batch(&fx.provider_key, PROVIDER, &[card]),
        "provider-class-not-enrolled",
    );
    // Identity: neither its class nor its record.
    let mut id = example("ID-00000212");
    id["source"] = serde_json::json!(PROVIDER);
    fx.refused(
        &fx.batch(&fx.provider_key, PROVIDER, &[id]),
        "provider-class-not-enrolled",
    );
}

#[test]
fn provider_record_outside_its_namespace_is_refused() {
    let fx = Fx::new();
    let key = fx.fresh("ns.key");
    ok(&["provider", "keygen", "--unencrypted", "--out", &key]);
    let o = fx.enroll("ns-bank", &key, "loans", "NS-", 5002);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let mut loan = example(OWN_LOAN);
    loan["source"] = serde_json::json!("ns-bank");
    loan["record_id"] = serde_json::json!("LN-2026-777777");
    fx.refused(
        &fx.batch(&key, "ns-bank", &[loan.clone()]),
        "provider-record-outside-namespace",
    );
    loan["record_id"] = serde_json::json!("NS-2026-777777");
    let o = fx.ingest(&fx.batch(&key, "ns-bank", &[loan]));
    assert_eq!(code(&o), 0, "{}", stderr(&o));
}

#[test]
fn provider_credential_forged_or_revoked_is_refused() {
    let fx = Fx::new();
    // Signed by a key the platform does not trust: exit 4, not installed.
    let rogue = fx.fresh("rogue.key");
    ok(&["authority", "keygen", "--unencrypted", "--out", &rogue]);
    let key = fx.fresh("p2.key");
    ok(&["provider", "keygen", "--unencrypted", "--out", &key]);
    let forged = fx.credential(&rogue, "rogue-bank", &key, "loans", "", 5003);
    let o = run(&["provider", "enroll", "--data", &fx.data, "--credential", &forged]);
    assert_eq!(code(&o), 4, "{}", stderr(&o));
    let mut loan = example(OWN_LOAN);
    loan["source"] = serde_json::json!("rogue-bank");
    loan["record_id"] = serde_json::json!("RB-1");
    fx.refused(&fx.batch(&key, "rogue-bank", &[loan]), "provider-not-enrolled");
    // A class not in the catalogue: a bad input (exit 2), not installed.
    let o = fx.enroll("odd-bank", &key, "gossip", "", 5004);
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    assert!(stderr(&o).contains("\"gossip\""), "{}", stderr(&o));
    // The enrolled provider's serial revoked: its next batch is refused.
    let list = fx.fresh("revocations");
    ok(&[
        "authority",
        "revoke",
        "--key",
        &fx.auth,
        "--serial",
        "5001",
        "--audience",
        ORIGIN,
        "--out",
        &list,
        "--data",
        &fx.data,
    ]);
    let own = corrected(example(OWN_LOAN), 2, "balance", "350.00");
    fx.refused(&fx.batch(&fx.provider_key, PROVIDER, &[own]), "credential-revoked");
}

#[test]
fn unsigned_ingest_needs_operator_import_and_a_named_officer() {
    let fx = Fx::new();
    let mut loan = example(OWN_LOAN);
    loan["record_id"] = serde_json::json!("LN-OPS-1");
    let file = fx.fresh("ops.jsonl");
    std::fs::write(&file, format!("{loan}\n")).unwrap();
    // No --operator-import: a usage error.
    let o = run(&["ingest", "--data", &fx.data, &file]);
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    assert!(stderr(&o).contains("--operator-import"), "{}", stderr(&o));
    // No officer named: a usage error, nothing written.
    let size = fx.size();
    let o = run(&["ingest", "--operator-import", "--data", &fx.data, &file]);
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    assert!(stderr(&o).contains("--officer"), "{}", stderr(&o));
    assert_eq!(fx.size(), size);
    // Both: written, and the receipt says who imported it unsigned.
    let o = run(&[
        "ingest",
        "--operator-import",
        "--officer",
        "off-zhao",
        "--data",
        &fx.data,
        &file,
    ]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let last = fx.receipts().pop().unwrap();
    assert!(
        last["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("unsigned, an operator import by officer off-zhao"),
        "{last}"
    );
}

// ------------------------------------------------------------------ corrections stick

impl Fx {
    /// A department with its own keys and a credential for `classes` (purpose
    /// loan-approval): its key directory and credential file.
    fn department(&self, id: &str, classes: &str, serial: u64) -> (String, String) {
        let keys = self.fresh(id);
        ok(&["dept", "keygen", "--unencrypted", "--out-dir", &keys]);
        let cred = self.fresh("credential");
        let serial = serial.to_string();
        ok(&[
            "authority",
            "enroll",
            "--key",
            &self.auth,
            "--serial",
            &serial,
            "--department",
            id,
            "--name",
            id,
            "--signing-key",
            &format!("{keys}/signing.pub"),
            "--sealing-key",
            &format!("{keys}/sealing.pub"),
            "--classes",
            classes,
            "--purposes",
            "loan-approval",
            "--audience",
            ORIGIN,
            "--out",
            &cred,
        ]);
        (keys, cred)
    }

    /// The department's token (`keys`, `cred`) for SUBJECT's `classes`, with `consent`, as of
    /// `at` (default now).
    fn token(&self, keys: &str, cred: &str, classes: &str, consent: Option<&str>, at: Option<u64>) -> String {
        let token = self.fresh("token");
        let key = format!("{keys}/signing.key");
        let at = at.map(|t| t.to_string());
        let mut args = vec![
            "dept",
            "query",
            "--key",
            &key,
            "--credential",
            cred,
            "--subject",
            SUBJECT,
            "--classes",
            classes,
            "--purpose",
            "loan-approval",
            "--legal-basis",
            "application 2026-18",
            "--audience",
            ORIGIN,
            "--out",
            &token,
        ];
        if let Some(c) = consent {
            args.extend(["--consent", c]);
        }
        if let Some(t) = &at {
            args.extend(["--issued-at", t]);
        }
        ok(&args);
        token
    }

    /// `credseal query` of `token` (as of `at`); the output and the answer file.
    fn run_query(&self, cred: &str, token: &str, at: Option<u64>) -> (Output, String) {
        let answer = self.fresh("answer");
        let at = at.map(|t| t.to_string());
        let mut args = vec![
            "query",
            "--data",
            &self.data,
            "--credential",
            cred,
            "--token",
            token,
            "--out",
            &answer,
        ];
        if let Some(t) = &at {
            args.extend(["--now", t]);
        }
        (run(&args), answer)
    }

    /// A granted query by the department (`keys`, `cred`) for SUBJECT's `classes`, opened:
    /// the answer's records.
    fn query(&self, keys: &str, cred: &str, classes: &str) -> Vec<serde_json::Value> {
        self.query_at(keys, cred, classes, None, None)
    }

    /// [`Fx::query`] with a consent, as of `at`.
    fn query_at(
        &self,
        keys: &str,
        cred: &str,
        classes: &str,
        consent: Option<&str>,
        at: Option<u64>,
    ) -> Vec<serde_json::Value> {
        let token = self.token(keys, cred, classes, consent, at);
        let (o, answer) = self.run_query(cred, &token, at);
        assert_eq!(code(&o), 0, "{}", stderr(&o));
        let log_key = self.fresh("log-key");
        std::fs::write(
            &log_key,
            stdout(&ok(&["log", "key", "--data", &self.data, "--current"])),
        )
        .unwrap();
        let o = ok(&[
            "open",
            "--key",
            &format!("{keys}/sealing.key"),
            "--log-key",
            &log_key,
            "--token",
            &token,
            &answer,
            "--json",
        ]);
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        self.last_answer.replace(v.clone());
        v["records"].as_array().unwrap().clone()
    }

    /// The department's correction notices, fetched and opened with its sealing key.
    fn notices(&self, id: &str, keys: &str) -> Vec<serde_json::Value> {
        let o = ok(&["dept", "notices", "--data", &self.data, "--department", id]);
        let file = self.fresh("notices");
        std::fs::write(&file, &o.stdout).unwrap();
        let o = ok(&[
            "dept",
            "open-notice",
            "--key",
            &format!("{keys}/sealing.key"),
            &file,
            "--json",
        ]);
        serde_json::from_slice::<serde_json::Value>(&o.stdout).unwrap()["items"]
            .as_array()
            .unwrap()
            .clone()
    }
}

/// A judgment of SUBJECT by `court-gz-tianhe` (not in records.jsonl): version 1.
fn judgment() -> serde_json::Value {
    let mut j = example("JD-2026-000135");
    j["subject"] = serde_json::json!(SUBJECT);
    j["record_id"] = serde_json::json!("JD-2026-900135");
    j
}

/// The text field of a judgment that the tests correct.
fn judgment_text_field(_: &serde_json::Value) -> String {
    "cause".to_string()
}

#[test]
fn correction_is_never_followed_by_a_release_of_the_old_value() {
    let fx = Fx::new();
    let court = fx.fresh("court.key");
    ok(&["provider", "keygen", "--unencrypted", "--out", &court]);
    let o = fx.enroll("court-gz-tianhe", &court, "judgments", "", 5010);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let v1 = judgment();
    let field = judgment_text_field(&v1);
    let o = fx.ingest(&fx.batch(&court, "court-gz-tianhe", std::slice::from_ref(&v1)));
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let (bank_a, cred_a) = fx.department("bank-a", "identity,judgments", 101);
    let before = fx.query(&bank_a, &cred_a, "judgments");
    assert_eq!(before.len(), 1, "{before:?}");
    assert_eq!(before[0]["fields"][&field], v1["fields"][&field]);

    let v2 = corrected(v1.clone(), 2, &field, "CORRECTED ON OBJECTION");
    let o = fx.ingest(&fx.batch(&court, "court-gz-tianhe", &[v2]));
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    // Every later answer holds the current version only.
    for _ in 0..2 {
        let after = fx.query(&bank_a, &cred_a, "judgments");
        assert_eq!(after.len(), 1, "only the current version is released: {after:?}");
        assert_eq!(after[0]["version"], 2, "{after:?}");
        assert_eq!(after[0]["fields"][&field], "CORRECTED ON OBJECTION");
        let text = serde_json::to_string(&after).unwrap();
        assert!(!text.contains(v1["fields"][&field].as_str().unwrap()), "{text}");
    }
}

#[test]
fn departments_that_saw_the_old_value_get_notices_and_others_do_not() {
    let fx = Fx::new();
    let court = fx.fresh("court.key");
    ok(&["provider", "keygen", "--unencrypted", "--out", &court]);
    let o = fx.enroll("court-gz-tianhe", &court, "judgments", "", 5010);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let v1 = judgment();
    let field = judgment_text_field(&v1);
    let o = fx.ingest(&fx.batch(&court, "court-gz-tianhe", std::slice::from_ref(&v1)));
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    // bank-a received the judgment; bank-b read identity only; bank-c never asked.
    let (bank_a, cred_a) = fx.department("bank-a", "identity,judgments", 101);
    let (bank_b, cred_b) = fx.department("bank-b", "identity,judgments", 102);
    let (bank_c, _) = fx.department("bank-c", "identity,judgments", 103);
    assert_eq!(fx.query(&bank_a, &cred_a, "judgments").len(), 1);
    assert_eq!(fx.query(&bank_b, &cred_b, "identity").len(), 1);

    let v2 = corrected(v1, 2, &field, "CORRECTED ON OBJECTION");
    let o = fx.ingest(&fx.batch(&court, "court-gz-tianhe", &[v2]));
    assert_eq!(code(&o), 0, "{}", stderr(&o));

    let a = fx.notices("bank-a", &bank_a);
    assert_eq!(a.len(), 1, "{a:?}");
    assert_eq!(a[0]["record_id"], "JD-2026-900135");
    assert_eq!(a[0]["class"], "judgments");
    assert_eq!(
        (a[0]["superseded_version"].as_u64(), a[0]["version"].as_u64()),
        (Some(1), Some(2))
    );
    // The notice names the record only (review finding F2): no subject id and no value, so
    // nothing of the record outlives a later shred in the department's copy of the notice;
    // bank-a queries again for the corrected value.
    let text = a[0].to_string();
    assert!(
        !text.contains(SUBJECT) && !text.contains("CORRECTED ON OBJECTION"),
        "{text}"
    );
    let again = fx.query(&bank_a, &cred_a, "judgments");
    assert_eq!(again[0]["fields"][&field], "CORRECTED ON OBJECTION", "{again:?}");
    assert!(fx.notices("bank-b", &bank_b).is_empty());
    assert!(fx.notices("bank-c", &bank_c).is_empty());
    // Sealed to bank-a: bank-b's key does not open bank-a's notices.
    let o = ok(&["dept", "notices", "--data", &fx.data, "--department", "bank-a"]);
    let file = fx.fresh("notices");
    std::fs::write(&file, &o.stdout).unwrap();
    let o = run(&["dept", "open-notice", "--key", &format!("{bank_b}/sealing.key"), &file]);
    assert_eq!(code(&o), 4, "{}", stderr(&o));
    assert!(common::no_result(&o));
    // The notice is receipted in the subject's chain, naming the department.
    let receipts = fx.receipts();
    let notice: Vec<_> = receipts
        .iter()
        .filter(|r| {
            r["detail"]
                .as_str()
                .unwrap()
                .contains("correction notice sealed to department")
        })
        .collect();
    assert_eq!(notice.len(), 1, "{receipts:?}");
    assert!(
        notice[0]["detail"].as_str().unwrap_or_default().contains("bank-a"),
        "{}",
        notice[0]
    );
    assert_eq!(notice[0]["action"], "correction");
}

/// The notices a correction owes are marked in the commit that writes the corrected record:
/// when the process stops before making them (simulated: `CREDSEAL_TEST_SKIP_NOTICES`, test
/// builds only), the next ingest makes them, once.
#[test]
fn notices_owed_by_a_correction_survive_a_stop_before_they_are_made() {
    let fx = Fx::new();
    let court = fx.fresh("court.key");
    ok(&["provider", "keygen", "--unencrypted", "--out", &court]);
    let o = fx.enroll("court-gz-tianhe", &court, "judgments", "", 5010);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let v1 = judgment();
    let field = judgment_text_field(&v1);
    let o = fx.ingest(&fx.batch(&court, "court-gz-tianhe", std::slice::from_ref(&v1)));
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let (bank_a, cred_a) = fx.department("bank-a", "identity,judgments", 101);
    assert_eq!(fx.query(&bank_a, &cred_a, "judgments").len(), 1);
    // The correction is written; the process stops before the notices.
    let v2 = corrected(v1.clone(), 2, &field, "CORRECTED ON OBJECTION");
    let batch = fx.batch(&court, "court-gz-tianhe", &[v2]);
    let o = bin()
        .args(["ingest", "--data", &fx.data, "--batch", &batch, "--json"])
        .env("CREDSEAL_TEST_SKIP_NOTICES", "1")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(fx.notices("bank-a", &bank_a).is_empty());
    // The next ingest, of another record, makes the owed notice.
    let mut other = v1.clone();
    other["record_id"] = serde_json::json!("JD-2026-900136");
    let o = fx.ingest(&fx.batch(&court, "court-gz-tianhe", &[other.clone()]));
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let a = fx.notices("bank-a", &bank_a);
    assert_eq!(a.len(), 1, "{a:?}");
    assert_eq!(a[0]["record_id"], "JD-2026-900135");
    assert_eq!(
        (a[0]["superseded_version"].as_u64(), a[0]["version"].as_u64()),
        (Some(1), Some(2))
    );
    // Once: a further ingest makes no second notice.
    other["record_id"] = serde_json::json!("JD-2026-900137");
    let o = fx.ingest(&fx.batch(&court, "court-gz-tianhe", &[other]));
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(fx.notices("bank-a", &bank_a).len(), 1);
}

// ------------------------------------------------------------------ consent, retention, purpose

/// Unix seconds of a UTC date (noon).
fn unix(y: u16, m: u8, d: u8) -> u64 {
    let days = credseal_core::Date::new(y, m, d).unwrap().days_since_epoch();
    days as u64 * 86_400 + 12 * 3600
}

#[test]
fn a_withdrawn_consent_denies_the_next_query() {
    let fx = Fx::new();
    let (bank, cred) = fx.department("bank-a", "identity,loans", 101);
    let consent = fx.fresh("consent");
    ok(&[
        "subject",
        "consent",
        "--key",
        &format!("{}/signing.key", fx.subject_dir),
        "--subject",
        SUBJECT,
        "--department",
        "bank-a",
        "--classes",
        "loans",
        "--purpose",
        "loan-approval",
        "--max-uses",
        "5",
        "--audience",
        ORIGIN,
        "--out",
        &consent,
    ]);
    assert_eq!(fx.query_at(&bank, &cred, "loans", Some(&consent), None).len(), 1);
    let withdrawal = fx.fresh("withdrawal");
    let o = ok(&[
        "subject",
        "withdraw",
        "--key",
        &format!("{}/signing.key", fx.subject_dir),
        "--consent",
        &consent,
        "--out",
        &withdrawal,
        "--data",
        &fx.data,
    ]);
    assert!(
        stdout(&o).contains("withdrawn on rights.credseal.invalid/log"),
        "{}",
        stdout(&o)
    );
    // The next query that presents it is denied, with uses left on the consent.
    let token = fx.token(&bank, &cred, "loans", Some(&consent), None);
    let (o, answer) = fx.run_query(&cred, &token, None);
    assert_eq!(code(&o), 3, "{}", stderr(&o));
    assert!(stderr(&o).contains("(consent-withdrawn)"), "{}", stderr(&o));
    assert!(!std::path::Path::new(&answer).exists());
    // A query that needs no consent still goes through.
    assert_eq!(fx.query(&bank, &cred, "identity").len(), 1);
    // The subject sees the withdrawal and the denial in its receipts.
    let receipts = fx.receipts();
    assert!(
        receipts.iter().any(|r| r["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("withdrawn by the subject")),
        "{receipts:?}"
    );
    assert!(
        receipts
            .iter()
            .any(|r| r["outcome"] == "denied" && r["denial_code"] == "consent-withdrawn"),
        "{receipts:?}"
    );
    // A withdrawal signed by another key than the consent's is refused before signing.
    let other = fx.fresh("other-subject");
    ok(&["subject", "keygen", "--unencrypted", "--out-dir", &other]);
    let o = run(&[
        "subject",
        "withdraw",
        "--key",
        &format!("{other}/signing.key"),
        "--consent",
        &consent,
        "--out",
        &fx.fresh("w"),
    ]);
    assert_eq!(code(&o), 2, "{}", stderr(&o));
}

#[test]
fn an_expired_record_is_not_released_before_the_sweep() {
    let fx = Fx::new();
    // A commendation (kept 3 years) effective 2024-01-10: released now, past its retention
    // from 2027-01-10 whether or not anyone ran the sweep.
    let mut honour = example("CM-2024-000285");
    honour["subject"] = serde_json::json!(SUBJECT);
    honour["record_id"] = serde_json::json!("CM-2024-900285");
    honour["effective"] = serde_json::json!("2024-01-10");
    let file = fx.fresh("honour.jsonl");
    std::fs::write(&file, format!("{honour}\n")).unwrap();
    ok(&[
        "ingest",
        "--operator-import",
        "--officer",
        "op-import",
        "--data",
        &fx.data,
        &file,
    ]);
    let (bank, cred) = fx.department("bank-a", "identity,commendations", 101);
    assert_eq!(fx.query(&bank, &cred, "commendations").len(), 1);
    let later = unix(2027, 2, 1);
    let after = fx.query_at(&bank, &cred, "commendations", None, Some(later));
    assert!(after.is_empty(), "an expired record is never released: {after:?}");
    // Identity (kept permanently) still is.
    assert_eq!(fx.query_at(&bank, &cred, "identity", None, Some(later + 10)).len(), 1);
    // Ingest refuses a record already past its retention: exit 1, nothing written.
    let size = fx.size();
    honour["record_id"] = serde_json::json!("CM-2020-900001");
    honour["effective"] = serde_json::json!("2020-01-10");
    std::fs::write(&file, format!("{honour}\n")).unwrap();
    let o = run(&[
        "ingest",
        "--operator-import",
        "--officer",
        "op-import",
        "--data",
        &fx.data,
        &file,
    ]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert!(stderr(&o).contains("past its class's retention"), "{}", stderr(&o));
    assert_eq!(fx.size(), size);
}

#[test]
fn the_legal_basis_signed_into_a_token_is_kept_in_the_receipt() {
    let fx = Fx::new();
    let (bank, cred) = fx.department("bank-a", "identity", 101);
    assert_eq!(fx.query(&bank, &cred, "identity").len(), 1);
    let receipts = fx.receipts();
    let q = receipts.iter().find(|r| r["action"] == "query").unwrap();
    assert_eq!(q["detail"], "legal basis: application 2026-18", "{q}");
    assert_eq!(q["purpose"], "loan-approval", "{q}");
}

// ------------------------------------------------------------------ objections

impl Fx {
    /// SUBJECT's signed objection to `record` of `class`, filed: the output of `subject
    /// object --data`.
    fn object(&self, class: &str, record: &str, repair: bool) -> Output {
        let out = self.fresh("objection");
        let key = format!("{}/signing.key", self.subject_dir);
        let mut args = vec![
            "subject",
            "object",
            "--key",
            &key,
            "--subject",
            SUBJECT,
            "--class",
            class,
            "--record",
            record,
            "--reason",
            "the balance is wrong: I repaid 3150.00 in March",
            "--audience",
            ORIGIN,
            "--out",
            &out,
            "--data",
            &self.data,
        ];
        if repair {
            args.push("--repair");
        }
        run(&args)
    }

    /// `audit objections --json` as of `now` (default: the clock): the output and the rows.
    fn audit_objections(&self, now: Option<u64>) -> (Output, Vec<serde_json::Value>) {
        let at = now.map(|t| t.to_string());
        let mut args = vec!["audit", "objections", "--data", &self.data, "--json"];
        if let Some(t) = &at {
            args.extend(["--now", t]);
        }
        let o = ok(&args);
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        let rows = v["items"].as_array().unwrap().clone();
        (o, rows)
    }
}

fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

#[test]
fn an_objection_is_resolved_by_the_providers_correction() {
    let fx = Fx::new();
    let o = fx.object("loans", OWN_LOAN, false);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(stdout(&o).contains("boc-guangzhou answers by"), "{}", stdout(&o));
    let (_, rows) = fx.audit_objections(None);
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0]["provider"], PROVIDER);
    assert_eq!(rows[0]["status"], "open");
    // The deadline is the catalogue's 20 days for loans (the default).
    let (filed, due) = (rows[0]["filed_at"].as_u64().unwrap(), rows[0]["due"].as_u64().unwrap());
    assert_eq!(due - filed, 20 * 86_400);
    // The provider answers by correcting the record.
    let fix = corrected(example(OWN_LOAN), 2, "balance", "350.00");
    let o = fx.ingest(&fx.batch(&fx.provider_key, PROVIDER, &[fix]));
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let (_, rows) = fx.audit_objections(None);
    assert_eq!(rows[0]["status"], "corrected (version 2)", "{rows:?}");
    // Filing and resolution are in the subject's chain.
    let details: Vec<String> = fx
        .receipts()
        .iter()
        .map(|r| r["detail"].as_str().unwrap_or_default().to_string())
        .collect();
    assert!(
        details
            .iter()
            .any(|d| d.contains("filed: a loans record (version 1) is disputed")),
        "{details:?}"
    );
    assert!(
        details.iter().any(|d| d.contains("resolved: the record was corrected")),
        "{details:?}"
    );
    // Never overdue once answered.
    let (o, rows) = fx.audit_objections(Some(due + 86_400));
    assert_eq!(rows[0]["overdue"], false);
    assert!(!stderr(&o).contains("ALERT"), "{}", stderr(&o));
}

#[test]
fn an_unanswered_objection_raises_an_alert_after_its_deadline() {
    let fx = Fx::new();
    let o = fx.object("repayment", "RP-2025-000253", false);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let now = now_secs();
    // Simulated time: a day before the deadline, open; a day after, overdue and alerted.
    let (o, rows) = fx.audit_objections(Some(now + 19 * 86_400));
    assert_eq!(rows[0]["status"], "open", "{rows:?}");
    assert!(!stderr(&o).contains("ALERT"), "{}", stderr(&o));
    let (o, rows) = fx.audit_objections(Some(now + 21 * 86_400));
    assert_eq!(rows[0]["status"], "overdue", "{rows:?}");
    assert_eq!(rows[0]["overdue"], true);
    assert!(
        stderr(&o).contains("credseal: ALERT: provider boc-guangzhou has an overdue objection"),
        "{}",
        stderr(&o)
    );
    // Alerted and receipted once.
    let (o, _) = fx.audit_objections(Some(now + 22 * 86_400));
    assert!(!stderr(&o).contains("ALERT"), "{}", stderr(&o));
    let overdue = fx
        .receipts()
        .iter()
        .filter(|r| {
            r["detail"]
                .as_str()
                .unwrap()
                .contains("overdue: boc-guangzhou did not answer")
        })
        .count();
    assert_eq!(overdue, 1);
}

#[test]
fn an_objection_is_upheld_only_by_the_records_provider() {
    let fx = Fx::new();
    let o = fx.object("loans", OWN_LOAN, false);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let id = fx.audit_objections(None).1[0]["id"].as_str().unwrap().to_string();
    let answer = |key: &str| {
        run(&[
            "provider",
            "answer-objection",
            "--key",
            key,
            "--objection",
            &id,
            "--reason",
            "the repayment of March was returned unpaid",
            "--audience",
            ORIGIN,
            "--out",
            &fx.fresh("answer"),
            "--data",
            &fx.data,
        ])
    };
    // Another enrolled provider's key: a verification failure, still open.
    let other = fx.fresh("other.key");
    ok(&["provider", "keygen", "--unencrypted", "--out", &other]);
    let o = fx.enroll("bocom-guangzhou", &other, "loans", "", 5020);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let o = answer(&other);
    assert_eq!(code(&o), 4, "{}", stderr(&o));
    assert_eq!(fx.audit_objections(None).1[0]["status"], "open");
    // The record's provider: upheld, receipted; a second answer is refused.
    let o = answer(&fx.provider_key);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(fx.audit_objections(None).1[0]["status"], "upheld");
    let o = answer(&fx.provider_key);
    assert_eq!(code(&o), 3, "{}", stderr(&o));
    assert!(stderr(&o).contains("(objection-closed)"), "{}", stderr(&o));
    assert!(fx.receipts().iter().any(|r| {
        r["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("answered by boc-guangzhou: the record is upheld")
    }),);
}

#[test]
fn a_subject_flooding_objections_is_rate_limited() {
    let fx = Fx::new();
    // SUBJECT's records: a loan, a repayment, its identity, a credit card.
    for (class, record) in [
        ("loans", OWN_LOAN),
        ("repayment", "RP-2025-000253"),
        ("identity", "ID-00000212"),
    ] {
        let o = fx.object(class, record, false);
        assert_eq!(code(&o), 0, "{}", stderr(&o));
    }
    // The same record again: refused while its objection is open.
    let o = fx.object("loans", OWN_LOAN, false);
    assert_eq!(code(&o), 3, "{}", stderr(&o));
    assert!(stderr(&o).contains("(objection-already-open)"), "{}", stderr(&o));
    // A fourth open objection: rate-limited, nothing filed.
    let size = fx.size();
    let o = fx.object("credit-cards", "CC-2025-000182", false);
    assert_eq!(code(&o), 3, "{}", stderr(&o));
    assert!(stderr(&o).contains("(objection-rate-limited)"), "{}", stderr(&o));
    assert_eq!(fx.size(), size);
    assert_eq!(fx.audit_objections(None).1.len(), 3);
    // A record the subject does not have: exit 1.
    let o = fx.object("loans", "LN-0000-000000", false);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
}

#[test]
fn a_repair_application_is_answered_by_the_authority() {
    let fx = Fx::new();
    let o = fx.object("loans", OWN_LOAN, true);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(stdout(&o).contains("authority answers by"), "{}", stdout(&o));
    let row = fx.audit_objections(None).1[0].clone();
    assert_eq!(
        (row["kind"].as_str(), row["provider"].as_str()),
        (Some("repair"), Some("authority"))
    );
    let id = row["id"].as_str().unwrap().to_string();
    let answer = |key: &str| {
        run(&[
            "provider",
            "answer-objection",
            "--key",
            key,
            "--objection",
            &id,
            "--reason",
            "the debt is valid",
            "--audience",
            ORIGIN,
            "--out",
            &fx.fresh("answer"),
            "--data",
            &fx.data,
        ])
    };
    // The provider may not answer a repair application; the authority does.
    assert_eq!(code(&answer(&fx.provider_key)), 4);
    let o = answer(&fx.auth);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(fx.audit_objections(None).1[0]["status"], "upheld");
}

#[test]
fn an_objection_marks_every_answer_that_holds_the_record_as_disputed() {
    let fx = Fx::new();
    let (bank, cred) = fx.department("bank-a", "identity,judgments", 101);
    assert_eq!(fx.query(&bank, &cred, "identity").len(), 1);
    assert_eq!(
        fx.last_answer.borrow()["disputed"],
        serde_json::json!([]),
        "{}",
        fx.last_answer.borrow()
    );
    let o = fx.object("identity", "ID-00000212", false);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    for _ in 0..2 {
        assert_eq!(fx.query(&bank, &cred, "identity").len(), 1);
        assert_eq!(
            fx.last_answer.borrow()["disputed"],
            serde_json::json!([{ "class": "identity", "records": 1 }])
        );
    }
    // An answer without the record says nothing of it.
    assert_eq!(fx.query(&bank, &cred, "judgments").len(), 0);
    assert_eq!(fx.last_answer.borrow()["disputed"], serde_json::json!([]));
    // The subject sees it in the receipts of those queries too.
    let marked = fx
        .receipts()
        .iter()
        .filter(|r| {
            r["action"] == "query"
                && r["detail"]
                    .as_str()
                    .unwrap_or_default()
                    .contains("disputed: 1 identity")
        })
        .count();
    assert_eq!(marked, 2);
}

// ------------------------------------------------------------------ views

#[test]
fn a_view_limited_answer_holds_only_the_views_fields() {
    let text = std::fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(CATALOG)).unwrap();
    let anchor = "title = \"Approving a loan application (贷款审批)\"\n";
    assert!(text.contains(anchor));
    let with_view = text.replacen(
        anchor,
        &format!("{anchor}\n[[purpose.view]]\nclass = \"identity\"\nfields = [\"name\", \"id_type\"]\n"),
        1,
    );
    let fx = Fx::with_catalog(Some(&with_view));
    let (bank, cred) = fx.department("bank-a", "identity,judgments", 101);
    let records = fx.query(&bank, &cred, "identity");
    assert_eq!(records.len(), 1, "{records:?}");
    let fields: Vec<&String> = records[0]["fields"].as_object().unwrap().keys().collect();
    assert_eq!(fields, ["id_type", "name"], "{records:?}");
    // No other field travels (the record's place and effective date do, as in every answer).
    let whole = example("ID-00000212");
    let answer = fx.last_answer.borrow().to_string();
    let address = whole["fields"]["registered_address"].as_str().unwrap();
    assert!(!answer.contains(address), "{answer}");
    assert!(!answer.contains("gender"), "{answer}");
    // The receipt names the view.
    let q = fx.receipts().into_iter().find(|r| r["action"] == "query").unwrap();
    assert!(
        q["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("view: loan-approval/identity"),
        "{q}"
    );
    // A catalogue whose view names a field the class does not have is refused at init.
    let bad = text.replacen(
        anchor,
        &format!("{anchor}\n[[purpose.view]]\nclass = \"identity\"\nfields = [\"shoe_size\"]\n"),
        1,
    );
    let file = fx.fresh("bad-catalog.toml");
    std::fs::write(&file, bad).unwrap();
    let o = run(&[
        "init",
        "--data",
        &fx.fresh("data"),
        "--catalog",
        &file,
        "--origin",
        ORIGIN,
        "--kdf-mib",
        "8",
        "--kdf-passes",
        "1",
    ]);
    assert_ne!(code(&o), 0);
    assert!(stderr(&o).contains("has no field \"shoe_size\""), "{}", stderr(&o));
}

/// The example catalogue with a view of `identity` (name and id type) under the purpose
/// credit-card-approval, none under loan-approval (the purpose the tests query for).
fn catalog_with_card_view() -> String {
    let text = std::fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(CATALOG)).unwrap();
    let anchor = "title = \"Approving a credit card application (信用卡审批)\"\n";
    assert!(text.contains(anchor));
    text.replacen(
        anchor,
        &format!("{anchor}\n[[purpose.view]]\nclass = \"identity\"\nfields = [\"name\", \"id_type\"]\n"),
        1,
    )
}

#[test]
fn a_view_limited_token_answer_holds_only_the_views_fields() {
    let fx = Fx::with_catalog(Some(&catalog_with_card_view()));
    // A credential without views (as every credential before views): the whole class, since
    // loan-approval defines no view of identity.
    let (bank, cred) = fx.department("bank-a", "identity,judgments", 101);
    let whole = fx.query(&bank, &cred, "identity");
    assert_eq!(whole.len(), 1, "{whole:?}");
    assert!(whole[0]["fields"].as_object().unwrap().len() > 2, "{whole:?}");
    let address = example("ID-00000212")["fields"]["registered_address"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(fx.last_answer.borrow().to_string().contains(&address));
    // The same credential, a token that asks for identity through the view: the view's
    // fields only, and the receipt names the view.
    let records = fx.query(&bank, &cred, "credit-card-approval/identity,judgments");
    let ids: Vec<&String> = records
        .iter()
        .filter(|r| r["class"] == "identity")
        .flat_map(|r| r["fields"].as_object().unwrap().keys())
        .collect();
    assert_eq!(ids, ["id_type", "name"], "{records:?}");
    let answer = fx.last_answer.borrow().to_string();
    assert!(!answer.contains(&address), "{answer}");
    assert!(!answer.contains("gender"), "{answer}");
    let receipts = fx.receipts();
    let q = receipts.iter().rfind(|r| r["action"] == "query").unwrap();
    let detail = q["detail"].as_str().unwrap();
    assert!(detail.contains("view: credit-card-approval/identity"), "{q}");
    assert!(!detail.contains("judgments"), "judgments was granted whole: {q}");
    assert_eq!(q["classes"], serde_json::json!(["identity", "judgments"]), "{q}");

    // A credential that grants only the view: a token for the whole class is refused (exit 3,
    // nothing released), a token for the view is answered with its fields.
    let (shop, vcred) = fx.department("shop-b", "credit-card-approval/identity", 102);
    let token = fx.token(&shop, &vcred, "identity", None, None);
    let (o, _) = fx.run_query(&vcred, &token, None);
    assert_eq!(code(&o), 3, "{}", stderr(&o));
    assert!(stderr(&o).contains("class-not-granted"), "{}", stderr(&o));
    let records = fx.query(&shop, &vcred, "credit-card-approval/identity");
    let keys: Vec<&String> = records[0]["fields"].as_object().unwrap().keys().collect();
    assert_eq!(keys, ["id_type", "name"], "{records:?}");

    // A view the catalogue does not define, and a class asked for twice, are refused (exit 3).
    for (classes, want) in [
        ("loan-approval/identity", "unknown-view"),
        ("no-such-purpose/identity", "unknown-view"),
        ("credit-card-approval/loans", "unknown-view"),
        ("credit-card-approval/identity,identity", "view-conflict"),
    ] {
        let token = fx.token(&bank, &cred, classes, None, None);
        let (o, _) = fx.run_query(&cred, &token, None);
        assert_eq!(code(&o), 3, "{classes}: {}", stderr(&o));
        assert!(stderr(&o).contains(want), "{classes}: {}", stderr(&o));
    }
}

/// A provider's answer `deleted` destroys the record through the shred path: every version
/// is shredded (`check` counts one record fewer), the subject's chain holds the `shred`
/// receipt naming the objection and the answer's receipt, and the objection reads `deleted`.
/// An application for credit repair is resolved by the authority the same way.
#[test]
fn an_objection_answered_deleted_shreds_the_record() {
    let fx = Fx::new();
    let o = fx.object("loans", OWN_LOAN, false);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let id = fx.audit_objections(None).1[0]["id"].as_str().unwrap().to_string();
    let before = fx.records();
    let answer = |outcome: &str| {
        run(&[
            "provider",
            "answer-objection",
            "--key",
            &fx.provider_key,
            "--objection",
            &id,
            "--reason",
            "the loan was entered for the wrong person",
            "--outcome",
            outcome,
            "--audience",
            ORIGIN,
            "--out",
            &fx.fresh("answer"),
            "--data",
            &fx.data,
        ])
    };
    let o = answer("deleted");
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(
        stdout(&o).contains("the record is deleted by boc-guangzhou"),
        "{}",
        stdout(&o)
    );
    assert_eq!(fx.records(), before - 1);
    assert_eq!(fx.audit_objections(None).1[0]["status"], "deleted");
    let receipts = fx.receipts();
    let shred: Vec<_> = receipts.iter().filter(|r| r["action"] == "shred").collect();
    assert_eq!(shred.len(), 1, "{receipts:?}");
    assert!(
        shred[0]["detail"]
            .as_str()
            .unwrap()
            .contains("answered by boc-guangzhou: the record is deleted"),
        "{}",
        shred[0]
    );
    assert!(receipts.iter().any(|r| {
        r["detail"]
            .as_str()
            .unwrap()
            .contains("the record is deleted (every version shredded)")
    }));
    // Answered: a second answer is refused and nothing more is shredded.
    let o = answer("deleted");
    assert_eq!(code(&o), 3, "{}", stderr(&o));
    assert_eq!(fx.records(), before - 1);
    // A repair application, resolved by the authority: deleted.
    let o = fx.object("identity", "ID-00000212", true);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let rows = fx.audit_objections(None).1;
    let repair = rows.iter().find(|r| r["kind"] == "repair").unwrap();
    let rid = repair["id"].as_str().unwrap().to_string();
    let o = run(&[
        "provider",
        "answer-objection",
        "--key",
        &fx.auth,
        "--objection",
        &rid,
        "--reason",
        "repair granted",
        "--outcome",
        "deleted",
        "--audience",
        ORIGIN,
        "--out",
        &fx.fresh("answer"),
        "--data",
        &fx.data,
    ]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(fx.records(), before - 2);
    let rows = fx.audit_objections(None).1;
    assert_eq!(
        rows.iter().find(|r| r["id"] == rid.as_str()).unwrap()["status"],
        "deleted"
    );
}

/// The fingerprints of a view-limited answer cover the view's fields only: a leaked value
/// the view left out traces to no department; a value it released traces to the department.
#[test]
fn a_view_limited_answer_is_fingerprinted_with_the_views_fields_only() {
    let fx = Fx::with_catalog(Some(&catalog_with_card_view()));
    let (shop, vcred) = fx.department("shop-b", "credit-card-approval/identity", 102);
    assert_eq!(fx.query(&shop, &vcred, "credit-card-approval/identity").len(), 1);
    let responder = fx.fresh("responder.key");
    ok(&["staff", "keygen", "--unencrypted", "--out", &responder]);
    let o = common::enroll_staff(
        &|a: &[&str]| run(a),
        fx.dir.path(),
        &fx.data,
        ORIGIN,
        Some(&fx.auth),
        "responder",
        "resp-1",
        &format!("{responder}.pub"),
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let whole = example("ID-00000212");
    let trace = |column: &str| -> serde_json::Value {
        let leak = fx.fresh("leak") + ".jsonl";
        let value = whole["fields"][column].as_str().unwrap();
        std::fs::write(
            &leak,
            format!("{{\"subject\":\"{SUBJECT}\",\"{column}\":\"{value}\"}}\n"),
        )
        .unwrap();
        let o = ok(&["trace", "--data", &fx.data, "--key", &responder, &leak, "--json"]);
        serde_json::from_slice(&o.stdout).unwrap()
    };
    let released = trace("name");
    assert_eq!(released["departments"][0]["department"], "shop-b", "{released}");
    let withheld = trace("registered_address");
    assert!(
        withheld["departments"].as_array().is_none_or(|d| d.is_empty()),
        "{withheld}"
    );
    // Released whole to another department, the same value traces to it alone.
    let (bank, cred) = fx.department("bank-a", "identity", 101);
    assert_eq!(fx.query(&bank, &cred, "identity").len(), 1);
    let depts: Vec<String> = trace("registered_address")["departments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["department"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(depts, ["bank-a"]);
}

/// A provider cannot change a record without a correction (a higher version without
/// "supersedes" would skip the departments' notices), nor date one in the future (its
/// retention would never start). Both are refused with nothing written.
#[test]
fn a_future_dated_record_or_a_new_version_without_supersedes_is_refused() {
    let fx = Fx::new();
    let (size, records) = (fx.size(), fx.records());
    // A new version that names no version it corrects.
    let mut silent = corrected(example(OWN_LOAN), 2, "balance", "5.00");
    silent.as_object_mut().unwrap().remove("supersedes");
    let o = fx.ingest(&fx.batch(&fx.provider_key, PROVIDER, &[silent]));
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert!(stderr(&o).contains("supersedes"), "{}", stderr(&o));
    // A record dated in 2099.
    let mut future = example(OWN_LOAN);
    future["record_id"] = serde_json::json!("LN-FUTURE-1");
    future["effective"] = serde_json::json!("2099-01-01");
    let o = fx.ingest(&fx.batch(&fx.provider_key, PROVIDER, &[future]));
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert!(stderr(&o).contains("in the future"), "{}", stderr(&o));
    assert_eq!((fx.size(), fx.records()), (size, records), "something was written");
}

/// A provider whose credential is revoked cannot answer objections any more (an answer may
/// delete the record): refused with its code, the objection still open.
#[test]
fn a_revoked_provider_cannot_answer_an_objection() {
    let fx = Fx::new();
    let o = fx.object("loans", OWN_LOAN, false);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let id = fx.audit_objections(None).1[0]["id"].as_str().unwrap().to_string();
    ok(&[
        "authority",
        "revoke",
        "--key",
        &fx.auth,
        "--serial",
        "5001",
        "--origin",
        ORIGIN,
        "--out",
        &fx.fresh("revocations"),
        "--data",
        &fx.data,
    ]);
    for outcome in ["upheld", "deleted"] {
        let o = run(&[
            "provider",
            "answer-objection",
            "--key",
            &fx.provider_key,
            "--objection",
            &id,
            "--outcome",
            outcome,
            "--reason",
            "checked",
            "--origin",
            ORIGIN,
            "--out",
            &fx.fresh("answer"),
            "--data",
            &fx.data,
        ]);
        assert_eq!(code(&o), 3, "{outcome}: {}", stderr(&o));
        assert!(stderr(&o).contains("(credential-revoked)"), "{outcome}: {}", stderr(&o));
        assert_eq!(fx.audit_objections(None).1[0]["status"], "open");
    }
}
