//! AWS requests per operation: one chat session, the same events in the same order, through
//! lift's chat and through the hand-written one, each a warm process under the Runtime API stub.
//! DynamoDB requests are counted by a [`CountingProxy`] in front of the DynamoDB-compatible
//! server, Management API requests by the local Management API they post to.
//!
//! The session: ten users connect; the first sends to everyone; two join `rust`, the first
//! sends to it; eight more join, the first sends again (the difference between the two sends
//! is the cost of eight members); one leaves; everyone disconnects.

use std::path::Path;
use std::time::Duration;

use lift_tests::faults::FaultServer;
use lift_tests::runtime_api::RuntimeApi;

use super::proxy::{difference, total, CountingProxy, Counts, Units};
use super::{create_tables, event, lambda_env, now_ms, spawn};

/// One event of the session: who sends it (a user's index), its route key, its body.
type Event = (usize, &'static str, Option<String>);

/// Members of the session.
pub const USERS: usize = 10;

/// One step of the session and what it cost.
#[derive(Clone, Debug)]
pub struct Step {
    /// What the step is (`$connect`, `join`, `message to 10 members`, ...).
    pub name: &'static str,
    /// How many events the step was (its figures are totals over them).
    pub events: usize,
    /// DynamoDB (and SQS) requests, by operation.
    pub store: Counts,
    /// Management API requests.
    pub posts: u64,
}

impl Step {
    /// Every AWS request of the step.
    pub fn requests(&self) -> u64 {
        total(&self.store).requests + self.posts
    }
}

/// A function's run of the session.
#[derive(Clone, Debug)]
pub struct Session {
    /// `lift`, `lift, history and presence on`, `hand-written`.
    pub name: &'static str,
    /// Its steps in order.
    pub steps: Vec<Step>,
}

impl Session {
    /// Every AWS request of the session.
    pub fn requests(&self) -> u64 {
        self.steps.iter().map(Step::requests).sum()
    }

    /// Events of the steps named `name`.
    pub fn events(&self, name: &str) -> usize {
        self.steps
            .iter()
            .filter(|s| s.name == name)
            .map(|s| s.events)
            .sum()
    }

    /// Requests per event of the steps named `name` (summed over those steps).
    pub fn per_event(&self, name: &str) -> f64 {
        let steps: Vec<&Step> = self.steps.iter().filter(|s| s.name == name).collect();
        let events: usize = steps.iter().map(|s| s.events).sum();
        steps.iter().map(|s| s.requests()).sum::<u64>() as f64 / events.max(1) as f64
    }

    /// Per event of the steps named `name`: DynamoDB write units, read units, Management API
    /// posts.
    pub fn units_per_event(&self, name: &str) -> (f64, f64, f64) {
        let mut units = Units::default();
        let (mut posts, mut events) = (0, 0);
        for step in self.steps.iter().filter(|s| s.name == name) {
            units += total(&step.store);
            posts += step.posts;
            events += step.events;
        }
        let events = events.max(1) as f64;
        (
            units.writes as f64 / events,
            units.reads as f64 / events,
            posts as f64 / events,
        )
    }

    /// Dollars per million events of the steps named `name`, at [`prices`].
    pub fn dollars_per_million(&self, name: &str) -> f64 {
        let (writes, reads, posts) = self.units_per_event(name);
        writes * prices::WRITE_UNITS + reads * prices::READ_UNITS + posts * prices::MESSAGES
    }
}

/// The functions to run the session through.
pub struct Target<'a> {
    /// Its name in the report.
    pub name: &'static str,
    /// Its binary.
    pub binary: &'a Path,
    /// `true` for lift's chat (its table and endpoint variables are `LIFT_*`).
    pub lift: bool,
    /// More environment (`LIFT_PRESENCE`, ...).
    pub env: Vec<(&'static str, String)>,
}

/// Runs the session through `target`, DynamoDB at `dynamodb` (behind a counting proxy).
///
/// # Panics
///
/// When an event is not answered 200.
pub async fn run(dynamodb: &str, target: Target<'_>) -> Session {
    let suffix = now_ms();
    let (lift_table, hand_table) = (
        format!("requests-lift-{suffix}"),
        format!("requests-hand-{suffix}"),
    );
    create_tables(dynamodb, &lift_table, &hand_table).await;
    let proxy = CountingProxy::start(dynamodb).await;
    let api = RuntimeApi::start().await;
    let management = FaultServer::start().await;
    let mut env = lambda_env(&api.address(), &proxy.endpoint());
    if target.lift {
        env.push(("LIFT_TABLE_NAME", lift_table));
        env.push(("LIFT_MANAGEMENT_ENDPOINT", management.endpoint()));
    } else {
        env.push(("TABLE_NAME", hand_table));
        env.push(("MANAGEMENT_ENDPOINT", management.endpoint()));
    }
    env.extend(target.env);
    let mut child = spawn(target.binary, &env);

    let ids: Vec<String> = (0..USERS).map(|i| format!("REQ{suffix}{i:02}=")).collect();
    let names: Vec<String> = (0..USERS).map(|i| format!("user{i}")).collect();
    let mut steps = Vec::new();
    let mut sequence = 0;
    // Runs the events of one step and records what they cost.
    let mut step = |name: &'static str, events: Vec<Event>| {
        let (api, proxy, management) = (&api, &proxy, &management);
        let (ids, names) = (&ids, &names);
        let count = events.len();
        let start = sequence;
        sequence += count;
        async move {
            let store_before = proxy.counts();
            let posts_before = management.traces().len();
            for (offset, (user, route, body)) in events.into_iter().enumerate() {
                let request = format!("r{}", start + offset);
                let answer = api
                    .call(
                        &request,
                        event(&ids[user], &names[user], route, body.as_deref()),
                    )
                    .await;
                assert_eq!(answer["statusCode"], 200, "{name}: {answer}");
            }
            // Anything a handler left running (none should) is counted with its step.
            tokio::time::sleep(Duration::from_millis(20)).await;
            Step {
                name,
                events: count,
                store: difference(&proxy.counts(), &store_before),
                posts: (management.traces().len() - posts_before) as u64,
            }
        }
    };
    let say = |room: Option<&str>| {
        Some(match room {
            Some(room) => {
                format!(r#"{{"action":"sendMessage","text":"hello","room":"{room}"}}"#)
            }
            None => r#"{"action":"sendMessage","text":"hello"}"#.to_owned(),
        })
    };
    let join = |verb: &str| Some(format!(r#"{{"action":"{verb}","room":"rust"}}"#));
    let script: Vec<(&'static str, Vec<Event>)> = vec![
        (
            "$connect",
            (0..USERS).map(|u| (u, "$connect", None)).collect(),
        ),
        (
            "message to everyone (10)",
            vec![(0, "sendMessage", say(None))],
        ),
        (
            "join",
            vec![(0, "join", join("join")), (1, "join", join("join"))],
        ),
        (
            "message to a room (2)",
            vec![(0, "sendMessage", say(Some("rust")))],
        ),
        (
            "join",
            (2..USERS).map(|u| (u, "join", join("join"))).collect(),
        ),
        (
            "message to a room (10)",
            vec![(0, "sendMessage", say(Some("rust")))],
        ),
        ("leave", vec![(1, "leave", join("leave"))]),
        (
            "$disconnect",
            (0..USERS).map(|u| (u, "$disconnect", None)).collect(),
        ),
    ];
    for (name, events) in script {
        steps.push(step(name, events).await);
    }
    let _ = child.kill();
    let _ = child.wait();
    Session {
        name: target.name,
        steps,
    }
}

/// Published prices (us-east-1, on-demand, December 2026), dollars per million.
pub mod prices {
    /// DynamoDB on-demand write request units.
    pub const WRITE_UNITS: f64 = 0.625;
    /// DynamoDB on-demand read request units.
    pub const READ_UNITS: f64 = 0.125;
    /// API Gateway WebSocket messages (first billion; a Management API post is a message).
    pub const MESSAGES: f64 = 1.00;
    /// SQS standard queue requests (after the free tier; a batch of up to 10 is one request
    /// per 64 KiB).
    pub const SQS_REQUESTS: f64 = 0.40;
}

/// Prints the table of requests and dollars per million of each step, for each session, and
/// returns `summary requests: lift/hand-written=R` (`lift` against `hand`).
pub fn report(sessions: &[Session], lift: &Session, hand: &Session) -> String {
    let names: Vec<&'static str> = {
        let mut names = Vec::new();
        for step in &lift.steps {
            if !names.contains(&step.name) {
                names.push(step.name);
            }
        }
        names
    };
    for session in sessions {
        println!(
            "requests {}: per event (DynamoDB ops; posts) and $ per million events",
            session.name
        );
        for name in &names {
            let (_, _, posts) = session.units_per_event(name);
            let store: Counts = session.steps.iter().filter(|s| s.name == *name).fold(
                Counts::new(),
                |mut sum, s| {
                    for (op, u) in &s.store {
                        *sum.entry(op.clone()).or_default() += *u;
                    }
                    sum
                },
            );
            let events = session.events(name);
            let ops: Vec<String> = store
                .iter()
                .map(|(op, u)| format!("{op} {:.1}", u.requests as f64 / events as f64))
                .collect();
            let dollars = session.dollars_per_million(name);
            println!(
                "  {name:<26} {:>5.1} requests ({}; {posts:.1} posts) ${dollars:.2}",
                session.per_event(name),
                if ops.is_empty() {
                    "no DynamoDB".to_owned()
                } else {
                    ops.join(", ")
                },
            );
        }
        let member = (session.per_event("message to a room (10)")
            - session.per_event("message to a room (2)"))
            / 8.0;
        println!(
            "  {:<26} {member:>5.2} requests",
            "a room broadcast, per member"
        );
        let dollars: f64 = names
            .iter()
            .map(|name| session.dollars_per_million(name) * session.events(name) as f64)
            .sum();
        println!(
            "  {:<26} {:>5} requests, ${dollars:.2} per million sessions",
            "the whole session",
            session.requests()
        );
    }
    format!(
        "summary requests: lift/hand-written={:.2}",
        lift.requests() as f64 / hand.requests() as f64
    )
}
