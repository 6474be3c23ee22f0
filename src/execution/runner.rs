//! The runners: how a job's jar and arguments become a command line.
//!
//! Built-in runners, each `<base command> <runner part> ARGS`:
//!
//! | runner | base command (first found)                                   | then                        |
//! |--------|--------------------------------------------------------------|-----------------------------|
//! | shell  | `runners.shell.command`, else nothing                        | ARGS                        |
//! | java   | `runners.java.command`, else `java`                          | `-jar JAR` or `-cp JAR MAIN`, ARGS |
//! | hadoop | `runners.hadoop.command`, `HadoopRunner.command`, `hadoop jar` | JAR [MAIN] ARGS, `HADOOP_CLASSPATH` += JAR |
//! | python | `runners.python.command`, else nothing                       | ARGS, in the extracted `python/` tree |
//! | luigi  | `runners.luigi.command`, `LuigiRunner.command`, `luigi`      | ARGS, in the extracted `python/` tree |
//!
//! Any other `runners.<name>.command` defines a runner of its own: a template in which
//! `{args}` stands for the job's arguments (appended when absent). Everywhere,
//! `{jar_path}`, `{artifact_spec}` and `{version}` are substituted in commands and ARGS.
//! Commands are split into words like a shell would, without running one; write
//! `sh -c '...'` for pipes or redirections. Runner names are case-insensitive and may
//! carry the original's class-name suffix (`LuigiRunner`).

use std::path::{Path, PathBuf};

use super::scratch::Scratch;
use super::words::{self, Vars};
use super::{ExecError, Job};
use crate::Config;

/// The built-in runners' names.
pub const BUILTIN: [&str; 5] = ["shell", "java", "hadoop", "python", "luigi"];

/// A command ready to start: argv, environment additions, working directory and the
/// temp dir (removed when this is dropped).
#[derive(Debug)]
pub struct Prepared {
    /// The runner's canonical name (lower case, no `Runner` suffix): the log uses it.
    pub runner: String,
    /// The program and its arguments; never empty.
    pub argv: Vec<String>,
    /// Variables set for the job on top of greaserun's environment.
    pub env: Vec<(String, String)>,
    /// The job's working directory; `None`: greaserun's.
    pub cwd: Option<PathBuf>,
    scratch: Option<Scratch>,
}

impl Prepared {
    /// The exact command as one shell line: `cd DIR && VAR=value ... argv`, every word
    /// quoted where needed. `--dry-run` prints it.
    pub fn command_line(&self) -> String {
        let mut parts = Vec::new();
        if let Some(cwd) = &self.cwd {
            parts.push(format!("cd {} &&", words::quote(&cwd.to_string_lossy())));
        }
        for (k, v) in &self.env {
            parts.push(format!("{k}={}", words::quote(v)));
        }
        parts.extend(self.argv.iter().map(|w| words::quote(w)));
        parts.join(" ")
    }
}

/// A runner name as compared and logged: lower case, a `Runner` suffix dropped
/// (`LuigiRunner` -> `luigi`). Use it for the log path so both spellings share one log.
pub fn canonical_name(name: &str) -> String {
    let lower = name.trim().to_ascii_lowercase();
    match lower.strip_suffix("runner") {
        Some(base) if !base.is_empty() => base.to_string(),
        _ => lower,
    }
}

/// Every runner name available with this config: the built-ins, then config-defined ones.
pub fn runner_names(cfg: &Config) -> Vec<String> {
    let mut names: Vec<String> = BUILTIN.iter().map(|s| s.to_string()).collect();
    for key in cfg.runners.keys() {
        let n = canonical_name(key);
        if !names.contains(&n) {
            names.push(n);
        }
    }
    names
}

/// Checks `runner` names an available runner; returns its normalized name. An unknown
/// name's error lists the available ones.
pub fn check_runner(runner: &str, cfg: &Config) -> Result<String, ExecError> {
    let name = canonical_name(runner);
    let known = runner_names(cfg);
    if known.contains(&name) {
        return Ok(name);
    }
    Err(ExecError::UnknownRunner {
        name: runner.to_string(),
        available: known.join(", "),
    })
}

/// The configured `runners.<name>.command` for a normalized name, with its config key.
fn configured<'c>(cfg: &'c Config, name: &str) -> Option<(String, &'c str)> {
    cfg.runners
        .iter()
        .find(|(k, _)| canonical_name(k) == name)
        .and_then(|(k, def)| Some((format!("runners.{k}.command"), def.command.as_deref()?)))
}

fn split_command(cfg: &Config, key: &str, text: &str) -> Result<Vec<String>, ExecError> {
    words::split(text).map_err(|message| ExecError::BadTemplate {
        source_name: config_name(cfg),
        key: key.to_string(),
        message,
    })
}

fn config_name(cfg: &Config) -> String {
    cfg.source
        .as_deref()
        .unwrap_or(Path::new("built-in config"))
        .display()
        .to_string()
}

/// The base command of a built-in runner: config, then legacy section, then default.
fn base_command(cfg: &Config, name: &str) -> Result<Vec<String>, ExecError> {
    let legacy = match name {
        "luigi" => cfg.luigi_runner.command.as_deref(),
        "hadoop" => cfg.hadoop_runner.command.as_deref(),
        _ => None,
    };
    let default = match name {
        "java" => "java",
        "hadoop" => "hadoop jar",
        "luigi" => "luigi",
        _ => "",
    };
    let (key, text) = match (configured(cfg, name), legacy) {
        (Some((key, text)), _) => (key, text.to_string()),
        (None, Some(text)) => {
            let section = if name == "luigi" {
                "LuigiRunner"
            } else {
                "HadoopRunner"
            };
            (format!("{section}.command"), text.to_string())
        }
        (None, None) => (String::new(), default.to_string()),
    };
    split_command(cfg, &key, &text)
}

/// Builds the command for `job`; for the python and luigi runners this extracts the jar's
/// `python/` tree into a private temp dir that lives as long as the returned value.
pub fn prepare(job: &Job, cfg: &Config) -> Result<Prepared, ExecError> {
    let name = check_runner(&job.runner, cfg)?;
    let jar = job.artifact.jar_path.to_string_lossy().into_owned();
    let vars = Vars {
        jar_path: &jar,
        artifact_spec: &job.artifact.spec,
        version: job.artifact.version.as_deref().unwrap_or(""),
    };
    let main_ok = matches!(name.as_str(), "java" | "hadoop");
    if job.main_class.is_some() && !main_ok {
        return Err(ExecError::MainClassUnsupported { runner: name });
    }
    let mut prepared = Prepared {
        runner: name.clone(),
        argv: Vec::new(),
        env: Vec::new(),
        cwd: None,
        scratch: None,
    };
    if !BUILTIN.contains(&name.as_str()) {
        let (key, text) = configured(cfg, &name).ok_or_else(|| ExecError::BadTemplate {
            source_name: config_name(cfg),
            key: format!("runners.{name}.command"),
            message: "missing: a runner defined in config needs a command".into(),
        })?;
        let template = split_command(cfg, &key, text)?;
        prepared.argv = words::expand(&template, &job.args, &vars);
        return finish(prepared, "ARGS");
    }
    let mut head = base_command(cfg, &name)?;
    match name.as_str() {
        "java" => match &job.main_class {
            Some(main) => head.extend(["-cp".into(), jar.clone(), main.clone()]),
            None => head.extend(["-jar".into(), jar.clone()]),
        },
        "hadoop" => {
            head.push(jar.clone());
            head.extend(job.main_class.iter().cloned());
            let cp = match std::env::var("HADOOP_CLASSPATH") {
                Ok(old) if !old.is_empty() => format!("{old}:{jar}"),
                _ => jar.clone(),
            };
            prepared.env.push(("HADOOP_CLASSPATH".into(), cp));
        }
        "python" | "luigi" => {
            let scratch = Scratch::extract(&job.artifact.jar_path, None)?;
            let tree = scratch.python();
            let tree_s = tree.to_string_lossy().into_owned();
            let path = match std::env::var("PYTHONPATH") {
                Ok(old) if !old.is_empty() => format!("{tree_s}:{old}"),
                _ => tree_s,
            };
            prepared.env.push(("PYTHONPATH".into(), path));
            // The original's contract (shared/README.md): the resolved jar's path, so a
            // Luigi task can hand the same jar to hadoop or java.
            prepared
                .env
                .push(("PLATFORM_ARTIFACT_SPEC".into(), jar.clone()));
            prepared.cwd = Some(tree);
            prepared.scratch = Some(scratch);
        }
        _ => {}
    }
    prepared.argv = words::expand(&head, &job.args, &vars);
    let example = match name.as_str() {
        "python" => "python3 -m mypackage.main",
        _ => "/bin/echo {jar_path}",
    };
    finish(prepared, example)
}

fn finish(prepared: Prepared, example: &'static str) -> Result<Prepared, ExecError> {
    if prepared.argv.is_empty() || prepared.argv[0].is_empty() {
        return Err(ExecError::NoCommand {
            runner: prepared.runner.clone(),
            example,
        });
    }
    Ok(prepared)
}

#[cfg(test)]
mod tests {
    use super::super::JobArtifact;
    use super::*;

    fn cfg(json: &str) -> Config {
        Config::parse(json, Path::new("c.json")).unwrap()
    }

    fn job(runner: &str, args: &[&str]) -> Job {
        Job {
            runner: runner.into(),
            artifact: JobArtifact {
                jar_path: "/c/x.jar".into(),
                spec: "com.ex:x:1.2".into(),
                version: Some("1.2".into()),
            },
            args: args.iter().map(|s| s.to_string()).collect(),
            main_class: None,
        }
    }

    fn argv(p: &Prepared) -> Vec<&str> {
        p.argv.iter().map(String::as_str).collect()
    }

    #[test]
    fn names_are_case_insensitive_with_class_suffix() {
        let c = cfg(r#"{"runners": {"Spark": {"command": "spark-submit {jar_path}"}}}"#);
        assert_eq!(
            runner_names(&c),
            ["shell", "java", "hadoop", "python", "luigi", "spark"]
        );
        for n in ["shell", "SHELL", "ShellRunner", "shellrunner"] {
            let p = prepare(&job(n, &["echo", "{jar_path}", "{version}"]), &c).unwrap();
            assert_eq!(p.runner, "shell");
            assert_eq!(argv(&p), ["echo", "/c/x.jar", "1.2"]);
        }
        let p = prepare(&job("SparkRunner", &["--n", "3"]), &c).unwrap();
        assert_eq!(argv(&p), ["spark-submit", "/c/x.jar", "--n", "3"]);
    }

    #[test]
    fn unknown_runner_lists_the_available_ones() {
        let err = prepare(&job("pyhton", &[]), &cfg("{}")).unwrap_err();
        assert_eq!(
            err.to_string(),
            "unknown runner \"pyhton\" (available: shell, java, hadoop, python, luigi)"
        );
        assert_eq!(err.exit_code(), crate::exit::USAGE);
    }

    #[test]
    fn java_with_manifest_or_main_class() {
        let c = cfg("{}");
        let p = prepare(&job("java", &["a"]), &c).unwrap();
        assert_eq!(argv(&p), ["java", "-jar", "/c/x.jar", "a"]);
        let mut j = job("java", &["a"]);
        j.main_class = Some("com.ex.Main".into());
        let p = prepare(&j, &c).unwrap();
        assert_eq!(argv(&p), ["java", "-cp", "/c/x.jar", "com.ex.Main", "a"]);
        j.runner = "shell".into();
        assert!(matches!(
            prepare(&j, &c),
            Err(ExecError::MainClassUnsupported { .. })
        ));
    }

    #[test]
    fn hadoop_command_precedence_and_classpath() {
        let p = prepare(&job("hadoop", &["in"]), &cfg("{}")).unwrap();
        assert_eq!(argv(&p), ["hadoop", "jar", "/c/x.jar", "in"]);
        let (k, v) = &p.env[0];
        assert_eq!(k, "HADOOP_CLASSPATH");
        assert!(v.ends_with("/c/x.jar"));
        let c = cfg(r#"{"HadoopRunner": {"command": "/opt/h/bin/hadoop jar"}}"#);
        let p = prepare(&job("HadoopRunner", &[]), &c).unwrap();
        assert_eq!(argv(&p), ["/opt/h/bin/hadoop", "jar", "/c/x.jar"]);
        let c = cfg(
            r#"{"HadoopRunner": {"command": "old jar"}, "runners": {"hadoop": {"command": "new jar"}}}"#,
        );
        let p = prepare(&job("hadoop", &[]), &c).unwrap();
        assert_eq!(argv(&p), ["new", "jar", "/c/x.jar"]);
    }

    #[test]
    fn shell_needs_a_command_and_bad_templates_name_the_key() {
        let err = prepare(&job("shell", &[]), &cfg("{}")).unwrap_err();
        assert!(matches!(err, ExecError::NoCommand { .. }), "{err}");
        let c = cfg(r#"{"runners": {"x": {"command": "a 'b"}}}"#);
        let err = prepare(&job("x", &[]), &c).unwrap_err().to_string();
        assert!(err.contains("runners.x.command"), "{err}");
        assert!(err.starts_with("c.json:"), "{err}");
    }

    #[test]
    fn command_line_is_shell_quoted() {
        let mut j = job("hadoop", &["a b", "it's"]);
        j.main_class = Some("M".into());
        let p = prepare(&j, &cfg("{}")).unwrap();
        let line = p.command_line();
        assert!(line.starts_with("HADOOP_CLASSPATH="), "{line}");
        assert!(
            line.ends_with(r"hadoop jar /c/x.jar M 'a b' 'it'\''s'"),
            "{line}"
        );
    }

    #[test]
    fn luigi_extracts_and_sets_the_environment() {
        let dir = tempfile::tempdir().unwrap();
        let jar = dir.path().join("t.jar");
        super::super::scratch::tests::write_jar(&jar, &[("python/t.py", "", 0o644)]);
        let mut j = job("luigi", &["--module", "t", "T"]);
        j.artifact.jar_path = jar;
        let c = cfg(r#"{"LuigiRunner": {"command": "luigi --local-scheduler"}}"#);
        let p = prepare(&j, &c).unwrap();
        assert_eq!(
            argv(&p),
            ["luigi", "--local-scheduler", "--module", "t", "T"]
        );
        let cwd = p.cwd.clone().unwrap();
        assert!(cwd.join("t.py").is_file());
        let env: std::collections::HashMap<_, _> = p.env.iter().cloned().collect();
        assert!(env["PYTHONPATH"].starts_with(&*cwd.to_string_lossy()));
        assert_eq!(
            env["PLATFORM_ARTIFACT_SPEC"],
            j.artifact.jar_path.to_string_lossy()
        );
        assert!(p.command_line().starts_with("cd /"), "{}", p.command_line());
        drop(p);
        assert!(!cwd.exists());
    }
}
