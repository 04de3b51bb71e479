//! Log lines gathered in memory and written out by a thread of their own a few times a
//! second: logging a line takes a lock and a copy, never a system call, and never wakes
//! a thread.

use std::io::{self, Write};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use tracing_subscriber::fmt::MakeWriter;

/// How often the writer's thread writes out what has gathered.
pub const EVERY: Duration = Duration::from_millis(50);

/// Bytes of lines held at most: the line that reaches it is written out at once, with
/// those before it, by the caller that logged it.
pub const HELD_AT_MOST: usize = 1 << 20;

struct Shared<W> {
    /// Lines logged and not yet written.
    gathered: Mutex<Vec<u8>>,
    /// Where the lines go, and a spare buffer to swap with `gathered`. Held while
    /// writing, so lines reach `out` in the order they were logged.
    out: Mutex<(W, Vec<u8>)>,
    /// 0 when no thread writes the lines out: each line is written as it is logged.
    held_at_most: AtomicUsize,
    stopping: Mutex<bool>,
    stop: Condvar,
}

impl<W: Write> Shared<W> {
    /// Writes out every line gathered so far.
    fn write_out(&self) {
        let Ok(mut out) = self.out.lock() else {
            return;
        };
        let (sink, spare) = &mut *out;
        match self.gathered.lock() {
            Ok(mut gathered) => std::mem::swap(&mut *gathered, spare),
            Err(_) => return,
        }
        if !spare.is_empty() {
            // A log that cannot be written has nowhere to say so.
            let _ = sink.write_all(spare);
            let _ = sink.flush();
            spare.clear();
        }
    }
}

/// The subscriber's writer: each line it is given is gathered for the writer's thread.
pub struct Gathered<W>(Arc<Shared<W>>);

/// Keeps the writer's thread; dropping it stops the thread once it has written out
/// every line logged before.
#[must_use = "dropping the guard stops the log writer"]
pub struct WriterGuard<W: Write + Send + 'static> {
    shared: Arc<Shared<W>>,
    thread: Option<JoinHandle<()>>,
}

/// Starts a thread that writes the lines given to the returned writer out to `out`
/// every `every`.
pub fn start<W: Write + Send + 'static>(
    out: W,
    every: Duration,
    held_at_most: usize,
) -> (Gathered<W>, WriterGuard<W>) {
    let shared = Arc::new(Shared {
        gathered: Mutex::new(Vec::new()),
        out: Mutex::new((out, Vec::new())),
        held_at_most: AtomicUsize::new(held_at_most),
        stopping: Mutex::new(false),
        stop: Condvar::new(),
    });
    let writer = shared.clone();
    let thread = std::thread::Builder::new()
        .name("log-writer".to_owned())
        .spawn(move || {
            loop {
                let Ok(stopping) = writer.stopping.lock() else {
                    return;
                };
                let stopping = match writer.stop.wait_timeout_while(stopping, every, |s| !*s) {
                    Ok((stopping, _)) => *stopping,
                    Err(_) => true,
                };
                writer.write_out();
                if stopping {
                    return;
                }
            }
        });
    let thread = match thread {
        Ok(thread) => Some(thread),
        Err(_) => {
            shared.held_at_most.store(0, Ordering::Relaxed);
            None
        }
    };
    (Gathered(shared.clone()), WriterGuard { shared, thread })
}

impl<W: Write> Write for &Gathered<W> {
    fn write(&mut self, line: &[u8]) -> io::Result<usize> {
        let full = {
            let mut gathered = self
                .0
                .gathered
                .lock()
                .map_err(|_| io::Error::other("the log's lines were poisoned"))?;
            gathered.extend_from_slice(line);
            gathered.len() >= self.0.held_at_most.load(Ordering::Relaxed)
        };
        if full {
            self.0.write_out();
        }
        Ok(line.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<'a, W: Write + 'static> MakeWriter<'a> for Gathered<W> {
    type Writer = &'a Gathered<W>;

    fn make_writer(&'a self) -> Self::Writer {
        self
    }
}

impl<W: Write + Send + 'static> Drop for WriterGuard<W> {
    fn drop(&mut self) {
        if let Ok(mut stopping) = self.shared.stopping.lock() {
            *stopping = true;
        }
        self.shared.stop.notify_all();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
        self.shared.write_out();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::telemetry::tests::Captured as Sink;

    const NEVER: Duration = Duration::from_secs(3_600);

    fn log(writer: &Gathered<Sink>, line: &str) {
        let mut writer = writer.make_writer();
        writer.write_all(line.as_bytes()).unwrap_or_default();
    }

    #[test]
    fn lines_are_held_until_the_limit_then_written_out_by_the_caller_in_order() {
        let sink = Sink::default();
        let (writer, guard) = start(sink.clone(), NEVER, 12);

        log(&writer, "first\n");
        assert_eq!(sink.text(), "");
        log(&writer, "second\n");
        assert_eq!(sink.text(), "first\nsecond\n");
        log(&writer, "third\n");
        assert_eq!(sink.text(), "first\nsecond\n");

        drop(guard);
        assert_eq!(sink.text(), "first\nsecond\nthird\n");
    }

    #[test]
    fn with_the_program_s_own_limit_a_long_line_waits_for_the_thread() {
        let sink = Sink::default();
        let (writer, guard) = start(sink.clone(), NEVER, HELD_AT_MOST);

        log(&writer, &format!("{}\n", "x".repeat(64 * 1024)));
        assert_eq!(sink.text(), "");

        drop(guard);
        assert_eq!(sink.text().len(), 64 * 1024 + 1);
    }

    #[test]
    fn the_thread_writes_out_what_gathered_without_being_asked() {
        let sink = Sink::default();
        let (writer, _guard) = start(sink.clone(), Duration::from_millis(1), HELD_AT_MOST);

        log(&writer, "request\n");
        let waited = std::time::Instant::now();
        while sink.text().is_empty() && waited.elapsed() < Duration::from_secs(30) {
            std::thread::sleep(Duration::from_millis(1));
        }
        assert_eq!(sink.text(), "request\n");
    }

    #[test]
    fn lines_from_many_threads_all_arrive_each_thread_s_in_its_order() {
        let sink = Sink::default();
        let (writer, guard) = start(sink.clone(), Duration::from_millis(1), 4_096);
        let writer = Arc::new(writer);
        let threads: Vec<_> = (0..4)
            .map(|t| {
                let writer = writer.clone();
                std::thread::spawn(move || {
                    for i in 0..2_000 {
                        log(&writer, &format!("{t} {i}\n"));
                    }
                })
            })
            .collect();
        for thread in threads {
            thread.join().unwrap_or_default();
        }
        drop(guard);

        let text = sink.text();
        let mut next = [0; 4];
        for line in text.lines() {
            let (t, i) = line.split_once(' ').unwrap_or_default();
            let (t, i): (usize, i32) = (t.parse().unwrap_or(9), i.parse().unwrap_or(-1));
            assert_eq!(i, next[t], "{line}");
            next[t] += 1;
        }
        assert_eq!(next, [2_000; 4]);
    }
}
