"""The back office at /admin (SQLAdmin): site.py mounts it, one file per model view.

Nothing is imported here: settings.py imports `admin.settings`, which must not pull in the
views (they import the settings).
"""
