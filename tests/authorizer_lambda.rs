//! `App::run()` as the Lambda REQUEST authorizer, under the real `lambda_runtime` client and a
//! local stub of the Lambda Runtime API: a request without a valid token fails the invocation
//! with `Unauthorized` (what API Gateway turns into 401), a valid one is answered with an
//! `Allow` policy, a page not allowed with `Deny`.
//!
//! Alone in its test binary: it sets the process environment Lambda would set.

use lift_tests::guarded::{self, multi, token, PAGE, SECRET};
use lift_tests::runtime_api::{lambda_environment, RuntimeApi};
use serde_json::{json, Value};

fn request(query: Value, origin: &str) -> Vec<u8> {
    let path = format!(
        "{}/fixtures/example-apigw-v2-custom-authorizer-websocket-request.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let mut request: Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    let headers = json!({"Origin": origin});
    request["multiValueQueryStringParameters"] = multi(&query);
    request["queryStringParameters"] = query;
    request["multiValueHeaders"] = multi(&headers);
    request["headers"] = headers;
    request.to_string().into_bytes()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_function_answers_as_api_gateway_s_authorizer() {
    let api = RuntimeApi::start().await;
    lambda_environment(&api, &[]);
    let running = tokio::spawn(guarded::app().run());

    let refused = api.call("no-token", request(json!({}), PAGE)).await;
    let error = refused["invocationError"]
        .as_str()
        .expect("an invocation error");
    let error: Value = serde_json::from_str(error).unwrap();
    assert_eq!(error["errorMessage"], "Unauthorized", "{error}");

    let expired = token("u-3", -3600, SECRET);
    let refused = api
        .call("expired", request(json!({"token": expired}), PAGE))
        .await;
    assert!(refused["invocationError"]
        .as_str()
        .unwrap()
        .contains("\"Unauthorized\""));

    let valid = token("u-3", 600, SECRET);
    let allowed = api
        .call("valid", request(json!({"token": valid}), PAGE))
        .await;
    assert_eq!(allowed["principalId"], "u-3", "{allowed}");
    assert_eq!(allowed["policyDocument"]["Statement"][0]["Effect"], "Allow");
    assert!(allowed["context"]["liftClaims"]
        .as_str()
        .unwrap()
        .contains("\"u-3\""));

    let denied = api
        .call(
            "origin",
            request(json!({"token": valid}), "https://evil.example"),
        )
        .await;
    assert_eq!(
        denied["policyDocument"]["Statement"][0]["Effect"], "Deny",
        "{denied}"
    );

    // The function keeps serving after each refusal.
    assert!(!running.is_finished());
    running.abort();
}
