//! UDP and other protocols (OVS `lib/conntrack-other.c`): no L4 state
//! beyond "first packet / one direction / both directions".

use crate::proto::{L4Protocol, Update, UpdateResult};
use crate::tp::TpAttr;

/// State of a UDP/other connection (OVS `enum other_state`).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum OtherConn {
    /// One packet seen.
    First,
    /// Several packets, original direction only.
    Multiple,
    /// Packets in both directions.
    Bidir,
}

/// UDP / other-protocol tracker.
pub struct Other;

fn timeout(s: OtherConn) -> TpAttr {
    // OVS maps OTHER_MULTIPLE to UDP_SINGLE and OTHER_BIDIR to UDP_MULTIPLE.
    match s {
        OtherConn::First => TpAttr::UdpFirst,
        OtherConn::Multiple => TpAttr::UdpSingle,
        OtherConn::Bidir => TpAttr::UdpMultiple,
    }
}

impl L4Protocol for Other {
    type State = OtherConn;

    fn valid_new(_l4: &[u8]) -> bool {
        true
    }

    fn new_conn(_l4: &[u8]) -> (OtherConn, TpAttr) {
        (OtherConn::First, TpAttr::UdpFirst)
    }

    fn update(s: &mut OtherConn, _l4: &[u8], reply: bool, _seq_chk: bool) -> Update {
        let mut result = UpdateResult::Valid;
        if reply && *s != OtherConn::Bidir {
            *s = OtherConn::Bidir;
        } else if *s == OtherConn::First {
            *s = OtherConn::Multiple;
            result = UpdateResult::ValidNew;
        } else if *s == OtherConn::Multiple {
            result = UpdateResult::ValidNew;
        }
        Update {
            result,
            timeout: Some(timeout(*s)),
        }
    }
}
