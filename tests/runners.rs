//! The runners through the real greaserun binary with local jars: a fat jar built here
//! with `javac`/`jar` (java runner, `-jar` and `--main-class`), a real Luigi task packed
//! under `python/` (luigi runner), the python runner, the hadoop runner against a stand-in
//! `hadoop` script, a config-defined runner, exit statuses, and the job log.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use crate::harness::{World, skip_without, text};

pub(crate) const HELLO_JAVA: &str = r#"package demo;
public class Hello {
    public static void main(String[] args) {
        System.out.println("hello from java [" + String.join(",", args) + "]");
        System.err.println("java says on stderr");
        if (args.length > 0 && args[0].equals("fail")) System.exit(3);
    }
}
"#;

pub(crate) const OTHER_JAVA: &str = r#"package demo;
public class Other {
    public static void main(String[] args) {
        System.out.println("other main [" + String.join(",", args) + "]");
    }
}
"#;

pub(crate) const TASKS_PY: &str = r#"import os
import luigi


class Touch(luigi.Task):
    out = luigi.Parameter()

    def output(self):
        return luigi.LocalTarget(self.out)

    def run(self):
        with self.output().open("w") as f:
            f.write("spec=%s\ncwd=%s\n" % (os.environ.get("PLATFORM_ARTIFACT_SPEC"), os.getcwd()))
        print("luigi task Touch ran")
"#;

pub(crate) const HELLO_PY: &str = r#"import os, sys
print("python job in %s args=%s" % (os.getcwd(), ",".join(sys.argv[1:])))
sys.exit(int(os.environ.get("SG_EXIT", "0")))
"#;

/// The fixture jar: `demo.Hello` as Main-Class, `demo.Other`, and a `python/` tree with a
/// Luigi task (`sgtasks.tasks.Touch`) and a plain script (`sgtasks.hello`). Built once per
/// test run; `None` when javac or jar is missing (the caller skips).
pub fn fat_jar() -> Option<&'static Path> {
    static JAR: OnceLock<(tempfile::TempDir, PathBuf)> = OnceLock::new();
    if skip_without("javac") || skip_without("jar") {
        return None;
    }
    let (_, jar) = JAR.get_or_init(|| {
        let dir = tempfile::Builder::new()
            .prefix("sg-fixture-jar-")
            .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
            .unwrap();
        let d = dir.path();
        let write = |rel: &str, content: &str| {
            let p = d.join(rel);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, content).unwrap();
        };
        write("src/demo/Hello.java", HELLO_JAVA);
        write("src/demo/Other.java", OTHER_JAVA);
        write("py/python/sgtasks/__init__.py", "");
        write("py/python/sgtasks/tasks.py", TASKS_PY);
        write("py/python/sgtasks/hello.py", HELLO_PY);
        let ok = |c: &mut Command| {
            let out = c.output().unwrap();
            assert!(out.status.success(), "{c:?}: {:?}", text(&out));
        };
        ok(Command::new("javac")
            .args([
                "-d",
                "classes",
                "src/demo/Hello.java",
                "src/demo/Other.java",
            ])
            .current_dir(d));
        let jar = d.join("demo-1.0-jar-with-dependencies.jar");
        ok(Command::new("jar")
            .arg("--create")
            .arg("--file")
            .arg(&jar)
            .args(["--main-class", "demo.Hello", "-C", "classes", "."])
            .current_dir(d));
        ok(Command::new("jar")
            .arg("--update")
            .arg("--file")
            .arg(&jar)
            .args(["-C", "py", "python"])
            .current_dir(d));
        (dir, jar)
    });
    Some(jar.as_path())
}

/// Runs greaserun with `args` (no random delay, no guard) and returns its output.
pub fn greaserun(w: &World, args: &[&str]) -> std::process::Output {
    w.cmd("greaserun")
        .args(["-D", "--force"])
        .args(args)
        .output()
        .unwrap()
}

pub(crate) fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// The job log files under the world's log dir.
pub fn log_files(w: &World) -> Vec<PathBuf> {
    walkdir::WalkDir::new(w.join("logs"))
        .into_iter()
        .flatten()
        .filter(|e| e.file_type().is_file())
        .map(|e| e.into_path())
        .collect()
}

#[test]
fn java_runner_runs_the_manifest_main_class() {
    let Some(jar) = fat_jar() else { return };
    let w = World::new();
    let out = greaserun(&w, &["--runner", "java", s(jar), "--", "a", "{version}"]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(stdout.contains("hello from java [a,]"), "{stdout}");
    assert!(stdout.contains("java says on stderr"), "{stdout}");
}

#[test]
fn java_runner_with_main_class_and_failing_status() {
    let Some(jar) = fat_jar() else { return };
    let w = World::new();
    let out = greaserun(
        &w,
        &[
            "--main-class",
            "demo.Other",
            "--runner",
            "JavaRunner",
            s(jar),
            "--",
            "x y",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{:?}", text(&out));
    assert!(text(&out).0.contains("other main [x y]"));
    let out = greaserun(&w, &["--runner", "java", s(jar), "--", "fail"]);
    assert_eq!(out.status.code(), Some(3), "{:?}", text(&out));
}

#[test]
fn luigi_runner_runs_a_real_task_from_the_jar() {
    let Some(jar) = fat_jar() else { return };
    if skip_without("luigi") {
        return;
    }
    let w = World::new();
    let target = w.join("work/touched.txt");
    let out = greaserun(
        &w,
        &[
            "--runner",
            "luigi",
            s(jar),
            "--",
            "--module",
            "sgtasks.tasks",
            "Touch",
            "--out",
            s(&target),
            "--local-scheduler",
        ],
    );
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(stdout.contains("luigi task Touch ran"), "{stdout}");
    let written = std::fs::read_to_string(&target).unwrap();
    assert!(written.contains(&format!("spec={}", s(jar))), "{written}");
    let cwd = written
        .lines()
        .find_map(|l| l.strip_prefix("cwd="))
        .unwrap();
    assert!(cwd.ends_with("/python"), "{cwd}");
    assert!(
        !Path::new(cwd).exists(),
        "the extracted tree {cwd} was not removed"
    );
}

#[test]
fn python_runner_runs_in_the_extracted_tree_and_cleans_up_on_failure() {
    let Some(jar) = fat_jar() else { return };
    if skip_without("python3") {
        return;
    }
    let w = World::new();
    let out = w
        .cmd("greaserun")
        .args(["-D", "--force", "--runner", "python", s(jar), "--"])
        .args(["python3", "-m", "sgtasks.hello", "{jar_path}"])
        .env("SG_EXIT", "5")
        .output()
        .unwrap();
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(5), "{stdout}\n{stderr}");
    let line = stdout
        .lines()
        .find(|l| l.starts_with("python job in "))
        .unwrap();
    let cwd = line["python job in ".len()..]
        .split(" args=")
        .next()
        .unwrap();
    assert!(line.ends_with(&format!("args={}", s(jar))), "{line}");
    assert!(!Path::new(cwd).exists(), "{cwd} was not removed");
}

#[test]
fn hadoop_runner_against_a_stand_in_hadoop() {
    let Some(jar) = fat_jar() else { return };
    let w = World::new();
    // A stand-in for the real `hadoop` launcher: it only records what it was given.
    let record = w.join("hadoop-args.txt");
    let stand_in = w.write(
        "bin/hadoop",
        &format!(
            "#!/bin/sh\n# stand-in for hadoop: records its arguments and HADOOP_CLASSPATH\n\
             printf '%s\\n' \"$@\" > {rec}\nprintf 'CP=%s\\n' \"$HADOOP_CLASSPATH\" >> {rec}\n",
            rec = s(&record)
        ),
    );
    std::fs::set_permissions(
        &stand_in,
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let path = format!("{}:{}", s(&w.join("bin")), std::env::var("PATH").unwrap());
    let out = w
        .cmd("greaserun")
        .args([
            "-D",
            "--force",
            "--main-class",
            "demo.Hello",
            "--runner",
            "hadoop",
            s(jar),
        ])
        .args(["--", "in/{version}", "out dir"])
        .env("PATH", path)
        .env("HADOOP_CLASSPATH", "/opt/extra.jar")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{:?}", text(&out));
    let got = std::fs::read_to_string(&record).unwrap();
    assert_eq!(
        got,
        format!(
            "jar\n{jar}\ndemo.Hello\nin/\nout dir\nCP=/opt/extra.jar:{jar}\n",
            jar = s(jar)
        )
    );
}

#[test]
fn a_config_defined_runner_and_an_unknown_one() {
    let Some(jar) = fat_jar() else { return };
    let mut w = World::new();
    w.configure(|c| {
        c["runners"] = serde_json::json!({"Listing": {"command": "sh -c 'echo custom: \"$@\"' sh {jar_path} {args}"}});
    });
    let out = greaserun(&w, &["--runner", "listing", s(jar), "--", "a b"]);
    assert_eq!(out.status.code(), Some(0), "{:?}", text(&out));
    assert!(
        text(&out).0.contains(&format!("custom: {} a b", s(jar))),
        "{:?}",
        text(&out)
    );

    let out = greaserun(&w, &["--runner", "pyhton", s(jar), "--", "x"]);
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(
            "unknown runner \"pyhton\" (available: shell, java, hadoop, python, luigi, listing)"
        ),
        "{stderr}"
    );
}

#[test]
fn exit_status_passes_through_and_signals_are_128_plus_n() {
    let Some(jar) = fat_jar() else { return };
    let w = World::new();
    let code = |args: &[&str]| {
        let mut all = vec!["--runner", "shell", s(jar), "--"];
        all.extend_from_slice(args);
        greaserun(&w, &all).status.code()
    };
    assert_eq!(code(&["sh", "-c", "exit 7"]), Some(7));
    assert_eq!(code(&["sh", "-c", "kill -KILL $$"]), Some(137));
    assert_eq!(code(&["sh", "-c", "kill -TERM $$"]), Some(143));
    assert_eq!(code(&["/nonexistent/job"]), Some(127));
    assert_eq!(code(&[s(jar)]), Some(126), "a jar is not executable");
}
