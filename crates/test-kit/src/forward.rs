//! A stand-in for a tunnel: a TCP forwarder on 127.0.0.1 in front of a server, passing bytes
//! through untouched (the client's `Host` included, as `cloudflared` passes the public host),
//! and gone with every connection through it when dropped, as a tunnel that dies.

use std::net::{Ipv4Addr, SocketAddr};

use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;

/// A forwarder to one server; dropping it closes its port and every connection through it.
pub struct Forwarder {
    addr: SocketAddr,
    accepting: tokio::task::JoinHandle<()>,
}

impl Forwarder {
    /// Forwards every connection to `127.0.0.1:<port>` on a free port of its own.
    pub async fn to(target: SocketAddr) -> Self {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .await
            .expect("a free loopback port");
        let addr = listener.local_addr().expect("a bound address");
        let accepting = tokio::spawn(async move {
            // Owned by this task, so that aborting it ends every connection too.
            let mut connections = JoinSet::new();
            loop {
                tokio::select! {
                    accepted = listener.accept() => {
                        let Ok((mut inbound, _)) = accepted else { continue };
                        connections.spawn(async move {
                            if let Ok(mut outbound) = TcpStream::connect(target).await {
                                let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound)
                                    .await;
                            }
                        });
                    }
                    Some(_) = connections.join_next(), if !connections.is_empty() => {}
                }
            }
        });
        Self { addr, accepting }
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Its URL under the name `localhost`, as a tunnel's public URL (a client resolving
    /// `localhost` to 127.0.0.1 reaches it).
    pub fn url(&self) -> String {
        format!("http://localhost:{}", self.addr.port())
    }
}

impl Drop for Forwarder {
    fn drop(&mut self) {
        self.accepting.abort();
    }
}
