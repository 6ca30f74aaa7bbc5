"""`{{...}}` message templates: contact fields, system fields, `{{referrer.*}}` and `{{referred.*}}`, with Jinja2
(in its sandbox) for what a plain placeholder cannot say: `{{ 3 - referral_points }} more to go`,
`{{ first_name | default("friend") }}`, `{% if referral_points >= 3 %}…{% else %}…{% endif %}`, filters.

`{{name|fallback}}` shows the fallback when the value is missing; without a fallback a missing value renders as
nothing and is reported, so the admin sees it in the simulator instead of a customer seeing `{{name}}`. A text made
only of such placeholders is filled in directly, exactly as before Jinja; any other text is compiled by Jinja once
and cached. A template that fails while it runs (a missing number in a sum, a division by zero) sends its text
without the template parts, and says why, never raw braces and never an exception.
"""

import json
import re
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from jinja2 import TemplateSyntaxError, Undefined, UndefinedError, nodes, pass_context, pass_eval_context
from jinja2.runtime import Context
from jinja2.sandbox import SandboxedEnvironment, SecurityError

from runtime.referral_stats import REFERRAL_KEYS

PLACEHOLDER = re.compile(r"\{\{\s*([\w.]+)\s*(?:\|\s*([^}]*?)\s*)?\}\}")
TAG = re.compile(r"\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\}", re.S)
PEOPLE = ("me", "referrer", "referred", "referrals")  # referrals: {{referrals.count}}, not a person
SYSTEM_NAMES = ("first_name", "last_name", "full_name", "user_id", "phone", "channel", "channel_user_id",
                "referred_by_id", "created_at", "bot_name")
FILTERS = ("abs", "capitalize", "count", "d", "default", "first", "float", "format", "int", "join", "last", "length",
           "lower", "max", "min", "replace", "round", "string", "sum", "title", "trim", "truncate", "upper")
MAX_REPEAT = 2_000  # "ab" * n: longer than any channel lets a message be
MAX_TEXT = 20_000  # characters a filter may make
MAX_POWER = 1_000  # 10 ** n: a bigger exponent would keep the bot busy with one message
MAX_BITS = 20_000  # and (10 ** 1000) ** 1000 the same
ALLOWED_NODES = (nodes.Template, nodes.Output, nodes.TemplateData, nodes.If, nodes.Name, nodes.Getattr,
                 nodes.Getitem, nodes.Const, nodes.BinExpr, nodes.UnaryExpr, nodes.Compare, nodes.Operand,
                 nodes.Filter, nodes.Test, nodes.CondExpr, nodes.Concat, nodes.Keyword, nodes.List, nodes.Tuple)


@dataclass
class Rendered:
    text: str
    missing: list[str] = field(default_factory=list)
    failed: str | None = None  # why the template could not be filled in; `text` is then the fallback


class TemplateProblem(ValueError):
    """A template that cannot be compiled; the message is for the admin."""


def render_template(text: str, lookup: Callable[[str], Any]) -> Rendered:
    """Fill every placeholder with `lookup(name)` (names like `first_name`, `referred.first_name`, `link`); None and
    "" count as missing."""
    if "{" not in text:
        return Rendered(text)
    try:
        compiled = compile_template(text)
    except TemplateProblem as problem:
        return Rendered(_strip_tags(text), failed=str(problem))
    return compiled(lookup)


def placeholders(text: str) -> list[str]:
    """The names a template reads, in order (`referral_points`, `referred.first_name`), Jinja or not."""
    try:
        return list(compile_template(text).names)
    except TemplateProblem:
        return [match[1] for match in PLACEHOLDER.finditer(text)]


def check_template(text: str) -> str | None:
    """Why the template cannot be used, in the admin's words, or None when it compiles."""
    try:
        compile_template(text)
    except TemplateProblem as problem:
        return str(problem)
    return None


def template_problems(text: str, fields: Collection[str], *,
                      extra: Collection[str] = ()) -> list[tuple[str, str]]:
    """What is wrong with a template, as (code, sentence): it does not compile (`bad_template`), or it names
    something that is neither a field (`fields`: the workspace's field names), a system field, nor one of `extra`
    like `link` (`unknown_placeholder`)."""
    problem = check_template(text)
    if problem:
        return [("bad_template", problem)]
    known = {name.lower() for name in (*fields, *SYSTEM_NAMES)}
    names = placeholders(text)
    problems = [("unknown_placeholder", f"It inserts {{{{{name}}}}}, but referrals only have "
                 f"{', '.join('{{referrals.' + key + '}}' for key in REFERRAL_KEYS)}.")
                for name in dict.fromkeys(names) if name.partition(".")[0] == "referrals" and name not in extra
                and name.partition(".")[2] not in REFERRAL_KEYS]
    unknown = [name for name in names if name not in extra and name.partition(".")[0] != "referrals"
               and name.rsplit(".", 1)[-1].lower() not in known]
    return problems + [("unknown_placeholder", f"It inserts {{{{{name}}}}}, but there is no field called "
                        f"“{name.rsplit('.', 1)[-1]}”. Create the field on the Fields page or correct the name.")
                       for name in dict.fromkeys(unknown)]


def is_template(text: object) -> bool:
    return isinstance(text, str) and ("{{" in text or "{%" in text or "{#" in text)


@lru_cache(maxsize=2048)
def compile_template(text: str) -> "_Plain | _Placeholders | _Jinja":
    """The text, compiled once: plain, placeholders only (filled in by the old rules), or a Jinja template."""
    if not is_template(text):
        return _Plain(text)
    parts = _legacy_parts(text)
    if parts is not None:
        return _Placeholders(parts)
    return _Jinja(text)


# ---------------------------------------------------------------------------------------------- the three kinds


@dataclass(frozen=True)
class _Plain:
    text: str
    names: tuple[str, ...] = ()

    def __call__(self, lookup: Callable[[str], Any]) -> Rendered:
        return Rendered(self.text)


@dataclass(frozen=True)
class _Placeholders:
    """Text and `{{name}}` / `{{name|fallback}}` placeholders, alternating: [text, (name, fallback), text, …]."""

    parts: tuple

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(part[0] for part in self.parts if isinstance(part, tuple))

    def __call__(self, lookup: Callable[[str], Any]) -> Rendered:
        missing: list[str] = []
        pieces = []
        for part in self.parts:
            if part.__class__ is str:
                pieces.append(part)
                continue
            name, fallback = part
            value = lookup(name)
            if value is None or value == "":
                if fallback is None:
                    missing.append(name)
                pieces.append(fallback or "")
            else:
                pieces.append(_show(value))
        return Rendered("".join(pieces), missing)


def _legacy_parts(text: str) -> tuple | None:
    """The placeholders-only form of `text`, or None when it needs Jinja (a statement, an expression, a filter)."""
    if "{%" in text or "{#" in text:
        return None
    parts: list = []
    end = 0
    for match in PLACEHOLDER.finditer(text):
        name, fallback = match[1], match[2]
        if not _is_name(name) or (fallback is not None and _is_filter(fallback)):
            return None
        parts += [text[end:match.start()], (name, fallback)]
        end = match.end()
    parts.append(text[end:])
    if any("{{" in part for part in parts if part.__class__ is str):
        return None  # a placeholder Jinja must explain: an expression, or one left open
    return tuple(part for part in parts if part != "")


_NAME = re.compile(r"[A-Za-z_]\w*(\.\w+)?")
_FILTER_CALL = re.compile(r"([A-Za-z_]\w*)\s*(\(.*\))?\s*(\|.*)?", re.S)


def _is_name(name: str) -> bool:
    return _NAME.fullmatch(name) is not None


def _is_filter(fallback: str) -> bool:
    """`upper`, `default("x")`, `round(1) | int` are filters; `not given` or `0` are the old fallback texts."""
    match = _FILTER_CALL.fullmatch(fallback)
    return match is not None and (match[1] in FILTERS or bool(match[2] or match[3]))


class _Jinja:
    def __init__(self, text: str) -> None:
        source = PLACEHOLDER.sub(_with_default, text)  # `{{email|not given}}` keeps meaning what it always did
        try:
            tree = _ENVIRONMENT.parse(source)
        except TemplateSyntaxError as error:
            raise TemplateProblem(_syntax_message(error, source)) from None
        _check_tree(tree)
        self.names = tuple(dict.fromkeys(_names_read(tree)))
        self.template = _ENVIRONMENT.from_string(tree)
        self.text = text

    def __call__(self, lookup: Callable[[str], Any]) -> Rendered:
        names = _Names(lookup)
        context = self.template.new_context(names, shared=True)  # type: ignore[arg-type]
        try:
            text = "".join(self.template.root_render_func(context))
        except Exception as error:
            return Rendered(_strip_tags(self.text), failed=_runtime_message(error))
        return Rendered(text, list(dict.fromkeys(names.missing)))


def _with_default(match: re.Match) -> str:
    name, fallback = match[1], match[2]
    if fallback is None or not _is_name(name) or _is_filter(fallback):
        return match[0]
    return "{{ " + name + " | default(" + json.dumps(fallback) + ") }}"


# ---------------------------------------------------------------------------------------------- the sandbox


class _Sandbox(SandboxedEnvironment):
    intercepted_binops = frozenset({"*", "**"})

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        if operator == "**" and isinstance(right, int | float) and (
                abs(right) > MAX_POWER or (isinstance(left, int) and abs(left).bit_length() * abs(right) > MAX_BITS)):
            raise OverflowError(f"the power {right} is too large")
        if operator == "*" and ((isinstance(left, str | list) and isinstance(right, int) and right > MAX_REPEAT)
                                or (isinstance(right, str | list) and isinstance(left, int) and left > MAX_REPEAT)):
            raise OverflowError("it repeats a text too many times")
        return super().call_binop(context, operator, left, right)


@pass_context
def _finalize(context: Context, value: Any) -> str:
    if isinstance(value, Undefined):
        names = context.parent
        if isinstance(names, _Names):
            names.missing.append(_undefined_name(value))
        return ""
    if isinstance(value, float) and not value.is_integer():
        value = round(value, 10)  # 3 - 2.1 shows 0.9, not 0.8999999999999999
    return "" if value is None else _show(value)


def _undefined_name(value: Undefined) -> str:
    person = getattr(value, "_undefined_obj", None)
    name = str(getattr(value, "_undefined_name", "") or "?")
    return f"{person._name}.{name}" if isinstance(person, _Person) else name


_ENVIRONMENT = _Sandbox(autoescape=False, finalize=_finalize, keep_trailing_newline=True, cache_size=0)
_ENVIRONMENT.filters = {name: _ENVIRONMENT.filters[name] for name in FILTERS}
_REPLACE = _ENVIRONMENT.filters["replace"]


@pass_eval_context
def _capped_replace(eval_ctx: Any, *args: Any, **kwargs: Any) -> Any:
    """`replace`, but a chain of them cannot grow a message without end ("a" → "aa" → "aaaa" …)."""
    result = _REPLACE(eval_ctx, *args, **kwargs)
    if len(result) > MAX_TEXT:
        raise OverflowError("replacing makes the text too long")
    return result


_ENVIRONMENT.filters["replace"] = _capped_replace
_ENVIRONMENT.tests = {name: test for name, test in _ENVIRONMENT.tests.items()
                      if name in ("defined", "undefined", "none", "number", "string", "odd", "even", "divisibleby",
                                  "eq", "ne", "lt", "le", "gt", "ge", "in")}


class _Names:
    """What a Jinja template sees: `lookup` by name, with None and "" as missing, and the people as objects."""

    def __init__(self, lookup: Callable[[str], Any]) -> None:
        self.lookup = lookup
        self.missing: list[str] = []
        self._seen: dict[str, Any] = {}

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self._value(name) is not None

    def __getitem__(self, name: str) -> Any:
        value = self._value(name)
        if value is None:
            raise KeyError(name)
        return value

    def _value(self, name: str) -> Any:
        if name not in self._seen:
            value = _Person(name, self.lookup) if name in PEOPLE else self.lookup(name)
            if name == "referrals" and (own := self.lookup(name)) not in (None, ""):
                value = own  # a field called "referrals", made before {{referrals.count}} existed, stays itself
            self._seen[name] = None if value == "" else value
        return self._seen[name]


class _Person:
    """`referred.first_name`: a person's fields by name. Only item access (the sandbox hides `_` attributes), so no
    attribute or method can hide a field of the same name."""

    __slots__ = ("_lookup", "_name")

    def __init__(self, name: str, lookup: Callable[[str], Any]) -> None:
        self._name = name
        self._lookup = lookup

    def __getitem__(self, key: str) -> Any:
        value = self._lookup(f"{self._name}.{key}")
        if value is None or value == "":
            raise KeyError(key)
        return value

    def __str__(self) -> str:
        return ""


def _check_tree(tree: nodes.Template) -> None:
    for node in tree.find_all(nodes.Node):
        if isinstance(node, nodes.Filter) and node.name not in FILTERS:
            raise TemplateProblem(f"There is no filter called “{node.name}”. Messages can use: {', '.join(FILTERS)}.")
        if isinstance(node, nodes.Test) and node.name not in _ENVIRONMENT.tests:
            raise TemplateProblem(f"“is {node.name}” cannot be used in messages.")
        if not isinstance(node, ALLOWED_NODES):
            raise TemplateProblem(f"{_what(node)} cannot be used in messages: use {{{{ … }}}} for values and "
                                  "{% if … %} … {% else %} … {% endif %} for choices.")


def _what(node: nodes.Node) -> str:
    words = {nodes.For: "A loop ({% for %})", nodes.Call: "Calling a function", nodes.Assign: "{% set %}",
             nodes.AssignBlock: "{% set %}", nodes.Macro: "A macro", nodes.Include: "{% include %}",
             nodes.Extends: "{% extends %}", nodes.Import: "{% import %}", nodes.FromImport: "{% from %}",
             nodes.Dict: "A dictionary", nodes.Slice: "A slice"}
    return next((word for kind, word in words.items() if isinstance(node, kind)), f"“{type(node).__name__}”")


def _names_read(tree: nodes.Template) -> Iterator[str]:
    """`referral_points`, and `referred.first_name` for a person's field."""
    for node in tree.find_all((nodes.Getattr, nodes.Getitem, nodes.Name)):
        if isinstance(node, nodes.Name) and node.name not in PEOPLE:
            yield node.name
        elif isinstance(node, nodes.Getattr) and isinstance(node.node, nodes.Name) and node.node.name in PEOPLE:
            yield f"{node.node.name}.{node.attr}"
        elif (isinstance(node, nodes.Getitem) and isinstance(node.node, nodes.Name) and node.node.name in PEOPLE
              and isinstance(node.arg, nodes.Const) and isinstance(node.arg.value, str)):
            yield f"{node.node.name}.{node.arg.value}"


# ---------------------------------------------------------------------------------------------- the admin's words


def _syntax_message(error: TemplateSyntaxError, source: str) -> str:
    line = f" (line {error.lineno})" if source.count("\n") and error.lineno else ""
    reason = str(error.message or "it is not written correctly").rstrip(".")
    for jinja, words in _SYNTAX_WORDS:
        reason = reason.replace(jinja, words)
    return f"The message template cannot be read{line}: {reason}. Check the {{{{ … }}}} and {{% … %}} parts."


_SYNTAX_WORDS = (("'end of print statement'", "“}}”"), ("'end of statement block'", "“%}”"),
                 ("Encountered unknown tag", "there is no tag"), ("Jinja was looking for the following tags: ",
                                                                  "expected "), ("'end of template'", "the end"))


def _runtime_message(error: Exception) -> str:
    if isinstance(error, UndefinedError):
        name = re.search(r"'([^']+)' is undefined|has no attribute '([^']+)'", str(error))
        missing = (name[1] or name[2]) if name else "a value"
        return f"'{missing}' has no value, so the template could not be worked out"
    if isinstance(error, ZeroDivisionError):
        return "the template divides by zero"
    if isinstance(error, OverflowError):
        return f"the template makes too big a value ({error})"
    if isinstance(error, SecurityError):
        return "the template uses something messages may not use"
    if isinstance(error, TypeError | ValueError):
        return f"a value in the template has the wrong type ({error})"
    return f"the template failed ({type(error).__name__}: {error})"


def _strip_tags(text: str) -> str:
    """The readable rest of a template that cannot be filled in: its text without `{{ }}`, `{% %}`, `{# #}`."""
    stripped = re.sub(r"[{}]|%}|\{%", "", TAG.sub("", text))
    return re.sub(r"[ \t]{2,}", " ", stripped).strip()


def _show(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    return str(value)
