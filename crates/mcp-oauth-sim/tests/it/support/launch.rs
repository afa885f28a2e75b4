//! The binary as a child process: a fresh working directory per run, output read on background
//! threads, the ready lines parsed into addresses, and a kill when the handle drops.

use std::io::{BufRead, BufReader};
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use url::Url;

pub const BIN: &str = env!("CARGO_BIN_EXE_mcp-oauth-sim");

/// Each run starts with none of the binary's variables, so that the machine's environment cannot
/// change what a test sees.
pub use mcp_oauth_sim::flags::variables;

/// Flags for a rig on ports the OS picks.
pub const EPHEMERAL_PORTS: [&str; 4] = ["--oauth-port", "0", "--mcp-port", "0"];

/// How long a rig may take to print its ready lines, or a command to finish. Generous because
/// the machine may be busy compiling; a healthy run takes milliseconds.
const PATIENCE: Duration = Duration::from_secs(20);

/// A fresh, empty directory to run the binary in, so no `.env` or `certs` of the repository
/// leaks in. Removed on drop.
pub struct WorkDir {
    path: PathBuf,
}

impl WorkDir {
    pub fn new() -> Self {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let path = std::env::temp_dir().join(format!(
            "mcp-oauth-sim-it-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).expect("create a working directory");
        Self { path }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn write(&self, name: &str, contents: &str) {
        std::fs::write(self.path.join(name), contents).expect("write a file in the working dir");
    }

    pub fn read(&self, name: &str) -> String {
        std::fs::read_to_string(self.path.join(name))
            .unwrap_or_else(|error| panic!("cannot read {name}: {error}"))
    }
}

impl Drop for WorkDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// One invocation of the binary, being set up.
pub struct Launch {
    command: Command,
}

impl Launch {
    /// `mcp-oauth-sim` in a fresh working directory.
    pub fn new(dir: &WorkDir) -> Self {
        Self::in_dir(dir.path())
    }

    /// `mcp-oauth-sim` in `path`, with none of its variables set.
    pub fn in_dir(path: &Path) -> Self {
        Self::program_in(Command::new(BIN), path)
    }

    /// One of the repository's `scripts/`, run with bash in `dir`, with none of the rig's
    /// variables set.
    pub fn script(dir: &WorkDir, name: &str) -> Self {
        let script = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../scripts")
            .join(name);
        let mut command = Command::new("bash");
        command.arg(script);
        Self::program_in(command, dir.path())
    }

    fn program_in(mut command: Command, path: &Path) -> Self {
        command
            .current_dir(path)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for name in variables() {
            command.env_remove(name);
        }
        // The dashboard's default port, 9102, would be shared by every rig a test starts at
        // once; a test that cares sets it again.
        command.env("DASHBOARD_PORT", "0");
        Self { command }
    }

    pub fn arg(mut self, arg: &str) -> Self {
        self.command.arg(arg);
        self
    }

    pub fn args<'a>(mut self, args: impl IntoIterator<Item = &'a str>) -> Self {
        self.command.args(args);
        self
    }

    pub fn env(mut self, name: &str, value: &str) -> Self {
        self.command.env(name, value);
        self
    }

    /// Runs a command that ends by itself (`certs`, `scenario`, a failing start) to its end.
    pub fn run(self) -> Finished {
        let mut process = Process::spawn(self.command);
        let status = process.wait_for_exit();
        let stdout = process.read_remaining_stdout();
        Finished {
            status,
            stdout,
            stderr: process.stderr(),
        }
    }

    /// Starts a command that runs until stopped (`scenario watch`), without waiting for anything.
    pub fn start(self) -> Started {
        Started {
            process: Process::spawn(self.command),
        }
    }

    /// Starts `serve` and waits for both ready lines.
    pub fn serve(self) -> Serving {
        let mut process = Process::spawn(self.command);
        let oauth_line = process.announcement("[oauth] authorization server ");
        let mcp_line = process.announcement("[mcp] protected MCP server ");
        Serving {
            oauth: Announced::parse(&oauth_line, "[oauth] authorization server "),
            mcp: Announced::parse(&mcp_line, "[mcp] protected MCP server "),
            process,
        }
    }
}

/// A command that has ended.
#[derive(Debug)]
pub struct Finished {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl Finished {
    pub fn assert_success(&self) -> &Self {
        assert!(self.status.success(), "{self:#?}");
        self
    }

    /// The stdout with runs of spaces collapsed, for matching `rotate on` in aligned columns.
    pub fn stdout_words(&self) -> String {
        words(&self.stdout)
    }
}

/// `text` with every run of whitespace turned into one space.
pub fn words(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// A URL a ready line announces and where the server actually listens.
#[derive(Clone, Debug)]
pub struct Announced {
    /// The issuer, or the MCP URL, as printed.
    pub url: String,
    /// What the listener speaks (`http`/`https`), which differs from the URL's scheme behind a
    /// tunnel.
    pub scheme: String,
    pub addr: SocketAddr,
    /// Where the MCP server checks tokens, when the line says.
    pub introspection: Option<String>,
}

impl Announced {
    /// Parses `<prefix><url>`, `<prefix><url> (<scheme>)` or
    /// `<prefix><url> (<scheme> on <addr>[; tokens checked at <url>])`.
    fn parse(line: &str, prefix: &str) -> Self {
        let rest = line.strip_prefix(prefix).expect("the line has the prefix");
        let (url, detail) = match rest.split_once(" (") {
            Some((url, detail)) => (url, detail.trim_end_matches(')')),
            None => (rest, ""),
        };
        let parsed = Url::parse(url).unwrap_or_else(|error| panic!("{line:?}: {error}"));
        let (listener, introspection) = match detail.split_once("; tokens checked at ") {
            Some((listener, at)) => (listener, Some(at.to_owned())),
            None => (detail, None),
        };
        let (scheme, addr) = match listener.split_once(" on ") {
            Some((scheme, addr)) => (
                scheme.to_owned(),
                addr.parse()
                    .unwrap_or_else(|error| panic!("{line:?}: {error}")),
            ),
            None => (
                parsed.scheme().to_owned(),
                SocketAddr::from((
                    Ipv4Addr::LOCALHOST,
                    parsed.port().expect("a local URL names its port"),
                )),
            ),
        };
        Self {
            url: url.to_owned(),
            scheme,
            addr,
            introspection,
        }
    }

    /// The server's origin on loopback, by address.
    pub fn local_origin(&self) -> String {
        format!("{}://{}", self.scheme, self.addr)
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }
}

/// A running `serve`. Dropping it kills the process.
pub struct Serving {
    pub oauth: Announced,
    pub mcp: Announced,
    process: Process,
}

impl Serving {
    /// The flags that point `scenario` at this rig.
    pub fn port_args(&self) -> [String; 4] {
        [
            "--oauth-port".into(),
            self.oauth.port().to_string(),
            "--mcp-port".into(),
            self.mcp.port().to_string(),
        ]
    }

    /// `scenario <args>` against this rig, from another fresh directory, as a second terminal
    /// would run it; not started yet.
    pub fn scenario_command(&self, dir: &WorkDir, args: &[&str]) -> Launch {
        let ports = self.port_args();
        Launch::new(dir)
            .arg("scenario")
            .args(args.iter().copied())
            .args(ports.iter().map(String::as_str))
    }

    /// Runs `scenario <args>` against this rig to its end.
    pub fn scenario(&self, args: &[&str]) -> Finished {
        let dir = WorkDir::new();
        self.scenario_command(&dir, args).run()
    }

    /// Waits for the next stdout line (among those not yet matched) that satisfies `wanted`.
    pub fn line_where(&mut self, wanted: impl Fn(&str) -> bool) -> String {
        self.process.line_where(wanted)
    }

    pub fn line_starting(&mut self, prefix: &str) -> String {
        self.process.line_starting(prefix)
    }

    /// Every stdout line read so far.
    pub fn stdout_so_far(&self) -> &[String] {
        &self.process.seen
    }

    /// Sends a signal by name (`TERM`, `INT`) and waits for the process to exit.
    pub fn stop_with(mut self, signal: &str) -> Finished {
        signal_process(&self.process.child, signal);
        let status = self.process.wait_for_exit();
        let rest = self.process.read_remaining_stdout();
        let mut stdout = self.process.seen.join("\n");
        stdout.push('\n');
        stdout.push_str(&rest);
        Finished {
            status,
            stdout,
            stderr: self.process.stderr(),
        }
    }
}

/// A command running until stopped. Dropping it kills the process.
pub struct Started {
    process: Process,
}

impl Started {
    /// Waits for the next stdout line (among those not yet matched) that satisfies `wanted`.
    pub fn line_where(&mut self, wanted: impl Fn(&str) -> bool) -> String {
        self.process.line_where(wanted)
    }

    /// Like [`Started::line_where`], but gives up quietly after `patience`.
    pub fn line_within(
        &mut self,
        patience: Duration,
        wanted: impl Fn(&str) -> bool,
    ) -> Option<String> {
        self.process.line_within(patience, wanted)
    }

    /// Waits until stderr says `text`.
    pub fn wait_for_stderr(&mut self, text: &str) {
        let deadline = Instant::now() + PATIENCE;
        while !self.process.stderr_now().contains(text) {
            if Instant::now() >= deadline {
                let _ = self.process.child.kill();
                panic!(
                    "stderr never said {text:?}; stderr:\n{}\nstdout:\n{}",
                    self.process.stderr_now(),
                    self.process.seen.join("\n")
                );
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Sends a signal by name (`TERM`, `INT`) and waits for the process to exit.
    pub fn stop_with(mut self, signal: &str) -> Finished {
        signal_process(&self.process.child, signal);
        self.finish()
    }

    /// Waits for the process to exit by itself.
    pub fn finish(&mut self) -> Finished {
        let status = self.process.wait_for_exit();
        let rest = self.process.read_remaining_stdout();
        let mut stdout = self.process.seen.join("\n");
        stdout.push('\n');
        stdout.push_str(&rest);
        Finished {
            status,
            stdout,
            stderr: self.process.stderr(),
        }
    }
}

fn signal_process(child: &Child, signal: &str) {
    let pid = child.id().to_string();
    let sent = Command::new("kill")
        .args(["-s", signal, &pid])
        .status()
        .expect("run kill");
    assert!(sent.success(), "kill -s {signal} {pid}");
}

/// A child process whose output is read on background threads, so that it never blocks on a
/// full pipe. Killed on drop.
struct Process {
    child: Child,
    lines: Receiver<String>,
    /// Every stdout line received so far.
    seen: Vec<String>,
    /// How many of `seen` a `line_where` already returned or passed over.
    consumed: usize,
    stderr: Arc<Mutex<String>>,
    stderr_reader: Option<std::thread::JoinHandle<()>>,
}

impl Process {
    fn spawn(mut command: Command) -> Self {
        let mut child = command.spawn().expect("start mcp-oauth-sim");
        let stdout = child.stdout.take().expect("stdout is piped");
        let (sender, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if sender.send(line).is_err() {
                    break;
                }
            }
        });
        let pipe = child.stderr.take().expect("stderr is piped");
        let stderr = Arc::new(Mutex::new(String::new()));
        let sink = Arc::clone(&stderr);
        // Line by line, so that a test can wait for what a running command says on stderr.
        let stderr_reader = std::thread::spawn(move || {
            let mut pipe = BufReader::new(pipe);
            let mut line = String::new();
            while matches!(pipe.read_line(&mut line), Ok(read) if read > 0) {
                sink.lock().unwrap().push_str(&line);
                line.clear();
            }
        });
        Self {
            child,
            lines,
            seen: Vec::new(),
            consumed: 0,
            stderr,
            stderr_reader: Some(stderr_reader),
        }
    }

    fn line_starting(&mut self, prefix: &str) -> String {
        self.line_where(|line| line.starts_with(prefix))
    }

    /// The text of the next announcement (ready line, control token, stopping) starting with
    /// `prefix`: the line itself, or its `msg` when the log is JSON (`LOG=json`).
    fn announcement(&mut self, prefix: &str) -> String {
        let line = self.line_where(|line| announced_text(line).starts_with(prefix));
        announced_text(&line)
    }

    /// The next unmatched stdout line satisfying `wanted` within `patience`, if the process
    /// is still running.
    fn line_within(&mut self, patience: Duration, wanted: impl Fn(&str) -> bool) -> Option<String> {
        let deadline = Instant::now() + patience;
        loop {
            while self.consumed < self.seen.len() {
                let line = &self.seen[self.consumed];
                self.consumed += 1;
                if wanted(line) {
                    return Some(line.clone());
                }
            }
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => self.seen.push(line),
                Err(_) => return None,
            }
        }
    }

    fn line_where(&mut self, wanted: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + PATIENCE;
        loop {
            while self.consumed < self.seen.len() {
                let line = &self.seen[self.consumed];
                self.consumed += 1;
                if wanted(line) {
                    return line.clone();
                }
            }
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => self.seen.push(line),
                Err(RecvTimeoutError::Timeout) => {
                    let _ = self.child.kill();
                    panic!(
                        "no such line within {PATIENCE:?}; stdout so far:\n{}\nstderr:\n{}",
                        self.seen.join("\n"),
                        self.stderr_now()
                    );
                }
                Err(RecvTimeoutError::Disconnected) => {
                    let status = self.wait_for_exit();
                    panic!(
                        "mcp-oauth-sim exited ({status}) before printing the line; stdout:\n{}\nstderr:\n{}",
                        self.seen.join("\n"),
                        self.stderr()
                    );
                }
            }
        }
    }

    /// Waits for the process to exit on its own, killing it (and failing) after [`PATIENCE`].
    fn wait_for_exit(&mut self) -> ExitStatus {
        let deadline = Instant::now() + PATIENCE;
        loop {
            if let Some(status) = self.child.try_wait().expect("poll the child") {
                return status;
            }
            if Instant::now() >= deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                panic!(
                    "mcp-oauth-sim did not exit within {PATIENCE:?}; stdout:\n{}\nstderr:\n{}",
                    self.seen.join("\n"),
                    self.stderr_now()
                );
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Stdout lines not yet received, once the process has exited (the pipe then closes).
    fn read_remaining_stdout(&mut self) -> String {
        let mut rest = String::new();
        while let Ok(line) = self.lines.recv_timeout(PATIENCE) {
            rest.push_str(&line);
            rest.push('\n');
        }
        rest
    }

    /// All of stderr, once the process has exited.
    fn stderr(&mut self) -> String {
        if let Some(reader) = self.stderr_reader.take() {
            let _ = reader.join();
        }
        self.stderr_now()
    }

    /// What stderr said so far.
    fn stderr_now(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A line as text: a JSON line's `msg`, any other line as it is.
pub fn announced_text(line: &str) -> String {
    let parsed: Option<serde_json::Value> = line
        .starts_with('{')
        .then(|| serde_json::from_str(line).ok())
        .flatten();
    match parsed.as_ref().and_then(|entry| entry["msg"].as_str()) {
        Some(msg) => msg.to_owned(),
        None => line.to_owned(),
    }
}
