"""Decodes a Perfetto trace written by `tracer export --format perfetto` with
Perfetto's own definitions (the PyPI `perfetto` package's perfetto_trace_pb2,
independent of tracer's Rust types), checks its structure, and prints a JSON
summary for the Rust test to assert on.

Usage: perfetto_check.py TRACE

Structure checked (any failure exits 1 with a message on stderr):
- the file parses as a perfetto.protos.Trace and holds packets;
- every packet is on one trusted_packet_sequence_id, and the first packet
  clears incremental state (SEQ_INCREMENTAL_STATE_CLEARED);
- every track is declared (TrackDescriptor) before an event uses its uuid,
  and before a track names it as parent; a re-declared track keeps its
  parent;
- slice begins and ends balance on every track (never an end without a
  begin, nothing open at the end of the file), and no packet's timestamp is
  before its track's last one;
- every flow id starts exactly once (flow_ids) and is terminated exactly
  once (terminating_flow_ids), the start never after the end.

Summary: {"packets", "sequence_id", "clock_snapshot", "tracks": [{uuid,
name, parent}], "slices": [{track, name, begin, end, args}] (args of begin
and end merged, as trace processor merges them), "instants": [{track, name,
ts, args}], "flows": [{id, from: {track, name, ts}, to: {...}}]}.
"""

import json
import sys

from perfetto.protos.perfetto.trace import perfetto_trace_pb2 as pb

TrackEvent = pb.TrackEvent
SEQ_INCREMENTAL_STATE_CLEARED = pb.TracePacket.SEQ_INCREMENTAL_STATE_CLEARED


def fail(msg):
    print(f"perfetto_check: {msg}", file=sys.stderr)
    sys.exit(1)


def annotation_value(a):
    if a.array_values:
        return [annotation_value(v) for v in a.array_values]
    kind = a.WhichOneof("value")
    if kind is None:
        return None
    return getattr(a, kind)


def args_of(event):
    return {a.name: annotation_value(a) for a in event.debug_annotations}


def main(path):
    with open(path, "rb") as f:
        data = f.read()
    try:
        trace = pb.Trace.FromString(data)
    except Exception as e:  # a DecodeError, whatever the protobuf runtime
        fail(f"{path} is not a perfetto.protos.Trace: {e}")
    packets = list(trace.packet)
    if not packets:
        fail("no packets")

    first = packets[0]
    if not first.HasField("trusted_packet_sequence_id"):
        fail("the first packet has no trusted_packet_sequence_id")
    seq = first.trusted_packet_sequence_id
    if not first.sequence_flags & SEQ_INCREMENTAL_STATE_CLEARED:
        fail("the first packet does not clear incremental state")

    tracks = {}  # uuid -> {"uuid", "name", "parent"}
    open_slices = {}  # uuid -> stack of slice dicts
    last_ts = {}  # uuid -> latest timestamp used on it
    slices, instants = [], []
    flow_start, flow_end = {}, {}
    clock = None

    for i, p in enumerate(packets):
        if p.trusted_packet_sequence_id != seq:
            fail(f"packet {i} is on sequence {p.trusted_packet_sequence_id}, not {seq}")
        what = p.WhichOneof("data")
        if what == "clock_snapshot":
            clock = {str(c.clock_id): c.timestamp for c in p.clock_snapshot.clocks}
        elif what == "track_descriptor":
            d = p.track_descriptor
            parent = d.parent_uuid if d.HasField("parent_uuid") else None
            if parent is not None and parent not in tracks:
                fail(f"packet {i}: track {d.uuid} ({d.name}) names undeclared parent {parent}")
            old = tracks.get(d.uuid)
            if old is not None and old["parent"] != parent:
                fail(f"packet {i}: track {d.uuid} re-declared under {parent}, was {old['parent']}")
            tracks[d.uuid] = {"uuid": d.uuid, "name": d.name, "parent": parent}
        elif what == "track_event":
            e = p.track_event
            if not p.HasField("timestamp"):
                fail(f"packet {i}: a track event without a timestamp")
            ts = p.timestamp
            track = e.track_uuid
            if track not in tracks:
                fail(f"packet {i}: event {e.name!r} on undeclared track {track}")
            if ts < last_ts.get(track, 0):
                fail(f"packet {i}: event {e.name!r} at {ts} goes back on track {track}")
            last_ts[track] = ts
            where = {"track": track, "name": e.name, "ts": ts}
            for fid in e.flow_ids:
                if fid in flow_start:
                    fail(f"packet {i}: flow {fid} starts twice")
                flow_start[fid] = where
            for fid in e.terminating_flow_ids:
                if fid in flow_end:
                    fail(f"packet {i}: flow {fid} is terminated twice")
                flow_end[fid] = where
            stack = open_slices.setdefault(track, [])
            if e.type == TrackEvent.TYPE_SLICE_BEGIN:
                s = {"track": track, "name": e.name, "begin": ts, "end": None, "args": args_of(e)}
                stack.append(s)
                slices.append(s)
            elif e.type == TrackEvent.TYPE_SLICE_END:
                if not stack:
                    fail(f"packet {i}: slice end on track {track} ({tracks[track]['name']}) with no slice open")
                s = stack.pop()
                s["end"] = ts
                s["args"].update(args_of(e))
            elif e.type == TrackEvent.TYPE_INSTANT:
                instants.append({"track": track, "name": e.name, "ts": ts, "args": args_of(e)})
            else:
                fail(f"packet {i}: unexpected track event type {e.type}")
        else:
            fail(f"packet {i}: unexpected packet content {what}")

    for track, stack in open_slices.items():
        if stack:
            fail(f"track {track} ({tracks[track]['name']}) ends with {len(stack)} slice(s) open: {stack[-1]['name']!r}")
    for fid in flow_start.keys() - flow_end.keys():
        fail(f"flow {fid} from {flow_start[fid]} is never terminated")
    for fid in flow_end.keys() - flow_start.keys():
        fail(f"flow {fid} to {flow_end[fid]} never starts")
    flows = []
    for fid in sorted(flow_start):
        a, b = flow_start[fid], flow_end[fid]
        if a["ts"] > b["ts"]:
            fail(f"flow {fid} ends ({b}) before it starts ({a})")
        flows.append({"id": fid, "from": a, "to": b})

    json.dump(
        {
            "packets": len(packets),
            "sequence_id": seq,
            "clock_snapshot": clock,
            "tracks": list(tracks.values()),
            "slices": slices,
            "instants": instants,
            "flows": flows,
        },
        sys.stdout,
    )


if __name__ == "__main__":
    if len(sys.argv) != 2:
        fail("usage: perfetto_check.py TRACE")
    main(sys.argv[1])
