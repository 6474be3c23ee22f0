//! Config files: non-objects, undefined variables, a BOM, huge values and type errors.

use super::{job, run};
use crate::harness::World;

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

/// The cron-file prefix is checked by one rule whether it comes from the config (78, at
/// its key) or from greasesnatch's `--prefix` (1).
#[test]
fn a_bad_cron_file_prefix_is_refused_from_the_config_and_from_the_flag() {
    let mut w = World::new();
    w.init_store();
    let (code, _, err) = run(&w, "greasesnatch", &["--prefix", "a__b"]);
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains("invalid --prefix") && err.contains("must not contain \"__\""),
        "{err}"
    );
    w.configure(|c| c["launch"]["crontab_unique_prefix"] = serde_json::json!("a.b"));
    let (code, _, err) = run(&w, "greasesnatch", &[]);
    assert_eq!(code, Some(78), "{err}");
    assert!(
        err.contains("launch.crontab_unique_prefix") && err.contains("A-Z a-z 0-9 _ -"),
        "{err}"
    );
}
