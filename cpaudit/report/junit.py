"""JUnit XML of an audit's policy gates, one test case per gate, so CI systems list them."""

from __future__ import annotations

from xml.etree import ElementTree as ET

from cpaudit.report.gates_table import gate_rows


def junit_xml(results: dict) -> str:
    """<testsuite name="cpaudit audit (release: R)"> with one <testcase> per gate set; a failed gate carries
    <failure message="...">, the same sentence as results.json's policy failures."""
    pol = results.get("policy") or {}
    gates: dict[str, str | None] = pol.get("gates") or {}
    measured = {row[0]: row[1] for row in gate_rows(results)}
    suite = ET.Element(
        "testsuite",
        name=f"cpaudit audit (release: {results.get('release', 'samples')})",
        tests=str(len(gates)),
        failures=str(sum(m is not None for m in gates.values())),
        errors="0",
    )
    for name, message in gates.items():
        case = ET.SubElement(suite, "testcase", classname="cpaudit.policy", name=name)
        if message is not None:
            ET.SubElement(case, "failure", message=message).text = message
    props = ET.SubElement(suite, "properties")
    for label, value in measured.items():
        ET.SubElement(props, "property", name=label, value=value)
    ET.SubElement(suite, "system-out").text = results.get("verdict", "")
    return ET.tostring(suite, encoding="unicode", xml_declaration=True) + "\n"
