//! One command line across the five tools, through the real binaries: each shared option
//! (`-c/--config-file`, `--store`, `-v`, `-q` and their environment variables) is taken by
//! each binary with the same meaning; exit codes come from the error whatever its type;
//! every `--json` prints one JSON document; `--help` carries the one exit-code table.

use std::process::Output;

use serde_json::Value;

use crate::harness::{World, text};

const TOOLS: [&str; 5] = [
    "greaserun",
    "greaselaunch",
    "greasesnatch",
    "greasestatus",
    "greasedispatch",
];
const LINE: &str = "0 3 * * * nobody greaserun --runner shell /bin/echo a\n";
/// The arguments that make `tool` touch the store and the config (and do little else).
fn store_args(w: &World, tool: &str) -> Vec<String> {
    let jar = w.empty_jar();
    let s = |v: &[&str]| v.iter().map(|a| a.to_string()).collect::<Vec<_>>();
    match tool {
        "greaserun" => {
            let mut a = s(&["-D", "--job", "cli", "--slot", "2026-03-01T03:00Z"]);
            a.extend(s(&[
                "--runner",
                "shell",
                jar.to_str().unwrap(),
                "--",
                "true",
            ]));
            a
        }
        "greaselaunch" => s(&["--init-store"]),
        "greasesnatch" => vec![],
        // Publishes LINE's job once the store exists; --rerun so every call queues.
        "greasedispatch" => {
            if w.store_dir()
                .is_some_and(|d| d.join(scalegrease::store::dir::MARKER).exists())
            {
                let p = w.project("cli-dispatch", "g", "d", &[("a.cron", LINE)]);
                assert!(
                    w.launch(&p, &[]).status.success(),
                    "publish for greasedispatch"
                );
            }
            s(&["echo", "--rerun"])
        }
        _ => s(&["projects"]),
    }
}

fn run(w: &World, tool: &str, pre: &[&str], args: &[String]) -> Output {
    w.cmd(tool)
        .args(pre)
        .args(args)
        .write_stdin("")
        .output()
        .unwrap()
}

/// A store directory that exists without its marker: every tool refuses it.
fn unmarked(w: &World) -> String {
    let dir = w.join("unmarked");
    std::fs::create_dir_all(&dir).unwrap();
    dir.to_str().unwrap().to_string()
}

#[test]
fn store_points_every_tool_at_the_same_store() {
    let w = World::new();
    let bad = unmarked(&w);
    for tool in TOOLS {
        // greaselaunch --init-store would mark it: it publishes instead.
        let args = if tool == "greaselaunch" {
            let p = w.project("p", "g", "a", &[("a.cron", LINE)]);
            vec![
                "--project-dir".into(),
                p.to_str().unwrap().to_string(),
                "--revision".into(),
                "r".into(),
            ]
        } else {
            store_args(&w, tool)
        };
        // greaserun cannot claim in a store it refuses: it drops the run (75); the others
        // refuse the store (69). Both name the store given.
        let want = if tool == "greaserun" { 75 } else { 69 };
        let o = run(&w, tool, &["--store", &bad], &args);
        let (_, err) = text(&o);
        assert_eq!(o.status.code(), Some(want), "{tool} --store: {err}");
        assert!(err.contains(&bad), "{tool} --store: {err}");
        let o = w
            .cmd(tool)
            .env("SCALEGREASE_STORE", &bad)
            .args(&args)
            .write_stdin("")
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(want), "{tool} $SCALEGREASE_STORE");
    }
}

#[test]
fn an_invalid_config_stops_every_tool_with_78() {
    let w = World::new();
    let bad = w.write("bad.json", "{\"guard\": nonsense}");
    for tool in TOOLS {
        let args = store_args(&w, tool);
        for flag in ["-c", "--config-file"] {
            let o = run(&w, tool, &[flag, bad.to_str().unwrap()], &args);
            let (_, err) = text(&o);
            assert_eq!(o.status.code(), Some(78), "{tool} {flag}: {err}");
            assert!(err.contains("bad.json"), "{tool} {flag}: {err}");
            assert!(err.starts_with(&format!("{tool}: error: ")), "{err}");
        }
    }
}

#[test]
fn verbose_and_quiet_are_taken_by_every_tool_and_conflict() {
    let w = World::new();
    w.init_store();
    for tool in TOOLS {
        let args = store_args(&w, tool);
        for flag in ["-v", "--verbose", "-vv", "-q", "--quiet"] {
            let o = run(&w, tool, &[flag], &args);
            assert!(o.status.success(), "{tool} {flag}: {:?}", text(&o));
        }
        let o = run(&w, tool, &["-q", "-v"], &args);
        assert_eq!(o.status.code(), Some(2), "{tool} -q -v");
    }
}

/// README's worker line, `greasesnatch --quiet`, syncs and says nothing when all is well.
#[test]
fn quiet_greasesnatch_syncs_silently() {
    let w = World::new();
    w.init_store();
    let p = w.project("p", "g", "a", &[("a.cron", LINE)]);
    assert!(w.launch(&p, &[]).status.success());
    let o = w.snatch(&["--quiet"]);
    assert!(o.status.success(), "{:?}", text(&o));
    assert_eq!(text(&o), (String::new(), String::new()));
    assert_eq!(w.cron_files().len(), 1);
}

fn json_of(o: &Output, what: &str) -> Value {
    let (out, err) = text(o);
    assert!(o.status.success(), "{what}: {err}");
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("{what}: not JSON ({e}): {out}"))
}

#[test]
fn json_is_json_everywhere_a_script_reads() {
    let w = World::new();
    w.init_store();
    let p = w.project("p", "g", "a", &[("a.cron", LINE)]);
    let check = json_of(&w.launch(&p, &["--check", "--json"]), "launch --check");
    assert_eq!(check["project"], "g:a");
    assert_eq!(check["crontabs"][0]["entries"], 1);
    let dry = json_of(&w.launch(&p, &["--dry-run", "--json"]), "launch --dry-run");
    assert_eq!(dry["published"], false);
    let publ = json_of(&w.launch(&p, &["--json"]), "launch");
    assert_eq!(publ["published"], true);

    let plan = json_of(&w.snatch(&["--dry-run", "--json"]), "snatch --dry-run");
    assert_eq!(plan["installed"], 1);
    assert!(
        plan["plan"][0]
            .as_str()
            .unwrap()
            .starts_with("would install")
    );
    let done = json_of(&w.snatch(&["--json"]), "snatch");
    assert_eq!(
        (done["installed"].clone(), done["dry_run"].clone()),
        (1.into(), false.into())
    );

    let args = store_args(&w, "greaserun");
    let o = run(&w, "greaserun", &["--dry-run", "--json"], &args);
    let cmd = json_of(&o, "greaserun --dry-run");
    assert_eq!(cmd["argv"], serde_json::json!(["true"]));

    let o = run(&w, "greaserun", &["-q"], &args);
    assert!(o.status.success(), "{:?}", text(&o));
    for view in [
        &["--json"][..],
        &["projects", "--json"],
        &["runs", "--json"],
    ] {
        json_of(
            &w.cmd("greasestatus").args(view).output().unwrap(),
            "status",
        );
    }
    let next = w
        .cmd("greasestatus")
        .args(["next", "0 3 * * *", "--count", "2", "--json"])
        .output()
        .unwrap();
    assert_eq!(json_of(&next, "next").as_array().unwrap().len(), 2);
    let log = w
        .cmd("greasestatus")
        .args(["log", "cli", "--json"])
        .output()
        .unwrap();
    let log = json_of(&log, "log");
    assert_eq!(log["run"]["status"], "succeeded", "{log}");
    assert!(
        log["header"].as_str().unwrap().contains("succeeded"),
        "{log}"
    );
}

#[test]
fn help_shows_the_one_exit_code_table() {
    let w = World::new();
    for (tool, t) in TOOLS.iter().zip(scalegrease::exit::Tool::ALL) {
        let o = w.cmd(tool).arg("--help").output().unwrap();
        let (out, _) = text(&o);
        assert!(o.status.success());
        let help = scalegrease::exit::help(t);
        assert!(
            out.contains(&help),
            "{tool} --help lacks:\n{help}\n---\n{out}"
        );
        assert!(
            out.contains("--config-file") && out.contains("--store"),
            "{out}"
        );
    }
}

/// A store failure in `greasestatus log <part of a name>` exits 69, as every store
/// failure does, and so do `runs` and `projects`.
#[test]
fn a_store_failure_in_a_status_view_exits_69() {
    let w = World::new();
    let bad = unmarked(&w);
    for view in [
        &["log", "par"][..],
        &["runs", "par"],
        &["runs"],
        &["projects"],
    ] {
        let o = w
            .cmd("greasestatus")
            .args(view)
            .args(["--store", &bad])
            .output()
            .unwrap();
        let (_, err) = text(&o);
        assert_eq!(o.status.code(), Some(69), "{view:?}: {err}");
        assert!(err.starts_with("greasestatus: error: store "), "{err}");
    }
}

/// A store that passes its check but fails a listing (here `runs` is a file) fails
/// `runs <part>` and `log <part>` with the store's own code (74, an I/O error), not 1.
#[test]
fn a_store_failure_while_finding_a_job_keeps_the_stores_code() {
    let w = World::new();
    w.init_store();
    let Some(dir) = w.store_dir() else { return };
    std::fs::remove_dir(dir.join("runs")).unwrap(); // made by --init-store
    std::fs::write(dir.join("runs"), "not a directory").unwrap();
    for view in ["runs", "log"] {
        let o = w.cmd("greasestatus").args([view, "par"]).output().unwrap();
        let (_, err) = text(&o);
        assert_eq!(o.status.code(), Some(74), "{view}: {err}");
        assert!(err.contains("cannot list runs/par"), "{view}: {err}");
    }
}

/// `runs` and `log` agree on a job the store does not know: both exit 1 and name the
/// jobs the store knows (or say it knows none).
#[test]
fn runs_and_log_agree_on_an_unknown_job() {
    let w = World::new();
    w.init_store();
    for view in ["runs", "log"] {
        let o = w
            .cmd("greasestatus")
            .args([view, "nosuchjob"])
            .output()
            .unwrap();
        let (out, err) = text(&o);
        assert_eq!(o.status.code(), Some(1), "{view}: {err}");
        assert_eq!(out, "", "{view}");
        assert!(err.contains("\"nosuchjob\""), "{err}");
        assert!(err.contains("the store has no runs"), "{err}");
    }
    let args = store_args(&w, "greaserun");
    let o = run(&w, "greaserun", &["-q"], &args);
    assert!(o.status.success(), "{:?}", text(&o));
    for view in ["runs", "log"] {
        let o = w
            .cmd("greasestatus")
            .args([view, "nosuchjob"])
            .output()
            .unwrap();
        let (_, err) = text(&o);
        assert_eq!(o.status.code(), Some(1), "{view}: {err}");
        assert!(err.contains("known: cli"), "{err}");
    }
}

/// Precedence, the same in every tool: the flag beats the environment, which beats the
/// config file's `store`.
#[test]
fn the_store_flag_beats_the_environment_which_beats_the_config() {
    let w = World::new();
    w.init_store();
    let good = w.store_location();
    let bad = unmarked(&w);
    for tool in ["greasesnatch", "greasestatus"] {
        let args = store_args(&w, tool);
        let with = |env: &str, flag: &[&str]| {
            let mut c = w.cmd(tool);
            c.env("SCALEGREASE_STORE", env).args(flag).args(&args);
            c.output().unwrap().status.code()
        };
        assert_eq!(with(&bad, &["--store", &good]), Some(0), "{tool}");
        assert_eq!(with(&good, &["--store", &bad]), Some(69), "{tool}");
        assert_eq!(with(&bad, &[]), Some(69), "{tool}: env over config");
    }
}
