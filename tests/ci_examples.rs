//! The CI definitions in examples/ci/ (Jenkins pipeline, Jenkins Job DSL, GitHub Actions)
//! run as written: their greaselaunch commands are taken from the files and run in a
//! temp job project against a temp store, with the built binaries on PATH and the
//! variables the files read set to temp values; a worker that trusts the key then
//! installs the bundle they published.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::harness::{World, bin_path, text};

/// One shell step of a CI file, as the CI would run it.
#[derive(Debug)]
struct Step {
    script: String,
}

fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/ci")
}

/// The shell steps that call greaselaunch: `sh '…'` (Jenkinsfile), `shell('…')` (Job DSL),
/// `run: …` and `run: |` blocks (GitHub Actions).
fn steps(file: &str) -> Vec<Step> {
    let text = std::fs::read_to_string(examples().join(file)).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let t = lines[i].trim();
        let indent = lines[i].len() - lines[i].trim_start().len();
        let script = if let Some(s) = t.strip_prefix("sh '").and_then(|s| s.strip_suffix('\'')) {
            Some(s.to_string())
        } else if let Some(s) = t.strip_prefix("shell('").and_then(|s| s.strip_suffix("')")) {
            Some(s.to_string())
        } else if t == "run: |" || t == "- run: |" {
            let mut block = Vec::new();
            while i + 1 < lines.len()
                && (lines[i + 1].trim().is_empty()
                    || lines[i + 1].len() - lines[i + 1].trim_start().len() > indent)
            {
                i += 1;
                block.push(lines[i].trim());
            }
            Some(block.join("\n"))
        } else {
            t.strip_prefix("run: ").map(str::to_string)
        };
        if let Some(script) = script.filter(|s| s.contains("greaselaunch")) {
            out.push(Step { script });
        }
        i += 1;
    }
    out
}

fn run_step(w: &World, project: &Path, key: &Path, step: &Step) {
    let bins = bin_path("greaselaunch").parent().unwrap().to_path_buf();
    let path = format!(
        "{}:{}",
        bins.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let runner_temp = w.join("runner-temp");
    std::fs::create_dir_all(&runner_temp).unwrap();
    let out = Command::new("bash")
        .args(["-euo", "pipefail", "-c", &step.script])
        .current_dir(project)
        .env("PATH", path)
        .env("SCALEGREASE_CONFIG", w.config_path())
        .env("SCALEGREASE_STORE", w.store_location())
        .env("SCALEGREASE_SIGNING_KEY_FILE", key)
        .env(
            "SCALEGREASE_SIGNING_KEY",
            std::fs::read_to_string(key).unwrap().trim_end(),
        )
        .env("RUNNER_TEMP", &runner_temp)
        .env_remove("SCALEGREASE_HOSTNAME")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}: {:?}", step.script, text(&out));
}

fn check(file: &'static str) {
    let steps = steps(file);
    let (checks, publishes): (Vec<&Step>, Vec<&Step>) =
        steps.iter().partition(|s| s.script.contains("--check"));
    assert!(!checks.is_empty(), "{file}: no `greaselaunch --check` step");
    assert!(
        publishes.iter().any(|s| s.script.contains("--signing-key")),
        "{file}: no `greaselaunch --signing-key` step"
    );

    let mut w = World::new();
    w.init_store();
    let (key, line) = crate::signing::keygen(&w, "ci");
    w.configure(|c| c["launch"]["trusted_keys"] = serde_json::json!([line]));
    let entry = "0 3 * * * nobody greaserun --runner shell /bin/echo nightly\n";
    let project = w.project("repo", "com.example", "nightly", &[("n.cron", entry)]);

    for s in &checks {
        run_step(&w, &project, &key, s);
    }
    assert!(
        w.store().list("bundles").unwrap().is_empty(),
        "{file}: a check step published"
    );
    for s in &publishes {
        run_step(&w, &project, &key, s);
    }
    let out = w.snatch(&[]);
    assert!(out.status.success(), "{file}: {:?}", text(&out));
    let installed = w.cron_dir().join("sgtest__com_example__nightly__n_cron");
    let content = std::fs::read_to_string(&installed).unwrap();
    assert!(content.ends_with(entry), "{file}: {content}");
    assert!(
        !w.join("runner-temp/scalegrease-signing.key").exists(),
        "{file}: the key was left behind"
    );
}

#[test]
fn jenkins_pipeline_checks_and_publishes_a_signed_bundle() {
    check("Jenkinsfile");
}

#[test]
fn jenkins_job_dsl_checks_and_publishes_a_signed_bundle() {
    check("jobs.groovy");
}

#[test]
fn github_actions_workflow_checks_and_publishes_a_signed_bundle() {
    check("github/scalegrease.yml");
}
