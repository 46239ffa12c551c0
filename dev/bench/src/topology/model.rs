//! The capacity model's arithmetic: a component's cores per 1,000 req/s from its CPU µs per
//! request, the throughput a CPU-bound machine reaches, and the prediction for a mixed load
//! checked against a measured one.
//!
//! A request of operation *i* costs the machine `S_i` µs of CPU summed over every process
//! (the load generator and the harness included, since they share the cores). Once the cores
//! are saturated, throughput ≈ `C / S_i`, with `C` the CPU µs per second the processes get
//! (`cores × 10⁶` on an otherwise idle machine). With closed-loop clients split evenly between
//! several operations, the cores are shared by the requests in flight (processor sharing):
//! each of the `n` operations gets `C / n` and completes `C / (n · S_i)` requests a second.

/// Cores a component needs per 1,000 requests a second, from its µs of CPU per request.
pub fn cores_per_thousand(us_per_request: f64) -> f64 {
    us_per_request * 1_000.0 / 1e6
}

/// Requests a second `cpu_us_per_s` µs of CPU a second serve at `us_per_request` each.
pub fn throughput(cpu_us_per_s: f64, us_per_request: f64) -> f64 {
    if us_per_request <= 0.0 {
        return 0.0;
    }
    cpu_us_per_s / us_per_request
}

/// The total throughput of a closed loop whose clients are split evenly between operations
/// costing `us_per_request` each, on `cpu_us_per_s` of CPU (processor sharing).
pub fn mixed_throughput(cpu_us_per_s: f64, us_per_request: &[f64]) -> f64 {
    let n = us_per_request.len() as f64;
    us_per_request
        .iter()
        .map(|s| throughput(cpu_us_per_s / n, *s))
        .sum()
}

/// How far a prediction is from the measurement, as a signed fraction of the measurement.
pub fn off_by(predicted: f64, measured: f64) -> f64 {
    if measured <= 0.0 {
        return f64::INFINITY;
    }
    (predicted - measured) / measured
}

/// The CPU µs a second the processes used in a run: throughput × µs per request.
pub fn busy(rps: f64, us_per_request: f64) -> f64 {
    rps * us_per_request
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9 * b.abs().max(1.0)
    }

    #[test]
    fn the_rule_and_the_prediction() {
        // 50 µs a request: 0.05 cores per 1,000 req/s; 2 cores serve 40,000 req/s.
        assert!(close(cores_per_thousand(50.0), 0.05));
        assert!(close(throughput(2e6, 50.0), 40_000.0));
        assert_eq!(throughput(2e6, 0.0), 0.0);
        // Half the clients on a 100 µs operation, half on a 400 µs one, 2 cores: each half
        // gets a core, 10,000 + 2,500 req/s.
        assert!(close(mixed_throughput(2e6, &[100.0, 400.0]), 12_500.0));
        // One operation alone is the plain rule.
        assert!(close(
            mixed_throughput(2e6, &[100.0]),
            throughput(2e6, 100.0)
        ));
        assert!(close(off_by(11_000.0, 10_000.0), 0.1));
        assert!(close(off_by(9_000.0, 10_000.0), -0.1));
        assert!(off_by(1.0, 0.0).is_infinite());
        assert!(close(busy(10_000.0, 190.0), 1.9e6));
    }
}
