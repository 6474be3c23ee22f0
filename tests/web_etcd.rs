//! `greasestatus serve` over the shared 3-member etcd cluster: the world of `web.rs` (a
//! bundle whose jobs really ran with greaserun: succeeded, failed, still running, never
//! run) with its store on etcd, and bad-job also run, successfully, in the hour before.
//! The farm page, bad-job's page with its failed and its succeeded slot, a run page, the
//! JSON API and `/metrics`, each checked for what it shows.

use crate::harness::World;
use crate::web::{Served, api, get, served_on};

/// The slot an hour before `slot` (`YYYY-MM-DDTHH:MMZ`), in the same form.
fn hour_before(slot: &str) -> String {
    let t = chrono::NaiveDateTime::parse_from_str(slot, "%Y-%m-%dT%H:%MZ").unwrap();
    (t - chrono::TimeDelta::hours(1))
        .format("%Y-%m-%dT%H:%MZ")
        .to_string()
}

/// The served world on a fresh prefix of the shared cluster; `None` without etcd.
fn served_on_etcd() -> Option<Served> {
    use crate::harness::etcd as backends;
    let c = backends::shared()?;
    let mut w = World::new();
    let cfg = backends::etcd_config_through_elections(c.url(&backends::unique_prefix()));
    w.configure(|j| j["store"] = backends::store_json(&cfg));
    Some(served_on(w))
}

#[test]
fn etcd_pages_api_and_metrics_show_what_ran() {
    let Some(s) = served_on_etcd() else {
        return;
    };
    // bad-job succeeds in the hour before the one it failed in.
    let before = hour_before(&s.slot);
    let o =
        s.w.cmd("greaserun")
            .env("TZ", "UTC")
            .args(["-D", "--job", "bad-job", "--slot", &before, "-r", "shell"])
            .arg(s.w.empty_jar())
            .arg("--")
            .arg(s.w.join("bin/ok.sh"))
            .output()
            .unwrap();
    assert!(o.status.success(), "{:?}", crate::harness::text(&o));

    // The farm: failing and missing first, then running, then the rest.
    let (status, farm) = get(&s, "/", None);
    assert_eq!(status, 200);
    let pos = |job: &str| {
        farm.find(&format!(">{job}</a>"))
            .unwrap_or_else(|| panic!("{job} in {farm}"))
    };
    assert!(pos("bad-job") < pos("slow-job") && pos("lost-job") < pos("slow-job"));
    assert!(pos("slow-job") < pos("ok-job"), "{farm}");
    let v = api(&s, "/api/farm");
    let row = |job: &str| {
        v["jobs"]
            .as_array()
            .unwrap()
            .iter()
            .find(|j| j["job"] == job)
            .unwrap_or_else(|| panic!("{job} in {v}"))
            .clone()
    };
    for (job, state) in [
        ("bad-job", "failed"),
        ("lost-job", "missing"),
        ("slow-job", "running"),
        ("ok-job", "succeeded"),
    ] {
        assert_eq!(row(job)["state"], state, "{job}: {v}");
    }
    assert_eq!(row("bad-job")["last"]["exit_code"], 3);
    assert_eq!(row("ok-job")["project"], "g:web");

    // bad-job's page: this hour failed (exit 3), the hour before succeeded.
    let (status, page) = get(&s, "/job/bad-job?days=1", None);
    assert_eq!(status, 200);
    for needle in [
        r#"data-state="failed""#,
        r#"data-state="succeeded""#,
        r#"data-state="missing""#,
        "0 * * * *",
    ] {
        assert!(page.contains(needle), "{needle} in {page}");
    }
    let j = api(&s, "/api/job/bad-job?days=1");
    let slot = |key: &str| {
        j["ledger"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["slot"] == key)
            .unwrap_or_else(|| panic!("slot {key} in {j}"))
            .clone()
    };
    let (failed, ok) = (slot(&s.slot), slot(&before));
    assert_eq!(
        (&failed["state"], &failed["exit_code"]),
        (&"failed".into(), &3.into())
    );
    assert_eq!(
        (&ok["state"], &ok["exit_code"]),
        (&"succeeded".into(), &0.into())
    );
    assert_eq!(j["counts"]["failed"], 1, "{j}");
    assert_eq!(j["counts"]["succeeded"], 1, "{j}");
    // The failed run's page shows its output, read back from etcd.
    let run = format!(
        "/run/bad-job/{}/{}",
        s.slot,
        failed["run_id"].as_str().unwrap()
    );
    let (status, page) = get(&s, &run, None);
    assert_eq!(status, 200);
    assert!(page.contains(r#"id="status">failed<"#), "{page}");
    assert!(page.contains("boom from the failing job"), "{page}");
    let r = api(&s, &format!("/api{run}"));
    assert_eq!(r["run"]["exit_code"], 3, "{r}");

    // /metrics: bad-job's two runs by state, its durations, lost-job's missing slots.
    let (status, metrics) = get(&s, "/metrics", None);
    assert_eq!(status, 200);
    for line in [
        r#"scalegrease_job_runs{job="bad-job",state="failed"} 1"#,
        r#"scalegrease_job_runs{job="bad-job",state="succeeded"} 1"#,
        r#"scalegrease_job_duration_seconds_count{job="bad-job"} 2"#,
        "scalegrease_queue_pending 0",
    ] {
        assert!(metrics.lines().any(|l| l == line), "{line} in {metrics}");
    }
    let value = |name: &str, job: &str| {
        let head = format!("{name}{{job=\"{job}\"}} ");
        metrics
            .lines()
            .find_map(|l| l.strip_prefix(head.as_str()))
            .unwrap_or_else(|| panic!("{head} in {metrics}"))
            .parse::<f64>()
            .unwrap()
    };
    let failed_at = value("scalegrease_job_last_failure_timestamp_seconds", "bad-job");
    let ok_at = value("scalegrease_job_last_success_timestamp_seconds", "bad-job");
    assert!(failed_at > 1e9 && ok_at > 1e9, "{metrics}");
    assert!(value("scalegrease_job_missing_slots", "lost-job") >= 20.0);
}
