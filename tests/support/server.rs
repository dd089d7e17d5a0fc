//! Servers a test starts on 127.0.0.1 (sshd, nginx, fcgiwrap): each a
//! child process killed when its guard is dropped, waited for with a
//! bound, its output kept in a log file that a failure shows.

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long a server may take to start listening.
const START: Duration = Duration::from_secs(20);

/// A server process, killed (and reaped) when dropped.
pub struct Running {
    child: Child,
    name: String,
    log: PathBuf,
}

/// How long a server may take to stop once asked.
const STOP: Duration = Duration::from_secs(5);

impl Drop for Running {
    /// Asks the server to stop (SIGTERM: nginx's master stops its workers,
    /// which a SIGKILL would leave running), then kills it if it has not
    /// within [`STOP`].
    fn drop(&mut self) {
        if let Some(pid) = rustix::process::Pid::from_raw(self.child.id() as i32) {
            let _ = rustix::process::kill_process(pid, rustix::process::Signal::TERM);
        }
        let deadline = Instant::now() + STOP;
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        super::process::kill(self.child.id());
        let _ = self.child.wait();
    }
}

impl Running {
    /// Spawns `command` (named `name` in failures), its standard output
    /// and error written to `log`, standard input empty.
    pub fn spawn(name: &str, mut command: Command, log: &Path) -> Running {
        let file = std::fs::File::create(log).unwrap_or_else(|e| panic!("create {log:?}: {e}"));
        let err = file.try_clone().expect("log file");
        command
            .stdin(Stdio::null())
            .stdout(Stdio::from(file))
            .stderr(Stdio::from(err));
        let child = command
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {name} ({command:?}): {e}"));
        Running {
            child,
            name: name.to_owned(),
            log: log.to_owned(),
        }
    }

    /// Waits until `ready` holds, failing (with the log) when the server
    /// exits or [`START`] passes first.
    pub fn wait_until(&mut self, what: &str, ready: impl Fn() -> bool) {
        let deadline = Instant::now() + START;
        while !ready() {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("{} exited ({status}): {}", self.name, self.log_text());
            }
            assert!(
                Instant::now() < deadline,
                "{} did not {what} within {START:?}: {}",
                self.name,
                self.log_text()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Waits until 127.0.0.1:`port` accepts connections.
    pub fn wait_for_port(&mut self, port: u16) {
        self.wait_until(&format!("listen on port {port}"), || {
            TcpStream::connect(("127.0.0.1", port)).is_ok()
        });
    }

    /// What the server wrote so far.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

/// A port free on 127.0.0.1 now (another process may take it before the
/// server binds it: the server then fails to start, and says so).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}
