"""The documentation site as its readers meet it, checked on a real ``mkdocs build --strict``.

One build per test run (module fixture), then: the API reference rendered, truthfully (each
policy's real constructor, its fields' types, defaults, required-ness and descriptions;
cross-references that are links and resolve; signatures that fit; each room grouped, functions
first, under a summary of its ``__all__``); the executed examples and their figures (decodable, not
blank) on the gallery and room pages; no request to another host when a page loads (no web fonts:
Google Fonts is often unreachable from mainland China); Chinese words found by the search as the
theme's own search engine tokenizes the index; the Chinese landing page; navigation groups, footer
links and a sitemap; code blocks that fit the content width; a copy button that copies code without
prompts or output; no "being written" stubs.
"""

from __future__ import annotations

import ast
import enum
import functools
import importlib
import inspect
import io
import json
import os
import pkgutil
import re
import shutil
import subprocess
import sys
import unicodedata
from collections.abc import Iterator
from html import unescape
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pydantic
import pytest
import yaml

import user_ops
from user_ops.coupons import CouponTemplate

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
sys.path.insert(0, str(DOCS / "hooks"))

import gallery  # noqa: E402  (the build hook that runs the examples, docs/hooks/gallery.py)
import run_notebook  # noqa: E402  (its runner, which parses the percent-format cells)

CHINESE_TERMS = ("权益", "生命周期", "积分", "定向发券")
# What a code block shows without scrolling at a 1400 px wide window, in the theme's monospace
# font (13.6 px, 8.2 px a character; measured in Chromium), with the wider grid of extra.css.
CODE_COLUMNS = 100


def _build(site_dir: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site_dir)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1", **env},
        timeout=600,
    )


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    site_dir = tmp_path_factory.mktemp("docs") / "site"
    result = _build(site_dir)
    assert result.returncode == 0, result.stderr[-4000:]
    return site_dir


def _page(site: Path, name: str) -> str:
    return (site / name / "index.html").read_text(encoding="utf-8")


class _Tags(HTMLParser):
    """Every start tag of a page, with its attributes."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str]]] = []
        self.styles: list[str] = []
        self._in_style = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, {key: value or "" for key, value in attrs}))
        self._in_style = tag == "style"

    def handle_endtag(self, tag: str) -> None:
        self._in_style = False

    def handle_data(self, data: str) -> None:
        if self._in_style:
            self.styles.append(data)


def _tags(html: str) -> _Tags:
    parser = _Tags()
    parser.feed(html)
    return parser


def _images(site: Path, name: str) -> list[Path]:
    page_dir = site / name
    sources = [attrs["src"] for tag, attrs in _tags(_page(site, name)).tags if tag == "img"]
    return [(page_dir / src).resolve() for src in sources if src.endswith(".png")]


def _assert_real_picture(path: Path) -> None:
    from PIL import Image

    assert path.is_file(), f"{path} is embedded but not in the site"
    with Image.open(path) as image:
        assert image.format == "PNG", path
        image.load()  # decodes every pixel: a truncated or corrupt file fails here
        pixels = image.convert("L")
        low, high = pixels.getextrema()
        colours = len(image.convert("RGB").getcolors(maxcolors=1 << 24) or ())
    assert image.width >= 200 and image.height >= 150, f"{path.name} is {image.size}"
    assert high - low > 100 and colours > 20, f"{path.name} is blank ({colours} colours)"


def test_the_docs_site_builds_strictly(site: Path) -> None:
    api_page = (site / "reference" / "rules" / "index.html").read_text(encoding="utf-8")
    assert 'id="user_ops.rules.Rule.evaluate_one"' in api_page  # mkdocstrings rendered the docstrings
    for page in ("cookbook", "glossary", "performance", "changelog", "install", "zh"):
        assert (site / page / "index.html").stat().st_size > 0


# -- 1. Pictures and a gallery --------------------------------------------------------------------


def test_the_plots_page_shows_a_decodable_figure_of_every_plot(site: Path) -> None:
    images = _images(site, "plots")
    # rfm_grid, segment_treemap, pareto_curve, stage_bars, transition_flows (2), tier_distribution,
    # points_expiring
    assert len(images) >= 8, images
    for image in images:
        _assert_real_picture(image)


@pytest.mark.parametrize("page", ["rfm", "lifecycle", "membership", "points"])
def test_the_room_pages_show_the_figures_of_their_room(site: Path, page: str) -> None:
    images = _images(site, page)
    assert images, f"no figure on the {page} page"
    for image in images:
        _assert_real_picture(image)


def test_the_walkthrough_is_an_executed_page_with_its_figures(site: Path) -> None:
    html = _page(site, "gallery/walkthrough")
    images = _images(site, "gallery/walkthrough")
    assert len(images) >= 12
    for image in images:
        _assert_real_picture(image)
    # the output of the last cell: the script ran to the end
    assert "best: tea-10pct, winback-199-30" in html
    assert "did not run" not in html


def test_the_cdnow_quick_start_runs_or_says_how_to_get_the_data(site: Path) -> None:
    html = _page(site, "gallery/cdnow-quickstart")
    if (ROOT.parent / "shared" / "data" / "cdnow" / "CDNOW_sample.txt").is_file():
        names = {image.name for image in _images(site, "gallery/cdnow-quickstart")}
        assert {"cdnow_p_alive_matrix.png", "cdnow_rfm_grid.png", "cdnow_stages.png"} <= names
        for image in _images(site, "gallery/cdnow-quickstart"):
            _assert_real_picture(image)
        text = unescape(re.sub(r"<[^>]+>", "", html))
        assert "fit to 1997-09-30: {'r': 0.243, 'alpha': 4.414, 'a': 0.793, 'b': 2.426}" in text
    else:
        assert "The CDNOW sample is not here" in html


def test_without_the_cdnow_file_the_quick_start_page_says_how_to_get_it(tmp_path: Path) -> None:
    # What the build does with the script (same runner, same rendering), the file named being absent.
    script = ROOT / "examples" / "cdnow_quickstart.py"
    result = subprocess.run(
        [sys.executable, str(gallery.RUNNER), str(script), str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        encoding="utf-8",
        env={**os.environ, "USER_OPS_CDNOW": str(tmp_path / "absent.txt"), "PYTHONPATH": str(ROOT)},
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    cells = json.loads(result.stdout)
    page = gallery.render(cells, script=script, slug="cdnow-quickstart", figures=tmp_path, config={})
    assert "The CDNOW sample is not here" in page
    assert "lifetimes/datasets/CDNOW_sample.txt" in page
    assert "The cells below did not run when this site was built" in page
    assert "![" not in page  # no figure, so no broken image link in a strict build
    assert "BGNBD(period=" in page  # the rest is still shown, as code


# -- 2. Readers in China ----------------------------------------------------------------------------

_LOADS_AT_PAGE_LOAD = {
    "stylesheet",
    "preload",
    "prefetch",
    "preconnect",
    "dns-prefetch",
    "icon",
    "modulepreload",
}
_EXTERNAL = re.compile(r"^(https?:)?//", re.IGNORECASE)
_CSS_EXTERNAL = re.compile(r"@import|url\(\s*['\"]?(https?:)?//", re.IGNORECASE)


def _requests_to_other_hosts(html: str) -> list[str]:
    parsed = _tags(html)
    found = []
    for tag, attrs in parsed.tags:
        rel = set(attrs.get("rel", "").lower().split())
        if tag == "link" and rel & _LOADS_AT_PAGE_LOAD and _EXTERNAL.match(attrs.get("href", "")):
            found.append(f"<link rel={attrs['rel']} href={attrs['href']}>")
        loads_src = tag in {"script", "img", "iframe", "source", "audio", "video", "embed"}
        if loads_src and _EXTERNAL.match(attrs.get("src", "")):
            found.append(f"<{tag} src={attrs['src']}>")
        if _CSS_EXTERNAL.search(attrs.get("style", "")):
            found.append(f"<{tag} style={attrs['style']}>")
        if attrs.get("data-md-component") == "source":  # makes the theme fetch api.github.com
            found.append(f'<{tag} data-md-component="source">')
    found += [f"<style> {css[:80]}" for css in parsed.styles if _CSS_EXTERNAL.search(css)]
    return found


def test_no_page_requests_another_host_when_it_loads(site: Path) -> None:
    pages = sorted(site.rglob("*.html"))
    assert len(pages) >= 35
    offenders = {
        str(page.relative_to(site)): found
        for page in pages
        if (found := _requests_to_other_hosts(page.read_text(encoding="utf-8")))
    }
    assert offenders == {}
    for css in site.rglob("*.css"):
        assert not _CSS_EXTERNAL.search(css.read_text(encoding="utf-8")), css
    assert "fonts.googleapis.com" not in _page(site, "")


def test_the_request_check_catches_a_web_font() -> None:
    # The check above would have failed on the theme's default (Google Fonts) and its repository facts.
    html = (
        '<link rel="preconnect" href="https://fonts.gstatic.com" crossorigin>'
        '<link rel="stylesheet" href="https://fonts.googleapis.com/css?family=Roboto">'
        '<link rel="canonical" href="https://example.org/page/">'
        '<a href="https://github.com/x/y" data-md-component="source">repo</a>'
        "<style>@font-face { src: url(https://fonts.gstatic.com/x.woff2) }</style>"
    )
    assert len(_requests_to_other_hosts(html)) == 4


def _index(site: Path) -> dict[str, object]:
    data: dict[str, object] = json.loads((site / "search" / "search_index.json").read_text(encoding="utf-8"))
    return data


def _lunr_tokens(text: str, separator: re.Pattern[str]) -> set[str]:
    """The terms the theme's search tokenizer makes of an indexed field: the text between HTML tags,
    split by the configured separator, lowercased (mkdocs-material's tokenize())."""
    tokens: set[str] = set()
    for part in re.split(r"<[^>]*>", text):
        tokens.update(token.lower() for token in separator.split(part) if token)
    return tokens


@pytest.mark.parametrize("term", CHINESE_TERMS)
def test_chinese_words_inside_longer_phrases_are_search_terms(site: Path, term: str) -> None:
    index = _index(site)
    config = index["config"]
    assert isinstance(config, dict)
    separator = re.compile(config["separator"])
    docs = index["docs"]
    assert isinstance(docs, list)
    holding = [doc for doc in docs if term in (doc["title"] + doc["text"]).replace("\u200b", "")]
    pages = {doc["location"].split("#")[0] for doc in holding}
    assert len(pages) >= 3, f"{term} is on too few pages to test: {pages}"
    missed = [
        doc["location"]
        for doc in holding
        if term not in _lunr_tokens(doc["title"], separator) | _lunr_tokens(doc["text"], separator)
    ]
    assert missed == [], f"{term} is on these sections but not a search term there"


@pytest.mark.skipif(
    shutil.which("node") is None, reason="Node.js is not installed: the theme's search engine cannot run"
)
def test_the_themes_own_search_finds_every_page_with_a_chinese_word(site: Path, tmp_path: Path) -> None:
    # The search worker shipped in the site (lunr with the theme's tokenizer and query segmenter), run
    # under Node on the built index, exactly as the browser runs it.
    (worker,) = (site / "assets" / "javascripts" / "workers").glob("search.*.min.js")
    driver = tmp_path / "search.js"
    driver.write_text(_SEARCH_DRIVER, encoding="utf-8")
    index = site / "search" / "search_index.json"
    result = subprocess.run(
        ["node", str(driver), str(worker), str(index), *CHINESE_TERMS],
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    found: dict[str, list[str]] = json.loads(result.stdout)
    docs = _index(site)["docs"]
    assert isinstance(docs, list)
    for term in CHINESE_TERMS:
        pages = {
            d["location"].split("#")[0]
            for d in docs
            if term in (d["title"] + d["text"]).replace("\u200b", "")
        }
        results = {location.split("#")[0] for location in found[term]}
        assert pages <= results, f"searching {term} misses {sorted(pages - results)}"


_SEARCH_DRIVER = """
const fs = require("fs"), vm = require("vm");
const [workerPath, indexPath, ...queries] = process.argv.slice(2);
let listener = null;
const replies = [];
const sandbox = { console, setTimeout, clearTimeout,
  addEventListener: (type, fn) => { listener = fn; }, postMessage: msg => replies.push(msg) };
sandbox.self = sandbox;
vm.createContext(sandbox);
vm.runInContext(fs.readFileSync(workerPath, "utf8"), sandbox);
(async () => {
  const index = JSON.parse(fs.readFileSync(indexPath, "utf8"));
  // message types of the theme's worker: 0 setup, 2 query (answers 1 ready, 3 result)
  await listener({ data: { type: 0, data: { config: index.config, docs: index.docs, options: {} } } });
  const out = {};
  for (const query of queries) {
    await listener({ data: { type: 2, data: query } });
    out[query] = replies[replies.length - 1].data.items.map(group => group[0].location);
  }
  process.stdout.write(JSON.stringify(out));
})();
"""


def test_the_chinese_landing_page_is_linked_from_the_home_page(site: Path) -> None:
    home = _tags(_page(site, ""))
    assert any(tag == "a" and attrs.get("href") in {"zh/", "zh/index.html"} for tag, attrs in home.tags)
    source = (DOCS / "zh" / "index.md").read_text(encoding="utf-8")
    assert source.startswith("# user_ops 中文首页")
    for topic in ("## 安装", "## 规则", "## 标签", "## RFM", "## 用户生命周期", "## 优惠券"):
        assert topic in source
    assert source.count(">>> ") >= 20  # runnable examples (they run as doctests of docs/zh/index.md)


# -- 3. An API reference that tells the truth -------------------------------------------------------

_VOID_TAGS = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "wbr"}


class _Element:
    """An element of a parsed page: enough of a DOM to read the reference's tables and signatures."""

    def __init__(self, tag: str, attrs: dict[str, str], parent: _Element | None) -> None:
        self.tag, self.attrs, self.parent = tag, attrs, parent
        self.children: list[_Element | str] = []

    @property
    def classes(self) -> set[str]:
        return set(self.attrs.get("class", "").split())

    def text(self) -> str:
        return "".join(child if isinstance(child, str) else child.text() for child in self.children)

    def iter(self, *, skip: str | None = None) -> Iterator[_Element]:
        """This element and every element inside it, in document order; not inside ``skip`` elements."""
        yield self
        for child in self.children:
            if isinstance(child, _Element) and not (skip and skip in child.classes):
                yield from child.iter(skip=skip)


class _Tree(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = _Element("document", {}, None)
        self._open = self.root

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        element = _Element(tag, {key: value or "" for key, value in attrs}, self._open)
        self._open.children.append(element)
        if tag not in _VOID_TAGS:
            self._open = element

    def handle_endtag(self, tag: str) -> None:
        element: _Element | None = self._open
        while element is not None and element.tag != tag:
            element = element.parent
        if element is not None and element.parent is not None:
            self._open = element.parent

    def handle_data(self, data: str) -> None:
        self._open.children.append(data)


@functools.cache
def _dom(path: Path) -> _Element:
    tree = _Tree()
    tree.feed(path.read_text(encoding="utf-8"))
    return tree.root


def _reference_page_files(site: Path) -> list[Path]:
    return sorted((site / "reference").rglob("index.html"))


def _rooms_by_page() -> dict[str, list[str]]:
    """``{page: [room, ...]}`` from the ``<!-- reference: room -->`` lines of docs/reference/*.md."""
    pages = {}
    for source in sorted((DOCS / "reference").glob("*.md")):
        page = "reference" if source.stem == "index" else f"reference/{source.stem}"
        pages[page] = re.findall(r"^<!-- reference: ([\w.]+) -->$", source.read_text("utf-8"), re.MULTILINE)
    return pages


def _import_path(path: str) -> Any:
    """The object a documented path names (``user_ops.coupons.CouponTemplate``), imported."""
    parts = path.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            value: Any = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for part in parts[cut:]:
            value = getattr(value, part)
        return value
    raise ImportError(path)


def _object(site: Path, page: str, identifier: str) -> _Element:
    """The ``doc-object`` block of the object whose heading has the id ``identifier``."""
    for element in _dom(site / page / "index.html").iter():
        if element.attrs.get("id") == identifier and element.parent is not None:
            return element.parent
    raise AssertionError(f"{identifier} is not documented on {page}")


def _own(block: _Element, css_class: str) -> list[_Element]:
    """Elements of ``css_class`` in an object's block, not in the blocks of its members."""
    return [element for element in block.iter(skip="doc-children") if css_class in element.classes]


def _signature(block: _Element) -> str:
    signatures = _own(block, "doc-signature")
    assert signatures, "no signature"
    return signatures[0].text().strip()


def _parameters_table(block: _Element) -> dict[str, tuple[str, str, str]]:
    """``{name: (type, default, description)}`` of the object's own Parameters table (as shown)."""
    for table in (element for element in block.iter(skip="doc-children") if element.tag == "table"):
        header = [cell.text().strip() for cell in table.iter() if cell.tag == "th"]
        if header == ["Name", "Type", "Description", "Default"]:
            rows = [row for row in table.iter() if row.tag == "tr" and "doc-section-item" in row.classes]
            cells = [[cell.text().strip() for cell in row.iter() if cell.tag == "td"] for row in rows]
            return {name: (kind, default, text) for name, kind, text, default in cells}
    return {}


def _parsed_signature(text: str) -> ast.arguments:
    """A rendered signature (``Name(a: int, *, b: str = "x")``) parsed as Python."""
    call = re.sub(r"\)\s*->.*\Z", ")", text[text.index("(") :], flags=re.DOTALL)
    function = ast.parse(f"def f{call}: pass").body[0]
    assert isinstance(function, ast.FunctionDef)
    return function.args


def _same_expression(shown: str, source: ast.expr) -> bool:
    return ast.unparse(ast.parse(shown, mode="eval").body) == ast.unparse(source)


def _models(site: Path) -> list[tuple[str, str, type]]:
    """``(page, documented path, class)`` of every pydantic model documented in the reference."""
    found = []
    for page_file in _reference_page_files(site):
        page = str(page_file.parent.relative_to(site))
        for element in _dom(page_file).iter():
            identifier = element.attrs.get("id", "")
            if "doc-heading" in element.classes and identifier.startswith("user_ops."):
                value = _import_path(identifier)
                if isinstance(value, type) and issubclass(value, pydantic.BaseModel):
                    found.append((page, identifier, value))
    return found


def test_a_policys_page_shows_each_field_its_type_its_default_and_whether_it_is_required(site: Path) -> None:
    block = _object(site, "reference/coupons", "user_ops.coupons.CouponTemplate")
    signature = _signature(block)
    assert "**data" not in signature and signature.startswith("CouponTemplate(")
    table = _parameters_table(block)
    assert list(table) == list(CouponTemplate.model_fields)  # 14 fields, in order, each documented
    required = [name for name, (_, default, _) in table.items() if default == "required"]
    assert required == ["id", "currency", "benefit"]
    assert table["target"][:2] == ("Target", "None")
    assert table["conditions"][:2] == ("Conditions", "Conditions()")
    assert table["label_en"][:2] == ("str | None", "None")  # its own, not the one of "name, label_en, ..."
    assert table["name"][:2] == ("str", "''")
    # The types are links to their own documentation.
    (benefit_row,) = [
        row for row in block.iter() if row.tag == "tr" and row.text().split()[:1] == ["benefit"]
    ]
    hrefs = {link.attrs.get("href") for link in benefit_row.iter() if link.tag == "a"}
    assert "#user_ops.coupons.Benefit" in hrefs


def test_every_model_shows_the_constructor_pydantic_accepts(site: Path) -> None:
    models = _models(site)
    assert len(models) >= 60  # the policies and validated data of every room
    for page, identifier, model in models:
        block = _object(site, page, identifier)
        signature = _signature(block)
        assert "**data" not in signature, f"{identifier}: {signature}"
        parameters = _parsed_signature(signature)
        keyword = dict(zip((a.arg for a in parameters.kwonlyargs), parameters.kw_defaults))
        positional = [a.arg for a in parameters.posonlyargs + parameters.args]
        accepted = inspect.signature(model).parameters
        assert positional + list(keyword) == list(accepted), identifier
        table = _parameters_table(block)
        for name, field in model.model_fields.items():
            assert name in table, f"{identifier}: the field {name} is not in the parameters table"
            shown_type, shown_default, description = table[name]
            assert description, f"{identifier}: the field {name} is not described"
            if name in keyword:
                default = keyword[name]
                annotation = next(a.annotation for a in parameters.kwonlyargs if a.arg == name)
                assert annotation is not None and _same_expression(shown_type, annotation), (identifier, name)
                assert (default is None) == field.is_required(), (identifier, name)
                if default is None:
                    assert shown_default == "required", (identifier, name)
                else:
                    assert _same_expression(shown_default, default), (identifier, name, shown_default)
            else:  # a positional parameter standing for the field (``TagSet([...])``): its own default
                assert shown_default != "required" or accepted[name].default is inspect.Parameter.empty


_SPHINX_ROLE = re.compile(r":(?:class|func|meth|attr|mod|data|exc|obj):`")


def test_no_docstring_uses_a_sphinx_role() -> None:
    # The reference renders docstrings as markdown: `[`Name`][]` is a link there, :class:`Name` raw text.
    found = [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
        for path in sorted((ROOT / "user_ops").rglob("*.py"))
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1)
        if _SPHINX_ROLE.search(line)
    ]
    assert found == []


def test_the_reference_shows_no_raw_role_and_its_cross_references_resolve(site: Path) -> None:
    anchors: dict[Path, set[str]] = {}
    links = 0
    for page_file in _reference_page_files(site):
        html = page_file.read_text(encoding="utf-8")
        assert not re.search(r":(?:class|func|meth|attr|mod|data|exc|obj):", unescape(html)), page_file
        for element in _dom(page_file).iter():
            if element.tag != "a" or "autorefs-internal" not in element.classes:
                continue
            links += 1
            target, _, fragment = element.attrs["href"].partition("#")
            target_file = (page_file.parent / target / "index.html").resolve() if target else page_file
            if target_file not in anchors:
                anchors[target_file] = set(re.findall(r'\sid="([^"]+)"', target_file.read_text("utf-8")))
            assert fragment in anchors[target_file], f"{page_file}: {element.attrs['href']} goes nowhere"
    assert links > 500  # 187 before, when most of them were raw roles
    # A few of the former roles, now links: a model named in a field's description, a method of the
    # class in its docstring, a function of another module, a name of another page.
    coupons = site / "reference" / "coupons" / "index.html"
    linked = {
        (element.text(), element.attrs["href"])
        for element in _dom(coupons).iter()
        if element.tag == "a" and "autorefs-internal" in element.classes
    }
    assert ("Benefit", "#user_ops.coupons.Benefit") in linked  # was :class:`Benefit`
    assert ("issue", "#user_ops.coupons.IssuedCoupon.issue") in linked  # was :meth:`issue`
    assert ("check_store", "#user_ops.coupons.testing.check_store") in linked  # :func:`~...check_store`
    assert ("user_ops.Money", "../#user_ops.Money") in linked  # was :class:`user_ops.Money`


def test_the_docs_extras_install_a_signature_formatter() -> None:
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    extras = config["project"]["optional-dependencies"]
    for extra in ("docs", "dev"):  # mkdocstrings formats signatures with black or ruff, if installed
        assert any(re.match(r"(ruff|black)\b", requirement) for requirement in extras[extra]), extra


def test_long_signatures_are_formatted_to_fit_the_content_width(site: Path) -> None:
    signature = _signature(_object(site, "reference/coupons", "user_ops.coupons.plan_issuance"))
    assert len(signature.splitlines()) > 10  # one parameter a line
    # Every signature of a function or class (a constant's value, text included, is shown as it is).
    signatures = [
        block
        for page_file in _reference_page_files(site)
        for block in _dom(page_file).iter()
        if "doc-signature" in block.classes
        and block.parent is not None
        and block.parent.classes & {"doc-function", "doc-class"}
    ]
    assert len(signatures) > 300
    too_wide = [
        line for block in signatures for line in block.text().splitlines() if len(line) > CODE_COLUMNS
    ]
    assert too_wide == []


_GROUP_RANK = {"function": 0, "class": 1, "enum or error": 2, "constant": 3}


def _kind(value: Any) -> str:
    if inspect.isclass(value):
        return "enum or error" if issubclass(value, (BaseException, enum.Enum)) else "class"
    if inspect.isfunction(value):
        return "function"
    return "constant"


def test_each_room_page_lists_its_names_in_a_summary_then_functions_classes_errors(site: Path) -> None:
    pages = _rooms_by_page()
    documented = {room for rooms in pages.values() for room in rooms}
    doors = {"user_ops", "user_ops.exceptions"} | {
        f"user_ops.{info.name}"
        for info in pkgutil.iter_modules(user_ops.__path__)
        if info.ispkg and not info.name.startswith("_")
    }
    assert doors <= documented, f"rooms without a reference page: {sorted(doors - documented)}"
    for page, rooms in pages.items():
        page_file = site / page / "index.html"
        root = _dom(page_file)
        tables = [element for element in root.iter() if element.tag == "table"]
        summaries = [t for t in tables if [c.text() for c in t.iter() if c.tag == "th"][1:] == [""]]
        summary_links = {
            link.text(): link.attrs["href"] for t in summaries for link in t.iter() if link.tag == "a"
        }
        rows = [
            [c.text().strip() for c in row.iter() if c.tag == "td"] for t in summaries for row in t.iter()
        ]
        assert [row for row in rows if len(row) == 2 and not row[1]] == [], f"{page}: names without a summary"
        headings = [
            element.attrs["id"]
            for element in root.iter()
            if "doc-heading" in element.classes and element.attrs.get("id", "").startswith("user_ops.")
        ]
        for room in [inner for page_room in rooms for inner in _with_submodules(page_room)]:
            module = importlib.import_module(room)
            for name in module.__all__:
                assert name in summary_links, f"{page}: {room}.{name} is not in the summary"
                value = getattr(module, name)
                home = _home_room(room, name, value, documented)
                if room != "user_ops" and not inspect.ismodule(value) and home != room:
                    # a room's re-export of another room's name (user_ops.plugins.register_function
                    # is user_ops.rules'): listed, linked to where it is documented
                    assert summary_links[name].endswith(f"/#{home}.{name}"), (page, name, home)
                elif room != "user_ops" and not inspect.ismodule(value):
                    # documented on its room's page (only the top level lists other rooms' names)
                    assert summary_links[name] == f"#{room}.{name}", (page, name, summary_links[name])
                    assert f"{room}.{name}" in headings, f"{page}: {room}.{name} is not documented"
            # Functions first, then classes, then enumerations and errors, then constants and types.
            own = [
                h for h in headings if h.rsplit(".", 1)[0] == room and h.rsplit(".", 1)[1] in module.__all__
            ]
            ranks = [_GROUP_RANK[_kind(getattr(module, h.rsplit(".", 1)[1]))] for h in own]
            assert ranks == sorted(ranks), f"{page}: {room} is not grouped: {own}"
        # The summary comes before the first documented object.
        first_table = next(i for i, element in enumerate(root.iter()) if element.tag == "table")
        first_object = next(i for i, element in enumerate(root.iter()) if "doc-heading" in element.classes)
        assert first_table < first_object, page
    # The functions of the coupons room are where a reader looks first, not after 42 classes.
    coupons = [h for h in _headings(site, "reference/coupons") if h.count(".") == 2]
    assert coupons.index("user_ops.coupons.check") < coupons.index("user_ops.coupons.CouponTemplate")


def _home_room(room: str, name: str, value: Any, rooms: set[str]) -> str:
    """The other room that defines and exports ``value`` (its reference home), else ``room``."""
    module = getattr(value, "__module__", None) if inspect.isclass(value) or callable(value) else None
    if not isinstance(module, str):
        return room
    for other in sorted(rooms - {room, "user_ops"}, key=len, reverse=True):
        door = importlib.import_module(other)
        if module.startswith(other + ".") and name in door.__all__ and getattr(door, name) is value:
            return other
    return room


def _with_submodules(room: str) -> list[str]:
    """The room and the submodules it exports (``user_ops.coupons.testing``), documented with it."""
    module = importlib.import_module(room)
    inner = [getattr(module, name) for name in module.__all__]
    return [room] + [
        name
        for value in inner
        if inspect.ismodule(value) and value.__name__.startswith(room + ".")
        for name in _with_submodules(value.__name__)
    ]


def _headings(site: Path, page: str) -> list[str]:
    return [
        element.attrs["id"]
        for element in _dom(site / page / "index.html").iter()
        if "doc-heading" in element.classes and "id" in element.attrs
    ]


# -- 4. Reading comfort ----------------------------------------------------------------------------


def test_navigation_is_grouped_with_previous_and_next_links_and_a_sitemap(site: Path) -> None:
    config = yaml.safe_load((ROOT / "mkdocs.yml").read_text(encoding="utf-8"))
    assert [next(iter(group)) for group in config["nav"]] == ["Start", "Guide", "Reference", "Project"]
    assert "navigation.footer" in config["theme"]["features"]
    rules = _page(site, "rules")
    assert "md-footer__link--prev" in rules and "md-footer__link--next" in rules
    assert config["repo_url"].startswith("https://") and config["site_url"].startswith("https://")
    sitemap = (site / "sitemap.xml").read_text(encoding="utf-8")
    locations = re.findall(r"<loc>([^<]+)</loc>", sitemap)
    assert len(locations) == len(list(site.rglob("index.html"))) >= 35  # every page
    assert all(location.startswith(config["site_url"]) for location in locations)


def test_the_installation_page_begins_with_pip_install() -> None:
    source = (DOCS / "install.md").read_text(encoding="utf-8")
    first_block = re.search(r"```\w*\n(.*?)```", source, re.DOTALL)
    assert first_block is not None
    assert first_block.group(1).startswith("pip install ")
    assert source.index("```") < source.index("\n\n", source.index("# Installation") + 15) + 2
    assert "not on PyPI" in source  # honest: there is no release to `pip install user_ops` from


def test_no_page_says_it_is_being_written(site: Path) -> None:
    stubs = [
        str(page.relative_to(site))
        for page in site.rglob("*.html")
        if re.search(r"being written|to be written|coming soon|\bTODO\b", page.read_text(encoding="utf-8"))
    ]
    assert stubs == []


def _display_width(line: str) -> int:
    return sum(2 if unicodedata.east_asian_width(char) in "WF" else 1 for char in line)


def _code_lines(source: Path) -> list[tuple[int, str]]:
    """The lines of ``source`` that a page shows in code blocks, numbered: the fenced blocks of a
    markdown page; the code cells of an example (its markdown cells become prose)."""
    text = source.read_text(encoding="utf-8")
    if source.suffix == ".py":
        code = "\n".join(cell.source for cell in run_notebook.parse_cells(text) if cell.kind == "code")
        return [(0, line) for line in code.splitlines()]
    lines, in_code = [], False
    for number, line in enumerate(text.splitlines(), start=1):
        if re.match(r"\s*(```|~~~)", line):
            in_code = not in_code
        elif in_code:
            lines.append((number, line))
    return lines


def test_code_blocks_fit_the_content_width() -> None:
    sources = sorted(DOCS.rglob("*.md")) + [ROOT / "examples" / name for name in gallery.EXAMPLES]
    too_long = [
        f"{source.relative_to(ROOT)}:{number}: {line}"
        for source in sources
        for number, line in _code_lines(source)
        if _display_width(line) > CODE_COLUMNS
    ]
    assert too_long == [], f"{len(too_long)} code lines wider than {CODE_COLUMNS} columns"


def test_code_in_tables_is_not_broken_inside_a_name(site: Path) -> None:
    css = (site / "stylesheets" / "extra.css").read_text(encoding="utf-8")
    rule = re.search(r"\.md-typeset td code,[^{]*\{([^}]*)\}", css)
    assert rule is not None and "word-break: normal" in rule.group(1)
    assert 'href="../stylesheets/extra.css"' in _page(site, "coupons")


@pytest.mark.skipif(shutil.which("node") is None, reason="Node.js is not installed")
def test_the_copy_button_copies_the_code_without_prompts_or_output(site: Path) -> None:
    script = site / "javascripts" / "copy-code.js"
    assert 'src="../javascripts/copy-code.js"' in _page(site, "rules")
    doctest = (
        '>>> rule = Rule.parse(\n...     "a > 1")\n>>> rule.evaluate_one({"a": 2})\nTrue\n'
        ">>> for x in (1, 2):\n...     print(x)\n...\n1\n2\n"
    )
    program = (
        f"const {{ stripPrompts }} = require({json.dumps(str(script))});"
        f"const copied = stripPrompts({json.dumps(doctest)});"
        "process.stdout.write(JSON.stringify([copied, stripPrompts('pip install x')]));"
    )
    result = subprocess.run(["node", "-e", program], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    copied, plain = json.loads(result.stdout)
    assert (
        copied
        == 'rule = Rule.parse(\n    "a > 1")\nrule.evaluate_one({"a": 2})\nfor x in (1, 2):\n    print(x)\n'
    )
    assert plain is None  # a block without prompts is copied as it is


def test_the_gallery_renders_cells_in_order_with_outputs_and_figures() -> None:
    cells = [
        {"kind": "markdown", "source": "# Title", "ran": True, "stdout": "", "figures": []},
        {
            "kind": "code",
            "source": "print(1)",
            "ran": True,
            "stdout": "1\nsaved in /tmp/x\n",
            "figures": ["a_b.png"],
        },
        {"kind": "code", "source": "print(2)", "ran": False, "stdout": "", "figures": []},
    ]
    page = gallery.render(
        cells, script=ROOT / "examples" / "x.py", slug="x", figures=Path("/tmp/x"), config={}
    )
    assert page.index("# Title") < page.index("An executed example") < page.index("print(1)")
    assert "```text\n1\nsaved in gallery/x\n```" in page
    assert "![a b](x/a_b.png)" in page
    assert page.index("did not run") < page.index("print(2)")
    assert io.StringIO(page).readline() == "# Title\n"
