//! OpenFlow wire codec (sans-IO): bytes in, typed messages out, and back.
//!
//! Layout per concern: [`header`] (framing, [`Decoder`]), [`hello`]
//! (version negotiation), [`error`] (errors as values), [`oxm`] and
//! [`match10`] (matches), [`actions`], [`nx_actions`], [`instructions`],
//! [`msgs`] (the [`Message`] enum), [`flow`], [`switch`], [`multipart`],
//! [`nicira`] (vendor messages), [`async_cfg`] (SET_ASYNC, ROLE_STATUS).

pub mod actions;
pub mod async_cfg;
pub mod continuation;
pub mod ct_flush;
pub mod error;
pub mod flow;
pub mod header;
pub mod hello;
pub mod instructions;
pub mod match10;
pub mod match11;
pub mod mp_reply;
pub mod msgs;
pub mod multipart;
pub mod nicira;
pub mod nx_actions;
pub mod nx_actions_enc;
pub mod oxm;
pub mod switch;
pub mod wire;

pub use actions::Action;
pub use error::{ErrorCode, OfpError};
pub use flow::{FlowMod, FlowRemoved, Match, PacketIn, PacketOut};
pub use header::{Decoder, Header, Rejected};
pub use hello::{negotiate, Hello};
pub use instructions::Instruction;
pub use msgs::{ErrorMsg, Message};
pub use oxm::{Field, MatchField, OxmMatch};
