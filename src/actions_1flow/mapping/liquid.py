"""`@liquid`: python-liquid configured to behave like Segment's liquidjs set-up (`liquid-directive.ts`).

Segment renders with liquidjs: lax variables and filters, Ruby truthiness, six tags and twenty filters
disabled, templates up to 1,000 characters, a 500 ms render limit and a memory limit. Here python-liquid parses
and renders, with the JavaScript parts put back where they show in the output:

- expressions are read as liquidjs reads them: Liquid's keywords are names after `.`, as variables and as filter
  arguments (`liquid_tokens.py`, through every tag's token stream);
- comparisons and the literals `nil`, `empty`, `blank` behave as liquidjs's (`liquid_operators.py`, applied to the
  parsed template with `liquid_tokens.restore_literal_arguments`);
- output prints values as liquidjs does (`1` for 1.0, lists concatenated, objects as `[object Object]`, nothing
  for `empty`), and so does `cycle` (nothing for a falsy value);
- properties are read as liquidjs reads them (`size`, `first`, `last`, `length`, string indexes);
- filters are liquidjs's, reimplemented with JS semantics (`liquid_filters.py`);
- `increment`/`decrement` count in the event's variables, as liquidjs does (on a copy: the event is not changed).

Differences that remain are listed in docs/mapping.md.
"""

from __future__ import annotations

import io
import time
from collections.abc import Iterator
from typing import Any, TextIO, cast

from liquid import Environment, Mode, is_undefined
from liquid.ast import BlockNode, Node
from liquid.builtin.expressions import FilteredExpression
from liquid.builtin.output import Output, OutputNode
from liquid.builtin.tags.cycle_tag import CycleNode, CycleTag
from liquid.builtin.tags.decrement_tag import DecrementNode, DecrementTag
from liquid.builtin.tags.echo_tag import EchoNode, EchoTag
from liquid.builtin.tags.increment_tag import IncrementNode, IncrementTag
from liquid.builtin.tags.liquid_tag import LiquidTag
from liquid.context import ReadOnlyChainMap, RenderContext
from liquid.exceptions import LiquidError, LiquidSyntaxError, OutputStreamLimitError, ResourceLimitError, StopRender
from liquid.expression import Expression
from liquid.parser import get_parser
from liquid.stream import TokenStream
from liquid.tag import Tag
from liquid.template import BoundTemplate
from liquid.token import TOKEN_EOF, TOKEN_EXPRESSION, TOKEN_OUTPUT, TOKEN_TAG
from liquid.undefined import UNDEFINED

from ..jsvalues import MISSING, to_string, truthy
from . import liquid_filters
from .errors import MappingError
from .liquid_operators import to_liquidjs
from .liquid_tokens import ExpressionStream, restore_literal_arguments

MAX_TEMPLATE_LENGTH = 1000
"""Segment rejects longer templates before parsing them."""

RENDER_TIME_LIMIT = 0.5
"""Seconds a render may take (liquidjs `renderLimit: 500`)."""

MEMORY_LIMIT = 100_000_000
"""Bytes of output and of assigned variables (after liquidjs `memoryLimit: 1e8`)."""

DISABLED_TAGS = ("case", "for", "include", "layout", "render", "tablerow")
DISABLED_FILTERS = (
    "array_to_sentence_string",
    "concat",
    "find",
    "find_exp",
    "find_index",
    "find_index_exp",
    "group_by",
    "group_by_exp",
    "has",
    "has_exp",
    "map",
    "newline_to_br",
    "reject",
    "reject_exp",
    "reverse",
    "sort",
    "sort_natural",
    "uniq",
    "where_exp",
    "type",
)
_NOT_IN_LIQUIDJS = ("ifchanged", "doc")


class RenderTimeLimitError(ResourceLimitError):
    """The render went on for longer than RENDER_TIME_LIMIT."""


class _Buffer(io.StringIO):
    """Output with a size limit counted in characters (lone surrogates, which JS strings allow, included)."""

    def __init__(self, limit: int) -> None:
        super().__init__()
        self.room = limit

    def write(self, s: str) -> int:
        self.room -= len(s)
        if self.room < 0:
            raise OutputStreamLimitError("output stream limit reached", token=None)
        return super().write(s)


class _Context(RenderContext):
    """A render context with liquidjs property reads, no python-liquid built-in globals, and a deadline."""

    __slots__ = ("deadline",)

    def __init__(self, template: BoundTemplate, *, globals: dict) -> None:
        super().__init__(template, globals=globals)
        self.scope = ReadOnlyChainMap(self.locals, self.globals)
        self.deadline = time.monotonic() + RENDER_TIME_LIMIT

    def get_buffer(self, buf: Any = None) -> io.StringIO:
        return _Buffer(buf.room if isinstance(buf, _Buffer) else MEMORY_LIMIT)

    def check_time(self) -> None:
        if time.monotonic() > self.deadline:
            raise RenderTimeLimitError(
                f"template render limit of {int(RENDER_TIME_LIMIT * 1000)}ms exceeded", token=None
            )

    def filter(self, name: str, token: Any) -> Any:
        self.check_time()
        return super().filter(name, token)

    def get(self, path: list, *, token: Any, default: object = UNDEFINED) -> object:
        self.check_time()
        return super().get(path, token=token, default=default)

    def get_item(self, obj: Any, key: Any) -> Any:
        """liquidjs `readProperty` (KeyError for undefined, which python-liquid turns into Undefined)."""
        found = liquid_filters.read_property(obj, key)
        if found is MISSING:
            raise KeyError(key)
        return found


class _Template(BoundTemplate):
    context_class = _Context


class _JSOutputNode(OutputNode):
    __slots__ = ()

    def render_to_output(self, context: RenderContext, buffer: TextIO) -> int:
        return buffer.write(liquid_filters.text(self.expression.evaluate(context)))


class _JSOutput(Output):
    node_class = _JSOutputNode

    def parse(self, stream: TokenStream) -> OutputNode:
        token = stream.eat(TOKEN_OUTPUT)
        return self.node_class(token, FilteredExpression.parse(self.env, stream.into_inner(tag=token, eat=False)))


class _JSEchoNode(EchoNode):
    __slots__ = ()

    def render_to_output(self, context: RenderContext, buffer: TextIO) -> int:
        return buffer.write(liquid_filters.text(self.expression.evaluate(context)))


class _JSEcho(EchoTag):
    node_class = _JSEchoNode


class _JSCycleNode(CycleNode):
    """`cycle` writes its value as liquidjs does: nothing for a falsy one (`false`, `0`, `""`, nil), JS text else."""

    __slots__ = ()

    def render_to_output(self, context: RenderContext, buffer: TextIO) -> int:
        group = self.group.evaluate(context) if self.group else ""
        group_name = "__UNDEFINED" if is_undefined(group) else str(group)
        values = [liquid_filters.value(arg.evaluate(context)) for arg in self.args]
        index = context.cycle(group_name or str(values), len(values))
        if index >= len(values) or not truthy(values[index]):
            return 0
        return buffer.write(liquid_filters.text(values[index]))


class _JSCycle(CycleTag):
    node_class = _JSCycleNode


def _counter(context: RenderContext, name: str) -> dict:
    """liquidjs counts in the render's variables (`ctx.environments`), starting at 0 unless a number is there."""
    variables = cast(dict, context.globals)
    if type(variables.get(name)) not in (int, float):
        variables[name] = 0
    return variables


class _IncrementNode(IncrementNode):
    __slots__ = ()

    def render_to_output(self, context: RenderContext, buffer: TextIO) -> int:
        variables = _counter(context, self.name)
        value = variables[self.name]
        variables[self.name] = value + 1
        return buffer.write(to_string(value))


class _DecrementNode(DecrementNode):
    __slots__ = ()

    def render_to_output(self, context: RenderContext, buffer: TextIO) -> int:
        variables = _counter(context, self.name)
        variables[self.name] -= 1
        return buffer.write(to_string(variables[self.name]))


class _Increment(IncrementTag):
    node_class = _IncrementNode


class _Decrement(DecrementTag):
    node_class = _DecrementNode


class _Liquid(LiquidTag):
    """`{% liquid %}`, its lines parsed from an ExpressionStream like the rest of the template."""

    def parse(self, stream: TokenStream) -> Node:
        token = stream.eat(TOKEN_TAG)
        if stream.current.kind == TOKEN_EOF:
            return self.node_class(token, None, block=BlockNode(token, []))
        if stream.current.kind == TOKEN_TAG:
            return self.node_class(token, None, block=get_parser(self.env).parse_block(stream, end=()))
        lines = stream.expect(TOKEN_EXPRESSION)
        inner = ExpressionStream(self._tokenize(lines.value, token=lines), block_depth_carry=stream.block_depth)
        return self.node_class(token, lines, block=get_parser(self.env).parse_block(inner, end=()))


class _StopNode(Node):
    """`break`/`continue` outside a loop: liquidjs stops rendering the template there."""

    __slots__ = ()

    def render_to_output(self, context: RenderContext, buffer: TextIO) -> int:
        raise StopRender


def _stop_tag(tag_name: str) -> type[Tag]:
    class Stop(Tag):
        name = tag_name
        block = False

        def parse(self, stream: TokenStream) -> Node:
            return _StopNode(stream.eat(TOKEN_TAG))

    return Stop


def _disabled_tag(tag_name: str) -> type[Tag]:
    class Disabled(Tag):
        name = tag_name
        block = False

        def parse(self, stream: TokenStream) -> Node:
            raise LiquidSyntaxError(f'tag "{tag_name}" is disabled', token=stream.current)

    return Disabled


class _SegmentLiquid(Environment):
    template_class = _Template
    local_namespace_limit = MEMORY_LIMIT
    shorthand_indexes = True  # `a.0`, as liquidjs reads it
    logical_not_operator = True  # liquidjs has `not`

    def _parse(self, source: str) -> list[Node]:
        """python-liquid's parse, its tags reading expressions as liquidjs does (`liquid_tokens`)."""
        return get_parser(self).parse(ExpressionStream(self.tokenizer()(source)))


def _environment() -> Environment:
    env = _SegmentLiquid(tolerance=Mode.STRICT, strict_filters=False)
    tags: tuple[type[Tag], ...] = (
        _JSOutput,
        _JSEcho,
        _Liquid,
        _JSCycle,
        _Increment,
        _Decrement,
        _stop_tag("break"),
        _stop_tag("continue"),
        *(_disabled_tag(name) for name in DISABLED_TAGS),
    )
    for tag in tags:
        env.add_tag(tag)
    for name in _NOT_IN_LIQUIDJS:
        env.tags.pop(name, None)
    env.filters.clear()
    for name, fn in liquid_filters.FILTERS.items():
        env.add_filter(name, fn)
    for name in DISABLED_FILTERS:
        env.add_filter(name, liquid_filters.disabled(name))
    return env


_ENV = _environment()


def parse(source: str) -> BoundTemplate:
    """Parse a template (MappingError with the parser's message if it is not valid Liquid)."""
    try:
        template = _ENV.from_string(source)
    except LiquidError as error:
        raise MappingError(_message(error)) from None
    except RecursionError:
        raise MappingError("liquid template is nested too deeply") from None
    for expression in _expressions(template):
        to_liquidjs(expression)
        restore_literal_arguments(expression)
    return template


def _expressions(template: BoundTemplate) -> Iterator[Expression]:
    """Every expression of the template, a parent before its children."""
    static = RenderContext(template)
    nodes = list(template.nodes)
    while nodes:
        node = nodes.pop()
        nodes.extend(node.children(static, include_partials=False))
        expressions = list(node.expressions())
        while expressions:
            expression = expressions.pop()
            yield expression
            expressions.extend(expression.children())


def render(template: BoundTemplate, payload: Any) -> str:
    """Render against the payload's variables (MappingError for any failure, limits included)."""
    context = _Context(template, globals=dict(payload) if isinstance(payload, dict) else {})
    buffer = _Buffer(MEMORY_LIMIT)
    try:
        template.render_with_context(context, buffer)
    except LiquidError as error:
        raise MappingError(_message(error)) from None
    except RecursionError:
        raise
    except Exception as error:  # python-liquid on arbitrary event data: any failure is the mapping's failure
        raise MappingError(f"liquid render failed: {type(error).__name__}: {error}") from error
    return buffer.getvalue()


def _message(error: LiquidError) -> str:
    """The error's own message (python-liquid's str() adds a source excerpt over several lines)."""
    return str(error.message or type(error).__name__)
