//! `atls demo`: an attested connection on loopback with the TDX simulator, step by step,
//! and the attacks the design defeats, run against the real code.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use atls_core::Binding;
use atls_evidence::{Attester, BoxFuture, Claims, EvidenceError, MediaType, Verifier, VerifierSet};
use atls_policy::{EvaluationContext, MeasurementSet, Policy, Register};
use atls_tdx::sim::{
    QuoteVariant, SimulatedTd, SimulatedTdxAttester, SimulatorConfig, TdxSimulator,
};
use atls_tdx::{Appraiser, StaticCollateral, TdxVerifier};
use clap::{Args, ValueEnum};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::Failure;
use crate::transport::{self, Identity, Pki, Transport};

#[derive(Args)]
pub(crate) struct DemoArgs {
    /// Run over QUIC instead of TCP.
    #[arg(long)]
    quic: bool,
    /// Run an attack against the real code and show it being rejected.
    #[arg(long, value_enum)]
    attack: Option<Attack>,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub(crate) enum Attack {
    /// Old evidence from an earlier connection presented on a new one.
    Replay,
    /// A man in the middle presents a genuine TEE's evidence obtained on its own connection.
    Relay,
    /// A genuine TEE operated by someone else answers for the expected server.
    Diversion,
    /// A debug TD (its memory readable by the host) with otherwise valid evidence.
    DebugTd,
}

fn step(text: &str) {
    println!("==> {text}");
}

fn detail(text: &str) {
    println!("    {text}");
}

fn ms(since: Instant) -> String {
    format!("{:.1} ms", since.elapsed().as_secs_f64() * 1000.0)
}

/// The simulated platform, the relying party's verifier and policy.
pub(crate) struct World {
    pub(crate) sim: Arc<TdxSimulator>,
    pub(crate) td: SimulatedTd,
    pub(crate) pki: Pki,
}

impl World {
    pub(crate) fn new() -> Result<Self, Failure> {
        let now = crate::policy::now_unix();
        let sim = TdxSimulator::new(SimulatorConfig::new([0x42; 32], now.saturating_sub(3600)))
            .map_err(|e| Failure::unusable(format!("simulator: {e}")))?;
        Ok(Self {
            sim: Arc::new(sim),
            td: SimulatedTd::default(),
            pki: Pki::new().map_err(Failure::unusable)?,
        })
    }

    pub(crate) fn attester(&self, variant: QuoteVariant) -> Arc<dyn Attester> {
        Arc::new(Narrated(Arc::new(
            SimulatedTdxAttester::new(self.sim.clone(), self.td.clone()).with_variant(variant),
        )))
    }

    pub(crate) fn verifiers(&self, narrate: bool) -> VerifierSet {
        let appraiser =
            Appraiser::with_test_root_ca_for_testing(self.sim.test_root_ca_der().to_vec());
        let collateral = Arc::new(StaticCollateral::new(self.sim.collateral().clone()));
        let tdx = TdxVerifier::new(appraiser, collateral, crate::policy::now_unix);
        match narrate {
            true => VerifierSet::new().with(Arc::new(NarratedVerifier(Arc::new(tdx)))),
            false => VerifierSet::new().with(Arc::new(tdx)),
        }
    }

    /// Strict: UpToDate TCB, no debug TD, this TD's MRTD.
    pub(crate) fn policy(&self) -> Result<Policy, Failure> {
        let set = MeasurementSet::new("demo-td")
            .allow(Register::MrTd, &hex::encode(self.td.mr_td))
            .map_err(|e| Failure::unusable(e.to_string()))?;
        Ok(Policy::strict().with_measurement_set(set))
    }
}

/// The policy as the adapters apply it, narrating its verdict.
pub(crate) fn peer_policy(policy: Policy, narrate: bool) -> Arc<dyn atls_tokio::PeerPolicy> {
    Arc::new(
        move |claims: &Claims| -> Result<serde_json::Value, atls_core::BoxError> {
            let verdict = policy.evaluate(
                claims,
                &EvaluationContext::new(crate::policy::now_unix() as i64),
            );
            if narrate {
                for m in &verdict.matched {
                    detail(&format!("policy ✓ {}: {}", m.rule, m.detail));
                }
                for f in &verdict.failures {
                    detail(&format!("policy ✗ {f}"));
                }
            }
            let json = serde_json::to_value(&verdict).unwrap_or_default();
            verdict
                .into_result()
                .map(|_| json)
                .map_err(|e| Box::new(e) as atls_core::BoxError)
        },
    )
}

/// Prints what the attester does.
#[derive(Debug)]
struct Narrated(Arc<dyn Attester>);

impl Attester for Narrated {
    fn attest<'a>(&'a self, binding: &'a Binding) -> BoxFuture<'a, Result<Vec<u8>, EvidenceError>> {
        Box::pin(async move {
            detail(&format!(
                "attester: request received; binder = {}…, AIK_pub_hash = {}…",
                hex::encode(&binding.binder()[..8]),
                hex::encode(&binding.aik_pub_hash()[..8])
            ));
            let t = Instant::now();
            let cmw = self.0.attest(binding).await?;
            detail(&format!(
                "attester: TDX quote (SIMULATED) with REPORTDATA = binder ‖ AIK_pub_hash, {} bytes of CMW, {}",
                cmw.len(),
                ms(t)
            ));
            Ok(cmw)
        })
    }
}

/// Prints what the verifier concludes.
#[derive(Debug)]
struct NarratedVerifier(Arc<dyn Verifier>);

impl Verifier for NarratedVerifier {
    fn media_type(&self) -> MediaType {
        self.0.media_type()
    }

    fn verify<'a>(
        &'a self,
        value: &'a [u8],
        binding: &'a Binding,
    ) -> BoxFuture<'a, Result<Claims, EvidenceError>> {
        Box::pin(async move {
            let t = Instant::now();
            let result = self.0.verify(value, binding).await;
            match &result {
                Ok(claims) => {
                    detail(&format!(
                        "verifier: DCAP appraisal ✓ (test root CA), {}",
                        ms(t)
                    ));
                    detail(&format!(
                        "verifier: TCB status {}, MRTD {}…",
                        claims.get_str("tdx.tcb_status").unwrap_or("?"),
                        &claims.get_str("tdx.mr_td").unwrap_or("?")[..16]
                    ));
                    detail(&format!(
                        "verifier: binder ✓ REPORTDATA[0..32] = {}…",
                        hex::encode(&binding.binder()[..8])
                    ));
                }
                Err(e) => detail(&format!("verifier: ✗ {e}")),
            }
            result
        })
    }
}

pub(crate) fn run(args: DemoArgs) -> Result<u8, Failure> {
    let rt = tokio::runtime::Runtime::new().map_err(|e| Failure::unusable(e.to_string()))?;
    let transport = if args.quic {
        Transport::Quic
    } else {
        Transport::Tcp
    };
    rt.block_on(async move {
        let world = World::new()?;
        println!("atls demo over {transport} — TDX is SIMULATED: quotes chain to an insecure test root, never to Intel's.");
        let ok = match args.attack {
            None => normal(&world, transport).await?,
            Some(Attack::DebugTd) => debug_td(&world, transport).await?,
            Some(Attack::Replay) => replay(&world, transport).await?,
            Some(Attack::Relay) => relay(&world, transport).await?,
            Some(Attack::Diversion) => diversion(&world, transport).await?,
        };
        Ok(if ok { 0 } else { crate::EXIT_REJECTED })
    })
}

/// Serves attested echo connections with `attester` on `identity` until dropped.
async fn echo_server(
    identity: &Identity,
    attester: Arc<dyn Attester>,
    transport: Transport,
) -> Result<transport::Server, Failure> {
    transport::Server::start(identity, attester, transport, |mut stream| async move {
        let mut buf = vec![0u8; 4096];
        while let Ok(n) = stream.read(&mut buf).await {
            if n == 0 || stream.write_all(&buf[..n]).await.is_err() {
                break;
            }
        }
    })
    .await
    .map_err(|e| Failure::unusable(format!("server: {e}")))
}

async fn connect(
    world: &World,
    server: &transport::Server,
    transport: Transport,
    narrate: bool,
) -> Result<transport::Client, atls_tokio::AtlsError> {
    transport::Client::connect(
        &world.pki,
        "attested.example",
        server.addr,
        world.verifiers(narrate),
        peer_policy(
            world
                .policy()
                .map_err(|f| atls_tokio::AtlsError::Config(f.message))?,
            narrate,
        ),
        transport,
    )
    .await
}

async fn normal(world: &World, transport: Transport) -> Result<bool, Failure> {
    step("Simulated TDX platform: test PKI, signed TCB info and QE identity issued");
    detail(&format!(
        "FMSPC {}, collateral valid until {}",
        hex::encode(world.sim.fmspc()),
        world.sim.valid_until()
    ));
    step(
        "Starting an attested server for attested.example on loopback (attests with a simulated TD)",
    );
    let server = echo_server(
        &world.pki.server,
        world.attester(QuoteVariant::Genuine),
        transport,
    )
    .await?;
    detail(&format!("listening on {}", server.addr));
    step("Client: TLS 1.3 handshake (no resumption, no 0-RTT), then post-handshake attestation");
    let t = Instant::now();
    let mut client = match connect(world, &server, transport, true).await {
        Ok(c) => c,
        Err(e) => {
            step(&format!("FAILED: {e}"));
            return Ok(false);
        }
    };
    step(&format!(
        "Server attested and accepted by policy in {} (handshake + request + quote + appraisal)",
        ms(t)
    ));
    if let Some(a) = client.peer_attestation() {
        detail(&format!("evidence type: {}", a.claims.evidence_type));
        if let Some(v) = &a.policy_verdict {
            detail(&format!("policy verdict: {v}"));
        }
    }
    step("Application data flows only now");
    let msg = b"hello from the relying party";
    client
        .write_all(msg)
        .await
        .map_err(|e| Failure::unusable(e.to_string()))?;
    let mut back = vec![0u8; msg.len()];
    client
        .read_exact(&mut back)
        .await
        .map_err(|e| Failure::unusable(e.to_string()))?;
    detail(&format!("echoed: {:?}", String::from_utf8_lossy(&back)));
    step("Done: every step behaved as it should");
    Ok(back == msg)
}

/// Expects `result` to be a rejection whose text contains `expected`.
fn expect_rejected<T>(result: Result<T, atls_tokio::AtlsError>, expected: &str) -> bool {
    match result {
        Ok(_) => {
            step("UNEXPECTED: the attack succeeded");
            false
        }
        Err(e) => {
            let text = e.to_string();
            step(&format!("Rejected: {text}"));
            match e {
                atls_tokio::AtlsError::Io(_) => detail("refused during the TLS handshake itself"),
                e => detail(&format!("alert sent to the peer: {}", e.alert_code())),
            }
            let ok = text.contains(expected);
            if ok {
                step("Done: the attack was rejected for the right reason");
            } else {
                step(&format!(
                    "UNEXPECTED reason: expected one mentioning {expected:?}"
                ));
            }
            ok
        }
    }
}

async fn debug_td(world: &World, transport: Transport) -> Result<bool, Failure> {
    step(
        "Attack: a debug TD (its memory is readable by the host) presents otherwise valid evidence",
    );
    let server = echo_server(
        &world.pki.server,
        world.attester(QuoteVariant::DebugTd),
        transport,
    )
    .await?;
    Ok(expect_rejected(
        connect(world, &server, transport, true).await,
        "debug",
    ))
}

/// An attester that records the evidence it produced, or replays recorded evidence.
#[derive(Debug)]
struct Recorder {
    inner: Arc<dyn Attester>,
    recorded: Mutex<Option<Vec<u8>>>,
    replay: bool,
}

impl Attester for Recorder {
    fn attest<'a>(&'a self, binding: &'a Binding) -> BoxFuture<'a, Result<Vec<u8>, EvidenceError>> {
        Box::pin(async move {
            if self.replay {
                let old = self.recorded.lock().map(|g| g.clone()).ok().flatten();
                detail("attacker: answering with the evidence recorded on the earlier connection");
                return old.ok_or_else(|| EvidenceError::Backend("nothing recorded".into()));
            }
            let cmw = self.inner.attest(binding).await?;
            if let Ok(mut g) = self.recorded.lock() {
                *g = Some(cmw.clone());
            }
            Ok(cmw)
        })
    }
}

async fn replay(world: &World, transport: Transport) -> Result<bool, Failure> {
    step("Attack: replay — record genuine evidence on one connection, present it on the next");
    let recorder = Arc::new(Recorder {
        inner: world.attester(QuoteVariant::Genuine),
        recorded: Mutex::new(None),
        replay: false,
    });
    let server = echo_server(&world.pki.server, recorder.clone(), transport).await?;
    step("Connection 1: genuine attestation (recorded by the attacker, who controls the host)");
    if connect(world, &server, transport, false).await.is_err() {
        step("UNEXPECTED: the genuine connection failed");
        return Ok(false);
    }
    let recorded = recorder.recorded.lock().map(|g| g.clone()).ok().flatten();
    let replayer = Arc::new(Recorder {
        inner: world.attester(QuoteVariant::Genuine),
        recorded: Mutex::new(recorded),
        replay: true,
    });
    let server = echo_server(&world.pki.server, replayer, transport).await?;
    step(
        "Connection 2: the host holds the TLS key and replays the old quote in a freshly signed authenticator",
    );
    Ok(expect_rejected(
        connect(world, &server, transport, true).await,
        "binder",
    ))
}

/// The relay's attester: obtains a genuine TEE's evidence over its own connection to it.
#[derive(Debug)]
struct Relay {
    world_pki_roots: Arc<Pki>,
    genuine: std::net::SocketAddr,
    verifiers: VerifierSet,
    transport: Transport,
}

impl Attester for Relay {
    fn attest<'a>(
        &'a self,
        _binding: &'a Binding,
    ) -> BoxFuture<'a, Result<Vec<u8>, EvidenceError>> {
        Box::pin(async move {
            detail("relay: connecting to the genuine TEE to obtain its evidence");
            let captured = Arc::new(Mutex::new(None));
            let capture = Arc::new(Capture {
                inner: self.verifiers.clone(),
                seen: captured.clone(),
            });
            let set = VerifierSet::new().with(capture);
            let accept_all: Arc<dyn atls_tokio::PeerPolicy> = Arc::new(
                |_: &Claims| -> Result<serde_json::Value, atls_core::BoxError> {
                    Ok(serde_json::Value::Null)
                },
            );
            let _ = transport::Client::connect(
                &self.world_pki_roots,
                "attested.example",
                self.genuine,
                set,
                accept_all,
                self.transport,
            )
            .await;
            let cmw = captured.lock().map(|g| g.clone()).ok().flatten();
            detail("relay: forwarding the genuine TEE's evidence as its own");
            cmw.ok_or_else(|| EvidenceError::Backend("no evidence captured".into()))
        })
    }
}

/// Captures the raw evidence the genuine TEE sends the relay.
#[derive(Debug)]
struct Capture {
    inner: VerifierSet,
    seen: Arc<Mutex<Option<Vec<u8>>>>,
}

impl Verifier for Capture {
    fn media_type(&self) -> MediaType {
        MediaType::parse(atls_evidence::TDX_QUOTE_MEDIA_TYPE)
            .unwrap_or_else(|_| unreachable!("constant media type"))
    }

    fn verify<'a>(
        &'a self,
        value: &'a [u8],
        binding: &'a Binding,
    ) -> BoxFuture<'a, Result<Claims, EvidenceError>> {
        Box::pin(async move {
            let media_type = self.media_type();
            let record = atls_evidence::Record::new(
                media_type,
                value.to_vec(),
                Some(atls_evidence::Indicator::EVIDENCE),
            )?;
            let cmw = atls_evidence::Cmw::new_cbor(record).encode();
            if let Ok(mut g) = self.seen.lock() {
                *g = Some(cmw.clone());
            }
            self.inner.appraise(&cmw, binding).await
        })
    }
}

async fn relay(world: &World, transport: Transport) -> Result<bool, Failure> {
    step("Attack: relay — a man in the middle holding a valid certificate for attested.example");
    detail("forwards the genuine TEE's evidence, obtained on the relay's own connection to it");
    let genuine = echo_server(
        &world.pki.genuine,
        world.attester(QuoteVariant::Genuine),
        transport,
    )
    .await?;
    let relay_attester = Arc::new(Relay {
        world_pki_roots: Arc::new(world.pki.clone()),
        genuine: genuine.addr,
        verifiers: world.verifiers(false),
        transport,
    });
    let mitm = echo_server(&world.pki.server, relay_attester, transport).await?;
    step("Client connects to the relay");
    Ok(expect_rejected(
        connect(world, &mitm, transport, true).await,
        "binder",
    ))
}

async fn diversion(world: &World, transport: Transport) -> Result<bool, Failure> {
    step("Attack: diversion — a genuine TEE with the same measurements, run by someone else");
    detail("its certificate is valid, but for attacker.example; its evidence verifies");
    let server = echo_server(
        &world.pki.attacker,
        world.attester(QuoteVariant::Genuine),
        transport,
    )
    .await?;
    step("Client connects expecting attested.example");
    Ok(expect_rejected(
        connect(world, &server, transport, true).await,
        "attested.example",
    ))
}

#[cfg(test)]
mod tests {
    #[test]
    fn attack_names_parse() {
        use clap::ValueEnum;
        for name in ["replay", "relay", "diversion", "debug-td"] {
            assert!(super::Attack::from_str(name, false).is_ok(), "{name}");
        }
    }
}
