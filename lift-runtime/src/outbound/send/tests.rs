//! The broadcast loop of `send.rs`, driven through random pages and scripted answers.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;

use super::*;
use crate::outbound::ConnectionInfo;

/// What one post of a connection answers, and whether it first has to wait.
#[derive(Clone, Copy, Debug)]
enum Answer {
    Ok,
    Gone,
    Throttled,
    ServerError,
    Forbidden,
}

/// A Management API that answers each connection's posts as scripted (`Ok` once the
/// script runs out), some at once and some after a wait, and counts what it saw.
#[derive(Default)]
struct Scripted {
    scripts: Mutex<HashMap<String, Vec<(bool, Answer)>>>,
    delivered: Mutex<HashMap<String, usize>>,
    outstanding: AtomicUsize,
    most_outstanding: AtomicUsize,
}

#[async_trait]
impl ManagementApi for Scripted {
    fn endpoint(&self) -> &str {
        "scripted"
    }

    async fn post(&self, connection_id: &str, _data: &[u8]) -> Result<(), SendError> {
        let now = self.outstanding.fetch_add(1, Ordering::SeqCst) + 1;
        self.most_outstanding.fetch_max(now, Ordering::SeqCst);
        let (wait, answer) = {
            let mut scripts = self.scripts.lock().unwrap();
            let script = scripts.entry(connection_id.to_owned()).or_default();
            if script.is_empty() {
                (false, Answer::Ok)
            } else {
                script.remove(0)
            }
        };
        if wait {
            tokio::task::yield_now().await;
        }
        self.outstanding.fetch_sub(1, Ordering::SeqCst);
        let endpoint = "scripted".to_owned();
        match answer {
            Answer::Ok => {
                *self
                    .delivered
                    .lock()
                    .unwrap()
                    .entry(connection_id.to_owned())
                    .or_default() += 1;
                Ok(())
            }
            Answer::Gone => Err(SendError::Gone {
                connection_id: connection_id.to_owned(),
            }),
            Answer::Throttled => Err(SendError::Throttled { endpoint }),
            Answer::ServerError => Err(SendError::ServerError {
                endpoint,
                status: 500,
            }),
            Answer::Forbidden => Err(SendError::Forbidden { endpoint }),
        }
    }

    async fn delete(&self, _connection_id: &str) -> Result<(), SendError> {
        Ok(())
    }

    async fn info(&self, _connection_id: &str) -> Result<ConnectionInfo, SendError> {
        Err(SendError::Forbidden {
            endpoint: "scripted".into(),
        })
    }
}

/// What the report must say of a connection whose posts answer `script`.
fn expected(script: &[(bool, Answer)], max_attempts: usize) -> &'static str {
    for (_, answer) in script.iter().take(max_attempts) {
        match answer {
            Answer::Ok => return "sent",
            Answer::Gone => return "gone",
            Answer::Forbidden => return "failed",
            Answer::Throttled | Answer::ServerError => {}
        }
    }
    if script.len() >= max_attempts {
        "failed"
    } else {
        "sent"
    }
}

/// Random pages of connections with random scripts, some pages failing to be read, sent with
/// random concurrency: every id of the pages read is in the report exactly once, as its
/// script says; nothing is delivered twice or after a page failed; never more posts wait at
/// once than the concurrency allows.
#[tokio::test(start_paused = true)]
async fn every_id_is_reported_once_as_its_posts_answered() {
    let answers = [
        Answer::Ok,
        Answer::Gone,
        Answer::Throttled,
        Answer::ServerError,
        Answer::Forbidden,
    ];
    for seed in 0..300 {
        let mut rng = fastrand::Rng::with_seed(seed);
        let config = BroadcastSettings {
            concurrency: rng.usize(1..=8),
            ..BroadcastSettings::default()
        };
        let api = Scripted::default();
        let mut pages = Vec::new();
        let mut expect = HashMap::new();
        let mut read = Vec::new();
        let mut failing = false;
        for page in 0..rng.usize(0..5) {
            if !failing && rng.u8(..) < 20 {
                pages.push(Err(SendError::Store {
                    message: format!("page {page}"),
                }));
                failing = true;
                continue;
            }
            let ids: Vec<String> = (0..rng.usize(0..25))
                .map(|n| format!("c{page}-{n}"))
                .collect();
            for id in &ids {
                let script: Vec<(bool, Answer)> = (0..rng.usize(0..8))
                    .map(|_| (rng.bool(), answers[rng.usize(..answers.len())]))
                    .collect();
                if !failing {
                    expect.insert(id.clone(), expected(&script, config.max_attempts as usize));
                    read.push(id.clone());
                }
                api.scripts.lock().unwrap().insert(id.clone(), script);
            }
            pages.push(Ok(ids));
        }
        let deadline = Instant::now() + Duration::from_secs(60);
        let (report, failure) = send_stream(
            &api,
            futures_util::stream::iter(pages),
            &Bytes::from_static(b"hi"),
            deadline,
            &config,
        )
        .await
        .unwrap();
        assert_eq!(failure.is_some(), failing, "seed {seed}");
        let mut seen: HashMap<String, &str> = HashMap::new();
        let named = report
            .gone
            .iter()
            .map(|id| (id, "gone"))
            .chain(report.failed.iter().map(|(id, _)| (id, "failed")))
            .chain(report.not_attempted.iter().map(|id| (id, "not attempted")));
        for (id, outcome) in named {
            assert!(
                seen.insert(id.clone(), outcome).is_none(),
                "seed {seed}: {id} twice"
            );
        }
        let delivered = api.delivered.lock().unwrap().clone();
        for (id, count) in &delivered {
            assert_eq!(*count, 1, "seed {seed}: {id} delivered {count} times");
            assert!(
                seen.insert(id.clone(), "sent").is_none(),
                "seed {seed}: {id} delivered and reported"
            );
        }
        assert_eq!(report.sent, delivered.len(), "seed {seed}");
        assert_eq!(seen.len(), read.len(), "seed {seed}: {seen:?}");
        for (id, outcome) in &expect {
            assert_eq!(seen.get(id), Some(outcome), "seed {seed}: {id}");
        }
        let most = api.most_outstanding.load(Ordering::SeqCst);
        assert!(
            most <= config.concurrency,
            "seed {seed}: {most} posts at once, concurrency {}",
            config.concurrency
        );
    }
}

/// A Management API whose posts never answer.
struct Hanging;

#[async_trait]
impl ManagementApi for Hanging {
    fn endpoint(&self) -> &str {
        "hanging"
    }

    async fn post(&self, _connection_id: &str, _data: &[u8]) -> Result<(), SendError> {
        std::future::pending().await
    }

    async fn delete(&self, _connection_id: &str) -> Result<(), SendError> {
        Ok(())
    }

    async fn info(&self, _connection_id: &str) -> Result<ConnectionInfo, SendError> {
        std::future::pending().await
    }
}

/// Posts that never answer: at the cutoff (the deadline less the headroom) the sends in
/// flight fail with `Deadline`, the ids not yet taken are not attempted, and the broadcast
/// returns then, not later.
#[tokio::test(start_paused = true)]
async fn posts_still_waiting_at_the_cutoff_fail_with_the_deadline() {
    let config = BroadcastSettings {
        concurrency: 4,
        ..BroadcastSettings::default()
    };
    let ids: Vec<String> = (0..10).map(|n| format!("c{n}")).collect();
    let deadline = Instant::now() + config.headroom + Duration::from_secs(1);
    // The paused clock moves only as timers let it.
    let started = tokio::time::Instant::now();
    let report = send_many(&Hanging, ids, &Bytes::from_static(b"hi"), deadline, &config)
        .await
        .unwrap();
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(999) && took < Duration::from_millis(1010),
        "returned after {took:?}, the cutoff was 1 s away"
    );
    assert_eq!(report.sent, 0);
    let failed: Vec<&str> = report.failed.iter().map(|(id, _)| id.as_str()).collect();
    assert_eq!(failed.len(), 4, "{report:?}");
    for (id, err) in &report.failed {
        assert!(
            matches!(err, SendError::Deadline { endpoint } if endpoint == "hanging"),
            "{id}: {err:?}"
        );
    }
    let mut all: Vec<&str> = failed;
    all.extend(report.not_attempted.iter().map(String::as_str));
    all.sort_unstable();
    let expected: Vec<String> = (0..10).map(|n| format!("c{n}")).collect();
    assert_eq!(all, expected.iter().map(String::as_str).collect::<Vec<_>>());
}
