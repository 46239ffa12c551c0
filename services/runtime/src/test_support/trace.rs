//! [`TraceCapture`]: the spans a test makes, exported to memory through the same
//! OpenTelemetry layer a service uses ([`crate::telemetry::otel_layer`]).

use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider, SpanData};
use tracing::subscriber::DefaultGuard;
use tracing_subscriber::layer::SubscriberExt;

/// Captures every span of the current thread while it lives. Use it on a current-thread
/// runtime (`#[tokio::test(flavor = "current_thread")]`), which keeps every task on the thread
/// where the subscriber is set.
pub struct TraceCapture {
    exporter: InMemorySpanExporter,
    provider: SdkTracerProvider,
    _default: DefaultGuard,
}

impl std::fmt::Debug for TraceCapture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TraceCapture").finish_non_exhaustive()
    }
}

impl TraceCapture {
    /// Starts capturing on this thread.
    pub fn start() -> Self {
        let exporter = InMemorySpanExporter::default();
        let provider = SdkTracerProvider::builder()
            .with_simple_exporter(exporter.clone())
            .build();
        let subscriber =
            tracing_subscriber::registry().with(crate::telemetry::otel_layer(&provider, "test"));
        Self {
            exporter,
            provider,
            _default: tracing::subscriber::set_default(subscriber),
        }
    }

    /// Every span finished so far.
    pub fn spans(&self) -> Vec<SpanData> {
        self.provider.force_flush().expect("spans flushed");
        self.exporter
            .get_finished_spans()
            .expect("the in-memory exporter answers")
    }
}
