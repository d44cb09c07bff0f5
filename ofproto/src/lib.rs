//! # ofproto: the switch layer of rvs
//!
//! What OVS calls `ofproto` / `ofproto-dpif`: OpenFlow-level switching that
//! translates packets into datapath actions and megaflow masks.
//!
//! * [`normal`]: the `NORMAL` action, OVS's MAC-learning L2 switch with VLAN
//!   access/trunk semantics (`ofproto/ofproto-dpif-xlate.c`,
//!   `lib/mac-learning.c`).

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod normal;
