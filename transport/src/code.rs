//! Call codes: the short secret two people read to each other to start a call.
//!
//! A code looks like `7-crossover-clockwork`: a number below [`CODE_NUMBER_LIMIT`] and two words
//! from our own list of 256 short, common, easy-to-spell English words, about 26 bits in all.
//! That is few bits for a key, and it does not need more: the code only feeds a PAKE (SPAKE2), so an
//! attacker gets one guess per handshake they take part in, and someone who merely watches the
//! handshake learns nothing that lets them test guesses offline.

use rand_core::{CryptoRng, RngCore};
use std::fmt;
use std::str::FromStr;
use thiserror::Error;

/// Call-code numbers are below this.
pub const CODE_NUMBER_LIMIT: u16 = 1000;

/// The 256 words call codes are made of, sorted, all distinct, lowercase ASCII.
pub const WORDS: [&str; 256] = [
    "acid", "acorn", "actor", "agent", "alarm", "album", "alley", "amber", "angle", "ankle",
    "apple", "apron", "arena", "arrow", "atlas", "attic", "bacon", "badge", "bagel", "baker",
    "bamboo", "banjo", "barn", "basin", "beach", "beard", "bell", "bench", "berry", "bike", "bird",
    "blade", "bloom", "board", "boat", "bone", "book", "boot", "bottle", "bowl", "brain", "brass",
    "bread", "brick", "bridge", "broom", "brush", "bubble", "bucket", "cabin", "cable", "cactus",
    "camel", "candle", "canoe", "canyon", "carpet", "carrot", "castle", "cave", "cedar", "chair",
    "chalk", "cheese", "cherry", "chess", "chimney", "circle", "clay", "cliff", "clock", "cloud",
    "clover", "coast", "cobra", "coffee", "comet", "coral", "cotton", "couch", "crab", "crane",
    "crayon", "cricket", "crown", "cup", "curtain", "daisy", "dance", "delta", "desert", "diamond",
    "dinner", "dock", "dolphin", "donkey", "door", "dragon", "drum", "duck", "eagle", "earth",
    "echo", "elbow", "engine", "falcon", "feather", "fence", "fern", "field", "finger", "flag",
    "flame", "flute", "forest", "fossil", "fox", "frog", "garden", "garlic", "ghost", "giant",
    "ginger", "glass", "globe", "glove", "goat", "grape", "gravel", "guitar", "hammer", "harbor",
    "hat", "hawk", "helmet", "hill", "honey", "horse", "island", "ivory", "jacket", "jelly",
    "jewel", "jungle", "kettle", "key", "kite", "koala", "ladder", "lake", "lamp", "lantern",
    "lemon", "lily", "lion", "lizard", "lobster", "magnet", "mango", "maple", "marble", "meadow",
    "melon", "mirror", "monkey", "moon", "moss", "mountain", "mouse", "muffin", "needle", "nest",
    "noodle", "oak", "ocean", "olive", "onion", "orange", "otter", "owl", "paddle", "palace",
    "panda", "paper", "parrot", "peach", "pearl", "pencil", "pepper", "piano", "pickle", "pillow",
    "pilot", "pine", "planet", "plum", "pocket", "pony", "potato", "pumpkin", "puzzle", "quilt",
    "rabbit", "radio", "rain", "raven", "ribbon", "river", "robot", "rocket", "rose", "saddle",
    "salmon", "sand", "saturn", "scarf", "shadow", "shell", "ship", "silver", "skate", "sled",
    "snail", "snow", "socks", "spider", "spoon", "squash", "star", "stone", "storm", "sugar",
    "summer", "sun", "swan", "table", "tiger", "toast", "tomato", "tower", "train", "tulip",
    "turtle", "valley", "velvet", "violin", "wagon", "walnut", "whale", "wheat", "window",
    "winter", "wolf", "yarn", "zebra", "zipper",
];

/// A call code: a number and two words.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct CallCode {
    number: u16,
    first: u8,
    second: u8,
}

/// Why a string is not a call code.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum CallCodeError {
    /// The code is not three parts joined by `-`.
    #[error("a call code is a number and two words joined by '-', like 7-apple-tiger")]
    WrongShape,
    /// The first part is not a number below [`CODE_NUMBER_LIMIT`].
    #[error("'{0}' is not a number below {CODE_NUMBER_LIMIT}")]
    BadNumber(String),
    /// A word is not in the word list.
    #[error("'{0}' is not a call-code word")]
    UnknownWord(String),
}

impl CallCode {
    /// Draws a fresh code from `rng` (an OS RNG in a real call, a seeded one in tests).
    pub fn generate<R: RngCore + CryptoRng>(rng: &mut R) -> Self {
        // Rejection sampling keeps the number uniform.
        let number = loop {
            let candidate = (rng.next_u32() & 0x3FF) as u16;
            if candidate < CODE_NUMBER_LIMIT {
                break candidate;
            }
        };
        let words = rng.next_u32();
        CallCode {
            number,
            first: (words & 0xFF) as u8,
            second: ((words >> 8) & 0xFF) as u8,
        }
    }

    /// The canonical text of the code, which is also the PAKE password.
    pub fn as_password(&self) -> String {
        self.to_string()
    }
}

impl fmt::Display for CallCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}-{}-{}",
            self.number,
            WORDS[usize::from(self.first)],
            WORDS[usize::from(self.second)]
        )
    }
}

/// The code is a secret: debug output must not reveal it in logs.
impl fmt::Debug for CallCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CallCode(..)")
    }
}

impl FromStr for CallCode {
    type Err = CallCodeError;

    /// Parses a code typed by a person: surrounding spaces and letter case are ignored.
    fn from_str(text: &str) -> Result<Self, CallCodeError> {
        let text = text.trim().to_ascii_lowercase();
        let parts: Vec<&str> = text.split('-').collect();
        let [number, first, second] = parts.as_slice() else {
            return Err(CallCodeError::WrongShape);
        };
        let bad_number = || CallCodeError::BadNumber((*number).to_string());
        if number.is_empty() || number.len() > 4 || !number.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad_number());
        }
        let number: u16 = number.parse().map_err(|_| bad_number())?;
        if number >= CODE_NUMBER_LIMIT {
            return Err(bad_number());
        }
        let word_index = |word: &str| {
            WORDS
                .binary_search(&word)
                .map(|index| index as u8)
                .map_err(|_| CallCodeError::UnknownWord(word.to_string()))
        };
        Ok(CallCode {
            number,
            first: word_index(first)?,
            second: word_index(second)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_chacha::rand_core::SeedableRng;
    use rand_chacha::ChaCha20Rng;

    #[test]
    fn word_list_is_sorted_distinct_and_short() {
        assert!(WORDS.windows(2).all(|pair| pair[0] < pair[1]));
        assert!(WORDS
            .iter()
            .all(|word| (3..=8).contains(&word.len())
                && word.bytes().all(|b| b.is_ascii_lowercase())));
    }

    #[test]
    fn generated_codes_round_trip_through_text() {
        let mut rng = ChaCha20Rng::seed_from_u64(1);
        let mut seen = std::collections::HashSet::new();
        for _ in 0..500 {
            let code = CallCode::generate(&mut rng);
            let text = code.to_string();
            assert_eq!(text.parse::<CallCode>(), Ok(code.clone()));
            assert_eq!(
                format!("  {} ", text.to_uppercase()).parse::<CallCode>(),
                Ok(code)
            );
            seen.insert(text);
        }
        assert!(
            seen.len() > 490,
            "codes should rarely repeat: {} distinct",
            seen.len()
        );
    }

    #[test]
    fn bad_codes_are_explained() {
        assert_eq!("apple".parse::<CallCode>(), Err(CallCodeError::WrongShape));
        assert_eq!(
            "7-apple".parse::<CallCode>(),
            Err(CallCodeError::WrongShape)
        );
        assert_eq!(
            "1000-apple-tiger".parse::<CallCode>(),
            Err(CallCodeError::BadNumber("1000".into()))
        );
        assert_eq!(
            "+7-apple-tiger".parse::<CallCode>(),
            Err(CallCodeError::BadNumber("+7".into()))
        );
        assert_eq!(
            "7-apple-tigger".parse::<CallCode>(),
            Err(CallCodeError::UnknownWord("tigger".into()))
        );
        assert_eq!(
            format!("{:?}", "7-apple-tiger".parse::<CallCode>().unwrap()),
            "CallCode(..)"
        );
    }
}
