"""One event per line on stderr: `text` for people and journald, `json` for log pipelines.

Library code logs through `event()`, which carries a short event name and key=value fields; the
formatter chosen by `--log-format` decides how they are written. A message never spans lines,
and no database password this process was given ever appears in one (`tonsurance.redaction`).
"""

from __future__ import annotations

import json
import logging
import sys
import time
from typing import Any

from tonsurance.redaction import mask

LOGGER = logging.getLogger("syncd.run")
FORMATS = ("text", "json")


def _one_line(text: str) -> str:
    return text.replace("\r", "\\r").replace("\n", "\\n")


def _text_value(value: Any) -> str:
    text = _one_line(mask(str(value)))
    return json.dumps(text) if (not text or any(c in text for c in ' "=')) else text


class TextFormatter(logging.Formatter):
    """`2026-01-02T03:04:05.678Z INFO applied: message key=value ...`"""

    def format(self, record: logging.LogRecord) -> str:
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
        name = getattr(record, "event", "log")
        fields: dict[str, Any] = getattr(record, "fields", {})
        parts = [
            f"{stamp}.{int(record.msecs):03d}Z",
            record.levelname,
            f"{name}:",
            _one_line(mask(record.getMessage())),
        ]
        parts += [
            f"{key}={_text_value(value)}" for key, value in fields.items() if value is not None
        ]
        if record.exc_info:
            parts.append("error=" + _text_value(self.formatException(record.exc_info)))
        return " ".join(parts)


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts, level, event, msg and the event's fields."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "event": getattr(record, "event", "log"),
            "msg": mask(record.getMessage()),
        }
        for key, value in getattr(record, "fields", {}).items():
            if value is not None and key not in out:
                out[key] = mask(value) if isinstance(value, str) else value
        if record.exc_info:
            out["error"] = mask(self.formatException(record.exc_info))
        return json.dumps(out, default=str)


def setup_logging(fmt: str = "text", level: int = logging.INFO) -> None:
    """Send syncd's events to stderr in `fmt`, replacing any handler set up before."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    LOGGER.handlers[:] = [handler]
    LOGGER.setLevel(level)
    LOGGER.propagate = False


def event(
    name: str, message: str, level: int = logging.INFO, *, exc_info: bool = False, **fields: Any
) -> None:
    """Log one event: a short name, a sentence, and fields that are easy to filter on."""
    LOGGER.log(level, "%s", message, exc_info=exc_info, extra={"event": name, "fields": fields})
