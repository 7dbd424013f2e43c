//! Property tests for the CMW codec: everything built encodes, decodes back
//! to itself and re-encodes byte for byte; `ciborium` and `serde_json`, as
//! independent implementations, agree with our bytes; any key order on the
//! wire survives a round trip; arbitrary and mutated input never panics and,
//! when accepted, re-encodes identically.

use std::collections::HashSet;

use atls_evidence::{
    Cmw, CmwError, CmwNode, Collection, CollectionType, Indicator, Label, MediaType, Record,
    RecordType, Tag,
};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ciborium::Value as Cbor;
use proptest::prelude::*;
use serde_json::Value as Json;

// ---- strategies ----

fn token() -> impl Strategy<Value = String> {
    "[A-Za-z0-9][A-Za-z0-9!#$%&'*+.^_`|~-]{0,8}"
}

/// A parameter value: a token, or a quoted string with `"` and `\` escaped.
fn parameter_value() -> impl Strategy<Value = String> {
    prop_oneof![
        token(),
        "[\t -~]{0,10}".prop_map(|raw| {
            let mut quoted = String::from("\"");
            for c in raw.chars() {
                if c == '"' || c == '\\' {
                    quoted.push('\\');
                }
                quoted.push(c);
            }
            quoted.push('"');
            quoted
        }),
    ]
}

/// Media type text with varied spacing around `;`.
fn media_type_text() -> impl Strategy<Value = String> {
    let separator = prop_oneof![Just(";"), Just("; "), Just(" ;"), Just(" ;\t ")];
    (
        token(),
        token(),
        prop::collection::vec((separator, token(), parameter_value()), 0..3),
    )
        .prop_map(|(type_, subtype, parameters)| {
            let mut text = format!("{type_}/{subtype}");
            let mut names = HashSet::new();
            for (separator, name, value) in parameters {
                if names.insert(name.to_ascii_lowercase()) {
                    text.push_str(&format!("{separator}{name}={value}"));
                }
            }
            text
        })
}

fn media_type() -> impl Strategy<Value = MediaType> {
    media_type_text().prop_map(|t| MediaType::parse(&t).unwrap())
}

fn value() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(any::<u8>(), 1..40)
}

fn indicator() -> impl Strategy<Value = Option<Indicator>> {
    prop::option::of(1u32..32).prop_map(|bits| bits.map(|b| Indicator::new(b).unwrap()))
}

fn text_label() -> impl Strategy<Value = Label> {
    prop_oneof!["\\PC{0,6}", "[\\x00-\\x1f\"\\\\a\u{7f}é]{0,4}"]
        .prop_filter("reserved", |s| s != "__cmwc_t")
        .prop_map(Label::Text)
}

fn label() -> impl Strategy<Value = Label> {
    prop_oneof![
        any::<i64>().prop_map(Label::Int),
        (-30i64..30).prop_map(Label::Int),
        text_label()
    ]
}

fn collection_type() -> impl Strategy<Value = Option<CollectionType>> {
    prop::option::of(
        prop_oneof![
            "[0-2](\\.(0|[1-9][0-9]{0,4})){0,4}",
            "[a-z][a-z0-9+.-]{0,6}:[A-Za-z0-9._~:/?@!$&'()*+,;=-]{0,20}",
        ]
        .prop_map(|t| CollectionType::new(t).unwrap()),
    )
}

fn json_record() -> impl Strategy<Value = CmwNode> {
    (media_type(), value(), indicator()).prop_map(|(m, v, i)| Record::new(m, v, i).unwrap().into())
}

fn cbor_leaf() -> impl Strategy<Value = CmwNode> {
    let record_type = prop_oneof![
        media_type().prop_map(RecordType::MediaType),
        any::<u16>().prop_map(RecordType::ContentFormat),
    ];
    prop_oneof![
        (record_type, value(), indicator())
            .prop_map(|(t, v, i)| Record::new(t, v, i).unwrap().into()),
        (0u16..65025, value()).prop_map(|(cf, v)| Tag::from_content_format(cf, v).unwrap().into()),
    ]
}

/// Trees of up to four levels; collections with 1–4 entries.
fn tree(
    leaf: impl Strategy<Value = CmwNode> + 'static,
    label: BoxedStrategy<Label>,
) -> impl Strategy<Value = CmwNode> {
    leaf.prop_recursive(3, 24, 4, move |inner| {
        (
            collection_type(),
            prop::collection::vec((label.clone(), inner), 1..5),
        )
            .prop_filter_map("labels must be unique", |(ct, entries)| {
                Collection::new(ct, entries).ok().map(CmwNode::from)
            })
    })
}

fn cbor_tree() -> impl Strategy<Value = CmwNode> {
    tree(cbor_leaf(), label().boxed())
}

fn json_tree() -> impl Strategy<Value = CmwNode> {
    tree(json_record(), text_label().boxed())
}

// ---- independent encoders ----

fn cbor_label(label: &Label) -> Cbor {
    match label {
        Label::Int(n) => Cbor::Integer((*n).into()),
        Label::Text(t) => Cbor::Text(t.clone()),
    }
}

fn cbor_bytes(v: &Cbor) -> Vec<u8> {
    let mut out = Vec::new();
    ciborium::into_writer(v, &mut out).unwrap();
    out
}

/// The node as a `ciborium` value, collection keys sorted by their encoded
/// bytes (RFC 8949 §4.2.1), as the API promises.
fn cbor_mirror(node: &CmwNode) -> Cbor {
    match node {
        CmwNode::Record(r) => {
            let mut items = vec![
                match r.record_type() {
                    RecordType::MediaType(m) => Cbor::Text(m.as_str().into()),
                    RecordType::ContentFormat(cf) => Cbor::Integer((*cf).into()),
                },
                Cbor::Bytes(r.value().to_vec()),
            ];
            if let Some(i) = r.indicator() {
                items.push(Cbor::Integer(i.bits().into()));
            }
            Cbor::Array(items)
        }
        CmwNode::Tag(t) => Cbor::Tag(t.number(), Box::new(Cbor::Bytes(t.value().to_vec()))),
        CmwNode::Collection(c) => {
            let mut pairs: Vec<(Cbor, Cbor)> = c
                .iter()
                .map(|(l, n)| (cbor_label(l), cbor_mirror(n)))
                .collect();
            if let Some(t) = c.collection_type() {
                pairs.push((Cbor::Text("__cmwc_t".into()), Cbor::Text(t.as_str().into())));
            }
            pairs.sort_by_key(|(k, _)| cbor_bytes(k));
            Cbor::Map(pairs)
        }
    }
}

fn json_mirror(node: &CmwNode) -> Json {
    match node {
        CmwNode::Record(r) => {
            let mut items = vec![
                Json::from(r.media_type().unwrap().as_str()),
                Json::from(URL_SAFE_NO_PAD.encode(r.value())),
            ];
            if let Some(i) = r.indicator() {
                items.push(Json::from(i.bits()));
            }
            Json::Array(items)
        }
        CmwNode::Collection(c) => {
            let mut map = serde_json::Map::new();
            if let Some(t) = c.collection_type() {
                map.insert("__cmwc_t".into(), Json::from(t.as_str()));
            }
            for (l, n) in c.iter() {
                let Label::Text(t) = l else { unreachable!() };
                map.insert(t.clone(), json_mirror(n));
            }
            Json::Object(map)
        }
        _ => unreachable!(),
    }
}

/// Writes a JSON collection by hand, keys in the given order, using
/// `serde_json` for the strings and our encoder for the entries.
fn json_collection_text(
    collection_type: Option<&str>,
    entries: &[(String, CmwNode)],
    type_at: usize,
) -> String {
    let mut members: Vec<String> = entries
        .iter()
        .map(|(l, n)| {
            let value = String::from_utf8(Cmw::new_json(n.clone()).unwrap().encode()).unwrap();
            format!("{}:{value}", serde_json::to_string(l).unwrap())
        })
        .collect();
    if let Some(t) = collection_type {
        let at = type_at.min(members.len());
        members.insert(
            at,
            format!("\"__cmwc_t\":{}", serde_json::to_string(t).unwrap()),
        );
    }
    format!("{{{}}}", members.join(","))
}

fn assert_byte_exact(bytes: &[u8]) -> Result<Cmw, TestCaseError> {
    let cmw = Cmw::decode(bytes).map_err(|e| TestCaseError::fail(format!("{e}")))?;
    prop_assert_eq!(cmw.encode(), bytes);
    Ok(cmw)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn cbor_cmws_round_trip_and_match_ciborium(node in cbor_tree()) {
        let cmw = Cmw::new_cbor(node.clone());
        let bytes = cmw.encode();
        prop_assert_eq!(&assert_byte_exact(&bytes)?, &cmw);
        prop_assert_eq!(cbor_bytes(&cbor_mirror(&node)), bytes.clone());
        let parsed: Cbor = ciborium::from_reader(bytes.as_slice()).unwrap();
        prop_assert_eq!(parsed, cbor_mirror(&node));
    }

    #[test]
    fn json_cmws_round_trip_and_match_serde_json(node in json_tree()) {
        let cmw = Cmw::new_json(node.clone()).unwrap();
        let bytes = cmw.encode();
        prop_assert_eq!(&assert_byte_exact(&bytes)?, &cmw);
        let parsed: Json = serde_json::from_slice(&bytes).unwrap();
        prop_assert_eq!(parsed, json_mirror(&node));
        // serde_json's compact writer produces the same text for records.
        if let CmwNode::Record(_) = node {
            prop_assert_eq!(serde_json::to_vec(&json_mirror(&node)).unwrap(), bytes);
        }
    }

    #[test]
    fn json_cmws_convert_to_cbor_and_back(node in json_tree()) {
        let json = Cmw::new_json(node).unwrap();
        let cbor = Cmw::decode(&json.encode_cbor()).unwrap();
        prop_assert_eq!(cbor.node(), json.node());
        prop_assert_eq!(cbor.encode_json().unwrap(), json.encode());
    }

    #[test]
    fn cbor_collections_round_trip_in_any_key_order(
        ct in collection_type(),
        entries in prop::collection::vec((label(), cbor_leaf()), 1..6),
        seed in any::<prop::sample::Index>(),
    ) {
        let mut seen = HashSet::new();
        let mut pairs: Vec<(Cbor, Cbor)> = entries
            .iter()
            .filter(|(l, _)| seen.insert(l.clone()))
            .map(|(l, n)| (cbor_label(l), cbor_mirror(n)))
            .collect();
        if let Some(t) = &ct {
            let at = seed.index(pairs.len() + 1);
            pairs.insert(at, (Cbor::Text("__cmwc_t".into()), Cbor::Text(t.as_str().into())));
        }
        let shift = seed.index(pairs.len());
        pairs.rotate_left(shift);
        let bytes = cbor_bytes(&Cbor::Map(pairs));
        let cmw = assert_byte_exact(&bytes)?;
        let c = cmw.node().as_collection().unwrap();
        prop_assert_eq!(c.len(), seen.len());
        prop_assert_eq!(c.collection_type(), ct.as_ref());
    }

    #[test]
    fn json_collections_round_trip_in_any_key_order(
        ct in collection_type(),
        entries in prop::collection::vec(("\\PC{0,6}", json_record()), 1..6),
        type_at in 0usize..6,
    ) {
        let mut seen = HashSet::new();
        let entries: Vec<(String, CmwNode)> = entries
            .into_iter()
            .filter(|(l, _)| l != "__cmwc_t" && seen.insert(l.clone()))
            .collect();
        prop_assume!(!entries.is_empty());
        let text = json_collection_text(ct.as_ref().map(CollectionType::as_str), &entries, type_at);
        let cmw = assert_byte_exact(text.as_bytes())?;
        let c = cmw.node().as_collection().unwrap();
        let labels: Vec<_> = c.iter().map(|(l, _)| l.clone()).collect();
        let expected: Vec<_> = entries.iter().map(|(l, _)| Label::Text(l.clone())).collect();
        prop_assert_eq!(labels, expected);
    }

    #[test]
    fn appended_bytes_are_rejected(node in cbor_tree(), extra in prop::collection::vec(any::<u8>(), 1..4)) {
        let mut bytes = Cmw::new_cbor(node).encode();
        let offset = bytes.len();
        bytes.extend(&extra);
        prop_assert_eq!(
            Cmw::decode(&bytes),
            Err(CmwError::TrailingBytes { offset, count: extra.len() })
        );
    }

    #[test]
    fn truncated_encodings_are_rejected(node in json_tree(), cbor in any::<bool>(), cut in any::<prop::sample::Index>()) {
        let cmw = Cmw::new_json(node).unwrap();
        let bytes = if cbor { cmw.encode_cbor() } else { cmw.encode() };
        let len = cut.index(bytes.len());
        prop_assert!(Cmw::decode(&bytes[..len]).is_err());
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
        if let Ok(cmw) = Cmw::decode(&bytes) {
            prop_assert_eq!(cmw.encode(), bytes);
        }
    }

    #[test]
    fn mutated_encodings_never_panic_and_round_trip_when_accepted(
        node in cbor_tree(),
        as_json in any::<bool>(),
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>(), 0u8..3), 1..4),
    ) {
        let cmw = Cmw::new_cbor(node);
        let mut bytes = if as_json { cmw.encode_json().unwrap_or_else(|_| cmw.encode()) } else { cmw.encode() };
        for (at, byte, op) in edits {
            let i = at.index(bytes.len().max(1));
            match op {
                0 if i < bytes.len() => bytes[i] = byte,
                1 => bytes.insert(i.min(bytes.len()), byte),
                _ if i < bytes.len() => { bytes.remove(i); }
                _ => {}
            }
        }
        if let Ok(decoded) = Cmw::decode(&bytes) {
            prop_assert_eq!(decoded.encode(), bytes);
        }
    }

    #[test]
    fn media_types_compare_by_structure(text in media_type_text(), upper in any::<bool>()) {
        let original = MediaType::parse(&text).unwrap();
        // Re-spell: type, subtype and parameter names in another case, no
        // spaces, parameters reversed, values quoted.
        let case = |s: &str| if upper { s.to_ascii_uppercase() } else { s.to_ascii_lowercase() };
        let mut respelled = format!("{}/{}", case(original.type_()), case(original.subtype()));
        let parameters: Vec<_> = original.parameters().collect();
        for (name, value) in parameters.iter().rev() {
            let escaped = value.replace('\\', "\\\\").replace('"', "\\\"");
            respelled.push_str(&format!(";{}=\"{escaped}\"", case(name)));
        }
        let other = MediaType::parse(&respelled).unwrap();
        prop_assert_eq!(&other, &original);
        prop_assert_eq!(other.as_str(), respelled.as_str());
    }
}
