//! PC-05: known-answer tests. The worked example of the RFC 9261 digest (self-computed on the
//! RFC 8448 §3 exporter_master_secret, its exporter cross-checked against OpenSSL) reproduces
//! byte for byte, and fizz's published Finished values reproduce only with the header-less
//! request switch.

use atls_core::*;

fn h(s: &str) -> Vec<u8> {
    hex::decode(s.split_whitespace().collect::<String>()).unwrap()
}

const REQUEST: &str = "1100002f20000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f
                       000c000d000400020807ffff0000";
const EMS: &str = "fe22f881176eda18eb8f44529e6792c50c9a3f89452f68d8ae311b4309d3cf50";
const CERT_DER: &str = "3081e2308195a003020102020101300506032b6570301b3119301706035504030c106174
  7465737465722e6578616d706c65301e170d3236303130313030303030305a170d323730
  3130313030303030305a301b3119301706035504030c1061747465737465722e6578616d
  706c65302a300506032b65700321008a88e3dd7409f195fd52db2d3cba5d72ca6709bf1d
  94121bf3748801b40f6f5c300506032b6570034100db6d09301db7d0d34490725a90c3aa
  e7907f6718201882b21312df80efa56812254896db281578fa89e2d3f19039f7e632b8b5
  1d5b0a97de4664799a49c7ac0a";
const CMW: &str = "8378216170706c69636174696f6e2f766e642e6578616d706c652e7464782d71756f74655840
  a1e0bee4d577eef2363bb231e1e01eeb136a4edd6317163dda01b2f757811ac2
  0000000000000000000000000000000000000000000000000000000000000000 04";
const SIGNATURE: &str = "03e8070e668b6d17f272d99cedb8773bc600d7f9f63daf802a828de07dd14a29
  94b2e79b5fcfaede6d2d892bf453116e3500bb6f481757c10fc12efef2187e0b";
const VERIFY_DATA: &str = "16a2a1c6d61f8aea86071ad67d42a7259c45670bab2112b0a80148bd01db8e37";

fn server_keys() -> AuthenticatorKeys {
    let ems = ExporterMasterSecret::new(HashAlgorithm::Sha256, &h(EMS)).unwrap();
    AuthenticatorKeys::derive(&ems, HashAlgorithm::Sha256, Role::Server).unwrap()
}

fn identity() -> CertifiedKey {
    CertifiedKey {
        chain: vec![CertificateDer::from(h(CERT_DER))],
        key: std::sync::Arc::new(Ed25519SigningKey::from_seed(&[1; 32])),
    }
}

#[test]
fn pc_05_worked_example_authenticator_reproduces_byte_for_byte() {
    let request = h(REQUEST);
    let ctx = AuthenticatorRequest::decode(&request).unwrap().context;
    let ext = Extension::cmw_attestation(ExtensionType(0xffff), &h(CMW)).unwrap();
    let auth = build_authenticator(
        HashAlgorithm::Sha256,
        &server_keys(),
        &request,
        &ctx,
        &identity(),
        vec![ext],
    )
    .unwrap();

    let mut cert = h("0b00017b 20");
    cert.extend_from_slice(&ctx);
    cert.extend(h("000157 0000e5"));
    cert.extend(h(CERT_DER));
    cert.extend(h("006d ffff 0069 0067"));
    cert.extend(h(CMW));
    assert_eq!(cert.len(), 383);
    let mut expected = cert.clone();
    expected.extend(h("0f000044 0807 0040"));
    expected.extend(h(SIGNATURE));
    expected.extend(h("14000020"));
    expected.extend(h(VERIFY_DATA));
    assert_eq!(expected.len(), 491);
    assert_eq!(hex::encode(&auth), hex::encode(&expected));

    let content = certificate_verify_content(
        HashAlgorithm::Sha256,
        server_keys().handshake_context(),
        &request,
        &cert,
    );
    assert_eq!(
        hex::encode(&content[87..]),
        "5c7758d000b525bb3454cad264aa9ed6e660dbfd99ed58f96e7e2cd3fd97aa4a"
    );
}

#[test]
fn pc_05_worked_example_validates_and_yields_the_cmw() {
    let request = AuthenticatorRequest::decode(&h(REQUEST)).unwrap();
    let mut auth = h("0b00017b 20");
    auth.extend_from_slice(&request.context);
    auth.extend(h("000157 0000e5"));
    auth.extend(h(CERT_DER));
    auth.extend(h("006d ffff 0069 0067"));
    auth.extend(h(CMW));
    auth.extend(h("0f000044 0807 0040"));
    auth.extend(h(SIGNATURE));
    auth.extend(h("14000020"));
    auth.extend(h(VERIFY_DATA));
    let offered: Vec<_> = request.extensions.iter().map(|e| e.typ).collect();
    let expect = Expectation {
        request_in_transcript: &h(REQUEST),
        context: Some(&request.context),
        offered_extensions: &offered,
        offered_schemes: &request.signature_schemes(),
        cmw_extension_type: ExtensionType(0xffff),
    };
    let verifier = PinnedKeyVerifier::for_certificate(&h(CERT_DER)).unwrap();
    let decoded = decode_authenticator(&auth).unwrap();
    assert_eq!(decoded.to_bytes(), auth);
    let Validation::Authenticated(ok) = validate_authenticator(
        HashAlgorithm::Sha256,
        &server_keys(),
        &expect,
        &decoded,
        &verifier,
    )
    .unwrap() else {
        panic!("expected an authenticated peer");
    };
    assert_eq!(ok.cmw.unwrap(), h(CMW));
    assert_eq!(
        hex::encode(ok.spki_der),
        "302a300506032b65700321008a88e3dd7409f195fd52db2d3cba5d72ca6709bf1d94121bf3748801b40f6f5c"
    );
}

#[test]
fn pc_05_worked_example_empty_authenticator_reproduces() {
    let request = h(REQUEST);
    let ctx = AuthenticatorRequest::decode(&request).unwrap().context;
    let empty = build_empty_authenticator(HashAlgorithm::Sha256, &server_keys(), &request, &ctx);
    assert_eq!(
        hex::encode(empty),
        "140000202e5f3de260285caa6d92fef3d7a60a9524e48e9c09fcd8dbd1b2c70dab4309ec"
    );
}

/// fizz's request: ctx "0123456789abcdefghij", signature_algorithms {0x0403}.
fn fizz_request() -> AuthenticatorRequest {
    AuthenticatorRequest::new(
        RequestKind::CertificateRequest,
        b"0123456789abcdefghij".to_vec(),
        vec![Extension::signature_algorithms(&[
            SignatureScheme::ECDSA_NISTP256_SHA256,
        ])],
    )
    .unwrap()
}

fn fizz_keys() -> AuthenticatorKeys {
    AuthenticatorKeys::from_values(
        b"12345678901234567890123456789012",
        b"12345678901234567890123456789012",
    )
}

fn fizz_profile() -> Profile {
    Profile {
        unframed_request_transcript: true,
        ..Profile::LATEST
    }
}

#[test]
fn pc_05_fizz_request_body_matches_published_encoding() {
    let encoded = fizz_request().to_bytes();
    assert_eq!(
        hex::encode(fizz_profile().request_in_transcript(&encoded)),
        "1430313233343536373839616263646566676869\
         6a0008000d000400020403"
    );
}

#[test]
fn pc_05_fizz_finished_reproduces_only_with_unframed_request() {
    let encoded = fizz_request().to_bytes();
    let cert = h("0b000004 00000000");
    let cv = h("0f00000d 0403 0009 7369676e6174757265");
    let expected = "b523548c421b05f7f3c33276fbdd5266ba2df103796d7d483368259860a648f2";

    let unframed = fizz_profile().request_in_transcript(&encoded);
    let vd = finished_verify_data(HashAlgorithm::Sha256, &fizz_keys(), unframed, &cert, &cv);
    assert_eq!(hex::encode(vd), expected);

    let framed = Profile::LATEST.request_in_transcript(&encoded);
    let vd = finished_verify_data(HashAlgorithm::Sha256, &fizz_keys(), framed, &cert, &cv);
    assert_ne!(hex::encode(vd), expected);
}

#[test]
fn pc_05_fizz_empty_authenticator_reproduces_only_with_unframed_request() {
    let req = fizz_request();
    let encoded = req.to_bytes();
    let expected = "1400002011fae4bcdf4673b6dfb276d886c4cd1c5b0920da961643f062d1d4a6062115b1";
    let unframed = fizz_profile().request_in_transcript(&encoded);
    let empty =
        build_empty_authenticator(HashAlgorithm::Sha256, &fizz_keys(), unframed, &req.context);
    assert_eq!(hex::encode(empty), expected);
    let framed = Profile::LATEST.request_in_transcript(&encoded);
    let empty =
        build_empty_authenticator(HashAlgorithm::Sha256, &fizz_keys(), framed, &req.context);
    assert_ne!(hex::encode(empty), expected);
}
