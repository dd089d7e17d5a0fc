// Running Guix's own `authenticate-repository` (guix/git-authenticate.scm)
// in Guile, on many repositories per process.
//
// Guix's modules are read at run time from the checkout named by
// GIT_AUTHENTICATE_GUIX (a git repository: `git show master:FILE`) into a
// temporary load path; nothing of Guix is part of this crate. Modules whose
// dependencies are too heavy are replaced by the stand-ins of
// `tests/guix_differential/stubs/` (written for this test), except that
// `(guix git)`'s stand-in evaluates Guix's own `commit-difference`,
// `commit-closure`, `commit-descendant?` and `false-if-git-not-found`, read
// from the checkout's guix/git.scm.

use crate::support;

use std::path::{Path, PathBuf};
use std::process::Command;

/// The Guix modules loaded as they are.
const REAL_MODULES: [&str; 6] = [
    "guix/git-authenticate.scm",
    "guix/openpgp.scm",
    "guix/base16.scm",
    "guix/base64.scm",
    "guix/sets.scm",
    "guix/build/utils.scm",
];

/// Our stand-ins.
const STUBS: [&str; 5] = [
    "guix/git.scm",
    "guix/i18n.scm",
    "guix/diagnostics.scm",
    "guix/progress.scm",
    "guix/utils.scm",
];

/// Requests per Guile process.
const BATCH: usize = 150;

/// How long one Guile process may take (its batch takes seconds).
const BATCH_PATIENCE: std::time::Duration = std::time::Duration::from_secs(1800);

pub struct Guix {
    dir: tempfile::TempDir,
    /// Which revision of the checkout the modules come from.
    pub revision: String,
}

/// One call of `authenticate-repository`.
pub struct Request {
    pub repository: PathBuf,
    pub start: String,
    pub signer: String,
    pub end: String,
    pub keyring: String,
    pub historical: Option<PathBuf>,
    /// Guix's cache key, shared by requests that follow each other; `None`
    /// for a fresh one.
    pub cache_key: Option<String>,
}

impl Guix {
    /// Guix's modules, from GIT_AUTHENTICATE_GUIX; fails when the
    /// variable, `guile`, Guile-Git or Guile-Gcrypt is missing (the tests
    /// that need it are ignored by default).
    pub fn from_environment() -> Guix {
        let checkout = support::needs::real_channel("GIT_AUTHENTICATE_GUIX");
        support::needs::tool("guile", "guile-3.0");
        let guile = Command::new("guile")
            .args(["-c", "(use-modules (git) (gcrypt hash) (gcrypt pk-crypto))"])
            .output()
            .expect("run guile");
        assert!(
            guile.status.success(),
            "this test needs Guile-Git and Guile-Gcrypt: install the Debian packages guile-git and \
             guile-gcrypt: {}",
            String::from_utf8_lossy(&guile.stderr)
                .lines()
                .last()
                .unwrap_or("")
        );
        let dir = tempfile::tempdir().unwrap();
        let git = |args: &[&str]| {
            Command::new("git")
                .arg("--git-dir")
                .arg(&checkout)
                .args(args)
                .output()
                .expect("run git")
        };
        let revision = ["master", "HEAD"]
            .iter()
            .find(|r| {
                git(&["rev-parse", "--verify", &format!("{r}^{{commit}}")])
                    .status
                    .success()
            })
            .unwrap_or_else(|| panic!("GIT_AUTHENTICATE_GUIX={checkout:?}: no master or HEAD"));
        let commit = String::from_utf8(git(&["rev-parse", revision]).stdout).unwrap();
        let load = dir.path().join("load");
        let extract = |file: &str, to: &Path| {
            let out = git(&["show", &format!("{revision}:{file}")]);
            assert!(
                out.status.success(),
                "git show {revision}:{file} in {checkout:?}"
            );
            std::fs::create_dir_all(to.parent().unwrap()).unwrap();
            std::fs::write(to, out.stdout).unwrap();
        };
        for file in REAL_MODULES {
            extract(file, &load.join(file));
        }
        // Read by the `(guix git)` stand-in, not loaded.
        extract("guix/git.scm", &dir.path().join("guix-git.scm"));
        for file in STUBS {
            let from = support::manifest_dir()
                .join("tests/guix_differential/stubs")
                .join(file);
            std::fs::copy(&from, load.join(file)).unwrap_or_else(|e| panic!("{from:?}: {e}"));
        }
        std::fs::create_dir_all(dir.path().join("cache")).unwrap();
        Guix {
            dir,
            revision: format!("{revision} ({})", commit.trim()),
        }
    }

    /// Guix's verdict on each request: `ok N` or `fail KIND COMMIT [KEY]`.
    pub fn run(&self, requests: &[Request]) -> Vec<String> {
        let mut lines = Vec::new();
        for batch in requests.chunks(BATCH) {
            let mut input = String::new();
            for r in batch {
                let historical = r
                    .historical
                    .as_ref()
                    .map_or("-".to_owned(), |p| p.display().to_string());
                input.push_str(&format!(
                    "{}\t{}\t{}\t{}\t{}\t{}\t{}\n",
                    r.repository.display(),
                    r.start,
                    r.signer,
                    r.end,
                    r.keyring,
                    historical,
                    r.cache_key.as_deref().unwrap_or("-")
                ));
            }
            let out = support::process::run_with_input(
                Command::new("guile")
                    .arg("--no-auto-compile")
                    .arg("-L")
                    .arg(self.dir.path().join("load"))
                    .arg(support::manifest_dir().join("tests/guix_differential/driver.scm"))
                    .env(
                        "GUIX_DIFFERENTIAL_GIT_SCM",
                        self.dir.path().join("guix-git.scm"),
                    )
                    .env("GUIX_DIFFERENTIAL_CACHE", self.dir.path().join("cache"))
                    .env("GUILE_AUTO_COMPILE", "0"),
                input.as_bytes(),
                BATCH_PATIENCE,
            );
            let stdout = String::from_utf8_lossy(&out.stdout);
            let got: Vec<String> = stdout.lines().map(str::to_owned).collect();
            assert!(
                out.status.success() && got.len() == batch.len(),
                "the Guile driver failed ({} answers for {} requests): {}",
                got.len(),
                batch.len(),
                String::from_utf8_lossy(&out.stderr)
            );
            lines.extend(got);
        }
        lines
    }
}
