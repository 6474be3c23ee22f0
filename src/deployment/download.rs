//! One verified download into the cache: stream the body into a dot-named temp file in the
//! target's directory while hashing it, resume with a `Range` request when the connection
//! drops (starting over when the server ignores the range), retry connection errors,
//! timeouts and 5xx with backoff and jitter, then check the digest, fsync and rename. A
//! jar no checksum vouches for is checked to be a readable zip instead. A file that fails
//! verification is deleted: it never reaches the path the jar is expected at.

use std::fs::{self, OpenOptions};
use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use tracing::{debug, info};

use super::DeployError;
use super::checksum::Expected;
use super::repository::{Budget, FetchError, Repo, backoff};
use super::sink::Sink;
use crate::util::fs::{sync_dir, temp_path_for};

/// How a download ended, when it did not succeed.
#[derive(Debug)]
pub enum Failure {
    /// The repository does not have the file.
    NotFound,
    /// The repository could not be reached or kept failing (after all attempts).
    Unreachable(String),
    /// A non-retryable refusal (401, 403, ...).
    Refused(String),
    /// Verification or local I/O failed: stop, do not try other repositories.
    Fatal(DeployError),
}

/// A fetch whose answer cannot be used, as the error that stops this artifact: bad data
/// (65) or an unusable repository (69), naming the URL (never its credentials).
pub fn unusable(repo: &Repo, rel: &str, e: FetchError) -> Failure {
    let url = repo.url_of(rel);
    Failure::Fatal(match e {
        FetchError::BadData(reason) => DeployError::BadData { url, reason },
        other => DeployError::Unusable {
            url,
            reason: other.to_string(),
        },
    })
}

/// After a failed request for `rel`: the failure to give up with (refused, unusable, or
/// the `attempts`-th retryable failure), else the backoff to wait before retrying, logged.
/// `failures` counts the retryable ones so far.
pub fn retry_after(
    repo: &Repo,
    rel: &str,
    e: FetchError,
    failures: &mut u32,
    attempts: u32,
) -> Result<std::time::Duration, Failure> {
    match e {
        FetchError::Fatal(m) => Err(Failure::Refused(m)),
        FetchError::BadData(_) | FetchError::Unusable(_) => Err(unusable(repo, rel, e)),
        e => {
            *failures += 1;
            if *failures >= attempts.max(1) {
                return Err(Failure::Unreachable(e.to_string()));
            }
            let pause = backoff(*failures);
            info!(
                "{}: {e}; retrying in {} ms",
                repo.url_of(rel),
                pause.as_millis()
            );
            Ok(pause)
        }
    }
}

/// Fetches `rel` from `repo` to `dest`, verified against `expected` when given.
/// `budget` bounds consecutive failures that made no progress, and the whole download.
pub fn download(
    repo: &Repo,
    rel: &str,
    dest: &Path,
    expected: Option<&Expected>,
    budget: Budget,
    progress: bool,
) -> Result<u64, Failure> {
    let url = repo.url_of(rel);
    let tmp = temp_path_for(dest);
    let result = fetch_into(repo, rel, &url, &tmp, expected, budget, progress)
        .and_then(|len| unverified_must_be_zip(rel, &url, &tmp, expected).map(|_| len));
    match result {
        Ok(len) => {
            let done = fs::rename(&tmp, dest)
                .and_then(|_| sync_dir(dest))
                .map_err(|e| Failure::Fatal(DeployError::io("rename into place", dest, e)));
            if done.is_err() {
                let _ = fs::remove_file(&tmp);
            }
            done.map(|_| len)
        }
        Err(f) => {
            let _ = fs::remove_file(&tmp);
            Err(f)
        }
    }
}

fn fetch_into(
    repo: &Repo,
    rel: &str,
    url: &str,
    tmp: &Path,
    expected: Option<&Expected>,
    budget: Budget,
    progress: bool,
) -> Result<u64, Failure> {
    let attempts = budget.attempts;
    let deadline = budget.deadline();
    let late = || deadline.is_some_and(|d| std::time::Instant::now() >= d);
    let io = |what: &'static str| move |e| Failure::Fatal(DeployError::io(what, tmp, e));
    let file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(tmp)
        .map_err(io("create temp file"))?;
    let mut sink = Sink::new(file, expected.map(|e| e.algorithm));
    let mut failures = 0u32;
    let bar = progress_bar(progress, url);
    loop {
        if late() {
            return Err(Failure::Unreachable(budget.expired()));
        }
        let opened = match repo.open(rel, sink.written, deadline) {
            Ok(o) => o,
            Err(FetchError::NotFound) if sink.written == 0 => return Err(Failure::NotFound),
            Err(FetchError::RangeRejected) => {
                debug!("{url}: range rejected; starting over");
                sink.restart().map_err(io("truncate"))?;
                failures += 1;
                if failures >= attempts.max(1) {
                    return Err(Failure::Unreachable("range not satisfiable".into()));
                }
                continue;
            }
            Err(e) => {
                pause_until(
                    retry_after(repo, rel, e, &mut failures, attempts)?,
                    deadline,
                );
                continue;
            }
        };
        if opened.offset != sink.written {
            debug!("{url}: server ignored the range; starting over");
            sink.restart().map_err(io("truncate"))?;
        }
        let start = sink.written;
        if let (Some(b), Some(len)) = (&bar, opened.len) {
            b.set_length(start + len);
            b.set_position(start);
        }
        let mut reader = opened.reader;
        let cut = loop {
            let mut buf = sink.buffer();
            match reader.read(&mut buf) {
                Ok(0) => break None,
                Ok(n) => {
                    sink.push(buf, n).map_err(io("write temp file"))?;
                    if let Some(b) = &bar {
                        b.set_position(sink.written);
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => break Some(e.to_string()),
            }
        };
        let written = sink.written;
        let cut = cut.or_else(|| match opened.len.map(|l| start + l) {
            Some(t) if t != written => Some(format!("body ended at byte {written} of {t}")),
            _ => None,
        });
        let Some(reason) = cut else { break };
        if late() {
            return Err(Failure::Unreachable(budget.expired()));
        }
        if written > start {
            failures = 0;
        }
        failures += 1;
        if failures >= attempts.max(1) {
            return Err(Failure::Unreachable(reason));
        }
        let pause = backoff(failures);
        info!(
            "{url}: download interrupted at byte {written} ({reason}); resuming in {} ms",
            pause.as_millis()
        );
        pause_until(pause, deadline);
    }
    drop(bar);
    let written = sink.written;
    let (file, digest) = sink.finish().map_err(io("fsync temp file"))?;
    if let (Some(exp), Some(actual)) = (expected, digest)
        && actual != exp.hex
    {
        return Err(Failure::Fatal(DeployError::ChecksumMismatch {
            url: url.to_string(),
            algorithm: exp.algorithm.extension(),
            expected: exp.hex.clone(),
            actual,
        }));
    }
    file.set_permissions(fs::Permissions::from_mode(0o644))
        .map_err(io("chmod temp file"))?;
    file.sync_all().map_err(io("fsync temp file"))?;
    Ok(written)
}

/// Sleeps `pause`, or until `deadline` when that comes first.
fn pause_until(pause: std::time::Duration, deadline: Option<std::time::Instant>) {
    let left = deadline.map_or(pause, |d| {
        d.saturating_duration_since(std::time::Instant::now())
    });
    std::thread::sleep(pause.min(left));
}

/// Packagings that are zip archives, checked to be one when no checksum vouches for them.
const ZIP_PACKAGINGS: [&str; 4] = [".jar", ".war", ".ear", ".zip"];

/// A download no checksum verified must at least be what its name says: a zip archive
/// whose central directory reads. An HTML error page answered with 200 is not, and is
/// never cached (it would be the jar of that version for good).
fn unverified_must_be_zip(
    rel: &str,
    url: &str,
    tmp: &Path,
    expected: Option<&Expected>,
) -> Result<(), Failure> {
    if expected.is_some() || !ZIP_PACKAGINGS.iter().any(|x| rel.ends_with(x)) {
        return Ok(());
    }
    let file = fs::File::open(tmp)
        .map_err(|e| Failure::Fatal(DeployError::io("open temp file", tmp, e)))?;
    match zip::ZipArchive::new(std::io::BufReader::new(file)) {
        Ok(_) => Ok(()),
        Err(e) => Err(Failure::Fatal(DeployError::BadData {
            url: url.to_string(),
            reason: format!(
                "the repository publishes no checksum and the answer is not a readable zip archive ({e}); nothing was cached"
            ),
        })),
    }
}

fn progress_bar(wanted: bool, url: &str) -> Option<indicatif::ProgressBar> {
    // `wanted` is the caller's decision (greaserun: stderr is a terminal and not --quiet).
    if !wanted {
        return None;
    }
    let style = indicatif::ProgressStyle::with_template(
        "{msg} {wide_bar} {bytes}/{total_bytes} {bytes_per_sec} {eta}",
    )
    .ok()?;
    let name = url.rsplit('/').next().unwrap_or(url).to_string();
    let bar =
        indicatif::ProgressBar::with_draw_target(None, indicatif::ProgressDrawTarget::stderr())
            .with_style(style)
            .with_message(name)
            .with_finish(indicatif::ProgressFinish::AndClear);
    Some(bar)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config;
    use crate::deployment::checksum::Algorithm;

    fn file_repo(dir: &Path) -> Repo {
        let r = config::Repository {
            url: format!("file://{}", dir.display()),
            username_env: None,
            password_env: None,
            credentials_file: None,
        };
        Repo::new(
            &r,
            &super::super::repository::agent(&config::Maven::default()),
        )
        .unwrap()
    }

    fn budget() -> Budget {
        Budget {
            attempts: 2,
            within: std::time::Duration::from_secs(60),
            key: "maven.request_timeout",
        }
    }

    #[test]
    fn verified_download_and_mismatch() {
        let src = tempfile::tempdir().unwrap();
        let dst = tempfile::tempdir().unwrap();
        fs::write(src.path().join("a.jar"), b"hello\n").unwrap();
        let repo = file_repo(src.path());
        let good = Expected {
            algorithm: Algorithm::Sha1,
            hex: "f572d396fae9206628714fb2ce00f72e94f2258f".into(),
        };
        let dest = dst.path().join("a.jar");
        assert_eq!(
            download(&repo, "a.jar", &dest, Some(&good), budget(), false).unwrap(),
            6
        );
        assert_eq!(fs::read(&dest).unwrap(), b"hello\n");
        let bad = Expected {
            hex: "0".repeat(40),
            ..good
        };
        let dest2 = dst.path().join("b.jar");
        let e = download(&repo, "a.jar", &dest2, Some(&bad), budget(), false).unwrap_err();
        assert!(
            matches!(e, Failure::Fatal(DeployError::ChecksumMismatch { .. })),
            "{e:?}"
        );
        assert!(!dest2.exists());
        // No temp files left behind.
        assert_eq!(fs::read_dir(dst.path()).unwrap().count(), 1);
        assert!(matches!(
            download(&repo, "nope.jar", &dest2, None, budget(), false),
            Err(Failure::NotFound)
        ));
        // Without a checksum, a jar that is not a zip (an HTML page) is refused.
        let e = download(&repo, "a.jar", &dest2, None, budget(), false).unwrap_err();
        assert!(
            matches!(&e, Failure::Fatal(DeployError::BadData { url, .. }) if url.ends_with("/a.jar")),
            "{e:?}"
        );
        assert!(!dest2.exists());
        fs::write(src.path().join("a.txt"), b"hello\n").unwrap();
        assert!(download(&repo, "a.txt", &dest2, None, budget(), false).is_ok());
    }
}
