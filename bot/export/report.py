"""The readable report, in HTML (self-contained: styles and pictures inside the file) and in
Markdown (pictures as PNG files in a folder beside it, or left out with a note).

One walk over the event feeds every renderer: event → site → prompt → table, each prompt
with its participation figures, its top-terms chart and its highlights first. Inputs are
streamed from the database into the open files, never gathered in memory. Every heading and
label comes from the message catalogue (`report.*`), in the event's default language.
"""

from __future__ import annotations

import html
import re
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import IO, Protocol

from bot.export import charts
from bot.export.fields import Presenter, percent
from bot.export.outline import PromptEntry, prompts_of, site_keys
from bot.export.records import (
    ExportedInput,
    ItemStart,
    Participation,
    PromptRef,
    Scope,
)
from bot.export.terms import TermCounter
from bot.i18n import date_and_time

Rows = Callable[[Scope], AsyncIterator[ExportedInput]]


class ReportData(Protocol):
    """What the walk reads besides the inputs (the export source, bound to an event)."""

    async def activity(self, site_key: str) -> list[tuple[datetime, int]]: ...

    async def item_starts(self, site_key: str) -> list[ItemStart]: ...

    def texts(self, scope: Scope) -> AsyncIterator[str]: ...


@dataclass(frozen=True, slots=True)
class Picture:
    """A chart, drawn only in the form a renderer asks for: SVG inside the HTML page, PNG in
    a file beside the Markdown."""

    name: str  # a file name for renderers that write pictures beside the report
    alt: str
    width: int  # CSS pixels: the PNG has 1.5 times as many, so it stays sharp on screens
    svg: Callable[[], str]
    png: Callable[[], bytes]


@dataclass(frozen=True, slots=True)
class FigureRow:
    label: str
    checked_in: int | None
    answered: int | None
    share: str
    inputs: int | None


@dataclass(frozen=True, slots=True)
class Head:
    title: str
    subtitle: str
    question_label: str
    question: str
    generated: str
    anonymity: str
    overview_title: str
    columns: tuple[str, str, str, str, str]
    overview: list[FigureRow]
    contents_title: str
    contents: list[tuple[str, str]]  # (anchor, site name)
    pictures_note: str  # for a renderer that leaves the pictures out


@dataclass(frozen=True, slots=True)
class SiteBlock:
    anchor: str
    title: str
    angle_label: str
    angle: str
    columns: tuple[str, str, str, str, str]
    tables: list[FigureRow]
    activity_title: str
    activity: Picture | None


@dataclass(frozen=True, slots=True)
class PromptBlock:
    anchor: str
    title: str
    when: str
    text: str
    figures: str
    terms_title: str
    terms: Picture | None
    terms_note: str | None


@dataclass(frozen=True, slots=True)
class EntryView:
    time: str
    author: str
    where: str | None  # the table, in the highlights list
    kind: str | None  # "[foto]" for media
    text: str
    marks: str
    relayed: str | None
    highlight: bool


class Renderer(Protocol):
    @property
    def wants_pictures(self) -> bool: ...

    def begin(self, head: Head) -> None: ...

    def site(self, block: SiteBlock) -> None: ...

    def prompt(self, block: PromptBlock) -> None: ...

    def group(self, title: str, *, highlights: bool) -> None: ...

    def entry(self, entry: EntryView) -> None: ...

    def end_group(self) -> None: ...

    def note(self, text: str) -> None: ...

    def end(self, footer: str) -> None: ...


# --- the walk ---------------------------------------------------------------------------------


async def walk(
    renderers: list[Renderer],
    presenter: Presenter,
    participation: Participation,
    only: tuple[str, ...] | None,
    generated_at: datetime,
    rows: Rows,
    data: ReportData,
) -> int:
    """Render the report into every renderer at once; returns the number of inputs shown."""
    say, event = presenter.say, presenter.event
    omit = not any(renderer.wants_pictures for renderer in renderers)
    keys = site_keys(event, only)
    columns = (
        say("report.th.site"),
        say("report.th.checked_in"),
        say("report.th.answered"),
        say("report.th.share"),
        say("report.th.inputs"),
    )
    head = Head(
        title=event.title.get(presenter.lang, presenter.default),
        subtitle=say(
            "report.subtitle",
            date=_date(presenter),
            sites=", ".join(presenter.site_name(k) for k in keys),
        ),
        question_label=say("report.question"),
        question=event.question.get(presenter.lang, presenter.default),
        generated=say(
            "report.generated",
            time=date_and_time(presenter.lang, presenter.local(generated_at)),
        ),
        anonymity=say(f"report.anonymity.{event.event.anonymity.value}"),
        overview_title=say("report.overview"),
        columns=columns,
        overview=[_site_row(presenter, participation, k) for k in keys],
        contents_title=say("report.contents"),
        contents=[(_anchor("site", k), presenter.site_name(k)) for k in keys],
        pictures_note=say("report.pictures_omitted"),
    )
    for renderer in renderers:
        renderer.begin(head)
    shown = 0
    for key in keys:
        starts = await data.item_starts(key)
        await _site(renderers, presenter, participation, key, data, starts, omit)
        for entry in prompts_of(event, participation, key):
            shown += await _prompt(
                renderers, presenter, participation, entry, starts, rows, data, omit
            )
    for renderer in renderers:
        renderer.end(say("report.footer"))
    return shown


def _date(presenter: Presenter) -> str:
    day = presenter.event.event.date
    month = presenter.say(f"report.months.m{day.month}")
    return presenter.say("report.date", day=day.day, month=month, year=str(day.year))


def _share_text(presenter: Presenter, part: int, whole: int) -> str:
    value = percent(part, whole)
    return (
        presenter.say("report.no_share")
        if value is None
        else presenter.say("report.share", percent=value)
    )


def _site_row(presenter: Presenter, participation: Participation, key: str) -> FigureRow:
    figures = participation.site(key)
    return FigureRow(
        presenter.site_name(key),
        figures.checked_in,
        figures.total.answered,
        _share_text(presenter, figures.total.answered, figures.checked_in),
        figures.total.inputs,
    )


def _anchor(*parts: object) -> str:
    joined = "-".join(str(part) for part in parts if part not in {None, ""})
    return re.sub(r"[^a-z0-9_-]+", "-", joined.lower())


async def _site(
    renderers: list[Renderer],
    presenter: Presenter,
    participation: Participation,
    key: str,
    data: ReportData,
    starts: list[ItemStart],
    omit: bool,
) -> None:
    say, event = presenter.say, presenter.event
    site = event.site(key)
    assert site is not None  # noqa: S101 - keys come from the event
    figures = participation.site(key)
    # Per table: who is checked in there now, and the visible inputs written there.
    tables: list[FigureRow] = []
    for group in site.groups:
        tables.append(
            FigureRow(
                presenter.table_name(key, group.key),
                figures.by_table.get(group.key, 0),
                None,
                "",
                _table_inputs(participation, key, group.key),
            )
        )
    activity = None
    if not omit:
        per_minute = await data.activity(key)
        if per_minute:
            marks = [
                (start.at, presenter.item_title(PromptRef(start.item_key, None)))
                for start in starts
            ]
            ylabel, alt = (
                say("report.activity_axis"),
                say("report.activity_alt", site=presenter.site_name(key)),
            )
            activity = Picture(
                f"{_anchor('activity', key)}.png",
                alt,
                charts.ACTIVITY_WIDTH,
                svg=lambda: charts.activity_svg(
                    per_minute, marks, ylabel=ylabel, tz=event.tz, alt=alt, lang=presenter.lang
                ),
                png=lambda: charts.activity_png(
                    per_minute, marks, ylabel=ylabel, tz=event.tz, lang=presenter.lang
                ),
            )
    block = SiteBlock(
        anchor=_anchor("site", key),
        title=say(
            "report.site_title",
            site=presenter.site_name(key),
            venue=site.venue.get(presenter.lang, presenter.default),
        ),
        angle_label=say("report.angle"),
        angle=site.angle.get(presenter.lang, presenter.default),
        columns=(
            say("report.th.table"),
            say("report.th.checked_in"),
            "",
            "",
            say("report.th.inputs"),
        ),
        tables=tables,
        activity_title=say("report.activity"),
        activity=activity,
    )
    for renderer in renderers:
        renderer.site(block)


def _table_inputs(participation: Participation, site_key: str, group_key: str) -> int:
    return sum(
        p.by_table[group_key].inputs
        for p in participation.prompts
        if p.site_key == site_key and group_key in p.by_table
    )


async def _prompt(
    renderers: list[Renderer],
    presenter: Presenter,
    participation: Participation,
    entry: PromptEntry,
    starts: list[ItemStart],
    rows: Rows,
    data: ReportData,
    omit: bool,
) -> int:
    say, key, ref = presenter.say, entry.site_key, entry.ref
    title = presenter.item_title(ref, entry.adhoc)
    checked_in = participation.site(key).checked_in
    tally = entry.figures.total
    started = next((s.at for s in starts if ref.item_key and s.item_key == ref.item_key), None)
    if entry.adhoc is not None:
        started = entry.adhoc.opened_at
    scope = Scope(site_key=key, prompt=ref)

    picture, note = None, None
    if not omit and tally.inputs:
        # Only the texts: the chart comes before the inputs, which are read again below.
        terms = TermCounter()
        async for text in data.texts(scope):
            terms.add(text)
        top = terms.top()
        xlabel, alt = say("report.terms_axis"), say("report.terms_alt", title=title)
        if len(top) >= 3:
            picture = Picture(
                f"{_anchor('terms', key, ref.item_key or '', ref.adhoc_id or '')}.png",
                alt,
                charts.TERMS_WIDTH,
                svg=lambda: charts.terms_svg(top, xlabel=xlabel, alt=alt),
                png=lambda: charts.terms_png(top, xlabel=xlabel),
            )
        else:
            note = say("report.terms_none")
    block = PromptBlock(
        anchor=_anchor("prompt", key, ref.item_key, ref.adhoc_id),
        title=title,
        when=say("report.started", time=presenter.hhmm(started)) if started else "",
        text=presenter.prompt_text(key, None, ref, entry.adhoc.text if entry.adhoc else None),
        figures=say(
            "report.prompt_figures",
            answered=tally.answered,
            checked_in=checked_in,
            share=_share_text(presenter, tally.answered, checked_in),
            inputs=tally.inputs,
        ),
        terms_title=say("report.terms"),
        terms=picture,
        terms_note=note,
    )
    for renderer in renderers:
        renderer.prompt(block)
    if not tally.inputs:
        for renderer in renderers:
            renderer.note(say("report.no_inputs"))
        return 0

    highlights = [
        view
        async for _, view in _views(presenter, rows(Scope(key, ref, highlights_only=True)), True)
    ]
    if highlights:
        for renderer in renderers:
            renderer.group(say("report.highlights"), highlights=True)
        for view in highlights:
            for renderer in renderers:
                renderer.entry(view)
        for renderer in renderers:
            renderer.end_group()

    # Every table's inputs in one query: the event's tables in its order, then any other,
    # then those written without a table.
    shown = 0
    site = presenter.event.site(key)
    order = tuple(g.key for g in site.groups) if site else ()
    table: object = _NO_TABLE_YET
    async for group_key, view in _views(
        presenter, rows(Scope(key, ref, table_order=order)), False
    ):
        if group_key != table:
            if table is not _NO_TABLE_YET:
                for renderer in renderers:
                    renderer.end_group()
            table = group_key
            count = entry.figures.by_table.get(group_key)
            for renderer in renderers:
                renderer.group(
                    say(
                        "report.table_count",
                        table=presenter.table_name(key, group_key),
                        count=count.inputs if count else 0,
                    ),
                    highlights=False,
                )
        shown += 1
        for renderer in renderers:
            renderer.entry(view)
    if table is not _NO_TABLE_YET:
        for renderer in renderers:
            renderer.end_group()
    return shown


_NO_TABLE_YET = object()


async def _views(
    presenter: Presenter, rows: AsyncIterator[ExportedInput], with_table: bool
) -> AsyncIterator[tuple[str | None, EntryView]]:
    """Each input as the report shows it, with its table."""
    say = presenter.say
    async for item in rows:
        marks = [say("report.stars", stars=item.stars)] if item.stars else []
        if item.votes:
            marks.append(say("report.votes", votes=item.votes))
        author = presenter.author_label(item)
        _, category = presenter.category(item)
        if category and category not in author:
            author = f"{author} · {category}"
        relayed = (
            say("report.relayed", sites=", ".join(presenter.site_name(s) for s in item.relayed_to))
            if item.relayed_to
            else None
        )
        kind = None
        if item.kind.value != "text":
            kind = say("report.media", kind=presenter.kind_name(item))
            if item.file_name:
                kind = f"{kind} {item.file_name}"
        yield (
            item.group_key,
            EntryView(
                time=presenter.hhmm(item.created_at),
                author=author,
                where=presenter.table_name(item.site_key, item.group_key) if with_table else None,
                kind=kind,
                text=item.text,
                marks=" · ".join(marks),
                relayed=relayed,
                highlight=item.highlight,
            ),
        )


# --- HTML -------------------------------------------------------------------------------------

_CSS = """
:root { --ink: #2b2d31; --muted: #5f6670; --line: #d9dee4; --accent: #2f6690;
        --star: #b5523b; --soft: #f3f6f9; }
* { box-sizing: border-box; }
body { font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif;
       color: var(--ink); margin: 0; background: #fff; }
main { max-width: 920px; margin: 0 auto; padding: 32px 24px 64px; }
header.event { border-bottom: 3px solid var(--accent); margin-bottom: 24px; padding-bottom: 12px; }
h1 { font-size: 30px; margin: 0 0 4px; }
h2 { font-size: 23px; margin: 48px 0 4px; padding-top: 12px; border-top: 1px solid var(--line); }
h3 { font-size: 18px; margin: 32px 0 4px; color: var(--accent); }
h4 { font-size: 14px; margin: 18px 0 6px; text-transform: uppercase; letter-spacing: .04em;
     color: var(--muted); }
.muted, .when, .figures { color: var(--muted); }
.question { background: var(--soft); border-left: 4px solid var(--accent); padding: 10px 14px;
            margin: 14px 0; }
.prompt-text { font-style: italic; margin: 6px 0 10px; }
.figures { font-size: 14px; margin: 4px 0 8px; }
table.figures-table { border-collapse: collapse; margin: 8px 0 16px; font-size: 14px; }
table.figures-table th, table.figures-table td { padding: 4px 12px 4px 0; text-align: right;
                                                 border-bottom: 1px solid var(--line); }
table.figures-table th:first-child, table.figures-table td:first-child { text-align: left; }
img { max-width: 100%; height: auto; display: block; margin: 6px 0 10px; }
ul.inputs { list-style: none; padding: 0; margin: 0 0 12px; }
ul.inputs li { padding: 7px 0 7px 12px; border-left: 3px solid var(--line); margin: 6px 0; }
ul.inputs li.highlight { border-left-color: var(--star); }
ul.highlights li { background: #fbf3f1; }
.text { white-space: pre-line; }
.meta { font-size: 12.5px; color: var(--muted); }
.kind { font-size: 12.5px; color: var(--accent); }
nav ol { margin: 4px 0 0; padding-left: 20px; }
footer { margin-top: 48px; font-size: 13px; color: var(--muted); border-top: 1px solid var(--line);
         padding-top: 8px; }
figure.chart { margin: 4px 0 12px; }
svg.chart { display: block; max-width: 100%; height: auto; }
@media print { h2 { break-before: page; } li, figure { break-inside: avoid; }
               main { padding: 0; } }
"""


def _e(text: str) -> str:
    return html.escape(text, quote=True)


class HtmlReport:
    """A self-contained page: inline styles, charts as inline SVG (with a title for screen
    readers) inside the file."""

    wants_pictures = True

    def __init__(self, handle: IO[str], lang: str) -> None:
        self._out = handle
        self._lang = lang
        self._generated = ""

    def _w(self, *parts: str) -> None:
        self._out.write("".join(parts))

    def _figures(self, columns: tuple[str, ...], rows: list[FigureRow]) -> None:
        used = [i for i, c in enumerate(columns) if c]
        self._w('<table class="figures-table"><thead><tr>')
        self._w("".join(f"<th>{_e(columns[i])}</th>" for i in used), "</tr></thead><tbody>")
        for row in rows:
            cells = (row.label, row.checked_in, row.answered, row.share, row.inputs)
            values = ["" if cells[i] is None else str(cells[i]) for i in used]
            self._w("<tr>", "".join(f"<td>{_e(v)}</td>" for v in values), "</tr>")
        self._w("</tbody></table>\n")

    def _picture(self, picture: Picture) -> None:
        self._w(f'<figure class="chart">{picture.svg()}</figure>\n')

    def begin(self, head: Head) -> None:
        self._w(
            f'<!DOCTYPE html>\n<html lang="{_e(self._lang)}">\n<head>\n<meta charset="utf-8">\n',
            '<meta name="viewport" content="width=device-width, initial-scale=1">\n',
            f"<title>{_e(head.title)}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n<main>\n",
            f'<header class="event"><h1>{_e(head.title)}</h1>',
            f'<div class="muted">{_e(head.subtitle)}</div></header>\n',
            f'<div class="question"><strong>{_e(head.question_label)}</strong> ',
            f"{_e(head.question)}</div>\n",
            f'<p class="muted">{_e(head.anonymity)}</p>\n',
        )
        self._w(f'<section class="overview"><h4>{_e(head.overview_title)}</h4>\n')
        self._figures(head.columns, head.overview)
        self._w(f"</section>\n<nav><h4>{_e(head.contents_title)}</h4><ol>")
        for anchor, name in head.contents:
            self._w(f'<li><a href="#{_e(anchor)}">{_e(name)}</a></li>')
        self._w("</ol></nav>\n")
        self._generated = head.generated

    def site(self, block: SiteBlock) -> None:
        self._w(
            f'<section class="site" id="{_e(block.anchor)}">\n<h2>{_e(block.title)}</h2>\n',
            f"<p><strong>{_e(block.angle_label)}</strong> {_e(block.angle)}</p>\n",
        )
        if block.tables:
            self._figures(block.columns, block.tables)
        if block.activity is not None:
            self._w(f"<h4>{_e(block.activity_title)}</h4>\n")
            self._picture(block.activity)
        self._w("</section>\n")

    def prompt(self, block: PromptBlock) -> None:
        self._w(
            f'<section class="prompt" id="{_e(block.anchor)}">\n<h3>{_e(block.title)}',
            f' <span class="when">{_e(block.when)}</span></h3>\n' if block.when else "</h3>\n",
        )
        if block.text:
            self._w(f'<p class="prompt-text">{_e(block.text)}</p>\n')
        self._w(f'<p class="figures">{_e(block.figures)}</p>\n')
        if block.terms is not None:
            self._w(f"<h4>{_e(block.terms_title)}</h4>\n")
            self._picture(block.terms)
        elif block.terms_note:
            self._w(f'<p class="muted">{_e(block.terms_note)}</p>\n')
        self._w("</section>\n")

    def group(self, title: str, *, highlights: bool) -> None:
        css = "inputs highlights" if highlights else "inputs"
        self._w(f'<h4>{_e(title)}</h4>\n<ul class="{css}">\n')

    def entry(self, entry: EntryView) -> None:
        meta = [entry.time, entry.author]
        if entry.where:
            meta.append(entry.where)
        if entry.marks:
            meta.append(entry.marks)
        if entry.relayed:
            meta.append(entry.relayed)
        kind = f'<span class="kind">{_e(entry.kind)}</span> ' if entry.kind else ""
        css = ' class="highlight"' if entry.highlight else ""
        self._w(
            f'<li{css}><div class="text">{kind}{_e(entry.text)}</div>',
            f'<div class="meta">{_e(" · ".join(meta))}</div></li>\n',
        )

    def end_group(self) -> None:
        self._w("</ul>\n")

    def note(self, text: str) -> None:
        self._w(f'<p class="muted">{_e(text)}</p>\n')

    def end(self, footer: str) -> None:
        self._w(
            f"<footer>{_e(self._generated)} {_e(footer)}</footer>\n</main>\n</body>\n</html>\n"
        )


# --- Markdown ---------------------------------------------------------------------------------

_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>|])")
_MD_LINE_START = re.compile(r"^(\s*)(?:([#>+-])|(\d+)([.)]))(?=\s|$)", re.MULTILINE)


def _escape_line_start(match: re.Match[str]) -> str:
    indent, mark, number, dot = match.groups()
    # A backslash escapes punctuation only: "2." becomes "2\.", not "\2.".
    return f"{indent}\\{mark}" if mark else f"{indent}{number}\\{dot}"


def md(text: str) -> str:
    """Escape what Markdown would read as markup (emphasis, links, HTML, tables, headings and
    list markers at the start of a line) and keep line breaks inside a list item."""
    escaped = _MD_SPECIAL.sub(r"\\\1", text)
    escaped = _MD_LINE_START.sub(_escape_line_start, escaped)
    return escaped.replace("\n", "  \n  ")


class MarkdownReport:
    """The same report in Markdown; pictures go to `images` (a folder beside the file) or, when
    it is None, are left out (the head then says so)."""

    def __init__(self, handle: IO[str], images: Path | None) -> None:
        self._out = handle
        self._images = images
        self._generated = ""

    @property
    def wants_pictures(self) -> bool:
        return self._images is not None

    def _w(self, *parts: str) -> None:
        self._out.write("".join(parts))

    def _figures(self, columns: tuple[str, ...], rows: list[FigureRow]) -> None:
        used = [i for i, c in enumerate(columns) if c]
        self._w("| " + " | ".join(md(columns[i]) for i in used) + " |\n")
        self._w("|" + "|".join(":--" if i == 0 else "--:" for i in range(len(used))) + "|\n")
        for row in rows:
            cells = (row.label, row.checked_in, row.answered, row.share, row.inputs)
            values = ["" if cells[i] is None else md(str(cells[i])) for i in used]
            self._w("| " + " | ".join(values) + " |\n")
        self._w("\n")

    def _picture(self, picture: Picture) -> None:
        if self._images is None:
            return
        self._images.mkdir(parents=True, exist_ok=True)
        (self._images / picture.name).write_bytes(picture.png())
        self._w(f"![{md(picture.alt)}]({self._images.name}/{picture.name})\n\n")

    def begin(self, head: Head) -> None:
        self._w(f"# {md(head.title)}\n\n{md(head.subtitle)}\n\n")
        self._w(f"> **{md(head.question_label)}** {md(head.question)}\n\n")
        self._w(f"{md(head.anonymity)}\n\n")
        if self._images is None:
            self._w(f"*{md(head.pictures_note)}*\n\n")
        self._w(f"#### {md(head.overview_title)}\n\n")
        self._figures(head.columns, head.overview)
        self._generated = head.generated

    def site(self, block: SiteBlock) -> None:
        self._w(f"## {md(block.title)}\n\n**{md(block.angle_label)}** {md(block.angle)}\n\n")
        if block.tables:
            self._figures(block.columns, block.tables)
        if block.activity is not None and self._images is not None:
            self._w(f"#### {md(block.activity_title)}\n\n")
            self._picture(block.activity)

    def prompt(self, block: PromptBlock) -> None:
        when = f" — {md(block.when)}" if block.when else ""
        self._w(f"### {md(block.title)}{when}\n\n")
        if block.text:
            self._w(f"*{md(block.text)}*\n\n")
        self._w(f"{md(block.figures)}\n\n")
        if block.terms is not None and self._images is not None:
            self._w(f"#### {md(block.terms_title)}\n\n")
            self._picture(block.terms)
        elif block.terms_note:
            self._w(f"{md(block.terms_note)}\n\n")

    def group(self, title: str, *, highlights: bool) -> None:
        self._w(f"#### {md(title)}\n\n")

    def entry(self, entry: EntryView) -> None:
        meta = [entry.time, entry.author]
        if entry.where:
            meta.append(entry.where)
        if entry.marks:
            meta.append(entry.marks)
        if entry.relayed:
            meta.append(entry.relayed)
        kind = f"*{md(entry.kind)}* " if entry.kind else ""
        self._w(f"- {kind}{md(entry.text)}  \n  *{md(' · '.join(meta))}*\n")

    def end_group(self) -> None:
        self._w("\n")

    def note(self, text: str) -> None:
        self._w(f"*{md(text)}*\n\n")

    def end(self, footer: str) -> None:
        self._w(f"---\n\n{md(self._generated)} {md(footer)}\n")
