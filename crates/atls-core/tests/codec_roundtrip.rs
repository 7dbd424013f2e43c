//! Property tests for the wire codec: every valid message survives `decode(encode(x))`, and
//! every byte string a decoder accepts re-encodes to exactly those bytes. Arbitrary, truncated
//! and mutated input never panics a decoder or `message_length`.

use std::collections::HashSet;

use atls_core::{
    Authenticator, AuthenticatorRequest, Certificate, CertificateEntry, CertificateVerify, Codec,
    Extension, ExtensionType, Finished, Message, RequestKind, SignatureScheme, message_length,
};
use proptest::collection::vec;
use proptest::prelude::*;

/// A ClientCertificateRequest with a 32-byte context, `signature_algorithms` offering ed25519
/// and the empty `cmw_attestation` offer under its default private-use codepoint 0xffff.
/// The same vector as the codec's unit tests; also a seed of the fuzz corpus.
const REQUEST_HEX: &str = "1100002f20000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f000c000d000400020807ffff0000";

// ---------------------------------------------------------------------------------------------
// Strategies for valid values.

/// Extension types whose contents the decoder does not check.
fn opaque_type() -> impl Strategy<Value = ExtensionType> {
    any::<u16>()
        .prop_filter(
            "server_name and signature_algorithms contents are checked",
            |t| *t != ExtensionType::SERVER_NAME.0 && *t != ExtensionType::SIGNATURE_ALGORITHMS.0,
        )
        .prop_map(ExtensionType)
}

fn opaque_extension() -> impl Strategy<Value = Extension> {
    (opaque_type(), vec(any::<u8>(), 0..48)).prop_map(|(typ, data)| Extension { typ, data })
}

fn signature_algorithms() -> impl Strategy<Value = Extension> {
    vec(any::<u16>().prop_map(SignatureScheme), 1..8)
        .prop_map(|schemes| Extension::signature_algorithms(&schemes))
}

fn server_name() -> impl Strategy<Value = Extension> {
    prop_oneof![
        "\\PC{1,40}".prop_map(|host| Extension::server_name(&host)),
        // Empty extension data is how a server acknowledges server_name.
        Just(Extension {
            typ: ExtensionType::SERVER_NAME,
            data: Vec::new(),
        }),
    ]
}

fn cmw_extension() -> impl Strategy<Value = Extension> {
    (opaque_type(), vec(any::<u8>(), 1..64))
        .prop_map(|(typ, cmw)| Extension::cmw_attestation(typ, &cmw).expect("cmw within bounds"))
}

/// Keeps the first extension of each type, as the decoder requires.
fn distinct(extensions: Vec<Extension>) -> Vec<Extension> {
    let mut seen = HashSet::new();
    extensions
        .into_iter()
        .filter(|e| seen.insert(e.typ))
        .collect()
}

fn context() -> impl Strategy<Value = Vec<u8>> {
    vec(any::<u8>(), 1..=255)
}

fn request_extensions() -> impl Strategy<Value = Vec<Extension>> {
    (
        signature_algorithms(),
        proptest::option::of(server_name()),
        vec(opaque_extension(), 0..6),
    )
        .prop_map(|(sigalgs, name, others)| {
            let mut all = vec![sigalgs];
            all.extend(name);
            all.extend(others);
            distinct(all)
        })
        .prop_shuffle()
}

fn request() -> impl Strategy<Value = AuthenticatorRequest> {
    (
        prop_oneof![
            Just(RequestKind::CertificateRequest),
            Just(RequestKind::ClientCertificateRequest),
        ],
        context(),
        request_extensions(),
    )
        .prop_map(|(kind, context, extensions)| AuthenticatorRequest {
            kind,
            context,
            extensions,
        })
}

fn certificate_entry() -> impl Strategy<Value = CertificateEntry> {
    (
        vec(any::<u8>(), 1..200),
        vec(prop_oneof![opaque_extension(), cmw_extension()], 0..4).prop_map(distinct),
    )
        .prop_map(|(cert_data, extensions)| CertificateEntry {
            cert_data,
            extensions,
        })
}

fn certificate() -> impl Strategy<Value = Certificate> {
    (context(), vec(certificate_entry(), 1..=4))
        .prop_map(|(context, entries)| Certificate { context, entries })
}

fn certificate_verify() -> impl Strategy<Value = CertificateVerify> {
    (any::<u16>(), vec(any::<u8>(), 1..=256)).prop_map(|(scheme, signature)| CertificateVerify {
        scheme: SignatureScheme(scheme),
        signature,
    })
}

fn finished() -> impl Strategy<Value = Finished> {
    prop_oneof![vec(any::<u8>(), 32), vec(any::<u8>(), 48)]
        .prop_map(|verify_data| Finished { verify_data })
}

fn authenticator() -> impl Strategy<Value = Authenticator> {
    prop_oneof![
        (certificate(), certificate_verify(), finished()).prop_map(
            |(certificate, certificate_verify, finished)| Authenticator::Full {
                certificate,
                certificate_verify,
                finished,
            }
        ),
        finished().prop_map(Authenticator::Empty),
    ]
}

fn message() -> impl Strategy<Value = Message> {
    prop_oneof![
        request().prop_map(Message::Request),
        authenticator().prop_map(Message::Authenticator),
    ]
}

/// Random bytes behind a handshake header whose length is right, so decoders get past it.
fn framed_garbage() -> impl Strategy<Value = Vec<u8>> {
    (
        prop::sample::select(vec![11u8, 13, 15, 17, 20]),
        vec(any::<u8>(), 0..300),
    )
        .prop_map(|(typ, body)| {
            let len = u32::try_from(body.len()).expect("short body").to_be_bytes();
            let mut out = vec![typ, len[1], len[2], len[3]];
            out.extend_from_slice(&body);
            out
        })
}

// ---------------------------------------------------------------------------------------------
// Checks.

/// Encodes `value`, decodes it back, and re-encodes the result.
fn round_trip<T: Codec + PartialEq + std::fmt::Debug>(value: &T) -> Result<(), TestCaseError> {
    let bytes = value.to_bytes();
    let decoded = T::decode(&bytes);
    prop_assert_eq!(decoded.as_ref(), Ok(value), "decode(encode(x)) != x");
    if let Ok(decoded) = decoded {
        prop_assert_eq!(decoded.to_bytes(), bytes, "encode(decode(bytes)) != bytes");
    }
    Ok(())
}

/// If `T` accepts `bytes`, its encoding must be exactly `bytes`.
fn accepted_reencodes<T: Codec>(bytes: &[u8]) -> Result<bool, TestCaseError> {
    match T::decode(bytes) {
        Ok(value) => {
            prop_assert_eq!(
                hex(&value.to_bytes()),
                hex(bytes),
                "{} accepted bytes it does not re-encode exactly",
                std::any::type_name::<T>()
            );
            Ok(true)
        }
        Err(_) => Ok(false),
    }
}

/// Runs every public decoder and `message_length` over `bytes`: none may panic, every
/// acceptance is byte-exact, and framing agrees with `Message::decode`.
fn sweep(bytes: &[u8]) -> Result<(), TestCaseError> {
    let message = accepted_reencodes::<Message>(bytes)?;
    accepted_reencodes::<AuthenticatorRequest>(bytes)?;
    accepted_reencodes::<Authenticator>(bytes)?;
    accepted_reencodes::<Certificate>(bytes)?;
    accepted_reencodes::<CertificateVerify>(bytes)?;
    accepted_reencodes::<Finished>(bytes)?;
    let framed = message_length(bytes);
    if let Ok(Some(n)) = framed {
        prop_assert!(
            n <= bytes.len(),
            "message_length {n} beyond {} bytes",
            bytes.len()
        );
    }
    if message {
        prop_assert_eq!(
            framed,
            Ok(Some(bytes.len())),
            "message_length disagrees with Message::decode on {}",
            hex(bytes)
        );
    }
    Ok(())
}

fn hex(bytes: &[u8]) -> String {
    hex::encode(bytes)
}

// ---------------------------------------------------------------------------------------------
// Properties of valid values.

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn request_round_trips(req in request()) {
        round_trip(&req)?;
    }

    #[test]
    fn constructor_accepts_every_valid_request(req in request()) {
        let built = AuthenticatorRequest::new(req.kind, req.context.clone(), req.extensions.clone());
        prop_assert_eq!(built, Ok(req));
    }

    #[test]
    fn certificate_round_trips(cert in certificate()) {
        round_trip(&cert)?;
    }

    #[test]
    fn certificate_verify_round_trips(cv in certificate_verify()) {
        round_trip(&cv)?;
    }

    #[test]
    fn finished_round_trips(fin in finished()) {
        round_trip(&fin)?;
    }

    #[test]
    fn authenticator_round_trips(auth in authenticator()) {
        round_trip(&auth)?;
    }

    #[test]
    fn message_round_trips(msg in message()) {
        round_trip(&msg)?;
    }

    #[test]
    fn extension_parsers_invert_constructors(
        schemes in vec(any::<u16>().prop_map(SignatureScheme), 1..8),
        host in "\\PC{1,40}",
        cmw in vec(any::<u8>(), 1..256),
    ) {
        let sigalgs = Extension::signature_algorithms(&schemes);
        prop_assert_eq!(Extension::parse_signature_algorithms(&sigalgs.data), Ok(schemes));
        let name = Extension::server_name(&host);
        prop_assert_eq!(Extension::parse_server_name(&name.data), Ok(host));
        let ext = Extension::cmw_attestation(ExtensionType(0xffff), &cmw).expect("cmw fits");
        prop_assert_eq!(Extension::parse_cmw_attestation(&ext.data), Ok(&cmw[..]));
    }

    #[test]
    fn message_length_frames_every_valid_message(msg in message(), tail in vec(any::<u8>(), 0..8)) {
        let bytes = msg.to_bytes();
        for cut in 0..bytes.len() {
            prop_assert_eq!(message_length(&bytes[..cut]), Ok(None), "prefix of {} bytes", cut);
        }
        let mut stream = bytes.clone();
        stream.extend_from_slice(&tail);
        prop_assert_eq!(message_length(&stream), Ok(Some(bytes.len())));
    }
}

// ---------------------------------------------------------------------------------------------
// Malformed input.

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn random_bytes_never_panic_and_acceptance_is_byte_exact(bytes in vec(any::<u8>(), 0..512)) {
        sweep(&bytes)?;
    }

    #[test]
    fn extension_parsers_accept_only_what_constructors_build(data in vec(any::<u8>(), 0..64)) {
        if let Ok(schemes) = Extension::parse_signature_algorithms(&data) {
            prop_assert_eq!(Extension::signature_algorithms(&schemes).data, data.clone());
        }
        if let Ok(host) = Extension::parse_server_name(&data) {
            prop_assert_eq!(Extension::server_name(&host).data, data.clone());
        }
        if let Ok(cmw) = Extension::parse_cmw_attestation(&data) {
            let ext = Extension::cmw_attestation(ExtensionType(0xffff), cmw).expect("cmw fits");
            prop_assert_eq!(ext.data, data.clone());
        }
    }

    #[test]
    fn framed_garbage_never_panics_and_acceptance_is_byte_exact(bytes in framed_garbage()) {
        sweep(&bytes)?;
    }
}

proptest! {
    // Each case sweeps every prefix and three mutations of every byte: fewer cases suffice.
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn truncated_valid_message_never_panics(msg in message()) {
        let bytes = msg.to_bytes();
        for cut in 0..bytes.len() {
            sweep(&bytes[..cut])?;
        }
    }

    #[test]
    fn mutated_valid_message_never_panics_and_acceptance_is_byte_exact(
        msg in message(),
        mask in 1u8..=255,
    ) {
        let mut bytes = msg.to_bytes();
        for i in 0..bytes.len() {
            let original = bytes[i];
            for replacement in [original ^ mask, 0x00, 0xff] {
                if replacement == original {
                    continue;
                }
                bytes[i] = replacement;
                sweep(&bytes)?;
            }
            bytes[i] = original;
        }
    }
}

#[test]
fn every_single_byte_mutation_of_known_request_is_handled() {
    let mut bytes = hex::decode(REQUEST_HEX).unwrap();
    sweep(&bytes).unwrap();
    assert!(AuthenticatorRequest::decode(&bytes).is_ok());
    for i in 0..bytes.len() {
        let original = bytes[i];
        for b in 0..=255u8 {
            bytes[i] = b;
            sweep(&bytes).unwrap_or_else(|e| panic!("byte {i} set to {b:#04x}: {e}"));
        }
        bytes[i] = original;
    }
    for cut in 0..bytes.len() {
        sweep(&bytes[..cut]).unwrap();
        assert!(AuthenticatorRequest::decode(&bytes[..cut]).is_err());
    }
}
