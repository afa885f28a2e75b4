//! Reading request bodies with a size cap.

use std::pin::Pin;
use std::time::Duration;

use bytes::{Buf, BufMut, Bytes, BytesMut};
use http::StatusCode;
use http_body_util::BodyExt;

/// The largest body any endpoint of the rig reads: far above any legitimate OAuth or MCP request,
/// far below what could hurt the process.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// A body that could not be read.
#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    /// The body was longer than the limit, announced or as read; answered 413.
    #[error("request body exceeds {MAX_BODY_BYTES} bytes")]
    TooLarge,
    /// The body broke off mid-way; the reason, as the connection gave it. Answered 400.
    #[error("request body could not be read: {0}")]
    Unreadable(String),
}

impl BodyError {
    /// 413 for an oversized body, 400 for one that broke off mid-way.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::Unreadable(_) => StatusCode::BAD_REQUEST,
        }
    }
}

/// How much of a refused body is still read, and for how long, before the 413 goes out.
///
/// Answering while the client is still uploading and then closing with its bytes unread makes the
/// kernel reset the connection, and a reset often destroys the 413 before the client reads it: the
/// client sees a broken connection instead of the rig's answer. Reading the rest first (bounded, so
/// an endless upload cannot hold a task) lets the answer arrive and the connection stay reusable.
/// Bodies beyond this are cut off at once; only an abusive client sends those.
const DRAIN_BYTES: u64 = 16 * 1024 * 1024;
const DRAIN_TIME: Duration = Duration::from_secs(2);

/// Reads a whole body, refusing more than `limit` bytes. A `Content-Length` above the limit is
/// refused without keeping anything; what is in flight is read and dropped (within [`DRAIN_BYTES`]
/// and [`DRAIN_TIME`]) so that the refusal reaches the client.
pub async fn read<B>(body: B, limit: usize) -> Result<Bytes, BodyError>
where
    B: http_body::Body,
    B::Error: std::error::Error + Send + Sync + 'static,
{
    let announced = http_body::Body::size_hint(&body).lower();
    if announced > DRAIN_BYTES {
        return Err(BodyError::TooLarge);
    }
    let mut body = std::pin::pin!(body);
    if announced > limit as u64 {
        drain(body).await;
        return Err(BodyError::TooLarge);
    }
    // A body that announced its length is read into one buffer of that size.
    let mut kept = BytesMut::with_capacity(announced as usize);
    while let Some(frame) = body.as_mut().frame().await {
        let frame = frame.map_err(|error| BodyError::Unreadable(error.to_string()))?;
        let Ok(data) = frame.into_data() else {
            continue; // trailers carry nothing an endpoint reads
        };
        if kept.len() + data.remaining() > limit {
            drain(body).await;
            return Err(BodyError::TooLarge);
        }
        kept.put(data);
    }
    Ok(kept.freeze())
}

/// Reads and drops the rest of a refused body, giving up past [`DRAIN_BYTES`] or [`DRAIN_TIME`]
/// (the connection is then closed under the client, which is the best an endless upload deserves).
async fn drain<B>(mut body: Pin<&mut B>)
where
    B: http_body::Body,
{
    let mut dropped: u64 = 0;
    let _ = tokio::time::timeout(DRAIN_TIME, async {
        while let Some(Ok(frame)) = body.as_mut().frame().await {
            if let Some(data) = frame.data_ref() {
                dropped += data.remaining() as u64;
                if dropped > DRAIN_BYTES {
                    break;
                }
            }
        }
    })
    .await;
}
