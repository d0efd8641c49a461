"""Local Pubky testnet: PKARR relays, a homeserver and an HTTP relay on loopback."""
