//! What the pages and the JSON API show, as serde structs built from the store: the farm
//! ([`farm`]), one job ([`job`]) and one run ([`run`]). A page renders one of these; the
//! API serialises the same value, so the two never disagree. A view of every job reads
//! the jobs on a few threads at once ([`read_each`]).

pub mod farm;
pub mod job;
pub mod run;

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

pub use crate::util::parallel::read_each;

/// Characters kept as they are in a path segment of a link.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~')
    .remove(b':');

/// `text` as one URL path segment.
pub fn seg(text: &str) -> String {
    utf8_percent_encode(text, SEGMENT).to_string()
}

/// The job page's path.
pub fn job_href(job: &str) -> String {
    format!("/job/{}", seg(job))
}

/// A run page's path.
pub fn run_href(job: &str, slot: &str, run_id: &str) -> String {
    format!("/run/{}/{}/{}", seg(job), seg(slot), seg(run_id))
}
