"""`seqcore checkpoints list|delete`: the user registry (models kept from the pages or trained with `seqcore train`).

    seqcore checkpoints list [--user]       checkpoints (kept ones first, oldest kept first), usage and the quota
    seqcore checkpoints delete NAME...      delete kept models (weights + card); exit 2 on an unknown or shipped name
"""

from __future__ import annotations

from seqcore.checkpoints import delete_checkpoint, kept_files, list_checkpoints, usage, user_models


def cmd_list(args) -> dict:
    shipped = [] if args.user else [c for c in list_checkpoints() if c.source == "shipped"]
    return {"checkpoints": [c.to_dict() for c in user_models() + shipped], "user_models": usage()}


def cmd_delete(args) -> dict:
    for name in args.names:  # every name checked first: a typo deletes nothing
        kept_files(name)
    deleted = [{"name": n, "files": [str(p) for p in delete_checkpoint(n)]} for n in dict.fromkeys(args.names)]
    return {"deleted": deleted, "user_models": usage()}


def register(sub) -> None:
    p = sub.add_parser("checkpoints", help="list or delete kept (user) models")
    cmds = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    ls = cmds.add_parser("list", help="checkpoints with size and creation time; kept-model usage and quota")
    ls.add_argument("--user", action="store_true", help="only kept (user) models")
    ls.set_defaults(func=cmd_list)
    rm = cmds.add_parser("delete", help="delete kept models by name (shipped ones are not deleted)")
    rm.add_argument("names", nargs="+", metavar="NAME")
    rm.set_defaults(func=cmd_delete)
