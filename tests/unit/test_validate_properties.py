"""Property tests: the validators against the distribution reference grammar, and the safety
property that matters for a shell: whatever a validator accepts needs no quoting."""

import re
import shlex

from hypothesis import given, settings
from hypothesis import strategies as st

from stagingkub import references, validate
from stagingkub.errors import InputError

ALNUM = "abcdefghijklmnopqrstuvwxyz0123456789"
component = st.builds(
    lambda first, rest: first + rest,
    st.text(ALNUM, min_size=1, max_size=8),
    st.lists(
        st.tuples(
            st.sampled_from([".", "_", "__", "-", "--"]), st.text(ALNUM, min_size=1, max_size=6)
        ),
        max_size=3,
    ).map(lambda parts: "".join(sep + word for sep, word in parts)),
)
tag = st.from_regex(r"\A[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}\Z")
domain = st.sampled_from(
    ["localhost", "localhost:5000", "registry.example.com", "10.0.0.1:443", "[::1]:5000"]
)
reference = st.builds(
    lambda d, path, t: (f"{d}/" if d else "") + "/".join(path) + (f":{t}" if t else ""),
    st.one_of(st.none(), domain),
    st.lists(component, min_size=1, max_size=3),
    st.one_of(st.none(), tag),
).filter(
    # like docker, a first component with a '.' is read as a registry host: not a path
    lambda ref: (
        ref.startswith(("localhost", "registry.", "10.", "["))
        or "." not in ref.split("/")[0]
        or "/" not in ref
    )
)
VALIDATORS = [
    validate.tag,
    validate.image_reference,
    validate.docker_name,
    validate.namespace,
    validate.cluster_name,
    validate.release_name,
    validate.repository,
    validate.bind_address,
]


@given(tag)
def test_every_tag_of_the_grammar_is_accepted(value):
    assert validate.tag(value, "--version") == value


@given(reference)
@settings(max_examples=300)
def test_every_reference_built_from_the_grammar_is_accepted(value):
    if len(value.rsplit(":", 1)[0]) <= references.MAX_NAME_LENGTH:
        assert validate.image_reference(value, "registry.image") == value


@given(reference, st.sampled_from(list(";$`&|<> \n\t'\"\\()*?!#~é")))
def test_a_shell_character_anywhere_makes_a_reference_invalid(value, bad):
    for index in (0, len(value) // 2, len(value)):
        broken = value[:index] + bad + value[index:]
        try:
            validate.image_reference(broken, "registry.image")
        except InputError:
            continue
        raise AssertionError(f"accepted {broken!r}")


@given(st.text(max_size=40))
@settings(max_examples=500)
def test_whatever_a_validator_accepts_needs_no_shell_quoting(value):
    for check in VALIDATORS:
        try:
            accepted = check(value, "value")
        except InputError:
            continue
        text = str(accepted)
        assert shlex.quote(text) == text or re.fullmatch(r"[0-9a-fA-F:.\[\]]+", text), (
            check.__name__,
            text,
        )
        assert not text.startswith("-"), (check.__name__, text)


@given(st.integers())
def test_ports(value):
    if 1 <= value <= 65535:
        assert validate.port(value, "--port") == value
    else:
        try:
            validate.port(value, "--port")
        except InputError:
            return
        raise AssertionError(value)
