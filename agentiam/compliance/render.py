"""The compliance report as Markdown, an HTML page and JSON.

Every value (agent names, ARNs, owners, file names, check findings quoting log lines) enters through
`agentiam.render.escape`: a code span in Markdown, an HTML-escaped `<code>` element in the page, whose Content
Security Policy also forbids every script and outside resource, so a value can neither become markup nor load
anything.
"""

from __future__ import annotations

import json

from agentiam.compliance.controls import FIELD_TITLES, FIELDS, GAPS
from agentiam.compliance.evidence import ComplianceReport, ControlResult, Gap
from agentiam.render.escape import Html, Markdown, Wording, document, table_row

STATUS = {True: Wording("met"), False: Wording("gaps")}
_STYLE = Html("""<style>
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 80rem; padding: 0 1rem; color: #1b1f24; }
h1 { font-size: 1.6rem; } h2 { font-size: 1.25rem; margin-top: 2.5rem; border-bottom: 1px solid #d0d7de; }
table { border-collapse: collapse; margin: 0.75rem 0; font-size: 0.85rem; }
th, td { border: 1px solid #d0d7de; padding: 0.3rem 0.5rem; text-align: left; vertical-align: top; }
th { background: #f6f8fa; } code { font-family: ui-monospace, monospace; font-size: 0.85em; white-space: pre-wrap;
word-break: break-all; } .met { color: #1a7f37; font-weight: bold; } .gaps { color: #cf222e; font-weight: bold; }
</style>""")


def _gap_text(gap: Gap, kind: type[Markdown] | type[Html]) -> Markdown | Html:
    text = GAPS[gap.kind].render(kind) if gap.kind in GAPS else kind.compose(Wording("finding {}: {}"), gap.kind,
                                                                              gap.detail)
    who = kind.compose(Wording("{} in {}"), gap.agent, gap.environment) if gap.agent else \
        kind.compose(Wording("environment {}"), gap.environment)
    return kind.compose(Wording("{}: {}"), who, text)  # type: ignore[return-value]


# -- Markdown -------------------------------------------------------------------------------------------------------

def render_markdown(report: ComplianceReport) -> str:
    out: list[Markdown] = [
        Markdown("# agentiam: compliance evidence"), Markdown(""),
        Markdown("Generated {} for {}; activity from {}.").format(
            report.generated, Markdown(", ").join(report.environments),
            report.check_window or Markdown("no check report")),
        Markdown(""), Markdown("| framework | control | title | status | gaps |"), Markdown("|---|---|---|---|---:|")]
    for result in report.controls:
        control = result.control
        out.append(table_row(Markdown.value(control.framework), Markdown.value(control.reference),
                             Markdown("{}").format(control.title), Markdown("{}").format(STATUS[result.met]),
                             Markdown("{}").format(len(result.gaps))))
    for result in report.controls:
        out += _markdown_control(report, result)
    return document(out)


def _markdown_control(report: ComplianceReport, result: ControlResult) -> list[Markdown]:
    control = result.control
    out = [Markdown(""), Markdown("## {} {}: {}").format(control.framework, control.reference, control.title),
           Markdown(""), control.asks.render(Markdown), Markdown(""), Markdown("**Enforced by agentiam**"),
           Markdown("")]
    out += [Markdown("- {}").format(text.render(Markdown)) for text in control.enforced]
    out += [Markdown(""), Markdown("**Evidence per agent**"), Markdown("")]
    titles = [Markdown("{}").format(FIELD_TITLES[FIELDS[key]]) for key in control.evidence]
    out.append(Markdown("| agent | env | ") + Markdown(" | ").join(titles) + Markdown(" |"))
    out.append(Markdown("|---|---|") + Markdown("").join(Markdown("---|") for _ in titles))
    for agent in report.agents:
        out.append(table_row(Markdown.value(agent.agent), Markdown.value(agent.environment),
                             *(Markdown.value(agent.fields[key]) for key in control.evidence)))
    out += [Markdown(""), Markdown("**Gaps**"), Markdown("")]
    out += [Markdown("- {}").format(_gap_text(gap, Markdown)) for gap in result.gaps] or [Markdown("None.")]
    return out


# -- HTML -----------------------------------------------------------------------------------------------------------

def render_html(report: ComplianceReport) -> str:
    """A standalone page: no script, no outside resource (its Content Security Policy forbids both)."""
    lines: list[Html] = [
        Html("<!DOCTYPE html>"), Html('<html lang="en">'), Html("<head>"), Html('<meta charset="utf-8">'),
        Html('<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; style-src \'unsafe-inline\'">'),
        Html('<meta name="viewport" content="width=device-width, initial-scale=1">'),
        Html("<title>agentiam: compliance evidence</title>"), _STYLE, Html("</head>"), Html("<body>"),
        Html("<h1>agentiam: compliance evidence</h1>"),
        Html("<p>Generated {} for {}; activity from {}.</p>").format(
            report.generated, Html(", ").join(report.environments),
            report.check_window or Html("no check report")),
        Html('<table id="summary"><thead><tr><th>framework</th><th>control</th><th>title</th><th>status</th>'
             "<th>gaps</th></tr></thead><tbody>")]
    for result in report.controls:
        control = result.control
        lines.append(Html('<tr><td>{}</td><td>{}</td><td>{}</td><td class="{}">{}</td><td>{}</td></tr>').format(
            control.framework, control.reference, control.title, STATUS[result.met], STATUS[result.met],
            len(result.gaps)))
    lines.append(Html("</tbody></table>"))
    for result in report.controls:
        lines += _html_control(report, result)
    lines += [Html("</body>"), Html("</html>")]
    return Html("\n").join(lines) + "\n"


def _html_control(report: ComplianceReport, result: ControlResult) -> list[Html]:
    control = result.control
    out = [Html('<section class="control">'),
           Html("<h2>{} {}: {}</h2>").format(control.framework, control.reference, control.title),
           Html("<p>{}</p>").format(control.asks.render(Html)),
           Html("<h3>Enforced by agentiam</h3>"), Html("<ul>")]
    out += [Html("<li>{}</li>").format(text.render(Html)) for text in control.enforced]
    out += [Html("</ul>"), Html("<h3>Evidence per agent</h3>"), Html('<table class="evidence"><thead><tr>'
                                                                    "<th>agent</th><th>env</th>")]
    out += [Html("<th>{}</th>").format(FIELD_TITLES[FIELDS[key]]) for key in control.evidence]
    out.append(Html("</tr></thead><tbody>"))
    for agent in report.agents:
        cells = Html("").join(Html("<td>{}</td>").format(agent.fields[key]) for key in control.evidence)
        out.append(Html("<tr><td>{}</td><td>{}</td>{}</tr>").format(agent.agent, agent.environment, cells))
    out += [Html("</tbody></table>"), Html("<h3>Gaps</h3>")]
    if result.gaps:
        out += [Html('<ul class="gaps">')] + [Html("<li>{}</li>").format(_gap_text(g, Html)) for g in result.gaps]
        out.append(Html("</ul>"))
    else:
        out.append(Html("<p>None.</p>"))
    out.append(Html("</section>"))
    return out


# -- JSON -----------------------------------------------------------------------------------------------------------

def render_json(report: ComplianceReport) -> str:
    return json.dumps(report.as_dict(), indent=2, ensure_ascii=False) + "\n"


# The formats of this module, by the name `--format` takes (agentiam.cli.common.format_option).
FORMATS = {"markdown": render_markdown, "html": render_html, "json": render_json}


def render(fmt: str, report: ComplianceReport) -> str:
    return FORMATS[fmt](report)
