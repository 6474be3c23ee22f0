//! Randomness for delays, jitter and temp names, from the kernel through the `getrandom`
//! crate (the `getrandom(2)` system call, so it works without `/dev` mounted, as in a
//! minimal chroot). Nothing here is for cryptography: should the kernel ever refuse, the
//! clock and the process id stand in.

/// A random 64-bit number.
pub fn u64() -> u64 {
    getrandom::u64().unwrap_or_else(|_| {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        nanos ^ (u64::from(std::process::id()) << 32)
    })
}

/// A uniformly random float in `[0, 1)`.
pub fn unit() -> f64 {
    (u64() >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    #[test]
    fn varies_and_stays_in_range() {
        assert_ne!(super::u64(), super::u64());
        let x = super::unit();
        assert!((0.0..1.0).contains(&x), "{x}");
    }
}
