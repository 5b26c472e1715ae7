"""A Jinja2 sandbox that also bounds what a template may cost: output size and render time.

Jinja2's sandbox stops attribute walks to internals (``__class__``, ``__globals__``) but does
not bound CPU or memory (reliability.md fact 5: ``{{ 'a' * 50000000 }}`` renders 50 MB). This
module adds the bounds, because admins write templates and a runaway one must fail one message,
never hang a worker:

* every render runs under a deadline (a context variable, so threads do not share it); the
  deadline is checked at every sandboxed call (macros, methods), every ``for`` iteration, every
  intercepted operator and, by the renderer, between output chunks;
* operators that can build a huge value in one expression (``*``, ``**``, ``+``, ``%``) and
  string concatenation (``~``) are checked *before* the value is built, against the output cap;
* filters and ``str`` methods that pad or repeat (``center``, ``indent``, ``format``, ``replace``,
  ``join``, ``slice``, ``batch``, ``ljust``, ``zfill``...) are refused arguments past the cap;
* a text-mode macro called from an HTML template has its output escaped (Jinja would mark it
  safe), and an HTML template may not include or extend a text template;
* ``range`` is capped (``MAX_RANGE``), ``lipsum`` is removed, and the optimizer is off so that no
  constant is folded at compile time, outside the deadline.

What stays unbounded: a single builtin doing work proportional to inputs that are themselves
bounded (sorting 10,000 items, say). The caps keep that to milliseconds.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable, Iterable, Iterator, MutableMapping
from contextvars import ContextVar
from string import Formatter
from typing import Any

from jinja2 import BaseLoader, StrictUndefined, nodes, pass_eval_context, select_autoescape
from jinja2.exceptions import SecurityError, TemplateSyntaxError
from jinja2.filters import do_batch, do_center, do_format, do_indent, do_replace, sync_do_join, sync_do_slice
from jinja2.nodes import EvalContext
from jinja2.runtime import Context, Macro
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.utils import Cycler, Joiner, Namespace
from jinja2.visitor import NodeTransformer
from markupsafe import escape

MAX_RANGE = 10_000
# (wall-clock screen, CPU-time deadline) of the current render
_NO_DEADLINE = (math.inf, math.inf)
_deadline: ContextVar[tuple[float, float]] = ContextVar("prepbot_template_deadline", default=_NO_DEADLINE)
_PERCENT_SPEC = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(\*|\d+)?(?:\.(\*|\d+))?")
_PADDING_METHODS = frozenset({"center", "ljust", "rjust", "zfill", "expandtabs"})


def set_deadline(seconds: float) -> Any:
    """Start a render's time budget; returns the token for :func:`reset_deadline`."""
    return _deadline.set((time.monotonic() + seconds, time.thread_time() + seconds))


def reset_deadline(token: Any) -> None:
    """End the render's time budget."""
    _deadline.reset(token)


def check_deadline() -> None:
    """Raise SecurityError once the current render has used its budget of CPU time.

    CPU time of this thread, not the wall clock: a worker paused (SIGSTOP, a stalled host) or
    starved by other processes mid-render has not rendered for long (issue 8 chaos runs). Reading
    it is a system call here (about 1 µs, ten times the wall clock's 0.1 µs), so the cheap wall clock
    screens first: a thread cannot have used more CPU time than the time that has passed.
    """
    wall, cpu = _deadline.get()
    now = time.monotonic()
    if now <= wall:
        return
    if time.thread_time() > cpu:
        raise SecurityError("the template ran longer than the render time limit")
    # paused, not busy: screen again only after what is left of the budget could have been used
    _deadline.set((now + cpu - time.thread_time(), cpu))


class _GuardLoops(NodeTransformer):
    """Routes every ``for`` iterable and every ``~`` through the environment's guards."""

    def visit_For(self, node: nodes.For) -> nodes.Node:
        self.generic_visit(node)
        node.iter = _guard_call("guard_iter", node.iter)
        return node

    def visit_Concat(self, node: nodes.Concat) -> nodes.Node:
        self.generic_visit(node)
        return _guard_call("guard_size", node)


def _guard_call(guard: str, node: nodes.Node) -> nodes.Expr:
    call = nodes.Call(nodes.EnvironmentAttribute(guard), [node], [], None, None)
    call.set_lineno(node.lineno)
    return call


_MAX_REMEMBERED_ATTRIBUTES = 10_000
_MISSING = object()


class CappedSandbox(ImmutableSandboxedEnvironment):
    """An immutable sandbox with output-size and time bounds; see the module docstring."""

    intercepted_binops = frozenset({"*", "**", "+", "%"})

    def __init__(self, *, loader: BaseLoader, max_output_chars: int) -> None:
        super().__init__(
            loader=loader,
            autoescape=select_autoescape(enabled_extensions=("html", "htm", "xml"), default=False),
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            optimized=False,  # no constant folding at compile time, where no deadline runs
            # an edited admin template applies to messages not yet sent: the Renderer checks
            # its sources every few seconds, not at every get_template (a stat per source)
            auto_reload=False,
        )
        self.max_output_chars = max_output_chars
        self.globals.clear()
        self.globals.update(
            range=self.safe_range, namespace=Namespace, cycler=Cycler, joiner=Joiner, dict=dict
        )
        self.filters.update(_checked_filters(self))
        self.filters["capfirst"] = capfirst
        self._safe_attributes: dict[tuple[type, str], bool] = {}
        self._plain_attributes: set[tuple[type, str]] = set()  # see getattr

    def make_globals(self, d: MutableMapping[str, Any] | None) -> MutableMapping[str, Any]:
        """A template's globals: a plain dict, the environment's overlaid with ``d``, fixed when
        the template is loaded (prepbot sets the environment's globals before it loads any).

        Jinja's default is a ``ChainMap`` over the two, which follows later changes to the
        environment's globals. But Jinja copies a template's globals into a set at every render
        and at every ``{% import %}``, and a ``ChainMap`` is iterated in Python: about a sixth
        of a confirmation's render and a tenth of a prep note's (issue 7)."""
        return {**self.globals, **(d or {})}

    def is_safe_attribute(self, obj: Any, attr: str, value: Any) -> bool:
        """Jinja's verdict, remembered per (type, attribute name): every rule of the immutable
        sandbox depends on those two only (a private name, a function's or frame's internals, a
        mutating method of a known mutable type), and it is asked ~100 times per message."""
        key = (type(obj), attr)
        safe = self._safe_attributes.get(key)
        if safe is None:
            safe = super().is_safe_attribute(obj, attr, value)
            if len(self._safe_attributes) < _MAX_REMEMBERED_ATTRIBUTES:
                self._safe_attributes[key] = safe
        return safe

    def getattr(self, obj: Any, attribute: str) -> Any:
        """Jinja's sandboxed ``obj.attribute``, with a shortcut for what it always gives as it is.

        Jinja reads the attribute, wraps it if it is a ``str.format`` method, asks for the sandbox's
        verdict and returns it. Once an attribute of a type was found safe and holding a value that
        cannot be called (so nothing to wrap), the same type's attribute is read and returned
        directly while it holds such a value: the verdict depends on the type and the name only
        (see :meth:`is_safe_attribute`). A template reads ~130 attributes per meeting (issue 7).
        """
        key = (type(obj), attribute)
        if key in self._plain_attributes:
            value = getattr(obj, attribute, _MISSING)
            if value is not _MISSING and not callable(value):
                return value
        value = super().getattr(obj, attribute)
        if (
            self._safe_attributes.get(key) is True
            and not callable(value)
            and getattr(obj, attribute, _MISSING) is value
            and len(self._plain_attributes) < _MAX_REMEMBERED_ATTRIBUTES
        ):
            self._plain_attributes.add(key)
        return value

    def _generate(
        self, source: nodes.Template, name: str | None, filename: str | None, defer_init: bool = False
    ) -> str:
        # Jinja documents _generate as the hook for changing code generation; the guards are
        # spliced into the tree here, so every loop and concatenation of every template,
        # shipped or admin-written, goes through them.
        if name is not None and self._autoescape_for(name):
            _refuse_text_includes(self, source, name)
        guarded = _GuardLoops().visit(source)
        return super()._generate(guarded, name, filename, defer_init)

    def _autoescape_for(self, name: str) -> bool:
        return bool(self.autoescape(name)) if callable(self.autoescape) else bool(self.autoescape)

    # -- guards called from compiled templates ---------------------------------------------------

    def _refuse_size(self, size: float, what: str) -> None:
        if size > self.max_output_chars:
            raise SecurityError(f"{what} would exceed the {self.max_output_chars}-character output limit")

    def safe_range(self, *args: int) -> range:
        """``range`` for templates: at most MAX_RANGE items."""
        check_deadline()
        rng = range(*args)
        if len(rng) > MAX_RANGE:
            raise SecurityError(f"range() larger than {MAX_RANGE} items")
        return rng

    def guard_iter(self, iterable: Iterable[Any]) -> Iterator[Any]:
        """Every ``for`` loop iterates through here, so even an empty loop body meets the deadline."""
        for item in iterable:
            check_deadline()
            yield item

    def guard_size(self, value: Any) -> Any:
        """Checks the result of ``~`` (each operand is already bounded, so at most double the cap)."""
        check_deadline()
        self._refuse_size(len(value), "the joined text")
        return value

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        check_deadline()
        if operator == "*":
            for seq, count in ((left, right), (right, left)):
                if isinstance(seq, str | list | tuple | bytes) and isinstance(count, int):
                    self._refuse_size(len(seq) * count, "repeating a sequence")
        elif operator == "**" and isinstance(left, int) and isinstance(right, int):
            self._refuse_size(abs(right) * max(abs(left), 2).bit_length() / 64, "the power")
        elif (
            operator == "+" and isinstance(left, str | list | tuple) and isinstance(right, str | list | tuple)
        ):
            self._refuse_size(len(left) + len(right), "joining")
        elif operator == "%" and isinstance(left, str):
            check_percent_format(left, self.max_output_chars)
        return super().call_binop(context, operator, left, right)

    def call(__self, __context: Context, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        check_deadline()
        if type(__obj) is Macro:
            result = _call_macro(__context, __obj, args, kwargs)
        else:
            target = getattr(__obj, "__wrapped__", __obj)  # str.format arrives wrapped by the sandbox
            owner = getattr(target, "__self__", None)
            if isinstance(owner, str | list | tuple):
                _check_method_call(__self, owner, getattr(target, "__name__", ""), args, kwargs)
            result = super().call(__context, __obj, *args, **kwargs)
        # Jinja marks a macro's output safe when it is called from an autoescaping template, even
        # if the macro was compiled without escaping (a .txt file): its raw CRM values would reach
        # the HTML unescaped. Such output is plain text, so escape it instead (reliability.md H4).
        if isinstance(__obj, Macro) and not __obj._default_autoescape and __context.eval_ctx.autoescape:
            return escape(str(result))
        return result


def _call_macro(context: Context, macro: Macro, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """What the sandbox's ``call`` and ``Context.call`` do for a macro, without their probes.

    A template's own macro is always safely callable (it has no ``unsafe_callable`` or
    ``alters_data``), is no ``str.format`` and takes no ``pass_context``-style argument; those
    probes are attribute look-ups that fail, about a third of a macro call, and a confirmation
    calls a dozen macros (issue 7). What is left is the call itself, as ``Context.call`` makes it.
    """
    try:
        return macro(*args, **kwargs)
    except StopIteration:
        return context.environment.undefined(
            "value was undefined because a callable raised a StopIteration exception"
        )


def _refuse_text_includes(env: CappedSandbox, source: nodes.Template, name: str) -> None:
    """An HTML template may not include or extend a text template: Jinja would copy the text
    template's unescaped output into the HTML. Imports are fine (see ``CappedSandbox.call``)."""
    found: list[nodes.Include | nodes.Extends] = [
        *source.find_all(nodes.Include),
        *source.find_all(nodes.Extends),
    ]
    for node in found:
        target = node.template
        if not isinstance(target, nodes.Const) or not isinstance(target.value, str):
            raise TemplateSyntaxError(
                "HTML templates may include or extend only by a fixed name", node.lineno, name
            )
        if not env._autoescape_for(target.value):
            raise TemplateSyntaxError(
                f"an HTML template cannot include or extend the text template {target.value!r}; "
                "import its macros instead",
                node.lineno,
                name,
            )


def _check_method_call(env: CappedSandbox, owner: Any, name: str, args: Any, kwargs: Any) -> None:
    values = [*args, *kwargs.values()]
    if name in _PADDING_METHODS or isinstance(owner, list | tuple):
        env._refuse_size(max((abs(v) for v in values if isinstance(v, int)), default=0), f"{name}()")
    if name in ("format", "format_map"):
        check_brace_format(owner, env.max_output_chars)
    elif name == "join" and args:
        items = [str(item) for item in args[0]] if not isinstance(args[0], str) else list(args[0])
        env._refuse_size(sum(map(len, items)) + len(owner) * max(len(items) - 1, 0), "join()")
    elif name == "replace" and len(args) >= 2:
        env._refuse_size(_replace_size(owner, str(args[0]), str(args[1])), "replace()")


def _replace_size(text: str, old: str, new: str) -> int:
    hits = len(text) + 1 if old == "" else text.count(old)
    return len(text) + hits * max(len(new) - len(old), 0)


def check_percent_format(fmt: str, cap: int) -> None:
    """Refuse ``%``-format specs that pad past the cap or take their width from an argument."""
    for match in _PERCENT_SPEC.finditer(fmt):
        for number in match.groups():
            if number == "*" or (number and int(number) > cap):
                raise SecurityError("a format width or precision is too large for a template")


def check_brace_format(fmt: str, cap: int) -> None:
    """Refuse ``str.format`` specs with nested fields or widths past the cap."""
    for _literal, _field, spec, _conv in Formatter().parse(fmt):
        if spec and "{" in spec:
            raise SecurityError("nested format fields are not allowed in templates")
        for number in re.findall(r"\d+", spec or ""):
            if int(number) > cap:
                raise SecurityError("a format width or precision is too large for a template")


def capfirst(value: str) -> str:
    """Upper-case the first character only ("tomorrow at 10:00 AM" -> "Tomorrow at 10:00 AM")."""
    text = str(value)
    return text[:1].upper() + text[1:]


def _checked_filters(env: CappedSandbox) -> dict[str, Callable[..., Any]]:
    """Built-in filters that can pad or repeat, with their size arguments checked first."""
    cap = env.max_output_chars

    def center(value: str, width: int = 80) -> str:
        env._refuse_size(int(width), "center")
        return do_center(value, width)

    def indent(s: str, width: int | str = 4, first: bool = False, blank: bool = False) -> str:
        pad = len(width) if isinstance(width, str) else int(width)
        env._refuse_size(len(str(s)) + pad * (str(s).count("\n") + 1), "indent")
        return do_indent(s, width, first, blank)

    def format_(value: str, *args: Any, **kwargs: Any) -> str:
        check_percent_format(str(value), cap)
        return do_format(value, *args, **kwargs)

    @pass_eval_context
    def replace(eval_ctx: EvalContext, s: str, old: str, new: str, count: int | None = None) -> str:
        env._refuse_size(_replace_size(str(s), str(old), str(new)), "replace")
        return do_replace(eval_ctx, s, old, new, count)

    @pass_eval_context
    def join(eval_ctx: EvalContext, value: Iterable[Any], d: str = "", attribute: Any = None) -> str:
        items = list(value)
        env._refuse_size(sum(len(str(i)) for i in items) + len(str(d)) * len(items), "join")
        return sync_do_join(eval_ctx, items, d, attribute)

    def slice_(value: Any, slices: int, fill_with: Any = None) -> Any:
        env._refuse_size(int(slices), "slice")
        return sync_do_slice(value, slices, fill_with)

    def batch(value: Any, linecount: int, fill_with: Any = None) -> Any:
        env._refuse_size(int(linecount), "batch")
        return do_batch(value, linecount, fill_with)

    return {
        "center": center,
        "indent": indent,
        "format": format_,
        "replace": replace,
        "join": join,
        "slice": slice_,
        "batch": batch,
    }
