"""The ledger: one row per (Event, occurrence, recipient, kind), shared by every prepbot process.

Who may do what, when several workers on several hosts share one PostgreSQL ledger (issue 8):

* Planning. Any process may call ``plan()``: the UNIQUE key with ``ON CONFLICT DO NOTHING`` makes
  a double plan harmless (reliability C7), and on PostgreSQL concurrent plans take turns (a
  transaction-level advisory lock) instead of deadlocking. To avoid doing the work twice, one
  process at a time is *the* planner: the one holding ``planner_lease()``.
* Why an advisory lock. On PostgreSQL the lease is ``pg_try_advisory_lock`` on a dedicated session
  outside the pool: the trusted engine, not a home-made lock table. The lock dies with its session,
  so a SIGKILLed planner, a lost host or a server restart frees it with no expiry to tune, and
  ``idle_session_timeout`` ends the session of a frozen holder that stopped checking ``held()``.
  On SQLite (one host) it is an ``flock`` next to the database file. The lease only saves work:
  it is never what keeps a message single.
* Claiming. Workers take due rows with ``claim_due()`` (``FOR UPDATE SKIP LOCKED`` on PostgreSQL,
  the write lock on SQLite): no row is claimed by two workers at once (C8). A claim is a lease
  (``lease_until``) and bumps ``attempt``.
* Fencing. ``attempt`` is the fencing token: ``settle(..., attempt=)`` is refused with
  StaleClaimError once the row's lease expired and ``recover()`` gave it to another worker, so a
  worker paused past its lease (SIGSTOP, GC, a stuck host) cannot commit over the one that took
  over (C9). A row SENDING when its lease expired becomes IN_DOUBT, never resent blindly. A settle
  repeated with the same attempt (its reply was lost) is a no-op, so retrying it is safe.
* Liveness. Each process calls ``heartbeat()``; ``workers()`` lists them with the rows each holds
  claimed, and ``forget_worker()`` removes one on a clean exit.
* Failures. Every database error is a LedgerError (``retryable`` unless the ledger refused the
  change itself); the pool pings connections before use, so a restarted PostgreSQL costs at most
  one failed tick and loses nothing (C10).
"""
