"""Checkpoints: weights in safetensors (no pickle) plus a JSON model card, and a registry.

A checkpoint is two files with one stem: NAME.safetensors and NAME.json. Shipped defaults live in
the repo's checkpoints/ (rebuilt by `make models`); user-trained ones in a writable cache dir
(SEQCORE_HOME, default ~/.cache/seqcore). Corrupt or mismatched files raise CheckpointError with
a message a person can act on.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import platform
import re
import shlex
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from seqcore.distributed import is_main_process
from seqcore.errors import CheckpointError

REQUIRED_CARD_KEYS = ("task", "arch", "config")
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,80}$")


def shipped_dir() -> Path:
    env = os.environ.get("SEQCORE_SHIPPED_DIR")
    return Path(env) if env else Path(__file__).resolve().parent.parent / "checkpoints"


def user_dir() -> Path:
    home = os.environ.get("SEQCORE_HOME") or Path.home() / ".cache" / "seqcore"
    return Path(home) / "checkpoints"


def check_name(name: str) -> str:
    """Checkpoint names become file names: letters, digits, '_', '.', '-' only."""
    if not _NAME_RE.match(name or "") or ".." in name:
        raise CheckpointError(f"invalid checkpoint name {name!r}: use letters, digits, '_', '.', '-'")
    return name


def make_card(task: str, arch: str, config: dict, **fields) -> dict:
    """A model card with the provenance every checkpoint must carry; `fields` adds data, metrics, ..."""
    card = {
        "task": task,
        "arch": arch,
        "config": config,
        "data": fields.pop("data", {}),
        "metrics": fields.pop("metrics", {}),
        "train_seconds": fields.pop("train_seconds", None),
        "device": fields.pop("device", None),
        "command": fields.pop("command", shlex.join(["seqcore", *sys.argv[1:]])),
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "versions": {"torch": torch.__version__, "python": platform.python_version()},
        "world_size": torch.distributed.get_world_size() if torch.distributed.is_initialized() else 1,
    }
    card.update(fields)
    return card


def save_checkpoint(model: torch.nn.Module, card: dict, stem: str | Path, *, half: bool = False) -> Path:
    """Write STEM.safetensors (fp16 floats when half) and STEM.json; returns the weights path."""
    missing = [k for k in REQUIRED_CARD_KEYS if k not in card]
    if missing:
        raise CheckpointError(f"model card lacks {missing}")
    stem = Path(stem)
    check_name(stem.name)
    weights = stem.with_suffix(".safetensors")
    if not is_main_process():  # under torchrun only rank 0 writes
        return weights
    stem.parent.mkdir(parents=True, exist_ok=True)
    tensors = {}
    for k, v in model.state_dict().items():
        v = v.detach().cpu()
        if half and v.is_floating_point():
            v = v.to(torch.float16)
        tensors[k] = v.contiguous().clone()  # clone: safetensors refuses tensors that share storage
    card = {**card, "name": stem.name, "dtype": "float16" if half else "float32"}
    save_file(tensors, str(weights), metadata={"task": card["task"], "arch": card["arch"]})
    stem.with_suffix(".json").write_text(json.dumps(card, indent=2, default=str))
    return weights


def zip_bytes(save, model, card: dict, name: str) -> bytes:
    """A download: the zip of NAME.safetensors + NAME.json that `save(model, card, name, out)` writes.

    save: the task's protocol save, so the download is byte for byte what the task keeps on disk.
    """
    import io
    import tempfile
    import zipfile

    buf = io.BytesIO()
    with tempfile.TemporaryDirectory() as tmp, zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        stem = Path(save(model, card, name, out=tmp)).with_suffix("")
        for suffix in (".safetensors", ".json"):
            z.write(stem.with_suffix(suffix), f"{stem.name}{suffix}")
    return buf.getvalue()


# Parsed cards by path, kept while the file's (inode, mtime, size) is unchanged. Pages list the registry several times
# per rerun and the shipped cards hold training curves and vocabularies (about 1.7 MB of JSON in all): parsing
# them on every rerun cost more than most page scripts themselves.
_CARDS: dict[Path, tuple[tuple[int, int, int], dict]] = {}
_CARDS_LOCK = threading.Lock()


def read_card(stem: str | Path) -> dict:
    """STEM.json as a dict (CheckpointError if missing, corrupt or incomplete). The top level is a fresh copy per
    call, so `card["metrics"] = ...` is safe; nested values are shared with the cache: copy them before changing."""
    path = Path(stem).with_suffix(".json")
    try:
        st = path.stat()
        key = (st.st_ino, st.st_mtime_ns, st.st_size)  # a rewrite by rename has a new inode
        with _CARDS_LOCK:
            cached = _CARDS.get(path)
        if cached is not None and cached[0] == key:
            return dict(cached[1])
        card = json.loads(path.read_text())
    except FileNotFoundError:
        raise CheckpointError(f"no model card at {path}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise CheckpointError(f"model card {path.name} is corrupt ({e}); retrain or restore it") from None
    if not isinstance(card, dict) or any(k not in card for k in REQUIRED_CARD_KEYS):
        raise CheckpointError(f"model card {path.name} lacks task/arch/config; retrain or restore it")
    with _CARDS_LOCK:
        _CARDS[path] = (key, card)
    return dict(card)


def load_checkpoint(stem: str | Path) -> tuple[dict[str, torch.Tensor], dict]:
    """(state_dict, card) from STEM.safetensors + STEM.json; never unpickles anything."""
    stem = Path(stem)
    card = read_card(stem)
    weights = stem.with_suffix(".safetensors")
    try:
        state = load_file(str(weights))
    except FileNotFoundError:
        raise CheckpointError(f"weights file {weights.name} is missing") from None
    except (SafetensorError, OSError, ValueError) as e:
        raise CheckpointError(f"weights file {weights.name} is corrupt ({e}); retrain or restore it") from None
    return state, card


def load_weights(model: torch.nn.Module, state: dict[str, torch.Tensor], name: str = "checkpoint") -> None:
    """Copy `state` into `model` (casting fp16 to the model's dtype); CheckpointError on any mismatch."""
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as e:
        first = str(e).strip().splitlines()
        detail = first[1].strip() if len(first) > 1 else first[0]
        raise CheckpointError(f"{name} does not fit this model: {detail[:300]}") from None


@dataclass
class CheckpointInfo:
    name: str
    task: str
    arch: str
    source: str  # shipped | user
    stem: Path
    card: dict

    def to_dict(self) -> dict:
        metrics = self.card.get("metrics", {})
        return {"name": self.name, "task": self.task, "arch": self.arch, "source": self.source,
                "path": str(self.stem.with_suffix(".safetensors")), "created": self.card.get("created"),
                "size_mb": round(checkpoint_bytes(self.stem) / 2**20, 3), "metrics": metrics}


def list_checkpoints(task: str | None = None) -> list[CheckpointInfo]:
    """Every readable checkpoint, user-trained first, then shipped; unreadable cards are skipped."""
    found = []
    for source, folder in (("user", user_dir()), ("shipped", shipped_dir())):
        if not folder.is_dir():
            continue
        for card_path in sorted(folder.glob("*.json")):
            stem = card_path.with_suffix("")
            if not stem.with_suffix(".safetensors").exists():
                continue
            try:
                card = read_card(stem)
            except CheckpointError:
                continue
            if task is None or card["task"] == task:
                found.append(CheckpointInfo(stem.name, card["task"], card["arch"], source, stem, card))
    return found


def find_checkpoint(name: str, task: str | None = None) -> CheckpointInfo:
    check_name(name)
    for info in list_checkpoints(task):
        if info.name == name:
            return info
    where = f" for task {task!r}" if task else ""
    raise CheckpointError(f"no checkpoint named {name!r}{where}; `seqcore info` lists them")


def info_at(stem: str | Path, source: str = "user") -> CheckpointInfo:
    """The registry entry for the checkpoint at STEM (any folder): for loading a file the registry does not list."""
    stem = Path(stem)
    card = read_card(stem)
    return CheckpointInfo(stem.name, card["task"], card["arch"], source, stem, card)


def as_info(name_or_info: str | CheckpointInfo, task: str) -> CheckpointInfo:
    """A checkpoint name of `task` (or an entry already) -> its registry entry."""
    return name_or_info if isinstance(name_or_info, CheckpointInfo) else find_checkpoint(name_or_info, task)


def restore(info: CheckpointInfo, build, name: str | None = None):
    """(model, state, card): build(card) -> nn.Module, weights loaded (fp16 cast to the model's dtype), eval mode.

    The one place that turns files into a model: a card that cannot rebuild its model (missing or wrong
    fields) and weights that do not fit both raise CheckpointError naming the checkpoint.
    """
    name = name or info.name
    state, card = load_checkpoint(info.stem)
    try:
        model = build(card)
    except (KeyError, TypeError, ValueError, AttributeError) as e:
        raise CheckpointError(f"model card {name}.json cannot rebuild its model ({e}); retrain or restore it"
                              ) from None
    load_weights(model, state, name)
    return model.eval(), state, card


def best_checkpoint(task: str, metric: str, *, higher: bool = True) -> CheckpointInfo:
    """The checkpoint of `task` whose card has the best held-out `metric` (ties: user-trained first)."""
    ranked = [c for c in list_checkpoints(task) if isinstance(c.card.get("metrics", {}).get(metric), (int, float))]
    if not ranked:
        raise CheckpointError(f"no {task} checkpoint has a held-out {metric} in its model card; "
                              f"`seqcore train {task}` makes one")
    sign = 1 if higher else -1
    return max(ranked, key=lambda c: sign * c.card["metrics"][metric])


def weights_sha256(model: torch.nn.Module | dict[str, torch.Tensor]) -> str:
    """SHA-256 over a model's state_dict (or a state dict) in key order: each key, dtype, shape and raw bytes.

    Two models hash equal only if every tensor is bit-identical, so a shared cached model that some session
    modified in place (an optimizer step, a `.half()`, a buffer update) shows up as a changed hash.
    """
    import hashlib

    state = model.state_dict() if isinstance(model, torch.nn.Module) else model
    h = hashlib.sha256()
    for key, t in state.items():
        t = t.detach().cpu().contiguous()
        h.update(f"{key}|{t.dtype}|{tuple(t.shape)}\n".encode())
        # view as bytes rather than .numpy(): numpy has no bfloat16
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return h.hexdigest()


def find_modules(obj, path: str = "", depth: int = 4) -> list[tuple[str, torch.nn.Module, str | None]]:
    """(path, module, checkpoint name or None) for each distinct top-level nn.Module inside `obj`.

    Containers and seqcore objects are searched `depth` levels deep; a module's own submodules are not listed.
    The name comes from the nearest model card beside the module (a `card` attribute, or a card dict in the
    same tuple, as `load()` functions return). For listing what a cache holds.
    """
    found: list[tuple[str, torch.nn.Module, str | None]] = []
    seen: set[int] = set()

    def card_name(card) -> str | None:
        return card.get("name") if isinstance(card, dict) and "task" in card else None

    def walk(o, p: str, d: int, name: str | None) -> None:
        if id(o) in seen:
            return
        seen.add(id(o))
        if isinstance(o, torch.nn.Module):
            found.append((p, o, name))
        elif d <= 0 or isinstance(o, (str, bytes, torch.Tensor)):
            return
        elif isinstance(o, dict):
            for k, v in o.items():
                walk(v, f"{p}[{k!r}]", d - 1, name)
        elif isinstance(o, (list, tuple)):
            name = next((n for v in o if (n := card_name(v))), name)
            for i, v in enumerate(o):
                walk(v, f"{p}[{i}]", d - 1, name)
        # only our own objects: walking pandas or numpy internals would be slow and never finds a model
        elif type(o).__module__.startswith("seqcore") and hasattr(o, "__dict__"):
            attrs = vars(o)
            name = card_name(attrs.get("card")) or name
            for k, v in attrs.items():
                walk(v, f"{p}.{k}", d - 1, name)

    walk(obj, path, depth, None)
    return found


def file_version(stem: str | Path) -> tuple[int, int, int, int]:
    """(mtime_ns, size) of STEM.safetensors and STEM.json (0s for a missing file): changes when either is rewritten."""
    out: list[int] = []
    for suffix in (".safetensors", ".json"):
        try:
            st = Path(stem).with_suffix(suffix).stat()
            out += [st.st_mtime_ns, st.st_size]
        except OSError:
            out += [0, 0]
    return tuple(out)  # type: ignore[return-value]


_SHARED: dict[tuple, object] = {}
_SHARED_LOCK = threading.Lock()
SHARED_MAX = 4


def shared_load(load, info: CheckpointInfo):
    """`load(info)` once per checkpoint file version, shared by every caller; its models are put in eval mode
    with requires_grad off, so callers must treat the result as read-only.

    For read-only views of a checkpoint (the attention explorer's probes): a new input reuses the loaded model
    instead of reading the weights again. The last SHARED_MAX results are kept; a rewritten checkpoint (new
    mtime or size) is read again. `load` must be a module-level function (it is part of the key).
    """
    key = (load, str(info.stem), file_version(info.stem))
    with _SHARED_LOCK:
        if key in _SHARED:
            _SHARED[key] = _SHARED.pop(key)  # most recently used last
            return _SHARED[key]
    value = load(info)
    for _, module, _ in find_modules(value):
        module.eval().requires_grad_(False)
    with _SHARED_LOCK:
        _SHARED[key] = value
        while len(_SHARED) > SHARED_MAX:
            _SHARED.pop(next(iter(_SHARED)))
    return value


def clear_shared() -> None:
    """Forget every model shared_load holds."""
    with _SHARED_LOCK:
        _SHARED.clear()


# ---------------------------------------------------------------- kept models: the user registry's quota

MAX_USER_MODELS, MAX_USER_MB = 20, 200  # defaults of SEQCORE_MAX_USER_MODELS and SEQCORE_MAX_USER_MB
_USER_LOCK = threading.Lock()  # one save-and-trim at a time per process (replicas may race: removal tolerates it)


@dataclass(frozen=True)
class Quota:
    """How much the user registry may hold: `models` checkpoints and `mb` megabytes (weights + cards)."""

    models: int
    mb: float

    @property
    def bytes(self) -> int:
        return int(self.mb * 2**20)

    def describe(self) -> str:
        return f"{self.models} model{'s' * (self.models != 1)} and {self.mb:g} MB"


def user_quota() -> Quota:
    """The host's quota from SEQCORE_MAX_USER_MODELS (default 20) and SEQCORE_MAX_USER_MB (default 200);
    CheckpointError naming the variable when one is not a positive number."""
    values = []
    for var, default, kind in (("SEQCORE_MAX_USER_MODELS", MAX_USER_MODELS, int),
                               ("SEQCORE_MAX_USER_MB", MAX_USER_MB, float)):
        raw = os.environ.get(var, "").strip()
        try:
            value = kind(raw) if raw else default
        except ValueError:
            value = -1
        if not 0 < value < float("inf"):  # also refuses nan
            raise CheckpointError(f"{var}={raw!r} is not a positive {'whole ' * (kind is int)}number: the host must "
                                  f"fix it (default {default})")
        values.append(value)
    return Quota(*values)


def checkpoint_bytes(stem: str | Path) -> int:
    """Bytes of STEM.safetensors + STEM.json (0 for a missing file)."""
    total = 0
    for suffix in (".safetensors", ".json"):
        with contextlib.suppress(OSError):
            total += Path(stem).with_suffix(suffix).stat().st_size
    return total


def size_text(nbytes: int) -> str:
    """A file size for people: "840 KB", "12.5 MB"."""
    return f"{nbytes / 2**20:.1f} MB" if nbytes >= 2**20 else f"{max(1, round(nbytes / 1024))} KB"


def _saved_at(info: CheckpointInfo) -> int:
    try:
        return info.stem.with_suffix(".safetensors").stat().st_mtime_ns
    except OSError:
        return 0


def user_models() -> list[CheckpointInfo]:
    """The readable checkpoints in the user registry (kept from a page or trained by `seqcore train`), oldest
    saved first: the order in which the quota removes them."""
    return sorted((c for c in list_checkpoints() if c.source == "user"), key=lambda c: (_saved_at(c), c.name))


def usage() -> dict:
    """The user registry now and its quota: {"models", "mb", "max_models", "max_mb"}."""
    models, quota = user_models(), user_quota()
    return {"models": len(models), "mb": round(sum(checkpoint_bytes(m.stem) for m in models) / 2**20, 2),
            "max_models": quota.models, "max_mb": quota.mb}


def _over(models: list[CheckpointInfo], extra: tuple[int, int], quota: Quota, spare: set[str]) -> list[CheckpointInfo]:
    """Oldest-first models to remove so that `models` plus `extra` (count, bytes) fit the quota; `spare` never goes."""
    count, total = len(models) + extra[0], sum(checkpoint_bytes(m.stem) for m in models) + extra[1]
    out = []
    for m in models:
        if count <= quota.models and total <= quota.bytes:
            break
        if m.name in spare:
            continue
        out.append(m)
        count, total = count - 1, total - checkpoint_bytes(m.stem)
    return out


def quota_plan(nbytes: int = 0, name: str | None = None) -> list[CheckpointInfo]:
    """The kept models that saving one more model of `nbytes` as NAME would remove, oldest first (a model kept under
    its own name is replaced, not counted twice). CheckpointError when the model alone is over the quota."""
    quota = user_quota()
    if nbytes > quota.bytes:
        raise CheckpointError(f"this model takes {nbytes / 2**20:.1f} MB, more than this server keeps in all "
                              f"({quota.mb:g} MB, SEQCORE_MAX_USER_MB): download it instead")
    return _over([m for m in user_models() if m.name != name], (1, nbytes), quota, set())


def trim_user_models(keep: str | None = None) -> list[CheckpointInfo]:
    """Delete the oldest user models until the registry fits the quota, never `keep`; returns what went."""
    with _USER_LOCK:
        gone = _over(user_models(), (0, 0), user_quota(), {keep} if keep else set())
        for info in gone:
            _remove(info.stem)
    return gone


def free_name(base: str) -> str:
    """BASE, or BASE-2, BASE-3...: a checkpoint name no user or shipped checkpoint has (any task)."""
    check_name(base)
    taken = {p.stem for folder in (user_dir(), shipped_dir()) if folder.is_dir() for p in folder.iterdir()}
    name, k = base, 1
    while name in taken:
        k += 1
        name = f"{base[:75]}-{k}"
    return name


def measure(save, model, card: dict, name: str) -> int:
    """Bytes that `save(model, card, name, out)` (a task's protocol save) writes: saved once to a scratch folder."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        return checkpoint_bytes(Path(save(model, card, name, out=tmp)).with_suffix(""))


def keep(save, model, card: dict, name: str) -> tuple[Path, list[CheckpointInfo]]:
    """Save a model into the user registry with the task's protocol save, then trim the registry to the quota
    (oldest first, never this one): (weights path, the models removed). A full or read-only folder raises
    CheckpointError saying what to do."""
    check_name(name)
    try:
        path = Path(save(model, {**card, "kept": dt.datetime.now(dt.UTC).isoformat(timespec="seconds")}, name))
    except OSError as e:
        raise CheckpointError(f"Could not save to {user_dir()} ({e.strerror or e}): free some space or set "
                              "SEQCORE_HOME to a writable folder") from None
    return path, trim_user_models(keep=name)


def kept_files(name: str) -> list[Path]:
    """The files of the user checkpoint NAME (weights and card, readable or not); CheckpointError when there are none:
    an unknown name, or a shipped checkpoint (not deleted: `make models` rebuilds them)."""
    check_name(name)
    files = [p for p in ((user_dir() / name).with_suffix(s) for s in (".safetensors", ".json")) if p.exists()]
    if files:
        return files
    if any((shipped_dir() / name).with_suffix(s).exists() for s in (".safetensors", ".json")):
        raise CheckpointError(f"{name} is a shipped checkpoint, not a kept one: it is not deleted "
                              "(`make models` rebuilds the shipped set)")
    raise CheckpointError(f"no kept model named {name!r}; `seqcore checkpoints list --user` lists them")


def delete_checkpoint(name: str) -> list[Path]:
    """Delete the user checkpoint NAME (see kept_files); returns the files removed."""
    kept_files(name)
    with _USER_LOCK:
        return _remove(user_dir() / name)


def _remove(stem: Path) -> list[Path]:
    gone = []
    for suffix in (".safetensors", ".json"):
        path = stem.with_suffix(suffix)
        try:
            path.unlink()
            gone.append(path)
        except FileNotFoundError:  # another replica removed it first
            pass
    return gone
