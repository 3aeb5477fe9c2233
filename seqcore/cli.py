"""The `seqcore` command (also `python -m seqcore`): JSON on stdout, messages on stderr, exit 2 on bad input."""

from __future__ import annotations

import argparse
import importlib
import json
import pkgutil
import sys
from importlib import metadata

import seqcore.commands
from seqcore.distributed import init_from_env, is_main_process, shutdown
from seqcore.errors import SeqcoreError


def emit(obj) -> None:
    """Print one JSON document to stdout."""
    print(json.dumps(obj, indent=2, default=str, ensure_ascii=False))


def versions() -> dict:
    out = {}
    for pkg in ("seqcore", "torch", "torchaudio", "streamlit", "numpy", "pandas", "plotly"):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = None
    out["python"] = sys.version.split()[0]
    return out


def cmd_info(args) -> dict:
    import torch

    from seqcore.checkpoints import list_checkpoints, shipped_dir, usage, user_dir
    from seqcore.device import device_name, pick_device

    device = pick_device()
    return {
        "versions": versions(),
        "device": {"type": device.type, "name": device_name(device), "cuda_available": torch.cuda.is_available()},
        "checkpoints": [c.to_dict() for c in list_checkpoints()],  # user (kept) first, then shipped
        "checkpoint_dirs": {"shipped": str(shipped_dir()), "user": str(user_dir())},
        "user_models": usage(),  # the kept models now and the host's quota (seqcore checkpoints list / delete)
        "train_tasks": sorted(_train_tasks()),
    }


def cmd_rebuild_defaults(args) -> dict:
    """Run each task's SHIPPED list of `seqcore train TASK ...` argument lists."""
    built = {}
    for task, module in sorted(_train_tasks().items()):
        for argv in getattr(module, "SHIPPED", []):
            print(f"seqcore train {task} {' '.join(argv)}", file=sys.stderr)
            ns = build_parser().parse_args(["train", task, *argv])
            built.setdefault(task, []).append(ns.func(ns))
    return built


def _command_modules():
    for info in pkgutil.iter_modules(seqcore.commands.__path__):
        yield importlib.import_module(f"seqcore.commands.{info.name}")


def _train_tasks() -> dict:
    return {m.TRAIN_TASK: m for m in _command_modules() if hasattr(m, "TRAIN_TASK")}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="seqcore", description="Train, run and inspect Sequence Studio's sequence models."
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    sub.add_parser("info", help="versions, device and checkpoints").set_defaults(func=cmd_info)
    train = sub.add_parser("train", help="train a task's model and save a checkpoint")
    train_sub = train.add_subparsers(dest="task", required=True, metavar="TASK")
    for task, module in sorted(_train_tasks().items()):
        module.add_train_args(train_sub.add_parser(task, help=f"train the {task} models"))
    sub.add_parser("rebuild-defaults", help="retrain every shipped default checkpoint (slow)").set_defaults(
        func=cmd_rebuild_defaults
    )
    for module in _command_modules():
        if hasattr(module, "register"):
            module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)  # exits 2 with usage on bad arguments
    init_from_env()
    main_process = is_main_process()  # read before shutdown() forgets the rank
    try:
        out = args.func(args)
    except SeqcoreError as e:
        print(f"seqcore: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("seqcore: interrupted", file=sys.stderr)
        return 130
    finally:
        shutdown()
    if out is not None and main_process:
        emit(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
