//! The decoder's complete state as an immutable value.
//!
//! A [`DecoderState`] holds everything a VP8 frame's meaning depends on: the frame size, the
//! three reference pictures, the persistent probabilities, the segmentation (with its
//! per-macroblock map) and the loop-filter deltas. It is shared behind an [`Arc`], so cloning
//! is O(1), and it has a stable 64-bit [`StateId`].

use std::sync::{Arc, Mutex, OnceLock};

use crate::hash::{hash_bytes, StableHasher};
use crate::picture::Picture;
use crate::tables::{
    CoefficientProbabilities, DEFAULT_CHROMA_MODE_PROBABILITIES, DEFAULT_COEFFICIENT_PROBABILITIES,
    DEFAULT_LUMA_MODE_PROBABILITIES, DEFAULT_MV_PROBABILITIES, MV_PROBABILITY_COUNT,
};

/// The probabilities that persist from frame to frame (unless a frame says not to keep its
/// updates), reset to defaults by key frames.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EntropyProbabilities {
    /// Coefficient token probabilities.
    pub coefficients: CoefficientProbabilities,
    /// Inter-frame luma intra-mode probabilities.
    pub luma_modes: [u8; 4],
    /// Inter-frame chroma mode probabilities.
    pub chroma_modes: [u8; 3],
    /// Motion-vector probabilities: row component, then column component.
    pub mv: [[u8; MV_PROBABILITY_COUNT]; 2],
}

impl Default for EntropyProbabilities {
    fn default() -> Self {
        EntropyProbabilities {
            coefficients: DEFAULT_COEFFICIENT_PROBABILITIES,
            luma_modes: DEFAULT_LUMA_MODE_PROBABILITIES,
            chroma_modes: DEFAULT_CHROMA_MODE_PROBABILITIES,
            mv: DEFAULT_MV_PROBABILITIES,
        }
    }
}

impl EntropyProbabilities {
    fn hash_into(&self, hasher: &mut StableHasher) {
        let mut bytes = Vec::with_capacity(1200);
        for block_type in &self.coefficients {
            for band in block_type {
                for context in band {
                    bytes.extend_from_slice(context);
                }
            }
        }
        bytes.extend_from_slice(&self.luma_modes);
        bytes.extend_from_slice(&self.chroma_modes);
        bytes.extend_from_slice(&self.mv[0]);
        bytes.extend_from_slice(&self.mv[1]);
        hasher.write_bytes(&bytes);
    }
}

/// Segment-level adjustments that persist between frames (reset by key frames).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Segmentation {
    /// Whether the last frame used segmentation.
    pub enabled: bool,
    /// True: the per-segment values replace the frame's; false: they are added to it.
    pub absolute_values: bool,
    /// Quantiser index value or delta per segment.
    pub quantizer: [i8; 4],
    /// Loop-filter level value or delta per segment.
    pub loop_filter_level: [i8; 4],
}

/// Loop-filter level adjustments by reference frame and by prediction mode (persistent,
/// reset by key frames).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LoopFilterDeltas {
    /// Delta per reference frame: intra, last, golden, altref.
    pub reference: [i8; 4],
    /// Delta per mode class: B_PRED, ZEROMV, other whole-macroblock mvs, SPLITMV.
    pub mode: [i8; 4],
}

/// A reference picture: the decoded frame at macroblock-aligned size, with its hash computed
/// at most once.
#[derive(Debug)]
pub struct ReferenceFrame {
    picture: Picture,
    hash: OnceLock<u64>,
    /// The luma prepared for the encoder's motion search, made on first use. Derived from
    /// the picture, so not part of the state's identity.
    search_planes: OnceLock<crate::encoder::motion::SearchPlanes>,
}

impl ReferenceFrame {
    /// Wraps a reconstructed picture (macroblock-aligned size) as a reference.
    pub fn new(picture: Picture) -> Self {
        ReferenceFrame {
            picture,
            hash: OnceLock::new(),
            search_planes: OnceLock::new(),
        }
    }

    /// The macroblock-aligned picture.
    pub fn picture(&self) -> &Picture {
        &self.picture
    }

    /// The luma prepared for motion search, computed once per reference: the candidates of
    /// a frame and the later frames that predict from the same picture share it.
    pub fn search_planes(&self) -> &crate::encoder::motion::SearchPlanes {
        self.search_planes.get_or_init(|| {
            let plane = &self.picture.y;
            crate::encoder::motion::SearchPlanes::new(
                &plane.data,
                plane.stride,
                plane.width,
                plane.height,
            )
        })
    }

    /// Stable hash of the pixels.
    pub fn content_hash(&self) -> u64 {
        *self.hash.get_or_init(|| {
            let mut hasher = StableHasher::new();
            for plane in [&self.picture.y, &self.picture.u, &self.picture.v] {
                hasher.write_u64(plane.width as u64);
                hasher.write_u64(plane.height as u64);
                let mut packed = Vec::new();
                let bytes = if plane.stride == plane.width {
                    &plane.data[..plane.width * plane.height]
                } else {
                    plane.write_packed(&mut packed);
                    &packed[..]
                };
                hasher.write_u64(hash_bytes(bytes));
            }
            hasher.finish()
        })
    }
}

/// Plane buffers of dropped reference frames, kept for the next frames to reuse: allocating
/// and zeroing fresh frame-sized buffers every frame costs page faults.
static BUFFER_POOL: Mutex<Vec<Vec<u8>>> = Mutex::new(Vec::new());

/// Most buffers kept in the pool (three planes of a few frames).
const BUFFER_POOL_LIMIT: usize = 12;

impl Drop for ReferenceFrame {
    fn drop(&mut self) {
        if let Ok(mut pool) = BUFFER_POOL.lock() {
            for plane in [
                &mut self.picture.y,
                &mut self.picture.u,
                &mut self.picture.v,
            ] {
                if pool.len() < BUFFER_POOL_LIMIT {
                    pool.push(std::mem::take(&mut plane.data));
                }
            }
        }
    }
}

/// A buffer of `length` bytes with unspecified contents (recycled from a dropped reference
/// frame when one of that size is available), for planes that are entirely overwritten.
pub(crate) fn reusable_buffer(length: usize) -> Vec<u8> {
    if let Ok(mut pool) = BUFFER_POOL.lock() {
        if let Some(index) = pool.iter().position(|buffer| buffer.len() == length) {
            return pool.swap_remove(index);
        }
    }
    vec![0; length]
}

/// Which reference picture a macroblock predicts from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum ReferenceKind {
    /// No reference: intra prediction from the current frame.
    #[default]
    Intra = 0,
    /// The previous frame.
    Last = 1,
    /// The golden frame.
    Golden = 2,
    /// The alternate reference frame.
    AltRef = 3,
}

/// The three reference pictures.
#[derive(Clone, Debug)]
pub struct References {
    /// The last decoded frame.
    pub last: Arc<ReferenceFrame>,
    /// The golden frame.
    pub golden: Arc<ReferenceFrame>,
    /// The alternate reference frame.
    pub altref: Arc<ReferenceFrame>,
}

impl References {
    /// The reference picture for `kind` (`None` for intra).
    pub fn get(&self, kind: ReferenceKind) -> Option<&Arc<ReferenceFrame>> {
        match kind {
            ReferenceKind::Intra => None,
            ReferenceKind::Last => Some(&self.last),
            ReferenceKind::Golden => Some(&self.golden),
            ReferenceKind::AltRef => Some(&self.altref),
        }
    }
}

/// Stable 64-bit identifier of a [`DecoderState`]: a hash over everything in it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StateId(pub u64);

impl std::fmt::Display for StateId {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(formatter, "{:016x}", self.0)
    }
}

/// The parts of a decoder state, for building one (the reconstruction step and tests).
#[derive(Clone, Debug)]
pub struct StateParts {
    /// Display width in pixels (0 before the first key frame).
    pub width: u16,
    /// Display height in pixels (0 before the first key frame).
    pub height: u16,
    /// Reference pictures (`None` before the first key frame).
    pub references: Option<References>,
    /// Persistent probabilities.
    pub probabilities: EntropyProbabilities,
    /// Persistent segmentation parameters.
    pub segmentation: Segmentation,
    /// Segment id of every macroblock, in raster order (empty before the first key frame).
    pub segment_map: Arc<Vec<u8>>,
    /// Persistent loop-filter deltas.
    pub loop_filter_deltas: LoopFilterDeltas,
}

impl Default for StateParts {
    fn default() -> Self {
        StateParts {
            width: 0,
            height: 0,
            references: None,
            probabilities: EntropyProbabilities::default(),
            segmentation: Segmentation::default(),
            segment_map: Arc::new(Vec::new()),
            loop_filter_deltas: LoopFilterDeltas::default(),
        }
    }
}

#[derive(Debug)]
struct StateData {
    parts: StateParts,
    id: OnceLock<StateId>,
}

/// The complete decoder state: immutable, O(1) to clone, identified by a stable [`StateId`].
#[derive(Clone, Debug)]
pub struct DecoderState {
    data: Arc<StateData>,
}

impl Default for DecoderState {
    fn default() -> Self {
        Self::new()
    }
}

impl PartialEq for DecoderState {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.data, &other.data) || self.id() == other.id()
    }
}

impl DecoderState {
    /// The empty state: no frame size and no references; only a key frame can follow.
    pub fn new() -> Self {
        Self::from_parts(StateParts::default())
    }

    /// Builds a state from its parts.
    pub fn from_parts(parts: StateParts) -> Self {
        DecoderState {
            data: Arc::new(StateData {
                parts,
                id: OnceLock::new(),
            }),
        }
    }

    /// The parts of this state.
    pub fn parts(&self) -> &StateParts {
        &self.data.parts
    }

    /// Display width (0 for the empty state).
    pub fn width(&self) -> usize {
        usize::from(self.data.parts.width)
    }

    /// Display height (0 for the empty state).
    pub fn height(&self) -> usize {
        usize::from(self.data.parts.height)
    }

    /// Macroblock columns.
    pub fn macroblock_columns(&self) -> usize {
        self.width().div_ceil(16)
    }

    /// Macroblock rows.
    pub fn macroblock_rows(&self) -> usize {
        self.height().div_ceil(16)
    }

    /// The reference pictures, if a key frame has been decoded.
    pub fn references(&self) -> Option<&References> {
        self.data.parts.references.as_ref()
    }

    /// The persistent probabilities.
    pub fn probabilities(&self) -> &EntropyProbabilities {
        &self.data.parts.probabilities
    }

    /// The persistent segmentation parameters.
    pub fn segmentation(&self) -> &Segmentation {
        &self.data.parts.segmentation
    }

    /// Segment id per macroblock in raster order.
    pub fn segment_map(&self) -> &[u8] {
        &self.data.parts.segment_map
    }

    /// The persistent loop-filter deltas.
    pub fn loop_filter_deltas(&self) -> &LoopFilterDeltas {
        &self.data.parts.loop_filter_deltas
    }

    /// The last frame, cropped to display size (`None` for the empty state).
    pub fn last_picture(&self) -> Option<Picture> {
        self.references().map(|references| {
            references
                .last
                .picture()
                .cropped(self.width(), self.height())
        })
    }

    /// Stable hash over everything in the state; computed once, then cached.
    pub fn id(&self) -> StateId {
        *self.data.id.get_or_init(|| {
            let parts = &self.data.parts;
            let mut hasher = StableHasher::new();
            hasher.write_u64(u64::from(parts.width));
            hasher.write_u64(u64::from(parts.height));
            match &parts.references {
                None => hasher.write_u64(0),
                Some(references) => {
                    hasher.write_u64(1);
                    hasher.write_u64(references.last.content_hash());
                    hasher.write_u64(references.golden.content_hash());
                    hasher.write_u64(references.altref.content_hash());
                }
            }
            parts.probabilities.hash_into(&mut hasher);
            let segmentation = &parts.segmentation;
            let mut bytes = vec![
                u8::from(segmentation.enabled),
                u8::from(segmentation.absolute_values),
            ];
            bytes.extend(segmentation.quantizer.iter().map(|&value| value as u8));
            bytes.extend(
                segmentation
                    .loop_filter_level
                    .iter()
                    .map(|&value| value as u8),
            );
            bytes.extend(
                parts
                    .loop_filter_deltas
                    .reference
                    .iter()
                    .map(|&value| value as u8),
            );
            bytes.extend(
                parts
                    .loop_filter_deltas
                    .mode
                    .iter()
                    .map(|&value| value as u8),
            );
            hasher.write_bytes(&bytes);
            hasher.write_bytes(&parts.segment_map);
            StateId(hasher.finish())
        })
    }
}
