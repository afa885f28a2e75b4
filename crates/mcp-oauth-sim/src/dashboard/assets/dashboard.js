// mcp-oauth-sim dashboard: the live parts of the page. Every change is POST /api/scenario
// {name, values} with the page's CSRF token; the answer's cli and curl lines fill the
// "equivalent command" box. The timeline reads /api/events (Server-Sent Events). Everything a
// client or the rig chose is put into the page with textContent, never as markup.
"use strict";

(() => {
  const csrf = document.querySelector('meta[name="dashboard-csrf"]').content;
  const $ = (id) => document.getElementById(id);
  const el = (tag, attrs = {}, text) => {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, value);
    if (text !== undefined) node.textContent = text;
    return node;
  };
  const show = (id, text) => {
    const node = $(id);
    node.textContent = text || "";
    node.hidden = !text;
  };

  // ---- Changes ---------------------------------------------------------------------------

  async function flip(name, values) {
    show("action-error", "");
    show("action-note", "");
    let answer;
    try {
      const response = await fetch("/api/scenario", {
        method: "POST",
        headers: { "Content-Type": "application/json", "X-Dashboard-Csrf": csrf },
        body: JSON.stringify({ name, values }),
        credentials: "same-origin",
      });
      answer = await response.json();
      if (response.status === 401) {
        location.reload();
        return;
      }
      if (!response.ok) {
        show("action-error", answer.error || `${response.status}`);
        $("equivalent-curl").textContent = (answer.curl || []).join("\n");
        return;
      }
    } catch (error) {
      show("action-error", `the dashboard cannot be reached: ${error}`);
      return;
    }
    $("equivalent-cli").textContent = answer.cli;
    $("equivalent-curl").textContent = answer.curl.join("\n");
    const notes = [];
    if (answer.caveat) notes.push(answer.caveat);
    if (answer.context) notes.push(`give the client: ${JSON.stringify(answer.context)}`);
    show("action-note", notes.join("\n"));
    if (answer.control_token) {
      show("control-token-notice",
        `The rig is public now: /control and this page require the control token ${answer.control_token} (shown once). ` +
        "Reload to sign in with it.");
    }
    document.body.dataset.lastAction = name;
    render(answer.state);
  }

  const words = (text) => text.split(/\s+/).filter(Boolean);

  document.addEventListener("click", (event) => {
    const button = event.target.closest("button[data-scenario]");
    if (!button) return;
    event.preventDefault();
    flip(button.dataset.scenario, words(button.dataset.values || ""));
  });
  for (const form of document.querySelectorAll("form.scenario")) {
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      flip(form.dataset.scenario, words(form.elements.values.value));
    });
  }
  $("conformance-stage").addEventListener("click", () =>
    flip("conformance", [$("conformance-situation").value]));
  $("fault-add").addEventListener("submit", (event) => {
    event.preventDefault();
    flip("fault", [$("fault-service").value, $("fault-rule").value]);
  });
  $("tunnel-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const values = [$("tunnel-oauth-url").value, $("tunnel-mcp-url").value];
    if ($("tunnel-reject-old-audience").checked) values.push("reject-old-audience");
    flip("tunnel", values);
  });
  $("tunnel-local").addEventListener("click", () => flip("tunnel", ["local"]));
  $("profile-form").addEventListener("submit", (event) => {
    event.preventDefault();
    flip("profile", [$("profile-service").value, $("profile-patch").value]);
  });

  // ---- State -----------------------------------------------------------------------------

  const onOff = (on) => (on ? "on" : "off");

  function render(state) {
    if (!state) return;
    const oauth = state.oauth || {};
    const mcp = state.mcp || {};
    const toggles = oauth.toggles || {};
    $("rig-issuer").textContent = oauth.issuer || "";
    $("rig-mcp-url").textContent = mcp.resource || "";
    const values = {
      "rotate": onOff(toggles.rotate_refresh_tokens),
      "dead-refresh": onOff(toggles.invalid_grant),
      "deny-consent": onOff(toggles.deny_consent),
      "expire-access": `${toggles.access_token_ttl_seconds} s`,
      "bad-scope": onOff((mcp.toggles || {}).force_403),
      "clock": `${((oauth.clock || {}).offset_seconds || 0)} s`,
      "narrow-consent": ((oauth.consent || {}).grant_scope) || "off",
      "reuse-detect": onOff((oauth.reuse_detection || {}).on),
      "introspect-down": `${mcp.introspection_failure || ""}`,
    };
    for (const node of document.querySelectorAll("[data-state-of]")) {
      const value = values[node.dataset.stateOf];
      node.textContent = value === undefined ? "" : value;
      node.dataset.value = value === undefined ? "" : value;
    }
    const summary = $("state-summary");
    summary.replaceChildren();
    const store = oauth.store || {};
    const counters = oauth.counters || {};
    const mcpCounters = mcp.counters || {};
    for (const [key, value] of [
      ["live clients", store.clients],
      ["access tokens", store.access_tokens],
      ["refresh tokens", store.refresh_tokens],
      ["authorizations", counters.authorizations],
      ["tool calls", mcpCounters.tool_calls],
      ["MCP 401s", mcpCounters.unauthorized],
      ["issuers", 1 + (state.issuers || []).length],
    ]) {
      summary.append(el("dt", {}, key), el("dd", { "data-state-key": key }, `${value ?? ""}`));
    }
    $("state-json").textContent = JSON.stringify(state, null, 2);
    renderFaults(state.faults || {});
    for (const issuer of [oauth, ...(state.issuers || [])]) {
      if (issuer.name) addOption($("filter-issuer"), issuer.name, issuer.name);
    }
  }

  function renderFaults(faults) {
    const list = $("fault-list");
    list.replaceChildren();
    for (const service of ["oauth", "mcp"]) {
      for (const rule of faults[service] || []) {
        const item = el("li", { "data-fault-service": service, "data-fault-id": `${rule.id}` });
        const { id, fired, remaining, ...shown } = rule;
        item.append(el("code", {}, `${service} #${id} ${JSON.stringify(shown)} fired ${fired}`));
        const remove = el("button", {
          type: "button",
          id: `fault-delete-${service}-${id}`,
          "data-scenario": "delete-fault",
          "data-values": `${service} ${id}`,
        }, "delete");
        item.append(remove);
        list.append(item);
      }
    }
    if (!list.children.length) list.append(el("li", { class: "empty" }, "no fault rules"));
  }

  async function refresh() {
    try {
      const response = await fetch("/api/state", { credentials: "same-origin" });
      if (response.status === 401) return location.reload();
      if (response.ok) render(await response.json());
    } catch (_) { /* the next refresh tries again */ }
  }

  // ---- Timeline --------------------------------------------------------------------------

  const lanes = new Map(); // client id → lane element
  const filters = { client: "", issuer: "", status: "" };

  function addOption(select, value, label) {
    if ([...select.options].some((option) => option.value === value)) return;
    select.append(el("option", { value }, label));
  }

  // What a request was, for a person reading the lane.
  function kindOf(event) {
    const path = event.path || "";
    if (path.startsWith("/control")) return ["control", `${event.method} ${path}`];
    if (event.service === "mcp") {
      if (event.rpc_method === "tools/call") return ["tool", `tool ${event.tool || "?"}`];
      if (path.startsWith("/.well-known")) return ["discovery", `${event.method} ${path}`];
      return ["mcp", event.rpc_method || `${event.method} ${path}`];
    }
    if (path.endsWith("/register")) return ["registration", "registration"];
    if (path.endsWith("/authorize") || path.endsWith("/authorize/decision")) return ["authorization", "authorization"];
    if (path.endsWith("/token")) {
      if (event.grant_type === "authorization_code") return ["code-exchange", "code exchange"];
      if (event.grant_type === "refresh_token") return ["refresh", "refresh"];
      return ["token", `token ${event.grant_type || ""}`];
    }
    if (path.endsWith("/introspect")) return ["introspection", "introspection"];
    if (path.endsWith("/revoke")) return ["revocation", "revocation"];
    if (path.includes("/.well-known")) return ["discovery", `${event.method} ${path}`];
    return ["other", `${event.method} ${path}`];
  }

  function laneFor(client) {
    let lane = lanes.get(client);
    if (lane) return lane;
    const index = lanes.size + 1;
    lane = el("div", { class: "lane", id: `lane-${index}`, "data-client": client });
    lane.append(el("h3", { title: client }, client ? `client ${client.slice(0, 8)}` : "no client"));
    lane.append(el("ol", { class: "rows" }));
    $("lanes").append(lane);
    lanes.set(client, lane);
    if (client) addOption($("filter-client"), client, client.slice(0, 8));
    applyFilters();
    return lane;
  }

  function addEvent(event) {
    const client = event.client_id || "";
    const [kind, label] = kindOf(event);
    const refused = event.status === 0 || event.status >= 400;
    const row = el("li", {
      class: `event ${kind}${refused ? " refused" : ""}${event.fault != null ? " fault" : ""}`,
      id: `event-${event.service}-${event.seq}`,
      "data-service": event.service,
      "data-seq": `${event.seq}`,
      "data-kind": kind,
      "data-status": `${event.status}`,
      "data-client": client,
      "data-issuer": event.issuer || (event.service === "oauth" ? "main" : ""),
      "data-refused": `${refused}`,
    });
    if (event.fault != null) row.dataset.fault = `${event.fault}`;
    const time = (event.at || "").slice(11, 23);
    row.append(el("time", {}, time));
    row.append(el("span", { class: "label" }, label));
    row.append(el("span", { class: "status" }, `${event.status || "dropped"}`));
    const facts = [];
    if (event.error) facts.push(event.error);
    if (event.presented) facts.push(`presented ${event.presented}`);
    if (event.issued) facts.push(`issued ${event.issued}`);
    if (event.fault != null) facts.push(`fault #${event.fault}`);
    if (event.note) facts.push(event.note);
    if (facts.length) row.append(el("span", { class: "facts" }, facts.join(" · ")));
    row.title = `${event.service} #${event.seq} ${event.method} ${event.path} ${event.ms} ms`;
    laneFor(client).querySelector("ol").append(row);
    if (event.issuer) addOption($("filter-issuer"), event.issuer, event.issuer);
    filterRow(row);
    const count = $("lanes").querySelectorAll(".event").length;
    $("timeline").dataset.count = `${count}`;
  }

  // The client filter hides whole lanes (applyFilters); issuer and status hide rows.
  function filterRow(row) {
    const { issuer, status } = filters;
    const refused = row.dataset.refused === "true";
    row.hidden = (issuer && row.dataset.issuer !== issuer && row.dataset.service === "oauth")
      || (status === "ok" && refused)
      || (status === "refused" && !refused)
      || (status === "fault" && row.dataset.fault === undefined);
  }

  function applyFilters() {
    for (const lane of lanes.values()) {
      lane.hidden = Boolean(filters.client) && lane.dataset.client !== filters.client;
    }
    for (const row of $("lanes").querySelectorAll(".event")) filterRow(row);
  }

  for (const key of ["client", "issuer", "status"]) {
    $(`filter-${key}`).addEventListener("change", (event) => {
      filters[key] = event.target.value;
      applyFilters();
    });
  }
  $("timeline-clear").addEventListener("click", () => {
    lanes.clear();
    $("lanes").replaceChildren();
    $("timeline").dataset.count = "0";
  });

  function follow() {
    const status = $("timeline-status");
    const source = new EventSource("/api/events");
    source.onopen = () => {
      status.textContent = "live";
      status.dataset.status = "live";
    };
    source.addEventListener("request", (message) => {
      const event = JSON.parse(message.data);
      addEvent(event);
      // What the rig did may have changed its counters; a short wait batches a burst.
      clearTimeout(follow.pending);
      follow.pending = setTimeout(refresh, 300);
    });
    source.addEventListener("lagged", (message) => {
      const { missed } = JSON.parse(message.data);
      status.textContent = `live (skipped ${missed})`;
    });
    source.onerror = () => {
      status.textContent = "disconnected: retrying";
      status.dataset.status = "disconnected";
    };
  }

  refresh();
  follow();
})();
