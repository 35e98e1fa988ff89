"""A small bounded mapping with least-recently-used eviction.

The market caches expensive derived data (price paths, chains, strike grids) per instance;
``functools.lru_cache`` on methods would pin ``self`` in a module-level cache, so each
``Market`` owns its own ``Lru`` objects instead.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class Lru(Generic[K, V]):
    """Memoise ``build(key)`` for at most ``maxsize`` keys."""

    def __init__(self, maxsize: int) -> None:
        if maxsize < 1:
            raise ValueError("maxsize must be at least 1")
        self._maxsize = maxsize
        self._data: OrderedDict[K, V] = OrderedDict()

    def get(self, key: K, build: Callable[[], V]) -> V:
        try:
            value = self._data[key]
        except KeyError:
            value = build()
            self._data[key] = value
            if len(self._data) > self._maxsize:
                self._data.popitem(last=False)
            return value
        self._data.move_to_end(key)
        return value

    def __len__(self) -> int:
        return len(self._data)
