//! What greasesnatch checks across bundles before it installs any: the signature against
//! `launch.trusted_keys` (see [`super::sign`]), that a bundle is not older than the one
//! installed (a replay), and that no two projects install under the same file names.
//!
//! The launch time and digest of each installed bundle are kept in a state file in the
//! cron directory, `<prefix>-state`: dot-free, so no temp-file sweep removes it; every
//! line a comment, so cron installs nothing from it; outside `<prefix>__`, so it is never
//! taken for a project's file. It is written only when trusted keys are configured, and
//! keeps the record of a project removed from the store, so deleting a bundle and then
//! putting back an old signed one is still a replay.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::bundle::{self, Bundle};
use super::project::Project;
use super::sign::{self, TrustedKey};

/// The state file's path in `cron_dir`.
pub fn state_path(cron_dir: &Path, prefix: &str) -> PathBuf {
    cron_dir.join(format!("{}-state", bundle::sanitize(prefix)))
}

/// The installed bundles' `project -> (launched_at, digest)`, as the state file says.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct State(pub BTreeMap<String, (String, String)>);

const STATE_HEAD: &str =
    "# scalegrease installed bundles (greasesnatch's state; cron ignores comments)\n";

impl State {
    /// The state a state file's text holds (an empty text: nothing installed yet).
    pub fn parse(text: &str) -> State {
        let records = text.lines().filter_map(|l| {
            let mut w = l.strip_prefix("# bundle ")?.split(' ');
            let (p, at, digest) = (w.next()?, w.next()?, w.next()?);
            Some((p.to_string(), (at.to_string(), digest.to_string())))
        });
        State(records.collect())
    }

    /// The file's content.
    pub fn render(&self) -> String {
        let mut out = STATE_HEAD.to_string();
        for (p, (at, digest)) in &self.0 {
            out += &format!("# bundle {p} {at} {digest}\n");
        }
        out
    }

    /// Records an installed bundle.
    pub fn record(&mut self, b: &Bundle) {
        let at = b.launched_at.replace(char::is_whitespace, "_");
        self.0
            .insert(b.project().to_string(), (at, b.digest.clone()));
    }
}

/// The checks of one bundle with trusted keys configured: its signature, then that it
/// was not launched before the installed bundle of its project. Without trusted keys
/// every bundle passes (greasesnatch warns once per run).
pub fn check(b: &Bundle, trusted: &[TrustedKey], state: &State) -> Result<(), String> {
    if trusted.is_empty() {
        return Ok(());
    }
    sign::verify(b, trusted)?;
    let when = |t: &str| chrono::DateTime::parse_from_rfc3339(t).ok();
    let at = when(&b.launched_at)
        .ok_or_else(|| format!("launched_at {:?} is not an RFC 3339 time", b.launched_at))?;
    if let Some((installed, _)) = state.0.get(&b.project().to_string())
        && when(installed).is_some_and(|i| at < i)
    {
        return Err(format!(
            "replayed: launched at {}, before the installed bundle (launched at {installed})",
            b.launched_at
        ));
    }
    Ok(())
}

/// Removes from `accepted` every project whose installed names collide with another's
/// (the same `<prefix>__<group>__<artifact>__` after sanitising, or one file name), and
/// returns each with why: neither side of a collision is installed or changed.
pub fn take_collisions<T>(
    prefix: &str,
    accepted: &mut Vec<(Project, Vec<(String, T)>)>,
) -> Vec<(Project, String)> {
    let mut owner: BTreeMap<String, usize> = BTreeMap::new();
    let mut clash: BTreeMap<usize, usize> = BTreeMap::new();
    for (i, (p, files)) in accepted.iter().enumerate() {
        let names = std::iter::once(bundle::installed_prefix(prefix, p))
            .chain(files.iter().map(|(n, _)| n.clone()));
        for name in names {
            if let Some(&j) = owner.get(&name) {
                clash.entry(i).or_insert(j);
                clash.entry(j).or_insert(i);
            } else {
                owner.insert(name, i);
            }
        }
    }
    let why: Vec<(Project, String)> = clash
        .iter()
        .map(|(&i, &j)| {
            let other = &accepted[j].0;
            let text = format!(
                "name collision with {other}: both install as {}* in the cron directory; neither is changed (rename one of them)",
                bundle::installed_prefix(prefix, &accepted[i].0)
            );
            (accepted[i].0.clone(), text)
        })
        .collect();
    let mut i = 0;
    accepted.retain(|_| {
        i += 1;
        !clash.contains_key(&(i - 1))
    });
    why
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(g: &str) -> Project {
        Project {
            group: g.into(),
            artifact: "jobs".into(),
        }
    }

    #[test]
    fn collisions_take_both_sides() {
        let mut v = vec![
            (p("com.adv"), vec![("x".to_string(), ())]),
            (p("org.ok"), vec![("y".to_string(), ())]),
            (p("com_adv"), vec![("z".to_string(), ())]),
        ];
        let why = take_collisions("sg", &mut v);
        assert_eq!(v.len(), 1);
        assert_eq!(v[0].0, p("org.ok"));
        assert_eq!(why.len(), 2);
        assert!(why[0].1.contains("com_adv:jobs"), "{why:?}");
        assert!(why[1].1.contains("com.adv:jobs"), "{why:?}");
    }

    #[test]
    fn state_round_trip() {
        let d = tempfile::tempdir().unwrap();
        let path = state_path(d.path(), "sg");
        let mut s = State::default();
        s.0.insert(
            "g:a".into(),
            ("2026-01-01T00:00:00Z".into(), "sha256:00".into()),
        );
        std::fs::write(&path, s.render()).unwrap();
        assert_eq!(State::parse(&std::fs::read_to_string(&path).unwrap()), s);
        assert!(
            crate::dispatch::crontab::parse(&s.render())
                .entries()
                .next()
                .is_none()
        );
    }
}
