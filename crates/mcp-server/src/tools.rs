//! The MCP tools: `echo`, `add` and `whoami`. Small on purpose: the rig tests OAuth, and a
//! tester must be able to predict every answer.

use std::sync::Arc;

use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::tool::Extension;
use rmcp::handler::server::wrapper::{Json, Parameters};
use rmcp::{ErrorData, ServerHandler, schemars, tool, tool_handler, tool_router};
use serde::Deserialize;

use crate::introspection::Identity;

/// Every tool's name: what per-tool scopes and fault rules may name. A test below keeps it equal
/// to the router's list.
pub const TOOL_NAMES: [&str; 3] = ["echo", "add", "whoami"];

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct EchoArgs {
    /// The text to send back.
    pub message: String,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct AddArgs {
    /// The first addend.
    pub a: f64,
    /// The second addend.
    pub b: f64,
}

/// The rmcp server handler. The stateless transport makes one per request, so it holds nothing
/// but the router, shared: cloning a `ToolRouter` itself copies its map and every tool's
/// description on each request.
#[derive(Clone)]
pub struct Tools {
    tool_router: Arc<ToolRouter<Self>>,
}

impl Tools {
    pub fn new() -> Self {
        Self {
            tool_router: Arc::new(Self::tool_router()),
        }
    }
}

#[tool_router]
impl Tools {
    #[tool(description = "Return the given message unchanged.")]
    fn echo(&self, Parameters(EchoArgs { message }): Parameters<EchoArgs>) -> String {
        message
    }

    #[tool(description = "Add two numbers and return the sum.")]
    fn add(&self, Parameters(AddArgs { a, b }): Parameters<AddArgs>) -> Result<String, ErrorData> {
        let sum = a + b;
        if !sum.is_finite() {
            return Err(ErrorData::invalid_params(
                "the sum is too large to represent",
                None,
            ));
        }
        Ok(sum.to_string())
    }

    #[tool(
        description = "Describe the caller as the authorization server sees its access token: \
                       subject, client_id, scope, audience and expiry."
    )]
    fn whoami(
        &self,
        Extension(parts): Extension<http::request::Parts>,
    ) -> Result<Json<Identity>, ErrorData> {
        // The bearer check stores the identity before the request reaches rmcp; a request
        // without one never gets here.
        parts
            .extensions
            .get::<Identity>()
            .cloned()
            .map(Json)
            .ok_or_else(|| ErrorData::internal_error("the request carries no identity", None))
    }
}

#[tool_handler(
    router = self.tool_router,
    name = "mcp-oauth-sim",
    instructions = "An OAuth-protected test server. Tools: echo, add, whoami."
)]
impl ServerHandler for Tools {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tool_names_are_the_tools_the_router_serves() {
        let mut served: Vec<String> = Tools::tool_router()
            .list_all()
            .into_iter()
            .map(|tool| tool.name.into_owned())
            .collect();
        served.sort_unstable();
        let mut named = TOOL_NAMES.to_vec();
        named.sort_unstable();
        assert_eq!(served, named);
    }
}
