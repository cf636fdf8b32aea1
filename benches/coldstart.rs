//! Cold start: from spawning the function's process to the answer of its first `sendMessage`,
//! through a local stub of the Lambda Runtime API, for lift's chat (`examples/chat`) and the
//! same chat written by hand (`examples/handwritten`: `lambda_runtime`, `aws_lambda_events`,
//! the AWS SDK). Both run as in Lambda (the Runtime API's address in the environment), keep
//! their connections in DynamoDB (a DynamoDB-compatible server, e.g. moto), build their
//! Management API client and post to a local one; each run queues a `$connect` and a
//! `sendMessage` for a new process. Also: peak RSS of each process (`wait4`) and the stripped
//! size of each binary.
//!
//! ```sh
//! cargo build --release -p lift-examples --example chat --example handwritten --no-default-features
//! AWS_ENDPOINT_URL_DYNAMODB=http://127.0.0.1:5999 \
//!   cargo run --release -p lift-benches --bin coldstart -- --runs 30
//! ```
//!
//! (`scripts/bench-coldstart` does all three, starting moto.) The binaries are taken from the
//! profile directory this tool runs from. It ends with one line:
//! `summary coldstart: lift/hand-written=R init=R rss=R size=R` (medians of the runs; `init` is
//! the time to the function's first request for an event, what Lambda reports as the init
//! duration; sizes stripped).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Instant, SystemTime};

use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
};
use lift_runtime::store::DynamoDbStore;
use lift_tests::faults::FaultServer;
use lift_tests::runtime_api::RuntimeApi;
use serde_json::{json, Value};

struct Function {
    name: &'static str,
    binary: PathBuf,
    env: Vec<(&'static str, String)>,
    times_ms: Vec<f64>,
    init_ms: Vec<f64>,
    connect_ms: Vec<f64>,
    rss_kb: Vec<u64>,
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

fn event(connection_id: &str, route_key: &str, body: Option<&str>) -> Vec<u8> {
    let event = json!({
        "requestContext": {
            "routeKey": route_key,
            "eventType": if route_key == "$connect" { "CONNECT" } else { "MESSAGE" },
            "messageDirection": "IN", "stage": "prod",
            "connectedAt": now_ms(), "requestTimeEpoch": now_ms(),
            "requestId": "coldstart", "domainName": "abcd1234.execute-api.us-east-1.amazonaws.com",
            "connectionId": connection_id, "apiId": "abcd1234",
            "identity": {"sourceIp": "203.0.113.7"}
        },
        "queryStringParameters": {"name": "cold"},
        "multiValueQueryStringParameters": {"name": ["cold"]},
        "body": body,
        "isBase64Encoded": false
    });
    event.to_string().into_bytes()
}

/// Waits for `child` and returns its peak resident set size in KiB.
fn reap(mut child: Child) -> u64 {
    let _ = child.kill();
    let mut status = 0;
    // SAFETY: an all-zero `rusage` is a valid value for `wait4` to fill in.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `child.id()` is our child, not yet reaped; both pointers are valid.
    let pid = unsafe { libc::wait4(child.id() as i32, &mut status, 0, &mut usage) };
    assert!(pid > 0, "wait4 failed");
    usage.ru_maxrss as u64
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(|a, b| a.partial_cmp(b).unwrap());
    values[values.len() / 2]
}

fn stripped_size(binary: &Path) -> u64 {
    let copy = std::env::temp_dir().join(format!(
        "coldstart-{}-{}",
        std::process::id(),
        binary.file_name().unwrap().to_string_lossy()
    ));
    std::fs::copy(binary, &copy).expect("copy the binary");
    let status = Command::new("strip")
        .arg(&copy)
        .status()
        .expect("run strip");
    assert!(status.success(), "strip failed");
    let size = std::fs::metadata(&copy).unwrap().len();
    let _ = std::fs::remove_file(copy);
    size
}

async fn create_tables(endpoint: &str, lift_table: &str, hand_table: &str) {
    std::env::set_var("AWS_ACCESS_KEY_ID", "coldstart");
    std::env::set_var("AWS_SECRET_ACCESS_KEY", "coldstart");
    let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .load()
        .await;
    let client = aws_sdk_dynamodb::Client::new(&config);
    DynamoDbStore::new(client.clone(), lift_table)
        .create_table()
        .await
        .expect("lift's table is created");
    // The hand-written chat's table: `pk` and `sk`, nothing else.
    let key = |name: &str, kind| {
        KeySchemaElement::builder()
            .attribute_name(name)
            .key_type(kind)
            .build()
            .unwrap()
    };
    let attribute = |name: &str| {
        AttributeDefinition::builder()
            .attribute_name(name)
            .attribute_type(ScalarAttributeType::S)
            .build()
            .unwrap()
    };
    let created = client
        .create_table()
        .table_name(hand_table)
        .key_schema(key("pk", KeyType::Hash))
        .key_schema(key("sk", KeyType::Range))
        .attribute_definitions(attribute("pk"))
        .attribute_definitions(attribute("sk"))
        .billing_mode(BillingMode::PayPerRequest)
        .send()
        .await;
    if let Err(err) = created {
        let text = format!("{err:?}");
        assert!(text.contains("ResourceInUse"), "{text}");
    }
}

#[tokio::main]
async fn main() {
    let mut runs = 20;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--runs" => runs = args.next().and_then(|n| n.parse().ok()).expect("--runs N"),
            other => panic!("unknown argument {other} (--runs N)"),
        }
    }
    let dynamodb = std::env::var("AWS_ENDPOINT_URL_DYNAMODB")
        .or_else(|_| std::env::var("LIFT_TEST_DYNAMODB_ENDPOINT"))
        .expect("AWS_ENDPOINT_URL_DYNAMODB: a DynamoDB-compatible server (scripts/bench-coldstart starts moto)");
    let suffix = now_ms();
    let (lift_table, hand_table) = (
        format!("coldstart-lift-{suffix}"),
        format!("coldstart-hand-{suffix}"),
    );
    create_tables(&dynamodb, &lift_table, &hand_table).await;

    let api = RuntimeApi::start().await;
    let management = FaultServer::start().await;
    let profile_dir = std::env::current_exe()
        .unwrap()
        .parent()
        .unwrap()
        .to_owned();
    let base = vec![
        ("AWS_LAMBDA_RUNTIME_API", api.address()),
        ("AWS_LAMBDA_FUNCTION_NAME", "chat".to_owned()),
        ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128".to_owned()),
        ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST".to_owned()),
        ("AWS_REGION", "us-east-1".to_owned()),
        ("AWS_ACCESS_KEY_ID", "AKIDCOLDSTART".to_owned()),
        ("AWS_SECRET_ACCESS_KEY", "secret".to_owned()),
        ("AWS_ENDPOINT_URL_DYNAMODB", dynamodb.clone()),
        ("PATH", std::env::var("PATH").unwrap_or_default()),
    ];
    let with = |extra: [(&'static str, String); 2]| {
        let mut env = base.clone();
        env.extend(extra);
        env
    };
    let mut functions = [
        Function {
            name: "lift",
            binary: profile_dir.join("examples/chat"),
            env: with([
                ("LIFT_TABLE_NAME", lift_table),
                ("LIFT_MANAGEMENT_ENDPOINT", management.endpoint()),
            ]),
            times_ms: Vec::new(),
            init_ms: Vec::new(),
            connect_ms: Vec::new(),
            rss_kb: Vec::new(),
        },
        Function {
            name: "hand-written",
            binary: profile_dir.join("examples/handwritten"),
            env: with([
                ("TABLE_NAME", hand_table),
                ("MANAGEMENT_ENDPOINT", management.endpoint()),
            ]),
            times_ms: Vec::new(),
            init_ms: Vec::new(),
            connect_ms: Vec::new(),
            rss_kb: Vec::new(),
        },
    ];
    for function in &functions {
        assert!(
            function.binary.exists(),
            "{} is not built: cargo build --release -p lift-examples --example chat --example handwritten --no-default-features",
            function.binary.display()
        );
    }

    for run in 0..runs {
        // Alternate which goes first, so neither always meets a warmer machine.
        let order: [usize; 2] = if run % 2 == 0 { [0, 1] } else { [1, 0] };
        for index in order {
            let function = &mut functions[index];
            let id = format!("COLD{run:04}{index}=");
            let (connect, send) = (format!("c-{id}"), format!("s-{id}"));
            let delivered = management.total_delivered();
            api.invoke(&connect, event(&id, "$connect", None));
            api.invoke(
                &send,
                event(
                    &id,
                    "sendMessage",
                    Some(r#"{"action":"sendMessage","text":"first"}"#),
                ),
            );
            api.reset_first_poll();
            let started = Instant::now();
            let child = Command::new(&function.binary)
                .env_clear()
                .envs(function.env.iter().map(|(k, v)| (k, v)))
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("spawn the function");
            let answer: Value = api.answer(&send).await;
            let elapsed = started.elapsed();
            // Leaves the room empty for the next run.
            let bye = format!("d-{id}");
            api.call(&bye, event(&id, "$disconnect", None)).await;
            let rss = reap(child);
            let connected = api.responses();
            assert_eq!(answer["statusCode"], 200, "{}: {answer}", function.name);
            assert!(
                !connected.contains_key(&connect) || connected[&connect]["statusCode"] == 200,
                "{}: $connect answered {:?}",
                function.name,
                connected.get(&connect)
            );
            assert_eq!(
                management.total_delivered(),
                delivered + 1,
                "{}: the message reached the sender",
                function.name
            );
            function.times_ms.push(elapsed.as_secs_f64() * 1e3);
            let since = |at: Option<Instant>| at.expect("recorded").duration_since(started);
            function
                .init_ms
                .push(since(api.first_poll()).as_secs_f64() * 1e3);
            function
                .connect_ms
                .push(since(api.answered_at(&connect)).as_secs_f64() * 1e3);
            function.rss_kb.push(rss);
        }
    }

    let mut figures = Vec::new();
    for function in &mut functions {
        let time = median(&mut function.times_ms);
        let init = median(&mut function.init_ms);
        let connect = median(&mut function.connect_ms);
        let mut rss: Vec<f64> = function.rss_kb.iter().map(|&kb| kb as f64).collect();
        let rss = median(&mut rss);
        let size = stripped_size(&function.binary) as f64;
        println!(
            "coldstart {}: {time:.1} ms to the first sendMessage's answer (init, to the first \
             /next: {init:.1} ms; $connect answered at {connect:.1} ms; medians of {runs}), \
             peak RSS {:.1} MiB, stripped binary {:.1} MiB",
            function.name,
            rss / 1024.0,
            size / 1024.0 / 1024.0
        );
        figures.push((time, rss, size, init));
    }
    let (lift, hand) = (figures[0], figures[1]);
    println!(
        "summary coldstart: lift/hand-written={:.2} init={:.2} rss={:.2} size={:.2}",
        lift.0 / hand.0,
        lift.3 / hand.3,
        lift.1 / hand.1,
        lift.2 / hand.2
    );
}
