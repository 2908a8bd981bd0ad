//! The process's descriptor budget, against the per-instance handle cap.
//!
//! `limits.handles` (default 1000) caps what one instance holds, but a
//! process runs many instances at once: every pipeline has a source and a
//! destination, and a service runs several pipelines. The usual soft
//! `RLIMIT_NOFILE` of 1024 is a leftover of `select()`, which nothing here
//! uses (tokio and wasmtime poll with epoll): at 1024, one hostile instance
//! at the default cap would leave the host a few dozen descriptors, and two
//! would exhaust it. So the soft limit is raised to the hard limit (often
//! 524 288 under systemd, 1 048 576 in containers) the first time a store
//! is built, as Go's runtime and most servers do: then even a hundred
//! instances at their cap stop at their own limit long before the host runs
//! short. Lowering the default cap instead (to 256, say) would still let
//! four instances exhaust 1024, and would cut honest connectors that keep
//! many files or requests open.

/// Raise the soft `RLIMIT_NOFILE` to the hard limit, once per process.
/// A failure leaves the limit as it was (the handle cap still applies).
pub(crate) fn raise_soft_limit() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(raise);
}

#[cfg(target_os = "linux")]
fn raise() {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `limit` is a valid, writable `rlimit`.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0
        || limit.rlim_cur >= limit.rlim_max
    {
        return;
    }
    let before = limit.rlim_cur;
    limit.rlim_cur = limit.rlim_max;
    // SAFETY: `limit` is a valid `rlimit`; raising the soft limit up to the
    // hard limit needs no privilege.
    if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &limit) } == 0 {
        let after = limit.rlim_max;
        tracing::debug!(before, after, "raised the soft limit of open descriptors");
    }
}

/// Elsewhere the limit is left as the platform set it.
#[cfg(not(target_os = "linux"))]
fn raise() {}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    #[test]
    fn the_soft_limit_ends_at_the_hard_limit() {
        super::raise_soft_limit();
        let mut limit = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: `limit` is a valid, writable `rlimit`.
        assert_eq!(
            unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) },
            0
        );
        assert_eq!(limit.rlim_cur, limit.rlim_max);
    }
}
