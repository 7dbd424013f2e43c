//! The contract between the protocol and evidence technologies: [`Attester`], [`Verifier`],
//! and [`VerifierSet`], which dispatches a CMW to the verifier for its media type.

use std::collections::BTreeMap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use atls_core::Binding;

use crate::claims::Claims;
use crate::cmw::{Cmw, CmwNode, Indicator, Label, Record};
use crate::error::EvidenceError;
use crate::media_type::MediaType;

/// A boxed, `Send` future: the traits are object-safe and executor-agnostic.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Produces evidence for a binding.
///
/// The only input is a [`Binding`], which only an `atls_core::Session` can make from a
/// verified session: there is deliberately no way to ask an attester to attest to
/// caller-chosen data (a "quote oracle" is what the relay attack needs).
///
/// Generation may be slow (a TDX quote takes tens of milliseconds), so it returns a future;
/// implementations that block must do so off the caller's executor (e.g. on their own
/// thread) or say so.
pub trait Attester: Send + Sync + fmt::Debug {
    /// The CMW (encoded) to put in `cmw_attestation`.
    fn attest<'a>(&'a self, binding: &'a Binding) -> BoxFuture<'a, Result<Vec<u8>, EvidenceError>>;
}

/// Appraises one kind of evidence (or attestation result) against the binding recomputed by
/// the relying party. A verifier must check the binder and `AIK_pub_hash` itself: they are
/// the evidence's link to this connection and this key.
pub trait Verifier: Send + Sync + fmt::Debug {
    /// The media type this verifier appraises.
    fn media_type(&self) -> MediaType;

    /// The CMW indicator of what it appraises ([`Indicator::EVIDENCE`] or
    /// [`Indicator::ATTESTATION_RESULTS`]). A record whose indicator lacks it is refused.
    fn indicator(&self) -> Indicator {
        Indicator::EVIDENCE
    }

    /// Appraises `value` (the record's value bytes).
    fn verify<'a>(
        &'a self,
        value: &'a [u8],
        binding: &'a Binding,
    ) -> BoxFuture<'a, Result<Claims, EvidenceError>>;
}

/// Verifiers keyed by media type (compared structurally), plus the content-format numbers
/// mapped to them. A CMW whose type has no verifier is rejected, never parsed "best effort".
///
/// Collections: every item must be a record (or tag) whose verifier accepts it against the
/// same binding, so each trusted item is independently bound to this request; claims of
/// the items are returned as [`Claims::submods`] by label.
#[derive(Clone, Debug, Default)]
pub struct VerifierSet {
    verifiers: Vec<Arc<dyn Verifier>>,
    content_formats: BTreeMap<u16, MediaType>,
}

impl VerifierSet {
    /// An empty set (which rejects everything).
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a verifier; a later verifier for the same media type replaces the earlier one.
    pub fn with(mut self, verifier: Arc<dyn Verifier>) -> Self {
        let mt = verifier.media_type();
        self.verifiers.retain(|v| v.media_type() != mt);
        self.verifiers.push(verifier);
        self
    }

    /// Maps a CoAP content-format number (records with a numeric type, and tags) to a media
    /// type.
    pub fn with_content_format(mut self, cf: u16, media_type: MediaType) -> Self {
        self.content_formats.insert(cf, media_type);
        self
    }

    /// The media types this set can appraise.
    pub fn media_types(&self) -> Vec<MediaType> {
        self.verifiers.iter().map(|v| v.media_type()).collect()
    }

    /// Decodes `cmw_data` strictly and appraises it against `binding`.
    pub async fn appraise(
        &self,
        cmw_data: &[u8],
        binding: &Binding,
    ) -> Result<Claims, EvidenceError> {
        let cmw = Cmw::decode(cmw_data)?;
        self.appraise_node(cmw.node(), binding).await
    }

    async fn appraise_node(
        &self,
        node: &CmwNode,
        binding: &Binding,
    ) -> Result<Claims, EvidenceError> {
        match node {
            CmwNode::Record(r) => self.appraise_record(r, binding).await,
            CmwNode::Tag(t) => {
                let verifier = self.for_content_format(t.content_format())?;
                verifier.verify(t.value(), binding).await
            }
            CmwNode::Collection(c) => {
                let mut claims = Claims::new(match c.collection_type() {
                    Some(t) => t.as_str().to_string(),
                    None => "collection".to_string(),
                });
                for (label, item) in c.iter() {
                    let label = match label {
                        Label::Text(t) => t.clone(),
                        Label::Int(i) => i.to_string(),
                    };
                    // Every item, nested collections included, is appraised against the same
                    // binding (CM-04): no item is trusted because a sibling is bound.
                    let item_claims =
                        Box::pin(self.appraise_node(item, binding))
                            .await
                            .map_err(|e| EvidenceError::CollectionItem {
                                label: label.to_string(),
                                source: Box::new(e),
                            })?;
                    claims.submods.insert(label.to_string(), item_claims);
                }
                Ok(claims)
            }
        }
    }

    async fn appraise_record(
        &self,
        record: &Record,
        binding: &Binding,
    ) -> Result<Claims, EvidenceError> {
        let verifier = match (record.media_type(), record.content_format()) {
            (Some(mt), _) => self.for_media_type(mt)?,
            (None, Some(cf)) => self.for_content_format(cf)?,
            (None, None) => return Err(EvidenceError::UnsupportedEvidenceType("untyped".into())),
        };
        if let Some(ind) = record.indicator() {
            let wanted = verifier.indicator();
            if !ind.contains(wanted) {
                return Err(EvidenceError::IndicatorMismatch {
                    expected: wanted,
                    seen: ind,
                });
            }
        }
        verifier.verify(record.value(), binding).await
    }

    fn for_media_type(&self, mt: &MediaType) -> Result<&Arc<dyn Verifier>, EvidenceError> {
        self.verifiers
            .iter()
            .find(|v| &v.media_type() == mt)
            .ok_or_else(|| EvidenceError::UnsupportedEvidenceType(mt.as_str().to_string()))
    }

    fn for_content_format(&self, cf: u16) -> Result<&Arc<dyn Verifier>, EvidenceError> {
        let mt = self.content_formats.get(&cf).ok_or_else(|| {
            EvidenceError::UnsupportedEvidenceType(format!("content-format {cf}"))
        })?;
        self.for_media_type(mt)
    }
}
