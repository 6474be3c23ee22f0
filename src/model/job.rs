//! A job's name: the funnel, the run records and greasestatus know a job by it. Given
//! with `--job`, or derived from how the job is written, the same on every worker.

/// The longest `--job` name.
pub const MAX_JOB_NAME: usize = 200;

/// Whether `name` may be given as `--job`: 1 to [`MAX_JOB_NAME`] bytes of printable
/// characters (no control character, no `/`: names become store keys and show in
/// tables); the reason if not.
pub fn check_job_name(name: &str) -> Result<(), String> {
    if name.is_empty() || name.len() > MAX_JOB_NAME {
        return Err(format!("a job name has 1 to {MAX_JOB_NAME} bytes"));
    }
    if let Some(c) = name.chars().find(|c| c.is_control() || *c == '/') {
        return Err(format!(
            "a job name holds no `/` and no control character, found {:?}",
            c
        ));
    }
    Ok(())
}

/// A job's name when `--job` is not given: stable across runs and versions, readable,
/// and the same on every worker: `<runner>:<group>:<artifact>` for Maven coordinates
/// (`<runner>:<file name>` for a local path), then, when there are arguments, `:` and a
/// short readable form of them and 8 hex digits of their SHA-256 (arguments are taken as
/// written, before slot parameters are filled).
pub fn job_name(runner: &str, artifact: &str, args: &[String]) -> String {
    let art = artifact_identity(artifact);
    let mut name = format!("{}:{art}", runner.to_ascii_lowercase());
    if !args.is_empty() {
        use sha2::Digest;
        let mut h = sha2::Sha256::new();
        for a in args {
            h.update(a.as_bytes());
            h.update([0]);
        }
        let digest = hex::encode(h.finalize());
        let mut words = String::new();
        for c in args.join(" ").chars() {
            let keep = c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-');
            let c = if keep { c } else { '_' };
            if !(c == '_' && words.ends_with('_')) {
                words.push(c);
            }
            if words.len() >= 32 {
                break;
            }
        }
        let words = words.trim_matches('_');
        name.push(':');
        if !words.is_empty() {
            name.push_str(words);
            name.push('~');
        }
        name.push_str(&digest[..8]);
    }
    name
}

/// `group:artifact` of Maven coordinates (version and the rest dropped), or the file name
/// of a local path.
fn artifact_identity(artifact: &str) -> String {
    let is_path = artifact.contains('/') || std::path::Path::new(artifact).exists();
    let parts: Vec<&str> = artifact.split(':').collect();
    if !is_path && parts.len() >= 2 {
        return format!("{}:{}", parts[0], parts[1]);
    }
    std::path::Path::new(artifact)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| artifact.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn job_names_given() {
        assert!(check_job_name("nightly etl:2").is_ok());
        for bad in ["", "a/b", "a\nb", "\u{1b}[2J", "\u{9b}x"] {
            assert!(check_job_name(bad).is_err(), "{bad:?}");
        }
        assert!(check_job_name(&"j".repeat(201)).is_err());
    }

    #[test]
    fn job_names_are_stable_and_readable() {
        let a = job_name(
            "Shell",
            "com.ex:etl:1.2:jar",
            &["run".into(), "{date}".into()],
        );
        let b = job_name(
            "shell",
            "com.ex:etl:LATEST",
            &["run".into(), "{date}".into()],
        );
        assert_eq!(a, b);
        assert!(a.starts_with("shell:com.ex:etl:run_date~"), "{a}");
        assert_ne!(
            a,
            job_name("shell", "com.ex:etl", &["run".into(), "{hour}".into()])
        );
        assert_eq!(job_name("java", "/tmp/x/job.jar", &[]), "java:job.jar");
        // Argument boundaries count.
        assert_ne!(
            job_name("shell", "a:b", &["a b".into()]),
            job_name("shell", "a:b", &["a".into(), "b".into()])
        );
    }
}
