"""A minimal OTLP/HTTP logs receiver for tracer's tests.

Listens on 127.0.0.1 only (port 0: the kernel picks one, printed first as
`PORT <n>`), decodes every POST body with the OpenTelemetry project's own
generated Python types (gunzip, then ExportLogsServiceRequest), and writes
JSON lines to --out:

  {"request": N, "path": ..., "status": ..., "records": K, "content_type": ...,
   "content_encoding": ...}                 one per request, answered or not
  {"record": {...}, "resource": {...}, "scope": {...}}
                                            one per log record of a request
                                            answered 2xx

--status CODE answers CODE to the first --times requests (all with
--times -1) and 200 after; --sleep S waits S seconds before answering each
of the first --times requests.
"""

import argparse
import gzip
import http.server
import json
import sys
import threading
import time

from opentelemetry.proto.collector.logs.v1 import logs_service_pb2


def value(v):
    """An AnyValue as plain JSON."""
    kind = v.WhichOneof("value")
    if kind is None:
        return None
    if kind == "array_value":
        return [value(i) for i in v.array_value.values]
    if kind == "kvlist_value":
        return {kv.key: value(kv.value) for kv in v.kvlist_value.values}
    if kind == "bytes_value":
        return v.bytes_value.hex()
    return getattr(v, kind)


def attributes(kvs):
    return {kv.key: value(kv.value) for kv in kvs}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--status", type=int, default=200)
    ap.add_argument("--sleep", type=float, default=0.0)
    ap.add_argument("--times", type=int, default=-1)
    args = ap.parse_args()

    out = open(args.out, "a", buffering=1)
    lock = threading.Lock()
    count = [0]

    def emit(obj):
        with lock:
            out.write(json.dumps(obj) + "\n")
            out.flush()

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *a):
            pass

        def do_POST(self):
            with lock:
                count[0] += 1
                n = count[0]
            special = args.times < 0 or n <= args.times
            length = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(length)
            encoding = self.headers.get("Content-Encoding", "")
            raw = gzip.decompress(body) if encoding == "gzip" else body
            req = logs_service_pb2.ExportLogsServiceRequest()
            req.ParseFromString(raw)
            records = sum(
                len(sl.log_records) for rl in req.resource_logs for sl in rl.scope_logs
            )
            if special and args.sleep > 0:
                time.sleep(args.sleep)
            status = args.status if special else 200
            emit(
                {
                    "request": n,
                    "path": self.path,
                    "status": status,
                    "records": records,
                    "content_type": self.headers.get("Content-Type", ""),
                    "content_encoding": encoding,
                }
            )
            if 200 <= status < 300:
                for rl in req.resource_logs:
                    resource = attributes(rl.resource.attributes)
                    for sl in rl.scope_logs:
                        scope = {"name": sl.scope.name, "version": sl.scope.version}
                        for r in sl.log_records:
                            emit(
                                {
                                    "record": {
                                        "time_unix_nano": r.time_unix_nano,
                                        "observed_time_unix_nano": r.observed_time_unix_nano,
                                        "severity_number": r.severity_number,
                                        "severity_text": r.severity_text,
                                        "event_name": r.event_name,
                                        "body": value(r.body),
                                        "attributes": attributes(r.attributes),
                                    },
                                    "resource": resource,
                                    "scope": scope,
                                }
                            )
                answer = logs_service_pb2.ExportLogsServiceResponse().SerializeToString()
                ctype = "application/x-protobuf"
            else:
                answer = b"test receiver says no"
                ctype = "text/plain"
            try:
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)
            except OSError:
                pass  # the client gave up (a slow answer)

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    print(f"PORT {server.server_address[1]}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
