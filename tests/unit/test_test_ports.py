"""The tests' free-port helper keeps out of the range outgoing connections draw from."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from tests.builders import ports


def test_a_free_port_is_below_the_ephemeral_range_and_bindable() -> None:
    start = int(ports.RANGE_FILE.read_text().split()[0])
    for _ in range(20):
        port = ports.free_port()
        assert ports.LOWEST <= port < start
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", port))


def test_a_range_with_no_room_below_falls_back_to_the_kernel_s_choice(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    kernel_start = int(ports.RANGE_FILE.read_text().split()[0])
    narrow = tmp_path / "range"
    narrow.write_text(f"{ports.LOWEST}\t60999\n")
    monkeypatch.setattr(ports, "RANGE_FILE", narrow)
    assert ports.free_port() >= kernel_start  # the kernel's port, from its real range


def test_a_taken_port_is_never_offered(monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        held = taken.getsockname()[1]
        monkeypatch.setattr("random.randint", lambda _low, _high: held)
        monkeypatch.setattr(ports, "_ephemeral_start", lambda: 65535)
        assert ports.free_port() != held
