"""Per-request DataLoaders: every `load` of one request and one kind becomes one SQL statement."""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from typing import Any, TypeVar

from sqlalchemy.orm import Session
from strawberry.dataloader import DataLoader

from registry.api.context import Info

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


def loader(info: Info, name: str,
           batch: Callable[[Session, Sequence[K]], dict[K, V]]) -> DataLoader[K, V | None]:
    """The request's loader called `name`, made on first use from `batch(session, keys)`."""
    loaders: dict[str, Any] = info.context.loaders
    found = loaders.get(name)
    if found is None:
        context = info.context

        async def load(keys: list[K]) -> list[V | None]:
            result = await context.read(batch, keys)
            return [result.get(key) for key in keys]

        found = loaders[name] = DataLoader(load_fn=load)
    return found
