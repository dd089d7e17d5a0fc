//! Files of the repository that libgit2 reads as it opens it, left as
//! FIFOs by someone who can write the repository (a shared directory): the
//! repository is refused at once, naming the file, instead of waiting on
//! it forever.

use std::path::Path;

use git_authenticate::{open_repository as open, OpenError};

use crate::support::{git_command, success_output};

/// A repository with one commit.
fn fresh() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for args in [
        &["init", "-q"][..],
        &["commit", "-q", "--allow-empty", "-m", "x"],
    ] {
        success_output(git_command(dir.path()).args(args).output().unwrap(), "git");
    }
    dir
}

fn mkfifo(path: &Path) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    rustix::fs::mkfifoat(
        rustix::fs::CWD,
        path,
        rustix::fs::Mode::from_raw_mode(0o600),
    )
    .unwrap();
}

/// Why the repository in `dir` is refused; a failure if it opens.
fn refusal(dir: &Path) -> OpenError {
    match open(dir) {
        Err(e) => e,
        Ok(repo) => panic!("{} opened, expected a refusal", repo.path().display()),
    }
}

/// The binary run with `args` in `dir`, which must end within a minute
/// (a hang fails the test): its status and standard error.
fn run_binary(dir: &Path, args: &[&std::ffi::OsStr]) -> (Option<i32>, String) {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_git-authenticate"));
    command.args(args).current_dir(dir).env_remove("GIT_DIR");
    let out = crate::support::process::run_bounded(command, std::time::Duration::from_secs(60));
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_fifo_where_libgit2_reads_at_open_is_refused() {
    for name in [
        "config",
        "shallow",
        "info/grafts",
        "objects/info/alternates",
        "commondir",
    ] {
        let dir = fresh();
        let file = dir.path().join(".git").join(name);
        let _ = std::fs::remove_file(&file);
        mkfifo(&file);
        match refusal(dir.path()) {
            OpenError::NotRegular { path, kind } => {
                assert_eq!(path, file, "{name}");
                assert_eq!(kind, "a FIFO", "{name}");
            }
            other => panic!("{name}: {other}"),
        }
    }
}

#[test]
fn a_fifo_in_an_alternate_object_directory_is_refused() {
    let dir = fresh();
    let other = tempfile::tempdir().unwrap();
    let objects = other.path().join("objects");
    mkfifo(&objects.join("info/alternates"));
    let alternates = dir.path().join(".git/objects/info/alternates");
    std::fs::write(&alternates, format!("{}\n", objects.display())).unwrap();
    assert!(matches!(
        open(dir.path()),
        Err(OpenError::NotRegular { path, .. }) if path == objects.join("info/alternates")
    ));
}

#[test]
fn a_repository_with_regular_files_opens() {
    let dir = fresh();
    std::fs::write(dir.path().join(".git/info/grafts"), "").unwrap();
    let repo = open(dir.path()).unwrap();
    assert!(repo.head().is_ok());
}

#[test]
fn the_command_refuses_a_fifo_at_info_grafts_with_status_2() {
    let dir = fresh();
    let grafts = dir.path().join(".git/info/grafts");
    mkfifo(&grafts);
    for args in [&[][..], &["pre-receive"], &["merge-check", "HEAD", "HEAD"]] {
        let args: Vec<&std::ffi::OsStr> = args.iter().map(std::ffi::OsStr::new).collect();
        let (status, err) = run_binary(dir.path(), &args);
        assert_eq!(status, Some(2), "{args:?}: {err}");
        assert!(
            err.contains("info/grafts") && err.contains("FIFO"),
            "{args:?}: {err}"
        );
    }
}

#[test]
fn a_link_to_a_device_is_refused_and_a_directory_left_to_libgit2() {
    let dir = fresh();
    let shallow = dir.path().join(".git/shallow");
    std::os::unix::fs::symlink("/dev/zero", &shallow).unwrap();
    assert!(matches!(
        open(dir.path()),
        Err(OpenError::NotRegular {
            kind: "a character device",
            ..
        })
    ));
    std::fs::remove_file(&shallow).unwrap();
    // Reading a directory ends at once: libgit2 decides (git ignores it).
    std::fs::create_dir(dir.path().join(".git/info/grafts")).unwrap();
    assert!(!matches!(
        open(dir.path()),
        Err(OpenError::NotRegular { .. })
    ));
}

#[test]
fn alternates_naming_themselves_many_times_open_at_once() {
    let dir = fresh();
    let objects = dir.path().join(".git/objects");
    let line = format!("{}\n", objects.display());
    std::fs::write(objects.join("info/alternates"), line.repeat(100_000)).unwrap();
    // Each object directory is looked at once, however often it is named.
    assert!(open(dir.path()).is_ok());
}

#[test]
fn alternates_naming_too_many_directories_are_refused() {
    let dir = fresh();
    let others = tempfile::tempdir().unwrap();
    let listed: String = (0..300)
        .map(|i| format!("{}/{i}\n", others.path().display()))
        .collect();
    let alternates = dir.path().join(".git/objects/info/alternates");
    std::fs::write(&alternates, listed).unwrap();
    match refusal(dir.path()) {
        e @ OpenError::TooManyAlternates { .. } => {
            assert!(e.to_string().contains("alternates"), "{e}")
        }
        other => panic!("{other}"),
    }
}

#[test]
fn a_sparse_file_libgit2_would_read_whole_is_refused() {
    let dir = fresh();
    let shallow = dir.path().join(".git/shallow");
    let file = std::fs::File::create(&shallow).unwrap();
    file.set_len(4 << 30).unwrap();
    match refusal(dir.path()) {
        OpenError::TooLarge { path, size, .. } => {
            assert_eq!(path, shallow);
            assert_eq!(size, 4 << 30);
        }
        other => panic!("{other}"),
    }
}

#[test]
fn a_channels_file_that_is_a_fifo_is_refused_at_once() {
    let dir = fresh();
    let channels = dir.path().join("channels.scm");
    mkfifo(&channels);
    let (status, err) = run_binary(dir.path(), &["--channels".as_ref(), channels.as_os_str()]);
    assert_eq!(status, Some(2), "{err}");
    assert!(
        err.contains("channels.scm") && err.contains("FIFO"),
        "{err}"
    );
}
