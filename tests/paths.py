from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "template"
# Template files copied as bytes (admin=true's README picture): no text check reads them.
BINARY_SUFFIXES = frozenset({".png"})


def is_text(path: Path) -> bool:
    return path.is_file() and path.suffix not in BINARY_SUFFIXES


def is_runtime_template(project: Path, path: Path) -> bool:
    """A template the running service renders with Jinja itself (admin=true: SQLAdmin's page
    override in src/<pkg>/admin/templates/, copied verbatim): Jinja on purpose."""
    parts = path.relative_to(project).parts
    return path.suffix == ".html" and parts[:1] == ("src",) and parts[2:4] == ("admin", "templates")
