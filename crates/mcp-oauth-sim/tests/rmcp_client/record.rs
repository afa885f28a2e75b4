//! The result file of a passing scenario, in the format shared by every client's matrix (a
//! separate helper renders the README's "Tested clients" table from these files):
//! `<dir>/rmcp/<scheme>-<n>.json`, `<dir>` being `$CLIENT_MATRIX_DIR` or
//! `<workspace>/target/client-matrix`.

use std::fs;
use std::path::PathBuf;

use serde_json::json;

use crate::rig::Scheme;

/// The workspace's lock file, read at build time, so the result names the rmcp version this
/// test was compiled against rather than one written down by hand.
const CARGO_LOCK: &str = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../../Cargo.lock"));

/// One scenario's result, from its first line to its last.
pub struct Record {
    path: PathBuf,
    scheme: Scheme,
    scenario: u8,
    name: &'static str,
}

impl Record {
    /// Removes what an earlier run left for this scenario, so that a test failing now cannot
    /// leave a stale "passed" behind.
    pub fn start(scheme: Scheme, scenario: u8, name: &'static str) -> Self {
        let path = directory().join(format!("{}-{scenario}.json", scheme.as_str()));
        match fs::remove_file(&path) {
            Ok(()) => {}
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
            Err(error) => panic!("cannot remove {}: {error}", path.display()),
        }
        Self {
            path,
            scheme,
            scenario,
            name,
        }
    }

    /// Writes the result. Called as a scenario's last statement, after every assertion.
    pub fn passed(self, note: &str) {
        let result = json!({
            "client": "rmcp",
            "version": rmcp_version(),
            "scheme": self.scheme.as_str(),
            "scenario": self.scenario,
            "name": self.name,
            "passed": true,
            "note": note,
        });
        let dir = self.path.parent().expect("the file is in a directory");
        fs::create_dir_all(dir)
            .unwrap_or_else(|error| panic!("cannot create {}: {error}", dir.display()));
        let text = serde_json::to_string_pretty(&result).expect("the result serializes") + "\n";
        fs::write(&self.path, text)
            .unwrap_or_else(|error| panic!("cannot write {}: {error}", self.path.display()));
    }
}

fn directory() -> PathBuf {
    let base = match std::env::var_os("CLIENT_MATRIX_DIR") {
        // An empty value counts as unset, as for the rig's own variables.
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/client-matrix"),
    };
    base.join("rmcp")
}

/// The `version` of the `rmcp` package in `Cargo.lock`.
fn rmcp_version() -> &'static str {
    CARGO_LOCK
        .split("[[package]]")
        .find_map(|package| {
            let mut fields = package.lines().filter_map(|line| line.split_once(" = "));
            let name = fields.next()?;
            let version = fields.next()?;
            (name == ("name", "\"rmcp\"") && version.0 == "version")
                .then(|| version.1.trim_matches('"'))
        })
        .expect("Cargo.lock lists rmcp")
}
