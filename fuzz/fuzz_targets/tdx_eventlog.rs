//! TDX event logs on arbitrary bytes: the CCEL parsers (ACPI table then log area, and a bare
//! log area) and the dstack JSON parser never panic, and every log they accept verifies
//! against its own replay.
//!
//! Seeds: the go-tdx-guest CCEL (`testdata/tdx/go-tdx-guest-ccel/`: the 56-byte table followed
//! by the first five events of its log, and the same cut in the middle of an event) and a few
//! events of the near-mpc dstack log (`testdata/tdx/near-mpc-dstack/tcb_info.json`), as a
//! bare array and as dstack's `{"event_log": "<JSON string>"}`.
#![no_main]

use atls_tdx::{CCEL_TABLE_LEN, EventLog};
use libfuzzer_sys::fuzz_target;

fn check(log: EventLog) {
    let rtmrs = log.replay();
    let verified = log
        .verify(&rtmrs)
        .unwrap_or_else(|e| panic!("a parsed log does not verify against its own replay: {e}"));
    let _ = verified.claim_value();
}

fuzz_target!(|data: &[u8]| {
    let (table, log_area) = data.split_at(data.len().min(CCEL_TABLE_LEN));
    if let Ok(log) = EventLog::from_ccel(table, log_area) {
        check(log);
    }
    if let Ok(log) = EventLog::from_ccel_log(data) {
        check(log);
    }
    if let Ok(log) = EventLog::from_dstack_json(data) {
        check(log);
    }
});
