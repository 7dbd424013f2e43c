//! `atls serve`, `atls proxy`, `atls connect`: attested reverse and forward proxies, and one
//! attested connection piped to stdin/stdout.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use atls_evidence::{Attester, Claims, VerifierSet};
use atls_tdx::sim::{SimulatedTd, SimulatedTdxAttester, SimulatorConfig, TdxSimulator};
use atls_tdx::{Appraiser, StaticCollateral, TdxAttester, TdxVerifier};
use clap::Args;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::io::AsyncWriteExt;

use crate::Failure;
use crate::transport::{Identity, Stream, Transport};

#[derive(Args)]
pub(crate) struct ServeArgs {
    /// Address to accept attested connections on.
    #[arg(long)]
    listen: SocketAddr,
    /// Plaintext backend every attested connection is forwarded to.
    #[arg(long)]
    backend: SocketAddr,
    /// TLS certificate chain (PEM), end-entity first.
    #[arg(long)]
    cert: PathBuf,
    /// TLS private key (PKCS#8 PEM): Ed25519, ECDSA P-256 or P-384.
    #[arg(long)]
    key: PathBuf,
    /// Serve over QUIC instead of TCP.
    #[arg(long)]
    quic: bool,
    /// configfs-tsm report directory of the TD (the default attester).
    #[arg(long, default_value = "/sys/kernel/config/tsm/report")]
    configfs_root: PathBuf,
    /// INSECURE: attest with the TDX simulator instead of the TD's hardware. Writes the
    /// simulator's test root CA and collateral into this directory for the relying party.
    #[arg(long, value_name = "DIR")]
    insecure_simulator: Option<PathBuf>,
}

/// How the relying party appraises TDX evidence.
#[derive(Args)]
pub(crate) struct VerifyOptions {
    /// Policy (TOML, or JSON when the file ends in .json) the server's claims must satisfy.
    #[arg(long)]
    policy: PathBuf,
    /// Server name to expect in its certificate.
    #[arg(long, default_value = "localhost")]
    server_name: String,
    /// Root certificates (PEM) for the server's certificate chain.
    #[arg(long)]
    ca: PathBuf,
    /// TDX collateral (dcap-qvl QuoteCollateralV3 JSON) for the server's platform.
    #[arg(long)]
    collateral: PathBuf,
    /// TESTING ONLY: trust this root CA (DER) for TDX quotes instead of Intel's (e.g. the
    /// file `atls serve --insecure-simulator DIR` writes).
    #[arg(long)]
    tdx_test_root_ca_for_testing: Option<PathBuf>,
    /// Connect over QUIC instead of TCP.
    #[arg(long)]
    quic: bool,
}

#[derive(Args)]
pub(crate) struct ProxyArgs {
    /// Plaintext address local clients connect to.
    #[arg(long)]
    listen: SocketAddr,
    /// The remote `atls serve`.
    #[arg(long)]
    connect: SocketAddr,
    #[command(flatten)]
    verify: VerifyOptions,
}

#[derive(Args)]
pub(crate) struct ConnectArgs {
    /// The remote `atls serve`.
    addr: SocketAddr,
    #[command(flatten)]
    verify: VerifyOptions,
}

fn certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, Failure> {
    let certs: Result<Vec<_>, _> = CertificateDer::pem_file_iter(path)
        .map_err(|e| Failure::unusable(format!("certificates {}: {e}", path.display())))?
        .collect();
    let certs =
        certs.map_err(|e| Failure::unusable(format!("certificates {}: {e}", path.display())))?;
    if certs.is_empty() {
        return Err(Failure::unusable(format!(
            "certificates {}: expected PEM CERTIFICATE blocks, found none",
            path.display()
        )));
    }
    Ok(certs)
}

fn identity(cert: &Path, key: &Path) -> Result<Identity, Failure> {
    let key = PrivateKeyDer::from_pem_file(key)
        .map_err(|e| Failure::unusable(format!("key {}: {e}", key.display())))?;
    let PrivateKeyDer::Pkcs8(pkcs8) = key else {
        return Err(Failure::unusable("key: expected a PKCS#8 PEM private key"));
    };
    Ok(Identity {
        chain: certs(cert)?,
        key: pkcs8.secret_pkcs8_der().to_vec(),
    })
}

fn transport(quic: bool) -> Transport {
    if quic {
        Transport::Quic
    } else {
        Transport::Tcp
    }
}

fn runtime() -> Result<tokio::runtime::Runtime, Failure> {
    tokio::runtime::Runtime::new().map_err(|e| Failure::unusable(e.to_string()))
}

pub(crate) fn serve(args: ServeArgs) -> Result<u8, Failure> {
    let identity = identity(&args.cert, &args.key)?;
    let attester: Arc<dyn Attester> = match &args.insecure_simulator {
        None => Arc::new(TdxAttester::with_configfs_root(args.configfs_root.clone())),
        Some(dir) => {
            let now = crate::policy::now_unix();
            let sim =
                TdxSimulator::new(SimulatorConfig::new(rand_seed()?, now.saturating_sub(3600)))
                    .map_err(|e| Failure::unusable(format!("simulator: {e}")))?;
            std::fs::create_dir_all(dir)
                .map_err(|e| Failure::unusable(format!("{}: {e}", dir.display())))?;
            let write = |name: &str, bytes: &[u8]| {
                std::fs::write(dir.join(name), bytes)
                    .map_err(|e| Failure::unusable(format!("{}: {e}", dir.join(name).display())))
            };
            write("sim-root-ca.der", sim.test_root_ca_der())?;
            write("sim-collateral.json", sim.collateral_json().as_bytes())?;
            eprintln!(
                "atls: WARNING: attesting with the INSECURE TDX simulator; its test root CA and collateral are in {}",
                dir.display()
            );
            Arc::new(SimulatedTdxAttester::new(
                Arc::new(sim),
                SimulatedTd::default(),
            ))
        }
    };
    let backend = args.backend;
    runtime()?.block_on(async move {
        let server = crate::transport::Server::start_on(
            args.listen,
            &identity,
            attester,
            transport(args.quic),
            move |mut stream: Stream| async move {
                match tokio::net::TcpStream::connect(backend).await {
                    Ok(mut tcp) => {
                        let _ = tokio::io::copy_bidirectional(&mut stream, &mut tcp).await;
                    }
                    Err(e) => tracing::warn!(error = %e, %backend, "backend unreachable"),
                }
            },
        )
        .await
        .map_err(|e| Failure::unusable(e.to_string()))?;
        eprintln!(
            "atls: serving attested connections on {} -> {backend}",
            server.addr
        );
        server.wait().await;
        Ok(0)
    })
}

fn rand_seed() -> Result<[u8; 32], Failure> {
    let mut seed = [0u8; 32];
    rustls::crypto::ring::default_provider()
        .secure_random
        .fill(&mut seed)
        .map_err(|_| Failure::unusable("no secure randomness"))?;
    Ok(seed)
}

/// The relying party's configuration from the command line.
struct RelyingParty {
    roots: rustls::RootCertStore,
    verifiers: VerifierSet,
    policy: Arc<dyn atls_tokio::PeerPolicy>,
    server_name: String,
    transport: Transport,
}

impl RelyingParty {
    fn new(opts: &VerifyOptions) -> Result<Self, Failure> {
        let mut roots = rustls::RootCertStore::empty();
        for c in certs(&opts.ca)? {
            roots
                .add(c)
                .map_err(|e| Failure::unusable(format!("ca {}: {e}", opts.ca.display())))?;
        }
        let appraiser = match &opts.tdx_test_root_ca_for_testing {
            Some(path) => {
                eprintln!(
                    "atls: WARNING: trusting a TEST root CA for TDX quotes ({})",
                    path.display()
                );
                Appraiser::with_test_root_ca_for_testing(crate::tdx::read(path, "test root CA")?)
            }
            None => Appraiser::intel_production(),
        };
        let collateral = StaticCollateral::new(crate::tdx::read_collateral(&opts.collateral)?);
        let tdx = TdxVerifier::new(appraiser, Arc::new(collateral), crate::policy::now_unix);
        let policy = crate::policy::load(&opts.policy)?;
        Ok(Self {
            roots,
            verifiers: VerifierSet::new().with(Arc::new(tdx)),
            policy: crate::demo::peer_policy(policy, false),
            server_name: opts.server_name.clone(),
            transport: transport(opts.quic),
        })
    }

    async fn connect(&self, addr: SocketAddr) -> Result<Stream, atls_tokio::AtlsError> {
        Stream::connect_with_roots(
            self.roots.clone(),
            &self.server_name,
            addr,
            self.verifiers.clone(),
            self.policy.clone(),
            self.transport,
        )
        .await
    }
}

fn log_claims(claims: &Claims, verdict: Option<&serde_json::Value>) {
    tracing::info!(
        evidence = %claims.evidence_type,
        tcb_status = claims.get_str("tdx.tcb_status").unwrap_or("-"),
        mr_td = claims.get_str("tdx.mr_td").unwrap_or("-"),
        verdict = %verdict.map(|v| v.to_string()).unwrap_or_default(),
        "server attested"
    );
}

pub(crate) fn proxy(args: ProxyArgs) -> Result<u8, Failure> {
    let rp = Arc::new(RelyingParty::new(&args.verify)?);
    let remote = args.connect;
    runtime()?.block_on(async move {
        let listener = tokio::net::TcpListener::bind(args.listen)
            .await
            .map_err(|e| Failure::unusable(format!("listen {}: {e}", args.listen)))?;
        eprintln!(
            "atls: forwarding {} -> attested {remote}",
            listener
                .local_addr()
                .map_err(|e| Failure::unusable(e.to_string()))?
        );
        loop {
            let (mut local, peer) = listener
                .accept()
                .await
                .map_err(|e| Failure::unusable(e.to_string()))?;
            let rp = rp.clone();
            tokio::spawn(async move {
                match rp.connect(remote).await {
                    Ok(mut stream) => {
                        if let Some(a) = stream.peer_attestation() {
                            log_claims(&a.claims, a.policy_verdict.as_ref());
                        }
                        let _ = tokio::io::copy_bidirectional(&mut local, &mut stream).await;
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, %peer, "attested connection refused");
                        eprintln!("atls: refusing {peer}: {e}");
                        let _ = local.shutdown().await;
                    }
                }
            });
        }
    })
}

pub(crate) fn connect(args: ConnectArgs) -> Result<u8, Failure> {
    let rp = RelyingParty::new(&args.verify)?;
    runtime()?.block_on(async move {
        let mut stream = match rp.connect(args.addr).await {
            Ok(s) => s,
            Err(e) => {
                let out = serde_json::json!({"accepted": false, "reason": e.to_string(), "alert": e.alert_code()});
                eprintln!("{out}");
                return Ok(crate::EXIT_REJECTED);
            }
        };
        let a = stream.peer_attestation();
        let out = serde_json::json!({
            "accepted": true,
            "claims": a.as_ref().map(|a| a.claims.clone()),
            "verdict": a.as_ref().and_then(|a| a.policy_verdict.clone()),
        });
        eprintln!("{out}");
        let mut stdio = tokio::io::join(tokio::io::stdin(), tokio::io::stdout());
        let _ = tokio::io::copy_bidirectional(&mut stdio, &mut stream).await;
        Ok(0)
    })
}
