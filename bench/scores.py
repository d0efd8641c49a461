"""Recalculate sovereignty scores for 100,000 domains and print the time and query counts.

Goal (issue: domain services): ``recalculate_scores`` over 100,000 domains within 10 s on this
machine, with a bounded number of queries per batch.

Usage: ``DATABASE_URL=… REDIS_URL=… python bench/scores.py [--domains 100000] [--runs 3]``
(``./scripts/test`` and ``./scripts/run`` export DATABASE_URL). It works in a scratch database
that it creates and drops.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

from _django import median, scratch_database

SEED_SQL = """
INSERT INTO users (password, is_superuser, username, first_name, last_name, email, is_staff,
                   is_active, date_joined, pubky_url)
VALUES ('!', false, 'bench', '', '', '', false, true, now(), '');

INSERT INTO families (name, slug, description, owner_id, visibility, pubky_url,
                      pubky_homeserver_url, pubky_relay_url, pubky_enabled,
                      guardian_approval_required, guardian_threshold, created_at, updated_at)
SELECT 'Family ' || g, 'family-' || g, '', (SELECT id FROM users LIMIT 1), 'private', '',
       '', '', false, false, 1, now(), now()
  FROM generate_series(1, %(families)s) g;

INSERT INTO domain_records (name, family_id, visibility, status, registrar, dns_provider,
                            self_hosted_homeserver, sovereignty_score, pubky_enabled,
                            pubky_homeserver_url, pubky_relay_url, created_at, updated_at)
SELECT 'd' || g || '.example',
       (SELECT min(id) FROM families) + g %% %(families)s,
       CASE WHEN g %% 5 = 0 THEN 'public' ELSE 'private' END, 'active',
       CASE WHEN g %% 3 = 0 THEN '' ELSE 'Registrar Inc.' END, '',
       g %% 7 = 0, 0, g %% 3 = 0, '', '', now(), now()
  FROM generate_series(1, %(domains)s) g;

INSERT INTO dns_records (domain_id, name, rtype, value, ttl, created_at, updated_at)
SELECT d.id, n.name, 'A', '192.0.2.' || (d.id %% 250 + 1), 3600, now(), now()
  FROM domain_records d CROSS JOIN (VALUES ('@'), ('www')) AS n(name);

INSERT INTO pubky_domains (name, family_id, domain_id, public_key, private_key_encrypted,
                           key_custody, key_verification, pubky_url, homeserver_url,
                           visibility, status, created_at, updated_at)
SELECT 'p-' || d.name, d.family_id, d.id,
       substr(md5(d.id::text) || md5('k' || d.id::text), 1, 52),
       CASE WHEN d.id %% 2 = 0 THEN NULL ELSE '\\x01'::bytea END,
       CASE WHEN d.id %% 2 = 0 THEN 'family' ELSE 'service' END,
       CASE WHEN d.id %% 2 = 0 THEN (CASE WHEN d.id %% 4 = 0 THEN 'proven' ELSE 'unverified' END)
            ELSE 'held' END, '', '', 'private',
       CASE WHEN d.id %% 9 = 0 THEN 'draft' ELSE 'active' END, now(), now()
  FROM domain_records d WHERE d.pubky_enabled;

INSERT INTO pkarr_records (pubky_domain_id, relay_url, status, attempts, error,
                           expires_at, served_timestamp, verified_at)
SELECT p.id, 'http://127.0.0.1:' || (15411 + r), 'published', 1, '', now() + interval '1 day',
       1, now()
  FROM pubky_domains p CROSS JOIN generate_series(0, 2) r
 WHERE r < 1 + p.id %% 3;

INSERT INTO federation_guardians (family_id, name, email, pubky_public_key, status,
                                  pubky_backup_status, pubky_backup_url, created_at,
                                  updated_at, pubky_backup_verified_at)
SELECT f.id, 'Guardian', '', '', 'active',
       CASE WHEN f.id %% 2 = 0 THEN 'current' ELSE 'stale' END, '', now(), now(),
       CASE WHEN f.id %% 2 = 0 THEN now() END
  FROM families f;

INSERT INTO domain_migrations (domain_id, direction, state, challenge_name, challenge_value,
                               approvals_required, previous_state, error, created_at,
                               updated_at)
SELECT d.id, 'dns_to_pubky', 'completed', '', '', 0, '{}', '', now(), now()
  FROM domain_records d WHERE d.pubky_enabled AND d.id %% 2 = 0;
ANALYZE;
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--domains", type=int, default=100_000)
    parser.add_argument("--families", type=int, default=1_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=5000)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    if not os.environ.get("REDIS_URL"):
        # Without it every live event would fail to send at once and the time would be too good.
        sys.exit("error: set REDIS_URL (./scripts/test and ./scripts/run export one)")

    with scratch_database("pubky_bench_scores"):
        from django.core.management import call_command
        from django.db import connection

        from domains.models import SovereigntyScore
        from domains.services.scoring import sovereignty_scores_recalculate

        call_command("migrate", verbosity=0)
        started = time.perf_counter()
        with connection.cursor() as cursor:
            cursor.execute(SEED_SQL, {"domains": args.domains, "families": args.families})
        print(f"seeded {args.domains} domains in {time.perf_counter() - started:.1f}s")

        def timed(force: bool) -> tuple[float, int, int, int]:
            queries = 0

            def count(execute, sql, params, many, context):
                nonlocal queries
                queries += 1
                return execute(sql, params, many, context)

            with connection.execute_wrapper(count):
                t0 = time.perf_counter()
                report = sovereignty_scores_recalculate(
                    batch_size=args.batch_size, force=force, workers=args.workers
                )
                elapsed = time.perf_counter() - t0
            # The service counts its own statements (COPY and worker threads' queries go past
            # this connection's wrapper); the wrapper checks the count when workers == 1.
            if args.workers == 1:
                assert queries <= report.statements
            return elapsed, report.statements, report.batches, report.changed

        first = timed(force=False)
        print(
            f"first calculation (every domain new): {first[0]:.2f}s, {first[3]} rows stored, "
            f"{first[1]} queries in {first[2]} batches ({first[1] / max(first[2], 1):.1f}/batch)"
        )
        unchanged, forced = [], []
        for _ in range(args.runs):
            unchanged.append(timed(force=False))
            forced.append(timed(force=True))
        u = median([r[0] for r in unchanged])
        f = median([r[0] for r in forced])
        print(
            f"recalculation, nothing changed: median {u:.2f}s over {args.runs} runs, "
            f"{unchanged[0][1]} queries in {unchanged[0][2]} batches"
        )
        print(
            f"recalculation, --force (a history row per domain): median {f:.2f}s over "
            f"{args.runs} runs, {forced[0][1]} queries in {forced[0][2]} batches "
            f"({forced[0][1] / max(forced[0][2], 1):.1f}/batch)"
        )
        print(f"score rows stored: {SovereigntyScore.objects.count()}")
        print(
            f"goal: <= 10 s for {args.domains} domains -> worst median {max(u, f, first[0]):.2f}s"
        )


if __name__ == "__main__":
    main()
