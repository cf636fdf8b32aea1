//! The `tls` group: the Management API over HTTPS, as a deployed function reaches
//! `execute-api`. The emulator's process puts a TLS front before it (a CA and a `localhost`
//! certificate made at start, `lift_tests::tls::TlsFront`); lift trusts that CA through
//! `Settings::management_ca_file`, the baselines' hyper client through its own rustls roots
//! (the same TLS stack: rustls on aws-lc-rs). lift/ceiling is the median of interleaved rounds
//! (`rounds.rs`).

use std::sync::atomic::Ordering;
use std::time::SystemTime;

use criterion::{Criterion, SamplingMode, Throughput};

use super::{cost_of, ids, interleaved, mean_ns, Setup, SENT};

/// Runs the group; prints CPU per message, the TLS connections lift opened per 10,000 sends,
/// and `summary tls: lift/ceiling=R cpu_lift/cpu_signed=R delivered=N/N`.
pub(crate) fn tls_group(
    criterion: &mut Criterion,
    runtime: &tokio::runtime::Runtime,
    setup: Setup,
    name: &str,
    started: SystemTime,
) {
    let n = ids().len();
    let concurrency = lift_runtime::settings::BroadcastSettings::default().concurrency;
    let sent_before = SENT.load(Ordering::Relaxed);
    let received_before = setup.received();
    // lift's own connections: every handshake while only lift sends.
    let handshakes_before = setup.handshakes();
    let lift_sent_before = SENT.load(Ordering::Relaxed);
    let mut group = criterion.benchmark_group(name);
    group.sampling_mode(SamplingMode::Flat);
    group.throughput(Throughput::Elements(n as u64));
    group.bench_function("lift", |b| b.to_async(runtime).iter(|| setup.lift()));
    let lift_handshakes = setup.handshakes() - handshakes_before;
    let lift_sent = SENT.load(Ordering::Relaxed) - lift_sent_before;
    group.bench_function("signed_http_concurrent", |b| {
        b.to_async(runtime)
            .iter(|| setup.http_concurrent(concurrency, true))
    });
    group.bench_function("raw_http_concurrent", |b| {
        b.to_async(runtime)
            .iter(|| setup.http_concurrent(concurrency, false))
    });
    group.finish();
    let ceiling = interleaved(
        runtime,
        || setup.lift(),
        || setup.http_concurrent(concurrency, false),
    );
    let lift_cost = cost_of(runtime, "lift", || setup.lift());
    let signed_cost = cost_of(runtime, "signed_http_concurrent", || {
        setup.http_concurrent(concurrency, true)
    });
    let sent = SENT.load(Ordering::Relaxed) - sent_before;
    let received = setup.received_at_least(received_before + sent) - received_before;
    setup.stop();
    println!("{name}: CPU per message (µs): sending thread / this process (sender side only)");
    for cost in [&lift_cost, &signed_cost] {
        println!(
            "  {:<24} {:>8.1} / {:>8.1}",
            cost.name, cost.sender_us, cost.process_us
        );
    }
    println!(
        "{name}: lift opened {lift_handshakes} TLS connections for {lift_sent} sends ({:.1} per 10,000)",
        lift_handshakes as f64 * 10_000.0 / lift_sent.max(1) as f64
    );
    let lift = mean_ns(name, "lift", started);
    let raw = mean_ns(name, "raw_http_concurrent", started);
    if let (Some(lift), Some(signed), Some(raw)) =
        (lift, mean_ns(name, "signed_http_concurrent", started), raw)
    {
        println!("{name}: messages per second, {n} connections:");
        for (kind, ns) in [
            ("lift", lift),
            ("signed_http_concurrent", signed),
            ("raw_http_concurrent", raw),
        ] {
            println!("  {kind:<24} {:>10.0}", n as f64 / (ns / 1e9));
        }
    }
    if let (Some(lift), Some(raw)) = (lift, raw) {
        println!(
            "{name} criterion: lift/ceiling={:.2} (the means, measured one after the other)",
            raw / lift
        );
    }
    ceiling.print(name, "ceiling");
    println!(
        "summary tls: lift/ceiling={:.2} cpu_lift/cpu_signed={:.2} delivered={received}/{sent}",
        ceiling.median,
        lift_cost.sender_us / signed_cost.sender_us
    );
    assert_eq!(
        received, sent,
        "{name}: the clients received {received} frames, the senders reported {sent} sent"
    );
}
