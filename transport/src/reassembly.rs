//! Reassembly of frames from fragments.
//!
//! Fragments of one frame may arrive in any order; duplicates are ignored. Only the newest frame
//! is assembled: a fragment of a later frame gives up the incomplete one, and fragments of older
//! frames are dropped. Memory is bounded by one frame of at most `MAX_FRAGMENTS` fragments of at
//! most `MAX_DATA_PAYLOAD` bytes each, whatever arrives.

use thiserror::Error;

use crate::wire::DataPacket;

/// A complete frame, ready for the decoder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceivedFrame {
    /// The sender's frame number.
    pub frame_number: u32,
    /// Decoder state the frame was encoded from.
    pub source_state: u64,
    /// Decoder state the frame leads to.
    pub target_state: u64,
    /// The encoded frame.
    pub bytes: Vec<u8>,
}

/// A fragment that contradicts the frame it claims to belong to.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("fragment of frame {frame_number} disagrees with earlier fragments on count or states")]
pub struct InconsistentFragment {
    /// The frame concerned.
    pub frame_number: u32,
}

/// What became of one fragment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FragmentOutcome {
    /// Stored; the frame is not complete yet.
    Stored,
    /// The fragment completed this frame.
    Completed(ReceivedFrame),
    /// Already had this fragment.
    Duplicate,
    /// The fragment belongs to a frame older than the newest one seen.
    Stale,
}

#[derive(Debug)]
struct PartialFrame {
    frame_number: u32,
    fragment_count: u16,
    source_state: u64,
    target_state: u64,
    fragments: Vec<Option<Vec<u8>>>,
    received: u16,
}

/// Reassembles the newest frame.
#[derive(Debug, Default)]
pub struct Reassembler {
    partial: Option<PartialFrame>,
    /// Newest frame number completed or given up; older and equal fragments are stale.
    finished_up_to: Option<u32>,
    abandoned: u64,
}

impl Reassembler {
    /// Nothing received yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Incomplete frames given up so far because a later frame arrived.
    pub fn abandoned_frames(&self) -> u64 {
        self.abandoned
    }

    /// Adds one fragment (already checked by the wire parser: index below count, count bounded).
    pub fn insert(&mut self, packet: DataPacket) -> Result<FragmentOutcome, InconsistentFragment> {
        let frame_number = packet.frame_number;
        if self.finished_up_to.is_some_and(|done| frame_number <= done) {
            return Ok(FragmentOutcome::Stale);
        }
        match &self.partial {
            Some(partial) if frame_number < partial.frame_number => {
                return Ok(FragmentOutcome::Stale)
            }
            Some(partial) if frame_number > partial.frame_number => {
                self.abandoned += 1;
                self.partial = None;
            }
            _ => {}
        }
        let partial = self.partial.get_or_insert_with(|| PartialFrame {
            frame_number,
            fragment_count: packet.fragment_count,
            source_state: packet.source_state,
            target_state: packet.target_state,
            fragments: vec![None; usize::from(packet.fragment_count)],
            received: 0,
        });
        if partial.fragment_count != packet.fragment_count
            || partial.source_state != packet.source_state
            || partial.target_state != packet.target_state
        {
            return Err(InconsistentFragment { frame_number });
        }
        let Some(slot) = partial
            .fragments
            .get_mut(usize::from(packet.fragment_index))
        else {
            // The parser guarantees index < count; treat a violation as inconsistent input.
            return Err(InconsistentFragment { frame_number });
        };
        if slot.is_some() {
            return Ok(FragmentOutcome::Duplicate);
        }
        *slot = Some(packet.payload);
        partial.received += 1;
        if partial.received < partial.fragment_count {
            return Ok(FragmentOutcome::Stored);
        }
        let done = self.partial.take().expect("partial frame present");
        self.finished_up_to = Some(frame_number);
        let bytes = done.fragments.into_iter().flatten().flatten().collect();
        Ok(FragmentOutcome::Completed(ReceivedFrame {
            frame_number,
            source_state: done.source_state,
            target_state: done.target_state,
            bytes,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fragment(frame_number: u32, index: u16, count: u16, payload: &[u8]) -> DataPacket {
        DataPacket {
            frame_number,
            fragment_index: index,
            fragment_count: count,
            source_state: 10,
            target_state: 20,
            grace_micros: 0,
            payload: payload.to_vec(),
        }
    }

    #[test]
    fn any_order_duplicates_and_stale_fragments() {
        let mut reassembler = Reassembler::new();
        assert_eq!(
            reassembler.insert(fragment(1, 2, 3, b"ef")),
            Ok(FragmentOutcome::Stored)
        );
        assert_eq!(
            reassembler.insert(fragment(1, 0, 3, b"ab")),
            Ok(FragmentOutcome::Stored)
        );
        assert_eq!(
            reassembler.insert(fragment(1, 0, 3, b"ab")),
            Ok(FragmentOutcome::Duplicate)
        );
        let Ok(FragmentOutcome::Completed(frame)) = reassembler.insert(fragment(1, 1, 3, b"cd"))
        else {
            panic!("frame should complete");
        };
        assert_eq!(frame.bytes, b"abcdef");
        assert_eq!((frame.source_state, frame.target_state), (10, 20));
        assert_eq!(
            reassembler.insert(fragment(1, 1, 3, b"cd")),
            Ok(FragmentOutcome::Stale)
        );
    }

    #[test]
    fn a_later_frame_gives_up_the_incomplete_one() {
        let mut reassembler = Reassembler::new();
        reassembler.insert(fragment(5, 0, 2, b"a")).unwrap();
        assert_eq!(
            reassembler.insert(fragment(6, 0, 1, b"z")),
            Ok(FragmentOutcome::Completed(ReceivedFrame {
                frame_number: 6,
                source_state: 10,
                target_state: 20,
                bytes: b"z".to_vec()
            }))
        );
        assert_eq!(reassembler.abandoned_frames(), 1);
        assert_eq!(
            reassembler.insert(fragment(5, 1, 2, b"b")),
            Ok(FragmentOutcome::Stale)
        );
    }

    #[test]
    fn contradicting_fragments_are_refused_without_harm() {
        let mut reassembler = Reassembler::new();
        reassembler.insert(fragment(1, 0, 2, b"a")).unwrap();
        assert_eq!(
            reassembler.insert(fragment(1, 1, 3, b"b")),
            Err(InconsistentFragment { frame_number: 1 })
        );
        let mut other_state = fragment(1, 1, 2, b"b");
        other_state.target_state = 99;
        assert!(reassembler.insert(other_state).is_err());
        assert!(matches!(
            reassembler.insert(fragment(1, 1, 2, b"b")),
            Ok(FragmentOutcome::Completed(frame)) if frame.bytes == b"ab"
        ));
    }
}
