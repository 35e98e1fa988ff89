"""Wire format: framing across TCP chunks and the exact field counts the clients insist on."""

from __future__ import annotations

import datetime as dt
import struct

import pytest

from opt_data.sim import messages as m
from opt_data.sim import protocol as p
from opt_data.sim.instruments import Greeks


def test_frames_reassemble_from_any_chunking() -> None:
    hello = b"v157..176"
    stream = (
        b"API\0"
        + struct.pack(">I", len(hello))
        + hello
        + p.frame(["71", "2", "7", ""])
        + p.frame(["49", "1"])
    )
    for size in (1, 3, 7, len(stream)):
        decoder = p.FrameDecoder()
        payloads: list[bytes] = []
        for i in range(0, len(stream), size):
            payloads += decoder.feed(stream[i : i + size])
        assert payloads[0] == hello
        assert [p.split_fields(x) for x in payloads[1:]] == [["71", "2", "7", ""], ["49", "1"]]
    assert p.parse_handshake(b"v157..178 +PACEAPI") == (157, 178)


def test_a_stream_without_the_api_prefix_is_refused() -> None:
    with pytest.raises(ValueError, match="API"):
        p.FrameDecoder().feed(b"GET / HTTP/1.1\r\n")


def _wire(text: str) -> list[str]:
    """A message as the research logs print it, fields joined by ``|``."""
    return text.split("|")


def test_requests_parse_as_the_clients_send_them() -> None:
    # Real bytes of ib_insync 0.9.86 (shared/research/wire/ib_insync-176.jsonl).
    mkt = p.parse_mkt_data(
        _wire(
            "1|11|8|126065361|SPY|OPT|20240119|500.0|C|100|SMART||USD|SPY   240119C00500000|SPY|"
            "0|100,101,104,106|0|0|"
        )
    )
    assert (mkt.req_id, mkt.contract.con_id, mkt.generic, mkt.snapshot) == (
        8, 126065361, frozenset({100, 101, 104, 106}), False
    )  # fmt: skip
    hist = p.parse_historical(
        _wire("20|14|756733|SPY|STK||0.0|||SMART|ARCA|USD|SPY|SPY|0||1 day|5 D|1|TRADES|1|0|")
    )
    assert (hist.bar_size, hist.duration, hist.what_to_show, hist.keep_up_to_date) == (
        "1 day", "5 D", "TRADES", False
    )  # fmt: skip
    details = p.parse_contract_details(_wire("9|8|6|0|SPY|OPT|20240119|500|||SMART|||||0|||"))
    assert (details.contract.strike, details.contract.right, details.include_expired) == (
        500.0, "", False
    )  # fmt: skip
    assert p.request_id(["78", "7", "SPY", "", "STK", "756733"]) == 7
    assert p.request_id(["49", "1"]) == -1


def test_reply_layouts_have_the_exact_field_counts() -> None:
    assert m.error(5, 200, "x") == ["4", "2", "5", "200", "x", ""]  # 6th field always there
    assert len(m.tick_price(1, 1, 4.95, 10)) == 7
    none = Greeks(None, None, None, None, None, None, None, None)
    fields = m.tick_option_computation(1, 13, none)
    assert len(fields) == 12
    assert fields[4:] == ["-1.0", "-2.0", "-1.0", "-1.0", "-2.0", "-2.0", "-2.0", "-1.0"]
    hello = m.server_hello(dt.datetime(2024, 1, 5, 22, tzinfo=dt.UTC))
    assert hello == ["176", "20240105 22:00:00 GMT"]  # exactly 2 fields: the handshake reply
    assert m.managed_accounts(["DU1"]) == ["15", "1", "DU1"]
    assert m.next_valid_id(1) == ["9", "1", "1"]
