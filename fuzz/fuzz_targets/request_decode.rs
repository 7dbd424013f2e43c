//! `AuthenticatorRequest::decode` on arbitrary bytes: never panics; whatever it accepts
//! re-encodes byte for byte and passes the sender-side constructor.
#![no_main]

use atls_core::{AuthenticatorRequest, Codec, ExtensionType};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(request) = AuthenticatorRequest::decode(data) else {
        return;
    };
    assert_eq!(
        request.to_bytes(),
        data,
        "accepted request does not re-encode"
    );
    let schemes = request.signature_schemes();
    if request
        .extension(ExtensionType::SIGNATURE_ALGORITHMS)
        .is_some()
    {
        assert!(
            !schemes.is_empty(),
            "signature_algorithms accepted but empty"
        );
        let built = AuthenticatorRequest::new(
            request.kind,
            request.context.clone(),
            request.extensions.clone(),
        );
        assert_eq!(
            built.as_ref(),
            Ok(&request),
            "decoder and constructor disagree"
        );
    }
});
