"""/metrics: the loop's plain counters, rendered and parsed back."""
import pytest
from prometheus_client.parser import text_string_to_metric_families

from selchat.web.metrics import COUNTERS, GAUGES, Counters, render


def parsed(counters: Counters, now: float) -> dict:
    """Sample name -> (metric type, value)."""
    text = render(counters, now).decode()
    return {sample.name: (family.type, sample.value)
            for family in text_string_to_metric_families(text) for sample in family.samples}


def test_every_field_is_exposed_with_its_type():
    samples = parsed(Counters(started=100.0), now=100.0)
    for name in GAUGES:
        assert samples[f"selchat_{name}"] == ("gauge", 0.0)
    for name in COUNTERS:
        assert samples[f"selchat_{name}_total"] == ("counter", 0.0)
    assert samples["selchat_uptime_seconds"] == ("gauge", 0.0)


def test_values_are_read_at_render_time():
    c = Counters(started=10.0)
    c.connections_ws = 3
    c.members = 7
    c.deliveries += 123_456
    c.bytes_sent = 2**40
    samples = parsed(c, now=70.5)
    assert samples["selchat_connections_ws"][1] == 3
    assert samples["selchat_members"][1] == 7
    assert samples["selchat_deliveries_total"][1] == 123_456
    assert samples["selchat_bytes_sent_total"][1] == 2**40
    assert samples["selchat_uptime_seconds"][1] == 60.5
    c.deliveries += 1
    assert parsed(c, now=71.0)["selchat_deliveries_total"][1] == 123_457


def test_help_text_and_no_global_registry_leak():
    text = render(Counters(0.0), 1.0).decode()
    assert "# HELP selchat_deliveries_total " in text
    assert "# TYPE selchat_deliveries_total counter" in text
    assert "python_gc" not in text and "process_" not in text  # private registry only


def test_counters_are_slotted():
    with pytest.raises(AttributeError):
        Counters(0.0).typo = 1
