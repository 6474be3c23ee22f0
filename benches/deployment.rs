//! Benchmarks of deployment's hot paths: Maven's version ordering
//! (`scalegrease::deployment::MavenVersion` and `compare_versions`, used to pick the
//! highest of `<versions>` and the newest cached version) and `maven-metadata.xml` parsing
//! (`scalegrease::deployment::Metadata`, read for every `LATEST`, `RELEASE` and SNAPSHOT
//! resolve). Only the crate's public re-exports are used, so moving the modules behind
//! them does not touch the benches. Each group carries a baseline measured in the same run, so the
//! figures in BENCHMARKS.md are ratios: plain string ordering of the same versions, and a
//! bare quick-xml event scan of the same document.
//!
//! `cargo bench --bench deployment` (benches/ratios.sh runs it several times and prints
//! the ratios). Needs no repository and no network.

use std::hint::black_box;

use quick_xml::Reader;
use quick_xml::events::Event;
use scalegrease::deployment::{MavenVersion, Metadata, compare_versions};

fn main() {
    divan::main();
}

/// 1,000 versions as a long-lived artifact collects them: releases, qualifiers, snapshots,
/// in a shuffled (deterministic) order.
fn versions() -> Vec<String> {
    const QUALIFIERS: [&str; 8] = [
        "",
        "-SNAPSHOT",
        "-alpha-1",
        "-beta-2",
        "-rc1",
        "-sp",
        "-ga",
        ".Final",
    ];
    (0..1000u64)
        .map(|i| {
            let k = i.wrapping_mul(2_654_435_761) % 1000;
            format!(
                "{}.{}.{}{}",
                k % 4,
                (k / 4) % 13,
                (k / 52) % 11,
                QUALIFIERS[(k % 8) as usize]
            )
        })
        .collect()
}

mod version_order {
    use super::*;

    /// Baseline: sorting the 1,000 strings by byte order (wrong for Maven: `1.10 < 1.9`).
    #[divan::bench]
    fn baseline_string_sort_1000(bencher: divan::Bencher) {
        let v = versions();
        bencher
            .with_inputs(|| v.clone())
            .bench_local_values(|mut v| {
                v.sort();
                v
            });
    }

    /// Ours: sorting by `compare_versions`, which parses both sides on every comparison.
    #[divan::bench]
    fn ours_compare_sort_1000(bencher: divan::Bencher) {
        let v = versions();
        bencher
            .with_inputs(|| v.clone())
            .bench_local_values(|mut v| {
                v.sort_by(|a, b| compare_versions(a, b));
                v
            });
    }

    /// Ours: parsing each version once, then sorting the parsed values.
    #[divan::bench]
    fn ours_parsed_sort_1000(bencher: divan::Bencher) {
        let v = versions();
        bencher.with_inputs(|| v.clone()).bench_local_values(|v| {
            let mut parsed: Vec<MavenVersion> = v.iter().map(|s| MavenVersion::parse(s)).collect();
            parsed.sort();
            parsed
        });
    }

    /// Ours: the highest of the 1,000 by Maven's ordering, each parsed once (what
    /// `LATEST` without `<latest>` computes).
    #[divan::bench]
    fn ours_highest_1000(bencher: divan::Bencher) {
        let v = versions();
        bencher.bench(|| black_box(&v).iter().map(|s| MavenVersion::parse(s)).max());
    }

    /// Baseline: the byte-order maximum of the same strings.
    #[divan::bench]
    fn baseline_string_max_1000(bencher: divan::Bencher) {
        let v = versions();
        bencher.bench(|| black_box(&v).iter().max().cloned());
    }
}

/// A `maven-metadata.xml` as Maven's deploy plugin writes it, with `count` versions and no
/// `<latest>`, so resolving `LATEST` orders them all.
fn metadata_xml(count: usize) -> String {
    let mut xml = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<metadata>\n  <groupId>com.example</groupId>\n  <artifactId>job</artifactId>\n  <versioning>\n    <release>1.1</release>\n    <versions>\n",
    );
    for v in versions().iter().take(count) {
        xml.push_str(&format!("      <version>{v}</version>\n"));
    }
    xml.push_str("    </versions>\n    <lastUpdated>20261123064118</lastUpdated>\n  </versioning>\n</metadata>\n");
    xml
}

/// Counts the events of a document: reading it with no mapping to types at all.
fn scan_events(xml: &str) -> usize {
    let mut reader = Reader::from_str(xml);
    let mut n = 0;
    loop {
        match reader.read_event().expect("well-formed") {
            Event::Eof => return n,
            _ => n += 1,
        }
    }
}

mod metadata_parse {
    use super::*;

    const SIZES: [usize; 2] = [2, 1000];

    /// Ours: parsing the document into `Metadata` (serde over quick-xml).
    #[divan::bench(args = SIZES)]
    fn ours_parse(bencher: divan::Bencher, versions: usize) {
        let xml = metadata_xml(versions);
        bencher.bench(|| Metadata::parse(black_box(&xml)).expect("valid"));
    }

    /// Ours: parsing and resolving `LATEST` (the highest of `<versions>`).
    #[divan::bench(args = SIZES)]
    fn ours_parse_newest(bencher: divan::Bencher, versions: usize) {
        let xml = metadata_xml(versions);
        bencher.bench(|| {
            Metadata::parse(black_box(&xml))
                .expect("valid")
                .newest(false)
        });
    }

    /// Baseline: scanning the same document's XML events with quick-xml alone.
    #[divan::bench(args = SIZES)]
    fn baseline_event_scan(bencher: divan::Bencher, versions: usize) {
        let xml = metadata_xml(versions);
        bencher.bench(|| scan_events(black_box(&xml)));
    }
}
