//! Config errors through the real binary: a broken file names file:line:column and exits 78.

use crate::harness::World;

#[test]
fn broken_config_names_line_and_column() {
    let w = World::new();
    w.write(
        "scalegrease.json",
        "{\n  \"guard\": {\n    \"max_running\": ,\n  }\n}\n",
    );
    let out = w
        .cmd("greaserun")
        .args(["-D", "--runner", "shell", "/bin/true"])
        .output()
        .unwrap();
    let (_, err) = crate::harness::text(&out);
    assert_eq!(out.status.code(), Some(78), "{err}");
    let want = format!("{}:3:20: invalid config", w.config_path().display());
    assert!(err.contains(&want), "expected {want:?} in {err}");
}
