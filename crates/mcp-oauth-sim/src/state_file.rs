//! The state file (`STATE_FILE`): what both servers hold, kept across a restart so that a
//! client holding tokens carries on without a new consent.
//!
//! The file is JSON with a `version`; tokens, codes and client secrets are in it only as SHA-256
//! hashes (the authorization server keys them so in memory too). It is replaced atomically — a
//! temporary file beside it, flushed to disk, then renamed over it — so that a crash in the
//! middle of a write leaves the previous version whole, and it is created with mode 0600. A file
//! that cannot be read, does not parse or has another version stops the start and is left as it
//! is: it may hold what a tester still wants.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The version this build writes and reads.
pub const VERSION: u64 = 1;

/// How often a running rig writes the file when something changed: a `kill -9` loses at most
/// this much. A clean stop (Ctrl-C, SIGTERM, [`crate::Sim::stop`]) writes it last.
pub const WRITE_EVERY: Duration = Duration::from_secs(1);

/// What the file holds.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Saved {
    /// [`VERSION`] when written by this build.
    pub version: u64,
    /// When it was written, in seconds since the Unix epoch: for a person reading the file.
    pub written_at: u64,
    /// The rig clock's offset from system time, in milliseconds: expiry times are on that
    /// clock, so a clock moved by a tester stays moved.
    pub clock_offset_ms: i64,
    /// Every issuer's clients, codes, tokens, grants, switches and fault rules.
    pub oauth: oauth_server::SavedHost,
    /// The MCP server's switches, fault rules and the audiences it accepts.
    pub mcp: mcp_server::SavedMcp,
}

impl Saved {
    /// Stamps `oauth` and `mcp` with this build's version and the time.
    pub fn new(
        clock_offset_ms: i64,
        oauth: oauth_server::SavedHost,
        mcp: mcp_server::SavedMcp,
    ) -> Self {
        Self {
            version: VERSION,
            written_at: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |since| since.as_secs()),
            clock_offset_ms,
            oauth,
            mcp,
        }
    }
}

/// Reads the file at `path`: `None` when there is none yet (the first start). Any other problem
/// is an error naming the file and what to do; the file is not touched.
pub fn read(path: &Path) -> Result<Option<Saved>, String> {
    let shown = path.display();
    let text = match fs::read(path) {
        Ok(text) => text,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(error) => return Err(format!("STATE_FILE {shown} cannot be read: {error}")),
    };
    let document: Value = serde_json::from_slice(&text).map_err(|error| {
        format!(
            "STATE_FILE {shown} is not a state file ({error}); it was left as it is: move it \
             away or point STATE_FILE elsewhere to start afresh"
        )
    })?;
    match document.get("version").and_then(Value::as_u64) {
        Some(VERSION) => {}
        Some(other) => {
            return Err(format!(
                "STATE_FILE {shown} has version {other}; this mcp-oauth-sim reads version \
                 {VERSION}. It was left as it is"
            ));
        }
        None => {
            return Err(format!(
                "STATE_FILE {shown} has no version: it is not a state file of mcp-oauth-sim. \
                 It was left as it is"
            ));
        }
    }
    serde_json::from_value(document).map(Some).map_err(|error| {
        format!(
            "STATE_FILE {shown} is version {VERSION} but cannot be read ({error}); it was left \
             as it is"
        )
    })
}

/// Writes `saved` to `path` atomically, mode 0600.
pub fn write(path: &Path, saved: &Saved) -> io::Result<()> {
    let bytes = serde_json::to_vec(saved).map_err(io::Error::other)?;
    replace(path, |file| file.write_all(&bytes))
}

/// Replaces the file at `path` with what `fill` writes, never leaving it half-written: `fill`
/// writes a temporary file beside it, which is flushed to the disk and then renamed over it.
/// When `fill` fails, or the process dies before the rename, `path` is as it was.
pub fn replace(path: &Path, fill: impl FnOnce(&mut File) -> io::Result<()>) -> io::Result<()> {
    let temporary = temporary_beside(path);
    let written = (|| {
        let mut file = create_private(&temporary)?;
        fill(&mut file)?;
        file.sync_all()
    })();
    if let Err(error) = written {
        let _ = fs::remove_file(&temporary);
        return Err(error);
    }
    fs::rename(&temporary, path)?;
    // The rename itself reaches the disk with the directory.
    if let Some(directory) = path.parent().filter(|dir| !dir.as_os_str().is_empty())
        && let Ok(directory) = File::open(directory)
    {
        let _ = directory.sync_all();
    }
    Ok(())
}

/// Where `path` is written before it is renamed into place: beside it (a rename within one
/// file system), named after it so that a leftover is recognisable.
pub fn temporary_beside(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".writing");
    path.with_file_name(name)
}

fn create_private(path: &Path) -> io::Result<File> {
    let mut options = OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("mcp-oauth-sim-state-{}-{name}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        dir.join("state.json")
    }

    #[test]
    fn a_write_that_fails_half_way_leaves_the_previous_file_whole() {
        let path = scratch("half");
        replace(&path, |file| {
            file.write_all(b"{\"version\":1,\"whole\":true}")
        })
        .unwrap();
        let crashed = replace(&path, |file| {
            file.write_all(b"{\"version\":1,\"wh")?;
            Err(io::Error::other("the disk filled up"))
        });
        assert!(crashed.is_err());
        assert_eq!(
            fs::read_to_string(&path).unwrap(),
            "{\"version\":1,\"whole\":true}"
        );
        assert!(
            !temporary_beside(&path).exists(),
            "the half-written temporary file is removed"
        );
    }

    #[cfg(unix)]
    #[test]
    fn the_file_is_readable_by_its_owner_only() {
        use std::os::unix::fs::PermissionsExt;
        let path = scratch("mode");
        replace(&path, |file| file.write_all(b"{}")).unwrap();
        let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }

    #[test]
    fn a_missing_file_is_a_first_start_and_a_bad_one_an_error_that_leaves_it_alone() {
        let path = scratch("bad");
        assert!(read(&path).unwrap().is_none());
        for (content, says) in [
            (&b"{\"version\":1,"[..], "is not a state file"),
            (
                b"{\"version\":7}",
                "has version 7; this mcp-oauth-sim reads version 1",
            ),
            (b"{\"clients\":[]}", "has no version"),
            (
                b"{\"version\":1,\"oauth\":42}",
                "is version 1 but cannot be read",
            ),
        ] {
            fs::write(&path, content).unwrap();
            let error = read(&path).unwrap_err();
            assert!(error.starts_with("STATE_FILE "), "{error}");
            assert!(error.contains(says), "{error}");
            assert_eq!(fs::read(&path).unwrap(), content, "left as it is");
        }
    }
}
