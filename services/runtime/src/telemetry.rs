//! Logging and tracing set-up: `RUST_LOG` filtering, JSON or human-readable output, and
//! OpenTelemetry export over OTLP/HTTP when an endpoint is configured.

use std::sync::atomic::{AtomicBool, Ordering};

use std::io::IsTerminal as _;

use opentelemetry::KeyValue;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::WithExportConfig;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::{Sampler, SdkTracerProvider};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer, Registry};

use crate::config::{LogFormat, TelemetryArgs};

/// Why telemetry could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum TelemetryError {
    /// `RUST_LOG` does not parse.
    #[error("invalid RUST_LOG: {0}")]
    Filter(#[from] tracing_subscriber::filter::ParseError),
    /// The OTLP exporter could not be built.
    #[error("cannot set up OTLP export: {0}")]
    Exporter(#[from] opentelemetry_otlp::ExporterBuildError),
    /// `OTEL_TRACES_SAMPLER` names no sampler, or its ratio is not between 0 and 1.
    #[error("invalid trace sampler: {0}")]
    Sampler(String),
    /// A global subscriber was already installed.
    #[error("tracing is already initialised: {0}")]
    AlreadySet(#[from] tracing_subscriber::util::TryInitError),
}

/// Whether an [`otel_layer`] was made in this process ([`init`] makes one for an OTLP endpoint).
static EXPORTING: AtomicBool = AtomicBool::new(false);

/// Whether spans may leave the process (an [`otel_layer`] was made). Span fields only the
/// exported trace shows can be skipped when not: with logs alone, recording a field costs a
/// re-formatting of the span's fields and shows nowhere the event itself does not.
pub fn exporting() -> bool {
    EXPORTING.load(Ordering::Relaxed)
}

/// Keeps trace export alive; dropping it flushes and stops the exporter.
#[derive(Debug)]
#[must_use = "dropping the guard stops trace export"]
pub struct TelemetryGuard {
    provider: Option<SdkTracerProvider>,
}

impl Drop for TelemetryGuard {
    fn drop(&mut self) {
        if let Some(provider) = self.provider.take()
            && let Err(e) = provider.shutdown()
        {
            eprintln!("trace export shutdown failed: {e}");
        }
    }
}

/// The sampler named as `OTEL_TRACES_SAMPLER` names it, with the ratio `arg` for the ratio
/// samplers (default 1); `parentbased_always_on` when `name` is unset.
///
/// # Errors
/// [`TelemetryError::Sampler`] for an unknown name or a ratio outside 0..=1.
pub fn sampler(name: Option<&str>, arg: Option<f64>) -> Result<Sampler, TelemetryError> {
    let ratio = arg.unwrap_or(1.0);
    if !(0.0..=1.0).contains(&ratio) {
        return Err(TelemetryError::Sampler(format!(
            "the ratio {ratio} is not between 0 and 1"
        )));
    }
    let parent_based = |root: Sampler| Sampler::ParentBased(Box::new(root));
    Ok(
        match name.map(str::trim).unwrap_or("parentbased_always_on") {
            "always_on" => Sampler::AlwaysOn,
            "always_off" => Sampler::AlwaysOff,
            "traceidratio" => Sampler::TraceIdRatioBased(ratio),
            "parentbased_always_on" | "" => parent_based(Sampler::AlwaysOn),
            "parentbased_always_off" => parent_based(Sampler::AlwaysOff),
            "parentbased_traceidratio" => parent_based(Sampler::TraceIdRatioBased(ratio)),
            other => {
                return Err(TelemetryError::Sampler(format!(
                    "unknown sampler {other:?}"
                )));
            }
        },
    )
}

/// The `key=value` pairs of an `OTEL_RESOURCE_ATTRIBUTES` value (empty parts skipped).
#[must_use]
pub fn resource_attributes(text: &str) -> Vec<KeyValue> {
    text.split(',')
        .filter_map(|pair| pair.split_once('='))
        .map(|(key, value)| (key.trim(), value.trim()))
        .filter(|(key, _)| !key.is_empty())
        .map(|(key, value)| KeyValue::new(key.to_owned(), value.to_owned()))
        .collect()
}

/// A tracer provider exporting spans of `service` over OTLP/HTTP to `args.otlp_endpoint` (the
/// collector's base URL; `/v1/traces` is appended), sampled and attributed as `args` says;
/// `None` when no endpoint is set.
///
/// # Errors
/// When the exporter cannot be built or the sampler settings are invalid.
pub fn otlp_provider(
    service: &str,
    args: &TelemetryArgs,
) -> Result<Option<SdkTracerProvider>, TelemetryError> {
    let Some(endpoint) = args
        .otlp_endpoint
        .as_deref()
        .filter(|e| !e.trim().is_empty())
    else {
        return Ok(None);
    };
    let sampler = sampler(args.traces_sampler.as_deref(), args.traces_sampler_arg)?;
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_endpoint(format!("{}/v1/traces", endpoint.trim_end_matches('/')))
        .build()?;
    let attributes = args
        .resource_attributes
        .as_deref()
        .map(resource_attributes)
        .unwrap_or_default();
    Ok(Some(
        SdkTracerProvider::builder()
            .with_batch_exporter(exporter)
            .with_sampler(sampler)
            .with_resource(
                Resource::builder()
                    .with_attributes(attributes)
                    // The binary's own name wins over a `service.name` attribute.
                    .with_service_name(service.to_owned())
                    .build(),
            )
            .build(),
    ))
}

/// The tracing layer that turns spans into OpenTelemetry spans of `provider`.
pub fn otel_layer<S>(provider: &SdkTracerProvider, service: &str) -> impl Layer<S>
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
{
    EXPORTING.store(true, Ordering::Relaxed);
    tracing_opentelemetry::layer().with_tracer(provider.tracer(service.to_owned()))
}

/// Installs the global subscriber for `service`: the `RUST_LOG` filter (default `info`), the
/// chosen log format, and OTLP export when `args.otlp_endpoint` is set.
pub fn init(service: &str, args: &TelemetryArgs) -> Result<TelemetryGuard, TelemetryError> {
    let filter = match std::env::var(contract::deploy::env::RUST_LOG) {
        Ok(value) if !value.trim().is_empty() => EnvFilter::try_new(value)?,
        _ => EnvFilter::new("info"),
    };
    let fmt = match args.log_format {
        LogFormat::Json => tracing_subscriber::fmt::layer()
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .boxed(),
        // Colours only for a terminal: in a file or a log collector they are noise.
        LogFormat::Pretty => tracing_subscriber::fmt::layer()
            .compact()
            .with_ansi(std::io::stdout().is_terminal())
            .boxed(),
    };
    let provider = otlp_provider(service, args)?;
    let otel = provider
        .as_ref()
        .map(|p| otel_layer::<Registry>(p, service));
    // `RUST_LOG` is one global filter (a plain layer, not a per-layer filter): a span or event
    // it drops is neither logged nor exported, so both outputs always show the same picture.
    tracing_subscriber::registry()
        .with(otel)
        .with(fmt)
        .with(filter)
        .try_init()?;
    if let Some(endpoint) = &args.otlp_endpoint {
        tracing::info!(endpoint, "exporting traces over OTLP/HTTP");
    }
    Ok(TelemetryGuard { provider })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_operators_sampler_keeps_the_callers_decision_and_a_ratio_of_new_traces() {
        let chosen = sampler(Some(contract::deploy::TRACE_SAMPLER), Some(0.25)).unwrap();
        assert_eq!(
            format!("{chosen:?}"),
            format!(
                "{:?}",
                Sampler::ParentBased(Box::new(Sampler::TraceIdRatioBased(0.25)))
            )
        );
        let default = sampler(None, None).unwrap();
        assert_eq!(
            format!("{default:?}"),
            format!("{:?}", Sampler::ParentBased(Box::new(Sampler::AlwaysOn)))
        );
        assert!(matches!(
            sampler(Some("always_off"), None),
            Ok(Sampler::AlwaysOff)
        ));
    }

    #[test]
    fn bad_sampler_settings_are_refused() {
        assert!(sampler(Some("sometimes"), None).is_err());
        assert!(sampler(Some("traceidratio"), Some(1.5)).is_err());
        assert!(sampler(Some("traceidratio"), Some(-0.1)).is_err());
    }

    #[test]
    fn resource_attributes_are_key_value_pairs() {
        let attributes = resource_attributes(
            "service.name=auth, k8s.namespace.name=shop,k8s.pod.name=shop-auth-1,,broken",
        );
        let pairs: Vec<(String, String)> = attributes
            .iter()
            .map(|kv| (kv.key.to_string(), kv.value.to_string()))
            .collect();
        assert_eq!(
            pairs,
            [
                ("service.name".to_owned(), "auth".to_owned()),
                ("k8s.namespace.name".to_owned(), "shop".to_owned()),
                ("k8s.pod.name".to_owned(), "shop-auth-1".to_owned()),
            ]
        );
    }
}
