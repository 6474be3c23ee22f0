//! Input a new user gets wrong, through the real binaries: out-of-range durations, broken
//! or surprising config files, schedules that never fire, deployment failures with the
//! documented exit codes, and OS errors printed once.

use crate::harness::{World, text};

/// Runs `bin` with `args` in `w`; returns (exit code, stdout, stderr).
fn run(w: &World, bin: &str, args: &[&str]) -> (Option<i32>, String, String) {
    let out = w.cmd(bin).args(args).output().unwrap();
    let (o, e) = text(&out);
    (out.status.code(), o, e)
}

/// greaserun running `/bin/true` with `extra` flags (the config file stands in as the
/// shell runner's artifact).
fn job<'a>(w: &'a World, extra: &[&'a str]) -> Vec<&'a str> {
    let artifact = w.config_path().to_str().unwrap().to_owned().leak();
    let mut v = vec!["-D", "--force", "--job", "t"];
    v.extend_from_slice(extra);
    v.extend(["-r", "shell", &*artifact, "--", "/bin/true"]);
    v
}

#[test]
fn every_duration_flag_reads_weeks() {
    let w = World::new();
    for flag in ["--timeout", "--wait-timeout"] {
        let (code, _, err) = run(&w, "greaserun", &job(&w, &[flag, "2w"]));
        assert_eq!(code, Some(0), "{flag} 2w: {err}");
    }
    let (code, _, err) = run(
        &w,
        "greaserun",
        &job(&w, &["--backfill", "2w", "--every", "1w"]),
    );
    assert_eq!(code, Some(0), "--backfill 2w --every 1w: {err}");
}

#[test]
fn out_of_range_duration_flags_are_usage_errors_naming_the_flag_and_range() {
    let w = World::new();
    for (flag, value, range) in [
        ("--timeout", "0s", "from 1s to 365d"),
        ("--timeout", "99999999999999999999999s", "from 1s to 365d"),
        ("--timeout", "1e300", "ms, s, m, h, d or w"),
        ("--kill-grace", "2h", "from 0s to 1h"),
        ("--wait-timeout", "31d", "from 0s to 30d"),
        ("--backfill", "100000d", "from 1m to 366d"),
        ("--backfill", "99999999999999999999w", "from 1m to 366d"),
    ] {
        let (code, _, err) = run(
            &w,
            "greaserun",
            &[
                "-D",
                "--force",
                "--no-claim",
                flag,
                value,
                "-r",
                "shell",
                "/bin/true",
            ],
        );
        assert_eq!(code, Some(2), "{flag} {value}: {err}");
        assert!(
            err.contains(flag) && err.contains(range),
            "{flag} {value}: {err}"
        );
        assert!(!err.contains("panicked"), "{err}");
    }
    let (code, _, err) = run(
        &w,
        "greaserun",
        &[
            "-D",
            "--backfill",
            "1d",
            "--every",
            "0m",
            "-r",
            "shell",
            "/bin/true",
        ],
    );
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("--every"), "{err}");
}

/// greaserun with `config` as its config file: (exit code, stderr).
fn with_config(config: &str) -> (World, Option<i32>, String) {
    let w = World::new();
    w.write("scalegrease.json", config);
    let (code, _, err) = run(&w, "greaserun", &job(&w, &[]));
    (w, code, err)
}

#[test]
fn huge_config_values_are_config_errors_at_their_position() {
    for (config, at, key, range) in [
        (
            r#"{"funnel":{"retention":1e20}}"#,
            ":1:28:",
            "funnel.retention",
            "from 0s to 3650d",
        ),
        (
            r#"{"guard":{"max_delay_s":1e300}}"#,
            ":1:30:",
            "guard.max_delay_s",
            "from 0 to 86400",
        ),
        (
            r#"{"history":{"retention":"100000d"}}"#,
            ":1:34:",
            "history.retention",
            "from 0s to 3650d",
        ),
        (
            r#"{"store":{"url":"/x","request_timeout_s":1e20}}"#,
            ":1:46:",
            "store.request_timeout_s",
            "from 0s to 3650d",
        ),
    ] {
        let (w, code, err) = with_config(config);
        assert_eq!(code, Some(78), "{config}: {err}");
        let want = format!("{}{at}", w.config_path().display());
        assert!(err.contains(&want), "{config}: want {want:?} in {err}");
        assert!(err.contains(key) && err.contains(range), "{config}: {err}");
    }
}

#[test]
fn a_config_that_is_not_an_object_is_an_error_at_1_1() {
    for config in ["[]", "3", "\"x\"", "null"] {
        let (w, code, err) = with_config(config);
        assert_eq!(code, Some(78), "{config}: {err}");
        let want = format!(
            "{}:1:1: invalid config: expected a JSON object",
            w.config_path().display()
        );
        assert!(err.contains(&want), "{config}: want {want:?} in {err}");
    }
}

#[test]
fn an_undefined_variable_is_an_error_naming_it_not_a_directory() {
    let w = World::new();
    let logs = w.path().join("${SG_TEST_UNDEFINED}").join("logs");
    let config = format!(
        "{{\n  \"store\": {:?},\n  \"common\": {{\"file_logger\": \"{}\"}}\n}}",
        w.path().join("store"),
        logs.display()
    );
    w.write("scalegrease.json", &config);
    let (code, _, err) = run(&w, "greaserun", &job(&w, &[]));
    assert_eq!(code, Some(78), "{err}");
    let col = config.lines().nth(2).unwrap().find("${").unwrap() + 1;
    let want = format!(
        "{}:3:{col}: invalid config: common.file_logger: undefined environment variable ${{SG_TEST_UNDEFINED}}",
        w.config_path().display()
    );
    assert!(err.contains(&want), "want {want:?} in {err}");
    assert!(!logs.exists() && !w.path().join("${SG_TEST_UNDEFINED}").exists());
    // `$NAME` too.
    let (_, code, err) = with_config(r#"{"maven": {"cache_dir": "/tmp/$SG_TEST_UNDEFINED/m2"}}"#);
    assert_eq!(code, Some(78), "{err}");
    assert!(err.contains(":1:31: invalid config: maven.cache_dir: undefined environment variable $SG_TEST_UNDEFINED"), "{err}");
}

#[test]
fn a_byte_order_mark_is_skipped() {
    let w = World::new();
    let text = std::fs::read_to_string(w.config_path()).unwrap();
    w.write("scalegrease.json", &format!("\u{feff}{text}"));
    let (code, _, err) = run(&w, "greaserun", &job(&w, &[]));
    assert_eq!(code, Some(0), "{err}");
}

#[test]
fn type_errors_name_the_key_in_plain_words() {
    let (w, code, err) = with_config("{\n  \"guard\": {\"max_delay_s\": \"soon\"}}");
    assert_eq!(code, Some(78), "{err}");
    let want = format!(
        "{}:2:33: invalid config: guard.max_delay_s: invalid type: string \"soon\", expected a number",
        w.config_path().display()
    );
    assert!(err.contains(&want), "want {want:?} in {err}");
    let (_, code, err) = with_config(r#"{"maven": {"attempts": -1}}"#);
    assert_eq!(code, Some(78), "{err}");
    assert!(
        err.contains("maven.attempts: ") && err.contains("expected a whole number"),
        "{err}"
    );
}

/// A world whose config asks only `url`, once, with short timeouts.
fn maven_world(url: &str) -> World {
    let mut w = World::new();
    w.configure(|c| {
        c["maven"]["repositories"] = serde_json::json!([url]);
        c["maven"]["attempts"] = serde_json::json!(1);
        c["maven"]["connect_timeout"] = serde_json::json!("5s");
        c["maven"]["timeout"] = serde_json::json!("10s");
    });
    w
}

/// greaserun fetching `spec` and running `/bin/true`: (exit code, stderr).
fn fetch(w: &World, spec: &str) -> (Option<i32>, String) {
    let (code, _, err) = run(
        w,
        "greaserun",
        &[
            "-D",
            "--force",
            "--no-claim",
            "-r",
            "shell",
            spec,
            "--",
            "/bin/true",
        ],
    );
    (code, err)
}

/// A loopback HTTP server answering every request with `302 Found` to `location(path)`;
/// returns its base URL. The thread ends with the test process.
fn redirecting_server(location: fn(u16, &str) -> String) -> String {
    use std::io::{BufRead, BufReader, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut request = String::new();
            let _ = reader.read_line(&mut request);
            let mut line = String::new();
            while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
                line.clear();
            }
            let path = request.split_whitespace().nth(1).unwrap_or("/").to_string();
            let _ = write!(
                stream,
                "HTTP/1.1 302 Found\r\nLocation: {}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                location(port, &path)
            );
        }
    });
    format!("http://127.0.0.1:{port}")
}

#[test]
fn oversized_metadata_is_bad_data_naming_the_url() {
    let w = World::new();
    let dir = w.join("repo/com/example/big");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("maven-metadata.xml"), vec![b' '; (8 << 20) + 1]).unwrap();
    let url = format!("file://{}", w.join("repo").display());
    let w2 = maven_world(&url);
    let (code, err) = fetch(&w2, "com.example:big");
    assert_eq!(code, Some(65), "{err}");
    let want = format!("{url}/com/example/big/maven-metadata.xml: larger than");
    assert!(err.contains(&want), "want {want:?} in {err}");
}

#[test]
fn a_redirect_loop_or_to_file_is_unavailable_naming_the_url_without_credentials() {
    let looping = redirecting_server(|port, path| format!("http://127.0.0.1:{port}{path}"));
    let to_file = redirecting_server(|_, _| "file:///etc/passwd".to_string());
    for base in [looping, to_file] {
        let with_password = base.replace("http://", "http://user:s3cret@");
        let w = maven_world(&with_password);
        let (code, err) = fetch(&w, "com.example:job:1.0");
        assert_eq!(code, Some(69), "{base}: {err}");
        let want = format!("error: shell job com.example:job:1.0: {base}/com/example/job/1.0/");
        assert!(err.contains(&want), "want {want:?} in {err}");
        assert!(!err.contains("s3cret"), "{err}");
        assert!(!err.contains("root:"), "{err}");
    }
}

#[test]
fn a_schedule_that_never_fires_is_an_error_in_next_and_a_warning_in_launch() {
    let w = World::new();
    let (code, out, err) = run(&w, "greasestatus", &["next", "0 0 30 2 *"]);
    assert_eq!(code, Some(1), "{out}{err}");
    assert!(
        err.contains("\"0 0 30 2 *\"") && err.contains("never fires"),
        "{err}"
    );
    let (code, out, err) = run(&w, "greasestatus", &["next", "0 0 29 2 *"]);
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains("-02-29"), "{out}");

    let p = w.project(
        "proj",
        "com.example",
        "job",
        &[(
            "jobs.cron",
            "0 1 * * * nobody greaserun -r shell x\n0 0  30 2 * nobody greaserun -r shell x\n",
        )],
    );
    let out = w.launch(&p, &["--check"]);
    let (_, err) = text(&out);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains("src/main/cron/jobs.cron:2:6: warning: this entry never fires"),
        "{err}"
    );
    assert_eq!(err.matches("never fires").count(), 1, "{err}");
}

/// Each `<message> (os error N)` in `text`, the message taken from the preceding `: `.
fn os_errors(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for (i, _) in text.match_indices("(os error ") {
        let end = i + text[i..].find(')').unwrap() + 1;
        let start = text[..i].rfind(": ").map_or(0, |s| s + 2);
        out.push(text[start..end].to_string());
    }
    out
}

#[test]
fn os_errors_are_printed_once() {
    let mut w = World::new();
    let afile = w.write("afile", "not a directory\n");
    let afile = afile.to_str().unwrap().to_owned();
    let mut outputs = Vec::new();
    let missing = w.join("missing.json");
    let out = w
        .cmd("greaserun")
        .arg("-c")
        .arg(&missing)
        .args(["-D", "-r", "shell", &afile, "--", "/bin/true"])
        .output()
        .unwrap();
    outputs.push(("missing config", out));
    let out = w
        .cmd("greaserun")
        .args([
            "-D",
            "--force",
            "--no-claim",
            "-r",
            "shell",
            &afile,
            "--",
            &afile,
        ])
        .output()
        .unwrap();
    outputs.push(("job not executable", out));
    w.configure(|c| {
        c["maven"]["cache_dir"] = serde_json::json!(format!("{afile}/m2"));
        c["maven"]["repositories"] = serde_json::json!([format!("file://{afile}/repo")]);
        c["launch"]["crontab_etc_crond"] = serde_json::json!(format!("{afile}/cron"));
    });
    let out = w
        .cmd("greaserun")
        .args([
            "-D",
            "--force",
            "--no-claim",
            "-r",
            "shell",
            "g:a:1.0",
            "--",
            "/bin/true",
        ])
        .output()
        .unwrap();
    outputs.push(("cache under a file", out));
    outputs.push(("cron dir under a file", w.snatch(&[])));
    outputs.push((
        "status with cron dir under a file",
        w.cmd("greasestatus").output().unwrap(),
    ));
    for (what, out) in outputs {
        let (_, err) = text(&out);
        assert!(!out.status.success(), "{what}: {err}");
        let found = os_errors(&err);
        assert!(!found.is_empty(), "{what}: no OS error shown: {err}");
        for e in found {
            assert_eq!(
                err.matches(&e).count(),
                1,
                "{what}: {e:?} printed twice: {err}"
            );
        }
    }
}

#[test]
fn the_random_start_delay_comes_from_the_kernel_and_stays_in_its_window() {
    let mut w = World::new();
    w.configure(|c| c["guard"]["max_delay_s"] = serde_json::json!(0.4));
    let artifact = w.config_path().to_str().unwrap().to_owned();
    for _ in 0..3 {
        let out = w
            .cmd("greaserun")
            .args([
                "-v",
                "--force",
                "--no-claim",
                "-r",
                "shell",
                &artifact,
                "--",
                "/bin/true",
            ])
            .output()
            .unwrap();
        let (_, err) = text(&out);
        assert!(out.status.success(), "{err}");
        let secs: f64 = err
            .split("waiting a random ")
            .nth(1)
            .and_then(|rest| rest.split('s').next())
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("no delay reported: {err}"));
        assert!(
            (0.0..=0.4).contains(&secs),
            "{secs} outside [0, 0.4]: {err}"
        );
    }
}
