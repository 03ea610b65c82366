"""Templating: sandboxed Jinja2, StrictUndefined, shell quoting unless `| raw`, and the
static analysis lint uses (undeclared names, `steps.X.Y` chains)."""

from __future__ import annotations

import subprocess

import pytest

from runbook_engine.errors import TemplateError
from runbook_engine.templating import Renderer, check_template, has_template, strings_in

NASTY = "x; rm -rf / #$(reboot)`id`'\""


def test_plain_rendering_recurses_and_keeps_non_strings() -> None:
    renderer = Renderer({"version": "v2.4.0", "port": 8080})
    spec = {
        "url": "http://h:{{ port }}/v1",
        "json": {"v": "{{ version }}", "n": 3},
        "l": ["{{ vars.version }}", True],
    }
    assert renderer.render(spec) == {
        "url": "http://h:8080/v1",
        "json": {"v": "v2.4.0", "n": 3},
        "l": ["v2.4.0", True],
    }


def test_commands_refer_to_every_interpolated_value() -> None:
    renderer = Renderer(
        {"dir": "/opt/my app", "evil": NASTY, "safe": "v2.4.0", "flag": True, "nothing": None}
    )
    command = renderer.render_command("cd {{ dir }}")
    assert command.script == 'cd "${RB_V1}"' and command.env == {"RB_V1": "/opt/my app"}
    assert command.shown == "cd '/opt/my app'"
    assert renderer.render_command("echo {{ safe }}").shown == "echo v2.4.0"  # nothing to quote
    flags = renderer.render_command("echo {{ flag }} {{ nothing }}")
    assert flags.values == ("true", "") and flags.shown == "echo true ''"


def test_quoted_value_reaches_the_shell_as_one_literal_argument() -> None:
    command = Renderer({"evil": NASTY}).render_command("printf %s {{ evil }}")
    result = subprocess.run(
        ["sh", "-c", command.script], capture_output=True, text=True, check=True, env=command.env
    )
    assert result.stdout == NASTY


def test_raw_opts_out_of_quoting_and_quote_forces_it() -> None:
    renderer = Renderer({"opts": "-l -a", "name": "a b"})
    assert renderer.render_command("ls {{ opts | raw }}").script == "ls -l -a"
    assert renderer.render_command("ls {{ opts }}").script == 'ls "${RB_V1}"'
    assert renderer.render("echo {{ name | quote }}") == "echo 'a b'"


def test_strict_undefined_is_an_error_not_an_empty_string() -> None:
    with pytest.raises(TemplateError) as info:
        Renderer({}).render_command("rm -rf {{ app_dir }}/")
    assert info.value.rule == "RB202" and "app_dir" in info.value.message
    with pytest.raises(TemplateError) as info:
        Renderer({}, {"steps": {"a": {}}}).render("{{ steps.a.previous }}")
    assert info.value.rule == "RB202"


def test_syntax_error_sandbox_and_runtime_errors_are_template_errors() -> None:
    renderer = Renderer({"v": 1})
    with pytest.raises(TemplateError) as info:
        renderer.render("{{ v }")
    assert info.value.rule == "RB201"
    with pytest.raises(TemplateError) as info:
        renderer.render("{{ ''.__class__.__mro__[1].__subclasses__() }}")
    assert info.value.rule == "RB203"
    with pytest.raises(TemplateError) as info:
        renderer.render("{{ v / 0 }}")
    assert info.value.rule == "RB204" and "ZeroDivisionError" in info.value.message


def test_extra_context_and_step_results() -> None:
    renderer = Renderer(
        {"app_dir": "/opt/app"}, {"steps": {"record-versions": {"previous_version": "v2.3.0"}}}
    )
    text = (
        "{{ host.vars.app_dir | default(app_dir) }} {{ steps['record-versions'].previous_version }}"
    )
    assert renderer.render(text, {"host": {"vars": {}}}) == "/opt/app v2.3.0"
    assert renderer.render(text, {"host": {"vars": {"app_dir": "/srv/a"}}}) == "/srv/a v2.3.0"


def test_has_template() -> None:
    assert has_template("{{ x }}") and has_template("{% if x %}y{% endif %}")
    assert not has_template("echo ${HOME} {x}")


def test_check_template_reports_undeclared_names_and_steps_chains() -> None:
    names, chains = check_template(
        "{{ version }} {{ steps.a.out }} {{ steps['b-c'].status }} {{ steps.d }} {% for h in hosts %}{{ h }}{% endfor %}"
    )
    assert names == {"version", "steps", "hosts"}
    assert sorted(chains) == [("a", "out"), ("b-c", "status"), ("d",)]


def test_check_template_ignores_dynamic_step_lookups() -> None:
    _, chains = check_template("{{ steps[name].out }}")
    assert chains == []


def test_check_template_syntax_error_carries_the_template_line() -> None:
    with pytest.raises(TemplateError) as info:
        check_template("line one\n{{ oops }")
    assert info.value.rule == "RB201" and info.value.hint == "template line 2"


def test_strings_in_yields_every_string_with_its_pointer() -> None:
    value = {"cmd": "a", "env": {"x/y": "b", "n": 1}, "args": ["c", {"d": "e"}]}
    assert list(strings_in(value, "/s")) == [
        ("/s/cmd", "a"),
        ("/s/env/x~1y", "b"),
        ("/s/args/0", "c"),
        ("/s/args/1/d", "e"),
    ]


@pytest.mark.parametrize(
    "text",
    [
        "{{ 10 ** 5000 }}",
        "{{ 'a' * n }}",
        "{{ n * 'a' }}",
        "{{ 2 ** n }}",
        "{{ [1] * n }}",
        "{{ 'x' | center(n) }}",
        "{{ 'x' | indent(n) }}",
        "{{ '%0999999999d' % 1 }}",
    ],
)
def test_template_arithmetic_is_bounded_at_run_time(text: str) -> None:
    """`'a' * 10**9` took 9 s and 2.9 GB; now it is refused at once."""
    with pytest.raises(TemplateError) as info:
        Renderer({"n": 10**9}).render_command(text)
    assert info.value.rule == "RB208"
    assert Renderer({"n": 3}).render("{{ 'a' * n }} {{ 2 ** 10 }}") == "aaa 1024"


def test_unknown_filter_and_huge_literal_are_template_errors_not_tracebacks() -> None:
    with pytest.raises(TemplateError) as info:
        check_template("{{ x | lenght }}")
    assert info.value.rule == "RB207" and "'length'" in (info.value.hint or "")
    with pytest.raises(TemplateError) as info:
        check_template("{{ x is evn }}")
    assert info.value.rule == "RB207"
    with pytest.raises(TemplateError) as info:
        check_template("{{ 1" + "0" * 5000 + " }}")
    assert info.value.rule == "RB208"
    with pytest.raises(TemplateError) as info:
        check_template("{{ 10 ** 5000 }}")
    assert info.value.rule == "RB208"
    with pytest.raises(TemplateError):
        Renderer({"x": "a"}).render("{{ x | lenght }}")
