//! Resolves and fetches one artifact with the deployment library and prints the jar's
//! path: the benchmark driver for `bench/deploy.sh`, and a debugging aid.
//!
//! `cargo run --release --example resolve -- [--offline] <ARTIFACT>` with the config from
//! `$SCALEGREASE_CONFIG` (default `/etc/scalegrease.json`).

use scalegrease::deployment::{ArtifactSpec, ResolveOptions, resolve};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let offline = args.iter().any(|a| a == "--offline");
    let Some(spec) = args.iter().find(|a| !a.starts_with("--")) else {
        eprintln!("usage: resolve [--offline] <ARTIFACT>");
        std::process::exit(2);
    };
    let run = || -> anyhow::Result<()> {
        let config = scalegrease::Config::load_default(None)?;
        let spec = ArtifactSpec::parse(spec)?;
        let opts = ResolveOptions {
            offline,
            progress: true,
        };
        let r = resolve(&spec, &config.maven, &opts)?;
        println!("{}", r.jar_path.display());
        Ok(())
    };
    if let Err(e) = run() {
        eprintln!("resolve: error: {e:#}");
        std::process::exit(scalegrease::error::exit_code_of(&e));
    }
}
