//! `GET /api/events`: both journals live, as Server-Sent Events, for the page's timeline.
//!
//! One pair of journal streams ([`Control::watch_all`]) feeds every open page, so that pages
//! do not use up the servers' own few stream slots; it is opened by the first page and opened
//! again if it ended. Each page first gets what the journals still hold (the last
//! [`BACKLOG`] events), then every event as it happens.

use std::collections::BTreeMap;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use bytes::Bytes;
use http::StatusCode;
use http::header::{self, HeaderValue};
use http_body_util::BodyExt;
use serde_json::json;
use sim_http::response::plain_error;
use sim_http::{AbortOnDrop, Response};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, broadcast, mpsc, watch};

use super::MAX_STREAMS;
use crate::Control;
use crate::control::{Event, Watched};

/// Events of the past a page gets when it opens the stream.
pub const BACKLOG: usize = 500;

/// The shared feed of both journals, and the pages' stream slots.
pub(super) struct Feed {
    upstream: Mutex<Option<Upstream>>,
    slots: Arc<Semaphore>,
    closed: watch::Sender<bool>,
}

/// The task reading both journals, and where it sends each event as an SSE frame.
struct Upstream {
    frames: broadcast::Sender<Frame>,
    reader: AbortOnDrop,
}

/// One event as a page gets it: its server, its number there, and the frame.
#[derive(Clone)]
struct Frame {
    service: String,
    seq: u64,
    bytes: Bytes,
}

impl Feed {
    pub(super) fn new() -> Self {
        Self {
            upstream: Mutex::new(None),
            slots: Arc::new(Semaphore::new(MAX_STREAMS)),
            closed: watch::channel(false).0,
        }
    }

    /// Ends every open stream: the dashboard is stopping.
    pub(super) fn close(&self) {
        self.closed.send_replace(true);
        *self.lock() = None;
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<Upstream>> {
        self.upstream
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// A receiver of the live feed, opening the journal streams if they are not open.
    async fn subscribe(&self, control: &Control) -> Result<broadcast::Receiver<Frame>, String> {
        if let Some(upstream) = self.lock().as_ref()
            && !upstream.reader.0.is_finished()
        {
            return Ok(upstream.frames.subscribe());
        }
        let mut stream = control
            .watch_all()
            .await
            .map_err(|error| error.to_string())?;
        let (frames, receiver) = broadcast::channel(256);
        let sender = frames.clone();
        let reader = tokio::spawn(async move {
            while let Some(Ok(watched)) = stream.next().await {
                let frame = match watched {
                    Watched::Event(event) => event_frame(&event),
                    Watched::Missed { service, missed } => Frame {
                        service: service.name().to_owned(),
                        seq: 0,
                        bytes: Bytes::from(format!(
                            "event: lagged\ndata: {}\n\n",
                            json!({ "service": service.name(), "missed": missed })
                        )),
                    },
                };
                // No page listening is no reason to stop: one may open in a moment.
                let _ = sender.send(frame);
            }
        });
        let mut upstream = self.lock();
        // Another page may have opened one meanwhile; the newest wins, the other ends.
        *upstream = Some(Upstream {
            frames,
            reader: AbortOnDrop(reader),
        });
        Ok(receiver)
    }

    /// The SSE answer: the backlog, then live events; `503` beyond [`MAX_STREAMS`] pages.
    pub(super) async fn stream(&self, control: &Control) -> Response {
        let Ok(slot) = self.slots.clone().try_acquire_owned() else {
            return plain_error(
                StatusCode::SERVICE_UNAVAILABLE,
                &format!("at most {MAX_STREAMS} dashboard event streams at once; close a page"),
            );
        };
        // Subscribed before the backlog is read, so that no event falls between the two.
        let live = match self.subscribe(control).await {
            Ok(live) => live,
            Err(error) => return plain_error(StatusCode::BAD_GATEWAY, &error),
        };
        let backlog = match control.all_events(0).await {
            Ok(events) => events,
            Err(error) => return plain_error(StatusCode::BAD_GATEWAY, &error.to_string()),
        };
        let skip = backlog.len().saturating_sub(BACKLOG);
        let backlog: Vec<Frame> = backlog[skip..].iter().map(event_frame).collect();
        let (sender, receiver) = mpsc::channel(64);
        tokio::spawn(forward(
            backlog,
            live,
            self.closed.subscribe(),
            sender,
            slot,
        ));
        let mut response = Response::new(SseBody { receiver }.boxed());
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/event-stream"),
        );
        headers.insert("x-accel-buffering", HeaderValue::from_static("no"));
        response
    }
}

/// `event: request` with the event's JSON, which names its server.
fn event_frame(event: &Event) -> Frame {
    let data = serde_json::to_string(event).unwrap_or_default();
    Frame {
        service: event.service.to_string(),
        seq: event.seq,
        bytes: Bytes::from(format!("event: request\ndata: {data}\n\n")),
    }
}

/// Feeds one page: the backlog, then live events it did not get in the backlog, with a
/// comment every 15 s of silence. Ends when the page goes, the feed ends or the dashboard
/// stops.
async fn forward(
    backlog: Vec<Frame>,
    mut live: broadcast::Receiver<Frame>,
    mut closed: watch::Receiver<bool>,
    sender: mpsc::Sender<Bytes>,
    _slot: OwnedSemaphorePermit,
) {
    let mut seen: BTreeMap<String, u64> = BTreeMap::new();
    if sender
        .send(Bytes::from_static(b": mcp-oauth-sim dashboard events\n\n"))
        .await
        .is_err()
    {
        return;
    }
    for frame in backlog {
        seen.insert(frame.service.clone(), frame.seq);
        if sender.send(frame.bytes).await.is_err() {
            return;
        }
    }
    loop {
        let chunk = tokio::select! {
            received = live.recv() => match received {
                Ok(frame) => {
                    let last = seen.get(&frame.service).copied().unwrap_or(0);
                    if frame.seq != 0 && frame.seq <= last {
                        continue;
                    }
                    frame.bytes
                }
                Err(broadcast::error::RecvError::Lagged(missed)) => Bytes::from(format!(
                    "event: lagged\ndata: {}\n\n",
                    json!({ "missed": missed })
                )),
                Err(broadcast::error::RecvError::Closed) => return,
            },
            _ = closed.wait_for(|closed| *closed) => return,
            // The page went: its slot is free at once, not at the next event.
            () = sender.closed() => return,
            () = tokio::time::sleep(std::time::Duration::from_secs(15)) => {
                Bytes::from_static(b": keep-alive\n\n")
            }
        };
        if sender.send(chunk).await.is_err() {
            return;
        }
    }
}

/// The body of a stream: whatever its forwarding task sends, ending when it stops.
struct SseBody {
    receiver: mpsc::Receiver<Bytes>,
}

impl http_body::Body for SseBody {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, Self::Error>>> {
        self.receiver
            .poll_recv(cx)
            .map(|chunk| chunk.map(|chunk| Ok(http_body::Frame::data(chunk))))
    }
}
