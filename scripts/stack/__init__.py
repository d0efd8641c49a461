"""The development stack behind ``./scripts/run``, ``./scripts/test`` and ``./scripts/manage``.

Standard library only: it runs with any Python 3.11 before ``.venv`` exists. The entry point is
``scripts/devstack.py`` (``./scripts/devstack --help``); each module does one job:

- ``cli``: the command line and the exit codes (2 for bad configuration, 1 for a failed start).
- ``commands/``: one module per subcommand: ``run``, ``test``, ``bootstrap``, ``exec`` and
  ``reset``; ``fast``: what ``test --fast`` runs (markers, Hypothesis profile, xdist workers).
- ``profiles``: the ``run`` and ``test`` profiles (settings, requirements, ports);
  ``ports``: port numbers from the environment and the check that they are free;
  ``environment``: the environment of Django processes and the checks before anything starts.
- ``children``: the processes a command starts, its lock and its PID registry; ``pids``: processes
  known only by PID; ``signals``: Ctrl-C and friends, and foreground steps.
- ``postgres``, ``valkey``, ``testnet``, ``app`` (web server and workers): the servers.
- ``venv``, ``npm``, ``system_packages``: what gets installed, once per change.
- ``envfile`` (``.env``, ``.data/local.env``), ``stackfile`` (``stack.json`` of a running
  ``./scripts/run``), ``paths``, ``console`` and ``errors``.
"""
