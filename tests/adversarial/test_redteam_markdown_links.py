"""Red team: markdown *syntax* links with a `javascript:` URL survive into formgrader's HTML.

`autograder.grading.sanitize.clean_markdown` hands a markdown cell to nh3 only when it holds a raw HTML tag
(`<[A-Za-z!/?]`); "markdown syntax itself is left alone". But nbconvert's markdown renderer
(mistune, used by formgrader's `formgrade` template, `sanitize_html` off) turns
`[text](javascript:...)`, `![x](javascript:...)`, reference links and entity-encoded schemes
into `<a href="javascript:...">` / `<img src="javascript:...">` on the TA's Jupyter origin: one
click in an inline answer runs the student's script with the TA's Jupyter session (kernels,
files, the gradebook).
"""

from __future__ import annotations

import re

import nbformat
import pytest

from autograder.grading.sanitize import safe_notebook

PAYLOADS = [
    "[see my derivation](javascript:alert(document.domain))",
    "![plot](javascript:alert(document.domain))",
    "[ref link][r]\n\n[r]: javascript:alert(document.domain)",
    "[entity](&#106;avascript:alert(document.domain))",
    "[mixed case](JaVaScRiPt:alert(document.domain))",
    "[colon entity](javascript&colon;alert(document.domain))",
]


@pytest.mark.parametrize("payload", PAYLOADS)
def test_markdown_link_with_javascript_url_is_not_rendered_for_formgrader(payload: str) -> None:
    from nbconvert import HTMLExporter
    from nbgrader.server_extensions.formgrader import handlers

    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_markdown_cell("My answer to the inline question.\n\n" + payload)
    cell.metadata["nbgrader"] = {"grade": True, "solution": True, "locked": False,
                                 "points": 6, "grade_id": "inline_relu_gate", "schema_version": 3}
    nb.cells.append(cell)
    safe, _ = safe_notebook(nb, {})
    exporter = HTMLExporter(template_name="formgrade", extra_template_basedirs=[handlers.template_path])
    resources = {"assignment_id": "A4", "notebook_id": "two_layer_net", "submission_id": "x",
                 "index": 0, "total": 1, "base_url": "", "student": "s1", "last_name": "",
                 "first_name": "", "notebook_path": "x.ipynb"}
    html, _ = exporter.from_notebook_node(nbformat.from_dict(safe), resources=resources)
    urls = re.findall(r"""(?:href|src)\s*=\s*["']?\s*([^"'>\s]*)""", html, flags=re.I)
    assert not [u for u in urls if re.match(r"\s*javascript", u, re.I)], urls


def test_extra_file_name_in_the_deductions_cell_is_no_javascript_link(tmp_path) -> None:
    """The same link as the *name of an extra file* in the zip: the kit's own "Autograder: policy
    deductions" cell quotes it (zip-structure), so the link appears in a cell the TA trusts."""
    import subprocess
    import sys
    import zipfile

    from nbconvert import HTMLExporter
    from nbgrader.server_extensions.formgrader import handlers

    from demo import classroom as demo

    course, subs = demo.build_class(tmp_path, (demo.Student("s70", ""),), echo=lambda *_: None)
    with zipfile.ZipFile(subs / "A4_s70.zip", "a") as zf:
        zf.writestr("[open my notes](javascript:alert(document.domain))", b"hi")
    run = subprocess.run([sys.executable, "-m", "autograder", "grade", "A4", str(subs), "--out",
                          str(tmp_path / "out"), "--course", str(course)], capture_output=True, text=True,
                         timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    path = course / "autograded" / "s70" / "A4" / demo.NOTEBOOK
    exporter = HTMLExporter(template_name="formgrade", extra_template_basedirs=[handlers.template_path])
    resources = {"assignment_id": "A4", "notebook_id": "two_layer_net", "submission_id": "x",
                 "index": 0, "total": 1, "base_url": "", "student": "s70", "last_name": "",
                 "first_name": "", "notebook_path": str(path)}
    html, _ = exporter.from_filename(str(path), resources=resources)
    urls = re.findall(r"""(?:href|src)\s*=\s*["']?\s*([^"'>\s]*)""", html, flags=re.I)
    assert not [u for u in urls if re.match(r"\s*javascript", u, re.I)], urls
