//! Pictures: three 8-bit planes in 4:2:0 layout.

/// One image plane: `height` rows of `width` pixels, rows `stride` bytes apart in `data`.
#[derive(Clone, PartialEq, Eq)]
pub struct Plane {
    /// Pixels per row.
    pub width: usize,
    /// Number of rows.
    pub height: usize,
    /// Distance in bytes between the starts of consecutive rows (at least `width`).
    pub stride: usize,
    /// The pixels, `stride * height` bytes.
    pub data: Vec<u8>,
}

impl std::fmt::Debug for Plane {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("Plane")
            .field("width", &self.width)
            .field("height", &self.height)
            .field("stride", &self.stride)
            .finish_non_exhaustive()
    }
}

impl Plane {
    /// A plane of the given size filled with `value`, rows packed (`stride == width`).
    pub fn filled(width: usize, height: usize, value: u8) -> Self {
        Plane {
            width,
            height,
            stride: width,
            data: vec![value; width * height],
        }
    }

    /// The visible pixels of row `y`.
    #[inline]
    pub fn row(&self, y: usize) -> &[u8] {
        &self.data[y * self.stride..y * self.stride + self.width]
    }

    /// The visible pixels of row `y`, mutable.
    #[inline]
    pub fn row_mut(&mut self, y: usize) -> &mut [u8] {
        let start = y * self.stride;
        &mut self.data[start..start + self.width]
    }

    /// The pixel at (`x`, `y`) with both coordinates clamped into the plane, which extends
    /// the edge pixels infinitely outwards (how VP8 treats motion vectors that leave the frame).
    #[inline]
    pub fn clamped(&self, x: isize, y: isize) -> u8 {
        let x = x.clamp(0, self.width as isize - 1) as usize;
        let y = y.clamp(0, self.height as isize - 1) as usize;
        self.data[y * self.stride + x]
    }

    /// A copy of the top-left `width` x `height` pixels with packed rows.
    pub fn cropped(&self, width: usize, height: usize) -> Plane {
        let mut data = Vec::with_capacity(width * height);
        for y in 0..height {
            data.extend_from_slice(&self.data[y * self.stride..y * self.stride + width]);
        }
        Plane {
            width,
            height,
            stride: width,
            data,
        }
    }

    /// Appends the visible pixels, row by row without padding, to `out`.
    pub fn write_packed(&self, out: &mut Vec<u8>) {
        for y in 0..self.height {
            out.extend_from_slice(self.row(y));
        }
    }
}

/// A 4:2:0 picture: full-size luma and half-size (rounded up) chroma planes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Picture {
    /// Luma.
    pub y: Plane,
    /// Blue-difference chroma.
    pub u: Plane,
    /// Red-difference chroma.
    pub v: Plane,
}

impl Picture {
    /// A mid-grey picture of the given display size.
    pub fn new(width: usize, height: usize) -> Self {
        let chroma_width = width.div_ceil(2);
        let chroma_height = height.div_ceil(2);
        Picture {
            y: Plane::filled(width, height, 128),
            u: Plane::filled(chroma_width, chroma_height, 128),
            v: Plane::filled(chroma_width, chroma_height, 128),
        }
    }

    /// Width of the luma plane.
    pub fn width(&self) -> usize {
        self.y.width
    }

    /// Height of the luma plane.
    pub fn height(&self) -> usize {
        self.y.height
    }

    /// The picture as packed planar I420 bytes (Y, then U, then V, rows without padding), the
    /// layout the conformance MD5s and Y4M files use.
    pub fn to_i420(&self) -> Vec<u8> {
        let mut out =
            Vec::with_capacity(self.y.width * self.y.height + 2 * self.u.width * self.u.height);
        self.y.write_packed(&mut out);
        self.u.write_packed(&mut out);
        self.v.write_packed(&mut out);
        out
    }

    /// Builds a picture from packed I420 bytes, or `None` if `bytes` has the wrong length.
    pub fn from_i420(width: usize, height: usize, bytes: &[u8]) -> Option<Picture> {
        let chroma_width = width.div_ceil(2);
        let chroma_height = height.div_ceil(2);
        let luma_size = width * height;
        let chroma_size = chroma_width * chroma_height;
        if bytes.len() != luma_size + 2 * chroma_size {
            return None;
        }
        let plane = |data: &[u8], w: usize, h: usize| Plane {
            width: w,
            height: h,
            stride: w,
            data: data.to_vec(),
        };
        Some(Picture {
            y: plane(&bytes[..luma_size], width, height),
            u: plane(
                &bytes[luma_size..luma_size + chroma_size],
                chroma_width,
                chroma_height,
            ),
            v: plane(
                &bytes[luma_size + chroma_size..],
                chroma_width,
                chroma_height,
            ),
        })
    }

    /// A copy cropped to `width` x `height` luma pixels (chroma rounded up).
    pub fn cropped(&self, width: usize, height: usize) -> Picture {
        Picture {
            y: self.y.cropped(width, height),
            u: self.u.cropped(width.div_ceil(2), height.div_ceil(2)),
            v: self.v.cropped(width.div_ceil(2), height.div_ceil(2)),
        }
    }
}
