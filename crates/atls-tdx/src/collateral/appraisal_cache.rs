//! Reusing appraisal work across quotes from the same platform.

use core::fmt;
use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use dcap_qvl::QuoteCollateralV3;
use sha2::{Digest, Sha256};

use crate::appraisal::{AppraisalError, Appraise, Appraiser, Verdict};
use crate::quote::Quote;

/// Body bytes dcap-qvl never examines: MRTD through REPORTDATA.
const UNEXAMINED_BODY: core::ops::Range<usize> = 136..584;

/// Counters of a [`CachingAppraiser`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct AppraisalCacheStats {
    /// Appraisals answered from the cache (quote signature checked only).
    pub hits: u64,
    /// Appraisals that ran in full.
    pub misses: u64,
}

#[derive(Clone, Debug)]
struct Entry {
    verdict: Verdict,
    valid_from: u64,
    valid_until: u64,
}

#[derive(Debug, Default)]
struct State {
    entries: HashMap<[u8; 32], Entry>,
    stats: AppraisalCacheStats,
}

/// An [`Appraiser`] that does the platform's share of the work once per collateral: later
/// quotes from the same platform, TD and collateral cost a parse, a hash and one ECDSA
/// verification. Verdicts are the same as [`Appraiser::appraise`]'s for every input.
///
/// # What can be cached, and why it is safe
///
/// dcap-qvl 0.7 verifies in one call; its steps (collateral signatures and dates, CRLs, the
/// PCK chain, the QE report and its binding of the attestation key, the QE identity, TCB
/// level matching, TD attributes, then the quote signature) are not exposed separately. Of
/// everything it reads, only two things change from one quote of a platform to the next:
/// the measurements and REPORTDATA in the TD report body (body bytes 136..584: MRTD,
/// MRCONFIGID, MROWNER, MROWNERCONFIG, RTMR0–3, REPORTDATA — which dcap-qvl never examines,
/// only signs over) and the attestation key's signature over header and body.
///
/// So the cache key is a SHA-256 over the collateral and every other byte of the quote:
/// header (and v5 body descriptor), the body outside 136..584 (TEE_TCB_SVN, MRSEAM,
/// MRSIGNERSEAM, SEAMATTRIBUTES, TDATTRIBUTES, XFAM and any TD 1.5 fields), the signature
/// data length, and all signature data after the quote signature (attestation key, QE
/// report and its signature, QE authentication data, PCK chain) including any padding. A
/// quote whose key was verified before differs from it only in fields dcap-qvl does not
/// read plus its signature; the cached path checks that signature itself, with the same
/// ring ECDSA-P256 verifier dcap-qvl uses, and parses the quote with the same parser as the
/// cold path. Anything else — a different signature outcome, a different key — takes the
/// cold path. Failures are never cached.
///
/// Time: a verdict obtained at `t` stays valid for every `now` in
/// `[t, collateral_next_update)`. Every time check dcap-qvl makes is either a lower bound
/// (issue dates, `notBefore`), already met at `t`, or an upper bound (`nextUpdate`,
/// `notAfter`), all at or after the collateral's earliest expiry, which the verdict reports
/// as `collateral_next_update`; CRLs are stale at their `nextUpdate`, hence the half-open
/// interval. A cached verdict is used only inside that window; before its earliest
/// successful appraisal time or from its expiry on, the cold path runs.
pub struct CachingAppraiser {
    inner: Appraiser,
    max_entries: usize,
    state: Mutex<State>,
}

impl fmt::Debug for CachingAppraiser {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.state();
        f.debug_struct("CachingAppraiser")
            .field("inner", &self.inner)
            .field("max_entries", &self.max_entries)
            .field("entries", &state.entries.len())
            .field("stats", &state.stats)
            .finish()
    }
}

impl From<Appraiser> for CachingAppraiser {
    fn from(inner: Appraiser) -> Self {
        Self::new(inner)
    }
}

impl Appraise for CachingAppraiser {
    fn appraise(
        &self,
        quote: &[u8],
        collateral: &QuoteCollateralV3,
        now_unix: u64,
    ) -> Result<Verdict, AppraisalError> {
        // The inherent method, not this one.
        Self::appraise(self, quote, collateral, now_unix)
    }

    fn cache_stats(&self) -> Option<AppraisalCacheStats> {
        Some(self.stats())
    }
}

impl CachingAppraiser {
    /// Default bound on cached platforms.
    pub const DEFAULT_MAX_ENTRIES: usize = 4096;

    /// Caches `inner`'s work.
    pub fn new(inner: Appraiser) -> Self {
        Self {
            inner,
            max_entries: Self::DEFAULT_MAX_ENTRIES,
            state: Mutex::new(State::default()),
        }
    }

    /// The same keeping at most `n` entries.
    pub fn with_max_entries(mut self, n: usize) -> Self {
        self.max_entries = n.max(1);
        self
    }

    /// The wrapped appraiser.
    pub fn inner(&self) -> &Appraiser {
        &self.inner
    }

    /// The counters so far.
    pub fn stats(&self) -> AppraisalCacheStats {
        self.state().stats
    }

    /// Forgets every cached verdict.
    pub fn clear(&self) {
        self.state().entries.clear();
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Appraises like [`Appraiser::appraise`], reusing earlier work where its inputs are
    /// unchanged.
    pub fn appraise(
        &self,
        quote: &[u8],
        collateral: &QuoteCollateralV3,
        now_unix: u64,
    ) -> Result<Verdict, AppraisalError> {
        let cached = Quote::parse(quote).ok().and_then(|parsed| {
            let key = platform_key(quote, &parsed, collateral)?;
            Some((key, parsed))
        });
        if let Some((key, parsed)) = &cached {
            let template = {
                let state = self.state();
                state
                    .entries
                    .get(key)
                    .filter(|e| e.valid_from <= now_unix && now_unix < e.valid_until)
                    .map(|e| e.verdict.clone())
            };
            if let Some(mut verdict) = template
                && quote_signature_verifies(quote, parsed)
            {
                verdict.quote = parsed.clone();
                self.state().stats.hits += 1;
                return Ok(verdict);
            }
        }
        self.state().stats.misses += 1;
        let result = self.inner.appraise(quote, collateral, now_unix);
        if let (Ok(verdict), Some((key, _))) = (&result, cached) {
            let mut state = self.state();
            if !state.entries.contains_key(&key) && state.entries.len() >= self.max_entries {
                state.entries.retain(|_, e| now_unix < e.valid_until);
                while state.entries.len() >= self.max_entries {
                    let Some(victim) = state.entries.keys().next().copied() else {
                        break;
                    };
                    state.entries.remove(&victim);
                }
            }
            let valid_from = state
                .entries
                .get(&key)
                .map_or(now_unix, |e| e.valid_from.min(now_unix));
            state.entries.insert(
                key,
                Entry {
                    verdict: verdict.clone(),
                    valid_from,
                    valid_until: verdict.collateral_next_update,
                },
            );
        }
        result
    }
}

fn put(h: &mut Sha256, bytes: &[u8]) {
    h.update((bytes.len() as u64).to_le_bytes());
    h.update(bytes);
}

/// SHA-256 over the collateral and the quote bytes dcap-qvl examines (all but the
/// measurements/REPORTDATA and the quote signature). `None` if the quote's layout is not
/// what the parser reported (never for a parsed quote).
fn platform_key(raw: &[u8], parsed: &Quote, c: &QuoteCollateralV3) -> Option<[u8; 32]> {
    let signed_len = parsed.signed_len();
    let body_len = parsed.body_type().byte_len();
    let body_start = signed_len.checked_sub(body_len)?;
    let head = raw.get(..body_start)?;
    let body = raw.get(body_start..signed_len)?;
    let sig_len_field = raw.get(signed_len..signed_len.checked_add(4)?)?;
    let after_signature = raw.get(signed_len.checked_add(4 + 64)?..)?;

    let mut h = Sha256::new();
    h.update(b"atls-tdx platform appraisal key v1\0");
    put(&mut h, c.pck_crl_issuer_chain.as_bytes());
    put(&mut h, &c.root_ca_crl);
    put(&mut h, &c.pck_crl);
    put(&mut h, c.tcb_info_issuer_chain.as_bytes());
    put(&mut h, c.tcb_info.as_bytes());
    put(&mut h, &c.tcb_info_signature);
    put(&mut h, c.qe_identity_issuer_chain.as_bytes());
    put(&mut h, c.qe_identity.as_bytes());
    put(&mut h, &c.qe_identity_signature);
    match &c.pck_certificate_chain {
        Some(chain) => {
            h.update([1]);
            put(&mut h, chain.as_bytes());
        }
        None => h.update([0]),
    }
    put(&mut h, head);
    put(&mut h, body.get(..UNEXAMINED_BODY.start)?);
    put(&mut h, body.get(UNEXAMINED_BODY.end..)?);
    put(&mut h, sig_len_field);
    put(&mut h, after_signature);
    Some(h.finalize().into())
}

/// The quote signature check of dcap-qvl (attestation key over header and body), with its
/// ring backend.
fn quote_signature_verifies(raw: &[u8], parsed: &Quote) -> bool {
    let backend = dcap_qvl::verify::ring::backend();
    let sig = &parsed.signature_data().signature;
    let mut public_key = [0x04u8; 65];
    if let Some(xy) = public_key.get_mut(1..) {
        xy.copy_from_slice(&parsed.signature_data().attestation_key);
    }
    let Ok(der) = (backend.encode_ecdsa)(sig) else {
        return false;
    };
    raw.get(..parsed.signed_len()).is_some_and(|signed| {
        backend
            .sig_algo
            .verify_signature(&public_key, signed, &der)
            .is_ok()
    })
}
