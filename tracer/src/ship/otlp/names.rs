//! OTLP attribute names and values: the name a top-level JSON field takes
//! (OpenTelemetry's semantic conventions where one fits), and the
//! key-value builders.

use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, KeyValue};

/// A top-level JSON field's attribute name.
pub(super) enum Name {
    /// OpenTelemetry's semantic conventions name it.
    Semantic(&'static str),
    /// `tracer.<field>`.
    Tracer,
}

/// The attribute name of a top-level JSON field; `None`: not an attribute
/// (`time` is the record's timestamp). Nested objects' fields are
/// `tracer.<object>.<field>`.
pub(super) fn top_level_name(key: &str, event: &str) -> Option<Name> {
    use Name::{Semantic, Tracer};
    Some(match key {
        "time" => return None,
        "cpu" => Semantic("cpu.logical_number"),
        "pid" => Semantic("thread.id"),
        "tgid" => Semantic("process.pid"),
        "ppid" => Semantic("process.parent_pid"),
        "comm" => Semantic("thread.name"),
        "filename" if event == "exec" => Semantic("process.executable.path"),
        "argv" => Semantic("process.command_args"),
        "argc" => Semantic("process.args_count"),
        "exit_status" => Semantic("process.exit.code"),
        // The subject's context (JSON version 6): uid and gid are the real
        // ids (`real_cred`).
        "uid" => Semantic("process.real_user.id"),
        "gid" => Semantic("process.real_group.id"),
        "cgroup" => Semantic("process.linux.cgroup"),
        "container_id" => Semantic("container.id"),
        "container_runtime" => Semantic("container.runtime"),
        _ => Tracer,
    })
}

pub(super) fn kv(key: impl Into<String>, value: AnyValue) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(value),
        ..KeyValue::default()
    }
}

pub(super) fn string(s: impl Into<String>) -> AnyValue {
    AnyValue {
        value: Some(any_value::Value::StringValue(s.into())),
    }
}
