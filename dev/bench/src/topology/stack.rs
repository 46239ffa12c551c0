//! The full example's topology on this machine: `examples/full.yaml` run by the rendered-stack
//! harness (`stack-run`, a child process, so that its own CPU, the Service proxies standing in
//! for kube-proxy, is measured apart from the load generator's), with the release binaries.
//!
//! The stack file is run as users write it but for the gateway's limits, which would refuse
//! the load: `rateLimits: "off"` (as the single topology's `RATE_LIMITS=off`) and a per-address
//! connection limit above the clients (every client connects from 127.0.0.1).

use std::io::{BufRead as _, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

/// The stack file measured, relative to the workspace root (where `make bench` runs).
pub const STACK_FILE: &str = "examples/full.yaml";
/// The harness's binary, beside the benchmark's.
pub const HARNESS: &str = "stack-run";
/// Connections one gateway pod accepts from one address while measured: above any client
/// count `make bench` uses (all clients share the address 127.0.0.1).
pub const PER_ADDRESS: u32 = 4096;
/// How long the whole stack may take to come up.
const START_TIMEOUT: Duration = Duration::from_secs(300);
/// How long the harness may take to stop every pod once asked.
const STOP_TIMEOUT: Duration = Duration::from_secs(60);

/// The stack file with the gateway's limits lifted: every `rateLimits:` line of the gateway
/// becomes `rateLimits: "off"`, followed by `maxConnectionsPerAddress`.
///
/// # Errors
/// When the file has no gateway `rateLimits:` line to replace (the example changed shape).
pub fn unlimited(text: &str) -> anyhow::Result<String> {
    let mut out = String::with_capacity(text.len() + 64);
    let mut in_gateway = false;
    let mut replaced = false;
    for line in text.lines() {
        let indent = line.len() - line.trim_start().len();
        let key = line.trim_start();
        if indent == 2 && !key.starts_with('#') && key.ends_with(':') {
            in_gateway = key == "gateway:";
        }
        if in_gateway && indent == 4 && key.starts_with("rateLimits:") {
            out.push_str("    rateLimits: \"off\"\n");
            out.push_str(&format!("    maxConnectionsPerAddress: {PER_ADDRESS}\n"));
            replaced = true;
            continue;
        }
        if in_gateway && indent == 4 && key.starts_with("maxConnectionsPerAddress:") {
            continue;
        }
        out.push_str(line);
        out.push('\n');
    }
    if !replaced {
        bail!("the stack file has no gateway rateLimits line to turn off");
    }
    Ok(out)
}

/// What the harness prints once the stack is up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Banner {
    /// The gateway Service's address (it balances connections over the gateway pods).
    pub gateway: SocketAddr,
    /// The administrator's email.
    pub admin_email: String,
    /// The administrator's password.
    pub admin_password: String,
}

/// Reads the harness's standard output up to `Press Ctrl-C`: the gateway and the admin login.
pub fn parse_banner<'a>(lines: impl IntoIterator<Item = &'a str>) -> anyhow::Result<Banner> {
    let (mut gateway, mut email, mut password) = (None, None, None);
    for line in lines {
        if let Some(url) = line.strip_prefix("Gateway: ") {
            let addr = url
                .trim()
                .trim_start_matches("http://")
                .trim_end_matches('/');
            gateway = Some(
                addr.parse::<SocketAddr>()
                    .with_context(|| format!("the gateway address {url:?} is not host:port"))?,
            );
        } else if let Some(v) = line.strip_prefix("Admin email: ") {
            email = Some(v.trim().to_owned());
        } else if let Some(v) = line.strip_prefix("Admin password: ") {
            password = Some(v.trim().to_owned());
        }
    }
    Ok(Banner {
        gateway: gateway.context("the harness printed no gateway address")?,
        admin_email: email.context("the harness printed no admin email")?,
        admin_password: password.context("the harness printed no admin password")?,
    })
}

/// The running stack; stopped (every pod, through the harness's SIGTERM handling) on drop.
pub struct Stack {
    child: Child,
    // Kept open so the harness never writes to a closed pipe.
    _stdout: BufReader<ChildStdout>,
    /// What the harness printed.
    pub banner: Banner,
}

impl Stack {
    /// Writes the unlimited stack file under `work`, starts the harness on it with the
    /// binaries of `bin_dir` (its log in `logs`) and waits until it is up.
    pub async fn start(work: &Path, logs: &Path, bin_dir: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(STACK_FILE)
            .with_context(|| format!("cannot read {STACK_FILE} (run from the workspace root)"))?;
        std::fs::create_dir_all(work).with_context(|| format!("create {}", work.display()))?;
        std::fs::create_dir_all(logs).with_context(|| format!("create {}", logs.display()))?;
        let file = work.join("full-unlimited.yaml");
        std::fs::write(&file, unlimited(&text)?)
            .with_context(|| format!("write {}", file.display()))?;
        // A fresh state each time: the same data as the single topology (migrations and seed).
        let state: PathBuf = work.join("stack-run");
        let _ = std::fs::remove_dir_all(&state);
        let harness = bin_dir.join(HARNESS);
        let log = std::fs::File::create(logs.join("stack-run.log"))
            .context("cannot create the harness's log")?;
        let mut child = Command::new(&harness)
            .arg("-f")
            .arg(&file)
            .arg("--state-dir")
            .arg(&state)
            .arg("--bin-dir")
            .arg(bin_dir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .with_context(|| {
                format!("cannot run {} (`make bench` builds it)", harness.display())
            })?;
        let stdout = child.stdout.take().context("the harness has no stdout")?;
        let reading = tokio::task::spawn_blocking(move || {
            let mut reader = BufReader::new(stdout);
            let mut lines = Vec::new();
            loop {
                let mut line = String::new();
                match reader.read_line(&mut line) {
                    Ok(0) | Err(_) => return (reader, lines, false),
                    Ok(_) => {}
                }
                let done = line.starts_with("Press Ctrl-C");
                lines.push(line.trim_end().to_owned());
                if done {
                    return (reader, lines, true);
                }
            }
        });
        let read = tokio::time::timeout(START_TIMEOUT, reading).await;
        let mut stack = StartGuard(Some(child));
        let (reader, lines, up) = match read {
            Ok(Ok(read)) => read,
            Ok(Err(e)) => bail!("reading the harness's output failed: {e}"),
            Err(_) => bail!(
                "the full topology was not up within {START_TIMEOUT:?}; see {}",
                logs.join("stack-run.log").display()
            ),
        };
        if !up {
            bail!(
                "the harness stopped before the stack was up; see {}",
                logs.join("stack-run.log").display()
            );
        }
        let banner = parse_banner(lines.iter().map(String::as_str))?;
        let child = stack.0.take().context("the harness is gone")?;
        Ok(Self {
            child,
            _stdout: reader,
            banner,
        })
    }

    /// The harness's process id: every pod's processes are its descendants.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        stop(&mut self.child);
    }
}

/// Stops the harness if the start fails half-way.
struct StartGuard(Option<Child>);

impl Drop for StartGuard {
    fn drop(&mut self) {
        if let Some(child) = &mut self.0 {
            stop(child);
        }
    }
}

/// SIGTERM (the harness stops every pod), then SIGKILL if it is still there after a while.
fn stop(child: &mut Child) {
    if let Ok(pid) = i32::try_from(child.id()) {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid),
            nix::sys::signal::Signal::SIGTERM,
        );
    }
    let deadline = Instant::now() + STOP_TIMEOUT;
    while Instant::now() < deadline {
        if matches!(child.try_wait(), Ok(Some(_)) | Err(_)) {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = child.kill();
    let _ = child.wait();
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE: &str = include_str!("../../../../examples/full.yaml");

    #[test]
    fn the_example_loses_its_gateway_limits_and_nothing_else() {
        let text = unlimited(EXAMPLE).unwrap();
        assert!(text.contains("    rateLimits: \"off\"\n"), "{text}");
        assert!(text.contains(&format!("    maxConnectionsPerAddress: {PER_ADDRESS}\n")));
        assert!(!text.contains("read=200/s"));
        let kept = |t: &str| t.lines().filter(|l| !l.contains("rateLimits")).count();
        assert_eq!(kept(&text), kept(EXAMPLE) + 1);
        assert!(unlimited("spec:\n  gateway:\n    replicas: 2\n").is_err());
        // A rateLimits key of another block is not the gateway's.
        assert!(unlimited("spec:\n  other:\n    rateLimits: x\n").is_err());
    }

    #[test]
    fn the_banner_names_the_gateway_and_the_admin() {
        let banner = parse_banner([
            "Gateway: http://127.1.2.3:8080",
            "Admin email: admin@example.com",
            "Admin password: s3cret",
            "Press Ctrl-C to stop.",
        ])
        .unwrap();
        assert_eq!(banner.gateway, "127.1.2.3:8080".parse().unwrap());
        assert_eq!(banner.admin_email, "admin@example.com");
        assert_eq!(banner.admin_password, "s3cret");
        assert!(parse_banner(["Admin email: a", "Admin password: b"]).is_err());
        assert!(parse_banner(["Gateway: nowhere", "Admin email: a", "Admin password: b"]).is_err());
    }
}
