//! The sans-IO attested-TLS session: one per TLS connection, both roles, both directions.

use std::collections::{HashSet, VecDeque};
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustls_pki_types::CertificateDer;
use zeroize::Zeroizing;

use crate::authenticator::{
    self, Authenticated, Expectation, Validation, build_authenticator, build_empty_authenticator,
    validate_authenticator,
};
use crate::binder::{Binding, Profile};
use crate::codec::Codec;
use crate::error::{
    AlertDescription, ApiMisuse, AppraisalError, BoxError, Error, InvalidMessage, PeerMisbehaved,
    TimeoutReason,
};
use crate::exporter::{AuthenticatorKeys, Exporter, ExporterError, Role};
use crate::msgs::{
    Authenticator, AuthenticatorRequest, Extension, HandshakeType, Message, RequestKind,
    SignatureScheme,
};
use crate::sign::{self, CertificateVerifier, CertifiedKey};
use crate::suite::{CipherSuite, HashAlgorithm};

/// Longest verifier nonce [`Session::request_attestation_with_nonce`] accepts: the context
/// holds at most 255 bytes, 32 of which are fresh.
pub const MAX_VERIFIER_NONCE_LEN: usize = crate::msgs::MAX_CONTEXT_LEN - 32;

/// Configuration shared by the sessions of one endpoint.
#[derive(Clone, Debug)]
pub struct Config {
    /// Draft revision, labels and codepoints.
    pub profile: Profile,
    /// Our certificate and key, used to answer the peer's requests. Without one, every
    /// request is answered with an empty authenticator.
    pub identity: Option<CertifiedKey>,
    /// Validates the certificate chain of every authenticator the peer sends.
    pub chain_verifier: Arc<dyn CertificateVerifier>,
    /// Schemes offered in our requests (and accepted in spontaneous authenticators).
    pub signature_schemes: Vec<SignatureScheme>,
    /// `server_name` to put in our ClientCertificateRequests (TLS client only).
    pub server_name: Option<String>,
    /// Fail when the peer answers our request without `cmw_attestation` (default: true).
    pub require_evidence: bool,
    /// Accept spontaneous authenticators from a TLS server (default: false). They carry no
    /// evidence and never count as attestation.
    pub accept_spontaneous: bool,
    /// How long the peer has to answer a request.
    pub authenticator_timeout: Duration,
    /// How long the local attester has to produce evidence.
    pub evidence_timeout: Duration,
    /// How long the local verifier has to appraise evidence.
    pub appraisal_timeout: Duration,
}

impl Config {
    /// A configuration with the latest profile, no local identity, every supported scheme,
    /// evidence required, spontaneous authenticators refused, and 30 s / 10 s / 10 s timeouts.
    pub fn new(chain_verifier: Arc<dyn CertificateVerifier>) -> Self {
        Self {
            profile: Profile::default(),
            identity: None,
            chain_verifier,
            signature_schemes: vec![
                SignatureScheme::ED25519,
                SignatureScheme::ECDSA_NISTP256_SHA256,
                SignatureScheme::ECDSA_NISTP384_SHA384,
            ],
            server_name: None,
            require_evidence: true,
            accept_spontaneous: false,
            authenticator_timeout: Duration::from_secs(30),
            evidence_timeout: Duration::from_secs(10),
            appraisal_timeout: Duration::from_secs(10),
        }
    }

    /// Sets the local identity.
    pub fn with_identity(mut self, identity: CertifiedKey) -> Self {
        self.identity = Some(identity);
        self
    }
}

/// Identifies one evidence generation or appraisal the session waits on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct OperationId(u64);

/// What the session reports to its host, in the order it happened.
#[derive(Debug)]
#[non_exhaustive]
pub enum Event<C> {
    /// The peer asked us to attest: produce evidence for `binding` and answer with
    /// [`Session::handle_evidence`].
    EvidenceRequested {
        /// Answer with this id.
        id: OperationId,
        /// The binder and `AIK_pub_hash` the evidence must carry.
        binding: Binding,
    },
    /// The peer's authenticator verified; appraise its evidence and answer with
    /// [`Session::handle_appraisal`].
    AppraisalRequested {
        /// Answer with this id.
        id: OperationId,
        /// The CMW from `cmw_attestation`.
        evidence: Vec<u8>,
        /// The binding the evidence must match, recomputed from our own connection.
        binding: Binding,
        /// The peer's chain (already validated by the chain verifier).
        peer_chain: Vec<CertificateDer<'static>>,
    },
    /// The peer's evidence was appraised and accepted.
    Attested {
        /// Context of the request it answered.
        context: Vec<u8>,
        /// What the appraisal returned.
        claims: C,
        /// The peer's chain.
        peer_chain: Vec<CertificateDer<'static>>,
    },
    /// The peer authenticated without evidence (allowed only when evidence is not required,
    /// or through an accepted spontaneous authenticator). Not an attestation.
    PeerAuthenticated {
        /// The authenticator's context.
        context: Vec<u8>,
        /// The peer's chain.
        peer_chain: Vec<CertificateDer<'static>>,
    },
    /// We answered a peer's request.
    Answered {
        /// The request's context.
        context: Vec<u8>,
        /// Whether the answer was an empty authenticator.
        refused: bool,
    },
}

/// A request we sent, waiting for its answer.
struct Outgoing {
    request: AuthenticatorRequest,
    encoded: Vec<u8>,
    keys: AuthenticatorKeys,
    phase: OutgoingPhase,
}

enum OutgoingPhase {
    AwaitingAuthenticator {
        deadline: Instant,
    },
    AwaitingAppraisal {
        id: OperationId,
        deadline: Instant,
        peer: Authenticated,
    },
}

/// A peer's request we are answering, waiting for local evidence.
struct Incoming {
    id: OperationId,
    request: AuthenticatorRequest,
    encoded: Vec<u8>,
    keys: AuthenticatorKeys,
    deadline: Instant,
}

/// One attested-TLS session: the exchanges of authenticator requests, evidence and
/// authenticators on one TLS 1.3 connection, in both directions.
///
/// ```text
///  relying party (requester)                         attester (answerer)
///  request_attestation ──── request (13/17) ───────▶ handle_message
///                                                     Event::EvidenceRequested
///                                                     handle_evidence(id, cmw)
///  handle_message ◀──── Certificate+CV+Finished ──── poll_transmit
///  Event::AppraisalRequested
///  handle_appraisal(id, claims)
///  Event::Attested { claims }
/// ```
///
/// Sans-IO: the host feeds peer messages, exporter access, evidence, appraisals and time in;
/// it takes bytes (`poll_transmit`), events (`poll_event`) and a deadline (`poll_timeout`) out.
/// After every input, drain in this order: `poll_transmit`, `poll_event`, `poll_timeout`.
/// Any error is fatal: the session closes, forgets pending work, and the host must close the
/// TLS connection with [`Error::alert`] without releasing application data.
///
/// # Example: the server attests to the client
///
/// ```
/// # use std::sync::Arc;
/// # use std::time::Instant;
/// use atls_core::*;
/// # let cert = rcgen::generate_simple_self_signed(vec!["attester.example".into()]).unwrap();
/// # let cert_der = cert.cert.der().to_vec();
/// # let key_der = cert.signing_key.serialize_der();
/// // Both ends share the TLS connection's exporter (here from a known secret).
/// let exporter = ExporterMasterSecret::new(HashAlgorithm::Sha256, &[7; 32])?;
/// let suite = CipherSuite::TLS13_AES_128_GCM_SHA256;
/// let now = Instant::now();
///
/// let identity = CertifiedKey {
///     chain: vec![cert_der.clone().into()],
///     key: signing_key_from_pkcs8_der(&key_der)?,
/// };
/// let verifier = Arc::new(PinnedKeyVerifier::for_certificate(&cert_der)?);
/// let server_cfg = Arc::new(Config::new(verifier.clone()).with_identity(identity));
/// let client_cfg = Arc::new(Config::new(verifier));
/// let mut server = Session::<String>::new(server_cfg, Role::Server, suite, [1; 32])?;
/// let mut client = Session::<String>::new(client_cfg, Role::Client, suite, [2; 32])?;
///
/// client.request_attestation(now, &exporter)?;
/// let request = client.poll_transmit().unwrap();
/// server.handle_message(now, &request, &exporter)?;
/// let Some(Event::EvidenceRequested { id, binding }) = server.poll_event() else { panic!() };
/// // A real attester puts binding.binder() and binding.aik_pub_hash() into a quote.
/// server.handle_evidence(id, Ok(binding.binder().to_vec()))?;
/// let authenticator = server.poll_transmit().unwrap();
///
/// client.handle_message(now, &authenticator, &exporter)?;
/// let Some(Event::AppraisalRequested { id, evidence, binding, .. }) = client.poll_event() else { panic!() };
/// assert_eq!(evidence, binding.binder()); // a real verifier appraises a quote here
/// client.handle_appraisal(id, Ok("tcb: up to date".to_string()))?;
/// assert!(matches!(client.poll_event(), Some(Event::Attested { .. })));
/// assert!(client.is_peer_attested());
/// # Ok::<(), atls_core::BoxError>(())
/// ```
pub struct Session<C> {
    config: Arc<Config>,
    role: Role,
    hash: HashAlgorithm,
    context_seed: Zeroizing<[u8; 32]>,
    next_id: u64,
    used_contexts: HashSet<Vec<u8>>,
    outgoing: Vec<Outgoing>,
    incoming: Vec<Incoming>,
    transmits: VecDeque<Vec<u8>>,
    events: VecDeque<Event<C>>,
    closed: Option<AlertDescription>,
    peer_attested: bool,
}

impl<C> Session<C> {
    /// A session for the local TLS `role` on a connection that negotiated `suite`.
    /// `seed` must be 32 fresh random bytes: request contexts are derived from it.
    pub fn new(
        config: Arc<Config>,
        role: Role,
        suite: CipherSuite,
        seed: [u8; 32],
    ) -> Result<Self, Error> {
        let hash = suite
            .hash()
            .ok_or(ApiMisuse::UnsupportedCipherSuite(suite.0))?;
        Ok(Self {
            config,
            role,
            hash,
            context_seed: Zeroizing::new(seed),
            next_id: 0,
            used_contexts: HashSet::new(),
            outgoing: Vec::new(),
            incoming: Vec::new(),
            transmits: VecDeque::new(),
            events: VecDeque::new(),
            closed: None,
            peer_attested: false,
        })
    }

    /// The local TLS role.
    pub fn role(&self) -> Role {
        self.role
    }

    /// Whether the peer's evidence has been appraised and accepted at least once and the
    /// session has not failed since. Application data may flow only while this is true.
    pub fn is_peer_attested(&self) -> bool {
        self.peer_attested && self.closed.is_none()
    }

    /// The alert the session failed with, if it failed.
    pub fn close_alert(&self) -> Option<AlertDescription> {
        self.closed
    }

    /// Sends a new attestation request to the peer (first attestation or re-attestation).
    /// Returns the fresh `certificate_request_context`.
    pub fn request_attestation(
        &mut self,
        now: Instant,
        exporter: &dyn Exporter,
    ) -> Result<Vec<u8>, Error> {
        self.check_open()?;
        let result = self.request_inner(now, exporter, &[]);
        self.guard(result)
    }

    /// Like [`Self::request_attestation`], with a context that starts with `verifier_nonce`
    /// (at most [`MAX_VERIFIER_NONCE_LEN`] bytes) followed by 32 fresh bytes: for
    /// background-check deployments whose verifier supplies the nonce (draft-fossati-seat-expat
    /// issue #57). The verifier finds the context in [`Binding::context`].
    pub fn request_attestation_with_nonce(
        &mut self,
        now: Instant,
        exporter: &dyn Exporter,
        verifier_nonce: &[u8],
    ) -> Result<Vec<u8>, Error> {
        self.check_open()?;
        if verifier_nonce.len() > MAX_VERIFIER_NONCE_LEN {
            return Err(InvalidMessage::BadLength {
                what: "verifier nonce",
                min: 0,
                max: MAX_VERIFIER_NONCE_LEN,
                seen: verifier_nonce.len(),
            }
            .into());
        }
        let result = self.request_inner(now, exporter, verifier_nonce);
        self.guard(result)
    }

    fn request_inner(
        &mut self,
        now: Instant,
        exporter: &dyn Exporter,
        prefix: &[u8],
    ) -> Result<Vec<u8>, Error> {
        let keys = AuthenticatorKeys::derive(exporter, self.hash, self.role.peer())
            .map_err(exporter_error)?;
        let context = [prefix, &self.fresh_context()].concat();
        self.used_contexts.insert(context.clone());
        let mut extensions = vec![
            Extension::signature_algorithms(&self.config.signature_schemes),
            Extension::cmw_attestation_offer(self.config.profile.cmw_extension_type),
        ];
        let kind = match self.role {
            Role::Server => RequestKind::CertificateRequest,
            Role::Client => {
                if let Some(name) = &self.config.server_name {
                    extensions.push(Extension::server_name(name));
                }
                RequestKind::ClientCertificateRequest
            }
        };
        let request = AuthenticatorRequest::new(kind, context.clone(), extensions)?;
        let encoded = request.to_bytes();
        self.transmits.push_back(encoded.clone());
        self.outgoing.push(Outgoing {
            request,
            encoded,
            keys,
            phase: OutgoingPhase::AwaitingAuthenticator {
                deadline: now + self.config.authenticator_timeout,
            },
        });
        Ok(context)
    }

    /// Handles one complete message from the peer (see [`crate::message_length`] for framing
    /// on a byte stream).
    pub fn handle_message(
        &mut self,
        now: Instant,
        message: &[u8],
        exporter: &dyn Exporter,
    ) -> Result<(), Error> {
        self.check_open()?;
        let result = Message::decode(message)
            .map_err(Error::from)
            .and_then(|m| match m {
                Message::Request(r) => self.handle_request(now, r, exporter),
                Message::Authenticator(a) => self.handle_authenticator(now, a, exporter),
            });
        self.guard(result)
    }

    fn handle_request(
        &mut self,
        now: Instant,
        request: AuthenticatorRequest,
        exporter: &dyn Exporter,
    ) -> Result<(), Error> {
        let expected = match self.role {
            Role::Server => HandshakeType::ClientCertificateRequest,
            Role::Client => HandshakeType::CertificateRequest,
        };
        let got = match request.kind {
            RequestKind::CertificateRequest => HandshakeType::CertificateRequest,
            RequestKind::ClientCertificateRequest => HandshakeType::ClientCertificateRequest,
        };
        if got != expected {
            return Err(PeerMisbehaved::WrongRequestType { expected, got }.into());
        }
        if !self.used_contexts.insert(request.context.clone()) {
            return Err(PeerMisbehaved::ContextReused.into());
        }
        let keys =
            AuthenticatorKeys::derive(exporter, self.hash, self.role).map_err(exporter_error)?;
        let encoded = request.to_bytes();
        let config = Arc::clone(&self.config);
        let profile = &config.profile;

        // Answer with an empty authenticator when we cannot sign with an offered scheme.
        let usable = config
            .identity
            .as_ref()
            .filter(|id| request.signature_schemes().contains(&id.key.scheme()));
        let Some(identity) = usable else {
            self.send_refusal(&request, &encoded, &keys);
            return Ok(());
        };
        if request.extension(profile.cmw_extension_type).is_none() {
            // Plain RFC 9261 request: authenticate without evidence.
            let transcript = profile.request_in_transcript(&encoded);
            let bytes = build_authenticator(
                self.hash,
                &keys,
                transcript,
                &request.context,
                identity,
                Vec::new(),
            )?;
            self.transmits.push_back(bytes);
            self.events.push_back(Event::Answered {
                context: request.context,
                refused: false,
            });
            return Ok(());
        }
        let leaf = identity.chain.first().ok_or(ApiMisuse::NoIdentity)?;
        let spki = sign::spki_der(leaf).map_err(|e| Error::Signing(e.to_string().into()))?;
        let binding = Binding::derive(profile, self.hash, exporter, &request.context, &spki)
            .map_err(exporter_error)?;
        let id = self.next_id();
        self.incoming.push(Incoming {
            id,
            request,
            encoded,
            keys,
            deadline: now + self.config.evidence_timeout,
        });
        self.events
            .push_back(Event::EvidenceRequested { id, binding });
        Ok(())
    }

    fn send_refusal(
        &mut self,
        request: &AuthenticatorRequest,
        encoded: &[u8],
        keys: &AuthenticatorKeys,
    ) {
        let transcript = self.config.profile.request_in_transcript(encoded);
        self.transmits.push_back(build_empty_authenticator(
            self.hash,
            keys,
            transcript,
            &request.context,
        ));
        self.events.push_back(Event::Answered {
            context: request.context.clone(),
            refused: true,
        });
    }

    /// Answers [`Event::EvidenceRequested`] with a CMW, or with an error, in which case the
    /// peer's request is refused with an empty authenticator.
    pub fn handle_evidence(
        &mut self,
        id: OperationId,
        evidence: Result<Vec<u8>, BoxError>,
    ) -> Result<(), Error> {
        self.check_open()?;
        let pos = self
            .incoming
            .iter()
            .position(|i| i.id == id)
            .ok_or(ApiMisuse::UnknownId(id.0))?;
        let incoming = self.incoming.swap_remove(pos);
        let Ok(cmw) = evidence else {
            self.send_refusal(&incoming.request, &incoming.encoded, &incoming.keys);
            return Ok(());
        };
        let result = self.answer_with_evidence(&incoming, &cmw);
        self.guard(result)
    }

    fn answer_with_evidence(&mut self, incoming: &Incoming, cmw: &[u8]) -> Result<(), Error> {
        let profile = &self.config.profile;
        let identity = self.config.identity.as_ref().ok_or(ApiMisuse::NoIdentity)?;
        let ext = Extension::cmw_attestation(profile.cmw_extension_type, cmw)
            .map_err(|e| Error::Signing(format!("evidence does not fit: {e}").into()))?;
        let transcript = profile.request_in_transcript(&incoming.encoded);
        let bytes = build_authenticator(
            self.hash,
            &incoming.keys,
            transcript,
            &incoming.request.context,
            identity,
            vec![ext],
        )?;
        self.transmits.push_back(bytes);
        self.events.push_back(Event::Answered {
            context: incoming.request.context.clone(),
            refused: false,
        });
        Ok(())
    }

    fn handle_authenticator(
        &mut self,
        now: Instant,
        authenticator: Authenticator,
        exporter: &dyn Exporter,
    ) -> Result<(), Error> {
        let profile = self.config.profile.clone();
        let cmw_type = profile.cmw_extension_type;
        let certificate = match &authenticator {
            Authenticator::Full { certificate, .. } => certificate,
            Authenticator::Empty(_) => return self.handle_empty(&authenticator),
        };
        let pos = self.outgoing.iter().position(|o| {
            o.request.context == certificate.context
                && matches!(o.phase, OutgoingPhase::AwaitingAuthenticator { .. })
        });
        let Some(pos) = pos else {
            if self.used_contexts.contains(&certificate.context) {
                return Err(PeerMisbehaved::ContextReused.into());
            }
            let awaiting = self
                .outgoing
                .iter()
                .any(|o| matches!(o.phase, OutgoingPhase::AwaitingAuthenticator { .. }));
            if awaiting {
                return Err(PeerMisbehaved::ContextMismatch.into());
            }
            return self.handle_spontaneous(&authenticator, exporter);
        };

        let out = self
            .outgoing
            .get(pos)
            .ok_or(PeerMisbehaved::ContextMismatch)?;
        let offered = authenticator::offered_extensions(&out.request);
        let schemes = out.request.signature_schemes();
        let expect = Expectation {
            request_in_transcript: profile.request_in_transcript(&out.encoded),
            context: Some(&out.request.context),
            offered_extensions: &offered,
            offered_schemes: &schemes,
            cmw_extension_type: cmw_type,
        };
        let validation = validate_authenticator(
            self.hash,
            &out.keys,
            &expect,
            &authenticator,
            self.config.chain_verifier.as_ref(),
        )?;
        let peer = match validation {
            Validation::Refused => return Err(Error::PeerRefused),
            Validation::Authenticated(peer) => peer,
        };
        let Some(cmw) = peer.cmw.clone() else {
            if self.config.require_evidence {
                return Err(Error::AttestationMissing);
            }
            self.outgoing.swap_remove(pos);
            self.events.push_back(Event::PeerAuthenticated {
                context: peer.context,
                peer_chain: peer.chain,
            });
            return Ok(());
        };
        let binding = Binding::derive(&profile, self.hash, exporter, &peer.context, &peer.spki_der)
            .map_err(exporter_error)?;
        let id = self.next_id();
        let peer_chain = peer.chain.clone();
        if let Some(out) = self.outgoing.get_mut(pos) {
            out.phase = OutgoingPhase::AwaitingAppraisal {
                id,
                deadline: now + self.config.appraisal_timeout,
                peer,
            };
        }
        self.events.push_back(Event::AppraisalRequested {
            id,
            evidence: cmw,
            binding,
            peer_chain,
        });
        Ok(())
    }

    fn handle_empty(&mut self, authenticator: &Authenticator) -> Result<(), Error> {
        let mut any = false;
        for out in &self.outgoing {
            if !matches!(out.phase, OutgoingPhase::AwaitingAuthenticator { .. }) {
                continue;
            }
            any = true;
            let expect = Expectation {
                request_in_transcript: self.config.profile.request_in_transcript(&out.encoded),
                context: Some(&out.request.context),
                offered_extensions: &[],
                offered_schemes: &[],
                cmw_extension_type: self.config.profile.cmw_extension_type,
            };
            if let Ok(Validation::Refused) = validate_authenticator(
                self.hash,
                &out.keys,
                &expect,
                authenticator,
                self.config.chain_verifier.as_ref(),
            ) {
                return Err(Error::PeerRefused);
            }
        }
        match any {
            true => Err(PeerMisbehaved::BadFinished.into()),
            false => Err(PeerMisbehaved::UnsolicitedAuthenticator.into()),
        }
    }

    fn handle_spontaneous(
        &mut self,
        authenticator: &Authenticator,
        exporter: &dyn Exporter,
    ) -> Result<(), Error> {
        if self.role == Role::Server || !self.config.accept_spontaneous {
            return Err(PeerMisbehaved::UnsolicitedAuthenticator.into());
        }
        let keys =
            AuthenticatorKeys::derive(exporter, self.hash, Role::Server).map_err(exporter_error)?;
        let expect = Expectation {
            request_in_transcript: &[],
            context: None,
            offered_extensions: &[],
            offered_schemes: &self.config.signature_schemes,
            cmw_extension_type: self.config.profile.cmw_extension_type,
        };
        let validation = validate_authenticator(
            self.hash,
            &keys,
            &expect,
            authenticator,
            self.config.chain_verifier.as_ref(),
        )?;
        let Validation::Authenticated(peer) = validation else {
            return Err(PeerMisbehaved::UnsolicitedAuthenticator.into());
        };
        if !self.used_contexts.insert(peer.context.clone()) {
            return Err(PeerMisbehaved::ContextReused.into());
        }
        self.events.push_back(Event::PeerAuthenticated {
            context: peer.context,
            peer_chain: peer.chain,
        });
        Ok(())
    }

    /// Sends a spontaneous server authenticator (no request, no evidence). TLS server only.
    pub fn send_spontaneous_authenticator(&mut self, exporter: &dyn Exporter) -> Result<(), Error> {
        self.check_open()?;
        if self.role != Role::Server {
            return Err(ApiMisuse::SpontaneousFromClient.into());
        }
        let identity = self.config.identity.clone().ok_or(ApiMisuse::NoIdentity)?;
        let result = AuthenticatorKeys::derive(exporter, self.hash, Role::Server)
            .map_err(exporter_error)
            .and_then(|keys| {
                let context = self.fresh_context();
                build_authenticator(self.hash, &keys, &[], &context, &identity, Vec::new())
            });
        let bytes = self.guard(result)?;
        self.transmits.push_back(bytes);
        Ok(())
    }

    /// Answers [`Event::AppraisalRequested`]. On success the session emits
    /// [`Event::Attested`]; a rejection is fatal.
    pub fn handle_appraisal(
        &mut self,
        id: OperationId,
        result: Result<C, AppraisalError>,
    ) -> Result<(), Error> {
        self.check_open()?;
        let pos = self
            .outgoing
            .iter()
            .position(
                |o| matches!(&o.phase, OutgoingPhase::AwaitingAppraisal { id: i, .. } if *i == id),
            )
            .ok_or(ApiMisuse::UnknownId(id.0))?;
        let out = self.outgoing.swap_remove(pos);
        let claims = match result {
            Ok(claims) => claims,
            Err(e) => return self.guard(Err(e.into())),
        };
        if let OutgoingPhase::AwaitingAppraisal { peer, .. } = out.phase {
            self.peer_attested = true;
            self.events.push_back(Event::Attested {
                context: peer.context,
                claims,
                peer_chain: peer.chain,
            });
        }
        Ok(())
    }

    /// The next message to send to the peer.
    pub fn poll_transmit(&mut self) -> Option<Vec<u8>> {
        self.transmits.pop_front()
    }

    /// The next event for the host.
    pub fn poll_event(&mut self) -> Option<Event<C>> {
        self.events.pop_front()
    }

    /// The earliest deadline the session waits on, and what for.
    pub fn poll_timeout(&self) -> Option<(Instant, TimeoutReason)> {
        if self.closed.is_some() {
            return None;
        }
        let outgoing = self.outgoing.iter().map(|o| match &o.phase {
            OutgoingPhase::AwaitingAuthenticator { deadline } => {
                (*deadline, TimeoutReason::AwaitingAuthenticator)
            }
            OutgoingPhase::AwaitingAppraisal { deadline, .. } => {
                (*deadline, TimeoutReason::AwaitingAppraisal)
            }
        });
        let incoming = self
            .incoming
            .iter()
            .map(|i| (i.deadline, TimeoutReason::AwaitingEvidence));
        outgoing.chain(incoming).min_by_key(|(t, _)| *t)
    }

    /// Fails the session if a deadline has passed at `now`.
    pub fn handle_timeout(&mut self, now: Instant) -> Result<(), Error> {
        self.check_open()?;
        match self.poll_timeout() {
            Some((deadline, reason)) if deadline <= now => self.guard(Err(Error::Timeout(reason))),
            _ => Ok(()),
        }
    }

    fn check_open(&self) -> Result<(), Error> {
        match self.closed {
            Some(_) => Err(ApiMisuse::SessionClosed.into()),
            None => Ok(()),
        }
    }

    /// Closes the session on any error except a caller's stale id: pending work, queued
    /// messages and undelivered events are dropped, so nothing is sent or reported after it.
    fn guard<T>(&mut self, result: Result<T, Error>) -> Result<T, Error> {
        if let Err(e) = &result
            && !matches!(e, Error::ApiMisuse(ApiMisuse::UnknownId(_)))
        {
            self.closed = Some(e.alert());
            self.peer_attested = false;
            self.outgoing.clear();
            self.incoming.clear();
            self.transmits.clear();
            self.events.clear();
        }
        result
    }

    fn next_id(&mut self) -> OperationId {
        self.next_id += 1;
        OperationId(self.next_id)
    }

    /// A fresh, unpredictable context: HMAC-SHA256(seed, counter), never reused on this
    /// connection in either direction.
    fn fresh_context(&mut self) -> Vec<u8> {
        loop {
            self.next_id += 1;
            let ctx = HashAlgorithm::Sha256.hmac(
                self.context_seed.as_slice(),
                &[
                    b"atls request context".as_slice(),
                    &self.next_id.to_be_bytes(),
                ]
                .concat(),
            );
            if self.used_contexts.insert(ctx.clone()) {
                return ctx;
            }
        }
    }
}

impl<C> fmt::Debug for Session<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Session")
            .field("role", &self.role)
            .field("hash", &self.hash)
            .field("outgoing", &self.outgoing.len())
            .field("incoming", &self.incoming.len())
            .field("closed", &self.closed)
            .field("peer_attested", &self.peer_attested)
            .finish_non_exhaustive()
    }
}

fn exporter_error(e: ExporterError) -> Error {
    match e {
        ExporterError::HandshakeNotComplete => ApiMisuse::HandshakeNotComplete.into(),
        ExporterError::Other(why) => ApiMisuse::Exporter(why).into(),
    }
}
