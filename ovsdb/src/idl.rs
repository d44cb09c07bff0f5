//! The IDL: an in-memory replica of monitored tables, kept up to date by
//! `monitor_cond_since` / `monitor_cond` / `monitor` (ovsdb-server(7); RFC
//! 7047 sections 4.1.5 to 4.1.7). Sans-IO: the driver reports connection
//! changes and received bytes, and sends what [`Idl::take_transmit`] returns.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::time::{Duration, Instant};

use serde_json::{json, Map, Value};

use crate::data::{Datum, Row, Uuid};
use crate::error::Error;
use crate::jsonrpc::{Incoming, Session};
use crate::schema::DatabaseSchema;
use crate::transact::{parse_transact_result, OpResult, Transaction};

/// One row update: table name, row uuid, the update object.
type RowUpdate<'a> = (&'a String, Uuid, &'a Map<String, Value>);

/// The JSON-RPC `<json-value>` that names our monitor.
const MONITOR_ID: &str = "rvs-idl";
/// `last-txn-id` meaning "no transaction seen" (ovsdb-server(7)).
const ZERO_TXN: &str = "00000000-0000-0000-0000-000000000000";

/// Which table (and columns) to replicate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableSelect {
    /// Table name.
    pub table: String,
    /// Columns; `None` replicates all of the schema's columns.
    pub columns: Option<Vec<String>>,
}

impl TableSelect {
    /// All columns of `table`.
    pub fn all(table: &str) -> TableSelect {
        TableSelect {
            table: table.into(),
            columns: None,
        }
    }

    /// Chosen columns of `table`.
    pub fn columns(table: &str, columns: &[&str]) -> TableSelect {
        TableSelect {
            table: table.into(),
            columns: Some(columns.iter().map(|c| c.to_string()).collect()),
        }
    }
}

/// IDL configuration.
#[derive(Debug, Clone)]
pub struct IdlConfig {
    /// Database name, e.g. `"Open_vSwitch"`.
    pub database: String,
    /// Tables to replicate; empty replicates every table of the schema.
    pub tables: Vec<TableSelect>,
    /// Inactivity probe interval (`None` disables it); ovsdb-server's default
    /// is 5 s.
    pub probe_interval: Option<Duration>,
    /// First reconnect delay (used by the driver), doubled after each failed
    /// attempt ...
    pub backoff_min: Duration,
    /// ... up to this.
    pub backoff_max: Duration,
}

impl IdlConfig {
    /// Every table of `database`, probe 5 s, backoff 100 ms doubling to 8 s.
    pub fn new(database: &str) -> IdlConfig {
        IdlConfig {
            database: database.into(),
            tables: Vec::new(),
            probe_interval: Some(Duration::from_secs(5)),
            backoff_min: Duration::from_millis(100),
            backoff_max: Duration::from_secs(8),
        }
    }

    /// The vswitch tables the daemon reads (all columns): `Open_vSwitch`,
    /// `Bridge`, `Port`, `Interface`, `Controller`.
    pub fn vswitch() -> IdlConfig {
        let mut c = IdlConfig::new("Open_vSwitch");
        c.tables = ["Open_vSwitch", "Bridge", "Port", "Interface", "Controller"]
            .iter()
            .map(|t| TableSelect::all(t))
            .collect();
        c
    }
}

/// The replicated data: table name → row uuid → row (monitored columns only,
/// every one present: columns the server omitted hold their default value).
#[derive(Debug, Default, Clone)]
pub struct Replica {
    tables: BTreeMap<String, BTreeMap<Uuid, Row>>,
}

impl Replica {
    /// The rows of `table` (`None` if not replicated).
    pub fn table(&self, table: &str) -> Option<&BTreeMap<Uuid, Row>> {
        self.tables.get(table)
    }

    /// One row.
    pub fn row(&self, table: &str, uuid: &Uuid) -> Option<&Row> {
        self.tables.get(table)?.get(uuid)
    }

    /// One value.
    pub fn get(&self, table: &str, uuid: &Uuid, column: &str) -> Option<&Datum> {
        self.row(table, uuid)?.get(column)
    }

    /// Rows of `table` in uuid order (empty if not replicated).
    pub fn rows<'a>(&'a self, table: &str) -> impl Iterator<Item = (&'a Uuid, &'a Row)> + 'a {
        self.tables.get(table).into_iter().flatten()
    }

    /// Number of rows of `table`.
    pub fn len(&self, table: &str) -> usize {
        self.tables.get(table).map_or(0, BTreeMap::len)
    }

    /// Whether no table has any row.
    pub fn is_empty(&self) -> bool {
        self.tables.values().all(BTreeMap::is_empty)
    }
}

/// The monitor method in use, newest first (ovsdb-server(7)).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MonitorMethod {
    /// `monitor_cond_since` with `update3` notifications.
    CondSince,
    /// `monitor_cond` with `update2` notifications.
    Cond,
    /// RFC 7047 `monitor` with `update` notifications.
    Plain,
}

impl MonitorMethod {
    fn name(self) -> &'static str {
        match self {
            MonitorMethod::CondSince => "monitor_cond_since",
            MonitorMethod::Cond => "monitor_cond",
            MonitorMethod::Plain => "monitor",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Disconnected,
    SchemaRequested(u64),
    MonitorRequested(u64),
    Monitoring,
}

/// What the IDL reports to its user.
#[derive(Debug)]
pub enum IdlEvent {
    /// The monitor's initial contents (or resumed changes) are applied; the
    /// replica is in sync with the server.
    Synced {
        /// The change sequence number after applying.
        seqno: u64,
    },
    /// An update notification was applied.
    Changed {
        /// The change sequence number after applying.
        seqno: u64,
    },
    /// The reply to [`Idl::transact`].
    Transact {
        /// The request id it returned.
        id: u64,
        /// Per-operation results or the first error.
        result: Result<Vec<OpResult>, Error>,
    },
    /// The reply to [`Idl::request`], [`Idl::lock`], [`Idl::steal`] or
    /// [`Idl::unlock`].
    Reply {
        /// The request id it returned.
        id: u64,
        /// The method.
        method: String,
        /// The `result`, or the server's error.
        result: Result<Value, Error>,
    },
    /// We now own the lock (a `lock`/`steal` reply with `"locked": true`, or a
    /// `locked` notification, RFC 7047 section 4.1.9).
    Locked(String),
    /// Another client stole our lock (`stolen` notification, section 4.1.10).
    Stolen(String),
    /// The connection went away; requests in flight failed.
    Disconnected,
}

/// The sans-IO IDL state machine. See the crate documentation.
#[derive(Debug)]
pub struct Idl {
    config: IdlConfig,
    schema: Option<DatabaseSchema>,
    columns: BTreeMap<String, Vec<String>>,
    replica: Replica,
    session: Option<Session>,
    state: State,
    method: MonitorMethod,
    last_txn_id: Option<String>,
    seqno: u64,
    events: VecDeque<IdlEvent>,
    user: HashMap<u64, UserReq>,
}

#[derive(Debug)]
enum UserReq {
    Transact(usize),
    Call,
    Lock(String),
}

impl Idl {
    /// A disconnected IDL with an empty replica.
    pub fn new(config: IdlConfig) -> Idl {
        Idl {
            config,
            schema: None,
            columns: BTreeMap::new(),
            replica: Replica::default(),
            session: None,
            state: State::Disconnected,
            method: MonitorMethod::CondSince,
            last_txn_id: None,
            seqno: 0,
            events: VecDeque::new(),
            user: HashMap::new(),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &IdlConfig {
        &self.config
    }

    /// The replica.
    pub fn replica(&self) -> &Replica {
        &self.replica
    }

    /// The server's schema (after the first `get_schema`).
    pub fn schema(&self) -> Option<&DatabaseSchema> {
        self.schema.as_ref()
    }

    /// Change sequence number: incremented by every applied update (initial
    /// contents, resync or notification).
    pub fn change_seqno(&self) -> u64 {
        self.seqno
    }

    /// Whether a connection is up and the monitor's contents are applied.
    pub fn is_synced(&self) -> bool {
        self.state == State::Monitoring
    }

    /// Whether the driver reported a connection.
    pub fn is_connected(&self) -> bool {
        self.session.is_some()
    }

    /// The monitor method in use (downgraded on "unknown method").
    pub fn monitor_method(&self) -> MonitorMethod {
        self.method
    }

    /// The last transaction id seen (`monitor_cond_since` only).
    pub fn last_txn_id(&self) -> Option<&str> {
        self.last_txn_id.as_deref()
    }

    /// The driver connected: starts `get_schema`, then the monitor.
    pub fn connected(&mut self, now: Instant) {
        let mut s = Session::new(now, self.config.probe_interval);
        let id = s.request("get_schema", json!([self.config.database]));
        self.session = Some(s);
        self.state = State::SchemaRequested(id);
    }

    /// The driver lost the connection: requests in flight fail with
    /// [`Error::Disconnected`]; the replica is kept until the resync.
    pub fn disconnected(&mut self) {
        if self.session.take().is_none() {
            return;
        }
        self.state = State::Disconnected;
        let mut ids: Vec<_> = self.user.drain().collect();
        ids.sort_unstable_by_key(|(id, _)| *id);
        for (id, req) in ids {
            let err = Error::Disconnected("connection lost before the reply".into());
            self.events.push_back(match req {
                UserReq::Transact(_) => IdlEvent::Transact {
                    id,
                    result: Err(err),
                },
                _ => IdlEvent::Reply {
                    id,
                    method: String::new(),
                    result: Err(err),
                },
            });
        }
        self.events.push_back(IdlEvent::Disconnected);
    }

    /// Feeds received bytes.
    ///
    /// # Errors
    /// [`Error::Protocol`] / [`Error::SchemaMismatch`] / [`Error::Server`]
    /// (for our own `get_schema` / monitor) / [`Error::Disconnected`]
    /// (monitor canceled): the driver should drop the connection and
    /// reconnect. Without a connection the bytes are ignored.
    pub fn receive(&mut self, bytes: &[u8], now: Instant) -> Result<(), Error> {
        let Some(s) = self.session.as_mut() else {
            return Ok(());
        };
        s.receive(bytes, now)?;
        while let Some(m) = self.session.as_mut().and_then(Session::poll) {
            self.handle(m)?;
        }
        Ok(())
    }

    /// Bytes to send.
    pub fn take_transmit(&mut self) -> Vec<u8> {
        self.session
            .as_mut()
            .map(Session::take_transmit)
            .unwrap_or_default()
    }

    /// When [`Idl::handle_timeout`] needs calling.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.session.as_ref().and_then(Session::poll_timeout)
    }

    /// Runs the inactivity probe.
    ///
    /// # Errors
    /// [`Error::Disconnected`] when the peer stopped answering.
    pub fn handle_timeout(&mut self, now: Instant) -> Result<(), Error> {
        match self.session.as_mut() {
            Some(s) => s.handle_timeout(now),
            None => Ok(()),
        }
    }

    /// The next event.
    pub fn poll_event(&mut self) -> Option<IdlEvent> {
        self.events.pop_front()
    }

    fn session(&mut self) -> Result<&mut Session, Error> {
        self.session
            .as_mut()
            .ok_or_else(|| Error::Disconnected("not connected".into()))
    }

    /// Sends a transaction; its reply comes as [`IdlEvent::Transact`] with
    /// the returned id.
    ///
    /// # Errors
    /// [`Error::Disconnected`] without a connection.
    pub fn transact(&mut self, txn: &Transaction) -> Result<u64, Error> {
        let id = self.session()?.request("transact", txn.to_params());
        self.user.insert(id, UserReq::Transact(txn.ops.len()));
        Ok(id)
    }

    /// Sends any request (e.g. `list_dbs`, `get_schema`); its reply comes as
    /// [`IdlEvent::Reply`].
    ///
    /// # Errors
    /// [`Error::Disconnected`] without a connection.
    pub fn request(&mut self, method: &str, params: Value) -> Result<u64, Error> {
        let id = self.session()?.request(method, params);
        self.user.insert(id, UserReq::Call);
        Ok(id)
    }

    /// `lock` (RFC 7047 section 4.1.8): the reply is `{"locked": bool}`; when
    /// false a `locked` notification follows once the lock is granted.
    ///
    /// # Errors
    /// [`Error::Disconnected`] without a connection.
    pub fn lock(&mut self, name: &str) -> Result<u64, Error> {
        self.lock_request("lock", name)
    }

    /// `steal` (section 4.1.8): takes the lock from its owner at once.
    ///
    /// # Errors
    /// [`Error::Disconnected`] without a connection.
    pub fn steal(&mut self, name: &str) -> Result<u64, Error> {
        self.lock_request("steal", name)
    }

    /// `unlock` (section 4.1.8).
    ///
    /// # Errors
    /// [`Error::Disconnected`] without a connection.
    pub fn unlock(&mut self, name: &str) -> Result<u64, Error> {
        self.request("unlock", json!([name]))
    }

    fn lock_request(&mut self, method: &str, name: &str) -> Result<u64, Error> {
        let id = self.session()?.request(method, json!([name]));
        self.user.insert(id, UserReq::Lock(name.to_string()));
        Ok(id)
    }

    fn handle(&mut self, m: Incoming) -> Result<(), Error> {
        match m {
            Incoming::Response { id, method, result } => {
                if self.state == State::SchemaRequested(id) {
                    let v = result.map_err(|e| Error::from_server(&e))?;
                    self.got_schema(&v)
                } else if self.state == State::MonitorRequested(id) {
                    match result {
                        Err(e) => {
                            let e = Error::from_server(&e);
                            if e.is_unknown_method() && self.method != MonitorMethod::Plain {
                                self.method = match self.method {
                                    MonitorMethod::CondSince => MonitorMethod::Cond,
                                    _ => MonitorMethod::Plain,
                                };
                                self.send_monitor()
                            } else {
                                Err(e)
                            }
                        }
                        Ok(v) => self.got_monitor_reply(&v),
                    }
                } else if let Some(req) = self.user.remove(&id) {
                    match req {
                        UserReq::Transact(n) => {
                            let result = result
                                .map_err(|e| Error::from_server(&e))
                                .and_then(|v| parse_transact_result(&v, n));
                            self.events.push_back(IdlEvent::Transact { id, result });
                        }
                        UserReq::Call | UserReq::Lock(_) => {
                            let result = result.map_err(|e| Error::from_server(&e));
                            let locked = matches!(&result, Ok(v) if v.get("locked") == Some(&Value::Bool(true)));
                            self.events
                                .push_back(IdlEvent::Reply { id, method, result });
                            if let (UserReq::Lock(name), true) = (req, locked) {
                                self.events.push_back(IdlEvent::Locked(name));
                            }
                        }
                    }
                    Ok(())
                } else {
                    Ok(())
                }
            }
            Incoming::Notification { method, params } => self.notification(&method, &params),
            Incoming::Request { id, .. } => {
                if let Some(s) = self.session.as_mut() {
                    s.respond(id, Err(json!("unknown method")));
                }
                Ok(())
            }
        }
    }

    fn got_schema(&mut self, v: &Value) -> Result<(), Error> {
        let schema = DatabaseSchema::parse(v)?;
        let mut columns = BTreeMap::new();
        if self.config.tables.is_empty() {
            for (t, ts) in &schema.tables {
                columns.insert(t.clone(), ts.columns.keys().cloned().collect());
            }
        } else {
            for sel in &self.config.tables {
                let ts = schema.tables.get(&sel.table).ok_or_else(|| {
                    Error::SchemaMismatch(format!("no table {} in {}", sel.table, schema.name))
                })?;
                let cols: Vec<String> = match &sel.columns {
                    None => ts.columns.keys().cloned().collect(),
                    Some(c) => {
                        for col in c {
                            if !ts.columns.contains_key(col) {
                                return Err(Error::SchemaMismatch(format!(
                                    "no column {}.{col}",
                                    sel.table
                                )));
                            }
                        }
                        c.clone()
                    }
                };
                columns.insert(sel.table.clone(), cols);
            }
        }
        if self.schema.as_ref() != Some(&schema) {
            // New or changed schema: nothing replicated so far can be trusted.
            self.replica.tables.clear();
            self.last_txn_id = None;
        }
        self.schema = Some(schema);
        self.columns = columns;
        self.send_monitor()
    }

    fn send_monitor(&mut self) -> Result<(), Error> {
        let mut reqs = Map::new();
        for (t, cols) in &self.columns {
            let r = json!({"columns": cols});
            reqs.insert(
                t.clone(),
                if self.method == MonitorMethod::Plain {
                    r
                } else {
                    json!([r])
                },
            );
        }
        let db = self.config.database.clone();
        let params = match self.method {
            MonitorMethod::CondSince => json!([
                db,
                MONITOR_ID,
                reqs,
                self.last_txn_id.as_deref().unwrap_or(ZERO_TXN)
            ]),
            _ => json!([db, MONITOR_ID, reqs]),
        };
        let method = self.method.name();
        let id = self.session()?.request(method, params);
        self.state = State::MonitorRequested(id);
        Ok(())
    }

    fn got_monitor_reply(&mut self, v: &Value) -> Result<(), Error> {
        match self.method {
            MonitorMethod::CondSince => {
                let a = v
                    .as_array()
                    .filter(|a| a.len() == 3)
                    .ok_or_else(|| Error::protocol(format!("bad monitor_cond_since reply {v}")))?;
                let found = a[0].as_bool().unwrap_or(false);
                if !found {
                    self.replica.tables.clear();
                }
                self.ensure_tables();
                self.apply_updates2(&a[2])?;
                self.last_txn_id = a[1].as_str().map(str::to_string);
            }
            MonitorMethod::Cond => {
                self.replica.tables.clear();
                self.ensure_tables();
                self.apply_updates2(v)?;
            }
            MonitorMethod::Plain => {
                self.replica.tables.clear();
                self.ensure_tables();
                self.apply_updates1(v)?;
            }
        }
        self.state = State::Monitoring;
        self.seqno += 1;
        self.events
            .push_back(IdlEvent::Synced { seqno: self.seqno });
        Ok(())
    }

    fn ensure_tables(&mut self) {
        for t in self.columns.keys() {
            self.replica.tables.entry(t.clone()).or_default();
        }
    }

    fn notification(&mut self, method: &str, params: &Value) -> Result<(), Error> {
        let p = params.as_array().map(Vec::as_slice).unwrap_or(&[]);
        let ours = p.first().and_then(Value::as_str) == Some(MONITOR_ID);
        match (method, p) {
            ("update3", [_, txn, updates]) if ours => {
                self.apply_updates2(updates)?;
                self.last_txn_id = txn.as_str().map(str::to_string);
            }
            ("update2", [_, updates]) if ours => self.apply_updates2(updates)?,
            ("update", [_, updates]) if ours => self.apply_updates1(updates)?,
            ("locked", [name, ..]) => {
                self.events
                    .push_back(IdlEvent::Locked(name.as_str().unwrap_or_default().into()));
                return Ok(());
            }
            ("stolen", [name, ..]) => {
                self.events
                    .push_back(IdlEvent::Stolen(name.as_str().unwrap_or_default().into()));
                return Ok(());
            }
            ("monitor_canceled", _) => {
                return Err(Error::Disconnected("server canceled the monitor".into()))
            }
            _ => return Ok(()),
        }
        self.seqno += 1;
        self.events
            .push_back(IdlEvent::Changed { seqno: self.seqno });
        Ok(())
    }

    fn new_row(&self, table: &str) -> Row {
        let mut row = Row::new();
        if let (Some(schema), Some(cols)) = (&self.schema, self.columns.get(table)) {
            for c in cols {
                if let Some(ty) = schema.column_type(table, c) {
                    row.insert(c.clone(), Datum::default_of(ty));
                }
            }
        }
        row
    }

    /// Parses `{column: value}` of `table` with the schema's types; columns
    /// not in the schema are skipped.
    fn parse_columns(&self, table: &str, v: &Value) -> Result<Vec<(String, Datum)>, Error> {
        let schema = self
            .schema
            .as_ref()
            .ok_or_else(|| Error::protocol("update before schema"))?;
        let o = v
            .as_object()
            .ok_or_else(|| Error::protocol(format!("row is not an object: {v}")))?;
        let mut out = Vec::new();
        for (c, val) in o {
            if let Some(ty) = schema.column_type(table, c) {
                out.push((c.clone(), Datum::from_json_typed(val, ty)?));
            }
        }
        Ok(out)
    }

    fn each_row_update(v: &Value) -> Result<Vec<RowUpdate<'_>>, Error> {
        let tables = v
            .as_object()
            .ok_or_else(|| Error::protocol(format!("table updates are not an object: {v}")))?;
        let mut out = Vec::new();
        for (t, rows) in tables {
            let rows = rows
                .as_object()
                .ok_or_else(|| Error::protocol("table update is not an object"))?;
            for (u, ru) in rows {
                let uuid = Uuid::parse_str(u)
                    .map_err(|_| Error::protocol(format!("bad row uuid {u:?}")))?;
                let ru = ru
                    .as_object()
                    .ok_or_else(|| Error::protocol("row update is not an object"))?;
                out.push((t, uuid, ru));
            }
        }
        Ok(out)
    }

    /// Applies `<table-updates2>` (ovsdb-server(7), `update2`).
    fn apply_updates2(&mut self, v: &Value) -> Result<(), Error> {
        for (t, uuid, ru) in Self::each_row_update(v)? {
            if !self.columns.contains_key(t) {
                continue;
            }
            if let Some(r) = ru.get("initial").or_else(|| ru.get("insert")) {
                let mut row = self.new_row(t);
                row.extend(self.parse_columns(t, r)?);
                self.replica
                    .tables
                    .entry(t.clone())
                    .or_default()
                    .insert(uuid, row);
            } else if let Some(d) = ru.get("modify") {
                let changes = self.parse_columns(t, d)?;
                let mut row = match self
                    .replica
                    .tables
                    .get_mut(t)
                    .and_then(|rows| rows.remove(&uuid))
                {
                    Some(r) => r,
                    None => self.new_row(t),
                };
                let schema = self
                    .schema
                    .as_ref()
                    .ok_or_else(|| Error::protocol("no schema"))?;
                for (c, diff) in changes {
                    if let Some(ty) = schema.column_type(t, &c) {
                        let cur = row.entry(c).or_insert_with(|| Datum::default_of(ty));
                        cur.apply_diff(&diff, ty)?;
                    }
                }
                self.replica
                    .tables
                    .entry(t.clone())
                    .or_default()
                    .insert(uuid, row);
            } else if ru.contains_key("delete") {
                if let Some(rows) = self.replica.tables.get_mut(t) {
                    rows.remove(&uuid);
                }
            } else {
                return Err(Error::protocol(format!("bad row update for {t} {uuid}")));
            }
        }
        Ok(())
    }

    /// Applies RFC 7047 `<table-updates>` (section 4.1.6): `new` present
    /// inserts or overwrites the given columns, absent deletes.
    fn apply_updates1(&mut self, v: &Value) -> Result<(), Error> {
        for (t, uuid, ru) in Self::each_row_update(v)? {
            if !self.columns.contains_key(t) {
                continue;
            }
            match ru.get("new").filter(|n| !n.is_null()) {
                Some(new) => {
                    let changes = self.parse_columns(t, new)?;
                    let mut row = match self
                        .replica
                        .tables
                        .get_mut(t)
                        .and_then(|rows| rows.remove(&uuid))
                    {
                        Some(r) => r,
                        None => self.new_row(t),
                    };
                    row.extend(changes);
                    self.replica
                        .tables
                        .entry(t.clone())
                        .or_default()
                        .insert(uuid, row);
                }
                None => {
                    if let Some(rows) = self.replica.tables.get_mut(t) {
                        rows.remove(&uuid);
                    }
                }
            }
        }
        Ok(())
    }
}
