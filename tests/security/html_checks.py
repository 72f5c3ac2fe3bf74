"""An HTML page as the security checks see it: scripts, inline code, event handlers and
forms, parsed by the standard library's tolerant parser (as a browser would parse it)."""

from __future__ import annotations

from html.parser import HTMLParser


class Page(HTMLParser):
    """The parts of a page the policy is about: scripts, styles, handlers, forms."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.elements: list[tuple[str, dict]] = []
        self.text = ""  # the text a reader sees (entities decoded), scripts excluded
        self.scripts: list[dict] = []
        self.problems: list[str] = []
        self.forms: list[dict] = []
        self._form: dict | None = None
        self._script: dict | None = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.elements.append((tag, a))
        for name, value in attrs:
            if name.startswith("on"):
                self.problems.append(f"<{tag} {name}=…> event handler attribute")
            if name == "style":
                self.problems.append(f"<{tag} style=…> inline style")
            if name in ("href", "src", "action", "formaction") and (
                value or ""
            ).strip().lower().startswith("javascript:"):
                self.problems.append(f"<{tag} {name}=javascript:…>")
        if tag == "script":
            self._script = {"attrs": a, "body": ""}
            self.scripts.append(self._script)
        elif tag == "style":
            self.problems.append("<style> element (inline style)")
        elif tag == "form":
            self._form = {"attrs": a, "inputs": []}
            self.forms.append(self._form)
        elif tag in ("input", "button", "select", "textarea") and self._form is not None:
            self._form["inputs"].append(a)

    def handle_endtag(self, tag):
        if tag == "form":
            self._form = None
        elif tag == "script":
            self._script = None

    def handle_data(self, data):
        if self._script is not None:
            self._script["body"] += data
        else:
            self.text += data


def parse(html: str) -> Page:
    page = Page()
    page.feed(html)
    page.close()
    return page
