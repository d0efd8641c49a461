"""The domains API, one module per topic (``domains.urls`` routes them).

``domains`` (domains), ``dns_records``, ``scores`` (sovereignty scores), ``migrations``,
``pubky_domains`` (Pubky domains and their PKARR records) and ``relays``; ``common`` holds what
they share.

Every view parses input, asks the one access policy (``ApiView.readable`` → 404,
``ApiView.require`` → 403), calls one service or selector, and shapes the output. Permission
to create something is asked of the object about to be created (``DnsRecord(domain=…)``), so
the policy's rules for that model decide, not a rule written here.
"""
