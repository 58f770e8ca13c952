"""The policy file as a source: which file, and its YAML as plain data with the line of every path.

The YAML is *composed* into nodes (``yaml.compose`` with a ``SafeLoader`` subclass), so every key
and value keeps its line. Walking the nodes builds plain Python data, rejects duplicate keys,
non-string keys and unknown tags, and records the line of every path (:class:`_Lines`), which turns
a validation failure at a path (:class:`_Invalid`) into a :class:`PolicyError` naming the file, the
line and the field.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

import yaml

from awsdr.policy.model import PolicyError

#: Environment variable naming the policy file.
POLICY_ENV_VAR = "AWSDR_POLICY"
#: The policy used when neither a path nor ``AWSDR_POLICY`` is given.
DEFAULT_POLICY_PATH = Path(__file__).resolve().parents[3] / "include" / "dr_policy.yaml"

_PathT = tuple[str | int, ...]
_MAP_TAG = "tag:yaml.org,2002:map"
_SEQ_TAG = "tag:yaml.org,2002:seq"
_MERGE_TAG = "tag:yaml.org,2002:merge"


class _Loader(yaml.SafeLoader):
    """Safe loader used to compose nodes (with their marks) and to construct scalars."""


class _Invalid(Exception):
    """A validation failure at ``path``; turned into a :class:`PolicyError` with the path's line."""

    def __init__(self, path: _PathT, message: str, expected: str, *, at_key: bool = False) -> None:
        super().__init__(message)
        self.path = path
        self.message = message
        self.expected = expected
        self.at_key = at_key


@dataclass
class _Lines:
    """1-based lines of the keys and values of a document, by path."""

    key: dict[_PathT, int] = field(default_factory=dict)
    value: dict[_PathT, int] = field(default_factory=dict)
    collections: set[_PathT] = field(default_factory=set)

    def line_for(self, path: _PathT, *, at_key: bool = False) -> int | None:
        """The key's line (``at_key``, or a mapping/list value), else the value's line.

        A path that does not exist (a missing key) gets the line of its nearest existing parent.
        """
        if path in self.value or path in self.key:
            if path in self.key and (at_key or path in self.collections or path not in self.value):
                return self.key[path]
            return self.value[path]
        parent = path
        while parent:
            parent = parent[:-1]
            if parent in self.key:
                return self.key[parent]
            if parent in self.value:
                return self.value[parent]
        return None

    def absorb(self, other: _Lines, prefix: _PathT, keys: set[str]) -> None:
        """Copy ``other``'s entries under ``prefix + (k,)`` for ``k`` in ``keys`` (merge keys)."""
        n = len(prefix)
        for table, mine in ((other.key, self.key), (other.value, self.value)):
            for p, line in table.items():
                if len(p) > n and p[n] in keys:
                    mine[p] = line
        self.collections |= {p for p in other.collections if len(p) > n and p[n] in keys}


def _dotted(path: _PathT) -> str:
    """``("plans", "gold", "select", "types", 2)`` -> ``plans.gold.select.types[2]``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out or "<document>"


class _Walker:
    """Turns composed nodes into dicts, lists and scalars, recording the line of every path."""

    def __init__(self) -> None:
        self.ctor = _Loader("")
        self.lines = _Lines()
        self._active: set[int] = set()

    def walk(self, node: yaml.Node, path: _PathT, lines: _Lines | None = None) -> Any:
        lines = self.lines if lines is None else lines
        lines.value[path] = node.start_mark.line + 1
        if isinstance(node, yaml.ScalarNode):
            try:
                return self.ctor.construct_object(node, deep=True)
            except yaml.YAMLError as err:
                raise _Invalid(
                    path, f"cannot read value: {_yaml_problem(err)}", "a plain YAML value"
                ) from None
        lines.collections.add(path)
        if id(node) in self._active:
            raise _Invalid(path, "recursive YAML alias", "a document without self-references")
        self._active.add(id(node))
        try:
            if isinstance(node, yaml.SequenceNode):
                if node.tag != _SEQ_TAG:
                    raise _Invalid(path, f"unsupported YAML tag {node.tag}", "a plain list")
                return [self.walk(item, (*path, i), lines) for i, item in enumerate(node.value)]
            if isinstance(node, yaml.MappingNode):
                return self._mapping(node, path, lines)
            raise _Invalid(path, "unsupported YAML node", "a mapping, list or scalar")  # pragma: no cover
        finally:
            self._active.discard(id(node))

    def _mapping(self, node: yaml.MappingNode, path: _PathT, lines: _Lines) -> dict[str, Any]:
        if node.tag != _MAP_TAG:
            raise _Invalid(path, f"unsupported YAML tag {node.tag}", "a plain mapping")
        out: dict[str, Any] = {}
        merges: list[yaml.Node] = []
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE_TAG:
                merges.append(value_node)
                continue
            key = self._key(key_node, path, lines)
            kp = (*path, key)
            if key in out:
                first = lines.key[kp]
                lines.key[kp] = key_node.start_mark.line + 1
                raise _Invalid(
                    kp, f"duplicate key {key!r} (first at line {first})", "each key once", at_key=True
                )
            lines.key[kp] = key_node.start_mark.line + 1
            out[key] = self.walk(value_node, kp, lines)
        # YAML merge keys (<<: *base): explicit keys win; earlier merged mappings win over later.
        for merge in merges:
            sources = merge.value if isinstance(merge, yaml.SequenceNode) else [merge]
            for src in sources:
                if not isinstance(src, yaml.MappingNode):
                    raise _Invalid(
                        (*path, "<<"), "a merge key must name a mapping", "<<: *anchor", at_key=True
                    )
                sub_lines = _Lines()
                merged = self.walk(src, path, sub_lines)
                new = {k for k in merged if k not in out}
                out.update({k: merged[k] for k in merged if k in new})
                lines.absorb(sub_lines, path, new)
        return out

    def _key(self, key_node: yaml.Node, path: _PathT, lines: _Lines) -> str:
        line = key_node.start_mark.line + 1
        if isinstance(key_node, yaml.ScalarNode):
            key = self.ctor.construct_object(key_node, deep=True)
            if isinstance(key, str):
                return key
            bad: _PathT = (*path, str(key_node.value))
            lines.key[bad] = line
            raise _Invalid(
                bad,
                f"key {key_node.value!r} is read as {_describe(key)}",
                "a string key; quote it",
                at_key=True,
            )
        bad = (*path, "?")
        lines.key[bad] = line
        raise _Invalid(bad, "a mapping key must be a plain string", "a string key", at_key=True)


def _yaml_problem(err: yaml.YAMLError) -> str:
    """``problem`` of a YAML error, after its ``context`` (with the context's line if elsewhere)."""
    if isinstance(err, yaml.MarkedYAMLError):
        context = err.context or ""
        if context and err.context_mark is not None and err.problem_mark is not None:
            if err.context_mark.line != err.problem_mark.line:
                context += f" (from line {err.context_mark.line + 1})"
        parts = [p for p in (context, err.problem) if p]
        return "; ".join(parts) or "invalid YAML"
    return str(err)


def _compose(text: str, source: str) -> tuple[Any, _Lines]:
    """Parse ``text`` into plain data and the lines of its paths; YAML errors raise PolicyError."""
    try:
        node = yaml.compose(text, Loader=_Loader)
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        line = mark.line + 1 if mark is not None else None
        raise PolicyError(
            source, line, "<yaml>", f"invalid YAML: {_yaml_problem(err)}", "valid YAML"
        ) from None
    except yaml.reader.ReaderError as err:
        line = text[: err.position].count("\n") + 1
        raise PolicyError(source, line, "<yaml>", f"invalid YAML: {err.reason}", "printable text") from None
    except yaml.YAMLError as err:
        raise PolicyError(source, None, "<yaml>", f"invalid YAML: {err}", "valid YAML") from None
    if node is None:
        raise PolicyError(
            source, 1, "<document>", "the policy is empty", "a mapping with version, plans, ..."
        )
    walker = _Walker()
    try:
        data = walker.walk(node, ())
    except _Invalid as inv:
        raise _to_error(inv, walker.lines, source) from None
    return data, walker.lines


def _to_error(inv: _Invalid, lines: _Lines, source: str) -> PolicyError:
    line = lines.line_for(inv.path, at_key=inv.at_key)
    return PolicyError(source, line, _dotted(inv.path), inv.message, inv.expected)


def _describe(value: Any) -> str:
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, int):
        return f"the integer {value}"
    if isinstance(value, float):
        return f"the number {value}"
    if isinstance(value, str):
        shown = value if len(value) <= 60 else value[:57] + "..."
        return f"the string {shown!r}"
    if isinstance(value, datetime):
        return f"the timestamp {value.isoformat()}"
    if isinstance(value, date):
        return f"the date {value.isoformat()}"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return f"a {type(value).__name__}"
