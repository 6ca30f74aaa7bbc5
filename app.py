"""Referflow: wiring only — page routes, static assets, start-up and the `referflow` command line.

It is long because the command line is: each subcommand is a few lines of argument parsing that calls a function
of its room, and keeping them together shows every command and its options in one place."""

import argparse
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path

from runtime.vocabulary import CHANNELS, DurationError, parse_duration

ROOT = Path(__file__).resolve().parent
DEFAULT_DB = ROOT / "data" / "referflow.db"


@dataclass(frozen=True)
class Config:
    database_url: str
    host: str = "127.0.0.1"
    port: int = 8080
    admin_password: str | None = None
    storage_secret: str | None = None
    seed_demo: bool = True
    trusted_proxies: str = ""  # REFERFLOW_TRUSTED_PROXIES: whose X-Forwarded-For / Forwarded headers are believed
    forwarded_header: str = "x-forwarded-for"  # REFERFLOW_FORWARDED_HEADER: the one the proxies write, or forwarded
    secure_cookies: str = "auto"  # REFERFLOW_SECURE_COOKIES: 1, 0, or auto (Secure when the request is HTTPS)
    public_url: str = ""  # REFERFLOW_PUBLIC_URL; "" = http://HOST:PORT

    @property
    def served_url(self) -> str:
        """The address people reach this Referflow at, unless the Settings page says another."""
        host = {"0.0.0.0": "127.0.0.1", "::": "::1"}.get(self.host, self.host)  # every interface: this machine's
        return self.public_url or f"http://{f'[{host}]' if ':' in host else host}:{self.port}"


def load_config(args: argparse.Namespace | None = None) -> Config:
    """Command-line options win over the environment, which wins over the defaults."""
    from storage.db import database_url

    env = os.environ
    given = getattr(args, "db", None)  # a file path, or a database URL
    db_path = None if given and "://" in given else given or env.get("REFERFLOW_DB")
    url = given if given and "://" in given else None if given else env.get("REFERFLOW_DATABASE_URL")
    return Config(
        database_url=database_url(path=db_path or DEFAULT_DB, url=url),
        host=getattr(args, "host", None) or env.get("REFERFLOW_HOST", "127.0.0.1"),
        port=int(getattr(args, "port", None) or env.get("REFERFLOW_PORT", 8080)),
        admin_password=env.get("REFERFLOW_ADMIN_PASSWORD") or None,
        storage_secret=env.get("REFERFLOW_STORAGE_SECRET") or None,
        seed_demo=env.get("REFERFLOW_SEED_DEMO", "1").strip().lower() not in ("0", "false", "no", "off"),
        trusted_proxies=env.get("REFERFLOW_TRUSTED_PROXIES", ""),
        forwarded_header=env.get("REFERFLOW_FORWARDED_HEADER", "x-forwarded-for"),
        secure_cookies=env.get("REFERFLOW_SECURE_COOKIES", "auto"),
        public_url=_public_url(env.get("REFERFLOW_PUBLIC_URL", "")),
    )


def _public_url(value: str) -> str:
    from storage.settings import check_public_url

    try:
        return check_public_url(value.strip())
    except ValueError as error:
        raise ValueError(f"REFERFLOW_PUBLIC_URL='{value}': {error}") from None


def serve(config: Config) -> None:
    from nicegui import app, ui

    from builder import (
        analytics,
        auth,
        channels,
        contacts,
        coupons,
        entry_points,
        fields,
        flow_editor,
        flows,
        overview,
        settings,
        simulator,
        triggers,
    )
    from builder.web_security import (
        WebSettings,
        client_address,
        install_security_headers,
        parse_forwarded_header,
        parse_secure_cookies,
        parse_trusted_proxies,
    )
    from channels.hooks import setup_hooks
    from channels.live import LiveServices
    from channels.webchat import setup_webchat
    from storage.auth import ensure_admin_account
    from storage.db import open_database
    from storage.migrate import hold_setup_lock
    from storage.scenarios import seed_demo_scenario
    from storage.settings import record_start, seed_demo_settings
    from storage.workspace_templates import seed_demo_workspace, seed_tiers_example

    web = WebSettings(trusted_proxies=parse_trusted_proxies(config.trusted_proxies),
                      forwarded_header=parse_forwarded_header(config.forwarded_header),
                      secure_cookies=parse_secure_cookies(config.secure_cookies))
    database = open_database(url=config.database_url)
    with database.write_session() as session:
        hold_setup_lock(session)  # several instances starting together on PostgreSQL seed the workspace once
        secret = ensure_admin_account(
            session=session, password=config.admin_password, storage_secret=config.storage_secret
        )
        if config.seed_demo and seed_demo_workspace(session=session):
            seed_demo_settings(session=session)
            seed_demo_scenario(session=session)
            seed_tiers_example(session=session)
        record_start(session=session, served_url=config.served_url)
    app.state.referflow_database = database
    live = LiveServices.create(database)  # the web chat registers its sender on live.delivery
    app.state.referflow_live = live
    app.state.referflow_runtime = live.runtime
    app.state.referflow_delivery = live.delivery
    app.on_startup(live.start)
    app.on_shutdown(live.stop)  # before the database goes: the worker records what it delivered
    setup_hooks(app, database=database, runtime=live.runtime, worker=live.delivery,  # public webhooks, /hooks/*
                address_of=lambda scope: client_address(scope, web))
    setup_webchat(app, database=database, runtime=live.runtime, worker=live.delivery,
                  address_of=lambda scope: client_address(scope, web))  # public, under /webchat/
    app.on_shutdown(database.dispose)
    app.state.referflow_web = web
    app.add_middleware(auth.AuthMiddleware)
    install_security_headers(app, web)
    app.add_static_files("/assets", ROOT / "assets")
    ui.page("/login")(auth.create)
    app.get("/login/complete", include_in_schema=False)(auth.complete_login)
    ui.page("/")(overview.create)
    ui.page("/settings")(settings.create)
    ui.page("/fields")(fields.create)
    ui.page("/flows")(flows.create)
    ui.page("/flows/{flow_id}")(flow_editor.create)
    ui.page("/entry-points")(entry_points.create)
    ui.page("/entry-points/{entry_point_id}")(entry_points.create_editor)
    ui.page("/triggers")(triggers.create)
    ui.page("/triggers/{trigger_id}")(triggers.create_editor)
    ui.page("/channels")(channels.create)
    ui.page("/contacts")(contacts.create)
    ui.page("/contacts/{contact_id}")(contacts.create_detail)
    ui.page("/analytics")(analytics.create)
    ui.page("/coupons")(coupons.create)
    ui.page("/simulator")(simulator.create)
    ui.run(
        host=config.host,
        port=config.port,
        title="Referflow",
        favicon="🔗",
        storage_secret=secret,
        reload=False,
        show=False,
        show_welcome_message=False,
        proxy_headers=False,  # uvicorn would believe X-Forwarded-For from any local peer; web_security decides
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
        print(f"referflow: unexpected {type(error).__name__}: {error}", file=sys.stderr)
        return 1


class CommandError(Exception):
    """Misuse of the command line, explained in one line."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line and exit code 2, like every other misuse
        self.exit(2, f"referflow: {message} (see 'referflow --help')\n")


def _build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="referflow", description="Referflow: entry-point links and referral programs for chatbots.")
    parser.add_argument("--db", help="SQLite database file or a database URL (default: $REFERFLOW_DATABASE_URL, else"
                                     " $REFERFLOW_DB, else data/referflow.db)")
    parser.set_defaults(handler=None)
    commands = parser.add_subparsers(dest="command", parser_class=_Parser)
    serve_parser = commands.add_parser("serve", help="start the admin UI")
    serve_parser.add_argument("--host", help="interface to listen on (default 127.0.0.1)")
    serve_parser.add_argument("--port", type=int, help="port (default 8080, or $REFERFLOW_PORT)")
    serve_parser.add_argument("--db", default=argparse.SUPPRESS, help="SQLite database file")

    parse = commands.add_parser("parse-link", help="show how a link or ref is parsed (JSON)")
    parse.add_argument("url", help="a link, a bare ref, '/start REF' or WhatsApp text")
    parse.add_argument("--entry", action="append", default=[], metavar="REF",
                       help="a registered entry ref to resolve against (repeatable; default: the database's)")
    parse.set_defaults(handler=run_parse_link)

    import_parser = commands.add_parser("import", help="import a workspace JSON document")
    import_parser.add_argument("file", help="the workspace JSON file ('-' for standard input)")
    import_parser.set_defaults(handler=run_import)

    export = commands.add_parser("export", help="export the workspace as JSON")
    export.add_argument("-o", "--output", help="write to this file instead of standard output")
    export.set_defaults(handler=run_export)

    open_link = commands.add_parser("open-link", help="process one link open, as if a person clicked it (JSON)")
    open_link.add_argument("url", help="the link, ref or message text the person sent")
    open_link.add_argument("--channel-user", required=True, metavar="ID", help="the person's id on the channel")
    open_link.add_argument("--channel", choices=CHANNELS, help="the person's channel (default: the link's)")
    open_link.add_argument("--first-name", default="", metavar="N")
    open_link.add_argument("--last-name", default="", metavar="N")
    open_link.add_argument("--phone", default="", metavar="P")
    open_link.add_argument("--event-id", metavar="E", help="the inbound event id; a repeated id changes nothing")
    open_link.set_defaults(handler=run_open_link)

    validate = commands.add_parser("validate", help="check flows, triggers and links (JSON; exit 1 on errors)")
    validate.add_argument("--published", action="store_true", help="check the published copies the live bot runs")
    validate.set_defaults(handler=run_validate)

    reply = commands.add_parser("reply", help="a message from a contact: answers a question or presses a button")
    reply.add_argument("text", help="what the contact sends (a button's title answers buttons)")
    reply.add_argument("--channel-user", required=True, metavar="ID", help="the contact's id on the channel")
    reply.add_argument("--channel", choices=CHANNELS, help="the contact's channel (needed when the id is on"
                                                                   " several channels)")
    reply.set_defaults(handler=run_reply)

    tick = commands.add_parser("tick", help="run the delays that are due, after moving the clock forward")
    tick.add_argument("--advance", default="0s", metavar="DURATION", help="e.g. 30s, 15m, 2h, 1d, 1h30m (default 0s)")
    tick.set_defaults(handler=run_tick)

    prune = commands.add_parser("prune", help="forget the webhook event ids and finished delays that have outlived"
                                              " their use (the serving app does this every 6 hours; JSON)")
    prune.set_defaults(handler=run_prune)

    _add_channel_commands(commands)

    move = commands.add_parser("migrate-data", help="copy the whole workspace into another, empty database"
                                                    " (e.g. SQLite to PostgreSQL) and verify it by counts")
    move.add_argument("--from", dest="source", required=True, metavar="URL",
                      help="the workspace now: sqlite:///path/to/referflow.db (or a file path)")
    move.add_argument("--to", dest="target", required=True, metavar="URL",
                      help="the empty database: postgresql+psycopg://user:password@host:5432/database")
    move.set_defaults(handler=run_migrate_data)

    scenario = commands.add_parser("scenario", help="simulator scenarios (docs/scenario-format.md)")
    scenario_commands = scenario.add_subparsers(dest="scenario_command", parser_class=_Parser, required=True)
    scenario_run = scenario_commands.add_parser("run", help="run scenarios in the sandbox; exit 1 if one fails")
    scenario_run.add_argument("files", nargs="+", metavar="FILE")
    scenario_run.add_argument("--json", action="store_true", help="print the report as JSON instead of text")
    scenario_run.set_defaults(handler=run_scenarios)
    return parser


def _add_channel_commands(commands: argparse._SubParsersAction) -> None:
    from channels.hooks.registry import hook_channels

    specs = hook_channels()
    channels = commands.add_parser("channels", help="connect the messaging platforms' bots (Telegram, Viber...)")
    channel_commands = channels.add_subparsers(dest="channels_command", parser_class=_Parser, required=True)
    connect = channel_commands.add_parser(
        "connect", help="connect a bot: checks it with the platform and sets its webhook to the public address",
        description="A secret left out is asked for (or read from standard input), so it stays out of the shell's "
                    "history.")
    connect.add_argument("channel", choices=[spec.name for spec in specs])
    seen: set[str] = set()
    for spec in specs:
        for field in spec.connect_fields:
            if field.name not in seen:
                seen.add(field.name)
                about = f"{spec.label}: {field.help}" if field.help else spec.label
                connect.add_argument(f"--{field.name.replace('_', '-')}", dest=f"field_{field.name}",
                                     metavar="VALUE", help=f"{field.label} ({about})")
    connect.set_defaults(handler=run_channels_connect)
    status = channel_commands.add_parser("status", help="every channel: connected or not, last event, last error")
    status.add_argument("--offline", action="store_true", help="do not ask the platforms (getWebhookInfo...)")
    status.set_defaults(handler=run_channels_status)
    disconnect = channel_commands.add_parser("disconnect", help="remove a bot's webhook and forget its secrets")
    disconnect.add_argument("channel", choices=[spec.name for spec in specs])
    disconnect.set_defaults(handler=run_channels_disconnect)


def run_channels_connect(config: Config, args: argparse.Namespace) -> int:
    import asyncio
    import getpass

    from channels.hooks import ConnectError
    from channels.hooks.manage import standalone_hooks
    from storage.db import open_database

    database = open_database(url=config.database_url)
    try:
        hooks = standalone_hooks(database)
        spec = hooks.channels[args.channel]
        values = {}
        for field in spec.connect_fields:
            value = getattr(args, f"field_{field.name}", None)
            if value is None and field.secret:
                value = getpass.getpass(f"{field.label}: ") if sys.stdin.isatty() else sys.stdin.readline()
            if not (value or "").strip():
                raise CommandError(f"connecting {spec.label} needs --{field.name.replace('_', '-')} ({field.label})")
            values[field.name] = value.strip()

        async def connect():
            try:
                return await hooks.connect(args.channel, values)
            finally:
                await hooks.api.close()

        try:
            result = asyncio.run(connect())
        except ConnectError as error:
            raise CommandError(str(error)) from None
    finally:
        database.dispose()
    _emit({"connected": args.channel, "bot_id": result.connection.bot_id, "settings": result.connection.settings,
           "secrets": result.connection.masked(), "notes": list(result.notes)})
    return 0


def run_channels_status(config: Config, args: argparse.Namespace) -> int:
    import asyncio

    from channels.hooks.manage import report, standalone_hooks
    from storage.db import open_database

    database = open_database(url=config.database_url)
    try:
        hooks = standalone_hooks(database)

        async def everything():
            try:
                return [await report(hooks, name, ask_platform=not args.offline) for name in hooks.channels]
            finally:
                await hooks.api.close()

        reports = asyncio.run(everything())
    finally:
        database.dispose()
    _emit([item.to_dict() for item in reports])
    return 0


def run_channels_disconnect(config: Config, args: argparse.Namespace) -> int:
    import asyncio

    from channels.hooks.manage import standalone_hooks
    from storage.db import open_database

    database = open_database(url=config.database_url)
    try:
        hooks = standalone_hooks(database)

        async def disconnect():
            try:
                return await hooks.disconnect(args.channel)
            finally:
                await hooks.api.close()

        removed = asyncio.run(disconnect())
    finally:
        database.dispose()
    if not removed:
        raise CommandError(f"{args.channel} was not connected")
    _emit({"disconnected": args.channel})
    return 0


def run_parse_link(config: Config, args: argparse.Namespace) -> int:
    from runtime.link_reading import parse_link

    refs = args.entry or _database_refs(config)
    _emit(parse_link(args.url, refs).to_dict())
    return 0


def _database_refs(config: Config) -> list[str]:
    from sqlalchemy import text as sa_text

    from storage.db import open_database

    if config.database_url.startswith("sqlite:///") and not Path(config.database_url[10:]).exists():
        return []  # parsing alone never creates a database
    database = open_database(url=config.database_url)
    try:
        with database.engine.connect() as connection:
            return list(connection.execute(sa_text("SELECT ref FROM entry_point")).scalars())
    finally:
        database.dispose()


def run_import(config: Config, args: argparse.Namespace) -> int:
    from storage.db import open_database
    from storage.workspace_io import WorkspaceImportError, import_document

    document = _read_json(args.file)
    database = open_database(url=config.database_url)
    try:
        report = import_document(database=database, document=document)
    except WorkspaceImportError as error:
        raise CommandError(f"{args.file} was not imported: {error}") from None
    finally:
        database.dispose()
    _emit(report.to_dict())
    return 0


def run_export(config: Config, args: argparse.Namespace) -> int:
    from storage.db import open_database
    from storage.workspace_io import export_workspace

    database = open_database(url=config.database_url)
    try:
        with database.session() as session:
            document = export_workspace(session=session)
    finally:
        database.dispose()
    text = json.dumps(document, indent=2, ensure_ascii=False, default=str)
    if args.output:
        Path(args.output).write_text(text + "\n", encoding="utf-8")
        _emit({"exported": args.output})
    else:
        print(text)
    return 0


def run_open_link(config: Config, args: argparse.Namespace) -> int:
    from runtime.link_reading import extract_ref
    from runtime.opening import Inbound
    from runtime.service import Runtime
    from storage.db import open_database

    channel = args.channel or extract_ref(args.url)[0]
    if channel is None:
        raise CommandError("this is not a link of a known channel; say which channel the person is on with --channel")
    inbound = Inbound(text=args.url, channel=channel, channel_user_id=args.channel_user, first_name=args.first_name,
                      last_name=args.last_name, phone=args.phone, event_id=args.event_id)
    database = open_database(url=config.database_url)
    try:
        with Runtime(database, outbox=True) as runtime:  # live: what the bot sends is queued for delivery
            output = runtime.open_link(inbound).to_dict()
    finally:
        database.dispose()
    _emit(output)
    return 0


def run_validate(config: Config, args: argparse.Namespace) -> int:
    from runtime.publishing import workspace_problems
    from storage.db import open_database

    database = open_database(url=config.database_url)
    try:
        with database.session() as session:
            problems = workspace_problems(session=session, use_draft=not args.published)
    finally:
        database.dispose()
    errors = sum(problem.severity == "error" for problem in problems)
    _emit({"errors": errors, "warnings": len(problems) - errors, "problems": [p.to_dict() for p in problems]})
    return 1 if errors else 0


def run_reply(config: Config, args: argparse.Namespace) -> int:
    from runtime.service import Runtime
    from storage.db import open_database

    database = open_database(url=config.database_url)
    try:
        channel = args.channel or _channel_of(database, args.channel_user)
        with Runtime(database, outbox=True) as runtime:  # live: what the bot sends is queued for delivery
            result = runtime.reply(channel=channel, channel_user_id=args.channel_user, text=args.text)
    finally:
        database.dispose()
    _emit(result.to_dict())
    return 0 if result.contact_id is not None else 1


def _channel_of(database, channel_user_id: str) -> str:
    from sqlalchemy import text as sa_text

    with database.engine.connect() as connection:
        channels = list(connection.execute(sa_text("SELECT channel FROM contact WHERE channel_user_id = :user"),
                                           {"user": channel_user_id}).scalars())
    if len(channels) != 1:
        where = "no channel" if not channels else "several channels (" + ", ".join(channels) + ")"
        raise CommandError(f"the id '{channel_user_id}' is on {where}; say which with --channel")
    return channels[0]


def run_tick(config: Config, args: argparse.Namespace) -> int:
    from runtime.service import Runtime
    from storage.db import open_database

    try:
        advance = parse_duration(args.advance)
    except DurationError as error:
        raise CommandError(str(error)) from None
    database = open_database(url=config.database_url)
    try:
        with Runtime(database, outbox=True) as runtime:  # live: what the bot sends is queued for delivery
            result = runtime.tick(advance)
    finally:
        database.dispose()
    _emit(result.to_dict())
    return 0


def run_prune(config: Config, args: argparse.Namespace) -> int:
    from storage.db import open_database
    from storage.retention import prune

    database = open_database(url=config.database_url)
    try:
        pruned = prune(database)
    finally:
        database.dispose()
    _emit({"removed": pruned.to_dict()})
    return 0


def run_scenarios(config: Config, args: argparse.Namespace) -> int:
    from runtime.simulator.scenarios import ScenarioError, run_scenario_file

    reports = []
    for name in args.files:
        try:
            reports.append(run_scenario_file(Path(name), live_url=config.database_url))
        except ScenarioError as error:
            raise CommandError(f"{name}: {error}") from None
    if args.json:
        _emit([report.to_dict() for report in reports])
    else:
        print("\n\n".join(report.to_text() for report in reports))
    return 0 if all(report.passed for report in reports) else 1


def run_migrate_data(config: Config, args: argparse.Namespace) -> int:
    from storage.db import database_url, open_database
    from storage.migrate_data import DataMigrationError, migrate_data

    source_url, target_url = (database_url(url=_as_url(args.source)), database_url(url=_as_url(args.target)))
    if source_url.startswith("sqlite:///") and not Path(source_url.removeprefix("sqlite:///")).is_file():
        raise CommandError(f"there is no database at {source_url.removeprefix('sqlite:///')} to copy from")
    source = open_database(url=source_url)  # brought to the newest schema first, as the app does when it starts
    try:
        target = open_database(url=target_url)
        try:
            counts = migrate_data(source=source, target=target)
        except DataMigrationError as error:
            raise CommandError(str(error)) from None
        finally:
            target.dispose()
    finally:
        source.dispose()
    width = max(len(count.table) for count in counts)
    for count in counts:
        print(f"{count.table:<{width}}  {count.target:>9,} rows")
    total = sum(count.target for count in counts)
    print(f"Copied {total:,} rows; every table holds as many rows as the source. "
          "Point REFERFLOW_DATABASE_URL at the new database before starting Referflow again.")
    return 0


def _as_url(text: str) -> str:
    return text if "://" in text else f"sqlite:///{Path(text).expanduser().resolve()}"


def _read_json(name: str) -> object:
    try:
        text = sys.stdin.read() if name == "-" else Path(name).read_text(encoding="utf-8")
    except OSError as error:
        raise CommandError(f"cannot read {name}: {error.strerror}") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        where = f"line {error.lineno}, column {error.colno}"
        raise CommandError(f"{name} is not valid JSON ({where}: {error.msg})") from None
    except RecursionError:
        raise CommandError(f"{name} nests lists and objects too deeply to be read") from None


def _emit(data: object) -> None:
    print(json.dumps(data, indent=2, ensure_ascii=False, default=str))


if __name__ in {"__main__", "__mp_main__"}:
    if os.environ.get("NICEGUI_USER_SIMULATION"):  # NiceGUI's User fixture runs this file; configure from env
        serve(load_config())
    else:
        sys.exit(main())
