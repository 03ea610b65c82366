"""The plugin's command recognizer, found through the real entry point: `runbook
import` turns PromQL commands of a Markdown procedure into prometheus steps."""

from __future__ import annotations

import yaml

from runbook_engine.importer import import_markdown
from runbook_engine.importer.commands import recognizers
from runbook_engine.lint import analyze_document
from runbook_engine.loader import load_text

PROCEDURE = """# Check error budget

## Steps

### 1. Error rate

```bash
curl -s 'http://prometheus:9090/api/v1/query?query=sum(rate(http_requests_total{code=~"5.."}[5m]))'
```

### 2. Queue depth

```bash
promtool query instant http://prometheus:9090 'max(queue_depth)'
```

### 3. Health

```bash
curl http://app-01:8080/v1/health
```

Expected: HTTP 200
"""


def test_the_recognizer_is_registered_and_asked_before_curl() -> None:
    names = [r.name for r in recognizers()]
    assert "prometheus" in names and names.index("prometheus") < names.index("curl")


def test_promql_commands_become_prometheus_steps() -> None:
    result = import_markdown(PROCEDURE, "budget.md")
    assert not analyze_document(load_text(result.yaml, "budget.yaml")).findings, result.yaml
    steps = yaml.safe_load(result.yaml)["phases"][0]["steps"]
    assert steps[0]["prometheus"] == {
        "url": "http://prometheus:9090",
        "query": 'sum(rate(http_requests_total{code=~"5.."}[5m]))',
    }
    assert steps[1]["prometheus"] == {"url": "http://prometheus:9090", "query": "max(queue_depth)"}
    assert steps[2]["http"] == {"url": "http://app-01:8080/v1/health"}  # other curls stay http
