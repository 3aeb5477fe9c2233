"""One module per task with a shared fit / predict / evaluate surface."""
