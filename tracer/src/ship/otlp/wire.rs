//! Log records onto the wire: one `ExportLogsServiceRequest` per batch,
//! encoded as prost encodes the message (the tests check it byte for byte),
//! with the work prost would repeat done once:
//!
//! - each record's length is computed once, not at every level it is
//!   nested in (that was a sixth of an export's CPU);
//! - the `tracer.ancestors` attribute comes already encoded
//!   ([`super::ancestry`]): a task's chain changes only at fork, exec and
//!   rename, and prost computes the length of a value nested 8 deep 8
//!   times over (with 4 ancestors, a third of an export's CPU went there).

use opentelemetry_proto::tonic::{
    common::v1::{InstrumentationScope, KeyValue},
    logs::v1::LogRecord,
    resource::v1::Resource,
};
use prost::{
    encoding::{
        bytes, encode_key, encode_varint, encoded_len_varint, fixed32, fixed64, int32, key_len,
        message, string, uint32, WireType,
    },
    Message as _,
};

/// One log record as the sender builds it: the LogRecord, and its last
/// attribute (`tracer.ancestors`) already encoded as LogRecord field 6
/// (empty: none).
#[derive(Default)]
pub(super) struct Built {
    pub log: LogRecord,
    pub ancestors: Vec<u8>,
}

impl Built {
    /// The LogRecord's fields, as prost writes them (in tag order), with
    /// the encoded ancestors right after the other attributes.
    fn encode_fields(&self, buf: &mut Vec<u8>) {
        let r = &self.log;
        if r.time_unix_nano != 0 {
            fixed64::encode(1, &r.time_unix_nano, buf);
        }
        if r.severity_number != 0 {
            int32::encode(2, &r.severity_number, buf);
        }
        if !r.severity_text.is_empty() {
            string::encode(3, &r.severity_text, buf);
        }
        if let Some(body) = &r.body {
            message::encode(5, body, buf);
        }
        for kv in &r.attributes {
            message::encode(6, kv, buf);
        }
        buf.extend_from_slice(&self.ancestors);
        if r.dropped_attributes_count != 0 {
            uint32::encode(7, &r.dropped_attributes_count, buf);
        }
        if r.flags != 0 {
            fixed32::encode(8, &r.flags, buf);
        }
        if !r.trace_id.is_empty() {
            bytes::encode(9, &r.trace_id, buf);
        }
        if !r.span_id.is_empty() {
            bytes::encode(10, &r.span_id, buf);
        }
        if r.observed_time_unix_nano != 0 {
            fixed64::encode(11, &r.observed_time_unix_nano, buf);
        }
        if !r.event_name.is_empty() {
            string::encode(12, &r.event_name, buf);
        }
    }
}

#[cfg(test)]
impl Built {
    /// The LogRecord a collector decodes from this one.
    pub(super) fn decoded(&self) -> LogRecord {
        let mut buf = Vec::new();
        self.encode_fields(&mut buf);
        LogRecord::decode(buf.as_slice()).expect("an encoded LogRecord")
    }
}

/// The `ExportLogsServiceRequest` of one resource and scope holding
/// `records`, in two parts: `head`, then `body` (the records), both
/// reused from batch to batch and gzipped one after the other. `scratch`
/// holds one record at a time, so that its length is known before it is
/// copied in.
pub(super) fn request_parts(
    resource: &Resource,
    scope: &InstrumentationScope,
    records: &[Built],
    head: &mut Vec<u8>,
    body: &mut Vec<u8>,
    scratch: &mut Vec<u8>,
) {
    // ScopeLogs: scope = 1, log_records = 2 (schema_url empty: absent).
    body.clear();
    message::encode(1, scope, body);
    for rec in records {
        scratch.clear();
        rec.encode_fields(scratch);
        encode_key(2, WireType::LengthDelimited, body);
        encode_varint(scratch.len() as u64, body);
        body.extend_from_slice(scratch);
    }
    let scope_logs = body.len() as u64;
    // ResourceLogs: resource = 1, scope_logs = 2.
    let resource_len = resource.encoded_len() as u64;
    let resource_logs = key_len(1)
        + encoded_len_varint(resource_len)
        + resource_len as usize
        + key_len(2)
        + encoded_len_varint(scope_logs)
        + body.len();
    // ExportLogsServiceRequest: resource_logs = 1.
    head.clear();
    encode_key(1, WireType::LengthDelimited, head);
    encode_varint(resource_logs as u64, head);
    message::encode(1, resource, head);
    encode_key(2, WireType::LengthDelimited, head);
    encode_varint(scope_logs, head);
}

/// `kv` encoded as a LogRecord attribute (field 6), over `out`.
pub(super) fn attribute(kv: &KeyValue, out: &mut Vec<u8>) {
    out.clear();
    message::encode(6, kv, out);
}

#[cfg(test)]
mod tests {
    use opentelemetry_proto::tonic::{
        collector::logs::v1::ExportLogsServiceRequest,
        common::v1::{any_value, AnyValue, ArrayValue},
        logs::v1::{ResourceLogs, ScopeLogs},
    };

    use super::*;

    fn kv(k: &str, v: &str) -> KeyValue {
        KeyValue {
            key: k.into(),
            value: Some(AnyValue {
                value: Some(any_value::Value::StringValue(v.into())),
            }),
            ..KeyValue::default()
        }
    }

    #[test]
    fn the_request_is_what_prost_encodes() {
        let resource = Resource {
            attributes: vec![kv("host.name", "h"), kv("os.type", "linux")],
            ..Resource::default()
        };
        let scope = InstrumentationScope {
            name: "tracer".into(),
            version: "1".into(),
            ..InstrumentationScope::default()
        };
        // Every LogRecord field set in some record, none in another.
        let record = |i: u64| {
            let mut r = LogRecord {
                time_unix_nano: i,
                severity_text: "INFO".into(),
                attributes: vec![kv("a", &"x".repeat(i as usize * 100)), kv("b", "y")],
                event_name: "tracer.exec".into(),
                ..LogRecord::default()
            };
            if i == 2 {
                r = LogRecord {
                    severity_number: 9,
                    body: Some(AnyValue {
                        value: Some(any_value::Value::StringValue("body".into())),
                    }),
                    dropped_attributes_count: 3,
                    flags: 1,
                    trace_id: vec![1; 16],
                    span_id: vec![2; 8],
                    observed_time_unix_nano: 7,
                    ..r
                };
            }
            if i == 3 {
                r = LogRecord::default();
            }
            r
        };
        let ancestors = KeyValue {
            key: "tracer.ancestors".into(),
            value: Some(AnyValue {
                value: Some(any_value::Value::ArrayValue(ArrayValue {
                    values: vec![AnyValue {
                        value: Some(any_value::Value::StringValue("p".into())),
                    }],
                })),
            }),
            ..KeyValue::default()
        };
        for n in [0, 1, 4] {
            for with_ancestors in [false, true] {
                let mut want_records: Vec<LogRecord> = (0..n).map(record).collect();
                let built: Vec<Built> = want_records
                    .iter()
                    .map(|log| {
                        let mut b = Built {
                            log: log.clone(),
                            ancestors: Vec::new(),
                        };
                        if with_ancestors {
                            attribute(&ancestors, &mut b.ancestors);
                        }
                        b
                    })
                    .collect();
                if with_ancestors {
                    for r in &mut want_records {
                        r.attributes.push(ancestors.clone());
                    }
                }
                let want = ExportLogsServiceRequest {
                    resource_logs: vec![ResourceLogs {
                        resource: Some(resource.clone()),
                        scope_logs: vec![ScopeLogs {
                            scope: Some(scope.clone()),
                            log_records: want_records,
                            schema_url: String::new(),
                        }],
                        schema_url: String::new(),
                    }],
                };
                let (mut head, mut body, mut scratch) = (vec![1, 2, 3], vec![4], vec![5]);
                request_parts(
                    &resource,
                    &scope,
                    &built,
                    &mut head,
                    &mut body,
                    &mut scratch,
                );
                head.extend_from_slice(&body);
                assert_eq!(
                    head,
                    want.encode_to_vec(),
                    "{n} records, ancestors: {with_ancestors}"
                );
            }
        }
    }
}
