//! Cipher suites and the "authenticator hash" they select (RFC 9261 §5.1).

use hmac::{KeyInit, Mac};
use sha2::{Digest, Sha256, Sha384};

/// The TLS 1.3 suite hash, used for exporter lengths, transcripts, HMAC and the binder.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum HashAlgorithm {
    /// SHA-256 (32 bytes).
    Sha256,
    /// SHA-384 (48 bytes).
    Sha384,
}

impl HashAlgorithm {
    /// Output length in bytes.
    pub fn output_len(self) -> usize {
        match self {
            Self::Sha256 => 32,
            Self::Sha384 => 48,
        }
    }

    /// Hash of the concatenation of `parts`.
    pub fn hash(self, parts: &[&[u8]]) -> Vec<u8> {
        match self {
            Self::Sha256 => {
                let mut h = Sha256::new();
                parts.iter().for_each(|p| h.update(p));
                h.finalize().to_vec()
            }
            Self::Sha384 => {
                let mut h = Sha384::new();
                parts.iter().for_each(|p| h.update(p));
                h.finalize().to_vec()
            }
        }
    }

    /// HMAC of `data` under `key`.
    pub fn hmac(self, key: &[u8], data: &[u8]) -> Vec<u8> {
        match self {
            Self::Sha256 => {
                let mut m = <hmac::Hmac<Sha256> as KeyInit>::new_from_slice(key)
                    .unwrap_or_else(|_| unreachable!("HMAC accepts keys of any length"));
                m.update(data);
                m.finalize().into_bytes().to_vec()
            }
            Self::Sha384 => {
                let mut m = <hmac::Hmac<Sha384> as KeyInit>::new_from_slice(key)
                    .unwrap_or_else(|_| unreachable!("HMAC accepts keys of any length"));
                m.update(data);
                m.finalize().into_bytes().to_vec()
            }
        }
    }

    /// Checks an HMAC tag in constant time.
    pub fn verify_hmac(self, key: &[u8], data: &[u8], tag: &[u8]) -> bool {
        use subtle::ConstantTimeEq;
        let expected = self.hmac(key, data);
        expected.len() == tag.len() && bool::from(expected.ct_eq(tag))
    }
}

/// A TLS 1.3 cipher suite codepoint.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct CipherSuite(pub u16);

impl CipherSuite {
    /// TLS_AES_128_GCM_SHA256
    pub const TLS13_AES_128_GCM_SHA256: Self = Self(0x1301);
    /// TLS_AES_256_GCM_SHA384
    pub const TLS13_AES_256_GCM_SHA384: Self = Self(0x1302);
    /// TLS_CHACHA20_POLY1305_SHA256
    pub const TLS13_CHACHA20_POLY1305_SHA256: Self = Self(0x1303);

    /// The suite's hash, or `None` for a suite that is not a TLS 1.3 suite we know.
    pub fn hash(self) -> Option<HashAlgorithm> {
        match self.0 {
            0x1301 | 0x1303 | 0x1304 | 0x1305 => Some(HashAlgorithm::Sha256),
            0x1302 => Some(HashAlgorithm::Sha384),
            _ => None,
        }
    }
}
