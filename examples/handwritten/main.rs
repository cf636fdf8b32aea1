//! The chat's protocol written by hand on `lambda_runtime`, `aws_lambda_events` and the AWS SDK,
//! without Lift: the "before" of `docs/MIGRATING.md`, whose line counts compare it with
//! `examples/chat`. It keeps connections, names and rooms in the same kind of DynamoDB table and
//! answers the same messages, but has none of what the runtime adds on top (no local emulator,
//! no paging of big rooms, no retries of 429s and 5xx, no deadline, no typed errors, no tests):
//! it is what a team arrives with. It builds (`cargo build --example handwritten`) and runs in
//! Lambda with `TABLE_NAME` set.

use std::collections::HashMap;

use aws_lambda_events::apigw::{ApiGatewayProxyResponse, ApiGatewayWebsocketProxyRequest};
use aws_lambda_events::encodings::Body;
use aws_sdk_apigatewaymanagement::primitives::Blob;
use aws_sdk_dynamodb::types::AttributeValue;
use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde::Deserialize;
use serde_json::json;

struct Clients {
    dynamodb: aws_sdk_dynamodb::Client,
    config: aws_config::SdkConfig,
    table: String,
}

#[derive(Deserialize)]
struct SendMessage {
    text: String,
    #[serde(default)]
    room: Option<String>,
}

#[derive(Deserialize)]
struct RoomRequest {
    room: String,
}

const EVERYONE: &str = "$everyone";

#[tokio::main]
async fn main() -> Result<(), Error> {
    let config = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let clients = Clients {
        dynamodb: aws_sdk_dynamodb::Client::new(&config),
        table: std::env::var("TABLE_NAME")?,
        config,
    };
    let clients = &clients;
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<ApiGatewayWebsocketProxyRequest>| async move {
            let response = match handle(clients, event.payload).await {
                Ok(response) => response,
                Err(err) => respond(500, Some(error_frame("internal", &err.to_string()))),
            };
            Ok::<_, Error>(response)
        },
    ))
    .await
}

async fn handle(
    clients: &Clients,
    event: ApiGatewayWebsocketProxyRequest,
) -> Result<ApiGatewayProxyResponse, Error> {
    let ctx = &event.request_context;
    let id = ctx.connection_id.clone().ok_or("no connection id")?;
    let route = ctx.route_key.clone().unwrap_or_default();
    // Behind a custom domain the Management API is elsewhere: MANAGEMENT_ENDPOINT says where.
    let endpoint = match std::env::var("MANAGEMENT_ENDPOINT") {
        Ok(endpoint) => endpoint,
        Err(_) => format!(
            "https://{}/{}",
            ctx.domain_name.as_deref().ok_or("no domain")?,
            ctx.stage.as_deref().unwrap_or("prod")
        ),
    };
    match route.as_str() {
        "$connect" => {
            let name = event
                .query_string_parameters
                .first("name")
                .map(str::trim)
                .unwrap_or_default()
                .to_owned();
            if name.is_empty() || name.len() > 64 {
                return Ok(respond(
                    400,
                    Some(error_frame("bad_request", "connect with ?name=YOUR_NAME")),
                ));
            }
            let expires = now_secs() + 2 * 60 * 60 + 600;
            clients
                .dynamodb
                .put_item()
                .table_name(&clients.table)
                .item("pk", s(format!("CONN#{id}")))
                .item("sk", s("META"))
                .item("user", s(&name))
                .item("rooms", AttributeValue::Ss(vec![EVERYONE.to_owned()]))
                .item("expires_at", AttributeValue::N(expires.to_string()))
                .send()
                .await?;
            put_member(clients, EVERYONE, &id, &name, expires).await?;
            Ok(respond(200, None))
        }
        "$disconnect" => {
            let out = clients
                .dynamodb
                .delete_item()
                .table_name(&clients.table)
                .key("pk", s(format!("CONN#{id}")))
                .key("sk", s("META"))
                .return_values(aws_sdk_dynamodb::types::ReturnValue::AllOld)
                .send()
                .await?;
            let rooms = out
                .attributes()
                .and_then(|item| item.get("rooms"))
                .and_then(|rooms| rooms.as_ss().ok())
                .cloned()
                .unwrap_or_default();
            for room in rooms {
                delete_member(clients, &room, &id).await?;
            }
            Ok(respond(200, None))
        }
        "sendMessage" => {
            let Ok(msg) = serde_json::from_str::<SendMessage>(event.body.as_deref().unwrap_or(""))
            else {
                post(
                    clients,
                    &endpoint,
                    &id,
                    &error_frame("invalid_body", "expected {\"text\": \"...\"}"),
                )
                .await?;
                return Ok(respond(200, None));
            };
            let Some(conn) = get_connection(clients, &id).await? else {
                post(
                    clients,
                    &endpoint,
                    &id,
                    &error_frame("internal", "this connection is not registered"),
                )
                .await?;
                return Ok(respond(200, None));
            };
            let name = conn
                .get("user")
                .and_then(|u| u.as_s().ok())
                .cloned()
                .unwrap_or_default();
            let room = msg.room.clone().unwrap_or_else(|| EVERYONE.to_owned());
            let joined = conn
                .get("rooms")
                .and_then(|r| r.as_ss().ok())
                .is_some_and(|rooms| rooms.contains(&room));
            if !joined {
                let frame = json!({"type": "error", "code": "not_in_room", "message": format!("join the room first: {room}")});
                post(clients, &endpoint, &id, &frame.to_string()).await?;
                return Ok(respond(200, None));
            }
            let mut message = json!({"type": "message", "from": name, "text": msg.text});
            if let Some(room) = &msg.room {
                message["room"] = json!(room);
            }
            let data = message.to_string();
            let mut start = None;
            loop {
                let page = clients
                    .dynamodb
                    .query()
                    .table_name(&clients.table)
                    .key_condition_expression("pk = :room")
                    .expression_attribute_values(":room", s(format!("ROOM#{room}")))
                    .set_exclusive_start_key(start)
                    .send()
                    .await?;
                for item in page.items() {
                    let Some(member) = item.get("connection_id").and_then(|c| c.as_s().ok()) else {
                        continue;
                    };
                    if let Err(err) = post(clients, &endpoint, member, &data).await {
                        if err.to_string().contains("GoneException") {
                            delete_member(clients, &room, member).await?;
                        } else {
                            eprintln!("could not send to {member}: {err}");
                        }
                    }
                }
                start = page.last_evaluated_key().cloned();
                if start.is_none() {
                    break;
                }
            }
            Ok(respond(200, None))
        }
        "join" | "leave" => {
            let Ok(req) = serde_json::from_str::<RoomRequest>(event.body.as_deref().unwrap_or(""))
            else {
                return Ok(respond(
                    200,
                    Some(error_frame("invalid_body", "expected {\"room\": \"...\"}")),
                ));
            };
            if req.room.is_empty() || req.room.len() > 64 || req.room.starts_with('$') {
                return Ok(respond(
                    200,
                    Some(error_frame(
                        "bad_request",
                        "a room name is 1 to 64 bytes, not starting with $",
                    )),
                ));
            }
            let Some(conn) = get_connection(clients, &id).await? else {
                return Ok(respond(
                    200,
                    Some(error_frame("internal", "this connection is not registered")),
                ));
            };
            let name = conn
                .get("user")
                .and_then(|u| u.as_s().ok())
                .cloned()
                .unwrap_or_default();
            let action = if route == "join" { "ADD" } else { "DELETE" };
            clients
                .dynamodb
                .update_item()
                .table_name(&clients.table)
                .key("pk", s(format!("CONN#{id}")))
                .key("sk", s("META"))
                .update_expression(format!("{action} rooms :room"))
                .expression_attribute_values(":room", AttributeValue::Ss(vec![req.room.clone()]))
                .send()
                .await?;
            if route == "join" {
                put_member(
                    clients,
                    &req.room,
                    &id,
                    &name,
                    now_secs() + 2 * 60 * 60 + 600,
                )
                .await?;
            } else {
                delete_member(clients, &req.room, &id).await?;
            }
            let kind = if route == "join" { "joined" } else { "left" };
            Ok(respond(
                200,
                Some(json!({"type": kind, "room": req.room}).to_string()),
            ))
        }
        "whoami" => {
            let Some(conn) = get_connection(clients, &id).await? else {
                return Ok(respond(
                    200,
                    Some(error_frame("internal", "this connection is not registered")),
                ));
            };
            let name = conn
                .get("user")
                .and_then(|u| u.as_s().ok())
                .cloned()
                .unwrap_or_default();
            let reply = json!({"type": "whoami", "name": name, "connectionId": id});
            Ok(respond(200, Some(reply.to_string())))
        }
        other => {
            let frame = error_frame("unknown_route", &format!("no route for {other}"));
            post(clients, &endpoint, &id, &frame).await?;
            Ok(respond(200, None))
        }
    }
}

async fn get_connection(
    clients: &Clients,
    id: &str,
) -> Result<Option<HashMap<String, AttributeValue>>, Error> {
    let out = clients
        .dynamodb
        .get_item()
        .table_name(&clients.table)
        .key("pk", s(format!("CONN#{id}")))
        .key("sk", s("META"))
        .send()
        .await?;
    Ok(out.item().cloned())
}

async fn put_member(
    clients: &Clients,
    room: &str,
    id: &str,
    name: &str,
    expires: u64,
) -> Result<(), Error> {
    clients
        .dynamodb
        .put_item()
        .table_name(&clients.table)
        .item("pk", s(format!("ROOM#{room}")))
        .item("sk", s(format!("CONN#{id}")))
        .item("connection_id", s(id))
        .item("user", s(name))
        .item("expires_at", AttributeValue::N(expires.to_string()))
        .send()
        .await?;
    Ok(())
}

async fn delete_member(clients: &Clients, room: &str, id: &str) -> Result<(), Error> {
    clients
        .dynamodb
        .delete_item()
        .table_name(&clients.table)
        .key("pk", s(format!("ROOM#{room}")))
        .key("sk", s(format!("CONN#{id}")))
        .send()
        .await?;
    Ok(())
}

async fn post(clients: &Clients, endpoint: &str, id: &str, data: &str) -> Result<(), Error> {
    let config = aws_sdk_apigatewaymanagement::config::Builder::from(&clients.config)
        .endpoint_url(endpoint)
        .build();
    aws_sdk_apigatewaymanagement::Client::from_conf(config)
        .post_to_connection()
        .connection_id(id)
        .data(Blob::new(data.as_bytes()))
        .send()
        .await
        .map_err(|err| {
            format!(
                "{:?}",
                aws_sdk_apigatewaymanagement::error::DisplayErrorContext(err)
            )
        })?;
    Ok(())
}

fn respond(status: i64, body: Option<String>) -> ApiGatewayProxyResponse {
    let mut response = ApiGatewayProxyResponse::default();
    response.status_code = status;
    response.body = body.map(Body::Text);
    response
}

fn error_frame(code: &str, message: &str) -> String {
    json!({"type": "error", "code": code, "message": message}).to_string()
}

fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}
