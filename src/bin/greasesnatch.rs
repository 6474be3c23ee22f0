//! greasesnatch: install the crontabs of every bundle in the store into the cron
//! directory, on every worker, from cron, as root. See `docs/cli.md`.

use std::path::PathBuf;

use clap::Parser;
use scalegrease::cli::{self, Common, CommonArgs};
use scalegrease::config::StoreConfig;
use scalegrease::dispatch::sign;
use scalegrease::dispatch::snatch::{self, Outcome, PlacementOptions, SnatchOptions, Summary};
use scalegrease::error::Failure;
use scalegrease::exit::{self, Tool};
use scalegrease::farm::alert::{self, AlertOptions};
use scalegrease::farm::holders;
use scalegrease::farm::pull::spawn::Children;
use scalegrease::farm::pull::{self, PullOptions, Pulled};
use scalegrease::farm::worker::{self, Line};
use scalegrease::store;
use scalegrease::util::host;

/// Install the crontabs of every bundle in the scalegrease store into the cron
/// directory, remove those of projects no longer in the store, and print one summary
/// line.
///
/// Every bundle's digest, lines and users are checked again; a bundle that fails is
/// rejected and its project's installed files are kept. When the store is unavailable or
/// has no marker file, nothing in the cron directory changes. With -q (as from cron)
/// the summary line is printed only when a bundle was rejected.
///
/// With --json the summary (and, with --dry-run, the plan) is one JSON object on stdout:
/// {"dry_run", "installed", "updated", "removed", "unchanged", "rejected": [{"project",
/// "reason"}], "plan": [lines]}; "busy": true when another greasesnatch holds the lock.
///
/// After installing, greasesnatch takes requests from the farm queue while this host's
/// guard has room and starts each one's installed entry as its user, the way cron does
/// (see docs/greasesnatch.md); a second line "greasesnatch: requests: ..." says how many
/// were taken, refused, dropped, failed to start and abandoned, when any was ("pulled"
/// in JSON, null with --no-pull).
#[derive(Debug, Parser)]
#[command(name = "greasesnatch", version, after_help = after_help())]
struct Cli {
    #[command(flatten)]
    common: CommonArgs,
    #[arg(long, help = cli::JSON_HELP, conflicts_with = "watch")]
    json: bool,
    /// Print what would be installed, updated and removed, and change nothing.
    #[arg(long)]
    dry_run: bool,
    /// Wait for a greasesnatch already running on the same cron directory instead of
    /// leaving at once.
    #[arg(long)]
    wait: bool,
    /// Stay running and apply every change to the bundles as soon as it is published
    /// (within a second: etcd pushes changes; the directory store is checked every
    /// second), and re-check everything every 5 minutes. Store failures are reported
    /// once and retried every second; they never end the watch. Only a summary line for
    /// rounds that changed or rejected something is printed. Unless --no-pull, a second
    /// thread takes farm-queue requests as they are queued (within a second on etcd,
    /// about two on the directory store) and at least every 10 seconds.
    #[arg(long, conflicts_with = "dry_run")]
    watch: bool,
    /// The cron directory. Defaults to the config's launch.crontab_etc_crond, then
    /// /etc/cron.d.
    #[arg(long, value_name = "DIR")]
    cron_dir: Option<PathBuf>,
    /// The prefix of every file greasesnatch owns in the cron directory. Defaults to the
    /// config's launch.crontab_unique_prefix, then "scalegrease".
    #[arg(long, value_name = "PREFIX")]
    prefix: Option<String>,
    /// Only install: take no requests from the farm queue (default: the config's
    /// snatch.pull, true).
    #[arg(long)]
    no_pull: bool,
}

/// `--help`'s text after the options: precedence and the exit-code table.
fn after_help() -> String {
    format!("{}\n\n{}", cli::PRECEDENCE, exit::help(Tool::Snatch))
}

impl Cli {
    /// The validated options: the config loaded, the prefix checked, the store resolved.
    fn options(
        &self,
        common: &Common,
    ) -> Result<
        (
            SnatchOptions,
            StoreConfig,
            Option<PullOptions>,
            Option<AlertOptions>,
        ),
        Failure,
    > {
        let config = common.config()?;
        // The config's prefix was checked when it was loaded; a flag's is checked here.
        if let Some(p) = &self.prefix {
            scalegrease::config::check_prefix(p)
                .map_err(|m| Failure::new(exit::FAILURE, format!("invalid --prefix: {m}")))?;
        }
        let prefix = self
            .prefix
            .clone()
            .unwrap_or_else(|| config.launch.crontab_unique_prefix.clone());
        let trusted_keys = config
            .launch
            .trusted_keys
            .iter()
            .map(|k| {
                sign::TrustedKey::from_setting(k).map_err(|why| {
                    Failure::new(exit::CONFIG, format!("launch.trusted_keys: {why}"))
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let opts = SnatchOptions {
            cron_dir: self
                .cron_dir
                .clone()
                .unwrap_or_else(|| PathBuf::from(&config.launch.crontab_etc_crond)),
            prefix,
            allowed_users: config.launch.allowed_users.clone(),
            allow_root: config.launch.allow_root,
            allow_plain_commands: config.launch.allow_plain_commands,
            allowed_env: config.launch.allowed_env.clone(),
            dry_run: self.dry_run,
            wait: self.wait,
            trusted_keys,
            placement: (config.launch.replicas > 0).then(|| PlacementOptions {
                host: host::hostname(config.common.hostname.as_deref()),
                replicas: config.launch.replicas,
                member_ttl: config.launch.member_ttl,
                guard: config.guard.clone(),
                jobs_of: holders::jobs_of,
            }),
        };
        let store_config = common.store_config(&config);
        let pull = (config.snatch.pull && !self.no_pull && !self.dry_run)
            .then(|| worker::pull_options(&opts, &config, &store_config.url));
        for k in alert::route::unknown_kinds(&config.alerts) {
            tracing::warn!(
                "alerts.on: {k:?} is no event kind (failed, missing, dropped, abandoned, recovered)"
            );
        }
        let alerts = (config.alerts.check && !self.dry_run).then(|| AlertOptions {
            published: Default::default(),
            host: host::hostname(config.common.hostname.as_deref()),
            trusted_keys: opts.trusted_keys.clone(),
            config,
        });
        Ok((opts, store_config, pull, alerts))
    }
}

fn run() -> Result<i32, Failure> {
    let cli = Cli::parse();
    let common = cli.common.start(Tool::Snatch);
    let (opts, store_config, pull, alerts) = cli.options(&common)?;
    let s = store::open(&store_config)?;
    if cli.watch {
        warn_unauthenticated(&opts);
        worker::watch(s.as_ref(), &opts, pull.as_ref(), alerts.as_ref(), &say);
    }
    let mut plan: Vec<u8> = Vec::new();
    let outcome = snatch::snatch(s.as_ref(), &opts, &mut plan);
    // The plan (--dry-run) goes to stdout, rejections to stderr, as they came.
    // Crontab names and reasons come from the store: no control character reaches the terminal.
    let plan: String = String::from_utf8_lossy(&plan)
        .lines()
        .map(|l| scalegrease::util::escape::escape(l).into_owned() + "\n")
        .collect();
    if !cli.json {
        if cli.dry_run {
            print!("{plan}");
        } else {
            eprint!("{plan}");
        }
    }
    match outcome? {
        Outcome::Busy(lock) => {
            if cli.json {
                println!("{}", serde_json::json!({"busy": true, "lock": lock}));
            }
            tracing::warn!(
                "another greasesnatch holds {}; leaving it to finish (pass --wait to wait)",
                lock.display()
            );
            Ok(exit::OK)
        }
        Outcome::Done(summary) => {
            warn_unauthenticated(&opts);
            // One pull round after installing; its store failure never undoes the install.
            let pulled = pull
                .as_ref()
                .map(|p| pull::round(s.as_ref(), p, &Children::new(false)))
                .transpose();
            let (pulled, pull_error) = match pulled {
                Ok(p) => (p, None),
                Err(e) => (None, Some(e)),
            };
            // Then the alert round; its failure is reported, never fatal to the install.
            let alerted = alerts
                .as_ref()
                .and_then(|a| worker::alert_round(s.as_ref(), a, common.quiet(), &say));
            if cli.json {
                let mut j = json(&summary, cli.dry_run, &plan, pulled.as_ref());
                j["alerts"] = serde_json::json!(alerted);
                println!("{j}");
            } else {
                if !common.quiet() || !summary.rejected.is_empty() {
                    let would = if cli.dry_run { "would be " } else { "" };
                    println!("greasesnatch: {would}{summary}");
                }
                // A second line, only for a round that did something (-q: only refusals
                // and failed starts).
                if let Some(p) =
                    pulled.filter(|p| p.any() && (!common.quiet() || p.refused + p.failed > 0))
                {
                    println!("greasesnatch: requests: {p}");
                }
            }
            if let Some(e) = pull_error {
                return Err(Failure::from(e).context("the pull round after installing"));
            }
            Ok(if summary.rejected.is_empty() {
                exit::OK
            } else {
                exit::FAILURE
            })
        }
    }
}

/// Once per run, after the bundles were read: without `launch.trusted_keys` anyone who
/// can write the store's bundles installs crontabs on this worker.
fn warn_unauthenticated(opts: &SnatchOptions) {
    if opts.trusted_keys.is_empty() {
        tracing::warn!(
            "launch.trusted_keys is empty: bundles are not authenticated, and anyone who can write the store's bundles/ installs crontabs here (see docs/security.md)"
        );
    }
}

/// The summary as `--json` prints it.
fn json(
    summary: &Summary,
    dry_run: bool,
    plan: &str,
    pulled: Option<&Pulled>,
) -> serde_json::Value {
    serde_json::json!({
        "dry_run": dry_run,
        "busy": false,
        "installed": summary.installed,
        "updated": summary.updated,
        "removed": summary.removed,
        "unchanged": summary.unchanged,
        "rejected": summary.rejected.iter()
            .map(|(project, reason)| serde_json::json!({"project": project, "reason": reason}))
            .collect::<Vec<_>>(),
        "plan": plan.lines().collect::<Vec<_>>(),
        "pulled": pulled,
    })
}

/// Prints a worker's line where it belongs.
fn say(line: Line) {
    match line {
        Line::Out(l) => println!("{l}"),
        Line::Err(l) => eprintln!("{l}"),
    }
}

fn main() {
    let (code, message) = scalegrease::error::outcome(run());
    if let Some(m) = message {
        eprintln!("greasesnatch: error: {m}");
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
