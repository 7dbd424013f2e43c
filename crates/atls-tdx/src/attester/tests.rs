use std::sync::atomic::Ordering;

use super::*;
use crate::configfs::tests::{FakeKernel, Outblob, assert_no_entries_left, tsm};
use crate::quote::Quote;
use crate::test_binding::{sha256_binding, sha384_binding};

fn attester(root: &std::path::Path, kernel: Arc<FakeKernel>) -> TdxAttester {
    TdxAttester::with_tsm(tsm(root, kernel))
}

#[test]
fn attests_with_binder_and_aik_hash_in_report_data() {
    let dir = tempfile::tempdir().unwrap();
    let kernel = Arc::new(FakeKernel::new(Outblob::Quote));
    let binding = sha256_binding();
    let cmw = pollster::block_on(attester(dir.path(), kernel).attest(&binding)).unwrap();

    let cmw = Cmw::decode(&cmw).unwrap();
    let record = cmw.node().as_record().unwrap();
    assert_eq!(
        record.media_type(),
        Some(&MediaType::parse(TDX_QUOTE_MEDIA_TYPE).unwrap())
    );
    assert!(record.indicator().unwrap().contains(Indicator::EVIDENCE));
    let quote = Quote::parse(record.value()).unwrap();
    let rd = quote.report().report_data;
    assert_eq!(&rd[..32], binding.binder());
    assert_eq!(&rd[32..], binding.aik_pub_hash());
    assert_no_entries_left(dir.path());
}

#[test]
fn cb_05_sha384_binding_is_refused_by_attester() {
    let dir = tempfile::tempdir().unwrap();
    let kernel = Arc::new(FakeKernel::new(Outblob::Quote));
    let err = pollster::block_on(attester(dir.path(), kernel.clone()).attest(&sha384_binding()))
        .unwrap_err();
    assert!(
        matches!(err, EvidenceError::UnsupportedSuiteForProfile(_)),
        "{err:?}"
    );
    // Refused before any quote was asked for.
    assert_eq!(kernel.entries_made.load(Ordering::SeqCst), 0);
}

#[test]
fn generation_failure_is_a_typed_backend_error() {
    let dir = tempfile::tempdir().unwrap();
    let kernel = Arc::new(FakeKernel::new(Outblob::Quote).with_provider("sev_guest"));
    let err =
        pollster::block_on(attester(dir.path(), kernel).attest(&sha256_binding())).unwrap_err();
    match err {
        EvidenceError::Backend(b) => assert!(matches!(
            b.downcast_ref::<ConfigfsError>(),
            Some(ConfigfsError::WrongProvider { .. })
        )),
        other => panic!("{other:?}"),
    }
    assert_no_entries_left(dir.path());
}

#[test]
fn default_attester_uses_the_kernel_path() {
    assert!(format!("{:?}", TdxAttester::new()).contains("/sys/kernel/config/tsm/report"));
}

#[test]
fn worker_that_dies_completes_the_future() {
    let (tx, rx) = oneshot::<u32>();
    std::thread::spawn(move || {
        let _tx = tx;
        panic!("worker died");
    })
    .join()
    .unwrap_err();
    assert_eq!(pollster::block_on(rx), None);
    let (tx, rx) = oneshot::<u32>();
    std::thread::spawn(move || tx.send(7));
    assert_eq!(pollster::block_on(rx), Some(7));
}
