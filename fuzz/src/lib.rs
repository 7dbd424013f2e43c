//! Shared setup for the fuzz targets: a fixed Ed25519 identity, deterministic sessions in the
//! states the whole-exchange target starts from, the checks every session input must pass,
//! and the seed corpus (written by `cargo run --example seed_corpus`).

use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use atls_core::{
    Authenticator, CertificateVerifier, CertifiedKey, CipherSuite, Codec, Config, Event,
    ExporterMasterSecret, Extension, Message, PinnedKeyVerifier, Profile, Role, Session,
    message_length, signing_key_from_pkcs8_der,
};

/// A self-signed Ed25519 certificate for `fuzz.attester.example`, DER in hex. Made once with
/// `openssl genpkey -algorithm ed25519` and `openssl req -x509 -days 36500`.
pub const CERT_DER_HEX: &str = "3082015730820109a003020102021478c95e71da0d1c7c656a5dbe65e360350537b909300506032b65703020311e301c06035504030c1566757a7a2e61747465737465722e6578616d706c653020170d3236313132333133333132375a180f32313236313033303133333132375a3020311e301c06035504030c1566757a7a2e61747465737465722e6578616d706c65302a300506032b657003210021a9f4d3798cfff420da7ca372f8455519aa05fa663bb768f16d8185924ed016a3533051301d0603551d0e04160414c088c9d3802565a496986688cb6d10e1b23efab0301f0603551d23041830168014c088c9d3802565a496986688cb6d10e1b23efab0300f0603551d130101ff040530030101ff300506032b657003410061cd7f5a48f20a4df9b0465a78a6ecee25d4dc44b725bf06eadfdfd5d161cfea08e804f49905f358e1d74f032de46d83072d57da40ca7d99a7a28cfa27f8f50a";

/// The certificate's private key, PKCS#8 DER in hex. A test key: it protects nothing.
pub const KEY_PKCS8_HEX: &str = "302e020100300506032b6570042204203cce2e0b483690cda4ff97a2565a5344ed682c9fd457b297e610c284657f318c";

/// A ClientCertificateRequest with a 32-byte context, `signature_algorithms` offering ed25519
/// and the empty `cmw_attestation` offer (0xffff); the codec's unit-test vector.
pub const REQUEST_HEX: &str = "1100002f20000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f000c000d000400020807ffff0000";

/// Most messages one input feeds to a session.
const MAX_MESSAGES: usize = 4;

struct Identity {
    key: CertifiedKey,
    verifier: Arc<dyn CertificateVerifier>,
}

fn identity() -> &'static Identity {
    static IDENTITY: OnceLock<Identity> = OnceLock::new();
    IDENTITY.get_or_init(|| {
        let cert = hex::decode(CERT_DER_HEX).expect("certificate hex");
        let key = hex::decode(KEY_PKCS8_HEX).expect("key hex");
        Identity {
            verifier: Arc::new(PinnedKeyVerifier::for_certificate(&cert).expect("certificate")),
            key: CertifiedKey {
                chain: vec![cert.into()],
                key: signing_key_from_pkcs8_der(&key).expect("PKCS#8 key"),
            },
        }
    })
}

/// A chain verifier pinning the fixed identity.
pub fn pinned_verifier() -> Arc<dyn CertificateVerifier> {
    Arc::clone(&identity().verifier)
}

/// Where the local session stands when the fuzz input reaches it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stage {
    /// Nothing sent or received.
    Fresh,
    /// We sent a request and await its authenticator.
    Requested,
    /// The peer's request arrived: evidence is pending (or, without identity, we refused).
    Answering,
    /// Both: our request is out and the peer's is being answered.
    Both,
}

/// The first input byte of the whole-exchange target.
///
/// Bits 0–1: [`Stage`]; bit 2: the local session is the TLS server; bit 3: SHA-384 suite;
/// bit 4: the local session has an identity; bit 5: accept spontaneous authenticators;
/// bit 6: evidence optional; bit 7: unframed request transcript (fizz interop).
#[derive(Clone, Copy, Debug)]
pub struct Setup(pub u8);

impl Setup {
    fn bit(self, n: u8) -> bool {
        self.0 & (1 << n) != 0
    }

    /// Where the local session starts.
    pub fn stage(self) -> Stage {
        match self.0 & 3 {
            0 => Stage::Fresh,
            1 => Stage::Requested,
            2 => Stage::Answering,
            _ => Stage::Both,
        }
    }

    /// The local TLS role.
    pub fn role(self) -> Role {
        match self.bit(2) {
            true => Role::Server,
            false => Role::Client,
        }
    }

    /// The negotiated suite.
    pub fn suite(self) -> CipherSuite {
        match self.bit(3) {
            true => CipherSuite::TLS13_AES_256_GCM_SHA384,
            false => CipherSuite::TLS13_AES_128_GCM_SHA256,
        }
    }

    fn config(self, role: Role, with_identity: bool) -> Arc<Config> {
        let mut config = Config::new(pinned_verifier());
        if with_identity {
            config = config.with_identity(identity().key.clone());
        }
        if role == Role::Client {
            config.server_name = Some("fuzz.attester.example".into());
        }
        config.accept_spontaneous = self.bit(5);
        config.require_evidence = !self.bit(6);
        config.profile = Profile {
            unframed_request_transcript: self.bit(7),
            ..Profile::default()
        };
        Arc::new(config)
    }
}

/// Two sessions on one simulated connection: `local` gets the fuzz input, `peer` is honest.
#[derive(Debug)]
pub struct Exchange {
    /// What the first input byte chose.
    pub setup: Setup,
    /// The time of every input.
    pub now: Instant,
    /// The connection's exporter, shared by both ends.
    pub exporter: ExporterMasterSecret,
    /// The session under test.
    pub local: Session<()>,
    /// The honest other end.
    pub peer: Session<()>,
}

impl Exchange {
    /// Builds both sessions and walks the local one to `setup.stage()`. Everything here is
    /// honest, so any failure is a bug.
    pub fn new(setup: Setup) -> Self {
        let suite = setup.suite();
        let hash = suite.hash().expect("known suite");
        let exporter =
            ExporterMasterSecret::new(hash, &vec![7; hash.output_len()]).expect("exporter");
        let now = Instant::now();
        let role = setup.role();
        let local_config = setup.config(role, setup.bit(4));
        let peer_config = setup.config(role.peer(), true);
        let mut local = Session::new(local_config, role, suite, [1; 32]).expect("local session");
        let mut peer =
            Session::new(peer_config, role.peer(), suite, [2; 32]).expect("peer session");
        let stage = setup.stage();
        if matches!(stage, Stage::Requested | Stage::Both) {
            local
                .request_attestation(now, &exporter)
                .expect("local request");
        }
        if matches!(stage, Stage::Answering | Stage::Both) {
            peer.request_attestation(now, &exporter)
                .expect("peer request");
            let request = peer.poll_transmit().expect("peer request bytes");
            local
                .handle_message(now, &request, &exporter)
                .expect("honest request accepted");
        }
        Self {
            setup,
            now,
            exporter,
            local,
            peer,
        }
    }

    /// Feeds one peer message to the local session and checks what every failure must do:
    /// close the session, drop attestation, and discard queued output.
    pub fn feed_local(&mut self, message: &[u8]) -> Result<(), atls_core::Error> {
        let result = self.local.handle_message(self.now, message, &self.exporter);
        if result.is_err() {
            assert!(
                self.local.close_alert().is_some(),
                "error left session open"
            );
            assert!(!self.local.is_peer_attested(), "failed session attested");
            assert!(
                self.local.poll_transmit().is_none(),
                "failed session still transmits"
            );
        }
        result
    }

    /// Answers the local session's pending work as a permissive host would: the evidence is
    /// the binder itself, and every appraisal succeeds.
    pub fn serve_local(&mut self) {
        while let Some(event) = self.local.poll_event() {
            match event {
                Event::EvidenceRequested { id, binding } => {
                    let evidence = Ok(binding.binder().to_vec());
                    let _ = self.local.handle_evidence(id, evidence);
                }
                Event::AppraisalRequested { id, .. } => {
                    let accepted = self.local.handle_appraisal(id, Ok(())).is_ok();
                    assert!(
                        !accepted || self.local.is_peer_attested(),
                        "appraisal accepted but peer not attested"
                    );
                }
                _ => {}
            }
        }
    }

    /// Takes everything the local session queued and checks it is well formed.
    pub fn drain_local(&mut self) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        while let Some(bytes) = self.local.poll_transmit() {
            let message = Message::decode(&bytes).expect("own message decodes");
            assert_eq!(message.to_bytes(), bytes, "own message re-encodes");
            assert_eq!(message_length(&bytes), Ok(Some(bytes.len())), "own framing");
            out.push(bytes);
        }
        out
    }

    /// Lets every deadline pass.
    pub fn expire_local(&mut self) {
        let _ = self
            .local
            .handle_timeout(self.now + Duration::from_secs(3600));
        assert!(
            self.local.poll_timeout().is_none(),
            "deadline survived expiry"
        );
    }
}

/// The whole-exchange target minus the final expiry: the first byte of `data` selects the
/// [`Setup`], the rest arrives as peer messages until one fails.
pub fn run_exchange(data: &[u8]) -> Option<Exchange> {
    let (&selector, rest) = data.split_first()?;
    let mut ex = Exchange::new(Setup(selector));
    ex.serve_local();
    ex.drain_local();
    for message in split_messages(rest) {
        if ex.feed_local(message).is_err() {
            break;
        }
        ex.serve_local();
        ex.drain_local();
    }
    Some(ex)
}

/// Splits `data` into at most [`MAX_MESSAGES`] messages with [`message_length`]; whatever
/// does not frame becomes the last message.
pub fn split_messages(mut data: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    while !data.is_empty() && out.len() + 1 < MAX_MESSAGES {
        match message_length(data) {
            Ok(Some(n)) if n > 0 => {
                let (message, rest) = data.split_at(n);
                out.push(message);
                data = rest;
            }
            _ => break,
        }
    }
    if !data.is_empty() || out.is_empty() {
        out.push(data);
    }
    out
}

/// One seed: target, file name, bytes.
pub type Seed = (&'static str, String, Vec<u8>);

/// Has the honest peer answer `request` (with evidence, or refusing) and returns its message.
fn answer(ex: &mut Exchange, request: &[u8], refuse: bool) -> Vec<u8> {
    let peer = &mut ex.peer;
    peer.handle_message(ex.now, request, &ex.exporter)
        .expect("peer accepts request");
    while let Some(event) = peer.poll_event() {
        if let Event::EvidenceRequested { id, binding } = event {
            let evidence = match refuse {
                true => Err("no evidence today".into()),
                false => Ok(binding.binder().to_vec()),
            };
            peer.handle_evidence(id, evidence).expect("peer answers");
        }
    }
    peer.poll_transmit().expect("peer's authenticator")
}

fn prefixed(selector: u8, messages: &[&[u8]]) -> Vec<u8> {
    let mut out = vec![selector];
    for m in messages {
        out.extend_from_slice(m);
    }
    out
}

/// The seed corpus of every target, produced by honest sessions over the fixed identity.
pub fn seed_corpus() -> Vec<Seed> {
    let mut seeds: Vec<Seed> = Vec::new();
    let mut messages: Vec<(String, Vec<u8>)> = Vec::new();
    messages.push((
        "request-vector".into(),
        hex::decode(REQUEST_HEX).expect("request hex"),
    ));

    // The local session requested; the honest peer answers (or refuses).
    for selector in [0b0001_0001u8, 0b0001_0101, 0b0001_1001, 0b1001_0101] {
        let setup = Setup(selector);
        let name = format!(
            "{}-{}-{selector:02x}",
            match setup.role() {
                Role::Client => "client",
                Role::Server => "server",
            },
            match setup.bit(3) {
                true => "sha384",
                false => "sha256",
            }
        );
        let mut ex = Exchange::new(setup);
        let request = ex.drain_local().pop().expect("local request");
        let auth = answer(&mut ex, &request, false);
        messages.push((format!("request-{name}"), request.clone()));
        messages.push((format!("authenticator-{name}"), auth.clone()));
        seeds.push((
            "session_exchange",
            format!("requested-{name}-attested"),
            prefixed(selector, &[&auth]),
        ));
        seeds.push((
            "session_exchange",
            format!("requested-{name}-replayed"),
            prefixed(selector, &[&auth, &auth]),
        ));
        // The peer's request to us, arriving at a fresh session.
        seeds.push((
            "session_exchange",
            format!("fresh-{name}-peer-request"),
            prefixed(selector & !3, &[&peer_request(selector & !3)]),
        ));

        let mut ex = Exchange::new(setup);
        let request = ex.drain_local().pop().expect("local request");
        let refusal = answer(&mut ex, &request, true);
        messages.push((format!("empty-authenticator-{name}"), refusal.clone()));
        seeds.push((
            "session_exchange",
            format!("requested-{name}-refused"),
            prefixed(selector, &[&refusal]),
        ));
    }

    // A second request while the first is being answered; and both directions at once.
    for selector in [0b0001_0010u8, 0b0001_0110] {
        let mut ex = Exchange::new(Setup(selector));
        ex.peer
            .request_attestation(ex.now, &ex.exporter)
            .expect("second request");
        let second = ex.peer.poll_transmit().expect("second request bytes");
        seeds.push((
            "session_exchange",
            format!("answering-{selector:02x}-second-request"),
            prefixed(selector, &[&second]),
        ));
        let both = selector | 3;
        let mut ex = Exchange::new(Setup(both));
        let request = ex.drain_local().pop().expect("local request");
        let auth = answer(&mut ex, &request, false);
        seeds.push((
            "session_exchange",
            format!("both-{both:02x}-attested"),
            prefixed(both, &[&auth]),
        ));
    }

    // A spontaneous server authenticator to a client that accepts them.
    let selector = 0b0010_0000u8;
    let mut ex = Exchange::new(Setup(selector));
    ex.peer
        .send_spontaneous_authenticator(&ex.exporter)
        .expect("spontaneous authenticator");
    let spontaneous = ex.peer.poll_transmit().expect("spontaneous bytes");
    messages.push(("spontaneous-authenticator".into(), spontaneous.clone()));
    seeds.push((
        "session_exchange",
        "fresh-client-spontaneous".into(),
        prefixed(selector, &[&spontaneous]),
    ));

    for (name, bytes) in &messages {
        let message = Message::decode(bytes).expect("seed decodes");
        let target = match message {
            Message::Request(req) => {
                for ext in &req.extensions {
                    seeds.push((
                        "extension_parsers",
                        format!("{name}-ext-{:04x}", ext.typ.0),
                        ext.data.clone(),
                    ));
                }
                "request_decode"
            }
            Message::Authenticator(Authenticator::Full { certificate, .. }) => {
                for ext in certificate.entries.iter().flat_map(|e| &e.extensions) {
                    seeds.push((
                        "extension_parsers",
                        format!("{name}-ext-{:04x}", ext.typ.0),
                        ext.data.clone(),
                    ));
                }
                "authenticator_decode"
            }
            Message::Authenticator(Authenticator::Empty(_)) => "authenticator_decode",
        };
        seeds.push((target, name.clone(), bytes.clone()));
        seeds.push(("message_roundtrip", name.clone(), bytes.clone()));
        seeds.push(("message_length", name.clone(), bytes.clone()));
    }
    let stream: Vec<u8> = messages.iter().flat_map(|(_, b)| b.clone()).collect();
    seeds.push(("message_length", "stream-of-all".into(), stream));
    seeds.push((
        "extension_parsers",
        "server-name".into(),
        Extension::server_name("fuzz.attester.example").data,
    ));
    // Each exchange seed must reach the outcome its name promises.
    for (target, name, bytes) in &seeds {
        if *target != "session_exchange" {
            continue;
        }
        let ex = run_exchange(bytes).expect("non-empty seed");
        let open = ex.local.close_alert().is_none();
        let attested = ex.local.is_peer_attested();
        match name.rsplit('-').next() {
            Some("attested") => assert!(attested, "{name} did not attest"),
            Some("refused" | "replayed") => assert!(!open, "{name} left the session open"),
            _ => assert!(open && !attested, "{name} failed"),
        }
    }
    // Identical and empty inputs add nothing to a corpus.
    let mut seen = std::collections::HashSet::new();
    seeds.retain(|(target, _, bytes)| !bytes.is_empty() && seen.insert((*target, bytes.clone())));
    seeds
}

/// The request a fresh peer sends to a local session set up by `selector`.
fn peer_request(selector: u8) -> Vec<u8> {
    let mut ex = Exchange::new(Setup(selector));
    ex.peer
        .request_attestation(ex.now, &ex.exporter)
        .expect("peer request");
    ex.peer.poll_transmit().expect("peer request bytes")
}
