//! Store and repository URLs holding credentials, through the real binaries: a password
//! (even one holding `@`) never reaches stdout or stderr.

use crate::harness::{World, text};

/// A password with `@` in it: a redactor that cuts at the first `@` would print `cret`.
const PASSWORD: &str = "se@cret";

fn assert_hidden(out: &std::process::Output) {
    let (o, e) = text(out);
    for shown in [&o, &e] {
        assert!(
            !shown.contains("cret") && !shown.contains(PASSWORD),
            "the password was printed: stdout {o:?}, stderr {e:?}"
        );
    }
}

#[test]
fn a_store_url_with_credentials_fails_without_printing_the_password() {
    let w = World::new();
    for url in [
        format!("etcd://user:{PASSWORD}@127.0.0.1:1/p"),
        format!("etcds://user:{PASSWORD}@127.0.0.1:1,127.0.0.1:2/p"),
        format!("https://user:{PASSWORD}@127.0.0.1:1/p"),
    ] {
        let out = w
            .cmd("greasestatus")
            .args(["projects", "--store", &url])
            .output()
            .unwrap();
        assert!(!out.status.success(), "{url}: {:?}", text(&out));
        assert_hidden(&out);
        let (_, err) = text(&out);
        assert!(err.contains("***@127.0.0.1:1"), "{url}: {err}");
        // The same through the environment.
        let out = w
            .cmd("greasestatus")
            .arg("projects")
            .env("SCALEGREASE_STORE", &url)
            .output()
            .unwrap();
        assert!(!out.status.success(), "{url}: {:?}", text(&out));
        assert_hidden(&out);
    }
}

#[test]
fn a_dry_run_names_the_store_without_its_password() {
    let w = World::new();
    let project = w.project("p", "com.example", "jobs", &[("a.cron", "0 * * * * u x\n")]);
    let url = format!("etcd://user:{PASSWORD}@127.0.0.1:1/p");
    let out = w.launch(&project, &["--dry-run", "--store", &url]);
    assert_hidden(&out);
    assert!(
        text(&out).0.contains("***@127.0.0.1:1/p"),
        "{:?}",
        text(&out)
    );
}

#[test]
fn a_repository_url_with_credentials_is_never_printed() {
    let mut w = World::new();
    w.configure(|c| {
        c["maven"]["repositories"] =
            serde_json::json!([format!("ftp://user:{PASSWORD}@127.0.0.1:1/m2")]);
    });
    let out = w.cmd("greasestatus").arg("projects").output().unwrap();
    assert!(!out.status.success(), "{:?}", text(&out));
    assert_hidden(&out);
    assert!(text(&out).1.contains("***@127.0.0.1:1"), "{:?}", text(&out));
}
