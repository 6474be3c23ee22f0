//! One bundle's checks in greasesnatch: its project name, every crontab's lines, the
//! worker's user and content policy, and the names its files install under.

use super::{SnatchOptions, UserCheck, installed_content, place};
use crate::dispatch::bundle::{self, Bundle};
use crate::dispatch::crontab;

/// Checks one decoded bundle and returns its files, or why it is rejected (two of its
/// crontabs installing under one name; clashes between projects are
/// [`verify::take_collisions`]').
pub(super) fn accept(
    b: &Bundle,
    opts: &SnatchOptions,
    users: &mut UserCheck,
) -> Result<Vec<(String, Vec<u8>)>, String> {
    let project = b.project();
    project.check()?;
    let mut files = Vec::with_capacity(b.crontabs.len());
    for c in &b.crontabs {
        place::check_reserved(&c.name, &c.content)?;
        let parsed = crontab::parse(&c.content);
        let errors: Vec<_> = parsed.errors().collect();
        if let Some(first) = errors.first() {
            return Err(format!(
                "{} error(s) in its crontabs, first: {}",
                errors.len(),
                first.render(&c.name)
            ));
        }
        users.check_crontab(&c.name, &c.content, &parsed, &project.group)?;
        let name = bundle::installed_name(&opts.prefix, &project, &c.name);
        if files.iter().any(|(n, _)| *n == name) {
            return Err(format!(
                "crontab {} would install as {name}, which another crontab already uses",
                c.name
            ));
        }
        files.push((
            name,
            installed_content(&project, &c.name, &c.content).into_bytes(),
        ));
    }
    Ok(files)
}
