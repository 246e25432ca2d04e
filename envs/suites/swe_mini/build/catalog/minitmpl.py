"""minitmpl: a tiny HTML templating engine (src layout, pyproject.toml)."""

from envs.suites.swe_mini.build.model import Change, Commit, Instance, Person, RepoDef

JONAS = Person("Jonas Weber", "jonas@weber.example.de")
LENA = Person("Lena Fischer", "lena.fischer@example.org")

PKG = "src/minitmpl"
CONTEXT = f"{PKG}/context.py"
FILTERS = f"{PKG}/filters.py"
MARKUP = f"{PKG}/markup.py"
NODES = f"{PKG}/nodes.py"
T_FILTERS = "tests/test_filters.py"
T_RENDER = "tests/test_render.py"

# -- history ---------------------------------------------------------------------------------------
SORT_AND_MAP = (
    Change(
        FILTERS,
        '@register("escape")',
        '''@register("sort")
def sort(value: Iterable[Any], attribute: str | None = None, reverse: bool = False) -> list[Any]:
    """Sorted items; ``sort:"name"`` sorts by an attribute or key of each item."""
    if attribute is None:
        return sorted(value, reverse=bool(reverse))
    return sorted(value, key=lambda item: lookup(item, attribute), reverse=bool(reverse))


@register("map")
def map_(value: Iterable[Any], attribute: str) -> list[Any]:
    """The ``attribute`` (or key) of every item."""
    return [lookup(item, attribute) for item in value]


@register("escape")''',
    ),
    Change(FILTERS, "from .context import UNDEFINED\n", "from .context import UNDEFINED, lookup\n"),
    Change(
        T_FILTERS,
        "def test_escape_and_safe():",
        """def test_sort():
    assert render("{{ xs|sort|join }}", xs=[3, 1, 2]) == "1, 2, 3"
    assert render("{{ xs|sort:none,true|join }}", xs=[3, 1, 2]) == "3, 2, 1"


def test_sort_by_key():
    people = [{"name": "Bo", "age": 40}, {"name": "Al", "age": 30}]
    assert render('{{ people|sort:"age"|map:"name"|join }}', people=people) == "Al, Bo"


def test_map_attribute():
    class Item:
        def __init__(self, title):
            self.title = title

    assert render('{{ items|map:"title"|join }}', items=[Item("a"), Item("b")]) == "a, b"


def test_escape_and_safe():""",
    ),
    Change(
        "README.md",
        "`join:separator`, `first`, `last`, `truncate:size[,ellipsis]`,\n`escape`, `safe`.",
        "`join:separator`, `first`, `last`, `truncate:size[,ellipsis]`,\n"
        "`sort[:attribute[,reverse]]`, `map:attribute`, `escape`, `safe`.",
    ),
)

LOOP_REVINDEX_LAST = (
    Change(
        NODES,
        "    @property\n    def first(self) -> bool:",
        """    @property
    def revindex(self) -> int:
        return self.length - self.index0

    @property
    def first(self) -> bool:""",
    ),
    Change(
        NODES,
        "        return self.index0 == 0\n",
        """        return self.index0 == 0

    @property
    def last(self) -> bool:
        return self.index0 == self.length
""",
    ),
    Change(
        T_RENDER,
        '''{{ loop.index }}/{{ loop.index0 }} {% endfor %}", xs="abc")
    assert out == "1/0 2/1 3/2 "''',
        '''{{ loop.index }}/{{ loop.index0 }}/{{ loop.revindex }} {% endfor %}", xs="abc")
    assert out == "1/0/3 2/1/2 3/2/1 "''',
    ),
    Change(
        "README.md",
        "`loop.index` (from 1), `loop.index0`, `loop.first` and\n  `loop.length`.",
        "`loop.index` (from 1), `loop.index0`, `loop.revindex`, `loop.first`,\n  `loop.last` and `loop.length`.",
    ),
)

RELEASE_0_5 = (
    Change("pyproject.toml", 'version = "0.4.0"', 'version = "0.5.0"'),
    Change(f"{PKG}/__init__.py", '__version__ = "0.4.0"', '__version__ = "0.5.0"'),
    Change(
        "CHANGELOG.md",
        "# Changelog\n\n",
        """# Changelog

## 0.5.0

* `loop.revindex` and `loop.last`.
* `sort` and `map` filters.

""",
    ),
)

WORDCOUNT = (
    Change(
        FILTERS,
        '@register("first")',
        '''@register("wordcount")
def wordcount(value: Any) -> int:
    """The number of whitespace-separated words."""
    return len(str(value).split())


@register("first")''',
    ),
    Change(
        T_FILTERS,
        "",
        """

def test_wordcount():
    assert render("{{ s|wordcount }}", s="  the quick\\nbrown fox ") == "4"
    assert render("{{ s|wordcount }}", s="") == "0"
""",
    ),
    Change("README.md", "`join:separator`, `first`,", "`join:separator`, `wordcount`, `first`,"),
    Change(
        "CHANGELOG.md",
        "# Changelog\n\n",
        "# Changelog\n\n## Unreleased\n\n* `wordcount` filter.\n\n",
    ),
)

COMMITS = (
    Commit(
        "import",
        "Import minitmpl 0.4.0\n\nHistory before 0.4.0 lives in the old Mercurial repository.\n",
        "2023-03-18T11:20:09+01:00",
        add=(
            ".gitignore",
            "LICENSE",
            "pyproject.toml",
            "README.md",
            "CHANGELOG.md",
            f"{PKG}/*.py",
            "tests/*.py",
        ),
    ),
    Commit(
        "sort-map",
        "Add the sort and map filters",
        "2023-04-02T17:55:41+02:00",
        changes=SORT_AND_MAP,
    ),
    Commit(
        "loop-vars",
        "Add loop.revindex and loop.last",
        "2023-04-09T10:31:12+02:00",
        changes=LOOP_REVINDEX_LAST,
        author=LENA,
    ),
    Commit(
        "v0.5.0", "Release 0.5.0", "2023-04-15T09:00:27+02:00", changes=RELEASE_0_5, tag="v0.5.0"
    ),
    Commit(
        "wordcount",
        "Add the wordcount filter",
        "2023-04-29T16:12:55+02:00",
        changes=WORDCOUNT,
        author=LENA,
    ),
)

# -- instances -------------------------------------------------------------------------------------
LOOP_LAST = Instance(
    number=1,
    base="v0.5.0",
    version="0.5",
    created_at="2023-04-17T14:22:51Z",
    summary="`loop.last` is never true: compared with `length` instead of `length - 1`",
    difficulty="easy",
    problem_statement="""loop.last is never true

The new `loop.last` from 0.5.0 does not seem to work. I use it to put commas between items:

```python
>>> from minitmpl import render
>>> render("{% for t in tags %}{{ t }}{% if not loop.last %}, {% endif %}{% endfor %}",
...        tags=["red", "green", "blue"])
'red, green, blue, '
```

Expected `'red, green, blue'`. `{% if loop.last %}` never renders anything, even for a
list with a single item, while `loop.first` works as documented.

minitmpl 0.5.0
""",
    fix=(
        Change(
            NODES,
            "        return self.index0 == self.length\n",
            "        return self.index0 == self.length - 1\n",
        ),
    ),
    tests=(
        Change(
            T_RENDER,
            "def test_loop_length():",
            """def test_loop_last():
    source = "{% for t in tags %}{{ t }}{% if not loop.last %}, {% endif %}{% endfor %}"
    assert render(source, tags=["red", "green", "blue"]) == "red, green, blue"


def test_loop_first_and_last_of_one_item():
    source = "{% for x in xs %}{% if loop.first %}F{% endif %}{% if loop.last %}L{% endif %}{% endfor %}"
    assert render(source, xs=[1]) == "FL"


def test_loop_last_in_nested_loops():
    source = "{% for r in rows %}{% for c in r %}{{ c }}{% if loop.last %}|{% endif %}{% endfor %}{% endfor %}"
    assert render(source, rows=["ab", "c"]) == "ab|c|"


def test_loop_length():""",
        ),
    ),
    fail_to_pass=(
        "tests/test_render.py::test_loop_last",
        "tests/test_render.py::test_loop_first_and_last_of_one_item",
        "tests/test_render.py::test_loop_last_in_nested_loops",
    ),
)

DICT_KEYS = Instance(
    number=2,
    base="v0.5.0",
    version="0.5",
    created_at="2023-05-03T08:07:19Z",
    summary="`order.items` on a dict with an `items` key calls `dict.items()`; digit-string keys are unreachable",
    difficulty="medium",
    problem_statement="""Dictionary key named "items" is ignored (dict.items() is called instead)

I render orders that come from a JSON API, so they are plain dicts:

```python
>>> from minitmpl import render
>>> order = {"id": 7, "items": [{"sku": "A1"}, {"sku": "B2"}]}
>>> render("{% for i in order.items %}{{ i.sku }};{% endfor %}", order=order)
';;'
>>> render("{{ order.items }}", order=order)
"dict_items([(&#39;id&#39;, 7), (&#39;items&#39;, [{&#39;sku&#39;: &#39;A1&#39;}, ...
```

The README says that for `a.b` "a dictionary key `b` is found just like an attribute", but
the dict's `items()` method wins over the key. The same happens for keys called `keys`,
`values`, `get`, `copy`, ... I'd expect a key that exists in the dictionary to win;
`{% for k, v in settings.items %}` on a dict *without* such a key should keep working.

Possibly related: keys that are strings of digits can't be reached at all,
`render("{{ totals.2023 }}", totals={"2023": 41})` renders an empty string
(list indexes such as `rows.0` work).
""",
    fix=(
        Change(
            CONTEXT,
            """    if obj is UNDEFINED:
        return UNDEFINED
    try:
        value = getattr(obj, name)
    except AttributeError:
        try:
            value = obj[int(name) if name.isdigit() else name]
        except (TypeError, KeyError, IndexError):
            return UNDEFINED
""",
            """    if obj is UNDEFINED:
        return UNDEFINED
    if isinstance(obj, Mapping) and name in obj:  # a key wins over a dict method
        value = obj[name]
    else:
        try:
            value = getattr(obj, name)
        except AttributeError:
            try:
                value = obj[int(name) if name.isdigit() else name]
            except (TypeError, KeyError, IndexError):
                return UNDEFINED
""",
        ),
        Change(
            CONTEXT,
            """    Tries an attribute, then a key, then (for digits) a list index.  Callables
    without arguments, such as methods, are called.  Anything missing is
    `UNDEFINED`.""",
            """    Tries a key of the mapping, then an attribute, then a key or (for digits)
    a list index.  Callables without arguments, such as methods, are called.
    Anything missing is `UNDEFINED`.""",
        ),
    ),
    tests=(
        Change(
            T_RENDER,
            "def test_nested_lookup():",
            """def test_dict_key_wins_over_dict_method():
    order = {"id": 7, "items": [{"sku": "A1"}, {"sku": "B2"}]}
    assert render("{% for i in order.items %}{{ i.sku }};{% endfor %}", order=order) == "A1;B2;"


@pytest.mark.parametrize("key", ["keys", "values", "get", "copy"])
def test_other_dict_method_names_as_keys(key):
    assert render(f"{{{{ d.{key} }}}}", d={key: "value"}) == "value"


def test_digit_string_key():
    assert render("{{ totals.2023 }}", totals={"2023": 41}) == "41"


def test_dict_method_without_such_key_is_still_called():
    assert render("{{ d.keys|join }}", d={"a": 1, "b": 2}) == "a, b"


def test_nested_lookup():""",
        ),
    ),
    fail_to_pass=(
        "tests/test_render.py::test_dict_key_wins_over_dict_method",
        *(
            f"tests/test_render.py::test_other_dict_method_names_as_keys[{k}]"
            for k in ("keys", "values", "get", "copy")
        ),
        "tests/test_render.py::test_digit_string_key",
    ),
)

MARKUP_RADD = Instance(
    number=3,
    base="v0.5.0",
    version="0.5",
    created_at="2023-05-11T19:40:02Z",
    summary="`str + Markup` gives a plain `str` (no `Markup.__radd__`), so the markup is escaped on output",
    difficulty="easy",
    problem_statement="""Markup is escaped when a plain string is put in front of it

I build small HTML fragments in Python and pass them to templates as `Markup`. This works:

```python
>>> from minitmpl import Markup, render
>>> render("{{ x }}", x=Markup("<b>Ada</b>") + " & co")
'<b>Ada</b> &amp; co'
```

but with the plain string on the left the whole thing is escaped:

```python
>>> render("{{ x }}", x="Tom & " + Markup("<b>Jerry</b>"))
'Tom &amp; &lt;b&gt;Jerry&lt;/b&gt;'
>>> type("Tom & " + Markup("<b>Jerry</b>"))
<class 'str'>
```

I expected `'Tom &amp; <b>Jerry</b>'`: the plain string escaped, the markup kept, and the
result a `Markup` again (that is what MarkupSafe does for `str + Markup`).
""",
    fix=(
        Change(
            MARKUP,
            """    def __add__(self, other: str) -> Markup:
        return Markup(str.__add__(self, escape(other)))
""",
            """    def __add__(self, other: str) -> Markup:
        return Markup(str.__add__(self, escape(other)))

    def __radd__(self, other: str) -> Markup:
        return Markup(str.__add__(str(escape(other)), str(self)))
""",
        ),
    ),
    tests=(
        Change(
            T_FILTERS,
            "def test_unknown_filter():",
            """def test_markup_on_the_right_escapes_the_left_side():
    joined = "<i>" + Markup("<b>")
    assert joined == "&lt;i&gt;<b>"
    assert isinstance(joined, Markup)


def test_str_plus_markup_renders_unescaped_markup():
    assert render("{{ x }}", x="Tom & " + Markup("<b>Jerry</b>")) == "Tom &amp; <b>Jerry</b>"


def test_markup_plus_markup_is_not_escaped():
    assert Markup("<b>") + Markup("</b>") == "<b></b>"


def test_unknown_filter():""",
        ),
    ),
    fail_to_pass=(
        "tests/test_filters.py::test_markup_on_the_right_escapes_the_left_side",
        "tests/test_filters.py::test_str_plus_markup_renders_unescaped_markup",
    ),
)

JOIN_MARKUP = Instance(
    number=4,
    base="v0.5.0",
    version="0.5",
    created_at="2023-05-24T10:16:33Z",
    summary="`join` returns a plain `str`, so joined `Markup` items (e.g. `|safe`, links) get escaped",
    difficulty="medium",
    problem_statement="""join filter escapes items that are already Markup

A list of links built as `Markup` renders fine one by one, but not once joined:

```python
>>> from minitmpl import Markup, render
>>> links = [Markup('<a href="/a">A</a>'), Markup('<a href="/b">B</a>')]
>>> render("{% for l in links %}{{ l }} {% endfor %}", links=links)
'<a href="/a">A</a> <a href="/b">B</a> '
>>> render('{{ links|join:", " }}', links=links)
'&lt;a href=&#34;/a&#34;&gt;A&lt;/a&gt;, &lt;a href=&#34;/b&#34;&gt;B&lt;/a&gt;'
```

The same happens with `{{ tags|map:"html"|join:" " }}` when the `html` attributes are
`Markup`. I expected the links to stay links. Jinja handles this: when an item is markup,
`join` escapes the other items (and the separator) and returns markup, so mixing
`Markup('<b>x</b>')` and `'<y>'` gives `<b>x</b>, &lt;y&gt;`. Joining plain strings should
keep escaping as it does now.
""",
    fix=(
        Change(
            FILTERS,
            """@register("join")
def join(value: Iterable[Any], separator: str = ", ") -> str:
    return str(separator).join(str(item) for item in value)
""",
            '''@register("join")
def join(value: Iterable[Any], separator: str = ", ") -> str:
    """The items joined by ``separator``; `Markup` when any of them is markup (the other
    items and the separator are escaped then)."""
    items = list(value)
    if any(hasattr(item, "__html__") for item in [*items, separator]):
        return Markup(str(escape(separator)).join(str(escape(item)) for item in items))
    return str(separator).join(str(item) for item in items)
''',
        ),
    ),
    tests=(
        Change(
            T_FILTERS,
            "def test_first_and_last():",
            """def test_join_keeps_markup_items():
    links = [Markup('<a href="/a">A</a>'), Markup('<a href="/b">B</a>')]
    assert render('{{ links|join:", " }}', links=links) == '<a href="/a">A</a>, <a href="/b">B</a>'


def test_join_escapes_plain_items_next_to_markup():
    assert render("{{ xs|join }}", xs=[Markup("<b>x</b>"), "<y>"]) == "<b>x</b>, &lt;y&gt;"


def test_join_of_mapped_markup_attributes():
    class Tag:
        def __init__(self, name):
            self.html = Markup(f"<em>{name}</em>")

    assert render('{{ tags|map:"html"|join:" " }}', tags=[Tag("a"), Tag("b")]) == "<em>a</em> <em>b</em>"


def test_join_of_plain_strings_is_escaped():
    assert render("{{ xs|join }}", xs=["<a>", "b&c"]) == "&lt;a&gt;, b&amp;c"


def test_first_and_last():""",
        ),
    ),
    fail_to_pass=(
        "tests/test_filters.py::test_join_keeps_markup_items",
        "tests/test_filters.py::test_join_escapes_plain_items_next_to_markup",
        "tests/test_filters.py::test_join_of_mapped_markup_attributes",
    ),
)

REPO = RepoDef(
    name="minitmpl",
    maintainer=JONAS,
    description="tiny HTML templating engine",
    commits=COMMITS,
    instances=(LOOP_LAST, DICT_KEYS, MARKUP_RADD, JOIN_MARKUP),
)
