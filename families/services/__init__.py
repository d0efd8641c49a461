"""Write operations on users and families. Every write goes through one of these functions."""
