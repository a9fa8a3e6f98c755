"""Exit 0 when a stage service answers SERVING: `python -m shared.stubs.health_check HOST:PORT`.

For container healthchecks (docker-compose.microservices.yml), without grpc_health_probe.
"""

from __future__ import annotations

import sys

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc


def check(target: str, timeout_s: float = 3.0) -> str:
    with grpc.insecure_channel(target) as channel:
        try:
            reply = health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(service=""), timeout=timeout_s
            )
        except grpc.RpcError as exc:
            return exc.code().name  # type: ignore[no-any-return, attr-defined]
    return health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status)


def main() -> None:
    if len(sys.argv) != 2:
        raise SystemExit("usage: python -m shared.stubs.health_check HOST:PORT")
    status = check(sys.argv[1])
    print(status)
    raise SystemExit(0 if status == "SERVING" else 1)


if __name__ == "__main__":
    main()
