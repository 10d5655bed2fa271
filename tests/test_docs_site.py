"""The documentation builds as a site, strictly: a broken link or a page left out fails."""

import subprocess
import sys
from pathlib import Path

from tests.paths import ROOT


def test_docs_site_builds_strictly(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "site" / "choose-your-stack" / "index.html").exists()
