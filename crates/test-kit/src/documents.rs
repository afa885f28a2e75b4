//! A host for the documents a client points an authorization server at (client ID metadata
//! documents, JWKS): a real HTTP(S) server on loopback whose answers a test sets per path, the
//! hostile ones included (slow to send, huge, redirecting), and which counts what it was asked.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response, StatusCode, header};
use http_body_util::{BodyExt, StreamBody};
use hyper::body::{Frame, Incoming};
use serde_json::{Value, json};
use sim_http::{Running, ServeOptions};

use crate::pki::TestPki;

/// How the host answers one path.
#[derive(Clone, Debug)]
pub enum Answer {
    /// This status, these extra headers and this body, as `application/json`.
    Json {
        /// The status.
        status: u16,
        /// Headers besides `Content-Type` (`Cache-Control`, …).
        headers: Vec<(&'static str, String)>,
        /// The body, serialized.
        body: Value,
    },
    /// Any bytes, with this content type.
    Raw {
        /// The status.
        status: u16,
        /// The `Content-Type`.
        content_type: &'static str,
        /// The body.
        body: Vec<u8>,
    },
    /// A `302` to `location`.
    Redirect {
        /// Where to.
        location: String,
    },
    /// A JSON body sent one byte every `every`, `Content-Length` declared up front: a document
    /// slow to send.
    Drip {
        /// The body.
        body: Vec<u8>,
        /// The pause before each byte.
        every: Duration,
    },
}

/// A running document host; dropping it stops it.
pub struct DocumentHost {
    base: String,
    answers: Arc<Mutex<HashMap<String, Answer>>>,
    hits: Arc<Mutex<HashMap<String, u64>>>,
    _running: Running<std::io::Error>,
}

impl DocumentHost {
    /// A host on 127.0.0.1: HTTPS with `pki`'s leaf (its URLs say `localhost`, which the leaf
    /// names), or plain HTTP without.
    pub async fn start(pki: Option<&TestPki>) -> Self {
        let listener = sim_http::loopback().await.expect("a loopback port");
        let port = listener.local_addr().expect("bound").port();
        let base = match pki {
            Some(_) => format!("https://localhost:{port}"),
            None => format!("http://127.0.0.1:{port}"),
        };
        let answers: Arc<Mutex<HashMap<String, Answer>>> = Arc::default();
        let hits: Arc<Mutex<HashMap<String, u64>>> = Arc::default();
        let options = ServeOptions {
            tls: pki.map(TestPki::tls),
            ..ServeOptions::default()
        };
        let (serving_answers, serving_hits) = (Arc::clone(&answers), Arc::clone(&hits));
        let running = Running::spawn(move |stop| {
            let handler = move |request: Request<Incoming>| {
                let answers = Arc::clone(&serving_answers);
                let hits = Arc::clone(&serving_hits);
                async move { answer(request, &answers, &hits) }
            };
            sim_http::serve(listener, handler, options, stop)
        });
        Self {
            base,
            answers,
            hits,
            _running: running,
        }
    }

    /// The URL of `path` on this host.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Answers `path` with `answer` from now on.
    pub fn set(&self, path: &str, answer: Answer) {
        self.answers.lock().unwrap().insert(path.to_owned(), answer);
    }

    /// Serves a valid client ID metadata document at `path` for a public client with both
    /// grants and these redirect URIs, with `headers`; returns its URL, the client's id.
    pub fn client(
        &self,
        path: &str,
        redirect_uris: &[&str],
        headers: Vec<(&'static str, String)>,
    ) -> String {
        let client_id = self.url(path);
        self.set(
            path,
            Answer::Json {
                status: 200,
                headers,
                body: client_document(&client_id, redirect_uris),
            },
        );
        client_id
    }

    /// Requests `path` received.
    pub fn hits(&self, path: &str) -> u64 {
        self.hits.lock().unwrap().get(path).copied().unwrap_or(0)
    }
}

/// A valid client ID metadata document: a public client named `Test client` with both grants.
pub fn client_document(client_id: &str, redirect_uris: &[&str]) -> Value {
    json!({
        "client_id": client_id,
        "client_name": "Test client",
        "redirect_uris": redirect_uris,
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "token_endpoint_auth_method": "none",
    })
}

fn answer(
    request: Request<Incoming>,
    answers: &Mutex<HashMap<String, Answer>>,
    hits: &Mutex<HashMap<String, u64>>,
) -> sim_http::Response {
    let path = request.uri().path().to_owned();
    *hits.lock().unwrap().entry(path.clone()).or_default() += 1;
    let found = answers.lock().unwrap().get(&path).cloned();
    let built = match found {
        None => Response::builder()
            .status(StatusCode::NOT_FOUND)
            .body(sim_http::response::full("not found")),
        Some(Answer::Json {
            status,
            headers,
            body,
        }) => {
            let mut builder = Response::builder()
                .status(status)
                .header(header::CONTENT_TYPE, "application/json");
            for (name, value) in headers {
                builder = builder.header(name, value);
            }
            builder.body(sim_http::response::full(body.to_string()))
        }
        Some(Answer::Raw {
            status,
            content_type,
            body,
        }) => Response::builder()
            .status(status)
            .header(header::CONTENT_TYPE, content_type)
            .body(sim_http::response::full(body)),
        Some(Answer::Redirect { location }) => Response::builder()
            .status(StatusCode::FOUND)
            .header(header::LOCATION, location)
            .body(sim_http::response::empty_body()),
        Some(Answer::Drip { body, every }) => {
            let length = body.len();
            let bytes = futures::stream::unfold(body.into_iter(), move |mut rest| async move {
                let byte = rest.next()?;
                tokio::time::sleep(every).await;
                Some((
                    Ok::<_, Infallible>(Frame::data(Bytes::from(vec![byte]))),
                    rest,
                ))
            });
            Response::builder()
                .header(header::CONTENT_TYPE, "application/json")
                .header(header::CONTENT_LENGTH, length)
                .body(StreamBody::new(bytes).boxed())
        }
    };
    built.expect("a well-formed answer")
}
