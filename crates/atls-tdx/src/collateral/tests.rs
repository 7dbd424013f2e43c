use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use atls_evidence::{BoxFuture, Verifier as _};

use super::*;
use crate::collateral_source::CollateralSource;
use crate::sim::{QuoteVariant, SimulatedTd, SimulatorConfig, TdxSimulator};
use crate::{Appraiser, StaticCollateral, TcbStatus, TdxVerifier};

const DCAP_TDX_QUOTE: &[u8] = include_bytes!("../../../../testdata/tdx/dcap-qvl/tdx_quote");
const DCAP_TDX_COLLATERAL: &[u8] =
    include_bytes!("../../../../testdata/tdx/dcap-qvl/tdx_quote_collateral.json");
const DCAP_TDX_NOW: u64 = 1_751_328_000;
const DCAP_OUTDATED_QUOTE: &[u8] =
    include_bytes!("../../../../testdata/tdx/dcap-qvl/tdx_quote_outdated");
const DCAP_OUTDATED_COLLATERAL: &[u8] =
    include_bytes!("../../../../testdata/tdx/dcap-qvl/tdx_quote_outdated_collateral.json");
const DCAP_OUTDATED_NOW: u64 = 1_772_323_200;
const DCAP_SGX_QUOTE: &[u8] = include_bytes!("../../../../testdata/tdx/dcap-qvl/sgx_quote");
const DCAP_SGX_COLLATERAL: &[u8] =
    include_bytes!("../../../../testdata/tdx/dcap-qvl/sgx_quote_collateral.json");
const NEAR_QUOTE: &[u8] = include_bytes!("../../../../testdata/tdx/near-mpc-dstack/quote.bin");
const NEAR_COLLATERAL: &[u8] =
    include_bytes!("../../../../testdata/tdx/near-mpc-dstack/collateral.json");
const NEAR_NOW: u64 = 1_786_622_400;

const SIM_NOW: u64 = 1_800_000_000;
const DAY: u64 = 86_400;

fn collateral(json: &[u8]) -> QuoteCollateralV3 {
    serde_json::from_slice(json).unwrap()
}

fn sim() -> &'static TdxSimulator {
    static SIM: OnceLock<TdxSimulator> = OnceLock::new();
    SIM.get_or_init(|| {
        TdxSimulator::new(SimulatorConfig::new([11; 32], SIM_NOW).without_generation_delay())
            .unwrap()
    })
}

fn sim_quote(report_data: u8) -> Quote {
    Quote::parse(&sim().quote(&SimulatedTd::default(), &[report_data; 64])).unwrap()
}

// --- Dates and keys ---------------------------------------------------------------------

#[test]
fn dates_come_from_tcb_info_qe_identity_and_crls() {
    let d = collateral_dates(&collateral(DCAP_TDX_COLLATERAL)).unwrap();
    // Latest issue: QE identity 2025-06-19T10:32:27Z; earliest expiry: PCK CRL
    // 2025-07-19T10:00:35Z.
    assert_eq!(d.issued, 1_750_329_147);
    assert_eq!(d.next_update, 1_752_919_235);
    assert!(d.covers(DCAP_TDX_NOW));
    assert!(!d.covers(d.next_update));
    assert!(d.covers(d.next_update - 1));
    assert!(!d.covers(d.issued - 1));

    let d = collateral_dates(&collateral(NEAR_COLLATERAL)).unwrap();
    assert_eq!((d.issued, d.next_update), (1_786_617_938, 1_789_171_031));
    assert!(d.covers(NEAR_NOW));

    let d = collateral_dates(sim().collateral()).unwrap();
    assert_eq!(d.issued, sim().valid_from());
    assert_eq!(d.next_update, sim().valid_until() + 1);
}

#[test]
fn dates_reject_broken_collateral() {
    let mut c = collateral(DCAP_TDX_COLLATERAL);
    c.tcb_info = c.tcb_info.replace("nextUpdate", "nextUpdat");
    assert!(collateral_dates(&c).is_err());
    let mut c = collateral(DCAP_TDX_COLLATERAL);
    c.pck_crl.truncate(10);
    assert!(collateral_dates(&c).is_err());
}

#[test]
fn key_of_a_quote_is_its_fmspc_and_ca() {
    let q = Quote::parse(DCAP_TDX_QUOTE).unwrap();
    let key = CollateralKey::for_quote(&q).unwrap();
    assert_eq!(hex::encode_upper(key.fmspc), "B0C06F000000");
    assert_eq!(key.ca, PckCaKind::Platform);
    assert_eq!(
        CollateralKey::for_collateral(&collateral(DCAP_TDX_COLLATERAL), PckCaKind::Platform)
            .unwrap(),
        key
    );

    let key = CollateralKey::for_quote(&sim_quote(0)).unwrap();
    assert_eq!(key.fmspc, crate::sim::DEFAULT_FMSPC);
    assert_eq!(key.ca, PckCaKind::Platform);
}

// --- FileCollateral ---------------------------------------------------------------------

#[test]
fn file_collateral_serves_its_platform_only() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("collateral.json");
    std::fs::write(&path, DCAP_TDX_COLLATERAL).unwrap();
    let source = FileCollateral::new(&path);
    let quote = Quote::parse(DCAP_TDX_QUOTE).unwrap();
    let c = pollster::block_on(source.collateral(&quote, DCAP_TDX_NOW)).unwrap();
    assert_eq!(*c, collateral(DCAP_TDX_COLLATERAL));

    let err = pollster::block_on(source.collateral(&sim_quote(0), DCAP_TDX_NOW)).unwrap_err();
    assert!(matches!(err, CollateralError::NotFound(_)), "{err}");

    let missing = FileCollateral::new(dir.path().join("nope.json"));
    let err = pollster::block_on(missing.collateral(&quote, DCAP_TDX_NOW)).unwrap_err();
    assert!(matches!(err, CollateralError::Source(_)), "{err}");

    std::fs::write(&path, b"{}").unwrap();
    assert!(pollster::block_on(source.collateral(&quote, DCAP_TDX_NOW)).is_err());
}

// --- CachedCollateral with a counting fake source ---------------------------------------

/// Answers from a script (the last answer repeats) and counts calls.
#[derive(Debug)]
struct Scripted {
    calls: AtomicUsize,
    answers: Mutex<VecDeque<Result<Arc<QuoteCollateralV3>, String>>>,
}

impl Scripted {
    fn new(answers: Vec<Result<QuoteCollateralV3, &str>>) -> Arc<Self> {
        Arc::new(Self {
            calls: AtomicUsize::new(0),
            answers: Mutex::new(
                answers
                    .into_iter()
                    .map(|a| a.map(Arc::new).map_err(str::to_string))
                    .collect(),
            ),
        })
    }

    fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }
}

impl CollateralSource for Scripted {
    fn collateral<'a>(
        &'a self,
        _quote: &'a Quote,
        _now_unix: u64,
    ) -> BoxFuture<'a, Result<Arc<QuoteCollateralV3>, CollateralError>> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let mut answers = self.answers.lock().unwrap();
        let answer = if answers.len() > 1 {
            answers.pop_front().unwrap()
        } else {
            answers.front().cloned().unwrap()
        };
        Box::pin(async move { answer.map_err(|e| CollateralError::Source(e.into())) })
    }
}

fn get(cache: &CachedCollateral, now: u64) -> Result<Arc<QuoteCollateralV3>, CollateralError> {
    pollster::block_on(cache.collateral(&sim_quote(1), now))
}

/// Simulated collateral issued at `issue` (valid `issue - 1h .. issue + 30 days`).
fn sim_collateral(issue: u64) -> QuoteCollateralV3 {
    TdxSimulator::new(SimulatorConfig::new([11; 32], issue).without_generation_delay())
        .unwrap()
        .collateral()
        .clone()
}

#[test]
fn cache_serves_until_the_collateral_expires() {
    let first = sim_collateral(SIM_NOW);
    let second = sim_collateral(SIM_NOW + 29 * DAY);
    let source = Scripted::new(vec![Ok(first.clone()), Ok(second.clone())]);
    let cache = CachedCollateral::new(
        source.clone(),
        CacheConfig::default().with_refresh_margin(0),
    );
    let expiry = SIM_NOW + 30 * DAY;
    assert_eq!(*get(&cache, SIM_NOW).unwrap(), first);
    assert_eq!(*get(&cache, SIM_NOW + DAY).unwrap(), first);
    assert_eq!(*get(&cache, expiry - 1).unwrap(), first);
    assert_eq!(source.calls(), 1);
    // At nextUpdate the cached collateral is stale: fetch.
    assert_eq!(*get(&cache, expiry).unwrap(), second);
    assert_eq!(source.calls(), 2);
    let stats = cache.stats();
    assert_eq!((stats.hits, stats.fetches), (2, 2));
}

#[test]
fn cache_refreshes_ahead_of_expiry() {
    let first = sim_collateral(SIM_NOW);
    let second = sim_collateral(SIM_NOW + 28 * DAY);
    let source = Scripted::new(vec![Ok(first.clone()), Ok(second.clone())]);
    let cache = CachedCollateral::new(
        source.clone(),
        CacheConfig::default().with_refresh_margin(DAY),
    );
    let refresh_from = SIM_NOW + 29 * DAY;
    assert_eq!(*get(&cache, SIM_NOW).unwrap(), first);
    assert_eq!(*get(&cache, refresh_from - 1).unwrap(), first);
    assert_eq!(source.calls(), 1);
    assert_eq!(*get(&cache, refresh_from).unwrap(), second);
    assert_eq!(source.calls(), 2);
    assert_eq!(*get(&cache, refresh_from + 1).unwrap(), second);
    assert_eq!(source.calls(), 2);
}

#[test]
fn failed_refresh_keeps_serving_valid_collateral_and_backs_off() {
    let first = sim_collateral(SIM_NOW);
    let second = sim_collateral(SIM_NOW + 28 * DAY);
    let source = Scripted::new(vec![Ok(first.clone()), Err("PCS down"), Ok(second.clone())]);
    let cache = CachedCollateral::new(
        source.clone(),
        CacheConfig::default()
            .with_refresh_margin(DAY)
            .with_negative_ttl(600),
    );
    let refresh_from = SIM_NOW + 29 * DAY;
    get(&cache, SIM_NOW).unwrap();
    // The refresh fails: the old collateral, still valid, is served.
    assert_eq!(*get(&cache, refresh_from).unwrap(), first);
    assert_eq!(source.calls(), 2);
    // No new attempt within the negative TTL.
    assert_eq!(*get(&cache, refresh_from + 599).unwrap(), first);
    assert_eq!(source.calls(), 2);
    // Then the refresh is retried and succeeds.
    assert_eq!(*get(&cache, refresh_from + 600).unwrap(), second);
    assert_eq!(source.calls(), 3);
    assert_eq!(cache.stats().fetch_failures, 1);
}

#[test]
fn failures_are_remembered_for_the_negative_ttl() {
    let good = sim_collateral(SIM_NOW);
    let source = Scripted::new(vec![Err("no such FMSPC"), Ok(good.clone())]);
    let cache = CachedCollateral::new(
        source.clone(),
        CacheConfig::default().with_negative_ttl(300),
    );
    let err = get(&cache, SIM_NOW).unwrap_err();
    assert!(err.to_string().contains("no such FMSPC"), "{err}");
    assert_eq!(source.calls(), 1);
    let err = get(&cache, SIM_NOW + 299).unwrap_err();
    assert!(err.to_string().contains("no such FMSPC"), "{err}");
    assert!(err.to_string().contains("not retrying before"), "{err}");
    assert_eq!(source.calls(), 1);
    assert_eq!(cache.stats().negative_hits, 1);
    assert_eq!(*get(&cache, SIM_NOW + 300).unwrap(), good);
    assert_eq!(source.calls(), 2);
}

#[test]
fn collateral_not_valid_now_is_not_served_from_the_cache() {
    // The source hands out collateral that expired long ago.
    let old = sim_collateral(SIM_NOW - 100 * DAY);
    let source = Scripted::new(vec![Ok(old)]);
    let cache = CachedCollateral::new(source.clone(), CacheConfig::default().with_negative_ttl(60));
    let err = get(&cache, SIM_NOW).unwrap_err();
    assert!(err.to_string().contains("not at"), "{err}");
    assert!(get(&cache, SIM_NOW + 10).is_err());
    assert_eq!(source.calls(), 1);
    assert!(get(&cache, SIM_NOW + 60).is_err());
    assert_eq!(source.calls(), 2);
}

#[test]
fn cache_keys_by_platform() {
    let other = TdxSimulator::new(
        SimulatorConfig::new([12; 32], SIM_NOW)
            .without_generation_delay()
            .with_fmspc([1, 2, 3, 4, 5, 6]),
    )
    .unwrap();
    let other_quote = Quote::parse(&other.quote(&SimulatedTd::default(), &[0; 64])).unwrap();
    let source = Scripted::new(vec![
        Ok(sim_collateral(SIM_NOW)),
        Ok(other.collateral().clone()),
    ]);
    let cache = CachedCollateral::new(source.clone(), CacheConfig::default());
    get(&cache, SIM_NOW).unwrap();
    let c = pollster::block_on(cache.collateral(&other_quote, SIM_NOW)).unwrap();
    assert_eq!(*c, *other.collateral());
    get(&cache, SIM_NOW).unwrap();
    pollster::block_on(cache.collateral(&other_quote, SIM_NOW)).unwrap();
    assert_eq!(source.calls(), 2);

    let small = CachedCollateral::new(source.clone(), CacheConfig::default().with_max_entries(1));
    get(&small, SIM_NOW).unwrap();
    pollster::block_on(small.collateral(&other_quote, SIM_NOW)).unwrap();
    assert_eq!(small.export_bundle(SIM_NOW).len(), 1);
}

// --- Bundles ----------------------------------------------------------------------------

#[test]
fn bundle_round_trips_and_reverifies_at_the_pinned_time() {
    let quote = Quote::parse(DCAP_TDX_QUOTE).unwrap();
    let cache = CachedCollateral::new(
        Arc::new(StaticCollateral::from_json(DCAP_TDX_COLLATERAL).unwrap()),
        CacheConfig::default(),
    );
    pollster::block_on(cache.collateral(&quote, DCAP_TDX_NOW)).unwrap();
    let bundle = cache.export_bundle(DCAP_TDX_NOW);
    assert_eq!(bundle.len(), 1);
    assert!(bundle.stale_entries().is_empty());

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bundle.json");
    bundle.write_file(&path).unwrap();
    let back = CollateralBundle::read_file(&path).unwrap();
    assert_eq!(back, bundle);
    assert_eq!(back.to_json(), bundle.to_json());
    assert_eq!(back.pinned_time(), DCAP_TDX_NOW);

    // Months later, re-verify at the pinned time with the bundle as the source.
    let c = pollster::block_on(back.collateral(&quote, DCAP_TDX_NOW + 365 * DAY)).unwrap();
    let verdict = Appraiser::intel_production()
        .appraise(DCAP_TDX_QUOTE, &c, back.pinned_time())
        .unwrap();
    assert_eq!(verdict.tcb_status, TcbStatus::UpToDate);
    // Outside the pinned time it is stale.
    let late = CollateralBundle::from_json(
        back.to_json()
            .replace(
                &DCAP_TDX_NOW.to_string(),
                &(DCAP_TDX_NOW + 365 * DAY).to_string(),
            )
            .as_bytes(),
    )
    .unwrap();
    assert_eq!(late.stale_entries().len(), 1);

    // A fresh cache can be primed from it.
    let primed = CachedCollateral::new(Scripted::new(vec![Err("offline")]), CacheConfig::default());
    assert_eq!(primed.import_bundle(&back), 1);
    pollster::block_on(primed.collateral(&quote, DCAP_TDX_NOW)).unwrap();
}

#[test]
fn bundle_rejects_other_formats_and_versions() {
    let json = CollateralBundle::new(5).to_json();
    assert!(CollateralBundle::from_json(json.as_bytes()).is_ok());
    let v2 = json.replace("\"version\": 1", "\"version\": 2");
    assert!(CollateralBundle::from_json(v2.as_bytes()).is_err());
    let other = json.replace(BUNDLE_FORMAT, "something-else");
    assert!(CollateralBundle::from_json(other.as_bytes()).is_err());
    assert!(CollateralBundle::from_json(b"[]").is_err());
    let bad_fmspc = r#"{"format":"atls-tdx-collateral-bundle","version":1,"pinned_time":0,"entries":[{"fmspc":"zz","ca":"platform","collateral":{}}]}"#;
    assert!(CollateralBundle::from_json(bad_fmspc.as_bytes()).is_err());
    let quote = sim_quote(0);
    let err = pollster::block_on(CollateralBundle::new(0).collateral(&quote, 0)).unwrap_err();
    assert!(matches!(err, CollateralError::NotFound(_)));
}

// --- Appraisal caching ------------------------------------------------------------------

fn same<T: PartialEq + fmt::Debug, E: fmt::Display + fmt::Debug>(
    a: &Result<T, E>,
    b: &Result<T, E>,
) {
    match (a, b) {
        (Ok(a), Ok(b)) => assert_eq!(a, b),
        (Err(a), Err(b)) => assert_eq!(a.to_string(), b.to_string()),
        _ => panic!("cached {a:?} vs cold {b:?}"),
    }
}

/// Also through [`TdxVerifier`] as adapters build it (caching by default) against one with a
/// plain [`Appraiser`]: the same verdicts, and the same `verify` outcomes.
#[test]
fn cached_appraisal_matches_cold_on_every_real_fixture() {
    let fixtures: [(&[u8], &[u8], u64); 4] = [
        (DCAP_TDX_QUOTE, DCAP_TDX_COLLATERAL, DCAP_TDX_NOW),
        (
            DCAP_OUTDATED_QUOTE,
            DCAP_OUTDATED_COLLATERAL,
            DCAP_OUTDATED_NOW,
        ),
        (DCAP_SGX_QUOTE, DCAP_SGX_COLLATERAL, DCAP_TDX_NOW),
        (NEAR_QUOTE, NEAR_COLLATERAL, NEAR_NOW),
    ];
    let cold = Appraiser::intel_production();
    let cached = CachingAppraiser::new(Appraiser::intel_production());
    let binding = crate::test_binding::sha256_binding();
    let mut verifier_hits = 0;
    for (quote, json, now) in fixtures {
        let c = collateral(json);
        let source = Arc::new(StaticCollateral::new(c.clone()));
        let hot_verifier = TdxVerifier::new(Appraiser::intel_production(), source.clone(), || 0);
        let cold_verifier =
            TdxVerifier::with_appraiser(Arc::new(Appraiser::intel_production()), source, || 0);
        assert_eq!(cold_verifier.appraisal_cache_stats(), None);
        let times = [
            now,
            now + 60,
            now - 60,
            now + 40 * DAY,
            now - 40 * DAY,
            now + 120,
        ];
        for t in times {
            let (hot_v, cold_v) = (
                hot_verifier.clone().with_time(t),
                cold_verifier.clone().with_time(t),
            );
            for _ in 0..2 {
                same(&cached.appraise(quote, &c, t), &cold.appraise(quote, &c, t));
                same(
                    &pollster::block_on(hot_v.appraise(quote, t)),
                    &pollster::block_on(cold_v.appraise(quote, t)),
                );
                same(
                    &pollster::block_on(hot_v.verify(quote, &binding)),
                    &pollster::block_on(cold_v.verify(quote, &binding)),
                );
            }
        }
        verifier_hits += hot_verifier.appraisal_cache_stats().unwrap().hits;
    }
    // The two verifiable fixtures were each answered from the cache after the first time.
    assert!(cached.stats().hits >= 6, "{:?}", cached.stats());
    assert!(verifier_hits >= 2 * 6, "{verifier_hits}");
}

#[test]
fn cached_appraisal_reuses_platform_work_for_fresh_quotes() {
    let appraiser = Appraiser::with_test_root_ca_for_testing(sim().test_root_ca_der().to_vec());
    let cached = CachingAppraiser::new(appraiser.clone());
    let c = sim().collateral();
    for i in 0..5u8 {
        let td = SimulatedTd::default().with_mr_td([i; 48]);
        let quote = sim().quote(&td, &[i; 64]);
        let hot = cached.appraise(&quote, c, SIM_NOW + u64::from(i)).unwrap();
        same(
            &Ok(hot.clone()),
            &appraiser.appraise(&quote, c, SIM_NOW + u64::from(i)),
        );
        assert_eq!(hot.quote.report().report_data, [i; 64]);
        assert_eq!(hot.quote.report().mr_td, [i; 48]);
    }
    assert_eq!(cached.stats().hits, 4);
    assert_eq!(cached.stats().misses, 1);
}

#[test]
fn cached_appraisal_still_rejects_what_cold_rejects() {
    let appraiser = Appraiser::with_test_root_ca_for_testing(sim().test_root_ca_der().to_vec());
    let cached = CachingAppraiser::new(appraiser.clone());
    let c = sim().collateral();
    cached
        .appraise(&sim().quote(&SimulatedTd::default(), &[0; 64]), c, SIM_NOW)
        .unwrap();
    for variant in QuoteVariant::ALL {
        let quote = sim().quote_variant(&SimulatedTd::default(), &[1; 64], variant);
        same(
            &cached.appraise(&quote, c, SIM_NOW),
            &appraiser.appraise(&quote, c, SIM_NOW),
        );
    }
    // A forged signature over a quote whose platform part is cached.
    let mut forged = sim().quote(&SimulatedTd::default(), &[2; 64]);
    forged[600] ^= 1; // RTMR area: not in the key, covered by the signature
    let r = cached.appraise(&forged, c, SIM_NOW);
    assert!(
        matches!(r, Err(crate::AppraisalError::QuoteSignature(_))),
        "{r:?}"
    );
}

#[test]
fn cached_verdict_respects_the_collateral_window() {
    let appraiser = Appraiser::with_test_root_ca_for_testing(sim().test_root_ca_der().to_vec());
    let cached = CachingAppraiser::new(appraiser.clone());
    let c = sim().collateral();
    let quote = sim().quote(&SimulatedTd::default(), &[3; 64]);
    let t1 = SIM_NOW + DAY;
    cached.appraise(&quote, c, t1).unwrap();
    let misses = cached.stats().misses;
    // Inside [t1, expiry): from the cache.
    for t in [t1, t1 + 1, sim().valid_until()] {
        cached.appraise(&quote, c, t).unwrap();
    }
    assert_eq!(cached.stats().misses, misses);
    // Before the first success and from expiry on: cold, and the same answer as cold.
    for t in [
        t1 - 1,
        sim().valid_from() - 1,
        sim().valid_until() + 1,
        sim().valid_until() + DAY,
    ] {
        let before = cached.stats().misses;
        same(
            &cached.appraise(&quote, c, t),
            &appraiser.appraise(&quote, c, t),
        );
        assert_eq!(cached.stats().misses, before + 1, "at {t}");
    }
    assert!(cached.appraise(&quote, c, sim().valid_until() + 1).is_err());
}
