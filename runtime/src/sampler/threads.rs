//! The threads chains run on: the caller's rayon pool when snell is called from inside one,
//! otherwise a pool that snell owns. A run therefore never starts rayon's global pool, which an
//! application embedding snell may still want to configure (`ThreadPoolBuilder::build_global`)
//! after its first run. Draws do not depend on the pool: every chain has its own random stream.

use std::sync::OnceLock;

static POOL: OnceLock<Option<rayon::ThreadPool>> = OnceLock::new();

/// Runs `f`, whose parallel iterators then use the caller's pool or snell's own.
pub(crate) fn install<R: Send>(f: impl FnOnce() -> R + Send) -> R {
    if rayon::current_thread_index().is_some() {
        return f();
    }
    let pool = POOL.get_or_init(|| rayon::ThreadPoolBuilder::new().thread_name(|i| format!("snell-{i}")).build().ok());
    let out = match pool {
        Some(pool) => pool.install(f),
        // no thread could be started: run on rayon's default pool rather than fail
        None => f(),
    };
    release_buffers();
    out
}

/// Frees what the native backend keeps for further evaluations on snell's worker threads and on
/// this thread, at the end of a run that [`install`] started (a run inside a caller's pool or
/// nested in another leaves them: those threads may still be evaluating).
fn release_buffers() {
    if let Some(Some(pool)) = POOL.get() {
        pool.broadcast(|_| crate::backend::Native::release_buffers());
    }
    crate::backend::Native::release_buffers();
}
