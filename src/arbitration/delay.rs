//! The random start delay. Every worker's cron fires at the same second; without a delay a
//! farm starts every job at once (and, with the funnel, the same host always wins). When
//! greaserun's stdin is not a terminal (the usual sign of cron) and `--no-random-delay` is
//! not given, it sleeps a random time first. The funnel weights the delay by the host's
//! headroom so that a host with room tends to start, and claim, first.

use std::time::Duration;

use crate::util::random;

/// A delay in `[0, max)` weighted by `headroom` in `[0, 1]`: an idle host (1) draws from
/// the first quarter of the window, a host at its limits (0) uniformly from all of it.
pub fn weighted(max: Duration, headroom: f64) -> Duration {
    let span = 1.0 - 0.75 * headroom.clamp(0.0, 1.0);
    max.mul_f64(span * random::unit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_stay_in_their_window() {
        let max = Duration::from_secs(60);
        for _ in 0..200 {
            assert!(weighted(max, 1.0) <= max / 4);
            assert!(weighted(max, 0.0) < max);
        }
        assert_eq!(weighted(Duration::ZERO, 0.0), Duration::ZERO);
    }
}
