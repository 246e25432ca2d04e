import pytest

from iniconf import ConfigError, MissingKeyError, load, loads

CONFIG = """
name = demo
retries = 3

[server]
host = 0.0.0.0
port = 8080
ratio = 0.75
debug = yes
verbose = off
tags = web, api , ,internal
"""


@pytest.fixture
def cfg():
    return loads(CONFIG)


def test_getint(cfg):
    assert cfg.getint("server", "port") == 8080


def test_getfloat(cfg):
    assert cfg.getfloat("server", "ratio") == 0.75


@pytest.mark.parametrize(
    ("value", "expected"),
    [("yes", True), ("no", False), ("true", True), ("false", False),
     ("on", True), ("off", False), ("1", True), ("0", False)],
)
def test_getbool(value, expected):
    assert loads(f"[a]\nflag = {value}\n").getbool("a", "flag") is expected


def test_getbool_rejects_other_words():
    with pytest.raises(ConfigError, match="is not a boolean"):
        loads("[a]\nflag = maybe\n").getbool("a", "flag")


def test_getint_error_names_the_key(cfg):
    with pytest.raises(ConfigError, match=r"\[server\] host = '0.0.0.0' is not an integer"):
        cfg.getint("server", "host")


def test_default_section_fallback(cfg):
    assert cfg.get("server", "name") == "demo"
    assert cfg.getint("server", "retries") == 3
    assert cfg.keys("server")[-2:] == ["name", "retries"]


def test_missing_key(cfg):
    with pytest.raises(MissingKeyError, match="no key 'user' in \\[server\\]"):
        cfg.get("server", "user")
    assert not cfg.has("server", "user")


def test_missing_section(cfg):
    with pytest.raises(MissingKeyError, match="no section \\[client\\]"):
        cfg.get("client", "host")


def test_missing_key_is_a_key_error(cfg):
    with pytest.raises(KeyError):
        cfg.get("server", "user")


def test_defaults_for_missing_keys(cfg):
    assert cfg.get("server", "user", "root") == "root"
    assert cfg.getint("server", "workers", 4) == 4
    assert cfg.getbool("server", "reload", False) is False
    assert cfg.getlist("server", "hosts", []) == []


def test_set_creates_section(cfg):
    cfg.set("client", "Timeout", "30")
    assert cfg.getint("client", "timeout") == 30
    assert "client" in cfg.sections()


def test_load_from_file(tmp_path):
    path = tmp_path / "app.ini"
    path.write_text("[a]\nx = 1\n", encoding="utf-8")
    cfg = load(path)
    assert cfg.getint("a", "x") == 1
    assert cfg.source == str(path)


def test_getlist(cfg):
    assert cfg.getlist("server", "tags") == ["web", "api", "internal"]


def test_getlist_multiline():
    cfg = loads("[w]\nqueues =\n    mail\n    reports, exports\n")
    assert cfg.getlist("w", "queues") == ["mail", "reports", "exports"]


def test_getlist_custom_separator():
    cfg = loads("[w]\npath = /bin:/usr/bin\n")
    assert cfg.getlist("w", "path", sep=":") == ["/bin", "/usr/bin"]
    assert cfg.getlist("w", "path", sep=None) == ["/bin:/usr/bin"]
