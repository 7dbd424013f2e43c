//! Quote generation inside a TD through Linux configfs-tsm (kernel 6.7 and later).
//!
//! One request:
//!
//! ```text
//! mkdir  <root>/<unique>        the kernel creates provider, generation, inblob, outblob…
//! read   provider               must be "tdx_guest"
//! read   generation             g0
//! write  inblob                 the 64-byte REPORTDATA; the kernel bumps generation
//! read   outblob                the kernel gets the TD report signed into a quote
//! read   generation             g1: anything but g0 + 1 means another writer raced us
//! rmdir  <root>/<unique>        always, also on error
//! ```
//!
//! The generator is crate-private on purpose: nothing outside this crate can ask for a quote
//! over caller-chosen REPORTDATA (see `TdxAttester`).

use core::fmt;
use std::io::{self, Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::quote::{MAX_QUOTE_LEN, Quote, QuoteError};

/// Where the kernel exposes configfs-tsm reports.
pub(crate) const DEFAULT_TSM_REPORT_ROOT: &str = "/sys/kernel/config/tsm/report";
/// The provider name of the TDX guest driver.
const TDX_PROVIDER: &str = "tdx_guest";
/// Attempts before a race or a busy device is reported.
pub(crate) const MAX_ATTEMPTS: u32 = 3;
/// Names tried when an entry of the same name already exists.
const MAX_NAME_TRIES: u32 = 8;
/// Longest `provider` / `generation` value read.
const MAX_ATTRIBUTE_LEN: usize = 64;

/// Why no quote could be generated through configfs-tsm.
#[derive(Debug)]
#[non_exhaustive]
pub enum ConfigfsError {
    /// A file operation failed.
    Io {
        /// What was being done.
        operation: &'static str,
        /// On which path.
        path: PathBuf,
        /// The error.
        source: io::Error,
    },
    /// The report provider is not the TDX guest driver.
    WrongProvider {
        /// The provider required.
        expected: &'static str,
        /// The provider seen.
        seen: String,
    },
    /// `generation` does not hold a decimal number.
    BadGeneration {
        /// What it holds.
        seen: String,
    },
    /// Another writer used the entry between our write and our read, on every attempt.
    GenerationChanged {
        /// `generation` before our write.
        before: u64,
        /// `generation` after our read (ours alone would make it `before + 1`).
        after: u64,
        /// Attempts made.
        attempts: u32,
    },
    /// The kernel returned no quote.
    EmptyOutblob,
    /// The kernel returned more than a quote can be.
    OutblobTooLarge {
        /// The limit.
        limit: usize,
    },
    /// What the kernel returned is not a TDX quote.
    Quote(QuoteError),
    /// The quote does not carry the REPORTDATA written.
    ReportDataMismatch {
        /// What was written.
        expected: Vec<u8>,
        /// What the quote carries.
        seen: Vec<u8>,
    },
    /// The worker thread could not be started or ended without an answer.
    Worker(String),
}

impl fmt::Display for ConfigfsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Io {
                operation,
                path,
                source,
            } => write!(f, "configfs-tsm: {operation} {}: {source}", path.display()),
            Self::WrongProvider { expected, seen } => write!(
                f,
                "configfs-tsm provider is {seen:?}, expected {expected:?}"
            ),
            Self::BadGeneration { seen } => {
                write!(f, "configfs-tsm generation {seen:?} is not a number")
            }
            Self::GenerationChanged {
                before,
                after,
                attempts,
            } => write!(
                f,
                "configfs-tsm generation went from {before} to {after} (expected {}): another \
                 writer raced us on all {attempts} attempts",
                before.saturating_add(1)
            ),
            Self::EmptyOutblob => write!(f, "configfs-tsm outblob is empty"),
            Self::OutblobTooLarge { limit } => {
                write!(f, "configfs-tsm outblob exceeds {limit} bytes")
            }
            Self::Quote(e) => write!(f, "configfs-tsm outblob is not a TDX quote: {e}"),
            Self::ReportDataMismatch { expected, seen } => write!(
                f,
                "quote carries REPORTDATA {}, wrote {}",
                hex::encode(seen),
                hex::encode(expected)
            ),
            Self::Worker(why) => write!(f, "quote generation worker: {why}"),
        }
    }
}

impl std::error::Error for ConfigfsError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Io { source, .. } => Some(source),
            Self::Quote(e) => Some(e),
            _ => None,
        }
    }
}

impl ConfigfsError {
    /// Whether a fresh attempt may succeed (a race or a busy device).
    fn is_retryable(&self) -> bool {
        match self {
            Self::GenerationChanged { .. } => true,
            Self::Io { source, .. } => source.kind() == io::ErrorKind::ResourceBusy,
            _ => false,
        }
    }
}

/// The file operations of the protocol. On configfs the kernel acts on each: `create_dir`
/// makes the attribute files, a write to `inblob` bumps `generation`, a read of `outblob`
/// produces the quote, `remove_dir` drops the entry with its attributes.
pub(crate) trait TsmFs: Send + Sync + fmt::Debug {
    fn create_dir(&self, path: &Path) -> io::Result<()>;
    fn remove_dir(&self, path: &Path) -> io::Result<()>;
    /// Reads at most `limit` bytes.
    fn read(&self, path: &Path, limit: usize) -> io::Result<Vec<u8>>;
    /// Writes `data` to an existing attribute in one write.
    fn write(&self, path: &Path, data: &[u8]) -> io::Result<()>;
}

/// The real file system.
#[derive(Debug)]
pub(crate) struct StdFs;

impl TsmFs for StdFs {
    fn create_dir(&self, path: &Path) -> io::Result<()> {
        std::fs::create_dir(path)
    }

    fn remove_dir(&self, path: &Path) -> io::Result<()> {
        std::fs::remove_dir(path)
    }

    fn read(&self, path: &Path, limit: usize) -> io::Result<Vec<u8>> {
        let mut out = Vec::new();
        std::fs::File::open(path)?
            .take(u64::try_from(limit).unwrap_or(u64::MAX))
            .read_to_end(&mut out)?;
        Ok(out)
    }

    fn write(&self, path: &Path, data: &[u8]) -> io::Result<()> {
        // No create, no truncate: the attribute must exist, as configfs made it.
        let mut file = std::fs::OpenOptions::new().write(true).open(path)?;
        file.write_all(data)
    }
}

static NEXT_ENTRY: AtomicU64 = AtomicU64::new(0);

/// A configfs-tsm report directory and the generator working in it.
#[derive(Debug)]
pub(crate) struct ConfigfsTsm {
    root: PathBuf,
    fs: Arc<dyn TsmFs>,
    /// Pause before a retry, times the attempt number.
    backoff: Duration,
}

impl ConfigfsTsm {
    /// The generator for the report directory `root` (normally
    /// [`DEFAULT_TSM_REPORT_ROOT`]).
    pub(crate) fn new(root: PathBuf) -> Self {
        Self::with_fs(root, Arc::new(StdFs))
    }

    pub(crate) fn with_fs(root: PathBuf, fs: Arc<dyn TsmFs>) -> Self {
        Self {
            root,
            fs,
            backoff: Duration::from_millis(10),
        }
    }

    /// A quote over `report_data`: checked to be a TDX quote that carries it. Blocks on file
    /// IO (tens of milliseconds on hardware). Retries a bounded number of times when another
    /// writer races us or the device is busy.
    pub(crate) fn generate(&self, report_data: [u8; 64]) -> Result<Vec<u8>, ConfigfsError> {
        let mut attempt = 1;
        loop {
            match self.attempt(&report_data) {
                Ok(quote) => return check_quote(quote, &report_data),
                Err(e) if e.is_retryable() && attempt < MAX_ATTEMPTS => {
                    std::thread::sleep(self.backoff.saturating_mul(attempt));
                    attempt = attempt.saturating_add(1);
                }
                Err(ConfigfsError::GenerationChanged { before, after, .. }) => {
                    return Err(ConfigfsError::GenerationChanged {
                        before,
                        after,
                        attempts: attempt,
                    });
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// One request in a fresh entry, which is removed whatever happens.
    fn attempt(&self, report_data: &[u8; 64]) -> Result<Vec<u8>, ConfigfsError> {
        let entry = self.make_entry()?;
        let result = self.exchange(&entry, report_data);
        let removed = self
            .fs
            .remove_dir(&entry)
            .map_err(|source| ConfigfsError::Io {
                operation: "remove entry",
                path: entry.clone(),
                source,
            });
        let quote = result?;
        removed?;
        Ok(quote)
    }

    fn make_entry(&self) -> Result<PathBuf, ConfigfsError> {
        let mut tries = 0;
        loop {
            let n = NEXT_ENTRY.fetch_add(1, Ordering::Relaxed);
            let entry = self.root.join(format!("atls-{}-{n}", std::process::id()));
            match self.fs.create_dir(&entry) {
                Ok(()) => return Ok(entry),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists && tries < MAX_NAME_TRIES => {
                    tries += 1;
                }
                Err(source) => {
                    return Err(ConfigfsError::Io {
                        operation: "create entry",
                        path: entry,
                        source,
                    });
                }
            }
        }
    }

    fn exchange(&self, entry: &Path, report_data: &[u8; 64]) -> Result<Vec<u8>, ConfigfsError> {
        let provider = self.read_text(entry, "provider")?;
        if provider != TDX_PROVIDER {
            return Err(ConfigfsError::WrongProvider {
                expected: TDX_PROVIDER,
                seen: provider,
            });
        }
        let before = self.read_generation(entry)?;
        let inblob = entry.join("inblob");
        self.fs
            .write(&inblob, report_data)
            .map_err(|source| ConfigfsError::Io {
                operation: "write",
                path: inblob,
                source,
            })?;
        let outblob = entry.join("outblob");
        let quote = self
            .fs
            .read(&outblob, MAX_QUOTE_LEN.saturating_add(1))
            .map_err(|source| ConfigfsError::Io {
                operation: "read",
                path: outblob,
                source,
            })?;
        let after = self.read_generation(entry)?;
        if after != before.saturating_add(1) {
            return Err(ConfigfsError::GenerationChanged {
                before,
                after,
                attempts: 1,
            });
        }
        if quote.is_empty() {
            return Err(ConfigfsError::EmptyOutblob);
        }
        if quote.len() > MAX_QUOTE_LEN {
            return Err(ConfigfsError::OutblobTooLarge {
                limit: MAX_QUOTE_LEN,
            });
        }
        Ok(quote)
    }

    fn read_text(&self, entry: &Path, name: &str) -> Result<String, ConfigfsError> {
        let path = entry.join(name);
        let bytes = self
            .fs
            .read(&path, MAX_ATTRIBUTE_LEN)
            .map_err(|source| ConfigfsError::Io {
                operation: "read",
                path,
                source,
            })?;
        Ok(String::from_utf8_lossy(&bytes).trim().to_string())
    }

    fn read_generation(&self, entry: &Path) -> Result<u64, ConfigfsError> {
        let text = self.read_text(entry, "generation")?;
        text.parse()
            .map_err(|_| ConfigfsError::BadGeneration { seen: text })
    }
}

/// The outblob must be a TDX quote over exactly the REPORTDATA written.
fn check_quote(quote: Vec<u8>, report_data: &[u8; 64]) -> Result<Vec<u8>, ConfigfsError> {
    let parsed = Quote::parse(&quote).map_err(ConfigfsError::Quote)?;
    let seen = &parsed.report().report_data;
    if seen != report_data {
        return Err(ConfigfsError::ReportDataMismatch {
            expected: report_data.to_vec(),
            seen: seen.to_vec(),
        });
    }
    Ok(quote)
}

#[cfg(test)]
pub(crate) mod tests;
