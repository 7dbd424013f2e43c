//! The extension parsers on arbitrary bytes: never panic, and whatever they accept is
//! exactly what the matching constructor builds from the parsed value.
#![no_main]

use atls_core::{DEFAULT_CMW_ATTESTATION, Extension};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(schemes) = Extension::parse_signature_algorithms(data) {
        assert!(!schemes.is_empty());
        assert_eq!(Extension::signature_algorithms(&schemes).data, data);
    }
    if let Ok(host) = Extension::parse_server_name(data) {
        assert!(!host.is_empty());
        assert_eq!(Extension::server_name(&host).data, data);
    }
    if let Ok(cmw) = Extension::parse_cmw_attestation(data) {
        let built = Extension::cmw_attestation(DEFAULT_CMW_ATTESTATION, cmw)
            .expect("parsed CMW fits the constructor");
        assert_eq!(built.data, data);
    }
});
