//! The status pages in a real headless browser (Debian chromium driven by chromedriver
//! over WebDriver), over the world of `web` (jobs that really ran: succeeded, failed,
//! running, one printing `<script>alert(1)</script>`, one never run). What a person
//! would check: the failed run is marked failed and shows its output, the missing slot
//! appears, the script tag shows as text and opens no dialog, Run now is not offered
//! signed out and queues a run once signed in. Screenshots go to the test's temp dir.

use std::time::Duration;

use crate::harness::webdriver::Browser;
use crate::harness::{skip_without, wait_for};
use crate::web::{PASSWORD, served};

#[test]
fn a_person_sees_failures_missing_slots_escaped_output_and_can_run_after_signing_in() {
    if skip_without("chromedriver") || skip_without("chromium") {
        return;
    }
    let s = served();
    let shots = s.w.join("screenshots");
    std::fs::create_dir_all(&shots).unwrap();
    let b = Browser::start(s.w.path());
    let shot = |name: &str| assert!(b.screenshot(&shots.join(format!("{name}.png"))) > 1000);

    // The farm page: the failing and the missing job first, marked so.
    b.open(&format!("{}/", s.base));
    shot("farm");
    let first = b.text("table.jobs tbody tr:first-child").unwrap();
    assert!(
        first.contains("failed") || first.contains("missing"),
        "{first}"
    );
    assert!(b.text("tr.state-failed").unwrap().contains("bad-job"));
    assert!(b.text("tr.state-missing").unwrap().contains("lost-job"));
    assert_eq!(
        b.count("form[action$='/run']"),
        0,
        "Run now shown signed out"
    );

    // The missing job's page: missing squares in the ledger grid, and in the table.
    b.click("a[href='/job/lost-job']");
    wait_for("the job page", Duration::from_secs(10), || {
        b.url().ends_with("/job/lost-job").then_some(())
    });
    shot("job-missing");
    assert!(b.count("svg.grid rect[data-state='missing']") >= 1);
    assert!(b.text("table.ledger").unwrap().contains("missing"));

    // The failed run: marked failed, with its output.
    b.open(&format!("{}/job/bad-job?days=1", s.base));
    b.click(&format!("table.ledger a[href*='{}']", s.slot));
    wait_for("the run page", Duration::from_secs(10), || {
        b.find("#output")
    });
    shot("run-failed");
    assert_eq!(b.text("#status").unwrap(), "failed");
    assert!(
        b.text("#output")
            .unwrap()
            .contains("boom from the failing job")
    );

    // The job that printed a script tag: shown as text, no dialog opened.
    b.open(&format!("{}/job/xss-job?days=1", s.base));
    b.click(&format!("table.ledger a[href*='{}']", s.slot));
    wait_for("the run page", Duration::from_secs(10), || {
        b.find("#output")
    });
    shot("run-script-tag");
    assert_eq!(
        b.text("#output").unwrap().trim(),
        "<script>alert(1)</script>"
    );
    assert_eq!(b.alert(), None, "a script from the job's output ran");

    // Signed out there is no Run now; after signing in there is, and it queues a run.
    b.open(&format!("{}/job/ok-job", s.base));
    assert_eq!(b.count("#run-now"), 0);
    b.open(&format!("{}/login", s.base));
    b.type_into("#name", "ann");
    b.type_into("#password", PASSWORD);
    b.click("#sign-in");
    wait_for("signing in", Duration::from_secs(10), || {
        b.text("nav .me").filter(|t| t.contains("signed in as ann"))
    });
    b.open(&format!("{}/job/ok-job", s.base));
    shot("job-signed-in");
    b.click("#run-now");
    let note = wait_for("the queued note", Duration::from_secs(10), || {
        b.text("#queued")
    });
    shot("run-now-queued");
    assert!(note.starts_with("Queued request "), "{note}");
    assert_eq!(s.w.store().keys("queue").unwrap().len(), 1);
}
