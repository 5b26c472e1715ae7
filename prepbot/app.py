"""Composition root: the one place that reads validated settings and builds the adapters."""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from datetime import timedelta
from email.message import EmailMessage
from functools import partial
from pathlib import Path

from prepbot import failpoints
from prepbot.clock import SystemClock
from prepbot.composer import Composer, LanguagePolicy, Sender
from prepbot.config import Settings
from prepbot.crm.salesforce import (
    ClientCredentialsAuth,
    FieldMapping,
    JwtAuth,
    SalesforceCrm,
    SessionAuth,
)
from prepbot.crm.sf_notes import find_notes
from prepbot.delivery import Cadence
from prepbot.domain import OutgoingMessage
from prepbot.errors import ConfigError
from prepbot.flow import Flow
from prepbot.flows.brief import BriefFlow
from prepbot.flows.brief_compose import BriefWriter
from prepbot.flows.noshow import NoShowFlow
from prepbot.flows.noshow_compose import NoShowWriter, playbook_scripts
from prepbot.flows.notes import NoteFlow, ScriptSource, playbook_note_scripts
from prepbot.ledger.sql import SqlLedger
from prepbot.messages import build_email, checked_bytes
from prepbot.offload import can_fork
from prepbot.planner import Audience
from prepbot.playbooks import Playbook, load_playbook
from prepbot.ports import Clock, Transport
from prepbot.rendering import Renderer, shipped_templates_dir
from prepbot.service import Service
from prepbot.timing import SendPolicy
from prepbot.transports.salesforce import SalesforceEmailTransport
from prepbot.transports.smtp import SmtpTransport


@dataclass
class App:
    """Everything a command needs, built once from the settings."""

    settings: Settings
    service: Service
    crm: SalesforceCrm
    ledger: SqlLedger
    transport: Transport

    def close(self) -> None:
        for flow in self.service.flows:
            if isinstance(flow, NoteFlow):  # its render process
                flow.close()
        self.transport.close()
        self.crm.close()
        self.ledger.close()


def build_policy(settings: Settings) -> SendPolicy:
    s = settings.schedule
    return SendPolicy(
        send_at=s.send_at,
        working_days=s.working_day_numbers,
        holidays=frozenset(s.holidays),
        quiet_start=s.quiet_start,
        quiet_end=s.quiet_end,
        min_notice=timedelta(minutes=s.min_notice_minutes),
    )


def build_audience(settings: Settings) -> Audience:
    m = settings.messages
    return Audience(
        internal_domains=frozenset(d.lower() for d in m.internal_domains),
        confirm_leads=m.confirm_leads,
        org_time_zone=m.org_time_zone,
    )


def build_renderer(settings: Settings) -> Renderer:
    admin = settings.messages.templates_dir
    if admin is not None and not Path(admin).is_dir():
        raise ConfigError(f"{admin} is not a folder", key="messages.templates_dir")
    return Renderer(
        shipped_dir=shipped_templates_dir(),
        admin_dir=admin,
        default_language=settings.messages.default_language,
    )


def build_composer(settings: Settings) -> Composer:
    m = settings.messages
    sender = Sender(
        from_mode=m.from_mode, sending_address=m.sending_address, message_id_domain=m.message_id_domain
    )
    languages = LanguagePolicy(default=m.default_language, country_map=dict(m.country_languages))
    return Composer(build_renderer(settings), sender, languages)


def build_crm(settings: Settings) -> SalesforceCrm:
    sf = settings.salesforce
    auth: SessionAuth | JwtAuth | ClientCredentialsAuth
    if sf.auth == "session":
        auth = SessionAuth(session_id=settings.session_id() or "")
    elif sf.auth == "jwt":
        auth = JwtAuth(
            username=sf.username or "",
            consumer_key=sf.consumer_key or "",
            private_key_pem=settings.private_key_pem(),
            login_url=sf.login_url,
        )
    else:
        auth = ClientCredentialsAuth(
            consumer_key=sf.consumer_key or "", consumer_secret=settings.consumer_secret() or ""
        )
    f = sf.fields
    return SalesforceCrm(
        instance_url=sf.instance_url,
        auth=auth,
        api_version=sf.api_version,
        ca_bundle=str(sf.ca_bundle) if sf.ca_bundle else None,
        timeout=sf.timeout_seconds,
        page_size=sf.page_size,
        max_retries=sf.max_retries,
        limit_backoff=timedelta(minutes=sf.limit_backoff_minutes),
        fields=FieldMapping(
            contact_language=f.contact_language,
            contact_time_zone=f.contact_time_zone,
            lead_language=f.lead_language,
            lead_time_zone=f.lead_time_zone,
            event_no_show_field=f.event_no_show,
            event_no_show_value=f.event_no_show_value,
            event_travel_distance=f.event_travel_distance,
        ),
    )


def build_transport(settings: Settings, clock: Clock, crm: SalesforceCrm | None = None) -> Transport:
    """The SMTP relay, or the org's emailSimple action with ``[delivery] transport = "salesforce"``."""
    d = settings.delivery
    if d.transport == "salesforce":
        if crm is None:
            raise ConfigError("sending through Salesforce needs the org connection", key="delivery.transport")
        return SalesforceEmailTransport(
            crm=crm,
            sender_type=d.salesforce_sender_type,
            sender_address=d.salesforce_sender_address,
            log_email_on_send=d.log_email_on_send,
            clock=clock,
        )
    s = settings.smtp

    def build(message: OutgoingMessage) -> EmailMessage:
        return build_email(message, sent_at=clock.now())

    return SmtpTransport(
        host=s.host,
        port=s.port,
        security=s.security,
        username=s.username,
        password=settings.smtp_password(),
        timeout=s.timeout_seconds,
        ca_bundle=str(s.ca_bundle) if s.ca_bundle else None,
        pipelining=s.pipelining,
        build=build,
        wire=checked_bytes,
        failpoint=failpoints.hit,
    )


def build_cadence(settings: Settings) -> Cadence:
    s = settings.schedule
    return Cadence(
        horizon=timedelta(days=s.horizon_days),
        lease=timedelta(seconds=s.lease_seconds),
        retry=timedelta(minutes=s.retry_minutes),
        max_attempts=s.max_attempts,
        batch_size=s.batch_size,
        in_doubt_policy=settings.messages.in_doubt_policy,
    )


def build_flows(
    settings: Settings,
    crm: SalesforceCrm,
    ledger: SqlLedger,
    transport: Transport,
    composer: Composer | None = None,
) -> list[Flow]:
    """The flows besides confirmations (prep notes, owner briefs, no-show follow-ups), each by config.

    They share ``composer`` (built here if not given) and one load of the playbook: one set of
    compiled templates per process, not one per flow (issue 7: start-up).
    """
    flows: list[Flow] = []
    if not (settings.no_show.enabled or settings.notes.enabled):
        return flows
    composer = composer or build_composer(settings)
    playbook = load_playbook(settings.playbooks.file)
    if settings.no_show.enabled:
        flows.append(build_no_show_flow(settings, crm, ledger, transport, composer, playbook))
    if settings.notes.enabled:
        flows.append(build_note_flow(settings, crm, ledger, composer, playbook))
    if settings.notes.enabled and settings.notes.owner_brief:
        flows.append(build_brief_flow(settings, ledger, transport, composer, playbook))
    return flows


def build_note_flow(
    settings: Settings,
    crm: SalesforceCrm,
    ledger: SqlLedger,
    composer: Composer | None = None,
    playbook: Playbook | None = None,
) -> NoteFlow:
    """Prep notes on the opportunity, with the playbook's fallback scripts."""
    composer, zone, scripts = _note_scripts(settings, composer, playbook)
    return NoteFlow(
        crm=crm,
        ledger=ledger,
        renderer=composer.renderer,
        scripts=scripts,
        create=settings.notes.create,
        find_notes=partial(find_notes, crm),
        org_time_zone=zone,
        defer=partial(api_budget_low, crm, settings.salesforce.optional_work_below_usage),
        render_process=settings.notes.render_process and (os.cpu_count() or 1) > 1 and can_fork(),
        render_nice=settings.notes.render_process_nice,
    )


def _note_scripts(
    settings: Settings, composer: Composer | None, playbook: Playbook | None
) -> tuple[Composer, str, ScriptSource]:
    """The composer (built if not given), the org's time zone and the scripts a prep note shows."""
    composer = composer or build_composer(settings)
    zone = settings.messages.org_time_zone
    playbook = playbook or load_playbook(settings.playbooks.file)
    return composer, zone, playbook_note_scripts(composer.renderer, playbook, composer, zone)


def api_budget_low(crm: SalesforceCrm, threshold: float) -> bool:
    """True when the last ``Sforce-Limit-Info`` put the daily API usage at or above ``threshold``."""
    usage = crm.api_usage
    return usage is not None and usage[1] > 0 and usage[0] >= threshold * usage[1]


def build_brief_flow(
    settings: Settings,
    ledger: SqlLedger,
    transport: Transport,
    composer: Composer | None = None,
    playbook: Playbook | None = None,
) -> BriefFlow:
    """The owner's morning brief (``[notes] owner_brief``): the prep note emailed to the owner."""
    composer, zone, scripts = _note_scripts(settings, composer, playbook)
    return BriefFlow(
        ledger=ledger,
        transport=transport,
        writer=BriefWriter(composer.renderer, composer.sender, zone),
        scripts=scripts,
        brief_at=settings.notes.owner_brief_at,
        cadence=build_cadence(settings),
    )


def build_no_show_flow(
    settings: Settings,
    crm: SalesforceCrm,
    ledger: SqlLedger,
    transport: Transport,
    composer: Composer | None = None,
    playbook: Playbook | None = None,
) -> NoShowFlow:
    """The no-show follow-up (also built by ``prepbot no-show`` when the flow is switched off)."""
    composer = composer or build_composer(settings)
    scripts = playbook_scripts(composer.renderer, playbook or load_playbook(settings.playbooks.file))
    return NoShowFlow(
        crm=crm,
        ledger=ledger,
        transport=transport,
        writer=NoShowWriter(composer, scripts, settings.messages.org_time_zone),
        audience=build_audience(settings),
        cadence=build_cadence(settings),
        email_client=settings.no_show.email_client,
        lookback=timedelta(hours=settings.no_show.lookback_hours),
    )


def build_app(settings: Settings, clock: Clock | None = None) -> App:
    """Build every adapter and the service; the caller must ``close()`` the result.

    ``clock`` dates the messages (the ``Date`` header); ``prepbot tick --now`` passes a fixed one.
    """
    failpoints.load_from_environment()  # inert unless PREPBOT_FAILPOINTS is set (reliability tests)
    ledger = SqlLedger(settings.ledger.url)
    crm = build_crm(settings)
    transport = build_transport(settings, clock or SystemClock(), crm)
    composer = build_composer(settings)
    service = Service(
        crm=crm,
        ledger=ledger,
        transport=transport,
        composer=composer,
        policy=build_policy(settings),
        audience=build_audience(settings),
        cadence=build_cadence(settings),
        worker=f"{socket.gethostname()}:{os.getpid()}",
        flows=build_flows(settings, crm, ledger, transport, composer),
    )
    return App(settings=settings, service=service, crm=crm, ledger=ledger, transport=transport)
