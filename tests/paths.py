from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "template"
# Template files copied as bytes (admin=true's README picture): no text check reads them.
BINARY_SUFFIXES = frozenset({".png"})


def is_text(path: Path) -> bool:
    return path.is_file() and path.suffix not in BINARY_SUFFIXES
