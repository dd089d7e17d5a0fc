//! A private home for running the built binary: `HOME`, `XDG_CACHE_HOME`
//! and `XDG_CONFIG_HOME` point into a temporary directory, so that nothing
//! touches the real home, and the test's environment cannot change what the
//! binary or git does.

use std::path::{Path, PathBuf};
use std::process::Command;

use git_authenticate::git2::Oid;
use git_authenticate::{Cache, Cached, Conditions};

/// Environment variables from the test's environment that would change
/// what the binary or git does.
pub const CLEARED: &[&str] = &[
    "GIT_DIR",
    "GIT_WORK_TREE",
    "GIT_INDEX_FILE",
    "GIT_CEILING_DIRECTORIES",
    "GIT_OBJECT_DIRECTORY",
    "GIT_ALTERNATE_OBJECT_DIRECTORIES",
    "GIT_NO_REPLACE_OBJECTS",
    "GIT_REPLACE_REF_BASE",
    "GIT_GRAFT_FILE",
    "GIT_AUTHENTICATE",
    "GIT_AUTHENTICATE_NO_SETUP",
    "GNUPGHOME",
    "NO_COLOR",
    "CLICOLOR",
    "CLICOLOR_FORCE",
];

pub struct Home {
    dir: tempfile::TempDir,
}

impl Home {
    pub fn new() -> Home {
        Home {
            dir: tempfile::Builder::new()
                .prefix("gah-home.")
                .tempdir()
                .expect("temporary home"),
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// `XDG_CACHE_HOME`.
    pub fn cache(&self) -> PathBuf {
        self.path().join("cache")
    }

    /// What the cache of `--cache-key KEY` holds for `introduction`, read
    /// as the library reads it.
    pub fn cached(&self, key: &str, introduction: Oid) -> Cached {
        let directory = self.cache().join("git-authenticate/authentication");
        Cache::in_directory(&directory, key)
            .expect("a valid cache key")
            .read_for(introduction, &Conditions::default())
    }

    /// The cache file of `--cache-key KEY`.
    pub fn cache_file(&self, key: &str) -> PathBuf {
        self.cache()
            .join("git-authenticate/authentication")
            .join(key)
    }

    pub fn vars(&self) -> [(&'static str, PathBuf); 3] {
        [
            ("HOME", self.path().to_owned()),
            ("XDG_CACHE_HOME", self.cache()),
            ("XDG_CONFIG_HOME", self.path().join("config")),
        ]
    }

    /// The built binary, to run in `dir` with this home.
    #[allow(clippy::option_env_unwrap)]
    pub fn command(&self, dir: &Path) -> Command {
        // Cargo names the binary to integration tests only, not to the
        // maintenance tools (`examples/xtask`) that share this code.
        let binary = option_env!("CARGO_BIN_EXE_git-authenticate")
            .expect("the git-authenticate binary is known to integration tests only");
        let mut c = Command::new(binary);
        c.current_dir(dir);
        for name in CLEARED {
            c.env_remove(name);
        }
        for (name, value) in self.vars() {
            c.env(name, value);
        }
        c
    }

    /// Runs the real git (as [`Home::git`]) in `dir` with `args`.
    pub fn git_output(&self, dir: &Path, args: &[&str]) -> std::process::Output {
        self.git(dir, &[]).args(args).output().expect("run git")
    }

    /// Runs the real git (as [`Home::git`]) in `dir` with `args`, which must
    /// succeed; its standard output, trimmed.
    pub fn git_ok(&self, dir: &Path, args: &[&str]) -> String {
        let out = self.git_output(dir, args);
        super::assert_success(&out, &format!("git {args:?}"));
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }

    /// A new commit on branch `keyring` of the clone `dir`, its tree
    /// unchanged ("Add a key."), as a key added there would be; its id.
    pub fn commit_on_keyring(&self, dir: &Path) -> String {
        let id = self.git_ok(
            dir,
            &[
                "commit-tree",
                "-p",
                "keyring",
                "-m",
                "Add a key.",
                "keyring^{tree}",
            ],
        );
        self.git_ok(dir, &["branch", "-f", "keyring", &id]);
        id
    }

    /// The real git in `dir` with this home: the test's environment
    /// cleared (and `also_cleared`), the built binary's directory first on
    /// `PATH` (for hooks and `git authenticate`).
    #[allow(clippy::option_env_unwrap)]
    pub fn git(&self, dir: &Path, also_cleared: &[&str]) -> Command {
        let mut c = super::git_command(dir);
        for name in CLEARED.iter().chain(also_cleared) {
            c.env_remove(name);
        }
        for (name, value) in self.vars() {
            c.env(name, value);
        }
        let binary = option_env!("CARGO_BIN_EXE_git-authenticate")
            .expect("the git-authenticate binary is known to integration tests only");
        let mut dirs = vec![Path::new(binary)
            .parent()
            .expect("binary directory")
            .to_owned()];
        if let Some(path) = std::env::var_os("PATH") {
            dirs.extend(std::env::split_paths(&path));
        }
        c.env("PATH", std::env::join_paths(dirs).expect("PATH"));
        c
    }
}

/// A repository with a private home, where a test runs the real git.
pub trait GitIn {
    /// The work tree.
    fn path(&self) -> &Path;

    /// The real git in `dir` with `args`.
    fn git_in(&self, dir: &Path, args: &[&str]) -> std::process::Output;

    /// `git_in` that must succeed: its trimmed standard output.
    fn git_ok_in(&self, dir: &Path, args: &[&str]) -> String {
        super::success_output(self.git_in(dir, args), &format!("git {args:?}"))
    }

    /// `git_ok_in` in the work tree.
    fn git_ok(&self, args: &[&str]) -> String {
        self.git_ok_in(self.path(), args)
    }
}
