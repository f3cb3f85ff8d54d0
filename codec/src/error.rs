//! Errors of decoding a frame.

/// Why a frame could not be decoded. The state passed to `decode` is never changed, so the
/// caller can carry on from it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecodeError {
    /// The frame is shorter than its fixed-size header parts.
    Truncated {
        /// What was being read.
        what: &'static str,
    },
    /// A key frame without the 0x9d 0x01 0x2a start code.
    BadStartCode,
    /// A key frame declaring zero width or height.
    ZeroSize,
    /// A key frame larger than [`crate::MAX_FRAME_PIXELS`].
    FrameTooLarge {
        /// Declared width.
        width: usize,
        /// Declared height.
        height: usize,
    },
    /// An inter frame arrived at a state with no reference frames.
    NoReferenceFrames,
    /// The first partition size points past the end of the frame.
    FirstPartitionTooLong,
    /// A token partition size points past the end of the frame.
    PartitionTooLong {
        /// Which token partition.
        index: usize,
    },
    /// A partition's data ended well before the decoder finished reading it.
    PartitionOverrun {
        /// 0 for the first (modes) partition, `1 + i` for token partition `i`.
        partition: usize,
    },
    /// A buffer copy flag with the reserved value 3.
    InvalidBufferCopy,
}

impl std::fmt::Display for DecodeError {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DecodeError::Truncated { what } => write!(formatter, "frame truncated in the {what}"),
            DecodeError::BadStartCode => write!(formatter, "key frame without the VP8 start code"),
            DecodeError::ZeroSize => write!(formatter, "key frame with zero width or height"),
            DecodeError::FrameTooLarge { width, height } => write!(
                formatter,
                "frame size {width}x{height} exceeds the supported maximum"
            ),
            DecodeError::NoReferenceFrames => {
                write!(formatter, "inter frame without a preceding key frame")
            }
            DecodeError::FirstPartitionTooLong => {
                write!(formatter, "first partition size exceeds the frame")
            }
            DecodeError::PartitionTooLong { index } => {
                write!(formatter, "token partition {index} size exceeds the frame")
            }
            DecodeError::PartitionOverrun { partition } => {
                write!(
                    formatter,
                    "partition {partition} ended before its data was decoded"
                )
            }
            DecodeError::InvalidBufferCopy => write!(formatter, "reserved buffer copy flag"),
        }
    }
}

impl std::error::Error for DecodeError {}
