"""The guarded sandbox that `parse.environment()` holds, and the limits of the evaluation it runs.

It refuses attributes and calls, estimates sizes before `*`, `**`, `+`, `~` and some filters run,
and checks a cooperative deadline.
"""

from __future__ import annotations

import functools
import math
import re
import time
import types
from collections import deque
from collections.abc import Callable, ItemsView, Iterable, Iterator, KeysView, Mapping, ValuesView
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from jinja2 import StrictUndefined
from jinja2.runtime import Context, LoopContext, Macro, Undefined
from jinja2.sandbox import MAX_RANGE, ImmutableSandboxedEnvironment
from jinja2.utils import Cycler, Joiner, Namespace, missing

from opsflow.expr.parse import CONTEXT_NAMES, ExpressionError

#: Most characters a result may have (of text, or of JSON-like text for data).
MAX_OUTPUT_CHARS = 1024 * 1024
#: Most digits of an integer: Python's own limit for turning one into text.
MAX_INT_DIGITS = 4300
MAX_INT_BITS = int(MAX_INT_DIGITS * math.log2(10))
#: Deepest nesting of lists and mappings in a result.
MAX_DEPTH = 200
#: Text produced along the way (captured blocks, macro output) may be this many results long.
PRODUCED_FACTOR = 4


# --- the evaluation in progress ---------------------------------------------


@dataclass
class _Budget:
    """The limits of the evaluation in progress, which the sandbox's hooks enforce."""

    timeout_s: float
    max_chars: int
    deadline: float
    context: Mapping[str, Any] = field(default_factory=dict)
    produced: int = 0

    def tick(self) -> None:
        if time.monotonic() > self.deadline:
            raise ExpressionError(f"evaluation took longer than {self.timeout_s:g} s")

    def produce(self, chars: int) -> None:
        self.produced += chars
        if self.produced > PRODUCED_FACTOR * self.max_chars:
            raise ExpressionError(
                f"evaluation produced more than {_size(PRODUCED_FACTOR * self.max_chars)} of text"
            )


#: Rendering outside `_run` (e.g. Jinja's own `render()`) gets size guards but no deadline.
_ACTIVE: ContextVar[_Budget | None] = ContextVar("opsflow_expr_budget", default=None)


def _budget() -> _Budget:
    return _ACTIVE.get() or _Budget(math.inf, MAX_OUTPUT_CHARS, math.inf)


# --- sizes ------------------------------------------------------------------


def _size(chars: int) -> str:
    if chars % (1024 * 1024) == 0:
        return f"{chars // (1024 * 1024)} MiB"
    return f"{chars // 1024} KiB" if chars % 1024 == 0 else f"{chars} characters"


def _too_large(what: str, limit: int) -> ExpressionError:
    return ExpressionError(f"refused: {what} would be larger than {_size(limit)}")


def _number(value: int) -> str:
    return (
        str(value)
        if value.bit_length() < 64
        else f"a {int(value.bit_length() * 0.30103)}-digit number"
    )


class _Sizer:
    """Walks a value as JSON-like data, counting characters until a limit.

    Strict, it also returns the value as data (lists for any sequence) and refuses other
    objects; otherwise it only measures, never consuming iterators.
    """

    def __init__(self, limit: int, *, strict: bool) -> None:
        self.limit, self.strict, self.chars, self.containers = limit, strict, 0, 0
        self.seen: dict[int, int] = {}  # measuring: the size of each container met so far

    def measure(self, value: Any) -> int:
        """Add `value` to the count and return the count so far."""
        self.data(value)
        return self.chars

    def spend(self, chars: int) -> None:
        self.chars += chars
        if self.chars > self.limit:
            raise ExpressionError(f"the result is larger than {_size(self.limit)}")

    def data(self, value: Any, depth: int = 0) -> Any:
        if isinstance(value, str):
            self.spend(len(value) + 2)
            return str(value)  # Markup becomes plain text
        if isinstance(value, int | float) or value is None:
            self.spend(value.bit_length() // 3 + 2 if isinstance(value, int) else 6)
            return value
        if isinstance(value, Undefined):
            str(value)  # a strict undefined raises its error here
            return None
        if depth >= MAX_DEPTH:
            raise ExpressionError(f"the result is nested more than {MAX_DEPTH} levels deep")
        if id(value) in self.seen:  # a repeated item ([x, x]) costs its size again, not a walk
            self.spend(self.seen[id(value)])
            return value
        before = self.chars
        found = self.container(value, depth)
        if not self.strict:
            self.seen[id(value)] = self.chars - before
        return found

    def container(self, value: Any, depth: int) -> Any:
        self.containers += 1
        if self.containers % 256 == 0:
            _budget().tick()
        if isinstance(value, Mapping):
            keys = list(value)
            self.spend(sum(len(k) + 4 if isinstance(k, str) else 24 for k in keys))
            return dict(zip(keys, self.items(value.values(), depth), strict=True))
        if isinstance(value, range):
            self.spend(len(value) * 8)
            return list(value) if self.strict else value
        if isinstance(value, list | tuple | KeysView | ValuesView | ItemsView) or (
            self.strict and isinstance(value, Iterator)
        ):
            return self.items(value, depth)
        if self.strict:
            raise ExpressionError(
                f"the result is a {type(value).__name__}, not data (text, numbers, "
                "true/false, none, lists or mappings)"
            )
        self.spend(len(type(value).__name__))
        return value

    def items(self, values: Iterable[Any], depth: int) -> list[Any]:
        """The items of a container as data; plain text and numbers are counted inline."""
        found, chars = [], self.chars + 2
        for item in values:
            kind = type(item)
            if kind is str:
                chars += len(item) + 3
            elif kind is int or kind is bool:
                chars += item.bit_length() // 3 + 3
            elif kind is float or item is None:
                chars += 7
            else:
                self.chars = chars
                item = self.data(item, depth + 1)
                chars = self.chars
            if chars > self.limit:
                self.spend(chars - self.chars)
            found.append(item)
        self.chars = chars
        return found


# --- the guarded sandbox ----------------------------------------------------

#: Methods of data that expressions may call; every other one is refused.
_STR_METHODS = frozenset(
    "capitalize casefold count endswith find index isalnum isalpha isdecimal isdigit "  # noqa: SIM905
    "isidentifier islower isnumeric isspace istitle isupper join lower lstrip partition "
    "removeprefix removesuffix replace rfind rindex rpartition rsplit rstrip split "
    "splitlines startswith strip swapcase title upper".split()
)
_METHODS: dict[type, frozenset[str]] = {
    str: _STR_METHODS,
    dict: frozenset({"get", "items", "keys", "values"}),
    list: frozenset({"count", "index"}),
    tuple: frozenset({"count", "index"}),
    int: frozenset(),
    float: frozenset(),
    bytes: frozenset(),
}
#: Classes a template may instantiate: Jinja's own helpers.
_CONSTRUCTORS = (dict, Namespace, Cycler, Joiner)


class GuardedSandbox(ImmutableSandboxedEnvironment):
    """Jinja's immutable sandbox, refusing escapes with a sentence and bounding time and size.

    Jinja cannot be interrupted from outside, so loops, calls, lookups, operators and filters
    check the deadline of the evaluation in progress as they go.
    """

    intercepted_binops = frozenset({"*", "**", "+", "%"})

    def __init__(self) -> None:
        super().__init__(
            undefined=_TracedUndefined,
            autoescape=False,
            keep_trailing_newline=True,
            finalize=self.checked_output,
        )
        del self.globals["lipsum"]  # random text: an expression must give the same result each time
        self.filters = {name: _guard_filter(name, func) for name, func in self.filters.items()}

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        budget = _budget()
        budget.tick()
        _check_binop(operator, left, right, budget.max_chars)
        return super().call_binop(context, operator, left, right)

    def call(self, context: Context, obj: Any, /, *args: Any, **kwargs: Any) -> Any:
        budget = _budget()
        budget.tick()
        if not isinstance(obj, Undefined):  # calling one raises its own error
            args = _check_call(obj, args, kwargs, budget.max_chars)
        result = super().call(context, obj, *args, **kwargs)
        if obj is dict:  # dict(a=x, b=x) repeats x, as [x, x] does
            self.checked_data(result)
        if isinstance(result, str) and len(result) > budget.max_chars:
            raise ExpressionError(f"the result is larger than {_size(budget.max_chars)}")
        return result

    def getattr(self, obj: Any, attribute: str) -> Any:
        _budget().tick()
        if isinstance(obj, dict) and attribute in obj:
            return obj[attribute]  # data first: `json.items` is a key there, not dict.items
        return super().getattr(obj, attribute)

    def getitem(self, obj: Any, argument: Any) -> Any:
        _budget().tick()
        return super().getitem(obj, argument)

    def is_safe_attribute(self, obj: Any, attr: str, value: Any) -> bool:
        return attr != "mro" and super().is_safe_attribute(obj, attr, value)

    def unsafe_undefined(self, obj: Any, attribute: str) -> Undefined:
        raise ExpressionError(f"refused: '{attribute}' is not accessible in expressions")

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        if super().wrap_str_format(value) is not None:
            raise ExpressionError(
                f"refused: str.{value.__name__} is not available in expressions; "
                "join text with ~ instead"
            )
        return None

    def concat(self, parts: Iterable[str]) -> str:
        """Join captured output (set blocks, macros, filter blocks) within the size limit."""
        parts = list(parts)
        budget = _budget()
        budget.tick()
        total = sum(map(len, parts))
        if total > budget.max_chars:
            raise ExpressionError(f"the result is larger than {_size(budget.max_chars)}")
        budget.produce(total)
        return "".join(parts)

    def join_text(self, operands: list[Any]) -> str:
        """The `~` operator, measuring its operands before turning them into text."""
        budget = _budget()
        sizer = _Sizer(budget.max_chars, strict=False)
        for operand in operands:
            sizer.measure(operand)
        return "".join(map(str, operands))

    def checked_data(self, value: Any) -> Any:
        """A list, tuple or mapping the template builds, measured like text would be."""
        _Sizer(_budget().max_chars, strict=False).measure(value)
        return value

    def guarded_iter(self, iterable: Any) -> Iterator[Any]:
        """What every for loop goes over: the items, checking the deadline as they pass."""
        budget = _budget()
        for count, item in enumerate(iterable):
            if count % 64 == 0:
                budget.tick()
            yield item

    def checked_output(self, value: Any) -> Any:
        """Every `{{ }}` value, measured before it becomes text."""
        budget = _budget()
        budget.tick()
        if isinstance(value, str):
            budget.produce(len(value))
        elif not (value is None or isinstance(value, int | float)):
            budget.produce(_Sizer(budget.max_chars, strict=False).measure(value))
        return value


class _TracedUndefined(StrictUndefined):
    """A strict undefined whose error names the dotted path that is missing."""

    __slots__ = ()

    @property
    def _undefined_message(self) -> str:
        if self._undefined_hint:
            return self._undefined_hint
        return _undefined_sentence(self._undefined_obj, self._undefined_name, _budget().context)


def _undefined_sentence(obj: Any, name: Any, context: Mapping[str, Any]) -> str:
    if obj is missing:
        if name in ("item", "index"):
            return f"'{name}' is undefined: it exists only for the items of a for-each node"
        return f"'{name}' is undefined; expressions read {', '.join(sorted(CONTEXT_NAMES))}"
    keys = _path_of(obj, context) if isinstance(obj, dict | list | tuple) else None
    if keys is None:
        what = "attribute" if isinstance(name, str) else "element"
        return f"{type(obj).__name__} value has no {what} {name!r}"
    where = _dotted(keys)
    sentence = f"{_dotted((*keys, name))} is undefined"
    if keys == ("nodes",):
        return f"{sentence}: node {name!r} has no result here (not upstream, or skipped)"
    if len(keys) == 2 and keys[0] == "nodes":
        return f"{sentence}: read a node's result as {where}.output"
    if len(keys) >= 3 and keys[0] == "nodes" and keys[2] == "output":
        sentence += f": node {keys[1]!r} has no such value"
    if isinstance(obj, dict):
        names = sorted(map(str, obj))
        listed = ", ".join(names[:12]) + (", ..." if len(names) > 12 else "")
        return f"{sentence}; {where} has {listed}" if names else f"{sentence}; {where} is empty"
    return f"{sentence}; {where} has {len(obj)} items"


def _path_of(target: Any, context: Mapping[str, Any]) -> tuple[Any, ...] | None:
    """Where `target` sits in the context, found by identity, breadth first."""
    queue: deque[tuple[tuple[Any, ...], Any]] = deque([((), context)])
    seen: set[int] = set()
    while queue and len(seen) < 20_000:
        keys, value = queue.popleft()
        if value is target and keys:
            return keys
        if id(value) in seen:
            continue
        seen.add(id(value))
        children = value.items() if isinstance(value, Mapping) else enumerate(value)
        queue.extend(((*keys, k), v) for k, v in children if isinstance(v, Mapping | list | tuple))
    return None


def _dotted(keys: tuple[Any, ...]) -> str:
    text = "".join(f".{k}" if isinstance(k, str) and k.isidentifier() else f"[{k!r}]" for k in keys)
    return text.removeprefix(".")


# --- checks made before an operation runs -----------------------------------


def _check_binop(operator: str, left: Any, right: Any, limit: int) -> None:
    if operator == "%" and isinstance(left, str):
        raise ExpressionError(
            "refused: '%' formatting of text is not available in expressions; "
            "join text with ~ instead"
        )
    numbers = isinstance(left, int) and isinstance(right, int)
    if operator == "**" and numbers and abs(left) > 1 and right > 0:
        if right * math.log2(abs(left)) > MAX_INT_BITS:
            raise ExpressionError(
                f"refused: {_number(left)} ** {_number(right)} would have more than "
                f"{MAX_INT_DIGITS} digits"
            )
    elif operator == "*" and numbers:
        if left.bit_length() + right.bit_length() > MAX_INT_BITS:
            raise ExpressionError(
                f"refused: the product would have more than {MAX_INT_DIGITS} digits"
            )
    elif operator == "*":
        for sequence, times in ((left, right), (right, left)):
            if (
                isinstance(sequence, str | list | tuple)
                and isinstance(times, int)
                and _Sizer(limit, strict=False).measure(sequence) * times > limit
            ):
                raise _too_large(
                    f"repeating {type(sequence).__name__} {_number(times)} times", limit
                )
    elif operator == "+" and isinstance(left, str | list | tuple):
        sizer = _Sizer(limit, strict=False)
        sizer.measure(left)
        sizer.measure(right)


def _check_call(
    obj: Any, args: tuple[Any, ...], kwargs: dict[str, Any], limit: int
) -> tuple[Any, ...]:
    """Refuse what a template may not call; return the arguments (iterables made lists)."""
    name = getattr(obj, "__name__", type(obj).__name__)
    owner = getattr(obj, "__self__", None)
    data_type = next((kind for kind in _METHODS if isinstance(owner, kind)), None)
    if data_type is not None:
        if name not in _METHODS[data_type]:
            raise ExpressionError(
                f"refused: {data_type.__name__}.{name}() is not available in expressions"
            )
        if name == "join" and args:
            args = (list(args[0]), *args[1:])
            _check_join(owner, args[0], limit)
        elif name == "replace" and len(args) >= 2:
            count = args[2] if len(args) > 2 else kwargs.get("count")
            _check_replace(owner, args[0], args[1], count, limit)
        return args
    if isinstance(obj, type):
        allowed = obj in _CONSTRUCTORS
    else:
        allowed = isinstance(
            obj, types.FunctionType | types.MethodType | Macro | LoopContext | Joiner
        )
    if not allowed:
        raise ExpressionError(f"refused: calling {name} is not available in expressions")
    return args


def _check_join(separator: Any, items: list[Any], limit: int) -> None:
    sizer = _Sizer(limit, strict=False)
    if isinstance(separator, str):
        sizer.spend(len(separator) * max(len(items) - 1, 0))
    for item in items:
        sizer.measure(item)


def _check_replace(text: Any, old: Any, new: Any, count: Any, limit: int) -> None:
    if not (isinstance(text, str) and isinstance(old, str) and isinstance(new, str)):
        return
    hits = text.count(old) if old else len(text) + 1
    if isinstance(count, int) and count >= 0:
        hits = min(hits, count)
    if len(text) + hits * (len(new) - len(old)) > limit:
        raise _too_large("the replaced text", limit)


_FORMAT_SPEC = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(\*|\d+)?(?:\.(\*|\d+))?")


def _check_filter(
    name: str, value: Any, rest: tuple[Any, ...], kwargs: dict[str, Any], limit: int
) -> Any:
    """Refuse filter arguments that would make too much; return the value (a join's as a list)."""

    def argument(index: int, keyword: str, default: Any = None) -> Any:
        return rest[index] if len(rest) > index else kwargs.get(keyword, default)

    text = value if isinstance(value, str) else ""
    match name:
        case "center" | "indent":  # add `width` characters, or a `width` text, to each line
            width = argument(0, "width", 80)
            each = len(width) if isinstance(width, str) else width if isinstance(width, int) else 0
            if each * (text.count("\n") + 1) > limit:
                raise _too_large(f"{name} by {_number(each)}", limit)
        case "wordwrap":
            width, wrap = argument(0, "width", 79), argument(2, "wrapstring") or "\n"
            if isinstance(width, int) and isinstance(wrap, str):
                breaks = len(text) // max(width, 1) + text.count(" ") + 1
                if len(text) + breaks * len(wrap) > limit:
                    raise _too_large("the wrapped text", limit)
        case "format":
            widths = [n for spec in _FORMAT_SPEC.findall(text) for n in spec if n]
            if any(n == "*" or len(n) > 7 or int(n) > limit for n in widths):
                raise _too_large("a format field that wide", limit)
        case "join":
            value = list(value)
            _check_join(argument(0, "d", ""), value, limit)
        case "replace":
            _check_replace(
                value, argument(0, "old"), argument(1, "new"), argument(2, "count"), limit
            )
        case "batch" | "slice":
            count = argument(0, "linecount" if name == "batch" else "slices")
            if isinstance(count, int) and count > MAX_RANGE:
                raise ExpressionError(f"refused: {name} by more than {MAX_RANGE}")
        case "tojson":
            indent = argument(0, "indent")
            if (len(indent) if isinstance(indent, str) else indent or 0) > 32:
                raise ExpressionError("refused: tojson indents by at most 32")
        case "sum":
            if not isinstance(argument(1, "start", 0), int | float):
                raise ExpressionError("refused: sum adds numbers; its start must be a number")
        case "random":
            raise ExpressionError("refused: random; an expression gives the same result each time")
    return value


#: Filters that rearrange or count their input rather than turn it into text.
_REARRANGING_FILTERS = frozenset(
    "abs attr batch count d default dictsort first float fromjson groupby int items join "  # noqa: SIM905
    "last length list map max min random reject rejectattr reverse round select selectattr "
    "slice sort sum unique".split()
)


def _guard_filter(name: str, func: Callable[..., Any]) -> Callable[..., Any]:
    """`func` checking the deadline, its input's size and (for some) its arguments first."""
    at = 0 if getattr(func, "jinja_pass_arg", None) is None else 1  # after a context argument
    measure = name not in _REARRANGING_FILTERS

    @functools.wraps(func)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        budget = _budget()
        budget.tick()
        if measure:
            _Sizer(budget.max_chars, strict=False).measure(args[at])
        value = _check_filter(name, args[at], args[at + 1 :], kwargs, budget.max_chars)
        args = (*args[:at], value, *args[at + 1 :])
        result = func(*args, **kwargs)
        if isinstance(result, str) and len(result) > budget.max_chars:
            raise ExpressionError(f"the result is larger than {_size(budget.max_chars)}")
        return result

    return guarded
