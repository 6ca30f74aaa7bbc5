"""Referflow: wiring only — page routes, static assets, start-up and the `referflow` command line."""

import argparse
import json
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent
DEFAULT_DB = ROOT / "data" / "referflow.db"


@dataclass(frozen=True)
class Config:
    database_url: str
    host: str = "127.0.0.1"
    port: int = 8080
    admin_password: str | None = None
    storage_secret: str | None = None


def load_config(args: argparse.Namespace | None = None) -> Config:
    """Command-line options win over the environment, which wins over the defaults."""
    from storage.db import database_url

    env = os.environ
    db_path = getattr(args, "db", None) or env.get("REFERFLOW_DB")
    url = None if getattr(args, "db", None) else env.get("REFERFLOW_DATABASE_URL")
    return Config(
        database_url=database_url(path=db_path or DEFAULT_DB, url=url),
        host=getattr(args, "host", None) or env.get("REFERFLOW_HOST", "127.0.0.1"),
        port=int(getattr(args, "port", None) or env.get("REFERFLOW_PORT", 8080)),
        admin_password=env.get("REFERFLOW_ADMIN_PASSWORD") or None,
        storage_secret=env.get("REFERFLOW_STORAGE_SECRET") or None,
    )


def serve(config: Config) -> None:
    from nicegui import app, ui

    from builder import auth, overview, settings
    from storage.auth import ensure_admin_account
    from storage.db import open_database

    database = open_database(url=config.database_url)
    with database.write_session() as session:
        secret = ensure_admin_account(
            session=session, password=config.admin_password, storage_secret=config.storage_secret
        )
    app.state.referflow_database = database
    app.on_shutdown(database.dispose)
    app.add_middleware(auth.AuthMiddleware)
    app.add_static_files("/assets", ROOT / "assets")
    ui.page("/login")(auth.create)
    ui.page("/")(overview.create)
    ui.page("/settings")(settings.create)
    ui.run(
        host=config.host,
        port=config.port,
        title="Referflow",
        favicon="🔗",
        storage_secret=secret,
        reload=False,
        show=False,
        show_welcome_message=False,
    )


# ---------------------------------------------------------------------------------------------- command line


def main(argv: list[str] | None = None) -> int:
    parser = _build_parser()
    args = parser.parse_args(argv)
    try:
        config = load_config(args)
        if args.command in (None, "serve"):
            serve(config)
            return 0
        return args.handler(config, args)
    except CommandError as error:
        print(f"referflow: {error}", file=sys.stderr)
        return 2
    except Exception as error:  # the CLI never shows a traceback; the message says what went wrong
        from storage.db import DatabaseError

        if isinstance(error, DatabaseError | OSError | ValueError):
            print(f"referflow: {error}", file=sys.stderr)
            return 2
        raise


class CommandError(Exception):
    """Misuse of the command line, explained in one line."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line and exit code 2, like every other misuse
        self.exit(2, f"referflow: {message} (see 'referflow --help')\n")


def _build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="referflow", description="Referflow: entry-point links and referral programs for chatbots.")
    parser.add_argument("--db", help="SQLite database file (default: data/referflow.db, or $REFERFLOW_DB)")
    commands = parser.add_subparsers(dest="command", parser_class=_Parser)
    serve_parser = commands.add_parser("serve", help="start the admin UI")
    serve_parser.add_argument("--host", help="interface to listen on (default 127.0.0.1)")
    serve_parser.add_argument("--port", type=int, help="port (default 8080, or $REFERFLOW_PORT)")
    serve_parser.add_argument("--db", help="SQLite database file")
    return parser


def _emit(data: object) -> None:
    print(json.dumps(data, indent=2, ensure_ascii=False, default=str))


Handler = Callable[[Config, argparse.Namespace], int]


if __name__ in {"__main__", "__mp_main__"}:
    if os.environ.get("NICEGUI_USER_SIMULATION"):  # NiceGUI's User fixture runs this file; configure from env
        serve(load_config())
    else:
        sys.exit(main())
