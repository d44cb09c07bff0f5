//! OpenFlow actions: standard OF1.0 (OpenFlow 1.0.0 section 5.2.4) and OF1.1+
//! (OpenFlow 1.5.1 section 7.2.6) actions, plus the Nicira extension actions
//! Open vSwitch emits (codec in [`super::nx_actions`]).
//!
//! Every action starts with `type: u16, len: u16` (network order) and is a
//! multiple of 8 bytes long. Type 0xFFFF is OFPAT_EXPERIMENTER (OF1.0
//! OFPAT_VENDOR): `experimenter: u32` follows; Nicira (0x00002320) actions then
//! carry `subtype: u16`. Some actions exist only in some versions, and OF1.0
//! spells several OF1.1+ actions as Nicira extensions; [`Action`] is the same
//! in all versions and the version picks the spelling.

use super::error::{ErrorCode, OfpError};
use super::nx_actions::{self, Controller2, Ct, Learn, Nat};
use super::oxm::{MatchField, OxmHeader, NX_VENDOR_ID};
use super::wire::{Rd, Wr};

/// OFPAT_EXPERIMENTER / OFPAT_VENDOR action type.
pub const OFPAT_EXPERIMENTER: u16 = 0xffff;

/// Reserved port: OFPP_CONTROLLER (32-bit form; OF1.0 uses 0xfffd).
pub const OFPP_CONTROLLER: u32 = 0xffff_fffd;
/// Reserved port: OFPP_ANY / OF1.0 OFPP_NONE (32-bit form).
pub const OFPP_ANY: u32 = 0xffff_ffff;
/// Reserved port: OFPP_IN_PORT.
pub const OFPP_IN_PORT: u32 = 0xffff_fff8;
/// Reserved port: OFPP_TABLE.
pub const OFPP_TABLE: u32 = 0xffff_fff9;
/// Reserved port: OFPP_NORMAL.
pub const OFPP_NORMAL: u32 = 0xffff_fffa;
/// Reserved port: OFPP_FLOOD.
pub const OFPP_FLOOD: u32 = 0xffff_fffb;
/// Reserved port: OFPP_ALL.
pub const OFPP_ALL: u32 = 0xffff_fffc;
/// Reserved port: OFPP_LOCAL.
pub const OFPP_LOCAL: u32 = 0xffff_fffe;

/// OF1.0 16-bit port number to the 32-bit space (0xff00.. map to 0xffffff00..),
/// as OpenFlow 1.1+ (section 7.2.1) and Open vSwitch `ofputil_port_from_ofp11`.
pub fn port_from_of10(p: u16) -> u32 {
    if p >= 0xff00 {
        0xffff_0000 | p as u32
    } else {
        p as u32
    }
}

/// Inverse of [`port_from_of10`]; ports that do not fit give 0 (OFPP_NONE-less).
pub fn port_to_of10(p: u32) -> u16 {
    if !(0xff00..0xffff_ff00).contains(&p) {
        p as u16
    } else {
        0
    }
}

/// One action, version independent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// OFPAT_OUTPUT: port (32-bit space) and bytes to send to the controller.
    Output {
        /// Output port.
        port: u32,
        /// Max bytes sent when `port` is OFPP_CONTROLLER.
        max_len: u16,
    },
    /// OF1.0/1.1 OFPAT_SET_VLAN_VID (12-bit VID).
    SetVlanVid(u16),
    /// OF1.0/1.1 OFPAT_SET_VLAN_PCP.
    SetVlanPcp(u8),
    /// OF1.0 OFPAT_STRIP_VLAN.
    StripVlan,
    /// OFPAT_SET_DL_SRC (deprecated in OF1.2+).
    SetDlSrc([u8; 6]),
    /// OFPAT_SET_DL_DST.
    SetDlDst([u8; 6]),
    /// OFPAT_SET_NW_SRC (IPv4, network order as u32).
    SetNwSrc(u32),
    /// OFPAT_SET_NW_DST.
    SetNwDst(u32),
    /// OFPAT_SET_NW_TOS (DSCP in TOS position).
    SetNwTos(u8),
    /// OF1.1 OFPAT_SET_NW_ECN.
    SetNwEcn(u8),
    /// OFPAT_SET_TP_SRC.
    SetTpSrc(u16),
    /// OFPAT_SET_TP_DST.
    SetTpDst(u16),
    /// OF1.0 OFPAT_ENQUEUE: port (16-bit OF1.0 space) and queue.
    Enqueue {
        /// Output port (OF1.0 numbering).
        port: u16,
        /// Queue id.
        queue_id: u32,
    },
    /// OFPAT_COPY_TTL_OUT.
    CopyTtlOut,
    /// OFPAT_COPY_TTL_IN.
    CopyTtlIn,
    /// OFPAT_SET_MPLS_LABEL (OF1.1; NX in OF1.0).
    SetMplsLabel(u32),
    /// OFPAT_SET_MPLS_TC (OF1.1; NX in OF1.0).
    SetMplsTc(u8),
    /// OFPAT_SET_MPLS_TTL.
    SetMplsTtl(u8),
    /// OFPAT_DEC_MPLS_TTL.
    DecMplsTtl,
    /// OFPAT_PUSH_VLAN: the TPID Ethertype (0x8100 / 0x88a8).
    PushVlan(u16),
    /// OFPAT_POP_VLAN.
    PopVlan,
    /// OFPAT_PUSH_MPLS: the MPLS Ethertype.
    PushMpls(u16),
    /// OFPAT_POP_MPLS: the Ethertype of the payload.
    PopMpls(u16),
    /// OFPAT_SET_QUEUE.
    SetQueue(u32),
    /// OFPAT_GROUP.
    Group(u32),
    /// OFPAT_SET_NW_TTL.
    SetNwTtl(u8),
    /// OFPAT_DEC_NW_TTL (NXAST_DEC_TTL in OF1.0).
    DecNwTtl,
    /// OFPAT_SET_FIELD (OF1.2+): one OXM TLV (masked only in OF1.5).
    SetField(MatchField),
    /// OFPAT_PUSH_PBB.
    PushPbb(u16),
    /// OFPAT_POP_PBB.
    PopPbb,
    /// OF1.5 OFPAT_METER.
    Meter(u32),
    /// NXAST_RESUBMIT / NXAST_RESUBMIT_TABLE / NXAST_RESUBMIT_TABLE_CT.
    Resubmit {
        /// Port to pretend the packet came in on (OFPP_IN_PORT 0xfff8 = keep).
        in_port: u16,
        /// Table, 255 = current table.
        table: u8,
        /// Use the conntrack original tuple (`resubmit(,T,ct)`).
        ct: bool,
        /// Spelled as the 16-byte NXAST_RESUBMIT (no table); Open vSwitch
        /// itself always writes NXAST_RESUBMIT_TABLE.
        short: bool,
    },
    /// NXAST_SET_TUNNEL (32-bit) or NXAST_SET_TUNNEL64.
    SetTunnel {
        /// Tunnel id.
        tun_id: u64,
        /// Spelled as NXAST_SET_TUNNEL64.
        wide: bool,
    },
    /// NXAST_POP_QUEUE.
    PopQueue,
    /// NXAST_REG_MOVE (OF1.0-1.4) / OF1.5 OFPAT_COPY_FIELD (28: `n_bits u16,
    /// src_offset u16, dst_offset u16, pad[2], src header, dst header`):
    /// copy `n_bits` from src[src_ofs..] to dst[dst_ofs..].
    RegMove {
        /// Bits to copy.
        n_bits: u16,
        /// Source bit offset.
        src_ofs: u16,
        /// Destination bit offset.
        dst_ofs: u16,
        /// Source field header.
        src: OxmHeader,
        /// Destination field header.
        dst: OxmHeader,
    },
    /// NXAST_REG_LOAD: load `value` into dst bits encoded in `ofs_nbits`
    /// (offset << 6 | (n_bits - 1)).
    RegLoad {
        /// offset << 6 | (n_bits - 1).
        ofs_nbits: u16,
        /// Destination field header.
        dst: OxmHeader,
        /// Value (right-aligned).
        value: u64,
    },
    /// NXAST_REG_LOAD2: set_field as an OXM TLV (masked allowed).
    RegLoad2(MatchField),
    /// NXAST_NOTE: opaque bytes (trailing zero padding included).
    Note(Vec<u8>),
    /// NXAST_MULTIPATH.
    Multipath(nx_actions::Multipath),
    /// NXAST_BUNDLE / NXAST_BUNDLE_LOAD.
    Bundle(nx_actions::Bundle),
    /// NXAST_OUTPUT_REG: output to the port in src bits.
    OutputReg {
        /// offset << 6 | (n_bits - 1).
        ofs_nbits: u16,
        /// Source field header.
        src: OxmHeader,
        /// Max bytes to the controller.
        max_len: u16,
        /// Spelled as NXAST_OUTPUT_REG2.
        v2: bool,
    },
    /// NXAST_LEARN.
    Learn(Box<Learn>),
    /// NXAST_EXIT.
    Exit,
    /// NXAST_DEC_TTL_CNT_IDS: dec_ttl with controller ids.
    DecTtlCntIds(Vec<u16>),
    /// NXAST_FIN_TIMEOUT (seconds).
    FinTimeout {
        /// Idle timeout after FIN/RST.
        idle: u16,
        /// Hard timeout after FIN/RST.
        hard: u16,
    },
    /// NXAST_CONTROLLER.
    Controller {
        /// Max bytes of packet.
        max_len: u16,
        /// Controller connection id.
        controller_id: u16,
        /// OFPR_* reason.
        reason: u8,
    },
    /// NXAST_CONTROLLER2 (properties).
    Controller2(Controller2),
    /// NXAST_WRITE_METADATA (OF1.0; an instruction in OF1.1+).
    WriteMetadata {
        /// New bits.
        metadata: u64,
        /// Which bits.
        mask: u64,
    },
    /// NXAST_STACK_PUSH / NXAST_STACK_POP.
    Stack {
        /// Pop instead of push.
        pop: bool,
        /// Bit offset in the field.
        offset: u16,
        /// Field header.
        field: OxmHeader,
        /// Bit count.
        n_bits: u16,
    },
    /// NXAST_SAMPLE / SAMPLE2 / SAMPLE3.
    Sample(nx_actions::Sample),
    /// NXAST_CONJUNCTION.
    Conjunction {
        /// Clause index (0-based).
        clause: u8,
        /// Number of clauses.
        n_clauses: u8,
        /// Conjunction id.
        id: u32,
    },
    /// NXAST_CT.
    Ct(Box<Ct>),
    /// NXAST_NAT (only valid inside ct).
    Nat(Nat),
    /// NXAST_OUTPUT_TRUNC.
    OutputTrunc {
        /// Output port (OF1.0 numbering).
        port: u16,
        /// Truncate to this many bytes.
        max_len: u32,
    },
    /// NXAST_CLONE with nested actions.
    Clone(Vec<Action>),
    /// NXAST_CT_CLEAR.
    CtClear,
    /// NXAST_ENCAP.
    Encap {
        /// Header size hint (0 = default).
        hdr_size: u16,
        /// New packet type (namespace << 16 | type).
        new_pkt_type: u32,
        /// Encoded properties, verbatim.
        props: Vec<u8>,
    },
    /// NXAST_DECAP.
    Decap {
        /// New packet type, or 0xfffe for "use next protocol".
        new_pkt_type: u32,
    },
    /// NXAST_DEC_NSH_TTL.
    DecNshTtl,
    /// NXAST_CHECK_PKT_LARGER.
    CheckPktLarger {
        /// Length threshold (bytes).
        pkt_len: u16,
        /// Bit offset in `dst`.
        offset: u16,
        /// 1-bit result field.
        dst: OxmHeader,
    },
    /// NXAST_DELETE_FIELD.
    DeleteField(OxmHeader),
}

/// Deepest nesting of action lists (clone / ct inside clone / ct ...)
/// accepted; deeper input is OFPBAC_BAD_ARGUMENT instead of exhausting the
/// stack.
pub const MAX_ACTION_NESTING: u32 = 32;

thread_local! {
    static DEPTH: std::cell::Cell<u32> = const { std::cell::Cell::new(0) };
}

/// Reads all of `b` as consecutive actions for `version`.
pub fn decode_actions(b: &[u8], version: u8) -> Result<Vec<Action>, OfpError> {
    let depth = DEPTH.with(|d| d.get());
    if depth >= MAX_ACTION_NESTING {
        return Err(OfpError::new(
            ErrorCode::BadActionArgument,
            "actions nested too deeply",
        ));
    }
    DEPTH.with(|d| d.set(depth + 1));
    let res = (|| {
        let mut r = Rd::with_short(b, ErrorCode::BadActionLen);
        let mut out = Vec::new();
        while !r.is_empty() {
            out.push(Action::read(&mut r, version)?);
        }
        Ok(out)
    })();
    DEPTH.with(|d| d.set(depth));
    res
}

/// Appends actions for `version`.
pub fn encode_actions(acts: &[Action], version: u8, w: &mut Vec<u8>) {
    for a in acts {
        a.write(version, w);
    }
}

fn bad_len<T>() -> Result<T, OfpError> {
    Err(OfpError::new(ErrorCode::BadActionLen, "action length"))
}

impl Action {
    /// Reads one action (header included) from `r`.
    pub fn read(r: &mut Rd<'_>, version: u8) -> Result<Action, OfpError> {
        let t = r.peek_u16(0)?;
        let len = r.peek_u16(2)? as usize;
        if len < 8 || len % 8 != 0 || len > r.remaining() {
            return bad_len();
        }
        let mut a = r.sub(len)?;
        a.skip(4)?;
        if t == OFPAT_EXPERIMENTER {
            let exp = a.u32()?;
            if exp != NX_VENDOR_ID {
                return Err(OfpError::new(
                    ErrorCode::BadActionExperimenter,
                    "unknown action experimenter",
                ));
            }
            let subtype = a.u16()?;
            return nx_actions::decode(subtype, &mut a, version);
        }
        let of10 = version == 1;
        let need = |n: usize| if len == n { Ok(()) } else { bad_len() };
        let act = if of10 {
            match t {
                0 => {
                    need(8)?;
                    Action::Output {
                        port: port_from_of10(a.u16()?),
                        max_len: a.u16()?,
                    }
                }
                1 => {
                    need(8)?;
                    Action::SetVlanVid(a.u16()?)
                }
                2 => {
                    need(8)?;
                    Action::SetVlanPcp(a.u8()?)
                }
                3 => {
                    need(8)?;
                    Action::StripVlan
                }
                4 | 5 => {
                    need(16)?;
                    let m = a.arr()?;
                    if t == 4 {
                        Action::SetDlSrc(m)
                    } else {
                        Action::SetDlDst(m)
                    }
                }
                6 => {
                    need(8)?;
                    Action::SetNwSrc(a.u32()?)
                }
                7 => {
                    need(8)?;
                    Action::SetNwDst(a.u32()?)
                }
                8 => {
                    need(8)?;
                    Action::SetNwTos(a.u8()?)
                }
                9 => {
                    need(8)?;
                    Action::SetTpSrc(a.u16()?)
                }
                10 => {
                    need(8)?;
                    Action::SetTpDst(a.u16()?)
                }
                11 => {
                    need(16)?;
                    let port = a.u16()?;
                    a.skip(6)?;
                    Action::Enqueue {
                        port,
                        queue_id: a.u32()?,
                    }
                }
                _ => {
                    return Err(OfpError::new(
                        ErrorCode::BadActionType,
                        "unknown OF1.0 action type",
                    ))
                }
            }
        } else {
            match t {
                0 => {
                    need(16)?;
                    Action::Output {
                        port: a.u32()?,
                        max_len: a.u16()?,
                    }
                }
                1 | 2 | 7 | 8 | 12 | 11 | 14 | 15 | 16 | 18 | 23 | 24 | 27 => {
                    need(8)?;
                    match t {
                        1 => Action::SetVlanVid(a.u16()?),
                        2 => Action::SetVlanPcp(a.u8()?),
                        7 => Action::SetNwTos(a.u8()?),
                        8 => Action::SetNwEcn(a.u8()?),
                        11 => Action::CopyTtlOut,
                        12 => Action::CopyTtlIn,
                        14 => Action::SetMplsTc(a.u8()?),
                        15 => Action::SetMplsTtl(a.u8()?),
                        16 => Action::DecMplsTtl,
                        18 => Action::PopVlan,
                        23 => Action::SetNwTtl(a.u8()?),
                        24 => Action::DecNwTtl,
                        _ => Action::PopPbb,
                    }
                }
                3 | 4 => {
                    need(16)?;
                    let m = a.arr()?;
                    if t == 3 {
                        Action::SetDlSrc(m)
                    } else {
                        Action::SetDlDst(m)
                    }
                }
                5 | 6 | 9 | 10 | 13 | 17 | 19 | 20 | 21 | 22 | 26 | 29 => {
                    need(8)?;
                    match t {
                        5 => Action::SetNwSrc(a.u32()?),
                        6 => Action::SetNwDst(a.u32()?),
                        9 => Action::SetTpSrc(a.u16()?),
                        10 => Action::SetTpDst(a.u16()?),
                        13 => Action::SetMplsLabel(a.u32()?),
                        17 => Action::PushVlan(a.u16()?),
                        19 => Action::PushMpls(a.u16()?),
                        20 => Action::PopMpls(a.u16()?),
                        21 => Action::SetQueue(a.u32()?),
                        22 => Action::Group(a.u32()?),
                        26 => Action::PushPbb(a.u16()?),
                        _ => Action::Meter(a.u32()?),
                    }
                }
                28 => {
                    let n_bits = a.u16()?;
                    let src_ofs = a.u16()?;
                    let dst_ofs = a.u16()?;
                    a.skip(2)?;
                    let src = OxmHeader::read(&mut a)?;
                    let dst = OxmHeader::read(&mut a)?;
                    Action::RegMove {
                        n_bits,
                        src_ofs,
                        dst_ofs,
                        src,
                        dst,
                    }
                }
                25 => {
                    let f = MatchField::read(&mut a)
                        .map_err(|e| OfpError::new(ErrorCode::BadActionSetLen, e.detail))?;
                    if a.rest().iter().any(|&b| b != 0)
                        || crate::ofp::wire::pad8(8 + f.header().length as usize) != len
                    {
                        return Err(OfpError::new(
                            ErrorCode::BadActionSetLen,
                            "set_field padding",
                        ));
                    }
                    Action::SetField(f)
                }
                _ => {
                    return Err(OfpError::new(
                        ErrorCode::BadActionType,
                        "unknown action type",
                    ))
                }
            }
        };
        Ok(act)
    }

    /// Appends this action spelled for `version`.
    pub fn write(&self, version: u8, w: &mut Vec<u8>) {
        let start = w.len();
        let of10 = version == 1;
        // Header with a placeholder length, patched at the end.
        let std = |w: &mut Vec<u8>, t: u16| {
            w.u16(t);
            w.u16(0);
        };
        match self {
            Action::Output { port, max_len } => {
                std(w, 0);
                if of10 {
                    w.u16(port_to_of10(*port));
                    w.u16(*max_len);
                } else {
                    w.u32(*port);
                    w.u16(*max_len);
                }
            }
            Action::SetVlanVid(v) => {
                std(w, 1);
                w.u16(*v);
            }
            Action::SetVlanPcp(v) => {
                std(w, 2);
                w.u8(*v);
            }
            Action::StripVlan => std(w, 3),
            Action::SetDlSrc(m) | Action::SetDlDst(m) => {
                let src = matches!(self, Action::SetDlSrc(_));
                std(w, if of10 { 4 } else { 3 } + if src { 0 } else { 1 });
                w.put(m);
                w.zeros(6);
            }
            Action::SetNwSrc(v) => {
                std(w, if of10 { 6 } else { 5 });
                w.u32(*v);
            }
            Action::SetNwDst(v) => {
                std(w, if of10 { 7 } else { 6 });
                w.u32(*v);
            }
            Action::SetNwTos(v) => {
                std(w, if of10 { 8 } else { 7 });
                w.u8(*v);
            }
            Action::SetNwEcn(v) => {
                std(w, 8);
                w.u8(*v);
            }
            Action::SetTpSrc(v) => {
                std(w, 9);
                w.u16(*v);
            }
            Action::SetTpDst(v) => {
                std(w, 10);
                w.u16(*v);
            }
            Action::Enqueue { port, queue_id } => {
                std(w, 11);
                w.u16(*port);
                w.zeros(6);
                w.u32(*queue_id);
            }
            Action::CopyTtlOut => std(w, 11),
            Action::CopyTtlIn => std(w, 12),
            Action::SetMplsLabel(v) if !of10 => {
                std(w, 13);
                w.u32(*v);
            }
            Action::SetMplsTc(v) if !of10 => {
                std(w, 14);
                w.u8(*v);
            }
            Action::SetMplsTtl(v) if !of10 => {
                std(w, 15);
                w.u8(*v);
            }
            Action::DecMplsTtl if !of10 => std(w, 16),
            Action::PushVlan(v) => {
                std(w, 17);
                w.u16(*v);
            }
            Action::PopVlan => std(w, 18),
            Action::PushMpls(v) if !of10 => {
                std(w, 19);
                w.u16(*v);
            }
            Action::PopMpls(v) if !of10 => {
                std(w, 20);
                w.u16(*v);
            }
            Action::SetQueue(v) if !of10 => {
                std(w, 21);
                w.u32(*v);
            }
            Action::Group(v) if !of10 => {
                std(w, 22);
                w.u32(*v);
            }
            Action::SetNwTtl(v) => {
                std(w, 23);
                w.u8(*v);
            }
            Action::DecNwTtl if !of10 => std(w, 24),
            Action::SetField(f) => {
                std(w, 25);
                f.write(w);
            }
            Action::PushPbb(v) => {
                std(w, 26);
                w.u16(*v);
            }
            Action::PopPbb => std(w, 27),
            Action::Meter(v) => {
                std(w, 29);
                w.u32(*v);
            }
            Action::RegMove {
                n_bits,
                src_ofs,
                dst_ofs,
                src,
                dst,
            } if version >= 6 => {
                std(w, 28);
                w.u16(*n_bits);
                w.u16(*src_ofs);
                w.u16(*dst_ofs);
                w.zeros(2);
                src.write(w);
                dst.write(w);
            }
            nx => super::nx_actions_enc::encode(nx, version, w),
        }
        w.pad_from(start, 8);
        let len = (w.len() - start) as u16;
        w.set_u16(start + 2, len);
    }
}
