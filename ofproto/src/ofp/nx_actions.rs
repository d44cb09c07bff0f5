//! Nicira extension actions (vendor 0x00002320), Open vSwitch
//! `include/openflow/nicira-ext.h` and `lib/ofp-actions.c`.
//!
//! Wire header (`nx_action_header`): `type=0xFFFF: u16, len: u16,
//! vendor=0x00002320: u32, subtype: u16`, then the body; total a multiple of
//! 8. Field references are NXM/OXM headers (4 bytes, or 8 for experimenter
//! classes), `ofs_nbits` is `offset << 6 | (n_bits - 1)`.

use super::actions::{decode_actions, Action};
use super::error::{ErrorCode, OfpError};
use super::oxm::{MatchField, OxmHeader};
use super::wire::Rd;

/// NXAST_MULTIPATH body.
#[allow(missing_docs)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Multipath {
    /// NX_HASH_FIELDS_*.
    pub fields: u16,
    pub basis: u16,
    /// NX_MP_ALG_*.
    pub algorithm: u16,
    pub max_link: u16,
    pub arg: u32,
    pub ofs_nbits: u16,
    pub dst: OxmHeader,
}

/// NXAST_BUNDLE / NXAST_BUNDLE_LOAD body.
#[allow(missing_docs)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bundle {
    /// NXAST_BUNDLE_LOAD (writes the chosen member to `dst`).
    pub load: bool,
    /// NX_BD_ALG_*.
    pub algorithm: u16,
    pub fields: u16,
    pub basis: u16,
    /// Header of the member type field (NXM_OF_IN_PORT).
    pub slave_type: u32,
    pub ofs_nbits: u16,
    /// Destination header (raw u32; 0 for plain bundle).
    pub dst: u32,
    /// Member OpenFlow ports (OF1.0 numbering).
    pub members: Vec<u16>,
}

/// NXAST_SAMPLE (29) / SAMPLE2 (38) / SAMPLE3 (41).
#[allow(missing_docs)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sample {
    /// 29, 38 or 41.
    pub subtype: u16,
    /// Probability in units of 1/65535.
    pub probability: u16,
    pub collector_set_id: u32,
    pub obs_domain_id: u32,
    pub obs_point_id: u32,
    /// SAMPLE2/3 only.
    pub sampling_port: u16,
    /// SAMPLE3 only: NX_ACTION_SAMPLE_DEFAULT/INGRESS/EGRESS.
    pub direction: u8,
}

/// One `learn` flow_mod_spec (nicira-ext.h "Learn" section).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LearnSpec {
    /// The 16-bit spec header: src type (bit 13), dst type (bits 11-12),
    /// n_bits (bits 0-9).
    pub header: u16,
    /// Source: a field (header + bit offset) or an immediate value
    /// (`ceil(n_bits/16)*2` bytes).
    pub src: LearnSrc,
    /// Destination field and bit offset; `None` for NX_LEARN_DST_OUTPUT.
    pub dst: Option<(OxmHeader, u16)>,
}

/// Source of a [`LearnSpec`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LearnSrc {
    /// NX_LEARN_SRC_FIELD: header and bit offset.
    Field(OxmHeader, u16),
    /// NX_LEARN_SRC_IMMEDIATE: value bytes.
    Immediate(Vec<u8>),
}

/// NXAST_LEARN / NXAST_LEARN2 body (`nicira-ext.h` `nx_action_learn`,
/// `nx_action_learn2`). A learn with a nonzero `limit` or a `result_dst`
/// (flag NX_LEARN_F_WRITE_RESULT) is spelled as NXAST_LEARN2, as OVS
/// `encode_LEARN()` does.
#[allow(missing_docs)]
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Learn {
    pub idle_timeout: u16,
    pub hard_timeout: u16,
    pub priority: u16,
    pub cookie: u64,
    /// NX_LEARN_F_*.
    pub flags: u16,
    pub table_id: u8,
    pub fin_idle_timeout: u16,
    pub fin_hard_timeout: u16,
    pub specs: Vec<LearnSpec>,
    /// NXAST_LEARN2 `limit`: at most this many flows in `table_id` with
    /// `cookie` are learned (0: no limit).
    pub limit: u32,
    /// NXAST_LEARN2 result destination (field header, bit offset): 1 is
    /// written to that bit when the flow was learned, 0 when the limit
    /// stopped it. Present iff NX_LEARN_F_WRITE_RESULT is in `flags`.
    pub result_dst: Option<(OxmHeader, u16)>,
}

/// NXAST_CT body.
#[allow(missing_docs)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ct {
    /// NX_CT_F_COMMIT (1), NX_CT_F_FORCE (2).
    pub flags: u16,
    /// Zone source field header (raw u32), 0 for an immediate zone.
    pub zone_src: u32,
    /// Immediate zone, or ofs_nbits of `zone_src`.
    pub zone: u16,
    /// Table to recirculate to, 255 = none.
    pub recirc_table: u8,
    /// ALG port (e.g. 21 ftp), 0 = none.
    pub alg: u16,
    /// Nested actions (`exec(...)`, `nat`).
    pub actions: Vec<Action>,
}

/// NXAST_NAT body; address/port ranges present per `range_present`
/// (NX_NAT_RANGE_IPV4_MIN 1, _MAX 2, IPV6_MIN 4, _MAX 8, PROTO_MIN 16, _MAX 32).
#[allow(missing_docs)]
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Nat {
    /// NX_NAT_F_SRC 1, DST 2, PERSISTENT 4, PROTO_HASH 8, PROTO_RANDOM 16.
    pub flags: u16,
    pub range_present: u16,
    pub ipv4_min: u32,
    pub ipv4_max: u32,
    pub ipv6_min: [u8; 16],
    pub ipv6_max: [u8; 16],
    pub proto_min: u16,
    pub proto_max: u16,
}

/// NXAST_CONTROLLER2 properties (NXAC2PT_*), encoded in this order.
#[allow(missing_docs)]
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Controller2 {
    /// NXAC2PT_MAX_LEN (0).
    pub max_len: Option<u16>,
    /// NXAC2PT_CONTROLLER_ID (1).
    pub controller_id: Option<u16>,
    /// NXAC2PT_REASON (2).
    pub reason: Option<u8>,
    /// NXAC2PT_USERDATA (3).
    pub userdata: Option<Vec<u8>>,
    /// NXAC2PT_PAUSE (4).
    pub pause: bool,
    /// NXAC2PT_METER_ID (5).
    pub meter_id: Option<u32>,
}

/// NXAST_* subtype numbers used here.
#[allow(missing_docs)]
pub mod subtype {
    pub const RESUBMIT: u16 = 1;
    pub const SET_TUNNEL: u16 = 2;
    pub const SET_QUEUE: u16 = 4;
    pub const POP_QUEUE: u16 = 5;
    pub const REG_MOVE: u16 = 6;
    pub const REG_LOAD: u16 = 7;
    pub const NOTE: u16 = 8;
    pub const SET_TUNNEL64: u16 = 9;
    pub const MULTIPATH: u16 = 10;
    pub const BUNDLE: u16 = 12;
    pub const BUNDLE_LOAD: u16 = 13;
    pub const RESUBMIT_TABLE: u16 = 14;
    pub const OUTPUT_REG: u16 = 15;
    pub const LEARN: u16 = 16;
    pub const LEARN2: u16 = 45;
    pub const EXIT: u16 = 17;
    pub const DEC_TTL: u16 = 18;
    pub const FIN_TIMEOUT: u16 = 19;
    pub const CONTROLLER: u16 = 20;
    pub const DEC_TTL_CNT_IDS: u16 = 21;
    pub const WRITE_METADATA: u16 = 22;
    pub const PUSH_MPLS: u16 = 23;
    pub const POP_MPLS: u16 = 24;
    pub const SET_MPLS_TTL: u16 = 25;
    pub const DEC_MPLS_TTL: u16 = 26;
    pub const STACK_PUSH: u16 = 27;
    pub const STACK_POP: u16 = 28;
    pub const SAMPLE: u16 = 29;
    pub const SET_MPLS_LABEL: u16 = 30;
    pub const SET_MPLS_TC: u16 = 31;
    pub const OUTPUT_REG2: u16 = 32;
    pub const REG_LOAD2: u16 = 33;
    pub const CONJUNCTION: u16 = 34;
    pub const CT: u16 = 35;
    pub const NAT: u16 = 36;
    pub const CONTROLLER2: u16 = 37;
    pub const SAMPLE2: u16 = 38;
    pub const OUTPUT_TRUNC: u16 = 39;
    pub const GROUP: u16 = 40;
    pub const SAMPLE3: u16 = 41;
    pub const CLONE: u16 = 42;
    pub const CT_CLEAR: u16 = 43;
    pub const RESUBMIT_TABLE_CT: u16 = 44;
    pub const ENCAP: u16 = 46;
    pub const DECAP: u16 = 47;
    pub const DEC_NSH_TTL: u16 = 48;
    pub const CHECK_PKT_LARGER: u16 = 49;
    pub const DELETE_FIELD: u16 = 50;
}

fn arg_err<T>(d: &'static str) -> Result<T, OfpError> {
    Err(OfpError::new(ErrorCode::BadActionArgument, d))
}

/// Decodes the body of a Nicira action; `a` is positioned after `subtype`
/// and spans exactly the action. Unknown subtypes are OFPBAC_BAD_EXP_TYPE.
pub fn decode(st: u16, a: &mut Rd<'_>, version: u8) -> Result<Action, OfpError> {
    use subtype::*;
    let of10 = version == 1;
    let act = match st {
        RESUBMIT => Action::Resubmit {
            in_port: a.u16()?,
            table: 255,
            ct: false,
            short: true,
        },
        RESUBMIT_TABLE | RESUBMIT_TABLE_CT => {
            let in_port = a.u16()?;
            let table = a.u8()?;
            Action::Resubmit {
                in_port,
                table,
                ct: st == RESUBMIT_TABLE_CT,
                short: false,
            }
        }
        SET_TUNNEL => {
            a.skip(2)?;
            Action::SetTunnel {
                tun_id: a.u32()? as u64,
                wide: false,
            }
        }
        SET_TUNNEL64 => {
            a.skip(6)?;
            Action::SetTunnel {
                tun_id: a.u64()?,
                wide: true,
            }
        }
        POP_QUEUE => Action::PopQueue,
        REG_MOVE => {
            let n_bits = a.u16()?;
            let src_ofs = a.u16()?;
            let dst_ofs = a.u16()?;
            let src = OxmHeader::read(a)?;
            let dst = OxmHeader::read(a)?;
            Action::RegMove {
                n_bits,
                src_ofs,
                dst_ofs,
                src,
                dst,
            }
        }
        REG_LOAD => {
            let ofs_nbits = a.u16()?;
            let dst = OxmHeader::read(a)?;
            Action::RegLoad {
                ofs_nbits,
                dst,
                value: a.u64()?,
            }
        }
        REG_LOAD2 => {
            // The OXM starts right after the subtype (OVS
            // `decode_NXAST_RAW_REG_LOAD2()` pulls only up to the pad).
            let f = MatchField::read(a)
                .map_err(|e| OfpError::new(ErrorCode::BadActionSetLen, e.detail))?;
            Action::RegLoad2(f)
        }
        NOTE => Action::Note(a.rest().to_vec()),
        MULTIPATH => {
            let fields = a.u16()?;
            let basis = a.u16()?;
            a.skip(2)?;
            let algorithm = a.u16()?;
            let max_link = a.u16()?;
            let arg = a.u32()?;
            a.skip(2)?;
            let ofs_nbits = a.u16()?;
            let dst = OxmHeader::read(a)?;
            Action::Multipath(Multipath {
                fields,
                basis,
                algorithm,
                max_link,
                arg,
                ofs_nbits,
                dst,
            })
        }
        BUNDLE | BUNDLE_LOAD => {
            let algorithm = a.u16()?;
            let fields = a.u16()?;
            let basis = a.u16()?;
            let slave_type = a.u32()?;
            let n = a.u16()? as usize;
            let ofs_nbits = a.u16()?;
            let dst = a.u32()?;
            a.skip(4)?;
            let mut members = Vec::with_capacity(n.min(1024));
            for _ in 0..n {
                members.push(a.u16()?);
            }
            Action::Bundle(Bundle {
                load: st == BUNDLE_LOAD,
                algorithm,
                fields,
                basis,
                slave_type,
                ofs_nbits,
                dst,
                members,
            })
        }
        OUTPUT_REG => {
            let ofs_nbits = a.u16()?;
            let src = OxmHeader::read(a)?;
            Action::OutputReg {
                ofs_nbits,
                src,
                max_len: a.u16()?,
                v2: false,
            }
        }
        OUTPUT_REG2 => {
            let ofs_nbits = a.u16()?;
            let max_len = a.u16()?;
            let src = OxmHeader::read(a)?;
            Action::OutputReg {
                ofs_nbits,
                src,
                max_len,
                v2: true,
            }
        }
        LEARN => Action::Learn(Box::new(decode_learn(a, false)?)),
        LEARN2 => Action::Learn(Box::new(decode_learn(a, true)?)),
        EXIT => Action::Exit,
        DEC_TTL if of10 => Action::DecNwTtl,
        DEC_TTL_CNT_IDS => {
            let n = a.u16()? as usize;
            a.skip(4)?;
            let mut ids = Vec::with_capacity(n.min(1024));
            for _ in 0..n {
                ids.push(a.u16()?);
            }
            Action::DecTtlCntIds(ids)
        }
        FIN_TIMEOUT => Action::FinTimeout {
            idle: a.u16()?,
            hard: a.u16()?,
        },
        CONTROLLER => Action::Controller {
            max_len: a.u16()?,
            controller_id: a.u16()?,
            reason: a.u8()?,
        },
        CONTROLLER2 => {
            a.skip(6)?;
            Action::Controller2(decode_controller2(a)?)
        }
        WRITE_METADATA if of10 => {
            a.skip(6)?;
            Action::WriteMetadata {
                metadata: a.u64()?,
                mask: a.u64()?,
            }
        }
        STACK_PUSH | STACK_POP => {
            let offset = a.u16()?;
            let field = OxmHeader::read(a)?;
            Action::Stack {
                pop: st == STACK_POP,
                offset,
                field,
                n_bits: a.u16()?,
            }
        }
        SAMPLE | SAMPLE2 | SAMPLE3 => {
            let probability = a.u16()?;
            let collector_set_id = a.u32()?;
            let obs_domain_id = a.u32()?;
            let obs_point_id = a.u32()?;
            let (sampling_port, direction) = if st == SAMPLE {
                (0, 0)
            } else {
                (a.u16()?, a.u8()?)
            };
            Action::Sample(Sample {
                subtype: st,
                probability,
                collector_set_id,
                obs_domain_id,
                obs_point_id,
                sampling_port,
                direction,
            })
        }
        CONJUNCTION => Action::Conjunction {
            clause: a.u8()?,
            n_clauses: a.u8()?,
            id: a.u32()?,
        },
        CT => {
            let flags = a.u16()?;
            let zone_src = a.u32()?;
            let zone = a.u16()?;
            let recirc_table = a.u8()?;
            a.skip(3)?;
            let alg = a.u16()?;
            let actions = decode_actions(a.rest(), version)?;
            Action::Ct(Box::new(Ct {
                flags,
                zone_src,
                zone,
                recirc_table,
                alg,
                actions,
            }))
        }
        NAT => Action::Nat(decode_nat(a)?),
        OUTPUT_TRUNC => Action::OutputTrunc {
            port: a.u16()?,
            max_len: a.u32()?,
        },
        CLONE => {
            a.skip(6)?;
            Action::Clone(decode_actions(a.rest(), version)?)
        }
        CT_CLEAR => Action::CtClear,
        ENCAP => {
            let hdr_size = a.u16()?;
            let new_pkt_type = a.u32()?;
            Action::Encap {
                hdr_size,
                new_pkt_type,
                props: a.rest().to_vec(),
            }
        }
        DECAP => {
            a.skip(2)?;
            Action::Decap {
                new_pkt_type: a.u32()?,
            }
        }
        DEC_NSH_TTL => Action::DecNshTtl,
        CHECK_PKT_LARGER => {
            let pkt_len = a.u16()?;
            let offset = a.u16()?;
            Action::CheckPktLarger {
                pkt_len,
                offset,
                dst: OxmHeader::read(a)?,
            }
        }
        DELETE_FIELD => Action::DeleteField(OxmHeader::read(a)?),
        SET_QUEUE if of10 => {
            a.skip(2)?;
            Action::SetQueue(a.u32()?)
        }
        GROUP if of10 => {
            a.skip(2)?;
            Action::Group(a.u32()?)
        }
        PUSH_MPLS if of10 => Action::PushMpls(a.u16()?),
        POP_MPLS if of10 => Action::PopMpls(a.u16()?),
        SET_MPLS_TTL if of10 => Action::SetMplsTtl(a.u8()?),
        DEC_MPLS_TTL if of10 => Action::DecMplsTtl,
        SET_MPLS_LABEL if of10 => {
            a.skip(2)?;
            Action::SetMplsLabel(a.u32()?)
        }
        SET_MPLS_TC if of10 => Action::SetMplsTc(a.u8()?),
        _ => {
            return Err(OfpError::new(
                ErrorCode::BadActionExpType,
                "unknown Nicira action subtype",
            ))
        }
    };
    Ok(act)
}

/// NX_LEARN_F_WRITE_RESULT (NXAST_LEARN2 only).
pub const NX_LEARN_F_WRITE_RESULT: u16 = 1 << 2;

/// Decodes an NXAST_LEARN body, or with `v2` an NXAST_LEARN2 body (the
/// NXAST_LEARN fields, then `limit: u32, result_dst_ofs: u16, pad[2]` and,
/// with NX_LEARN_F_WRITE_RESULT, the result field's header; OVS
/// `decode_NXAST_RAW_LEARN2()`).
fn decode_learn(a: &mut Rd<'_>, v2: bool) -> Result<Learn, OfpError> {
    let idle_timeout = a.u16()?;
    let hard_timeout = a.u16()?;
    let priority = a.u16()?;
    let cookie = a.u64()?;
    let flags = a.u16()?;
    let table_id = a.u8()?;
    a.skip(1)?;
    let fin_idle_timeout = a.u16()?;
    let fin_hard_timeout = a.u16()?;
    let (mut limit, mut result_dst) = (0, None);
    if v2 {
        limit = a.u32()?;
        let ofs = a.u16()?;
        if a.u16()? != 0 {
            return arg_err("learn2: pad must be zero");
        }
        if flags & !7 != 0 {
            return arg_err("learn2: unknown flags");
        }
        if flags & NX_LEARN_F_WRITE_RESULT != 0 {
            result_dst = Some((OxmHeader::read(a)?, ofs));
        } else if ofs != 0 {
            return arg_err("learn2: result_dst_ofs without result_dst");
        }
    } else if flags & NX_LEARN_F_WRITE_RESULT != 0 {
        return arg_err("learn: write_result needs NXAST_LEARN2");
    }
    let mut specs = Vec::new();
    while a.remaining() >= 2 {
        let header = a.u16()?;
        if header == 0 {
            if a.rest().iter().any(|&b| b != 0) {
                return arg_err("learn: data after the spec list");
            }
            break;
        }
        let n_bits = (header & 0x3ff) as usize;
        let src = if header & (1 << 13) != 0 {
            LearnSrc::Immediate(a.bytes(n_bits.div_ceil(16) * 2)?.to_vec())
        } else {
            let h = OxmHeader::read(a)?;
            LearnSrc::Field(h, a.u16()?)
        };
        let dst = match (header >> 11) & 3 {
            0 | 1 => {
                let h = OxmHeader::read(a)?;
                Some((h, a.u16()?))
            }
            2 => None,
            _ => return arg_err("learn: bad dst type"),
        };
        specs.push(LearnSpec { header, src, dst });
    }
    Ok(Learn {
        idle_timeout,
        hard_timeout,
        priority,
        cookie,
        flags,
        table_id,
        fin_idle_timeout,
        fin_hard_timeout,
        specs,
        limit,
        result_dst,
    })
}

fn decode_nat(a: &mut Rd<'_>) -> Result<Nat, OfpError> {
    a.skip(2)?;
    let mut n = Nat {
        flags: a.u16()?,
        range_present: a.u16()?,
        ..Nat::default()
    };
    let p = n.range_present;
    if p & !0x3f != 0 {
        return arg_err("nat: unknown range bits");
    }
    if p & 1 != 0 {
        n.ipv4_min = a.u32()?;
    }
    if p & 2 != 0 {
        n.ipv4_max = a.u32()?;
    }
    if p & 4 != 0 {
        n.ipv6_min = a.arr()?;
    }
    if p & 8 != 0 {
        n.ipv6_max = a.arr()?;
    }
    if p & 16 != 0 {
        n.proto_min = a.u16()?;
    }
    if p & 32 != 0 {
        n.proto_max = a.u16()?;
    }
    Ok(n)
}

fn decode_controller2(a: &mut Rd<'_>) -> Result<Controller2, OfpError> {
    let mut c = Controller2::default();
    while a.remaining() >= 4 {
        let t = a.u16()?;
        let len = a.u16()? as usize;
        if len < 4 {
            return Err(OfpError::new(
                ErrorCode::BadActionLen,
                "controller2 property length",
            ));
        }
        let mut v = a.sub(len - 4)?;
        let pad = super::wire::pad8(len) - len;
        a.skip(pad.min(a.remaining()))?;
        match t {
            0 => c.max_len = Some(v.u16()?),
            1 => c.controller_id = Some(v.u16()?),
            2 => c.reason = Some(v.u8()?),
            3 => c.userdata = Some(v.rest().to_vec()),
            4 => c.pause = true,
            5 => c.meter_id = Some(v.u32()?),
            _ => return arg_err("controller2: unknown property"),
        }
    }
    Ok(c)
}
