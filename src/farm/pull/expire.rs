//! When a queued request can no longer start: past its `deadline`, or a rescue whose
//! entry fired again since its slot (the next slot's run is due instead). The worker
//! that wins such a request ends it `dropped`, with a dropped run record when the slot
//! has none.

use chrono::{DateTime, Utc};

use super::installed::Installed;
use super::{PullOptions, end};
use crate::arbitration::records;
use crate::dispatch::schedule::{Schedule, Zone, entry_zone};
use crate::model::keys;
use crate::model::record::{RunRecord, Status};
use crate::model::request::{Kind, Phase, Request};
use crate::model::slot::Slot;
use crate::store::{Store, StoreError};

/// Why `req` can no longer start at `now`: its deadline passed, or (a rescue) its
/// entry's next fire after the slot has come, so the next slot's run is due instead.
pub(super) fn expired(req: &Request, it: Option<&Installed>, now: DateTime<Utc>) -> Option<String> {
    if let Some(d) = req.deadline.filter(|d| *d < now) {
        return Some(format!(
            "not started by its deadline {} (no worker had room)",
            d.to_rfc3339()
        ));
    }
    if req.kind != Kind::Rescue {
        return None;
    }
    let it = it?;
    let slot = Slot::from_key(&req.slot)?;
    let zone = entry_zone(it.entry.cron_tz.as_deref(), Zone::host());
    let next = Schedule::new(&it.entry.when).next_after(slot.time(), zone)?;
    (next.with_timezone(&Utc) <= now).then(|| {
        format!(
            "not started before the entry's next slot {} (no worker had room)",
            next.to_rfc3339()
        )
    })
}

/// Ends `req` (taken by this worker) dropped, with a dropped run record for its slot
/// when the slot has no record.
pub(super) fn drop_request(
    store: &dyn Store,
    opts: &PullOptions,
    req: &Request,
    why: &str,
) -> Result<(), StoreError> {
    tracing::warn!("request {} dropped: {why}", req.id);
    end(store, opts, &req.id, Phase::Dropped, why.to_string())?;
    let Some(slot) = Slot::from_key(&req.slot) else {
        return Ok(());
    };
    let (recs, _) = records::list(store, &keys::slot_runs(&req.job, slot))?;
    if recs.is_empty() {
        let rec = RunRecord {
            reason: Some(format!("request {} ({}) {why}", req.id, req.kind)),
            request: Some(req.id.clone()),
            attempt: Some(req.attempt),
            requested_by: Some(req.requested_by.clone()),
            requested_at: Some(req.requested_at),
            ..RunRecord::new(&req.job, &req.slot, Status::Dropped)
        };
        records::write(store, &rec, opts.history_retention)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::request::request_id;

    fn installed(line: &str) -> Installed {
        let entry = crate::farm::entry::entries(&crate::dispatch::crontab::parse(line))
            .remove(0)
            .unwrap();
        Installed {
            entry,
            project: crate::dispatch::project::Project {
                group: "g".into(),
                artifact: "a".into(),
            },
            file: "f".into(),
        }
    }

    fn req(kind: Kind, slot: &str) -> Request {
        Request {
            id: request_id(Utc::now(), 1),
            ..Request::new("j", slot, kind, "u@h", Utc::now())
        }
    }

    #[test]
    fn late_requests_and_overtaken_rescues_expire() {
        let it = installed("CRON_TZ=UTC\n0 * * * * u greaserun --job j -r shell g:a\n");
        let slot = "2026-11-23T03:00Z";
        let at = |t: &str| DateTime::parse_from_rfc3339(t).unwrap().to_utc();
        // A rescue of the 03:00 slot may start until the entry fires again at 04:00.
        let r = req(Kind::Rescue, slot);
        assert_eq!(expired(&r, Some(&it), at("2026-11-23T03:30:00Z")), None);
        let why = expired(&r, Some(&it), at("2026-11-23T04:00:01Z")).unwrap();
        assert!(why.contains("next slot 2026-11-23T04:00:00"), "{why}");
        // Without the entry installed here the schedule is unknown: only the deadline.
        assert_eq!(expired(&r, None, at("2026-11-23T05:00:00Z")), None);
        // A demand never expires by schedule, only by its deadline.
        let mut d = req(Kind::Demand, slot);
        assert_eq!(expired(&d, Some(&it), at("2026-11-24T00:00:00Z")), None);
        d.deadline = Some(at("2026-11-23T03:10:00Z"));
        assert_eq!(expired(&d, Some(&it), at("2026-11-23T03:09:00Z")), None);
        let why = expired(&d, Some(&it), at("2026-11-23T03:11:00Z")).unwrap();
        assert!(why.contains("deadline"), "{why}");
    }
}
