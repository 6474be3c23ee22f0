//! greaselaunch's work: collect a project's crontab files, validate them all, and publish
//! them as one bundle (see [`super::bundle`]) with a single atomic store write.
//!
//! Invalid input publishes nothing. A project without crontab files is an error unless
//! `allow_empty`, which publishes an empty bundle: workers then remove the project's jobs.
//! A project whose installed names would collide with another's in the store is refused;
//! the bundle is signed when CI passes a signing key (see [`super::sign`]).

use std::io::Write;
use std::path::PathBuf;

mod collect;

pub use collect::{Found, collect, git_revision};

use super::bundle::{self, Bundle, CrontabFile};
use super::crontab;
use super::error::DispatchError;
use super::project::{self, Project, Resolved};
use super::schedule::Schedule;
use crate::store::Store;

/// The default crontab glob, relative to the project root.
pub const DEFAULT_GLOB: &str = "src/main/cron/*.cron";

/// What greaselaunch does after validating.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Validate only.
    Check,
    /// Show what would be published.
    DryRun,
    /// Publish.
    Publish,
}

/// greaselaunch's validated options.
#[derive(Debug, Clone)]
pub struct LaunchOptions {
    pub project_dir: PathBuf,
    pub group: Option<String>,
    pub artifact: Option<String>,
    /// `--cron-glob` (else `scalegrease.toml`'s, else [`DEFAULT_GLOB`]).
    pub cron_glob: Option<String>,
    pub allow_empty: bool,
    pub mode: Mode,
    /// `--revision` (else `git rev-parse HEAD` in the project, if it works).
    pub revision: Option<String>,
    /// `user@host`.
    pub launched_by: String,
}

/// Collects and validates a project's crontabs, writing every diagnostic to `diag`, and
/// returns the bundle to publish. Fails with [`DispatchError::Invalid`] if any file has
/// an error.
pub fn prepare(
    opts: &LaunchOptions,
    diag: &mut dyn Write,
) -> Result<(Resolved, Bundle), DispatchError> {
    let resolved = project::resolve(
        &opts.project_dir,
        opts.group.as_deref(),
        opts.artifact.as_deref(),
    )?;
    let glob = opts
        .cron_glob
        .clone()
        .or_else(|| resolved.settings.cron_glob.clone())
        .unwrap_or_else(|| DEFAULT_GLOB.to_string());
    let found = collect(&opts.project_dir, &glob)?;
    if found.is_empty() && !opts.allow_empty {
        return Err(DispatchError::NoCrontabs {
            glob,
            dir: opts.project_dir.clone(),
        });
    }
    let allowed = resolved.settings.allowed_users.clone();
    let (mut errors, mut bad_files) = (0, 0);
    let mut crontabs = Vec::with_capacity(found.len());
    let mut seen = std::collections::HashMap::new();
    for f in &found {
        let bytes = std::fs::read(&f.path).map_err(|source| DispatchError::Read {
            path: f.path.clone(),
            cause: source,
        })?;
        let mut content = match String::from_utf8(bytes) {
            Ok(c) => c,
            Err(e) => {
                let good = &e.as_bytes()[..e.utf8_error().valid_up_to()];
                let line = good.iter().filter(|b| **b == b'\n').count() + 1;
                let start = good.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
                let column = String::from_utf8_lossy(&good[start..]).chars().count() + 1;
                let _ = writeln!(
                    diag,
                    "{}:{line}:{column}: error: invalid UTF-8 (save the file as UTF-8 text)",
                    f.shown
                );
                errors += 1;
                bad_files += 1;
                continue;
            }
        };
        let parsed = crontab::parse(&content);
        let mut lines: Vec<String> = parsed
            .diagnostics
            .iter()
            .map(|d| d.render(&f.shown))
            .collect();
        let mut file_errors = parsed.errors().count();
        if let Some(users) = &allowed {
            for e in parsed.entries().filter(|e| !users.contains(&e.user)) {
                file_errors += 1;
                let text = content.lines().nth(e.line - 1).unwrap_or_default();
                lines.push(format!(
                    "{}:{}:{}: error: user {:?} is not allowed ({} allows {})",
                    f.shown,
                    e.line,
                    crontab::validate::user_column(text),
                    e.user,
                    project::PROJECT_FILE,
                    users.join(", ")
                ));
            }
        }
        for e in parsed.entries() {
            if Schedule::new(&e.when).never_fires() {
                let text = content.lines().nth(e.line - 1).unwrap_or_default();
                lines.push(format!(
                    "{}:{}:{}: warning: this entry never fires: none of its days of the month exist in its months",
                    f.shown,
                    e.line,
                    field_column(text, 2)
                ));
            }
        }
        let key = bundle::sanitize(&f.name);
        if let Some(other) = seen.insert(key.clone(), f.shown.clone()) {
            file_errors += 1;
            lines.push(format!(
                "{}:1:1: error: installed name {key:?} is also {other}'s (names are installed with characters outside A-Z a-z 0-9 _ - replaced by _; rename one)",
                f.shown
            ));
        }
        for l in &lines {
            let _ = writeln!(diag, "{l}");
        }
        if file_errors > 0 {
            errors += file_errors;
            bad_files += 1;
        }
        if !content.is_empty() && !content.ends_with('\n') {
            content.push('\n');
        }
        crontabs.push(CrontabFile {
            name: f.name.clone(),
            content,
        });
    }
    if errors > 0 {
        return Err(DispatchError::Invalid {
            errors,
            files: bad_files,
        });
    }
    let revision = opts
        .revision
        .clone()
        .or_else(|| git_revision(&opts.project_dir));
    let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let b = Bundle::new(
        &resolved.project,
        crontabs,
        now,
        opts.launched_by.clone(),
        revision,
    )
    .with_alerts(resolved.settings.alerts.clone());
    Ok((resolved, b))
}

/// The 1-based column where whitespace-separated field `n` (from 0) of `line` starts.
fn field_column(line: &str, n: usize) -> usize {
    let mut fields = 0;
    let mut prev_space = true;
    for (i, c) in line.chars().enumerate() {
        if prev_space && !c.is_whitespace() {
            if fields == n {
                return i + 1;
            }
            fields += 1;
        }
        prev_space = c.is_whitespace();
    }
    1
}

/// Publishes a bundle: one atomic put under [`bundle::key_for`].
pub fn publish(store: &dyn Store, b: &Bundle) -> Result<(), DispatchError> {
    store.check()?;
    store.put(&bundle::key_for(&b.project()), &b.encode(), None)?;
    Ok(())
}

/// The project already in the store whose installed file names `project`'s would share
/// (`com.adv:jobs` and `com_adv:jobs` both install as `…__com_adv__jobs__…`), if any.
pub fn collision(store: &dyn Store, project: &Project) -> Result<Option<Project>, DispatchError> {
    store.check()?;
    let mine = bundle::installed_prefix("", project);
    // Keys only: the project is in the key, so no bundle is read.
    let keys = store.keys(crate::model::keys::BUNDLES)?;
    Ok(keys
        .iter()
        .filter_map(|k| bundle::project_of_key(k))
        .find(|p| p != project && bundle::installed_prefix("", p) == mine))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn opts(dir: &Path) -> LaunchOptions {
        LaunchOptions {
            project_dir: dir.to_path_buf(),
            group: Some("g".into()),
            artifact: Some("a".into()),
            cron_glob: None,
            allow_empty: false,
            mode: Mode::Publish,
            revision: Some("r1".into()),
            launched_by: "me@here".into(),
        }
    }

    #[test]
    fn invalid_publishes_nothing_and_newline_is_fixed() {
        let d = tempfile::tempdir().unwrap();
        let cron = d.path().join("src/main/cron");
        std::fs::create_dir_all(&cron).unwrap();
        std::fs::write(cron.join("ok.cron"), "* * * * * a greaserun x").unwrap();
        let mut diag = Vec::new();
        let (_, b) = prepare(&opts(d.path()), &mut diag).unwrap();
        assert_eq!(b.crontabs[0].content, "* * * * * a greaserun x\n");
        assert!(
            String::from_utf8(diag)
                .unwrap()
                .contains("ok.cron:1:24: warning: no newline")
        );
        std::fs::write(
            cron.join("bad.cron"),
            "61 * * * * a greaserun x\n* * * * 8 a greaserun\n",
        )
        .unwrap();
        std::fs::write(cron.join("latin1.cron"), b"# caf\xe9\n").unwrap();
        let mut diag = Vec::new();
        let e = prepare(&opts(d.path()), &mut diag).unwrap_err();
        assert!(
            matches!(
                e,
                DispatchError::Invalid {
                    errors: 3,
                    files: 2
                }
            ),
            "{e}"
        );
        let diag = String::from_utf8(diag).unwrap();
        assert!(
            diag.contains("src/main/cron/bad.cron:1:1: error:"),
            "{diag}"
        );
        assert!(
            diag.contains("src/main/cron/bad.cron:2:9: error:"),
            "{diag}"
        );
        assert!(
            diag.contains("src/main/cron/latin1.cron:1:6: error: invalid UTF-8"),
            "{diag}"
        );
    }

    #[test]
    fn empty_needs_allow_empty() {
        let d = tempfile::tempdir().unwrap();
        let mut o = opts(d.path());
        assert!(matches!(
            prepare(&o, &mut Vec::new()),
            Err(DispatchError::NoCrontabs { .. })
        ));
        o.allow_empty = true;
        assert!(prepare(&o, &mut Vec::new()).unwrap().1.crontabs.is_empty());
    }
}
