//! One metric family at a time with prometheus-client's encoder: its
//! descriptor, then its counters or gauges, with or without labels.

use std::fmt;

use prometheus_client::{
    encoding::{DescriptorEncoder, MetricEncoder, NoLabelSet},
    metrics::MetricType,
};

pub(super) fn family<'a>(
    enc: &'a mut DescriptorEncoder<'_>,
    name: &'a str,
    help: &str,
    metric_type: MetricType,
) -> Result<MetricEncoder<'a>, fmt::Error> {
    enc.encode_descriptor(name, help, None, metric_type)
}

pub(super) fn counter(m: &mut MetricEncoder<'_>, labels: &[(&str, &str)], v: u64) -> fmt::Result {
    if labels.is_empty() {
        m.encode_counter::<NoLabelSet, u64, u64>(&v, None)
    } else {
        m.encode_family(&labels)?
            .encode_counter::<NoLabelSet, u64, u64>(&v, None)
    }
}

pub(super) fn gauge<V: prometheus_client::encoding::EncodeGaugeValue>(
    m: &mut MetricEncoder<'_>,
    labels: &[(&str, &str)],
    v: V,
) -> fmt::Result {
    if labels.is_empty() {
        m.encode_gauge(&v)
    } else {
        m.encode_family(&labels)?.encode_gauge(&v)
    }
}
