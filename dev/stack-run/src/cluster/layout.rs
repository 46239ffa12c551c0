//! What the harness reads off the rendered objects before anything starts: the addresses of
//! Services and StatefulSet pods with their DNS names, the ConfigMaps, and which addresses are
//! MongoDB stand-ins without users.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use k8s_openapi::api::core::v1::Service;
use operator::manifests::Child;
use operator::manifests::common::LABEL_NAME;
use operator::render::Rendered;

use super::Options;
use crate::engines::Engines;
use crate::net::{Names, Subnet};
use crate::pod::ConfigMaps;

/// The stack's addresses and configuration, read off the rendered objects before anything
/// starts: an address per Service that has one and per StatefulSet pod (their DNS names
/// included), and the ConfigMaps' data.
#[derive(Default)]
pub(super) struct Layout {
    pub(super) names: Names,
    pub(super) services: BTreeMap<String, Ipv4Addr>,
    pub(super) pod_ips: BTreeMap<String, Ipv4Addr>,
    pub(super) config_maps: ConfigMaps,
}

impl Layout {
    pub(super) fn of(rendered: &Rendered, namespace: &str, subnet: &mut Subnet) -> Self {
        let mut layout = Self::default();
        for child in rendered.children.iter() {
            match child {
                Child::Service(svc) if !is_headless(svc) => {
                    let ip = subnet.service();
                    layout
                        .names
                        .add(&format!("{}.{namespace}.svc", child.name()), ip);
                    layout.services.insert(child.name().to_owned(), ip);
                }
                Child::StatefulSet(sts) => {
                    let spec = sts.spec.as_ref();
                    let headless = spec
                        .and_then(|s| s.service_name.clone())
                        .unwrap_or_default();
                    for i in 0..spec.and_then(|s| s.replicas).unwrap_or(1) {
                        let pod = format!("{}-{i}", child.name());
                        let ip = subnet.pod();
                        layout
                            .names
                            .add(&format!("{pod}.{headless}.{namespace}.svc"), ip);
                        layout.pod_ips.insert(pod, ip);
                    }
                }
                Child::ConfigMap(cm) => {
                    layout
                        .config_maps
                        .insert(child.name().to_owned(), cm.data.clone().unwrap_or_default());
                }
                _ => {}
            }
        }
        layout
    }
}

/// The addresses of MongoDB stand-ins, which have no users: the options' external ones, the
/// engines' replica sets, and every Service that selects the stack's own `mongodb` pods.
pub(super) fn mongo_hosts(
    rendered: &Rendered,
    services: &BTreeMap<String, Ipv4Addr>,
    engines: &Engines,
    options: &Options,
) -> Vec<String> {
    let mut hosts = options.mongo_without_users.clone();
    hosts.extend(engines.mongo_hosts());
    for child in rendered.children.iter() {
        if let Child::Service(svc) = child {
            let selects_mongo = svc
                .spec
                .as_ref()
                .and_then(|s| s.selector.as_ref())
                .and_then(|s| s.get(LABEL_NAME))
                .is_some_and(|component| component == "mongodb");
            if let (true, Some(ip)) = (selects_mongo, services.get(child.name())) {
                hosts.push(ip.to_string());
            }
        }
    }
    hosts
}

fn is_headless(svc: &Service) -> bool {
    svc.spec.as_ref().and_then(|s| s.cluster_ip.as_deref()) == Some("None")
}
