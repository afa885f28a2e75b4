//! The tables of `docs/` that list control calls, scenarios and profile knobs, each checked
//! against the one declaration it lists: a row missing, extra or wrong fails here.
//!
//! - docs/endpoints.md's two "Call | Effect" tables, and the earlier paths named under the
//!   first, against what each server answers to `GET /control` (its `INDEX` and `ALIASES`).
//! - docs/scenarios.md's "Scenario | Control call it makes" table against the names
//!   `scenario --help` offers (the switches of `control::scenario::Name`, the binary's readers
//!   and makers).
//! - docs/conformance.md's knob table against `oauth_server::profile::FIELDS` and the fields
//!   of `mcp_server::Profile`, the struct whose (de)serialization is the MCP server's profile.

use std::collections::BTreeSet;
use std::path::Path;

use clap::ValueEnum;
use mcp_oauth_sim::Sim;
use mcp_oauth_sim::control::scenario::Name;
use serde_json::Value;

use crate::support::*;

/// A page of `docs/`.
fn page(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../docs")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|error| panic!("read docs/{name}: {error}"))
}

/// The lines of `text` under the heading line `heading` (`## The MCP server`), up to the next
/// heading of the same or a higher level outside a code block.
fn section(text: &str, heading: &str) -> String {
    let level = heading
        .find(' ')
        .expect("a heading is hashes, a space, a title");
    let mut lines = text.lines().skip_while(|line| *line != heading);
    assert!(lines.next().is_some(), "no heading '{heading}'");
    let mut in_code = false;
    let mut body = Vec::new();
    for line in lines {
        in_code ^= line.starts_with("```");
        let hashes = line.len() - line.trim_start_matches('#').len();
        if !in_code && (1..=level).contains(&hashes) && line[hashes..].starts_with(' ') {
            break;
        }
        body.push(line);
    }
    body.join("\n")
}

/// The rows of the first table in `text` whose header line is `header`, as cells; a `\|`
/// inside a cell is a `|` of that cell.
fn table(text: &str, header: &str) -> Vec<Vec<String>> {
    let mut lines = text.lines().skip_while(|line| *line != header);
    assert!(lines.next().is_some(), "no table headed {header}");
    assert!(
        lines.next().is_some_and(|line| line.starts_with("|---")),
        "the table headed {header} has no separator line"
    );
    lines
        .take_while(|line| line.starts_with('|'))
        .map(|line| {
            let mut cells = vec![String::new()];
            let mut chars = line.trim().chars().skip(1).peekable();
            while let Some(char) = chars.next() {
                match char {
                    '\\' if chars.peek() == Some(&'|') => {
                        cells.last_mut().expect("a cell").push('|');
                        chars.next();
                    }
                    '|' => cells.push(String::new()),
                    _ => cells.last_mut().expect("a cell").push(char),
                }
            }
            cells.pop();
            cells.iter().map(|cell| cell.trim().to_owned()).collect()
        })
        .collect()
}

/// The code spans of `text`, in order.
fn code_spans(text: &str) -> Vec<&str> {
    text.split('`').skip(1).step_by(2).collect()
}

const METHODS: [&str; 3] = ["GET", "POST", "DELETE"];

/// The `(method, path)` calls a "Call" cell names. A span is a call (`POST /control/rotate
/// {"on": true}`), a method that shares the next call's path (`GET`, `POST`, `DELETE
/// /control/faults`), or an argument or shorthand of the call before it (`{"reset": true}`,
/// `…/reset`); a path without a method is any method (`/control/issuers/{name}/…`). The
/// query string of a path is left out.
fn calls(cell: &str) -> Vec<(String, String)> {
    let mut methods: Vec<&str> = Vec::new();
    let mut calls = Vec::new();
    for span in code_spans(cell) {
        let mut words = span.split_whitespace();
        let path = match words.next() {
            Some(method) if METHODS.contains(&method) => {
                methods.push(method);
                match words.next() {
                    Some(path) => path,
                    None => continue,
                }
            }
            Some(path) if path.starts_with("/control") => {
                methods.push("ANY");
                path
            }
            _ => continue,
        };
        assert!(
            path.starts_with("/control"),
            "'{span}' in '{cell}' is not a control path"
        );
        let path = path.split('?').next().unwrap_or(path);
        for method in methods.drain(..) {
            calls.push((method.to_owned(), path.to_owned()));
        }
    }
    assert!(
        methods.is_empty(),
        "'{cell}' names the method(s) {methods:?} without a path"
    );
    calls
}

/// Earlier control paths, each with the path it stands for now.
type Aliases = BTreeSet<(String, String)>;

/// What a server answers to `GET /control`: its calls, and its earlier paths with the path
/// each now has.
async fn control_index(base: &str, token: Option<&str>) -> (BTreeSet<(String, String)>, Aliases) {
    let mut request = http_client().get(format!("{base}/control"));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let index: Value = request
        .send()
        .await
        .expect("GET /control")
        .json()
        .await
        .expect("GET /control is JSON");
    let mut calls = BTreeSet::new();
    let mut aliases = BTreeSet::new();
    for entry in index["endpoints"].as_array().expect("an endpoints list") {
        let field = |name: &str| entry[name].as_str().expect("a string").to_owned();
        let (method, path, effect) = (field("method"), field("path"), field("effect"));
        match effect.strip_prefix("the earlier name of ") {
            Some(current) => {
                aliases.insert((path, current.to_owned()));
            }
            None => {
                calls.insert((method, path));
            }
        }
    }
    (calls, aliases)
}

/// The calls of a docs table, each once: a call documented twice is a mistake too.
fn documented_calls(page: &str, heading: &str) -> BTreeSet<(String, String)> {
    let mut documented = BTreeSet::new();
    for row in table(&section(page, heading), "| Call | Effect |") {
        let named = calls(&row[0]);
        assert!(!named.is_empty(), "the row '{}' names no call", row[0]);
        for call in named {
            assert!(
                documented.insert(call.clone()),
                "docs/endpoints.md ({heading}) lists {call:?} twice"
            );
        }
    }
    documented
}

/// The earlier paths the sentence under the AS's table names for `server` (`on the AS` or
/// `on the MCP server`): `` `expires-in` (now `expire-access`) ``, as `/control/…` pairs.
fn documented_aliases(page: &str, server: &str) -> Aliases {
    let sentence = page
        .split("\n\n")
        .find(|paragraph| paragraph.contains("The earlier paths still work"))
        .expect("the paragraph naming the earlier paths");
    let after_index = sentence
        .split_once("`GET /control` lists them:")
        .expect("the earlier paths come after '`GET /control` lists them:'")
        .1;
    let (on_the_as, on_the_mcp_server) = after_index
        .split_once("on the AS;")
        .expect("the AS's earlier paths end with 'on the AS;'");
    let part = match server {
        "oauth" => on_the_as,
        _ => on_the_mcp_server,
    };
    let spans = code_spans(part);
    assert!(
        spans.len().is_multiple_of(2),
        "the earlier paths of {server} do not come in pairs: {spans:?}"
    );
    spans
        .chunks(2)
        .map(|pair| {
            (
                format!("/control/{}", pair[0]),
                format!("/control/{}", pair[1]),
            )
        })
        .collect()
}

#[track_caller]
fn assert_same<T: Ord + std::fmt::Debug>(
    documented: &BTreeSet<T>,
    declared: &BTreeSet<T>,
    what: &str,
) {
    let missing: Vec<_> = declared.difference(documented).collect();
    let extra: Vec<_> = documented.difference(declared).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "{what}: missing {missing:?}; listed, but not declared {extra:?}"
    );
}

#[tokio::test]
async fn each_control_plane_table_lists_exactly_the_calls_and_earlier_paths_its_server_serves() {
    // Arrange
    let sim = Sim::builder().start().await.expect("the rig starts");
    let mcp_origin = format!("http://localhost:{}", sim.mcp_addr().port());
    let page = page("endpoints.md");

    // Act
    let (oauth_calls, oauth_aliases) = control_index(&sim.issuer(), sim.control_token()).await;
    let (mcp_calls, mcp_aliases) = control_index(&mcp_origin, sim.control_token()).await;

    // Assert
    assert_same(
        &documented_calls(&page, "## The authorization server"),
        &oauth_calls,
        "docs/endpoints.md, the authorization server's control plane",
    );
    assert_same(
        &documented_calls(&page, "## The MCP server"),
        &mcp_calls,
        "docs/endpoints.md, the MCP server's control plane",
    );
    assert_same(
        &documented_aliases(&page, "oauth"),
        &oauth_aliases,
        "docs/endpoints.md, the AS's earlier control paths",
    );
    assert_same(
        &documented_aliases(&page, "mcp"),
        &mcp_aliases,
        "docs/endpoints.md, the MCP server's earlier control paths",
    );
}

/// The names `scenario` takes, as `scenario --help` lists them (`- rotate: on|off: …`).
fn scenario_names_in_help() -> Vec<String> {
    let dir = WorkDir::new();
    let help = Launch::new(&dir).args(["scenario", "--help"]).run();
    help.assert_success();
    let names = help
        .stdout
        .split_once("\n  <NAME>\n")
        .and_then(|(_, rest)| rest.split_once("\n  [VALUE]"))
        .expect("scenario --help describes <NAME>, then [VALUE]")
        .0;
    names
        .lines()
        .filter_map(|line| line.trim().strip_prefix("- "))
        .filter_map(|line| line.split_once(':'))
        .map(|(name, _)| name.to_owned())
        .collect()
}

#[test]
fn the_scenario_table_has_a_row_for_each_name_the_scenario_command_takes_and_no_other() {
    // Arrange
    let offered = scenario_names_in_help();
    let page = page("scenarios.md");

    // Act: the first word of each code span of the first column, a name.
    let mut documented = Vec::new();
    for row in table(&page, "| Scenario | Control call it makes |") {
        let names: Vec<_> = code_spans(&row[0])
            .iter()
            .filter_map(|span| span.split_whitespace().next())
            .map(str::to_owned)
            .collect();
        assert!(!names.is_empty(), "the row '{}' names no scenario", row[0]);
        documented.extend(names);
    }

    // Assert
    for name in Name::value_variants() {
        assert!(
            offered.iter().any(|offered| offered == name.as_str()),
            "scenario --help does not offer {} (is the help parsed right?)",
            name.as_str()
        );
    }
    for name in &documented {
        let rows = documented.iter().filter(|other| *other == name).count();
        assert_eq!(rows, 1, "docs/scenarios.md lists {name} {rows} times");
    }
    assert_same(
        &documented.iter().collect(),
        &offered.iter().collect(),
        "docs/scenarios.md, the scenarios and their control calls",
    );
}

/// The fields the knob table gives `server` (`AS` or `MCP`), in the table's order.
fn knob_rows(server: &str) -> Vec<String> {
    let page = page("conformance.md");
    let rows = table(
        &section(&page, "## The knobs"),
        "| Server | Field | Values (default first) | What it changes |",
    );
    for row in &rows {
        assert!(
            row[0] == "AS" || row[0] == "MCP",
            "the knob row {row:?} names no server"
        );
    }
    rows.iter()
        .filter(|row| row[0] == server)
        .map(|row| {
            let spans = code_spans(&row[1]);
            assert_eq!(spans.len(), 1, "the knob row {row:?} names one field");
            spans[0].to_owned()
        })
        .collect()
}

#[test]
fn the_knob_table_lists_the_issuer_profile_fields_in_their_declared_order() {
    // Arrange
    let declared: Vec<&str> = oauth_server::profile::FIELDS.to_vec();

    // Act
    let documented = knob_rows("AS");

    // Assert
    assert_eq!(
        documented, declared,
        "docs/conformance.md's AS knob rows must be oauth_server::profile::FIELDS, in order"
    );
}

#[test]
fn the_knob_table_lists_each_mcp_profile_field_once_and_nothing_else() {
    // Arrange: the fields the MCP server's profile reads and writes, from the struct itself.
    let declared = match serde_json::to_value(mcp_server::Profile::default()) {
        Ok(Value::Object(fields)) => fields.keys().cloned().collect::<BTreeSet<_>>(),
        other => panic!("the MCP profile serializes to an object, not {other:?}"),
    };

    // Act
    let documented = knob_rows("MCP");

    // Assert
    let unique: BTreeSet<_> = documented.iter().cloned().collect();
    assert_eq!(
        unique.len(),
        documented.len(),
        "docs/conformance.md lists an MCP knob twice: {documented:?}"
    );
    assert_same(
        &unique,
        &declared,
        "docs/conformance.md, the MCP server's knobs",
    );
}
