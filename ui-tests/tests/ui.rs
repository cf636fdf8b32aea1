//! The macros' compile-time behaviour: every pass case compiles, every fail case fails with
//! exactly the `.stderr` beside it. Regenerate with `TRYBUILD=overwrite cargo test -p
//! lift-ui-tests`, then read every changed `.stderr`: it is what a user will see.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.pass("tests/*/pass/*.rs");
    t.compile_fail("tests/*/fail/*.rs");
}
