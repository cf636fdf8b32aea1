//! The fan-out simulation (`lift_benches::simulation`) from the command line:
//!
//! ```sh
//! cargo run --release -p lift-benches --bin fanout -- --members 1000000 --rate 100000
//! ```
//!
//! Options: `--members N`, `--rate R`, `--consumers C`, `--latency-ms L`. It ends with one line:
//! `summary fanout: members=N delivered=N duplicates=D time/floor=R`.

#[tokio::main]
async fn main() -> Result<(), lift_runtime::Error> {
    let options = lift_benches::simulation::options(std::env::args().skip(1))?;
    println!("{}", lift_benches::simulation::run(options).await?);
    Ok(())
}
