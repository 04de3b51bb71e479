//! A real headless Chromium driven over the W3C WebDriver protocol (through Debian's
//! `chromedriver`), with just the commands the end-to-end tests use. Without a browser
//! installed the tests are skipped with a visible line, except under `CI=true`, where
//! a missing browser is a failure. The same goes for axe-core, the accessibility checker
//! run inside that browser: its `axe.min.js` is read from `AXE_CORE_JS`, by default where
//! `.ci/run` installs it from npm.

use std::io::Write;
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";

/// WebDriver key codes.
pub mod keys {
    pub const TAB: &str = "\u{E004}";
    pub const ENTER: &str = "\u{E007}";
    pub const SPACE: &str = "\u{E00D}";
}

fn find_program(names: &[&str]) -> Option<String> {
    let path = std::env::var_os("PATH")?;
    for dir in std::env::split_paths(&path) {
        for name in names {
            let candidate = dir.join(name);
            if candidate.is_file() {
                return Some(candidate.display().to_string());
            }
        }
    }
    None
}

/// The browser and its driver, if installed.
pub fn browser_programs() -> Option<(String, String)> {
    let browser = find_program(&["chromium", "chromium-browser", "google-chrome"])?;
    let driver = find_program(&["chromedriver"])?;
    Some((browser, driver))
}

/// Whether the end-to-end tests can run; says so on stderr when they cannot.
pub fn browser_available() -> bool {
    if browser_programs().is_some() {
        return true;
    }
    let in_ci = std::env::var("CI").is_ok_and(|v| v == "true" || v == "1");
    assert!(
        !in_ci,
        "chromium and chromedriver are not installed and CI=true: the browser tests are required in CI"
    );
    let _ = writeln!(
        std::io::stderr(),
        "\n*** chromium or chromedriver is not installed: the browser tests were SKIPPED. Install Debian's chromium and chromium-driver to run them. ***\n"
    );
    false
}

/// Where `.ci/run` installs axe-core (`npm install --prefix ~/.cache/giving/npm axe-core@4`).
fn default_axe_path() -> Option<std::path::PathBuf> {
    let home = std::env::var_os("HOME")?;
    Some(std::path::Path::new(&home).join(".cache/giving/npm/node_modules/axe-core/axe.min.js"))
}

/// axe-core's script, from `AXE_CORE_JS` or its default place; `None` (and a visible
/// line) when it is not installed, which fails under `CI=true`.
pub fn axe_source() -> Option<String> {
    let path = std::env::var_os("AXE_CORE_JS")
        .map(std::path::PathBuf::from)
        .or_else(default_axe_path)?;
    if let Ok(source) = std::fs::read_to_string(&path) {
        return Some(source);
    }
    let in_ci = std::env::var("CI").is_ok_and(|v| v == "true" || v == "1");
    assert!(
        !in_ci,
        "axe-core is not at {} and CI=true: the accessibility tests are required in CI",
        path.display()
    );
    let _ = writeln!(
        std::io::stderr(),
        "\n*** axe-core is not at {}: the accessibility tests were SKIPPED. Run `npm install --prefix ~/.cache/giving/npm axe-core@4` or set AXE_CORE_JS. ***\n",
        path.display()
    );
    None
}

/// A WebDriver session in a headless Chromium; the driver stops when this is dropped.
pub struct Browser {
    driver: Child,
    base: String,
    session: String,
    http: reqwest::Client,
}

impl Browser {
    pub async fn start() -> Browser {
        let (browser, driver) = browser_programs().expect("chromium and chromedriver");
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let child = Command::new(driver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let http = reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(60))
            .build()
            .expect("HTTP client");
        let base = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let ready = http
                .get(format!("{base}/status"))
                .send()
                .await
                .ok()
                .map(|r| r.status().is_success())
                .unwrap_or(false);
            if ready {
                break;
            }
            assert!(Instant::now() < deadline, "chromedriver did not start");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let created: Value = http
            .post(format!("{base}/session"))
            .json(&json!({ "capabilities": { "alwaysMatch": {
                "browserName": "chrome",
                "goog:chromeOptions": {
                    "binary": browser,
                    "args": [
                        "--headless", "--no-sandbox", "--disable-gpu",
                        "--disable-background-networking", "--disable-component-update",
                        "--disable-sync", "--no-first-run", "--disable-dev-shm-usage",
                        "--window-size=412,915"
                    ]
                }
            }}}))
            .send()
            .await
            .expect("session request")
            .json()
            .await
            .expect("session answer");
        let session = created["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no WebDriver session: {created}"))
            .to_owned();
        Browser {
            driver: child,
            base,
            session,
            http,
        }
    }

    async fn command(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let url = format!("{}/session/{}{}", self.base, self.session, path);
        let mut request = self.http.request(method, url);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let answer: Value = request
            .send()
            .await
            .expect("WebDriver command sent")
            .json()
            .await
            .expect("WebDriver answer");
        if answer["value"].get("error").is_some() {
            panic!("WebDriver {path} failed: {answer}");
        }
        answer["value"].clone()
    }

    pub async fn goto(&self, url: &str) {
        self.command(reqwest::Method::POST, "/url", Some(json!({ "url": url })))
            .await;
    }

    pub async fn current_url(&self) -> String {
        self.command(reqwest::Method::GET, "/url", None)
            .await
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// Waits (up to ten seconds) for the page's address to start with `prefix`, and
    /// returns the address it ended on.
    pub async fn wait_for_url(&self, prefix: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let url = self.current_url().await;
            if url.starts_with(prefix) || Instant::now() > deadline {
                return url;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The element matching a CSS selector.
    pub async fn find(&self, css: &str) -> String {
        let found = self
            .command(
                reqwest::Method::POST,
                "/element",
                Some(json!({ "using": "css selector", "value": css })),
            )
            .await;
        found[ELEMENT_KEY].as_str().unwrap_or_default().to_owned()
    }

    pub async fn type_into(&self, css: &str, text: &str) {
        let element = self.find(css).await;
        self.command(
            reqwest::Method::POST,
            &format!("/element/{element}/value"),
            Some(json!({ "text": text })),
        )
        .await;
    }

    pub async fn click(&self, css: &str) {
        let element = self.find(css).await;
        self.command(
            reqwest::Method::POST,
            &format!("/element/{element}/click"),
            Some(json!({})),
        )
        .await;
    }

    /// Runs a script in the page and returns its value.
    pub async fn script(&self, script: &str) -> Value {
        self.command(
            reqwest::Method::POST,
            "/execute/sync",
            Some(json!({ "script": script, "args": [] })),
        )
        .await
    }

    /// Runs an asynchronous script, which ends by calling its last argument with its value.
    pub async fn script_async(&self, script: &str) -> Value {
        self.command(
            reqwest::Method::POST,
            "/execute/async",
            Some(json!({ "script": script, "args": [] })),
        )
        .await
    }

    /// Makes the window `width` CSS pixels wide (and tall enough to see a screenful).
    pub async fn set_window_width(&self, width: u32) {
        self.command(
            reqwest::Method::POST,
            "/window/rect",
            Some(json!({ "width": width, "height": 900 })),
        )
        .await;
    }

    /// The page as a PNG, written to `path`.
    pub async fn save_screenshot(&self, path: &std::path::Path) {
        use base64::Engine;
        let encoded = self
            .command(reqwest::Method::GET, "/screenshot", None)
            .await;
        let png = base64::engine::general_purpose::STANDARD
            .decode(encoded.as_str().unwrap_or_default())
            .expect("a base64 screenshot");
        if let Some(folder) = path.parent() {
            std::fs::create_dir_all(folder).expect("the screenshots' folder");
        }
        std::fs::write(path, png).expect("the screenshot is written");
    }

    /// What makes the current page wider than the window, so that a reader on a phone
    /// scrolls it sideways: empty when it fits; otherwise the page's width beside the
    /// window's, then the widest elements reaching past the window or whose content
    /// spills out of them, as "tag width".
    pub async fn wider_than_the_window(&self) -> Vec<String> {
        let found = self
            .script(
                "const root = document.documentElement;\
                 if (root.scrollWidth <= root.clientWidth) { return []; }\
                 const past = [...document.body.querySelectorAll('*')]\
                   .map((element) => [element, element.getBoundingClientRect(), element.scrollWidth])\
                   .filter(([element, r, inner]) => r.right > root.clientWidth + 0.5 || r.left < -0.5\
                     || inner > element.clientWidth + 1 && getComputedStyle(element).overflowX === 'visible')\
                   .sort((a, b) => Math.max(b[1].width, b[2]) - Math.max(a[1].width, a[2])).slice(0, 3)\
                   .map(([element, r, inner]) => element.tagName.toLowerCase() + ' ' + Math.round(Math.max(r.width, inner)) + 'px');\
                 return [root.scrollWidth + 'px in a window of ' + root.clientWidth + 'px', ...past];",
            )
            .await;
        strings(&found, "the page's width")
    }

    /// Runs axe-core (its source given) on the current page and returns its violations,
    /// each as "rule (impact): help, at selectors".
    pub async fn axe_violations(&self, axe_source: &str) -> Vec<String> {
        let loaded = self
            .script(&format!("{axe_source}\n;return typeof window.axe;"))
            .await;
        assert_eq!(loaded, "object", "axe-core did not load");
        let found = self
            .script_async(
                "const done = arguments[arguments.length - 1];\
                 window.axe.run(document, { resultTypes: ['violations'] })\
                 .then(r => done(r.violations.map(v => v.id + ' (' + v.impact + '): ' + v.help + ', at ' + v.nodes.map(n => n.target.join(' ')).join('; '))))\
                 .catch(e => done(['axe-core failed: ' + e]));",
            )
            .await;
        strings(&found, "axe-core")
    }

    /// Presses keys on the keyboard, as a person would (no element targeted).
    pub async fn press(&self, keys: &str) {
        let mut actions = Vec::new();
        for key in keys.chars() {
            actions.push(json!({ "type": "keyDown", "value": key.to_string() }));
            actions.push(json!({ "type": "keyUp", "value": key.to_string() }));
        }
        self.command(
            reqwest::Method::POST,
            "/actions",
            Some(json!({ "actions": [{ "type": "key", "id": "keyboard", "actions": actions }] })),
        )
        .await;
    }

    /// The id (or name) of the focused element.
    pub async fn focused(&self) -> String {
        self.script(
            "const e = document.activeElement; return e ? (e.id || e.name || e.tagName) : '';",
        )
        .await
        .as_str()
        .unwrap_or_default()
        .to_owned()
    }

    /// Presses Tab until the element with this id has focus; panics after `limit` presses.
    pub async fn tab_to(&self, id: &str, limit: usize) -> usize {
        for presses in 1..=limit {
            self.press(keys::TAB).await;
            if self.focused().await == id {
                return presses;
            }
        }
        panic!("{id} was not reached with the keyboard in {limit} presses of Tab");
    }

    pub async fn page_source(&self) -> String {
        self.command(reqwest::Method::GET, "/source", None)
            .await
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    pub async fn quit(mut self) {
        let url = format!("{}/session/{}", self.base, self.session);
        let _ = self.http.delete(url).send().await;
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.driver.kill();
    }
}

/// A script's list of strings; anything else, as one line saying what `script` answered.
fn strings(found: &Value, script: &str) -> Vec<String> {
    found
        .as_array()
        .map(|all| {
            all.iter()
                .map(|v| v.as_str().unwrap_or_default().to_owned())
                .collect()
        })
        .unwrap_or_else(|| vec![format!("{script} answered {found}")])
}
