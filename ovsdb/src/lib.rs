//! # ovsdb: an RFC 7047 client with an in-memory replica (IDL)
//!
//! rvs reads its configuration from the `Open_vSwitch` database served by
//! Open vSwitch's own `ovsdb-server` and writes status back, as
//! `ovs-vswitchd` does. This crate is that client.
//!
//! ## Design
//!
//! * **Sans-IO core.** Nothing below the driver touches a socket or a clock
//!   of its own: [`jsonrpc::Framer`] turns bytes into JSON values
//!   (concatenated JSON-RPC 1.0 objects, RFC 7047 section 3.1; an object cut
//!   short waits for more bytes), [`jsonrpc::Session`] matches responses to
//!   request ids, answers `echo` and runs the inactivity probe from the
//!   `Instant`s it is given, and [`Idl`] drives `get_schema` and the monitor
//!   (`monitor_cond_since`, falling back to `monitor_cond` then `monitor` on
//!   "unknown method") and applies `update3`/`update2`/`update` notifications
//!   to a [`Replica`]. Each takes bytes in and hands bytes to send and
//!   events out, so all of it is unit-tested without a server.
//! * **Data model.** [`Atom`], [`Datum`] (sets and maps, RFC 7047 section
//!   5.1) and [`DatabaseSchema`] (section 3.2); typed parsing coerces numbers
//!   to the column's type; [`Datum::apply_diff`] implements `update2`'s
//!   `modify` semantics.
//! * **Transactions.** [`Transaction`] builds every operation of section 5.2
//!   (insert with `uuid-name`, select, update, mutate, delete, wait, commit,
//!   abort, comment, assert); [`vswitch::StatusTxn`] writes the switch's
//!   status columns.
//! * **Drivers.** [`Client`] is a blocking one-request-at-a-time client;
//!   [`IdlDriver`] owns an [`Idl`] and a `UnixStream`/`TcpStream`, reads with
//!   socket timeouts, and reconnects with exponential backoff (100 ms doubling
//!   to 8 s by default), resynchronising from the last transaction id with
//!   `monitor_cond_since` or by clearing and reloading otherwise.
//! * **Threading.** Nothing is shared: the daemon runs an [`IdlDriver`] on
//!   its control thread, calling [`IdlDriver::run`] in its loop, reading the
//!   replica between calls (compare [`Idl::change_seqno`] to notice changes)
//!   and sending status transactions from the same thread. Every type is
//!   `Send`, so the driver can be moved to that thread once built.
//! * **Errors.** [`Error`] separates I/O, protocol (malformed JSON or
//!   JSON-RPC; never a panic), server errors (`error`/`details`), schema
//!   mismatches, disconnection and timeouts.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod data;
pub mod driver;
pub mod error;
pub mod idl;
pub mod jsonrpc;
pub mod schema;
pub mod transact;
pub mod vswitch;

pub use data::{Atom, Datum, Row, Uuid};
pub use driver::{Backoff, Client, Conn, IdlDriver};
pub use error::{Error, Result};
pub use idl::{Idl, IdlConfig, IdlEvent, MonitorMethod, Replica, TableSelect};
pub use schema::{
    AtomicType, BaseType, ColumnSchema, ColumnType, DatabaseSchema, RefType, TableSchema,
};
pub use transact::{
    Condition, Function, Mutation, Mutator, OpResult, Operation, Transaction, WaitUntil,
};

#[cfg(test)]
mod unit_tests;
