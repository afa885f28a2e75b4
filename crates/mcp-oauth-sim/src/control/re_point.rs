//! Re-pointing a running rig to new public URLs: what a tunnel restart needs, without a restart
//! of the rig.

use reqwest::{Method, StatusCode};
use serde::Deserialize;
use serde_json::{Value, json};

use super::scenario::RePoint;
use super::{Control, ControlError, RigState, Service};

/// What [`Control::re_point`] did.
#[derive(Debug)]
pub struct RePointed {
    /// The control token the rig requires from now on, when this re-point made it reachable
    /// from outside and it required none: told here once (and in the rig's log), never again.
    /// The [`Control`] that re-pointed, and its clones, send it from now on.
    pub control_token: Option<String>,
    /// Both servers' state afterwards.
    pub state: RigState,
}

/// The answer of the authorization server's `POST /control/base-url`.
#[derive(Deserialize)]
struct BaseUrlAnswer {
    #[serde(default)]
    control_token: Option<String>,
}

impl Control {
    /// Moves both servers to the public URLs of `to`, live, as a tunnel that restarted with
    /// new URLs needs:
    /// - `main` and every issuer on the AS's listener to `to.oauth_url` (issuers under a path
    ///   keep their path), the issuers co-hosted on the MCP port to the MCP origin;
    /// - the MCP server to `to.mcp_url`: its metadata, challenges, allowed hosts and origins;
    /// - the MCP server's trusted issuers (and those a reset goes back to) to their new
    ///   identifiers;
    /// - with `keep_old_audience`, every issuer's grants for the MCP server's old resource to
    ///   cover its new one, so a client refreshing for the new URL needs no new consent.
    ///
    /// Clients, codes, tokens, switches and fault rules stay. A URL that is not loopback makes
    /// the control plane require a token from then on, as at a start-up in tunnel mode.
    pub async fn re_point(&self, to: &RePoint) -> Result<RePointed, ControlError> {
        let (before, issuers_before) = tokio::try_join!(self.mcp_state(), self.issuers())?;
        let mut control_token = None;
        let answer: BaseUrlAnswer = self
            .post_base_url(Service::OAuth, json!({ "base_url": to.oauth_url }))
            .await?;
        self.adopt(&mut control_token, answer.control_token);

        let mcp_port = self.mcp_port()?;
        if issuers_before.iter().any(|place| place.port == mcp_port) {
            let origin = to.mcp_url.as_deref().map(|url| url.trim_end_matches('/'));
            let answer: BaseUrlAnswer = self
                .post_base_url(
                    Service::OAuth,
                    json!({ "base_url": origin, "port": mcp_port }),
                )
                .await?;
            self.adopt(&mut control_token, answer.control_token);
        }
        let issuers = self.issuers().await?;
        // The MCP server knows each issuer by its identifier, in the list it trusts, in the one a
        // reset goes back to and in a scheduled migration: each gets the new one (its
        // introspection URL, on loopback, stays). One it does not know is not its concern.
        for was in &issuers_before {
            let Some(now) = issuers.iter().find(|place| place.name == was.name) else {
                continue;
            };
            if now.issuer == was.issuer {
                continue;
            }
            let renamed = json!({ "from": was.issuer, "to": now.issuer });
            let outcome: Result<Value, _> = self
                .call(
                    Service::Mcp,
                    Method::POST,
                    "rename-authorization-server",
                    Some(renamed),
                )
                .await;
            match outcome {
                Ok(_) => {}
                Err(ControlError::Refused { status, .. }) if status == StatusCode::NOT_FOUND => {}
                Err(error) => return Err(error),
            }
        }

        let answer: Value = self
            .post_base_url(
                Service::Mcp,
                json!({ "base_url": to.mcp_url, "keep_old_audience": to.keep_old_audience }),
            )
            .await?;
        self.adopt(
            &mut control_token,
            answer["control_token"].as_str().map(str::to_owned),
        );
        let after = self.mcp_state().await?;
        if to.keep_old_audience && after.resource != before.resource {
            let renamed = json!({ "from": before.resource, "to": after.resource });
            for place in &issuers {
                self.issuer(&place.name)
                    .rename_resource(renamed.clone())
                    .await?;
            }
        }
        Ok(RePointed {
            control_token,
            state: self.state().await?,
        })
    }

    async fn post_base_url<T: serde::de::DeserializeOwned>(
        &self,
        service: Service,
        body: Value,
    ) -> Result<T, ControlError> {
        let url = format!("{}/control/base-url", self.base(service));
        self.fetch(Method::POST, url, Some(body)).await
    }

    /// Sends `told` from now on, if a server told one, and remembers it for the caller.
    fn adopt(&self, kept: &mut Option<String>, told: Option<String>) {
        if let Some(token) = told {
            self.token.set(token.clone());
            *kept = Some(token);
        }
    }
}
