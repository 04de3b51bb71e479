//! Drives one path: C tasks send requests until the time is up, after a warm-up that is
//! not counted, and the latencies become throughput and percentiles.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// One measured run: throughput, latency percentiles and errors.
#[derive(Debug, Clone, Default)]
pub struct Figures {
    pub done: usize,
    pub errors: usize,
    pub per_second: f64,
    pub p50_ms: Option<f64>,
    pub p95_ms: Option<f64>,
    pub p99_ms: Option<f64>,
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
        }
    }

    pub fn json(&self) -> Value {
        json!({
            "done": self.done,
            "errors": self.errors,
            "per_second": self.per_second,
            "p50_ms": self.p50_ms,
            "p95_ms": self.p95_ms,
            "p99_ms": self.p99_ms,
        })
    }
}

#[derive(Clone, Copy)]
pub struct Load {
    pub concurrency: usize,
    pub warmup: Duration,
    pub duration: Duration,
}

/// Runs `work(i)` from `concurrency` tasks until the time is up; what finishes during the
/// warm-up is not counted. `work` returns whether the request succeeded.
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
    Figures::from_latencies(latencies, errors, load.duration.as_secs_f64())
}
