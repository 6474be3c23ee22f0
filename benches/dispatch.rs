//! Benchmarks of scheduled dispatch's hot paths: parsing and validating a crontab
//! (`scalegrease::dispatch::crontab::parse`, run by greaselaunch, by greasesnatch on every
//! worker each minute and by greasestatus) and computing the next fire time
//! (`scalegrease::dispatch::schedule::Schedule::next_after`, run by greasestatus for every
//! installed entry). Each group carries a baseline measured in the same run, so the
//! figures in BENCHMARKS.md are ratios: croner parsing the same schedules and finding the
//! same next occurrences, and a bare whitespace split of the same text.
//!
//! `cargo bench --bench dispatch` (benches/ratios.sh runs it several times and prints the
//! ratios). Needs no store, no etcd and no network.

use std::hint::black_box;
use std::str::FromStr;

use chrono::{DateTime, TimeZone, Utc};
use croner::Cron;
use croner::parser::{CronParser, Seconds, Year};
use scalegrease::dispatch::crontab;
use scalegrease::dispatch::schedule::{Schedule, Zone};

fn main() {
    divan::main();
}

/// The schedules the benches use: fixed times, intervals, ranges with names, the
/// day-of-month-or-weekday rule and a time the spring DST jump skips.
const SCHEDULES: [&str; 6] = [
    "0 3 * * *",
    "*/15 8-18 * * mon-fri",
    "30 2 * * *",
    "0 0 13 * fri",
    "5 4 1 jan,jul *",
    "0 */6 * * *",
];

/// The same schedules with names spelled as numbers, for croner.
const CRONER_SCHEDULES: [&str; 6] = [
    "0 3 * * *",
    "*/15 8-18 * * 1-5",
    "30 2 * * *",
    "0 0 13 * 5",
    "5 4 1 1,7 *",
    "0 */6 * * *",
];

/// A 1,000-entry crontab like a big project's: a `MAILTO`, a comment and an entry per job.
fn big_crontab() -> String {
    let mut text = String::from("MAILTO=ops@example.com\nSHELL=/bin/sh\n");
    for i in 0..1000 {
        let when = SCHEDULES[i % SCHEDULES.len()];
        text.push_str(&format!(
            "# job {i}\n{when} nobody greaserun --runner shell /opt/jobs/job{i}.sh {{date}}\n"
        ));
    }
    text
}

mod crontab_parse {
    use super::*;

    /// Ours: parse and validate 1,000 entries (every field, the user, the command).
    #[divan::bench]
    fn ours_parse_validate_1000(bencher: divan::Bencher) {
        let text = big_crontab();
        bencher.bench(|| {
            let c = crontab::parse(black_box(&text));
            assert!(!c.has_errors());
            c
        });
    }

    /// Baseline: croner parsing the same 1,000 schedules (time fields only, no user,
    /// command or comment handling).
    #[divan::bench]
    fn baseline_croner_1000(bencher: divan::Bencher) {
        let patterns: Vec<&str> = (0..1000)
            .map(|i| CRONER_SCHEDULES[i % CRONER_SCHEDULES.len()])
            .collect();
        let parser = CronParser::builder()
            .seconds(Seconds::Disallowed)
            .year(Year::Disallowed)
            .build();
        bencher.bench(|| {
            patterns
                .iter()
                .map(|p| parser.parse(black_box(p)).expect("valid"))
                .collect::<Vec<_>>()
        });
    }

    /// Baseline: splitting the same text into lines and words, nothing more.
    #[divan::bench]
    fn baseline_split_words_1000(bencher: divan::Bencher) {
        let text = big_crontab();
        bencher.bench(|| {
            black_box(&text)
                .lines()
                .map(|l| l.split_whitespace().count())
                .sum::<usize>()
        });
    }
}

/// An ordinary June noon and the night of the spring DST jump in Europe/Stockholm.
fn instants() -> [(&'static str, DateTime<Utc>); 2] {
    [
        (
            "ordinary_day",
            Utc.with_ymd_and_hms(2026, 6, 10, 12, 0, 0).unwrap(),
        ),
        (
            "dst_night",
            Utc.with_ymd_and_hms(2026, 3, 29, 0, 30, 0).unwrap(),
        ),
    ]
}

mod next_fire {
    use super::*;

    const ZONE: &str = "Europe/Stockholm";

    /// Ours: the next fire time of each of the six schedules, with Debian cron's DST rules.
    #[divan::bench(args = ["ordinary_day", "dst_night"])]
    fn ours_next_after_6(bencher: divan::Bencher, when: &str) {
        let zone = Zone::named(ZONE).expect("known zone");
        let after = instants().into_iter().find(|i| i.0 == when).unwrap().1;
        let schedules: Vec<Schedule> = SCHEDULES
            .iter()
            .map(|s| Schedule::parse(s).expect("valid"))
            .collect();
        bencher.bench(|| {
            schedules
                .iter()
                .map(|s| s.next_after(black_box(after), zone).expect("fires"))
                .collect::<Vec<_>>()
        });
    }

    /// Baseline: croner's own next occurrence of the same schedules in the same zone (no
    /// DST rules of Debian cron).
    #[divan::bench(args = ["ordinary_day", "dst_night"])]
    fn baseline_croner_next_6(bencher: divan::Bencher, when: &str) {
        let tz = chrono_tz::Tz::from_str(ZONE).expect("known zone");
        let after = instants().into_iter().find(|i| i.0 == when).unwrap().1;
        let after = after.with_timezone(&tz);
        let parser = CronParser::builder()
            .seconds(Seconds::Disallowed)
            .year(Year::Disallowed)
            .build();
        let crons: Vec<Cron> = CRONER_SCHEDULES
            .iter()
            .map(|s| parser.parse(s).expect("valid"))
            .collect();
        bencher.bench(|| {
            crons
                .iter()
                .map(|c| {
                    c.find_next_occurrence(black_box(&after), false)
                        .expect("fires")
                })
                .collect::<Vec<_>>()
        });
    }
}
