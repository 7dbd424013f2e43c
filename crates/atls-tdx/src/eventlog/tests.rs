use proptest::prelude::*;

use super::*;

const CCEL_TABLE: &[u8] =
    include_bytes!("../../../../testdata/tdx/go-tdx-guest-ccel/ccel_table.dat");
const CCEL_DATA: &[u8] = include_bytes!("../../../../testdata/tdx/go-tdx-guest-ccel/ccel_data.dat");
const CCEL_QUOTE: &[u8] =
    include_bytes!("../../../../testdata/tdx/go-tdx-guest-ccel/cos-113-tdx-quote.dat");
const DSTACK_TCB_INFO: &[u8] =
    include_bytes!("../../../../testdata/tdx/near-mpc-dstack/tcb_info.json");
const DSTACK_QUOTE: &[u8] = include_bytes!("../../../../testdata/tdx/near-mpc-dstack/quote.bin");

/// RTMR0-3 of a v4 quote, read at their fixed offsets (48-byte header, then the TD report
/// body with RTMR0 at body offset 328).
fn v4_quote_rtmrs(quote: &[u8]) -> Rtmrs {
    let mut out = [[0u8; 48]; 4];
    for (i, mr) in out.iter_mut().enumerate() {
        let at = 48 + 328 + 48 * i;
        mr.copy_from_slice(&quote[at..at + 48]);
    }
    out
}

fn h(s: &str) -> Measurement {
    hex::decode(s).unwrap().try_into().unwrap()
}

#[test]
fn ccel_table_parses() {
    let t = CcelTable::parse(CCEL_TABLE).unwrap();
    assert_eq!(t.cc_type, 2);
    assert_eq!(t.log_area_min_len, 262_144);
    assert_eq!(t.log_area_start, 0xbedb_f000);
}

#[test]
fn ccel_replays_to_quote_rtmr0_to_2_with_rtmr3_zero() {
    let log = EventLog::from_ccel(CCEL_TABLE, CCEL_DATA).unwrap();
    assert_eq!(log.events().len(), 43);
    let count = |imr| log.events().iter().filter(|e| e.imr() == imr).count();
    assert_eq!((count(0), count(1), count(2), count(3)), (16, 7, 20, 0));
    assert!(
        log.events()
            .iter()
            .filter(|e| e.imr() == 2)
            .all(|e| e.event_type() == 0xd)
    );

    let replayed = log.replay();
    assert_eq!(
        replayed[0],
        h(
            "3fa2f61f395b7f5feefb4ec2df61297f109ad8abcd6410c1b7df60f21f37b19297fc35e544039c7e1edece752afd17f6"
        )
    );
    assert_eq!(
        replayed[1],
        h(
            "f62dbc072bd5d3f3438b7b35c39a727f5aea2ffc2473f43723953f530daf62504f0a7944aa62c41a86e8a878c2b122c1"
        )
    );
    assert_eq!(
        replayed[2],
        h(
            "4969684dc87381fc3b3134176c8d8806eaf0a901859f5f70cfae8d17714b46c10a8de219048c9fc09f11f381a6fbe7c1"
        )
    );
    assert_eq!(replayed[3], [0; 48]);
    let verified = log.verify(&v4_quote_rtmrs(CCEL_QUOTE)).unwrap();
    assert_eq!(verified.events().len(), 43);
    let quote = crate::Quote::parse(CCEL_QUOTE).unwrap();
    EventLog::from_ccel(CCEL_TABLE, CCEL_DATA)
        .unwrap()
        .verify_quote(&quote)
        .unwrap();
}

#[test]
fn dstack_log_replays_to_quote_rtmrs() {
    let log = EventLog::from_dstack_json(DSTACK_TCB_INFO).unwrap();
    assert_eq!(log.events().len(), 29);
    let rtmrs = v4_quote_rtmrs(DSTACK_QUOTE);
    assert_eq!(
        rtmrs[3],
        h(
            "86f1808cffc050f3c0c09d29da2bfcec7eba3e8fa52016a7341f28884230f9ca8b56400413d57bce00b578e36790b555"
        )
    );
    assert_eq!(log.replay(), rtmrs);
    let verified = log.verify(&rtmrs).unwrap();
    let compose = verified.runtime_event("compose-hash").unwrap();
    assert_eq!(
        hex::encode(compose.payload().unwrap()),
        "2911e1f733466216dedb862d6d669e11256ee7a34ce4dbc66c4b807ba7a9c895"
    );
}

#[test]
fn dstack_runtime_event_digests_recompute() {
    let log = EventLog::from_dstack_json(DSTACK_TCB_INFO).unwrap();
    let runtime: Vec<_> = log
        .events()
        .iter()
        .filter(|e| e.event_type() == DSTACK_RUNTIME_EVENT_TYPE)
        .collect();
    let names: Vec<_> = runtime.iter().map(|e| e.name().unwrap()).collect();
    assert_eq!(
        names,
        [
            "system-preparing",
            "app-id",
            "compose-hash",
            "instance-id",
            "boot-mr-done",
            "key-provider",
            "storage-fs",
            "system-ready",
            "mpc-image-digest"
        ]
    );
    for e in runtime {
        assert_eq!(e.imr(), 3);
        assert_eq!(
            *e.digest(),
            runtime_event_digest(e.event_type(), e.name().unwrap(), e.payload().unwrap())
        );
    }
}

fn dstack_events() -> Vec<Value> {
    let v: Value = serde_json::from_slice(DSTACK_TCB_INFO).unwrap();
    v["event_log"].as_array().unwrap().clone()
}

#[test]
fn accepts_bare_array_and_string_forms() {
    let events = dstack_events();
    let bare = serde_json::to_vec(&events).unwrap();
    let a = EventLog::from_dstack_json(&bare).unwrap();
    let as_string = serde_json::to_vec(&serde_json::json!({
        "event_log": serde_json::to_string(&events).unwrap()
    }))
    .unwrap();
    let b = EventLog::from_dstack_json(&as_string).unwrap();
    assert_eq!(a, b);
    assert_eq!(a, EventLog::from_dstack_json(DSTACK_TCB_INFO).unwrap());
}

#[test]
fn rejects_runtime_event_whose_payload_was_changed() {
    let mut events = dstack_events();
    let i = events
        .iter()
        .position(|e| e["event"] == "compose-hash")
        .unwrap();
    events[i]["event_payload"] = "00".repeat(32).into();
    let err = EventLog::from_dstack_json(&serde_json::to_vec(&events).unwrap()).unwrap_err();
    match err {
        EventLogError::RuntimeDigestMismatch { index, name, .. } => {
            assert_eq!((index, name.as_str()), (i, "compose-hash"));
        }
        other => panic!("expected RuntimeDigestMismatch, got {other:?}"),
    }
}

#[test]
fn replay_mismatch_names_the_rtmr() {
    let mut events = dstack_events();
    events[0]["digest"] = "11".repeat(48).into();
    let log = EventLog::from_dstack_json(&serde_json::to_vec(&events).unwrap()).unwrap();
    let rtmrs = v4_quote_rtmrs(DSTACK_QUOTE);
    match log.verify(&rtmrs).unwrap_err() {
        EventLogError::ReplayMismatch {
            rtmr,
            expected,
            replayed,
        } => {
            assert_eq!(rtmr, 0);
            assert_eq!(*expected, rtmrs[0]);
            assert_ne!(*replayed, rtmrs[0]);
        }
        other => panic!("expected ReplayMismatch, got {other:?}"),
    }
}

#[test]
fn replay_mismatch_on_dropped_runtime_event() {
    let mut events = dstack_events();
    events.pop();
    let log = EventLog::from_dstack_json(&serde_json::to_vec(&events).unwrap()).unwrap();
    let err = log.verify(&v4_quote_rtmrs(DSTACK_QUOTE)).unwrap_err();
    assert!(
        matches!(err, EventLogError::ReplayMismatch { rtmr: 3, .. }),
        "{err}"
    );
}

#[test]
fn rejects_bad_dstack_fields() {
    let mut events = dstack_events();
    events[0]["imr"] = 4.into();
    let err = EventLog::from_dstack_json(&serde_json::to_vec(&events).unwrap()).unwrap_err();
    assert_eq!(err, EventLogError::InvalidImr { index: 0, imr: 4 });

    let mut events = dstack_events();
    events[1]["digest"] = "abcd".into();
    let err = EventLog::from_dstack_json(&serde_json::to_vec(&events).unwrap()).unwrap_err();
    assert!(
        matches!(
            err,
            EventLogError::Field {
                index: 1,
                field: "digest",
                ..
            }
        ),
        "{err}"
    );

    for bad in [&b"{}"[..], b"3", b"\"x\"", b"[1]", b"not json"] {
        assert!(EventLog::from_dstack_json(bad).is_err());
    }
}

#[test]
fn events_claim_lists_every_event() {
    let log = EventLog::from_dstack_json(DSTACK_TCB_INFO).unwrap();
    let verified = log.verify(&v4_quote_rtmrs(DSTACK_QUOTE)).unwrap();
    let mut claims = Claims::new("test");
    verified.add_to_claims(&mut claims);
    let events = claims.get(EVENTS_CLAIM).unwrap().as_array().unwrap();
    assert_eq!(events.len(), 29);
    let app_id = &events[21];
    assert_eq!(app_id["imr"], 3);
    assert_eq!(app_id["event_type"], DSTACK_RUNTIME_EVENT_TYPE);
    assert_eq!(app_id["name"], "app-id");
    assert_eq!(
        app_id["payload"],
        "2911e1f733466216dedb862d6d669e11256ee7a3"
    );
    assert_eq!(
        app_id["digest"],
        "b1973088d6103fcf15809c6fd26bb0d7ae94e4bbdddc3ce833b597cecf792b2208f167f672fdbb03a065c05b97e3a4b4"
    );
    // Boot events have no name.
    assert!(events[0].get("name").is_none());
    assert!(events[0].get("payload").is_some());
}

#[test]
fn runtime_events_extend_rtmr3_only() {
    let mut log = EventLog::new();
    let d = log.push_runtime_event("key", b"value").unwrap();
    let rtmrs = log.replay();
    assert_eq!(rtmrs[..3], [[0u8; 48]; 3]);
    assert_eq!(rtmrs[3], extend_rtmr(&[0; 48], &d));
}

#[test]
fn rejects_bad_ccel_tables() {
    let mut t = CCEL_TABLE.to_vec();
    t[0] = b'X';
    assert!(matches!(
        CcelTable::parse(&t),
        Err(EventLogError::CcelTable { .. })
    ));

    let mut t = CCEL_TABLE.to_vec();
    t[40] ^= 1;
    assert!(matches!(
        CcelTable::parse(&t),
        Err(EventLogError::CcelTable { .. })
    ));

    // CC type 1 (SEV), checksum fixed up.
    let mut t = CCEL_TABLE.to_vec();
    t[36] = 1;
    t[9] = t[9].wrapping_add(1);
    assert_eq!(
        CcelTable::parse(&t),
        Err(EventLogError::UnsupportedCcType { seen: 1 })
    );

    for n in 0..CCEL_TABLE.len() {
        assert!(CcelTable::parse(&CCEL_TABLE[..n]).is_err(), "prefix {n}");
    }
}

#[test]
fn ccel_header_must_be_spec_id_event() {
    let mut d = CCEL_DATA.to_vec();
    d[32] = b'X'; // inside "Spec ID Event03"
    assert!(matches!(
        EventLog::from_ccel_log(&d),
        Err(EventLogError::SpecIdEvent { .. })
    ));
    let mut d = CCEL_DATA.to_vec();
    d[4] = 4; // header event type must be EV_NO_ACTION
    assert!(matches!(
        EventLog::from_ccel_log(&d),
        Err(EventLogError::SpecIdEvent { .. })
    ));
}

#[test]
fn ccel_rejects_unknown_mr_index() {
    // First event after the 65-byte header.
    let mut d = CCEL_DATA.to_vec();
    d[65] = 7;
    assert_eq!(
        EventLog::from_ccel_log(&d),
        Err(EventLogError::UnknownMrIndex {
            offset: 65,
            index: 7
        })
    );
}

#[test]
fn ccel_truncations_never_panic() {
    // The log proper is ~18 KB; every prefix is either a shorter valid log or an error.
    for n in (0..18_200).step_by(7) {
        if let Ok(log) = EventLog::from_ccel_log(&CCEL_DATA[..n]) {
            assert!(log.events().len() <= 43);
        }
    }
}

proptest! {
    #[test]
    fn random_ccel_logs_never_panic(data in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let _ = EventLog::from_ccel_log(&data);
        let _ = EventLog::from_ccel(&data, &data);
        let _ = CcelTable::parse(&data);
    }

    #[test]
    fn mutated_ccel_logs_never_panic(
        edits in proptest::collection::vec((0usize..18_200, any::<u8>()), 1..8),
    ) {
        let mut d = CCEL_DATA[..18_200].to_vec();
        for (at, b) in edits {
            d[at] = b;
        }
        if let Ok(log) = EventLog::from_ccel_log(&d) {
            let _ = log.replay();
        }
    }

    #[test]
    fn random_dstack_json_never_panics(data in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = EventLog::from_dstack_json(&data);
    }

    #[test]
    fn mutated_dstack_json_never_panics(
        edits in proptest::collection::vec((0usize..DSTACK_TCB_INFO.len(), any::<u8>()), 1..8),
    ) {
        let mut d = DSTACK_TCB_INFO.to_vec();
        for (at, b) in edits {
            d[at] = b;
        }
        let _ = EventLog::from_dstack_json(&d);
    }
}
