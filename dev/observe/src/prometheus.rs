//! Debian's Prometheus as a process of the test bed's supervisor (stopped on drop, on a
//! failure or a panic too), and the parts of its HTTP API the checks read.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context as _, Result, bail};
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use serde_json::Value;
use testbed::http::Api;
use testbed::process::{Child, Spec};

/// A running Prometheus and a client of its API.
#[derive(Debug)]
pub struct Prometheus {
    // Stopped when dropped.
    _process: Child,
    api: Api,
}

impl Prometheus {
    /// Starts Prometheus with `config` in `dir` (its data in `dir/data`, its log in
    /// `dir/prometheus.log`) on `addr`, and waits until it is ready.
    pub async fn start(dir: &Path, config: &Path, addr: SocketAddr) -> Result<Self> {
        let bin = testbed::programs::find(
            "prometheus",
            contract::deploy::env::dev::PROMETHEUS_BIN,
            testbed::promtool::INSTALL_HINT,
        )?;
        let spec = Spec::new("prometheus", bin).args([
            format!("--config.file={}", config.display()),
            format!("--storage.tsdb.path={}", dir.join("data").display()),
            format!("--web.listen-address={addr}"),
            "--log.level=warn".to_owned(),
        ]);
        let mut process = Child::spawn(spec, &dir.join("prometheus.log"))?;
        let api = Api::new(&format!("http://{addr}"));
        let probe = api.clone();
        process
            .wait_ready(
                "prometheus",
                Duration::from_secs(30),
                Duration::from_millis(50),
                || {
                    let probe = probe.clone();
                    async move {
                        probe
                            .try_call("GET", "/-/ready", None, None)
                            .await
                            .is_ok_and(|r| r.status == 200)
                    }
                },
            )
            .await?;
        Ok(Self {
            _process: process,
            api,
        })
    }

    /// `GET path` of the API: its `data`.
    async fn get(&self, path: &str) -> Result<Value> {
        let reply = self
            .api
            .try_call("GET", path, None, None)
            .await
            .with_context(|| format!("GET {path}"))?;
        if reply.body["status"] != "success" {
            bail!("GET {path}: {} {}", reply.status, reply.body);
        }
        Ok(reply.body["data"].clone())
    }

    /// The result of the instant query `query` (a vector's samples).
    pub async fn query(&self, query: &str) -> Result<Vec<Value>> {
        let data = self
            .get(&format!("/api/v1/query?query={}", encode(query)))
            .await?;
        Ok(data["result"].as_array().cloned().unwrap_or_default())
    }

    /// The result of the range query `query` from `start` to `end` (Unix seconds) every
    /// `step` seconds: one matrix entry per series.
    pub async fn query_range(
        &self,
        query: &str,
        start: f64,
        end: f64,
        step: f64,
    ) -> Result<Vec<Value>> {
        let path = format!(
            "/api/v1/query_range?query={}&start={start}&end={end}&step={step}",
            encode(query)
        );
        let data = self.get(&path).await?;
        Ok(data["result"].as_array().cloned().unwrap_or_default())
    }

    /// The active targets.
    pub async fn targets(&self) -> Result<Vec<Value>> {
        let data = self.get("/api/v1/targets?state=active").await?;
        Ok(data["activeTargets"]
            .as_array()
            .cloned()
            .unwrap_or_default())
    }

    /// The alerts pending or firing now.
    pub async fn alerts(&self) -> Result<Vec<Value>> {
        let data = self.get("/api/v1/alerts").await?;
        Ok(data["alerts"].as_array().cloned().unwrap_or_default())
    }

    /// The loaded rule groups.
    pub async fn rule_groups(&self) -> Result<Vec<Value>> {
        let data = self.get("/api/v1/rules").await?;
        Ok(data["groups"].as_array().cloned().unwrap_or_default())
    }
}

fn encode(text: &str) -> String {
    utf8_percent_encode(text, NON_ALPHANUMERIC).to_string()
}

/// Runs `promtool check rules` on `files`: its output on failure.
pub fn check_rules(files: &[PathBuf]) -> Result<(), String> {
    let promtool = testbed::promtool::bin().map_err(|e| e.to_string())?;
    let output = std::process::Command::new(&promtool)
        .args(["check", "rules"])
        .args(files)
        .output()
        .map_err(|e| format!("cannot run {}: {e}", promtool.display()))?;
    if output.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ))
    }
}
