"""Formula families: a displacement or mapper typed as an expression, never ``eval``-ed.

The text is parsed with ``ast`` and checked against a whitelist: numbers, the family's
variables (``x, y, z`` for a displacement: normalised coordinates x̂; ``d`` for a mapper:
signed distance in voxels), named numeric parameters, the constants ``pi`` and ``e``,
the operators ``+ - * / % **`` (exponent: a number or parameter with |p| <= 16), one
comparison (``< <= > >=``, giving 0 or 1) and the functions of ``FUNCTIONS``. Anything
else (attributes, subscripts, lambdas, comprehensions, strings, keyword arguments,
unknown names) is refused with one ``ExpressionError`` line naming the token. The checked
tree becomes a chain of torch operations, so formulas run on any device.

``bounds`` computes the range of a formula by interval arithmetic over boxes of its
variables; culling uses it (a displacement's reach, a mapper's halo), so a formula needs
no hand-stated amplitude and culls as tightly as its arithmetic allows.
"""

from __future__ import annotations

import ast
import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import torch

from ...errors import UserError
from . import formula_functions
from .formula_functions import FUNCTIONS
from .formula_functions import as_tensor as _t

MAX_CHARS = 400
MAX_NODES = 160
MAX_DEPTH = 24
MAX_EXPONENT = 16.0
CONSTANTS = {"pi": math.pi, "e": math.e}
Value = Any  # torch.Tensor or float
Interval = tuple[float, float]


class ExpressionError(UserError, ValueError):
    """A formula that is refused: one line naming the token and what is allowed."""


BINARY: dict[type, Callable[[Value, Value], Value]] = {
    ast.Add: lambda a, b: a + b,
    ast.Sub: lambda a, b: a - b,
    ast.Mult: lambda a, b: a * b,
    ast.Div: lambda a, b: a / b,
    ast.Mod: lambda a, b: torch.remainder(_t(a), b) if isinstance(a, torch.Tensor) else a % b,
    ast.Pow: lambda a, b: a**b,
}


def _compare(fn: Callable[[Value, Value], Any]) -> Callable[[Value, Value], Value]:
    def op(a: Value, b: Value) -> Value:
        r = fn(a, b)
        return r.float() if isinstance(r, torch.Tensor) else float(r)

    return op


COMPARE: dict[type, Callable[[Value, Value], Value]] = {
    ast.Lt: _compare(lambda a, b: a < b),
    ast.LtE: _compare(lambda a, b: a <= b),
    ast.Gt: _compare(lambda a, b: a > b),
    ast.GtE: _compare(lambda a, b: a >= b),
}


def allowed(variables: tuple[str, ...]) -> str:
    return (
        f"allowed: numbers, {', '.join(variables)}, named parameters, pi, e, + - * / % **, "
        f"< <= > >=, {', '.join(FUNCTIONS)}"
    )


# ------------------------------------------------------------------ checking
def _describe(node: ast.AST, text: str) -> str:
    seg = ast.get_source_segment(text, node) or type(node).__name__
    return " ".join(seg.split())[:60]


def _refuse(what: str, node: ast.AST | None, text: str, variables: tuple[str, ...]) -> None:
    token = f" {_describe(node, text)!r}" if node is not None else ""
    raise ExpressionError(f"expression: {what}{token} is not allowed; {allowed(variables)}")


def _parse(text: str, variables: tuple[str, ...]) -> ast.expr:
    if not isinstance(text, str):
        raise ExpressionError(f"expression: expr must be text, got {type(text).__name__}")
    if len(text) > MAX_CHARS:
        raise ExpressionError(f"expression: {len(text)} characters; at most {MAX_CHARS}")
    if not text.strip():
        raise ExpressionError(f"expression: empty; {allowed(variables)}")
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as err:
        near = (err.text or "").strip()[max(0, (err.offset or 1) - 1) :][:20]
        raise ExpressionError(f"expression: syntax error near {near!r} ({err.msg})") from None
    except (ValueError, RecursionError, MemoryError) as err:  # NUL bytes, deep nesting
        raise ExpressionError(f"expression: cannot parse ({type(err).__name__})") from None
    return tree.body


def check(text: str, variables: tuple[str, ...], params: dict[str, float]) -> ast.expr:
    """Parse and check ``text`` (line breaks count as spaces); return its tree. Raises
    ``ExpressionError`` (one line)."""
    text = " ".join(text.split()) if isinstance(text, str) else text
    tree = _parse(text, variables)
    names = set(variables) | set(params) | set(CONSTANTS)
    count = 0

    def visit(node: ast.AST, depth: int) -> None:
        nonlocal count
        count += 1
        if count > MAX_NODES:
            raise ExpressionError(f"expression: more than {MAX_NODES} terms; simplify it")
        if depth > MAX_DEPTH:
            raise ExpressionError(f"expression: nested deeper than {MAX_DEPTH}; simplify it")
        _check_node(node, text, variables, names, params)
        children = node.args if isinstance(node, ast.Call) else ast.iter_child_nodes(node)
        for child in children:
            if not isinstance(child, (ast.operator, ast.unaryop, ast.cmpop, ast.expr_context)):
                visit(child, depth + 1)

    visit(tree, 0)
    return tree


def _check_node(node, text, variables, names, params) -> None:
    if isinstance(node, ast.Constant):
        v = node.value
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            _refuse("the literal", node, text, variables)
        if not (math.isfinite(v) if isinstance(v, float) else abs(v) < 2**1023):  # 351 digits
            _refuse("the non-finite or out-of-range number", node, text, variables)
    elif isinstance(node, ast.Name):
        if node.id not in names:
            _refuse("the unknown name", node, text, variables)
    elif isinstance(node, ast.BinOp):
        if type(node.op) not in BINARY:
            _refuse("the operator", node, text, variables)
        if isinstance(node.op, ast.Pow):
            _check_exponent(node, text, variables, params)
    elif isinstance(node, ast.UnaryOp):
        if not isinstance(node.op, (ast.USub, ast.UAdd)):
            _refuse("the operator", node, text, variables)
    elif isinstance(node, ast.Compare):
        if len(node.ops) != 1 or type(node.ops[0]) not in COMPARE:
            _refuse("the comparison", node, text, variables)
    elif isinstance(node, ast.Call):
        if not isinstance(node.func, ast.Name) or node.func.id not in FUNCTIONS:
            _refuse("the call", node.func, text, variables)
        if node.keywords or any(isinstance(a, ast.Starred) for a in node.args):
            _refuse("keyword or starred arguments in", node, text, variables)
        n = FUNCTIONS[node.func.id][0]
        if len(node.args) != n:
            raise ExpressionError(
                f"expression: {node.func.id}() takes {n} argument{'s' * (n > 1)}, "
                f"got {len(node.args)} in {_describe(node, text)!r}"
            )
        numbers = [formula_functions.number_value(a, params) for a in node.args]
        why = formula_functions.check_numbers(node.func.id, numbers)
        if why:
            raise ExpressionError(f"expression: {why} in {_describe(node, text)!r}")
    else:
        what = {ast.Attribute: "attribute access", ast.Subscript: "subscript",
                ast.Lambda: "lambda", ast.ListComp: "comprehension",
                ast.GeneratorExp: "comprehension", ast.SetComp: "comprehension",
                ast.DictComp: "comprehension", ast.BoolOp: "and/or",
                ast.IfExp: "if/else (use where(c, a, b))",
                ast.NamedExpr: "assignment"}.get(type(node), type(node).__name__)  # fmt: skip
        _refuse(what, node, text, variables)


def _check_exponent(node: ast.BinOp, text, variables, params) -> None:
    e = node.right
    if isinstance(e, ast.UnaryOp) and isinstance(e.op, (ast.USub, ast.UAdd)):
        e = e.operand
    if isinstance(e, ast.Constant) and isinstance(e.value, (int, float)):
        value = float(e.value) if abs(e.value) < 2**1023 else math.inf
    elif isinstance(e, ast.Name) and e.id in params:
        value = float(params[e.id])
    else:
        _refuse("an exponent that is not a number or parameter:", node.right, text, variables)
        return
    if abs(value) > MAX_EXPONENT:
        raise ExpressionError(
            f"expression: exponent {_describe(node.right, text)!r} = {value:g} is too large; "
            f"|exponent| <= {MAX_EXPONENT:g}"
        )


# ------------------------------------------------------------------ evaluation
@dataclass(frozen=True)
class Formula:
    """A checked expression: call it with tensors (and numbers) for its names."""

    text: str
    tree: ast.expr
    variables: tuple[str, ...]

    def __call__(self, env: dict[str, Value]) -> Value:
        return _eval(self.tree, {**CONSTANTS, **env})

    def bounds(self, boxes: dict[str, Interval], params: dict[str, float]) -> Interval:
        """Range of the formula for variables in ``boxes`` (interval arithmetic)."""
        env: dict[str, Interval] = {k: (v, v) for k, v in {**CONSTANTS, **params}.items()}
        return _interval(self.tree, {**env, **boxes})


@lru_cache(maxsize=256)
def _compiled(text: str, variables: tuple[str, ...], names: tuple[tuple[str, float], ...]):
    return Formula(text, check(text, variables, dict(names)), variables)


def compile_expression(text: str, variables: tuple[str, ...], params: dict[str, float]) -> Formula:
    """Check ``text`` for ``variables`` and numeric ``params`` (cached by its text)."""
    for k, v in params.items():
        if k in variables or k in CONSTANTS or k in FUNCTIONS:
            raise ExpressionError(f"expression: parameter {k!r} shadows a variable, constant "
                                  f"or function; rename it")  # fmt: skip
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not abs(v) < 2**1023:
            raise ExpressionError(f"expression: parameter {k!r} = {v!r} must be a finite number")
    return _compiled(text, tuple(variables), tuple(sorted(params.items())))


def _eval(node: ast.AST, env: dict[str, Value]) -> Value:
    if isinstance(node, ast.Constant):
        return float(node.value)
    if isinstance(node, ast.Name):
        return env[node.id]
    if isinstance(node, ast.BinOp):
        return BINARY[type(node.op)](_eval(node.left, env), _eval(node.right, env))
    if isinstance(node, ast.UnaryOp):
        v = _eval(node.operand, env)
        return -v if isinstance(node.op, ast.USub) else v
    if isinstance(node, ast.Compare):
        return COMPARE[type(node.ops[0])](_eval(node.left, env), _eval(node.comparators[0], env))
    assert isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
    return FUNCTIONS[node.func.id][1](*(_eval(a, env) for a in node.args))


# ------------------------------------------------------------------ interval arithmetic
INF = math.inf


def _mul(a: Interval, b: Interval) -> Interval:
    ps = [
        x * y
        for x in a
        for y in b
        if not ((math.isinf(x) and y == 0) or (math.isinf(y) and x == 0))
    ]
    return (min(ps, default=0.0), max(ps, default=0.0))


def _periodic(a: Interval, fn: Callable[[float], float], peaks: float) -> Interval:
    """sin/cos: exact on short intervals (critical points checked), [-1, 1] otherwise."""
    lo, hi = a
    if not (math.isfinite(lo) and math.isfinite(hi)) or hi - lo >= 2 * math.pi:
        return (-1.0, 1.0)
    vals = [fn(lo), fn(hi)]
    k = math.ceil((lo - peaks) / (math.pi / 2))
    while peaks + k * math.pi / 2 <= hi:
        vals.append(fn(peaks + k * math.pi / 2))
        k += 1
    return (min(vals), max(vals))


def _monotone(fn: Callable[[float], float], a: Interval) -> Interval:
    def safe(x: float) -> float:
        try:
            return fn(x)
        except OverflowError:
            return INF

    return (safe(a[0]), safe(a[1]))


def _pow(a: Interval, p: float) -> Interval:
    if p == int(p) and p >= 0:
        n = int(p)
        cands = [
            a[0] ** n if math.isfinite(a[0]) else INF,
            a[1] ** n if math.isfinite(a[1]) else INF,
        ]
        if n % 2 == 1:
            lo = -INF if a[0] == -INF else a[0] ** n
            return (lo, a[1] ** n if math.isfinite(a[1]) else INF)
        if a[0] <= 0.0 <= a[1]:
            return (0.0, max(cands))
        return (min(cands), max(cands))
    if a[0] <= 0.0 and (p < 0 or p != int(p)):
        return (-INF, INF)  # a negative or fractional power of a range reaching 0 or below
    ends = [a[0] ** p, a[1] ** p if math.isfinite(a[1]) else (INF if p > 0 else 0.0)]
    return (min(ends), max(ends))


def _div(a: Interval, b: Interval) -> Interval:
    if b[0] <= 0.0 <= b[1]:
        return (-INF, INF)
    return _mul(a, (1.0 / b[1], 1.0 / b[0]))


def _interval(node: ast.AST, env: dict[str, Interval]) -> Interval:
    if isinstance(node, ast.Constant):
        return (float(node.value), float(node.value))
    if isinstance(node, ast.Name):
        return env[node.id]
    if isinstance(node, ast.UnaryOp):
        lo, hi = _interval(node.operand, env)
        return (-hi, -lo) if isinstance(node.op, ast.USub) else (lo, hi)
    if isinstance(node, ast.Compare):
        return (0.0, 1.0)
    if isinstance(node, ast.BinOp):
        a, b = _interval(node.left, env), _interval(node.right, env)
        op = type(node.op)
        if op is ast.Add:
            return (a[0] + b[0], a[1] + b[1])
        if op is ast.Sub:
            return (a[0] - b[1], a[1] - b[0])
        if op is ast.Mult:
            return _mul(a, b)
        if op is ast.Div:
            return _div(a, b)
        if op is ast.Mod:
            return (min(0.0, b[0]), max(0.0, b[1])) if b[0] > 0 or b[1] < 0 else (-INF, INF)
        return _pow(a, b[0]) if b[0] == b[1] else (-INF, INF)
    assert isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
    args = [_interval(a, env) for a in node.args]
    return _call_interval(node.func.id, args)


def _call_interval(name: str, args: list[Interval]) -> Interval:
    a = args[0]
    if name == "sin":
        return _periodic(a, math.sin, math.pi / 2)
    if name == "cos":
        return _periodic(a, math.cos, 0.0)
    if name == "tanh":
        return _monotone(math.tanh, a)
    if name == "exp":
        return _monotone(math.exp, a)
    if name == "log":
        return (-INF, INF) if a[0] <= 0 else _monotone(math.log, a)
    if name == "sqrt":
        return (-INF, INF) if a[0] < 0 else _monotone(math.sqrt, a)
    if name == "abs":
        return (0.0 if a[0] <= 0 <= a[1] else min(abs(a[0]), abs(a[1])), max(abs(a[0]), abs(a[1])))
    if name in ("floor", "ceil"):
        return (math.floor(a[0]) if math.isfinite(a[0]) else a[0],
                math.ceil(a[1]) if math.isfinite(a[1]) else a[1])  # fmt: skip
    if name == "sign":
        return (-1.0, 1.0)
    if name in formula_functions.FUNCTIONS:
        return (-formula_functions.BOUND, formula_functions.BOUND)
    if name == "min":
        return (min(a[0], args[1][0]), min(a[1], args[1][1]))
    if name == "max":
        return (max(a[0], args[1][0]), max(a[1], args[1][1]))
    if name == "mod":
        b = args[1]
        return (min(0.0, b[0]), max(0.0, b[1])) if b[0] > 0 or b[1] < 0 else (-INF, INF)
    if name == "clip":
        lo, hi = args[1][0], args[2][1]
        return (min(max(a[0], lo), hi), max(min(a[1], hi), lo))
    return (min(args[1][0], args[2][0]), max(args[1][1], args[2][1]))  # where


# ------------------------------------------------------------------ the two families
DISPLACEMENT_VARS = ("x", "y", "z")
MAPPER_VARS = ("d", "x", "y", "z")  # x, y, z: object coordinates / (G/2), as Δ's
DOMAIN = 8.0
"""Displacement bounds hold for |x̂|, |ŷ|, |ẑ| <= DOMAIN: every voxel a culling decision
can concern, for volumes with edges up to twice their shortest and moderate shear."""
D_MAX = 1.0e4  # voxels: the far end of a mapper's halo search
MAPPER_RESERVED = ("outside",)


def _split(params: dict[str, Any], reserved: tuple[str, ...] = ()) -> tuple[str, dict]:
    if "expr" not in params:
        raise ExpressionError("expression family: params.expr is missing (the formula)")
    numeric = {k: v for k, v in params.items() if k != "expr" and k not in reserved}
    return params["expr"], numeric


def displacement_formula(params: dict[str, Any]) -> tuple[Formula, dict[str, float]]:
    expr, numeric = _split(params)
    return compile_expression(expr, DISPLACEMENT_VARS, numeric), numeric


def displacement_field(x: torch.Tensor, **params: Any) -> torch.Tensor:
    """Δ(x̂) of a typed formula at points x̂ (N, 3): columns ``x, y, z``."""
    formula, numeric = displacement_formula(params)
    env = {n: x[:, i].contiguous() for i, n in enumerate(DISPLACEMENT_VARS)}
    return _field(formula({**numeric, **env}), x)


def displacement_bounds(**params: Any) -> Interval:
    """(min Δ, max Δ) over |x̂|, |ŷ|, |ẑ| <= DOMAIN; refused when unbounded."""
    formula, numeric = displacement_formula(params)
    box = (-DOMAIN, DOMAIN)
    lo, hi = formula.bounds(dict.fromkeys(DISPLACEMENT_VARS, box), numeric)
    if not (math.isfinite(lo) and math.isfinite(hi)):
        raise ExpressionError(
            f"expression {formula.text!r}: Δ is unbounded for |x|, |y|, |z| <= {DOMAIN:g} "
            "(a division by a range reaching 0, a log or sqrt of one reaching below 0, or an "
            "overflow); bound it, e.g. with clip(..., lo, hi)"
        )
    return lo, hi


def check_displacement(params: dict[str, Any]) -> None:
    displacement_bounds(**params)


def mapper_formula(params: dict[str, Any]) -> tuple[Formula, dict[str, float], bool]:
    expr, numeric = _split(params, MAPPER_RESERVED)
    outside = float(params.get("outside", 0.0))
    if outside not in (0.0, 1.0):
        raise ExpressionError(f"expression mapper: outside = {outside:g}; allowed: 0 "
                              "(zero outside the surface, like the paper's) or 1")  # fmt: skip
    return compile_expression(expr, MAPPER_VARS, numeric), numeric, outside == 1.0


def mapper_uses_position(params: dict[str, Any]) -> bool:
    """Whether a mapper formula reads x, y or z (else the engine passes d alone)."""
    tree = mapper_formula(params)[0].tree
    return any(isinstance(n, ast.Name) and n.id in "xyz" for n in ast.walk(tree))


def _position_box() -> dict[str, Interval]:
    return dict.fromkeys(DISPLACEMENT_VARS, (-DOMAIN, DOMAIN))


def mapper_field(d: torch.Tensor, x: torch.Tensor | None = None, **params: Any) -> torch.Tensor:
    """g(d) of a typed formula: inside the surface only (``outside: 0``, the default), or
    everywhere with values below the halo cutoff dropped outside (``outside: 1``)."""
    from .mappers import HALO_CUTOFF

    formula, numeric, outside = mapper_formula(params)
    pos = {n: 0.0 if x is None else x[:, i].contiguous() for i, n in enumerate("xyz")}
    v = _field(formula({**numeric, **pos, "d": d}), d)
    if not outside:
        return torch.where(d <= 0.0, v, torch.zeros_like(v))
    keep = (d <= 0.0) | (v.abs() >= HALO_CUTOFF)
    return torch.where(keep, v, torch.zeros_like(v))


def mapper_halo(**params: Any) -> float:
    """Voxels outside the surface where |g| can reach the cutoff (interval bisection)."""
    from .mappers import HALO_CUTOFF

    formula, numeric, outside = mapper_formula(params)
    if not outside:
        return 0.0

    def quiet(h: float) -> bool:  # |g| < cutoff on all of [h, D_MAX]
        lo, hi = formula.bounds({"d": (h, D_MAX), **_position_box()}, numeric)
        return max(abs(lo), abs(hi)) < HALO_CUTOFF

    if not quiet(D_MAX / 2):
        raise ExpressionError(f"expression {formula.text!r}: with outside: 1, |g(d)| must fall "
                              f"below {HALO_CUTOFF} for large d (it does not by {D_MAX / 2:g} "
                              "voxels)")  # fmt: skip
    lo, hi = 0.0, D_MAX / 2
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        lo, hi = (lo, mid) if quiet(mid) else (mid, hi)
    return hi


def check_mapper(params: dict[str, Any]) -> None:
    formula, numeric, _ = mapper_formula(params)
    mapper_halo(**params)
    lo, hi = formula.bounds({"d": (-D_MAX, 0.0), **_position_box()}, numeric)  # finite?
    del lo, hi


def _field(v: Any, like: torch.Tensor) -> torch.Tensor:
    """A formula's value as a float32 field of ``like``'s length and device."""
    n = like.shape[0]
    t = v if isinstance(v, torch.Tensor) else torch.tensor(float(v))
    return torch.broadcast_to(t.to(like.device, torch.float32), (n,))
