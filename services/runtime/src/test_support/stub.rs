//! The plumbing of the small services tests stand up (the runtime's `test` service, the
//! gateway's `widgets`): one running in a task until stopped ([`Running`]), a [`Gate`] its
//! handlers wait at, and the [`failure`] a "fail as asked" endpoint answers.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use contract::{ErrorCode, FieldError, ServiceError};
use tokio::sync::{Notify, oneshot};
use tokio::task::JoinHandle;

use crate::ServiceBuilder;
use crate::serve::{RunningService, ServeError};

/// A service running in a task, stopped through [`Running::stop`] (or its `shutdown` sender).
#[derive(Debug)]
pub struct Running {
    /// The instance id it registered with.
    pub id: String,
    /// Sending (or dropping) it starts the service's drain.
    pub shutdown: Option<oneshot::Sender<()>>,
    /// The service's task, which ends once it has drained.
    pub task: JoinHandle<Result<(), ServeError>>,
}

impl Running {
    /// Runs `service` in a task.
    pub fn spawn<S: Clone + Send + Sync + 'static>(service: RunningService<S>) -> Self {
        let (tx, rx) = oneshot::channel::<()>();
        let id = service.id().to_owned();
        let task = tokio::spawn(service.run(async move {
            let _ = rx.await;
        }));
        Self {
            id,
            shutdown: Some(tx),
            task,
        }
    }

    /// Starts `builder` on `client`, runs it, and waits until the server routes to it.
    pub async fn start<S: Clone + Send + Sync + 'static>(
        client: &async_nats::Client,
        builder: ServiceBuilder<S>,
    ) -> Self {
        let service = builder.start(client).await.expect("service starts");
        let name = service.name().to_owned();
        let running = Self::spawn(service);
        super::wait_for_instance(client, &name, &running.id).await;
        running
    }

    /// Stops the service and waits until it has drained.
    pub async fn stop(mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        self.task
            .await
            .expect("the service task ends")
            .expect("the service stops cleanly");
    }
}

/// Where a handler waits until the test lets it through (shared by clones).
#[derive(Debug, Clone, Default)]
pub struct Gate {
    notify: Arc<Notify>,
    open: Arc<AtomicBool>,
}

impl Gate {
    /// A gate that is already open.
    pub fn opened() -> Self {
        let gate = Self::default();
        gate.open();
        gate
    }

    /// Lets every waiter through, now and later.
    pub fn open(&self) {
        self.open.store(true, Ordering::SeqCst);
        self.notify.notify_waiters();
    }

    /// Holds the next waiters until [`open`](Self::open).
    pub fn close(&self) {
        self.open.store(false, Ordering::SeqCst);
    }

    /// Waits until the gate is open.
    pub async fn wait(&self) {
        loop {
            // Registered before the check, so an `open` in between is not missed.
            let notified = self.notify.notified();
            if self.open.load(Ordering::SeqCst) {
                return;
            }
            notified.await;
        }
    }
}

/// The error a "fail as asked" endpoint answers for `status`: a 429 with `Retry-After: 7`, a
/// 422 with one field error (`name`), any other status with `message`.
pub fn failure(status: u16, message: String) -> ServiceError {
    match ErrorCode::from_status(status) {
        ErrorCode::RateLimited => ServiceError::rate_limited(message, 7),
        ErrorCode::ValidationFailed => {
            ServiceError::validation(vec![FieldError::new("name", "too long")])
        }
        code => ServiceError::new(code, message),
    }
}
