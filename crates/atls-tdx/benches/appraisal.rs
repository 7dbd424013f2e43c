//! Cold versus cached DCAP appraisal of the same real quote (Intel root, fixed time), and
//! the ratio between them measured in the same run.
//!
//! Run: `cargo bench -p atls-tdx --bench appraisal`.

use std::hint::black_box;
use std::time::{Duration, Instant};

use atls_tdx::{Appraiser, CachingAppraiser, QuoteCollateralV3};
use criterion::Criterion;

const QUOTE: &[u8] = include_bytes!("../../../testdata/tdx/dcap-qvl/tdx_quote");
const COLLATERAL: &[u8] =
    include_bytes!("../../../testdata/tdx/dcap-qvl/tdx_quote_collateral.json");
/// 2025-07-01T00:00:00Z, inside the collateral's validity window.
const NOW: u64 = 1_751_328_000;

fn inputs() -> (QuoteCollateralV3, Appraiser, CachingAppraiser) {
    let collateral: QuoteCollateralV3 = serde_json::from_slice(COLLATERAL).unwrap();
    let cold = Appraiser::intel_production();
    let cached = CachingAppraiser::new(Appraiser::intel_production());
    // Warm the cache, and make sure both paths agree before timing them.
    assert_eq!(
        cached.appraise(QUOTE, &collateral, NOW).unwrap(),
        cold.appraise(QUOTE, &collateral, NOW).unwrap()
    );
    (collateral, cold, cached)
}

fn bench(c: &mut Criterion) {
    let (collateral, cold, cached) = inputs();
    let mut group = c.benchmark_group("appraisal");
    group.bench_function("cold", |b| {
        b.iter(|| cold.appraise(black_box(QUOTE), &collateral, NOW).unwrap())
    });
    group.bench_function("cached", |b| {
        b.iter(|| cached.appraise(black_box(QUOTE), &collateral, NOW).unwrap())
    });
    group.finish();
}

/// Mean time per appraisal over `iterations`.
fn mean(iterations: u32, mut f: impl FnMut()) -> Duration {
    let start = Instant::now();
    for _ in 0..iterations {
        f();
    }
    start.elapsed() / iterations
}

fn ratio() {
    let (collateral, cold, cached) = inputs();
    let n = 300;
    let cold_t = mean(n, || {
        black_box(cold.appraise(black_box(QUOTE), &collateral, NOW).unwrap());
    });
    let cached_t = mean(n, || {
        black_box(cached.appraise(black_box(QUOTE), &collateral, NOW).unwrap());
    });
    println!(
        "appraisal: cold {cold_t:?}, cached {cached_t:?} per quote; cold/cached = {:.1}x",
        cold_t.as_secs_f64() / cached_t.as_secs_f64().max(f64::MIN_POSITIVE)
    );
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    bench(&mut c);
    c.final_summary();
    ratio();
}
