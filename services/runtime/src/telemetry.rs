//! Logging and tracing set-up: `RUST_LOG` filtering, JSON or human-readable output, and
//! OpenTelemetry export over OTLP/HTTP when an endpoint is configured.

use std::sync::atomic::{AtomicBool, Ordering};

use std::io::IsTerminal as _;

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::WithExportConfig;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::SdkTracerProvider;
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

/// A tracer provider exporting spans of `service` over OTLP/HTTP to `endpoint` (the collector's
/// base URL; `/v1/traces` is appended).
///
/// The SDK's defaults read the rest of the standard variables the operator renders: the
/// sampler (`OTEL_TRACES_SAMPLER`, `OTEL_TRACES_SAMPLER_ARG`) and the resource attributes
/// (`OTEL_RESOURCE_ATTRIBUTES`: the pod's namespace and name), merged under `service`.
pub fn otlp_provider(service: &str, endpoint: &str) -> Result<SdkTracerProvider, TelemetryError> {
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_endpoint(format!("{}/v1/traces", endpoint.trim_end_matches('/')))
        .build()?;
    Ok(SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(
            Resource::builder()
                .with_service_name(service.to_owned())
                .build(),
        )
        .build())
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
    let provider = args
        .otlp_endpoint
        .as_deref()
        .filter(|e| !e.trim().is_empty())
        .map(|endpoint| otlp_provider(service, endpoint))
        .transpose()?;
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
