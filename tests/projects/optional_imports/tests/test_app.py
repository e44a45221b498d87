import pytest

import app


def test_app():
    assert app.np is not None
