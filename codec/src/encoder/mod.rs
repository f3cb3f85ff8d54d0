//! The VP8 encoder: turns a picture into a frame that moves a decoder state forward.
//!
//! [`encode`] is a pure function of (state, picture, parameters): it never changes the state
//! it starts from, and the same inputs give the same bytes. The [`EncodedFrame`] it returns
//! carries the state a decoder reaches by decoding those bytes from that state, built with the
//! decoder's own prediction, inverse-transform and loop-filter kernels and its reference
//! updates (debug builds also check it against [`crate::FrameReconstructor`]).
//!
//! Layout: [`entropy`] (boolean encoder, bit counter, recorder), [`transform`] and
//! [`quantize`] (forward transforms and quantisation), [`motion`] (motion search),
//! [`bitstream`] (header, mode and token writers), `frame` (mode decisions per macroblock)
//! and [`rate`] (choosing a quantizer for a byte budget).

pub mod bitstream;
pub mod entropy;
mod frame;
pub mod motion;
pub mod quantize;
pub mod rate;
mod residual;
pub mod transform;

use std::sync::Arc;

use crate::header::MAX_FRAME_PIXELS;
use crate::picture::Picture;
use crate::state::{DecoderState, StateId};

/// How hard the encoder looks for good decisions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Effort {
    /// Whole-block intra modes (and 4x4 ones on key frames), whole-pixel motion search, a
    /// loop-filter level from the quantizer, and the real-time shortcuts: no residual where
    /// the inter prediction's error would almost surely quantise away.
    Fast,
    /// Fast plus quarter-pixel motion refinement of the vectors that do not already predict
    /// well: most of the quality at less cost.
    Balanced,
    /// Adds 4x4 intra modes, SPLITMV, the golden and alternate references (with a short
    /// whole-pixel vector search where they beat LAST) and a loop-filter level chosen by
    /// trial, and takes no shortcuts.
    #[default]
    Thorough,
}

/// What to encode a frame with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EncodeParams {
    /// Quantizer index, 0 (finest) to 127 (coarsest): constant-quantizer coding.
    pub quantizer: u8,
    /// Code a key frame even when the state could predict the picture.
    pub keyframe: bool,
    /// Loop-filter level 0..=63; `None` lets the encoder choose.
    pub loop_filter_level: Option<u8>,
    /// Make this frame the new golden reference too (for example every few seconds).
    pub refresh_golden: bool,
    /// Make this frame the new alternate reference too. Its sign bias stays false: it is a
    /// past frame like the others, so neighbours' vectors need no inversion.
    pub refresh_altref: bool,
    /// Search effort.
    pub effort: Effort,
}

impl Default for EncodeParams {
    fn default() -> Self {
        EncodeParams {
            quantizer: 64,
            keyframe: false,
            loop_filter_level: None,
            refresh_golden: false,
            refresh_altref: false,
            effort: Effort::default(),
        }
    }
}

impl EncodeParams {
    /// Default parameters at quantizer index `quantizer`.
    pub fn with_quantizer(quantizer: u8) -> Self {
        EncodeParams {
            quantizer,
            ..EncodeParams::default()
        }
    }
}

/// A compressed frame and what decoding it does.
#[derive(Debug, Clone)]
pub struct EncodedFrame {
    /// The VP8 frame.
    pub bytes: Vec<u8>,
    /// The state the frame must be decoded from.
    pub source: StateId,
    /// The state decoding the frame from `source` produces.
    pub target: DecoderState,
    /// Whether this is a key frame.
    pub key_frame: bool,
    /// The quantizer index used.
    pub quantizer: u8,
}

impl EncodedFrame {
    /// The picture a decoder shows for this frame (display size), cut from the target state's
    /// last frame when asked: a sender seldom needs it, so encoding does not make it.
    pub fn picture(&self) -> Picture {
        self.target
            .last_picture()
            .expect("an encoded frame's target state has references")
    }
}

/// Why a picture could not be encoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EncodeError {
    /// The picture has no pixels.
    EmptyPicture,
    /// The picture is larger than VP8 (14-bit sizes) or the decoder accepts.
    PictureTooLarge {
        /// Width in pixels.
        width: usize,
        /// Height in pixels.
        height: usize,
    },
    /// The planes' sizes or buffers do not form a 4:2:0 picture.
    MalformedPicture {
        /// What is wrong.
        reason: &'static str,
    },
    /// The quantizer index is above 127.
    QuantizerOutOfRange {
        /// The index given.
        quantizer: u8,
    },
    /// No candidate parameters were given.
    NoCandidates,
}

impl std::fmt::Display for EncodeError {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            EncodeError::EmptyPicture => write!(formatter, "picture has no pixels"),
            EncodeError::PictureTooLarge { width, height } => {
                write!(
                    formatter,
                    "picture size {width}x{height} is too large for VP8"
                )
            }
            EncodeError::MalformedPicture { reason } => {
                write!(formatter, "malformed 4:2:0 picture: {reason}")
            }
            EncodeError::QuantizerOutOfRange { quantizer } => {
                write!(formatter, "quantizer index {quantizer} is above 127")
            }
            EncodeError::NoCandidates => write!(formatter, "no encoding parameters given"),
        }
    }
}

impl std::error::Error for EncodeError {}

fn validate(picture: &Picture, params: &EncodeParams) -> Result<(), EncodeError> {
    let (width, height) = (picture.width(), picture.height());
    if width == 0 || height == 0 {
        return Err(EncodeError::EmptyPicture);
    }
    if width > 0x3fff || height > 0x3fff || width * height > MAX_FRAME_PIXELS {
        return Err(EncodeError::PictureTooLarge { width, height });
    }
    if params.quantizer > 127 {
        return Err(EncodeError::QuantizerOutOfRange {
            quantizer: params.quantizer,
        });
    }
    let chroma = (width.div_ceil(2), height.div_ceil(2));
    for (plane, (expected_width, expected_height)) in [
        (&picture.y, (width, height)),
        (&picture.u, chroma),
        (&picture.v, chroma),
    ] {
        if plane.width != expected_width || plane.height != expected_height {
            return Err(EncodeError::MalformedPicture {
                reason: "chroma planes must be half the luma size, rounded up",
            });
        }
        if plane.stride < plane.width {
            return Err(EncodeError::MalformedPicture {
                reason: "a plane's stride is smaller than its width",
            });
        }
        if plane.data.len() < plane.stride * (plane.height - 1) + plane.width {
            return Err(EncodeError::MalformedPicture {
                reason: "a plane's buffer is shorter than its size",
            });
        }
    }
    Ok(())
}

/// Whether a frame from `state` must be a key frame for `picture`.
pub fn needs_keyframe(state: &DecoderState, picture: &Picture) -> bool {
    state.references().is_none()
        || state.width() != picture.width()
        || state.height() != picture.height()
}

/// Encodes `picture` as the frame that follows `state`.
///
/// A key frame is coded when `params.keyframe` asks for one, when the state has no references,
/// or when the picture's size differs from the state's; an inter frame otherwise. The state is
/// not changed: the result names it as its source and carries the target state.
pub fn encode(
    state: &DecoderState,
    picture: &Picture,
    params: &EncodeParams,
) -> Result<EncodedFrame, EncodeError> {
    validate(picture, params)?;
    let key_frame = params.keyframe || needs_keyframe(state, picture);
    let thorough = params.effort == Effort::Thorough;
    let references = state.references().filter(|_| !key_frame);
    let search_golden =
        references.is_some_and(|references| !Arc::ptr_eq(&references.golden, &references.last));
    // The alternate reference is worth a search only when it holds a picture neither LAST nor
    // GOLDEN offers.
    let search_altref = references.is_some_and(|references| {
        !Arc::ptr_eq(&references.altref, &references.last)
            && !Arc::ptr_eq(&references.altref, &references.golden)
    });
    let settings = frame::FrameSettings {
        key_frame,
        quantizer: params.quantizer,
        filter_level: params.loop_filter_level,
        refresh_golden: params.refresh_golden,
        refresh_altref: params.refresh_altref,
        search_golden: search_golden && thorough,
        search_altref: search_altref && thorough,
        search_other_new_mv: thorough,
        // Every later frame predicts from the key frame: its 4x4 intra modes pay at any effort.
        subblock_intra: thorough || key_frame,
        subpixel: params.effort != Effort::Fast,
        split: thorough,
        filter_trials: thorough,
        shortcuts: !thorough,
    };
    let frame::CodedFrame {
        bytes,
        header,
        infos,
        coefficients,
        inner_edges,
        unfiltered,
    } = frame::encode_frame(state, picture, &settings);
    let target = target_state(
        state,
        &header,
        &infos,
        &coefficients,
        &inner_edges,
        unfiltered,
    );
    Ok(EncodedFrame {
        bytes,
        source: state.id(),
        target,
        key_frame,
        quantizer: params.quantizer,
    })
}

/// The state a decoder reaches from `state` by decoding `coded`.
///
/// The encoder built its reconstruction with the decoder's prediction and inverse-transform
/// kernels, so the unfiltered frame is the decoder's; the rest is the decoder's own final
/// step (loop filter, reference and probability updates). Debug builds rebuild the frame
/// with [`crate::FrameReconstructor`] and check that the two agree.
fn target_state(
    state: &DecoderState,
    header: &crate::FrameHeader,
    infos: &[crate::MacroblockInfo],
    coefficients: &[crate::MacroblockCoefficients],
    inner_edges: &[bool],
    mut frame: Picture,
) -> DecoderState {
    #[cfg(debug_assertions)]
    {
        let mut reconstructor = crate::FrameReconstructor::new(state, header);
        let columns = reconstructor.columns();
        let skipped = crate::MacroblockCoefficients::default();
        let mut coded = coefficients.iter();
        for (index, info) in infos.iter().enumerate() {
            let block_coefficients = if info.skip_coefficients {
                &skipped
            } else {
                coded.next().expect("a coded macroblock's coefficients")
            };
            reconstructor.reconstruct_macroblock(
                index % columns,
                index / columns,
                info,
                block_coefficients,
            );
        }
        debug_assert!(
            coded.next().is_none(),
            "more coefficient records than coded macroblocks"
        );
        debug_assert!(
            reconstructor.frame() == &frame,
            "the encoder's reconstruction differs from the decoder's"
        );
    }
    // Only the check above reads the coefficients.
    #[cfg(not(debug_assertions))]
    let _ = coefficients;
    crate::loop_filter::filter_frame(&mut frame, header, infos, inner_edges);
    crate::reconstruct::state_after_frame(state, header, infos, frame)
}

/// Encodes the same picture from the same state with each of `candidates`, in parallel
/// threads, returning the results in the same order. The session uses this to prepare a
/// better and a worse version of each frame and decide which to send once both exist.
pub fn encode_candidates(
    state: &DecoderState,
    picture: &Picture,
    candidates: &[EncodeParams],
) -> Vec<Result<EncodedFrame, EncodeError>> {
    match candidates {
        [] => Vec::new(),
        [only] => vec![encode(state, picture, only)],
        _ => std::thread::scope(|scope| {
            let handles: Vec<_> = candidates
                .iter()
                .map(|params| scope.spawn(move || encode(state, picture, params)))
                .collect();
            handles
                .into_iter()
                .map(|handle| match handle.join() {
                    Ok(result) => result,
                    Err(panic) => std::panic::resume_unwind(panic),
                })
                .collect()
        }),
    }
}

pub use rate::{encode_to_size, RateController};
