"""invoke dev: watch the app's inputs and run build, push and helm after each batch of changes."""
