//! A fake configfs-tsm "kernel" over a temporary directory, and the generator's tests.

use std::fs;
use std::sync::atomic::AtomicU32;

use super::*;

const TEMPLATE: &[u8] = include_bytes!("../../../../testdata/tdx/dcap-qvl/tdx_quote");
const REPORT_DATA_OFFSET: usize = 48 + 520;

/// What the fake kernel does when `outblob` is read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Outblob {
    /// A quote over the REPORTDATA written to `inblob`.
    Quote,
    /// The attribute does not exist (an old kernel, another provider's layout).
    Missing,
    /// The read fails with EIO (the host's quoting service failed).
    Eio,
    /// The first read fails with EBUSY.
    BusyOnce,
    /// A quote over other REPORTDATA.
    OtherReportData,
    /// Bytes that are not a quote.
    Garbage,
    /// Nothing.
    Empty,
}

/// Emulates the kernel side of configfs-tsm on a plain directory: `create_dir` makes the
/// attribute files, a write to `inblob` bumps `generation`, reading `outblob` produces the
/// quote, `remove_dir` removes the attributes with the entry.
#[derive(Debug)]
pub(crate) struct FakeKernel {
    provider: String,
    outblob: Outblob,
    /// Inblob writes that another writer "races": it writes once more before our read.
    races: AtomicU32,
    busy: AtomicU32,
    pub(crate) entries_made: AtomicU32,
}

impl FakeKernel {
    pub(crate) fn new(outblob: Outblob) -> Self {
        Self {
            provider: "tdx_guest".into(),
            busy: AtomicU32::new(u32::from(outblob == Outblob::BusyOnce)),
            outblob,
            races: AtomicU32::new(0),
            entries_made: AtomicU32::new(0),
        }
    }

    pub(crate) fn with_provider(mut self, provider: &str) -> Self {
        self.provider = provider.into();
        self
    }

    pub(crate) fn with_races(self, n: u32) -> Self {
        self.races.store(n, Ordering::SeqCst);
        self
    }

    fn bump_generation(entry: &Path, by: u64) -> io::Result<()> {
        let path = entry.join("generation");
        let g: u64 = fs::read_to_string(&path)?.trim().parse().unwrap();
        fs::write(path, format!("{}\n", g + by))
    }
}

fn name(path: &Path) -> &str {
    path.file_name().unwrap().to_str().unwrap()
}

impl TsmFs for FakeKernel {
    fn create_dir(&self, path: &Path) -> io::Result<()> {
        fs::create_dir(path)?;
        self.entries_made.fetch_add(1, Ordering::SeqCst);
        fs::write(path.join("provider"), format!("{}\n", self.provider))?;
        fs::write(path.join("generation"), "0\n")?;
        fs::write(path.join("inblob"), b"")?;
        fs::write(path.join("auxblob"), b"")?;
        if self.outblob != Outblob::Missing {
            fs::write(path.join("outblob"), b"")?;
        }
        Ok(())
    }

    fn remove_dir(&self, path: &Path) -> io::Result<()> {
        for f in fs::read_dir(path)? {
            fs::remove_file(f?.path())?;
        }
        fs::remove_dir(path)
    }

    fn read(&self, path: &Path, limit: usize) -> io::Result<Vec<u8>> {
        if name(path) == "outblob" {
            let entry = path.parent().unwrap();
            let report_data = fs::read(entry.join("inblob"))?;
            let quote = match self.outblob {
                Outblob::Missing => return StdFs.read(path, limit),
                Outblob::Eio => return Err(io::Error::from_raw_os_error(5)),
                Outblob::BusyOnce if self.busy.swap(0, Ordering::SeqCst) == 1 => {
                    return Err(io::Error::from(io::ErrorKind::ResourceBusy));
                }
                Outblob::Quote | Outblob::BusyOnce => {
                    let mut q = TEMPLATE.to_vec();
                    q[REPORT_DATA_OFFSET..REPORT_DATA_OFFSET + 64].copy_from_slice(&report_data);
                    q
                }
                Outblob::OtherReportData => TEMPLATE.to_vec(),
                Outblob::Garbage => b"not a quote".to_vec(),
                Outblob::Empty => Vec::new(),
            };
            fs::write(path, &quote)?;
        }
        StdFs.read(path, limit)
    }

    fn write(&self, path: &Path, data: &[u8]) -> io::Result<()> {
        if name(path) != "inblob" {
            return Err(io::Error::from(io::ErrorKind::PermissionDenied));
        }
        StdFs.write(path, data)?;
        let entry = path.parent().unwrap();
        let raced = self
            .races
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok();
        Self::bump_generation(entry, if raced { 2 } else { 1 })
    }
}

pub(crate) fn tsm(root: &Path, kernel: Arc<FakeKernel>) -> ConfigfsTsm {
    let mut tsm = ConfigfsTsm::with_fs(root.to_path_buf(), kernel);
    tsm.backoff = Duration::ZERO;
    tsm
}

pub(crate) fn assert_no_entries_left(root: &Path) {
    let left: Vec<_> = fs::read_dir(root).unwrap().collect();
    assert!(left.is_empty(), "entries left behind: {left:?}");
}

fn report_data() -> [u8; 64] {
    core::array::from_fn(|i| i as u8)
}

fn run(kernel: FakeKernel) -> (Result<Vec<u8>, ConfigfsError>, Arc<FakeKernel>) {
    let dir = tempfile::tempdir().unwrap();
    let kernel = Arc::new(kernel);
    let result = tsm(dir.path(), kernel.clone()).generate(report_data());
    assert_no_entries_left(dir.path());
    (result, kernel)
}

#[test]
fn generates_a_quote_over_the_report_data() {
    let (result, kernel) = run(FakeKernel::new(Outblob::Quote));
    let quote = Quote::parse(&result.unwrap()).unwrap();
    assert_eq!(quote.report().report_data, report_data());
    assert_eq!(kernel.entries_made.load(Ordering::SeqCst), 1);
}

#[test]
fn rejects_another_provider() {
    let (result, kernel) = run(FakeKernel::new(Outblob::Quote).with_provider("sev_guest"));
    match result {
        Err(ConfigfsError::WrongProvider { expected, seen }) => {
            assert_eq!(expected, "tdx_guest");
            assert_eq!(seen, "sev_guest");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(kernel.entries_made.load(Ordering::SeqCst), 1);
}

#[test]
fn retries_after_a_concurrent_writer() {
    let (result, kernel) = run(FakeKernel::new(Outblob::Quote).with_races(1));
    assert!(result.is_ok(), "{result:?}");
    assert_eq!(kernel.entries_made.load(Ordering::SeqCst), 2);
}

#[test]
fn gives_up_when_every_attempt_is_raced() {
    let (result, kernel) = run(FakeKernel::new(Outblob::Quote).with_races(u32::MAX));
    match result {
        Err(ConfigfsError::GenerationChanged {
            before,
            after,
            attempts,
        }) => {
            assert_eq!((before, after, attempts), (0, 2, MAX_ATTEMPTS));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(kernel.entries_made.load(Ordering::SeqCst), MAX_ATTEMPTS);
}

#[test]
fn missing_outblob_is_an_io_error() {
    let (result, _) = run(FakeKernel::new(Outblob::Missing));
    match result {
        Err(ConfigfsError::Io {
            operation,
            path,
            source,
        }) => {
            assert_eq!(operation, "read");
            assert!(path.ends_with("outblob"));
            assert_eq!(source.kind(), io::ErrorKind::NotFound);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn kernel_eio_on_outblob_is_an_io_error() {
    let (result, kernel) = run(FakeKernel::new(Outblob::Eio));
    match result {
        Err(ConfigfsError::Io { source, .. }) => assert_eq!(source.raw_os_error(), Some(5)),
        other => panic!("{other:?}"),
    }
    // EIO is not retried.
    assert_eq!(kernel.entries_made.load(Ordering::SeqCst), 1);
}

#[test]
fn busy_device_is_retried() {
    let (result, kernel) = run(FakeKernel::new(Outblob::BusyOnce));
    assert!(result.is_ok(), "{result:?}");
    assert_eq!(kernel.entries_made.load(Ordering::SeqCst), 2);
}

#[test]
fn quote_over_other_report_data_is_rejected() {
    let (result, _) = run(FakeKernel::new(Outblob::OtherReportData));
    assert!(matches!(
        result,
        Err(ConfigfsError::ReportDataMismatch { .. })
    ));
}

#[test]
fn outblob_that_is_not_a_quote_is_rejected() {
    let (result, _) = run(FakeKernel::new(Outblob::Garbage));
    assert!(matches!(
        result,
        Err(ConfigfsError::Quote(QuoteError::Truncated { .. }))
    ));
    let (result, _) = run(FakeKernel::new(Outblob::Empty));
    assert!(matches!(result, Err(ConfigfsError::EmptyOutblob)));
}

#[test]
fn plain_directory_without_kernel_fails_cleanly() {
    // The real file system on a directory configfs does not back: mkdir works, the
    // attributes never appear.
    let dir = tempfile::tempdir().unwrap();
    let result = ConfigfsTsm::new(dir.path().to_path_buf()).generate(report_data());
    match result {
        Err(ConfigfsError::Io {
            operation, path, ..
        }) => {
            assert_eq!(operation, "read");
            assert!(path.ends_with("provider"));
        }
        other => panic!("{other:?}"),
    }
    assert_no_entries_left(dir.path());
}

#[test]
fn missing_root_is_an_io_error() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("no-tsm");
    match ConfigfsTsm::new(root).generate(report_data()) {
        Err(ConfigfsError::Io { operation, .. }) => assert_eq!(operation, "create entry"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn concurrent_requests_use_separate_entries() {
    let dir = tempfile::tempdir().unwrap();
    let kernel = Arc::new(FakeKernel::new(Outblob::Quote));
    let tsm = Arc::new(tsm(dir.path(), kernel.clone()));
    let handles: Vec<_> = (0..4u8)
        .map(|i| {
            let tsm = tsm.clone();
            std::thread::spawn(move || {
                let rd = [i; 64];
                let q = tsm.generate(rd).unwrap();
                assert_eq!(Quote::parse(&q).unwrap().report().report_data, rd);
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    assert_eq!(kernel.entries_made.load(Ordering::SeqCst), 4);
    assert_no_entries_left(dir.path());
}
