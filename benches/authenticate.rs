//! `cargo bench`: the figures of the speed goals, measured on the release
//! binary, with git's own floor measured in the same run.
//!
//! - a generated channel (`BENCH_COMMITS`, default 20,000, GNU Guix's mix
//!   of algorithms) and one of half its size, to show cost per commit;
//! - GNU Guix and nonguix, when `GIT_AUTHENTICATE_GUIX` /
//!   `GIT_AUTHENTICATE_NONGUIX` name clones of them (with their keyring
//!   branches);
//! - with `BENCH_MILLION=1`, peak memory on a generated history of
//!   1,000,000 commits (against 100,000, to show it stays bounded);
//! - the server's gate (`git-authenticate pre-receive`) on the generated
//!   channel and GNU Guix: a push creating a branch of 1,000 new commits,
//!   one new commit accepted, one refused, and one refused dated 2024,
//!   2015 and 1971 (commit dates are the pusher's choice);
//! - the gate's bounds: 20 merges over a 1 MiB `.guix-authorizations`,
//!   1,000 refs checked with a 100,000-key keyring, a push of 200,000
//!   unsigned commits (time, peak memory, bytes printed).
//!
//! - the audit (`git-authenticate audit`) against a cold authentication of
//!   the same range, on the generated channel and GNU Guix (its goal: at
//!   most 1.5 times).
//!
//! `BENCH_ONLY` selects one part: `guix` (GNU Guix against git's floor),
//! `audit` (the audit against a cold authentication),
//! `gate` (the gate on both channels), `backdated` (the gate's refusals on
//! GNU Guix only), `merges`, `keyring`, `unsigned-push`, `million` (what
//! `BENCH_MILLION=1` adds), `algorithms` (the cost of one signature for
//! each algorithm GNU Guix uses, on this engine and on each library's own
//! verification call, with the per-key tables' build time and size;
//! measured in this process through the library's `fuzzing` entry points,
//! which the package's dev-dependencies enable for tests and benchmarks
//! only).
//!
//! Generated repositories are kept under `target/bench-repos/`.

mod algorithms;
mod generate;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use generate::{Mix, Spec};

const BINARY: &str = env!("CARGO_BIN_EXE_git-authenticate");

/// One channel to measure.
struct Channel {
    name: String,
    path: PathBuf,
    introduction: String,
    signer: String,
    keyring: String,
    end: String,
}

/// Wall time, CPU time and peak resident memory of one run of the binary.
struct Run {
    wall: Duration,
    /// User and system time, all threads together.
    cpu: Option<Duration>,
    peak_kib: Option<u64>,
    ok: bool,
    /// What the binary wrote to standard error (`/usr/bin/time`'s line
    /// aside).
    stderr_bytes: usize,
}

/// Runs the binary with a private cache directory; CPU time and peak
/// memory through `/usr/bin/time` when it exists.
fn run(channel: &Channel, end: &str, cache: &Path) -> Run {
    run_with(channel, end, cache, &[])
}

/// [`run`], with more arguments.
fn run_with(channel: &Channel, end: &str, cache: &Path, extra: &[&str]) -> Run {
    let time = Path::new("/usr/bin/time");
    let mut command = if time.exists() {
        let mut c = Command::new(time);
        c.args(["-f", "%U %S %M", BINARY]);
        c
    } else {
        Command::new(BINARY)
    };
    command
        .args(["-q", "-r"])
        .arg(&channel.path)
        .args([
            &channel.introduction,
            &channel.signer,
            "-k",
            &channel.keyring,
            "--end",
            end,
        ])
        .args(extra)
        .env("XDG_CACHE_HOME", cache)
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let start = Instant::now();
    let output = command.output().expect("run git-authenticate");
    let wall = start.elapsed();
    let stderr = String::from_utf8_lossy(&output.stderr);
    let (cpu, peak_kib) = match time.exists() {
        true => time_line(stderr.lines().last().unwrap_or("")),
        false => (None, None),
    };
    // `/usr/bin/time` adds its own lines: the exit status, then its
    // figures.
    let mut lines: Vec<&str> = stderr.lines().collect();
    if time.exists() {
        lines.pop();
        lines.retain(|line| !line.starts_with("Command exited with non-zero status"));
    }
    let stderr_bytes: usize = lines.iter().map(|line| line.len() + 1).sum();
    if !output.status.success() && extra.is_empty() {
        eprintln!("{}: {stderr}", channel.name);
    }
    Run {
        wall,
        cpu,
        peak_kib,
        ok: output.status.success(),
        stderr_bytes,
    }
}

/// `/usr/bin/time -f "%U %S %M"`'s line: CPU time and peak memory.
fn time_line(line: &str) -> (Option<Duration>, Option<u64>) {
    let fields: Vec<&str> = line.split_whitespace().collect();
    let seconds = |i: usize| fields.get(i).and_then(|f| f.parse::<f64>().ok());
    let cpu = seconds(0)
        .zip(seconds(1))
        .map(|(user, system)| Duration::from_secs_f64(user + system));
    (cpu, fields.get(2).and_then(|f| f.parse().ok()))
}

fn median(mut runs: Vec<Duration>) -> Duration {
    runs.sort();
    runs[runs.len() / 2]
}

/// `git rev-list END ^INTRO | git cat-file --batch`: reading every commit
/// object of the range, the floor the issue compares against.
fn git_floor(channel: &Channel) -> Duration {
    let script = format!(
        "git -C '{}' rev-list {} ^{} | git -C '{}' cat-file --batch > /dev/null",
        channel.path.display(),
        channel.end,
        channel.introduction,
        channel.path.display()
    );
    median(
        (0..3)
            .map(|_| {
                let start = Instant::now();
                assert!(Command::new("sh")
                    .args(["-c", &script])
                    .status()
                    .unwrap()
                    .success());
                start.elapsed()
            })
            .collect(),
    )
}

fn commits_in(channel: &Channel) -> usize {
    let out = Command::new("git")
        .arg("-C")
        .arg(&channel.path)
        .args([
            "rev-list",
            "--count",
            &channel.end,
            &format!("^{}", channel.introduction),
        ])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
}

fn fresh_cache(name: &str) -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix(&format!("bench-{name}-"))
        .tempdir()
        .unwrap()
}

fn copy_dir(from: &Path, to: &Path) {
    assert!(Command::new("cp")
        .arg("-a")
        .arg(from)
        .arg(to)
        .status()
        .unwrap()
        .success());
}

/// Cold run, nothing new, one new commit; printed as table rows.
fn measure(channel: &Channel) {
    let commits = commits_in(channel);
    let floor = git_floor(channel);
    let mut cold = Vec::new();
    let mut cpu = Vec::new();
    let mut peak = None;
    for _ in 0..3 {
        let cache = fresh_cache(&channel.name);
        let r = run(channel, &channel.end, cache.path());
        assert!(r.ok, "{}: authentication failed", channel.name);
        cold.push(r.wall);
        cpu.extend(r.cpu);
        peak = peak.max(r.peak_kib);
    }
    let runs: Vec<String> = cold
        .iter()
        .map(|d| format!("{:.2}", d.as_secs_f64()))
        .collect();
    let cold = median(cold);
    // A cache holding END: nothing new.
    let cached = fresh_cache(&channel.name);
    run(channel, &channel.end, cached.path());
    let nothing_new = median(
        (0..5)
            .map(|_| run(channel, &channel.end, cached.path()).wall)
            .collect(),
    );
    // A cache holding END's first parent: one new commit.
    let parent = fresh_cache(&channel.name);
    run(channel, &format!("{}~1", channel.end), parent.path());
    let one_new = median(
        (0..5)
            .map(|_| {
                let copy = fresh_cache(&channel.name);
                copy_dir(&parent.path().join("git-authenticate"), copy.path());
                run(channel, &channel.end, copy.path()).wall
            })
            .collect(),
    );
    let ms = |d: Duration| format!("{:.0} ms", d.as_secs_f64() * 1000.0);
    let per_commit = cold.as_secs_f64() * 1e6 / commits as f64;
    println!("\n{} ({commits} commits)", channel.name);
    println!(
        "  cold, introduction to END    {:>10}   ({per_commit:.1} µs per commit)",
        ms(cold)
    );
    println!("  cold runs                    {:>10} s", runs.join(", "));
    if !cpu.is_empty() {
        println!("  CPU time, cold (median)      {:>10}", ms(median(cpu)));
    }
    println!(
        "  git cat-file floor           {:>10}   ratio {:.2}",
        ms(floor),
        cold.as_secs_f64() / floor.as_secs_f64()
    );
    println!("  nothing new since the cache  {:>10}", ms(nothing_new));
    println!("  one new commit               {:>10}", ms(one_new));
    if let Some(kib) = peak {
        println!("  peak memory, cold            {:>7} MB", kib / 1024);
    }
}

fn snapshot(var: &str) -> Option<PathBuf> {
    std::env::var_os(var).map(PathBuf::from)
}

/// A `--shared` mirror of a snapshot under `target/`: the first run records
/// the introduction and installs hooks, which must not touch the snapshot.
fn real_channel(name: &str, snapshot: PathBuf, introduction: &str, signer: &str) -> Channel {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("target/bench-repos")
        .join(name.replace(' ', "-"));
    if !path.exists() {
        let cloned = Command::new("git")
            .args(["clone", "-q", "--mirror", "--shared"])
            .arg(&snapshot)
            .arg(&path)
            .status()
            .unwrap();
        assert!(cloned.success(), "cloning {}", snapshot.display());
    }
    let local_keyring = Command::new("git")
        .arg("-C")
        .arg(&path)
        .args(["rev-parse", "--verify", "-q", "refs/heads/keyring"])
        .stdout(Stdio::null())
        .status()
        .unwrap()
        .success();
    Channel {
        name: name.to_owned(),
        path,
        introduction: introduction.to_owned(),
        signer: signer.to_owned(),
        keyring: if local_keyring {
            "keyring"
        } else {
            "origin/keyring"
        }
        .to_owned(),
        end: "master".to_owned(),
    }
}

fn guix(snapshot: PathBuf) -> Channel {
    real_channel(
        "GNU Guix",
        snapshot,
        "9edb3f66fd807b096b48283debdcddccfea34bad",
        "BBB02DDF2CEAF6A80D1DE643A2A06DF2A33A54FA",
    )
}

fn generated_channel(commits: usize, mix: Mix, new_tree_per_commit: bool) -> Channel {
    generated_channel_of(commits, mix, new_tree_per_commit, false)
}

fn generated_channel_of(
    commits: usize,
    mix: Mix,
    new_tree_per_commit: bool,
    unsigned: bool,
) -> Channel {
    let unsigned_name = if unsigned { "-unsigned" } else { "" };
    let name = format!("generated-{commits}-{mix:?}{unsigned_name}").to_lowercase();
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("target/bench-repos")
        .join(&name);
    let start = Instant::now();
    let spec = Spec {
        commits,
        mix,
        merge_every: 25,
        authorizations_every: 1000,
        new_tree_per_commit,
        unsigned,
    };
    let generated = generate::generated(&dir, &spec);
    if start.elapsed() > Duration::from_secs(1) {
        eprintln!("generated {name} in {:.0} s", start.elapsed().as_secs_f64());
    }
    Channel {
        name,
        path: generated.path,
        introduction: generated.introduction.to_string(),
        signer: generated.signer,
        keyring: "keyring".to_owned(),
        end: generated.end.to_string(),
    }
}

/// `--keep-going` on histories of unsigned commits: every commit is a
/// failure, each reported once; the time per failure must not grow with
/// their number, and `-q --format=json` writes nothing to standard error.
fn measure_failures(commits: usize) {
    let channel = generated_channel_of(commits, Mix::Ed25519, false, true);
    let args = ["--keep-going", "--format=json"];
    let mut stderr_bytes = 0;
    let wall = median(
        (0..3)
            .map(|_| {
                let cache = fresh_cache(&channel.name);
                let r = run_with(&channel, &channel.end, cache.path(), &args);
                stderr_bytes = r.stderr_bytes;
                r.wall
            })
            .collect(),
    );
    println!(
        "\n{} --keep-going -q --format=json: {commits} failures in {:.0} ms \
         ({:.1} µs per failure); {stderr_bytes} bytes on standard error",
        channel.name,
        wall.as_secs_f64() * 1000.0,
        wall.as_secs_f64() * 1e6 / commits as f64
    );
}

/// A bare server sharing the channel's objects, configured with its
/// introduction, for the gate.
fn gate_server(channel: &Channel) -> PathBuf {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("target/bench-repos")
        .join(format!("{}-server.git", channel.name.replace(' ', "-")));
    if !path.exists() {
        let cloned = Command::new("git")
            .args(["clone", "-q", "--bare", "--shared"])
            .arg(&channel.path)
            .arg(&path)
            .status()
            .unwrap();
        assert!(cloned.success(), "cloning {}", channel.path.display());
    }
    let keyring = channel.keyring.rsplit('/').next().unwrap();
    git(
        &path,
        &[
            "branch",
            "-f",
            keyring,
            &rev_parse(&channel.path, &channel.keyring),
        ],
    );
    for (key, value) in [
        (
            "guix.authentication.introduction-commit",
            channel.introduction.as_str(),
        ),
        (
            "guix.authentication.introduction-signer",
            channel.signer.as_str(),
        ),
        ("guix.authentication.keyring", keyring),
    ] {
        git(&path, &["config", key, value]);
    }
    path
}

fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

fn rev_parse(dir: &Path, spec: &str) -> String {
    git(dir, &["rev-parse", spec])
}

/// The gate deciding `line` (`OLD NEW REF`) as the pre-receive hook does,
/// with the server's gate cache a copy of `seed` (empty when `None`): its
/// wall time, and whether it accepted.
fn gate_run(server: &Path, line: &str, seed: Option<&Path>) -> (Duration, bool) {
    let run = gate_measured(server, &format!("{line}\n"), seed);
    (run.wall, run.ok)
}

/// The gate's cache, inside the server's git directory (`gate_cache`).
fn gate_cache_dir(server: &Path) -> PathBuf {
    server.join("git-authenticate")
}

/// Puts a copy of `seed` (a directory holding a gate cache, as
/// [`gate_seeded`] makes them) in place of the server's gate cache, or
/// leaves the server none.
fn reset_gate_cache(server: &Path, seed: Option<&Path>) {
    let dir = gate_cache_dir(server);
    if dir.exists() {
        std::fs::remove_dir_all(&dir).unwrap();
    }
    if let Some(seed) = seed {
        copy_dir(&seed.join("git-authenticate"), server);
    }
}

/// A directory holding the gate cache of a server that accepted `commit`
/// from the introduction.
fn gate_seeded(server: &Path, name: &str, commit: &str) -> (tempfile::TempDir, Duration) {
    let zero = "0".repeat(40);
    let (wall, ok) = gate_run(server, &format!("{zero} {commit} refs/heads/seed"), None);
    assert!(ok, "{name}: the gate refused {commit}");
    let seed = fresh_cache(name);
    copy_dir(&gate_cache_dir(server), seed.path());
    (seed, wall)
}

/// The median of 3 runs of the gate on `line`, each from a copy of `seed`.
fn gate_median(server: &Path, name: &str, seed: &Path, line: &str, accept: bool) -> Duration {
    median(
        (0..3)
            .map(|_| {
                let (wall, ok) = gate_run(server, line, Some(seed));
                assert_eq!(ok, accept, "{name}: {line}");
                wall
            })
            .collect(),
    )
}

/// The gate on a server holding the channel up to END~1000 (accepted
/// once, from the introduction): a push creating a branch of END's 1,000
/// new commits, one new commit accepted, one unsigned commit refused.
fn measure_gate(channel: &Channel) {
    let server = gate_server(channel);
    let name = &channel.name;
    let end = rev_parse(&server, &channel.end);
    let base = rev_parse(&server, &format!("{end}~1000"));
    let new = git(&server, &["rev-list", "--count", &end, &format!("^{base}")]);
    let (from_base, cold) = gate_seeded(&server, name, &base);
    let zero = "0".repeat(40);
    let branch = gate_median(
        &server,
        name,
        from_base.path(),
        &format!("{zero} {end} refs/heads/feature"),
        true,
    );
    let parent = rev_parse(&server, &format!("{end}~1"));
    let (from_parent, _) = gate_seeded(&server, name, &parent);
    let one = gate_median(
        &server,
        name,
        from_parent.path(),
        &format!("{parent} {end} refs/heads/next"),
        true,
    );
    let (from_end, _) = gate_seeded(&server, name, &end);
    let unsigned = git(
        &server,
        &[
            "commit-tree",
            &format!("{end}^{{tree}}"),
            "-p",
            &end,
            "-m",
            "unsigned",
        ],
    );
    let refused = gate_median(
        &server,
        name,
        from_end.path(),
        &format!("{end} {unsigned} refs/heads/next"),
        false,
    );
    println!("\n{name}: the gate (pre-receive)");
    println!("  first push, from the introduction  {:>10}", ms(cold));
    println!(
        "  new branch of {new} new commits     {:>10}   ({:.1} µs per new commit)",
        ms(branch),
        branch.as_secs_f64() * 1e6 / new.parse::<f64>().unwrap()
    );
    println!("  one new commit, accepted          {:>10}", ms(one));
    println!("  one new commit, refused           {:>10}", ms(refused));
    measure_backdated(&server, name, from_end.path(), &end);
}

fn ms(d: Duration) -> String {
    format!("{:.0} ms", d.as_secs_f64() * 1000.0)
}

/// One unsigned commit on top of END, refused by a gate that accepted
/// END, dated as the pusher likes: the walk must not wait for the hidden
/// history newer than it.
fn measure_backdated(server: &Path, name: &str, seed: &Path, end: &str) {
    for date in [
        "2024-01-01T00:00:00Z",
        "2015-01-01T00:00:00Z",
        "1971-01-01T00:00:00Z",
    ] {
        let unsigned = unsigned_commit(server, end, date);
        let refused = gate_median(
            server,
            name,
            seed,
            &format!("{end} {unsigned} refs/heads/next"),
            false,
        );
        println!(
            "  one new commit dated {}, refused {:>10}",
            &date[..4],
            ms(refused)
        );
    }
}

/// An unsigned commit on top of `parent`, with its tree, dated `date`.
fn unsigned_commit(server: &Path, parent: &str, date: &str) -> String {
    let out = Command::new("git")
        .arg("-C")
        .arg(server)
        .args(["commit-tree", &format!("{parent}^{{tree}}"), "-p", parent])
        .args(["-m", &format!("unsigned, dated {date}")])
        .env("GIT_AUTHOR_DATE", date)
        .env("GIT_COMMITTER_DATE", date)
        .output()
        .unwrap();
    assert!(out.status.success());
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

/// The gate on GNU Guix, seeded with its END: one unsigned commit refused,
/// dated now and back-dated.
fn measure_backdated_guix(channel: &Channel) {
    let server = gate_server(channel);
    let end = rev_parse(&server, &channel.end);
    let (from_end, _) = gate_seeded(&server, &channel.name, &end);
    let unsigned = unsigned_commit(&server, &end, "2026-01-01T00:00:00Z");
    let refused = gate_median(
        &server,
        &channel.name,
        from_end.path(),
        &format!("{end} {unsigned} refs/heads/next"),
        false,
    );
    println!(
        "\n{}: the gate, one unsigned commit on the cached history",
        channel.name
    );
    println!("  one new commit dated 2026, refused {:>10}", ms(refused));
    measure_backdated(&server, &channel.name, from_end.path(), &end);
}

/// A pre-receive run: its wall time, whether it accepted, the bytes it
/// printed, and its peak memory (through `/usr/bin/time`).
struct GateRun {
    wall: Duration,
    ok: bool,
    printed: usize,
    peak_kib: Option<u64>,
}

/// The gate deciding `lines` as the pre-receive hook does.
fn gate_measured(server: &Path, lines: &str, seed: Option<&Path>) -> GateRun {
    reset_gate_cache(server, seed);
    // The runs' own caches, which the gate does not use, out of the way.
    let cache = fresh_cache("gate");
    let time = Path::new("/usr/bin/time");
    let peak_file = tempfile::NamedTempFile::new().unwrap();
    let mut command = match time.exists() {
        true => {
            let mut c = Command::new(time);
            c.args(["-f", "%M", "-o"]).arg(peak_file.path()).arg(BINARY);
            c
        }
        false => Command::new(BINARY),
    };
    let mut child = command
        .arg("pre-receive")
        .current_dir(server)
        .env("GIT_DIR", server)
        .env("XDG_CACHE_HOME", cache.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run git-authenticate pre-receive");
    let start = Instant::now();
    let mut stdin = child.stdin.take().unwrap();
    let input = lines.to_owned();
    let writer = std::thread::spawn(move || {
        use std::io::Write;
        let _ = stdin.write_all(input.as_bytes());
    });
    let output = child.wait_with_output().unwrap();
    let wall = start.elapsed();
    writer.join().unwrap();
    let peak_kib = std::fs::read_to_string(peak_file.path())
        .ok()
        .and_then(|t| t.lines().last().and_then(|l| l.trim().parse().ok()));
    GateRun {
        wall,
        ok: output.status.success(),
        printed: output.stderr.len(),
        peak_kib,
    }
}

fn print_gate_run(what: &str, run: &GateRun) {
    let peak = run
        .peak_kib
        .map_or_else(String::new, |kib| format!(", peak {} MB", kib / 1024));
    println!(
        "  {what}: {} in {}{peak}, {} bytes printed",
        if run.ok { "accepted" } else { "refused" },
        ms(run.wall),
        run.printed
    );
}

/// A channel of 20 signed merges over a 1 MiB `.guix-authorizations`
/// (49,000 entries), each merging two sides whose files differ: pushed
/// whole to the gate, and authenticated by a local run.
fn measure_merges() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/bench-repos/merges-1mib");
    let generated = generate::merges_over_large_authorizations(&dir, 20);
    let channel = Channel {
        name: "merges-1mib".to_owned(),
        path: generated.path,
        introduction: generated.introduction.to_string(),
        signer: generated.signer,
        keyring: "keyring".to_owned(),
        end: generated.end.to_string(),
    };
    let server = gate_server(&channel);
    let zero = "0".repeat(40);
    let line = format!("{zero} {} refs/heads/master\n", channel.end);
    let runs: Vec<GateRun> = (0..3)
        .map(|_| gate_measured(&server, &line, None))
        .collect();
    let wall = median(runs.iter().map(|r| r.wall).collect());
    assert!(runs.iter().all(|r| r.ok), "the merges must be accepted");
    let local = median(
        (0..3)
            .map(|_| run(&channel, &channel.end, fresh_cache("merges").path()).wall)
            .collect(),
    );
    println!("\n20 merges over a 1 MiB .guix-authorizations (49,000 entries)");
    println!("  the gate, pushed whole             {:>10}", ms(wall));
    println!("  a local run                        {:>10}", ms(local));
}

/// 1,000 refs in one push, checked with a keyring of 100,000 keys: the
/// keyring is loaded once per push, not once per ref.
fn measure_many_refs() {
    let channel = generated_channel_of(100, Mix::Ed25519, false, false);
    let server = gate_server(&channel);
    let repo = git2::Repository::open(&server).unwrap();
    let keyring = repo
        .find_branch("keyring", git2::BranchType::Local)
        .unwrap();
    let tip = keyring.get().peel_to_commit().unwrap();
    let filler = repo.blob(&generate::filler_keys(99_990)).unwrap();
    let mut tree = repo.treebuilder(Some(&tip.tree().unwrap())).unwrap();
    tree.insert("filler.key", filler, 0o100644).unwrap();
    let tree = repo.find_tree(tree.write().unwrap()).unwrap();
    let who = git2::Signature::new(
        "Bench",
        "bench@example.org",
        &git2::Time::new(1_600_000_000, 0),
    )
    .unwrap();
    let large = repo
        .commit(None, &who, &who, "100,000 keys", &tree, &[&tip])
        .unwrap();
    repo.reference("refs/heads/keyring", large, true, "bench")
        .unwrap();
    let end = rev_parse(&server, &channel.end);
    let (seed, _) = gate_seeded(&server, &channel.name, &end);
    let zero = "0".repeat(40);
    let push = |refs: usize| {
        let lines: String = (0..refs)
            .map(|i| format!("{zero} {end} refs/heads/b{i}\n"))
            .collect();
        let run = gate_measured(&server, &lines, Some(seed.path()));
        assert!(run.ok, "{refs} refs refused");
        run
    };
    let one = push(1);
    let many = push(1000);
    println!("\nthe gate with a keyring of 100,000 keys");
    print_gate_run("1 ref    ", &one);
    print_gate_run("1,000 refs", &many);
}

/// One push of 200,000 unsigned commits: refused with a bounded report.
fn measure_unsigned_push() {
    let commits = 200_000;
    let channel = generated_channel_of(commits, Mix::Ed25519, false, true);
    let server = gate_server(&channel);
    let zero = "0".repeat(40);
    let line = format!("{zero} {} refs/heads/master\n", channel.end);
    let run = gate_measured(&server, &line, None);
    assert!(!run.ok, "unsigned commits must be refused");
    println!("\nthe gate, one push of {commits} unsigned commits");
    print_gate_run("pushed whole", &run);
}

/// The audit against a cold authentication of the same range, medians of
/// three runs each.
fn measure_audit(channel: &Channel) {
    let audit = median(
        (0..3)
            .map(|_| {
                let start = Instant::now();
                let out = Command::new(BINARY)
                    .arg("audit")
                    .arg("-r")
                    .arg(&channel.path)
                    .args([&channel.introduction, &channel.signer])
                    .args(["-k", &channel.keyring, "--end", &channel.end])
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .status()
                    .expect("run git-authenticate audit");
                assert!(out.success(), "{}: audit failed", channel.name);
                start.elapsed()
            })
            .collect(),
    );
    let cold = median(
        (0..3)
            .map(|_| run(channel, &channel.end, fresh_cache(&channel.name).path()).wall)
            .collect(),
    );
    println!(
        "\n{}: audit {}, cold authentication {} (ratio {:.2}; goal at most 1.5)",
        channel.name,
        ms(audit),
        ms(cold),
        audit.as_secs_f64() / cold.as_secs_f64()
    );
}

fn main() {
    // `cargo bench` passes `--bench`; nothing else is expected.
    let commits: usize = std::env::var("BENCH_COMMITS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(20_000);
    println!(
        "git-authenticate {} ({} cores)",
        env!("CARGO_PKG_VERSION"),
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    let only = std::env::var("BENCH_ONLY").unwrap_or_default();
    match only.as_str() {
        "backdated" => {
            match snapshot("GIT_AUTHENTICATE_GUIX") {
                Some(path) => measure_backdated_guix(&guix(path)),
                None => println!("backdated: set GIT_AUTHENTICATE_GUIX"),
            }
            return;
        }
        "merges" => return measure_merges(),
        "keyring" => return measure_many_refs(),
        "unsigned-push" => return measure_unsigned_push(),
        "algorithms" => return algorithms::measure(),
        "million" => return measure_million(),
        "audit" => {
            measure_audit(&generated_channel(commits, Mix::Guix, true));
            if let Some(path) = snapshot("GIT_AUTHENTICATE_GUIX") {
                measure_audit(&guix(path));
            }
            return;
        }
        _ => {}
    }
    if only == "guix" {
        // The speed goals' main figure alone: GNU Guix against git's floor.
        if let Some(path) = snapshot("GIT_AUTHENTICATE_GUIX") {
            measure(&guix(path));
        }
        return;
    }
    if only == "gate" {
        measure_gate(&generated_channel(commits, Mix::Guix, true));
        if let Some(path) = snapshot("GIT_AUTHENTICATE_GUIX") {
            measure_gate(&guix(path));
        }
        return;
    }
    measure(&generated_channel(commits / 2, Mix::Guix, true));
    let generated = generated_channel(commits, Mix::Guix, true);
    measure(&generated);
    measure_gate(&generated);
    measure_audit(&generated);
    match snapshot("GIT_AUTHENTICATE_NONGUIX") {
        Some(path) => measure(&real_channel(
            "nonguix",
            path,
            "897c1a470da759236cc11798f4e0a5f7d4d59fbc",
            "2A393FFF68F4EF7A3D2912AF6F5120A022FBB2D5",
        )),
        None => println!(
            "\nnonguix: skipped (set GIT_AUTHENTICATE_NONGUIX to a clone with its keyring branch)"
        ),
    }
    match snapshot("GIT_AUTHENTICATE_GUIX") {
        Some(path) => {
            let guix = guix(path);
            measure(&guix);
            measure_gate(&guix);
            measure_audit(&guix);
        }
        None => println!(
            "\nGNU Guix: skipped (set GIT_AUTHENTICATE_GUIX to a clone with its keyring branch)"
        ),
    }
    algorithms::measure();
    for failures in [25_000, 100_000] {
        measure_failures(failures);
    }
    measure_merges();
    measure_many_refs();
    measure_unsigned_push();
    if std::env::var_os("BENCH_MILLION").is_some() {
        measure_million();
    }
}

/// Generated histories of 100,000 and 1,000,000 commits: memory stays
/// bounded, time linear.
fn measure_million() {
    for commits in [100_000, 1_000_000] {
        measure(&generated_channel(commits, Mix::Ed25519, false));
    }
}
