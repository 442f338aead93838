//! The query path as the facade offers it (docs/design.md §6): each method builds the
//! [`Disclosure`] over this platform's gate, vault and appender and delegates to it. The
//! platform reports canaries, alerts and release fingerprints to it ([`Incidents`]).
//!
//! Only a [`Grant`] opens data keys: [`Platform::submit_answer`] takes one, and the only way
//! to a `Grant` is `credseal_auth`'s verifier followed by the replay and consent-use checks
//! against this platform's store ([`credseal_auth::Checked::finish`]).

use credseal_core::{BlindId, Record};
use credseal_crypto::Keystore;

use crate::components::disclosure::{Disclosure, Grant, Incidents, PendingAnswer, SealedAnswer};
use crate::error::{QueryError, Result};
use crate::platform::Platform;

impl Incidents for Platform {
    fn is_canary(&self, blind: &BlindId) -> Result<bool> {
        Platform::is_canary(self, blind)
    }

    fn raise_alert(&self, alert: crate::CanaryAlert) {
        Platform::raise_alert(self, alert)
    }

    fn fingerprints_of(&self, ks: &Keystore, blind: &BlindId, records: &[Record]) -> Vec<[u8; 32]> {
        Platform::fingerprints_of(self, ks, blind, records)
    }

    fn disputed(
        &self,
        ks: &Keystore,
        blind: &BlindId,
        records: &[Record],
    ) -> Result<std::collections::BTreeMap<String, usize>> {
        Platform::disputed(self, ks, blind, records)
    }
}

impl Platform {
    /// The disclosure path over this platform's parts (references only).
    fn disclosure(&self) -> Disclosure<'_> {
        Disclosure {
            catalog: &self.catalog,
            origin: self.origin(),
            gate: &self.gate,
            vault: &self.vault,
            appender: &self.appender,
            incidents: self,
        }
    }

    /// Runs a department's query: the credential and token in their text form.
    pub fn query(&self, credential: &str, token: &str, now: u64) -> std::result::Result<SealedAnswer, QueryError> {
        let d = self.disclosure();
        // Counted as under way until its receipt is committed, so a commit leader waits a
        // moment for it (group commit).
        let _active = d.active();
        let grant = d.authorize(credential, token, now)?;
        d.submit_answer(grant)?.wait()
    }

    /// [`Platform::query`] without waiting for the receipt: everything up to queueing the
    /// receipt for the next group commit. The answer is sealed and released by
    /// [`PendingAnswer::wait`] once the receipt is durable — a server thread can start its
    /// next query meanwhile. A denial still returns at once, after its receipt is durable.
    /// A full receipt queue refuses the query at once ([`crate::EngineError::Pushback`])
    /// before anything is written.
    pub fn submit_query(
        &self,
        credential: &str,
        token: &str,
        now: u64,
    ) -> std::result::Result<PendingAnswer<'_>, QueryError> {
        let d = self.disclosure();
        let _active = d.active();
        let grant = d.authorize(credential, token, now)?;
        Ok(d.submit_answer(grant)?)
    }

    /// The gate alone: checks a department's credential and token against this platform's
    /// authority key, policy, revocations, replay and consent counters, and returns the
    /// [`Grant`] that [`Platform::submit_answer`] turns into an answer. A denial leaves its
    /// receipt. The grant holds a place in the receipt queue and is spent by one answer.
    pub fn authorize(&self, credential: &str, token: &str, now: u64) -> std::result::Result<Grant<'_>, QueryError> {
        self.disclosure().authorize(credential, token, now)
    }

    /// Runs a subject's query for its own records.
    pub fn self_query(&self, query: &str, now: u64) -> std::result::Result<SealedAnswer, QueryError> {
        let d = self.disclosure();
        let _active = d.active();
        let grant = d.self_query(query, now)?;
        d.submit_answer(grant)?.wait()
    }

    /// Decrypts the granted classes of the granted subject and queues the disclosure's
    /// receipt, with the replay entries the grant consumed, for the next group commit.
    /// Nothing is sealed yet: [`PendingAnswer::wait`] seals and releases the answer once
    /// the receipt is durable. The only path to plaintext for a requester: it takes a
    /// [`Grant`], which only this platform's gate issues ([`Platform::authorize`]); a grant
    /// of another platform handle is refused.
    ///
    /// Outside the engine a grant cannot be constructed:
    ///
    /// ```compile_fail,E0451
    /// # fn f<'p>(p: &'p credseal_engine::Platform, g: credseal_auth::Grant, slot: ()) {
    /// let forged = credseal_engine::Grant { inner: g, platform: p, keys: panic!(), marks: vec![], slot: panic!(), now: 0 };
    /// # }
    /// ```
    ///
    /// and a `credseal_auth::Grant` (which anyone verifying a token against their own authority
    /// key can make) is not accepted where the engine's grant is required:
    ///
    /// ```compile_fail,E0308
    /// fn answer_with(p: &credseal_engine::Platform, g: credseal_auth::Grant) {
    ///     let _ = p.submit_answer(g);
    /// }
    /// ```
    ///
    /// The same call with the engine's grant compiles:
    ///
    /// ```
    /// fn answer_with<'p>(p: &'p credseal_engine::Platform, g: credseal_engine::Grant<'p>) {
    ///     let _ = p.submit_answer(g);
    /// }
    /// ```
    pub fn submit_answer<'p>(&'p self, grant: Grant<'p>) -> Result<PendingAnswer<'p>> {
        self.disclosure().submit_answer(grant)
    }
}
