"""Clients and load tools for Pause's live protocol (not part of the web application)."""
