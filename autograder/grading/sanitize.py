"""What a submitted notebook may carry into `autograded/`, which formgrader renders for TAs.

formgrader shows `autograded/<student>/<A>/<nb>.ipynb` as HTML on the TA's Jupyter origin, with
nbconvert's templates, which do not escape everything (a cell's `grade_id` goes into an HTML
attribute as is) and pass raw HTML in markdown and `text/html` outputs through. A student's
notebook is therefore rebuilt from what is known to be inert:

* outputs: `stream`, `error` and, of rich outputs, only `text/plain`, `image/png` and
  `image/jpeg` (the images as checked base64); output metadata is dropped;
* markdown: raw HTML cleaned by nh3 (ammonia's allow-list: no script, no event handlers, no
  `javascript:` URLs); a cell whose markdown links (`[x](javascript:...)`, reference links,
  entity-encoded schemes) would render to a URL other than http(s), mailto, an attachment, a
  relative one or an inline PNG/JPEG/GIF is shown as plain text in a fenced block;
* attachments: PNG and JPEG only;
* cell metadata: only `nbgrader`, with each field of its known type and a `grade_id` of safe
  characters; notebook metadata: the release's.

The original stays untouched in the submission zip. What was dropped is counted, so the report
can say so. docs/sandbox.md lists the same rules for instructors.
"""

from __future__ import annotations

import copy
import functools
import html
import re
from collections import Counter
from collections.abc import Mapping
from typing import Any

SAFE_MIME = ("text/plain", "image/png", "image/jpeg")
_IMAGES = ("image/png", "image/jpeg")
_BASE64 = re.compile(r"[A-Za-z0-9+/=\s]*")
_GRADE_ID = re.compile(r"[A-Za-z0-9_.-]{1,128}")
_CELL_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
_HTML_START = re.compile(r"<[A-Za-z!/?]")
_NBGRADER_TYPES: dict[str, type | tuple[type, ...]] = {
    "grade": bool, "solution": bool, "locked": bool, "task": bool,
    "points": (int, float), "schema_version": int, "grade_id": str,
}


def _text(value: Any) -> str | None:
    """A notebook string field (a string or a list of strings), else None."""
    if isinstance(value, str):
        return value
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return "".join(value)
    return None


_URL_ATTR = re.compile(r"""\b(?:href|src|xlink:href|action|formaction|poster|background)\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+))""",
                       re.I)
_SAFE_SCHEMES = ("http", "https", "mailto", "attachment")
_MAY_LINK = re.compile(r"[\]<&]")  # no link, image, autolink or entity without one of these
_SAFE_DATA = re.compile(r"data:image/(?:png|jpeg|gif);base64,", re.I)


def _safe_url(url: str) -> bool:
    """A URL a browser will not run: a relative one, an allowed scheme, or an inline image."""
    plain = "".join(ch for ch in html.unescape(url) if ch > " " and ch != "\x7f")
    scheme = re.match(r"([A-Za-z][A-Za-z0-9+.-]*):", plain)
    return (scheme is None or scheme.group(1).lower() in _SAFE_SCHEMES
            or bool(_SAFE_DATA.match(plain)))


def _renders_safely(text: str) -> bool:
    """Whether the markdown, rendered as formgrader renders it (nbconvert's markdown2html),
    links only to safe URLs (markdown syntax makes links too: `[x](javascript:...)`)."""
    from nbconvert.filters.markdown_mistune import IPythonRenderer, MarkdownWithMath

    class _Urls(IPythonRenderer):  # nbconvert's renderer, attachments left as they are written
        def _embed_image_or_attachment(self, src: str) -> str:
            return src

    rendered = str(MarkdownWithMath(renderer=_Urls(escape=False)).render(text))
    return all(_safe_url(next(v for v in m.groups() if v is not None))
               for m in _URL_ATTR.finditer(rendered))


def _as_text(text: str) -> str:
    """The markdown shown literally, in a fenced block longer than any backtick run in it."""
    fence = "`" * max(3, 1 + max((len(run) for run in re.findall(r"`+", text)), default=0))
    return ("*(Shown as plain text: this cell links to a kind of URL the grader does not "
            f"render.)*\n\n{fence}text\n{text}\n{fence}")


def clean_markdown(text: str) -> str:
    """Markdown made inert: raw HTML cleaned by nh3, and a cell whose rendering would link to a
    script URL (`javascript:`, `vbscript:`, `data:` other than an image...) shown as plain text.
    Text without tags, links or images is returned unchanged."""
    if len(text) <= _CACHED_MARKDOWN:
        return _clean_markdown_cached(text)
    return _clean_markdown(text)


# Most markdown cells are the release's, the same in every student's notebook: each distinct
# text up to this many characters is made inert once per process.
_CACHED_MARKDOWN = 16_384


@functools.lru_cache(maxsize=1024)
def _clean_markdown_cached(text: str) -> str:
    return _clean_markdown(text)


def _clean_markdown(text: str) -> str:
    if _HTML_START.search(text):
        import nh3  # instructor dependency: only the grader writes autograded notebooks

        text = nh3.clean(text)
    if _MAY_LINK.search(text) and not _renders_safely(text):
        return _as_text(text)
    return text


def _clean_mimebundle(data: Any, dropped: Counter[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    if not isinstance(data, Mapping):
        return out
    for mime, value in data.items():
        text = _text(value)
        if mime in SAFE_MIME and text is not None and (mime not in _IMAGES or _BASE64.fullmatch(text)):
            out[mime] = text
        else:
            dropped[f"output {str(mime)[:40]}"] += 1
    return out


def _clean_output(output: Any, dropped: Counter[str]) -> dict[str, Any] | None:
    if not isinstance(output, Mapping):
        return None
    kind = output.get("output_type")
    if kind == "stream":
        text = _text(output.get("text"))
        name = output.get("name") if output.get("name") in ("stdout", "stderr") else "stdout"
        return None if text is None else {"output_type": "stream", "name": name, "text": text}
    if kind == "error":
        trace = output.get("traceback")
        lines = [t for t in trace if isinstance(t, str)] if isinstance(trace, list) else []
        return {"output_type": "error", "ename": str(output.get("ename", ""))[:200],
                "evalue": str(output.get("evalue", ""))[:2000], "traceback": lines}
    if kind in ("execute_result", "display_data"):
        data = _clean_mimebundle(output.get("data"), dropped)
        if not data:
            return None
        clean: dict[str, Any] = {"output_type": kind, "data": data, "metadata": {}}
        if kind == "execute_result":
            count = output.get("execution_count")
            clean["execution_count"] = count if isinstance(count, int) and not isinstance(count, bool) else None
        return clean
    dropped[f"output {str(kind)[:40]}"] += 1
    return None


def _clean_nbgrader(meta: Any, dropped: Counter[str]) -> dict[str, Any] | None:
    if not isinstance(meta, Mapping):
        return None
    out = {}
    for key, kind in _NBGRADER_TYPES.items():
        if key not in meta:
            continue
        value = meta[key]
        ok = isinstance(value, kind) and (kind is bool or not isinstance(value, bool))
        if ok and key == "grade_id":
            ok = bool(_GRADE_ID.fullmatch(value))
        if ok:
            out[key] = value
        else:
            dropped[f"nbgrader {key}"] += 1
    return out if "grade_id" in out or not any(k in meta for k in ("grade", "solution")) else None


def _clean_cell(cell: Any, index: int, dropped: Counter[str]) -> dict[str, Any] | None:
    if not isinstance(cell, Mapping) or cell.get("cell_type") not in ("code", "markdown", "raw"):
        dropped["cell"] += 1
        return None
    kind = cell["cell_type"]
    source = _text(cell.get("source")) or ""
    if kind in ("markdown", "raw"):
        cleaned = clean_markdown(source)
        if cleaned != source:
            dropped["markdown HTML"] += 1
        source = cleaned
    out: dict[str, Any] = {"cell_type": kind, "source": source, "metadata": {}}
    cell_id = cell.get("id")
    if cell_id is not None:
        out["id"] = cell_id if isinstance(cell_id, str) and _CELL_ID.fullmatch(cell_id) else f"cell-{index}"
    metadata = cell.get("metadata")
    nbgrader = _clean_nbgrader(metadata.get("nbgrader"), dropped) if isinstance(metadata, Mapping) else None
    if nbgrader:
        out["metadata"]["nbgrader"] = nbgrader
    if kind == "code":
        count = cell.get("execution_count")
        out["execution_count"] = count if isinstance(count, int) and not isinstance(count, bool) else None
        outputs = cell.get("outputs") if isinstance(cell.get("outputs"), list) else []
        out["outputs"] = [o for o in (_clean_output(o, dropped) for o in outputs) if o is not None]
    elif isinstance(cell.get("attachments"), Mapping):
        attachments = {name: _clean_mimebundle(bundle, dropped)
                       for name, bundle in cell["attachments"].items()
                       if isinstance(name, str) and _CELL_ID.fullmatch(name.replace(".", "_"))}
        if any(attachments.values()):
            out["attachments"] = {k: v for k, v in attachments.items() if v}
    return out


def safe_notebook(nb: Mapping[str, Any], release_metadata: Mapping[str, Any]) -> tuple[dict[str, Any], Counter[str]]:
    """(a copy of `nb` made of inert parts only, what was dropped by kind)."""
    dropped: Counter[str] = Counter()
    cells = nb.get("cells") if isinstance(nb.get("cells"), list) else []
    clean_cells = [c for c in (_clean_cell(c, i, dropped) for i, c in enumerate(cells)) if c is not None]
    minor = nb.get("nbformat_minor")
    minor = minor if isinstance(minor, int) and not isinstance(minor, bool) and 0 <= minor <= 5 else 5
    if minor < 5:
        for c in clean_cells:
            c.pop("id", None)
    elif any("id" not in c for c in clean_cells):
        for i, c in enumerate(clean_cells):
            c.setdefault("id", f"cell-{i}")
    return {"cells": clean_cells, "metadata": copy.deepcopy(dict(release_metadata)),
            "nbformat": 4, "nbformat_minor": minor}, dropped
