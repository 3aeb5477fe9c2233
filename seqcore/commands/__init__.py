"""Task command modules for the `seqcore` CLI, found by name so each task adds its own file.

A module here may define:
  register(subparsers)          add its top-level commands (set `func=handler` on each parser)
  TRAIN_TASK = "name"           the TASK word of `seqcore train TASK`
  add_train_args(parser)        its `seqcore train TASK` options (set `func=handler`)
Handlers take the argparse namespace and return a JSON-able object (printed to stdout) or None.
"""
