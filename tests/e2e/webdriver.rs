//! A small W3C WebDriver client over reqwest (already a dependency): the handful
//! of commands these tests use, against Debian's chromedriver + headless chromium.

use base64::Engine;
use serde_json::{Value, json};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";
const WAIT: Duration = Duration::from_secs(20);

pub fn chromedriver_path() -> Option<String> {
    ["/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists())
        .map(str::to_owned)
}

/// Chromedriver's path; none (the test skips) only where the browser tests are
/// not required (`XIAOER_E2E_REQUIRED` unset; scripts/test.sh sets it).
pub fn chromedriver_or_skip() -> Option<String> {
    let found = chromedriver_path();
    if found.is_none() {
        assert!(
            std::env::var("XIAOER_E2E_REQUIRED").is_err(),
            "chromedriver is not installed: apt-get install chromium chromium-driver"
        );
        eprintln!(
            "SKIPPED: chromedriver is not installed (apt-get install chromium chromium-driver)"
        );
    }
    found
}

/// A running chromedriver, stopped on drop.
pub struct Driver {
    child: Child,
    base: String,
    http: reqwest::Client,
}

impl Driver {
    pub async fn start(path: &str) -> Driver {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(path)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let driver = Driver {
            child,
            base: format!("http://127.0.0.1:{port}"),
            http: xiaoer::net::client(),
        };
        for _ in 0..100 {
            if let Ok(res) = driver
                .http
                .get(format!("{}/status", driver.base))
                .send()
                .await
                && res.status().is_success()
            {
                return driver;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("chromedriver did not become ready");
    }

    /// A new browser (its own profile: cookies and storage are not shared).
    pub async fn session(&self, width: u32, height: u32) -> Browser {
        let caps = json!({ "capabilities": { "alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": "/usr/bin/chromium",
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                         format!("--window-size={width},{height}"), "--lang=zh-CN",
                         "--autoplay-policy=no-user-gesture-required",
                         // A microphone that plays a tone, allowed without a prompt (voice messages).
                         "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream"]
            }
        } } });
        let res: Value = self
            .http
            .post(format!("{}/session", self.base))
            .json(&caps)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let id = res["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("new session: {res}"))
            .to_owned();
        Browser {
            base: format!("{}/session/{id}", self.base),
            http: self.http.clone(),
        }
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub struct Browser {
    base: String,
    http: reqwest::Client,
}

#[derive(Clone)]
pub struct Element(String);

impl Browser {
    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let mut req = self.http.request(method, format!("{}{path}", self.base));
        if let Some(body) = body {
            req = req.json(&body);
        }
        let res: Value = req.send().await.unwrap().json().await.unwrap();
        if let Some(error) = res["value"].get("error") {
            panic!("webdriver {path}: {error} {}", res["value"]["message"]);
        }
        res["value"].clone()
    }

    async fn post(&self, path: &str, body: Value) -> Value {
        self.call(reqwest::Method::POST, path, Some(body)).await
    }

    pub async fn goto(&self, url: &str) {
        self.post("/url", json!({ "url": url })).await;
    }

    pub async fn resize(&self, width: u32, height: u32) {
        self.post("/window/rect", json!({ "width": width, "height": height }))
            .await;
    }

    pub async fn run(&self, script: &str, args: Value) -> Value {
        self.post("/execute/sync", json!({ "script": script, "args": args }))
            .await
    }

    /// Puts one file into a file input as if the user had picked it, and fires `change`.
    /// `base64` is the file's bytes.
    pub async fn choose_file(&self, input_css: &str, name: &str, mime: &str, base64: &str) {
        self.run(
            "const bytes = Uint8Array.from(atob(arguments[3]), c => c.charCodeAt(0)); \
             const dt = new DataTransfer(); \
             dt.items.add(new File([bytes], arguments[1], { type: arguments[2] })); \
             const input = document.querySelector(arguments[0]); \
             input.files = dt.files; input.dispatchEvent(new Event('change'));",
            json!([input_css, name, mime, base64]),
        )
        .await;
    }

    /// Elements matching a CSS selector now (possibly none).
    pub async fn find_all(&self, css: &str) -> Vec<Element> {
        let found = self
            .post(
                "/elements",
                json!({ "using": "css selector", "value": css }),
            )
            .await;
        found
            .as_array()
            .unwrap()
            .iter()
            .map(|e| match e[ELEMENT_KEY].as_str() {
                Some(id) => Element(id.to_owned()),
                None => panic!("not an element reference: {e}"),
            })
            .collect()
    }

    /// Waits until `script` (a JS expression) is truthy; returns its value.
    pub async fn wait_until(&self, what: &str, expression: &str) -> Value {
        self.wait_until_within(what, expression, WAIT).await
    }

    /// `wait_until` with its own limit (a model's answer in a debug build).
    pub async fn wait_until_within(&self, what: &str, expression: &str, wait: Duration) -> Value {
        let script = format!("return ({expression});");
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let value = self.run(&script, json!([])).await;
            if !(value.is_null()
                || value == json!(false)
                || value == json!("")
                || value == json!(0))
            {
                return value;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "timed out waiting for {what}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits for a visible element matching `css`.
    pub async fn wait_for(&self, css: &str) -> Element {
        let check = format!(
            "(() => {{ const e = document.querySelector({css:?}); return !!e && e.getClientRects().length > 0; }})()"
        );
        // A page that re-renders between the check and the lookup leaves nothing
        // to find for a moment: look again.
        for _ in 0..20 {
            self.wait_until(css, &check).await;
            if let Some(element) = self.find_all(css).await.into_iter().next() {
                return element;
            }
        }
        panic!("{css} kept disappearing as soon as it was seen");
    }

    /// Clicks the first visible element matching `css`. Pages re-render, so a
    /// reference that went stale between finding and clicking is found again.
    pub async fn click(&self, css: &str) {
        for _ in 0..10 {
            let element = self.wait_for(css).await;
            let res: Value = self
                .http
                .post(format!("{}/element/{}/click", self.base, element.0))
                .json(&json!({}))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            match res["value"].get("error").and_then(Value::as_str) {
                None => return,
                Some("stale element reference") => continue,
                Some(error) => panic!("click {css}: {error} {}", res["value"]["message"]),
            }
        }
        panic!("click {css}: the element kept going stale");
    }

    pub async fn type_into(&self, element: &Element, text: &str) {
        if text.chars().any(|c| c as u32 > 0xFFFF) {
            // ChromeDriver types only the Basic Multilingual Plane (no emoji):
            // such text goes in as an input event, as an IME would send it.
            let script = "const e = arguments[0]; e.focus(); e.value += arguments[1]; \
                          e.dispatchEvent(new InputEvent('input', { bubbles: true }));";
            self.run(script, json!([{ ELEMENT_KEY: element.0 }, text]))
                .await;
            return;
        }
        self.post(
            &format!("/element/{}/value", element.0),
            json!({ "text": text }),
        )
        .await;
    }

    pub async fn enter_frame(&self, element: &Element) {
        self.post("/frame", json!({ "id": { ELEMENT_KEY: element.0 } }))
            .await;
    }

    pub async fn leave_frame(&self) {
        self.post("/frame/parent", json!({})).await;
    }

    pub async fn screenshot(&self, path: &std::path::Path) {
        let data = self.call(reqwest::Method::GET, "/screenshot", None).await;
        let png = base64::engine::general_purpose::STANDARD
            .decode(data.as_str().unwrap())
            .unwrap();
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, png).unwrap();
    }

    pub async fn quit(self) {
        let _ = self.http.delete(&self.base).send().await;
    }
}
