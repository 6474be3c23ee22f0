//! What greasesnatch writes at the top of every installed file, and an installed file's
//! whole content: a one-line header naming the project and crontab (so greasestatus maps a
//! file back to them), then the crontab's text ending in a newline.

use crate::dispatch::project::Project;

/// The first line of every installed file: says what it is, and lets greasestatus map
/// a file back to its project and crontab name.
pub fn header(project: &Project, name: &str) -> String {
    // Control characters in a file name must not start a new crontab line.
    format!(
        "# scalegrease {project} {}{HEADER_END}\n",
        name.escape_debug()
    )
}

/// An installed file's whole content: the [`header`], then the crontab's text ending in
/// a newline (cron drops a last line without one). greasestatus compares files with it.
pub fn installed_content(project: &Project, name: &str, crontab: &str) -> String {
    let mut content = header(project, name) + crontab;
    if !content.ends_with('\n') {
        content.push('\n');
    }
    content
}

const HEADER_END: &str = " (installed by greasesnatch; local edits are overwritten)";

/// Reads [`header`] back: `(project, crontab name)`.
pub fn parse_header(text: &str) -> Option<(Project, String)> {
    let rest = text
        .lines()
        .next()?
        .strip_prefix("# scalegrease ")?
        .strip_suffix(HEADER_END)?;
    let (project, name) = rest.split_once(' ')?;
    let (group, artifact) = project.split_once(':')?;
    let name = name.to_string();
    Some((
        Project {
            group: group.into(),
            artifact: artifact.into(),
        },
        name,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dispatch::crontab;

    #[test]
    fn header_round_trip() {
        let p = Project {
            group: "com.example".into(),
            artifact: "jobs".into(),
        };
        let h = header(&p, "sub/night ly.cron");
        assert_eq!(
            parse_header(&h),
            Some((p.clone(), "sub/night ly.cron".to_string()))
        );
        let h = header(&p, "evil\n* * * * * root x");
        assert_eq!(h.lines().count(), 1);
        assert!(crontab::parse(&h).diagnostics.is_empty());
        assert_eq!(parse_header("# other\n"), None);
    }

    #[test]
    fn installed_content_is_the_header_then_the_crontab_ending_in_a_newline() {
        let p = Project {
            group: "g".into(),
            artifact: "a".into(),
        };
        let want = header(&p, "n") + "* * * * * u greaserun x\n";
        for text in ["* * * * * u greaserun x", "* * * * * u greaserun x\n"] {
            let content = installed_content(&p, "n", text);
            assert_eq!(content, want);
            assert_eq!(parse_header(&content), Some((p.clone(), "n".to_string())));
        }
    }
}
