"""The guarded sandbox that `parse.environment()` holds, and the limits of the evaluation it runs.

Every evaluation (one `evaluate.py` call) gets a budget, enforced by hooks in the sandbox:

- Fuel: at most `MAX_STEPS` (1,000,000) steps. An attribute or item lookup, operator,
  comparison, test, loop iteration, output, and each item that passes into or out of a filter
  costs 1 step; a call or filter `CALL_STEPS` (4); `dict()` or `namespace()`
  `CONSTRUCTOR_STEPS` (10); a macro call or a recursive loop's `loop()` `MACRO_STEPS` (100).
  Besides, every `CHARS_PER_STEP` (16) characters of text made, copied, searched or compared
  cost a step, and measuring a value costs `MEASURE_STEPS` (3), a step per 16 characters of its
  JSON-like size and one per container in it. The count depends only on the expression and its
  data, so the same evaluation is refused alike on every machine; it also bounds what can be
  made in one evaluation (about 16 million characters, or a million small values).
- Size: a result (text, or data counted as JSON-like text) has at most `MAX_OUTPUT_CHARS`
  (1 MiB) characters; so has every string, list or mapping made along the way (an operand of
  `*`, `+`, `~`, a filter's text, the items `map` makes together, a format field and all of a
  format's fields together, `tojson`'s text), each estimated before it is made where possible;
  output and captured text together at most `PRODUCED_FACTOR` (4) times that; nesting at most
  `MAX_DEPTH` (200) levels; integers at most `MAX_INT_DIGITS` (4300) digits; `range()` at most
  100,000 items.
- Time, as a last resort only: the clock is never read before the `CLOCK_EVERY`th (4096th)
  step, then once every 4096 steps; an evaluation still running `LAST_RESORT_S` (10 s) after
  its 4096th step is stopped.

Attributes and methods outside a short list are refused, as are `str.format`, `%` on text,
includes, imports and `random`.
"""

from __future__ import annotations

import functools
import json
import math
import time
import types
from collections import deque
from collections.abc import Callable, ItemsView, Iterable, Iterator, KeysView, Mapping, ValuesView
from contextvars import ContextVar
from typing import Any

from jinja2 import StrictUndefined, pass_context
from jinja2.exceptions import FilterArgumentError
from jinja2.runtime import Context, LoopContext, Macro, Undefined
from jinja2.sandbox import MAX_RANGE, ImmutableSandboxedEnvironment
from jinja2.utils import Cycler, Joiner, Namespace, missing
from markupsafe import Markup, soft_str

from opsflow.expr.parse import CONTEXT_NAMES, ExpressionError, from_json

#: Most characters a result may have (of text, or of JSON-like text for data).
MAX_OUTPUT_CHARS = 1024 * 1024
#: Most digits of an integer: Python's own limit for turning one into text.
MAX_INT_DIGITS = 4300
MAX_INT_BITS = int(MAX_INT_DIGITS * math.log2(10))
#: Deepest nesting of lists and mappings in a result.
MAX_DEPTH = 200
#: Text produced along the way (captured blocks, macro output) may be this many results long.
PRODUCED_FACTOR = 4
#: Most steps (fuel) one evaluation may use.
MAX_STEPS = 1_000_000
#: Characters made, copied, compared or measured that cost one step.
CHARS_PER_STEP = 16
#: Steps between two readings of the clock, which is read for the last-resort limit only.
CLOCK_EVERY = 4096
#: Steps a call or a filter costs, measuring a value (besides its size), `dict()` or
#: `namespace()`, and a call that may recurse (a macro, a recursive loop): each about as long
#: as that many lookups, the last also where deep recursion makes Python slow.
CALL_STEPS, MEASURE_STEPS, CONSTRUCTOR_STEPS, MACRO_STEPS = 4, 3, 10, 100
#: Longest an evaluation may run, in seconds, counted from its `CLOCK_EVERY`th step.
LAST_RESORT_S = 10.0


# --- the evaluation in progress ---------------------------------------------


class Budget:
    """The limits of the evaluation in progress, which the sandbox's hooks enforce.

    `spend` counts steps (fuel); past `max_steps` the evaluation is refused. The clock is read
    only every `CLOCK_EVERY` steps, first to note when the evaluation got that far, then to
    apply the last-resort wall-clock limit.
    """

    __slots__ = ("_check_at", "_started", "context", "max_chars", "max_steps", "produced", "steps")

    def __init__(
        self, max_steps: float, max_chars: int, context: Mapping[str, Any] | None = None
    ) -> None:
        self.max_steps, self.max_chars = max_steps, max_chars
        self.context: Mapping[str, Any] = context if context is not None else {}
        self.produced = self.steps = 0
        self._check_at: float = min(CLOCK_EVERY, max_steps + 1)
        self._started: float | None = None

    def spend(self, steps: int = 1) -> None:
        self.steps += steps
        if self.steps >= self._check_at:
            self._check()

    def spend_chars(self, chars: int) -> None:
        """One step, and one more for every `CHARS_PER_STEP` characters made, copied or read."""
        self.spend(1 + chars // CHARS_PER_STEP)

    def spend_measured(self, sizer: Sizer) -> None:
        """What a measured value costs: its characters, and a step for each container in it."""
        self.spend(MEASURE_STEPS + sizer.chars // CHARS_PER_STEP + sizer.containers)

    def _check(self) -> None:
        if self.steps > self.max_steps:
            raise ExpressionError(
                f"the expression used more than {self.max_steps} evaluation steps; "
                "simplify it or move the work into a script step"
            )
        now = time.monotonic()
        if self._started is None:
            self._started = now
        elif now - self._started > LAST_RESORT_S:
            raise ExpressionError(
                f"the expression ran for more than {LAST_RESORT_S:g} s; "
                "simplify it or move the work into a script step"
            )
        self._check_at = min(self.steps + CLOCK_EVERY, self.max_steps + 1)

    def produce(self, chars: int) -> None:
        self.produced += chars
        limit = PRODUCED_FACTOR * self.max_chars
        if self.produced > limit:
            raise ExpressionError(f"evaluation produced more than {describe_size(limit)} of text")


#: Rendering outside `_run` (e.g. Jinja's own `render()`) gets size guards but no step limit.
ACTIVE_BUDGET: ContextVar[Budget | None] = ContextVar("opsflow_expr_budget", default=None)


def _budget() -> Budget:
    return ACTIVE_BUDGET.get() or Budget(math.inf, MAX_OUTPUT_CHARS)


# --- sizes ------------------------------------------------------------------


def describe_size(chars: int) -> str:
    """A limit as people read it: "1 MiB", "64 KiB" or "1000 characters"."""
    if chars % (1024 * 1024) == 0:
        return f"{chars // (1024 * 1024)} MiB"
    return f"{chars // 1024} KiB" if chars % 1024 == 0 else f"{chars} characters"


def _too_large(what: str, limit: int) -> ExpressionError:
    return ExpressionError(f"refused: {what} would be larger than {describe_size(limit)}")


def _number(value: int) -> str:
    return (
        str(value)
        if value.bit_length() < 64
        else f"a {int(value.bit_length() * 0.30103)}-digit number"
    )


class Sizer:
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
            raise ExpressionError(f"the result is larger than {describe_size(self.limit)}")

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
    """Jinja's immutable sandbox, refusing escapes with a sentence and bounding work and size.

    Jinja cannot be interrupted from outside, so loops, calls, lookups, operators, comparisons,
    tests and filters count the steps of the evaluation in progress as they go.
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
        self.filters["format"] = _format_filter
        self.filters["fromjson"] = from_json
        self.filters = {name: _guard_filter(name, func) for name, func in self.filters.items()}
        tests: dict[str, Any] = self.tests
        for name, func in list(tests.items()):
            tests[name] = _guard_test(name, func)
        self.policies["json.dumps_function"] = _bounded_dumps

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        budget = _budget()
        budget.spend()
        _check_binop(operator, left, right, budget)
        result = super().call_binop(context, operator, left, right)
        if isinstance(result, str | list | tuple):
            budget.spend_chars(len(result))
        elif type(result) is int:
            budget.spend(result.bit_length() // (4 * CHARS_PER_STEP))
        return result

    def call(self, context: Context, obj: Any, /, *args: Any, **kwargs: Any) -> Any:
        if type(obj) is types.MethodType and obj.__self__ is self and obj.__name__ in _GUARDS:
            return obj(*args)  # a guard `evaluate` put in the template, which counts its own
        budget = _budget()
        if isinstance(obj, Macro | LoopContext):
            budget.spend(MACRO_STEPS)
        else:
            budget.spend(CONSTRUCTOR_STEPS if isinstance(obj, type) else CALL_STEPS)
        if not isinstance(obj, Undefined):  # calling one raises its own error
            args = _check_call(obj, args, kwargs, budget)
        result = super().call(context, obj, *args, **kwargs)
        if obj is dict:  # dict(a=x, b=x) repeats x, as [x, x] does
            self.checked_data(result)
        if isinstance(result, str):
            if len(result) > budget.max_chars:
                raise ExpressionError(
                    f"the result is larger than {describe_size(budget.max_chars)}"
                )
            budget.spend_chars(len(result))
        elif isinstance(result, list | tuple):  # split, partition ...
            budget.spend(len(result))
        return result

    def getattr(self, obj: Any, attribute: str) -> Any:
        _budget().spend()
        if isinstance(obj, dict) and attribute in obj:
            return obj[attribute]  # data first: `json.items` is a key there, not dict.items
        return super().getattr(obj, attribute)

    def getitem(self, obj: Any, argument: Any) -> Any:
        budget = _budget()
        budget.spend()
        result = super().getitem(obj, argument)
        if isinstance(argument, slice) and isinstance(result, str | list | tuple):
            budget.spend_chars(len(result))  # a slice is a copy
        return result

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
        total = sum(map(len, parts))
        budget.spend_chars(total)
        if total > budget.max_chars:
            raise ExpressionError(f"the result is larger than {describe_size(budget.max_chars)}")
        budget.produce(total)
        return "".join(parts)

    def join_text(self, operands: list[Any]) -> str:
        """The `~` operator, measuring its operands before turning them into text."""
        budget = _budget()
        sizer = Sizer(budget.max_chars, strict=False)
        for operand in operands:
            sizer.measure(operand)
        budget.spend_measured(sizer)
        return "".join(map(str, operands))

    def checked_data(self, value: Any) -> Any:
        """A list, tuple or mapping the template builds, measured like text would be."""
        budget = _budget()
        sizer = Sizer(budget.max_chars, strict=False)
        sizer.measure(value)
        budget.spend_measured(sizer)
        return value

    def compared(self, value: Any) -> Any:
        """Each operand of a comparison (`==`, `<`, `in` ...), charged for the work it may take."""
        _spend_weight(_budget(), value)
        return value

    def sliced(self, value: Any) -> Any:
        """A slice (`text[1:]`), which is a copy: charged for its length."""
        _spend_weight(_budget(), value)
        return value

    def guarded_iter(self, iterable: Any) -> Iterator[Any]:
        """What every for loop goes over: the items, a step each as they pass."""
        budget = _budget()
        for item in iterable:
            budget.spend()
            yield item

    def checked_output(self, value: Any) -> Any:
        """Every `{{ }}` value, measured before it becomes text."""
        budget = _budget()
        if isinstance(value, str):
            budget.spend_chars(len(value))
            budget.produce(len(value))
        elif value is None or isinstance(value, int | float):
            budget.spend()
        else:
            sizer = Sizer(budget.max_chars, strict=False)
            sizer.measure(value)
            budget.spend_measured(sizer)
            budget.produce(sizer.chars)
        return value


#: The methods that `evaluate` routes template code through (a template cannot reach them).
_GUARDS = frozenset({"checked_data", "compared", "guarded_iter", "join_text", "sliced"})


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


def _check_binop(operator: str, left: Any, right: Any, budget: Budget) -> None:
    limit = budget.max_chars
    if operator == "%" and isinstance(left, str):
        raise ExpressionError(
            "refused: '%' formatting of text is not available in expressions; "
            "use the format filter or join text with ~ instead"
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
            if isinstance(sequence, str | list | tuple) and isinstance(times, int):
                sizer = Sizer(limit, strict=False)
                if sizer.measure(sequence) * times > limit:
                    raise _too_large(
                        f"repeating {type(sequence).__name__} {_number(times)} times", limit
                    )
                budget.spend_measured(sizer)
    elif operator == "+" and isinstance(left, str | list | tuple):
        sizer = Sizer(limit, strict=False)
        sizer.measure(left)
        sizer.measure(right)
        budget.spend_measured(sizer)


def _check_call(
    obj: Any, args: tuple[Any, ...], kwargs: dict[str, Any], budget: Budget
) -> tuple[Any, ...]:
    """Refuse what a template may not call; return the arguments (iterables made lists)."""
    limit = budget.max_chars
    name = getattr(obj, "__name__", type(obj).__name__)
    owner = getattr(obj, "__self__", None)
    data_type = next((kind for kind in _METHODS if isinstance(owner, kind)), None)
    if data_type is not None:
        if name not in _METHODS[data_type]:
            raise ExpressionError(
                f"refused: {data_type.__name__}.{name}() is not available in expressions"
            )
        if name == "join" and args:
            args = (list(_Metered(args[0], budget, "join")), *args[1:])
            _check_join(owner, args[0], budget)
        elif name == "replace" and len(args) >= 2:
            count = args[2] if len(args) > 2 else kwargs.get("count")
            _check_replace(owner, args[0], args[1], count, limit)
        if data_type is not dict:  # text is searched, a list's items compared
            _spend_weight(budget, owner)
            for argument in args:
                _spend_weight(budget, argument)
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


def _spend_weight(budget: Budget, value: Any) -> None:
    """Charge for the work an operand may cause: its characters, or a step per 4 items."""
    if isinstance(value, str):
        budget.spend_chars(len(value))
    elif isinstance(value, list | tuple | dict | KeysView | ValuesView | ItemsView):
        budget.spend(1 + len(value) // 4)
    else:
        budget.spend()


def _check_join(separator: Any, items: list[Any], budget: Budget) -> None:
    sizer = Sizer(budget.max_chars, strict=False)
    if isinstance(separator, str):
        sizer.spend(len(separator) * max(len(items) - 1, 0))
    for item in items:
        sizer.measure(item)
    budget.spend_measured(sizer)


def _check_replace(text: Any, old: Any, new: Any, count: Any, limit: int) -> None:
    if not (isinstance(text, str) and isinstance(old, str) and isinstance(new, str)):
        return
    hits = text.count(old) if old else len(text) + 1
    if isinstance(count, int) and count >= 0:
        hits = min(hits, count)
    if len(text) + hits * (len(new) - len(old)) > limit:
        raise _too_large("the replaced text", limit)


def _check_filter(
    name: str, value: Any, rest: tuple[Any, ...], kwargs: dict[str, Any], budget: Budget
) -> Any:
    """Refuse filter arguments that would make too much; return the value (a join's as a list)."""
    limit = budget.max_chars

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
        case "join":
            value = list(value)
            _check_join(argument(0, "d", ""), value, budget)
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
        case "fromjson" if isinstance(value, str):  # a step per value parsed, about
            budget.spend_chars(len(value))
            budget.spend(value.count(",") + value.count("[") + value.count("{"))
        case "dictsort" | "items" if isinstance(value, Mapping):
            budget.spend(len(value))
        case "random":
            raise ExpressionError("refused: random; an expression gives the same result each time")
    return value


# --- text formatting --------------------------------------------------------


def _format_filter(value: Any, *args: Any, **kwargs: Any) -> str:
    """The `format` filter (`'%s: %d' | format(name, count)`), as Jinja's, but bounded."""
    if args and kwargs:
        raise FilterArgumentError("can't handle positional and keyword arguments at the same time")
    budget = _budget()
    sizer = Sizer(budget.max_chars, strict=False)
    sizer.measure(args or kwargs)
    budget.spend_measured(sizer)
    return _percent_format(soft_str(value), kwargs or args, budget)


class _Values:
    """The values `%` formatting takes one by one: a tuple's items, or one value once."""

    def __init__(self, values: Any, *, single: bool = False) -> None:
        self.values = values
        many = isinstance(values, tuple) and not single
        self.count, self.next = (len(values), 0) if many else (-1, -2)

    def take(self) -> Any:
        if self.next >= self.count:
            raise ExpressionError("format: not enough values for the format text")
        self.next += 1
        return self.values if self.count < 0 else self.values[self.next - 1]

    def number(self) -> int:
        value = self.take()
        if not isinstance(value, int):
            raise ExpressionError("format: * wants a whole number")
        return int(value)  # true and false are 1 and 0


_FLAGS = frozenset("-+ #0")
_CONVERSIONS = frozenset("diouxXeEfFgGcrsa")


def _percent_format(text: str, values: Any, budget: Budget) -> str:
    """`text % values` as Python computes it, within `limit` characters.

    The format is parsed here as Python parses it (a `(key)` with nested parentheses, flags,
    width or `*`, precision or `.*`, a length letter, the conversion), and each field then runs
    alone as a plain `%` spec built from what this parse checked: no shape of the format text
    can hide a width from the check, because what runs is what was checked. The text is
    refused before any field, or the whole, would be larger than `limit`.
    """
    limit = budget.max_chars
    mapping = values if isinstance(values, Mapping) else None
    source = _Values(values)
    kind: Callable[[str], str] = Markup if isinstance(text, Markup) else str
    parts: list[str] = []
    total = position = 0
    while True:
        start = text.find("%", position)
        literal = text[position : len(text) if start < 0 else start]
        total += len(literal)
        parts.append(literal)
        if start < 0:
            break
        position = start + 1
        if position >= len(text):
            raise ExpressionError("format: the format text ends in the middle of a field")
        if text[position] == "%":
            parts.append(kind("%"))
            total, position = total + 1, position + 1
            continue
        values_now = source
        if text[position] == "(":
            if mapping is None:
                raise ExpressionError("format: a %(name) field needs values given by name")
            depth, key_start = 1, position + 1
            while depth and position + 1 < len(text):
                position += 1
                depth += {"(": 1, ")": -1}.get(text[position], 0)
            if depth:
                raise ExpressionError("format: a %(name) field is not closed")
            key = text[key_start:position]
            position += 1
            if key not in mapping:
                raise ExpressionError(f"format: no value named {key!r}")
            values_now = source = _Values(mapping[key], single=True)
        flags = ""
        while position < len(text) and text[position] in _FLAGS:
            flags, position = flags + text[position], position + 1
        width, position = _format_number(text, position, values_now, limit)
        if width is not None and width < 0:
            flags, width = flags + "-", -width
        precision = None
        if position < len(text) and text[position] == ".":
            precision, position = _format_number(text, position + 1, values_now, limit)
            precision = max(precision or 0, 0)
        if position < len(text) and text[position] in "hlL":
            position += 1
        if position >= len(text):
            raise ExpressionError("format: the format text ends in the middle of a field")
        conversion = text[position]
        position += 1
        value = values_now.take()
        if conversion not in _CONVERSIONS:
            raise ExpressionError(f"format: unsupported format character {conversion!r}")
        spec = f"%{flags}{'' if width is None else width}"
        spec += "" if precision is None else f".{precision}"
        if conversion in "sra" and kind is str:  # the text it shows is known before padding
            value = (str if conversion == "s" else repr if conversion == "r" else ascii)(value)
            conversion = "s"
        size = _field_size(conversion, value, width or 0, precision, escaped=kind is not str)
        if total + size > limit:
            raise _too_large("the formatted text", limit)
        try:
            field = kind(spec + conversion) % (value,)
        except (TypeError, ValueError, OverflowError) as exc:
            raise ExpressionError(f"format: {exc}") from None
        total += len(field)
        parts.append(field)
        budget.spend(CALL_STEPS + len(field) // CHARS_PER_STEP)
    if source.next < source.count and mapping is None:
        raise ExpressionError("format: more values than fields in the format text")
    return kind("").join(parts)


def _format_number(text: str, position: int, values: _Values, limit: int) -> tuple[int | None, int]:
    """A field's width or precision (digits, or `*` taking the next value) and where it ends."""
    if position < len(text) and text[position] == "*":
        number: int | None = values.number()
        position += 1
    else:
        end = position
        while end < len(text) and "0" <= text[end] <= "9":
            end += 1
        digits = text[position:end]
        number = None if not digits else int(digits) if len(digits) <= 18 else 10**18
        position = end
    if number is not None and abs(number) > limit:
        raise _too_large("a format field that wide", limit)
    return number, position


def _field_size(
    conversion: str, value: Any, width: int, precision: int | None, *, escaped: bool
) -> int:
    """Most characters one formatted field can have."""
    if escaped and conversion in "sra":  # Markup escapes what it shows, up to 6 characters each
        shown = 6 * len(str(value) if conversion == "s" else repr(value)) + 32
    elif conversion == "s" and isinstance(value, str):
        shown = len(value) if precision is None else min(len(value), precision)
    elif conversion == "c":
        shown = 1
    elif conversion in "eEfFgG" and isinstance(value, int | float):
        shown = (6 if precision is None else precision) + 330  # 1e308 in full, and the digits
    elif isinstance(value, int):  # diouxX: a digit per 3 bits at most, zero-padded to precision
        shown = max(value.bit_length() // 3 + 1, precision or 0) + 3
    elif isinstance(value, float) and math.isfinite(value):
        shown = max(int(abs(value)).bit_length() // 3 + 1, precision or 0) + 3
    else:  # the conversion fails on other values
        shown = (precision or 0) + 32
    return max(width, shown)


def _bounded_dumps(value: Any, **kwargs: Any) -> str:
    """JSON text for `tojson`, refused as soon as it grows larger than the size limit."""
    budget = _budget()
    if not kwargs.get("indent"):  # about as long as the input, which the filter measured
        text = json.dumps(value, **kwargs)
        budget.spend_chars(len(text))
        return text
    parts, total = [], 0  # indented, it may be far longer: stop as soon as it is too long
    for chunk in json.JSONEncoder(**kwargs).iterencode(value):
        total += len(chunk)
        if total > budget.max_chars:
            raise ExpressionError(f"the result is larger than {describe_size(budget.max_chars)}")
        parts.append(chunk)
    budget.spend_chars(total)
    return "".join(parts)


# --- filters and tests ------------------------------------------------------


class _Metered(Iterator[Any]):
    """The items of an iterable as they pass through a filter, a step each.

    The items that `map` makes through a filter are new values: those are measured too, and
    together they may not be larger than the result limit, however they are consumed.
    """

    __slots__ = ("_budget", "_items", "_made", "_name", "_new")

    def __init__(
        self, items: Iterable[Any], budget: Budget, name: str, *, new: bool = False
    ) -> None:
        self._items, self._budget, self._name, self._new = iter(items), budget, name, new
        self._made = 0  # characters of the new items so far

    def __next__(self) -> Any:
        item = next(self._items)
        if not self._new:
            self._budget.spend()
            return item
        limit = self._budget.max_chars
        sizer = Sizer(limit - self._made, strict=False)  # one item at a time: all are alive
        try:
            sizer.measure(item)
        except ExpressionError:
            if sizer.chars <= sizer.limit:
                raise
            raise _too_large(f"the items {self._name} makes", limit) from None
        self._made += sizer.chars
        self._budget.spend_measured(sizer)
        return item

    def __repr__(self) -> str:
        return f"<generator object {self._name}>"


#: Filters that rearrange or count their input rather than turn it into text.
_REARRANGING_FILTERS = frozenset(
    "abs attr batch count d default dictsort first float fromjson groupby int items join "  # noqa: SIM905
    "last length list map max min random reject rejectattr reverse round select selectattr "
    "slice sort sum unique".split()
)
#: Filters that go through their input's items: each item costs a step as it passes.
_ITEM_FILTERS = frozenset(
    "batch groupby join list map max min reject rejectattr reverse select selectattr "  # noqa: SIM905
    "slice sort sum unique".split()
)


def _guard_filter(name: str, func: Callable[..., Any]) -> Callable[..., Any]:
    """`func` counting its steps, its input's size and (for some) its arguments first, and
    metering the items it yields.

    The guard takes the context, as Jinja's own `map` does: so Jinja never runs a filter on
    constants while compiling, and all of a filter's work is counted when the template runs.
    """
    passes = getattr(getattr(func, "jinja_pass_arg", None), "name", None)
    measure = name not in _REARRANGING_FILTERS

    def guarded(context: Context, value: Any, *rest: Any, **kwargs: Any) -> Any:
        budget = _budget()
        budget.spend(CALL_STEPS)
        if measure:
            sizer = Sizer(budget.max_chars, strict=False)
            sizer.measure(value)
            budget.spend_measured(sizer)
        elif (
            name in _ITEM_FILTERS
            and isinstance(value, Iterable)
            and not isinstance(value, _Metered | Undefined)
            and not (name == "reverse" and isinstance(value, str))  # reversed as text
        ):
            value = _Metered(value, budget, name)
        value = _check_filter(name, value, rest, kwargs, budget)
        if passes is None:
            result = func(value, *rest, **kwargs)
        else:
            first = {"context": context, "eval_context": context.eval_ctx}.get(passes)
            result = func(first or context.environment, value, *rest, **kwargs)
        if isinstance(result, str):
            if len(result) > budget.max_chars:
                raise ExpressionError(
                    f"the result is larger than {describe_size(budget.max_chars)}"
                )
            budget.spend_chars(len(result))
        elif isinstance(result, Iterator) and not isinstance(result, _Metered):
            new = name == "map" and bool(rest) and "attribute" not in kwargs
            result = _Metered(result, budget, name, new=new)
        return result

    functools.update_wrapper(guarded, func)
    return pass_context(guarded)


#: Tests that compare their value with their argument.
_COMPARING_TESTS = frozenset(
    "== != < <= > >= eq equalto ne lt lessthan le gt greaterthan ge in sameas".split()  # noqa: SIM905
)


def _guard_test(name: str, func: Callable[..., Any]) -> Callable[..., Any]:
    """`func` counting a step, and for comparisons the work of comparing."""
    comparing = name in _COMPARING_TESTS

    @functools.wraps(func)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        budget = _budget()
        if comparing:
            for argument in args:
                _spend_weight(budget, argument)
        else:
            budget.spend()
        return func(*args, **kwargs)

    return guarded
