//! The supervisor of `flowtally run`'s tasks: every long-lived task (HTTP, snapshot writer,
//! checkpoint writer, loader, watcher) is spawned here by name, in one `JoinSet`, and all of
//! them hear the one [`Shutdown`]. A task that ends before the shutdown, by an error or a
//! panic, is a failure of the service: it is said with its name and cause, the shutdown is
//! fired so that the others finish cleanly (the applier still writes what is queued and the
//! checkpoint), and `run` returns the error.

use std::collections::HashMap;
use std::future::Future;
use std::time::Duration;

use tokio::task::{Id, JoinSet};

use crate::shutdown::{Shutdown, Trigger};

/// Why a supervised task ended before the shutdown.
#[derive(Debug, thiserror::Error)]
pub enum TaskFailed {
    #[error("the {task} task failed")]
    Error {
        task: &'static str,
        #[source]
        cause: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error("the {task} task panicked")]
    Panicked {
        task: &'static str,
        #[source]
        cause: tokio::task::JoinError,
    },
    #[error("the {task} task stopped before the shutdown")]
    Stopped { task: &'static str },
}

type Outcome = Result<(), Box<dyn std::error::Error + Send + Sync>>;

pub struct Tasks {
    set: JoinSet<Outcome>,
    names: HashMap<Id, &'static str>,
    trigger: Trigger,
    shutdown: Shutdown,
}

impl Tasks {
    pub fn new(trigger: Trigger, shutdown: Shutdown) -> Tasks {
        Tasks {
            set: JoinSet::new(),
            names: HashMap::new(),
            trigger,
            shutdown,
        }
    }

    /// The shutdown every task hears.
    pub fn shutdown(&self) -> Shutdown {
        self.shutdown.clone()
    }

    /// Fires the shutdown.
    pub fn stop(&self) {
        self.trigger.fire();
    }

    /// Runs `task` under supervision. It should end only once the shutdown fired (or, for a
    /// task that serves others, once they are gone).
    pub fn spawn<F, E>(&mut self, name: &'static str, task: F)
    where
        F: Future<Output = Result<(), E>> + Send + 'static,
        E: std::error::Error + Send + Sync + 'static,
    {
        let id = self
            .set
            .spawn(async move { task.await.map_err(|e| Box::new(e) as _) })
            .id();
        self.names.insert(id, name);
    }

    /// Like [`Tasks::spawn`], for a task that cannot fail but by panicking.
    pub fn spawn_infallible<F>(&mut self, name: &'static str, task: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        self.spawn(name, async move {
            task.await;
            Ok::<(), std::convert::Infallible>(())
        });
    }

    /// The next task to end while the service runs: `Some` failure when it ended before the
    /// shutdown (the shutdown is then fired), `None` when it ended as it should. Pending while
    /// no task is left.
    pub async fn next_failure(&mut self) -> Option<TaskFailed> {
        let Some(ended) = self.set.join_next_with_id().await else {
            return std::future::pending().await;
        };
        let failure = match ended {
            Ok((id, outcome)) => {
                let task = self.names.remove(&id).unwrap_or("unnamed");
                match outcome {
                    Err(cause) => Some(TaskFailed::Error { task, cause }),
                    Ok(()) if !self.shutdown.is_fired() => Some(TaskFailed::Stopped { task }),
                    Ok(()) => None,
                }
            }
            Err(cause) => {
                let task = self.names.remove(&cause.id()).unwrap_or("unnamed");
                Some(TaskFailed::Panicked { task, cause })
            }
        };
        if let Some(f) = &failure {
            tracing::error!(error = %crate::causes::Causes(f), "stopping the service");
            self.trigger.fire();
        }
        failure
    }

    /// After the shutdown: waits up to `within` for every task to end, then aborts what is
    /// left. The first failure met, if any.
    pub async fn join_all(mut self, within: Duration) -> Option<TaskFailed> {
        self.trigger.fire();
        let deadline = tokio::time::Instant::now() + within;
        let mut first = None;
        loop {
            match tokio::time::timeout_at(deadline, self.next_failure_or_end()).await {
                Ok(Some(Some(f))) => {
                    first.get_or_insert(f);
                }
                Ok(Some(None)) => {}
                Ok(None) => return first,
                Err(_) => {
                    let left: Vec<&str> = self.names.values().copied().collect();
                    tracing::warn!(tasks = ?left, "tasks still running at the shutdown deadline: aborted");
                    self.set.abort_all();
                    return first;
                }
            }
        }
    }

    /// `None` once no task is left.
    async fn next_failure_or_end(&mut self) -> Option<Option<TaskFailed>> {
        if self.set.is_empty() {
            return None;
        }
        Some(self.next_failure().await)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shutdown;

    fn tasks() -> Tasks {
        let (trigger, stop) = shutdown::channel();
        Tasks::new(trigger, stop)
    }

    #[tokio::test]
    async fn a_panicking_task_is_named_and_stops_the_others() {
        let mut t = tasks();
        let mut stop = t.shutdown();
        t.spawn_infallible("steady", async move { stop.fired().await });
        t.spawn_infallible("fragile", async { panic!("injected") });
        let failure = t.next_failure().await;
        match failure {
            Some(TaskFailed::Panicked { task, cause }) => {
                assert_eq!(task, "fragile");
                assert!(cause.is_panic());
            }
            other => panic!("expected the panic, got {other:?}"),
        }
        assert!(t.shutdown().is_fired(), "a failure fires the shutdown");
        assert!(t.join_all(Duration::from_secs(5)).await.is_none());
    }

    #[tokio::test]
    async fn an_error_keeps_its_cause() {
        let mut t = tasks();
        t.spawn("http", async {
            Err(std::io::Error::new(
                std::io::ErrorKind::AddrInUse,
                "port taken",
            ))
        });
        let failure = t.next_failure().await.expect("a failure");
        assert_eq!(
            crate::causes::Causes(&failure).to_string(),
            "the http task failed: port taken"
        );
    }

    #[tokio::test]
    async fn ending_at_the_shutdown_is_no_failure_and_stragglers_are_aborted() {
        let mut t = tasks();
        let mut stop = t.shutdown();
        t.spawn_infallible("polite", async move { stop.fired().await });
        t.spawn_infallible("stubborn", std::future::pending());
        t.stop();
        assert!(t.next_failure().await.is_none());
        let started = std::time::Instant::now();
        assert!(t.join_all(Duration::from_millis(100)).await.is_none());
        assert!(started.elapsed() < Duration::from_secs(5));
    }

    #[tokio::test]
    async fn ending_early_without_an_error_is_a_failure() {
        let mut t = tasks();
        t.spawn_infallible("watcher", async {});
        assert!(matches!(
            t.next_failure().await,
            Some(TaskFailed::Stopped { task: "watcher" })
        ));
    }
}
