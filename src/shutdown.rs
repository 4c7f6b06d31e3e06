//! One shutdown signal for every task of the service (as in tokio's mini-redis): the signal
//! handler, a failed task's supervisor or a test triggers it; each task holds a [`Shutdown`]
//! and stops when it fires. Built on tokio-util's `CancellationToken`.

use tokio_util::sync::CancellationToken;

/// Fires the shutdown; cheap to clone (the signal handler and the supervisor each hold one).
#[derive(Clone)]
pub struct Trigger(CancellationToken);

/// Heard by the tasks; cheap to clone.
#[derive(Clone)]
pub struct Shutdown(CancellationToken);

pub fn channel() -> (Trigger, Shutdown) {
    let token = CancellationToken::new();
    (Trigger(token.clone()), Shutdown(token))
}

impl Trigger {
    pub fn fire(&self) {
        self.0.cancel();
    }
}

impl Shutdown {
    /// One that never fires (a router served until the process ends).
    pub fn never() -> Shutdown {
        Shutdown(CancellationToken::new())
    }

    /// Whether it fired.
    pub fn is_fired(&self) -> bool {
        self.0.is_cancelled()
    }

    /// Returns once it fired.
    pub async fn fired(&mut self) {
        self.0.cancelled().await
    }

    /// Returns once it fired, owning what it waits on (for `with_graceful_shutdown`).
    pub fn fired_owned(&self) -> impl std::future::Future<Output = ()> + Send + 'static {
        self.0.clone().cancelled_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn every_clone_hears_it_once_fired() {
        let (trigger, mut a) = channel();
        let mut b = a.clone();
        assert!(!a.is_fired());
        trigger.clone().fire();
        a.fired().await;
        b.fired().await;
        assert!(b.is_fired());
    }
}
