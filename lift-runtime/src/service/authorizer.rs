//! The function as API Gateway's Lambda REQUEST authorizer on `$connect`: the app's
//! [`JwtAuth`](crate::auth::JwtAuth) and [`AllowedOrigins`](crate::auth::AllowedOrigins) run on
//! the authorizer's request before any `$connect`, and their verdict is an IAM policy.
//!
//! - A request they accept gets an `Allow` policy on its `methodArn`, the principal (the token's
//!   `sub`, else `anonymous`) and a context with the verified claims as JSON under
//!   `liftClaims` (context values must be strings, numbers or booleans). API Gateway then invokes
//!   `$connect` and every later event of the connection with that context in
//!   `requestContext.authorizer`, where `JwtAuth` and
//!   [`WsContext::identity`](crate::WsContext::identity) read the claims without verifying the
//!   token again or reading the store.
//! - A missing or invalid token (401) fails the invocation with `Unauthorized`, which API
//!   Gateway answers with 401; any other refusal (an origin not allowed, 403) gets a `Deny`
//!   policy, which API Gateway answers with 403. Either way `$connect` never runs.
//!
//! Only those two middleware run here: the app's `$connect` handler, its other middleware and
//! [`ConnectionLimit`](crate::auth::ConnectionLimit) (which needs the user the handler sets) run
//! at `$connect`, as always.

use aws_lambda_events::apigw::{
    ApiGatewayCustomAuthorizerPolicy, ApiGatewayCustomAuthorizerResponse,
    ApiGatewayWebsocketProxyRequest,
};
use aws_lambda_events::iam::{IamPolicyEffect, IamPolicyStatement};
use serde_json::Value;
use tracing::Instrument;

use super::{Invocation, LambdaResponse, Service};
use crate::inbound::CLAIMS;
use crate::middleware::Next;
use crate::route_key::RouteKey;

impl Service {
    /// Whether a JSON event is a Lambda REQUEST authorizer's request (`type: REQUEST` with a
    /// `methodArn`), rather than a route's event.
    pub(super) fn is_authorizer_request(event: &Value) -> bool {
        event.get("methodArn").is_some_and(Value::is_string)
            && event.get("type").is_some_and(|kind| kind == "REQUEST")
    }

    /// Answers an authorizer's request: `Allow` or `Deny` policy, or
    /// [`LambdaResponse::Unauthorized`]; a request that is not one (or an app with nothing to
    /// authorize with) is answered `400 invalid_event`.
    pub(super) async fn authorize(&self, event: Value, invocation: Invocation) -> LambdaResponse {
        let Some(method_arn) = event["methodArn"].as_str().map(str::to_owned) else {
            return self.invalid(
                &invocation,
                "the authorizer request has no methodArn".into(),
            );
        };
        if self.authorizers().is_empty() {
            return self.invalid(
                &invocation,
                "a Lambda authorizer's request, but this app has no JwtAuth or AllowedOrigins to \
                 authorize with"
                    .into(),
            );
        }
        // The request has the fields of a `$connect` event (headers, query, request context).
        let mut request: ApiGatewayWebsocketProxyRequest = match serde_json::from_value(event) {
            Ok(request) => request,
            Err(err) => {
                return self.invalid(
                    &invocation,
                    format!("not a WebSocket authorizer request: {err}"),
                )
            }
        };
        request.request_context.route_key = Some(RouteKey::CONNECT.to_owned());
        // Whatever an authorizer context says, it is not trusted here: this is what makes one.
        request.request_context.authorizer = Default::default();
        let (mut ctx, span) =
            match self.connect_context(crate::event::Event::whole(request), invocation.clone()) {
                Ok(prepared) => prepared,
                Err(response) => return LambdaResponse::WebSocket(response),
            };
        let chain = Next::new(self.authorizers(), None).run(&mut ctx);
        let result = crate::service::guard(chain).instrument(span.clone()).await;
        let _entered = span.enter();
        match result {
            Ok(_) => {
                let claims = ctx
                    .take_connecting()
                    .and_then(|connecting| connecting.claims().cloned());
                let principal = claims
                    .as_ref()
                    .and_then(|claims| claims["sub"].as_str())
                    .unwrap_or("anonymous")
                    .to_owned();
                let mut context = serde_json::Map::new();
                if let Some(claims) = claims {
                    context.insert(CLAIMS.into(), Value::String(claims.to_string()));
                }
                tracing::info!(%principal, "authorizer: allowed");
                LambdaResponse::Authorizer(Box::new(policy(
                    IamPolicyEffect::Allow,
                    &method_arn,
                    principal,
                    Value::Object(context),
                )))
            }
            Err(err) if err.status() == 401 => {
                tracing::info!(code = err.code(), "authorizer: unauthorized");
                LambdaResponse::Unauthorized
            }
            Err(err) => {
                tracing::info!(
                    status = err.status(),
                    code = err.code(),
                    reason = err.message(),
                    "authorizer: denied"
                );
                LambdaResponse::Authorizer(Box::new(policy(
                    IamPolicyEffect::Deny,
                    &method_arn,
                    "anonymous".into(),
                    Value::Object(Default::default()),
                )))
            }
        }
    }
}

/// A policy of one statement: `effect` on `execute-api:Invoke` of `resource`.
fn policy(
    effect: IamPolicyEffect,
    resource: &str,
    principal: String,
    context: Value,
) -> ApiGatewayCustomAuthorizerResponse {
    let mut statement = IamPolicyStatement::default();
    statement.action = vec!["execute-api:Invoke".into()];
    statement.effect = effect;
    statement.resource = vec![resource.to_owned()];
    let mut document = ApiGatewayCustomAuthorizerPolicy::default();
    document.version = Some("2012-10-17".into());
    document.statement = vec![statement];
    let mut response = ApiGatewayCustomAuthorizerResponse::default();
    response.principal_id = Some(principal);
    response.policy_document = document;
    response.context = context;
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_told_from_events_and_claims_read_from_the_context() {
        let request = serde_json::json!({"type": "REQUEST", "methodArn": "arn:x"});
        assert!(Service::is_authorizer_request(&request));
        let token = serde_json::json!({"type": "TOKEN", "methodArn": "arn:x"});
        assert!(!Service::is_authorizer_request(&token));
        let event = serde_json::json!({"requestContext": {}});
        assert!(!Service::is_authorizer_request(&event));
        let mut event = ApiGatewayWebsocketProxyRequest::default();
        assert_eq!(
            crate::inbound::claims_of(&crate::event::Fields::of(&event)),
            None
        );
        event
            .request_context
            .authorizer
            .fields
            .insert(CLAIMS.into(), Value::String(r#"{"sub":"ana"}"#.into()));
        assert_eq!(
            crate::inbound::claims_of(&crate::event::Fields::of(&event)),
            Some(serde_json::json!({"sub": "ana"}))
        );
        let answer = policy(
            IamPolicyEffect::Allow,
            "arn:x",
            "ana".into(),
            serde_json::json!({}),
        );
        let json = serde_json::to_value(&answer).unwrap();
        assert_eq!(json["principalId"], "ana");
        assert_eq!(json["policyDocument"]["Statement"][0]["Effect"], "Allow");
        assert_eq!(
            json["policyDocument"]["Statement"][0]["Action"][0],
            "execute-api:Invoke"
        );
    }
}
