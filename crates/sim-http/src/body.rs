//! Reading request bodies with a size cap.

use bytes::Bytes;
use http::StatusCode;
use http_body_util::{BodyExt, Limited};

/// The largest body any endpoint of the rig reads: far above any legitimate OAuth or MCP request,
/// far below what could hurt the process.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// A body that could not be read.
#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    #[error("request body exceeds {MAX_BODY_BYTES} bytes")]
    TooLarge,
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

/// Reads a whole body, refusing more than `limit` bytes. A `Content-Length` above the limit is
/// refused before anything is read.
pub async fn read<B>(body: B, limit: usize) -> Result<Bytes, BodyError>
where
    B: http_body::Body,
    B::Error: std::error::Error + Send + Sync + 'static,
{
    if http_body::Body::size_hint(&body).lower() > limit as u64 {
        return Err(BodyError::TooLarge);
    }
    match Limited::new(body, limit).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(error) if error.is::<http_body_util::LengthLimitError>() => Err(BodyError::TooLarge),
        Err(error) => Err(BodyError::Unreadable(error.to_string())),
    }
}
