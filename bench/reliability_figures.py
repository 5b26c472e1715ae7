"""The figures of a reliability run (reliability.md, "Figures a reliability run reports") and its targets."""

from __future__ import annotations

import statistics
from typing import TYPE_CHECKING, Any

from bench import reliability_oracle as oracle
from bench.reliability_stack import Stack, secret_hits
from prepbot.domain import ActionRow, Status

if TYPE_CHECKING:
    from bench.reliability import Run


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (0 for no values)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered) + 0.5) - 1))]


def figures(stack: Stack, run: Run, ticks: int, wall: float) -> dict[str, Any]:
    """Every figure of the run, from the ledger, the relay, the org and the files it left."""
    obs = oracle.observe(stack, with_tasks=True)
    meetings = len(stack.world.events)
    errors = oracle.send_errors(obs)
    first_try = [minutes for minutes, row in errors if row.attempt == 1]
    answered = [s for s in obs.stored if s.answered]
    state = oracle.summary(obs)
    ledger_file = stack.workdir / "ledger.sqlite"
    leaks = secret_hits(
        [stack.workdir / "prepbot.log", stack.workdir / "errors.txt", ledger_file, stack.workdir / "relay"]
    )
    sf_fired = fired_faults(stack)
    return {
        "seed": run.seed,
        "replay": (
            f"python -m bench.reliability --seed {run.seed} --meetings {run.meetings} --faults {run.faults}"
            f" --days {run.days} --step {run.step.total_seconds() / 60:g} --sync-every {run.sync_every}"
        ),
        "meetings": meetings,
        "late_bookings": run.late_bookings,
        "ticks": ticks,
        "dispatch_interval_minutes": run.step.total_seconds() / 60,
        "faults_injected": sum(run.injected.values()),
        "faults_by_type": dict(sorted(run.injected.items())),
        "faults_fired": {**sf_fired, **{f"crash:{k}": v for k, v in sorted(stack.crashes.items())}},
        "duplicates": len(oracle.duplicates(obs)),
        "silent_losses": len(oracle.silent_losses(obs)),
        "wrong_sends": len(oracle.wrong_sends(obs)),
        "left_mid_send": sum(1 for r in obs.rows if r.status in oracle.MID_SEND),
        "in_doubt": state["in_doubt"],
        "in_doubt_alerted": state["in_doubt_alerted"],
        "in_doubt_owner_task": state["in_doubt_owner_task"],
        "ledger_rows_by_status": state["by_status"],
        "messages_at_relay": len(obs.stored),
        "send_time_error_minutes": _spread([m for m, _ in errors]),
        "send_time_error_first_attempt_minutes": _spread(first_try),
        "salesforce_api_calls": stack.org.api_calls.used,
        "salesforce_api_calls_per_meeting": round(stack.org.api_calls.used / max(1, meetings), 2),
        "smtp_attempts": stack.relay.attempts,
        "smtp_attempts_per_accepted_mail": round(stack.relay.attempts / max(1, len(answered)), 3),
        "template_failures": sum(
            1 for r in obs.rows if r.status is Status.FAILED and r.reason.startswith("template")
        ),
        "secret_leak_hits": sum(leaks.values()),
        "secret_leak_files": leaks,
        "wall_time_seconds": round(wall, 1),
        "slowest_sends": slowest(stack, errors),
        "violations": explain(obs, oracle.violations(obs, stack.now, settled=True, final=True)[:30]),
    }


def slowest(stack: Stack, errors: list[tuple[float, ActionRow]], n: int = 3) -> list[str]:
    """The ``n`` latest sends against their planned time, with the reasons the ledger gave on the way."""
    out = []
    for minutes, row in sorted(errors, key=lambda e: -e[0])[:n]:
        reasons = [t.reason for t in stack.app.ledger.history(row.id) if t.reason]
        out.append(f"{minutes:g} min, attempt {row.attempt}, {row.time_zone}: {' | '.join(reasons)}")
    return out


def explain(obs: oracle.Observation, found: list[str]) -> list[str]:
    """Each violation with the history of the Event it names (what the run did to it)."""
    out = []
    for line in found:
        tracks = [t for t in obs.world.events.values() if t.event_id in line]
        history = "; ".join(
            f"{at:%m-%d %H:%M} {occ or 'deleted'}" for t in tracks for at, occ, _ in t.versions
        )
        out.append(f"{line} [history: {history}]" if history else line)
    return out


def fired_faults(stack: Stack) -> dict[str, int]:
    fired: dict[str, int] = {}
    for fault in stack.org.faults.list():
        if fault["fired"]:
            name = f"salesforce:{fault['kind']}"
            fired[name] = fired.get(name, 0) + int(fault["fired"])
    for kind, count in sorted(stack.relay.fired.items()):
        fired[f"smtp:{kind}"] = count
    return fired


def _spread(values: list[float]) -> dict[str, float]:
    return {
        "count": len(values),
        "p50": percentile(values, 50),
        "p99": percentile(values, 99),
        "max": max(values, default=0.0),
        "mean": round(statistics.fmean(values), 2) if values else 0.0,
    }


def targets(found: dict[str, Any]) -> list[tuple[str, bool, str]]:
    """(target, met, the value) for each target of issue 6."""
    interval = found["dispatch_interval_minutes"]
    first = found["send_time_error_first_attempt_minutes"]
    return [
        ("0 duplicates", found["duplicates"] == 0, str(found["duplicates"])),
        ("0 silent losses", found["silent_losses"] == 0, str(found["silent_losses"])),
        ("0 wrong sends", found["wrong_sends"] == 0, str(found["wrong_sends"])),
        ("0 secret leaks", found["secret_leak_hits"] == 0, str(found["secret_leak_hits"])),
        (
            "every in-doubt row alerted",
            found["in_doubt_alerted"] == found["in_doubt"],
            f"{found['in_doubt_alerted']}/{found['in_doubt']}",
        ),
        ("no row left claimed/sending", found["left_mid_send"] == 0, str(found["left_mid_send"])),
        (
            f"send-time error (first attempt) within one dispatch interval ({interval:g} min)",
            0 <= first["max"] <= interval,
            f"max {first['max']:g} min",
        ),
    ]


def markdown(found: dict[str, Any], results: list[tuple[str, bool, str]]) -> str:
    """The short Markdown summary."""
    err, first = found["send_time_error_minutes"], found["send_time_error_first_attempt_minutes"]
    faults = ", ".join(f"{k} {v}" for k, v in found["faults_by_type"].items())
    statuses = ", ".join(f"{k} {v}" for k, v in found["ledger_rows_by_status"].items())
    calls = f"{found['salesforce_api_calls_per_meeting']} ({found['salesforce_api_calls']} calls)"
    lines = [
        f"# Reliability run (seed {found['seed']})",
        "",
        f"Replay: `{found['replay']}`",
        "",
        "| figure | value |",
        "|---|---|",
        f"| meetings | {found['meetings']} ({found['late_bookings']} late bookings) |",
        f"| ticks (dispatch interval) | {found['ticks']} ({found['dispatch_interval_minutes']:g} min) |",
        f"| faults injected | {found['faults_injected']} |",
        f"| faults by type | {faults} |",
        f"| duplicates | {found['duplicates']} |",
        f"| silent losses | {found['silent_losses']} |",
        f"| wrong sends | {found['wrong_sends']} |",
        f"| in doubt (alerted; by an owner Task) | {found['in_doubt']} ({found['in_doubt_alerted']}; "
        f"{found['in_doubt_owner_task']}) |",
        f"| messages at the relay | {found['messages_at_relay']} |",
        f"| send-time error, all sends (min) | {_p(err)} |",
        f"| send-time error, first attempt (min) | {_p(first)} |",
        f"| Salesforce API calls per meeting | {calls} |",
        f"| SMTP attempts per accepted mail | {found['smtp_attempts_per_accepted_mail']} |",
        f"| template failures | {found['template_failures']} |",
        f"| secret-leak hits | {found['secret_leak_hits']} |",
        f"| ledger rows by status | {statuses} |",
        f"| wall time | {found['wall_time_seconds']} s |",
        "",
        "| target | result | value |",
        "|---|---|---|",
        *(f"| {t} | {'PASS' if ok else 'FAIL'} | {v} |" for t, ok, v in results),
    ]
    if found["slowest_sends"]:
        lines += ["", "Slowest sends (why, from the ledger history):", ""]
        lines += [f"- {line}" for line in found["slowest_sends"]]
    if found["violations"]:
        lines += ["", "Violations (first 30):", "", *(f"- {v}" for v in found["violations"])]
    return "\n".join(lines)


def _p(spread: dict[str, float]) -> str:
    return f"p50 {spread['p50']:g} / p99 {spread['p99']:g} / max {spread['max']:g} (n={spread['count']:g})"
