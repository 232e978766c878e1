"""The JUnit file of an audit's gates for each kind of audit and version: one case per gate, failures exactly the
gates that failed, the measured figures as properties and the verdict as output."""

from xml.etree import ElementTree as ET

import pytest

from cpaudit.report.content import gate_rows
from cpaudit.report.junit import junit_xml
from tests.report.reports import FILES, results


@pytest.mark.parametrize("kind", sorted(FILES))
def test_one_case_per_gate_and_a_failure_per_failed_gate(kind):
    r = results(kind)
    suite = ET.fromstring(junit_xml(r).split("\n", 1)[1])
    gates = r["policy"].get("gates") or {}
    cases = {c.get("name"): c.find("failure") for c in suite.iter("testcase")}
    assert list(cases) == list(gates)
    assert {n for n, f in cases.items() if f is not None} == {n for n, m in gates.items() if m is not None}
    assert int(suite.get("failures")) == sum(m is not None for m in gates.values())
    props = {p.get("name"): p.get("value") for p in suite.iter("property")}
    assert props == {row[0]: row[1] for row in gate_rows(r)}
    assert suite.find("system-out").text == r["verdict"]


def test_a_text_audit_lists_the_prompted_extraction_gate():
    suite = ET.fromstring(junit_xml(results("text")).split("\n", 1)[1])
    failure = next(c for c in suite.iter("testcase") if c.get("name") == "extraction_excess_level").find("failure")
    assert failure.get("message").startswith("prompted with their training captions, the sampler reproduces training")
    props = {p.get("name"): p.get("value") for p in suite.iter("property")}
    assert props["prompted extraction over held-out captions, Fisher p (samples)"] == "5.6e-29"
