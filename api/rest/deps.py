"""Dependency aliases shared by the REST routers."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from api.health import runtime_of
from api.runtime import Runtime

RuntimeDep = Annotated[Runtime, Depends(runtime_of)]
