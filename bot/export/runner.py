"""Writes the exports of one event, from an export source, into files.

`write_exports` runs on whatever event loop calls it; `export_off_loop` runs it on a fresh
loop in a worker thread, with its own read-only connection, so that the bot's loop goes on
answering while charts are drawn and files are written.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TypeVar

from bot.event import Event
from bot.export import ALL_FORMATS, Format, file_name
from bot.export.csvfile import write_csv
from bot.export.fields import Presenter
from bot.export.jsonfile import write_json
from bot.export.records import ExportedInput, ItemStart, Participation, Scope
from bot.export.report import HtmlReport, MarkdownReport, Renderer, walk
from bot.export.source import ExportSource, SourceOpener
from bot.export.xlsxfile import write_xlsx
from bot.health import gc_frozen
from bot.i18n import Catalogue

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Written:
    format: Format
    path: Path
    inputs: int  # input rows written (the report: inputs shown)
    size: int  # bytes
    seconds: float


class _Bound:
    """The source with the event key filled in, as the report reads it."""

    def __init__(self, source: ExportSource, event_key: str) -> None:
        self._source = source
        self._event_key = event_key

    def rows(self, scope: Scope) -> AsyncIterator[ExportedInput]:
        return self._source.inputs(self._event_key, scope)

    def texts(self, scope: Scope) -> AsyncIterator[str]:
        return self._source.texts(self._event_key, scope)

    async def activity(self, site_key: str) -> list[tuple[datetime, int]]:
        return await self._source.activity(self._event_key, site_key)

    async def item_starts(self, site_key: str) -> list[ItemStart]:
        return await self._source.item_starts(self._event_key, site_key)


def target_paths(
    event_key: str,
    out: Path,
    formats: Sequence[Format],
    only: tuple[str, ...] | None,
) -> dict[Format, Path]:
    """Where each format goes: `out` itself when it is one format and `out` names a file of
    that format, otherwise a file named after the event (and sites) in the folder `out`."""
    if len(formats) == 1 and out.suffix.lower() == f".{formats[0].value}":
        return {formats[0]: out}
    return {fmt: out / file_name(event_key, fmt, only) for fmt in formats}


async def write_exports(
    event: Event,
    texts: Catalogue,
    source: ExportSource,
    out: Path,
    *,
    formats: Sequence[Format] = ALL_FORMATS,
    only: tuple[str, ...] | None = None,
    generated_at: datetime,
    md_images: bool = True,
    media_files: Mapping[int, str] | None = None,
) -> list[Written]:
    """Write every format asked for; `only` limits the export to those sites; `media_files`
    names, per input id, its fetched file relative to the data files."""
    paths = target_paths(event.key, out, formats, only)
    for path in paths.values():
        path.parent.mkdir(parents=True, exist_ok=True)
    presenter = Presenter.for_event(event, texts, media_files)
    bound = _Bound(source, event.key)
    # The CSV needs no figures; only the report needs them per table.
    reports = [fmt for fmt in (Format.HTML, Format.MD) if fmt in paths]
    participation = (
        await source.participation(event.key, only, per_table=bool(reports))
        if set(paths) - {Format.CSV}
        else Participation({}, [], {})
    )
    written: list[Written] = []

    async def timed(fmt: Format, work: Awaitable[int]) -> None:
        started = time.perf_counter()
        count = await work
        path = paths[fmt]
        written.append(
            Written(fmt, path, count, path.stat().st_size, time.perf_counter() - started)
        )

    if Format.CSV in paths:
        await timed(Format.CSV, write_csv(paths[Format.CSV], presenter, _rows(bound, only)))
    if Format.XLSX in paths:
        await timed(
            Format.XLSX,
            write_xlsx(paths[Format.XLSX], presenter, participation, only, bound.rows),
        )
    if Format.JSON in paths:
        await timed(
            Format.JSON,
            write_json(
                paths[Format.JSON],
                presenter,
                participation,
                only,
                generated_at,
                _rows(bound, only),
            ),
        )
    if reports:
        started = time.perf_counter()
        handles = {fmt: paths[fmt].open("w", encoding="utf-8") for fmt in reports}
        try:
            renderers: list[Renderer] = []
            if Format.HTML in handles:
                renderers.append(HtmlReport(handles[Format.HTML], event.default_language))
            if Format.MD in handles:
                images = paths[Format.MD].with_name(paths[Format.MD].stem + "-images")
                # The folder is the report's own: pictures of an earlier export go.
                for old in images.glob("*.png"):
                    old.unlink()
                renderers.append(MarkdownReport(handles[Format.MD], images if md_images else None))
            shown = await walk(
                renderers, presenter, participation, only, generated_at, bound.rows, bound
            )
        finally:
            for handle in handles.values():
                handle.close()
        seconds = (time.perf_counter() - started) / len(reports)
        written += [
            Written(fmt, paths[fmt], shown, paths[fmt].stat().st_size, seconds) for fmt in reports
        ]
    order = {fmt: i for i, fmt in enumerate(formats)}
    return sorted(written, key=lambda w: order[w.format])


def _rows(bound: _Bound, only: tuple[str, ...] | None) -> AsyncIterator[ExportedInput]:
    """Every visible input of the sites exported, by site, then time."""
    # The source's own iterator where it is one query: no generator in between, per row.
    return bound.rows(Scope()) if only is None else _each_site(bound, only)


async def _each_site(bound: _Bound, only: tuple[str, ...]) -> AsyncIterator[ExportedInput]:
    for site_key in only:
        async for row in bound.rows(Scope(site_key=site_key)):
            yield row


def off_loop(opener: SourceOpener, job: Callable[[ExportSource], Awaitable[T]]) -> Awaitable[T]:
    """Run `job` with a freshly opened source on a new event loop in a worker thread.

    The caller's loop only awaits the thread: SQL, charts and file writing all happen on the
    worker, so the bot keeps answering updates meanwhile (see `bot.health.GcFrozen` for the
    collector).
    """

    async def with_source() -> T:
        async with opener() as source:
            return await job(source)

    def run() -> T:
        with gc_frozen:
            return asyncio.run(with_source())

    return asyncio.to_thread(run)


async def export_off_loop(
    event: Event,
    texts: Catalogue,
    opener: SourceOpener,
    out: Path,
    *,
    formats: Sequence[Format] = ALL_FORMATS,
    only: tuple[str, ...] | None = None,
    generated_at: datetime,
    md_images: bool = True,
) -> list[Written]:
    async def job(source: ExportSource) -> list[Written]:
        return await write_exports(
            event,
            texts,
            source,
            out,
            formats=formats,
            only=only,
            generated_at=generated_at,
            md_images=md_images,
        )

    return await off_loop(opener, job)
