//! The fan-out simulation (`lift_benches::simulation`) as part of `cargo bench`: a room of
//! `LIFT_BENCH_FANOUT_MEMBERS` members (default 1,000,000) at `LIFT_BENCH_FANOUT_RATE` sends a
//! second (default 100,000) over 10 consumers.
//!
//! ```sh
//! cargo bench -p lift-benches --bench fanout
//! ```
//!
//! It ends with one line: `summary fanout: members=N delivered=N duplicates=D time/floor=R`.

use lift_benches::simulation::{options, run};

#[tokio::main]
async fn main() -> Result<(), lift_runtime::Error> {
    let var = |name: &str, default: &str| std::env::var(name).unwrap_or_else(|_| default.into());
    let options = options([
        "--members".to_owned(),
        // Under `cargo test --all-targets`, a small room: a check that it runs.
        var(
            "LIFT_BENCH_FANOUT_MEMBERS",
            if lift_benches::benchmarking() {
                "1000000"
            } else {
                "2000"
            },
        ),
        "--rate".to_owned(),
        var("LIFT_BENCH_FANOUT_RATE", "100000"),
    ])?;
    println!("{}", run(options).await?);
    Ok(())
}
