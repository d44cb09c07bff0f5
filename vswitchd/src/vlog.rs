//! Logging in Open vSwitch's format (`lib/vlog.c`, `ovs-vswitchd(8)`
//! "LOGGING OPTIONS", `ovs-appctl(8)` "LOGGING COMMANDS").
//!
//! Every message belongs to a module ([`MODULES`]) and has a level
//! ([`Level`]). Each module has a threshold per destination (console =
//! stderr, syslog, file); a message is written to a destination when its
//! level is at or above that threshold. Lines look like OVS's default
//! patterns:
//!
//! * file: `2026-11-21T10:00:00.123Z|00012|bridge|INFO|message`
//! * console: `2026-11-21T10:00:00Z|00012|bridge|INFO|message`
//!
//! The sequence number counts every message logged by the process. Syslog
//! is accepted as a destination in settings (so `vlog/set` and `-v` specs
//! written for OVS work) but nothing is sent to it.

use parking_lot::Mutex;
use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

/// Log modules, as named in `vlog/list` (OVS module names where OVS has the
/// same function).
pub const MODULES: &[&str] = &[
    "bridge",
    "connmgr",
    "coverage",
    "daemon_unix",
    "dpdk",
    "dpif",
    "dpif_netdev",
    "fail_open",
    "memory",
    "netdev",
    "netdev_afxdp",
    "netdev_linux",
    "ofproto_dpif",
    "ofproto_dpif_upcall",
    "ovsdb_idl",
    "rconn",
    "reconnect",
    "timeval",
    "unixctl",
    "vconn",
    "vlog",
    "vswitchd",
];

/// Log level, most severe first (OVS `enum vlog_level`). `Off` disables a
/// destination.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
pub enum Level {
    /// `off`: nothing is logged.
    Off,
    /// `emer`: the process is about to exit.
    Emer,
    /// `err`: an error.
    Err,
    /// `warn`: a problem that does not stop the switch.
    Warn,
    /// `info`: normal operation (default threshold).
    Info,
    /// `dbg`: debugging.
    Dbg,
}

impl Level {
    /// The lower-case name used in settings and `vlog/list`.
    pub fn name(self) -> &'static str {
        match self {
            Level::Off => "off",
            Level::Emer => "emer",
            Level::Err => "err",
            Level::Warn => "warn",
            Level::Info => "info",
            Level::Dbg => "dbg",
        }
    }

    /// The upper-case name printed in log lines (`%p`).
    pub fn upper(self) -> &'static str {
        match self {
            Level::Off => "OFF",
            Level::Emer => "EMER",
            Level::Err => "ERR",
            Level::Warn => "WARN",
            Level::Info => "INFO",
            Level::Dbg => "DBG",
        }
    }

    /// Parses a level name (case-insensitive).
    pub fn parse(s: &str) -> Option<Level> {
        [
            Level::Off,
            Level::Emer,
            Level::Err,
            Level::Warn,
            Level::Info,
            Level::Dbg,
        ]
        .into_iter()
        .find(|l| l.name().eq_ignore_ascii_case(s))
    }
}

/// Log destinations (OVS `enum vlog_destination`).
const DESTS: [&str; 3] = ["console", "syslog", "file"];

struct State {
    levels: BTreeMap<&'static str, [Level; 3]>,
    seq: u64,
    file: Option<(PathBuf, File)>,
}

fn state() -> &'static Mutex<State> {
    static S: OnceLock<Mutex<State>> = OnceLock::new();
    S.get_or_init(|| {
        Mutex::new(State {
            levels: MODULES.iter().map(|m| (*m, [Level::Info; 3])).collect(),
            seq: 0,
            file: None,
        })
    })
}

/// Formats a UNIX time in milliseconds as `YYYY-MM-DDTHH:MM:SS[.mmm]Z`.
pub fn format_time(ms: u128, with_ms: bool) -> String {
    let secs = (ms / 1000) as i64;
    let days = secs.div_euclid(86400);
    let sod = secs.rem_euclid(86400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    let mut s = format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}",
        sod / 3600,
        sod / 60 % 60,
        sod % 60
    );
    if with_ms {
        s.push_str(&format!(".{:03}", ms % 1000));
    }
    s.push('Z');
    s
}

/// Logs `msg` from `module` at `level` to every destination whose threshold
/// allows it. Unknown modules are logged as `vswitchd`.
pub fn log(module: &str, level: Level, msg: &str) {
    let mut st = state().lock();
    let key = MODULES
        .iter()
        .copied()
        .find(|m| *m == module)
        .unwrap_or("vswitchd");
    let lv = st.levels[key];
    let to_console = level <= lv[0] && level != Level::Off;
    let to_file = level <= lv[2] && level != Level::Off && st.file.is_some();
    if !to_console && !to_file {
        return;
    }
    st.seq += 1;
    let ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0);
    let seq = st.seq;
    if to_console {
        let _ = writeln!(
            std::io::stderr(),
            "{}|{:05}|{}|{}|{}",
            format_time(ms, false),
            seq,
            key,
            level.upper(),
            msg
        );
    }
    if to_file {
        if let Some((_, f)) = st.file.as_mut() {
            let _ = writeln!(
                f,
                "{}|{:05}|{}|{}|{}",
                format_time(ms, true),
                seq,
                key,
                level.upper(),
                msg
            );
        }
    }
}

/// Logs at `info`.
pub fn info(module: &str, msg: impl AsRef<str>) {
    log(module, Level::Info, msg.as_ref())
}
/// Logs at `warn`.
pub fn warn(module: &str, msg: impl AsRef<str>) {
    log(module, Level::Warn, msg.as_ref())
}
/// Logs at `err`.
pub fn err(module: &str, msg: impl AsRef<str>) {
    log(module, Level::Err, msg.as_ref())
}
/// Logs at `dbg`.
pub fn dbg(module: &str, msg: impl AsRef<str>) {
    log(module, Level::Dbg, msg.as_ref())
}
/// Logs at `emer`.
pub fn emer(module: &str, msg: impl AsRef<str>) {
    log(module, Level::Emer, msg.as_ref())
}

/// Opens (appending, creating) the log file (`--log-file`); logs `opened
/// log file PATH` as OVS does.
///
/// # Errors
/// The `open(2)` error.
pub fn set_log_file(path: PathBuf) -> std::io::Result<()> {
    let f = OpenOptions::new().create(true).append(true).open(&path)?;
    state().lock().file = Some((path.clone(), f));
    info("vlog", format!("opened log file {}", path.display()));
    Ok(())
}

/// `vlog/reopen`: closes and reopens the log file (after rotation).
///
/// # Errors
/// `"Logging to file not configured"` when there is no log file, else the
/// `open(2)` error text.
pub fn reopen() -> Result<(), String> {
    let path = state().lock().file.as_ref().map(|(p, _)| p.clone());
    match path {
        None => Err("Logging to file not configured".into()),
        Some(p) => {
            info("vlog", "closing log file");
            set_log_file(p).map_err(|e| e.to_string())
        }
    }
}

/// Applies one `vlog/set` / `-v` specification (`vlog_set_levels_from_string`):
/// words separated by spaces, commas or colons, each a module, a destination
/// (`console`, `syslog`, `file`), a level or `ANY`; what is not given means
/// all modules, all destinations, level `dbg`. `PATTERN:...` and
/// `FACILITY:...` are accepted and ignored.
///
/// # Errors
/// OVS's messages: `cannot specify multiple destinations` (levels,
/// modules), `no destination, level, or module "WORD"`.
pub fn set_levels_from_string(spec: &str) -> Result<(), String> {
    let words: Vec<&str> = spec
        .split([' ', ',', ':', '\t'])
        .filter(|w| !w.is_empty())
        .collect();
    if let Some(w) = words.first() {
        if w.eq_ignore_ascii_case("PATTERN") || w.eq_ignore_ascii_case("FACILITY") {
            return Ok(());
        }
    }
    let (mut module, mut dest, mut level) = (None, None, None);
    for w in words {
        if w.eq_ignore_ascii_case("ANY") {
            continue;
        } else if let Some(d) = DESTS.iter().position(|d| d.eq_ignore_ascii_case(w)) {
            if dest.is_some() {
                return Err("cannot specify multiple destinations".into());
            }
            dest = Some(d);
        } else if let Some(l) = Level::parse(w) {
            if level.is_some() {
                return Err("cannot specify multiple levels".into());
            }
            level = Some(l);
        } else if let Some(m) = MODULES.iter().find(|m| m.eq_ignore_ascii_case(w)) {
            if module.is_some() {
                return Err("cannot specify multiple modules".into());
            }
            module = Some(*m);
        } else {
            return Err(format!("no destination, level, or module \"{w}\""));
        }
    }
    let level = level.unwrap_or(Level::Dbg);
    let mut st = state().lock();
    for (m, lv) in st.levels.iter_mut() {
        if module.map_or(true, |x| x == *m) {
            for (i, l) in lv.iter_mut().enumerate() {
                if dest.map_or(true, |d| d == i) {
                    *l = level;
                }
            }
        }
    }
    Ok(())
}

/// The text of `vlog/list` (OVS `vlog_get_levels`).
pub fn list() -> String {
    let st = state().lock();
    let mut s = String::from(
        "                 console    syslog    file\n                 -------    ------    ------\n",
    );
    let mut lines: Vec<String> = st
        .levels
        .iter()
        .map(|(m, l)| {
            format!(
                "{:<16}  {:>4}       {:>4}       {:>4}\n",
                m,
                l[0].name(),
                l[1].name(),
                l[2].name()
            )
        })
        .collect();
    lines.sort();
    lines.iter().for_each(|l| s.push_str(l));
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_format() {
        // 2026-11-21T10:00:00.123Z
        let ms = 1_795_255_200_123u128;
        assert_eq!(format_time(ms, true), "2026-11-21T10:00:00.123Z");
        assert_eq!(format_time(0, false), "1970-01-01T00:00:00Z");
    }

    #[test]
    fn specs() {
        set_levels_from_string("bridge:file:dbg").unwrap();
        assert!(list().contains("bridge            info       info        dbg\n"));
        assert_eq!(
            set_levels_from_string("nosuch").unwrap_err(),
            "no destination, level, or module \"nosuch\""
        );
        assert!(set_levels_from_string("info:warn").is_err());
    }
}
