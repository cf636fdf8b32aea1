//! An in-process Management API that counts what each connection was sent, with faults on
//! chosen connections: for fan-out tests of thousands of members, where what matters is how
//! often each connection got the message. (The real emulator's Management API, with real
//! clients, is tested in `fanout.rs` too, for a room of a few members.)

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use lift_runtime::{ConnectionInfo, ManagementApi, SendError};

#[derive(Default)]
struct State {
    /// How long each send takes.
    delay: std::time::Duration,
    delivered: HashMap<String, usize>,
    /// Each connection's last message.
    last: HashMap<String, Vec<u8>>,
    gone: HashSet<String>,
    /// Connection → sends still to fail with 500.
    failing: HashMap<String, usize>,
}

/// A counting Management API. Cheap to clone; clones share the counts.
#[derive(Clone, Default)]
pub struct Sink {
    state: Arc<Mutex<State>>,
}

impl Sink {
    /// Answers 410 to every send to `id`.
    pub fn gone(&self, id: &str) {
        self.state.lock().unwrap().gone.insert(id.to_owned());
    }

    /// Answers 500 to the next `times` sends to `id`.
    pub fn fail(&self, id: &str, times: usize) {
        self.state
            .lock()
            .unwrap()
            .failing
            .insert(id.to_owned(), times);
    }

    /// Makes every send take `delay`.
    pub fn delay(&self, delay: std::time::Duration) {
        self.state.lock().unwrap().delay = delay;
    }

    /// How many messages `id` was delivered.
    pub fn delivered(&self, id: &str) -> usize {
        self.state
            .lock()
            .unwrap()
            .delivered
            .get(id)
            .copied()
            .unwrap_or(0)
    }

    /// The last message `id` was delivered, as text.
    pub fn last(&self, id: &str) -> Option<String> {
        let state = self.state.lock().unwrap();
        let last = state.last.get(id)?;
        Some(String::from_utf8_lossy(last).into_owned())
    }

    /// Forgets every delivery and fault.
    pub fn clear(&self) {
        *self.state.lock().unwrap() = State::default();
    }

    /// Every connection's deliveries.
    pub fn all(&self) -> HashMap<String, usize> {
        self.state.lock().unwrap().delivered.clone()
    }

    /// Messages delivered in all.
    pub fn total(&self) -> usize {
        self.state.lock().unwrap().delivered.values().sum()
    }

    /// This sink as the client of every endpoint, for `App::management_api`.
    pub fn connect(&self) -> impl Fn(&str) -> Arc<dyn ManagementApi> + Send + Sync + 'static {
        let sink = self.clone();
        move |_endpoint| Arc::new(sink.clone()) as Arc<dyn ManagementApi>
    }
}

#[async_trait]
impl ManagementApi for Sink {
    fn endpoint(&self) -> &str {
        "sink"
    }

    async fn post(&self, connection_id: &str, data: &[u8]) -> Result<(), SendError> {
        let delay = self.state.lock().unwrap().delay;
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        let mut state = self.state.lock().unwrap();
        if state.gone.contains(connection_id) {
            return Err(SendError::Gone {
                connection_id: connection_id.to_owned(),
            });
        }
        if let Some(left) = state.failing.get_mut(connection_id) {
            if *left > 0 {
                *left -= 1;
                return Err(SendError::ServerError {
                    endpoint: "sink".into(),
                    status: 500,
                });
            }
        }
        *state.delivered.entry(connection_id.to_owned()).or_default() += 1;
        state.last.insert(connection_id.to_owned(), data.to_vec());
        Ok(())
    }

    async fn delete(&self, _connection_id: &str) -> Result<(), SendError> {
        Ok(())
    }

    async fn info(&self, _connection_id: &str) -> Result<ConnectionInfo, SendError> {
        Ok(ConnectionInfo {
            connected_at: None,
            last_active_at: None,
            source_ip: None,
            user_agent: None,
        })
    }
}
