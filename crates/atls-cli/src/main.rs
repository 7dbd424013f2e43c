//! `atls`: attested TLS from the command line.

mod demo;
mod policy;
mod proxy;
mod tdx;
mod transport;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Attested TLS (post-handshake attestation over RFC 9261 Exported Authenticators).
#[derive(Parser)]
#[command(name = "atls", version, about, long_about = None)]
struct Cli {
    /// More log output (-v info, -vv debug, -vvv trace).
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    verbose: u8,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run an attested connection on loopback with the TDX simulator, step by step; with
    /// --attack, run an attack against the real code and show it rejected.
    Demo(demo::DemoArgs),
    /// Attested reverse proxy: terminate attested TLS and forward plaintext to a backend.
    Serve(proxy::ServeArgs),
    /// Forward proxy: local plaintext clients get attested connections to a remote server.
    Proxy(proxy::ProxyArgs),
    /// One attested connection: the verdict (JSON) to stderr, then stdin/stdout piped.
    Connect(proxy::ConnectArgs),
    /// Intel TDX quotes: offline appraisal and inspection.
    #[command(subcommand)]
    Tdx(tdx::TdxCommand),
    /// Policies: dry-run against recorded evidence.
    #[command(subcommand)]
    Policy(policy::PolicyCommand),
}

/// Exit codes: 0 success/accepted, 1 rejected, 2 unusable input.
pub(crate) const EXIT_REJECTED: u8 = 1;
pub(crate) const EXIT_UNUSABLE: u8 = 2;

/// A failure with the exit code it maps to.
#[derive(Debug)]
pub(crate) struct Failure {
    pub(crate) code: u8,
    pub(crate) message: String,
}

impl Failure {
    pub(crate) fn unusable(message: impl Into<String>) -> Self {
        Self {
            code: EXIT_UNUSABLE,
            message: message.into(),
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let quiet = matches!(cli.command, Command::Demo(_));
    let level = match cli.verbose {
        // The demo narrates on stdout; its logs are for -v.
        0 if quiet => "off",
        0 => "warn",
        1 => "info",
        2 => "debug",
        _ => "trace",
    };
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(level))
        .with_writer(std::io::stderr)
        .init();
    let result = match cli.command {
        Command::Demo(args) => demo::run(args),
        Command::Serve(args) => proxy::serve(args),
        Command::Proxy(args) => proxy::proxy(args),
        Command::Connect(args) => proxy::connect(args),
        Command::Tdx(cmd) => tdx::run(cmd),
        Command::Policy(cmd) => policy::run(cmd),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(f) => {
            eprintln!("atls: {}", f.message);
            ExitCode::from(f.code)
        }
    }
}
