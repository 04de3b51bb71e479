//! Drives one path: C tasks send requests until the time is up, after a warm-up that is
//! not counted, and the latencies become throughput and percentiles.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::processes::{CpuClock, CpuReading};

/// One measured run: throughput, latency percentiles and errors.
#[derive(Debug, Clone, Default)]
pub struct Figures {
    pub done: usize,
    pub errors: usize,
    pub per_second: f64,
    pub p50_ms: Option<f64>,
    pub p95_ms: Option<f64>,
    pub p99_ms: Option<f64>,
    /// The processor time the service used while these were measured.
    pub cpu: Option<CpuReading>,
}

impl Figures {
    pub fn from_latencies(mut latencies: Vec<Duration>, errors: usize, seconds: f64) -> Figures {
        latencies.sort_unstable();
        let at = |q: f64| {
            (!latencies.is_empty()).then(|| {
                let index = ((latencies.len() as f64 - 1.0) * q).round() as usize;
                latencies[index].as_secs_f64() * 1e3
            })
        };
        Figures {
            done: latencies.len(),
            errors,
            per_second: latencies.len() as f64 / seconds.max(1e-9),
            p50_ms: at(0.50),
            p95_ms: at(0.95),
            p99_ms: at(0.99),
            cpu: None,
        }
    }

    /// Microseconds of the server's processor time per item done.
    pub fn server_us(&self) -> Option<f64> {
        self.cpu
            .and_then(|cpu| cpu.server)
            .map(|time| self.per_item(time))
    }

    /// Microseconds of the database server's processor time per item done, when it runs
    /// apart from the server on this machine.
    pub fn database_us(&self) -> Option<f64> {
        self.cpu
            .and_then(|cpu| cpu.database)
            .map(|time| self.per_item(time))
    }

    fn per_item(&self, time: Duration) -> f64 {
        time.as_secs_f64() * 1e6 / self.done.max(1) as f64
    }

    pub fn json(&self) -> Value {
        json!({
            "done": self.done,
            "errors": self.errors,
            "per_second": self.per_second,
            "p50_ms": self.p50_ms,
            "p95_ms": self.p95_ms,
            "p99_ms": self.p99_ms,
            "server_cpu_us_per_item": self.server_us(),
            "database_cpu_us_per_item": self.database_us(),
        })
    }
}

#[derive(Clone, Copy)]
pub struct Load {
    pub concurrency: usize,
    pub warmup: Duration,
    pub duration: Duration,
    /// Reads the service's processor time around the measured window; `None` for a
    /// limit, which runs elsewhere.
    pub clock: Option<CpuClock>,
}

impl Load {
    /// The same load without reading processor time, for a limit that runs apart from
    /// the service and its database.
    pub fn unmetered(self) -> Load {
        Load {
            clock: None,
            ..self
        }
    }

    /// The same load reading only the database server's processor time, for a limit
    /// that runs against the same database but not through the server.
    pub fn database_only(self) -> Load {
        Load {
            clock: self.clock.map(|clock| CpuClock {
                server_pid: None,
                ..clock
            }),
            ..self
        }
    }
}

/// Runs `work(i)` from `concurrency` tasks until the time is up; what finishes during the
/// warm-up is not counted. `work` returns whether the request succeeded. With a clock,
/// the service's processor time is read when the warm-up ends and when the time is up.
pub async fn drive<F, Fut>(load: Load, concurrency: usize, work: F) -> Figures
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = bool> + Send,
{
    let work = Arc::new(work);
    let next = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let measured_from = start + load.warmup;
    let deadline = measured_from + load.duration;
    let metered = load.clock.map(|clock| {
        tokio::spawn(async move {
            tokio::time::sleep_until(measured_from.into()).await;
            let from = clock.read();
            tokio::time::sleep_until(deadline.into()).await;
            clock.read().since(from)
        })
    });
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let work = work.clone();
        let next = next.clone();
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut errors = 0;
            loop {
                let sent = Instant::now();
                if sent >= deadline {
                    break;
                }
                let ok = work(next.fetch_add(1, Ordering::Relaxed)).await;
                let done = Instant::now();
                if sent >= measured_from && done <= deadline {
                    if ok {
                        latencies.push(done - sent);
                    } else {
                        errors += 1;
                    }
                }
            }
            (latencies, errors)
        }));
    }
    let mut latencies = Vec::new();
    let mut errors = 0;
    for task in tasks {
        if let Ok((l, e)) = task.await {
            latencies.extend(l);
            errors += e;
        }
    }
    let mut figures = Figures::from_latencies(latencies, errors, load.duration.as_secs_f64());
    if let Some(metered) = metered {
        figures.cpu = metered.await.ok();
    }
    figures
}
