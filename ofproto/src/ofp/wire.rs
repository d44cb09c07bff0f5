//! Bounds-checked big-endian (network order) cursor and writer shared by every
//! codec module. Reading past the end is an error value, never a panic.

use super::error::{ErrorCode, OfpError};

/// A read cursor over a byte slice; all integers are network byte order.
#[derive(Debug, Clone)]
pub struct Rd<'a> {
    b: &'a [u8],
    pos: usize,
    /// Error returned when a read runs past the end.
    short: ErrorCode,
}

impl<'a> Rd<'a> {
    /// Cursor over `b`; running short yields `OFPBRC_BAD_LEN`.
    pub fn new(b: &'a [u8]) -> Self {
        Rd {
            b,
            pos: 0,
            short: ErrorCode::BadRequestLen,
        }
    }

    /// Cursor over `b` whose truncation error is `short`.
    pub fn with_short(b: &'a [u8], short: ErrorCode) -> Self {
        Rd { b, pos: 0, short }
    }

    fn err(&self) -> OfpError {
        OfpError::new(self.short, "truncated")
    }

    /// Bytes left to read.
    pub fn remaining(&self) -> usize {
        self.b.len() - self.pos
    }

    /// True when nothing is left.
    pub fn is_empty(&self) -> bool {
        self.remaining() == 0
    }

    /// Current offset from the start of the slice.
    pub fn pos(&self) -> usize {
        self.pos
    }

    /// Takes `n` bytes.
    pub fn bytes(&mut self, n: usize) -> Result<&'a [u8], OfpError> {
        if self.remaining() < n {
            return Err(self.err());
        }
        let s = &self.b[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    /// Takes `N` bytes into an array.
    pub fn arr<const N: usize>(&mut self) -> Result<[u8; N], OfpError> {
        let s = self.bytes(N)?;
        let mut a = [0u8; N];
        a.copy_from_slice(s);
        Ok(a)
    }

    /// Takes everything left.
    pub fn rest(&mut self) -> &'a [u8] {
        let s = &self.b[self.pos..];
        self.pos = self.b.len();
        s
    }

    /// Skips `n` (padding) bytes.
    pub fn skip(&mut self, n: usize) -> Result<(), OfpError> {
        self.bytes(n).map(|_| ())
    }

    /// Reads one byte.
    pub fn u8(&mut self) -> Result<u8, OfpError> {
        Ok(self.arr::<1>()?[0])
    }

    /// Reads a big-endian u16.
    pub fn u16(&mut self) -> Result<u16, OfpError> {
        Ok(u16::from_be_bytes(self.arr()?))
    }

    /// Reads a big-endian u32.
    pub fn u32(&mut self) -> Result<u32, OfpError> {
        Ok(u32::from_be_bytes(self.arr()?))
    }

    /// Reads a big-endian u64.
    pub fn u64(&mut self) -> Result<u64, OfpError> {
        Ok(u64::from_be_bytes(self.arr()?))
    }

    /// Peeks a big-endian u16 at `off` bytes ahead without consuming.
    pub fn peek_u16(&self, off: usize) -> Result<u16, OfpError> {
        let p = self.pos + off;
        if p + 2 > self.b.len() {
            return Err(self.err());
        }
        Ok(u16::from_be_bytes([self.b[p], self.b[p + 1]]))
    }

    /// Peeks a big-endian u32 at `off` bytes ahead without consuming.
    pub fn peek_u32(&self, off: usize) -> Result<u32, OfpError> {
        let p = self.pos + off;
        if p + 4 > self.b.len() {
            return Err(self.err());
        }
        Ok(u32::from_be_bytes([
            self.b[p],
            self.b[p + 1],
            self.b[p + 2],
            self.b[p + 3],
        ]))
    }

    /// Splits off a sub-cursor of `n` bytes (same truncation error).
    pub fn sub(&mut self, n: usize) -> Result<Rd<'a>, OfpError> {
        let short = self.short;
        Ok(Rd::with_short(self.bytes(n)?, short))
    }
}

/// Appends network-order integers to a `Vec<u8>`.
pub trait Wr {
    /// Appends a byte.
    fn u8(&mut self, v: u8);
    /// Appends a big-endian u16.
    fn u16(&mut self, v: u16);
    /// Appends a big-endian u32.
    fn u32(&mut self, v: u32);
    /// Appends a big-endian u64.
    fn u64(&mut self, v: u64);
    /// Appends raw bytes.
    fn put(&mut self, b: &[u8]);
    /// Appends `n` zero bytes.
    fn zeros(&mut self, n: usize);
    /// Zero-pads so that the length since `start` is a multiple of `align`.
    fn pad_from(&mut self, start: usize, align: usize);
    /// Stores `v` big-endian at absolute offset `at` (a length patched later).
    fn set_u16(&mut self, at: usize, v: u16);
}

impl Wr for Vec<u8> {
    fn u8(&mut self, v: u8) {
        self.push(v);
    }
    fn u16(&mut self, v: u16) {
        self.extend_from_slice(&v.to_be_bytes());
    }
    fn u32(&mut self, v: u32) {
        self.extend_from_slice(&v.to_be_bytes());
    }
    fn u64(&mut self, v: u64) {
        self.extend_from_slice(&v.to_be_bytes());
    }
    fn put(&mut self, b: &[u8]) {
        self.extend_from_slice(b);
    }
    fn zeros(&mut self, n: usize) {
        self.resize(self.len() + n, 0);
    }
    fn pad_from(&mut self, start: usize, align: usize) {
        let n = (self.len() - start) % align;
        if n != 0 {
            self.zeros(align - n);
        }
    }
    fn set_u16(&mut self, at: usize, v: u16) {
        self[at..at + 2].copy_from_slice(&v.to_be_bytes());
    }
}

/// Rounds `n` up to a multiple of 8 (OpenFlow's universal alignment).
pub fn pad8(n: usize) -> usize {
    n.div_ceil(8) * 8
}

/// Fixed-width NUL-padded string field (port names, descriptions) as text;
/// bytes after the first NUL are dropped.
pub fn cstr(b: &[u8]) -> String {
    let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
    String::from_utf8_lossy(&b[..end]).into_owned()
}

/// Writes `s` into a NUL-padded field of `width` bytes (truncated to leave a NUL).
pub fn put_cstr(w: &mut Vec<u8>, s: &str, width: usize) {
    let b = s.as_bytes();
    let n = b.len().min(width.saturating_sub(1));
    w.put(&b[..n]);
    w.zeros(width - n);
}
