//! `/metrics` of `greasestatus serve`, through the real binaries on the directory store
//! (the world of [`super::web::served`]), read by the real Prometheus text parser
//! (python prometheus_client): per-job last success and failure, missing slots, the
//! duration histogram, the queue, and a worker's headroom from its membership beat.

use serde_json::Value;

use crate::harness::text;
use crate::web::{get, served};

#[test]
fn metrics_parse_with_the_prometheus_parser() {
    let s = served();
    // A worker's round beats its membership (host, headroom): /metrics shows it. (The
    // round rejects the bundle, whose entries run as root, but beats first.)
    s.w.cmd("greasesnatch")
        .env("SCALEGREASE_HOSTNAME", "metrics-worker")
        .output()
        .unwrap();
    let (status, body) = get(&s, "/metrics", None);
    assert_eq!(status, 200);
    let file = s.w.write("metrics.txt", &body);
    let parse = format!(
        "import json\nfrom prometheus_client.parser import text_string_to_metric_families\n\
         out = []\n\
         for f in text_string_to_metric_families(open({:?}).read()):\n\
         \x20   for smp in f.samples:\n\
         \x20       out.append([f.name, f.type, smp.name, smp.labels, smp.value])\n\
         print(json.dumps(out))\n",
        file.display().to_string()
    );
    let o = std::process::Command::new("python3")
        .args(["-c", &parse])
        .output()
        .unwrap();
    let (out, err) = text(&o);
    assert!(
        o.status.success(),
        "the parser refused /metrics: {err}\n{body}"
    );
    let samples: Vec<(String, String, String, Value, f64)> = serde_json::from_str(&out).unwrap();
    let find = |name: &str, job: &str| {
        samples
            .iter()
            .find(|(_, _, n, l, _)| n == name && l["job"] == job)
            .map(|x| x.4)
    };
    assert!(find("scalegrease_job_last_failure_timestamp_seconds", "bad-job").unwrap() > 1e9);
    assert!(find("scalegrease_job_last_success_timestamp_seconds", "ok-job").is_some());
    // Published a day ago and run only this hour: the day's other slots are missing, one
    // more for lost-job (this hour's, once its grace has passed).
    let missing = |job| find("scalegrease_job_missing_slots", job).unwrap();
    assert!(missing("ok-job") >= 20.0, "{body}");
    assert!(missing("lost-job") >= missing("ok-job"), "{body}");
    assert!(
        samples
            .iter()
            .any(|(f, t, n, l, v)| f == "scalegrease_job_duration_seconds"
                && t == "histogram"
                && n == "scalegrease_job_duration_seconds_count"
                && l["job"] == "bad-job"
                && *v == 1.0)
    );
    assert!(
        samples
            .iter()
            .any(|(_, _, n, _, _)| n == "scalegrease_queue_pending")
    );
    let headroom: Vec<(&Value, f64)> = samples
        .iter()
        .filter(|(_, t, n, _, _)| n == "scalegrease_worker_headroom" && t == "gauge")
        .map(|(_, _, _, l, v)| (&l["host"], *v))
        .collect();
    assert_eq!(headroom.len(), 1, "one worker beat: {body}");
    assert_eq!(headroom[0].0, "metrics-worker", "{body}");
    assert!((0.0..=1.0).contains(&headroom[0].1), "{body}");
}
