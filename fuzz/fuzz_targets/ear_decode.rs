//! Attestation-result (COSE_Sign1 EAR) decoding never panics on any input.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = atls_evidence::decode_attestation_result(data);
});
