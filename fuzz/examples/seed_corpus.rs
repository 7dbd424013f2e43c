//! Writes the seed corpus under `corpus/<target>/`: `cargo run --example seed_corpus`.

use std::fs;
use std::path::Path;

fn main() -> std::io::Result<()> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus");
    for (target, name, bytes) in atls_fuzz::seed_corpus() {
        let dir = root.join(target);
        fs::create_dir_all(&dir)?;
        fs::write(dir.join(name), bytes)?;
    }
    Ok(())
}
