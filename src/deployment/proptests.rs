//! Property tests over what a repository or a user hands the deployment scope: the Maven
//! metadata parser and what is read from its answer (newest version, snapshot build,
//! merging, checksum files), and the coordinate parser. Arbitrary bytes never panic, and
//! coordinates that parse only ever name paths inside the repository and the cache.

use proptest::prelude::*;

use super::checksum::{self, Algorithm};
use super::metadata::{self, Metadata};
use super::spec::{ArtifactSpec, Coordinates, is_safe_part};
use super::version;

/// Text that looks like `maven-metadata.xml`, with arbitrary values in its elements, so
/// the cases reach the readers behind the XML parser.
fn metadata_xml() -> impl Strategy<Value = String> {
    let value = || proptest::collection::vec(any::<String>(), 0..4);
    (
        value(),
        value(),
        value(),
        any::<String>(),
        prop_oneof!["[0-9]{1,5}", any::<String>()],
    )
        .prop_map(|(versions, release, snaps, ts, bn)| {
            let esc = |s: &str| {
                s.replace('&', "&amp;")
                    .replace('<', "&lt;")
                    .replace('>', "&gt;")
            };
            let mut x = String::from("<metadata><versioning>");
            for r in &release {
                x += &format!("<release>{}</release><latest>{}</latest>", esc(r), esc(r));
            }
            x += "<versions>";
            for v in &versions {
                x += &format!("<version>{}</version>", esc(v));
            }
            x += "</versions><snapshot>";
            x += &format!(
                "<timestamp>{}</timestamp><buildNumber>{}</buildNumber>",
                esc(&ts),
                esc(&bn)
            );
            x += "</snapshot><snapshotVersions>";
            for s in &snaps {
                x += &format!(
                    "<snapshotVersion><classifier>{}</classifier><extension>jar</extension>\
                     <value>{}</value><updated>{}</updated></snapshotVersion>",
                    esc(s),
                    esc(s),
                    esc(s)
                );
            }
            x + "</snapshotVersions></versioning></metadata>"
        })
}

/// Everything the resolver reads from parsed metadata.
fn read_all(m: &Metadata) {
    let _ = m.newest(true);
    let _ = m.newest(false);
    for base in ["1.0-SNAPSHOT", "", "-SNAPSHOT"] {
        let _ = m.snapshot_build(base, "", "jar");
    }
    let versions = m.versioning.versions.version.clone();
    let _ = metadata::merge_newest(versions.iter().cloned());
    for v in &versions {
        let _ = metadata::timestamp_of(v);
        let _ = metadata::build_of("1.0-SNAPSHOT", v);
        let _ = version::compare(v, "1.0");
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn metadata_parser_never_panics_on_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        // What the resolver does with a body: UTF-8 or an error, then parse, then read.
        if let Ok(text) = std::str::from_utf8(&bytes)
            && let Ok(m) = Metadata::parse(text)
        {
            read_all(&m);
        }
        if let Ok(m) = Metadata::parse(&String::from_utf8_lossy(&bytes)) {
            read_all(&m);
        }
    }

    #[test]
    fn metadata_readers_never_panic(xml in metadata_xml()) {
        if let Ok(m) = Metadata::parse(&xml) {
            read_all(&m);
        }
    }

    #[test]
    fn checksum_parser_never_panics(text in any::<String>()) {
        for alg in Algorithm::PREFERRED {
            if let Ok(e) = checksum::parse(&text, alg) {
                prop_assert_eq!(e.hex.len(), alg.hex_len());
            }
        }
    }

    #[test]
    fn versions_compare_without_panic(a in any::<String>(), b in any::<String>()) {
        let ab = version::compare(&a, &b);
        prop_assert_eq!(ab, version::compare(&b, &a).reverse());
    }

    #[test]
    fn coordinate_parser_never_panics_and_stays_inside(text in any::<String>()) {
        check_coordinates(&text)?;
    }

    #[test]
    fn coordinate_like_text_stays_inside(
        parts in proptest::collection::vec("[a-z0-9._~+/-]{0,6}", 0..7)
    ) {
        check_coordinates(&parts.join(":"))?;
    }

    #[test]
    fn artifact_spec_parser_never_panics(text in any::<String>()) {
        let _ = ArtifactSpec::parse(&text);
    }
}

/// Parses `text`; coordinates that parse print back to themselves and name only safe path
/// components.
fn check_coordinates(text: &str) -> Result<(), TestCaseError> {
    let Ok(c) = Coordinates::parse(text) else {
        return Ok(());
    };
    prop_assert_eq!(Coordinates::parse(&c.to_string()).ok(), Some(c.clone()));
    let path = c.file_path(&c.version, &c.version);
    prop_assert!(!path.starts_with('/'), "{}", path);
    for component in path.split('/') {
        prop_assert!(is_safe_part(component), "{:?} in {}", component, path);
    }
    Ok(())
}
