//! OFPT_HELLO elements and version negotiation.
//!
//! OpenFlow 1.3.1+ (OpenFlow 1.5.1 sections 7.5.1 and 6.3.1): the HELLO body
//! is a list of elements `{type: u16, length: u16 (unpadded), ...}` each padded
//! to 8 bytes. Element type 1 (OFPHET_VERSIONBITMAP) carries u32 bitmaps: bit
//! `n` of bitmap `i` set means wire version `32*i + n` is supported.
//! Without a bitmap, a peer supports every version up to its header version.

use super::error::{ErrorCode, OfpError};
use super::wire::{Rd, Wr};

/// OFPHET_VERSIONBITMAP element type.
pub const OFPHET_VERSIONBITMAP: u16 = 1;

/// One HELLO element.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HelloElem {
    /// OFPHET_VERSIONBITMAP: bitmaps in wire order (u32 each).
    VersionBitmap(Vec<u32>),
    /// Any other element, kept verbatim (body without its 4-byte header and
    /// without padding).
    Unknown {
        /// Element type.
        elem_type: u16,
        /// Element body bytes.
        data: Vec<u8>,
    },
}

/// OFPT_HELLO body (OpenFlow 1.5.1 section 7.5.1). OF1.0 HELLOs have no
/// elements; anything trailing there is ignored by peers and kept here.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Hello {
    /// Elements in wire order.
    pub elements: Vec<HelloElem>,
}

impl Hello {
    /// A HELLO advertising exactly `versions` (wire version numbers) in a
    /// version bitmap, as Open vSwitch sends it.
    pub fn with_versions(versions: &[u8]) -> Hello {
        let mut bm = vec![0u32];
        for &v in versions {
            let i = (v / 32) as usize;
            if bm.len() <= i {
                bm.resize(i + 1, 0);
            }
            bm[i] |= 1 << (v % 32);
        }
        Hello {
            elements: vec![HelloElem::VersionBitmap(bm)],
        }
    }

    /// Versions advertised by a bitmap element, if any.
    pub fn bitmap_versions(&self) -> Option<Vec<u8>> {
        self.elements.iter().find_map(|e| match e {
            HelloElem::VersionBitmap(bm) => Some(
                (0..bm.len() * 32)
                    .filter(|&v| v < 256 && bm[v / 32] & (1 << (v % 32)) != 0)
                    .map(|v| v as u8)
                    .collect(),
            ),
            _ => None,
        })
    }

    /// Decodes the body (after the header).
    pub fn decode(body: &[u8]) -> Result<Hello, OfpError> {
        let mut r = Rd::new(body);
        let mut elements = Vec::new();
        while r.remaining() >= 4 {
            let t = r.u16()?;
            let len = r.u16()? as usize;
            if len < 4 {
                return Err(OfpError::new(
                    ErrorCode::BadRequestLen,
                    "hello element length < 4",
                ));
            }
            let data = r.bytes(len - 4)?;
            let padded = super::wire::pad8(len) - len;
            r.skip(padded.min(r.remaining()))?;
            if t == OFPHET_VERSIONBITMAP {
                if data.len() % 4 != 0 {
                    return Err(OfpError::new(
                        ErrorCode::BadRequestLen,
                        "bitmap not a multiple of 4",
                    ));
                }
                let bm = data
                    .chunks(4)
                    .map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]))
                    .collect();
                elements.push(HelloElem::VersionBitmap(bm));
            } else {
                elements.push(HelloElem::Unknown {
                    elem_type: t,
                    data: data.to_vec(),
                });
            }
        }
        Ok(Hello { elements })
    }

    /// Appends the body.
    pub fn encode(&self, w: &mut Vec<u8>) {
        for e in &self.elements {
            let start = w.len();
            match e {
                HelloElem::VersionBitmap(bm) => {
                    w.u16(OFPHET_VERSIONBITMAP);
                    w.u16(4 + 4 * bm.len() as u16);
                    for b in bm {
                        w.u32(*b);
                    }
                }
                HelloElem::Unknown { elem_type, data } => {
                    w.u16(*elem_type);
                    w.u16(4 + data.len() as u16);
                    w.put(data);
                }
            }
            w.pad_from(start, 8);
        }
    }
}

/// Picks the version to speak (OpenFlow 1.5.1 section 6.3.1): the highest
/// version in both `ours` and the peer's set, where the peer's set is its
/// bitmap if it sent one, else every version up to `peer_header_version`.
/// Failure is OFPET_HELLO_FAILED / OFPHFC_INCOMPATIBLE.
pub fn negotiate(ours: &[u8], peer_header_version: u8, peer: &Hello) -> Result<u8, OfpError> {
    let theirs: Vec<u8> = match peer.bitmap_versions() {
        Some(v) => v,
        None => (1..=peer_header_version).collect(),
    };
    ours.iter()
        .copied()
        .filter(|v| theirs.contains(v))
        .max()
        .ok_or(OfpError::new(
            ErrorCode::HelloIncompatible,
            "no common OpenFlow version",
        ))
}
