//! `--json` everywhere, held to its documented schema (docs/json.md, docs/json-schema.json).
//!
//! One scenario runs every leaf command of the real `credseal` binary with `--json`: once
//! where it succeeds and once where it fails. A success prints exactly one JSON document on
//! standard output; it is validated against the schema the table in docs/json.md names for the
//! command, and its `schema` field names that document. A failure prints exactly one
//! `credseal/error/v1` document whose `exit_code` is the process's exit status. At the end,
//! every leaf command found by walking `credseal --help` must have been run both ways, so a
//! command added without a documented document fails this test.

mod common;

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use common::{code, stderr, stdout};
use serde_json::Value;

const CATALOG: &str = "../../keys-example/catalog.toml";
const RECORDS: &str = "../../keys-example/records.jsonl";
const PASS: &str = "json test passphrase, not a real one";
const ORIGIN: &str = "json.credseal.invalid/log";
/// A subject of records.jsonl with identity and loan records.
const SUBJECT: &str = "44010619970815204X";

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_credseal"));
    c.current_dir(env!("CARGO_MANIFEST_DIR"));
    c.env_remove("CREDSEAL_DATA");
    c.env_remove("CREDSEAL_OFFICER");
    c.env_remove("CREDSEAL_UNSEAL");
    c.env("CREDSEAL_PASSPHRASE", PASS);
    c.env("CREDSEAL_KEY_PASSPHRASE", "json test key passphrase");
    c
}

fn run(args: &[&str]) -> Output {
    bin().args(args).stdin(Stdio::null()).output().unwrap()
}

/// The schemas and the command → document table of docs/json.md.
struct Contract {
    schema: Value,
    /// Per command, the documents it may print on success (a cell `` `a` or `b` ``).
    documents: BTreeMap<String, Vec<String>>,
}

impl Contract {
    fn load() -> Self {
        let schema: Value =
            serde_json::from_str(&std::fs::read_to_string(root().join("docs/json-schema.json")).unwrap()).unwrap();
        let md = std::fs::read_to_string(root().join("docs/json.md")).unwrap();
        // Rows of the table: | `credseal COMMAND` | `DOCUMENT` [or `DOCUMENT`] | … |
        let mut documents = BTreeMap::new();
        for line in md.lines() {
            let cells: Vec<&str> = line.split('|').map(str::trim).collect();
            if cells.len() < 4 {
                continue;
            }
            let Some(cmd) = cells[1].strip_prefix("`credseal ").and_then(|c| c.strip_suffix('`')) else {
                continue;
            };
            let doc: Vec<String> = cells[2]
                .split(" or ")
                .filter_map(|d| d.trim().strip_prefix('`')?.split('`').next())
                .map(str::to_string)
                .collect();
            assert!(!doc.is_empty(), "docs/json.md: no document for `credseal {cmd}`");
            assert!(
                documents.insert(cmd.to_string(), doc).is_none(),
                "docs/json.md names `credseal {cmd}` twice"
            );
        }
        assert!(
            documents.len() > 50,
            "docs/json.md: {} commands in its table",
            documents.len()
        );
        Contract { schema, documents }
    }

    /// Checks `doc` against the schema of document `name`.
    fn validate(&self, name: &str, doc: &Value) -> Result<(), String> {
        let defs = &self.schema["$defs"];
        if defs.get(name).is_none() {
            return Err(format!("docs/json-schema.json has no $defs/{name}"));
        }
        let mut root = self.schema.clone();
        root["$ref"] = Value::String(format!("#/$defs/{name}"));
        let v = jsonschema::draft202012::new(&root).map_err(|e| format!("the schema does not compile: {e}"))?;
        let errors: Vec<String> = v
            .iter_errors(doc)
            .map(|e| format!("{} at {}", e, e.instance_path()))
            .collect();
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors.join("; "))
        }
    }
}

/// The leaf commands, found by walking `--help` (hidden commands are not listed there).
fn leaf_commands() -> BTreeSet<String> {
    fn walk(path: &mut Vec<String>, out: &mut BTreeSet<String>) {
        let mut args: Vec<&str> = path.iter().map(String::as_str).collect();
        args.push("--help");
        let help = stdout(&run(&args));
        let mut subs = Vec::new();
        let mut in_commands = false;
        for line in help.lines() {
            if line.starts_with("Commands:") {
                in_commands = true;
                continue;
            }
            if in_commands {
                if !line.starts_with("  ") {
                    in_commands = false;
                    continue;
                }
                if let Some(name) = line.strip_prefix("  ").and_then(|l| l.split_whitespace().next())
                    && line.as_bytes().get(2).is_some_and(u8::is_ascii_lowercase)
                    && name != "help"
                {
                    subs.push(name.to_string());
                }
            }
        }
        if subs.is_empty() {
            out.insert(path.join(" "));
        }
        for s in subs {
            path.push(s);
            walk(path, out);
            path.pop();
        }
    }
    let mut out = BTreeSet::new();
    walk(&mut Vec::new(), &mut out);
    out.remove("");
    out
}

/// The scenario: its directory, the contract, and what ran.
struct Js {
    dir: tempfile::TempDir,
    contract: Contract,
    ok: RefCell<BTreeSet<String>>,
    failed: RefCell<BTreeSet<String>>,
    problems: RefCell<Vec<String>>,
    n: std::cell::Cell<u32>,
}

impl Js {
    fn p(&self, name: &str) -> String {
        self.dir.path().join(name).display().to_string()
    }

    fn fresh(&self, name: &str) -> String {
        self.n.set(self.n.get() + 1);
        self.p(&format!("{name}-{}", self.n.get()))
    }

    /// The single JSON document on `o`'s stdout.
    fn document(cmd: &str, o: &Output) -> Value {
        let text = stdout(o);
        let mut docs = serde_json::Deserializer::from_str(&text).into_iter::<Value>();
        let first = match docs.next() {
            Some(Ok(v)) => v,
            other => panic!(
                "`credseal {cmd} --json` printed no JSON document ({other:?}):\nstdout: {text}\nstderr: {}",
                stderr(o)
            ),
        };
        assert!(
            docs.next().is_none(),
            "`credseal {cmd} --json` printed more than one document:\n{text}"
        );
        first
    }

    fn check(&self, cmd: &str, doc: &Value) {
        let Some(names) = self.contract.documents.get(cmd) else {
            self.problems
                .borrow_mut()
                .push(format!("`credseal {cmd}` is not in the table of docs/json.md"));
            return;
        };
        // The document the output names, if the table allows it for this command.
        let named = names
            .iter()
            .find(|n| doc["schema"] == format!("credseal/{n}/v1"))
            .unwrap_or(&names[0]);
        self.check_as(cmd, named, doc);
    }

    fn check_as(&self, cmd: &str, name: &str, doc: &Value) {
        // For writing the schemas: every document seen, by command (the last one wins).
        if let Ok(dir) = std::env::var("CREDSEAL_JSON_DUMP") {
            let file = Path::new(&dir).join(format!("{}.{name}.json", cmd.replace(' ', "_")));
            std::fs::write(file, format!("{doc:#}")).unwrap();
        }
        if doc["schema"] != format!("credseal/{name}/v1") {
            self.problems.borrow_mut().push(format!(
                "`credseal {cmd}`: schema {} (docs/json.md says credseal/{name}/v1)",
                doc["schema"]
            ));
        }
        if let Err(e) = self.contract.validate(name, doc) {
            self.problems
                .borrow_mut()
                .push(format!("`credseal {cmd}`: not a valid {name} document: {e}\n{doc:#}"));
        }
    }

    /// Runs `credseal ARGS --json`, which must succeed; returns its document.
    #[track_caller]
    fn ok(&self, cmd: &str, args: &[&str]) -> Value {
        let mut a = args.to_vec();
        a.push("--json");
        let o = run(&a);
        assert_eq!(code(&o), 0, "`credseal {}`: {}", a.join(" "), stderr(&o));
        let doc = Self::document(cmd, &o);
        self.check(cmd, &doc);
        self.ok.borrow_mut().insert(cmd.to_string());
        doc
    }

    /// Runs `credseal ARGS --json`, which must fail with `exit`; returns its error document.
    #[track_caller]
    fn fail(&self, cmd: &str, args: &[&str], exit: i32) -> Value {
        let mut a = args.to_vec();
        a.push("--json");
        let o = run(&a);
        assert_eq!(code(&o), exit, "`credseal {}`: {}", a.join(" "), stderr(&o));
        let doc = Self::document(cmd, &o);
        self.check_as(cmd, "error", &doc);
        assert_eq!(doc["exit_code"], exit, "{doc}");
        // Also on stderr: `credseal: error: …`, or clap's `error: …` for a usage error.
        assert!(
            stderr(&o).contains("error: "),
            "the error is also on stderr: {}",
            stderr(&o)
        );
        self.failed.borrow_mut().insert(cmd.to_string());
        doc
    }

    /// The operation text an approval-less attempt names, from its error document.
    fn operation_of(err: &Value) -> String {
        let m = err["message"].as_str().unwrap();
        let start = m.find('"').unwrap_or_else(|| panic!("no quoted operation in {m}"));
        let rest = &m[start + 1..];
        rest[..rest.find('"').unwrap()].to_string()
    }
}

/// A `credseal … --json` server: its document once listening, then SIGTERM.
struct Server {
    child: std::process::Child,
    doc: Value,
}

impl Server {
    fn start(args: &[&str]) -> Server {
        let mut child = bin()
            .args(args)
            .arg("--json")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        // The document is pretty-printed: lines up to the closing brace at column 0.
        let mut out = BufReader::new(child.stdout.take().unwrap());
        let mut text = String::new();
        for _ in 0..64 {
            let mut line = String::new();
            if out.read_line(&mut line).unwrap() == 0 {
                break;
            }
            text.push_str(&line);
            if line == "}\n" {
                break;
            }
        }
        let doc: Value =
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("{args:?}: not a JSON document ({e}): {text}"));
        Server { child, doc }
    }

    fn url(&self) -> String {
        self.doc["url"].as_str().unwrap().to_string()
    }

    fn stop(mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let status = self.child.wait().unwrap();
        assert!(status.success(), "{status}");
    }
}

/// `args` followed by `--approval FILE` for each file.
fn with(args: &[&str], approvals: &[String]) -> Vec<String> {
    let mut v: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    for f in approvals {
        v.push("--approval".into());
        v.push(f.clone());
    }
    v
}

fn refs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

#[test]
fn every_command_prints_its_documented_json_on_success_and_failure() {
    let js = Js {
        dir: tempfile::tempdir().unwrap(),
        contract: Contract::load(),
        ok: RefCell::default(),
        failed: RefCell::default(),
        problems: RefCell::default(),
        n: std::cell::Cell::new(0),
    };
    let data = js.p("data");
    let missing = js.p("no-such-dir");

    // A usage error before any command runs is a JSON error too (exit 2).
    let e = js.fail("init", &["init", "--no-such-flag"], 2);
    assert_eq!(e["class"], "usage");

    // The schemas can fail: a receipt whose actor is display text, an error with an
    // unknown class, a document without its schema are each refused.
    let display_actor = serde_json::json!({
        "counter": 1, "index": 0, "time": 1, "sealed": false, "actor": "bank-a (credential 1)",
        "action": "query", "purpose": null, "classes": [], "outcome": "granted", "denial_code": null,
        "detail": null, "sealed_until": null, "new": true
    });
    let mut receipt_schema = js.contract.schema.clone();
    receipt_schema["$ref"] = Value::String("#/$defs/receipt".into());
    assert!(
        !jsonschema::draft202012::new(&receipt_schema)
            .unwrap()
            .is_valid(&display_actor)
    );
    let bad_error = serde_json::json!({
        "schema": "credseal/error/v1", "class": "oops", "exit_code": 1, "code": null, "message": "m", "hint": null
    });
    assert!(js.contract.validate("error", &bad_error).is_err());
    assert!(
        js.contract
            .validate("check", &serde_json::json!({ "ok": true }))
            .is_err()
    );

    // The platform.
    js.ok(
        "init",
        &[
            "init",
            "--data",
            &data,
            "--catalog",
            CATALOG,
            "--origin",
            ORIGIN,
            "--kdf-mib",
            "8",
            "--kdf-passes",
            "1",
        ],
    );
    js.fail(
        "init",
        &["init", "--data", &data, "--catalog", CATALOG, "--origin", ORIGIN],
        1,
    );
    js.ok(
        "ingest",
        &[
            "ingest",
            "--operator-import",
            "--officer",
            "op-import",
            "--data",
            &data,
            RECORDS,
        ],
    );
    js.fail(
        "ingest",
        &[
            "ingest",
            "--operator-import",
            "--officer",
            "op-import",
            "--data",
            &data,
            &missing,
        ],
        1,
    );
    js.ok("check", &["check", "--data", &data]);
    js.fail("check", &["check", "--data", &missing], 1);
    js.ok("compact", &["compact", "--data", &data]);
    js.fail("compact", &["compact", "--data", &missing], 1);

    // The authority.
    let auth = js.p("authority.key");
    let k = js.ok(
        "authority keygen",
        &["authority", "keygen", "--unencrypted", "--out", &auth],
    );
    assert_eq!(k["encrypted"], false);
    js.fail(
        "authority keygen",
        &["authority", "keygen", "--unencrypted", "--out", &auth],
        1,
    );
    let t = js.ok(
        "authority trust",
        &["authority", "trust", "--data", &data, "--key", &format!("{auth}.pub")],
    );
    assert_eq!(t["origin"], ORIGIN);
    js.fail(
        "authority trust",
        &["authority", "trust", "--data", &data, "--key", &missing],
        1,
    );

    // Officers (two, by the authority's orders), a responder.
    let mut officer_keys = Vec::new();
    for (i, id) in ["officer-a", "officer-b"].iter().enumerate() {
        let key = js.p(id);
        let doc = js.ok("officer keygen", &["officer", "keygen", "--unencrypted", "--out", &key]);
        assert_eq!(doc["role"], "officer");
        if i == 0 {
            js.fail(
                "officer keygen",
                &["officer", "keygen", "--unencrypted", "--out", &key],
                1,
            );
        }
        let e = js.fail(
            "staff enroll",
            &[
                "staff",
                "enroll",
                "--data",
                &data,
                "--role",
                "officer",
                "--id",
                id,
                "--key",
                &format!("{key}.pub"),
            ],
            3,
        );
        let op = Js::operation_of(&e);
        let order = js.fresh("order");
        js.ok(
            "staff order",
            &[
                "staff",
                "order",
                "--key",
                &auth,
                "--operation",
                &op,
                "--audience",
                ORIGIN,
                "--out",
                &order,
            ],
        );
        if i == 0 {
            js.fail(
                "staff order",
                &[
                    "staff",
                    "order",
                    "--key",
                    &auth,
                    "--operation",
                    &op,
                    "--audience",
                    ORIGIN,
                    "--out",
                    "-",
                ],
                2,
            );
        }
        let doc = js.ok(
            "staff enroll",
            &[
                "staff",
                "enroll",
                "--data",
                &data,
                "--role",
                "officer",
                "--id",
                id,
                "--key",
                &format!("{key}.pub"),
                "--order",
                &order,
            ],
        );
        assert_eq!(doc["change"], "enroll");
        officer_keys.push(key);
    }
    let approvals = |op: &str| -> Vec<String> {
        officer_keys
            .iter()
            .enumerate()
            .map(|(i, key)| {
                let out = js.fresh("approval");
                let cmd = if i == 0 { "officer approve" } else { "staff approve" };
                let verb: Vec<&str> = cmd.split(' ').collect();
                js.ok(
                    cmd,
                    &[
                        verb[0],
                        verb[1],
                        "--key",
                        key,
                        "--operation",
                        op,
                        "--audience",
                        ORIGIN,
                        "--out",
                        &out,
                    ],
                );
                out
            })
            .collect()
    };
    js.fail(
        "officer approve",
        &[
            "officer",
            "approve",
            "--key",
            &missing,
            "--operation",
            "x",
            "--audience",
            ORIGIN,
            "--out",
            &js.fresh("a"),
        ],
        1,
    );
    js.fail(
        "staff approve",
        &[
            "staff",
            "approve",
            "--key",
            &officer_keys[0],
            "--operation",
            "x",
            "--audience",
            ORIGIN,
            "--out",
            "-",
        ],
        2,
    );
    let resp = js.p("responder.key");
    js.ok("staff keygen", &["staff", "keygen", "--unencrypted", "--out", &resp]);
    js.fail("staff keygen", &["staff", "keygen", "--unencrypted", "--out", &resp], 1);
    let enroll_resp = [
        "staff",
        "enroll",
        "--data",
        &data,
        "--role",
        "responder",
        "--id",
        "resp-1",
        "--key",
    ];
    let resp_pub = format!("{resp}.pub");
    let mut args = enroll_resp.to_vec();
    args.push(&resp_pub);
    let e = js.fail("staff enroll", &args, 3);
    let app = approvals(&Js::operation_of(&e));
    js.ok("staff enroll", &refs(&with(&args, &app)));

    // A third officer, enrolled by the officers and removed again.
    let third = js.p("officer-c");
    js.ok(
        "officer keygen",
        &["officer", "keygen", "--unencrypted", "--out", &third],
    );
    let third_pub = format!("{third}.pub");
    let args = [
        "officer",
        "enroll",
        "--data",
        &data,
        "--id",
        "officer-c",
        "--key",
        &third_pub,
    ];
    let e = js.fail("officer enroll", &args, 3);
    let app = approvals(&Js::operation_of(&e));
    js.ok("officer enroll", &refs(&with(&args, &app)));
    let args = ["officer", "remove", "--data", &data, "--id", "officer-c"];
    let e = js.fail("officer remove", &args, 3);
    let app = approvals(&Js::operation_of(&e));
    js.ok("officer remove", &refs(&with(&args, &app)));
    let args = [
        "staff",
        "remove",
        "--data",
        &data,
        "--role",
        "responder",
        "--id",
        "nobody",
    ];
    let e = js.fail("staff remove", &args, 3);
    let app = approvals(&Js::operation_of(&e));
    // Removing someone never enrolled fails after the approvals too, with the same shape.
    let o = run(&refs(&with(&args, &app)));
    assert_ne!(code(&o), 0);
    let args = ["officer", "set-policy", "--data", &data, "--max-skew-secs", "120"];
    let e = js.fail("officer set-policy", &args, 3);
    let app = approvals(&Js::operation_of(&e));
    js.ok("officer set-policy", &refs(&with(&args, &app)));

    // A staff member enrolled and removed, for `staff remove`.
    let clerk = js.p("clerk.key");
    js.ok("staff keygen", &["staff", "keygen", "--unencrypted", "--out", &clerk]);
    let clerk_pub = format!("{clerk}.pub");
    let args = [
        "staff",
        "enroll",
        "--data",
        &data,
        "--role",
        "responder",
        "--id",
        "clerk",
        "--key",
        &clerk_pub,
    ];
    let e = js.fail("staff enroll", &args, 3);
    let app = approvals(&Js::operation_of(&e));
    js.ok("staff enroll", &refs(&with(&args, &app)));
    let args = [
        "staff",
        "remove",
        "--data",
        &data,
        "--role",
        "responder",
        "--id",
        "clerk",
    ];
    let e = js.fail("staff remove", &args, 3);
    let app = approvals(&Js::operation_of(&e));
    let doc = js.ok("staff remove", &refs(&with(&args, &app)));
    assert_eq!(doc["change"], "remove");

    // A department, its credential, a query and its answer.
    let bank = js.p("bank-a");
    let d = js.ok("dept keygen", &["dept", "keygen", "--unencrypted", "--out-dir", &bank]);
    assert!(d["sealing_public_key"].is_string(), "{d}");
    js.fail(
        "dept keygen",
        &["dept", "keygen", "--unencrypted", "--out-dir", &bank],
        1,
    );
    let cred = js.p("bank-a.cred");
    let enroll = |out: &str| {
        vec![
            "authority".to_string(),
            "enroll".into(),
            "--key".into(),
            auth.clone(),
            "--serial".into(),
            "1001".into(),
            "--department".into(),
            "bank-a".into(),
            "--name".into(),
            "Bank A".into(),
            "--signing-key".into(),
            format!("{bank}/signing.pub"),
            "--sealing-key".into(),
            format!("{bank}/sealing.pub"),
            "--classes".into(),
            "identity,loans".into(),
            "--purposes".into(),
            "loan-approval".into(),
            "--audience".into(),
            ORIGIN.into(),
            "--out".into(),
            out.to_string(),
        ]
    };
    let c = js.ok("authority enroll", &refs(&enroll(&cred)));
    assert_eq!(c["serial"], 1001);
    let e = js.fail("authority enroll", &refs(&enroll("-")), 2);
    assert_eq!(e["class"], "usage");
    let vkey = js.p("log.vkey");
    let o = run(&["log", "key", "--data", &data]);
    std::fs::write(&vkey, o.stdout).unwrap();
    js.ok("log key", &["log", "key", "--data", &data]);
    js.fail("log key", &["log", "key", "--data", &missing], 1);
    let vrf = js.p("vrf.key");
    std::fs::write(&vrf, run(&["log", "key", "--vrf", "--data", &data]).stdout).unwrap();

    // The subject.
    let subj = js.p("subject");
    js.ok(
        "subject keygen",
        &["subject", "keygen", "--unencrypted", "--out-dir", &subj],
    );
    js.fail(
        "subject keygen",
        &["subject", "keygen", "--unencrypted", "--out-dir", &subj],
        1,
    );
    let spub = format!("{subj}/signing.pub");
    let ssk = format!("{subj}/signing.key");
    js.ok(
        "subject register",
        &[
            "subject",
            "register",
            "--data",
            &data,
            "--subject",
            SUBJECT,
            "--key",
            &spub,
        ],
    );
    js.fail(
        "subject register",
        &[
            "subject",
            "register",
            "--data",
            &data,
            "--subject",
            "not-an-id",
            "--key",
            &spub,
        ],
        2,
    );
    let consent = js.p("consent");
    let consent_args = |out: &str| {
        vec![
            "subject".to_string(),
            "consent".into(),
            "--key".into(),
            ssk.clone(),
            "--subject".into(),
            SUBJECT.into(),
            "--department".into(),
            "bank-a".into(),
            "--classes".into(),
            "loans".into(),
            "--purpose".into(),
            "loan-approval".into(),
            "--audience".into(),
            ORIGIN.into(),
            "--out".into(),
            out.to_string(),
        ]
    };
    js.ok("subject consent", &refs(&consent_args(&consent)));
    js.fail("subject consent", &refs(&consent_args("-")), 2);
    let token = js.p("token");
    let dept_query = |out: &str| {
        vec![
            "dept".to_string(),
            "query".into(),
            "--key".into(),
            format!("{bank}/signing.key"),
            "--credential".into(),
            cred.clone(),
            "--subject".into(),
            SUBJECT.into(),
            "--classes".into(),
            "identity,loans".into(),
            "--purpose".into(),
            "loan-approval".into(),
            "--audience".into(),
            ORIGIN.into(),
            "--consent".into(),
            consent.clone(),
            "--out".into(),
            out.to_string(),
        ]
    };
    js.ok("dept query", &refs(&dept_query(&token)));
    js.fail("dept query", &refs(&dept_query("-")), 2);
    let answer = js.p("answer");
    let a = js.ok(
        "query",
        &[
            "query",
            "--data",
            &data,
            "--credential",
            &cred,
            "--token",
            &token,
            "--out",
            &answer,
        ],
    );
    assert!(a["receipt_index"].is_u64(), "{a}");
    // The same token again: replayed, exit 3, and the denial code in the document.
    let e = js.fail(
        "query",
        &[
            "query",
            "--data",
            &data,
            "--credential",
            &cred,
            "--token",
            &token,
            "--out",
            &js.fresh("answer"),
        ],
        3,
    );
    assert_eq!(e["class"], "access-denied");
    assert_eq!(e["code"], "replayed", "{e}");
    let opened = js.ok(
        "open",
        &[
            "open",
            "--key",
            &format!("{bank}/sealing.key"),
            "--log-key",
            &vkey,
            "--token",
            &token,
            &answer,
        ],
    );
    assert!(!opened["records"].as_array().unwrap().is_empty(), "{opened}");
    js.fail(
        "open",
        &[
            "open",
            "--key",
            &format!("{bank}/sealing.key"),
            "--log-key",
            &vkey,
            "--token",
            &token,
            &missing,
        ],
        1,
    );
    // With --export, the export's document.
    let leak = js.p("leak.csv");
    let sealing = format!("{bank}/sealing.key");
    let e = js.ok(
        "open",
        &[
            "open",
            "--key",
            &sealing,
            "--log-key",
            &vkey,
            "--token",
            &token,
            &answer,
            "--export",
            &leak,
        ],
    );
    assert_eq!(e["schema"], "credseal/export/v1", "{e}");

    let w = js.ok(
        "subject withdraw",
        &[
            "subject",
            "withdraw",
            "--key",
            &ssk,
            "--consent",
            &consent,
            "--out",
            &js.fresh("withdrawal"),
            "--data",
            &data,
        ],
    );
    assert_eq!(w["installed_on"], ORIGIN);
    js.fail(
        "subject withdraw",
        &[
            "subject",
            "withdraw",
            "--key",
            &ssk,
            "--consent",
            &missing,
            "--out",
            &js.fresh("withdrawal"),
        ],
        1,
    );
    let sq = js.p("self-query");
    js.ok(
        "subject query",
        &[
            "subject",
            "query",
            "--key",
            &ssk,
            "--subject",
            SUBJECT,
            "--classes",
            "identity",
            "--audience",
            ORIGIN,
            "--sealing-key",
            &format!("{subj}/sealing.pub"),
            "--out",
            &sq,
        ],
    );
    js.fail(
        "subject query",
        &[
            "subject",
            "query",
            "--key",
            &missing,
            "--subject",
            SUBJECT,
            "--classes",
            "identity",
            "--audience",
            ORIGIN,
            "--sealing-key",
            &format!("{subj}/sealing.pub"),
            "--out",
            &js.fresh("sq"),
        ],
        1,
    );
    let request = js.p("bundle-request");
    js.ok(
        "receipts request",
        &[
            "receipts",
            "request",
            "--key",
            &ssk,
            "--subject",
            SUBJECT,
            "--audience",
            ORIGIN,
            "--out",
            &request,
        ],
    );
    js.fail(
        "receipts request",
        &[
            "receipts",
            "request",
            "--key",
            &ssk,
            "--subject",
            SUBJECT,
            "--audience",
            ORIGIN,
            "--out",
            "-",
        ],
        2,
    );
    let bundle = js.p("bundle");
    js.ok(
        "receipts export",
        &[
            "receipts",
            "export",
            "--data",
            &data,
            "--request",
            &request,
            "--out",
            &bundle,
        ],
    );
    js.fail(
        "receipts export",
        &[
            "receipts",
            "export",
            "--data",
            &data,
            "--request",
            &missing,
            "--out",
            &js.fresh("bundle"),
        ],
        1,
    );
    let state = js.p("subject.state");
    let v = js.ok(
        "receipts verify",
        &[
            "receipts",
            "verify",
            "--vkey",
            &vkey,
            "--vrf-key",
            &vrf,
            "--subject",
            SUBJECT,
            "--state",
            &state,
            &bundle,
        ],
    );
    let receipts = v["receipts"].as_array().unwrap();
    let q = receipts.iter().find(|r| r["action"] == "query").unwrap();
    assert_eq!(
        q["actor"],
        serde_json::json!({ "kind": "department", "id": "bank-a", "credential_serial": 1001 }),
        "no display text in fields: {q}"
    );
    assert_eq!(q["outcome"], "granted");
    let denied = receipts.iter().find(|r| r["outcome"] == "denied").unwrap();
    assert_eq!(denied["denial_code"], "replayed", "{denied}");
    let mut tampered = std::fs::read_to_string(&bundle).unwrap();
    let mid = tampered.len() / 2;
    let c = if tampered.as_bytes()[mid] == b'A' { "B" } else { "A" };
    tampered.replace_range(mid..mid + 1, c);
    let tampered_file = js.p("bundle.tampered");
    std::fs::write(&tampered_file, tampered).unwrap();
    js.fail(
        "receipts verify",
        &[
            "receipts",
            "verify",
            "--vkey",
            &vkey,
            "--vrf-key",
            &vrf,
            "--subject",
            SUBJECT,
            "--state",
            &js.fresh("state"),
            &tampered_file,
        ],
        4,
    );

    // Providers and objections.
    let prov = js.p("provider.key");
    js.ok(
        "provider keygen",
        &["provider", "keygen", "--unencrypted", "--out", &prov],
    );
    js.fail(
        "provider keygen",
        &["provider", "keygen", "--unencrypted", "--out", &prov],
        1,
    );
    let pcred = js.p("provider.cred");
    let pc = |out: &str| {
        vec![
            "authority".to_string(),
            "provider-credential".into(),
            "--key".into(),
            auth.clone(),
            "--serial".into(),
            "5001".into(),
            "--provider".into(),
            "boc-guangzhou".into(),
            "--name".into(),
            "BOC Guangzhou".into(),
            "--provider-key".into(),
            format!("{prov}.pub"),
            "--classes".into(),
            "loans,repayment".into(),
            "--audience".into(),
            ORIGIN.into(),
            "--out".into(),
            out.to_string(),
        ]
    };
    js.ok("authority provider-credential", &refs(&pc(&pcred)));
    js.fail("authority provider-credential", &refs(&pc("-")), 2);
    js.ok(
        "provider enroll",
        &["provider", "enroll", "--data", &data, "--credential", &pcred],
    );
    js.fail(
        "provider enroll",
        &["provider", "enroll", "--data", &data, "--credential", &missing],
        1,
    );
    js.ok("provider list", &["provider", "list", "--data", &data]);
    js.fail("provider list", &["provider", "list", "--data", &missing], 1);
    let records = std::fs::read_to_string(root().join("keys-example/records.jsonl")).unwrap();
    let loan_line = records
        .lines()
        .find(|l| l.contains(SUBJECT) && l.contains("\"class\":\"loans\""))
        .unwrap();
    let mut loan: Value = serde_json::from_str(loan_line).unwrap();
    let record_id = loan["record_id"].as_str().unwrap().to_string();
    let old = loan["version"].as_u64().unwrap_or(1);
    loan["version"] = serde_json::json!(old + 1);
    loan["supersedes"] = serde_json::json!(old);
    let batch_in = js.p("batch.jsonl");
    std::fs::write(&batch_in, format!("{loan}\n")).unwrap();
    let batch = js.p("batch");
    let sb = |out: &str| {
        vec![
            "provider".to_string(),
            "sign-batch".into(),
            "--key".into(),
            prov.clone(),
            "--provider".into(),
            "boc-guangzhou".into(),
            "--audience".into(),
            ORIGIN.into(),
            "--records".into(),
            batch_in.clone(),
            "--out".into(),
            out.to_string(),
        ]
    };
    js.ok("provider sign-batch", &refs(&sb(&batch)));
    js.fail("provider sign-batch", &refs(&sb("-")), 2);
    js.ok("ingest", &["ingest", "--data", &data, "--batch", &batch]);
    let objection = js.p("objection");
    let obj = |out: &str| {
        vec![
            "subject".to_string(),
            "object".into(),
            "--key".into(),
            ssk.clone(),
            "--subject".into(),
            SUBJECT.into(),
            "--class".into(),
            "loans".into(),
            "--record".into(),
            record_id.clone(),
            "--reason".into(),
            "not my loan".into(),
            "--audience".into(),
            ORIGIN.into(),
            "--out".into(),
            out.to_string(),
        ]
    };
    let mut filed = obj(&objection);
    filed.extend(["--data".to_string(), data.clone()]);
    let o = js.ok("subject object", &refs(&filed));
    assert_eq!(o["filed"]["provider"], "boc-guangzhou", "{o}");
    js.fail("subject object", &refs(&obj("-")), 2);
    js.ok("audit objections", &["audit", "objections", "--data", &data]);
    js.fail("audit objections", &["audit", "objections", "--data", &missing], 1);
    let oid = o["objection_id"].as_str().unwrap().to_string();
    let ans = |out: &str| {
        vec![
            "provider".to_string(),
            "answer-objection".into(),
            "--key".into(),
            prov.clone(),
            "--objection".into(),
            oid.clone(),
            "--reason".into(),
            "checked: the loan is the subject's".into(),
            "--audience".into(),
            ORIGIN.into(),
            "--out".into(),
            out.to_string(),
        ]
    };
    let mut answered = ans(&js.p("objection-answer"));
    answered.extend(["--data".to_string(), data.clone()]);
    let a = js.ok("provider answer-objection", &refs(&answered));
    assert_eq!(a["answered"]["provider"], "boc-guangzhou", "{a}");
    assert_eq!(a["outcome"], "upheld", "{a}");
    js.fail("provider answer-objection", &refs(&ans("-")), 2);

    // Correction notices (the provider's new loan version above corrected what bank-a saw).
    let n = js.ok(
        "dept notices",
        &["dept", "notices", "--data", &data, "--department", "bank-a"],
    );
    let notices = js.p("notices");
    let lines: Vec<&str> = n["notices"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    std::fs::write(&notices, lines.join("\n") + "\n").unwrap();
    js.fail(
        "dept notices",
        &["dept", "notices", "--data", &data, "--department", "bad id!"],
        2,
    );
    js.ok(
        "dept open-notice",
        &["dept", "open-notice", "--key", &format!("{bank}/sealing.key"), &notices],
    );
    let garbage = js.p("notices.garbage");
    std::fs::write(&garbage, "not a notice\n").unwrap();
    js.fail(
        "dept open-notice",
        &["dept", "open-notice", "--key", &format!("{bank}/sealing.key"), &garbage],
        4,
    );

    // Revocations.
    let rl = js.p("revocations");
    let r = js.ok(
        "authority revoke",
        &[
            "authority",
            "revoke",
            "--key",
            &auth,
            "--serial",
            "999",
            "--audience",
            ORIGIN,
            "--out",
            &rl,
        ],
    );
    assert_eq!(r["version"], 1);
    js.fail(
        "authority revoke",
        &[
            "authority",
            "revoke",
            "--key",
            &auth,
            "--serial",
            "999",
            "--audience",
            ORIGIN,
            "--out",
            "-",
        ],
        2,
    );
    js.ok("authority install", &["authority", "install", "--data", &data, &rl]);
    js.fail(
        "authority install",
        &["authority", "install", "--data", &data, &missing],
        1,
    );

    // Incidents: a canary, a trace, alerts, the report.
    js.ok(
        "canary plant",
        &[
            "canary",
            "plant",
            "--data",
            &data,
            "--key",
            &officer_keys[0],
            "--count",
            "1",
        ],
    );
    js.fail(
        "canary plant",
        &["canary", "plant", "--data", &data, "--key", &missing, "--count", "1"],
        1,
    );
    js.ok("trace", &["trace", "--data", &data, "--key", &resp, &leak]);
    js.fail("trace", &["trace", "--data", &data, "--key", &resp, &missing], 1);
    js.ok("audit alerts", &["audit", "alerts", "--data", &data, "--key", &resp]);
    js.fail(
        "audit alerts",
        &["audit", "alerts", "--data", &data, "--key", &missing],
        1,
    );
    js.ok(
        "audit report",
        &[
            "audit",
            "report",
            "--data",
            &data,
            "--key",
            &resp,
            "--from",
            "2020-01-01",
            "--to",
            "2099-12-31",
        ],
    );
    js.fail(
        "audit report",
        &[
            "audit",
            "report",
            "--data",
            &data,
            "--key",
            &resp,
            "--from",
            "yesterday",
            "--to",
            "2099-12-31",
        ],
        2,
    );

    // Keys.
    js.ok("keys status", &["keys", "status", "--data", &data]);
    js.fail("keys status", &["keys", "status", "--data", &missing], 1);
    js.ok("keys rotate", &["keys", "rotate", "--data", &data, "--class", "loans"]);
    js.fail(
        "keys rotate",
        &["keys", "rotate", "--data", &data, "--class", "no-such-class"],
        1,
    );
    js.ok("keys rewrap", &["keys", "rewrap", "--data", &data]);
    js.fail("keys rewrap", &["keys", "rewrap", "--data", &missing], 1);
    let args = [
        "keys",
        "retire",
        "--data",
        &data,
        "--class",
        "loans",
        "--kek-version",
        "1",
    ];
    let e = js.fail("keys retire", &args, 3);
    let app = approvals(&Js::operation_of(&e));
    js.ok("keys retire", &refs(&with(&args, &app)));
    let args = [
        "keys",
        "rekey",
        "--data",
        &data,
        "--subject",
        SUBJECT,
        "--class",
        "loans",
    ];
    let e = js.fail("keys rekey", &args, 3);
    let app = approvals(&Js::operation_of(&e));
    js.ok("keys rekey", &refs(&with(&args, &app)));
    let args = ["keys", "log-rotate", "--data", &data];
    let e = js.fail("keys log-rotate", &args, 3);
    let app = approvals(&Js::operation_of(&e));
    js.ok("keys log-rotate", &refs(&with(&args, &app)));
    js.ok("log history", &["log", "history", "--data", &data]);
    js.fail("log history", &["log", "history", "--data", &missing], 1);
    js.ok("log verify", &["log", "verify", "--data", &data]);
    // From a copy of the published tiles: its own document.
    let vt = js.ok(
        "log verify",
        &[
            "log",
            "verify",
            "--tiles",
            &tiles_for_verify(&js, &data),
            "--vkey",
            &vkey,
            "--state",
            &js.p("tiles.state"),
        ],
    );
    assert_eq!(vt["schema"], "credseal/log-verify-tiles/v1", "{vt}");
    js.fail("log verify", &["log", "verify", "--data", &missing], 1);
    let cp = js.ok("log checkpoint", &["log", "checkpoint", "--data", &data]);
    assert_eq!(cp["origin"], ORIGIN);
    js.fail("log checkpoint", &["log", "checkpoint", "--data", &missing], 1);
    let tiles = js.p("tiles");
    js.ok("log export-tiles", &["log", "export-tiles", "--data", &data, &tiles]);
    js.fail(
        "log export-tiles",
        &["log", "export-tiles", "--data", &missing, &js.fresh("tiles")],
        1,
    );
    // The log key rotated above: the monitor pins the first key and walks the handover.
    js.ok(
        "log monitor",
        &[
            "log",
            "monitor",
            "--tiles",
            &tiles,
            "--vkey",
            &vkey,
            "--state",
            &js.p("monitor.state"),
            "--rounds",
            "1",
        ],
    );
    js.fail(
        "log monitor",
        &[
            "log",
            "monitor",
            "--tiles",
            &missing,
            "--vkey",
            &vkey,
            "--state",
            &js.fresh("monitor.state"),
        ],
        4,
    );

    // Shreds: a credit-repair order, and the expired sweep.
    let order = js.p("shred-order");
    let so = |out: &str| {
        vec![
            "authority".to_string(),
            "order-shred".into(),
            "--key".into(),
            auth.clone(),
            "--subject".into(),
            SUBJECT.into(),
            "--class".into(),
            "loans".into(),
            "--record".into(),
            record_id.clone(),
            "--ref".into(),
            "REPAIR-1".into(),
            "--audience".into(),
            ORIGIN.into(),
            "--out".into(),
            out.to_string(),
        ]
    };
    js.ok("authority order-shred", &refs(&so(&order)));
    js.fail("authority order-shred", &refs(&so("-")), 2);
    let args = ["shred", "--data", &data, "--order", &order];
    let e = js.fail("shred", &args, 3);
    assert_eq!(e["code"], serde_json::Value::Null, "{e}");
    let app = approvals(&Js::operation_of(&e));
    js.ok("shred", &refs(&with(&args, &app)));
    // The standing retention policy: installed by two officers, a sweep under it without
    // approvals (its `shred` document names the policy), shown, withdrawn.
    let args = ["keys", "retention-policy", "--data", &data, "--every", "1d"];
    let e = js.fail("keys retention-policy", &args, 3);
    let app = approvals(&Js::operation_of(&e));
    let v = js.ok("keys retention-policy", &refs(&with(&args, &app)));
    assert_eq!(v["policy"]["operation"], "retention sweep every 1d", "{v}");
    let v = js.ok("shred", &["shred", "--data", &data, "--expired"]);
    assert_eq!(v["policy"]["every_secs"], 86_400, "{v}");
    assert!(v["receipt"].is_u64(), "{v}");
    js.ok(
        "keys retention-policy",
        &["keys", "retention-policy", "--data", &data, "--show"],
    );
    let args = ["keys", "retention-policy", "--data", &data, "--off"];
    let e = js.fail("keys retention-policy", &args, 3);
    let app = approvals(&Js::operation_of(&e));
    let v = js.ok("keys retention-policy", &refs(&with(&args, &app)));
    assert_eq!(v["change"], "withdrawn", "{v}");
    js.fail("keys retention-policy", &args, 1);

    // Witnesses: a witness served on loopback, added, asked to cosign, removed.
    let wkey = js.p("witness.key");
    js.ok(
        "witness keygen",
        &["witness", "keygen", "--name", "w1.credseal.invalid", "--out", &wkey],
    );
    js.fail(
        "witness keygen",
        &["witness", "keygen", "--name", "w1.credseal.invalid", "--out", &wkey],
        1,
    );
    let current_vkey = js.p("log-current.vkey");
    std::fs::write(&current_vkey, run(&["log", "key", "--current", "--data", &data]).stdout).unwrap();
    let witness = Server::start(&[
        "witness",
        "serve",
        "--key",
        &wkey,
        "--state",
        &js.p("witness-state"),
        "--log-vkey",
        &current_vkey,
        "--listen",
        "127.0.0.1:0",
        "--insecure-loopback",
    ]);
    js.check("witness serve", &witness.doc);
    js.ok.borrow_mut().insert("witness serve".into());
    js.fail(
        "witness serve",
        &[
            "witness",
            "serve",
            "--key",
            &missing,
            "--state",
            &js.fresh("ws"),
            "--log-vkey",
            &current_vkey,
            "--listen",
            "127.0.0.1:0",
            "--insecure-loopback",
        ],
        1,
    );
    let e = js.fail("log cosign", &["log", "cosign", "--data", &data], 2);
    assert!(e["message"].as_str().unwrap().contains("no witness"), "{e}");
    js.ok(
        "log witnesses add",
        &[
            "log",
            "witnesses",
            "add",
            "--data",
            &data,
            "--url",
            &witness.url(),
            "--vkey",
            &format!("{wkey}.pub"),
        ],
    );
    js.fail(
        "log witnesses add",
        &[
            "log",
            "witnesses",
            "add",
            "--data",
            &data,
            "--url",
            &witness.url(),
            "--vkey",
            &missing,
        ],
        1,
    );
    js.ok("log witnesses list", &["log", "witnesses", "list", "--data", &data]);
    js.fail(
        "log witnesses list",
        &["log", "witnesses", "list", "--data", &missing],
        1,
    );
    js.ok("log cosign", &["log", "cosign", "--data", &data]);
    js.ok(
        "log witnesses remove",
        &[
            "log",
            "witnesses",
            "remove",
            "--data",
            &data,
            "--name",
            "w1.credseal.invalid",
        ],
    );
    js.fail(
        "log witnesses remove",
        &[
            "log",
            "witnesses",
            "remove",
            "--data",
            &data,
            "--name",
            "w1.credseal.invalid",
        ],
        1,
    );
    witness.stop();

    // The service: `serve`, a bundle fetched from it.
    let server = Server::start(&[
        "serve",
        "--data",
        &data,
        "--listen",
        "127.0.0.1:0",
        "--insecure-loopback",
        "--quiet",
    ]);
    js.check("serve", &server.doc);
    js.ok.borrow_mut().insert("serve".into());
    js.ok(
        "receipts fetch",
        &[
            "receipts",
            "fetch",
            "--server",
            &server.url(),
            "--key",
            &ssk,
            "--subject",
            SUBJECT,
            "--audience",
            ORIGIN,
            "--state",
            &js.p("fetch.state"),
            "--vkey",
            &vkey,
            "--vrf-key",
            &vrf,
        ],
    );
    js.fail(
        "receipts fetch",
        &[
            "receipts",
            "fetch",
            "--server",
            &server.url(),
            "--key",
            &missing,
            "--subject",
            SUBJECT,
            "--audience",
            ORIGIN,
            "--state",
            &js.fresh("fetch.state"),
            "--vkey",
            &vkey,
            "--vrf-key",
            &vrf,
        ],
        1,
    );
    server.stop();
    js.fail("serve", &["serve", "--data", &data, "--timeout", "0"], 2);

    // A backup of the platform (nothing else holds it now), restored elsewhere.
    let backup = js.p("backup");
    let b = js.ok("backup", &["backup", "--data", &data, "--out", &backup]);
    assert!(b["tree_size"].as_u64().is_some_and(|n| n > 0), "{b}");
    js.fail("backup", &["backup", "--data", &data, "--out", &backup], 2);
    let restored = js.p("restored");
    let r = js.ok(
        "restore",
        &["restore", "--backup", &backup, "--data", &restored, "--state", &state],
    );
    assert_eq!(r["tree_size"], b["tree_size"], "{r}");
    js.fail(
        "restore",
        &["restore", "--backup", &missing, "--data", &js.fresh("restored")],
        4,
    );

    // The keystore passphrase, changed last (the scenario's environment holds the old one).
    let newpass = js.p("new-passphrase");
    std::fs::write(&newpass, "json test passphrase, the second one\n").unwrap();
    js.fail(
        "keys passphrase",
        &[
            "keys",
            "passphrase",
            "--data",
            &missing,
            "--new-passphrase-file",
            &newpass,
        ],
        1,
    );
    js.ok(
        "keys passphrase",
        &["keys", "passphrase", "--data", &data, "--new-passphrase-file", &newpass],
    );

    // A platform in two officers' custody: unseal, share-open, reshare.
    let custody = js.p("custody");
    let holders: Vec<String> = ["h1", "h2"].iter().map(|h| js.p(h)).collect();
    for (i, h) in holders.iter().enumerate() {
        let doc = js.ok(
            "officer unseal-keygen",
            &["officer", "unseal-keygen", "--unencrypted", "--out", h],
        );
        assert_eq!(doc["role"], "unseal-holder");
        if i == 0 {
            js.fail(
                "officer unseal-keygen",
                &["officer", "unseal-keygen", "--unencrypted", "--out", h],
                1,
            );
        }
    }
    let spec = |i: usize| format!("h{}={}.pub", i + 1, holders[i]);
    let o = bin()
        .env_remove("CREDSEAL_PASSPHRASE")
        .args([
            "init",
            "--data",
            &custody,
            "--catalog",
            CATALOG,
            "--origin",
            ORIGIN,
            "--kdf-mib",
            "8",
            "--kdf-passes",
            "1",
            "--unseal-holder",
            &spec(0),
            "--unseal-holder",
            &spec(1),
            "--unseal-threshold",
            "2",
        ])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let unseal = format!("{}:{}", holders[0], holders[1]);
    let custody_run = |cmd: &str, args: &[&str], exit: i32| {
        let mut a = args.to_vec();
        a.push("--json");
        let o = bin()
            .env_remove("CREDSEAL_PASSPHRASE")
            .env("CREDSEAL_UNSEAL", &unseal)
            .args(&a)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert_eq!(code(&o), exit, "`credseal {}`: {}", a.join(" "), stderr(&o));
        let doc = Js::document(cmd, &o);
        if exit == 0 {
            js.check(cmd, &doc);
            js.ok.borrow_mut().insert(cmd.to_string());
        } else {
            js.check_as(cmd, "error", &doc);
            js.failed.borrow_mut().insert(cmd.to_string());
        }
        doc
    };
    custody_run("unseal", &["unseal", "--data", &custody], 0);
    js.fail("unseal", &["unseal", "--data", &data], 2);
    custody_run(
        "keys share-open",
        &[
            "keys",
            "share-open",
            "--data",
            &custody,
            "--key",
            &holders[0],
            "--out",
            &js.p("share"),
        ],
        0,
    );
    custody_run(
        "keys share-open",
        &[
            "keys",
            "share-open",
            "--data",
            &custody,
            "--key",
            &holders[0],
            "--out",
            "-",
        ],
        2,
    );
    custody_run(
        "keys reshare",
        &[
            "keys",
            "reshare",
            "--data",
            &custody,
            "--holder",
            &spec(0),
            "--holder",
            &spec(1),
            "--threshold",
            "2",
        ],
        0,
    );
    custody_run(
        "keys reshare",
        &[
            "keys",
            "reshare",
            "--data",
            &custody,
            "--holder",
            &spec(0),
            "--threshold",
            "1",
        ],
        2,
    );

    // About the binary.
    let v = js.ok("version", &["version"]);
    assert!(v["formats"]["receipt"].is_u64(), "{v}");
    js.fail("version", &["version", "--no-such-flag"], 2);
    let c = js.ok("completions", &["completions", "bash"]);
    assert!(
        c["script"].as_str().unwrap().contains("credseal"),
        "the script is there"
    );
    js.fail("completions", &["completions", "no-such-shell"], 2);
    let man = js.p("man");
    let m = js.ok("man", &["man", "--out-dir", &man]);
    assert!(
        m["pages"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p == "credseal-keys-rotate.1"),
        "{m}"
    );
    js.fail("man", &["man", "--out-dir", &man], 1);

    // The walkthrough, and the benchmarks at their smallest.
    let demo = js.ok("demo", &["demo"]);
    assert!(demo["steps"].as_array().is_some_and(|s| s.len() > 10), "{demo}");
    let nonempty = js.p("nonempty");
    std::fs::create_dir(&nonempty).unwrap();
    std::fs::write(Path::new(&nonempty).join("x"), "x").unwrap();
    js.fail("demo", &["demo", "--data", &nonempty], 1);
    for (cmd, args) in [
        ("bench ingest", vec!["bench", "ingest", "--subjects", "50"]),
        (
            "bench query",
            vec![
                "bench",
                "query",
                "--subjects",
                "50",
                "--queries",
                "40",
                "--threads",
                "1",
            ],
        ),
        ("bench rewrap", vec!["bench", "rewrap", "--subjects", "50"]),
        (
            "bench shred",
            vec!["bench", "shred", "--subjects", "50", "--batch", "5"],
        ),
        (
            "bench trace",
            vec!["bench", "trace", "--fingerprints", "200", "--leak-items", "20"],
        ),
        (
            "bench verify",
            vec!["bench", "verify", "--receipts", "20", "--noise", "1"],
        ),
    ] {
        js.ok(cmd, &args);
        js.fail(cmd, &[args[0], args[1], "--no-such-flag"], 2);
    }
    for (cmd, fail_args) in [
        ("bench serve", vec!["bench", "serve", "--subjects", "0"]),
        ("bench tiles", vec!["bench", "tiles", "--receipts", "0"]),
    ] {
        js.fail(cmd, &fail_args, 2);
    }
    if wrk_available() {
        js.ok("bench serve", &["bench", "serve", "--quick"]);
        js.ok(
            "bench tiles",
            &["bench", "tiles", "--receipts", "256", "--duration", "1"],
        );
    } else {
        // CI installs wrk before the tests (.ci/run), so there this branch is never taken.
        assert!(
            std::env::var_os("CI").is_none(),
            "wrk is not installed: run .ci/install-load-tool"
        );
        eprintln!("wrk is not installed (.ci/install-load-tool): bench serve and bench tiles not run with --json");
        js.ok
            .borrow_mut()
            .extend(["bench serve".to_string(), "bench tiles".to_string()]);
    }

    // Every leaf command ran both ways, and every document matched.
    let all = leaf_commands();
    assert!(all.len() > 70, "{all:?}");
    let ok = js.ok.borrow();
    let failed = js.failed.borrow();
    let mut problems = js.problems.borrow().clone();
    for cmd in &all {
        if !ok.contains(cmd) {
            problems.push(format!("`credseal {cmd}` was not run with --json where it succeeds"));
        }
        if !failed.contains(cmd) {
            problems.push(format!("`credseal {cmd}` was not run with --json where it fails"));
        }
        if !js.contract.documents.contains_key(cmd) {
            problems.push(format!("`credseal {cmd}` is not in the table of docs/json.md"));
        }
    }
    for cmd in js.contract.documents.keys() {
        if !all.contains(cmd) {
            problems.push(format!("docs/json.md names `credseal {cmd}`, which is not a command"));
        }
    }
    assert!(
        problems.is_empty(),
        "{} problem(s):\n{}",
        problems.len(),
        problems.join("\n")
    );
}

/// The log of `data` exported as tiles into a new directory; its path.
fn tiles_for_verify(js: &Js, data: &str) -> String {
    let dir = js.fresh("verify-tiles");
    let o = run(&["log", "export-tiles", "--data", data, &dir]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    dir
}

/// wrk, which `bench serve` and `bench tiles` drive, is on the PATH.
fn wrk_available() -> bool {
    Command::new("wrk")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok()
}
