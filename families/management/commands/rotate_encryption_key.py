from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError, CommandParser

from families import keyvault
from families.services.key_rotation import encryption_key_rotate
from pubkyproject.env import parse_encryption_key

NEW_KEY_ENV = "PUBKY_NEW_KEY_ENCRYPTION_KEY"


class Command(BaseCommand):
    help = (
        "Re-encrypt every stored private key under a new encryption key in one transaction. "
        f"The new key is read from ${NEW_KEY_ENV}, --new-key-file or --generate (never from "
        "the command line, where other users could see it)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        source = parser.add_mutually_exclusive_group()
        source.add_argument("--new-key-file", type=Path, help="File holding the new key.")
        source.add_argument(
            "--generate", action="store_true", help="Generate a new key and print it once."
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="Check every key opens; write nothing."
        )

    def _new_key(self, options: dict[str, Any]) -> tuple[bytes, bool]:
        try:
            if options["generate"]:
                return keyvault.generate_encryption_key(), True
            if options["new_key_file"]:
                try:
                    text = options["new_key_file"].read_text()
                except OSError as exc:
                    raise CommandError(
                        f"cannot read {options['new_key_file']}: {exc.strerror}"
                    ) from None
                return parse_encryption_key(text, var="--new-key-file"), False
            if os.environ.get(NEW_KEY_ENV):
                return parse_encryption_key(os.environ[NEW_KEY_ENV], var=NEW_KEY_ENV), False
        except ImproperlyConfigured as exc:
            raise CommandError(str(exc)) from None
        raise CommandError(f"give the new key in ${NEW_KEY_ENV}, --new-key-file or --generate")

    def handle(self, *args: Any, **options: Any) -> None:
        new_key, generated = self._new_key(options)
        try:
            report = encryption_key_rotate(new_key=new_key, dry_run=options["dry_run"])
        except keyvault.KeyVaultError as exc:
            raise CommandError(f"nothing was changed: {exc}") from None
        for label, count in report.counts.items():
            self.stdout.write(f"{label}: {count}")
        action = "would re-encrypt" if options["dry_run"] else "re-encrypted"
        self.stdout.write(
            self.style.SUCCESS(
                f"{action} {report.total} key(s); {report.already_current} already under it"
            )
        )
        if generated and not options["dry_run"]:
            # The only time this key is ever shown; stderr keeps it out of captured stdout logs.
            sys.stderr.write(f"new PUBKY_KEY_ENCRYPTION_KEY={new_key.hex()}\n")
        if not options["dry_run"]:
            self.stdout.write(
                "Now set PUBKY_KEY_ENCRYPTION_KEY to the new key on every process (list the old "
                "one in PUBKY_KEY_DECRYPTION_KEYS until all have restarted)."
            )
