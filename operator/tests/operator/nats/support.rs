//! Running what the operator renders for NATS on this machine.
//!
//! The rendered files are written as the kubelet mounts them (`config/nats.conf` from the
//! ConfigMap, `secret/routes.conf` and `secret/users.conf` from the Secret, side by side so the
//! relative includes resolve), with these substitutions, the only differences from a pod:
//!
//! - listen addresses `0.0.0.0:<port>` become `127.0.0.1:<free port>` (client, monitor, cluster);
//! - the in-cluster route host `<stack>-nats-<i>.<stack>-nats-headless.<ns>.svc:6222` becomes
//!   `127.0.0.1:<cluster port of server i>`;
//! - absolute paths in the pod (`/etc/nats/...`, `/var/run/nats/...`) move under the server's
//!   temporary folder;
//! - `$POD_NAME` comes from the environment, as the StatefulSet's field ref gives it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child as Process, Command, Stdio};
use std::time::Duration;

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{Container, PodSpec};
use operator::crd::MicroserviceStack;
use operator::manifests::nats::{
    CONFIG_DIR, CONFIG_FILE, DATA_DIR, PID_FILE, ROUTES_FILE, SECRET_DIR, TLS_DIR, USERS_FILE,
};
use operator::manifests::{Child, Children, SecretData};
use runtime::config::NatsArgs;
use runtime::serve::{ServeError, ServiceBuilder};
use runtime::test_support::nats_server_bin;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::task::JoinHandle;

use crate::common;

/// What the operator renders for NATS, plus everything it was rendered from.
pub struct Rendered {
    pub stack: MicroserviceStack,
    pub secrets: SecretData,
    pub children: Children,
}

impl Rendered {
    pub fn new(stack: MicroserviceStack) -> Self {
        let secrets = common::secret_data(&stack);
        let children = operator::manifests::build(&stack, &secrets).expect("builds");
        Self {
            stack,
            secrets,
            children,
        }
    }

    fn nats_name(&self) -> String {
        format!("{}-nats", self.stack.metadata.name.as_deref().unwrap())
    }

    /// `nats.conf` from the ConfigMap.
    pub fn config(&self) -> String {
        self.children
            .iter()
            .find_map(|c| match c {
                Child::ConfigMap(cm) if c.name() == self.nats_name() => {
                    Some(cm.data.as_ref().unwrap()[CONFIG_FILE].clone())
                }
                _ => None,
            })
            .expect("a NATS ConfigMap")
    }

    /// A file of the NATS Secret.
    pub fn secret_file(&self, key: &str) -> String {
        self.children
            .iter()
            .find_map(|c| match c {
                Child::Secret(s) if c.name() == self.nats_name() => {
                    Some(String::from_utf8(s.data.as_ref().unwrap()[key].0.clone()).unwrap())
                }
                _ => None,
            })
            .expect("a NATS Secret")
    }

    pub fn stateful_set(&self) -> &StatefulSet {
        self.children
            .iter()
            .find_map(|c| match c {
                Child::StatefulSet(s) if c.name() == self.nats_name() => Some(s),
                _ => None,
            })
            .expect("a NATS StatefulSet")
    }

    pub fn pod(&self) -> &PodSpec {
        let spec = self.stateful_set().spec.as_ref().unwrap();
        spec.template.spec.as_ref().unwrap()
    }

    pub fn container(&self, name: &str) -> &Container {
        self.pod()
            .containers
            .iter()
            .find(|c| c.name == name)
            .unwrap_or_else(|| panic!("no container {name}"))
    }

    /// The pod-template config hash of the StatefulSet.
    pub fn hash(&self) -> String {
        let template = &self.stateful_set().spec.as_ref().unwrap().template;
        template
            .metadata
            .as_ref()
            .unwrap()
            .annotations
            .as_ref()
            .unwrap()[operator::manifests::common::CONFIG_HASH]
            .clone()
    }

    /// The env of `component`'s Deployment, resolved as the kubelet would (Secret references
    /// read from the stack's Secret data).
    pub fn env(&self, component: &str) -> BTreeMap<String, String> {
        let name = format!(
            "{}-{component}",
            self.stack.metadata.name.as_deref().unwrap()
        );
        let deployment = self
            .children
            .iter()
            .find_map(|c| match c {
                Child::Deployment(d) if c.name() == name => Some(d),
                _ => None,
            })
            .unwrap_or_else(|| panic!("no Deployment {name}"));
        let pod = deployment.spec.as_ref().unwrap().template.spec.as_ref();
        let env = pod.unwrap().containers[0].env.clone().unwrap_or_default();
        env.into_iter()
            .map(|e| {
                let value = match &e.value_from {
                    Some(from) => {
                        let r = from.secret_key_ref.as_ref().expect("a secret ref");
                        self.secret_value(&r.name, &r.key)
                    }
                    None => e.value.clone().unwrap_or_default(),
                };
                (e.name, value)
            })
            .collect()
    }

    /// A key of a created-once Secret (from the Secret data) or of a derived one (rendered).
    fn secret_value(&self, name: &str, key: &str) -> String {
        if let Some(value) = self.secrets.get(name).and_then(|d| d.get(key)) {
            return value.clone();
        }
        self.children
            .iter()
            .find_map(|c| match c {
                Child::Secret(s) if c.name() == name => s.data.as_ref()?.get(key),
                _ => None,
            })
            .map(|v| String::from_utf8(v.0.clone()).unwrap())
            .unwrap_or_else(|| panic!("no key {key} in Secret {name}"))
    }

    /// `component`'s rendered NATS settings, pointed at `url` instead of the Service's name.
    pub fn nats_args(&self, component: &str, url: &str) -> NatsArgs {
        let env = self.env(component);
        let mut args = NatsArgs::url(url);
        args.nats_user = env.get("NATS_USER").cloned();
        args.nats_password = env.get("NATS_PASSWORD").map(|p| p.as_str().into());
        if let Some(prefix) = env.get("NATS_INBOX_PREFIX") {
            args.nats_inbox_prefix.clone_from(prefix);
        }
        args.nats_ca_file = env.get("NATS_CA_FILE").map(PathBuf::from);
        args
    }

    /// A client connected as `component` with its rendered settings, to the server at `url`.
    pub async fn connect(&self, component: &str, url: &str) -> async_nats::Client {
        runtime::connect::connect(&self.nats_args(component, url), component, true)
            .await
            .unwrap_or_else(|e| panic!("{component} connects: {e}"))
    }
}

/// Starts `service` on `client` and serves it in a task until that is aborted: the instance
/// id, and the task.
pub async fn serve(
    service: ServiceBuilder<()>,
    client: &async_nats::Client,
) -> (String, JoinHandle<Result<(), ServeError>>) {
    let running = service.start(client).await.unwrap();
    let id = running.id().to_owned();
    (id, tokio::spawn(running.run(std::future::pending())))
}

/// One server's loopback ports.
#[derive(Clone, Copy, Debug)]
pub struct Ports {
    pub client: u16,
    pub monitor: u16,
    pub cluster: u16,
}

impl Ports {
    pub fn free() -> Self {
        Self::distinct(1)[0]
    }

    /// Ports for `n` servers, all different: each is held until every one is chosen (a port
    /// found free and released may otherwise be handed out again at once).
    pub fn distinct(n: usize) -> Vec<Self> {
        let held: Vec<std::net::TcpListener> = (0..3 * n)
            .map(|_| std::net::TcpListener::bind("127.0.0.1:0").expect("a loopback port"))
            .collect();
        let ports: Vec<u16> = held
            .iter()
            .map(|l| l.local_addr().unwrap().port())
            .collect();
        ports
            .chunks(3)
            .map(|p| Self {
                client: p[0],
                monitor: p[1],
                cluster: p[2],
            })
            .collect()
    }
}

/// A nats-server running a rendered config; killed on drop.
pub struct Server {
    pub dir: tempfile::TempDir,
    pub ports: Ports,
    process: Process,
}

impl Server {
    /// Writes the three files with `substitutions` applied and starts the server as pod
    /// `pod_name`. Waits until it accepts clients.
    pub async fn start(
        pod_name: &str,
        files: [(&str, &str); 3],
        ports: Ports,
        substitutions: &[(String, String)],
    ) -> Self {
        let dir = tempfile::Builder::new()
            .prefix("natstack-rendered-nats-")
            .tempdir()
            .unwrap();
        // The caller's first: they may move a pod path somewhere else.
        let mut all = substitutions.to_vec();
        all.extend([
            (
                format!("0.0.0.0:{}", contract::deploy::NATS_PORT),
                format!("127.0.0.1:{}", ports.client),
            ),
            (
                format!("0.0.0.0:{}", contract::deploy::NATS_MONITOR_PORT),
                format!("127.0.0.1:{}", ports.monitor),
            ),
            (
                "0.0.0.0:6222".to_owned(),
                format!("127.0.0.1:{}", ports.cluster),
            ),
        ]);
        all.extend(pod_paths(dir.path()));
        // The pid file's folder is an emptyDir in the pod.
        let pid_dir = dir.path().join(PID_FILE.trim_start_matches('/'));
        std::fs::create_dir_all(pid_dir.parent().unwrap()).unwrap();
        for (relative, text) in files {
            let path = dir.path().join(relative);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, substitute(text, &all)).unwrap();
        }
        let log = std::fs::File::create(dir.path().join("nats.log")).unwrap();
        let process = Command::new(nats_server_bin().expect("nats-server installed"))
            .arg("--config")
            .arg(dir.path().join("config").join(CONFIG_FILE))
            .env("POD_NAME", pod_name)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("nats-server runs");
        let mut server = Self {
            dir,
            ports,
            process,
        };
        server
            .wait_for(
                &format!("{pod_name} accepts clients"),
                Duration::from_secs(10),
                async |_| {
                    tokio::net::TcpStream::connect(("127.0.0.1", ports.client))
                        .await
                        .is_ok()
                },
            )
            .await;
        server
    }

    /// A server from a rendered stack: `nats.conf`, `routes.conf` and `users.conf` as rendered.
    pub async fn rendered(
        rendered: &Rendered,
        pod_name: &str,
        ports: Ports,
        substitutions: &[(String, String)],
    ) -> Self {
        let config = rendered.config();
        let routes = rendered.secret_file(ROUTES_FILE);
        let users = rendered.secret_file(USERS_FILE);
        Self::start(
            pod_name,
            [
                (&format!("config/{CONFIG_FILE}"), &config),
                (&format!("secret/{ROUTES_FILE}"), &routes),
                (&format!("secret/{USERS_FILE}"), &users),
            ],
            ports,
            substitutions,
        )
        .await
    }

    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.ports.client)
    }

    pub fn pid(&self) -> u32 {
        self.process.id()
    }

    pub fn running(&mut self) -> bool {
        matches!(self.process.try_wait(), Ok(None))
    }

    /// Polls `ready` on this server every 10 ms until it holds. Fails, with the server's log,
    /// after `timeout` (saying that it waited until `awaited`), or at once when the server has
    /// exited: a config it refuses ends it, and waiting on would only run out the clock.
    pub async fn wait_for(
        &mut self,
        awaited: &str,
        timeout: Duration,
        mut ready: impl AsyncFnMut(&Self) -> bool,
    ) {
        let deadline = tokio::time::Instant::now() + timeout;
        while !ready(self).await {
            assert!(self.running(), "exited before {awaited}:\n{}", self.log());
            assert!(
                tokio::time::Instant::now() < deadline,
                "timed out after {timeout:?} waiting until {awaited}:\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("nats.log")).unwrap_or_default()
    }

    /// Replaces a mounted file the way the kubelet does: the new content appears at once.
    pub fn replace_file(&self, relative: &str, text: &str) {
        let path = self.dir.path().join(relative);
        let staged = path.with_extension("new");
        std::fs::write(&staged, substitute(text, &pod_paths(self.dir.path()))).unwrap();
        std::fs::rename(staged, path).unwrap();
    }

    /// The server names this server has routes to (`/routez`).
    pub async fn route_names(&self) -> Vec<String> {
        let addr = ([127, 0, 0, 1], self.ports.monitor).into();
        let (status, body) = runtime::test_support::http_get(addr, "/routez").await;
        if status != 200 {
            return Vec::new();
        }
        let routez: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
        let mut names: Vec<String> = routez["routes"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|r| r["remote_name"].as_str().map(str::to_owned))
            .collect();
        names.sort();
        names.dedup();
        names
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.process.kill();
        let _ = self.process.wait();
    }
}

/// The pod's absolute paths mapped under `root`.
pub fn pod_paths(root: &Path) -> Vec<(String, String)> {
    let under = |p: &str| root.join(p.trim_start_matches('/')).display().to_string();
    // The config and secret folders keep their names so `../secret/` still resolves.
    vec![
        (
            CONFIG_DIR.to_owned(),
            root.join("config").display().to_string(),
        ),
        (
            SECRET_DIR.to_owned(),
            root.join("secret").display().to_string(),
        ),
        (TLS_DIR.to_owned(), under(TLS_DIR)),
        (PID_FILE.to_owned(), under(PID_FILE)),
        (DATA_DIR.to_owned(), under(DATA_DIR)),
    ]
}

pub fn substitute(text: &str, substitutions: &[(String, String)]) -> String {
    substitutions
        .iter()
        .fold(text.to_owned(), |t, (from, to)| t.replace(from, to))
}

/// Speaks the NATS protocol directly as `user`: sends `commands` then a PING, and returns the
/// `-ERR` lines the server sent before its PONG (permission violations do not close the
/// connection, so every command gets its answer).
pub async fn errors_for(port: u16, user: Option<(&str, &str)>, commands: &str) -> Vec<String> {
    let stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read).lines();
    let info = lines.next_line().await.unwrap().unwrap_or_default();
    assert!(info.starts_with("INFO "), "{info}");
    let mut connect = serde_json::json!({"verbose": false, "headers": true, "no_responders": true});
    if let Some((name, password)) = user {
        connect["user"] = name.into();
        connect["pass"] = password.into();
    }
    let text = format!("CONNECT {connect}\r\n{commands}PING\r\n");
    write.write_all(text.as_bytes()).await.unwrap();
    let mut errors = Vec::new();
    let read_all = async {
        while let Ok(Some(line)) = lines.next_line().await {
            if line == "PONG" {
                break;
            }
            if line.starts_with("-ERR") {
                errors.push(line);
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(5), read_all)
        .await
        .expect("the server answers the PING");
    errors
}
