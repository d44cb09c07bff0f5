//! The crate's error type.

use std::io;

/// Everything that can go wrong talking to an OVSDB server.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The socket failed (connect, read or write).
    #[error("ovsdb I/O error: {0}")]
    Io(#[from] io::Error),
    /// The peer sent something that is not valid JSON-RPC 1.0 / RFC 7047.
    #[error("ovsdb protocol error: {0}")]
    Protocol(String),
    /// The server answered a request with a JSON-RPC error (RFC 7047 section
    /// 3.1 `error`, or section 4.1.3 per-operation `error`/`details`).
    #[error("ovsdb server error: {error}{}", details.as_deref().map(|d| format!(" ({d})")).unwrap_or_default())]
    Server {
        /// The `error` string, e.g. `"constraint violation"` or `"unknown method"`.
        error: String,
        /// The optional `details` string.
        details: Option<String>,
    },
    /// The server's schema lacks a database, table or column the client needs.
    #[error("ovsdb schema mismatch: {0}")]
    SchemaMismatch(String),
    /// The connection was closed (EOF) or the inactivity probe got no answer.
    #[error("ovsdb connection closed: {0}")]
    Disconnected(String),
    /// A blocking call did not complete in time.
    #[error("ovsdb operation timed out")]
    Timeout,
}

impl Error {
    pub(crate) fn protocol(msg: impl Into<String>) -> Error {
        Error::Protocol(msg.into())
    }

    /// Builds a [`Error::Server`] from a JSON-RPC `error` member (a string or
    /// an object with `error` and `details`).
    pub(crate) fn from_server(v: &serde_json::Value) -> Error {
        match v {
            serde_json::Value::String(s) => Error::Server {
                error: s.clone(),
                details: None,
            },
            serde_json::Value::Object(o) => Error::Server {
                error: o
                    .get("error")
                    .and_then(|e| e.as_str())
                    .unwrap_or("unknown error")
                    .to_string(),
                details: o
                    .get("details")
                    .and_then(|d| d.as_str())
                    .map(str::to_string),
            },
            other => Error::Server {
                error: other.to_string(),
                details: None,
            },
        }
    }

    /// Whether this is the server's answer to a method it does not know.
    pub fn is_unknown_method(&self) -> bool {
        matches!(self, Error::Server { error, .. } if error == "unknown method")
    }
}

/// `Result` with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
