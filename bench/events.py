"""Event files for the benchmarks: the seed event's shape with more sites, and a one-prompt
event whose items fall due while a benchmark runs.

    .venv/bin/python bench/events.py     # rewrites bench/ten-sites.yaml from the seed event

`bench/ten-sites.yaml` (checked in) is the seed event with ten sites instead of two: the same
agenda, the first two sites keep the seed's per-site texts, every site has four tables and a
facilitator code of its own.
"""

from __future__ import annotations

import copy
import sys
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bot.eventfile import SEED_EVENT  # noqa: E402

TEN_SITES = Path(__file__).resolve().parent / "ten-sites.yaml"

HEADER = """\
# Benchmark event: the seed event ("Åbne værksteder") with {n} sites instead of two.
# Written by bench/events.py; used by `make bench` (the rehearsal with 2,000 participants).
# Check it with:  python -m bot check {name}

"""


def _seed() -> dict[str, Any]:
    data = yaml.safe_load(Path(str(SEED_EVENT)).read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    for item in data["agenda"]:
        if isinstance(item["at"], int):  # YAML 1.1 reads an unquoted 13:00 as 780 minutes
            item["at"] = f"{item['at'] // 60:02d}:{item['at'] % 60:02d}"
    return data


def many_sites(count: int, key: str) -> dict[str, Any]:
    """The seed event with `count` sites: copies of the seed's two, alternately."""
    data = _seed()
    template = data["sites"]
    renamed = {s["key"]: f"site{n + 1:02d}" for n, s in enumerate(template)}
    sites = []
    for n in range(count):
        site = copy.deepcopy(template[n % len(template)])
        number = n + 1
        site["key"] = f"site{number:02d}"
        site["name"] = {"da": f"Sted {number}", "en": f"Site {number}"}
        site["code"] = f"sted{number:02d}"
        site["facilitator_code"] = f"bench-vaert-{number:02d}-Q7r2Kx9w"
        sites.append(site)
    data["sites"] = sites
    data["event"]["key"] = key
    data["event"]["title"] = {
        "da": f"Åbne værksteder, {count} steder",
        "en": f"Open workshops, {count} sites",
    }
    for item in data["agenda"]:
        for variant in item.get("variants", []):
            variant["site"] = renamed[variant["site"]]
    return data


def due_soon(sites: int, when: datetime) -> dict[str, Any]:
    """`sites` sites (plus a `hub` with no items of its own) and one prompt at the minute of
    `when` (an aware datetime), closing an hour later; the benchmark moves each site's
    programme by seconds (agenda shifts) so the pushes fall due at the moments it wants."""
    data = many_sites(sites, "bench-due-soon")
    hub = copy.deepcopy(data["sites"][0])
    hub.update(
        key="hub",
        name={"da": "Knudepunkt", "en": "Hub"},
        code="hub",
        facilitator_code="bench-vaert-hub-Q7r2Kx9w",
    )
    data["sites"].append(hub)
    start = when.replace(second=0, microsecond=0)
    offset = start.utcoffset() or timedelta(0)
    hours = int(offset.total_seconds() // 3600)
    data["event"]["date"] = start.date().isoformat()
    data["event"]["timezone"] = "UTC" if hours == 0 else f"Etc/GMT{-hours:+d}"
    data["event"]["grace_minutes"] = 60
    prompt = {
        "key": "pulse",
        "at": f"{start:%H:%M}",
        "kind": "prompt",
        "title": {"da": "Pulsmåling", "en": "Pulse check"},
        "text": {"da": "Hvad tager du med herfra?", "en": "What do you take away?"},
        "sites": [s["key"] for s in data["sites"] if s["key"] != "hub"],
    }
    close = {
        "key": "close",
        "at": f"{start + timedelta(hours=1):%H:%M}",
        "kind": "close",
        "title": {"da": "Tak for i dag", "en": "Thank you for today"},
    }
    data["agenda"] = [prompt, close]
    return data


def write(data: dict[str, Any], path: Path, header: str = "") -> Path:
    text = yaml.safe_dump(data, allow_unicode=True, sort_keys=False, width=96)
    path.write_text(header + text, encoding="utf-8")
    return path


def main() -> None:
    name = TEN_SITES.relative_to(ROOT)
    write(many_sites(10, "aabne-vaerksteder-10"), TEN_SITES, HEADER.format(n=10, name=name))
    print(f"wrote {name}")


if __name__ == "__main__":
    main()
