"""What a Streamlit page and its server said over the websocket, for the browser benchmarks' clocks.

Both bench/pages.py (sync Playwright) and bench/load.py (async) stop an action's clock on the server's
`script_finished` message for a rerun the page requested after the action. Playwright reports websocket frames
as they arrive, independent of what the page has rendered.
"""

from __future__ import annotations

import time


class Frames:
    """The page's websocket traffic, decoded with Streamlit's own protobufs: the BackMsgs it sent (rerun_script on
    a click) and the ForwardMsgs it received (session_status_changed, delta, script_finished ...), timestamped.

    The action clock stops on the server's `script_finished` for a rerun requested after the action, not on seeing
    the app's `data-test-script-state` attribute pass through "running": React batches state updates, so when
    the browser is starved (10 sessions on 2 cores) the "running" and "finished" messages of a fast rerun can be
    handled in one render and the attribute never changes. Watching only the attribute, such a rerun looked like a
    click that was never answered (the "lost click" of issue 18)."""

    def __init__(self, pg):
        self.log: list[tuple[float, str, str]] = []  # (perf_counter, "out" | "in", message type)
        pg.on("websocket", self._attach)
        pg.seqcore_frames = self  # found again by frames_of(pg)

    def _attach(self, ws) -> None:
        if "/_stcore/stream" in ws.url:
            ws.on("framesent", lambda p: self._note("out", p))
            ws.on("framereceived", lambda p: self._note("in", p))

    def _note(self, way: str, payload) -> None:
        from streamlit.proto.BackMsg_pb2 import BackMsg
        from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

        if not isinstance(payload, bytes):
            return
        try:
            msg = (BackMsg if way == "out" else ForwardMsg).FromString(payload)
        except Exception:  # not a Streamlit message: nothing to learn from it
            return
        kind = msg.WhichOneof("type") or "?"
        if kind == "session_status_changed":
            kind += "(running)" if msg.session_status_changed.script_is_running else "(idle)"
        elif kind == "script_finished":
            kind += f"({ForwardMsg.ScriptFinishedStatus.Name(msg.script_finished)})"
        elif kind == "rerun_script" and msg.rerun_script.fragment_id:  # a progress fragment's timer, not the user
            kind += "(fragment)"
        self.log.append((time.perf_counter(), way, kind))

    def finished_since(self, t0: float) -> bool:
        """Did a rerun requested at or after t0 finish? (its rerun_script sent, then a full-run script_finished)"""
        asked = next((t for t, way, k in self.log if t >= t0 and way == "out" and k == "rerun_script"), None)
        return asked is not None and any(t >= asked and way == "in" and k.startswith("script_finished(FINISHED_S")
                                         for t, way, k in self.log)

    def since(self, t0: float, limit: int = 12) -> str:
        """What went over the websocket since t0, runs of one type folded: for an error message."""
        out: list[list] = []
        for _t, way, k in (x for x in self.log if x[0] >= t0):
            tag = ("sent " if way == "out" else "") + k
            if out and out[-1][0] == tag:
                out[-1][1] += 1
            else:
                out.append([tag, 1])
        text = ", ".join(f"{tag}" + (f" x{n}" if n > 1 else "") for tag, n in out[:limit])
        return f" [websocket since the action: {text or 'nothing'}{' ...' if len(out) > limit else ''}]"


def frames_of(pg) -> Frames:
    """The Frames recording `pg` (made when the page was created, before its websocket opened)."""
    return pg.seqcore_frames
