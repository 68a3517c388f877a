"""Helpers shared by the tests."""

# The id of one pytest run, shared by its pytest-xdist workers through their environment:
# set by tests/conftest.py, read by tests/support/stack.py.
SHARED_ENV = "TESTS_SHARED_RUN_ID"
