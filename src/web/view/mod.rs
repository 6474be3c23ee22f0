//! What the pages and the JSON API show, as serde structs built from the store: the farm
//! ([`farm`]), one job ([`job`]) and one run ([`run`]). A page renders one of these; the
//! API serialises the same value, so the two never disagree. A view of every job reads
//! the jobs on a few threads at once ([`read_each`]).

pub mod farm;
pub mod job;
pub mod run;

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

/// How many threads read the store for one view of many jobs (the farm, `/metrics`):
/// reads of the directory store use the cores, and those of etcd wait on the network.
pub const READERS: usize = 4;

/// `f` of each item, in order, run on up to [`READERS`] threads (each taking every
/// `READERS`-th item); the first error (by item order) is returned.
pub fn read_each<T: Sync, R: Send, E: Send>(
    items: &[T],
    f: impl Fn(&T) -> Result<R, E> + Sync,
) -> Result<Vec<R>, E> {
    let n = READERS.min(items.len()).max(1);
    let mut parts: Vec<Vec<(usize, Result<R, E>)>> = std::thread::scope(|scope| {
        let f = &f;
        let handles: Vec<_> = (0..n)
            .map(|k| {
                scope.spawn(move || {
                    let mut out = Vec::new();
                    for i in (k..items.len()).step_by(n) {
                        let r = f(&items[i]);
                        let stop = r.is_err();
                        out.push((i, r));
                        if stop {
                            break;
                        }
                    }
                    out
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
            .collect()
    });
    let mut all: Vec<(usize, Result<R, E>)> = parts.drain(..).flatten().collect();
    all.sort_by_key(|(i, _)| *i);
    all.into_iter().map(|(_, r)| r).collect()
}

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

#[cfg(test)]
mod tests {
    #[test]
    fn read_each_keeps_the_order_and_returns_the_first_error() {
        let items: Vec<u32> = (0..103).collect();
        let ok: Result<Vec<u32>, u32> = super::read_each(&items, |i| Ok(i * 2));
        assert_eq!(ok.unwrap(), items.iter().map(|i| i * 2).collect::<Vec<_>>());
        let err: Result<Vec<u32>, u32> =
            super::read_each(&items, |i| if *i % 10 == 7 { Err(*i) } else { Ok(*i) });
        assert_eq!(err.unwrap_err(), 7);
        let none: Result<Vec<u32>, u32> = super::read_each(&[], |i: &u32| Ok(*i));
        assert!(none.unwrap().is_empty());
    }
}
