//! Compile-fail tests: each misuse of `#[model]` gives one readable error at the user's tokens.
//! Regenerate the snapshots with `TRYBUILD=overwrite cargo test --test ui`.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/*.rs");
}
