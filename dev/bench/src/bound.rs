//! The best a gateway could do on this machine, from the same run's figures: what a gateway
//! doing nothing but answering HTTP and making one NATS request would cost per request, and the
//! share of direct NATS throughput it would keep.
//!
//! With the load generator on the same cores, throughput follows the CPU all processes spend
//! per request. A direct run spends `direct` µs in all (service, nats-server, the load
//! generator's NATS client). Through a gateway, the load generator speaks HTTP instead of NATS
//! (its floor-run cost instead of its direct-run cost) and the gateway adds its own. The least
//! a gateway can add is HTTP handling (the floor server, answering the same bytes) plus one NATS
//! request (what the load generator's NATS client, the same `runtime::Requester`, spends on
//! one). So no gateway keeps more than
//! `direct / (direct + floor + nats_client + http_client − nats_client)` here.
//!
//! The bare proxy ([`crate::proxy`]) is that gateway built and run: where the run has it, its
//! measured CPU per request and share of direct throughput are shown beside the sum.

use crate::report::{FLOOR, LOAD_GENERATOR, PROXY, Report, RunRecord, Via};

/// The bound at one concurrency level.
#[derive(Debug, Clone, PartialEq)]
pub struct Bound {
    /// The operation.
    pub operation: String,
    /// Concurrent clients.
    pub concurrency: usize,
    /// µs of CPU per request of a gateway doing only HTTP and one NATS request.
    pub minimal_gateway_us: f64,
    /// The share of direct throughput such a gateway would keep.
    pub ratio: f64,
    /// The bare proxy's measured µs of CPU per request and share of direct throughput.
    pub measured: Option<(f64, f64)>,
}

fn find<'a>(report: &'a Report, like: &RunRecord, via: Via) -> Option<&'a RunRecord> {
    report.runs.iter().find(|r| {
        r.via == via && r.operation == like.operation && r.concurrency == like.concurrency
    })
}

/// The bound of every operation and concurrency level with a direct and a floor run.
pub fn bounds(report: &Report) -> Vec<Bound> {
    report
        .runs
        .iter()
        .filter(|r| r.via == Via::Floor)
        .filter_map(|floor_run| {
            let direct = find(report, floor_run, Via::Nats)?;
            let floor = *floor_run.cpu_us_per_request.get(FLOOR)?;
            let http_client = *floor_run.cpu_us_per_request.get(LOAD_GENERATOR)?;
            let nats_client = *direct.cpu_us_per_request.get(LOAD_GENERATOR)?;
            let direct_total: f64 = direct.cpu_us_per_request.values().sum();
            let minimal_gateway_us = floor + nats_client;
            let through = direct_total + minimal_gateway_us + (http_client - nats_client);
            let measured = find(report, floor_run, Via::Proxy).and_then(|proxy| {
                Some((
                    *proxy.cpu_us_per_request.get(PROXY)?,
                    proxy.gateway_over_direct?,
                ))
            });
            Some(Bound {
                operation: floor_run.operation.clone(),
                concurrency: floor_run.concurrency,
                minimal_gateway_us,
                ratio: direct_total / through.max(f64::EPSILON),
                measured,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn run(via: Via, cpu: &[(&str, f64)]) -> RunRecord {
        RunRecord {
            operation: "GET /echo".into(),
            via,
            concurrency: 64,
            requests: 1,
            rps: 1.0,
            p50_ms: 0.0,
            p90_ms: 0.0,
            p99_ms: 0.0,
            max_ms: 0.0,
            errors: 0,
            error_samples: Vec::new(),
            gateway_over_direct: None,
            cpu_us_per_request: cpu
                .iter()
                .map(|(p, us)| ((*p).to_owned(), *us))
                .collect::<BTreeMap<_, _>>(),
        }
    }

    #[test]
    fn the_bound_adds_the_floor_and_one_nats_request_to_the_direct_cost() {
        let mut report = crate::report::tests::report();
        report.runs = vec![
            // 9.2 + 7.3 + 6.1 = 22.6 µs per request directly.
            run(
                Via::Nats,
                &[("echo", 9.2), ("nats-server", 7.3), (LOAD_GENERATOR, 6.1)],
            ),
            run(Via::Floor, &[(FLOOR, 7.1), (LOAD_GENERATOR, 7.5)]),
        ];
        let bounds = bounds(&report);
        assert_eq!(bounds.len(), 1);
        let b = &bounds[0];
        assert!((b.minimal_gateway_us - 13.2).abs() < 1e-9, "{b:?}");
        // 22.6 / (22.6 + 13.2 + 1.4)
        assert!((b.ratio - 22.6 / 37.2).abs() < 1e-9, "{b:?}");

        assert_eq!(b.measured, None, "no bare proxy run");
        let text = report.render(None);
        assert!(
            text.contains("13.2 µs per request, at most 0.61 of direct NATS"),
            "{text}"
        );

        // The bare proxy's run, when there is one, is shown beside the sum.
        let mut proxy = run(Via::Proxy, &[(PROXY, 12.4), (LOAD_GENERATOR, 7.4)]);
        proxy.gateway_over_direct = Some(0.57);
        report.runs.push(proxy);
        assert_eq!(super::bounds(&report)[0].measured, Some((12.4, 0.57)));
        let text = report.render(None);
        assert!(
            text.contains("measured: the bare proxy 12.4 µs, 0.57 of direct"),
            "{text}"
        );

        // Without a direct run there is nothing to compare with.
        report.runs.remove(0);
        assert!(super::bounds(&report).is_empty());
    }
}
