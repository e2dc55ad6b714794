"""Run every ``benchmarks/bench_*.py`` module's ``main()`` (or the ones named on the command line)."""

from __future__ import annotations

import asyncio
import importlib
import inspect
import sys
from pathlib import Path


def main(argv: list[str]) -> int:
    folder = Path(__file__).parent
    names = argv or sorted(p.stem for p in folder.glob("bench_*.py"))
    for name in names:
        module = importlib.import_module(f"benchmarks.{name.removesuffix('.py')}")
        print(
            f"\n=== {module.__name__}: {(module.__doc__ or '').strip().splitlines()[0]}", flush=True
        )
        entry = module.main
        if inspect.iscoroutinefunction(entry):
            asyncio.run(entry())
        else:
            entry()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
