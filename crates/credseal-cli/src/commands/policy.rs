//! `credseal officer set-policy`: the query policy, committed in the store with a receipt
//! (part of the trust state each checkpoint commits to), approved by two officers.

use credseal_engine::PolicyConfig;

use crate::CliResult;
use crate::cli::SetPolicyArgs;
use crate::context::Context;

/// `credseal officer set-policy`: prints the policy now in force.
pub(crate) fn set(ctx: &Context, a: SetPolicyArgs) -> CliResult {
    let p = ctx.open_platform(&a.data.data)?;
    let current = p.policy();
    let wanted = PolicyConfig {
        max_skew_secs: Some(a.max_skew_secs.unwrap_or(current.max_skew_secs)),
        max_token_lifetime_secs: Some(a.max_token_lifetime_secs.unwrap_or(current.max_token_lifetime_secs)),
    };
    let policy = wanted
        .policy()
        .map_err(|detail| crate::Failure::new(credseal_engine::ErrorClass::Usage, format!("policy: {detail}")))?;
    let op = credseal_engine::Operation::set_policy(&policy);
    let approved = super::approved(&p, &op, &a.approvals)?;
    let now = p.commit_policy(&ctx.session(&p)?, &wanted, &approved)?;
    crate::render::done(
        a.json,
        "policy",
        &serde_json::json!({
            "max_skew_secs": now.max_skew_secs,
            "max_token_lifetime_secs": now.max_token_lifetime_secs,
            "max_consent_lifetime_secs": now.max_consent_lifetime_secs,
            "approved_by": approved.officers(),
        }),
        &format!(
            "policy: max_skew_secs {}, max_token_lifetime_secs {}, max_consent_lifetime_secs {} (approved by {})",
            now.max_skew_secs,
            now.max_token_lifetime_secs,
            now.max_consent_lifetime_secs,
            approved.officers().join(", ")
        ),
    );
    Ok(())
}
