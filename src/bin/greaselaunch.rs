//! greaselaunch: validate a job project's crontabs and publish them as one bundle to the
//! store, from the project's CI after a push. See `docs/cli.md`.

use std::path::PathBuf;

use clap::Parser;
use scalegrease::cli::{self, Common, CommonArgs};
use scalegrease::dispatch::error::DispatchError;
use scalegrease::dispatch::launch::{self, LaunchOptions, Mode};
use scalegrease::dispatch::sign;
use scalegrease::error::{Context, Failure};
use scalegrease::exit::{self, Tool};
use scalegrease::store;

/// Validate a project's crontab files and publish them as one bundle to the scalegrease
/// store, where greasesnatch on every worker picks them up.
///
/// With --json, --check, --dry-run and a publish print one JSON object on stdout:
/// {"project", "revision", "crontabs": [{"name", "entries"}], "digest", "store",
/// "published", "signed_by"}.
#[derive(Debug, Parser)]
#[command(name = "greaselaunch", version, after_help = after_help())]
struct Cli {
    #[command(flatten)]
    common: CommonArgs,
    #[arg(long, help = cli::JSON_HELP)]
    json: bool,
    /// The project root, holding pom.xml or scalegrease.toml. Defaults to the current
    /// directory.
    #[arg(long, value_name = "DIR", default_value = ".")]
    project_dir: PathBuf,
    /// The project's Maven group. Defaults to scalegrease.toml's `group`, then pom.xml's
    /// groupId (or its parent's).
    #[arg(long, value_name = "GROUP")]
    group: Option<String>,
    /// The project's Maven artifact. Defaults to scalegrease.toml's `artifact`, then
    /// pom.xml's artifactId.
    #[arg(long, value_name = "ARTIFACT")]
    artifact: Option<String>,
    /// Which files are crontabs, relative to the project root; `*` stays within a
    /// directory and `**` crosses directories. Defaults to scalegrease.toml's
    /// `cron_glob`, then src/main/cron/*.cron.
    #[arg(long, value_name = "GLOB")]
    cron_glob: Option<String>,
    /// Publish even when no crontab file matches; this removes the project's jobs from
    /// every worker. Off by default.
    #[arg(long)]
    allow_empty: bool,
    /// Only validate (for pull-request CI); nothing is published and no store is needed.
    #[arg(long, conflicts_with_all = ["dry_run", "init_store"])]
    check: bool,
    /// Validate and show what would be published, without publishing.
    #[arg(long, conflicts_with = "init_store")]
    dry_run: bool,
    /// Create the store (its areas and marker file) if it does not exist yet, then exit.
    /// A directory store's shared areas are made for several job users: setgid and
    /// group-writable with --store-group (or config store.group), else sticky and
    /// world-writable (1777).
    #[arg(long)]
    init_store: bool,
    /// Write a new Ed25519 key pair for signing bundles: FILE (the private key, mode
    /// 0600, never overwritten) and FILE.pub (the public-key line to add to the workers'
    /// launch.trusted_keys), then exit.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["check", "dry_run", "init_store"])]
    generate_key: Option<PathBuf>,
    /// Sign the bundle with this private key (from --generate-key). The file must not be
    /// group- or world-readable. Workers with launch.trusted_keys accept only bundles
    /// signed by a trusted key.
    #[arg(long, value_name = "FILE", env = "SCALEGREASE_SIGNING_KEY_FILE")]
    signing_key: Option<PathBuf>,
    /// With --init-store: the group every job user is in (name or number).
    #[arg(long, value_name = "GROUP", requires = "init_store")]
    store_group: Option<String>,
    /// The source revision to record. Defaults to `git rev-parse HEAD` in the project
    /// root when that works.
    #[arg(long, value_name = "REV")]
    revision: Option<String>,
}

/// `--help`'s text after the options: precedence and the exit-code table.
fn after_help() -> String {
    format!("{}\n\n{}", cli::PRECEDENCE, exit::help(Tool::Launch))
}

impl Cli {
    fn options(&self) -> LaunchOptions {
        let host = scalegrease::util::host::hostname(None);
        LaunchOptions {
            project_dir: self.project_dir.clone(),
            group: self.group.clone(),
            artifact: self.artifact.clone(),
            cron_glob: self.cron_glob.clone(),
            allow_empty: self.allow_empty,
            mode: if self.check {
                Mode::Check
            } else if self.dry_run {
                Mode::DryRun
            } else {
                Mode::Publish
            },
            revision: self.revision.clone(),
            launched_by: format!("{}@{host}", scalegrease::util::host::user_name()),
        }
    }
}

/// A group by name or number, for `--store-group`.
fn resolve_group(name: &str) -> Result<nix::unistd::Gid, Failure> {
    if let Ok(n) = name.parse::<u32>() {
        return Ok(nix::unistd::Gid::from_raw(n));
    }
    match nix::unistd::Group::from_name(name) {
        Ok(Some(g)) => Ok(g.gid),
        _ => Err(Failure::usage(format!("--store-group: no group {name:?}"))),
    }
}

fn run() -> Result<i32, Failure> {
    let cli = Cli::parse();
    let common = cli.common.start(Tool::Launch);
    let opts = cli.options();
    let store_config = || -> Result<_, Failure> {
        let c = common.config()?;
        Ok(common.store_config(&c))
    };
    if let Some(path) = &cli.generate_key {
        let line = sign::generate(path, &opts.launched_by)?;
        say(
            &common,
            &format!(
                "greaselaunch: wrote {} (private, mode 0600) and {}.pub:\n{line}",
                path.display(),
                path.display()
            ),
        );
        return Ok(exit::OK);
    }
    if cli.init_store {
        let cfg = store_config()?;
        let s = store::open(&cfg)?;
        let group = cli.store_group.as_deref().or(cfg.group.as_deref());
        match store::Backend::of(&cfg.url) {
            Ok(store::Backend::Dir(path)) => {
                let group = group.map(resolve_group).transpose()?;
                store::dir::DirStore::new(path).init_areas(&store::dir::Areas { group })?;
            }
            _ => s.init()?,
        }
        say(
            &common,
            &format!("greaselaunch: store {} is ready", s.location()),
        );
        return Ok(exit::OK);
    }
    // Checked before validating, so a bad key fails fast, and never for --check.
    let key = match (&cli.signing_key, opts.mode) {
        (Some(path), Mode::Publish) => Some(sign::load_signing_key(path)?),
        _ => None,
    };
    let mut stderr = std::io::stderr();
    let (resolved, mut bundle) = launch::prepare(&opts, &mut stderr)?;
    if let Some(key) = &key {
        sign::sign(&mut bundle, key);
    }
    let what = format!(
        "{} ({} crontab file(s), revision {})",
        resolved.project,
        bundle.crontabs.len(),
        bundle.revision.as_deref().unwrap_or("unknown")
    );
    let entries: Vec<(String, usize)> = bundle
        .crontabs
        .iter()
        .map(|c| {
            let n = scalegrease::dispatch::crontab::parse(&c.content)
                .entries()
                .count();
            (c.name.clone(), n)
        })
        .collect();
    let report = |store: Option<String>, published: bool| {
        serde_json::json!({
            "project": resolved.project.to_string(),
            "revision": bundle.revision,
            "crontabs": entries.iter().map(|(name, n)| serde_json::json!({"name": name, "entries": n})).collect::<Vec<_>>(),
            "digest": bundle.digest,
            "store": store,
            "published": published,
            "signed_by": bundle.signature.as_ref().map(|g| g.key.clone()),
        })
    };
    match opts.mode {
        Mode::Check if cli.json => println!("{}", report(None, false)),
        Mode::Check => say(&common, &format!("greaselaunch: {what} is valid")),
        Mode::DryRun => {
            let cfg = store_config()?;
            if cli.json {
                println!(
                    "{}",
                    report(Some(scalegrease::util::url::redact(&cfg.url)), false)
                );
            } else {
                for (name, n) in &entries {
                    println!("  {name} ({n} entries)");
                }
                let to = scalegrease::util::url::redact(&cfg.url);
                println!("greaselaunch: would publish {what} to {to}");
            }
        }
        Mode::Publish => {
            let cfg = store_config()?;
            let s = store::open(&cfg)?;
            if let Some(other) = launch::collision(s.as_ref(), &resolved.project)? {
                return Err(DispatchError::Collision {
                    project: resolved.project.to_string(),
                    other: other.to_string(),
                }
                .into());
            }
            launch::publish(s.as_ref(), &bundle)
                .with_context(|| format!("publishing {}", resolved.project))?;
            if cli.json {
                println!("{}", report(Some(s.location()), true));
            } else {
                say(
                    &common,
                    &format!(
                        "greaselaunch: published {what} to {} ({}, {})",
                        s.location(),
                        bundle.digest,
                        bundle
                            .signature
                            .as_ref()
                            .map_or("unsigned".to_string(), |g| {
                                format!("signed by key {}", sign::key_id(&g.key))
                            })
                    ),
                );
            }
        }
    }
    Ok(exit::OK)
}

/// A summary line on stdout, unless `-q`.
fn say(common: &Common, line: &str) {
    if !common.quiet() {
        println!("{line}");
    }
}

fn main() {
    let (code, message) = scalegrease::error::outcome(run());
    if let Some(m) = message {
        eprintln!("greaselaunch: error: {m}");
    }
    std::process::exit(code)
}

#[cfg(test)]
mod tests {
    #[test]
    fn cli_is_consistent() {
        use clap::CommandFactory;
        super::Cli::command().debug_assert();
    }
}
