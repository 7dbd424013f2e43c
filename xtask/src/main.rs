//! Development tasks. `cargo xtask ci` runs exactly what `.ci/run` runs.
//!
//! Arguments are matched by hand: three subcommands without options do not justify
//! compiling a CLI parser into every CI run.

use std::env;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

const USAGE: &str = "usage: cargo xtask <command>

commands:
  ci           run .ci/run: fmt check, clippy -D warnings, rustdoc -D warnings, the
               core's dependency check, the test suite and a fuzz smoke run
  test         the whole test suite: `cargo test --workspace`, then the optional
               features' tests (Rego, PCCS, simulator docs)
  core-deps    check that atls-core depends on no IO runtime or socket crate
  fuzz-smoke   build every fuzz target and run each for a few hundred inputs
";

/// Crates the sans-IO core must never depend on, directly or transitively.
const FORBIDDEN_IN_CORE: &[&str] = &[
    "tokio",
    "quinn",
    "quinn-proto",
    "mio",
    "socket2",
    "async-std",
    "smol",
    "reqwest",
    "hyper",
];

fn main() -> ExitCode {
    let args: Vec<String> = env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("ci") => ci(),
        Some("test") => test(),
        Some("core-deps") => core_deps(),
        Some("fuzz-smoke") => fuzz_smoke(),
        _ => {
            eprint!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: {e}");
            ExitCode::FAILURE
        }
    }
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

fn run(step: &str, cmd: &mut Command) -> Result<(), String> {
    eprintln!("==> {step}");
    let status = cmd
        .status()
        .map_err(|e| format!("{step}: cannot start: {e}"))?;
    match status.success() {
        true => Ok(()),
        false => Err(format!("{step} failed ({status})")),
    }
}

/// `cargo` of the running toolchain, in the workspace root.
fn cargo() -> Command {
    let mut cmd = Command::new(env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    cmd.current_dir(root());
    cmd
}

/// `cargo +nightly`, for cargo-fuzz (which needs nightly's sanitizer flags).
fn nightly_cargo(dir: &Path) -> Command {
    let mut cmd = Command::new("cargo");
    cmd.current_dir(dir).arg("+nightly");
    cmd
}

/// Runs `.ci/run`, so local and CI checks cannot drift apart.
fn ci() -> Result<(), String> {
    let mut cmd = Command::new("bash");
    cmd.current_dir(root()).arg(".ci/run");
    run(".ci/run", &mut cmd)
}

fn test() -> Result<(), String> {
    run(
        "cargo test --workspace",
        cargo().args(["test", "--workspace"]),
    )
}

fn core_deps() -> Result<(), String> {
    eprintln!("==> atls-core dependency check");
    let out = cargo()
        .args([
            "tree",
            "-p",
            "atls-core",
            "-e",
            "normal,build",
            "--prefix",
            "none",
            "--format",
            "{p}",
        ])
        .output()
        .map_err(|e| format!("cargo tree: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "cargo tree failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let tree = String::from_utf8_lossy(&out.stdout);
    let bad: Vec<&str> = tree
        .lines()
        .filter(|l| {
            let name = l.split_whitespace().next().unwrap_or_default();
            FORBIDDEN_IN_CORE.contains(&name)
        })
        .collect();
    if !bad.is_empty() {
        return Err(format!(
            "atls-core must stay sans-IO, but depends on: {bad:?}"
        ));
    }
    // std::net must not appear in the core's sources either.
    let src = root().join("crates/atls-core/src");
    for entry in std::fs::read_dir(&src).map_err(|e| format!("{}: {e}", src.display()))? {
        let path = entry.map_err(|e| e.to_string())?.path();
        let text = std::fs::read_to_string(&path).map_err(|e| e.to_string())?;
        if text.contains("std::net") || text.contains("std::fs") {
            return Err(format!("{} uses std::net or std::fs", path.display()));
        }
    }
    eprintln!(
        "    atls-core: {} crates, none of {FORBIDDEN_IN_CORE:?}",
        tree.lines().count()
    );
    Ok(())
}

fn fuzz_smoke() -> Result<(), String> {
    let fuzz = root().join("fuzz");
    if !fuzz.join("Cargo.toml").exists() {
        return Err("fuzz/Cargo.toml is missing".into());
    }
    let has_fuzz = nightly_cargo(&fuzz)
        .args(["fuzz", "--version"])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if !has_fuzz {
        run(
            "install cargo-fuzz",
            cargo().args(["install", "cargo-fuzz", "--locked"]),
        )?;
    }
    let list = nightly_cargo(&fuzz)
        .args(["fuzz", "list"])
        .output()
        .map_err(|e| format!("cargo fuzz list: {e}"))?;
    let targets = String::from_utf8_lossy(&list.stdout).to_string();
    if targets.trim().is_empty() {
        return Err("no fuzz targets found".into());
    }
    // New inputs go to a scratch corpus first, so the committed seeds stay as they are.
    let scratch = env::temp_dir().join(format!("atls-fuzz-smoke-{}", std::process::id()));
    for target in targets.lines().map(str::trim).filter(|t| !t.is_empty()) {
        let scratch = scratch.join(target);
        std::fs::create_dir_all(&scratch).map_err(|e| format!("{}: {e}", scratch.display()))?;
        let seeds = format!("corpus/{target}");
        run(
            &format!("fuzz smoke: {target}"),
            nightly_cargo(&fuzz)
                .args(["fuzz", "run", target])
                .arg(&scratch)
                .args([seeds.as_str(), "--", "-runs=300"]),
        )?;
    }
    let _ = std::fs::remove_dir_all(&scratch);
    Ok(())
}
