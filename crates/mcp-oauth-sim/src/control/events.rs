//! The journal as the control client reads it: pages of [`Event`]s from `/control/events`, and
//! live streams of them from `/control/events/stream` (Server-Sent Events).
//!
//! An event never holds a whole secret: credentials are a six-character prefix and `…`, enough
//! to tell which token a client presented.

use serde::{Deserialize, Serialize};
pub use sim_http::journal::Event;
use sim_http::log::root_cause;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::{Control, ControlError, Service};

impl Control {
    /// One page of `service`'s journal: events numbered `since` and later (at most 1000), and
    /// the `next` cursor.
    pub async fn events(&self, service: Service, since: u64) -> Result<EventPage, ControlError> {
        self.get(service, &format!("events?since={since}")).await
    }

    /// Every event both journals still hold from `since` on (each server numbers its own), in
    /// the order they happened.
    pub async fn all_events(&self, since: u64) -> Result<Vec<Event>, ControlError> {
        let (mut oauth, mcp) = tokio::try_join!(
            self.drain_events(Service::OAuth, since),
            self.drain_events(Service::Mcp, since)
        )?;
        oauth.extend(mcp);
        // Timestamps are fixed-width RFC 3339 in UTC, so they sort as text; a stable sort keeps
        // each server's own order among equal ones.
        oauth.sort_by(|a, b| a.at.cmp(&b.at));
        Ok(oauth)
    }

    /// Every event `service`'s journal still holds from `since` on, page by page.
    pub(super) async fn drain_events(
        &self,
        service: Service,
        since: u64,
    ) -> Result<Vec<Event>, ControlError> {
        let mut events = Vec::new();
        let mut cursor = since;
        loop {
            let page = self.events(service, cursor).await?;
            if page.events.is_empty() || page.next <= cursor {
                return Ok(events);
            }
            cursor = page.next;
            events.extend(page.events);
        }
    }

    /// Follows `service`'s journal live (Server-Sent Events), from the next request on, or
    /// from event `since` when given. Returns once the server has accepted the stream, so
    /// every request made afterwards shows up.
    pub async fn watch(
        &self,
        service: Service,
        since: Option<u64>,
    ) -> Result<EventStream, ControlError> {
        let response = self.open_stream(service, since).await?;
        Ok(EventStream::spawn(vec![(service, response)]))
    }

    /// Follows both journals at once, interleaved as events arrive. Ends when both servers
    /// have stopped.
    pub async fn watch_all(&self) -> Result<EventStream, ControlError> {
        let (oauth, mcp) = tokio::try_join!(
            self.open_stream(Service::OAuth, None),
            self.open_stream(Service::Mcp, None)
        )?;
        Ok(EventStream::spawn(vec![
            (Service::OAuth, oauth),
            (Service::Mcp, mcp),
        ]))
    }

    async fn open_stream(
        &self,
        service: Service,
        since: Option<u64>,
    ) -> Result<reqwest::Response, ControlError> {
        let mut url = format!("{}/control/events/stream", self.base(service));
        if let Some(since) = since {
            url.push_str(&format!("?since={since}"));
        }
        let request = self
            .streaming
            .get(&url)
            .header("accept", "text/event-stream");
        let response = self.send(request, &url).await?;
        let status = response.status();
        if !status.is_success() {
            let body = response.text().await.unwrap_or_default();
            return Err(ControlError::Refused {
                url,
                status,
                body: body.trim().to_owned(),
            });
        }
        Ok(response)
    }
}

/// A page of `GET /control/events?since=N`.
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct EventPage {
    /// The events, oldest first.
    pub events: Vec<Event>,
    /// What to pass as `since` for the events after these.
    pub next: u64,
    /// Events asked for that the journal no longer holds (it keeps `JOURNAL_SIZE`).
    #[serde(default)]
    pub missed: u64,
}

/// What a live stream delivers.
#[derive(Clone, Debug, PartialEq)]
pub enum Watched {
    /// Boxed: an event is large next to the other variant.
    Event(Box<Event>),
    /// The watcher fell behind and the server skipped `missed` events of `service`.
    Missed {
        /// The server whose events were skipped.
        service: Service,
        /// How many.
        missed: u64,
    },
}

/// Live events from one or both servers, in the order they arrive. Dropping it closes the
/// streams.
#[derive(Debug)]
pub struct EventStream {
    receiver: mpsc::Receiver<Result<Watched, ControlError>>,
    readers: Vec<JoinHandle<()>>,
}

impl EventStream {
    /// A reader task per response, all feeding one channel.
    pub(super) fn spawn(streams: Vec<(Service, reqwest::Response)>) -> Self {
        let (sender, receiver) = mpsc::channel(256);
        let readers = streams
            .into_iter()
            .map(|(service, response)| {
                let sender = sender.clone();
                tokio::spawn(async move {
                    let mut frames = Frames::new(service, response);
                    loop {
                        let item = frames.next().await.transpose();
                        let Some(item) = item else { return };
                        let failed = item.is_err();
                        if sender.send(item).await.is_err() || failed {
                            return;
                        }
                    }
                })
            })
            .collect();
        Self { receiver, readers }
    }

    /// The next event; `None` once every stream has ended (the rig stopped). A stream that
    /// breaks yields one error and ends.
    pub async fn next(&mut self) -> Option<Result<Watched, ControlError>> {
        self.receiver.recv().await
    }
}

impl Drop for EventStream {
    fn drop(&mut self) {
        for reader in &self.readers {
            reader.abort();
        }
    }
}

/// The longest frame accepted: an event is well under a kilobyte.
const MAX_FRAME: usize = 64 * 1024;

/// Splits one SSE response into frames and decodes them.
struct Frames {
    service: Service,
    response: reqwest::Response,
    url: String,
    buffer: Vec<u8>,
}

impl Frames {
    fn new(service: Service, response: reqwest::Response) -> Self {
        Self {
            service,
            url: response.url().to_string(),
            response,
            buffer: Vec::new(),
        }
    }

    async fn next(&mut self) -> Result<Option<Watched>, ControlError> {
        loop {
            while let Some(end) = self.buffer.windows(2).position(|pair| pair == b"\n\n") {
                let frame: Vec<u8> = self.buffer.drain(..end + 2).collect();
                let frame = String::from_utf8_lossy(&frame);
                if let Some(watched) =
                    decode(self.service, &frame).map_err(|reason| self.bad(reason))?
                {
                    return Ok(Some(watched));
                }
            }
            if self.buffer.len() > MAX_FRAME {
                return Err(self.bad(format!("a frame longer than {MAX_FRAME} bytes")));
            }
            match self.response.chunk().await {
                // CR LF line ends are allowed by the SSE format; LF alone is what is left.
                Ok(Some(chunk)) => self
                    .buffer
                    .extend(chunk.iter().copied().filter(|byte| *byte != b'\r')),
                Ok(None) => return Ok(None),
                Err(error) => {
                    return Err(ControlError::Unreachable {
                        url: self.url.clone(),
                        reason: root_cause(&error),
                    });
                }
            }
        }
    }

    fn bad(&self, reason: String) -> ControlError {
        ControlError::BadAnswer {
            url: self.url.clone(),
            reason,
        }
    }
}

/// One frame: an `event: request` (or unnamed) frame is an [`Event`], `event: lagged` a count of
/// skipped events; comments (keep-alives) and other kinds are nothing.
fn decode(service: Service, frame: &str) -> Result<Option<Watched>, String> {
    let mut kind = "message";
    let mut data = String::new();
    for line in frame.lines() {
        let (field, value) = line.split_once(':').unwrap_or((line, ""));
        let value = value.strip_prefix(' ').unwrap_or(value);
        match field {
            "event" => kind = value,
            "data" => {
                if !data.is_empty() {
                    data.push('\n');
                }
                data.push_str(value);
            }
            _ => {}
        }
    }
    if data.is_empty() {
        return Ok(None);
    }
    let unreadable = |error: serde_json::Error| format!("{error} in {data}");
    match kind {
        "request" | "message" => serde_json::from_str(&data)
            .map(|event| Some(Watched::Event(Box::new(event))))
            .map_err(unreadable),
        "lagged" => {
            #[derive(Deserialize)]
            struct Lagged {
                missed: u64,
            }
            serde_json::from_str::<Lagged>(&data)
                .map(|lagged| {
                    Some(Watched::Missed {
                        service,
                        missed: lagged.missed,
                    })
                })
                .map_err(unreadable)
        }
        _ => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn an_event_prints_as_one_line_with_the_facts_that_are_there() {
        let event: Event = serde_json::from_value(json!({
            "seq": 12, "at": "2026-01-01T00:00:00.000Z", "service": "oauth",
            "method": "POST", "path": "/token", "status": 200, "ms": 0.42,
            "client_id": "abcd1234efgh5678", "grant_type": "refresh_token",
            "rpc_method": null, "tool": null, "fault": 3,
            "presented": "k3Jf2a…", "issued": "Zx81qq…"
        }))
        .unwrap();
        assert_eq!(
            event.to_string(),
            "[oauth] #12 POST /token 200 grant=refresh_token client=abcd1234 \
             presented=k3Jf2a… issued=Zx81qq… fault=3 0.4ms"
        );
    }

    #[test]
    fn frames_decode_to_events_and_lag_notices_and_comments_to_nothing() {
        assert_eq!(decode(Service::Mcp, ": keep-alive\n\n"), Ok(None));
        let frame =
            "id: 7\nevent: request\ndata: {\"seq\":7,\"service\":\"mcp\",\"status\":401}\n\n";
        let Ok(Some(Watched::Event(event))) = decode(Service::Mcp, frame) else {
            panic!("{frame:?} is an event");
        };
        assert_eq!((event.seq, event.status, &*event.service), (7, 401, "mcp"));
        assert_eq!(
            decode(Service::OAuth, "event: lagged\ndata: {\"missed\": 4}\n\n"),
            Ok(Some(Watched::Missed {
                service: Service::OAuth,
                missed: 4
            }))
        );
        assert!(decode(Service::OAuth, "data: {not json\n\n").is_err());
    }
}
