//! The launcher against the real servers and the debug binaries: a start and stop leaves no
//! process behind, another nx-27017 on the machine does not get in the way, a port in use is an
//! error naming its variable, a free port taken before its server binds it is replaced, and the children of a killed `natstack-run` die with it.

use std::io::{BufRead as _, BufReader};
use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use launcher::binaries::{SYSTEM_BINARIES, debug_dir};
use launcher::{Address, LaunchError, Ports, System};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use testbed::free_port;
use testbed::programs::find;

/// `pid` and every process descended from it, from `/proc`.
fn tree(pid: u32) -> Vec<u32> {
    let mut out = vec![pid];
    let mut i = 0;
    while i < out.len() {
        let parent = out[i];
        for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
            let Ok(child) = entry.file_name().to_string_lossy().parse::<u32>() else {
                continue;
            };
            let stat = std::fs::read_to_string(entry.path().join("stat")).unwrap_or_default();
            // `pid (comm) state ppid …`; comm may contain spaces, so split after the last ')'.
            let ppid = stat
                .rsplit_once(')')
                .and_then(|(_, rest)| rest.split_whitespace().nth(1))
                .and_then(|p| p.parse::<u32>().ok());
            if ppid == Some(parent) && !out.contains(&child) {
                out.push(child);
            }
        }
        i += 1;
    }
    out
}

/// Whether `pid` runs (a zombie counts as gone).
fn running(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        !stat
            .rsplit_once(')')
            .is_some_and(|(_, r)| r.trim_start().starts_with('Z'))
    })
}

/// Waits up to 20 s until none of `pids` runs.
async fn wait_gone(pids: &[u32]) {
    testbed::wait_until("every process is gone", Duration::from_secs(20), || async {
        !pids.iter().any(|p| running(*p))
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn start_and_stop_leave_no_process_even_beside_another_nx_27017() {
    // Another nx-27017 with its defaults (a fixed pid file and log file per machine), as a
    // `make run` elsewhere or a developer would run it.
    let foreign_dir = tempfile::tempdir().unwrap();
    let mut foreign = Command::new(find("nx-27017", "NX_27017_BIN", "make setup").unwrap())
        .args(["--host", "127.0.0.1", "--port", &free_port().to_string()])
        .arg("--data-dir")
        .arg(foreign_dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();

    let system = System::builder(debug_dir(&SYSTEM_BINARIES))
        .admin("admin@example.com", "admin-password-123")
        .start()
        .await
        .unwrap_or_else(|e| panic!("the system did not start: {e}"));
    // The operational endpoints answer on the gateway's health listener, not on the API.
    let health = testbed::http::Api::new(&system.gateway_health_url());
    assert_eq!(
        health.call("GET", "/services", None, None).await.status,
        200
    );
    assert_eq!(health.call("GET", "/metrics", None, None).await.status, 200);
    for path in ["/services", "/metrics"] {
        assert_eq!(system.api().call("GET", path, None, None).await.status, 404);
    }
    let processes = system.processes();
    let names: Vec<&str> = processes.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "nats-server",
            "postgres",
            "nx-27017",
            "auth",
            "customers",
            "products",
            "gateway"
        ]
    );
    let pids: Vec<u32> = system
        .processes()
        .iter()
        .flat_map(|p| tree(p.pid))
        .collect();
    assert!(
        pids.len() > names.len(),
        "PostgreSQL's backends are counted too"
    );
    assert!(pids.iter().all(|p| running(*p)));
    system.stop();
    wait_gone(&pids).await;

    let _ = foreign.kill();
    let _ = foreign.wait();
}

#[tokio::test]
async fn a_port_in_use_names_the_variable_to_set() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let mut ports = Ports::free();
    ports.nats = Address::loopback(port, "NATS_PORT");
    let err = System::builder(debug_dir(&SYSTEM_BINARIES))
        .ports(ports)
        .start()
        .await
        .unwrap_err();
    assert!(matches!(err, LaunchError::PortInUse { .. }), "{err:?}");
    assert_eq!(
        err.to_string(),
        format!("port {port} is in use (set NATS_PORT to another one)")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_free_port_taken_before_its_server_binds_it_is_replaced() {
    // As another test's client or server would take it between the check and the bind.
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let mut ports = Ports::free();
    ports.nats = Address {
        addr: taken.local_addr().unwrap(),
        variable: None,
    };
    let lines = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let seen = lines.clone();
    let system = System::builder(debug_dir(&SYSTEM_BINARIES))
        .ports(ports)
        .progress(move |l| seen.lock().unwrap().push(l.to_owned()))
        .start()
        .await
        .unwrap_or_else(|e| panic!("the system did not start: {e}"));
    assert!(!system.nats_url().ends_with(&format!(":{port}")));
    let lines = lines.lock().unwrap().join("\n");
    assert!(
        lines.contains("nats-server exited") && lines.contains("trying other free ports"),
        "{lines}"
    );
    system.stop();
}

/// Starts `natstack-run` on free ports with its data in `data` (and `admin`'s login from the
/// environment, if given), waits for its banner and returns it with its process tree and its
/// NATS port.
///
/// Its ports are fixed ones to it (set by variables, as `make run` sets them), so it never
/// moves them: a port found free here and taken by another test before natstack-run binds it
/// ends that run with "in use", and the start is tried again on other free ports.
async fn natstack_run(
    data: &Path,
    admin: Option<(&str, &str)>,
) -> (std::process::Child, Vec<u32>, u16) {
    for _ in 1..3 {
        match natstack_run_once(data, admin).await {
            Ok(started) => return started,
            Err(stderr) if stderr.contains("in use") => {}
            Err(stderr) => panic!("natstack-run exited before the system was up:\n{stderr}"),
        }
    }
    natstack_run_once(data, admin)
        .await
        .unwrap_or_else(|stderr| panic!("natstack-run exited before the system was up:\n{stderr}"))
}

/// One start of `natstack-run` (see [`natstack_run`]); its standard error if it exits first.
async fn natstack_run_once(
    data: &Path,
    admin: Option<(&str, &str)>,
) -> Result<(std::process::Child, Vec<u32>, u16), String> {
    let nats_port = free_port();
    // PostgreSQL runs as its own user under root and must reach its data inside.
    std::fs::set_permissions(data, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let addr = |p: u16| format!("127.0.0.1:{p}");
    let mut command = Command::new(debug_dir(&["natstack-run"]).join("natstack-run"));
    command
        .env_remove("ADMIN_EMAIL")
        .env_remove("ADMIN_PASSWORD");
    if let Some((email, password)) = admin {
        command
            .env("ADMIN_EMAIL", email)
            .env("ADMIN_PASSWORD", password);
    }
    let mut run = command
        .arg("--data-dir")
        .arg(data)
        .env("GATEWAY_ADDR", addr(free_port()))
        .env("NATS_PORT", nats_port.to_string())
        .env("PG_PORT", free_port().to_string())
        .env("MONGO_PORT", free_port().to_string())
        .env("HEALTH_GATEWAY", addr(free_port()))
        .env("HEALTH_AUTH", addr(free_port()))
        .env("HEALTH_CUSTOMERS", addr(free_port()))
        .env("HEALTH_PRODUCTS", addr(free_port()))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = run.stdout.take().unwrap();
    let up = tokio::task::spawn_blocking(move || {
        BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
            .any(|l| l.contains("natstack is up"))
    });
    let is_up = tokio::time::timeout(Duration::from_secs(180), up)
        .await
        .expect("natstack-run neither came up nor exited within 180 s")
        .unwrap();
    if !is_up {
        let output = run.wait_with_output().unwrap();
        return Err(String::from_utf8_lossy(&output.stderr).into_owned());
    }
    let pids = tree(run.id());
    assert!(
        pids.len() > 8,
        "the launcher, 7 processes and PostgreSQL's: {pids:?}"
    );
    Ok((run, pids, nats_port))
}

/// What nats-server answers a client that sends `commands` (a `CONNECT` first), then a `PING`.
fn nats_session(port: u16, commands: &str) -> String {
    use std::io::{Read as _, Write as _};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    stream
        .write_all(format!("{commands}PING\r\n").as_bytes())
        .unwrap();
    let mut answer = Vec::new();
    let mut buf = [0u8; 4096];
    // Until the server answers the PING or refuses (and closes).
    while let Ok(n) = stream.read(&mut buf) {
        if n == 0 {
            break;
        }
        answer.extend_from_slice(&buf[..n]);
        let text = String::from_utf8_lossy(&answer);
        if text.contains("PONG") || text.contains("-ERR") {
            break;
        }
    }
    String::from_utf8_lossy(&answer).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_children_of_a_killed_natstack_run_die_with_it() {
    let data = tempfile::tempdir().unwrap();
    let (mut run, pids, nats_port) = natstack_run(data.path(), None).await;
    // The components are up with their own NATS users; a client without one is refused.
    let answer = nats_session(nats_port, "CONNECT {\"verbose\":false}\r\n");
    assert!(
        answer.contains("-ERR 'Authorization Violation'") && !answer.contains("PONG"),
        "{answer}"
    );
    // Nor may a component publish what only the gateway may: customers cannot delete products.
    let conf = std::fs::read_to_string(data.path().join("nats.conf")).unwrap();
    let password = conf
        .split("user: \"customers\", password: \"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap();
    let connect = format!(
        "CONNECT {{\"verbose\":false,\"user\":\"customers\",\"pass\":\"{password}\"}}\r\n\
         PUB products.delete 2\r\n{{}}\r\n"
    );
    let answer = nats_session(nats_port, &connect);
    assert!(
        answer.contains("Permissions Violation for Publish to \"products.delete\""),
        "{answer}"
    );
    // nats-server runs JetStream with its store in the data directory, and the gateway put
    // the events stream there.
    let stream = data
        .path()
        .join("jetstream/jetstream/$G/streams")
        .join(contract::events::STREAM);
    testbed::wait_until(
        "the events stream is stored",
        Duration::from_secs(15),
        || {
            let stream = stream.clone();
            async move { stream.is_dir() }
        },
    )
    .await;
    // The generated login is kept in the data directory, readable by its owner only.
    let admin = std::fs::read_to_string(data.path().join("admin.env")).unwrap();
    assert!(admin.starts_with("ADMIN_EMAIL=admin@example.com\nADMIN_PASSWORD="));
    let mode = |path: &Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&data.path().join("admin.env")), 0o600);
    assert_eq!(mode(&data.path().join("nats.conf")), 0o600);
    for dir in ["logs", "mongo"] {
        assert_eq!(mode(&data.path().join(dir)), 0o700, "{dir}");
    }
    // Others may at most pass through the data directory (PostgreSQL's user, under root).
    assert_eq!(mode(data.path()) & 0o066, 0, "{:o}", mode(data.path()));
    if data.path().join("jwt.pem").exists() {
        assert_eq!(mode(&data.path().join("jwt.pem")), 0o600);
    }

    run.kill().unwrap();
    run.wait().unwrap();
    wait_gone(&pids).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_signal_does_not_cut_the_stop_short() {
    let data = tempfile::tempdir().unwrap();
    let (mut run, pids, _) = natstack_run(
        data.path(),
        Some(("root@example.com", "given-password-123")),
    )
    .await;
    // The password given to the launcher reaches auth only, not every process.
    let with_password: Vec<String> = pids[1..]
        .iter()
        .filter(|p| {
            std::fs::read(format!("/proc/{p}/environ")).is_ok_and(|env| {
                env.split(|b| *b == 0)
                    .any(|v| v.starts_with(b"ADMIN_PASSWORD="))
            })
        })
        .map(|p| {
            std::fs::read_to_string(format!("/proc/{p}/comm"))
                .unwrap_or_default()
                .trim()
                .to_owned()
        })
        .collect();
    assert_eq!(with_password, ["auth"]);
    let launcher = Pid::from_raw(i32::try_from(run.id()).unwrap());
    kill(launcher, Signal::SIGTERM).unwrap();
    // The second signal must come during the stop, not race the first one (both pending at
    // once, either could be read first): wait until the stop has taken a process down.
    testbed::wait_until("the stop has begun", Duration::from_secs(20), || async {
        pids[1..].iter().any(|p| !running(*p))
    })
    .await;
    kill(launcher, Signal::SIGINT).unwrap();
    let status = run.wait().unwrap();
    assert_eq!(
        status.code(),
        Some(143),
        "it exits as SIGTERM asked, after stopping"
    );
    // Everything stopped before the launcher exited, not after.
    assert!(!pids[1..].iter().any(|p| running(*p)), "{pids:?}");
}
