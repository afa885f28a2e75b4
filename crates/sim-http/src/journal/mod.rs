//! The journal: what each request did, kept so a test can assert on what the client under test
//! really did ("it refreshed exactly once, then called").
//!
//! Each server keeps a bounded ring of [`Event`]s with increasing sequence numbers, served by
//! `GET /control/events?since=SEQ` and, live, as Server-Sent Events by
//! `GET /control/events/stream`. Events never hold a secret: credentials appear as a short
//! prefix ([`crate::secret::redact`]), enough to tell which token a client presented.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http::{Method, StatusCode};
use tokio::sync::{Semaphore, broadcast, watch};

use crate::Response;
use crate::control::Call;
use crate::form::Params;
use crate::response::{json_text, method_not_allowed, plain_error};

use event::rfc3339;

mod event;
mod stream;

pub use event::{Asked, Assertion, Event, MAX_PATH, records};

/// Events a journal keeps unless configured otherwise.
pub const DEFAULT_CAPACITY: usize = 1000;

/// The largest journal a server may be configured with.
pub const MAX_CAPACITY: usize = 100_000;

/// Events one `GET /control/events` returns at most.
pub const MAX_PAGE: usize = 1000;

/// Live streams a server serves at once; each holds a task and a connection.
pub const MAX_STREAMS: usize = 8;

/// How often an idle stream sends a comment, so that proxies and tunnels keep it open.
const KEEP_ALIVE: Duration = Duration::from_secs(15);

/// A bounded, live journal of one server's requests.
#[derive(Debug)]
pub struct Journal {
    ring: Mutex<Ring>,
    capacity: usize,
    /// Each event's number and JSON, for live streams; nothing is sent while none is open.
    live: broadcast::Sender<(u64, Bytes)>,
    closed: watch::Sender<bool>,
    streams: Arc<Semaphore>,
}

#[derive(Debug)]
struct Ring {
    slots: VecDeque<Slot>,
    /// Slots made but not holding an event: made at start-up, or emptied by [`Journal::clear`].
    spare: Vec<Slot>,
    next_seq: u64,
}

/// One recorded event, kept as its JSON.
///
/// Slot buffers are made side by side when the journal is created and then reused: a full ring
/// recycles its oldest slot for the newest event. Events are recorded while traffic churns
/// through the heap; were each a fresh set of small allocations, the live ones would end up
/// strewn over pages the allocator could otherwise hand back once the traffic's tokens expire,
/// and the process would stay near its peak size long after the load.
#[derive(Debug)]
struct Slot {
    seq: u64,
    json: Vec<u8>,
}

impl Slot {
    fn new() -> Self {
        Self {
            seq: 0,
            json: Vec::with_capacity(SLOT_BYTES),
        }
    }
}

/// What a slot holds room for from the start: a typical event's JSON is 250–400 bytes, so only
/// events with long paths or names grow their buffer.
const SLOT_BYTES: usize = 512;

/// Slots made with the journal, before any traffic: the whole default journal (half a MiB), and
/// no more than 2 MiB for a large one, whose further slots are made as it fills.
const PREALLOCATED_SLOTS: usize = 4096;

/// A page of `GET /control/events`.
#[derive(Debug)]
pub struct Page {
    /// Each event's number and JSON, oldest first.
    pub events: Vec<(u64, Bytes)>,
    /// What to pass as `since` to get the events after these.
    pub next: u64,
    /// Events asked for that the ring no longer holds.
    pub missed: u64,
}

impl Page {
    /// `{"events":[…],"next":N}`, with `"missed":M` when some were.
    pub fn to_json(&self) -> Vec<u8> {
        let size: usize = self.events.iter().map(|(_, json)| json.len() + 1).sum();
        let mut body = Vec::with_capacity(size + 64);
        body.extend_from_slice(b"{\"events\":[");
        for (index, (_, json)) in self.events.iter().enumerate() {
            if index > 0 {
                body.push(b',');
            }
            body.extend_from_slice(json);
        }
        body.extend_from_slice(format!("],\"next\":{}", self.next).as_bytes());
        if self.missed > 0 {
            body.extend_from_slice(format!(",\"missed\":{}", self.missed).as_bytes());
        }
        body.push(b'}');
        body
    }
}

impl Default for Journal {
    fn default() -> Self {
        Self::new(DEFAULT_CAPACITY)
    }
}

impl Journal {
    /// A journal keeping the last `capacity` events (at least 1, at most [`MAX_CAPACITY`]).
    pub fn new(capacity: usize) -> Self {
        let capacity = capacity.clamp(1, MAX_CAPACITY);
        Self {
            ring: Mutex::new(Ring {
                slots: VecDeque::with_capacity(capacity.min(PREALLOCATED_SLOTS)),
                spare: (0..capacity.min(PREALLOCATED_SLOTS))
                    .map(|_| Slot::new())
                    .collect(),
                next_seq: 1,
            }),
            capacity,
            live: broadcast::channel(256).0,
            closed: watch::channel(false).0,
            streams: Arc::new(Semaphore::new(MAX_STREAMS)),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Ring> {
        // A poisoned lock only means a panic elsewhere mid-push; the ring is still usable.
        self.ring
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Appends `event`, numbering and timestamping it, and sends it to live streams.
    pub fn record(&self, mut event: Event) {
        event.at = rfc3339(SystemTime::now());
        let mut ring = self.lock();
        event.seq = ring.next_seq;
        ring.next_seq += 1;
        let mut slot = if ring.slots.len() == self.capacity {
            ring.slots.pop_front()
        } else {
            ring.spare.pop()
        }
        .unwrap_or_else(Slot::new);
        slot.seq = event.seq;
        slot.json.clear();
        // Writing plain strings and numbers into a Vec cannot fail.
        let _ = serde_json::to_writer(&mut slot.json, &event);
        // Sent under the lock so that streams see events in sequence order.
        if self.live.receiver_count() > 0 {
            let _ = self
                .live
                .send((slot.seq, Bytes::copy_from_slice(&slot.json)));
        }
        ring.slots.push_back(slot);
    }

    /// How many events were ever recorded (a reset included): a number that moves whenever a
    /// request does, for a reader that wants to know whether anything happened since it last
    /// looked without reading the events.
    pub fn recorded(&self) -> u64 {
        self.lock().next_seq - 1
    }

    /// Events numbered `since` and later, at most `limit`.
    pub fn since(&self, since: u64, limit: usize) -> Page {
        let ring = self.lock();
        let oldest = ring.slots.front().map_or(ring.next_seq, |slot| slot.seq);
        let events: Vec<_> = ring
            .slots
            .iter()
            .skip_while(|slot| slot.seq < since)
            .take(limit)
            .map(|slot| (slot.seq, Bytes::copy_from_slice(&slot.json)))
            .collect();
        let next = events
            .last()
            .map_or(ring.next_seq.max(since), |(seq, _)| seq + 1);
        Page {
            missed: oldest.saturating_sub(since.max(1)),
            events,
            next,
        }
    }

    /// Forgets every event; numbering goes on, so cursors held by testers stay valid.
    pub fn clear(&self) {
        let ring = &mut *self.lock();
        ring.spare.extend(ring.slots.drain(..));
    }

    /// Ends every live stream: called when the server stops, so that shutdown need not wait for
    /// streams that would never finish by themselves.
    pub fn close(&self) {
        self.closed.send_replace(true);
    }

    /// Serves `/control/events` and `/control/events/stream`; `None` for any other path.
    pub fn control(&self, call: &Call) -> Option<Response> {
        let rest = call.path.strip_prefix("/control/events")?;
        if !matches!(rest, "" | "/stream") {
            return None;
        }
        if call.method != Method::GET {
            return Some(method_not_allowed("GET"));
        }
        let query = match Params::parse(call.query.as_deref().unwrap_or_default().as_bytes()) {
            Ok(query) => query,
            Err(error) => return Some(plain_error(StatusCode::BAD_REQUEST, &error.to_string())),
        };
        let number = |name: &str| -> Result<Option<u64>, String> {
            match query.single(name) {
                Ok(None) => Ok(None),
                Ok(Some(value)) => value
                    .parse()
                    .map(Some)
                    .map_err(|_| format!("{name} must be a non-negative integer")),
                Err(error) => Err(error.to_string()),
            }
        };
        let (since, limit) = match (number("since"), number("limit")) {
            (Ok(since), Ok(limit)) => (since, limit),
            (Err(message), _) | (_, Err(message)) => {
                return Some(plain_error(StatusCode::BAD_REQUEST, &message));
            }
        };
        if rest == "/stream" {
            // A reconnecting EventSource sends the last id it saw.
            let resumed = call
                .headers
                .get("last-event-id")
                .and_then(|value| value.to_str().ok())
                .and_then(|value| value.trim().parse::<u64>().ok())
                // Saturating: a client may send any number, `u64::MAX` included.
                .map(|seen| seen.saturating_add(1));
            return Some(self.stream(since.or(resumed)));
        }
        let limit = limit.map_or(MAX_PAGE, |limit| (limit as usize).min(MAX_PAGE));
        Some(json_text(
            StatusCode::OK,
            self.since(since.unwrap_or(0), limit).to_json(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use std::time::UNIX_EPOCH;

    use http::header;
    use http_body_util::BodyExt;

    use super::*;
    use crate::faults::DropConnection;

    fn event(path: &str) -> Event {
        Event {
            service: "oauth".into(),
            method: "POST".into(),
            path: path.into(),
            status: 200,
            ..Event::default()
        }
    }

    /// The paths of a page's events, read back from their JSON.
    fn paths(page: &Page) -> Vec<String> {
        page.events
            .iter()
            .map(|(_, json)| {
                let event: serde_json::Value = serde_json::from_slice(json).unwrap();
                event["path"].as_str().unwrap().to_owned()
            })
            .collect()
    }

    #[test]
    fn a_page_is_the_events_json_in_order_with_the_cursor() {
        let journal = Journal::new(2);
        for path in ["/a", "/b", "/c"] {
            journal.record(event(path));
        }

        let body: serde_json::Value =
            serde_json::from_slice(&journal.since(0, MAX_PAGE).to_json()).unwrap();

        assert_eq!(body["events"][0]["seq"], 2);
        assert_eq!(body["events"][0]["path"], "/b");
        assert_eq!(body["events"][1]["seq"], 3);
        assert_eq!(body["events"][1]["service"], "oauth");
        assert_eq!(body["next"], 4);
        assert_eq!(body["missed"], 1);
        let caught_up: serde_json::Value =
            serde_json::from_slice(&journal.since(4, MAX_PAGE).to_json()).unwrap();
        assert_eq!(caught_up, serde_json::json!({ "events": [], "next": 4 }));
    }

    #[test]
    fn a_full_ring_reuses_its_buffers_instead_of_allocating() {
        let journal = Journal::new(2);
        journal.record(event("/a"));
        journal.record(event("/b"));
        let buffers = |journal: &Journal| -> Vec<*const u8> {
            journal
                .lock()
                .slots
                .iter()
                .map(|slot| slot.json.as_ptr())
                .collect()
        };
        let before = buffers(&journal);

        journal.record(event("/c"));
        journal.record(event("/d"));

        assert_eq!(
            buffers(&journal),
            before,
            "the same two buffers, in the same order"
        );
        assert_eq!(paths(&journal.since(0, MAX_PAGE)), ["/c", "/d"]);

        journal.clear();
        journal.record(event("/e"));
        journal.record(event("/f"));
        let mut after_clear = buffers(&journal);
        after_clear.sort();
        let mut before = before;
        before.sort();
        assert_eq!(
            after_clear, before,
            "clearing keeps the buffers for the next events"
        );
        assert_eq!(paths(&journal.since(0, MAX_PAGE)), ["/e", "/f"]);
    }

    #[test]
    fn control_reads_and_preflights_are_not_recorded() {
        assert!(!records(&Method::GET, "/control/events"));
        assert!(!records(&Method::HEAD, "/control/state"));
        assert!(!records(&Method::GET, "/control"));
        assert!(!records(&Method::OPTIONS, "/token"));
        assert!(records(&Method::POST, "/control/faults"));
        assert!(records(&Method::DELETE, "/control/faults/3"));
        assert!(records(&Method::GET, "/authorize"));
        assert!(records(&Method::GET, "/controlled"));
    }

    #[test]
    fn events_round_the_time_bound_the_path_and_show_a_drop_as_status_0() {
        let answered = crate::response::empty(StatusCode::OK);
        let event = Event::answered(
            "oauth",
            &Method::POST,
            format!("/{}", "x".repeat(1000)),
            &answered,
            Duration::from_micros(1_234_567),
        );
        assert_eq!(event.ms, 1234.57);
        assert_eq!(event.path.chars().count(), MAX_PATH + 1);
        assert_eq!(event.status, 200);

        let mut dropped = crate::response::empty(StatusCode::OK);
        dropped.extensions_mut().insert(DropConnection);
        let event = Event::answered(
            "mcp",
            &Method::POST,
            "/mcp".into(),
            &dropped,
            Duration::ZERO,
        );
        assert_eq!(event.status, 0);
        assert_eq!(event.path, "/mcp");
    }

    #[test]
    fn timestamps_are_rfc3339_utc() {
        assert_eq!(rfc3339(UNIX_EPOCH), "1970-01-01T00:00:00.000000Z");
        let later = UNIX_EPOCH + Duration::from_micros(1_795_321_862_123_456);
        assert_eq!(rfc3339(later), "2026-11-22T04:31:02.123456Z");
        let leap = UNIX_EPOCH + Duration::from_secs(951_782_400);
        assert_eq!(rfc3339(leap), "2000-02-29T00:00:00.000000Z");
    }

    #[test]
    fn pages_follow_the_cursor_and_the_ring_is_bounded() {
        let journal = Journal::new(3);
        for path in ["/a", "/b", "/c", "/d"] {
            journal.record(event(path));
        }
        let page = journal.since(0, MAX_PAGE);
        assert_eq!(paths(&page), ["/b", "/c", "/d"]);
        assert_eq!(page.events[0].0, 2);
        assert_eq!(page.next, 5);
        assert_eq!(page.missed, 1, "/a fell out of the ring");

        let rest = journal.since(page.next, MAX_PAGE);
        assert!(rest.events.is_empty());
        assert_eq!(rest.next, 5);
        journal.record(event("/e"));
        let page = journal.since(rest.next, 1);
        assert_eq!(paths(&page), ["/e"]);
        assert_eq!(page.next, 6);
        assert_eq!(page.missed, 0);

        journal.clear();
        assert!(journal.since(0, MAX_PAGE).events.is_empty());
        journal.record(event("/f"));
        assert_eq!(
            journal.since(6, MAX_PAGE).events[0].0,
            6,
            "numbering goes on"
        );
    }

    #[tokio::test]
    async fn a_stream_replays_then_follows_and_ends_on_close() {
        let journal = Journal::new(10);
        journal.record(event("/before"));
        let response = journal.stream(Some(1));
        assert_eq!(
            response.headers()[header::CONTENT_TYPE],
            "text/event-stream"
        );
        let mut body = response.into_body();
        let mut next = async || {
            let frame = body.frame().await?.ok()?;
            Some(String::from_utf8(frame.into_data().ok()?.to_vec()).unwrap())
        };
        assert!(next().await.unwrap().starts_with(':'));
        let replayed = next().await.unwrap();
        assert!(
            replayed.starts_with("id: 1\nevent: request\n"),
            "{replayed}"
        );
        assert!(replayed.contains(r#""path":"/before""#));
        journal.record(event("/live"));
        assert!(next().await.unwrap().contains(r#""path":"/live""#));
        journal.close();
        assert_eq!(next().await, None, "the stream ends when the server stops");
    }

    #[test]
    fn streams_are_capped() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            let journal = Journal::default();
            let open: Vec<_> = (0..MAX_STREAMS).map(|_| journal.stream(None)).collect();
            assert!(open.iter().all(|stream| stream.status() == StatusCode::OK));
            let refused = journal.stream(None);
            assert_eq!(refused.status(), StatusCode::SERVICE_UNAVAILABLE);
            drop(open);
        });
    }
}
