//! # dp-core: the per-packet fast path of rvs
//!
//! Everything a poll-mode thread does to a packet between "received" and
//! "transmitted", without I/O or threads (those live in `netdev` and `pmd`):
//!
//! 1. [`packet`]: packet buffers with headroom and metadata, batches of 32.
//! 2. [`extract`]: flow key extraction into a compact [`miniflow`] key.
//! 3. [`emc`], [`smc`], [`dpcls`]: the three lookup stages (exact match cache,
//!    signature match cache, megaflow classifier).
//! 4. [`flow_table`]: the datapath flow table (megaflows with UFIDs and stats).
//! 5. [`execute`]: datapath [`actions`] executed on batches.
//! 6. [`fastpath`]: the stages strung together for one batch.
//! 7. [`odp_text`]: the `ovs-appctl dpctl/dump-flows` text format.
//!
//! Field layout and semantics follow Open vSwitch (`lib/flow.h`,
//! `lib/dpif-netdev.c`, `ovs-fields(7)`); names are the field's own (megaflow,
//! EMC, SMC, dpcls, subtable, upcall, recirc_id, ufid).

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod actions;
pub mod csum;
pub mod dpcls;
pub mod emc;
pub mod execute;
pub mod extract;
pub mod fastpath;
pub mod flow;
pub mod flow_table;
pub mod matches;
pub mod miniflow;
pub mod nsh;
pub mod odp_text;
pub mod packet;
pub mod smc;
