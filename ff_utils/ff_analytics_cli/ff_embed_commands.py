"""CLI: ``ff-metrics embed HOST_DIR``: copy this library into a host's source tree, never overwriting.

The library is the top-level module ``ff_metrics_collection_manager.py`` plus every file under the
``ff_analytics_*`` subpackages of ``ff_utils``, ``ff_class_configs`` and ``ff_protocols`` (no
``__pycache__``). None of these paths exists in the flatfile chat backend, so a copy adds files and
changes none. Guarantees: if any target path already exists nothing is copied and the command exits
1 listing the paths; each file is written to a temporary name and hard-linked into place (the link
fails rather than replace a file that appeared meanwhile); on any failure every file and directory
this run created is removed again, so the host tree is as before.
"""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ff_utils.ff_analytics_cli.ff_cli_support import FFCliError, emit
from ff_utils.ff_analytics_core.ff_file_ops import ff_temp_name

SHARED_PACKAGES = ("ff_utils", "ff_class_configs", "ff_protocols")
TOP_LEVEL_MODULE = "ff_metrics_collection_manager.py"
SUBPACKAGE_PREFIX = "ff_analytics_"
SKIPPED_PARTS = frozenset({"__pycache__"})
SKIPPED_SUFFIXES = (".pyc", ".pyo")
HOST_ROOT_CONFIG = "ff_class_configs/ff_configuration_manager_config.py"
CONFIG_IMPORT_LINE = "from ff_metrics_collection_manager import FFAnalyticsConfigDTO"
CONFIG_FIELD_LINE = "analytics: FFAnalyticsConfigDTO = field(default_factory=FFAnalyticsConfigDTO)"


@dataclass(slots=True)
class FFEmbedPlanDTO:
    """What an embed copies: (source, target) pairs, and the targets that already exist."""

    library_root: Path
    host_dir: Path
    files: list[tuple[Path, Path]] = field(default_factory=list)
    conflicts: list[Path] = field(default_factory=list)

    def relative(self, target: Path) -> str:
        return target.relative_to(self.host_dir).as_posix()


def ff_library_root() -> Path:
    """The directory holding ``ff_metrics_collection_manager.py`` and the shared packages' portions
    (a checkout, or ``site-packages`` after ``pip install``)."""
    return Path(__file__).resolve().parents[2]


def ff_library_files(library_root: Path) -> list[Path]:
    """Every file of the library under ``library_root``, as paths relative to it, sorted."""
    files: list[Path] = []
    top = library_root / TOP_LEVEL_MODULE
    if not top.is_file():
        raise FFCliError(f"library_root: {library_root} has no {TOP_LEVEL_MODULE}")
    files.append(Path(TOP_LEVEL_MODULE))
    for package in SHARED_PACKAGES:
        base = library_root / package
        if not base.is_dir():
            continue
        for sub in sorted(base.iterdir()):
            if not (sub.is_dir() and sub.name.startswith(SUBPACKAGE_PREFIX)):
                continue
            for path in sorted(sub.rglob("*")):
                rel = path.relative_to(library_root)
                if path.is_file() and not SKIPPED_PARTS.intersection(rel.parts) and not path.name.endswith(SKIPPED_SUFFIXES):
                    files.append(rel)
    return files


def ff_embed_plan(host_dir: Path, library_root: Path | None = None) -> FFEmbedPlanDTO:
    """The copy plan for ``host_dir``; ``conflicts`` lists targets that exist (files or not)."""
    host = Path(host_dir)
    if not host.is_dir():
        raise FFCliError(f"HOST_DIR: {host} is not a directory")
    host = host.resolve()
    root = (library_root or ff_library_root()).resolve()
    if root == host:
        raise FFCliError(f"HOST_DIR: {host} is this library's own directory")
    plan = FFEmbedPlanDTO(library_root=root, host_dir=host)
    for rel in ff_library_files(root):
        target = host / rel
        plan.files.append((root / rel, target))
        if target.exists() or target.is_symlink():
            plan.conflicts.append(target)
    return plan


def ff_embed_copy(plan: FFEmbedPlanDTO) -> list[Path]:
    """Copy the plan's files; all or nothing (see the module docstring). Returns the targets."""
    if plan.conflicts:
        raise FFCliError("refusing to overwrite: " + ", ".join(plan.relative(p) for p in plan.conflicts))
    created_dirs: list[Path] = []
    written: list[Path] = []
    try:
        for source, target in plan.files:
            missing = [d for d in reversed(target.parents) if d != plan.host_dir and d.is_relative_to(plan.host_dir)
                       and not d.exists()]
            for d in missing:
                d.mkdir()
                created_dirs.append(d)
            temp = target.parent / ff_temp_name(target.name, "embed-")
            try:
                temp.write_bytes(source.read_bytes())
                os.link(temp, target)  # FileExistsError instead of replacing a file
            finally:
                temp.unlink(missing_ok=True)
            written.append(target)
    except (OSError, FFCliError) as exc:
        for path in reversed(written):
            path.unlink(missing_ok=True)
        for d in reversed(created_dirs):
            try:
                d.rmdir()
            except OSError:
                pass
        raise FFCliError(f"embed failed, nothing left behind: {exc}") from exc
    return written


def _cmd_embed(args: argparse.Namespace) -> int:
    plan = ff_embed_plan(Path(args.host_dir))
    config_file = plan.host_dir / HOST_ROOT_CONFIG
    result: dict[str, Any] = {
        "host_dir": str(plan.host_dir),
        "library_root": str(plan.library_root),
        "dry_run": bool(args.dry_run),
        "files": [plan.relative(t) for _, t in plan.files],
        "conflicts": [plan.relative(p) for p in plan.conflicts],
        "config_file": HOST_ROOT_CONFIG if config_file.is_file() else None,
        "config_lines": [CONFIG_IMPORT_LINE, CONFIG_FIELD_LINE],
    }
    if plan.conflicts:
        emit(args, result, "refusing to overwrite existing paths (nothing copied):\n"
             + "\n".join(f"  {c}" for c in result["conflicts"]))
        return 1
    if not args.dry_run:
        ff_embed_copy(plan)
    verb = "would add" if args.dry_run else "added"
    where = HOST_ROOT_CONFIG if result["config_file"] else "the host's root config"
    table = (
        f"{verb} {len(result['files'])} files under {plan.host_dir}:\n"
        + "\n".join(f"  {f}" for f in result["files"])
        + f"\n\nthen add the analytics config to {where}:\n"
        + f"  {CONFIG_IMPORT_LINE}\n"
        + f"  {CONFIG_FIELD_LINE}    # a field of the root config dataclass\n"
        + "and build the manager from the host's root config: FFMetricsCollectionManager(root_config)"
    )
    emit(args, result, table)
    return 0


def register(subparsers: Any, parents: list[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser(
        "embed", parents=parents, formatter_class=argparse.RawDescriptionHelpFormatter,
        help="copy this library into a host's source tree (adds files, never overwrites)",
        epilog="example: ff-metrics embed ../flatfile_chat_database --dry-run\n"
               "         ff-metrics embed ../flatfile_chat_database",
    )
    p.add_argument("host_dir", metavar="HOST_DIR", help="the host project's root (where its ff_utils/ lives)")
    p.add_argument("--dry-run", action="store_true", help="list what would be copied; copy nothing")
    p.set_defaults(func=_cmd_embed)
