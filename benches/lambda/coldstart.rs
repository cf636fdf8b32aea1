//! Cold start: from spawning the function's process to the answer of its first `sendMessage`,
//! for lift's chat and the hand-written one ([`super`]); each run queues a `$connect` and a
//! `sendMessage` for a new process. Also: peak RSS of each process (`wait4`) and the stripped
//! size of each binary. Lift's chat runs as the hand-written one behaves (no history, no
//! presence) for the ratios, and with its defaults beside it.

use std::path::Path;
use std::process::{Child, Command};
use std::time::Instant;

use lift_tests::faults::FaultServer;
use lift_tests::runtime_api::RuntimeApi;
use serde_json::Value;

use super::{create_tables, event, lambda_env, now_ms, spawn};

struct Function {
    name: &'static str,
    binary: std::path::PathBuf,
    env: Vec<(&'static str, String)>,
    times_ms: Vec<f64>,
    init_ms: Vec<f64>,
    connect_ms: Vec<f64>,
    rss_kb: Vec<u64>,
}

/// One function's medians.
#[derive(Clone, Copy, Debug)]
pub struct Measure {
    /// From spawning the process to the answer of its first `sendMessage`, ms.
    pub time_ms: f64,
    /// From spawning the process to its first request for an event (Lambda's init duration).
    pub init_ms: f64,
    /// Peak RSS, KiB.
    pub rss_kb: f64,
    /// The stripped binary, bytes.
    pub size: f64,
}

/// Lift's chat and the hand-written one.
#[derive(Clone, Copy, Debug)]
pub struct Figures {
    /// `examples/chat`.
    pub lift: Measure,
    /// `examples/handwritten`.
    pub hand: Measure,
}

impl Figures {
    /// `summary coldstart: lift/hand-written=R init=R rss=R size=R`.
    pub fn coldstart_line(&self) -> String {
        let (lift, hand) = (self.lift, self.hand);
        format!(
            "summary coldstart: lift/hand-written={:.2} init={:.2} rss={:.2} size={:.2}",
            lift.time_ms / hand.time_ms,
            lift.init_ms / hand.init_ms,
            lift.rss_kb / hand.rss_kb,
            lift.size / hand.size
        )
    }

    /// `summary footprint: rss=R size=R`.
    pub fn footprint_line(&self) -> String {
        format!(
            "summary footprint: rss={:.2} size={:.2}",
            self.lift.rss_kb / self.hand.rss_kb,
            self.lift.size / self.hand.size
        )
    }
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

/// Runs each chat `runs` times from a cold process, the binaries taken from `examples` and
/// DynamoDB at `dynamodb`, printing each one's figures.
///
/// # Panics
///
/// When a binary is missing or a run does not answer as it should.
pub async fn run(dynamodb: &str, examples: &Path, runs: usize) -> Figures {
    let suffix = now_ms();
    let (lift_table, hand_table) = (
        format!("coldstart-lift-{suffix}"),
        format!("coldstart-hand-{suffix}"),
    );
    create_tables(dynamodb, &lift_table, &hand_table).await;
    let api = RuntimeApi::start().await;
    let management = FaultServer::start().await;
    let base = lambda_env(&api.address(), dynamodb);
    let with = |extra: &[(&'static str, String)]| {
        let mut env = base.clone();
        env.extend(extra.iter().cloned());
        env
    };
    let function = |name, binary: &str, env| Function {
        name,
        binary: examples.join(binary),
        env,
        times_ms: Vec::new(),
        init_ms: Vec::new(),
        connect_ms: Vec::new(),
        rss_kb: Vec::new(),
    };
    let lift_env = [
        ("LIFT_TABLE_NAME", lift_table),
        ("LIFT_MANAGEMENT_ENDPOINT", management.endpoint()),
    ];
    // Compared as the same chat: the hand-written one keeps no history and tells no one who
    // is present, so lift's runs with both off; its defaults (both on: two more requests in a
    // `$connect`, three in a message) are measured beside it, outside the ratio.
    let off = [
        ("LIFT_PRESENCE", "0".to_owned()),
        ("LIFT_HISTORY_SECS", "0".to_owned()),
    ];
    let mut functions = [
        function("lift", "chat", with(&[&lift_env[..], &off[..]].concat())),
        function(
            "hand-written",
            "handwritten",
            with(&[
                ("TABLE_NAME", hand_table),
                ("MANAGEMENT_ENDPOINT", management.endpoint()),
            ]),
        ),
        function(
            "lift, history and presence on (the chat's default)",
            "chat",
            with(&lift_env),
        ),
    ];
    for function in &functions {
        assert!(
            function.binary.exists(),
            "{} is not built: cargo build --release -p lift-examples --example chat --example handwritten --no-default-features",
            function.binary.display()
        );
    }

    for run in 0..runs {
        // Alternate which goes first, so none always meets a warmer machine.
        let order: [usize; 3] = if run % 2 == 0 { [0, 1, 2] } else { [1, 0, 2] };
        for index in order {
            let function = &mut functions[index];
            let id = format!("COLD{run:04}{index}=");
            let (connect, send) = (format!("c-{id}"), format!("s-{id}"));
            let delivered = management.total_delivered();
            api.invoke(&connect, event(&id, "cold", "$connect", None));
            api.invoke(
                &send,
                event(
                    &id,
                    "cold",
                    "sendMessage",
                    Some(r#"{"action":"sendMessage","text":"first"}"#),
                ),
            );
            api.reset_first_poll();
            let started = Instant::now();
            let child = spawn(&function.binary, &function.env);
            let answer: Value = api.answer(&send).await;
            let elapsed = started.elapsed();
            // Leaves the room empty for the next run.
            let bye = format!("d-{id}");
            api.call(&bye, event(&id, "cold", "$disconnect", None))
                .await;
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
        figures.push(Measure {
            time_ms: time,
            init_ms: init,
            rss_kb: rss,
            size,
        });
    }
    Figures {
        lift: figures[0],
        hand: figures[1],
    }
}
