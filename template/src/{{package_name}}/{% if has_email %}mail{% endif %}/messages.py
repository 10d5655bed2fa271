"""Messages rendered from the templates next to this file: edit them, they are yours.

Each kind of message is a directory of `templates/` with three files: `subject.txt` (one line),
`body.txt` (the plain text part) and `body.html` (the HTML part). `$name` or `${name}` is
replaced with the message's value of that name (`string.Template`; write `$$` for a dollar
sign); in the HTML part every value is HTML-escaped first. A placeholder the code does not fill
raises `KeyError`, and the tests render every kind, so a typo fails the test suite rather than
a customer's e-mail.
"""

import html
from dataclasses import asdict, dataclass
from functools import cache
from pathlib import Path
from string import Template

TEMPLATES = Path(__file__).with_name("templates")


@dataclass(frozen=True)
class Message:
    kind: str  # the template directory it was rendered from
    to: str
    subject: str
    text: str
    html: str

    def as_dict(self) -> dict[str, str]:
        """A JSON-ready form (what a task queue carries); `Message(**data)` reads it back."""
        return asdict(self)


@cache
def _template(kind: str, part: str) -> Template:
    return Template((TEMPLATES / kind / part).read_text(encoding="utf-8"))


def kinds() -> list[str]:
    """Every kind of message there are templates for."""
    return sorted(path.name for path in TEMPLATES.iterdir() if (path / "subject.txt").is_file())


def render_message(kind: str, to: str, **values: str) -> Message:
    """The message `kind` to `to`, its placeholders filled with `values`."""
    subject = " ".join(_template(kind, "subject.txt").substitute(values).split())
    escaped = {name: html.escape(value) for name, value in values.items()}
    return Message(
        kind=kind,
        to=to,
        subject=subject,
        text=_template(kind, "body.txt").substitute(values),
        html=_template(kind, "body.html").substitute(escaped),
    )


def duration_text(minutes: int) -> str:
    """`30 minutes`, `2 hours`, `3 days`: how long a link works, in the message's words."""
    if minutes % (24 * 60) == 0:
        days = minutes // (24 * 60)
        return f"{days} day" if days == 1 else f"{days} days"
    if minutes % 60 == 0:
        hours = minutes // 60
        return f"{hours} hour" if hours == 1 else f"{hours} hours"
    return f"{minutes} minute" if minutes == 1 else f"{minutes} minutes"
