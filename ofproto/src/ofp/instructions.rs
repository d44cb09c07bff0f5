//! OF1.1+ instructions (OpenFlow 1.5.1 section 7.2.5): `type: u16, len: u16`
//! then a body; every instruction is a multiple of 8 bytes.

use super::actions::{decode_actions, encode_actions, Action};
use super::error::{ErrorCode, OfpError};
use super::wire::{Rd, Wr};

/// One instruction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Instruction {
    /// OFPIT_GOTO_TABLE (1): `table_id u8, pad[3]`.
    GotoTable(u8),
    /// OFPIT_WRITE_METADATA (2): `pad[4], metadata u64, metadata_mask u64`.
    WriteMetadata {
        /// New bits.
        metadata: u64,
        /// Which bits to write.
        mask: u64,
    },
    /// OFPIT_WRITE_ACTIONS (3): `pad[4]`, actions.
    WriteActions(Vec<Action>),
    /// OFPIT_APPLY_ACTIONS (4): `pad[4]`, actions.
    ApplyActions(Vec<Action>),
    /// OFPIT_CLEAR_ACTIONS (5): `pad[4]`.
    ClearActions,
    /// OFPIT_METER (6, OF1.3/1.4): `meter_id u32`.
    Meter(u32),
}

impl Instruction {
    /// Reads one instruction.
    pub fn read(r: &mut Rd<'_>, version: u8) -> Result<Instruction, OfpError> {
        let t = r
            .peek_u16(0)
            .map_err(|e| e.relabel_len(ErrorCode::BadInstructionLen))?;
        let len = r
            .peek_u16(2)
            .map_err(|e| e.relabel_len(ErrorCode::BadInstructionLen))? as usize;
        if len < 8 || len % 8 != 0 || len > r.remaining() {
            return Err(OfpError::new(
                ErrorCode::BadInstructionLen,
                "instruction length",
            ));
        }
        let mut b = r.sub(len)?;
        b.skip(4)?;
        let need = |n: usize| {
            if len == n {
                Ok(())
            } else {
                Err(OfpError::new(
                    ErrorCode::BadInstructionLen,
                    "instruction length",
                ))
            }
        };
        Ok(match t {
            1 => {
                need(8)?;
                Instruction::GotoTable(b.u8()?)
            }
            2 => {
                need(24)?;
                b.skip(4)?;
                Instruction::WriteMetadata {
                    metadata: b.u64()?,
                    mask: b.u64()?,
                }
            }
            3 | 4 => {
                b.skip(4)?;
                let acts = decode_actions(b.rest(), version)?;
                if t == 3 {
                    Instruction::WriteActions(acts)
                } else {
                    Instruction::ApplyActions(acts)
                }
            }
            5 => Instruction::ClearActions,
            6 => {
                need(8)?;
                Instruction::Meter(b.u32()?)
            }
            0xffff => {
                return Err(OfpError::new(
                    ErrorCode::BadInstructionExperimenter,
                    "experimenter instruction",
                ))
            }
            _ => {
                return Err(OfpError::new(
                    ErrorCode::BadInstructionUnknown,
                    "unknown instruction",
                ))
            }
        })
    }

    /// Appends this instruction.
    pub fn write(&self, version: u8, w: &mut Vec<u8>) {
        let start = w.len();
        let t = match self {
            Instruction::GotoTable(_) => 1,
            Instruction::WriteMetadata { .. } => 2,
            Instruction::WriteActions(_) => 3,
            Instruction::ApplyActions(_) => 4,
            Instruction::ClearActions => 5,
            Instruction::Meter(_) => 6,
        };
        w.u16(t);
        w.u16(0);
        match self {
            Instruction::GotoTable(t) => {
                w.u8(*t);
                w.zeros(3);
            }
            Instruction::WriteMetadata { metadata, mask } => {
                w.zeros(4);
                w.u64(*metadata);
                w.u64(*mask);
            }
            Instruction::WriteActions(a) | Instruction::ApplyActions(a) => {
                w.zeros(4);
                encode_actions(a, version, w);
            }
            Instruction::ClearActions => w.zeros(4),
            Instruction::Meter(m) => w.u32(*m),
        }
        let len = (w.len() - start) as u16;
        w.set_u16(start + 2, len);
    }
}

/// Reads instructions filling all of `b`.
pub fn decode_instructions(b: &[u8], version: u8) -> Result<Vec<Instruction>, OfpError> {
    let mut r = Rd::with_short(b, ErrorCode::BadInstructionLen);
    let mut out = Vec::new();
    while !r.is_empty() {
        out.push(Instruction::read(&mut r, version)?);
    }
    Ok(out)
}

/// Appends instructions; for OF1.0 the actions of every apply-actions
/// instruction are written bare (OF1.0 has no instructions).
pub fn encode_instructions(insts: &[Instruction], version: u8, w: &mut Vec<u8>) {
    for i in insts {
        if version == 1 {
            if let Instruction::ApplyActions(a) = i {
                encode_actions(a, version, w);
            }
        } else {
            i.write(version, w);
        }
    }
}

/// OF1.0 bare action list as instructions: one apply-actions, or none when
/// the list is empty.
pub fn of10_actions_to_instructions(acts: Vec<Action>) -> Vec<Instruction> {
    if acts.is_empty() {
        Vec::new()
    } else {
        vec![Instruction::ApplyActions(acts)]
    }
}
