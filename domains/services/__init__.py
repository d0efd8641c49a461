"""Write operations on domains: registration, PKARR publishing, migration, scoring."""
