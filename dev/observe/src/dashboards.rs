//! The Grafana dashboards of `monitoring/dashboards/`: their panels' queries, and what every
//! one of them must declare (schema version, the data source and the stack's variables).

use std::path::Path;

use anyhow::{Context as _, Result};
use serde_json::Value;

/// The schema version the dashboards are written for (Grafana 10.x and 11.x import it as is).
pub const SCHEMA_VERSION: u64 = 39;

/// The template variables every dashboard declares: the Prometheus data source, then the
/// namespace and the stack the series are filtered by.
pub const VARIABLES: [&str; 3] = ["datasource", "namespace", "stack"];

/// One dashboard file.
#[derive(Debug)]
pub struct Dashboard {
    /// Its file name (`overview.json`).
    pub file: String,
    /// Its JSON.
    pub json: Value,
}

/// One query of a panel.
#[derive(Debug, Clone)]
pub struct Query {
    /// The panel's title.
    pub panel: String,
    /// The PromQL, with Grafana's variables still in.
    pub expr: String,
    /// Grafana's legend template (`{{route}}`), if any.
    pub legend: Option<String>,
}

impl Dashboard {
    /// Every `*.json` of `dir`, by name.
    pub fn load_all(dir: &Path) -> Result<Vec<Self>> {
        let mut out = Vec::new();
        for entry in
            std::fs::read_dir(dir).with_context(|| format!("cannot read {}", dir.display()))?
        {
            let path = entry?.path();
            if path.extension().is_some_and(|e| e == "json") {
                let text = std::fs::read_to_string(&path)
                    .with_context(|| format!("cannot read {}", path.display()))?;
                let json = serde_json::from_str(&text)
                    .with_context(|| format!("{} is not JSON", path.display()))?;
                let file = path
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                out.push(Self { file, json });
            }
        }
        out.sort_by(|a, b| a.file.cmp(&b.file));
        Ok(out)
    }

    /// Every query of every panel (rows' nested panels included), in order.
    pub fn queries(&self) -> Vec<Query> {
        let mut out = Vec::new();
        collect(&self.json["panels"], &mut out);
        out
    }

    /// Why the dashboard does not declare what every one must, if it does not.
    pub fn check_declarations(&self) -> Result<(), String> {
        let version = self.json["schemaVersion"].as_u64();
        if version != Some(SCHEMA_VERSION) {
            return Err(format!("schemaVersion {version:?}, not {SCHEMA_VERSION}"));
        }
        let variables = self.json["templating"]["list"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let names: Vec<&str> = variables
            .iter()
            .filter_map(|v| v["name"].as_str())
            .collect();
        if names != VARIABLES {
            return Err(format!("variables {names:?}, not {VARIABLES:?}"));
        }
        if variables[0]["type"] != "datasource" || variables[0]["query"] != "prometheus" {
            return Err("the variable datasource is not a Prometheus data source".to_owned());
        }
        if self.queries().is_empty() {
            return Err("no panel has a query".to_owned());
        }
        Ok(())
    }
}

fn collect(panels: &Value, out: &mut Vec<Query>) {
    for panel in panels.as_array().into_iter().flatten() {
        let title = panel["title"].as_str().unwrap_or_default();
        for target in panel["targets"].as_array().into_iter().flatten() {
            if let Some(expr) = target["expr"].as_str() {
                out.push(Query {
                    panel: title.to_owned(),
                    expr: expr.to_owned(),
                    legend: target["legendFormat"].as_str().map(str::to_owned),
                });
            }
        }
        collect(&panel["panels"], out);
    }
}

/// `legend` with each `{{label}}` replaced by the series' label value; without a legend, the
/// series' labels.
pub fn legend(legend: Option<&str>, metric: &Value) -> String {
    let labels = metric.as_object().cloned().unwrap_or_default();
    match legend {
        Some(template) if !template.is_empty() => {
            let mut out = template.to_owned();
            for (name, value) in &labels {
                out = out.replace(
                    &format!("{{{{{name}}}}}"),
                    value.as_str().unwrap_or_default(),
                );
            }
            out
        }
        _ => labels
            .iter()
            .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default()))
            .collect::<Vec<_>>()
            .join(","),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_repositorys_dashboards_declare_the_contract() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../monitoring/dashboards");
        let dashboards = Dashboard::load_all(&dir).expect("the dashboards load");
        assert!(dashboards.iter().any(|d| d.file == "overview.json"));
        for dashboard in &dashboards {
            assert_eq!(dashboard.check_declarations(), Ok(()), "{}", dashboard.file);
        }
    }

    #[test]
    fn a_legend_names_the_series_by_its_labels() {
        let metric = serde_json::json!({"route": "/products", "status": "429"});
        assert_eq!(
            legend(Some("{{route}} {{status}}"), &metric),
            "/products 429"
        );
        assert_eq!(legend(None, &metric), "route=/products,status=429");
    }
}
