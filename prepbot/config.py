"""Validated configuration: pydantic models, TOML + environment loading; the only reader of either."""

from __future__ import annotations

import os
import re
import stat
import tomllib
from collections.abc import Mapping
from datetime import date, time
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)

from prepbot.errors import ConfigError

ENV_PREFIX = "PREPBOT_"
DEFAULT_CONFIG = Path("config/prepbot.toml")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FieldsSettings(_Section):
    """Optional custom fields of the org that prepbot reads (API names, e.g. ``Preferred_Language__c``)."""

    contact_language: str | None = None
    contact_time_zone: str | None = None
    lead_language: str | None = None
    lead_time_zone: str | None = None
    event_no_show: str | None = None
    event_no_show_value: str = "No Show"
    event_travel_distance: str | None = None


class SalesforceSettings(_Section):
    """How to reach the org. ``auth`` picks the flow; secrets come from env or ``*_file`` keys."""

    auth: Literal["jwt", "client_credentials", "session"] = "jwt"
    instance_url: str = ""
    api_version: str = "62.0"
    ca_bundle: Path | None = None
    timeout_seconds: float = Field(30.0, gt=0, le=600)
    page_size: int = Field(2000, ge=200, le=2000)
    max_retries: int = Field(4, ge=0, le=10)
    limit_backoff_minutes: float = Field(15.0, gt=0)
    # optional writes (prep notes) wait while the org's daily API usage is at or above this share
    optional_work_below_usage: float = Field(0.95, gt=0, le=1)
    # session (sandbox and tests)
    session_id: SecretStr | None = None
    session_id_file: Path | None = None
    # jwt
    username: str | None = None
    consumer_key: str | None = None
    private_key_file: Path | None = None
    login_url: str = "https://login.salesforce.com"
    # client_credentials
    consumer_secret: SecretStr | None = None
    consumer_secret_file: Path | None = None
    fields: FieldsSettings = FieldsSettings()

    @field_validator("instance_url")
    @classmethod
    def _https_only(cls, value: str) -> str:
        if value and not value.startswith("https://"):
            raise ValueError("must start with https:// (Salesforce and simple-salesforce speak HTTPS only)")
        return value.rstrip("/")

    @model_validator(mode="after")
    def _auth_complete(self) -> SalesforceSettings:
        requirements: dict[str, list[tuple[str, ...]]] = {
            "session": [("session_id", "session_id_file")],
            "jwt": [("username",), ("consumer_key",), ("private_key_file",)],
            "client_credentials": [("consumer_key",), ("consumer_secret", "consumer_secret_file")],
        }
        for alternatives in requirements[self.auth]:
            if all(getattr(self, name) in (None, "") for name in alternatives):
                raise ValueError(f"auth = {self.auth!r} needs {' or '.join(alternatives)}")
        if not self.instance_url:
            raise ValueError("instance_url is required (your My Domain URL, https://acme.my.salesforce.com)")
        return self


class SmtpSettings(_Section):
    """The mail relay. ``security = "none"`` is accepted for loopback relays only."""

    host: str = "127.0.0.1"
    port: int = Field(587, ge=1, le=65535)
    security: Literal["starttls", "tls", "none"] = "starttls"
    username: str | None = None
    password: SecretStr | None = None
    password_file: Path | None = None
    timeout_seconds: float = Field(60.0, gt=0, le=600)
    ca_bundle: Path | None = None
    # RFC 2920: MAIL, RCPT and DATA in one write when the relay offers PIPELINING; false for a
    # relay that offers it but gets it wrong
    pipelining: bool = True


class LedgerSettings(_Section):
    """Where every decision is recorded (SQLAlchemy URL; SQLite by default)."""

    url: str = "sqlite:///prepbot-ledger.sqlite"


class ScheduleSettings(_Section):
    """When confirmations go out, and how often prepbot looks at the org."""

    send_at: time = time(10, 0)
    working_days: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri")
    holidays: tuple[date, ...] = ()
    quiet_start: time = time(20, 0)
    quiet_end: time = time(8, 0)
    min_notice_minutes: int = Field(180, ge=0)
    horizon_days: int = Field(4, ge=2, le=30)
    sync_interval_seconds: int = Field(300, ge=10)
    dispatch_interval_seconds: int = Field(60, ge=5)
    lease_seconds: int = Field(300, ge=30)
    retry_minutes: int = Field(10, ge=1)
    max_attempts: int = Field(5, ge=1, le=50)
    batch_size: int = Field(200, ge=1, le=2000)

    @field_validator("working_days")
    @classmethod
    def _weekday_names(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        full = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
        names = [day.strip().lower() for day in value]
        unknown = [day for day in names if day not in WEEKDAYS and day not in full]
        if unknown:
            raise ValueError(f"unknown weekday {unknown[0]!r}; use {', '.join(WEEKDAYS)}")
        days = tuple(day[:3] for day in names)
        if not days:
            raise ValueError("at least one working day is needed")
        return days

    @property
    def working_day_numbers(self) -> frozenset[int]:
        return frozenset(WEEKDAYS.index(day) for day in self.working_days)


class MessagesSettings(_Section):
    """Who messages come from, which language they use, whom they are never sent to."""

    from_mode: Literal["sending_address", "owner"] = "sending_address"
    sending_address: str = "meetings@example.com"
    message_id_domain: str = "prepbot.invalid"
    org_time_zone: str = "UTC"
    default_language: str = "en"
    country_languages: dict[str, str] = Field(
        default_factory=lambda: {
            "NL": "nl",
            "BE": "nl",
            "SR": "nl",
            "RU": "ru",
            "BY": "ru",
            "KZ": "ru",
            "US": "en",
            "GB": "en",
            "IE": "en",
            "CA": "en",
            "AU": "en",
            "NZ": "en",
            "IN": "en",
            "ZA": "en",
        }
    )
    templates_dir: Path | None = None
    internal_domains: tuple[str, ...] = ()
    confirm_leads: bool = True
    in_doubt_policy: Literal["hold", "resend"] = "hold"


class PlaybooksSettings(_Section):
    """Where the fallback-script rules live (see config/playbooks.toml)."""

    file: Path | None = None  # default: the shipped config/playbooks.toml


class NotesSettings(_Section):
    """Prep notes on the opportunity (ContentNote), with the fallback scripts that fit the meeting."""

    enabled: bool = True
    # "with_confirmation": written when the confirmation is due; "on_sync": when prepbot first sees it.
    create: Literal["with_confirmation", "on_sync"] = "with_confirmation"
    owner_brief: bool = False  # also email the same brief to the owner in the morning
    owner_brief_at: time = time(7, 30)  # owner's local time on the meeting day
    # Render the notes in a second process while the first sends (tick and run use two cores;
    # ignored on a one-core machine or where processes cannot fork). false: one process.
    render_process: bool = True
    # How much lower the render process's CPU priority is than the sender's (Unix nice, 0-19): the
    # sender sets a cycle's pace, so it gets a core first and the notes take the CPU left over.
    render_process_nice: int = Field(10, ge=0, le=19)


class NoShowSettings(_Section):
    """The follow-up after a client did not show up (method §2)."""

    enabled: bool = True
    email_client: bool = True  # besides the owner's Task, write to the client (no blame, a new time)
    lookback_hours: int = Field(48, ge=1, le=24 * 14)  # how far back to look for meetings marked no-show


class DeliverySettings(_Section):
    """How email goes out: through the SMTP relay, or through Salesforce (emailSimple)."""

    transport: Literal["smtp", "salesforce"] = "smtp"
    salesforce_sender_type: Literal["CurrentUser", "DefaultWorkflowUser", "OrgWideEmailAddress"] = (
        "CurrentUser"
    )
    salesforce_sender_address: str | None = None  # required with OrgWideEmailAddress
    log_email_on_send: bool = True  # Salesforce logs the email on the records itself

    @model_validator(mode="after")
    def _org_wide_needs_address(self) -> DeliverySettings:
        if self.salesforce_sender_type == "OrgWideEmailAddress" and not self.salesforce_sender_address:
            raise ValueError("salesforce_sender_type = 'OrgWideEmailAddress' needs salesforce_sender_address")
        return self


class Settings(_Section):
    """The whole configuration file."""

    salesforce: SalesforceSettings
    smtp: SmtpSettings = SmtpSettings()
    ledger: LedgerSettings = LedgerSettings()
    schedule: ScheduleSettings = ScheduleSettings()
    messages: MessagesSettings = MessagesSettings()
    playbooks: PlaybooksSettings = PlaybooksSettings()
    notes: NotesSettings = NotesSettings()
    no_show: NoShowSettings = NoShowSettings()
    delivery: DeliverySettings = DeliverySettings()
    source: Path | None = None

    def session_id(self) -> str | None:
        """The session token, from the setting or its file."""
        sf = self.salesforce
        return _secret(sf.session_id, sf.session_id_file, "salesforce.session_id_file")

    def consumer_secret(self) -> str | None:
        sf = self.salesforce
        return _secret(sf.consumer_secret, sf.consumer_secret_file, "salesforce.consumer_secret_file")

    def smtp_password(self) -> str | None:
        return _secret(self.smtp.password, self.smtp.password_file, "smtp.password_file")

    def private_key_pem(self) -> str:
        """The JWT signing key; refused when readable by others (the path is named, never the content)."""
        path = self.salesforce.private_key_file
        if path is None:
            raise ConfigError("no private key configured", key="salesforce.private_key_file")
        text = _read_private_file(path, "salesforce.private_key_file")
        if "PRIVATE KEY-----" not in text:
            raise ConfigError(f"{path} is not a PEM private key", key="salesforce.private_key_file")
        return text


def _secret(value: SecretStr | None, path: Path | None, key: str) -> str | None:
    if value is not None:
        return value.get_secret_value()
    if path is None:
        return None
    return _read_private_file(path, key).strip()


def _read_private_file(path: Path, key: str) -> str:
    try:
        mode = path.stat().st_mode
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}", key=key, hint="check the path") from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise ConfigError(
            f"{path} is readable by other users (mode {stat.filemode(mode)})",
            key=key,
            hint=f"chmod 600 {path}",
        )
    return path.read_text(encoding="utf-8")


def load_config(path: Path | None = None, environ: Mapping[str, str] | None = None) -> Settings:
    """Read ``path`` (TOML), overlay ``PREPBOT_<SECTION>_<KEY>`` variables, validate.

    Raises:
        ConfigError: naming every bad or missing key (the message lists them one per line).
    """
    environ = os.environ if environ is None else environ
    path = path or Path(environ.get("PREPBOT_CONFIG", DEFAULT_CONFIG))
    data = _read_toml(path)
    _overlay_env(data, environ)
    _resolve_paths(data, path.parent)
    try:
        return Settings.model_validate({**data, "source": path})
    except ValidationError as exc:
        raise ConfigError("\n".join(describe_errors(exc))) from None


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(
            f"config file {path} not found", hint="pass --config PATH or copy config/prepbot.toml"
        ) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}") from None


def _overlay_env(data: dict[str, Any], environ: Mapping[str, str]) -> None:
    """``PREPBOT_SMTP_PASSWORD=x`` sets ``[smtp] password``; only known sections are read."""
    sections = {name.upper(): name for name in Settings.model_fields if name != "source"}
    for var, value in environ.items():
        if not var.startswith(ENV_PREFIX) or var == "PREPBOT_CONFIG":
            continue
        rest = var[len(ENV_PREFIX) :]
        for upper, section in sections.items():
            if rest.startswith(upper + "_"):
                data.setdefault(section, {})[rest[len(upper) + 1 :].lower()] = value
                break


_PATH_KEYS = {
    "salesforce": ("ca_bundle", "session_id_file", "private_key_file", "consumer_secret_file"),
    "smtp": ("password_file", "ca_bundle"),
    "messages": ("templates_dir",),
    "playbooks": ("file",),
}


def _resolve_paths(data: dict[str, Any], base: Path) -> None:
    """Relative paths in the file are relative to the file's folder, not to the working directory."""
    for section, keys in _PATH_KEYS.items():
        values = data.get(section)
        if not isinstance(values, dict):
            continue
        for key in keys:
            raw = values.get(key)
            if isinstance(raw, str) and raw and not Path(raw).is_absolute():
                values[key] = str(base / raw)
    ledger = data.get("ledger")
    if isinstance(ledger, dict):
        url = ledger.get("url")
        prefix = "sqlite:///"
        if isinstance(url, str) and url.startswith(prefix) and not url.startswith(prefix + "/"):
            ledger["url"] = prefix + str(base / url[len(prefix) :])


_HINTS = {
    "missing": "add it to the file or set the PREPBOT_<SECTION>_<KEY> environment variable",
    "extra_forbidden": "remove it: prepbot does not know this key (check its spelling)",
    "literal_error": "use one of the values named",
}


def describe_errors(exc: ValidationError) -> list[str]:
    """One line per problem: the dotted key, what is wrong, how to fix it."""
    lines = []
    for err in exc.errors():
        key = ".".join(str(part) for part in err["loc"] if not str(part).startswith("function-"))
        message = str(err["msg"]).removeprefix("Value error, ")
        hint = _HINTS.get(err["type"])
        lines.append(f"{key or '(file)'}: {message}" + (f" (fix: {hint})" if hint else ""))
    return lines


# --- playbooks file (config/playbooks.toml) -------------------------------------------------------


class PlaybookRule(_Section):
    """One rule of the playbooks file: when it applies, the scripts it attaches, and why."""

    name: str = Field(min_length=1, max_length=80, pattern=r"^[A-Za-z0-9_.\-]+$")
    when: str = Field(min_length=1, max_length=2_000)
    scripts: tuple[str, ...] = Field(min_length=1)
    # Per language ("en" required), or one text used for every language.
    reason: dict[str, str] | str
    enabled: bool = True

    @field_validator("reason")
    @classmethod
    def _english_reason(cls, value: dict[str, str] | str) -> dict[str, str] | str:
        if isinstance(value, dict) and "en" not in value:
            raise ValueError('needs at least an "en" reason: the fallback for other languages')
        return value


class PlaybooksFile(_Section):
    """The playbooks file: matching settings and the ordered rules (see config/playbooks.toml)."""

    decider_roles: tuple[str, ...] = ("Decision Maker", "Economic Buyer")
    # Case-insensitive substrings of a contact's Title; see config/playbooks.toml for why each is there.
    non_deciding_titles: tuple[str, ...] = (
        "manager",
        "operations",
        "bedrijfsleider",
        "coordinator",
        "coördinator",
        "assistant",
        "assistent",
        "менеджер",
        "управляющ",
        "координатор",
        "ассистент",
    )
    non_deciding_title_patterns: tuple[str, ...] = ()  # regular expressions, searched case-insensitively
    deciding_titles: tuple[str, ...] = (
        "founder",
        "owner",
        "ceo",
        "chief",
        "director",
        "president",
        "eigenaar",
        "oprichter",
        "directeur",
        "основатель",
        "владел",
        "собственник",
        "директор",
    )
    referral_stages: tuple[str, ...] = ("Closed Won",)
    product_area: dict[str, str] = Field(
        default_factory=lambda: {
            "en": "sales automation",
            "nl": "verkoopautomatisering",
            "ru": "автоматизации продаж",
        }
    )
    rules: tuple[PlaybookRule, ...] = ()
    source: Path | None = None

    @field_validator("non_deciding_title_patterns")
    @classmethod
    def _valid_patterns(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for pattern in value:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"{pattern!r} is not a regular expression: {exc}") from None
        return value

    @field_validator("product_area")
    @classmethod
    def _english_area(cls, value: dict[str, str]) -> dict[str, str]:
        if "en" not in value:
            raise ValueError('needs an "en" entry: the fallback for other languages')
        return value

    @model_validator(mode="after")
    def _unique_names(self) -> PlaybooksFile:
        names = [rule.name for rule in self.rules]
        doubles = sorted({name for name in names if names.count(name) > 1})
        if doubles:
            raise ValueError(f"rule names must be unique; repeated: {', '.join(doubles)}")
        return self


def load_playbooks_file(path: Path) -> PlaybooksFile:
    """Read and validate a playbooks file; expressions are compiled by ``prepbot.playbooks``.

    Raises:
        ConfigError: the file is missing or not TOML, or a key is wrong; one line per problem,
            each starting with the file, a rule's problems naming the rule.
    """
    try:
        data = _read_toml(path)
    except ConfigError as exc:
        hint = "set [playbooks] file to an existing file, or remove it to use the shipped rules"
        raise ConfigError(str(exc).split(" (fix:")[0], key="playbooks.file", hint=hint) from None
    try:
        return PlaybooksFile.model_validate({**data, "source": path})
    except ValidationError as exc:
        raise ConfigError(
            "\n".join(f"{path}: {_playbooks_error_line(e, data)}" for e in exc.errors())
        ) from None


def _playbooks_error_line(err: Any, data: Mapping[str, Any]) -> str:
    """``rule <name>: when: <message> (fix: ...)``, or ``<key>: <message>`` outside the rules."""
    loc = tuple(part for part in err["loc"] if not str(part).startswith("function-"))
    message = str(err["msg"]).removeprefix("Value error, ")
    hint = _HINTS.get(err["type"])
    suffix = f" (fix: {hint})" if hint else ""
    if len(loc) >= 2 and loc[0] == "rules" and isinstance(loc[1], int):
        rules = data.get("rules")
        rule = rules[loc[1]] if isinstance(rules, list) and loc[1] < len(rules) else None
        name = rule.get("name") if isinstance(rule, dict) else None
        label = name if isinstance(name, str) and name else f"#{loc[1] + 1}"
        field = ".".join(str(part) for part in loc[2:])
        return f"rule {label}: " + (f"{field}: " if field else "") + message + suffix
    return f"{'.'.join(str(part) for part in loc) or '(file)'}: {message}{suffix}"
