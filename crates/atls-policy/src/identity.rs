//! Identity expectations: how the attested key must relate to the TLS peer.
//!
//! Evaluation sees claims, not certificates, so these expectations are data for the
//! transport adapters, which enforce them in their certificate verifier.

use crate::error::PolicyError;
use crate::values::check_peer_name;

/// What a policy expects of the peer's TLS identity.
///
/// By default the key that signs the Exported Authenticator (the attested key) must be the
/// same key as the peer's handshake certificate, and the peer name is the one the client
/// connected to. `names` lists further names the peer's certificate may be valid for.
///
/// ```
/// use atls_policy::Policy;
///
/// let policy = Policy::from_toml_str(
///     r#"
///     version = 1
///     mode = "dev"
///     [identity]
///     names = ["api.example.com"]
///     "#,
/// )?;
/// assert!(policy.identity().same_key_as_handshake());
/// assert_eq!(policy.identity().names(), ["api.example.com"]);
/// # Ok::<(), atls_policy::PolicyError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdentityExpectations {
    same_key_as_handshake: bool,
    names: Vec<String>,
}

impl Default for IdentityExpectations {
    fn default() -> Self {
        Self {
            same_key_as_handshake: true,
            names: Vec::new(),
        }
    }
}

impl IdentityExpectations {
    /// Expectations with the given key rule and allowed names (DNS names or IP addresses).
    pub fn new(same_key_as_handshake: bool, names: Vec<String>) -> Result<Self, PolicyError> {
        for (i, name) in names.iter().enumerate() {
            check_peer_name(name).map_err(|m| PolicyError::invalid(format!("names[{i}]"), m))?;
        }
        Ok(Self {
            same_key_as_handshake,
            names,
        })
    }

    /// Whether the authenticator's key must be the handshake certificate's key (default
    /// true): an attested key that is not the key the TLS peer authenticated with is
    /// rejected.
    pub fn same_key_as_handshake(&self) -> bool {
        self.same_key_as_handshake
    }

    /// Names the peer's certificate may be valid for, besides the name connected to.
    pub fn names(&self) -> &[String] {
        &self.names
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_requires_same_key() {
        let id = IdentityExpectations::default();
        assert!(id.same_key_as_handshake());
        assert!(id.names().is_empty());
    }

    #[test]
    fn rejects_invalid_names() {
        let err = IdentityExpectations::new(true, vec!["ok.example".into(), "not a name".into()])
            .unwrap_err();
        assert!(err.to_string().contains("names[1]"), "{err}");
        let id = IdentityExpectations::new(false, vec!["10.0.0.1".into()]).unwrap();
        assert!(!id.same_key_as_handshake());
    }
}
