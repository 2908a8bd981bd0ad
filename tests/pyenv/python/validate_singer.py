"""Load every line of stdin with the singer-sdk's own message classes.

Each line must be a SCHEMA, RECORD or STATE message that the class of its
type loads (``from_dict``); every RECORD must follow a SCHEMA of its stream
and be valid against that schema (JSON Schema, as Singer targets check).
The first line that is not ends the run with exit code 1, naming the line.
With ``--catalog``, stdin is one Singer catalog, loaded with the
singer-sdk's ``Catalog.from_dict``. On success a JSON summary is printed.
"""

import json
import sys
from collections import Counter

from jsonschema.validators import validator_for
from singer_sdk.singerlib.catalog import Catalog
from singer_sdk.singerlib.encoding.simple import (
    RecordMessage,
    SchemaMessage,
    StateMessage,
)

CLASSES = {"RECORD": RecordMessage, "SCHEMA": SchemaMessage, "STATE": StateMessage}


def fail(line_no, text, error):
    print(f"line {line_no}: {error} (the line starts {text[:80]!r})", file=sys.stderr)
    sys.exit(1)


def catalog():
    loaded = Catalog.from_dict(json.load(sys.stdin))
    streams = []
    for entry in loaded.streams:
        top = entry.metadata.root
        streams.append(
            {
                "tap_stream_id": entry.tap_stream_id,
                "key_properties": entry.key_properties,
                "selected": bool(top.selected),
                "replication_method": entry.replication_method,
                "replication_key": entry.replication_key or top.replication_key,
                "fields": sorted((entry.schema.properties or {}).keys()),
            }
        )
    print(json.dumps({"streams": streams}))


def messages():
    types = Counter()
    records = Counter()
    schemas = {}
    validators = {}
    states = []
    for line_no, text in enumerate(sys.stdin, start=1):
        text = text.strip()
        try:
            data = json.loads(text)
            kind = data["type"]
            message = CLASSES[kind].from_dict(dict(data))
        except Exception as e:  # a bad line, in any way
            fail(line_no, text, repr(e))
        types[kind] += 1
        if isinstance(message, SchemaMessage):
            schemas[message.stream] = message.key_properties
            validators[message.stream] = validator_for(message.schema)(message.schema)
        elif isinstance(message, RecordMessage):
            check = validators.get(message.stream)
            if check is None:
                fail(line_no, text, f"a RECORD of {message.stream} before its SCHEMA")
            errors = [e.message for e in check.iter_errors(message.record)]
            if errors:
                fail(line_no, text, f"the record breaks its schema: {errors[0]}")
            if message.time_extracted is None:
                fail(line_no, text, "a RECORD without time_extracted")
            records[message.stream] += 1
        else:
            states.append(message.value)
    print(
        json.dumps(
            {"types": types, "records": records, "schemas": schemas, "states": states}
        )
    )


if __name__ == "__main__":
    if "--catalog" in sys.argv[1:]:
        catalog()
    else:
        messages()
