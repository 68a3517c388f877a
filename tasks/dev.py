"""invoke dev: deploy, then build, push and deploy again on every save that changes the app."""

from stagingkub.cli import command_runner, load_settings, task

LOGS_HELP = (
    "Stream the app's pod logs between cycles: on by default on a terminal; --logs forces "
    "it on, --logs=off turns it off."
)


@task(
    optional=["logs"],
    help={
        "version": "Image tag to build and deploy on each change, e.g. 1.1.0-SNAPSHOT; default: "
        "the project's version (pom.xml, image.version or git describe).",
        "poll": "Poll for changes (every dev.poll_interval) instead of native file events.",
        "logs": LOGS_HELP,
        "live": "auto (default: dev.live): a change to classes or resources only is compiled "
        "here, copied into the running pod and served after an in-container restart, with no "
        "image build; off: every change runs build, push and helm.",
        "forward": "[LOCAL:]PORT: keep localhost:LOCAL forwarded to the app's current pod "
        "across rollouts and restarts (default: dev.forward), e.g. 8080 or 9090:8080.",
    },
)
def dev(c, version=None, poll=False, logs=None, live=None, forward=None, profile=None):
    """Deploy, then watch the app's files: each change runs build, push and helm (Ctrl-C stops)."""
    import sys

    from stagingkub import validate
    from stagingkub.dev.loop import DRY_REFUSAL, Loop
    from stagingkub.errors import InputError
    from stagingkub.release.image import ImageSpec
    from stagingkub.release.version import announce

    follow = _logs_wanted(logs, sys.stderr.isatty())  # a bad --logs: before a word or a read
    live = validate.choice("auto", "off")(live, "--live") if live is not None else None
    forward = validate.forward(str(forward), "--forward") if forward is not None else None
    settings = load_settings(profile)
    runner = command_runner(c, settings)
    if runner.dry:  # before anything is said or read
        raise InputError(DRY_REFUSAL)
    image = ImageSpec.from_settings(settings, announce(settings, version))
    live = live or settings.dev.live
    forward = settings.dev.forward if forward is None else forward
    Loop(runner, settings, image, poll=poll, logs=follow, live=live, forward=forward).run()


def _logs_wanted(flag, terminal: bool) -> bool:
    if flag is None:
        return terminal
    if isinstance(flag, bool):
        return flag
    words = {"on": True, "yes": True, "true": True, "off": False, "no": False, "false": False}
    if str(flag).lower() not in words:
        from stagingkub.errors import InputError

        raise InputError(f"--logs is {flag!r}; give --logs (on) or --logs=off.")
    return words[str(flag).lower()]
