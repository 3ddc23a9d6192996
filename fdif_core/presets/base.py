"""The strict base of every preset section: unknown fields are errors; values are frozen.

Numbers must be finite (``.inf`` / ``.nan`` refused) and must be numbers: pydantic's lax
mode would take ``true`` as 1 and ``"5"`` as 5, which in a preset is always a mistake.
"""

from __future__ import annotations

import types
import typing
from typing import Any, Literal, Union

from pydantic import BaseModel, ConfigDict, ValidationInfo, field_validator


def _show(value: Any) -> str:
    if isinstance(value, bool):
        return f"{str(value).lower()} (a boolean)"
    if isinstance(value, str):
        return f"{value!r} (text)"
    text = repr(value) if isinstance(value, (int, float)) else str(value)
    return f"{text[:40]} ({type(value).__name__})"


def type_problem(annotation: Any, value: Any) -> str | None:
    """Why ``value`` does not fit a number or boolean ``annotation`` (None: no such problem).

    Numbers and booleans are checked strictly (``true`` is no number, ``1`` no boolean,
    text neither); everything else is left to pydantic's own validation.
    """
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Annotated:
        return type_problem(args[0], value)
    if origin in (Union, types.UnionType):
        problems = [type_problem(a, value) for a in args]
        return None if any(p is None for p in problems) else problems[0]
    if annotation in (int, float):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return f"must be a number, got {_show(value)}"
        return None
    if annotation is bool:
        return None if isinstance(value, bool) else f"must be true or false, got {_show(value)}"
    if annotation is type(None):
        return None if value is None else f"must be null, got {_show(value)}"
    if origin is Literal:
        if isinstance(value, bool) and not any(isinstance(a, bool) for a in args):
            allowed = ", ".join(repr(a) for a in args)
            return f"got {_show(value)}; allowed: {allowed}"
        return None
    if origin in (tuple, list, set, frozenset) and isinstance(value, (list, tuple)):
        items = args[:1] * len(value) if origin is not tuple or args[-1:] == (...,) else args
        for i, (a, v) in enumerate(zip(items, value, strict=False)):
            p = type_problem(a, v)
            if p:
                return f"item {i} {p}"
        return None
    if origin is dict and isinstance(value, dict) and len(args) == 2:
        for k, v in value.items():
            p = type_problem(args[1], v)
            if p:
                return f"{k}: {p}"
    return None


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    @field_validator("*", mode="before")
    @classmethod
    def _numbers_are_numbers(cls, value: Any, info: ValidationInfo) -> Any:
        field = cls.model_fields.get(info.field_name or "")
        if field is not None:
            problem = type_problem(field.annotation, value)
            if problem:
                raise ValueError(problem)
        return value
