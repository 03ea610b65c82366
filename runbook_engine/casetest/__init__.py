"""``runbook test``: declarative test cases for a runbook, run through the real
engine with every executor replaced by stubbed results and time simulated
(docs/testing-runbooks.md).

`cases` (the format, its loader and lint), `stubs` (the executors' stand-ins and the
simulated clock), `runner` (one case through the engine, read back from its
journal), `verdict` (the assertions), `suite` (collect and run), `reporters` (text,
JUnit) and `from_run` (a case from a real run's journal). Nothing is imported here, so
``runbook lint`` can ask `cases.is_case_file` without loading the engine.
"""
