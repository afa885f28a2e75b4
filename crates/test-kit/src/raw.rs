//! Exchanges over a bare socket, for what a client library would not send or would hide.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Writes a raw HTTP/1.1 request and reads until the server closes the connection: what a
/// client receives, byte for byte (a reset counts as closed). Panics if the connection is still
/// open after five seconds.
pub async fn exchange(addr: SocketAddr, request: impl AsRef<[u8]>) -> Vec<u8> {
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    stream
        .write_all(request.as_ref())
        .await
        .expect("write the request");
    let mut answer = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut answer)).await;
    assert!(read.is_ok(), "the connection stayed open");
    answer
}
