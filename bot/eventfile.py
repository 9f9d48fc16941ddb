"""Loading an event file: YAML in, a validated `Event` out, or every problem with its line.

The file is read with PyYAML's node tree (`yaml.compose`), never with `yaml.safe_load`, for two
reasons. Every node keeps its line, so a problem found by validation can name the file, the line
and the field. And the values are built here from each scalar's own text, with YAML 1.2 rules
rather than PyYAML's YAML 1.1 ones, under which `13:00` is the number 780 and the language code
`no` is false.

Event files are written by hand and may come from anyone, so a hostile or broken file must end
in a clear `EventFileError`, never a traceback: size, nesting and aliases are bounded before
anything is built.
"""

from __future__ import annotations

import importlib.resources
import re
from dataclasses import dataclass
from pathlib import Path

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from bot.event import (
    Event,
    EventInvalidError,
    Issue,
    Loc,
    published_demo_codes,
    username_facilitators,
    validate_event,
)

MAX_FILE_BYTES = 1024 * 1024
MAX_DEPTH = 20

_YAML = "tag:yaml.org,2002:"
_PLAIN = "tag:samtidig:plain"
_TEXT_TAGS = {_YAML + "str"}
_PLAIN_TAGS = {_PLAIN, _YAML + "int", _YAML + "bool", _YAML + "null", _YAML + "float"}
_NULLS = {"", "~", "null", "Null", "NULL"}
_BOOLEANS = {"true": True, "True": True, "TRUE": True, "false": False, "False": False}
_BOOLEANS |= {"FALSE": False}
# Telegram ids have at most 19 digits; longer digit strings stay text, which also keeps int()
# away from the megabyte-long numbers a hostile file could hold.
_INT_RE = re.compile(r"0|-?[1-9][0-9]{0,18}")
_CLOCK_RE = re.compile(r"([0-9]{1,2}):([0-9]{2})(?::[0-9]{2})?")


@dataclass(frozen=True)
class Problem:
    """One problem in an event file, rendered as `path:line: field: message`."""

    path: str
    line: int | None
    field: str
    message: str

    def __str__(self) -> str:
        where = self.path if self.line is None else f"{self.path}:{self.line}"
        return (
            f"{where}: {self.field}: {self.message}" if self.field else f"{where}: {self.message}"
        )


class EventFileError(ValueError):
    """The event file cannot be used; `problems` lists every problem found."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("\n".join(str(problem) for problem in problems))
        self.problems = problems


def _seed_event() -> Path:
    resource = importlib.resources.files("prompts") / "events" / "aabne-vaerksteder-2018.yaml"
    return Path(str(resource))


SEED_EVENT: Path = _seed_event()
"""The shipped demo event: the two-site open workshops of 3 October 2018."""


def load_event(path: str | Path) -> Event:
    """Read and validate an event file; raise EventFileError listing every problem."""
    return _load(_read(path), str(path))[0]


@dataclass(frozen=True)
class Review:
    """A valid event file and what it holds that is valid but not for every use."""

    event: Event
    demo_codes: list[Problem]
    """Published demo codes: fine for a rehearsal, refused by `run` and by `check`."""
    warnings: list[Problem]
    """Worth knowing, never refused: facilitators listed by @username."""
    seed: bool
    """The file is the shipped seed event, whose demo codes are its point."""


def review_event(path: str | Path) -> Review:
    """`load_event`, and the problems of a valid file that depend on its use, with lines."""
    name = str(path)
    event, root = _load(_read(path), name)
    return Review(
        event=event,
        demo_codes=[_issue_problem(root, name, i) for i in published_demo_codes(event)],
        warnings=[_issue_problem(root, name, i) for i in username_facilitators(event)],
        seed=_is_seed(Path(path)),
    )


def _is_seed(path: Path) -> bool:
    try:
        return path.samefile(SEED_EVENT)
    except OSError:
        return False


def _read(path: str | Path) -> str:
    name = str(path)
    try:
        with Path(path).open("rb") as handle:
            # One byte more than allowed tells a too-large file without reading all of it.
            raw = handle.read(MAX_FILE_BYTES + 1)
    except FileNotFoundError:
        raise _error(name, None, "no such file") from None
    except IsADirectoryError:
        raise _error(name, None, "this is a folder, not an event file") from None
    except OSError as exc:
        raise _error(name, None, f"cannot read the file: {exc.strerror or exc}") from None
    if len(raw) > MAX_FILE_BYTES:
        raise _error(name, None, _too_large())
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise _error(
            name,
            line,
            f"the file is not UTF-8 text (byte 0x{raw[exc.start]:02x}); save it as UTF-8",
        ) from None
    return text


def load_event_text(text: str, path: str = "<string>") -> Event:
    """Validate event YAML given as text; `path` only names it in problems."""
    if len(text.encode("utf-8", errors="surrogatepass")) > MAX_FILE_BYTES:
        raise _error(path, None, _too_large())
    return _load(text, path)[0]


def _too_large() -> str:
    return "the file is larger than 1 MiB; an event file is a few kilobytes"


def _error(path: str, line: int | None, message: str) -> EventFileError:
    return EventFileError([Problem(path, line, "", message)])


def _load(text: str, path: str) -> tuple[Event, Node]:
    text = text.removeprefix("\ufeff")
    try:
        root = yaml.compose(text, Loader=_EventLoader)
    except _Refused as exc:
        raise _error(path, exc.line, exc.message) from None
    except yaml.MarkedYAMLError as exc:
        raise EventFileError([_yaml_problem(path, exc)]) from None
    except yaml.reader.ReaderError as exc:
        line = text.count("\n", 0, exc.position) + 1
        character = exc.character if isinstance(exc.character, int) else ord(exc.character)
        raise _error(
            path, line, f"the file contains a control character (#x{character:04x}); remove it"
        ) from None
    except yaml.YAMLError as exc:
        raise _error(path, None, f"invalid YAML: {exc}") from None
    if root is None or (
        isinstance(root, ScalarNode) and root.tag == _PLAIN and root.value in _NULLS
    ):
        raise _error(
            path, None, "the file is empty; an event file needs event:, sites: and agenda:"
        )
    if not isinstance(root, MappingNode):
        raise _error(
            path,
            _line(root),
            "the top level must be a mapping with event:, sites: and agenda:"
            f" (found {_node_kind(root)})",
        )
    builder = _Builder(root, path)
    data = builder.value(root, ())
    problems = builder.problems
    event: Event | None = None
    try:
        event = validate_event(data)
    except EventInvalidError as exc:
        problems += [_issue_problem(root, path, issue) for issue in exc.issues]
    if problems or event is None:
        # Sorted by line, so the list reads in the order of the file; ties keep check order.
        problems.sort(key=lambda problem: problem.line or 0)
        raise EventFileError(problems)
    return event, root


class _Refused(yaml.YAMLError):
    """A YAML feature this loader refuses on purpose; the message is for the organiser."""

    def __init__(self, message: str, line: int) -> None:
        super().__init__(message)
        self.message = message
        self.line = line


class _EventLoader(yaml.SafeLoader):
    """A SafeLoader that composes nodes only, with bounded nesting and no aliases.

    Refusing aliases (`*name`) rules out "billion laughs" expansions outright; an event file
    has no need for them. Plain scalars get a tag of their own, so that `_Builder` resolves
    them from their text, and an explicit tag (`!!str 13:00`) stays visible.
    """

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent: Node | None, index: int) -> Node | None:
        # The stubs leave peek_event and resolve untyped; both are plain PyYAML API.
        event: yaml.Event = self.peek_event()  # type: ignore[no-untyped-call]
        line = event.start_mark.line + 1 if event.start_mark is not None else 0
        if isinstance(event, yaml.AliasEvent):
            raise _Refused(
                f"aliases (*{event.anchor}) are not allowed in an event file;"
                " write the value out in full",
                line,
            )
        nests = isinstance(event, yaml.MappingStartEvent | yaml.SequenceStartEvent)
        if nests:
            self._depth += 1
            if self._depth > MAX_DEPTH:
                raise _Refused(f"nested deeper than {MAX_DEPTH} levels", line)
        try:
            return super().compose_node(parent, index)
        finally:
            if nests:
                self._depth -= 1

    def resolve(self, kind: type[Node], value: str, implicit: tuple[bool, bool]) -> str:
        if kind is ScalarNode and implicit[0]:
            return _PLAIN
        resolved: str = super().resolve(kind, value, implicit)  # type: ignore[no-untyped-call]
        return resolved


_HINTS = {
    "'@'": 'put @usernames in quotes: "@name"',
    "'\\t'": "indent with spaces, not tabs",
    "'`'": "a value cannot start with `; put it in quotes",
}


def _yaml_problem(path: str, exc: yaml.MarkedYAMLError) -> Problem:
    mark = exc.problem_mark or exc.context_mark
    line = mark.line + 1 if mark is not None else None
    message = exc.problem or "invalid YAML"
    if exc.context:
        started = exc.context_mark.line + 1 if exc.context_mark is not None else None
        since = f" from line {started}" if started is not None and started != line else ""
        message = f"{exc.context}{since}, {message}"
    hints = [hint for token, hint in _HINTS.items() if token in (exc.problem or "")]
    if "flow" in (exc.context or ""):
        hints.append("inside { } or [ ], put texts containing ? : , [ ] { } # in quotes")
    return Problem(path, line, "", f"invalid YAML: {message}" + "".join(f"; {h}" for h in hints))


class _Builder:
    """Plain Python data from the node tree, and the problems only the tree can show."""

    def __init__(self, root: Node, path: str) -> None:
        self.root = root
        self.path = path
        self.problems: list[Problem] = []

    def value(self, node: Node, loc: Loc) -> object:
        if isinstance(node, ScalarNode):
            return self._scalar(node, loc)
        if node.tag not in {_YAML + "seq", _YAML + "map"}:
            self._refuse_tag(node, loc)
            return None
        if isinstance(node, SequenceNode):
            return [self.value(child, (*loc, index)) for index, child in enumerate(node.value)]
        if isinstance(node, MappingNode):
            return self._mapping(node, loc)
        return None  # PyYAML composes no other kind of node

    def _mapping(self, node: MappingNode, loc: Loc) -> dict[str, object]:
        result: dict[str, object] = {}
        first_line: dict[str, int] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, ScalarNode):
                self._problem(loc, _line(key_node), "a key must be a plain name, not a collection")
                continue
            # Keys are names, so their text is taken as is: a language `no` stays "no".
            key = str(key_node.value)
            if key in first_line:
                self._problem(
                    (*loc, key),
                    _line(key_node),
                    f"duplicate key {key!r} (first at line {first_line[key]});"
                    " give each field once",
                )
                continue
            first_line[key] = _line(key_node)
            result[key] = self.value(value_node, (*loc, key))
        return result

    def _scalar(self, node: ScalarNode, loc: Loc) -> object:
        text = str(node.value)
        if node.tag not in _TEXT_TAGS | _PLAIN_TAGS:
            self._refuse_tag(node, loc)
            return None
        # Quoted text is text, even when tagged like !!int "5".
        if node.tag in _TEXT_TAGS or node.style is not None:
            return text
        return _plain_value(text)

    def _refuse_tag(self, node: Node, loc: Loc) -> None:
        tag = str(node.tag).replace(_YAML, "!!", 1)
        self._problem(loc, _line(node), f"the tag {tag} is not supported; write a plain value")

    def _problem(self, loc: Loc, line: int, message: str) -> None:
        field, _ = _locate(self.root, loc, absent=True)
        self.problems.append(Problem(self.path, line, field, message))


def _plain_value(text: str) -> object:
    """An unquoted scalar by YAML 1.2 core rules, minus floats (no event field is one)."""
    if text in _NULLS:
        return None
    if text in _BOOLEANS:
        return _BOOLEANS[text]
    return int(text) if _INT_RE.fullmatch(text) else text


def _issue_problem(root: Node, path: str, issue: Issue) -> Problem:
    field, line = _locate(root, issue.loc, absent=issue.absent)
    return Problem(path, line, field, issue.message)


def _locate(root: Node, loc: Loc, *, absent: bool) -> tuple[str, int]:
    """The field path and line for `loc`.

    An element with no node is either something absent (a missing field, kept in the path and
    placed at its parent's line) or one of pydantic's own markers, such as the tag of a union
    member, which is not part of the file and is left out.
    """
    node: Node | None = root
    line = _line(root)
    field = ""
    for position, element in enumerate(loc):
        found = _child(node, element)
        if found is None:
            if absent and position == len(loc) - 1:
                field += _step(element, field)
            continue
        line, node = found
        field += _step(element, field)
        if isinstance(element, int) and loc[:1] in {("sites",), ("agenda",)} and position == 1:
            label = _label(node)
            field += f"({label})" if label else ""
    return field, line


def _child(node: Node | None, element: str | int) -> tuple[int, Node] | None:
    if isinstance(node, MappingNode) and isinstance(element, str):
        for key_node, value_node in node.value:
            if isinstance(key_node, ScalarNode) and key_node.value == element:
                return _line(key_node), value_node
    if isinstance(node, SequenceNode) and isinstance(element, int) and element < len(node.value):
        child: Node = node.value[element]
        return _line(child), child
    return None


def _step(element: str | int, field: str) -> str:
    if isinstance(element, int):
        return f"[{element}]"
    return f".{element}" if field else element


def _label(node: Node) -> str | None:
    """The key of a site or agenda item, to name it in a field path: `sites[0](aalborg)`."""
    if not isinstance(node, MappingNode):
        return None
    scalars = {
        key.value: value.value
        for key, value in node.value
        if isinstance(key, ScalarNode) and isinstance(value, ScalarNode)
    }
    key = scalars.get("key")
    if isinstance(key, str) and 0 < len(key) <= 40 and key.isprintable():
        return key
    at = scalars.get("at")
    if isinstance(at, str) and (match := _CLOCK_RE.fullmatch(at.strip())):
        return f"{int(match[1]):02d}{match[2]}"
    return None


def _line(node: Node) -> int:
    return int(node.start_mark.line) + 1


def _node_kind(node: Node) -> str:
    if isinstance(node, SequenceNode):
        return "a list"
    return f"the value {str(node.value)[:40]!r}" if isinstance(node, ScalarNode) else "a node"
