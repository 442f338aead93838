//! Leak tracing through the library: fingerprints taken by the real query path, a
//! simulated platform of 50 departments and 10,000 disclosures, version narrowing, noisy
//! leak files, staff requests, and fingerprint storage edited behind the platform's back.

mod common;

use std::collections::{BTreeMap, BTreeSet};

use common::*;
use credseal_auth::{Credential, SigningKey, StaffRequest, Token, sign};
use credseal_core::{FieldValue, Record};
use credseal_crypto::SealingKey;
use credseal_engine::{EngineError, ErrorClass, NoProgress, StaffRole, TraceReport};
use credseal_store::{Batch, Tree};

const NOW: u64 = 1_790_000_000;

/// A tiny deterministic generator (splitmix64) so failures reproduce.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

struct Dept {
    serial: u64,
    key: SigningKey,
    sealing: SealingKey,
    credential: String,
}

struct World {
    p: TestPlatform,
    authority: SigningKey,
    responder: SigningKey,
    purpose: String,
    classes: Vec<String>,
}

fn set<I: IntoIterator<Item = S>, S: Into<String>>(items: I) -> BTreeSet<String> {
    items.into_iter().map(Into::into).collect()
}

/// The purpose and the consent-free classes that allow it (as `bench query` picks them).
fn purpose_and_classes() -> (String, Vec<String>) {
    let c = catalog();
    let mut best = (String::new(), Vec::new());
    for p in c.purposes.keys() {
        let cls: Vec<String> = c
            .classes
            .values()
            .filter(|k| !k.consent_required && k.purposes.contains(p))
            .map(|k| k.id.clone())
            .collect();
        if cls.len() > best.1.len() {
            best = (p.clone(), cls);
        }
    }
    best
}

fn world_with(records: &[u8]) -> World {
    let d = tempfile::tempdir().unwrap();
    let p = platform();
    p.ingest_file(&write(d.path(), "r.jsonl", records), &NoProgress)
        .unwrap();
    let authority = SigningKey::generate();
    p.set_authority_key(&common::op(&p), authority.public().as_bytes(), false)
        .unwrap();
    let responder = SigningKey::generate();
    common::enroll(&p, StaffRole::Responder, "resp-1", responder.public().as_bytes());
    let (purpose, classes) = purpose_and_classes();
    World {
        p,
        authority,
        responder,
        purpose,
        classes,
    }
}

impl World {
    fn dept(&self, serial: u64, id: &str, classes: &[String], purpose: &str) -> Dept {
        let key = SigningKey::generate();
        let sealing = SealingKey::generate();
        let credential = sign(
            &Credential {
                serial,
                department_id: id.into(),
                department_name: id.into(),
                signing_key: key.public(),
                sealing_key: sealing.public().to_bytes(),
                classes: set(classes.iter().cloned()),
                purposes: set([purpose]),
                not_before: NOW - 86_400,
                not_after: NOW + 365 * 86_400,
                audience: self.p.origin().into(),
            },
            &self.authority,
        )
        .to_text();
        Dept {
            serial,
            key,
            sealing,
            credential,
        }
    }

    fn token(&self, d: &Dept, subject: &str, classes: &[String], purpose: &str, at: u64) -> String {
        sign(
            &Token {
                query_id: credseal_crypto::random_array(),
                credential_serial: d.serial,
                subject: subject.into(),
                classes: set(classes.iter().cloned()),
                purpose: purpose.into(),
                legal_basis: "test".into(),
                issued_at: at,
                expires_at: at + 300,
                audience: self.p.origin().into(),
                consent: None,
            },
            &d.key,
        )
        .to_text()
    }

    /// Runs a granted query and returns the opened records and the disclosure id.
    fn disclose(&self, d: &Dept, subject: &str, classes: &[String], purpose: &str, at: u64) -> (Vec<Record>, u64) {
        let a = self
            .p
            .query(&d.credential, &self.token(d, subject, classes, purpose, at), at)
            .unwrap();
        let body = a.open(&d.sealing).unwrap();
        let index = credseal_log::UnverifiedReceipt::parse(&a.receipt)
            .unwrap()
            .peek_unverified()
            .unwrap()
            .index;
        (body.records, index)
    }

    fn request(&self, key: &SigningKey, role: &str, leak: &[u8], at: u64) -> String {
        sign(
            &StaffRequest {
                request_id: credseal_crypto::random_array(),
                role: role.into(),
                staff_key: key.public(),
                action: "trace".into(),
                input_digest: credseal_crypto::sha256(leak),
                issued_at: at,
                expires_at: at + 300,
                audience: self.p.origin().into(),
            },
            key,
        )
        .to_text()
    }

    fn trace(&self, leak: &[u8]) -> TraceReport {
        let r = self.request(&self.responder, "responder", leak, NOW + 10_000);
        self.p.trace(&r, leak, NOW + 10_000).unwrap()
    }
}

/// A value as a leak would spell it: reformatted by type.
fn reformat(v: &FieldValue, rng: &mut Rng) -> String {
    match v {
        FieldValue::Amount(a) => {
            // 1,234,567.5 style: thousands separators and no trailing zero.
            let s = a.to_string();
            let (int, frac) = s.split_once('.').unwrap();
            let (neg, int) = int.strip_prefix('-').map_or(("", int), |r| ("-", r));
            let mut grouped = String::new();
            for (i, c) in int.chars().enumerate() {
                if i > 0 && (int.len() - i) % 3 == 0 {
                    grouped.push(',');
                }
                grouped.push(c);
            }
            let frac = frac.trim_end_matches('0');
            if frac.is_empty() {
                format!("{neg}{grouped}")
            } else {
                format!("{neg}{grouped}.{frac}")
            }
        }
        FieldValue::Date(d) => {
            let (y, m, dd) = d.ymd();
            match rng.below(3) {
                0 => format!("{y}/{m}/{dd}"),
                1 => format!("{y}{m:02}{dd:02}"),
                _ => format!("{y}年{m}月{dd}日"),
            }
        }
        FieldValue::Text(t) => format!("  {}  ", t.to_uppercase().replace(' ', "   ")),
        other => other.to_string(),
    }
}

/// JSON Lines of a random `percent`% of the (subject, field, value) items of `answers`,
/// reformatted, half with bare field names.
fn leak_of(answers: &[Vec<Record>], percent: u64, rng: &mut Rng) -> (Vec<u8>, usize) {
    let mut out = Vec::new();
    let mut n = 0;
    for recs in answers {
        for r in recs {
            for (f, v) in &r.fields {
                if rng.below(100) >= percent {
                    continue;
                }
                let name = if rng.below(2) == 0 {
                    f.clone()
                } else {
                    format!("{}.{f}", r.class)
                };
                let line = serde_json::json!({ "subject": r.subject.as_str(), name: reformat(v, rng) });
                out.extend_from_slice(line.to_string().as_bytes());
                out.push(b'\n');
                n += 1;
            }
        }
    }
    (out, n)
}

fn env_full() -> bool {
    std::env::var("CREDSEAL_FULL").is_ok_and(|v| v == "1")
}

/// Done-when: ≥ 50 departments and ≥ 10,000 disclosures through the real query path; a leak
/// of a random 30% of one department's answers, reformatted, ranks it first; a leak mixing
/// two departments' answers ranks both above every other.
#[test]
fn fifty_departments_ten_thousand_disclosures_leak_ranks_its_department_first() {
    let (subjects, depts_n, queries) = if env_full() {
        (2000, 60, 20_000)
    } else {
        (1000, 50, 10_000)
    };
    let mut synthetic = Vec::new();
    credseal_testkit::synthetic::write_synthetic(&catalog(), subjects, &mut synthetic).unwrap();
    let w = world_with(&synthetic);
    let depts: Vec<Dept> = (0..depts_n)
        .map(|i| w.dept(100 + i, &format!("dept-{i:02}"), &w.classes, &w.purpose))
        .collect();
    let mut rng = Rng(0x0074_7261_6365);
    // Tokens first, then the queries on two threads.
    let jobs: Vec<(usize, String, String)> = (0..queries)
        .map(|_| {
            let d = rng.below(depts_n) as usize;
            let s = credseal_testkit::synthetic::synthetic_subject(rng.below(subjects)).to_string();
            let k = 1 + rng.below(3) as usize;
            let mut cls = w.classes.clone();
            let len = cls.len();
            for i in 0..len {
                cls.swap(i, i + rng.below((len - i) as u64) as usize);
            }
            cls.truncate(k);
            let tok = w.token(&depts[d], &s, &cls, &w.purpose, NOW);
            (d, s, tok)
        })
        .collect();
    let t = std::time::Instant::now();
    let answers: Vec<(usize, credseal_engine::SealedAnswer)> = std::thread::scope(|s| {
        let hs: Vec<_> = jobs
            .chunks(jobs.len() / 2 + 1)
            .map(|chunk| {
                let (p, depts) = (&w.p, &depts);
                s.spawn(move || {
                    chunk
                        .iter()
                        .map(|(d, _, tok)| (*d, p.query(&depts[*d].credential, tok, NOW).unwrap()))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        hs.into_iter().flat_map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(answers.len() as u64, queries);
    eprintln!("{queries} disclosures in {:.1} s", t.elapsed().as_secs_f64());
    let opened = |d: usize| -> Vec<Vec<Record>> {
        answers
            .iter()
            .filter(|(ad, _)| *ad == d)
            .map(|(_, a)| a.open(&depts[d].sealing).unwrap().records)
            .collect()
    };
    // One department's answers.
    let (leak, n) = leak_of(&opened(7), 30, &mut rng);
    assert!(n > 500, "{n} leaked items");
    let r = w.trace(&leak);
    assert_eq!(r.departments[0].department, "dept-07", "{:?}", &r.departments[..3]);
    assert_eq!(
        r.departments[0].items, r.items,
        "every leaked item is explained by dept-07"
    );
    assert_eq!(r.matched_items, r.items);
    assert!(r.issues.is_empty(), "{:?}", r.issues);
    assert!(
        r.departments[1].items * 2 < r.departments[0].items,
        "{:?}",
        &r.departments[..3]
    );
    assert!(r.disclosures.iter().take(5).all(|d| d.department == "dept-07"));
    // Two departments' answers mixed.
    let (mut leak, _) = leak_of(&opened(12), 30, &mut rng);
    let (more, _) = leak_of(&opened(31), 30, &mut rng);
    leak.extend_from_slice(&more);
    let r = w.trace(&leak);
    let top: BTreeSet<&str> = r.departments[..2].iter().map(|d| d.department.as_str()).collect();
    assert_eq!(top, BTreeSet::from(["dept-12", "dept-31"]), "{:?}", &r.departments[..4]);
    assert!(r.departments[2].items < r.departments[1].items);
    // The fingerprint storage checks out against the log.
    assert!(w.p.verify_fingerprints().unwrap() > queries);
}

fn records_line(v: serde_json::Value) -> String {
    format!("{v}\n")
}

/// Done-when: a value that changed between two disclosures narrows a trace to the right one.
#[test]
fn changed_value_narrows_the_trace_to_the_disclosure_that_released_it() {
    let w = world_with(RECORDS.as_bytes());
    // An identity record (a consent-free class) that has no correction in records.jsonl.
    let ident: serde_json::Value = RECORDS
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .find(|v| {
            v["class"] == "identity"
                && v["version"] == 1
                && !RECORDS
                    .lines()
                    .any(|l| l.contains(v["record_id"].as_str().unwrap()) && l.contains("\"version\":2"))
        })
        .unwrap();
    let subject = ident["subject"].as_str().unwrap().to_string();
    let classes = vec!["identity".to_string()];
    let a = w.dept(1, "bank-early", &classes, "loan-approval");
    let b = w.dept(2, "bank-late", &classes, "loan-approval");
    let (before, ia) = w.disclose(&a, &subject, &classes, "loan-approval", NOW);
    // A correction: the registered address changes (version 2 supersedes 1).
    let mut v2 = ident.clone();
    v2["version"] = 2.into();
    v2["supersedes"] = 1.into();
    v2["fields"]["registered_address"] = "湖北省武汉市洪山区珞喻路1037号".into();
    let d = tempfile::tempdir().unwrap();
    w.p.ingest_file(&write(d.path(), "c.jsonl", records_line(v2).as_bytes()), &NoProgress)
        .unwrap();
    let (after, ib) = w.disclose(&b, &subject, &classes, "loan-approval", NOW + 100);
    assert_eq!(
        after.len(),
        before.len(),
        "the later answer holds the current version only"
    );
    let leak_new = format!(
        "subject,registered_address,name\n{subject},\" 湖北省武汉市洪山区珞喻路1037号 \",{}\n",
        ident["fields"]["name"].as_str().unwrap()
    );
    let r = w.trace(leak_new.as_bytes());
    assert_eq!(r.items, 2);
    assert_eq!(r.departments[0].department, "bank-late");
    assert_eq!(r.departments[0].items, 2);
    assert_eq!(r.departments[1].department, "bank-early");
    assert_eq!(r.departments[1].items, 1, "only the unchanged name");
    assert_eq!(r.disclosures[0].disclosure, ib);
    assert_eq!(
        r.disclosures[0].fields,
        BTreeMap::from([
            ("identity.name".to_string(), 1),
            ("identity.registered_address".to_string(), 1)
        ])
    );
    // The old address alone: only the earlier one released it (a correction is never
    // followed by a release of the superseded value).
    let old = ident["fields"]["registered_address"].as_str().unwrap();
    let r = w.trace(format!("subject,registered_address\n{subject},{old}\n").as_bytes());
    let got: BTreeSet<u64> = r.disclosures.iter().map(|d| d.disclosure).collect();
    assert_eq!(got, BTreeSet::from([ia]));
    // The new address alone: only the later one.
    let r =
        w.trace(format!("subject,identity.registered_address\n{subject},湖北省武汉市洪山区珞喻路1037号\n").as_bytes());
    let got: Vec<u64> = r.disclosures.iter().map(|d| d.disclosure).collect();
    assert_eq!(got, vec![ib]);
}

/// Bad input: unknown subjects, malformed lines, unknown fields, values in other formats.
#[test]
fn noisy_leak_file_is_traced_and_its_problems_reported_without_values() {
    let w = world_with(RECORDS.as_bytes());
    let ident: serde_json::Value = RECORDS
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .find(|v| v["class"] == "identity")
        .unwrap();
    let subject = ident["subject"].as_str().unwrap();
    let classes = vec!["identity".to_string()];
    let a = w.dept(1, "bank-a", &classes, "loan-approval");
    w.disclose(&a, subject, &classes, "loan-approval", NOW);
    let born = ident["fields"]["born_or_established"].as_str().unwrap();
    let (y, rest) = born.split_once('-').unwrap();
    let (m, d) = rest.split_once('-').unwrap();
    let name = ident["fields"]["name"].as_str().unwrap();
    // Absent but valid subject id.
    let absent = "11010519491231002X";
    let leak = format!(
        concat!(
            "{{\"subject\":\"{s}\",\"born_or_established\":\"{y}年{m}月{d}日\"}}\n",
            "{{\"subject\":\"{s}\",\"name\":\" {name} \"}}\n",
            "{{not json\n",
            "{{\"subject\":\"{a}\",\"name\":\"{name}\"}}\n",
            "{{\"subject\":\"11010519491231002Y\",\"name\":\"{name}\"}}\n",
            "{{\"subject\":\"{s}\",\"shoe_size\":\"42\",\"identity.nickname\":\"x\"}}\n",
            "{{\"subject\":\"{s}\",\"born_or_established\":\"SECRET-NOT-A-DATE\"}}\n",
            "[1,2]\n",
        ),
        s = subject,
        a = absent,
        y = y,
        m = m,
        d = d,
        name = name,
    );
    let r = w.trace(leak.as_bytes());
    assert_eq!(r.format, "jsonl");
    assert_eq!(r.items, 3, "date, name, and the absent subject's name");
    assert_eq!(r.matched_items, 2);
    assert_eq!(r.unmatched_items, 1);
    assert_eq!(r.subjects, 2);
    assert_eq!(r.unmatched_subjects, 1, "the absent subject is unmatched, not an error");
    assert_eq!(r.departments[0].department, "bank-a");
    let lines: Vec<u64> = r.issues.iter().map(|i| i.line).collect();
    assert_eq!(lines, vec![3, 5, 7, 8], "{:?}", r.issues);
    assert_eq!(
        r.unknown_columns,
        vec!["identity.nickname".to_string(), "shoe_size".into()]
    );
    let shown = serde_json::to_string(&r).unwrap();
    assert!(!shown.contains("SECRET-NOT-A-DATE") && !shown.contains(name) && !shown.contains(subject));
    // Nothing readable at all: an error naming the counts, not a value.
    let req = w.request(&w.responder, "responder", b"{not json\n", NOW);
    let e = w.p.trace(&req, b"{not json\n", NOW).unwrap_err();
    assert!(e.to_string().contains("no readable"), "{e}");
}

/// Bad input: a trace by someone not enrolled as a responder is denied (exit 3); a request
/// for another file, a replayed request, an officer's key are denied too.
#[test]
fn trace_by_a_non_responder_is_denied() {
    let w = world_with(RECORDS.as_bytes());
    let leak = b"subject,name\n11010519491231002X,someone\n";
    let stranger = SigningKey::generate();
    let deny = |e: EngineError| {
        assert_eq!(e.class(), ErrorClass::Denied, "{e}");
        e.to_string()
    };
    let e = deny(
        w.p.trace(&w.request(&stranger, "responder", leak, NOW), leak, NOW)
            .unwrap_err(),
    );
    assert!(e.contains("not enrolled"), "{e}");
    let officer = SigningKey::generate();
    common::enroll(&w.p, StaffRole::Officer, "off-1", officer.public().as_bytes());
    deny(
        w.p.trace(&w.request(&officer, "officer", leak, NOW), leak, NOW)
            .unwrap_err(),
    );
    deny(
        w.p.trace(&w.request(&officer, "responder", leak, NOW), leak, NOW)
            .unwrap_err(),
    );
    let other = w.request(&w.responder, "responder", b"another file", NOW);
    assert!(deny(w.p.trace(&other, leak, NOW).unwrap_err()).contains("another input"));
    let ok = w.request(&w.responder, "responder", leak, NOW);
    let before = w.p.log_size().unwrap();
    let r = w.p.trace(&ok, leak, NOW).unwrap();
    assert_eq!(r.receipt, before, "the trace left its receipt");
    assert!(deny(w.p.trace(&ok, leak, NOW).unwrap_err()).contains("used before"));
    let stale = w.request(&w.responder, "responder", leak, NOW);
    deny(w.p.trace(&stale, leak, NOW + 3600).unwrap_err());
    // The trace's own receipt names the responder.
    let leaf =
        w.p.store()
            .get(Tree::LogLeaves, &r.receipt.to_be_bytes())
            .unwrap()
            .unwrap();
    let body = credseal_log::UnverifiedReceipt::parse(&leaf)
        .unwrap()
        .peek_unverified()
        .unwrap();
    assert_eq!(body.action, credseal_log::Action::Trace);
    assert_eq!(body.actor, credseal_log::Actor::Responder { id: "resp-1".into() });
}

/// The ground for editing the fingerprint storage behind the platform's back: bank-a
/// disclosed one subject's identity record twice, bank-b another subject's once; `leak` is
/// the first subject's identity record as a leak would show it.
struct Edited {
    w: World,
    /// bank-a's two disclosures.
    first: u64,
    second: u64,
    /// bank-b's disclosure.
    other: u64,
    leak: String,
}

fn identity_records() -> Vec<serde_json::Value> {
    RECORDS
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|v| v["class"] == "identity")
        .collect()
}

fn two_departments_disclosed() -> Edited {
    let w = world_with(RECORDS.as_bytes());
    let idents = identity_records();
    let ident = &idents[0];
    let subject = ident["subject"].as_str().unwrap();
    let someone_else = idents
        .iter()
        .map(|v| v["subject"].as_str().unwrap())
        .find(|s| *s != subject)
        .unwrap();
    let classes = vec!["identity".to_string()];
    let a = w.dept(1, "bank-a", &classes, "loan-approval");
    let b = w.dept(2, "bank-b", &classes, "loan-approval");
    let (_, first) = w.disclose(&a, subject, &classes, "loan-approval", NOW);
    let (_, second) = w.disclose(&a, subject, &classes, "loan-approval", NOW + 1);
    let (_, other) = w.disclose(&b, someone_else, &classes, "loan-approval", NOW + 2);
    let f = &ident["fields"];
    let leak = format!(
        "{{\"subject\":\"{subject}\",\"name\":\"{}\",\"gender\":\"{}\",\"id_type\":\"{}\",\"born_or_established\":\"{}\",\"registered_address\":\"{}\",\"id_number\":\"{subject}\"}}\n",
        f["name"].as_str().unwrap(),
        f["gender"].as_str().unwrap(),
        f["id_type"].as_str().unwrap(),
        f["born_or_established"].as_str().unwrap(),
        f["registered_address"].as_str().unwrap(),
    );
    let e = Edited {
        w,
        first,
        second,
        other,
        leak,
    };
    // Untouched, the storage checks out and the trace names exactly bank-a's two disclosures.
    let n = e.w.p.verify_fingerprints().unwrap();
    assert!(n >= 3 * 6, "{n} fingerprints");
    assert_eq!(e.traced(), BTreeSet::from([first, second]));
    e
}

fn set_key(index: u64) -> Vec<u8> {
    let mut k = vec![b'd'];
    k.extend_from_slice(&index.to_be_bytes());
    k
}

/// A set's value split: (count, fingerprints, MAC).
fn split_set(v: &[u8]) -> (u32, Vec<[u8; 32]>, [u8; 32]) {
    let count = u32::from_be_bytes(v[..4].try_into().unwrap());
    let fps = v[4..v.len() - 32].chunks(32).map(|c| c.try_into().unwrap()).collect();
    (count, fps, v[v.len() - 32..].try_into().unwrap())
}

fn join_set(count: u32, fps: &[[u8; 32]], mac: &[u8; 32]) -> Vec<u8> {
    let mut v = count.to_be_bytes().to_vec();
    v.extend(fps.iter().flatten());
    v.extend_from_slice(mac);
    v
}

impl Edited {
    fn set(&self, index: u64) -> Vec<u8> {
        self.w
            .p
            .store()
            .get(Tree::Fingerprints, &set_key(index))
            .unwrap()
            .unwrap()
    }

    fn put(&self, index: u64, v: Vec<u8>) {
        let mut b = Batch::new();
        b.put(Tree::Fingerprints, set_key(index), v);
        self.w.p.store().apply(b).unwrap();
    }

    fn delete(&self, index: u64) {
        let mut b = Batch::new();
        b.delete(Tree::Fingerprints, set_key(index));
        self.w.p.store().apply(b).unwrap();
    }

    /// The disclosures a trace of the leak names.
    fn traced(&self) -> BTreeSet<u64> {
        self.w
            .trace(self.leak.as_bytes())
            .disclosures
            .iter()
            .map(|d| d.disclosure)
            .collect()
    }

    /// `credseal check` refuses (exit 4) with `want` in its message.
    fn check_refuses(&self, want: &str) {
        let e = self.w.p.verify_fingerprints().unwrap_err();
        assert_eq!(e.class(), ErrorClass::Verification, "{e}");
        assert!(e.to_string().contains(want), "{e}");
    }

    /// A trace of the leak refuses (exit 4) instead of naming a disclosure.
    fn trace_refuses(&self) {
        let leak = self.leak.as_bytes();
        let e = self
            .w
            .p
            .trace(&self.w.request(&self.w.responder, "responder", leak, NOW), leak, NOW)
            .unwrap_err();
        assert_eq!(e.class(), ErrorClass::Verification, "{e}");
        assert!(e.to_string().contains("run `credseal check`"), "{e}");
    }

    /// Puts `original` back at `index`: the check passes again, so the edit was what it found.
    fn restore(&self, index: u64, original: Vec<u8>) {
        self.put(index, original);
        self.w.p.verify_fingerprints().unwrap();
    }
}

/// Bad input: one fingerprint of a stored set changed (a bit flipped) is found by
/// `credseal check` and stops a trace.
#[test]
fn fingerprint_set_fingerprint_bit_flipped() {
    let e = two_departments_disclosed();
    let original = e.set(e.first);
    let mut v = original.clone();
    v[4 + 32 + 7] ^= 0x01;
    e.put(e.first, v);
    e.check_refuses(&format!(
        "fingerprint set of disclosure {}: fails authentication",
        e.first
    ));
    e.trace_refuses();
    e.restore(e.first, original);
}

/// Bad input: a fingerprint removed from a set, with the count left (the length no longer
/// matches) or lowered to match (the MAC fails).
#[test]
fn fingerprint_set_fingerprint_removed() {
    let e = two_departments_disclosed();
    let original = e.set(e.first);
    let (count, mut fps, mac) = split_set(&original);
    assert_eq!(count as usize, fps.len());
    fps.remove(1);
    e.put(e.first, join_set(count, &fps, &mac));
    e.check_refuses("is malformed: its length does not match its count");
    e.trace_refuses();
    e.put(e.first, join_set(count - 1, &fps, &mac));
    e.check_refuses("fails authentication");
    e.trace_refuses();
    e.restore(e.first, original);
}

/// Bad input: one of bank-a's fingerprints added to bank-b's set (count raised, order kept)
/// to frame bank-b for bank-a's leak.
#[test]
fn fingerprint_set_fingerprint_added_to_frame_another_department() {
    let e = two_departments_disclosed();
    let original = e.set(e.other);
    let (count, mut fps, mac) = split_set(&original);
    let (_, theirs, _) = split_set(&e.set(e.first));
    let planted = theirs.iter().find(|fp| !fps.contains(fp)).unwrap();
    fps.push(*planted);
    fps.sort_unstable();
    e.put(e.other, join_set(count + 1, &fps, &mac));
    e.check_refuses(&format!(
        "fingerprint set of disclosure {}: fails authentication",
        e.other
    ));
    e.trace_refuses();
    e.restore(e.other, original);
}

/// Bad input: a set's count changed, nothing else.
#[test]
fn fingerprint_set_count_changed() {
    let e = two_departments_disclosed();
    let original = e.set(e.first);
    for count in [0u32, 1, u32::MAX] {
        let mut v = original.clone();
        v[..4].copy_from_slice(&count.to_be_bytes());
        e.put(e.first, v);
        e.check_refuses("is malformed");
        e.trace_refuses();
    }
    e.restore(e.first, original);
}

/// Bad input: a disclosure's whole set deleted (hiding a department's leak). `credseal check`
/// finds it against the signed receipts; a trace alone cannot tell a deleted set from a
/// disclosure that never released the value, so it simply no longer names that disclosure.
#[test]
fn fingerprint_set_deleted() {
    let e = two_departments_disclosed();
    let original = e.set(e.first);
    e.delete(e.first);
    e.check_refuses(&format!(
        "fingerprints of disclosure {}: missing (deleted on disk)",
        e.first
    ));
    assert_eq!(e.traced(), BTreeSet::from([e.second]));
    e.restore(e.first, original);
    assert_eq!(e.traced(), BTreeSet::from([e.first, e.second]));
}

/// Bad input: a set moved to another index — past the end of the log, or onto another
/// disclosure (swapped with bank-b's) — fails its MAC, which binds the index.
#[test]
fn fingerprint_set_moved_to_another_index() {
    let e = two_departments_disclosed();
    let first = e.set(e.first);
    let other = e.set(e.other);
    let beyond = e.w.p.log_size().unwrap() + 100;
    e.delete(e.first);
    e.put(beyond, first.clone());
    e.check_refuses(&format!("fingerprint set of disclosure {beyond}: fails authentication"));
    e.trace_refuses();
    e.delete(beyond);
    e.restore(e.first, first.clone());
    e.put(e.first, other.clone());
    e.put(e.other, first.clone());
    e.check_refuses("fails authentication");
    e.trace_refuses();
    e.put(e.other, other);
    e.restore(e.first, first);
}

/// Bad input: a set forged without the trace key for a receipt that released nothing (the
/// trace's own receipt): a well-formed empty set whose MAC cannot be right.
#[test]
fn fingerprint_set_forged_for_a_receipt_that_released_nothing() {
    let e = two_departments_disclosed();
    let receipt = e.w.trace(e.leak.as_bytes()).receipt;
    e.put(receipt, join_set(0, &[], &[0u8; 32]));
    e.check_refuses(&format!(
        "fingerprint set of disclosure {receipt}: fails authentication"
    ));
    e.trace_refuses();
    e.delete(receipt);
    e.w.p.verify_fingerprints().unwrap();
}

/// Bad input: a set that authenticates (written with the trace key, here through the
/// platform's own log) for a receipt that released nothing, holding bank-a's fingerprints:
/// `credseal check` finds it against the receipt, and a trace refuses rather than rank it.
#[test]
fn fingerprint_set_with_a_valid_mac_for_a_receipt_that_released_nothing() {
    let e = two_departments_disclosed();
    let (_, fps, _) = split_set(&e.set(e.first));
    let admin = credseal_engine::NewReceipt {
        actor: credseal_log::Actor::Platform,
        action: credseal_log::Action::Admin,
        detail: "not a disclosure".into(),
        subject: None,
        classes: BTreeSet::new(),
        purpose: String::new(),
        token_hash: None,
        outcome: credseal_log::Outcome::Done,
        release_digest: None,
        disclose_after: None,
        flags: 0,
        fingerprints: Some(fps),
        marks: Vec::new(),
    };
    let c = e.w.p.append_receipts(vec![admin], NOW).unwrap().pop().unwrap();
    e.check_refuses(&format!(
        "fingerprints of receipt {}: present for a receipt that released nothing",
        c.index
    ));
    let leak = e.leak.as_bytes();
    let err =
        e.w.p
            .trace(&e.w.request(&e.w.responder, "responder", leak, NOW), leak, NOW)
            .unwrap_err();
    assert_eq!(err.class(), ErrorClass::Verification, "{err}");
    assert!(
        err.to_string()
            .contains(&format!("a set names receipt {}, which released nothing", c.index)),
        "{err}"
    );
    e.delete(c.index);
    e.w.p.verify_fingerprints().unwrap();
}

/// Bad input: keys in the `Fingerprints` tree that are no set — a truncated index, an
/// entry of the earlier one-entry-per-fingerprint layout — are malformed.
#[test]
fn fingerprint_storage_malformed_keys() {
    let e = two_departments_disclosed();
    let set = e.set(e.first);
    // 'd' and a 7-byte index: a trace reads the `'d'` entries, so it stops too.
    let mut b = Batch::new();
    b.put(Tree::Fingerprints, set_key(e.first)[..8].to_vec(), set.clone());
    e.w.p.store().apply(b).unwrap();
    e.check_refuses("fingerprint storage: malformed key");
    e.trace_refuses();
    let mut b = Batch::new();
    b.delete(Tree::Fingerprints, set_key(e.first)[..8].to_vec());
    e.w.p.store().apply(b).unwrap();
    e.w.p.verify_fingerprints().unwrap();
    // 'f' ‖ fp ‖ index → 16-byte MAC.
    let (_, fps, _) = split_set(&set);
    let mut old = vec![b'f'];
    old.extend_from_slice(&fps[0]);
    old.extend_from_slice(&e.first.to_be_bytes());
    let mut b = Batch::new();
    b.put(Tree::Fingerprints, old, vec![0u8; 16]);
    e.w.p.store().apply(b).unwrap();
    e.check_refuses("fingerprint storage: malformed key");
}
