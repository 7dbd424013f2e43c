use super::*;

fn h(s: &str) -> Vec<u8> {
    hex::decode(s.replace(' ', "")).unwrap()
}

fn cat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

/// Decodes `bytes`, checks they re-encode identically, returns the CMW.
fn round_trip(bytes: &[u8]) -> Cmw {
    let cmw = Cmw::decode(bytes).unwrap_or_else(|e| panic!("{e}: {}", hex::encode(bytes)));
    assert_eq!(cmw.encode(), bytes, "re-encoding differs");
    cmw
}

fn mt(s: &str) -> MediaType {
    MediaType::parse(s).unwrap()
}

fn record(mt_text: &str, value: &[u8], ind: Option<u32>) -> CmwNode {
    Record::new(mt(mt_text), value, ind.map(|b| Indicator::new(b).unwrap()))
        .unwrap()
        .into()
}

const CONCEPTUAL_MSG: &str = "application/vnd.example.rats-conceptual-msg";

/// `{ "__cmwc_t": "tag:example.com,2024:composite-attester",
///    0: [64999, h'2347da55', 4], 1: 1668612070(h'2347da55'),
///    2: ["application/eat+jwt", h'2e2e2e', 8] }` (draft's collection example).
fn draft_collection() -> Vec<u8> {
    cat(&[
        &h("a4 68"),
        b"__cmwc_t",
        &h("78 27"),
        b"tag:example.com,2024:composite-attester",
        &h("00 83 19fde7 44 2347da55 04"),
        &h("01 da6374ffe6 44 2347da55"),
        &h("02 83 73"),
        b"application/eat+jwt",
        &h("43 2e2e2e 08"),
    ])
}

/// The record of the RFC 9261 worked example: media type
/// `application/vnd.example.tdx-quote`, value = binder ‖ 32 zero bytes,
/// indicator 4 (Evidence).
fn worked_example_record() -> Vec<u8> {
    let mut bytes = h(
        "8378216170706c69636174696f6e2f766e642e6578616d706c652e7464782d71756f74655840\
         a1e0bee4d577eef2363bb231e1e01eeb136a4edd6317163dda01b2f757811ac2",
    );
    bytes.extend([0u8; 32]);
    bytes.push(0x04);
    bytes
}

fn all_examples() -> Vec<Vec<u8>> {
    vec![
        h("82 19fde7 44 2347da55"),
        cat(&[&h("82 78 2b"), CONCEPTUAL_MSG.as_bytes(), &h("44 2347da55")]),
        cat(&[
            &h("83 74"),
            b"application/rim+cose",
            &h("4a d28440a044d901f5a040 03"),
        ]),
        h("da6374ffe6 44 2347da55"),
        h("da637476a7 43 010203"),
        draft_collection(),
        worked_example_record(),
        br#"["application/vnd.example.rats-conceptual-msg","I0faVQ"]"#.to_vec(),
        br#"{"__cmwc_t":"1.2.3","a":["a/b","3q0",4],"b":{"x\n":["a/b","AA"]}}"#.to_vec(),
    ]
}

// ---- the draft's examples and the RFC 9261 worked example ----

#[test]
fn decodes_draft_record_with_content_format() {
    let cmw = round_trip(&h("82 19fde7 44 2347da55"));
    assert_eq!(cmw.format(), CmwFormat::Cbor);
    let r = cmw.node().as_record().unwrap();
    assert_eq!(r.content_format(), Some(64999));
    assert_eq!(r.value(), h("2347da55"));
    assert_eq!(r.indicator(), None);
}

#[test]
fn decodes_draft_record_with_media_type() {
    let bytes = cat(&[&h("82 78 2b"), CONCEPTUAL_MSG.as_bytes(), &h("44 2347da55")]);
    let cmw = round_trip(&bytes);
    let r = cmw.node().as_record().unwrap();
    assert_eq!(r.media_type(), Some(&mt(CONCEPTUAL_MSG)));
}

#[test]
fn decodes_draft_record_with_indicator() {
    let bytes = cat(&[
        &h("83 74"),
        b"application/rim+cose",
        &h("4a d28440a044d901f5a040 03"),
    ]);
    let cmw = round_trip(&bytes);
    let ind = cmw.node().as_record().unwrap().indicator().unwrap();
    assert!(ind.contains(Indicator::REFERENCE_VALUES | Indicator::ENDORSEMENTS));
    assert!(!ind.contains(Indicator::EVIDENCE));
}

#[test]
fn decodes_draft_tag_example() {
    let cmw = round_trip(&h("da6374ffe6 44 2347da55"));
    let tag = cmw.node().as_tag().unwrap();
    assert_eq!(tag.number(), 1_668_612_070);
    assert_eq!(tag.value(), h("2347da55"));
}

#[test]
fn decodes_tag_for_content_format_30001() {
    let cmw = round_trip(&h("da637476a7 43 010203"));
    let tag = cmw.node().as_tag().unwrap();
    assert_eq!(tag.content_format(), 30001);
    assert_eq!(tag.number(), 1_668_576_935);
}

#[test]
fn decodes_draft_collection_example() {
    let cmw = round_trip(&draft_collection());
    let c = cmw.node().as_collection().unwrap();
    assert_eq!(
        c.collection_type().map(CollectionType::as_str),
        Some("tag:example.com,2024:composite-attester")
    );
    assert_eq!(c.len(), 3);
    let ev = c.get(&Label::Int(0)).unwrap().as_record().unwrap();
    assert_eq!(ev.indicator(), Some(Indicator::EVIDENCE));
    assert!(c.get(&Label::Int(1)).unwrap().as_tag().is_some());
    let ar = c.get(&Label::Int(2)).unwrap().as_record().unwrap();
    assert_eq!(ar.indicator(), Some(Indicator::ATTESTATION_RESULTS));
    assert_eq!(cmw.node().depth(), 2);
}

#[test]
fn decodes_rfc9261_worked_example_record() {
    let bytes = worked_example_record();
    assert_eq!(bytes.len(), 103);
    let cmw = round_trip(&bytes);
    let r = cmw.node().as_record().unwrap();
    assert_eq!(
        r.media_type().unwrap().as_str(),
        "application/vnd.example.tdx-quote"
    );
    assert_eq!(r.value().len(), 64);
    assert_eq!(r.indicator(), Some(Indicator::EVIDENCE));
}

#[test]
fn encodes_record_like_the_cmw_crate() {
    let node = record("application/vnd.example", &[0xde, 0xad], Some(4));
    let cbor = cat(&[&h("83 77"), b"application/vnd.example", &h("42 dead 04")]);
    assert_eq!(Cmw::new_cbor(node.clone()).encode(), cbor);
    let json = br#"["application/vnd.example","3q0",4]"#;
    assert_eq!(Cmw::new_json(node).unwrap().encode(), json);
    round_trip(&cbor);
    round_trip(json);
}

#[test]
fn decodes_draft_json_examples_in_compact_form() {
    let cmw = round_trip(br#"["application/vnd.example.rats-conceptual-msg","I0faVQ"]"#);
    assert_eq!(cmw.format(), CmwFormat::Json);
    assert_eq!(cmw.node().as_record().unwrap().value(), h("2347da55"));
    let cmw = round_trip(
        br#"["application/eat+cwt; eat_profile=\"tag:psacertified.org,2023:psa#tfm\"","I0faVQ"]"#,
    );
    let m = cmw.node().as_record().unwrap().media_type().unwrap();
    assert_eq!(
        m.parameter("eat_profile"),
        Some("tag:psacertified.org,2023:psa#tfm")
    );
}

#[test]
fn json_and_cbor_decode_to_the_same_tree() {
    let json = Cmw::decode(br#"{"__cmwc_t":"1.2.3","a":["a/b","3q0",4]}"#).unwrap();
    let cbor = Cmw::decode(&json.encode_cbor()).unwrap();
    assert_eq!(json.node(), cbor.node());
    assert_eq!(cbor.encode_json().unwrap(), json.encode());
}

// ---- demultiplexing and the size cap ----

#[test]
fn rejects_empty_input() {
    assert_eq!(Cmw::decode(&[]), Err(CmwError::Empty));
}

#[test]
fn rejects_first_bytes_that_start_no_cmw() {
    for seen in [0x00, 0x40, 0x60, 0xf6, b' ', b'"', b'\n'] {
        assert_eq!(
            Cmw::decode(&[seen, 0x00]),
            Err(CmwError::UnrecognizedStart { seen })
        );
    }
}

#[test]
fn rejects_oversized_input() {
    let mut bytes = h("82 19fde7 5a");
    bytes.extend((MAX_ENCODED_LEN as u32).to_be_bytes());
    bytes.resize(MAX_ENCODED_LEN + 1, 0);
    assert_eq!(
        Cmw::decode(&bytes),
        Err(CmwError::TooLarge {
            limit: MAX_ENCODED_LEN,
            seen: MAX_ENCODED_LEN + 1
        })
    );
}

#[test]
fn accepts_input_of_exactly_the_maximum_size() {
    let len = MAX_ENCODED_LEN - 7;
    let mut bytes = h("82 19fde7 59");
    bytes.extend((len as u16).to_be_bytes());
    bytes.resize(MAX_ENCODED_LEN, 0xab);
    round_trip(&bytes);
}

// ---- CBOR strictness ----

#[test]
fn rejects_indefinite_length_record() {
    let bytes = cat(&[&h("9f 19fde7 44 2347da55 ff")]);
    assert_eq!(
        Cmw::decode(&bytes),
        Err(CmwError::IndefiniteLength { offset: 0 })
    );
}

#[test]
fn rejects_indefinite_length_collection() {
    let bytes = h("bf 00 82 19fde7 44 2347da55 ff");
    assert_eq!(
        Cmw::decode(&bytes),
        Err(CmwError::IndefiniteLength { offset: 0 })
    );
}

#[test]
fn rejects_indefinite_length_value() {
    let bytes = h("82 19fde7 5f 42 2347 42 da55 ff");
    assert_eq!(
        Cmw::decode(&bytes),
        Err(CmwError::IndefiniteLength { offset: 4 })
    );
}

#[test]
fn rejects_map_with_more_pairs_than_declared() {
    // The `cmw` crate's output for a typed collection: the header counts
    // one pair, two follow.
    let bytes = cat(&[
        &h("a1 68"),
        b"__cmwc_t",
        &h("65"),
        b"1.2.3",
        &h("00 82 19fde7 44 2347da55"),
    ]);
    assert!(matches!(
        Cmw::decode(&bytes),
        Err(CmwError::EmptyCollection | CmwError::TrailingBytes { .. })
    ));
    let bytes = h("a1 00 82 19fde7 41 00 01 82 19fde7 41 00");
    assert_eq!(
        Cmw::decode(&bytes),
        Err(CmwError::TrailingBytes {
            offset: 8,
            count: 7
        })
    );
}

#[test]
fn rejects_map_with_fewer_pairs_than_declared() {
    let bytes = h("a2 00 82 19fde7 41 00");
    assert!(matches!(
        Cmw::decode(&bytes),
        Err(CmwError::Truncated { offset: 8, .. })
    ));
}

#[test]
fn rejects_trailing_bytes_after_record() {
    let mut bytes = worked_example_record();
    bytes.push(0x00);
    assert_eq!(
        Cmw::decode(&bytes),
        Err(CmwError::TrailingBytes {
            offset: 103,
            count: 1
        })
    );
}

#[test]
fn rejects_trailing_bytes_after_tag() {
    assert_eq!(
        Cmw::decode(&h("da637476a7 43 010203 ff ff")),
        Err(CmwError::TrailingBytes {
            offset: 9,
            count: 2
        })
    );
}

#[test]
fn rejects_record_of_wrong_length() {
    for (bytes, seen) in [
        (h("81 00"), 1),
        (h("80"), 0),
        (h("84 00 41 00 04 00"), 4),
        (h("98 18"), 24),
    ] {
        assert_eq!(
            Cmw::decode(&bytes),
            Err(CmwError::RecordLength { offset: 0, seen })
        );
    }
}

#[test]
fn rejects_non_shortest_heads() {
    // Content-format 1 as a one-byte argument.
    assert_eq!(
        Cmw::decode(&h("82 1801 41 00")),
        Err(CmwError::NonMinimalHead { offset: 1 })
    );
    // Value length 1 as a two-byte argument.
    assert_eq!(
        Cmw::decode(&h("82 01 590001 00")),
        Err(CmwError::NonMinimalHead { offset: 2 })
    );
    // Indicator 4 as a one-byte argument.
    assert_eq!(
        Cmw::decode(&h("83 01 41 00 1804")),
        Err(CmwError::NonMinimalHead { offset: 4 })
    );
    // Array count as an eight-byte argument.
    assert_eq!(
        Cmw::decode(&h("9b 0000000000000002 01 41 00")),
        Err(CmwError::NonMinimalHead { offset: 0 })
    );
    // A tag number that fits four bytes, in eight.
    assert_eq!(
        Cmw::decode(&h("db 00000000637476a7 43 010203")),
        Err(CmwError::NonMinimalHead { offset: 0 })
    );
}

#[test]
fn rejects_reserved_additional_information() {
    assert_eq!(
        Cmw::decode(&h("82 1c 41 00")),
        Err(CmwError::MalformedHead {
            offset: 1,
            seen: 0x1c
        })
    );
    assert_eq!(
        Cmw::decode(&h("82 01 41 00 ff")),
        Err(CmwError::TrailingBytes {
            offset: 4,
            count: 1
        })
    );
}

#[test]
fn rejects_lengths_beyond_the_input() {
    assert!(matches!(
        Cmw::decode(&h("82 01 58ff 00")),
        Err(CmwError::Truncated { offset: 4, .. })
    ));
    assert!(matches!(
        Cmw::decode(&h("82 01 5b ffffffffffffffff 00")),
        Err(CmwError::Truncated { .. })
    ));
    assert!(matches!(
        Cmw::decode(&h("bb ffffffffffffffff 00 82 01 41 00")),
        Err(CmwError::Truncated { .. })
    ));
}

#[test]
fn rejects_deep_nesting() {
    // Level MAX_DEPTH holds a record inside MAX_DEPTH - 1 collections.
    let leaf = h("82 01 41 00");
    let nest = |levels: usize| {
        let mut bytes = h(&"a1 00 ".repeat(levels));
        bytes.extend(&leaf);
        bytes
    };
    let cmw = round_trip(&nest(MAX_DEPTH - 1));
    assert_eq!(cmw.node().depth(), MAX_DEPTH);
    assert_eq!(
        Cmw::decode(&nest(MAX_DEPTH)),
        Err(CmwError::TooDeep { limit: MAX_DEPTH })
    );
    assert_eq!(
        Cmw::decode(&nest(10_000)),
        Err(CmwError::TooDeep { limit: MAX_DEPTH })
    );
}

#[test]
fn rejects_duplicate_labels() {
    let bytes = h("a2 00 82 01 41 00 00 82 01 41 01");
    assert_eq!(
        Cmw::decode(&bytes),
        Err(CmwError::DuplicateKey { key: "0".into() })
    );
    let bytes = h("a2 6161 82 01 41 00 6161 82 01 41 01");
    assert_eq!(
        Cmw::decode(&bytes),
        Err(CmwError::DuplicateKey {
            key: "\"a\"".into()
        })
    );
}

#[test]
fn rejects_duplicate_collection_type() {
    let t = cat(&[&h("68"), b"__cmwc_t", &h("63"), b"1.2"]);
    let bytes = cat(&[&h("a3"), &t, &t, &h("00 82 01 41 00")]);
    assert_eq!(
        Cmw::decode(&bytes),
        Err(CmwError::DuplicateKey {
            key: "\"__cmwc_t\"".into()
        })
    );
}

#[test]
fn rejects_empty_collections() {
    assert_eq!(Cmw::decode(&h("a0")), Err(CmwError::EmptyCollection));
    let bytes = cat(&[&h("a1 68"), b"__cmwc_t", &h("63"), b"1.2"]);
    assert_eq!(Cmw::decode(&bytes), Err(CmwError::EmptyCollection));
}

#[test]
fn rejects_invalid_collection_types() {
    for seen in [
        "",
        "3.1",
        "1.02",
        "1.",
        "no-scheme",
        "a b:c",
        "x:%zz",
        "x:a#b",
    ] {
        let bytes = cat(&[
            &h("a2 68"),
            b"__cmwc_t",
            &[0x60 + seen.len() as u8],
            seen.as_bytes(),
            &h("00 82 01 41 00"),
        ]);
        assert_eq!(
            Cmw::decode(&bytes),
            Err(CmwError::InvalidCollectionType { seen: seen.into() }),
            "{seen:?}"
        );
    }
}

#[test]
fn accepts_uri_and_oid_collection_types() {
    for t in [
        "0",
        "2.999.0.12",
        "tag:example.com,2024:x",
        "urn:ietf:params:x",
        "https://e.x/a?b=c%2F",
    ] {
        let ct = CollectionType::new(t).unwrap();
        assert_eq!(ct.is_oid(), t.starts_with(['0', '2']));
    }
}

#[test]
fn rejects_collection_labels_of_other_kinds() {
    assert!(matches!(
        Cmw::decode(&h("a1 41 00 82 01 41 00")),
        Err(CmwError::UnexpectedItem {
            offset: 1,
            seen: "a byte string",
            ..
        })
    ));
    assert_eq!(
        Cmw::decode(&h("a1 1b 8000000000000000 82 01 41 00")),
        Err(CmwError::LabelOutOfRange { offset: 1 })
    );
}

#[test]
fn accepts_integer_labels_across_the_i64_range() {
    let bytes =
        h("a3 3b 7fffffffffffffff 82 01 41 00 20 82 01 41 01 1b 7fffffffffffffff 82 01 41 02");
    let cmw = round_trip(&bytes);
    let c = cmw.node().as_collection().unwrap();
    assert!(c.get(&Label::Int(i64::MIN)).is_some());
    assert!(c.get(&Label::Int(-1)).is_some());
    assert!(c.get(&Label::Int(i64::MAX)).is_some());
}

#[test]
fn rejects_indicator_out_of_range() {
    assert_eq!(
        Cmw::decode(&h("83 01 41 00 00")),
        Err(CmwError::IndicatorOutOfRange { seen: 0 })
    );
    assert_eq!(
        Cmw::decode(&h("83 01 41 00 1b 0000000100000000")),
        Err(CmwError::IndicatorOutOfRange { seen: 1 << 32 })
    );
    assert!(matches!(
        Cmw::decode(&h("83 01 41 00 20")),
        Err(CmwError::UnexpectedItem { offset: 4, .. })
    ));
}

#[test]
fn rejects_indicator_bits_the_draft_does_not_assign() {
    let cmw = round_trip(&h("83 01 41 00 18 1f"));
    let ind = cmw.node().as_record().unwrap().indicator().unwrap();
    assert_eq!(ind.bits(), 31);
    assert!(ind.contains(Indicator::EVIDENCE | Indicator::APPRAISAL_POLICY));
    for (bytes, seen) in [
        (h("83 01 41 00 18 20"), 32),
        (h("83 01 41 00 18 24"), 36),
        (h("83 01 41 00 1a ffffffff"), u64::from(u32::MAX)),
    ] {
        assert_eq!(
            Cmw::decode(&bytes),
            Err(CmwError::IndicatorOutOfRange { seen })
        );
    }
    assert_eq!(
        Indicator::new(32),
        Err(CmwError::IndicatorOutOfRange { seen: 32 })
    );
}

#[test]
fn rejects_content_format_above_u16() {
    assert_eq!(
        Cmw::decode(&h("82 1a 00010000 41 00")),
        Err(CmwError::ContentFormatOutOfRange {
            offset: 1,
            seen: 65536
        })
    );
}

#[test]
fn rejects_record_parts_of_the_wrong_kind() {
    // Type as bytes, value as text, indicator as text.
    for (bytes, offset) in [
        (h("82 41 00 41 00"), 1),
        (h("82 01 61 00"), 2),
        (h("83 01 41 00 61 34"), 4),
        (h("82 f5 41 00"), 1),
    ] {
        assert!(
            matches!(Cmw::decode(&bytes), Err(CmwError::UnexpectedItem { offset: o, .. }) if o == offset),
            "{}",
            hex::encode(&bytes)
        );
    }
}

#[test]
fn rejects_record_types_that_are_not_media_types() {
    let bytes = cat(&[&h("82 65"), b"a / b", &h("41 00")]);
    assert!(matches!(
        Cmw::decode(&bytes),
        Err(CmwError::InvalidMediaType { offset: 1, .. })
    ));
}

#[test]
fn rejects_invalid_utf8_text() {
    assert_eq!(
        Cmw::decode(&h("82 63 612fff 41 00")),
        Err(CmwError::InvalidUtf8 { offset: 1 })
    );
    assert_eq!(
        Cmw::decode(&h("a1 61 ff 82 01 41 00")),
        Err(CmwError::InvalidUtf8 { offset: 1 })
    );
}

#[test]
fn rejects_empty_values() {
    assert_eq!(Cmw::decode(&h("82 01 40")), Err(CmwError::EmptyValue));
    assert_eq!(Cmw::decode(&h("da637476a7 40")), Err(CmwError::EmptyValue));
    assert_eq!(Cmw::decode(br#"["a/b",""]"#), Err(CmwError::EmptyValue));
}

#[test]
fn rejects_tags_not_derived_from_a_content_format() {
    for (bytes, seen) in [
        (h("c0 41 00"), 0),
        (h("d8 18 41 00"), 24),
        (h("da 63740100 41 00"), 0x6374_0100),
        (h("da 637400ff 41 00"), 0x6374_00ff),
        (h("da 63750101 41 00"), 0x6375_0101),
        (h("db 0000000163740101 41 00"), 0x1_6374_0101),
    ] {
        assert_eq!(Cmw::decode(&bytes), Err(CmwError::NotCmwTag { seen }));
    }
}

#[test]
fn rejects_tag_around_anything_but_bytes() {
    assert!(matches!(
        Cmw::decode(&h("da637476a7 82 01 41 00")),
        Err(CmwError::UnexpectedItem { offset: 5, .. })
    ));
}

#[test]
fn tag_numbers_follow_rfc9277() {
    assert_eq!(
        Tag::from_content_format(0, [1]).unwrap().number(),
        1_668_546_817
    );
    assert_eq!(
        Tag::from_content_format(65024, [1]).unwrap().number(),
        1_668_612_095
    );
    assert_eq!(
        Tag::from_content_format(65025, [1]),
        Err(CmwError::UntaggableContentFormat { seen: 65025 })
    );
    for cf in [0u16, 1, 254, 255, 256, 30001, 64999, 65024] {
        let tag = Tag::from_content_format(cf, [1]).unwrap();
        assert_eq!(Tag::new(tag.number(), [1]).unwrap().content_format(), cf);
    }
}

#[test]
fn preserves_wire_key_order() {
    // Keys out of RFC 8949 order: text before int, "__cmwc_t" last.
    let bytes = cat(&[
        &h("a3 6162 82 01 41 00 01 82 01 41 01 68"),
        b"__cmwc_t",
        &h("63"),
        b"1.2",
    ]);
    let cmw = round_trip(&bytes);
    let labels: Vec<_> = cmw
        .node()
        .as_collection()
        .unwrap()
        .iter()
        .map(|(l, _)| l.clone())
        .collect();
    assert_eq!(labels, [Label::from("b"), Label::Int(1)]);
}

// ---- JSON strictness ----

#[test]
fn rejects_json_base64_padding() {
    assert_eq!(
        Cmw::decode(br#"["a/b","3q0="]"#),
        Err(CmwError::Base64Padding { offset: 7 })
    );
    assert_eq!(
        Cmw::decode(br#"["a/b","AA=="]"#),
        Err(CmwError::Base64Padding { offset: 7 })
    );
}

#[test]
fn rejects_json_values_that_are_not_canonical_base64url() {
    for value in ["3q1", "+/8", "A", "3q0!"] {
        let json = format!(r#"["a/b","{value}"]"#);
        assert_eq!(
            Cmw::decode(json.as_bytes()),
            Err(CmwError::InvalidBase64 { offset: 7 }),
            "{value}"
        );
    }
}

#[test]
fn rejects_json_whitespace() {
    for (json, offset) in [
        (&br#"["a/b", "AA"]"#[..], 7),
        (br#"[ "a/b","AA"]"#, 1),
        (br#"["a/b","AA"] "#, 12),
        (br#"{"x" :["a/b","AA"]}"#, 4),
        (b"{\"x\":[\"a/b\",\"AA\"]\n}", 17),
    ] {
        let err = Cmw::decode(json).unwrap_err();
        let expected = if offset == 12 {
            CmwError::TrailingBytes { offset, count: 1 }
        } else {
            CmwError::JsonWhitespace { offset }
        };
        assert_eq!(err, expected, "{}", String::from_utf8_lossy(json));
    }
}

#[test]
fn rejects_trailing_bytes_after_json() {
    assert_eq!(
        Cmw::decode(br#"["a/b","AA"]]"#),
        Err(CmwError::TrailingBytes {
            offset: 12,
            count: 1
        })
    );
}

#[test]
fn rejects_json_record_typed_by_a_number() {
    assert!(matches!(
        Cmw::decode(br#"[64999,"AA"]"#),
        Err(CmwError::JsonSyntax {
            offset: 1,
            seen: Some(b'6'),
            ..
        })
    ));
}

#[test]
fn rejects_non_canonical_json_escapes() {
    for (json, offset) in [
        (&br#"["a\/b","AA"]"#[..], 3),
        (br#"["a\u002fb","AA"]"#, 3),
        (br#"{"\u000A":["a/b","AA"]}"#, 2),
        (br#"{"\u000a":["a/b","AA"]}"#, 2),
        (br#"{"\u001F":["a/b","AA"]}"#, 2),
    ] {
        assert_eq!(
            Cmw::decode(json),
            Err(CmwError::NonCanonicalJsonEscape { offset }),
            "{}",
            String::from_utf8_lossy(json)
        );
    }
}

#[test]
fn round_trips_canonical_json_escapes() {
    let json = br#"{"q\"b\\s\b\f\n\r\tc\u0001\u001f\u007f":["a/b; p=\"x\\y\"","AA"]}"#;
    // \u007f is not a control character JSON must escape.
    assert_eq!(
        Cmw::decode(json),
        Err(CmwError::NonCanonicalJsonEscape { offset: 32 })
    );
    let json =
        "{\"q\\\"b\\\\s\\b\\f\\n\\r\\tc\\u0001\\u001f\u{7f}é\":[\"a/b; p=\\\"x\\\\y\\\"\",\"AA\"]}";
    let cmw = round_trip(json.as_bytes());
    let (label, _) = cmw.node().as_collection().unwrap().iter().next().unwrap();
    assert_eq!(
        label,
        &Label::from("q\"b\\s\u{8}\u{c}\n\r\tc\u{1}\u{1f}\u{7f}é")
    );
}

#[test]
fn rejects_raw_control_characters_in_json_strings() {
    assert!(matches!(
        Cmw::decode(b"{\"a\tb\":[\"a/b\",\"AA\"]}"),
        Err(CmwError::JsonSyntax {
            offset: 3,
            seen: Some(b'\t'),
            ..
        })
    ));
}

#[test]
fn rejects_non_canonical_json_numbers() {
    for (json, err) in [
        (
            &br#"["a/b","AA",04]"#[..],
            CmwError::NonCanonicalJsonNumber { offset: 12 },
        ),
        (
            br#"["a/b","AA",-4]"#,
            CmwError::NonCanonicalJsonNumber { offset: 12 },
        ),
        (
            br#"["a/b","AA",4.0]"#,
            CmwError::NonCanonicalJsonNumber { offset: 12 },
        ),
        (
            br#"["a/b","AA",4e0]"#,
            CmwError::NonCanonicalJsonNumber { offset: 12 },
        ),
        (
            br#"["a/b","AA",0]"#,
            CmwError::IndicatorOutOfRange { seen: 0 },
        ),
        (
            br#"["a/b","AA",32]"#,
            CmwError::IndicatorOutOfRange { seen: 32 },
        ),
        (
            br#"["a/b","AA",99999999999999999999999]"#,
            CmwError::IndicatorOutOfRange { seen: u64::MAX },
        ),
    ] {
        assert_eq!(
            Cmw::decode(json),
            Err(err),
            "{}",
            String::from_utf8_lossy(json)
        );
    }
}

#[test]
fn rejects_duplicate_json_labels() {
    assert_eq!(
        Cmw::decode(br#"{"a":["a/b","AA"],"a":["a/b","AQ"]}"#),
        Err(CmwError::DuplicateKey {
            key: "\"a\"".into()
        })
    );
    assert_eq!(
        Cmw::decode(br#"{"__cmwc_t":"1.2","a":["a/b","AA"],"__cmwc_t":"1.2"}"#),
        Err(CmwError::DuplicateKey {
            key: "\"__cmwc_t\"".into()
        })
    );
}

#[test]
fn rejects_empty_json_collections() {
    assert_eq!(Cmw::decode(b"{}"), Err(CmwError::EmptyCollection));
    assert_eq!(
        Cmw::decode(br#"{"__cmwc_t":"1.2"}"#),
        Err(CmwError::EmptyCollection)
    );
}

#[test]
fn rejects_deep_json_nesting() {
    let nest = |levels: usize| {
        format!(
            "{}[\"a/b\",\"AA\"]{}",
            "{\"a\":".repeat(levels),
            "}".repeat(levels)
        )
    };
    round_trip(nest(MAX_DEPTH - 1).as_bytes());
    assert_eq!(
        Cmw::decode(nest(MAX_DEPTH).as_bytes()),
        Err(CmwError::TooDeep { limit: MAX_DEPTH })
    );
}

#[test]
fn rejects_invalid_utf8_json() {
    assert_eq!(
        Cmw::decode(b"[\"a/b\xff\",\"AA\"]"),
        Err(CmwError::InvalidUtf8 { offset: 5 })
    );
}

// ---- building CMWs ----

#[test]
fn json_cannot_carry_tags_content_formats_or_integer_labels() {
    let tag: CmwNode = Tag::from_content_format(1, [1]).unwrap().into();
    let cf: CmwNode = Record::new(RecordType::ContentFormat(1), [1], None)
        .unwrap()
        .into();
    let int_label: CmwNode = Collection::new(None, [(Label::Int(0), record("a/b", &[1], None))])
        .unwrap()
        .into();
    for node in [tag, cf, int_label] {
        assert!(matches!(
            Cmw::new_json(node.clone()),
            Err(CmwError::NotRepresentableInJson { .. })
        ));
        assert!(matches!(
            Cmw::new_cbor(node).encode_json(),
            Err(CmwError::NotRepresentableInJson { .. })
        ));
    }
}

#[test]
fn builds_collections_in_deterministic_key_order() {
    let ct = CollectionType::new("tag:example.com,2024:composite-attester").unwrap();
    let entries = [
        (Label::from("zz"), record("a/b", &[3], None)),
        (Label::from("b"), record("a/b", &[2], None)),
        (Label::Int(-1), record("a/b", &[1], None)),
        (Label::Int(10), record("a/b", &[0], None)),
    ];
    let forward = Collection::new(Some(ct.clone()), entries.clone()).unwrap();
    let backward = Collection::new(Some(ct), entries.into_iter().rev()).unwrap();
    assert_eq!(forward, backward);
    let labels: Vec<_> = forward.iter().map(|(l, _)| l.to_string()).collect();
    assert_eq!(labels, ["10", "-1", "\"b\"", "\"zz\""]);
    let bytes = Cmw::new_cbor(forward).encode();
    // Keys sorted by encoded bytes: 0a, 20, 61 62, 62 7a7a, 68 __cmwc_t.
    assert!(bytes.starts_with(&h("a5 0a")));
    round_trip(&bytes);
}

#[test]
fn builder_rejects_reserved_duplicate_and_missing_entries() {
    let leaf = || record("a/b", &[1], None);
    assert_eq!(
        Collection::new(None, [(Label::from("__cmwc_t"), leaf())]),
        Err(CmwError::ReservedLabel)
    );
    assert_eq!(
        Collection::new(None, [(Label::Int(1), leaf()), (Label::Int(1), leaf())]),
        Err(CmwError::DuplicateKey { key: "1".into() })
    );
    assert_eq!(
        Collection::new(Some(CollectionType::new("1.2").unwrap()), []),
        Err(CmwError::EmptyCollection)
    );
    assert_eq!(
        Record::new(mt("a/b"), Vec::new(), None),
        Err(CmwError::EmptyValue)
    );
    assert_eq!(
        Indicator::new(0),
        Err(CmwError::IndicatorOutOfRange { seen: 0 })
    );
}

#[test]
fn builder_rejects_trees_deeper_than_max_depth() {
    let mut node = record("a/b", &[1], None);
    for _ in 1..MAX_DEPTH {
        node = Collection::new(None, [(Label::Int(0), node)])
            .unwrap()
            .into();
    }
    assert_eq!(node.depth(), MAX_DEPTH);
    assert_eq!(
        Collection::new(None, [(Label::Int(0), node)]),
        Err(CmwError::TooDeep { limit: MAX_DEPTH })
    );
}

#[test]
fn errors_say_what_was_expected_and_seen() {
    let msg = Cmw::decode(&h("82 41 00 41 00")).unwrap_err().to_string();
    assert!(msg.contains("expected a record type"), "{msg}");
    assert!(msg.contains("saw a byte string"), "{msg}");
    let msg = Cmw::decode(&[0x00]).unwrap_err().to_string();
    assert!(msg.contains("saw first byte 0x00"), "{msg}");
}

// ---- never panic ----

#[test]
fn survives_every_truncation_and_byte_flip_of_the_examples() {
    for example in all_examples() {
        round_trip(&example);
        for len in 0..example.len() {
            assert!(Cmw::decode(&example[..len]).is_err(), "prefix {len}");
        }
        for i in 0..example.len() {
            for flip in [0x01, 0x20, 0x80, 0xff] {
                let mut mutated = example.clone();
                mutated[i] ^= flip;
                if let Ok(cmw) = Cmw::decode(&mutated) {
                    assert_eq!(cmw.encode(), mutated);
                }
            }
        }
    }
}
