//! JSON-RPC 1.0 over a byte stream, as RFC 7047 section 3.1 uses it:
//! framing, request ids, `echo` and the inactivity probe. Sans-IO: bytes in,
//! messages out; bytes to send are collected in an outbox.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::error::Error;

/// One JSON-RPC 1.0 message (RFC 7047 section 3.1 / JSON-RPC 1.0 section 2).
#[derive(Debug, Clone, PartialEq)]
pub enum Message {
    /// `{"method", "params", "id"}` with a non-null id.
    Request {
        /// Method name.
        method: String,
        /// Parameters (a JSON array for every RFC 7047 method).
        params: Value,
        /// Request id, echoed in the response.
        id: Value,
    },
    /// `{"method", "params", "id": null}`.
    Notification {
        /// Method name.
        method: String,
        /// Parameters.
        params: Value,
    },
    /// `{"result", "error", "id"}`: exactly one of `result` and `error` is
    /// non-null.
    Response {
        /// `Ok(result)` or `Err(error)`.
        result: Result<Value, Value>,
        /// The request's id.
        id: Value,
    },
}

impl Message {
    /// Encodes the message as one JSON object.
    pub fn to_json(&self) -> Value {
        match self {
            Message::Request { method, params, id } => {
                json!({"method": method, "params": params, "id": id})
            }
            Message::Notification { method, params } => {
                json!({"method": method, "params": params, "id": null})
            }
            Message::Response { result: Ok(r), id } => {
                json!({"result": r, "error": null, "id": id})
            }
            Message::Response { result: Err(e), id } => {
                json!({"result": null, "error": e, "id": id})
            }
        }
    }

    /// Decodes one JSON object.
    ///
    /// # Errors
    /// [`Error::Protocol`] when `v` is no JSON-RPC 1.0 message.
    pub fn from_json(v: Value) -> Result<Message, Error> {
        let Value::Object(mut o) = v else {
            return Err(Error::protocol(format!(
                "JSON-RPC message is not an object: {v}"
            )));
        };
        let id = o.remove("id").unwrap_or(Value::Null);
        if let Some(m) = o.remove("method") {
            let Value::String(method) = m else {
                return Err(Error::protocol("method is not a string"));
            };
            let params = o.remove("params").unwrap_or(Value::Array(vec![]));
            return Ok(if id.is_null() {
                Message::Notification { method, params }
            } else {
                Message::Request { method, params, id }
            });
        }
        if !o.contains_key("result") && !o.contains_key("error") {
            return Err(Error::protocol("message is neither request nor response"));
        }
        let error = o.remove("error").unwrap_or(Value::Null);
        let result = o.remove("result").unwrap_or(Value::Null);
        Ok(Message::Response {
            result: if error.is_null() {
                Ok(result)
            } else {
                Err(error)
            },
            id,
        })
    }
}

/// Splits a byte stream of concatenated JSON values (no delimiter) into
/// values. A value cut short waits for more bytes.
#[derive(Debug, Default)]
pub struct Framer {
    buf: Vec<u8>,
}

/// Largest JSON value accepted (bytes); a larger one is a protocol error
/// rather than unbounded buffering.
pub const MAX_MESSAGE: usize = 64 << 20;

impl Framer {
    /// An empty framer.
    pub fn new() -> Framer {
        Framer::default()
    }

    /// Appends received bytes and returns every complete JSON value.
    ///
    /// # Errors
    /// [`Error::Protocol`] on invalid JSON (the stream cannot be resynchronised;
    /// the connection should be dropped) or a value over [`MAX_MESSAGE`].
    pub fn push(&mut self, bytes: &[u8]) -> Result<Vec<Value>, Error> {
        self.buf.extend_from_slice(bytes);
        let mut out = Vec::new();
        let mut consumed = 0;
        {
            let mut it = serde_json::Deserializer::from_slice(&self.buf).into_iter::<Value>();
            loop {
                match it.next() {
                    Some(Ok(v)) => {
                        consumed = it.byte_offset();
                        out.push(v);
                    }
                    Some(Err(e)) if e.is_eof() => break,
                    Some(Err(e)) => return Err(Error::protocol(format!("invalid JSON: {e}"))),
                    None => {
                        consumed = self.buf.len();
                        break;
                    }
                }
            }
        }
        self.buf.drain(..consumed);
        if self.buf.len() > MAX_MESSAGE {
            return Err(Error::protocol("JSON message too large"));
        }
        Ok(out)
    }

    /// Bytes held for an incomplete value.
    pub fn pending(&self) -> usize {
        self.buf.len()
    }
}

/// What [`Session::receive`] hands up: everything but responses to `echo`,
/// and incoming `echo` requests, which the session answers itself.
#[derive(Debug, Clone, PartialEq)]
pub enum Incoming {
    /// The response to our request `id` (as returned by [`Session::request`]).
    Response {
        /// Our request id.
        id: u64,
        /// The method of the request.
        method: String,
        /// `Ok(result)` or the server's error.
        result: Result<Value, Value>,
    },
    /// A notification (`update2`, `locked`, ...).
    Notification {
        /// Method name.
        method: String,
        /// Parameters.
        params: Value,
    },
    /// A request other than `echo` (unexpected from ovsdb-server; reply with
    /// [`Session::respond`]).
    Request {
        /// Method name.
        method: String,
        /// Parameters.
        params: Value,
        /// The peer's id.
        id: Value,
    },
}

/// A JSON-RPC client session over one connection (sans-IO).
///
/// Inactivity probe (like OVS's `reconnect`): when nothing has been received
/// for `probe_interval`, an `echo` request is sent; if still nothing arrives
/// within another interval, [`Session::handle_timeout`] fails with
/// [`Error::Disconnected`].
#[derive(Debug)]
pub struct Session {
    framer: Framer,
    next_id: u64,
    pending: HashMap<u64, String>,
    outbox: Vec<u8>,
    incoming: VecDeque<Incoming>,
    probe_interval: Option<Duration>,
    last_rx: Instant,
    probe_sent: bool,
}

impl Session {
    /// A new session on a fresh connection; `probe_interval` `None` disables
    /// the probe.
    pub fn new(now: Instant, probe_interval: Option<Duration>) -> Session {
        Session {
            framer: Framer::new(),
            next_id: 1,
            pending: HashMap::new(),
            outbox: Vec::new(),
            incoming: VecDeque::new(),
            probe_interval,
            last_rx: now,
            probe_sent: false,
        }
    }

    fn send(&mut self, m: &Message) {
        // Serialising a Value cannot fail.
        self.outbox.extend_from_slice(
            serde_json::to_string(&m.to_json())
                .unwrap_or_default()
                .as_bytes(),
        );
    }

    /// Queues a request and returns its id (ids are integers from 1).
    pub fn request(&mut self, method: &str, params: Value) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        self.pending.insert(id, method.to_string());
        self.send(&Message::Request {
            method: method.to_string(),
            params,
            id: json!(id),
        });
        id
    }

    /// Queues a notification.
    pub fn notify(&mut self, method: &str, params: Value) {
        self.send(&Message::Notification {
            method: method.to_string(),
            params,
        });
    }

    /// Queues a response to a peer's request.
    pub fn respond(&mut self, id: Value, result: Result<Value, Value>) {
        self.send(&Message::Response { result, id });
    }

    /// Number of requests still waiting for a response.
    pub fn pending_requests(&self) -> usize {
        self.pending.len()
    }

    /// Feeds received bytes; decoded messages become available from
    /// [`Session::poll`]. `echo` requests are answered at once.
    ///
    /// # Errors
    /// [`Error::Protocol`] on bad JSON or a message that is not JSON-RPC; the
    /// connection should then be dropped.
    pub fn receive(&mut self, bytes: &[u8], now: Instant) -> Result<(), Error> {
        if !bytes.is_empty() {
            self.last_rx = now;
            self.probe_sent = false;
        }
        for v in self.framer.push(bytes)? {
            match Message::from_json(v)? {
                Message::Request { method, params, id } if method == "echo" => {
                    self.respond(id, Ok(params));
                }
                Message::Request { method, params, id } => self
                    .incoming
                    .push_back(Incoming::Request { method, params, id }),
                Message::Notification { method, params } => self
                    .incoming
                    .push_back(Incoming::Notification { method, params }),
                Message::Response { result, id } => {
                    let Some(n) = id.as_u64() else {
                        // Not one of ours (e.g. a probe echo answered by id "echo").
                        continue;
                    };
                    let Some(method) = self.pending.remove(&n) else {
                        continue;
                    };
                    if method == "echo" {
                        continue;
                    }
                    self.incoming.push_back(Incoming::Response {
                        id: n,
                        method,
                        result,
                    });
                }
            }
        }
        Ok(())
    }

    /// The next decoded message.
    pub fn poll(&mut self) -> Option<Incoming> {
        self.incoming.pop_front()
    }

    /// Takes the bytes queued for sending.
    pub fn take_transmit(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.outbox)
    }

    /// Whether bytes wait to be sent.
    pub fn wants_transmit(&self) -> bool {
        !self.outbox.is_empty()
    }

    /// When [`Session::handle_timeout`] next needs calling (`None`: never).
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.probe_interval.map(|i| self.last_rx + i)
    }

    /// Runs the inactivity probe.
    ///
    /// # Errors
    /// [`Error::Disconnected`] when a probe `echo` went unanswered for a whole
    /// interval.
    pub fn handle_timeout(&mut self, now: Instant) -> Result<(), Error> {
        let Some(interval) = self.probe_interval else {
            return Ok(());
        };
        if now < self.last_rx + interval {
            return Ok(());
        }
        if self.probe_sent {
            return Err(Error::Disconnected(format!(
                "no response to inactivity probe after {} ms",
                interval.as_millis() * 2
            )));
        }
        self.request("echo", json!([]));
        self.probe_sent = true;
        self.last_rx = now;
        Ok(())
    }
}
