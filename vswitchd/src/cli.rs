//! The command line of `ovs-vswitchd(8)` and the directories of OVS's
//! environment variables (`lib/dirs.c`).

use std::path::{Path, PathBuf};

/// `$OVS_RUNDIR` (default `/var/run/openvswitch`): pidfile, control
/// socket, default database socket.
pub fn rundir() -> PathBuf {
    env_dir("OVS_RUNDIR", "/var/run/openvswitch")
}

/// `$OVS_LOGDIR` (default `/var/log/openvswitch`): default log file.
pub fn logdir() -> PathBuf {
    env_dir("OVS_LOGDIR", "/var/log/openvswitch")
}

/// `$OVS_DBDIR` (default `/etc/openvswitch`).
pub fn dbdir() -> PathBuf {
    env_dir("OVS_DBDIR", "/etc/openvswitch")
}

/// `$OVS_SYSCONFDIR` (default `/etc`).
pub fn sysconfdir() -> PathBuf {
    env_dir("OVS_SYSCONFDIR", "/etc")
}

fn env_dir(var: &str, default: &str) -> PathBuf {
    match std::env::var(var) {
        Ok(v) if !v.is_empty() => PathBuf::from(v),
        _ => PathBuf::from(default),
    }
}

/// Makes `name` absolute: relative names are taken relative to `dir` (OVS
/// `abs_file_name`), and `dir` itself relative to the current directory.
pub fn abs_in(dir: &Path, name: &str) -> PathBuf {
    let p = Path::new(name);
    let p = if p.is_absolute() {
        p.to_path_buf()
    } else {
        dir.join(p)
    };
    if p.is_absolute() {
        p
    } else {
        std::env::current_dir().map(|d| d.join(&p)).unwrap_or(p)
    }
}

/// Parsed options.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Options {
    /// OVSDB remote (`unix:PATH` or `tcp:IP:PORT`); default
    /// `unix:$OVS_RUNDIR/db.sock`.
    pub database: String,
    /// `--pidfile[=FILE]`: absolute path of the pidfile, if any.
    pub pidfile: Option<PathBuf>,
    /// `--detach`.
    pub detach: bool,
    /// `--no-chdir`.
    pub no_chdir: bool,
    /// `--log-file[=FILE]`: absolute path of the log file, if any.
    pub log_file: Option<PathBuf>,
    /// `-v`/`--verbose` specifications in order (`""` for a bare `-v`).
    pub verbose: Vec<String>,
    /// `--unixctl=SOCKET`: absolute path of the control socket, if given.
    pub unixctl: Option<PathBuf>,
    /// `--disable-system` (accepted; there is no kernel datapath anyway).
    pub disable_system: bool,
    /// `--mlockall` (accepted and ignored).
    pub mlockall: bool,
    /// `--version` / `-V`.
    pub version: bool,
    /// `--help` / `-h`.
    pub help: bool,
}

/// Usage text for `--help`.
pub const USAGE: &str = "rvs-vswitchd: Open vSwitch-compatible switch daemon (userspace datapath)
usage: rvs-vswitchd [OPTIONS] [DATABASE]
where DATABASE is a socket on which ovsdb-server is listening
      (default: \"unix:$OVS_RUNDIR/db.sock\").

Daemon options:
  --detach                run in background as daemon
  --pidfile[=FILE]        create pidfile (default: $OVS_RUNDIR/ovs-vswitchd.pid)
  --no-chdir              do not chdir to '/'
  --overwrite-pidfile     accepted for compatibility

Logging options:
  -vSPEC, --verbose=SPEC   set logging levels
  -v, --verbose            set maximum verbosity level
  --log-file[=FILE]        enable logging to specified FILE
                           (default: $OVS_LOGDIR/ovs-vswitchd.log)

Other options:
  --unixctl=SOCKET        override default control socket name
  --disable-system        accepted (no kernel datapath in rvs)
  --mlockall              accepted and ignored
  -h, --help              display this help message
  -V, --version           display version information
";

/// Parses `args` (without the program name).
///
/// # Errors
/// `unrecognized option 'X'` or `extra arguments` messages, as getopt and
/// ovs-vswitchd print them.
pub fn parse(args: &[String]) -> Result<Options, String> {
    let mut o = Options::default();
    let mut database = None;
    for a in args {
        let (name, value) = match a.split_once('=') {
            Some((n, v)) if n.starts_with("--") => (n, Some(v)),
            _ => (a.as_str(), None),
        };
        match name {
            "--pidfile" => o.pidfile = Some(abs_in(&rundir(), value.unwrap_or("ovs-vswitchd.pid"))),
            "--detach" => o.detach = true,
            "--no-chdir" => o.no_chdir = true,
            "--overwrite-pidfile" | "--monitor" => {}
            "--log-file" => {
                o.log_file = Some(abs_in(&logdir(), value.unwrap_or("ovs-vswitchd.log")))
            }
            "--verbose" => o.verbose.push(value.unwrap_or("").to_string()),
            "--unixctl" => match value {
                Some(v) => o.unixctl = Some(abs_in(&rundir(), v)),
                None => return Err("option '--unixctl' requires an argument".into()),
            },
            "--disable-system" => o.disable_system = true,
            "--mlockall" => o.mlockall = true,
            "--version" | "-V" => o.version = true,
            "--help" | "-h" => o.help = true,
            _ if name.starts_with("-v") => o.verbose.push(name[2..].to_string()),
            _ if name.starts_with('-') => return Err(format!("unrecognized option '{a}'")),
            _ => {
                if database.is_some() {
                    return Err(
                        "exactly zero or one non-option argument required; use --help for usage"
                            .into(),
                    );
                }
                database = Some(a.clone());
            }
        }
    }
    o.database = database.unwrap_or_else(|| format!("unix:{}", rundir().join("db.sock").display()));
    Ok(o)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn options() {
        let o = parse(&s(&[
            "unix:/tmp/x.sock",
            "--pidfile=/tmp/p.pid",
            "--detach",
            "-vconsole:off",
            "--log-file=/tmp/l.log",
            "--unixctl=/tmp/c.ctl",
        ]))
        .unwrap();
        assert_eq!(o.database, "unix:/tmp/x.sock");
        assert_eq!(o.pidfile.as_deref(), Some(Path::new("/tmp/p.pid")));
        assert!(o.detach);
        assert_eq!(o.verbose, vec!["console:off"]);
        assert!(parse(&s(&["--bogus"])).is_err());
        assert!(parse(&s(&["a", "b"])).is_err());
    }
}
