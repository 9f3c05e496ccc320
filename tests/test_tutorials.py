"""The tutorials' code runs as printed: every ```python block of docs/tutorials/*.md."""

import os
import re

import pytest

HERE = os.path.dirname(__file__)
TUTORIALS = os.path.join(HERE, os.pardir, "docs", "tutorials")
PAGES = sorted(f for f in os.listdir(TUTORIALS) if f.endswith(".md") and f != "index.md")


def test_every_tutorial_is_listed():
    index = open(os.path.join(TUTORIALS, "index.md"), encoding="utf-8").read()
    assert PAGES and all(page[:-3] in index for page in PAGES)


@pytest.mark.slow  # 9-18 s per page on 2 busy cores (load 19): training, spiking runs
@pytest.mark.parametrize("page", PAGES)
def test_tutorial_code_runs(page, tmp_path, monkeypatch):
    import brian2

    text = open(os.path.join(TUTORIALS, page), encoding="utf-8").read()
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    assert blocks, f"{page} has no python block"
    monkeypatch.chdir(tmp_path)
    brian2.start_scope()
    namespace = {"__name__": "tutorial"}
    for block in blocks:
        exec(compile(block, page, "exec"), namespace)  # noqa: S102  (our own docs)
