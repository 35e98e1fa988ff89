"""Replies to the account and startup requests that ``IB.connect()`` waits for, and currentTime.

The simulated account holds cash and no positions or orders, so most replies are just IB's END
message — but every one must come, or ``connect()`` stalls for its timeout (ib_insync even fails
on a missing execDetailsEnd).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from opt_data.sim import messages as m
from opt_data.sim import protocol as p

if TYPE_CHECKING:
    from opt_data.sim.session import Session

ACCOUNT = "DU1234567"  # a paper-account id, as IB spells them
_VALUES = (
    ("AccountType", "INDIVIDUAL", ""),
    ("NetLiquidation", "100000.00", "USD"),
    ("TotalCashValue", "100000.00", "USD"),
    ("AvailableFunds", "100000.00", "USD"),
    ("BuyingPower", "400000.00", "USD"),
)


def ignore(s: Session, fields: p.Fields) -> None:
    """Requests IB answers with nothing (cancels of subscriptions that send nothing here)."""


def positions(s: Session, fields: p.Fields) -> None:
    s.send(m.position_end())


def open_orders(s: Session, fields: p.Fields) -> None:
    s.send(m.open_order_end())


def completed_orders(s: Session, fields: p.Fields) -> None:
    s.send(m.completed_orders_end())


def account_updates(s: Session, fields: p.Fields) -> None:
    """``6|2|subscribe|account``: values, account time, then accountDownloadEnd."""
    if fields[2] != "1":
        return
    now = s.server.clock.now()
    s.send_many(
        [
            *(m.account_value(k, v, c, ACCOUNT) for k, v, c in _VALUES),
            m.account_time(now),
            m.account_download_end(ACCOUNT),
        ]
    )


def account_updates_multi(s: Session, fields: p.Fields) -> None:
    """``76|1|reqId|account|modelCode|ledgerAndNLV``: values then accountUpdateMultiEnd."""
    req_id = int(fields[2])
    s.send_many(
        [
            *(m.account_update_multi(req_id, ACCOUNT, k, v, c) for k, v, c in _VALUES),
            m.account_update_multi_end(req_id),
        ]
    )


def account_summary(s: Session, fields: p.Fields) -> None:
    """``62|1|reqId|group|tags``: one row per known tag asked for, then the end."""
    req_id = int(fields[2])
    tags = set(fields[4].split(",")) if len(fields) > 4 else set()
    s.send_many(
        [
            *(
                m.account_summary(req_id, ACCOUNT, k, v, c)
                for k, v, c in _VALUES
                if not tags or k in tags
            ),
            m.account_summary_end(req_id),
        ]
    )


def executions(s: Session, fields: p.Fields) -> None:
    s.send(m.exec_details_end(int(fields[2])))


def next_ids(s: Session, fields: p.Fields) -> None:
    s.send(m.next_valid_id(1))


def current_time(s: Session, fields: p.Fields) -> None:
    s.send(m.current_time(s.server.clock.now()))
