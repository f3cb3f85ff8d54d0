//! The conformance check again with the portable code forced (no AVX2-compiled copies), so
//! both paths are known to decode every stream exactly.

mod common;

#[test]
fn all_test_vectors_match_reference_md5_on_the_portable_path() {
    // The only test in this binary: nothing has read the setting yet.
    std::env::set_var("SALSIFY_PORTABLE_CODEC", "1");
    assert!(!codec::simd::avx2_enabled());
    let streams = common::check_all_test_vectors();
    assert!(streams > 0);
}
