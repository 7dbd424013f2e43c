//! The transport-independent attestation engine adapters build on.
//!
//! An adapter (TCP frames here, QUIC streams in `atls-quic`) moves bytes and arms one timer;
//! the [`Engine`] does everything else around the sans-IO [`atls_core::Session`]: evidence
//! generation with the configured [`Attester`](atls_evidence::Attester), appraisal with the
//! [`VerifierSet`](atls_evidence::VerifierSet) and the [`PeerPolicy`](crate::PeerPolicy),
//! READY, lease renewal, and turning any failure into the alert to send.
//!
//! ```text
//!  adapter                                   Engine
//!  peer EA message ───────────────────────▶ handle_message (evidence, appraisal awaited)
//!  peer READY ────────────────────────────▶ handle_ready
//!  timer at poll_timeout ─────────────────▶ handle_timeout (deadlines, lease renewal)
//!  send ◀── poll_action: Request | Answer | Ready | Open
//!  any Err(e) ────────────────────────────▶ fail(e) → alert to send, status updated
//! ```
//!
//! After every input, drain [`Engine::poll_action`], then re-arm the timer from
//! [`Engine::poll_timeout`]. An adapter lets application bytes through only while
//! [`Gate::is_open`] holds: READY sent and received, and no failure.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};

use atls_core::{AppraisalError, CipherSuite, Event, Exporter, HandshakeType, Role, Session};
use tokio::sync::{oneshot, watch};
use tokio::time::Instant;

pub use crate::config::{
    AcceptorParts, AttestationConfig, BuildAcceptor, BuildConnector, ConnectorParts,
};
pub use crate::frame::{Frame, FrameError, MAX_ALERT, MAX_DATA, MAX_EA};
pub use crate::verify::{ChainCheck, EaChainVerifier};

use crate::error::AtlsError;
use crate::{LinkStatus, PeerAttestation};

const READY_SENT: u8 = 1;
const PEER_READY: u8 = 2;
const FAILED: u8 = 4;

/// Whether application data may flow, readable from any task of the adapter.
#[derive(Debug, Default)]
pub struct Gate(AtomicU8);

impl Gate {
    fn set(&self, bit: u8) {
        self.0.fetch_or(bit, Ordering::SeqCst);
    }

    fn has(&self, bit: u8) -> bool {
        self.0.load(Ordering::SeqCst) & bit != 0
    }

    /// READY was sent and received, and the link has not failed: application bytes may be
    /// sent and delivered.
    pub fn is_open(&self) -> bool {
        self.has(READY_SENT) && self.has(PEER_READY) && !self.has(FAILED)
    }

    /// The link failed: nothing more is sent or delivered.
    pub fn has_failed(&self) -> bool {
        self.has(FAILED)
    }
}

/// What the engine asks its adapter to do, in order.
#[derive(Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Action {
    /// Send an authenticator request: a new exchange (first attestation or renewal).
    Request(Vec<u8>),
    /// Send the answer (authenticator or refusal) to the peer request just handled.
    Answer(Vec<u8>),
    /// Send READY: every attestation this side requires has succeeded.
    Ready,
    /// READY was sent and received: open the application data path.
    Open,
}

/// Resolves when the link is established (attested in every required direction) or failed
/// first.
#[derive(Debug)]
pub struct Established {
    result: oneshot::Receiver<Result<(), AtlsError>>,
    status: watch::Receiver<LinkStatus>,
}

impl Established {
    /// Waits for establishment; returns the status receiver of the link.
    pub async fn wait(self) -> Result<watch::Receiver<LinkStatus>, AtlsError> {
        match self.result.await {
            Ok(Ok(())) => Ok(self.status),
            Ok(Err(e)) => Err(e),
            Err(_) => Err(AtlsError::Closed),
        }
    }
}

/// The attestation engine of one connection: both directions, first attestation and
/// renewals. See the [module documentation](self) for the contract with the adapter.
pub struct Engine {
    config: Arc<AttestationConfig>,
    session: Session<PeerAttestation>,
    gate: Arc<Gate>,
    status: watch::Sender<LinkStatus>,
    established: Option<oneshot::Sender<Result<(), AtlsError>>>,
    setup_deadline: Instant,
    lease_renew_at: Option<Instant>,
    lease_expires_at: Option<Instant>,
    attested_once: bool,
    opened: bool,
    actions: VecDeque<Action>,
}

impl Engine {
    /// An engine for a connection whose TLS handshake completed with `suite`, in TLS `role`.
    /// `chain` validates the peer's authenticator chains. The initial attestation must
    /// complete within the configured attestation timeout from now.
    pub fn new(
        config: Arc<AttestationConfig>,
        chain: EaChainVerifier,
        role: Role,
        suite: CipherSuite,
    ) -> Result<(Self, Established), AtlsError> {
        let session = Session::new(
            Arc::new(config.core_config(chain)),
            role,
            suite,
            random_seed()?,
        )?;
        let (status_tx, status_rx) = watch::channel(LinkStatus::Attesting);
        let (established_tx, established_rx) = oneshot::channel();
        let engine = Self {
            setup_deadline: Instant::now() + config.attestation_timeout,
            config,
            session,
            gate: Arc::new(Gate::default()),
            status: status_tx,
            established: Some(established_tx),
            lease_renew_at: None,
            lease_expires_at: None,
            attested_once: false,
            opened: false,
            actions: VecDeque::new(),
        };
        let established = Established {
            result: established_rx,
            status: status_rx,
        };
        Ok((engine, established))
    }

    /// The link's gate, for the adapter's data paths.
    pub fn gate(&self) -> Arc<Gate> {
        self.gate.clone()
    }

    /// Whether the link was established (the application has it) and has not failed.
    pub fn is_established(&self) -> bool {
        self.established.is_none() && !self.gate.has_failed()
    }

    /// Starts: requests the peer's attestation if required, else queues READY.
    pub fn start(&mut self, exporter: &(dyn Exporter + Sync)) -> Result<(), AtlsError> {
        match self.config.requires_peer_attestation {
            true => self.request_attestation(exporter),
            false => {
                self.maybe_ready();
                Ok(())
            }
        }
    }

    /// Sends a new attestation request to the peer now (on demand re-attestation).
    pub fn request_attestation(
        &mut self,
        exporter: &(dyn Exporter + Sync),
    ) -> Result<(), AtlsError> {
        self.session
            .request_attestation(std::time::Instant::now(), exporter)?;
        self.collect_transmits();
        Ok(())
    }

    /// Handles one RFC 9261 message from the peer: a request (answered after local
    /// evidence generation) or an authenticator (appraised and checked against the policy).
    pub async fn handle_message(
        &mut self,
        message: &[u8],
        exporter: &(dyn Exporter + Sync),
    ) -> Result<(), AtlsError> {
        self.session
            .handle_message(std::time::Instant::now(), message, exporter)?;
        self.pump().await
    }

    /// Handles the peer's READY.
    pub fn handle_ready(&mut self) -> Result<(), AtlsError> {
        if self.gate.has(PEER_READY) {
            return Err(AtlsError::Protocol("second READY".into()));
        }
        self.gate.set(PEER_READY);
        self.maybe_open();
        Ok(())
    }

    /// The next instant [`handle_timeout`](Self::handle_timeout) must be called at.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let session_deadline = self
            .session
            .poll_timeout()
            .map(|(t, _)| Instant::from_std(t));
        [
            session_deadline,
            self.established.is_some().then_some(self.setup_deadline),
            self.lease_renew_at,
            self.lease_expires_at,
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// Fails the link if a deadline passed; sends a renewal request when the lease is due.
    pub fn handle_timeout(&mut self, exporter: &(dyn Exporter + Sync)) -> Result<(), AtlsError> {
        let now = Instant::now();
        if self.established.is_some() && now >= self.setup_deadline {
            return Err(AtlsError::Timeout);
        }
        if self.lease_expires_at.is_some_and(|t| now >= t) {
            return Err(AtlsError::LeaseExpired);
        }
        if self.lease_renew_at.is_some_and(|t| now >= t) {
            self.lease_renew_at = None;
            self.request_attestation(exporter)?;
        }
        self.session.handle_timeout(std::time::Instant::now())?;
        Ok(())
    }

    /// The next thing to send or do. Taking [`Action::Open`] hands the link to whoever
    /// waits on [`Established`], so everything queued before it (READY included) has been
    /// taken by then.
    pub fn poll_action(&mut self) -> Option<Action> {
        let action = self.actions.pop_front();
        if action == Some(Action::Open)
            && let Some(tx) = self.established.take()
        {
            let _ = tx.send(Ok(()));
        }
        action
    }

    /// The peer closed the connection cleanly. Before establishment that is an error for
    /// the caller; after it, the link is closed.
    pub fn closed(&mut self) -> Result<(), AtlsError> {
        match self.established.is_some() {
            true => Err(AtlsError::Closed),
            false => {
                let _ = self.status.send(LinkStatus::Closed);
                Ok(())
            }
        }
    }

    /// Fails the link with `e`: closes the gate, reports the error (to the caller waiting
    /// for establishment, or through the link status), and returns the alert code and
    /// reason to send, unless the peer or the transport ended the connection.
    pub fn fail(&mut self, e: AtlsError) -> Option<(u8, String)> {
        self.gate.set(FAILED);
        self.actions.clear();
        tracing::warn!(error = %e, "attested connection failed");
        let alert = match e {
            AtlsError::PeerAlert { .. } | AtlsError::Closed | AtlsError::Io(_) => None,
            _ => Some((e.alert_code(), e.to_string())),
        };
        // Before establishment the caller of connect/accept gets the error; after it, the
        // application sees it through the link status.
        match self.established.take() {
            Some(tx) => {
                let _ = tx.send(Err(e));
            }
            None => {
                let _ = self.status.send(LinkStatus::Failed(Arc::new(e)));
            }
        }
        alert
    }

    fn collect_transmits(&mut self) {
        while let Some(m) = self.session.poll_transmit() {
            let request = m.first().is_some_and(|&t| {
                matches!(
                    HandshakeType::from(t),
                    HandshakeType::CertificateRequest | HandshakeType::ClientCertificateRequest
                )
            });
            self.actions.push_back(match request {
                true => Action::Request(m),
                false => Action::Answer(m),
            });
        }
    }

    /// Queues outgoing messages and handles session events until none is left.
    async fn pump(&mut self) -> Result<(), AtlsError> {
        loop {
            self.collect_transmits();
            let Some(event) = self.session.poll_event() else {
                break;
            };
            match event {
                Event::EvidenceRequested { id, binding } => {
                    let evidence = match &self.config.attester {
                        Some(a) => a
                            .attest(&binding)
                            .await
                            .map_err(|e| -> atls_core::BoxError { Box::new(e) }),
                        None => Err("no attester configured".into()),
                    };
                    if let Err(e) = &evidence {
                        tracing::warn!(error = %e, "refusing an attestation request");
                    }
                    self.session.handle_evidence(id, evidence)?;
                }
                Event::AppraisalRequested {
                    id,
                    evidence,
                    binding,
                    peer_chain,
                } => {
                    let verdict = self.appraise(&evidence, &binding).await;
                    let verdict = verdict.map(|(claims, policy)| PeerAttestation {
                        claims,
                        policy_verdict: policy,
                        peer_chain,
                    });
                    self.session.handle_appraisal(id, verdict)?;
                }
                Event::Attested { claims, .. } => {
                    tracing::info!(evidence = %claims.claims.evidence_type, "peer attested");
                    let _ = self.status.send(LinkStatus::Attested(Arc::new(claims)));
                    self.attested_once = true;
                    if let Some(lease) = self.config.lease {
                        let now = Instant::now();
                        self.lease_renew_at = Some(now + lease.mul_f64(2.0 / 3.0));
                        self.lease_expires_at = Some(now + lease);
                    }
                    self.maybe_ready();
                }
                _ => {}
            }
        }
        if !self.config.requires_peer_attestation {
            self.maybe_ready();
        }
        Ok(())
    }

    async fn appraise(
        &self,
        evidence: &[u8],
        binding: &atls_core::Binding,
    ) -> Result<(atls_evidence::Claims, Option<serde_json::Value>), AppraisalError> {
        let claims = self.config.verifiers.appraise(evidence, binding).await?;
        let verdict = match &self.config.policy {
            Some(policy) => Some(policy.check(&claims).map_err(AppraisalError::Policy)?),
            None => None,
        };
        Ok((claims, verdict))
    }

    fn maybe_ready(&mut self) {
        let waiting = self.config.requires_peer_attestation && !self.attested_once;
        if self.gate.has(READY_SENT) || waiting {
            return;
        }
        self.gate.set(READY_SENT);
        self.actions.push_back(Action::Ready);
        self.maybe_open();
    }

    fn maybe_open(&mut self) {
        if !self.gate.is_open() || self.opened {
            return;
        }
        self.opened = true;
        self.actions.push_back(Action::Open);
        if !self.attested_once {
            let _ = self.status.send(LinkStatus::Open);
        }
    }
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("session", &self.session)
            .field("gate", &self.gate)
            .field("attested_once", &self.attested_once)
            .finish_non_exhaustive()
    }
}

fn random_seed() -> Result<[u8; 32], AtlsError> {
    let mut seed = [0u8; 32];
    crate::config::provider()
        .secure_random
        .fill(&mut seed)
        .map_err(|_| AtlsError::Config("no secure randomness".into()))?;
    Ok(seed)
}
