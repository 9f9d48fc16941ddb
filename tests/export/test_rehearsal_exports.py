"""The rehearsed seed event exported in every format and read back with independent readers
(csv, openpyxl, json + jsonschema, html.parser), compared with the database: counts, sites,
anonymity honoured, hidden and withdrawn inputs absent."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import sqlite3
import sys
from collections import Counter
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import jsonschema
import openpyxl
import pytest

from bot.__main__ import main
from bot.event import Event
from bot.eventfile import SEED_EVENT, load_event
from bot.export import Format
from bot.export.jsonfile import schema_file
from bot.export.runner import write_exports
from bot.i18n import Catalogue
from storage.exports import open_export_source

EVENT = "aabne-vaerksteder-2018"
WITHDRAWN = "MARKER-withdrawn-by-its-author"
HIDDEN = "MARKER-hidden-by-a-facilitator"


@pytest.fixture(scope="module")
def rehearsed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The seed event rehearsed with 24 participants; then three inputs withdrawn and three
    hidden (highlights and relayed ones among them), each given a text found nowhere else."""
    out = tmp_path_factory.mktemp("rehearsal")
    capture = pytest.MonkeyPatch()
    capture.setattr(sys, "stdout", io.StringIO())
    try:
        assert main(["rehearse", "--participants", "24", "--out", str(out)]) == 0
    finally:
        capture.undo()
    with sqlite3.connect(out / "rehearsal.sqlite3") as conn:
        relayed = [r[0] for r in conn.execute("SELECT input_id FROM highlight_relays LIMIT 2")]
        others = [
            r[0]
            for r in conn.execute(
                "SELECT id FROM inputs WHERE id NOT IN (SELECT input_id FROM highlight_relays)"
                " ORDER BY id LIMIT 4"
            )
        ]
        chosen = relayed + others
        for n, input_id in enumerate(chosen[:3]):
            conn.execute(
                "UPDATE inputs SET state = 'withdrawn', text = ? WHERE id = ?",
                (f"{WITHDRAWN}-{n}", input_id),
            )
        for n, input_id in enumerate(chosen[3:6]):
            conn.execute(
                "UPDATE inputs SET state = 'hidden', text = ? WHERE id = ?",
                (f"{HIDDEN}-{n}", input_id),
            )
    return out


@pytest.fixture(scope="module")
def exported(rehearsed: Path) -> Path:
    out = rehearsed / "exports"
    capture = pytest.MonkeyPatch()
    capture.setattr(sys, "stdout", io.StringIO())
    try:
        database = str(rehearsed / "rehearsal.sqlite3")
        assert main(["export", "--database", database, "--out", str(out)]) == 0
    finally:
        capture.undo()
    return out


def query(rehearsed: Path, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    with sqlite3.connect(f"file:{rehearsed / 'rehearsal.sqlite3'}?mode=ro", uri=True) as conn:
        return [tuple(row) for row in conn.execute(sql, params)]


def visible(rehearsed: Path) -> dict[int, tuple[Any, ...]]:
    """id → (site, text, author name, anonymous) of every visible input."""
    return {
        row[0]: row[1:]
        for row in query(
            rehearsed,
            "SELECT i.id, i.site_key, i.text, p.display_name, i.anonymous FROM inputs i"
            " JOIN participants p ON p.user_id = i.user_id WHERE i.state = 'visible'",
        )
    }


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return list(csv.DictReader(handle))


def test_the_rehearsal_ends_by_writing_every_export(rehearsed: Path) -> None:
    for name in (
        f"{EVENT}.csv",
        f"{EVENT}.xlsx",
        f"{EVENT}.json",
        f"{EVENT}-report.html",
        f"{EVENT}-report.md",
    ):
        assert (rehearsed / name).stat().st_size > 1000, name
    assert (
        sorted(p.suffix for p in (rehearsed / f"{EVENT}-report-images").iterdir()) == [".png"] * 8
    )  # an activity chart per site, a top-terms chart per prompt and site


def test_the_csv_has_a_bom_and_exactly_the_visible_inputs(rehearsed: Path, exported: Path) -> None:
    path = exported / f"{EVENT}.csv"
    assert path.read_bytes().startswith(b"\xef\xbb\xbf")
    rows = read_csv(path)
    expected = visible(rehearsed)
    assert len(expected) > 50
    assert {int(row["id"]) for row in rows} == set(expected)
    assert len(rows) == len(expected)
    for row in rows:
        site, text, _, _ = expected[int(row["id"])]
        assert (row["site"], row["text"]) == (site, text)
    assert Counter(row["site"] for row in rows) == Counter(s for s, *_ in expected.values())
    raw = path.read_text(encoding="utf-8-sig")
    assert WITHDRAWN not in raw
    assert HIDDEN not in raw


def test_the_csv_shows_authors_as_each_participant_chose(rehearsed: Path, exported: Path) -> None:
    expected = visible(rehearsed)
    rows = read_csv(exported / f"{EVENT}.csv")
    anonymous = [row for row in rows if expected[int(row["id"])][3]]
    named = [row for row in rows if not expected[int(row["id"])][3]]
    assert anonymous
    assert named
    assert all(row["author"] == "" for row in anonymous)
    assert all(row["author"] == expected[int(row["id"])][2] for row in named)
    # No user id or chat id ever leaves the database.
    assert "user_id" not in rows[0]
    assert "chat_id" not in rows[0]


def test_the_csv_names_prompt_time_and_relays(rehearsed: Path, exported: Path) -> None:
    rows = {int(row["id"]): row for row in read_csv(exported / f"{EVENT}.csv")}
    relays: dict[int, set[str]] = {}
    for input_id, site in query(rehearsed, "SELECT input_id, to_site FROM highlight_relays"):
        relays.setdefault(input_id, set()).add(site)
    highlights = {r[0] for r in query(rehearsed, "SELECT input_id FROM highlights")}
    for input_id, row in rows.items():
        assert set(filter(None, row["relayed_to"].split(","))) == relays.get(input_id, set())
        assert row["highlight"] == ("true" if input_id in highlights else "false")
        moment = datetime.fromisoformat(row["created_at"])
        assert moment.utcoffset() == timedelta(hours=2)
    assert any(row["relayed_to"] for row in rows.values())
    group_work = [row for row in rows.values() if row["item"] == "group_work_1"]
    assert all(row["item_title"] == "Gruppearbejde 1" for row in group_work)
    # Table 1 in Aalborg had its own text; other tables their site's.
    table_one = [r for r in group_work if (r["site"], r["table"]) == ("aalborg", "t1")]
    assert table_one
    assert all(r["prompt"].startswith("Bord 1 ser på risikoen") for r in table_one)


def test_the_xlsx_has_a_summary_and_a_sheet_per_site_with_frozen_headers(
    rehearsed: Path, exported: Path
) -> None:
    workbook = openpyxl.load_workbook(exported / f"{EVENT}.xlsx", read_only=False)
    assert workbook.sheetnames == ["Oversigt", "Aalborg", "København"]
    expected = visible(rehearsed)
    for sheet, site in ((workbook["Aalborg"], "aalborg"), (workbook["København"], "kobenhavn")):
        assert sheet.freeze_panes == "A2"
        header = [cell.value for cell in sheet[1]]
        assert header[0] == "Id"
        assert "Tekst" in header
        text_column = header.index("Tekst")
        ids = {row[0] for row in sheet.iter_rows(min_row=2, values_only=True)}
        assert ids == {i for i, (s, *_) in expected.items() if s == site}
        texts = [str(row[text_column]) for row in sheet.iter_rows(min_row=2, values_only=True)]
        assert not any(WITHDRAWN in t or HIDDEN in t for t in texts)
        assert sheet.column_dimensions["Q"].width >= 60  # the text column is wide
    summary = [row for row in workbook["Oversigt"].iter_rows(values_only=True) if any(row)]
    checked_in = dict(
        query(
            rehearsed,
            "SELECT site_key, COUNT(*) FROM checkins GROUP BY site_key",
        )
    )
    site_rows = {row[0]: row for row in summary if row[0] in {"Aalborg", "København"}}
    assert site_rows["Aalborg"][2] == checked_in["aalborg"]
    assert site_rows["København"][2] == checked_in["kobenhavn"]


def test_the_json_follows_its_schema_and_holds_the_visible_inputs(
    rehearsed: Path, exported: Path
) -> None:
    document = json.loads((exported / f"{EVENT}.json").read_text(encoding="utf-8"))
    schema = json.loads(schema_file().read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.validate(document, schema, cls=jsonschema.Draft202012Validator)
    assert document["schema_version"] == 1
    assert document["event"]["key"] == EVENT
    expected = visible(rehearsed)
    assert {item["id"] for item in document["inputs"]} == set(expected)
    assert [site["key"] for site in document["sites"]] == ["aalborg", "kobenhavn"]
    for site in document["sites"]:
        assert site["inputs"] == sum(1 for s, *_ in expected.values() if s == site["key"])
        assert sum(p["inputs"] for p in site["prompts"]) == site["inputs"]
        assert [p["item"] for p in site["prompts"]] == ["group_work_1", "group_work_2", "wrap_up"]
        assert [t["key"] for t in site["tables"]] == ["t1", "t2", "t3", "t4"]
        assert sum(t["checked_in"] for t in site["tables"]) == site["checked_in"] == 12


class _Report(HTMLParser):
    """What a reader of the report sees: headings, list items by list, images, links."""

    def __init__(self) -> None:
        super().__init__()
        self.lists: list[str] = []
        self.items: Counter[str] = Counter()
        self.images: list[str] = []
        self.charts = 0
        self.external: list[str] = []
        self.headings: list[str] = []
        self._heading = False
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "ul":
            self.lists.append(values.get("class") or "")
        elif tag == "li" and self.lists:
            self.items[self.lists[-1]] += 1
        elif tag == "img":
            self.images.append(values.get("src") or "")
        elif tag == "svg":
            self.charts += 1
        elif tag in {"script", "link", "iframe"}:
            self.external.append(tag)
        elif tag in {"h1", "h2", "h3"}:
            self._heading = True
            self.headings.append("")

    def handle_endtag(self, tag: str) -> None:
        if tag == "ul" and self.lists:
            self.lists.pop()
        elif tag in {"h1", "h2", "h3"}:
            self._heading = False

    def handle_data(self, data: str) -> None:
        self.text.append(data)
        if self._heading:
            self.headings[-1] += data


def test_the_html_report_is_self_contained_and_shows_every_visible_input(
    rehearsed: Path, exported: Path
) -> None:
    page = (exported / f"{EVENT}-report.html").read_text(encoding="utf-8")
    report = _Report()
    report.feed(page)
    expected = visible(rehearsed)
    highlights = query(
        rehearsed,
        "SELECT COUNT(*) FROM highlights h JOIN inputs i ON i.id = h.input_id"
        " WHERE i.state = 'visible'",
    )[0][0]
    assert report.items["inputs"] == len(expected)
    assert report.items["inputs highlights"] == highlights > 0
    assert report.external == []
    # The charts are inline SVG: nothing to fetch, no image files.
    assert report.charts == 8
    assert report.images == []
    assert "http://www.w3.org/2000/svg" in page
    headings = [h.strip() for h in report.headings]
    assert headings[0] == "Åbne værksteder"
    aalborg = headings.index("Aalborg – Videnscenter for Velfærdsteknologi Vest")
    kobenhavn = next(i for i, h in enumerate(headings) if h.startswith("København –"))
    assert aalborg < kobenhavn
    assert [h.split(" startede")[0] for h in headings[aalborg + 1 : kobenhavn]] == [
        "Gruppearbejde 1",
        "Gruppearbejde 2",
        "Opsamling",
    ]
    text = "".join(report.text)
    assert WITHDRAWN not in text
    assert HIDDEN not in text
    assert "12 af 12 indtjekkede har svaret" in text or "af 12 indtjekkede" in text


def test_the_markdown_report_lists_the_same_inputs_with_its_pictures_beside_it(
    rehearsed: Path, exported: Path
) -> None:
    text = (exported / f"{EVENT}-report.md").read_text(encoding="utf-8")
    expected = visible(rehearsed)
    highlights = query(
        rehearsed,
        "SELECT COUNT(*) FROM highlights h JOIN inputs i ON i.id = h.input_id"
        " WHERE i.state = 'visible'",
    )[0][0]
    assert text.count("\n- ") == len(expected) + highlights
    images = [line for line in text.splitlines() if line.startswith("![")]
    assert len(images) == 8
    for line in images:
        target = line.rsplit("(", 1)[1].rstrip(")")
        assert (exported / target).read_bytes().startswith(b"\x89PNG")
    assert WITHDRAWN not in text
    assert HIDDEN not in text


@pytest.mark.parametrize("anonymity", ["role_only", "anonymous"])
def test_an_event_that_hides_names_has_none_in_any_file(
    rehearsed: Path, tmp_path: Path, anonymity: str
) -> None:
    data = load_event(SEED_EVENT).model_dump(mode="python")
    data["event"]["anonymity"] = anonymity
    event = Event.model_validate(data)
    names = {row[0] for row in query(rehearsed, "SELECT display_name FROM participants")}
    assert "Deltager 1" in names

    async def export() -> None:
        async with open_export_source(rehearsed / "rehearsal.sqlite3") as source:
            await write_exports(
                event,
                Catalogue.load(default="da"),
                source,
                tmp_path,
                formats=(Format.CSV, Format.JSON, Format.HTML),
                generated_at=datetime(2018, 10, 3, 15, 0, tzinfo=UTC),
            )

    asyncio.run(export())
    rows = read_csv(tmp_path / f"{EVENT}.csv")
    if anonymity == "role_only":
        assert {row["author"].split(", ")[1] for row in rows} == {"Aalborg", "København"}
        assert all(row["category_name"] for row in rows)
    else:
        assert {row["author"] for row in rows} == {""}
        assert {row["category"] for row in rows} == {""}
    for name in (f"{EVENT}.csv", f"{EVENT}.json", f"{EVENT}-report.html"):
        content = (tmp_path / name).read_text(encoding="utf-8-sig")
        # "Deltager 1" would also match "Deltager 12": look for the names as whole values.
        leaked = [n for n in names if f'"{n}"' in content or f"· {n} ·" in content]
        assert leaked == [], name


def test_one_site_and_one_format_go_to_the_file_named(rehearsed: Path, tmp_path: Path) -> None:
    target = tmp_path / "aalborg.csv"
    capture = pytest.MonkeyPatch()
    capture.setattr(sys, "stdout", io.StringIO())
    try:
        code = main(
            [
                "export",
                "--database",
                str(rehearsed / "rehearsal.sqlite3"),
                "--format",
                "csv",
                "--site",
                "aalborg",
                "--out",
                str(target),
            ]
        )
    finally:
        capture.undo()
    assert code == 0
    rows = read_csv(target)
    assert {row["site"] for row in rows} == {"aalborg"}
    assert len(rows) == sum(1 for s, *_ in visible(rehearsed).values() if s == "aalborg")
    assert list(tmp_path.iterdir()) == [target]
