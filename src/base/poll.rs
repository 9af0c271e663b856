//! The one way this tool waits for something: ask `probe` every `interval` until it answers
//! or `limit` has passed. Every wait (readiness, the port lock, another start, a compose
//! service, the hub, a Slurm job's lab) goes through it, so each has a deadline and an interval,
//! said once. The only waits without a deadline are `watch` and `watch_ok`, for what the user
//! ends (a job in Slurm's queue, the ssh connection under a tunnel), which their callers race
//! against Ctrl-C. Floor 0.

use std::future::Future;
use std::time::Duration;

/// Calls `probe` until it returns Some (that value), or None once `limit` has passed. The
/// probe runs at least once, and once more at the deadline.
pub async fn until<T, F, Fut>(limit: Duration, interval: Duration, mut probe: F) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        if let Some(value) = probe().await {
            return Some(value);
        }
        let now = tokio::time::Instant::now();
        if now >= deadline {
            return None;
        }
        tokio::time::sleep(interval.min(deadline - now)).await;
    }
}

/// `until`, with a probe that can fail: an error ends the wait at once.
pub async fn until_ok<T, E, F, Fut>(limit: Duration, interval: Duration, mut probe: F) -> Result<Option<T>, E>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Option<T>, E>>,
{
    until(limit, interval, || {
        let next = probe();
        async move { next.await.transpose() }
    })
    .await
    .transpose()
}

/// `until` with no deadline: for what only the user ends, raced by the caller against the stop
/// signal (a job that waits in Slurm's queue for hours, a connection that may drop).
pub async fn watch<T, F, Fut>(interval: Duration, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    loop {
        if let Some(value) = probe().await {
            return value;
        }
        tokio::time::sleep(interval).await;
    }
}

/// `watch`, with a probe that can fail: an error ends the watch at once.
pub async fn watch_ok<T, E, F, Fut>(interval: Duration, mut probe: F) -> Result<T, E>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Option<T>, E>>,
{
    watch(interval, || {
        let next = probe();
        async move { next.await.transpose() }
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn waits_until_the_probe_answers_or_the_limit() {
        let mut calls = 0;
        let found = until(Duration::from_secs(1), Duration::from_millis(100), || {
            calls += 1;
            let n = calls;
            async move { (n == 3).then_some(n) }
        })
        .await;
        assert_eq!(found, Some(3));
        let mut calls = 0;
        let none: Option<()> = until(Duration::from_millis(250), Duration::from_millis(100), || {
            calls += 1;
            async { None }
        })
        .await;
        // At 0 ms and once more at the deadline at least; at 0, 100, 200 and 250 ms at most
        // (a loaded machine sleeps longer, never shorter).
        assert_eq!(none, None);
        assert!((2..=4).contains(&calls), "{calls} probes");
    }

    #[tokio::test]
    async fn an_error_ends_the_wait() {
        let r: Result<Option<()>, &str> =
            until_ok(Duration::from_secs(5), Duration::from_millis(10), || async { Err("gone") }).await;
        assert_eq!(r, Err("gone"));
        let r: Result<Option<u8>, &str> =
            until_ok(Duration::from_secs(5), Duration::from_millis(10), || async { Ok(Some(7)) }).await;
        assert_eq!(r, Ok(Some(7)));
        let mut calls = 0;
        let r: Result<u8, &str> = watch_ok(Duration::from_millis(1), || {
            calls += 1;
            let n = calls;
            async move { Ok((n == 3).then_some(n)) }
        })
        .await;
        assert_eq!(r, Ok(3));
    }
}
