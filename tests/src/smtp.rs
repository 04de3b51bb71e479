//! A real SMTP server in the test process: the `mailin` crate speaks the protocol, this
//! module gives it sockets. Each test starts its own on a random port, can make it
//! refuse mail (temporarily or for good), and reads what it received. A load run, which
//! sends hundreds of thousands of messages, keeps only the last few
//! ([`SmtpServer::start_keeping`]) and counts the rest.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Write};
use std::net::{IpAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};

use mailin::{Action, Handler, Response, SessionBuilder};

/// How the server answers a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Behavior {
    Accept,
    /// Accepts each message after this long, as a busy server does.
    AcceptAfter(std::time::Duration),
    /// 451: try again later.
    RefuseTemporarily,
    /// 451 for messages to this one recipient; the rest are accepted.
    RefuseTemporarilyTo(&'static str),
    /// 550: no such mailbox.
    RejectPermanently,
}

/// One message the server accepted.
#[derive(Debug, Clone)]
pub struct Received {
    pub from: String,
    pub to: Vec<String>,
    pub data: Vec<u8>,
}

impl Received {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.data).into_owned()
    }

    /// The decoded bytes of the first base64 part of this content type (an attachment).
    pub fn attachment(&self, content_type: &str) -> Option<Vec<u8>> {
        use base64::Engine;
        let text = self.text();
        let part = &text[text.find(&format!("Content-Type: {content_type}"))?..];
        let body = &part[part.find("\r\n\r\n")? + 4..];
        let end = body.find("\r\n--").unwrap_or(body.len());
        let encoded: String = body[..end].chars().filter(|c| !c.is_whitespace()).collect();
        base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .ok()
    }

    /// The value of a top-level header (unfolded), if present.
    pub fn header(&self, name: &str) -> Option<String> {
        let text = self.text();
        let head = text.split("\r\n\r\n").next().unwrap_or("");
        let unfolded = head.replace("\r\n ", " ").replace("\r\n\t", " ");
        let prefix = format!("{}:", name.to_ascii_lowercase());
        unfolded
            .lines()
            .find(|line| line.to_ascii_lowercase().starts_with(&prefix))
            .map(|line| line[prefix.len()..].trim().to_owned())
    }
}

#[derive(Debug)]
struct State {
    behavior: Behavior,
    /// The messages accepted, oldest first: all of them, or the last `keep`.
    received: VecDeque<Received>,
    keep: usize,
    /// Every message accepted, kept or not.
    accepted: usize,
    refused: usize,
    /// Messages whose data began, accepted or not yet.
    started: usize,
}

/// The running server.
#[derive(Clone)]
pub struct SmtpServer {
    port: u16,
    state: Arc<Mutex<State>>,
}

struct Connection {
    state: Arc<Mutex<State>>,
    from: String,
    to: Vec<String>,
    data: Vec<u8>,
}

impl Handler for Connection {
    fn data_start(&mut self, _domain: &str, from: &str, _is8bit: bool, to: &[String]) -> Response {
        let mut state = self.state.lock().unwrap();
        match state.behavior {
            Behavior::RefuseTemporarilyTo(address) if to.iter().any(|t| t == address) => {
                state.refused += 1;
                Response::custom(451, "4.3.0 Mailbox busy, try again later".to_owned())
            }
            Behavior::Accept | Behavior::AcceptAfter(_) | Behavior::RefuseTemporarilyTo(_) => {
                state.started += 1;
                self.from = from.to_owned();
                self.to = to.to_vec();
                self.data.clear();
                mailin::response::OK
            }
            Behavior::RefuseTemporarily => {
                state.refused += 1;
                Response::custom(451, "4.3.0 Mailbox busy, try again later".to_owned())
            }
            Behavior::RejectPermanently => {
                state.refused += 1;
                Response::custom(550, "5.1.1 No such mailbox here".to_owned())
            }
        }
    }

    fn data(&mut self, buf: &[u8]) -> std::io::Result<()> {
        self.data.extend_from_slice(buf);
        Ok(())
    }

    fn data_end(&mut self) -> Response {
        let behavior = self.state.lock().unwrap().behavior;
        if let Behavior::AcceptAfter(delay) = behavior {
            std::thread::sleep(delay);
        }
        let mut state = self.state.lock().unwrap();
        state.accepted += 1;
        if state.received.len() == state.keep {
            state.received.pop_front();
        }
        state.received.push_back(Received {
            from: std::mem::take(&mut self.from),
            to: std::mem::take(&mut self.to),
            data: std::mem::take(&mut self.data),
        });
        mailin::response::OK
    }
}

fn serve_connection(stream: TcpStream, state: Arc<Mutex<State>>) -> std::io::Result<()> {
    let peer: IpAddr = stream.peer_addr()?.ip();
    // Each reply goes out whole and at once, as real servers do; otherwise Nagle's
    // algorithm and delayed acknowledgments add tens of milliseconds per command.
    stream.set_nodelay(true)?;
    let mut writer = stream.try_clone()?;
    let mut reader = BufReader::new(stream);
    let mut session = SessionBuilder::new("sink.test").build(
        peer,
        Connection {
            state,
            from: String::new(),
            to: Vec::new(),
            data: Vec::new(),
        },
    );
    writer.write_all(&session.greeting().buffer()?)?;
    let mut line = Vec::new();
    loop {
        line.clear();
        if reader.read_until(b'\n', &mut line)? == 0 {
            return Ok(());
        }
        let response = session.process(&line);
        match response.action {
            Action::NoReply => {}
            Action::Close => {
                writer.write_all(&response.buffer()?)?;
                return Ok(());
            }
            Action::Reply | Action::UpgradeTls => {
                writer.write_all(&response.buffer()?)?;
            }
        }
    }
}

impl SmtpServer {
    /// Starts a server on 127.0.0.1 at a random port; it accepts mail until the test
    /// process ends, and keeps every message it accepts.
    pub fn start() -> SmtpServer {
        SmtpServer::start_keeping(usize::MAX)
    }

    /// [`SmtpServer::start`], keeping only the last `keep` messages (at least one) and
    /// counting the rest, so that a long run's memory stays what a few messages take.
    pub fn start_keeping(keep: usize) -> SmtpServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the SMTP server");
        let port = listener.local_addr().unwrap().port();
        let state = Arc::new(Mutex::new(State {
            behavior: Behavior::Accept,
            received: VecDeque::new(),
            keep: keep.max(1),
            accepted: 0,
            refused: 0,
            started: 0,
        }));
        let shared = state.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let state = shared.clone();
                std::thread::spawn(move || {
                    let _ = serve_connection(stream, state);
                });
            }
        });
        SmtpServer { port, state }
    }

    /// The `SMTP_URL` that reaches it (plain SMTP, no credentials).
    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    pub fn set_behavior(&self, behavior: Behavior) {
        self.state.lock().unwrap().behavior = behavior;
    }

    /// The messages it kept, oldest first.
    pub fn received(&self) -> Vec<Received> {
        self.state
            .lock()
            .unwrap()
            .received
            .iter()
            .cloned()
            .collect()
    }

    /// The last message it accepted, if any.
    pub fn last_received(&self) -> Option<Received> {
        self.state.lock().unwrap().received.back().cloned()
    }

    /// How many messages it accepted, kept or not (without copying them).
    pub fn received_count(&self) -> usize {
        self.state.lock().unwrap().accepted
    }

    /// How many messages it refused.
    pub fn refused(&self) -> usize {
        self.state.lock().unwrap().refused
    }

    /// How many messages a client began to send (their data started), whether or not
    /// they were accepted yet.
    pub fn started_count(&self) -> usize {
        self.state.lock().unwrap().started
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Sends one message over a plain SMTP dialogue, reading each reply.
    fn send(server: &SmtpServer, body: &str) {
        let stream = TcpStream::connect(("127.0.0.1", server.port)).unwrap();
        let mut writer = stream.try_clone().unwrap();
        let mut reader = BufReader::new(stream);
        let reply = |reader: &mut BufReader<TcpStream>| loop {
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            if line.as_bytes().get(3) != Some(&b'-') {
                return line;
            }
        };
        assert!(reply(&mut reader).starts_with("220"));
        for (command, code) in [
            ("EHLO client.test\r\n".to_owned(), "250"),
            ("MAIL FROM:<giving@example.org>\r\n".to_owned(), "250"),
            ("RCPT TO:<donor@example.org>\r\n".to_owned(), "250"),
            ("DATA\r\n".to_owned(), "354"),
            (format!("Subject: {body}\r\n\r\n{body}\r\n.\r\n"), "250"),
            ("QUIT\r\n".to_owned(), "221"),
        ] {
            writer.write_all(command.as_bytes()).unwrap();
            let answer = reply(&mut reader);
            assert!(answer.starts_with(code), "{command:?} got {answer:?}");
        }
    }

    #[test]
    fn a_sink_keeping_the_last_two_counts_every_message() {
        let server = SmtpServer::start_keeping(2);
        assert!(server.last_received().is_none());
        for body in ["first", "second", "third"] {
            send(&server, body);
        }
        assert_eq!(server.received_count(), 3);
        let kept: Vec<String> = server.received().iter().map(Received::text).collect();
        assert_eq!(kept.len(), 2);
        assert!(
            kept[0].contains("second") && kept[1].contains("third"),
            "{kept:?}"
        );
        assert!(server.last_received().unwrap().text().contains("third"));
    }

    #[test]
    fn a_sink_started_plainly_keeps_every_message() {
        let server = SmtpServer::start();
        for body in ["first", "second", "third"] {
            send(&server, body);
        }
        assert_eq!(server.received_count(), 3);
        assert_eq!(server.received().len(), 3);
    }
}
