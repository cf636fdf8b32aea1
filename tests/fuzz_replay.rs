//! Every fuzz target's seed corpus (`fuzz/corpus/<target>/`) and every crash cargo-fuzz has
//! found so far (`fuzz/artifacts/<target>/`, committed once fixed) replayed on stable: none
//! may panic. `scripts/test` also fuzzes each target briefly when a nightly toolchain is there.

use std::path::Path;

use lift_tests::fuzz::TARGETS;

#[test]
fn every_seed_and_every_crash_found_so_far_runs_clean() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz");
    for (target, run) in TARGETS {
        let mut replayed = 0;
        for dir in ["corpus", "artifacts"] {
            let Ok(entries) = std::fs::read_dir(root.join(dir).join(target)) else {
                continue;
            };
            for entry in entries {
                let path = entry.unwrap().path();
                let data = std::fs::read(&path).unwrap();
                let outcome = std::panic::catch_unwind(|| run(&data));
                assert!(outcome.is_ok(), "{target}: {} panicked", path.display());
                replayed += 1;
            }
        }
        assert!(
            replayed > 0,
            "{target}: no seed corpus in fuzz/corpus/{target}"
        );
    }
}
