//! Running commands that must finish: a test never hangs on a command that
//! does not.

use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

/// Runs `command` (standard input empty, outputs captured), which must
/// finish within `limit`: it is killed otherwise, and the test fails.
pub fn run_bounded(mut command: Command, limit: Duration) -> Output {
    let child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {command:?}: {e}"));
    wait_for(child, limit, &format!("{command:?}"))
}

/// Runs `command` with `input` on its standard input (outputs captured),
/// which must finish within `limit`: it is killed otherwise, and the test
/// fails.
pub fn run_with_input(command: &mut Command, input: &[u8], limit: Duration) -> Output {
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {command:?}: {e}"));
    let mut stdin = child.stdin.take().expect("stdin");
    let input = input.to_vec();
    // Written meanwhile: a command may answer before it has read it all.
    let writer = std::thread::spawn(move || std::io::Write::write_all(&mut stdin, &input));
    let out = wait_for(child, limit, &format!("{command:?}"));
    writer
        .join()
        .expect("writer")
        .expect("write to the command");
    out
}

/// Waits for `child`, reading its outputs meanwhile so that a full pipe
/// cannot stop it; kills it and fails the test after `limit`.
pub fn wait_bounded(child: Child, limit: Duration) -> Output {
    wait_for(child, limit, "a command")
}

fn wait_for(child: Child, limit: Duration, what: &str) -> Output {
    let pid = child.id();
    let (done, finished) = std::sync::mpsc::channel();
    std::thread::spawn(move || done.send(child.wait_with_output()));
    match finished.recv_timeout(limit) {
        Ok(output) => output.expect("output"),
        Err(_) => {
            kill(pid);
            panic!("{what} did not finish within {limit:?}");
        }
    }
}

/// Fails, naming `what` and showing its standard error, unless the
/// command that gave `out` succeeded.
#[track_caller]
pub fn assert_success(out: &Output, what: &str) {
    assert!(
        out.status.success(),
        "{what} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Fails, showing `text`, unless it contains `needle`.
#[track_caller]
pub fn assert_contains(text: &str, needle: &str) {
    assert!(text.contains(needle), "no {needle:?} in:\n{text}");
}

/// Kills process `pid` (a child this test started).
pub fn kill(pid: u32) {
    if let Some(pid) = rustix::process::Pid::from_raw(pid as i32) {
        let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
    }
}
