"""A traffic model by name: ``default`` (the built-in one) or a model file."""

from __future__ import annotations

import json
from pathlib import Path

from chatload.errors import ConfigError
from chatload.traffic.default import default_model
from chatload.traffic.model import TrafficModel

__all__ = ["load_model"]


def load_model(spec: str) -> TrafficModel:
    """``default``, or a model file's path; a :class:`ConfigError` says what is wrong."""
    if spec == "default":
        return default_model()
    path = Path(spec)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(
            f"--traffic-model {spec}: no such file (write one with chatload traffic fit, "
            "or use default)"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"--traffic-model {spec}: cannot be read ({exc})") from None
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{path}, line {exc.lineno}: not JSON ({exc.msg})") from None
    return TrafficModel.from_json(data, str(path))
