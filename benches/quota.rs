//! A CPU quota for this process, as Lambda gives a function a share of a vCPU by its memory
//! size: a cgroup of the `cpu` controller (v1: `cpu.cfs_quota_us` over `cpu.cfs_period_us`; v2:
//! `cpu.max`), created for the process and removed after. Needs root.

use std::path::PathBuf;
use std::time::{Duration, Instant};

/// The scheduler period the quota is a share of (CFS's default, 100 ms).
const PERIOD_US: u64 = 100_000;

/// This process inside a cgroup with a CPU quota; back in its old cgroup when dropped.
pub struct Quota {
    group: PathBuf,
    /// The `cgroup.procs` the process came from.
    home: PathBuf,
    v2: bool,
    started: Instant,
    cpu_at_start: Duration,
}

/// What shows the quota was in force.
pub struct Evidence {
    /// The quota file as read back (`7200 100000`).
    pub quota: String,
    /// This process's cgroup as `/proc/self/cgroup` listed it.
    pub member_of: String,
    /// Periods throttled, of periods run (`cpu.stat`).
    pub throttled: (u64, u64),
    /// CPU time this process used per second of wall time while in the group.
    pub cpu_per_wall: f64,
}

impl Quota {
    /// Moves this process (every thread) into a new cgroup limited to `share` of one CPU.
    ///
    /// # Errors
    ///
    /// When no cgroup `cpu` controller is writable here (not root, or none mounted).
    pub fn enter(share: f64) -> Result<Quota, String> {
        let quota_us = (share * PERIOD_US as f64).round() as u64;
        let name = format!("lift-bench-{}", std::process::id());
        let v1 = PathBuf::from("/sys/fs/cgroup/cpu");
        let (root, v2) = if v1.join("cpu.cfs_quota_us").exists() {
            (v1, false)
        } else if std::fs::read_to_string("/sys/fs/cgroup/cgroup.controllers")
            .is_ok_and(|c| c.split_whitespace().any(|c| c == "cpu"))
        {
            (PathBuf::from("/sys/fs/cgroup"), true)
        } else {
            return Err("no cgroup cpu controller at /sys/fs/cgroup/cpu or /sys/fs/cgroup".into());
        };
        let group = root.join(&name);
        let io = |what: &str, err: std::io::Error| format!("{what}: {err} (needs root)");
        std::fs::create_dir_all(&group).map_err(|e| io(&group.display().to_string(), e))?;
        let write = |file: &str, value: String| {
            std::fs::write(group.join(file), value).map_err(|e| io(file, e))
        };
        if v2 {
            write("cpu.max", format!("{quota_us} {PERIOD_US}"))?;
        } else {
            write("cpu.cfs_period_us", PERIOD_US.to_string())?;
            write("cpu.cfs_quota_us", quota_us.to_string())?;
        }
        // Where the process is now, to go back to: `/proc/self/cgroup`'s line for the `cpu`
        // controller (v1, `N:cpu,cpuacct:/path`) or the unified hierarchy (v2, `0::/path`).
        let listed = std::fs::read_to_string("/proc/self/cgroup").unwrap_or_default();
        let home = listed
            .lines()
            .find_map(|line| {
                let mut parts = line.splitn(3, ':');
                let (_, controllers, path) = (parts.next()?, parts.next()?, parts.next()?);
                let ours = if v2 {
                    controllers.is_empty()
                } else {
                    controllers.split(',').any(|c| c == "cpu")
                };
                ours.then(|| root.join(path.trim_start_matches('/')).join("cgroup.procs"))
            })
            .unwrap_or_else(|| root.join("cgroup.procs"));
        write("cgroup.procs", std::process::id().to_string())?;
        Ok(Quota {
            group,
            home,
            v2,
            started: Instant::now(),
            cpu_at_start: process_cpu(),
        })
    }

    /// Reads back what shows the quota is in force.
    pub fn evidence(&self) -> Evidence {
        let read = |file: &str| std::fs::read_to_string(self.group.join(file)).unwrap_or_default();
        let quota = if self.v2 {
            read("cpu.max").trim().to_owned()
        } else {
            format!(
                "{} {}",
                read("cpu.cfs_quota_us").trim(),
                read("cpu.cfs_period_us").trim()
            )
        };
        let stat = read("cpu.stat");
        let field = |name: &str| {
            stat.lines()
                .find_map(|line| line.strip_prefix(name)?.trim().parse::<u64>().ok())
                .unwrap_or(0)
        };
        let member_of = std::fs::read_to_string("/proc/self/cgroup")
            .unwrap_or_default()
            .lines()
            .find(|line| line.contains("lift-bench-"))
            .unwrap_or("(not listed)")
            .to_owned();
        let cpu = (process_cpu() - self.cpu_at_start).as_secs_f64();
        Evidence {
            quota,
            member_of,
            throttled: (field("nr_throttled "), field("nr_periods ")),
            cpu_per_wall: cpu / self.started.elapsed().as_secs_f64(),
        }
    }
}

impl Drop for Quota {
    fn drop(&mut self) {
        let _ = std::fs::write(&self.home, std::process::id().to_string());
        // The group can be removed once empty; the kernel may need a moment to notice.
        for _ in 0..50 {
            if std::fs::remove_dir(&self.group).is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// CPU time of this whole process.
fn process_cpu() -> Duration {
    let mut t = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `t` is a valid, writable timespec; the clock exists on Linux.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut t) };
    assert_eq!(rc, 0, "clock_gettime");
    Duration::new(t.tv_sec as u64, t.tv_nsec as u32)
}

/// A group with the sender under a quota of `share` of a vCPU (`mb` of Lambda memory): lift
/// against the signed floor, both under the same quota; the emulator and the clients (API
/// Gateway and the users, elsewhere) are outside it. Prints what shows the quota in force and
/// `summary quota_MB: lift/signed=R msgs_per_s=N delivered=N/N` (the ratio: the median of
/// interleaved rounds of at least 2 s a side, `rounds.rs`; the rate: criterion's mean for lift).
pub(crate) fn quota_group(
    criterion: &mut criterion::Criterion,
    runtime: &tokio::runtime::Runtime,
    setup: super::Setup,
    name: &str,
    mb: u32,
    share: f64,
    started: std::time::SystemTime,
) {
    use super::{ids, SENT};
    use criterion::{SamplingMode, Throughput};
    use std::sync::atomic::Ordering;

    let n = ids().len();
    let concurrency = lift_runtime::settings::BroadcastSettings::default().concurrency;
    let sent_before = SENT.load(Ordering::Relaxed);
    let received_before = setup.received();
    let quota = match Quota::enter(share) {
        Ok(quota) => quota,
        Err(reason) => {
            setup.stop();
            println!("summary quota_{mb}: skipped ({reason})");
            return;
        }
    };
    let mut group = criterion.benchmark_group(name);
    group.sampling_mode(SamplingMode::Flat);
    group.throughput(Throughput::Elements(n as u64));
    group.bench_function("lift", |b| b.to_async(runtime).iter(|| setup.lift()));
    group.bench_function("signed_http_concurrent", |b| {
        b.to_async(runtime)
            .iter(|| setup.http_concurrent(concurrency, true))
    });
    group.finish();
    let floor = super::rounds::interleaved_sides(
        runtime,
        super::rounds::QUOTA_SIDE,
        || setup.lift(),
        || setup.http_concurrent(concurrency, true),
    );
    let evidence = quota.evidence();
    drop(quota);
    let sent = SENT.load(Ordering::Relaxed) - sent_before;
    let received = setup.received_at_least(received_before + sent) - received_before;
    setup.stop();
    println!(
        "{name}: the sender under a quota of {:.3} vCPU ({mb} MB): cgroup {}, quota {} µs per period; \
         throttled in {} of {} periods; it used {:.3} s of CPU per second",
        share,
        evidence.member_of,
        evidence.quota,
        evidence.throttled.0,
        evidence.throttled.1,
        evidence.cpu_per_wall,
    );
    let lift = super::mean_ns(name, "lift", started);
    let signed = super::mean_ns(name, "signed_http_concurrent", started);
    if let (Some(lift), Some(signed)) = (lift, signed) {
        println!(
            "{name} criterion: lift/signed={:.2} (the means, measured one after the other)",
            signed / lift
        );
    }
    floor.print(name, "signed");
    let rate = lift.map_or("n/a".to_owned(), |lift| {
        format!("{:.0}", n as f64 / (lift / 1e9))
    });
    println!(
        "summary quota_{mb}: lift/signed={:.2} msgs_per_s={rate} delivered={received}/{sent}",
        floor.median
    );
    assert_eq!(
        received, sent,
        "{name}: the clients received {received} frames, the senders reported {sent} sent"
    );
}
