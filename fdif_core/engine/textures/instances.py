"""Named texture instances: a family from a registry plus parameters (shared by Δ and g)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

import torch

from ..registry import Registry


@dataclass(frozen=True)
class Instance:
    """A named instance of a family: ``spec.fn(x, **resolved())``."""

    name: str
    family: str
    params: dict[str, float] = field(default_factory=dict)

    families: ClassVar[Registry[Any]]
    kind: ClassVar[str]

    @property
    def spec(self) -> Any:
        return self.families.get(self.family)

    def resolved(self) -> dict[str, float]:
        """The family's defaults overridden by this instance's parameters."""
        return {**self.spec.defaults, **self.params}

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return self.spec.fn(x, **self.resolved())

    @classmethod
    def check_params(cls, family: str, params: dict[str, float]) -> None:
        """Raise ValueError naming a parameter the family does not take (or the family)."""
        fam = cls.families.get(family)
        if getattr(fam, "check", None) is not None:  # a family of typed formulas
            fam.check(params)
            return
        bad = sorted(set(params) - set(fam.defaults))
        if bad:
            raise ValueError(
                f"{cls.kind} family {family!r} has no parameter {bad[0]!r}; "
                f"allowed: {', '.join(fam.defaults)}"
            )
