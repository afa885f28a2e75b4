//! Which scheme a test runs over, and the `Sim` it runs against.

use mcp_oauth_sim::{Sim, SimBuilder};

/// What both of the rig's listeners speak. HTTPS uses a CA generated for the test, which the
/// client trusts explicitly (see `app`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scheme {
    Http,
    Https,
}

impl Scheme {
    pub fn as_str(self) -> &'static str {
        match self {
            Scheme::Http => "http",
            Scheme::Https => "https",
        }
    }
}

/// A rig of its own for one test: 127.0.0.1, ephemeral ports, `configure` applied.
pub async fn start(scheme: Scheme, configure: impl FnOnce(SimBuilder) -> SimBuilder) -> Sim {
    let builder = match scheme {
        Scheme::Http => Sim::builder(),
        Scheme::Https => Sim::builder()
            .https()
            .expect("a CA and a localhost certificate are generated"),
    };
    let sim = configure(builder).start().await.expect("the rig starts");
    assert_eq!(sim.scheme(), scheme.as_str());
    sim
}
