//! `greasestatus queue` and the farm-queue columns of `greasestatus runs`, read by the
//! real binary from a store (each backend) that the library filled with requests, takes,
//! states and run records.

use std::time::Duration;

use chrono::Utc;
use scalegrease::arbitration::{queue, records};
use scalegrease::model::record::{RunRecord, Status};
use scalegrease::model::request::{Kind, Phase, Request, RequestState, request_id};

use crate::harness::etcd::each_backend;
use crate::harness::{World, text};

fn request(n: u32, kind: Kind, attempt: u32) -> Request {
    Request {
        id: request_id(Utc::now(), n),
        job: "nightly-report".into(),
        slot: format!("2026-11-23T03:{n:02}Z"),
        attempt,
        kind,
        requested_by: "alice@laptop".into(),
        requested_at: Utc::now(),
        not_before: None,
        deadline: None,
        batch: None,
        limit: None,
    }
}

fn status(w: &World, args: &[&str]) -> (String, String) {
    let out = w.cmd("greasestatus").args(args).output().unwrap();
    assert!(
        out.status.success(),
        "greasestatus {args:?}: {:?}",
        text(&out)
    );
    text(&out)
}

#[test]
fn queue_view_shows_pending_and_in_flight_requests() {
    each_backend(|_, w| {
        let s = w.store();
        let (out, _) = status(&w, &["queue"]);
        assert_eq!(out, "0 queued, 0 in flight\n");
        let waiting = request(1, Kind::Demand, 1);
        let retry = Request {
            not_before: Some(Utc::now() + chrono::TimeDelta::minutes(10)),
            ..request(2, Kind::Retry, 3)
        };
        let running = request(3, Kind::Backfill, 1);
        for r in [&waiting, &retry, &running] {
            assert_eq!(
                queue::submit(s.as_ref(), r).unwrap(),
                queue::Submitted::Queued
            );
        }
        assert!(queue::take(s.as_ref(), &running, "w03.farm").unwrap());
        queue::set_state(
            s.as_ref(),
            &RequestState {
                host: Some("w03.farm".into()),
                ..RequestState::new(&running.id, Phase::Running)
            },
        )
        .unwrap();

        let (out, _) = status(&w, &["queue"]);
        assert!(out.starts_with("2 queued, 1 in flight\n"), "{out}");
        let row = |id: &str| out.lines().find(|l| l.starts_with(id)).unwrap_or_default();
        assert!(row(&waiting.id).contains("demand"), "{out}");
        assert!(
            row(&retry.id).contains("retry") && row(&retry.id).contains("alice@laptop"),
            "{out}"
        );
        let r = row(&running.id);
        assert!(r.contains("w03.farm") && r.contains("running"), "{out}");

        let (out, _) = status(&w, &["queue", "--json"]);
        let j: serde_json::Value = serde_json::from_str(&out).unwrap();
        let ids: Vec<&str> = j["pending"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["id"].as_str().unwrap())
            .collect();
        assert_eq!(ids, [waiting.id.as_str(), retry.id.as_str()]);
        assert_eq!(j["pending"][1]["attempt"], 3);
        assert!(j["pending"][1]["not_before"].is_string());
        assert_eq!(j["in_flight"][0]["host"], "w03.farm");
        assert_eq!(j["in_flight"][0]["phase"], "running");
        assert_eq!(j["in_flight"][0]["kind"], "backfill");

        // A withdrawn request and an ended one leave the view.
        assert_eq!(
            queue::cancel(s.as_ref(), &waiting.id, "bob@h").unwrap(),
            queue::Cancelled::Withdrawn
        );
        queue::finish(s.as_ref(), &RequestState::new(&running.id, Phase::Failed)).unwrap();
        let (out, _) = status(&w, &["queue", "nightly"]);
        assert!(out.starts_with("1 queued, 0 in flight\n"), "{out}");
        let (out, _) = status(&w, &["queue", "other-job"]);
        assert_eq!(out, "0 queued, 0 in flight\n");
    });
}

#[test]
fn runs_show_attempt_requester_and_cancelled_runs() {
    each_backend(|_, w| {
        let s = w.store();
        let keep = Duration::from_secs(3600);
        let cron = RunRecord {
            host: "w01.farm".into(),
            pid: 7,
            claimed: true,
            exit_code: Some(0),
            ..RunRecord::new("nightly-report", "2026-11-23T03:00Z", Status::Succeeded)
        };
        let req = request(5, Kind::Demand, 2);
        let cancelled = RunRecord {
            host: "w02.farm".into(),
            pid: 8,
            request: Some(req.id.clone()),
            attempt: Some(2),
            requested_by: Some("alice@laptop".into()),
            requested_at: Some(req.requested_at),
            reason: Some("cancelled by bob@desk".into()),
            ..RunRecord::new("nightly-report", "2026-11-23T03:00Z", Status::Cancelled)
        };
        for r in [&cron, &cancelled] {
            records::write(s.as_ref(), r, keep).unwrap();
        }
        let (out, _) = status(&w, &["runs", "nightly"]);
        let header = out.lines().next().unwrap();
        let line = out.lines().find(|l| l.contains("cancelled")).unwrap();
        assert_eq!(
            header.find("REQUESTED"),
            line.find("#2 alice@laptop"),
            "{out}"
        );
        assert!(line.contains("w02.farm") && line.contains("cancelled by bob@desk"));
        let plain = out.lines().find(|l| l.contains("succeeded")).unwrap();
        assert_eq!(
            &plain[header.find("REQUESTED").unwrap()..][..2],
            "- ",
            "{out}"
        );

        let (out, _) = status(&w, &["runs", "nightly", "--json"]);
        let j: Vec<serde_json::Value> = serde_json::from_str(&out).unwrap();
        let c = j.iter().find(|r| r["status"] == "cancelled").unwrap();
        assert_eq!(c["attempt"], 2);
        assert_eq!(c["request"], req.id.as_str());
        assert_eq!(c["requested_by"], "alice@laptop");
        let p = j.iter().find(|r| r["status"] == "succeeded").unwrap();
        assert!(p.get("request").is_none(), "{p}");
    });
}
