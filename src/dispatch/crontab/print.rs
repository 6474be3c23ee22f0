//! Printing a parsed crontab back as text, in a canonical form: comments and blank lines
//! as written, `NAME=value` assignments, and entries as single-space-separated fields.
//! Parsing the printed text gives the same crontab (the property tests check this).

use super::{Crontab, Line};

/// The canonical text of a crontab, each line ending in a newline. Invalid lines are
/// printed as written.
pub fn print(crontab: &Crontab) -> String {
    let mut out = String::new();
    for line in &crontab.lines {
        match line {
            Line::Blank => {}
            Line::Comment(c) => out.push_str(c),
            Line::Invalid(raw) => out.push_str(raw),
            Line::Env(e) => {
                out.push_str(&e.name);
                out.push('=');
                match e.quote {
                    Some(q) => {
                        out.push(q);
                        out.push_str(&e.value);
                        out.push(q);
                    }
                    None => out.push_str(&e.value),
                }
            }
            Line::Entry(e) => {
                out.push_str(&e.when.text());
                out.push(' ');
                out.push_str(&e.user);
                out.push(' ');
                out.push_str(&e.command);
            }
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::parse;
    use super::*;

    #[test]
    fn prints_canonically() {
        let c =
            parse("# c\n\n A =  'x y' \n30\t2 * * 1-5  batch  greaserun  a\n@daily b greaserun\n");
        assert_eq!(
            print(&c),
            "# c\n\nA='x y'\n30 2 * * 1-5 batch greaserun  a\n@daily b greaserun\n"
        );
        assert_eq!(print(&parse(&print(&c))), print(&c));
    }
}
