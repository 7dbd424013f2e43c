//! Loading and validating policy documents: every error names its field.

use super::*;

const MRTD: &str = "91eb2b44d141d4ece09f0c75c2c53d247a3c68edd7fafe8a3520c942a604a407de03ae6dc5f87f27428b2538873118b7";

fn minimal() -> String {
    format!("version = 1\n[[tdx.measurements]]\nmr_td = \"{MRTD}\"\n")
}

/// The error of loading `toml`, which must fail.
fn toml_err(toml: &str) -> (String, Option<(usize, usize)>, String) {
    match Policy::from_toml_str(toml) {
        Ok(_) => panic!("loaded, expected an error:\n{toml}"),
        Err(PolicyError::Invalid {
            path,
            location,
            message,
        }) => (path, location, message),
        Err(other) => panic!("unexpected error {other}"),
    }
}

#[test]
fn loads_minimal_production_policy() {
    let policy = Policy::from_toml_str(&minimal()).unwrap();
    assert_eq!(policy.mode(), Mode::Production);
    assert_eq!(policy.tcb_statuses(), [TcbStatus::UpToDate]);
    assert_eq!(policy.measurement_sets().len(), 1);
    assert_eq!(policy.measurement_sets()[0].name(), "#0");
    assert!(policy.identity().same_key_as_handshake());
}

#[test]
fn requires_version_one() {
    let (path, _, message) = toml_err("[evidence]\naccept = [\"tdx\"]\n");
    assert_eq!(path, "");
    assert!(message.contains("version"), "{message}");

    let (path, location, message) = toml_err("version = 2\n");
    assert_eq!(path, "version");
    assert_eq!(location, Some((1, 11)));
    assert!(
        message.contains("unsupported policy version 2"),
        "{message}"
    );
}

#[test]
fn rejects_unknown_fields_so_typos_never_mean_any() {
    let toml = format!("{}rtmr_1 = \"{MRTD}\"\n", minimal());
    let (path, location, message) = toml_err(&toml);
    assert_eq!(path, "tdx.measurements[0].rtmr_1");
    assert_eq!(location.map(|l| l.0), Some(4));
    assert!(message.contains("unknown field `rtmr_1`"), "{message}");
}

#[test]
fn there_is_no_switch_for_debug_tds() {
    let toml = format!("{}[tdx.tcb]\nallow_debug = true\n", minimal());
    let (path, _, message) = toml_err(&toml);
    assert_eq!(path, "tdx.tcb.allow_debug");
    assert!(message.contains("allow_debug"), "{message}");
}

#[test]
fn rejects_wrong_register_length_at_its_line() {
    let short = &MRTD[..94];
    let toml = format!(
        "version = 1\n\n[[tdx.measurements]]\nname = \"a\"\nrtmr1 = [\"{MRTD}\", \"{short}\"]\n"
    );
    let (path, location, message) = toml_err(&toml);
    assert_eq!(path, "tdx.measurements[0].rtmr1[1]");
    assert_eq!(location.map(|l| l.0), Some(5));
    assert!(message.contains("expected 48 bytes"), "{message}");
}

#[test]
fn rejects_non_hex_and_empty_lists() {
    let toml = "version = 1\n[[tdx.measurements]]\nxfam = \"e70206000000000g\"\n";
    let (path, _, message) = toml_err(toml);
    assert_eq!(path, "tdx.measurements[0].xfam");
    assert!(message.contains("not hex"), "{message}");

    let toml = "version = 1\n[[tdx.measurements]]\nmr_td = []\n";
    let (path, _, message) = toml_err(toml);
    assert_eq!(path, "tdx.measurements[0].mr_td");
    assert!(message.contains("empty list"), "{message}");
}

#[test]
fn accepts_hex_in_any_case_and_0x_prefix() {
    let toml = format!(
        "version = 1\n[[tdx.measurements]]\nmr_td = \"0x{}\"\n",
        MRTD.to_uppercase()
    );
    let policy = Policy::from_toml_str(&toml).unwrap();
    let set = &policy.measurement_sets()[0];
    assert_eq!(hex::encode(&set.values(Register::MrTd)[0]), MRTD);
}

#[test]
fn rejects_unknown_and_revoked_statuses() {
    let toml = format!(
        "{}[tdx.tcb]\nstatuses = [\"UpToDate\", \"UpToDat\"]\n",
        minimal()
    );
    let (path, location, message) = toml_err(&toml);
    assert_eq!(path, "tdx.tcb.statuses[1]");
    assert_eq!(location.map(|l| l.0), Some(5));
    assert!(
        message.contains("unknown TCB status \"UpToDat\""),
        "{message}"
    );

    let toml = format!(
        "{}[tdx.tcb]\nstatuses = [\"UpToDate\", \"Revoked\"]\n",
        minimal()
    );
    let (path, _, message) = toml_err(&toml);
    assert_eq!(path, "tdx.tcb.statuses");
    assert!(message.contains("Revoked"), "{message}");

    let toml = "version = 1\nmode = \"dev\"\n[tdx.tcb]\nstatuses = [\"Revoked\"]\n";
    let (path, _, _) = toml_err(toml);
    assert_eq!(path, "tdx.tcb.statuses");
}

#[test]
fn grace_period_needs_out_of_date_and_production_out_of_date_needs_grace() {
    let toml = format!("{}[tdx.tcb]\ngrace_period = \"30d\"\n", minimal());
    let (path, _, message) = toml_err(&toml);
    assert_eq!(path, "tdx.tcb.grace_period");
    assert!(message.contains("OutOfDate"), "{message}");

    let toml = format!(
        "{}[tdx.tcb]\nstatuses = [\"UpToDate\", \"OutOfDate\"]\n",
        minimal()
    );
    let (path, _, message) = toml_err(&toml);
    assert_eq!(path, "tdx.tcb.statuses");
    assert!(message.contains("grace_period"), "{message}");

    let toml = "version = 1\nmode = \"dev\"\n[tdx.tcb]\nstatuses = [\"OutOfDate\"]\n";
    assert!(Policy::from_toml_str(toml).is_ok());

    let toml = format!(
        "{}[tdx.tcb]\nstatuses = [\"UpToDate\", \"OutOfDate\"]\ngrace_period = 86400\n",
        minimal()
    );
    let policy = Policy::from_toml_str(&toml).unwrap();
    assert_eq!(policy.tdx.grace_period, Some(86_400));
}

#[test]
fn rejects_bad_durations() {
    let toml = format!(
        "{}[tdx.tcb]\nstatuses = [\"OutOfDate\"]\ngrace_period = \"thirty days\"\n",
        minimal()
    );
    let (path, _, message) = toml_err(&toml);
    assert_eq!(path, "tdx.tcb.grace_period");
    assert!(message.contains("not a duration"), "{message}");

    let toml = format!("{}[tdx.tcb]\nmax_collateral_age = -5\n", minimal());
    let (path, _, message) = toml_err(&toml);
    assert_eq!(path, "tdx.tcb.max_collateral_age");
    assert!(message.contains("negative"), "{message}");
}

#[test]
fn production_tdx_policy_must_pin_measurements() {
    let (path, _, message) = toml_err("version = 1\n");
    assert_eq!(path, "tdx.measurements");
    assert!(message.contains("must pin measurements"), "{message}");

    let (path, _, message) = toml_err("version = 1\n[[tdx.measurements]]\nname = \"empty\"\n");
    assert_eq!(path, "tdx.measurements[0]");
    assert!(message.contains("pins no register"), "{message}");

    // A production policy for attestation results only needs no measurements.
    let policy = Policy::from_toml_str("version = 1\n[evidence]\naccept = [\"ear\"]\n").unwrap();
    assert!(policy.measurement_sets().is_empty());

    // Dev mode: any measurements.
    assert!(Policy::from_toml_str("version = 1\nmode = \"dev\"\n").is_ok());
}

#[test]
fn rejects_duplicate_set_names() {
    let toml = format!(
        "version = 1\n[[tdx.measurements]]\nname = \"a\"\nmr_td = \"{MRTD}\"\n\
         [[tdx.measurements]]\nname = \"a\"\nmr_td = \"{MRTD}\"\n"
    );
    let (path, _, _) = toml_err(&toml);
    assert_eq!(path, "tdx.measurements[1].name");
}

#[test]
fn insecure_test_evidence_only_in_dev_mode() {
    let toml = format!(
        "{}[evidence]\naccept = [\"tdx\", \"insecure-test\"]\n",
        minimal()
    );
    let (path, _, message) = toml_err(&toml);
    assert_eq!(path, "evidence.accept[1]");
    assert!(message.contains("proves nothing"), "{message}");

    let toml = "version = 1\nmode = \"dev\"\n[evidence]\naccept = [\"insecure-test\"]\n";
    assert!(Policy::from_toml_str(toml).is_ok());
}

#[test]
fn rejects_bad_evidence_types() {
    let toml = format!(
        "{}[evidence]\naccept = [\"tdx\", \"not a type\"]\n",
        minimal()
    );
    let (path, _, message) = toml_err(&toml);
    assert_eq!(path, "evidence.accept[1]");
    assert!(message.contains("neither an alias"), "{message}");

    let toml = format!("{}[evidence]\naccept = []\n", minimal());
    let (path, _, _) = toml_err(&toml);
    assert_eq!(path, "evidence.accept");
}

#[test]
fn event_rules_are_validated() {
    let toml = format!("{}[[tdx.events]]\nrtmr = 3\n", minimal());
    let (path, _, message) = toml_err(&toml);
    assert_eq!(path, "tdx.events[0]");
    assert!(message.contains("matches any event"), "{message}");

    let toml = format!("{}[[tdx.events]]\nrtmr = 4\nname = \"x\"\n", minimal());
    let (path, _, message) = toml_err(&toml);
    assert_eq!(path, "tdx.events[0].rtmr");
    assert!(message.contains("RTMR0..RTMR3"), "{message}");

    let toml = format!(
        "{}[[tdx.events]]\nrtmr = 3\nname = \"compose-hash\"\npayload = \"abcd\"\n",
        minimal()
    );
    let policy = Policy::from_toml_str(&toml).unwrap();
    assert_eq!(policy.tdx.events[0].payload, vec![vec![0xab, 0xcd]]);
}

#[test]
fn identity_section_is_exposed_and_validated() {
    let toml = format!(
        "{}[identity]\nsame_key_as_handshake = false\nnames = [\"a.example\", \"10.1.2.3\"]\n",
        minimal()
    );
    let policy = Policy::from_toml_str(&toml).unwrap();
    assert!(!policy.identity().same_key_as_handshake());
    assert_eq!(policy.identity().names(), ["a.example", "10.1.2.3"]);

    let toml = format!("{}[identity]\nnames = [\"a b\"]\n", minimal());
    let (path, _, _) = toml_err(&toml);
    assert_eq!(path, "identity.names[0]");
}

#[test]
fn claim_rules_need_values() {
    let toml = "version = 1\nmode = \"dev\"\n[[claims]]\nclaim = \"x\"\none_of = []\n";
    let (path, _, _) = toml_err(toml);
    assert_eq!(path, "claims[0].one_of");
}

#[test]
fn toml_syntax_errors_have_a_location() {
    let (path, location, _) = toml_err("version = 1\n[tdx\n");
    assert_eq!(path, "");
    assert_eq!(location.map(|l| l.0), Some(2));
}

#[test]
fn json_uses_the_same_schema_and_names_the_path() {
    let json = format!(
        r#"{{"version": 1, "tdx": {{"measurements": [{{"name": "a", "mr_td": "{MRTD}"}}],
            "tcb": {{"statuses": ["UpToDate", "OutOfDate"], "grace_period": "30d"}}}}}}"#
    );
    let policy = Policy::from_json_str(&json).unwrap();
    assert_eq!(policy.tdx.grace_period, Some(30 * 86_400));
    assert_eq!(policy.measurement_sets()[0].name(), "a");

    let json = r#"{"version": 1, "tdx": {"measurements": [{"mr_td": "00"}]}}"#;
    match Policy::from_json_str(json) {
        Err(PolicyError::Invalid { path, message, .. }) => {
            assert_eq!(path, "tdx.measurements[0].mr_td");
            assert!(message.contains("expected 48 bytes"), "{message}");
        }
        other => panic!("{other:?}"),
    }
    assert!(Policy::from_json_str(r#"{"version": 1, "mode": "dev"} x"#).is_err());
}

#[test]
fn rejects_oversized_documents() {
    let big = format!("version = 1\n#{}\n", "x".repeat(document::MAX_DOCUMENT_LEN));
    let (_, _, message) = toml_err(&big);
    assert!(message.contains("at most"), "{message}");
}

#[cfg(not(feature = "rego"))]
#[test]
fn rego_section_needs_the_feature() {
    let toml = "version = 1\nmode = \"dev\"\n[rego]\nsource = \"package atls\"\n";
    let (path, _, message) = toml_err(toml);
    assert_eq!(path, "rego");
    assert!(message.contains("feature `rego`"), "{message}");
}

#[cfg(feature = "rego")]
#[test]
fn rego_errors_point_at_the_source_field() {
    let toml = "version = 1\nmode = \"dev\"\n[rego]\nsource = \"package other\\nallow := true\"\n";
    let (path, _, message) = toml_err(toml);
    assert_eq!(path, "rego.source");
    assert!(message.contains("package atls"), "{message}");
}

#[test]
fn measurement_set_builder_validates_lengths() {
    let err = MeasurementSet::new("x")
        .allow(Register::Xfam, MRTD)
        .unwrap_err();
    assert!(err.to_string().contains("xfam"), "{err}");
    let set = MeasurementSet::new("x")
        .allow(Register::MrTd, MRTD)
        .unwrap()
        .allow(Register::MrTd, &MRTD.to_uppercase())
        .unwrap();
    assert_eq!(set.values(Register::MrTd).len(), 1, "duplicates are merged");
}

#[test]
fn register_names_match_document_and_claims() {
    for register in Register::ALL {
        assert_eq!(register.claim(), format!("tdx.{}", register.field()));
    }
}

#[test]
fn policy_is_send_and_sync() {
    fn check<T: Send + Sync + 'static>() {}
    check::<Policy>();
    check::<Verdict>();
    check::<crate::PolicyRejected>();
}
