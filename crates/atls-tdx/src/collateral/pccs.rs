//! Collateral from Intel PCS or a PCCS (v4 API) over HTTPS.

use std::sync::Arc;
use std::time::Duration;

use atls_evidence::BoxFuture;
use dcap_qvl::QuoteCollateralV3;
use serde::Deserialize;
use serde_json::value::RawValue;

use super::off_thread::OffThread;
use super::{CollateralKey, source_err};
use crate::collateral_source::{CollateralError, CollateralSource};
use crate::quote::Quote;

/// At most this many bytes are read from one response.
const MAX_RESPONSE_BYTES: u64 = 4 * 1024 * 1024;

/// Where and how [`PccsCollateral`] fetches.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct PccsConfig {
    /// Base URL of the service, e.g. `https://pccs.internal:8081` or Intel's PCS
    /// `https://api.trustedservices.intel.com`; paths `/sgx/certification/v4/…` and
    /// `/tdx/certification/v4/…` are appended. There is deliberately no default: choose
    /// whom you fetch from.
    pub base_url: String,
    /// Where the root CA CRL is (DER). `None`: the PCCS endpoint
    /// `{base_url}/sgx/certification/v4/rootcacrl`. Intel's PCS has no such endpoint; use
    /// the CRL distribution point of Intel's root certificate.
    pub root_ca_crl_url: Option<String>,
    /// Time limit for each request.
    pub timeout: Duration,
}

impl PccsConfig {
    /// Fetch from `base_url`, root CA CRL from the PCCS endpoint, 30-second timeout.
    pub fn new(base_url: impl Into<String>) -> Self {
        Self {
            base_url: base_url.into(),
            root_ca_crl_url: None,
            timeout: Duration::from_secs(30),
        }
    }

    /// The same, fetching the root CA CRL from `url`.
    pub fn with_root_ca_crl_url(mut self, url: impl Into<String>) -> Self {
        self.root_ca_crl_url = Some(url.into());
        self
    }

    /// The same with a per-request time limit.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    fn url(&self, path: &str) -> String {
        format!("{}/{path}", self.base_url.trim_end_matches('/'))
    }
}

/// Fetches TDX collateral for a quote's platform: TCB info (`/tdx/certification/v4/tcb`),
/// QE identity (`/tdx/certification/v4/qe/identity`), PCK CRL
/// (`/sgx/certification/v4/pckcrl`) and the root CA CRL, with their issuer chains.
///
/// Blocking HTTP (ureq, rustls with ring), run on a thread of its own per request so an
/// async caller is not blocked. Fetches every time: put a
/// [`CachedCollateral`](crate::CachedCollateral) in front.
#[derive(Clone, Debug)]
pub struct PccsCollateral {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    config: PccsConfig,
    agent: ureq::Agent,
}

#[derive(Deserialize)]
struct TcbInfoResponse<'a> {
    #[serde(rename = "tcbInfo", borrow)]
    tcb_info: &'a RawValue,
    signature: String,
}

#[derive(Deserialize)]
struct QeIdentityResponse<'a> {
    #[serde(rename = "enclaveIdentity", borrow)]
    enclave_identity: &'a RawValue,
    signature: String,
}

impl PccsCollateral {
    /// A source fetching as `config` says.
    pub fn new(config: PccsConfig) -> Self {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_global(Some(config.timeout))
            .http_status_as_error(false)
            .build()
            .into();
        Self {
            inner: Arc::new(Inner { config, agent }),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &PccsConfig {
        &self.inner.config
    }

    /// Fetches the collateral for `key` on the calling thread.
    pub fn fetch_blocking(
        &self,
        key: &CollateralKey,
    ) -> Result<QuoteCollateralV3, CollateralError> {
        self.inner.fetch(key)
    }
}

impl Inner {
    fn get(
        &self,
        url: &str,
        chain_headers: &[&str],
    ) -> Result<(Vec<u8>, Option<String>), CollateralError> {
        let mut response = self
            .agent
            .get(url)
            .call()
            .map_err(|e| source_err(format!("GET {url}: {e}")))?;
        let status = response.status().as_u16();
        if status == 404 {
            return Err(CollateralError::NotFound(format!("{url} (HTTP 404)")));
        }
        if status != 200 {
            return Err(source_err(format!("GET {url}: HTTP {status}")));
        }
        let chain = chain_headers
            .iter()
            .find_map(|h| response.headers().get(*h))
            .and_then(|v| v.to_str().ok())
            .map(percent_decode);
        let body = response
            .body_mut()
            .with_config()
            .limit(MAX_RESPONSE_BYTES)
            .read_to_vec()
            .map_err(|e| source_err(format!("GET {url}: reading body: {e}")))?;
        Ok((body, chain))
    }

    fn fetch(&self, key: &CollateralKey) -> Result<QuoteCollateralV3, CollateralError> {
        let c = &self.config;
        let fmspc = hex::encode_upper(key.fmspc);
        let missing = |what: &str, url: &str| source_err(format!("GET {url}: no {what} header"));

        let url = c.url(&format!(
            "sgx/certification/v4/pckcrl?ca={}&encoding=der",
            key.ca.as_str()
        ));
        let (body, chain) = self.get(&url, &["SGX-PCK-CRL-Issuer-Chain"])?;
        let pck_crl_issuer_chain =
            chain.ok_or_else(|| missing("SGX-PCK-CRL-Issuer-Chain", &url))?;
        let pck_crl = decode_crl(&body).map_err(|e| source_err(format!("GET {url}: {e}")))?;

        let url = c.url(&format!("tdx/certification/v4/tcb?fmspc={fmspc}"));
        let (body, chain) = self.get(
            &url,
            &["TCB-Info-Issuer-Chain", "SGX-TCB-Info-Issuer-Chain"],
        )?;
        let tcb_info_issuer_chain = chain.ok_or_else(|| missing("TCB-Info-Issuer-Chain", &url))?;
        let tcb: TcbInfoResponse<'_> = serde_json::from_slice(&body)
            .map_err(|e| source_err(format!("GET {url}: not a TCB info response: {e}")))?;
        let tcb_info = tcb.tcb_info.get().to_string();
        let tcb_info_signature = hex::decode(&tcb.signature)
            .map_err(|e| source_err(format!("GET {url}: signature not hex: {e}")))?;

        let url = c.url("tdx/certification/v4/qe/identity");
        let (body, chain) = self.get(&url, &["SGX-Enclave-Identity-Issuer-Chain"])?;
        let qe_identity_issuer_chain =
            chain.ok_or_else(|| missing("SGX-Enclave-Identity-Issuer-Chain", &url))?;
        let qe: QeIdentityResponse<'_> = serde_json::from_slice(&body)
            .map_err(|e| source_err(format!("GET {url}: not a QE identity response: {e}")))?;
        let qe_identity = qe.enclave_identity.get().to_string();
        let qe_identity_signature = hex::decode(&qe.signature)
            .map_err(|e| source_err(format!("GET {url}: signature not hex: {e}")))?;

        let url = c
            .root_ca_crl_url
            .clone()
            .unwrap_or_else(|| c.url("sgx/certification/v4/rootcacrl"));
        let (body, _) = self.get(&url, &[])?;
        let root_ca_crl = decode_crl(&body).map_err(|e| source_err(format!("GET {url}: {e}")))?;

        Ok(QuoteCollateralV3 {
            pck_crl_issuer_chain,
            root_ca_crl,
            pck_crl,
            tcb_info_issuer_chain,
            tcb_info,
            tcb_info_signature,
            qe_identity_issuer_chain,
            qe_identity,
            qe_identity_signature,
            pck_certificate_chain: None,
        })
    }
}

/// A CRL as services return it: DER, hex of the DER (PCCS's `rootcacrl`), or PEM.
fn decode_crl(body: &[u8]) -> Result<Vec<u8>, String> {
    use base64::Engine as _;
    match body.first() {
        Some(0x30) => Ok(body.to_vec()),
        Some(_) => {
            let text = core::str::from_utf8(body)
                .map_err(|_| "expected a CRL (DER, hex or PEM), saw binary data".to_string())?
                .trim();
            if let Some(rest) = text.strip_prefix("-----BEGIN X509 CRL-----") {
                let b64: String = rest
                    .split("-----END X509 CRL-----")
                    .next()
                    .unwrap_or_default()
                    .chars()
                    .filter(|c| !c.is_ascii_whitespace())
                    .collect();
                base64::engine::general_purpose::STANDARD
                    .decode(b64)
                    .map_err(|e| format!("PEM CRL: {e}"))
            } else {
                hex::decode(text).map_err(|e| format!("expected a CRL (DER, hex or PEM): {e}"))
            }
        }
        None => Err("empty CRL".to_string()),
    }
}

/// Decodes `%XX` escapes (issuer chains come URL-encoded in headers).
fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while let Some(&c) = b.get(i) {
        let hex = b.get(i + 1..i + 3).and_then(|h| {
            core::str::from_utf8(h)
                .ok()
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        });
        match (c, hex) {
            (b'%', Some(v)) => {
                out.push(v);
                i += 3;
            }
            _ => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

impl CollateralSource for PccsCollateral {
    fn collateral<'a>(
        &'a self,
        quote: &'a Quote,
        _now_unix: u64,
    ) -> BoxFuture<'a, Result<Arc<QuoteCollateralV3>, CollateralError>> {
        Box::pin(async move {
            let key = CollateralKey::for_quote(quote)?;
            let inner = Arc::clone(&self.inner);
            OffThread::spawn(move || inner.fetch(&key))
                .await
                .ok_or_else(|| source_err("collateral fetch thread failed".into()))?
                .map(Arc::new)
        })
    }
}

#[cfg(test)]
mod tests;
