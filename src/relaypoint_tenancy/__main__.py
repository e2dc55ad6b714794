"""``python -m relaypoint_tenancy migrate --database-url URL [--concurrency N] [--tenant SLUG]``.

Without ``--database-url`` the command migrates the database the packages use: ``DATABASE_URL``,
else `relaypoint_core.config.DEFAULT_DATABASE_URL` (embedded SQLite), read the same way.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys

from relaypoint_core.config import DEFAULT_DATABASE_URL, configured_database_url
from relaypoint_core.errors import ConfigurationError
from relaypoint_core.optional import require_module

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m relaypoint_tenancy")
    commands = parser.add_subparsers(dest="command", required=True)
    migrate = commands.add_parser(
        "migrate", help="bring the control plane and every tenant to the head revision"
    )
    migrate.add_argument(
        "--database-url",
        default=None,
        help="control database (async driver URL, e.g. postgresql+asyncpg://...); "
        f"default: $DATABASE_URL, else {DEFAULT_DATABASE_URL}",
    )
    migrate.add_argument("--concurrency", type=int, default=4, help="tenants migrated at once")
    migrate.add_argument(
        "--tenant", action="append", dest="tenants", help="only this tenant slug (repeatable)"
    )
    migrate.add_argument("--verbose", action="store_true", help="list every tenant's status")
    return parser


def _progress(done: int, total: int, report: object) -> None:
    from relaypoint_tenancy.migrate import MigrationReport

    assert isinstance(report, MigrationReport)
    sys.stderr.write(
        f"\rmigrate: {done}/{total} tenants ({report.count('migrated')} migrated, "
        f"{report.count('current')} current, {report.count('failed')} failed)"
    )
    sys.stderr.flush()


async def _migrate(args: argparse.Namespace) -> int:
    require_module("sqlalchemy", extra="postgres", feature="tenant migrations")
    from sqlalchemy.ext.asyncio import create_async_engine

    from relaypoint_tenancy.migrate import migrate_all
    from relaypoint_tenancy.service import async_database_url

    url = async_database_url(str(args.database_url))
    options = {"pool_size": args.concurrency, "max_overflow": 2} if "postgresql" in url else {}
    engine = create_async_engine(url, **options)
    try:
        report = await migrate_all(
            engine, concurrency=args.concurrency, only=args.tenants, progress=_progress
        )
    finally:
        await engine.dispose()
    sys.stderr.write("\n")
    print(f"control plane: {'migrated' if report.control_migrated else 'current'}")
    for result in report.results:
        if args.verbose or result.status == "failed":
            line = f"  {result.slug:<48} {result.isolation:<8} {result.status}"
            print(line + (f"  {result.error}" if result.error else ""))
    print(report.summary())
    if report.failed:
        names = ", ".join(r.slug for r in report.failed)
        print(f"FAILED tenants (re-run to retry only these): {names}", file=sys.stderr)
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    # Alembic narrates every offline rendering at INFO; the progress line says what matters.
    logging.getLogger("alembic").setLevel(logging.WARNING)
    if not args.database_url:
        try:
            args.database_url = configured_database_url()
        except ConfigurationError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
    if args.concurrency < 1:
        print("error: --concurrency must be at least 1", file=sys.stderr)
        return 2
    return asyncio.run(_migrate(args))


if __name__ == "__main__":
    sys.exit(main())
