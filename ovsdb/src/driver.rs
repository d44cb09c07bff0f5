//! Thin blocking drivers over `UnixStream` / `TcpStream`: [`Client`] for
//! one-shot requests, [`IdlDriver`] running an [`Idl`] with reconnection.
//! Reads use socket timeouts; nothing here spawns threads.

use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::error::Error;
use crate::idl::{Idl, IdlConfig, IdlEvent};
use crate::jsonrpc::{Incoming, Session};
use crate::schema::DatabaseSchema;
use crate::transact::{parse_transact_result, OpResult, Transaction};

/// How long one write may block before the connection is declared dead.
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);

/// A connected byte stream to an OVSDB server.
#[derive(Debug)]
pub enum Conn {
    /// `unix:PATH`.
    Unix(UnixStream),
    /// `tcp:HOST:PORT`.
    Tcp(TcpStream),
}

impl Conn {
    /// Connects to an OVS-style remote: `unix:PATH` or `tcp:HOST:PORT`
    /// (`ovsdb-server(1)` active remotes; a bare path is taken as `unix:`).
    ///
    /// # Errors
    /// [`Error::Io`] when the connection fails, [`Error::Protocol`] for an
    /// unsupported remote syntax.
    pub fn connect(remote: &str) -> Result<Conn, Error> {
        let c = if let Some(addr) = remote.strip_prefix("tcp:") {
            let s = TcpStream::connect(addr)?;
            s.set_nodelay(true)?;
            Conn::Tcp(s)
        } else if let Some(path) = remote.strip_prefix("unix:") {
            Conn::Unix(UnixStream::connect(path)?)
        } else if remote.starts_with('/') || remote.starts_with('.') {
            Conn::Unix(UnixStream::connect(remote)?)
        } else {
            return Err(Error::protocol(format!("unsupported remote {remote:?}")));
        };
        match &c {
            Conn::Unix(s) => s.set_write_timeout(Some(WRITE_TIMEOUT))?,
            Conn::Tcp(s) => s.set_write_timeout(Some(WRITE_TIMEOUT))?,
        }
        Ok(c)
    }

    /// Writes all of `bytes`.
    ///
    /// # Errors
    /// [`Error::Io`].
    pub fn send(&mut self, bytes: &[u8]) -> Result<(), Error> {
        if bytes.is_empty() {
            return Ok(());
        }
        match self {
            Conn::Unix(s) => s.write_all(bytes)?,
            Conn::Tcp(s) => s.write_all(bytes)?,
        }
        Ok(())
    }

    /// Reads what arrives within `timeout` into `buf`: `Ok(None)` on timeout,
    /// `Ok(Some(n))` with n > 0 on data.
    ///
    /// # Errors
    /// [`Error::Disconnected`] on EOF, [`Error::Io`] on failure.
    pub fn recv(&mut self, buf: &mut [u8], timeout: Duration) -> Result<Option<usize>, Error> {
        let timeout = timeout.max(Duration::from_millis(1));
        let r = match self {
            Conn::Unix(s) => s.set_read_timeout(Some(timeout)).and_then(|_| s.read(buf)),
            Conn::Tcp(s) => s.set_read_timeout(Some(timeout)).and_then(|_| s.read(buf)),
        };
        match r {
            Ok(0) => Err(Error::Disconnected("server closed the connection".into())),
            Ok(n) => Ok(Some(n)),
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock
                        | io::ErrorKind::TimedOut
                        | io::ErrorKind::Interrupted
                ) =>
            {
                Ok(None)
            }
            Err(e) => Err(Error::Io(e)),
        }
    }
}

/// A simple blocking JSON-RPC client (no replica, no reconnection): each
/// call sends a request and waits for its response; notifications received
/// meanwhile are queued (see [`Client::take_notifications`]).
#[derive(Debug)]
pub struct Client {
    conn: Conn,
    session: Session,
    responses: Vec<(u64, Result<Value, Value>)>,
    notifications: VecDeque<(String, Value)>,
}

impl Client {
    /// Connects to `remote` (`unix:PATH` or `tcp:HOST:PORT`). `echo`
    /// requests from the server are answered while waiting; no probe is sent.
    ///
    /// # Errors
    /// See [`Conn::connect`].
    pub fn connect(remote: &str) -> Result<Client, Error> {
        Ok(Client {
            conn: Conn::connect(remote)?,
            session: Session::new(Instant::now(), None),
            responses: Vec::new(),
            notifications: VecDeque::new(),
        })
    }

    fn pump(&mut self, wait: Duration) -> Result<(), Error> {
        let out = self.session.take_transmit();
        self.conn.send(&out)?;
        let mut buf = [0u8; 65536];
        if let Some(n) = self.conn.recv(&mut buf, wait)? {
            self.session.receive(&buf[..n], Instant::now())?;
        }
        while let Some(m) = self.session.poll() {
            match m {
                Incoming::Response { id, result, .. } => self.responses.push((id, result)),
                Incoming::Notification { method, params } => {
                    self.notifications.push_back((method, params))
                }
                Incoming::Request { id, .. } => {
                    self.session.respond(id, Err(json!("unknown method")))
                }
            }
        }
        let out = self.session.take_transmit();
        self.conn.send(&out)
    }

    /// Sends `method(params)` and waits up to `timeout` for the result.
    ///
    /// # Errors
    /// [`Error::Server`] for an error response, [`Error::Timeout`],
    /// I/O and protocol errors.
    pub fn call(&mut self, method: &str, params: Value, timeout: Duration) -> Result<Value, Error> {
        let id = self.session.request(method, params);
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(i) = self.responses.iter().position(|(r, _)| *r == id) {
                return self
                    .responses
                    .swap_remove(i)
                    .1
                    .map_err(|e| Error::from_server(&e));
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(Error::Timeout);
            }
            self.pump(deadline - now)?;
        }
    }

    /// Waits up to `timeout` for a notification (returns one queued earlier
    /// at once).
    ///
    /// # Errors
    /// [`Error::Timeout`], I/O and protocol errors.
    pub fn wait_notification(&mut self, timeout: Duration) -> Result<(String, Value), Error> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(n) = self.notifications.pop_front() {
                return Ok(n);
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(Error::Timeout);
            }
            self.pump(deadline - now)?;
        }
    }

    /// Notifications received so far.
    pub fn take_notifications(&mut self) -> Vec<(String, Value)> {
        self.notifications.drain(..).collect()
    }

    /// `list_dbs` (RFC 7047 section 4.1.1): the database names.
    ///
    /// # Errors
    /// See [`Client::call`].
    pub fn list_dbs(&mut self, timeout: Duration) -> Result<Vec<String>, Error> {
        let v = self.call("list_dbs", json!([]), timeout)?;
        v.as_array()
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_string)
                    .collect()
            })
            .ok_or_else(|| Error::protocol(format!("bad list_dbs result {v}")))
    }

    /// `get_schema` (section 4.1.2), parsed.
    ///
    /// # Errors
    /// See [`Client::call`].
    pub fn get_schema(&mut self, db: &str, timeout: Duration) -> Result<DatabaseSchema, Error> {
        DatabaseSchema::parse(&self.call("get_schema", json!([db]), timeout)?)
    }

    /// `transact` (section 4.1.3).
    ///
    /// # Errors
    /// [`Error::Server`] with the first failing operation's `error` and
    /// `details`; see [`Client::call`].
    pub fn transact(
        &mut self,
        txn: &Transaction,
        timeout: Duration,
    ) -> Result<Vec<OpResult>, Error> {
        let v = self.call("transact", txn.to_params(), timeout)?;
        parse_transact_result(&v, txn.ops.len())
    }

    /// `lock` (section 4.1.8): whether the lock was granted at once.
    ///
    /// # Errors
    /// See [`Client::call`].
    pub fn lock(&mut self, name: &str, timeout: Duration) -> Result<bool, Error> {
        let v = self.call("lock", json!([name]), timeout)?;
        Ok(v.get("locked").and_then(Value::as_bool).unwrap_or(false))
    }

    /// `steal` (section 4.1.8): whether we own the lock now (always true).
    ///
    /// # Errors
    /// See [`Client::call`].
    pub fn steal(&mut self, name: &str, timeout: Duration) -> Result<bool, Error> {
        let v = self.call("steal", json!([name]), timeout)?;
        Ok(v.get("locked").and_then(Value::as_bool).unwrap_or(false))
    }

    /// `unlock` (section 4.1.8).
    ///
    /// # Errors
    /// See [`Client::call`].
    pub fn unlock(&mut self, name: &str, timeout: Duration) -> Result<(), Error> {
        self.call("unlock", json!([name]), timeout).map(drop)
    }
}

/// Exponential reconnect backoff: `min`, doubling after every failure up to
/// `max`; reset to `min` once a connection is synced.
#[derive(Debug, Clone)]
pub struct Backoff {
    min: Duration,
    max: Duration,
    next: Duration,
}

impl Backoff {
    /// A backoff from `min` doubling to `max`.
    pub fn new(min: Duration, max: Duration) -> Backoff {
        Backoff {
            min,
            max,
            next: min,
        }
    }

    /// The delay before the next attempt; doubles the one after.
    pub fn next_delay(&mut self) -> Duration {
        let d = self.next;
        self.next = (self.next * 2).min(self.max);
        d
    }

    /// Back to `min`.
    pub fn reset(&mut self) {
        self.next = self.min;
    }
}

/// Runs an [`Idl`] over a socket, reconnecting with [`Backoff`]. Meant to be
/// owned by one control thread, which calls [`IdlDriver::run`] in its loop
/// and reads the replica between calls.
#[derive(Debug)]
pub struct IdlDriver {
    remote: String,
    idl: Idl,
    conn: Option<Conn>,
    backoff: Backoff,
    next_attempt: Instant,
    events: VecDeque<IdlEvent>,
    last_error: Option<Error>,
    connects: u64,
}

impl IdlDriver {
    /// A driver for `remote` (`unix:PATH` or `tcp:HOST:PORT`); the first
    /// connection attempt happens in the first [`IdlDriver::run`].
    pub fn new(remote: &str, config: IdlConfig) -> IdlDriver {
        let backoff = Backoff::new(config.backoff_min, config.backoff_max);
        IdlDriver {
            remote: remote.to_string(),
            idl: Idl::new(config),
            conn: None,
            backoff,
            next_attempt: Instant::now(),
            events: VecDeque::new(),
            last_error: None,
            connects: 0,
        }
    }

    /// The IDL (replica, schema, seqno).
    pub fn idl(&self) -> &Idl {
        &self.idl
    }

    /// Whether a connection is up.
    pub fn is_connected(&self) -> bool {
        self.conn.is_some()
    }

    /// How many connections have been established so far.
    pub fn connect_count(&self) -> u64 {
        self.connects
    }

    /// The error that ended the last connection or connection attempt.
    pub fn last_error(&self) -> Option<&Error> {
        self.last_error.as_ref()
    }

    /// The next event (replica changes, replies, lock notifications).
    pub fn poll_event(&mut self) -> Option<IdlEvent> {
        self.events.pop_front()
    }

    fn drop_conn(&mut self, e: Error) {
        self.conn = None;
        self.idl.disconnected();
        self.last_error = Some(e);
        self.next_attempt = Instant::now() + self.backoff.next_delay();
        self.collect();
    }

    fn collect(&mut self) {
        while let Some(e) = self.idl.poll_event() {
            if matches!(e, IdlEvent::Synced { .. }) {
                self.backoff.reset();
            }
            self.events.push_back(e);
        }
    }

    fn flush(&mut self) -> Result<(), Error> {
        let out = self.idl.take_transmit();
        match self.conn.as_mut() {
            Some(c) => c.send(&out),
            None => Ok(()),
        }
    }

    /// Does I/O for at most `max_wait`: connects when due, sends what is
    /// queued, reads what arrives (returning early once something did), runs
    /// the probe. Errors end the connection and schedule a reconnect; they
    /// are kept in [`IdlDriver::last_error`], not returned.
    pub fn run(&mut self, max_wait: Duration) {
        let now = Instant::now();
        let deadline = now + max_wait;
        if self.conn.is_none() {
            if now < self.next_attempt {
                std::thread::sleep(self.next_attempt.min(deadline) - now);
                if Instant::now() < self.next_attempt {
                    return;
                }
            }
            match Conn::connect(&self.remote) {
                Ok(c) => {
                    self.conn = Some(c);
                    self.connects += 1;
                    self.idl.connected(Instant::now());
                }
                Err(e) => {
                    self.last_error = Some(e);
                    self.next_attempt = Instant::now() + self.backoff.next_delay();
                    return;
                }
            }
        }
        if let Err(e) = self.flush() {
            return self.drop_conn(e);
        }
        let now = Instant::now();
        let mut until = deadline.max(now);
        if let Some(t) = self.idl.poll_timeout() {
            until = until.min(t.max(now));
        }
        let mut buf = vec![0u8; 65536];
        let r = match self.conn.as_mut() {
            Some(c) => c.recv(&mut buf, until - now),
            None => return,
        };
        let now = Instant::now();
        let r = match r {
            Ok(Some(n)) => self.idl.receive(&buf[..n], now),
            Ok(None) => Ok(()),
            Err(e) => Err(e),
        }
        .and_then(|_| self.idl.handle_timeout(now))
        .and_then(|_| self.flush());
        match r {
            Ok(()) => self.collect(),
            Err(e) => self.drop_conn(e),
        }
    }

    /// Runs until `pred(idl)` holds or `timeout` passes.
    ///
    /// # Errors
    /// [`Error::Timeout`], with the last connection error in its place when
    /// there is one.
    pub fn wait_until(
        &mut self,
        timeout: Duration,
        mut pred: impl FnMut(&Idl) -> bool,
    ) -> Result<(), Error> {
        let deadline = Instant::now() + timeout;
        loop {
            if pred(&self.idl) {
                return Ok(());
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(Error::Timeout);
            }
            self.run((deadline - now).min(Duration::from_millis(100)));
        }
    }

    fn wait_event(
        &mut self,
        timeout: Duration,
        mut take: impl FnMut(&IdlEvent) -> bool,
    ) -> Result<IdlEvent, Error> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(i) = self.events.iter().position(&mut take) {
                if let Some(e) = self.events.remove(i) {
                    return Ok(e);
                }
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(Error::Timeout);
            }
            self.run((deadline - now).min(Duration::from_millis(100)));
        }
    }

    /// Sends `txn` (connecting first if needed, within `timeout`) and waits
    /// for its result. Other events stay queued.
    ///
    /// # Errors
    /// [`Error::Server`] for a failed operation or commit, [`Error::Disconnected`]
    /// when the connection dropped before the reply, [`Error::Timeout`].
    pub fn transact(
        &mut self,
        txn: &Transaction,
        timeout: Duration,
    ) -> Result<Vec<OpResult>, Error> {
        let deadline = Instant::now() + timeout;
        self.wait_until(timeout, Idl::is_connected)?;
        let id = self.idl.transact(txn)?;
        let left = deadline.saturating_duration_since(Instant::now());
        match self.wait_event(
            left,
            |e| matches!(e, IdlEvent::Transact { id: i, .. } if *i == id),
        )? {
            IdlEvent::Transact { result, .. } => result,
            _ => Err(Error::protocol("unexpected event")),
        }
    }

    /// Sends `method(params)` and waits for the reply (e.g. `list_dbs`).
    ///
    /// # Errors
    /// [`Error::Server`], [`Error::Disconnected`], [`Error::Timeout`].
    pub fn call(&mut self, method: &str, params: Value, timeout: Duration) -> Result<Value, Error> {
        let deadline = Instant::now() + timeout;
        self.wait_until(timeout, Idl::is_connected)?;
        let id = match (
            method,
            params.get(0).and_then(Value::as_str).map(str::to_string),
        ) {
            ("lock", Some(n)) => self.idl.lock(&n)?,
            ("steal", Some(n)) => self.idl.steal(&n)?,
            _ => self.idl.request(method, params)?,
        };
        let left = deadline.saturating_duration_since(Instant::now());
        match self.wait_event(
            left,
            |e| matches!(e, IdlEvent::Reply { id: i, .. } if *i == id),
        )? {
            IdlEvent::Reply { result, .. } => result,
            _ => Err(Error::protocol("unexpected event")),
        }
    }
}
