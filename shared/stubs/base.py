"""What every stage's gRPC client shares: the channel, ``info()`` and ``load()``."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, Self

from core.domain import StageInfo
from core.errors import StageUnavailableError
from shared.stubs.callytics.common.v1 import common_pb2
from shared.stubs.channel import ChannelConfig, StageChannel


def stage_info_from_proto(message: common_pb2.StageInfo) -> StageInfo:
    extra = json.loads(message.extra_json) if message.extra_json else {}
    return StageInfo("local", message.engine, message.model, message.device or "cpu", extra)


def stage_info_to_proto(info: StageInfo) -> common_pb2.StageInfo:
    extra = json.dumps(info.extra, default=str, sort_keys=True)
    return common_pb2.StageInfo(
        engine=info.engine, model=info.model, device=info.device, extra_json=extra
    )


class GrpcStage:
    """Base of the clients: ``load()`` waits for the service and asks what it runs."""

    stage = ""
    stub_class: Any = None  # the generated ``<Service>Stub`` of the stage

    def __init__(
        self,
        target: str,
        config: ChannelConfig | None = None,
        *,
        fallback: Callable[[], Any] | None = None,
    ) -> None:
        self.channel = StageChannel(self.stage, target, config, fallback=fallback)
        self._remote: StageInfo | None = None

    @classmethod
    def from_settings(cls, settings: Any, fallback: Callable[[], Any] | None = None) -> Self:
        """The client of ``<STAGE>_GRPC_TARGET`` with the GRPC_* settings (the container's)."""
        target = getattr(settings, f"{cls.stage}_grpc_target")
        return cls(target, ChannelConfig.from_settings(settings), fallback=fallback)

    def info(self) -> StageInfo:
        remote = self._remote or StageInfo("grpc", "remote", "", "")
        extra = {**remote.extra, "target": self.channel.target}
        return StageInfo("grpc", remote.engine, remote.model, remote.device, extra)

    async def load(self) -> None:
        """Wait for the stage to be SERVING and ask what it runs.

        With a fallback (FAILOVER_TO_LOCAL) and the stage down, the in-process engine is
        loaded instead, and the stage is asked again on the next call.
        """
        if self._remote is not None:
            return
        try:
            self._remote = await self.channel.call(self._fetch_info, deadline_s=30.0)
        except StageUnavailableError:
            engine = self.channel.fallback_engine()
            if engine is None:
                raise
            await engine.load()
            self._standing_in(engine)

    def _standing_in(self, engine: Any) -> None:
        """The in-process ``engine`` is loaded in place of the remote stage."""

    async def _fetch_info(self, channel: Any, timeout: float) -> StageInfo:
        reply = await self.stub_class(channel).Info(common_pb2.InfoRequest(), timeout=timeout)
        return self._remote_info(reply)

    def _remote_info(self, reply: Any) -> StageInfo:
        """What the service's ``Info`` reply says it runs."""
        return stage_info_from_proto(reply)

    async def probe(self) -> dict[str, Any]:
        """Each replica's standard health check and the circuit's state (for /health)."""
        return await self.channel.probe()

    async def aclose(self) -> None:
        await self.channel.close()
