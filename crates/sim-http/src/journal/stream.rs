//! `GET /control/events/stream`: the journal live, as Server-Sent Events.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::StatusCode;
use http::header::{self, HeaderValue};
use http_body::Frame;
use http_body_util::BodyExt;
use tokio::sync::{OwnedSemaphorePermit, broadcast, mpsc, watch};

use super::{Journal, KEEP_ALIVE, MAX_STREAMS};
use crate::Response;
use crate::response::plain_error;
use serde_json::json;

impl Journal {
    /// A Server-Sent Events response: events from `since` still in the ring (if given), then
    /// every new event as it is recorded. `503` when [`MAX_STREAMS`] are already open.
    pub fn stream(&self, since: Option<u64>) -> Response {
        let Ok(permit) = self.streams.clone().try_acquire_owned() else {
            return plain_error(
                StatusCode::SERVICE_UNAVAILABLE,
                &format!("at most {MAX_STREAMS} event streams at once; close one first"),
            );
        };
        // Subscribe before reading the ring, so that no event falls between the two.
        let live = self.live.subscribe();
        let backlog = since.map_or_else(Vec::new, |since| self.since(since, usize::MAX).events);
        let (sender, receiver) = mpsc::channel(64);
        tokio::spawn(forward(
            backlog,
            live,
            self.closed.subscribe(),
            sender,
            permit,
        ));
        let mut response = Response::new(SseBody { receiver }.boxed());
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/event-stream"),
        );
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        // Tells nginx-like proxies not to buffer the stream.
        headers.insert("x-accel-buffering", HeaderValue::from_static("no"));
        response
    }
}

/// Feeds one stream: the backlog, then live events, with keep-alive comments when idle. Ends
/// when the client goes away or the server stops.
async fn forward(
    backlog: Vec<(u64, Bytes)>,
    mut live: broadcast::Receiver<(u64, Bytes)>,
    mut closed: watch::Receiver<bool>,
    sender: mpsc::Sender<Bytes>,
    _permit: OwnedSemaphorePermit,
) {
    let mut last = 0;
    if sender
        .send(Bytes::from_static(b": mcp-oauth-sim events\n\n"))
        .await
        .is_err()
    {
        return;
    }
    for (seq, json) in backlog {
        last = seq;
        if sender.send(frame(seq, &json)).await.is_err() {
            return;
        }
    }
    loop {
        let chunk = tokio::select! {
            received = live.recv() => match received {
                Ok((seq, _)) if seq <= last => continue,
                Ok((seq, json)) => {
                    last = seq;
                    frame(seq, &json)
                }
                Err(broadcast::error::RecvError::Lagged(missed)) => Bytes::from(format!(
                    "event: lagged\ndata: {}\n\n",
                    json!({ "missed": missed })
                )),
                Err(broadcast::error::RecvError::Closed) => return,
            },
            _ = closed.wait_for(|closed| *closed) => return,
            () = tokio::time::sleep(KEEP_ALIVE) => Bytes::from_static(b": keep-alive\n\n"),
        };
        if sender.send(chunk).await.is_err() {
            return;
        }
    }
}

fn frame(seq: u64, json: &[u8]) -> Bytes {
    let mut frame = format!("id: {seq}\nevent: request\ndata: ").into_bytes();
    frame.extend_from_slice(json);
    frame.extend_from_slice(b"\n\n");
    Bytes::from(frame)
}

/// The body of a stream: whatever the forwarding task sends, ending when it stops.
struct SseBody {
    receiver: mpsc::Receiver<Bytes>,
}

impl http_body::Body for SseBody {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        self.receiver
            .poll_recv(cx)
            .map(|chunk| chunk.map(|chunk| Ok(Frame::data(chunk))))
    }
}
