"""Static files storage for production: hashed names, compressed copies, module imports hashed.

WhiteNoise's storage names every collected file after its content (``app.3f2a….js``), so
browsers and proxies may keep it for a year, and stores gzip copies next to it. The dashboard's
scripts are ES modules that import each other (``import … from "./api.js"``); Django rewrites
those imports to the hashed names only when asked to, and without it a new deploy could pair a
new entry module with an old module from a cache.
"""

from __future__ import annotations

from whitenoise.storage import CompressedManifestStaticFilesStorage


class StaticFilesStorage(CompressedManifestStaticFilesStorage):
    support_js_module_import_aggregation = True
