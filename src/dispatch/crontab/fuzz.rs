//! Property tests: the crontab parser and the worker policy never panic, whatever the
//! bytes (read as greasesnatch reads a bundle's text: lossy UTF-8), and every control
//! character but tab makes the file invalid.

use proptest::prelude::*;

use super::policy::{Policy, check};
use super::print::print;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        let text = String::from_utf8_lossy(&bytes);
        let parsed = super::parse(&text);
        let _ = print(&parsed);
        let env = vec!["*".to_string()];
        let _ = check(&parsed, &text, Policy { allow_plain_commands: false, allowed_env: &env });
    }

    #[test]
    fn arbitrary_lines_never_panic(text in "(\\PC|[\\x00-\\x1f\\x7f]|\\t){0,300}") {
        let parsed = super::parse(&text);
        let _ = check(&parsed, &text, Policy { allow_plain_commands: true, allowed_env: &[] });
    }

    #[test]
    fn control_characters_are_errors(pre in "[ -~]{0,20}", c in "[\\x00-\\x08\\x0b-\\x1f\\x7f]", post in "[ -~]{0,20}") {
        let text = format!("* * * * * a greaserun {pre}{c}{post}\n");
        prop_assert!(super::parse(&text).has_errors());
    }
}
