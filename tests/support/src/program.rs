//! [`Program`]: a binary run as a child process (the examples, as a user
//! would run them): its output read line by line with every wait bounded by
//! [`WAIT`], and killed when the test ends, passes or panics. Blocking
//! (std only), for plain `#[test]`s.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::thread;
use std::time::{Duration, Instant};

use crate::wait::WAIT;

enum Line {
    Out(String),
    Err(String),
}

/// A running binary.
pub struct Program {
    name: String,
    child: Child,
    lines: Receiver<Line>,
    /// Everything it printed so far, stdout and stderr interleaved (stderr
    /// lines prefixed), for assertions and failure messages.
    transcript: Vec<String>,
    /// The stdout lines only.
    stdout: Vec<String>,
}

impl Program {
    /// Starts `path` (from `env!("CARGO_BIN_EXE_...")`) with `args` and no
    /// stdin.
    pub fn start(path: &str, args: &[&str]) -> Program {
        let name = path.rsplit('/').next().unwrap_or(path).to_string();
        let mut child = Command::new(path)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|err| panic!("cannot start {path}: {err}"));
        let (tx, lines) = mpsc::channel();
        let stdout = child.stdout.take().expect("stdout is piped");
        let stderr = child.stderr.take().expect("stderr is piped");
        forward(stdout, tx.clone(), Line::Out);
        forward(stderr, tx, Line::Err);
        Program {
            name,
            child,
            lines,
            transcript: Vec::new(),
            stdout: Vec::new(),
        }
    }

    /// Starts a server example on a free port (with `extra_args`) and
    /// returns it with its TCP address, which it prints as
    /// `... listening on tcp://ADDR`.
    pub fn start_server(path: &str, extra_args: &[&str]) -> (Program, String) {
        let args = [&["--addr", "127.0.0.1:0"][..], extra_args].concat();
        let mut server = Program::start(path, &args);
        let line = server.wait_for("listening on tcp://");
        let addr = line
            .rsplit("tcp://")
            .next()
            .expect("the line has an address")
            .trim()
            .to_string();
        (server, addr)
    }

    /// Waits for a stdout line containing `needle` (earlier lines included)
    /// and returns it. Panics with the transcript after [`WAIT`] or
    /// when the program ends without printing it.
    pub fn wait_for(&mut self, needle: &str) -> String {
        if let Some(line) = self.stdout.iter().find(|l| l.contains(needle)) {
            return line.clone();
        }
        let until = Instant::now() + WAIT;
        loop {
            let left = until.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    if let Some(out) = self.record(line) {
                        if out.contains(needle) {
                            return out;
                        }
                    }
                }
                Err(RecvTimeoutError::Timeout) => self.fail(&format!("no line with {needle:?}")),
                Err(RecvTimeoutError::Disconnected) => {
                    self.fail(&format!("ended without printing {needle:?}"))
                }
            }
        }
    }

    /// Waits for the program to exit by itself and returns its status once
    /// all its output is read. Panics after [`WAIT`].
    pub fn wait_for_exit(&mut self) -> ExitStatus {
        let until = Instant::now() + WAIT;
        // Output ends when the program closes its pipes, at exit.
        loop {
            let left = until.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.record(line);
                }
                Err(RecvTimeoutError::Disconnected) => break,
                Err(RecvTimeoutError::Timeout) => self.fail("did not exit"),
            }
        }
        loop {
            match self.child.try_wait() {
                Ok(Some(status)) => return status,
                Ok(None) if Instant::now() < until => thread::sleep(Duration::from_millis(10)),
                Ok(None) => self.fail("closed its output but did not exit"),
                Err(err) => self.fail(&format!("cannot wait for it: {err}")),
            }
        }
    }

    /// Waits for a successful exit; panics with the transcript otherwise.
    pub fn expect_success(&mut self) {
        let status = self.wait_for_exit();
        if !status.success() {
            self.fail(&format!("exited with {status}"));
        }
    }

    /// Waits for an exit with a failure status; panics with the transcript
    /// when it succeeds instead.
    pub fn expect_failure(&mut self) {
        let status = self.wait_for_exit();
        if status.success() {
            self.fail("succeeded where it should have failed");
        }
    }

    /// Everything printed so far, stdout and stderr (stderr lines marked),
    /// one line each.
    pub fn transcript(&self) -> String {
        self.transcript.join("\n")
    }

    /// Everything printed on stdout so far, one line each.
    pub fn stdout(&self) -> String {
        self.stdout.join("\n")
    }

    fn record(&mut self, line: Line) -> Option<String> {
        match line {
            Line::Out(text) => {
                self.transcript.push(text.clone());
                self.stdout.push(text.clone());
                Some(text)
            }
            Line::Err(text) => {
                self.transcript.push(format!("(stderr) {text}"));
                None
            }
        }
    }

    fn fail(&self, what: &str) -> ! {
        panic!(
            "{} {what}; its output so far:\n{}",
            self.name,
            self.transcript.join("\n")
        )
    }
}

impl Drop for Program {
    fn drop(&mut self) {
        // Harmless when it already exited; reaps it so no zombie is left.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn forward<R: Read + Send + 'static>(from: R, to: mpsc::Sender<Line>, wrap: fn(String) -> Line) {
    thread::spawn(move || {
        for line in BufReader::new(from).lines() {
            let Ok(line) = line else { break };
            if to.send(wrap(line)).is_err() {
                break;
            }
        }
    });
}

/// `GET path` from an HTTP server at `addr` (host:port): the whole response,
/// status line and headers included. Panics after [`WAIT`].
pub fn http_get(addr: &str, path: &str) -> String {
    let mut stream = TcpStream::connect(addr).expect("http connects");
    stream.set_read_timeout(Some(WAIT)).expect("a read timeout");
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .expect("request sent");
    let mut response = Vec::new();
    stream.read_to_end(&mut response).expect("response read");
    String::from_utf8_lossy(&response).into_owned()
}
