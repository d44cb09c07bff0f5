//! ICMP and ICMPv6 queries (OVS `lib/conntrack-icmp.c`). Error messages
//! are not connections: they are mapped to the connection they quote
//! (`+rel`) by the key parser.

use crate::proto::{L4Protocol, Update, UpdateResult};
use crate::tp::TpAttr;

/// State of an ICMP query connection (OVS `enum icmp_state`).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum IcmpConn {
    /// Request(s) seen.
    First,
    /// A reply was seen.
    Reply,
}

/// ICMP / ICMPv6 tracker.
pub struct Icmp;

impl L4Protocol for Icmp {
    type State = IcmpConn;

    /// Only requests start a connection: ICMPv4 echo (8), timestamp (13),
    /// information (15), address mask (17) requests (RFC 792, RFC 950);
    /// ICMPv6 echo request (128, RFC 4443).
    fn valid_new(l4: &[u8]) -> bool {
        matches!(l4.first(), Some(8 | 13 | 15 | 17 | 128))
    }

    fn new_conn(_l4: &[u8]) -> (IcmpConn, TpAttr) {
        (IcmpConn::First, TpAttr::IcmpFirst)
    }

    fn update(s: &mut IcmpConn, _l4: &[u8], reply: bool, _seq_chk: bool) -> Update {
        let mut result = UpdateResult::Valid;
        if reply && *s == IcmpConn::First {
            *s = IcmpConn::Reply;
        } else if *s == IcmpConn::First {
            result = UpdateResult::ValidNew;
        }
        Update {
            result,
            timeout: Some(match *s {
                IcmpConn::First => TpAttr::IcmpFirst,
                IcmpConn::Reply => TpAttr::IcmpReply,
            }),
        }
    }
}
