"""What is wrong with a spec: problems, each at a JSON path, reported all together in one SpecError."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from toolkit.errors import UserError


@dataclass(frozen=True)
class Problem:
    at: str  # JSON path ("$.files[0].name"), "" when the problem is the whole file
    message: str

    def __str__(self) -> str:
        return f"{self.at}: {self.message}" if self.at else self.message


class SpecError(UserError):
    """A package spec that cannot be used. It carries every problem found (`problems`) and its
    message lists them all, each with its JSON path, so a spec author fixes them in one go."""

    def __init__(self, problems: Sequence[Problem | str], path: Path | None = None, heading: str = ""):
        self.problems = [p if isinstance(p, Problem) else Problem("", p) for p in problems]
        self.path = path
        prefix = f"{path}: " if path is not None else ""
        if len(self.problems) == 1 and not heading:
            message = prefix + str(self.problems[0])
        else:
            heading = heading or f"{len(self.problems)} problems"
            message = prefix + heading + ":\n  " + "\n  ".join(map(str, self.problems))
        super().__init__(message)


def json_path(parts: Sequence[str | int]) -> str:
    out = "$"
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        elif re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", part):
            out += f".{part}"
        else:
            out += f"[{json.dumps(part)}]"
    return out
