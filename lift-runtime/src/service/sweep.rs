//! The runtime's scheduled task: the presence sweep. The template's schedule invokes the
//! function every minute with `{"liftTask":"presence-sweep","managementEndpoint":URL}`; the
//! emulator runs it every second. Connections whose expiry passed without a `$disconnect` are
//! forgotten, and their users' rooms told `left`.

use std::time::Instant;

use serde_json::Value;

use super::{Invocation, LambdaResponse, Service};
use crate::outbound::{Endpoint, Outbound};

/// The task's name in the event.
pub(crate) const PRESENCE_SWEEP: &str = "presence-sweep";

impl Service {
    /// Whether a JSON event is the runtime's scheduled task.
    pub(super) fn is_task(event: &Value) -> bool {
        event.get("liftTask").is_some_and(Value::is_string)
    }

    /// Runs the task an event names; answers what it did.
    pub(super) async fn run_task(&self, event: Value, invocation: Invocation) -> LambdaResponse {
        if event["liftTask"] != PRESENCE_SWEEP {
            return self.invalid(
                &invocation,
                format!(
                    "an unknown task {}: this runtime runs `{PRESENCE_SWEEP}`",
                    event["liftTask"]
                ),
            );
        }
        // The Management API: the fixed endpoint, else the one the schedule names.
        let endpoint = match self.inner.clients.endpoint() {
            Endpoint::Fixed(url) => url.clone(),
            Endpoint::FromEvent => match event["managementEndpoint"].as_str() {
                Some(url) if url.starts_with("http") => url.to_owned(),
                _ => {
                    return self.invalid(
                        &invocation,
                        "the presence sweep needs the API's managementEndpoint (or \
                         LIFT_MANAGEMENT_ENDPOINT)"
                            .into(),
                    )
                }
            },
        };
        self.sweep(&endpoint, invocation.deadline).await;
        LambdaResponse::Task(serde_json::json!({"task": PRESENCE_SWEEP, "done": true}))
    }

    /// The presence sweep, its announcements sent through `endpoint`.
    pub(crate) async fn sweep(&self, endpoint: &str, deadline: Option<Instant>) {
        if !self.inner.settings.presence {
            return;
        }
        let out = Outbound::new(
            self.inner.clients.get(endpoint),
            self.inner.store.clone(),
            self.inner.broadcast.clone(),
            deadline,
            String::new(),
            false,
            self.inner.fanout.clone(),
        )
        .with_history(self.inner.settings.history)
        .with_presence(true);
        out.sweep_presence().await;
    }
}
