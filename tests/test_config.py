"""foley.toml: flags typed over the file over defaults, roles as tables, `foley config --init/--show`, and a bad
file fails with one line naming the key (exit 2, nothing run)."""

from __future__ import annotations

from pathlib import Path

import pytest

from foleydesigner import cli
from foleydesigner.config import tomllib  # the standard library's, or tomli before Python 3.11
from tests.helpers import run_cli as _main

TABLES = '''
seed = 7
target_lufs = -23.0
llm = "openai:gpt-4o-mini"
script = "scenes/s1.fountain"
llm_timeout = 90

[roles.scribe]
backend = "openai:qwen-local"
base_url = "http://127.0.0.1:8000/v1"
timeout_s = 60

[roles.planner]
backend = "anthropic:claude-x"
base_url = "http://127.0.0.1:9000"
api_key_env = "TEAM_ANTHROPIC_KEY"
temperature = 0.0
'''


@pytest.fixture()
def captured(monkeypatch):
    """What `foley run` hands to the pipeline, without running it."""
    seen: dict = {}
    monkeypatch.setattr(cli, "_run", lambda clip, script, out, **kw: seen.update(clip=clip, script=script, out=out, **kw))
    return seen


def test_flags_typed_win_over_the_file_which_wins_over_defaults(tmp_path, monkeypatch, capsys, captured):
    config = tmp_path / "foley.toml"
    config.write_text(TABLES)
    code, _, err = _main(monkeypatch, capsys, ["run", "clip.mp4", "--out", str(tmp_path / "o"), "--config", str(config),
                                               "--seed", "0", "--llm-scribe", "openai:qwen-bigger"])
    assert code == 0, err
    assert captured["seed"] == 0  # typed, even though it equals the default: the parameter's source decides
    assert captured["target_lufs"] == -23.0 and captured["llm"] == "openai:gpt-4o-mini"  # from the file
    assert captured["hfov_deg"] == 60.0 and captured["max_events"] == 256  # defaults
    assert captured["script"] == tmp_path / "scenes" / "s1.fountain"  # relative to the file
    assert captured["llm_timeout_s"] == 90
    assert captured["llm_roles"] == {"scribe": "openai:qwen-bigger", "planner": "anthropic:claude-x"}
    scribe, planner = captured["llm_endpoints"]["scribe"], captured["llm_endpoints"]["planner"]
    assert scribe["base_url"] == "http://127.0.0.1:8000/v1" and scribe["timeout_s"] == 60  # same provider: kept
    assert planner == {"base_url": "http://127.0.0.1:9000", "api_key_env": "TEAM_ANTHROPIC_KEY", "temperature": 0.0,
                       "source": f"roles.planner.base_url in {config}", "chosen_by": f"[roles.planner] in {config}",
                       "key_source": f"[roles.planner] api_key_env in {config}"}  # what its errors name


def test_a_role_moved_to_another_provider_leaves_its_table_behind(tmp_path, monkeypatch, capsys, captured):
    (tmp_path / "foley.toml").write_text(TABLES)
    monkeypatch.chdir(tmp_path)  # ./foley.toml is read without --config
    code, _, err = _main(monkeypatch, capsys, ["run", "clip.mp4", "--out", "o", "--llm-scribe", "anthropic:claude-y",
                                               "--target-lufs", "-24"])
    assert code == 0, err
    assert captured["target_lufs"] == -24.0 and captured["seed"] == 7
    assert captured["llm_roles"]["scribe"] == "anthropic:claude-y" and "scribe" not in captured["llm_endpoints"]


def test_llm_base_url_reaches_only_the_roles_that_speak_openai(tmp_path, monkeypatch, capsys, captured):
    code, _, err = _main(monkeypatch, capsys, ["run", "clip.mp4", "--out", str(tmp_path / "o"), "--llm", "openai:qwen",
                                               "--llm-base-url", "http://127.0.0.1:8000/v1",
                                               "--llm-planner", "anthropic:claude-x"])
    assert code == 0, err
    ends = captured["llm_endpoints"]
    assert ends["scribe"] == {"base_url": "http://127.0.0.1:8000/v1", "source": "--llm-base-url"}
    assert "planner" not in ends
    code, _, err = _main(monkeypatch, capsys, ["run", "clip.mp4", "--out", str(tmp_path / "o"), "--llm",
                                               "anthropic:claude-x", "--llm-base-url", "http://127.0.0.1:8000/v1"])
    assert code == 2 and "OpenAI-compatible server, and no role uses one (anthropic)" in err


BAD = [
    ('seed = "abc"\n', "seed: Input should be a valid integer"),
    ("sed = 3\n", "unknown key 'sed' (did you mean 'seed'?)"),
    ('llm_scribe = "openai:x"\n', '[roles.scribe] backend = "..."'),
    ("[roles.boss]\nbackend = \"openai:x\"\n", "[roles.boss]: no such role"),
    ("[roles.scribe]\ntimeout_s = -1\n", "roles.scribe.timeout_s: Input should be greater than 0"),
    ('[roles.scribe]\nbackend = "gpt4"\n', "roles.scribe.backend: LLM backend 'gpt4' is not"),
    ('[roles.scribe]\nbase_url = "localhost:8000"\n', "roles.scribe.base_url: 'localhost:8000' is not an http(s):// URL"),
    ('[roles.scribe]\nurl = "http://x"\n', "unknown key 'roles.scribe.url'"),
    ("seed = \n", "not valid TOML"),
    ("seed = -1\n", "--seed -1 must be between 0 and 4294967295 (set by seed in"),
    ("window_s = 1.0\n", "(set by window_s in"),
]


@pytest.mark.parametrize(("text", "says"), BAD, ids=[t.split("\n")[0] for t, _ in BAD])
def test_a_bad_file_is_one_line_naming_the_key(tmp_path, monkeypatch, capsys, captured, text, says):
    config = tmp_path / "foley.toml"
    config.write_text(text)
    code, stdout, err = _main(monkeypatch, capsys, ["run", "clip.mp4", "--out", str(tmp_path / "o"), "--config", str(config)])
    assert code == 2 and says in err and str(config) in err, err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err + stdout and not captured
    assert sorted(p.name for p in tmp_path.iterdir()) == ["foley.toml"]


def test_a_missing_config_and_a_missing_out_say_what_to_do(tmp_path, monkeypatch, capsys, captured):
    code, _, err = _main(monkeypatch, capsys, ["run", "clip.mp4", "--out", "o", "--config", str(tmp_path / "nope.toml")])
    assert code == 2 and "no such file" in err and "foley config --init" in err
    monkeypatch.chdir(tmp_path)
    code, _, err = _main(monkeypatch, capsys, ["run", "clip.mp4"])
    assert code == 2 and "--out is required" in err and not captured


def test_init_writes_a_commented_template_once_and_show_never_prints_a_secret(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-SHOWSECRET-1234567890")
    assert _main(monkeypatch, capsys, ["config", "--init"])[0] == 0
    text = (tmp_path / "foley.toml").read_text()
    assert tomllib.loads(text) == {}  # everything commented: the defaults hold until a line is uncommented
    for name in ("seed", "target_lufs", "llm_base_url", "llm_timeout", "tot_weights", "deliver", "[roles.scribe]"):
        assert f"# {name}" in text
    code, _, err = _main(monkeypatch, capsys, ["config", "--init"])
    assert code == 2 and "never overwritten" in err and (tmp_path / "foley.toml").read_text() == text
    Path("foley.toml").write_text(text.replace("# seed = 0", "seed = 5") + '\n[roles.scribe]\nbackend = "openai:qwen"\n'
                                  'base_url = "http://bob:PWSECRET@127.0.0.1:8000/v1?api_key=QSECRET"\n')
    code, shown, err = _main(monkeypatch, capsys, ["config", "--show"])
    assert code == 0, err
    assert "seed = 5  # config" in shown and "hfov = 60.0  # default" in shown
    assert 'base_url = "http://127.0.0.1:8000/v1"' in shown and "# chat_url: http://127.0.0.1:8000/v1/chat/completions" in shown
    for secret in ("SHOWSECRET", "PWSECRET", "QSECRET"):
        assert secret not in shown
    assert _main(monkeypatch, capsys, ["config"])[0] == 2  # neither --init nor --show


def test_batch_llm_flag_keeps_the_files_roles_fallback_and_timeout_as_run_does(tmp_path, monkeypatch, capsys, captured):
    """One precedence: `foley batch --llm X` and `foley run --llm X` both keep [roles.*], fallback, llm_timeout."""
    from types import SimpleNamespace

    import foleydesigner.batch.runner as runner

    clips = tmp_path / "c"
    clips.mkdir()
    (clips / "a.mp4").write_bytes(b"\0" * 64)
    (tmp_path / "foley.toml").write_text('fallback = "heuristic"\n' + TABLES.replace("script = ", "# script = "))
    seen: list = []
    monkeypatch.setattr(runner, "run_batch", lambda jobs, timelines, out, settings, **kw: seen.extend(jobs) or
                        SimpleNamespace(counts={"done": len(jobs), "skipped": 0, "failed": 0}, jobs=jobs, reels={}))
    monkeypatch.chdir(tmp_path)
    code, _, err = _main(monkeypatch, capsys, ["batch", "c", "--out", "o", "--llm", "openai:gpt-4.1-mini"])
    assert code == 0, err
    (job,) = seen
    code, _, err = _main(monkeypatch, capsys, ["run", "c/a.mp4", "--out", "o2", "--llm", "openai:gpt-4.1-mini"])
    assert code == 0, err
    for got in (job.options, captured):
        assert got["llm"] == "openai:gpt-4.1-mini"
        assert got["llm_roles"] == {"scribe": "openai:qwen-local", "planner": "anthropic:claude-x"}
        assert got["llm_endpoints"]["scribe"]["base_url"] == "http://127.0.0.1:8000/v1"
        assert got["fallback"] == "heuristic" and got["llm_timeout_s"] == 90
