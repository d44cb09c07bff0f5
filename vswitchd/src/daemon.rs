//! Daemon plumbing (OVS `lib/daemon-unix.c`): the locked pidfile,
//! `--detach` by re-executing ourselves, and termination signals.
//!
//! `--detach`: the parent re-runs the same executable with the same
//! arguments and [`DETACHED_ENV`] set, its stdout a pipe, and waits. The
//! child starts a new session, runs, and writes `ready` to the pipe once the
//! first configuration is applied ([`Readiness::ready`]); the parent then
//! exits 0 (1 if the child died first, printing what the child reported).

use nix::fcntl::{fcntl, FcntlArg};
use nix::sys::signal::{SigSet, Signal};
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// Environment variable marking the detached child.
pub const DETACHED_ENV: &str = "RVS_VSWITCHD_DETACHED";

/// A pidfile holding our pid and a POSIX write lock (`fcntl(F_SETLK)`) for
/// the life of the process, as `ovs-appctl` expects (it reads the lock
/// owner with `F_GETLK`). Removed on drop.
pub struct Pidfile {
    path: PathBuf,
    _file: File,
}

impl Pidfile {
    /// Creates `path` (through a temporary file renamed into place, as OVS
    /// does), writes the pid and locks it.
    ///
    /// # Errors
    /// Text naming the file and the failing step; `pidfile is locked by
    /// another process` when a live daemon holds it.
    pub fn create(path: &Path) -> Result<Pidfile, String> {
        if let Ok(f) = OpenOptions::new().write(true).open(path) {
            if lock(&f).is_err() {
                return Err(format!(
                    "{}: already running (pidfile is locked by another process)",
                    path.display()
                ));
            }
        }
        let tmp = PathBuf::from(format!("{}.tmp", path.display()));
        let _ = std::fs::remove_file(&tmp);
        let mut f = OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .mode(0o644)
            .open(&tmp)
            .map_err(|e| format!("{}: create failed ({e})", tmp.display()))?;
        lock(&f).map_err(|e| format!("{}: fcntl(F_SETLK) failed ({e})", tmp.display()))?;
        writeln!(f, "{}", std::process::id())
            .and_then(|_| f.flush())
            .map_err(|e| format!("{}: write failed ({e})", tmp.display()))?;
        std::fs::rename(&tmp, path).map_err(|e| {
            format!(
                "failed to rename \"{}\" to \"{}\" ({e})",
                tmp.display(),
                path.display()
            )
        })?;
        Ok(Pidfile {
            path: path.to_path_buf(),
            _file: f,
        })
    }
}

fn lock(f: &File) -> nix::Result<()> {
    let fl = nix::libc::flock {
        l_type: nix::libc::F_WRLCK as i16,
        l_whence: nix::libc::SEEK_SET as i16,
        l_start: 0,
        l_len: 0,
        l_pid: 0,
    };
    fcntl(f, FcntlArg::F_SETLK(&fl)).map(drop)
}

impl Drop for Pidfile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// The detached child's channel to its waiting parent.
pub struct Readiness {
    done: bool,
}

impl Readiness {
    /// `Some` in a child started by [`detach`].
    pub fn from_env() -> Option<Readiness> {
        std::env::var_os(DETACHED_ENV).map(|_| {
            let _ = nix::unistd::setsid();
            Readiness { done: false }
        })
    }

    /// Tells the parent we are configured (once), then points stdout at
    /// `/dev/null`.
    pub fn ready(&mut self) {
        if self.done {
            return;
        }
        self.done = true;
        let mut out = std::io::stdout();
        let _ = out.write_all(b"ready\n").and_then(|_| out.flush());
        if let Ok(null) = OpenOptions::new().write(true).open("/dev/null") {
            let _ = nix::unistd::dup2_stdout(&null);
        }
    }

    /// Reports a fatal startup error to the parent.
    pub fn fail(&mut self, msg: &str) {
        if !self.done {
            let _ = writeln!(std::io::stdout(), "error: {msg}");
        }
    }
}

/// `--detach` in the parent: runs the child and waits for its readiness
/// line. Returns the exit status for the parent.
pub fn detach() -> i32 {
    let exe = match std::env::current_exe() {
        Ok(e) => e,
        Err(e) => {
            eprintln!("rvs-vswitchd: cannot find own executable ({e})");
            return 1;
        }
    };
    let child = Command::new(exe)
        .args(std::env::args_os().skip(1))
        .env(DETACHED_ENV, "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn();
    let mut child = match child {
        Ok(c) => c,
        Err(e) => {
            eprintln!("rvs-vswitchd: fork failed ({e})");
            return 1;
        }
    };
    let Some(out) = child.stdout.take() else {
        return 1;
    };
    for line in BufReader::new(out).lines() {
        match line {
            Ok(l) if l == "ready" => return 0,
            Ok(l) => eprintln!("rvs-vswitchd: {}", l.trim_start_matches("error: ")),
            Err(_) => break,
        }
    }
    let status = child.wait().ok().and_then(|s| s.code()).unwrap_or(1);
    eprintln!("rvs-vswitchd: child exited before configuration completed");
    if status == 0 {
        1
    } else {
        status
    }
}

/// Blocks SIGTERM, SIGINT and SIGHUP in this thread (call before spawning
/// any thread, so every thread inherits the mask) and starts a thread that
/// waits for them: SIGTERM and SIGINT set `exit`; SIGHUP reopens the log.
///
/// # Errors
/// The `pthread_sigmask(2)` error.
pub fn handle_signals(exit: Arc<AtomicBool>) -> nix::Result<()> {
    let mut set = SigSet::empty();
    set.add(Signal::SIGTERM);
    set.add(Signal::SIGINT);
    set.add(Signal::SIGHUP);
    set.thread_block()?;
    std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || loop {
            match set.wait() {
                Ok(Signal::SIGHUP) => {
                    let _ = crate::vlog::reopen();
                }
                Ok(sig) => {
                    crate::vlog::info("vswitchd", format!("received signal {}", sig as i32));
                    exit.store(true, Ordering::SeqCst);
                }
                Err(_) => return,
            }
        })
        .map_err(|_| nix::Error::EAGAIN)?;
    Ok(())
}
