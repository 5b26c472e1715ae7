"""Admin commands (templates check/vars, preview, plan, send-test, status); registered by prepbot.cli.

Only typer and the standard library are imported at module level, so `prepbot --help` stays fast.
"""

from __future__ import annotations

import contextlib
import json
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from prepbot.cli_options import ConfigOption

if TYPE_CHECKING:
    from prepbot.config import Settings
    from prepbot.crm.salesforce import SalesforceCrm
    from prepbot.domain import Meeting
    from prepbot.ledger.sql import SqlLedger

NowOption = Annotated[
    str | None, typer.Option(help="Act as if the clock read this ISO 8601 instant (default: now).")
]
KindOption = Annotated[
    str, typer.Option("--kind", help="confirmation, prep-note, no-show (the client's email), no-show-task...")
]

templates_app = typer.Typer(
    help="Check the templates and the rules, list template variables.",
    no_args_is_help=True,
    rich_markup_mode=None,
)


def register(app: typer.Typer) -> None:
    """Add the admin commands to the main app."""
    app.add_typer(templates_app, name="templates")
    app.command("preview")(preview)
    app.command("plan")(plan)
    app.command("send-test")(send_test)
    app.command("status")(status)


def _cli() -> Any:
    from prepbot import cli

    return cli


# -- templates ------------------------------------------------------------------------------------


def _check_input(settings: Settings) -> Any:
    from prepbot.admin_check import CheckInput
    from prepbot.app import build_renderer
    from prepbot.errors import ConfigError

    try:
        renderer = build_renderer(settings)
    except ConfigError as exc:
        raise _cli()._fail(f"configuration problem:\n{exc}", _cli().EXIT_CONFIG) from None
    return CheckInput(renderer, settings.messages.templates_dir, settings.playbooks.file)


@templates_app.command("check")
def templates_check(config: ConfigOption = None) -> None:
    """Render every template in every language with sample meetings; lint the rules (exit 1 on errors)."""
    from prepbot.admin_check import check_all, errors_only

    problems = check_all(_check_input(_cli()._settings(config)))
    for problem in problems:
        typer.echo(str(problem))
    errors = errors_only(problems)
    typer.echo(f"{len(errors)} error(s), {len(problems) - len(errors)} warning(s)")
    if errors:
        raise typer.Exit(_cli().EXIT_PROBLEMS)


@templates_app.command("vars")
def templates_vars(
    kind: Annotated[
        str | None, typer.Option(help="Only this kind (confirmation, prep-note, rules...).")
    ] = None,
) -> None:
    """List the variables each template kind (and each rule) sees, as in the admin guide."""
    from prepbot.docs import variables_markdown

    typer.echo(variables_markdown(kind))


def preflight(settings: Settings) -> None:
    """The start-up check of `run` and `tick`: refuse (exit 2) a broken template or rule.

    The check renders every template (about 2 s), so a passing set of templates and rules is
    remembered by content hash (``$XDG_CACHE_HOME/prepbot``) and not checked again until a file
    changes: a tick every minute then starts in milliseconds.
    """
    from prepbot.preflight import preflight_stamp

    stamp = preflight_stamp(settings)
    if stamp is not None and stamp.exists():
        return
    from prepbot.admin_check import check_all, errors_only

    errors = errors_only(check_all(_check_input(settings), quick=True))
    if not errors and stamp is not None:
        with contextlib.suppress(OSError):  # an unwritable cache only costs the next start its check
            stamp.parent.mkdir(parents=True, exist_ok=True)
            stamp.touch()
    if errors:
        lines = "\n".join(str(problem) for problem in errors)
        raise _cli()._fail(
            f"refusing to start: broken templates or rules\n{lines}\n"
            "(run 'prepbot templates check' for details)",
            _cli().EXIT_CONFIG,
        )


# -- preview and send-test ------------------------------------------------------------------------


def _meeting(settings: Settings, event: str | None, sample: bool) -> tuple[Meeting, SalesforceCrm | None]:
    from prepbot.app import build_crm
    from prepbot.errors import CrmError
    from prepbot.samples import sample_meeting

    if sample or event is None:
        return (sample_meeting(event_id=event) if event else sample_meeting()), None
    crm = build_crm(settings)
    try:
        found = crm.meetings_by_id([event]).get(event)
    except CrmError as exc:
        crm.close()
        raise _cli()._fail(f"the org could not be read: {exc}", _cli().EXIT_UNAVAILABLE) from None
    if found is None:
        crm.close()
        raise _cli()._fail(f"no Event {event} in the org (use --sample for a sample meeting)", 1)
    return found, crm


def _render(settings: Settings, kind_text: str, meeting: Meeting, lang: str | None, now: datetime) -> Any:
    from prepbot.admin import find_kind, render_preview, subject_for
    from prepbot.app import build_audience, build_composer, build_policy
    from prepbot.errors import ConfigError, TemplateError

    try:
        composer = build_composer(settings)
        kind = find_kind(composer.renderer, kind_text)
        subject = subject_for(
            kind, meeting, composer, build_policy(settings), build_audience(settings), now, lang
        )
        return kind, subject, render_preview(composer.renderer, kind, subject)
    except ConfigError as exc:
        raise _cli()._fail(f"configuration problem:\n{exc}", _cli().EXIT_CONFIG) from None
    except TemplateError as exc:
        hint = f" (hint: {exc.hint})" if exc.hint else ""
        raise _cli()._fail(f"template problem: {exc}{hint}", _cli().EXIT_PROBLEMS) from None


def preview(
    event_id: Annotated[str, typer.Argument(help="The Event Id (any text with --sample).")],
    kind: KindOption = "confirmation",
    lang: Annotated[str | None, typer.Option("--lang", help="Render in this language.")] = None,
    html: Annotated[Path | None, typer.Option("--html", help="Write the HTML part to this file.")] = None,
    sample: Annotated[bool, typer.Option("--sample", help="Use a sample meeting, not the org's.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    now: NowOption = None,
    config: ConfigOption = None,
) -> None:
    """Render a message for a meeting (from the org, or a sample) and print it. Sends and writes nothing."""
    from prepbot.admin import fallback_note, preview_json

    settings = _cli()._settings(config)
    at = _cli()._parse_now(now)
    meeting, crm = _meeting(settings, event_id, sample)
    try:
        _kind, subject, shown = _render(settings, kind, meeting, lang, at)
    finally:
        if crm is not None:
            crm.close()
    if html is not None and shown.html is not None:
        html.write_text(shown.html, encoding="utf-8")
    if as_json:
        typer.echo(json.dumps(preview_json(shown, subject), ensure_ascii=False))
        return
    note = fallback_note(subject.requested_language, shown.language)
    typer.echo(
        f"# {shown.kind} in {shown.language}{f' ({note})' if note else ''}, zone {subject.zone}, "
        f"as sent at {subject.send_at:%Y-%m-%d %H:%M} UTC, template {shown.template_version}"
    )
    typer.echo(f"Subject: {shown.subject}\n\n{shown.text.rstrip()}")
    if shown.html is not None:
        typer.echo(f"\n(HTML part: {len(shown.html)} characters{f', written to {html}' if html else ''})")


def send_test(
    to: Annotated[str, typer.Option("--to", help="The one address the test goes to.")],
    kind: KindOption = "confirmation",
    event: Annotated[
        str | None, typer.Option(help="Render for this Event (default: a sample meeting).")
    ] = None,
    lang: Annotated[str | None, typer.Option("--lang", help="Render in this language.")] = None,
    config: ConfigOption = None,
) -> None:
    """Send one message to ADDRESS only, marked [TEST]; never recorded as the real send (no row, no Task)."""
    from prepbot.admin import test_message
    from prepbot.errors import DeliveryError, MessageError
    from prepbot.messages import checked_addr_spec

    settings = _cli()._settings(config)
    try:
        checked_addr_spec(to)
    except MessageError as exc:
        raise _cli()._fail(str(exc), _cli().EXIT_CONFIG) from None
    meeting, crm = _meeting(settings, event, event is None)
    try:
        _kind, subject, shown = _render(settings, kind, meeting, lang, _cli()._parse_now(None))
        owner = meeting.owner
        m = settings.messages
        message = test_message(
            shown,
            to_address=to,
            from_name=owner.name if owner else "prepbot",
            from_address=(
                owner.email if owner and owner.email and m.from_mode == "owner" else m.sending_address
            ),
            reply_to=owner.email if owner else None,
            requested_language=subject.requested_language,
            message_id_domain=m.message_id_domain,
        )
        transport = _test_transport(settings, crm)
        try:
            transport.send(message)
        except (DeliveryError, MessageError) as exc:
            raise _cli()._fail(f"the test message was not sent: {exc}", _cli().EXIT_UNAVAILABLE) from None
        finally:
            transport.close()
    finally:
        if crm is not None:
            crm.close()
    typer.echo(f"sent {message.subject!r} to {to} (Message-ID <{message.message_id}>)")


def _test_transport(settings: Settings, crm: SalesforceCrm | None) -> Any:
    """The configured transport, except that Salesforce never logs a test on the records."""
    from prepbot.app import build_crm, build_transport
    from prepbot.clock import SystemClock

    if settings.delivery.transport == "salesforce":
        from prepbot.transports.salesforce import SalesforceEmailTransport

        d = settings.delivery
        return SalesforceEmailTransport(
            crm=crm or build_crm(settings),
            sender_type=d.salesforce_sender_type,
            sender_address=d.salesforce_sender_address,
            log_email_on_send=False,
            clock=SystemClock(),
        )
    return build_transport(settings, SystemClock())


# -- plan and status ------------------------------------------------------------------------------


def open_ledger(settings: Settings) -> SqlLedger | None:
    """The ledger, opened without migrating (a read must not change it); None when there is none yet."""
    from prepbot.errors import LedgerError
    from prepbot.ledger.sql import SqlLedger

    url = settings.ledger.url
    if url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).exists():
        return None
    try:
        return SqlLedger(url, migrate=False)
    except LedgerError as exc:
        raise _cli()._fail(
            f"ledger unavailable or not migrated: {exc} (run 'prepbot tick' once)", _cli().EXIT_UNAVAILABLE
        ) from None


def plan(
    day: Annotated[
        str | None, typer.Option("--date", help="The day (YYYY-MM-DD) in the org's zone; default today.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per meeting.")] = False,
    now: NowOption = None,
    config: ConfigOption = None,
) -> None:
    """What will happen to a day's meetings: recipient, language, send time, scripts, skips. Read-only."""
    from prepbot.admin_io import run_plan

    settings = _cli()._settings(config)
    at = _cli()._parse_now(now)
    lines = run_plan(settings, _parse_day(day, settings, at), at)
    if as_json:
        for line in lines:
            typer.echo(json.dumps(line.as_json(), ensure_ascii=False))
        return
    from prepbot.admin_io import print_plan

    print_plan(lines)


def _parse_day(day: str | None, settings: Settings, at: datetime) -> date:
    from prepbot.timing import to_local

    if day is None:
        return to_local(at, settings.messages.org_time_zone).date()
    try:
        return date.fromisoformat(day)
    except ValueError:
        raise _cli()._fail(f"--date {day!r} is not a date (YYYY-MM-DD)", _cli().EXIT_CONFIG) from None


def status(
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object.")] = False,
    config: ConfigOption = None,
) -> None:
    """Counts per status; in-doubt and failed rows first with what to do; the next planned sends; the
    live prepbot processes (name, role, host, pid, last heartbeat, claims) and which one plans."""
    from prepbot.admin_io import status_workers
    from prepbot.admin_views import status_view
    from prepbot.domain import Status

    settings = _cli()._settings(config)
    ledger = open_ledger(settings)
    if ledger is None:
        typer.echo("the ledger is empty: prepbot has not run yet")
        return
    try:
        attention = [
            *ledger.rows(status=Status.IN_DOUBT, limit=100),
            *ledger.rows(status=Status.FAILED, limit=100),
        ]
        latest = ledger.rows(limit=1)
        view = status_view(
            ledger.counts_by_status(),
            attention,
            ledger.open_rows(),
            latest[0] if latest else None,
            workers=status_workers(settings, ledger.workers()),
        )
    finally:
        ledger.close()
    if as_json:
        typer.echo(json.dumps(view.as_json(), ensure_ascii=False))
        return
    from prepbot.admin_io import print_status

    print_status(view)


def log_filter(settings: Settings, day: str | None, since: str | None) -> tuple[Any, datetime | None]:
    """`prepbot log --day D --since S`: a row predicate (the meeting's day in the org's zone) and an instant.

    ``--since`` takes a date (midnight in the org's zone) or an ISO 8601 instant with an offset.
    """
    from prepbot.admin_views import meeting_day
    from prepbot.timing import local_instant

    zone = settings.messages.org_time_zone
    wanted = _parse_day(day, settings, datetime.now().astimezone()) if day else None
    since_at: datetime | None = None
    if since is not None:
        try:
            since_at = local_instant(date.fromisoformat(since), datetime.min.time(), zone)
        except ValueError:
            try:
                since_at = datetime.fromisoformat(since.replace("Z", "+00:00"))
            except ValueError:
                since_at = None
            if since_at is None or since_at.tzinfo is None:
                raise _cli()._fail(
                    f"--since {since!r}: use a date (2026-12-01) or an instant with an offset",
                    _cli().EXIT_CONFIG,
                ) from None

    def keep(row: Any) -> bool:
        return wanted is None or meeting_day(row.key.occurrence, zone) == wanted

    return keep, since_at
