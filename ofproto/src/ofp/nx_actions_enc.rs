//! Encoder half of the Nicira extension actions (layouts in
//! [`super::nx_actions`]).

use super::actions::{encode_actions, Action};
use super::nx_actions::{subtype, LearnSrc};
use super::oxm::NX_VENDOR_ID;
use super::wire::Wr;

fn hdr(w: &mut Vec<u8>, st: u16) -> usize {
    let start = w.len();
    w.u16(0xffff);
    w.u16(0);
    w.u32(NX_VENDOR_ID);
    w.u16(st);
    start
}

fn fill_to(w: &mut Vec<u8>, start: usize, n: usize) {
    if w.len() < start + n {
        w.resize(start + n, 0);
    }
}

/// Appends a Nicira-spelled action (header included; the caller pads to 8
/// and patches `len`). Standard actions that OF1.0 can only spell as Nicira
/// extensions (set_queue, group, MPLS, dec_ttl) are also written here.
pub fn encode(act: &Action, version: u8, w: &mut Vec<u8>) {
    use subtype::*;
    match act {
        Action::Resubmit {
            in_port,
            table,
            ct,
            short,
        } => {
            if *short && *table == 255 && !ct {
                hdr(w, RESUBMIT);
                w.u16(*in_port);
            } else {
                hdr(
                    w,
                    if *ct {
                        RESUBMIT_TABLE_CT
                    } else {
                        RESUBMIT_TABLE
                    },
                );
                w.u16(*in_port);
                w.u8(*table);
            }
        }
        Action::SetTunnel { tun_id, wide } => {
            if *wide {
                hdr(w, SET_TUNNEL64);
                w.zeros(6);
                w.u64(*tun_id);
            } else {
                hdr(w, SET_TUNNEL);
                w.zeros(2);
                w.u32(*tun_id as u32);
            }
        }
        Action::PopQueue => {
            hdr(w, POP_QUEUE);
        }
        Action::RegMove {
            n_bits,
            src_ofs,
            dst_ofs,
            src,
            dst,
        } => {
            hdr(w, REG_MOVE);
            w.u16(*n_bits);
            w.u16(*src_ofs);
            w.u16(*dst_ofs);
            src.write(w);
            dst.write(w);
        }
        Action::RegLoad {
            ofs_nbits,
            dst,
            value,
        } => {
            hdr(w, REG_LOAD);
            w.u16(*ofs_nbits);
            dst.write(w);
            w.u64(*value);
        }
        Action::RegLoad2(f) => {
            // The OXM starts right after the subtype, over the pad of
            // `ext_action_header` (OVS `put_reg_load2()`).
            hdr(w, REG_LOAD2);
            f.write(w);
        }
        Action::Note(b) => {
            hdr(w, NOTE);
            w.put(b);
        }
        Action::Multipath(m) => {
            hdr(w, MULTIPATH);
            w.u16(m.fields);
            w.u16(m.basis);
            w.zeros(2);
            w.u16(m.algorithm);
            w.u16(m.max_link);
            w.u32(m.arg);
            w.zeros(2);
            w.u16(m.ofs_nbits);
            m.dst.write(w);
        }
        Action::Bundle(b) => {
            hdr(w, if b.load { BUNDLE_LOAD } else { BUNDLE });
            w.u16(b.algorithm);
            w.u16(b.fields);
            w.u16(b.basis);
            w.u32(b.slave_type);
            w.u16(b.members.len() as u16);
            w.u16(b.ofs_nbits);
            w.u32(b.dst);
            w.zeros(4);
            for m in &b.members {
                w.u16(*m);
            }
        }
        Action::OutputReg {
            ofs_nbits,
            src,
            max_len,
            v2,
        } => {
            if *v2 {
                let s = hdr(w, OUTPUT_REG2);
                w.u16(*ofs_nbits);
                w.u16(*max_len);
                src.write(w);
                fill_to(w, s, 24);
            } else {
                let s = hdr(w, OUTPUT_REG);
                w.u16(*ofs_nbits);
                src.write(w);
                w.u16(*max_len);
                fill_to(w, s, 24);
            }
        }
        Action::Learn(l) => {
            let v2 = l.limit != 0 || l.result_dst.is_some();
            hdr(w, if v2 { LEARN2 } else { LEARN });
            w.u16(l.idle_timeout);
            w.u16(l.hard_timeout);
            w.u16(l.priority);
            w.u64(l.cookie);
            w.u16(l.flags);
            w.u8(l.table_id);
            w.zeros(1);
            w.u16(l.fin_idle_timeout);
            w.u16(l.fin_hard_timeout);
            if v2 {
                w.u32(l.limit);
                w.u16(l.result_dst.as_ref().map_or(0, |d| d.1));
                w.zeros(2);
                if let Some((h, _)) = &l.result_dst {
                    h.write(w);
                }
            }
            for s in &l.specs {
                w.u16(s.header);
                match &s.src {
                    LearnSrc::Field(h, ofs) => {
                        h.write(w);
                        w.u16(*ofs);
                    }
                    LearnSrc::Immediate(v) => w.put(v),
                }
                if let Some((h, ofs)) = &s.dst {
                    h.write(w);
                    w.u16(*ofs);
                }
            }
        }
        Action::Exit => {
            hdr(w, EXIT);
        }
        Action::DecTtlCntIds(ids) => {
            hdr(w, DEC_TTL_CNT_IDS);
            w.u16(ids.len() as u16);
            w.zeros(4);
            for i in ids {
                w.u16(*i);
            }
        }
        Action::FinTimeout { idle, hard } => {
            hdr(w, FIN_TIMEOUT);
            w.u16(*idle);
            w.u16(*hard);
        }
        Action::Controller {
            max_len,
            controller_id,
            reason,
        } => {
            hdr(w, CONTROLLER);
            w.u16(*max_len);
            w.u16(*controller_id);
            w.u8(*reason);
        }
        Action::Controller2(c) => {
            hdr(w, CONTROLLER2);
            w.zeros(6);
            let prop = |w: &mut Vec<u8>, t: u16, v: &[u8]| {
                let s = w.len();
                w.u16(t);
                w.u16(4 + v.len() as u16);
                w.put(v);
                w.pad_from(s, 8);
            };
            if let Some(v) = c.max_len {
                prop(w, 0, &v.to_be_bytes());
            }
            if let Some(v) = c.controller_id {
                prop(w, 1, &v.to_be_bytes());
            }
            if let Some(v) = c.reason {
                prop(w, 2, &[v]);
            }
            if let Some(v) = &c.userdata {
                prop(w, 3, v);
            }
            if c.pause {
                prop(w, 4, &[]);
            }
            if let Some(v) = c.meter_id {
                prop(w, 5, &v.to_be_bytes());
            }
        }
        Action::WriteMetadata { metadata, mask } => {
            hdr(w, WRITE_METADATA);
            w.zeros(6);
            w.u64(*metadata);
            w.u64(*mask);
        }
        Action::Stack {
            pop,
            offset,
            field,
            n_bits,
        } => {
            let s = hdr(w, if *pop { STACK_POP } else { STACK_PUSH });
            w.u16(*offset);
            field.write(w);
            w.u16(*n_bits);
            fill_to(w, s, 24);
        }
        Action::Sample(x) => {
            hdr(w, x.subtype);
            w.u16(x.probability);
            w.u32(x.collector_set_id);
            w.u32(x.obs_domain_id);
            w.u32(x.obs_point_id);
            if x.subtype != SAMPLE {
                w.u16(x.sampling_port);
                w.u8(x.direction);
            }
        }
        Action::Conjunction {
            clause,
            n_clauses,
            id,
        } => {
            hdr(w, CONJUNCTION);
            w.u8(*clause);
            w.u8(*n_clauses);
            w.u32(*id);
        }
        Action::Ct(c) => {
            hdr(w, CT);
            w.u16(c.flags);
            w.u32(c.zone_src);
            w.u16(c.zone);
            w.u8(c.recirc_table);
            w.zeros(3);
            w.u16(c.alg);
            encode_actions(&c.actions, version, w);
        }
        Action::Nat(n) => {
            hdr(w, NAT);
            w.zeros(2);
            w.u16(n.flags);
            w.u16(n.range_present);
            let p = n.range_present;
            if p & 1 != 0 {
                w.u32(n.ipv4_min);
            }
            if p & 2 != 0 {
                w.u32(n.ipv4_max);
            }
            if p & 4 != 0 {
                w.put(&n.ipv6_min);
            }
            if p & 8 != 0 {
                w.put(&n.ipv6_max);
            }
            if p & 16 != 0 {
                w.u16(n.proto_min);
            }
            if p & 32 != 0 {
                w.u16(n.proto_max);
            }
        }
        Action::OutputTrunc { port, max_len } => {
            hdr(w, OUTPUT_TRUNC);
            w.u16(*port);
            w.u32(*max_len);
        }
        Action::Clone(acts) => {
            hdr(w, CLONE);
            w.zeros(6);
            encode_actions(acts, version, w);
        }
        Action::CtClear => {
            hdr(w, CT_CLEAR);
        }
        Action::Encap {
            hdr_size,
            new_pkt_type,
            props,
        } => {
            hdr(w, ENCAP);
            w.u16(*hdr_size);
            w.u32(*new_pkt_type);
            w.put(props);
        }
        Action::Decap { new_pkt_type } => {
            hdr(w, DECAP);
            w.zeros(2);
            w.u32(*new_pkt_type);
        }
        Action::DecNshTtl => {
            hdr(w, DEC_NSH_TTL);
        }
        Action::CheckPktLarger {
            pkt_len,
            offset,
            dst,
        } => {
            let s = hdr(w, CHECK_PKT_LARGER);
            w.u16(*pkt_len);
            w.u16(*offset);
            dst.write(w);
            fill_to(w, s, 24);
        }
        Action::DeleteField(f) => {
            let s = hdr(w, DELETE_FIELD);
            f.write(w);
            fill_to(w, s, 24);
        }
        // OF1.0 spellings of OF1.1+ standard actions.
        Action::SetQueue(q) => {
            hdr(w, SET_QUEUE);
            w.zeros(2);
            w.u32(*q);
        }
        Action::Group(g) => {
            hdr(w, GROUP);
            w.zeros(2);
            w.u32(*g);
        }
        Action::DecNwTtl => {
            hdr(w, DEC_TTL);
        }
        Action::PushMpls(e) => {
            hdr(w, PUSH_MPLS);
            w.u16(*e);
        }
        Action::PopMpls(e) => {
            hdr(w, POP_MPLS);
            w.u16(*e);
        }
        Action::SetMplsTtl(t) => {
            hdr(w, SET_MPLS_TTL);
            w.u8(*t);
        }
        Action::DecMplsTtl => {
            hdr(w, DEC_MPLS_TTL);
        }
        Action::SetMplsLabel(l) => {
            hdr(w, SET_MPLS_LABEL);
            w.zeros(2);
            w.u32(*l);
        }
        Action::SetMplsTc(t) => {
            hdr(w, SET_MPLS_TC);
            w.u8(*t);
        }
        // Standard actions are handled by Action::write; nothing else reaches here.
        _ => {
            hdr(w, EXIT);
        }
    }
}
