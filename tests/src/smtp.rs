//! A real SMTP server in the test process: the `mailin` crate speaks the protocol, this
//! module gives it sockets. Each test starts its own on a random port, can make it
//! refuse mail (temporarily or for good), and reads what it received.

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
    received: Vec<Received>,
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
        self.state.lock().unwrap().received.push(Received {
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
    /// process ends.
    pub fn start() -> SmtpServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the SMTP server");
        let port = listener.local_addr().unwrap().port();
        let state = Arc::new(Mutex::new(State {
            behavior: Behavior::Accept,
            received: Vec::new(),
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

    pub fn received(&self) -> Vec<Received> {
        self.state.lock().unwrap().received.clone()
    }

    /// How many messages it accepted (without copying them).
    pub fn received_count(&self) -> usize {
        self.state.lock().unwrap().received.len()
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
