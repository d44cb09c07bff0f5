//! Multipart / statistics reply codec (OpenFlow 1.0.0 section 5.3.5,
//! OpenFlow 1.5.1 section 7.3.5); the types live in [`super::multipart`].

use super::actions::{port_from_of10, port_to_of10};
use super::error::{fail, ErrorCode, OfpError};
use super::flow::Match;
use super::instructions::{decode_instructions, encode_instructions, of10_actions_to_instructions};
use super::match10::Match10;
use super::multipart::*;
use super::oxm::OxmMatch;
use super::switch::{Bucket, MeterBand, Port};
use super::wire::{cstr, put_cstr, Rd, Wr};

fn read_flow_stats(v: u8, nx: bool, r: &mut Rd<'_>) -> Result<FlowStats, OfpError> {
    if v >= 6 && !nx {
        return read_flow_desc15(r);
    }
    let len = r.peek_u16(0)? as usize;
    if len < 8 || len > r.remaining() {
        return fail(ErrorCode::BadRequestLen, "flow stats length");
    }
    let mut e = r.sub(len)?;
    e.skip(2)?;
    let table_id = e.u8()?;
    e.skip(1)?;
    let mut f = FlowStats {
        table_id,
        duration_sec: 0,
        duration_nsec: 0,
        priority: 0,
        idle_timeout: 0,
        hard_timeout: 0,
        flags: 0,
        importance: 0,
        idle_age: 0,
        hard_age: 0,
        cookie: 0,
        packet_count: 0,
        byte_count: 0,
        match_: Match::Oxm(OxmMatch::default()),
        instructions: Vec::new(),
    };
    if nx {
        f.duration_sec = e.u32()?;
        f.duration_nsec = e.u32()?;
        f.priority = e.u16()?;
        f.idle_timeout = e.u16()?;
        f.hard_timeout = e.u16()?;
        let match_len = e.u16()? as usize;
        f.idle_age = e.u16()?;
        f.hard_age = e.u16()?;
        f.cookie = e.u64()?;
        f.packet_count = e.u64()?;
        f.byte_count = e.u64()?;
        f.match_ = Match::Oxm(read_nxm(&mut e, match_len)?);
        let acts = super::actions::decode_actions(e.rest(), v)?;
        f.instructions = of10_actions_to_instructions(acts);
    } else if v == 1 {
        f.match_ = Match::Of10(Match10::read(&mut e)?);
        f.duration_sec = e.u32()?;
        f.duration_nsec = e.u32()?;
        f.priority = e.u16()?;
        f.idle_timeout = e.u16()?;
        f.hard_timeout = e.u16()?;
        e.skip(6)?;
        f.cookie = e.u64()?;
        f.packet_count = e.u64()?;
        f.byte_count = e.u64()?;
        let acts = super::actions::decode_actions(e.rest(), v)?;
        f.instructions = of10_actions_to_instructions(acts);
    } else {
        f.duration_sec = e.u32()?;
        f.duration_nsec = e.u32()?;
        f.priority = e.u16()?;
        f.idle_timeout = e.u16()?;
        f.hard_timeout = e.u16()?;
        f.flags = e.u16()?;
        f.importance = e.u16()?;
        e.skip(2)?;
        f.cookie = e.u64()?;
        f.packet_count = e.u64()?;
        f.byte_count = e.u64()?;
        f.match_ = Match::read(v, &mut e)?;
        f.instructions = decode_instructions(e.rest(), v)?;
    }
    Ok(f)
}

/// OXS class OFPXSC_OPENFLOW_BASIC (OpenFlow 1.5.1 section 7.2.4).
const OFPXSC_OPENFLOW_BASIC: u32 = 0x8002;

/// Appends an OpenFlow 1.5 `ofp_stats` (`reserved u16, length u16`, OXS
/// TLVs, padded to 8) with duration, idle time, packet and byte counts.
fn write_oxs_flow_stats(f: &FlowStats, w: &mut Vec<u8>) {
    let start = w.len();
    w.u16(0);
    w.u16(0);
    let tlv = |w: &mut Vec<u8>, field: u32, len: u32| {
        w.u32(OFPXSC_OPENFLOW_BASIC << 16 | field << 9 | len)
    };
    tlv(w, 0, 8);
    w.u32(f.duration_sec);
    w.u32(f.duration_nsec);
    tlv(w, 1, 8);
    w.u32(f.idle_age.saturating_sub(1) as u32);
    w.u32(0);
    tlv(w, 4, 8);
    w.u64(f.packet_count);
    tlv(w, 5, 8);
    w.u64(f.byte_count);
    let len = (w.len() - start) as u16;
    w.set_u16(start + 2, len);
    w.pad_from(start, 8);
}

/// Reads an OpenFlow 1.5 `ofp_stats` into `f` (duration, idle time,
/// packet and byte counts; other OXS fields are skipped).
fn read_oxs_flow_stats(f: &mut FlowStats, e: &mut Rd<'_>) -> Result<(), OfpError> {
    e.skip(2)?;
    let len = e.u16()? as usize;
    if len < 4 {
        return fail(ErrorCode::BadRequestLen, "ofp_stats length");
    }
    let mut s = e.sub(len - 4)?;
    e.skip(super::wire::pad8(len) - len)?;
    while !s.is_empty() {
        let h = s.u32()?;
        let l = (h & 0xff) as usize;
        let mut b = s.sub(l)?;
        match ((h >> 16) as u16 as u32, (h >> 9) & 0x7f, l) {
            (OFPXSC_OPENFLOW_BASIC, 0, 8) => {
                f.duration_sec = b.u32()?;
                f.duration_nsec = b.u32()?;
            }
            (OFPXSC_OPENFLOW_BASIC, 1, 8) => f.idle_age = (b.u32()? + 1).min(0xffff) as u16,
            (OFPXSC_OPENFLOW_BASIC, 4, 8) => f.packet_count = b.u64()?,
            (OFPXSC_OPENFLOW_BASIC, 5, 8) => f.byte_count = b.u64()?,
            _ => {}
        }
    }
    Ok(())
}

/// OpenFlow 1.5 `ofp_flow_desc` (section 7.3.5.2): `length u16, pad[2],
/// table_id u8, pad, priority u16, idle u16, hard u16, flags u16,
/// importance u16, cookie u64`, match, `ofp_stats`, instructions.
fn write_flow_desc15(f: &FlowStats, w: &mut Vec<u8>) {
    let start = w.len();
    w.u16(0);
    w.zeros(2);
    w.u8(f.table_id);
    w.zeros(1);
    w.u16(f.priority);
    w.u16(f.idle_timeout);
    w.u16(f.hard_timeout);
    w.u16(f.flags);
    w.u16(f.importance);
    w.u64(f.cookie);
    f.match_.fields().write_ofp_match(w);
    write_oxs_flow_stats(f, w);
    encode_instructions(&f.instructions, 6, w);
    let len = (w.len() - start) as u16;
    w.set_u16(start, len);
}

fn read_flow_desc15(r: &mut Rd<'_>) -> Result<FlowStats, OfpError> {
    let len = r.peek_u16(0)? as usize;
    if len < 24 || len > r.remaining() {
        return fail(ErrorCode::BadRequestLen, "flow desc length");
    }
    let mut e = r.sub(len)?;
    e.skip(4)?;
    let table_id = e.u8()?;
    e.skip(1)?;
    let mut f = FlowStats {
        table_id,
        duration_sec: 0,
        duration_nsec: 0,
        priority: e.u16()?,
        idle_timeout: e.u16()?,
        hard_timeout: e.u16()?,
        flags: e.u16()?,
        importance: e.u16()?,
        idle_age: 0,
        hard_age: 0,
        cookie: e.u64()?,
        packet_count: 0,
        byte_count: 0,
        match_: Match::Oxm(OxmMatch::default()),
        instructions: Vec::new(),
    };
    f.match_ = Match::Oxm(OxmMatch::read_ofp_match(&mut e)?);
    read_oxs_flow_stats(&mut f, &mut e)?;
    f.instructions = decode_instructions(e.rest(), 6)?;
    Ok(f)
}

fn write_flow_stats(v: u8, nx: bool, f: &FlowStats, w: &mut Vec<u8>) {
    if v >= 6 && !nx {
        return write_flow_desc15(f, w);
    }
    let start = w.len();
    w.u16(0);
    w.u8(f.table_id);
    w.zeros(1);
    if nx {
        w.u32(f.duration_sec);
        w.u32(f.duration_nsec);
        w.u16(f.priority);
        w.u16(f.idle_timeout);
        w.u16(f.hard_timeout);
        let at = w.len();
        w.u16(0);
        w.u16(f.idle_age);
        w.u16(f.hard_age);
        w.u64(f.cookie);
        w.u64(f.packet_count);
        w.u64(f.byte_count);
        let n = write_nxm(&f.match_, w);
        w.set_u16(at, n);
        encode_instructions(&f.instructions, 1, w);
    } else if v == 1 {
        match &f.match_ {
            Match::Of10(m) => m.write(w),
            Match::Oxm(_) => Match10::default().write(w),
        }
        w.u32(f.duration_sec);
        w.u32(f.duration_nsec);
        w.u16(f.priority);
        w.u16(f.idle_timeout);
        w.u16(f.hard_timeout);
        w.zeros(6);
        w.u64(f.cookie);
        w.u64(f.packet_count);
        w.u64(f.byte_count);
        encode_instructions(&f.instructions, 1, w);
    } else {
        w.u32(f.duration_sec);
        w.u32(f.duration_nsec);
        w.u16(f.priority);
        w.u16(f.idle_timeout);
        w.u16(f.hard_timeout);
        // OF1.1 `ofp11_flow_stats` has padding where OF1.3 has `flags`.
        w.u16(if v >= 3 { f.flags } else { 0 });
        w.u16(if v >= 5 { f.importance } else { 0 });
        w.zeros(2);
        w.u64(f.cookie);
        w.u64(f.packet_count);
        w.u64(f.byte_count);
        f.match_.write(v, w);
        encode_instructions(&f.instructions, v, w);
    }
    let len = (w.len() - start) as u16;
    w.set_u16(start, len);
}

impl MultipartReply {
    /// Decodes the body after `ofp_header`. Types or versions without a typed
    /// layout here come back as [`MpRepBody::Raw`].
    pub fn decode(v: u8, body: &[u8]) -> Result<MultipartReply, OfpError> {
        let mut r = Rd::new(body);
        let (t, flags, sub) = read_mp_header(v, &mut r)?;
        use mp_type::*;
        let nx = sub.is_some();
        let mp_type = match sub {
            Some(NXST_AGGREGATE) => AGGREGATE,
            Some(NXST_FLOW) => FLOW,
            Some(_) => return fail(ErrorCode::BadRequestExpType, "unknown Nicira statistics"),
            None => t,
        };
        let b = match mp_type {
            DESC => MpRepBody::Desc(Desc {
                mfr_desc: cstr(r.bytes(256)?),
                hw_desc: cstr(r.bytes(256)?),
                sw_desc: cstr(r.bytes(256)?),
                serial_num: cstr(r.bytes(32)?),
                dp_desc: cstr(r.bytes(256)?),
            }),
            FLOW if nx || v == 1 || (2..=5).contains(&v) => {
                let mut out = Vec::new();
                while !r.is_empty() {
                    out.push(read_flow_stats(v, nx, &mut r)?);
                }
                MpRepBody::Flow(out)
            }
            AGGREGATE if v >= 6 && !nx => {
                let mut f = FlowStats {
                    table_id: 0,
                    duration_sec: 0,
                    duration_nsec: 0,
                    priority: 0,
                    idle_timeout: 0,
                    hard_timeout: 0,
                    flags: 0,
                    importance: 0,
                    idle_age: 0,
                    hard_age: 0,
                    cookie: 0,
                    packet_count: 0,
                    byte_count: 0,
                    match_: Match::Oxm(OxmMatch::default()),
                    instructions: Vec::new(),
                };
                let mut flow_count = 0;
                let mut probe = Rd::new(r.rest());
                probe.skip(4)?;
                while !probe.is_empty() {
                    let h = probe.u32()?;
                    if h == OFPXSC_OPENFLOW_BASIC << 16 | 3 << 9 | 4 {
                        flow_count = probe.u32()?;
                    } else {
                        probe.skip((h & 0xff) as usize)?;
                    }
                    if probe.remaining() < 4 {
                        break;
                    }
                }
                read_oxs_flow_stats(&mut f, &mut r)?;
                MpRepBody::Aggregate {
                    packet_count: f.packet_count,
                    byte_count: f.byte_count,
                    flow_count,
                }
            }
            AGGREGATE => {
                let packet_count = r.u64()?;
                let byte_count = r.u64()?;
                let flow_count = r.u32()?;
                r.skip(4)?;
                MpRepBody::Aggregate {
                    packet_count,
                    byte_count,
                    flow_count,
                }
            }
            TABLE if v <= 2 || v >= 4 => {
                let mut out = Vec::new();
                while !r.is_empty() {
                    let table_id = r.u8()?;
                    r.skip(if v == 2 { 7 } else { 3 })?;
                    let mut t = TableStats {
                        table_id,
                        ..Default::default()
                    };
                    if v == 2 {
                        t.name = cstr(r.bytes(32)?);
                        t.wildcards = r.u32()?;
                        r.skip(20)?;
                        t.max_entries = r.u32()?;
                    }
                    if v == 1 {
                        t.name = cstr(r.bytes(32)?);
                        t.wildcards = r.u32()?;
                        t.max_entries = r.u32()?;
                    }
                    t.active_count = r.u32()?;
                    t.lookup_count = r.u64()?;
                    t.matched_count = r.u64()?;
                    out.push(t);
                }
                MpRepBody::Table(out)
            }
            PORT_STATS if v <= 4 => {
                let mut out = Vec::new();
                while !r.is_empty() {
                    let mut p = PortStats::default();
                    if v == 1 {
                        p.port_no = port_from_of10(r.u16()?);
                        r.skip(6)?;
                    } else {
                        p.port_no = r.u32()?;
                        r.skip(4)?;
                    }
                    for c in p.counters.iter_mut() {
                        *c = r.u64()?;
                    }
                    if v == 4 {
                        p.duration_sec = r.u32()?;
                        p.duration_nsec = r.u32()?;
                    }
                    out.push(p);
                }
                MpRepBody::Port(out)
            }
            PORT_DESC if v > 1 => {
                let mut out = Vec::new();
                while !r.is_empty() {
                    out.push(Port::read(v, &mut r)?);
                }
                MpRepBody::PortDesc(out)
            }
            GROUP if v >= 4 => {
                let mut out = Vec::new();
                while !r.is_empty() {
                    let len = r.peek_u16(0)? as usize;
                    if len < 40 || (len - 40) % 16 != 0 {
                        return fail(ErrorCode::BadRequestLen, "group stats length");
                    }
                    let mut e = r.sub(len)?;
                    e.skip(4)?;
                    let mut g = GroupStats {
                        group_id: e.u32()?,
                        ref_count: e.u32()?,
                        ..Default::default()
                    };
                    e.skip(4)?;
                    g.packet_count = e.u64()?;
                    g.byte_count = e.u64()?;
                    g.duration_sec = e.u32()?;
                    g.duration_nsec = e.u32()?;
                    while !e.is_empty() {
                        g.buckets.push((e.u64()?, e.u64()?));
                    }
                    out.push(g);
                }
                MpRepBody::Group(out)
            }
            GROUP_DESC if (2..=5).contains(&v) => {
                let mut out = Vec::new();
                while !r.is_empty() {
                    let len = r.peek_u16(0)? as usize;
                    if len < 8 {
                        return fail(ErrorCode::BadRequestLen, "group desc length");
                    }
                    let mut e = r.sub(len)?;
                    e.skip(2)?;
                    let group_type = e.u8()?;
                    e.skip(1)?;
                    let group_id = e.u32()?;
                    let mut buckets = Vec::new();
                    while !e.is_empty() {
                        buckets.push(Bucket::read(v, &mut e)?);
                    }
                    out.push(GroupDesc {
                        group_type,
                        group_id,
                        buckets,
                    });
                }
                MpRepBody::GroupDesc(out)
            }
            METER if v >= 4 => {
                let mut out = Vec::new();
                while !r.is_empty() {
                    let meter_id = r.u32()?;
                    let len = r.u16()? as usize;
                    if len < 40 || (len - 40) % 16 != 0 {
                        return fail(ErrorCode::BadRequestLen, "meter stats length");
                    }
                    r.skip(6)?;
                    let mut m = MeterStats {
                        meter_id,
                        flow_count: r.u32()?,
                        ..Default::default()
                    };
                    m.packet_in_count = r.u64()?;
                    m.byte_in_count = r.u64()?;
                    m.duration_sec = r.u32()?;
                    m.duration_nsec = r.u32()?;
                    for _ in 0..(len - 40) / 16 {
                        m.bands.push((r.u64()?, r.u64()?));
                    }
                    out.push(m);
                }
                MpRepBody::Meter(out)
            }
            METER_CONFIG if v >= 4 => {
                let mut out = Vec::new();
                while !r.is_empty() {
                    let len = r.peek_u16(0)? as usize;
                    if len < 8 {
                        return fail(ErrorCode::BadRequestLen, "meter config length");
                    }
                    let mut e = r.sub(len)?;
                    e.skip(2)?;
                    let flags = e.u16()?;
                    let meter_id = e.u32()?;
                    let mut bands = Vec::new();
                    while !e.is_empty() {
                        bands.push(MeterBand::read(&mut e)?);
                    }
                    out.push(MeterConfig {
                        flags,
                        meter_id,
                        bands,
                    });
                }
                MpRepBody::MeterConfig(out)
            }
            _ => MpRepBody::Raw(r.rest().to_vec()),
        };
        Ok(MultipartReply {
            mp_type,
            flags,
            nx,
            body: b,
        })
    }

    /// Appends the body after `ofp_header`.
    pub fn encode(&self, v: u8, w: &mut Vec<u8>) {
        let (t, sub) = if self.nx {
            (
                mp_type::EXPERIMENTER,
                Some(if self.mp_type == mp_type::AGGREGATE {
                    NXST_AGGREGATE
                } else {
                    NXST_FLOW
                }),
            )
        } else {
            (self.mp_type, None)
        };
        write_mp_header(v, t, self.flags, sub, w);
        match &self.body {
            MpRepBody::Desc(d) => {
                put_cstr(w, &d.mfr_desc, 256);
                put_cstr(w, &d.hw_desc, 256);
                put_cstr(w, &d.sw_desc, 256);
                put_cstr(w, &d.serial_num, 32);
                put_cstr(w, &d.dp_desc, 256);
            }
            MpRepBody::Flow(fs) => {
                for f in fs {
                    write_flow_stats(v, self.nx, f, w);
                }
            }
            MpRepBody::Aggregate {
                packet_count,
                byte_count,
                flow_count,
            } if v >= 6 && !self.nx => {
                // OpenFlow 1.5 `ofp_aggregate_stats_reply`: an `ofp_stats`.
                let start = w.len();
                w.u32(0);
                w.u32(OFPXSC_OPENFLOW_BASIC << 16 | 3 << 9 | 4);
                w.u32(*flow_count);
                w.u32(OFPXSC_OPENFLOW_BASIC << 16 | 4 << 9 | 8);
                w.u64(*packet_count);
                w.u32(OFPXSC_OPENFLOW_BASIC << 16 | 5 << 9 | 8);
                w.u64(*byte_count);
                let len = (w.len() - start) as u16;
                w.set_u16(start + 2, len);
                w.pad_from(start, 8);
            }
            MpRepBody::Aggregate {
                packet_count,
                byte_count,
                flow_count,
            } => {
                w.u64(*packet_count);
                w.u64(*byte_count);
                w.u32(*flow_count);
                w.zeros(4);
            }
            MpRepBody::Table(ts) => {
                for t in ts {
                    w.u8(t.table_id);
                    if v == 2 {
                        // `ofp11_table_stats` (OpenFlow 1.1.0 section
                        // A.3.5.4): pad[7], name, wildcards, match,
                        // instructions (goto_table .. clear_actions),
                        // write_actions, apply_actions, config,
                        // max_entries, then the counters.
                        w.zeros(7);
                        put_cstr(w, &t.name, 32);
                        w.u32(t.wildcards);
                        w.u32(t.wildcards);
                        w.u32(0x3e);
                        w.zeros(12);
                        w.u32(t.max_entries);
                        w.u32(t.active_count);
                        w.u64(t.lookup_count);
                        w.u64(t.matched_count);
                        continue;
                    }
                    w.zeros(3);
                    if v == 1 {
                        put_cstr(w, &t.name, 32);
                        w.u32(t.wildcards);
                        w.u32(t.max_entries);
                    }
                    w.u32(t.active_count);
                    w.u64(t.lookup_count);
                    w.u64(t.matched_count);
                }
            }
            MpRepBody::Port(ps) => {
                for p in ps {
                    if v == 1 {
                        w.u16(port_to_of10(p.port_no));
                        w.zeros(6);
                    } else {
                        w.u32(p.port_no);
                        w.zeros(4);
                    }
                    for c in p.counters {
                        w.u64(c);
                    }
                    if v == 4 {
                        w.u32(p.duration_sec);
                        w.u32(p.duration_nsec);
                    }
                }
            }
            MpRepBody::PortDesc(ps) => {
                for p in ps {
                    p.write(v, w);
                }
            }
            MpRepBody::Group(gs) => {
                for g in gs {
                    w.u16(40 + 16 * g.buckets.len() as u16);
                    w.zeros(2);
                    w.u32(g.group_id);
                    w.u32(g.ref_count);
                    w.zeros(4);
                    w.u64(g.packet_count);
                    w.u64(g.byte_count);
                    w.u32(g.duration_sec);
                    w.u32(g.duration_nsec);
                    for (p, b) in &g.buckets {
                        w.u64(*p);
                        w.u64(*b);
                    }
                }
            }
            MpRepBody::GroupDesc(gs) => {
                for g in gs {
                    let start = w.len();
                    w.u16(0);
                    w.u8(g.group_type);
                    w.zeros(1);
                    w.u32(g.group_id);
                    for b in &g.buckets {
                        b.write(v, w);
                    }
                    let len = (w.len() - start) as u16;
                    w.set_u16(start, len);
                }
            }
            MpRepBody::Meter(ms) => {
                for m in ms {
                    w.u32(m.meter_id);
                    w.u16(40 + 16 * m.bands.len() as u16);
                    w.zeros(6);
                    w.u32(m.flow_count);
                    w.u64(m.packet_in_count);
                    w.u64(m.byte_in_count);
                    w.u32(m.duration_sec);
                    w.u32(m.duration_nsec);
                    for (p, b) in &m.bands {
                        w.u64(*p);
                        w.u64(*b);
                    }
                }
            }
            MpRepBody::MeterConfig(ms) => {
                for m in ms {
                    w.u16(8 + 16 * m.bands.len() as u16);
                    w.u16(m.flags);
                    w.u32(m.meter_id);
                    for b in &m.bands {
                        b.write(w);
                    }
                }
            }
            MpRepBody::Raw(b) => w.put(b),
        }
    }
}
