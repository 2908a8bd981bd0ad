"""Load every line of stdin with the airbyte-cdk's own models.

Each line must be one AirbyteMessage that ``AirbyteMessageSerializer.load``
accepts; the first that is not ends the run with exit code 1, naming the
line. With ``--configured-catalog``, stdin is one ConfiguredAirbyteCatalog
instead. On success a JSON summary is printed: messages per type, records
per stream, stream statuses and state types in order, log and error
messages, the streams of a CATALOG, the config fields of a SPEC and the
status of a CONNECTION_STATUS, and the records the states' sourceStats
count.
"""

import json
import sys
from collections import Counter

from airbyte_cdk.models import (
    AirbyteMessageSerializer,
    ConfiguredAirbyteCatalogSerializer,
)


def fail(line_no, text, error):
    print(f"line {line_no}: {error} (the line starts {text[:80]!r})", file=sys.stderr)
    sys.exit(1)


def configured_catalog():
    catalog = ConfiguredAirbyteCatalogSerializer.load(json.load(sys.stdin))
    streams = [
        {
            "name": s.stream.name,
            "sync_mode": s.sync_mode.value,
            "destination_sync_mode": s.destination_sync_mode.value,
        }
        for s in catalog.streams
    ]
    print(json.dumps({"streams": streams}))


def messages():
    types = Counter()
    records = Counter()
    statuses = []
    states = []
    logs = []
    errors = []
    catalog = []
    spec = []
    connection = []
    state_records = 0
    for line_no, text in enumerate(sys.stdin, start=1):
        text = text.strip()
        if not text:
            fail(line_no, text, "an empty line")
        try:
            message = AirbyteMessageSerializer.load(json.loads(text))
        except Exception as e:  # the models' own validation error
            fail(line_no, text, e)
        kind = message.type.value
        types[kind] += 1
        if message.record is not None:
            records[message.record.stream] += 1
        if message.state is not None:
            states.append(message.state.type.value)
            if message.state.sourceStats is not None:
                state_records += message.state.sourceStats.recordCount or 0
        if message.log is not None:
            logs.append(message.log.message)
        trace = message.trace
        if trace is not None and trace.stream_status is not None:
            s = trace.stream_status
            statuses.append([s.stream_descriptor.name, s.status.value])
        if trace is not None and trace.error is not None:
            errors.append(trace.error.message)
        if message.catalog is not None:
            catalog.extend(s.name for s in message.catalog.streams)
        if message.spec is not None:
            spec.extend(message.spec.connectionSpecification.get("properties", {}))
        if message.connectionStatus is not None:
            connection.append(message.connectionStatus.status.value)
    print(
        json.dumps(
            {
                "types": types,
                "records": records,
                "statuses": statuses,
                "states": states,
                "state_records": state_records,
                "logs": logs,
                "errors": errors,
                "catalog": catalog,
                "spec": spec,
                "connection_status": connection,
            }
        )
    )


if __name__ == "__main__":
    if "--configured-catalog" in sys.argv[1:]:
        configured_catalog()
    else:
        messages()
