//! The bad-input corpus through the Lambda path: every case of `corpus/events.jsonl` and
//! `corpus/bodies.jsonl` is an invocation the real `lambda_runtime` client fetches from a local
//! Runtime API stub and hands to `App::run()` — the chat app, as deployed. After each case the
//! outcome is compared with the one written in the corpus, and a well-formed `$connect` and
//! `whoami` must still be answered: the process keeps working.
//!
//! Alone in its test binary: it sets the process environment Lambda would set.

use lift_runtime::store::{ConnectionStore, MemoryStore};
use lift_runtime::App;
use lift_tests::chat_app::chat;
use lift_tests::corpus::{self, Case, Expect};
use lift_tests::events::{connect_event_for, fixture, message_event};
use lift_tests::runtime_api::{lambda_environment, RuntimeApi};
use lift_tests::sink::Sink;
use serde_json::Value;

/// The connection id of the `$connect` fixture, which the `message` fixture is sent from.
const CALLER: &str = "TWegAcC4EowCHnA=";
/// The connection id of the `$disconnect` fixture.
const DISCONNECTING: &str = "AAAA1234=";

struct Lambda {
    api: RuntimeApi,
    store: MemoryStore,
    sink: Sink,
    calls: usize,
}

impl Lambda {
    async fn call(&mut self, event: impl Into<Vec<u8>>) -> Value {
        self.calls += 1;
        self.api.call(&format!("req-{}", self.calls), event).await
    }

    /// A fresh store and Management API, as for a new test.
    async fn reset(&self) {
        for connection in self.store.list().await.unwrap() {
            self.store.delete(&connection.id).await.unwrap();
        }
        self.sink.clear();
    }

    /// The process still answers a well-formed `$connect` and `whoami`.
    async fn still_serves(&mut self, after: &str) {
        let id = "STILLserving=";
        let connected = self.call(connect_event_for(id).to_string()).await;
        assert_eq!(connected["statusCode"], 200, "after {after:?}: {connected}");
        let whoami = message_event(id, "whoami", r#"{"action":"whoami"}"#);
        let answer = self.call(whoami.to_string()).await;
        let body = answer["body"].as_str().unwrap_or_default();
        assert!(
            body.contains(r#""type":"whoami""#),
            "after {after:?}: {answer}"
        );
        self.store.delete(id).await.unwrap();
    }

    /// What the caller `connection_id` saw of one invocation's `answer`.
    async fn outcome(&self, answer: &Value, connection_id: &str) -> Expect {
        let mut outcome = Expect {
            status: answer["statusCode"].as_u64().map(|s| s as u16),
            invocation_error: Some(answer.get("invocationError").is_some()),
            stored: Some(self.store.list().await.unwrap().len()),
            ..Expect::default()
        };
        let frame = answer["body"]
            .as_str()
            .map(str::to_owned)
            .or_else(|| self.sink.last(connection_id));
        outcome.silent = Some(frame.is_none());
        if let Some(frame) = frame {
            (outcome.code, outcome.reply) = corpus::classify(&frame);
        }
        outcome
    }
}

/// The event a case of `events.jsonl` names: a fixture (replayed now) with its mutations, or
/// raw text.
fn event_of(case: &Case) -> (Vec<u8>, Option<&'static str>) {
    if let Some(raw) = case.input.get("raw") {
        return (corpus::bytes(raw), None);
    }
    let fixture_name = case.get("fixture").as_str().expect("a fixture or raw text");
    let (base, connected) = match fixture_name {
        "connect" => (fixture("example-apigw-websocket-request.json"), None),
        "without-method" => (
            fixture("example-apigw-websocket-request-without-method.json"),
            None,
        ),
        "authorizer" => (
            fixture("example-apigw-v2-custom-authorizer-websocket-request.json"),
            None,
        ),
        "message" => (
            message_event(CALLER, "whoami", r#"{"action":"whoami"}"#),
            Some(CALLER),
        ),
        "disconnect" => (
            fixture("example-apigw-websocket-request-disconnect-route.json"),
            Some(DISCONNECTING),
        ),
        other => panic!("{}: no fixture {other:?}", case.case),
    };
    let event = corpus::mutate(base, case);
    (event.to_string().into_bytes(), connected)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_bad_input_gets_its_documented_answer_through_lambda() {
    lift_tests::init_tracing();
    let api = RuntimeApi::start().await;
    lambda_environment(&api, &[]);
    let store = MemoryStore::new();
    let sink = Sink::default();
    let app = App::new(chat::router())
        .store(store.clone())
        .management_api(sink.connect());
    let running = tokio::spawn(app.run());
    let mut lambda = Lambda {
        api,
        store,
        sink,
        calls: 0,
    };

    let mut failures = Vec::new();
    let mut tried = 0;
    for case in corpus::load("events.jsonl") {
        lambda.reset().await;
        let (event, connected) = event_of(&case);
        if let Some(id) = connected {
            let setup = lambda.call(connect_event_for(id).to_string()).await;
            assert_eq!(setup["statusCode"], 200, "{}: set-up {setup}", case.case);
        }
        let answer = lambda.call(event).await;
        let caller = serde_json::from_slice::<Value>(&corpus_event(&case))
            .ok()
            .and_then(|e| {
                e["requestContext"]["connectionId"]
                    .as_str()
                    .map(str::to_owned)
            })
            .unwrap_or_else(|| CALLER.to_owned());
        let outcome = lambda.outcome(&answer, &caller).await;
        if !corpus::matches(&case.expect, &outcome) {
            failures.push(format!(
                "events.jsonl {:?}: expected {:?}, got {outcome:?} ({answer})",
                case.case, case.expect
            ));
        }
        lambda.still_serves(&case.case).await;
        tried += 1;
    }

    let router = chat::router();
    for case in corpus::load("bodies.jsonl") {
        if case.get("emulator_only").as_bool() == Some(true) {
            continue;
        }
        lambda.reset().await;
        let setup = lambda.call(connect_event_for(CALLER).to_string()).await;
        assert_eq!(setup["statusCode"], 200, "{}: set-up {setup}", case.case);
        let body = case.text("body").expect("a body");
        // The route API Gateway would select, as the emulator selects it.
        let route = lift_runtime::__fuzz::select_route("$request.body.action", &router, &body)
            .expect("the default expression");
        let event = message_event(CALLER, route.as_str(), &body);
        let answer = lambda.call(event.to_string()).await;
        let outcome = lambda.outcome(&answer, CALLER).await;
        let mut expect = case.expect.clone();
        // A message always gets a 200 from the function; the client sees the frame.
        expect.status = Some(200);
        expect.close = None;
        if !corpus::matches(&expect, &outcome) {
            failures.push(format!(
                "bodies.jsonl {:?}: expected {expect:?}, got {outcome:?} ({answer})",
                case.case
            ));
        }
        lambda.still_serves(&case.case).await;
        tried += 1;
    }
    running.abort();
    assert!(
        failures.is_empty(),
        "{} of {tried} cases went otherwise than the corpus says:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(tried >= 150, "only {tried} cases");
}

/// The case's event as the function got it (for the caller's connection id).
fn corpus_event(case: &Case) -> Vec<u8> {
    event_of(case).0
}
