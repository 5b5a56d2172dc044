//! Bitcoin's consensus encoding: a bounds-checked reader and compact sizes.

use alloc::vec::Vec;

/// Why bytes do not decode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CodecError {
    Truncated,
    /// A compact size not written in its shortest form (Core refuses these).
    NonCanonical,
    /// An 8-byte compact size: larger than anything a block can hold.
    Oversized,
}

pub(crate) struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(bytes: &'a [u8]) -> Self {
        Self { bytes, pos: 0 }
    }

    pub(crate) fn position(&self) -> usize {
        self.pos
    }

    pub(crate) fn remaining(&self) -> usize {
        self.bytes.len() - self.pos
    }

    pub(crate) fn take(&mut self, n: usize) -> Result<&'a [u8], CodecError> {
        let end = self.pos.checked_add(n).ok_or(CodecError::Truncated)?;
        let out = self.bytes.get(self.pos..end).ok_or(CodecError::Truncated)?;
        self.pos = end;
        Ok(out)
    }

    /// Bytes already read, `from..to` (positions from [`Reader::position`]).
    pub(crate) fn slice(&self, from: usize, to: usize) -> &'a [u8] {
        &self.bytes[from..to]
    }

    pub(crate) fn peek(&self, n: usize) -> Option<&'a [u8]> {
        self.bytes.get(self.pos..self.pos.checked_add(n)?)
    }

    pub(crate) fn u32_le(&mut self) -> Result<u32, CodecError> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    pub(crate) fn compact_size(&mut self) -> Result<u64, CodecError> {
        let first = self.take(1)?[0];
        let n = match first {
            0xfd => {
                let b = self.take(2)?;
                u64::from(u16::from_le_bytes([b[0], b[1]]))
            }
            0xfe => u64::from(self.u32_le()?),
            0xff => return Err(CodecError::Oversized),
            n => return Ok(u64::from(n)),
        };
        let shortest = if first == 0xfd { 0xfd } else { 0x1_0000 };
        if n < shortest {
            return Err(CodecError::NonCanonical);
        }
        Ok(n)
    }

    /// A compact-size length followed by that many bytes.
    pub(crate) fn var_bytes(&mut self) -> Result<&'a [u8], CodecError> {
        let n = self.compact_size()?;
        self.take(usize::try_from(n).map_err(|_| CodecError::Truncated)?)
    }
}

pub(crate) fn write_compact_size(out: &mut Vec<u8>, n: u64) {
    match n {
        0..=0xfc => out.push(n as u8),
        0xfd..=0xffff => {
            out.push(0xfd);
            out.extend_from_slice(&(n as u16).to_le_bytes());
        }
        0x1_0000..=0xffff_ffff => {
            out.push(0xfe);
            out.extend_from_slice(&(n as u32).to_le_bytes());
        }
        _ => {
            out.push(0xff);
            out.extend_from_slice(&n.to_le_bytes());
        }
    }
}
