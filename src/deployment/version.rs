//! Maven's version ordering (`org.apache.maven.artifact.versioning.ComparableVersion`, as in
//! Maven 3.x): versions split into numbers and qualifiers at `.`, `-` and digit/letter
//! transitions; `-` opens a sub-list; trailing zeros and release qualifiers (`ga`, `final`,
//! `release`, empty) are dropped; known qualifiers order as
//! `alpha < beta < milestone < rc = cr < snapshot < "" < sp`, and unknown ones after those,
//! alphabetically. Used to pick the highest of `<versions>` and the newest cached version.

use std::cmp::Ordering;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Item {
    /// Digits without leading zeros (arbitrary length, compared as a number).
    Int(String),
    Str(String),
    List(Vec<Item>),
}

/// A parsed version that orders like Maven's `ComparableVersion`.
#[derive(Debug, Clone)]
pub struct MavenVersion {
    text: String,
    items: Vec<Item>,
}

impl MavenVersion {
    /// Parses any string; every string is a valid Maven version.
    pub fn parse(text: &str) -> MavenVersion {
        MavenVersion {
            text: text.to_string(),
            items: parse_items(&text.to_lowercase()),
        }
    }

    /// The version as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

impl PartialEq for MavenVersion {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for MavenVersion {}
impl PartialOrd for MavenVersion {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for MavenVersion {
    fn cmp(&self, other: &Self) -> Ordering {
        cmp_lists(&self.items, &other.items)
    }
}

/// Compares two version strings by Maven's ordering.
pub fn compare(a: &str, b: &str) -> Ordering {
    MavenVersion::parse(a).cmp(&MavenVersion::parse(b))
}

/// The highest of `versions` by Maven's ordering.
pub fn highest<'a>(versions: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    versions
        .into_iter()
        .map(|v| (MavenVersion::parse(v), v))
        .max_by(|a, b| a.0.cmp(&b.0))
        .map(|(_, v)| v)
}

fn parse_items(v: &str) -> Vec<Item> {
    // A stack of lists: the last is the one being filled; each `-` (and each digit/letter
    // transition) nests a new list inside the current one.
    let mut stack: Vec<Vec<Item>> = vec![Vec::new()];
    let mut is_digit = false;
    let mut start = 0;
    let chars: Vec<(usize, char)> = v.char_indices().collect();
    for &(i, c) in &chars {
        let top = stack.last_mut().expect("stack never empty");
        if c == '.' || c == '-' {
            top.push(if i == start {
                Item::Int(String::new())
            } else {
                item(is_digit, &v[start..i], false)
            });
            start = i + 1;
            if c == '-' {
                stack.push(Vec::new());
            }
        } else if c.is_ascii_digit() {
            if !is_digit && i > start {
                top.push(item(false, &v[start..i], true));
                start = i;
                stack.push(Vec::new());
            }
            is_digit = true;
        } else {
            if is_digit && i > start {
                top.push(item(true, &v[start..i], false));
                start = i;
                stack.push(Vec::new());
            }
            is_digit = false;
        }
    }
    if v.len() > start {
        let it = item(is_digit, &v[start..], false);
        stack.last_mut().expect("stack never empty").push(it);
    }
    // Close the nested lists from the innermost out, normalizing each.
    let mut list = stack.pop().expect("stack never empty");
    normalize(&mut list);
    while let Some(mut parent) = stack.pop() {
        parent.push(Item::List(list));
        normalize(&mut parent);
        list = parent;
    }
    list
}

fn item(is_digit: bool, s: &str, followed_by_digit: bool) -> Item {
    if is_digit {
        return Item::Int(s.trim_start_matches('0').to_string());
    }
    let s = match (followed_by_digit, s) {
        (true, "a") => "alpha",
        (true, "b") => "beta",
        (true, "m") => "milestone",
        _ => s,
    };
    let s = match s {
        "ga" | "final" | "release" => "",
        "cr" => "rc",
        other => other,
    };
    Item::Str(s.to_string())
}

/// Drops trailing null items (0, "", empty lists), looking past nested lists as Maven does.
fn normalize(list: &mut Vec<Item>) {
    let mut i = list.len();
    while i > 0 {
        i -= 1;
        if is_null(&list[i]) {
            list.remove(i);
        } else if !matches!(list[i], Item::List(_)) {
            break;
        }
    }
}

fn is_null(it: &Item) -> bool {
    match it {
        Item::Int(d) => d.is_empty(),
        Item::Str(s) => s.is_empty(),
        Item::List(l) => l.is_empty(),
    }
}

const QUALIFIERS: [&str; 7] = ["alpha", "beta", "milestone", "rc", "snapshot", "", "sp"];

/// Maven's sortable form of a qualifier: its index among the known ones, or
/// `"7-<qualifier>"` for unknown ones (compared as strings, like Maven).
fn comparable_qualifier(q: &str) -> String {
    match QUALIFIERS.iter().position(|k| *k == q) {
        Some(i) => i.to_string(),
        None => format!("{}-{q}", QUALIFIERS.len()),
    }
}

fn cmp_int(a: &str, b: &str) -> Ordering {
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

/// `a` compared with `b`, where `None` is the missing item of a shorter list.
fn cmp_item(a: &Item, b: Option<&Item>) -> Ordering {
    match (a, b) {
        (Item::Int(d), None) => {
            if d.is_empty() {
                Ordering::Equal
            } else {
                Ordering::Greater
            }
        }
        (Item::Int(x), Some(Item::Int(y))) => cmp_int(x, y),
        (Item::Int(_), Some(_)) => Ordering::Greater,
        (Item::Str(s), None) => comparable_qualifier(s).cmp(&comparable_qualifier("")),
        (Item::Str(_), Some(Item::Int(_) | Item::List(_))) => Ordering::Less,
        (Item::Str(x), Some(Item::Str(y))) => comparable_qualifier(x).cmp(&comparable_qualifier(y)),
        (Item::List(l), None) => match l.first() {
            None => Ordering::Equal,
            Some(first) => cmp_item(first, None),
        },
        (Item::List(_), Some(Item::Int(_))) => Ordering::Less,
        (Item::List(_), Some(Item::Str(_))) => Ordering::Greater,
        (Item::List(x), Some(Item::List(y))) => cmp_lists(x, y),
    }
}

fn cmp_lists(a: &[Item], b: &[Item]) -> Ordering {
    for i in 0..a.len().max(b.len()) {
        let r = match (a.get(i), b.get(i)) {
            (Some(l), r) => cmp_item(l, r),
            (None, Some(r)) => cmp_item(r, None).reverse(),
            (None, None) => Ordering::Equal,
        };
        if r != Ordering::Equal {
            return r;
        }
    }
    Ordering::Equal
}

#[cfg(test)]
mod tests {
    use super::*;

    // From Maven's ComparableVersionTest (maven-artifact 3.8): each list is in increasing order.
    const VERSIONS_QUALIFIER: &[&str] = &[
        "1-alpha2snapshot",
        "1-alpha2",
        "1-alpha-123",
        "1-beta-2",
        "1-beta123",
        "1-m2",
        "1-m11",
        "1-rc",
        "1-cr2",
        "1-rc123",
        "1-SNAPSHOT",
        "1",
        "1-sp",
        "1-sp2",
        "1-sp123",
        "1-abc",
        "1-def",
        "1-pom-1",
        "1-1-snapshot",
        "1-1",
        "1-2",
        "1-123",
    ];
    const VERSIONS_NUMBER: &[&str] = &[
        "2.0", "2-1", "2.0.a", "2.0.0.a", "2.0.2", "2.0.123", "2.1.0", "2.1-a", "2.1b", "2.1-c",
        "2.1-1", "2.1.0.1", "2.2", "2.123", "11.a2", "11.a11", "11.b2", "11.b11", "11.m2",
        "11.m11", "11", "11.a", "11b", "11c", "11m",
    ];

    fn check_order(list: &[&str]) {
        for (i, a) in list.iter().enumerate() {
            for b in &list[i + 1..] {
                assert_eq!(compare(a, b), Ordering::Less, "expected {a} < {b}");
                assert_eq!(compare(b, a), Ordering::Greater, "expected {b} > {a}");
            }
        }
    }

    #[test]
    fn qualifier_order() {
        check_order(VERSIONS_QUALIFIER);
    }

    #[test]
    fn number_order() {
        check_order(VERSIONS_NUMBER);
    }

    #[test]
    fn equal_versions() {
        for (a, b) in [
            ("1", "1"),
            ("1", "1.0"),
            ("1", "1.0.0"),
            ("1.0", "1.0.0"),
            ("1", "1-0"),
            ("1", "1.0-0"),
            ("1.0", "1.0-0"),
            ("1a", "1-a"),
            ("1a", "1.0-a"),
            ("1a", "1.0.0-a"),
            ("1.0a", "1-a"),
            ("1.0.0a", "1-a"),
            ("1x", "1-x"),
            ("1x", "1.0-x"),
            ("1x", "1.0.0-x"),
            ("1.0x", "1-x"),
            ("1.0.0x", "1-x"),
            ("1ga", "1"),
            ("1release", "1"),
            ("1final", "1"),
            ("1cr", "1rc"),
            ("1a1", "1-alpha-1"),
            ("1b2", "1-beta-2"),
            ("1m3", "1-milestone-3"),
            ("1X", "1x"),
            ("1A", "1a"),
            ("1B", "1b"),
            ("1M", "1m"),
            ("1Ga", "1"),
            ("1GA", "1"),
            ("1RELEASE", "1"),
            ("1Final", "1"),
            ("1Cr", "1Rc"),
            ("1cR", "1rC"),
            ("1m3", "1Milestone3"),
            ("1m3", "1MileStone3"),
            ("1m3", "1MILESTONE3"),
        ] {
            assert_eq!(compare(a, b), Ordering::Equal, "expected {a} == {b}");
        }
    }

    #[test]
    fn big_numbers_and_snapshots() {
        check_order(&[
            "1.0-SNAPSHOT",
            "1.0",
            "1.0.1",
            "1.9",
            "1.10",
            "1.10.1-rc1",
            "1.10.1",
            "123456789012345678901234567890",
            "123456789012345678901234567891",
        ]);
        assert_eq!(
            highest(["1.0", "1.10", "1.9", "1.10-SNAPSHOT"]),
            Some("1.10")
        );
        assert_eq!(highest([]), None);
    }
}
