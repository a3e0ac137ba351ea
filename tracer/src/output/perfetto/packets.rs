//! Encoding: TracePackets on one packet sequence, and the TrackEvents and
//! debug annotations they carry.
//!
//! A Perfetto trace file is one `Trace` message, whose only field is
//! `repeated TracePacket packet = 1`. A repeated field is its elements one
//! after the other, so writing each packet as field 1 on its own (tag, length,
//! bytes) as events come is the same file as encoding one big `Trace` at the
//! end: nothing is held back, and the file is a valid trace after any packet.

use prost::Message as _;

use super::proto::{
    clock_snapshot::{clock::BuiltinClocks, Clock},
    debug_annotation::{NameField, Value},
    trace_packet::{Data, OptionalTrustedPacketSequenceId, SequenceFlags},
    track_descriptor::{ChildTracksOrdering, StaticOrDynamicName},
    track_event::{self, Type},
    BuiltinClock, ClockSnapshot, DebugAnnotation, TracePacket, TrackDescriptor, TrackEvent,
};
use crate::model::text;

/// Our one packet sequence. Perfetto scopes incremental state (here: the
/// track descriptors) to a sequence; one writer needs one, any nonzero id.
pub(super) const SEQUENCE_ID: u32 = 1;

/// `Trace.packet`: field 1, wire type 2 (length-delimited).
const PACKET_TAG: u8 = (1 << 3) | 2;

/// Writes packets; knows whether the sequence has begun.
#[derive(Default)]
pub(super) struct Packets {
    started: bool,
}

impl Packets {
    pub(super) fn started(&self) -> bool {
        self.started
    }

    /// The first packet: it clears the sequence's incremental state (so a
    /// reader trusts what follows) and maps the boot clock, in which every
    /// timestamp is (Perfetto's default trace clock), to wall-clock time,
    /// so the UI can show real dates. `wall_ns` is `None` when it does not
    /// fit the field (a clock set before 1970).
    pub(super) fn start(&mut self, out: &mut Vec<u8>, boot_ns: u64, wall_ns: Option<u64>) {
        let mut clocks = vec![Clock {
            clock_id: Some(BuiltinClocks::Boottime as u32),
            timestamp: Some(boot_ns),
        }];
        if let Some(wall) = wall_ns {
            clocks.push(Clock {
                clock_id: Some(BuiltinClocks::Realtime as u32),
                timestamp: Some(wall),
            });
        }
        let snapshot = ClockSnapshot {
            clocks,
            primary_trace_clock: Some(BuiltinClock::Boottime as i32),
        };
        self.write(
            out,
            TracePacket {
                timestamp: Some(boot_ns),
                data: Some(Data::ClockSnapshot(snapshot)),
                sequence_flags: Some(SequenceFlags::SeqIncrementalStateCleared as u32),
                first_packet_on_sequence: Some(true),
                ..TracePacket::default()
            },
        );
        self.started = true;
    }

    /// Declares (or renames) a track. Emitted before any event that names
    /// its uuid; a child's parent is declared before the child.
    pub(super) fn track(&mut self, out: &mut Vec<u8>, uuid: u64, parent: Option<u64>, name: &str) {
        let desc = TrackDescriptor {
            uuid: Some(uuid),
            parent_uuid: parent,
            static_or_dynamic_name: Some(StaticOrDynamicName::Name(text::lossy(name).into())),
            // Threads and tasks appear in the order they were born.
            child_ordering: Some(ChildTracksOrdering::Chronological as i32),
            sibling_order_rank: None,
        };
        self.write(
            out,
            TracePacket {
                data: Some(Data::TrackDescriptor(desc)),
                ..TracePacket::default()
            },
        );
    }

    /// One TrackEvent at boot-clock `ts`.
    pub(super) fn event(&mut self, out: &mut Vec<u8>, ts: u64, event: TrackEvent) {
        self.write(
            out,
            TracePacket {
                timestamp: Some(ts),
                data: Some(Data::TrackEvent(event)),
                // It names tracks declared earlier on this sequence.
                sequence_flags: Some(SequenceFlags::SeqNeedsIncrementalState as u32),
                ..TracePacket::default()
            },
        );
    }

    fn write(&mut self, out: &mut Vec<u8>, mut packet: TracePacket) {
        packet.optional_trusted_packet_sequence_id = Some(
            OptionalTrustedPacketSequenceId::TrustedPacketSequenceId(SEQUENCE_ID),
        );
        out.push(PACKET_TAG);
        // Vec<u8> grows as needed: encoding into it cannot fail.
        let _ = packet.encode_length_delimited(out);
    }
}

/// A TrackEvent of `kind` on `track`.
pub(super) fn event(kind: Type, track: u64, name: Option<String>, args: Args) -> TrackEvent {
    TrackEvent {
        r#type: Some(kind as i32),
        track_uuid: Some(track),
        name_field: name.map(track_event::NameField::Name),
        debug_annotations: args.0,
        ..TrackEvent::default()
    }
}

/// Debug annotations (the "Arguments" of a slice or instant in the UI).
/// Text from tasks is made valid UTF-8 as lossy decoding would (U+FFFD),
/// since protobuf strings must be.
#[derive(Default)]
pub(super) struct Args(Vec<DebugAnnotation>);

impl Args {
    fn push(&mut self, name: &str, value: Value) {
        self.0.push(DebugAnnotation {
            name_field: Some(NameField::Name(name.into())),
            value: Some(value),
            array_values: Vec::new(),
        });
    }

    pub(super) fn int(mut self, name: &str, v: impl Into<i64>) -> Self {
        self.push(name, Value::IntValue(v.into()));
        self
    }

    pub(super) fn uint(mut self, name: &str, v: u64) -> Self {
        self.push(name, Value::UintValue(v));
        self
    }

    pub(super) fn bool(mut self, name: &str, v: bool) -> Self {
        self.push(name, Value::BoolValue(v));
        self
    }

    pub(super) fn str(mut self, name: &str, v: &str) -> Self {
        self.push(name, Value::StringValue(text::lossy(v).into()));
        self
    }

    pub(super) fn opt_str(self, name: &str, v: Option<&str>) -> Self {
        match v {
            Some(v) => self.str(name, v),
            None => self,
        }
    }

    /// A list of strings (argv).
    pub(super) fn strs(mut self, name: &str, items: &[String]) -> Self {
        self.0.push(DebugAnnotation {
            name_field: Some(NameField::Name(name.into())),
            value: None,
            array_values: items
                .iter()
                .map(|s| DebugAnnotation {
                    name_field: None,
                    value: Some(Value::StringValue(text::lossy(s).into())),
                    array_values: Vec::new(),
                })
                .collect(),
        });
        self
    }

    /// The same annotations again (an exit's instant and its slice's end
    /// both carry them).
    pub(super) fn copy(&self) -> Args {
        Args(self.0.clone())
    }
}
