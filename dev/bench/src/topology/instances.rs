//! The processes of a stack run by the harness, found in `/proc` as its descendants and
//! grouped into components by program name: two gateway processes are the component
//! `gateway`, three nats-servers the component `nats-server`, and PostgreSQL is its postmaster's
//! process tree. A component's CPU per request is the sum over its instances.

use std::collections::BTreeMap;

use crate::memory::{Kind, Tracked, tree};

/// The harness's own component: the Service proxies standing in for kube-proxy (which a
/// cluster does in the kernel), the probes and the supervision of every pod.
pub const HARNESS: &str = "stack-run";
/// natstack's own programs (the 30 MiB budget applies to each instance).
const OURS: [&str; 4] = [
    contract::deploy::GATEWAY,
    contract::deploy::AUTH,
    contract::deploy::CUSTOMERS,
    contract::deploy::PRODUCTS,
];
/// PostgreSQL's program name (postmaster and backends alike).
pub const POSTGRES: &str = "postgres";
/// Separates a component from an instance's pid in a tracked name.
const SEPARATOR: char = '#';

/// One process of the stack.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Instance {
    /// The component it is an instance of (its program's name).
    pub component: String,
    /// Its process id.
    pub pid: u32,
    /// How its CPU and memory are read.
    pub kind: Kind,
}

impl Instance {
    /// The instance as the CPU meter and the memory sampler see it: `component#pid`.
    pub fn tracked(&self) -> Tracked {
        Tracked::new(
            format!("{}{SEPARATOR}{}", self.component, self.pid),
            self.pid,
            self.kind,
        )
    }
}

/// The component of a tracked name (`gateway#123` → `gateway`; a plain name is its own).
pub fn component_of(name: &str) -> &str {
    name.split_once(SEPARATOR).map_or(name, |(c, _)| c)
}

/// Sums per-instance figures into per-component ones.
pub fn sum_by_component(per_instance: &BTreeMap<String, f64>) -> BTreeMap<String, f64> {
    let mut out = BTreeMap::new();
    for (name, value) in per_instance {
        *out.entry(component_of(name).to_owned()).or_insert(0.0) += value;
    }
    out
}

/// Instances per component.
pub fn count_by_component(instances: &[Instance]) -> BTreeMap<String, usize> {
    let mut out = BTreeMap::new();
    for i in instances {
        *out.entry(i.component.clone()).or_insert(0) += 1;
    }
    out
}

/// What the processes are: `(pid, parent pid, program name)` → instances. The harness itself
/// is [`HARNESS`]; a PostgreSQL process whose parent is PostgreSQL is a backend or an
/// auxiliary process, counted in its postmaster's tree, not on its own.
pub fn classify(harness: u32, processes: &[(u32, u32, String)]) -> Vec<Instance> {
    let name_of = |pid: u32| {
        processes
            .iter()
            .find(|(p, _, _)| *p == pid)
            .map(|(_, _, n)| n.as_str())
    };
    processes
        .iter()
        .filter_map(|(pid, parent, name)| {
            if *pid == harness {
                return Some(Instance {
                    component: HARNESS.to_owned(),
                    pid: *pid,
                    kind: Kind::Server,
                });
            }
            let kind = if name == POSTGRES {
                if name_of(*parent) == Some(POSTGRES) {
                    return None;
                }
                Kind::ServerTree
            } else if OURS.contains(&name.as_str()) {
                Kind::Ours
            } else {
                Kind::Server
            };
            Some(Instance {
                component: name.clone(),
                pid: *pid,
                kind,
            })
        })
        .collect()
}

/// The harness and every process descended from it, now.
pub fn discover(harness: u32) -> Vec<Instance> {
    let processes: Vec<(u32, u32, String)> = tree(harness)
        .into_iter()
        .filter_map(|pid| {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
            Some((pid, parent_of(&stat)?, name_of(&stat)?.to_owned()))
        })
        .collect();
    classify(harness, &processes)
}

/// The program name in a `/proc/<pid>/stat` line (between the first `(` and the last `)`).
fn name_of(stat: &str) -> Option<&str> {
    Some(&stat[stat.find('(')? + 1..stat.rfind(')')?])
}

/// The parent pid in a `/proc/<pid>/stat` line (fields counted after the last `)`).
fn parent_of(stat: &str) -> Option<u32> {
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(1)?.parse().ok()
}

/// The value of `key` in a `/proc/<pid>/environ` (NUL-separated `KEY=value`).
pub fn env_value(environ: &[u8], key: &str) -> Option<String> {
    environ.split(|b| *b == 0).find_map(|entry| {
        let entry = std::str::from_utf8(entry).ok()?;
        let (k, v) = entry.split_once('=')?;
        (k == key).then(|| v.to_owned())
    })
}

/// A `-c name=value` server setting in a `/proc/<pid>/cmdline` (NUL-separated arguments,
/// `-c` apart or joined).
pub fn setting(cmdline: &[u8], name: &str) -> Option<String> {
    let prefix = format!("{name}=");
    cmdline.split(|b| *b == 0).find_map(|arg| {
        let arg = std::str::from_utf8(arg).ok()?;
        let arg = arg.strip_prefix("-c").unwrap_or(arg);
        arg.strip_prefix(prefix.as_str()).map(str::to_owned)
    })
}

/// `/proc/<pid>/<file>`, empty when it cannot be read.
pub fn proc_file(pid: u32, file: &str) -> Vec<u8> {
    std::fs::read(format!("/proc/{pid}/{file}")).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn process(pid: u32, parent: u32, name: &str) -> (u32, u32, String) {
        (pid, parent, name.to_owned())
    }

    #[test]
    fn instances_are_grouped_by_program_and_postgres_by_its_postmaster() {
        let processes = [
            process(10, 1, "stack-run"),
            process(11, 10, "nats-server"),
            process(12, 10, "nats-server"),
            process(13, 10, "nats-server"),
            process(20, 10, "postgres"),
            process(21, 20, "postgres"),
            process(22, 20, "postgres"),
            process(30, 10, "gateway"),
            process(31, 10, "gateway"),
            process(40, 10, "products"),
        ];
        let found = classify(10, &processes);
        let counts = count_by_component(&found);
        assert_eq!(counts["nats-server"], 3);
        assert_eq!(counts["gateway"], 2);
        assert_eq!(counts[POSTGRES], 1, "backends are in the postmaster's tree");
        assert_eq!(counts[HARNESS], 1);
        let postmaster = found.iter().find(|i| i.component == POSTGRES).unwrap();
        assert_eq!((postmaster.pid, postmaster.kind), (20, Kind::ServerTree));
        let gateway = found.iter().find(|i| i.pid == 30).unwrap();
        assert_eq!(gateway.kind, Kind::Ours);
        assert_eq!(gateway.tracked().name, "gateway#30");
    }

    #[test]
    fn figures_are_summed_over_instances() {
        let per_instance: BTreeMap<String, f64> = [
            ("gateway#30", 10.0),
            ("gateway#31", 12.5),
            ("nats-server#11", 1.0),
            ("nats-server#12", 2.0),
            ("nats-server#13", 3.0),
            ("bench", 7.0),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        let sums = sum_by_component(&per_instance);
        assert_eq!(sums.len(), 3);
        assert!((sums["gateway"] - 22.5).abs() < 1e-9);
        assert!((sums["nats-server"] - 6.0).abs() < 1e-9);
        assert!((sums["bench"] - 7.0).abs() < 1e-9);
    }

    #[test]
    fn stat_environ_and_cmdline_fields_are_read() {
        let stat = "42 (my (odd) cmd) S 7 42 42 0";
        assert_eq!(name_of(stat), Some("my (odd) cmd"));
        assert_eq!(parent_of(stat), Some(7));
        let environ = b"A=1\0DATABASE_MAX_CONNECTIONS=7\0B=x=y\0";
        assert_eq!(
            env_value(environ, "DATABASE_MAX_CONNECTIONS").as_deref(),
            Some("7")
        );
        assert_eq!(env_value(environ, "B").as_deref(), Some("x=y"));
        assert_eq!(env_value(environ, "C"), None);
        let cmdline = b"postgres\0-D\0/data\0-c\0max_connections=100\0";
        assert_eq!(setting(cmdline, "max_connections").as_deref(), Some("100"));
        assert_eq!(
            setting(b"postgres\0-cmax_connections=50\0", "max_connections").as_deref(),
            Some("50")
        );
        assert_eq!(setting(b"postgres\0", "max_connections"), None);
    }

    #[test]
    fn this_process_is_found_under_its_own_tree() {
        let me = std::process::id();
        let found = discover(me);
        assert_eq!(found[0].component, HARNESS);
        assert_eq!(found[0].pid, me);
    }
}
