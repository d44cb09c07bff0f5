//! `ofp_header` framing and the stream [`Decoder`].
//!
//! Every OpenFlow message starts with the 8-byte `ofp_header` (OpenFlow 1.0.0
//! section 5.1, OpenFlow 1.5.1 section 7.1.1): `version` (u8), `type` (u8),
//! `length` (u16, whole message including the header, network order), `xid`
//! (u32). The decoder cuts a byte stream into such frames, waiting for more
//! bytes when a frame is partial, and hands each frame to [`Message::decode`].

use super::error::{ErrorCode, OfpError};
use super::msgs::{ErrorMsg, Message};
use super::wire::Wr;

/// `ofp_header.version` of OpenFlow 1.0.
pub const OFP10_VERSION: u8 = 0x01;
/// `ofp_header.version` of OpenFlow 1.1.
pub const OFP11_VERSION: u8 = 0x02;
/// `ofp_header.version` of OpenFlow 1.2.
pub const OFP12_VERSION: u8 = 0x03;
/// `ofp_header.version` of OpenFlow 1.3.
pub const OFP13_VERSION: u8 = 0x04;
/// `ofp_header.version` of OpenFlow 1.4.
pub const OFP14_VERSION: u8 = 0x05;
/// `ofp_header.version` of OpenFlow 1.5.
pub const OFP15_VERSION: u8 = 0x06;

/// Size in bytes of `ofp_header`.
pub const HEADER_LEN: usize = 8;

/// Largest message a frame may carry (`length` is a u16).
pub const MAX_MSG_LEN: usize = 65535;

/// A decoded `ofp_header` (OpenFlow 1.5.1 section 7.1.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// Wire version (0x01 = OF1.0 ... 0x06 = OF1.5).
    pub version: u8,
    /// Raw `ofp_type` value; meaning depends on `version` (OF1.0 numbers
    /// differ from OF1.1+ after type 14).
    pub msg_type: u8,
    /// Total message length in bytes, header included.
    pub length: u16,
    /// Transaction id, echoed in replies.
    pub xid: u32,
}

impl Header {
    /// Parses the first 8 bytes of `b`; `None` when fewer are present.
    pub fn parse(b: &[u8]) -> Option<Header> {
        if b.len() < HEADER_LEN {
            return None;
        }
        Some(Header {
            version: b[0],
            msg_type: b[1],
            length: u16::from_be_bytes([b[2], b[3]]),
            xid: u32::from_be_bytes([b[4], b[5], b[6], b[7]]),
        })
    }

    /// Appends the 8 header bytes.
    pub fn write(&self, w: &mut Vec<u8>) {
        w.u8(self.version);
        w.u8(self.msg_type);
        w.u16(self.length);
        w.u32(self.xid);
    }
}

/// True for the wire versions this codec understands (OF1.0 to OF1.5).
pub fn version_supported(v: u8) -> bool {
    (OFP10_VERSION..=OFP15_VERSION).contains(&v)
}

/// A message that could not be decoded: what to log and what to answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejected {
    /// The offending message's header.
    pub header: Header,
    /// Why it was rejected.
    pub error: OfpError,
    /// Up to the first 64 bytes of the offending message (the OFPT_ERROR
    /// `data` field; OpenFlow 1.5.1 section 7.5.4 asks for at least 64).
    pub data: Vec<u8>,
    /// True when the stream cannot be resynchronised (bad `length` field):
    /// the connection should be closed after sending the error.
    pub fatal: bool,
}

impl Rejected {
    /// The OFPT_ERROR message to send back, in the offending message's version
    /// (or OF1.0 where that version is unknown) and with its xid.
    pub fn error_reply(&self) -> Vec<u8> {
        let v = if version_supported(self.header.version) {
            self.header.version
        } else {
            OFP10_VERSION
        };
        let (err_type, code) = self.error.code.to_wire(v);
        let msg = Message::Error(ErrorMsg {
            err_type,
            code,
            experimenter: None,
            data: self.data.clone(),
        });
        msg.encode(v, self.header.xid)
    }
}

/// Incremental decoder: feed bytes as they arrive, pull messages out.
///
/// Partial frames stay buffered until complete. A frame whose `length` is
/// below 8 makes the decoder stop (the stream cannot be re-framed): it reports
/// a fatal [`Rejected`] once and then yields nothing more.
#[derive(Debug, Default)]
pub struct Decoder {
    buf: Vec<u8>,
    start: usize,
    dead: bool,
}

impl Decoder {
    /// An empty decoder.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends received bytes.
    pub fn feed(&mut self, bytes: &[u8]) {
        if self.start > 0 && self.start == self.buf.len() {
            self.buf.clear();
            self.start = 0;
        } else if self.start > 4096 {
            self.buf.drain(..self.start);
            self.start = 0;
        }
        self.buf.extend_from_slice(bytes);
    }

    /// Bytes buffered but not yet consumed.
    pub fn pending(&self) -> usize {
        self.buf.len() - self.start
    }

    /// Next complete frame (header included), without decoding its body.
    /// `Ok(None)`: more bytes are needed.
    pub fn next_frame(&mut self) -> Result<Option<Vec<u8>>, Rejected> {
        if self.dead {
            return Ok(None);
        }
        let avail = &self.buf[self.start..];
        let Some(h) = Header::parse(avail) else {
            return Ok(None);
        };
        let len = h.length as usize;
        if len < HEADER_LEN {
            self.dead = true;
            return Err(Rejected {
                header: h,
                error: OfpError::new(ErrorCode::BadRequestLen, "ofp_header.length < 8"),
                data: avail[..HEADER_LEN].to_vec(),
                fatal: true,
            });
        }
        if avail.len() < len {
            return Ok(None);
        }
        let frame = avail[..len].to_vec();
        self.start += len;
        Ok(Some(frame))
    }

    /// Next decoded message. `None`: more bytes are needed.
    /// `Some(Err(_))`: the frame was consumed but rejected; send
    /// [`Rejected::error_reply`] and carry on unless `fatal`.
    pub fn next_message(&mut self) -> Option<Result<(Header, Message), Rejected>> {
        match self.next_frame() {
            Ok(None) => None,
            Err(r) => Some(Err(r)),
            Ok(Some(frame)) => Some(decode_frame(&frame)),
        }
    }
}

/// Decodes one complete frame, turning a failure into a [`Rejected`].
pub fn decode_frame(frame: &[u8]) -> Result<(Header, Message), Rejected> {
    Message::decode(frame).map_err(|error| {
        let header = Header::parse(frame).unwrap_or(Header {
            version: 0,
            msg_type: 0,
            length: 0,
            xid: 0,
        });
        Rejected {
            header,
            error,
            data: frame[..frame.len().min(64)].to_vec(),
            fatal: false,
        }
    })
}
