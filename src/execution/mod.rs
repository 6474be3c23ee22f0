//! Execution: running the job with the right runner (shell, java, hadoop, python, luigi or
//! one defined in config), in its own process group, passing signals on and enforcing
//! timeouts.
