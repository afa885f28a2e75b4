//! A server running in a background task, owned by a handle: dropping the handle stops it.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;

use tokio::net::TcpListener;

use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// Completes when the owning [`Running`] is stopped or dropped; pass it to a `serve` function.
pub type StopSignal = Pin<Box<dyn Future<Output = ()> + Send>>;

/// The task serving a server and the sender that tells it to stop.
pub struct Running<E> {
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<Result<(), E>>>,
}

impl<E: Send + 'static> Running<E> {
    /// Spawns `serve`, which must finish (after draining) once its stop signal completes.
    pub fn spawn<F, Fut>(serve: F) -> Self
    where
        F: FnOnce(StopSignal) -> Fut,
        Fut: Future<Output = Result<(), E>> + Send + 'static,
    {
        let (stop, stopped) = oneshot::channel::<()>();
        let signal: StopSignal = Box::pin(async move {
            let _ = stopped.await;
        });
        Self {
            stop: Some(stop),
            task: Some(tokio::spawn(serve(signal))),
        }
    }

    /// Stops accepting, waits for in-flight requests, and returns how serving ended.
    pub async fn stop(mut self) -> Result<(), E> {
        self.signal();
        match self.task.take() {
            Some(task) => task.await.unwrap_or(Ok(())),
            None => Ok(()),
        }
    }
}

impl<E> Running<E> {
    fn signal(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

impl<E> Drop for Running<E> {
    fn drop(&mut self) {
        self.signal();
    }
}

/// A server started on a listener: where it listens, the state its handlers share, and the task
/// serving it. What every server's handle is made of, so that a new service costs no copy of
/// the start, address and stop code. Dropping it stops the server.
pub struct Handle<S, E> {
    addr: SocketAddr,
    state: Arc<S>,
    running: Running<E>,
}

impl<S, E> Handle<S, E>
where
    S: Send + Sync + 'static,
    E: Send + 'static,
{
    /// Serves `state` on `listener` with `serve`, which must finish (after draining) once its
    /// stop signal completes.
    pub fn spawn<F, Fut>(listener: TcpListener, state: Arc<S>, serve: F) -> io::Result<Self>
    where
        F: FnOnce(TcpListener, Arc<S>, StopSignal) -> Fut,
        Fut: Future<Output = Result<(), E>> + Send + 'static,
    {
        let addr = listener.local_addr()?;
        let serving = Arc::clone(&state);
        let running = Running::spawn(|stop| serve(listener, serving, stop));
        Ok(Self {
            addr,
            state,
            running,
        })
    }

    /// The socket address the server listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The state the server's handlers share.
    pub fn state(&self) -> &Arc<S> {
        &self.state
    }

    /// Stops accepting, waits for in-flight requests, and returns how serving ended.
    pub async fn stop(self) -> Result<(), E> {
        self.running.stop().await
    }
}

/// A listener on an ephemeral port of 127.0.0.1: where a server a test starts listens.
pub async fn loopback() -> io::Result<TcpListener> {
    TcpListener::bind("127.0.0.1:0").await
}

/// A server's background chore (a sweeper, a pruner): the task is aborted when this is dropped,
/// so the chore lives exactly as long as serving does, even if serving is cancelled.
pub struct AbortOnDrop(pub JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}
