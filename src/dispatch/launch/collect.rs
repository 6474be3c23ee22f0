//! Finding a project's crontab files by glob, and its source revision from git.

use std::path::{Component, Path, PathBuf};

use crate::dispatch::error::DispatchError;

/// One crontab file found in the project.
#[derive(Debug, Clone)]
pub struct Found {
    /// The name published (relative to the glob's literal base directory).
    pub name: String,
    /// The path shown in messages (relative to the project root).
    pub shown: String,
    pub path: PathBuf,
}

/// The literal directory part of a glob (up to the first component with a metacharacter).
fn glob_base(glob: &str) -> PathBuf {
    let mut base = PathBuf::new();
    let comps: Vec<&str> = glob.split('/').collect();
    for c in &comps[..comps.len().saturating_sub(1)] {
        if c.contains(['*', '?', '[', '{']) {
            break;
        }
        base.push(c);
    }
    base
}

/// Finds the files under `dir` matching `glob` (`*` stays within a directory, `**`
/// crosses directories), sorted by path.
pub fn collect(dir: &Path, glob: &str) -> Result<Vec<Found>, DispatchError> {
    let bad = |why: String| DispatchError::Glob {
        glob: glob.to_string(),
        why,
    };
    if Path::new(glob).is_absolute()
        || Path::new(glob)
            .components()
            .any(|c| matches!(c, Component::ParentDir))
    {
        return Err(bad(
            "it must be relative to the project root, without `..`".into()
        ));
    }
    let matcher = globset::GlobBuilder::new(glob)
        .literal_separator(true)
        .build()
        .map_err(|e| bad(e.kind().to_string()))?
        .compile_matcher();
    let base = glob_base(glob);
    let mut out = Vec::new();
    let root = dir.join(&base);
    if !root.is_dir() {
        return Ok(out);
    }
    for item in walkdir::WalkDir::new(&root).sort_by_file_name() {
        let item = item.map_err(|e| DispatchError::Read {
            path: e
                .path()
                .map(Path::to_path_buf)
                .unwrap_or_else(|| root.clone()),
            cause: e
                .into_io_error()
                .unwrap_or_else(|| std::io::Error::other("file system loop")),
        })?;
        let rel = item.path().strip_prefix(dir).expect("under dir");
        if item.path_is_symlink() && matcher.is_match(rel) {
            // The project's own checkout: a symlink to a file is read as that file; one
            // to anything else is an error, never "no crontab files".
            match std::fs::metadata(item.path()) {
                Ok(m) if m.is_file() => {}
                Ok(_) => {
                    return Err(DispatchError::Read {
                        path: item.path().to_path_buf(),
                        cause: std::io::Error::other(
                            "a symlink to something other than a file (symlinked directories are not followed)",
                        ),
                    });
                }
                Err(cause) => {
                    return Err(DispatchError::Read {
                        path: item.path().to_path_buf(),
                        cause,
                    });
                }
            }
        } else if !item.file_type().is_file() || !matcher.is_match(rel) {
            continue;
        }
        let name = item
            .path()
            .strip_prefix(&root)
            .expect("under base")
            .to_string_lossy()
            .into_owned();
        out.push(Found {
            name,
            shown: rel.to_string_lossy().into_owned(),
            path: item.path().to_path_buf(),
        });
    }
    Ok(out)
}

/// The source revision: `git rev-parse HEAD` in `dir`, if git and a repository are there.
pub fn git_revision(dir: &Path) -> Option<String> {
    let out = std::process::Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(["rev-parse", "HEAD"])
        .stderr(std::process::Stdio::null())
        .output()
        .ok()?;
    let rev = String::from_utf8(out.stdout).ok()?.trim().to_string();
    (out.status.success() && !rev.is_empty()).then_some(rev)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dispatch::launch::DEFAULT_GLOB;

    #[test]
    fn globs_and_names() {
        let d = tempfile::tempdir().unwrap();
        for p in [
            "src/main/cron/a.cron",
            "src/main/cron/sub/b.cron",
            "src/main/cron/c.txt",
        ] {
            let p = d.path().join(p);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, "").unwrap();
        }
        let names = |g: &str| {
            collect(d.path(), g)
                .unwrap()
                .into_iter()
                .map(|f| f.name)
                .collect::<Vec<_>>()
        };
        assert_eq!(names(DEFAULT_GLOB), ["a.cron"]);
        assert_eq!(names("src/main/cron/**/*.cron"), ["a.cron", "sub/b.cron"]);
        assert!(collect(d.path(), "../x/*.cron").is_err());
        assert!(collect(d.path(), "src/[").is_err());
    }
}
