"""A stand-in for the flatfile chat backend's source tree, built from ``shared/HOST.md`` and issue 14.

Every path the host has is created; each module defines ``HOST_MARKER = "<its path>"`` and keeps
the host's import shape where it matters to an embedded library:

- ``ff_utils/__init__.py`` re-exports its modules, and ``ff_file_ops``/``ff_json_utils``/
  ``ff_path_utils``/``ff_validation`` import the host's root config
  (``ff_class_configs.ff_configuration_manager_config``), so a library that imports ``ff_utils``
  while that root config is being imported breaks the host;
- ``ff_class_configs/__init__.py`` and ``ff_protocols/__init__.py`` use relative imports; the root
  config is a dataclass validating in ``__post_init__``; protocols import the host's entities;
- a top-level ``ff_protocols.py`` sits beside the ``ff_protocols/`` package;
- the FastAPI app module and routes import the host's packages (no FastAPI here: plain modules).

Not modelled: the host's numpy dependency (its vector protocol imports numpy); nothing here needs it.
"""

from __future__ import annotations

from pathlib import Path

UTILS = ("ff_file_ops", "ff_json_utils", "ff_logging", "ff_path_utils", "ff_validation")
CONFIGS = (
    "ff_base_config", "ff_storage_config", "ff_search_config", "ff_runtime_config", "ff_locking_config",
    "ff_document_config", "ff_vector_storage_config", "ff_chat_application_config", "ff_chat_session_config",
    "ff_chat_use_case_config", "ff_component_registry_config", "ff_memory_config", "ff_multi_agent_config",
    "ff_multimodal_config", "ff_persona_panel_config", "ff_text_chat_config", "ff_tools_config",
    "ff_topic_router_config", "ff_trace_logger_config",
)
PROTOCOLS = (
    "ff_backend_protocol", "ff_chat_component_protocol", "ff_chat_protocol", "ff_file_operations_protocol",
    "ff_processor_protocol", "ff_search_protocol", "ff_storage_protocol", "ff_vector_store_protocol",
)
ROUTES = ("ff_chat_routes", "ff_session_routes", "ff_user_routes", "ff_admin_routes", "ff_health_routes")
ROOT_CONFIG = "ff_class_configs/ff_configuration_manager_config.py"


def _marker(rel: str) -> str:
    return f'HOST_MARKER = "{rel}"\n'


def host_files() -> dict[str, str]:
    """Relative path -> source text of every stand-in host file."""
    files: dict[str, str] = {}

    def add(rel: str, body: str = "") -> None:
        files[rel] = f'"""Stand-in host module {rel}."""\n\n' + body + _marker(rel)

    add("ff_utils/__init__.py", "".join(f"from ff_utils.{m} import HOST_MARKER as _{m}_marker  # noqa\n" for m in UTILS)
        + "from ff_utils.ff_file_ops import ff_atomic_write, ff_ensure_directory\n"
        + "from ff_utils.ff_logging import get_logger\n")
    add("ff_utils/ff_file_ops.py",
        "from ff_class_configs.ff_configuration_manager_config import FFConfigurationManagerConfigDTO\n\n"
        "async def ff_atomic_write(path, data, config: FFConfigurationManagerConfigDTO, **kw):\n"
        "    return 'host ff_atomic_write'\n\n"
        "async def ff_ensure_directory(path):\n    return 'host ff_ensure_directory'\n\n")
    add("ff_utils/ff_json_utils.py",
        "from ff_class_configs.ff_configuration_manager_config import FFConfigurationManagerConfigDTO\n"
        "from ff_utils.ff_file_ops import ff_atomic_write\n\n"
        "class FFJSONError(Exception):\n    pass\n\n"
        "async def ff_append_jsonl(path, entry, config: FFConfigurationManagerConfigDTO):\n"
        "    return 'host ff_append_jsonl'\n\n")
    add("ff_utils/ff_logging.py", "import logging\n\n"
        "def get_logger(name, level=None):\n    return logging.getLogger('host.' + name)\n\n")
    add("ff_utils/ff_path_utils.py",
        "from ff_class_configs.ff_configuration_manager_config import FFConfigurationManagerConfigDTO\n\n")
    add("ff_utils/ff_validation.py",
        "from ff_class_configs.ff_configuration_manager_config import FFConfigurationManagerConfigDTO\n\n")

    add("ff_class_configs/__init__.py",
        "from .ff_base_config import FFBaseConfigDTO\n"
        "from .ff_storage_config import FFStorageConfigDTO\n"
        "from .ff_configuration_manager_config import FFConfigurationManagerConfigDTO\n"
        "from .ff_chat_entities_config import FFMessageDTO, current_timestamp\n")
    for m in CONFIGS:
        cls = "".join(p.capitalize() for p in m.removeprefix("ff_").removesuffix("_config").split("_"))
        body = "from dataclasses import dataclass\n\n"
        if m == "ff_storage_config":
            body += ("@dataclass\nclass FFStorageConfigDTO:\n    base_path: str = './data'\n"
                     "    max_message_size_bytes: int = 1_000_000\n\n")
        elif m == "ff_base_config":
            body += "@dataclass\nclass FFBaseConfigDTO:\n    def validate(self):\n        return []\n\n"
        else:
            body += f"@dataclass\nclass FF{cls}ConfigDTO:\n    enabled: bool = True\n\n"
        add(f"ff_class_configs/{m}.py", body)
    add(ROOT_CONFIG,
        "from dataclasses import dataclass, field\n"
        "from typing import Optional\n\n"
        "from .ff_storage_config import FFStorageConfigDTO\n"
        "from .ff_search_config import FFSearchConfigDTO\n"
        "from .ff_runtime_config import FFRuntimeConfigDTO\n\n\n"
        "@dataclass\n"
        "class FFConfigurationManagerConfigDTO:\n"
        "    storage: FFStorageConfigDTO = field(default_factory=FFStorageConfigDTO)\n"
        "    search: FFSearchConfigDTO = field(default_factory=FFSearchConfigDTO)\n"
        "    runtime: FFRuntimeConfigDTO = field(default_factory=FFRuntimeConfigDTO)\n"
        "    environment: Optional[str] = None\n"
        "    validate_on_load: bool = True\n\n"
        "    def __post_init__(self):\n"
        "        if self.validate_on_load and self.storage.max_message_size_bytes <= 0:\n"
        "            raise ValueError('storage.max_message_size_bytes must be positive')\n\n\n"
        "def load_config(config_path=None, environment=None):\n"
        "    return FFConfigurationManagerConfigDTO(environment=environment)\n\n\n"
        "def create_default_config():\n"
        "    return FFConfigurationManagerConfigDTO()\n\n")
    add("ff_class_configs/ff_chat_entities_config.py",
        "from dataclasses import dataclass\n\n"
        "def current_timestamp():\n    return 'host timestamp'\n\n"
        "@dataclass\nclass FFMessageDTO:\n    role: str = 'user'\n    content: str = ''\n\n"
        "@dataclass\nclass FFSessionDTO:\n    session_id: str = ''\n\n")

    add("ff_protocols/__init__.py", "".join(
        f"from .{m} import HOST_MARKER as _{m}_marker  # noqa\n" for m in PROTOCOLS))
    for m in PROTOCOLS:
        add(f"ff_protocols/{m}.py",
            "from abc import ABC\n\nfrom ff_class_configs.ff_chat_entities_config import FFMessageDTO\n\n"
            f"class {m}(ABC):\n    pass\n\n")
    add("ff_protocols.py", "# the host's top-level module beside its ff_protocols/ package\n")

    add("ff_chat_api.py",
        "from ff_class_configs.ff_configuration_manager_config import FFConfigurationManagerConfigDTO\n"
        "from ff_utils import ff_atomic_write\n"
        "from ff_protocols import ff_storage_protocol\n"
        "from ff_api import ff_health_routes\n\n")
    add("ff_api/__init__.py")
    for m in ROUTES:
        add(f"ff_api/{m}.py", "from ff_utils.ff_logging import get_logger\n\n")
    add("ff_chat_middleware.py")
    add("ff_chat_integration/__init__.py")
    add("ff_chat_integration/ff_integration_health_monitor.py", "from ff_utils import get_logger\n\n")
    add("ff_trace_logger_component.py")
    return files


def host_paths() -> set[str]:
    """The paths of the host that the library must never ship (issue 14 and HOST.md)."""
    return set(host_files())


def build_host(root: Path) -> dict[str, bytes]:
    """Write the stand-in host under ``root``; returns path -> bytes of what was written."""
    out: dict[str, bytes] = {}
    for rel, text in host_files().items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        data = text.encode("utf-8")
        path.write_bytes(data)
        out[rel] = data
    return out


def snapshot(root: Path, rels: dict[str, bytes]) -> dict[str, bytes]:
    """Current bytes of the given host files (missing files map to b'<missing>')."""
    return {rel: (root / rel).read_bytes() if (root / rel).is_file() else b"<missing>" for rel in rels}


def add_analytics_to_root_config(root: Path, import_line: str, field_line: str) -> None:
    """What a host developer does with the two lines ``ff-metrics embed`` prints."""
    path = root / ROOT_CONFIG
    text = path.read_text(encoding="utf-8")
    anchor = "from typing import Optional\n"
    text = text.replace(anchor, anchor + import_line + "\n", 1)
    anchor = "    environment: Optional[str] = None\n"
    text = text.replace(anchor, anchor + "    " + field_line + "\n", 1)
    path.write_text(text, encoding="utf-8")
