"""Security rules that a code change could silently break: XSRF on, no pickle, no eval, no shell."""

import re
from pathlib import Path

from streamlit import config

ROOT = Path(__file__).resolve().parent.parent
SOURCES = [p for d in ("seqcore", "pages") for p in (ROOT / d).rglob("*.py")] + [ROOT / "app.py"]


def test_effective_config_keeps_xsrf_on_and_limits_uploads():
    config.get_config_options(force_reparse=True, options_from_flags={})
    # AppTest and `streamlit run` read the same file: .streamlit/config.toml in the repo root.
    assert config.get_option("server.enableXsrfProtection") is True
    assert config.get_option("server.maxUploadSize") <= 200
    assert config.get_option("browser.gatherUsageStats") is False
    assert config.get_option("client.showErrorDetails") == "none"


def test_no_pickle_eval_or_shell_in_app_code():
    banned = {
        r"\bimport pickle\b|\bpickle\.load": "pickle can run code from a file",
        r"(?<![.\w])(eval|exec)\(": "eval/exec of text",
        r"shell\s*=\s*True|os\.system\(": "a shell",
        r"torch\.load\((?![^)]*weights_only\s*=\s*True)": "torch.load without weights_only=True",
    }
    found = []
    for path in SOURCES:
        text = path.read_text()
        for pattern, why in banned.items():
            for m in re.finditer(pattern, text):
                line = text[: m.start()].count("\n") + 1
                found.append(f"{path.relative_to(ROOT)}:{line}: {why}")
    assert not found, "\n".join(found)
