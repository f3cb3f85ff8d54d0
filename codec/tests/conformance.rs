//! Every conformance stream decodes with each shown frame's MD5 equal to the reference.

mod common;

#[test]
fn all_test_vectors_match_reference_md5() {
    let streams = common::check_all_test_vectors();
    assert!(streams > 0);
}
