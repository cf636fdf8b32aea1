//! Cold start: from spawning the function's process to the answer of its first `sendMessage`,
//! through a local stub of the Lambda Runtime API, for lift's chat (`examples/chat`) and the
//! same chat written by hand (`examples/handwritten`), with peak RSS and stripped sizes
//! (`lift_benches::lambda::coldstart`). `cargo bench -p lift-benches --bench lambda` runs it on
//! release builds; this binary runs it on the binaries of the profile it is built in (a smoke
//! test in `scripts/test`):
//!
//! ```sh
//! cargo build -p lift-examples --example chat --example handwritten --no-default-features
//! AWS_ENDPOINT_URL_DYNAMODB=http://127.0.0.1:5999 \
//!   cargo run -p lift-benches --bin coldstart -- --runs 3
//! ```
//!
//! With `--requests`, it also counts the AWS requests of one chat session through each
//! (`lift_benches::lambda::requests`) and ends with `summary requests: lift/hand-written=R`.
//!
//! It ends with two lines: `summary coldstart: lift/hand-written=R init=R rss=R size=R`
//! (medians of the runs; `init` is the time to the function's first request for an event, what
//! Lambda reports as the init duration; sizes stripped) and `summary footprint: rss=R size=R`.

use lift_benches::lambda::requests::{self, Target};
use lift_benches::lambda::{coldstart, fanout_requests, DynamoDb};

#[tokio::main]
async fn main() {
    let mut runs = 20;
    let mut requests = false;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--runs" => runs = args.next().and_then(|n| n.parse().ok()).expect("--runs N"),
            "--requests" => requests = true,
            other => panic!("unknown argument {other} (--runs N, --requests)"),
        }
    }
    let dynamodb = DynamoDb::find_or_start();
    let examples = std::env::current_exe()
        .expect("own path")
        .parent()
        .expect("a profile folder")
        .join("examples");
    let figures = coldstart::run(&dynamodb.endpoint, &examples, runs).await;
    println!("{}", figures.coldstart_line());
    println!("{}", figures.footprint_line());
    if requests {
        let lift = requests::run(
            &dynamodb.endpoint,
            Target {
                name: "lift (history and presence off)",
                binary: &examples.join("chat"),
                lift: true,
                env: vec![
                    ("LIFT_PRESENCE", "0".into()),
                    ("LIFT_HISTORY_SECS", "0".into()),
                ],
            },
        )
        .await;
        let hand = requests::run(
            &dynamodb.endpoint,
            Target {
                name: "hand-written",
                binary: &examples.join("handwritten"),
                lift: false,
                env: Vec::new(),
            },
        )
        .await;
        let summary = requests::report(&[lift.clone(), hand.clone()], &lift, &hand);
        if let Some(cost) = fanout_requests::run(&dynamodb.endpoint, &examples.join("chat")).await {
            fanout_requests::report(&cost);
        }
        println!("{summary}");
    }
}
