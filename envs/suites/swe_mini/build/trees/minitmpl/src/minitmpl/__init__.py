"""minitmpl: a tiny, dependency-free HTML templating engine.

>>> from minitmpl import render
>>> render("<p>{{ user.name }}</p>", user={"name": "<Ada>"})
'<p>&lt;Ada&gt;</p>'
"""

from .context import UNDEFINED
from .errors import FilterError, TemplateError, TemplateSyntaxError
from .filters import FILTERS, register
from .markup import Markup, escape
from .template import Template, render

__version__ = "0.5.0"

__all__ = [
    "FILTERS",
    "UNDEFINED",
    "FilterError",
    "Markup",
    "Template",
    "TemplateError",
    "TemplateSyntaxError",
    "escape",
    "register",
    "render",
]
