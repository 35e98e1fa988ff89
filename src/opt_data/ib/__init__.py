"""The IB adapter: the only package that imports ib_insync / ib_async."""

from opt_data.ib.client import (
    CONNECT_MESSAGES,
    LIBRARIES,
    ConnectionParams,
    IBClient,
    load_library,
)

__all__ = ["CONNECT_MESSAGES", "LIBRARIES", "ConnectionParams", "IBClient", "load_library"]
