//! What to start and where: [`Builder`], and extra [`Service`]s.
//!
//! Start order: nats-server, PostgreSQL (databases `customers` and `products`), nx-27017, then
//! auth, customers, products, any extra [`Service`], then the gateway. Each server accepts
//! connections before the next one starts; the start ends when the gateway's `/services` (on its
//! health listener) routes
//! a subject of every service. A process that exits meanwhile fails the start with the end of its
//! log, and whatever was started is stopped again.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Duration;

use contract::deploy::{self, env};
use testbed::http::Api;
use testbed::process::{Child, Spec};
use testbed::servers::{self, Durability};

use crate::binaries::{self, SYSTEM_BINARIES};
use crate::error::LaunchError;
use crate::files;
use crate::nats_auth::NatsUsers;
use crate::ports::{Address, Ports};
use crate::system::{Role, System};

/// How long the gateway may take to route every service.
const ROUTED_TIMEOUT: Duration = Duration::from_secs(120);
/// How many times a start is tried when a free port was taken before its process bound it.
const PORT_ATTEMPTS: u32 = 3;

/// The subjects the gateway must route by default: one of every built-in service.
const ROUTED: [&str; 3] = ["auth.login", "customers.list", "products.list"];

/// A service of our own besides the built-in ones (the benchmark's echo service), started with
/// the same variables as every service (`NATS_URL`, `HEALTH_ADDR`, `RUST_LOG`, …).
#[derive(Debug, Clone)]
pub struct Service {
    name: &'static str,
    spec: Spec,
    routes: Vec<String>,
    prefixes: Vec<String>,
}

impl Service {
    /// `program` run as the service `name`.
    pub fn new(name: &'static str, program: impl Into<PathBuf>) -> Self {
        Self {
            name,
            spec: Spec::new(name, program),
            routes: Vec::new(),
            prefixes: contract::routes::default_prefixes(name),
        }
    }

    /// Adds a command-line argument.
    #[must_use]
    pub fn arg(mut self, arg: impl Into<OsString>) -> Self {
        self.spec = self.spec.args([arg]);
        self
    }

    /// Adds an environment variable.
    #[must_use]
    pub fn env(mut self, name: &str, value: impl Into<String>) -> Self {
        self.spec.env.push((name.to_owned(), value.into()));
        self
    }

    /// The HTTP path prefixes the service owns (default: `/<name>`), rendered into the
    /// gateway's `ROUTE_OWNERS` as the operator renders a stack's.
    #[must_use]
    pub fn route_prefixes(mut self, prefixes: &[&str]) -> Self {
        self.prefixes = prefixes.iter().map(|p| (*p).to_owned()).collect();
        self
    }

    /// A subject the gateway must route before the system counts as started.
    #[must_use]
    pub fn routes(mut self, subject: &str) -> Self {
        self.routes.push(subject.to_owned());
        self
    }
}

/// Progress messages while starting (`make run` prints them).
type Progress = Box<dyn Fn(&str) + Send + Sync>;

/// What to start, and where.
pub struct Builder {
    bin_dir: PathBuf,
    build_hint: String,
    data_dir: Option<PathBuf>,
    log_dir: Option<PathBuf>,
    ports: Ports,
    env: Vec<(String, String)>,
    component_env: Vec<(&'static str, String, String)>,
    admin: Option<(String, String)>,
    extra: Vec<Service>,
    nats_auth: bool,
    nats_monitor: Option<u16>,
    progress: Progress,
}

impl std::fmt::Debug for Builder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Builder")
            .field("bin_dir", &self.bin_dir)
            .field("data_dir", &self.data_dir)
            .field("ports", &self.ports)
            .finish_non_exhaustive()
    }
}

impl Builder {
    /// A system of the binaries in `bin_dir`, on free ports, with its data in a temporary
    /// directory deleted on drop.
    pub fn new(bin_dir: impl Into<PathBuf>) -> Self {
        Self {
            bin_dir: bin_dir.into(),
            build_hint: "cargo build -p gateway -p auth -p customers -p products".to_owned(),
            data_dir: None,
            log_dir: None,
            ports: Ports::free(),
            env: vec![
                (env::RUST_LOG.to_owned(), "info".to_owned()),
                (env::LOG_FORMAT.to_owned(), "pretty".to_owned()),
                (env::DISCOVERY_INTERVAL_MS.to_owned(), "1000".to_owned()),
                // Tests, benchmarks and the resilience suite load the system from one address
                // far beyond what a person sends; `make run` sets the gateway's default back.
                (env::RATE_LIMITS.to_owned(), "off".to_owned()),
            ],
            component_env: Vec::new(),
            admin: None,
            extra: Vec::new(),
            nats_auth: false,
            nats_monitor: None,
            progress: Box::new(|_| {}),
        }
    }

    /// The command that builds the binaries, named when one is missing.
    #[must_use]
    pub fn build_hint(mut self, hint: &str) -> Self {
        hint.clone_into(&mut self.build_hint);
        self
    }

    /// Keeps the data in `dir` (PostgreSQL in `pg/`, nx-27017 in `mongo/`, logs in `logs/`),
    /// durably, from one start to the next.
    #[must_use]
    pub fn data_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.data_dir = Some(dir.into());
        self
    }

    /// Writes the processes' logs to `dir` (default: `logs/` in the data directory).
    #[must_use]
    pub fn log_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.log_dir = Some(dir.into());
        self
    }

    /// Listens on `ports` (default: free loopback ports).
    #[must_use]
    pub fn ports(mut self, ports: Ports) -> Self {
        self.ports = ports;
        self
    }

    /// Sets a variable of every service and the gateway (later settings win): `RUST_LOG`
    /// (default `info`), `LOG_FORMAT` (`pretty`), `DISCOVERY_INTERVAL_MS` (`1000`),
    /// `RATE_LIMITS` (`off`), ….
    #[must_use]
    pub fn env(mut self, name: &str, value: impl Into<String>) -> Self {
        self.env.push((name.to_owned(), value.into()));
        self
    }

    /// Sets a variable of one built-in component only (`auth`, `customers`, `products`,
    /// `gateway`), e.g. auth's `JWT_PRIVATE_KEY_FILE`.
    #[must_use]
    pub fn component_env(
        mut self,
        component: &'static str,
        name: &str,
        value: impl Into<String>,
    ) -> Self {
        self.component_env
            .push((component, name.to_owned(), value.into()));
        self
    }

    /// The bootstrap administrator auth creates at start.
    #[must_use]
    pub fn admin(mut self, email: &str, password: &str) -> Self {
        self.admin = Some((email.to_owned(), password.to_owned()));
        self
    }

    /// Adds a service of our own, started after the built-in ones.
    #[must_use]
    pub fn service(mut self, service: Service) -> Self {
        self.extra.push(service);
        self
    }

    /// Gives every component its own NATS user with the permissions a cluster gives it, and
    /// refuses anonymous NATS clients (default: off, so tests and benchmarks may talk to NATS
    /// directly; `make run` turns it on).
    #[must_use]
    pub fn nats_auth(mut self, on: bool) -> Self {
        self.nats_auth = on;
        self
    }

    /// Serves nats-server's HTTP monitoring endpoints (`/varz`, `/routez`, …) on loopback
    /// `port` (default: not served).
    #[must_use]
    pub fn nats_monitor(mut self, port: u16) -> Self {
        self.nats_monitor = Some(port);
        self
    }

    /// Calls `progress` with a line on every step (`starting nats-server on …`).
    #[must_use]
    pub fn progress(mut self, progress: impl Fn(&str) + Send + Sync + 'static) -> Self {
        self.progress = Box::new(progress);
        self
    }

    /// Starts everything in order and waits until the gateway routes every service. On an
    /// error, whatever was started is stopped again.
    ///
    /// # Errors
    /// A port in use, a missing program or binary, or a process that exits or is not ready in
    /// time (with the end of its log).
    pub async fn start(self) -> Result<System, LaunchError> {
        binaries::check(&self.bin_dir, &SYSTEM_BINARIES, &self.build_hint)?;
        self.ports.check_free()?;
        // A port found free may be taken (by a listener or by a client's outgoing connection)
        // before the process binds it; such a start is tried again on other free ports. A
        // fixed port is never moved, so a clash on it still ends the start.
        let mut ports = self.ports.clone();
        let mut attempts = 1;
        loop {
            match self.start_on(ports.clone()).await {
                Err(e) if e.is_port_clash() && ports.has_free() && attempts < PORT_ATTEMPTS => {
                    attempts += 1;
                    (self.progress)(&format!("{e}\ntrying other free ports"));
                    ports = ports.refreshed();
                }
                result => return result,
            }
        }
    }

    /// One start on `ports`.
    async fn start_on(&self, mut ports: Ports) -> Result<System, LaunchError> {
        let (data, temp) = match &self.data_dir {
            // Absolute: PostgreSQL resolves paths from inside its data directory.
            Some(dir) => {
                files::data_dir(dir)?;
                (
                    std::path::absolute(dir)
                        .map_err(LaunchError::io(format!("cannot resolve {}", dir.display())))?,
                    None,
                )
            }
            None => {
                let temp = tempfile::Builder::new()
                    .prefix("natstack-system-")
                    .tempdir()
                    .map_err(LaunchError::io("cannot create a temporary directory"))?;
                // PostgreSQL runs as its own user under root and must reach its data inside.
                std::fs::set_permissions(
                    temp.path(),
                    std::os::unix::fs::PermissionsExt::from_mode(0o755),
                )
                .map_err(LaunchError::io("cannot open the temporary directory"))?;
                (temp.path().to_owned(), Some(temp))
            }
        };
        let durability = if temp.is_some() {
            Durability::Throwaway
        } else {
            Durability::Durable
        };
        let logs = self.log_dir.clone().unwrap_or_else(|| data.join("logs"));
        // Logs name accounts and client addresses.
        files::private_dir(&logs)?;
        // Every health address is fixed here, so the system can name them later.
        let names = [
            deploy::AUTH,
            deploy::CUSTOMERS,
            deploy::PRODUCTS,
            deploy::GATEWAY,
        ];
        for name in names.into_iter().chain(self.extra.iter().map(|s| s.name)) {
            ports.health.entry(name).or_insert_with(Address::free);
        }
        let mut system = System {
            children: Vec::new(),
            ports,
            admin: self.admin.clone(),
            logs,
            nats_users: None,
            parked: std::collections::BTreeSet::new(),
            _temp: temp,
        };
        self.start_into(&mut system, &data, durability).await?;
        Ok(system)
    }

    async fn start_into(
        &self,
        system: &mut System,
        data: &Path,
        durability: Durability,
    ) -> Result<(), LaunchError> {
        let ports = system.ports.clone();
        let say = &self.progress;
        let logs = system.logs.clone();
        if self.nats_auth {
            let mut services = vec![deploy::AUTH, deploy::CUSTOMERS, deploy::PRODUCTS];
            services.extend(self.extra.iter().map(|s| s.name));
            system.nats_users = Some(NatsUsers::new(&services));
        }
        let config = Some(crate::nats_auth::write_config(
            data,
            system.nats_users.as_ref(),
        )?);
        say(&format!("starting nats-server on {}", ports.nats.addr));
        let nats = servers::nats(
            ports.nats.port(),
            config.as_deref(),
            self.nats_monitor,
            &logs.join("nats.log"),
        )
        .await?;
        system.push(nats, Role::Server);
        say(&format!("starting PostgreSQL on {}", ports.postgres.addr));
        let postgres = servers::postgres(
            ports.postgres.port(),
            &data.join("pg"),
            durability,
            &[deploy::CUSTOMERS, deploy::PRODUCTS],
            &logs,
        )
        .await?;
        system.push(postgres, Role::Server);
        say(&format!("starting nx-27017 on {}", ports.mongo.addr));
        // auth's users and refresh tokens.
        let mongo_data = data.join("mongo");
        files::private_dir(&mongo_data)?;
        let mongo = servers::mongo(ports.mongo.port(), &mongo_data, &logs).await?;
        system.push(mongo, Role::Server);

        say("starting auth, customers, products");
        for spec in self.service_specs(system) {
            let child = Child::spawn(spec.clone(), &logs.join(format!("{}.log", spec.name)))?;
            system.push(child, Role::Ours);
        }
        say(&format!("starting the gateway on {}", ports.gateway.addr));
        let mut gateway = self.spec(deploy::GATEWAY, self.bin_dir.join(deploy::GATEWAY), system);
        gateway
            .env
            .push((env::LISTEN_ADDR.to_owned(), ports.gateway.addr.to_string()));
        gateway.env.push((
            env::ROUTE_OWNERS.to_owned(),
            self.route_owners()?.to_string(),
        ));
        apply_overrides(&mut gateway.env, &self.component_env, deploy::GATEWAY);
        let child = Child::spawn(gateway, &logs.join("gateway.log"))?;
        system.push(child, Role::Ours);
        self.wait_routed(system).await
    }

    /// The built-in services with their default prefixes and the extra ones with theirs.
    fn route_owners(&self) -> Result<contract::routes::RouteOwners, LaunchError> {
        let builtin = [deploy::AUTH, deploy::CUSTOMERS, deploy::PRODUCTS]
            .map(|name| (name, contract::routes::default_prefixes(name)));
        let extra = self.extra.iter().map(|s| (s.name, s.prefixes.clone()));
        contract::routes::RouteOwners::new(builtin.into_iter().chain(extra))
            .map_err(|e| LaunchError::Setup(format!("route prefixes: {e}")))
    }

    /// auth, customers, products and the extra services, with their variables.
    fn service_specs(&self, system: &System) -> Vec<Spec> {
        let mut auth = self.spec(deploy::AUTH, self.bin_dir.join(deploy::AUTH), system);
        auth.env
            .push((env::MONGODB_URL.to_owned(), system.mongo_url()));
        if let Some((email, password)) = &self.admin {
            auth.env.push((env::ADMIN_EMAIL.to_owned(), email.clone()));
            auth.env
                .push((env::ADMIN_PASSWORD.to_owned(), password.clone()));
        }
        // customers and products each keep their data in the database named after them.
        let with_database = |name: &'static str| {
            let mut spec = self.spec(name, self.bin_dir.join(name), system);
            spec.env
                .push((env::DATABASE_URL.to_owned(), system.postgres_url(name)));
            spec
        };
        let mut specs = vec![
            auth,
            with_database(deploy::CUSTOMERS),
            with_database(deploy::PRODUCTS),
        ];
        for spec in &mut specs {
            apply_overrides(&mut spec.env, &self.component_env, &spec.name);
        }
        for service in &self.extra {
            let mut spec = self.spec(service.name, service.spec.program.clone(), system);
            spec.args.clone_from(&service.spec.args);
            spec.env.extend(service.spec.env.iter().cloned());
            specs.push(spec);
        }
        specs
    }

    /// A process of ours named `name` with the variables every one reads.
    fn spec(&self, name: &'static str, program: PathBuf, system: &System) -> Spec {
        let mut spec = Spec::new(name, program);
        spec.env = vec![
            (env::NATS_URL.to_owned(), system.nats_url()),
            (
                env::HEALTH_ADDR.to_owned(),
                system.ports.health_of(name).addr.to_string(),
            ),
            (env::OTEL_SERVICE_NAME.to_owned(), name.to_owned()),
        ];
        if let Some(users) = &system.nats_users {
            spec.env.extend(users.env_of(name));
        }
        spec.env.extend(self.env.iter().cloned());
        spec
    }

    /// Waits until the gateway routes a subject of every service.
    async fn wait_routed(&self, system: &mut System) -> Result<(), LaunchError> {
        let mut subjects: Vec<String> = ROUTED.iter().map(|s| (*s).to_owned()).collect();
        subjects.extend(self.extra.iter().flat_map(|s| s.routes.iter().cloned()));
        // `/services` is served on the gateway's health listener, not on its API port.
        let api = Api::new(&system.gateway_health_url());
        let deadline = tokio::time::Instant::now() + ROUTED_TIMEOUT;
        loop {
            if api.routes_all(&subjects).await {
                return Ok(());
            }
            system.check_alive()?;
            if tokio::time::Instant::now() > deadline {
                return Err(LaunchError::NotReady {
                    what: format!("the gateway routing {subjects:?}"),
                    seconds: ROUTED_TIMEOUT.as_secs(),
                    log: system.logs.clone(),
                });
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// Applies the settings of `component` from `overrides` (later ones win when read).
fn apply_overrides(
    env: &mut Vec<(String, String)>,
    overrides: &[(&'static str, String, String)],
    component: &str,
) {
    env.extend(
        overrides
            .iter()
            .filter(|(c, _, _)| *c == component)
            .map(|(_, k, v)| (k.clone(), v.clone())),
    );
}
