//! # ofproto: the switch layer of rvs
//!
//! What OVS calls `ofproto` / `ofproto-dpif`: OpenFlow-level switching that
//! translates packets into datapath actions and megaflow masks, and the
//! OpenFlow protocol that programs it.
//!
//! * [`normal`]: the `NORMAL` action, OVS's MAC-learning L2 switch with VLAN
//!   access/trunk semantics (`ofproto/ofproto-dpif-xlate.c`,
//!   `lib/mac-learning.c`).
//! * [`group`] and [`meter`]: the group table (OpenFlow 1.3.5 section
//!   5.6) and meter table (section 5.7).
//! * [`ofp`]: the sans-IO OpenFlow 1.0-1.5 + Nicira wire codec. It never
//!   touches sockets or clocks; a connection owner feeds received bytes to
//!   [`ofp::Decoder`], gets `(Header, Message)` values (or a
//!   [`ofp::Rejected`] carrying the OFPT_ERROR to send back), and turns
//!   replies into bytes with [`ofp::Message::encode`].
//!
//! Codec representation choices:
//! - One version-independent [`ofp::Message`] enum; the wire version is an
//!   argument of `encode` and is read from the header on decode. Where
//!   versions disagree on layout (OF1.0 `ofp_match` vs OXM, OF1.0 16-bit
//!   ports) the values keep enough to re-encode the exact same bytes:
//!   decoding then encoding any message produced by `ovs-ofctl` gives back
//!   identical bytes (tests/ovs_ofctl.rs checks it against the real tool).
//! - Matches are ordered OXM/NXM TLV lists ([`ofp::OxmMatch`]) with a typed
//!   [`ofp::Field`] per TLV and prerequisite checking; OF1.0 matches stay in
//!   their fixed form ([`ofp::match10::Match10`]) with a conversion to fields.
//! - Actions ([`ofp::Action`]) cover OF1.0 and OF1.1+ standard actions and
//!   the Nicira extension actions Open vSwitch emits; unknown ones are error
//!   values with the OFPET_BAD_ACTION code to report.
//! - Errors are values ([`ofp::OfpError`]); no input makes the codec panic
//!   (tests/fuzz.rs runs random and mutated inputs).

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod group;
pub mod meter;
pub mod normal;
pub mod ofp;
pub mod table;
pub mod tlv;
pub mod xlate;
