"""An event that is on now, and a free loopback port: for the tests and benchmarks that run the
real process against the clock on the wall (the browser tests, the walls benchmark)."""

from __future__ import annotations

import socket
from datetime import UTC, datetime, timedelta
from pathlib import Path

import yaml

# Minutes from now of each agenda item of tests/data/three_sites.yaml, so that its first group
# work is open for the next half hour.
THREE_SITES_TIMES = {"welcome": -20, "gw1": -10, "check_in": 30, "gw2": 40, "close": 60}


def event_now(source: Path, folder: Path, times: dict[str, int] = THREE_SITES_TIMES) -> Path:
    """`source` moved to today, in a time zone where it is about noon (no agenda crosses
    midnight), each item `times[key]` minutes from now, every input on the walls; written to
    `folder` as event.yaml."""
    utc = datetime.now(UTC)
    offset = 12 - utc.hour
    zone = "UTC" if offset == 0 else f"Etc/GMT{-offset:+d}"
    local = utc + timedelta(hours=offset)
    data = yaml.safe_load(source.read_text(encoding="utf-8"))
    data["event"].update(date=local.date().isoformat(), timezone=zone)
    data["event"]["wall"] = {"inputs": "all"}
    for item in data["agenda"]:
        item["at"] = f"{local + timedelta(minutes=times[item['key']]):%H:%M}"
    path = folder / "event.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def free_port() -> int:
    """A loopback port nobody listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
