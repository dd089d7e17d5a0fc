//! The gate on the servers forges run, as doc/GUIDE.md ("Installing it on
//! a forge") says to set them up: gitolite behind a real `sshd`, and
//! `git http-backend` behind nginx and fcgiwrap (smart HTTP). Each server
//! is started once on 127.0.0.1 (its own configuration, keys, pid and log
//! files in a temporary directory, never the system's), and the same
//! pushes go through it; the pusher's terminal output is checked as git
//! shows it to a pusher. The real-time figures (set-up, one push accepted,
//! one refused) are printed to standard error.
//!
//! sshd runs as the test's user: as root (CI) it needs its privilege
//! separation directory, `/run/sshd`, which the test creates as Debian's
//! service does; as another user it can only let that same user log in,
//! which is all the test asks (tried as both). Either way the login is the
//! test's user, whose login shell runs gitolite's forced command (so it
//! must not be `nologin`), with gitolite's `authorized_keys` and `HOME`
//! set by the configuration. nginx runs as one process (as root, running
//! as root), so that stopping it stops everything.

use crate::support;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

// The channel pushed: gate.rs's (`third` on master, `unsigned-1` and
// `unsigned-2` under `on-unsigned`, `by-bob`, the keyring adding bob, then
// a broken key file).
use crate::gate::CHANNEL;
use support::needs;
use support::process::{assert_success, run_bounded};
use support::server::{free_port, Running};
use support::{build_scenario_text as build, key, Built, Home};

/// A branch whose name holds a C1 control (CSI, then `31m`): shown to the
/// pusher escaped, never raw.
const HOSTILE_BRANCH: &str = "refs/heads/x\u{9b}31m";

/// How long one git command (a push, a clone) may take.
const LIMIT: Duration = Duration::from_secs(120);

/// The pushers' side: the channel's repository, a private home, and how
/// each of two users reaches the server.
struct Pushers {
    built: Built,
    home: Home,
    url: String,
    /// `GIT_SSH_COMMAND` of each user (none over HTTP).
    ssh: Vec<String>,
    /// The server's repository, to read its refs.
    bare: PathBuf,
}

/// The users pushing: the maintainer, and bob.
#[derive(Clone, Copy)]
enum User {
    Alice,
    Bob,
}

impl Pushers {
    fn new(home: Home) -> Pushers {
        needs::scenario_tools(CHANNEL);
        Pushers {
            built: build(CHANNEL),
            home,
            url: String::new(),
            ssh: Vec::new(),
            bare: PathBuf::new(),
        }
    }

    fn id(&self, label: &str) -> String {
        self.built.oid(label).to_string()
    }

    /// The real git in `dir`, as `user`, with the private home.
    fn git(&self, user: User, dir: &Path, args: &[&str]) -> Command {
        let mut c = self.home.git(dir, &[]);
        for proxy in ["http_proxy", "HTTP_PROXY", "https_proxy", "all_proxy"] {
            c.env_remove(proxy);
        }
        if let Some(ssh) = self.ssh.get(user as usize) {
            c.env("GIT_SSH_COMMAND", ssh);
        }
        c.args(args);
        c
    }

    fn git_ok(&self, user: User, dir: &Path, args: &[&str]) -> String {
        let out = run_bounded(self.git(user, dir, args), LIMIT);
        assert_success(&out, &format!("git {args:?}"));
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }

    /// `git push` by `user` of `refspecs` to the server: its output, and
    /// how long it took.
    fn push(&self, user: User, refspecs: &[&str]) -> (Output, Duration) {
        let mut args = vec!["push", self.url.as_str()];
        args.extend(refspecs);
        let start = Instant::now();
        let out = run_bounded(self.git(user, &self.built.path, &args), LIMIT);
        (out, start.elapsed())
    }

    /// A push that must be accepted: what the pusher saw.
    fn accepted(&self, user: User, refspecs: &[&str]) -> (String, Duration) {
        let (out, took) = self.push(user, refspecs);
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(out.status.success(), "push {refspecs:?} refused: {err}");
        (err, took)
    }

    /// A push that the gate must refuse: what the pusher saw. The hook's
    /// `remote:` lines hold no raw control character.
    fn refused(&self, user: User, refspecs: &[&str]) -> (String, Duration) {
        let (out, took) = self.push(user, refspecs);
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(!out.status.success(), "push {refspecs:?} accepted: {err}");
        support::assert_contains(&err, "pre-receive hook declined");
        support::assert_contains(&err, "push refused: no ref was updated");
        let remote = err.lines().filter(|l| l.starts_with("remote: "));
        for line in remote {
            let text = line.trim_end();
            assert!(
                !text.chars().any(|c| c.is_control()),
                "raw control character in {line:?}"
            );
        }
        (err, took)
    }

    /// A bare repository at `bare`, set up as doc/GUIDE.md sets up a
    /// plain host (introduction, protected master, the hook installed by
    /// `install-server-hook`), with the configuration `extra` too.
    fn plain_repository(&self, bare: &Path, extra: &[(&str, &str)]) {
        let bare = bare.to_str().unwrap();
        let git = |args: &[&str]| self.git_ok(User::Alice, self.home.path(), args);
        git(&["init", "-q", "--bare", bare]);
        let first = self.id("first");
        let signer = key("dave").signing_fpr_spaced();
        let guide = [
            ("guix.authentication.introduction-commit", first.as_str()),
            ("guix.authentication.introduction-signer", signer.as_str()),
            ("guix.authentication.protected-branch", "master"),
        ];
        for (name, value) in guide.iter().chain(extra) {
            git(&["-C", bare, "config", "--add", name, value]);
        }
        let mut install = self.home.command(self.home.path());
        install.args(["install-server-hook", "-r", bare]);
        run_ok(install, "install-server-hook");
    }

    /// Where the server's ref points, if it exists.
    fn server_ref(&self, name: &str) -> Option<String> {
        let out = run_bounded(
            self.git(
                User::Alice,
                &self.bare,
                &["rev-parse", "--verify", "-q", name],
            ),
            LIMIT,
        );
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
    }

    /// The keyring branch's commit `back` commits before its tip.
    fn keyring(&self, back: usize) -> String {
        self.git_ok(
            User::Alice,
            &self.built.path,
            &["rev-parse", &format!("keyring~{back}")],
        )
    }

    /// The pushes every server must decide as the gate's rules say, by
    /// alice and bob; `server` names the server in the figures printed.
    fn push_everything(&self, server: &str) {
        let refspec = |label: &str, branch: &str| format!("{}:{branch}", self.id(label));
        let (err, _) = self.accepted(
            User::Alice,
            &[&format!("{}:refs/heads/keyring", self.keyring(2))],
        );
        support::assert_contains(&err, "refs/heads/keyring: accepted");

        let (err, took) = self.accepted(User::Alice, &[&refspec("third", "refs/heads/master")]);
        eprintln!("{server}: one push accepted in {took:?}");
        support::assert_contains(
            &err,
            &format!(
                "remote: git-authenticate: refs/heads/master: accepted: commit {} is authentic \
                 (2 new commits checked)",
                self.id("third")
            ),
        );

        // bob pushes an unsigned commit to a branch with a hostile name.
        let (err, took) = self.refused(User::Bob, &[&refspec("on-unsigned", HOSTILE_BRANCH)]);
        eprintln!("{server}: one push refused in {took:?}");

        // On a terminal, the hook's lines show exactly as printed (git's
        // own report line names the ref raw: git's business).
        let remote: String = err
            .lines()
            .filter(|l| l.starts_with("remote: "))
            .map(|l| format!("{l}\n"))
            .collect();
        assert_eq!(
            crate::hostile_output::screen(remote.as_bytes()),
            crate::hostile_output::lines(&remote)
        );
        let unsigned = self.id("unsigned-1");
        support::assert_contains(&err, &format!("commit {unsigned} lacks a signature"));
        support::assert_contains(&err, "hint: sign the commit");
        support::assert_contains(
            &err,
            &format!(
                r"refs/heads/x\u{{9b}}31m: refused: {} is not authentic (2 failures)",
                self.id("on-unsigned")
            ),
        );

        // His own commit: first his key is not on the keyring branch, then
        // it is, but he is not authorized.
        let (err, _) = self.refused(User::Bob, &[&refspec("by-bob", "refs/heads/bob")]);
        support::assert_contains(&err, "is missing from keyring branch");
        let (err, _) = self.accepted(
            User::Alice,
            &[&format!("{}:refs/heads/keyring", self.keyring(1))],
        );
        support::assert_contains(&err, "keyring branch moves forward");
        let (err, _) = self.refused(User::Bob, &[&refspec("by-bob", "refs/heads/bob")]);
        support::assert_contains(&err, "not signed by an authorized key");

        // Rewinding the protected branch, with authentic commits.
        let (err, _) = self.refused(
            User::Bob,
            &[&format!("+{}", refspec("second", "refs/heads/master"))],
        );
        support::assert_contains(
            &err,
            "refs/heads/master: refused: protected branch would not move forward",
        );
        // A broken key file on the keyring branch.
        let (err, _) = self.refused(
            User::Alice,
            &[&format!("{}:refs/heads/keyring", self.keyring(0))],
        );
        support::assert_contains(&err, "broken.key");

        assert_eq!(self.server_ref("refs/heads/master"), Some(self.id("third")));
        assert_eq!(self.server_ref("refs/heads/keyring"), Some(self.keyring(1)));
        assert_eq!(self.server_ref("refs/heads/bob"), None);
        assert_eq!(self.server_ref(HOSTILE_BRANCH), None);
    }
}

/// Runs `command`, which must succeed within [`LIMIT`]: its standard
/// output.
fn run_ok(command: Command, what: &str) -> String {
    let out = run_bounded(command, LIMIT);
    assert_success(&out, what);
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// The name of the user running the test, whom sshd lets log in.
fn user_name() -> String {
    let mut id = Command::new("id");
    id.arg("-un");
    run_ok(id, "id -un")
}

/// A new ed25519 key pair without passphrase at `path` (and `path.pub`).
fn ssh_key(path: &Path) {
    let mut c = Command::new(needs::program("ssh-keygen", "openssh-client"));
    c.args(["-q", "-t", "ed25519", "-N", "", "-C", "test", "-f"])
        .arg(path);
    run_ok(c, "ssh-keygen");
}

/// `sshd` on 127.0.0.1:`port`, its host key, configuration, pid file and
/// log in `dir`, accepting the keys of `authorized_keys` for the test's
/// user, whose sessions get `home` as `HOME`: what gitolite's forced
/// commands read.
fn start_sshd(dir: &Path, port: u16, authorized_keys: &Path, home: &Path) -> Running {
    let sshd = needs::program("sshd", "openssh-server");
    ssh_key(&dir.join("host_key"));
    let config = dir.join("sshd_config");
    std::fs::write(
        &config,
        format!(
            "ListenAddress 127.0.0.1\n\
             Port {port}\n\
             HostKey {dir}/host_key\n\
             PidFile {dir}/sshd.pid\n\
             AuthorizedKeysFile {keys}\n\
             # The test's temporary directories are not root's own.\n\
             StrictModes no\n\
             UsePAM no\n\
             PasswordAuthentication no\n\
             KbdInteractiveAuthentication no\n\
             PermitRootLogin prohibit-password\n\
             SetEnv HOME={home}\n",
            dir = dir.display(),
            keys = authorized_keys.display(),
            home = home.display(),
        ),
    )
    .unwrap();
    if rustix::process::geteuid().is_root() {
        // sshd's privilege separation directory, compiled in; Debian's
        // service makes it at boot.
        std::fs::create_dir_all("/run/sshd").expect("create /run/sshd");
    }
    let mut c = Command::new(sshd);
    c.arg("-D").arg("-e").arg("-f").arg(&config);
    c.env_clear().env("PATH", "/usr/bin:/bin");
    let mut running = Running::spawn("sshd", c, &dir.join("sshd.log"));
    running.wait_for_port(port);
    running
}

/// The `GIT_SSH_COMMAND` logging in with `key` on 127.0.0.1:`port`,
/// checking the host key against `known_hosts`, reading no configuration.
fn ssh_command(key: &Path, port: u16, known_hosts: &Path) -> String {
    let ssh = needs::program("ssh", "openssh-client");
    format!(
        "{} -F /dev/null -i {} -p {port} -o IdentitiesOnly=yes -o BatchMode=yes \
         -o UserKnownHostsFile={} -o StrictHostKeyChecking=yes",
        ssh.display(),
        key.display(),
        known_hosts.display()
    )
}

/// The gitolite recipe of doc/GUIDE.md, its lines joined.
fn guide_gitolite() -> String {
    let guide = std::fs::read_to_string(support::manifest_dir().join("doc/GUIDE.md")).unwrap();
    let start = guide
        .find("- **gitolite**")
        .expect("doc/GUIDE.md's gitolite recipe");
    let recipe = &guide[start..];
    let end = recipe.find("\n\n#").unwrap_or(recipe.len());
    recipe[..end]
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// The `conf/gitolite.conf` block of doc/GUIDE.md's gitolite recipe, as
/// written there, for a channel introduced by `commit` signed by `signer`.
fn guide_gitolite_conf(commit: &str, signer: &str) -> String {
    let guide = std::fs::read_to_string(support::manifest_dir().join("doc/GUIDE.md")).unwrap();
    let start = guide
        .find("  repo channel\n")
        .expect("the guide's gitolite.conf block");
    let block = &guide[start..];
    let block = &block[..block.find("  ```").expect("the block's end")];
    let text: String = block
        .lines()
        .map(|line| format!("{}\n", line.strip_prefix("  ").unwrap_or(line)))
        .collect();
    // The guide's example is nonguix's introduction.
    let text = text.replace("897c1a470da759236cc11798f4e0a5f7d4d59fbc", commit);
    let text = text.replace("2A393FFF68F4EF7A3D2912AF6F5120A022FBB2D5", signer);
    assert!(text.contains(commit) && text.contains(signer), "{text}");
    format!("\n{text}")
}

#[test]
fn gitolite_over_ssh() {
    let gitolite = needs::program("gitolite", "gitolite3");
    let started = Instant::now();
    let mut pushers = Pushers::new(Home::new());
    let dir = pushers.home.path().join("ssh");
    let hosting = pushers.home.path().join("gitolite");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::create_dir_all(&hosting).unwrap();
    let set_up = Instant::now();
    for name in ["alice", "bob"] {
        ssh_key(&dir.join(name));
    }

    // gitolite's own set-up, as its hosting user: alice administers.
    let mut c = Command::new(&gitolite);
    c.args(["setup", "-pk"]).arg(dir.join("alice.pub"));
    c.env_clear()
        .env("HOME", &hosting)
        .env("PATH", "/usr/bin:/bin");
    run_ok(c, "gitolite setup");
    let port = free_port();
    let sshd_start = Instant::now();
    let _sshd = start_sshd(&dir, port, &hosting.join(".ssh/authorized_keys"), &hosting);
    eprintln!("sshd: listening in {:?}", sshd_start.elapsed());
    let known_hosts = dir.join("known_hosts");
    let host_key = std::fs::read_to_string(dir.join("host_key.pub")).unwrap();
    std::fs::write(&known_hosts, format!("[127.0.0.1]:{port} {host_key}")).unwrap();
    pushers.ssh = ["alice", "bob"]
        .map(|name| ssh_command(&dir.join(name), port, &known_hosts))
        .to_vec();

    // doc/GUIDE.md's steps. In ~/.gitolite.rc: repo-specific hooks,
    // LOCAL_CODE in the admin repository, the guix.* keys.
    let rc_path = hosting.join(".gitolite.rc");
    let rc = std::fs::read_to_string(&rc_path).unwrap();
    let rc = [
        ("# 'repo-specific-hooks',", "'repo-specific-hooks',"),
        (
            "# LOCAL_CODE                =>  \"$rc{GL_ADMIN_BASE}/local\",",
            "LOCAL_CODE                =>  \"$rc{GL_ADMIN_BASE}/local\",",
        ),
        (
            "GIT_CONFIG_KEYS                 =>  '',",
            "GIT_CONFIG_KEYS                 =>  'guix\\..*',",
        ),
    ]
    .iter()
    .fold(rc, |rc, (from, to)| {
        assert!(rc.contains(from), "no {from:?} in ~/.gitolite.rc: {rc}");
        assert!(
            guide_gitolite().contains(&to.split_whitespace().collect::<Vec<_>>().join(" ")),
            "doc/GUIDE.md's gitolite recipe does not say {to:?}"
        );
        rc.replacen(from, to, 1)
    });
    std::fs::write(&rc_path, rc).unwrap();

    // In the admin repository: the hook, bob's key, the repository.
    let user = user_name();
    let admin = pushers.home.path().join("gitolite-admin");
    let url = |repo: &str| format!("ssh://{user}@127.0.0.1:{port}/{repo}");
    pushers.git_ok(
        User::Alice,
        pushers.home.path(),
        &[
            "clone",
            "-q",
            &url("gitolite-admin"),
            admin.to_str().unwrap(),
        ],
    );
    let hooks = admin.join("local/hooks/repo-specific");
    std::fs::create_dir_all(&hooks).unwrap();
    let mut print = pushers.home.command(pushers.home.path());
    print.args(["install-server-hook", "--print"]);
    let hook = hooks.join("git-authenticate");
    std::fs::write(&hook, run_ok(print, "install-server-hook --print") + "\n").unwrap();
    std::fs::set_permissions(&hook, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::copy(dir.join("bob.pub"), admin.join("keydir/bob.pub")).unwrap();
    let conf = admin.join("conf/gitolite.conf");
    let mut text = std::fs::read_to_string(&conf).unwrap();
    text.push_str(&guide_gitolite_conf(
        &pushers.id("first"),
        &key("dave").signing_fpr,
    ));
    std::fs::write(&conf, text).unwrap();
    pushers.git_ok(User::Alice, &admin, &["add", "-A"]);
    pushers.git_ok(
        User::Alice,
        &admin,
        &["commit", "-q", "-m", "channel: the gate"],
    );
    pushers.git_ok(User::Alice, &admin, &["push", "-q", "origin", "HEAD"]);
    eprintln!(
        "gitolite over ssh: set up (keys, gitolite setup, sshd, the admin's push) in {:?}",
        set_up.elapsed()
    );

    pushers.url = url("channel");
    pushers.bare = hosting.join("repositories/channel.git");
    assert!(pushers.bare.join("hooks/pre-receive").exists());
    pushers.push_everything("gitolite over ssh");

    // A plain ssh host: a key that logs in to a shell (outside gitolite's
    // part of authorized_keys, which it keeps), a repository set up with
    // the guide's commands.
    ssh_key(&dir.join("plain"));
    let plain_key = std::fs::read_to_string(dir.join("plain.pub")).unwrap();
    let authorized = hosting.join(".ssh/authorized_keys");
    let mut keys = std::fs::read_to_string(&authorized).unwrap();
    keys.push_str(&plain_key);
    std::fs::write(&authorized, keys).unwrap();
    let plain = ssh_command(&dir.join("plain"), port, &known_hosts);
    pushers.ssh = vec![plain.clone(), plain];
    pushers.bare = pushers.home.path().join("plain.git");
    pushers.plain_repository(&pushers.bare, &[]);
    pushers.url = format!("ssh://{user}@127.0.0.1:{port}{}", pushers.bare.display());
    pushers.push_everything("plain ssh");
    eprintln!(
        "gitolite and plain ssh: whole test in {:?}",
        started.elapsed()
    );
}

/// fcgiwrap on a socket in `dir`, and nginx on 127.0.0.1:`port` passing
/// every request to `git http-backend` through it, serving the
/// repositories under `root`; configuration, pid files and logs in `dir`.
fn start_smart_http(dir: &Path, port: u16, root: &Path) -> [Running; 2] {
    let fcgiwrap = needs::program("fcgiwrap", "fcgiwrap");
    let nginx = needs::program("nginx", "nginx");
    let mut git = Command::new("git");
    git.arg("--exec-path");
    let exec_path = run_ok(git, "git --exec-path");
    let socket = dir.join("fcgiwrap.sock");
    let mut c = Command::new(fcgiwrap);
    c.arg("-s").arg(format!("unix:{}", socket.display()));
    c.env_clear().env("PATH", "/usr/bin:/bin");
    let mut wrap = Running::spawn("fcgiwrap", c, &dir.join("fcgiwrap.log"));
    wrap.wait_until("make its socket", || socket.exists());

    let config = dir.join("nginx.conf");
    // One process, no workers: nothing outlives it. (As root, workers
    // would run as nobody, who may not read the test's directories.)
    let user = match rustix::process::geteuid().is_root() {
        true => "user root;\n",
        false => "",
    };
    std::fs::write(
        &config,
        format!(
            "{user}master_process off;\n\
             worker_processes 1;\n\
             daemon off;\n\
             pid {dir}/nginx.pid;\n\
             error_log {dir}/error.log;\n\
             events {{ worker_connections 64; }}\n\
             http {{\n\
               access_log {dir}/access.log;\n\
               client_body_temp_path {dir}/body;\n\
               proxy_temp_path {dir}/proxy;\n\
               fastcgi_temp_path {dir}/fastcgi;\n\
               uwsgi_temp_path {dir}/uwsgi;\n\
               scgi_temp_path {dir}/scgi;\n\
               client_max_body_size 0;\n\
               server {{\n\
                 listen 127.0.0.1:{port};\n\
                 location / {{\n\
                   fastcgi_pass unix:{socket};\n\
                   include /etc/nginx/fastcgi_params;\n\
                   fastcgi_param SCRIPT_FILENAME {exec_path}/git-http-backend;\n\
                   fastcgi_param GIT_PROJECT_ROOT {root};\n\
                   fastcgi_param GIT_HTTP_EXPORT_ALL \"\";\n\
                   fastcgi_param PATH_INFO $uri;\n\
                 }}\n\
               }}\n\
             }}\n",
            dir = dir.display(),
            socket = socket.display(),
            root = root.display(),
        ),
    )
    .unwrap();
    let mut c = Command::new(nginx);
    c.arg("-e")
        .arg(dir.join("error.log"))
        .arg("-p")
        .arg(dir)
        .arg("-c")
        .arg(&config);
    c.env_clear().env("PATH", "/usr/bin:/bin");
    let mut web = Running::spawn("nginx", c, &dir.join("nginx.log"));
    web.wait_for_port(port);
    [web, wrap]
}

#[test]
fn smart_http_behind_nginx() {
    let started = Instant::now();
    let mut pushers = Pushers::new(Home::new());
    let dir = pushers.home.path().join("http");
    let root = pushers.home.path().join("srv");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::create_dir_all(&root).unwrap();
    let set_up = Instant::now();
    // Pushes over HTTP enabled: the server asks for no password.
    let bare = root.join("channel.git");
    pushers.plain_repository(&bare, &[("http.receivepack", "true")]);
    let port = free_port();
    let servers_start = Instant::now();
    let _servers = start_smart_http(&dir, port, &root);
    eprintln!(
        "nginx and fcgiwrap: listening in {:?}",
        servers_start.elapsed()
    );
    eprintln!(
        "smart HTTP (nginx, fcgiwrap): set up (repository, hook, servers) in {:?}",
        set_up.elapsed()
    );
    pushers.url = format!("http://127.0.0.1:{port}/channel.git");
    pushers.bare = bare;
    pushers.push_everything("smart HTTP (nginx, fcgiwrap)");
    eprintln!("smart HTTP: whole test in {:?}", started.elapsed());
}
