//! The IVF container: a 32-byte file header, then frames each with a 12-byte header (size and
//! timestamp). Streams are never rejected for their fourcc.

use std::io::{Read, Write};

/// Largest frame the reader accepts, so a corrupt size cannot trigger a huge allocation.
pub const MAX_FRAME_BYTES: usize = 32 << 20;

/// Errors reading or writing IVF.
#[derive(Debug)]
pub enum IvfError {
    /// The underlying reader or writer failed.
    Io(std::io::Error),
    /// The file does not start with the `DKIF` signature.
    BadSignature,
    /// The file ended inside the 32-byte file header.
    TruncatedHeader,
    /// The file ended inside a frame header or frame.
    TruncatedFrame {
        /// Index of the frame.
        index: u64,
    },
    /// A frame header declared a size above [`MAX_FRAME_BYTES`].
    FrameTooLarge {
        /// Index of the frame.
        index: u64,
        /// Declared size.
        size: usize,
    },
}

impl std::fmt::Display for IvfError {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            IvfError::Io(error) => write!(formatter, "IVF i/o error: {error}"),
            IvfError::BadSignature => write!(formatter, "not an IVF file (no DKIF signature)"),
            IvfError::TruncatedHeader => write!(formatter, "IVF file header is truncated"),
            IvfError::TruncatedFrame { index } => {
                write!(formatter, "IVF frame {index} is truncated")
            }
            IvfError::FrameTooLarge { index, size } => {
                write!(
                    formatter,
                    "IVF frame {index} declares {size} bytes, above the limit"
                )
            }
        }
    }
}

impl std::error::Error for IvfError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            IvfError::Io(error) => Some(error),
            _ => None,
        }
    }
}

impl From<std::io::Error> for IvfError {
    fn from(error: std::io::Error) -> Self {
        IvfError::Io(error)
    }
}

/// The IVF file header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IvfHeader {
    /// Codec fourcc (normally `VP80`; not checked).
    pub fourcc: [u8; 4],
    /// Width in pixels.
    pub width: u16,
    /// Height in pixels.
    pub height: u16,
    /// Time base numerator (frame rate).
    pub rate: u32,
    /// Time base denominator.
    pub scale: u32,
    /// Declared number of frames (may be wrong).
    pub frame_count: u32,
}

/// One IVF frame.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IvfFrame {
    /// Presentation timestamp in time-base units.
    pub timestamp: u64,
    /// The compressed frame.
    pub data: Vec<u8>,
}

/// Reads (fully) as many bytes as possible; returns how many were read.
fn read_up_to<R: Read>(reader: &mut R, buffer: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buffer.len() {
        match reader.read(&mut buffer[filled..]) {
            Ok(0) => break,
            Ok(count) => filled += count,
            Err(error) if error.kind() == std::io::ErrorKind::Interrupted => {}
            Err(error) => return Err(error),
        }
    }
    Ok(filled)
}

/// Reads an IVF stream frame by frame.
#[derive(Debug)]
pub struct IvfReader<R> {
    reader: R,
    header: IvfHeader,
    next_index: u64,
}

impl<R: Read> IvfReader<R> {
    /// Reads and checks the file header.
    pub fn new(mut reader: R) -> Result<Self, IvfError> {
        let mut bytes = [0u8; 32];
        let count = read_up_to(&mut reader, &mut bytes)?;
        if count >= 4 && &bytes[..4] != b"DKIF" {
            return Err(IvfError::BadSignature);
        }
        if count < 32 {
            return Err(IvfError::TruncatedHeader);
        }
        let u16_at = |at: usize| u16::from_le_bytes([bytes[at], bytes[at + 1]]);
        let u32_at = |at: usize| u32::from_le_bytes(bytes[at..at + 4].try_into().expect("4 bytes"));
        let header_length = usize::from(u16_at(6));
        let header = IvfHeader {
            fourcc: bytes[8..12].try_into().expect("4 bytes"),
            width: u16_at(12),
            height: u16_at(14),
            rate: u32_at(16),
            scale: u32_at(20),
            frame_count: u32_at(24),
        };
        // Skip any extra header bytes a longer header declares.
        if header_length > 32 {
            let extra = (header_length - 32) as u64;
            let skipped = std::io::copy(&mut (&mut reader).take(extra), &mut std::io::sink())?;
            if skipped < extra {
                return Err(IvfError::TruncatedHeader);
            }
        }
        Ok(IvfReader {
            reader,
            header,
            next_index: 0,
        })
    }

    /// The file header.
    pub fn header(&self) -> &IvfHeader {
        &self.header
    }

    /// The next frame, or `None` at a clean end of file.
    pub fn next_frame(&mut self) -> Result<Option<IvfFrame>, IvfError> {
        let index = self.next_index;
        let mut frame_header = [0u8; 12];
        let count = read_up_to(&mut self.reader, &mut frame_header)?;
        if count == 0 {
            return Ok(None);
        }
        if count < 12 {
            return Err(IvfError::TruncatedFrame { index });
        }
        let size = u32::from_le_bytes(frame_header[..4].try_into().expect("4 bytes")) as usize;
        if size > MAX_FRAME_BYTES {
            return Err(IvfError::FrameTooLarge { index, size });
        }
        let timestamp = u64::from_le_bytes(frame_header[4..].try_into().expect("8 bytes"));
        // Grow with the data actually present rather than trusting the declared size.
        let mut data = Vec::with_capacity(size.min(1 << 20));
        (&mut self.reader)
            .take(size as u64)
            .read_to_end(&mut data)?;
        if data.len() < size {
            return Err(IvfError::TruncatedFrame { index });
        }
        self.next_index += 1;
        Ok(Some(IvfFrame { timestamp, data }))
    }
}

impl<R: Read> Iterator for IvfReader<R> {
    type Item = Result<IvfFrame, IvfError>;

    fn next(&mut self) -> Option<Self::Item> {
        self.next_frame().transpose()
    }
}

/// Writes an IVF stream.
#[derive(Debug)]
pub struct IvfWriter<W> {
    writer: W,
}

impl<W: Write> IvfWriter<W> {
    /// Writes the file header.
    pub fn new(mut writer: W, header: &IvfHeader) -> Result<Self, IvfError> {
        let mut bytes = Vec::with_capacity(32);
        bytes.extend_from_slice(b"DKIF");
        bytes.extend_from_slice(&0u16.to_le_bytes());
        bytes.extend_from_slice(&32u16.to_le_bytes());
        bytes.extend_from_slice(&header.fourcc);
        bytes.extend_from_slice(&header.width.to_le_bytes());
        bytes.extend_from_slice(&header.height.to_le_bytes());
        bytes.extend_from_slice(&header.rate.to_le_bytes());
        bytes.extend_from_slice(&header.scale.to_le_bytes());
        bytes.extend_from_slice(&header.frame_count.to_le_bytes());
        bytes.extend_from_slice(&0u32.to_le_bytes());
        writer.write_all(&bytes)?;
        Ok(IvfWriter { writer })
    }

    /// Appends a frame.
    pub fn write_frame(&mut self, timestamp: u64, data: &[u8]) -> Result<(), IvfError> {
        let size = u32::try_from(data.len()).map_err(|_| IvfError::FrameTooLarge {
            index: 0,
            size: data.len(),
        })?;
        self.writer.write_all(&size.to_le_bytes())?;
        self.writer.write_all(&timestamp.to_le_bytes())?;
        self.writer.write_all(data)?;
        Ok(())
    }

    /// Flushes and returns the underlying writer.
    pub fn into_inner(mut self) -> Result<W, IvfError> {
        self.writer.flush()?;
        Ok(self.writer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Vec<u8> {
        let header = IvfHeader {
            fourcc: *b"XYZW",
            width: 16,
            height: 8,
            rate: 30,
            scale: 1,
            frame_count: 2,
        };
        let mut writer = IvfWriter::new(Vec::new(), &header).unwrap();
        writer.write_frame(0, b"abc").unwrap();
        writer.write_frame(1, b"").unwrap();
        writer.into_inner().unwrap()
    }

    #[test]
    fn round_trip_with_any_fourcc() {
        let bytes = sample();
        let mut reader = IvfReader::new(&bytes[..]).unwrap();
        assert_eq!(reader.header().fourcc, *b"XYZW");
        assert_eq!(reader.header().width, 16);
        let first = reader.next_frame().unwrap().unwrap();
        assert_eq!(first.data, b"abc");
        let second = reader.next_frame().unwrap().unwrap();
        assert_eq!((second.timestamp, second.data.len()), (1, 0));
        assert!(reader.next_frame().unwrap().is_none());
    }

    #[test]
    fn every_truncation_is_an_error_or_clean_end() {
        let bytes = sample();
        for end in 0..=bytes.len() {
            let result = IvfReader::new(&bytes[..end])
                .and_then(|reader| reader.collect::<Result<Vec<_>, _>>());
            // Only the frame boundaries are clean ends.
            match end {
                32 | 47 | 59 => assert!(result.is_ok(), "clean end at {end}"),
                _ => assert!(result.is_err(), "truncation at {end} accepted"),
            }
        }
    }

    #[test]
    fn huge_declared_frame_is_rejected_without_allocating() {
        let mut bytes = sample();
        bytes[32..36].copy_from_slice(&u32::MAX.to_le_bytes());
        let mut reader = IvfReader::new(&bytes[..]).unwrap();
        assert!(matches!(
            reader.next_frame(),
            Err(IvfError::FrameTooLarge { .. })
        ));
    }
}
