//! Keeps the scopes a DAG: a scope's code imports only scopes below it, in the order
//! util → model (and the exit codes) → config → store → deployment, execution →
//! arbitration → dispatch → debugging → cli → farm → web → error → run → src/bin. Reads every file under
//! src/ and fails on any `crate::<scope>` that reaches up or sideways.

use std::path::{Path, PathBuf};

/// The scopes, lowest first; scopes on one line are siblings (neither imports the other).
const LAYERS: &[&[&str]] = &[
    &["util"],
    &["model", "exit"],
    &["config"],
    &["store"],
    &["deployment", "execution"],
    &["arbitration"],
    &["dispatch"],
    &["debugging"],
    &["cli"],
    &["farm"],
    &["web"],
    &["error"],
    &["run"],
];

fn rank(scope: &str) -> Option<usize> {
    LAYERS.iter().position(|l| l.contains(&scope))
}

fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// The scopes `crate::` paths in `code` name (`crate::Error`/`crate::Config` are their
/// scopes' re-exports); comments are not code.
fn reached(code: &str) -> Vec<String> {
    let mut out = Vec::new();
    for line in code.lines() {
        let line = line.trim_start();
        if line.starts_with("//") {
            continue;
        }
        for (i, _) in line.match_indices("crate::") {
            if i > 0 && line[..i].ends_with(|c: char| c.is_alphanumeric() || c == '_' || c == '$') {
                continue; // e.g. `scalegrease::crate::` or `$crate::`
            }
            let name: String = line[i + 7..]
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            out.push(match name.as_str() {
                "Error" => "error".to_string(),
                "Config" => "config".to_string(),
                _ => name,
            });
        }
    }
    out
}

#[test]
fn scopes_import_only_scopes_below() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut all = Vec::new();
    files(&src, &mut all);
    let mut bad = Vec::new();
    for path in &all {
        let rel = path.strip_prefix(&src).unwrap();
        if path.ends_with("model/layers_test.rs") {
            continue; // its own examples
        }
        let first = rel
            .components()
            .next()
            .unwrap()
            .as_os_str()
            .to_string_lossy();
        let scope = first.trim_end_matches(".rs");
        let Some(mine) = rank(scope) else {
            continue; // lib.rs and src/bin sit above every scope
        };
        for other in reached(&std::fs::read_to_string(path).unwrap()) {
            if other == scope {
                continue;
            }
            match rank(&other) {
                Some(r) if r < mine => {}
                _ => bad.push(format!("{}: crate::{other}", rel.display())),
            }
        }
    }
    bad.sort();
    bad.dedup();
    assert!(
        bad.is_empty(),
        "imports reaching up or sideways:\n{}",
        bad.join("\n")
    );
}

#[test]
fn the_check_sees_crate_paths() {
    assert_eq!(
        reached("use crate::store::Store;\n// crate::run\nx(crate::Error::from(e));"),
        ["store", "error"]
    );
}
