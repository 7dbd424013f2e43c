//! Appraisal policy for atls: whether verified evidence is acceptable, in a language an
//! operator can read, test against recorded evidence, and trust to explain a rejection.
//!
//! Evidence that verifies says *what* runs; a [`Policy`] says whether that is acceptable.
//! It is evaluated on the [`Claims`](atls_evidence::Claims) of evidence that already
//! verified and is bound to the connection, at a time the caller supplies, and returns a
//! [`Verdict`]: the rules that matched, or every rule that failed with the claim, the value
//! seen and what was allowed. [`Verdict::into_result`] turns a rejection into a
//! [`PolicyRejected`] error.
//!
//! # The policy document
//!
//! TOML (or the same schema in JSON). Unknown fields are errors, so a misspelt register
//! never silently means "any"; every error names the field, and for TOML its line.
//!
//! ```toml
//! version = 1                 # required
//! mode = "production"         # or "dev": debug TDs, any measurements, any TCB status but Revoked
//!
//! [evidence]
//! accept = ["tdx"]            # aliases tdx, ear, insecure-test (dev only), or media types
//!
//! [identity]                  # for the transport adapters, which enforce it
//! same_key_as_handshake = true
//! names = ["api.example.com"]
//!
//! [[tdx.measurements]]        # alternatives; evidence must match one set
//! name = "release-1.4"
//! mr_td = "91eb2b44..."       # 48-byte hex, any case; a list means any of
//! rtmr0 = ["44c0197b...", "..."]
//! # rtmr1..rtmr3, mr_config_id, mr_owner, mr_owner_config, mr_seam, mr_signer_seam,
//! # xfam, td_attributes (8 bytes); fields left out accept any value
//!
//! [tdx.tcb]
//! statuses = ["UpToDate", "SWHardeningNeeded", "OutOfDate"]   # never "Revoked"
//! grace_period = "30d"        # OutOfDate accepted until tcb_date + grace_period
//! denied_advisories = ["INTEL-SA-00837"]
//! allowed_advisories = ["INTEL-SA-00615"]   # when given, only these
//! max_collateral_age = "7d"
//!
//! [tdx.platform]              # pins against relay and diversion; lists mean any of
//! fmspc = "b0c06f000000"
//! ppid = "..."
//! platform_instance_id = "..."
//!
//! [[tdx.events]]              # expected event-log entries (verified by replay)
//! rtmr = 3
//! name = "compose-hash"
//! payload = "2911e1f7..."
//!
//! [attestation_results]       # passport model (EAR)
//! issuers = [{ developer = "https://veraison-project.org" }]
//! max_age = "5m"
//!
//! [[claims]]                  # any claim, top level or of a submodule
//! claim = "test.platform"
//! one_of = ["lab-1"]
//!
//! [rego]                      # cargo feature `rego`; both parts must allow
//! source = '''
//! package atls
//! allow if { input.claims.values["tdx.tcb_status"] == "UpToDate" }
//! '''
//! ```
//!
//! Semantics worth knowing:
//! - A production policy that accepts TDX evidence must pin at least one measurement set,
//!   and must bound accepted OutOfDate statuses with a `grace_period`; a grace period
//!   applies to `OutOfDate` and `OutOfDateConfigurationNeeded`, and such a platform is
//!   accepted while `now <= tdx.tcb_date + grace_period`.
//! - Debug TDs (`tdx.debug`, or bit 0 of `tdx.td_attributes`) are rejected unless the
//!   policy is `mode = "dev"` ([`Policy::dev`]). There is no other switch.
//! - `Revoked` is never accepted, in any mode.
//! - An event rule with a `name` requires at least one event of that name (in that RTMR)
//!   and that every such event carry the expected payload or digest.
//! - The collateral's age is derived from `tdx.collateral_next_update` and Intel's 30-day
//!   collateral validity.
//! - TDX rules apply to TDX evidence, attestation-result rules to attestation results;
//!   `[[claims]]` rules and Rego apply to everything.
//!
//! # Rego
//!
//! With the cargo feature `rego`, a policy may carry a Rego module (`package atls`)
//! evaluated with regorus over `{"claims": <claims JSON>, "now": <Unix seconds>}`:
//! `data.atls.allow` must be true and `data.atls.deny` (messages) empty.
//!
//! # Testing a policy
//!
//! [`test_policy_with_claims`] evaluates recorded claims; with the feature `tdx`,
//! `test_policy_with_quote` appraises a quote with its collateral at a given time first.

#![forbid(unsafe_code)]
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::indexing_slicing,
        clippy::panic
    )
)]

mod document;
mod error;
mod identity;
mod policy;
#[cfg(feature = "rego")]
mod rego;
mod rules;
mod testing;
mod values;
mod verdict;

pub use error::PolicyError;
pub use identity::IdentityExpectations;
pub use policy::{EvaluationContext, MeasurementSet, Mode, Policy, Register};
pub use testing::test_policy_with_claims;
#[cfg(feature = "tdx")]
pub use testing::test_policy_with_quote;
pub use values::{TcbStatus, UnknownTcbStatus};
pub use verdict::{Failure, Matched, PolicyRejected, Verdict};
