"""Pure language choice for a recipient, and the Babel locale that formats their dates."""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from functools import lru_cache

from babel import Locale, UnknownLocaleError, localedata

_CODE = re.compile(r"^[A-Za-z]{2,3}(?:[_-][A-Za-z0-9]{2,8})*$")


@lru_cache(maxsize=512)
def _names_to_codes(available: tuple[str, ...]) -> dict[str, str]:
    """Language names in English and in the language itself ("Dutch", "Nederlands") -> code."""
    names: dict[str, str] = {}
    for code in available:
        try:
            loc = Locale.parse(code)
        except (ValueError, UnknownLocaleError):
            continue
        for name in (loc.get_language_name("en"), loc.get_language_name(loc.language)):
            if name:
                names[name.casefold()] = code
    return names


def normalize_language(value: str | None, available: Collection[str] = ()) -> str | None:
    """Reduce a CRM language value to a bare language code, or None when it says nothing usable.

    Accepts Salesforce keys ("nl_NL", "pt_BR"), BCP 47 tags ("ru-RU") and, for the ``available``
    languages, their names in English or in the language itself ("Dutch", "русский").
    """
    text = (value or "").strip()
    if not text:
        return None
    if _CODE.match(text):
        return _language_of_code(text)
    return _names_to_codes(tuple(sorted(available))).get(text.casefold())


@lru_cache(maxsize=1024)
def _language_of_code(text: str) -> str:
    """ "nl_NL", "ru-RU" -> the language; CLDR is asked once per distinct code (several per message)."""
    try:
        return Locale.parse(text.replace("-", "_")).language
    except (ValueError, UnknownLocaleError):
        # CLDR does not know it ("xx", "de_XX"); the first subtag still names a language.
        return re.split(r"[_-]", text)[0].lower()


def choose_language(
    contact_language: str | None,
    mailing_country_code: str | None,
    country_map: Mapping[str, str],
    owner_language: str | None,
    default: str,
    available: Collection[str],
) -> str:
    """Pick the language a client is written to in: the first usable signal, else ``default``.

    Order (issue 3): the contact's configured language field -> the mailing country through
    ``country_map`` (ISO 3166 alpha-2, e.g. {"NL": "nl", "BE": "nl"}) -> the owner's
    ``LanguageLocaleKey`` -> ``default``. A signal naming a language with no templates in
    ``available`` is passed over, so the next signal decides; the renderer still falls back
    to the default language, visibly, if ``default`` itself has no template.
    """
    country = (mailing_country_code or "").strip().upper()
    candidates = (contact_language, country_map.get(country) if country else None, owner_language)
    for candidate in candidates:
        code = normalize_language(candidate, available)
        if code is not None and code in available:
            return code
    return normalize_language(default) or default


def requested_language(
    contact_language: str | None,
    mailing_country_code: str | None,
    country_map: Mapping[str, str],
    owner_language: str | None,
    default: str,
) -> str:
    """The language the record asks for, in :func:`choose_language`'s order, whether or not
    prepbot has templates in it. When it differs from the chosen one, the message is a visible
    fallback (``X-Prepbot-Template: ... (fallback from de)``, ledger reason ``fallback: de→en``).
    """
    country = (mailing_country_code or "").strip().upper()
    for candidate in (contact_language, country_map.get(country) if country else None, owner_language):
        code = normalize_language(candidate)
        if code is not None:
            return code
    return normalize_language(default) or default


def babel_locale(language: str, country_code: str | None = None) -> str:
    """The CLDR locale for a language spoken in a country, when CLDR knows the pair.

    ``("en", "GB")`` -> "en_GB" (day-month order, 24-hour clock); ``("nl", "BE")`` -> "nl_BE";
    ``("ru", "NL")`` -> "ru" (no such CLDR locale, so the language's own conventions).
    """
    country = (country_code or "").strip().upper()
    if re.fullmatch(r"[A-Z]{2}", country) and localedata.exists(f"{language}_{country}"):
        return f"{language}_{country}"
    return language if localedata.exists(language) else "en"
