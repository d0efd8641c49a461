"""The leader lock of replicated workers (pubkyproject/leader.py) against real PostgreSQL."""

from __future__ import annotations

import threading

import psycopg
import pytest
from django.db import connection

from pubkyproject.leader import LeaderLock, lock_key, run_as_leader, turn_key
from realtime.services import db_changes_publish
from tests.replicas import wait_until
from tests.servers import free_port

pytestmark = pytest.mark.django_db(transaction=True)


def _sessions_named(name: str) -> list[int]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid FROM pg_stat_activity WHERE application_name = %s",
            [f"pubky-django-leader:{name}"],
        )
        return [row[0] for row in cursor.fetchall()]


def test_one_copy_leads_and_another_takes_over_when_it_releases() -> None:
    first, second = LeaderLock("unit-worker"), LeaderLock("unit-worker")
    try:
        assert first.acquire()
        assert not second.acquire()
        assert first.still_held() and not second.still_held()
        first.release()
        assert second.acquire()
        assert not first.acquire()
    finally:
        first.release()
        second.release()


def test_different_workers_have_different_leaders() -> None:
    relays, watcher = LeaderLock("check_relays"), LeaderLock("watch_homeservers")
    try:
        assert relays.acquire() and watcher.acquire()
    finally:
        relays.release()
        watcher.release()
    assert lock_key("check_relays") != lock_key("watch_homeservers")


def test_a_leader_whose_session_ends_notices_and_the_lock_is_free_again() -> None:
    leader, standby = LeaderLock("unit-dropped"), LeaderLock("unit-dropped")
    try:
        assert leader.acquire()
        (pid,) = _sessions_named("unit-dropped")
        with connection.cursor() as cursor:  # what a PostgreSQL restart or a cut link does
            cursor.execute("SELECT pg_terminate_backend(%s)", [pid])
        assert not leader.still_held()
        assert standby.acquire()
    finally:
        leader.release()
        standby.release()


def test_an_unreachable_database_is_a_failed_try_not_a_crash() -> None:
    lock = LeaderLock("unit-unreachable")
    original = connection.settings_dict["PORT"]
    connection.settings_dict["PORT"] = str(free_port())  # nothing listens there
    try:
        assert not lock.acquire()
        assert not lock.held
    finally:
        connection.settings_dict["PORT"] = original
        lock.release()
    assert lock.acquire()  # and the next try, with the database back, succeeds
    lock.release()


def test_run_as_leader_only_works_while_leading_and_releases_on_stop() -> None:
    holder = psycopg.connect(
        **{
            k: v
            for k, v in connection.get_connection_params().items()
            if k not in ("cursor_factory", "context")
        },
        autocommit=True,
    )
    holder.execute("SELECT pg_advisory_lock(%s, %s)", lock_key("unit-loop"))
    stop = threading.Event()
    said: list[str] = []
    rounds: list[int] = []
    worker = threading.Thread(
        target=lambda: rounds.append(
            run_as_leader(
                "unit-loop",
                stop=stop,
                interval=0.05,
                work=lambda: None,
                say=said.append,
                max_rounds=3,
                poll=0.05,
            )
        )
    )
    worker.start()
    try:
        wait_until(lambda: bool(said), "the loop to report its role")
        assert said == ["unit-loop: standby, another copy leads; taking over when it stops"]
        holder.close()  # the other copy exits
        worker.join(30)
        assert not worker.is_alive()
    finally:
        stop.set()
        holder.close()
    assert rounds == [3]
    assert said[1].startswith("unit-loop: leading")
    assert _sessions_named("unit-loop") == []  # released on the way out


def _session() -> psycopg.Connection:
    params = connection.get_connection_params()
    return psycopg.connect(
        **{k: v for k, v in params.items() if k not in ("cursor_factory", "context")}
    )


def test_copies_of_the_change_listener_take_turns() -> None:
    """A listener that finds another one mid-transaction waits for its commit, so their
    events commit in the order their reads were made."""
    other = _session()  # another copy of pubky_listen, in the middle of its claim
    other.execute("SELECT pg_advisory_xact_lock(%s, %s)", turn_key("pubky_listen"))
    finished = threading.Event()

    def listen_once() -> None:
        try:
            db_changes_publish(limit=10)
        finally:
            connection.close()
            finished.set()

    worker = threading.Thread(target=listen_once)
    worker.start()
    try:

        def waiting() -> bool:
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' "
                    "AND NOT granted AND classid::int = %s AND objid::int = %s",
                    list(turn_key("pubky_listen")),
                )
                return bool(cursor.fetchone()[0])

        wait_until(waiting, "the second listener to wait for its turn")
        assert not finished.is_set()
    finally:
        other.commit()
        other.close()
        worker.join(30)
    assert finished.is_set()
