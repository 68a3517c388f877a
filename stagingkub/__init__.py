"""stagingkub: the library behind the invoke tasks (no invoke imports below stagingkub.cli)."""
