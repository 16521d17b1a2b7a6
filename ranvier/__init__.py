"""Ranvier: a Matrix homeserver in Python.

Layout: ``core`` holds the pure Matrix protocol (no I/O); ``http`` the web layer;
``api`` thin handlers per spec area; ``db`` storage; ``config`` and ``cli`` the
operator's surface; ``server`` composes the services once at start.
"""

__version__ = "0.1.0"
