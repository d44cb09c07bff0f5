//! The `transact` method (RFC 7047 section 4.1.3) and its operations
//! (section 5.2), built through a typed builder, and its results.

use serde_json::{json, Map, Value};

use crate::data::{row_to_json, Atom, Datum, Row, Uuid};
use crate::error::Error;

/// A condition function (RFC 7047 section 5.1, `<function>`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Function {
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `==`
    Eq,
    /// `!=`
    Ne,
    /// `>=`
    Ge,
    /// `>`
    Gt,
    /// `includes`
    Includes,
    /// `excludes`
    Excludes,
}

impl Function {
    fn as_str(self) -> &'static str {
        match self {
            Function::Lt => "<",
            Function::Le => "<=",
            Function::Eq => "==",
            Function::Ne => "!=",
            Function::Ge => ">=",
            Function::Gt => ">",
            Function::Includes => "includes",
            Function::Excludes => "excludes",
        }
    }
}

/// `<condition>`: `[<column>, <function>, <value>]` (RFC 7047 section 5.1).
#[derive(Debug, Clone, PartialEq)]
pub struct Condition {
    /// Column name (`_uuid` allowed).
    pub column: String,
    /// The comparison.
    pub function: Function,
    /// The operand.
    pub value: Datum,
}

impl Condition {
    /// `[column, function, value]`.
    pub fn new(column: &str, function: Function, value: impl Into<Datum>) -> Condition {
        Condition {
            column: column.to_string(),
            function,
            value: value.into(),
        }
    }

    /// `["_uuid", "==", ["uuid", u]]`: matches one row.
    pub fn uuid(u: Uuid) -> Condition {
        Condition::new("_uuid", Function::Eq, u)
    }

    /// JSON notation.
    pub fn to_json(&self) -> Value {
        json!([self.column, self.function.as_str(), self.value.to_json()])
    }
}

/// A mutator (RFC 7047 section 5.1, `<mutator>`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mutator {
    /// `+=`
    Add,
    /// `-=`
    Sub,
    /// `*=`
    Mul,
    /// `/=`
    Div,
    /// `%=`
    Mod,
    /// `insert` (set elements or map pairs)
    Insert,
    /// `delete` (set elements, map pairs, or map keys given as a set)
    Delete,
}

impl Mutator {
    fn as_str(self) -> &'static str {
        match self {
            Mutator::Add => "+=",
            Mutator::Sub => "-=",
            Mutator::Mul => "*=",
            Mutator::Div => "/=",
            Mutator::Mod => "%=",
            Mutator::Insert => "insert",
            Mutator::Delete => "delete",
        }
    }
}

/// `<mutation>`: `[<column>, <mutator>, <value>]` (RFC 7047 section 5.1).
#[derive(Debug, Clone, PartialEq)]
pub struct Mutation {
    /// Column name.
    pub column: String,
    /// The mutator.
    pub mutator: Mutator,
    /// The operand.
    pub value: Datum,
}

impl Mutation {
    /// `[column, mutator, value]`.
    pub fn new(column: &str, mutator: Mutator, value: impl Into<Datum>) -> Mutation {
        Mutation {
            column: column.to_string(),
            mutator,
            value: value.into(),
        }
    }

    /// JSON notation.
    pub fn to_json(&self) -> Value {
        json!([self.column, self.mutator.as_str(), self.value.to_json()])
    }
}

/// The `until` of a `wait` operation (RFC 7047 section 5.2.6).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WaitUntil {
    /// `"=="`: wait until the selected rows equal `rows`.
    Equal,
    /// `"!="`: wait until they differ.
    NotEqual,
}

/// One operation of RFC 7047 section 5.2.
#[derive(Debug, Clone, PartialEq)]
pub enum Operation {
    /// 5.2.1 `insert`; `uuid_name` lets later operations refer to the row as
    /// `["named-uuid", name]`.
    Insert {
        /// Table.
        table: String,
        /// Initial column values (others get defaults).
        row: Row,
        /// `uuid-name`.
        uuid_name: Option<String>,
    },
    /// 5.2.2 `select`; `columns` `None` selects all.
    Select {
        /// Table.
        table: String,
        /// Conditions (all must hold).
        conditions: Vec<Condition>,
        /// Columns to return.
        columns: Option<Vec<String>>,
    },
    /// 5.2.3 `update`.
    Update {
        /// Table.
        table: String,
        /// Conditions.
        conditions: Vec<Condition>,
        /// New values.
        row: Row,
    },
    /// 5.2.4 `mutate`.
    Mutate {
        /// Table.
        table: String,
        /// Conditions.
        conditions: Vec<Condition>,
        /// Mutations.
        mutations: Vec<Mutation>,
    },
    /// 5.2.5 `delete`.
    Delete {
        /// Table.
        table: String,
        /// Conditions.
        conditions: Vec<Condition>,
    },
    /// 5.2.6 `wait`: aborts the transaction (timeout 0) or waits until the
    /// selected rows' `columns` equal (or differ from) `rows`.
    Wait {
        /// Table.
        table: String,
        /// Conditions.
        conditions: Vec<Condition>,
        /// Columns compared.
        columns: Vec<String>,
        /// Expected rows (only `columns`).
        rows: Vec<Row>,
        /// `==` or `!=`.
        until: WaitUntil,
        /// Milliseconds; `None` waits forever, `Some(0)` fails at once.
        timeout_ms: Option<u64>,
    },
    /// 5.2.7 `commit`.
    Commit {
        /// Wait for the commit to reach disk.
        durable: bool,
    },
    /// 5.2.8 `abort`: always fails the transaction.
    Abort,
    /// 5.2.9 `comment` (recorded in the log).
    Comment(String),
    /// 5.2.10 `assert`: fails unless the session owns the lock.
    Assert {
        /// Lock name.
        lock: String,
    },
}

impl Operation {
    /// JSON notation of RFC 7047 section 5.2.
    pub fn to_json(&self) -> Value {
        let conds = |c: &[Condition]| Value::Array(c.iter().map(Condition::to_json).collect());
        match self {
            Operation::Insert {
                table,
                row,
                uuid_name,
            } => {
                let mut o = Map::new();
                o.insert("op".into(), json!("insert"));
                o.insert("table".into(), json!(table));
                o.insert("row".into(), row_to_json(row));
                if let Some(n) = uuid_name {
                    o.insert("uuid-name".into(), json!(n));
                }
                Value::Object(o)
            }
            Operation::Select {
                table,
                conditions,
                columns,
            } => {
                let mut o = Map::new();
                o.insert("op".into(), json!("select"));
                o.insert("table".into(), json!(table));
                o.insert("where".into(), conds(conditions));
                if let Some(c) = columns {
                    o.insert("columns".into(), json!(c));
                }
                Value::Object(o)
            }
            Operation::Update {
                table,
                conditions,
                row,
            } => {
                json!({"op": "update", "table": table, "where": conds(conditions), "row": row_to_json(row)})
            }
            Operation::Mutate {
                table,
                conditions,
                mutations,
            } => json!({"op": "mutate", "table": table, "where": conds(conditions),
                        "mutations": mutations.iter().map(Mutation::to_json).collect::<Vec<_>>()}),
            Operation::Delete { table, conditions } => {
                json!({"op": "delete", "table": table, "where": conds(conditions)})
            }
            Operation::Wait {
                table,
                conditions,
                columns,
                rows,
                until,
                timeout_ms,
            } => {
                let mut o = Map::new();
                o.insert("op".into(), json!("wait"));
                if let Some(t) = timeout_ms {
                    o.insert("timeout".into(), json!(t));
                }
                o.insert("table".into(), json!(table));
                o.insert("where".into(), conds(conditions));
                o.insert("columns".into(), json!(columns));
                o.insert(
                    "until".into(),
                    json!(match until {
                        WaitUntil::Equal => "==",
                        WaitUntil::NotEqual => "!=",
                    }),
                );
                o.insert(
                    "rows".into(),
                    Value::Array(rows.iter().map(row_to_json).collect()),
                );
                Value::Object(o)
            }
            Operation::Commit { durable } => json!({"op": "commit", "durable": durable}),
            Operation::Abort => json!({"op": "abort"}),
            Operation::Comment(c) => json!({"op": "comment", "comment": c}),
            Operation::Assert { lock } => json!({"op": "assert", "lock": lock}),
        }
    }
}

/// A transaction under construction: a database name and operations, sent as
/// `transact` params `[<db-name>, <operation>*]` (RFC 7047 section 4.1.3).
#[derive(Debug, Clone, PartialEq)]
pub struct Transaction {
    /// Database name, e.g. `"Open_vSwitch"`.
    pub db: String,
    /// Operations, in order.
    pub ops: Vec<Operation>,
}

impl Transaction {
    /// An empty transaction on database `db`.
    pub fn new(db: &str) -> Transaction {
        Transaction {
            db: db.to_string(),
            ops: Vec::new(),
        }
    }

    /// Appends any operation; returns its index in the results.
    pub fn push(&mut self, op: Operation) -> usize {
        self.ops.push(op);
        self.ops.len() - 1
    }

    /// `insert` (5.2.1); `uuid_name` must be a valid identifier
    /// (`[a-zA-Z_][a-zA-Z0-9_]*`). Returns the operation's index.
    pub fn insert(&mut self, table: &str, row: Row, uuid_name: Option<&str>) -> usize {
        self.push(Operation::Insert {
            table: table.into(),
            row,
            uuid_name: uuid_name.map(Into::into),
        })
    }

    /// `select` (5.2.2).
    pub fn select(
        &mut self,
        table: &str,
        conditions: Vec<Condition>,
        columns: Option<&[&str]>,
    ) -> usize {
        self.push(Operation::Select {
            table: table.into(),
            conditions,
            columns: columns.map(|c| c.iter().map(|s| s.to_string()).collect()),
        })
    }

    /// `update` (5.2.3).
    pub fn update(&mut self, table: &str, conditions: Vec<Condition>, row: Row) -> usize {
        self.push(Operation::Update {
            table: table.into(),
            conditions,
            row,
        })
    }

    /// `mutate` (5.2.4).
    pub fn mutate(
        &mut self,
        table: &str,
        conditions: Vec<Condition>,
        mutations: Vec<Mutation>,
    ) -> usize {
        self.push(Operation::Mutate {
            table: table.into(),
            conditions,
            mutations,
        })
    }

    /// `delete` (5.2.5).
    pub fn delete(&mut self, table: &str, conditions: Vec<Condition>) -> usize {
        self.push(Operation::Delete {
            table: table.into(),
            conditions,
        })
    }

    /// `wait` (5.2.6).
    pub fn wait(
        &mut self,
        table: &str,
        conditions: Vec<Condition>,
        columns: &[&str],
        rows: Vec<Row>,
        until: WaitUntil,
        timeout_ms: Option<u64>,
    ) -> usize {
        self.push(Operation::Wait {
            table: table.into(),
            conditions,
            columns: columns.iter().map(|s| s.to_string()).collect(),
            rows,
            until,
            timeout_ms,
        })
    }

    /// Verifies that row `uuid` of `table` still has `column == value` when
    /// the transaction commits, else the transaction fails with `"timed
    /// out"` (a `wait` with timeout 0, as the OVS IDL's verify does).
    pub fn verify(&mut self, table: &str, uuid: Uuid, column: &str, value: Datum) -> usize {
        self.wait(
            table,
            vec![Condition::uuid(uuid)],
            &[column],
            vec![Row::from([(column.to_string(), value)])],
            WaitUntil::Equal,
            Some(0),
        )
    }

    /// `commit` (5.2.7).
    pub fn commit(&mut self, durable: bool) -> usize {
        self.push(Operation::Commit { durable })
    }

    /// `abort` (5.2.8).
    pub fn abort(&mut self) -> usize {
        self.push(Operation::Abort)
    }

    /// `comment` (5.2.9).
    pub fn comment(&mut self, text: &str) -> usize {
        self.push(Operation::Comment(text.into()))
    }

    /// `assert` (5.2.10).
    pub fn assert_lock(&mut self, lock: &str) -> usize {
        self.push(Operation::Assert { lock: lock.into() })
    }

    /// The `transact` params: `[db, op...]`.
    pub fn to_params(&self) -> Value {
        let mut v = vec![json!(self.db)];
        v.extend(self.ops.iter().map(Operation::to_json));
        Value::Array(v)
    }
}

/// The result of one successful operation (RFC 7047 section 5.2).
#[derive(Debug, Clone, PartialEq)]
pub enum OpResult {
    /// `insert`: `{"uuid": <uuid>}`.
    Insert(Uuid),
    /// `select`: `{"rows": [<row>*]}` (untyped values).
    Rows(Vec<Row>),
    /// `update`, `mutate`, `delete`: `{"count": <integer>}`.
    Count(u64),
    /// Everything else: `{}`.
    Empty,
}

impl OpResult {
    fn parse(v: &Value) -> Result<OpResult, Error> {
        let o = v
            .as_object()
            .ok_or_else(|| Error::protocol(format!("operation result is not an object: {v}")))?;
        if let Some(u) = o.get("uuid") {
            return match Atom::from_json(u)? {
                Atom::Uuid(u) => Ok(OpResult::Insert(u)),
                _ => Err(Error::protocol(format!("bad insert result {v}"))),
            };
        }
        if let Some(rows) = o.get("rows") {
            let rows = rows
                .as_array()
                .ok_or_else(|| Error::protocol("rows is not an array"))?;
            let mut out = Vec::new();
            for r in rows {
                let r = r
                    .as_object()
                    .ok_or_else(|| Error::protocol("row is not an object"))?;
                let mut row = Row::new();
                for (k, v) in r {
                    row.insert(k.clone(), Datum::from_json(v)?);
                }
                out.push(row);
            }
            return Ok(OpResult::Rows(out));
        }
        if let Some(c) = o.get("count") {
            return c
                .as_u64()
                .map(OpResult::Count)
                .ok_or_else(|| Error::protocol("bad count"));
        }
        Ok(OpResult::Empty)
    }
}

/// Parses a `transact` result: an array with one entry per operation, an
/// entry being a result or `{"error", "details"}`; one extra trailing error
/// reports a commit failure (RFC 7047 section 4.1.3).
///
/// # Errors
/// [`Error::Server`] with the first error (its `details` prefixed with the
/// operation index), [`Error::Protocol`] on a malformed reply.
pub fn parse_transact_result(v: &Value, n_ops: usize) -> Result<Vec<OpResult>, Error> {
    let arr = v
        .as_array()
        .ok_or_else(|| Error::protocol(format!("transact result is not an array: {v}")))?;
    for (i, r) in arr.iter().enumerate() {
        if let Some(e) = r.get("error").filter(|e| !e.is_null()) {
            let error = e.as_str().unwrap_or("unknown error").to_string();
            let d = r.get("details").and_then(Value::as_str);
            let where_ = if i < n_ops {
                format!("operation {i}")
            } else {
                "commit".to_string()
            };
            return Err(Error::Server {
                error,
                details: Some(match d {
                    Some(d) => format!("{where_}: {d}"),
                    None => where_,
                }),
            });
        }
    }
    arr.iter()
        .take(n_ops)
        .map(|r| {
            if r.is_null() {
                Ok(OpResult::Empty)
            } else {
                OpResult::parse(r)
            }
        })
        .collect()
}
