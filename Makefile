# Shortcuts for the commands in the README. The scripts do the work; see scripts/stack/.
#   make run | test | test-fast | lint | format | typecheck | migrations-check | migrate | reset | compose-check
# Pass pytest arguments with ARGS: make test ARGS="-k relay -x"

VENV := .venv/bin
ARGS ?=

.DEFAULT_GOAL := help
.PHONY: help bootstrap run test test-fast lint format typecheck migrations migrations-check migrate \
	superuser reset reset-all compose-check

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-18s %s\n", $$1, $$2}'

bootstrap: ## create .venv with the dev requirements and npm packages
	./scripts/bootstrap --dev

run: ## serve the app with embedded PostgreSQL, Valkey, testnet and workers
	./scripts/run

test: ## lint, type-check and run pytest against real servers (ARGS go to pytest)
	./scripts/test $(ARGS)

test-fast: ## the inner loop: no browser, npm-interop or process tests, fewer examples, parallel
	SKIP_LINT=1 ./scripts/test --fast $(ARGS)

lint: bootstrap ## ruff check and ruff format --check
	$(VENV)/ruff check .
	$(VENV)/ruff format --check .

format: bootstrap ## ruff format and ruff check --fix
	$(VENV)/ruff format .
	$(VENV)/ruff check --fix .

typecheck: bootstrap ## mypy with the test settings
	./scripts/devstack exec --profile test -- $(VENV)/mypy .

migrations: bootstrap ## makemigrations
	./scripts/manage makemigrations

migrations-check: bootstrap ## fail when a model change has no migration
	./scripts/manage makemigrations --check --dry-run

migrate: ## migrate the database of a running ./scripts/run
	./scripts/manage migrate

superuser: ## create an admin user in the database of a running ./scripts/run
	./scripts/manage createsuperuser

reset: ## delete the local run data (.data/run); stop ./scripts/run first
	./scripts/reset run

reset-all: ## delete all local data including .data/local.env (keeps .venv)
	./scripts/reset all

compose-check: bootstrap ## validate docker-compose.yml offline (no Docker engine needed)
	./scripts/devstack exec --profile test -- $(VENV)/pytest tests/infra/test_compose.py -q
