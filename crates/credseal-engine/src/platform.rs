//! A platform: its data directory, catalogue, keystore and store.

use std::path::Path;
use std::sync::Arc;

use credseal_auth::{Policy, RevocationList};
use credseal_core::{BlindId, Catalog, SubjectId};
use credseal_crypto::{Keystore, Passphrase};
use credseal_store::{MemoryStore, Store};

use crate::components::appender::Appender;
use crate::components::blinds::Blinds;
use crate::components::datadir::{self, Config, DataDir, InitOptions, OpenOptions};
use crate::components::gate::{Approved, Gate, Operation, StaffRole, StaffSession};
use crate::components::staff::{StaffChange, StaffOps};
use crate::components::vault::Vault;
use crate::error::{EngineError, Result};

/// A running platform: the facade over the engine's parts. Every method takes `&self`, so
/// one platform is shared between threads (`Arc<Platform>`); the keystore is replaced whole
/// by rotation, and each operation reads it once.
///
/// The capability rule holds in the public API: records are decrypted only for a grant
/// issued by this platform's gate ([`Platform::authorize`], [`Platform::self_query`]), and
/// every disclosure leaves a receipt first. There is no way around the gate: no accessor
/// for the records, the store or the keystore.
///
/// ```compile_fail,E0599
/// fn read(p: &credseal_engine::Platform, id: &credseal_core::SubjectId) {
///     let _ = p.records(id, "loans");
/// }
/// ```
///
/// ```compile_fail,E0599
/// fn raw(p: &credseal_engine::Platform) {
///     let _ = p.store();
/// }
/// ```
///
/// ```compile_fail,E0599
/// fn keys(p: &credseal_engine::Platform) {
///     let _ = p.keystore();
/// }
/// ```
///
/// The same shapes with methods that do exist compile (so the failures above are the
/// missing methods, not a typo):
///
/// ```
/// fn read(p: &credseal_engine::Platform, id: &credseal_core::SubjectId) {
///     let _ = p.blind(id);
///     let _ = p.verify_store();
///     let _ = p.origin();
/// }
/// ```
pub struct Platform {
    /// The data directory, for a platform on disk.
    pub(crate) dir: Option<DataDir>,
    pub(crate) catalog: Catalog,
    /// The keystore and the sealed records.
    pub(crate) vault: Vault,
    /// The log origin (fixed for the keystore's lifetime).
    origin: String,
    pub(crate) store: Arc<dyn Store>,
    /// Serialises operations that create or rewrap data keys (they update counters).
    pub(crate) write_lock: std::sync::Mutex<()>,
    /// Serialises shreds (each rotates, rewraps and retires its classes' keys).
    pub(crate) shred_lock: std::sync::Mutex<()>,
    /// Serialises cosigning (docs/witness.md): the sizes sent to each witness only grow.
    pub(crate) witness_lock: std::sync::Mutex<()>,
    /// When each witness last could not be reached: it is not asked again for a while, so a
    /// witness that is down does not make every bundle wait for its timeout.
    pub(crate) witness_down: std::sync::Mutex<std::collections::HashMap<String, std::time::Instant>>,
    /// Signed text to capabilities: grants, staff identities, approvals; the registry.
    pub(crate) gate: Gate,
    /// The receipt log's group-commit state.
    pub(crate) appender: Appender,
    /// The decrypted canary set and where alerts go.
    pub(crate) canary: crate::components::incident::Canaries,
    /// Where operations take the time from.
    pub(crate) clock: Arc<dyn crate::clock::Clock>,
}

impl Platform {
    /// The keystore snapshot for one operation (see [`Vault::keys`]).
    pub(crate) fn keys(&self) -> Arc<Keystore> {
        self.vault.keys()
    }

    /// The time now from the platform's clock.
    pub(crate) fn now(&self) -> Result<u64> {
        self.clock.now()
    }

    /// Replaces the clock (tests: a [`crate::TestClock`]; the default is the system clock).
    pub fn with_clock(mut self, clock: Arc<dyn crate::clock::Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// A receipt for an administrative act by the officer of `session`.
    pub(crate) fn admin_receipt(
        &self,
        session: &crate::StaffSession,
        action: credseal_log::Action,
        detail: String,
        subject: Option<credseal_core::BlindId>,
    ) -> crate::log::NewReceipt {
        crate::components::keyops::admin_receipt(session, action, detail, subject)
    }
}

impl std::fmt::Debug for Platform {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Platform")
            .field("dir", &self.dir)
            .field("origin", &self.origin)
            .finish_non_exhaustive()
    }
}

impl Platform {
    /// Creates a new platform in `opts.dir`. On any failure, everything it created is removed.
    pub fn init(opts: &InitOptions<'_>) -> Result<()> {
        DataDir::init(opts)
    }

    /// Opens the platform in `dir`.
    pub fn open(dir: &Path, passphrase: &Passphrase, opts: OpenOptions) -> Result<Self> {
        let opened = DataDir::open(dir, passphrase, opts)?;
        Self::assemble(Some(opened.dir), opened.catalog, opened.keys, Arc::new(opened.store))
    }

    /// Reads the configuration of the data directory `dir`.
    pub fn read_config(dir: &Path) -> Result<Config> {
        DataDir::read_config(dir)
    }

    /// Opens a keystore file.
    pub fn read_keystore(path: &Path, passphrase: &Passphrase, opts: OpenOptions) -> Result<Keystore> {
        DataDir::read_keystore(path, passphrase, opts)
    }

    /// Opens keystore bytes (the demo's embedded keystore).
    pub fn read_keystore_bytes(bytes: &[u8], passphrase: &Passphrase, opts: OpenOptions) -> Result<Keystore> {
        DataDir::read_keystore_bytes(bytes, passphrase, opts)
    }

    /// A platform on an in-memory store (tests and benchmarks).
    pub fn in_memory(catalog: Catalog, keys: Keystore) -> Result<Self> {
        Self::with_store(catalog, keys, Arc::new(MemoryStore::new()))
    }

    /// A platform on any store, initialising its metadata if the store is empty.
    pub fn with_store(catalog: Catalog, keys: Keystore, store: Arc<dyn Store>) -> Result<Self> {
        datadir::bind_new_store(store.as_ref(), &keys)?;
        Self::assemble(None, catalog, keys, store)
    }

    /// The platform made of its parts, after the checks every opening runs: the store's
    /// binding to the keystore, the log key history, the trust state against the latest
    /// checkpoint (which sets the committed policy), the keystore generation; then the
    /// store's public copy of the log key history is brought up to date.
    fn assemble(dir: Option<DataDir>, catalog: Catalog, keys: Keystore, store: Arc<dyn Store>) -> Result<Self> {
        datadir::check_binding(
            store.as_ref(),
            &keys,
            dir.as_ref().map(DataDir::path).unwrap_or(Path::new("")),
        )?;
        let blinds = Arc::new(Blinds::new(Arc::clone(&store)));
        let gate = Gate::new(Arc::clone(&store), keys.origin.clone(), Arc::clone(&blinds));
        let origin = keys.origin.clone();
        let vault = Vault::new(Arc::clone(&store), keys, blinds);
        let appender = Appender::new(Arc::clone(&store), origin.clone(), Arc::clone(gate.pins()));
        let p = Self {
            dir,
            catalog,
            origin,
            vault,
            store,
            write_lock: Default::default(),
            shred_lock: Default::default(),
            witness_lock: Default::default(),
            witness_down: Default::default(),
            gate,
            appender,
            canary: Default::default(),
            clock: Arc::new(crate::clock::SystemClock),
        };
        p.log_key_history()?;
        let file_policy = p.dir.as_ref().and_then(DataDir::file_policy);
        p.set_policy(p.check_trust(file_policy.as_ref())?);
        p.check_generation()?;
        p.keyops().record_log_history()?;
        p.vault.ensure_trees()?;
        Ok(p)
    }

    /// Gives the store's dead bytes (overwritten and deleted values: rewraps,
    /// supersessions, shreds) back to the file system, online and safe to stop at any moment
    /// (see `credseal_store::SledStore::compact_value_log`); `None` for a store in memory.
    pub fn compact(&self) -> Result<Option<credseal_store::Compaction>> {
        Ok(self.store.compact()?)
    }

    /// The data directory, if on disk.
    pub fn dir(&self) -> Option<&Path> {
        self.dir.as_ref().map(DataDir::path)
    }

    /// The catalogue.
    pub fn catalog(&self) -> &Catalog {
        &self.catalog
    }

    /// The log origin.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// The BlindId of a subject: the first 32 bytes of the VRF output of its normalised id
    /// (proved once per subject, then kept; see `docs/formats.md` §3).
    pub fn blind(&self, id: &SubjectId) -> Result<BlindId> {
        self.vault.blind(&self.keys(), id)
    }

    /// The VRF proof of the subject's BlindId, which the subject verifies with the
    /// platform's VRF public key ([`Platform::vrf_public_key`]).
    pub fn blind_proof(&self, id: &SubjectId) -> Result<credseal_vrf::VrfProof> {
        Ok(self.vault.subject_vrf(&self.keys(), id)?.proof().clone())
    }

    /// The platform's VRF public key (published next to the log key).
    pub fn vrf_public_key(&self) -> credseal_vrf::VrfPublicKey {
        self.keys().vrf_key.public_key()
    }

    /// Opens every data key and every record in the store; the first failure is returned,
    /// naming the value. Returns (data keys, records) checked.
    pub fn verify_store(&self) -> Result<(u64, u64)> {
        self.vault.verify_store(&self.catalog)
    }

    /// The number of data keys of `class` wrapped under KEK `version`.
    pub fn dek_count(&self, class: &str, version: u32) -> Result<u64> {
        self.vault.dek_count(class, version)
    }
}

/// The gate's use cases: trust anchors, staff, approvals, policy, revocations, replay.
impl Platform {
    /// The authority key this platform trusts, if set.
    pub fn authority_key(&self) -> Result<Option<[u8; 32]>> {
        self.gate.authority_key(&self.keys())
    }

    /// Installs the first authority key of a platform (or confirms the one it trusts).
    /// Replacing a trusted key is refused (exit 3) whatever `replace` says: it needs two
    /// officers' approvals ([`Platform::replace_authority_key`]), since the authority's key
    /// signs the staff orders that enrol officers.
    pub fn set_authority_key(&self, session: &StaffSession, pk: &[u8; 32], replace: bool) -> Result<()> {
        // `replace` no longer lets the passphrase alone replace the authority.
        let _ = replace;
        self.trust_authority(session, pk, None)
    }

    /// Replaces the trusted authority key by `pk`, approved by two officers for exactly
    /// [`Operation::replace_authority`] of `pk`; the receipt names the old key and the
    /// approvers. With no authority trusted yet, installs `pk` and leaves the approvals
    /// unused.
    pub fn replace_authority_key(&self, session: &StaffSession, pk: &[u8; 32], approved: &Approved) -> Result<()> {
        self.trust_authority(session, pk, Some(approved))
    }

    fn trust_authority(&self, session: &StaffSession, pk: &[u8; 32], approved: Option<&Approved>) -> Result<()> {
        let ks = self.keys();
        let old = self.gate.authority_key(&ks)?.filter(|old| old != pk);
        let mut b = self.gate.trust_authority(&ks, pk, approved)?;
        let mut detail = format!("trust authority key {}", credseal_core::hex(&pk[..8]));
        if let (Some(old), Some(approved)) = (old, approved) {
            b.append(self.gate.consume(&ks, approved)?);
            detail.push_str(&format!(
                " (replacing {}; {})",
                credseal_core::hex(&old[..8]),
                approved.note()
            ));
        }
        drop(ks);
        let r = self.admin_receipt(session, credseal_log::Action::Admin, detail, None);
        self.append_receipts_with(vec![r], b, self.now()?)?;
        Ok(())
    }

    /// The registered signing key of a subject, if any.
    pub fn subject_key(&self, subject: &SubjectId) -> Result<Option<[u8; 32]>> {
        self.gate.subject_key(&self.keys(), subject)
    }

    /// Registers a subject's signing key (after the officer has checked the subject's
    /// identity). Changing an existing key needs `replace`.
    pub fn register_subject_key(
        &self,
        session: &StaffSession,
        subject: &SubjectId,
        pk: &[u8; 32],
        replace: bool,
    ) -> Result<()> {
        let ks = self.keys();
        let b = self.gate.register_subject_key(&ks, subject, pk, replace)?;
        // The subject's own chain shows the key registered for it.
        let r = self.admin_receipt(
            session,
            credseal_log::Action::Admin,
            format!("register subject key {}", credseal_core::hex(&pk[..8])),
            Some(self.vault.blind(&ks, subject)?),
        );
        drop(ks);
        self.append_receipts_with(vec![r], b, self.now()?)?;
        Ok(())
    }

    /// A staff session for `officer`, who unlocked this platform (see [`StaffSession`]: the
    /// name is not otherwise authenticated yet): 1 to 64 letters, digits, `.`, `_`, `-` or
    /// `@`.
    pub fn staff_session(&self, officer: &str) -> Result<StaffSession> {
        Gate::staff_session(officer)
    }

    /// The staff use cases (a per-call view).
    fn staff_ops(&self) -> StaffOps<'_> {
        StaffOps {
            gate: &self.gate,
            appender: &self.appender,
            vault: &self.vault,
            clock: self.clock.as_ref(),
        }
    }

    /// Enrols or removes a staff member, approved (two officers or the authority's staff
    /// order) for exactly [`StaffChange::operation`]; leaves an admin receipt.
    pub fn change_staff(&self, session: &StaffSession, change: &StaffChange, approved: &Approved) -> Result<()> {
        self.staff_ops().change(session, change, approved)
    }

    /// Names the first officers (two or more) of a platform that has none (at `init`).
    pub fn found_officers(&self, session: &StaffSession, officers: &[(String, [u8; 32])]) -> Result<()> {
        self.staff_ops().found(session, officers)
    }

    /// Checks the authority's staff order (`cs1.staff-order.…`) for the staff operation
    /// `op`; it stands in for two officers' approvals.
    pub fn approve_by_authority(&self, op: &Operation, order: &str, now: u64) -> Result<Approved> {
        self.gate.approve_by_authority(&self.keys(), op, order, now)
    }

    /// The id under which `pk` is enrolled in `role`, if it is.
    pub fn staff_id(&self, role: StaffRole, pk: &[u8; 32]) -> Result<Option<String>> {
        self.gate.staff_id(&self.keys(), role, pk)
    }

    /// Checks the officers' approvals of `op`: each a valid, unused officer request for
    /// exactly this operation, from at least two different enrolled officers. Checking spends
    /// nothing: the operation uses them up when it runs, so a refused one leaves them valid.
    pub fn approve(&self, op: &Operation, approvals: &[String], now: u64) -> Result<Approved> {
        self.gate.approve(&self.keys(), op, approvals, now)
    }

    /// The query policy (clock skew, maximum token lifetime).
    pub fn policy(&self) -> Policy {
        self.gate.policy()
    }

    /// Sets the query policy in force for this process only (the committed policy at open,
    /// or tests); queries that start after this returns use it. [`Platform::commit_policy`]
    /// changes the policy for good.
    pub fn set_policy(&self, policy: Policy) {
        self.gate.set_policy(policy)
    }

    /// Changes the committed query policy (part of the trust state), approved by two
    /// officers for exactly [`Operation::set_policy`] of the new policy: a receipt names the
    /// new values and the approvers, and its checkpoint commits to them; the configuration
    /// file loses its `[policy]` table first (a crash in between leaves a consistent data
    /// directory). Takes effect for every query that starts after this returns.
    pub fn commit_policy(
        &self,
        session: &StaffSession,
        policy: &datadir::PolicyConfig,
        approved: &Approved,
    ) -> Result<Policy> {
        let p = policy
            .policy()
            .map_err(|detail| EngineError::invalid("policy", detail))?;
        approved.require(&Operation::set_policy(&p))?;
        if let Some(d) = &self.dir {
            d.drop_policy_table()?;
        }
        let ks = self.keys();
        let mut b = self.gate.consume(&ks, approved)?;
        crate::components::trust::put_policy(&ks, &mut b, &p);
        drop(ks);
        let r = self.admin_receipt(
            session,
            credseal_log::Action::Admin,
            format!(
                "set policy: max_skew_secs {}, max_token_lifetime_secs {}, max_consent_lifetime_secs {} ({})",
                p.max_skew_secs,
                p.max_token_lifetime_secs,
                p.max_consent_lifetime_secs,
                approved.note()
            ),
            None,
        );
        self.append_receipts_with(vec![r], b, self.now()?)?;
        self.set_policy(p.clone());
        Ok(p)
    }

    /// The installed revocation list, verified.
    pub fn revocations(&self) -> Result<Option<RevocationList>> {
        self.gate.revocations(&self.keys())
    }

    /// Installs a newer revocation list signed by the authority; an older or equal version
    /// is refused. Takes effect for every query that starts after this returns.
    pub fn install_revocations(
        &self,
        session: &StaffSession,
        text: &str,
    ) -> std::result::Result<u64, crate::QueryError> {
        let _w = self.write_lock.lock().map_err(|_| EngineError::poisoned("write"))?;
        let (b, list) = self.gate.check_revocations(&self.keys(), text)?;
        let r = self.admin_receipt(
            session,
            credseal_log::Action::Admin,
            format!(
                "install revocation list v{} ({} serials)",
                list.version,
                list.revoked.len()
            ),
            None,
        );
        self.append_receipts_with(vec![r], b, self.now()?)?;
        Ok(list.version)
    }

    /// Enrols a data provider: installs the authority's provider credential
    /// (`cs1.provider-credential.…`, docs/formats.md "Provider credential") checked at `now`
    /// — signed by the trusted authority (else exit 4), for this platform, inside its
    /// window, not revoked (else exit 3), its classes in the catalogue (else exit 1). The
    /// authority's signature is the approval (no officers needed); a later credential for the
    /// same key replaces it (same provider id only). Leaves an admin receipt naming the
    /// provider, its classes and namespace. Its batches are then accepted within that scope.
    pub fn enroll_provider(
        &self,
        session: &StaffSession,
        credential: &str,
        now: u64,
    ) -> Result<credseal_auth::ProviderCredential> {
        let _w = self.write_lock.lock().map_err(|_| EngineError::poisoned("write"))?;
        let (c, b) = self
            .gate
            .check_provider_credential(&self.keys(), &self.catalog, credential, now)?;
        let classes: Vec<&str> = c.classes.iter().map(String::as_str).collect();
        let r = self.admin_receipt(
            session,
            credseal_log::Action::Admin,
            format!(
                "provider enrolled: {} (authority's provider credential serial {}; classes {}; record ids {})",
                c.provider_id,
                c.serial,
                classes.join(", "),
                if c.record_prefix.is_empty() {
                    "any".to_string()
                } else {
                    format!("starting {:?}", c.record_prefix)
                }
            ),
            None,
        );
        self.append_receipts_with(vec![r], b, self.now()?)?;
        Ok(c)
    }

    /// Installs a subject's signed consent withdrawal (`cs1.consent-withdrawal.…`, checked
    /// at `now` against the subject's registered key and this platform): every query that
    /// starts after this returns and presents the consent is denied `consent-withdrawn`
    /// (receipted). The subject's chain gets a receipt of the withdrawal. Returns the
    /// consent id.
    pub fn withdraw_consent(&self, text: &str, now: u64) -> Result<[u8; 16]> {
        let _w = self.write_lock.lock().map_err(|_| EngineError::poisoned("write"))?;
        let (blind, cid, b) = self.gate.check_withdrawal(&self.keys(), text, now)?;
        let r = crate::log::NewReceipt {
            actor: credseal_log::Actor::Subject,
            action: credseal_log::Action::Admin,
            detail: format!("consent {} withdrawn by the subject", credseal_core::hex(&cid[..4])),
            subject: Some(blind),
            classes: Default::default(),
            purpose: String::new(),
            token_hash: None,
            outcome: credseal_log::Outcome::Done,
            release_digest: None,
            disclose_after: None,
            marks: Vec::new(),
            flags: 0,
            fingerprints: None,
        };
        self.append_receipts_with(vec![r], b, self.now()?)?;
        Ok(cid)
    }

    /// The installed provider credentials, by provider id (as stored: validity and
    /// revocation are checked when a batch arrives).
    pub fn provider_credentials(&self) -> Result<Vec<credseal_auth::ProviderCredential>> {
        self.gate.provider_credentials(&self.keys())
    }

    /// Removes replay entries whose tokens have expired anyway (a replayed expired token is
    /// denied as expired). Returns how many.
    pub fn sweep_replay(&self, now: u64) -> Result<u64> {
        let (b, n) = self.gate.sweep_replay(now)?;
        if n > 0 {
            // The committed entries are part of the trust state: the sweep has a receipt.
            let r = self.admin_receipt(
                &StaffSession::at_open(),
                credseal_log::Action::Admin,
                format!("swept {n} expired replay entries"),
                None,
            );
            self.append_receipts_with(vec![r], b, now)?;
        }
        Ok(n)
    }
}
