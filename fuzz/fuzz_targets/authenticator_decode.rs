//! `Authenticator::decode` on arbitrary bytes: never panics; whatever it accepts re-encodes
//! byte for byte, part by part; validation of an accepted authenticator (certificate parsing,
//! extension checks, signature and Finished) fails cleanly.
#![no_main]

use atls_core::{
    Authenticator, AuthenticatorKeys, Codec, DEFAULT_CMW_ATTESTATION, Expectation, HashAlgorithm,
    SignatureScheme, decode_authenticator, validate_authenticator,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(auth) = Authenticator::decode(data) else {
        assert!(decode_authenticator(data).is_err());
        return;
    };
    assert_eq!(
        auth.to_bytes(),
        data,
        "accepted authenticator does not re-encode"
    );
    let context = match &auth {
        Authenticator::Full {
            certificate,
            certificate_verify,
            finished,
        } => {
            let parts = [
                certificate.to_bytes(),
                certificate_verify.to_bytes(),
                finished.to_bytes(),
            ]
            .concat();
            assert_eq!(parts, data, "parts do not add up to the authenticator");
            certificate.context.clone()
        }
        Authenticator::Empty(finished) => {
            assert_eq!(finished.to_bytes(), data);
            vec![1]
        }
    };
    // Offer every extension the authenticator carries, so validation reaches the certificate.
    let offered: Vec<_> = match &auth {
        Authenticator::Full { certificate, .. } => certificate
            .entries
            .iter()
            .flat_map(|e| e.extensions.iter().map(|x| x.typ))
            .collect(),
        Authenticator::Empty(_) => Vec::new(),
    };
    let keys = AuthenticatorKeys::from_values(&[0; 32], &[0; 32]);
    let expect = Expectation {
        request_in_transcript: &[],
        context: Some(&context),
        offered_extensions: &offered,
        offered_schemes: &[
            SignatureScheme::ED25519,
            SignatureScheme::ECDSA_NISTP256_SHA256,
            SignatureScheme::ECDSA_NISTP384_SHA384,
        ],
        cmw_extension_type: DEFAULT_CMW_ATTESTATION,
    };
    let verifier = atls_fuzz::pinned_verifier();
    let result = validate_authenticator(
        HashAlgorithm::Sha256,
        &keys,
        &expect,
        &auth,
        verifier.as_ref(),
    );
    assert!(result.is_err(), "forged authenticator validated");
});
