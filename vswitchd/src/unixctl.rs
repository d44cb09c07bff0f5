//! The control socket `ovs-appctl` talks to (OVS `lib/unixctl.c`).
//!
//! A UNIX stream socket at `$OVS_RUNDIR/ovs-vswitchd.PID.ctl` (or
//! `--unixctl=PATH`) carrying JSON-RPC 1.0: each request is
//! `{"id":ID,"method":"COMMAND","params":["ARG",...]}` and is answered with
//! `{"id":ID,"result":"TEXT","error":null}` on success or
//! `{"id":ID,"result":null,"error":"TEXT"}` on failure, exactly as
//! `unixctl_command_reply()` / `unixctl_command_reply_error()` send them.
//! Argument-count and unknown-command errors use OVS's wording.

use parking_lot::RwLock;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::io::{BufReader, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::vlog;

/// A command handler: the arguments (without the command name) to the reply
/// text, or an error text.
pub type Handler = Arc<dyn Fn(&[String]) -> Result<String, String> + Send + Sync>;

struct Command {
    usage: String,
    min: usize,
    max: usize,
    handler: Handler,
}

/// The command table, shared by the server threads.
#[derive(Clone, Default)]
pub struct Commands {
    table: Arc<RwLock<BTreeMap<String, Command>>>,
}

impl Commands {
    /// An empty table with `list-commands` registered.
    pub fn new() -> Commands {
        let c = Commands::default();
        let t = c.table.clone();
        c.register("list-commands", "", 0, 0, move |_| {
            let mut s = String::from("The available commands are:\n");
            for (name, cmd) in t.read().iter() {
                s.push_str(&format!("  {:<23} {}\n", name, cmd.usage).replace(" \n", "\n"));
            }
            Ok(s)
        });
        c
    }

    /// Registers `name` taking `min..=max` arguments (OVS
    /// `unixctl_command_register`); `usage` is shown by `list-commands`.
    pub fn register(
        &self,
        name: &str,
        usage: &str,
        min: usize,
        max: usize,
        f: impl Fn(&[String]) -> Result<String, String> + Send + Sync + 'static,
    ) {
        self.table.write().insert(
            name.to_string(),
            Command {
                usage: usage.to_string(),
                min,
                max,
                handler: Arc::new(f),
            },
        );
    }

    /// Runs one request: `Ok(reply)` or `Err(error text)`.
    pub fn execute(&self, method: &str, params: &Value) -> Result<String, String> {
        let Some(arr) = params.as_array() else {
            return Err("\"params\" is not an array".into());
        };
        let (handler, min, max) = {
            let t = self.table.read();
            match t.get(method) {
                None => {
                    return Err(format!(
                        "\"{method}\" is not a valid command (use \"list-commands\" to see a list of valid commands)"
                    ))
                }
                Some(c) => (c.handler.clone(), c.min, c.max),
            }
        };
        if arr.len() < min {
            return Err(format!(
                "\"{method}\" command requires at least {min} arguments"
            ));
        }
        if arr.len() > max {
            return Err(format!(
                "\"{method}\" command takes at most {max} arguments"
            ));
        }
        let mut args = Vec::with_capacity(arr.len());
        for a in arr {
            match a.as_str() {
                Some(s) => args.push(s.to_string()),
                None => return Err(format!("\"{method}\" command has non-string argument: {a}")),
            }
        }
        handler(&args)
    }
}

/// A listening control socket; the socket file is removed on drop.
pub struct Server {
    path: PathBuf,
}

impl Server {
    /// Binds `path` (removing a stale file first) and serves `commands` on a
    /// background thread, one thread per connection.
    ///
    /// # Errors
    /// The `bind(2)` error.
    pub fn start(path: &Path, commands: Commands) -> std::io::Result<Server> {
        let _ = std::fs::remove_file(path);
        let listener = UnixListener::bind(path)?;
        std::thread::Builder::new()
            .name("unixctl".into())
            .spawn(move || {
                for conn in listener.incoming() {
                    match conn {
                        Ok(s) => {
                            let c = commands.clone();
                            let _ = std::thread::Builder::new()
                                .name("unixctl-conn".into())
                                .spawn(move || serve(s, c));
                        }
                        Err(e) => {
                            vlog::warn("unixctl", format!("accept failed: {e}"));
                            std::thread::sleep(std::time::Duration::from_millis(100));
                        }
                    }
                }
            })?;
        Ok(Server {
            path: path.to_path_buf(),
        })
    }

    /// The socket path.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

fn serve(stream: UnixStream, commands: Commands) {
    let Ok(mut out) = stream.try_clone() else {
        return;
    };
    let reader = BufReader::new(stream);
    for msg in serde_json::Deserializer::from_reader(reader).into_iter::<Value>() {
        let Ok(msg) = msg else {
            return;
        };
        let id = msg.get("id").cloned().unwrap_or(Value::Null);
        let Some(method) = msg.get("method").and_then(Value::as_str) else {
            vlog::warn("unixctl", "received JSON-RPC message that is not a request");
            return;
        };
        let params = msg.get("params").cloned().unwrap_or(json!([]));
        vlog::dbg(
            "unixctl",
            format!("received request {method}{params}, id={id}"),
        );
        let reply = match commands.execute(method, &params) {
            Ok(text) => json!({"id": id, "result": text, "error": null}),
            Err(e) => json!({"id": id, "result": null, "error": e}),
        };
        if out.write_all(reply.to_string().as_bytes()).is_err() {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argument_checks() {
        let c = Commands::new();
        c.register("a/b", "X", 1, 1, |a| Ok(a[0].clone()));
        assert_eq!(c.execute("a/b", &json!(["x"])).unwrap(), "x");
        assert_eq!(
            c.execute("a/b", &json!([])).unwrap_err(),
            "\"a/b\" command requires at least 1 arguments"
        );
        assert_eq!(
            c.execute("a/b", &json!(["1", "2"])).unwrap_err(),
            "\"a/b\" command takes at most 1 arguments"
        );
        assert!(c
            .execute("zz", &json!([]))
            .unwrap_err()
            .contains("list-commands"));
        let l = c.execute("list-commands", &json!([])).unwrap();
        assert!(l.starts_with("The available commands are:\n  a/b"));
    }
}
