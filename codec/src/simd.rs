//! Choice between the portable code and copies of the hot loops compiled for AVX2.
//!
//! Both are the same safe Rust; the AVX2 copies only let the compiler use wider vectors. Setting
//! the environment variable `SALSIFY_PORTABLE_CODEC` (read once) forces the portable code, so
//! tests can check that both give identical output.

use std::sync::OnceLock;

/// Whether to run the AVX2-compiled copies: only when the CPU supports AVX2.
#[inline]
pub fn avx2_enabled() -> bool {
    static ENABLED: OnceLock<bool> = OnceLock::new();
    *ENABLED.get_or_init(|| {
        #[cfg(target_arch = "x86_64")]
        {
            std::env::var_os("SALSIFY_PORTABLE_CODEC").is_none()
                && std::is_x86_feature_detected!("avx2")
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            false
        }
    })
}
