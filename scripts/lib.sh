# Sourced by the entry points in scripts/: run scripts/devstack.py, the entry point of the
# scripts/stack package, with a Python 3.11 (standard library only, so any 3.11 will do before
# .venv exists).

devstack() {
  local root py
  root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
  for py in "${PYTHON:-}" python3.11 python3 /usr/bin/python3.11 "$root/.venv/bin/python"; do
    [ -n "$py" ] || continue
    if command -v "$py" >/dev/null 2>&1 \
      && "$py" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' >/dev/null 2>&1; then
      exec "$py" "$root/scripts/devstack.py" "$@"
    fi
  done
  echo "error: Python 3.11 not found (install python3.11 or set PYTHON=/path/to/python3.11)" >&2
  exit 2
}
