"""An Airbyte destination built on the airbyte-cdk's own `Destination`:
JSON lines, one file per stream, under `destination_path`. Every STATE is
echoed only after the records before it are flushed and fsynced, as the
Airbyte protocol asks of a destination. The tests run sluice pipelines
into it to exercise the Airbyte destination path with the real CDK."""

import json
import os
import sys
from typing import Any, Iterable, Mapping

from airbyte_cdk.destinations import Destination
from airbyte_cdk.models import (
    AirbyteConnectionStatus,
    AirbyteMessage,
    ConfiguredAirbyteCatalog,
    ConnectorSpecification,
    DestinationSyncMode,
    Status,
    Type,
)


class DestinationJsonl(Destination):
    def spec(self, logger) -> ConnectorSpecification:
        return ConnectorSpecification(
            connectionSpecification={
                "type": "object",
                "required": ["destination_path"],
                "properties": {"destination_path": {"type": "string"}},
            },
            supported_destination_sync_modes=[
                DestinationSyncMode.append,
                DestinationSyncMode.overwrite,
            ],
        )

    def check(self, logger, config: Mapping[str, Any]) -> AirbyteConnectionStatus:
        ok = os.path.isdir(config["destination_path"])
        return AirbyteConnectionStatus(status=Status.SUCCEEDED if ok else Status.FAILED)

    def write(
        self,
        config: Mapping[str, Any],
        configured_catalog: ConfiguredAirbyteCatalog,
        input_messages: Iterable[AirbyteMessage],
    ) -> Iterable[AirbyteMessage]:
        root = config["destination_path"]
        files = {}
        for s in configured_catalog.streams:
            mode = "w" if s.destination_sync_mode == DestinationSyncMode.overwrite else "a"
            files[s.stream.name] = open(os.path.join(root, s.stream.name + ".jsonl"), mode)
        for message in input_messages:
            if message.type == Type.RECORD:
                files[message.record.stream].write(json.dumps(message.record.data) + "\n")
            elif message.type == Type.STATE:
                for f in files.values():
                    f.flush()
                    os.fsync(f.fileno())
                yield message
        for f in files.values():
            f.close()


if __name__ == "__main__":
    DestinationJsonl().run(sys.argv[1:])
