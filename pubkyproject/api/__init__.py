"""Building blocks shared by every API view: one base view, the policy wrapper, errors, limits.

Everything the apps' ``apis.py`` modules need to behave alike lives here, so that each view only
parses input, asks the one access policy (``pubkyproject.policy``), calls one service or selector
and shapes the output. Request limits (body size, JSON nesting, control characters) are in
``limits`` and applied by ``parsers``, ``body_limit`` (ASGI) and ``ApiView.parse``/``query``.
"""
