//! The standalone emulator's functions: each event is delivered to a Lambda **Invoke API**
//! (`POST /2015-03-31/functions/{name}/invocations`, as `cargo lambda watch` and `sam local
//! start-lambda` serve it) instead of a service in this process. A function's error (the
//! `X-Amz-Function-Error` header) is told apart from its answer, as API Gateway tells them.

use std::collections::HashMap;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use serde_json::Value;

use super::template::{Target, WebSocketApi};
use crate::route_key::RouteKey;

/// What an invocation came to.
#[derive(Debug)]
pub(crate) enum Invoked {
    /// The function's answer.
    Answered(Value),
    /// The function failed (its `errorMessage`), or its answer could not be had.
    Failed(String),
}

/// The functions of a template's WebSocket API, behind an Invoke API.
pub(crate) struct Functions {
    pub(crate) api: WebSocketApi,
    /// The Invoke API's base URL (`http://127.0.0.1:9000`).
    base: String,
    /// The name each function (by its logical id) is invoked by; unlisted, its logical id.
    names: HashMap<String, String>,
    /// The name every function not in `names` is invoked by (`--function NAME`).
    every: Option<String>,
    client: Client<HttpConnector, Full<Bytes>>,
}

impl Functions {
    /// The template's API, invoked at `base`; `names` are `--function` options: `NAME` (every
    /// function is invoked by that name, e.g. the binary `cargo lambda watch` serves) or
    /// `LOGICAL_ID=NAME`.
    pub(crate) fn new(api: WebSocketApi, base: &str, names: &[String]) -> Functions {
        let mut every = None;
        let mut by_id = HashMap::new();
        for name in names {
            match name.split_once('=') {
                Some((id, name)) => {
                    by_id.insert(id.to_owned(), name.to_owned());
                }
                None => every = Some(name.clone()),
            }
        }
        let client = Client::builder(hyper_util::rt::TokioExecutor::new()).build_http();
        Functions {
            api,
            base: base.trim_end_matches('/').to_owned(),
            names: by_id,
            every,
            client,
        }
    }

    /// The name `function` (a logical id) is invoked by.
    pub(crate) fn name<'a>(&'a self, function: &'a str) -> &'a str {
        match (self.names.get(function), &self.every) {
            (Some(name), _) => name,
            (None, Some(every)) => every,
            (None, None) => function,
        }
    }

    /// The route a message's selected key goes to: its own, else `$default`; `None` when the
    /// API has neither (API Gateway answers `Forbidden`).
    pub(crate) fn route(&self, selected: Option<&str>) -> Option<(&str, &Target, bool)> {
        let key = selected
            .filter(|key| self.api.routes.contains_key(*key))
            .unwrap_or(RouteKey::DEFAULT);
        let (key, route) = self.api.routes.get_key_value(key)?;
        Some((key, &route.target, route.replies))
    }

    /// Invokes `function` (a logical id) with `event`, within `timeout` (`None` when it ran
    /// out).
    pub(crate) async fn invoke(
        &self,
        function: &str,
        event: &Value,
        timeout: Duration,
    ) -> Option<Invoked> {
        let name = self.name(function);
        let url = format!("{}/2015-03-31/functions/{name}/invocations", self.base);
        let request = http::Request::post(&url)
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from(event.to_string())))
            .expect("a valid request");
        let call = async {
            let response = match self.client.request(request).await {
                Ok(response) => response,
                Err(err) => {
                    return Invoked::Failed(format!(
                        "the Invoke API at {url} did not answer: {err} (is `cargo lambda watch` or \
                         `sam local start-lambda` running there?)"
                    ))
                }
            };
            let status = response.status();
            let failed = response.headers().contains_key("x-amz-function-error");
            let body = match response.into_body().collect().await {
                Ok(body) => body.to_bytes(),
                Err(err) => return Invoked::Failed(format!("the answer was cut off: {err}")),
            };
            let answer: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
            if failed || !status.is_success() {
                let message = answer["errorMessage"]
                    .as_str()
                    .or(answer["message"].as_str())
                    .map_or_else(
                        || String::from_utf8_lossy(&body).into_owned(),
                        str::to_owned,
                    );
                return Invoked::Failed(format!("{name} ({status}): {message}"));
            }
            Invoked::Answered(answer)
        };
        let invoked = tokio::time::timeout(timeout, call).await.ok();
        if let Some(Invoked::Failed(why)) = &invoked {
            tracing::warn!(function = name, error = %why, "an invocation failed");
        }
        invoked
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn functions_are_invoked_by_their_logical_id_unless_named() {
        let api = WebSocketApi {
            selection: vec!["action".into()],
            routes: HashMap::new(),
            authorizer: None,
            sweeps: Vec::new(),
        };
        let plain = Functions::new(api.clone(), "http://x/", &[]);
        assert_eq!(plain.name("Function"), "Function");
        assert_eq!(plain.base, "http://x");
        let named = Functions::new(
            api,
            "http://x",
            &["my-app".into(), "Authorizer=auth-fn".into()],
        );
        assert_eq!(named.name("Function"), "my-app");
        assert_eq!(named.name("Authorizer"), "auth-fn");
    }
}
