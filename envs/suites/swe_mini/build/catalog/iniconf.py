"""iniconf: an INI-style configuration reader (flat package, setup.cfg)."""

from envs.suites.swe_mini.build.model import Change, Commit, Instance, Person, RepoDef

DANIEL = Person("Daniel Okafor", "dokafor@example.net")
PRIYA = Person("Priya Raman", "priya.raman@example.com")

CONFIG = "iniconf/config.py"
INIT = "iniconf/__init__.py"
PARSER = "iniconf/parser.py"

# -- history ---------------------------------------------------------------------------------------
GETLIST = (
    Change(
        CONFIG,
        """        return self._typed(section, key, default, _to_bool, "a boolean")
""",
        '''        return self._typed(section, key, default, _to_bool, "a boolean")

    def getlist(self, section: str, key: str, default: Any = _MISSING,
                sep: Optional[str] = ",") -> List[str]:
        """Split a value on ``sep`` and on line breaks, dropping empty items."""
        def split(value: str) -> List[str]:
            parts = value.splitlines()
            if sep is not None:
                parts = [piece for part in parts for piece in part.split(sep)]
            return [part.strip() for part in parts if part.strip()]

        return self._typed(section, key, default, split, "a list")
''',
    ),
    Change(
        "tests/test_getters.py",
        """    assert cfg.getbool("server", "reload", False) is False
""",
        """    assert cfg.getbool("server", "reload", False) is False
    assert cfg.getlist("server", "hosts", []) == []
""",
    ),
    Change(
        "tests/test_getters.py",
        "",
        """

def test_getlist(cfg):
    assert cfg.getlist("server", "tags") == ["web", "api", "internal"]


def test_getlist_multiline():
    cfg = loads("[w]\\nqueues =\\n    mail\\n    reports, exports\\n")
    assert cfg.getlist("w", "queues") == ["mail", "reports", "exports"]


def test_getlist_custom_separator():
    cfg = loads("[w]\\npath = /bin:/usr/bin\\n")
    assert cfg.getlist("w", "path", sep=":") == ["/bin", "/usr/bin"]
    assert cfg.getlist("w", "path", sep=None) == ["/bin:/usr/bin"]
""",
    ),
    Change(
        "README.md",
        """debug = yes
```
""",
        """debug = yes

[workers]
queues =
    mail
    reports, exports
```
""",
    ),
    Change(
        "README.md",
        """cfg.getbool("server", "debug")      # True
""",
        """cfg.getbool("server", "debug")      # True
cfg.getlist("workers", "queues")    # ['mail', 'reports', 'exports']
""",
    ),
    Change(
        "README.md",
        "`get`, `getint`, `getfloat` and `getbool` take",
        "`get`, `getint`, `getfloat`, `getbool` and `getlist` take",
    ),
)

RELEASE_1_0 = (
    Change("setup.cfg", "version = 0.9.0", "version = 1.0.0"),
    Change(INIT, '__version__ = "0.9.0"', '__version__ = "1.0.0"'),
)

INTERPOLATION = (
    Change(
        CONFIG,
        '"""`Config`: typed access to parsed sections, with DEFAULT fallback."""',
        '"""`Config`: typed access to parsed sections, with DEFAULT fallback and interpolation."""',
    ),
    Change(
        CONFIG,
        "from .errors import ConfigError, MissingKeyError\nfrom .parser",
        "from .errors import ConfigError, MissingKeyError\nfrom .interpolation import interpolate\nfrom .parser",
    ),
    Change(
        CONFIG,
        """    def __init__(self, sections: Optional[Sections] = None, *, source: str = "<string>") -> None:
        self._sections: Sections = sections if sections is not None else {DEFAULT_SECTION: {}}
        self._sections.setdefault(DEFAULT_SECTION, {})
""",
        """    def __init__(self, sections: Optional[Sections] = None, *, interpolation: bool = True,
                 source: str = "<string>") -> None:
        self._sections: Sections = sections if sections is not None else {DEFAULT_SECTION: {}}
        self._sections.setdefault(DEFAULT_SECTION, {})
        self.interpolation = interpolation
""",
    ),
    Change(
        CONFIG,
        '''        """The value as written."""''',
        '''        """The value as written, without interpolation."""''',
    ),
    Change(
        CONFIG,
        """        try:
            return self.raw(section, key)
        except MissingKeyError:
            if default is _MISSING:
                raise
            return default
""",
        """        try:
            value = self.raw(section, key)
        except MissingKeyError:
            if default is _MISSING:
                raise
            return default
        if not self.interpolation:
            return value
        return interpolate(value, section, self.raw, {(section, key.lower())})
""",
    ),
    Change(
        CONFIG,
        '''def loads(text: str, *, source: str = "<string>") -> Config:
    """Parse configuration text."""
    return Config(parse(text, source), source=source)


def load(path: str | os.PathLike, *, encoding: str = "utf-8") -> Config:
    """Read and parse a configuration file."""
    with open(path, encoding=encoding) as fh:
        return loads(fh.read(), source=os.fspath(path))
''',
        '''def loads(text: str, *, interpolation: bool = True, source: str = "<string>") -> Config:
    """Parse configuration text."""
    return Config(parse(text, source), interpolation=interpolation, source=source)


def load(path: str | os.PathLike, *, interpolation: bool = True, encoding: str = "utf-8") -> Config:
    """Read and parse a configuration file."""
    with open(path, encoding=encoding) as fh:
        return loads(fh.read(), interpolation=interpolation, source=os.fspath(path))
''',
    ),
    Change(
        "iniconf/errors.py",
        "",
        '''

class InterpolationError(ConfigError):
    """A ``${...}`` reference cannot be expanded."""
''',
    ),
    Change(
        INIT,
        '"""iniconf: a small INI-style configuration reader with typed getters.',
        '"""iniconf: a small INI-style configuration reader with typed getters and ${interpolation}.',
    ),
    Change(
        INIT,
        "from .errors import ConfigError, MissingKeyError, ParseError",
        "from .errors import ConfigError, InterpolationError, MissingKeyError, ParseError",
    ),
    Change(
        INIT,
        """    "ConfigError",
""",
        """    "ConfigError",
    "InterpolationError",
""",
    ),
    Change("setup.cfg", "with typed getters\n", "with typed getters and interpolation\n"),
    Change(
        "README.md",
        """A small INI-style configuration reader for Python, with typed getters and a
DEFAULT section. No dependencies.
""",
        """A small INI-style configuration reader for Python, with typed getters, a
DEFAULT section and `${...}` interpolation. No dependencies.
""",
    ),
    Change(
        "README.md",
        """debug = yes
""",
        """debug = yes
static = ${root}/static
""",
    ),
    Change(
        "README.md",
        """cfg.getbool("server", "debug")      # True
""",
        """cfg.getbool("server", "debug")      # True
cfg.get("server", "static")         # '/srv/demo/static'
""",
    ),
    Change(
        "README.md",
        "",
        """
## Interpolation

`${key}` refers to a key of the same section (or DEFAULT), `${section:key}`
to a key of another section, and `$$` is a literal `$`. References are
expanded recursively; a value that refers back to itself raises
`InterpolationError`. Pass `interpolation=False` to `load`/`loads` to read
values as written.
""",
    ),
)

RELEASE_1_1 = (
    Change("setup.cfg", "version = 1.0.0", "version = 1.1.0"),
    Change(INIT, '__version__ = "1.0.0"', '__version__ = "1.1.0"'),
    Change(
        "CHANGELOG.md",
        "# Changelog\n\n",
        """# Changelog

## 1.1.0 (2023-11-20)

- `${key}` and `${section:key}` interpolation, on by default
  (`interpolation=False` turns it off).
- `InterpolationError` for missing or circular references.

""",
    ),
)

COMMITS = (
    Commit(
        "init",
        "Initial import",
        "2023-09-03T14:02:11+00:00",
        add=(
            ".gitignore",
            "LICENSE",
            "setup.cfg",
            "pyproject.toml",
            "README.md",
            INIT,
            "iniconf/errors.py",
            PARSER,
            CONFIG,
            "tests/test_parsing.py",
            "tests/test_getters.py",
        ),
    ),
    Commit("getlist", "Add Config.getlist()", "2023-09-17T09:45:30+00:00", changes=GETLIST),
    Commit(
        "v1.0.0",
        "Release 1.0.0",
        "2023-10-01T18:20:05+00:00",
        add=("CHANGELOG.md",),
        changes=RELEASE_1_0,
        tag="v1.0.0",
    ),
    Commit(
        "interpolation",
        "Support ${key} and ${section:key} interpolation\n\nCloses #12.\n",
        "2023-11-12T20:33:47+00:00",
        add=("iniconf/interpolation.py", "tests/test_interpolation.py"),
        changes=INTERPOLATION,
        author=PRIYA,
    ),
    Commit(
        "v1.1.0", "Release 1.1.0", "2023-11-20T08:12:40+00:00", changes=RELEASE_1_1, tag="v1.1.0"
    ),
)

# -- instances -------------------------------------------------------------------------------------
BOOL_CASE = Instance(
    number=1,
    base="v1.0.0",
    version="1.0",
    created_at="2023-10-09T12:41:55Z",
    summary="`getbool()` only accepts lower-case spellings (`True`, `YES` are rejected)",
    difficulty="easy",
    problem_statement="""getbool() rejects "True" and "Yes"

Our configuration files are edited by hand, and people naturally write `debug = True`
or `enabled = Yes`. iniconf refuses those:

```python
>>> import iniconf
>>> cfg = iniconf.loads("[app]\\ndebug = True\\n")
>>> cfg.getbool("app", "debug")
Traceback (most recent call last):
  ...
iniconf.errors.ConfigError: [app] debug = 'True' is not a boolean
```

The README says `getbool` understands `yes`/`no`, `true`/`false`, `on`/`off` and `1`/`0`
"in any case" (and configparser accepts them too), but only the all-lowercase spellings
work. I'd expect `True`, `YES`, `Off`, ... to be read as booleans.

iniconf 1.0.0
""",
    fix=(
        Change(
            CONFIG,
            "        return BOOLEAN_STATES[text]\n",
            "        return BOOLEAN_STATES[text.lower()]\n",
        ),
    ),
    tests=(
        Change(
            "tests/test_getters.py",
            """def test_getbool_rejects_other_words():""",
            """@pytest.mark.parametrize("value", ["True", "YES", "On", "FALSE", "No", "oFF"])
def test_getbool_is_case_insensitive(value):
    expected = value.lower() in ("true", "yes", "on")
    assert loads(f"[a]\\nflag = {value}\\n").getbool("a", "flag") is expected


def test_getbool_rejects_other_words():""",
        ),
    ),
    fail_to_pass=tuple(
        f"tests/test_getters.py::test_getbool_is_case_insensitive[{v}]"
        for v in ("True", "YES", "On", "FALSE", "No", "oFF")
    ),
)

REPEATED_REFERENCE = Instance(
    number=2,
    base="v1.1.0",
    version="1.1",
    created_at="2023-11-27T10:05:19Z",
    summary="interpolation reports a circular reference when a key is referenced twice (the seen-set is shared across siblings)",
    difficulty="medium",
    problem_statement="""InterpolationError "circular reference" when a variable is used twice

With 1.1.0 I moved our paths to the new interpolation:

```ini
[paths]
root = /opt/app
pythonpath = ${root}/lib:${root}/plugins
```

```python
>>> cfg = iniconf.load("app.ini")
>>> cfg.get("paths", "pythonpath")
Traceback (most recent call last):
  ...
iniconf.errors.InterpolationError: circular reference to ${root} in [paths]
```

There is nothing circular here: `root` is a plain value. Using `${root}` once works fine.
The same error shows up when two keys refer to a common third one and another value
uses both of them, e.g.

```ini
[db]
host = db.internal
read = ${host}:5432
write = ${host}:5433
both = ${read},${write}
```

I expected `/opt/app/lib:/opt/app/plugins` and `db.internal:5432,db.internal:5433`.
Real cycles (`a = ${b}`, `b = ${a}`) should of course still raise.
""",
    fix=(
        Change(
            "iniconf/interpolation.py",
            '''    a key of another section, and ``$$`` is a literal dollar sign.  Referenced
    values are expanded too; ``seen`` holds the ``(section, key)`` pairs being
    expanded, so that a value referring back to itself is reported instead of
    recursing forever.
    """
    if seen is None:
        seen = set()
''',
            '''    a key of another section, and ``$$`` is a literal dollar sign.  Referenced
    values are expanded too; ``seen`` holds the ``(section, key)`` pairs whose
    expansion led to this value, so that a value referring back to itself is
    reported instead of recursing forever.  Referring to the same key twice,
    or from two different branches, is fine.
    """
    if seen is None:
        seen = set()
''',
        ),
        Change(
            "iniconf/interpolation.py",
            """            raise InterpolationError(f"circular reference to ${{{ref}}} in [{section}]")
        seen.add(node)
        try:
            raw = lookup(target, key)
        except MissingKeyError as exc:
            raise InterpolationError(f"bad reference ${{{ref}}} in [{section}]: {exc}") from None
        return interpolate(raw, target, lookup, seen)
""",
            """            raise InterpolationError(f"circular reference to ${{{ref}}} in [{section}]")
        try:
            raw = lookup(target, key)
        except MissingKeyError as exc:
            raise InterpolationError(f"bad reference ${{{ref}}} in [{section}]: {exc}") from None
        return interpolate(raw, target, lookup, seen | {node})
""",
        ),
    ),
    tests=(
        Change(
            "tests/test_interpolation.py",
            """def test_empty_reference():""",
            """def test_same_reference_twice():
    cfg = loads("[paths]\\nroot = /opt/app\\npythonpath = ${root}/lib:${root}/plugins\\n")
    assert cfg.get("paths", "pythonpath") == "/opt/app/lib:/opt/app/plugins"


def test_common_reference_from_two_branches():
    cfg = loads("[db]\\nhost = db\\nread = ${host}:5432\\nwrite = ${host}:5433\\nboth = ${read},${write}\\n")
    assert cfg.get("db", "both") == "db:5432,db:5433"


def test_default_value_and_section_value_share_a_reference():
    cfg = loads("root = /srv\\nlogs = ${root}/logs\\n[app]\\nfiles = ${root}/files ${logs}\\n")
    assert cfg.get("app", "files") == "/srv/files /srv/logs"


def test_longer_cycle_is_still_detected():
    cfg = loads("[a]\\nw = ${x}${x}\\nx = ${y}\\ny = ${z}\\nz = ${x}\\n")
    with pytest.raises(InterpolationError, match="circular reference"):
        cfg.get("a", "w")


def test_empty_reference():""",
        ),
    ),
    fail_to_pass=(
        "tests/test_interpolation.py::test_same_reference_twice",
        "tests/test_interpolation.py::test_common_reference_from_two_branches",
        "tests/test_interpolation.py::test_default_value_and_section_value_share_a_reference",
    ),
)

QUOTED_COMMENT = Instance(
    number=3,
    base="v1.1.0",
    version="1.1",
    created_at="2023-12-04T15:22:08Z",
    summary="quoted values are cut at ` #`/` ;`: the inline-comment scan ignores quotes",
    difficulty="medium",
    problem_statement="""Quoted values get truncated at " ;" or " #"

The README says values may be quoted and that `#`/`;` after whitespace starts an inline
comment. I assumed quoting protects those characters (as in most INI dialects), but it
doesn't:

```ini
[banner]
motd = "Back at 10 ; maybe later"
colors = "#336699 #ffffff"   # brand palette
```

```python
>>> cfg = iniconf.load("site.ini")
>>> cfg.get("banner", "motd")
'"Back at 10'
>>> cfg.get("banner", "colors")
'"#336699'
```

Expected `'Back at 10 ; maybe later'` and `'#336699 #ffffff'` (the trailing comment after
the closing quote should still be dropped). Note that the result even keeps the opening
quote. Single-quoted values behave the same way. Unquoted values with a comment
(`port = 8080  # http`) work as before.

iniconf 1.1.0, Python 3.11
""",
    fix=(
        Change(
            PARSER,
            '''def _strip_inline_comment(text: str) -> str:
    """Drop a comment that follows a value: ``#`` or ``;`` after whitespace."""
    match = _INLINE_COMMENT.search(text)
    return text[: match.start()] if match else text
''',
            '''def _closing_quote(text: str) -> int:
    """The index of the quote closing the one ``text`` starts with, or -1."""
    quote = text[0]
    i = 1
    while i < len(text):
        if text[i] == "\\\\" and quote == '"':
            i += 2
            continue
        if text[i] == quote:
            return i
        i += 1
    return -1


def _strip_inline_comment(text: str) -> str:
    """Drop a comment that follows a value: ``#`` or ``;`` after whitespace.

    Comment characters inside a quoted value are part of the value.
    """
    start = 0
    body = text.lstrip()
    if body[:1] in ("'", '"'):
        end = _closing_quote(body)
        if end != -1:
            start = len(text) - len(body) + end + 1
    match = _INLINE_COMMENT.search(text, start)
    return text[: match.start()] if match else text
''',
        ),
    ),
    tests=(
        Change(
            "tests/test_parsing.py",
            """def test_empty_value():""",
            """@pytest.mark.parametrize(
    ("line", "value"),
    [
        ('motd = "Back at 10 ; maybe later"', "Back at 10 ; maybe later"),
        ('colors = "#336699 #ffffff"   # brand palette', "#336699 #ffffff"),
        ("anchor = 'docs #intro' ; link", "docs #intro"),
        ('quote = "a \\\\" # b"', 'a " # b'),
        ('x = "a ; b" ; trailing comment', "a ; b"),
    ],
    ids=["double-semicolon", "double-hash-then-comment", "single-hash", "escaped-quote", "comment-after-quote"],
)
def test_comment_characters_inside_quotes(line, value):
    cfg = loads(f"[a]\\n{line}\\n")
    key = line.split("=")[0].strip()
    assert cfg.get("a", key) == value


def test_empty_value():""",
        ),
    ),
    fail_to_pass=tuple(
        f"tests/test_parsing.py::test_comment_characters_inside_quotes[{i}]"
        for i in (
            "double-semicolon",
            "double-hash-then-comment",
            "single-hash",
            "escaped-quote",
            "comment-after-quote",
        )
    ),
)

BYTE_ORDER_MARK = Instance(
    number=4,
    base="v1.1.0",
    version="1.1",
    created_at="2023-12-11T07:48:30Z",
    summary="files saved with a UTF-8 byte order mark fail to parse (the BOM sticks to the first line)",
    difficulty="easy",
    problem_statement="""ParseError on the first line of files saved by Windows Notepad

Some of our users edit `settings.ini` with Notepad on Windows, which saves UTF-8 with a
byte order mark. iniconf then refuses the file although it looks perfectly fine:

```
iniconf.errors.ParseError: settings.ini, line 1: expected 'key = value', got '\\ufeff[server]'
```

When the file starts with a comment or a key instead of a section header, it is worse: no
error at all, but the first key silently gets a different name (`'\\ufeffhost'`), so
`cfg.get("DEFAULT", "host")` raises `MissingKeyError`.

Python's own `configparser` has the same problem unless you open the file with
`encoding="utf-8-sig"`; I'd expect iniconf to just ignore a leading BOM, both in `load()`
and when the text is passed to `loads()`.

iniconf 1.1.0
""",
    fix=(
        Change(
            PARSER,
            """    sections: Sections = {DEFAULT_SECTION: {}}
    name = DEFAULT_SECTION
""",
            """    if text.startswith("\\ufeff"):  # a UTF-8 byte order mark, as Notepad writes it
        text = text[1:]
    sections: Sections = {DEFAULT_SECTION: {}}
    name = DEFAULT_SECTION
""",
        ),
    ),
    tests=(
        Change(
            "tests/test_parsing.py",
            "",
            """

def test_byte_order_mark_before_section():
    cfg = loads("\\ufeff[server]\\nport = 8080\\n")
    assert cfg.sections() == ["server"]
    assert cfg.getint("server", "port") == 8080


def test_byte_order_mark_before_key():
    cfg = loads("\\ufeffhost = example.org\\n")
    assert cfg.get("DEFAULT", "host") == "example.org"


def test_load_file_with_byte_order_mark(tmp_path):
    path = tmp_path / "settings.ini"
    path.write_bytes("[server]\\nname = caf\\u00e9\\n".encode("utf-8-sig"))
    assert load(path).get("server", "name") == "caf\\u00e9"


def test_byte_order_mark_inside_value_is_kept():
    assert loads("[a]\\nx = \\ufeffy\\n").get("a", "x") == "\\ufeffy"
""",
        ),
        Change(
            "tests/test_parsing.py",
            "from iniconf import ParseError, loads\n",
            "from iniconf import ParseError, load, loads\n",
        ),
    ),
    fail_to_pass=(
        "tests/test_parsing.py::test_byte_order_mark_before_section",
        "tests/test_parsing.py::test_byte_order_mark_before_key",
        "tests/test_parsing.py::test_load_file_with_byte_order_mark",
    ),
)

REPO = RepoDef(
    name="iniconf",
    maintainer=DANIEL,
    description="INI-style configuration reader",
    commits=COMMITS,
    instances=(BOOL_CASE, REPEATED_REFERENCE, QUOTED_COMMENT, BYTE_ORDER_MARK),
)
