//! [`RedisServer`]: a real `redis-server` on a loopback port the test
//! picks, for the cluster tests. Started daemonized with no persistence,
//! stopped by its pid (never by name: other sessions may run their own).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

/// A `redis-server` of this test. Stopped when dropped.
pub struct RedisServer {
    port: u16,
    dir: PathBuf,
    pid: Option<u32>,
}

impl RedisServer {
    /// Starts one on a free loopback port, or `None` (after printing why)
    /// when `redis-server` is not installed: `scripts/test.sh` installs
    /// it, so only a hand-run test on a bare machine skips.
    pub fn start() -> Option<Self> {
        if Command::new("redis-server")
            .arg("--version")
            .output()
            .is_err()
        {
            eprintln!(
                "SKIPPED: redis-server is not installed (scripts/test.sh installs it: \
                 apt-get install redis-server)"
            );
            return None;
        }
        let port = free_port();
        let dir = std::env::temp_dir().join(format!("hisock-redis-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("a folder for redis-server");
        let mut redis = RedisServer {
            port,
            dir,
            pid: None,
        };
        redis.launch();
        Some(redis)
    }

    /// `redis://127.0.0.1:{port}/`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    /// Stops it (its data is gone: it runs without persistence).
    pub fn stop(&mut self) {
        let Some(pid) = self.pid.take() else { return };
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(pid.to_string())
            .status();
        let deadline = std::time::Instant::now() + crate::WAIT;
        while alive(pid) {
            assert!(
                std::time::Instant::now() < deadline,
                "redis-server {pid} did not stop"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Starts it again on the same port, empty.
    pub fn restart(&mut self) {
        self.stop();
        self.launch();
    }

    fn launch(&mut self) {
        let pidfile = self.dir.join("redis.pid");
        let _ = std::fs::remove_file(&pidfile);
        let status = Command::new("redis-server")
            .args(["--port", &self.port.to_string()])
            .args(["--bind", "127.0.0.1"])
            .args(["--save", ""])
            .args(["--appendonly", "no"])
            .args(["--daemonize", "yes"])
            .arg("--pidfile")
            .arg(&pidfile)
            .arg("--logfile")
            .arg(self.dir.join("redis.log"))
            .arg("--dir")
            .arg(&self.dir)
            .status()
            .expect("redis-server runs");
        assert!(status.success(), "redis-server failed to start: {status}");
        let deadline = std::time::Instant::now() + crate::WAIT;
        loop {
            let pid = std::fs::read_to_string(&pidfile)
                .ok()
                .and_then(|text| text.trim().parse().ok());
            if let (Some(pid), true) = (pid, answers_ping(self.port)) {
                self.pid = Some(pid);
                return;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "redis-server on port {} did not come up",
                self.port
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

fn alive(pid: u32) -> bool {
    // Quiet: once it is gone, kill says "No such process".
    Command::new("kill")
        .arg("-0")
        .arg(pid.to_string())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn answers_ping(port: u16) -> bool {
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(1)));
    let mut reply = [0u8; 7];
    stream.write_all(b"PING\r\n").is_ok()
        && stream.read_exact(&mut reply).is_ok()
        && &reply == b"+PONG\r\n"
}
