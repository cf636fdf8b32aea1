//! Lift as Lambda runs it, against the same chat written by hand (`examples/handwritten`), both
//! built in release as for Lambda (`--no-default-features`; this builds them) and run under a
//! local stub of the Lambda Runtime API, with a DynamoDB-compatible server (the one
//! `AWS_ENDPOINT_URL_DYNAMODB` or `LIFT_TEST_DYNAMODB_ENDPOINT` names, else moto's server
//! started here):
//!
//! - cold starts, peak RSS and stripped binary sizes (`LIFT_BENCH_COLDSTART_RUNS` runs of
//!   each, default 20);
//! - the AWS requests of one chat session, step by step, through lift's chat as the
//!   hand-written one works (history and presence off), through lift's chat as it runs by
//!   default (history and presence on), and through the hand-written chat, with dollars per
//!   million events at published prices.
//!
//! ```sh
//! cargo bench -p lift-benches --bench lambda
//! ```
//!
//! Its summary lines, exactly:
//!
//! ```text
//! summary coldstart: lift/hand-written=R init=R rss=R size=R
//! summary footprint: rss=R size=R
//! summary requests: lift/hand-written=R
//! ```

use lift_benches::lambda::requests::{self, Target};
use lift_benches::lambda::{build_release_examples, coldstart, fanout_requests, DynamoDb};

fn main() {
    // Under `cargo test --all-targets` it measures nothing: it would build both chats in
    // release; `scripts/test` runs the same code once on debug builds (`--bin coldstart`).
    if !lift_benches::benchmarking() {
        eprintln!("lambda: nothing measured outside `cargo bench`");
        return;
    }
    let runs = std::env::var("LIFT_BENCH_COLDSTART_RUNS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(20);
    let examples = build_release_examples();
    let dynamodb = DynamoDb::find_or_start();
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    runtime.block_on(async {
        let figures = coldstart::run(&dynamodb.endpoint, &examples, runs).await;
        let (chat, hand) = (examples.join("chat"), examples.join("handwritten"));
        let off = |name: &'static str| (name, "0".to_owned());
        let lift = requests::run(
            &dynamodb.endpoint,
            Target {
                name: "lift (history and presence off)",
                binary: &chat,
                lift: true,
                env: vec![off("LIFT_PRESENCE"), off("LIFT_HISTORY_SECS")],
            },
        )
        .await;
        let full = requests::run(
            &dynamodb.endpoint,
            Target {
                name: "lift (history and presence on, the chat's default)",
                binary: &chat,
                lift: true,
                env: Vec::new(),
            },
        )
        .await;
        let handwritten = requests::run(
            &dynamodb.endpoint,
            Target {
                name: "hand-written",
                binary: &hand,
                lift: false,
                env: Vec::new(),
            },
        )
        .await;
        let summary = requests::report(
            &[lift.clone(), full, handwritten.clone()],
            &lift,
            &handwritten,
        );
        if let Some(cost) = fanout_requests::run(&dynamodb.endpoint, &chat).await {
            fanout_requests::report(&cost);
        }
        println!("{}", figures.coldstart_line());
        println!("{}", figures.footprint_line());
        println!("{summary}");
    });
}
