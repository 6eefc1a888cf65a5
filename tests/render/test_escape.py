"""The escaping functions, one per output kind, and the rule that only literals become trusted text."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from agentiam.render.escape import (Hcl, Html, Markdown, Shell, Terminal, Wording, document, hcl_string, html_code,
                                    markdown_code, sarif_text, shell_word, table_row, workflow_data,
                                    workflow_property)
from tests.render.github_markdown import github_html, render

PACKAGE = Path(__file__).resolve().parents[2] / "agentiam"
TRUSTED = {"Markdown", "Html", "Terminal", "Hcl", "Shell", "Wording", "Trusted", "kind"}  # `kind`: a parameter naming a kind


@pytest.mark.parametrize(("value", "span"), [
    ("s3:GetObject", "`s3:GetObject`"),
    ("a`b", "``a`b``"),
    ("``x", "``` ``x ```"),
    ("x`", "`` x` ``"),
    (" padded ", "`  padded  `"),
    ("", "` `"),
    ("line\nbreak\x1b[2J\u202e", "`line\\nbreak\\x1b[2J\\u202e`"),
])
def test_markdown_code_is_one_code_span_showing_the_value(value: str, span: str):
    assert markdown_code(value) == span
    html = github_html(span)
    assert html.count("<code>") == 1 and html.startswith("<p><code>") and html.endswith("</code></p>\n")


@pytest.mark.parametrize("value", ["a|b", "a\\|b", "a\\", "|", "`|`", "\\\\|"])
def test_a_table_cell_keeps_pipes_and_backslashes_inside_its_code_span(value: str):
    table = document([Markdown("| a | b |"), Markdown("|---|---|"), table_row(Markdown.value(value), Markdown("x"))])
    rendered = render(table)
    assert rendered.tags.count("td") == 2
    cell = github_html(table).split("<td>")[1].split("</td>")[0]
    assert cell == "<code>" + value.replace("&", "&amp;").replace("<", "&lt;") + "</code>"


def test_html_code_is_entities_in_code():
    assert html_code("x</details><!--\"'&\n") == "<code>x&lt;/details&gt;&lt;!--&quot;&#x27;&amp;\\n</code>"


@pytest.mark.parametrize(("value", "quoted"), [
    ("agent-dev-*", '"agent-dev-*"'),
    ('a"b\\c', '"a\\"b\\\\c"'),
    ("${file(\"/etc/shadow\")}", '"$${file(\\"/etc/shadow\\")}"'),  # no interpolation
    ("%{ if x }", '"%%{ if x }"'),  # no directive
    ("line\nbreak", '"line\\\\nbreak"'),  # shown as the two characters \n, on one line
])
def test_hcl_strings_are_one_inert_quoted_string(value: str, quoted: str):
    assert hcl_string(value) == quoted
    assert Hcl('path {} {{').format(value) == f"path {quoted} {{"


@pytest.mark.parametrize(("value", "word"), [
    ("aws", "aws"), ("arn:aws:iam::1:role/x", "arn:aws:iam::1:role/x"), ("a b; rm -rf /", "'a b; rm -rf /'"),
    ("$(id)", "'$(id)'"), ("it's", "'it'\"'\"'s'")])
def test_shell_words_stay_one_word(value: str, word: str):
    assert shell_word(value) == word
    assert Shell("vault secrets enable -path={} aws").format(value) == f"vault secrets enable -path={word} aws"


def test_workflow_commands_escape_what_the_runner_decodes_and_show_the_rest():
    assert workflow_data("50% done\r\nnext") == "50%25 done%0D%0Anext"
    assert workflow_data("::error::x\x1b[31m\u202e") == "::error::x\\x1b[31m\\u202e"
    assert workflow_property("a:b,c%\n") == "a%3Ab%2Cc%25%0A"


def test_sarif_text_has_no_embedded_link():
    assert sarif_text("see [docs](https://evil.example) \\ x") == "see \\[docs\\](https://evil.example) \\\\ x"
    assert sarif_text("a\nb") == "a\\\\nb"  # the escape's own backslash is escaped: `\n` is shown, not a link


def test_trusted_text_escapes_what_is_not_of_its_kind():
    assert Markdown("| {} | {} |").format("<b>x</b>", 3) == "| `<b>x</b>` | 3 |"
    assert Markdown("a") + "@team" == "a`@team`"
    assert "#1" + Markdown("a") == "`#1`a"
    assert Markdown(", ").join(["x", Markdown("**y**")]) == "`x`, **y**"
    assert Markdown("{}").format(Html("<b>{}</b>").format("x")) == "`<b><code>x</code></b>`"  # no Html inline
    assert Markdown("{}").format(Wording("widened")) == "widened"
    assert Terminal("{}: {}").format("a\nb", Markdown("`x`")) == "a\\nb: `x`"
    assert Html("<b>{}</b>").format("<i>") == "<b><code>&lt;i&gt;</code></b>"
    with pytest.raises(TypeError):
        Markdown("%s") % "x"  # noqa: B018 - `%` would bypass the escaping


def test_with_values_rewrites_values_only():
    generic = Markdown.with_values(lambda text: text.replace("dev", "{env}"))
    assert generic("<details>{}</details>").format("billing-dev") == "<details>`billing-{env}`</details>"
    assert isinstance(generic("x"), Markdown)


@pytest.mark.parametrize("text", ["`", "*bold*", "a_b", "<b>", "&amp;", "a|b", "\\", "@team", "#1", "!", "$x$",
                                  "9", "http://x", "www.example.com", "a\u202eb", "a\nb"])
def test_wording_refuses_anything_that_could_be_markup(text: str):
    with pytest.raises(ValueError):
        Wording(text)


def test_an_html_line_must_start_an_html_block():
    with pytest.raises(ValueError):
        document([Html("<b>{}</b>").format("www.example.com")])
    assert document([Html("<details><summary>{}</summary>").format("x"), "not trusted"]) == (
        "<details><summary><code>x</code></summary>\n`not trusted`\n")


def violations(source: str) -> list[str]:
    """Calls making trusted text of anything but a string literal, and private constructors used elsewhere."""
    tree = ast.parse(source)
    names = set(TRUSTED)
    for node in tree.body:  # module-level aliases: `W = Wording`
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Name) and node.value.id in names:
            names |= {t.id for t in node.targets if isinstance(t, ast.Name)}
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        if isinstance(node.func, ast.Name) and node.func.id in names:
            literal = (len(node.args) == 1 and not node.keywords and isinstance(node.args[0], ast.Constant)
                       and isinstance(node.args[0].value, str))
            if not literal:
                found.append(f"line {node.lineno}: {ast.unparse(node)}")
        elif isinstance(node.func, ast.Attribute) and node.func.attr == "_trusted":
            found.append(f"line {node.lineno}: {ast.unparse(node)}")
    return found


def test_the_rule_finds_runtime_text_made_trusted():
    assert violations("W = Wording\nMarkdown(f'| {x} |')\nW(name)\nkind('ok')\nMarkdown('ok')\n"
                      "Markdown._trusted(x)\nHtml('a' + b)\n") == [
        "line 2: Markdown(f'| {x} |')", "line 3: W(name)", "line 6: Markdown._trusted(x)", "line 7: Html('a' + b)"]


def test_only_literals_become_trusted_text_anywhere_in_agentiam():
    found = {str(path.relative_to(PACKAGE)): v for path in sorted(PACKAGE.rglob("*.py"))
             if path.name != "escape.py" and (v := violations(path.read_text(encoding="utf-8")))}
    assert found == {}
