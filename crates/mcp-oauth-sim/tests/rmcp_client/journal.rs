//! The rig's request journals (`/control/events` on each server), read as the sequence of
//! requests a client made: where both journals stand before the act, and what each server
//! answered since, one short line per request, so a test can compare the whole sequence.

use mcp_oauth_sim::{Event, Service, Sim};

/// Where both journals stood at one moment: the events after it are the ones under test.
#[derive(Clone, Copy, Debug)]
pub struct Mark {
    oauth: u64,
    mcp: u64,
}

impl Mark {
    /// Before the first request: [`Mark::requests`] from here is the whole history.
    pub fn beginning() -> Self {
        Self { oauth: 0, mcp: 0 }
    }

    /// Both journals, now.
    pub async fn now(sim: &Sim) -> Self {
        let cursor = async |service| {
            sim.control()
                .events(service, 0)
                .await
                .unwrap_or_else(|error| panic!("the {service} journal: {error}"))
                .next
        };
        Self {
            oauth: cursor(Service::OAuth).await,
            mcp: cursor(Service::Mcp).await,
        }
    }

    /// The client's requests to `service` since this mark: everything but the test's own
    /// control calls and, on the authorization server, the MCP server's introspection calls (at any issuer).
    pub async fn requests(self, sim: &Sim, service: Service) -> Vec<Event> {
        let since = match service {
            Service::OAuth => self.oauth,
            Service::Mcp => self.mcp,
        };
        let page = sim
            .control()
            .events(service, since)
            .await
            .unwrap_or_else(|error| panic!("the {service} journal: {error}"));
        assert_eq!(page.missed, 0, "the journal dropped events under test");
        page.events
            .into_iter()
            .filter(|event| {
                !event.path.starts_with("/control") && !event.path.ends_with("/introspect")
            })
            .collect()
    }

    /// [`Mark::requests`], as [`line`]s.
    pub async fn lines(self, sim: &Sim, service: Service) -> Vec<String> {
        self.requests(sim, service).await.iter().map(line).collect()
    }
}

/// An event as the tests compare it: method, path, status, then whichever of grant type,
/// JSON-RPC method, tool and error code it has, and `fault` if a fault rule answered it:
/// `POST /token 503 refresh_token temporarily_unavailable fault`, `POST /mcp 200 tools/call echo`.
pub fn line(event: &Event) -> String {
    let mut line = format!("{} {} {}", event.method, event.path, event.status);
    for part in [
        &event.grant_type,
        &event.rpc_method,
        &event.tool,
        &event.error,
    ]
    .into_iter()
    .flatten()
    {
        line.push(' ');
        line.push_str(part);
    }
    if event.fault.is_some() {
        line.push_str(" fault");
    }
    line
}
