"""The export's parts on their own: the read model's filters and batches, cell escaping,
sheet names, Markdown escaping, top terms, file names, and what the bot imports at start-up."""

from __future__ import annotations

import csv
import io
import json
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from bot.event import Anonymity, Event
from bot.export import Format, csvfile, jsonfile
from bot.export.charts import activity_svg, bins, terms_svg, ticks
from bot.export.csvfile import field
from bot.export.fields import COLUMNS, ExportRow, Place, Presenter
from bot.export.records import ExportedInput, PromptRef, Scope, TableRef
from bot.export.report import md
from bot.export.runner import target_paths
from bot.export.terms import TermCounter, stopwords, words
from bot.export.xlsxfile import sheet_name
from bot.i18n import Catalogue
from bot.models import InputKind
from bot.services.authors import author_label
from storage.db import Database
from storage.exports import ExportSchemaError, SqliteExportSource, open_export_source

EVENT = "ev"
T0 = datetime(2018, 10, 3, 11, 40, tzinfo=UTC)


async def _seed(db: Database) -> None:
    """Eight inputs at two sites: one hidden, one withdrawn, one highlighted and relayed."""
    async with db.transaction() as conn:
        for user in (1, 2):
            await conn.execute(
                "INSERT INTO participants (user_id, chat_id, display_name, created_at)"
                " VALUES (?, ?, ?, ?)",
                (user, user, f"P{user}", T0.isoformat()),
            )
        rows = [
            # user, site, table, item, state
            (1, "a", "t1", "q1", "visible"),
            (1, "a", "t1", "q1", "hidden"),
            (2, "a", "t2", "q1", "visible"),
            (2, "a", None, "q1", "visible"),
            (1, "a", "t1", "q2", "withdrawn"),
            (2, "a", "t2", "q2", "visible"),
            (1, "b", "t1", "q1", "visible"),
            (2, "b", "t1", None, "visible"),
        ]
        for n, (user, site, table, item, state) in enumerate(rows, 1):
            await conn.execute(
                "INSERT INTO inputs (event_key, user_id, site_key, group_key, role, item_key,"
                " kind, text, chat_id, message_id, state, created_at)"
                " VALUES (?, ?, ?, ?, 'participant', ?, 'text', ?, ?, ?, ?, ?)",
                (
                    EVENT,
                    user,
                    site,
                    table,
                    item,
                    f"input {n}",
                    user,
                    n,
                    state,
                    (T0 + timedelta(minutes=n)).isoformat(),
                ),
            )
        await conn.execute(
            "INSERT INTO highlights (input_id, event_key, site_key, reason, created_at)"
            " VALUES (3, ?, 'a', 'star', ?)",
            (EVENT, T0.isoformat()),
        )
        await conn.execute(
            "INSERT INTO highlight_relays VALUES (3, 'b', 'digest', 'k', ?)", (T0.isoformat(),)
        )


async def test_the_read_model_streams_visible_inputs_in_batches_by_scope(
    db: Database,
) -> None:
    await _seed(db)
    source = SqliteExportSource(db.conn, batch=2)

    async def ids(scope: Scope) -> list[int]:
        return [row.id async for row in source.inputs(EVENT, scope)]

    assert await ids(Scope()) == [1, 3, 4, 6, 7, 8]
    assert await ids(Scope(site_key="a")) == [1, 3, 4, 6]
    # Within a prompt: by table (no table first, as SQLite sorts NULL), then time.
    assert await ids(Scope("a", PromptRef("q1", None))) == [4, 1, 3]
    assert await ids(Scope("a", PromptRef("q1", None), TableRef(None))) == [4]
    # The report reads a prompt's tables in one query, in the event's order of tables, then
    # tables the event does not list (by key), then the inputs without a table.
    assert await ids(Scope("a", PromptRef("q1", None), table_order=("t2", "t1"))) == [3, 1, 4]
    assert await ids(Scope("a", PromptRef("q1", None), table_order=("t2",))) == [3, 1, 4]
    assert await ids(Scope("a", PromptRef("q1", None), table_order=("t1", "t9"))) == [1, 3, 4]
    assert await ids(Scope("b", PromptRef(None, None))) == [8]
    assert await ids(Scope("a", highlights_only=True)) == [3]
    [row] = [row async for row in source.inputs(EVENT, Scope(highlights_only=True))]
    assert (row.highlight, row.relayed_to, row.author_name) == (True, ("b",), "P2")


async def test_participation_counts_visible_inputs_and_distinct_authors(db: Database) -> None:
    await _seed(db)
    figures = await SqliteExportSource(db.conn).participation(EVENT)
    q1 = figures.prompt("a", PromptRef("q1", None))
    assert (q1.total.inputs, q1.total.hidden, q1.total.answered) == (3, 1, 2)
    assert q1.by_table["t1"].inputs == 1
    assert figures.prompt("a", PromptRef("q2", None)).total.inputs == 1  # one was withdrawn
    assert figures.site("a").total.answered == 2
    assert figures.site("nowhere").checked_in == 0
    only_b = await SqliteExportSource(db.conn).participation(EVENT, ["b"])
    assert {p.site_key for p in only_b.prompts} == {"b"}
    # Without the per-table pass: the same totals, no tables.
    lean = await SqliteExportSource(db.conn).participation(EVENT, per_table=False)
    assert lean.prompt("a", PromptRef("q1", None)).total == q1.total
    assert lean.prompt("a", PromptRef("q1", None)).by_table == {}
    assert lean.site("a") == figures.site("a")


async def test_the_texts_of_a_scope_are_those_of_its_visible_inputs(db: Database) -> None:
    await _seed(db)
    source = SqliteExportSource(db.conn, batch=2)
    scope = Scope("a", PromptRef("q1", None))
    texts = sorted([text async for text in source.texts(EVENT, scope)])
    assert texts == sorted([row.text async for row in source.inputs(EVENT, scope)])
    assert texts == ["input 1", "input 3", "input 4"]


async def test_an_export_source_is_read_only_and_refuses_what_is_not_a_database(
    tmp_path: Path, db: Database
) -> None:
    with pytest.raises(ExportSchemaError):
        async with open_export_source(tmp_path / "missing.sqlite3"):
            pass
    assert not (tmp_path / "missing.sqlite3").exists()
    async with open_export_source(db.path) as source:
        with pytest.raises(Exception, match="readonly"):
            await source._conn.execute("DELETE FROM inputs")


def test_cells_that_a_spreadsheet_would_run_as_formulas_are_defused() -> None:
    assert field('=HYPERLINK("http://x")') == '"\'=HYPERLINK(""http://x"")"'
    assert field("+45 1234") == "'+45 1234"
    assert field("@SUM(A1)") == "'@SUM(A1)"
    assert field("Politikerne – og vi") == "Politikerne – og vi"
    assert (field(None), field(""), field(3)) == ("", "", "3")


# Values a participant (or an event file) might bring: what the csv module quotes, what a
# spreadsheet runs, what JSON escapes, and what looks like nothing.
AWKWARD: list[str | None] = [
    "",
    None,
    "plain",
    'she said "yes"',
    '"',
    "a,b",
    ",",
    "line\nbreak",
    "carriage\rreturn",
    "\r\n",
    "=1+1",
    "+45 1234",
    "-x",
    "@SUM(A1)",
    "\tx",
    '=HYPERLINK("http://x", "a,b")',
    "\ufeffwith a BOM",
    "emoji 🎉 og æøå",
    " leading and trailing ",
    "back\\slash",
    "nul\x00byte",
    "'quoted'",
]
COPENHAGEN = ZoneInfo("Europe/Copenhagen")


def _row(values: dict[str, Any]) -> ExportRow:
    place = Place(**{column: values[column] for column in Place._fields})
    return ExportRow(place=place, **{c: values[c] for c in ExportRow._fields if c != "place"})


def _columns(row: ExportRow) -> dict[str, Any]:
    """The row by column, as the CSV and JSON are meant to show it."""
    record = {"id": row.id, **row.place._asdict(), **row._asdict()}
    del record["place"]
    return {column: record[column] for column in COLUMNS}


def _awkward_rows() -> list[ExportRow]:
    """Rows with each awkward value in every column that holds text, the others varied."""
    rows: list[ExportRow] = []
    for n, text in enumerate(AWKWARD):
        other = AWKWARD[(n + 5) % len(AWKWARD)]
        values: dict[str, Any] = {
            "id": n,
            "adhoc_id": None if n % 2 else n * 7,
            "created_at": datetime(2018, 10, 3, 13, 40, n, tzinfo=COPENHAGEN),
            "edited_at": None if n % 3 else datetime(2018, 10, 3, 13, 41, 5, tzinfo=COPENHAGEN),
            "stars": n % 4,
            "votes": n % 5,
            "highlight": bool(n % 2),
            "relayed_to": [("a",), ("a", "b"), (), ("b,c",)][n % 4],
            "file_id": None if n % 2 else other,
            "file_name": None if n % 2 else text,
            "mime_type": None if n % 2 else "image/jpeg",
            "kind": "text",
        }
        for shift in (0, 1):
            value = text if shift else other
            values["text"] = value or ""  # never None: an input without text has ""
            rows.append(_row({c: values.get(c, value) for c in COLUMNS}))
    return rows


def _spreadsheet_cell(value: Any) -> Any:
    """What the CSV means to show for a value, for the csv module to write."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.isoformat(timespec="seconds")
    if isinstance(value, tuple):
        return ",".join(value)
    return value


def test_csv_lines_are_what_the_csv_module_writes_for_awkward_values() -> None:
    lines = csvfile.Lines()
    for _ in range(2):  # the second time with the places written before
        for row in _awkward_rows():
            expected = io.StringIO()
            csv.writer(expected).writerow(map(_spreadsheet_cell, _columns(row).values()))
            assert lines.line(row) == expected.getvalue(), row
    expected = io.StringIO()
    csv.writer(expected).writerow(COLUMNS)
    assert csvfile.line(COLUMNS) == expected.getvalue()


def test_a_csv_field_is_quoted_as_the_csv_module_quotes_a_cell() -> None:
    for value in [*AWKWARD, 0, 12]:
        expected = io.StringIO()
        csv.writer(expected).writerow([_spreadsheet_cell(value), "x"])
        assert field(value) + ",x\r\n" == expected.getvalue(), value


def test_json_lines_are_what_the_encoder_writes_for_awkward_values() -> None:
    def iso(moment: datetime) -> str:
        return moment.isoformat(timespec="seconds")

    encode = json.JSONEncoder(ensure_ascii=False, default=iso).encode
    lines = jsonfile.Lines()
    for _ in range(2):
        for row in _awkward_rows():
            line = lines.line(row)
            assert line == encode(_columns(row)), row
            assert json.loads(line) == json.loads(encode(_columns(row)))


@pytest.mark.parametrize("mode", list(Anonymity))
def test_the_exports_show_authors_exactly_as_author_label_does(
    seed_event: Event, mode: Anonymity
) -> None:
    data = seed_event.model_dump(mode="python")
    data["event"]["anonymity"] = mode
    event = Event.model_validate(data)
    texts = Catalogue.load(default=event.default_language)
    presenter = Presenter.for_event(event, texts)
    anonymous = texts.plain(event.default_language, "authors.anonymous")
    sites = [site.key for site in event.sites]
    names = ["Mette F", "", "   ", anonymous, "Ünïcode 🎉", "Mette F"]
    for site in sites:
        for category in (None, "politician", "no_such_role"):
            for hidden in (False, True):
                for name in names:
                    item = ExportedInput(
                        1, event.key, 7, site, "t1", "participant", category, hidden,
                        "q1", None, InputKind.TEXT, "tekst", None, None, 7, 1, T0, None, name,
                        0, 0, None, None, False, (),
                    )  # fmt: skip
                    label = author_label(event, texts, event.default_language, item.as_input())
                    assert presenter.author_label(item) == label
                    author = None if label == anonymous else label
                    assert presenter.author(item) == author
                    assert presenter.row(item).author == author


def test_sheet_names_follow_excels_rules() -> None:
    taken: set[str] = set()
    assert sheet_name("København", taken) == "København"
    assert sheet_name("københavn", taken) == "københavn (2)"
    long = sheet_name("A/B: a very long site name that goes on and on", taken)
    assert len(long) <= 31
    assert "/" not in long
    assert ":" not in long


def test_markdown_escapes_markup_in_participants_text() -> None:
    assert md("*vigtigt* [link](x) <b>") == r"\*vigtigt\* \[link\](x) \<b\>"
    assert md("# ikke en overskrift") == r"\# ikke en overskrift"
    assert md("#hashtag og 2.0") == "#hashtag og 2.0"
    assert md("- ikke en liste\n2. heller ikke") == "\\- ikke en liste  \n  2\\. heller ikke"


def test_top_terms_leave_out_danish_and_english_stopwords() -> None:
    assert {"og", "det", "the", "and", "skal"} <= stopwords()
    assert words("Politikerne skal sætte RAMMEN – og the frame!") == [
        "politikerne",
        "sætte",
        "rammen",
        "frame",
    ]
    counter = TermCounter()
    counter.add_all(
        [
            "Politikerne skal sætte rammen, rammen, rammen",
            "Rammen er vigtig for politikerne",
            "Borgerne først",
        ]
    )
    # Each word counts once per input; a word in one input only is not a recurring term.
    assert counter.top() == [("politikerne", 2), ("rammen", 2)]


def test_minutes_are_binned_by_five_with_the_empty_bins_kept() -> None:
    start = datetime(2018, 10, 3, 11, 41, tzinfo=UTC)
    binned = bins(
        [(start, 2), (start + timedelta(minutes=3), 1), (start + timedelta(minutes=16), 4)]
    )
    assert [(m.minute, n) for m, n in binned] == [(40, 3), (45, 0), (50, 0), (55, 4)]


SVG = "{http://www.w3.org/2000/svg}"


def test_axis_ticks_are_whole_numbers_at_a_round_step() -> None:
    assert ticks(3) == [0, 1, 2, 3]
    assert ticks(17) == [0, 5, 10, 15]
    assert ticks(130) == [0, 50, 100]
    assert ticks(0.5) == [0]


def test_the_top_terms_chart_has_a_bar_per_word_and_escapes_the_words() -> None:
    svg = terms_svg(
        [("<b>&co", 9), ("rammen", 4), ("æøå", 2)], xlabel="input med ordet", alt='"Ord" & x'
    )
    root = ET.fromstring(svg)  # noqa: S314 - our own output; well-formed whatever the words
    assert root.findtext(f"{SVG}title") == '"Ord" & x'
    assert len(root.findall(f"{SVG}rect")) == 3
    labels = [t.text for t in root.iter(f"{SVG}text")]
    assert {"<b>&co", "rammen", "æøå", "9", "4", "2", "input med ordet"} <= set(labels)
    assert "<b>" not in svg
    widths = [float(r.get("width", "0")) for r in root.findall(f"{SVG}rect")]
    assert widths == sorted(widths, reverse=True)  # the most frequent word on top, longest


def test_the_activity_chart_has_a_bar_per_busy_bin_and_a_line_per_start() -> None:
    start = datetime(2018, 10, 3, 11, 41, tzinfo=UTC)  # 13:41 in Copenhagen
    per_minute = [
        (start, 2),
        (start + timedelta(minutes=3), 1),
        (start + timedelta(minutes=16), 4),
    ]
    starts = [
        (start - timedelta(minutes=1), "Gruppearbejde <1>"),
        (start + timedelta(minutes=20), "En meget lang titel på et punkt i programmet"),
    ]
    svg = activity_svg(
        per_minute, starts, ylabel="input pr. 5 min", tz=ZoneInfo("Europe/Copenhagen"), alt="a"
    )
    root = ET.fromstring(svg)  # noqa: S314 - our own output
    assert len(root.findall(f"{SVG}rect")) == 2  # 13:40 (3) and 13:55 (4); empty bins drawn empty
    dashed = [line for line in root.iter(f"{SVG}line") if line.get("stroke-dasharray")]
    assert len(dashed) == 2
    labels = [t.text for t in root.iter(f"{SVG}text")]
    assert "Gruppearbejde <1>" in labels
    assert "En meget lang titel p…" in labels  # cut at 22 characters
    assert "14:00" in labels  # the event's local time, on the hour
    assert "input pr. 5 min" in labels
    assert activity_svg([], [], ylabel="y", tz=UTC, alt="tom").startswith("<svg")
    danish = activity_svg(
        per_minute, starts, ylabel="y", tz=ZoneInfo("Europe/Copenhagen"), alt="a", lang="da"
    )
    danish_labels = [t.text for t in ET.fromstring(danish).iter(f"{SVG}text")]  # noqa: S314
    assert "14.00" in danish_labels  # as Danish writes clock times (CLDR)


def test_one_format_may_name_its_file_and_several_go_into_a_folder(tmp_path: Path) -> None:
    assert target_paths("ev", tmp_path / "x.csv", [Format.CSV], None) == {
        Format.CSV: tmp_path / "x.csv"
    }
    assert target_paths("ev", tmp_path, [Format.HTML, Format.JSON], ("a",)) == {
        Format.HTML: tmp_path / "ev-a-report.html",
        Format.JSON: tmp_path / "ev-a.json",
    }


def test_the_bot_starts_without_loading_the_export_libraries() -> None:
    code = (
        "import sys, bot.app, handlers, bot.__main__\n"
        "heavy = {'matplotlib', 'xlsxwriter', 'openpyxl'} & set(sys.modules)\n"
        "print(sorted(heavy))"
    )
    result = subprocess.run(  # noqa: S603 - our own interpreter, a fixed script
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"


async def test_an_export_runs_with_the_older_objects_left_out_of_collection() -> None:
    import gc
    from contextlib import asynccontextmanager

    from bot.export.runner import off_loop

    @asynccontextmanager
    async def opener() -> AsyncIterator[Any]:
        yield None

    async def job(source: Any) -> int:
        return gc.get_freeze_count()

    before = gc.get_freeze_count()
    during = await off_loop(opener, job)
    assert during > before  # what existed before the export is set aside while it runs...
    assert gc.get_freeze_count() == before  # ...and given back to the collector afterwards


def test_rows_written_whole_are_the_rows_xlsxwriter_writes(tmp_path: Path) -> None:
    """`PlainRows` relies on XlsxWriter's internals (pyproject.toml pins its version): a sheet
    written through it must be the sheet XlsxWriter writes itself, byte for byte."""
    import zipfile

    import xlsxwriter

    from bot.export.xlsxrows import PlainRows

    when = datetime(2018, 10, 3, 13, 40, 5, tzinfo=UTC).replace(tzinfo=None)  # as Excel has it
    plain: list[Any] = [7, "ev", None, "Bord 1 & 2 <x> \"citat\" 'x'", "", when, None, True, 0]
    special: list[Any] = [8, "two\nlines", " lead", None, "æøå – 🙂", when, when, False, 3]
    # Each of these leaves its row to XlsxWriter.
    odd = [
        "_x0041_ looks escaped",
        "\ufffe",
        "<r>not rich</r>",
        "trailing ",
        "bell\x07",
        "tab\there",
        "x" * 20000,
    ]
    rows = [plain, special, plain, [None] * 3, plain, *([9, t, "ok"] for t in odd), plain]
    path = tmp_path / "rows.xlsx"
    workbook = xlsxwriter.Workbook(str(path), {"constant_memory": True})
    time_format = workbook.add_format({"num_format": "yyyy-mm-dd hh:mm:ss"})
    header = workbook.add_format({"bold": True})
    stock, whole = workbook.add_worksheet(), workbook.add_worksheet()
    for sheet in (stock, whole):
        sheet.set_column(0, 9, 12)
        sheet.write_string(0, 0, "Id", header)  # a row XlsxWriter holds when the next begins
    plain_rows = PlainRows(whole, time_format)
    left: set[int] = set()  # the rows left to XlsxWriter
    write_string = whole.write_string

    def noting(line: int, *args: Any) -> Any:
        left.add(line)
        return write_string(line, *args)

    setattr(whole, "write_string", noting)  # noqa: B010 - an instance attribute over a method
    for line, row in enumerate(rows, 1):
        for col, value in enumerate(row):
            if value is None:
                continue
            if isinstance(value, datetime):
                stock.write_datetime(line, col, value, time_format)
            elif isinstance(value, bool):
                stock.write_boolean(line, col, value)
            elif isinstance(value, int):
                stock.write_number(line, col, value)
            else:
                stock.write_string(line, col, value)
        plain_rows.write(line, row)
    workbook.close()
    with zipfile.ZipFile(path) as archive:
        written = [archive.read(f"xl/worksheets/sheet{n}.xml") for n in (1, 2)]
    pattern = rb"(?s)<dimension[^>]*>|<sheetData>.*</sheetData>"
    assert re.findall(pattern, written[1]) == re.findall(pattern, written[0])
    assert written[1].count(b"<row ") == len(rows)  # the empty one is not a row
    assert left == {n for n, row in enumerate(rows, 1) if row is not plain and any(row)}


def test_rows_are_written_whole_only_to_a_sheet_in_constant_memory_mode(tmp_path: Path) -> None:
    import xlsxwriter

    from bot.export.xlsxrows import PlainRows

    workbook = xlsxwriter.Workbook(str(tmp_path / "x.xlsx"))
    with pytest.raises(ValueError, match="constant_memory"):
        PlainRows(workbook.add_worksheet(), workbook.add_format())
    workbook.close()
