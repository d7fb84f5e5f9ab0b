//! A real OpenSSH server of the test's own, for the SSH-tunnel tests (`support::sshd`): an
//! `sshd` on a free loopback port with its own config, host key and `authorized_keys` in a
//! temporary folder, user key pairs ([`SshKey`]), and the client side a test hands to Retort
//! ([`SshClient`]: an `ssh_config` of its own, a `known_hosts` of its own, an optional agent).
//! Nothing here reads or writes `~/.ssh` or the system's sshd: `ssh` finds `~` through the
//! passwd database, not `$HOME`, so a test that relied on it would touch the real one.
//!
//! `scripts/lib/setup.sh` (`ensure_sshd`) installs the server without starting it. Without
//! it the tests skip, unless [`required`] says they must run.

use super::databases::required;
use std::fs;
use std::io::Write as _;
use std::net::{Ipv4Addr, SocketAddrV4, TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt as _;
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use tempfile::TempDir;

/// How long a daemon, an agent or a process being stopped gets: generous, because two cores
/// also build and run other tests; the waits end as soon as their condition holds.
const DEADLINE: Duration = Duration::from_secs(60);

/// How many fresh ports [`Sshd::start`] tries when another process took the one it picked
/// between its probe and sshd's `bind`.
const BIND_ATTEMPTS: usize = 5;

/// The OpenSSH server, where Debian puts it (or on `PATH`): an absolute path, since sshd
/// re-executes itself and refuses to run from a relative one.
fn sshd_program() -> Option<PathBuf> {
    let debian = Path::new("/usr/sbin/sshd");
    if debian.is_file() {
        return Some(debian.to_path_buf());
    }
    super::which("sshd")
}

/// Whether this machine can run the SSH tests: the client tools (`ssh`, `ssh-keygen`,
/// `ssh-agent`, `ssh-add`), the server, and as root sshd's privilege-separation folder
/// `/run/sshd` (sshd refuses to start without it; `ensure_sshd` makes it). False means skip;
/// when [`required`] it panics instead. A test calls it before making keys, since
/// [`SshKey::generate`] needs `ssh-keygen`; [`Sshd::start`] checks it too.
pub fn available() -> bool {
    let missing: Vec<&str> = ["ssh", "ssh-keygen", "ssh-agent", "ssh-add"]
        .into_iter()
        .filter(|p| super::which(p).is_none())
        .chain(sshd_program().is_none().then_some("sshd"))
        .collect();
    let problem = if !missing.is_empty() {
        Some(format!("{} not found", missing.join(", ")))
    } else if is_root() && !Path::new("/run/sshd").is_dir() {
        Some("/run/sshd (sshd's privilege-separation folder) is missing".to_string())
    } else {
        None
    };
    match problem {
        None => true,
        Some(problem) => {
            assert!(
                !required(),
                "OpenSSH is required (RETORT_REQUIRE_ALEMBIC=1): {problem}; scripts/lib/setup.sh's ensure_sshd sets it up"
            );
            eprintln!("{problem}: skipped");
            false
        }
    }
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// The login name of the user the tests run as: the `User` of every alias, and the only
/// account an sshd started by a non-root user can log in to.
pub fn current_user() -> String {
    let out = Command::new("id").arg("-un").output().expect("id -un");
    assert!(out.status.success(), "id -un: {}", super::text(&out.stderr));
    super::text(&out.stdout).trim().to_string()
}

/// A port on 127.0.0.1 that was free a moment ago (bound to port 0, read, released). Another
/// process may take it before the caller binds it: callers that can tell retry.
pub fn free_port() -> u16 {
    TcpListener::bind(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 0))
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Whether something accepts a TCP connection on 127.0.0.1:`port` right now.
pub fn accepts(port: u16) -> bool {
    TcpStream::connect_timeout(
        &SocketAddrV4::new(Ipv4Addr::LOCALHOST, port).into(),
        Duration::from_secs(5),
    )
    .is_ok()
}

/// Waits, polling every few milliseconds, until `condition` holds or `deadline` has passed;
/// whether it held. A wait on a condition, never a guessed sleep.
pub fn wait_until(deadline: Duration, mut condition: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + deadline;
    loop {
        if condition() {
            return true;
        }
        if Instant::now() >= end {
            return false;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// `ssh-keygen -q -t ed25519 -N passphrase -C comment -f path` (writes `path` and `path.pub`).
fn keygen(path: &Path, passphrase: &str, comment: &str) {
    let out = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", passphrase, "-C", comment, "-f"])
        .arg(path)
        .stdin(Stdio::null())
        .output()
        .expect("ssh-keygen (openssh-client) runs");
    assert!(
        out.status.success(),
        "ssh-keygen -f {}: {}",
        path.display(),
        super::text(&out.stderr)
    );
}

/// The first line of a `.pub` file, without its end of line.
fn public_line(pub_file: &Path) -> String {
    fs::read_to_string(pub_file)
        .unwrap()
        .lines()
        .next()
        .unwrap()
        .to_string()
}

/// `path` quoted for an ssh or sshd config file (both split arguments on spaces and accept
/// double quotes).
fn quoted(path: &Path) -> String {
    let path = path.to_str().expect("temporary paths are UTF-8");
    assert!(
        !path.contains('"'),
        "{path}: a double quote cannot be quoted"
    );
    format!("\"{path}\"")
}

fn write_private(path: &Path, contents: &str, mode: u32) {
    fs::write(path, contents).unwrap();
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).unwrap();
}

/// A user key pair, made for one test in a folder of its own and removed with it.
pub struct SshKey {
    /// The folder holding the pair; removed on drop.
    pub dir: TempDir,
    /// The private key file (mode 0600, as ssh demands), what `IdentityFile` names.
    pub private: PathBuf,
    /// The public key as one `authorized_keys` line: `ssh-ed25519 AAAA… comment`.
    pub public_line: String,
}

impl SshKey {
    /// A key without a passphrase (`ssh-keygen -t ed25519 -N ''`).
    pub fn generate() -> SshKey {
        SshKey::generate_with_passphrase("")
    }

    /// A key whose private half is encrypted with `passphrase` (as an agent test needs: ssh
    /// in batch mode cannot unlock it itself, only the agent holding it can sign).
    pub fn generate_with_passphrase(passphrase: &str) -> SshKey {
        let dir = TempDir::new().unwrap();
        let private = dir.path().join("id_ed25519");
        keygen(&private, passphrase, "retort-test-user");
        let public_line = public_line(&private.with_extension("pub"));
        SshKey {
            dir,
            private,
            public_line,
        }
    }
}

/// What a test varies about its daemon.
#[derive(Debug, Clone, Copy)]
pub struct SshdOptions {
    /// `AllowTcpForwarding`: false makes the server refuse every `-L` channel ("remote
    /// forward refused"). [`Default`] allows it.
    pub allow_tcp_forwarding: bool,
}

impl Default for SshdOptions {
    fn default() -> Self {
        SshdOptions {
            allow_tcp_forwarding: true,
        }
    }
}

/// An sshd of the test's own on 127.0.0.1 and a free port: run as the current user (root
/// here, any user works), in the foreground (`-D -e`, its log on stderr into a file), with a
/// config of its own in a temporary folder (an ed25519 host key made for it, public-key
/// logins only, the `authorized_keys` given to [`Sshd::start`], `StrictModes no` because the
/// temporary folders are not laid out as sshd wants a home). It and every session process it
/// forked are killed on drop.
pub struct Sshd {
    dir: TempDir,
    program: PathBuf,
    config: PathBuf,
    host_key: PathBuf,
    log_file: PathBuf,
    port: u16,
    options: SshdOptions,
    daemon: Option<Child>,
}

impl Sshd {
    /// Starts a daemon that lets in the holders of `authorized`, and waits (a condition, with a
    /// generous deadline) until it says it listens and its port accepts a TCP connection.
    /// `None` when OpenSSH is missing here and not [`required`] (see [`available`]).
    pub fn start(authorized: &[&SshKey], options: SshdOptions) -> Option<Sshd> {
        if !available() {
            return None;
        }
        let program = sshd_program().unwrap();
        let dir = TempDir::new().unwrap();
        let keys: String = authorized
            .iter()
            .map(|k| format!("{}\n", k.public_line))
            .collect();
        write_private(&dir.path().join("authorized_keys"), &keys, 0o600);
        let host_key = dir.path().join("ssh_host_ed25519_key");
        keygen(&host_key, "", "retort-test-host");
        let mut sshd = Sshd {
            config: dir.path().join("sshd_config"),
            log_file: dir.path().join("sshd.log"),
            dir,
            program,
            host_key,
            port: 0,
            options,
            daemon: None,
        };
        for attempt in 1..=BIND_ATTEMPTS {
            sshd.port = free_port();
            match sshd.launch() {
                Ok(()) => return Some(sshd),
                Err(log) if attempt < BIND_ATTEMPTS => {
                    eprintln!("sshd lost port {} to another process: {log}", sshd.port)
                }
                Err(log) => panic!("sshd could not bind any of {BIND_ATTEMPTS} ports: {log}"),
            }
        }
        unreachable!()
    }

    /// The port the daemon listens on (on 127.0.0.1); it keeps it across
    /// [`Sshd::restart_with_new_host_key`].
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The host key's fingerprint, `SHA256:…`, as `ssh-keygen -lf` prints it and as ssh shows
    /// it in its "Server host key" line and its host key warnings.
    pub fn host_fingerprint(&self) -> String {
        let out = Command::new("ssh-keygen")
            .arg("-lf")
            .arg(self.host_key.with_extension("pub"))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "ssh-keygen -lf: {}",
            super::text(&out.stderr)
        );
        // "256 SHA256:… comment (ED25519)"
        super::text(&out.stdout)
            .split_whitespace()
            .nth(1)
            .unwrap()
            .to_string()
    }

    /// The host key as a `known_hosts` line, in the form ssh writes for a port other than 22:
    /// `[127.0.0.1]:PORT ssh-ed25519 AAAA…`.
    pub fn known_hosts_line(&self) -> String {
        let line = public_line(&self.host_key.with_extension("pub"));
        let mut fields = line.split_whitespace();
        let (kind, key) = (fields.next().unwrap(), fields.next().unwrap());
        format!("[127.0.0.1]:{} {kind} {key}", self.port)
    }

    /// SIGKILLs the daemon and every process it forked, so that a tunnel through it dies
    /// mid-run as when a bastion goes down. Killing the daemon's process group is not enough:
    /// sshd puts each connection in a session (and process group) of its own with `setsid`,
    /// and a connection's process outlives its listener and goes on forwarding. So the daemon
    /// and then its descendants are stopped (SIGSTOP, waiting until each is stopped, until no
    /// new one appears: none can fork while stopped, and none is orphaned yet since its
    /// parent is only stopped), then all are killed. Does nothing when the daemon is not
    /// running.
    pub fn kill(&mut self) {
        let Some(mut daemon) = self.daemon.take() else {
            return;
        };
        let root = daemon.id() as libc::pid_t;
        let mut stopped = vec![root];
        signal(root, libc::SIGSTOP);
        wait_stopped(root);
        loop {
            let new: Vec<libc::pid_t> = descendants(root)
                .into_iter()
                .filter(|p| !stopped.contains(p))
                .collect();
            if new.is_empty() {
                break;
            }
            for &pid in &new {
                signal(pid, libc::SIGSTOP);
            }
            for &pid in &new {
                wait_stopped(pid);
            }
            stopped.extend(new);
        }
        // The daemon's own process group too (it is its leader; nothing else should be in it).
        signal(-root, libc::SIGKILL);
        for &pid in &stopped {
            signal(pid, libc::SIGKILL);
        }
        daemon.wait().unwrap();
    }

    /// Kills the daemon (as [`Sshd::kill`]), makes it a new host key, and starts it again on
    /// the same port with the same clients authorised: a server whose identity changed, as a
    /// test of the "REMOTE HOST IDENTIFICATION HAS CHANGED" refusal needs.
    pub fn restart_with_new_host_key(&mut self) {
        self.kill();
        fs::remove_file(&self.host_key).unwrap();
        fs::remove_file(self.host_key.with_extension("pub")).unwrap();
        keygen(&self.host_key, "", "retort-test-host");
        // sshd sets SO_REUSEADDR, so the old connections' TIME_WAIT does not hold the port; a
        // process that took it meanwhile would, and the port cannot change (known_hosts names
        // it): retry for a while, then give up.
        let mut last = String::new();
        let port_back = wait_until(DEADLINE, || match self.launch() {
            Ok(()) => true,
            Err(log) => {
                last = log;
                false
            }
        });
        assert!(
            port_back,
            "sshd could not bind port {} again: {last}",
            self.port
        );
    }

    /// What the daemon has logged so far (its stderr with `-e`, LogLevel VERBOSE, across
    /// restarts), for failure messages.
    pub fn log(&self) -> String {
        fs::read_to_string(&self.log_file).unwrap_or_default()
    }

    /// The config file of the daemon (for `sshd -t -f`, or to read it in a failure message).
    pub fn config_file(&self) -> &Path {
        &self.config
    }

    /// Writes the config for `self.port`, starts sshd and waits until it listens. `Err` with
    /// the attempt's log when sshd could not bind the port (another process has it); any other
    /// early end or a timeout panics with the log.
    fn launch(&mut self) -> Result<(), String> {
        self.write_config();
        let log_start = fs::metadata(&self.log_file).map_or(0, |m| m.len() as usize);
        let log = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log_file)
            .unwrap();
        let mut command = Command::new(&self.program);
        command
            .args(["-D", "-e", "-f"])
            .arg(&self.config)
            .current_dir(self.dir.path())
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            // Its own process group: a signal meant for the test's group (a ^C) does not
            // reach it in the middle of a kill, and kill() can signal the group as a whole.
            .process_group(0);
        // SAFETY: prctl is async-signal-safe and touches only the child's own attributes.
        // If the test process dies without dropping (a SIGKILL from a test runner's
        // timeout), the daemon, which left the runner's process group, goes with it.
        unsafe {
            command.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong);
                Ok(())
            });
        }
        let mut daemon = command.spawn().expect("sshd starts");
        let attempt_log = |file: &Path| {
            let all = fs::read_to_string(file).unwrap_or_default();
            all.get(log_start..).unwrap_or(&all).to_string()
        };
        // sshd logs this (at INFO) once its socket listens; it names the port, so a process
        // that took the port meanwhile is not mistaken for it.
        let listening = format!("Server listening on 127.0.0.1 port {}.", self.port);
        let mut ended = None;
        let up = wait_until(DEADLINE, || {
            if let Some(status) = daemon.try_wait().unwrap() {
                ended = Some(status);
                return true;
            }
            attempt_log(&self.log_file).contains(&listening)
        });
        if let Some(status) = ended {
            let text = attempt_log(&self.log_file);
            if text.contains("Address already in use") {
                return Err(text);
            }
            panic!("sshd ended at start ({status}):\n{text}");
        }
        if !up {
            let _ = daemon.kill();
            let _ = daemon.wait();
            panic!(
                "sshd did not listen on port {} within {DEADLINE:?}:\n{}",
                self.port,
                attempt_log(&self.log_file)
            );
        }
        self.daemon = Some(daemon);
        let port = self.port;
        assert!(
            wait_until(DEADLINE, || accepts(port)),
            "sshd logged that it listens on {port} but the port refuses connections:\n{}",
            self.log()
        );
        Ok(())
    }

    fn write_config(&self) {
        let dir = self.dir.path();
        let forwarding = if self.options.allow_tcp_forwarding {
            "yes"
        } else {
            "no"
        };
        let mut config = format!(
            "# sshd of one Retort test (tests/support/sshd.rs)\n\
             ListenAddress 127.0.0.1\n\
             Port {port}\n\
             HostKey {host_key}\n\
             PidFile {pid}\n\
             AuthorizedKeysFile {authorized}\n\
             StrictModes no\n\
             UsePAM no\n\
             PasswordAuthentication no\n\
             KbdInteractiveAuthentication no\n\
             PubkeyAuthentication yes\n\
             PermitRootLogin prohibit-password\n\
             AllowTcpForwarding {forwarding}\n\
             LogLevel VERBOSE\n",
            port = self.port,
            host_key = quoted(&self.host_key),
            pid = quoted(&dir.join("sshd.pid")),
            authorized = quoted(&dir.join("authorized_keys")),
        );
        // OpenSSH 9.8 and later block a source address that fails to log in often (each
        // refusal test does, on purpose, all from 127.0.0.1). 9.2 does not know the option.
        if sshd_version(&self.program) >= (9, 8) {
            config.push_str("PerSourcePenalties no\n");
        }
        fs::write(&self.config, config).unwrap();
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        self.kill();
    }
}

/// (major, minor) of `sshd -V` ("OpenSSH_9.2, OpenSSL …" on stderr); (0, 0) if unreadable.
fn sshd_version(program: &Path) -> (u32, u32) {
    let out = Command::new(program).arg("-V").output().unwrap();
    let text = super::text(&out.stderr);
    let version = text
        .split("OpenSSH_")
        .nth(1)
        .unwrap_or("")
        .split(|c: char| !c.is_ascii_digit() && c != '.')
        .next()
        .unwrap_or("");
    let mut parts = version.split('.').map(|p| p.parse().unwrap_or(0));
    (parts.next().unwrap_or(0), parts.next().unwrap_or(0))
}

fn signal(pid: libc::pid_t, signal: libc::c_int) {
    // SAFETY: kill has no memory-safety preconditions; a process already gone is ESRCH.
    unsafe { libc::kill(pid, signal) };
}

/// `pid`'s state letter and parent from `/proc/PID/stat` (`pid (comm) S ppid …`, where comm
/// may hold spaces and parentheses, so it is read after the last `)`); `None` once it is gone.
fn proc_stat(pid: libc::pid_t) -> Option<(char, libc::pid_t)> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let mut fields = stat[stat.rfind(')')? + 1..].split_whitespace();
    let state = fields.next()?.chars().next()?;
    let ppid = fields.next()?.parse().ok()?;
    Some((state, ppid))
}

/// Every living descendant of `root`, from the parent links in `/proc`.
fn descendants(root: libc::pid_t) -> Vec<libc::pid_t> {
    let parents: Vec<(libc::pid_t, libc::pid_t)> = fs::read_dir("/proc")
        .unwrap()
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse().ok())
        .filter_map(|pid| Some((pid, proc_stat(pid)?.1)))
        .collect();
    let mut found = vec![root];
    let mut i = 0;
    while i < found.len() {
        let parent = found[i];
        found.extend(
            parents
                .iter()
                .filter(|(_, p)| *p == parent)
                .map(|(c, _)| *c),
        );
        i += 1;
    }
    found.remove(0);
    found
}

/// Waits until `pid` is stopped (state T), a zombie, or gone: a stopped process cannot fork.
fn wait_stopped(pid: libc::pid_t) {
    let stopped = wait_until(DEADLINE, || {
        matches!(
            proc_stat(pid),
            None | Some(('T' | 't' | 'Z' | 'X' | 'x', _))
        )
    });
    assert!(
        stopped,
        "process {pid} of the test sshd did not stop on SIGSTOP"
    );
}

/// The client side a test gives Retort: an `ssh_config` of its own (Retort reads the file
/// that `RETORT_SSH_CONFIG` names instead of `~/.ssh/config`), a `known_hosts` of its own, and
/// optionally an agent. The config holds one `Host` block per [`SshClient::alias`], then a
/// `Host *` block with the defaults: ssh takes the first value it meets for each option, so
/// the host blocks must come first, and the file is rewritten whole on each change.
pub struct SshClient {
    /// The folder of the files below (and of the agent's socket); removed on drop.
    pub dir: TempDir,
    /// The `ssh_config` file (`ssh -F`).
    pub config: PathBuf,
    /// The `known_hosts` file (mode 0600, empty until [`SshClient::trust`]).
    pub known_hosts: PathBuf,
    /// The `Host` blocks written so far, in order.
    aliases: Vec<String>,
    /// The agent of [`SshClient::start_agent_with`] and its socket.
    agent: Option<(Child, PathBuf)>,
}

impl SshClient {
    /// An empty `known_hosts` and a config with only the `Host *` block.
    pub fn new() -> SshClient {
        let dir = TempDir::new().unwrap();
        let client = SshClient {
            config: dir.path().join("ssh_config"),
            known_hosts: dir.path().join("known_hosts"),
            dir,
            aliases: Vec::new(),
            agent: None,
        };
        write_private(&client.known_hosts, "", 0o600);
        client.write_config();
        client
    }

    /// Adds `Host alias` for `sshd`: `HostName 127.0.0.1`, its `Port`, the current user, and
    /// `IdentityFile` with `IdentitiesOnly yes` when `key` is given (without one, ssh offers
    /// the agent's keys, as an agent test needs). `proxy_jump` is another alias (or
    /// `user@host:port`) to reach it through.
    pub fn alias(
        &mut self,
        alias: &str,
        sshd: &Sshd,
        key: Option<&SshKey>,
        proxy_jump: Option<&str>,
    ) {
        let mut block = format!(
            "Host {alias}\n  HostName 127.0.0.1\n  Port {}\n  User {}\n",
            sshd.port(),
            current_user()
        );
        if let Some(key) = key {
            block.push_str(&format!(
                "  IdentityFile {}\n  IdentitiesOnly yes\n",
                quoted(&key.private)
            ));
        }
        if let Some(jump) = proxy_jump {
            block.push_str(&format!("  ProxyJump {jump}\n"));
        }
        self.aliases.push(block);
        self.write_config();
    }

    /// Trusts `sshd`'s current host key: appends [`Sshd::known_hosts_line`] to `known_hosts`.
    pub fn trust(&self, sshd: &Sshd) {
        let mut file = fs::OpenOptions::new()
            .append(true)
            .open(&self.known_hosts)
            .unwrap();
        writeln!(file, "{}", sshd.known_hosts_line()).unwrap();
    }

    /// The environment for Retort (or a plain `ssh`): `RETORT_SSH_CONFIG`, then
    /// `SSH_ASKPASS_REQUIRE=never` (no passphrase dialog may pop up in a test), and
    /// `SSH_AUTH_SOCK` once an agent runs.
    pub fn env(&self) -> Vec<(String, String)> {
        let mut env = vec![
            (
                "RETORT_SSH_CONFIG".to_string(),
                self.config.to_str().unwrap().to_string(),
            ),
            ("SSH_ASKPASS_REQUIRE".to_string(), "never".to_string()),
        ];
        if let Some((_, socket)) = &self.agent {
            env.push((
                "SSH_AUTH_SOCK".to_string(),
                socket.to_str().unwrap().to_string(),
            ));
        }
        env
    }

    /// Starts `ssh-agent -D -a DIR/agent.sock` (killed on drop) and adds `key`, unlocked with
    /// `passphrase` through an `SSH_ASKPASS` script (`ssh-add` with no terminal and
    /// `SSH_ASKPASS_REQUIRE=force` asks it). From then on [`SshClient::env`] has
    /// `SSH_AUTH_SOCK`.
    pub fn start_agent_with(&mut self, key: &SshKey, passphrase: &str) {
        assert!(self.agent.is_none(), "one agent per client");
        let socket = self.dir.path().join("agent.sock");
        let mut agent = Command::new("ssh-agent")
            .arg("-D")
            .arg("-a")
            .arg(&socket)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("ssh-agent starts");
        // The socket file appears at bind(), before the agent listens: wait for a connection
        // it accepts, not for the file.
        let mut ended = None;
        let up = wait_until(DEADLINE, || {
            ended = agent.try_wait().unwrap();
            ended.is_some() || std::os::unix::net::UnixStream::connect(&socket).is_ok()
        });
        assert!(
            up && ended.is_none(),
            "ssh-agent did not make {} ({ended:?})",
            socket.display()
        );
        self.agent = Some((agent, socket.clone()));

        let secret = self.dir.path().join("passphrase");
        write_private(&secret, passphrase, 0o600);
        // It answers once: after a wrong passphrase ssh-add asks again, and a script that
        // always answered would keep it asking for ever; an empty answer makes it give up.
        let askpass = self.dir.path().join("askpass");
        let asked = self.dir.path().join("askpass.asked");
        write_private(
            &askpass,
            &format!(
                "#!/bin/sh\n[ -e {asked} ] && exit 1\n: > {asked}\ncat {secret}\n",
                asked = quoted(&asked),
                secret = quoted(&secret)
            ),
            0o700,
        );
        let out = Command::new("ssh-add")
            .arg(&key.private)
            .env("SSH_AUTH_SOCK", &socket)
            .env("SSH_ASKPASS", &askpass)
            .env("SSH_ASKPASS_REQUIRE", "force")
            .env("DISPLAY", ":0")
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "ssh-add {}: {}",
            key.private.display(),
            super::text(&out.stderr)
        );
    }

    fn write_config(&self) {
        let mut config: String = self.aliases.iter().map(|b| format!("{b}\n")).collect();
        config.push_str(&format!(
            "Host *\n  UserKnownHostsFile {}\n  GlobalKnownHostsFile /dev/null\n",
            quoted(&self.known_hosts)
        ));
        write_private(&self.config, &config, 0o600);
    }
}

impl Default for SshClient {
    fn default() -> Self {
        SshClient::new()
    }
}

impl Drop for SshClient {
    fn drop(&mut self) {
        if let Some((mut agent, _)) = self.agent.take() {
            let _ = agent.kill();
            let _ = agent.wait();
        }
    }
}
