//! The YUV4MPEG2 (Y4M) container, 4:2:0 only: a header line with `W`, `H`, `F`, `C` and other
//! parameters, then frames each introduced by a `FRAME` line. Any `C420*` colour space tag is
//! accepted (a missing one means 4:2:0); `X` and other parameters are ignored.

use std::io::{BufRead, Write};

use crate::header::MAX_FRAME_PIXELS;
use crate::picture::Picture;

/// Longest header or frame line accepted.
const MAX_LINE_BYTES: usize = 4096;

/// Errors reading or writing Y4M.
#[derive(Debug)]
pub enum Y4mError {
    /// The underlying reader or writer failed.
    Io(std::io::Error),
    /// The stream does not start with `YUV4MPEG2`.
    BadSignature,
    /// A header or frame line is malformed or too long.
    BadLine(String),
    /// The header lacks a positive width or height, or is too large.
    BadSize {
        /// Declared width.
        width: usize,
        /// Declared height.
        height: usize,
    },
    /// A colour space other than 4:2:0.
    UnsupportedColorSpace(String),
    /// The stream ended inside a frame.
    TruncatedFrame {
        /// Index of the frame.
        index: u64,
    },
}

impl std::fmt::Display for Y4mError {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Y4mError::Io(error) => write!(formatter, "Y4M i/o error: {error}"),
            Y4mError::BadSignature => write!(formatter, "not a Y4M file (no YUV4MPEG2 signature)"),
            Y4mError::BadLine(line) => write!(formatter, "malformed Y4M line: {line:?}"),
            Y4mError::BadSize { width, height } => {
                write!(formatter, "unsupported Y4M frame size {width}x{height}")
            }
            Y4mError::UnsupportedColorSpace(tag) => {
                write!(formatter, "unsupported Y4M colour space {tag} (only 4:2:0)")
            }
            Y4mError::TruncatedFrame { index } => {
                write!(formatter, "Y4M frame {index} is truncated")
            }
        }
    }
}

impl std::error::Error for Y4mError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Y4mError::Io(error) => Some(error),
            _ => None,
        }
    }
}

impl From<std::io::Error> for Y4mError {
    fn from(error: std::io::Error) -> Self {
        Y4mError::Io(error)
    }
}

/// The stream parameters of a Y4M file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Y4mHeader {
    /// Width in pixels.
    pub width: usize,
    /// Height in pixels.
    pub height: usize,
    /// Frame rate numerator.
    pub frame_rate_numerator: u32,
    /// Frame rate denominator.
    pub frame_rate_denominator: u32,
}

/// Reads a line ending in `\n` (not included); `None` at end of input before any byte.
fn read_line<R: BufRead>(reader: R) -> Result<Option<String>, Y4mError> {
    let mut line = Vec::new();
    let count = reader
        .take(MAX_LINE_BYTES as u64 + 1)
        .read_until(b'\n', &mut line)?;
    if count == 0 {
        return Ok(None);
    }
    if line.last() != Some(&b'\n') {
        let text = String::from_utf8_lossy(&line[..line.len().min(64)]).into_owned();
        return Err(Y4mError::BadLine(text));
    }
    line.pop();
    String::from_utf8(line)
        .map(Some)
        .map_err(|error| Y4mError::BadLine(String::from_utf8_lossy(error.as_bytes()).into_owned()))
}

/// Reads a Y4M stream picture by picture.
#[derive(Debug)]
pub struct Y4mReader<R> {
    reader: R,
    header: Y4mHeader,
    next_index: u64,
}

impl<R: BufRead> Y4mReader<R> {
    /// Reads and checks the header line.
    pub fn new(mut reader: R) -> Result<Self, Y4mError> {
        let line = read_line(&mut reader)?.ok_or(Y4mError::BadSignature)?;
        let mut fields = line.split(' ');
        if fields.next() != Some("YUV4MPEG2") {
            return Err(Y4mError::BadSignature);
        }
        let (mut width, mut height) = (0usize, 0usize);
        let (mut numerator, mut denominator) = (30u32, 1u32);
        for field in fields.filter(|field| !field.is_empty()) {
            let (key, value) = field.split_at(1);
            let bad = || Y4mError::BadLine(line.clone());
            match key {
                "W" => width = value.parse().map_err(|_| bad())?,
                "H" => height = value.parse().map_err(|_| bad())?,
                "F" => {
                    let (n, d) = value.split_once(':').ok_or_else(bad)?;
                    numerator = n.parse().map_err(|_| bad())?;
                    denominator = d.parse().map_err(|_| bad())?;
                }
                "C" if !value.starts_with("420") => {
                    return Err(Y4mError::UnsupportedColorSpace(value.to_string()));
                }
                _ => {}
            }
        }
        if width == 0 || height == 0 || width.saturating_mul(height) > MAX_FRAME_PIXELS {
            return Err(Y4mError::BadSize { width, height });
        }
        Ok(Y4mReader {
            reader,
            header: Y4mHeader {
                width,
                height,
                frame_rate_numerator: numerator,
                frame_rate_denominator: denominator,
            },
            next_index: 0,
        })
    }

    /// The stream parameters.
    pub fn header(&self) -> &Y4mHeader {
        &self.header
    }

    /// The next picture, or `None` at a clean end of file.
    pub fn next_picture(&mut self) -> Result<Option<Picture>, Y4mError> {
        let index = self.next_index;
        let Some(line) = read_line(&mut self.reader)? else {
            return Ok(None);
        };
        if !(line == "FRAME" || line.starts_with("FRAME ")) {
            return Err(Y4mError::BadLine(line));
        }
        let (width, height) = (self.header.width, self.header.height);
        let size = width * height + 2 * width.div_ceil(2) * height.div_ceil(2);
        let mut bytes = vec![0u8; size];
        let mut filled = 0;
        while filled < size {
            match self.reader.read(&mut bytes[filled..]) {
                Ok(0) => return Err(Y4mError::TruncatedFrame { index }),
                Ok(count) => filled += count,
                Err(error) if error.kind() == std::io::ErrorKind::Interrupted => {}
                Err(error) => return Err(error.into()),
            }
        }
        self.next_index += 1;
        Ok(Some(
            Picture::from_i420(width, height, &bytes).expect("buffer has the I420 size"),
        ))
    }
}

impl<R: BufRead> Iterator for Y4mReader<R> {
    type Item = Result<Picture, Y4mError>;

    fn next(&mut self) -> Option<Self::Item> {
        self.next_picture().transpose()
    }
}

/// Writes a 4:2:0 Y4M stream.
#[derive(Debug)]
pub struct Y4mWriter<W> {
    writer: W,
    width: usize,
    height: usize,
}

impl<W: Write> Y4mWriter<W> {
    /// Writes the header line.
    pub fn new(mut writer: W, header: &Y4mHeader) -> Result<Self, Y4mError> {
        writeln!(
            writer,
            "YUV4MPEG2 W{} H{} F{}:{} Ip A1:1 C420jpeg",
            header.width, header.height, header.frame_rate_numerator, header.frame_rate_denominator
        )?;
        Ok(Y4mWriter {
            writer,
            width: header.width,
            height: header.height,
        })
    }

    /// Appends a picture; it must have the stream's size.
    pub fn write_picture(&mut self, picture: &Picture) -> Result<(), Y4mError> {
        if picture.width() != self.width || picture.height() != self.height {
            return Err(Y4mError::BadSize {
                width: picture.width(),
                height: picture.height(),
            });
        }
        self.writer.write_all(b"FRAME\n")?;
        self.writer.write_all(&picture.to_i420())?;
        Ok(())
    }

    /// Flushes and returns the underlying writer.
    pub fn into_inner(mut self) -> Result<W, Y4mError> {
        self.writer.flush()?;
        Ok(self.writer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_odd_size() {
        let header = Y4mHeader {
            width: 3,
            height: 3,
            frame_rate_numerator: 24,
            frame_rate_denominator: 1,
        };
        let mut picture = Picture::new(3, 3);
        picture.y.data[4] = 9;
        picture.v.data[3] = 7;
        let mut writer = Y4mWriter::new(Vec::new(), &header).unwrap();
        writer.write_picture(&picture).unwrap();
        let bytes = writer.into_inner().unwrap();
        let mut reader = Y4mReader::new(&bytes[..]).unwrap();
        assert_eq!(reader.header(), &header);
        assert_eq!(reader.next_picture().unwrap().unwrap(), picture);
        assert!(reader.next_picture().unwrap().is_none());
        for end in 1..bytes.len() {
            let result = Y4mReader::new(&bytes[..end])
                .and_then(|reader| reader.collect::<Result<Vec<_>, _>>());
            let header_end = bytes.iter().position(|&b| b == b'\n').unwrap() + 1;
            if end == header_end {
                assert!(result.is_ok());
            } else {
                assert!(result.is_err(), "truncation at {end} accepted");
            }
        }
    }

    #[test]
    fn accepts_c420_variants_and_rejects_others() {
        for tag in ["C420", "C420jpeg", "C420paldv", "C420mpeg2"] {
            let text = format!("YUV4MPEG2 W2 H2 F25:1 {tag} XYSCSS=420JPEG\n");
            assert!(Y4mReader::new(text.as_bytes()).is_ok(), "{tag}");
        }
        let text = "YUV4MPEG2 W2 H2 F25:1 C444\n";
        assert!(matches!(
            Y4mReader::new(text.as_bytes()),
            Err(Y4mError::UnsupportedColorSpace(_))
        ));
        assert!(Y4mReader::new(&b"YUV4MPEG2 W99999 H99999\n"[..]).is_err());
    }
}
