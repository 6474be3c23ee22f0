//! Reading many independent things at once: [`read_each`] runs a function over items on
//! a few threads and keeps their order. Views of every job use it (the farm page,
//! `/metrics`, `greasestatus runs --latest`).

/// How many threads read the store for one view of many jobs: reads of the directory
/// store use the cores, and those of etcd wait on the network side by side.
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
