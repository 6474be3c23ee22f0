//! Property tests over the crontab parser and greasesnatch's output.
//!
//! - Valid generated crontabs parse without errors, and parse → print → parse gives the
//!   same lines; for any text at all, printing is stable.
//! - Whatever greasesnatch writes has a name Debian cron accepts (`[A-Za-z0-9_-]+`) and
//!   content the validator accepts.

use proptest::prelude::*;

use super::bundle::{Bundle, CrontabFile, key_for};
use super::crontab::{self, fields, fields::FieldSpec, print::print};
use super::project::Project;
use super::snatch::{Outcome, SnatchOptions, snatch};
use crate::store::{Store, dir::DirStore};

fn field(spec: FieldSpec) -> BoxedStrategy<String> {
    let (lo, hi) = (u32::from(spec.min), u32::from(spec.max));
    let n = lo..=hi;
    prop_oneof![
        Just("*".to_string()),
        (1..=hi).prop_map(|s| format!("*/{s}")),
        n.clone().prop_map(|v| v.to_string()),
        (n.clone(), n.clone(), proptest::option::of(1..=hi)).prop_map(|(a, b, s)| {
            let (a, b) = (a.min(b), a.max(b));
            match s {
                Some(s) => format!("{a}-{b}/{s}"),
                None => format!("{a}-{b}"),
            }
        }),
        proptest::collection::vec(n, 1..4).prop_map(|v| v
            .iter()
            .map(u32::to_string)
            .collect::<Vec<_>>()
            .join(",")),
    ]
    .boxed()
}

fn when() -> impl Strategy<Value = String> {
    let five = fields::ALL
        .iter()
        .map(|s| field(*s))
        .collect::<Vec<_>>()
        .prop_map(|v| v.join(" "));
    prop_oneof![
        4 => five,
        1 => proptest::sample::select(fields::NICKNAMES.iter().map(|(n, _)| n.to_string()).collect::<Vec<_>>()),
    ]
}

fn line() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => (when(), "[a-z][a-z0-9_-]{0,7}", "[ \t]{1,3}", "[a-zA-Z0-9 ./=\\\\%-]{0,40}").prop_map(
            |(w, u, sp, rest)| format!("{w}{sp}{u}{sp}greaserun {rest}")
        ),
        1 => "#[ -~]{0,30}",
        1 => Just(String::new()),
        1 => ("[A-Z_][A-Z0-9_]{0,8}".prop_filter("always refused", |n| super::crontab::policy::always_refused(n, "").is_none()), "[ ]{0,2}", "[a-z0-9/:.@ ]{0,20}").prop_map(|(n, sp, v)| format!("{n}{sp}={sp}\"{v}\"")),
    ]
}

fn crontab_text() -> impl Strategy<Value = String> {
    proptest::collection::vec(line(), 0..12)
        .prop_map(|ls| ls.iter().map(|l| format!("{l}\n")).collect())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn valid_crontabs_round_trip(text in crontab_text()) {
        let c = crontab::parse(&text);
        let errors: Vec<_> = c.errors().collect();
        prop_assert!(errors.is_empty(), "{errors:?}\n{text}");
        let printed = print(&c);
        prop_assert_eq!(&crontab::parse(&printed).lines, &c.lines);
        prop_assert_eq!(print(&crontab::parse(&printed)), printed);
    }

    #[test]
    fn printing_any_text_is_stable(text in "[ -~\t\n\r]{0,200}") {
        let once = print(&crontab::parse(&text));
        prop_assert_eq!(print(&crontab::parse(&once)), once);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn snatched_files_are_names_cron_reads_and_valid_crontabs(
        group in "[A-Za-z0-9][A-Za-z0-9_.-]{0,12}",
        artifact in "[A-Za-z0-9][A-Za-z0-9_.-]{0,12}",
        names in proptest::collection::btree_set("\\PC{1,16}", 1..4),
        text in crontab_text(),
    ) {
        let project = Project { group, artifact };
        prop_assume!(project.check().is_ok());
        let names: Vec<String> = names.into_iter().collect();
        let sanitized: std::collections::BTreeSet<_> = names.iter().map(|n| super::bundle::sanitize(n)).collect();
        prop_assume!(sanitized.len() == names.len());
        // Only the users that exist everywhere.
        let text = text.replace('\r', "");
        let content = crontab::parse(&text).lines.iter().map(|l| match l {
            crontab::Line::Entry(e) => format!("{} nobody {}\n", e.when.text(), e.command),
            other => print(&crontab::Crontab { lines: vec![other.clone()], diagnostics: vec![] }),
        }).collect::<String>();
        let d = tempfile::tempdir().unwrap();
        let store = DirStore::new(d.path().join("store"));
        store.init().unwrap();
        let crontabs = names.iter().map(|n| CrontabFile { name: n.clone(), content: content.clone() }).collect();
        let b = Bundle::new(&project, crontabs, "2026-01-01T00:00:00Z".into(), "t@h".into(), None);
        store.put(&key_for(&project), &b.encode(), None).unwrap();
        let cron = d.path().join("cron.d");
        std::fs::create_dir(&cron).unwrap();
        let opts = SnatchOptions { allowed_env: vec!["*".into()], ..SnatchOptions::new(cron.clone(), "sg") };
        let Outcome::Done(s) = snatch(&store, &opts, &mut Vec::new()).unwrap() else { panic!("busy") };
        prop_assert!(s.rejected.is_empty(), "{:?}", s.rejected);
        prop_assert_eq!(s.installed, names.len());
        for e in std::fs::read_dir(&cron).unwrap() {
            let name = e.unwrap().file_name().to_string_lossy().into_owned();
            if name.starts_with('.') { continue; }
            prop_assert!(name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-'), "{name}");
            let text = std::fs::read_to_string(cron.join(&name)).unwrap();
            prop_assert!(text.ends_with('\n'));
            let errors: Vec<_> = crontab::parse(&text).errors().cloned().collect();
            prop_assert!(errors.is_empty(), "{errors:?}");
        }
    }
}

/// An independent model of Debian cron: walk real minutes and fire as the daemon does
/// (wall-clock match; a fixed-time job also fires at a forward jump for each skipped
/// minute that matched, and never in a repeated stretch of wall-clock time).
fn debian_next(
    fields: &[crontab::Field; 5],
    after: chrono::DateTime<chrono::Utc>,
    tz: chrono_tz::Tz,
    horizon: chrono::Duration,
) -> Option<chrono::DateTime<chrono::Utc>> {
    use chrono::{Datelike, Duration, Timelike};
    let bit = |f: &crontab::Field, v: u32| f.bits & (1u64 << v) != 0;
    let matches = |w: chrono::NaiveDateTime| {
        let dom = bit(&fields[2], w.day());
        let dow = bit(&fields[4], w.weekday().num_days_from_sunday());
        let day = if fields[2].star || fields[4].star {
            dom && dow
        } else {
            dom || dow
        };
        bit(&fields[0], w.minute())
            && bit(&fields[1], w.hour())
            && bit(&fields[3], w.month())
            && day
    };
    let interval = fields[0].star || fields[1].star;
    let wall = |m: chrono::DateTime<chrono::Utc>| m.with_timezone(&tz).naive_local();
    let start = after.with_second(0).unwrap() - Duration::hours(3);
    let mut max_wall = wall(start);
    let mut m = start + Duration::minutes(1);
    while m <= after + horizon {
        let (w, p) = (wall(m), wall(m - Duration::minutes(1)));
        let fire = if interval {
            matches(w)
        } else if w - p > Duration::minutes(1) {
            let mut s = p + Duration::minutes(1);
            let mut any = false;
            while s <= w {
                any |= matches(s);
                s += Duration::minutes(1);
            }
            any
        } else {
            w > max_wall && matches(w)
        };
        if w > max_wall {
            max_wall = w;
        }
        if fire && m > after {
            return Some(m);
        }
        m += Duration::minutes(1);
    }
    None
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn next_fire_time_matches_a_model_of_debian_cron(
        minute in prop_oneof![3 => "[0-5]?[0-9]", 1 => "[0-5]?[0-9],[0-5]?[0-9]", 2 => field(fields::MINUTE)],
        hour in prop_oneof![3 => "[1-3]", 1 => Just("1-3".to_string()), 1 => Just("*".to_string()), 1 => field(fields::HOUR)],
        dom in prop_oneof![3 => Just("*".to_string()), 1 => field(fields::DAY_OF_MONTH)],
        dow in prop_oneof![3 => Just("*".to_string()), 1 => field(fields::DAY_OF_WEEK)],
        (zone, transition) in proptest::sample::select(vec![
            ("Europe/Stockholm", "2026-03-29T01:00:00Z"),
            ("Europe/Stockholm", "2026-10-25T01:00:00Z"),
            ("America/New_York", "2026-03-08T07:00:00Z"),
            ("America/New_York", "2026-11-01T06:00:00Z"),
            ("UTC", "2026-02-28T23:00:00Z"),
        ]),
        offset_min in -240i64..240,
    ) {
        let expr = format!("{minute} {hour} {dom} * {dow}");
        let c = crontab::parse(&format!("{expr} nobody greaserun x\n"));
        let e = c.entries().next().unwrap();
        let crontab::When::Fields { fields: f, .. } = &e.when else { unreachable!() };
        let tz: chrono_tz::Tz = zone.parse().unwrap();
        let after = transition.parse::<chrono::DateTime<chrono::Utc>>().unwrap()
            + chrono::Duration::minutes(offset_min)
            + chrono::Duration::seconds(17);
        let horizon = chrono::Duration::days(3);
        let got = super::schedule::Schedule::new(&e.when)
            .next_after(after, super::schedule::Zone::Named(tz))
            .map(|t| t.with_timezone(&chrono::Utc));
        let want = debian_next(f, after, tz, horizon);
        match want {
            Some(w) => prop_assert_eq!(got, Some(w), "{} after {}", expr, after),
            None => prop_assert!(got.is_none_or(|g| g > after + horizon), "{expr}: got {got:?}"),
        }
    }
}
