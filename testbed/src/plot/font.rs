//! The font behind plot text, loaded at run time so that no font file ships with the crate.
//!
//! plotters measures text through fonts registered with it, for every backend: the SVG backend
//! writes `<text>` elements that the viewer renders, but still needs widths and heights to lay
//! out captions and labels; the PNG backend also rasterises the glyphs. So a font is registered
//! once per process under the family `sans-serif` (the one plotters uses by default):
//!
//! - the file named by `SALSIFY_FONT` if that variable is set (and only that file), else the
//!   first of a few usual paths of DejaVu Sans (Debian/Ubuntu package `fonts-dejavu-core`);
//! - failing that, a font built here with metrics only (one fixed advance width, no glyph
//!   outlines): enough to lay out SVG text, nothing to draw, so PNGs then go without text.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use plotters::style::FontStyle;

/// The environment variable naming a TrueType or OpenType font for plot text.
pub const FONT_VARIABLE: &str = "SALSIFY_FONT";

/// Where DejaVu Sans usually lives (Debian/Ubuntu, Fedora, Arch), tried in this order when
/// `SALSIFY_FONT` is not set.
pub const SYSTEM_FONTS: [&str; 3] = [
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu-sans-fonts/DejaVuSans.ttf",
    "/usr/share/fonts/TTF/DejaVuSans.ttf",
];

/// Font files larger than this are refused rather than read (DejaVu Sans is under 1 MiB).
const MAX_FONT_BYTES: u64 = 64 << 20;

/// The family name plotters looks fonts up by.
const FAMILY: &str = "sans-serif";

/// Why PNG plots carry no text.
#[derive(Debug, Clone, thiserror::Error)]
pub enum FontUnavailable {
    /// The font file could not be read.
    #[error("cannot read font {path}: {message}")]
    Unreadable {
        /// The file.
        path: PathBuf,
        /// What the system said.
        message: String,
    },
    /// The file is not a font plotters can use.
    #[error("{path} is not a TrueType or OpenType font")]
    Invalid {
        /// The file.
        path: PathBuf,
    },
    /// `SALSIFY_FONT` is not set and no system font was found.
    #[error(
        "no font found for PNG text: set SALSIFY_FONT to a .ttf file or install fonts-dejavu-core"
    )]
    NotFound,
}

/// Registers the plot font with plotters (once per process) and returns the file PNG text is
/// drawn with, or why PNG plots go without text.
pub fn png_font() -> Result<&'static Path, &'static FontUnavailable> {
    static FONT: OnceLock<Result<PathBuf, FontUnavailable>> = OnceLock::new();
    FONT.get_or_init(|| {
        let loaded = find_font().and_then(|(path, bytes)| {
            // plotters keeps fonts for the life of the process: so does this one.
            let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
            plotters::style::register_font(FAMILY, FontStyle::Normal, bytes)
                .map(|()| path.clone())
                .map_err(|_| FontUnavailable::Invalid { path })
        });
        if loaded.is_err() {
            let metrics: &'static [u8] = Box::leak(metrics_only_font().into_boxed_slice());
            // The font is built above to the format's rules; a failure would be a bug here.
            assert!(
                plotters::style::register_font(FAMILY, FontStyle::Normal, metrics).is_ok(),
                "the metrics-only font parses"
            );
        }
        loaded
    })
    .as_ref()
    .map(PathBuf::as_path)
}

fn find_font() -> Result<(PathBuf, Vec<u8>), FontUnavailable> {
    if let Some(path) = std::env::var_os(FONT_VARIABLE).filter(|value| !value.is_empty()) {
        let path = PathBuf::from(path);
        return read_font(&path).map(|bytes| (path, bytes));
    }
    for candidate in SYSTEM_FONTS {
        let path = Path::new(candidate);
        if path.exists() {
            return read_font(path).map(|bytes| (path.to_path_buf(), bytes));
        }
    }
    Err(FontUnavailable::NotFound)
}

fn read_font(path: &Path) -> Result<Vec<u8>, FontUnavailable> {
    let unreadable = |error: std::io::Error| FontUnavailable::Unreadable {
        path: path.to_path_buf(),
        message: error.to_string(),
    };
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .map_err(unreadable)?
        .take(MAX_FONT_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(unreadable)?;
    if bytes.len() as u64 > MAX_FONT_BYTES {
        return Err(FontUnavailable::Invalid {
            path: path.to_path_buf(),
        });
    }
    Ok(bytes)
}

/// A minimal TrueType font: the four tables a font cannot do without (`head`, `hhea`, `hmtx`,
/// `maxp`), one glyph with no outline and an advance of half an em, and no character map, so
/// every character measures as that glyph. Text laid out with it is about as wide as DejaVu
/// Sans text.
fn metrics_only_font() -> Vec<u8> {
    const UNITS_PER_EM: u16 = 1000;
    const ASCENDER: i16 = 800;
    const DESCENDER: i16 = -200;
    const ADVANCE: u16 = 500;

    let mut head = Vec::with_capacity(54);
    head.extend_from_slice(&0x0001_0000u32.to_be_bytes()); // version 1.0
    head.extend_from_slice(&0x0001_0000u32.to_be_bytes()); // font revision
    head.extend_from_slice(&0u32.to_be_bytes()); // checksum adjustment
    head.extend_from_slice(&0x5F0F_3CF5u32.to_be_bytes()); // magic number
    head.extend_from_slice(&0u16.to_be_bytes()); // flags
    head.extend_from_slice(&UNITS_PER_EM.to_be_bytes());
    head.extend_from_slice(&[0; 16]); // created and modified times
    for bound in [0, DESCENDER, ADVANCE as i16, ASCENDER] {
        head.extend_from_slice(&bound.to_be_bytes()); // x min, y min, x max, y max
    }
    head.extend_from_slice(&0u16.to_be_bytes()); // mac style
    head.extend_from_slice(&8u16.to_be_bytes()); // smallest readable size in pixels
    head.extend_from_slice(&2i16.to_be_bytes()); // font direction hint
    head.extend_from_slice(&0i16.to_be_bytes()); // short glyph offsets
    head.extend_from_slice(&0i16.to_be_bytes()); // glyph data format

    let mut hhea = Vec::with_capacity(36);
    hhea.extend_from_slice(&0x0001_0000u32.to_be_bytes()); // version 1.0
    for value in [ASCENDER, DESCENDER, 0] {
        hhea.extend_from_slice(&value.to_be_bytes()); // ascender, descender, line gap
    }
    hhea.extend_from_slice(&ADVANCE.to_be_bytes()); // largest advance
    for value in [0i16, 0, ADVANCE as i16, 1, 0, 0, 0, 0, 0, 0, 0] {
        // min left and right side bearings, max extent, caret slope rise and run, caret
        // offset, four reserved, metric data format
        hhea.extend_from_slice(&value.to_be_bytes());
    }
    hhea.extend_from_slice(&1u16.to_be_bytes()); // horizontal metrics entries

    let mut hmtx = Vec::with_capacity(4);
    hmtx.extend_from_slice(&ADVANCE.to_be_bytes());
    hmtx.extend_from_slice(&0i16.to_be_bytes()); // left side bearing

    let mut maxp = Vec::with_capacity(6);
    maxp.extend_from_slice(&0x0000_5000u32.to_be_bytes()); // version 0.5: glyph count only
    maxp.extend_from_slice(&1u16.to_be_bytes());

    // The table directory, tables in tag order, each table starting on a 4-byte boundary.
    let tables: [(&[u8; 4], Vec<u8>); 4] = [
        (b"head", head),
        (b"hhea", hhea),
        (b"hmtx", hmtx),
        (b"maxp", maxp),
    ];
    let table_count = tables.len() as u16;
    let mut font = Vec::new();
    font.extend_from_slice(&0x0001_0000u32.to_be_bytes()); // TrueType outlines
    font.extend_from_slice(&table_count.to_be_bytes());
    font.extend_from_slice(&64u16.to_be_bytes()); // search range: 16 * 4
    font.extend_from_slice(&2u16.to_be_bytes()); // entry selector: log2(4)
    font.extend_from_slice(&0u16.to_be_bytes()); // range shift: 16 * 4 - 64
    let mut offset = 12 + 16 * tables.len();
    let mut data = Vec::new();
    for (tag, table) in &tables {
        let checksum = table
            .chunks(4)
            .map(|chunk| {
                let mut word = [0u8; 4];
                word[..chunk.len()].copy_from_slice(chunk);
                u32::from_be_bytes(word)
            })
            .fold(0u32, u32::wrapping_add);
        font.extend_from_slice(*tag);
        font.extend_from_slice(&checksum.to_be_bytes());
        font.extend_from_slice(&(offset as u32).to_be_bytes());
        font.extend_from_slice(&(table.len() as u32).to_be_bytes());
        data.extend_from_slice(table);
        data.resize(data.len().next_multiple_of(4), 0);
        offset = 12 + 16 * tables.len() + data.len();
    }
    font.extend_from_slice(&data);
    font
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_only_font_lays_out_text_at_its_advance() {
        let bytes: &'static [u8] = Box::leak(metrics_only_font().into_boxed_slice());
        plotters::style::register_font("metrics-only-test", FontStyle::Normal, bytes)
            .unwrap_or_else(|_| panic!("the metrics-only font parses"));
        let font = plotters::style::FontDesc::new(
            plotters::style::FontFamily::Name("metrics-only-test"),
            20.0,
            FontStyle::Normal,
        );
        let ((left, _), (right, _)) = font.layout_box("time (s)").expect("text is measured");
        // Eight characters of half an em, at 20 pixels for the 1000-unit ascender-to-descender
        // height: 80 pixels.
        assert_eq!(right - left, 80);
    }
}
