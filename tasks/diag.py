"""Diagnostics: each task answers one question about the staging setup."""

from invoke import Collection

from stagingkub.cli import load_settings, task


@task
def config(c, profile=None):
    """Print the effective settings and where each value came from (secrets masked)."""
    settings = load_settings(profile)
    rows = settings.rows()
    title = f"profile: {settings.profile}" if settings.profile else "profile: (none)"
    print(title)
    key_width = max(len(key) for key, _, _ in rows)
    value_width = max(len(value) for _, value, _ in rows)
    for key, value, source in rows:
        print(f"{key.ljust(key_width)}  {value.ljust(value_width)}  {source}")


ns = Collection("diag", config)
